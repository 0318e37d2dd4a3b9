//! Command-line interface: `sportello build | check | serve | new | init`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Args, Parser, Subcommand};

use sportello_guide::diagnostics::{Diagnostics, Verbosity};
use sportello_guide::scaffold::{self, EntryKind};
use sportello_guide::{build, load_site, Options};

/// Exit code of a run whose content has errors.
pub const EXIT_CONTENT: u8 = 1;
/// Exit code of every other failure: a missing theme or folder, a disk error…
pub const EXIT_OTHER: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "sportello",
    version,
    about = "Builds the searchable guide to social services from Markdown entries",
    after_help = "Examples:\n  sportello init guida                 start a new guide in guida/\n  sportello check                      report every content error, write nothing\n  sportello build                      build content/ into public/\n  sportello serve --open               preview, rebuilding as you save\n  sportello new service telesoccorso   start a new service entry (a draft)\n\nExit codes:\n  0  success\n  1  the content has errors (each is printed with file:line:column and a hint)\n  2  anything else: no theme or content folder, a file that cannot be written…"
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
        /// Publish entries with `draft = true` too.
        #[arg(long)]
        drafts: bool,
        #[command(flatten)]
        out: Output,
        /// Print how long each step took.
        #[arg(long)]
        timings: bool,
        /// Leave out the search index (the build benchmark uses it to
        /// measure what the index costs; the guide's search needs it).
        #[arg(long, hide = true)]
        no_search_index: bool,
        /// Write every file into a fresh folder, as builds did before only
        /// changes were written (the build benchmark compares the two).
        #[arg(long, hide = true)]
        full_write: bool,
    },
    /// Build, serve and rebuild as files change, reloading the open page; drafts are shown, marked.
    #[cfg(feature = "serve")]
    Serve {
        #[command(flatten)]
        dirs: Dirs,
        /// Port; 0 picks a free one.
        #[arg(long, short, default_value_t = 1111)]
        port: u16,
        /// Address to listen on: 0.0.0.0 to preview on a phone in the same network.
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1")]
        bind: std::net::IpAddr,
        /// Open the guide in the default browser.
        #[arg(long)]
        open: bool,
    },
    /// Check the content and report every error and warning; write nothing.
    Check {
        #[command(flatten)]
        dirs: Dirs,
        #[command(flatten)]
        out: Output,
    },
    /// Create a new entry, as a draft, with every field and section ready to fill in.
    New {
        #[command(subcommand)]
        what: NewWhat,
    },
    /// Create a new guide in DIR (content/ with one entry of each kind, and the theme) that builds at once.
    Init {
        /// A new or empty directory.
        dir: PathBuf,
        /// The theme to copy into DIR/themes/default.
        #[arg(long, default_value = "themes/default", value_name = "DIR")]
        theme: PathBuf,
    },
}

