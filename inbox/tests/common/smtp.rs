//! A real SMTP server for the tests: Python's aiosmtpd on 127.0.0.1, with
//! STARTTLS (or implicit TLS, or none) and a certificate chain made here
//! (a CA plus a leaf: rustls refuses a self-signed CA as a server
//! certificate), writing every accepted mail to a Maildir.
//!
//! Missing python3 or aiosmtpd is a test FAILURE, never a silent skip:
//! `apt-get install python3-aiosmtpd` (Debian's, for /usr/bin/python3), or
//! aiosmtpd in the Python named by `SPORTELLO_PYTHON`.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// The Python that has aiosmtpd: `SPORTELLO_PYTHON`, else the first of
/// `python3` on PATH and Debian's `/usr/bin/python3` that can import it (a
/// stock Debian refuses `pip install` into its own Python: PEP 668).
fn python() -> &'static str {
    static PYTHON: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PYTHON.get_or_init(|| {
        if let Ok(p) = std::env::var("SPORTELLO_PYTHON") {
            return p;
        }
        ["python3", "/usr/bin/python3"]
            .into_iter()
            .find(|p| {
                Command::new(p)
                    .args(["-c", "import aiosmtpd"])
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            })
            .unwrap_or("python3")
            .to_string()
    })
}

/// How the server protects the session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Security {
    Starttls,
    ImplicitTls,
    /// No TLS at all: the inbox must refuse it.
    None,
}

/// Which aiosmtpd handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handler {
    /// aiosmtpd.handlers.Mailbox: accepts everything.
    Mailbox,
    /// tests/smtp/sportello_smtp.py: 550 for addresses starting with "rifiuta".
    RejectSome,
    /// tests/smtp/sportello_smtp.py: answers DATA only after a minute.
    SlowData,
}

