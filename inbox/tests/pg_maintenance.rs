//! Retention and backup on a real PostgreSQL.

mod common;

use anyhow::Result;
use common::pg::Postgres;
use sportello_inbox::config::Retention;
use sportello_inbox::store::pg;

fn insert(c: &mut postgres::Client, reference: &str, created: &str, status: &str) -> Result<()> {
    c.execute(
        "INSERT INTO referrals(reference, created_at, desk, operator_id, need_area, urgency,
                               age_band, status, idempotency_key, ciphertext, delivered_at)
         VALUES ($1, $2, 'desk', 1, 'casa', 'ordinary', '65-74', $3, $1, 'SEALED'::bytea,
                 CASE WHEN $3 = 'delivered' THEN $2 END)",
        &[&reference, &created, &status],
    )?;
    Ok(())
}

fn setup(pg: &Postgres, name: &str) -> Result<(pg::PgConfig, postgres::Client)> {
    let cfg = pg.database(name)?;
    let mut c = pg::connect(&cfg)?;
    c.batch_execute(
        "INSERT INTO operators(name, desk, cert_serial, cert_sha256, not_after, created_at)
         VALUES ('Op', 'desk', '01', 'ab', '2030-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
    )?;
    Ok((cfg, c))
}

#[test]
fn purge_drops_old_ciphertext_and_rows_on_one_replica_at_a_time() -> Result<()> {
    let pg = Postgres::start()?;
    let (cfg, mut c) = setup(&pg, "purge")?;
    insert(
        &mut c,
        "SEG-2026-000001",
        "2026-01-01T00:00:00Z",
        "delivered",
    )?;
    insert(
        &mut c,
        "SEG-2026-000002",
        "2026-06-09T00:00:00Z",
        "delivered",
    )?;
    insert(
        &mut c,
        "SEG-2025-000001",
        "2025-01-01T00:00:00Z",
        "delivered",
    )?;
    insert(&mut c, "SEG-2025-000002", "2025-01-01T00:00:00Z", "queued")?;
    let r = Retention {
        retention_days: 30,
        metadata_retention_days: 365,
        purge_interval_seconds: 3600,
    };
    let now = time::macros::datetime!(2026-06-10 00:00 UTC);
    // Another replica purging now: this one does nothing.
    let mut other = pg::connect(&cfg)?;
    other.execute("SELECT pg_advisory_lock($1)", &[&pg::Job::Purge.key()])?;
    assert_eq!(pg::purge(&mut c, &r, None, now)?, None);
    drop(other);
    let mut purged = None;
    for _ in 0..100 {
        purged = pg::purge(&mut c, &r, None, now)?;
        if purged.is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let purged = purged.expect("the lock was never released");
    assert_eq!((purged.ciphertexts, purged.referrals), (2, 1));
    let rows: Vec<(String, bool)> = c
        .query(
            "SELECT reference, ciphertext IS NOT NULL FROM referrals ORDER BY reference",
            &[],
        )?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        rows,
        vec![
            ("SEG-2025-000002".to_string(), true),
            ("SEG-2026-000001".to_string(), false),
            ("SEG-2026-000002".to_string(), true),
        ]
    );
    Ok(())
}

#[test]
fn backup_dumps_the_inbox_schema_and_restores() -> Result<()> {
    let pg = Postgres::start()?;
    let (cfg, mut c) = setup(&pg, "source")?;
    insert(
        &mut c,
        "SEG-2026-000001",
        "2026-01-01T00:00:00Z",
        "delivered",
    )?;
    insert(&mut c, "SEG-2026-000002", "2026-01-02T00:00:00Z", "queued")?;
    // Something outside the inbox's schema stays out of its backup.
    c.batch_execute("CREATE TABLE public.unrelated (secret TEXT)")?;
    let out = pg.dir.path().join("inbox.dump");
    let bytes = pg::backup(&cfg, &pg.bin("pg_dump"), &out)?;
    assert!(bytes > 0);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&out)?.permissions().mode() & 0o777, 0o600);
    assert!(
        pg::backup(&cfg, &pg.bin("pg_dump"), &out).is_err(),
        "overwrote"
    );
    // Restore into an empty database and compare.
    pg.client()?.batch_execute("CREATE DATABASE restored")?;
    let st = std::process::Command::new(pg.bin("pg_restore"))
        .args(["--no-owner", "--dbname"])
        .arg(format!(
            "postgresql://inbox@127.0.0.1:{}/restored?sslmode=verify-full&sslrootcert={}",
            pg.port,
            cfg.ca_file.display()
        ))
        .arg(&out)
        .env(
            "PGPASSWORD",
            std::fs::read_to_string(cfg.password_file.as_ref().unwrap())?.trim(),
        )
        .status()?;
    assert!(st.success());
    let mut r = cfg.clone();
    r.url = format!("postgresql://inbox@127.0.0.1:{}/restored", pg.port);
    let mut rc = pg::connect(&r)?;
    let got: Vec<(String, Vec<u8>)> = rc
        .query(
            "SELECT reference, ciphertext FROM referrals ORDER BY id",
            &[],
        )?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].1, b"SEALED");
    assert_eq!(pg::schema_version(&mut rc)?, pg::MIGRATIONS.len());
    let unrelated: i64 = rc
        .query_one(
            "SELECT count(*) FROM pg_tables WHERE tablename = 'unrelated'",
            &[],
        )?
        .get(0);
    assert_eq!(unrelated, 0);
    // A wrong password: a clear error, and no file left behind.
    let bad = pg.dir.path().join("badpw");
    std::fs::write(&bad, "wrong\n")?;
    let mut wrong = cfg.clone();
    wrong.password_file = Some(bad);
    let out2 = pg.dir.path().join("second.dump");
    let e = pg::backup(&wrong, &pg.bin("pg_dump"), &out2).unwrap_err();
    assert!(format!("{e:#}").contains("pg_dump failed"), "{e:#}");
    assert!(!out2.exists() && !out2.with_extension("partial").exists());
    Ok(())
}

#[test]
fn a_revocation_through_one_replica_refuses_the_operator_on_every_replica() -> Result<()> {
    let pg = Postgres::start()?;
    let cfg = pg.database("revoke")?;
    let (mut a, mut b) = (pg::connect(&cfg)?, pg::connect(&cfg)?);
    let id = pg::insert_operator(&mut a, "Op", "desk", "0a1b", "f00d", "2030-01-01T00:00:00Z")?;
    assert_eq!(
        pg::operator_by_cert(&mut b, "f00d")?.map(|o| o.id),
        Some(id)
    );
    assert!(pg::revoked_serials(&mut b)?.is_empty());
    assert!(pg::revoke_operator(&mut a, id)?);
    assert!(!pg::revoke_operator(&mut a, id)?, "revoked twice");
    // Replica B's next lookup (its next handshake) sees it.
    assert!(pg::operator_by_cert(&mut b, "f00d")?.is_none());
    let crl = pg::revoked_serials(&mut b)?;
    assert_eq!(crl.len(), 1);
    assert_eq!(crl[0].0, "0a1b");
    assert!(pg::staff(&mut b)?.is_empty());
    Ok(())
}
