//! Watching a site's sources for `sitegen serve`: which file events call for a rebuild, batched.
//!
//! The source folders (`content/`, `templates/`, `themes/`, `static/`, `data/`, `prompts/`) are
//! watched recursively and the site's root alone (not its subfolders), for the config file and
//! for a source folder that appears later. So the output folder, `.sitegen/` and anything else
//! at the root never reach us, and a build's own writes cause no rebuild.
//!
//! Editors save in many ways: in place, or by writing a temporary file and renaming it over
//! the original (an "atomic save"), and they leave swap and backup files around. The watcher
//! looks at the folders, not the files, so a file replaced by a rename is seen as the same
//! path changing; temporary and swap files (`.swp`, `~`, `.#*`, `4913`, `*.tmp`, …) are
//! ignored. Events are batched: after the first change, the batch closes once [`QUIET`] passed
//! without another (so a save that touches three files is one rebuild), or after [`MAX_WAIT`].
//!
//! This module never reads the files or builds: it only says which paths changed.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use notify::event::{AccessKind, AccessMode, MetadataKind, ModifyKind};
use notify::{Event, EventKind, RecommendedWatcher, RecursiveMode, Watcher};

use crate::config::CONFIG_FILES;
use crate::diagnostics::Error;
use crate::site::layout;

/// How long the file system must stay quiet before a batch of changes is built.
pub(crate) const QUIET: Duration = Duration::from_millis(15);

/// The longest a batch is held open while changes keep coming.
pub(crate) const MAX_WAIT: Duration = Duration::from_millis(500);

/// What the watcher's thread receives.
#[derive(Debug)]
enum Message {
    /// An event from the operating system (or a watch error).
    Fs(notify::Result<Event>),
    /// Stop waiting: the server is shutting down.
    Stop,
}

/// Asks a [`Watch`] blocked in [`Watch::next`] to return.
#[derive(Debug, Clone)]
pub(crate) struct Stopper(Sender<Message>);

impl Stopper {
    /// Makes the watch's current or next [`Watch::next`] return [`Next::Stop`].
    pub(crate) fn stop(&self) {
        let _ = self.0.send(Message::Stop);
    }
}

/// The source files that changed in one batch, relative to the site's root.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Changes {
    /// The changed paths (files or folders; created, modified, removed or renamed).
    pub(crate) paths: BTreeSet<PathBuf>,
}

impl Changes {
    /// Whether only stylesheets that are copied as they are changed (under `static/`, a
    /// theme's `static/` or `content/`): the pages stay the same, so browsers only need to
    /// fetch the stylesheets again. A `.css` file under `templates/` is a template.
    #[must_use]
    pub(crate) fn only_css(&self) -> bool {
        !self.paths.is_empty()
            && self.paths.iter().all(|p| {
                let copied = match first_component(p).as_deref() {
                    Some("static" | "content") => true,
                    Some("themes") => p
                        .components()
                        .nth(2)
                        .is_some_and(|c| c.as_os_str() == "static"),
                    _ => false,
                };
                copied && p.extension().is_some_and(|e| e.eq_ignore_ascii_case("css"))
            })
    }

    /// Up to `limit` paths for a log line, then how many more.
    #[must_use]
    pub(crate) fn describe(&self, limit: usize) -> String {
        let mut shown: Vec<String> = self
            .paths
            .iter()
            .take(limit)
            .map(|p| p.display().to_string())
            .collect();
        if self.paths.len() > limit {
            shown.push(format!("and {} more", self.paths.len() - limit));
        }
        shown.join(", ")
    }
}

/// What [`Watch::next`] returns.
#[derive(Debug)]
pub(crate) enum Next {
    /// A batch of changes to build.
    Changed(Changes),
    /// Nothing changed within the time given.
    Idle,
    /// [`Stopper::stop`] was called.
    Stop,
}

