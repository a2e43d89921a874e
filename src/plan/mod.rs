//! Stage 2, plan: the site → the list of outputs to produce, each with its file path.
//!
//! Pure. Decides what is written where (pages, paginated sections, taxonomy pages, aliases,
//! feeds, sitemap, static files, bundle assets) and reports two sources claiming one file.
//! [`hash`] hashes the inputs of each output; [`diff`] compares them with the previous build's.

use std::collections::BTreeSet;

pub mod diff;
pub mod hash;

use crate::diagnostics::{Diagnostic, Error, Result};
use crate::hash::ContentHash;
use crate::load::content::sanitize_site_path;
use crate::load::site::{PageId, SectionId, Site, StaticSource};

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
    Taxonomy(usize),
    /// Page `pager` of one term's listing.
    Term {
        /// Index of the taxonomy.
        taxonomy: usize,
        /// Index of the term.
        term: usize,
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
    pub file: String,
    /// The site path it is served at (`/blog/a/`).
    pub path: String,
}

/// A file copied into the output as is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copy {
    /// Where the bytes come from.
    pub source: StaticSource,
    /// Their hash.
    pub hash: ContentHash,
    /// The file, relative to the output folder.
    pub file: String,
    /// Bytes to write instead of the source's (a stylesheet with fingerprinted references).
    pub bytes: Option<std::sync::Arc<[u8]>>,
}

