//! Step 2: TOML front matter and settings into serde structs, Markdown bodies
//! into HTML sections. Each file is parsed on its own, so this runs in parallel.

pub mod front;
pub mod markdown;
pub mod schema;

use std::ops::Range;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use toml::Spanned;

use crate::diagnostics::Diagnostic;
use crate::load::{Kind, SourceFile};
use crate::urls::Urls;
use front::{DeskFront, OfficeFront, PageFront, ServiceFront};
pub use markdown::{InternalLink, RawSection, RenderedBody};

/// A parsed content file: its front matter and rendered body.
#[derive(Debug)]
pub struct Doc<F> {
    pub src: SourceFile,
    pub front: F,
    /// Byte offset of the front matter's TOML in the file, to turn spans into file positions.
    pub front_offset: usize,
    pub body: RenderedBody,
    /// `draft = true` in the front matter.
    pub draft: bool,
}

impl<F> Doc<F> {
    /// Span in the file of a value from the front matter.
    pub fn span<T>(&self, value: &Spanned<T>) -> Range<usize> {
        let s = value.span();
        s.start + self.front_offset..s.end + self.front_offset
    }

    pub fn error_at<T>(&self, value: &Spanned<T>, message: impl Into<String>) -> Diagnostic {
        Diagnostic::error(&self.src.rel, message).at(&self.src.text, self.span(value))
    }

    pub fn warning_at<T>(&self, value: &Spanned<T>, message: impl Into<String>) -> Diagnostic {
        Diagnostic::warning(&self.src.rel, message).at(&self.src.text, self.span(value))
    }

    /// Points at the opening `+++`, for problems of the front matter as a whole.
    pub fn error_at_top(&self, message: impl Into<String>) -> Diagnostic {
        Diagnostic::error(&self.src.rel, message).at(&self.src.text, 0..3)
    }
}

#[derive(Debug)]
pub enum Parsed {
    Index(Doc<PageFront>),
    Service(Box<Doc<ServiceFront>>),
    Office(Doc<OfficeFront>),
    Desk(Doc<DeskFront>),
    Page(Doc<PageFront>),
}

/// The front matter and the body of a file, as slices with their offsets.
pub struct Split<'a> {
    pub front: &'a str,
    pub front_offset: usize,
    pub body: &'a str,
    pub body_offset: usize,
}

/// Finds the `+++` fences.
pub fn split_front_matter<'a>(rel: &str, text: &'a Arc<str>) -> Result<Split<'a>, Diagnostic> {
    let first_line_end = text.find('\n').unwrap_or(text.len());
    if text[..first_line_end].trim_end() != "+++" {
        let hint = if text.starts_with("---") {
            "this guide uses TOML front matter between `+++` lines, not YAML between `---`"
        } else {
            "start the file with a line `+++`, the front matter keys, and another line `+++`"
        };
        return Err(
            Diagnostic::error(rel, "the file does not start with front matter")
                .at(text, 0..first_line_end)
                .hint(hint),
        );
    }
    let front_offset = (first_line_end + 1).min(text.len());
    let mut pos = front_offset;
    while pos < text.len() {
        let end = text[pos..].find('\n').map_or(text.len(), |i| pos + i);
        if text[pos..end].trim_end() == "+++" {
            let body_offset = (end + 1).min(text.len());
            return Ok(Split {
                front: &text[front_offset..pos],
                front_offset,
                body: &text[body_offset..],
                body_offset,
            });
        }
        pos = end + 1;
    }
    Err(Diagnostic::error(rel, "the front matter is not closed")
        .at(text, 0..3)
        .hint("add a line with just `+++` after the last front-matter key"))
}

/// Reads TOML checked against its schema: every problem of the text is
/// reported, and what is valid is returned (`None` only when even that
/// cannot be read). `offset` is where `toml_text` starts in the file `source`.
pub fn parse_toml<T: schema::Schema + DeserializeOwned>(
    rel: &str,
    source: &Arc<str>,
    toml_text: &str,
    offset: usize,
) -> (Option<T>, Vec<Diagnostic>) {
    let src = schema::Source {
        rel,
        file: source,
        offset,
    };
    schema::read(&src, toml_text)
}

