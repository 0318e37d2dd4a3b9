//! Delivery: a worker thread takes committed referrals from the queue and
//! mails them to the staff as PGP/MIME. A referral is marked delivered only
//! after the server's 250, and the worker sends one mail at a time, so a
//! crash between the 250 and the commit resends at most that one mail
//! (with the same Message-ID).

pub mod backoff;
pub mod mime;
pub mod smtp;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use lettre::AsyncTransport;
use rusqlite::Connection;
use time::OffsetDateTime;
use tokio::sync::{oneshot, watch, Notify};

use crate::config::{Config, Mail};
use crate::store::{self, queue, rfc3339};
use smtp::{Failure, Transport};

/// Referrals read per round; the worker re-reads the queue after each round.
const ROUND: u32 = 32;

/// The running worker; `stop` lets the current send finish.
pub struct Handle {
    stop: watch::Sender<bool>,
    done: oneshot::Receiver<()>,
}

impl Handle {
    /// Asks the worker to stop after the current send and waits up to
    /// `grace` for it. A send still running then is abandoned: its referral
    /// is still queued and goes out again (same Message-ID) at the next start.
    pub async fn stop(self, grace: Duration) {
        let _ = self.stop.send(true);
        if tokio::time::timeout(grace, self.done).await.is_err() {
            tracing::warn!("delivery still sending at shutdown: that referral stays queued");
        }
    }
}

/// Starts the worker if `[mail]` is configured. `wake` is signalled by the
/// store writer after each commit.
pub fn start(cfg: &Config, wake: Arc<Notify>) -> Result<Option<Handle>> {
    let Some(mail) = cfg.mail.clone() else {
        tracing::warn!(
            "no [mail] section in the configuration: referrals are stored but not delivered"
        );
        return Ok(None);
    };
    let conn = store::open(&cfg.database())?;
    let drop_at_delivery = cfg.retention.retention_days == 0;
    let (stop_tx, stop_rx) = watch::channel(false);
    let (done_tx, done_rx) = oneshot::channel();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<()>>();
    // Its own thread and runtime: the worker's SQLite calls block, and must
    // not take a worker thread from the HTTPS side.
    std::thread::Builder::new()
        .name("deliver".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = ready_tx.send(Err(e.into()));
                    return;
                }
            };
            rt.block_on(async move {
                // The pooled transport must be made inside the runtime it uses.
                let transport = match smtp::transport(&mail) {
                    Ok(t) => t,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(()));
                tracing::info!(host = %mail.host, port = mail.port(), security = ?mail.security, "delivery worker started");
                let mut w = Worker {
                    mail,
                    drop_at_delivery,
                    conn,
                    transport,
                    wake,
                    stop: stop_rx,
                    notice_failures: 0,
                    notice_pause_until: None,
                };
                w.run().await;
                w.transport.shutdown().await;
                let _ = done_tx.send(());
            });
        })
        .context("cannot start the delivery thread")?;
    ready_rx.recv().context("the delivery thread stopped")??;
    Ok(Some(Handle {
        stop: stop_tx,
        done: done_rx,
    }))
}

enum Next {
    /// More may be due: go on.
    Now,
    /// Nothing due: sleep, but wake for a new referral.
    Idle(Duration),
    /// The server is in trouble: sleep, even if new referrals arrive.
    Pause(Duration),
}

struct Worker {
    mail: Mail,
    drop_at_delivery: bool,
    conn: Connection,
    transport: Transport,
    wake: Arc<Notify>,
    stop: watch::Receiver<bool>,
    notice_failures: u32,
    notice_pause_until: Option<Instant>,
}

impl Worker {
    fn stopping(&self) -> bool {
        *self.stop.borrow()
    }

    async fn run(&mut self) {
        while !self.stopping() {
            let next = match self.round().await {
                Ok(n) => n,
                Err(e) => {
                    // The database (busy, disk full): nothing is lost, try again.
                    tracing::error!(error = %format!("{e:#}"), "delivery round failed");
                    Next::Pause(Duration::from_secs(5))
                }
            };
            let (d, wakeable) = match next {
                Next::Now => continue,
                Next::Idle(d) => (d, true),
                Next::Pause(d) => (d, false),
            };
            let wake = self.wake.clone();
            tokio::select! {
                _ = tokio::time::sleep(d) => {}
                _ = wake.notified(), if wakeable => {}
                _ = self.stop.changed() => {}
            }
        }
    }

    /// One pass: pending admin notices, then the due referrals in order.
    async fn round(&mut self) -> Result<Next> {
        self.notices().await?;
        let now = OffsetDateTime::now_utc();
        let due = queue::due(&self.conn, &rfc3339(now), ROUND)?;
        if due.is_empty() {
            return Ok(Next::Idle(self.idle_time(now)?));
        }
        for item in due {
            if self.stopping() {
                return Ok(Next::Now);
            }
            if let Some(pause) = self.deliver(item).await? {
                return Ok(Next::Pause(pause));
            }
        }
        Ok(Next::Now)
    }

