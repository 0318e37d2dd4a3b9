//! The operators' pages in Italian, as askama templates (`inbox/templates`):
//! checked at compile time, every value escaped unless a template says
//! otherwise. Plain server-rendered HTML: no script, no inline style (the
//! CSP forbids both), usable with a screen reader and at 200% zoom.

use askama::Template;
use time::OffsetDateTime;

use crate::config::Choice;
use crate::form::{self, Errors, Input, Options, CALL_TIMES};
use crate::store::{Operator, ReferralSummary, Role};

/// Renders a template; a failure (a value's `Display` that errs) is a bug,
/// and the page says so rather than showing half a document.
pub fn render(t: &impl Template) -> String {
    t.render().unwrap_or_else(|e| {
        tracing::error!(error = %e, "template failed");
        "<!doctype html><title>Errore</title><p>Errore interno della pagina.</p>".into()
    })
}

/// A page for a refused request: says what happened and what to do.
#[derive(Template)]
#[template(path = "problem.html")]
pub struct Problem<'a> {
    pub operator: Option<&'a Operator>,
    pub title: &'a str,
    pub message: &'a str,
}

/// One input of the form: its value, its error and how it is typed.
pub struct Field<'a> {
    pub name: &'static str,
    pub label: &'static str,
    pub kind: &'static str,
    pub value: &'a str,
    pub error: Option<&'a str>,
    pub max: usize,
    pub required: bool,
    /// `inputmode` and `pattern`, for the year of birth.
    pub numeric: bool,
}

/// A `<select>`, a radio group or a checkbox with its choices.
pub struct Choices<'a> {
    pub name: &'static str,
    pub label: &'static str,
    pub error: Option<&'a str>,
    /// (value, label, selected)
    pub options: Vec<(&'a str, &'a str, bool)>,
}

/// The guide's services, grouped by category, for "servizi suggeriti".
pub struct ServiceGroup<'a> {
    pub title: String,
    /// (index for the id, slug, title, checked)
    pub items: Vec<(usize, &'a str, &'a str, bool)>,
}

/// A line of the error summary: which field, its label, the message.
pub struct SummaryLine<'a> {
    pub target: &'static str,
    pub label: &'static str,
    pub message: &'a str,
}

/// The referral form, empty or re-shown with the typed values and errors.
#[derive(Template)]
#[template(path = "referral_form.html")]
pub struct ReferralForm<'a> {
    pub operator: Option<&'a Operator>,
    pub has_errors: bool,
    pub notice: Option<&'a str>,
    pub summary: Vec<SummaryLine<'a>>,
    pub csrf: &'a str,
    pub idempotency_key: &'a str,
    pub person: Vec<Field<'a>>,
    /// "Comune di residenza": only when the desk serves several.
    pub municipality: Option<Choices<'a>>,
    pub city_area: Choices<'a>,
    pub call_time: Choices<'a>,
    pub need_area: Choices<'a>,
    pub urgency: Choices<'a>,
    pub description: Field<'a>,
    pub services_error: Option<&'a str>,
    pub services: Vec<ServiceGroup<'a>>,
    pub consents: Vec<Choices<'a>>,
}

const FIELD_LABELS: &[(&str, &str)] = &[
    ("first_name", "Nome"),
    ("last_name", "Cognome"),
    ("birth_year", "Anno di nascita"),
    ("phone", "Telefono"),
    ("email", "Email"),
    ("municipality", "Comune di residenza"),
    ("city_area", "Zona della città"),
    ("call_time", "Quando telefonare"),
    ("need_area", "Area del bisogno"),
    ("urgency", "Urgenza"),
    ("description", "Descrizione"),
    ("services", "Servizi suggeriti"),
    ("privacy_notice", "Informativa"),
    ("consent", "Consenso"),
];

fn max_len(name: &str) -> usize {
    form::FIELDS
        .iter()
        .find(|(n, _)| *n == name)
        .map_or(0, |(_, m)| *m)
}

impl<'a> ReferralForm<'a> {
    pub fn new(
        opts: &'a Options,
        input: &'a Input,
        errors: &'a Errors,
        csrf: &'a str,
        idempotency_key: &'a str,
        operator: &'a Operator,
        notice: Option<&'a str>,
    ) -> Self {
        let err = |name: &str| errors.get(name).map(String::as_str);
        let field = |name, label, kind, required, numeric| Field {
            name,
            label,
            kind,
            value: input.get(name),
            error: err(name),
            max: max_len(name),
            required,
            numeric,
        };
        let choices = |name, label, list: Vec<(&'a str, &'a str)>| Choices {
            name,
            label,
            error: err(name),
            options: list
                .into_iter()
                .map(|(v, l)| (v, l, input.get(name) == v))
                .collect(),
        };
        let pairs = |list: &'a [Choice]| -> Vec<(&'a str, &'a str)> {
            list.iter()
                .map(|c| (c.slug.as_str(), c.label.as_str()))
                .collect()
        };
        let services = service_groups(opts, |slug| input.services.iter().any(|s| s == slug));
        let check = |name, label| Choices {
            name,
            label,
            error: err(name),
            options: vec![("yes", label, input.get(name) == "yes")],
        };
        ReferralForm {
            operator: Some(operator),
            has_errors: !errors.is_empty(),
            notice,
            summary: FIELD_LABELS
                .iter()
                .filter_map(|(name, label)| {
                    errors.get(name).map(|m| SummaryLine {
                        target: if *name == "services" {
                            "services-legend"
                        } else {
                            name
                        },
                        label,
                        message: m,
                    })
                })
                .collect(),
            csrf,
            idempotency_key,
            person: vec![
                field("first_name", "Nome", "text", true, false),
                field("last_name", "Cognome", "text", true, false),
                field(
                    "birth_year",
                    "Anno di nascita (es. 1942)",
                    "text",
                    true,
                    true,
                ),
                field("phone", "Telefono", "tel", true, false),
                field("email", "Email (facoltativa)", "email", false, false),
            ],
            municipality: None,
            city_area: choices("city_area", "Zona della città", pairs(&opts.city_areas)),
            call_time: choices(
                "call_time",
                "Quando è meglio telefonare",
                CALL_TIMES.to_vec(),
            ),
            need_area: choices("need_area", "Area del bisogno", pairs(&opts.need_areas)),
            urgency: choices("urgency", "Urgenza", form::urgencies()),
            description: Field {
                max: form::MAX_DESCRIPTION,
                ..field(
                    "description",
                    "Descrizione della situazione",
                    "text",
                    true,
                    false,
                )
            },
            services_error: err("services"),
            services,
            consents: vec![
                check(
                    "privacy_notice",
                    "Ho consegnato alla persona l'informativa sulla privacy",
                ),
                check(
                    "consent",
                    "La persona acconsente a condividere questi dati con il Comune",
                ),
            ],
        }
    }
}

