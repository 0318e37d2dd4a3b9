//! The admin's queue on PostgreSQL: the notices about failed referrals
//! (each sent by one replica: the row is locked with `SKIP LOCKED` while
//! the mail goes out), `queue list` and `queue retry`.

use anyhow::{bail, Result};
use postgres::Client;

use super::keys::time;
use super::NOTIFY_CHANNEL;
use crate::store::now_rfc3339;
use crate::store::queue::{Notice, Row};

/// What became of a notice mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeSent {
    /// Accepted, or refused for good (retrying cannot help): not again.
    Done,
    /// Try again later.
    Later,
}

/// Takes the oldest failed referral whose notice is not sent, calls `send`
/// while no other replica can take it, and records it. `None`: none left.
pub fn notify_next(
    client: &mut Client,
    send: &mut dyn FnMut(&Notice) -> NoticeSent,
) -> Result<Option<NoticeSent>> {
    let mut tx = client.transaction()?;
    let Some(r) = tx.query_opt(
        "SELECT id, reference, COALESCE(failed_at, ''), COALESCE(last_error, ''), municipality
         FROM referrals WHERE status = 'failed' AND notice_sent_at IS NULL
         ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED",
        &[],
    )?
    else {
        return Ok(None);
    };
    let id: i64 = r.get(0);
    let notice = Notice {
        reference: r.get(1),
        failed_at: r.get(2),
        error: r.get(3),
        municipality: r.get(4),
    };
    let sent = send(&notice);
    if sent == NoticeSent::Done {
        tx.execute(
            "UPDATE referrals SET notice_sent_at = $2 WHERE id = $1",
            &[&id, &now_rfc3339()],
        )?;
    }
    tx.commit()?;
    Ok(Some(sent))
}

/// `queue list` on PostgreSQL.
pub fn list(client: &mut Client, status: Option<&str>, limit: u32) -> Result<Vec<Row>> {
    let opt_time = |s: Option<String>| s.as_deref().map(time).transpose();
    client
        .query(
            "SELECT reference, created_at, status, attempts, next_attempt_at, delivered_at,
                    last_error, ciphertext IS NOT NULL
             FROM referrals WHERE ($1::TEXT IS NULL OR status = $1) ORDER BY id DESC LIMIT $2",
            &[&status, &i64::from(limit)],
        )?
        .iter()
        .map(|r| {
            let status: String = r.get(2);
            let attempts: i32 = r.get(3);
            Ok(Row {
                reference: r.get(0),
                created_at: time(r.get(1))?,
                status: crate::kinds::Status::parse(&status)
                    .ok_or_else(|| anyhow::anyhow!("unknown status {status:?}"))?,
                attempts: attempts.max(0) as u32,
                next_attempt_at: opt_time(r.get(4))?,
                delivered_at: opt_time(r.get(5))?,
                last_error: r.get(6),
                has_ciphertext: r.get(7),
            })
        })
        .collect()
}

/// `queue retry` on PostgreSQL: the same rules as on SQLite; the commit
/// wakes every replica's workers.
pub fn retry(client: &mut Client, reference: &str) -> Result<()> {
    let mut tx = client.transaction()?;
    let row = tx.query_opt(
        "SELECT status, ciphertext IS NOT NULL FROM referrals WHERE reference = $1 FOR UPDATE",
        &[&reference],
    )?;
    match row.map(|r| (r.get::<_, String>(0), r.get::<_, bool>(1))) {
        None => bail!("no referral {reference}"),
        Some((status, _)) if status == "delivered" => {
            bail!("{reference} was already delivered: not sending it again")
        }
        Some((_, false)) => bail!("the ciphertext of {reference} was purged: nothing to send"),
        Some(_) => {}
    }
    tx.execute(
        "UPDATE referrals SET status = 'queued', next_attempt_at = NULL, attempts = 0,
                failed_at = NULL, notice_sent_at = NULL, last_error = NULL, retried_at = $2
         WHERE reference = $1",
        &[&reference, &now_rfc3339()],
    )?;
    super::audit(&mut tx, "admin", "referral.retry", Some(reference))?;
    tx.batch_execute(&format!("NOTIFY {NOTIFY_CHANNEL}"))?;
    tx.commit()?;
    Ok(())
}
