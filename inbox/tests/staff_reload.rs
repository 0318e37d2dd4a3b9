//! `staff add` and `staff remove` reach a running server without a
//! restart: the next referral is sealed to the new keys only. Removing the
//! last key of a municipality is refused by the server, which keeps sealing
//! to the keys it has.

mod common;

use std::time::{Duration, Instant};

use common::*;

fn ciphertext(fx: &Fixture, reference: &str) -> anyhow::Result<Vec<u8>> {
    Ok(fx.db()?.query_row(
        "SELECT ciphertext FROM referrals WHERE reference = ?1",
        [reference],
        |r| r.get(0),
    )?)
}

fn staff_ids(fx: &Fixture) -> anyhow::Result<Vec<i64>> {
    let db = fx.db()?;
    let mut stmt = db.prepare("SELECT id FROM staff ORDER BY id")?;
    let ids = stmt
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<Vec<i64>>>()?;
    Ok(ids)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_changes_reach_a_running_server_without_a_restart() -> anyhow::Result<()> {
    let fx = Fixture::new(600, 200)?;
    let giulia = fx.add_operator("Giulia Esempio", "via-mantova")?;
    let log = fx.dir.path().join("server.log");
    let server = fx.start(&log)?;
    let mut c = connect(server.https, &fx.ca, Some(&giulia)).await?;

    let first = submit(&mut c, valid_fields("", "")).await?;
    assert!(decrypt(&fx.staff.secret, &ciphertext(&fx, &first)?).is_ok());

    // A second staff member joins and the first leaves, while serve runs.
    let old = staff_ids(&fx)?;
    assert_eq!(old.len(), 1);
    let new = staff_keys();
    fx.add_staff("Staff Due", &new.public_armored, &[])?;
    bin(&[
        "staff",
        "remove",
        "--config",
        fx.config_str(),
        &old[0].to_string(),
    ])?;

    let ct = submit_until_sealed_to(&mut c, &new.secret, |r| ciphertext(&fx, r)).await?;
    assert!(
        decrypt(&fx.staff.secret, &ct).is_err(),
        "a removed staff key can still read a new referral"
    );

    // Removing the last key: the server says why and goes on sealing to it.
    let last = staff_ids(&fx)?;
    assert_eq!(last.len(), 1);
    bin(&[
        "staff",
        "remove",
        "--config",
        fx.config_str(),
        &last[0].to_string(),
    ])?;
    let start = Instant::now();
    while !std::fs::read_to_string(&log)?.contains("cannot be used") {
        anyhow::ensure!(
            start.elapsed() < Duration::from_secs(20),
            "the server did not refuse a set without keys:\n{}",
            std::fs::read_to_string(&log)?
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let after = submit(&mut c, valid_fields("", "")).await?;
    assert!(decrypt(&new.secret, &ciphertext(&fx, &after)?).is_ok());
    let text = std::fs::read_to_string(&log)?;
    assert!(!text.contains("Staff Due"), "a staff name in the log");
    Ok(())
}
