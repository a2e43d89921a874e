//! The staging folder and its swap.
//!
//! Outputs are written to `.NAME.staging-PID` beside the output folder `NAME`. On success the
//! old output is renamed aside, the staging folder renamed into place, and the old one removed
//! (in parallel). Leftovers of killed builds are removed by the next one. Paths come from the
//! plan, which sanitized them; they are checked again here, and the staging folder is new, so no
//! symlink inside it can lead a write out of it.

use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;

use crate::diagnostics::{Error, Result};
use crate::load::site::StaticSource;

/// Where outputs go.
#[derive(Debug)]
pub enum Sink {
    /// A staging folder, swapped in by [`Staging::commit`].
    Staging(Staging),
    /// Nowhere (`sitegen check`): outputs are counted, not written.
    Discard(AtomicUsize),
}

impl Sink {
    /// Writes `bytes` to `file` (relative to the output folder).
    pub fn write(&self, file: &str, bytes: &[u8]) -> Result<()> {
        match self {
            Self::Staging(staging) => staging.write(file, bytes),
            Self::Discard(count) => {
                count.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
        }
    }

    /// Copies `source` to `file`; returns the number of bytes.
    pub fn copy(&self, source: &StaticSource, file: &str) -> Result<u64> {
        match (self, source) {
            (Self::Staging(staging), StaticSource::File(path)) => staging.copy(path, file),
            (Self::Staging(staging), StaticSource::Builtin(bytes)) => {
                staging.write(file, bytes).map(|()| bytes.len() as u64)
            }
            (Self::Discard(count), StaticSource::File(path)) => {
                count.fetch_add(1, Ordering::Relaxed);
                Ok(std::fs::metadata(path).map(|m| m.len()).unwrap_or(0))
            }
            (Self::Discard(count), StaticSource::Builtin(bytes)) => {
                count.fetch_add(1, Ordering::Relaxed);
                Ok(bytes.len() as u64)
            }
        }
    }

    /// Files written so far.
    pub fn files_written(&self) -> usize {
        match self {
            Self::Staging(staging) => staging.written.load(Ordering::Relaxed),
            Self::Discard(count) => count.load(Ordering::Relaxed),
        }
    }
}

/// A staging folder beside the output folder.
#[derive(Debug)]
pub struct Staging {
    output: PathBuf,
    staging: PathBuf,
    written: AtomicUsize,
}

impl Staging {
    /// Creates a fresh staging folder for `output`, removing leftovers of killed builds.
    pub fn new(output: &Path) -> Result<Self> {
        let name = output
            .file_name()
            .ok_or_else(|| {
                Error::Usage(format!(
                    "the output folder `{}` has no name",
                    output.display()
                ))
            })?
            .to_string_lossy()
            .into_owned();
        let parent = output
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        let parent = if parent.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            parent
        };
        std::fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
        remove_leftovers(&parent, &name);
        let staging = parent.join(format!(".{name}.staging-{}", std::process::id()));
        if staging.exists() {
            std::fs::remove_dir_all(&staging).map_err(|e| Error::io(&staging, e))?;
        }
        std::fs::create_dir(&staging).map_err(|e| Error::io(&staging, e))?;
        Ok(Self {
            output: output.to_path_buf(),
            staging,
            written: AtomicUsize::new(0),
        })
    }

    fn target(&self, file: &str) -> Result<PathBuf> {
        let relative = Path::new(file);
        if !relative
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
        {
            return Err(Error::Usage(format!(
                "refusing to write `{file}`: it is not a plain path inside the output folder"
            )));
        }
        Ok(self.staging.join(relative))
    }

    fn write(&self, file: &str, bytes: &[u8]) -> Result<()> {
        let target = self.target(file)?;
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        std::fs::write(&target, bytes).map_err(|e| Error::io(&target, e))?;
        self.written.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn copy(&self, source: &Path, file: &str) -> Result<u64> {
        let target = self.target(file)?;
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let size = std::fs::copy(source, &target).map_err(|e| Error::io(source, e))?;
        self.written.fetch_add(1, Ordering::Relaxed);
        Ok(size)
    }

    /// Moves the staged `files` into the existing output folder (one rename each), deletes
    /// `removed` there, and removes the staging folder: the incremental commit.
    pub fn merge(self, files: &[&str], removed: &[String]) -> Result<()> {
        for file in files {
            let from = self.target(file)?;
            let to = self.output.join(file);
            if let Some(dir) = to.parent() {
                std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
            }
            if std::fs::symlink_metadata(&to).is_ok_and(|m| m.is_dir()) {
                std::fs::remove_dir_all(&to).map_err(|e| Error::io(&to, e))?;
            }
            std::fs::rename(&from, &to).map_err(|e| Error::io(&to, e))?;
        }
        for file in removed {
            let Ok(path) = self.target(file).map(|_| self.output.join(file)) else {
                continue;
            };
            match std::fs::remove_file(&path) {
                Ok(()) => prune_empty_parents(&path, &self.output),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(&path, e)),
            }
        }
        remove_tree(&self.staging);
        Ok(())
    }

