//! Contacts recorded at the desks (see `crate::contact`): insert, correct
//! and delete (the operator's own, on the day they were recorded), each
//! with an audit line naming only the action and the contact's id.

use rusqlite::{params, Connection, OptionalExtension};
use time::Date;

use super::now_rfc3339;
use crate::contact::{format_date, parse_date, NewContact};

/// The schema of the contacts (migration 4 in `store::MIGRATIONS`).
pub const MIGRATION: &str = r#"
    CREATE TABLE contacts (
        id                 INTEGER PRIMARY KEY,
        desk               TEXT NOT NULL,
        operator_id        INTEGER NOT NULL REFERENCES operators(id),
        day                TEXT NOT NULL,
        created_at         TEXT NOT NULL,
        channel            TEXT NOT NULL CHECK (channel IN
                           ('in_presenza', 'telefono', 'email', 'a_domicilio')),
        user_category      TEXT NOT NULL CHECK (user_category IN
                           ('lavoratore', 'pensionato', 'disoccupato', 'studente', 'caregiver', 'altro')),
        age_band           TEXT NOT NULL CHECK (age_band IN
                           ('0-17', '18-64', '65-74', '75-84', '85+')),
        city_area          TEXT NOT NULL,
        outcome            TEXT NOT NULL CHECK (outcome IN
                           ('informato', 'orientato', 'accompagnato', 'segnalato')),
        referral_reference TEXT,
        unmet_need         TEXT,
        CHECK ((outcome = 'segnalato') = (referral_reference IS NOT NULL))
    );
    CREATE INDEX contacts_day ON contacts(day, desk);
    CREATE INDEX contacts_operator ON contacts(operator_id, created_at);
    CREATE TABLE contact_needs (
        contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
        need_area  TEXT NOT NULL,
        PRIMARY KEY (contact_id, need_area)
    );
    CREATE TABLE contact_services (
        contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
        service    TEXT NOT NULL,
        PRIMARY KEY (contact_id, service)
    );
"#;

/// Why a contact was not stored.
#[derive(Debug, thiserror::Error)]
pub enum ContactError {
    #[error("operator {0} does not exist or is revoked")]
    UnknownOperator(i64),
    /// `Outcome::Segnalato` names a referral that this desk never sent.
    #[error("the referral {0} was not sent by this desk")]
    UnknownReferral(String),
    #[error(transparent)]
    Db(#[from] rusqlite::Error),
    #[error(transparent)]
    Pg(#[from] postgres::Error),
    /// No connection to the store (PostgreSQL could not be reached).
    #[error(transparent)]
    Store(anyhow::Error),
}

/// A stored contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub id: i64,
    pub desk: String,
    pub operator_id: i64,
    /// RFC 3339, UTC: when it was recorded (or last corrected).
    pub created_at: String,
    pub contact: NewContact,
}

/// The audit line of a change: who, what, which contact; no field values.
/// (The same row as `store::audit`, written with the contact's statement.)
fn audit(conn: &Connection, operator_id: i64, action: &str, id: i64) -> rusqlite::Result<()> {
    conn.prepare_cached("INSERT INTO audit(at, actor, action, reference) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![
            now_rfc3339(),
            format!("operator:{operator_id}"),
            action,
            format!("contact:{id}")
        ])?;
    Ok(())
}

/// Runs `f` inside a savepoint: atomic on its own, and nests inside a
/// caller's transaction (bulk loads, tests).
fn atomically<T>(
    conn: &Connection,
    f: impl FnOnce() -> Result<T, ContactError>,
) -> Result<T, ContactError> {
    conn.execute_batch("SAVEPOINT contact")?;
    match f() {
        Ok(v) => {
            conn.execute_batch("RELEASE contact")?;
            Ok(v)
        }
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK TO contact; RELEASE contact");
            Err(e)
        }
    }
}

