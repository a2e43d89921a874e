//! The values templates see: `page`, `section`, `paginator`, `term`, … named as in Zola.
//!
//! Listing entries (a section's `pages`, a paginator's, a term's, `page.lower`/`higher`,
//! `get_page`, `get_section`) carry `content` and `toc` only while rendering a template that
//! shows them (`Site::lists_content`, found in the syntax trees): holding every page's HTML for
//! every listing is what makes other generators' memory grow with the site, and most templates
//! show summaries.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use serde_json::{Map, Value, json};

use crate::assets::images::Images;
use crate::generate::copy::CopySet;
use crate::markdown::Heading;
use crate::site::{ContentRef, Document, Page, PageId, Section, SectionId, Site, Taxonomy, Term};

/// What templates see the site through: the model, and the copy generated for its pages
/// (which may still be arriving while the site renders).
#[derive(Clone)]
pub struct View {
    /// The site.
    pub(crate) site: Arc<Site>,
    /// The generated copy of its pages.
    pub(crate) copy: Arc<CopySet>,
    /// The summaries that call shortcodes, made once the templates are compiled.
    pub(crate) summaries: Arc<OnceLock<HashMap<PageId, String>>>,
    /// Every page's and section's rendered body, made once the templates are compiled when a
    /// template shows listed content.
    pub(crate) bodies: Arc<OnceLock<Bodies>>,
    /// The images templates read and ask to be processed.
    pub(crate) images: Arc<Images>,
}

/// The rendered bodies of the site's pages and sections (`None` where rendering failed: the
/// document's own output reports why).
#[derive(Debug, Default)]
pub(crate) struct Bodies {
    pub(crate) pages: Vec<Option<Body>>,
    pub(crate) sections: Vec<Option<Body>>,
}

thread_local! {
    /// Whether listing entries made on this thread carry their content.
    static LISTED_CONTENT: Cell<bool> = const { Cell::new(false) };
}

/// While alive, listing entries made on this thread carry their content (when `on`).
pub(crate) struct ListedContent(bool);

impl ListedContent {
    pub(crate) fn set(on: bool) -> Self {
        Self(LISTED_CONTENT.replace(on))
    }
}

impl Drop for ListedContent {
    fn drop(&mut self) {
        LISTED_CONTENT.set(self.0);
    }
}

impl View {
    /// The view of `site` with `copy`.
    pub fn new(site: &Arc<Site>, copy: &Arc<CopySet>) -> Self {
        Self {
            site: Arc::clone(site),
            copy: Arc::clone(copy),
            summaries: Arc::default(),
            bodies: Arc::default(),
            images: Arc::new(Images::new(site)),
        }
    }

    /// The images service its templates call: what they asked to be processed is read from it
    /// once rendering is over.
    pub(crate) fn images(&self) -> Arc<Images> {
        Arc::clone(&self.images)
    }
}

/// A page's rendered body, when the page itself is being rendered.
#[derive(Debug, Default)]
pub(crate) struct Body {
    /// The HTML.
    pub(crate) html: String,
    /// Its table of contents.
    pub(crate) toc: Vec<Heading>,
}

fn content_path_of(site: &Site, id: SectionId) -> Value {
    Value::String(site.section(id).doc.relative_path.clone())
}

fn common(site: &Site, doc: &Document, map: &mut Map<String, Value>) {
    map.insert("relative_path".into(), doc.relative_path.clone().into());
    map.insert("permalink".into(), doc.permalink.clone().into());
    map.insert("path".into(), doc.path.clone().into());
    let components: Vec<Value> = doc
        .path
        .split('/')
        .filter(|c| !c.is_empty())
        .map(|c| Value::String(c.to_owned()))
        .collect();
    map.insert("components".into(), Value::Array(components));
    map.insert(
        "ancestors".into(),
        Value::Array(
            doc.ancestors
                .iter()
                .map(|id| content_path_of(site, *id))
                .collect(),
        ),
    );
    map.insert("word_count".into(), doc.word_count.into());
    map.insert(
        "reading_time".into(),
        crate::markdown::reading_time(doc.word_count).into(),
    );
    map.insert("lang".into(), doc.lang.clone().into());
    // As Zola: every translation, itself included, with its language, URL, title and file
    // (here the path under content/, not the absolute one, so output does not depend on where
    // the site's folder is).
    let translations = site
        .translations_of(doc)
        .iter()
        .map(|r| {
            let other = site.doc(*r);
            json!({
                "lang": other.lang,
                "permalink": other.permalink,
                "title": site.title_of(*r),
                "path": other.relative_path,
            })
        })
        .collect();
    map.insert("translations".into(), Value::Array(translations));
    let backlinks = site
        .backlinks_of(&doc.relative_path)
        .into_iter()
        .map(|(permalink, title)| json!({ "permalink": permalink, "title": title }))
        .collect();
    map.insert("backlinks".into(), Value::Array(backlinks));
    let assets: Vec<Value> = doc
        .assets
        .iter()
        .map(|a| Value::String(format!("{}{}", doc.path, a.name)))
        .collect();
    map.insert("assets".into(), Value::Array(assets));
    let colocated = doc
        .relative_path
        .rfind('/')
        .map(|i| &doc.relative_path[..=i])
        .unwrap_or_default();
    map.insert("colocated_path".into(), colocated.to_owned().into());
}

