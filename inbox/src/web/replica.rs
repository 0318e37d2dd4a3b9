//! The jobs of a replica on PostgreSQL, on a thread of their own (the sync
//! `postgres` client must not run on a tokio thread): the retention purge,
//! which only one replica runs at a time (advisory lock; the others skip
//! the round), and the CRL, rewritten from the revocations in the shared
//! database so that each replica's TLS handshake also refuses a
//! certificate revoked through another replica's host.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::config::Config;
use crate::fsutil::write_atomic;
use crate::pki;
use crate::store::pg::{self, Pg, PgConfig};

/// How often the CRL is compared with the database.
const CRL_EVERY: Duration = Duration::from_secs(10);

pub fn start_jobs(cfg: Config, pgc: PgConfig) -> Result<()> {
    std::thread::Builder::new()
        .name("replica-jobs".into())
        .spawn(move || run(&cfg, &pgc))
        .context("cannot start the purge thread")?;
    Ok(())
}

fn run(cfg: &Config, pgc: &PgConfig) {
    let purge_every = Duration::from_secs(cfg.retention.purge_interval_seconds);
    let mut next_purge = Instant::now();
    let mut crl: Option<Vec<(String, time::OffsetDateTime)>> = None;
    let mut warned = false;
    let mut db: Option<Pg> = None;
    loop {
        let conn = match db.as_mut() {
            Some(p) => p,
            None => match Pg::connect(pgc) {
                Ok(p) => db.insert(p),
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "replica jobs: cannot connect to PostgreSQL");
                    std::thread::sleep(CRL_EVERY);
                    continue;
                }
            },
        };
        if let Err(e) = refresh_crl(cfg, conn, &mut crl) {
            if !warned {
                tracing::warn!(error = %format!("{e:#}"),
                    "CRL not rewritten from the database (revoked operators are still refused after the handshake)");
                warned = true;
            }
        }
        if Instant::now() >= next_purge {
            next_purge = Instant::now() + purge_every;
            purge(cfg, conn);
        }
        std::thread::sleep(CRL_EVERY.min(purge_every));
    }
}

fn purge(cfg: &Config, conn: &mut Pg) {
    let now = time::OffsetDateTime::now_utc();
    let link_days = cfg.staff.as_ref().map(|s| s.link_days);
    match conn
        .client()
        .and_then(|c| pg::purge(c, &cfg.retention, link_days, now))
    {
        Ok(None) => tracing::debug!("retention purge: another replica is running it"),
        Ok(Some(p)) if p != crate::retention::Purged::default() => tracing::info!(
            ciphertexts = p.ciphertexts,
            referrals = p.referrals,
            audit = p.audit,
            "retention purge"
        ),
        Ok(Some(_)) => tracing::debug!("retention purge: nothing to do"),
        Err(e) => tracing::error!(error = %format!("{e:#}"), "retention purge failed"),
    }
}

/// Rewrites the CRL when the revocations in the database differ from
/// those of the last CRL written (at start: always).
fn refresh_crl(
    cfg: &Config,
    conn: &mut Pg,
    last: &mut Option<Vec<(String, time::OffsetDateTime)>>,
) -> Result<()> {
    let revoked = pg::revoked_serials(conn.client()?)?;
    if last.as_ref() == Some(&revoked) {
        return Ok(());
    }
    let issuer = pki::load_issuer(&cfg.tls.client_ca, &cfg.tls.client_ca_key)?;
    let crl = pki::make_crl(&issuer, &revoked)?;
    write_atomic(&cfg.tls.crl, crl.as_bytes(), 0o644)?;
    tracing::info!(revoked = revoked.len(), "CRL rewritten from the database");
    *last = Some(revoked);
    Ok(())
}
