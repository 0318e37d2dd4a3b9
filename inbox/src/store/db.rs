//! The configured store as one value for `serve`'s reads and the admin
//! commands: the SQLite file of the data directory, or a connection to the
//! shared PostgreSQL database. Every part of the inbox runs on both.

use anyhow::{bail, Result};
use rusqlite::Connection;
use time::Date;

use super::contacts::{self, Contact, ContactError};
use super::pg::{self, Pg};
use super::{Operator, ReferralSummary, Role, Staff};
use crate::config::{Config, StoreKind};
use crate::contact::NewContact;
use crate::municipality::{Municipality, IMPLICIT_MUNICIPALITY};

pub enum Db {
    Sqlite(Connection),
    Pg(Box<Pg>),
}

/// Runs a blocking store call from anywhere: the sync `postgres` client
/// starts a runtime of its own and panics inside a tokio worker thread,
/// so there it runs under `block_in_place` (or on a scoped thread in a
/// single-threaded runtime). Outside any runtime it runs directly.
pub fn blocking<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Err(_) => f(),
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        Ok(_) => std::thread::scope(|s| s.spawn(f).join()).unwrap_or_else(|p| {
            std::panic::resume_unwind(p);
        }),
    }
}

impl Db {
    /// Opens the store `[store]` names; PostgreSQL's schema is created or
    /// migrated here (once, whichever replica comes first).
    pub fn open(cfg: &Config) -> Result<Db> {
        match &cfg.store_kind {
            StoreKind::Sqlite => Ok(Db::Sqlite(super::open(&cfg.database())?)),
            StoreKind::Postgres(p) => {
                let mut db = Pg::connect(p)?;
                pg::migrate(db.client()?)?;
                Ok(Db::Pg(Box::new(db)))
            }
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Db::Pg(_))
    }

    /// The SQLite connection, for what runs only on SQLite yet.
    pub fn sqlite(&self, what: &str) -> Result<&Connection> {
        match self {
            Db::Sqlite(c) => Ok(c),
            Db::Pg(_) => {
                bail!("{what} does not run on PostgreSQL yet ([store] kind = \"postgres\")")
            }
        }
    }

    /// A connection for the readers written against SQLite (`stats`,
    /// `report`): the file itself, or an in-memory copy of PostgreSQL's
    /// metadata (`pg::snapshot`).
    pub fn metadata(self) -> Result<Connection> {
        match self {
            Db::Sqlite(c) => Ok(c),
            Db::Pg(mut p) => blocking(|| pg::snapshot(Self::pg(&mut p)?)),
        }
    }

    fn pg(p: &mut Pg) -> Result<&mut postgres::Client> {
        p.client()
    }

    pub fn operator_by_cert(&mut self, sha256: &str) -> Result<Option<Operator>> {
        match self {
            Db::Sqlite(c) => super::operator_by_cert(c, sha256),
            Db::Pg(p) => blocking(|| pg::operator_by_cert(Self::pg(p)?, sha256)),
        }
    }

    pub fn referral_of(
        &mut self,
        operator: i64,
        reference: &str,
    ) -> Result<Option<ReferralSummary>> {
        match self {
            Db::Sqlite(c) => super::referral_of(c, operator, reference),
            Db::Pg(p) => blocking(|| pg::referral_of(Self::pg(p)?, operator, reference)),
        }
    }

    pub fn referrals_of(&mut self, op: &Operator, limit: u32) -> Result<Vec<ReferralSummary>> {
        match self {
            Db::Sqlite(c) => super::referrals_of(c, op, limit),
            Db::Pg(p) => blocking(|| pg::referrals_of(Self::pg(p)?, op, limit)),
        }
    }

    pub fn reference_for_key(
        &mut self,
        operator: i64,
        key: &str,
    ) -> Result<Option<(String, Option<String>)>> {
        match self {
            Db::Sqlite(c) => super::reference_for_key(c, operator, key),
            Db::Pg(p) => blocking(|| pg::reference_for_key(Self::pg(p)?, operator, key)),
        }
    }

    /// The next sequence number of `year`: on PostgreSQL from the shared
    /// counter (its own short transaction). SQLite counts in memory in
    /// `serve` and only asks for the highest stored one.
    pub fn next_sequence_pg(&mut self, year: i32) -> Result<Option<u64>> {
        use super::backend::Backend;
        match self {
            Db::Sqlite(_) => Ok(None),
            Db::Pg(p) => blocking(|| p.next_sequence(year).map(Some)),
        }
    }

