//! Whose counts a report shows when the inbox serves several
//! municipalities: one municipality's referrals (their `municipality`
//! column) and the contacts that are its own, so that no report (and no
//! "Statistiche" page) mixes two Comuni's numbers.

use crate::config::{Config, Municipality};

/// One municipality as a report's scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Whose {
    pub slug: String,
    /// As in the configuration, e.g. "Comune di Castelverde" (the title).
    pub name: String,
    /// Its desks (`desks` of its `[[municipality]]`): the report's columns.
    pub desks: Vec<String>,
    /// Of those, the desks that refer to no other municipality: all their
    /// contacts are this municipality's. A contact at a desk shared with
    /// another municipality counts only when it led to one of this
    /// municipality's referrals (the register does not record the Comune).
    pub exclusive: Vec<String>,
}

impl Whose {
    /// The scope of `slug` (`None`: the only municipality) in `cfg`.
    /// `Ok(None)` for a configuration with one municipality: its reports
    /// count everything, as before municipalities existed. An unknown slug,
    /// or none with several municipalities, is
    /// [`crate::municipality::UnknownMunicipality`] (exit status 2).
    pub fn of(cfg: &Config, slug: Option<&str>) -> anyhow::Result<Option<Whose>> {
        let m = cfg.municipality(slug)?;
        Ok(Whose::among(&cfg.municipalities(), m))
    }

    /// The scope of `m`, one of `all` (`None` when it is the only one).
    pub fn among(all: &[Municipality], m: Municipality) -> Option<Whose> {
        if all.len() <= 1 {
            return None;
        }
        let desks = m.desks.clone().unwrap_or_default();
        let exclusive = desks
            .iter()
            .filter(|d| all.iter().filter(|o| o.serves(d)).count() == 1)
            .cloned()
            .collect();
        Some(Whose {
            slug: m.slug,
            name: m.name,
            desks,
            exclusive,
        })
    }
}