/// Runs a change of the register in an IMMEDIATE transaction: it waits
/// for another writer's commit instead of failing on a stale snapshot.
/// Inside a caller's transaction it just runs (`atomically` nests).
pub fn immediate<T>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> Result<T, ContactError>,
) -> Result<T, ContactError> {
    if !conn.is_autocommit() {
        return f(conn);
    }
    conn.execute_batch("BEGIN IMMEDIATE")?;
    match f(conn) {
        Ok(v) => {
            conn.execute_batch("COMMIT")?;
            Ok(v)
        }
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

fn check_referral(conn: &Connection, desk: &str, c: &NewContact) -> Result<(), ContactError> {
    if let Some(r) = &c.referral_reference {
        let found: Option<i64> = conn
            .query_row(
                "SELECT 1 FROM referrals WHERE reference = ?1 AND desk = ?2",
                params![r, desk],
                |row| row.get(0),
            )
            .optional()?;
        if found.is_none() {
            return Err(ContactError::UnknownReferral(r.clone()));
        }
    }
    Ok(())
}

fn write_children(conn: &Connection, id: i64, c: &NewContact) -> Result<(), ContactError> {
    let mut need = conn.prepare_cached(
        "INSERT OR IGNORE INTO contact_needs(contact_id, need_area) VALUES (?1, ?2)",
    )?;
    for n in &c.need_areas {
        need.execute(params![id, n])?;
    }
    let mut service = conn.prepare_cached(
        "INSERT OR IGNORE INTO contact_services(contact_id, service) VALUES (?1, ?2)",
    )?;
    for s in &c.services {
        service.execute(params![id, s])?;
    }
    Ok(())
}

/// Stores a contact (already validated with `NewContact::validate`) for
/// the active operator `operator_id`, at the operator's desk. Returns its id.
pub fn insert_contact(
    conn: &Connection,
    operator_id: i64,
    c: &NewContact,
) -> Result<i64, ContactError> {
    atomically(conn, || {
        let desk: String = conn
            .query_row(
                "SELECT desk FROM operators WHERE id = ?1 AND revoked_at IS NULL",
                [operator_id],
                |r| r.get(0),
            )
            .optional()?
            .ok_or(ContactError::UnknownOperator(operator_id))?;
        check_referral(conn, &desk, c)?;
        conn.prepare_cached(
            "INSERT INTO contacts(desk, operator_id, day, created_at, channel, user_category,
                 age_band, city_area, outcome, referral_reference, unmet_need)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )?
        .execute(params![
            desk,
            operator_id,
            format_date(c.day),
            now_rfc3339(),
            c.channel,
            c.user_category,
            c.age_band,
            c.city_area,
            c.outcome,
            c.referral_reference,
            c.unmet_need,
        ])?;
        let id = conn.last_insert_rowid();
        write_children(conn, id, c)?;
        audit(conn, operator_id, "contact.insert", id)?;
        Ok(id)
    })
}

/// "Own contact recorded today": the operator's, and `created_at` falls on
/// `today` (UTC date).
const OWN_TODAY: &str = "id = ?1 AND operator_id = ?2 AND substr(created_at, 1, 10) = ?3";

/// Replaces the fields of the operator's own contact recorded on `today`.
/// `false`: no such contact (another operator's, an older one, deleted).
pub fn update_contact(
    conn: &Connection,
    operator_id: i64,
    id: i64,
    c: &NewContact,
    today: Date,
) -> Result<bool, ContactError> {
    atomically(conn, || {
        let desk: Option<String> = conn
            .query_row(
                &format!("SELECT desk FROM contacts WHERE {OWN_TODAY}"),
                params![id, operator_id, format_date(today)],
                |r| r.get(0),
            )
            .optional()?;
        let Some(desk) = desk else {
            return Ok(false);
        };
        check_referral(conn, &desk, c)?;
        conn.execute(
            "UPDATE contacts SET day = ?2, channel = ?3, user_category = ?4, age_band = ?5,
                 city_area = ?6, outcome = ?7, referral_reference = ?8, unmet_need = ?9
             WHERE id = ?1",
            params![
                id,
                format_date(c.day),
                c.channel,
                c.user_category,
                c.age_band,
                c.city_area,
                c.outcome,
                c.referral_reference,
                c.unmet_need,
            ],
        )?;
        conn.execute("DELETE FROM contact_needs WHERE contact_id = ?1", [id])?;
        conn.execute("DELETE FROM contact_services WHERE contact_id = ?1", [id])?;
        write_children(conn, id, c)?;
        audit(conn, operator_id, "contact.update", id)?;
        Ok(true)
    })
}

/// Deletes the operator's own contact recorded on `today` (with its needs
/// and services). `false`: no such contact.
pub fn delete_contact(
    conn: &Connection,
    operator_id: i64,
    id: i64,
    today: Date,
) -> Result<bool, ContactError> {
    atomically(conn, || {
        let n = conn.execute(
            &format!("DELETE FROM contacts WHERE {OWN_TODAY}"),
            params![id, operator_id, format_date(today)],
        )?;
        if n == 1 {
            audit(conn, operator_id, "contact.delete", id)?;
        }
        Ok(n == 1)
    })
}

fn children(conn: &Connection, sql: &str, id: i64) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map([id], |r| r.get(0))?;
    rows.collect()
}

/// The contacts `operator_id` recorded on `day` (UTC date of recording),
/// newest first: the ones they may still correct or delete that day.
pub fn contacts_of_day(
    conn: &Connection,
    operator_id: i64,
    day: Date,
) -> Result<Vec<Contact>, ContactError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, desk, operator_id, created_at, day, channel, user_category, age_band,
                city_area, outcome, referral_reference, unmet_need
         FROM contacts WHERE operator_id = ?1 AND substr(created_at, 1, 10) = ?2
         ORDER BY id DESC",
    )?;
    let rows = stmt.query_map(params![operator_id, format_date(day)], |r| {
        let day: String = r.get(4)?;
        let day = parse_date(&day).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                4,
                rusqlite::types::Type::Text,
                format!("bad day {day:?}").into(),
            )
        })?;
        Ok(Contact {
            id: r.get(0)?,
            desk: r.get(1)?,
            operator_id: r.get(2)?,
            created_at: r.get(3)?,
            contact: NewContact {
                day,
                channel: r.get(5)?,
                user_category: r.get(6)?,
                age_band: r.get(7)?,
                city_area: r.get(8)?,
                need_areas: Vec::new(),
                services: Vec::new(),
                outcome: r.get(9)?,
                referral_reference: r.get(10)?,
                unmet_need: r.get(11)?,
            },
        })
    })?;
    let mut out: Vec<Contact> = rows.collect::<rusqlite::Result<_>>()?;
    for c in &mut out {
        c.contact.need_areas = children(
            conn,
            "SELECT need_area FROM contact_needs WHERE contact_id = ?1 ORDER BY rowid",
            c.id,
        )?;
        c.contact.services = children(
            conn,
            "SELECT service FROM contact_services WHERE contact_id = ?1 ORDER BY rowid",
            c.id,
        )?;
    }
    Ok(out)
}
