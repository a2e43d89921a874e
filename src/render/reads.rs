//! What the template functions read while one output renders: collected on the rendering
//! thread (rayon renders one output per thread at a time) and taken with the output, so the
//! next build knows what to compare (`plan::reason::Dep`).

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
