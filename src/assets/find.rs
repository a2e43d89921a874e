//! Files that templates name (`load_data`, `get_hash`, `resize_image`, …), found where Zola's
//! `search_for_file` finds them.
//!
//! Read by render (the template functions) and plan (an image's metadata is part of the hash of
//! what a page read). Nothing is found outside the site's folder.

use std::path::{Path, PathBuf};

/// A file a template asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Found {
    /// Where it is (canonical).
    pub(crate) path: PathBuf,
    /// Its path relative to the site's folder (`static/a.png`).
    pub(crate) relative: String,
}

/// What [`search_made`] found: a file on disk or one the build makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Searched {
    /// A file of the site's folder, where it is.
    File(Found),
    /// A file the build makes (a compiled stylesheet), by its path in the output.
    Made(String),
}

/// Finds `path` as Zola does: in the site's folder, then `static/`, `content/` and the theme's
/// `static/` (`@/x` is `content/x`; a leading `/` is dropped). Zola also looks in the output
/// folder, which sitegen does not read back: it is being replaced while templates render.
/// `looked_at` gets every root-relative path tried, up to the one found.
pub(crate) fn search(
    root: &Path,
    theme: Option<&str>,
    path: &str,
    looked_at: &mut Vec<PathBuf>,
) -> Result<Option<Found>, String> {
    Ok(
        search_made(root, theme, path, &|_| false, looked_at)?.and_then(|found| match found {
            Searched::File(file) => Some(file),
            Searched::Made(_) => None,
        }),
    )
}

/// [`search`], also finding the files the build makes: Zola finds in its output folder the
/// files it wrote there before templates render, its compiled Sass. sitegen does not read its
/// output back (it is being replaced while templates render) but asks `made` whether the build
/// makes a file at that path, after the site's folders and before the theme's `static/`.
pub(crate) fn search_made(
    root: &Path,
    theme: Option<&str>,
    path: &str,
    made: &dyn Fn(&str) -> bool,
    looked_at: &mut Vec<PathBuf>,
) -> Result<Option<Searched>, String> {
    let actual = match path.strip_prefix("@/") {
        Some(rest) => format!("content/{rest}"),
        None => path.trim_start_matches('/').to_owned(),
    };
    let in_folders = [
        PathBuf::from(&actual),
        Path::new("static").join(&actual),
        Path::new("content").join(&actual),
    ];
    let in_theme = theme.map(|theme| Path::new("themes").join(theme).join("static").join(&actual));
    let canonical_root = root
        .canonicalize()
        .map_err(|e| format!("cannot read the site's folder: {e}"))?;
    let on_disk = |candidate: &Path, looked_at: &mut Vec<PathBuf>| {
        looked_at.push(candidate.to_path_buf());
        let full = root.join(candidate);
        if !full.exists() {
            return Ok(None);
        }
        let canonical = full
            .canonicalize()
            .map_err(|e| format!("cannot read `{path}`: {e}"))?;
        let Ok(relative) = canonical.strip_prefix(&canonical_root) else {
            return Err(format!("`{path}` is outside the site's folder"));
        };
        let relative = relative.to_string_lossy().replace('\\', "/");
        Ok(Some(Searched::File(Found {
            path: canonical,
            relative,
        })))
    };
    for candidate in &in_folders {
        if let Some(found) = on_disk(candidate, looked_at)? {
            return Ok(Some(found));
        }
    }
    if made(&actual) {
        return Ok(Some(Searched::Made(actual)));
    }
    match in_theme {
        Some(candidate) => on_disk(&candidate, looked_at),
        None => Ok(None),
    }
}

/// The places [`search`] looks, for messages.
pub(crate) const PLACES: &str = "the site's folder, static/, content/ or the theme's static/";
