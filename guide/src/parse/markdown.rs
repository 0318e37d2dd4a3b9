//! Markdown bodies: split into the standard `##` sections, rendered to HTML
//! in one pass, with internal links resolved and recorded for validation.

use std::ops::Range;
use std::sync::Arc;

use pulldown_cmark::{html, CowStr, Event, HeadingLevel, Options, Parser, Tag, TagEnd};

use crate::diagnostics::Diagnostic;
use crate::load::SourceFile;
use crate::urls::Urls;

/// A link to another page of the guide, checked once every page is known.
#[derive(Debug, Clone)]
pub struct InternalLink {
    /// What the editor wrote.
    pub written: String,
    /// The site path it points to, e.g. `/servizi/telesoccorso/`, without fragment.
    pub path: String,
    /// Byte span of the link in the file.
    pub span: Range<usize>,
}

/// One `##` section of the body.
#[derive(Debug, Clone)]
pub struct RawSection {
    /// The heading as written.
    pub heading: String,
    pub heading_span: Range<usize>,
    pub html: String,
}

#[derive(Debug, Default)]
pub struct RenderedBody {
    /// What comes before the first `##` (the whole body when not split).
    pub intro_html: String,
    pub intro_span: Range<usize>,
    pub sections: Vec<RawSection>,
    pub links: Vec<InternalLink>,
}

const OPTIONS: Options = Options::ENABLE_TABLES
    .union(Options::ENABLE_STRIKETHROUGH)
    .union(Options::ENABLE_SMART_PUNCTUATION);

/// Renders `body` (which starts at `body_offset` in `source`). With `split`,
/// each `##` heading starts a new section and is not itself emitted: the
/// theme prints section headings from its language file.
pub fn render_body(
    src: &SourceFile,
    body: &str,
    body_offset: usize,
    page_path: &str,
    urls: &Urls,
    split: bool,
    diags: &mut Vec<Diagnostic>,
) -> RenderedBody {
    let (file, source) = (src.rel.as_str(), &src.text);
    let mut out = RenderedBody {
        intro_span: body_offset..body_offset,
        ..Default::default()
    };
    // Events of the part being collected; flushed to HTML at each `##`.
    let mut events: Vec<Event<'_>> = Vec::with_capacity(256);
    let mut in_h2: Option<(usize, String)> = None;
    let mut intro_end = body_offset + body.len();

    // Each part is kept once, as HTML: its text is read from that when
    // needed (`sportello_search::html::text`).
    let flush = |events: &mut Vec<Event<'_>>, out: &mut RenderedBody| {
        let mut html_out = String::with_capacity(events.len() * 16);
        html::push_html(&mut html_out, events.drain(..));
        // Kept until the build ends: no spare capacity.
        html_out.shrink_to_fit();
        match out.sections.last_mut() {
            Some(section) => section.html = html_out,
            None => out.intro_html = html_out,
        }
    };

    for (event, range) in Parser::new_ext(body, OPTIONS).into_offset_iter() {
        let span = range.start + body_offset..range.end + body_offset;
        match event {
            Event::Start(Tag::Heading {
                level: HeadingLevel::H2,
                ..
            }) if split => {
                if out.sections.is_empty() {
                    intro_end = span.start;
                }
                flush(&mut events, &mut out);
                in_h2 = Some((span.start, String::new()));
            }
            Event::End(TagEnd::Heading(HeadingLevel::H2)) if split => {
                if let Some((start, heading)) = in_h2.take() {
                    out.sections.push(RawSection {
                        heading: heading.trim().to_string(),
                        heading_span: start..span.end,
                        html: String::new(),
                    });
                }
            }
            Event::Text(t) | Event::Code(t) if in_h2.is_some() => {
                if let Some((_, heading)) = in_h2.as_mut() {
                    heading.push_str(&t);
                }
            }
            _ if in_h2.is_some() => {}
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            }) => {
                let dest = resolve_link(
                    file, source, &dest_url, &span, page_path, urls, &mut out, diags,
                );
                events.push(Event::Start(Tag::Link {
                    link_type,
                    dest_url: dest,
                    title,
                    id,
                }));
            }
            Event::Html(h) | Event::InlineHtml(h) => {
                // Raw HTML could load third-party resources or break the
                // layout: show it as text and tell the editor.
                diags.push(
                    Diagnostic::warning(file, "raw HTML is shown as text")
                        .at(source, span.clone())
                        .hint("write Markdown instead: lists, tables, **bold**, [links](…)"),
                );
                events.push(Event::Text(h));
            }
            other => events.push(other),
        }
    }
    if out.sections.is_empty() {
        intro_end = body_offset + body.len();
    }
    flush(&mut events, &mut out);
    out.intro_span = body_offset..intro_end;
    out
}

#[allow(clippy::too_many_arguments)]
fn resolve_link<'a>(
    file: &str,
    source: &Arc<str>,
    dest: &CowStr<'a>,
    span: &Range<usize>,
    page_path: &str,
    urls: &Urls,
    out: &mut RenderedBody,
    diags: &mut Vec<Diagnostic>,
) -> CowStr<'a> {
    let dest_str: &str = dest;
    if let Some(content_path) = dest_str.strip_prefix("@/") {
        let (path_part, fragment) = split_fragment(content_path);
        match urls.for_content_path(path_part) {
            Some(path) => {
                out.links.push(InternalLink {
                    written: dest_str.to_string(),
                    path: path.clone(),
                    span: span.clone(),
                });
                CowStr::from(format!("{path}{fragment}"))
            }
            None => {
                diags.push(
                    Diagnostic::error(file, format!("link `{dest_str}` does not name a content file"))
                        .at(source, span.clone())
                        .hint("write `@/services/<slug>.md`, `@/offices/<slug>.md`, `@/desks/<slug>.md` or `@/pages/<slug>.md`"),
                );
                dest.clone()
            }
        }
    } else if is_external(dest_str) {
        if dest_str.starts_with("http://") {
            diags.push(
                Diagnostic::error(file, format!("link `{dest_str}` is not HTTPS"))
                    .at(source, span.clone())
                    .hint("use the https:// address of the page"),
            );
        }
        dest.clone()
    } else if dest_str.starts_with('#') {
        dest.clone()
    } else {
        let (path_part, _) = split_fragment(dest_str);
        out.links.push(InternalLink {
            written: dest_str.to_string(),
            path: join_url_path(page_path, path_part),
            span: span.clone(),
        });
        dest.clone()
    }
}

