//! What a new editor meets: drafts, placeholder text, `init`, the warning
//! summary and `--quiet`, and the exit codes of every command.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{theme, Site};

fn sportello() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sportello"))
}

fn run_in(dir: &Path, args: &[&str]) -> Output {
    sportello()
        .current_dir(dir)
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn with_dirs<'a>(site: &'a Site, args: &[&'a str]) -> Vec<String> {
    let mut v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    v.push("--content".into());
    v.push(site.content().display().to_string());
    v.push("--theme".into());
    v.push(theme().display().to_string());
    v
}

fn run(site: &Site, args: &[&str]) -> Output {
    let args = with_dirs(site, args);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run_in(site.dir.path(), &args)
}

#[test]
fn a_draft_is_kept_out_of_the_build_and_every_export() {
    let site = Site::copy_of("valid");
    let out_dir = tempfile::tempdir().unwrap();
    let public = out_dir.path().join("public");
    let public_s = public.display().to_string();
    let new = run(&site, &["new", "service", "pasti-a-domicilio"]);
    assert!(new.status.success(), "{}", stderr(&new));
    assert!(site
        .read("services/pasti-a-domicilio.md")
        .contains("draft = true"));
    let build = run(&site, &["build", "--output", &public_s]);
    assert!(build.status.success(), "{}", stderr(&build));
    assert!(
        stderr(&build).contains("built 2 services"),
        "{}",
        stderr(&build)
    );
    assert!(!public.join("servizi/pasti-a-domicilio").exists());
    for file in [
        "sitemap.xml",
        "feed.xml",
        "services.json",
        "servizi/index.html",
    ] {
        let text = std::fs::read_to_string(public.join(file)).unwrap();
        assert!(
            !text.contains("pasti-a-domicilio"),
            "{file} shows the draft"
        );
    }
    // Nor in the open data: the HSDS JSON, the CSV zip (stored, so its
    // text is readable) and the catalogue.
    let opendata = walk(&public.join("opendata"));
    assert!(opendata.len() >= 8);
    assert!(
        !opendata.iter().any(|t| t.contains("pasti-a-domicilio")),
        "the open data holds the draft"
    );
    let search = walk(&public.join("search"));
    assert!(
        !search.iter().any(|t| t.contains("pasti a domicilio")),
        "the search index holds the draft"
    );
    // With --drafts it is published.
    let build = run(&site, &["build", "--drafts", "--output", &public_s]);
    assert!(
        stderr(&build).contains("built 3 services"),
        "{}",
        stderr(&build)
    );
    assert!(public
        .join("servizi/pasti-a-domicilio/index.html")
        .is_file());
    let sitemap = std::fs::read_to_string(public.join("sitemap.xml")).unwrap();
    assert!(sitemap.contains("pasti-a-domicilio"));
    let hsds = std::fs::read_to_string(public.join("opendata/hsds/services.json")).unwrap();
    assert!(hsds.contains("pasti-a-domicilio"));
}

fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned());
        }
    }
    out
}

#[test]
fn placeholder_text_in_a_published_entry_is_an_error_at_its_line() {
    for kind in ["service", "office", "desk", "page"] {
        let site = Site::copy_of("valid");
        let new = run(&site, &["new", kind, "nuova-voce"]);
        assert!(new.status.success(), "{kind}: {}", stderr(&new));
        let folder = match kind {
            "service" => "services",
            "office" => "offices",
            "desk" => "desks",
            _ => "pages",
        };
        let rel = format!("{folder}/nuova-voce.md");
        let ok = run(&site, &["check"]);
        assert!(ok.status.success(), "{kind} draft: {}", stderr(&ok));
        site.replace(&rel, "draft = true", "draft = false");
        let check = run(&site, &["check"]);
        assert_eq!(check.status.code(), Some(1), "{kind}: {}", stderr(&check));
        let text = site.read(&rel);
        let line = text
            .lines()
            .position(|l| l.contains('…') && !l.contains('#'))
            .unwrap()
            + 1;
        let err = stderr(&check);
        assert!(
            err.contains(&format!(
                "error: {rel}:{line}:1: placeholder text from `sportello new` is still here"
            )),
            "{kind}: {err}"
        );
    }
}

#[test]
fn init_makes_a_guide_that_passes_check_and_builds() {
    let tmp = tempfile::tempdir().unwrap();
    let guide = tmp.path().join("guida");
    let init = run_in(
        tmp.path(),
        &["init", "guida", "--theme", &theme().display().to_string()],
    );
    assert!(init.status.success(), "{}", stderr(&init));
    for f in [
        "content/site.toml",
        "content/taxonomy.toml",
        "content/_index.md",
        "content/services/assistenza-domiciliare.md",
        "content/offices/servizio-sociale.md",
        "content/desks/sportello-sociale.md",
        "content/pages/privacy.md",
        "themes/default/i18n/it.toml",
    ] {
        assert!(guide.join(f).is_file(), "{f}");
    }
    // From inside the new guide, with the default folders.
    let check = run_in(&guide, &["check"]);
    assert!(check.status.success(), "{}", stderr(&check));
    assert!(!stderr(&check).contains("error:"), "{}", stderr(&check));
    let build = run_in(&guide, &["build"]);
    assert!(build.status.success(), "{}", stderr(&build));
    assert!(guide
        .join("public/servizi/assistenza-domiciliare/index.html")
        .is_file());
    // Never over an existing guide.
    let again = run_in(
        tmp.path(),
        &["init", "guida", "--theme", &theme().display().to_string()],
    );
    assert_eq!(again.status.code(), Some(2));
    assert!(stderr(&again).contains("not empty"), "{}", stderr(&again));
}

