//! The failures found by trying to break the inbox, each reproduced against
//! the real binary: a mail server that says nothing, one that hangs after
//! DATA, a form reused for another person, an expired certificate on a
//! resumed TLS session, idle sockets, slow bodies, requests without Host,
//! invalid UTF-8, and configuration values out of range.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::smtp::{self, Handler, Security};
use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Polls `f` every 100 ms until it returns `Some`, or fails after `limit`.
fn wait_until<T>(limit: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// GET /healthz on the plain health listener: (status, body).
fn healthz(addr: SocketAddr) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n")
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = out.split("\r\n\r\n").nth(1).unwrap_or_default().to_string();
    (status, body)
}

/// A "mail server" that accepts TCP connections and never says a word.
fn silent_server() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in l.incoming().flatten() {
            held.push(s);
        }
    });
    port
}

fn mail_at(fx: &Fixture, port: u16, timeout: u32) {
    let tls = smtp::tls_files(&fx.dir.path().join("mailtls")).unwrap();
    let section = smtp::mail_section(port, &tls.ca, "starttls", "staff@comune.example").replace(
        "timeout_seconds = 10",
        &format!("timeout_seconds = {timeout}"),
    );
    fx.configure(&[], &section).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_mail_server_is_a_timed_out_attempt_and_healthz_reports_the_stall() {
    let fx = Fixture::new(100, 100).unwrap();
    let port = silent_server();
    mail_at(&fx, port, 1);
    fx.configure(
        &[(
            "delivery_stalled_seconds = 900",
            "delivery_stalled_seconds = 10",
        )],
        "",
    )
    .unwrap();
    let op = fx.add_operator("Op", "cremona-centro").unwrap();
    let srv = fx.start(&fx.dir.path().join("server.log")).unwrap();
    let mut c = connect(srv.https, &fx.ca, Some(&op)).await.unwrap();
    let reference = submit(&mut c, valid_fields("", "")).await.unwrap();
    // Without a bound on every SMTP step the worker waits on the greeting
    // for ever: no attempt is ever recorded.
    let (attempts, err) = wait_until(Duration::from_secs(30), "two timed-out attempts", || {
        let (status, attempts, err) = fx.delivery(&reference).ok()?;
        (status == "queued" && attempts >= 2).then_some((attempts, err))
    });
    let err = err.unwrap_or_default();
    assert!(err.contains("timeout"), "attempt {attempts}: {err}");
    let (status, body) = wait_until(Duration::from_secs(40), "healthz 503", || {
        let (s, b) = healthz(srv.health);
        (s == 503).then_some((s, b))
    });
    assert_eq!(status, 503);
    assert!(body.contains("delivery"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_hangs_after_data_is_a_timed_out_attempt() {
    let fx = Fixture::new(100, 100).unwrap();
    let (_smtp, maildir) = smtp::start_server(
        &fx,
        Security::Starttls,
        Handler::SlowData,
        "starttls",
        "staff@comune.example",
    )
    .unwrap();
    // The section written by start_server says 10 s; the whole exchange
    // is bounded by twice that, far below the handler's 60 s.
    fx.configure(&[("timeout_seconds = 10", "timeout_seconds = 2")], "")
        .unwrap();
    let op = fx.add_operator("Op", "cremona-centro").unwrap();
    let srv = fx.start(&fx.dir.path().join("server.log")).unwrap();
    let mut c = connect(srv.https, &fx.ca, Some(&op)).await.unwrap();
    let reference = submit(&mut c, valid_fields("", "")).await.unwrap();
    let err = wait_until(Duration::from_secs(40), "a timed-out attempt", || {
        let (status, attempts, err) = fx.delivery(&reference).ok()?;
        (status == "queued" && attempts >= 1).then_some(err)
    });
    assert!(err.unwrap_or_default().contains("timeout"));
    drop(srv);
    let _ = maildir;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_form_is_refused_not_acknowledged() {
    let fx = Fixture::new(100, 100).unwrap();
    let op = fx.add_operator("Op", "cremona-centro").unwrap();
    let srv = fx.start(&fx.dir.path().join("server.log")).unwrap();
    let mut c = connect(srv.https, &fx.ca, Some(&op)).await.unwrap();
    let (csrf, key) = c.form_tokens().await.unwrap();
    let first = valid_fields(&csrf, &key);
    let r = c.post_form(&first).await.unwrap();
    assert_eq!(r.status, 303, "{}", r.body);
    let reference = r.location().unwrap();

    // The same form sent again (a double click, Back and resend): same answer.
    let again = c.post_form(&first).await.unwrap();
    assert_eq!(again.status, 303);
    assert_eq!(again.location().unwrap(), reference);

    // The same form filled in for somebody else: refused, with a new key.
    let mut second = first.clone();
    set(&mut second, "first_name", "Giuseppe");
    set(&mut second, "last_name", "Altroesempio");
    let r = c.post_form(&second).await.unwrap();
    assert_eq!(r.status, 409, "{}", r.body);
    let shown = reference.trim_start_matches("/segnalazioni/");
    assert!(r.body.contains(shown), "the page names the first referral");
    assert!(r.body.contains("NON sono stati registrati"), "{}", r.body);
    assert!(
        r.body.contains("Altroesempio"),
        "the typed values come back"
    );
    let fresh = hidden(&r.body, "idempotency_key").unwrap();
    assert_ne!(fresh, key);
    assert_eq!(
        fx.referral_count(),
        1,
        "nothing stored for the second person yet"
    );

    // Sent again from that page: a new referral of its own.
    let csrf2 = hidden(&r.body, "csrf").unwrap();
    set(&mut second, "idempotency_key", &fresh);
    set(&mut second, "csrf", &csrf2);
    let r = c.post_form(&second).await.unwrap();
    assert_eq!(r.status, 303, "{}", r.body);
    assert_ne!(r.location().unwrap(), reference);

    // After a 422 on a spent key, the corrected form carries a new key.
    let mut bad = first.clone();
    set(&mut bad, "first_name", "");
    let r = c.post_form(&bad).await.unwrap();
    assert_eq!(r.status, 422);
    assert_ne!(hidden(&r.body, "idempotency_key").unwrap(), key);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_certificate_is_refused_on_a_resumed_session() {
    let fx = Fixture::new(100, 100).unwrap();
    // A certificate that expires in a few seconds, recorded as operator.
    let data = fx.data_dir();
    let issuer =
        sportello_inbox::pki::load_issuer(&data.join("ca.pem"), &data.join("ca.key")).unwrap();
    let now = time::OffsetDateTime::now_utc();
    let expiry = now + time::Duration::seconds(4);
    let cert = sportello_inbox::pki::issue_client_cert(
        &issuer,
        "Breve (cremona-centro)",
        "cremona-centro",
        now - time::Duration::minutes(5),
        expiry,
    )
    .unwrap();
    let conn = sportello_inbox::store::open(&data.join("inbox.sqlite")).unwrap();
    let id = sportello_inbox::store::insert_operator(
        &conn,
        "Breve",
        "cremona-centro",
        &cert.serial_hex,
        &cert.sha256_hex,
        &expiry
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap(),
    )
    .unwrap();
    drop(conn);
    let identity = Identity {
        chain: vec![rustls::pki_types::CertificateDer::from(
            cert.cert_der.clone(),
        )],
        key_der: cert.key_der.clone(),
        id,
    };
    let srv = fx.start(&fx.dir.path().join("server.log")).unwrap();
    let config = client_config(&fx.ca, Some(&identity), &[&rustls::version::TLS13]).unwrap();
    let mut kept = connect_config(srv.https, config.clone()).await.unwrap();
    assert_eq!(kept.get("/").await.unwrap().status, 200);
    let (csrf, key) = kept.form_tokens().await.unwrap();
    // A second connection before expiry gets the session tickets used below.
    let mut warm = connect_config(srv.https, config.clone()).await.unwrap();
    assert_eq!(warm.get("/").await.unwrap().status, 200);
    drop(warm);

    let wait = expiry - time::OffsetDateTime::now_utc() + time::Duration::seconds(2);
    tokio::time::sleep(Duration::try_from(wait).unwrap_or_default()).await;

    // The connection opened before expiry: refused from now on.
    let r = kept.get("/").await.unwrap();
    assert_eq!(r.status, 403, "kept-alive connection after expiry");
    assert!(r.body.contains("scaduto"));
    // A resumed session carries the old certificate without checking it.
    let mut resumed = connect_config(srv.https, config.clone()).await.unwrap();
    assert!(resumed.resumed, "the client resumed its TLS 1.3 session");
    assert_eq!(resumed.get("/").await.unwrap().status, 403);
    let r = resumed.post_form(&valid_fields(&csrf, &key)).await.unwrap();
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(fx.referral_count(), 0);
}

/// 200 connections from 127.0.0.2 that never start TLS, each opened again
/// as soon as the server closes it, as an attacker would; and how many
/// were opened.
fn idle_sockets(target: SocketAddr) -> (Vec<tokio::task::JoinHandle<()>>, Arc<AtomicUsize>) {
    let opened = Arc::new(AtomicUsize::new(0));
    let attackers = (0..200)
        .map(|_| {
            let opened = opened.clone();
            tokio::spawn(async move {
                loop {
                    let s = tokio::net::TcpSocket::new_v4().unwrap();
                    s.bind("127.0.0.2:0".parse().unwrap()).unwrap();
                    if let Ok(mut s) = s.connect(target).await {
                        opened.fetch_add(1, Ordering::Relaxed);
                        let mut buf = [0u8; 64];
                        while matches!(s.read(&mut buf).await, Ok(n) if n > 0) {}
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            })
        })
        .collect();
    (attackers, opened)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sockets_do_not_lock_operators_out() {
    let fx = Fixture::new(100, 100).unwrap();
    fx.configure(&[("max_connections = 512", "max_connections = 64")], "")
        .unwrap();
    let a = fx.add_operator("Uno", "cremona-centro").unwrap();
    let b = fx.add_operator("Due", "cremona-centro").unwrap();
    let srv = fx.start(&fx.dir.path().join("server.log")).unwrap();
    let (attackers, opened) = idle_sockets(srv.https);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(opened.load(Ordering::Relaxed) >= 64, "idle sockets opened");
    for op in [&a, &b] {
        let served = tokio::time::timeout(Duration::from_secs(15), async {
            let mut c = connect(srv.https, &fx.ca, Some(op)).await?;
            c.get("/").await
        })
        .await;
        let r = served.expect("operator served while idle sockets are open");
        assert_eq!(r.unwrap().status, 200);
    }
    for a in attackers {
        a.abort();
    }
}

/// The staff site has the same admission as the operators' listener: idle
/// sockets from one address neither use up its connections nor keep a
/// staff member (another address) from opening the link.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sockets_do_not_lock_the_staff_site_out() {
    let fx = Fixture::new(100, 100).unwrap();
    fx.configure(
        &[("max_connections = 512", "max_connections = 64")],
        r#"
[staff]
listen = "127.0.0.1:0"
public_url = "https://localhost:8444"
offices = [{ slug = "servizi-territoriali", label = "Servizi sociali territoriali" }]
"#,
    )
    .unwrap();
    let srv = fx.start(&fx.dir.path().join("server.log")).unwrap();
    let target = srv.staff.expect("the staff site listens");
    let (attackers, opened) = idle_sockets(target);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(opened.load(Ordering::Relaxed) >= 64, "idle sockets opened");
    for _ in 0..2 {
        let served = tokio::time::timeout(Duration::from_secs(15), async {
            let mut c = connect(target, &fx.ca, None).await?;
            c.get(&format!("/presa-in-carico/{}", "0".repeat(32))).await
        })
        .await;
        let r = served.expect("staff site served while idle sockets are open");
        assert_eq!(
            r.unwrap().status,
            404,
            "the plain page for a link that opens nothing"
        );
    }
    for a in attackers {
        a.abort();
    }
}

/// A TLS stream for hand-written requests.
async fn raw_tls(
    addr: SocketAddr,
    fx: &Fixture,
    op: &Identity,
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let config = client_config(&fx.ca, Some(op), rustls::DEFAULT_VERSIONS).unwrap();
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tokio_rustls::TlsConnector::from(config)
        .connect(
            rustls::pki_types::ServerName::try_from("localhost").unwrap(),
            tcp,
        )
        .await
        .unwrap()
}

async fn status_line(tls: &mut (impl AsyncReadExt + Unpin), limit: Duration) -> String {
    let mut buf = vec![0u8; 16 * 1024];
    let n = tokio::time::timeout(limit, tls.read(&mut buf))
        .await
        .expect("an answer in time")
        .unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_body_gets_408() {
    let fx = Fixture::new(100, 100).unwrap();
    fx.configure(
        &[("body_timeout_seconds = 30", "body_timeout_seconds = 2")],
        "",
    )
    .unwrap();
    let op = fx.add_operator("Op", "cremona-centro").unwrap();
    let srv = fx.start(&fx.dir.path().join("server.log")).unwrap();

    // One byte a second of a 100-byte body.
    let tls = raw_tls(srv.https, &fx, &op).await;
    let (mut rd, mut wr) = tokio::io::split(tls);
    let head = format!(
        "POST /segnalazioni HTTP/1.1\r\nhost: localhost:{}\r\n\
         content-type: application/x-www-form-urlencoded\r\ncontent-length: 100\r\n\r\n",
        srv.https.port()
    );
    wr.write_all(head.as_bytes()).await.unwrap();
    let trickle = tokio::spawn(async move {
        for _ in 0..30 {
            if wr.write_all(b"a").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    let answer = status_line(&mut rd, Duration::from_secs(20)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    trickle.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_without_host_gets_400() {
    let fx = Fixture::new(100, 100).unwrap();
    let op = fx.add_operator("Op", "cremona-centro").unwrap();
    let srv = fx.start(&fx.dir.path().join("server.log")).unwrap();
    let mut tls = raw_tls(srv.https, &fx, &op).await;
    tls.write_all(b"GET / HTTP/1.1\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let answer = status_line(&mut tls, Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_with_invalid_utf8_gets_400_and_stores_nothing() {
    let fx = Fixture::new(100, 100).unwrap();
    let op = fx.add_operator("Op", "cremona-centro").unwrap();
    let srv = fx.start(&fx.dir.path().join("server.log")).unwrap();
    // A complete, valid form but for one byte that is not UTF-8.
    let mut c = connect(srv.https, &fx.ca, Some(&op)).await.unwrap();
    let (csrf, key) = c.form_tokens().await.unwrap();
    let mut fields = valid_fields(&csrf, &key);
    set(&mut fields, "first_name", "MARKER");
    let body = encode(&fields).replace("MARKER", "Mar%FFia");
    let r = c.post_raw(body.into_bytes(), &[]).await.unwrap();
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("UTF-8"), "{}", r.body);
    assert_eq!(fx.referral_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_retry_and_new_referrals_wake_a_worker_in_a_long_backoff() {
    let fx = Fixture::new(100, 100).unwrap();
    let port = smtp::free_port().unwrap();
    let tls = smtp::tls_files(&fx.dir.path().join("mailtls")).unwrap();
    let section = smtp::mail_section(port, &tls.ca, "starttls", "staff@comune.example")
        .replace("initial_seconds = 1", "initial_seconds = 3600")
        .replace("max_seconds = 2", "max_seconds = 3600");
    fx.configure(&[], &section).unwrap();
    let op = fx.add_operator("Op", "cremona-centro").unwrap();
    let srv = fx.start(&fx.dir.path().join("server.log")).unwrap();
    let mut c = connect(srv.https, &fx.ca, Some(&op)).await.unwrap();
    // Nobody listens: the first attempt fails and the next is an hour away.
    let first = submit(&mut c, valid_fields("", "")).await.unwrap();
    wait_until(Duration::from_secs(20), "a failed attempt", || {
        let (_, attempts, _) = fx.delivery(&first).ok()?;
        (attempts >= 1).then_some(())
    });
    // The mail server comes back.
    let (_smtp, _maildir) = smtp::start_on(&fx, port, &tls).unwrap();
    // A new referral is tried at once...
    let second = submit(&mut c, valid_fields("", "")).await.unwrap();
    wait_until(
        Duration::from_secs(20),
        "the new referral delivered",
        || {
            let (s, _, _) = fx.delivery(&second).ok()?;
            (s == "delivered").then_some(())
        },
    );
    // ...and `queue retry` from another process is seen within poll_seconds.
    assert_eq!(fx.delivery(&first).unwrap().0, "queued");
    bin(&["queue", "retry", "--config", fx.config_str(), &first]).unwrap();
    wait_until(
        Duration::from_secs(20),
        "the retried referral delivered",
        || {
            let (s, _, _) = fx.delivery(&first).ok()?;
            (s == "delivered").then_some(())
        },
    );
}

#[test]
fn out_of_range_settings_are_refused_naming_key_and_range() {
    let fx = Fixture::new(100, 100).unwrap();
    for (from, to, expect) in [
        (
            "max_connections = 512",
            "max_connections = 0",
            "limits.max_connections = 0 is out of range: allowed 1 to 65536",
        ),
        (
            "max_connections = 512",
            "max_connections = 100000000",
            "limits.max_connections = 100000000 is out of range",
        ),
    ] {
        let original = std::fs::read_to_string(&fx.config).unwrap();
        fx.configure(&[(from, to)], "").unwrap();
        let out = std::process::Command::new(BIN)
            .args(["staff", "list", "--config", fx.config_str()])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(err.contains(expect), "{err}");
        std::fs::write(&fx.config, original).unwrap();
    }
    let original = std::fs::read_to_string(&fx.config).unwrap();
    let tls = smtp::tls_files(&fx.dir.path().join("mailtls")).unwrap();
    fx.configure(
        &[],
        &smtp::mail_section(25, &tls.ca, "starttls", "staff@comune.example")
            .replace("give_up_hours = 168", "give_up_hours = 10000000"),
    )
    .unwrap();
    let out = std::process::Command::new(BIN)
        .args(["staff", "list", "--config", fx.config_str()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("mail.retry.give_up_hours = 10000000 is out of range: allowed 1 to 2160"),
        "{err}"
    );
    std::fs::write(&fx.config, original).unwrap();
}

/// A tmpfs mounted over a directory, unmounted on drop.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    /// Mounts a small tmpfs over `dir`, keeping its files. `Err` says why
    /// it cannot be done here (not root, no mount in this container).
    fn over(dir: &std::path::Path, size: &str) -> Result<Tmpfs, String> {
        if std::process::Command::new("id")
            .arg("-u")
            .output()
            .map(|o| o.stdout != b"0\n")
            .unwrap_or(true)
        {
            return Err("not running as root".into());
        }
        let saved = dir.with_extension("saved");
        std::fs::rename(dir, &saved).map_err(|e| e.to_string())?;
        std::fs::create_dir(dir).map_err(|e| e.to_string())?;
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            std::fs::remove_dir(dir).ok();
            std::fs::rename(&saved, dir).ok();
            return Err(format!(
                "mount -t tmpfs failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        let copy = std::process::Command::new("cp")
            .arg("-a")
            .arg(format!("{}/.", saved.display()))
            .arg(dir)
            .status()
            .map_err(|e| e.to_string())?;
        assert!(copy.success(), "copying the data directory into the tmpfs");
        Ok(Tmpfs(dir.to_path_buf()))
    }

    /// Fills the file system up to the last byte.
    fn fill(&self) -> std::path::PathBuf {
        let path = self.0.join("filler");
        let mut f = std::fs::File::create(&path).unwrap();
        let block = vec![0u8; 64 * 1024];
        for chunk in [block.as_slice(), &block[..4096], &block[..1]] {
            while f.write_all(chunk).is_ok() {}
        }
        path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_full_disk_an_accepted_mail_is_not_sent_again() {
    let fx = Fixture::new(100, 100).unwrap();
    let disk = match Tmpfs::over(&fx.data_dir(), "16m") {
        Ok(d) => d,
        Err(why) => {
            eprintln!("SKIPPED on_a_full_disk_an_accepted_mail_is_not_sent_again: {why} (it needs root to mount a tmpfs)");
            return;
        }
    };
    // The mail server is down at first: the referral waits in the queue.
    let port = smtp::free_port().unwrap();
    let tls = smtp::tls_files(&fx.dir.path().join("mailtls")).unwrap();
    fx.configure(
        &[],
        &smtp::mail_section(port, &tls.ca, "starttls", "staff@comune.example"),
    )
    .unwrap();
    let op = fx.add_operator("Op", "cremona-centro").unwrap();
    let srv = fx.start(&fx.dir.path().join("server.log")).unwrap();
    let mut c = connect(srv.https, &fx.ca, Some(&op)).await.unwrap();
    let reference = submit(&mut c, valid_fields("", "")).await.unwrap();
    wait_until(Duration::from_secs(20), "a failed attempt", || {
        let (_, attempts, _) = fx.delivery(&reference).ok()?;
        (attempts >= 1).then_some(())
    });

    let filler = disk.fill();
    // A form sent now cannot be stored: it must not be acknowledged.
    let (csrf, key) = c.form_tokens().await.unwrap();
    let refused = c.post_form(&valid_fields(&csrf, &key)).await.unwrap();
    assert_eq!(refused.status, 503, "{}", refused.body);

    // The mail server comes back; its 250 cannot be recorded.
    let (_smtp, maildir) = smtp::start_on(&fx, port, &tls).unwrap();
    smtp::wait_for_mails(&maildir, Duration::from_secs(20), |m| !m.is_empty()).unwrap();
    let (status, _) = wait_until(Duration::from_secs(20), "healthz 503", || {
        let (s, b) = healthz(srv.health);
        (s == 503).then_some((s, b))
    });
    assert_eq!(status, 503);
    // Long enough for several retries of the old behaviour (every 5 s).
    tokio::time::sleep(Duration::from_secs(12)).await;
    assert_eq!(
        smtp::mails(&maildir).len(),
        1,
        "the accepted mail was sent again"
    );
    assert_eq!(
        fx.delivery(&reference).unwrap().0,
        "queued",
        "the disk was not full enough to refuse the commit"
    );

    // Space comes back: the delivery is recorded, and the refused form is
    // accepted when sent again.
    std::fs::remove_file(filler).unwrap();
    wait_until(Duration::from_secs(20), "the delivery recorded", || {
        let (s, _, _) = fx.delivery(&reference).ok()?;
        (s == "delivered").then_some(())
    });
    let again = c.post_form(&valid_fields(&csrf, &key)).await.unwrap();
    assert_eq!(again.status, 303, "{}", again.body);
    wait_until(Duration::from_secs(20), "healthz ok", || {
        (healthz(srv.health).0 == 200).then_some(())
    });
    let mails = smtp::wait_for_mails(&maildir, Duration::from_secs(20), |m| m.len() >= 2).unwrap();
    let first = mails
        .iter()
        .filter(|(_, m)| m.contains(reference.as_str()))
        .count();
    assert_eq!(first, 1, "one mail for the first referral");
    drop(srv);
    drop(disk);
}