fn is_external(dest: &str) -> bool {
    let scheme_end = dest.find(':');
    let slash = dest.find('/');
    matches!((scheme_end, slash), (Some(c), Some(s)) if c < s)
        || matches!((scheme_end, slash), (Some(_), None))
}

fn split_fragment(s: &str) -> (&str, &str) {
    match s.find('#') {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, ""),
    }
}

/// Resolves a relative URL against the page's directory path (which ends in `/`).
pub fn join_url_path(base_dir: &str, rel: &str) -> String {
    let (rel, _query) = rel.split_once('?').unwrap_or((rel, ""));
    let mut parts: Vec<&str> = if rel.starts_with('/') {
        Vec::new()
    } else {
        base_dir.split('/').filter(|p| !p.is_empty()).collect()
    };
    for seg in rel.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    let mut path = String::from("/");
    path.push_str(&parts.join("/"));
    let is_file = parts.last().is_some_and(|p| p.contains('.'));
    if !parts.is_empty() && !is_file {
        path.push('/');
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each part of `body` as (HTML, the text built from its events the way
    /// the guide built it before keeping only the HTML).
    fn parts_with_reference_text(body: &str) -> Vec<(String, String)> {
        let mut parts = vec![(Vec::new(), String::new())];
        let mut in_h2 = false;
        for event in Parser::new_ext(body, OPTIONS) {
            let (events, text) = parts.last_mut().unwrap();
            match event {
                Event::Start(Tag::Heading {
                    level: HeadingLevel::H2,
                    ..
                }) => in_h2 = true,
                Event::End(TagEnd::Heading(HeadingLevel::H2)) => {
                    in_h2 = false;
                    parts.push((Vec::new(), String::new()));
                }
                _ if in_h2 => {}
                Event::Html(h) | Event::InlineHtml(h) => {
                    text.push_str(&h);
                    events.push(Event::Text(h));
                }
                Event::Text(ref t) | Event::Code(ref t) => {
                    text.push_str(t);
                    events.push(event);
                }
                Event::SoftBreak
                | Event::HardBreak
                | Event::End(TagEnd::Paragraph | TagEnd::Item | TagEnd::TableCell) => {
                    text.push(' ');
                    events.push(event);
                }
                other => events.push(other),
            }
        }
        parts
            .into_iter()
            .map(|(events, text)| {
                let mut out = String::new();
                html::push_html(&mut out, events.into_iter());
                (out, text)
            })
            .collect()
    }

    const TRICKY: &str = "Intro *corsivo*\ncon a capo  \nduro e `codice` & <b>html</b>.\n\n\
## A chi è rivolto\n\n- uno\n- due\n  - annidato **forte**\n\n1. primo\n\n2. sciolto\n\n\
### Sotto\nTesto dopo il titolo.\n\n> citazione\n> su due righe\n\n\
| Fase | Tempo |\n|:-----|------:|\n| A & B | 3 \"giorni\" |\n\n\
![una \"foto\" *bella*](a.png \"titolo\")\n\n```\nriga <1>\n  riga 2\n```\n\n---\n\n\
[link](https://example.org/) ~~via~~ l'ISEE\u{2019}s\n";

    #[test]
    fn text_read_from_the_html_equals_the_text_of_the_markdown() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../content");
        let mut bodies = vec![TRICKY.to_string()];
        for dir in ["services", "offices", "desks", "pages"] {
            for entry in std::fs::read_dir(root.join(dir)).unwrap().flatten() {
                bodies.push(std::fs::read_to_string(entry.path()).unwrap());
            }
        }
        let mut parts = 0;
        for body in &bodies {
            for (html, text) in parts_with_reference_text(body) {
                // Raw HTML blocks keep their own line breaks in the old text;
                // the new one has spaces there (the same words).
                if !html.contains("&lt;div") {
                    assert_eq!(sportello_search::html::text(&html), text, "{html}");
                }
                assert_eq!(
                    sportello_search::html::is_blank(&html),
                    text.trim().is_empty(),
                    "{html}"
                );
                parts += 1;
            }
        }
        assert!(parts > 150, "{parts} parts compared");
    }

    #[test]
    fn relative_paths_resolve_like_a_browser() {
        assert_eq!(join_url_path("/servizi/a/", "../b/"), "/servizi/b/");
        assert_eq!(join_url_path("/servizi/a/", "../b"), "/servizi/b/");
        assert_eq!(join_url_path("/servizi/a/", "/uffici/x/"), "/uffici/x/");
        assert_eq!(join_url_path("/privacy/", "../style.css"), "/style.css");
        assert_eq!(join_url_path("/", "servizi/"), "/servizi/");
    }

    #[test]
    fn external_links_are_recognised() {
        assert!(is_external("https://www.inps.it/"));
        assert!(is_external("mailto:x@example.org"));
        assert!(!is_external("../a/"));
        assert!(!is_external("a/b:c"));
    }
}
