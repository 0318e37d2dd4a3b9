//! One set of store tests run against both stores: SQLite (one server) and
//! a real PostgreSQL started for the test (several replicas).

mod common;
#[path = "store_backends/register.rs"]
mod register;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Result;
use common::pg::Postgres;
use sportello_inbox::store::backend::{Backend, Sent, Sqlite};
use sportello_inbox::store::pg::{self, Job, Pg, PgConfig};
use sportello_inbox::store::{self, Accepted, NewReferral, Writer};

enum Store {
    Sqlite(tempfile::TempDir),
    Postgres(PgConfig),
}

impl Store {
    fn name(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }

    /// A new connection, as a second replica (or the same SQLite server) has.
    fn backend(&self) -> Box<dyn Backend> {
        match self {
            Store::Sqlite(dir) => Box::new(Sqlite::new(
                store::open(&dir.path().join("inbox.sqlite")).unwrap(),
            )),
            Store::Postgres(cfg) => Box::new(Pg::connect(cfg).unwrap()),
        }
    }

    /// How many servers may run on this store at once.
    fn replicas(&self) -> usize {
        match self {
            Store::Sqlite(_) => 1,
            Store::Postgres(_) => 3,
        }
    }

    fn operator(&self) -> i64 {
        match self {
            Store::Sqlite(dir) => {
                let c = store::open(&dir.path().join("inbox.sqlite")).unwrap();
                store::insert_operator(&c, "Op", "desk", "01", "ab", "2030-01-01T00:00:00Z")
                    .unwrap()
            }
            Store::Postgres(cfg) => pg::connect(cfg)
                .unwrap()
                .query_one(
                    "INSERT INTO operators(name, desk, cert_serial, cert_sha256, not_after,
                                           created_at)
                     VALUES ('Op', 'desk', '01', 'ab', '2030-01-01T00:00:00Z',
                             '2026-01-01T00:00:00Z')
                     RETURNING id",
                    &[],
                )
                .unwrap()
                .get(0),
        }
    }
}

/// Both stores, each empty; the PostgreSQL server lives as long as the guard.
fn stores(test: &str) -> (Postgres, Vec<Store>) {
    let pg = Postgres::start().expect("start PostgreSQL");
    let cfg = pg.database(test).expect("create the database");
    (
        pg,
        vec![
            Store::Sqlite(tempfile::tempdir().unwrap()),
            Store::Postgres(cfg),
        ],
    )
}

fn referral(operator_id: i64, n: u64, key: &str, content: &str) -> NewReferral {
    NewReferral {
        reference: format!("SEG-2026-{n:06}"),
        created_at: store::now_rfc3339(),
        desk: "desk".into(),
        operator_id,
        need_area: "casa".into(),
        urgency: sportello_inbox::kinds::Urgency::parse("ordinary").unwrap(),
        age_band: "65-74".into(),
        idempotency_key: key.into(),
        content_mac: content.into(),
        ciphertext: format!("ciphertext {n}").into_bytes(),
        token_sha256: None,
        reminder_ciphertext: None,
        municipality: "comune".into(),
    }
}

