//! Stage 3, render: one planned output → its HTML (or XML, or text).
//!
//! Pure apart from reading the page's own body (dropped after loading, to keep memory flat),
//! and safe to call from many rayon workers at once: the site and the templates are shared
//! read-only. Markdown is rendered here, once per page; templates get Zola's context.

pub mod context;
pub(crate) mod data;
mod filters;
mod images;
mod markdown_filter;
pub(crate) mod recorded;
pub(crate) mod shortcodes;
pub(crate) mod templates;

use std::sync::Arc;

use serde_json::Value;
use tera::Context;

use crate::diagnostics::{Diagnostic, Error};
use crate::markdown::{self, AnchorLink};
use crate::plan::{
    FeedOf, Output, Outputs, Planned, SITEMAP_LIMIT, SitemapEntry, SitemapPart, sitemap_entries,
};
use crate::site::{ContentRef, PageId, Site};
use context::{Body, View};
pub(crate) use templates::Templates;

/// The result of rendering one output.
#[derive(Debug, Default)]
pub struct Rendered {
    /// The bytes to write.
    pub text: String,
    /// The page's heading ids, when it is a page that anchor links point to.
    pub(crate) anchors: Option<(String, Vec<String>)>,
    /// Its internal links with anchors, with the page's content path, to check at the end.
    pub(crate) anchor_links: Vec<(String, AnchorLink)>,
    /// The page's content, when a feed needs it.
    pub(crate) feed_content: Option<(PageId, String)>,
    /// What the template functions read.
    pub(crate) deps: Vec<crate::plan::reason::Dep>,
}

/// Renders outputs of one site with its templates.
pub struct Renderer {
    site: Arc<Site>,
    /// The site and its generated copy, as templates see them.
    view: View,
    templates: Arc<Templates>,
    /// `anchor-link.html`, for the content's heading anchor links.
    anchor: crate::site::anchor::AnchorTemplate,
    /// `config` as the templates of each language see it (Zola's `serialize(lang)`).
    configs: std::collections::HashMap<String, Value>,
    /// Pages whose content a feed needs.
    feed_pages: std::collections::BTreeSet<PageId>,
}

impl Renderer {
    /// A renderer of the `outputs` of the site of `view`: its templates compiled, with the
    /// functions that read the site. A template an output needs and that does not exist is an
    /// error, one per document.
    pub fn new(view: View, outputs: &Outputs) -> Result<Self, Error> {
        let site = Arc::clone(&view.site);
        let handle = templates::TemplatesHandle::default();
        let markdown = markdown_filter::MarkdownFilter::new(&site, &handle);
        let templates = Templates::compile(&view, markdown, &handle).map_err(Error::Site)?;
        let configs = site
            .config
            .language_codes()
            .map(|lang| (lang.to_owned(), site.config.template_value_for(lang)))
            .collect();
        let renderer = Self {
            anchor: crate::site::anchor::AnchorTemplate::new(&site),
            site,
            view,
            templates,
            configs,
            feed_pages: outputs.feed_pages.clone(),
        };
        let missing = renderer.missing_templates();
        if missing.is_empty() {
            let summaries = shortcodes::summary::render_all(
                &renderer.site,
                renderer.templates.as_ref(),
                &|id| renderer.shortcode_context(ContentRef::Page(id)),
                &|id: &str, level: u32| renderer.anchor.render(id, level),
            )
            .map_err(Error::Site)?;
            let _ = renderer.view.summaries.set(summaries);
            if renderer.site.lists_content() {
                let _ = renderer.view.bodies.set(renderer.all_bodies());
            }
            Ok(renderer)
        } else {
            Err(Error::Site(missing))
        }
    }

