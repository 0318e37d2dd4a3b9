//! The front-matter and settings formats editors write, as serde structs.
//!
//! Every struct denies unknown fields: a misspelt key is an error with a
//! suggestion, never silently ignored. Values that later checks point at are
//! [`Spanned`] so errors land on the right line.

use serde::Deserialize;
use toml::value::Datetime;
use toml::Spanned;

use super::schema::{Field, Schema, Ty};

pub const STATUS: &[&str] = &["active", "suspended", "closed"];
pub const COST: &[&str] = &["free", "paid", "isee"];
pub const OFFICE_KIND: &[&str] = &["municipal", "health", "national", "third-party"];
pub const DAYS: &[&str] = &["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

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
    /// Licence of the open data (an address), for the DCAT catalogue.
    #[serde(default)]
    pub licence: String,
    /// The guide's town, for addresses that do not name it.
    #[serde(default)]
    pub city: String,
    /// Province code (`CR`), for the open data's `state_province`.
    #[serde(default)]
    pub province: String,
    #[serde(default)]
    pub postal_code: String,
    /// ISO 3166-1 alpha-2; `IT` when empty.
    #[serde(default)]
    pub country: String,
    /// The owner's code in the IPA index of public administrations, which
    /// DCAT-AP_IT uses to identify the publisher and the dataset.
    #[serde(default)]
    pub ipa_code: String,
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
    #[serde(default)]
    pub categories: Vec<Term>,
    #[serde(default)]
    pub topics: Vec<Term>,
    #[serde(default)]
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

// The values of closed vocabularies are the model's types, read as they are.
use crate::model::{Cost, Day, OfficeKind, Status};

/// How citizens reach a service.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Access {
    pub online: Option<Spanned<String>>,
    pub booking: Option<Spanned<String>>,
    pub desks: Vec<Spanned<String>>,
}

/// Front matter of `services/<slug>.md`. Keys the content model requires
/// are `Option` here: the schema reports them missing, and the rest of the
/// entry is still checked.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceFront {
    pub title: Option<Spanned<String>>,
    pub summary: Option<Spanned<String>>,
    pub category: Option<Spanned<String>>,
    #[serde(default)]
    pub topics: Vec<Spanned<String>>,
    #[serde(default)]
    pub audiences: Vec<Spanned<String>>,
    #[serde(default)]
    pub life_events: Vec<Spanned<String>>,
    pub status: Option<Spanned<Status>>,
    #[serde(default)]
    pub status_reason: Option<Spanned<String>>,
    pub office: Option<Spanned<String>>,
    #[serde(default)]
    pub provider: Option<String>,
    pub cost: Option<Spanned<Cost>>,
    #[serde(default)]
    pub age_min: Option<Spanned<u32>>,
    #[serde(default)]
    pub age_max: Option<Spanned<u32>>,
    /// The highest ISEE (euro) the service admits.
    #[serde(default)]
    pub isee_max: Option<Spanned<u32>>,
    /// The lowest civil-invalidity percentage the service admits.
    #[serde(default)]
    pub invalidity_min: Option<Spanned<u32>>,
    #[serde(default)]
    pub keywords: Vec<String>,
    pub updated: Option<Spanned<Datetime>>,
    pub reviewed: Option<Spanned<Datetime>>,
    /// A draft is checked but not published (unless `--drafts`).
    #[serde(default)]
    pub draft: bool,
    #[serde(default)]
    pub access: Access,
}

const ACCESS_FIELDS: &[Field] = &[
    Field::opt("online", Ty::Text, "online = \"https://…\""),
    Field::opt("booking", Ty::Text, "booking = \"https://…\""),
    Field::opt("desks", Ty::TextList, "desks = [\"…\"]"),
];

impl Schema for ServiceFront {
    const FIELDS: &'static [Field] = &[
        Field::req("title", Ty::Text, "title = \"…\""),
        Field::req("summary", Ty::Text, "summary = \"…\""),
        Field::req("category", Ty::Text, "category = \"…\""),
        Field::opt("topics", Ty::TextList, "topics = [\"…\"]"),
        Field::opt("audiences", Ty::TextList, "audiences = [\"…\"]"),
        Field::opt("life_events", Ty::TextList, "life_events = [\"…\"]"),
        Field::req("status", Ty::Choice(STATUS), "status = \"active\""),
        Field::opt("status_reason", Ty::Text, "status_reason = \"…\""),
        Field::req("office", Ty::Text, "office = \"…\""),
        Field::opt("provider", Ty::Text, "provider = \"…\""),
        Field::req("cost", Ty::Choice(COST), "cost = \"free\""),
        Field::opt("age_min", Ty::Count, "age_min = 65"),
        Field::opt("age_max", Ty::Count, "age_max = 99"),
        Field::opt("isee_max", Ty::Count, "isee_max = 9530"),
        Field::opt("invalidity_min", Ty::Count, "invalidity_min = 67"),
        Field::opt("keywords", Ty::TextList, "keywords = [\"…\"]"),
        Field::req("updated", Ty::Date, "updated = 2026-10-01"),
        Field::req("reviewed", Ty::Date, "reviewed = 2026-10-01"),
        Field::opt("draft", Ty::Bool, "draft = true"),
        Field::opt("access", Ty::Table(ACCESS_FIELDS), "[access]"),
    ];
}

