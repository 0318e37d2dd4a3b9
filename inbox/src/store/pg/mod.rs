//! PostgreSQL store: the same tables as the SQLite store, in the schema
//! `inbox`, for several inbox replicas on one database. TLS is always
//! required (rustls, the CA from `ca_file`); the password comes from its own
//! file, never from the URL in `inbox.toml`.

mod admin;
pub mod care;
pub mod contacts;
mod copy;
mod keys;
mod maint;
mod notices;
mod queue;
pub mod remind;
mod schema;
mod snapshot;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use postgres::config::SslMode;
use postgres::Client;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use serde::Deserialize;

pub use admin::{
    audit, insert_staff, oldest_queued, operator_by_id, operators, probe_write, reference_for_key,
    referral_of, referrals_of, remove_staff, set_role,
};
pub use copy::{copy_from_sqlite, copy_to_postgres, Copied};
pub use keys::{insert_operator, operator_by_cert, revoke_operator, revoked_serials, staff};
pub use maint::{backup, purge, tool};
pub use notices::{notify_next, NoticeSent};
pub use queue::{queued_by_municipality, Pg, NOTIFY_CHANNEL};
pub use schema::{migrate, schema_version, MIGRATIONS};
pub use snapshot::snapshot;

/// `[store]` with `kind = "postgres"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PgConfig {
    /// `postgresql://user@host:port/dbname` (no password here).
    pub url: String,
    /// File holding only the password (mode 0600).
    pub password_file: Option<PathBuf>,
    /// PEM file of the CA that signed the server's certificate.
    pub ca_file: PathBuf,
}

/// `queue list` and `queue retry` on PostgreSQL.
pub mod queue_admin {
    pub use super::notices::{list, retry};
}

/// Advisory lock keys: jobs that only one replica may run at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    Purge,
    Reminders,
    Migrations,
    /// The admin's notice of staff keys about to expire.
    KeyExpiry,
}

impl Job {
    /// Arbitrary but fixed 64-bit keys ("SPRT" + a number).
    pub fn key(self) -> i64 {
        0x5350_5254_0000_0000
            + match self {
                Job::Purge => 1,
                Job::Reminders => 2,
                Job::Migrations => 3,
                Job::KeyExpiry => 4,
            }
    }
}

/// A new connection with the inbox's session settings. The schema is
/// created and migrated by [`migrate`], not here.
pub fn connect(cfg: &PgConfig) -> Result<Client> {
    let mut c: postgres::Config = cfg
        .url
        .parse()
        .context("[store] url is not a PostgreSQL connection URL")?;
    if c.get_password().is_some() {
        anyhow::bail!("[store] url must not hold the password: use password_file");
    }
    if let Some(p) = &cfg.password_file {
        let pw = std::fs::read_to_string(p)
            .with_context(|| format!("cannot read the password file {}", p.display()))?;
        c.password(pw.trim_end_matches(['\r', '\n']));
    }
    // Never in clear, whatever the URL says: "prefer" would fall back to it.
    c.ssl_mode(SslMode::Require);
    if c.get_connect_timeout().is_none() {
        c.connect_timeout(Duration::from_secs(10));
    }
    let mut client = c
        .connect(tls(cfg)?)
        .context("cannot connect to PostgreSQL")?;
    // Committed means on the server's disk (and its synchronous standbys).
    client.batch_execute("SET search_path = inbox; SET synchronous_commit = on")?;
    Ok(client)
}

fn tls(cfg: &PgConfig) -> Result<tokio_postgres_rustls::MakeRustlsConnect> {
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(&cfg.ca_file)
        .with_context(|| format!("cannot read the CA file {}", cfg.ca_file.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("invalid PEM in {}", cfg.ca_file.display()))?;
    for cert in certs {
        roots
            .add(cert)
            .with_context(|| format!("invalid CA certificate in {}", cfg.ca_file.display()))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// Runs `f` only if no other replica runs `job` now (session advisory
/// lock, released at the end, or by the server if this replica dies).
/// `None`: another replica holds it.
pub fn exclusive<T>(
    client: &mut Client,
    job: Job,
    f: impl FnOnce(&mut Client) -> Result<T>,
) -> Result<Option<T>> {
    let got: bool = client
        .query_one("SELECT pg_try_advisory_lock($1)", &[&job.key()])?
        .get(0);
    if !got {
        return Ok(None);
    }
    let out = f(client);
    client.execute("SELECT pg_advisory_unlock($1)", &[&job.key()])?;
    out.map(Some)
}

/// Subscribes this connection to the wake-up sent by every commit that
/// queued referrals.
pub fn listen(client: &mut Client) -> Result<()> {
    client.batch_execute(&format!("LISTEN {NOTIFY_CHANNEL}"))?;
    Ok(())
}

/// Waits up to `timeout` for a wake-up; `true` if one came.
pub fn wait_queued(client: &mut Client, timeout: Duration) -> Result<bool> {
    let mut n = client.notifications();
    let mut it = n.timeout_iter(timeout);
    Ok(postgres::fallible_iterator::FallibleIterator::next(&mut it)?.is_some())
}

/// `store::adopt_unassigned` on PostgreSQL: rows from before migration 5
/// go to the configuration's first municipality.
pub fn adopt_unassigned(client: &mut Client, slug: &str) -> Result<()> {
    let mut tx = client.transaction()?;
    tx.execute(
        "UPDATE referrals SET municipality = $1 WHERE municipality IS NULL",
        &[&slug],
    )?;
    tx.execute(
        "UPDATE staff SET municipality = $1 WHERE municipality IS NULL",
        &[&slug],
    )?;
    tx.commit()?;
    Ok(())
}
