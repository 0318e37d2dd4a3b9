//! Open Referral HSDS 3.0: services, organizations (offices and the third
//! parties that run services for the Comune), locations (offices and desks),
//! service_at_location, schedules, phones, accessibility, languages and the
//! taxonomy, as JSON arrays and as the tabular CSV.
//!
//! HSDS `schedule.timezone` is a number (a UTC offset), which cannot say
//! "Europe/Rome" with its summer time: opening hours are local times, and
//! each schedule says so in `notes` and in the extra property `timezone_name`
//! (HSDS allows extra properties).

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use super::uuid5;
use crate::model::{Day, Status};
use crate::model::{Place, Site, SiteInfo};

pub const DIR: &str = "opendata/hsds";
pub const ZIP: &str = "opendata/hsds/hsds-csv.zip";
pub const TIMEZONE: &str = "Europe/Rome";

/// The JSON files and the schema each item of them follows.
pub const JSON_FILES: [(&str, &str); 6] = [
    ("services.json", "service.json"),
    ("organizations.json", "organization.json"),
    ("locations.json", "location.json"),
    ("service_at_locations.json", "service_at_location.json"),
    ("taxonomies.json", "taxonomy.json"),
    ("taxonomy_terms.json", "taxonomy_term.json"),
];

/// The export but the services, as JSON objects: the services (thousands,
/// with their text) are made a few at a time while they are written, see
/// [`super::stream`].
pub struct Hsds {
    pub organizations: Vec<Value>,
    pub locations: Vec<Value>,
    pub taxonomies: Vec<Value>,
    pub taxonomy_terms: Vec<Value>,
}

pub(super) fn office_org_id(p: &Place) -> String {
    uuid5(&format!("organization:office:{}", p.slug))
}

pub(super) fn provider_org_id(name: &str) -> String {
    uuid5(&format!("organization:provider:{}", name.trim()))
}

pub(super) fn location_id(kind: &str, slug: &str) -> String {
    uuid5(&format!("location:{kind}:{slug}"))
}

/// An address as HSDS wants it, split from "Via Mantova 25, 26100 Cremona";
/// what the entry does not say comes from site.toml.
pub(super) fn address(info: &SiteInfo, location: &str, text: &str) -> Option<Value> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let mut parts = text.split(',').map(str::trim);
    let address_1 = parts.next().unwrap_or_default().to_string();
    let (mut postal_code, mut city) = (info.postal_code.clone(), info.city.clone());
    for p in parts {
        let (code, rest) = p.split_at(p.find(' ').unwrap_or(p.len()));
        if code.len() == 5 && code.bytes().all(|b| b.is_ascii_digit()) {
            postal_code = code.to_string();
            if !rest.trim().is_empty() {
                city = rest.trim().to_string();
            }
        } else if !p.is_empty() {
            city = p.to_string();
        }
    }
    Some(json!({
        "id": uuid5(&format!("address:{location}")),
        "location_id": location,
        "address_1": address_1,
        "city": city,
        "state_province": info.province,
        "postal_code": postal_code,
        "country": info.country,
        "address_type": "physical",
    }))
}

fn byday(d: Day) -> &'static str {
    match d {
        Day::Mon => "MO",
        Day::Tue => "TU",
        Day::Wed => "WE",
        Day::Thu => "TH",
        Day::Fri => "FR",
        Day::Sat => "SA",
        Day::Sun => "SU",
    }
}

/// The language of a service, location or phone (`kind`), with its own id.
fn italian(kind: &str, parent: &str) -> Value {
    json!({
        "id": uuid5(&format!("language:{kind}:{parent}")),
        format!("{kind}_id"): parent,
        "name": "Italiano",
        "code": "it",
    })
}

