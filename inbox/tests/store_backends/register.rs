//! The register of contacts through `store::db::Db` on both stores, two
//! connections standing for two replicas: the same rules (one's own
//! contact, changed on the day it was recorded; a referral of the desk;
//! an active operator), a refused change leaves nothing behind, and the
//! metadata the report reads holds the contacts.

use sportello_inbox::contact::{AgeBand, Channel, NewContact, Outcome, UserCategory};
use sportello_inbox::store::contacts::ContactError;
use sportello_inbox::store::db::Db;
use sportello_inbox::store::pg::{self, Pg};
use sportello_inbox::store::{self, Writer};
use time::{Duration, OffsetDateTime};

use super::{referral, stores, Store};

impl Store {
    /// A connection of the register, as one replica has.
    fn db(&self) -> Db {
        match self {
            Store::Sqlite(dir) => {
                Db::Sqlite(store::open(&dir.path().join("inbox.sqlite")).unwrap())
            }
            Store::Postgres(cfg) => Db::Pg(Box::new(Pg::connect(cfg).unwrap())),
        }
    }

    fn another_operator(&self, name: &str, desk: &str, sha256: &str) -> i64 {
        let na = "2030-01-01T00:00:00Z";
        match self {
            Store::Sqlite(dir) => {
                let c = store::open(&dir.path().join("inbox.sqlite")).unwrap();
                store::insert_operator(&c, name, desk, "02", sha256, na).unwrap()
            }
            Store::Postgres(cfg) => {
                pg::insert_operator(&mut pg::connect(cfg).unwrap(), name, desk, "02", sha256, na)
                    .unwrap()
            }
        }
    }
}

fn contact(channel: &str, referral: Option<&str>) -> NewContact {
    NewContact {
        day: OffsetDateTime::now_utc().date(),
        channel: Channel::parse(channel).unwrap(),
        user_category: UserCategory::parse("pensionato").unwrap(),
        age_band: AgeBand::parse("75-84").unwrap(),
        city_area: "centro".into(),
        need_areas: vec!["casa".into(), "solitudine".into()],
        services: vec!["assistenza-domiciliare".into()],
        outcome: Outcome::parse(if referral.is_some() {
            "segnalato"
        } else {
            "informato"
        })
        .unwrap(),
        referral_reference: referral.map(str::to_string),
        unmet_need: None,
    }
}

fn count(db: &mut Db, sql: &str) -> i64 {
    db.with_metadata(|c| Ok(c.query_row(sql, [], |r| r.get(0))?))
        .unwrap()
}

#[test]
fn the_register_keeps_the_same_rules_on_both_stores() {
    let (_pg, stores) = stores("register");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let today = OffsetDateTime::now_utc().date();
    let tomorrow = today + Duration::days(1);
    for s in &stores {
        let name = s.name();
        let giulia = s.operator();
        let marco = s.another_operator("Marco", "desk", "cd");
        let anna = s.another_operator("Anna", "altro-sportello", "ef");
        let w = Writer::start_backend(s.backend()).unwrap();
        rt.block_on(w.commit(referral(giulia, 1, "k", "c")))
            .unwrap();
        let sent = "SEG-2026-000001";
        let (mut one, mut two) = (s.db(), s.db());

        // Recorded through one connection, listed whole through the other.
        let first = contact("telefono", None);
        let id = one.insert_contact(giulia, &first).unwrap();
        let listed = two.contacts_of_day(giulia, today).unwrap();
        assert_eq!(listed.len(), 1, "{name}");
        assert_eq!(
            (listed[0].id, listed[0].desk.as_str(), listed[0].operator_id),
            (id, "desk", giulia),
            "{name}"
        );
        assert_eq!(listed[0].contact, first, "{name}");
        assert!(two.contacts_of_day(marco, today).unwrap().is_empty());

        // A referral: only one the desk sent.
        for (op, r) in [(giulia, "SEG-2026-999999"), (anna, sent)] {
            let e = two.insert_contact(op, &contact("email", Some(r)));
            assert!(
                matches!(e, Err(ContactError::UnknownReferral(_))),
                "{name}: {e:?}"
            );
        }
        let with_referral = two
            .insert_contact(giulia, &contact("email", Some(sent)))
            .unwrap();

        // Another operator's, or another day's: not there to change.
        let change = contact("a_domicilio", None);
        assert!(
            !two.update_contact(marco, id, &change, today).unwrap(),
            "{name}"
        );
        assert!(!two.delete_contact(marco, id, today).unwrap(), "{name}");
        assert!(
            !two.update_contact(giulia, id, &change, tomorrow).unwrap(),
            "{name}"
        );
        assert!(!two.delete_contact(giulia, id, tomorrow).unwrap(), "{name}");
        assert!(two.contacts_of_day(giulia, tomorrow).unwrap().is_empty());

        // A correction, seen by the other connection; a refused one
        // changes nothing.
        let mut fewer = change.clone();
        fewer.need_areas = vec!["casa".into()];
        fewer.services = Vec::new();
        assert!(
            two.update_contact(giulia, id, &fewer, today).unwrap(),
            "{name}"
        );
        let bad = contact("email", Some("SEG-2026-999999"));
        let e = one.update_contact(giulia, id, &bad, today);
        assert!(
            matches!(e, Err(ContactError::UnknownReferral(_))),
            "{name}: {e:?}"
        );
        let now: Vec<_> = one.contacts_of_day(giulia, today).unwrap();
        assert_eq!(
            now.iter().map(|c| c.id).collect::<Vec<_>>(),
            [with_referral, id],
            "{name}: newest first"
        );
        assert_eq!(now[1].contact, fewer, "{name}");

        // Deleted once, with its needs.
        assert!(one.delete_contact(giulia, id, today).unwrap(), "{name}");
        assert!(!two.delete_contact(giulia, id, today).unwrap(), "{name}");
        let sql = format!("SELECT COUNT(*) FROM contact_needs WHERE contact_id = {id}");
        assert_eq!(count(&mut two, &sql), 0, "{name}");

        // Only an active operator records.
        assert!(one.revoke_operator(marco).unwrap());
        for op in [marco, 999_999] {
            let e = one.insert_contact(op, &first);
            assert!(
                matches!(e, Err(ContactError::UnknownOperator(_))),
                "{name}: {e:?}"
            );
        }

        // What the report and the statistics read holds the one left.
        assert_eq!(
            count(&mut two, "SELECT COUNT(*) FROM contacts"),
            1,
            "{name}"
        );
        assert_eq!(
            count(&mut two, "SELECT COUNT(*) FROM contact_services"),
            1,
            "{name}"
        );
    }
}
