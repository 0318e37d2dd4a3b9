//! Command line (clap derive). Every command that changes something says
//! what it did and what to do next.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};

use crate::admin::{self, InitOptions};
use crate::config::{Config, StoreKind};
use crate::kinds::Status;
use crate::stats::GroupBy;
use crate::store::db::Db;
use crate::{backup, retention, store, web};

#[derive(Parser, Debug)]
#[command(
    name = "sportello-inbox",
    version,
    about = "Referral inbox of the Sportello Sociale: operators send referrals over mutual TLS; \
             each is encrypted to the staff's OpenPGP keys and committed before it is acknowledged."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Debug)]
struct ConfigArg {
    /// Configuration file written by `init`.
    #[arg(long, short, default_value = "inbox.toml", value_name = "FILE")]
    config: PathBuf,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Write a commented inbox.toml, create the data directory (0700), a private
    /// CA, a server certificate and an empty CRL. Refuses to overwrite a CA.
    Init {
        /// Directory for inbox.toml and data/.
        #[arg(long, default_value = ".", value_name = "DIR")]
        dir: PathBuf,
        /// Host name or IP address for the server certificate (repeatable).
        #[arg(long = "hostname", value_name = "NAME", default_values_t = [String::from("localhost"), String::from("127.0.0.1")])]
        hostnames: Vec<String>,
        /// HTTPS port written in inbox.toml.
        #[arg(long, default_value_t = 8443)]
        port: u16,
    },
    /// Manage operators (client certificates).
    #[command(subcommand)]
    Operator(OperatorCmd),
    /// Manage the staff's OpenPGP public keys that referrals are encrypted to.
    #[command(subcommand)]
    Staff(StaffCmd),
    /// The municipalities of `[[municipality]]` (or the implicit one).
    #[command(subcommand)]
    Municipality(MunicipalityCmd),
    /// Serve the referral form over HTTPS (mTLS) and /healthz on 127.0.0.1.
    Serve(ConfigArg),
    /// The delivery queue: list referrals by status, put a failed one back.
    #[command(subcommand)]
    Queue(QueueCmd),
    /// Apply the retention rules now (`serve` also does it at start and hourly).
    Purge(ConfigArg),
    /// Move the store: copy the SQLite inbox into PostgreSQL.
    #[command(subcommand)]
    Store(StoreCmd),
    /// Write a consistent copy of the database to FILE, also while `serve` runs.
    Backup {
        #[command(flatten)]
        config: ConfigArg,
        /// New file for the copy (refuses to overwrite).
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Count referrals by month, desk, need area, urgency, age band or status.
    Stats {
        #[command(flatten)]
        config: ConfigArg,
        /// What to group by.
        #[arg(long, value_enum, default_value = "month")]
        by: GroupBy,
        /// Only referrals of this year.
        #[arg(long)]
        year: Option<i32>,
        /// Instead of counts: hours from submission to "presa in carico"
        /// (median and p90) by month, or by desk with `--by desk`.
        #[arg(long)]
        care_time: bool,
        /// Only this municipality's referrals (required with several).
        #[arg(long, value_name = "SLUG")]
        municipality: Option<String>,
    },
    /// The meeting report: one HTML file with charts, a CSV per table and
    /// the same numbers as JSON, small counts suppressed.
    Report {
        #[command(flatten)]
        config: ConfigArg,
        /// First day (YYYY-MM-DD), included.
        #[arg(long, value_parser = parse_day)]
        from: time::Date,
        /// Last day (YYYY-MM-DD), included.
        #[arg(long, value_parser = parse_day)]
        to: time::Date,
        /// Only this desk (default: every desk, and all together).
        #[arg(long, value_name = "SLUG")]
        desk: Option<String>,
        /// New (or empty) folder for the files.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Only this municipality's referrals and contacts (required with several).
        #[arg(long, value_name = "SLUG")]
        municipality: Option<String>,
    },
}

fn parse_day(s: &str) -> Result<time::Date, String> {
    crate::contact::parse_date(s)
        .ok_or_else(|| format!("{s:?} is not a date: use YYYY-MM-DD, e.g. 2026-01-31"))
}

#[derive(Subcommand, Debug)]
enum OperatorCmd {
    /// Issue a client certificate and a PKCS#12 bundle; the passphrase is printed once.
    Add {
        #[command(flatten)]
        config: ConfigArg,
        /// Full name, as shown in the browser's certificate picker.
        #[arg(long)]
        name: String,
        /// Desk slug (e.g. via-mantova): recorded with every referral.
        #[arg(long)]
        desk: String,
        /// Validity of the certificate in days.
        #[arg(long, default_value_t = 365)]
        days: u32,
        /// Where to write the bundle (default: data/bundles/operator-ID.p12).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// `referent`: the desk's referent, who sees every referral of the desk.
        #[arg(long, default_value = "operator", value_parser = ["operator", "referent"])]
        role: String,
    },
    /// List operators.
    List(ConfigArg),
    /// Make an operator the desk's referent, or an operator again.
    SetRole {
        #[command(flatten)]
        config: ConfigArg,
        /// Operator id (see `operator list`).
        id: i64,
        #[arg(value_parser = ["operator", "referent"])]
        role: String,
    },
    /// Revoke an operator's certificate: refused at the next handshake, no restart.
    Revoke {
        #[command(flatten)]
        config: ConfigArg,
        /// Operator id (see `operator list`).
        id: i64,
    },
}

#[derive(Subcommand, Debug)]
enum QueueCmd {
    /// Referrals with their delivery status, attempts and last error (newest first).
    List {
        #[command(flatten)]
        config: ConfigArg,
        /// Only this status.
        #[arg(long, value_parser = ["queued", "delivered", "failed"])]
        status: Option<String>,
        /// At most this many lines.
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
    /// Queue a failed referral again (a running `serve` picks it up within
    /// `mail.retry.poll_seconds`).
    Retry {
        #[command(flatten)]
        config: ConfigArg,
        /// Reference, e.g. SEG-2026-000123.
        reference: String,
    },
}

#[derive(Subcommand, Debug)]
enum StaffCmd {
    /// Add a recipient's public key (ASCII-armored, from `gpg --armor --export`).
    Add {
        #[command(flatten)]
        config: ConfigArg,
        #[arg(long)]
        name: String,
        #[arg(long, value_name = "FILE.asc")]
        key: PathBuf,
        /// The municipality whose referrals it reads (default: the only one).
        #[arg(long, value_name = "SLUG")]
        municipality: Option<String>,
    },
    /// List recipients.
    List(ConfigArg),
    /// Remove a recipient (a running `serve` stops sealing to it within seconds).
    Remove {
        #[command(flatten)]
        config: ConfigArg,
        id: i64,
    },
}

#[derive(Subcommand, Debug)]
enum StoreCmd {
    /// Copy every table of the data directory's SQLite inbox (stop `serve`
    /// first) into the empty PostgreSQL of `[store] kind = "postgres"`, in
    /// one transaction; a target holding any row is refused.
    CopyToPostgres {
        #[command(flatten)]
        config: ConfigArg,
        /// The SQLite file (default: inbox.sqlite of the data directory).
        #[arg(long, value_name = "FILE")]
        from: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
enum MunicipalityCmd {
    /// Slug, name, number of staff keys and addresses of each.
    List(ConfigArg),
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            // A mistake in what was asked (like clap's usage errors): 2.
            let bad_input = e
                .downcast_ref::<crate::report::ReportError>()
                .is_some_and(|r| r.is_bad_input())
                || e.downcast_ref::<crate::municipality::UnknownMunicipality>()
                    .is_some();
            if bad_input {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SPORTELLO_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, not in log files.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Init {
            dir,
            hostnames,
            port,
        } => {
            let path = admin::init(&InitOptions {
                dir,
                hostnames,
                port,
            })?;
            let cfg = Config::load(&path)?;
            println!(
                "Created {} and {}",
                path.display(),
                cfg.paths.data_dir.display()
            );
            println!(
                "CA certificate: {} (key {})",
                cfg.tls.client_ca.display(),
                cfg.tls.client_ca_key.display()
            );
            println!();
            println!("Next steps:");
            println!("  1. Review {} (areas of the city, ports).", path.display());
            println!("  2. Add the staff's public key:  sportello-inbox staff add --config {} --name \"Staff Non Autosufficienza\" --key staff.asc", path.display());
            println!("  3. Add an operator:             sportello-inbox operator add --config {} --name \"Giulia Esempio\" --desk via-mantova", path.display());
            println!(
                "  4. Start the server:            sportello-inbox serve --config {}",
                path.display()
            );
            println!("  5. Browsers must trust {} for the server certificate (or use the Comune's own certificate: see [tls] in inbox.toml).", cfg.tls.client_ca.display());
            println!(
                "  6. Move {} offline when you are not adding or revoking operators.",
                cfg.tls.client_ca_key.display()
            );
        }
        Command::Operator(OperatorCmd::Add {
            config,
            name,
            desk,
            days,
            out,
            role,
        }) => {
            let cfg = Config::load(&config.config)?;
            let op = admin::operator_add(&cfg, &name, &desk, days, out.as_deref())?;
            if role != "operator" {
                admin::operator_set_role(&cfg, op.id, &role)?;
            }
            println!(
                "operator {} added, certificate valid until {}",
                op.id,
                op.not_after.date()
            );
            println!("bundle: {}", op.bundle.display());
            println!("passphrase: {}", op.passphrase);
            println!("The passphrase is shown only now: give it to the operator separately from the bundle.");
            println!("Import the bundle in Firefox (Settings > Privacy > Certificates > Your Certificates > Import) or in Windows/Chrome (double click the file).");
        }
        Command::Operator(OperatorCmd::List(c)) => {
            let cfg = Config::load(&c.config)?;
            let mut db = Db::open(&cfg)?;
            println!(
                "{:>4}  {:<30} {:<20} {:<9} {:<12} status",
                "id", "name", "desk", "role", "expires"
            );
            for o in db.operators()? {
                let status = match o.revoked_at {
                    Some(at) => format!("revoked {}", at.date()),
                    None => "active".into(),
                };
                println!(
                    "{:>4}  {:<30} {:<20} {:<9} {:<12} {status}",
                    o.id,
                    o.name,
                    o.desk,
                    o.role.slug(),
                    o.not_after.date().to_string()
                );
            }
        }
        Command::Operator(OperatorCmd::SetRole { config, id, role }) => {
            let cfg = Config::load(&config.config)?;
            admin::operator_set_role(&cfg, id, &role)?;
            println!("operator {id} is now {role} (a running server applies it within 5 s)");
        }
        Command::Operator(OperatorCmd::Revoke { config, id }) => {
            let cfg = Config::load(&config.config)?;
            admin::operator_revoke(&cfg, id)?;
            println!("operator {id} revoked; CRL {} updated (a running server applies it at the next connection)", cfg.tls.crl.display());
        }
        Command::Staff(StaffCmd::Add {
            config,
            name,
            key,
            municipality,
        }) => {
            let cfg = Config::load(&config.config)?;
            let (id, k, m) = admin::staff_add(&cfg, &name, &key, municipality.as_deref())?;
            println!(
                "staff key {id} added to municipality {m}: {} {}",
                k.fingerprint,
                k.user_ids.join(", ")
            );
            println!("Restart `serve` if it is running.");
        }
        Command::Staff(StaffCmd::List(c)) => {
            let cfg = Config::load(&c.config)?;
            let mut db = Db::open(&cfg)?;
            db.adopt_earlier_rows(&cfg.municipalities())?;
            for s in db.staff()? {
                println!(
                    "{:>4}  {:<30} {}  added {}  {}",
                    s.id,
                    s.name,
                    s.fingerprint,
                    s.created_at.date(),
                    s.municipality.unwrap_or_default()
                );
            }
        }
        Command::Municipality(MunicipalityCmd::List(c)) => {
            let cfg = Config::load(&c.config)?;
            let mut db = Db::open(&cfg)?;
            db.adopt_earlier_rows(&cfg.municipalities())?;
            for line in crate::municipality::list_from(&db.staff()?, &cfg) {
                println!("{line}");
            }
        }
        Command::Staff(StaffCmd::Remove { config, id }) => {
            let cfg = Config::load(&config.config)?;
            admin::staff_remove(&cfg, id)?;
            println!("staff key {id} removed. Restart `serve` to apply.");
        }
        Command::Serve(c) => {
            let cfg = Config::load(&c.config)?;
            web::serve(&cfg)?;
        }
        Command::Queue(QueueCmd::List {
            config,
            status,
            limit,
        }) => {
            let cfg = Config::load(&config.config)?;
            let rows = match Db::open(&cfg)? {
                Db::Sqlite(conn) => store::queue::list(&conn, status.as_deref(), limit)?,
                Db::Pg(mut p) => {
                    store::pg::queue_admin::list(p.client()?, status.as_deref(), limit)?
                }
            };
            println!(
                "{:<16} {:<20} {:<9} {:>3} {:<20} {:<20} last error",
                "reference", "submitted (UTC)", "status", "try", "next attempt", "delivered"
            );
            for r in rows {
                let status = if r.status == Status::Delivered && !r.has_ciphertext {
                    "delivered (purged)".to_string()
                } else {
                    r.status.to_string()
                };
                let at = |t: Option<time::OffsetDateTime>| t.map_or("-".into(), store::rfc3339);
                println!(
                    "{:<16} {:<20} {:<9} {:>3} {:<20} {:<20} {}",
                    r.reference,
                    store::rfc3339(r.created_at),
                    status,
                    r.attempts,
                    at(r.next_attempt_at),
                    at(r.delivered_at),
                    r.last_error.unwrap_or_default()
                );
            }
        }
        Command::Queue(QueueCmd::Retry { config, reference }) => {
            let cfg = Config::load(&config.config)?;
            match Db::open(&cfg)? {
                Db::Sqlite(mut conn) => store::queue::retry(&mut conn, &reference)?,
                Db::Pg(mut p) => store::pg::queue_admin::retry(p.client()?, &reference)?,
            }
            println!("{reference} queued again; a running server sends it within a few seconds.");
        }
        Command::Purge(c) => {
            let cfg = Config::load(&c.config)?;
            let link_days = cfg.staff.as_ref().map(|s| s.link_days);
            let now = time::OffsetDateTime::now_utc();
            let p = match Db::open(&cfg)? {
                Db::Sqlite(mut conn) => {
                    retention::purge(&mut conn, &cfg.retention, link_days, now)?
                }
                Db::Pg(mut pg) => {
                    match store::pg::purge(pg.client()?, &cfg.retention, link_days, now)? {
                        Some(p) => p,
                        None => anyhow::bail!(
                            "another replica is purging now: nothing done, try again later"
                        ),
                    }
                }
            };
            println!(
                "purged: {} ciphertexts of delivered referrals, {} referral rows, {} audit rows, {} contacts",
                p.ciphertexts, p.referrals, p.audit, p.contacts
            );
        }
        Command::Store(StoreCmd::CopyToPostgres { config, from }) => {
            let cfg = Config::load(&config.config)?;
            let (source, copied) = store::pg::copy_to_postgres(&cfg, from.as_deref())?;
            println!(
                "copied {} into PostgreSQL (one transaction):",
                source.display()
            );
            for (table, n) in copied {
                println!("  {table}: {n} rows");
            }
            println!(
                "Next: start serve. The SQLite file still holds the same data: keep it like a backup, or delete it."
            );
        }
        Command::Backup { config, file } => {
            let cfg = Config::load(&config.config)?;
            match &cfg.store_kind {
                StoreKind::Sqlite => {
                    let s = backup::backup(&cfg.database(), &file)?;
                    println!(
                        "backup written: {} ({} referrals, {} bytes, mode 0600)",
                        file.display(),
                        s.referrals,
                        s.bytes
                    );
                }
                StoreKind::Postgres(pg) => {
                    let bytes = store::pg::backup(pg, &store::pg::tool("pg_dump")?, &file)?;
                    println!(
                        "backup written: {} (pg_dump of the inbox schema, custom format, {bytes} bytes, mode 0600)",
                        file.display()
                    );
                }
            }
            println!("It holds ciphertext and metadata only; keep it as protected as the server.");
        }
        Command::Stats {
            config,
            by,
            year,
            care_time,
            municipality,
        } => {
            let cfg = Config::load(&config.config)?;
            crate::cli_stats::stats(&cfg, by, year, care_time, municipality.as_deref())?;
        }
        Command::Report {
            config,
            from,
            to,
            desk,
            out,
            municipality,
        } => {
            let cfg = Config::load(&config.config)?;
            crate::cli_stats::report(
                &cfg,
                from,
                to,
                desk.as_deref(),
                &out,
                municipality.as_deref(),
            )?;
        }
    }
    Ok(())
}
