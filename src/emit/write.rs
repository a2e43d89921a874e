//! The staging folder and how it lands in the output folder.
//!
//! Nothing in the output folder changes until every output rendered. Outputs are staged in one
//! of two ways:
//! * as a **tree** (a clean build) in `.NAME.staging-PID` beside the output folder `NAME`: on
//!   success the old output is renamed aside, the staging folder renamed into place, and the old
//!   one removed (in parallel);
//! * **flat** (an incremental build): the bytes are held in memory, up to [`MEMORY_BUDGET`], the
//!   rest written to numbered files in the staging folder. On success each file is written over
//!   its old copy in place (one it shares with a hard link elsewhere, or a symlink, is replaced),
//!   spilled ones renamed over it. Files whose bytes the output folder already holds are not
//!   written at all. Replacing a file frees its blocks, and on this disk freeing 10,000 files
//!   costs more than rendering them: an edit of a template every page uses was slower than a
//!   clean build. A reader of the output folder may see a file half written while the commit
//!   runs, as with Hugo and Zola, which write in place throughout; a caller whose readers must
//!   not (the preview server) gives a budget of 0, and every file is renamed over its old copy.
//!
//! Leftovers of killed builds are removed by the next one. Paths come from the plan, which
//! sanitized them; they are checked again here, and the staging folder is new, so no symlink
//! inside it can lead a write out of it.

use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;

use crate::diagnostics::{Error, Result};
use crate::hash::ContentHash;
use crate::site::StaticSource;

/// Bytes of staged outputs an incremental build holds in memory; more go to the staging folder.
pub(crate) const MEMORY_BUDGET: usize = 256 << 20;

/// Where outputs go.
#[derive(Debug)]
pub(crate) enum Sink {
    /// A staging folder, landed by [`Staging::commit`].
    Staging(Staging),
    /// Nowhere (`sitegen check`): outputs are counted, not written.
    Discard(AtomicUsize),
}

