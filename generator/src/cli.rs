//! Command-line interface: `sportello build | check | new`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Args, Parser, Subcommand};

use crate::diagnostics::Diagnostics;
use crate::{build, load_site, scaffold, Options};

#[derive(Debug, Parser)]
#[command(
    name = "sportello",
    version,
    about = "Builds the searchable guide to social services from Markdown entries",
    after_help = "Examples:\n  sportello build                      build content/ into public/\n  sportello check                      report every content error, write nothing\n  sportello serve --open               preview, rebuilding as you save\n  sportello new service telesoccorso   start a new service entry"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build the guide into the output directory.
    Build {
        #[command(flatten)]
        dirs: Dirs,
        /// Output directory, replaced atomically.
        #[arg(long, short, default_value = "public")]
        output: PathBuf,
        /// Public address of the guide; overrides `base_url` of site.toml.
        #[arg(long, value_name = "URL")]
        base_url: Option<String>,
        /// Print how long each step took.
        #[arg(long)]
        timings: bool,
        /// Leave out the search index (the build benchmark uses it to
        /// measure what the index costs; the guide's search needs it).
        #[arg(long, hide = true)]
        no_search_index: bool,
    },
    /// Build, serve on 127.0.0.1 and rebuild as files change, reloading the open page.
    Serve {
        #[command(flatten)]
        dirs: Dirs,
        /// Port on 127.0.0.1; 0 picks a free one.
        #[arg(long, short, default_value_t = 1111)]
        port: u16,
        /// Open the guide in the default browser.
        #[arg(long)]
        open: bool,
    },
    /// Check the content and report every error and warning; write nothing.
    Check {
        #[command(flatten)]
        dirs: Dirs,
    },
    /// Create a new entry with every section ready to fill in.
    New {
        #[command(subcommand)]
        what: NewWhat,
    },
}

#[derive(Debug, Args)]
pub struct Dirs {
    /// Content directory (site.toml, services/, offices/, …).
    #[arg(long, default_value = "content", value_name = "DIR")]
    pub content: PathBuf,
    /// Theme directory (templates/, static/, i18n/).
    #[arg(long, default_value = "themes/default", value_name = "DIR")]
    pub theme: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum NewWhat {
    /// A service entry: content/services/SLUG.md.
    Service {
        /// File name without `.md`: lowercase letters, digits and hyphens.
        slug: String,
        #[command(flatten)]
        dirs: Dirs,
    },
}

fn color() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

fn print_diagnostics(diags: &Diagnostics) {
    if diags.iter().next().is_some() {
        eprint!("{}", diags.render(color()));
    }
}

/// Runs a parsed command line; the exit code is 0 on success, 1 on content
/// errors and 2 on other failures.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Build {
            dirs,
            output,
            base_url,
            timings,
            no_search_index,
        } => {
            let mut opts = Options::new(dirs.content, dirs.theme);
            opts.base_url = base_url;
            opts.search_index = !no_search_index;
            let start = Instant::now();
            match build(&opts, &output) {
                Ok(report) => {
                    print_diagnostics(&report.diagnostics);
                    if report.diagnostics.has_errors() {
                        eprintln!(
                            "build stopped: fix the errors above; {} was left as it was",
                            output.display()
                        );
                        return ExitCode::from(1);
                    }
                    eprintln!(
                        "built {} services, {} files into {} in {:.0?}",
                        report.services,
                        report.files,
                        output.display(),
                        start.elapsed()
                    );
                    if timings {
                        let t = &report.timings;
                        eprintln!(
                            "  load+parse+validate {:.1?}, render+write pages {:.1?} (search index alongside {:.1?}), other files {:.1?}, commit {:.1?}",
                            t.load_parse_validate, t.render, t.index, t.export, t.write
                        );
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Serve { dirs, port, open } => {
            let opts = crate::serve::ServeOptions {
                content: dirs.content,
                theme: dirs.theme,
                port,
                open,
            };
            match crate::serve::run(opts) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Check { dirs } => {
            let opts = Options::new(dirs.content, dirs.theme);
            let mut diags = Diagnostics::default();
            let site = load_site(&opts, &mut diags);
            print_diagnostics(&diags);
            if diags.has_errors() || site.is_none() {
                ExitCode::from(1)
            } else {
                let n = site.map_or(0, |s| s.services.len());
                eprintln!("ok: {n} services, {} warnings", diags.warning_count());
                ExitCode::SUCCESS
            }
        }
        Command::New {
            what: NewWhat::Service { slug, dirs },
        } => match scaffold::new_service(&dirs.content, &dirs.theme, &slug) {
            Ok(path) => {
                eprintln!(
                    "created {}: fill in every section, then run `sportello check`",
                    path.display()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::from(2)
            }
        },
    }
}
