//! Reminders on PostgreSQL (`store::remind` on SQLite). The replicas'
//! reminder rounds run under the advisory lock `Job::Reminders`, and each
//! reads what is due inside it, so a reminder marked by one replica is no
//! longer due for the next.

use anyhow::{Context, Result};
use postgres::GenericClient;

use super::admin::audit;
use super::keys::time;
use crate::kinds::Urgency;
use crate::store::remind::Pending;

/// `store::remind::pending` on PostgreSQL.
pub fn pending(client: &mut impl GenericClient) -> Result<Vec<Pending>> {
    client
        .query(
            "SELECT r.id, r.reference, r.urgency, r.delivered_at, r.reminders_sent,
                    r.last_reminder_at, r.escalated_at IS NOT NULL, r.reminder_ciphertext,
                    r.municipality
             FROM referrals r
             WHERE r.status = 'delivered' AND r.delivered_at IS NOT NULL
               AND r.token_sha256 IS NOT NULL AND r.reminder_ciphertext IS NOT NULL
               AND (r.reminders_sent < 2 OR r.escalated_at IS NULL)
               AND NOT EXISTS (SELECT 1 FROM care_events e WHERE e.referral_id = r.id)
             ORDER BY r.id LIMIT 200",
            &[],
        )?
        .iter()
        .map(|r| {
            let urgency: String = r.get(2);
            let last: Option<String> = r.get(5);
            let sent: i32 = r.get(4);
            Ok(Pending {
                id: r.get(0),
                reference: r.get(1),
                urgency: Urgency::parse(&urgency)
                    .with_context(|| format!("unknown urgency {urgency:?} in the database"))?,
                delivered_at: time(r.get(3))?,
                reminders_sent: u32::try_from(sent).unwrap_or(0),
                last_reminder_at: last.as_deref().map(time).transpose()?,
                escalated: r.get(6),
                ciphertext: r.get(7),
                municipality: r.get(8),
            })
        })
        .collect()
}

/// `store::remind::mark_reminded` on PostgreSQL.
pub fn mark_reminded(
    client: &mut impl GenericClient,
    id: i64,
    reference: &str,
    at: &str,
) -> Result<()> {
    let mut tx = client.transaction()?;
    tx.execute(
        "UPDATE referrals SET reminders_sent = reminders_sent + 1, last_reminder_at = $2
         WHERE id = $1",
        &[&id, &at],
    )?;
    audit(&mut tx, "deliver", "referral.reminder", Some(reference))?;
    tx.commit()?;
    Ok(())
}

/// `store::remind::mark_escalated` on PostgreSQL.
pub fn mark_escalated(
    client: &mut impl GenericClient,
    id: i64,
    reference: &str,
    at: &str,
) -> Result<()> {
    let mut tx = client.transaction()?;
    tx.execute(
        "UPDATE referrals SET escalated_at = $2 WHERE id = $1",
        &[&id, &at],
    )?;
    audit(&mut tx, "deliver", "referral.escalated", Some(reference))?;
    tx.commit()?;
    Ok(())
}
