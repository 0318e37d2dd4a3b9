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
    /// Always `Some` but in `drop`.
    client: Option<Client>,
    cfg: PgConfig,
}

impl Pg {
    pub fn connect(cfg: &PgConfig) -> Result<Pg> {
        Ok(Pg {
            client: Some(super::connect(cfg)?),
            cfg: cfg.clone(),
        })
    }

    /// The connection, reopened if it was closed. An operation that failed
    /// with the old one is not retried here: its caller acknowledged nothing.
    pub fn client(&mut self) -> Result<&mut Client> {
        if self.client.as_ref().is_none_or(Client::is_closed) {
            tracing::warn!("PostgreSQL connection closed: reconnecting");
            let old = self.client.replace(super::connect(&self.cfg)?);
            drop_client(old);
        }
        self.client
            .as_mut()
            .ok_or_else(|| anyhow::anyhow!("no PostgreSQL connection"))
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        drop_client(self.client.take());
    }
}

/// Drops a client off any async thread: it owns a runtime of its own,
/// which tokio refuses to drop on one of its threads.
pub fn drop_client(client: Option<Client>) {
    let Some(client) = client else { return };
    if tokio::runtime::Handle::try_current().is_ok() {
        let _ = std::thread::Builder::new()
            .name("pg-close".into())
            .spawn(move || drop(client));
    } else {
        drop(client);
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
    /// The whole batch in a few round trips (arrays through `unnest`):
    /// over the network each statement costs one, and a batch holds up to
    /// 256 referrals.
    fn commit_batch(&mut self, batch: &[&NewReferral]) -> Result<Vec<Accepted>> {
        let col = |f: fn(&NewReferral) -> String| batch.iter().map(|r| f(r)).collect::<Vec<_>>();
        let references = col(|r| r.reference.clone());
        let created = col(|r| r.created_at.clone());
        let desks = col(|r| r.desk.clone());
        let operators: Vec<i64> = batch.iter().map(|r| r.operator_id).collect();
        let areas = col(|r| r.need_area.clone());
        let urgencies = col(|r| r.urgency.slug().to_string());
        let ages = col(|r| r.age_band.clone());
        let keys = col(|r| r.idempotency_key.clone());
        let ciphertexts: Vec<&[u8]> = batch.iter().map(|r| r.ciphertext.as_slice()).collect();
        let macs = col(|r| r.content_mac.clone());
        let tokens: Vec<Option<&str>> = batch.iter().map(|r| r.token_sha256.as_deref()).collect();
        let reminders: Vec<Option<&[u8]>> = batch
            .iter()
            .map(|r| r.reminder_ciphertext.as_deref())
            .collect();
        let municipalities = col(|r| r.municipality.clone());
        let mut tx = self.client()?.transaction()?;
        // ON CONFLICT: a key committed by another replica meanwhile makes
        // this one wait for it, then answer "duplicate" instead of failing;
        // the same key twice in one batch keeps the first (as in SQLite).
        let inserted: std::collections::HashSet<String> = tx
            .query(
                "INSERT INTO referrals(reference, created_at, desk, operator_id, need_area,
                                       urgency, age_band, status, idempotency_key, ciphertext,
                                       content_mac, token_sha256, reminder_ciphertext, municipality)
                 SELECT r, c, d, o, n, u, a, 'queued', k, ct, m, t, rc, mu
                 FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[], $5::text[],
                             $6::text[], $7::text[], $8::text[], $9::bytea[], $10::text[],
                             $11::text[], $12::bytea[], $13::text[])
                      WITH ORDINALITY AS x(r, c, d, o, n, u, a, k, ct, m, t, rc, mu, ord)
                 ORDER BY ord
                 ON CONFLICT (operator_id, idempotency_key) DO NOTHING
                 RETURNING reference",
                &[
                    &references,
                    &created,
                    &desks,
                    &operators,
                    &areas,
                    &urgencies,
                    &ages,
                    &keys,
                    &ciphertexts,
                    &macs,
                    &tokens,
                    &reminders,
                    &municipalities,
                ],
            )?
            .iter()
            .map(|row| row.get(0))
            .collect();
        let mut existing: std::collections::HashMap<(i64, String), (String, Option<String>)> =
            std::collections::HashMap::new();
        if inserted.len() < batch.len() {
            for row in tx.query(
                "SELECT operator_id, idempotency_key, reference, content_mac FROM referrals
                 WHERE (operator_id, idempotency_key) IN
                       (SELECT * FROM unnest($1::int8[], $2::text[]))",
                &[&operators, &keys],
            )? {
                existing.insert((row.get(0), row.get(1)), (row.get(2), row.get(3)));
            }
        }
        let mut out = Vec::with_capacity(batch.len());
        let (mut at, mut actors, mut actions, mut refs) = (vec![], vec![], vec![], vec![]);
        for r in batch {
            let accepted = if inserted.contains(&r.reference) {
                Accepted::New(r.reference.clone())
            } else {
                let (reference, mac) = existing
                    .get(&(r.operator_id, r.idempotency_key.clone()))
                    .cloned()
                    .ok_or_else(|| anyhow::anyhow!("a conflicting referral vanished"))?;
                if mac.as_deref() == Some(r.content_mac.as_str()) {
                    Accepted::Duplicate(reference)
                } else {
                    Accepted::KeyReused(reference)
                }
            };
            let (action, reference) = match &accepted {
                Accepted::New(x) => ("referral.accepted", x),
                Accepted::Duplicate(x) => ("referral.duplicate", x),
                Accepted::KeyReused(x) => ("referral.key_reused", x),
            };
            at.push(r.created_at.clone());
            actors.push(format!("operator:{}", r.operator_id));
            actions.push(action);
            refs.push(reference.clone());
            out.push(accepted);
        }
        tx.execute(
            "INSERT INTO audit(at, actor, action, reference)
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[])",
            &[&at, &actors, &actions, &refs],
        )?;
        if !inserted.is_empty() {
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
    /// The highest stored reference is read only for a year's first
    /// number: after that a plain `UPDATE` (the first version scanned the
    /// year's referrals at every submission).
    fn next_sequence(&mut self, year: i32) -> Result<u64> {
        let prefix = format!("SEG-{year:04}-");
        let client = self.client()?;
        if let Some(row) = client.query_opt(
            "UPDATE reference_counters SET last = last + 1 WHERE year = $1 RETURNING last",
            &[&year],
        )? {
            return Ok(row.get::<_, i64>(0).max(0) as u64);
        }
        let n: i64 = client
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
            "SELECT id, reference, urgency, COALESCE(retried_at, created_at), attempts, ciphertext,
                    municipality
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
            municipality: row.get(6),
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

/// Referrals still to deliver, by municipality slug (`''`: none), as
/// `store::queued_by_municipality` counts them on SQLite.
pub fn queued_by_municipality(client: &mut postgres::Client) -> anyhow::Result<Vec<(String, i64)>> {
    Ok(client
        .query(
            "SELECT COALESCE(municipality, ''), COUNT(*) FROM referrals
             WHERE status = 'queued' GROUP BY 1 ORDER BY 1",
            &[],
        )?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect())
}
