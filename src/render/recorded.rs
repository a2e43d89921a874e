//! What the template functions read while one output renders: a list per rayon worker,
//! taken by render when the output is done and kept in the build state as its `Dep`s.
//!
//! A module of its own so that both the template functions and the shortcodes they render
//! can note what they read without importing each other.

use crate::plan::reason::Dep;

thread_local! {
    /// What the template functions read during the render on this thread.
    static RECORDED: std::cell::RefCell<Vec<Dep>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Notes that the render running on this thread read `dep`.
pub(crate) fn record(dep: Dep) {
    RECORDED.with(|r| r.borrow_mut().push(dep));
}

/// Takes what the functions read on this thread since the last call, sorted and deduplicated.
pub(crate) fn take_recorded() -> Vec<Dep> {
    let mut deps = RECORDED.with(|r| std::mem::take(&mut *r.borrow_mut()));
    deps.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
    deps.dedup();
    deps
}
