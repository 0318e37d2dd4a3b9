//! `inbox.toml`: one file with everything the server and the admin commands need.
//! Relative paths are resolved against the directory of the file itself.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Deserialize;

mod store;
pub use store::{StoreKind, StoreSection};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub server: Server,
    pub paths: Paths,
    pub tls: Tls,
    pub form: Form,
    #[serde(default)]
    pub limits: Limits,
    /// Delivery by mail; without it referrals are stored but stay queued.
    #[serde(default)]
    pub mail: Option<Mail>,
    #[serde(default)]
    pub retention: Retention,
    #[serde(default)]
    pub health: Health,
    /// The staff's page for taking charge; without it the mails carry no
    /// link and no second listener runs.
    #[serde(default)]
    pub staff: Option<StaffSite>,
    /// The meeting report (`sportello-inbox report`, the "Statistiche" page).
    #[serde(default)]
    pub report: ReportSettings,
    /// `[[municipality]]`: the Comuni the desks refer to. None: one implicit
    /// municipality with `[mail]`'s addresses and every staff key and desk.
    #[serde(default, rename = "municipality")]
    pub municipalities: Vec<Municipality>,
    /// `[store]`: SQLite in the data directory (default) or PostgreSQL.
    #[serde(default)]
    pub store: StoreSection,
    /// `store`, checked by `load`.
    #[serde(skip)]
    pub store_kind: StoreKind,
}

pub use crate::municipality::{Municipality, IMPLICIT_MUNICIPALITY};

/// `[report]`: small counts never leave the server.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReportSettings {
    /// Counts from 1 to `min_cell - 1` are shown as "<min_cell"; at least 3.
    pub min_cell: u32,
}

impl Default for ReportSettings {
    fn default() -> Self {
        ReportSettings { min_cell: 5 }
    }
}

/// `[staff]`: the second HTTPS listener, without client certificates,
/// where the staff open the link of a referral.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaffSite {
    /// Address of the staff listener.
    pub listen: SocketAddr,
    /// How the staff reach it, e.g. `https://inbox.comune.example:8444`:
    /// the start of the link in each mail.
    pub public_url: String,
    /// Offices a referral "non di competenza" can be redirected to (the
    /// guide's services from `form.services_json` are offered too).
    #[serde(default)]
    pub offices: Vec<Choice>,
    /// Days after submission the link keeps working (then: 404).
    #[serde(default = "default_link_days")]
    pub link_days: u32,
    /// Requests per minute from one IP address, and the burst.
    #[serde(default = "default_staff_rate")]
    pub requests_per_minute: u32,
    #[serde(default = "default_staff_burst")]
    pub burst: u32,
    /// A referral not taken in charge this long after delivery gets a
    /// reminder to the staff; after a second one, a notice to the admin.
    #[serde(default)]
    pub remind_after_hours: RemindAfter,
    /// Count only working days (Monday to Friday minus Italian national
    /// holidays) for the reminders; `false` counts every hour (tests).
    #[serde(default = "default_true")]
    pub count_working_days: bool,
}

/// Hours (fractions allowed) per urgency before a reminder.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RemindAfter {
    pub urgent: f64,
    pub ordinary: f64,
}

impl Default for RemindAfter {
    fn default() -> Self {
        RemindAfter {
            urgent: 24.0,
            ordinary: 72.0,
        }
    }
}

impl RemindAfter {
    pub fn for_urgency(&self, urgency: crate::kinds::Urgency) -> std::time::Duration {
        let h = match urgency {
            crate::kinds::Urgency::Urgent => self.urgent,
            crate::kinds::Urgency::Ordinary => self.ordinary,
        };
        std::time::Duration::from_secs_f64(h * 3600.0)
    }
}

fn default_true() -> bool {
    true
}

fn default_link_days() -> u32 {
    60
}
fn default_staff_rate() -> u32 {
    60
}
fn default_staff_burst() -> u32 {
    30
}

