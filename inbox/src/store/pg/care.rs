//! The staff's states on a referral on PostgreSQL (`store::care` on SQLite).
//! Several replicas serve the staff site: a state change locks the
//! referral's row (`FOR UPDATE`) before it reads the current state, so of
//! two clicks at once on any two replicas the second waits for the first
//! to commit, then reads its state and gets the conflict.

use anyhow::{Context, Result};
use postgres::Client;

use super::admin::audit;
use super::keys::time;
use crate::care::{Change, Outcome, State};
use crate::kinds::Urgency;
use crate::store::care::{Event, Recorded, Referral};
use crate::store::now_rfc3339;

/// How `planned_contact` is stored (as SQLite stores a `time::Date`).
const DATE: &[time::format_description::FormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

fn parse<T>(s: &str, what: &str, f: fn(&str) -> Option<T>) -> Result<T> {
    f(s).with_context(|| format!("unknown {what} {s:?} in the database"))
}

/// `store::care::by_token` on PostgreSQL.
pub fn by_token(client: &mut Client, hash: &str) -> Result<Option<Referral>> {
    let Some(r) = client.query_opt(
        "SELECT id, reference, created_at, desk, urgency, need_area, delivered_at, municipality
         FROM referrals WHERE token_sha256 = $1",
        &[&hash],
    )?
    else {
        return Ok(None);
    };
    let delivered: Option<String> = r.get(6);
    Ok(Some(Referral {
        id: r.get(0),
        reference: r.get(1),
        created_at: time(r.get(2))?,
        desk: r.get(3),
        urgency: parse(r.get(4), "urgency", Urgency::parse)?,
        need_area: r.get(5),
        delivered_at: delivered.as_deref().map(time).transpose()?,
        municipality: r.get(7),
    }))
}

/// `store::care::events` on PostgreSQL.
pub fn events(client: &mut Client, referral_id: i64) -> Result<Vec<Event>> {
    client
        .query(
            "SELECT at, state, staff_name, planned_contact, target, outcome
             FROM care_events WHERE referral_id = $1 ORDER BY id",
            &[&referral_id],
        )?
        .iter()
        .map(|r| {
            let planned: Option<String> = r.get(3);
            let outcome: Option<String> = r.get(5);
            Ok(Event {
                at: time(r.get(0))?,
                state: parse(r.get(1), "state", State::parse)?,
                staff_name: r.get(2),
                planned_contact: planned
                    .map(|d| time::Date::parse(&d, DATE))
                    .transpose()
                    .context("invalid planned_contact in the database")?,
                target: r.get(4),
                outcome: outcome
                    .as_deref()
                    .map(|o| parse(o, "outcome", Outcome::parse))
                    .transpose()?,
            })
        })
        .collect()
}

/// `store::care::record` on PostgreSQL: the row lock, the current state,
/// the new event, the end of the reminders and the audit line in one
/// transaction.
pub fn record(client: &mut Client, referral: &Referral, change: &Change) -> Result<Recorded> {
    let mut tx = client.transaction()?;
    let locked = tx.query_opt(
        "SELECT id FROM referrals WHERE id = $1 FOR UPDATE",
        &[&referral.id],
    )?;
    if locked.is_none() {
        // Purged between the page and the click.
        anyhow::bail!("the referral is no longer in the database");
    }
    let now: Option<State> = tx
        .query_opt(
            "SELECT state FROM care_events WHERE referral_id = $1 ORDER BY id DESC LIMIT 1",
            &[&referral.id],
        )?
        .map(|r| parse(r.get(0), "state", State::parse))
        .transpose()?;
    if !State::allowed_after(now).contains(&change.state) {
        return Ok(Recorded::Conflict(now));
    }
    let planned = change.planned_contact.map(|d| d.format(DATE)).transpose()?;
    tx.execute(
        "INSERT INTO care_events(referral_id, at, state, staff_name, planned_contact, target, outcome)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            &referral.id,
            &now_rfc3339(),
            &change.state.slug(),
            &change.staff_name,
            &planned,
            &change.target,
            &change.outcome.map(Outcome::slug),
        ],
    )?;
    // Any state set by the staff ends the reminders.
    tx.execute(
        "UPDATE referrals SET reminder_ciphertext = NULL WHERE id = $1",
        &[&referral.id],
    )?;
    audit(
        &mut tx,
        "staff",
        &format!("care.{}", change.state),
        Some(&referral.reference),
    )?;
    tx.commit()?;
    Ok(Recorded::Done)
}
