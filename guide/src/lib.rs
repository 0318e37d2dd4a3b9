//! `sportello-guide`: the public guide to social services, from Markdown
//! entries to the files of a static site. The `sportello` binary (command
//! line and `serve`) is a thin layer over it.
//!
//! The modules follow the data: [`load`] reads files, [`parse`] turns them
//! into front matter and HTML sections, [`validate`] checks the content model
//! and resolves references into the [`model::Site`], [`render`] applies the
//! theme, [`export`] writes the files for machines and [`write`](mod@write) puts it all
//! on disk. [`diagnostics`] carries every problem to the editor with its
//! file, line, column and a hint.

pub mod diagnostics;
pub mod edition;
pub mod export;
pub mod index;
pub mod language;
pub mod live;
pub mod load;
pub mod model;
pub mod opendata;
pub mod parse;
pub mod render;
pub mod scaffold;
pub mod slug;
pub mod urls;
pub mod validate;
pub mod write;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use rayon::prelude::*;

use diagnostics::{Diagnostic, Diagnostics};
use language::Language;
use model::{Site, SiteInfo};
use parse::front::{SiteConfig, SynonymsFile, TaxonomyFile};
use parse::{parse_toml, parse_toml_strict};
use urls::Urls;

/// Where to read and write.
#[derive(Debug, Clone)]
pub struct Options {
    pub content: PathBuf,
    pub theme: PathBuf,
    /// Overrides `base_url` of site.toml (e.g. to preview on localhost).
    pub base_url: Option<String>,
    /// "Today", for the stale-review warning.
    pub today: time::Date,
    /// Build the search index (on by default). Off only to measure what
    /// the index costs: the build benchmark compares the two.
    pub search_index: bool,
    /// Publish entries with `draft = true` (`--drafts`; `serve` always does).
    pub drafts: bool,
    /// Write every file into a fresh staging folder, as every build did
    /// before only changes were written (`--full-write`: the build
    /// benchmark compares the two).
    pub full_write: bool,
}

impl Options {
    pub fn new(content: impl Into<PathBuf>, theme: impl Into<PathBuf>) -> Self {
        Options {
            content: content.into(),
            theme: theme.into(),
            base_url: None,
            today: time::OffsetDateTime::now_utc().date(),
            search_index: true,
            drafts: false,
            full_write: false,
        }
    }
}

/// How long each step took.
#[derive(Debug, Default, Clone)]
pub struct Timings {
    pub load_parse_validate: Duration,
    pub render: Duration,
    pub export: Duration,
    pub index: Duration,
    pub write: Duration,
}

/// Reads and checks the content. The site is `None` only when it could not
/// be assembled at all; check `diags.has_errors()` before publishing it.
pub fn load_site(opts: &Options, diags: &mut Diagnostics) -> Option<Site> {
    load_site_with_links(opts, diags).map(|(site, _)| site)
}