#[test]
fn group_commit_acknowledges_each_referral_once_on_both_stores() {
    let (_pg, stores) = stores("group_commit");
    let rt = tokio::runtime::Runtime::new().unwrap();
    for s in &stores {
        let op = s.operator();
        // One writer per replica, all committing at once.
        let writers: Vec<Writer> = (0..s.replicas())
            .map(|_| Writer::start_backend(s.backend()).unwrap())
            .collect();
        let results: Vec<Accepted> = rt.block_on(async {
            let mut tasks = Vec::new();
            for i in 0..300u64 {
                let w = writers[i as usize % writers.len()].clone();
                tasks.push(tokio::spawn(async move {
                    w.commit(referral(op, i + 1, &format!("k{i}"), "same"))
                        .await
                        .unwrap()
                }));
            }
            let mut out = Vec::new();
            for t in tasks {
                out.push(t.await.unwrap());
            }
            out
        });
        let refs: HashSet<String> = results
            .iter()
            .map(|a| match a {
                Accepted::New(r) => r.clone(),
                other => panic!("{}: {other:?}", s.name()),
            })
            .collect();
        assert_eq!(refs.len(), 300, "{}", s.name());
        // The same form again on another replica: the first reference.
        let again = rt
            .block_on(writers[writers.len() - 1].commit(referral(op, 999, "k7", "same")))
            .unwrap();
        assert_eq!(
            again,
            Accepted::Duplicate("SEG-2026-000008".into()),
            "{}",
            s.name()
        );
        let reused = rt
            .block_on(writers[0].commit(referral(op, 998, "k7", "other")))
            .unwrap();
        assert_eq!(
            reused,
            Accepted::KeyReused("SEG-2026-000008".into()),
            "{}",
            s.name()
        );
        // Every acknowledged one is in the queue, once.
        let mut b = s.backend();
        let mut delivered = HashSet::new();
        while let Some((r, _)) = b
            .deliver_next(&store::now_rfc3339(), false, &mut |_| Sent::Delivered)
            .unwrap()
        {
            assert!(delivered.insert(r), "{}", s.name());
        }
        assert_eq!(delivered, refs, "{}", s.name());
    }
}

#[test]
fn the_yearly_counter_has_no_gaps_or_repeats_under_contention() {
    let (_pg, stores) = stores("counter");
    for s in &stores {
        // SQLite: one server, its threads share its counter. PostgreSQL:
        // three replicas with two request threads each.
        let backends: Vec<Arc<Mutex<Box<dyn Backend>>>> = (0..s.replicas())
            .flat_map(|_| {
                let b = Arc::new(Mutex::new(s.backend()));
                [b.clone(), b]
            })
            .collect();
        let mut threads = Vec::new();
        for b in backends {
            threads.push(std::thread::spawn(move || {
                (0..50)
                    .map(|_| b.lock().unwrap().next_sequence(2026).unwrap())
                    .collect::<Vec<u64>>()
            }));
        }
        let mut all: Vec<u64> = threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        all.sort();
        let n = all.len() as u64;
        assert_eq!(all, (1..=n).collect::<Vec<_>>(), "{}", s.name());
        assert_eq!(s.backend().next_sequence(2027).unwrap(), 1, "{}", s.name());
    }
}

#[test]
fn workers_never_send_the_same_referral_at_once() {
    let (_pg, stores) = stores("workers");
    let rt = tokio::runtime::Runtime::new().unwrap();
    for s in &stores {
        let op = s.operator();
        let w = Writer::start_backend(s.backend()).unwrap();
        for i in 0..60u64 {
            rt.block_on(w.commit(referral(op, i + 1, &format!("k{i}"), "c")))
                .unwrap();
        }
        let in_flight = Arc::new(Mutex::new(HashSet::<String>::new()));
        let sent = Arc::new(Mutex::new(Vec::<String>::new()));
        let mut threads = Vec::new();
        for _ in 0..s.replicas() {
            let mut b = s.backend();
            let (in_flight, sent) = (in_flight.clone(), sent.clone());
            threads.push(std::thread::spawn(move || {
                let mut send = |d: &store::queue::Due| {
                    assert!(
                        in_flight.lock().unwrap().insert(d.reference.clone()),
                        "{} sent twice at once",
                        d.reference
                    );
                    // A slow SMTP server: the others run meanwhile.
                    std::thread::sleep(Duration::from_millis(5));
                    sent.lock().unwrap().push(d.reference.clone());
                    in_flight.lock().unwrap().remove(&d.reference);
                    Sent::Delivered
                };
                while b
                    .deliver_next(&store::now_rfc3339(), true, &mut send)
                    .unwrap()
                    .is_some()
                {}
            }));
        }
        for t in threads {
            t.join().unwrap();
        }
        let sent = sent.lock().unwrap();
        let unique: HashSet<&String> = sent.iter().collect();
        assert_eq!(sent.len(), 60, "{}: each sent once", s.name());
        assert_eq!(unique.len(), 60, "{}", s.name());
    }
}

