//! Writing the export through a [`Sink`] a few services at a time: a large
//! guide's list is tens of megabytes of JSON and CSV, which a build never
//! holds whole in memory.
//!
//! `services.json` and `service_at_locations.json` are written as their
//! services are made; the CSV tables of the services grow meanwhile and go
//! into the zip once complete (stored members need their size and CRC
//! before their bytes).

use std::io::{self, Write};

use anyhow::Result;
use rayon::prelude::*;
use serde_json::Value;

use super::csv::line;
use super::hsds::{Hsds, TermIds, DIR, JSON_FILES, ZIP};
use super::service::{Rows, ServiceRecord};
use super::{dcat, zip};
use crate::model::{Service, Site};
use crate::write::Sink;

/// Services made at once, over all cores, before they are written.
const BATCH: usize = 512;
/// Services one task makes.
const CHUNK: usize = 32;

pub(super) const SERVICE: &[&str] = &[
    "id",
    "organization_id",
    "name",
    "description",
    "url",
    "status",
    "application_process",
    "fees_description",
    "eligibility_description",
    "minimum_age",
    "maximum_age",
    "alert",
];
const ORGANIZATION: &[&str] = &[
    "id",
    "name",
    "alternate_name",
    "description",
    "email",
    "website",
    "uri",
];
const LOCATION: &[&str] = &[
    "id",
    "location_type",
    "url",
    "organization_id",
    "name",
    "description",
];
const ADDRESS: &[&str] = &[
    "id",
    "location_id",
    "address_1",
    "city",
    "state_province",
    "postal_code",
    "country",
    "address_type",
];
const PHONE: &[&str] = &["id", "location_id", "number", "type"];
const SCHEDULE: &[&str] = &[
    "id",
    "location_id",
    "freq",
    "wkst",
    "byday",
    "opens_at",
    "closes_at",
    "description",
    "notes",
];
const ACCESSIBILITY: &[&str] = &["id", "location_id", "description", "details"];
pub(super) const REQUIRED_DOCUMENT: &[&str] = &["id", "service_id", "document"];
pub(super) const SERVICE_AT_LOCATION: &[&str] = &["id", "service_id", "location_id"];
pub(super) const ATTRIBUTE: &[&str] = &[
    "id",
    "link_id",
    "taxonomy_term_id",
    "link_type",
    "link_entity",
];
const TAXONOMY: &[&str] = &["id", "name", "description", "uri"];
const TAXONOMY_TERM: &[&str] = &[
    "id",
    "code",
    "name",
    "description",
    "taxonomy_id",
    "language",
    "term_uri",
];
pub(super) const LANGUAGE: &[&str] = &[
    "id",
    "service_id",
    "location_id",
    "phone_id",
    "name",
    "code",
];

/// One CSV line of `v`'s fields `cols`.
pub(super) fn row(out: &mut String, v: &Value, cols: &[&str]) {
    let fields: Vec<std::borrow::Cow<'_, str>> = cols
        .iter()
        .map(|c| match &v[*c] {
            Value::Null => "".into(),
            Value::String(s) => s.as_str().into(),
            other => other.to_string().into(),
        })
        .collect();
    line(out, fields.iter().map(|f| f.as_ref()));
}

fn header(cols: &[&str]) -> String {
    let mut out = String::new();
    line(&mut out, cols.iter().copied());
    out
}

fn table<'a>(cols: &[&str], items: impl IntoIterator<Item = &'a Value>) -> String {
    let mut out = header(cols);
    for v in items {
        row(&mut out, v, cols);
    }
    out
}

fn nested<'a>(items: &'a [Value], key: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    items
        .iter()
        .flat_map(move |v| v[key].as_array().into_iter().flatten())
}

/// The CSV tables the services fill: rows of a few services each (kept
/// as parts, never copied into one growing buffer).
#[derive(Default)]
struct ServiceTables {
    service: Vec<String>,
    required_document: Vec<String>,
    service_at_location: Vec<String>,
    attribute: Vec<String>,
    language: Vec<String>,
}

impl ServiceTables {
    fn append(&mut self, rows: Rows) {
        // Kept until the zip is written: copied without the room a grown
        // string has (up to half of it; shrinking in place gives none back).
        let kept = |s: String| s.as_str().to_owned();
        self.service.push(kept(rows.service));
        self.required_document.push(kept(rows.required_document));
        self.service_at_location
            .push(kept(rows.service_at_location));
        self.attribute.push(kept(rows.attribute));
        self.language.push(kept(rows.language));
    }
}

/// What a few services add to each file.
struct Part {
    /// Their objects of `services.json`, comma-separated.
    services: Vec<u8>,
    /// Their objects of `service_at_locations.json`, comma-separated.
    at_locations: Vec<u8>,
    tables: Rows,
}

fn part(site: &Site, services: &[Service], term_ids: &TermIds) -> Part {
    let mut p = Part {
        services: Vec::new(),
        at_locations: Vec::new(),
        tables: Rows::default(),
    };
    for s in services {
        let v = ServiceRecord::of(site, s, term_ids);
        if !p.services.is_empty() {
            p.services.push(b',');
        }
        // Writing to a Vec cannot fail.
        let _ = serde_json::to_writer(&mut p.services, &v);
        for sal in &v.service_at_locations {
            if !p.at_locations.is_empty() {
                p.at_locations.push(b',');
            }
            let _ = serde_json::to_writer(&mut p.at_locations, sal);
        }
        v.rows(&mut p.tables);
    }
    p
}

