//! Checking TOML against the content model before serde sees it.
//!
//! The TOML is first read into a table with spans (`toml::de::DeTable`),
//! with the parser's own recovery so that one syntax error does not hide the
//! rest of the file. Then every key, type and value is checked against a
//! [`Field`] list, so one run reports every mistake of the file. The hints
//! come from what was written (the value's type, its text, the keys of
//! the schema), never from the wording of another crate's message: a new
//! `toml` release that rewords its errors cannot lose them. Keys and values
//! that fail are removed, so the remaining table always deserializes into
//! the serde structs and the rest of the checks can still run.

use std::ops::Range;
use std::sync::Arc;

use toml::de::{DeArray, DeTable, DeValue};
use toml::Spanned;

use crate::diagnostics::{did_you_mean, Diagnostic};

/// The type a key's value must have.
#[derive(Debug, Clone, Copy)]
pub enum Ty {
    Text,
    Bool,
    /// A whole number of 0 or more.
    Count,
    /// A TOML date, written without quotes.
    Date,
    TextList,
    /// One of a fixed list of words.
    Choice(&'static [&'static str]),
    ChoiceList(&'static [&'static str]),
    /// A `[table]`.
    Table(&'static [Field]),
    /// An array of tables (`[[name]]`).
    Tables(&'static [Field]),
    /// A list of lists of text (synonym groups).
    TextLists,
}

/// One key of a table.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub key: &'static str,
    pub ty: Ty,
    pub required: bool,
    /// How to write it, for the hint of a missing key: `title = "…"`.
    pub example: &'static str,
}

impl Field {
    pub const fn req(key: &'static str, ty: Ty, example: &'static str) -> Self {
        Field {
            key,
            ty,
            required: true,
            example,
        }
    }

    pub const fn opt(key: &'static str, ty: Ty, example: &'static str) -> Self {
        Field {
            key,
            ty,
            required: false,
            example,
        }
    }
}

/// A TOML document shape: the keys its top-level table may have.
pub trait Schema {
    const FIELDS: &'static [Field];
}

/// Where a TOML text sits in its file.
pub struct Source<'a> {
    pub rel: &'a str,
    pub file: &'a Arc<str>,
    /// Byte offset of the TOML text in `file`.
    pub offset: usize,
}

impl Source<'_> {
    fn error(&self, span: Range<usize>, message: impl Into<String>) -> Diagnostic {
        Diagnostic::error(self.rel, message)
            .at(self.file, span.start + self.offset..span.end + self.offset)
    }
}

/// Reads `toml_text` and checks it against `T`'s schema. Returns the
/// deserialized value of what is valid, and every problem found.
pub fn read<T: Schema + serde::de::DeserializeOwned>(
    src: &Source<'_>,
    toml_text: &str,
) -> (Option<T>, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let (mut table, errors) = DeTable::parse_recoverable(toml_text);
    for e in &errors {
        diags.push(syntax_error(src, toml_text, e));
    }
    // A line with a syntax error may have lost its key: not also "missing".
    let broken_lines: Vec<usize> = errors
        .iter()
        .filter_map(|e| e.span())
        .map(|s| line_start(toml_text, s.start))
        .collect();
    let top_span = 0..0;
    check_table(
        src,
        toml_text,
        table.get_mut(),
        T::FIELDS,
        None,
        &top_span,
        &broken_lines,
        &mut diags,
    );
    match <T as serde::Deserialize>::deserialize(toml::de::Deserializer::from(table)) {
        Ok(v) => (Some(v), diags),
        Err(e) => {
            // Only reached if the schema and the struct disagree; the
            // message is then toml's own, with a general hint.
            if diags.is_empty() {
                let span = e.span().unwrap_or(0..0);
                diags.push(
                    src.error(span, e.message().trim().to_string())
                        .hint(GENERIC_HINT),
                );
            }
            (None, diags)
        }
    }
}

const GENERIC_HINT: &str =
    "check the TOML syntax: `key = \"text\"`, lists in [ ], dates as 2026-10-01 without quotes";

fn line_start(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())]
        .rfind('\n')
        .map_or(0, |i| i + 1)
}

fn line_at(text: &str, offset: usize) -> (usize, &str) {
    let start = line_start(text, offset);
    let end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    (start, &text[start..end])
}

const CURLY: [char; 8] = ['“', '”', '„', '‘', '’', '«', '»', '″'];