    /// Templates that outputs need and that do not exist: one error per document.
    fn missing_templates(&self) -> Vec<Diagnostic> {
        let site = &self.site;
        let docs = site
            .pages
            .iter()
            .filter(|p| p.meta.render != Some(false))
            .map(|p| &p.doc)
            .chain(
                site.sections
                    .iter()
                    .filter(|s| s.meta.render && s.meta.redirect_to.is_none())
                    .map(|s| &s.doc),
            );
        let mut problems = Vec::new();
        for doc in docs {
            if !self.templates.has(&doc.template) {
                let message = format!("template `{}` not found", doc.template);
                let d = match site.file_of(doc) {
                    Some(file) => {
                        let display = file.strip_prefix(&site.root).unwrap_or(&file);
                        // The span was taken when the front matter was parsed; the text is read
                        // again only to show the line.
                        let text = std::fs::read_to_string(&file).unwrap_or_default();
                        match doc.template_span {
                            Some(at) => {
                                Diagnostic::error(message).at_offset(display, &text, at as usize)
                            }
                            None => Diagnostic::error(message).at(display, &text, 1, None),
                        }
                    }
                    None => Diagnostic::error(format!("{message} (needed by the home page)")),
                };
                problems.push(d.with_help(self.template_help(&doc.template)));
            }
        }
        // A taxonomy without terms writes nothing, so it needs no template.
        for (t, taxonomy) in site.taxonomies.iter().enumerate() {
            if !taxonomy.config.render || taxonomy.terms.is_empty() {
                continue;
            }
            for kind in ["list", "single"] {
                let name = site.taxonomy_template(crate::site::TaxonomyId(t), kind);
                if !self.templates.has(name) {
                    problems.push(
                        Diagnostic::error(format!(
                            "template `{name}` not found (needed by taxonomy `{}`)",
                            taxonomy.config.name
                        ))
                        .with_help(self.template_help(name)),
                    );
                }
            }
        }
        problems
    }

    fn template_help(&self, name: &str) -> String {
        let theme = self
            .site
            .config
            .theme
            .as_deref()
            .map_or_else(String::new, |t| format!(" or themes/{t}/templates/"));
        format!(
            "create templates/{name}{theme}, or name an existing template in the front matter's `template`"
        )
    }

    /// `config` in the templates of language `lang`.
    fn config(&self, lang: &str) -> &Value {
        self.configs
            .get(lang)
            .or_else(|| self.configs.get(&self.site.config.default_language))
            .unwrap_or(&Value::Null)
    }

    fn base_context(&self, planned: &Planned, lang: &str) -> Context {
        let mut ctx = Context::new();
        put(&mut ctx, "config", self.config(lang).clone());
        ctx.insert("current_path", &planned.path);
        ctx.insert("current_url", &self.site.config.permalink(&planned.path));
        ctx.insert("lang", lang);
        ctx
    }

    /// The language of an output: its document's, its taxonomy's, its feed's; the default
    /// language's for the rest (404, aliases, sitemap), as in Zola.
    fn lang_of<'a>(&'a self, output: &'a Output) -> &'a str {
        let site = &self.site;
        match output {
            Output::Page(id) => &site.page(*id).doc.lang,
            Output::Section { id, .. } => &site.section(*id).doc.lang,
            Output::Taxonomy(t) => &site.taxonomy(*t).lang,
            Output::Term { term, .. } => &site.taxonomy(term.taxonomy).lang,
            Output::Feed { lang, .. } => lang,
            Output::Redirect { .. } | Output::NotFound | Output::Robots | Output::Sitemap(_) => {
                &site.config.default_language
            }
        }
    }

    /// What every shortcode call of `owner`'s body sees besides its arguments, as in Zola:
    /// `config`, `lang`, and `page` or `section` (without content, which is being made).
    fn shortcode_context(&self, owner: ContentRef) -> Context {
        let mut ctx = Context::new();
        let lang = &self.site.doc(owner).lang;
        put(&mut ctx, "config", self.config(lang).clone());
        ctx.insert("lang", lang);
        match owner {
            ContentRef::Page(id) => {
                put(&mut ctx, "page", context::page(&self.view, id, None, false));
            }
            ContentRef::Section(id) => put(
                &mut ctx,
                "section",
                context::section(&self.view, id, None, false),
            ),
        }
        ctx
    }

