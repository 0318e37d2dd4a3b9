//! The register of contacts on PostgreSQL: `store::contacts` with the same
//! rules (the operator's own contacts, corrected or deleted on the day they
//! were recorded), each change in one transaction with its audit line.

use postgres::{Client, GenericClient, Row, Transaction};
use time::Date;

use crate::contact::{
    format_date, parse_date, AgeBand, Channel, NewContact, Outcome, UserCategory,
};
use crate::store::contacts::{Contact, ContactError};
use crate::store::now_rfc3339;

fn audit(
    tx: &mut Transaction,
    operator_id: i64,
    action: &str,
    id: i64,
) -> Result<(), ContactError> {
    tx.execute(
        "INSERT INTO audit(at, actor, action, reference) VALUES ($1, $2, $3, $4)",
        &[
            &now_rfc3339(),
            &format!("operator:{operator_id}"),
            &action,
            &format!("contact:{id}"),
        ],
    )?;
    Ok(())
}

fn check_referral(tx: &mut Transaction, desk: &str, c: &NewContact) -> Result<(), ContactError> {
    if let Some(r) = &c.referral_reference {
        let found = tx.query_opt(
            "SELECT 1 FROM referrals WHERE reference = $1 AND desk = $2",
            &[r, &desk],
        )?;
        if found.is_none() {
            return Err(ContactError::UnknownReferral(r.clone()));
        }
    }
    Ok(())
}

fn write_children(tx: &mut Transaction, id: i64, c: &NewContact) -> Result<(), ContactError> {
    for n in &c.need_areas {
        tx.execute(
            "INSERT INTO contact_needs(contact_id, need_area) VALUES ($1, $2)
             ON CONFLICT DO NOTHING",
            &[&id, n],
        )?;
    }
    for s in &c.services {
        tx.execute(
            "INSERT INTO contact_services(contact_id, service) VALUES ($1, $2)
             ON CONFLICT DO NOTHING",
            &[&id, s],
        )?;
    }
    Ok(())
}

/// `store::contacts::insert_contact` on PostgreSQL.
pub fn insert_contact(
    client: &mut Client,
    operator_id: i64,
    c: &NewContact,
) -> Result<i64, ContactError> {
    let mut tx = client.transaction()?;
    let desk: String = tx
        .query_opt(
            "SELECT desk FROM operators WHERE id = $1 AND revoked_at IS NULL",
            &[&operator_id],
        )?
        .ok_or(ContactError::UnknownOperator(operator_id))?
        .get(0);
    check_referral(&mut tx, &desk, c)?;
    let id: i64 = tx
        .query_one(
            "INSERT INTO contacts(desk, operator_id, day, created_at, channel, user_category,
                 age_band, city_area, outcome, referral_reference, unmet_need)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
             RETURNING id",
            &[
                &desk,
                &operator_id,
                &format_date(c.day),
                &now_rfc3339(),
                &c.channel.slug(),
                &c.user_category.slug(),
                &c.age_band.slug(),
                &c.city_area,
                &c.outcome.slug(),
                &c.referral_reference,
                &c.unmet_need,
            ],
        )?
        .get(0);
    write_children(&mut tx, id, c)?;
    audit(&mut tx, operator_id, "contact.insert", id)?;
    tx.commit()?;
    Ok(id)
}

/// "Own contact recorded today", as in `store::contacts`.
const OWN_TODAY: &str = "id = $1 AND operator_id = $2 AND substr(created_at, 1, 10) = $3";

