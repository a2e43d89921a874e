//! `search-index.json`: the compact index the `search` handler ranks pages with.
//!
//! One array per page or section, fields in the order of `fields` (trailing empty ones left
//! out): its title, URL path, taxonomy terms, description and generated snippet
//! (`page.generated.snippet`). Pages come newest first, so when the index is over its size
//! budget the oldest are the ones left out, after the cheaper savings: snippets that repeat a
//! description, then long texts shortened, then descriptions and snippets dropped.

use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::diagnostics::Diagnostic;
use crate::generate::copy::CopySet;
use crate::site::{PageId, Site};

/// The fields of each entry, in order.
pub(crate) const FIELDS: [&str; 5] = ["title", "url", "tags", "description", "snippet"];

/// Characters a description or snippet is cut to when the index is over budget.
const SHORT: usize = 160;

/// One page or section of the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    /// Its title.
    pub(crate) title: String,
    /// Its URL path.
    pub(crate) url: String,
    /// Its taxonomy terms, comma-separated.
    pub(crate) tags: String,
    /// Its description (front matter, or generated).
    pub(crate) description: String,
    /// Its generated snippet.
    pub(crate) snippet: String,
}

/// The entries of `site`: sections first, then pages newest first (undated last).
pub(crate) fn entries(site: &Site, copy: &CopySet) -> Vec<Entry> {
    let mut entries = Vec::new();
    for section in &site.sections {
        let meta = &section.meta;
        if !meta.render || meta.redirect_to.is_some() || meta.in_search_index == Some(false) {
            continue;
        }
        let Some(title) = meta.title.clone().filter(|t| !t.trim().is_empty()) else {
            continue;
        };
        entries.push(Entry {
            title,
            url: section.doc.path.clone(),
            tags: String::new(),
            description: meta.description.clone().unwrap_or_default(),
            snippet: String::new(),
        });
    }
    let mut pages: Vec<PageId> = (0..site.pages.len())
        .map(PageId)
        .filter(|id| {
            let meta = &site.page(*id).meta;
            meta.render != Some(false) && meta.in_search_index != Some(false)
        })
        .collect();
    pages.sort_by(|a, b| {
        let (a, b) = (site.page(*a), site.page(*b));
        b.date
            .is_some()
            .cmp(&a.date.is_some())
            .then_with(|| b.date.cmp(&a.date))
            .then_with(|| a.doc.path.cmp(&b.doc.path))
    });
    for id in pages {
        let page = site.page(id);
        let generated = copy.get(id);
        let field = |name: &str| {
            generated
                .as_ref()
                .and_then(|g| g.get(name))
                .and_then(Value::as_str)
                .map(str::trim)
                .unwrap_or_default()
                .to_owned()
        };
        let description = page
            .meta
            .description
            .clone()
            .filter(|d| !d.trim().is_empty())
            .unwrap_or_else(|| field("description"));
        let terms: Vec<&str> = page
            .meta
            .taxonomies
            .values()
            .flatten()
            .map(String::as_str)
            .collect();
        entries.push(Entry {
            title: page
                .meta
                .title
                .clone()
                .filter(|t| !t.trim().is_empty())
                .unwrap_or_else(|| page.slug.clone()),
            url: page.doc.path.clone(),
            tags: terms.join(", "),
            description,
            snippet: field("snippet"),
        });
    }
    entries
}

/// The index as JSON bytes.
pub(crate) fn to_json(entries: &[Entry]) -> Vec<u8> {
    let docs: Vec<Value> = entries
        .iter()
        .map(|e| {
            let mut fields = vec![
                e.title.as_str(),
                e.url.as_str(),
                e.tags.as_str(),
                e.description.as_str(),
                e.snippet.as_str(),
            ];
            while fields.len() > 2 && fields.last().is_some_and(|f| f.is_empty()) {
                fields.pop();
            }
            json!(fields)
        })
        .collect();
    // Written by hand to keep this order: what the file is comes first.
    let fields = serde_json::to_string(&FIELDS).unwrap_or_default();
    let docs = serde_json::to_string(&docs).unwrap_or_default();
    format!("{{\"version\":1,\"fields\":{fields},\"docs\":{docs}}}").into_bytes()
}

/// `text` cut to at most `max` characters, on a word boundary where there is one.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let cut: String = text.chars().take(max).collect();
    let cut = cut
        .rsplit_once(' ')
        .map_or(cut.as_str(), |(head, _)| head)
        .trim_end_matches([',', ';', ':', '.']);
    format!("{cut}…")
}

