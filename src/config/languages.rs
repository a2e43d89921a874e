//! The options of one language (`[languages.CODE]`), with Zola's keys and defaults, and Zola's
//! rule for merging two tables of the default language. How the config resolves and reads
//! them is in `multilingual`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::taxonomy::TaxonomyConfig;

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

/// Zola's `LanguageOptions::merge`: `other` completes `base`; a key set in both is an error
/// naming it.
pub(super) fn merge(
    mut base: LanguageOptions,
    other: &LanguageOptions,
) -> std::result::Result<LanguageOptions, &'static str> {
    fn one<T: Clone>(
        base: &mut Option<T>,
        other: Option<&T>,
        key: &'static str,
    ) -> std::result::Result<(), &'static str> {
        match (&base, other) {
            (None, _) => {
                *base = other.cloned();
                Ok(())
            }
            (Some(_), Some(_)) => Err(key),
            (Some(_), None) => Ok(()),
        }
    }
    one(&mut base.title, other.title.as_ref(), "title")?;
    one(
        &mut base.description,
        other.description.as_ref(),
        "description",
    )?;
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
