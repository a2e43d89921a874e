//! The site model: pages, sections, taxonomies, static files and template sources.
//!
//! The ground floor: built once by [`crate::load`], then shared read-only (`Arc<Site>`) by
//! every later stage, and importing none of them. It holds no locks and nothing that changes
//! during a build (generated copy arrives in a value of its own, see `generate::CopySet`), and
//! metadata only: page bodies are read again, one page at a time, when rendered, so memory
//! does not grow with the size of the content.

pub mod front_matter;
pub mod ids;
pub mod layout;
pub mod paths;

use std::path::PathBuf;

use crate::config::{Config, TaxonomyConfig};
use crate::markdown;
pub use front_matter::{Date, PageFrontMatter, SectionFrontMatter};
pub use ids::{ContentRef, PageId, SectionId, TaxonomyId, TermId};

/// A file copied beside the page or section it belongs to (a bundle's image, say).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asset {
    /// The file.
    pub source: PathBuf,
    /// Its hash.
    pub hash: crate::hash::ContentHash,
    /// Its name relative to the owner's folder (`img/a.png`).
    pub name: String,
}

/// What every markdown document (page or section) has.
#[derive(Debug, Clone)]
pub struct Document {
    /// Path relative to content/, with `/` (`blog/a.md`).
    pub relative_path: String,
    /// Whether it has a file (the root section may be implicit).
    pub has_file: bool,
    /// The site path (`/blog/a/`).
    pub path: String,
    /// The absolute URL.
    pub permalink: String,
    /// Where the body starts in the file.
    pub body_offset: usize,
    /// Length of the body, to notice a file that changed during the build.
    pub body_len: usize,
    /// Hash of the whole file.
    pub hash: crate::hash::ContentHash,
    /// Hash of the front matter's text.
    pub front_matter_hash: crate::hash::ContentHash,
    /// Content paths its markdown links to (`@/a.md`).
    pub links: Vec<String>,
    /// Words in the body.
    pub word_count: usize,
    /// The summary (HTML before `<!-- more -->`).
    pub summary: Option<String>,
    /// Files copied beside the output.
    pub assets: Vec<Asset>,
    /// The template that renders it.
    pub template: String,
    /// Where its front matter names the template (a byte offset in its file), if it does.
    pub template_span: Option<u32>,
    /// How its markdown is rendered.
    pub markdown: markdown::RenderOptions,
    /// Sections above it, the root first.
    pub ancestors: Vec<SectionId>,
}

/// A page: a markdown file that is not `_index.md`.
#[derive(Debug, Clone)]
pub struct Page {
    /// File, path and rendering facts.
    pub doc: Document,
    /// The front matter.
    pub meta: std::sync::Arc<PageFrontMatter>,
    /// The last URL segment.
    pub slug: String,
    /// `date` (or the file name's date prefix).
    pub date: Option<Date>,
    /// `updated`.
    pub updated: Option<Date>,
    /// The section that lists it, if any.
    pub section: Option<SectionId>,
    /// The page before it in its section's order (Zola's `lower`).
    pub lower: Option<PageId>,
    /// The page after it in its section's order (Zola's `higher`).
    pub higher: Option<PageId>,
    /// The record of a collection's page (`page.data`).
    pub data: Option<std::sync::Arc<serde_json::Map<String, serde_json::Value>>>,
}

/// A section: a folder with `_index.md`.
#[derive(Debug, Clone)]
pub struct Section {
    /// File, path and rendering facts.
    pub doc: Document,
    /// The front matter.
    pub meta: std::sync::Arc<SectionFrontMatter>,
    /// The parent section.
    pub parent: Option<SectionId>,
    /// The pages it lists, in order (including those of transparent subsections).
    pub pages: Vec<PageId>,
    /// Its subsections, by weight then path.
    pub subsections: Vec<SectionId>,
}

/// One value of a taxonomy (`rust` in `tags`).
#[derive(Debug, Clone)]
pub struct Term {
    /// As written in front matter.
    pub name: String,
    /// URL segment.
    pub slug: String,
    /// Site path (`/tags/rust/`).
    pub path: String,
    /// Absolute URL.
    pub permalink: String,
    /// Its pages, newest first.
    pub pages: Vec<PageId>,
}

/// A taxonomy and its terms.
#[derive(Debug, Clone)]
pub struct Taxonomy {
    /// Its config entry.
    pub config: TaxonomyConfig,
    /// Site path (`/tags/`).
    pub path: String,
    /// Absolute URL.
    pub permalink: String,
    /// Terms, by name.
    pub terms: Vec<Term>,
}

/// Where a static file's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StaticSource {
    /// A file on disk.
    File(PathBuf),
    /// A file of the built-in theme.
    Builtin(&'static [u8]),
}

