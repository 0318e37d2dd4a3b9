//! How an edit rewrites only the index files it touches: the patch of an
//! [`Encoded`] after some documents changed, and the difference between
//! two encodings.

use super::*;

impl Encoded {
    /// After the keys `touched` of `dict` were added, removed or changed:
    /// the shard starts again, and the shards encoded again that hold a
    /// touched key or whose extent changed because a start appeared or
    /// disappeared (a vanished start's file goes).
    fn reshard(&mut self, dict: Dict, touched: &BTreeSet<String>, delta: &mut Delta) {
        let after = starts_of(self.keys(dict));
        let before = std::mem::replace(self.starts_mut(dict), after);
        let after = self.starts(dict);
        let mut shards: BTreeSet<String> = touched.iter().map(|k| start_of(after, k)).collect();
        let vanished: Vec<String> = before.difference(after).cloned().collect();
        for gone in &vanished {
            shards.insert(start_of(after, gone));
        }
        for new in after.difference(&before) {
            shards.insert(new.clone());
            // The shard before it now ends earlier.
            if let Some(b) = self.key_before(dict, new) {
                shards.insert(start_of(after, &b));
            }
        }
        for gone in vanished {
            self.remove(&dict.path(&gone), delta);
        }
        if self.keys(dict).next().is_none() {
            self.remove(&dict.path(""), delta);
        } else {
            for s in &shards {
                let bytes = self.encode(dict, s);
                self.put(dict.path(s), bytes, delta);
            }
        }
    }

    /// After documents were edited in place (ids unchanged): `edits` holds
    /// each edited id with its document before the edit; `index.docs` holds
    /// the new ones. Rewrites only the files the edits touch.
    pub fn patch(&mut self, index: &SearchIndex, edits: &[(usize, Doc)]) -> Delta {
        let mut touched: BTreeSet<String> = BTreeSet::new();
        for (id, old) in edits {
            let new = &index.docs[*id];
            let doc = *id as u32;
            for (term, t) in &old.terms {
                if let Some(state) = self.terms.get_mut(&**term) {
                    if let Ok(i) = state.postings.binary_search_by_key(&doc, |p| p.doc) {
                        state.postings.remove(i);
                    }
                    if let Some(n) = state.surfaces.get_mut(&*t.surface) {
                        *n = n.saturating_sub(t.surface_count);
                        if *n == 0 {
                            state.surfaces.remove(&*t.surface);
                        }
                    }
                }
                touched.insert(term.to_string());
            }
            for (term, t) in &new.terms {
                let state = self.terms.entry(term.to_string()).or_default();
                let p = posting_of(*id, new, t);
                match state.postings.binary_search_by_key(&doc, |p| p.doc) {
                    Ok(i) => state.postings[i] = p,
                    Err(i) => state.postings.insert(i, p),
                }
                *state.surfaces.entry(t.surface.to_string()).or_default() += t.surface_count;
                touched.insert(term.to_string());
            }
        }
        for term in &touched {
            let gone = match self.terms.get_mut(term) {
                Some(state) if state.postings.is_empty() => true,
                Some(state) => {
                    state.bytes = shard::encode_postings(&state.postings);
                    false
                }
                None => false,
            };
            if gone {
                self.terms.remove(term);
            }
        }

        let mut delta = Delta::default();
        self.reshard(Dict::Terms, &touched, &mut delta);
        // A term that appeared or disappeared changes its ending shard.
        let mut endings: BTreeSet<String> = BTreeSet::new();
        for term in &touched {
            let key = shard::reversed(term);
            let now = self.terms.contains_key(term);
            if (now && self.ends.insert(key.clone())) || (!now && self.ends.remove(&key)) {
                endings.insert(key);
            }
        }
        if !endings.is_empty() {
            self.reshard(Dict::Endings, &endings, &mut delta);
        }
        for term in &touched {
            let path = postings_path(term);
            match self.terms.get(term) {
                Some(t) if t.bytes.len() > shard::INLINE_MAX => {
                    let bytes = t.bytes.clone();
                    self.put(path, bytes, &mut delta);
                }
                _ => self.remove(&path, &mut delta),
            }
        }
        let groups: BTreeSet<usize> = edits.iter().map(|(id, _)| id / GROUP).collect();
        for g in groups {
            self.put(results_path(g), results(index, g), &mut delta);
        }
        let (facets, meta) = facets_and_meta(index, &self.starts, &self.end_starts);
        // A facet that lost its last document has no bitmap any more.
        let stale: Vec<String> = self
            .files
            .keys()
            .filter(|p| p.starts_with(&format!("{DIR}/f/")) && !facets.iter().any(|(q, _)| q == *p))
            .cloned()
            .collect();
        for path in stale {
            self.remove(&path, &mut delta);
        }
        for (path, bytes) in facets {
            self.put(path, bytes, &mut delta);
        }
        let (path, bytes) = self.meta_file(meta);
        self.put(path, bytes, &mut delta);
        delta
    }

    fn put(&mut self, path: String, bytes: Vec<u8>, delta: &mut Delta) {
        if self.files.get(&path) != Some(&bytes) {
            self.files.insert(path.clone(), bytes.clone());
            delta.written.push((path, bytes));
        }
    }

    fn remove(&mut self, path: &str, delta: &mut Delta) {
        if self.files.remove(path).is_some() {
            delta.removed.push(path.to_string());
        }
    }

    /// The difference from `old` to `self`, file by file.
    pub fn delta_from(&self, old: &Encoded) -> Delta {
        let mut delta = Delta::default();
        for (path, bytes) in &self.files {
            if old.files.get(path) != Some(bytes) {
                delta.written.push((path.clone(), bytes.clone()));
            }
        }
        for path in old.files.keys() {
            if !self.files.contains_key(path) {
                delta.removed.push(path.clone());
            }
        }
        delta
    }
}
