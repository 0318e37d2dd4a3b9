//! Step 7: files for machines: sitemap, robots.txt, the Atom feed of changes,
//! `services.json`, the JSON-LD of each service page, and the open data
//! (HSDS 3.0 and its DCAT-AP_IT catalogue, in [`crate::opendata`]).

use serde::Serialize;
use serde_json::json;

use crate::model::Status;
use crate::model::{Service, Site};

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
    let last_sitemap = &mut kept.sitemap;
    let render = |name: &str, ctx: &tera::Context| -> anyhow::Result<Vec<u8>> {
        tera.render(name, ctx)
            .map(String::into_bytes)
            .map_err(|e| anyhow::anyhow!("rendering the theme's {name}: {e}"))
    };
    let urls = sitemap(site);
    let sitemap_xml = match &last_sitemap.last {
        Some((made_of, bytes)) if *made_of == urls => bytes.clone(),
        _ => {
            let mut ctx = tera::Context::new();
            ctx.insert("urls", &urls);
            let bytes = render("sitemap.xml", &ctx)?;
            last_sitemap.last = Some((urls, bytes.clone()));
            bytes
        }
    };
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
    sitemap: Sitemap,
    services: ServicesJson,
}

/// The last sitemap made and the addresses it was made of: `serve` renders
/// it again only when an address, a date or a pair of editions changed (a
/// text edit changes none, and at 10,000 services the sitemap took 8-12 ms
/// of a 50 ms rebuild).
#[derive(Debug, Default)]
struct Sitemap {
    last: Option<(Vec<SitemapUrl>, Vec<u8>)>,
}

/// One address of the sitemap.
#[derive(Debug, PartialEq, Serialize)]
struct SitemapUrl {
    loc: String,
    lastmod: Option<String>,
    alternates: Vec<Alternate>,
}

#[derive(Debug, PartialEq, Serialize)]
struct Alternate {
    hreflang: String,
    href: String,
}

fn sitemap(site: &Site) -> Vec<SitemapUrl> {
    let mut out = Vec::new();
    sitemap_edition(site, &mut out);
    if let Some(en) = &site.translation {
        sitemap_edition(en, &mut out);
    }
    out
}

/// The pages of one edition (a translation: only its own pages, not the
/// Italian ones it links to), each with its pair in the other edition.
fn sitemap_edition(site: &Site, out: &mut Vec<SitemapUrl>) {
    let u = &site.urls;
    let mut add = |path: &str, lastmod: Option<&str>| {
        // An English list's Italian entries are the Italian edition's URLs.
        if !path.starts_with(u.root()) {
            return;
        }
        let mut alternates = Vec::new();
        if let (Some(alt), Some(other)) = (site.edition.alternates.get(path), &site.edition.other) {
            for (code, href) in [(&site.lang.code, path), (&other.code, alt.as_str())] {
                alternates.push(Alternate {
                    hreflang: code.clone(),
                    href: u.permalink(href),
                });
            }
        }
        out.push(SitemapUrl {
            loc: u.permalink(path),
            lastmod: lastmod.map(str::to_string),
            alternates,
        });
    };
    add(&u.home(), None);
    add(&u.services_index(), None);
    add(&u.topics_index(), None);
    for s in &site.services {
        add(&s.url, Some(&s.updated_iso));
    }
    for t in site
        .categories
        .iter()
        .chain(&site.topics)
        .chain(&site.audiences)
    {
        add(&t.url, None);
    }
    for p in site.offices.iter().chain(&site.desks) {
        add(&p.url, None);
    }
    for p in &site.pages {
        add(&p.url, None);
    }
}

/// The feed's context: services, newest change first.
fn feed(site: &Site) -> tera::Context {
    let u = &site.urls;
    let mut recent: Vec<&Service> = site.services.iter().collect();
    recent.sort_by(|a, b| b.updated.cmp(&a.updated).then_with(|| a.slug.cmp(&b.slug)));
    recent.truncate(FEED_ENTRIES);
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

#[derive(Serialize)]
struct ServiceRef<'a> {
    slug: &'a str,
    title: &'a str,
    category: &'a str,
    url: &'a str,
}