/// A parse error, explained from the text where it happened.
fn syntax_error(src: &Source<'_>, text: &str, e: &toml::de::Error) -> Diagnostic {
    let span = e.span().unwrap_or(0..0);
    let (start, line) = line_at(text, span.start);
    let (key, value) = match line.split_once('=') {
        Some((k, v)) => (k.trim(), v.trim()),
        None => ("", line.trim()),
    };
    if let Some(pos) = line.find(CURLY) {
        let c = line[pos..].chars().next().unwrap_or('“');
        return src
            .error(
                start + pos..start + pos + c.len_utf8(),
                format!("`{c}` is not a TOML quote"),
            )
            .hint(
                "text goes between straight double quotes \"…\"; curly quotes come from pasting \
                 out of a word processor: retype them in a plain-text editor",
            );
    }
    let first_line = e.message().lines().next().unwrap_or_default().trim();
    if looks_like_date(value) {
        return src
            .error(span, format!("`{value}` is not a valid date"))
            .hint("write a real date as YYYY-MM-DD without quotes, e.g. 2026-10-01");
    }
    if !key.is_empty() && is_bare_key(key) {
        let earlier = text[..start]
            .lines()
            .any(|l| l.split_once('=').is_some_and(|(k, _)| k.trim() == key));
        if earlier {
            return src
                .error(span, format!("`{key}` is written twice"))
                .hint("each key may appear once: remove one of them");
        }
        if value.starts_with('"') && value.matches('"').count() % 2 == 1 {
            return src
                .error(span, first_line.to_string())
                .hint("close the text with `\"` on the same line: TOML text is one line between double quotes");
        }
        if value.chars().next().is_some_and(char::is_alphabetic)
            && !matches!(value, "true" | "false")
        {
            return src
                .error(span, format!("the value of `{key}` is not in quotes"))
                .hint(format!(
                    "write text between double quotes: `{key} = \"{value}\"`"
                ));
        }
    }
    src.error(span, first_line.to_string()).hint(GENERIC_HINT)
}

fn is_bare_key(k: &str) -> bool {
    !k.is_empty()
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
}

/// `2026-02-30`, `2026-1-5`: digits and hyphens in the shape of a date.
fn looks_like_date(v: &str) -> bool {
    let v = v.trim_matches('"');
    let parts: Vec<&str> = v.split('-').collect();
    parts.len() == 3
        && parts[0].len() == 4
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

fn type_name(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "text",
        DeValue::Integer(_) => "a number",
        DeValue::Float(_) => "a decimal number",
        DeValue::Boolean(_) => "true/false",
        DeValue::Datetime(_) => "a date",
        DeValue::Array(_) => "a list",
        DeValue::Table(_) => "a table",
    }
}

fn expected_name(ty: Ty) -> &'static str {
    match ty {
        Ty::Text | Ty::Choice(_) => "text in double quotes",
        Ty::Bool => "true or false",
        Ty::Count => "a whole number",
        Ty::Date => "a date",
        Ty::TextList | Ty::ChoiceList(_) | Ty::TextLists => "a list in square brackets",
        Ty::Table(_) => "a table",
        Ty::Tables(_) => "a list of tables",
    }
}

