//! Reminders: delivered referrals that nobody has taken in charge yet.

use anyhow::Result;
use rusqlite::{params, Connection};

use super::audit;

/// A referral that may be due a reminder or the admin notice.
#[derive(Debug)]
pub struct Pending {
    pub id: i64,
    pub reference: String,
    pub urgency: crate::kinds::Urgency,
    pub delivered_at: time::OffsetDateTime,
    pub reminders_sent: u32,
    pub last_reminder_at: Option<time::OffsetDateTime>,
    pub escalated: bool,
    pub ciphertext: Vec<u8>,
    /// Whose staff and admin are reminded.
    pub municipality: Option<String>,
}

/// Delivered, link alive, no state set by the staff, and a reminder or
/// the admin notice still to go.
pub fn pending(conn: &Connection) -> Result<Vec<Pending>> {
    let mut stmt = conn.prepare_cached(
        "SELECT r.id, r.reference, r.urgency, r.delivered_at, r.reminders_sent,
                r.last_reminder_at, r.escalated_at IS NOT NULL, r.reminder_ciphertext,
                r.municipality
         FROM referrals r
         WHERE r.status = 'delivered' AND r.delivered_at IS NOT NULL
           AND r.token_sha256 IS NOT NULL AND r.reminder_ciphertext IS NOT NULL
           AND (r.reminders_sent < 2 OR r.escalated_at IS NULL)
           AND NOT EXISTS (SELECT 1 FROM care_events e WHERE e.referral_id = r.id)
         ORDER BY r.id LIMIT 200",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(Pending {
            id: r.get(0)?,
            reference: r.get(1)?,
            urgency: r.get(2)?,
            delivered_at: r.get(3)?,
            reminders_sent: r.get(4)?,
            last_reminder_at: r.get(5)?,
            escalated: r.get(6)?,
            ciphertext: r.get(7)?,
            municipality: r.get(8)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub fn mark_reminded(conn: &mut Connection, id: i64, reference: &str, at: &str) -> Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    tx.execute(
        "UPDATE referrals SET reminders_sent = reminders_sent + 1, last_reminder_at = ?2
         WHERE id = ?1",
        params![id, at],
    )?;
    audit(&tx, "deliver", "referral.reminder", Some(reference))?;
    tx.commit()?;
    Ok(())
}

pub fn mark_escalated(conn: &mut Connection, id: i64, reference: &str, at: &str) -> Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    tx.execute(
        "UPDATE referrals SET escalated_at = ?2 WHERE id = ?1",
        params![id, at],
    )?;
    audit(&tx, "deliver", "referral.escalated", Some(reference))?;
    tx.commit()?;
    Ok(())
}
