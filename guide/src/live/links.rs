//! Step 2 of an edit: the internal links of the changed files (of every
//! file, when one was added or removed) against the addresses the site
//! would have.

use std::collections::{BTreeMap, HashSet};

use crate::diagnostics::Diagnostic;
use crate::load::SourceFile;
use crate::model::Site;
use crate::parse::InternalLink;
use crate::validate::{check_links, known_paths};

/// Every content file's links, by relative path.
pub(super) type Links = BTreeMap<String, (SourceFile, Vec<InternalLink>)>;
/// The dirty files' links; `None` for a file that is gone.
pub(super) type NewLinks = BTreeMap<String, Option<(SourceFile, Vec<InternalLink>)>>;

/// The problems of the links `new` brings, with `links` the files as they
/// were; and every address a link may point to, for the next edit as
/// `kept` (pass it only from an edit that succeeded: at 10,000 services
/// making it again took 2-3 ms).
pub(super) fn check(
    site: &Site,
    links: &Links,
    new: &NewLinks,
    kept: Option<HashSet<String>>,
) -> (Vec<Diagnostic>, HashSet<String>) {
    // Only a file added or removed can break or mend the links of the
    // others, or change the addresses (an entry's comes from its file
    // name; the rest from the settings and the taxonomy, whose edits
    // rebuild everything): an edit of files that stay checks only their
    // own links, against the addresses kept.
    let same_files = new
        .iter()
        .all(|(rel, l)| l.is_some() && links.contains_key(rel));
    let known = match kept {
        Some(known) if same_files => known,
        _ => known_paths(site, entries(site, links, new)),
    };
    let mut diags = Vec::new();
    if !same_files {
        for (rel, (src, l)) in links {
            if !new.contains_key(rel) {
                diags.extend(check_links(src, l, &known));
            }
        }
    }
    for (src, l) in new.values().flatten() {
        diags.extend(check_links(src, l, &known));
    }
    (diags, known)
}

/// The addresses of the entries the site would have.
fn entries(site: &Site, links: &Links, new: &NewLinks) -> HashSet<String> {
    let urls = &site.urls;
    let mut entries: HashSet<String> = links
        .keys()
        .filter_map(|rel| entry_url(urls, rel))
        .collect();
    for (rel, l) in new {
        match (l, entry_url(urls, rel)) {
            (Some(_), Some(u)) => {
                entries.insert(u);
            }
            (None, Some(u)) => {
                entries.remove(&u);
            }
            _ => {}
        }
    }
    entries
}

pub(super) fn slug_of(rel: &str) -> String {
    rel.rsplit('/')
        .next()
        .unwrap_or(rel)
        .trim_end_matches(".md")
        .to_string()
}

fn entry_url(urls: &crate::urls::Urls, rel: &str) -> Option<String> {
    let (dir, _) = rel.split_once('/')?;
    urls.for_content_path(&format!("{dir}/{}.md", slug_of(rel)))
}
