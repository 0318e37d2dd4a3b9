//! A synthetic register for the report's tests and benchmark: contacts
//! over two years at three desks, inserted through the store's API, and
//! referrals with their states. Deterministic for a seed; skewed so that
//! some cells are small (students, the youngest band, rare channels).
#![allow(dead_code)]

use std::path::Path;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rusqlite::{params, Connection};
use sportello_inbox::contact::{AgeBand, Channel, NewContact, Outcome, UserCategory};
use sportello_inbox::report::Names;
use sportello_inbox::store;
use time::macros::date;
use time::Date;

pub const DESKS: [&str; 3] = ["via-mantova", "borgo-nuovo", "stazione"];
pub const NEEDS: [&str; 5] = [
    "non-autosufficienza",
    "disabilita",
    "sostegno-economico",
    "casa",
    "solitudine",
];
pub const CITY: [&str; 4] = ["centro", "nord", "sud", "frazioni"];
pub const FIRST_DAY: Date = date!(2024 - 01 - 01);
/// Two years: 2024 and 2025.
pub const DAYS: i64 = 731;

pub fn names() -> Names {
    Names {
        need_areas: NEEDS
            .iter()
            .map(|n| (n.to_string(), format!("Area {n}")))
            .collect(),
        services: (0..15)
            .map(|i| (format!("servizio-{i:02}"), format!("Servizio numero {i}")))
            .collect(),
    }
}

fn pick<T: Copy>(rng: &mut StdRng, items: &[(T, u32)]) -> T {
    let total: u32 = items.iter().map(|i| i.1).sum();
    let mut x = rng.gen_range(0..total);
    for &(v, w) in items {
        if x < w {
            return v;
        }
        x -= w;
    }
    items[0].0
}

/// Opens a new database at `path` and fills it with `n` contacts.
pub fn make(path: &Path, n: usize, seed: u64) -> anyhow::Result<Connection> {
    let conn = store::open(path)?;
    // A bulk load: one transaction, not one fsync per contact.
    conn.execute_batch("BEGIN")?;
    let mut ops = Vec::new();
    for (d, desk) in DESKS.iter().enumerate() {
        for k in 0..2 {
            let id = store::insert_operator(
                &conn,
                &format!("Operatore {d}{k}"),
                desk,
                &format!("{d}{k}"),
                &format!("sha-{d}{k}"),
                "2030-01-01T00:00:00Z",
            )?;
            ops.push((id, *desk));
        }
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let mut seq = 0u32;
    for _ in 0..n {
        let (op, desk) = ops[pick(
            &mut rng,
            &[(0, 30), (1, 20), (2, 18), (3, 12), (4, 12), (5, 8)],
        )];
        let day = FIRST_DAY + time::Duration::days(rng.gen_range(0..DAYS));
        let outcome = pick(
            &mut rng,
            &[
                (Outcome::Informato, 40),
                (Outcome::Orientato, 35),
                (Outcome::Accompagnato, 17),
                (Outcome::Segnalato, 8),
            ],
        );
        let reference = if outcome == Outcome::Segnalato {
            seq += 1;
            let r = format!("SEG-{}-{seq:06}", day.year());
            let urgency = if rng.gen_range(0..5) == 0 {
                "urgent"
            } else {
                "ordinary"
            };
            let created = format!(
                "{}T{:02}:{:02}:00Z",
                sportello_inbox::contact::format_date(day),
                rng.gen_range(8..18),
                rng.gen_range(0..60)
            );
            conn.execute(
                "INSERT INTO referrals(reference, created_at, desk, operator_id, need_area, urgency,
                     age_band, status, idempotency_key)
                 VALUES (?1, ?2, ?3, ?4, 'casa', ?5, '75-84', 'delivered', ?1)",
                params![r, created, desk, op, urgency],
            )?;
            let id = conn.last_insert_rowid();
            let t0 = store::parse_rfc3339(&created).expect("rfc3339");
            match rng.gen_range(0..10) {
                0..=1 => {} // in attesa
                2 => care(
                    &conn,
                    id,
                    t0 + time::Duration::hours(5),
                    "non_di_competenza",
                )?,
                s => {
                    let hours = rng.gen_range(1..200);
                    care(
                        &conn,
                        id,
                        t0 + time::Duration::hours(hours),
                        "presa_in_carico",
                    )?;
                    if s >= 7 {
                        care(&conn, id, t0 + time::Duration::hours(hours + 48), "chiusa")?;
                    }
                }
            }
            Some(r)
        } else {
            None
        };
        let mut needs: Vec<String> = Vec::new();
        for (i, w) in [6, 3, 4, 2, 3].iter().enumerate() {
            if rng.gen_range(0..10) < *w {
                needs.push(NEEDS[i].to_string());
            }
        }
        if needs.is_empty() {
            needs.push(NEEDS[0].to_string());
        }
        let mut services: Vec<String> = Vec::new();
        for _ in 0..rng.gen_range(0..3) {
            // Skewed: the first services are much more common.
            let s = format!(
                "servizio-{:02}",
                rng.gen_range(0..15u32).min(rng.gen_range(0..15))
            );
            if !services.contains(&s) {
                services.push(s);
            }
        }
        let c = NewContact {
            day,
            channel: pick(
                &mut rng,
                &[
                    (Channel::InPresenza, 50),
                    (Channel::Telefono, 35),
                    (Channel::Email, 12),
                    (Channel::ADomicilio, 3),
                ],
            ),
            user_category: pick(
                &mut rng,
                &[
                    (UserCategory::Pensionato, 45),
                    (UserCategory::Caregiver, 25),
                    (UserCategory::Lavoratore, 15),
                    (UserCategory::Disoccupato, 9),
                    (UserCategory::Altro, 5),
                    (UserCategory::Studente, 1),
                ],
            ),
            age_band: pick(
                &mut rng,
                &[
                    (AgeBand::From75To84, 35),
                    (AgeBand::From85, 25),
                    (AgeBand::From65To74, 20),
                    (AgeBand::From18To64, 19),
                    (AgeBand::Under18, 1),
                ],
            ),
            city_area: CITY[rng.gen_range(0..CITY.len())].to_string(),
            need_areas: needs,
            services,
            outcome,
            referral_reference: reference,
            unmet_need: (rng.gen_range(0..12) == 0)
                .then(|| NEEDS[rng.gen_range(0..NEEDS.len())].to_string()),
        };
        store::contacts::insert_contact(&conn, op, &c)?;
    }
    conn.execute_batch("COMMIT")?;
    Ok(conn)
}

fn care(conn: &Connection, id: i64, at: time::OffsetDateTime, state: &str) -> anyhow::Result<()> {
    conn.execute(
        "INSERT INTO care_events(referral_id, at, state, staff_name) VALUES (?1, ?2, ?3, 'Staff')",
        params![id, store::rfc3339(at), state],
    )?;
    Ok(())
}