/// `content` and `toc`: of the document being rendered (`body`), or of a listed one when the
/// template shows them.
fn body_fields(view: &View, of: ContentRef, body: Option<&Body>, map: &mut Map<String, Value>) {
    let listed = || {
        if !LISTED_CONTENT.get() {
            return None;
        }
        let bodies = view.bodies.get()?;
        match of {
            ContentRef::Page(id) => bodies.pages.get(id.0)?.as_ref(),
            ContentRef::Section(id) => bodies.sections.get(id.0)?.as_ref(),
        }
    };
    let (content, toc) = match body.or_else(listed) {
        Some(b) => (
            Value::String(b.html.clone()),
            serde_json::to_value(&b.toc).unwrap_or(Value::Null),
        ),
        None => (Value::Null, Value::Array(Vec::new())),
    };
    map.insert("content".into(), content);
    map.insert("toc".into(), toc);
}

/// The `page` value. `body` is the page's rendered content (the page being rendered);
/// `siblings` adds `lower` and `higher`.
pub(crate) fn page(view: &View, id: PageId, body: Option<&Body>, siblings: bool) -> Value {
    let site = &*view.site;
    let page: &Page = site.page(id);
    let mut map = Map::with_capacity(32);
    common(site, &page.doc, &mut map);
    body_fields(view, ContentRef::Page(id), body, &mut map);
    // As Zola: a page's files are named by the folder of its file (`/blog/photo/a.png` for
    // `blog/photo/index.fr.md` too, and whatever its `path`); a section's by its path.
    let folder = page
        .doc
        .relative_path
        .rfind('/')
        .map_or("", |i| &page.doc.relative_path[..=i]);
    let assets: Vec<Value> = page
        .doc
        .assets
        .iter()
        .map(|a| Value::String(format!("/{folder}{}", a.name)))
        .collect();
    map.insert("assets".into(), Value::Array(assets));
    let meta = &page.meta;
    map.insert("title".into(), meta.title.clone().into());
    map.insert("description".into(), meta.description.clone().into());
    map.insert("slug".into(), page.slug.clone().into());
    map.insert(
        "date".into(),
        page.date.as_ref().map(|d| d.text.clone()).into(),
    );
    map.insert(
        "updated".into(),
        page.updated.as_ref().map(|d| d.text.clone()).into(),
    );
    if let Some(date) = &page.date {
        use chrono::Datelike;
        map.insert("year".into(), date.instant.year().into());
        map.insert("month".into(), date.instant.month().into());
        map.insert("day".into(), date.instant.day().into());
    }
    map.insert("draft".into(), meta.draft.into());
    map.insert("weight".into(), meta.weight.into());
    map.insert("authors".into(), meta.authors.clone().into());
    // Made with the templates (shortcodes, the cutoff template), else by load.
    let summary = view
        .summaries
        .get()
        .and_then(|made| made.get(&id).cloned())
        .or_else(|| page.doc.summary.clone());
    map.insert("summary".into(), summary.into());
    map.insert("extra".into(), Value::Object(meta.extra.clone()));
    map.insert("taxonomies".into(), json!(meta.taxonomies));
    map.insert(
        "data".into(),
        page.data
            .as_ref()
            .map_or(Value::Null, |d| Value::Object(d.as_ref().clone())),
    );
    // Generated copy: waits while the page's copy is being written.
    let generated = if meta.generate.is_empty() {
        Map::new()
    } else {
        view.copy
            .get(id)
            .map(|f| f.as_ref().clone())
            .unwrap_or_default()
    };
    map.insert("generated".into(), Value::Object(generated));
    if siblings {
        let sibling =
            |other: Option<PageId>| other.map_or(Value::Null, |o| self::page(view, o, None, false));
        map.insert("lower".into(), sibling(page.lower));
        map.insert("higher".into(), sibling(page.higher));
    } else {
        map.insert("lower".into(), Value::Null);
        map.insert("higher".into(), Value::Null);
    }
    Value::Object(map)
}

