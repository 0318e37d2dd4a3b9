//! SQLite storage: referral ciphertext with non-identifying metadata,
//! operators, staff keys and the audit log. WAL, `synchronous=FULL`,
//! `secure_delete`: a commit survives a crash and deleted rows are zeroed.

pub mod backend;
pub mod care;
pub mod contacts;
pub mod db;
pub mod pg;
pub mod queue;
pub mod remind;
mod writer;

use std::path::Path;

use anyhow::{Context, Result};
use rusqlite::{params, Connection, OptionalExtension};
use time::OffsetDateTime;

pub use writer::{Accepted, NewReferral, Writer};

/// RFC 3339 in whole seconds, UTC: the one format of every time column, so
/// that text comparison in SQL is time comparison.
pub fn rfc3339(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    t.replace_nanosecond(0)
        .unwrap_or(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

pub fn parse_rfc3339(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
}

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS operators (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    desk        TEXT NOT NULL,
    cert_serial TEXT NOT NULL,
    cert_sha256 TEXT NOT NULL UNIQUE,
    not_after   TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    revoked_at  TEXT
);
CREATE TABLE IF NOT EXISTS staff (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    fingerprint TEXT NOT NULL UNIQUE,
    public_key  TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
-- One row per referral. No personal data outside `ciphertext`; the
-- delivery worker (issue 6) moves status to delivered/failed and the
-- retention job nulls `ciphertext` afterwards.
CREATE TABLE IF NOT EXISTS referrals (
    id              INTEGER PRIMARY KEY,
    reference       TEXT NOT NULL UNIQUE,
    created_at      TEXT NOT NULL,
    desk            TEXT NOT NULL,
    operator_id     INTEGER NOT NULL REFERENCES operators(id),
    need_area       TEXT NOT NULL,
    urgency         TEXT NOT NULL CHECK (urgency IN ('ordinary', 'urgent')),
    age_band        TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued', 'delivered', 'failed')),
    idempotency_key TEXT NOT NULL,
    ciphertext      BLOB,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    delivered_at    TEXT,
    UNIQUE (operator_id, idempotency_key)
);
CREATE INDEX IF NOT EXISTS referrals_status ON referrals(status, next_attempt_at);
CREATE INDEX IF NOT EXISTS referrals_operator ON referrals(operator_id, id);
-- One row, rewritten by /healthz to learn whether the store can write again.
CREATE TABLE IF NOT EXISTS health_probe (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    id        INTEGER PRIMARY KEY,
    at        TEXT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    reference TEXT
);
"#;

pub fn now_rfc3339() -> String {
    // Whole seconds: enough for people, and no false precision in the audit.
    rfc3339(OffsetDateTime::now_utc())
}

/// Opens (and if needed creates) the database with the durable settings.
pub fn open(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path)
        .with_context(|| format!("cannot open database {}", path.display()))?;
    // Owner only; SQLite gives the -wal and -shm files the same mode.
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .with_context(|| format!("cannot set mode 0600 on {}", path.display()))?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "secure_delete", "ON")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.execute_batch(SCHEMA)
        .context("cannot create the schema")?;
    migrate(&conn)?;
    migrate_versions(&conn)?;
    Ok(conn)
}

/// An empty database with the schema, in memory only (see `pg::snapshot`).
pub fn open_memory() -> Result<Connection> {
    let conn = Connection::open_in_memory()?;
    conn.execute_batch(SCHEMA)
        .context("cannot create the schema")?;
    migrate(&conn)?;
    migrate_versions(&conn)?;
    Ok(conn)
}

/// Versioned schema changes: entry N brings the schema to
/// `PRAGMA user_version` N+1. Each runs once, in its own IMMEDIATE
/// transaction that re-reads the version, so two processes opening the
/// database at the same time cannot both apply it.
pub const MIGRATIONS: &[&str] = &[
    // 1. Taking charge (issue 10): the SHA-256 of each referral's staff
    //    link token, and the states the staff set.
    r#"
    ALTER TABLE referrals ADD COLUMN token_sha256 TEXT;
    CREATE UNIQUE INDEX referrals_token ON referrals(token_sha256);
    CREATE TABLE care_events (
        id              INTEGER PRIMARY KEY,
        referral_id     INTEGER NOT NULL REFERENCES referrals(id) ON DELETE CASCADE,
        at              TEXT NOT NULL,
        state           TEXT NOT NULL CHECK (state IN
                        ('presa_in_carico', 'non_di_competenza', 'non_rintracciabile', 'chiusa')),
        staff_name      TEXT,
        planned_contact TEXT,
        target          TEXT,
        outcome         TEXT
    );
    CREATE INDEX care_events_referral ON care_events(referral_id, id);
    "#,
    // 2. Desk referents (issue 10): they see every referral of their desk.
    r#"
    ALTER TABLE operators ADD COLUMN role TEXT NOT NULL DEFAULT 'operator'
        CHECK (role IN ('operator', 'referent'));
    CREATE INDEX referrals_desk ON referrals(desk, id);
    "#,
    // 3. Reminders (issue 10): a second ciphertext, sealed at submission,
    //    holding only the reference and the staff link (the server cannot
    //    make one later: it keeps only the token's hash).
    r#"
    ALTER TABLE referrals ADD COLUMN reminder_ciphertext BLOB;
    ALTER TABLE referrals ADD COLUMN reminders_sent INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE referrals ADD COLUMN last_reminder_at TEXT;
    ALTER TABLE referrals ADD COLUMN escalated_at TEXT;
    "#,
    // 4. Contacts recorded at the desks (issue 12), for the meeting report.
    contacts::MIGRATION,
    // 5. Municipalities: the one a referral goes to and the one a staff
    //    key belongs to (a `[[municipality]]` slug). NULL: a row from before,
    //    adopted by the configuration's first municipality at start-up.
    r#"
    ALTER TABLE referrals ADD COLUMN municipality TEXT;
    ALTER TABLE staff ADD COLUMN municipality TEXT;
    CREATE INDEX referrals_municipality ON referrals(municipality, id);
    "#,
];

/// What an operator may see: their own referrals, or (the desk's
/// referent, whom the Comune's staff can call) every referral of the desk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Role {
    #[default]
    Operator,
    Referent,
}