impl<'a> ReferralForm<'a> {
    /// Adds the "Comune di residenza" choice when the operator's desk
    /// serves more than one municipality.
    pub fn with_municipalities(
        mut self,
        list: &'a [crate::config::Municipality],
        input: &'a Input,
        errors: &'a Errors,
    ) -> Self {
        if list.len() > 1 {
            let chosen = input.get("municipality");
            self.municipality = Some(Choices {
                name: "municipality",
                label: "Comune di residenza",
                error: errors.get("municipality").map(String::as_str),
                options: list
                    .iter()
                    .map(|m| (m.slug.as_str(), m.name.as_str(), m.slug == chosen))
                    .collect(),
            });
        }
        self
    }
}

/// The guide's services by category, each checked when `checked(slug)`.
pub fn service_groups<'a>(
    opts: &'a Options,
    checked: impl Fn(&str) -> bool,
) -> Vec<ServiceGroup<'a>> {
    let mut categories: Vec<&str> = opts.services.iter().map(|s| s.category.as_str()).collect();
    categories.sort_unstable();
    categories.dedup();
    categories
        .into_iter()
        .map(|cat| ServiceGroup {
            title: category_title(cat),
            items: opts
                .services
                .iter()
                .enumerate()
                .filter(|(_, s)| s.category == cat)
                .map(|(i, s)| (i, s.slug.as_str(), s.title.as_str(), checked(&s.slug)))
                .collect(),
        })
        .collect()
}

/// "salute-benessere-assistenza" -> "Salute benessere assistenza".
fn category_title(slug: &str) -> String {
    if slug.is_empty() {
        return "Altri servizi".into();
    }
    let words = slug.replace('-', " ");
    let mut chars = words.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[derive(Template)]
#[template(path = "confirmation.html")]
pub struct Confirmation<'a> {
    pub operator: Option<&'a Operator>,
    pub referral: &'a ReferralSummary,
}

/// A time as the pages show it: "2026-12-02 06:13:00", UTC.
pub fn when(t: &OffsetDateTime) -> String {
    crate::store::rfc3339(*t).replace('T', " ").replace('Z', "")
}

/// One row of "Le mie segnalazioni", ready to show.
pub struct Row<'a> {
    pub reference: &'a str,
    pub created_at: String,
    pub operator_name: &'a str,
    pub status: &'static str,
    pub care: String,
}

#[derive(Template)]
#[template(path = "my_referrals.html")]
pub struct MyReferrals<'a> {
    pub operator: Option<&'a Operator>,
    pub referent: bool,
    pub desk: &'a str,
    pub rows: Vec<Row<'a>>,
}

/// The staff's side of a referral in the desk's list: the state and who
/// took it, or how many working days it has been waiting since delivery.
pub fn care_cell(r: &ReferralSummary, now: OffsetDateTime) -> String {
    match r.care.state {
        Some(state) => {
            let mut s = state.label().to_string();
            if let Some(since) = &r.care.since {
                s.push_str(&format!(" dal {}", when(since)));
            }
            if let Some(by) = &r.care.taken_by {
                s.push_str(&format!(" · presa in carico da {by}"));
            }
            s
        }
        None => match r.delivered_at {
            Some(at) => {
                let n = crate::workdays::working_days(at, now);
                format!(
                    "In attesa da {n} {}",
                    if n == 1 {
                        "giorno lavorativo"
                    } else {
                        "giorni lavorativi"
                    }
                )
            }
            None => "—".into(),
        },
    }
}

impl<'a> MyReferrals<'a> {
    pub fn new(list: &'a [ReferralSummary], operator: &'a Operator, now: OffsetDateTime) -> Self {
        MyReferrals {
            operator: Some(operator),
            referent: operator.role == Role::Referent,
            desk: &operator.desk,
            rows: list
                .iter()
                .map(|r| Row {
                    reference: &r.reference,
                    created_at: when(&r.created_at),
                    operator_name: &r.operator_name,
                    status: r.status.label(),
                    care: care_cell(r, now),
                })
                .collect(),
        }
    }
}
