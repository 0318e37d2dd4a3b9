//! `sportello serve`: build, serve on 127.0.0.1, watch the content and the
//! theme, rebuild what changed and reload the open page.

pub use sportello_guide::live;

mod burst;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::{mpsc, Arc, Mutex};
use std::time::Instant;

use anyhow::{Context as _, Result};
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use notify::{RecursiveMode, Watcher};
use tokio::sync::broadcast;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::StreamExt;

pub use live::{draft_note, Change, Live, Outcome, DRAFT_NOTE_FALLBACK, DRAFT_NOTE_START};
use sportello_guide::Options;

/// The tag `serve` adds before `</body>` of every HTML page it serves.
/// Never written by `build`.
pub const RELOAD_SNIPPET: &str = "<script src=\"/__sportello/live.js\"></script>";

const LIVE_JS: &str = include_str!("live.js");

#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub content: PathBuf,
    pub theme: PathBuf,
    /// 0 picks a free port.
    pub port: u16,
    /// 127.0.0.1 unless the editor asks (`--bind 0.0.0.0` to preview on a phone).
    pub bind: std::net::IpAddr,
    pub open: bool,
}

/// One complete generation of the site, as requests see it. The rebuild
/// thread works on its own [`Live`] and publishes a new snapshot when done,
/// so a request never waits for a rebuild and never sees half of one.
#[derive(Default)]
struct Snapshot {
    /// Incremented after each rebuild, for `/__sportello/status`.
    generation: u64,
    files: BTreeMap<Arc<str>, Arc<[u8]>>,
    /// Served paths of the pages of drafts, with the note that marks them.
    drafts: BTreeMap<String, Arc<str>>,
    /// Errors of the current content (or of the last rebuild), for the overlay.
    errors: Option<String>,
    warnings: Option<String>,
    /// The open data in `files` predates the last edit: asked for, it is made again first.
    open_data_stale: bool,
}

impl Snapshot {
    fn of(live: &Live, generation: u64) -> Snapshot {
        Snapshot {
            generation,
            files: live.files.clone(),
            drafts: live.draft_pages(),
            errors: live.errors.clone(),
            warnings: live.warnings_report(),
            open_data_stale: live.open_data_is_stale(),
        }
    }
}

/// What the rebuild thread is asked to do.
enum Work {
    /// What the watcher saw happen.
    Event(notify::Event),
    /// Make the open data of the current generation, then answer.
    OpenData(tokio::sync::oneshot::Sender<()>),
}

/// What the HTTP side shares with the rebuild thread.
struct Shared {
    /// Locked only to clone or to replace the `Arc`, never during a rebuild.
    snapshot: Mutex<Arc<Snapshot>>,
    events: broadcast::Sender<Message>,
    work: Mutex<mpsc::Sender<Work>>,
}

impl Shared {
    fn current(&self) -> Arc<Snapshot> {
        self.snapshot
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn publish(&self, snapshot: Snapshot) {
        *self.snapshot.lock().unwrap_or_else(|e| e.into_inner()) = Arc::new(snapshot);
    }
}

#[derive(Debug, Clone)]
enum Message {
    Reload,
    Errors(String),
    /// The warnings after a rebuild (empty: none left).
    Warnings(String),
}

/// Runs until Ctrl-C.
pub fn run(opts: ServeOptions) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(serve(opts))
}