impl StaffSite {
    /// The link for one token.
    pub fn link(&self, token: &str) -> String {
        format!(
            "{}/presa-in-carico/{token}",
            self.public_url.trim_end_matches('/')
        )
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Server {
    /// HTTPS address for operators.
    pub listen: SocketAddr,
    /// Plain-HTTP address for `/healthz`; must be a loopback address.
    pub health_listen: SocketAddr,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Paths {
    pub data_dir: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// CA that issues operator (client) certificates.
    pub client_ca: PathBuf,
    /// Its private key: needed by `operator add/revoke`, never by `serve`.
    pub client_ca_key: PathBuf,
    /// Certificate revocation list of the client CA (re-read when it changes).
    pub crl: PathBuf,
    /// Server certificate chain (PEM, leaf first) and its key.
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Choice {
    pub slug: String,
    pub label: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Form {
    pub need_areas: Vec<Choice>,
    pub city_areas: Vec<Choice>,
    /// The guide's `services.json` (optional): offered as suggested services.
    #[serde(default)]
    pub services_json: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Submissions each operator may make per minute (sustained).
    pub submissions_per_minute: u32,
    /// Submissions an operator may make in a burst.
    pub burst: u32,
    /// Simultaneous connections; more wait in the kernel backlog.
    pub max_connections: usize,
    /// TLS handshakes in progress at once, apart from `max_connections`:
    /// a socket that never completes its handshake holds only one of these.
    pub max_handshakes: usize,
    /// Handshakes in progress from one IP address at once.
    pub handshakes_per_address: usize,
    /// Seconds a client has to complete its TLS handshake.
    pub handshake_timeout_seconds: u64,
    /// Seconds a client has to send a whole request body.
    pub body_timeout_seconds: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            submissions_per_minute: 20,
            burst: 10,
            max_connections: 512,
            max_handshakes: 256,
            handshakes_per_address: 64,
            handshake_timeout_seconds: 5,
            body_timeout_seconds: 30,
        }
    }
}

/// `[health]`: when `/healthz` stops answering "ok".
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Health {
    /// A referral due for delivery this long without any delivery succeeding
    /// makes `/healthz` answer 503.
    pub delivery_stalled_seconds: u64,
}

impl Default for Health {
    fn default() -> Self {
        Health {
            delivery_stalled_seconds: 900,
        }
    }
}

/// How the connection to the mail server is protected. There is no
/// plaintext option on purpose: the mail carries only ciphertext, but the
/// reference, the recipients and the AUTH password must not cross the
/// network in clear, and a downgrade must not be possible by stripping
/// STARTTLS.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum MailSecurity {
    /// Plain connection upgraded with STARTTLS; a server without it is refused.
    #[default]
    Starttls,
    /// Implicit TLS from the first byte (usually port 465).
    Tls,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mail {
    /// Mail server host name (also the name its certificate must carry).
    pub host: String,
    /// Default 587 for STARTTLS, 465 for implicit TLS.
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub security: MailSecurity,
    /// PEM file with the CA(s) that sign the mail server's certificate.
    /// When set, ONLY these are trusted; otherwise the system's roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// AUTH user name; the password is read from `password_file`.
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    pub from: String,
    /// The staff's address(es); with `[[municipality]]`, each one's `to`.
    #[serde(default)]
    pub to: Vec<String>,
    /// Where notices about failed deliveries go (no personal data in them).
    pub admin: String,
    /// Right-hand side of Message-IDs (`<SEG-...@domain>`); default: the
    /// domain of `from`, which stays the same when the machine is renamed.
    #[serde(default)]
    pub message_id_domain: Option<String>,
    /// Timeout of each SMTP command and of the connection.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
    #[serde(default)]
    pub retry: Retry,
}

fn default_timeout() -> u64 {
    30
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Retry {
    /// First wait after a transient failure; doubles at each attempt.
    pub initial_seconds: u64,
    /// Longest wait between two attempts.
    pub max_seconds: u64,
    /// After this long since submission a referral is given up (failed).
    pub give_up_hours: u64,
    /// How often the worker looks for work it was not woken for
    /// (e.g. `queue retry` from another process).
    pub poll_seconds: u64,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            initial_seconds: 30,
            max_seconds: 3600,
            give_up_hours: 7 * 24,
            poll_seconds: 5,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Retention {
    /// Days the ciphertext of a delivered referral is kept (0: deleted at delivery).
    pub retention_days: u32,
    /// Days the non-identifying metadata (and the audit log) is kept.
    pub metadata_retention_days: u32,
    /// How often the purge runs while serving (also once at start).
    pub purge_interval_seconds: u64,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            retention_days: 30,
            metadata_retention_days: 730,
            purge_interval_seconds: 3600,
        }
    }
}

impl Mail {
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.security {
            MailSecurity::Starttls => 587,
            MailSecurity::Tls => 465,
        })
    }

    pub fn message_id_domain(&self) -> String {
        self.message_id_domain.clone().unwrap_or_else(|| {
            let addr = self.from.rsplit('<').next().unwrap_or(&self.from);
            addr.rsplit('@')
                .next()
                .unwrap_or("localhost")
                .trim_end_matches('>')
                .trim()
                .to_string()
        })
    }
}

impl Config {
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read configuration {}", path.display()))?;
        let mut cfg: Config =
            toml::from_str(&text).with_context(|| format!("invalid {}", path.display()))?;
        let base = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        cfg.resolve(&base);
        cfg.check()?;
        cfg.store_kind = cfg.store.check()?;
        Ok(cfg)
    }

