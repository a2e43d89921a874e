//! Front matter as the model holds it: the fields of a page's and a section's header, and
//! dates. Parsing them (TOML or YAML, with spans) is load's business (`load::front_matter`).

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::config::AnchorLinks;

/// A page's front matter (Zola's fields). Other keys are ignored, as Zola ignores them, with a
/// warning each (a section's keys in a page are a common slip).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct PageFrontMatter {
    pub title: Option<String>,
    pub description: Option<String>,
    #[serde(deserialize_with = "crate::value::optional")]
    pub date: Option<Value>,
    #[serde(deserialize_with = "crate::value::optional")]
    pub updated: Option<Value>,
    pub draft: bool,
    pub slug: Option<String>,
    pub path: Option<String>,
    pub aliases: Vec<String>,
    pub weight: Option<i64>,
    pub template: Option<String>,
    pub taxonomies: Terms,
    pub authors: Vec<String>,
    #[serde(deserialize_with = "crate::value::table")]
    pub extra: Map<String, Value>,
    /// Zola's search flag, accepted for compatibility.
    pub in_search_index: Option<bool>,
    /// Zola's `render`, accepted for compatibility: `false` skips the page's own output.
    pub render: Option<bool>,
    /// Generated fields (`[generate]`): field → prompt, read as `page.generated.FIELD`.
    pub generate: BTreeMap<String, crate::config::GenField>,
    /// The edge handler that answers the page's path (`fresh`, or a module of the site).
    pub edge: Option<String>,
}

/// A page's terms, by taxonomy name (sorted). A page names one or two taxonomies: a sorted
/// Vec holds them in one allocation where a `BTreeMap` took a 500-byte node, for each of the
/// 10,000 pages every incremental build decodes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Terms(Vec<(String, Vec<String>)>);

impl Terms {
    /// The terms of taxonomy `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&Vec<String>> {
        self.0
            .binary_search_by(|(n, _)| n.as_str().cmp(name))
            .ok()
            .map(|i| &self.0[i].1)
    }

    /// The taxonomy names, in order.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &String> {
        self.0.iter().map(|(name, _)| name)
    }

    /// The terms of each taxonomy, in the order of their names.
    pub(crate) fn values(&self) -> impl Iterator<Item = &Vec<String>> {
        self.0.iter().map(|(_, terms)| terms)
    }
}

impl FromIterator<(String, Vec<String>)> for Terms {
    /// Sorted by name; of two entries of one name, the last is kept (as a map's insert).
    fn from_iter<I: IntoIterator<Item = (String, Vec<String>)>>(entries: I) -> Self {
        let mut all: Vec<(String, Vec<String>)> = entries.into_iter().collect();
        all.reverse();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all.dedup_by(|later, earlier| later.0 == earlier.0);
        Self(all)
    }
}

impl Serialize for Terms {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(name, terms)| (name, terms)))
    }
}

impl<'de> Deserialize<'de> for Terms {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Terms;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a table of taxonomy names to lists of terms")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Terms, A::Error> {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0).min(16));
                while let Some(entry) = map.next_entry::<String, Vec<String>>()? {
                    entries.push(entry);
                }
                Ok(entries.into_iter().collect())
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

/// A section's front matter (Zola's fields).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SectionFrontMatter {
    pub(crate) title: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) sort_by: SortBy,
    pub(crate) weight: i64,
    pub(crate) paginate_by: Option<usize>,
    pub(crate) paginate_path: String,
    pub(crate) paginate_reversed: bool,
    pub(crate) template: Option<String>,
    pub(crate) page_template: Option<String>,
    pub(crate) render: bool,
    pub(crate) redirect_to: Option<String>,
    pub(crate) transparent: bool,
    pub(crate) aliases: Vec<String>,
    pub(crate) insert_anchor_links: Option<AnchorLinks>,
    pub(crate) in_search_index: Option<bool>,
    pub(crate) generate_feeds: bool,
    pub(crate) draft: bool,
    #[serde(deserialize_with = "crate::value::table")]
    pub(crate) extra: Map<String, Value>,
}

impl Default for SectionFrontMatter {
    fn default() -> Self {
        Self {
            title: None,
            description: None,
            sort_by: SortBy::None,
            weight: 0,
            paginate_by: None,
            paginate_path: "page".to_owned(),
            paginate_reversed: false,
            template: None,
            page_template: None,
            render: true,
            redirect_to: None,
            transparent: false,
            aliases: Vec::new(),
            insert_anchor_links: None,
            in_search_index: None,
            generate_feeds: false,
            draft: false,
            extra: Map::new(),
        }
    }
}

/// How a section orders its pages (Zola's `sort_by`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum SortBy {
    /// Newest `date` first.
    Date,
    /// Newest of `date` and `updated` first.
    UpdateDate,
    /// By title, in natural order (`a2` before `a10`, case folded).
    Title,
    /// By title, byte by byte.
    TitleBytes,
    /// Lightest first.
    Weight,
    /// By slug, in natural order.
    Slug,
    /// By permalink.
    Permalink,
    /// Not sorted: by content path.
    #[default]
    None,
}

/// A date from front matter, with the text templates see.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Date {
    /// The instant, in UTC (dates without a time are midnight), for sorting.
    pub(crate) instant: NaiveDateTime,
    /// As written, normalized: `2024-05-01` or RFC 3339.
    pub(crate) text: String,
}

impl Date {
    /// RFC 3339 in UTC, for feeds, as Zola's feeds write it (`date(format="%+")`):
    /// `2024-05-01T00:00:00+00:00` for a bare date.
    pub(crate) fn rfc3339(&self) -> String {
        self.instant.and_utc().format("%+").to_string()
    }
}
