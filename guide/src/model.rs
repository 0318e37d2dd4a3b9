//! Step 4: the Site, every entry resolved and every derived list computed,
//! ready for templates and exports.

use serde::Serialize;
use time::Date;

use crate::language::{Language, SectionKey};
pub mod vocab;

use crate::urls::Urls;
pub use vocab::{Cost, Day, OfficeKind, Status};

/// Settings from `site.toml`, with the base URL in force for this build.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SiteInfo {
    pub title: String,
    pub base_url: String,
    pub owner: String,
    pub inbox_url: String,
    /// Licence of the open data (an address); empty when site.toml has none.
    pub licence: String,
    /// Where entries' addresses are, when they do not say: for the open data.
    pub city: String,
    pub province: String,
    pub postal_code: String,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    /// The owner's IPA code, for the DCAT-AP_IT catalogue; may be empty.
    pub ipa_code: String,
    /// The accessibility statement on AgID's form site, or empty.
    pub accessibility_form: String,
}

/// An entry of a controlled vocabulary and the services that use it.
#[derive(Debug, Clone, Serialize)]
pub struct Term {
    pub slug: String,
    pub name: String,
    pub description: String,
    /// The Modello Comuni vocabulary term, for topics (may be empty).
    pub vocabulary: String,
    pub url: String,
    /// Indexes into `Site::services`, in A-Z order.
    #[serde(skip)]
    pub services: Vec<usize>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Section {
    pub key: SectionKey,
    pub data_element: &'static str,
    /// [`SectionKey::before_access`], for templates: one lookup where
    /// testing the key against a list took several on every page.
    pub before_access: bool,
    /// Whether `html` holds a table, which templates wrap in a scroll
    /// region: most sections have none and are written as they are.
    pub has_table: bool,
    pub label: String,
    pub html: String,
}

impl Section {
    pub fn new(key: SectionKey, label: String, html: String) -> Section {
        Section {
            key,
            data_element: key.data_element(),
            before_access: key.before_access(),
            has_table: html.contains("<table>"),
            label,
            html,
        }
    }

    /// The section's plain text (for the search index and the open data),
    /// read from its HTML: it is not kept twice.
    pub fn text(&self) -> String {
        sportello_search::html::text(&self.html)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Service {
    pub slug: String,
    pub title: String,
    /// [`title_sort_key`] of `title`, kept so that re-sorting the A-Z list
    /// after an edit does not fold every title again; set it with the title.
    #[serde(skip)]
    pub sort_key: String,
    pub summary: String,
    pub url: String,
    pub permalink: String,
    #[serde(skip)]
    pub category: usize,
    #[serde(skip)]
    pub topics: Vec<usize>,
    #[serde(skip)]
    pub audiences: Vec<usize>,
    #[serde(skip)]
    pub life_events: Vec<usize>,
    pub status: Status,
    pub status_reason: String,
    #[serde(skip)]
    pub office: usize,
    pub provider: String,
    pub cost: Cost,
    pub age_min: Option<u32>,
    pub age_max: Option<u32>,
    /// Highest ISEE admitted, in euro.
    pub isee_max: Option<u32>,
    /// Lowest civil-invalidity percentage admitted.
    pub invalidity_min: Option<u32>,
    pub keywords: Vec<String>,
    #[serde(skip)]
    pub updated: Date,
    pub updated_iso: String,
    pub updated_label: String,
    #[serde(skip)]
    pub reviewed: Date,
    pub online: String,
    pub booking: String,
    #[serde(skip)]
    pub desks: Vec<usize>,
    pub sections: Vec<Section>,
    /// Published only with `--drafts` (and by `serve`, marked).
    pub draft: bool,
    /// Source file, for messages.
    #[serde(skip)]
    pub file: String,
}

impl Service {
    /// Sets the title and its sort key, which must follow it.
    pub fn set_title(&mut self, title: String) {
        self.sort_key = title_sort_key(&title);
        self.title = title;
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct OpeningHours {
    pub days: Vec<Day>,
    /// "Lunedì, martedì" or "Lunedì – venerdì", from the language file.
    pub days_label: String,
    pub opens: String,
    pub closes: String,
}

/// An office or a desk: both are places with contacts and hours.
#[derive(Debug, Clone, Serialize)]
pub struct Place {
    pub slug: String,
    pub name: String,
    pub url: String,
    pub permalink: String,
    pub kind: Option<OfficeKind>,
    pub organization: String,
    pub address: String,
    pub phone: String,
    pub email: String,
    pub website: String,
    pub step_free: Option<bool>,
    pub hours: Vec<OpeningHours>,
    pub html: String,
    pub draft: bool,
    /// Services it is responsible for (offices) or where one can ask (desks), A-Z.
    #[serde(skip)]
    pub services: Vec<usize>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Page {
    pub slug: String,
    pub title: String,
    pub summary: String,
    pub url: String,
    pub html: String,
    pub draft: bool,
}

#[derive(Debug, Clone)]
pub struct Site {
    pub info: SiteInfo,
    pub lang: Language,
    pub urls: Urls,
    pub home: Page,
    pub categories: Vec<Term>,
    pub topics: Vec<Term>,
    pub audiences: Vec<Term>,
    pub life_events: Vec<Term>,
    /// Sorted by slug: a stable order for ids and exports.
    pub services: Vec<Service>,
    pub offices: Vec<Place>,
    pub desks: Vec<Place>,
    pub pages: Vec<Page>,
    /// Indexes of `services` sorted by title, for every A-Z list.
    pub az: Vec<usize>,
    pub synonyms: Vec<Vec<String>>,
    /// The search lexicon: the theme's, extended by `content/lexicon.toml`.
    pub lexicon: crate::index::Lexicon,
    /// Which edition this is and how its pages pair with the other's.
    pub edition: Edition,
    /// The English edition, when the content has translations (main edition only).
    pub translation: Option<Box<Site>>,
}

/// One language's edition of the guide. The main edition has every entry;
/// a translation has the entries with a `<slug>.en.md`, and shows the
/// others with their Italian title, linked to the Italian page.
#[derive(Debug, Clone, Default)]
pub struct Edition {
    /// `true` for a translation (under `/<code>/`).
    pub translated: bool,
    /// Per entry (indexes of the Site's lists): has a page in this edition.
    pub services: Vec<bool>,
    pub offices: Vec<bool>,
    pub desks: Vec<bool>,
    pub pages: Vec<bool>,
    /// Page URL in this edition → the same page in the other edition.
    pub alternates: std::collections::HashMap<String, String>,
    /// The other edition, when there is one.
    pub other: Option<OtherEdition>,
}

#[derive(Debug, Clone, Serialize)]
pub struct OtherEdition {
    /// BCP 47 code.
    pub code: String,
    /// The language's name in itself ("English", "Italiano").
    pub name: String,
    pub home: String,
    /// The main edition's code, for `hreflang="x-default"`.
    pub main_code: String,
}

/// Sort key for titles: case and accents do not change the order.
pub fn title_sort_key(title: &str) -> String {
    crate::slug::suggest_slug(title)
}
