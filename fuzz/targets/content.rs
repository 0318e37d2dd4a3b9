//! A content file as an editor may write it: front matter (TOML) and
//! Markdown sections, parsed and validated, every diagnostic rendered with
//! its snippet. Any text must give a page or diagnostics, never a panic.

use std::sync::Arc;

use sportello_guide::language::Paths;
use sportello_guide::load::{Kind, SourceFile};
use sportello_guide::parse::parse_file;
use sportello_guide::urls::Urls;

pub fn urls() -> Urls {
    Urls::new("https://guida.example/", Paths::default())
}

pub fn run(urls: &Urls, data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let (kind, dir) = match selector % 5 {
        0 => (Kind::Service, "services"),
        1 => (Kind::Office, "offices"),
        2 => (Kind::Desk, "desks"),
        3 => (Kind::Page, "pages"),
        _ => (Kind::Index, ""),
    };
    let src = SourceFile {
        rel: format!("{dir}/fuzz.md"),
        kind,
        slug: "fuzz".into(),
        text: Arc::from(text),
    };
    let (_, diags) = parse_file(src, urls);
    for d in &diags {
        let _ = d.render(false);
        let _ = d.location();
    }
}
