//! Retention: the ciphertext of a delivered referral is deleted after
//! `retention_days`; the non-identifying metadata (referral rows, contacts)
//! and the audit log after
//! `metadata_retention_days`. Runs at start, then periodically while serving,
//! and on demand with `sportello-inbox purge`.

use anyhow::Result;
use rusqlite::{params, Connection};
use time::OffsetDateTime;

use crate::config::Retention;
use crate::store::{audit, rfc3339};

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    /// Delivered referrals whose ciphertext was deleted.
    pub ciphertexts: usize,
    /// Referral rows (metadata) deleted.
    pub referrals: usize,
    /// Audit rows deleted.
    pub audit: usize,
    /// Contacts recorded at the desks (with their needs and services).
    pub contacts: usize,
}

/// `link_days`: how long the staff link of a referral keeps working
/// (`[staff] link_days`); its token hash is deleted afterwards.
pub fn purge(
    conn: &mut Connection,
    r: &Retention,
    link_days: Option<u32>,
    now: OffsetDateTime,
) -> Result<Purged> {
    let days = |d: u32| rfc3339(now - time::Duration::days(i64::from(d)));
    let content_cutoff = days(r.retention_days);
    let meta_cutoff = days(r.metadata_retention_days);
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let ciphertexts = tx.execute(
        "UPDATE referrals SET ciphertext = NULL
         WHERE status = 'delivered' AND ciphertext IS NOT NULL AND delivered_at <= ?1",
        [&content_cutoff],
    )?;
    // The content fingerprint only has to outlive the form (12 hours).
    tx.execute(
        "UPDATE referrals SET content_mac = NULL
         WHERE content_mac IS NOT NULL AND created_at <= ?1",
        [rfc3339(now - time::Duration::days(1))],
    )?;
    // Without a [staff] site no link works: every token goes.
    let link_cutoff = link_days.map_or_else(|| rfc3339(now + time::Duration::days(1)), days);
    tx.execute(
        "UPDATE referrals SET token_sha256 = NULL, reminder_ciphertext = NULL
         WHERE token_sha256 IS NOT NULL AND created_at <= ?1",
        [&link_cutoff],
    )?;
    // Queued referrals are never dropped here: they fail (and are kept)
    // long before this, after the retry budget.
    let referrals = tx.execute(
        "DELETE FROM referrals WHERE status <> 'queued' AND created_at <= ?1",
        [&meta_cutoff],
    )?;
    // Contacts are dated by day: one older than the cutoff's day goes.
    let contacts = tx.execute(
        "DELETE FROM contacts WHERE day < substr(?1, 1, 10)",
        [&meta_cutoff],
    )?;
    let audit_rows = tx.execute("DELETE FROM audit WHERE at <= ?1", params![meta_cutoff])?;
    let purged = Purged {
        ciphertexts,
        referrals,
        audit: audit_rows,
        contacts,
    };
    if purged != Purged::default() {
        audit(
            &tx,
            "retention",
            &format!("purge:{ciphertexts}/{referrals}/{audit_rows}/{contacts}"),
            None,
        )?;
    }
    tx.commit()?;
    if purged != Purged::default() {
        // secure_delete zeroes the freed pages, but the old page images stay
        // in the WAL until a checkpoint: copy back and truncate it now. A busy
        // reader may delay this; the next purge tries again.
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())) {
            tracing::debug!(error = %e, "checkpoint after purge postponed");
        }
    }
    Ok(purged)
}
