//! Finding the site's source files: one walk of content/, static/, templates/, data/, prompts/
//! and the theme's folder, taken before anything is read.
//!
//! Its list (root-relative paths with their size and modification time, sorted) feeds both
//! the no-op check (the stamp) and loading, so the two can never disagree about what the
//! build saw, and the file system is walked once. Hidden files are skipped; a symbolic link is
//! followed only when its target is inside the site.

use std::path::Path;

use rayon::prelude::*;

use crate::diagnostics::Diagnostic;
use crate::load::content::relative_to;
use crate::load::source::Stat;

/// The source files of a site, and the problems met finding them.
#[derive(Debug, Default)]
pub struct SourceFiles {
    /// Root-relative paths (with `/`) and stats, sorted by path.
    pub files: Vec<(String, Stat)>,
    /// Unreadable folders, links out of the site, names that are not UTF-8.
    pub problems: Vec<Diagnostic>,
}

impl SourceFiles {
    /// The files under the root-relative folder `dir` (`static`), as (path relative to it,
    /// stat), in order.
    pub fn under<'a>(&'a self, dir: &'a str) -> impl Iterator<Item = (&'a str, Stat)> + 'a {
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
}

/// Walks the folders a build reads in the site at `root`; `theme` is the name of a theme folder
/// under themes/, when the site has one.
pub fn walk(root: &Path, theme: Option<&str>) -> SourceFiles {
    let mut dirs = vec![
        "content".to_owned(),
        "static".to_owned(),
        "templates".to_owned(),
        "data".to_owned(),
        "prompts".to_owned(),
    ];
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
    use super::walk;

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