#[test]
fn a_retry_waits_and_a_failure_is_final_on_both_stores() {
    let (_pg, stores) = stores("retry");
    let rt = tokio::runtime::Runtime::new().unwrap();
    for s in &stores {
        let op = s.operator();
        let w = Writer::start_backend(s.backend()).unwrap();
        rt.block_on(w.commit(referral(op, 1, "a", "c"))).unwrap();
        rt.block_on(w.commit(referral(op, 2, "b", "c"))).unwrap();
        let mut b = s.backend();
        let now = "2026-06-01T10:00:00Z";
        let later = "2026-06-01T10:05:00Z";
        let r = b
            .deliver_next(now, false, &mut |_| Sent::Retry {
                at: later.into(),
                error: "421".into(),
            })
            .unwrap();
        assert_eq!(r.unwrap().0, "SEG-2026-000001", "{}", s.name());
        let r = b
            .deliver_next(now, false, &mut |_| Sent::Failed("550".into()))
            .unwrap();
        assert_eq!(r.unwrap().0, "SEG-2026-000002", "{}", s.name());
        // Before its time nothing is due; then only the retried one.
        assert!(b
            .deliver_next(now, false, &mut |_| Sent::Delivered)
            .unwrap()
            .is_none());
        let r = b
            .deliver_next(later, false, &mut |d| {
                assert_eq!(d.attempts, 1);
                Sent::Delivered
            })
            .unwrap();
        assert_eq!(r.unwrap().0, "SEG-2026-000001", "{}", s.name());
        assert!(b
            .deliver_next("2027-01-01T00:00:00Z", false, &mut |_| Sent::Delivered)
            .unwrap()
            .is_none());
    }
}

