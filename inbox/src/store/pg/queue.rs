//! The store operations of several replicas on one PostgreSQL database.

use anyhow::Result;
use postgres::{Client, Transaction};

use super::{Job, PgConfig};
use crate::store::backend::{Backend, Sent};
use crate::store::queue::Due;
use crate::store::{now_rfc3339, Accepted, NewReferral};

/// `NOTIFY`'d by every commit that queued a referral: the delivery
/// workers of all replicas `LISTEN` on it.
pub const NOTIFY_CHANNEL: &str = "inbox_queued";

/// One replica's connection; reopened on the next call after the server
/// closed it (a restart, a fail-over), so a writer thread outlives them.
pub struct Pg {
    client: Client,
    cfg: PgConfig,
}

impl Pg {
    pub fn connect(cfg: &PgConfig) -> Result<Pg> {
        Ok(Pg {
            client: super::connect(cfg)?,
            cfg: cfg.clone(),
        })
    }

    /// The connection, reopened if it was closed. An operation that failed
    /// with the old one is not retried here: its caller acknowledged nothing.
    pub fn client(&mut self) -> Result<&mut Client> {
        if self.client.is_closed() {
            tracing::warn!("PostgreSQL connection closed: reconnecting");
            self.client = super::connect(&self.cfg)?;
        }
        Ok(&mut self.client)
    }
}

fn audit(tx: &mut Transaction<'_>, actor: &str, action: &str, reference: &str) -> Result<()> {
    tx.execute(
        "INSERT INTO audit(at, actor, action, reference) VALUES ($1, $2, $3, $4)",
        &[&now_rfc3339(), &actor, &action, &reference],
    )?;
    Ok(())
}

