//! Load generator: N concurrent operators, each with its own client
//! certificate and keep-alive TLS connection, loop over "open the form,
//! submit it" against the real release binary on 127.0.0.1.
//!
//! cargo bench -p sportello-inbox --bench load -- --clients 50 --seconds 20
//!
//! Reports acknowledged referrals per second (303 after the durable commit),
//! p50/p99 latency of the submission, and the server's peak RSS (VmHWM).

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::*;

struct Args {
    clients: usize,
    seconds: u64,
}

fn args() -> Args {
    let mut a = Args {
        clients: 50,
        seconds: 20,
    };
    let argv: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < argv.len() {
        // cargo bench adds `--bench`; ignore whatever is not ours.
        match argv[i].as_str() {
            "--clients" => {
                a.clients = argv
                    .get(i + 1)
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(a.clients);
                i += 1;
            }
            "--seconds" => {
                a.seconds = argv
                    .get(i + 1)
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(a.seconds);
                i += 1;
            }
            _ => {}
        }
        i += 1;
    }
    a
}

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx]
}

fn main() -> anyhow::Result<()> {
    // `cargo test --all-targets` runs this binary too, without `--bench`:
    // only `cargo bench` (or an explicit `--clients`) starts the load.
    let argv: Vec<String> = std::env::args().collect();
    if !argv.iter().any(|a| a == "--bench" || a == "--clients") {
        println!("load generator: run with `cargo bench -p sportello-inbox --bench load`");
        return Ok(());
    }
    let a = args();
    let fx = Fixture::new(1_000_000, 1_000_000)?;
    let mut ids = Vec::new();
    for i in 0..a.clients {
        ids.push(fx.add_operator(&format!("Operatore Esempio {i}"), "via-mantova")?);
    }
    let server = fx.start(&fx.dir.path().join("server.log"))?;
    let pid = server.child.id();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let (latencies, acks, errors, elapsed) = rt.block_on(async {
        let start = Instant::now();
        let warmup = start + Duration::from_secs(2);
        let end = warmup + Duration::from_secs(a.seconds);
        let mut tasks = Vec::new();
        for id in ids {
            let ca = fx.ca.clone();
            let addr = server.https;
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut errors = 0u64;
                let mut c = connect(addr, &ca, Some(&id)).await?;
                loop {
                    let now = Instant::now();
                    if now >= end {
                        break;
                    }
                    let (csrf, key) = c.form_tokens().await?;
                    let t0 = Instant::now();
                    let res = c.post_form(&valid_fields(&csrf, &key)).await?;
                    let dt = t0.elapsed();
                    if res.status != 303 {
                        errors += 1;
                    } else if t0 >= warmup {
                        lat.push(dt);
                    }
                }
                anyhow::Ok((lat, errors))
            }));
        }
        let mut all = Vec::new();
        let mut errors = 0;
        for t in tasks {
            let (lat, e) = t.await??;
            all.extend(lat);
            errors += e;
        }
        let elapsed = Instant::now().duration_since(warmup);
        let acks = all.len();
        anyhow::Ok((all, acks, errors, elapsed))
    })?;
    let mut sorted = latencies;
    sorted.sort_unstable();
    let hwm = vm_hwm_kib(pid).unwrap_or(0);
    let stored: i64 = fx
        .db()?
        .query_row("SELECT COUNT(*) FROM referrals", [], |r| r.get(0))?;
    println!("clients:            {}", a.clients);
    println!("measured seconds:   {:.1}", elapsed.as_secs_f64());
    println!("acknowledged:       {acks} (errors {errors}, stored in total {stored})");
    println!(
        "acks/s:             {:.0}",
        acks as f64 / elapsed.as_secs_f64()
    );
    println!(
        "p50 submit latency: {:.1} ms",
        percentile(&sorted, 0.50).as_secs_f64() * 1000.0
    );
    println!(
        "p99 submit latency: {:.1} ms",
        percentile(&sorted, 0.99).as_secs_f64() * 1000.0
    );
    println!("server peak RSS:    {:.1} MB (VmHWM)", hwm as f64 / 1024.0);
    Ok(())
}
