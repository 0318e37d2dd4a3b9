//! Durability: SIGKILL the real server while 50 operators submit; after a
//! restart every acknowledged reference is stored and decrypts.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;

const CLIENTS: usize = 50;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_no_acknowledged_referral() -> anyhow::Result<()> {
    let fx = Fixture::new(100_000, 100_000)?;
    let mut operators = Vec::new();
    for i in 0..5 {
        operators.push(fx.add_operator(&format!("Operatore Esempio {i}"), "via-mantova")?);
    }
    let log = fx.dir.path().join("server.log");
    let mut server = fx.start(&log)?;
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let deadline = Instant::now() + Duration::from_secs(20);

    let mut tasks = Vec::new();
    for n in 0..CLIENTS {
        let id = operators[n % operators.len()].clone();
        let ca = fx.ca.clone();
        let addr = server.https;
        let acked = acked.clone();
        tasks.push(tokio::spawn(async move {
            // Loop until the server disappears (or a bounded time passes).
            let Ok(mut c) = connect(addr, &ca, Some(&id)).await else {
                return;
            };
            while Instant::now() < deadline {
                let Ok((csrf, key)) = c.form_tokens().await else {
                    return;
                };
                match c.post_form(&valid_fields(&csrf, &key)).await {
                    Ok(r) if r.status == 303 => {
                        let loc = r.location().unwrap_or_default();
                        acked
                            .lock()
                            .unwrap()
                            .push(loc.trim_start_matches("/segnalazioni/").to_string());
                    }
                    _ => return,
                }
            }
        }));
    }
    // Let the load build up, then kill -9 in the middle of it.
    let start = Instant::now();
    while acked.lock().unwrap().len() < 300 && start.elapsed() < Duration::from_secs(15) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.kill();
    for t in tasks {
        let _ = t.await;
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= 100,
        "too few acknowledgements before the kill: {}",
        acked.len()
    );

    // Restart on the same data directory: it must come up and accept more.
    let server = fx.start(&log)?;
    let mut c = connect(server.https, &fx.ca, Some(&operators[0])).await?;
    let (csrf, key) = c.form_tokens().await?;
    let after = c.post_form(&valid_fields(&csrf, &key)).await?;
    assert_eq!(after.status, 303);
    let after_ref = after
        .location()
        .unwrap()
        .trim_start_matches("/segnalazioni/")
        .to_string();
    assert!(
        !acked.contains(&after_ref),
        "a reference was handed out twice"
    );

    let db = fx.db()?;
    let mut missing = Vec::new();
    for reference in &acked {
        let ct: Option<Vec<u8>> = db
            .query_row(
                "SELECT ciphertext FROM referrals WHERE reference = ?1",
                [reference],
                |r| r.get(0),
            )
            .ok();
        match ct {
            Some(ct) => {
                let text = decrypt(&fx.staff.secret, &ct)?;
                assert!(text.contains(reference.as_str()));
            }
            None => missing.push(reference.clone()),
        }
    }
    assert!(missing.is_empty(), "acknowledged but lost: {missing:?}");
    eprintln!("{} acknowledged referrals survived kill -9", acked.len());
    Ok(())
}
