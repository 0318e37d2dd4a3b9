//! One HSDS service with its nested lists, as typed records: a large guide
//! has thousands, and making each a `serde_json::Value` map, then reading
//! its CSV rows back out of the map key by key, was most of the open
//! data's time.
//!
//! Fields are declared in alphabetical order, the order in which
//! `serde_json` writes a map's keys: the JSON is the same as a map's.

use serde::Serialize;

use super::csv::line;
use super::hsds::{location_id, office_org_id, provider_org_id, status, TermIds};
use super::uuid5;
use crate::language::SectionKey;
use crate::model::{Service, Site};

#[derive(Serialize)]
pub(super) struct ServiceRecord<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    alert: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    application_process: Option<String>,
    attributes: Vec<Attribute>,
    description: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    eligibility_description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fees_description: Option<String>,
    id: String,
    languages: [Language; 1],
    last_modified: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    maximum_age: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    minimum_age: Option<u32>,
    name: &'a str,
    organization_id: String,
    required_documents: Vec<RequiredDocument>,
    pub(super) service_at_locations: Vec<ServiceAtLocation>,
    status: &'static str,
    url: &'a str,
}

#[derive(Serialize)]
struct Attribute {
    id: String,
    link_entity: &'static str,
    link_id: String,
    link_type: &'static str,
    taxonomy_term_id: String,
}

#[derive(Serialize)]
struct Language {
    code: &'static str,
    id: String,
    name: &'static str,
    service_id: String,
}

#[derive(Serialize)]
struct RequiredDocument {
    document: String,
    id: String,
    service_id: String,
}

#[derive(Serialize)]
pub(super) struct ServiceAtLocation {
    id: String,
    location_id: String,
    service_id: String,
}

impl<'a> ServiceRecord<'a> {
    pub(super) fn of(site: &Site, s: &'a Service, term_ids: &TermIds) -> ServiceRecord<'a> {
        let id = uuid5(&format!("service:{}", s.slug));
        let office = &site.offices[s.office];
        let text = |k: SectionKey| {
            s.sections
                .iter()
                .find(|x| x.key == k)
                .map(|x| x.text().trim().to_string())
        };
        // "Cosa serve": each item of its list is a required document.
        let required_documents = s
            .sections
            .iter()
            .filter(|x| x.key == SectionKey::Needed)
            .flat_map(|x| super::hsds::list_items(&x.html))
            .enumerate()
            .map(|(i, document)| RequiredDocument {
                id: uuid5(&format!("required_document:{id}:{i}")),
                service_id: id.clone(),
                document,
            })
            .collect();
        let mut attributes = Vec::new();
        let mut link = |voc: &'static str, slug: &str| {
            attributes.push(Attribute {
                id: uuid5(&format!("attribute:{id}:{voc}:{slug}")),
                link_id: id.clone(),
                link_type: voc,
                link_entity: "service",
                taxonomy_term_id: term_ids.get(voc, slug),
            });
        };
        link("categories", &site.categories[s.category].slug);
        for &t in &s.topics {
            link("topics", &site.topics[t].slug);
        }
        for &t in &s.audiences {
            link("audiences", &site.audiences[t].slug);
        }
        for &t in &s.life_events {
            link("life_events", &site.life_events[t].slug);
        }
        let places = std::iter::once(("office", office))
            .chain(s.desks.iter().map(|&d| ("desk", &site.desks[d])));
        let service_at_locations = places
            .map(|(kind, p)| {
                let loc = location_id(kind, &p.slug);
                ServiceAtLocation {
                    id: uuid5(&format!("service_at_location:{id}:{loc}")),
                    service_id: id.clone(),
                    location_id: loc,
                }
            })
            .collect();
        ServiceRecord {
            alert: (!s.status_reason.is_empty()).then_some(s.status_reason.as_str()),
            application_process: text(SectionKey::HowTo),
            attributes,
            description: &s.summary,
            eligibility_description: text(SectionKey::Addressed),
            fees_description: text(SectionKey::Cost),
            languages: [Language {
                code: "it",
                id: uuid5(&format!("language:service:{id}")),
                name: "Italiano",
                service_id: id.clone(),
            }],
            last_modified: format!("{}T00:00:00Z", s.updated_iso),
            maximum_age: s.age_max,
            minimum_age: s.age_min,
            name: &s.title,
            organization_id: if s.provider.trim().is_empty() {
                office_org_id(office)
            } else {
                provider_org_id(&s.provider)
            },
            required_documents,
            service_at_locations,
            status: status(s.status),
            url: &s.permalink,
            id,
        }
    }

