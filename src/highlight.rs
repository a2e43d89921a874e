//! Fenced code highlighted as Zola 0.22 highlights it: with getzola's `giallo` (`TextMate`
//! grammars and themes, VS Code's output), the same fence annotations (`linenos`,
//! `linenostart`, `hl_lines`, `hide_lines`, `name` and any other `key=value`) and the same HTML.
//!
//! Sits beside `markdown` (which calls [`Highlighter::block`] for each code block when the site
//! configures `[markdown.highlighting]`), inside the parallel render: one [`Highlighter`] per
//! build is shared by every rayon worker. It reads no file once made.
//!
//! What is loaded, and when: giallo's built-in grammars and themes are one compressed dump,
//! read once per process, the first time a site asks for highlighting ([`builtin`]); the
//! regular expressions of a grammar are compiled by giallo the first time a block of that
//! language is highlighted (each rule's pattern set is cached in the registry, thread-safe), so
//! a site pays only for the languages it uses.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Mutex, OnceLock, PoisonError};

use serde::{Deserialize, Serialize};

use giallo::{
    HighlightOptions, HtmlRenderer, ParsedFence, Registry, ThemeVariant, parse_markdown_fence,
};

use crate::hash::{ContentHash, Fingerprint};

/// The class prefix of class-style output, and of the generated stylesheets (Zola's).
const CLASS_PREFIX: &str = "z-";

/// giallo's built-in grammars and themes, read from its dump and linked once per process (the
/// first caller reads it; callers meanwhile wait for it).
fn builtin() -> Result<&'static Registry, String> {
    static BUILTIN: OnceLock<Result<Registry, String>> = OnceLock::new();
    BUILTIN
        .get_or_init(|| {
            let started = std::time::Instant::now();
            let mut registry = read_builtin()?;
            registry.link_grammars();
            tracing::info!(elapsed = ?started.elapsed(), "loaded giallo's grammars and themes");
            Ok(registry)
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// The names of giallo 0.2.2's built-in themes (its README's list), so that a config naming one
/// is accepted without waiting for the dump; any other name is looked up in the dump itself.
const BUILTIN_THEMES: [&str; 60] = [
    "andromeeda",
    "aurora-x",
    "ayu-dark",
    "catppuccin-frappe",
    "catppuccin-latte",
    "catppuccin-macchiato",
    "catppuccin-mocha",
    "dark-plus",
    "dracula",
    "dracula-soft",
    "everforest-dark",
    "everforest-light",
    "github-dark",
    "github-dark-default",
    "github-dark-dimmed",
    "github-dark-high-contrast",
    "github-light",
    "github-light-default",
    "github-light-high-contrast",
    "gruvbox-dark-hard",
    "gruvbox-dark-medium",
    "gruvbox-dark-soft",
    "gruvbox-light-hard",
    "gruvbox-light-medium",
    "gruvbox-light-soft",
    "houston",
    "kanagawa-dragon",
    "kanagawa-lotus",
    "kanagawa-wave",
    "laserwave",
    "light-plus",
    "material-theme",
    "material-theme-darker",
    "material-theme-lighter",
    "material-theme-ocean",
    "material-theme-palenight",
    "min-dark",
    "min-light",
    "monokai",
    "night-owl",
    "nord",
    "one-dark-pro",
    "one-light",
    "plastic",
    "poimandres",
    "red",
    "rose-pine",
    "rose-pine-dawn",
    "rose-pine-moon",
    "slack-dark",
    "slack-ochin",
    "snazzy-light",
    "solarized-dark",
    "solarized-light",
    "synthwave-84",
    "tokyo-night",
    "vesper",
    "vitesse-black",
    "vitesse-dark",
    "vitesse-light",
];

/// Where a highlighter's grammars and themes are.
enum Grammars {
    /// giallo's built-in ones, read on another thread while the site loads.
    Builtin,
    /// giallo's with the site's extra files.
    Own(Box<Registry>),
}

/// A fresh, unlinked copy of giallo's dump, for a site that adds grammars (which may replace
/// built-in ones, as in Zola, only before linking).
fn read_builtin() -> Result<Registry, String> {
    Registry::builtin().map_err(|e| format!("cannot load the built-in grammars: {e}"))
}

/// The theme keys of `[markdown.highlighting]`, as Zola reads them (the first shape that
/// fits wins).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub(crate) enum ThemeChoice {
    /// `theme = "…"`.
    Single {
        /// The theme's name.
        theme: String,
    },
    /// `light_theme = "…"` and `dark_theme = "…"`, chosen by the reader's colour scheme.
    Dual {
        /// The light theme's name.
        light_theme: String,
        /// The dark theme's name.
        dark_theme: String,
    },
}

/// What a [`Highlighter`] is made from: `[markdown.highlighting]`, resolved.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings<'a> {
    /// The theme or themes.
    pub(crate) theme: &'a ThemeChoice,
    /// Classes rather than inline colours.
    pub(crate) classes: bool,
    /// An unknown language is an error rather than plain text.
    pub(crate) error_on_missing_language: bool,
    /// Grammar files to add, relative to the site's folder.
    pub(crate) extra_grammars: &'a [String],
    /// Theme files to add, relative to the site's folder.
    pub(crate) extra_themes: &'a [String],
}

