//! "Registra un contatto" and "Statistiche" (askama templates): every field
//! from a fixed list, keyboard-first, no script.

use askama::Template;

use super::pages::{Choices, ServiceGroup, SummaryLine};
use crate::contact::{self, AgeBand, Channel, FieldErrors, Outcome, UserCategory};
use crate::form::Options;
use crate::store::contacts::Contact;
use crate::store::Operator;

/// What the form shows in its fields: the posted values, a stored contact
/// being corrected, or today's defaults. (name, value) pairs as posted.
#[derive(Debug, Default, Clone)]
pub struct Values(pub Vec<(String, String)>);

impl Values {
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    fn has(&self, name: &str, value: &str) -> bool {
        self.0.iter().any(|(k, v)| k == name && v == value)
    }

    /// The fields of a stored contact, as the form would post them.
    pub fn of(c: &contact::NewContact) -> Values {
        let mut v = vec![
            ("day".into(), contact::format_date(c.day)),
            ("channel".into(), c.channel.slug().into()),
            ("user_category".into(), c.user_category.slug().into()),
            ("age_band".into(), c.age_band.slug().into()),
            ("city_area".into(), c.city_area.clone()),
            ("outcome".into(), c.outcome.slug().into()),
            (
                "referral_reference".into(),
                c.referral_reference.clone().unwrap_or_default(),
            ),
            (
                "unmet_need".into(),
                c.unmet_need.clone().unwrap_or_default(),
            ),
        ];
        v.extend(
            c.need_areas
                .iter()
                .map(|n| ("need_areas".into(), n.clone())),
        );
        v.extend(c.services.iter().map(|s| ("services".into(), s.clone())));
        Values(v)
    }
}

/// One of today's contacts in the list under the form.
pub struct TodayRow {
    pub id: i64,
    pub recorded: String,
    pub text: String,
}

#[derive(Template)]
#[template(path = "contacts.html")]
pub struct ContactPage<'a> {
    pub operator: Option<&'a Operator>,
    pub has_errors: bool,
    /// `Some(id)` while correcting a contact.
    pub editing: Option<i64>,
    pub notice: Option<&'a str>,
    pub summary: Vec<SummaryLine<'a>>,
    pub csrf: &'a str,
    pub day: &'a str,
    pub day_error: Option<&'a str>,
    pub radios: Vec<Choices<'a>>,
    pub city_area: Choices<'a>,
    pub need_areas: Choices<'a>,
    pub services_error: Option<&'a str>,
    pub services: Vec<ServiceGroup<'a>>,
    pub outcome: Choices<'a>,
    pub referral_reference: &'a str,
    pub referral_error: Option<&'a str>,
    pub unmet_need: Choices<'a>,
    pub today: Vec<TodayRow>,
}

const LABELS: &[(&str, &str)] = &[
    ("day", "Data"),
    ("channel", "Canale"),
    ("user_category", "Tipologia di utenza"),
    ("age_band", "Fascia d'età"),
    ("city_area", "Zona della città"),
    ("need_areas", "Aree di bisogno"),
    ("services", "Servizi"),
    ("outcome", "Esito"),
    ("referral_reference", "Numero della segnalazione"),
    ("unmet_need", "Bisogno non coperto"),
    ("form", "Modulo"),
];

/// A contact of today in one line: when, how, who, how it ended.
pub fn describe(c: &Contact) -> String {
    let k = &c.contact;
    let mut s = format!(
        "{} · {} · {} · {}",
        k.channel.label(),
        k.user_category.label(),
        k.age_band.label(),
        k.outcome.label()
    );
    if let Some(r) = &k.referral_reference {
        s.push_str(&format!(" ({r})"));
    }
    s
}

impl<'a> ContactPage<'a> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        opts: &'a Options,
        values: &'a Values,
        errors: &'a FieldErrors,
        csrf: &'a str,
        operator: &'a Operator,
        editing: Option<i64>,
        notice: Option<&'a str>,
        today: &[Contact],
    ) -> Self {
        let err = |name: &str| errors.get(name).map(String::as_str);
        let radio = |name, label, list: Vec<(&'a str, &'a str)>| Choices {
            name,
            label,
            error: err(name),
            options: list
                .into_iter()
                .map(|(v, l)| (v, l, values.has(name, v)))
                .collect(),
        };
        let areas = |name, label, none: Option<&'a str>| Choices {
            name,
            label,
            error: err(name),
            options: none
                .map(|n| ("", n, values.get(name).is_empty()))
                .into_iter()
                .chain(
                    opts.need_areas
                        .iter()
                        .map(|c| (c.slug.as_str(), c.label.as_str(), values.has(name, &c.slug))),
                )
                .collect(),
        };
        ContactPage {
            operator: Some(operator),
            has_errors: !errors.is_empty(),
            editing,
            notice,
            summary: LABELS
                .iter()
                .filter_map(|(name, label)| {
                    errors.get(name).map(|m| SummaryLine {
                        target: name,
                        label,
                        message: m,
                    })
                })
                .collect(),
            csrf,
            day: values.get("day"),
            day_error: err("day"),
            radios: vec![
                radio(
                    "channel",
                    "Canale",
                    Channel::ALL.iter().map(|c| (c.slug(), c.label())).collect(),
                ),
                radio(
                    "user_category",
                    "Tipologia di utenza",
                    UserCategory::ALL
                        .iter()
                        .map(|c| (c.slug(), c.label()))
                        .collect(),
                ),
                radio(
                    "age_band",
                    "Fascia d'età",
                    AgeBand::ALL.iter().map(|c| (c.slug(), c.label())).collect(),
                ),
            ],
            city_area: Choices {
                name: "city_area",
                label: "Zona della città",
                error: err("city_area"),
                options: opts
                    .city_areas
                    .iter()
                    .map(|c| {
                        (
                            c.slug.as_str(),
                            c.label.as_str(),
                            values.get("city_area") == c.slug,
                        )
                    })
                    .collect(),
            },
            need_areas: areas("need_areas", "Aree di bisogno (una o più)", None),
            services_error: err("services"),
            services: super::pages::service_groups(opts, |slug| values.has("services", slug)),
            outcome: radio(
                "outcome",
                "Esito",
                Outcome::ALL.iter().map(|c| (c.slug(), c.label())).collect(),
            ),
            referral_reference: values.get("referral_reference"),
            referral_error: err("referral_reference"),
            unmet_need: areas(
                "unmet_need",
                "Bisogno non coperto: nessun servizio risponde (facoltativo)",
                Some("Nessuno"),
            ),
            today: today
                .iter()
                .map(|c| TodayRow {
                    id: c.id,
                    recorded: c
                        .created_at
                        .get(11..16)
                        .unwrap_or(&c.created_at)
                        .to_string(),
                    text: describe(c),
                })
                .collect(),
        }
    }
}

/// One choice of the statistics' filter: (value, label, selected).
pub type Pick = (String, String, bool);

#[derive(Template)]
#[template(path = "statistics.html")]
pub struct StatisticsPage<'a> {
    pub operator: Option<&'a Operator>,
    pub from: &'a str,
    pub to: &'a str,
    pub desks: Vec<Pick>,
    /// The municipalities of the referent's desk (several configured):
    /// the report is of one of them; empty with one municipality.
    pub municipalities: Vec<Pick>,
    pub error: Option<String>,
    pub min_cell: u32,
    /// The report's body, already rendered (and escaped) by its own template.
    pub report: Option<String>,
}
