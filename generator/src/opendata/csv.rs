//! RFC 4180 CSV, for the HSDS tabular format.

/// One table: the header and the rows, every field quoted when needed.
pub fn table(columns: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = String::new();
    line(&mut out, columns.iter().copied());
    for r in rows {
        line(&mut out, r.iter().map(String::as_str));
    }
    out
}

fn line<'a>(out: &mut String, fields: impl Iterator<Item = &'a str>) {
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
        let t = super::table(&["a", "b"], &[vec!["x, y".into(), "z\"".into()]]);
        assert_eq!(t, "a,b\r\n\"x, y\",\"z\"\"\"\r\n");
    }
}
