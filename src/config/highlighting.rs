//! `[markdown.highlighting]`: Zola 0.22's syntax highlighting options.
//!
//! The keys are Zola's (`theme` or `light_theme` + `dark_theme`, `style`, `extra_grammars`,
//! `extra_themes`, `error_on_missing_language`), parsed with the same serde shapes so that a
//! Zola config means the same here, and serialized the same way for templates
//! (`config.markdown.highlighting.theme`). Once parsed, [`HighlightingConfig::init`] loads the
//! highlighter (see `crate::highlight`) and checks the themes, as Zola does when it reads its
//! config: a missing theme or an unreadable grammar fails the build before anything renders.

use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::diagnostics::{Diagnostic, Error, Result};
use crate::hash::{ContentHash, Fingerprint};
use crate::highlight::{Highlighter, Settings, ThemeChoice};
use crate::value::KeyOffsets;

/// `[markdown.highlighting]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub(crate) struct HighlightingConfig {
    /// A code block in a language no grammar knows is an error (Zola's default: a warning, and
    /// the block is shown as plain text).
    #[serde(default)]
    pub(crate) error_on_missing_language: bool,
    /// Colours inline (`style="color: …"`), or as classes with a stylesheet per theme.
    #[serde(default)]
    pub(crate) style: HighlightStyle,
    /// One theme, or a light and a dark one.
    #[serde(flatten)]
    pub(crate) theme: ThemeChoice,
    /// `TextMate` grammars (JSON files, relative to the site's folder) added to giallo's.
    #[serde(default)]
    pub(crate) extra_grammars: Vec<String>,
    /// `TextMate` themes (JSON files, relative to the site's folder) added to giallo's.
    #[serde(default)]
    pub(crate) extra_themes: Vec<String>,
    /// The highlighter, once [`HighlightingConfig::init`] made it.
    #[serde(skip)]
    loaded: Loaded,
}

/// How colours reach the HTML.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum HighlightStyle {
    /// `style` attributes with the theme's colours.
    #[default]
    Inline,
    /// `z-` classes, and `giallo.css` (or `giallo-light.css` and `giallo-dark.css`) written to
    /// the output.
    Class,
}

/// The loaded highlighter, shared by every page of the build.
#[derive(Clone, Default)]
struct Loaded(Option<Arc<Highlighter>>);

impl std::fmt::Debug for Loaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Loaded"
        } else {
            "NotLoaded"
        })
    }
}

impl HighlightingConfig {
    /// Loads the grammars and themes (giallo's, then the extra files, read relative to `root`)
    /// and checks that the themes exist. Returns what is wrong, for the config's error.
    pub(crate) fn init(&mut self, root: &Path) -> Result<(), String> {
        let settings = Settings {
            theme: &self.theme,
            classes: self.uses_classes(),
            error_on_missing_language: self.error_on_missing_language,
            extra_grammars: &self.extra_grammars,
            extra_themes: &self.extra_themes,
        };
        let highlighter = Highlighter::new(settings, root)?;
        self.loaded = Loaded(Some(Arc::new(highlighter)));
        Ok(())
    }

    /// The highlighter, once [`HighlightingConfig::init`] made it.
    pub(crate) fn highlighter(&self) -> Option<&Arc<Highlighter>> {
        self.loaded.0.as_ref()
    }

    /// Whether colours are classes.
    pub(crate) fn uses_classes(&self) -> bool {
        self.style == HighlightStyle::Class
    }
}

/// Loads the highlighter of `config` (when the site has `[markdown.highlighting]`), the
/// config being `text` of `file`, read from `root`: a missing theme or an unreadable extra file
/// is a config error pointing at `[markdown.highlighting]`, as Zola fails on it.
pub(crate) fn init(
    config: &mut Option<HighlightingConfig>,
    root: &Path,
    file: &Path,
    text: &str,
    offsets: &KeyOffsets,
) -> Result<()> {
    removed_keys(file, text, offsets)?;
    let Some(config) = config.as_mut() else {
        return Ok(());
    };
    config.init(root).map_err(|message| {
        let d = Diagnostic::error(message);
        let d = match offsets.get("markdown.highlighting") {
            Some(at) => d.at_offset(file, text, at),
            None => d.in_file(file),
        };
        Error::Config(Box::new(d.with_help(
            "name one of giallo's themes (https://github.com/getzola/giallo#built-in), or load \
             yours with `extra_themes`; extra files are read relative to the site's folder",
        )))
    })
}

