//! Replicas on one real PostgreSQL, as separate processes (this test binary
//! run again as `replica_process`): each commits referrals through its
//! group-commit writer and prints a reference only after the commit, and
//! runs three delivery workers that mail each referral as PGP/MIME to a
//! real aiosmtpd (STARTTLS, Maildir), noting begin and end in a shared log.
//! One replica is killed with SIGKILL during the load, again and again.
//! Each of a dead replica's workers may have been mid-send: that referral
//! (and only that) is sent once more, with the same Message-ID.

mod common;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::pg::Postgres;
use sportello_inbox::config::Mail;
use sportello_inbox::deliver::{mime, smtp};
use sportello_inbox::store::backend::{Backend, Sent};
use sportello_inbox::store::pg::{self, Pg, PgConfig};
use sportello_inbox::store::{self, Accepted, NewReferral, Writer};

const WORKERS: usize = 3;

fn config_from_env() -> Option<PgConfig> {
    Some(PgConfig {
        url: std::env::var("REPLICA_PG_URL").ok()?,
        password_file: std::env::var_os("REPLICA_PG_PASSWORD").map(Into::into),
        ca_file: std::env::var_os("REPLICA_PG_CA")?.into(),
    })
}

/// The replica's body; a no-op when run as an ordinary test.
#[test]
fn replica_process() {
    let Some(cfg) = config_from_env() else {
        return;
    };
    let submit = std::env::var("REPLICA_SUBMIT").as_deref() == Ok("1");
    let log = std::env::var("REPLICA_LOG").unwrap();
    let operator: i64 = std::env::var("REPLICA_OPERATOR").unwrap().parse().unwrap();
    let idle = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..WORKERS)
        .map(|w| {
            let (cfg, log, idle) = (cfg.clone(), log.clone(), idle.clone());
            std::thread::spawn(move || deliver(&cfg, &log, w, &idle, submit))
        })
        .collect();
    if submit {
        load(&cfg, operator);
    }
    for w in workers {
        w.join().unwrap();
    }
}

fn deliver(cfg: &PgConfig, log: &str, worker: usize, idle: &AtomicU64, forever: bool) {
    let mut b = Pg::connect(cfg).unwrap();
    let mut listener = pg::connect(cfg).unwrap();
    pg::listen(&mut listener).unwrap();
    let pid = std::process::id();
    let mut file = std::fs::OpenOptions::new().append(true).open(log).unwrap();
    let section: toml::Table = toml::from_str(&std::env::var("REPLICA_MAIL").unwrap()).unwrap();
    let mail: Mail = section["mail"].clone().try_into().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let transport = rt.block_on(async { smtp::transport(&mail).unwrap() });
    let mut send = |d: &store::queue::Due| {
        // One write per line (O_APPEND): lines of all processes interleave whole.
        file.write_all(format!("begin {} {pid}.{worker}\n", d.reference).as_bytes())
            .unwrap();
        let msg = mime::referral(&mail, &d.reference, d.urgency, &d.ciphertext).unwrap();
        match rt.block_on(smtp::send(&transport, &mail, msg)) {
            Ok(()) => {
                file.write_all(format!("end {} {pid}.{worker}\n", d.reference).as_bytes())
                    .unwrap();
                Sent::Delivered
            }
            Err(e) => {
                file.write_all(format!("fail {} {pid}.{worker}\n", d.reference).as_bytes())
                    .unwrap();
                Sent::Retry {
                    at: store::rfc3339(
                        time::OffsetDateTime::now_utc() + time::Duration::seconds(1),
                    ),
                    error: e.message().to_string(),
                }
            }
        }
    };
    loop {
        let now = store::now_rfc3339();
        if b.deliver_next(&now, false, &mut send).unwrap().is_some() {
            idle.store(0, Ordering::Relaxed);
            continue;
        }
        if !pg::wait_queued(&mut listener, Duration::from_millis(300)).unwrap() && !forever {
            // Draining: stop when no worker found anything for a while.
            if idle.fetch_add(1, Ordering::Relaxed) > 10 * WORKERS as u64 {
                return;
            }
        }
    }
}

