//! Stage 2, plan: the site → the list of outputs to produce, each with its file path.
//!
//! Pure. Decides what is written where (pages, paginated sections, taxonomy pages, aliases,
//! feeds, sitemap, static files, bundle assets) and reports two sources claiming one file.
//! [`hash`] hashes the inputs of each output; [`diff`] compares them with the previous build's.

pub(crate) mod diff;
pub(crate) mod fingerprint;
pub(crate) mod hash;
pub(crate) mod incremental;
pub(crate) mod output;
pub mod reason;

use crate::diagnostics::{Diagnostic, Error, Result};
use crate::site::paths::{alias_path, dir_of, file_of, pager_path};
use crate::site::{PageId, SectionId, Site, StaticSource, TaxonomyId, TermId};
pub use output::{
    Assets, Copy, FeedOf, Fingerprinted, Output, Outputs, Planned, SITEMAP_LIMIT, SitemapEntry,
    SitemapPart, sitemap_entries, sitemap_len, template_of,
};

/// What claims a file, for deciding who writes it when two do.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Claim {
    /// A page or section, its pagers, feeds and co-located files.
    Content,
    /// A redirect page of an `aliases` entry.
    Alias,
    /// A taxonomy page, the site's feeds, sitemap, 404, robots.txt or a static file.
    Site,
}

