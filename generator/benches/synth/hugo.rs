//! The same synthetic guide as a minimal Hugo site, for the build
//! benchmark's comparison: the entries copied as they are (Hugo reads TOML
//! front matter between `+++` too), one template per kind of page, the way
//! Hugo's documentation starts a site. Debian's `hugo` is installed with
//! apt-get when missing (as root; otherwise the comparison is skipped).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The `hugo` binary, installed from Debian when missing; `None` if that fails.
pub fn hugo() -> Option<PathBuf> {
    let found = || {
        Command::new("hugo")
            .arg("version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if !found() {
        eprintln!("hugo is missing: installing Debian's package (apt-get install hugo)");
        let ok = Command::new("apt-get")
            .args(["install", "-y", "-qq", "hugo"])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok || !found() {
            return None;
        }
    }
    Some(PathBuf::from("hugo"))
}

const BASEOF: &str = r#"<!DOCTYPE html>
<html lang="it">
<head><meta charset="utf-8"><title>{{ .Title }} - {{ .Site.Title }}</title></head>
<body>
<nav><a href="{{ "/" | relURL }}">{{ .Site.Title }}</a></nav>
<main>{{ block "main" . }}{{ end }}</main>
</body>
</html>
"#;

const SINGLE: &str = r#"{{ define "main" }}
<article>
<h1>{{ .Title }}</h1>
<p>{{ .Params.summary }}</p>
{{ .Content }}
</article>
{{ end }}
"#;

const LIST: &str = r#"{{ define "main" }}
<h1>{{ .Title }}</h1>
<ul>
{{ range .Pages }}<li><a href="{{ .RelPermalink }}">{{ .Title }}</a> {{ .Params.summary }}</li>
{{ end }}</ul>
{{ end }}
"#;

/// Writes a Hugo site with the entries of `content` (a guide in the content model) into `dir`.
pub fn write_site(content: &Path, dir: &Path) {
    fs::create_dir_all(dir.join("layouts/_default")).unwrap();
    fs::write(
        dir.join("hugo.toml"),
        "baseURL = \"https://guida.example.org/\"\nlanguageCode = \"it\"\ntitle = \"Guida\"\n\
         disableKinds = [\"taxonomy\", \"term\"]\n[markup.goldmark.renderer]\nunsafe = true\n",
    )
    .unwrap();
    fs::write(dir.join("layouts/_default/baseof.html"), BASEOF).unwrap();
    fs::write(dir.join("layouts/_default/single.html"), SINGLE).unwrap();
    fs::write(dir.join("layouts/_default/list.html"), LIST).unwrap();
    fs::write(dir.join("layouts/index.html"), LIST).unwrap();
    for sub in ["services", "offices", "desks", "pages"] {
        let from = content.join(sub);
        let to = dir.join("content").join(sub);
        fs::create_dir_all(&to).unwrap();
        for e in fs::read_dir(&from).unwrap().flatten() {
            fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
    fs::copy(content.join("_index.md"), dir.join("content/_index.md")).unwrap();
}
