//! The inputs of every output, hashed: what decides whether it must be rendered again.
//!
//! Pure over the site model (only `load_data` dependencies read a file). Each page gets a
//! *listing fingerprint*, the hash of everything a listing shows of it (title, dates, summary,
//! URL, word count, front matter…); listings, feeds, siblings and `get_page` depend on those, so
//! a body edit that leaves them alone re-renders one page only.

use std::collections::HashMap;

use rayon::prelude::*;
use serde_json::Value;

use crate::config::highlighting::inputs_hash;
use crate::hash::{ContentHash, Fingerprint};
use crate::plan::output::{Copy, FeedOf, Output, Planned, SitemapPart, sitemap_entries};
use crate::plan::reason::{Dep, Inputs};
use crate::site::{ContentRef, Document, PageId, Site, StaticSource};

/// Per-build hashes shared by every output.
pub(crate) struct Fingerprints {
    /// The listing fingerprint of each page.
    pub(crate) pages: Vec<ContentHash>,
    /// Per template: the hash of its sources and of the config values it reads, and whether it
    /// is volatile.
    templates: HashMap<String, (ContentHash, ContentHash, bool)>,
    /// See [`body_templates`].
    body: Option<ContentHash>,
    /// What templates read of images, by path as written: read once per build.
    images: std::sync::Mutex<HashMap<String, ContentHash>>,
}

/// What every output showing `doc` depends on. Its co-located files count by name (templates
/// see `assets`), and by content only where post reads them (`image_sizes` writes the size of
/// the images an output shows): a photo of a page bundle edited in place re-renders nothing
/// but what shows its size (see `Dep::Image`), and its copy.
fn doc_common(f: &mut Fingerprint, doc: &Document, contents: bool) {
    f.str(&doc.relative_path)
        .str(&doc.path)
        .str(&doc.permalink)
        .hash(&doc.front_matter_hash)
        .num(doc.word_count as u64);
    f.opt(doc.summary.as_deref());
    f.opt(doc.summary_markdown.as_deref());
    f.num(u64::from(doc.summary_open));
    for ancestor in &doc.ancestors {
        f.num(ancestor.0 as u64);
    }
    for asset in &doc.assets {
        f.str(&asset.name);
        if contents {
            f.hash(&asset.hash);
        }
    }
}

/// The hash of the generated copy of a page, when it has any (see `generate::CopySet`).
pub(crate) type CopyHash<'a> = &'a (dyn Fn(PageId) -> Option<ContentHash> + Sync);

/// When listings show their pages' content (`Site::lists_content`): the hash of what every
/// page's rendered body depends on besides its own source (shortcode and anchor templates).
fn body_templates(site: &Site) -> Option<ContentHash> {
    if !site.lists_content() {
        return None;
    }
    let mut f = Fingerprint::new("body-templates");
    for t in &site.templates {
        if t.name.starts_with("shortcodes/") || t.name == "anchor-link.html" {
            f.str(&t.name).hash(&t.uses.closure_hash);
        }
    }
    Some(f.finish())
}

/// What a listing shows of page `id`; with `body`, its rendered content too.
fn listing_fingerprint(
    site: &Site,
    id: PageId,
    copy_hash: CopyHash<'_>,
    body: Option<&ContentHash>,
    templates: &HashMap<String, (ContentHash, ContentHash, bool)>,
) -> ContentHash {
    let page = site.page(id);
    let mut f = Fingerprint::new("page-listing");
    if let Some(templates) = body {
        f.hash(templates).hash(&page.doc.hash);
        links(site, &mut f, &page.doc);
    }
    if !page.meta.generate.is_empty()
        && let Some(copy) = copy_hash(id)
    {
        f.hash(&copy);
    }
    doc_common(&mut f, &page.doc, site.config.image_sizes);
    backlinks(site, &mut f, &page.doc);
    translations(site, &mut f, &page.doc);
    f.str(&page.slug)
        .opt(page.date.as_ref().map(|d| d.text.as_str()));
    for ancestor in &page.doc.ancestors {
        f.str(&site.section(*ancestor).doc.relative_path);
    }
    // A summary cut inside a block ends with what `summary-cutoff.html` makes.
    if page.doc.summary_open
        && let Some((sources, config, _)) = templates.get("summary-cutoff.html")
    {
        f.hash(sources).hash(config);
    }
    // A summary that calls shortcodes shows what their templates make: those whose names it
    // holds (more than it calls, never fewer), with the config values they read; one that
    // calls `now()` or the like is new at every build.
    if let Some(summary) = &page.doc.summary_markdown {
        for template in &site.templates {
            let Some(name) = template.name.strip_prefix("shortcodes/") else {
                continue;
            };
            let name = name.rsplit_once('.').map_or(name, |(stem, _)| stem);
            if summary.contains(name) {
                f.str(&template.name).hash(&template.uses.closure_hash);
                if let Some((_, config, volatile)) = templates.get(&template.name) {
                    f.hash(config);
                    if *volatile {
                        f.str(&format!("{:?}", std::time::SystemTime::now()));
                    }
                }
            }
        }
    }
    f.finish()
}

