//! Step 7: files for machines: sitemap, robots.txt, the Atom feed of changes,
//! `services.json`, the JSON-LD of each service page, and the open data
//! (HSDS 3.0 and its DCAT-AP_IT catalogue, in [`crate::opendata`]).

use serde::Serialize;
use serde_json::json;

use crate::model::{Service, Site};
use crate::parse::front::{Cost, Status};

/// Files this step writes at the root of the site (other than pages).
pub const FILES: [&str; 4] = ["sitemap.xml", "robots.txt", "feed.xml", "services.json"];

/// How many recent changes the feed carries.
pub const FEED_ENTRIES: usize = 50;

/// How many files [`write_files`] writes.
pub fn file_count() -> usize {
    FILES.len() + crate::opendata::FILE_COUNT
}

/// Writes every file of this step into `sink`, the open data a few
/// services at a time.
pub fn write_files(site: &Site, sink: &dyn crate::write::Sink) -> anyhow::Result<()> {
    for (path, bytes) in machine_files(site) {
        sink.put(&path, &bytes)?;
    }
    crate::opendata::write(site, sink)
}

/// The files of this step but the open data, which is the whole list again
/// on every change: `serve` makes it only when it is asked for.
pub fn machine_files(site: &Site) -> Vec<(String, Vec<u8>)> {
    vec![
        ("sitemap.xml".into(), sitemap(site).into_bytes()),
        ("robots.txt".into(), robots(site).into_bytes()),
        ("feed.xml".into(), feed(site).into_bytes()),
        ("services.json".into(), services_json(site)),
    ]
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

fn sitemap(site: &Site) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\" xmlns:xhtml=\"http://www.w3.org/1999/xhtml\">\n");
    sitemap_edition(site, &mut out);
    if let Some(en) = &site.translation {
        sitemap_edition(en, &mut out);
    }
    out.push_str("</urlset>\n");
    out
}

/// The pages of one edition (a translation: only its own pages, not the
/// Italian ones it links to), each with its pair in the other edition.
fn sitemap_edition(site: &Site, out: &mut String) {
    let u = &site.urls;
    let mut add = |path: &str, lastmod: Option<&str>| {
        // An English list's Italian entries are the Italian edition's URLs.
        if !path.starts_with(u.root()) {
            return;
        }
        out.push_str("  <url><loc>");
        out.push_str(&xml_escape(&u.permalink(path)));
        out.push_str("</loc>");
        if let Some(d) = lastmod {
            out.push_str("<lastmod>");
            out.push_str(d);
            out.push_str("</lastmod>");
        }
        if let (Some(alt), Some(other)) = (site.edition.alternates.get(path), &site.edition.other) {
            let (own, theirs) = (&site.lang.code, &other.code);
            for (code, href) in [(own, path), (theirs, alt.as_str())] {
                out.push_str(&format!(
                    "<xhtml:link rel=\"alternate\" hreflang=\"{code}\" href=\"{}\"/>",
                    xml_escape(&u.permalink(href))
                ));
            }
        }
        out.push_str("</url>\n");
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

fn robots(site: &Site) -> String {
    let sitemap = site.urls.permalink(&site.urls.file("sitemap.xml"));
    format!("User-agent: *\nAllow: /\n\nSitemap: {sitemap}\n")
}

/// Services, newest change first.
fn feed(site: &Site) -> String {
    let u = &site.urls;
    let mut recent: Vec<&Service> = site.services.iter().collect();
    recent.sort_by(|a, b| b.updated.cmp(&a.updated).then_with(|| a.slug.cmp(&b.slug)));
    recent.truncate(FEED_ENTRIES);
    // The feed changes only when content does: no build timestamp.
    let updated = recent
        .first()
        .map_or_else(|| "1970-01-01".to_string(), |s| s.updated_iso.clone());
    let self_url = u.permalink(&u.file("feed.xml"));
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"{}\">\n  <title>{}</title>\n  <id>{}</id>\n  <link rel=\"self\" href=\"{}\"/>\n  <link href=\"{}\"/>\n  <updated>{updated}T00:00:00Z</updated>\n  <author><name>{}</name></author>\n",
        xml_escape(&site.lang.code),
        xml_escape(&site.info.title),
        xml_escape(&self_url),
        xml_escape(&self_url),
        xml_escape(&u.permalink(&u.home())),
        xml_escape(if site.info.owner.is_empty() { &site.info.title } else { &site.info.owner }),
    );
    for s in recent {
        out.push_str(&format!(
            "  <entry>\n    <title>{}</title>\n    <id>{}</id>\n    <link href=\"{}\"/>\n    <updated>{}T00:00:00Z</updated>\n    <summary>{}</summary>\n    <category term=\"{}\"/>\n  </entry>\n",
            xml_escape(&s.title),
            xml_escape(&s.permalink),
            xml_escape(&s.permalink),
            s.updated_iso,
            xml_escape(&s.summary),
            xml_escape(&site.categories[s.category].slug),
        ));
    }
    out.push_str("</feed>\n");
    out
}

#[derive(Serialize)]
struct ServiceRef<'a> {
    slug: &'a str,
    title: &'a str,
    category: &'a str,
    url: &'a str,
}

