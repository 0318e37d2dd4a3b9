//! The open data: the HSDS 3.0 export of the example guide and of the
//! fixture validates against the vendored Open Referral schema (and a broken
//! object does not), its contents follow the entries, the DCAT-AP_IT
//! catalogue describes it, and `check` warns about what HSDS requires and
//! the content lacks.
//!
//! The schema validation runs `tests/opendata/validate.py` (Python
//! `jsonschema`; `./test.sh` installs Debian's python3-jsonschema).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use common::{line_of, repo_root, theme, Site};

fn build(content: &Path) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("public");
    let report =
        sportello_guide::build(&sportello_guide::Options::new(content, theme()), &out).unwrap();
    assert!(
        !report.diagnostics.has_errors(),
        "{}",
        report.diagnostics.render(false)
    );
    (tmp, out)
}

fn validate(site: &Path) -> Output {
    let script = repo_root().join("tests/opendata/validate.py");
    // Debian's python3-jsonschema (./test.sh installs it) is found even when
    // another python3 comes first on PATH.
    let python = if Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    };
    let out = Command::new(python)
        .arg(&script)
        .arg(site)
        .output()
        .expect("python3 runs tests/opendata/validate.py");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !err.contains("No module named 'jsonschema'"),
        "install python3-jsonschema (./test.sh does): {err}"
    );
    out
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn json(out: &Path, rel: &str) -> Value {
    let bytes = std::fs::read(out.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn by_name<'a>(items: &'a Value, name: &str) -> &'a Value {
    items
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == name)
        .unwrap_or_else(|| panic!("no {name:?} in {items}"))
}

/// "N objects, 0 problems" from the validator: N, with success.
fn validates(out: &Path) -> usize {
    let o = validate(out);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    let n = t
        .split(" objects, 0 problems")
        .next()
        .and_then(|s| s.rsplit(|c: char| !c.is_ascii_digit()).next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{t}"));
    n
}

#[test]
fn the_example_guide_export_validates_against_the_hsds_schema() {
    let (_tmp, out) = build(&repo_root().join("content"));
    let services = json(&out, "opendata/hsds/services.json");
    assert!(services.as_array().unwrap().len() >= 30);
    // Every service, organization, location, link and term: well over 100.
    assert!(validates(&out) > 100);
}

#[test]
fn a_new_guide_from_init_publishes_valid_open_data() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("guida");
    let o = Command::new(env!("CARGO_BIN_EXE_sportello"))
        .arg("init")
        .arg(&dir)
        .arg("--theme")
        .arg(theme())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let (_out, out) = build(&dir.join("content"));
    assert!(validates(&out) > 5);
}

#[test]
fn the_fixture_export_validates_and_follows_the_entries() {
    let site = Site::copy_of("valid");
    // A real-looking number only in this test's copy: phones are exported
    // when the entry has one, and never made up when it has none.
    site.replace(
        "desks/sportello-centro.md",
        "phone = \"\"",
        "phone = \"0000 000000\"",
    );
    let (_tmp, out) = build(&site.content());
    assert!(validates(&out) > 10);

    let services = json(&out, "opendata/hsds/services.json");
    let orgs = json(&out, "opendata/hsds/organizations.json");
    let locations = json(&out, "opendata/hsds/locations.json");
    let sal = json(&out, "opendata/hsds/service_at_locations.json");
    let terms = json(&out, "opendata/hsds/taxonomy_terms.json");

    // A service run by a third party ("in affidamento") belongs to it.
    let sad = by_name(&services, "Assistenza domiciliare (SAD)");
    let coop = by_name(&orgs, "Cooperativa Esempio");
    assert_eq!(sad["organization_id"], coop["id"]);
    assert_eq!(sad["status"], "active");
    assert_eq!(sad["minimum_age"], 65);
    assert_eq!(sad["languages"][0]["code"], "it");
    // "Cosa serve", item by item.
    let docs: Vec<&Value> = sad["required_documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| &d["document"])
        .collect();
    assert_eq!(docs, ["documento d’identità", "attestazione ISEE"]);
    // ... and is asked for at its office and its desk.
    let office = by_name(&locations, "Servizio sociale del Comune");
    let desk = by_name(&locations, "Sportello Sociale - Centro");
    let at: Vec<&Value> = sal
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["service_id"] == sad["id"])
        .map(|l| &l["location_id"])
        .collect();
    assert_eq!(at, [&office["id"], &desk["id"]]);
    assert_eq!(sad["service_at_locations"].as_array().unwrap().len(), 2);
    // The office is also an organization.
    assert_eq!(
        office["organization_id"],
        by_name(&orgs, "Servizio sociale del Comune")["id"]
    );

    // The address, split, completed from site.toml.
    let a = &desk["addresses"][0];
    assert_eq!(a["address_1"], "Piazza Esempio 1");
    assert_eq!(a["city"], "Esempio");
    assert_eq!(a["postal_code"], "00000");
    assert_eq!(a["state_province"], "ES");
    assert_eq!(a["country"], "IT");
    assert_eq!(office["addresses"], Value::Array(vec![]));
    // Phones only when real.
    assert_eq!(desk["phones"][0]["number"], "0000 000000");
    assert_eq!(office["phones"], Value::Array(vec![]));
    // Weekly opening hours, local time of Europe/Rome.
    let s = &desk["schedules"];
    assert_eq!(s[0]["freq"], "WEEKLY");
    assert_eq!(s[0]["byday"], "MO,TU,WE,TH,FR");
    assert_eq!(s[0]["opens_at"], "09:00");
    assert_eq!(s[0]["closes_at"], "12:30");
    assert_eq!(s[1]["byday"], "TU,TH");
    assert_eq!(s[1]["timezone_name"], "Europe/Rome");
    // Step-free access.
    assert_eq!(desk["accessibility"][0]["details"], "step_free");
    // The taxonomy, with the descriptions of taxonomy.toml.
    let anziani = by_name(&terms, "Anziani");
    assert_eq!(anziani["code"], "anziani");
    assert_eq!(anziani["description"], "Persone dai 65 anni in su.");
    let attrs = sad["attributes"].as_array().unwrap();
    assert!(attrs
        .iter()
        .any(|a| a["taxonomy_term_id"] == anziani["id"] && a["link_type"] == "audiences"));
}

