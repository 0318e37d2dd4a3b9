//! Group commit: one thread owns the write connection and commits the
//! referrals of all requests waiting at that moment in one transaction, so
//! one fsync acknowledges many referrals.

use std::path::Path;
use std::sync::Arc;
use std::thread;

use anyhow::{Context, Result};
use rusqlite::{params, Connection, OptionalExtension};
use tokio::sync::{mpsc, oneshot, Notify};

/// Largest batch per transaction: bounds the latency of the last one in it.
const MAX_BATCH: usize = 256;

/// A sealed referral ready to be committed.
#[derive(Debug)]
pub struct NewReferral {
    pub reference: String,
    pub created_at: String,
    pub desk: String,
    pub operator_id: i64,
    pub need_area: String,
    pub urgency: String,
    pub age_band: String,
    pub idempotency_key: String,
    pub ciphertext: Vec<u8>,
}

/// The outcome the operator sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub reference: String,
    /// The same form was already committed: this is its reference.
    pub duplicate: bool,
}

type Job = (NewReferral, oneshot::Sender<Result<Accepted, String>>);

#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Job>,
    committed: Arc<Notify>,
}

impl Writer {
    /// Starts the writer thread on its own connection.
    pub fn start(db: &Path) -> Result<Writer> {
        let conn = super::open(db)?;
        let (tx, rx) = mpsc::channel::<Job>(4096);
        let committed = Arc::new(Notify::new());
        let notify = committed.clone();
        thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || run(conn, rx, notify))
            .context("cannot start the writer thread")?;
        Ok(Writer { tx, committed })
    }

    /// Signalled after each commit that added referrals: wakes the delivery
    /// worker at once instead of at its next poll.
    pub fn committed(&self) -> Arc<Notify> {
        self.committed.clone()
    }

    /// Commits the referral durably; returns only after the commit (or its failure).
    pub async fn commit(&self, referral: NewReferral) -> Result<Accepted> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send((referral, tx))
            .await
            .map_err(|_| anyhow::anyhow!("the writer has stopped"))?;
        rx.await
            .map_err(|_| anyhow::anyhow!("the writer has stopped"))?
            .map_err(|e| anyhow::anyhow!(e))
    }
}

fn run(mut conn: Connection, mut rx: mpsc::Receiver<Job>, committed: Arc<Notify>) {
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    while let Some(job) = rx.blocking_recv() {
        batch.push(job);
        // Everything that arrived while the previous fsync ran joins this one.
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        match commit_batch(&mut conn, &batch) {
            Ok(results) => {
                tracing::debug!(size = batch.len(), "group commit");
                if results.iter().any(|a| !a.duplicate) {
                    // A stored permit if the worker is busy: no wake-up is lost.
                    committed.notify_one();
                }
                for ((_, reply), result) in batch.drain(..).zip(results) {
                    let _ = reply.send(Ok(result));
                }
            }
            Err(e) => {
                // Nothing of the batch is acknowledged: the operators see an
                // error page and can resend (the idempotency key keeps it single).
                tracing::error!(error = %format!("{e:#}"), size = batch.len(), "commit failed");
                for (_, reply) in batch.drain(..) {
                    let _ = reply.send(Err("commit failed".into()));
                }
            }
        }
    }
}

fn commit_batch(conn: &mut Connection, batch: &[Job]) -> Result<Vec<Accepted>> {
    // IMMEDIATE: take the write lock first. The delivery worker and the
    // purge write too; a deferred transaction that read first would fail at
    // once with SQLITE_BUSY (stale snapshot) instead of waiting its turn.
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut out = Vec::with_capacity(batch.len());
    {
        let mut find = tx.prepare_cached(
            "SELECT reference FROM referrals WHERE operator_id = ?1 AND idempotency_key = ?2",
        )?;
        let mut insert = tx.prepare_cached(
            "INSERT INTO referrals(reference, created_at, desk, operator_id, need_area, urgency,
                                   age_band, status, idempotency_key, ciphertext)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'queued', ?8, ?9)",
        )?;
        let mut audit = tx.prepare_cached(
            "INSERT INTO audit(at, actor, action, reference) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for (r, _) in batch {
            let actor = format!("operator:{}", r.operator_id);
            let existing: Option<String> = find
                .query_row(params![r.operator_id, r.idempotency_key], |row| row.get(0))
                .optional()?;
            if let Some(reference) = existing {
                audit.execute(params![
                    r.created_at,
                    actor,
                    "referral.duplicate",
                    reference
                ])?;
                out.push(Accepted {
                    reference,
                    duplicate: true,
                });
                continue;
            }
            insert.execute(params![
                r.reference,
                r.created_at,
                r.desk,
                r.operator_id,
                r.need_area,
                r.urgency,
                r.age_band,
                r.idempotency_key,
                r.ciphertext
            ])?;
            audit.execute(params![
                r.created_at,
                actor,
                "referral.accepted",
                r.reference
            ])?;
            out.push(Accepted {
                reference: r.reference.clone(),
                duplicate: false,
            });
        }
    }
    tx.commit()?;
    Ok(out)
}