/// What a build produces.
#[derive(Debug, Default)]
pub struct BuildPlan {
    /// Outputs rendered first, in parallel.
    pub renders: Vec<Planned>,
    /// Outputs rendered once every page is done (feeds need their pages' content).
    pub deferred: Vec<Planned>,
    /// Files copied as is.
    pub copies: Vec<Copy>,
    /// Pages whose rendered content feeds need.
    pub feed_pages: BTreeSet<PageId>,
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

/// The output file of a site path: `/a/b/` → `a/b/index.html`, `/a.html` → `a.html`.
pub fn file_of(path: &str) -> String {
    let trimmed = path.trim_start_matches('/');
    if trimmed.is_empty() || trimmed.ends_with('/') {
        format!("{trimmed}index.html")
    } else {
        trimmed.to_owned()
    }
}

/// The folder part of a site path's output (`/a/b/` → `a/b/`, `/a/x.html` → `a/`).
fn dir_of(path: &str) -> String {
    let file = file_of(path);
    file.rfind('/')
        .map_or_else(String::new, |i| file[..=i].to_owned())
}

/// The site path of page `pager` of a listing at `base` (`/blog/`, 3 → `/blog/page/3/`).
pub fn pager_path(base: &str, paginate_path: &str, pager: usize) -> String {
    if pager <= 1 {
        base.to_owned()
    } else {
        format!("{base}{paginate_path}/{pager}/")
    }
}

/// Plans every output of `site`. Two sources claiming one file is an error naming both.
pub fn plan(site: &Site) -> Result<BuildPlan> {
    let mut plan = BuildPlan::default();
    let mut claims: rustc_hash::FxHashMap<String, String> = Default::default();
    let mut problems = Vec::new();
    let config = &site.config;

    let mut claim = |file: String, owner: &str, problems: &mut Vec<Diagnostic>| -> bool {
        if let Some(previous) = claims.get(&file) {
            problems.push(
                Diagnostic::error(format!(
                    "`{file}` is claimed by both {previous} and {owner}"
                ))
                .in_file(owner)
                .with_help("give one of them another `slug` or `path`, or remove the alias"),
            );
            return false;
        }
        claims.insert(file, owner.to_owned());
        true
    };

    for (i, page) in site.pages.iter().enumerate() {
        let owner = display_of(&page.doc.relative_path);
        if page.meta.render != Some(false) && claim(file_of(&page.doc.path), &owner, &mut problems)
        {
            plan.renders
                .push(planned(Output::Page(PageId(i)), &page.doc.path));
        }
        add_aliases_and_assets(
            &mut plan,
            &page.doc,
            &page.meta.aliases,
            &owner,
            &mut claim,
            &mut problems,
        );
    }

    for (i, section) in site.sections.iter().enumerate() {
        let owner = if section.doc.has_file {
            display_of(&section.doc.relative_path)
        } else {
            "the home page".to_owned()
        };
        let meta = &section.meta;
        if let Some(target) = &meta.redirect_to {
            let to = if target.contains("://") {
                target.clone()
            } else {
                config.permalink(target)
            };
            if claim(file_of(&section.doc.path), &owner, &mut problems) {
                plan.renders
                    .push(planned(Output::Redirect { to }, &section.doc.path));
            }
        } else if meta.render {
            let pagers = meta
                .paginate_by
                .filter(|n| *n > 0)
                .map_or(1, |n| section.pages.len().div_ceil(n).max(1));
            for pager in 1..=pagers {
                let path = pager_path(&section.doc.path, &meta.paginate_path, pager);
                if claim(file_of(&path), &owner, &mut problems) {
                    plan.renders.push(planned(
                        Output::Section {
                            id: SectionId(i),
                            pager,
                            pagers,
                        },
                        &path,
                    ));
                }
            }
            if meta.paginate_by.is_some() {
                let first = format!("{}{}/1/", section.doc.path, meta.paginate_path);
                if claim(file_of(&first), &owner, &mut problems) {
                    plan.renders.push(planned(
                        Output::Redirect {
                            to: section.doc.permalink.clone(),
                        },
                        &first,
                    ));
                }
            }
            if meta.generate_feeds {
                add_feeds(
                    &mut plan,
                    site,
                    &section.doc.path,
                    section.pages.clone(),
                    &owner,
                    &mut claim,
                    &mut problems,
                );
            }
        }
        add_aliases_and_assets(
            &mut plan,
            &section.doc,
            &meta.aliases,
            &owner,
            &mut claim,
            &mut problems,
        );
    }

    let config_owner = "the taxonomies of the config";
    for (t, taxonomy) in site.taxonomies.iter().enumerate() {
        if !taxonomy.config.render {
            continue;
        }
        if claim(file_of(&taxonomy.path), config_owner, &mut problems) {
            plan.renders
                .push(planned(Output::Taxonomy(t), &taxonomy.path));
        }
        for (k, term) in taxonomy.terms.iter().enumerate() {
            let pagers = taxonomy
                .config
                .paginate_by
                .filter(|n| *n > 0)
                .map_or(1, |n| term.pages.len().div_ceil(n).max(1));
            for pager in 1..=pagers {
                let path = pager_path(&term.path, &taxonomy.config.paginate_path, pager);
                if claim(file_of(&path), config_owner, &mut problems) {
                    let output = Output::Term {
                        taxonomy: t,
                        term: k,
                        pager,
                        pagers,
                    };
                    plan.renders.push(planned(output, &path));
                }
            }
            if taxonomy.config.feed {
                add_feeds(
                    &mut plan,
                    site,
                    &term.path,
                    term.pages.clone(),
                    config_owner,
                    &mut claim,
                    &mut problems,
                );
            }
        }
    }

    let site_owner = "sitegen";
    if claim("404.html".to_owned(), site_owner, &mut problems) {
        plan.renders.push(planned(Output::NotFound, "/404.html"));
    }
    if config.generate_robots_txt && claim("robots.txt".to_owned(), site_owner, &mut problems) {
        plan.renders.push(planned(Output::Robots, "/robots.txt"));
    }
    if config.generate_sitemap {
        let entries = sitemap_len(site);
        if entries <= SITEMAP_LIMIT {
            claim("sitemap.xml".to_owned(), site_owner, &mut problems);
            plan.renders
                .push(planned(Output::Sitemap(SitemapPart::Whole), "/sitemap.xml"));
        } else {
            let parts = entries.div_ceil(SITEMAP_LIMIT);
            claim("sitemap.xml".to_owned(), site_owner, &mut problems);
            plan.renders.push(planned(
                Output::Sitemap(SitemapPart::Index(parts)),
                "/sitemap.xml",
            ));
            for n in 1..=parts {
                let path = format!("/sitemap{n}.xml");
                claim(file_of(&path), site_owner, &mut problems);
                plan.renders
                    .push(planned(Output::Sitemap(SitemapPart::Part(n)), &path));
            }
        }
    }
    if config.generate_feeds {
        add_feeds(
            &mut plan,
            site,
            "/",
            site.pages_by_date(),
            site_owner,
            &mut claim,
            &mut problems,
        );
    }

    for file in &site.static_files {
        if claim(
            file.name.clone(),
            &format!("static/{}", file.name),
            &mut problems,
        ) {
            plan.copies.push(Copy {
                source: file.source.clone(),
                hash: file.hash,
                file: file.name.clone(),
                bytes: None,
            });
        }
    }

    if problems.is_empty() {
        Ok(plan)
    } else {
        Err(Error::Site(problems))
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

fn planned(output: Output, path: &str) -> Planned {
    Planned {
        output,
        file: file_of(path),
        path: path.to_owned(),
    }
}

fn display_of(content_path: &str) -> String {
    format!("content/{content_path}")
}

/// The redirect pages of a document's aliases, and the copies of its co-located files.
fn add_aliases_and_assets(
    plan: &mut BuildPlan,
    doc: &crate::load::site::Document,
    aliases: &[String],
    owner: &str,
    claim: &mut impl FnMut(String, &str, &mut Vec<Diagnostic>) -> bool,
    problems: &mut Vec<Diagnostic>,
) {
    add_aliases(plan, aliases, &doc.permalink, owner, claim, problems);
    let dir = dir_of(&doc.path);
    for asset in &doc.assets {
        let file = format!("{dir}{}", asset.name);
        if claim(file.clone(), owner, problems) {
            plan.copies.push(Copy {
                source: StaticSource::File(asset.source.clone()),
                hash: asset.hash,
                file,
                bytes: None,
            });
        }
    }
}

fn add_aliases(
    plan: &mut BuildPlan,
    aliases: &[String],
    to: &str,
    owner: &str,
    claim: &mut impl FnMut(String, &str, &mut Vec<Diagnostic>) -> bool,
    problems: &mut Vec<Diagnostic>,
) {
    for alias in aliases {
        // Aliases were checked when loading; a bad one here is skipped, never written.
        let Ok(path) = sanitize_site_path(alias) else {
            continue;
        };
        if claim(file_of(&path), owner, problems) {
            plan.renders
                .push(planned(Output::Redirect { to: to.to_owned() }, &path));
        }
    }
}

fn add_feeds(
    plan: &mut BuildPlan,
    site: &Site,
    base: &str,
    mut pages: Vec<PageId>,
    owner: &str,
    claim: &mut impl FnMut(String, &str, &mut Vec<Diagnostic>) -> bool,
    problems: &mut Vec<Diagnostic>,
) {
    pages.retain(|id| site.page(*id).date.is_some());
    pages.sort_by(|a, b| site.page(*b).date.cmp(&site.page(*a).date).then(a.cmp(b)));
    if let Some(limit) = site.config.feed_limit {
        pages.truncate(limit);
    }
    plan.feed_pages.extend(pages.iter().copied());
    for template in &site.config.feed_filenames {
        let path = format!("{base}{template}");
        if claim(file_of(&path), owner, problems) {
            let output = Output::Feed {
                template: template.clone(),
                pages: pages.clone(),
            };
            plan.deferred.push(planned(output, &path));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{file_of, pager_path};

    #[test]
    fn files_of_paths() {
        assert_eq!(file_of("/"), "index.html");
        assert_eq!(file_of("/blog/a/"), "blog/a/index.html");
        assert_eq!(file_of("/old.html"), "old.html");
        assert_eq!(pager_path("/blog/", "page", 1), "/blog/");
        assert_eq!(pager_path("/blog/", "page", 3), "/blog/page/3/");
    }
}
