//! The generated copy of the pages, shared by the generate stage (which fills it) and the
//! renderer (which reads it, waiting for a page whose copy is still being written).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use serde_json::{Map, Value};

use crate::hash::{ContentHash, Fingerprint};
use crate::load::site::PageId;

/// Field → value, for one page.
pub type Fields = Arc<Map<String, Value>>;

#[derive(Default)]
struct Inner {
    values: HashMap<PageId, Fields>,
    /// Pages whose copy is being generated.
    waiting: HashSet<PageId>,
    /// Pages that got fallback copy and are retried by the next build.
    pending: HashSet<PageId>,
    /// Set once the generate stage is over (a page never filled then stays empty).
    done: bool,
    /// Counts changes, for [`GeneratedCopy::wait_change`].
    changes: u64,
}

/// The copy of every page with generated fields.
#[derive(Default)]
pub struct GeneratedCopy {
    inner: Mutex<Inner>,
    changed: Condvar,
}

impl std::fmt::Debug for GeneratedCopy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeneratedCopy").finish_non_exhaustive()
    }
}

impl GeneratedCopy {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The copy of `page`, waiting while it is being generated.
    pub fn get(&self, page: PageId) -> Option<Fields> {
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
    pub fn any_waiting(&self) -> bool {
        let inner = self.lock();
        !inner.done && !inner.waiting.is_empty()
    }

    /// Whether `page` is waiting for its copy.
    pub fn is_waiting(&self, page: PageId) -> bool {
        self.lock().waiting.contains(&page)
    }

    /// The count of changes so far.
    pub fn changes(&self) -> u64 {
        self.lock().changes
    }

    /// Blocks until some page got its copy after change number `seen` (or the stage ended).
    pub fn wait_change(&self, seen: u64) {
        let mut inner = self.lock();
        while inner.changes == seen && !inner.done && !inner.waiting.is_empty() {
            inner = self
                .changed
                .wait(inner)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Marks `pages` as waiting for their copy.
    pub fn expect(&self, pages: impl IntoIterator<Item = PageId>) {
        self.lock().waiting.extend(pages);
    }

    /// Sets the copy of `page` (`pending`: fallback copy, to be retried by the next build).
    pub fn set(&self, page: PageId, fields: Fields, pending: bool) {
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
    pub fn finish(&self) {
        let mut inner = self.lock();
        inner.done = true;
        inner.waiting.clear();
        inner.changes += 1;
        drop(inner);
        self.changed.notify_all();
    }

    /// Pages with fallback copy that the next build retries.
    pub fn pending(&self) -> HashSet<PageId> {
        self.lock().pending.clone()
    }

    /// What the copy of `page` adds to the inputs of the outputs that show it: the hash of its
    /// values; for a page still waiting, a value no build recorded (so every output showing it
    /// is rendered again once the copy is in). `None` for a page without generated fields.
    pub fn fingerprint(&self, page: PageId, nonce: u64) -> Option<ContentHash> {
        let inner = self.lock();
        if inner.waiting.contains(&page) {
            return Some(Fingerprint::new("copy-waiting").num(nonce).finish());
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
        let copy = Arc::new(GeneratedCopy::default());
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
        let copy = GeneratedCopy::default();
        assert!(copy.fingerprint(PageId(0), 1).is_none());
        copy.expect([PageId(0)]);
        let waiting = copy.fingerprint(PageId(0), 1);
        assert_ne!(waiting, copy.fingerprint(PageId(0), 2));
        let mut fields = Map::new();
        fields.insert("a".into(), Value::from("x"));
        copy.set(PageId(0), Arc::new(fields.clone()), true);
        let pending = copy.fingerprint(PageId(0), 1);
        copy.set(PageId(0), Arc::new(fields), false);
        assert_ne!(pending, copy.fingerprint(PageId(0), 1));
        assert_ne!(waiting, pending);
    }
}
