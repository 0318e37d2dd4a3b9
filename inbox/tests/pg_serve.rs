//! `sportello-inbox serve` on PostgreSQL: two replicas (two `serve`
//! processes of the same configuration) on one real PostgreSQL, a real
//! aiosmtpd (STARTTLS, Maildir), operators submitting over mutual TLS to
//! both. Every acknowledged referral is stored once, delivered once (by
//! whichever replica's worker took it first) and decrypts with GnuPG; the
//! SQLite file of the data directory stays empty. Then one replica is
//! killed with SIGKILL during the load: nothing acknowledged is lost.

mod common;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::pg::Postgres;
use common::smtp;
use common::*;

const CLIENTS_PER_REPLICA: usize = 4;

/// A fixture whose inbox.toml has `[store] kind = "postgres"` on a fresh,
/// unmigrated database (`serve` migrates it), the staff key and two
/// operators added through the CLI (so into PostgreSQL), and aiosmtpd.
struct Setup {
    pg: Postgres,
    pg_url: String,
    fx: Fixture,
    ops: Vec<Identity>,
    _smtp: smtp::Smtp,
    maildir: std::path::PathBuf,
}

fn setup() -> anyhow::Result<Setup> {
    setup_with(smtp::Handler::Mailbox, "staff@comune.example")
}

fn setup_with(handler: smtp::Handler, to: &str) -> anyhow::Result<Setup> {
    smtp::require_aiosmtpd();
    let pg = Postgres::start()?;
    let fx = Fixture::new(100_000, 100_000)?;
    let url = common::pg::use_postgres(&fx, &pg, "served")?;
    fx.add_staff("Staff Esempio", &fx.staff.public_armored, &[])?;
    let ops = vec![
        fx.add_operator("Giulia Esempio", "via-mantova")?,
        fx.add_operator("Marta Esempio", "via-mantova")?,
    ];
    let (smtp, maildir) =
        smtp::start_server(&fx, smtp::Security::Starttls, handler, "starttls", to)?;
    Ok(Setup {
        pg_url: url,
        pg,
        fx,
        ops,
        _smtp: smtp,
        maildir,
    })
}

impl Setup {
    fn pg(&self) -> anyhow::Result<postgres::Client> {
        let mut cfg = self.pg.config.clone();
        cfg.url = self.pg_url.clone();
        sportello_inbox::store::pg::connect(&cfg)
    }

    fn start(&self, name: &str) -> anyhow::Result<Server> {
        Server::start(
            &self.fx.config,
            &self.fx.dir.path().join(format!("{name}.log")),
        )
    }

    /// (reference, status) of every stored referral.
    /// (The sync client must not run on the test's async threads.)
    fn stored(&self) -> anyhow::Result<HashMap<String, String>> {
        tokio::task::block_in_place(|| {
            Ok(self
                .pg()?
                .query("SELECT reference, status FROM inbox.referrals", &[])?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect())
        })
    }
}

/// Submitters on `addr` until `per_client` each are acknowledged or the
/// server goes away; the acknowledged references.
fn load(
    addr: SocketAddr,
    ca: &[rustls::pki_types::CertificateDer<'static>],
    ops: &[Identity],
    per_client: usize,
    acked: Arc<Mutex<Vec<String>>>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..CLIENTS_PER_REPLICA)
        .map(|i| {
            let (ca, op, acked) = (ca.to_vec(), ops[i % ops.len()].clone(), acked.clone());
            tokio::spawn(async move {
                let Ok(mut c) = connect(addr, &ca, Some(&op)).await else {
                    return;
                };
                for _ in 0..per_client {
                    match submit(&mut c, valid_fields("", "")).await {
                        Ok(r) => acked.lock().unwrap().push(r),
                        Err(_) => return, // the replica is gone
                    }
                }
            })
        })
        .collect()
}

fn message_ids(maildir: &Path) -> Vec<(String, String)> {
    smtp::mails(maildir)
        .into_iter()
        .filter_map(|(_, t)| Some((smtp::header(&t, "Message-ID")?, t)))
        .collect()
}

