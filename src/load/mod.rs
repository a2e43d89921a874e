//! Stage 1, load: the site's folder → an immutable [`Site`].
//!
//! Reads content/ (pages, sections, bundles, front matter), static/, the templates of the site
//! and its theme, in parallel where it pays. Every problem is collected with its location; the
//! stage fails at its end if any is an error. It renders only summaries (the markdown before
//! `<!-- more -->`), which listings need before any page is rendered.

pub(crate) mod content;
pub(crate) mod data;
pub(crate) mod front_matter;
pub mod sass;
pub mod source;
pub(crate) mod templates;
pub mod theme;
pub mod walk;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use rayon::prelude::*;

use crate::config::Config;
use crate::diagnostics::{Diagnostic, Error, Result};
use crate::markdown;
use crate::site::paths::relative_to;
use crate::site::{ContentRef, PageId, Site, StaticFile, StaticSource, Taxonomy, Term};
use source::{Cached, Freshness, Made, SourceCache, Stat};
use theme::Theme;
use walk::SourceFiles;

use crate::hash::ContentHash;

/// What loading produced.
pub struct Loaded {
    /// The site.
    pub site: Site,
    /// Warnings found.
    pub(crate) warnings: Vec<Diagnostic>,
    /// How the sources compare with the previous build's.
    pub(crate) changes: SourceChanges,
}

/// How the site's source files compare with the previous build's, and what was made of them.
#[derive(Debug, Default)]
pub(crate) struct SourceChanges {
    /// What was made of every source file, for the next build.
    pub(crate) cache: SourceCache,
    /// How each source file compares with the previous build (by root-relative path); files
    /// of the previous build that are gone are not listed.
    pub(crate) freshness: Vec<(String, Freshness)>,
    /// Pages of the previous build whose file is gone.
    pub(crate) removed_pages: usize,
    /// Cache keys of the previous build whose file is gone.
    pub(crate) removed_sources: Vec<String>,
    /// Whether the cache differs from the previous one (files added, removed, changed, touched).
    pub(crate) cache_changed: bool,
    /// How many Sass stylesheets this build compiled (the others' CSS was the last build's).
    pub(crate) stylesheets_compiled: usize,
    /// Whether a stylesheet read files outside the folders the walk lists, so that the no-op
    /// check cannot see them change.
    pub(crate) reads_outside: bool,
}