/// Highlights the code blocks of one build.
pub(crate) struct Highlighter {
    grammars: Grammars,
    theme: ThemeChoice,
    classes: bool,
    error_on_missing_language: bool,
    /// The hash of the extra grammar and theme files.
    files: ContentHash,
    /// Languages of blocks no grammar knew, for one warning each.
    unknown: Mutex<BTreeSet<String>>,
}

impl std::fmt::Debug for Highlighter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Highlighter")
            .field("theme", &self.theme)
            .field("classes", &self.classes)
            .finish_non_exhaustive()
    }
}

/// A code block whose text is being collected.
pub(crate) struct OpenBlock {
    fence: ParsedFence,
    code: String,
}

impl OpenBlock {
    /// Adds text of the block.
    pub(crate) fn push(&mut self, text: &str) {
        self.code.push_str(text);
    }
}

impl Highlighter {
    /// Loads giallo's grammars and themes with the extra ones of `settings` (paths relative to
    /// `root`), and checks that its themes exist.
    pub(crate) fn new(settings: Settings<'_>, root: &Path) -> Result<Self, String> {
        let mut files = Fingerprint::new("highlighting-files");
        let themes = match settings.theme {
            ThemeChoice::Single { theme } => vec![theme],
            ThemeChoice::Dual {
                light_theme,
                dark_theme,
            } => vec![light_theme, dark_theme],
        };
        let grammars = if settings.extra_grammars.is_empty() && settings.extra_themes.is_empty() {
            for theme in themes {
                if !BUILTIN_THEMES.contains(&theme.to_lowercase().as_str())
                    && !builtin()?.contains_theme(theme)
                {
                    return Err(format!("the highlighting theme `{theme}` does not exist"));
                }
            }
            // The dump takes a while to read: on another thread, while the site loads.
            std::thread::spawn(|| {
                let _ = builtin();
            });
            Grammars::Builtin
        } else {
            let mut registry = read_builtin()?;
            for grammar in settings.extra_grammars {
                let path = root.join(grammar);
                files.str(grammar).hash(&file_hash(&path));
                registry
                    .add_grammar_from_path(&path)
                    .map_err(|e| format!("cannot load the grammar `{grammar}`: {e}"))?;
            }
            for theme in settings.extra_themes {
                let path = root.join(theme);
                files.str(theme).hash(&file_hash(&path));
                registry
                    .add_theme_from_path(&path)
                    .map_err(|e| format!("cannot load the theme `{theme}`: {e}"))?;
            }
            registry.link_grammars();
            for theme in themes {
                if !registry.contains_theme(theme) {
                    return Err(format!("the highlighting theme `{theme}` does not exist"));
                }
            }
            Grammars::Own(Box::new(registry))
        };
        Ok(Self {
            grammars,
            theme: settings.theme.clone(),
            classes: settings.classes,
            error_on_missing_language: settings.error_on_missing_language,
            files: files.finish(),
            unknown: Mutex::new(BTreeSet::new()),
        })
    }

    /// The grammars and themes (waiting, the first time, for the dump being read).
    fn registry(&self) -> Result<&Registry, String> {
        match &self.grammars {
            Grammars::Builtin => builtin(),
            Grammars::Own(registry) => Ok(registry),
        }
    }

    /// The hash of the extra grammar and theme files.
    pub(crate) fn files_hash(&self) -> ContentHash {
        self.files
    }

    /// The stylesheets Zola writes for class-style output: `giallo.css` for one theme,
    /// `giallo-light.css` and `giallo-dark.css` for two; none for inline style.
    pub(crate) fn stylesheets(&self) -> Vec<(&'static str, String)> {
        if !self.classes {
            return Vec::new();
        }
        let css = |theme: &str| {
            self.registry()
                .and_then(|r| {
                    r.generate_css(theme, CLASS_PREFIX)
                        .map_err(|e| e.to_string())
                })
                .unwrap_or_default()
        };
        match &self.theme {
            ThemeChoice::Single { theme } => vec![("giallo.css", css(theme))],
            ThemeChoice::Dual {
                light_theme,
                dark_theme,
            } => vec![
                ("giallo-light.css", css(light_theme)),
                ("giallo-dark.css", css(dark_theme)),
            ],
        }
    }