/// Checks one table; removes what is wrong so serde can read the rest.
#[allow(clippy::too_many_arguments)]
fn check_table(
    src: &Source<'_>,
    text: &str,
    table: &mut DeTable<'_>,
    fields: &'static [Field],
    name: Option<&str>,
    span: &Range<usize>,
    broken_lines: &[usize],
    diags: &mut Vec<Diagnostic>,
) {
    let mut remove: Vec<String> = Vec::new();
    // Keys already reported: misspelt (what they probably meant) or with a
    // wrong value. Not reported missing too.
    let mut meant: Vec<&str> = Vec::new();
    for (k, v) in table.iter_mut() {
        let key: &str = k.get_ref();
        let Some(field) = fields.iter().find(|f| f.key == key) else {
            let close = did_you_mean(key, fields.iter().map(|f| f.key));
            meant.extend(close);
            let hint = match close {
                Some(s) => format!("did you mean `{s}`?"),
                None => match (name, fields.iter().find(|f| is_sub(f, key))) {
                    (_, Some(parent)) => format!(
                        "`{key}` belongs inside `[{}]`: move it below that line",
                        parent.key
                    ),
                    (Some(n), None) => format!(
                        "`{key}` is not a key of `[{n}]`; if it belongs to the top, move it \
                         above the `[{n}]` line (a key after `[{n}]` belongs to that table). \
                         The keys of `[{n}]` are: {}",
                        keys_of(fields)
                    ),
                    (None, None) => format!("the keys allowed here are: {}", keys_of(fields)),
                },
            };
            diags.push(
                src.error(k.span(), format!("unknown key `{key}`"))
                    .hint(hint),
            );
            remove.push(key.to_string());
            continue;
        };
        if !check_value(src, text, field, v, broken_lines, diags) {
            remove.push(key.to_string());
            meant.push(field.key);
        }
    }
    for k in &remove {
        table.remove(k.as_str());
    }
    for f in fields {
        if !f.required || table.contains_key(f.key) || meant.contains(&f.key) {
            continue;
        }
        // The key is there but its line did not parse: already reported.
        if text.lines().any(|l| {
            l.split_once('=').is_some_and(|(k, _)| k.trim() == f.key)
                && broken_lines.contains(&(l.as_ptr() as usize - text.as_ptr() as usize))
        }) {
            continue;
        }
        let d = match name {
            None => Diagnostic::error(src.rel, format!("missing required key `{}`", f.key))
                .at(src.file, 0..3.min(src.file.len()))
                .hint(format!(
                    "add `{} = …` to {}, e.g. `{}`",
                    f.key,
                    if src.offset == 0 {
                        "the file"
                    } else {
                        "the front matter"
                    },
                    f.example
                )),
            Some(n) => src
                .error(
                    span.clone(),
                    format!("`[[{n}]]` lacks the required key `{}`", f.key),
                )
                .hint(format!("add `{}` to this `[[{n}]]`", f.example)),
        };
        diags.push(d);
    }
}

fn keys_of(fields: &[Field]) -> String {
    fields
        .iter()
        .map(|f| format!("`{}`", f.key))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether `key` is a key of the sub-table `f`.
fn is_sub(f: &Field, key: &str) -> bool {
    match f.ty {
        Ty::Table(sub) | Ty::Tables(sub) => sub.iter().any(|s| s.key == key),
        _ => false,
    }
}

/// Checks a value; `false` when it must be removed.
fn check_value(
    src: &Source<'_>,
    text: &str,
    field: &Field,
    v: &mut Spanned<DeValue<'_>>,
    broken_lines: &[usize],
    diags: &mut Vec<Diagnostic>,
) -> bool {
    let key = field.key;
    let span = v.span();
    let wrong = |diags: &mut Vec<Diagnostic>, v: &DeValue<'_>| {
        let (message, hint) = wrong_type(key, field.ty, v);
        diags.push(src.error(span.clone(), message).hint(hint));
        false
    };
    match (field.ty, v.get_mut()) {
        (Ty::Text, DeValue::String(_)) | (Ty::Bool, DeValue::Boolean(_)) => true,
        (Ty::Date, DeValue::Datetime(_)) => true,
        (Ty::Count, DeValue::Integer(i)) => {
            let ok = i.as_str().parse::<u32>().is_ok() && i.radix() == 10;
            if !ok {
                diags.push(
                    src.error(span, format!("`{key}` must be a whole number from 0 up"))
                        .hint(format!("e.g. `{}`", field.example)),
                );
            }
            ok
        }
        (Ty::Choice(words), DeValue::String(s)) => check_choice(src, key, s, words, span, diags),
        (Ty::TextList, DeValue::Array(a)) => check_items(src, key, a, diags, |src, item, diags| {
            match item.get_ref() {
                DeValue::String(_) => true,
                other => {
                    diags.push(
                        src.error(
                            item.span(),
                            format!(
                                "each item of `{key}` must be text, not {}",
                                type_name(other)
                            ),
                        )
                        .hint("put each item in double quotes: `[\"uno\", \"due\"]`"),
                    );
                    false
                }
            }
        }),
        (Ty::ChoiceList(words), DeValue::Array(a)) => {
            check_items(src, key, a, diags, |src, item, diags| {
                let span = item.span();
                match item.get_ref() {
                    DeValue::String(s) => check_choice(src, key, s, words, span, diags),
                    other => {
                        diags.push(
                            src.error(
                                span,
                                format!(
                                    "each item of `{key}` must be text, not {}",
                                    type_name(other)
                                ),
                            )
                            .hint(format!("write one of: {}", words.join(", "))),
                        );
                        false
                    }
                }
            })
        }
        (Ty::TextLists, DeValue::Array(a)) => {
            check_items(src, key, a, diags, |src, item, diags| {
                match item.get_ref() {
                    DeValue::Array(inner) if inner.iter().all(|i| i.get_ref().is_str()) => true,
                    _ => {
                        diags.push(
                            src.error(
                                item.span(),
                                format!("each item of `{key}` must be a list of words"),
                            )
                            .hint("e.g. `groups = [[\"badante\", \"assistente familiare\"]]`"),
                        );
                        false
                    }
                }
            })
        }
        (Ty::Table(sub), DeValue::Table(t)) => {
            check_table(src, text, t, sub, Some(key), &span, broken_lines, diags);
            true
        }
        (Ty::Tables(sub), DeValue::Array(a)) => {
            let mut kept = DeArray::new();
            let mut dropped = false;
            for item in a.iter() {
                let mut item = item.clone();
                let item_span = item.span();
                let DeValue::Table(t) = item.get_mut() else {
                    diags.push(
                        src.error(item_span, format!("each item of `{key}` must be a table"))
                            .hint(format!("write each one as a `[[{key}]]` block")),
                    );
                    dropped = true;
                    continue;
                };
                let before = diags.len();
                check_table(
                    src,
                    text,
                    t,
                    sub,
                    Some(key),
                    &item_span,
                    broken_lines,
                    diags,
                );
                // An item lacking a required key cannot be read: drop it.
                if sub.iter().any(|f| f.required && !t.contains_key(f.key)) {
                    dropped = true;
                    if diags.len() == before {
                        diags.push(
                            src.error(item_span, format!("this `[[{key}]]` is incomplete"))
                                .hint(GENERIC_HINT),
                        );
                    }
                    continue;
                }
                kept.push(item);
            }
            if dropped {
                *a = kept;
            }
            true
        }
        (_, other) => wrong(diags, other),
    }
}

