//! Delivery on PostgreSQL: each replica runs a few workers, each on its own
//! thread with its own connections (the sync `postgres` client must not run
//! on a tokio worker thread). A worker takes the oldest due referral with
//! `FOR UPDATE SKIP LOCKED` (`Backend::deliver_next`), keeps it locked
//! while it talks to the mail server, and records the outcome in the same
//! transaction; between rounds it waits on `LISTEN inbox_queued`, which
//! every replica's commit wakes. A replica that dies mid-send releases its
//! row lock with its connection: another worker sends that referral again
//! with the same Message-ID.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use lettre::AsyncTransport;
use time::OffsetDateTime;
use tokio::sync::{oneshot, watch};

use super::smtp::{self, Failure};
use super::{backoff, mime, Handle, Health};
use crate::config::Mail;
use crate::store::backend::{Backend, Sent};
use crate::store::pg::{self, Pg, PgConfig};
use crate::store::{queue::Due, rfc3339};

/// Workers per replica: each holds one referral (and one row lock) at a time.
pub const WORKERS: usize = 2;

/// Longest wait on `LISTEN` before the worker looks again (a retry falls
/// due, `stop` is checked).
const WAIT: Duration = Duration::from_secs(1);

/// Pause after the database refused (a restart, a fail-over).
const STORE_PAUSE: Duration = Duration::from_secs(2);

pub(super) struct Settings {
    pub mail: Mail,
    pub pg: PgConfig,
    pub drop_at_delivery: bool,
    pub addresses: Arc<BTreeMap<String, Mail>>,
    pub health: Arc<Health>,
    pub heartbeat_limit: Duration,
    /// From `[staff]`: the first worker of each replica runs the rounds.
    pub reminders: Option<super::worker::Reminders>,
}

pub(super) fn start(s: Settings) -> Result<Handle> {
    // Fail at start-up, not in the workers, when PostgreSQL is out of reach.
    drop(pg::connect(&s.pg)?);
    let (stop_tx, stop_rx) = watch::channel(false);
    let (done_tx, done_rx) = oneshot::channel();
    let s = Arc::new(s);
    let running = Arc::new(AtomicUsize::new(WORKERS));
    let done = Arc::new(std::sync::Mutex::new(Some(done_tx)));
    for n in 0..WORKERS {
        let (s, stop, running, done) = (s.clone(), stop_rx.clone(), running.clone(), done.clone());
        std::thread::Builder::new()
            .name(format!("deliver-{n}"))
            .spawn(move || {
                // A worker that panics is started again, as on SQLite.
                while !*stop.borrow() {
                    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        run(&s, &stop, n)
                    }));
                    match r {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => {
                            tracing::error!(error = %format!("{e:#}"), worker = n, "delivery worker cannot start");
                            std::thread::sleep(STORE_PAUSE);
                        }
                        Err(_) => {
                            let r = s.health.restarts.fetch_add(1, Ordering::Relaxed) + 1;
                            tracing::error!(restarts = r, worker = n, "delivery worker panicked: restarting it");
                            std::thread::sleep(Duration::from_secs(1));
                        }
                    }
                }
                if running.fetch_sub(1, Ordering::SeqCst) == 1 {
                    if let Some(tx) = done.lock().unwrap_or_else(|e| e.into_inner()).take() {
                        let _ = tx.send(());
                    }
                }
            })
            .context("cannot start a delivery thread")?;
    }
    tracing::info!(host = %s.mail.host, port = s.mail.port(), workers = WORKERS, "delivery workers started (PostgreSQL)");
    Ok(Handle {
        stop: stop_tx,
        done: done_rx,
        health: s.health.clone(),
        heartbeat_limit: s.heartbeat_limit,
    })
}