impl Role {
    pub fn slug(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::Referent => "referent",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        [Role::Operator, Role::Referent]
            .into_iter()
            .find(|r| r.slug() == s)
    }
}

impl rusqlite::types::ToSql for Role {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(self.slug().into())
    }
}

impl rusqlite::types::FromSql for Role {
    fn column_result(v: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        let s = v.as_str()?;
        Role::parse(s).ok_or_else(|| {
            rusqlite::types::FromSqlError::Other(format!("unknown role {s:?}").into())
        })
    }
}

fn migrate_versions(conn: &Connection) -> Result<()> {
    let version = |c: &Connection| -> Result<usize> {
        let v: i64 = c.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        Ok(usize::try_from(v).unwrap_or(0))
    };
    if version(conn)? >= MIGRATIONS.len() {
        return Ok(());
    }
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let result = (|| -> Result<()> {
        let mut v = version(conn)?;
        while v < MIGRATIONS.len() {
            conn.execute_batch(MIGRATIONS[v])
                .with_context(|| format!("cannot upgrade the schema to version {}", v + 1))?;
            v += 1;
            conn.pragma_update(None, "user_version", v as i64)?;
        }
        Ok(())
    })();
    match result {
        Ok(()) => conn.execute_batch("COMMIT")?,
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            return Err(e);
        }
    }
    Ok(())
}

/// Columns added after the first release (issue 6: delivery). `ALTER TABLE`
/// is idempotent here: another process may add the column at the same time.
fn migrate(conn: &Connection) -> Result<()> {
    let mut stmt = conn.prepare("SELECT name FROM pragma_table_info('referrals')")?;
    let have: Vec<String> = stmt
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for (col, ty) in [
        // Error class and short message of the last failed attempt.
        ("last_error", "TEXT"),
        ("failed_at", "TEXT"),
        // When the admin notice about a failed referral was sent.
        ("notice_sent_at", "TEXT"),
        // Set by `queue retry`: restarts the give-up clock.
        ("retried_at", "TEXT"),
        // Keyed hash of the validated form (issue 11): the idempotency key
        // answers with the first reference only for the same content.
        ("content_mac", "TEXT"),
    ] {
        if have.iter().any(|c| c == col) {
            continue;
        }
        match conn.execute_batch(&format!("ALTER TABLE referrals ADD COLUMN {col} {ty}")) {
            Ok(()) => {}
            Err(e) if e.to_string().contains("duplicate column") => {}
            Err(e) => return Err(e).context("cannot upgrade the schema"),
        }
    }
    Ok(())
}