/// [`load_site`], also returning the internal links of every file.
pub fn load_site_with_links(
    opts: &Options,
    diags: &mut Diagnostics,
) -> Option<(Site, validate::FileLinks)> {
    let loaded = load::load(&opts.content, diags);
    let site_src = loaded.site.as_ref()?;
    let (config, ds) = parse_toml::<SiteConfig>(&site_src.rel, &site_src.text, &site_src.text, 0);
    let site_ok = ds.is_empty();
    diags.extend(ds);
    let config = config.filter(|_| site_ok)?;
    let lang = match load_language(&opts.theme, &config, site_src) {
        Ok(l) => l,
        Err(d) => {
            diags.push(*d);
            return None;
        }
    };
    let base_url = opts
        .base_url
        .clone()
        .unwrap_or_else(|| config.base_url.get_ref().clone());
    if !(base_url.starts_with("https://") || base_url.starts_with("http://")) {
        diags.push(
            Diagnostic::error("site.toml", format!("`{base_url}` is not a web address"))
                .at(&site_src.text, config.base_url.span())
                .hint("write the public address of the guide, e.g. \"https://guida.example.org\""),
        );
        return None;
    }
    let urls = Urls::new(&base_url, lang.paths.clone());

    let entry_paths = loaded
        .files
        .iter()
        .filter_map(|f| match f.kind {
            load::Kind::Index => None,
            load::Kind::Service => Some(urls.service(&f.slug)),
            load::Kind::Office => Some(urls.office(&f.slug)),
            load::Kind::Desk => Some(urls.desk(&f.slug)),
            load::Kind::Page => Some(urls.page(&f.slug)),
        })
        .collect();
    let originals: std::collections::HashSet<String> =
        loaded.files.iter().map(|f| f.rel.clone()).collect();
    let parsed: Vec<(Option<parse::Parsed>, Vec<Diagnostic>)> = loaded
        .files
        .into_par_iter()
        .map(|f| parse::parse_file(f, &urls))
        .collect();
    let mut docs = Vec::with_capacity(parsed.len());
    for (doc, ds) in parsed {
        diags.extend(ds);
        docs.extend(doc);
    }

    let taxonomy = loaded.taxonomy.as_ref().and_then(|src| {
        let (t, ds) = parse_toml::<TaxonomyFile>(&src.rel, &src.text, &src.text, 0);
        diags.extend(ds);
        t.map(|t| (t, src))
    });
    let mut synonym_groups = |file: &Option<load::SourceFile>| {
        file.as_ref()
            .and_then(|src| {
                let (s, ds) = parse_toml::<SynonymsFile>(&src.rel, &src.text, &src.text, 0);
                diags.extend(ds);
                s.map(|s| s.groups)
            })
            .unwrap_or_default()
    };
    let synonyms = synonym_groups(&loaded.synonyms);
    let synonyms_en = synonym_groups(&loaded.synonyms_en);

    let accessibility_form = accessibility_form(&config, site_src, diags);
    let info = SiteInfo {
        title: config.title.clone(),
        base_url,
        owner: config.owner.clone(),
        inbox_url: config
            .inbox_url
            .as_ref()
            .map(|u| u.get_ref().clone())
            .unwrap_or_default(),
        licence: config.licence.clone(),
        ipa_code: config.ipa_code.trim().to_string(),
        city: config.city.clone(),
        province: config.province.clone(),
        postal_code: config.postal_code.clone(),
        country: if config.country.is_empty() {
            "IT".into()
        } else {
            config.country.clone()
        },
        accessibility_form,
    };
    let settings = validate::Settings {
        info,
        lang,
        urls,
        taxonomy,
        synonyms,
        lexicon: index::load_lexicon(
            &opts.theme,
            config.language.get_ref(),
            loaded.lexicon.as_ref(),
            diags,
        ),
        today: opts.today,
        entry_paths,
        drafts: opts.drafts,
    };
    let mut built = validate::build_site(docs, settings, diags);
    if !loaded.translations.is_empty() || loaded.taxonomy_en.is_some() {
        match load_language_file(&opts.theme, edition::CODE) {
            Ok(Some(en)) => {
                let taxonomy_en = loaded.taxonomy_en.as_ref().and_then(|src| {
                    let (t, ds) = edition::parse::taxonomy(src);
                    diags.extend(ds);
                    t.map(|t| (t, src))
                });
                edition::attach(
                    &mut built.0,
                    en,
                    loaded.translations,
                    taxonomy_en,
                    &originals,
                    diags,
                );
                if let Some(en) = built.0.translation.as_mut() {
                    // The guide's groups are Italian words: the English
                    // index has its own, or none.
                    en.synonyms = synonyms_en;
                }
            }
            Ok(None) => diags.push(
                Diagnostic::error(
                    loaded
                        .translations
                        .first()
                        .map_or("taxonomy.en.toml", |f| f.rel.as_str()),
                    "the theme has no English language file for the translations",
                )
                .hint(format!("add i18n/{}.toml to the theme", edition::CODE)),
            ),
            Err(d) => diags.push(*d),
        }
    }
    diags.extend(opendata::warnings(&built.0));
    diags.sort();
    Some(built)
}

/// `accessibility_form` of site.toml: an address on AgID's form site, where
/// public bodies publish their accessibility statements, or empty.
fn accessibility_form(
    config: &SiteConfig,
    site_src: &load::SourceFile,
    diags: &mut Diagnostics,
) -> String {
    const AGID: &str = "https://form.agid.gov.it/view/";
    let Some(v) = config.accessibility_form.as_ref() else {
        return String::new();
    };
    let url = v.get_ref().trim();
    if url.is_empty() || (url.starts_with(AGID) && url.len() > AGID.len()) {
        return url.to_string();
    }
    diags.push(
        Diagnostic::error(
            "site.toml",
            format!("`{url}` is not an accessibility statement on AgID's form site"),
        )
        .at(&site_src.text, v.span())
        .hint(format!(
            "write the address AgID gave the statement, starting with {AGID}, or leave it empty"
        )),
    );
    String::new()
}