fn wait_delivered(maildir: &Path, acked: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    let want: HashSet<String> = acked
        .iter()
        .map(|r| format!("<{r}@comune.example>"))
        .collect();
    let start = Instant::now();
    loop {
        let mails = message_ids(maildir);
        let got: HashSet<&String> = mails.iter().map(|(id, _)| id).collect();
        let missing = want.iter().filter(|w| !got.contains(w)).count();
        if missing == 0 {
            return Ok(mails);
        }
        if start.elapsed() > Duration::from_secs(180) {
            anyhow::bail!("{missing} acknowledged referrals not delivered after 180 s");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Decrypts each mail's PGP/MIME body with GnuPG (one keyring, imported
/// once) and checks it names its own reference.
fn gpg_decrypts(fx: &Fixture, mails: &[(String, String)]) {
    let home = fx.dir.path().join("gnupg");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).unwrap();
    let key = fx.dir.path().join("staff-secret.asc");
    std::fs::write(
        &key,
        fx.staff
            .secret
            .to_armored_string(pgp::composed::ArmorOptions::default())
            .unwrap(),
    )
    .unwrap();
    let gpg = |args: &[&str]| {
        std::process::Command::new("gpg")
            .arg("--homedir")
            .arg(&home)
            .args([
                "--batch",
                "--yes",
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                "",
            ])
            .args(args)
            .output()
            .expect("gpg (apt-get install gnupg)")
    };
    let imp = gpg(&["--import", key.to_str().unwrap()]);
    assert!(
        imp.status.success(),
        "gpg --import: {}",
        String::from_utf8_lossy(&imp.stderr)
    );
    let msg = fx.dir.path().join("mail.asc");
    for (id, text) in mails {
        let start = text
            .find("-----BEGIN PGP MESSAGE-----")
            .expect("a PGP message");
        let end = text.find("-----END PGP MESSAGE-----").expect("its end") + 25;
        std::fs::write(&msg, &text[start..end]).unwrap();
        let dec = gpg(&["--decrypt", msg.to_str().unwrap()]);
        assert!(
            dec.status.success(),
            "gpg --decrypt {id}: {}",
            String::from_utf8_lossy(&dec.stderr)
        );
        let reference = id.trim_start_matches('<').split('@').next().unwrap();
        assert!(
            String::from_utf8_lossy(&dec.stdout).contains(reference),
            "the mail {id} does not hold its reference"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_serve_replicas_on_postgres_store_and_deliver_each_referral_once() -> anyhow::Result<()>
{
    let s = tokio::task::block_in_place(setup)?;
    let a = s.start("replica-a")?;
    let b = s.start("replica-b")?;
    assert_ne!(a.https, b.https);

    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut tasks = load(a.https, &s.fx.ca, &s.ops, 15, acked.clone());
    tasks.extend(load(b.https, &s.fx.ca, &s.ops, 15, acked.clone()));
    for t in tasks {
        t.await?;
    }
    let acked = acked.lock().unwrap().clone();
    assert_eq!(
        acked.len(),
        2 * CLIENTS_PER_REPLICA * 15,
        "every submission acknowledged"
    );
    let unique: HashSet<&String> = acked.iter().collect();
    assert_eq!(
        unique.len(),
        acked.len(),
        "a reference handed out twice across replicas"
    );

    let mails = wait_delivered(&s.maildir, &acked)?;
    let mut count: HashMap<&str, usize> = HashMap::new();
    for (id, _) in &mails {
        *count.entry(id.as_str()).or_default() += 1;
    }
    let twice: Vec<_> = count.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "sent more than once: {twice:?}");
    assert_eq!(
        mails.len(),
        acked.len(),
        "a mail for something not acknowledged"
    );

    // Stored in PostgreSQL, delivered, and nothing in the SQLite file.
    let stored = s.stored()?;
    assert_eq!(stored.len(), acked.len());
    let start = Instant::now();
    loop {
        let stored = s.stored()?;
        if acked
            .iter()
            .all(|r| stored.get(r).map(String::as_str) == Some("delivered"))
        {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "not all marked delivered"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        s.fx.referral_count(),
        0,
        "a referral went to the SQLite file"
    );

    // Both replicas' workers delivered (each took what it found first).
    let logs: Vec<String> = ["replica-a", "replica-b"]
        .iter()
        .map(|n| std::fs::read_to_string(s.fx.dir.path().join(format!("{n}.log"))).unwrap())
        .collect();
    for l in &logs {
        assert!(l.contains("delivery workers started (PostgreSQL)"), "{l}");
    }

    // The confirmation page of a referral submitted through A is served by B.
    let mut c = connect(b.https, &s.fx.ca, Some(&s.ops[0])).await?;
    let list = c.get("/segnalazioni").await?;
    assert_eq!(list.status, 200, "{}", list.body);

    gpg_decrypts(&s.fx, &mails);

    // SIGTERM: a replica on PostgreSQL stops its workers and exits cleanly.
    let mut b = b;
    let st = std::process::Command::new("kill")
        .args(["-TERM", &b.child.id().to_string()])
        .status()?;
    assert!(st.success());
    let start = Instant::now();
    let code = loop {
        if let Some(code) = b.child.try_wait()? {
            break code;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "still running after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(code.success(), "exit after SIGTERM: {code}");
    drop(a);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_killed_during_the_load_loses_nothing_acknowledged() -> anyhow::Result<()> {
    let s = tokio::task::block_in_place(setup)?;
    let mut a = s.start("replica-a")?;
    let b = s.start("replica-b")?;
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut tasks = load(a.https, &s.fx.ca, &s.ops, 60, acked.clone());
    tasks.extend(load(b.https, &s.fx.ca, &s.ops, 30, acked.clone()));
    // Kill A once it has acknowledged some and mails are going out.
    let start = Instant::now();
    while acked.lock().unwrap().len() < 60 || smtp::mails(&s.maildir).len() < 10 {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the load did not start"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    a.kill();
    for t in tasks {
        t.await?;
    }
    let acked = acked.lock().unwrap().clone();
    eprintln!("{} acknowledged across the kill", acked.len());
    // B alone drains the queue, A's referrals included.
    let mails = wait_delivered(&s.maildir, &acked)?;
    let stored = s.stored()?;
    for r in &acked {
        assert!(stored.contains_key(r), "{r} acknowledged but not stored");
    }
    // A mail twice only for what A's workers held when killed (same
    // Message-ID); never more than one extra per worker.
    let mut count: HashMap<&str, usize> = HashMap::new();
    for (id, _) in &mails {
        *count.entry(id.as_str()).or_default() += 1;
    }
    let extra: usize = count.values().map(|n| n - 1).sum();
    assert!(
        extra <= 2,
        "{extra} duplicates for one killed replica with 2 workers"
    );
    drop(b);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_commands_and_a_revocation_on_postgres() -> anyhow::Result<()> {
    let s = tokio::task::block_in_place(setup)?;
    let cfg = s.fx.config_str();
    let staff = bin(&["staff", "list", "--config", cfg])?;
    assert!(staff.contains("Staff Esempio"), "{staff}");
    let ops = bin(&["operator", "list", "--config", cfg])?;
    assert!(
        ops.contains("Giulia Esempio") && ops.contains("Marta Esempio"),
        "{ops}"
    );
    let munis = bin(&["municipality", "list", "--config", cfg])?;
    assert!(
        munis.lines().nth(1).is_some_and(|l| l.contains("   1  ")),
        "{munis}"
    );

    let a = s.start("replica-a")?;
    let b = s.start("replica-b")?;
    let (giulia, marta) = (&s.ops[0], &s.ops[1]);
    let mut on_a = connect(a.https, &s.fx.ca, Some(giulia)).await?;
    let reference = submit(&mut on_a, valid_fields("", "")).await?;
    // Opened before the revocation, on the other replica.
    let mut on_b = connect(b.https, &s.fx.ca, Some(giulia)).await?;
    let page = on_b.get(&format!("/segnalazioni/{reference}")).await?;
    assert_eq!(page.status, 200, "B shows what A stored");

    // `stats` and `report` read a snapshot of PostgreSQL's metadata.
    let stats = bin(&["stats", "--config", cfg, "--by", "desk"])?;
    assert!(
        stats
            .lines()
            .any(|l| l.starts_with("via-mantova") && l.trim_end().ends_with(" 1")),
        "{stats}"
    );
    let today = time::OffsetDateTime::now_utc().date().to_string();
    let out_dir = s.fx.dir.path().join("riunione");
    let said = bin(&[
        "report",
        "--config",
        cfg,
        "--from",
        &today,
        "--to",
        &today,
        "--out",
        out_dir.to_str().unwrap(),
    ])?;
    assert!(said.contains("report.html"), "{said}");
    let json = std::fs::read_to_string(out_dir.join("report.json"))?;
    assert!(json.contains("via-mantova"), "{json}");

    bin(&[
        "operator",
        "revoke",
        "--config",
        cfg,
        &giulia.id.to_string(),
    ])?;
    // B looks the operator up in the database again within 5 s: the open
    // connection is refused, the other operator is not.
    tokio::time::sleep(Duration::from_millis(5300)).await;
    assert_eq!(on_b.get("/").await?.status, 403);
    let mut m = connect(b.https, &s.fx.ca, Some(marta)).await?;
    assert_eq!(m.get("/").await?.status, 200);
    let again = connect(a.https, &s.fx.ca, Some(giulia)).await;
    match again {
        Err(_) => {}
        Ok(mut c) => assert!(c.get("/").await.map_or(true, |r| r.status == 403)),
    }

    // Backup through pg_dump: private, never overwritten.
    let out = s.fx.dir.path().join("backup.pgdump");
    let said = bin(&["backup", "--config", cfg, out.to_str().unwrap()])?;
    assert!(said.contains("backup written"), "{said}");
    let meta = std::fs::metadata(&out)?;
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert!(std::fs::read(&out)?.starts_with(b"PGDMP"));
    assert!(bin(&["backup", "--config", cfg, out.to_str().unwrap()]).is_err());
    let purged = bin(&["purge", "--config", cfg])?;
    assert!(purged.starts_with("purged:"), "{purged}");

    // Clear errors at start-up, naming the key; the password never shown.
    let pw = s.fx.dir.path().join("pg-password");
    std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o644))?;
    let e = bin(&["operator", "list", "--config", cfg])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("[store] password_file") && e.contains("chmod 600"),
        "{e}"
    );
    std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o600))?;
    let text = std::fs::read_to_string(&s.fx.config)?;
    let with_password = text.replace(
        "postgresql://inbox@",
        "postgresql://inbox:inbox-test-password@",
    );
    let bad = s.fx.dir.path().join("bad.toml");
    std::fs::write(&bad, with_password)?;
    let out = std::process::Command::new(BIN)
        .args(["serve", "--config", bad.to_str().unwrap()])
        .output()?;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("[store] url must not hold the password"),
        "{err}"
    );
    assert!(
        !err.contains("inbox-test-password"),
        "the password was shown: {err}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_referral_is_notified_once_across_replicas_and_queue_retry_wakes_them(
) -> anyhow::Result<()> {
    // The mail server refuses the staff's address for good (550).
    let s = tokio::task::block_in_place(|| {
        setup_with(smtp::Handler::RejectSome, "rifiuta@comune.example")
    })?;
    let cfg = s.fx.config_str();
    let a = s.start("replica-a")?;
    let b = s.start("replica-b")?;
    let mut acked = Vec::new();
    for (i, addr) in [a.https, b.https, a.https, b.https, a.https, b.https]
        .iter()
        .enumerate()
    {
        let mut c = connect(*addr, &s.fx.ca, Some(&s.ops[i % 2])).await?;
        acked.push(submit(&mut c, valid_fields("", "")).await?);
    }
    let notices = |maildir: &Path| -> Vec<String> {
        smtp::mails(maildir)
            .iter()
            .filter_map(|(_, t)| smtp::header(t, "Subject"))
            .filter_map(|sub| {
                sub.strip_prefix("Consegna non riuscita: ")
                    .map(str::to_string)
            })
            .collect()
    };
    let start = Instant::now();
    while notices(&s.maildir).len() < acked.len() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "notices missing: {:?}",
            notices(&s.maildir)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Both replicas' four workers looked: still one notice per referral.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut got = notices(&s.maildir);
    got.sort();
    let mut want = acked.clone();
    want.sort();
    assert_eq!(got, want, "one notice per failed referral, none twice");

    let listed = bin(&["queue", "list", "--config", cfg, "--status", "failed"])?;
    for r in &acked {
        assert!(listed.contains(r.as_str()), "{listed}");
    }
    // `queue retry` through the CLI: a replica tries again at once, it
    // fails again, and a new notice follows.
    bin(&["queue", "retry", "--config", cfg, &acked[0]])?;
    let start = Instant::now();
    while notices(&s.maildir).len() < acked.len() + 1 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no new attempt after queue retry"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        notices(&s.maildir)
            .iter()
            .filter(|r| **r == acked[0])
            .count(),
        2
    );
    let stored = s.stored()?;
    assert!(acked
        .iter()
        .all(|r| stored.get(r).map(String::as_str) == Some("failed")));
    drop((a, b));
    Ok(())
}
