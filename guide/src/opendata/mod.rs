//! The list of services as open data: Open Referral HSDS 3.0 under
//! `/opendata/hsds/` (JSON and a zip of the tabular CSV) and a DCAT-AP_IT
//! description of the dataset at `/opendata/catalog.jsonld`, for regional
//! and national catalogues.
//!
//! Built from the [`Site`] alone (drafts are already out of it), so the
//! export is reproducible: ids are UUID v5 of the entry's kind and slug.

mod csv;
pub mod dcat;
pub mod hsds;
mod service;
mod stream;
mod warnings;
mod zip;

use sha1::{Digest, Sha1};

use crate::model::Site;

pub use warnings::warnings;

/// How many files the open data is: the JSON, the zip and the catalogue.
pub const FILE_COUNT: usize = hsds::JSON_FILES.len() + 2;

/// Files under the site root, in memory (for `serve` and tests).
pub fn files(site: &Site) -> Vec<(String, Vec<u8>)> {
    let sink = crate::write::MemorySink::default();
    // A memory sink cannot fail.
    let _ = stream::write(site, &sink);
    sink.into_files()
        .into_iter()
        .map(|(p, b)| (p, b.to_vec()))
        .collect()
}

/// Writes the files of the open data into `sink`, a few services at a time.
pub fn write(site: &Site, sink: &dyn crate::write::Sink) -> anyhow::Result<()> {
    stream::write(site, sink)
}

/// The namespace of every id of this guide's open data (a fixed random UUID).
const NAMESPACE: [u8; 16] = [
    0x6f, 0x1c, 0x2e, 0x58, 0x9a, 0x3b, 0x4d, 0x71, 0x8e, 0x05, 0xc4, 0x2a, 0x91, 0x7d, 0x36, 0xb0,
];

/// RFC 9562 UUID version 5 of `name` in [`NAMESPACE`], e.g. `service:telesoccorso`.
pub fn uuid5(name: &str) -> String {
    let mut h = Sha1::new();
    h.update(NAMESPACE);
    h.update(name.as_bytes());
    let d = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    // Hundreds of thousands of ids in a large guide: no formatting machinery.
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(36);
    for (i, x) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push(char::from(HEX[usize::from(x >> 4)]));
        out.push(char::from(HEX[usize::from(x & 0x0f)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_version_5_and_stable() {
        let a = uuid5("service:telesoccorso");
        assert_eq!(a, uuid5("service:telesoccorso"));
        assert_ne!(a, uuid5("service:telesoccorsi"));
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "5");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"));
    }

    #[test]
    fn uuid5_matches_the_rfc_algorithm() {
        // Python: uuid.uuid5(uuid.UUID("6f1c2e58-9a3b-4d71-8e05-c42a917d36b0"), "x")
        assert_eq!(uuid5("x"), "941d9445-9098-54ac-b295-a42ca3398c16");
    }
}