#[test]
fn many_warnings_are_summarised_and_quiet_hides_them() {
    let site = Site::copy_of("valid");
    for i in 0..12 {
        site.write(
            &format!("desks/vuoto-{i}.md"),
            "+++\nname = \"Sportello senza contatti\"\n+++\nTesto.\n",
        );
    }
    let check = run(&site, &["check"]);
    assert!(check.status.success(), "{}", stderr(&check));
    let err = stderr(&check);
    let lines = err.matches("no contact details").count();
    // Three shown, and one line that counts the other nine.
    assert_eq!(lines, 4, "{err}");
    assert!(
        err.contains("and 9 more like this (no contact details: phone, email and website are all empty): `--verbose` shows all"),
        "{err}"
    );
    // Each warning once: its message is not repeated under it.
    let first = err.find("desks/vuoto-0.md").unwrap();
    assert_eq!(err.matches("desks/vuoto-0.md").count(), 1, "{err}");
    assert!(first > 0);
    let verbose = stderr(&run(&site, &["check", "--verbose"]));
    assert_eq!(verbose.matches("desks/vuoto-").count(), 12, "{verbose}");
    let quiet = run(&site, &["check", "--quiet"]);
    assert!(quiet.status.success());
    let q = stderr(&quiet);
    assert!(!q.contains("no contact details"), "{q}");
    assert!(q.contains("0 errors, 12 warnings"), "{q}");
}

#[test]
fn exit_codes_of_every_command() {
    let site = Site::copy_of("valid");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("public").display().to_string();
    let content = site.content().display().to_string();
    // 0: all good.
    assert_eq!(run(&site, &["check"]).status.code(), Some(0));
    assert_eq!(run(&site, &["build", "-o", &out]).status.code(), Some(0));
    // 2: no theme, with its own message (not a language-file error).
    for cmd in [
        &["check"][..],
        &["build", "-o", &out],
        &["serve", "--port", "0"],
    ] {
        let mut args: Vec<&str> = cmd.to_vec();
        args.extend(["--content", &content, "--theme", "/nonexistent/theme"]);
        let o = run_in(tmp.path(), &args);
        assert_eq!(o.status.code(), Some(2), "{cmd:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("no theme at /nonexistent/theme"),
            "{cmd:?}: {}",
            stderr(&o)
        );
    }
    // The default theme folder, missing, is named as such.
    let o = run_in(tmp.path(), &["check", "--content", &content]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("no theme at themes/default"),
        "{}",
        stderr(&o)
    );
    // 2: no content folder.
    let o = run_in(
        tmp.path(),
        &["check", "--theme", &theme().display().to_string()],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("no content folder at content"));
    // 2: no content folder, for serve and new too.
    for cmd in [&["serve", "--port", "0"][..], &["new", "service", "x"]] {
        let mut args: Vec<&str> = cmd.to_vec();
        args.extend(["--content", "/nonexistent/content"]);
        let o = run_in(tmp.path(), &args);
        assert_eq!(o.status.code(), Some(2), "{cmd:?}: {}", stderr(&o));
    }
    // 2: `new` over an existing file, or with a name that is not a slug.
    let o = run(&site, &["new", "service", "trasporto-sociale"]);
    assert_eq!(o.status.code(), Some(2));
    let o = run(&site, &["new", "service", "Pasti a domicilio"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("`pasti-a-domicilio`"), "{}", stderr(&o));
    // 2: an output folder that cannot be written.
    let file = tmp.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let blocked = file.join("public").display().to_string();
    let o = run(&site, &["build", "-o", &blocked]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    // 2: an unknown option, for every command.
    for cmd in ["build", "check", "serve", "new", "init"] {
        let o = run_in(tmp.path(), &[cmd, "--no-such-option"]);
        assert_eq!(o.status.code(), Some(2), "{cmd}: {}", stderr(&o));
    }
    // 1: content errors, for check and build.
    site.replace("services/trasporto-sociale.md", "title =", "tittle =");
    assert_eq!(run(&site, &["check"]).status.code(), Some(1));
    assert_eq!(run(&site, &["build", "-o", &out]).status.code(), Some(1));
    // The codes are documented in --help.
    let help = String::from_utf8_lossy(&run_in(tmp.path(), &["--help"]).stdout).into_owned();
    assert!(help.contains("1  the content has errors"), "{help}");
    assert!(help.contains("2  anything else"), "{help}");
}
