//! A real PostgreSQL for the tests: Debian's binaries, `initdb` into a
//! temporary folder, TLS on, listening on 127.0.0.1 on a free port, stopped
//! on drop. PostgreSQL refuses to run as root: as root, the folder is given
//! to the `postgres` user and the server runs as that user.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use sportello_inbox::store::pg::PgConfig;

pub struct Postgres {
    pub dir: tempfile::TempDir,
    pub port: u16,
    bin: PathBuf,
    data: PathBuf,
    as_user: Option<String>,
    /// What the inbox needs to connect (TLS, password file).
    pub config: PgConfig,
}

/// The newest of Debian's /usr/lib/postgresql/*/bin, or PG_BIN.
fn bin_dir() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("PG_BIN") {
        return Ok(PathBuf::from(p));
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .context("PostgreSQL is not installed: apt-get install postgresql (test.sh does it)")?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    found.sort();
    match found.pop() {
        Some((_, b)) => Ok(b),
        None => bail!("no /usr/lib/postgresql/*/bin/initdb: apt-get install postgresql"),
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

impl Postgres {
    pub fn start() -> Result<Postgres> {
        let bin = bin_dir()?;
        let dir = tempfile::tempdir()?;
        let tls = super::smtp::tls_files(&dir.path().join("tls"))?;
        let as_user = is_root().then(|| "postgres".to_string());
        let password = "inbox-test-password";
        let pwfile = dir.path().join("password");
        std::fs::write(&pwfile, format!("{password}\n"))?;
        let data = dir.path().join("data");
        let port = super::smtp::free_port()?;
        let pg = Postgres {
            port,
            bin,
            data,
            as_user,
            config: PgConfig {
                url: format!("postgresql://inbox@127.0.0.1:{port}/postgres"),
                password_file: Some(pwfile.clone()),
                ca_file: tls.ca.clone(),
            },
            dir,
        };
        if let Some(user) = &pg.as_user {
            chown_r(pg.dir.path(), user)?;
        }
        // PostgreSQL refuses a key that others may read.
        std::fs::set_permissions(
            &tls.key,
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )?;
        pg.run(
            "initdb",
            &[
                "-D",
                &pg.data.display().to_string(),
                "-U",
                "inbox",
                "--pwfile",
                &pwfile.display().to_string(),
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "-E",
                "UTF8",
                "--no-instructions",
            ],
        )?;
        let opts = format!(
            "-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={} \
             -c ssl=on -c ssl_cert_file={} -c ssl_key_file={} -c max_connections=100",
            pg.dir.path().display(),
            tls.cert.display(),
            tls.key.display()
        );
        let log = pg.dir.path().join("postgres.log");
        pg.run(
            "pg_ctl",
            &[
                "-D",
                &pg.data.display().to_string(),
                "-l",
                &log.display().to_string(),
                "-o",
                &opts,
                "-w",
                "-t",
                "60",
                "start",
            ],
        )
        .with_context(|| {
            format!(
                "PostgreSQL did not start: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            )
        })?;
        Ok(pg)
    }

    fn run(&self, tool: &str, args: &[&str]) -> Result<()> {
        let exe = self.bin.join(tool);
        let mut cmd = match &self.as_user {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&exe);
                c
            }
            None => Command::new(&exe),
        };
        let out = cmd
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .with_context(|| format!("cannot run {}", exe.display()))?;
        if !out.status.success() {
            bail!(
                "{tool} failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    }

    pub fn bin(&self, tool: &str) -> PathBuf {
        self.bin.join(tool)
    }

    /// A client of the inbox's own kind (TLS, password file).
    pub fn client(&self) -> Result<postgres::Client> {
        sportello_inbox::store::pg::connect(&self.config)
    }

    /// A migrated, empty inbox schema in a fresh database `name`.
    pub fn database(&self, name: &str) -> Result<PgConfig> {
        self.client()?
            .batch_execute(&format!("CREATE DATABASE {name}"))?;
        let mut cfg = self.config.clone();
        cfg.url = format!("postgresql://inbox@127.0.0.1:{}/{name}", self.port);
        sportello_inbox::store::pg::migrate(&mut sportello_inbox::store::pg::connect(&cfg)?)?;
        Ok(cfg)
    }
}

fn chown_r(path: &Path, user: &str) -> Result<()> {
    let st = Command::new("chown")
        .args(["-R", user])
        .arg(path)
        .status()?;
    if !st.success() {
        bail!("cannot chown {} to {user}", path.display());
    }
    Ok(())
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data.display().to_string(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        );
    }
}

/// Points `fx`'s inbox.toml at a new database `db` of `pg` (`[store] kind =
/// "postgres"`, the password file copied with mode 0600, which `serve`
/// requires); returns the database's URL. Staff keys and operators added
/// afterwards through the CLI go into PostgreSQL.
pub fn use_postgres(fx: &super::Fixture, pg: &Postgres, db: &str) -> Result<String> {
    use std::os::unix::fs::PermissionsExt;
    pg.client()?
        .batch_execute(&format!("CREATE DATABASE {db}"))?;
    let pw = fx.dir.path().join("pg-password");
    std::fs::copy(
        pg.config.password_file.as_ref().context("password file")?,
        &pw,
    )?;
    std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o600))?;
    let url = format!("postgresql://inbox@127.0.0.1:{}/{db}", pg.port);
    fx.configure(
        &[],
        &format!(
            "\n[store]\nkind = \"postgres\"\nurl = \"{url}\"\npassword_file = \"{}\"\nca_file = \"{}\"\n",
            pw.display(),
            pg.config.ca_file.display()
        ),
    )?;
    Ok(url)
}