    /// The referral a staff link's token hash opens (`store::care::by_token`).
    pub fn care_by_token(&mut self, hash: &str) -> Result<Option<super::care::Referral>> {
        match self {
            Db::Sqlite(c) => super::care::by_token(c, hash),
            Db::Pg(p) => blocking(|| pg::care::by_token(Self::pg(p)?, hash)),
        }
    }

    pub fn care_events(&mut self, referral_id: i64) -> Result<Vec<super::care::Event>> {
        match self {
            Db::Sqlite(c) => super::care::events(c, referral_id),
            Db::Pg(p) => blocking(|| pg::care::events(Self::pg(p)?, referral_id)),
        }
    }

    /// A state change by the staff, or the conflict with the current state
    /// (on PostgreSQL also across replicas: the referral's row is locked).
    pub fn care_record(
        &mut self,
        referral: &super::care::Referral,
        change: &crate::care::Change,
    ) -> Result<super::care::Recorded> {
        match self {
            Db::Sqlite(c) => super::care::record(c, referral, change),
            Db::Pg(p) => blocking(|| pg::care::record(Self::pg(p)?, referral, change)),
        }
    }

    pub fn staff(&mut self) -> Result<Vec<Staff>> {
        match self {
            Db::Sqlite(c) => super::staff(c),
            Db::Pg(p) => blocking(|| pg::staff(Self::pg(p)?)),
        }
    }

    /// Referrals still to deliver, by municipality slug (`''`: none).
    pub fn queued_by_municipality(&mut self) -> Result<Vec<(String, i64)>> {
        match self {
            Db::Sqlite(c) => super::queued_by_municipality(c),
            Db::Pg(p) => blocking(|| pg::queued_by_municipality(Self::pg(p)?)),
        }
    }

    pub fn operators(&mut self) -> Result<Vec<Operator>> {
        match self {
            Db::Sqlite(c) => super::operators(c),
            Db::Pg(p) => blocking(|| pg::operators(Self::pg(p)?)),
        }
    }

    pub fn operator(&mut self, id: i64) -> Result<Option<Operator>> {
        match self {
            Db::Sqlite(c) => super::operator(c, id),
            Db::Pg(p) => blocking(|| pg::operator_by_id(Self::pg(p)?, id)),
        }
    }

    pub fn set_role(&mut self, id: i64, role: Role) -> Result<bool> {
        match self {
            Db::Sqlite(c) => super::set_role(c, id, role),
            Db::Pg(p) => blocking(|| pg::set_role(Self::pg(p)?, id, role)),
        }
    }

    pub fn revoke_operator(&mut self, id: i64) -> Result<bool> {
        match self {
            Db::Sqlite(c) => super::revoke_operator(c, id),
            Db::Pg(p) => blocking(|| pg::revoke_operator(Self::pg(p)?, id)),
        }
    }

    pub fn revoked_serials(&mut self) -> Result<Vec<(String, time::OffsetDateTime)>> {
        match self {
            Db::Sqlite(c) => super::revoked_serials(c),
            Db::Pg(p) => blocking(|| pg::revoked_serials(Self::pg(p)?)),
        }
    }

    pub fn insert_staff(
        &mut self,
        name: &str,
        fingerprint: &str,
        key: &str,
        municipality: &str,
    ) -> Result<i64> {
        match self {
            Db::Sqlite(c) => super::insert_staff(c, name, fingerprint, key, municipality),
            Db::Pg(p) => {
                blocking(|| pg::insert_staff(Self::pg(p)?, name, fingerprint, key, municipality))
            }
        }
    }

    pub fn remove_staff(&mut self, id: i64) -> Result<bool> {
        match self {
            Db::Sqlite(c) => super::remove_staff(c, id),
            Db::Pg(p) => blocking(|| pg::remove_staff(Self::pg(p)?, id)),
        }
    }

    pub fn audit(&mut self, actor: &str, action: &str, reference: Option<&str>) -> Result<()> {
        match self {
            Db::Sqlite(c) => super::audit(c, actor, action, reference),
            Db::Pg(p) => blocking(|| pg::audit(Self::pg(p)?, actor, action, reference)),
        }
    }

    pub fn probe_write(&mut self) -> Result<()> {
        match self {
            Db::Sqlite(c) => super::probe_write(c),
            Db::Pg(p) => blocking(|| pg::probe_write(Self::pg(p)?)),
        }
    }

    pub fn oldest_queued(&mut self) -> Result<Option<String>> {
        match self {
            Db::Sqlite(c) => super::queue::oldest_queued(c),
            Db::Pg(p) => blocking(|| pg::oldest_queued(Self::pg(p)?)),
        }
    }

