//! Durable acknowledgements of the store: C concurrent submitters commit
//! sealed-size referrals through the group-commit writer, on SQLite (one
//! server) and on a real PostgreSQL with one, two and three replicas (one
//! writer connection each), in the same run. A referral counts when its
//! commit returned (the point where the inbox answers 303).
//!
//! cargo bench -p sportello-inbox --bench store -- --clients 64 --seconds 10

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::pg::Postgres;
use sportello_inbox::store::backend::Sqlite;
use sportello_inbox::store::pg::{self, Pg};
use sportello_inbox::store::{self, NewReferral, Writer};

fn arg(name: &str, default: u64) -> u64 {
    let argv: Vec<String> = std::env::args().collect();
    argv.iter()
        .position(|a| a == name)
        .and_then(|i| argv.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn referral(operator_id: i64, n: u64) -> NewReferral {
    NewReferral {
        reference: format!("SEG-2026-{n:06}"),
        created_at: store::now_rfc3339(),
        desk: "desk".into(),
        operator_id,
        need_area: "casa".into(),
        urgency: sportello_inbox::kinds::Urgency::parse("ordinary").unwrap(),
        age_band: "65-74".into(),
        idempotency_key: format!("k{n}"),
        content_mac: "mac".into(),
        // About the size of a sealed referral.
        ciphertext: vec![0x5a; 2500],
        token_sha256: None,
        reminder_ciphertext: None,
        municipality: "comune".into(),
    }
}

/// Acknowledgements per second and p99 latency (ms).
fn run(writers: Vec<Writer>, operator: i64, clients: u64, seconds: u64) -> (f64, f64) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let next = Arc::new(AtomicU64::new(1));
    let start = Instant::now();
    let end = start + Duration::from_secs(seconds);
    let mut lat: Vec<Duration> = rt.block_on(async {
        let tasks: Vec<_> = (0..clients)
            .map(|c| {
                let w = writers[c as usize % writers.len()].clone();
                let next = next.clone();
                tokio::spawn(async move {
                    let mut lat = Vec::new();
                    while Instant::now() < end {
                        let n = next.fetch_add(1, Ordering::Relaxed);
                        let t = Instant::now();
                        w.commit(referral(operator, n)).await.unwrap();
                        lat.push(t.elapsed());
                    }
                    lat
                })
            })
            .collect();
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        all
    });
    let elapsed = start.elapsed().as_secs_f64();
    lat.sort();
    let p99 = lat[(lat.len() * 99 / 100).min(lat.len() - 1)];
    (lat.len() as f64 / elapsed, p99.as_secs_f64() * 1000.0)
}

fn main() {
    let clients = arg("--clients", 64);
    let seconds = arg("--seconds", 10);
    println!("| store | replicas | acknowledged/s | p99 ms |");
    println!("| --- | --- | --- | --- |");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.sqlite");
    let conn = store::open(&db).unwrap();
    let op =
        store::insert_operator(&conn, "Op", "desk", "01", "ab", "2030-01-01T00:00:00Z").unwrap();
    let w = Writer::start_backend(Box::new(Sqlite::new(conn))).unwrap();
    let (rate, p99) = run(vec![w], op, clients, seconds);
    println!("| SQLite | 1 | {rate:.0} | {p99:.1} |");

    let server = Postgres::start().expect("start PostgreSQL");
    for replicas in 1..=3 {
        let cfg = server.database(&format!("bench{replicas}")).unwrap();
        let op: i64 = pg::connect(&cfg)
            .unwrap()
            .query_one(
                "INSERT INTO operators(name, desk, cert_serial, cert_sha256, not_after, created_at)
                 VALUES ('Op', 'desk', '01', 'ab', '2030-01-01T00:00:00Z', '2026-01-01T00:00:00Z')
                 RETURNING id",
                &[],
            )
            .unwrap()
            .get(0);
        let writers = (0..replicas)
            .map(|_| Writer::start_backend(Box::new(Pg::connect(&cfg).unwrap())).unwrap())
            .collect();
        let (rate, p99) = run(writers, op, clients, seconds);
        println!("| PostgreSQL | {replicas} | {rate:.0} | {p99:.1} |");
    }
}