fn location(site: &Site, kind: &str, p: &Place) -> Value {
    let id = location_id(kind, &p.slug);
    let mut loc = Map::new();
    loc.insert("id".into(), json!(id));
    loc.insert("location_type".into(), json!("physical"));
    loc.insert("name".into(), json!(p.name));
    loc.insert("url".into(), json!(p.permalink));
    if kind == "office" {
        loc.insert("organization_id".into(), json!(office_org_id(p)));
    }
    if !p.html.trim().is_empty() {
        loc.insert("description".into(), json!(p.html.trim()));
    }
    loc.insert(
        "addresses".into(),
        Value::Array(address(&site.info, &id, &p.address).into_iter().collect()),
    );
    // Only the numbers the content has: none is ever made up.
    let phones: Vec<Value> = [&p.phone]
        .into_iter()
        .filter(|n| !n.trim().is_empty())
        .map(|n| {
            let phone = uuid5(&format!("phone:{id}"));
            json!({
                "id": phone,
                "location_id": id,
                "number": n.trim(),
                "type": "voice",
                "languages": [italian("phone", &phone)],
            })
        })
        .collect();
    loc.insert("phones".into(), Value::Array(phones));
    let accessibility: Vec<Value> = p
        .step_free
        .map(|free| {
            json!({
                "id": uuid5(&format!("accessibility:{id}")),
                "location_id": id,
                "description": if free { "Accesso senza gradini" } else { "L'accesso ha gradini" },
                "details": if free { "step_free" } else { "not_step_free" },
            })
        })
        .into_iter()
        .collect();
    loc.insert("accessibility".into(), Value::Array(accessibility));
    let schedules: Vec<Value> = p
        .hours
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let days: Vec<&str> = h.days.iter().map(|&d| byday(d)).collect();
            json!({
                "id": uuid5(&format!("schedule:{id}:{i}")),
                "location_id": id,
                "freq": "WEEKLY",
                "wkst": "MO",
                "byday": days.join(","),
                "opens_at": h.opens,
                "closes_at": h.closes,
                "description": format!("{}: {}-{}", h.days_label, h.opens, h.closes),
                "notes": format!("Orari in ora locale ({TIMEZONE})"),
                "timezone_name": TIMEZONE,
            })
        })
        .collect();
    loc.insert("schedules".into(), Value::Array(schedules));
    loc.insert("languages".into(), json!([italian("location", &id)]));
    Value::Object(loc)
}

/// The text of each `<li>` of rendered Markdown, tags removed: the items
/// of a section's lists (nested items are their own items).
pub(super) fn list_items(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in html.split("<li>").skip(1) {
        let item = part.split(['\n']).next().unwrap_or_default();
        let item = item.split("</li>").next().unwrap_or_default();
        let text = sportello_search::html::text(item);
        let text = text.trim();
        if !text.is_empty() {
            out.push(text.to_string());
        }
    }
    out
}

