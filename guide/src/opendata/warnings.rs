//! What the open data needs and the content lacks, as warnings that name
//! the file: the export gives each a stand-in meanwhile.

use super::hsds;
use crate::diagnostics::Diagnostic;
use crate::model::Site;

/// The open data's warnings: the HSDS fields the content lacks, and a
/// catalogue without a licence.
pub fn warnings(site: &Site) -> Vec<Diagnostic> {
    let mut out = missing_fields(site);
    if site.info.licence.trim().is_empty() {
        out.push(
            Diagnostic::warning(
                "site.toml",
                "no `licence`: the open data catalogue (DCAT-AP_IT) must say under which licence the list of services is published",
            )
            .hint("add `licence = \"https://creativecommons.org/licenses/by/4.0/\"`, or the address of the licence the Comune chose"),
        );
    }
    out
}

/// Required HSDS fields the content lacks: they get a stand-in (the name)
/// in the export, and a warning so that an editor writes the real one.
/// (A term without a description is warned about where taxonomy.toml is
/// read, at its line.)
fn missing_fields(site: &Site) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for o in &site.offices {
        if o.html.trim().is_empty() {
            out.push(
                Diagnostic::warning(
                    format!("offices/{}.md", o.slug),
                    "the office has no description, required by the open data (HSDS organization.description)",
                )
                .hint("write a sentence about the office after the front matter"),
            );
        }
    }
    // An address is split into parts HSDS requires; what neither the entry
    // nor site.toml says would be published empty.
    let places = site
        .offices
        .iter()
        .map(|p| ("offices", p))
        .chain(site.desks.iter().map(|p| ("desks", p)));
    for (dir, p) in places {
        let Some(a) = hsds::address(&site.info, "", &p.address) else {
            continue;
        };
        for (field, key, example) in [
            ("postal_code", "postal_code", "26100"),
            ("city", "city", "Cremona"),
            ("state_province", "province", "CR"),
        ] {
            if a[field].as_str().is_some_and(|v| v.trim().is_empty()) {
                out.push(
                    Diagnostic::warning(
                        format!("{dir}/{}.md", p.slug),
                        format!("the address has no {field}, required by the open data (HSDS address.{field})"),
                    )
                    .hint(format!(
                        "write the address as `Via Roma 1, 26100 Cremona`, or set `{key} = \"{example}\"` in site.toml for every address of the guide"
                    )),
                );
            }
        }
    }
    out
}
