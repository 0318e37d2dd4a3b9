//! The delivery queue: the `referrals` rows seen by the delivery worker and
//! by `queue list/retry`. Status moves only forward (queued -> delivered or
//! failed), except an explicit `queue retry` by the administrator.

use anyhow::{bail, Result};
use rusqlite::{params, Connection, OptionalExtension};

use super::audit;

/// A referral waiting for (another) delivery attempt.
#[derive(Debug)]
pub struct Due {
    pub id: i64,
    pub reference: String,
    pub urgency: crate::kinds::Urgency,
    /// Submission, or the last `queue retry`: the give-up clock starts here.
    pub since: time::OffsetDateTime,
    pub attempts: u32,
    pub ciphertext: Vec<u8>,
    /// Whose addresses it goes to.
    pub municipality: Option<String>,
}

/// Queued referrals whose next attempt is due at `now`, oldest first.
pub fn due(conn: &Connection, now: &str, limit: u32) -> Result<Vec<Due>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, reference, urgency, COALESCE(retried_at, created_at), attempts, ciphertext,
                municipality
         FROM referrals
         WHERE status = 'queued' AND ciphertext IS NOT NULL
           AND (next_attempt_at IS NULL OR next_attempt_at <= ?1)
         ORDER BY id LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![now, limit], |r| {
        Ok(Due {
            id: r.get(0)?,
            reference: r.get(1)?,
            urgency: r.get(2)?,
            since: r.get(3)?,
            attempts: r.get(4)?,
            ciphertext: r.get(5)?,
            municipality: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// After a transient failure: every queued referral due before `next`
/// waits until then too (they would meet the same outage). A referral
/// queued later, or put back by `queue retry`, has no time yet and wakes
/// the worker at once.
pub fn defer(conn: &Connection, next: &str) -> Result<()> {
    conn.execute(
        "UPDATE referrals SET next_attempt_at = ?1
         WHERE status = 'queued' AND ciphertext IS NOT NULL
           AND (next_attempt_at IS NULL OR next_attempt_at < ?1)",
        [next],
    )?;
    Ok(())
}

/// Since when the oldest queued referral has been waiting (submission or
/// `queue retry`), for `/healthz`.
pub fn oldest_queued(conn: &Connection) -> Result<Option<String>> {
    Ok(conn.query_row(
        "SELECT MIN(COALESCE(retried_at, created_at)) FROM referrals
         WHERE status = 'queued' AND ciphertext IS NOT NULL",
        [],
        |r| r.get(0),
    )?)
}

/// The earliest scheduled retry, if any (for the worker's sleep).
pub fn next_attempt_at(conn: &Connection) -> Result<Option<time::OffsetDateTime>> {
    Ok(conn.query_row(
        "SELECT MIN(next_attempt_at) FROM referrals
         WHERE status = 'queued' AND ciphertext IS NOT NULL",
        [],
        |r| r.get(0),
    )?)
}

/// The server answered 250. With `drop_ciphertext` (retention 0) the
/// ciphertext goes in the same transaction.
pub fn mark_delivered(
    conn: &mut Connection,
    id: i64,
    reference: &str,
    at: &str,
    drop_ciphertext: bool,
) -> Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    tx.execute(
        "UPDATE referrals SET status = 'delivered', delivered_at = ?2, attempts = attempts + 1,
                next_attempt_at = NULL, last_error = NULL,
                ciphertext = CASE WHEN ?3 THEN NULL ELSE ciphertext END
         WHERE id = ?1",
        params![id, at, drop_ciphertext],
    )?;
    audit(&tx, "deliver", "referral.delivered", Some(reference))?;
    tx.commit()?;
    Ok(())
}

pub fn mark_retry(conn: &Connection, id: i64, next_at: &str, error: &str) -> Result<()> {
    conn.execute(
        "UPDATE referrals SET attempts = attempts + 1, next_attempt_at = ?2, last_error = ?3
         WHERE id = ?1 AND status = 'queued'",
        params![id, next_at, error],
    )?;
    Ok(())
}

/// Permanent failure: the admin notice is sent by the worker (`pending_notices`).
pub fn mark_failed(
    conn: &mut Connection,
    id: i64,
    reference: &str,
    at: &str,
    error: &str,
) -> Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    tx.execute(
        "UPDATE referrals SET status = 'failed', attempts = attempts + 1, failed_at = ?2,
                next_attempt_at = NULL, last_error = ?3, notice_sent_at = NULL
         WHERE id = ?1 AND status = 'queued'",
        params![id, at, error],
    )?;
    audit(&tx, "deliver", "referral.failed", Some(reference))?;
    tx.commit()?;
    Ok(())
}

/// Gives up every queued referral submitted before `cutoff` (retries exhausted).
pub fn expire(conn: &mut Connection, cutoff: &str, at: &str, error: &str) -> Result<Vec<String>> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let refs: Vec<String> = {
        let mut stmt = tx.prepare(
            "UPDATE referrals SET status = 'failed', failed_at = ?2, next_attempt_at = NULL,
                    last_error = ?3 || COALESCE(' (last: ' || last_error || ')', ''),
                    notice_sent_at = NULL
             WHERE status = 'queued' AND COALESCE(retried_at, created_at) < ?1
             RETURNING reference",
        )?;
        let rows = stmt.query_map(params![cutoff, at, error], |r| r.get(0))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    for r in &refs {
        audit(&tx, "deliver", "referral.failed", Some(r))?;
    }
    tx.commit()?;
    Ok(refs)
}

/// A failed referral whose admin notice has not gone out yet.
#[derive(Debug, Clone)]
pub struct Notice {
    pub reference: String,
    pub failed_at: String,
    pub error: String,
    pub municipality: Option<String>,
}

pub fn pending_notices(conn: &Connection) -> Result<Vec<Notice>> {
    let mut stmt = conn.prepare_cached(
        "SELECT reference, COALESCE(failed_at, ''), COALESCE(last_error, ''), municipality
         FROM referrals
         WHERE status = 'failed' AND notice_sent_at IS NULL ORDER BY id LIMIT 100",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(Notice {
            reference: r.get(0)?,
            failed_at: r.get(1)?,
            error: r.get(2)?,
            municipality: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn mark_notice_sent(conn: &Connection, reference: &str, at: &str) -> Result<()> {
    conn.execute(
        "UPDATE referrals SET notice_sent_at = ?2 WHERE reference = ?1",
        params![reference, at],
    )?;
    Ok(())
}

/// One line of `queue list`: metadata only.
#[derive(Debug, Clone)]
pub struct Row {
    pub reference: String,
    pub created_at: time::OffsetDateTime,
    pub status: crate::kinds::Status,
    pub attempts: u32,
    pub next_attempt_at: Option<time::OffsetDateTime>,
    pub delivered_at: Option<time::OffsetDateTime>,
    pub last_error: Option<String>,
    pub has_ciphertext: bool,
}

pub fn list(conn: &Connection, status: Option<&str>, limit: u32) -> Result<Vec<Row>> {
    let mut stmt = conn.prepare(
        "SELECT reference, created_at, status, attempts, next_attempt_at, delivered_at,
                last_error, ciphertext IS NOT NULL
         FROM referrals WHERE (?1 IS NULL OR status = ?1) ORDER BY id DESC LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![status, limit], |r| {
        Ok(Row {
            reference: r.get(0)?,
            created_at: r.get(1)?,
            status: r.get(2)?,
            attempts: r.get(3)?,
            next_attempt_at: r.get(4)?,
            delivered_at: r.get(5)?,
            last_error: r.get(6)?,
            has_ciphertext: r.get(7)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// `queue retry`: a failed (or waiting) referral is queued again, due now,
/// with a fresh retry budget counted from now.
pub fn retry(conn: &mut Connection, reference: &str) -> Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let row: Option<(String, bool)> = tx
        .query_row(
            "SELECT status, ciphertext IS NOT NULL FROM referrals WHERE reference = ?1",
            [reference],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    match row {
        None => bail!("no referral {reference}"),
        Some((status, _)) if status == "delivered" => {
            bail!("{reference} was already delivered: not sending it again")
        }
        Some((_, false)) => bail!("the ciphertext of {reference} was purged: nothing to send"),
        Some(_) => {}
    }
    // The give-up clock runs from submission; a manual retry restarts it
    // from now (`retried_at`), otherwise an old referral would expire again at once.
    tx.execute(
        "UPDATE referrals SET status = 'queued', next_attempt_at = NULL, attempts = 0,
                failed_at = NULL, notice_sent_at = NULL, last_error = NULL, retried_at = ?2
         WHERE reference = ?1",
        params![reference, super::now_rfc3339()],
    )?;
    audit(&tx, "admin", "referral.retry", Some(reference))?;
    tx.commit()?;
    Ok(())
}
