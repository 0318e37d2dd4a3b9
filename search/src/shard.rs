//! The binary formats of the index, read by `search.js`.
//!
//! Postings: for each document, in id order, `varint(id - previous id)`
//! (the first is the id itself) and one payload byte:
//!
//! ```text
//! bit 7      the term is in the title
//! bits 6-3   quantised weighted term frequency: q = round(2 log2(1 + tf)), 0..15
//! bits 2-0   document length bucket: round(2 log2(len / 50)), 0..7
//! ```
//!
//! BM25 is computed in the browser from these, `df` (in the dictionary) and
//! `docs`/`avgdl` (in meta.json): one document's change alters only the
//! postings of its own terms, never a global normalisation baked in.
//!
//! Dictionary shard (`t/<first term>.bin`): `varint(count)`, then per term,
//! in byte order:
//!
//! ```text
//! varint shared, varint len, bytes   term, front-coded on the previous term
//! varint shared, varint len, bytes   the commonest written word, front-coded on the term
//! varint df
//! varint n, n bytes                  postings inline; n = 0: they are in p/<term>.bin
//! ```
//!
//! Ending shard (`e/<first key>.bin`): the same terms written backwards
//! (by characters), so that a word whose first letters carry a typo can
//! still be found from its end: `varint(count)`, then the reversed terms in
//! byte order, each front-coded on the previous (`varint shared, varint
//! len, bytes`). The browser looks a candidate up in the dictionary after.
//!
//! Varints are LEB128 (7 bits per byte, low first).

use std::sync::LazyLock;

/// Postings longer than this go to their own file, so a dictionary shard
/// stays a few KB.
pub const INLINE_MAX: usize = 48;

/// Appends `v` as a LEB128 varint (7 bits a byte, low first).
pub fn put_varint(out: &mut Vec<u8>, mut v: u32) {
    while v >= 0x80 {
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads a varint at `pos` and moves past it; `None` if truncated or too long.
pub fn get_varint(buf: &[u8], pos: &mut usize) -> Option<u32> {
    let mut v: u32 = 0;
    let mut shift = 0;
    loop {
        let b = *buf.get(*pos)?;
        *pos += 1;
        v |= u32::from(b & 0x7f).checked_shl(shift)?;
        if b & 0x80 == 0 {
            return Some(v);
        }
        shift += 7;
        if shift > 28 {
            return None;
        }
    }
}

/// Quantised weighted term frequency (4 bits).
pub fn quantise_tf(weight: u32) -> u8 {
    // A table for the weights that occur, computed once: this runs for
    // every posting of a build. From 256 on the value is always 15.
    static TABLE: LazyLock<[u8; 256]> =
        LazyLock::new(|| std::array::from_fn(|w| quantise_tf_exact(w as u32)));
    TABLE.get(weight as usize).copied().unwrap_or(15)
}

fn quantise_tf_exact(weight: u32) -> u8 {
    let q = (2.0 * (1.0 + f64::from(weight)).log2()).round();
    q.clamp(1.0, 15.0) as u8
}

/// Document length bucket (3 bits).
pub fn length_bucket(len: u32) -> u8 {
    let b = (2.0 * (f64::from(len.max(1)) / 50.0).log2()).round();
    b.clamp(0.0, 7.0) as u8
}

/// The byte stored with a posting: title flag, quantised weight, length bucket.
pub fn payload(title: bool, weight: u32, len: u32) -> u8 {
    payload_in_bucket(title, weight, length_bucket(len))
}

/// [`payload`] with the document's [`length_bucket`] already computed.
pub fn payload_in_bucket(title: bool, weight: u32, bucket: u8) -> u8 {
    (u8::from(title) << 7) | (quantise_tf(weight) << 3) | bucket
}

/// One document of a term's postings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Posting {
    /// The document id.
    pub doc: u32,
    /// See [`payload`].
    pub payload: u8,
}

/// Postings sorted by document, as gaps and payloads.
pub fn encode_postings(postings: &[Posting]) -> Vec<u8> {
    let mut out = Vec::with_capacity(postings.len() * 2);
    let mut prev = 0;
    for (i, p) in postings.iter().enumerate() {
        debug_assert!(i == 0 || p.doc > prev, "postings out of order");
        put_varint(&mut out, p.doc - prev);
        out.push(p.payload);
        prev = p.doc;
    }
    out
}

/// The inverse of [`encode_postings`]; `None` if the bytes are not valid.
pub fn decode_postings(buf: &[u8]) -> Option<Vec<Posting>> {
    let mut out = Vec::new();
    let mut pos = 0;
    let mut doc = 0;
    while pos < buf.len() {
        doc += get_varint(buf, &mut pos)?;
        let payload = *buf.get(pos)?;
        pos += 1;
        out.push(Posting { doc, payload });
    }
    Some(out)
}

/// One term of a dictionary shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The term, as the pipeline makes it.
    pub term: String,
    /// Its commonest written form, for suggestions.
    pub surface: String,
    /// How many documents hold it.
    pub df: u32,
    /// Encoded postings when inline; empty when in their own file.
    pub inline: Vec<u8>,
}

