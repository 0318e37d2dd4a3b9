//! What `serve` reads and the admin commands change on PostgreSQL, beside
//! the queue and the keys: operators' roles, staff keys, the audit log, the
//! operator's own referrals, the health probe.

use anyhow::{Context, Result};
use postgres::Client;

use super::keys::{operator, time, OPERATOR_COLS};
use crate::store::{care, now_rfc3339, Operator, ReferralSummary, Role};

pub fn audit(
    client: &mut impl postgres::GenericClient,
    actor: &str,
    action: &str,
    reference: Option<&str>,
) -> Result<()> {
    client.execute(
        "INSERT INTO audit(at, actor, action, reference) VALUES ($1, $2, $3, $4)",
        &[&now_rfc3339(), &actor, &action, &reference],
    )?;
    Ok(())
}

/// A write that touches the disk, for `/healthz` after a failed commit.
pub fn probe_write(client: &mut Client) -> Result<()> {
    client.execute(
        "INSERT INTO health_probe(id, at) VALUES (1, $1)
         ON CONFLICT(id) DO UPDATE SET at = excluded.at",
        &[&now_rfc3339()],
    )?;
    Ok(())
}

pub fn set_role(client: &mut Client, id: i64, role: Role) -> Result<bool> {
    Ok(client.execute(
        "UPDATE operators SET role = $2 WHERE id = $1",
        &[&id, &role.slug()],
    )? == 1)
}

pub fn operators(client: &mut Client) -> Result<Vec<Operator>> {
    client
        .query(
            &format!("SELECT {OPERATOR_COLS} FROM operators ORDER BY id"),
            &[],
        )?
        .iter()
        .map(operator)
        .collect()
}

pub fn operator_by_id(client: &mut Client, id: i64) -> Result<Option<Operator>> {
    client
        .query_opt(
            &format!("SELECT {OPERATOR_COLS} FROM operators WHERE id = $1"),
            &[&id],
        )?
        .as_ref()
        .map(operator)
        .transpose()
}

pub fn insert_staff(
    client: &mut Client,
    name: &str,
    fingerprint: &str,
    key: &str,
    municipality: &str,
) -> Result<i64> {
    Ok(client
        .query_one(
            "INSERT INTO staff(name, fingerprint, public_key, created_at, municipality)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
            &[&name, &fingerprint, &key, &now_rfc3339(), &municipality],
        )
        .with_context(|| format!("cannot add key {fingerprint} (already added?)"))?
        .get(0))
}

pub fn remove_staff(client: &mut Client, id: i64) -> Result<bool> {
    Ok(client.execute("DELETE FROM staff WHERE id = $1", &[&id])? == 1)
}

const SUMMARY_SQL: &str = "SELECT r.reference, r.created_at, r.status, r.delivered_at, o.name, r.id
     FROM referrals r JOIN operators o ON o.id = r.operator_id";

fn summaries(
    client: &mut Client,
    sql: &str,
    args: &[&(dyn postgres::types::ToSql + Sync)],
) -> Result<Vec<ReferralSummary>> {
    let rows = client.query(sql, args)?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let status: String = r.get(2);
        let delivered: Option<String> = r.get(3);
        let id: i64 = r.get(5);
        out.push(ReferralSummary {
            reference: r.get(0),
            created_at: time(r.get(1))?,
            status: crate::kinds::Status::parse(&status)
                .with_context(|| format!("unknown status {status:?}"))?,
            delivered_at: delivered.as_deref().map(time).transpose()?,
            operator_name: r.get(4),
            care: latest_care(client, id)?,
        });
    }
    Ok(out)
}

fn latest_care(client: &mut Client, referral_id: i64) -> Result<care::Latest> {
    let last = client.query_opt(
        "SELECT state, at FROM care_events WHERE referral_id = $1 ORDER BY id DESC LIMIT 1",
        &[&referral_id],
    )?;
    let taken_by: Option<String> = client
        .query_opt(
            "SELECT staff_name FROM care_events
             WHERE referral_id = $1 AND state = 'presa_in_carico' ORDER BY id DESC LIMIT 1",
            &[&referral_id],
        )?
        .and_then(|r| r.get(0));
    let Some(last) = last else {
        return Ok(care::Latest {
            taken_by,
            ..Default::default()
        });
    };
    let state: String = last.get(0);
    Ok(care::Latest {
        state: Some(
            crate::care::State::parse(&state)
                .with_context(|| format!("unknown state {state:?}"))?,
        ),
        since: Some(time(last.get(1))?),
        taken_by,
    })
}

/// `store::referrals_of` on PostgreSQL.
pub fn referrals_of(
    client: &mut Client,
    op: &Operator,
    limit: u32,
) -> Result<Vec<ReferralSummary>> {
    let limit = i64::from(limit);
    match op.role {
        Role::Operator => summaries(
            client,
            &format!("{SUMMARY_SQL} WHERE r.operator_id = $1 ORDER BY r.id DESC LIMIT $2"),
            &[&op.id, &limit],
        ),
        Role::Referent => summaries(
            client,
            &format!("{SUMMARY_SQL} WHERE r.desk = $1 ORDER BY r.id DESC LIMIT $2"),
            &[&op.desk, &limit],
        ),
    }
}

/// `store::referral_of` on PostgreSQL.
pub fn referral_of(
    client: &mut Client,
    operator_id: i64,
    reference: &str,
) -> Result<Option<ReferralSummary>> {
    Ok(summaries(
        client,
        &format!("{SUMMARY_SQL} WHERE r.operator_id = $1 AND r.reference = $2"),
        &[&operator_id, &reference],
    )?
    .pop())
}

/// `store::reference_for_key` on PostgreSQL.
pub fn reference_for_key(
    client: &mut Client,
    operator_id: i64,
    key: &str,
) -> Result<Option<(String, Option<String>)>> {
    Ok(client
        .query_opt(
            "SELECT reference, content_mac FROM referrals
             WHERE operator_id = $1 AND idempotency_key = $2",
            &[&operator_id, &key],
        )?
        .map(|r| (r.get(0), r.get(1))))
}

/// `store::queue::oldest_queued` on PostgreSQL.
pub fn oldest_queued(client: &mut Client) -> Result<Option<String>> {
    Ok(client
        .query_one(
            "SELECT MIN(COALESCE(retried_at, created_at)) FROM referrals
             WHERE status = 'queued' AND ciphertext IS NOT NULL",
            &[],
        )?
        .get(0))
}