#[test]
fn a_broken_export_fails_the_validator() {
    let (_tmp, out) = build(&common::fixture("valid"));
    let dir = out.join("opendata/hsds");
    let edit = |file: &str, f: &dyn Fn(&mut Value)| {
        let path = dir.join(file);
        let mut v: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        f(&mut v);
        std::fs::write(&path, serde_json::to_vec(&v).unwrap()).unwrap();
    };
    edit("services.json", &|v| v[0]["id"] = "not-a-uuid".into());
    edit("organizations.json", &|v| {
        v[0].as_object_mut().unwrap().remove("description");
    });
    edit("locations.json", &|v| {
        v[0]["location_type"] = "nowhere".into()
    });
    edit("taxonomy_terms.json", &|v| v[1]["id"] = v[0]["id"].clone());
    let o = validate(&out);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    for expected in [
        "services.json[0]/id: 'not-a-uuid' is not a 'uuid'",
        "organizations.json[0]/: 'description' is a required property",
        "locations.json[0]/location_type: 'nowhere' is not one of",
        "taxonomy_terms.json: ids are not unique",
        // The CSV no longer has the ids of the JSON it was made with.
        "service.csv: ids differ from services.json",
    ] {
        assert!(t.contains(expected), "no {expected:?} in:\n{t}");
    }
}

#[test]
fn a_broken_csv_table_fails_the_validator() {
    let (_tmp, out) = build(&common::fixture("valid"));
    let zip = out.join("opendata/hsds/hsds-csv.zip");
    // Rewrite the zip: service.csv without its `status` column, one more
    // member that is no HSDS table.
    let script = r#"
import csv, io, sys, zipfile
path = sys.argv[1]
with zipfile.ZipFile(path) as z:
    members = {n: z.read(n).decode() for n in z.namelist()}
rows = list(csv.reader(io.StringIO(members["service.csv"], newline="")))
i = rows[0].index("status")
out = io.StringIO()
csv.writer(out).writerows([r[:i] + r[i + 1:] for r in rows])
members["service.csv"] = out.getvalue()
members["notes.csv"] = "id\r\n1\r\n"
with zipfile.ZipFile(path, "w") as z:
    for n, t in members.items():
        z.writestr(n, t)
"#;
    let o = Command::new("python3")
        .args(["-c", script])
        .arg(&zip)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let o = validate(&out);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("service.csv: required column `status` is missing"),
        "{t}"
    );
    assert!(
        t.contains("notes.csv is not a table of the HSDS tabular format"),
        "{t}"
    );
}

