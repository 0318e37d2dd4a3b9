//! kill -9 of the inbox while it delivers a burst of 200 referrals, then a
//! restart: every acknowledged referral reaches the Maildir, and a crash
//! duplicates at most the one mail in flight, with the same Message-ID.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::smtp;
use common::*;

const BURST: usize = 200;
const CLIENTS: usize = 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_delivery_loses_nothing() -> anyhow::Result<()> {
    let fx = Fixture::new(100_000, 100_000)?;
    let op = fx.add_operator("Operatore Esempio", "via-mantova")?;
    let (_smtp, maildir) = smtp::start_mailbox(&fx, "staff@comune.example")?;
    let log = fx.dir.path().join("server.log");
    let mut server = fx.start(&log)?;

    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let (ca, op, acked, addr) = (fx.ca.clone(), op.clone(), acked.clone(), server.https);
        tasks.push(tokio::spawn(async move {
            let Ok(mut c) = connect(addr, &ca, Some(&op)).await else {
                return;
            };
            for _ in 0..BURST / CLIENTS {
                match submit(&mut c, valid_fields("", "")).await {
                    Ok(r) => acked.lock().unwrap().push(r),
                    Err(_) => return, // the server is gone
                }
            }
        }));
    }
    // Kill while mails are going out (some delivered, most not yet).
    let start = Instant::now();
    while smtp::mails(&maildir).len() < 20 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no delivery started"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.kill();
    let at_kill = smtp::mails(&maildir).len();
    for t in tasks {
        let _ = t.await;
    }
    let acked = acked.lock().unwrap().clone();
    eprintln!(
        "{} acknowledged, {at_kill} mails in the Maildir at the kill",
        acked.len()
    );
    assert!(
        acked.len() >= 50,
        "too few acknowledgements: {}",
        acked.len()
    );

    let _server = fx.start(&log)?;
    let id_of = |r: &str| format!("<{r}@comune.example>");
    let mails = smtp::wait_for_mails(&maildir, Duration::from_secs(120), |m| {
        let ids: Vec<String> = m
            .iter()
            .filter_map(|(_, t)| smtp::header(t, "Message-ID"))
            .collect();
        acked.iter().all(|r| ids.contains(&id_of(r)))
    })?;
    // Mails of referrals committed but not acknowledged (killed before the
    // 303) may arrive too; nothing may arrive twice except one in flight.
    let mut count: HashMap<String, usize> = HashMap::new();
    for (_, t) in &mails {
        *count
            .entry(smtp::header(t, "Message-ID").unwrap())
            .or_default() += 1;
    }
    std::thread::sleep(Duration::from_secs(2)); // late duplicates would show now
    let mut count2: HashMap<String, usize> = HashMap::new();
    for (_, t) in smtp::mails(&maildir) {
        *count2
            .entry(smtp::header(&t, "Message-ID").unwrap())
            .or_default() += 1;
    }
    let dups: Vec<_> = count2.iter().filter(|(_, n)| **n > 1).collect();
    let extra: usize = count2.values().map(|n| n - 1).sum();
    eprintln!("{} distinct mails, duplicates: {dups:?}", count2.len());
    assert!(
        extra <= 1,
        "more than one duplicate after one crash: {dups:?}"
    );
    assert!(count.len() <= count2.len());
    // And the database agrees: everything delivered.
    let queued: i64 = fx.db()?.query_row(
        "SELECT COUNT(*) FROM referrals WHERE status <> 'delivered'",
        [],
        |r| r.get(0),
    )?;
    assert_eq!(queued, 0);
    Ok(())
}
