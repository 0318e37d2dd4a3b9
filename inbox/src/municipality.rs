//! Municipalities (`[[municipality]]`): each referral goes to the Comune
//! where the person lives, sealed to that Comune's staff keys only and
//! mailed to its addresses. A configuration without the section has one
//! implicit municipality, so that every part of the server has one path.

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};
use rusqlite::Connection;
use serde::Deserialize;

use crate::config::{Config, Mail};
use crate::seal::{Recipients, StaffKey};
use crate::store;

/// The slug of the implicit municipality of a configuration without
/// `[[municipality]]` (what its rows are stored under).
pub const IMPLICIT_MUNICIPALITY: &str = "comune";

/// `[[municipality]]`: where a referral goes, for the people living there.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Municipality {
    pub slug: String,
    /// As shown in the form, e.g. "Comune di Castelletto".
    pub name: String,
    /// The desks (operators' `--desk`) that refer people living here. May
    /// be left out only when there is a single municipality: every desk.
    #[serde(default)]
    pub desks: Option<Vec<String>>,
    /// Its staff's address(es): referrals and reminders. Default (a
    /// single municipality only): `mail.to`.
    #[serde(default)]
    pub to: Vec<String>,
    /// Where the escalations and notices about its referrals go; default
    /// `mail.admin`.
    #[serde(default)]
    pub admin: Option<String>,
}

impl Municipality {
    /// Whether operators of `desk` refer people living here.
    pub fn serves(&self, desk: &str) -> bool {
        self.desks
            .as_ref()
            .is_none_or(|d| d.iter().any(|x| x == desk))
    }
}

/// A slug that is not in the configuration, with the ones that are: a
/// mistake in what was asked (exit status 2).
#[derive(Debug, thiserror::Error)]
#[error("unknown municipality `{slug}`: the configured ones are {known}")]
pub struct UnknownMunicipality {
    pub slug: String,
    pub known: String,
}