    /// Its rows of the CSV tables, in the columns of [`super::stream`]'s
    /// headers (`SERVICE`, `REQUIRED_DOCUMENT`, ...).
    pub(super) fn rows(&self, out: &mut Rows) {
        let age = |a: Option<u32>| a.map(|a| a.to_string()).unwrap_or_default();
        let (min, max) = (age(self.minimum_age), age(self.maximum_age));
        fn opt(t: &Option<String>) -> &str {
            t.as_deref().unwrap_or_default()
        }
        line(
            &mut out.service,
            [
                self.id.as_str(),
                &self.organization_id,
                self.name,
                self.description,
                self.url,
                self.status,
                opt(&self.application_process),
                opt(&self.fees_description),
                opt(&self.eligibility_description),
                &min,
                &max,
                self.alert.unwrap_or_default(),
            ]
            .into_iter(),
        );
        for d in &self.required_documents {
            line(
                &mut out.required_document,
                [d.id.as_str(), &d.service_id, &d.document].into_iter(),
            );
        }
        for sal in &self.service_at_locations {
            line(
                &mut out.service_at_location,
                [sal.id.as_str(), &sal.service_id, &sal.location_id].into_iter(),
            );
        }
        for a in &self.attributes {
            line(
                &mut out.attribute,
                [
                    a.id.as_str(),
                    &a.link_id,
                    &a.taxonomy_term_id,
                    a.link_type,
                    a.link_entity,
                ]
                .into_iter(),
            );
        }
        for l in &self.languages {
            line(
                &mut out.language,
                [l.id.as_str(), &l.service_id, "", "", l.name, l.code].into_iter(),
            );
        }
    }
}

/// The rows a few services add to each table.
#[derive(Default)]
pub(super) struct Rows {
    pub(super) service: String,
    pub(super) required_document: String,
    pub(super) service_at_location: String,
    pub(super) attribute: String,
    pub(super) language: String,
}

#[cfg(test)]
mod tests {
    use super::super::hsds::TermIds;
    use super::super::stream::{
        row, ATTRIBUTE, LANGUAGE, REQUIRED_DOCUMENT, SERVICE, SERVICE_AT_LOCATION,
    };
    use super::*;

    /// The fields are in a map's order, and every CSV row holds the JSON's
    /// values in its header's columns: read by name from the JSON, the
    /// rows are the same.
    #[test]
    fn json_in_key_order_and_rows_by_column_name() {
        let site = crate::example_guide().1;
        let term_ids = TermIds::of(&site);
        for s in &site.services {
            let record = ServiceRecord::of(&site, s, &term_ids);
            let json = serde_json::to_string(&record).unwrap();
            let map = serde_json::to_value(&record).unwrap();
            assert_eq!(json, map.to_string(), "{}", s.slug);

            let mut rows = Rows::default();
            record.rows(&mut rows);
            let by_name = |cols: &[&str], key: Option<&str>| {
                let mut out = String::new();
                match key {
                    None => row(&mut out, &map, cols),
                    Some(k) => {
                        for v in map[k].as_array().unwrap() {
                            row(&mut out, v, cols);
                        }
                    }
                }
                out
            };
            assert_eq!(rows.service, by_name(SERVICE, None));
            let nested = [
                (
                    &rows.required_document,
                    REQUIRED_DOCUMENT,
                    "required_documents",
                ),
                (
                    &rows.service_at_location,
                    SERVICE_AT_LOCATION,
                    "service_at_locations",
                ),
                (&rows.attribute, ATTRIBUTE, "attributes"),
                (&rows.language, LANGUAGE, "languages"),
            ];
            for (made, cols, key) in nested {
                assert_eq!(*made, by_name(cols, Some(key)), "{} {key}", s.slug);
            }
        }
        assert!(site.services.iter().any(|s| s.age_min.is_some()));
        assert!(site.services.iter().any(|s| !s.status_reason.is_empty()));
    }
}
