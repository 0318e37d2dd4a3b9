//! Where every page of the guide lives. One place decides the URL scheme, so
//! templates, links, the sitemap and the feed cannot disagree.

use crate::language::Paths;

/// The files for machines at the root of the site, beside the pages (written
/// by the export step; a link to one is a link to a page of the site).
pub const ROOT_FILES: [&str; 4] = ["sitemap.xml", "robots.txt", "feed.xml", "services.json"];

#[derive(Debug, Clone)]
pub struct Urls {
    /// Scheme and host, without trailing slash: `https://guida.example.org`.
    origin: String,
    /// Path prefix of the site, starting and ending with `/`.
    root: String,
    paths: Paths,
    /// The root of the whole site: `root` itself, or its parent for the
    /// English edition (`/en/`), whose files go under the same output folder.
    site_root: String,
    /// In an edition: the content paths (`services/x.md`) it has, and the
    /// main edition's URLs for every other one, so that `@/` links of an
    /// English body lead to the English page when there is one.
    fallback: Option<(std::sync::Arc<std::collections::HashSet<String>>, Box<Urls>)>,
}

impl Urls {
    /// `base_url` is the public address of the site, possibly with a path.
    pub fn new(base_url: &str, paths: Paths) -> Self {
        let trimmed = base_url.trim_end_matches('/');
        let after_scheme = trimmed.find("://").map_or(0, |i| i + 3);
        let (origin, root) = match trimmed[after_scheme..].find('/') {
            Some(i) => (
                trimmed[..after_scheme + i].to_string(),
                format!("{}/", &trimmed[after_scheme + i..]),
            ),
            None => (trimmed.to_string(), "/".to_string()),
        };
        Urls {
            origin,
            site_root: root.clone(),
            root,
            paths,
            fallback: None,
        }
    }

    /// The URLs of an edition under `<root><code>/` with its own path words;
    /// `translated` lists the content paths it has (others stay in this one).
    pub fn edition(
        &self,
        code: &str,
        paths: Paths,
        translated: std::sync::Arc<std::collections::HashSet<String>>,
    ) -> Urls {
        Urls {
            origin: self.origin.clone(),
            root: format!("{}{code}/", self.root),
            paths,
            site_root: self.site_root.clone(),
            fallback: Some((translated, Box::new(self.clone()))),
        }
    }

    pub fn root(&self) -> &str {
        &self.root
    }

    /// Where the output files are relative to (see [`output_file`]).
    pub fn site_root(&self) -> &str {
        &self.site_root
    }

    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    /// Absolute URL for a site path (which already includes the root).
    pub fn permalink(&self, path: &str) -> String {
        format!("{}{}", self.origin, path)
    }

    fn under(&self, word: &str, slug: &str) -> String {
        format!("{}{word}/{slug}/", self.root)
    }

    pub fn home(&self) -> String {
        self.root.clone()
    }
    pub fn service(&self, slug: &str) -> String {
        self.under(&self.paths.services, slug)
    }
    pub fn services_index(&self) -> String {
        format!("{}{}/", self.root, self.paths.services)
    }
    pub fn office(&self, slug: &str) -> String {
        self.under(&self.paths.offices, slug)
    }
    pub fn desk(&self, slug: &str) -> String {
        self.under(&self.paths.desks, slug)
    }
    /// The list of every office.
    pub fn offices_index(&self) -> String {
        format!("{}{}/", self.root, self.paths.offices)
    }
    /// The list of every help desk.
    pub fn desks_index(&self) -> String {
        format!("{}{}/", self.root, self.paths.desks)
    }
    pub fn category(&self, slug: &str) -> String {
        self.under(&self.paths.categories, slug)
    }
    pub fn topic(&self, slug: &str) -> String {
        self.under(&self.paths.topics, slug)
    }
    pub fn topics_index(&self) -> String {
        format!("{}{}/", self.root, self.paths.topics)
    }
    pub fn audience(&self, slug: &str) -> String {
        self.under(&self.paths.audiences, slug)
    }
    pub fn search(&self) -> String {
        format!("{}{}/", self.root, self.paths.search)
    }
    pub fn page(&self, slug: &str) -> String {
        format!("{}{slug}/", self.root)
    }
    /// A file of the whole site (style, script, feed), shared by the editions.
    pub fn file(&self, name: &str) -> String {
        format!("{}{name}", self.site_root)
    }
    /// A file of this edition (its 404 page).
    pub fn own_file(&self, name: &str) -> String {
        format!("{}{name}", self.root)
    }

    /// URL of a content file named as in `@/services/telesoccorso.md`.
    pub fn for_content_path(&self, content_path: &str) -> Option<String> {
        if let Some((translated, main)) = &self.fallback {
            if !translated.contains(content_path) {
                return main.for_content_path(content_path);
            }
        }
        let (dir, file) = content_path.split_once('/')?;
        let slug = file.strip_suffix(".md")?;
        if slug.is_empty() || slug.contains('/') {
            return None;
        }
        Some(match dir {
            "services" => self.service(slug),
            "offices" => self.office(slug),
            "desks" => self.desk(slug),
            "pages" => self.page(slug),
            _ => return None,
        })
    }

    /// The first path words that pages may not take as their slug.
    pub fn reserved_words(&self) -> [&str; 7] {
        let p = &self.paths;
        [
            &p.services,
            &p.offices,
            &p.desks,
            &p.categories,
            &p.topics,
            &p.audiences,
            &p.search,
        ]
    }
}

/// Output file for a site path: `/servizi/x/` becomes `servizi/x/index.html`.
pub fn output_file(root: &str, path: &str) -> String {
    let rel = path
        .strip_prefix(root)
        .unwrap_or(path.trim_start_matches('/'));
    if rel.is_empty() || rel.ends_with('/') {
        format!("{rel}index.html")
    } else {
        rel.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(base: &str) -> Urls {
        Urls::new(base, Paths::default())
    }

    #[test]
    fn base_url_with_and_without_path() {
        let u = urls("https://guida.example.org/");
        assert_eq!(u.service("sad"), "/servizi/sad/");
        assert_eq!(
            u.permalink(&u.service("sad")),
            "https://guida.example.org/servizi/sad/"
        );
        let u = urls("https://example.org/guida");
        assert_eq!(u.service("sad"), "/guida/servizi/sad/");
        assert_eq!(u.permalink("/guida/"), "https://example.org/guida/");
        assert_eq!(
            output_file(u.root(), "/guida/servizi/sad/"),
            "servizi/sad/index.html"
        );
        assert_eq!(output_file(u.root(), "/guida/"), "index.html");
    }

    #[test]
    fn content_paths_map_to_urls() {
        let u = urls("http://127.0.0.1:8080");
        assert_eq!(
            u.for_content_path("offices/inps.md").as_deref(),
            Some("/uffici/inps/")
        );
        assert_eq!(
            u.for_content_path("pages/privacy.md").as_deref(),
            Some("/privacy/")
        );
        assert_eq!(u.for_content_path("other/x.md"), None);
        assert_eq!(u.for_content_path("services/x.html"), None);
    }
}