/// CA and leaf for "localhost" and 127.0.0.1 (PEM files in `dir`).
pub struct TlsFiles {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

pub fn tls_files(dir: &Path) -> Result<TlsFiles> {
    std::fs::create_dir_all(dir)?;
    let ca = sportello_inbox::pki::create_ca("Test Mail CA")?;
    let files = TlsFiles {
        ca: dir.join("mail-ca.pem"),
        cert: dir.join("mail-cert.pem"),
        key: dir.join("mail-key.pem"),
    };
    let ca_key = dir.join("mail-ca.key");
    std::fs::write(&files.ca, &ca.cert_pem)?;
    std::fs::write(&ca_key, &ca.key_pem)?;
    let issuer = sportello_inbox::pki::load_issuer(&files.ca, &ca_key)?;
    let leaf = sportello_inbox::pki::issue_server_cert(
        &issuer,
        &["localhost".to_string(), "127.0.0.1".to_string()],
    )?;
    // Leaf then CA: the server sends the chain.
    std::fs::write(&files.cert, format!("{}{}", leaf.cert_pem, ca.cert_pem))?;
    std::fs::write(&files.key, &leaf.key_pem)?;
    std::fs::remove_file(ca_key)?;
    Ok(files)
}

/// A port nobody listens on right now.
pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Fails the test with instructions if python3 or aiosmtpd is missing.
pub fn require_aiosmtpd() {
    let python = python();
    let out = Command::new(python)
        .args(["-c", "import aiosmtpd; print(aiosmtpd.__version__)"])
        .output();
    match out {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!(
            "the SMTP tests need Python's aiosmtpd: `apt-get install python3-aiosmtpd` ({})",
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Err(e) => panic!(
            "the SMTP tests need {python} with aiosmtpd (`apt-get install python3-aiosmtpd`): {e}"
        ),
    }
}

/// A running aiosmtpd; killed on drop.
pub struct Smtp {
    child: Child,
    pub port: u16,
    pub maildir: PathBuf,
}

impl Smtp {
    pub fn start(
        port: u16,
        maildir: &Path,
        tls: &TlsFiles,
        security: Security,
        handler: Handler,
        log: &Path,
    ) -> Result<Smtp> {
        require_aiosmtpd();
        let mut cmd = Command::new(python());
        cmd.args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")]);
        match security {
            Security::Starttls => {
                cmd.arg("--tlscert")
                    .arg(&tls.cert)
                    .arg("--tlskey")
                    .arg(&tls.key);
            }
            Security::ImplicitTls => {
                cmd.arg("--smtpscert")
                    .arg(&tls.cert)
                    .arg("--smtpskey")
                    .arg(&tls.key);
            }
            Security::None => {}
        }
        match handler {
            Handler::Mailbox => {
                cmd.args(["-c", "aiosmtpd.handlers.Mailbox"]);
            }
            Handler::RejectSome | Handler::SlowData => {
                cmd.env(
                    "PYTHONPATH",
                    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smtp"),
                );
                let class = if handler == Handler::SlowData {
                    "sportello_smtp.SlowData"
                } else {
                    "sportello_smtp.RejectSome"
                };
                cmd.args(["-c", class]);
            }
        }
        cmd.arg(maildir);
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)?;
        let mut child = cmd
            .stdout(Stdio::from(log_file.try_clone()?))
            .stderr(Stdio::from(log_file))
            .spawn()
            .context("cannot run python3 -m aiosmtpd")?;
        // Ready when it answers (the 220 banner, or a TLS server accepting).
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = child.try_wait()? {
                bail!(
                    "aiosmtpd exited ({status}): {}",
                    std::fs::read_to_string(log).unwrap_or_default()
                );
            }
            if let Ok(s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
                if security == Security::ImplicitTls {
                    break;
                }
                s.set_read_timeout(Some(Duration::from_secs(5)))?;
                let mut line = String::new();
                if BufReader::new(s).read_line(&mut line).is_ok() && line.starts_with("220") {
                    break;
                }
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                bail!("aiosmtpd did not start on {addr}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(Smtp {
            child,
            port,
            maildir: maildir.to_path_buf(),
        })
    }

    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Every mail delivered to the Maildir so far (path, raw text).
pub fn mails(maildir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(maildir.join("new")) else {
        return out;
    };
    for e in entries.flatten() {
        if let Ok(text) = std::fs::read_to_string(e.path()) {
            out.push((e.path(), text));
        }
    }
    out.sort();
    out
}

/// The value of a header (first occurrence, unfolded), case-insensitive name.
pub fn header(mail: &str, name: &str) -> Option<String> {
    let head = mail.split("\n\n").next()?;
    let mut value: Option<String> = None;
    for line in head.lines() {
        if let Some(v) = value.as_mut() {
            if line.starts_with([' ', '\t']) {
                v.push(' ');
                v.push_str(line.trim());
                continue;
            }
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case(name) {
                value = Some(v.trim().to_string());
            }
        }
    }
    value
}

/// The header block of a mail (up to the first empty line), lines unfolded.
pub fn header_block(mail: &str) -> String {
    mail.replace("\r\n", "\n")
        .split("\n\n")
        .next()
        .unwrap_or_default()
        .to_string()
}

/// Waits until `pred` holds for the Maildir's contents.
pub fn wait_for_mails(
    maildir: &Path,
    timeout: Duration,
    pred: impl Fn(&[(PathBuf, String)]) -> bool,
) -> Result<Vec<(PathBuf, String)>> {
    let deadline = Instant::now() + timeout;
    loop {
        let m = mails(maildir);
        if pred(&m) {
            return Ok(m);
        }
        if Instant::now() > deadline {
            bail!("timed out: {} mails in {}", m.len(), maildir.display());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The [mail] section for a server on 127.0.0.1:`port`, short retries.
pub fn mail_section(port: u16, ca: &Path, security: &str, to: &str) -> String {
    format!(
        r#"
[mail]
host = "localhost"
port = {port}
security = "{security}"
ca_file = "{ca}"
from = "Sportello Inbox <inbox@comune.example>"
to = ["{to}"]
admin = "admin@comune.example"
timeout_seconds = 10
[mail.retry]
initial_seconds = 1
max_seconds = 2
give_up_hours = 168
poll_seconds = 1
"#,
        ca = ca.display()
    )
}

/// aiosmtpd (STARTTLS, Maildir inside the fixture) on a port the fixture
/// is already configured for: a mail server that comes back.
pub fn start_on(fx: &super::Fixture, port: u16, tls: &TlsFiles) -> Result<(Smtp, PathBuf)> {
    let maildir = fx.dir.path().join("Maildir");
    let smtp = Smtp::start(
        port,
        &maildir,
        tls,
        Security::Starttls,
        Handler::Mailbox,
        &fx.dir.path().join("smtp.log"),
    )?;
    Ok((smtp, maildir))
}

/// The usual setup: aiosmtpd with STARTTLS delivering to a Maildir inside
/// the fixture, and the fixture's `[mail]` section pointing at it.
pub fn start_mailbox(fx: &super::Fixture, to: &str) -> Result<(Smtp, PathBuf)> {
    start_server(fx, Security::Starttls, Handler::Mailbox, "starttls", to)
}

/// aiosmtpd with the given TLS mode and handler (its certificate from a
/// test CA the inbox trusts), and the fixture configured to use it with
/// `mail_security` (`starttls` or `tls`).
pub fn start_server(
    fx: &super::Fixture,
    security: Security,
    handler: Handler,
    mail_security: &str,
    to: &str,
) -> Result<(Smtp, PathBuf)> {
    let tls = tls_files(&fx.dir.path().join("mailtls"))?;
    let port = free_port()?;
    let maildir = fx.dir.path().join("Maildir");
    let smtp = Smtp::start(
        port,
        &maildir,
        &tls,
        security,
        handler,
        &fx.dir.path().join("smtp.log"),
    )?;
    fx.configure(&[], &mail_section(port, &tls.ca, mail_security, to))?;
    Ok((smtp, maildir))
}