    /// Sends one referral and records the outcome; returns a pause when the
    /// server had a transient problem (the next referral would meet it too).
    async fn deliver(&mut self, item: queue::Due) -> Result<Option<Duration>> {
        let reference = item.reference.as_str();
        let started = Instant::now();
        let msg = match mime::referral(&self.mail, reference, &item.urgency, &item.ciphertext) {
            Ok(m) => m,
            Err(e) => {
                let err = format!("message: {e:#}");
                tracing::error!(%reference, error = %err, "cannot build the mail");
                queue::mark_failed(
                    &mut self.conn,
                    item.id,
                    reference,
                    &store::now_rfc3339(),
                    &err,
                )?;
                return Ok(None);
            }
        };
        drop(item.ciphertext);
        let result = self.transport.send(msg).await;
        let sent_ms = started.elapsed().as_millis() as u64;
        let now = OffsetDateTime::now_utc();
        let failure = match result {
            Ok(_) => {
                queue::mark_delivered(
                    &mut self.conn,
                    item.id,
                    reference,
                    &rfc3339(now),
                    self.drop_at_delivery,
                )?;
                tracing::info!(%reference, attempt = item.attempts + 1, smtp_ms = sent_ms, total_ms = started.elapsed().as_millis() as u64, "delivered");
                return Ok(None);
            }
            Err(e) => smtp::classify(&e),
        };
        match failure {
            Failure::Permanent(err) => {
                tracing::warn!(%reference, error = %err, "delivery refused: failed, admin will be notified");
                queue::mark_failed(&mut self.conn, item.id, reference, &rfc3339(now), &err)?;
                Ok(None)
            }
            Failure::Transient(err) => {
                let attempt = item.attempts + 1;
                let retry = &self.mail.retry;
                let pause = backoff::delay(retry, attempt, &mut rand::thread_rng());
                let give_up = time::Duration::hours(retry.give_up_hours as i64);
                let since = store::parse_rfc3339(&item.since).unwrap_or(now);
                if now - since >= give_up {
                    let err = format!(
                        "retries exhausted after {} hours: {err}",
                        retry.give_up_hours
                    );
                    tracing::warn!(%reference, attempt, error = %err, "delivery given up: failed, admin will be notified");
                    queue::mark_failed(&mut self.conn, item.id, reference, &rfc3339(now), &err)?;
                } else {
                    let next =
                        now + time::Duration::try_from(pause).unwrap_or(time::Duration::ZERO);
                    tracing::warn!(%reference, attempt, retry_in_s = pause.as_secs(), error = %err, "delivery failed, will retry");
                    queue::mark_retry(&self.conn, item.id, &rfc3339(next), &err)?;
                }
                // The others waiting behind it share the outage: those past
                // the give-up time fail now rather than wait for their turn.
                let cutoff = rfc3339(now - give_up);
                let expired = queue::expire(
                    &mut self.conn,
                    &cutoff,
                    &rfc3339(now),
                    &format!("retries exhausted after {} hours", retry.give_up_hours),
                )?;
                if !expired.is_empty() {
                    tracing::warn!(count = expired.len(), "queued referrals given up");
                }
                Ok(Some(pause))
            }
        }
    }

    /// Until the next scheduled retry, at most `poll_seconds` (another
    /// process may have queued work: `queue retry`).
    fn idle_time(&self, now: OffsetDateTime) -> Result<Duration> {
        let poll = Duration::from_secs(self.mail.retry.poll_seconds);
        let next = queue::next_attempt_at(&self.conn)?
            .and_then(|s| store::parse_rfc3339(&s))
            .map(|t| Duration::try_from(t - now).unwrap_or(Duration::ZERO));
        Ok(next
            .map_or(poll, |n| n.min(poll))
            .max(Duration::from_millis(100)))
    }

    /// Notices about failed referrals to the admin address, with their own
    /// backoff so that a mail outage does not turn into a retry storm.
    async fn notices(&mut self) -> Result<()> {
        if self.notice_pause_until.is_some_and(|t| Instant::now() < t) {
            return Ok(());
        }
        for n in queue::pending_notices(&self.conn)? {
            if self.stopping() {
                break;
            }
            let msg = mime::notice(&self.mail, &n.reference, &n.failed_at, &n.error)?;
            match self.transport.send(msg).await {
                Ok(_) => {
                    queue::mark_notice_sent(&self.conn, &n.reference, &store::now_rfc3339())?;
                    self.notice_failures = 0;
                    tracing::info!(reference = %n.reference, "admin notified of the failed delivery");
                }
                Err(e) => match smtp::classify(&e) {
                    Failure::Permanent(err) => {
                        // Retrying cannot help; `queue list` still shows it.
                        tracing::error!(reference = %n.reference, error = %err, "admin notice refused by the mail server");
                        queue::mark_notice_sent(&self.conn, &n.reference, &store::now_rfc3339())?;
                    }
                    Failure::Transient(err) => {
                        self.notice_failures += 1;
                        let d = backoff::delay(
                            &self.mail.retry,
                            self.notice_failures,
                            &mut rand::thread_rng(),
                        );
                        tracing::warn!(reference = %n.reference, error = %err, retry_in_s = d.as_secs(), "admin notice not sent, will retry");
                        self.notice_pause_until = Some(Instant::now() + d);
                        break;
                    }
                },
            }
        }
        Ok(())
    }
}
