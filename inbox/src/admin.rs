//! The administrator's commands: `init`, `operator ...`, `staff ...`.
//! Each change is written to the audit log as an action, never with
//! anything about a referred person.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use time::{Duration, OffsetDateTime};

use crate::config::{self, Config};
use crate::fsutil::{create_private_dir, write_atomic, write_new};
use crate::seal::StaffKey;
use crate::store::db::Db;
use crate::{pki, store};

pub struct InitOptions {
    pub dir: PathBuf,
    pub hostnames: Vec<String>,
    pub port: u16,
}

/// Creates config, data directory, CA, server certificate, empty CRL,
/// CSRF key and database. Never overwrites an existing CA.
pub fn init(opts: &InitOptions) -> Result<PathBuf> {
    std::fs::create_dir_all(&opts.dir)
        .with_context(|| format!("cannot create {}", opts.dir.display()))?;
    let config_path = opts.dir.join("inbox.toml");
    if !config_path.exists() {
        write_new(&config_path, config::template(opts.port).as_bytes(), 0o640)?;
    }
    let cfg = Config::load(&config_path)?;
    if cfg.tls.client_ca.exists() || cfg.tls.client_ca_key.exists() {
        bail!(
            "a CA already exists ({}): refusing to overwrite it, since every operator \
             certificate depends on it. Remove it by hand only if you mean to re-issue them all.",
            cfg.tls.client_ca.display()
        );
    }
    create_private_dir(&cfg.paths.data_dir)?;
    create_private_dir(&cfg.bundles_dir())?;

    let ca = pki::create_ca("Sportello Inbox CA")?;
    write_new(&cfg.tls.client_ca_key, ca.key_pem.as_bytes(), 0o600)?;
    write_new(&cfg.tls.client_ca, ca.cert_pem.as_bytes(), 0o644)?;
    let issuer = pki::load_issuer(&cfg.tls.client_ca, &cfg.tls.client_ca_key)?;

    if cfg.tls.cert.exists() {
        println!(
            "keeping the existing server certificate {}",
            cfg.tls.cert.display()
        );
    } else {
        let server = pki::issue_server_cert(&issuer, &opts.hostnames)?;
        write_new(&cfg.tls.key, server.key_pem.as_bytes(), 0o600)?;
        // Chain: leaf then CA, so clients that trust the CA get the full path.
        write_new(
            &cfg.tls.cert,
            format!("{}{}", server.cert_pem, ca.cert_pem).as_bytes(),
            0o644,
        )?;
    }
    write_atomic(&cfg.tls.crl, pki::make_crl(&issuer, &[])?.as_bytes(), 0o644)?;
    if !cfg.csrf_key().exists() {
        let mut secret = [0u8; 32];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut secret)
            .map_err(|_| anyhow::anyhow!("system random generator failed"))?;
        write_new(&cfg.csrf_key(), &secret, 0o600)?;
    }
    let conn = store::open(&cfg.database())?;
    store::audit(&conn, "admin", "init", None)?;
    Ok(config_path)
}

pub struct NewOperator {
    pub id: i64,
    pub bundle: PathBuf,
    pub passphrase: String,
    pub not_after: OffsetDateTime,
}

fn check_slug(s: &str, what: &str) -> Result<()> {
    if s.is_empty()
        || s.len() > 40
        || !s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        bail!("{what} `{s}` must be a slug: lowercase letters, digits and '-', at most 40");
    }
    Ok(())
}

fn check_name(s: &str) -> Result<()> {
    if s.trim().is_empty() || s.chars().count() > 80 || s.chars().any(char::is_control) {
        bail!("the name must be 1 to 80 printable characters");
    }
    Ok(())
}