impl std::fmt::Debug for Fingerprints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fingerprints")
            .field("pages", &self.pages.len())
            .finish_non_exhaustive()
    }
}

impl Fingerprints {
    /// Computes the fingerprints of `site` (in parallel) and of its templates; `config` is the
    /// config as templates see it, and `copy_hash` hashes the copy generated for a page (for a
    /// page still waiting for it, a value unique to the build, so that every output showing it
    /// is rendered again).
    pub(crate) fn new(site: &Site, config: &Value, copy_hash: CopyHash<'_>) -> Self {
        let mut base = Fingerprint::new("config-base");
        base.str(env!("CARGO_PKG_VERSION"))
            .str(&site.config.base_url)
            .str(&site.config.default_language)
            .num(u64::from(site.config.minify))
            // What post adds to every page.
            .num(u64::from(site.config.lazy_images))
            .num(u64::from(site.config.image_sizes))
            .num(u64::from(site.config.noopener_links))
            .num(u64::from(site.config.accessible_markup))
            .json(&site.config.slugify)
            .json(&site.config.link_checker)
            .json(&site.config.markdown)
            .hash(&inputs_hash(site.config.markdown.highlighting.as_ref()));
        let base = base.finish();
        let others: Vec<Value> = site
            .config
            .languages
            .keys()
            .map(|lang| site.config.template_value_for(lang))
            .collect();
        let templates = site
            .templates
            .iter()
            .map(|t| {
                let analysis = &t.uses;
                let mut f = Fingerprint::new("config");
                f.hash(&base);
                // Every language's `config` (another language's title shows in
                // `config.languages`, and a template renders documents of each language).
                for config in std::iter::once(config).chain(&others) {
                    match &analysis.config_paths {
                        None => {
                            f.json(config);
                        }
                        Some(paths) => {
                            for path in paths {
                                let pointer = format!("/{}", path.replace('.', "/"));
                                f.str(path).json(&config.pointer(&pointer));
                            }
                        }
                    }
                }
                (
                    t.name.clone(),
                    (analysis.closure_hash, f.finish(), analysis.volatile),
                )
            })
            .collect();
        let body = body_templates(site);
        let pages = (0..site.pages.len())
            .into_par_iter()
            .map(|i| listing_fingerprint(site, PageId(i), copy_hash, body.as_ref(), &templates))
            .collect();
        Self {
            pages,
            templates,
            body,
            images: std::sync::Mutex::default(),
        }
    }

    fn template(&self, name: &str) -> (ContentHash, ContentHash) {
        self.templates.get(name).map_or_else(
            || {
                (
                    Fingerprint::new("missing-template").str(name).finish(),
                    ContentHash::default(),
                )
            },
            |t| (t.0, t.1),
        )
    }
}

/// Its `translations`: the language, URL, title and file of each.
fn translations(site: &Site, f: &mut Fingerprint, doc: &Document) {
    f.str(&doc.lang);
    for r in site.translations_of(doc) {
        let other = site.doc(*r);
        f.str(&other.lang)
            .str(&other.permalink)
            .str(&other.relative_path)
            .opt(site.title_of(*r));
    }
}

/// Its `backlinks`: the URL and title of what links to `doc`.
fn backlinks(site: &Site, f: &mut Fingerprint, doc: &Document) {
    for (permalink, title) in site.backlinks_of(&doc.relative_path) {
        f.str(permalink).opt(title);
    }
}

