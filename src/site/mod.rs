//! The site model: pages, sections, taxonomies, static files and template sources.
//!
//! The ground floor: built once by [`crate::load`], then shared read-only (`Arc<Site>`) by
//! every later stage, and importing none of them. It holds no locks and nothing that changes
//! during a build (generated copy arrives in a value of its own, see `generate::CopySet`), and
//! metadata only: page bodies are read again, one page at a time, when rendered, so memory
//! does not grow with the size of the content.

pub(crate) mod anchor;
pub mod front_matter;
pub(crate) mod ids;
pub(crate) mod layout;
pub(crate) mod paths;

use std::path::PathBuf;

use crate::config::{Config, TaxonomyConfig};
use crate::markdown;
pub(crate) use front_matter::{Date, PageFrontMatter, SectionFrontMatter};
pub(crate) use ids::{ContentRef, PageId, SectionId, TaxonomyId, TermId};

/// A file copied beside the page or section it belongs to (a bundle's image, say).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Asset {
    /// The file.
    pub(crate) source: PathBuf,
    /// Its hash.
    pub(crate) hash: crate::hash::ContentHash,
    /// Its name relative to the owner's folder (`img/a.png`).
    pub(crate) name: String,
}

/// What every markdown document (page or section) has.
#[derive(Debug, Clone)]
pub(crate) struct Document {
    /// Path relative to content/, with `/` (`blog/a.md`).
    pub(crate) relative_path: String,
    /// Whether it has a file (the root section may be implicit).
    pub(crate) has_file: bool,
    /// The site path (`/blog/a/`).
    pub(crate) path: String,
    /// The absolute URL.
    pub(crate) permalink: String,
    /// Where the body starts in the file.
    pub(crate) body_offset: usize,
    /// Length of the body, to notice a file that changed during the build.
    pub(crate) body_len: usize,
    /// Hash of the whole file.
    pub(crate) hash: crate::hash::ContentHash,
    /// Hash of the front matter's text.
    pub(crate) front_matter_hash: crate::hash::ContentHash,
    /// Content paths its markdown links to (`@/a.md`).
    pub(crate) links: Vec<String>,
    /// Words in the body.
    pub(crate) word_count: usize,
    /// The summary (HTML before `<!-- more -->`).
    pub(crate) summary: Option<String>,
    /// The summary's markdown, kept (and `summary` left empty) when it may call shortcodes:
    /// render makes its HTML, with the templates.
    pub(crate) summary_markdown: Option<String>,
    /// Whether `<!-- more -->` cut a block open: render adds `summary-cutoff.html` before the
    /// tags that close it, as Zola does.
    pub(crate) summary_open: bool,
    /// Files copied beside the output.
    pub(crate) assets: Vec<Asset>,
    /// The template that renders it.
    pub(crate) template: String,
    /// Where its front matter names the template (a byte offset in its file), if it does.
    pub(crate) template_span: Option<u32>,
    /// How its markdown is rendered.
    pub(crate) markdown: markdown::RenderOptions,
    /// Sections above it, the root first.
    pub(crate) ancestors: Vec<SectionId>,
    /// Its language: the code in its file name (`a.fr.md`), else the default language.
    pub(crate) lang: String,
    /// Its content path without the language (`blog/a.fr.md` → `blog/a.md`): the documents
    /// sharing it (and their kind) are translations of each other.
    pub(crate) canonical: String,
}

/// A page: a markdown file that is not `_index.md`.
#[derive(Debug, Clone)]
pub(crate) struct Page {
    /// File, path and rendering facts.
    pub(crate) doc: Document,
    /// The front matter.
    pub(crate) meta: std::sync::Arc<PageFrontMatter>,
    /// The last URL segment.
    pub(crate) slug: String,
    /// `date` (or the file name's date prefix).
    pub(crate) date: Option<Date>,
    /// `updated`.
    pub(crate) updated: Option<Date>,
    /// The section that lists it, if any.
    pub(crate) section: Option<SectionId>,
    /// The page before it in its section's order (Zola's `lower`).
    pub(crate) lower: Option<PageId>,
    /// The page after it in its section's order (Zola's `higher`).
    pub(crate) higher: Option<PageId>,
    /// The record of a collection's page (`page.data`).
    pub(crate) data: Option<std::sync::Arc<serde_json::Map<String, serde_json::Value>>>,
}

