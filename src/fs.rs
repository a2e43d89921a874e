//! Files written whole: a reader (or a crash) sees the old bytes or the new, never a mix.
//!
//! Every file sitegen replaces outside the staged outputs (the build state's journal and
//! stamp, the edge platforms' files) is written to a temporary beside it (`.NAME.tmp-PID`,
//! which a later build recognizes as a leftover) and renamed into place.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::diagnostics::{Error, Result};

/// Whether a write must survive a crash of the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Durability {
    /// Synced to disk, with its folder: state whose loss would make a build wrong.
    Synced,
    /// Left to the page cache: derived data whose loss only costs time.
    Cached,
}

/// The temporary a write of `path` goes through.
pub(crate) fn temporary(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// Whether a file name is a temporary of [`write_atomic`], or of a folder swapped in the same
/// way (`.NAME.tmp-PID`, `.NAME.old-PID`): a leftover when the process that made it is gone.
pub(crate) fn is_temporary(name: &str) -> bool {
    name.starts_with('.')
        && [".tmp-", ".old-"].iter().any(|marker| {
            name.rsplit_once(marker)
                .is_some_and(|(_, pid)| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
        })
}

/// Writes `bytes` to `path` (making its folder) through a temporary renamed into place.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8], durability: Durability) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let tmp = temporary(path);
    let written = std::fs::File::create(&tmp).and_then(|mut file| {
        file.write_all(bytes)?;
        if durability == Durability::Synced {
            file.sync_all()?;
        }
        Ok(())
    });
    if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(path, e));
    }
    if durability == Durability::Synced
        && let Some(dir) = path.parent()
        && let Ok(dir) = std::fs::File::open(dir)
    {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// Removes a file or folder, if it is there.
pub(crate) fn remove_path(path: &Path) -> Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(path).map_err(|e| Error::io(path, e)),
        Ok(_) => std::fs::remove_file(path).map_err(|e| Error::io(path, e)),
        Err(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::{Durability, is_temporary, temporary, write_atomic};

    #[test]
    fn a_write_replaces_the_file_whole_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/state");
        write_atomic(&path, b"one", Durability::Synced).unwrap();
        write_atomic(&path, b"two", Durability::Cached).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        let names: Vec<String> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["state"]);
        let tmp = temporary(&path);
        assert!(is_temporary(&tmp.file_name().unwrap().to_string_lossy()));
        assert!(
            !is_temporary("state") && !is_temporary(".state.tmp-") && !is_temporary(".a.tmp-1x")
        );
    }
}