impl Sink {
    /// Writes `bytes` (whose hash is `hash`) to `file`, relative to the output folder.
    pub(crate) fn write(&self, file: &str, bytes: Vec<u8>, hash: &ContentHash) -> Result<()> {
        match self {
            Self::Staging(staging) => staging.write(file, bytes, hash),
            Self::Discard(count) => {
                count.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
        }
    }

    /// Copies `source` (whose hash is `hash`) to `file`; returns the number of bytes.
    pub(crate) fn copy(
        &self,
        source: &StaticSource,
        file: &str,
        hash: &ContentHash,
    ) -> Result<u64> {
        match (self, source) {
            (Self::Staging(staging), StaticSource::File(path)) => staging.copy(path, file, hash),
            (Self::Staging(staging), StaticSource::Builtin(bytes)) => staging
                .write(file, bytes.to_vec(), hash)
                .map(|()| bytes.len() as u64),
            (Self::Staging(staging), StaticSource::Made(bytes)) => staging
                .write(file, bytes.to_vec(), hash)
                .map(|()| bytes.len() as u64),
            (Self::Discard(count), StaticSource::File(path)) => {
                count.fetch_add(1, Ordering::Relaxed);
                Ok(std::fs::metadata(path).map_or(0, |m| m.len()))
            }
            (Self::Discard(count), StaticSource::Made(bytes)) => {
                count.fetch_add(1, Ordering::Relaxed);
                Ok(bytes.len() as u64)
            }
            (Self::Discard(count), StaticSource::Builtin(bytes)) => {
                count.fetch_add(1, Ordering::Relaxed);
                Ok(bytes.len() as u64)
            }
        }
    }

    /// Puts the file `source` (a processed image in the cache) at `file`: a hard link to it,
    /// or a copy where the two folders are on different file systems.
    pub(crate) fn link(&self, source: &Path, file: &str) -> Result<()> {
        match self {
            Self::Staging(staging) => staging.link(source, file),
            Self::Discard(count) => {
                count.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
        }
    }

    /// Gives up: a staging folder is removed, nothing lands.
    pub(crate) fn abort(self) {
        if let Self::Staging(staging) = self {
            staging.abort();
        }
    }

    /// Files written so far.
    pub(crate) fn files_written(&self) -> usize {
        match self {
            Self::Staging(staging) => staging.written.load(Ordering::Relaxed),
            Self::Discard(count) => count.load(Ordering::Relaxed),
        }
    }
}

/// How outputs are staged.
#[derive(Debug)]
enum Layout {
    /// As in the output folder, which the staging folder replaces.
    Tree,
    /// Each file on its own, to land in the existing output folder.
    Flat {
        staged: Mutex<Vec<(String, Staged)>>,
        /// Bytes held in memory, and how many may be.
        held: AtomicUsize,
        budget: usize,
        /// Output files known to be intact, with the hash of their bytes.
        intact: rustc_hash::FxHashMap<String, ContentHash>,
    },
}

/// One staged file of a flat staging.
#[derive(Debug)]
enum Staged {
    Bytes(Vec<u8>),
    /// Written to this file of the staging folder.
    Spilled(PathBuf),
}

/// A staging folder beside the output folder.
#[derive(Debug)]
pub(crate) struct Staging {
    output: PathBuf,
    staging: PathBuf,
    written: AtomicUsize,
    /// Files written to the staging folder of a flat staging, which numbers them.
    spilled: AtomicUsize,
    layout: Layout,
    /// Zola's `hard_link_static`: static files are hard links to their sources.
    hard_link: bool,
    /// Zola's `preserve_dotfiles_in_output`: a new tree keeps the old output's top-level
    /// dotfiles (a `.git`, say).
    preserve_dotfiles: bool,
}

impl Staging {
    /// A fresh staging folder for a new `output` tree, removing leftovers of killed builds.
    pub(crate) fn new(output: &Path) -> Result<Self> {
        let staging = Self::create(output, Layout::Tree)?;
        std::fs::create_dir(&staging.staging).map_err(|e| Error::io(&staging.staging, e))?;
        Ok(staging)
    }

    /// A flat staging for files to land in the existing `output` one by one, holding up to
    /// `budget` bytes in memory (its folder is made if a file spills). A file listed in
    /// `intact` with the hash of the bytes to write is left as it is.
    pub(crate) fn flat(
        output: &Path,
        intact: rustc_hash::FxHashMap<String, ContentHash>,
        budget: usize,
    ) -> Result<Self> {
        Self::create(
            output,
            Layout::Flat {
                staged: Mutex::default(),
                held: AtomicUsize::new(0),
                budget,
                intact,
            },
        )
    }

    fn create(output: &Path, layout: Layout) -> Result<Self> {
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
        if std::fs::symlink_metadata(&staging).is_ok() {
            remove_tree(&staging);
        }
        Ok(Self {
            output: output.to_path_buf(),
            staging,
            written: AtomicUsize::new(0),
            spilled: AtomicUsize::new(0),
            layout,
            hard_link: false,
            preserve_dotfiles: false,
        })
    }

    /// With Zola's `hard_link_static` and `preserve_dotfiles_in_output`.
    #[must_use]
    pub(crate) fn with_zola_options(mut self, hard_link: bool, preserve_dotfiles: bool) -> Self {
        self.hard_link = hard_link;
        self.preserve_dotfiles = preserve_dotfiles;
        self
    }

    /// Copies `source` to `target`, or links it there with `hard_link` (copying when the two
    /// folders are on different file systems, where no link can be made).
    fn copy_file(&self, source: &Path, target: &Path) -> Result<u64> {
        if self.hard_link {
            let _ = std::fs::remove_file(target);
            if std::fs::hard_link(source, target).is_ok() {
                return Ok(std::fs::metadata(target)
                    .map_err(|e| Error::io(target, e))?
                    .len());
            }
        }
        std::fs::copy(source, target).map_err(|e| Error::io(source, e))
    }

    fn write(&self, file: &str, bytes: Vec<u8>, hash: &ContentHash) -> Result<()> {
        let relative = checked(file)?;
        match &self.layout {
            Layout::Tree => {
                let target = self.tree_target(relative)?;
                std::fs::write(&target, &bytes).map_err(|e| Error::io(&target, e))?;
            }
            Layout::Flat { intact, .. } if intact.get(file) == Some(hash) => return Ok(()),
            Layout::Flat { held, budget, .. } => {
                let staged =
                    if held.fetch_add(bytes.len(), Ordering::Relaxed) + bytes.len() <= *budget {
                        Staged::Bytes(bytes)
                    } else {
                        held.fetch_sub(bytes.len(), Ordering::Relaxed);
                        let target = self.spill_target()?;
                        std::fs::write(&target, &bytes).map_err(|e| Error::io(&target, e))?;
                        Staged::Spilled(target)
                    };
                self.stage(file, staged);
            }
        }
        self.written.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn copy(&self, source: &Path, file: &str, hash: &ContentHash) -> Result<u64> {
        let relative = checked(file)?;
        let size = match &self.layout {
            Layout::Tree => {
                let target = self.tree_target(relative)?;
                self.copy_file(source, &target)?
            }
            Layout::Flat { intact, .. } if intact.get(file) == Some(hash) => {
                return Ok(std::fs::metadata(source)
                    .map_err(|e| Error::io(source, e))?
                    .len());
            }
            // Copied at once: the source may change before the commit.
            Layout::Flat { .. } => {
                let target = self.spill_target()?;
                let size = self.copy_file(source, &target)?;
                self.stage(file, Staged::Spilled(target));
                size
            }
        };
        self.written.fetch_add(1, Ordering::Relaxed);
        Ok(size)
    }

    fn link(&self, source: &Path, file: &str) -> Result<()> {
        let relative = checked(file)?;
        let target = match &self.layout {
            Layout::Tree => self.tree_target(relative)?,
            Layout::Flat { .. } => self.spill_target()?,
        };
        let _ = std::fs::remove_file(&target);
        if std::fs::hard_link(source, &target).is_err() {
            std::fs::copy(source, &target).map_err(|e| Error::io(source, e))?;
        }
        if let Layout::Flat { .. } = &self.layout {
            self.stage(file, Staged::Spilled(target));
        }
        self.written.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn stage(&self, file: &str, staged: Staged) {
        if let Layout::Flat { staged: all, .. } = &self.layout {
            all.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push((file.to_owned(), staged));
        }
    }

    /// Where a tree stages `relative`, its folder made.
    fn tree_target(&self, relative: &Path) -> Result<PathBuf> {
        let target = self.staging.join(relative);
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        Ok(target)
    }

    /// A new file in the staging folder of a flat staging, which is made on first use.
    fn spill_target(&self) -> Result<PathBuf> {
        std::fs::create_dir_all(&self.staging).map_err(|e| Error::io(&self.staging, e))?;
        let n = self.spilled.fetch_add(1, Ordering::Relaxed);
        Ok(self.staging.join(n.to_string()))
    }

    /// The files a flat staging holds, to land in the output folder; `None` for a tree, which
    /// replaces all of it.
    pub(crate) fn staged(&self) -> Option<Vec<String>> {
        match &self.layout {
            Layout::Tree => None,
            Layout::Flat { staged, .. } => Some(
                staged
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .iter()
                    .map(|(file, _)| file.clone())
                    .collect(),
            ),
        }
    }

    /// Lands the staged files. A tree is swapped in as the output folder. Flat files are
    /// written over their old copies and the `removed` files deleted.
    pub(crate) fn commit(self, removed: &[String]) -> Result<()> {
        match &self.layout {
            Layout::Tree => self.swap(),
            Layout::Flat { staged, .. } => {
                let staged = std::mem::take(
                    &mut *staged
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner),
                );
                self.merge(staged, removed)
            }
        }
    }

    fn merge(&self, staged: Vec<(String, Staged)>, removed: &[String]) -> Result<()> {
        staged
            .into_par_iter()
            .try_for_each(|(file, staged)| self.land(&file, staged))?;
        for file in removed {
            let Ok(relative) = checked(file) else {
                continue;
            };
            let path = self.output.join(relative);
            match std::fs::remove_file(&path) {
                Ok(()) => prune_empty_parents(&path, &self.output),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(&path, e)),
            }
        }
        remove_tree(&self.staging);
        Ok(())
    }

    /// Puts one staged file in the output folder.
    fn land(&self, file: &str, staged: Staged) -> Result<()> {
        let to = self.output.join(checked(file)?);
        if let Some(dir) = to.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let io = |e| Error::io(&to, e);
        let existing = std::fs::symlink_metadata(&to).ok();
        if let Some(m) = &existing
            && m.is_dir()
        {
            std::fs::remove_dir_all(&to).map_err(io)?;
        }
        match staged {
            Staged::Spilled(from) => std::fs::rename(from, &to).map_err(io),
            Staged::Bytes(bytes) => match existing {
                Some(m) if m.is_file() && m.nlink() == 1 => overwrite(&to, &bytes).map_err(io),
                Some(m) if !m.is_dir() => {
                    // A symlink, or a file linked from elsewhere too: replaced, not written
                    // through.
                    std::fs::remove_file(&to).map_err(io)?;
                    std::fs::write(&to, &bytes).map_err(io)
                }
                _ => std::fs::write(&to, &bytes).map_err(io),
            },
        }
    }

    fn swap(&self) -> Result<()> {
        let mut old: Option<PathBuf> = None;
        if std::fs::symlink_metadata(&self.output).is_ok() {
            let aside = self.output.with_file_name(format!(
                ".{}.old-{}",
                file_name(&self.output),
                std::process::id()
            ));
            if self.preserve_dotfiles {
                self.keep_dotfiles()?;
            }
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

    /// Moves the top-level dotfiles of the output folder that the new tree does not write into
    /// it, as Zola keeps them when it cleans its output folder.
    fn keep_dotfiles(&self) -> Result<()> {
        let entries = std::fs::read_dir(&self.output).map_err(|e| Error::io(&self.output, e))?;
        for entry in entries.filter_map(std::result::Result::ok) {
            let name = entry.file_name();
            let to = self.staging.join(&name);
            if name.to_string_lossy().starts_with('.') && std::fs::symlink_metadata(&to).is_err() {
                std::fs::rename(entry.path(), &to).map_err(|e| Error::io(entry.path(), e))?;
            }
        }
        Ok(())
    }

    /// Removes the staging folder, leaving the output as it was.
    pub(crate) fn abort(self) {
        remove_tree(&self.staging);
    }
}

/// Writes `bytes` over the regular file `path`, where its blocks are.
fn overwrite(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?;
    file.write_all(bytes)?;
    file.set_len(bytes.len() as u64)
}

/// `file` as a relative path, refused unless it is a plain path inside the output folder.
fn checked(file: &str) -> Result<&Path> {
    let relative = Path::new(file);
    if relative.as_os_str().is_empty()
        || !relative
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
    {
        return Err(Error::Usage(format!(
            "refusing to write `{file}`: it is not a plain path inside the output folder"
        )));
    }
    Ok(relative)
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
    use crate::hash::ContentHash;

    fn h(bytes: &[u8]) -> ContentHash {
        ContentHash::of(bytes)
    }

    fn read(path: impl AsRef<std::path::Path>) -> String {
        std::fs::read_to_string(path).unwrap()
    }

    #[test]
    fn flat_staging_replaces_changed_files_keeps_same_bytes_and_deletes_removed_ones() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("public");
        std::fs::create_dir_all(out.join("old/deep")).unwrap();
        std::fs::create_dir_all(out.join("same")).unwrap();
        std::fs::write(out.join("old/deep/index.html"), "old").unwrap();
        std::fs::write(out.join("keep.html"), "keep").unwrap();
        std::fs::write(out.join("a.html"), "a1").unwrap();
        std::fs::write(out.join("same/index.html"), "same").unwrap();
        let inode =
            |p: &str| std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(out.join(p)).unwrap());
        let same_inode = inode("same/index.html");
        let intact = [("a.html", "a1"), ("same/index.html", "same")]
            .into_iter()
            .map(|(f, b)| (f.to_owned(), h(b.as_bytes())))
            .collect();
        let staging = Staging::flat(&out, intact, super::MEMORY_BUDGET).unwrap();
        staging.write("a.html", b"a2".to_vec(), &h(b"a2")).unwrap();
        staging
            .write("new/index.html", b"n".to_vec(), &h(b"n"))
            .unwrap();
        staging
            .write("same/index.html", b"same".to_vec(), &h(b"same"))
            .unwrap();
        assert!(
            staging
                .write("../escape.txt", b"x".to_vec(), &h(b"x"))
                .is_err()
        );
        assert_eq!(
            staging.staged().unwrap(),
            ["a.html", "new/index.html"],
            "bytes the output already holds are not staged"
        );
        staging.commit(&["old/deep/index.html".to_owned()]).unwrap();
        assert_eq!(read(out.join("a.html")), "a2");
        assert_eq!(read(out.join("new/index.html")), "n");
        assert_eq!(read(out.join("keep.html")), "keep");
        assert_eq!(
            inode("same/index.html"),
            same_inode,
            "an unchanged file is not replaced"
        );
        assert!(!out.join("old").exists(), "empty folders are pruned");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no staging folder left"
        );
    }

    #[test]
    fn flat_staging_spills_past_its_budget_and_never_writes_through_links() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("public");
        std::fs::create_dir(&out).unwrap();
        let elsewhere = dir.path().join("elsewhere.txt");
        std::fs::write(&elsewhere, "mine").unwrap();
        std::os::unix::fs::symlink(&elsewhere, out.join("link.html")).unwrap();
        std::fs::write(out.join("hard.html"), "old").unwrap();
        let snapshot = dir.path().join("snapshot.html");
        std::fs::hard_link(out.join("hard.html"), &snapshot).unwrap();
        std::fs::write(out.join("plain.html"), "old").unwrap();

        // Ten bytes in memory: the first two files fit, the third spills to the staging folder.
        let staging = Staging::flat(&out, rustc_hash::FxHashMap::default(), 10).unwrap();
        staging
            .write("link.html", b"12345".to_vec(), &h(b"12345"))
            .unwrap();
        staging
            .write("hard.html", b"abcde".to_vec(), &h(b"abcde"))
            .unwrap();
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            3,
            "nothing spilled yet"
        );
        staging
            .write("plain.html", b"spilled".to_vec(), &h(b"spilled"))
            .unwrap();
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            4,
            "a staging folder"
        );
        staging.commit(&[]).unwrap();

        assert_eq!(read(out.join("link.html")), "12345");
        assert!(
            std::fs::symlink_metadata(out.join("link.html"))
                .unwrap()
                .is_file()
        );
        assert_eq!(read(&elsewhere), "mine", "not written through");
        assert_eq!(read(out.join("hard.html")), "abcde");
        assert_eq!(read(&snapshot), "old", "the other link keeps its bytes");
        assert_eq!(read(out.join("plain.html")), "spilled");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            3,
            "staging folder removed"
        );
    }

    #[test]
    fn commit_swaps_and_abort_keeps_the_old_output() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("public");
        std::fs::create_dir(&out).unwrap();
        std::fs::write(out.join("old.txt"), "old").unwrap();

        let staging = Staging::new(&out).unwrap();
        staging
            .write("a/index.html", b"new".to_vec(), &h(b"new"))
            .unwrap();
        staging.abort();
        assert_eq!(read(out.join("old.txt")), "old");

        let staging = Staging::new(&out).unwrap();
        staging
            .write("a/index.html", b"new".to_vec(), &h(b"new"))
            .unwrap();
        assert!(
            staging
                .write("../escape.txt", b"x".to_vec(), &h(b"x"))
                .is_err()
        );
        assert!(staging.write("/etc/x", b"x".to_vec(), &h(b"x")).is_err());
        assert_eq!(staging.staged(), None);
        staging.commit(&[]).unwrap();
        assert!(!out.join("old.txt").exists());
        assert_eq!(read(out.join("a/index.html")), "new");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "only public/ remains");
    }
}