/// The stylesheets of class-style highlighting, as static files the build makes (a file of the
/// same name in the site's static/ wins, as Zola writes them into static/ only when missing).
pub(crate) fn stylesheets(config: Option<&HighlightingConfig>) -> Vec<(String, Arc<[u8]>)> {
    config
        .and_then(HighlightingConfig::highlighter)
        .map_or_else(Vec::new, |h| {
            h.stylesheets()
                .into_iter()
                .map(|(name, css)| (name.to_owned(), Arc::from(css.into_bytes())))
                .collect()
        })
}

/// One warning per language of the build's code blocks that no grammar knew.
pub(crate) fn unknown_languages(config: Option<&HighlightingConfig>) -> Vec<Diagnostic> {
    config.and_then(HighlightingConfig::highlighter).map_or_else(Vec::new, |h| {
        h.take_unknown()
            .into_iter()
            .map(|lang| {
                Diagnostic::warning(format!(
                    "no grammar for the language `{lang}`: its code blocks are shown as plain text"
                ))
                .with_help(
                    "fix the language's name after ```, or add its grammar with `extra_grammars` \
                     in [markdown.highlighting] (`error_on_missing_language = true` makes this an error)",
                )
            })
            .collect()
    })
}

/// Zola 0.22 moved highlighting to `[markdown.highlighting]` and fails on the keys of before,
/// whatever their value: so does sitegen, saying what replaces them.
fn removed_keys(file: &Path, text: &str, offsets: &KeyOffsets) -> Result<()> {
    const REMOVED: [&str; 4] = [
        "highlight_code",
        "highlight_theme",
        "highlight_themes_css",
        "extra_syntaxes_and_themes",
    ];
    for key in REMOVED {
        if let Some(at) = offsets.get(&format!("markdown.{key}")) {
            return Err(Error::Config(Box::new(
                Diagnostic::error(format!(
                    "`{key}` was removed in Zola 0.22: highlighting is set in [markdown.highlighting]"
                ))
                .at_offset(file, text, at)
                .with_help(
                    "replace `highlight_code = true` and `highlight_theme = \"…\"` with a \
                     `[markdown.highlighting]` table and `theme = \"…\"` (giallo's theme names); \
                     see Syntax highlighting in the README",
                ),
            )));
        }
    }
    Ok(())
}

/// The hash of what highlighting reads besides the config's text: the extra grammar and theme
/// files. Part of every output's config inputs, so editing one re-renders the pages.
pub(crate) fn inputs_hash(config: Option<&HighlightingConfig>) -> ContentHash {
    let mut f = Fingerprint::new("highlighting-files");
    if let Some(h) = config.and_then(HighlightingConfig::highlighter) {
        f.hash(&h.files_hash());
    }
    f.finish()
}

#[cfg(test)]
mod tests {
    use super::{HighlightStyle, HighlightingConfig};
    use crate::highlight::ThemeChoice;

    fn parse(text: &str) -> Result<HighlightingConfig, toml::de::Error> {
        toml::from_str(text)
    }

    #[test]
    fn a_single_or_a_dual_theme_as_zola_reads_them() {
        let single = parse("theme = \"github-dark\"").unwrap();
        assert_eq!(
            single.theme,
            ThemeChoice::Single {
                theme: "github-dark".to_owned()
            }
        );
        assert_eq!(single.style, HighlightStyle::Inline);
        let dual = parse("light_theme = \"a\"\ndark_theme = \"b\"\nstyle = \"class\"").unwrap();
        assert!(matches!(dual.theme, ThemeChoice::Dual { .. }));
        assert!(dual.uses_classes());
        assert!(parse("style = \"inline\"").is_err(), "a theme is required");
        assert!(parse("theme = \"a\"\nstyle = \"css\"").is_err());
    }
}
