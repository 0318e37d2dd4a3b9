//! `store copy-to-postgres`: an existing SQLite inbox copied into an empty
//! PostgreSQL `inbox` schema, every table and column as it is (ciphertext,
//! ids, audit lines), in one transaction. A target holding any row is
//! refused; so is a table or column that one side has and the other has
//! not, so nothing is left behind silently.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use postgres::types::{ToSql, Type};
use postgres::{Client, Transaction};
use rusqlite::types::Value;
use rusqlite::Connection;

use crate::config::{Config, StoreKind};

/// The tables copied, parents before children (the foreign keys).
const TABLES: &[&str] = &[
    "operators",
    "staff",
    "referrals",
    "care_events",
    "contacts",
    "contact_needs",
    "contact_services",
    "audit",
];

/// SQLite tables that are not data: the `/healthz` probe row.
const SKIPPED: &[&str] = &["health_probe"];

/// PostgreSQL tables that must be empty but have no SQLite twin: the
/// reference counter starts after the highest stored reference by itself.
const PG_ONLY: &[&str] = &["reference_counters", "health_probe"];

/// Rows copied, per table, in `TABLES` order.
pub type Copied = Vec<(&'static str, u64)>;

/// Copies `source` (an SQLite inbox at the current schema version, read in
/// one snapshot) into `client`'s migrated, empty `inbox` schema.
pub fn copy_from_sqlite(source: &Connection, client: &mut Client) -> Result<Copied> {
    let sqlite = source.unchecked_transaction()?;
    check_tables(&sqlite)?;
    let mut tx = client.transaction()?;
    // Nobody writes meanwhile: a replica started too early waits, then sees
    // the copy (or nothing, if it fails).
    let all: Vec<&str> = TABLES.iter().chain(PG_ONLY).copied().collect();
    tx.batch_execute(&format!(
        "LOCK TABLE {} IN ACCESS EXCLUSIVE MODE",
        all.join(", ")
    ))?;
    for table in &all {
        let n: i64 = tx
            .query_one(&format!("SELECT COUNT(*) FROM {table}"), &[])?
            .get(0);
        if n > 0 {
            bail!(
                "the PostgreSQL inbox schema is not empty ({table} has {n} rows): \
                 copy only into a new database; nothing was copied"
            );
        }
    }
    let mut copied = Vec::new();
    for table in TABLES {
        let n = copy_table(&sqlite, &mut tx, table)
            .with_context(|| format!("cannot copy {table}; nothing was copied"))?;
        copied.push((*table, n));
    }
    super::audit(&mut tx, "admin", "store.copy_from_sqlite", None)?;
    tx.commit()?;
    Ok(copied)
}

/// Every SQLite table is either copied or known not to be data.
fn check_tables(sqlite: &Connection) -> Result<()> {
    let mut st = sqlite.prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
    )?;
    let names = st.query_map([], |r| r.get::<_, String>(0))?;
    for name in names {
        let name = name?;
        if !TABLES.contains(&name.as_str()) && !SKIPPED.contains(&name.as_str()) {
            bail!("the SQLite table {name} has no place in the copy: nothing was copied");
        }
    }
    Ok(())
}

fn copy_table(sqlite: &Connection, tx: &mut Transaction, table: &str) -> Result<u64> {
    let cols: Vec<String> = {
        let mut st = sqlite.prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))?;
        let names = st.query_map([], |r| r.get::<_, String>(0))?;
        names.collect::<rusqlite::Result<_>>()?
    };
    let pg_cols: BTreeSet<String> = tx
        .query(
            "SELECT column_name::text FROM information_schema.columns
             WHERE table_schema = 'inbox' AND table_name = $1",
            &[&table],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let ours: BTreeSet<String> = cols.iter().cloned().collect();
    if ours != pg_cols {
        let only_sqlite: Vec<_> = ours.difference(&pg_cols).collect();
        let only_pg: Vec<_> = pg_cols.difference(&ours).collect();
        bail!("columns differ: only in SQLite {only_sqlite:?}, only in PostgreSQL {only_pg:?}");
    }
    let list = cols.join(", ");
    let marks: Vec<String> = (1..=cols.len()).map(|i| format!("${i}")).collect();
    let insert = tx.prepare(&format!(
        "INSERT INTO {table}({list}) VALUES ({})",
        marks.join(", ")
    ))?;
    let types: Vec<Type> = insert.params().to_vec();
    let mut select = sqlite.prepare(&format!("SELECT {list} FROM {table} ORDER BY rowid"))?;
    let mut rows = select.query([])?;
    let mut n = 0;
    while let Some(row) = rows.next()? {
        let mut values: Vec<Box<dyn ToSql + Sync>> = Vec::with_capacity(cols.len());
        for (i, t) in types.iter().enumerate() {
            let v: Value = row.get(i)?;
            values.push(
                convert(v, t).with_context(|| format!("column {} of row {}", cols[i], n + 1))?,
            );
        }
        let refs: Vec<&(dyn ToSql + Sync)> = values.iter().map(|b| b.as_ref()).collect();
        tx.execute(&insert, &refs)?;
        n += 1;
    }
    if ours.contains("id") {
        // The next id after the copied ones.
        tx.execute(
            &format!(
                "SELECT setval(pg_get_serial_sequence('inbox.{table}', 'id'),
                               COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
            ),
            &[],
        )?;
    }
    Ok(n)
}

/// One SQLite value as the PostgreSQL column's type. The error names the
/// types only, never the value.
fn convert(v: Value, t: &Type) -> Result<Box<dyn ToSql + Sync>> {
    Ok(match (v, t) {
        (Value::Null, &Type::INT8) => Box::new(None::<i64>),
        (Value::Null, &Type::INT4) => Box::new(None::<i32>),
        (Value::Null, &Type::TEXT) => Box::new(None::<String>),
        (Value::Null, &Type::BYTEA) => Box::new(None::<Vec<u8>>),
        (Value::Integer(i), &Type::INT8) => Box::new(i),
        (Value::Integer(i), &Type::INT4) => Box::new(i32::try_from(i)?),
        (Value::Text(s), &Type::TEXT) => Box::new(s),
        (Value::Blob(b), &Type::BYTEA) => Box::new(b),
        (v, t) => bail!("an SQLite {:?} does not fit the type {t}", v.data_type()),
    })
}

/// `store copy-to-postgres`: the data directory's SQLite inbox (or `from`)
/// into the PostgreSQL of `[store]`, migrated first. Refused while a
/// `serve` holds the data directory (it could write after the snapshot).
pub fn copy_to_postgres(cfg: &Config, from: Option<&Path>) -> Result<(PathBuf, Copied)> {
    let StoreKind::Postgres(pg) = &cfg.store_kind else {
        bail!(
            "[store] kind is \"sqlite\": set kind = \"postgres\" with url, password_file and \
             ca_file (the target) first; the SQLite file is the source"
        );
    };
    let source = from.map_or_else(|| cfg.database(), Path::to_path_buf);
    if !source.is_file() {
        bail!("no SQLite inbox at {}", source.display());
    }
    // Held to the end of the copy.
    let Some(_lock) = crate::fsutil::try_lock_data_dir(&cfg.paths.data_dir)? else {
        bail!(
            "a sportello-inbox serve is using {}: stop it before copying",
            cfg.paths.data_dir.display()
        );
    };
    let conn = crate::store::open(&source)?;
    let mut client = super::connect(pg)?;
    super::migrate(&mut client)?;
    let copied = copy_from_sqlite(&conn, &mut client)?;
    Ok((source, copied))
}
