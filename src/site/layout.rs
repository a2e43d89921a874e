//! A site's folder, named once: the folders of sources (the config files are named by
//! `config::CONFIG_FILES`). Every stage that walks, watches or guards the site's files reads
//! these lists.

/// The folders of the site's own sources (a theme has the same under `themes/NAME/`).
pub(crate) const SOURCE_FOLDERS: [&str; 6] =
    ["content", "static", "templates", "data", "prompts", "sass"];

/// The folder of themes.
pub(crate) const THEMES: &str = "themes";

/// Every folder whose files are inputs of a build: the sources and the themes.
pub(crate) fn input_folders() -> impl Iterator<Item = &'static str> {
    SOURCE_FOLDERS.into_iter().chain([THEMES])
}