fn shared_prefix(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

fn put_front_coded(out: &mut Vec<u8>, base: &[u8], s: &[u8]) {
    let shared = shared_prefix(base, s);
    put_varint(out, shared as u32);
    put_varint(out, (s.len() - shared) as u32);
    out.extend_from_slice(&s[shared..]);
}

fn get_front_coded(buf: &[u8], pos: &mut usize, base: &[u8]) -> Option<Vec<u8>> {
    let shared = get_varint(buf, pos)? as usize;
    let len = get_varint(buf, pos)? as usize;
    let mut s = base.get(..shared)?.to_vec();
    s.extend_from_slice(buf.get(*pos..*pos + len)?);
    *pos += len;
    Some(s)
}

/// Entries must be sorted by term (byte order) and unique.
pub fn encode_shard(entries: &[Entry]) -> Vec<u8> {
    encode_shard_from(
        entries
            .iter()
            .map(|e| EntryRef {
                term: &e.term,
                surface: &e.surface,
                df: e.df,
                inline: &e.inline,
            })
            .collect(),
    )
}

/// An [`Entry`] borrowed from the index, so encoding copies nothing first.
pub struct EntryRef<'a> {
    /// [`Entry::term`].
    pub term: &'a str,
    /// [`Entry::surface`].
    pub surface: &'a str,
    /// [`Entry::df`].
    pub df: u32,
    /// [`Entry::inline`].
    pub inline: &'a [u8],
}

/// [`encode_shard`] on borrowed entries, sorted by term and unique.
pub fn encode_shard_from(entries: Vec<EntryRef<'_>>) -> Vec<u8> {
    let mut out = Vec::new();
    put_varint(&mut out, entries.len() as u32);
    let mut prev: &[u8] = b"";
    for e in &entries {
        debug_assert!(prev < e.term.as_bytes() || prev.is_empty());
        put_front_coded(&mut out, prev, e.term.as_bytes());
        put_front_coded(&mut out, e.term.as_bytes(), e.surface.as_bytes());
        put_varint(&mut out, e.df);
        put_varint(&mut out, e.inline.len() as u32);
        out.extend_from_slice(e.inline);
        prev = e.term.as_bytes();
    }
    out
}

/// The entries of a dictionary shard; `None` if the bytes are not valid.
pub fn decode_shard(buf: &[u8]) -> Option<Vec<Entry>> {
    let mut pos = 0;
    let n = get_varint(buf, &mut pos)?;
    let mut out: Vec<Entry> = Vec::with_capacity(n as usize);
    let mut prev = Vec::new();
    for _ in 0..n {
        let term = get_front_coded(buf, &mut pos, &prev)?;
        let surface = get_front_coded(buf, &mut pos, &term)?;
        let df = get_varint(buf, &mut pos)?;
        let len = get_varint(buf, &mut pos)? as usize;
        let inline = buf.get(pos..pos + len)?.to_vec();
        pos += len;
        prev = term.clone();
        out.push(Entry {
            term: String::from_utf8(term).ok()?,
            surface: String::from_utf8(surface).ok()?,
            df,
            inline,
        });
    }
    (pos == buf.len()).then_some(out)
}

/// A term written backwards, by characters: the key of the ending shards.
pub fn reversed(term: &str) -> String {
    term.chars().rev().collect()
}

/// Encodes an ending shard: reversed terms, sorted and unique.
pub fn encode_ending_shard(keys: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    put_varint(&mut out, keys.len() as u32);
    let mut prev: &[u8] = b"";
    for k in keys {
        debug_assert!(prev < k.as_bytes() || prev.is_empty());
        put_front_coded(&mut out, prev, k.as_bytes());
        prev = k.as_bytes();
    }
    out
}

/// The keys of an ending shard; `None` if the bytes are not valid.
pub fn decode_ending_shard(buf: &[u8]) -> Option<Vec<String>> {
    let mut pos = 0;
    let n = get_varint(buf, &mut pos)?;
    let mut out = Vec::with_capacity(n as usize);
    let mut prev = Vec::new();
    for _ in 0..n {
        let key = get_front_coded(buf, &mut pos, &prev)?;
        out.push(String::from_utf8(key.clone()).ok()?);
        prev = key;
    }
    (pos == buf.len()).then_some(out)
}

