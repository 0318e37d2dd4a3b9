//! Step 7: files for machines: sitemap, robots.txt, the Atom feed of changes,
//! `services.json`, the JSON-LD of each service page, and the open data
//! (HSDS 3.0 and its DCAT-AP_IT catalogue, in [`crate::opendata`]).

use serde_json::json;

use crate::model::{Service, Site};

mod services;
mod sitemap;

/// Files this step writes at the root of the site (other than pages).
pub use crate::urls::ROOT_FILES as FILES;

/// How many recent changes the feed carries.
pub const FEED_ENTRIES: usize = 50;

/// How many files [`write_files`] writes.
pub fn file_count() -> usize {
    FILES.len() + crate::opendata::FILE_COUNT
}

/// Writes every file of this step into `sink`, the open data a few
/// services at a time.
pub fn write_files(
    site: &Site,
    tera: &tera::Tera,
    sink: &dyn crate::write::Sink,
) -> anyhow::Result<()> {
    for (path, bytes) in machine_files(site, tera, &mut Kept::default())? {
        sink.put(&path, &bytes)?;
    }
    crate::opendata::write(site, sink)
}

/// The files of this step but the open data, which is the whole list again
/// on every change: `serve` makes it only when it is asked for. The
/// sitemap, the feed and robots.txt are the theme's templates; `kept`
/// holds what the last call made, reused where its inputs are the same.
pub fn machine_files(
    site: &Site,
    tera: &tera::Tera,
    kept: &mut Kept,
) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let render = |name: &str, ctx: &tera::Context| -> anyhow::Result<Vec<u8>> {
        tera.render(name, ctx)
            .map(String::into_bytes)
            .map_err(|e| anyhow::anyhow!("rendering the theme's {name}: {e}"))
    };
    let sitemap_xml = kept.sitemap.xml(site, |urls| {
        let mut ctx = tera::Context::new();
        ctx.insert("urls", urls);
        render("sitemap.xml", &ctx)
    })?;
    let mut robots = tera::Context::new();
    robots.insert(
        "sitemap",
        &site.urls.permalink(&site.urls.file("sitemap.xml")),
    );
    Ok(vec![
        ("sitemap.xml".into(), sitemap_xml),
        ("robots.txt".into(), render("robots.txt", &robots)?),
        ("feed.xml".into(), render("feed.xml", &feed(site))?),
        ("services.json".into(), kept.services.json(site)),
    ])
}

/// What [`machine_files`] made last, for `serve` to make only what an
/// edit changed.
#[derive(Debug, Default)]
pub struct Kept {
    sitemap: sitemap::Sitemap,
    services: services::ServicesJson,
}

/// The feed's context: services, newest change first.
fn feed(site: &Site) -> tera::Context {
    let u = &site.urls;
    let mut recent: Vec<&Service> = site.services.iter().collect();
    let newest_first =
        |a: &&Service, b: &&Service| b.updated.cmp(&a.updated).then_with(|| a.slug.cmp(&b.slug));
    // The newest few picked first: sorting all 10,000 took 1-2 ms of an
    // edit in `serve`. Slugs are unique, so the order is the same.
    if recent.len() > FEED_ENTRIES {
        recent.select_nth_unstable_by(FEED_ENTRIES - 1, newest_first);
        recent.truncate(FEED_ENTRIES);
    }
    recent.sort_by(newest_first);
    let mut ctx = tera::Context::new();
    ctx.insert("lang", &site.lang.code);
    ctx.insert("title", &site.info.title);
    ctx.insert("self_url", &u.permalink(&u.file("feed.xml")));
    ctx.insert("home", &u.permalink(&u.home()));
    ctx.insert(
        "updated",
        &recent
            .first()
            .map_or_else(|| "1970-01-01".to_string(), |s| s.updated_iso.clone()),
    );
    ctx.insert(
        "author",
        if site.info.owner.is_empty() {
            &site.info.title
        } else {
            &site.info.owner
        },
    );
    let entries: Vec<_> = recent
        .iter()
        .map(|s| {
            json!({
                "title": s.title,
                "url": s.permalink,
                "updated": s.updated_iso,
                "summary": s.summary,
                "category": site.categories[s.category].slug,
            })
        })
        .collect();
    ctx.insert("entries", &entries);
    ctx
}
