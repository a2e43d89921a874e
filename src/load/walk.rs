//! Finding the site's source files: one walk of content/, static/, templates/, data/, prompts/
//! and the theme's folder, taken before anything is read.
//!
//! Its list (root-relative paths with their size and modification time, sorted) feeds both
//! the no-op check (the stamp) and loading, so the two can never disagree about what the
//! build saw, and the file system is walked once. Hidden files are skipped; a symbolic link is
//! followed only when its target is inside the site.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::diagnostics::Diagnostic;
use crate::load::source::Stat;
use crate::site::layout::SOURCE_FOLDERS;
use crate::site::paths::relative_to;

/// The source files of a site, and the problems met finding them.
#[derive(Debug, Default)]
pub struct SourceFiles {
    /// Root-relative paths (with `/`) and stats, sorted by path.
    pub(crate) files: Vec<(String, Stat)>,
    /// Unreadable folders, links out of the site, names that are not UTF-8.
    pub(crate) problems: Vec<Diagnostic>,
}

impl SourceFiles {
    /// The files under the root-relative folder `dir` (`static`), as (path relative to it,
    /// stat), in order.
    pub(crate) fn under<'a>(&'a self, dir: &'a str) -> impl Iterator<Item = (&'a str, Stat)> + 'a {
        // Paths starting with `dir` are contiguous in the sorted list.
        let start = self.files.partition_point(|(path, _)| path.as_str() < dir);
        self.files[start..]
            .iter()
            .take_while(move |(path, _)| path.starts_with(dir))
            .filter_map(move |(path, stat)| {
                path[dir.len()..]
                    .strip_prefix('/')
                    .map(|rest| (rest, *stat))
            })
    }

    /// [`SourceFiles::under`], with each file's full path under the site's `root`.
    pub(crate) fn files_in<'a>(
        &'a self,
        root: &'a Path,
        dir: &'a str,
    ) -> impl Iterator<Item = (String, PathBuf, Stat)> + 'a {
        self.under(dir)
            .map(move |(name, stat)| (name.to_owned(), root.join(dir).join(name), stat))
    }
}