/// Appends comma-separated items to a JSON array being written.
fn items(w: &mut dyn Write, first: &mut bool, bytes: &[u8]) -> io::Result<()> {
    if bytes.is_empty() {
        return Ok(());
    }
    if !*first {
        w.write_all(b",")?;
    }
    *first = false;
    w.write_all(bytes)
}

fn json_list(items: &[Value]) -> Vec<u8> {
    // Compact: the list of a large guide is tens of megabytes.
    let mut bytes = serde_json::to_vec(items).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

/// Writes every file of the open data into `sink`.
pub fn write(site: &Site, sink: &dyn Sink) -> Result<()> {
    let data = Hsds::of(site);
    let term_ids = TermIds::of(site);
    let mut sizes: Vec<(String, usize)> = Vec::new();

    // services.json as the services are made; their tables meanwhile.
    let mut tables = ServiceTables::default();
    tables.append(Rows {
        service: header(SERVICE),
        required_document: header(REQUIRED_DOCUMENT),
        service_at_location: header(SERVICE_AT_LOCATION),
        attribute: header(ATTRIBUTE),
        language: header(LANGUAGE),
    });
    // services.json and service_at_locations.json as the services are
    // made, both at once (a JSON array needs nothing ahead of its items).
    let path = format!("{DIR}/services.json");
    let at_path = format!("{DIR}/service_at_locations.json");
    let mut size = 0;
    let at_size = sink.stream(&at_path, &mut |at| {
        at.write_all(b"[")?;
        let mut first_at = true;
        size = sink
            .stream(&path, &mut |w| {
                w.write_all(b"[")?;
                let mut first = true;
                for batch in site.services.chunks(BATCH) {
                    let parts: Vec<Part> = batch
                        .par_chunks(CHUNK)
                        .map(|c| part(site, c, &term_ids))
                        .collect();
                    for p in parts {
                        items(w, &mut first, &p.services)?;
                        items(at, &mut first_at, &p.at_locations)?;
                        tables.append(p.tables);
                    }
                }
                w.write_all(b"]\n")
            })
            .map_err(|e| io::Error::other(format!("{e:#}")))?;
        at.write_all(b"]\n")
    })?;

    for (file, _) in JSON_FILES {
        let path = format!("{DIR}/{file}");
        let bytes = match file {
            "services.json" => {
                sizes.push((path, size));
                continue;
            }
            "service_at_locations.json" => {
                sizes.push((path, at_size));
                continue;
            }
            "organizations.json" => json_list(&data.organizations),
            "locations.json" => json_list(&data.locations),
            "taxonomies.json" => json_list(&data.taxonomies),
            _ => json_list(&data.taxonomy_terms),
        };
        sink.put(&path, &bytes)?;
        sizes.push((path, bytes.len()));
    }

    // The HSDS tabular format: one CSV per table, nested lists flattened
    // into their own tables with the parent's id.
    let locations = &data.locations;
    let mut language = String::new();
    for v in nested(locations, "languages") {
        row(&mut language, v, LANGUAGE);
    }
    for p in nested(locations, "phones") {
        for v in nested(std::slice::from_ref(p), "languages") {
            row(&mut language, v, LANGUAGE);
        }
    }
    tables.language.push(language);
    let members: Vec<(&str, Vec<String>)> = vec![
        ("service.csv", std::mem::take(&mut tables.service)),
        (
            "organization.csv",
            vec![table(ORGANIZATION, &data.organizations)],
        ),
        ("location.csv", vec![table(LOCATION, locations)]),
        (
            "address.csv",
            vec![table(ADDRESS, nested(locations, "addresses"))],
        ),
        ("phone.csv", vec![table(PHONE, nested(locations, "phones"))]),
        (
            "schedule.csv",
            vec![table(SCHEDULE, nested(locations, "schedules"))],
        ),
        (
            "accessibility.csv",
            vec![table(ACCESSIBILITY, nested(locations, "accessibility"))],
        ),
        (
            "required_document.csv",
            std::mem::take(&mut tables.required_document),
        ),
        (
            "service_at_location.csv",
            std::mem::take(&mut tables.service_at_location),
        ),
        ("attribute.csv", std::mem::take(&mut tables.attribute)),
        ("taxonomy.csv", vec![table(TAXONOMY, &data.taxonomies)]),
        (
            "taxonomy_term.csv",
            vec![table(TAXONOMY_TERM, &data.taxonomy_terms)],
        ),
        ("language.csv", std::mem::take(&mut tables.language)),
    ];
    let size = sink.stream(ZIP, &mut |w| {
        zip::write_stored(
            w,
            members
                .iter()
                .map(|(n, parts)| (*n, parts.iter().map(|p| p.as_bytes()).collect())),
        )
    })?;
    drop(members);
    sizes.push((ZIP.to_string(), size));
    sink.put(dcat::FILE, &dcat::catalog(site, &sizes))?;
    Ok(())
}