/// `services.json`, for machines such as the inbox's pick list of
/// suggested services. Each service's object is kept with the fields it
/// was made of and made again only when one differs: at 10,000 services,
/// escaping every string again took 6-7 ms of each edit in `serve`.
#[derive(Debug, Default)]
struct ServicesJson {
    /// By position in `Site::services`.
    objects: Vec<Option<ServiceObject>>,
}

#[derive(Debug)]
struct ServiceObject {
    slug: String,
    title: String,
    category: String,
    url: String,
    /// The pretty-printed object, indented as an element of the list.
    json: String,
}

impl ServiceObject {
    fn of(r: &ServiceRef<'_>) -> ServiceObject {
        let alone = serde_json::to_string_pretty(r).unwrap_or_default();
        // A JSON string never holds a raw newline: every line break is
        // the printer's, so indenting them nests the object in the list.
        let json = format!("  {}", alone.replace('\n', "\n  "));
        ServiceObject {
            slug: r.slug.to_string(),
            title: r.title.to_string(),
            category: r.category.to_string(),
            url: r.url.to_string(),
            json,
        }
    }

    fn is_of(&self, r: &ServiceRef<'_>) -> bool {
        self.slug == r.slug
            && self.title == r.title
            && self.category == r.category
            && self.url == r.url
    }
}

impl ServicesJson {
    /// The file, as `serde_json::to_vec_pretty` of the list would print it.
    fn json(&mut self, site: &Site) -> Vec<u8> {
        self.objects.resize_with(site.services.len(), || None);
        let mut out = Vec::new();
        for &i in &site.az {
            let s = &site.services[i];
            if s.status == Status::Closed {
                continue;
            }
            let r = ServiceRef {
                slug: &s.slug,
                title: &s.title,
                category: &site.categories[s.category].slug,
                url: &s.permalink,
            };
            let object = match &mut self.objects[i] {
                Some(o) if o.is_of(&r) => o,
                slot => slot.insert(ServiceObject::of(&r)),
            };
            out.extend_from_slice(if out.is_empty() { b"[\n" } else { b",\n" });
            out.extend_from_slice(object.json.as_bytes());
        }
        out.extend_from_slice(if out.is_empty() { b"[]\n" } else { b"\n]\n" });
        out
    }
}

/// `services.json` as one piece, to check [`ServicesJson`] against.
#[cfg(test)]
fn services_json(site: &Site) -> Vec<u8> {
    let list: Vec<ServiceRef<'_>> = site
        .az
        .iter()
        .map(|&i| &site.services[i])
        .filter(|s| s.status != Status::Closed)
        .map(|s| ServiceRef {
            slug: &s.slug,
            title: &s.title,
            category: &site.categories[s.category].slug,
            url: &s.permalink,
        })
        .collect();
    let mut out = serde_json::to_vec_pretty(&list).unwrap_or_default();
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::title_sort_key;

    fn example_site() -> Site {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let opts = crate::Options::new(root.join("content"), root.join("themes/default"));
        let mut diags = crate::diagnostics::Diagnostics::default();
        crate::load_site(&opts, &mut diags).expect("the example guide loads")
    }

    /// The kept objects give the file a fresh print would, after an edit
    /// of only a field they hold, a closure, a removal and a rename.
    #[test]
    fn kept_services_json_follows_edits() {
        let mut site = example_site();
        let mut kept = ServicesJson::default();
        assert_eq!(kept.json(&site), services_json(&site));
        let mut check = |site: &mut Site, what: &str| {
            crate::validate::derive_lists(site);
            let made = String::from_utf8(kept.json(site)).unwrap();
            let fresh = String::from_utf8(services_json(site)).unwrap();
            assert_eq!(made, fresh, "after {what}");
        };

        site.services[2].title = "Un titolo \"nuovo\" con à".into();
        site.services[2].sort_key = title_sort_key(&site.services[2].title);
        check(&mut site, "a title edit");
        site.services[3].permalink.push_str("altro/");
        check(&mut site, "an address edit");
        site.services[4].status = Status::Closed;
        check(&mut site, "a closure");
        site.services.remove(1);
        check(&mut site, "a removal");
        site.services[0].slug = "zzz-rinominato".into();
        let s = site.services.remove(0);
        site.services.push(s);
        check(&mut site, "a rename");
        site.services.clear();
        check(&mut site, "removing them all");
    }
}
