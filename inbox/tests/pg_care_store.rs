//! The staff's state changes in the PostgreSQL store itself: many
//! connections changing one referral at the same instant record one
//! change; the others get the conflict with the state it set.

mod common;

use std::sync::{Arc, Barrier};

use common::pg::Postgres;
use sportello_inbox::care::{Change, State};
use sportello_inbox::store::care::Recorded;
use sportello_inbox::store::pg;

/// The store itself: many connections changing one referral at the same
/// instant; only the first change is recorded, the others see it.
#[test]
fn concurrent_changes_on_one_referral_record_one() -> anyhow::Result<()> {
    let pgs = Postgres::start()?;
    let cfg = pgs.database("care")?;
    let mut c = pg::connect(&cfg)?;
    let op: i64 = c
        .query_one(
            "INSERT INTO operators(name, desk, cert_serial, cert_sha256, not_after, created_at)
             VALUES ('Op', 'via-mantova', '01', 'aa', '2099-01-01T00:00:00Z', '2026-01-01T00:00:00Z')
             RETURNING id",
            &[],
        )?
        .get(0);
    const CLICKS: usize = 6;
    for round in 0..10 {
        let reference = format!("SEG-2026-{round:06}");
        let id: i64 = c
            .query_one(
                "INSERT INTO referrals(reference, created_at, desk, operator_id, need_area, urgency,
                                       age_band, status, idempotency_key, token_sha256)
                 VALUES ($1, '2026-01-01T00:00:00Z', 'via-mantova', $2, 'x', 'ordinary', '85+',
                         'delivered', $1, $1) RETURNING id",
                &[&reference, &op],
            )?
            .get(0);
        let referral = pg::care::by_token(&mut c, &reference)?.expect("by its token hash");
        assert_eq!(referral.id, id);
        let barrier = Arc::new(Barrier::new(CLICKS));
        let clicks: Vec<_> = (0..CLICKS)
            .map(|i| {
                let (cfg, barrier, referral) = (cfg.clone(), barrier.clone(), referral.clone());
                std::thread::spawn(move || -> anyhow::Result<Recorded> {
                    let mut c = pg::connect(&cfg)?;
                    let change = change(i);
                    barrier.wait();
                    pg::care::record(&mut c, &referral, &change)
                })
            })
            .collect();
        let results: Vec<Recorded> = clicks
            .into_iter()
            .map(|h| h.join().unwrap())
            .collect::<anyhow::Result<_>>()?;
        let done = results.iter().filter(|r| **r == Recorded::Done).count();
        assert_eq!(done, 1, "round {round}: {results:?}");
        let events = pg::care::events(&mut c, id)?;
        assert_eq!(events.len(), 1, "round {round}");
    }
    Ok(())
}

/// Click `i`: a final "non di competenza" or a "presa in carico"; each
/// excludes every other from "in attesa".
fn change(i: usize) -> Change {
    let mut c = Change {
        state: State::PresaInCarico,
        staff_name: Some(format!("Staff {i}")),
        planned_contact: None,
        target: None,
        outcome: None,
    };
    if i % 2 == 1 {
        c.state = State::NonDiCompetenza;
        c.staff_name = None;
        c.target = Some("servizi-territoriali".into());
    }
    c
}