/// One worker until `stop`; `Err` only when it cannot start.
fn run(s: &Settings, stop: &watch::Receiver<bool>, n: usize) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let transport = rt.block_on(async { smtp::transport(&s.mail) })?;
    let mut backend = Pg::connect(&s.pg)?;
    let mut listener = pg::connect(&s.pg)?;
    pg::listen(&mut listener)?;
    let mut notices = Notices::default();
    let mut reminders = s
        .reminders
        .filter(|_| n == 0)
        .map(super::pg_remind::Round::new);
    let mut key_expiry = (n == 0).then(super::key_expiry::PgRound::new);
    while !*stop.borrow() {
        s.health.beat();
        let now = OffsetDateTime::now_utc();
        let mut pause = None;
        let mut send = |d: &Due| -> Sent {
            let (sent, p) = send_one(s, &rt, &transport, d, now);
            pause = p;
            sent
        };
        match backend.deliver_next(&rfc3339(now), s.drop_at_delivery, &mut send) {
            Ok(Some((reference, sent))) => {
                s.health.store_ok(true);
                if sent == Sent::Delivered {
                    s.health.delivered();
                    tracing::info!(%reference, "delivered");
                }
                if let Some(p) = pause {
                    // The next referral would meet the same outage.
                    sleep_unless_stopped(
                        p.min(Duration::from_secs(s.mail.retry.poll_seconds)),
                        stop,
                    );
                }
            }
            Ok(None) => {
                s.health.store_ok(true);
                if let Err(e) = notices.send(s, &rt, &transport, &mut backend, stop) {
                    tracing::error!(error = %format!("{e:#}"), "admin notices failed");
                }
                if let Some(r) = reminders.as_mut() {
                    if let Err(e) = r.run(s, &rt, &transport, &mut backend, stop) {
                        tracing::error!(error = %format!("{e:#}"), "reminders failed");
                    }
                }
                if let Some(k) = key_expiry.as_mut() {
                    if let Err(e) = k.run(s, &rt, &transport, &mut backend) {
                        tracing::error!(error = %format!("{e:#}"), "staff key expiry check failed");
                    }
                }
                if listener.is_closed() {
                    listener = pg::connect(&s.pg)?;
                    pg::listen(&mut listener)?;
                }
                if let Err(e) = pg::wait_queued(&mut listener, WAIT) {
                    tracing::warn!(error = %format!("{e:#}"), "waiting for new referrals failed");
                    std::thread::sleep(STORE_PAUSE);
                }
            }
            Err(e) => {
                // Nothing recorded: the referral stays queued and goes out again.
                s.health.store_ok(false);
                tracing::error!(error = %format!("{e:#}"), "delivery round failed");
                sleep_unless_stopped(STORE_PAUSE, stop);
            }
        }
    }
    rt.block_on(transport.shutdown());
    Ok(())
}

/// The notices to the admin about failed referrals, with their own
/// backoff after a transient failure (as on SQLite).
#[derive(Default)]
struct Notices {
    failures: u32,
    pause_until: Option<Instant>,
}

impl Notices {
    fn send(
        &mut self,
        s: &Settings,
        rt: &tokio::runtime::Runtime,
        transport: &smtp::Transport,
        backend: &mut Pg,
        stop: &watch::Receiver<bool>,
    ) -> Result<()> {
        if self.pause_until.is_some_and(|t| Instant::now() < t) {
            return Ok(());
        }
        while !*stop.borrow() {
            let mut send = |n: &crate::store::queue::Notice| {
                let to = n
                    .municipality
                    .as_deref()
                    .and_then(|m| s.addresses.get(m))
                    .unwrap_or(&s.mail);
                let msg = match mime::notice(to, &n.reference, &n.failed_at, &n.error) {
                    Ok(m) => m,
                    Err(e) => {
                        tracing::error!(reference = %n.reference, error = %format!("{e:#}"), "cannot build the admin notice");
                        return pg::NoticeSent::Done;
                    }
                };
                match rt.block_on(smtp::send(transport, &s.mail, msg)) {
                    Ok(()) => {
                        tracing::info!(reference = %n.reference, "admin notified of the failed delivery");
                        pg::NoticeSent::Done
                    }
                    Err(Failure::Permanent(err)) => {
                        // Retrying cannot help; `queue list` still shows it.
                        tracing::error!(reference = %n.reference, error = %err, "admin notice refused by the mail server");
                        pg::NoticeSent::Done
                    }
                    Err(Failure::Transient(err)) => {
                        tracing::warn!(reference = %n.reference, error = %err, "admin notice not sent, will retry");
                        pg::NoticeSent::Later
                    }
                }
            };
            match pg::notify_next(backend.client()?, &mut send)? {
                None => return Ok(()),
                Some(pg::NoticeSent::Done) => self.failures = 0,
                Some(pg::NoticeSent::Later) => {
                    self.failures += 1;
                    let d = backoff::delay(&s.mail.retry, self.failures, &mut rand::thread_rng());
                    self.pause_until = Some(Instant::now() + d);
                    return Ok(());
                }
            }
        }
        Ok(())
    }
}