/// A watch on a site's sources.
pub(crate) struct Watch {
    /// Held for its lifetime: dropping it ends the watches.
    watcher: RecommendedWatcher,
    messages: Receiver<Message>,
    stopper: Stopper,
    /// The site's root, as watched (absolute).
    root: PathBuf,
    /// Absolute folders whose changes never count (the output folder).
    ignored: Vec<PathBuf>,
    /// The config file `--config` named, relative to the root (in the root itself, since only
    /// the root and the input folders are watched).
    config_file: Option<PathBuf>,
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watch")
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

impl Watch {
    /// Starts watching the site at `root`; changes under the `ignored` folders never count.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the operating system refuses the watches (for instance, too many
    /// inotify watches: raise `fs.inotify.max_user_watches`).
    pub(crate) fn new(
        root: &Path,
        ignored: &[PathBuf],
        config_file: Option<&Path>,
    ) -> Result<Self, Error> {
        let root = std::path::absolute(root).map_err(|e| Error::io(root, e))?;
        let (sender, messages) = mpsc::channel();
        let to_watcher = sender.clone();
        let watcher = notify::recommended_watcher(move |event| {
            let _ = to_watcher.send(Message::Fs(event));
        })
        .map_err(|e| watch_error(&root, &e))?;
        let ignored = ignored
            .iter()
            .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.clone()))
            .collect();
        let mut watch = Self {
            watcher,
            messages,
            stopper: Stopper(sender),
            root,
            ignored,
            config_file: config_file.map(Path::to_path_buf),
        };
        watch
            .watcher
            .watch(&watch.root, RecursiveMode::NonRecursive)
            .map_err(|e| watch_error(&watch.root, &e))?;
        for folder in layout::input_folders() {
            watch.watch_folder(folder)?;
        }
        Ok(watch)
    }

    /// A handle that stops [`Watch::next`] from another thread.
    #[must_use]
    pub(crate) fn stopper(&self) -> Stopper {
        self.stopper.clone()
    }

    /// Watches `root/folder` recursively when it is a folder.
    fn watch_folder(&mut self, folder: &str) -> Result<(), Error> {
        let path = self.root.join(folder);
        if !path.is_dir() {
            return Ok(());
        }
        self.watcher
            .watch(&path, RecursiveMode::Recursive)
            .map_err(|e| watch_error(&path, &e))
    }

    /// Waits (at most `timeout`, forever when `None`) for a change that matters, then until
    /// the file system is quiet, and returns the batch.
    pub(crate) fn next(&mut self, timeout: Option<Duration>) -> Next {
        let mut changes = Changes::default();
        let deadline = timeout.map(|t| Instant::now() + t);
        // The first change.
        while changes.paths.is_empty() {
            let message = match deadline {
                None => self
                    .messages
                    .recv()
                    .map_err(|_| RecvTimeoutError::Disconnected),
                Some(at) => self
                    .messages
                    .recv_timeout(at.saturating_duration_since(Instant::now())),
            };
            match message {
                Ok(Message::Fs(event)) => {
                    self.take(event, &mut changes);
                }
                Ok(Message::Stop) | Err(RecvTimeoutError::Disconnected) => return Next::Stop,
                Err(RecvTimeoutError::Timeout) => return Next::Idle,
            }
        }
        // The rest of the batch.
        let started = Instant::now();
        let mut quiet_from = Instant::now();
        loop {
            let wait = QUIET
                .saturating_sub(quiet_from.elapsed())
                .min(MAX_WAIT.saturating_sub(started.elapsed()));
            match self.messages.recv_timeout(wait) {
                Ok(Message::Fs(event)) => {
                    if self.take(event, &mut changes) {
                        quiet_from = Instant::now();
                    }
                }
                Ok(Message::Stop) | Err(RecvTimeoutError::Disconnected) => return Next::Stop,
                Err(RecvTimeoutError::Timeout) => return Next::Changed(changes),
            }
        }
    }

    /// Adds the paths of `event` that matter to `changes`; whether there were any.
    fn take(&mut self, event: notify::Result<Event>, changes: &mut Changes) -> bool {
        let event = match event {
            Ok(event) => event,
            Err(e) => {
                // Lost events (a queue overflow) or a watch gone bad: rebuild to be sure.
                tracing::warn!("file watch: {e}");
                return changes.paths.insert(PathBuf::from("."));
            }
        };
        if !counts(event.kind) {
            return false;
        }
        let mut any = false;
        for path in &event.paths {
            let Some(relative) = self.relevant(path) else {
                continue;
            };
            // A source folder created after the start: watch it from now on.
            if relative.components().count() == 1
                && matches!(
                    event.kind,
                    EventKind::Create(_) | EventKind::Modify(ModifyKind::Name(_))
                )
                && let Some(folder) = layout::input_folders().find(|f| relative == Path::new(f))
                && let Err(e) = self.watch_folder(folder)
            {
                tracing::warn!("{e}");
            }
            any |= changes.paths.insert(relative);
        }
        any
    }

    /// `path` relative to the root when a change to it is a change of the site's sources.
    fn relevant(&self, path: &Path) -> Option<PathBuf> {
        if self.ignored.iter().any(|i| path.starts_with(i)) {
            return None;
        }
        let relative = path.strip_prefix(&self.root).ok()?;
        if relative.as_os_str().is_empty() || ignored_name(relative) {
            return None;
        }
        let first = first_component(relative)?;
        let single = relative.components().count() == 1;
        let source = layout::input_folders().any(|f| f == first);
        let config = (single && CONFIG_FILES.contains(&first.as_str()))
            || self.config_file.as_deref() == Some(relative);
        (source || config).then(|| relative.to_path_buf())
    }
}

