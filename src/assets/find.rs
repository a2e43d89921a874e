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
    let actual = match path.strip_prefix("@/") {
        Some(rest) => format!("content/{rest}"),
        None => path.trim_start_matches('/').to_owned(),
    };
    let mut candidates = vec![
        PathBuf::from(&actual),
        Path::new("static").join(&actual),
        Path::new("content").join(&actual),
    ];
    if let Some(theme) = theme {
        candidates.push(Path::new("themes").join(theme).join("static").join(&actual));
    }
    let canonical_root = root
        .canonicalize()
        .map_err(|e| format!("cannot read the site's folder: {e}"))?;
    for candidate in candidates {
        looked_at.push(candidate.clone());
        let full = root.join(&candidate);
        if !full.exists() {
            continue;
        }
        let canonical = full
            .canonicalize()
            .map_err(|e| format!("cannot read `{path}`: {e}"))?;
        let Ok(relative) = canonical.strip_prefix(&canonical_root) else {
            return Err(format!("`{path}` is outside the site's folder"));
        };
        let relative = relative.to_string_lossy().replace('\\', "/");
        return Ok(Some(Found {
            path: canonical,
            relative,
        }));
    }
    Ok(None)
}

/// The places [`search`] looks, for messages.
pub(crate) const PLACES: &str = "the site's folder, static/, content/ or the theme's static/";
