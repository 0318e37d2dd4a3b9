//! Each service's card (the theme's `card.html`: title, summary, category,
//! status), rendered once and reused by every list that shows it: the A-Z
//! page, its category, topics, audiences, office and desks. At 10,000
//! services a title edit changes lists of 11 MB of HTML; with the cards
//! kept, `serve` renders one card and joins the others.

use std::sync::OnceLock;

use anyhow::Result;
use rayon::prelude::*;
use serde::Serialize;
use tera::{Context, Tera};

use crate::model::Site;

/// The heading levels a card is rendered at (`level` in `card.html`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Under the page's `h1` (category, topic and audience pages).
    H2,
    /// Under a section's `h2` (A-Z letters, office and desk pages).
    H3,
}

impl Level {
    fn number(self) -> u8 {
        match self {
            Level::H2 => 2,
            Level::H3 => 3,
        }
    }
}

#[derive(Serialize)]
struct Card<'a> {
    /// The language of the entry when it is not the page's (an Italian
    /// entry listed in the English edition), for `lang` on its link.
    lang: Option<&'a str>,
    title: &'a str,
    url: &'a str,
    summary: &'a str,
    category: &'a str,
    status: crate::model::Status,
}

fn card(site: &Site, i: usize) -> Card<'_> {
    let s = &site.services[i];
    let e = &site.edition;
    Card {
        lang: (e.translated && !e.services.get(i).copied().unwrap_or(false))
            .then(|| e.other.as_ref().map_or("it", |o| o.main_code.as_str())),
        title: &s.title,
        url: &s.url,
        summary: &s.summary,
        category: &site.categories[s.category].name,
        status: s.status,
    }
}

/// The rendered cards of one edition's services, by position, filled on
/// first use (pages render in parallel and share them).
#[derive(Debug, Default)]
pub struct Cards {
    /// The services' slugs, in the site's order, to realign after an edit.
    slugs: Vec<String>,
    cells: Vec<[OnceLock<String>; 2]>,
}

impl Cards {
    /// Empty cards for the services of `site`.
    pub fn new(site: &Site) -> Cards {
        Cards {
            slugs: site.services.iter().map(|s| s.slug.clone()).collect(),
            cells: site.services.iter().map(|_| Default::default()).collect(),
        }
    }

    /// After an edit: the cards follow their services to their new
    /// positions, and those of `changed` (slugs) are rendered again.
    pub fn forget<S: AsRef<str>>(&mut self, site: &Site, changed: &[S]) {
        let same = self.slugs.len() == site.services.len()
            && self
                .slugs
                .iter()
                .zip(&site.services)
                .all(|(a, s)| *a == s.slug);
        if !same {
            let mut old: std::collections::HashMap<String, [OnceLock<String>; 2]> =
                std::mem::take(&mut self.slugs)
                    .into_iter()
                    .zip(std::mem::take(&mut self.cells))
                    .collect();
            self.slugs = site.services.iter().map(|s| s.slug.clone()).collect();
            self.cells = site
                .services
                .iter()
                .map(|s| old.remove(&s.slug).unwrap_or_default())
                .collect();
        }
        for slug in changed {
            if let Ok(i) = self
                .slugs
                .binary_search_by(|s| s.as_str().cmp(slug.as_ref()))
            {
                self.cells[i] = Default::default();
            }
        }
    }

    /// Renders, in parallel, every card not rendered yet, at both levels: a
    /// build lists every service at both (A-Z and its category). The labels
    /// go into each thread's context once, not once per card: copying them
    /// into a card's context cost more than rendering it.
    pub fn fill(&self, site: &Site, tera: &Tera) -> Result<()> {
        let mut base = Context::new();
        base.insert("t", &site.lang.labels);
        self.cells.par_iter().enumerate().try_for_each_init(
            || base.clone(),
            |ctx, (i, cells)| {
                for (cell, level) in cells.iter().zip([Level::H2, Level::H3]) {
                    if cell.get().is_none() {
                        let html = render(site, tera, ctx, i, level)?;
                        let _ = cell.set(html);
                    }
                }
                Ok(())
            },
        )
    }

    /// The card of service `i` at `level`.
    pub fn get(&self, site: &Site, tera: &Tera, i: usize, level: Level) -> Result<&str> {
        let cell = &self.cells[i][usize::from(level == Level::H3)];
        if let Some(html) = cell.get() {
            return Ok(html);
        }
        let mut ctx = Context::new();
        ctx.insert("t", &site.lang.labels);
        let html = render(site, tera, &mut ctx, i, level)?;
        // Another thread may have set it meanwhile, with the same bytes.
        Ok(cell.get_or_init(|| html))
    }

    /// The cards of `services` at `level`, in that order, as one piece of
    /// HTML: a list of thousands went into each page's context card by
    /// card (a string each) and was joined by a template loop, which took
    /// a tenth of a rebuild in `serve`.
    pub fn list(
        &self,
        site: &Site,
        tera: &Tera,
        services: &[usize],
        level: Level,
    ) -> Result<String> {
        let mut html = String::new();
        for &i in services {
            html.push_str(self.get(site, tera, i, level)?);
        }
        Ok(html)
    }
}

/// Card `i` at `level`, with `ctx` holding the labels (`t`).
fn render(site: &Site, tera: &Tera, ctx: &mut Context, i: usize, level: Level) -> Result<String> {
    ctx.insert("s", &card(site, i));
    ctx.insert("level", &level.number());
    let mut html = tera
        .render("card.html", ctx)
        .map_err(|e| anyhow::anyhow!("{}", super::error_chain(&e)))?;
    // Tera's output buffer has room to spare; kept for every service
    // until the build ends, it added about 20 MiB at 10,000 services.
    html.shrink_to_fit();
    Ok(html)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A removal and an addition in one edit keep the number of services
    /// and shift the others: each card must follow its service.
    #[test]
    fn cards_follow_their_services_when_positions_shift() {
        let (opts, mut site) = crate::example_guide();
        let tera = super::super::load_templates(&opts.theme).unwrap();
        let mut cards = Cards::new(&site);
        for i in 0..site.services.len() {
            cards.get(&site, &tera, i, Level::H3).unwrap();
        }
        let removed = site.services.remove(5).slug;
        let mut added = site.services[0].clone();
        added.slug = "aaa-nuovo".into();
        added.set_title("Un servizio nuovo".into());
        site.services.insert(0, added);
        cards.forget(&site, &["aaa-nuovo", removed.as_str()]);
        let fresh = Cards::new(&site);
        for i in 0..site.services.len() {
            assert_eq!(
                cards.get(&site, &tera, i, Level::H3).unwrap(),
                fresh.get(&site, &tera, i, Level::H3).unwrap(),
                "card {i}"
            );
        }
    }
}
