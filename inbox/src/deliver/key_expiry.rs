//! The admin's notice of a staff key whose last encryption subkey expires
//! within 30 days: which keys are due ([`expiring`], for both stores), and
//! on PostgreSQL the round that sends it ([`PgRound`]). There the first
//! worker of each replica looks every hour under the advisory lock
//! `Job::KeyExpiry`, and the audit log remembers each notice sent
//! (`staff.key_expiry` with the key's fingerprint), so the admin gets one
//! notice a day per key whichever replicas run.

use std::time::{Duration, Instant};

use anyhow::Result;
use time::OffsetDateTime;

use super::replica::Settings;
use super::smtp::{self, Failure};
use crate::store::pg::{self, Job, Pg};
use crate::store::Staff;

/// How far ahead an expiry is announced.
const AHEAD: i64 = 30 * 86_400;

/// A staff key due a notice.
pub(super) struct Expiring {
    pub fingerprint: String,
    /// `YYYY-MM-DD`.
    pub expires: String,
    pub municipality: Option<String>,
}

/// The keys of `staff` whose encryption expires within 30 days of `now`.
pub(super) fn expiring(staff: Vec<Staff>, now: OffsetDateTime) -> Vec<Expiring> {
    let now_s = now.unix_timestamp();
    staff
        .into_iter()
        .filter_map(|s| {
            let key = crate::seal::StaffKey::parse(s.public_key.as_bytes()).ok()?;
            let t = key.expires_at(now_s)?;
            (t - now_s <= AHEAD).then(|| Expiring {
                fingerprint: key.fingerprint,
                expires: OffsetDateTime::from_unix_timestamp(t)
                    .map(|d| d.date().to_string())
                    .unwrap_or_default(),
                municipality: s.municipality,
            })
        })
        .collect()
}

/// How often a replica looks on PostgreSQL (a failed send is tried again
/// at the next look).
const EVERY: Duration = Duration::from_secs(3600);

pub(super) struct PgRound {
    next_at: Instant,
}

impl PgRound {
    pub(super) fn new() -> PgRound {
        PgRound {
            next_at: Instant::now(),
        }
    }

    pub(super) fn run(
        &mut self,
        s: &Settings,
        rt: &tokio::runtime::Runtime,
        transport: &smtp::Transport,
        backend: &mut Pg,
    ) -> Result<()> {
        if Instant::now() < self.next_at {
            return Ok(());
        }
        self.next_at = Instant::now() + EVERY;
        let now = OffsetDateTime::now_utc();
        let today = now.date().to_string();
        let round = pg::exclusive(backend.client()?, Job::KeyExpiry, |c| {
            for k in expiring(pg::staff(c)?, now) {
                let noticed: bool = c
                    .query_one(
                        "SELECT EXISTS (SELECT 1 FROM audit WHERE action = 'staff.key_expiry'
                           AND reference = $1 AND at LIKE $2)",
                        &[&k.fingerprint, &format!("{today}%")],
                    )?
                    .get(0);
                if noticed {
                    continue;
                }
                let to = super::pg_remind::mail_of(s, k.municipality.as_deref());
                let msg = super::mime::key_expiry(&to, &k.fingerprint, &k.expires, &today)?;
                match rt.block_on(smtp::send(transport, &s.mail, msg)) {
                    Ok(()) => {
                        pg::audit(c, "deliver", "staff.key_expiry", Some(&k.fingerprint))?;
                        tracing::warn!(fingerprint = %k.fingerprint, expires = %k.expires,
                            "staff key expires soon: admin notified");
                    }
                    Err(Failure::Permanent(err)) | Err(Failure::Transient(err)) => {
                        tracing::warn!(error = %err, "staff key expiry notice not sent");
                    }
                }
            }
            Ok(())
        })?;
        if round.is_none() {
            tracing::debug!("key expiry: another replica is looking");
        }
        Ok(())
    }
}
