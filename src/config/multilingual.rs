//! Zola's languages in the config: `default_language`, `[languages.CODE]` and `[translations]`.
//!
//! Resolving (part of the config's second step): the options of the default language are the
//! config's top-level keys, a `[languages.DEFAULT]` table merged into them as Zola merges it (a
//! key given in both places is an error); every other language keeps its own table. Then what
//! later stages ask of a language: its taxonomies, feeds, strings and path prefix. What a
//! language changes in the output (paths under `/CODE/`, feeds, taxonomies) is load's and
//! plan's business.

use std::path::Path;

use crate::config::Config;
use crate::config::languages::{LanguageOptions, LanguageSearch, merge};
use crate::config::taxonomy::TaxonomyConfig;
use crate::diagnostics::{Diagnostic, Error, Result};

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
        // As Zola's `slugify_taxonomies`: every language's taxonomies know their slug
        // (`config.languages.fr.taxonomies[0].slug`).
        let strategy = self.slugify.taxonomies;
        for options in self.languages.values_mut() {
            for taxonomy in &mut options.taxonomies {
                taxonomy.slug = strategy.path(&taxonomy.name);
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