/// Listing entries of `ids` (no content).
pub(crate) fn pages(view: &View, ids: &[PageId]) -> Value {
    Value::Array(ids.iter().map(|id| page(view, *id, None, false)).collect())
}

/// The `section` value. With `listing`, `pages` holds its pages; without, it is empty (as Zola's
/// `metadata_only`).
pub(crate) fn section(view: &View, id: SectionId, body: Option<&Body>, listing: bool) -> Value {
    let site = &*view.site;
    let section: &Section = site.section(id);
    let mut map = Map::with_capacity(24);
    common(site, &section.doc, &mut map);
    body_fields(view, ContentRef::Section(id), body, &mut map);
    let meta = &section.meta;
    map.insert("title".into(), meta.title.clone().into());
    map.insert("description".into(), meta.description.clone().into());
    map.insert("draft".into(), meta.draft.into());
    map.insert("extra".into(), Value::Object(meta.extra.clone()));
    // Zola's section keys that templates test (`section.generate_feeds` picks a feed link).
    map.insert("generate_feeds".into(), meta.generate_feeds.into());
    map.insert("transparent".into(), meta.transparent.into());
    map.insert("paginate_by".into(), meta.paginate_by.into());
    map.insert("paginate_reversed".into(), meta.paginate_reversed.into());
    let pages = if listing {
        self::pages(view, &section.pages)
    } else {
        Value::Array(Vec::new())
    };
    map.insert("pages".into(), pages);
    let subsections: Vec<Value> = section
        .subsections
        .iter()
        .map(|s| content_path_of(site, *s))
        .collect();
    map.insert("subsections".into(), Value::Array(subsections));
    Value::Object(map)
}

/// The `paginator` of page `pager` (from 1) of a listing of `all` at `base`.
pub(crate) fn paginator(
    view: &View,
    all: &[PageId],
    paginate_by: usize,
    base: &str,
    paginate_path: &str,
    pager: usize,
    pagers: usize,
) -> Value {
    let site = &*view.site;
    let start = (pager - 1) * paginate_by;
    let slice = &all[start.min(all.len())..(start + paginate_by).min(all.len())];
    let url = |n: usize| {
        site.config
            .permalink(&crate::site::paths::pager_path(base, paginate_path, n))
    };
    json!({
        "pages": pages(view, slice),
        "paginate_by": paginate_by,
        "current_index": pager,
        "number_pagers": pagers,
        "total_pages": all.len(),
        "base_url": site.config.permalink(&format!("{base}{paginate_path}/")),
        "first": url(1),
        "last": url(pagers),
        "previous": (pager > 1).then(|| url(pager - 1)),
        "next": (pager < pagers).then(|| url(pager + 1)),
    })
}

/// A term of a taxonomy, with its pages when `listing`.
pub(crate) fn term(view: &View, term: &Term, listing: bool) -> Value {
    json!({
        "name": term.name,
        "slug": term.slug,
        "path": term.path,
        "permalink": term.permalink,
        "page_count": term.pages.len(),
        "pages": if listing { pages(view, &term.pages) } else { Value::Array(Vec::new()) },
    })
}

/// A taxonomy as `get_taxonomy` returns it: `kind` (its config) and `items` (its terms).
pub(crate) fn taxonomy(view: &View, taxonomy: &Taxonomy) -> Value {
    json!({
        "kind": taxonomy.config,
        "lang": taxonomy.lang,
        "permalink": taxonomy.permalink,
        "path": taxonomy.path,
        "items": taxonomy.terms.iter().map(|t| term(view, t, true)).collect::<Vec<_>>(),
    })
}
