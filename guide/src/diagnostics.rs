//! Errors and warnings about content, each tied to a file, a byte span and a hint.
//!
//! Every step of the pipeline pushes into one [`Diagnostics`] list instead of
//! stopping at the first problem, so an editor sees everything at once.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceCode};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

/// One problem in the content.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Path relative to the content directory, e.g. `services/telesoccorso.md`.
    pub file: String,
    /// The whole text of the file, for the snippet; `None` when it could not be read as text.
    pub source: Option<Arc<str>>,
    /// Byte range in `source`.
    pub span: Option<Range<usize>>,
    pub message: String,
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn error(file: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            file: file.into(),
            source: None,
            span: None,
            message: message.into(),
            hint: None,
        }
    }

    pub fn warning(file: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(file, message)
        }
    }

    /// Points the diagnostic at `span` (byte offsets) of `source`.
    pub fn at(mut self, source: &Arc<str>, span: Range<usize>) -> Self {
        let len = source.len();
        let start = span.start.min(len);
        let end = span.end.clamp(start, len);
        self.source = Some(source.clone());
        self.span = Some(start..end);
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// 1-based line and column (in characters) of the start of the span.
    pub fn line_col(&self) -> Option<(usize, usize)> {
        let (source, span) = (self.source.as_ref()?, self.span.as_ref()?);
        Some(line_col(source, span.start))
    }

    /// `file:line:col`, or just `file` when there is no position.
    pub fn location(&self) -> String {
        match self.line_col() {
            Some((line, col)) => format!("{}:{line}:{col}", self.file),
            None => self.file.clone(),
        }
    }

    /// A warning on two lines: where and what, then the hint. The snippet
    /// is left out: a warning does not stop the build, and a guide with many
    /// of them should still print a readable page.
    pub fn render_short(&self) -> String {
        let mut out = format!("warning: {}: {}\n", self.location(), self.message);
        if let Some(h) = &self.hint {
            out.push_str(&format!("  help: {h}\n"));
        }
        out
    }

    /// Full report with the snippet, as printed in the terminal.
    pub fn render(&self, color: bool) -> String {
        let theme = if color {
            GraphicalTheme::unicode()
        } else {
            GraphicalTheme::unicode_nocolor()
        };
        let handler = GraphicalReportHandler::new_themed(theme).with_context_lines(1);
        let mut out = String::new();
        // The first line repeats the location so it can be grepped and clicked.
        let kind = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        out.push_str(&format!("{kind}: {}: {}\n", self.location(), self.message));
        if handler
            .render_report(&mut out, &MietteView::new(self))
            .is_err()
        {
            out.push_str(&format!("  {}\n", self.message));
        }
        out
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location(), self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " (hint: {hint})")?;
        }
        Ok(())
    }
}

/// 1-based line and column of a byte offset; the column counts characters.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = text[line_start..offset].chars().count() + 1;
    (line, col)
}

/// Adapter so miette can draw the snippet.
struct MietteView<'a> {
    diag: &'a Diagnostic,
    named: Option<NamedSource<Arc<str>>>,
}

impl<'a> MietteView<'a> {
    fn new(diag: &'a Diagnostic) -> Self {
        let named = diag
            .source
            .as_ref()
            .map(|s| NamedSource::new(diag.file.clone(), s.clone()));
        MietteView { diag, named }
    }
}

impl fmt::Debug for MietteView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diag.message)
    }
}

impl fmt::Display for MietteView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diag.message)
    }
}

impl std::error::Error for MietteView<'_> {}

impl miette::Diagnostic for MietteView<'_> {
    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.diag.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.diag
            .hint
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.named.as_ref().map(|n| n as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let span = self.diag.span.clone()?;
        self.named.as_ref()?;
        let label = LabeledSpan::new_with_span(Some("here".into()), span);
        Some(Box::new(std::iter::once(label)))
    }
}