/// Walks the folders a build reads in the site at `root`; `theme` is the name of a theme folder
/// under themes/, when the site has one.
pub fn walk(root: &Path, theme: Option<&str>) -> SourceFiles {
    let mut dirs: Vec<String> = SOURCE_FOLDERS.iter().map(|d| (*d).to_owned()).collect();
    if let Some(theme) = theme {
        dirs.push(format!("themes/{theme}"));
    }
    let canonical_root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    // Each folder right under a source folder (content/blog, content/docs) is walked on its
    // own thread: the walk is mostly stat calls, and they run in parallel in the kernel. The
    // source folder's own walk stops at its files.
    let mut subtrees = Vec::new();
    for dir in dirs {
        let top = root.join(&dir);
        if !top.is_dir() {
            continue;
        }
        if let Ok(entries) = std::fs::read_dir(&top) {
            subtrees.extend(
                entries
                    .flatten()
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                    .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                    .map(|e| (e.path(), usize::MAX)),
            );
        }
        subtrees.push((top, 1));
    }
    let parts: Vec<SourceFiles> = subtrees
        .into_par_iter()
        .map(|(top, max_depth)| walk_one(root, &canonical_root, &top, max_depth))
        .collect();
    let mut found = SourceFiles::default();
    for part in parts {
        found.files.extend(part.files);
        found.problems.extend(part.problems);
    }
    found.files.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

/// The walk of the site at `root` after the files `changed` (root-relative paths of files or
/// folders, created, modified or removed) changed since `previous` was taken, without walking
/// the rest again: what a long-running preview knows from its file watcher. `None` when that
/// cannot be told without a full walk: a change at the top (a source folder, the config, a
/// lost event), a symbolic link, or a problem found.
pub(crate) fn patch(
    previous: &SourceFiles,
    root: &Path,
    theme: Option<&str>,
    changed: &BTreeSet<PathBuf>,
) -> Option<SourceFiles> {
    if !previous.problems.is_empty() {
        return None;
    }
    let canonical_root = root.canonicalize().ok()?;
    let mut files = previous.files.clone();
    let mut added = Vec::new();
    for path in changed {
        let relative = path.to_str()?.replace('\\', "/");
        let components: Vec<&str> = relative.split('/').collect();
        let walked = match components[..] {
            // The config, a source folder or a theme itself, or `.` for events lost: anything
            // may have changed.
            [] | [_] | ["themes", _] => return None,
            ["themes", name, ..] => theme == Some(name),
            [first, ..] => SOURCE_FOLDERS.contains(&first),
        };
        if !walked || components.iter().any(|c| c.starts_with('.')) {
            continue; // not a file the walk lists
        }
        // Whatever was listed at or under the path goes; what is there now comes back.
        let under = format!("{relative}/");
        files.retain(|(file, _)| *file != relative && !file.starts_with(&under));
        let full = root.join(&relative);
        let Ok(metadata) = std::fs::symlink_metadata(&full) else {
            continue; // removed
        };
        if metadata.file_type().is_symlink() {
            return None;
        } else if metadata.is_dir() {
            let part = walk_one(root, &canonical_root, &full, usize::MAX);
            if !part.problems.is_empty() {
                return None;
            }
            added.extend(part.files);
        } else if metadata.is_file() {
            added.push((relative, Stat::of(&metadata)));
        }
    }
    files.extend(added);
    files.sort_by(|a, b| a.0.cmp(&b.0));
    files.dedup_by(|a, b| a.0 == b.0);
    Some(SourceFiles {
        files,
        problems: Vec::new(),
    })
}

/// Walks `top` down to `max_depth`.
fn walk_one(root: &Path, canonical_root: &Path, top: &Path, max_depth: usize) -> SourceFiles {
    let mut found = SourceFiles::default();
    let walker = walkdir::WalkDir::new(top)
        .max_depth(max_depth)
        .follow_links(false)
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'));
    for entry in walker {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                let path = e
                    .path()
                    .map_or_else(|| top.to_path_buf(), Path::to_path_buf);
                found.problems.push(
                    Diagnostic::error(format!("cannot read folder: {e}"))
                        .in_file(relative_to(&path, root)),
                );
                continue;
            }
        };
        let path = entry.path();
        let metadata = if entry.path_is_symlink() {
            match path.canonicalize() {
                Ok(target) if target.starts_with(canonical_root) => std::fs::metadata(&target).ok(),
                _ => {
                    found.problems.push(
                        Diagnostic::error("symbolic link points outside the site")
                            .in_file(relative_to(path, root))
                            .with_help("a site may only link to files inside its folder; copy the file in instead"),
                    );
                    continue;
                }
            }
        } else {
            entry.metadata().ok()
        };
        let Some(metadata) = metadata.filter(std::fs::Metadata::is_file) else {
            continue;
        };
        let Some(relative) = path.strip_prefix(root).ok().and_then(Path::to_str) else {
            found.problems.push(
                Diagnostic::error("file name is not valid UTF-8").in_file(relative_to(path, root)),
            );
            continue;
        };
        found
            .files
            .push((relative.replace('\\', "/"), Stat::of(&metadata)));
    }
    found
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::PathBuf;

    use super::{patch, walk};

    #[test]
    fn a_patched_walk_equals_a_new_walk() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let write = |file: &str, text: &str| {
            let path = root.join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        };
        for file in [
            "content/_index.md",
            "content/blog/a.md",
            "content/blog/old/x.md",
            "content/blog/old/y.png",
            "static/site.css",
            "themes/t/templates/page.html",
            "themes/u/templates/page.html",
        ] {
            write(file, "x");
        }
        let before = walk(root, Some("t"));
        write("content/blog/a.md", "longer text");
        write("content/blog/new/z.md", "new");
        write("content/blog/new/.hidden.md", "hidden");
        write("static/more.css", "more");
        write("themes/t/templates/page.html", "theme edit");
        write("themes/u/templates/page.html", "another theme");
        std::fs::remove_dir_all(root.join("content/blog/old")).unwrap();
        let changed: BTreeSet<PathBuf> = [
            "content/blog/a.md",
            "content/blog/new",
            "content/blog/new/.hidden.md",
            "static/more.css",
            "themes/t/templates/page.html",
            "themes/u/templates/page.html",
            "content/blog/old",
            "content/blog/old/x.md",
        ]
        .into_iter()
        .map(PathBuf::from)
        .collect();
        let patched = patch(&before, root, Some("t"), &changed).expect("patchable");
        let after = walk(root, Some("t"));
        assert_eq!(patched.files, after.files);
        assert!(
            after
                .files
                .iter()
                .any(|(f, _)| f == "content/blog/new/z.md")
        );
        assert!(!after.files.iter().any(|(f, _)| f.contains("old/")));

        // Changes at the top need a full walk.
        for top in [".", "content", "sitegen.toml", "themes/t"] {
            let changed = BTreeSet::from([PathBuf::from(top)]);
            assert!(patch(&after, root, Some("t"), &changed).is_none(), "{top}");
        }
    }

    #[test]
    fn one_sorted_list_and_folders_by_prefix() {
        let dir = tempfile::tempdir().unwrap();
        for file in [
            "content/blog-2024/a.md",
            "content/blog/b.md",
            "content/.hidden.md",
            "content/.git/x.md",
            "content/_index.md",
            "content/blog/deep/er/c.md",
            "static/x.css",
            "staticky/no.css",
            "themes/t/static/y.css",
        ] {
            let path = dir.path().join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "x").unwrap();
        }
        let found = walk(dir.path(), Some("t"));
        let names: Vec<&str> = found.files.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            names,
            [
                "content/_index.md",
                "content/blog-2024/a.md",
                "content/blog/b.md",
                "content/blog/deep/er/c.md",
                "static/x.css",
                "themes/t/static/y.css"
            ]
        );
        let content: Vec<&str> = found.under("content").map(|(p, _)| p).collect();
        assert_eq!(
            content,
            [
                "_index.md",
                "blog-2024/a.md",
                "blog/b.md",
                "blog/deep/er/c.md"
            ]
        );
        assert_eq!(found.under("static").count(), 1, "not staticky/");
        assert_eq!(found.under("themes/t/static").count(), 1);
        assert!(found.problems.is_empty());
    }
}