/// A section: a folder with `_index.md`.
#[derive(Debug, Clone)]
pub struct Section {
    /// File, path and rendering facts.
    pub(crate) doc: Document,
    /// The front matter.
    pub(crate) meta: std::sync::Arc<SectionFrontMatter>,
    /// The parent section.
    pub(crate) parent: Option<SectionId>,
    /// The pages it lists, in order (including those of transparent subsections).
    pub pages: Vec<PageId>,
    /// Its subsections, by weight then path.
    pub(crate) subsections: Vec<SectionId>,
}

/// One value of a taxonomy (`rust` in `tags`).
#[derive(Debug, Clone)]
pub(crate) struct Term {
    /// As written in front matter.
    pub(crate) name: String,
    /// URL segment.
    pub(crate) slug: String,
    /// Site path (`/tags/rust/`).
    pub(crate) path: String,
    /// Absolute URL.
    pub(crate) permalink: String,
    /// Its pages, newest first.
    pub(crate) pages: Vec<PageId>,
}

/// A taxonomy and its terms.
#[derive(Debug, Clone)]
pub(crate) struct Taxonomy {
    /// Its config entry.
    pub(crate) config: TaxonomyConfig,
    /// Site path (`/tags/`).
    pub(crate) path: String,
    /// Absolute URL.
    pub(crate) permalink: String,
    /// Terms, by name.
    pub(crate) terms: Vec<Term>,
    /// The language whose pages it classifies.
    pub(crate) lang: String,
}

/// Where a static file's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StaticSource {
    /// A file on disk.
    File(PathBuf),
    /// A file of the built-in theme.
    Builtin(&'static [u8]),
    /// A file the build makes: from the config (the highlighting stylesheets), or from the
    /// site's Sass (the compiled stylesheets).
    Made(std::sync::Arc<[u8]>),
}

/// A file from static/ (the site's, or the theme's), copied as is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StaticFile {
    /// The bytes' origin.
    pub(crate) source: StaticSource,
    /// Their hash.
    pub(crate) hash: crate::hash::ContentHash,
    /// Its path in the output (`css/site.css`).
    pub(crate) name: String,
}

/// A template: its source text, parsed, and what it uses.
#[derive(Debug, Clone)]
pub(crate) struct TemplateSource {
    /// Its name (`page.html`, `partials/nav.html`).
    pub(crate) name: String,
    /// Where it came from, for messages (`templates/page.html`, `themes/x/templates/page.html`).
    pub(crate) origin: PathBuf,
    /// The text.
    pub(crate) text: String,
    /// Its syntax tree.
    pub(crate) parsed: tera::Template,
    /// What rendering it depends on.
    pub(crate) uses: TemplateUse,
}

/// What rendering a template depends on, found in the syntax trees.
#[derive(Debug, Clone, Default)]
pub(crate) struct TemplateUse {
    /// The templates it uses: itself, its parents, includes and macro files, recursively; sorted.
    pub(crate) closure: Vec<String>,
    /// Hash of the closure's sources.
    pub(crate) closure_hash: crate::hash::ContentHash,
    /// Config paths it reads (`title`, `extra.menu`), sorted; `None` when it reads `config` whole.
    pub(crate) config_paths: Option<Vec<String>>,
    /// Whether it calls functions whose result changes between runs (`now`, `get_random`, `get_env`).
    pub(crate) volatile: bool,
    /// Whether it may show the `content` or `toc` of pages and sections other than the one it
    /// renders (`{% for p in section.pages %}{{ p.content }}`, `get_section(…).content`).
    pub(crate) listed_content: bool,
}