/// Whether an event of this kind can change what a build reads. Opening and reading files
/// (the build itself does it) does not; closing a file written to does.
fn counts(kind: EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_)
        | EventKind::Modify(ModifyKind::Metadata(MetadataKind::AccessTime)) => false,
        _ => true,
    }
}

/// Whether the file name is an editor's temporary, swap or backup file.
#[must_use]
pub(crate) fn ignored_name(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    name.ends_with('~')                                   // backups: vim, emacs, gedit
        || name.starts_with(".#")                         // emacs lock files
        || (name.starts_with('#') && name.ends_with('#')) // emacs auto-saves
        || name == "4913"                                 // vim's probe of a folder
        || name.starts_with(".goutputstream-")            // GNOME's atomic saves
        || [".swp", ".swx", ".swo", ".tmp", ".crswap"]      // vim swap files, temporary files
            .iter()
            .any(|ext| name.len() > ext.len() && name.to_ascii_lowercase().ends_with(ext))
}

fn first_component(path: &Path) -> Option<String> {
    match path.components().next()? {
        Component::Normal(name) => name.to_str().map(str::to_owned),
        _ => None,
    }
}

fn watch_error(path: &Path, error: &notify::Error) -> Error {
    let help = if matches!(error.kind, notify::ErrorKind::MaxFilesWatch) {
        " (raise fs.inotify.max_user_watches)"
    } else {
        ""
    };
    Error::Usage(format!("cannot watch {}: {error}{help}", path.display()))
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};
    use std::time::Duration;

    use super::{Changes, Next, Watch, ignored_name};

    fn changes(paths: &[&str]) -> Changes {
        Changes {
            paths: paths.iter().map(PathBuf::from).collect(),
        }
    }

    #[test]
    fn editor_files_are_ignored() {
        for name in [
            "content/.a.md.swp",
            "content/a.md~",
            "content/.#a.md",
            "content/#a.md#",
            "content/4913",
            "static/x.tmp",
            "content/.a.md.swx",
        ] {
            assert!(ignored_name(Path::new(name)), "{name}");
        }
        for name in [
            "content/a.md",
            "static/site.css",
            "content/tmp.md",
            "content/4913.md",
        ] {
            assert!(!ignored_name(Path::new(name)), "{name}");
        }
    }

    #[test]
    fn only_copied_stylesheets_make_a_css_change() {
        assert!(changes(&["static/css/site.css"]).only_css());
        assert!(changes(&["themes/t/static/main.css", "content/blog/x.CSS"]).only_css());
        assert!(!changes(&["static/site.css", "content/a.md"]).only_css());
        assert!(!changes(&["templates/inline.css"]).only_css());
        assert!(!changes(&["themes/t/templates/x.css"]).only_css());
        assert!(!changes(&[]).only_css());
    }

    #[test]
    fn edits_renames_and_new_folders_are_seen_and_the_rest_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("content")).unwrap();
        std::fs::create_dir_all(root.join("public")).unwrap();
        std::fs::write(root.join("content/a.md"), "a").unwrap();
        let mut watch = Watch::new(root, &[root.join("public")], None).unwrap();
        let wait = Some(Duration::from_secs(5));

        std::fs::write(root.join("public/index.html"), "x").unwrap();
        std::fs::write(root.join("notes.txt"), "x").unwrap();
        std::fs::write(root.join("content/.a.md.swp"), "x").unwrap();
        assert!(matches!(
            watch.next(Some(Duration::from_millis(200))),
            Next::Idle
        ));

        // An atomic save: write a temporary file, rename it over the page.
        std::fs::write(root.join("content/a.md.tmp"), "b").unwrap();
        std::fs::rename(root.join("content/a.md.tmp"), root.join("content/a.md")).unwrap();
        let Next::Changed(seen) = watch.next(wait) else {
            panic!("no change seen")
        };
        assert_eq!(seen, changes(&["content/a.md"]));

        // A source folder created later is watched from then on.
        std::fs::create_dir_all(root.join("templates")).unwrap();
        let Next::Changed(seen) = watch.next(wait) else {
            panic!("no change seen")
        };
        assert_eq!(seen, changes(&["templates"]));
        std::fs::write(root.join("templates/page.html"), "x").unwrap();
        let Next::Changed(seen) = watch.next(wait) else {
            panic!("no change seen")
        };
        assert_eq!(seen, changes(&["templates/page.html"]));

        std::fs::write(root.join("sitegen.toml"), "title = 'x'").unwrap();
        let Next::Changed(seen) = watch.next(wait) else {
            panic!("no change seen")
        };
        assert_eq!(seen, changes(&["sitegen.toml"]));

        watch.stopper().stop();
        assert!(matches!(watch.next(None), Next::Stop));
    }
}