    fn resolve(&mut self, base: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        fix(&mut self.paths.data_dir);
        fix(&mut self.tls.client_ca);
        fix(&mut self.tls.client_ca_key);
        fix(&mut self.tls.crl);
        fix(&mut self.tls.cert);
        fix(&mut self.tls.key);
        self.store.resolve(base);
        if let Some(p) = self.form.services_json.as_mut() {
            fix(p);
        }
        if let Some(m) = self.mail.as_mut() {
            for p in [m.ca_file.as_mut(), m.password_file.as_mut()]
                .into_iter()
                .flatten()
            {
                fix(p);
            }
        }
    }

    fn check(&self) -> Result<()> {
        if !self.server.health_listen.ip().is_loopback() {
            bail!(
                "server.health_listen = {} must be a loopback address (127.0.0.1): \
                 /healthz has no authentication",
                self.server.health_listen
            );
        }
        if self.form.need_areas.is_empty() || self.form.city_areas.is_empty() {
            bail!("form.need_areas and form.city_areas must not be empty");
        }
        let l = &self.limits;
        bounded(
            "limits.submissions_per_minute",
            l.submissions_per_minute,
            1,
            1_000_000,
        )?;
        bounded("limits.burst", l.burst, 1, 1_000_000)?;
        bounded("limits.max_connections", l.max_connections, 1, 65_536)?;
        bounded("limits.max_handshakes", l.max_handshakes, 1, 65_536)?;
        bounded(
            "limits.handshakes_per_address",
            l.handshakes_per_address,
            1,
            l.max_handshakes,
        )?;
        bounded(
            "limits.handshake_timeout_seconds",
            l.handshake_timeout_seconds,
            1,
            120,
        )?;
        bounded(
            "limits.body_timeout_seconds",
            l.body_timeout_seconds,
            1,
            600,
        )?;
        self.check_municipalities()?;
        if let Some(m) = &self.mail {
            if m.to.is_empty() && self.municipalities.is_empty() {
                bail!("mail.to must list at least one address");
            }
            for a in std::iter::once(&m.from).chain(&m.to).chain([&m.admin]) {
                a.parse::<lettre::message::Mailbox>()
                    .with_context(|| format!("mail: `{a}` is not a valid address"))?;
            }
            if m.username.is_some() != m.password_file.is_some() {
                bail!("mail.username and mail.password_file go together");
            }
            bounded("mail.timeout_seconds", m.timeout_seconds, 1, 600)?;
            let r = &m.retry;
            bounded("mail.retry.initial_seconds", r.initial_seconds, 1, 86_400)?;
            bounded(
                "mail.retry.max_seconds",
                r.max_seconds,
                r.initial_seconds,
                86_400,
            )?;
            bounded("mail.retry.give_up_hours", r.give_up_hours, 1, 24 * 90)?;
            bounded("mail.retry.poll_seconds", r.poll_seconds, 1, 3_600)?;
        }
        if let Some(st) = &self.staff {
            let rest = st.public_url.strip_prefix("https://").unwrap_or("");
            if rest.is_empty() || rest.contains(['?', '#', ' ', '"', '<', '>']) {
                bail!(
                    "staff.public_url = {:?} must be the https:// address the staff open, \
                     e.g. \"https://inbox.comune.example:8444\"",
                    st.public_url
                );
            }
            if st.offices.is_empty() && self.form.services_json.is_none() {
                bail!(
                    "staff.offices is empty and form.services_json is not set: a referral \
                     \"non di competenza\" needs somewhere to be redirected to"
                );
            }
            bounded("staff.link_days", st.link_days, 1, 3_650)?;
            bounded(
                "staff.requests_per_minute",
                st.requests_per_minute,
                1,
                100_000,
            )?;
            bounded("staff.burst", st.burst, 1, 100_000)?;
            for (k, v) in [
                ("urgent", st.remind_after_hours.urgent),
                ("ordinary", st.remind_after_hours.ordinary),
            ] {
                if !(v > 0.0 && v <= 24.0 * 90.0) {
                    bail!("staff.remind_after_hours.{k} = {v} is out of range: more than 0, at most 2160");
                }
            }
        }
        let r = &self.retention;
        bounded("retention.retention_days", r.retention_days, 0, 3_650)?;
        bounded(
            "retention.metadata_retention_days",
            r.metadata_retention_days,
            r.retention_days,
            3_650,
        )?;
        bounded(
            "retention.purge_interval_seconds",
            r.purge_interval_seconds,
            1,
            86_400,
        )?;
        bounded("report.min_cell", self.report.min_cell, 3, 1_000)?;
        bounded(
            "health.delivery_stalled_seconds",
            self.health.delivery_stalled_seconds,
            10,
            7 * 86_400,
        )?;
        Ok(())
    }