/// Loads the site at `root` with `config` and its `theme` from the files `sources` (the walk
/// of its source folders). Drafts are kept when `drafts`. Files whose stat matches `cache` (the
/// previous build's) are not read again.
pub fn load(
    root: &Path,
    config: Config,
    theme: &Theme,
    drafts: bool,
    mut cache: SourceCache,
    sources: &SourceFiles,
) -> Result<Loaded> {
    let mut problems = sources.problems.clone();
    let inventory = content::inventory(sources, &config);
    let records = data::load(root, &config.collections, &mut problems);
    let prompt_files: Vec<String> = sources
        .files
        .iter()
        .map(|(path, _)| path.as_str())
        .filter(|path| path.starts_with("prompts/"))
        .map(str::to_owned)
        .collect();
    let content::Content {
        cache: mut new_cache,
        removed_pages,
        mut freshness,
        anchor_targets,
        mut pages,
        sections,
    } = content::assemble(
        root,
        &config,
        &inventory,
        drafts,
        &mut cache,
        records,
        &mut problems,
    );

    let mut by_content_path = rustc_hash::FxHashMap::with_capacity_and_hasher(
        pages.len() + sections.len(),
        rustc_hash::FxBuildHasher,
    );
    for (i, page) in pages.iter().enumerate() {
        by_content_path.insert(page.doc.relative_path.clone(), ContentRef::Page(PageId(i)));
    }
    for (i, section) in sections.iter().enumerate() {
        by_content_path.insert(
            section.doc.relative_path.clone(),
            ContentRef::Section(crate::site::SectionId(i)),
        );
    }
    let taxonomies = taxonomies(&config, &pages);
    let mut static_files = static_files(
        root,
        &config,
        sources,
        theme,
        &cache,
        &mut new_cache,
        &mut freshness,
        &mut problems,
    );
    add_made(
        &mut static_files,
        crate::config::highlighting::stylesheets(config.markdown.highlighting.as_ref()),
        &root.join("static"),
    );
    let compiled = sass::compile(
        root,
        config.compile_sass,
        theme,
        sources,
        sass::CacheSides {
            previous: &cache,
            next: &mut new_cache,
            freshness: &mut freshness,
        },
        &mut problems,
    );
    add_compiled(&mut static_files, compiled.files);
    let templates = templates::read(root, sources, theme, &mut problems);

    let mut site = Site {
        root: root.to_path_buf(),
        config,
        pages: Vec::new(),
        sections,
        taxonomies,
        static_files,
        templates,
        by_content_path,
        anchor_targets,
        prompt_files,
        backlinks: rustc_hash::FxHashMap::default(),
        translations: rustc_hash::FxHashMap::default(),
    };
    // Summaries need every page's URL (for `@/` links), so they come last.
    // A summary that may call shortcodes is rendered with the templates, by render.
    let anchor = crate::site::anchor::AnchorTemplate::new(&site);
    let summaries: Vec<Option<String>> = pages
        .par_iter()
        .map(|page| {
            let anchor_link = |id: &str, level: u32| anchor.render_in(id, level, &page.doc.lang);
            let source = page.doc.summary.as_deref()?;
            if crate::splice::may_have_calls(source) {
                return None;
            }
            let resolve = |path: &str| permalink_in(&site, &pages, path);
            Some(
                markdown::render_with(
                    source,
                    &page.doc.markdown,
                    &page.doc.permalink,
                    &resolve,
                    &anchor_link,
                )
                .html
                // As Zola, which trims the summary's end.
                .trim_end()
                .to_owned(),
            )
        })
        .collect();
    for (page, summary) in pages.iter_mut().zip(summaries) {
        let source = std::mem::replace(&mut page.doc.summary, summary);
        if page.doc.summary.is_none() {
            page.doc.summary_markdown = source;
        }
    }
    for section in &mut site.sections {
        section.doc.summary = None;
    }
    site.pages = pages;
    site.find_backlinks();
    site.find_translations();

    let (errors, warnings): (Vec<_>, Vec<_>) = problems.into_iter().partition(Diagnostic::is_error);
    if errors.is_empty() {
        let removed_sources: Vec<String> = cache
            .into_keys()
            .filter(|key| !new_cache.contains_key(key))
            .collect();
        let cache_changed = !removed_sources.is_empty()
            || freshness.iter().any(|(_, f)| *f != Freshness::Unchanged);
        Ok(Loaded {
            site,
            warnings,
            changes: SourceChanges {
                cache: new_cache,
                freshness,
                removed_pages,
                removed_sources,
                cache_changed,
                stylesheets_compiled: compiled.compiled,
                reads_outside: compiled.reads_outside,
            },
        })
    } else {
        let mut all = errors;
        all.extend(warnings);
        Err(Error::Site(all))
    }
}

/// A permalink while `site.pages` is still being filled in.
fn permalink_in(site: &Site, pages: &[crate::site::Page], path: &str) -> Option<String> {
    match site.by_content_path.get(path.trim_start_matches('/'))? {
        ContentRef::Page(id) => Some(pages[id.0].doc.permalink.clone()),
        ContentRef::Section(id) => Some(site.section(*id).doc.permalink.clone()),
    }
}

/// The taxonomies of every language, the default one's first, each classifying the pages of
/// its language, under `/CODE/` for the others (as Zola).
fn taxonomies(config: &Config, pages: &[crate::site::Page]) -> Vec<Taxonomy> {
    config
        .language_codes()
        .flat_map(|lang| config.taxonomies_of(lang).iter().map(move |tc| (lang, tc)))
        .map(|(lang, tc)| {
            let strategy = config.slugify.taxonomies;
            let slug = strategy.path(&tc.name);
            let prefix = config.lang_prefix(lang);
            let path = match config.taxonomy_root.as_deref().map(|r| r.trim_matches('/')) {
                Some(root) if !root.is_empty() => format!("{prefix}/{root}/{slug}/"),
                _ => format!("{prefix}/{slug}/"),
            };
            let mut terms: BTreeMap<String, Term> = BTreeMap::new();
            // Term names repeat across thousands of pages: slugify each name once.
            let mut slugs: HashMap<&str, String> = HashMap::new();
            for (i, page) in pages.iter().enumerate() {
                if page.doc.lang != lang {
                    continue;
                }
                for name in page.meta.taxonomies.get(&tc.name).into_iter().flatten() {
                    let term_slug = slugs
                        .entry(name.as_str())
                        .or_insert_with(|| strategy.path(name));
                    if let Some(term) = terms.get_mut(term_slug.as_str()) {
                        term.pages.push(PageId(i));
                        // Names that slugify alike are one term, shown by the smallest name
                        // (`Rust` before `rust`), whichever page comes first, as in Zola.
                        if *name < term.name {
                            term.name.clone_from(name);
                        }
                        continue;
                    }
                    let term_path = format!("{path}{term_slug}/");
                    let term = Term {
                        name: name.clone(),
                        slug: term_slug.clone(),
                        permalink: config.permalink(&term_path),
                        path: term_path,
                        pages: vec![PageId(i)],
                    };
                    terms.insert(term_slug.clone(), term);
                }
            }
            let mut terms: Vec<Term> = terms.into_values().collect();
            for term in &mut terms {
                term.pages.dedup();
                // As Zola: dated pages newest first, then the undated ones.
                let undated = content::sort_pages(
                    &mut term.pages,
                    crate::site::front_matter::SortBy::Date,
                    pages,
                );
                term.pages.extend(undated);
            }
            Taxonomy {
                config: crate::config::TaxonomyConfig { slug, ..tc.clone() },
                permalink: config.permalink(&path),
                path,
                terms,
                lang: lang.to_owned(),
            }
        })
        .collect()
}