    /// Opens a code block: `info` is a fenced block's info string (`rust,linenos`), `None` for
    /// an indented block.
    pub(crate) fn open(info: Option<&str>) -> OpenBlock {
        OpenBlock {
            fence: info.map_or_else(ParsedFence::default, parse_markdown_fence),
            code: String::new(),
        }
    }

    /// The HTML of a collected block, as Zola writes it. A language no grammar knows is
    /// highlighted as plain text and remembered for [`Highlighter::take_unknown`], or, with
    /// `error_on_missing_language`, is an error (the message is returned).
    pub(crate) fn block(&self, block: OpenBlock) -> Result<String, String> {
        let OpenBlock { fence, code } = block;
        let registry = self.registry()?;
        if !registry.contains_grammar(&fence.lang) {
            if self.error_on_missing_language {
                return Err(format!(
                    "no grammar for the language `{}` of this code block",
                    fence.lang
                ));
            }
            self.unknown
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(fence.lang.clone());
        }
        let theme = match &self.theme {
            ThemeChoice::Single { theme } => ThemeVariant::Single(theme.as_str()),
            ThemeChoice::Dual {
                light_theme,
                dark_theme,
            } => ThemeVariant::Dual {
                light: light_theme.as_str(),
                dark: dark_theme.as_str(),
            },
        };
        let options = HighlightOptions::new(&fence.lang, theme)
            .fallback_to_plain(!self.error_on_missing_language);
        let highlighted = registry
            .highlight(&code, &options)
            .map_err(|e| format!("cannot highlight this code block: {e}"))?;
        let renderer = HtmlRenderer {
            other_metadata: fence.rest,
            css_class_prefix: self.classes.then(|| CLASS_PREFIX.to_owned()),
        };
        Ok(renderer.render(&highlighted, &fence.options))
    }

    /// The languages of blocks no grammar knew since the last call, sorted.
    pub(crate) fn take_unknown(&self) -> Vec<String> {
        let mut unknown = self.unknown.lock().unwrap_or_else(PoisonError::into_inner);
        std::mem::take(&mut *unknown).into_iter().collect()
    }
}

/// The hash of a file's bytes (of nothing, when it cannot be read: loading it reports that).
fn file_hash(path: &Path) -> ContentHash {
    std::fs::read(path).map_or_else(|_| ContentHash::default(), |b| ContentHash::of(&b))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::{Highlighter, Settings, ThemeChoice};

    fn settings(theme: &ThemeChoice) -> Settings<'_> {
        Settings {
            theme,
            classes: false,
            error_on_missing_language: false,
            extra_grammars: &[],
            extra_themes: &[],
        }
    }

    fn single(theme: &str) -> ThemeChoice {
        ThemeChoice::Single {
            theme: theme.to_owned(),
        }
    }

    #[test]
    fn blocks_render_as_giallo_renders_them() {
        let h = Highlighter::new(settings(&single("github-light")), Path::new(".")).unwrap();
        let mut block = Highlighter::open(Some("rust,name=a.rs"));
        block.push("let a = 1;\n");
        let html = h.block(block).unwrap();
        assert!(html.starts_with("<pre class=\"giallo\" style="), "{html}");
        assert!(
            html.contains("data-lang=\"rust\" data-name=\"a.rs\""),
            "{html}"
        );
        assert!(h.take_unknown().is_empty());
    }

    #[test]
    fn unknown_languages_are_plain_text_and_remembered_once() {
        let theme = single("github-light");
        let settings = Settings {
            classes: true,
            ..settings(&theme)
        };
        let h = Highlighter::new(settings, Path::new(".")).unwrap();
        for _ in 0..2 {
            let mut block = Highlighter::open(Some("nosuchlang"));
            block.push("a < b\n");
            let html = h.block(block).unwrap();
            assert!(html.contains("data-lang=\"plain\""), "{html}");
            assert!(html.contains("a &lt; b"), "{html}");
        }
        assert_eq!(h.take_unknown(), ["nosuchlang"]);
        assert!(h.take_unknown().is_empty());
        assert_eq!(h.stylesheets()[0].0, "giallo.css");
    }

    #[test]
    fn the_known_theme_names_are_giallo_s() {
        let registry = super::builtin().unwrap();
        for theme in super::BUILTIN_THEMES {
            assert!(registry.contains_theme(theme), "{theme}");
        }
    }

    #[test]
    fn a_missing_theme_or_language_is_reported_when_asked() {
        let e = Highlighter::new(settings(&single("nope")), Path::new(".")).unwrap_err();
        assert!(e.contains("`nope`"), "{e}");
        let theme = single("github-dark");
        let settings = Settings {
            error_on_missing_language: true,
            ..settings(&theme)
        };
        let h = Highlighter::new(settings, Path::new(".")).unwrap();
        assert!(h.block(Highlighter::open(Some("nosuchlang"))).is_err());
    }
}
