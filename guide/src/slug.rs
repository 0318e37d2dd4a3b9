//! Slugs: the file names of entries and the last word of their addresses.
//! Used by loading (file names), validation (taxonomy slugs), the model
//! (a sort key) and `sportello new`.

/// A slug: lowercase ASCII letters, digits and inner hyphens.
pub fn is_valid_slug(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('-')
        && !s.ends_with('-')
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// A slug close to what was written: lowercase ASCII, accents dropped, hyphens.
pub fn suggest_slug(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().flat_map(char::to_lowercase) {
        let c = match c {
            'à' | 'á' | 'â' | 'ä' => 'a',
            'è' | 'é' | 'ê' | 'ë' => 'e',
            'ì' | 'í' | 'î' | 'ï' => 'i',
            'ò' | 'ó' | 'ô' | 'ö' => 'o',
            'ù' | 'ú' | 'û' | 'ü' => 'u',
            c if c.is_ascii_alphanumeric() => c,
            _ => '-',
        };
        if !(c == '-' && (out.is_empty() || out.ends_with('-'))) {
            out.push(c);
        }
    }
    out.trim_end_matches('-').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert!(is_valid_slug("misura-b2"));
        assert!(!is_valid_slug("Misura B2"));
        assert_eq!(suggest_slug("Misura B2"), "misura-b2");
        assert_eq!(suggest_slug("Invalidità civile"), "invalidita-civile");
    }
}