/// Plans every output of `site`.
///
/// Two sources writing one file resolve as in Zola, which writes aliases first, then sections
/// and pages, the sitemap, the site's feeds, 404, robots.txt, taxonomies and static files last,
/// each overwriting what came before: outputs are claimed here in the reverse of that order
/// and the first claim stands. Only two documents (pages, sections or their aliases) of two
/// different files claiming one path is an error, as Zola's path collision check makes it; a
/// page's alias equal to its own path is no collision.
pub fn plan(site: &Site) -> Result<Outputs> {
    let mut plan = Outputs::default();
    let mut claims = rustc_hash::FxHashMap::<String, (String, Claim)>::default();
    let mut problems = Vec::new();
    let config = &site.config;

    let mut claim = |file: String, owner: &str, kind: Claim, problems: &mut Vec<Diagnostic>| {
        let Some((previous, was)) = claims.get(&file) else {
            claims.insert(file, (owner.to_owned(), kind));
            return true;
        };
        if *was != Claim::Site && kind != Claim::Site && previous != owner {
            problems.push(
                Diagnostic::error(format!(
                    "`{file}` is claimed by both {previous} and {owner}"
                ))
                .in_file(owner)
                .with_help("give one of them another `slug` or `path`, or remove the alias"),
            );
        }
        false
    };

    for file in &site.static_files {
        let owner = format!("static/{}", file.name);
        if file
            .name
            .strip_prefix(crate::assets::images::FOLDER)
            .is_some_and(|rest| rest.starts_with('/'))
        {
            plan.committed_images.push(Copy {
                source: file.source.clone(),
                hash: file.hash,
                file: file.name.clone(),
                bytes: None,
            });
            continue;
        }
        if claim(file.name.clone(), &owner, Claim::Site, &mut problems) {
            plan.copies.push(Copy {
                source: file.source.clone(),
                hash: file.hash,
                file: file.name.clone(),
                bytes: None,
            });
        }
    }

    let config_owner = "the taxonomies of the config";
    for (t, taxonomy) in site.taxonomies.iter().enumerate() {
        // As Zola: a taxonomy without terms writes nothing (and needs no template).
        if !taxonomy.config.render || taxonomy.terms.is_empty() {
            continue;
        }
        if claim(
            file_of(&taxonomy.path),
            config_owner,
            Claim::Site,
            &mut problems,
        ) {
            plan.renders
                .push(planned(Output::Taxonomy(TaxonomyId(t)), &taxonomy.path));
        }
        for (k, term) in taxonomy.terms.iter().enumerate() {
            let pagers = taxonomy
                .config
                .paginate_by
                .filter(|n| *n > 0)
                .map_or(1, |n| term.pages.len().div_ceil(n).max(1));
            for pager in 1..=pagers {
                let path = pager_path(&term.path, &taxonomy.config.paginate_path, pager);
                if claim(file_of(&path), config_owner, Claim::Site, &mut problems) {
                    let output = Output::Term {
                        term: TermId {
                            taxonomy: TaxonomyId(t),
                            index: k,
                        },
                        pager,
                        pagers,
                    };
                    plan.renders.push(planned(output, &path));
                }
            }
            if taxonomy.config.paginate_by.is_some() {
                // As for sections, Zola writes `TERM/page/1/` as a redirect to the term.
                let first = format!("{}{}/1/", term.path, taxonomy.config.paginate_path);
                if claim(file_of(&first), config_owner, Claim::Site, &mut problems) {
                    plan.renders.push(planned(
                        Output::Redirect {
                            to: term.permalink.clone(),
                        },
                        &first,
                    ));
                }
            }
            if taxonomy.config.feed {
                add_feeds(
                    &mut plan,
                    site,
                    (&term.path, &taxonomy.lang),
                    term.pages.clone(),
                    FeedOf::Term(TermId {
                        taxonomy: TaxonomyId(t),
                        index: k,
                    }),
                    (config_owner, Claim::Site),
                    &mut claim,
                    &mut problems,
                );
            }
        }
    }

    let site_owner = "sitegen";
    if config.generate_robots_txt
        && claim(
            "robots.txt".to_owned(),
            site_owner,
            Claim::Site,
            &mut problems,
        )
    {
        plan.renders.push(planned(Output::Robots, "/robots.txt"));
    }
    if claim(
        "404.html".to_owned(),
        site_owner,
        Claim::Site,
        &mut problems,
    ) {
        plan.renders.push(planned(Output::NotFound, "/404.html"));
    }
    // As Zola: the default language's feeds at the root (of its pages only on a multilingual
    // site), each other language's under `/CODE/` when its options ask for them.
    for lang in config.language_codes() {
        let wanted = if lang == config.default_language {
            config.generate_feeds
        } else {
            config.languages.get(lang).is_some_and(|l| l.generate_feeds)
        };
        if !wanted {
            continue;
        }
        let mut pages = site.pages_by_date();
        pages.retain(|id| site.page(*id).doc.lang == lang);
        add_feeds(
            &mut plan,
            site,
            (&format!("{}/", config.lang_prefix(lang)), lang),
            pages,
            FeedOf::Site,
            (site_owner, Claim::Site),
            &mut claim,
            &mut problems,
        );
    }
    if config.generate_sitemap {
        let entries = sitemap_len(site);
        if entries <= SITEMAP_LIMIT {
            claim(
                "sitemap.xml".to_owned(),
                site_owner,
                Claim::Site,
                &mut problems,
            );
            plan.renders
                .push(planned(Output::Sitemap(SitemapPart::Whole), "/sitemap.xml"));
        } else {
            let parts = entries.div_ceil(SITEMAP_LIMIT);
            claim(
                "sitemap.xml".to_owned(),
                site_owner,
                Claim::Site,
                &mut problems,
            );
            plan.renders.push(planned(
                Output::Sitemap(SitemapPart::Index(parts)),
                "/sitemap.xml",
            ));
            for n in 1..=parts {
                let path = format!("/sitemap{n}.xml");
                claim(file_of(&path), site_owner, Claim::Site, &mut problems);
                plan.renders
                    .push(planned(Output::Sitemap(SitemapPart::Part(n)), &path));
            }
        }
    }

    for (i, page) in site.pages.iter().enumerate() {
        let owner = display_of(&page.doc.relative_path);
        if page.meta.render != Some(false)
            && claim(
                file_of(&page.doc.path),
                &owner,
                Claim::Content,
                &mut problems,
            )
        {
            plan.renders
                .push(planned(Output::Page(PageId(i)), &page.doc.path));
        }
        add_assets(&mut plan, &page.doc, &owner, &mut claim, &mut problems);
    }

    for (i, section) in site.sections.iter().enumerate() {
        let owner = section_owner(section);
        let meta = &section.meta;
        if let Some(target) = &meta.redirect_to {
            // As Zola: an http(s) URL as it is, anything else a path of this site.
            let to = if target.starts_with("http:") || target.starts_with("https:") {
                target.clone()
            } else {
                config.make_permalink(target)
            };
            if claim(
                file_of(&section.doc.path),
                &owner,
                Claim::Content,
                &mut problems,
            ) {
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
                if claim(file_of(&path), &owner, Claim::Content, &mut problems) {
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
                if claim(file_of(&first), &owner, Claim::Content, &mut problems) {
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
                    (&section.doc.path, &section.doc.lang),
                    section.pages.clone(),
                    FeedOf::Section(SectionId(i)),
                    (&owner, Claim::Content),
                    &mut claim,
                    &mut problems,
                );
            }
        }
        add_assets(&mut plan, &section.doc, &owner, &mut claim, &mut problems);
    }

    let documents = site
        .pages
        .iter()
        .map(|page| {
            (
                &page.doc,
                &page.meta.aliases,
                display_of(&page.doc.relative_path),
            )
        })
        .chain(
            site.sections
                .iter()
                .map(|section| (&section.doc, &section.meta.aliases, section_owner(section))),
        );
    for (doc, aliases, owner) in documents {
        for alias in aliases {
            // Aliases were checked when loading; a bad one here is skipped, never written.
            let Ok(path) = alias_path(alias) else {
                continue;
            };
            if claim(file_of(&path), &owner, Claim::Alias, &mut problems) {
                let to = doc.permalink.clone();
                plan.renders.push(planned(Output::Redirect { to }, &path));
            }
        }
    }

    if problems.is_empty() {
        if config.fingerprint_assets {
            plan.assets = fingerprint::apply(site, &mut plan);
        }
        Ok(plan)
    } else {
        Err(Error::Site(problems))
    }
}

fn section_owner(section: &crate::site::Section) -> String {
    if section.doc.has_file {
        display_of(&section.doc.relative_path)
    } else {
        "the home page".to_owned()
    }
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

/// The copies of a document's co-located files.
fn add_assets(
    plan: &mut Outputs,
    doc: &crate::site::Document,
    owner: &str,
    claim: &mut impl FnMut(String, &str, Claim, &mut Vec<Diagnostic>) -> bool,
    problems: &mut Vec<Diagnostic>,
) {
    let dir = dir_of(&doc.path);
    for asset in &doc.assets {
        let file = format!("{dir}{}", asset.name);
        if claim(file.clone(), owner, Claim::Content, problems) {
            plan.copies.push(Copy {
                source: StaticSource::File(asset.source.clone()),
                hash: asset.hash,
                file,
                bytes: None,
            });
        }
    }
}

#[allow(clippy::too_many_arguments)] // (from main) each argument is one of the feed's inputs
fn add_feeds(
    plan: &mut Outputs,
    site: &Site,
    (base, lang): (&str, &str),
    mut pages: Vec<PageId>,
    of: FeedOf,
    (owner, kind): (&str, Claim),
    claim: &mut impl FnMut(String, &str, Claim, &mut Vec<Diagnostic>) -> bool,
    problems: &mut Vec<Diagnostic>,
) {
    pages.retain(|id| site.page(*id).date.is_some());
    pages.sort_by(|a, b| site.page(*b).date.cmp(&site.page(*a).date).then(a.cmp(b)));
    if let Some(limit) = site.config.feed_limit {
        pages.truncate(limit);
    }
    plan.feed_pages.extend(pages.iter().copied());
    for template in site.config.feed_filenames_of(lang) {
        let path = format!("{base}{template}");
        if claim(file_of(&path), owner, kind, problems) {
            let output = Output::Feed {
                template: template.clone(),
                of,
                pages: pages.clone(),
                lang: lang.to_owned(),
            };
            plan.deferred.push(planned(output, &path));
        }
    }
}
