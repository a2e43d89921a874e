//! Zola's languages: `default_language`, `[languages.CODE]` and `[translations]`.
//!
//! Parsing and resolving only (part of the config's second step): the options of the default
//! language are the config's top-level keys, a `[languages.DEFAULT]` table merged into them as
//! Zola merges it (a key given in both places is an error); every other language keeps its own
//! table. What a language changes in the output (paths under `/CODE/`, feeds, taxonomies) is
//! load's and plan's business; `config` as one language's templates see it is made here.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::config::{Config, TaxonomyConfig};
use crate::diagnostics::{Diagnostic, Error, Result};

/// `[languages.CODE]`: what one language changes, with Zola's keys and defaults.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct LanguageOptions {
    /// The site's title in this language (`config.title` in its templates).
    pub(crate) title: Option<String>,
    /// The site's description in this language.
    pub(crate) description: Option<String>,
    /// Whether this language has feeds of its own (`/CODE/atom.xml`).
    pub(crate) generate_feeds: bool,
    /// Its feed files (and templates).
    pub(crate) feed_filenames: Vec<String>,
    /// Its taxonomies: its pages are classified by these only.
    pub(crate) taxonomies: Vec<TaxonomyConfig>,
    /// Whether a search index is built for it (the search index's business).
    pub(crate) build_search_index: bool,
    /// What its search index holds (the search index's business), with Zola's defaults.
    pub(crate) search: LanguageSearch,
    /// Its strings for `trans(key, lang)`.
    pub(crate) translations: BTreeMap<String, String>,
}

impl Default for LanguageOptions {
    fn default() -> Self {
        Self {
            title: None,
            description: None,
            generate_feeds: false,
            feed_filenames: vec!["atom.xml".to_owned()],
            taxonomies: Vec::new(),
            build_search_index: false,
            search: LanguageSearch::default(),
            translations: BTreeMap::new(),
        }
    }
}

/// Zola's `search` table of a language, kept with its defaults so that `config.languages`
/// shows what Zola shows; the search index reads it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default)]
#[allow(clippy::struct_excessive_bools)] // Zola's keys, one flag each
pub(crate) struct LanguageSearch {
    /// Titles are indexed.
    pub(crate) include_title: bool,
    /// Content is indexed.
    pub(crate) include_content: bool,
    /// Content is cut to this many characters.
    pub(crate) truncate_content_length: Option<usize>,
    /// Descriptions are indexed.
    pub(crate) include_description: bool,
    /// Dates are indexed.
    pub(crate) include_date: bool,
    /// Paths are indexed.
    pub(crate) include_path: bool,
    /// The index's format.
    pub(crate) index_format: String,
}

impl Default for LanguageSearch {
    fn default() -> Self {
        Self {
            include_title: true,
            include_content: true,
            truncate_content_length: None,
            include_description: false,
            include_date: false,
            include_path: false,
            index_format: "elasticlunr_javascript".to_owned(),
        }
    }
}