    /// Reads and renders the markdown body of `owner`.
    fn body(&self, owner: ContentRef, out: &mut Rendered) -> Result<Body, Vec<Diagnostic>> {
        let doc = match owner {
            ContentRef::Page(id) => &self.site.page(id).doc,
            ContentRef::Section(id) => &self.site.section(id).doc,
        };
        let Some(file) = self.site.file_of(doc) else {
            return Ok(Body::default());
        };
        let display = file
            .strip_prefix(&self.site.root)
            .unwrap_or(&file)
            .to_path_buf();
        let bytes = std::fs::read(file).map_err(|e| {
            vec![Diagnostic::error(format!("cannot read file: {e}")).in_file(&display)]
        })?;
        if crate::hash::ContentHash::of(&bytes) != doc.hash {
            return Err(vec![
                Diagnostic::error("the file changed while the site was being built")
                    .in_file(&display)
                    .with_help("build again"),
            ]);
        }
        let text = String::from_utf8_lossy(&bytes);
        let body = &text[doc.body_offset..doc.body_offset + doc.body_len];
        let resolve = |path: &str| self.site.permalink_of(path);
        let expanded = shortcodes::expand(body, self.templates.as_ref(), &|| {
            self.shortcode_context(owner)
        })
        .map_err(|errors| {
            errors
                .into_iter()
                .map(|e| {
                    Diagnostic::error(e.message)
                        .at_offset(&display, &text, doc.body_offset + e.offset)
                        .with_help(e.help)
                })
                .collect::<Vec<_>>()
        })?;
        let anchor_link = |id: &str, level: u32| self.anchor.render_in(id, level, &doc.lang);
        let rendered =
            shortcodes::render_markdown(body, expanded.as_ref(), doc, &resolve, &anchor_link);
        let source_offset = |offset: usize| {
            expanded
                .as_ref()
                .map_or(offset, |e| e.source_offset(offset))
        };
        let internal_warn =
            self.site.config.link_checker.internal_level == crate::config::LinkLevel::Warn;
        if internal_warn {
            // As Zola with `internal_level = "warn"`: the page is written, the problem logged.
            for problem in &rendered.problems {
                tracing::warn!("content/{}: {}", doc.relative_path, problem.message);
            }
        } else if !rendered.problems.is_empty() {
            return Err(rendered
                .problems
                .into_iter()
                .map(|p| {
                    Diagnostic::error(p.message)
                        .at_offset(&display, &text, doc.body_offset + source_offset(p.offset))
                        .with_help(p.help)
                })
                .collect());
        }
        if self.site.anchor_targets.contains(&doc.relative_path) {
            out.anchors = Some((doc.relative_path.clone(), rendered.anchors));
        }
        out.anchor_links = rendered
            .anchor_links
            .into_iter()
            .map(|mut l| {
                l.offset = source_offset(l.offset);
                (doc.relative_path.clone(), l)
            })
            .collect();
        Ok(Body {
            html: rendered.html,
            toc: rendered.toc,
        })
    }

    /// Every page's and section's body, rendered in parallel, for templates that show the
    /// content of what they list. A body that fails is left out here: its document's own
    /// output reports why.
    fn all_bodies(&self) -> context::Bodies {
        use rayon::prelude::*;
        let render = |owner: ContentRef| {
            let body = self.body(owner, &mut Rendered::default()).ok();
            // What the shortcodes read belongs to no output.
            templates::take_recorded();
            body
        };
        context::Bodies {
            pages: (0..self.site.pages.len())
                .into_par_iter()
                .map(|i| render(ContentRef::Page(PageId(i))))
                .collect(),
            sections: (0..self.site.sections.len())
                .into_par_iter()
                .map(|i| render(ContentRef::Section(crate::site::SectionId(i))))
                .collect(),
        }
    }

    /// The template that renders `output`, for those that show documents.
    fn template_of(&self, output: &Output) -> Option<&str> {
        let site = &self.site;
        Some(match output {
            Output::Page(id) => &site.page(*id).doc.template,
            Output::Section { id, .. } => &site.section(*id).doc.template,
            Output::Taxonomy(t) => site.taxonomy_template(*t, "list"),
            Output::Term { term, .. } => site.taxonomy_template(term.taxonomy, "single"),
            Output::NotFound => "404.html",
            _ => return None,
        })
    }

    /// The content and heading ids of page `id`, for feeds and anchor checks of pages this
    /// (incremental) build does not render.
    pub(crate) fn page_body(&self, id: PageId) -> Result<(String, Vec<String>), Vec<Diagnostic>> {
        let mut out = Rendered::default();
        let body = self.body(ContentRef::Page(id), &mut out)?;
        let mut anchors = Vec::new();
        collect_ids(&body.toc, &mut anchors);
        Ok((body.html, anchors))
    }

    /// Renders one planned output (feeds excepted: see [`Renderer::render_feed`]), with what its
    /// template functions read.
    pub fn render(&self, planned: &Planned) -> Result<Rendered, Vec<Diagnostic>> {
        templates::take_recorded();
        let lists_content = self
            .template_of(&planned.output)
            .is_some_and(|t| self.site.template_lists_content(t));
        let _listed = context::ListedContent::set(lists_content);
        let mut rendered = self.render_output(planned)?;
        rendered.deps = templates::take_recorded();
        Ok(rendered)
    }