fn load(cfg: &PgConfig, operator: i64) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let writer = Writer::start_backend(Box::new(Pg::connect(cfg).unwrap())).unwrap();
    let counter = Arc::new(Mutex::new(Pg::connect(cfg).unwrap()));
    let n = Arc::new(AtomicU64::new(0));
    let pid = std::process::id();
    rt.block_on(async {
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let (writer, counter, n) = (writer.clone(), counter.clone(), n.clone());
                tokio::spawn(async move {
                    loop {
                        let i = n.fetch_add(1, Ordering::Relaxed);
                        // The sync client blocks: off the async threads, as
                        // the web handlers would call it.
                        let c = counter.clone();
                        let seq = tokio::task::spawn_blocking(move || {
                            c.lock().unwrap().next_sequence(2026).unwrap()
                        })
                        .await
                        .unwrap();
                        let reference = format!("SEG-2026-{seq:06}");
                        let r = NewReferral {
                            reference: reference.clone(),
                            created_at: store::now_rfc3339(),
                            desk: "desk".into(),
                            operator_id: operator,
                            need_area: "casa".into(),
                            urgency: sportello_inbox::kinds::Urgency::parse("ordinary").unwrap(),
                            age_band: "65-74".into(),
                            idempotency_key: format!("{pid}-{i}"),
                            content_mac: "mac".into(),
                            ciphertext: vec![0x5a; 2500],
                            token_sha256: None,
                            reminder_ciphertext: None,
                            municipality: "comune".into(),
                        };
                        if let Ok(Accepted::New(r)) = writer.commit(r).await {
                            let mut out = std::io::stdout().lock();
                            writeln!(out, "ACK {r}").unwrap();
                            out.flush().unwrap();
                        }
                        // Paced, so that what the draining replica has to
                        // send does not grow with the speed of a commit:
                        // unpaced, a faster reference counter made 6,500
                        // referrals and a drain of 110 s.
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                })
            })
            .collect();
        for t in tasks {
            let _ = t.await;
        }
    });
}

struct Replica {
    child: Child,
    pid: u32,
}

fn spawn(
    mail: &str,
    cfg: &PgConfig,
    log: &str,
    op: i64,
    submit: bool,
    acks: &Arc<Mutex<HashSet<String>>>,
) -> Replica {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "replica_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("REPLICA_PG_URL", &cfg.url)
        .env("REPLICA_PG_PASSWORD", cfg.password_file.as_ref().unwrap())
        .env("REPLICA_PG_CA", &cfg.ca_file)
        .env("REPLICA_LOG", log)
        .env("REPLICA_MAIL", mail)
        .env("REPLICA_OPERATOR", op.to_string())
        .env("REPLICA_SUBMIT", if submit { "1" } else { "0" })
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let acks = acks.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if let Some(r) = line.strip_prefix("ACK ") {
                acks.lock().unwrap().insert(r.to_string());
            }
        }
    });
    Replica {
        pid: child.id(),
        child,
    }
}

fn kill9(r: &mut Replica, killed: &mut HashSet<u32>) {
    r.child.kill().unwrap(); // SIGKILL
    r.child.wait().unwrap();
    killed.insert(r.pid);
}

