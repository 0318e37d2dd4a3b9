//! One delivery worker: the queue in order, one mail at a time.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use lettre::AsyncTransport;
use rusqlite::Connection;
use time::OffsetDateTime;
use tokio::sync::{watch, Notify};

use super::smtp::{self, Failure, Transport};
use super::{backoff, mime, Health};
use crate::config::Mail;
use crate::store::{self, queue, rfc3339};

/// Referrals read per round; the worker re-reads the queue after each round.
const ROUND: u32 = 32;

/// Pause after the store refused a write (disk full, I/O error).
const STORE_PAUSE: Duration = Duration::from_secs(5);

/// A mail the server accepted whose "delivered" could not be committed yet.
/// Kept in memory and committed again, never sent again: on a full disk the
/// old behaviour resent the same mail every few seconds.
#[derive(Debug, Clone)]
struct Accepted {
    id: i64,
    reference: String,
    at: String,
}

/// When reminders go out (from `[staff]`).
#[derive(Debug, Clone, Copy)]
pub(super) struct Reminders {
    pub after: crate::config::RemindAfter,
    pub working_days: bool,
}

impl Reminders {
    /// Whether the next reminder of `p` is due at `now`: `remind_after_hours`
    /// (of working time, if so configured) since delivery or the last one.
    pub(super) fn due(&self, p: &store::remind::Pending, now: OffsetDateTime) -> bool {
        let base = p.last_reminder_at.unwrap_or(p.delivered_at);
        let wait = time::Duration::try_from(self.after.for_urgency(p.urgency))
            .unwrap_or(time::Duration::DAY);
        let due = if self.working_days {
            crate::workdays::add_working_time(base, wait)
        } else {
            base + wait
        };
        now >= due
    }
}

pub(super) struct Worker {
    mail: Mail,
    drop_at_delivery: bool,
    conn: Connection,
    transport: Transport,
    wake: Arc<Notify>,
    stop: watch::Receiver<bool>,
    health: Arc<Health>,
    unrecorded: Vec<Accepted>,
    notice_failures: u32,
    notice_pause_until: Option<Instant>,
    reminders: Option<Reminders>,
    /// When the staff keys' expiry is checked next (at start, then daily).
    key_check_at: Instant,
    /// `mail` with each municipality's addresses, by slug.
    addresses: Arc<std::collections::BTreeMap<String, Mail>>,
    /// `mail` with `to` = its admin: for a municipality no longer configured.
    orphans: Mail,
}

