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
pub struct Stamp {
    /// The sitegen version.
    pub engine: String,
    /// Hash of the effective config, the drafts flag and the output folder.
    pub config: ContentHash,
    /// Every source file (root-relative) with its stat, sorted.
    pub files: Vec<(String, Stat)>,
    /// Every output file with its size, sorted.
    pub outputs: Vec<(String, u64)>,
    /// Pages and sections in the site, for the report.
    pub pages: usize,
    /// Sections in the site.
    pub sections: usize,
    /// Whether some output must be rendered on every build.
    pub volatile: bool,
    /// The generation of the manifest written with it: a manifest changed or damaged since
    /// means the ordinary path.
    pub generation: u64,
}

/// Reads the stamp of the state folder `state`.
pub fn read(state: &Path) -> Option<Stamp> {
    let bytes = std::fs::read(state.join("stamp")).ok()?;
    rmp_serde::from_slice::<Stamp>(&bytes)
        .ok()
        .filter(|s| s.engine == env!("CARGO_PKG_VERSION"))
}

/// Writes the stamp (after the manifest).
pub fn write(state: &Path, stamp: &Stamp) -> crate::diagnostics::Result<()> {
    let bytes = rmp_serde::to_vec(stamp).map_err(|e| {
        crate::diagnostics::Error::Usage(format!("cannot encode the build stamp: {e}"))
    })?;
    super::manifest::write_atomic(&state.join("stamp"), &bytes)
}

/// Removes the stamp: the next build takes the ordinary path.
pub fn clear(state: &Path) {
    let _ = std::fs::remove_file(state.join("stamp"));
}

/// Whether nothing the last build read or wrote changed: same config, same files with the
/// same stat, every output present with its size, nothing volatile.
pub fn unchanged(
    stamp: &Stamp,
    state: &Path,
    config: &ContentHash,
    files: &[(String, Stat)],
    output: &Path,
) -> bool {
    !stamp.volatile
        && stamp.config == *config
        && stamp.files == files
        && super::manifest::generation(state) == Some(stamp.generation)
        && stamp.outputs.iter().all(|(file, size)| {
            std::fs::metadata(output.join(file)).is_ok_and(|m| m.is_file() && m.len() == *size)
        })
}