async fn serve(opts: ServeOptions) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(SocketAddr::new(opts.bind, opts.port))
        .await
        .with_context(|| {
            format!(
                "cannot listen on {}:{} (is another serve running? try --port)",
                opts.bind, opts.port
            )
        })?;
    let addr = listener.local_addr()?;
    let base = format!("http://{addr}");

    let mut build_opts = Options::new(&opts.content, &opts.theme);
    // Links are root-relative, so the pages also work when reached by
    // another address of this machine (a phone on the same network).
    build_opts.base_url = Some(base.clone());
    // The editor sees drafts while writing them, marked as such.
    build_opts.drafts = true;
    let (live, outcome) = Live::new(build_opts);
    report(&outcome);
    // With errors the report above has the warnings already.
    let mut last_warnings = live.warnings_report();
    if let (Some(w), false) = (&last_warnings, matches!(outcome, Outcome::Errors { .. })) {
        eprint!("{w}");
    }
    let (events, _) = broadcast::channel(16);
    // Watch before saying "serving", so no save after that line is missed.
    let (tx, rx) = mpsc::channel();
    let watcher = start_watcher(&opts.content, &opts.theme, tx.clone())?;
    let shared = Arc::new(Shared {
        snapshot: Mutex::new(Arc::new(Snapshot::of(&live, 1))),
        events,
        work: Mutex::new(tx),
    });
    let watch_shared = shared.clone();
    std::thread::Builder::new()
        .name("rebuild".into())
        .spawn(move || {
            let _watcher = watcher;
            rebuild_loop(live, watch_shared, rx, &mut last_warnings);
        })
        .context("starting the watcher")?;

    let app = Router::new()
        .route("/__sportello/live.js", get(live_js))
        .route("/__sportello/events", get(events_stream))
        .route("/__sportello/status", get(status))
        .route("/__sportello/files", get(file_list))
        .fallback(get(page))
        .with_state(shared);
    eprintln!(
        "serving {base}/ (Ctrl-C to stop); watching {} and {}",
        opts.content.display(),
        opts.theme.display()
    );
    if opts.open {
        // Best effort: a missing opener is not an error.
        let _ = std::process::Command::new("xdg-open")
            .arg(format!("{base}/"))
            .spawn();
    }
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("serving")?;
    Ok(())
}

/// Watches both folders; changed paths go to `tx`.
fn start_watcher(
    content: &std::path::Path,
    theme: &std::path::Path,
    tx: mpsc::Sender<Work>,
) -> Result<notify::RecommendedWatcher> {
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        // Reads are dropped here: a full rebuild reads every entry.
        if let Ok(e) = res {
            if !burst::is_read(&e.kind) {
                let _ = tx.send(Work::Event(e));
            }
        }
    })?;
    watcher
        .watch(content, RecursiveMode::Recursive)
        .with_context(|| format!("watching {}", content.display()))?;
    watcher
        .watch(theme, RecursiveMode::Recursive)
        .with_context(|| format!("watching {}", theme.display()))?;
    Ok(watcher)
}

/// Gathers bursts of events and applies them, one rebuild per burst, on
/// the rebuild thread's own state; each result is published as a snapshot.
fn rebuild_loop(
    mut live: Live,
    shared: Arc<Shared>,
    rx: mpsc::Receiver<Work>,
    last_warnings: &mut Option<String>,
) {
    let mut generation = 1;
    let mut waiting: Vec<tokio::sync::oneshot::Sender<()>> = Vec::new();
    while let Ok(first) = rx.recv() {
        let mut burst = burst::Burst::default();
        match first {
            Work::Event(e) => {
                burst.add(&e);
            }
            Work::OpenData(done) => waiting.push(done),
        }
        let started = Instant::now();
        // Editors save in several steps (temporary file, rename): wait for quiet.
        while !burst.is_empty() && started.elapsed() < burst::DEBOUNCE_MAX {
            match rx.recv_timeout(burst.quiet()) {
                Ok(Work::Event(e)) => {
                    burst.add(&e);
                }
                Ok(Work::OpenData(done)) => waiting.push(done),
                Err(mpsc::RecvTimeoutError::Timeout) => break,
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            }
        }
        let mut changes: BTreeSet<Change> = burst
            .paths
            .iter()
            .filter_map(|p| live.classify(p))
            .collect();
        if burst.missed {
            changes.insert(Change::Global(
                "every file (the watcher lost events)".into(),
            ));
        }
        if !changes.is_empty() {
            let outcome = rebuild(&mut live, &changes.into_iter().collect::<Vec<_>>());
            generation += 1;
            let mut next = Snapshot::of(&live, generation);
            let warnings = next.warnings.clone();
            if let Outcome::Failed { error, .. } = &outcome {
                next.errors = Some(format!("error: {error}\n"));
            }
            if matches!(outcome, Outcome::Errors { .. } | Outcome::Failed { .. }) {
                // The last good site stays served, with the errors in the overlay.
                let last = shared.current();
                // After a panic the rebuild's own files may be half-updated too.
                live.files = last.files.clone();
                next.files = last.files.clone();
                next.drafts = last.drafts.clone();
                next.open_data_stale = last.open_data_stale;
            }
            shared.publish(next);
            announce(&shared, &outcome, warnings, last_warnings);
        }
        if !waiting.is_empty() {
            let current = shared.current();
            if current.open_data_stale {
                live.refresh_open_data();
                shared.publish(Snapshot::of(&live, current.generation));
            }
            for done in waiting.drain(..) {
                let _ = done.send(());
            }
        }
    }
}

