//! The allocator, and its settings.

/// mimalloc: rendering allocates many small values on every thread; glibc's arenas made the
/// build slower and its peak memory higher (measured at 100,000 pages, see the README). Set
/// here, in the library, so that its tests run on the allocator the command uses.
///
/// Its heap is advised to the kernel for transparent huge pages (mimalloc's default; Debian's
/// kernel gives them only where advised). A one-page edit at 10,000 pages then faults ~600
/// times instead of ~12,000; on this project's VM, where each 4 KiB fault can cost
/// microseconds, it takes 86-107 ms instead of 105-235 ms. The price is memory: 82 MB instead
/// of 61 MB at peak for that edit, 115 MB instead of 85 MB for a clean build, whose time does
/// not change (benches/RESULTS.md, sixth session).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
pub fn keep_freed_memory() {
    // SAFETY: mi_option_set only records an option's value, from any thread; -1 is a valid
    // purge delay (never purge).
    unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, -1) };
}

#[cfg(test)]
mod tests {
    #[test]
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

    /// The mapping that holds the heap carries the huge-page advice (`hg` in smaps), which
    /// mimalloc's `no_thp` feature would take away.
    #[test]
    fn the_heap_is_advised_for_huge_pages() {
        use std::io::Write as _;
        // mimalloc only advises when the kernel would act on it: with transparent huge pages
        // set to `never`, there is nothing to check (the one test that may skip, and says so).
        let setting = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled")
            .unwrap_or_default();
        if setting.contains("[never]") {
            let _ = writeln!(
                std::io::stderr(),
                "skipped: transparent huge pages are set to `never` on this kernel"
            );
            return;
        }
        let probe = Box::new(0u8);
        let address = std::ptr::from_ref::<u8>(&probe) as usize;
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let mut in_mapping = false;
        let mut flags = None;
        for line in smaps.lines() {
            if let Some((range, _)) = line.split_once(' ')
                && let Some((start, end)) = range.split_once('-')
                && let (Ok(start), Ok(end)) = (
                    usize::from_str_radix(start, 16),
                    usize::from_str_radix(end, 16),
                )
            {
                in_mapping = (start..end).contains(&address);
            } else if in_mapping && let Some(f) = line.strip_prefix("VmFlags:") {
                flags = Some(f.to_owned());
            }
        }
        let flags = flags.expect("the heap's mapping is in smaps");
        assert!(
            flags.split_whitespace().any(|f| f == "hg"),
            "flags: {flags}"
        );
    }
}