/// All the diagnostics of one build.
#[derive(Debug, Default, Clone)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        self.items.push(d);
    }

    pub fn extend(&mut self, ds: impl IntoIterator<Item = Diagnostic>) {
        self.items.extend(ds);
    }

    pub fn error_count(&self) -> usize {
        self.items.iter().filter(|d| d.is_error()).count()
    }

    pub fn warning_count(&self) -> usize {
        self.items.len() - self.error_count()
    }

    pub fn has_errors(&self) -> bool {
        self.items.iter().any(Diagnostic::is_error)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter()
    }

    /// Sorted by file and position so output is stable whatever the thread order.
    pub fn sort(&mut self) {
        self.items.sort_by(|a, b| {
            (&a.file, a.span.as_ref().map(|s| s.start), &a.message).cmp(&(
                &b.file,
                b.span.as_ref().map(|s| s.start),
                &b.message,
            ))
        });
    }

    pub fn into_vec(self) -> Vec<Diagnostic> {
        self.items
    }

    /// Every diagnostic with its snippet, then a one-line summary.
    pub fn render(&self, color: bool) -> String {
        self.render_with(color, Verbosity::All)
    }

    /// Errors in full; warnings as `verbosity` says: all, the first
    /// [`WARNINGS_PER_KIND`] of each kind and a count of the rest, or none.
    pub fn render_with(&self, color: bool, verbosity: Verbosity) -> String {
        let mut out = String::new();
        // Warnings of one kind share their hint (the message may name a
        // number or a word): that is what groups them.
        let mut seen: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
        for d in &self.items {
            if d.is_error() {
                out.push_str(&d.render(color));
                out.push('\n');
                continue;
            }
            let shown = match verbosity {
                Verbosity::All => true,
                Verbosity::Quiet => false,
                Verbosity::Summary => {
                    let n = seen.entry(kind_of(d)).or_default();
                    *n += 1;
                    *n <= WARNINGS_PER_KIND
                }
            };
            if shown {
                out.push_str(&d.render_short());
            }
        }
        if verbosity == Verbosity::Summary {
            let mut more: Vec<(&str, usize)> = seen
                .into_iter()
                .filter(|&(_, n)| n > WARNINGS_PER_KIND)
                .map(|(k, n)| (k, n - WARNINGS_PER_KIND))
                .collect();
            more.sort();
            for (kind, n) in more {
                let first = self
                    .items
                    .iter()
                    .find(|d| !d.is_error() && kind_of(d) == kind)
                    .map_or("", |d| d.message.as_str());
                out.push_str(&format!(
                    "warning: and {} more like this ({first}): `--verbose` shows all\n",
                    thousands(n)
                ));
            }
        }
        let (e, w) = (self.error_count(), self.warning_count());
        if e + w > 0 {
            out.push_str(&format!(
                "{e} {}, {w} {}\n",
                if e == 1 { "error" } else { "errors" },
                if w == 1 { "warning" } else { "warnings" }
            ));
        }
        out
    }
}

/// How many warnings of one kind are printed before the rest are counted.
pub const WARNINGS_PER_KIND: usize = 3;

/// How much of the warnings to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verbosity {
    /// Every warning (`--verbose`, and the overlay of `serve`).
    All,
    /// A few of each kind, then "and N more like this".
    Summary,
    /// Only the count (`--quiet`).
    Quiet,
}

fn kind_of(d: &Diagnostic) -> &str {
    d.hint.as_deref().unwrap_or(&d.message)
}

/// `9990` as `9,990`.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Suggests the closest candidate to a misspelt word, if one is close enough.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), c))
        .filter(|&(d, c)| d <= 2.max(c.len() / 4) && d < c.len())
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based_and_count_characters() {
        let text = "+++\ntitolo = \"è\"\nx";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 4), (2, 1));
        let x = text.rfind('x').unwrap();
        assert_eq!(line_col(text, x), (3, 1));
        let quote = text.rfind('"').unwrap();
        assert_eq!(line_col(text, quote), (2, 12));
    }

    #[test]
    fn many_warnings_of_a_kind_are_summarised() {
        let src: Arc<str> = "+++\n+++\n".into();
        let mut ds = Diagnostics::default();
        for i in 0..10_000 {
            ds.push(
                Diagnostic::warning(format!("offices/o{i}.md"), format!("stale {i}"))
                    .at(&src, 0..3)
                    .hint("review it"),
            );
        }
        ds.push(Diagnostic::warning("desks/d.md", "no contact details").hint("add them"));
        let out = ds.render_with(false, Verbosity::Summary);
        assert_eq!(
            out.matches("help: review it").count(),
            WARNINGS_PER_KIND,
            "{out}"
        );
        assert!(
            out.contains("and 9,997 more like this (stale 0): `--verbose` shows all"),
            "{out}"
        );
        assert!(out.contains("desks/d.md: no contact details"), "{out}");
        assert!(out.ends_with("0 errors, 10001 warnings\n"), "{out}");
        let quiet = ds.render_with(false, Verbosity::Quiet);
        assert_eq!(quiet, "0 errors, 10001 warnings\n");
        let all = ds.render_with(false, Verbosity::All);
        assert_eq!(all.matches("help: review it").count(), 10_000);
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn suggestions_are_close_words_only() {
        let keys = ["title", "summary", "category"];
        assert_eq!(did_you_mean("tittle", keys), Some("title"));
        assert_eq!(did_you_mean("categroy", keys), Some("category"));
        assert_eq!(did_you_mean("zzz", keys), None);
    }

    #[test]
    fn rendered_report_names_file_line_and_hint() {
        let src: Arc<str> = "+++\ntittle = \"x\"\n+++\n".into();
        let d = Diagnostic::error("services/a.md", "unknown key `tittle`")
            .at(&src, 4..10)
            .hint("did you mean `title`?");
        let out = d.render(false);
        assert!(
            out.starts_with("error: services/a.md:2:1: unknown key `tittle`"),
            "{out}"
        );
        assert!(out.contains("tittle = \"x\""), "{out}");
        assert!(out.contains("did you mean `title`?"), "{out}");
    }
}
