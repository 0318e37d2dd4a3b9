//! One template context per rendering thread: the keys every page shares
//! (labels, navigation, site) go in once, and each page's own keys are put
//! on top and taken off again. Copying the shared keys for each of 11,000
//! pages cost about a tenth of a build.

use serde::Serialize;
use tera::Context;

/// The shared context with one page's keys on top; dropping it takes them
/// off, so the next page sees only the shared keys.
pub(super) struct PageContext<'a> {
    ctx: &'a mut Context,
    added: Vec<&'static str>,
}

impl<'a> PageContext<'a> {
    pub(super) fn new(shared: &'a mut Context) -> Self {
        PageContext {
            ctx: shared,
            added: Vec::new(),
        }
    }

    /// Puts a page's key on top. A page key never hides a shared one:
    /// taking it off would lose the shared value for the next page.
    pub(super) fn insert<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) {
        if !self.added.contains(&key) {
            assert!(
                !self.ctx.contains_key(key),
                "page key `{key}` would hide a shared one"
            );
            self.added.push(key);
        }
        self.ctx.insert(key, value);
    }

    pub(super) fn get(&self) -> &Context {
        self.ctx
    }
}

impl Drop for PageContext<'_> {
    fn drop(&mut self) {
        for key in &self.added {
            self.ctx.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_leaves_only_the_shared_keys() {
        let mut shared = Context::new();
        shared.insert("t", &"labels");
        {
            let mut page = PageContext::new(&mut shared);
            page.insert("service", &1);
            page.insert("service", &2);
            assert_eq!(page.get().get("service"), Some(&serde_json::json!(2)));
        }
        assert!(!shared.contains_key("service"));
        assert_eq!(shared.get("t"), Some(&serde_json::json!("labels")));
    }
}