impl Worker {
    // One call site (`deliver::start`); a settings struct would only rename them.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn new(
        mail: Mail,
        db: &Path,
        drop_at_delivery: bool,
        wake: Arc<Notify>,
        stop: watch::Receiver<bool>,
        health: Arc<Health>,
        reminders: Option<Reminders>,
        addresses: Arc<std::collections::BTreeMap<String, Mail>>,
    ) -> Result<Worker> {
        let conn = store::open(db)?;
        let transport = smtp::transport(&mail)?;
        let orphans = Mail {
            to: vec![mail.admin.clone()],
            ..mail.clone()
        };
        Ok(Worker {
            mail,
            drop_at_delivery,
            conn,
            transport,
            wake,
            stop,
            health,
            unrecorded: Vec::new(),
            notice_failures: 0,
            notice_pause_until: None,
            reminders,
            key_check_at: Instant::now(),
            addresses,
            orphans,
        })
    }

    /// The addresses of one municipality's mails. A row of a municipality
    /// no longer configured goes to `[mail]`'s admin only, never to
    /// `[mail].to` (which may be another municipality's staff).
    fn mail_of(&self, municipality: Option<&str>) -> &Mail {
        match municipality {
            Some(m) => self.addresses.get(m).unwrap_or(&self.orphans),
            None => &self.mail,
        }
    }

    pub(super) async fn shutdown(&self) {
        self.transport.shutdown().await;
    }

    fn stopping(&self) -> bool {
        *self.stop.borrow()
    }

    pub(super) async fn run(&mut self) {
        while !self.stopping() {
            self.health.beat();
            let sleep = match self.round().await {
                Ok(Some(d)) => d,
                Ok(None) => continue,
                Err(e) => {
                    // The database (busy, disk full): nothing is lost, try again.
                    self.health.store_ok(false);
                    tracing::error!(error = %format!("{e:#}"), "delivery round failed");
                    STORE_PAUSE
                }
            };
            let wake = self.wake.clone();
            tokio::select! {
                _ = tokio::time::sleep(sleep) => {}
                // A new referral (or `queue retry`, seen at the next poll)
                // is tried at once, even during a backoff: if the server is
                // still down it joins the others' backoff (`queue::defer`).
                _ = wake.notified(), if self.unrecorded.is_empty() => {}
                _ = self.stop.changed() => {}
            }
        }
    }

    /// One pass: outcomes still to record, pending admin notices, then the
    /// due referrals in order. `Some(d)`: sleep up to `d`; `None`: go on.
    async fn round(&mut self) -> Result<Option<Duration>> {
        if !self.record_accepted() {
            // Sending more would only add mails whose outcome cannot be kept.
            return Ok(Some(STORE_PAUSE));
        }
        self.notices().await?;
        self.remind().await?;
        self.key_expiry().await?;
        let now = OffsetDateTime::now_utc();
        let due = queue::due(&self.conn, &rfc3339(now), ROUND)?;
        self.health.store_ok(true);
        if due.is_empty() {
            return Ok(Some(self.idle_time(now)?));
        }
        for item in due {
            if self.stopping() {
                return Ok(None);
            }
            if let Some(pause) = self.deliver(item).await? {
                // Woken at least every poll_seconds: `queue retry` from
                // another process must not wait out an hour of backoff.
                let poll = Duration::from_secs(self.mail.retry.poll_seconds);
                return Ok(Some(pause.min(poll)));
            }
            if !self.unrecorded.is_empty() {
                return Ok(Some(STORE_PAUSE));
            }
        }
        Ok(None)
    }

    /// Commits the "delivered" of mails already accepted; false while the
    /// store still refuses.
    fn record_accepted(&mut self) -> bool {
        while let Some(a) = self.unrecorded.first().cloned() {
            match queue::mark_delivered(
                &mut self.conn,
                a.id,
                &a.reference,
                &a.at,
                self.drop_at_delivery,
            ) {
                Ok(()) => {
                    tracing::info!(reference = %a.reference, "delivery recorded after the store recovered");
                    self.unrecorded.remove(0);
                }
                Err(e) => {
                    self.health.store_ok(false);
                    tracing::error!(reference = %a.reference, error = %format!("{e:#}"),
                        "mail accepted by the server but not recorded: not resending it, retrying the commit");
                    return false;
                }
            }
        }
        true
    }

    /// Sends one referral and records the outcome; returns a pause when the
    /// server had a transient problem (the next referral would meet it too).
    async fn deliver(&mut self, item: queue::Due) -> Result<Option<Duration>> {
        let reference = item.reference.as_str();
        let started = Instant::now();
        let to = self.mail_of(item.municipality.as_deref());
        let msg = match mime::referral(to, reference, item.urgency, &item.ciphertext) {
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
        let result = smtp::send(&self.transport, &self.mail, msg).await;
        let sent_ms = started.elapsed().as_millis() as u64;
        let now = OffsetDateTime::now_utc();
        let failure = match result {
            Ok(()) => {
                self.health.delivered();
                tracing::info!(%reference, attempt = item.attempts + 1, smtp_ms = sent_ms, "delivered");
                self.unrecorded.push(Accepted {
                    id: item.id,
                    reference: item.reference.clone(),
                    at: rfc3339(now),
                });
                self.record_accepted();
                return Ok(None);
            }
            Err(f) => f,
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
                let since = item.since;
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
                    // The others waiting share the outage: they wait as long.
                    queue::defer(&self.conn, &rfc3339(next))?;
                }
                // Those past the give-up time fail now rather than wait for their turn.
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
            .map(|t| Duration::try_from(t - now).unwrap_or(Duration::ZERO));
        Ok(next
            .map_or(poll, |n| n.min(poll))
            .max(Duration::from_millis(100)))
    }

    /// Reminders to the staff for referrals nobody took in charge within
    /// `remind_after_hours` (of working time) since delivery or the last
    /// reminder; with the second, a notice to the admin. Shares the admin
    /// notices' pause after a transient failure.
    async fn remind(&mut self) -> Result<()> {
        let Some(cfg) = self.reminders else {
            return Ok(());
        };
        if self.notice_pause_until.is_some_and(|t| Instant::now() < t) {
            return Ok(());
        }
        let now = OffsetDateTime::now_utc();
        for p in store::remind::pending(&self.conn)? {
            if self.stopping() {
                break;
            }
            let reference = p.reference.as_str();
            if p.reminders_sent < 2 {
                if !cfg.due(&p, now) {
                    continue;
                }
                let n = p.reminders_sent + 1;
                let to = self.mail_of(p.municipality.as_deref());
                let msg = mime::reminder(to, reference, n, &p.ciphertext)?;
                match smtp::send(&self.transport, &self.mail, msg).await {
                    Ok(()) => tracing::info!(%reference, n, "reminder sent to the staff"),
                    Err(Failure::Permanent(err)) => {
                        tracing::error!(%reference, error = %err, "reminder refused by the mail server")
                    }
                    Err(Failure::Transient(err)) => {
                        self.pause_notices(&err);
                        return Ok(());
                    }
                }
                store::remind::mark_reminded(&mut self.conn, p.id, reference, &rfc3339(now))?;
                if n < 2 {
                    continue;
                }
            } else if p.escalated {
                continue;
            }
            let to = self.mail_of(p.municipality.as_deref());
            let msg = mime::escalation(to, reference, &store::rfc3339(p.delivered_at))?;
            match smtp::send(&self.transport, &self.mail, msg).await {
                Ok(()) => {
                    tracing::warn!(%reference, "not taken in charge after two reminders: admin notified")
                }
                Err(Failure::Permanent(err)) => {
                    tracing::error!(%reference, error = %err, "escalation refused by the mail server")
                }
                Err(Failure::Transient(err)) => {
                    self.pause_notices(&err);
                    return Ok(());
                }
            }
            store::remind::mark_escalated(&mut self.conn, p.id, reference, &rfc3339(now))?;
        }
        Ok(())
    }

    /// A mail to the admin for each staff key whose last encryption subkey
    /// expires within 30 days; at start, then once a day.
    async fn key_expiry(&mut self) -> Result<()> {
        if Instant::now() < self.key_check_at {
            return Ok(());
        }
        self.key_check_at = Instant::now() + Duration::from_secs(86_400);
        let now = OffsetDateTime::now_utc();
        let today = now.date().to_string();
        for k in super::key_expiry::expiring(store::staff(&self.conn)?, now) {
            let to = self.mail_of(k.municipality.as_deref());
            let msg = mime::key_expiry(to, &k.fingerprint, &k.expires, &today)?;
            match smtp::send(&self.transport, &self.mail, msg).await {
                Ok(()) => {
                    tracing::warn!(fingerprint = %k.fingerprint, expires = %k.expires, "staff key expires soon: admin notified")
                }
                Err(Failure::Permanent(err)) | Err(Failure::Transient(err)) => {
                    // Tried again in an hour rather than tomorrow.
                    self.key_check_at = Instant::now() + Duration::from_secs(3600);
                    tracing::warn!(error = %err, "staff key expiry notice not sent");
                }
            }
        }
        Ok(())
    }

    fn pause_notices(&mut self, err: &str) {
        self.notice_failures += 1;
        let d = backoff::delay(
            &self.mail.retry,
            self.notice_failures,
            &mut rand::thread_rng(),
        );
        tracing::warn!(error = %err, retry_in_s = d.as_secs(), "reminder or notice not sent, will retry");
        self.notice_pause_until = Some(Instant::now() + d);
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
            let to = self.mail_of(n.municipality.as_deref());
            let msg = mime::notice(to, &n.reference, &n.failed_at, &n.error)?;
            match smtp::send(&self.transport, &self.mail, msg).await {
                Ok(()) => {
                    queue::mark_notice_sent(&self.conn, &n.reference, &store::now_rfc3339())?;
                    self.notice_failures = 0;
                    tracing::info!(reference = %n.reference, "admin notified of the failed delivery");
                }
                Err(Failure::Permanent(err)) => {
                    // Retrying cannot help; `queue list` still shows it.
                    tracing::error!(reference = %n.reference, error = %err, "admin notice refused by the mail server");
                    queue::mark_notice_sent(&self.conn, &n.reference, &store::now_rfc3339())?;
                }
                Err(Failure::Transient(err)) => {
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
            }
        }
        Ok(())
    }
}