/// Checks each item of a list, keeping the valid ones.
fn check_items(
    src: &Source<'_>,
    _key: &str,
    a: &mut DeArray<'_>,
    diags: &mut Vec<Diagnostic>,
    mut ok: impl FnMut(&Source<'_>, &Spanned<DeValue<'_>>, &mut Vec<Diagnostic>) -> bool,
) -> bool {
    let mut kept = DeArray::new();
    let mut dropped = false;
    for item in a.iter() {
        if ok(src, item, diags) {
            kept.push(item.clone());
        } else {
            dropped = true;
        }
    }
    if dropped {
        *a = kept;
    }
    true
}

fn check_choice(
    src: &Source<'_>,
    key: &str,
    s: &str,
    words: &[&str],
    span: Range<usize>,
    diags: &mut Vec<Diagnostic>,
) -> bool {
    if words.contains(&s) {
        return true;
    }
    let list = words.join(", ");
    let hint = match did_you_mean(&s.to_lowercase(), words.iter().copied()) {
        Some(w) => format!("did you mean `{w}`? The values of `{key}` are: {list}"),
        None => format!("write one of: {list}"),
    };
    diags.push(
        src.error(span, format!("`{s}` is not an allowed value"))
            .hint(hint),
    );
    false
}

/// The message and hint for a value of the wrong type, from what was written.
fn wrong_type(key: &str, ty: Ty, v: &DeValue<'_>) -> (String, String) {
    let found = type_name(v);
    let expected = expected_name(ty);
    let generic = (
        format!("`{key}` must be {expected}, not {found}"),
        format!("write it as {expected}"),
    );
    match (ty, v) {
        (Ty::Date, DeValue::String(s)) if looks_like_date(s) => (
            "a date is written without quotes".to_string(),
            format!("write the date as YYYY-MM-DD without quotes: `{key} = {s}`"),
        ),
        (Ty::Date, DeValue::String(_)) => (
            generic.0,
            format!("write the date as YYYY-MM-DD without quotes, e.g. `{key} = 2026-10-01`"),
        ),
        (Ty::Count, DeValue::String(s)) if s.trim().parse::<u32>().is_ok() => (
            format!("`{key}` must be a number, not text"),
            format!("write the number without quotes: `{key} = {}`", s.trim()),
        ),
        (Ty::Bool, DeValue::String(s)) if matches!(s.trim(), "true" | "false") => (
            format!("`{key}` must be true or false, not text"),
            format!("write it without quotes: `{key} = {}`", s.trim()),
        ),
        (Ty::Bool, DeValue::String(_)) => (
            generic.0,
            format!("write `{key} = true` or `{key} = false`, without quotes"),
        ),
        (Ty::TextList | Ty::ChoiceList(_), DeValue::String(s)) => (
            format!("`{key}` must be a list, not text"),
            format!("write a list in square brackets, even of one item: `{key} = [\"{s}\"]`"),
        ),
        (Ty::Text | Ty::Choice(_), DeValue::Array(_)) => (
            format!("`{key}` takes one value, not a list"),
            format!("write a single value in quotes: `{key} = \"…\"`"),
        ),
        (Ty::Text | Ty::Choice(_), DeValue::Integer(i)) => (
            generic.0,
            format!("put it in double quotes: `{key} = \"{}\"`", i.as_str()),
        ),
        (Ty::Text | Ty::Choice(_), DeValue::Datetime(d)) => (
            generic.0,
            format!("put it in double quotes: `{key} = \"{d}\"`"),
        ),
        (Ty::Table(_) | Ty::Tables(_), _) => (
            generic.0,
            format!("`{key}` is a table: write a `[{key}]` line and its keys below it"),
        ),
        _ => generic,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::parse::front::{OfficeFront, PageFront};

    fn diags_of<T: Schema + serde::de::DeserializeOwned>(toml_text: &str) -> Vec<Diagnostic> {
        let file: Arc<str> = toml_text.into();
        let src = Source {
            rel: "x.md",
            file: &file,
            offset: 0,
        };
        read::<T>(&src, toml_text).1
    }

    #[test]
    fn syntax_hints_come_from_the_text() {
        let d = diags_of::<PageFront>("title = \"a\"\ntitle = \"b\"\n");
        assert_eq!(d[0].message, "`title` is written twice", "{d:?}");
        let d = diags_of::<PageFront>("title = Chi siamo\n");
        assert!(
            d[0].hint
                .as_ref()
                .unwrap()
                .contains("`title = \"Chi siamo\"`"),
            "{d:?}"
        );
        let d = diags_of::<PageFront>("title = ‘Chi siamo’\n");
        assert_eq!(d[0].message, "`‘` is not a TOML quote", "{d:?}");
        assert_eq!(d[0].line_col(), Some((1, 9)));
    }

    #[test]
    fn nested_tables_are_checked_and_incomplete_items_dropped() {
        let text =
            "name = \"U\"\nkind = \"municipale\"\n[[hours]]\ndays = [\"lun\"]\nopens = \"09:00\"\n";
        let d = diags_of::<OfficeFront>(text);
        let messages: Vec<&str> = d.iter().map(|d| d.message.as_str()).collect();
        assert!(
            messages.contains(&"`municipale` is not an allowed value"),
            "{messages:?}"
        );
        assert!(
            messages.contains(&"`lun` is not an allowed value"),
            "{messages:?}"
        );
        assert!(
            messages.contains(&"`[[hours]]` lacks the required key `closes`"),
            "{messages:?}"
        );
        let d = diags_of::<OfficeFront>("name = \"U\"\nkind = \"health\"\nstep_free = \"true\"\n");
        assert!(
            d[0].hint.as_ref().unwrap().contains("`step_free = true`"),
            "{d:?}"
        );
    }

    #[test]
    fn choices_match_the_enums() {
        use crate::model::{Cost, Day, OfficeKind, Status};
        for w in crate::parse::front::STATUS {
            toml::Value::String(w.to_string())
                .try_into::<Status>()
                .unwrap();
        }
        for w in crate::parse::front::COST {
            toml::Value::String(w.to_string())
                .try_into::<Cost>()
                .unwrap();
        }
        for w in crate::parse::front::OFFICE_KIND {
            toml::Value::String(w.to_string())
                .try_into::<OfficeKind>()
                .unwrap();
        }
        for w in crate::parse::front::DAYS {
            toml::Value::String(w.to_string())
                .try_into::<Day>()
                .unwrap();
        }
    }

    #[test]
    fn date_shapes() {
        assert!(looks_like_date("2026-02-30"));
        assert!(looks_like_date("\"2026-1-5\""));
        assert!(!looks_like_date("Via Roma 1"));
        assert!(!looks_like_date("2026"));
    }
}
