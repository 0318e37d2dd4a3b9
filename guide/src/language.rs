//! The theme's language file (`themes/<theme>/i18n/<language>.toml`): URL
//! words, section headings, interface labels, month and day names.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// First path words of each kind of page.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Paths {
    pub services: String,
    pub offices: String,
    pub desks: String,
    pub categories: String,
    pub topics: String,
    pub audiences: String,
    pub search: String,
}

impl Default for Paths {
    /// The Italian words, used by unit tests; real builds read the language file.
    fn default() -> Self {
        Paths {
            services: "servizi".into(),
            offices: "uffici".into(),
            desks: "sportelli".into(),
            categories: "categorie".into(),
            topics: "argomenti".into(),
            audiences: "destinatari".into(),
            search: "cerca".into(),
        }
    }
}

/// The standard headings of a service entry, in their required order.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SectionLabels {
    pub addressed: String,
    pub how_to: String,
    pub needed: String,
    pub outcome: String,
    pub timing: String,
    pub cost: String,
    pub access: String,
    pub more: String,
    pub conditions: String,
    pub contacts: String,
    pub topics: String,
}

/// Sections that editors write, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SectionKey {
    Addressed,
    HowTo,
    Needed,
    Outcome,
    Timing,
    Cost,
    More,
    /// "Condizioni di servizio" (Designers Italia C.SI.1.3); optional: the
    /// theme writes a short one that points to the sheet's own sections.
    Conditions,
}

impl SectionKey {
    pub const ALL: [SectionKey; 8] = [
        SectionKey::Addressed,
        SectionKey::HowTo,
        SectionKey::Needed,
        SectionKey::Outcome,
        SectionKey::Timing,
        SectionKey::Cost,
        SectionKey::More,
        SectionKey::Conditions,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SectionKey::Addressed => "addressed",
            SectionKey::HowTo => "how_to",
            SectionKey::Needed => "needed",
            SectionKey::Outcome => "outcome",
            SectionKey::Timing => "timing",
            SectionKey::Cost => "cost",
            SectionKey::More => "more",
            SectionKey::Conditions => "conditions",
        }
    }
}

impl SectionKey {
    /// The Designers Italia `data-element` of the section's content, if any.
    pub fn data_element(self) -> &'static str {
        match self {
            SectionKey::Addressed => "service-addressed",
            SectionKey::HowTo => "service-how-to",
            SectionKey::Needed => "service-needed",
            SectionKey::Outcome => "service-achieved",
            SectionKey::Timing => "service-calendar-text",
            SectionKey::Cost => "service-cost",
            SectionKey::More => "service-more",
            SectionKey::Conditions => "service-file",
        }
    }

    /// Whether the sheet shows it before "Accedi al servizio" (Designers
    /// Italia's order: all but "Ulteriori informazioni" and the conditions).
    pub fn before_access(self) -> bool {
        !matches!(self, SectionKey::More | SectionKey::Conditions)
    }
}

impl SectionLabels {
    pub fn label(&self, key: SectionKey) -> &str {
        match key {
            SectionKey::Addressed => &self.addressed,
            SectionKey::HowTo => &self.how_to,
            SectionKey::Needed => &self.needed,
            SectionKey::Outcome => &self.outcome,
            SectionKey::Timing => &self.timing,
            SectionKey::Cost => &self.cost,
            SectionKey::More => &self.more,
            SectionKey::Conditions => &self.conditions,
        }
    }

    /// The section a heading names, compared without case.
    pub fn key_for(&self, heading: &str) -> Option<SectionKey> {
        // The heading folded once and each label folded as it is compared:
        // every heading of every entry meets up to nine labels.
        let fold = |s: &str| s.chars().flat_map(char::to_lowercase).collect::<Vec<_>>();
        let heading = fold(heading);
        SectionKey::ALL.into_iter().find(|&k| {
            self.label(k)
                .chars()
                .flat_map(char::to_lowercase)
                .eq(heading.iter().copied())
        })
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Language {
    /// BCP 47 code for `<html lang>`.
    pub code: String,
    pub paths: Paths,
    pub sections: SectionLabels,
    /// Twelve month names, January first.
    pub months: Vec<String>,
    /// Day names keyed `mon` … `sun`.
    pub days: BTreeMap<String, String>,
    /// Every other interface string, used by templates as `t.<key>`.
    pub labels: BTreeMap<String, String>,
}

impl Language {
    /// "1 ottobre 2026".
    pub fn format_date(&self, date: time::Date) -> String {
        let month = &self.months[usize::from(u8::from(date.month())) - 1];
        format!("{} {} {}", date.day(), month, date.year())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_heading_names_its_section_whatever_its_case() {
        let labels = SectionLabels {
            addressed: "A chi è rivolto".into(),
            how_to: "Come fare".into(),
            needed: "Cosa serve".into(),
            outcome: "Cosa si ottiene".into(),
            timing: "Tempi e scadenze".into(),
            cost: "Quanto costa".into(),
            access: "Accedi al servizio".into(),
            more: "Ulteriori informazioni".into(),
            conditions: "Condizioni di servizio".into(),
            contacts: "Contatti".into(),
            topics: "Argomenti".into(),
        };
        assert_eq!(
            labels.key_for("A CHI È RIVOLTO"),
            Some(SectionKey::Addressed)
        );
        assert_eq!(labels.key_for("come fare"), Some(SectionKey::HowTo));
        assert_eq!(
            labels.key_for("Condizioni di servizio"),
            Some(SectionKey::Conditions)
        );
        assert_eq!(labels.key_for("Come far"), None);
        assert_eq!(labels.key_for("Come fare e"), None);
        // Not editors' sections: the theme writes them.
        assert_eq!(labels.key_for("Contatti"), None);
    }
}
