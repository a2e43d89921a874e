//! The allocator's settings for processes that build more than once.

/// mimalloc's `mi_option_purge_delay` (the 16th of `enum mi_option_e` in its v3 `mimalloc.h`,
/// which the Rust bindings do not name).
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Keeps the memory a build frees for the next build, instead of returning it to the system.
///
/// mimalloc gives freed memory back a second after it is freed (its purge delay). A
/// long-running `serve` or `schedule`, whose builds are seconds apart, then faults all of it
/// back in on the next build: at 10,000 pages ~12,000 page faults, 15-20 ms of each preview
/// rebuild, and a resident size that swings with the time since the last build. Never
/// purging holds it at the size of one build.
#[allow(unsafe_code, reason = "one call into the allocator's C API")]
pub fn keep_freed_memory() {
    // SAFETY: mi_option_set only records an option's value, from any thread; -1 is a valid
    // purge delay (never purge).
    unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, -1) };
}

#[cfg(test)]
mod tests {
    #[test]
    #[allow(unsafe_code, reason = "reading an option of the allocator's C API")]
    fn the_option_set_is_the_purge_delay() {
        // SAFETY: mi_option_get only reads an option's value.
        let get = || unsafe { libmimalloc_sys::mi_option_get(super::PURGE_DELAY) };
        // Its documented default; no other option of v3 defaults to 1000. Run without
        // MIMALLOC_PURGE_DELAY in the environment.
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            assert_eq!(get(), 1000, "mimalloc's option numbering changed");
        }
        super::keep_freed_memory();
        assert_eq!(get(), -1);
    }
}
