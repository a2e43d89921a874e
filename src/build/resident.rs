//! What a long-running caller keeps between builds, and how a build's memory is given back.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::load::walk::{self, SourceFiles};
use crate::state::manifest::{self, Manifest};

/// What a long-running caller (`sitegen serve`) keeps between its builds: the last build's
/// manifest, which every incremental build starts from (reading it back from
/// `.sitegen/state.sqlite` costs ~45 ms at 10,000 pages), and, for a caller that watches the
/// files, the last walk of the sources with the paths changed since.
#[derive(Debug, Default)]
pub struct Resident {
    /// The manifest as last committed, with the database generation it was committed as: it
    /// is used only while the database is still at that generation (another process may have
    /// built since), else read again.
    manifest: Option<(u64, Manifest)>,
    /// The last build's walk of the source folders, with the theme folder it walked.
    walk: Option<(Option<String>, SourceFiles)>,
    /// The paths changed since that walk, when the caller tells ([`Resident::changed`]).
    changed: Option<BTreeSet<PathBuf>>,
    /// Whether the caller tells every change (see [`Resident::watched`]).
    watched: bool,
    /// Whether the process exits after the build (see [`Resident::exiting`]).
    exiting: bool,
}

impl Resident {
    /// A resident state whose caller watches the site's files and tells every change with
    /// [`Resident::changed`], so builds need not walk the source folders again. (The default
    /// one walks them in every build.)
    #[must_use]
    pub fn watched() -> Self {
        Self {
            manifest: None,
            walk: None,
            changed: None,
            watched: true,
            exiting: false,
        }
    }

    /// The state of a process that exits right after its build (`sitegen build`): the build's
    /// memory is left to the exit. Freeing the site and the manifest value by value, even on
    /// another thread, took a core from the end of a build for tens of milliseconds at 10,000
    /// pages.
    #[must_use]
    pub fn exiting() -> Self {
        Self {
            manifest: None,
            walk: None,
            changed: None,
            watched: false,
            exiting: true,
        }
    }

    /// Tells the next build that the files or folders `paths` (relative to the site's root)
    /// changed: with a [`Resident::watched`] state, it looks at those again instead of walking
    /// every source folder.
    pub fn changed(&mut self, paths: impl IntoIterator<Item = PathBuf>) {
        if let Some(changed) = &mut self.changed {
            changed.extend(paths);
        }
    }

    /// The sources of the site at `root`: the last walk patched with the changes since, when
    /// known, else a new walk.
    pub(crate) fn sources(&mut self, root: &Path, theme: Option<&str>) -> SourceFiles {
        let patched = self.walk.take().and_then(|(walked_theme, previous)| {
            let changed = self.changed.take()?;
            (walked_theme.as_deref() == theme)
                .then(|| walk::patch(&previous, root, theme, &changed))
                .flatten()
        });
        patched.unwrap_or_else(|| walk::walk(root, theme))
    }

    /// Keeps `sources`, the walk of a build that succeeded, for the next.
    pub(crate) fn walked(&mut self, theme: Option<&str>, sources: SourceFiles) {
        if self.watched {
            self.walk = Some((theme.map(str::to_owned), sources));
            self.changed = Some(BTreeSet::new());
        }
    }

    /// The last build's manifest, when the state folder `state_dir` still holds it.
    pub(crate) fn take_manifest(&mut self, state_dir: &Path) -> Option<Manifest> {
        let (generation, kept) = self.manifest.take()?;
        (manifest::generation(state_dir) == Some(generation)).then_some(kept)
    }

    /// Whether the last build's manifest is kept.
    pub(crate) fn has_manifest(&self) -> bool {
        self.manifest.is_some()
    }

    /// Keeps the manifest a build committed (at `generation`) for the next.
    pub(crate) fn keep_manifest(&mut self, committed: Option<(u64, Manifest)>) {
        self.manifest = committed;
    }

    /// Whether the caller's builds replace the output's files whole (their file server reads
    /// them while a build writes).
    pub(crate) fn is_watched(&self) -> bool {
        self.watched
    }

    /// Gives back the memory of a finished build: left to the exit of a process that is about
    /// to end, else freed on a thread of its own (freeing 10,000 pages' worth of small
    /// allocations takes tens of milliseconds the caller need not wait for).
    pub(crate) fn dispose<T: Send + 'static>(&self, leftovers: T) {
        if self.exiting {
            std::mem::forget(leftovers);
            return;
        }
        let spawned = std::thread::Builder::new()
            .name("drop".into())
            .spawn(move || drop(leftovers));
        if let Err(e) = spawned {
            tracing::debug!("no thread to free memory on ({e}); freeing inline");
        }
    }
}

impl Drop for Resident {
    /// The kept manifest and walk go as a finished build's memory does.
    fn drop(&mut self) {
        let kept = (self.manifest.take(), self.walk.take());
        if kept.0.is_some() || kept.1.is_some() {
            self.dispose(kept);
        }
    }
}