/// [`parse_toml`] for files that must be wholly valid (site.toml, the
/// theme's language file): the first problem is the error.
pub fn parse_toml_strict<T: DeserializeOwned>(
    rel: &str,
    source: &Arc<str>,
    toml_text: &str,
    offset: usize,
) -> Result<T, Diagnostic> {
    toml::from_str(toml_text).map_err(|e| {
        let span = e
            .span()
            .map_or(offset..offset, |s| s.start + offset..s.end + offset);
        Diagnostic::error(rel, e.message().trim().to_string())
            .at(source, span)
            .hint("check the TOML syntax: `key = \"text\"`, lists in [ ], dates as 2026-10-01")
    })
}

/// Parses one content file.
pub fn parse_file(src: SourceFile, urls: &Urls) -> (Option<Parsed>, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let split = match split_front_matter(&src.rel, &src.text) {
        Ok(s) => s,
        Err(d) => return (None, vec![d]),
    };
    let (front_offset, body_offset) = (split.front_offset, split.body_offset);
    let page_path = match src.kind {
        Kind::Index => urls.home(),
        Kind::Service => urls.service(&src.slug),
        Kind::Office => urls.office(&src.slug),
        Kind::Desk => urls.desk(&src.slug),
        Kind::Page => urls.page(&src.slug),
    };
    macro_rules! doc {
        ($front:expr, $split_sections:expr) => {{
            let body = markdown::render_body(
                &src,
                split.body,
                body_offset,
                &page_path,
                urls,
                $split_sections,
                &mut diags,
            );
            let front = $front;
            let draft = front::Front::draft(&front);
            if !draft {
                diags.extend(crate::scaffold::placeholders(&src));
            }
            Doc {
                front,
                front_offset,
                body,
                draft,
                src: src.clone(),
            }
        }};
    }
    macro_rules! read {
        ($ty:ty, $variant:expr, $split_sections:expr) => {{
            let (front, ds) = parse_toml::<$ty>(&src.rel, &src.text, split.front, front_offset);
            diags.extend(ds);
            front.map(|f| $variant(doc!(f, $split_sections)))
        }};
    }
    let parsed = match src.kind {
        Kind::Service => read!(ServiceFront, |d| Parsed::Service(Box::new(d)), true),
        Kind::Office => read!(OfficeFront, Parsed::Office, false),
        Kind::Desk => read!(DeskFront, Parsed::Desk, false),
        Kind::Page => read!(PageFront, Parsed::Page, false),
        Kind::Index => read!(PageFront, Parsed::Index, false),
    };
    (parsed, diags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_key_gets_a_suggestion() {
        let t: Arc<str> = "+++\ntittle = \"a\"\n+++\n".into();
        let (_, diags) = parse_toml::<PageFront>("p.md", &t, &t[4..17], 4);
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert_eq!(diags[0].message, "unknown key `tittle`");
        assert_eq!(diags[0].hint.as_deref(), Some("did you mean `title`?"));
    }

    #[test]
    fn front_matter_fences() {
        let t: Arc<str> = "+++\ntitle = \"a\"\n+++\nbody\n".into();
        let s = split_front_matter("a.md", &t).unwrap();
        assert_eq!(s.front, "title = \"a\"\n");
        assert_eq!(s.body, "body\n");
        let t: Arc<str> = "+++\ntitle = \"a\"\nbody\n".into();
        let e = split_front_matter("a.md", &t).err().unwrap();
        assert_eq!(e.message, "the front matter is not closed");
        let t: Arc<str> = "---\ntitle: a\n---\n".into();
        let e = split_front_matter("a.md", &t).err().unwrap();
        assert!(e.hint.unwrap().contains("YAML"));
    }
}