fn slug_ok(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 40
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

impl Config {
    /// The municipalities, the implicit one included.
    pub fn municipalities(&self) -> Vec<Municipality> {
        if !self.municipalities.is_empty() {
            return self.municipalities.clone();
        }
        vec![Municipality {
            slug: IMPLICIT_MUNICIPALITY.into(),
            name: "Comune".into(),
            desks: None,
            to: Vec::new(),
            admin: None,
        }]
    }

    /// The municipalities whose residents `desk` refers, in configuration order.
    pub fn municipalities_of(&self, desk: &str) -> Vec<Municipality> {
        self.municipalities()
            .into_iter()
            .filter(|m| m.serves(desk))
            .collect()
    }

    /// `slug` if configured; `None` means the only one (an error when
    /// there are several and `required`).
    pub fn municipality(&self, slug: Option<&str>) -> Result<Municipality> {
        let all = self.municipalities();
        let known = || {
            all.iter()
                .map(|m| m.slug.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match slug {
            Some(s) => all.iter().find(|m| m.slug == s).cloned().ok_or_else(|| {
                UnknownMunicipality {
                    slug: s.to_string(),
                    known: known(),
                }
                .into()
            }),
            None if all.len() == 1 => Ok(all[0].clone()),
            None => bail!(UnknownMunicipality {
                slug: String::new(),
                known: format!("{} (choose one with --municipality)", known()),
            }),
        }
    }

    /// The mail settings for one municipality's mails: its addresses in
    /// `to` and `admin`; the server, sender and retries are shared.
    pub fn mail_for(&self, slug: &str) -> Option<Mail> {
        let mut mail = self.mail.clone()?;
        if let Some(m) = self.municipalities.iter().find(|m| m.slug == slug) {
            if !m.to.is_empty() {
                mail.to = m.to.clone();
            }
            if let Some(a) = &m.admin {
                mail.admin = a.clone();
            }
        }
        Some(mail)
    }

    /// Start-up checks of `[[municipality]]`, each error naming the key.
    pub(crate) fn check_municipalities(&self) -> Result<()> {
        let list = &self.municipalities;
        let several = list.len() > 1;
        for (i, m) in list.iter().enumerate() {
            let at = format!("municipality[{i}]");
            if !slug_ok(&m.slug) {
                bail!(
                    "{at}.slug = {:?} must be a slug: lowercase letters, digits and '-', at most 40",
                    m.slug
                );
            }
            if list[..i].iter().any(|o| o.slug == m.slug) {
                bail!("{at}.slug = {:?} is used twice", m.slug);
            }
            if m.name.trim().is_empty() || m.name.chars().any(char::is_control) {
                bail!("{at}.name (municipality {:?}) must not be empty", m.slug);
            }
            match &m.desks {
                None if several => bail!(
                    "{at}.desks is missing (municipality {:?}): with several municipalities \
                     each lists its desks, e.g. desks = [\"via-mantova\"]",
                    m.slug
                ),
                Some(d) if d.is_empty() => {
                    bail!("{at}.desks (municipality {:?}) is empty", m.slug)
                }
                Some(d) => {
                    for desk in d {
                        if !slug_ok(desk) {
                            bail!("{at}.desks: {desk:?} is not a desk slug");
                        }
                    }
                }
                None => {}
            }
            if let Some(mail) = &self.mail {
                if m.to.is_empty() && (several || mail.to.is_empty()) {
                    bail!(
                        "{at}.to is empty (municipality {:?}): list its staff's address(es), \
                         e.g. to = [\"servizi.sociali@comune.example\"]",
                        m.slug
                    );
                }
            }
            for a in m.to.iter().chain(m.admin.as_ref()) {
                a.parse::<lettre::message::Mailbox>()
                    .with_context(|| format!("{at}: `{a}` is not a valid address"))?;
            }
        }
        Ok(())
    }

    /// `operator add --desk`: a desk no municipality lists would have
    /// nowhere to send its referrals.
    pub fn check_desk(&self, desk: &str) -> Result<()> {
        if self.municipalities_of(desk).is_empty() {
            bail!(
                "desk `{desk}` is in no municipality: add it to the `desks` of a \
                 [[municipality]] in the configuration first"
            );
        }
        Ok(())
    }
}

/// Each municipality's staff keys, ready to seal; also gives the rows
/// from before municipalities to the first one. Refuses to start with a
/// municipality without keys, a key of an unknown municipality, a
/// referral still to deliver to an unknown municipality, or an active
/// operator whose desk is in no municipality.
pub fn load_recipients(conn: &Connection, cfg: &Config) -> Result<BTreeMap<String, Recipients>> {
    adopt_earlier_rows(conn, &cfg.municipalities())?;
    refuse_orphan_queue(&store::queued_by_municipality(conn)?, cfg)?;
    recipients_from(store::staff(conn)?, &store::operators(conn)?, cfg)
}

/// Refuses to start while referrals of a municipality taken out of the
/// configuration are still to be delivered (`queued`: slug and count, as
/// the store counts them): they would be mailed to `[mail]`'s addresses,
/// someone else's staff.
pub fn refuse_orphan_queue(queued: &[(String, i64)], cfg: &Config) -> Result<()> {
    let all = cfg.municipalities();
    for (slug, n) in queued {
        if !all.iter().any(|m| &m.slug == slug) {
            bail!(
                "{n} referral(s) of municipality `{slug}`, which is not in the configuration, \
                 are still to be delivered: add its [[municipality]] back until they are \
                 (see `queue list`)"
            );
        }
    }
    Ok(())
}

/// [`load_recipients`] from rows already read (and adopted), whatever the store.
pub fn recipients_from(
    staff: Vec<store::Staff>,
    operators: &[store::Operator],
    cfg: &Config,
) -> Result<BTreeMap<String, Recipients>> {
    let all = cfg.municipalities();
    let mut keys: BTreeMap<String, Vec<StaffKey>> = BTreeMap::new();
    for s in staff {
        let slug = s.municipality.clone().unwrap_or_default();
        if !all.iter().any(|m| m.slug == slug) {
            bail!(
                "staff key {} ({}) belongs to municipality `{slug}`, which is not in the \
                 configuration: add the [[municipality]] back or `staff remove {}`",
                s.id,
                s.fingerprint,
                s.id
            );
        }
        let key = StaffKey::parse(s.public_key.as_bytes())
            .with_context(|| format!("staff key {} ({})", s.id, s.fingerprint))?;
        keys.entry(slug).or_default().push(key);
    }
    for op in operators {
        if op.revoked_at.is_none() && cfg.municipalities_of(&op.desk).is_empty() {
            bail!(
                "operator {} has desk `{}`, which is in no municipality: add it to the \
                 `desks` of a [[municipality]] or revoke the operator",
                op.id,
                op.desk
            );
        }
    }
    let mut out = BTreeMap::new();
    for m in &all {
        let k = keys.remove(&m.slug).unwrap_or_default();
        if k.is_empty() {
            bail!(
                "municipality `{}` has no staff key: add one with `sportello-inbox staff add \
                 --municipality {} --name ... --key FILE.asc`",
                m.slug,
                m.slug
            );
        }
        out.insert(m.slug.clone(), Recipients::new(k)?);
    }
    Ok(out)
}

/// Gives the first configured municipality the rows that belong to none:
/// those from before migration 5, and those stored under the implicit
/// municipality while the configuration had no `[[municipality]]` (adding
/// the sections must not orphan the keys already added).
pub fn adopt_earlier_rows(conn: &Connection, all: &[Municipality]) -> Result<()> {
    store::adopt_unassigned(conn, &all[0].slug)?;
    if !all.iter().any(|m| m.slug == IMPLICIT_MUNICIPALITY) {
        store::reassign_municipality(conn, IMPLICIT_MUNICIPALITY, &all[0].slug)?;
    }
    Ok(())
}

/// `municipality list`: slug, name, staff keys, staff and admin addresses.
pub fn list(conn: &Connection, cfg: &Config) -> Result<Vec<String>> {
    adopt_earlier_rows(conn, &cfg.municipalities())?;
    Ok(list_from(&store::staff(conn)?, cfg))
}

/// [`list`] from the staff keys already read (and adopted), whatever the store.
pub fn list_from(staff: &[store::Staff], cfg: &Config) -> Vec<String> {
    let all = cfg.municipalities();
    let mut out = vec![format!(
        "{:<20} {:<30} {:>4}  {:<40} admin",
        "slug", "name", "keys", "to"
    )];
    for m in &all {
        let keys = staff
            .iter()
            .filter(|s| s.municipality.as_deref() == Some(m.slug.as_str()))
            .count();
        let mail = cfg.mail_for(&m.slug);
        let to = mail.as_ref().map_or("-".into(), |x| x.to.join(", "));
        let admin = mail.as_ref().map_or("-".into(), |x| x.admin.clone());
        out.push(format!(
            "{:<20} {:<30} {keys:>4}  {to:<40} {admin}",
            m.slug, m.name
        ));
    }
    out
}
