//! The front-matter and settings formats editors write, as serde structs.
//!
//! Every struct denies unknown fields: a misspelt key is an error with a
//! suggestion, never silently ignored. Values that later checks point at are
//! [`Spanned`] so errors land on the right line.

use serde::Deserialize;
use toml::value::Datetime;
use toml::Spanned;

/// `content/site.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteConfig {
    pub title: String,
    pub base_url: Spanned<String>,
    pub language: Spanned<String>,
    #[serde(default)]
    pub owner: String,
    #[serde(default)]
    pub inbox_url: Option<Spanned<String>>,
    /// The guide's accessibility statement on AgID's form site
    /// (`https://form.agid.gov.it/view/...`), linked from every footer
    /// (Designers Italia C.SI.3.2); without it the footer links the local page.
    #[serde(default)]
    pub accessibility_form: Option<Spanned<String>>,
}

/// One entry of a controlled vocabulary in `content/taxonomy.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Term {
    pub slug: Spanned<String>,
    pub name: String,
    /// Optional sentence shown on the term's page.
    #[serde(default)]
    pub description: String,
    /// Topics: the "argomento" of the Designers Italia Modello Comuni
    /// vocabulary this term is (criterion C.SI.1.5), if any.
    #[serde(default)]
    pub vocabulary: String,
}

/// `content/taxonomy.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaxonomyFile {
    pub categories: Vec<Term>,
    pub topics: Vec<Term>,
    pub audiences: Vec<Term>,
    #[serde(default)]
    pub life_events: Vec<Term>,
}

/// `content/synonyms.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SynonymsFile {
    #[serde(default)]
    pub groups: Vec<Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Active,
    Suspended,
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Cost {
    Free,
    Paid,
    Isee,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OfficeKind {
    Municipal,
    Health,
    National,
    ThirdParty,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Day {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Day {
    pub fn key(self) -> &'static str {
        match self {
            Day::Mon => "mon",
            Day::Tue => "tue",
            Day::Wed => "wed",
            Day::Thu => "thu",
            Day::Fri => "fri",
            Day::Sat => "sat",
            Day::Sun => "sun",
        }
    }

    /// schema.org day names, for JSON-LD.
    pub fn schema_org(self) -> &'static str {
        match self {
            Day::Mon => "Monday",
            Day::Tue => "Tuesday",
            Day::Wed => "Wednesday",
            Day::Thu => "Thursday",
            Day::Fri => "Friday",
            Day::Sat => "Saturday",
            Day::Sun => "Sunday",
        }
    }
}

/// How citizens reach a service.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Access {
    pub online: Option<Spanned<String>>,
    pub booking: Option<Spanned<String>>,
    pub desks: Vec<Spanned<String>>,
}

/// Front matter of `services/<slug>.md`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceFront {
    pub title: Spanned<String>,
    pub summary: Spanned<String>,
    pub category: Spanned<String>,
    #[serde(default)]
    pub topics: Vec<Spanned<String>>,
    #[serde(default)]
    pub audiences: Vec<Spanned<String>>,
    #[serde(default)]
    pub life_events: Vec<Spanned<String>>,
    pub status: Spanned<Status>,
    #[serde(default)]
    pub status_reason: Option<Spanned<String>>,
    pub office: Spanned<String>,
    #[serde(default)]
    pub provider: Option<String>,
    pub cost: Spanned<Cost>,
    #[serde(default)]
    pub age_min: Option<Spanned<u32>>,
    #[serde(default)]
    pub age_max: Option<Spanned<u32>>,
    #[serde(default)]
    pub keywords: Vec<String>,
    pub updated: Spanned<Datetime>,
    pub reviewed: Spanned<Datetime>,
    #[serde(default)]
    pub access: Access,
}

/// Opening hours: the same times on the listed days.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hours {
    pub days: Vec<Spanned<Day>>,
    pub opens: Spanned<String>,
    pub closes: Spanned<String>,
}

/// Contact details shared by offices and desks.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfficeFront {
    pub name: String,
    pub kind: OfficeKind,
    #[serde(default)]
    pub organization: String,
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub website: Option<Spanned<String>>,
    #[serde(default)]
    pub step_free: Option<bool>,
    #[serde(default)]
    pub hours: Vec<Hours>,
}

/// Front matter of `desks/<slug>.md`: an office without kind and organization.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeskFront {
    pub name: String,
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub website: Option<Spanned<String>>,
    #[serde(default)]
    pub step_free: Option<bool>,
    #[serde(default)]
    pub hours: Vec<Hours>,
}

/// Front matter of `pages/<slug>.md` and `_index.md`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageFront {
    pub title: String,
    #[serde(default)]
    pub summary: String,
}