    /// `municipality::adopt_earlier_rows` on either store.
    pub fn adopt_earlier_rows(&mut self, all: &[Municipality]) -> Result<()> {
        match self {
            Db::Sqlite(c) => crate::municipality::adopt_earlier_rows(c, all),
            Db::Pg(p) => blocking(|| {
                let c = Self::pg(p)?;
                pg::adopt_unassigned(c, &all[0].slug)?;
                if !all.iter().any(|m| m.slug == IMPLICIT_MUNICIPALITY) {
                    let mut tx = c.transaction()?;
                    for table in ["referrals", "staff"] {
                        tx.execute(
                            &format!(
                                "UPDATE {table} SET municipality = $2 WHERE municipality = $1"
                            ),
                            &[&IMPLICIT_MUNICIPALITY, &all[0].slug],
                        )?;
                    }
                    tx.commit()?;
                }
                Ok(())
            }),
        }
    }
}

/// `serve`'s read connections: one on SQLite (WAL readers are cheap, and
/// the behaviour stays as it was), a few on PostgreSQL, where each call is
/// a round trip and the request would otherwise queue behind the others.
pub struct Readers {
    dbs: Vec<std::sync::Mutex<Db>>,
    next: std::sync::atomic::AtomicUsize,
}

impl Readers {
    pub fn new(dbs: Vec<Db>) -> Readers {
        assert!(!dbs.is_empty(), "at least one read connection");
        Readers {
            dbs: dbs.into_iter().map(std::sync::Mutex::new).collect(),
            next: Default::default(),
        }
    }

    /// A free connection if there is one, else waits for one in turn.
    pub fn lock(&self) -> std::sync::LockResult<std::sync::MutexGuard<'_, Db>> {
        use std::sync::TryLockError;
        for m in &self.dbs {
            match m.try_lock() {
                Ok(g) => return Ok(g),
                Err(TryLockError::Poisoned(p)) => return Err(p),
                Err(TryLockError::WouldBlock) => {}
            }
        }
        let i = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % self.dbs.len();
        self.dbs[i].lock()
    }
}

/// The register of contacts (`store::contacts`, `pg::contacts`) and the
/// statistics' reads.
impl Db {
    fn pg_register(p: &mut Pg) -> Result<&mut postgres::Client, ContactError> {
        p.client().map_err(ContactError::Store)
    }

    pub fn insert_contact(
        &mut self,
        operator_id: i64,
        c: &NewContact,
    ) -> Result<i64, ContactError> {
        match self {
            Db::Sqlite(conn) => {
                contacts::immediate(conn, |t| contacts::insert_contact(t, operator_id, c))
            }
            Db::Pg(p) => {
                blocking(|| pg::contacts::insert_contact(Self::pg_register(p)?, operator_id, c))
            }
        }
    }

    pub fn update_contact(
        &mut self,
        operator_id: i64,
        id: i64,
        c: &NewContact,
        today: Date,
    ) -> Result<bool, ContactError> {
        match self {
            Db::Sqlite(conn) => contacts::immediate(conn, |t| {
                contacts::update_contact(t, operator_id, id, c, today)
            }),
            Db::Pg(p) => blocking(|| {
                pg::contacts::update_contact(Self::pg_register(p)?, operator_id, id, c, today)
            }),
        }
    }

    pub fn delete_contact(
        &mut self,
        operator_id: i64,
        id: i64,
        today: Date,
    ) -> Result<bool, ContactError> {
        match self {
            Db::Sqlite(conn) => contacts::immediate(conn, |t| {
                contacts::delete_contact(t, operator_id, id, today)
            }),
            Db::Pg(p) => blocking(|| {
                pg::contacts::delete_contact(Self::pg_register(p)?, operator_id, id, today)
            }),
        }
    }

    pub fn contacts_of_day(
        &mut self,
        operator_id: i64,
        day: Date,
    ) -> Result<Vec<Contact>, ContactError> {
        match self {
            Db::Sqlite(conn) => contacts::contacts_of_day(conn, operator_id, day),
            Db::Pg(p) => {
                blocking(|| pg::contacts::contacts_of_day(Self::pg_register(p)?, operator_id, day))
            }
        }
    }

    /// Runs a reader written against SQLite (the report, the statistics)
    /// on the file itself, or on a fresh in-memory copy of PostgreSQL's
    /// metadata (`pg::snapshot`, one consistent snapshot per call).
    pub fn with_metadata<T>(&mut self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        match self {
            Db::Sqlite(conn) => f(conn),
            Db::Pg(p) => {
                let copy = blocking(|| pg::snapshot(Self::pg(p)?))?;
                f(&copy)
            }
        }
    }
}
