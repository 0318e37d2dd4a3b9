//! Step 2: TOML front matter and settings into serde structs, Markdown bodies
//! into HTML sections. Each file is parsed on its own, so this runs in parallel.

pub mod front;
pub mod markdown;

use std::ops::Range;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use toml::Spanned;

use crate::diagnostics::{did_you_mean, Diagnostic};
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

/// Deserializes TOML, turning serde's message into a positioned error with a hint.
/// `offset` is where `toml_text` starts in the file `source`.
pub fn parse_toml<T: DeserializeOwned>(
    rel: &str,
    source: &Arc<str>,
    toml_text: &str,
    offset: usize,
) -> Result<T, Diagnostic> {
    toml::from_str(toml_text).map_err(|e| toml_error(rel, source, offset, &e))
}

fn toml_error(rel: &str, source: &Arc<str>, offset: usize, e: &toml::de::Error) -> Diagnostic {
    let raw = e.message().trim().to_string();
    let mut span = e
        .span()
        .map_or(offset..offset + 1, |s| s.start + offset..s.end + offset);
    if raw.starts_with("missing field") {
        // The span covers the whole table; point at its start (the `+++` fence).
        span = 0..source.find('\n').unwrap_or(source.len()).min(3);
    }
    let (message, hint) = explain_toml_message(&raw);
    let mut d = Diagnostic::error(rel, message).at(source, span);
    if let Some(h) = hint {
        d = d.hint(h);
    }
    d
}

/// Rewrites serde's wording for editors and finds a hint.
fn explain_toml_message(raw: &str) -> (String, Option<String>) {
    let ticked: Vec<&str> = raw.split('`').skip(1).step_by(2).collect();
    if let Some(rest) = raw.strip_prefix("unknown field `") {
        let word = rest.split('`').next().unwrap_or_default();
        let expected = &ticked[1.min(ticked.len())..];
        let hint = match did_you_mean(word, expected.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None if expected.is_empty() => "remove this key".to_string(),
            None => format!("the keys allowed here are: {}", expected.join(", ")),
        };
        return (format!("unknown key `{word}`"), Some(hint));
    }
    if let Some(rest) = raw.strip_prefix("unknown variant `") {
        let word = rest.split('`').next().unwrap_or_default();
        let expected = &ticked[1.min(ticked.len())..];
        let hint = match did_you_mean(word, expected.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("write one of: {}", expected.join(", ")),
        };
        return (format!("`{word}` is not an allowed value"), Some(hint));
    }
    if let Some(rest) = raw.strip_prefix("missing field `") {
        let word = rest.split('`').next().unwrap_or_default();
        return (
            format!("missing required key `{word}`"),
            Some(format!(
                "add `{word} = …` to the front matter (see `sportello new service` for an example)"
            )),
        );
    }
    if raw.contains("expected a TOML datetime")
        || raw.contains("expected a datetime")
        || raw.contains("invalid type: string") && raw.contains("datetime")
    {
        return (
            "a date is written without quotes".to_string(),
            Some(
                "write the date as YYYY-MM-DD without quotes, e.g. `updated = 2026-10-01`"
                    .to_string(),
            ),
        );
    }
    if raw.contains("invalid type: string") && raw.contains("expected a sequence") {
        return (
            "a list was expected here".to_string(),
            Some("write a list in square brackets, e.g. `[\"anziani\"]`".to_string()),
        );
    }
    if raw.contains("invalid type: string") && raw.contains("expected a boolean") {
        return (
            "`true` or `false` was expected here".to_string(),
            Some("write true or false without quotes".to_string()),
        );
    }
    if raw.contains("invalid type") && raw.contains("expected u32") {
        return (
            "a whole number was expected here".to_string(),
            Some("write a number without quotes, e.g. `age_min = 65`".to_string()),
        );
    }
    if raw.contains("duplicate key") {
        return (
            raw.to_string(),
            Some("each key may appear once: remove one of them".to_string()),
        );
    }
    if raw.contains("invalid") && raw.contains("date")
        || raw.contains("month")
        || raw.contains("day")
    {
        return (
            raw.to_string(),
            Some("write a real date as YYYY-MM-DD, e.g. 2026-10-01".to_string()),
        );
    }
    (
        raw.to_string(),
        Some(
            "check the TOML syntax: `key = \"text\"`, lists in [ ], dates as 2026-10-01"
                .to_string(),
        ),
    )
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
            Doc {
                front: $front,
                front_offset,
                body,
                src: src.clone(),
            }
        }};
    }
    let parsed = match src.kind {
        Kind::Service => parse_toml::<ServiceFront>(&src.rel, &src.text, split.front, front_offset)
            .map(|f| Parsed::Service(Box::new(doc!(f, true)))),
        Kind::Office => parse_toml::<OfficeFront>(&src.rel, &src.text, split.front, front_offset)
            .map(|f| Parsed::Office(doc!(f, false))),
        Kind::Desk => parse_toml::<DeskFront>(&src.rel, &src.text, split.front, front_offset)
            .map(|f| Parsed::Desk(doc!(f, false))),
        Kind::Page => parse_toml::<PageFront>(&src.rel, &src.text, split.front, front_offset)
            .map(|f| Parsed::Page(doc!(f, false))),
        Kind::Index => parse_toml::<PageFront>(&src.rel, &src.text, split.front, front_offset)
            .map(|f| Parsed::Index(doc!(f, false))),
    };
    match parsed {
        Ok(p) => (Some(p), diags),
        Err(d) => {
            diags.push(d);
            (None, diags)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_key_gets_a_suggestion() {
        let (msg, hint) =
            explain_toml_message("unknown field `tittle`, expected one of `title`, `summary`");
        assert_eq!(msg, "unknown key `tittle`");
        assert_eq!(hint.as_deref(), Some("did you mean `title`?"));
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