/// A file from static/ (the site's, or the theme's), copied as is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticFile {
    /// The bytes' origin.
    pub source: StaticSource,
    /// Their hash.
    pub hash: crate::hash::ContentHash,
    /// Its path in the output (`css/site.css`).
    pub name: String,
}

/// A template: its source text, parsed, and what it uses.
#[derive(Debug, Clone)]
pub struct TemplateSource {
    /// Its name (`page.html`, `partials/nav.html`).
    pub name: String,
    /// Where it came from, for messages (`templates/page.html`, `themes/x/templates/page.html`).
    pub origin: PathBuf,
    /// The text.
    pub text: String,
    /// Its syntax tree.
    pub parsed: tera::Template,
    /// What rendering it depends on.
    pub uses: TemplateUse,
}

/// What rendering a template depends on, found in the syntax trees.
#[derive(Debug, Clone, Default)]
pub struct TemplateUse {
    /// The templates it uses: itself, its parents, includes and macro files, recursively; sorted.
    pub closure: Vec<String>,
    /// Hash of the closure's sources.
    pub closure_hash: crate::hash::ContentHash,
    /// Config paths it reads (`title`, `extra.menu`), sorted; `None` when it reads `config` whole.
    pub config_paths: Option<Vec<String>>,
    /// Whether it calls functions whose result changes between runs (`now`, `get_random`, `get_env`).
    pub volatile: bool,
}

/// The whole site, immutable after loading.
#[derive(Debug)]
pub struct Site {
    /// The site's folder.
    pub root: PathBuf,
    /// The config.
    pub config: Config,
    /// Pages, sorted by content path.
    pub pages: Vec<Page>,
    /// Sections, sorted by content path; the root section is first.
    pub sections: Vec<Section>,
    /// Taxonomies, in config order.
    pub taxonomies: Vec<Taxonomy>,
    /// Static files of the site and its theme.
    pub static_files: Vec<StaticFile>,
    /// Templates by name (built-in, theme and site ones merged: later ones win), sorted.
    pub templates: Vec<TemplateSource>,
    /// Content paths to pages and sections.
    pub by_content_path: rustc_hash::FxHashMap<String, ContentRef>,
    /// Content paths that `@/…#anchor` links point to.
    pub anchor_targets: std::collections::HashSet<String>,
    /// The prompt files of prompts/ (root-relative paths), which generate compiles.
    pub prompt_files: Vec<String>,
}

impl Site {
    /// The file of `doc`, when it has one.
    pub fn file_of(&self, doc: &Document) -> Option<PathBuf> {
        doc.has_file
            .then(|| self.root.join("content").join(&doc.relative_path))
    }

    /// The template named `name`.
    pub fn template(&self, name: &str) -> Option<&TemplateSource> {
        self.templates
            .binary_search_by(|t| t.name.as_str().cmp(name))
            .ok()
            .map(|i| &self.templates[i])
    }

    /// The taxonomy with `id`.
    pub fn taxonomy(&self, id: TaxonomyId) -> &Taxonomy {
        &self.taxonomies[id.0]
    }

    /// The term with `id`.
    pub fn term(&self, id: TermId) -> &Term {
        &self.taxonomies[id.taxonomy.0].terms[id.index]
    }

    /// The root section (`content/_index.md`, real or implicit).
    pub fn root_section(&self) -> &Section {
        &self.sections[0]
    }

    /// The page with `id`.
    pub fn page(&self, id: PageId) -> &Page {
        &self.pages[id.0]
    }

    /// The section with `id`.
    pub fn section(&self, id: SectionId) -> &Section {
        &self.sections[id.0]
    }

    /// The permalink of a content path (`blog/a.md`), for `@/` links.
    pub fn permalink_of(&self, content_path: &str) -> Option<String> {
        let content_path = content_path.trim_start_matches('/');
        self.by_content_path.get(content_path).map(|r| match *r {
            ContentRef::Page(id) => self.page(id).doc.permalink.clone(),
            ContentRef::Section(id) => self.section(id).doc.permalink.clone(),
        })
    }

    /// Pages with a date, newest first (ties by path), for feeds.
    pub fn pages_by_date(&self) -> Vec<PageId> {
        let mut dated: Vec<PageId> = (0..self.pages.len())
            .map(PageId)
            .filter(|id| self.page(*id).date.is_some())
            .collect();
        dated.sort_by(|a, b| {
            let (a, b) = (self.page(*a), self.page(*b));
            b.date
                .cmp(&a.date)
                .then_with(|| a.doc.relative_path.cmp(&b.doc.relative_path))
        });
        dated
    }
}
