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

/// (key, count) rows, optionally limited to referrals created in `year`
/// and to those of one municipality (its slug).
pub fn counts(
    conn: &Connection,
    by: GroupBy,
    year: Option<i32>,
    municipality: Option<&str>,
) -> Result<Vec<(String, i64)>> {
    let sql = format!(
        "SELECT {e} AS k, COUNT(*) FROM referrals
         WHERE (?1 IS NULL OR substr(created_at, 1, 4) = ?1)
           AND (?2 IS NULL OR municipality = ?2)
         GROUP BY k ORDER BY k",
        e = by.expr()
    );
    let mut stmt = conn.prepare(&sql)?;
    let year = year.map(|y| format!("{y:04}"));
    let rows = stmt.query_map(rusqlite::params![year, municipality], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Time from submission to the first "presa in carico", per group.
#[derive(Debug, Clone, PartialEq)]
pub struct CareTime {
    pub key: String,
    /// Referrals taken in charge in the group.
    pub taken: usize,
    pub median_hours: f64,
    pub p90_hours: f64,
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Median and p90 of the hours to the first "presa in carico", by month
/// or desk (other groupings: by month), optionally of one municipality.
pub fn care_times(
    conn: &Connection,
    by: GroupBy,
    year: Option<i32>,
    municipality: Option<&str>,
) -> Result<Vec<CareTime>> {
    let key = match by {
        GroupBy::Desk => "r.desk",
        _ => "substr(r.created_at, 1, 7)",
    };
    let year = year.map(|y| format!("{y:04}"));
    let groups = care_hours(
        conn,
        key,
        "(?1 IS NULL OR substr(r.created_at, 1, 4) = ?1) AND (?2 IS NULL OR r.municipality = ?2)",
        &[&year, &municipality],
    )?;
    Ok(groups
        .into_iter()
        .map(|(key, v)| CareTime::of(key, v))
        .collect())
}

/// The hours to the first "presa in carico" of the referrals created from
/// `from` to `to` (YYYY-MM-DD, both included), by desk, optionally of one
/// desk only and of one municipality only (the meeting report).
pub fn care_hours_by_desk(
    conn: &Connection,
    from: &str,
    to: &str,
    desk: Option<&str>,
    municipality: Option<&str>,
) -> Result<std::collections::BTreeMap<String, Vec<f64>>> {
    care_hours(
        conn,
        "r.desk",
        "substr(r.created_at, 1, 10) BETWEEN ?1 AND ?2 AND (?3 IS NULL OR r.desk = ?3)
         AND (?4 IS NULL OR r.municipality = ?4)",
        &[&from, &to, &desk, &municipality],
    )
}

impl CareTime {
    /// Median and p90 (nearest rank) of `hours`, in any order.
    pub fn of(key: String, mut hours: Vec<f64>) -> CareTime {
        hours.sort_by(|a, b| a.total_cmp(b));
        CareTime {
            key,
            taken: hours.len(),
            median_hours: percentile(&hours, 50.0),
            p90_hours: percentile(&hours, 90.0),
        }
    }
}

/// Hours from submission to the first "presa in carico" per referral,
/// grouped by `key` (an SQL expression over `referrals r`).
fn care_hours(
    conn: &Connection,
    key: &str,
    filter: &str,
    args: &[&dyn rusqlite::ToSql],
) -> Result<std::collections::BTreeMap<String, Vec<f64>>> {
    let sql = format!(
        "SELECT {key}, r.created_at, MIN(e.at) FROM referrals r
         JOIN care_events e ON e.referral_id = r.id AND e.state = 'presa_in_carico'
         WHERE {filter}
         GROUP BY r.id ORDER BY 1"
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(args, |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    let mut groups: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
    for row in rows {
        let (k, from, to) = row?;
        if let (Some(a), Some(b)) = (
            crate::store::parse_rfc3339(&from),
            crate::store::parse_rfc3339(&to),
        ) {
            groups
                .entry(k)
                .or_default()
                .push((b - a).as_seconds_f64() / 3600.0);
        }
    }
    Ok(groups)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 5.0);
        assert_eq!(percentile(&v, 90.0), 9.0);
        assert_eq!(percentile(&[3.0], 90.0), 3.0);
        assert_eq!(percentile(&[], 50.0), 0.0);
    }
}
