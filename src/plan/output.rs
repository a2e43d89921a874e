//! What a build produces: every output, the file it is written to, and what renders it.

use std::borrow::Cow;
use std::collections::BTreeSet;

use crate::config::PagersInSitemap;
use crate::hash::ContentHash;
use crate::site::{PageId, SectionId, Site, StaticSource, TaxonomyId, TermId};
use std::collections::HashMap;

/// Sitemap entries per file; larger sitemaps are split behind a sitemap index (as Zola does).
pub const SITEMAP_LIMIT: usize = 30_000;

/// One output produced by rendering a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// A page.
    Page(PageId),
    /// Page `pager` (1-based) of a section's listing.
    Section {
        /// The section.
        id: SectionId,
        /// Which page of the listing, from 1.
        pager: usize,
        /// How many pages the listing has.
        pagers: usize,
    },
    /// The list of a taxonomy's terms.
    Taxonomy(TaxonomyId),
    /// Page `pager` of one term's listing.
    Term {
        /// The term.
        term: TermId,
        /// Which page of the listing, from 1.
        pager: usize,
        /// How many pages the listing has.
        pagers: usize,
    },
    /// A redirect page to `to` (an absolute URL).
    Redirect {
        /// The target URL.
        to: String,
    },
    /// 404.html.
    NotFound,
    /// robots.txt.
    Robots,
    /// sitemap.xml, or part `n` of a split sitemap (`n` from 1), or the index of the parts.
    Sitemap(SitemapPart),
    /// A feed of `pages` in `template` (`atom.xml`, `rss.xml`).
    Feed {
        /// The feed template.
        template: String,
        /// Whose feed it is.
        of: FeedOf,
        /// Its entries, newest first.
        pages: Vec<PageId>,
        /// The language of its `config` and `lang`.
        lang: String,
    },
}

/// Whose feed: the site's, a section's or a term's, given to its template as Zola gives it
/// (`section`, or `term` and `taxonomy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedOf {
    /// The site's feed (of its language's pages on a multilingual site).
    Site,
    /// A section's feed.
    Section(SectionId),
    /// A taxonomy term's feed.
    Term(TermId),
}

/// Which file of the sitemap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SitemapPart {
    /// The whole sitemap in one file.
    Whole,
    /// The index of the parts.
    Index(usize),
    /// Part `n` (from 1).
    Part(usize),
}

/// An output and the file it is written to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    /// What to render.
    pub output: Output,
    /// The file, relative to the output folder (`blog/a/index.html`).
    pub(crate) file: String,
    /// The site path it is served at (`/blog/a/`).
    pub path: String,
}

/// A file copied into the output as is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copy {
    /// Where the bytes come from.
    pub(crate) source: StaticSource,
    /// Their hash.
    pub(crate) hash: ContentHash,
    /// The file, relative to the output folder.
    pub(crate) file: String,
    /// Bytes to write instead of the source's (a stylesheet with fingerprinted references).
    pub(crate) bytes: Option<std::sync::Arc<[u8]>>,
}

/// Every output of the site: what a build produces.
#[derive(Debug, Default)]
pub struct Outputs {
    /// Outputs rendered first, in parallel.
    pub renders: Vec<Planned>,
    /// Outputs rendered once every page is done (feeds need their pages' content).
    pub(crate) deferred: Vec<Planned>,
    /// Files copied as is.
    pub(crate) copies: Vec<Copy>,
    /// Static files under `processed_images/` (a Zola site may commit its processed images):
    /// copied by the image step, unless a processed image of the same name is made.
    pub(crate) committed_images: Vec<Copy>,
    /// Pages whose rendered content feeds need.
    pub(crate) feed_pages: BTreeSet<PageId>,
    /// Static files with fingerprinted names (`fingerprint_assets`), by their site path.
    pub(crate) assets: Assets,
}

impl Outputs {
    /// The number of outputs.
    pub(crate) fn len(&self) -> usize {
        self.renders.len() + self.deferred.len() + self.copies.len()
    }

    /// The file of output `index` (renders, then deferred, then copies).
    pub(crate) fn file(&self, index: usize) -> &str {
        self.planned(index)
            .map_or_else(|| self.copy(index).file.as_str(), |p| p.file.as_str())
    }

    /// Output `index` when it is rendered (a render or a deferred one).
    pub(crate) fn planned(&self, index: usize) -> Option<&Planned> {
        self.renders
            .get(index)
            .or_else(|| self.deferred.get(index.checked_sub(self.renders.len())?))
    }

    /// Output `index`, a copy.
    fn copy(&self, index: usize) -> &Copy {
        &self.copies[index - self.renders.len() - self.deferred.len()]
    }
}