#[test]
fn replicas_killed_during_the_load_lose_nothing_and_send_each_referral_once_at_a_time() {
    let pg = Postgres::start().unwrap();
    let cfg = pg.database("replicas").unwrap();
    let op = pg::insert_operator(
        &mut pg::connect(&cfg).unwrap(),
        "Op",
        "desk",
        "01",
        "ab",
        "2030-01-01T00:00:00Z",
    )
    .unwrap();
    let tls = common::smtp::tls_files(&pg.dir.path().join("mailtls")).unwrap();
    let port = common::smtp::free_port().unwrap();
    let maildir = pg.dir.path().join("Maildir");
    let _smtp = common::smtp::Smtp::start(
        port,
        &maildir,
        &tls,
        common::smtp::Security::Starttls,
        common::smtp::Handler::Mailbox,
        &pg.dir.path().join("smtp.log"),
    )
    .unwrap();
    let mail = common::smtp::mail_section(port, &tls.ca, "starttls", "staff@comune.example");
    let log = pg.dir.path().join("sent.log");
    std::fs::write(&log, "").unwrap();
    let log_s = log.display().to_string();
    let acks = Arc::new(Mutex::new(HashSet::new()));
    let mut killed = HashSet::new();
    let mut a = spawn(&mail, &cfg, &log_s, op, true, &acks);
    let mut b = spawn(&mail, &cfg, &log_s, op, true, &acks);
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(1500));
        kill9(&mut b, &mut killed);
        b = spawn(&mail, &cfg, &log_s, op, true, &acks);
    }
    std::thread::sleep(Duration::from_millis(1500));
    kill9(&mut a, &mut killed);
    kill9(&mut b, &mut killed);
    // A fresh replica delivers what is left, then stops.
    let mut drain = spawn(&mail, &cfg, &log_s, op, false, &acks);
    let deadline = Instant::now() + Duration::from_secs(120);
    let started = Instant::now();
    while drain.child.try_wait().unwrap().is_none() {
        if Instant::now() >= deadline {
            let mut c = pg::connect(&cfg).unwrap();
            let by: Vec<(String, i64)> = c
                .query(
                    "SELECT status, COUNT(*) FROM referrals GROUP BY 1 ORDER BY 1",
                    &[],
                )
                .unwrap()
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect();
            panic!("the draining replica did not finish in 120 s; referrals by status: {by:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("drained in {:.1?}", started.elapsed());
    assert!(drain.child.wait().unwrap().success());
    std::thread::sleep(Duration::from_millis(200));
    let acks = acks.lock().unwrap().clone();
    assert!(
        acks.len() > 100,
        "too little load: {} acknowledged",
        acks.len()
    );

    // Every acknowledged referral is stored and delivered.
    let mut c = pg::connect(&cfg).unwrap();
    let rows: HashMap<String, String> = c
        .query("SELECT reference, status FROM referrals", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    for r in &acks {
        assert_eq!(rows.get(r).map(String::as_str), Some("delivered"), "{r}");
    }

    // The log: sends of a reference never overlap, except one cut short
    // by a kill; duplicates at most one per crash.
    let text = std::fs::read_to_string(&log).unwrap();
    let mut events: HashMap<&str, Vec<(&str, &str)>> = HashMap::new();
    for line in text.lines() {
        let mut p = line.split(' ');
        let (kind, r, who) = (p.next().unwrap(), p.next().unwrap(), p.next().unwrap());
        events.entry(r).or_default().push((kind, who));
    }
    let crashes = killed.len();
    let mails = common::smtp::mails(&maildir);
    let mut mail_ids: HashMap<String, usize> = HashMap::new();
    for (_, m) in &mails {
        let id = common::smtp::header(m, "Message-ID").expect("a Message-ID");
        *mail_ids.entry(id.trim().to_string()).or_default() += 1;
    }
    let pid_of = |who: &str| -> u32 { who.split('.').next().unwrap().parse().unwrap() };
    let mut duplicates = 0;
    for (r, ev) in &events {
        let mut open: Option<&str> = None;
        let mut senders = Vec::new();
        for (kind, who) in ev {
            match *kind {
                "begin" => {
                    if let Some(o) = open {
                        assert!(
                            killed.contains(&pid_of(o)),
                            "{r}: sent by {o} and {who} at once"
                        );
                    }
                    open = Some(who);
                    senders.push(*who);
                }
                "fail" => {
                    // Not delivered: the worker retries it later.
                    assert_eq!(open, Some(*who), "{r}: fail without its begin");
                    open = None;
                    senders.pop();
                }
                _ => {
                    assert_eq!(open, Some(*who), "{r}: end without its begin");
                    open = None;
                }
            }
        }
        // A referral is sent again only because its sender died before
        // committing: one duplicate per crashed worker that held it.
        for who in &senders[..senders.len() - 1] {
            assert!(
                killed.contains(&pid_of(who)),
                "{r}: sent again after {who}, which lived"
            );
        }
        duplicates += senders.len().saturating_sub(1);
        // The mails in the Maildir: at least one, more only for those sends.
        let id = mime::message_id(r, "comune.example");
        let n = mail_ids.get(id.as_str()).copied().unwrap_or(0);
        assert!(n >= 1 || !acks.contains(*r), "{r}: acknowledged, no mail");
        assert!(
            n <= senders.len().max(1),
            "{r}: {n} mails for {} sends",
            senders.len()
        );
    }
    for r in &acks {
        assert!(events.contains_key(r.as_str()), "{r} never sent");
    }
    assert!(
        duplicates <= crashes * WORKERS,
        "{duplicates} duplicate sends for {crashes} crashed replicas of {WORKERS} workers"
    );
    eprintln!(
        "{} acknowledged, {} mails, {duplicates} duplicates, {crashes} crashes",
        acks.len(),
        mails.len()
    );
}
