//! RFC 4180 CSV, for the HSDS tabular format.

/// Appends one line, every field quoted when needed.
pub fn line<'a>(out: &mut String, fields: impl Iterator<Item = &'a str>) {
    for (i, f) in fields.enumerate() {
        if i > 0 {
            out.push(',');
        }
        if f.contains([',', '"', '\n', '\r']) {
            out.push('"');
            out.push_str(&f.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(f);
        }
    }
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    #[test]
    fn quotes_only_when_needed() {
        let mut t = String::new();
        super::line(&mut t, ["a", "b"].into_iter());
        super::line(&mut t, ["x, y", "z\""].into_iter());
        assert_eq!(t, "a,b\r\n\"x, y\",\"z\"\"\"\r\n");
    }
}