/// The template an output is rendered with.
pub fn template_of<'a>(site: &'a Site, output: &'a Output) -> Option<&'a str> {
    match output {
        Output::Page(id) => Some(&site.page(*id).doc.template),
        Output::Section { id, .. } => Some(&site.section(*id).doc.template),
        Output::Taxonomy(t) => Some(site.taxonomy_template(*t, "list")),
        Output::Term { term, .. } => Some(site.taxonomy_template(term.taxonomy, "single")),
        Output::Redirect { .. } => Some("internal/alias.html"),
        Output::NotFound => Some("404.html"),
        Output::Robots => Some("robots.txt"),
        Output::Sitemap(SitemapPart::Index(_)) => Some("split_sitemap_index.xml"),
        Output::Sitemap(_) => Some("sitemap.xml"),
        Output::Feed { template, .. } => Some(template),
    }
}

/// How many URLs the sitemap lists (see [`sitemap_entries`]).
pub fn sitemap_len(site: &Site) -> usize {
    sitemap_entries(site).len()
}

/// One URL of the sitemap: what Zola's sitemap templates see as `entries`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SitemapEntry<'a> {
    /// The URL.
    pub(crate) permalink: Cow<'a, str>,
    /// A page's `updated` or `date`, as written.
    pub(crate) updated: Option<&'a str>,
    /// The page's or section's `extra`.
    pub(crate) extra: Option<&'a serde_json::Map<String, serde_json::Value>>,
}

impl<'a> SitemapEntry<'a> {
    fn plain(permalink: &'a str) -> Self {
        Self {
            permalink: Cow::Borrowed(permalink),
            updated: None,
            extra: None,
        }
    }
}

/// The sitemap's URLs, sorted and unique, as Zola lists them: rendered pages (with their date)
/// and sections (a section that redirects too), each pager of a paginated section or term
/// (`page/1/` included) unless `exclude_paginated_pages_in_sitemap = "all"`, and the rendered
/// taxonomies with their terms.
pub fn sitemap_entries(site: &Site) -> Vec<SitemapEntry<'_>> {
    let config = &site.config;
    let pagers_too = config.exclude_paginated_pages_in_sitemap == PagersInSitemap::None;
    let mut entries = Vec::with_capacity(site.pages.len() + site.sections.len());
    let pagers = |base: &str, paginate_path: &str, pages: usize, by: Option<usize>| {
        let by = by.filter(|n| *n > 0);
        if let (true, Some(by)) = (pagers_too, by) {
            (1..=pages.div_ceil(by))
                .map(|n| config.permalink(&format!("{base}{paginate_path}/{n}/")))
                .collect()
        } else {
            Vec::new()
        }
    };
    let mut owned = Vec::new();
    for page in site.pages.iter().filter(|p| p.meta.render != Some(false)) {
        let updated = page.updated.as_ref().or(page.date.as_ref());
        entries.push(SitemapEntry {
            permalink: Cow::Borrowed(&page.doc.permalink),
            updated: updated.map(|d| d.text.as_str()),
            extra: Some(&page.meta.extra),
        });
    }
    for section in &site.sections {
        let meta = &section.meta;
        if meta.render {
            entries.push(SitemapEntry {
                permalink: Cow::Borrowed(&section.doc.permalink),
                updated: None,
                extra: Some(&meta.extra),
            });
        }
        owned.extend(pagers(
            &section.doc.path,
            &meta.paginate_path,
            section.pages.len(),
            meta.paginate_by,
        ));
    }
    for taxonomy in site.taxonomies.iter().filter(|t| t.config.render) {
        entries.push(SitemapEntry::plain(&taxonomy.permalink));
        for term in &taxonomy.terms {
            entries.push(SitemapEntry::plain(&term.permalink));
            owned.extend(pagers(
                &term.path,
                &taxonomy.config.paginate_path,
                term.pages.len(),
                taxonomy.config.paginate_by,
            ));
        }
    }
    entries.extend(owned.into_iter().map(|permalink| SitemapEntry {
        permalink: Cow::Owned(permalink),
        ..SitemapEntry::plain("")
    }));
    // Zola keeps the first entry of a URL (pages before sections before pagers).
    entries.sort_by(|a, b| a.permalink.cmp(&b.permalink));
    entries.dedup_by(|later, first| later.permalink == first.permalink);
    entries
}

/// A fingerprinted asset.
#[derive(Debug, Clone)]
pub struct Fingerprinted {
    /// Its new site path (`/css/site.3f2a9c0d1e7b4a55.css`).
    pub(crate) path: String,
    /// The static files (by name) its name depends on: itself, and for a stylesheet the assets
    /// it loads.
    pub(crate) deps: Vec<String>,
}

/// Site path of a static file (`/css/site.css`) → its asset.
pub type Assets = HashMap<String, Fingerprinted>;
