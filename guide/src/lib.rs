//! `sportello-guide`: the public guide to social services, from Markdown
//! entries to the files of a static site. The `sportello` binary (command
//! line and `serve`) is a thin layer over it.
//!
//! The modules follow the data: [`load`] reads files, [`parse`] turns them
//! into front matter and HTML sections, [`validate`] checks the content model
//! and resolves references into the [`model::Site`], [`render`] applies the
//! theme, [`export`] writes the files for machines and [`write`](mod@write) puts it all
//! on disk. [`load_site`] runs the steps up to the model (in `assemble.rs`),
//! [`build`] all of them. [`diagnostics`] carries every problem to the editor
//! with its file, line, column and a hint.

mod assemble;
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

use diagnostics::Diagnostics;
use model::Site;

pub use assemble::{load_site, load_site_with_links};

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
    /// Called on every thread of the pool, and on the calling one, once a
    /// build has read, parsed and checked the content and freed the
    /// sources: the binary passes its allocator's collect, so that the
    /// memory goes back to the system before the pages are made.
    pub after_load: Option<fn()>,
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
            after_load: None,
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
/// they are rendered; meanwhile, on the same pool, the search index is
/// built and then the static files and the files for machines are
/// written, so a build never holds the whole site in memory and no core
/// waits for a serial step.
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
    let index_files = || -> Result<(usize, Option<index::SearchIndex>, Duration)> {
        let t = Instant::now();
        if !opts.search_index {
            return Ok((0, None, t.elapsed()));
        }
        let (files, index) = if keep_index {
            // Encoded through `edit` so that later edits can patch the files.
            let mut index = index::build(site);
            let files = index
                .edit(&index::collection(site), &[] as &[&str], true)
                .written;
            (files, Some(index))
        } else {
            (index::files(site), None)
        };
        for (path, bytes) in &files {
            sink.put(path, bytes)?;
        }
        // The English edition's own index, of its English text, under
        // `search/en/` (serve rebuilds it whole with the edition).
        let mut count = files.len();
        if let Some(en) = &site.translation {
            for (path, bytes) in &index::files(en) {
                sink.put(path, bytes)?;
                count += 1;
            }
        }
        Ok((count, index, t.elapsed()))
    };
    // The files for machines and the open data after the index (whose
    // memory is then free), on the same threads as the pages, so that no
    // core waits for the export's serial parts.
    let machine_files = || -> Result<(usize, Duration)> {
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
        Ok((statics.len(), t.elapsed()))
    };
    let (pages, (index, machine)) = rayon::join(
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
                    sink.put(path, html)
                })?;
            }
            Ok(t.elapsed())
        },
        || {
            let index = index_files();
            (index, machine_files())
        },
    );
    timings.render = pages?;
    let (index_files, index, index_time) = index?;
    timings.index = index_time;
    let (statics, export_time) = machine?;
    timings.export = export_time;
    Ok(Written {
        files: pages_count + index_files + statics + export::file_count(),
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
    if let Some(release) = opts.after_load {
        rayon::broadcast(|_| release());
        release();
    }
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    static RELEASED: AtomicUsize = AtomicUsize::new(0);

    fn count() {
        RELEASED.fetch_add(1, Ordering::Relaxed);
    }

    /// The allocator's hook runs on every thread of the pool and on the
    /// caller, once per build.
    #[test]
    fn a_build_calls_after_load_on_every_thread() {
        let (mut opts, _) = example_guide();
        opts.after_load = Some(count);
        let out = tempfile::tempdir().unwrap();
        let report = build(&opts, &out.path().join("public")).unwrap();
        assert!(!report.diagnostics.has_errors());
        assert_eq!(
            RELEASED.load(Ordering::Relaxed),
            rayon::current_num_threads() + 1
        );
    }
}