/// The ids of the taxonomy terms, computed once for every service's links.
pub(super) struct TermIds(Vec<(&'static str, HashMap<String, String>)>);

impl TermIds {
    pub(super) fn of(site: &Site) -> TermIds {
        let vocabularies = [
            ("categories", &site.categories),
            ("topics", &site.topics),
            ("audiences", &site.audiences),
            ("life_events", &site.life_events),
        ];
        TermIds(
            vocabularies
                .into_iter()
                .map(|(voc, terms)| {
                    let ids = terms
                        .iter()
                        .map(|t| (t.slug.clone(), term_id(voc, &t.slug)))
                        .collect();
                    (voc, ids)
                })
                .collect(),
        )
    }

    pub(super) fn get(&self, voc: &str, slug: &str) -> String {
        self.0
            .iter()
            .find(|(v, _)| *v == voc)
            .and_then(|(_, ids)| ids.get(slug).cloned())
            .unwrap_or_else(|| term_id(voc, slug))
    }
}

fn term_id(voc: &str, slug: &str) -> String {
    uuid5(&format!("term:{voc}:{slug}"))
}

pub(super) fn status(s: Status) -> &'static str {
    match s {
        Status::Active => "active",
        Status::Suspended => "temporarily closed",
        Status::Closed => "defunct",
    }
}

impl Hsds {
    pub fn of(site: &Site) -> Hsds {
        // Taxonomies: one per vocabulary, their terms with the same ids everywhere.
        let vocabularies = [
            ("categories", "Categorie", &site.categories),
            ("topics", "Argomenti", &site.topics),
            ("audiences", "Destinatari", &site.audiences),
            ("life_events", "Eventi della vita", &site.life_events),
        ];
        let mut taxonomies = Vec::new();
        let mut taxonomy_terms = Vec::new();
        for (voc, name, terms) in vocabularies {
            let tid = uuid5(&format!("taxonomy:{voc}"));
            taxonomies.push(json!({
                "id": tid,
                "name": name,
                "description": format!("{name} della {}", site.info.title),
                "uri": site.urls.permalink(&site.urls.topics_index()),
            }));
            for t in terms.iter() {
                let mut term = json!({
                    "id": term_id(voc, &t.slug),
                    "code": t.slug,
                    "name": t.name,
                    "description": if t.description.is_empty() { &t.name } else { &t.description },
                    "taxonomy_id": tid,
                    "language": "it",
                });
                if !t.url.is_empty() {
                    term["term_uri"] = json!(site.urls.permalink(&t.url));
                }
                taxonomy_terms.push(term);
            }
        }

        let mut organizations: Vec<Value> = site
            .offices
            .iter()
            .map(|o| {
                let mut org = json!({
                    "id": office_org_id(o),
                    "name": o.name,
                    "description": if o.html.trim().is_empty() { o.name.as_str() } else { o.html.trim() },
                    "uri": o.permalink,
                });
                if !o.email.is_empty() {
                    org["email"] = json!(o.email);
                }
                if !o.website.is_empty() {
                    org["website"] = json!(o.website);
                }
                if !o.organization.is_empty() {
                    org["alternate_name"] = json!(o.organization);
                }
                org
            })
            .collect();
        // Third parties that run services for the Comune ("in affidamento").
        let mut providers: Vec<&str> = site
            .services
            .iter()
            .map(|s| s.provider.trim())
            .filter(|p| !p.is_empty())
            .collect();
        providers.sort_unstable();
        providers.dedup();
        for p in &providers {
            organizations.push(json!({
                "id": provider_org_id(p),
                "name": p,
                "description": format!("Gestisce servizi per conto di {}", site.info.owner),
            }));
        }

        let mut locations: Vec<Value> = Vec::new();
        locations.extend(site.offices.iter().map(|o| location(site, "office", o)));
        locations.extend(site.desks.iter().map(|d| location(site, "desk", d)));

        Hsds {
            organizations,
            locations,
            taxonomies,
            taxonomy_terms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(city: &str, province: &str, postal_code: &str) -> SiteInfo {
        SiteInfo {
            city: city.into(),
            province: province.into(),
            postal_code: postal_code.into(),
            country: "IT".into(),
            ..SiteInfo::default()
        }
    }

    #[test]
    fn an_address_is_split_and_completed_from_site_toml() {
        let site = info("Cremona", "CR", "26100");
        let a = address(&site, "loc", "Via Mantova 25, 26041 Casalmaggiore").unwrap();
        assert_eq!(a["address_1"], "Via Mantova 25");
        assert_eq!(a["postal_code"], "26041");
        assert_eq!(a["city"], "Casalmaggiore");
        assert_eq!(a["state_province"], "CR");
        assert_eq!(a["country"], "IT");
        let a = address(&site, "loc", "Piazza del Comune 8").unwrap();
        assert_eq!(a["address_1"], "Piazza del Comune 8");
        assert_eq!(a["postal_code"], "26100");
        assert_eq!(a["city"], "Cremona");
        assert!(address(&site, "loc", "  ").is_none());
    }

    #[test]
    fn list_items_are_plain_text() {
        let html = "<ul>\n<li>documento d&#39;identità</li>\n<li><strong>ISEE</strong> in corso\n<ul>\n<li>o la DSU</li>\n</ul>\n</li>\n</ul>\n<p>Altro</p>";
        assert_eq!(
            list_items(html),
            ["documento d'identità", "ISEE in corso", "o la DSU"]
        );
    }
}
