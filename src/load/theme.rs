//! Themes: `themes/NAME/` in the site, or the default theme built into the binary.
//!
//! The repository's own `themes/default/` is embedded at compile time (see build.rs), so
//! `theme = "default"` works in a site that has no theme folder, such as one made by
//! `sitegen init`. A site's own `themes/default/` wins over the built-in copy.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

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

/// The `[extra]` of a theme's `theme.toml`, the only part of it Zola reads.
#[derive(serde::Deserialize)]
struct ThemeFile {
    #[serde(default, deserialize_with = "crate::value::table")]
    extra: Map<String, Value>,
}

impl Theme {
    /// Merges the `[extra]` of the theme's `theme.toml` into the site's `extra`, as Zola does:
    /// the site's values win, tables are merged key by key, and a table against a value of
    /// another kind is an error.
    pub(crate) fn merge_extra(
        &self,
        root: &Path,
        extra: &mut Map<String, Value>,
    ) -> Result<(), Diagnostic> {
        let Self::Folder(folder) = self else {
            return Ok(());
        };
        let file = folder.join("theme.toml");
        let Ok(text) = std::fs::read_to_string(&file) else {
            return Ok(());
        };
        let display = crate::site::paths::relative_to(&file, root);
        let theme: ThemeFile = toml::from_str(&text).map_err(|e| {
            let d = Diagnostic::error(format!("invalid theme.toml: {}", e.message().trim()));
            match e.span() {
                Some(span) => d.at_offset(&display, &text, span.start),
                None => d.in_file(&display),
            }
        })?;
        merge(extra, &theme.extra, "extra").map_err(|key| {
            Diagnostic::error(format!(
                "`{key}` is a table in one of the config and theme.toml and not in the other"
            ))
            .in_file(&display)
            .with_help("the site's `extra` overrides the theme's key by key; give the key the same kind of value in both")
        })
    }
}

/// Adds the keys of `from` missing in `into`, recursively in tables; the dotted key of a table
/// meeting a non-table is the error.
fn merge(into: &mut Map<String, Value>, from: &Map<String, Value>, at: &str) -> Result<(), String> {
    for (key, value) in from {
        match (into.get_mut(key), value) {
            (None, _) => {
                into.insert(key.clone(), value.clone());
            }
            (Some(Value::Object(mine)), Value::Object(theirs)) => {
                merge(mine, theirs, &format!("{at}.{key}"))?;
            }
            (Some(Value::Object(_)), _) | (Some(_), Value::Object(_)) => {
                return Err(format!("{at}.{key}"));
            }
            (Some(_), _) => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn theme_extra_merges_under_the_sites() {
        let mut site = json!({"a": 1, "sub": {"x": "site"}})
            .as_object()
            .unwrap()
            .clone();
        let theme = json!({"a": 2, "b": 3, "sub": {"x": "theme", "y": "theme"}});
        super::merge(&mut site, theme.as_object().unwrap(), "extra").unwrap();
        assert_eq!(
            serde_json::Value::Object(site.clone()),
            json!({"a": 1, "b": 3, "sub": {"x": "site", "y": "theme"}})
        );
        let clash = json!({"a": {"t": 1}});
        assert_eq!(
            super::merge(&mut site, clash.as_object().unwrap(), "extra"),
            Err("extra.a".to_owned())
        );
    }
}
