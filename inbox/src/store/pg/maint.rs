//! Retention and backup on PostgreSQL. There is no `secure_delete`: a purge
//! deletes the rows (or nulls the ciphertext), then `VACUUM` makes their
//! space reusable; the old tuples stay in the data files until overwritten,
//! and in WAL archives and backups until those expire.

use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};
use postgres::Client;
use time::OffsetDateTime;

use super::{Job, PgConfig};
use crate::config::Retention;
use crate::retention::Purged;
use crate::store::rfc3339;

/// The same rules as `retention::purge`, on one replica at a time (advisory
/// lock). `None`: another replica is purging now.
pub fn purge(
    client: &mut Client,
    r: &Retention,
    link_days: Option<u32>,
    now: OffsetDateTime,
) -> Result<Option<Purged>> {
    let purged = super::exclusive(client, Job::Purge, |c| purge_rows(c, r, link_days, now))?;
    if purged.is_some_and(|p| p != Purged::default()) {
        // Outside any transaction (VACUUM cannot run in one). Not FULL: it
        // would lock the tables against the replicas' commits.
        client.batch_execute(
            "VACUUM referrals, care_events, contacts, contact_needs, contact_services, audit",
        )?;
    }
    Ok(purged)
}

fn purge_rows(
    client: &mut Client,
    r: &Retention,
    link_days: Option<u32>,
    now: OffsetDateTime,
) -> Result<Purged> {
    let days = |d: u32| rfc3339(now - time::Duration::days(i64::from(d)));
    let content_cutoff = days(r.retention_days);
    let meta_cutoff = days(r.metadata_retention_days);
    let mac_cutoff = rfc3339(now - time::Duration::days(1));
    let link_cutoff = link_days.map_or_else(|| rfc3339(now + time::Duration::days(1)), days);
    let mut tx = client.transaction()?;
    let ciphertexts = tx.execute(
        "UPDATE referrals SET ciphertext = NULL
         WHERE status = 'delivered' AND ciphertext IS NOT NULL AND delivered_at <= $1",
        &[&content_cutoff],
    )?;
    tx.execute(
        "UPDATE referrals SET content_mac = NULL
         WHERE content_mac IS NOT NULL AND created_at <= $1",
        &[&mac_cutoff],
    )?;
    tx.execute(
        "UPDATE referrals SET token_sha256 = NULL, reminder_ciphertext = NULL
         WHERE token_sha256 IS NOT NULL AND created_at <= $1",
        &[&link_cutoff],
    )?;
    let referrals = tx.execute(
        "DELETE FROM referrals WHERE status <> 'queued' AND created_at <= $1",
        &[&meta_cutoff],
    )?;
    let contacts = tx.execute(
        "DELETE FROM contacts WHERE day < substr($1, 1, 10)",
        &[&meta_cutoff],
    )?;
    let audit = tx.execute("DELETE FROM audit WHERE at <= $1", &[&meta_cutoff])?;
    let purged = Purged {
        ciphertexts: ciphertexts as usize,
        referrals: referrals as usize,
        audit: audit as usize,
        contacts: contacts as usize,
    };
    if purged != Purged::default() {
        tx.execute(
            "INSERT INTO audit(at, actor, action) VALUES ($1, 'retention', $2)",
            &[
                &crate::store::now_rfc3339(),
                &format!("purge:{ciphertexts}/{referrals}/{audit}/{contacts}"),
            ],
        )?;
    }
    tx.commit()?;
    Ok(purged)
}

/// `pg_dump` of the schema `inbox` only (ciphertext and metadata: the
/// inbox has nothing else), custom format, into `out` (mode 0600, written
/// under a temporary name and renamed when complete). TLS with the CA of
/// `[store]`, the password from its file through a 0600 passfile.
pub fn backup(cfg: &PgConfig, pg_dump: &Path, out: &Path) -> Result<u64> {
    if out.exists() {
        bail!("{} already exists: choose a new file name", out.display());
    }
    let tmp = out.with_extension("partial");
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("cannot create {}", tmp.display()))?;
    let result = dump(cfg, pg_dump, &tmp);
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, out)
        .with_context(|| format!("cannot rename {} to {}", tmp.display(), out.display()))?;
    Ok(std::fs::metadata(out)?.len())
}

fn dump(cfg: &PgConfig, pg_dump: &Path, tmp: &Path) -> Result<()> {
    let mut cmd = Command::new(pg_dump);
    cmd.args(["--schema=inbox", "--format=custom", "--no-owner", "--file"])
        .arg(tmp)
        .arg("--dbname")
        .arg(&cfg.url)
        .env("PGSSLMODE", "verify-full")
        .env("PGSSLROOTCERT", &cfg.ca_file)
        .env_remove("PGPASSWORD");
    // A passfile ("*" matches any host, port, database, user): the password
    // never appears on a command line or in the environment.
    let passfile = tmp.with_extension("pgpass");
    if let Some(p) = &cfg.password_file {
        let pw = std::fs::read_to_string(p)
            .with_context(|| format!("cannot read the password file {}", p.display()))?;
        let pw = pw.trim_end_matches(['\r', '\n']);
        let escaped = pw.replace('\\', "\\\\").replace(':', "\\:");
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&passfile)
            .and_then(|mut f| {
                std::io::Write::write_all(&mut f, format!("*:*:*:*:{escaped}\n").as_bytes())
            })?;
        cmd.env("PGPASSFILE", &passfile);
    }
    let out = cmd.output();
    let _ = std::fs::remove_file(&passfile);
    let out = out.with_context(|| format!("cannot run {}", pg_dump.display()))?;
    if !out.status.success() {
        bail!(
            "pg_dump failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// A PostgreSQL client program: on the PATH, else the newest of Debian's
/// /usr/lib/postgresql/*/bin.
pub fn tool(name: &str) -> Result<std::path::PathBuf> {
    let on_path = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(name))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let mut debian: Vec<std::path::PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| {
            d.filter_map(|e| Some(e.ok()?.path().join("bin").join(name)))
                .collect()
        })
        .unwrap_or_default();
    debian.sort();
    on_path
        .into_iter()
        .chain(debian.into_iter().rev())
        .find(|p| p.is_file())
        .with_context(|| format!("{name} not found: install PostgreSQL's client programs (apt-get install postgresql-client)"))
}