    fn render_output(&self, planned: &Planned) -> Result<Rendered, Vec<Diagnostic>> {
        let site = &self.site;
        let mut out = Rendered::default();
        let mut ctx = self.base_context(planned, self.lang_of(&planned.output));
        let (template, for_file) = match &planned.output {
            Output::Page(id) => {
                let page = site.page(*id);
                let body = self.body(ContentRef::Page(*id), &mut out)?;
                put(
                    &mut ctx,
                    "page",
                    context::page(&self.view, *id, Some(&body), true),
                );
                if self.feed_pages.contains(id) {
                    out.feed_content = Some((*id, body.html));
                }
                (
                    page.doc.template.as_str(),
                    format!("content/{}", page.doc.relative_path),
                )
            }
            Output::Section { id, pager, pagers } => {
                let section = site.section(*id);
                let body = self.body(ContentRef::Section(*id), &mut out)?;
                let paginate_by = section.meta.paginate_by.filter(|n| *n > 0);
                // As Zola: a paginated section lists its pages in `paginator.pages` only, so
                // each of its N pages does not carry the whole list.
                put(
                    &mut ctx,
                    "section",
                    context::section(&self.view, *id, Some(&body), paginate_by.is_none()),
                );
                if let Some(by) = paginate_by {
                    let paginator = context::paginator(
                        &self.view,
                        &section.pages,
                        by,
                        &section.doc.path,
                        &section.meta.paginate_path,
                        *pager,
                        *pagers,
                    );
                    put(&mut ctx, "paginator", paginator);
                }
                (
                    section.doc.template.as_str(),
                    format!("content/{}", section.doc.relative_path),
                )
            }
            Output::Taxonomy(t) => {
                let taxonomy = site.taxonomy(*t);
                let terms: Vec<Value> = taxonomy
                    .terms
                    .iter()
                    .map(|term| context::term(&self.view, term, true))
                    .collect();
                ctx.insert("taxonomy", &taxonomy.config);
                put(&mut ctx, "terms", Value::Array(terms));
                (
                    site.taxonomy_template(*t, "list"),
                    format!("taxonomy `{}`", taxonomy.config.name),
                )
            }
            Output::Term {
                term: id,
                pager,
                pagers,
            } => {
                let taxonomy = site.taxonomy(id.taxonomy);
                let term = site.term(*id);
                ctx.insert("taxonomy", &taxonomy.config);
                put(&mut ctx, "term", context::term(&self.view, term, true));
                if let Some(by) = taxonomy.config.paginate_by.filter(|n| *n > 0) {
                    let paginator = context::paginator(
                        &self.view,
                        &term.pages,
                        by,
                        &term.path,
                        &taxonomy.config.paginate_path,
                        *pager,
                        *pagers,
                    );
                    put(&mut ctx, "paginator", paginator);
                }
                (
                    site.taxonomy_template(id.taxonomy, "single"),
                    format!("term `{}` of `{}`", term.name, taxonomy.config.name),
                )
            }
            Output::Redirect { to } => {
                ctx.insert("url", to);
                (
                    "internal/alias.html",
                    format!("the redirect at {}", planned.path),
                )
            }
            Output::NotFound => ("404.html", "404.html".to_owned()),
            Output::Robots => ("robots.txt", "robots.txt".to_owned()),
            Output::Sitemap(part) => {
                let all = sitemap_entries(site);
                match part {
                    SitemapPart::Whole => put(&mut ctx, "entries", sitemap_values(&all)),
                    SitemapPart::Part(n) => {
                        let start = (n - 1) * SITEMAP_LIMIT;
                        let slice =
                            &all[start.min(all.len())..(start + SITEMAP_LIMIT).min(all.len())];
                        put(&mut ctx, "entries", sitemap_values(slice));
                    }
                    SitemapPart::Index(parts) => {
                        let sitemaps: Vec<String> = (1..=*parts)
                            .map(|n| site.config.permalink(&format!("/sitemap{n}.xml")))
                            .collect();
                        ctx.insert("sitemaps", &sitemaps);
                        return self
                            .templates
                            .render("split_sitemap_index.xml", &ctx, "sitemap.xml")
                            .map(|text| Rendered {
                                text,
                                ..Rendered::default()
                            })
                            .map_err(|d| vec![d]);
                    }
                }
                ("sitemap.xml", "sitemap.xml".to_owned())
            }
            Output::Feed { .. } => unreachable!("feeds are rendered by render_feed"),
        };
        out.text = self
            .templates
            .render(template, &ctx, &for_file)
            .map_err(|d| vec![d])?;
        Ok(out)
    }

