//! Delivery benchmark against a real SMTP server (aiosmtpd, STARTTLS, Maildir)
//! on 127.0.0.1, with the real release binary.
//!
//! cargo bench -p sportello-inbox --bench delivery -- --referrals 200 --interval-ms 100 --burst 500
//!
//! 1. Latency: `--referrals` submissions, one every `--interval-ms`; for each, the time
//!    from the acknowledgement (303 after the commit) to the mail's file in
//!    the Maildir (its mtime): p50, p95, max.
//! 2. Throughput: `--burst` referrals submitted at once by 10 clients; the
//!    worker drains the queue over its pooled connection: mails per second
//!    between the first and the last file of the burst.

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

use common::smtp;
use common::*;

fn arg(name: &str, default: usize) -> usize {
    let argv: Vec<String> = std::env::args().collect();
    argv.iter()
        .position(|a| a == name)
        .and_then(|i| argv.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Message-ID -> mtime of its file, for every mail in the Maildir.
fn arrivals(maildir: &std::path::Path) -> HashMap<String, SystemTime> {
    let mut out = HashMap::new();
    for (path, text) in smtp::mails(maildir) {
        if let (Some(id), Ok(meta)) = (smtp::header(&text, "Message-ID"), std::fs::metadata(&path))
        {
            out.insert(id, meta.modified().unwrap_or(SystemTime::UNIX_EPOCH));
        }
    }
    out
}

fn wait_all(maildir: &std::path::Path, n: usize) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(300);
    while smtp::mails(maildir).len() < n {
        anyhow::ensure!(Instant::now() < deadline, "mails did not arrive");
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    // `cargo test --all-targets` runs this binary too: only `cargo bench`
    // (or explicit arguments) starts it.
    let argv: Vec<String> = std::env::args().collect();
    if !argv.iter().any(|a| a == "--bench" || a == "--referrals") {
        println!("delivery benchmark: run with `cargo bench -p sportello-inbox --bench delivery`");
        return Ok(());
    }
    let n = arg("--referrals", 200);
    let burst = arg("--burst", 500);
    let interval = Duration::from_millis(arg("--interval-ms", 100) as u64);
    let fx = Fixture::new(1_000_000, 1_000_000)?;
    let op = fx.add_operator("Operatore Esempio", "via-mantova")?;
    let (_smtp, maildir) = smtp::start_mailbox(&fx, "staff@comune.example")?;
    let server = fx.start(&fx.dir.path().join("server.log"))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let id_of = |r: &str| format!("<{r}@comune.example>");

    // 1. Latency, paced below the delivery capacity.
    let acks: Vec<(String, SystemTime)> = rt.block_on(async {
        let mut c = connect(server.https, &fx.ca, Some(&op)).await?;
        let mut acks = Vec::new();
        for _ in 0..n {
            let r = submit(&mut c, valid_fields("", "")).await?;
            acks.push((r, SystemTime::now()));
            tokio::time::sleep(interval).await;
        }
        anyhow::Ok(acks)
    })?;
    wait_all(&maildir, n)?;
    let arrived = arrivals(&maildir);
    let mut lat: Vec<Duration> = acks
        .iter()
        .map(|(r, at)| {
            arrived[&id_of(r)]
                .duration_since(*at)
                .unwrap_or(Duration::ZERO)
        })
        .collect();
    lat.sort();

    // 2. Throughput: a burst fills the queue; the worker drains it.
    let refs: Vec<String> = rt.block_on(async {
        let mut tasks = Vec::new();
        for _ in 0..10 {
            let (ca, op, addr) = (fx.ca.clone(), op.clone(), server.https);
            let per = burst / 10;
            tasks.push(tokio::spawn(async move {
                let mut c = connect(addr, &ca, Some(&op)).await?;
                let mut out = Vec::new();
                for _ in 0..per {
                    out.push(submit(&mut c, valid_fields("", "")).await?);
                }
                anyhow::Ok(out)
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await??);
        }
        anyhow::Ok(all)
    })?;
    wait_all(&maildir, n + refs.len())?;
    let arrived = arrivals(&maildir);
    let mut times: Vec<SystemTime> = refs.iter().map(|r| arrived[&id_of(r)]).collect();
    times.sort();
    let span = times
        .last()
        .unwrap()
        .duration_since(times[0])
        .unwrap_or(Duration::ZERO);
    let rate = (times.len() - 1) as f64 / span.as_secs_f64().max(1e-9);

    // Where the time goes, from the server's own log lines.
    let log = std::fs::read_to_string(fx.dir.path().join("server.log"))?;
    let field = |name: &str| -> Vec<u64> {
        let mut v: Vec<u64> = log
            .split_whitespace()
            .filter_map(|w| w.strip_prefix(name)?.parse().ok())
            .collect();
        v.sort();
        v
    };
    let (smtp_ms, total_ms) = (field("smtp_ms="), field("total_ms="));
    let med = |v: &[u64]| v.get(v.len() / 2).copied().unwrap_or(0);
    println!(
        "per mail (server log, median): SMTP transaction {} ms, with the durable 'delivered' commit {} ms",
        med(&smtp_ms),
        med(&total_ms)
    );
    println!("delivery over STARTTLS to aiosmtpd on 127.0.0.1 (Maildir), release binary");
    println!(
        "ack -> Maildir, {} referrals one every {} ms: p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms",
        lat.len(),
        interval.as_millis(),
        percentile(&lat, 0.50).as_secs_f64() * 1e3,
        percentile(&lat, 0.95).as_secs_f64() * 1e3,
        lat.last().unwrap().as_secs_f64() * 1e3
    );
    println!(
        "burst of {}: {:.0} mails/s over the pooled connection ({:.2} s from first to last)",
        times.len(),
        rate,
        span.as_secs_f64()
    );
    Ok(())
}