#[test]
fn only_one_replica_runs_purge_or_reminders_at_a_time() -> Result<()> {
    let pg = Postgres::start()?;
    let cfg = pg.database("advisory")?;
    let mut a = Pg::connect(&cfg)?;
    let mut b = Pg::connect(&cfg)?;
    let mut inner = None;
    let ran = a.exclusive(Job::Purge, &mut || {
        // While replica A purges, B may not, but may send reminders.
        inner = Some((
            b.exclusive(Job::Purge, &mut || Ok(()))?,
            b.exclusive(Job::Reminders, &mut || Ok(()))?,
        ));
        Ok(())
    })?;
    assert!(ran);
    assert_eq!(inner, Some((false, true)));
    assert!(b.exclusive(Job::Purge, &mut || Ok(()))?);
    // A replica that dies holding the lock frees it with its connection.
    let mut c = pg::connect(&cfg)?;
    c.execute("SELECT pg_advisory_lock($1)", &[&Job::Reminders.key()])?;
    assert!(!b.exclusive(Job::Reminders, &mut || Ok(()))?);
    drop(c);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !b.exclusive(Job::Reminders, &mut || Ok(()))? {
        assert!(std::time::Instant::now() < deadline, "lock not released");
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

#[test]
fn a_commit_wakes_the_workers_of_every_replica() -> Result<()> {
    let pg = Postgres::start()?;
    let cfg = pg.database("notify")?;
    let mut listener = pg::connect(&cfg)?;
    pg::listen(&mut listener)?;
    assert!(!pg::wait_queued(&mut listener, Duration::from_millis(300))?);
    let op: i64 = pg::connect(&cfg)?
        .query_one(
            "INSERT INTO operators(name, desk, cert_serial, cert_sha256, not_after, created_at)
             VALUES ('Op', 'desk', '01', 'ab', '2030-01-01T00:00:00Z', '2026-01-01T00:00:00Z')
             RETURNING id",
            &[],
        )?
        .get(0);
    let mut other = Pg::connect(&cfg)?;
    other.commit_batch(&[&referral(op, 1, "k", "c")])?;
    assert!(pg::wait_queued(&mut listener, Duration::from_secs(10))?);
    // A duplicate queues nothing and wakes nobody.
    other.commit_batch(&[&referral(op, 2, "k", "c")])?;
    assert!(!pg::wait_queued(&mut listener, Duration::from_millis(300))?);
    Ok(())
}

#[test]
fn migrations_run_once_with_replicas_starting_together() -> Result<()> {
    let pg = Postgres::start()?;
    pg.client()?.batch_execute("CREATE DATABASE fresh")?;
    let mut cfg = pg.config.clone();
    cfg.url = format!("postgresql://inbox@127.0.0.1:{}/fresh", pg.port);
    let threads: Vec<_> = (0..3)
        .map(|_| {
            let cfg = cfg.clone();
            std::thread::spawn(move || pg::migrate(&mut pg::connect(&cfg).unwrap()).unwrap())
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut c = pg::connect(&cfg)?;
    // Both stores have the same versions: a migration added to one
    // without the other fails here.
    assert_eq!(pg::MIGRATIONS.len(), store::MIGRATIONS.len());
    assert_eq!(pg::schema_version(&mut c)?, store::MIGRATIONS.len());
    let rows: i64 = c
        .query_one("SELECT count(*) FROM inbox.schema_migrations", &[])?
        .get(0);
    assert_eq!(rows as usize, store::MIGRATIONS.len());
    Ok(())
}

#[test]
fn the_connection_refuses_a_password_in_the_url_and_an_unknown_ca() -> Result<()> {
    let pg = Postgres::start()?;
    let mut cfg = pg.config.clone();
    cfg.url = format!("postgresql://inbox:secret@127.0.0.1:{}/postgres", pg.port);
    let e = pg::connect(&cfg).err().expect("password in URL accepted");
    assert!(format!("{e:#}").contains("password_file"), "{e:#}");
    // A server whose certificate the CA file does not vouch for.
    let other = common::smtp::tls_files(&pg.dir.path().join("other"))?;
    let mut cfg = pg.config.clone();
    cfg.ca_file = other.ca;
    assert!(pg::connect(&cfg).is_err());
    Ok(())
}

#[test]
fn a_writer_reconnects_after_the_server_closed_its_connection() -> Result<()> {
    let pg = Postgres::start()?;
    let cfg = pg.database("reconnect")?;
    let store = Store::Postgres(cfg.clone());
    let op = store.operator();
    let rt = tokio::runtime::Runtime::new()?;
    let w = Writer::start_backend(store.backend())?;
    rt.block_on(w.commit(referral(op, 1, "a", "c")))?;
    // A restart or fail-over closes every session of the database.
    let mut admin = pg.client()?;
    let closed: i64 = admin
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
             WHERE datname = 'reconnect' AND pid <> pg_backend_pid()",
            &[],
        )?
        .get(0);
    assert!(closed >= 1);
    std::thread::sleep(Duration::from_millis(200));
    let mut failed = Vec::new();
    let mut stored = None;
    for n in 2..5u64 {
        match rt.block_on(w.commit(referral(op, n, &format!("k{n}"), "c"))) {
            Ok(a) => {
                stored = Some(a);
                break;
            }
            Err(_) => failed.push(format!("SEG-2026-{n:06}")),
        }
    }
    assert!(failed.len() <= 1, "did not reconnect: {failed:?}");
    assert!(matches!(stored, Some(Accepted::New(_))));
    // What was refused was not stored either.
    let mut c = pg::connect(&cfg)?;
    for r in &failed {
        assert!(c
            .query_opt("SELECT 1 FROM referrals WHERE reference = $1", &[r])?
            .is_none());
    }
    Ok(())
}

#[test]
fn one_key_twice_in_one_batch_is_stored_once_on_both_stores() {
    let (_pg, stores) = stores("same_batch");
    for s in &stores {
        let op = s.operator();
        let mut b = s.backend();
        let (first, again, other, next) = (
            referral(op, 1, "k", "c"),
            referral(op, 2, "k", "c"),
            referral(op, 3, "k", "changed"),
            referral(op, 4, "k2", "c"),
        );
        let out = b.commit_batch(&[&first, &again, &other, &next]).unwrap();
        let r1 = "SEG-2026-000001".to_string();
        assert_eq!(
            out,
            vec![
                Accepted::New(r1.clone()),
                Accepted::Duplicate(r1.clone()),
                Accepted::KeyReused(r1),
                Accepted::New("SEG-2026-000004".into()),
            ],
            "{}",
            s.name()
        );
    }
}
