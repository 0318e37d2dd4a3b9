//! The plain text of a section as rendered to HTML by pulldown-cmark.
//!
//! A guide keeps each section once, as HTML: the index reads its words from
//! that, instead of every section being kept a second time as text (about a
//! quarter of a large guide's memory).

/// Block elements: the writer puts a newline beside them for layout, which
/// is not a line break of the text.
const BLOCK: &[&str] = &[
    "p",
    "ul",
    "ol",
    "li",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "table",
    "thead",
    "tbody",
    "tr",
    "blockquote",
    "pre",
    "hr",
    "dl",
    "dt",
    "dd",
    "div",
];

/// The text of `html`, written by pulldown-cmark's HTML writer with raw HTML
/// shown as text: the words of the text nodes (entities decoded) and of
/// image descriptions, a space where a paragraph, list item or table cell
/// ends and at each line break. Nothing is added where inline markup
/// (emphasis, links, code) starts or ends, so a word is not split by it.
pub fn text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    // Whether the tag before the current text run is a block (or `<br />`).
    let mut prev_block = true;
    let mut in_pre = false;
    while !rest.is_empty() {
        let end = find(b'<', rest).unwrap_or(rest.len());
        let (run, tail) = rest.split_at(end);
        // The name ends before any `>`, so it is the same read from `tail`.
        let name = tag_name(tail);
        let next_block = !tail.is_empty() && is_block(name);
        push_run(&mut out, run, prev_block, next_block, in_pre);
        if tail.is_empty() {
            break;
        }
        let close = find(b'>', tail).map_or(tail.len(), |i| i + 1);
        let tag = &tail[..close];
        match name {
            "/p" | "/li" | "/td" | "/th" => out.push(' '),
            "br" => out.push(' '),
            "img" => {
                if let Some(alt) = attribute(tag, "alt") {
                    decode_into(&mut out, alt);
                }
            }
            "pre" => in_pre = true,
            "/pre" => in_pre = false,
            _ => {}
        }
        prev_block = is_block(name) || name == "br";
        rest = &tail[close..];
    }
    out
}

/// Whether `html` has no text at all: `text(html).trim().is_empty()`,
/// without building the text.
pub fn is_blank(html: &str) -> bool {
    let mut rest = html;
    loop {
        let end = find(b'<', rest).unwrap_or(rest.len());
        if !rest[..end].trim().is_empty() {
            return false;
        }
        let tail = &rest[end..];
        if tail.is_empty() {
            return true;
        }
        let close = find(b'>', tail).map_or(tail.len(), |i| i + 1);
        let tag = &tail[..close];
        if tag_name(tag) == "img" && attribute(tag, "alt").is_some_and(|a| !a.trim().is_empty()) {
            return false;
        }
        rest = &tail[close..];
    }
}

/// `p`, `/p`, `img`… of a tag starting with `<`.
fn tag_name(tag: &str) -> &str {
    let body = &tag[1.min(tag.len())..];
    // By bytes: a name pulldown-cmark writes is ASCII, and every byte that
    // ends one is ASCII, so the cut is a char boundary.
    let closing = body.starts_with('/');
    let end = body
        .bytes()
        .position(|c| c.is_ascii_whitespace() || c == b'>' || (c == b'/' && !closing))
        .unwrap_or(body.len());
    &body[..end]
}

fn is_block(name: &str) -> bool {
    BLOCK.contains(&name.trim_start_matches('/'))
}

/// A text run: its newlines next to a block tag (or after `<br />`) are
/// layout; one among the words is a soft line break, which reads as a space.
fn push_run(out: &mut String, run: &str, prev_block: bool, next_block: bool, in_pre: bool) {
    if in_pre {
        decode_into(out, run);
        return;
    }
    let mut run = run;
    if prev_block {
        run = run.strip_prefix('\n').unwrap_or(run);
    }
    if next_block {
        run = run.strip_suffix('\n').unwrap_or(run);
    }
    while let Some(i) = find(b'\n', run) {
        decode_into(out, &run[..i]);
        out.push(' ');
        run = &run[i + 1..];
    }
    decode_into(out, run);
}

/// The first `byte` (ASCII) in `s`: an index that is a char boundary.
/// `str::find` with a char costs a search set-up per call, and a page's
/// text is thousands of short runs between tags.
fn find(byte: u8, s: &str) -> Option<usize> {
    memchr::memchr(byte, s.as_bytes())
}

/// The value of `name="…"` in a tag written by pulldown-cmark.
fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    let len = tag[start..].find('"')?;
    Some(&tag[start..start + len])
}

/// Appends `s` with the entities pulldown-cmark writes decoded.
fn decode_into(out: &mut String, s: &str) {
    let mut rest = s;
    while let Some(i) = find(b'&', rest) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let (ch, len) = [
            ("&amp;", '&'),
            ("&lt;", '<'),
            ("&gt;", '>'),
            ("&quot;", '"'),
            ("&#39;", '\''),
        ]
        .iter()
        .find(|(e, _)| tail.starts_with(e))
        .map_or(('&', 1), |(e, c)| (*c, e.len()));
        out.push(ch);
        rest = &tail[len..];
    }
    out.push_str(rest);
}

#[cfg(test)]
mod tests {
    use super::{is_blank, text};

    #[test]
    fn blank_is_no_text_at_all() {
        for html in [
            "",
            "<p></p>\n",
            "<ul>\n<li></li>\n</ul>\n",
            "<p><img src=\"a.png\" alt=\"\" /></p>\n",
        ] {
            assert!(is_blank(html), "{html}");
            assert!(text(html).trim().is_empty(), "{html}");
        }
        for html in [
            "<p>x</p>\n",
            "<p>&amp;</p>\n",
            "<p><img src=\"a.png\" alt=\"foto\" /></p>\n",
        ] {
            assert!(!is_blank(html), "{html}");
        }
    }

    #[test]
    fn paragraphs_items_and_cells_end_with_a_space() {
        assert_eq!(text("<p>Uno due</p>\n<p>tre</p>\n"), "Uno due tre ");
        assert_eq!(
            text("<ul>\n<li>uno</li>\n<li>due</li>\n</ul>\n"),
            "uno due "
        );
        assert_eq!(
            text("<table><thead><tr><th>Fase</th><th>Tempo</th></tr></thead><tbody>\n<tr><td>A</td><td>3 giorni</td></tr>\n</tbody></table>\n"),
            "Fase Tempo A 3 giorni "
        );
    }

    #[test]
    fn inline_markup_does_not_split_words_and_breaks_are_spaces() {
        assert_eq!(
            text("<p>ca<em>sa</em> <a href=\"/x/\">link</a></p>\n"),
            "casa link "
        );
        assert_eq!(text("<p>uno\ndue<br />\ntre</p>\n"), "uno due tre ");
        assert_eq!(text("<p><em>a</em>\n<em>b</em></p>\n"), "a b ");
    }

    #[test]
    fn entities_decoded_headings_glued_code_verbatim() {
        assert_eq!(text("<p>A &amp; B &lt;x&gt;</p>\n"), "A & B <x> ");
        // As the text was built from the Markdown: no space after a heading.
        assert_eq!(text("<h3>Titolo</h3>\n<p>testo</p>\n"), "Titolotesto ");
        assert_eq!(
            text("<pre><code>riga 1\nriga &amp; 2\n</code></pre>\n"),
            "riga 1\nriga & 2\n"
        );
        assert_eq!(
            text("<p><img src=\"a.png\" alt=\"una &quot;foto&quot;\" title=\"t\" /></p>\n"),
            "una \"foto\" "
        );
    }
}