    pub fn database(&self) -> PathBuf {
        self.paths.data_dir.join("inbox.sqlite")
    }

    /// Secret for CSRF tokens; created by `init`.
    pub fn csrf_key(&self) -> PathBuf {
        self.paths.data_dir.join("csrf.key")
    }

    pub fn bundles_dir(&self) -> PathBuf {
        self.paths.data_dir.join("bundles")
    }
}

/// The commented configuration that `init` writes.
/// Refuses a value outside `min..=max`, naming the key and the range: a
/// zero or a huge value would otherwise hang the server or overflow later.
fn bounded<T: PartialOrd + std::fmt::Display + Copy>(
    key: &str,
    v: T,
    min: T,
    max: T,
) -> Result<()> {
    if v < min || v > max {
        bail!("{key} = {v} is out of range: allowed {min} to {max}");
    }
    Ok(())
}

pub fn template(https_port: u16) -> String {
    format!(
        r#"# Sportello inbox configuration (sportello-inbox serve --config inbox.toml).
# Relative paths are relative to this file.

[server]
# HTTPS for operators. Every page requires an operator certificate.
listen = "0.0.0.0:{https_port}"
# Plain HTTP, only /healthz, for monitoring. Must stay on 127.0.0.1.
health_listen = "127.0.0.1:8081"

[paths]
# Database, keys and the CRL. Mode 0700; back it up: it holds only
# ciphertext and non-identifying metadata.
data_dir = "data"

[tls]
# The private CA that signs operator certificates (made by `init`).
client_ca = "data/ca.pem"
# Its key signs new operator certificates and the CRL. `serve` never reads it:
# you may keep it offline and copy it back only for `operator add/revoke`.
client_ca_key = "data/ca.key"
# Revocation list, rewritten by `operator revoke`; the server re-reads it
# at the next handshake, no restart needed.
crl = "data/crl.pem"
# Server certificate (PEM chain, leaf first) and key. `init` makes one signed
# by the private CA; to use the Comune's CA or a public CA, point these to
# the files you received.
cert = "data/server.pem"
key = "data/server.key"

[form]
# The guide's services.json, offered as "servizi suggeriti" (optional).
# services_json = "../public/services.json"

need_areas = [
  {{ slug = "non-autosufficienza", label = "Non autosufficienza" }},
  {{ slug = "disabilita", label = "Disabilità" }},
  {{ slug = "sostegno-economico", label = "Sostegno economico" }},
  {{ slug = "casa", label = "Casa" }},
  {{ slug = "solitudine", label = "Solitudine" }},
]

# Areas of the city: adapt to your municipality.
city_areas = [
  {{ slug = "centro", label = "Centro" }},
  {{ slug = "nord", label = "Zona nord" }},
  {{ slug = "est", label = "Zona est" }},
  {{ slug = "sud", label = "Zona sud" }},
  {{ slug = "ovest", label = "Zona ovest" }},
  {{ slug = "frazioni", label = "Frazioni" }},
]

[limits]
# Per operator: sustained submissions per minute and the allowed burst.
submissions_per_minute = 20
burst = 10
# Simultaneous authenticated TLS connections (1 to 65536).
max_connections = 512
# Handshakes in progress, counted apart: a socket that never finishes its
# handshake cannot take an operator's place. Per IP address, and in all.
max_handshakes = 256
handshakes_per_address = 64
handshake_timeout_seconds = 5
# Time a client has to send a whole form.
body_timeout_seconds = 30

# Delivery to the staff by mail (PGP/MIME). Until this section is filled in,
# referrals are stored encrypted and stay "in consegna" (queued).
# [mail]
# host = "smtp.comune.example"
# # starttls (default, port 587: a server without STARTTLS is refused) or tls (port 465)
# security = "starttls"
# # port = 587
# # CA of the mail server's certificate, if not a public one (then ONLY it is trusted)
# # ca_file = "data/mail-ca.pem"
# # username = "sportello-inbox"
# # password_file = "data/mail-password"    # one line, mode 0600
# from = "Sportello Inbox <inbox@comune.example>"
# to = ["Staff Non Autosufficienza <staff@comune.example>"]
# # receives a notice (reference, time, error; no personal data) when a referral cannot be delivered
# admin = "admin@comune.example"
# # message_id_domain = "comune.example"   # default: the domain of `from`
# # the TCP connect must succeed within this many seconds, and the whole
# # exchange (greeting, TLS, AUTH, MAIL, RCPT, DATA and its reply) within
# # twice that: a server that stops answering at any step is retried later
# timeout_seconds = 30
# [mail.retry]
# initial_seconds = 30     # first wait after a transient failure, then doubling
# max_seconds = 3600       # at most one hour between attempts
# give_up_hours = 168      # after 7 days: failed, and a notice to admin
# poll_seconds = 5

[retention]
# The ciphertext of a delivered referral is deleted after this many days
# (0: as soon as the mail server accepted it).
retention_days = 30
# Non-identifying metadata (desk, area, urgency, age band, status) and the
# audit log are kept this long for the statistics, then deleted.
metadata_retention_days = 730
# The purge runs at start and then every this many seconds.
purge_interval_seconds = 3600

# The staff's page for taking charge of a referral. Each mail then carries,
# inside the encryption, a link https://.../presa-in-carico/TOKEN. This
# listener asks for no client certificate (the staff have none); same
# certificate as above.
# [staff]
# listen = "0.0.0.0:8444"
# public_url = "https://inbox.comune.example:8444"
# link_days = 60            # the link works this long after submission
# requests_per_minute = 60  # per IP address
# burst = 30
# # not taken in charge after this many hours from delivery, counted on
# # working days (Mon-Fri minus national holidays): a reminder to the staff;
# # after the second reminder, a notice to mail.admin
# remind_after_hours = {{ urgent = 24, ordinary = 72 }}
# count_working_days = true
# # where a referral "non di competenza" can be redirected (plus the
# # guide's services from form.services_json)
# offices = [
#   {{ slug = "servizi-sociali-territoriali", label = "Servizi sociali territoriali" }},
#   {{ slug = "asst-cure-domiciliari", label = "ASST - cure domiciliari" }},
# ]

[report]
# The meeting report (`sportello-inbox report`, the "Statistiche" page):
# counts from 1 to min_cell - 1 are shown as "<5" (with min_cell = 5), and
# further cells are hidden ("n.d.") so that no total reveals them. At least 3.
min_cell = 5

[health]
# /healthz answers 503 when a referral has been due this long and no
# delivery succeeded meanwhile (mail server down, worker stuck).
delivery_stalled_seconds = 900
"#
    ) + store::TEMPLATE
}
