//! The staff's pages (Italian, askama templates): one referral's metadata,
//! its history of states and the forms for the next state. Never content:
//! the server has none.

use askama::Template;

use super::pages::when;
use crate::care::{Outcome, State, MAX_NAME};
use crate::config::Choice;
use crate::store::care::{Event, Referral};

#[derive(Template)]
#[template(path = "staff_problem.html")]
pub struct Problem<'a> {
    pub title: &'a str,
    pub message: &'a str,
}

/// What the page needs besides the referral.
pub struct View<'a> {
    pub referral: &'a Referral,
    pub events: &'a [Event],
    pub need_label: &'a str,
    /// The name of the municipality it was sent to.
    pub municipality: &'a str,
    /// Offices and services a referral "non di competenza" may go to.
    pub targets: &'a [Choice],
    /// Services of the guide, for "chiusa: servizio attivato".
    pub services: &'a [Choice],
    pub csrf: &'a str,
    /// A message above the forms (a refused change).
    pub error: Option<&'a str>,
}

fn label<'a>(list: &'a [Choice], slug: &'a str) -> &'a str {
    list.iter()
        .find(|c| c.slug == slug)
        .map_or(slug, |c| c.label.as_str())
}

/// One line of the history.
pub fn describe(e: &Event, targets: &[Choice], services: &[Choice]) -> String {
    let mut s = String::from(e.state.label());
    match e.state {
        State::PresaInCarico => {
            if let Some(n) = &e.staff_name {
                s.push_str(&format!(" da {n}"));
            }
            if let Some(d) = &e.planned_contact {
                s.push_str(&format!(" (primo contatto previsto il {d})"));
            }
        }
        State::NonDiCompetenza => {
            if let Some(t) = &e.target {
                s.push_str(&format!(": inviata a {}", label(targets, t)));
            }
        }
        State::Chiusa => {
            if let Some(o) = e.outcome {
                s.push_str(&format!(": {}", o.label()));
            }
            if let Some(t) = &e.target {
                s.push_str(&format!(" ({})", label(services, t)));
            }
        }
        State::NonRintracciabile => {}
    }
    s
}

/// The referral's page: metadata, history, the forms for what may follow.
#[derive(Template)]
#[template(path = "staff_referral.html")]
pub struct ReferralPage<'a> {
    pub reference: &'a str,
    pub created_at: String,
    pub delivered_at: Option<String>,
    pub desk: &'a str,
    pub municipality: &'a str,
    pub urgency: &'static str,
    pub need_label: &'a str,
    pub state: &'static str,
    /// (when, what)
    pub history: Vec<(String, String)>,
    pub allowed: &'static [State],
    pub csrf: &'a str,
    pub error: Option<&'a str>,
    pub targets: &'a [Choice],
    pub services: &'a [Choice],
    pub outcomes: &'static [Outcome],
    pub max_name: usize,
}

impl<'a> ReferralPage<'a> {
    pub fn new(v: &View<'a>) -> Self {
        let r = v.referral;
        let current = v.events.last().map(|e| e.state);
        ReferralPage {
            reference: &r.reference,
            created_at: when(&r.created_at),
            delivered_at: r.delivered_at.as_ref().map(when),
            desk: &r.desk,
            municipality: v.municipality,
            urgency: r.urgency.label(),
            need_label: v.need_label,
            state: current.map_or("In attesa di presa in carico", State::label),
            history: v
                .events
                .iter()
                .map(|e| (when(&e.at), describe(e, v.targets, v.services)))
                .collect(),
            allowed: State::allowed_after(current),
            csrf: v.csrf,
            error: v.error,
            targets: v.targets,
            services: v.services,
            outcomes: Outcome::ALL,
            max_name: MAX_NAME,
        }
    }
}
