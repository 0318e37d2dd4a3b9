//! The sitemap: every page of each edition, with its date and its pair in
//! the other edition; and the last one made, kept with what it was made of.

use std::borrow::Cow;

use serde::Serialize;

use crate::model::Site;

/// The last sitemap made and what it was made of: `serve` renders it
/// again only when an address, a date or a pair of editions changed (a
/// text edit changes none). At 10,000 services rendering it took 8-12 ms
/// of a 50 ms rebuild, and making all its permalinks only to compare them
/// 3-4 ms more: the comparison is of the paths.
#[derive(Debug, Default)]
pub(super) struct Sitemap {
    last: Option<(Vec<Edition<String>>, Vec<u8>)>,
}

/// What one edition's part of the sitemap is made of.
#[derive(Debug)]
struct Edition<S> {
    /// What a path is prefixed with to make a permalink.
    origin: S,
    /// This edition's language and the other's, when there is another.
    codes: Option<(S, S)>,
    pages: Vec<Entry<S>>,
}

#[derive(Debug)]
struct Entry<S> {
    path: S,
    lastmod: Option<S>,
    /// The same page in the other edition.
    pair: Option<S>,
}

/// One address of the sitemap, for the theme's `sitemap.xml`.
#[derive(Debug, Serialize)]
pub(super) struct SitemapUrl {
    loc: String,
    lastmod: Option<String>,
    alternates: Vec<Alternate>,
}

#[derive(Debug, Serialize)]
struct Alternate {
    hreflang: String,
    href: String,
}

impl Sitemap {
    /// The sitemap of `site`: the last one when it is made of the same,
    /// else `render` of its addresses.
    pub(super) fn xml(
        &mut self,
        site: &Site,
        render: impl FnOnce(&[SitemapUrl]) -> anyhow::Result<Vec<u8>>,
    ) -> anyhow::Result<Vec<u8>> {
        let now: Vec<Edition<Cow<'_, str>>> = std::iter::once(site)
            .chain(site.translation.as_deref())
            .map(edition)
            .collect();
        if let Some((made_of, bytes)) = &self.last {
            if made_of.len() == now.len() && made_of.iter().zip(&now).all(|(a, b)| same(a, b)) {
                return Ok(bytes.clone());
            }
        }
        let bytes = render(&urls(&now))?;
        self.last = Some((now.iter().map(owned).collect(), bytes.clone()));
        Ok(bytes)
    }
}

/// The pages of one edition (a translation: only its own pages, not the
/// Italian ones it links to), each with its pair in the other edition.
fn edition<'a>(site: &'a Site) -> Edition<Cow<'a, str>> {
    let u = &site.urls;
    let other = site.edition.other.as_ref();
    let mut pages = Vec::with_capacity(site.services.len() + 16);
    let mut add = |path: Cow<'a, str>, lastmod: Option<&'a str>| {
        // An English list's Italian entries are the Italian edition's URLs.
        if !path.starts_with(u.root()) {
            return;
        }
        let pair = other
            .and_then(|_| site.edition.alternates.get(path.as_ref()))
            .map(|p| Cow::Borrowed(p.as_str()));
        pages.push(Entry {
            path,
            lastmod: lastmod.map(Cow::Borrowed),
            pair,
        });
    };
    add(u.home().into(), None);
    add(u.services_index().into(), None);
    add(u.topics_index().into(), None);
    for s in &site.services {
        add(s.url.as_str().into(), Some(&s.updated_iso));
    }
    for t in site
        .categories
        .iter()
        .chain(&site.topics)
        .chain(&site.audiences)
    {
        add(t.url.as_str().into(), None);
    }
    for p in site.offices.iter().chain(&site.desks) {
        add(p.url.as_str().into(), None);
    }
    for p in &site.pages {
        add(p.url.as_str().into(), None);
    }
    Edition {
        origin: u.permalink("").into(),
        codes: other.map(|o| (site.lang.code.as_str().into(), o.code.as_str().into())),
        pages,
    }
}

fn urls(editions: &[Edition<Cow<'_, str>>]) -> Vec<SitemapUrl> {
    let mut out = Vec::new();
    for e in editions {
        let permalink = |path: &str| format!("{}{path}", e.origin);
        for p in &e.pages {
            let mut alternates = Vec::new();
            if let (Some(pair), Some((code, other))) = (&p.pair, &e.codes) {
                for (code, href) in [(code, &p.path), (other, pair)] {
                    alternates.push(Alternate {
                        hreflang: code.to_string(),
                        href: permalink(href),
                    });
                }
            }
            out.push(SitemapUrl {
                loc: permalink(&p.path),
                lastmod: p.lastmod.as_deref().map(str::to_string),
                alternates,
            });
        }
    }
    out
}

fn same(a: &Edition<String>, b: &Edition<Cow<'_, str>>) -> bool {
    let codes = match (&a.codes, &b.codes) {
        (Some((x, y)), Some((v, w))) => x == v && y == w,
        (None, None) => true,
        _ => false,
    };
    codes
        && a.origin == b.origin
        && a.pages.len() == b.pages.len()
        && a.pages.iter().zip(&b.pages).all(|(x, y)| {
            x.path == y.path
                && x.lastmod.as_deref() == y.lastmod.as_deref()
                && x.pair.as_deref() == y.pair.as_deref()
        })
}

fn owned(e: &Edition<Cow<'_, str>>) -> Edition<String> {
    Edition {
        origin: e.origin.to_string(),
        codes: e
            .codes
            .as_ref()
            .map(|(a, b)| (a.to_string(), b.to_string())),
        pages: e
            .pages
            .iter()
            .map(|p| Entry {
                path: p.path.to_string(),
                lastmod: p.lastmod.as_deref().map(str::to_string),
                pair: p.pair.as_deref().map(str::to_string),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kept sitemap is the one a fresh start makes, after an edit it
    /// does not show (kept, not rendered again) and after edits it shows:
    /// a date, a removal, a rename, a page's pair in the other edition.
    #[test]
    fn the_kept_sitemap_follows_edits() {
        let (_, mut site) = crate::example_guide();
        assert!(site.translation.is_some(), "pairs are part of the test");
        let renders = std::cell::Cell::new(0);
        let render = |urls: &[SitemapUrl]| {
            renders.set(renders.get() + 1);
            Ok(serde_json::to_vec(urls)?)
        };
        let mut kept = Sitemap::default();
        let mut check = |site: &Site, what: &str, rendered: bool| {
            let before = renders.get();
            let made = kept.xml(site, render).unwrap();
            assert_eq!(renders.get() - before, usize::from(rendered), "{what}");
            let fresh = Sitemap::default().xml(site, render).unwrap();
            assert_eq!(String::from_utf8(made), String::from_utf8(fresh), "{what}");
        };
        check(&site, "the first", true);
        site.services[0].set_title("Un altro titolo".into());
        site.services[0].sections.clear();
        check(&site, "a text edit", false);
        site.services[1].updated_iso = "2030-01-01".into();
        check(&site, "a date", true);
        site.services.remove(2);
        check(&site, "a removal", true);
        site.services[3].url = site.services[3].url.replace('/', "/x");
        check(&site, "a rename", true);
        let en = site.translation.as_mut().unwrap();
        // The first address in order (the English home page), not the first
        // of a HashMap, which may be a page the edits above took out.
        let key = en.edition.alternates.keys().min().unwrap().clone();
        en.edition
            .alternates
            .get_mut(&key)
            .unwrap()
            .push_str("altro/");
        check(&site, "a pair", true);
    }
}