/// The theme's language file for the site's `language`.
fn load_language(
    theme: &Path,
    config: &SiteConfig,
    site_src: &load::SourceFile,
) -> Result<Language, Box<Diagnostic>> {
    let code = config.language.get_ref();
    let dir = theme.join("i18n");
    let path = dir.join(format!("{code}.toml"));
    if !path.is_file() {
        let available: Vec<String> = std::fs::read_dir(&dir)
            .map(|rd| {
                rd.flatten()
                    .filter_map(|e| {
                        e.file_name()
                            .to_string_lossy()
                            .strip_suffix(".toml")
                            .map(String::from)
                    })
                    .collect()
            })
            .unwrap_or_default();
        return Err(Box::new(
            Diagnostic::error(
                "site.toml",
                format!("the theme has no language file for `{code}`"),
            )
            .at(&site_src.text, config.language.span())
            .hint(if available.is_empty() {
                format!(
                    "no language files found in {}: check --theme",
                    dir.display()
                )
            } else {
                format!("available languages: {}", available.join(", "))
            }),
        ));
    }
    load_language_file(theme, code)?.ok_or_else(|| {
        Box::new(Diagnostic::error(
            path.display().to_string(),
            "the language file disappeared while reading it",
        ))
    })
}

/// The theme's language file `i18n/<code>.toml`; `None` when it has none.
fn load_language_file(theme: &Path, code: &str) -> Result<Option<Language>, Box<Diagnostic>> {
    let path = theme.join("i18n").join(format!("{code}.toml"));
    if !path.is_file() {
        return Ok(None);
    }
    let rel = path.display().to_string();
    let text = load::read_text(&path, &rel).map_err(Box::new)?;
    let lang: Language = parse_toml_strict(&rel, &text, &text, 0).map_err(Box::new)?;
    if lang.months.len() != 12 {
        return Err(Box::new(Diagnostic::error(
            rel,
            "`months` must list twelve month names",
        )));
    }
    Ok(Some(lang))
}

/// What [`write_site`] wrote.
pub struct Written {
    pub files: usize,
    /// The search index, when asked to keep it (`serve` patches it on each edit).
    pub index: Option<index::SearchIndex>,
    /// The main edition's service cards, as rendered for its lists.
    pub cards: render::Cards,
}

/// The stages after loading, shared by `build` and `serve`: pages, search
/// index, the theme's static files and the files for machines, into `sink`
/// (a staging folder on disk, or memory). Pages are handed to the sink as
/// they are rendered and the search index is built meanwhile on the other
/// threads of the pool, so a build never holds the whole site in memory.
pub fn write_site(
    site: &Site,
    tera: &tera::Tera,
    opts: &Options,
    keep_index: bool,
    sink: &dyn write::Sink,
    timings: &mut Timings,
) -> Result<Written> {
    let pages_count: usize = render::all_editions(site)
        .iter()
        .map(|(_, ids)| ids.len())
        .sum();
    let t = Instant::now();
    let mut cards = render::Cards::new(site);
    let (pages, index) = rayon::join(
        || -> Result<Duration> {
            for (edition, ids) in render::all_editions(site) {
                let fresh;
                let cards = if std::ptr::eq(edition, site) {
                    &cards
                } else {
                    fresh = render::Cards::new(edition);
                    &fresh
                };
                cards.fill(edition, tera)?;
                render::render_each(edition, tera, cards, &ids, |path, html| {
                    sink.put(path, html.as_bytes())
                })?;
            }
            Ok(t.elapsed())
        },
        || -> Result<(usize, Option<index::SearchIndex>, Duration)> {
            let t = Instant::now();
            if !opts.search_index {
                return Ok((0, None, t.elapsed()));
            }
            let mut index = index::build(site);
            let files = if keep_index {
                // Encoded through `edit` so that later edits can patch the files.
                index
                    .edit(&index::collection(site), &[] as &[&str], true)
                    .written
            } else {
                index.files()
            };
            for (path, bytes) in &files {
                sink.put(path, bytes)?;
            }
            // The English edition's own index, of its English text, under
            // `search/en/` (serve rebuilds it whole with the edition).
            let mut count = files.len();
            if let Some(en) = &site.translation {
                for (path, bytes) in &index::build(en).files() {
                    sink.put(path, bytes)?;
                    count += 1;
                }
            }
            Ok((count, keep_index.then_some(index), t.elapsed()))
        },
    );
    timings.render = pages?;
    let (index_files, index, index_time) = index?;
    timings.index = index_time;
    let t = Instant::now();
    let mut statics = write::read_static(&opts.theme.join("static"))?;
    // The search client comes with the search crate; a theme may bring its own.
    if !statics
        .iter()
        .any(|(p, _)| p == sportello_search::CLIENT_PATH)
    {
        statics.push((
            sportello_search::CLIENT_PATH.to_string(),
            sportello_search::CLIENT_JS.as_bytes().to_vec(),
        ));
    }
    for (path, bytes) in &statics {
        sink.put(path, bytes)?;
    }
    export::write_files(site, tera, sink)?;
    timings.export = t.elapsed();
    Ok(Written {
        files: pages_count + index_files + statics.len() + export::file_count(),
        index,
        cards: std::mem::take(&mut cards),
    })
}

