//! The SMTP connection: TLS always (STARTTLS required or implicit TLS),
//! optional AUTH, pooled connections; and what a failure means.

use std::time::Duration;

use anyhow::{Context, Result};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncSmtpTransport, Tokio1Executor};

use crate::config::{Mail, MailSecurity};

pub type Transport = AsyncSmtpTransport<Tokio1Executor>;

pub fn transport(mail: &Mail) -> Result<Transport> {
    let mut tls = TlsParameters::builder(mail.host.clone());
    if let Some(ca) = &mail.ca_file {
        let pem = std::fs::read(ca)
            .with_context(|| format!("cannot read mail.ca_file {}", ca.display()))?;
        // A private CA for the mail server is trusted alone: the system's
        // roots would let any public CA vouch for "smtp.comune.example".
        tls = tls
            .certificate_store(CertificateStore::None)
            .add_root_certificate(
                Certificate::from_pem(&pem)
                    .with_context(|| format!("no PEM certificate in {}", ca.display()))?,
            );
    }
    let tls = tls
        .build_rustls()
        .context("cannot set up TLS for the mail server")?;
    let tls = match mail.security {
        // Required: a server that does not offer STARTTLS is refused; there
        // is no fallback to plaintext.
        MailSecurity::Starttls => Tls::Required(tls),
        MailSecurity::Tls => Tls::Wrapper(tls),
    };
    // `builder_dangerous` only means "TLS not chosen yet": it is set just below.
    let mut b = Transport::builder_dangerous(mail.host.as_str())
        .port(mail.port())
        .tls(tls)
        .timeout(Some(Duration::from_secs(mail.timeout_seconds)))
        // One worker sends one mail at a time; the pool keeps that one
        // connection (TLS and AUTH done once) between mails.
        .pool_config(
            PoolConfig::new()
                .max_size(2)
                .idle_timeout(Duration::from_secs(60)),
        );
    if let (Some(user), Some(file)) = (&mail.username, &mail.password_file) {
        let password = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read mail.password_file {}", file.display()))?;
        b = b.credentials(Credentials::new(
            user.clone(),
            password.trim_end().to_string(),
        ));
    }
    Ok(b.build())
}

/// The deadline of one whole attempt: lettre's own timeout covers only the
/// TCP connect, so a server that accepts and then stays silent (or never
/// answers after DATA) would hold the worker for ever.
pub fn attempt_deadline(mail: &Mail) -> Duration {
    Duration::from_secs(mail.timeout_seconds.saturating_mul(2))
}

/// Sends one message within `attempt_deadline`; running out of time is a
/// transient failure like any other (the connection is dropped with the
/// future, so the pool never hands out a half-finished one).
pub async fn send(transport: &Transport, mail: &Mail, msg: lettre::Message) -> Result<(), Failure> {
    use lettre::AsyncTransport;
    let deadline = attempt_deadline(mail);
    match tokio::time::timeout(deadline, transport.send(msg)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(classify(&e)),
        Err(_) => Err(Failure::Transient(format!(
            "timeout: the mail server did not complete the exchange within {} s",
            deadline.as_secs()
        ))),
    }
}

/// Cuts `s` to at most `max` bytes at a character boundary (a byte index
/// inside a multi-byte character would panic).
pub fn truncate_chars(s: &mut String, max: usize) {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
}

/// What to do after a failed send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// 5xx: the server will never take it as it is.
    Permanent(String),
    /// Refused connection, timeout, TLS, 4xx: try again later.
    Transient(String),
}

impl Failure {
    pub fn message(&self) -> &str {
        match self {
            Failure::Permanent(m) | Failure::Transient(m) => m,
        }
    }
}

/// Classifies a lettre error. The message is short and holds no personal
/// data (the server never saw any: only ciphertext and the reference).
pub fn classify(e: &lettre::transport::smtp::Error) -> Failure {
    // lettre's Display already repeats its sources: add only what is new.
    let mut msg = format!("{e}");
    let mut tls_cause = false;
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        tls_cause |= s.downcast_ref::<rustls::Error>().is_some()
            || s.downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some());
        let text = s.to_string();
        if !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        src = s.source();
    }
    msg = msg.replace(['\r', '\n'], " ");
    truncate_chars(&mut msg, 300);
    if e.is_permanent() {
        Failure::Permanent(format!("permanent (5xx): {msg}"))
    } else if e.is_transient() {
        Failure::Transient(format!("transient (4xx): {msg}"))
    } else if e.is_timeout() {
        Failure::Transient(format!("timeout: {msg}"))
    } else if e.is_tls() || tls_cause {
        Failure::Transient(format!("tls: {msg}"))
    } else if e.is_client() && msg.to_ascii_lowercase().contains("starttls") {
        Failure::Transient(format!(
            "tls: the mail server does not offer STARTTLS, nothing sent (plaintext is never used): {msg}"
        ))
    } else {
        Failure::Transient(format!("connection: {msg}"))
    }
}

#[cfg(test)]
mod tests {
    use super::truncate_chars;

    #[test]
    fn truncation_never_splits_a_character() {
        // "è" is two bytes: byte 300 falls inside one of them.
        let mut s = format!("x{}", "è".repeat(200));
        assert!(!s.is_char_boundary(300));
        truncate_chars(&mut s, 300);
        assert!(s.len() <= 300 && s.len() >= 299);
        let mut short = "breve".to_string();
        truncate_chars(&mut short, 300);
        assert_eq!(short, "breve");
    }
}