/// Gives the referrals and staff keys stored before municipalities existed
/// (migration 5) to `slug`, the configuration's first municipality. Run at
/// start-up; a no-op once every row has one.
pub fn adopt_unassigned(conn: &Connection, slug: &str) -> Result<()> {
    conn.execute(
        "UPDATE referrals SET municipality = ?1 WHERE municipality IS NULL",
        [slug],
    )?;
    conn.execute(
        "UPDATE staff SET municipality = ?1 WHERE municipality IS NULL",
        [slug],
    )?;
    Ok(())
}

/// Moves the referrals and staff keys of municipality `from` to `to`: the
/// rows stored under the implicit municipality of a configuration that has
/// since gained `[[municipality]]` sections.
pub fn reassign_municipality(conn: &Connection, from: &str, to: &str) -> Result<()> {
    conn.execute(
        "UPDATE referrals SET municipality = ?2 WHERE municipality = ?1",
        [from, to],
    )?;
    conn.execute(
        "UPDATE staff SET municipality = ?2 WHERE municipality = ?1",
        [from, to],
    )?;
    Ok(())
}

/// How many referrals still to deliver each municipality has (by slug).
pub fn queued_by_municipality(conn: &Connection) -> Result<Vec<(String, i64)>> {
    let mut stmt = conn.prepare(
        "SELECT COALESCE(municipality, ''), COUNT(*) FROM referrals
         WHERE status = 'queued' GROUP BY 1 ORDER BY 1",
    )?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// A real, durable write: whether the disk takes one now.
pub fn probe_write(conn: &Connection) -> Result<()> {
    conn.execute(
        "INSERT INTO health_probe(id, at) VALUES (1, ?1)
         ON CONFLICT(id) DO UPDATE SET at = excluded.at",
        [now_rfc3339()],
    )?;
    Ok(())
}

pub fn audit(conn: &Connection, actor: &str, action: &str, reference: Option<&str>) -> Result<()> {
    conn.execute(
        "INSERT INTO audit(at, actor, action, reference) VALUES (?1, ?2, ?3, ?4)",
        params![now_rfc3339(), actor, action, reference],
    )?;
    Ok(())
}

#[derive(Debug, Clone)]
pub struct Operator {
    pub id: i64,
    pub name: String,
    pub desk: String,
    pub cert_serial: String,
    pub not_after: OffsetDateTime,
    pub created_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
    pub role: Role,
}

impl Operator {
    /// A desk referent sees every referral of the desk and the statistics.
    pub fn is_referent(&self) -> bool {
        self.role == Role::Referent
    }
}

const OPERATOR_COLS: &str = "id, name, desk, cert_serial, not_after, created_at, revoked_at, role";

fn operator_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Operator> {
    Ok(Operator {
        id: r.get(0)?,
        name: r.get(1)?,
        desk: r.get(2)?,
        cert_serial: r.get(3)?,
        not_after: r.get(4)?,
        created_at: r.get(5)?,
        revoked_at: r.get(6)?,
        role: r.get(7)?,
    })
}

pub fn insert_operator(
    conn: &Connection,
    name: &str,
    desk: &str,
    serial: &str,
    sha256: &str,
    not_after: &str,
) -> Result<i64> {
    conn.execute(
        "INSERT INTO operators(name, desk, cert_serial, cert_sha256, not_after, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![name, desk, serial, sha256, not_after, now_rfc3339()],
    )?;
    Ok(conn.last_insert_rowid())
}

pub fn set_role(conn: &Connection, id: i64, role: Role) -> Result<bool> {
    Ok(conn.execute(
        "UPDATE operators SET role = ?2 WHERE id = ?1",
        params![id, role],
    )? == 1)
}

pub fn operators(conn: &Connection) -> Result<Vec<Operator>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {OPERATOR_COLS} FROM operators ORDER BY id"
    ))?;
    let rows = stmt.query_map([], operator_row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn operator(conn: &Connection, id: i64) -> Result<Option<Operator>> {
    Ok(conn
        .query_row(
            &format!("SELECT {OPERATOR_COLS} FROM operators WHERE id = ?1"),
            [id],
            operator_row,
        )
        .optional()?)
}

/// The active (not revoked) operator owning the certificate with this hash.
pub fn operator_by_cert(conn: &Connection, sha256: &str) -> Result<Option<Operator>> {
    Ok(conn
        .query_row(
            &format!(
                "SELECT {OPERATOR_COLS} FROM operators
                 WHERE cert_sha256 = ?1 AND revoked_at IS NULL"
            ),
            [sha256],
            operator_row,
        )
        .optional()?)
}

pub fn revoke_operator(conn: &Connection, id: i64) -> Result<bool> {
    let n = conn.execute(
        "UPDATE operators SET revoked_at = ?1 WHERE id = ?2 AND revoked_at IS NULL",
        params![now_rfc3339(), id],
    )?;
    Ok(n == 1)
}

/// Serial numbers and revocation times of all revoked certificates (for the CRL).
pub fn revoked_serials(conn: &Connection) -> Result<Vec<(String, OffsetDateTime)>> {
    let mut stmt = conn.prepare(
        "SELECT cert_serial, revoked_at FROM operators WHERE revoked_at IS NOT NULL ORDER BY id",
    )?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    let mut out = Vec::new();
    for row in rows {
        let (serial, at) = row?;
        let at = OffsetDateTime::parse(&at, &time::format_description::well_known::Rfc3339)
            .unwrap_or_else(|_| OffsetDateTime::now_utc());
        out.push((serial, at));
    }
    Ok(out)
}

#[derive(Debug, Clone)]
pub struct Staff {
    pub id: i64,
    pub name: String,
    pub fingerprint: String,
    pub public_key: String,
    pub created_at: OffsetDateTime,
    /// The municipality whose referrals it reads (`None`: added before
    /// municipalities, until `adopt_unassigned`).
    pub municipality: Option<String>,
}

pub fn insert_staff(
    conn: &Connection,
    name: &str,
    fingerprint: &str,
    key: &str,
    municipality: &str,
) -> Result<i64> {
    conn.execute(
        "INSERT INTO staff(name, fingerprint, public_key, created_at, municipality)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![name, fingerprint, key, now_rfc3339(), municipality],
    )
    .with_context(|| format!("cannot add key {fingerprint} (already added?)"))?;
    Ok(conn.last_insert_rowid())
}

pub fn staff(conn: &Connection) -> Result<Vec<Staff>> {
    let mut stmt = conn.prepare(
        "SELECT id, name, fingerprint, public_key, created_at, municipality FROM staff ORDER BY id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(Staff {
            id: r.get(0)?,
            name: r.get(1)?,
            fingerprint: r.get(2)?,
            public_key: r.get(3)?,
            created_at: r.get(4)?,
            municipality: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn remove_staff(conn: &Connection, id: i64) -> Result<bool> {
    Ok(conn.execute("DELETE FROM staff WHERE id = ?1", [id])? == 1)
}

/// What an operator may see of a referral: never the content.
#[derive(Debug, Clone)]
pub struct ReferralSummary {
    pub reference: String,
    pub created_at: OffsetDateTime,
    pub status: crate::kinds::Status,
    pub delivered_at: Option<OffsetDateTime>,
    /// Who sent it (shown to the desk's referent).
    pub operator_name: String,
    /// The staff's latest state, since when, who took it in charge.
    pub care: care::Latest,
}

const SUMMARY_SQL: &str = "SELECT r.reference, r.created_at, r.status, r.delivered_at, o.name, r.id
     FROM referrals r JOIN operators o ON o.id = r.operator_id";

fn summaries(
    conn: &Connection,
    sql: &str,
    args: &[&dyn rusqlite::ToSql],
) -> Result<Vec<ReferralSummary>> {
    let mut stmt = conn.prepare(sql)?;
    let rows: Vec<(ReferralSummary, i64)> = stmt
        .query_map(args, |r| {
            Ok((
                ReferralSummary {
                    reference: r.get(0)?,
                    created_at: r.get(1)?,
                    status: r.get(2)?,
                    delivered_at: r.get(3)?,
                    operator_name: r.get(4)?,
                    care: care::Latest::default(),
                },
                r.get(5)?,
            ))
        })?
        .collect::<rusqlite::Result<_>>()?;
    rows.into_iter()
        .map(|(mut s, id)| {
            s.care = care::latest(conn, id)?;
            Ok(s)
        })
        .collect()
}

/// The referrals an operator may list: their own, or the whole desk's
/// for a referent. Newest first.
pub fn referrals_of(conn: &Connection, op: &Operator, limit: u32) -> Result<Vec<ReferralSummary>> {
    match op.role {
        Role::Operator => summaries(
            conn,
            &format!("{SUMMARY_SQL} WHERE r.operator_id = ?1 ORDER BY r.id DESC LIMIT ?2"),
            &[&op.id, &limit],
        ),
        Role::Referent => summaries(
            conn,
            &format!("{SUMMARY_SQL} WHERE r.desk = ?1 ORDER BY r.id DESC LIMIT ?2"),
            &[&op.desk, &limit],
        ),
    }
}

pub fn referral_of(
    conn: &Connection,
    operator_id: i64,
    reference: &str,
) -> Result<Option<ReferralSummary>> {
    Ok(summaries(
        conn,
        &format!("{SUMMARY_SQL} WHERE r.operator_id = ?1 AND r.reference = ?2"),
        &[&operator_id, &reference],
    )?
    .pop())
}

/// The referral already committed with this operator's idempotency key:
/// its reference and content fingerprint.
pub fn reference_for_key(
    conn: &Connection,
    operator_id: i64,
    key: &str,
) -> Result<Option<(String, Option<String>)>> {
    Ok(conn
        .query_row(
            "SELECT reference, content_mac FROM referrals
             WHERE operator_id = ?1 AND idempotency_key = ?2",
            params![operator_id, key],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?)
}

/// Highest sequence number used in `year` (references are SEG-YYYY-N, N at
/// least six digits). Compared as numbers: as text, SEG-2026-1000000 would
/// sort before SEG-2026-999999 and the counter would hand out used numbers.
pub fn last_sequence(conn: &Connection, year: i32) -> Result<u64> {
    let prefix = format!("SEG-{year:04}-");
    let max: Option<i64> = conn.query_row(
        "SELECT MAX(CAST(substr(reference, ?2) AS INTEGER)) FROM referrals
         WHERE reference LIKE ?1",
        params![format!("{prefix}%"), prefix.len() as i64 + 1],
        |r| r.get(0),
    )?;
    Ok(max.map_or(0, |n| n.max(0) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sequence_is_compared_as_a_number_past_six_digits() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open(&dir.path().join("t.sqlite")).unwrap();
        let op = insert_operator(&conn, "Op", "desk", "01", "ab", "2030-01-01T00:00:00Z").unwrap();
        for (i, r) in ["SEG-2026-999999", "SEG-2026-1000000", "SEG-2025-2000000"]
            .iter()
            .enumerate()
        {
            conn.execute(
                "INSERT INTO referrals(reference, created_at, desk, operator_id, need_area,
                     urgency, age_band, idempotency_key)
                 VALUES (?1, '2026-01-01T00:00:00Z', 'desk', ?2, 'a', 'ordinary', '65-74', ?3)",
                params![r, op, i.to_string()],
            )
            .unwrap();
        }
        assert_eq!(last_sequence(&conn, 2026).unwrap(), 1_000_000);
        assert_eq!(last_sequence(&conn, 2025).unwrap(), 2_000_000);
        assert_eq!(last_sequence(&conn, 2024).unwrap(), 0);
    }
}