/// Applies changes; a panic while doing so is an error like a broken
/// theme: the last good site stays served and the next change rebuilds all.
fn rebuild(live: &mut Live, changes: &[Change]) -> Outcome {
    match catch_unwind(AssertUnwindSafe(|| live.apply(changes))) {
        Ok(outcome) => outcome,
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown cause".into());
            live.forget_after_panic();
            Outcome::Failed {
                what: live::describe(changes),
                error: format!(
                    "the rebuild stopped unexpectedly ({message}); the last good version is still served, and the next save rebuilds everything"
                ),
            }
        }
    }
}

/// Tells the terminal and the open pages what a rebuild did.
fn announce(
    shared: &Shared,
    outcome: &Outcome,
    warnings: Option<String>,
    last_warnings: &mut Option<String>,
) {
    report(outcome);
    // Warnings are printed when they change, not after every save.
    if warnings != *last_warnings && !matches!(outcome, Outcome::Errors { .. }) {
        match &warnings {
            Some(w) => eprint!("{w}"),
            None => eprintln!("no warnings left"),
        }
        let _ = shared
            .events
            .send(Message::Warnings(warnings.clone().unwrap_or_default()));
        *last_warnings = warnings;
    }
    let msg = match outcome {
        Outcome::Errors { report, .. } => Message::Errors(report.clone()),
        Outcome::Failed { error, .. } => Message::Errors(format!("error: {error}")),
        Outcome::Updated { .. } | Outcome::Unchanged { .. } => Message::Reload,
    };
    let _ = shared.events.send(msg);
}

/// One line per rebuild; the whole report when there are errors.
fn report(outcome: &Outcome) {
    let now = time::OffsetDateTime::now_utc();
    let clock = format!("{:02}:{:02}:{:02}", now.hour(), now.minute(), now.second());
    match outcome {
        Outcome::Updated {
            what,
            files,
            took,
            full,
        } => eprintln!(
            "{clock} {what}: {}{files} files updated in {:.1?}",
            if *full { "full rebuild, " } else { "" },
            took
        ),
        Outcome::Unchanged { what, took } => eprintln!("{clock} {what}: no change ({took:.1?})"),
        Outcome::Errors { what, report } => {
            eprint!("{report}");
            eprintln!("{clock} {what}: errors above; the last good version is still served");
        }
        Outcome::Failed { what, error } => eprintln!("{clock} {what}: error: {error}"),
    }
}

async fn live_js() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        LIVE_JS,
    )
        .into_response()
}