/// Whether `code` is a language code sitegen accepts: a Unicode language identifier's shape
/// (`en`, `fr`, `pt-BR`, `zh-Hant`), which also keeps it a safe URL segment.
fn valid_code(code: &str) -> bool {
    let mut parts = code.split(['-', '_']);
    let language = parts.next().unwrap_or_default();
    (2..=8).contains(&language.len())
        && language.chars().all(|c| c.is_ascii_alphabetic())
        && parts.all(|p| (1..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

fn config_error(file: &Path, message: String, help: &str) -> Error {
    Error::Config(Box::new(
        Diagnostic::error(message).in_file(file).with_help(help),
    ))
}

impl Config {
    /// The options of the default language, as the top-level keys give them.
    fn base_language(&self) -> LanguageOptions {
        LanguageOptions {
            title: self.title.clone(),
            description: self.description.clone(),
            generate_feeds: self.generate_feeds,
            feed_filenames: self.feed_filenames.clone(),
            taxonomies: self.taxonomies.clone(),
            build_search_index: self.build_search_index,
            search: self
                .search
                .clone()
                .and_then(|t| toml::Value::Table(t).try_into().ok())
                .unwrap_or_default(),
            translations: self.translations.clone(),
        }
    }

    /// Checks the language codes and merges `[languages.DEFAULT]` into the top level, as Zola's
    /// `add_default_language` does; afterwards `languages` holds the other languages only.
    pub(super) fn resolve_languages(&mut self, file: &Path) -> Result<()> {
        let help = "language codes are Unicode language identifiers, like `fr` or `pt-BR`";
        for code in std::iter::once(&self.default_language).chain(self.languages.keys()) {
            if !valid_code(code) {
                return Err(config_error(
                    file,
                    format!("language `{code}` is not a valid Unicode Language Identifier"),
                    help,
                ));
            }
        }
        let Some(section) = self.languages.remove(&self.default_language) else {
            return Ok(());
        };
        let base = self.base_language();
        let merged = if base == LanguageOptions::default() {
            section
        } else {
            merge(base, &section).map_err(|key| {
                config_error(
                    file,
                    format!("`{key}` for default language is specified twice, at the top level and in `[languages.{}]`", self.default_language),
                    "give the default language's options in one place only",
                )
            })?
        };
        self.title = merged.title;
        self.description = merged.description;
        self.generate_feeds = merged.generate_feeds;
        self.feed_filenames = merged.feed_filenames;
        self.taxonomies = merged.taxonomies;
        self.build_search_index = merged.build_search_index;
        self.translations = merged.translations;
        if merged.search != LanguageSearch::default() {
            self.search = toml::Value::try_from(&merged.search)
                .ok()
                .and_then(|v| v.as_table().cloned());
        }
        Ok(())
    }

    /// Whether the site has languages besides the default one.
    pub(crate) fn is_multilingual(&self) -> bool {
        !self.languages.is_empty()
    }

    /// The codes of every language, the default first, then the others in order.
    pub(crate) fn language_codes(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.default_language.as_str())
            .chain(self.languages.keys().map(String::as_str))
    }

    /// The options of language `code` (the default one's from the top level).
    pub(crate) fn language(&self, code: &str) -> Option<LanguageOptions> {
        if code == self.default_language {
            Some(self.base_language())
        } else {
            self.languages.get(code).cloned()
        }
    }

    /// The taxonomies of language `code`.
    pub(crate) fn taxonomies_of(&self, code: &str) -> &[TaxonomyConfig] {
        if code == self.default_language {
            &self.taxonomies
        } else {
            self.languages
                .get(code)
                .map_or(&[][..], |l| l.taxonomies.as_slice())
        }
    }

    /// The feed files of language `code`.
    pub(crate) fn feed_filenames_of(&self, code: &str) -> &[String] {
        if code == self.default_language {
            &self.feed_filenames
        } else {
            self.languages
                .get(code)
                .map_or(&self.feed_filenames[..], |l| l.feed_filenames.as_slice())
        }
    }

    /// `trans(key, lang)`: the string `key` of language `lang`, or Zola's message.
    pub(crate) fn translation(&self, lang: &str, key: &str) -> std::result::Result<&str, String> {
        let strings = if lang == self.default_language {
            &self.translations
        } else {
            match self.languages.get(lang) {
                Some(options) => &options.translations,
                None => return Err(format!("Language '{lang}' not found.")),
            }
        };
        strings
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| format!("Translation key '{key}' for language '{lang}' is missing"))
    }

    /// The prefix of the site paths of language `lang`: empty for the default one, `/fr` for
    /// the others.
    pub(crate) fn lang_prefix(&self, lang: &str) -> String {
        if lang == self.default_language {
            String::new()
        } else {
            format!("/{lang}")
        }
    }
}

/// Zola's `LanguageOptions::merge`: `other` completes `base`; a key set in both is an error
/// naming it.
fn merge(
    mut base: LanguageOptions,
    other: &LanguageOptions,
) -> std::result::Result<LanguageOptions, &'static str> {
    fn one<T: Clone>(
        base: &mut Option<T>,
        other: &Option<T>,
        key: &'static str,
    ) -> std::result::Result<(), &'static str> {
        match (&base, other) {
            (None, _) => {
                base.clone_from(other);
                Ok(())
            }
            (Some(_), Some(_)) => Err(key),
            (Some(_), None) => Ok(()),
        }
    }
    one(&mut base.title, &other.title, "title")?;
    one(&mut base.description, &other.description, "description")?;
    let defaults = LanguageOptions::default();
    if base.feed_filenames.is_empty() || base.feed_filenames == defaults.feed_filenames {
        base.feed_filenames.clone_from(&other.feed_filenames);
    } else if !other.feed_filenames.is_empty() {
        return Err("feed_filename");
    }
    if base.taxonomies.is_empty() {
        base.taxonomies.clone_from(&other.taxonomies);
    } else if !other.taxonomies.is_empty() {
        return Err("taxonomies");
    }
    if base.translations.is_empty() {
        base.translations.clone_from(&other.translations);
    } else if !other.translations.is_empty() {
        return Err("translations");
    }
    base.generate_feeds |= other.generate_feeds;
    base.build_search_index |= other.build_search_index;
    if base.search == LanguageSearch::default() {
        base.search = other.search.clone();
    } else if base.search != other.search {
        return Err("search");
    }
    Ok(base)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::parse;

    #[test]
    fn default_language_table_merges_into_the_top_level() {
        let c = parse(
            Path::new("zola.toml"),
            "title = \"T\"\ndefault_language = \"en\"\n[languages.en]\ndescription = \"D\"\n[languages.fr]\ntitle = \"F\"\n",
            &[],
        )
        .unwrap();
        assert_eq!(c.title.as_deref(), Some("T"));
        assert_eq!(c.description.as_deref(), Some("D"));
        assert_eq!(c.languages.keys().collect::<Vec<_>>(), ["fr"]);
        assert!(c.is_multilingual());
    }

    #[test]
    fn a_key_in_both_places_is_an_error() {
        let e = parse(
            Path::new("zola.toml"),
            "title = \"T\"\n[languages.en]\ntitle = \"U\"\n",
            &[],
        );
        let Err(crate::diagnostics::Error::Config(d)) = e else {
            panic!("expected an error");
        };
        assert!(
            d.message.contains("`title` for default language"),
            "{}",
            d.message
        );
    }

    #[test]
    fn missing_translation_reads_as_zolas() {
        let c = parse(
            Path::new("zola.toml"),
            "[translations]\nhi = \"Hello\"\n[languages.fr.translations]\nhi = \"Salut\"\n",
            &[],
        )
        .unwrap();
        assert_eq!(c.translation("en", "hi"), Ok("Hello"));
        assert_eq!(c.translation("fr", "hi"), Ok("Salut"));
        assert_eq!(
            c.translation("fr", "bye"),
            Err("Translation key 'bye' for language 'fr' is missing".to_owned())
        );
        assert_eq!(
            c.translation("it", "hi"),
            Err("Language 'it' not found.".to_owned())
        );
    }

    #[test]
    fn codes_are_checked() {
        assert!(super::valid_code("pt-BR"));
        assert!(!super::valid_code("../x"));
        assert!(!super::valid_code(""));
    }
}