/// Fits `entries` in `budget` bytes; returns the JSON and what was given up, if anything.
pub(crate) fn fit(mut entries: Vec<Entry>, budget: usize) -> (Vec<u8>, Vec<String>) {
    let mut given_up = Vec::new();
    let mut bytes = to_json(&entries);
    if bytes.len() > budget {
        for e in &mut entries {
            if !e.description.is_empty() {
                e.snippet.clear();
            }
        }
        given_up.push("snippets of pages that have a description".to_owned());
        bytes = to_json(&entries);
    }
    if bytes.len() > budget {
        for e in &mut entries {
            e.description = shorten(&e.description, SHORT);
            e.snippet = shorten(&e.snippet, SHORT);
        }
        given_up.push(format!("descriptions and snippets past {SHORT} characters"));
        bytes = to_json(&entries);
    }
    if bytes.len() > budget {
        for e in &mut entries {
            e.description.clear();
            e.snippet.clear();
        }
        given_up.push("all descriptions and snippets".to_owned());
        bytes = to_json(&entries);
    }
    let total = entries.len();
    while bytes.len() > budget && !entries.is_empty() {
        // Entries are about the same size now: estimate, then trim until it fits.
        let keep = entries.len().saturating_mul(budget) / bytes.len() * 49 / 50;
        entries.truncate(keep.min(entries.len() - 1));
        bytes = to_json(&entries);
    }
    if entries.len() < total {
        given_up.push(format!(
            "{} of {total} pages (the oldest)",
            total - entries.len()
        ));
    }
    (bytes, given_up)
}

/// Builds `search-index.json` for `site` within `budget` bytes, warning about what did not fit.
pub(crate) fn build(
    site: &Site,
    copy: &CopySet,
    budget: usize,
    warnings: &mut Vec<Diagnostic>,
) -> Vec<u8> {
    let (bytes, given_up) = fit(entries(site, copy), budget);
    if !given_up.is_empty() {
        let mut what = String::new();
        for (i, g) in given_up.iter().enumerate() {
            let _ = write!(what, "{}{g}", if i == 0 { "" } else { "; " });
        }
        warnings.push(
            Diagnostic::warning(format!(
                "search-index.json was over its budget of {budget} bytes (edge.limits.search_index_bytes); left out: {what}"
            ))
            .with_help("raise edge.limits.search_index_bytes, or set `in_search_index = false` on pages that need not be found"),
        );
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(i: usize) -> Entry {
        Entry {
            title: format!("Page {i}"),
            url: format!("/p/{i}/"),
            tags: "bread, rye".to_owned(),
            description: "A description of the page that goes on for a while. ".repeat(5),
            snippet: "A generated snippet.".to_owned(),
        }
    }

    #[test]
    fn compact_arrays_without_trailing_empty_fields() {
        let mut e = entry(1);
        e.description.clear();
        e.snippet.clear();
        let v: Value = serde_json::from_slice(&to_json(&[e])).unwrap();
        assert_eq!(v["fields"][0], "title");
        assert_eq!(v["docs"][0], json!(["Page 1", "/p/1/", "bread, rye"]));
    }

    #[test]
    fn over_budget_gives_up_cheap_things_first() {
        let all: Vec<Entry> = (0..100).map(entry).collect();
        let full = to_json(&all).len();
        let (bytes, given_up) = fit(all.clone(), full);
        assert_eq!(bytes.len(), full);
        assert!(given_up.is_empty());

        let (bytes, given_up) = fit(all.clone(), full - 100);
        assert!(bytes.len() <= full - 100);
        assert_eq!(given_up.len(), 1, "{given_up:?}");
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["docs"].as_array().unwrap().len(), 100, "no page dropped");

        let (bytes, given_up) = fit(all, 2000);
        assert!(bytes.len() <= 2000, "{}", bytes.len());
        assert!(
            given_up.last().unwrap().contains("of 100 pages"),
            "{given_up:?}"
        );
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            v["docs"][0][0], "Page 0",
            "the first (newest) pages are kept"
        );
    }

    #[test]
    fn shorten_cuts_on_words() {
        assert_eq!(shorten("one two three", 9), "one two…");
        assert_eq!(shorten("short", 9), "short");
    }
}