/// Adds the files the build makes (the highlighting stylesheets) to the static files: over a
/// theme's file of the same name, under the site's own (Zola writes them into the site's
/// static/ when they are missing there).
fn add_made(files: &mut Vec<StaticFile>, made: Vec<(String, Arc<[u8]>)>, site_static: &Path) {
    for (name, bytes) in made {
        let file = StaticFile {
            hash: ContentHash::of(&bytes),
            source: StaticSource::Made(bytes),
            name,
        };
        match files.binary_search_by(|f| f.name.cmp(&file.name)) {
            Ok(i) => {
                if !matches!(&files[i].source, StaticSource::File(p) if p.starts_with(site_static))
                {
                    files[i] = file;
                }
            }
            Err(i) => files.insert(i, file),
        }
    }
}

/// Adds the compiled Sass stylesheets to the static files, under any static file of the same
/// name (Zola copies the static files over the CSS it compiled).
fn add_compiled(files: &mut Vec<StaticFile>, compiled: Vec<(String, Arc<[u8]>)>) {
    for (name, bytes) in compiled {
        if let Err(i) = files.binary_search_by(|f| f.name.cmp(&name)) {
            files.insert(
                i,
                StaticFile {
                    hash: ContentHash::of(&bytes),
                    source: StaticSource::Made(bytes),
                    name,
                },
            );
        }
    }
}

#[allow(clippy::too_many_arguments)] // the folder, its filter, and the cache's four sides
fn static_files(
    root: &Path,
    site_config: &Config,
    sources: &SourceFiles,
    theme: &Theme,
    cache: &SourceCache,
    new_cache: &mut SourceCache,
    freshness: &mut Vec<(String, Freshness)>,
    problems: &mut Vec<Diagnostic>,
) -> Vec<StaticFile> {
    let mut by_name: BTreeMap<String, (StaticSource, Option<Stat>)> = BTreeMap::new();
    match theme {
        Theme::Builtin => {
            for (name, bytes) in Theme::builtin_files("static/") {
                by_name.insert(name.to_owned(), (StaticSource::Builtin(bytes), None));
            }
        }
        Theme::Folder(_) => {
            let folder = theme.folder_of("static").unwrap_or_default();
            for (name, path, stat) in sources.files_in(root, &folder) {
                by_name.insert(name, (StaticSource::File(path), Some(stat)));
            }
        }
        Theme::None => {}
    }
    for (name, path, stat) in sources.files_in(root, "static") {
        if site_config.ignored.static_file(&name) {
            continue;
        }
        by_name.insert(name, (StaticSource::File(path), Some(stat)));
    }
    let hashed: Vec<_> = by_name
        .into_par_iter()
        .map(|(name, (source, stat))| {
            let hash = match (&source, stat) {
                (StaticSource::Builtin(bytes), _) => Ok((ContentHash::of(bytes), None)),
                (StaticSource::Made(bytes), _) => Ok((ContentHash::of(bytes), None)),
                (StaticSource::File(path), Some(stat)) => {
                    let key = relative_to(path, root).to_string_lossy().replace('\\', "/");
                    source::file_hash(path, stat, cache.get(&key))
                        .map(|(hash, fresh)| (hash, Some((key, stat, fresh))))
                        .map_err(|e| {
                            Diagnostic::error(format!("cannot read file: {e}"))
                                .in_file(relative_to(path, root))
                        })
                }
                (StaticSource::File(path), None) => {
                    Err(Diagnostic::error("cannot read file").in_file(path))
                }
            };
            (name, source, hash)
        })
        .collect();
    let mut files = Vec::with_capacity(hashed.len());
    for (name, source, hash) in hashed {
        match hash {
            Ok((hash, record)) => {
                if let Some((key, stat, fresh)) = record {
                    freshness.push((key.clone(), fresh));
                    new_cache.insert(
                        key,
                        Cached {
                            stat,
                            made: Made::File(hash),
                        },
                    );
                }
                files.push(StaticFile { source, hash, name });
            }
            Err(d) => problems.push(d),
        }
    }
    files
}
