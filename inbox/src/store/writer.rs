//! Group commit: one thread owns the write connection and commits the
//! referrals of all requests waiting at that moment in one transaction, so
//! one fsync acknowledges many referrals.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

use anyhow::{Context, Result};
use rusqlite::{params, Connection, OptionalExtension};
use tokio::sync::{mpsc, oneshot, Notify};

use super::backend::Backend;

/// Largest batch per transaction: bounds the latency of the last one in it.
const MAX_BATCH: usize = 256;

/// A sealed referral ready to be committed.
#[derive(Debug)]
pub struct NewReferral {
    pub reference: String,
    pub created_at: String,
    pub desk: String,
    /// Slug of the municipality it is sealed and mailed to.
    pub municipality: String,
    pub operator_id: i64,
    pub need_area: String,
    pub urgency: crate::kinds::Urgency,
    pub age_band: String,
    pub idempotency_key: String,
    /// Keyed hash of the validated content (see `Csrf::content_mac`).
    pub content_mac: String,
    pub ciphertext: Vec<u8>,
    /// SHA-256 of the staff link's token (the token itself is only inside
    /// the ciphertext); `None` without a `[staff]` site.
    pub token_sha256: Option<String>,
    /// The reminder (reference and link only), sealed now: the server
    /// cannot rebuild the link later.
    pub reminder_ciphertext: Option<Vec<u8>>,
}

/// What a commit did with the referral.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Accepted {
    /// Stored under this new reference.
    New(String),
    /// The same form, same content, was already committed (a double click,
    /// a browser retry): its reference.
    Duplicate(String),
    /// The form's key was already used for *other* content (a form filled
    /// in again for another person): nothing stored, nothing acknowledged.
    KeyReused(String),
}

type Job = (NewReferral, oneshot::Sender<Result<Accepted, String>>);

#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Job>,
    committed: Arc<Notify>,
    /// Set by a failed commit, cleared by the next good one (for `/healthz`).
    failing: Arc<AtomicBool>,
}

impl Writer {
    /// Starts the writer thread on its own connection.
    pub fn start(db: &Path) -> Result<Writer> {
        Writer::start_backend(Box::new(super::backend::Sqlite::new(super::open(db)?)))
    }

    /// Starts the writer thread on any store (its own connection).
    pub fn start_backend(backend: Box<dyn Backend>) -> Result<Writer> {
        let (tx, rx) = mpsc::channel::<Job>(4096);
        let committed = Arc::new(Notify::new());
        let notify = committed.clone();
        let failing = Arc::new(AtomicBool::new(false));
        let f = failing.clone();
        thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || run(backend, rx, notify, f))
            .context("cannot start the writer thread")?;
        Ok(Writer {
            tx,
            committed,
            failing,
        })
    }

    /// Whether the last commit failed (disk full, I/O error).
    pub fn failing(&self) -> bool {
        self.failing.load(Ordering::Relaxed)
    }

    /// A successful write elsewhere (the health probe) shows the store has
    /// recovered even if no referral was committed since.
    pub fn recovered(&self) {
        self.failing.store(false, Ordering::Relaxed);
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

fn run(
    mut backend: Box<dyn Backend>,
    mut rx: mpsc::Receiver<Job>,
    committed: Arc<Notify>,
    failing: Arc<AtomicBool>,
) {
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
        let outcome = {
            let referrals: Vec<&NewReferral> = batch.iter().map(|(r, _)| r).collect();
            backend.commit_batch(&referrals)
        };
        match outcome {
            Ok(results) => {
                failing.store(false, Ordering::Relaxed);
                tracing::debug!(size = batch.len(), "group commit");
                if results.iter().any(|a| matches!(a, Accepted::New(_))) {
                    // A stored permit if the worker is busy: no wake-up is lost.
                    committed.notify_one();
                }
                for ((_, reply), result) in batch.drain(..).zip(results) {
                    let _ = reply.send(Ok(result));
                }
            }
            Err(e) => {
                failing.store(true, Ordering::Relaxed);
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

pub(super) fn commit_batch(conn: &mut Connection, batch: &[&NewReferral]) -> Result<Vec<Accepted>> {
    // IMMEDIATE: take the write lock first. The delivery worker and the
    // purge write too; a deferred transaction that read first would fail at
    // once with SQLITE_BUSY (stale snapshot) instead of waiting its turn.
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut out = Vec::with_capacity(batch.len());
    {
        let mut find = tx.prepare_cached(
            "SELECT reference, content_mac FROM referrals
             WHERE operator_id = ?1 AND idempotency_key = ?2",
        )?;
        let mut insert = tx.prepare_cached(
            "INSERT INTO referrals(reference, created_at, desk, operator_id, need_area, urgency,
                                   age_band, status, idempotency_key, ciphertext, content_mac,
                                   token_sha256, reminder_ciphertext, municipality)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'queued', ?8, ?9, ?10, ?11, ?12, ?13)",
        )?;
        let mut audit = tx.prepare_cached(
            "INSERT INTO audit(at, actor, action, reference) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for r in batch {
            let actor = format!("operator:{}", r.operator_id);
            let existing: Option<(String, Option<String>)> = find
                .query_row(params![r.operator_id, r.idempotency_key], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })
                .optional()?;
            if let Some((reference, mac)) = existing {
                let same = mac.as_deref() == Some(r.content_mac.as_str());
                let action = if same {
                    "referral.duplicate"
                } else {
                    "referral.key_reused"
                };
                audit.execute(params![r.created_at, actor, action, reference])?;
                out.push(if same {
                    Accepted::Duplicate(reference)
                } else {
                    Accepted::KeyReused(reference)
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
                r.ciphertext,
                r.content_mac,
                r.token_sha256,
                r.reminder_ciphertext,
                r.municipality
            ])?;
            audit.execute(params![
                r.created_at,
                actor,
                "referral.accepted",
                r.reference
            ])?;
            out.push(Accepted::New(r.reference.clone()));
        }
    }
    tx.commit()?;
    Ok(out)
}
