//! What a build produces: every output, the file it is written to, and what renders it.

use std::collections::BTreeSet;

use crate::hash::ContentHash;
use crate::site::paths::pager_path;
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
        /// Its entries, newest first.
        pages: Vec<PageId>,
    },
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

/// The template an output is rendered with (none for the sitemap index).
pub fn template_of<'a>(site: &'a Site, output: &'a Output) -> Option<&'a str> {
    match output {
        Output::Page(id) => Some(&site.page(*id).doc.template),
        Output::Section { id, .. } => Some(&site.section(*id).doc.template),
        Output::Taxonomy(_) => Some("taxonomy_list.html"),
        Output::Term { .. } => Some("taxonomy_single.html"),
        Output::Redirect { .. } => Some("alias.html"),
        Output::NotFound => Some("404.html"),
        Output::Robots => Some("robots.txt"),
        Output::Sitemap(SitemapPart::Index(_)) => None,
        Output::Sitemap(_) => Some("sitemap.xml"),
        Output::Feed { template, .. } => Some(template),
    }
}

/// How many URLs the sitemap lists: rendered pages, sections (with their pagers), taxonomies and terms.
pub fn sitemap_len(site: &Site) -> usize {
    let pages = site
        .pages
        .iter()
        .filter(|p| p.meta.render != Some(false))
        .count();
    let sections: usize = site
        .sections
        .iter()
        .filter(|s| s.meta.render && s.meta.redirect_to.is_none())
        .map(|s| {
            s.meta
                .paginate_by
                .filter(|n| *n > 0)
                .map_or(1, |n| s.pages.len().div_ceil(n).max(1))
        })
        .sum();
    let taxonomies: usize = site
        .taxonomies
        .iter()
        .filter(|t| t.config.render)
        .map(|t| 1 + t.terms.len())
        .sum();
    pages + sections + taxonomies
}

/// The sitemap's URLs and their last-modified dates, sorted by URL.
pub fn sitemap_entries(site: &Site) -> Vec<(String, Option<String>)> {
    let mut entries: Vec<(String, Option<String>)> =
        Vec::with_capacity(site.pages.len() + site.sections.len());
    for page in &site.pages {
        if page.meta.render != Some(false) {
            let updated = page
                .updated
                .as_ref()
                .or(page.date.as_ref())
                .map(|d| d.text.clone());
            entries.push((page.doc.permalink.clone(), updated));
        }
    }
    for section in &site.sections {
        if section.meta.render && section.meta.redirect_to.is_none() {
            let pagers = section
                .meta
                .paginate_by
                .filter(|n| *n > 0)
                .map_or(1, |n| section.pages.len().div_ceil(n).max(1));
            for pager in 1..=pagers {
                let path = pager_path(&section.doc.path, &section.meta.paginate_path, pager);
                entries.push((site.config.permalink(&path), None));
            }
        }
    }
    for taxonomy in site.taxonomies.iter().filter(|t| t.config.render) {
        entries.push((taxonomy.permalink.clone(), None));
        entries.extend(
            taxonomy
                .terms
                .iter()
                .map(|term| (term.permalink.clone(), None)),
        );
    }
    entries.sort();
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
