//! Delivery: a worker thread takes committed referrals from the queue and
//! mails them to the staff as PGP/MIME. A referral is marked delivered only
//! after the server's 250, and the worker sends one mail at a time, so a
//! crash between the 250 and the commit resends at most that one mail
//! (with the same Message-ID).
//!
//! The worker is supervised: a panic is logged, counted in [`Health`] and
//! the worker started again; every SMTP exchange has a deadline, so a
//! silent mail server cannot hold it.

pub mod backoff;
mod key_expiry;
pub mod mime;
mod pg_remind;
mod replica;
pub mod smtp;
mod worker;

use std::future::Future;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::sync::{oneshot, watch, Notify};

use crate::config::Config;
use crate::store;

/// What `/healthz` needs to know about delivery; shared with the worker.
#[derive(Debug, Default)]
pub struct Health {
    /// Unix time of the worker's last pass through its loop.
    heartbeat: AtomicI64,
    /// Unix time of the last mail the server accepted (0: none yet).
    last_delivery: AtomicI64,
    /// Unix time the worker started (the stall clock never starts earlier).
    started: AtomicI64,
    /// Worker restarts after a panic.
    restarts: AtomicU64,
    /// Set while the worker cannot record outcomes in the store.
    store_failing: std::sync::atomic::AtomicBool,
}

impl Health {
    fn now() -> i64 {
        time::OffsetDateTime::now_utc().unix_timestamp()
    }
    fn beat(&self) {
        self.heartbeat.store(Self::now(), Ordering::Relaxed);
    }
    fn delivered(&self) {
        self.last_delivery.store(Self::now(), Ordering::Relaxed);
    }
    fn store_ok(&self, ok: bool) {
        self.store_failing.store(!ok, Ordering::Relaxed);
    }
    pub fn restarts(&self) -> u64 {
        self.restarts.load(Ordering::Relaxed)
    }
    pub fn store_failing(&self) -> bool {
        self.store_failing.load(Ordering::Relaxed)
    }
    /// Seconds since the worker last went round its loop.
    pub fn heartbeat_age(&self, now: i64) -> i64 {
        now - self.heartbeat.load(Ordering::Relaxed)
    }
    /// Seconds since the last accepted mail, or since the worker started.
    pub fn progress_age(&self, now: i64) -> i64 {
        let last = self
            .last_delivery
            .load(Ordering::Relaxed)
            .max(self.started.load(Ordering::Relaxed));
        now - last
    }
}

/// The running worker; `stop` lets the current send finish.
pub struct Handle {
    stop: watch::Sender<bool>,
    done: oneshot::Receiver<()>,
    pub health: Arc<Health>,
    /// The longest a healthy worker may go without a heartbeat.
    pub heartbeat_limit: Duration,
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
    let drop_at_delivery = cfg.retention.retention_days == 0;
    let reminders = cfg.staff.as_ref().map(|s| worker::Reminders {
        after: s.remind_after_hours,
        working_days: s.count_working_days,
    });
    // Each municipality's addresses: its referrals, reminders and notices.
    let addresses: Arc<std::collections::BTreeMap<String, crate::config::Mail>> = Arc::new(
        cfg.municipalities()
            .iter()
            .filter_map(|m| Some((m.slug.clone(), cfg.mail_for(&m.slug)?)))
            .collect(),
    );
    let health = Arc::new(Health::default());
    health.started.store(Health::now(), Ordering::Relaxed);
    health.beat();
    let heartbeat_limit = Duration::from_secs(mail.retry.poll_seconds)
        + smtp::attempt_deadline(&mail) * 2
        + Duration::from_secs(30);
    if let crate::config::StoreKind::Postgres(pg) = &cfg.store_kind {
        return replica::start(replica::Settings {
            mail,
            pg: pg.clone(),
            drop_at_delivery,
            addresses,
            health,
            heartbeat_limit,
            reminders,
        })
        .map(Some);
    }
    let db = cfg.database();
    // Fail at start-up, not in the worker, when the database cannot be opened.
    drop(store::open(&db)?);
    let (stop_tx, stop_rx) = watch::channel(false);
    let (done_tx, done_rx) = oneshot::channel();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<()>>();
    let h = health.clone();
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
            // The pooled transport must be made inside the runtime it uses.
            if let Err(e) = rt.block_on(async { smtp::transport(&mail).map(drop) }) {
                let _ = ready_tx.send(Err(e));
                return;
            }
            let _ = ready_tx.send(Ok(()));
            tracing::info!(host = %mail.host, port = mail.port(), security = ?mail.security, "delivery worker started");
            let local = tokio::task::LocalSet::new();
            let stop = stop_rx.clone();
            local.block_on(&rt, async move {
                let make = || {
                    let mail = mail.clone();
                    let db = db.clone();
                    let wake = wake.clone();
                    let stop = stop_rx.clone();
                    let health = h.clone();
                    let addresses = addresses.clone();
                    async move {
                        let mut w = match worker::Worker::new(
                            mail,
                            &db,
                            drop_at_delivery,
                            wake,
                            stop,
                            health,
                            reminders,
                            addresses,
                        ) {
                            Ok(w) => w,
                            Err(e) => {
                                tracing::error!(error = %format!("{e:#}"), "delivery worker cannot start");
                                tokio::time::sleep(Duration::from_secs(5)).await;
                                return;
                            }
                        };
                        w.run().await;
                        w.shutdown().await;
                    }
                };
                supervise(&h, stop, make).await;
            });
            let _ = done_tx.send(());
        })
        .context("cannot start the delivery thread")?;
    ready_rx.recv().context("the delivery thread stopped")??;
    Ok(Some(Handle {
        stop: stop_tx,
        done: done_rx,
        health,
        heartbeat_limit,
    }))
}

/// Runs the worker made by `make` until `stop`; a worker that panics is
/// logged, counted and made again (after a short pause, so a panic at
/// start-up does not spin). Must run inside a `LocalSet`.
async fn supervise<F, Fut>(health: &Health, stop: watch::Receiver<bool>, make: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()> + 'static,
{
    while !*stop.borrow() {
        match tokio::task::spawn_local(make()).await {
            Ok(()) => {}
            Err(e) if e.is_panic() => {
                let n = health.restarts.fetch_add(1, Ordering::Relaxed) + 1;
                tracing::error!(restarts = n, "delivery worker panicked: restarting it");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(e) => tracing::error!(error = %e, "delivery worker ended"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    #[test]
    fn a_panicking_worker_is_restarted_and_counted() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let health = Health::default();
        let (stop_tx, stop_rx) = watch::channel(false);
        let runs = Arc::new(AtomicU32::new(0));
        let stop_tx = Arc::new(stop_tx);
        let local = tokio::task::LocalSet::new();
        local.block_on(&rt, async {
            let r = runs.clone();
            let s = stop_tx.clone();
            supervise(&health, stop_rx, move || {
                let r = r.clone();
                let s = s.clone();
                async move {
                    // The first two runs panic; the third stops the supervisor.
                    if r.fetch_add(1, Ordering::SeqCst) < 2 {
                        panic!("simulated worker bug");
                    }
                    let _ = s.send(true);
                }
            })
            .await;
        });
        assert_eq!(runs.load(Ordering::SeqCst), 3);
        assert_eq!(health.restarts(), 2);
    }
}
