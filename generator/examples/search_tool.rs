//! Helpers for the search tests and benchmark (tests/search/):
//!
//!     search_tool vocab [CONTENT [THEME]]   every word the index reads, as JSON lines
//!                                           [folded word, term or null, Snowball stem]
//!     search_tool vocab-en [CONTENT [THEME]] the same for the English edition's index
//!     search_tool stem < WORDS              Snowball stems of words (one a line) as JSON lines
//!     search_tool stem-en < WORDS           the same with Snowball English
//!     search_tool time CONTENT              times SearchIndex::build and files()
//!     search_tool synth DIR N               writes a synthetic guide of N services into DIR
//!                                           (the build benchmark's generator)

#[allow(dead_code)]
#[path = "../benches/synth/mod.rs"]
mod synth;

use std::io::Write as _;
use std::path::PathBuf;

use sportello_guide::diagnostics::Diagnostics;
use sportello_guide::index;
use sportello_guide::{load_site, Options};

// The same allocator as the `sportello` binary, so timings compare.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some(cmd @ ("vocab" | "vocab-en")) => {
            let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
            let content = args.get(1).map_or(root.join("content"), PathBuf::from);
            let theme = args
                .get(2)
                .map_or(root.join("themes/default"), PathBuf::from);
            let mut diags = Diagnostics::default();
            let Some(site) = load_site(&Options::new(content, theme), &mut diags) else {
                eprintln!("the guide does not load");
                std::process::exit(1);
            };
            let site = if cmd == "vocab-en" {
                let Some(en) = site.translation else {
                    eprintln!("the guide has no English edition");
                    std::process::exit(1);
                };
                *en
            } else {
                site
            };
            let idx = index::build(&site);
            let out = std::io::stdout();
            let mut out = out.lock();
            for (word, term) in idx.vocabulary(&index::collection(&site)) {
                let stem = idx.pipeline().snowball(&word);
                let line = serde_json::to_string(&(word, term, stem)).expect("JSON");
                writeln!(out, "{line}").expect("stdout");
            }
        }
        Some(cmd @ ("stem" | "stem-en")) => {
            use sportello_search::text::{Lang, Pipeline};
            let lang = if cmd == "stem-en" {
                Lang::English
            } else {
                Lang::Italian
            };
            let p = Pipeline::for_lang(lang, &[]);
            let out = std::io::stdout();
            let mut out = out.lock();
            for line in std::io::stdin().lines() {
                let word = line.expect("stdin");
                let line = serde_json::to_string(&(&word, p.snowball(&word))).expect("JSON");
                writeln!(out, "{line}").expect("stdout");
            }
        }
        Some("time") if args.len() == 2 => {
            let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
            let mut diags = Diagnostics::default();
            let opts = Options::new(PathBuf::from(&args[1]), root.join("themes/default"));
            let site = load_site(&opts, &mut diags).expect("the guide loads");
            for _ in 0..3 {
                let t = std::time::Instant::now();
                let idx = index::build(&site);
                let built = t.elapsed();
                let files = idx.files();
                println!(
                    "{} services: tokenise {built:.1?}, files {:.1?} ({} files)",
                    site.services.len(),
                    t.elapsed() - built,
                    files.len()
                );
            }
        }
        Some("synth") if args.len() == 3 => {
            let n: usize = args[2].parse().expect("N is a number");
            synth::write_guide(&PathBuf::from(&args[1]), n);
        }
        _ => {
            eprintln!("usage: search_tool vocab[-en] [CONTENT [THEME]] | stem[-en] | time CONTENT | synth DIR N");
            std::process::exit(2);
        }
    }
}