impl Backend for Pg {
    fn commit_batch(&mut self, batch: &[&NewReferral]) -> Result<Vec<Accepted>> {
        let mut tx = self.client()?.transaction()?;
        let insert = tx.prepare(
            "INSERT INTO referrals(reference, created_at, desk, operator_id, need_area, urgency,
                                   age_band, status, idempotency_key, ciphertext, content_mac,
                                   token_sha256, reminder_ciphertext)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'queued', $8, $9, $10, $11, $12)
             ON CONFLICT (operator_id, idempotency_key) DO NOTHING
             RETURNING id",
        )?;
        let find = tx.prepare(
            "SELECT reference, content_mac FROM referrals
             WHERE operator_id = $1 AND idempotency_key = $2",
        )?;
        let mut out = Vec::with_capacity(batch.len());
        for r in batch {
            let actor = format!("operator:{}", r.operator_id);
            // ON CONFLICT: another replica committing the same key makes
            // this one wait for it, then answer "duplicate", not fail.
            let inserted = tx.query_opt(
                &insert,
                &[
                    &r.reference,
                    &r.created_at,
                    &r.desk,
                    &r.operator_id,
                    &r.need_area,
                    &r.urgency.slug(),
                    &r.age_band,
                    &r.idempotency_key,
                    &r.ciphertext,
                    &r.content_mac,
                    &r.token_sha256,
                    &r.reminder_ciphertext,
                ],
            )?;
            if inserted.is_some() {
                audit(&mut tx, &actor, "referral.accepted", &r.reference)?;
                out.push(Accepted::New(r.reference.clone()));
                continue;
            }
            let row = tx.query_one(&find, &[&r.operator_id, &r.idempotency_key])?;
            let (reference, mac): (String, Option<String>) = (row.get(0), row.get(1));
            let same = mac.as_deref() == Some(r.content_mac.as_str());
            let action = if same {
                "referral.duplicate"
            } else {
                "referral.key_reused"
            };
            audit(&mut tx, &actor, action, &reference)?;
            out.push(if same {
                Accepted::Duplicate(reference)
            } else {
                Accepted::KeyReused(reference)
            });
        }
        if out.iter().any(|a| matches!(a, Accepted::New(_))) {
            // Delivered to the listeners only when the commit succeeds.
            tx.batch_execute(&format!("NOTIFY {NOTIFY_CHANNEL}"))?;
        }
        tx.commit()?;
        Ok(out)
    }

    /// One row per year, incremented in its own short transaction before
    /// the referral is sealed (its reference is inside the ciphertext). The
    /// row lock orders the replicas; a number is lost only when the request
    /// holding it fails before its commit.
    fn next_sequence(&mut self, year: i32) -> Result<u64> {
        let prefix = format!("SEG-{year:04}-");
        let n: i64 = self
            .client()?
            .query_one(
                "INSERT INTO reference_counters(year, last)
                 SELECT $1, COALESCE(MAX(CAST(substr(reference, $3) AS BIGINT)), 0) + 1
                 FROM referrals WHERE reference LIKE $2
                 ON CONFLICT (year) DO UPDATE SET last = reference_counters.last + 1
                 RETURNING last",
                &[&year, &format!("{prefix}%"), &(prefix.len() as i32 + 1)],
            )?
            .get(0);
        Ok(n.max(0) as u64)
    }

    /// The row stays locked (`FOR UPDATE`) while `send` runs, and other
    /// workers skip it (`SKIP LOCKED`) instead of waiting: no two send the
    /// same referral at once. If this replica dies mid-send its connection
    /// drops, the lock goes, and another worker sends it again (the same
    /// Message-ID: at most one duplicate per crash).
    fn deliver_next(
        &mut self,
        now: &str,
        drop_ciphertext: bool,
        send: &mut dyn FnMut(&Due) -> Sent,
    ) -> Result<Option<(String, Sent)>> {
        let mut tx = self.client()?.transaction()?;
        let Some(row) = tx.query_opt(
            "SELECT id, reference, urgency, COALESCE(retried_at, created_at), attempts, ciphertext
             FROM referrals
             WHERE status = 'queued' AND ciphertext IS NOT NULL
               AND (next_attempt_at IS NULL OR next_attempt_at <= $1)
             ORDER BY id LIMIT 1
             FOR UPDATE SKIP LOCKED",
            &[&now],
        )?
        else {
            return Ok(None);
        };
        let urgency: String = row.get(2);
        let since: String = row.get(3);
        let attempts: i32 = row.get(4);
        let due = Due {
            id: row.get(0),
            reference: row.get(1),
            urgency: crate::kinds::Urgency::parse(&urgency)
                .ok_or_else(|| anyhow::anyhow!("unknown urgency {urgency:?}"))?,
            since: crate::store::parse_rfc3339(&since)
                .ok_or_else(|| anyhow::anyhow!("invalid time {since:?}"))?,
            attempts: attempts.max(0) as u32,
            ciphertext: row.get(5),
        };
        let sent = send(&due);
        match &sent {
            Sent::Delivered => {
                tx.execute(
                    "UPDATE referrals SET status = 'delivered', delivered_at = $2,
                            attempts = attempts + 1, next_attempt_at = NULL, last_error = NULL,
                            ciphertext = CASE WHEN $3 THEN NULL ELSE ciphertext END
                     WHERE id = $1",
                    &[&due.id, &now, &drop_ciphertext],
                )?;
                audit(&mut tx, "deliver", "referral.delivered", &due.reference)?;
            }
            Sent::Retry { at, error } => {
                tx.execute(
                    "UPDATE referrals SET attempts = attempts + 1, next_attempt_at = $2,
                            last_error = $3
                     WHERE id = $1 AND status = 'queued'",
                    &[&due.id, at, error],
                )?;
            }
            Sent::Failed(error) => {
                tx.execute(
                    "UPDATE referrals SET status = 'failed', attempts = attempts + 1,
                            failed_at = $2, next_attempt_at = NULL, last_error = $3,
                            notice_sent_at = NULL
                     WHERE id = $1 AND status = 'queued'",
                    &[&due.id, &now, error],
                )?;
                audit(&mut tx, "deliver", "referral.failed", &due.reference)?;
            }
        }
        tx.commit()?;
        Ok(Some((due.reference, sent)))
    }

    fn exclusive(&mut self, job: Job, f: &mut dyn FnMut() -> Result<()>) -> Result<bool> {
        Ok(super::exclusive(self.client()?, job, |_| f())?.is_some())
    }
}