/// The heading anchor links of `doc`'s content are made by `anchor-link.html`.
fn anchor_template(fps: &Fingerprints, f: &mut Fingerprint, doc: &Document) {
    if doc.markdown.anchor_links != crate::config::AnchorLinks::None {
        f.hash(&fps.template("anchor-link.html").0);
    }
}

/// The inputs of a planned output.
pub(crate) fn inputs(site: &Site, fps: &Fingerprints, planned: &Planned) -> Inputs {
    let mut own = Fingerprint::new("output");
    own.str(&planned.path).str(&planned.file);
    let mut listing = Fingerprint::new("listing");
    let list = |f: &mut Fingerprint, ids: &[PageId]| {
        for id in ids {
            f.hash(&fps.pages[id.0]);
        }
    };
    match &planned.output {
        Output::Page(id) => {
            let page = site.page(*id);
            own.hash(&fps.pages[id.0])
                .hash(&page.doc.hash)
                .str(&page.doc.template);
            anchor_template(fps, &mut own, &page.doc);
            backlinks(site, &mut own, &page.doc);
            links(site, &mut own, &page.doc);
            for sibling in [page.lower, page.higher] {
                match sibling {
                    Some(s) => listing.hash(&fps.pages[s.0]),
                    None => listing.num(0),
                };
            }
        }
        Output::Section { id, pager, pagers } => {
            let section = site.section(*id);
            doc_common(&mut own, &section.doc, site.config.image_sizes);
            own.hash(&section.doc.hash)
                .str(&section.doc.template)
                .num(*pager as u64)
                .num(*pagers as u64);
            for sub in &section.subsections {
                own.str(&site.section(*sub).doc.relative_path);
            }
            anchor_template(fps, &mut own, &section.doc);
            backlinks(site, &mut own, &section.doc);
            translations(site, &mut own, &section.doc);
            links(site, &mut own, &section.doc);
            list(&mut listing, &section.pages);
        }
        Output::Taxonomy(t) => {
            let taxonomy = site.taxonomy(*t);
            own.json(&taxonomy.config).str(&taxonomy.lang);
            for term in &taxonomy.terms {
                listing.str(&term.name).str(&term.permalink);
                list(&mut listing, &term.pages);
            }
        }
        Output::Term {
            term,
            pager,
            pagers,
        } => {
            let taxonomy = site.taxonomy(term.taxonomy);
            let term = site.term(*term);
            own.json(&taxonomy.config)
                .str(&taxonomy.lang)
                .str(&term.name)
                .str(&term.permalink)
                .num(*pager as u64)
                .num(*pagers as u64);
            list(&mut listing, &term.pages);
        }
        Output::Redirect { to } => {
            own.str(to);
        }
        Output::NotFound | Output::Robots => {}
        Output::Sitemap(part) => {
            own.str(&format!("{part:?}"));
            if !matches!(part, SitemapPart::Index(_)) {
                for entry in sitemap_entries(site) {
                    listing.str(&entry.permalink).opt(entry.updated);
                }
                // Entries carry the `extra` of pages and sections, which their front matter
                // hashes cover.
                for page in &site.pages {
                    listing.hash(&page.doc.front_matter_hash);
                }
                for section in &site.sections {
                    listing.hash(&section.doc.front_matter_hash);
                }
            }
        }
        Output::Feed {
            template,
            of,
            pages,
            lang,
        } => {
            own.str(template).str(lang);
            // The feed's title and link come from its section or term.
            match of {
                FeedOf::Site => {}
                FeedOf::Section(id) => {
                    let section = site.section(*id);
                    own.hash(&section.doc.front_matter_hash)
                        .str(&section.doc.permalink);
                }
                FeedOf::Term(id) => {
                    let term = site.term(*id);
                    own.str(&term.name).str(&term.permalink);
                }
            }
            for id in pages {
                let page = site.page(*id);
                listing
                    .hash(&fps.pages[id.0])
                    .hash(&page.doc.hash)
                    .opt(page.updated.as_ref().map(|d| d.text.as_str()));
            }
        }
    }
    let (template, config) = match crate::plan::output::template_of(site, &planned.output) {
        Some(name) => fps.template(name),
        None => (ContentHash::default(), ContentHash::default()),
    };
    Inputs {
        source: own.finish(),
        template,
        config,
        listing: listing.finish(),
    }
}