/// A built site in memory: path relative to the site root, and bytes.
pub type SiteFiles = std::collections::BTreeMap<String, std::sync::Arc<[u8]>>;

/// The whole site in memory, as `serve` holds it, or the content errors.
pub fn build_in_memory(opts: &Options) -> Result<std::result::Result<SiteFiles, Diagnostics>> {
    let mut diags = Diagnostics::default();
    let Some(site) = load_site(opts, &mut diags).filter(|_| !diags.has_errors()) else {
        return Ok(Err(diags));
    };
    let tera = render::load_templates(&opts.theme)?;
    let sink = write::MemorySink::default();
    write_site(&site, &tera, opts, false, &sink, &mut Timings::default())?;
    Ok(Ok(sink.into_files()))
}

/// What a build did.
#[derive(Debug)]
pub struct BuildReport {
    pub diagnostics: Diagnostics,
    /// Files of the site; 0 when content errors stopped the build.
    pub files: usize,
    /// What was written to disk: only the files that changed, none when
    /// nothing did (see [`write::Output`]).
    pub written: write::Outcome,
    pub services: usize,
    pub timings: Timings,
}

/// Builds the guide into `output`. Content errors are reported in the
/// `BuildReport` (and nothing is written); I/O and theme errors are `Err`.
pub fn build(opts: &Options, output: &Path) -> Result<BuildReport> {
    let mut timings = Timings::default();
    let mut diags = Diagnostics::default();
    let t = Instant::now();
    let site = load_site(opts, &mut diags);
    timings.load_parse_validate = t.elapsed();
    let Some(site) = site.filter(|_| !diags.has_errors()) else {
        return Ok(BuildReport {
            diagnostics: diags,
            files: 0,
            written: write::Outcome {
                written: 0,
                replaced: false,
            },
            services: 0,
            timings,
        });
    };
    let tera = render::load_templates(&opts.theme)?;
    let target = write::Output::open(output, opts.full_write)?;
    if let write::Output::Staging(..) = target {
        // The folders of the pages at once, before they are written in parallel.
        let paths: Vec<String> = render::all_editions(&site)
            .iter()
            .flat_map(|(edition, ids)| ids.iter().map(|&id| render::page_file(edition, id)))
            .collect();
        target.create_dirs(paths.iter().map(String::as_str))?;
    }
    let written = write_site(&site, &tera, opts, false, &target, &mut timings)?;
    let t = Instant::now();
    let outcome = target
        .commit(written.files)
        .with_context(|| format!("writing the site to {}", output.display()))?;
    timings.write = t.elapsed();
    Ok(BuildReport {
        diagnostics: diags,
        files: written.files,
        written: outcome,
        services: site.services.len(),
        timings,
    })
}

/// For unit tests: the options of the example guide in `content/` with the
/// default theme, and the guide loaded, free of errors.
#[cfg(test)]
pub(crate) fn example_guide() -> (Options, Site) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let opts = Options::new(root.join("content"), root.join("themes/default"));
    let mut diags = Diagnostics::default();
    let site = load_site(&opts, &mut diags).expect("the example guide loads");
    assert!(!diags.has_errors(), "{diags:?}");
    (opts, site)
}