/// The whole site, immutable after loading.
#[derive(Debug)]
pub struct Site {
    /// The site's folder.
    pub(crate) root: PathBuf,
    /// The config.
    pub(crate) config: Config,
    /// Pages, sorted by content path.
    pub(crate) pages: Vec<Page>,
    /// Sections, sorted by content path; the root section is first.
    pub sections: Vec<Section>,
    /// Taxonomies, in config order.
    pub(crate) taxonomies: Vec<Taxonomy>,
    /// Static files of the site and its theme, and the files the build makes, sorted by name.
    pub(crate) static_files: Vec<StaticFile>,
    /// Templates by name (built-in, theme and site ones merged: later ones win), sorted.
    pub(crate) templates: Vec<TemplateSource>,
    /// Content paths to pages and sections.
    pub(crate) by_content_path: rustc_hash::FxHashMap<String, ContentRef>,
    /// Content paths that `@/…#anchor` links point to.
    pub(crate) anchor_targets: std::collections::HashSet<String>,
    /// The prompt files of prompts/ (root-relative paths), which generate compiles.
    pub(crate) prompt_files: Vec<String>,
    /// By content path, the pages and sections whose markdown links to it (`@/…`): Zola's
    /// `backlinks`.
    pub(crate) backlinks: rustc_hash::FxHashMap<String, Vec<ContentRef>>,
    /// For a multilingual site, by canonical content path (see [`Document::canonical`]), the
    /// pages or sections that translate each other, the default language first, then by code.
    pub(crate) translations: rustc_hash::FxHashMap<String, Vec<ContentRef>>,
}

impl Site {
    /// The file of `doc`, when it has one.
    pub(crate) fn file_of(&self, doc: &Document) -> Option<PathBuf> {
        doc.has_file
            .then(|| self.root.join("content").join(&doc.relative_path))
    }

    /// The template named `name`.
    pub(crate) fn template(&self, name: &str) -> Option<&TemplateSource> {
        self.templates
            .binary_search_by(|t| t.name.as_str().cmp(name))
            .ok()
            .map(|i| &self.templates[i])
    }

    /// The template of a taxonomy's `kind` of page (`"list"` or `"single"`), as Zola looks it
    /// up: `NAME/list.html` of the site or its theme, else `taxonomy_list.html`.
    pub(crate) fn taxonomy_template(&self, id: TaxonomyId, kind: &'static str) -> &str {
        let specific = format!("{}/{kind}.html", self.taxonomy(id).config.name);
        match self.template(&specific) {
            Some(t) => &t.name,
            None if kind == "list" => "taxonomy_list.html",
            None => "taxonomy_single.html",
        }
    }

    /// Whether the template `name` may show the content of pages or sections other than the
    /// one it renders.
    pub(crate) fn template_lists_content(&self, name: &str) -> bool {
        self.template(name).is_some_and(|t| t.uses.listed_content)
    }

    /// Whether a page, section, taxonomy or feed template shows the content of pages or
    /// sections it lists (a feed's own entries excepted: they get their content their own
    /// way): then listings carry it, as in Zola.
    pub(crate) fn lists_content(&self) -> bool {
        let docs = self.pages.iter().map(|p| &p.doc);
        let docs = docs.chain(self.sections.iter().map(|s| &s.doc));
        let taxonomies = (0..self.taxonomies.len()).flat_map(|t| {
            ["list", "single"].map(|kind| self.taxonomy_template(TaxonomyId(t), kind))
        });
        docs.map(|d| d.template.as_str())
            .chain(taxonomies)
            .chain(["404.html"])
            .chain(self.config.feed_filenames.iter().map(String::as_str))
            .any(|name| self.template_lists_content(name))
    }

    /// Fills [`Site::backlinks`] from the links of every page and section.
    pub(crate) fn find_backlinks(&mut self) {
        let mut backlinks: rustc_hash::FxHashMap<String, Vec<ContentRef>> =
            rustc_hash::FxHashMap::default();
        let docs = self
            .pages
            .iter()
            .enumerate()
            .map(|(i, p)| (ContentRef::Page(PageId(i)), &p.doc))
            .chain(
                self.sections
                    .iter()
                    .enumerate()
                    .map(|(i, s)| (ContentRef::Section(SectionId(i)), &s.doc)),
            );
        for (from, doc) in docs {
            for target in &doc.links {
                let list = backlinks.entry(target.clone()).or_default();
                if !list.contains(&from) {
                    list.push(from);
                }
            }
        }
        self.backlinks = backlinks;
    }