impl Command {
    /// Whether the command keeps running (`serve`) rather than doing one
    /// job and exiting.
    pub fn keeps_running(&self) -> bool {
        #[cfg(feature = "serve")]
        if matches!(self, Command::Serve { .. }) {
            return true;
        }
        false
    }
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

#[derive(Debug, Args)]
pub struct Output {
    /// Print every warning, not a few of each kind.
    #[arg(long, conflicts_with = "quiet")]
    pub verbose: bool,
    /// Print errors only, and the number of warnings.
    #[arg(long, short)]
    pub quiet: bool,
}

impl Output {
    fn verbosity(&self) -> Verbosity {
        match (self.verbose, self.quiet) {
            (true, _) => Verbosity::All,
            (_, true) => Verbosity::Quiet,
            _ => Verbosity::Summary,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum NewWhat {
    /// A service: content/services/SLUG.md.
    Service(NewArgs),
    /// An office responsible for services: content/offices/SLUG.md.
    Office(NewArgs),
    /// A help desk: content/desks/SLUG.md.
    Desk(NewArgs),
    /// A free page: content/pages/SLUG.md.
    Page(NewArgs),
}

#[derive(Debug, Args)]
pub struct NewArgs {
    /// File name without `.md`: lowercase letters, digits and hyphens.
    slug: String,
    #[command(flatten)]
    dirs: Dirs,
}

fn color() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

fn print_diagnostics(diags: &Diagnostics, verbosity: Verbosity) {
    if diags.iter().next().is_some() {
        // One write: thousands of warnings cost one system call, not thousands.
        let text = diags.render_with(color(), verbosity);
        use std::io::Write as _;
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
    }
}

/// Failures that are not about the content: exit code 2.
fn other_failure(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(EXIT_OTHER)
}

/// The folders must exist before anything is read: a wrong path is not a content error.
fn check_dirs(dirs: &Dirs) -> Result<(), ExitCode> {
    if !dirs.theme.is_dir() {
        return Err(other_failure(format!(
            "no theme at {}: run from the guide's folder, or pass --theme DIR",
            dirs.theme.display()
        )));
    }
    if !dirs.content.is_dir() {
        return Err(other_failure(format!(
            "no content folder at {}: run from the guide's folder, pass --content DIR, or start one with `sportello init DIR`",
            dirs.content.display()
        )));
    }
    Ok(())
}

/// Runs a parsed command line; the exit code is 0 on success, 1 on content
/// errors and 2 on other failures.
/// Runs `cli`. `release` gives freed memory back to the system (the
/// binary's allocator knows how); a build calls it once loading is done.
pub fn run(cli: Cli, release: fn()) -> ExitCode {
    match cli.command {
        Command::Build {
            dirs,
            output,
            base_url,
            drafts,
            out,
            timings,
            no_search_index,
            full_write,
        } => {
            if let Err(code) = check_dirs(&dirs) {
                return code;
            }
            let mut opts = Options::new(dirs.content, dirs.theme);
            opts.base_url = base_url;
            opts.search_index = !no_search_index;
            opts.drafts = drafts;
            opts.full_write = full_write;
            opts.after_load = Some(release);
            let start = Instant::now();
            match build(&opts, &output) {
                Ok(report) => {
                    print_diagnostics(&report.diagnostics, out.verbosity());
                    if report.diagnostics.has_errors() {
                        eprintln!(
                            "build stopped: fix the errors above; {} was left as it was",
                            output.display()
                        );
                        return ExitCode::from(EXIT_CONTENT);
                    }
                    let w = report.written;
                    eprintln!(
                        "built {} services, {} files into {} in {:.0?} ({})",
                        report.services,
                        report.files,
                        output.display(),
                        start.elapsed(),
                        if w.replaced {
                            format!("{} written", w.written)
                        } else {
                            "nothing changed".into()
                        }
                    );
                    if timings {
                        let t = &report.timings;
                        eprintln!(
                            "  load+parse+validate {:.1?}, render+write pages {:.1?} (alongside: search index {:.1?}, then the other files {:.1?}), commit {:.1?}",
                            t.load_parse_validate, t.render, t.index, t.export, t.write
                        );
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => other_failure(format!("{e:#}")),
            }
        }
        #[cfg(feature = "serve")]
        Command::Serve {
            dirs,
            port,
            bind,
            open,
        } => {
            if let Err(code) = check_dirs(&dirs) {
                return code;
            }
            let opts = crate::serve::ServeOptions {
                content: dirs.content,
                theme: dirs.theme,
                port,
                bind,
                open,
            };
            match crate::serve::run(opts) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => other_failure(format!("{e:#}")),
            }
        }
        Command::Check { dirs, out } => {
            if let Err(code) = check_dirs(&dirs) {
                return code;
            }
            let opts = Options::new(dirs.content, dirs.theme);
            let mut diags = Diagnostics::default();
            let site = load_site(&opts, &mut diags);
            print_diagnostics(&diags, out.verbosity());
            if diags.has_errors() || site.is_none() {
                ExitCode::from(EXIT_CONTENT)
            } else {
                let n = site.map_or(0, |s| s.services.len());
                eprintln!("ok: {n} services, {} warnings", diags.warning_count());
                ExitCode::SUCCESS
            }
        }
        Command::New { what } => {
            let (kind, args) = match what {
                NewWhat::Service(a) => (EntryKind::Service, a),
                NewWhat::Office(a) => (EntryKind::Office, a),
                NewWhat::Desk(a) => (EntryKind::Desk, a),
                NewWhat::Page(a) => (EntryKind::Page, a),
            };
            let NewArgs { slug, dirs } = args;
            match scaffold::new_entry(&dirs.content, &dirs.theme, kind, &slug) {
                Ok(path) => {
                    eprintln!(
                        "created {} as a draft: fill it in, remove `draft = true`, then run `sportello check`",
                        path.display()
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => other_failure(format!("{e:#}")),
            }
        }
        Command::Init { dir, theme } => match scaffold::init(&dir, &theme) {
            Ok(()) => {
                eprintln!(
                    "created a new guide in {d}: `cd {d}`, then `sportello serve --open`",
                    d = dir.display()
                );
                ExitCode::SUCCESS
            }
            Err(e) => other_failure(format!("{e:#}")),
        },
    }
}