#[test]
fn the_catalogue_is_dcat_ap_it_with_every_distribution() {
    let (_tmp, out) = build(&common::fixture("valid"));
    let cat = json(&out, "opendata/catalog.jsonld");
    assert_eq!(
        cat["@context"]["dcatapit"],
        "http://dati.gov.it/onto/dcatapit#"
    );
    assert_eq!(cat["dct:publisher"]["foaf:name"], "Comune di Esempio");
    let ds = &cat["dcat:dataset"][0];
    assert!(ds["@type"]
        .as_array()
        .unwrap()
        .contains(&"dcatapit:Dataset".into()));
    // DCAT-AP_IT's mandatory properties of a dataset.
    for key in [
        "dct:identifier",
        "dct:title",
        "dct:description",
        "dct:modified",
        "dcat:theme",
        "dct:rightsHolder",
        "dct:accrualPeriodicity",
    ] {
        assert!(!ds[key].is_null(), "dataset lacks {key}");
    }
    // The newest update of a service.
    assert_eq!(ds["dct:modified"]["@value"], "2026-10-01");
    let licence = "https://creativecommons.org/licenses/by/4.0/";
    assert_eq!(ds["dct:license"]["@id"], licence);
    let dists = ds["dcat:distribution"].as_array().unwrap();
    assert_eq!(dists.len(), 7, "six JSON files and the zip");
    // Without an IPA code the dataset is identified by its address.
    assert_eq!(
        ds["dct:identifier"],
        "https://guida.example.org/opendata/hsds/"
    );
    assert!(ds["dct:publisher"]["dct:identifier"].is_null());
    for d in dists {
        assert_eq!(d["dct:license"]["@id"], licence);
        let url = d["dcat:downloadURL"]["@id"].as_str().unwrap();
        let rel = url
            .strip_prefix("https://guida.example.org/")
            .unwrap_or_else(|| panic!("{url}"));
        let len = std::fs::metadata(out.join(rel))
            .unwrap_or_else(|e| panic!("{rel}: {e}"))
            .len();
        assert_eq!(d["dcat:byteSize"], len, "{rel}");
    }
}

#[test]
fn the_ipa_code_identifies_the_publisher_and_the_dataset() {
    let site = Site::copy_of("valid");
    let config = site.read("site.toml") + "ipa_code = \"c_x000\"\n";
    site.write("site.toml", &config);
    let (_tmp, out) = build(&site.content());
    let cat = json(&out, "opendata/catalog.jsonld");
    let ds = &cat["dcat:dataset"][0];
    assert_eq!(ds["dct:identifier"], "c_x000:elenco-servizi-sociali");
    assert_eq!(ds["dct:publisher"]["dct:identifier"], "c_x000");
    assert_eq!(ds["dct:rightsHolder"]["dct:identifier"], "c_x000");
    assert_eq!(cat["dct:publisher"]["dct:identifier"], "c_x000");
}

#[test]
fn check_warns_about_what_the_open_data_requires() {
    let site = Site::copy_of("valid");
    assert!(site.diagnostics().is_empty());
    site.write(
        "offices/servizio-sociale.md",
        &site
            .read("offices/servizio-sociale.md")
            .replace("L'ufficio si trova al piano terra.", ""),
    );
    let taxonomy = site
        .read("taxonomy.toml")
        .replace("description = \"Persone dai 65 anni in su.\"\n", "");
    site.write("taxonomy.toml", &taxonomy);
    let config = site
        .read("site.toml")
        .replace("province = \"ES\"\n", "")
        .replace(
            "licence = \"https://creativecommons.org/licenses/by/4.0/\"\n",
            "",
        );
    site.write("site.toml", &config);
    let diags = site.diagnostics();
    let listing: String = diags.iter().map(|d| format!("  {d}\n")).collect();
    assert!(diags.iter().all(|d| !d.is_error()), "{listing}");
    let find = |file: &str, message: &str| {
        diags
            .iter()
            .find(|d| d.file == file && d.message.contains(message))
            .unwrap_or_else(|| panic!("no {message:?} for {file}:\n{listing}"))
    };
    find(
        "offices/servizio-sociale.md",
        "HSDS organization.description",
    );
    let term = find("taxonomy.toml", "HSDS taxonomy_term.description");
    assert_eq!(
        term.line_col().map(|(l, _)| l),
        Some(line_of(&taxonomy, "slug = \"anziani\""))
    );
    let province = find("desks/sportello-centro.md", "HSDS address.state_province");
    assert!(province
        .hint
        .as_deref()
        .unwrap()
        .contains("province = \"CR\""));
    find("site.toml", "no `licence`");
    assert_eq!(diags.len(), 4, "{listing}");
}
