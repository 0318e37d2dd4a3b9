//! The contacts' store: an operator corrects or deletes only their own
//! contacts of the same day, every change leaves an audit line without
//! field values, children go with their contact, and the purge forgets
//! contacts after `metadata_retention_days`.

use rusqlite::{params, Connection};
use sportello_inbox::config::Retention;
use sportello_inbox::contact::{AgeBand, Channel, NewContact, Outcome, UserCategory};
use sportello_inbox::store::{self, contacts};
use time::macros::date;
use time::OffsetDateTime;

fn contact() -> NewContact {
    NewContact {
        day: OffsetDateTime::now_utc().date(),
        channel: Channel::Telefono,
        user_category: UserCategory::Caregiver,
        age_band: AgeBand::From75To84,
        city_area: "nord".into(),
        need_areas: vec!["solitudine".into(), "casa".into()],
        services: vec!["pasti-a-domicilio".into()],
        outcome: Outcome::Orientato,
        referral_reference: None,
        unmet_need: Some("casa".into()),
    }
}

fn setup() -> (tempfile::TempDir, Connection, i64, i64) {
    let dir = tempfile::tempdir().unwrap();
    let conn = store::open(&dir.path().join("c.sqlite")).unwrap();
    let a = store::insert_operator(
        &conn,
        "A",
        "via-mantova",
        "01",
        "aa",
        "2030-01-01T00:00:00Z",
    )
    .unwrap();
    let b = store::insert_operator(
        &conn,
        "B",
        "via-mantova",
        "02",
        "bb",
        "2030-01-01T00:00:00Z",
    )
    .unwrap();
    (dir, conn, a, b)
}

fn n(conn: &Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

#[test]
fn own_contacts_of_the_day_are_listed_corrected_and_deleted() {
    let (_dir, conn, a, b) = setup();
    let today = OffsetDateTime::now_utc().date();
    let id = contacts::insert_contact(&conn, a, &contact()).unwrap();
    let listed = contacts::contacts_of_day(&conn, a, today).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        listed[0].contact,
        contact(),
        "stored as given, needs in order"
    );
    assert_eq!(listed[0].desk, "via-mantova");
    assert!(contacts::contacts_of_day(&conn, b, today)
        .unwrap()
        .is_empty());

    // Another operator of the same desk can neither correct nor delete it.
    let mut changed = contact();
    changed.channel = Channel::InPresenza;
    changed.need_areas = vec!["disabilita".into()];
    changed.services.clear();
    assert!(!contacts::update_contact(&conn, b, id, &changed, today).unwrap());
    assert!(!contacts::delete_contact(&conn, b, id, today).unwrap());
    // Not on another day either.
    let tomorrow = today.next_day().unwrap();
    assert!(!contacts::update_contact(&conn, a, id, &changed, tomorrow).unwrap());
    assert!(!contacts::delete_contact(&conn, a, id, tomorrow).unwrap());

    assert!(contacts::update_contact(&conn, a, id, &changed, today).unwrap());
    let listed = contacts::contacts_of_day(&conn, a, today).unwrap();
    assert_eq!(listed[0].contact, changed);
    assert_eq!(n(&conn, "SELECT COUNT(*) FROM contact_services"), 0);

    assert!(contacts::delete_contact(&conn, a, id, today).unwrap());
    assert!(
        !contacts::delete_contact(&conn, a, id, today).unwrap(),
        "only once"
    );
    assert_eq!(n(&conn, "SELECT COUNT(*) FROM contacts"), 0);
    assert_eq!(n(&conn, "SELECT COUNT(*) FROM contact_needs"), 0, "cascade");

    // The audit says who did what to which contact, and nothing else.
    let mut stmt = conn
        .prepare("SELECT actor, action, reference FROM audit ORDER BY id")
        .unwrap();
    let rows: Vec<(String, String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let c = format!("contact:{id}");
    let op = format!("operator:{a}");
    assert_eq!(
        rows,
        [
            (op.clone(), "contact.insert".to_string(), c.clone()),
            (op.clone(), "contact.update".to_string(), c.clone()),
            (op, "contact.delete".to_string(), c),
        ]
    );
}

#[test]
fn yesterdays_contact_is_no_longer_the_operators_to_change() {
    let (_dir, conn, a, _) = setup();
    let today = OffsetDateTime::now_utc().date();
    let id = contacts::insert_contact(&conn, a, &contact()).unwrap();
    conn.execute(
        "UPDATE contacts SET created_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-1 day') WHERE id = ?1",
        [id],
    )
    .unwrap();
    assert!(!contacts::delete_contact(&conn, a, id, today).unwrap());
    assert!(!contacts::update_contact(&conn, a, id, &contact(), today).unwrap());
    assert!(contacts::contacts_of_day(&conn, a, today)
        .unwrap()
        .is_empty());
    assert_eq!(n(&conn, "SELECT COUNT(*) FROM contacts"), 1);
}

#[test]
fn a_referral_outcome_must_name_a_referral_of_the_desk() {
    let (_dir, conn, a, _) = setup();
    let other =
        store::insert_operator(&conn, "C", "stazione", "03", "cc", "2030-01-01T00:00:00Z").unwrap();
    conn.execute(
        "INSERT INTO referrals(reference, created_at, desk, operator_id, need_area, urgency, age_band, idempotency_key)
         VALUES ('SEG-2026-000001', '2026-01-01T00:00:00Z', 'stazione', ?1, 'casa', 'ordinary', '85+', 'k')",
        [other],
    )
    .unwrap();
    let mut c = contact();
    c.outcome = Outcome::Segnalato;
    c.referral_reference = Some("SEG-2026-000001".into());
    let err = contacts::insert_contact(&conn, a, &c).unwrap_err();
    assert!(
        matches!(err, contacts::ContactError::UnknownReferral(_)),
        "{err}"
    );
    assert_eq!(
        n(&conn, "SELECT COUNT(*) FROM contacts"),
        0,
        "nothing half-stored"
    );
    assert_eq!(n(&conn, "SELECT COUNT(*) FROM audit"), 0);
    contacts::insert_contact(&conn, other, &c).unwrap();
    // A revoked operator records nothing.
    store::revoke_operator(&conn, a).unwrap();
    assert!(matches!(
        contacts::insert_contact(&conn, a, &contact()),
        Err(contacts::ContactError::UnknownOperator(_))
    ));
}

#[test]
fn the_purge_forgets_contacts_after_the_metadata_retention() {
    let (_dir, mut conn, a, _) = setup();
    let mut old = contact();
    old.day = date!(2024 - 01 - 10);
    let gone = contacts::insert_contact(&conn, a, &old).unwrap();
    let mut kept = contact();
    kept.day = date!(2024 - 01 - 11);
    let stays = contacts::insert_contact(&conn, a, &kept).unwrap();
    let now = OffsetDateTime::new_utc(date!(2024 - 01 - 20), time::macros::time!(12:00));
    let r = Retention {
        retention_days: 5,
        metadata_retention_days: 9,
        purge_interval_seconds: 3600,
    };
    let p = sportello_inbox::retention::purge(&mut conn, &r, None, now).unwrap();
    assert_eq!(p.contacts, 1, "{p:?}");
    let ids: Vec<i64> = conn
        .prepare("SELECT id FROM contacts")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(ids, [stays]);
    let orphans: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM contact_needs WHERE contact_id = ?1",
            params![gone],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(orphans, 0, "needs and services go with the contact");
}
