//! `inbox.toml`: one file with everything the server and the admin commands need.
//! Relative paths are resolved against the directory of the file itself.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub server: Server,
    pub paths: Paths,
    pub tls: Tls,
    pub form: Form,
    #[serde(default)]
    pub limits: Limits,
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
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Submissions each operator may make per minute (sustained).
    pub submissions_per_minute: u32,
    /// Submissions an operator may make in a burst.
    pub burst: u32,
    /// Simultaneous connections; more wait in the kernel backlog.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            submissions_per_minute: 20,
            burst: 10,
            max_connections: 512,
        }
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
        if let Some(p) = self.form.services_json.as_mut() {
            fix(p);
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
        if self.limits.submissions_per_minute == 0 || self.limits.burst == 0 {
            bail!("limits.submissions_per_minute and limits.burst must be at least 1");
        }
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
# Simultaneous TLS connections.
max_connections = 512
"#
    )
}
