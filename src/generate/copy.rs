//! The generated copy of the pages, shared by the generate stage (which fills it) and the
//! renderer (which reads it, waiting for a page whose copy is still being written).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use serde_json::{Map, Value};

use crate::hash::{ContentHash, Fingerprint};
use crate::plan::hash::Fingerprints;
use crate::site::{PageId, Site};

/// Field → value, for one page.
pub(crate) type Fields = Arc<Map<String, Value>>;

#[derive(Default)]
struct Inner {
    values: HashMap<PageId, Fields>,
    /// Pages whose copy is being generated.
    waiting: HashSet<PageId>,
    /// Pages that got fallback copy and are retried by the next build.
    pending: HashSet<PageId>,
    /// Set once the generate stage is over (a page never filled then stays empty).
    done: bool,
    /// Counts changes, for [`CopySet::wait_change`].
    changes: u64,
}

/// The copy of every page with generated fields: a value the generate stage fills while the
/// site renders, and render reads (waiting for a page whose copy is still being written).
#[derive(Default)]
pub struct CopySet {
    inner: Mutex<Inner>,
    changed: Condvar,
    /// A value unique to the build: the copy of a page still waiting hashes with it.
    nonce: u64,
}

impl std::fmt::Debug for CopySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CopySet").finish_non_exhaustive()
    }
}

impl CopySet {
    /// An empty set, for one build.
    pub fn new() -> Self {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Self {
            nonce: now ^ u64::from(std::process::id()),
            ..Self::default()
        }
    }

    /// The fingerprints of `site`'s pages and templates, with this copy in them.
    pub(crate) fn fingerprints(&self, site: &Site) -> Fingerprints {
        let config = site.config.template_value();
        Fingerprints::new(site, &config, &|id| self.fingerprint(id))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The copy of `page`, waiting while it is being generated.
    pub(crate) fn get(&self, page: PageId) -> Option<Fields> {
        let mut inner = self.lock();
        while inner.waiting.contains(&page) && !inner.done {
            inner = self
                .changed
                .wait(inner)
                .unwrap_or_else(PoisonError::into_inner);
        }
        inner.values.get(&page).cloned()
    }

    /// Whether any page's copy is still being generated.
    pub(crate) fn any_waiting(&self) -> bool {
        let inner = self.lock();
        !inner.done && !inner.waiting.is_empty()
    }

    /// Whether `page` is waiting for its copy.
    pub(crate) fn is_waiting(&self, page: PageId) -> bool {
        self.lock().waiting.contains(&page)
    }

    /// The count of changes so far.
    pub(crate) fn changes(&self) -> u64 {
        self.lock().changes
    }

    /// Blocks until some page got its copy after change number `seen` (or the stage ended).
    pub(crate) fn wait_change(&self, seen: u64) {
        let mut inner = self.lock();
        while inner.changes == seen && !inner.done && !inner.waiting.is_empty() {
            inner = self
                .changed
                .wait(inner)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Marks `pages` as waiting for their copy.
    pub(crate) fn expect(&self, pages: impl IntoIterator<Item = PageId>) {
        self.lock().waiting.extend(pages);
    }

    /// Sets the copy of `page` (`pending`: fallback copy, to be retried by the next build).
    pub(crate) fn set(&self, page: PageId, fields: Fields, pending: bool) {
        let mut inner = self.lock();
        inner.values.insert(page, fields);
        inner.waiting.remove(&page);
        inner.changes += 1;
        if pending {
            inner.pending.insert(page);
        } else {
            inner.pending.remove(&page);
        }
        drop(inner);
        self.changed.notify_all();
    }

    /// Ends the stage: nobody waits any longer.
    pub(crate) fn finish(&self) {
        let mut inner = self.lock();
        inner.done = true;
        inner.waiting.clear();
        inner.changes += 1;
        drop(inner);
        self.changed.notify_all();
    }

    /// Pages with fallback copy that the next build retries.
    pub(crate) fn pending(&self) -> HashSet<PageId> {
        self.lock().pending.clone()
    }

    /// What the copy of `page` adds to the inputs of the outputs that show it: the hash of its
    /// values; for a page still waiting, a value no build recorded (so every output showing it
    /// is rendered again once the copy is in). `None` for a page without generated fields.
    pub(crate) fn fingerprint(&self, page: PageId) -> Option<ContentHash> {
        let inner = self.lock();
        if inner.waiting.contains(&page) {
            return Some(Fingerprint::new("copy-waiting").num(self.nonce).finish());
        }
        let values = inner.values.get(&page)?;
        let mut f = Fingerprint::new("copy");
        f.json(values.as_ref())
            .num(u64::from(inner.pending.contains(&page)));
        Some(f.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers_wait_for_a_page_being_generated() {
        let copy = Arc::new(CopySet::default());
        copy.expect([PageId(1)]);
        assert!(copy.get(PageId(0)).is_none(), "not waiting: no wait");
        let writer = {
            let copy = Arc::clone(&copy);
            std::thread::spawn(move || {
                std::thread::sleep(std::time::Duration::from_millis(50));
                let mut fields = Map::new();
                fields.insert("a".into(), Value::from("x"));
                copy.set(PageId(1), Arc::new(fields), false);
            })
        };
        let got = copy.get(PageId(1)).expect("filled");
        assert_eq!(got["a"], "x");
        writer.join().unwrap();
    }

    #[test]
    fn fingerprints_change_with_values_and_waiting() {
        let with_nonce = |nonce| CopySet {
            nonce,
            ..CopySet::default()
        };
        let (copy, another_build) = (with_nonce(1), with_nonce(2));
        assert!(copy.fingerprint(PageId(0)).is_none());
        copy.expect([PageId(0)]);
        another_build.expect([PageId(0)]);
        let waiting = copy.fingerprint(PageId(0));
        assert_ne!(waiting, another_build.fingerprint(PageId(0)));
        let mut fields = Map::new();
        fields.insert("a".into(), Value::from("x"));
        copy.set(PageId(0), Arc::new(fields.clone()), true);
        let pending = copy.fingerprint(PageId(0));
        copy.set(PageId(0), Arc::new(fields), false);
        assert_ne!(pending, copy.fingerprint(PageId(0)));
        assert_ne!(waiting, pending);
    }
}