/// Issues a client certificate and its PKCS#12 bundle, records the operator.
pub fn operator_add(
    cfg: &Config,
    name: &str,
    desk: &str,
    days: u32,
    out: Option<&Path>,
) -> Result<NewOperator> {
    check_name(name)?;
    check_slug(desk, "desk")?;
    cfg.check_desk(desk)?;
    if days == 0 || days > 825 {
        bail!("--days must be between 1 and 825");
    }
    let issuer = pki::load_issuer(&cfg.tls.client_ca, &cfg.tls.client_ca_key)?;
    let now = OffsetDateTime::now_utc();
    let not_after = now + Duration::days(i64::from(days));
    let cert = pki::issue_client_cert(
        &issuer,
        &format!("{name} ({desk})"),
        desk,
        now - Duration::minutes(5),
        not_after,
    )?;
    let ca_der = tls_ca_der(cfg)?;
    let passphrase = pki::generate_passphrase()?;
    let not_after_s = not_after
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    // The row and its audit line commit only once the bundle is written.
    let write_bundle = |id: i64| -> Result<PathBuf> {
        let bundle = match out {
            Some(p) => p.to_path_buf(),
            None => cfg.bundles_dir().join(format!("operator-{id}.p12")),
        };
        let p12 = pki::pkcs12(&cert, &ca_der, &passphrase, &format!("Sportello {name}"))?;
        if let Some(parent) = bundle.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        write_new(&bundle, &p12, 0o600)?;
        Ok(bundle)
    };
    let (id, bundle) = match Db::open(cfg)? {
        Db::Sqlite(mut conn) => {
            let tx = conn.transaction()?;
            let id = store::insert_operator(
                &tx,
                name,
                desk,
                &cert.serial_hex,
                &cert.sha256_hex,
                &not_after_s,
            )?;
            let bundle = write_bundle(id)?;
            store::audit(&tx, "admin", &format!("operator.add:{id}"), None)?;
            tx.commit()?;
            (id, bundle)
        }
        Db::Pg(mut p) => {
            let mut tx = p.client()?.transaction()?;
            let id = store::pg::insert_operator(
                &mut tx,
                name,
                desk,
                &cert.serial_hex,
                &cert.sha256_hex,
                &not_after_s,
            )?;
            let bundle = write_bundle(id)?;
            store::pg::audit(&mut tx, "admin", &format!("operator.add:{id}"), None)?;
            tx.commit()?;
            (id, bundle)
        }
    };
    Ok(NewOperator {
        id,
        bundle,
        passphrase,
        not_after,
    })
}

fn tls_ca_der(cfg: &Config) -> Result<Vec<u8>> {
    let certs = crate::tls::load_certs(&cfg.tls.client_ca)?;
    Ok(certs[0].to_vec())
}

/// `operator set-role`: a desk referent sees every referral of the desk.
pub fn operator_set_role(cfg: &Config, id: i64, role: &str) -> Result<()> {
    let role = store::Role::parse(role)
        .with_context(|| format!("unknown role `{role}`: operator or referent"))?;
    let mut db = Db::open(cfg)?;
    if !db.set_role(id, role)? {
        bail!("no operator with id {id} (see `operator list`)");
    }
    db.audit(
        "admin",
        &format!("operator.role:{id}:{}", role.slug()),
        None,
    )?;
    Ok(())
}

/// Marks the operator revoked and rewrites the CRL; a running server
/// picks it up at the next handshake (on PostgreSQL every replica also
/// refuses the operator at once: it looks them up after each handshake,
/// and rewrites its own CRL from the database).
pub fn operator_revoke(cfg: &Config, id: i64) -> Result<()> {
    let mut db = Db::open(cfg)?;
    if db.operator(id)?.is_none() {
        bail!("no operator with id {id} (see `operator list`)");
    }
    let issuer = pki::load_issuer(&cfg.tls.client_ca, &cfg.tls.client_ca_key)?;
    let changed = db.revoke_operator(id)?;
    // Rewrite even if already revoked: repairs a CRL lost or restored from an old backup.
    let crl = pki::make_crl(&issuer, &db.revoked_serials()?)?;
    write_atomic(&cfg.tls.crl, crl.as_bytes(), 0o644)?;
    if changed {
        db.audit("admin", &format!("operator.revoke:{id}"), None)?;
    }
    Ok(())
}

/// Adds a staff key to `municipality` (`None`: the only one).
pub fn staff_add(
    cfg: &Config,
    name: &str,
    key_file: &Path,
    municipality: Option<&str>,
) -> Result<(i64, StaffKey, String)> {
    check_name(name)?;
    let municipality = cfg.municipality(municipality)?;
    let bytes =
        std::fs::read(key_file).with_context(|| format!("cannot read {}", key_file.display()))?;
    let key = StaffKey::parse(&bytes).with_context(|| format!("{}", key_file.display()))?;
    let text = String::from_utf8(bytes)
        .context("the key file must be ASCII-armored (gpg --armor --export)")?;
    let mut db = Db::open(cfg)?;
    let id = db.insert_staff(name, &key.fingerprint, &text, &municipality.slug)?;
    db.audit("admin", &format!("staff.add:{id}"), None)?;
    Ok((id, key, municipality.slug))
}

pub fn staff_remove(cfg: &Config, id: i64) -> Result<()> {
    let mut db = Db::open(cfg)?;
    if !db.remove_staff(id)? {
        bail!("no staff key with id {id} (see `staff list`)");
    }
    db.audit("admin", &format!("staff.remove:{id}"), None)?;
    Ok(())
}
