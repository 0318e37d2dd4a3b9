//! The staff's states on a referral, found by the hash of its link token.

use anyhow::Result;
use rusqlite::{params, Connection, OptionalExtension};
use time::{Date, OffsetDateTime};

use super::{audit, now_rfc3339};
use crate::care::{Change, Outcome, State};
use crate::kinds::Urgency;

/// What the staff page may show: metadata only (the server has nothing else).
#[derive(Debug, Clone)]
pub struct Referral {
    pub id: i64,
    pub reference: String,
    pub created_at: OffsetDateTime,
    pub desk: String,
    pub urgency: Urgency,
    pub need_area: String,
    pub delivered_at: Option<OffsetDateTime>,
    /// The municipality it was sent to (a `[[municipality]]` slug).
    pub municipality: Option<String>,
}

/// One state change, with its time and actor.
#[derive(Debug, Clone)]
pub struct Event {
    pub at: OffsetDateTime,
    pub state: State,
    pub staff_name: Option<String>,
    pub planned_contact: Option<Date>,
    pub target: Option<String>,
    pub outcome: Option<Outcome>,
}

/// The referral whose token hashes to `hash`; `None` for an unknown token
/// or one purged after `staff.link_days`.
pub fn by_token(conn: &Connection, hash: &str) -> Result<Option<Referral>> {
    Ok(conn
        .query_row(
            "SELECT id, reference, created_at, desk, urgency, need_area, delivered_at,
                    municipality
             FROM referrals WHERE token_sha256 = ?1",
            [hash],
            |r| {
                Ok(Referral {
                    id: r.get(0)?,
                    reference: r.get(1)?,
                    created_at: r.get(2)?,
                    desk: r.get(3)?,
                    urgency: r.get(4)?,
                    need_area: r.get(5)?,
                    delivered_at: r.get(6)?,
                    municipality: r.get(7)?,
                })
            },
        )
        .optional()?)
}

pub fn events(conn: &Connection, referral_id: i64) -> Result<Vec<Event>> {
    let mut stmt = conn.prepare_cached(
        "SELECT at, state, staff_name, planned_contact, target, outcome
         FROM care_events WHERE referral_id = ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map([referral_id], |r| {
        Ok(Event {
            at: r.get(0)?,
            state: r.get(1)?,
            staff_name: r.get(2)?,
            planned_contact: r.get(3)?,
            target: r.get(4)?,
            outcome: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn current(conn: &Connection, referral_id: i64) -> Result<Option<State>> {
    Ok(conn
        .query_row(
            "SELECT state FROM care_events WHERE referral_id = ?1 ORDER BY id DESC LIMIT 1",
            [referral_id],
            |r| r.get(0),
        )
        .optional()?)
}

/// The outcome of [`record`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    Done,
    /// The change does not follow from the current state (shown in the 409).
    Conflict(Option<State>),
}

/// Records `change` if it follows from the current state, with its audit
/// line, in one transaction (two staff members clicking at once: the
/// second gets the conflict, not a second "presa in carico").
pub fn record(conn: &mut Connection, referral: &Referral, change: &Change) -> Result<Recorded> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let now = current(&tx, referral.id)?;
    if !State::allowed_after(now).contains(&change.state) {
        return Ok(Recorded::Conflict(now));
    }
    tx.execute(
        "INSERT INTO care_events(referral_id, at, state, staff_name, planned_contact, target, outcome)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            referral.id,
            now_rfc3339(),
            change.state,
            change.staff_name,
            change.planned_contact,
            change.target,
            change.outcome
        ],
    )?;
    // Any state set by the staff ends the reminders.
    tx.execute(
        "UPDATE referrals SET reminder_ciphertext = NULL WHERE id = ?1",
        [referral.id],
    )?;
    audit(
        &tx,
        "staff",
        &format!("care.{}", change.state),
        Some(&referral.reference),
    )?;
    tx.commit()?;
    Ok(Recorded::Done)
}

/// The latest state of a referral for the desk's lists: state, since,
/// and who took it in charge (the latest "presa in carico").
#[derive(Debug, Clone, Default)]
pub struct Latest {
    pub state: Option<State>,
    pub since: Option<OffsetDateTime>,
    pub taken_by: Option<String>,
}

pub fn latest(conn: &Connection, referral_id: i64) -> Result<Latest> {
    let last: Option<(State, OffsetDateTime)> = conn
        .query_row(
            "SELECT state, at FROM care_events WHERE referral_id = ?1 ORDER BY id DESC LIMIT 1",
            [referral_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let taken_by: Option<String> = conn
        .query_row(
            "SELECT staff_name FROM care_events
             WHERE referral_id = ?1 AND state = 'presa_in_carico' ORDER BY id DESC LIMIT 1",
            [referral_id],
            |r| r.get(0),
        )
        .optional()?
        .flatten();
    Ok(Latest {
        state: last.as_ref().map(|l| l.0),
        since: last.map(|l| l.1),
        taken_by,
    })
}
