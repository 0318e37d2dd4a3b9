//! The metadata of the PostgreSQL store as an in-memory SQLite database,
//! for the readers written against SQLite (`stats`, `report`): the same
//! schema, filled from the same columns of the `inbox` schema. Nothing is
//! written to disk, and no ciphertext, token hash or form fingerprint is
//! copied (the report never reads them).

use anyhow::{Context, Result};
use postgres::types::Type;
use postgres::Client;
use rusqlite::types::Value;
use rusqlite::Connection;

/// The tables the statistics and the report read.
const TABLES: &[&str] = &[
    "operators",
    "referrals",
    "care_events",
    "contacts",
    "contact_needs",
    "contact_services",
];

/// Columns left NULL in the copy.
const NOT_COPIED: &[&str] = &[
    "ciphertext",
    "reminder_ciphertext",
    "token_sha256",
    "content_mac",
];

pub fn snapshot(client: &mut Client) -> Result<Connection> {
    let conn = crate::store::open_memory()?;
    // One snapshot of all tables: the counts agree with each other.
    let mut tx = client
        .build_transaction()
        .isolation_level(postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()?;
    let sqlite = conn.unchecked_transaction()?;
    for table in TABLES {
        let cols: Vec<String> = {
            let mut st =
                sqlite.prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))?;
            let names = st.query_map([], |r| r.get::<_, String>(0))?;
            names
                .collect::<rusqlite::Result<Vec<_>>>()?
                .into_iter()
                .filter(|c| !NOT_COPIED.contains(&c.as_str()))
                .collect()
        };
        let list = cols.join(", ");
        let marks = (1..=cols.len())
            .map(|i| format!("?{i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut insert =
            sqlite.prepare(&format!("INSERT INTO {table}({list}) VALUES ({marks})"))?;
        let rows = tx
            .query(&format!("SELECT {list} FROM {table} ORDER BY 1"), &[])
            .with_context(|| format!("cannot read {table} from PostgreSQL"))?;
        for row in rows {
            let values = (0..cols.len())
                .map(|i| value(&row, i))
                .collect::<Result<Vec<_>>>()?;
            insert.execute(rusqlite::params_from_iter(values))?;
        }
    }
    drop(tx);
    sqlite.commit()?;
    Ok(conn)
}

fn value(row: &postgres::Row, i: usize) -> Result<Value> {
    let t = row.columns()[i].type_();
    Ok(match *t {
        Type::INT2 => row
            .get::<_, Option<i16>>(i)
            .map_or(Value::Null, |v| Value::Integer(v.into())),
        Type::INT4 => row
            .get::<_, Option<i32>>(i)
            .map_or(Value::Null, |v| Value::Integer(v.into())),
        Type::INT8 => row
            .get::<_, Option<i64>>(i)
            .map_or(Value::Null, Value::Integer),
        Type::BOOL => row
            .get::<_, Option<bool>>(i)
            .map_or(Value::Null, |v| Value::Integer(v.into())),
        Type::FLOAT8 => row
            .get::<_, Option<f64>>(i)
            .map_or(Value::Null, Value::Real),
        Type::TEXT | Type::VARCHAR => row
            .get::<_, Option<String>>(i)
            .map_or(Value::Null, Value::Text),
        _ => anyhow::bail!(
            "column {} has type {t}, not copied",
            row.columns()[i].name()
        ),
    })
}