    /// Zola's `backlinks` of the document at content path `relative_path`: the permalink and
    /// title of each page and section linking to it, sorted by permalink.
    pub(crate) fn backlinks_of(&self, relative_path: &str) -> Vec<(&str, Option<&str>)> {
        let mut links: Vec<(&str, Option<&str>)> = self
            .backlinks
            .get(relative_path)
            .into_iter()
            .flatten()
            .map(|from| match from {
                ContentRef::Page(id) => {
                    let page = self.page(*id);
                    (page.doc.permalink.as_str(), page.meta.title.as_deref())
                }
                ContentRef::Section(id) => {
                    let section = self.section(*id);
                    (
                        section.doc.permalink.as_str(),
                        section.meta.title.as_deref(),
                    )
                }
            })
            .collect();
        links.sort_unstable();
        links
    }

    /// Fills [`Site::translations`]: documents of one kind sharing a canonical path. As Zola,
    /// only for a multilingual site, and a page with `render = false` has none.
    pub(crate) fn find_translations(&mut self) {
        let mut translations: rustc_hash::FxHashMap<String, Vec<ContentRef>> =
            rustc_hash::FxHashMap::default();
        if !self.config.is_multilingual() {
            self.translations = translations;
            return;
        }
        let pages = self
            .pages
            .iter()
            .enumerate()
            .filter(|(_, p)| p.meta.render != Some(false) && p.doc.has_file)
            .map(|(i, p)| (ContentRef::Page(PageId(i)), &p.doc));
        let sections = self
            .sections
            .iter()
            .enumerate()
            .map(|(i, s)| (ContentRef::Section(SectionId(i)), &s.doc));
        for (r, doc) in pages.chain(sections) {
            translations
                .entry(doc.canonical.clone())
                .or_default()
                .push(r);
        }
        let default = self.config.default_language.clone();
        for list in translations.values_mut() {
            list.sort_by(|a, b| {
                let (a, b) = (self.doc(*a), self.doc(*b));
                (a.lang != default, &a.lang).cmp(&(b.lang != default, &b.lang))
            });
        }
        self.translations = translations;
    }

    /// The document of a page or section.
    pub(crate) fn doc(&self, r: ContentRef) -> &Document {
        match r {
            ContentRef::Page(id) => &self.page(id).doc,
            ContentRef::Section(id) => &self.section(id).doc,
        }
    }

    /// The title of a page or section.
    pub(crate) fn title_of(&self, r: ContentRef) -> Option<&str> {
        match r {
            ContentRef::Page(id) => self.page(id).meta.title.as_deref(),
            ContentRef::Section(id) => self.section(id).meta.title.as_deref(),
        }
    }

    /// The translations of `doc` (itself included, as Zola lists them); none on a site of one
    /// language.
    pub(crate) fn translations_of(&self, doc: &Document) -> &[ContentRef] {
        self.translations
            .get(&doc.canonical)
            .map_or(&[][..], Vec::as_slice)
    }

    /// The taxonomy named `kind` of language `lang`.
    pub(crate) fn taxonomy_named(&self, kind: &str, lang: &str) -> Option<&Taxonomy> {
        self.taxonomies
            .iter()
            .find(|t| t.config.name == kind && t.lang == lang)
    }

    /// The taxonomy with `id`.
    pub(crate) fn taxonomy(&self, id: TaxonomyId) -> &Taxonomy {
        &self.taxonomies[id.0]
    }

    /// The term with `id`.
    pub(crate) fn term(&self, id: TermId) -> &Term {
        &self.taxonomies[id.taxonomy.0].terms[id.index]
    }

    /// The page with `id`.
    pub(crate) fn page(&self, id: PageId) -> &Page {
        &self.pages[id.0]
    }

    /// The section with `id`.
    pub(crate) fn section(&self, id: SectionId) -> &Section {
        &self.sections[id.0]
    }

    /// The permalink of a content path (`blog/a.md`), for `@/` links.
    pub(crate) fn permalink_of(&self, content_path: &str) -> Option<String> {
        let content_path = content_path.trim_start_matches('/');
        self.by_content_path.get(content_path).map(|r| match *r {
            ContentRef::Page(id) => self.page(id).doc.permalink.clone(),
            ContentRef::Section(id) => self.section(id).doc.permalink.clone(),
        })
    }

    /// Pages with a date, newest first (ties by path), for feeds.
    pub(crate) fn pages_by_date(&self) -> Vec<PageId> {
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