/// Internal links resolve to their targets' URLs, and anchors are checked against their
/// headings: a document depends on the URL and the source of what it links to.
fn links(site: &Site, f: &mut Fingerprint, doc: &Document) {
    for target in &doc.links {
        match site.by_content_path.get(target) {
            Some(ContentRef::Page(id)) => f
                .str(&site.page(*id).doc.permalink)
                .hash(&site.page(*id).doc.hash),
            Some(ContentRef::Section(id)) => f
                .str(&site.section(*id).doc.permalink)
                .hash(&site.section(*id).doc.hash),
            None => f.str(target).num(0),
        };
    }
}

/// The inputs of a copied file: its bytes.
pub(crate) fn copy_inputs(copy: &Copy) -> Inputs {
    let source = match &copy.source {
        StaticSource::Builtin(bytes) => ContentHash::of(bytes),
        StaticSource::Made(bytes) => ContentHash::of(bytes),
        StaticSource::File(_) => copy.hash,
    };
    Inputs {
        source: Fingerprint::new("copy").hash(&source).finish(),
        template: ContentHash::default(),
        config: ContentHash::default(),
        listing: ContentHash::default(),
    }
}

/// The current hash of something a template read.
pub(crate) fn dep_hash(site: &Site, fps: &Fingerprints, dep: &Dep) -> ContentHash {
    let mut f = Fingerprint::new("dep");
    match dep {
        Dep::Page(path) => match site.by_content_path.get(path) {
            Some(ContentRef::Page(id)) => {
                let page = site.page(*id);
                f.hash(&fps.pages[id.0]);
                for sibling in [page.lower, page.higher].into_iter().flatten() {
                    f.hash(&fps.pages[sibling.0]);
                }
            }
            _ => {
                f.str("missing");
            }
        },
        Dep::Section { path, listing } => match site.by_content_path.get(path) {
            Some(ContentRef::Section(id)) => {
                let section = site.section(*id);
                doc_common(&mut f, &section.doc, site.config.image_sizes);
                f.hash(&section.doc.hash);
                if let Some(body) = &fps.body {
                    f.hash(body);
                    links(site, &mut f, &section.doc);
                }
                for sub in &section.subsections {
                    f.str(&site.section(*sub).doc.relative_path);
                }
                if *listing {
                    for page in &section.pages {
                        f.hash(&fps.pages[page.0]);
                    }
                }
            }
            _ => {
                f.str("missing");
            }
        },
        Dep::Taxonomy { kind, lang } => match site.taxonomy_named(kind, lang) {
            Some(taxonomy) => {
                f.json(&taxonomy.config);
                for term in &taxonomy.terms {
                    f.str(&term.name).str(&term.permalink);
                    for page in &term.pages {
                        f.hash(&fps.pages[page.0]);
                    }
                }
            }
            None => {
                f.str("missing");
            }
        },
        Dep::Translation { key, lang } => {
            f.opt(site.config.translation(lang, key).ok());
        }
        Dep::TermUrl { kind, name, lang } => {
            let slug = site.config.slugify.taxonomies.path(name);
            let url = site
                .taxonomy_named(kind, lang)
                .and_then(|t| t.terms.iter().find(|term| term.slug == slug))
                .map(|term| term.permalink.as_str());
            f.opt(url);
        }
        Dep::Url(path) => {
            f.opt(site.permalink_of(path).as_deref());
        }
        Dep::Static(name) => {
            f.opt(
                site.static_files
                    .iter()
                    .find(|s| s.name == *name)
                    .map(|s| s.hash.short_hex())
                    .as_deref(),
            );
        }
        Dep::Shortcode(name) => {
            for kind in ["html", "md"] {
                let (template, config) = fps.template(&format!("shortcodes/{name}.{kind}"));
                f.hash(&template).hash(&config);
            }
        }
        Dep::Image(image) => {
            let known = fps
                .images
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .get(&image.path)
                .copied();
            let hash = known.unwrap_or_else(|| {
                let hash = crate::assets::images::probe(
                    &site.root,
                    site.config.theme.as_deref(),
                    &image.path,
                );
                fps.images
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .insert(image.path.clone(), hash);
                hash
            });
            f.hash(&hash);
        }
        Dep::Data(path) => match std::fs::read(site.root.join(path)) {
            Ok(bytes) => {
                f.hash(&ContentHash::of(&bytes));
            }
            Err(_) => {
                f.str("missing");
            }
        },
    }
    f.finish()
}
