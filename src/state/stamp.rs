//! The stamp: a compact picture of every file a build read, to see in milliseconds that nothing
//! changed.
//!
//! A no-op rebuild is the common case (cron runs every few minutes). Rather than decode the
//! whole manifest and load 10,000 pages to find nothing to do, the build compares the stat of
//! every source file, the effective config and the output files with this stamp, written after
//! the manifest by the last successful build. Any difference, a volatile template or a pending
//! journal, and the build takes the ordinary path.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::hash::ContentHash;
use crate::load::source::Stat;

/// What the last build read and wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Stamp {
    /// The sitegen version.
    pub(crate) engine: String,
    /// Hash of the effective config, the drafts flag and the output folder.
    pub(crate) config: ContentHash,
    /// Hash of every source file's root-relative path and stat, in the walk's (sorted) order
    /// ([`files_hash`]): a rebuild compares this, not 10,000 decoded paths.
    pub(crate) files: ContentHash,
    /// Every output file with its size, sorted.
    pub(crate) outputs: Vec<(String, u64)>,
    /// Pages and sections in the site, for the report.
    pub(crate) pages: usize,
    /// Sections in the site.
    pub(crate) sections: usize,
    /// Whether some output must be rendered on every build.
    pub(crate) volatile: bool,
    /// The generation of the manifest written with it: a manifest changed or damaged since
    /// means the ordinary path.
    pub(crate) generation: u64,
}

/// Reads the stamp of the state folder `state`.
pub(crate) fn read(state: &Path) -> Option<Stamp> {
    let bytes = std::fs::read(state.join("stamp")).ok()?;
    rmp_serde::from_slice::<Stamp>(&bytes)
        .ok()
        .filter(|s| s.engine == env!("CARGO_PKG_VERSION"))
}

/// The hash of a walk's `files`, as [`Stamp::files`] holds it.
pub(crate) fn files_hash(files: &[(String, Stat)]) -> ContentHash {
    let mut f = crate::hash::Fingerprint::new("source-files");
    f.num(files.len() as u64);
    for (path, stat) in files {
        f.str(path)
            .num(stat.size)
            .num(u64::try_from(stat.mtime_ns).unwrap_or(u64::MAX))
            .num(u64::try_from(stat.mtime_ns >> 64).unwrap_or(u64::MAX));
    }
    f.finish()
}

/// Writes the stamp (after the manifest). It is renamed into place but not synced: a stamp
/// lost or torn by a crash fails to decode, and one left from an earlier build names an older
/// generation than the manifest's; either way the next build takes the ordinary path.
pub(crate) fn write(state: &Path, stamp: &Stamp) -> crate::diagnostics::Result<()> {
    use crate::diagnostics::Error;
    let bytes = rmp_serde::to_vec(stamp)
        .map_err(|e| Error::Internal(format!("cannot encode the build stamp: {e}")))?;
    crate::fs::write_atomic(&state.join("stamp"), &bytes, crate::fs::Durability::Cached)
}

/// Removes the stamp: the next build takes the ordinary path.
pub(crate) fn clear(state: &Path) {
    let _ = std::fs::remove_file(state.join("stamp"));
}

/// Whether nothing the last build read or wrote changed: same config, same files with the
/// same stat, every output present with its size, nothing volatile.
pub(crate) fn unchanged(
    stamp: &Stamp,
    state: &Path,
    config: &ContentHash,
    files: &[(String, Stat)],
    output: &Path,
) -> bool {
    !stamp.volatile
        && stamp.config == *config
        && stamp.files == files_hash(files)
        && super::manifest::generation(state) == Some(stamp.generation)
        && stamp.outputs.iter().all(|(file, size)| {
            std::fs::metadata(output.join(file)).is_ok_and(|m| m.is_file() && m.len() == *size)
        })
}

#[cfg(test)]
mod tests {
    use super::files_hash;
    use crate::load::source::Stat;

    #[test]
    fn the_files_hash_sees_every_path_size_and_time() {
        let stat = |size, mtime_ns| Stat { size, mtime_ns };
        let files = vec![
            (
                "content/a.md".to_owned(),
                stat(10, 1_700_000_000_000_000_000),
            ),
            (
                "content/b.md".to_owned(),
                stat(20, 1_700_000_000_000_000_001),
            ),
        ];
        let base = files_hash(&files);
        assert_eq!(base, files_hash(&files.clone()));
        let mut renamed = files.clone();
        renamed[1].0 = "content/c.md".to_owned();
        let mut resized = files.clone();
        resized[0].1.size = 11;
        let mut touched = files.clone();
        touched[1].1.mtime_ns += 1;
        for changed in [renamed, resized, touched, files[..1].to_vec()] {
            assert_ne!(files_hash(&changed), base, "{changed:?}");
        }
    }
}
