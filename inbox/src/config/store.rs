//! `[store]`: where the inbox keeps its data. `kind = "sqlite"` (the
//! default, the section may be left out) is one file in the data
//! directory; `kind = "postgres"` is one PostgreSQL database shared by
//! several replicas, over TLS, the password in its own file.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use crate::store::pg::PgConfig;

/// The commented section `init` writes at the end of `inbox.toml`.
pub const TEMPLATE: &str = r#"
# Where referrals are kept. Default: SQLite, data/inbox.sqlite (one server).
# Several replicas share one PostgreSQL database instead (see the README,
# "PostgreSQL store"): TLS is always required, the password is read from
# its own file (one line, mode 0600), never written here.
# [store]
# kind = "postgres"
# url = "postgresql://inbox@db.comune.example:5432/inbox"
# password_file = "/etc/sportello/pg-password"
# ca_file = "/etc/sportello/pg-ca.pem"
"#;

/// `[store]` as written in `inbox.toml`; [`StoreSection::check`] turns it
/// into a [`StoreKind`] with an error naming the key at fault.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSection {
    pub kind: Option<String>,
    pub url: Option<String>,
    pub password_file: Option<PathBuf>,
    pub ca_file: Option<PathBuf>,
}

/// The store the server and the commands use.
#[derive(Debug, Clone, Default)]
pub enum StoreKind {
    #[default]
    Sqlite,
    Postgres(PgConfig),
}

impl StoreSection {
    pub(super) fn resolve(&mut self, base: &Path) {
        for p in [self.password_file.as_mut(), self.ca_file.as_mut()]
            .into_iter()
            .flatten()
        {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
    }

    /// Checks the section; on PostgreSQL also that the URL holds no
    /// password and that the password file is readable by its owner only.
    pub fn check(&self) -> Result<StoreKind> {
        match self.kind.as_deref().unwrap_or("sqlite") {
            "sqlite" => {
                for (key, set) in [
                    ("url", self.url.is_some()),
                    ("password_file", self.password_file.is_some()),
                    ("ca_file", self.ca_file.is_some()),
                ] {
                    if set {
                        bail!(
                            "[store] {key} applies only to kind = \"postgres\": remove it, \
                             or set kind = \"postgres\""
                        );
                    }
                }
                Ok(StoreKind::Sqlite)
            }
            "postgres" => self.postgres().map(StoreKind::Postgres),
            other => bail!(
                "[store] kind = \"{other}\" is not a store: use \"sqlite\" (the default) or \"postgres\""
            ),
        }
    }

    fn postgres(&self) -> Result<PgConfig> {
        let url = self.url.clone().context(
            "[store] url is missing: kind = \"postgres\" needs \
             url = \"postgresql://USER@HOST:PORT/DATABASE\" (no password in it)",
        )?;
        let parsed: postgres::Config = url.parse().map_err(|e| {
            anyhow::anyhow!(
                "[store] url is not a PostgreSQL URL ({e}): write \
                 postgresql://USER@HOST:PORT/DATABASE"
            )
        })?;
        if parsed.get_password().is_some() {
            // The message never repeats the URL: it holds the password.
            bail!(
                "[store] url must not hold the password: remove it from the URL and put it \
                 alone in the file named by password_file (mode 0600)"
            );
        }
        if parsed.get_user().is_none() {
            bail!("[store] url names no user: write postgresql://USER@HOST:PORT/DATABASE");
        }
        let ca_file = self.ca_file.clone().context(
            "[store] ca_file is missing: the PEM file of the CA that signed PostgreSQL's \
             certificate (TLS is always required)",
        )?;
        if !ca_file.is_file() {
            bail!(
                "[store] ca_file = {} is not a readable file: the PEM file of the CA that signed \
                 PostgreSQL's certificate",
                ca_file.display()
            );
        }
        let password_file = self.password_file.clone().context(
            "[store] password_file is missing: a file holding only the PostgreSQL password \
             (one line, mode 0600)",
        )?;
        let meta = std::fs::metadata(&password_file).with_context(|| {
            format!(
                "[store] password_file = {} cannot be read: create it with the password alone \
                 on one line, mode 0600",
                password_file.display()
            )
        })?;
        if meta.permissions().mode() & 0o077 != 0 {
            bail!(
                "[store] password_file = {} is readable by others: chmod 600 it",
                password_file.display()
            );
        }
        Ok(PgConfig {
            url,
            password_file: Some(password_file),
            ca_file,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(toml_text: &str) -> StoreSection {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn the_template_parses_and_its_example_is_a_postgres_section() {
        let cfg: toml::Table = toml::from_str(&crate::config::template(8443)).unwrap();
        assert!(
            !cfg.contains_key("store"),
            "commented out: SQLite by default"
        );
        let example: String = TEMPLATE
            .lines()
            .filter_map(|l| l.strip_prefix("# "))
            .skip_while(|l| !l.starts_with("[store]"))
            .skip(1)
            .map(|l| format!("{l}\n"))
            .collect();
        let s: StoreSection = toml::from_str(&example).unwrap();
        assert_eq!(s.kind.as_deref(), Some("postgres"));
        assert!(s.url.is_some() && s.password_file.is_some() && s.ca_file.is_some());
    }

    #[test]
    fn sqlite_is_the_default_and_refuses_postgres_keys() {
        assert!(matches!(section("").check().unwrap(), StoreKind::Sqlite));
        let e = section("url = \"postgresql://a@h/d\"").check().unwrap_err();
        assert!(e.to_string().contains("[store] url applies only"), "{e}");
        let e = section("kind = \"mysql\"").check().unwrap_err();
        assert!(e.to_string().contains("kind = \"mysql\""), "{e}");
    }

    #[test]
    fn postgres_needs_url_ca_and_a_private_password_file() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "").unwrap();
        let pw = dir.path().join("pw");
        std::fs::write(&pw, "secret-word\n").unwrap();
        std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut s = StoreSection {
            kind: Some("postgres".into()),
            ..Default::default()
        };
        let err = |s: &StoreSection| s.check().unwrap_err().to_string();
        assert!(err(&s).contains("[store] url is missing"));
        s.url = Some("postgresql://inbox:secret-word@127.0.0.1/db".into());
        let e = err(&s);
        assert!(
            e.contains("must not hold the password") && !e.contains("secret-word"),
            "{e}"
        );
        s.url = Some("postgresql://inbox@127.0.0.1/db".into());
        assert!(err(&s).contains("[store] ca_file is missing"));
        s.ca_file = Some(ca);
        assert!(err(&s).contains("[store] password_file is missing"));
        s.password_file = Some(pw.clone());
        assert!(err(&s).contains("chmod 600"));
        std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(matches!(s.check().unwrap(), StoreKind::Postgres(_)));
    }
}