/// File name of a term (a shard's first term, or a term's postings):
/// the term itself when it is `[a-z0-9]+`, else `_` and its UTF-8 in hex.
pub fn file_name(term: &str) -> String {
    if !term.is_empty()
        && term
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    {
        term.to_string()
    } else {
        let mut s = String::from("_");
        for b in term.bytes() {
            s.push_str(&format!("{b:02x}"));
        }
        s
    }
}

/// 32-bit FNV-1a: decides, from the term alone, where a shard starts, so
/// that adding a term never moves the boundaries of other shards.
pub fn fnv1a(s: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in s.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// A bitmap of `n` documents, bit `i` of byte `i / 8` (low bit first).
pub fn bitmap(n: usize, set: impl IntoIterator<Item = usize>) -> Vec<u8> {
    let mut out = vec![0u8; n.div_ceil(8)];
    for i in set {
        out[i / 8] |= 1 << (i % 8);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip() {
        for v in [0, 1, 127, 128, 300, 16_383, 16_384, u32::MAX] {
            let mut b = Vec::new();
            put_varint(&mut b, v);
            let mut pos = 0;
            assert_eq!(get_varint(&b, &mut pos), Some(v));
            assert_eq!(pos, b.len());
        }
        let mut b = Vec::new();
        put_varint(&mut b, 300);
        assert_eq!(b, [0xac, 0x02]);
        assert_eq!(get_varint(&[0x80], &mut 0), None);
    }

    #[test]
    fn postings_are_deltas_with_a_payload_byte() {
        let p = [
            Posting {
                doc: 3,
                payload: 0x81,
            },
            Posting { doc: 4, payload: 2 },
            Posting {
                doc: 200,
                payload: 3,
            },
        ];
        let b = encode_postings(&p);
        assert_eq!(b, [3, 0x81, 1, 2, 196, 1, 3]);
        assert_eq!(decode_postings(&b).unwrap(), p);
    }

    #[test]
    fn quantised_tf_table_matches_the_formula() {
        for w in 0..2000 {
            assert_eq!(quantise_tf(w), quantise_tf_exact(w), "{w}");
        }
        assert_eq!(quantise_tf(u32::MAX), 15);
    }

    #[test]
    fn payload_packs_title_tf_and_length() {
        let p = payload(true, 12, 400);
        assert_eq!(p >> 7, 1);
        assert_eq!((p >> 3) & 15, quantise_tf(12));
        assert_eq!(p & 7, length_bucket(400));
        assert_eq!(quantise_tf(1), 2);
        assert_eq!(quantise_tf(100_000), 15);
        assert_eq!(length_bucket(1), 0);
        assert_eq!(length_bucket(50), 0);
        assert_eq!(length_bucket(100), 2);
        assert_eq!(length_bucket(100_000), 7);
    }

    #[test]
    fn shards_are_front_coded_and_round_trip() {
        let e = |t: &str, s: &str, df, inline: Vec<u8>| Entry {
            term: t.into(),
            surface: s.into(),
            df,
            inline,
        };
        let entries = vec![
            e("assegn", "assegno", 5, vec![0, 16]),
            e("assistent", "assistente", 40, vec![]),
            e("citta", "città", 1, vec![1, 9]),
        ];
        let b = encode_shard(&entries);
        // "assistent" shares "ass" with "assegn": 3 shared bytes, 6 new
        assert_eq!(&b[1..3], &[0, 6]);
        let second = b
            .windows(8)
            .position(|w| w == [3, 6, b'i', b's', b't', b'e', b'n', b't']);
        assert!(second.is_some(), "{b:?}");
        assert_eq!(decode_shard(&b).unwrap(), entries);
        assert_eq!(decode_shard(&b[..b.len() - 1]), None);

        // The ending shard: reversed terms, front-coded.
        let keys = ["atticcatnemila", "ettol", "ettolb", "àttic"];
        assert_eq!(reversed("città"), "àttic");
        let b = encode_ending_shard(&keys);
        assert_eq!(&b[..3], &[4, 0, 14]);
        assert_eq!(decode_ending_shard(&b).unwrap(), keys);
        assert_eq!(decode_ending_shard(&b[..b.len() - 1]), None);
    }

    #[test]
    fn file_names_are_safe_and_unambiguous() {
        assert_eq!(file_name("isee"), "isee");
        assert_eq!(file_name("730"), "730");
        assert_eq!(file_name(""), "_");
        assert_eq!(file_name("ß"), "_c39f");
        assert_eq!(fnv1a(""), 0x811c_9dc5);
        assert_eq!(fnv1a("a"), 0xe40c_292c);
    }

    #[test]
    fn bitmaps_are_low_bit_first() {
        assert_eq!(bitmap(10, [0, 3, 9]), [0b0000_1001, 0b0000_0010]);
    }
}
