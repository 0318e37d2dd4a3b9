//! End-to-end benchmark through `sportello-inbox serve`: N operators, each
//! with its own client certificate and keep-alive TLS connection, loop over
//! "open the form, submit it" (validation, sealing to the staff key, the
//! durable commit), in one run against
//!   1. one server on SQLite,
//!   2. one replica on PostgreSQL,
//!   3. two replicas of the same configuration on one PostgreSQL (the
//!      clients spread over them, as a TCP load balancer would).
//!
//! PostgreSQL is started by the benchmark (tests/common/pg.rs: TLS,
//! password, fsync and synchronous_commit on) on the same machine.
//!
//! cargo bench --profile dev -p sportello-inbox --bench serve -- --clients 32 --seconds 10
//!
//! Reports acknowledged referrals per second (303 after the commit) and
//! the p50/p99 latency of the submission. Without `[mail]`: delivery is
//! not part of it.

#[path = "../tests/common/mod.rs"]
mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use common::pg::Postgres;
use common::*;

fn arg(name: &str, default: u64) -> u64 {
    let argv: Vec<String> = std::env::args().collect();
    argv.iter()
        .position(|a| a == name)
        .and_then(|i| argv.get(i + 1)?.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// A fixture on SQLite (`pg: None`) or on a fresh database of `pg`.
fn fixture(pg: Option<(&Postgres, &str)>) -> anyhow::Result<Fixture> {
    let fx = Fixture::new(1_000_000, 1_000_000)?;
    let Some((pg, db)) = pg else {
        return Ok(fx);
    };
    let mut client = pg.client()?;
    client.batch_execute(&format!("CREATE DATABASE {db}"))?;
    drop(client);
    let pw = fx.dir.path().join("pg-password");
    std::fs::copy(pg.config.password_file.as_ref().unwrap(), &pw)?;
    std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o600))?;
    fx.configure(
        &[],
        &format!(
            "\n[store]\nkind = \"postgres\"\nurl = \"postgresql://inbox@127.0.0.1:{}/{db}\"\npassword_file = \"{}\"\nca_file = \"{}\"\n",
            pg.port,
            pw.display(),
            pg.config.ca_file.display()
        ),
    )?;
    let key = fx.dir.path().join("staff-pg.asc");
    std::fs::write(&key, &fx.staff.public_armored)?;
    bin(&[
        "staff",
        "add",
        "--config",
        fx.config_str(),
        "--name",
        "Staff Esempio",
        "--key",
        key.to_str().unwrap(),
    ])?;
    Ok(fx)
}

struct Outcome {
    acks: usize,
    errors: u64,
    secs: f64,
    p50: Duration,
    p99: Duration,
}

fn run(fx: &Fixture, replicas: usize, clients: usize, seconds: u64) -> anyhow::Result<Outcome> {
    let mut ids = Vec::new();
    for i in 0..clients {
        ids.push(fx.add_operator(&format!("Operatore Esempio {i}"), "via-mantova")?);
    }
    let servers: Vec<Server> = (0..replicas)
        .map(|r| fx.start(&fx.dir.path().join(format!("server-{r}.log"))))
        .collect::<anyhow::Result<_>>()?;
    let addrs: Vec<_> = servers.iter().map(|s| s.https).collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let out = rt.block_on(async {
        let start = Instant::now();
        let warmup = start + Duration::from_secs(2);
        let end = warmup + Duration::from_secs(seconds);
        let mut tasks = Vec::new();
        for (i, id) in ids.into_iter().enumerate() {
            let (ca, addr) = (fx.ca.clone(), addrs[i % addrs.len()]);
            tasks.push(tokio::spawn(async move {
                let (mut lat, mut errors) = (Vec::new(), 0u64);
                let mut c = connect(addr, &ca, Some(&id)).await?;
                while Instant::now() < end {
                    let (csrf, key) = c.form_tokens().await?;
                    let t0 = Instant::now();
                    let res = c.post_form(&valid_fields(&csrf, &key)).await?;
                    if res.status != 303 {
                        errors += 1;
                    } else if t0 >= warmup {
                        lat.push(t0.elapsed());
                    }
                }
                anyhow::Ok((lat, errors))
            }));
        }
        let (mut all, mut errors) = (Vec::new(), 0);
        for t in tasks {
            let (lat, e) = t.await??;
            all.extend(lat);
            errors += e;
        }
        let secs = Instant::now().duration_since(warmup).as_secs_f64();
        all.sort_unstable();
        anyhow::Ok(Outcome {
            acks: all.len(),
            errors,
            secs,
            p50: percentile(&all, 0.50),
            p99: percentile(&all, 0.99),
        })
    })?;
    drop(servers);
    Ok(out)
}

fn main() -> anyhow::Result<()> {
    let argv: Vec<String> = std::env::args().collect();
    if !argv.iter().any(|a| a == "--bench" || a == "--clients") {
        println!("serve benchmark: run with `cargo bench -p sportello-inbox --bench serve`");
        return Ok(());
    }
    let clients = arg("--clients", 32) as usize;
    let seconds = arg("--seconds", 10);
    let pg = Postgres::start()?;
    println!("{clients} clients, {seconds} s after 2 s of warm-up");
    println!("| store | replicas | acknowledged/s | p50 | p99 | errors |");
    println!("|---|---|---|---|---|---|");
    for (name, replicas, db) in [
        ("SQLite", 1, None),
        ("PostgreSQL", 1, Some("one")),
        ("PostgreSQL", 2, Some("two")),
    ] {
        let fx = fixture(db.map(|d| (&pg, d)))?;
        let o = run(&fx, replicas, clients, seconds)?;
        println!(
            "| {name} | {replicas} | **{:.0}** | {:.1} ms | {:.1} ms | {} |",
            o.acks as f64 / o.secs,
            o.p50.as_secs_f64() * 1000.0,
            o.p99.as_secs_f64() * 1000.0,
            o.errors
        );
    }
    Ok(())
}