    /// Swaps the staging folder in as the output folder.
    pub fn commit(self) -> Result<()> {
        let mut old: Option<PathBuf> = None;
        if std::fs::symlink_metadata(&self.output).is_ok() {
            let aside = self.output.with_file_name(format!(
                ".{}.old-{}",
                file_name(&self.output),
                std::process::id()
            ));
            std::fs::rename(&self.output, &aside).map_err(|e| Error::io(&self.output, e))?;
            old = Some(aside);
        }
        if let Err(e) = std::fs::rename(&self.staging, &self.output) {
            if let Some(aside) = &old {
                let _ = std::fs::rename(aside, &self.output);
            }
            return Err(Error::io(&self.output, e));
        }
        if let Some(aside) = old {
            remove_tree(&aside);
        }
        Ok(())
    }

    /// Removes the staging folder, leaving the output as it was.
    pub fn abort(self) {
        remove_tree(&self.staging);
    }
}

/// Removes the empty folders above `file`, up to (not including) `root`.
fn prune_empty_parents(file: &Path, root: &Path) {
    let mut dir = file.parent();
    while let Some(d) = dir {
        if d == root || !d.starts_with(root) || std::fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Removes a folder, its top-level entries in parallel (outputs are wide trees).
fn remove_tree(dir: &Path) {
    if std::fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir()) {
        if let Ok(entries) = std::fs::read_dir(dir) {
            let entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
            entries.par_iter().for_each(|path| {
                if std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
                    let _ = std::fs::remove_dir_all(path);
                } else {
                    let _ = std::fs::remove_file(path);
                }
            });
        }
        let _ = std::fs::remove_dir_all(dir);
    } else {
        let _ = std::fs::remove_file(dir);
    }
}

/// Removes `.NAME.staging-PID` and `.NAME.old-PID` folders whose process is gone.
fn remove_leftovers(parent: &Path, name: &str) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let pid = file
            .strip_prefix(&format!(".{name}.staging-"))
            .or_else(|| file.strip_prefix(&format!(".{name}.old-")))
            .and_then(|pid| pid.parse::<u32>().ok());
        if let Some(pid) = pid
            && (pid == std::process::id() || !Path::new(&format!("/proc/{pid}")).exists())
        {
            remove_tree(&entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Staging;

    #[test]
    fn merge_replaces_changed_files_and_deletes_removed_ones() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("public");
        std::fs::create_dir_all(out.join("old/deep")).unwrap();
        std::fs::write(out.join("old/deep/index.html"), "old").unwrap();
        std::fs::write(out.join("keep.html"), "keep").unwrap();
        std::fs::write(out.join("a.html"), "a1").unwrap();
        let staging = Staging::new(&out).unwrap();
        staging.write("a.html", b"a2").unwrap();
        staging.write("new/index.html", b"n").unwrap();
        staging
            .merge(
                &["a.html", "new/index.html"],
                &["old/deep/index.html".to_owned()],
            )
            .unwrap();
        assert_eq!(std::fs::read_to_string(out.join("a.html")).unwrap(), "a2");
        assert_eq!(
            std::fs::read_to_string(out.join("new/index.html")).unwrap(),
            "n"
        );
        assert_eq!(
            std::fs::read_to_string(out.join("keep.html")).unwrap(),
            "keep"
        );
        assert!(!out.join("old").exists(), "empty folders are pruned");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no staging folder left"
        );
    }

    #[test]
    fn commit_swaps_and_abort_keeps_the_old_output() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("public");
        std::fs::create_dir(&out).unwrap();
        std::fs::write(out.join("old.txt"), "old").unwrap();

        let staging = Staging::new(&out).unwrap();
        staging.write("a/index.html", b"new").unwrap();
        staging.abort();
        assert_eq!(std::fs::read_to_string(out.join("old.txt")).unwrap(), "old");

        let staging = Staging::new(&out).unwrap();
        staging.write("a/index.html", b"new").unwrap();
        assert!(staging.write("../escape.txt", b"x").is_err());
        assert!(staging.write("/etc/x", b"x").is_err());
        staging.commit().unwrap();
        assert!(!out.join("old.txt").exists());
        assert_eq!(
            std::fs::read_to_string(out.join("a/index.html")).unwrap(),
            "new"
        );
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "only public/ remains");
    }
}
