//! Operators, revocations and staff keys on PostgreSQL. Every replica looks
//! the operator up in the shared database after each TLS handshake (as the
//! SQLite server does in its own file), so a revocation made through any
//! replica refuses the operator at their next connection to every replica.

use anyhow::Result;
use postgres::Client;

use crate::store::{now_rfc3339, parse_rfc3339, Operator, Role, Staff};

pub(super) const OPERATOR_COLS: &str =
    "id, name, desk, cert_serial, not_after, created_at, revoked_at, role";

pub(super) fn time(s: &str) -> Result<time::OffsetDateTime> {
    parse_rfc3339(s).ok_or_else(|| anyhow::anyhow!("invalid time {s:?} in the database"))
}

pub(super) fn operator(r: &postgres::Row) -> Result<Operator> {
    let role: String = r.get(7);
    let revoked: Option<String> = r.get(6);
    Ok(Operator {
        id: r.get(0),
        name: r.get(1),
        desk: r.get(2),
        cert_serial: r.get(3),
        not_after: time(r.get(4))?,
        created_at: time(r.get(5))?,
        revoked_at: revoked.as_deref().map(time).transpose()?,
        role: Role::parse(&role).ok_or_else(|| anyhow::anyhow!("unknown role {role:?}"))?,
    })
}

pub fn insert_operator(
    client: &mut impl postgres::GenericClient,
    name: &str,
    desk: &str,
    serial: &str,
    sha256: &str,
    not_after: &str,
) -> Result<i64> {
    Ok(client
        .query_one(
            "INSERT INTO operators(name, desk, cert_serial, cert_sha256, not_after, created_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            &[&name, &desk, &serial, &sha256, &not_after, &now_rfc3339()],
        )?
        .get(0))
}

/// The active (not revoked) operator owning the certificate with this hash.
pub fn operator_by_cert(client: &mut Client, sha256: &str) -> Result<Option<Operator>> {
    client
        .query_opt(
            &format!(
                "SELECT {OPERATOR_COLS} FROM operators
                 WHERE cert_sha256 = $1 AND revoked_at IS NULL"
            ),
            &[&sha256],
        )?
        .as_ref()
        .map(operator)
        .transpose()
}

pub fn revoke_operator(client: &mut Client, id: i64) -> Result<bool> {
    Ok(client.execute(
        "UPDATE operators SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
        &[&now_rfc3339(), &id],
    )? == 1)
}

/// Serials and revocation times of all revoked certificates (for the CRL).
pub fn revoked_serials(client: &mut Client) -> Result<Vec<(String, time::OffsetDateTime)>> {
    client
        .query(
            "SELECT cert_serial, revoked_at FROM operators
             WHERE revoked_at IS NOT NULL ORDER BY id",
            &[],
        )?
        .iter()
        .map(|r| Ok((r.get(0), time(r.get(1))?)))
        .collect()
}

/// The staff keys every replica seals to.
pub fn staff(client: &mut Client) -> Result<Vec<Staff>> {
    client
        .query(
            "SELECT id, name, fingerprint, public_key, created_at, municipality FROM staff ORDER BY id",
            &[],
        )?
        .iter()
        .map(|r| {
            Ok(Staff {
                id: r.get(0),
                name: r.get(1),
                fingerprint: r.get(2),
                public_key: r.get(3),
                created_at: time(r.get(4))?,
                municipality: r.get(5),
            })
        })
        .collect()
}