/// `store::contacts::update_contact` on PostgreSQL. The row is locked
/// (`FOR UPDATE`): a delete on another replica waits, then finds nothing.
pub fn update_contact(
    client: &mut Client,
    operator_id: i64,
    id: i64,
    c: &NewContact,
    today: Date,
) -> Result<bool, ContactError> {
    let mut tx = client.transaction()?;
    let Some(row) = tx.query_opt(
        &format!("SELECT desk FROM contacts WHERE {OWN_TODAY} FOR UPDATE"),
        &[&id, &operator_id, &format_date(today)],
    )?
    else {
        return Ok(false);
    };
    let desk: String = row.get(0);
    check_referral(&mut tx, &desk, c)?;
    tx.execute(
        "UPDATE contacts SET day = $2, channel = $3, user_category = $4, age_band = $5,
             city_area = $6, outcome = $7, referral_reference = $8, unmet_need = $9
         WHERE id = $1",
        &[
            &id,
            &format_date(c.day),
            &c.channel.slug(),
            &c.user_category.slug(),
            &c.age_band.slug(),
            &c.city_area,
            &c.outcome.slug(),
            &c.referral_reference,
            &c.unmet_need,
        ],
    )?;
    tx.execute("DELETE FROM contact_needs WHERE contact_id = $1", &[&id])?;
    tx.execute("DELETE FROM contact_services WHERE contact_id = $1", &[&id])?;
    write_children(&mut tx, id, c)?;
    audit(&mut tx, operator_id, "contact.update", id)?;
    tx.commit()?;
    Ok(true)
}

/// `store::contacts::delete_contact` on PostgreSQL.
pub fn delete_contact(
    client: &mut Client,
    operator_id: i64,
    id: i64,
    today: Date,
) -> Result<bool, ContactError> {
    let mut tx = client.transaction()?;
    let n = tx.execute(
        &format!("DELETE FROM contacts WHERE {OWN_TODAY}"),
        &[&id, &operator_id, &format_date(today)],
    )?;
    if n == 1 {
        audit(&mut tx, operator_id, "contact.delete", id)?;
    }
    tx.commit()?;
    Ok(n == 1)
}

fn children(
    client: &mut impl GenericClient,
    sql: &str,
    id: i64,
) -> Result<Vec<String>, ContactError> {
    Ok(client
        .query(sql, &[&id])?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// A closed-list column (the table's CHECK allows only known slugs).
fn slug<T>(r: &Row, i: usize, parse: fn(&str) -> Option<T>) -> Result<T, ContactError> {
    let v: String = r.get(i);
    parse(&v).ok_or_else(|| {
        let col = r.columns()[i].name();
        ContactError::Store(anyhow::anyhow!("contact with an unknown {col} {v:?}"))
    })
}

fn contact(r: &Row) -> Result<Contact, ContactError> {
    let day: String = r.get(4);
    let day = parse_date(&day)
        .ok_or_else(|| ContactError::Store(anyhow::anyhow!("contact with a bad day {day:?}")))?;
    Ok(Contact {
        id: r.get(0),
        desk: r.get(1),
        operator_id: r.get(2),
        created_at: r.get(3),
        contact: NewContact {
            day,
            channel: slug(r, 5, Channel::parse)?,
            user_category: slug(r, 6, UserCategory::parse)?,
            age_band: slug(r, 7, AgeBand::parse)?,
            city_area: r.get(8),
            need_areas: Vec::new(),
            services: Vec::new(),
            outcome: slug(r, 9, Outcome::parse)?,
            referral_reference: r.get(10),
            unmet_need: r.get(11),
        },
    })
}

/// `store::contacts::contacts_of_day` on PostgreSQL, in one snapshot. The
/// needs and services come back in alphabetical order (a contact's are a
/// set: the form shows them as check boxes).
pub fn contacts_of_day(
    client: &mut Client,
    operator_id: i64,
    day: Date,
) -> Result<Vec<Contact>, ContactError> {
    let mut tx = client
        .build_transaction()
        .isolation_level(postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()?;
    let rows = tx.query(
        "SELECT id, desk, operator_id, created_at, day, channel, user_category, age_band,
                city_area, outcome, referral_reference, unmet_need
         FROM contacts WHERE operator_id = $1 AND substr(created_at, 1, 10) = $2
         ORDER BY id DESC",
        &[&operator_id, &format_date(day)],
    )?;
    let mut out = rows.iter().map(contact).collect::<Result<Vec<_>, _>>()?;
    for c in &mut out {
        c.contact.need_areas = children(
            &mut tx,
            "SELECT need_area FROM contact_needs WHERE contact_id = $1 ORDER BY need_area",
            c.id,
        )?;
        c.contact.services = children(
            &mut tx,
            "SELECT service FROM contact_services WHERE contact_id = $1 ORDER BY service",
            c.id,
        )?;
    }
    tx.commit()?;
    Ok(out)
}