/// For machines such as the inbox's pick list of suggested services.
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

/// schema.org `GovernmentService` for one service, ready to embed in a
/// `<script type="application/ld+json">` (`</` is escaped).
///
/// Shaped for the Designers Italia recommendation R.SI.1.1, whose checker
/// reads single objects, not arrays: `name`, `serviceType`,
/// `serviceOperator.name`, `areaServed.name`, `audience.audienceType`,
/// `availableChannel.serviceUrl` and `availableChannel.serviceLocation` with
/// an address. The channel is the online procedure when there is one, else
/// the sheet itself; the location is the first desk with an address, else the
/// responsible office.
pub fn json_ld(site: &Site, s: &Service) -> String {
    let office = &site.offices[s.office];
    let operator = if site.info.owner.is_empty() {
        &office.name
    } else {
        &site.info.owner
    };
    let mut v = json!({
        "@context": "https://schema.org",
        "@type": "GovernmentService",
        "name": s.title,
        "description": s.summary,
        "url": s.permalink,
        "serviceType": site.categories[s.category].name,
        "serviceOperator": { "@type": "GovernmentOrganization", "name": operator },
        "areaServed": { "@type": "AdministrativeArea", "name": operator },
        "provider": { "@type": "Organization", "name": if s.provider.is_empty() { &office.name } else { &s.provider } },
        "isAccessibleForFree": s.cost == Cost::Free,
    });
    let audiences: Vec<&str> = s
        .audiences
        .iter()
        .map(|&i| site.audiences[i].name.as_str())
        .collect();
    if !audiences.is_empty() {
        v["audience"] = json!({ "@type": "Audience", "audienceType": audiences.join(", ") });
    }
    let url = if s.online.is_empty() {
        &s.permalink
    } else {
        &s.online
    };
    let mut channel = json!({ "@type": "ServiceChannel", "serviceUrl": url });
    let place = s
        .desks
        .iter()
        .map(|&d| &site.desks[d])
        .find(|d| !d.address.is_empty())
        .or_else(|| s.desks.first().map(|&d| &site.desks[d]))
        .filter(|d| !d.address.is_empty())
        .unwrap_or(office);
    let mut location = json!({ "@type": "Place", "name": place.name, "url": place.permalink });
    if !place.address.is_empty() {
        location["address"] = json!({ "@type": "PostalAddress", "streetAddress": place.address });
    }
    channel["serviceLocation"] = location;
    v["availableChannel"] = channel;
    serde_json::to_string(&v)
        .unwrap_or_default()
        .replace("</", "<\\/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_is_escaped() {
        assert_eq!(xml_escape("a < b & \"c\""), "a &lt; b &amp; &quot;c&quot;");
    }
}
