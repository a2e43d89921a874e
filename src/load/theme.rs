//! Themes: `themes/NAME/` in the site, or the default theme built into the binary.
//!
//! The repository's own `themes/default/` is embedded at compile time (see build.rs), so
//! `theme = "default"` works in a site that has no theme folder, such as one made by
//! `sitegen init`. A site's own `themes/default/` wins over the built-in copy.

use std::path::{Path, PathBuf};

use crate::diagnostics::Diagnostic;

include!(concat!(env!("OUT_DIR"), "/default_theme.rs"));

/// The name of the built-in theme.
pub(crate) const DEFAULT: &str = "default";

/// Where a site's theme comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Theme {
    /// No theme: the site's templates only.
    None,
    /// A folder (`themes/NAME`).
    Folder(PathBuf),
    /// The default theme built into sitegen.
    Builtin,
}

impl Theme {
    /// Finds the theme `name` of the site at `root`.
    pub(crate) fn resolve(
        root: &Path,
        name: Option<&str>,
        config_file: &Path,
    ) -> Result<Self, Diagnostic> {
        let Some(name) = name else {
            return Ok(Self::None);
        };
        if name.is_empty() || name.contains(['/', '\\']) || name == ".." || name == "." {
            return Err(Diagnostic::error(format!("invalid theme name `{name}`"))
                .in_file(config_file)
                .with_help("`theme` names a folder under themes/"));
        }
        let folder = root.join("themes").join(name);
        if folder.is_dir() {
            Ok(Self::Folder(folder))
        } else if name == DEFAULT {
            Ok(Self::Builtin)
        } else {
            Err(Diagnostic::error(format!("theme `{name}` not found"))
                .in_file(config_file)
                .with_help(format!("put the theme in themes/{name}/, or use the built-in theme with `theme = \"{DEFAULT}\"`")))
        }
    }

    /// The name of the theme's folder under `themes/`, when it has one.
    pub(crate) fn folder_name(&self) -> Option<&str> {
        match self {
            Self::Folder(folder) => folder.file_name().and_then(|n| n.to_str()),
            Self::None | Self::Builtin => None,
        }
    }

    /// The root-relative folder of its `kind` of files (`themes/NAME/templates`), when the theme
    /// is a folder.
    pub(crate) fn folder_of(&self, kind: &str) -> Option<String> {
        self.folder_name()
            .map(|name| format!("{}/{name}/{kind}", crate::site::layout::THEMES))
    }

    /// The built-in files under `prefix` (`templates/`, `static/`), names relative to it.
    pub(crate) fn builtin_files(
        prefix: &str,
    ) -> impl Iterator<Item = (&'static str, &'static [u8])> + '_ {
        DEFAULT_THEME
            .iter()
            .filter_map(move |(name, bytes)| name.strip_prefix(prefix).map(|rest| (rest, *bytes)))
    }
}
