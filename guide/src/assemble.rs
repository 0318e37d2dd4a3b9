//! Steps 1 to 3 together: the content folder read ([`crate::load`]), each
//! file parsed ([`crate::parse`]) and the whole checked and assembled into a
//! [`Site`] ([`crate::validate`]), with the theme's language files and the
//! English edition when there is one.

use std::path::Path;

use rayon::prelude::*;

use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::language::Language;
use crate::model::{Site, SiteInfo};
use crate::parse::front::{SiteConfig, SynonymsFile, TaxonomyFile};
use crate::parse::{self, parse_toml, parse_toml_strict};
use crate::urls::Urls;
use crate::{edition, index, load, opendata, validate, Options};

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
