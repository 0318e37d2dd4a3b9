//! The search index: built from the model at build time, split into small
//! shards that the browser downloads on demand (see the search issue).

use crate::model::Site;
use crate::write::OutputFile;

/// The search index of a site, kept in memory so `serve` can patch it.
#[derive(Debug, Default, Clone)]
pub struct SearchIndex {}

impl SearchIndex {
    /// Indexes every service of the site.
    pub fn build(_site: &Site) -> SearchIndex {
        SearchIndex {}
    }

    /// The files of the index, relative to the output directory.
    pub fn files(&self) -> Vec<OutputFile> {
        Vec::new()
    }
}