fn sleep_unless_stopped(d: Duration, stop: &watch::Receiver<bool>) {
    let until = Instant::now() + d;
    while Instant::now() < until && !*stop.borrow() {
        std::thread::sleep(Duration::from_millis(100).min(until - Instant::now()));
    }
}

/// Mails one referral; the outcome to record, and a pause after a
/// transient failure.
fn send_one(
    s: &Settings,
    rt: &tokio::runtime::Runtime,
    transport: &smtp::Transport,
    d: &Due,
    now: OffsetDateTime,
) -> (Sent, Option<Duration>) {
    let reference = d.reference.as_str();
    let to = match d.municipality.as_deref() {
        None => &s.mail,
        Some(m) => match s.addresses.get(m) {
            Some(to) => to,
            // Sent by a replica whose configuration has this municipality:
            // never to `[mail].to`, which may be another Comune's staff.
            // Left queued for a replica that has it (or this one, restarted).
            None => {
                let at = now + time::Duration::minutes(5);
                let error = format!("municipality `{m}` is not in this replica's configuration");
                tracing::warn!(%reference, municipality = %m, "not delivered here: {error}");
                return (
                    Sent::Retry {
                        at: rfc3339(at),
                        error,
                    },
                    None,
                );
            }
        },
    };
    let msg = match mime::referral(to, reference, d.urgency, &d.ciphertext) {
        Ok(m) => m,
        Err(e) => {
            let err = format!("message: {e:#}");
            tracing::error!(%reference, error = %err, "cannot build the mail");
            return (Sent::Failed(err), None);
        }
    };
    let started = Instant::now();
    match rt.block_on(smtp::send(transport, &s.mail, msg)) {
        Ok(()) => {
            tracing::debug!(%reference, attempt = d.attempts + 1, smtp_ms = started.elapsed().as_millis() as u64, "accepted by the mail server");
            (Sent::Delivered, None)
        }
        Err(Failure::Permanent(err)) => {
            tracing::warn!(%reference, error = %err, "delivery refused: failed");
            (Sent::Failed(err), None)
        }
        Err(Failure::Transient(err)) => {
            let retry = &s.mail.retry;
            let attempt = d.attempts + 1;
            let give_up = time::Duration::hours(retry.give_up_hours as i64);
            if now - d.since >= give_up {
                let err = format!(
                    "retries exhausted after {} hours: {err}",
                    retry.give_up_hours
                );
                tracing::warn!(%reference, attempt, error = %err, "delivery given up: failed");
                return (Sent::Failed(err), None);
            }
            let pause = backoff::delay(retry, attempt, &mut rand::thread_rng());
            let at = now + time::Duration::try_from(pause).unwrap_or(time::Duration::ZERO);
            tracing::warn!(%reference, attempt, retry_in_s = pause.as_secs(), error = %err, "delivery failed, will retry");
            (
                Sent::Retry {
                    at: rfc3339(at),
                    error: err,
                },
                Some(pause),
            )
        }
    }
}
