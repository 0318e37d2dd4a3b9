//! Internal links: every address the site has, and the links of a file
//! that point nowhere, each with a suggestion in the form it was written.

use std::collections::HashSet;

use crate::diagnostics::{did_you_mean, Diagnostic};
use crate::load::SourceFile;
use crate::model::Site;
use crate::parse::InternalLink;

/// Every address the site has: `entries` (pages of content files) and the
/// pages and files generated from the model.
pub fn known_paths(site: &Site, entries: HashSet<String>) -> HashSet<String> {
    let urls = &site.urls;
    let mut known = entries;
    known.insert(urls.home());
    known.insert(urls.services_index());
    known.insert(urls.topics_index());
    known.insert(urls.search());
    known.insert(urls.offices_index());
    known.insert(urls.desks_index());
    for t in site
        .categories
        .iter()
        .chain(&site.topics)
        .chain(&site.audiences)
    {
        known.insert(t.url.clone());
    }
    for name in crate::urls::ROOT_FILES {
        known.insert(urls.file(name));
    }
    known
}

/// Errors for the links of one file that point nowhere.
pub fn check_links(
    src: &SourceFile,
    links: &[InternalLink],
    known: &HashSet<String>,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for l in links {
        if known.contains(&l.path) {
            continue;
        }
        let stem = l.path.trim_end_matches('/');
        let longer = known
            .iter()
            .filter(|k| k.starts_with(stem))
            .min_by_key(|k| k.len());
        let suggestion = longer
            .map(String::as_str)
            .or_else(|| did_you_mean(&l.path, known.iter().map(String::as_str)));
        let hint = match suggestion {
            // Answer in the form the editor used.
            Some(s) => match content_path_form(l, s) {
                Some(p) => format!("no entry has this path; did you mean `{p}`?"),
                None => format!("no page has this address; did you mean `{s}`?"),
            },
            None => "link another entry as `@/services/<slug>.md` and check the slug".into(),
        };
        out.push(
            Diagnostic::error(&src.rel, format!("broken link `{}`", l.written))
                .at(&src.text, l.span.clone())
                .hint(hint),
        );
    }
    out
}

/// A suggested address written as `@/folder/slug.md`, when the link was
/// written that way and the suggestion is in the same folder.
fn content_path_form(link: &InternalLink, suggestion: &str) -> Option<String> {
    let rest = link.written.strip_prefix("@/")?;
    let (folder, _) = rest.split_once('/')?;
    let parent = link.path.trim_end_matches('/').rsplit_once('/')?.0;
    let slug = suggestion
        .strip_prefix(parent)?
        .strip_prefix('/')?
        .strip_suffix('/')?;
    (!slug.is_empty() && !slug.contains('/')).then(|| format!("@/{folder}/{slug}.md"))
}
