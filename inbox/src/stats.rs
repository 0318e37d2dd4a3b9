//! Aggregate counts for the periodic meetings: only metadata, never content.

use anyhow::Result;
use rusqlite::Connection;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GroupBy {
    Month,
    Desk,
    Need,
    Urgency,
    AgeBand,
    Status,
}

impl GroupBy {
    fn expr(self) -> &'static str {
        match self {
            GroupBy::Month => "substr(created_at, 1, 7)",
            GroupBy::Desk => "desk",
            GroupBy::Need => "need_area",
            GroupBy::Urgency => "urgency",
            GroupBy::AgeBand => "age_band",
            GroupBy::Status => "status",
        }
    }
}

/// (key, count) rows, optionally limited to referrals created in `year`.
pub fn counts(conn: &Connection, by: GroupBy, year: Option<i32>) -> Result<Vec<(String, i64)>> {
    let sql = format!(
        "SELECT {e} AS k, COUNT(*) FROM referrals
         WHERE (?1 IS NULL OR substr(created_at, 1, 4) = ?1)
         GROUP BY k ORDER BY k",
        e = by.expr()
    );
    let mut stmt = conn.prepare(&sql)?;
    let year = year.map(|y| format!("{y:04}"));
    let rows = stmt.query_map([year], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