    /// Renders a feed, with the content of its pages kept while they were rendered.
    pub(crate) fn render_feed(
        &self,
        planned: &Planned,
        contents: &std::collections::HashMap<PageId, String>,
    ) -> Result<Rendered, Vec<Diagnostic>> {
        let Output::Feed {
            template,
            of,
            pages,
            lang,
        } = &planned.output
        else {
            unreachable!("render_feed renders feeds only")
        };
        let site = &self.site;
        let mut ctx = self.base_context(planned, lang);
        match of {
            FeedOf::Site => {}
            FeedOf::Section(id) => {
                put(
                    &mut ctx,
                    "section",
                    context::section(&self.view, *id, None, false),
                );
            }
            FeedOf::Term(id) => {
                ctx.insert("taxonomy", &site.taxonomy(id.taxonomy).config);
                put(
                    &mut ctx,
                    "term",
                    context::term(&self.view, site.term(*id), false),
                );
            }
        }
        let entries: Vec<Value> = pages
            .iter()
            .map(|id| {
                let page = site.page(*id);
                let mut value = context::page(&self.view, *id, None, false);
                if let Value::Object(map) = &mut value {
                    map.insert("content".into(), contents.get(id).cloned().into());
                    let date = page.date.as_ref();
                    map.insert(
                        "date_rfc3339".into(),
                        date.map(crate::site::Date::rfc3339).into(),
                    );
                    map.insert(
                        "updated_rfc3339".into(),
                        page.updated.as_ref().map(crate::site::Date::rfc3339).into(),
                    );
                    map.insert(
                        "date_rfc2822".into(),
                        date.map(|d| {
                            d.instant
                                .and_utc()
                                .format("%a, %d %b %Y %H:%M:%S %z")
                                .to_string()
                        })
                        .into(),
                    );
                }
                value
            })
            .collect();
        // As Zola: the latest `updated` of the entries, or the newest entry's date; none when
        // no entry is dated, and the templates then leave the element out.
        let newest = pages
            .iter()
            .filter_map(|id| site.page(*id).updated.as_ref())
            .chain(pages.first().and_then(|id| site.page(*id).date.as_ref()))
            .max_by_key(|d| d.instant);
        put(&mut ctx, "pages", Value::Array(entries));
        // As Zola's `make_permalink`, which adds a slash unless the path ends with one of the
        // top-level `feed_filenames` (`/fr/rss.xml/` when only another language has RSS).
        ctx.insert("feed_url", &site.config.make_permalink(&planned.path));
        if let Some(newest) = newest {
            ctx.insert("last_updated", &newest.rfc3339());
            ctx.insert(
                "last_updated_rfc2822",
                &newest
                    .instant
                    .and_utc()
                    .format("%a, %d %b %Y %H:%M:%S %z")
                    .to_string(),
            );
        }
        templates::take_recorded();
        let _listed = context::ListedContent::set(self.site.template_lists_content(template));
        let text = self
            .templates
            .render(template, &ctx, &format!("the feed {}", planned.path))
            .map_err(|d| vec![d])?;
        Ok(Rendered {
            text,
            deps: templates::take_recorded(),
            ..Rendered::default()
        })
    }
}

fn collect_ids(toc: &[markdown::Heading], out: &mut Vec<String>) {
    for heading in toc {
        out.push(heading.id.clone());
        collect_ids(&heading.children, out);
    }
}

/// Puts `value` in `ctx` under `key`. `Context::insert` serializes what it is given, which for a
/// `Value` is a deep copy: for a section listing 1,000 pages, megabytes made only to be dropped.
fn put(ctx: &mut Context, key: &str, value: Value) {
    let mut one = tera::Map::with_capacity(1);
    one.insert(key.to_owned(), value);
    if let Ok(one) = Context::from_value(Value::Object(one)) {
        ctx.extend(one);
    }
}

fn sitemap_values(entries: &[SitemapEntry<'_>]) -> Value {
    serde_json::to_value(entries).unwrap_or_default()
}
