//! `sportello serve` over HTTP: edits, creates, deletes, renames, an invalid
//! edit and its fix, a theme change, a rebuild that panics; after every
//! step the served site is byte-identical to a fresh `build` into a folder,
//! in both directions.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use common::{copy_dir, theme, Site};
use sportello::serve::{DRAFT_NOTE_START, RELOAD_SNIPPET};

/// Every file under `dir`, by path relative to it with `/`.
fn read_tree(dir: &Path, prefix: &str, out: &mut BTreeMap<String, Vec<u8>>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let name = format!("{prefix}{}", e.file_name().to_string_lossy());
        if e.file_type().unwrap().is_dir() {
            read_tree(&e.path(), &format!("{name}/"), out);
        } else {
            out.insert(name, std::fs::read(e.path()).unwrap());
        }
    }
}

struct Server {
    child: Child,
    port: u16,
    /// What serve printed in the terminal so far.
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(content: &Path, theme: &Path) -> Server {
        Server::start_with(content, theme, &[])
    }

    fn start_with(content: &Path, theme: &Path, env: &[(&str, &str)]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sportello"))
            .envs(env.iter().copied())
            .arg("serve")
            .arg("--content")
            .arg(content)
            .arg("--theme")
            .arg(theme)
            .args(["--port", "0"])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log_w = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[serve] {line}");
                log_w.lock().unwrap().push(line.clone());
                if let Some(rest) = line.strip_prefix("serving http://127.0.0.1:") {
                    let port: u16 = rest.split('/').next().unwrap().parse().unwrap();
                    let _ = tx.send(port);
                }
            }
        });
        let port = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("serve did not start");
        Server { child, port, log }
    }

    fn printed(&self, what: &str) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(what))
            .count()
    }

    /// The events a newly opened page receives first (`event: …` and `data: …` lines).
    fn first_events(&self) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        write!(
            s,
            "GET /__sportello/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        )
        .unwrap();
        s.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let mut raw = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = s.read(&mut buf) {
            if n == 0 {
                break;
            }
            raw.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&raw).into_owned()
    }

    fn get(&self, path: &str) -> (u16, Vec<u8>) {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap();
        let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = String::from_utf8_lossy(&raw[..split]).to_string();
        let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
        (status, raw[split + 4..].to_vec())
    }

    fn text(&self, path: &str) -> String {
        let (status, body) = self.get(path);
        assert_eq!(status, 200, "{path}");
        String::from_utf8(body).unwrap()
    }

    fn status(&self) -> (u64, bool) {
        let s = self.text("/__sportello/status");
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        (
            v["generation"].as_u64().unwrap(),
            v["errors"].as_bool().unwrap(),
        )
    }

    /// The served site equals a fresh `sportello build` of the same content
    /// (with drafts, at serve's address) into a folder, byte for byte and
    /// in both directions: no file missing, none extra.
    fn assert_same_as_build(&self, content: &Path, theme: &Path, step: &str) {
        let out = tempfile::tempdir().unwrap();
        let public = out.path().join("public");
        let status = Command::new(env!("CARGO_BIN_EXE_sportello"))
            .arg("build")
            .arg("--content")
            .arg(content)
            .arg("--theme")
            .arg(theme)
            .arg("--output")
            .arg(&public)
            .arg("--drafts")
            .arg("--quiet")
            .args(["--base-url", &format!("http://127.0.0.1:{}", self.port)])
            .status()
            .unwrap();
        assert!(status.success(), "{step}: the build failed");
        let mut built = BTreeMap::new();
        read_tree(&public, "", &mut built);
        let served: BTreeSet<String> = self
            .text("/__sportello/files")
            .lines()
            .map(String::from)
            .collect();
        let missing: Vec<&String> = built.keys().filter(|p| !served.contains(*p)).collect();
        let extra: Vec<&String> = served.iter().filter(|p| !built.contains_key(*p)).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{step}: not served {missing:?}, served but not built {extra:?}"
        );
        let mut differ = Vec::new();
        for (path, bytes) in &built {
            let (status, body) = self.get(&format!("/{}", path.trim_end_matches("index.html")));
            let body = if path.ends_with(".html") {
                without_draft_note(&String::from_utf8(body).unwrap().replacen(
                    RELOAD_SNIPPET,
                    "",
                    1,
                ))
                .into_bytes()
            } else {
                body
            };
            if status != 200 || &body != bytes {
                differ.push(path.clone());
            }
        }
        assert!(
            differ.is_empty(),
            "{step}: served differs from the build: {differ:?}"
        );
    }

    /// Runs `change`, then waits for the rebuild it causes.
    /// Returns whether the content has errors afterwards.
    fn after(&self, change: impl FnOnce()) -> bool {
        let (before, _) = self.status();
        change();
        let start = Instant::now();
        loop {
            if self.status().0 > before {
                // Let a burst's last events settle into the same state.
                std::thread::sleep(Duration::from_millis(150));
                return self.status().1;
            }
            assert!(
                start.elapsed() < Duration::from_secs(15),
                "no rebuild after the change"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[test]
fn edits_creates_deletes_renames_errors_and_theme_match_a_full_build() {
    let site = Site::copy_of("valid");
    let theme_dir = tempfile::tempdir().unwrap();
    copy_dir(&theme(), theme_dir.path());
    let server = Server::start(&site.content(), theme_dir.path());
    server.assert_same_as_build(&site.content(), theme_dir.path(), "first build");
    let svc = "services/trasporto-sociale.md";

    // Edit: the service page, its category page and the A-Z list show it.
    let errors = server.after(|| {
        site.replace(
            svc,
            "title = \"Trasporto sociale\"",
            "title = \"Trasporto sociale solidale\"",
        )
    });
    assert!(!errors);
    server.assert_same_as_build(&site.content(), theme_dir.path(), "step 1");
    assert!(server
        .text("/servizi/trasporto-sociale/")
        .contains("<h1 data-element=\"service-title\">Trasporto sociale solidale</h1>"));
    assert!(server
        .text("/categorie/mobilita-trasporti/")
        .contains("Trasporto sociale solidale"));
    assert!(server
        .text("/servizi/")
        .contains("Trasporto sociale solidale"));
    // The reload script is injected by serve.
    assert!(server.text("/").contains(RELOAD_SNIPPET));

    // Create, as editors' tools do: write a temporary file, then rename it.
    let new_entry = site.read(svc).replace(
        "title = \"Trasporto sociale solidale\"",
        "title = \"Pasti a domicilio\"",
    );
    let errors = server.after(|| {
        site.write("services/.pasti.md.tmp", &new_entry);
        std::fs::rename(
            site.path("services/.pasti.md.tmp"),
            site.path("services/pasti.md"),
        )
        .unwrap();
    });
    assert!(!errors);
    server.assert_same_as_build(&site.content(), theme_dir.path(), "step 2");
    assert!(server.text("/servizi/pasti/").contains("Pasti a domicilio"));
    assert!(server
        .text("/destinatari/persone-con-disabilita/")
        .contains("/servizi/pasti/"));

    // A vim-style save: probe file, backup by rename, new file, backup removed.
    let errors = server.after(|| {
        site.write("services/4913", "");
        std::fs::remove_file(site.path("services/4913")).unwrap();
        std::fs::rename(
            site.path("services/pasti.md"),
            site.path("services/pasti.md~"),
        )
        .unwrap();
        site.write(
            "services/pasti.md",
            &new_entry.replace("title = \"Pasti a domicilio\"", "title = \"Pasti a casa\""),
        );
        std::fs::remove_file(site.path("services/pasti.md~")).unwrap();
    });
    assert!(!errors);
    server.assert_same_as_build(&site.content(), theme_dir.path(), "step 3");
    assert!(server.text("/servizi/pasti/").contains("Pasti a casa"));
    let errors = server.after(|| {
        site.replace(
            "services/pasti.md",
            "title = \"Pasti a casa\"",
            "title = \"Pasti a domicilio\"",
        )
    });
    assert!(!errors);
    server.assert_same_as_build(&site.content(), theme_dir.path(), "step 4");

    // Rename: the old address disappears, the new one appears.
    let errors = server.after(|| {
        std::fs::rename(
            site.path("services/pasti.md"),
            site.path("services/pasti-a-domicilio.md"),
        )
        .unwrap()
    });
    assert!(!errors);
    server.assert_same_as_build(&site.content(), theme_dir.path(), "step 5");
    assert_eq!(server.get("/servizi/pasti/").0, 404);
    assert!(server
        .text("/servizi/pasti-a-domicilio/")
        .contains("Pasti a domicilio"));

    // Invalid edit: the error is reported and the last good page stays.
    let errors = server.after(|| site.replace(svc, "title =", "tittle ="));
    assert!(errors);
    assert!(server
        .text("/servizi/trasporto-sociale/")
        .contains("Trasporto sociale solidale"));
    // ... and fixing it clears the error.
    let errors = server.after(|| {
        site.replace(
            svc,
            "tittle = \"Trasporto sociale solidale\"",
            "title = \"Trasporto sociale per tutti\"",
        )
    });
    assert!(!errors);
    server.assert_same_as_build(&site.content(), theme_dir.path(), "step 6");
    assert!(server
        .text("/servizi/trasporto-sociale/")
        .contains("Trasporto sociale per tutti"));

    // Deleting an entry that others link to is an error in those others.
    let linked = site.read(svc);
    let errors = server.after(|| std::fs::remove_file(site.path(svc)).unwrap());
    assert!(errors, "assistenza-domiciliare links to the deleted entry");
    assert_eq!(
        server.get("/servizi/trasporto-sociale/").0,
        200,
        "last good version kept"
    );
    let errors = server.after(|| site.write(svc, &linked));
    assert!(!errors);
    server.assert_same_as_build(&site.content(), theme_dir.path(), "step 7");

    // Delete an entry nobody links to.
    let errors =
        server.after(|| std::fs::remove_file(site.path("services/pasti-a-domicilio.md")).unwrap());
    assert!(!errors);
    server.assert_same_as_build(&site.content(), theme_dir.path(), "step 8");
    assert_eq!(server.get("/servizi/pasti-a-domicilio/").0, 404);

    // An office edit reaches the service pages that show its contacts.
    let errors = server.after(|| {
        site.replace(
            "offices/servizio-sociale.md",
            "name = \"Servizio sociale del Comune\"",
            "name = \"Servizio sociale comunale\"",
        )
    });
    assert!(!errors);
    server.assert_same_as_build(&site.content(), theme_dir.path(), "step 9");
    assert!(server
        .text("/servizi/assistenza-domiciliare/")
        .contains("Servizio sociale comunale"));

    // A new category in taxonomy.toml rebuilds everything and gets its page.
    let errors = server.after(|| {
        let mut text = site.read("taxonomy.toml");
        text.push_str("\n[[categories]]\nslug = \"vita-lavorativa\"\nname = \"Vita lavorativa\"\n");
        site.write("taxonomy.toml", &text);
    });
    assert!(!errors);
    server.assert_same_as_build(&site.content(), theme_dir.path(), "step 10");
    assert!(server
        .text("/categorie/vita-lavorativa/")
        .contains("Vita lavorativa"));

    // Theme change: everything is rebuilt with it.
    let css = theme_dir.path().join("static/style.css");
    let errors = server.after(|| {
        let mut text = std::fs::read_to_string(&css).unwrap();
        text.push_str("\n.test-marker { color: #000; }\n");
        std::fs::write(&css, text).unwrap();
    });
    assert!(!errors);
    server.assert_same_as_build(&site.content(), theme_dir.path(), "step 11");
    assert!(server.text("/style.css").contains(".test-marker"));
    let base = theme_dir.path().join("templates/base.html");
    let errors = server.after(|| {
        let text = std::fs::read_to_string(&base).unwrap().replace(
            "<footer class=\"site-footer\">",
            "<footer class=\"site-footer\" data-test=\"1\">",
        );
        std::fs::write(&base, text).unwrap();
    });
    assert!(!errors);
    server.assert_same_as_build(&site.content(), theme_dir.path(), "step 12");
    assert!(server
        .text("/servizi/assistenza-domiciliare/")
        .contains("data-test=\"1\""));
}

/// A rebuild that panics half-way (a test switch of debug builds makes it)
/// is reported like a content error: the last good site stays served, and
/// the next save rebuilds everything.
#[test]
fn a_rebuild_that_panics_keeps_the_last_good_site() {
    let site = Site::copy_of("valid");
    let svc = "services/trasporto-sociale.md";
    let server = Server::start_with(
        &site.content(),
        &theme(),
        &[("SPORTELLO_TEST_PANIC_ON", svc)],
    );
    let page = "/servizi/trasporto-sociale/";
    let before = server.get(page);
    let errors = server.after(|| {
        site.replace(
            svc,
            "title = \"Trasporto sociale\"",
            "title = \"Trasporto sociale solidale\"",
        )
    });
    assert!(errors, "the panic is reported");
    assert_eq!(server.get(page), before, "the last good page stays");
    let events = server.first_events();
    assert!(
        events.contains("event: errors") && events.contains("the rebuild stopped unexpectedly"),
        "{events}"
    );
    let errors = server.after(|| {
        site.replace(
            "offices/servizio-sociale.md",
            "name = \"Servizio sociale del Comune\"",
            "name = \"Servizio sociale comunale\"",
        )
    });
    assert!(!errors);
    assert!(server.text(page).contains("Trasporto sociale solidale"));
    server.assert_same_as_build(&site.content(), &theme(), "after the panic");
}

#[test]
fn content_broken_from_the_start_shows_a_page_that_waits_for_the_fix() {
    let site = Site::copy_of("valid");
    site.replace("services/trasporto-sociale.md", "title =", "tittle =");
    let server = Server::start(&site.content(), &theme());
    let (status, body) = server.get("/");
    assert_eq!(status, 503);
    let body = String::from_utf8(body).unwrap();
    assert!(
        body.contains(RELOAD_SNIPPET),
        "the page reloads itself once fixed"
    );
    assert!(server.status().1, "errors reported");
    let errors =
        server.after(|| site.replace("services/trasporto-sociale.md", "tittle =", "title ="));
    assert!(!errors);
    assert!(server.text("/").contains("Guida di prova"));
}

#[test]
fn serve_marks_drafts_and_shows_warnings_in_the_terminal_and_the_page() {
    let site = Site::copy_of("valid");
    let text = site.read("services/trasporto-sociale.md");
    site.write(
        "services/bozza-di-prova.md",
        &text.replacen("+++\n", "+++\ndraft = true\n", 1),
    );
    site.replace(
        "desks/sportello-centro.md",
        "website = \"https://sportello.example.org\"\n",
        "",
    );
    let server = Server::start(&site.content(), &theme());
    let draft = server.text("/servizi/bozza-di-prova/");
    assert!(
        draft.contains(DRAFT_NOTE_START)
            && draft.contains("Bozza: questa pagina non viene pubblicata"),
        "draft not marked"
    );
    let published = server.text("/servizi/trasporto-sociale/");
    assert!(!published.contains("sportello-draft"));
    // The warning, once, in the terminal and in the page's events.
    assert_eq!(server.printed("no contact details"), 1);
    let events = server.first_events();
    assert!(events.contains("event: warnings"), "{events}");
    assert!(
        events.contains("desks/sportello-centro.md:1:1: no contact details"),
        "{events}"
    );
    // Fixed: the terminal says so and a new page gets no warnings.
    let errors = server.after(|| {
        site.replace(
            "desks/sportello-centro.md",
            "email = \"\"",
            "email = \"sportello@example.org\"",
        )
    });
    assert!(!errors);
    assert_eq!(server.printed("no warnings left"), 1);
    assert!(!server.first_events().contains("event: warnings"));
}

/// What the open data needs is checked on every save too: an office whose
/// text is removed while serving gets the warning a full `check` gives.
#[test]
fn serve_warns_about_the_open_data_after_an_edit() {
    let site = Site::copy_of("valid");
    let server = Server::start(&site.content(), &theme());
    assert!(!server.first_events().contains("event: warnings"));
    let errors = server.after(|| {
        site.replace(
            "offices/servizio-sociale.md",
            "L'ufficio si trova al piano terra.",
            "",
        )
    });
    assert!(!errors);
    let events = server.first_events();
    assert!(
        events.contains("offices/servizio-sociale.md: the office has no description"),
        "{events}"
    );
    assert_eq!(server.printed("HSDS organization.description"), 1);
}

/// The open data is made again after an edit (when it is next asked for,
/// so that saves stay fast), and equals a full build's.
#[test]
fn serve_publishes_the_open_data_of_the_edited_content() {
    let site = Site::copy_of("valid");
    let server = Server::start(&site.content(), &theme());
    assert!(server
        .text("/opendata/hsds/services.json")
        .contains("\"Trasporto sociale\""));
    let errors = server.after(|| {
        site.replace(
            "services/trasporto-sociale.md",
            "title = \"Trasporto sociale\"",
            "title = \"Trasporto sociale in auto\"",
        )
    });
    assert!(!errors);
    let mut opts = sportello_guide::Options::new(site.content(), theme());
    opts.base_url = Some(format!("http://127.0.0.1:{}", server.port));
    let expected = sportello_guide::live::full_build_files(&opts).unwrap();
    for (path, bytes) in expected.iter().filter(|(p, _)| p.starts_with("opendata/")) {
        let (status, body) = server.get(&format!("/{path}"));
        assert_eq!(status, 200, "{path}");
        assert!(&body == bytes, "{path} differs from a full build");
    }
    assert!(server
        .text("/opendata/hsds/services.json")
        .contains("\"Trasporto sociale in auto\""));
}

#[test]
fn english_versions_are_served_like_a_full_build() {
    let site = Site::copy_of("valid");
    site.write(
        "desks/sportello-centro.en.md",
        "+++\n+++\nBring an identity document.\n",
    );
    site.write(
        "_index.en.md",
        "+++\ntitle = \"A test guide\"\n+++\nA small guide.\n",
    );
    let server = Server::start(&site.content(), &theme());
    server.assert_same_as_build(&site.content(), &theme(), "first build");
    assert!(server
        .text("/en/desks/sportello-centro/")
        .contains("Bring an identity document."));

    // An English body, then an Italian title shown in the English list.
    let errors = server.after(|| {
        site.write(
            "desks/sportello-centro.en.md",
            "+++\n+++\nBring your ID card.\n",
        )
    });
    assert!(!errors);
    server.assert_same_as_build(&site.content(), &theme(), "English edit");
    assert!(server
        .text("/en/desks/sportello-centro/")
        .contains("Bring your ID card."));
    let errors = server.after(|| {
        site.replace(
            "services/trasporto-sociale.md",
            "title = \"Trasporto sociale\"",
            "title = \"Trasporto sociale solidale\"",
        )
    });
    assert!(!errors);
    server.assert_same_as_build(&site.content(), &theme(), "Italian edit");
    assert!(server
        .text("/en/services/")
        .contains("Trasporto sociale solidale"));

    // A new English version appears; a removed one disappears.
    let errors =
        server.after(|| std::fs::remove_file(site.path("desks/sportello-centro.en.md")).unwrap());
    assert!(!errors);
    server.assert_same_as_build(&site.content(), &theme(), "English removed");
    assert_eq!(server.get("/en/desks/sportello-centro/").0, 404);
}

/// A served page without the note that marks a draft.
fn without_draft_note(html: &str) -> String {
    match html.find(DRAFT_NOTE_START) {
        Some(i) => {
            let end = i + html[i..].find("</p>").expect("the note ends") + "</p>".len();
            format!("{}{}", &html[..i], &html[end..])
        }
        None => html.to_string(),
    }
}

#[test]
fn an_english_draft_page_is_marked_in_english() {
    let site = Site::copy_of("valid");
    let text = site.read("services/trasporto-sociale.md");
    site.write(
        "services/bozza-di-prova.md",
        &text.replacen("+++\n", "+++\ndraft = true\n", 1),
    );
    site.write(
        "services/bozza-di-prova.en.md",
        "+++\ntitle = \"Draft transport\"\nsummary = \"Rides to medical visits.\"\n+++\n\n\
         ## Who it is for\n\nOlder people.\n\n## How to apply\n\nCall the desk.\n\n\
         ## What you need\n\nAn ID.\n\n## What you get\n\nA ride.\n\n\
         ## Times and deadlines\n\nTwo days before.\n",
    );
    let server = Server::start(&site.content(), &theme());
    let page = server.text("/en/services/bozza-di-prova/");
    assert!(page.contains(DRAFT_NOTE_START), "English draft not marked");
    assert!(
        page.contains("Draft: this page is not published"),
        "{}",
        &page[page.find(DRAFT_NOTE_START).unwrap_or(0)..][..300.min(page.len())]
    );
    assert!(!page.contains("Bozza: questa pagina"));
    let italian = server.text("/servizi/bozza-di-prova/");
    assert!(italian.contains("Bozza: questa pagina non viene pubblicata"));
    assert!(!server.text("/en/").contains(DRAFT_NOTE_START));
}