/// Opening hours: the same times on the listed days.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hours {
    pub days: Vec<Spanned<Day>>,
    pub opens: Spanned<String>,
    pub closes: Spanned<String>,
}

const HOURS_FIELDS: &[Field] = &[
    Field::req("days", Ty::ChoiceList(DAYS), "days = [\"mon\", \"tue\"]"),
    Field::req("opens", Ty::Text, "opens = \"09:00\""),
    Field::req("closes", Ty::Text, "closes = \"12:30\""),
];

/// The keys offices and desks share.
macro_rules! place_fields {
    ($($extra:expr),*) => {
        &[
            Field::req("name", Ty::Text, "name = \"…\""),
            $($extra,)*
            Field::opt("address", Ty::Text, "address = \"Via …, 26100 Cremona\""),
            Field::opt("phone", Ty::Text, "phone = \"\""),
            Field::opt("email", Ty::Text, "email = \"\""),
            Field::opt("website", Ty::Text, "website = \"https://…\""),
            Field::opt("step_free", Ty::Bool, "step_free = true"),
            Field::opt("draft", Ty::Bool, "draft = true"),
            Field::opt("hours", Ty::Tables(HOURS_FIELDS), "[[hours]]"),
        ]
    };
}

/// Contact details shared by offices and desks.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfficeFront {
    pub name: Option<String>,
    pub kind: Option<OfficeKind>,
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
    pub draft: bool,
    #[serde(default)]
    pub hours: Vec<Hours>,
}

impl Schema for OfficeFront {
    const FIELDS: &'static [Field] = place_fields!(
        Field::req("kind", Ty::Choice(OFFICE_KIND), "kind = \"municipal\""),
        Field::opt("organization", Ty::Text, "organization = \"…\"")
    );
}

/// Front matter of `desks/<slug>.md`: an office without kind and organization.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeskFront {
    pub name: Option<String>,
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
    pub draft: bool,
    #[serde(default)]
    pub hours: Vec<Hours>,
}

impl Schema for DeskFront {
    const FIELDS: &'static [Field] = place_fields!();
}

/// Front matter of `pages/<slug>.md` and `_index.md`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageFront {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub summary: String,
    #[serde(default)]
    pub draft: bool,
}

impl Schema for PageFront {
    const FIELDS: &'static [Field] = &[
        Field::req("title", Ty::Text, "title = \"…\""),
        Field::opt("summary", Ty::Text, "summary = \"…\""),
        Field::opt("draft", Ty::Bool, "draft = true"),
    ];
}

impl Schema for SiteConfig {
    const FIELDS: &'static [Field] = &[
        Field::req("title", Ty::Text, "title = \"…\""),
        Field::req("base_url", Ty::Text, "base_url = \"https://…\""),
        Field::req("language", Ty::Text, "language = \"it\""),
        Field::opt("owner", Ty::Text, "owner = \"Comune di …\""),
        Field::opt("inbox_url", Ty::Text, "inbox_url = \"https://…\""),
        Field::opt(
            "licence",
            Ty::Text,
            "licence = \"https://creativecommons.org/licenses/by/4.0/\"",
        ),
        Field::opt("city", Ty::Text, "city = \"Cremona\""),
        Field::opt("province", Ty::Text, "province = \"CR\""),
        Field::opt("postal_code", Ty::Text, "postal_code = \"26100\""),
        Field::opt("country", Ty::Text, "country = \"IT\""),
        Field::opt("ipa_code", Ty::Text, "ipa_code = \"…\""),
        Field::opt(
            "accessibility_form",
            Ty::Text,
            "accessibility_form = \"https://form.agid.gov.it/view/…\"",
        ),
    ];
}

const TERM_FIELDS: &[Field] = &[
    Field::req("slug", Ty::Text, "slug = \"…\""),
    Field::req("name", Ty::Text, "name = \"…\""),
    Field::opt("description", Ty::Text, "description = \"…\""),
    Field::opt("vocabulary", Ty::Text, "vocabulary = \"…\""),
];

impl Schema for TaxonomyFile {
    const FIELDS: &'static [Field] = &[
        Field::req("categories", Ty::Tables(TERM_FIELDS), "[[categories]]"),
        Field::req("topics", Ty::Tables(TERM_FIELDS), "[[topics]]"),
        Field::req("audiences", Ty::Tables(TERM_FIELDS), "[[audiences]]"),
        Field::opt("life_events", Ty::Tables(TERM_FIELDS), "[[life_events]]"),
    ];
}

impl Schema for SynonymsFile {
    const FIELDS: &'static [Field] = &[Field::opt(
        "groups",
        Ty::TextLists,
        "groups = [[\"badante\", \"assistente familiare\"]]",
    )];
}

/// What every entry's front matter has.
pub trait Front {
    /// `draft = true`: checked, but published only with `--drafts`.
    fn draft(&self) -> bool;
}

macro_rules! impl_front {
    ($($t:ty),*) => {
        $(impl Front for $t {
            fn draft(&self) -> bool {
                self.draft
            }
        })*
    };
}

impl_front!(ServiceFront, OfficeFront, DeskFront, PageFront);