async fn status(State(shared): State<Arc<Shared>>) -> Response {
    let now = shared.current();
    let body = format!(
        "{{\"generation\":{},\"errors\":{}}}",
        now.generation,
        now.errors.is_some()
    );
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Every served path of the current generation, one a line (for tests and tools).
async fn file_list(State(shared): State<Arc<Shared>>) -> Response {
    let now = shared.current();
    let mut body = String::new();
    for path in now.files.keys() {
        body.push_str(path.as_ref());
        body.push('\n');
    }
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
}

async fn events_stream(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    // A page opened while the content has errors shows them at once, and its warnings.
    let now = shared.current();
    let (current, warnings) = (now.errors.clone(), now.warnings.clone());
    let first = tokio_stream::iter(
        current
            .map(|r| Ok(Event::default().event("errors").data(r)))
            .into_iter()
            .chain(warnings.map(|w| Ok(Event::default().event("warnings").data(w)))),
    );
    let updates = BroadcastStream::new(shared.events.subscribe()).filter_map(|m| match m {
        Ok(Message::Reload) => Some(Ok::<_, std::convert::Infallible>(
            Event::default().event("reload").data("reload"),
        )),
        Ok(Message::Errors(r)) => Some(Ok(Event::default().event("errors").data(r))),
        Ok(Message::Warnings(w)) => Some(Ok(Event::default().event("warnings").data(w))),
        Err(_) => None,
    });
    Sse::new(first.chain(updates)).keep_alive(KeepAlive::default())
}

async fn page(State(shared): State<Arc<Shared>>, uri: Uri) -> Response {
    let rel = uri.path().trim_start_matches('/');
    let key = if rel.is_empty() || rel.ends_with('/') {
        format!("{rel}index.html")
    } else {
        rel.to_string()
    };
    let mut now = shared.current();
    if now.open_data_stale && key.starts_with("opendata/") {
        // Only this request waits, for the rebuild thread to make the open data.
        let (done, wait) = tokio::sync::oneshot::channel();
        let sent = shared
            .work
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .send(Work::OpenData(done));
        if sent.is_ok() {
            let _ = wait.await;
        }
        now = shared.current();
    }
    let found = now.files.get(key.as_str()).cloned();
    let redirect = found.is_none() && now.files.contains_key(format!("{rel}/index.html").as_str());
    let not_found = now.files.get("404.html").cloned();
    let draft = found.as_ref().and_then(|_| now.drafts.get(&key)).cloned();
    if redirect {
        return Response::builder()
            .status(StatusCode::MOVED_PERMANENTLY)
            .header(header::LOCATION, format!("/{rel}/"))
            .body(Body::empty())
            .unwrap_or_default();
    }
    let (status, key, bytes) = match found {
        Some(b) => (StatusCode::OK, key, b),
        None => match not_found {
            Some(b) => (StatusCode::NOT_FOUND, "404.html".to_string(), b),
            // No good build yet (the content had errors from the start): a
            // page that shows them and reloads once they are fixed.
            None => return no_site_page(),
        },
    };
    let mime = content_type(&key);
    let body = if mime.starts_with("text/html") {
        let html = inject_reload(&bytes);
        Body::from(match draft {
            Some(note) => mark_draft(&html, &note),
            None => html,
        })
    } else {
        Body::from(bytes.to_vec())
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

fn no_site_page() -> Response {
    let html = "<!DOCTYPE html><html lang=\"it\"><head><meta charset=\"utf-8\">\
        <title>Sportello: errori nel contenuto</title></head><body>\
        <h1>La guida non si può ancora costruire</h1>\
        <p>Correggi gli errori indicati nel terminale: la pagina si ricarica da sola.</p>\
        </body></html>";
    let mut resp = Response::new(Body::from(inject_reload(html.as_bytes())));
    *resp.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    resp
}

fn inject_reload(html: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(html);
    match text.rfind("</body>") {
        Some(i) => format!("{}{RELOAD_SNIPPET}{}", &text[..i], &text[i..]).into_bytes(),
        None => format!("{text}{RELOAD_SNIPPET}").into_bytes(),
    }
}

/// Puts the draft notice first in `<body>`, where a screen reader meets it.
fn mark_draft(html: &[u8], note: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(html);
    let at = text
        .find("<body")
        .and_then(|i| text[i..].find('>').map(|j| i + j + 1));
    match at {
        Some(i) => format!("{}{note}{}", &text[..i], &text[i..]).into_bytes(),
        None => html.to_vec(),
    }
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or_default() {
        "html" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "xml" if path.ends_with("feed.xml") => "application/atom+xml",
        "xml" => "application/xml",
        "txt" => "text/plain; charset=utf-8",
        "png" => "image/png",
        "woff2" => "font/woff2",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reload_script_goes_before_the_end_of_body() {
        let out = inject_reload(b"<html><body><p>x</p></body></html>");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!("<html><body><p>x</p>{RELOAD_SNIPPET}</body></html>")
        );
    }
}
