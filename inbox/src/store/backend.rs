//! The store operations that differ between one SQLite server and several
//! replicas on PostgreSQL: the group commit, the reference counter, taking a
//! referral for delivery and the jobs only one server may run. The writer
//! thread and the tests call this one interface.

use anyhow::Result;
use rusqlite::Connection;

use super::queue::Due;
use super::{Accepted, NewReferral};
use crate::store::pg::Job;

/// What a delivery attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    Delivered,
    /// Transient failure: try again at this RFC 3339 time.
    Retry {
        at: String,
        error: String,
    },
    Failed(String),
}

pub trait Backend: Send {
    /// Commits the batch in one transaction and returns, in order, what
    /// became of each referral. Nothing is visible (or acknowledged by
    /// the caller) before this returns `Ok`.
    fn commit_batch(&mut self, batch: &[&NewReferral]) -> Result<Vec<Accepted>>;

    /// The next sequence number of `year`'s references.
    fn next_sequence(&mut self, year: i32) -> Result<u64>;

    /// Takes the oldest referral due at `now`, calls `send` with it while no
    /// other worker can take it, and records the outcome. `None`: nothing due.
    fn deliver_next(
        &mut self,
        now: &str,
        drop_ciphertext: bool,
        send: &mut dyn FnMut(&Due) -> Sent,
    ) -> Result<Option<(String, Sent)>>;

    /// Runs `f` if no other server runs `job` now; `false` if one does.
    fn exclusive(&mut self, job: Job, f: &mut dyn FnMut() -> Result<()>) -> Result<bool>;
}

/// One SQLite server: the data directory's lock already makes it the only
/// one, so the counter lives in memory and every job is its own.
pub struct Sqlite {
    pub conn: Connection,
    sequence: Option<(i32, u64)>,
}

impl Sqlite {
    pub fn new(conn: Connection) -> Sqlite {
        Sqlite {
            conn,
            sequence: None,
        }
    }
}

impl Backend for Sqlite {
    fn commit_batch(&mut self, batch: &[&NewReferral]) -> Result<Vec<Accepted>> {
        super::writer::commit_batch(&mut self.conn, batch)
    }

    fn next_sequence(&mut self, year: i32) -> Result<u64> {
        let seq = match self.sequence {
            Some((y, n)) if y == year => n,
            _ => super::last_sequence(&self.conn, year)?,
        } + 1;
        self.sequence = Some((year, seq));
        Ok(seq)
    }

    fn deliver_next(
        &mut self,
        now: &str,
        drop_ciphertext: bool,
        send: &mut dyn FnMut(&Due) -> Sent,
    ) -> Result<Option<(String, Sent)>> {
        let Some(due) = super::queue::due(&self.conn, now, 1)?.pop() else {
            return Ok(None);
        };
        let sent = send(&due);
        match &sent {
            Sent::Delivered => super::queue::mark_delivered(
                &mut self.conn,
                due.id,
                &due.reference,
                now,
                drop_ciphertext,
            )?,
            Sent::Retry { at, error } => super::queue::mark_retry(&self.conn, due.id, at, error)?,
            Sent::Failed(error) => {
                super::queue::mark_failed(&mut self.conn, due.id, &due.reference, now, error)?
            }
        }
        Ok(Some((due.reference, sent)))
    }

    fn exclusive(&mut self, _job: Job, f: &mut dyn FnMut() -> Result<()>) -> Result<bool> {
        f()?;
        Ok(true)
    }
}
