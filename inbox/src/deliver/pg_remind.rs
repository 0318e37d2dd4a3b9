//! Reminders to the staff on PostgreSQL: the same rules as the SQLite
//! worker's (`Worker::remind`), in rounds that only one replica runs at a
//! time (advisory lock `Job::Reminders`; the others skip the round). The
//! round reads what is due while it holds the lock and marks each mail
//! sent before it lets go, so the next round, on any replica, no longer
//! finds it due: each reminder goes out once. A replica that dies between
//! the mail server's 250 and the mark releases the lock with its
//! connection; that one reminder goes out again, with the same Message-ID.

use std::time::{Duration, Instant};

use anyhow::Result;
use time::OffsetDateTime;
use tokio::sync::watch;

use super::replica::Settings;
use super::smtp::{self, Failure};
use super::worker::Reminders;
use super::{backoff, mime};
use crate::config::Mail;
use crate::store::pg::{self, Job, Pg};
use crate::store::rfc3339;

/// How often a replica looks for due reminders.
const EVERY: Duration = Duration::from_secs(1);

pub(super) struct Round {
    cfg: Reminders,
    next_at: Instant,
    failures: u32,
    pause_until: Option<Instant>,
}

/// What one round did, for the pause after a transient failure.
enum Outcome {
    Done,
    Later(String),
}

impl Round {
    pub(super) fn new(cfg: Reminders) -> Round {
        Round {
            cfg,
            next_at: Instant::now(),
            failures: 0,
            pause_until: None,
        }
    }

    /// One round if it is time (and no pause after a transient failure).
    pub(super) fn run(
        &mut self,
        s: &Settings,
        rt: &tokio::runtime::Runtime,
        transport: &smtp::Transport,
        backend: &mut Pg,
        stop: &watch::Receiver<bool>,
    ) -> Result<()> {
        let now = Instant::now();
        if now < self.next_at || self.pause_until.is_some_and(|t| now < t) {
            return Ok(());
        }
        self.next_at = now + EVERY;
        let cfg = self.cfg;
        let round = pg::exclusive(backend.client()?, Job::Reminders, |c| {
            send_due(&cfg, s, rt, transport, c, stop)
        })?;
        match round {
            None => tracing::debug!("reminders: another replica is running the round"),
            Some(Outcome::Done) => self.failures = 0,
            Some(Outcome::Later(err)) => {
                self.failures += 1;
                let d = backoff::delay(&s.mail.retry, self.failures, &mut rand::thread_rng());
                tracing::warn!(error = %err, retry_in_s = d.as_secs(), "reminder or notice not sent, will retry");
                self.pause_until = Some(Instant::now() + d);
            }
        }
        Ok(())
    }
}

/// The addresses of a municipality's reminders: a municipality no longer
/// configured gets `[mail]`'s admin only (as on SQLite).
pub(super) fn mail_of(s: &Settings, municipality: Option<&str>) -> Mail {
    match municipality {
        None => s.mail.clone(),
        Some(m) => s.addresses.get(m).cloned().unwrap_or_else(|| Mail {
            to: vec![s.mail.admin.clone()],
            ..s.mail.clone()
        }),
    }
}

/// Sends what is due, marking each mail as it goes (the lock is held).
fn send_due(
    cfg: &Reminders,
    s: &Settings,
    rt: &tokio::runtime::Runtime,
    transport: &smtp::Transport,
    client: &mut postgres::Client,
    stop: &watch::Receiver<bool>,
) -> Result<Outcome> {
    let now = OffsetDateTime::now_utc();
    for p in pg::remind::pending(client)? {
        if *stop.borrow() {
            break;
        }
        let reference = p.reference.as_str();
        let to = mail_of(s, p.municipality.as_deref());
        if p.reminders_sent < 2 {
            if !cfg.due(&p, now) {
                continue;
            }
            let n = p.reminders_sent + 1;
            let msg = mime::reminder(&to, reference, n, &p.ciphertext)?;
            match rt.block_on(smtp::send(transport, &s.mail, msg)) {
                Ok(()) => tracing::info!(%reference, n, "reminder sent to the staff"),
                Err(Failure::Permanent(err)) => {
                    tracing::error!(%reference, error = %err, "reminder refused by the mail server")
                }
                Err(Failure::Transient(err)) => return Ok(Outcome::Later(err)),
            }
            pg::remind::mark_reminded(client, p.id, reference, &rfc3339(now))?;
            if n < 2 {
                continue;
            }
        } else if p.escalated {
            continue;
        }
        let msg = mime::escalation(&to, reference, &rfc3339(p.delivered_at))?;
        match rt.block_on(smtp::send(transport, &s.mail, msg)) {
            Ok(()) => {
                tracing::warn!(%reference, "not taken in charge after two reminders: admin notified")
            }
            Err(Failure::Permanent(err)) => {
                tracing::error!(%reference, error = %err, "escalation refused by the mail server")
            }
            Err(Failure::Transient(err)) => return Ok(Outcome::Later(err)),
        }
        pg::remind::mark_escalated(client, p.id, reference, &rfc3339(now))?;
    }
    Ok(Outcome::Done)
}
