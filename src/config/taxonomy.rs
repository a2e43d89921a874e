//! One taxonomy of the config (`taxonomies = [{ name = "tags" }]`), at the top level or in a
//! language's table: a module of its own so that the languages' options can hold taxonomies
//! without importing the whole config.

use serde::{Deserialize, Serialize};

/// One taxonomy (`taxonomies = [{ name = "tags" }]`). Other keys are ignored with a warning,
/// as Zola ignores them: a key written after `[[taxonomies]]` lands in the last taxonomy.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub(crate) struct TaxonomyConfig {
    /// The name used in front matter and URLs.
    pub(crate) name: String,
    /// The name as a URL segment, by `[slugify] taxonomies`: set when the site loads, as Zola's
    /// `taxonomy.slug` in templates.
    #[serde(default, skip_deserializing)]
    pub(crate) slug: String,
    /// Terms per page of a term listing; unpaginated when unset.
    pub(crate) paginate_by: Option<usize>,
    /// The path segment of the pages of a paginated term.
    #[serde(default = "default_paginate_path")]
    pub(crate) paginate_path: String,
    /// Whether each term gets a feed.
    #[serde(default)]
    pub(crate) feed: bool,
    /// Whether the taxonomy's pages are written.
    #[serde(default = "yes")]
    pub(crate) render: bool,
}

fn default_paginate_path() -> String {
    "page".to_owned()
}

fn yes() -> bool {
    true
}
