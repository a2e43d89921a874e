//! content/: finding and parsing pages, sections and their co-located files.
//!
//! Files are read and parsed in parallel (rayon); the model is then assembled in one
//! deterministic pass (paths, listings, siblings), whatever order the file system lists files in.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use rayon::prelude::*;

use crate::config::Config;
use crate::diagnostics::Diagnostic;
use crate::hash::ContentHash;
use crate::load::data::Record;
use crate::load::front_matter::{self, parse_date};
use crate::load::source::{
    self, Cached, Freshness, FrontMatter, KeyProblem, KeySpans, Made, Parsed, SourceCache, Stat,
};
use crate::load::walk::SourceFiles;
use crate::markdown;
use crate::site::front_matter::{Date, PageFrontMatter, SectionFrontMatter, SortBy};
use crate::site::paths::{alias_path, page_path};
use crate::site::{Asset, Document, Page, PageId, Section, SectionId};

/// A content file found by the walk.
#[derive(Debug)]
enum Found {
    Section,
    Page,
    Asset,
    /// `_index.CODE.md` of a language the config does not declare: not read, as in Zola.
    Skipped,
}

/// The sections of each language by folder under content/: language → folder → section.
type SectionDirs = HashMap<String, HashMap<String, SectionId>>;

/// Content files, by kind, with paths relative to content/ and their stat.
#[derive(Debug, Default)]
pub(crate) struct Inventory {
    sections: Vec<(String, Stat)>,
    pages: Vec<(String, Stat)>,
    assets: Vec<(String, Stat)>,
    /// `_index.CODE.md` files of undeclared languages, left unread.
    skipped: Vec<String>,
}

/// The content files among the site's source files, by kind.
pub(crate) fn inventory(sources: &SourceFiles, config: &Config) -> Inventory {
    let mut inventory = Inventory::default();
    for (relative, stat) in sources.under("content") {
        if config.ignored.content(relative) {
            continue;
        }
        let entry = (relative.to_owned(), stat);
        match classify(relative, config) {
            Found::Section => inventory.sections.push(entry),
            Found::Page => inventory.pages.push(entry),
            Found::Asset => inventory.assets.push(entry),
            Found::Skipped => inventory.skipped.push(entry.0),
        }
    }
    inventory
}

fn classify(relative: &str, config: &Config) -> Found {
    let name = file_name(relative);
    if name == "_index.md" {
        Found::Section
    } else if let Some(code) = name
        .strip_prefix("_index.")
        .and_then(|rest| rest.strip_suffix(".md"))
    {
        // As Zola: `_index.CODE.md` is the section of language CODE; any other `_index.*`
        // file is not content.
        if config.languages.contains_key(code) {
            Found::Section
        } else {
            Found::Skipped
        }
    } else if name.ends_with(".md") {
        Found::Page
    } else {
        Found::Asset
    }
}

/// The pages and sections of a site, assembled.
pub(crate) struct Content {
    /// What this build made of every content file, for the next build's cache.
    pub(crate) cache: SourceCache,
    /// Pages of the previous build whose file is gone.
    pub(crate) removed_pages: usize,
    /// How each content file compares with the previous build, by root-relative path.
    pub(crate) freshness: Vec<(String, Freshness)>,
    /// Content paths that anchor links point to.
    pub(crate) anchor_targets: std::collections::HashSet<String>,
    /// Pages, by content path.
    pub(crate) pages: Vec<Page>,
    /// Sections, by content path, the root first.
    pub(crate) sections: Vec<Section>,
}

/// Parses every file of `inventory` (reusing `cache` where files did not change) and
/// assembles pages and sections.
pub(crate) fn assemble(
    root: &Path,
    config: &Config,
    inventory: &Inventory,
    drafts: bool,
    cache: &mut SourceCache,
    records: Vec<Record>,
    problems: &mut Vec<Diagnostic>,
) -> Content {
    let key_of = |relative: &str| format!("content/{relative}");
    // Take each file's entry out of the previous cache: unchanged parses move, not copy.
    let mut take = |list: &[(String, Stat)]| -> Vec<Option<Cached>> {
        list.iter().map(|(r, _)| cache.remove(&key_of(r))).collect()
    };
    let section_cache = take(&inventory.sections);
    let page_cache = take(&inventory.pages);
    let (sections, section_errors) =
        parse_all(root, &inventory.sections, section_cache, |m| match m {
            Made::Section(p) => Some(p),
            _ => None,
        });
    let (pages, page_errors) = parse_all(root, &inventory.pages, page_cache, |m| match m {
        Made::Page(p) => Some(p),
        _ => None,
    });
    problems.extend(section_errors);
    problems.extend(page_errors);
    for relative in &inventory.skipped {
        problems.push(
            Diagnostic::warning(format!(
                "`{}` is not read: its language is not one of the config's `languages`",
                file_name(relative)
            ))
            .in_file(format!("content/{relative}"))
            .with_help(
                "add `[languages.CODE]` to the config, or rename the file (Zola ignores it too)",
            ),
        );
    }
    for (parsed, _) in &pages {
        problems.extend(parsed.ignored_key_warnings(root));
    }
    for (parsed, _) in &sections {
        problems.extend(parsed.ignored_key_warnings(root));
    }
    let removed_pages = cache
        .iter()
        .filter(|(key, c)| key.starts_with("content/") && matches!(c.made, Made::Page(_)))
        .count();
    let anchor_targets = sections
        .iter()
        .flat_map(|(s, _)| &s.anchor_targets)
        .chain(pages.iter().flat_map(|(p, _)| &p.anchor_targets))
        .cloned()
        .collect();
    let mut freshness: Vec<(String, Freshness)> =
        Vec::with_capacity(sections.len() + pages.len() + inventory.assets.len());
    for (parsed, fresh) in sections
        .iter()
        .map(|(p, f)| (&p.relative, f))
        .chain(pages.iter().map(|(p, f)| (&p.relative, f)))
    {
        freshness.push((key_of(parsed), *fresh));
    }
    let sections_parsed: Vec<_> = sections.into_iter().map(|(p, _)| p).collect();
    let pages: Vec<_> = pages.into_iter().map(|(p, _)| p).collect();

    let mut sections = build_sections(root, config, &sections_parsed);
    let section_dirs = section_dirs(&sections);
    let any_section = |dir: &str| section_dirs.values().any(|m| m.contains_key(dir));
    // A bundle's folder holds its page in each language.
    let mut bundle_dirs: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, p) in pages.iter().enumerate() {
        let canonical =
            language_of(&p.relative, config).map_or_else(|_| p.relative.clone(), |l| l.1);
        if file_name(&canonical) == "index.md" && !any_section(dir_of(&canonical)) {
            bundle_dirs
                .entry(dir_of(&canonical).to_owned())
                .or_default()
                .push(i);
        }
    }

    let results: Vec<Option<Result<Page, Diagnostic>>> = pages
        .par_iter()
        .map(|parsed| {
            (!parsed.meta.draft || drafts)
                .then(|| build_page(root, config, parsed, &section_dirs, &sections))
        })
        .collect();
    let mut built: Vec<Page> = Vec::with_capacity(pages.len());
    // Per parsed page, its index among the built pages (drafts are left out).
    let mut kept_index: Vec<Option<usize>> = vec![None; pages.len()];
    for (i, result) in results.into_iter().enumerate() {
        match result {
            Some(Ok(page)) => {
                kept_index[i] = Some(built.len());
                built.push(page);
            }
            Some(Err(d)) => problems.push(d),
            None => {}
        }
    }

    // Pages of collections come after the files' (bundle indices above stay valid).
    let collection_pages: Vec<Result<Page, Diagnostic>> = records
        .into_par_iter()
        .map(|record| collection_page(root, config, record, &section_dirs, &sections))
        .collect();
    for page in collection_pages {
        match page {
            Ok(page) => built.push(page),
            Err(d) => problems.push(d),
        }
    }

    let assets = hash_assets(root, inventory, cache, problems);
    let stat_of = |list: &[(String, Stat)], relative: &str| {
        list.binary_search_by(|(r, _)| r.as_str().cmp(relative))
            .map_or(
                Stat {
                    size: 0,
                    mtime_ns: 0,
                },
                |i| list[i].1,
            )
    };
    let mut new_cache = SourceCache::with_capacity_and_hasher(
        sections_parsed.len() + pages.len() + assets.len(),
        rustc_hash::FxBuildHasher,
    );
    for parsed in sections_parsed {
        let stat = stat_of(&inventory.sections, &parsed.relative);
        new_cache.insert(
            key_of(&parsed.relative),
            Cached {
                stat,
                made: Made::Section(parsed),
            },
        );
    }
    for parsed in pages {
        let stat = stat_of(&inventory.pages, &parsed.relative);
        new_cache.insert(
            key_of(&parsed.relative),
            Cached {
                stat,
                made: Made::Page(parsed),
            },
        );
    }
    for (key, stat, hash, fresh) in &assets {
        freshness.push((key.clone(), *fresh));
        new_cache.insert(
            key.clone(),
            Cached {
                stat: *stat,
                made: Made::File(*hash),
            },
        );
    }
    attach_assets(
        root,
        &assets,
        &section_dirs,
        &bundle_dirs,
        &kept_index,
        &mut built,
        &mut sections,
    );
    link_sections(&mut sections, &mut built);
    Content {
        cache: new_cache,
        removed_pages,
        freshness,
        anchor_targets,
        pages: built,
        sections,
    }
}

/// The language of the content file at `relative` and its path without it, as Zola's
/// `find_language`: on a multilingual site, `NAME.CODE.md` is the page of language CODE
/// (`NAME.md` its canonical path); `NAME.DEFAULT.md` keeps its name, in the default language;
/// any other code is an error. A site of one language reads every name as it is.
pub(crate) fn language_of(relative: &str, config: &Config) -> Result<(String, String), String> {
    let default = || (config.default_language.clone(), relative.to_owned());
    let name = file_name(relative);
    let Some(stem) = name.strip_suffix(".md") else {
        return Ok(default());
    };
    if !config.is_multilingual() {
        return Ok(default());
    }
    let Some((base, code)) = stem.split_once('.') else {
        return Ok(default());
    };
    if code == config.default_language {
        return Ok(default());
    }
    if !config.languages.contains_key(code) {
        return Err(format!(
            "the file has the language code `{code}`, which is not one of the config's `languages`"
        ));
    }
    let dir = dir_of(relative);
    let canonical = if dir.is_empty() {
        format!("{base}.md")
    } else {
        format!("{dir}/{base}.md")
    };
    Ok((code.to_owned(), canonical))
}

/// The sections of each language by folder.
fn section_dirs(sections: &[Section]) -> SectionDirs {
    let mut dirs: SectionDirs = HashMap::new();
    for (i, s) in sections.iter().enumerate() {
        dirs.entry(s.doc.lang.clone())
            .or_default()
            .insert(dir_of(&s.doc.relative_path).to_owned(), SectionId(i));
    }
    dirs
}

/// Parses the markdown files `list` in parallel, reusing their `cached` entries, in order; the
/// failures apart.
fn parse_all<T>(
    root: &Path,
    list: &[(String, Stat)],
    cached: Vec<Option<Cached>>,
    pick: fn(Made) -> Option<Parsed<T>>,
) -> (Vec<(Parsed<T>, Freshness)>, Vec<Diagnostic>)
where
    T: FrontMatter + Send + Sync,
{
    // Collected in order into one exact-size vector, then split: rayon's partition_map grows
    // and concatenates lists of these large values, which showed in profiles.
    let results: Vec<_> = list
        .par_iter()
        .zip(cached)
        .map(|((relative, stat), cached)| {
            source::markdown(
                root,
                &format!("content/{relative}"),
                relative,
                *stat,
                cached,
                pick,
            )
        })
        .collect();
    split_results(results)
}

/// The successes and the failures of `results`, each in order.
fn split_results<T, E>(results: Vec<Result<T, E>>) -> (Vec<T>, Vec<E>) {
    let mut ok = Vec::with_capacity(results.len());
    let mut errors = Vec::new();
    for result in results {
        match result {
            Ok(value) => ok.push(value),
            Err(e) => errors.push(e),
        }
    }
    (ok, errors)
}

fn file_name(relative: &str) -> &str {
    relative.rsplit('/').next().unwrap_or(relative)
}

/// The folder of a content path (`blog/a.md` → `blog`, `a.md` → the empty string).
fn dir_of(relative: &str) -> &str {
    relative.rfind('/').map_or("", |i| &relative[..i])
}

/// The URL components of a content folder: its folder names as written, as Zola keeps them
/// (only a page's own slug is slugified). They are names of real folders under `content/`, so
/// none is `..` or holds a `/`.
fn dir_components(dir: &str) -> Vec<String> {
    dir.split('/')
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect()
}

fn site_path_of(components: &[String]) -> String {
    if components.is_empty() {
        "/".to_owned()
    } else {
        format!("/{}/", components.join("/"))
    }
}

fn build_sections(
    root: &Path,
    config: &Config,
    parsed: &[Parsed<SectionFrontMatter>],
) -> Vec<Section> {
    let mut sections: Vec<Section> = parsed
        .iter()
        .map(|p| {
            // Only `_index.md` and `_index.CODE.md` of a declared language are sections.
            let (lang, canonical) = language_of(&p.relative, config)
                .unwrap_or_else(|_| (config.default_language.clone(), p.relative.clone()));
            let components = dir_components(dir_of(&p.relative));
            let path = format!("{}{}", config.lang_prefix(&lang), site_path_of(&components));
            let is_root = canonical == "_index.md";
            let template = match &p.meta.template {
                Some(t) => t.clone(),
                None => (if is_root {
                    "index.html"
                } else {
                    "section.html"
                })
                .to_owned(),
            };
            let markdown = markdown::RenderOptions::new(config, p.meta.insert_anchor_links)
                .with_anchors(config.slugify.anchors);
            let _ = root;
            Section {
                doc: Document {
                    template_span: p.spans.template,
                    permalink: config.permalink(&path),
                    path,
                    has_file: true,
                    relative_path: p.relative.clone(),
                    body_offset: p.body_offset,
                    body_len: p.body_len,
                    hash: p.hash,
                    front_matter_hash: p.front_matter_hash,
                    links: p.links.clone(),
                    word_count: p.word_count,
                    summary: p.summary_source.clone(),
                    summary_markdown: None,
                    summary_open: p.summary_open,
                    assets: Vec::new(),
                    template,
                    markdown,
                    ancestors: Vec::new(),
                    lang,
                    canonical,
                },
                meta: std::sync::Arc::clone(&p.meta),
                parent: None,
                pages: Vec::new(),
                subsections: Vec::new(),
            }
        })
        .collect();
    // As Zola: every language has a home page, a file or not.
    for lang in config.language_codes() {
        let relative_path = if lang == config.default_language {
            "_index.md".to_owned()
        } else {
            format!("_index.{lang}.md")
        };
        if sections
            .iter()
            .any(|s| s.doc.relative_path == relative_path)
        {
            continue;
        }
        let path = format!("{}/", config.lang_prefix(lang));
        sections.push(Section {
            doc: Document {
                template_span: None,
                relative_path,
                has_file: false,
                permalink: config.permalink(&path),
                path,
                body_offset: 0,
                body_len: 0,
                hash: ContentHash::of(b""),
                front_matter_hash: ContentHash::of(b""),
                links: Vec::new(),
                word_count: 0,
                summary: None,
                summary_markdown: None,
                summary_open: false,
                assets: Vec::new(),
                template: "index.html".to_owned(),
                markdown: markdown::RenderOptions::new(config, None)
                    .with_anchors(config.slugify.anchors),
                ancestors: Vec::new(),
                lang: lang.to_owned(),
                canonical: "_index.md".to_owned(),
            },
            meta: std::sync::Arc::default(),
            parent: None,
            pages: Vec::new(),
            subsections: Vec::new(),
        });
    }
    // The root first, then by content path: deterministic ids.
    sections.sort_by(|a, b| {
        (a.doc.relative_path != "_index.md", &a.doc.relative_path)
            .cmp(&(b.doc.relative_path != "_index.md", &b.doc.relative_path))
    });
    sections
}

fn nearest_section(dir: &str, section_dirs: &HashMap<String, SectionId>) -> Option<SectionId> {
    let mut dir = dir;
    loop {
        if let Some(id) = section_dirs.get(dir) {
            return Some(*id);
        }
        if dir.is_empty() {
            return None;
        }
        dir = dir_of(dir);
    }
}

/// The folder of a page's output, relative to content/: a bundle's folder is the page.
fn page_dir(relative: &str) -> &str {
    if file_name(relative) == "index.md" {
        dir_of(relative)
    } else {
        &relative[..relative.len() - 3]
    }
}

/// A page's date prefix (`2024-05-01-hello.md`) and the rest of its name.
fn dated_stem(relative: &str) -> (Option<&str>, &str) {
    let stem = file_name(page_dir(relative));
    match front_matter::date_prefix(stem) {
        Some((date, rest)) => (Some(date), rest),
        None => (None, stem),
    }
}

impl FrontMatter for PageFrontMatter {
    fn check(&self, relative: &str) -> Result<(), KeyProblem> {
        let problem = |key: &str, message: String, help: &str| KeyProblem {
            key: key.to_owned(),
            message,
            help: help.to_owned(),
        };
        for (key, value) in [("date", &self.date), ("updated", &self.updated)] {
            if let Some(Err(e)) = value.as_ref().map(parse_date) {
                return Err(problem(
                    key,
                    format!("invalid date: {e}"),
                    "write dates as 2024-05-01 or 2024-05-01T10:00:00Z",
                ));
            }
        }
        let stem = dated_stem(relative).1;
        if slug::slugify(self.slug.as_deref().unwrap_or(stem)).is_empty() {
            return Err(problem(
                "slug",
                "the page's slug is empty".to_owned(),
                "give the page a `slug` made of letters or digits",
            ));
        }
        if let Some(raw) = &self.path {
            page_path(raw).map_err(|e| {
                problem(
                    "path",
                    e,
                    "`path` is a URL path inside the site, like `docs/intro`",
                )
            })?;
        }
        for alias in &self.aliases {
            alias_path(alias).map_err(|e| {
                problem(
                    "aliases",
                    e,
                    "aliases are URL paths inside the site, like `/old/url/`",
                )
            })?;
        }
        Ok(())
    }

    fn spans(
        &self,
        at: &dyn Fn(&str) -> Option<u32>,
        value_at: &dyn Fn(&str) -> Option<u32>,
    ) -> KeySpans {
        KeySpans {
            template: value_at("template"),
            taxonomies: self
                .taxonomies
                .keys()
                .map(|name| at(&format!("taxonomies.{name}")).or_else(|| at("taxonomies")))
                .collect(),
        }
    }
}

impl FrontMatter for SectionFrontMatter {
    fn check(&self, _relative: &str) -> Result<(), KeyProblem> {
        Ok(())
    }

    fn spans(
        &self,
        _at: &dyn Fn(&str) -> Option<u32>,
        value_at: &dyn Fn(&str) -> Option<u32>,
    ) -> KeySpans {
        KeySpans {
            template: value_at("template"),
            taxonomies: Box::default(),
        }
    }
}

/// A page of the parse `p` (checked while parsed: its dates, slug, path and aliases are valid).
fn build_page(
    root: &Path,
    config: &Config,
    p: &Parsed<PageFrontMatter>,
    section_dirs: &SectionDirs,
    sections: &[Section],
) -> Result<Page, Diagnostic> {
    let (lang, canonical) = language_of(&p.relative, config).map_err(|message| {
        p.at(root, None, message).with_help(format!(
            "add `[languages.CODE]` to the config, or rename the file (languages: {})",
            config.language_codes().collect::<Vec<_>>().join(", ")
        ))
    })?;
    let no_sections = HashMap::new();
    let section_dirs = section_dirs.get(&lang).unwrap_or(&no_sections);
    let page_dir = page_dir(&canonical);
    let parent_dir = dir_of(page_dir);
    let (prefix_date, stem) = dated_stem(&canonical);
    let date = match (&p.meta.date, prefix_date) {
        (Some(value), _) => parse_date(value).ok(),
        (None, Some(text)) => parse_date(&serde_json::Value::String(text.to_owned())).ok(),
        (None, None) => None,
    };
    let updated = p.meta.updated.as_ref().and_then(|v| parse_date(v).ok());
    // `paths_keep_dates` keeps a file name's date prefix in the slug, as in Zola.
    let stem = if config.slugify.paths_keep_dates {
        file_name(page_dir)
    } else {
        stem
    };
    let slug = config
        .slugify
        .paths
        .path(p.meta.slug.as_deref().unwrap_or(stem));
    let path = if let Some(raw) = &p.meta.path {
        // As Zola: an explicit path is kept as written, whatever the language.
        page_path(raw).unwrap_or_else(|_| "/".to_owned())
    } else {
        let mut components = dir_components(parent_dir);
        components.push(slug.clone());
        format!("{}{}", config.lang_prefix(&lang), site_path_of(&components))
    };
    let taxonomies = config.taxonomies_of(&lang);
    if let Some((i, name)) = p
        .meta
        .taxonomies
        .keys()
        .enumerate()
        .find(|(_, name)| !taxonomies.iter().any(|t| &t.name == *name))
    {
        let at = p.spans.taxonomies.get(i).copied().flatten();
        let (message, help) = if lang == config.default_language {
            (
                format!("taxonomy `{name}` is not defined in the config"),
                format!(
                    "add `taxonomies = [{{ name = \"{name}\" }}]` to the config, or remove it from this page"
                ),
            )
        } else {
            (
                format!("taxonomy `{name}` is not defined for language `{lang}` in the config"),
                format!(
                    "add `taxonomies = [{{ name = \"{name}\" }}]` to `[languages.{lang}]`, or remove it from this page"
                ),
            )
        };
        return Err(p.at(root, at, message).with_help(help));
    }
    let section = section_dirs.get(parent_dir).copied();
    // As Zola: a page outside any section of its language (no `_index.md` in its folder) is an
    // orphan, without ancestors.
    let ancestors = if section.is_some() {
        section_chain(parent_dir, section_dirs)
    } else {
        Vec::new()
    };
    let page_template = ancestors
        .iter()
        .rev()
        .find_map(|id| sections[id.0].meta.page_template.clone());
    let template = p
        .meta
        .template
        .clone()
        .or(page_template)
        .unwrap_or_else(|| "page.html".to_owned());
    let anchor_links = ancestors
        .last()
        .and_then(|id| sections[id.0].meta.insert_anchor_links);
    Ok(Page {
        doc: Document {
            template_span: p.spans.template,
            permalink: config.permalink(&path),
            path,
            has_file: true,
            relative_path: p.relative.clone(),
            body_offset: p.body_offset,
            body_len: p.body_len,
            hash: p.hash,
            front_matter_hash: p.front_matter_hash,
            links: p.links.clone(),
            word_count: p.word_count,
            summary: p.summary_source.clone(),
            summary_markdown: None,
            summary_open: p.summary_open,
            assets: Vec::new(),
            template,
            markdown: markdown::RenderOptions::new(config, anchor_links)
                .with_anchors(config.slugify.anchors),
            ancestors,
            lang,
            canonical,
        },
        meta: std::sync::Arc::clone(&p.meta),
        slug,
        date,
        updated,
        section,
        higher: None,
        lower: None,
        data: None,
    })
}

/// The page of a collection's record: no file, its fields as `page.data`, in the deepest
/// section whose URL path holds its own.
fn collection_page(
    root: &Path,
    config: &Config,
    record: Record,
    section_dirs: &SectionDirs,
    sections: &[Section],
) -> Result<Page, Diagnostic> {
    // Records are pages of the default language.
    let no_sections = HashMap::new();
    let section_dirs = section_dirs
        .get(&config.default_language)
        .unwrap_or(&no_sections);
    let collection = &config.collections[record.collection];
    let at = |message: String| {
        let text = std::fs::read_to_string(root.join(&record.file)).unwrap_or_default();
        let d = Diagnostic::error(message);
        if crate::load::data::has_lines(&record.file) {
            d.at(&record.file, &text, record.line, None)
        } else {
            d.in_file(&record.file)
        }
    };
    let date = record
        .date
        .as_ref()
        .map(|value| {
            parse_date(value).map_err(|e| {
                at(format!("invalid date: {e}"))
                    .with_help("write dates as 2024-05-01 or 2024-05-01T10:00:00Z")
            })
        })
        .transpose()?;
    if let Some(name) = record
        .taxonomies
        .keys()
        .find(|name| config.taxonomy(name).is_none())
    {
        return Err(at(format!(
            "collection `{}`: taxonomy `{name}` is not defined in the config",
            collection.name
        ))
        .with_help(format!(
            "add `taxonomies = [{{ name = \"{name}\" }}]` to the config"
        )));
    }
    // The deepest section whose path is a prefix of the page's.
    let section = section_dirs
        .iter()
        .filter(|(_, id)| record.path.starts_with(&sections[id.0].doc.path))
        .max_by_key(|(_, id)| sections[id.0].doc.path.len())
        .map(|(dir, id)| (dir.clone(), *id));
    let ancestors = section
        .as_ref()
        .map(|(dir, _)| section_chain(dir, section_dirs))
        .unwrap_or_default();
    let slug = record
        .path
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    let meta = PageFrontMatter {
        title: record.title,
        description: record.description,
        date: record.date,
        template: Some(collection.template.clone()),
        taxonomies: record.taxonomies,
        generate: collection.generate.clone(),
        ..PageFrontMatter::default()
    };
    let relative_path = format!("@{}{}", collection.name, record.path);
    let canonical = relative_path.clone();
    Ok(Page {
        doc: Document {
            template_span: None,
            permalink: config.permalink(&record.path),
            path: record.path,
            has_file: false,
            relative_path,
            body_offset: 0,
            body_len: 0,
            hash: record.hash,
            front_matter_hash: record.hash,
            links: Vec::new(),
            word_count: 0,
            summary: None,
            summary_markdown: None,
            summary_open: false,
            assets: Vec::new(),
            template: collection.template.clone(),
            markdown: markdown::RenderOptions::new(config, None)
                .with_anchors(config.slugify.anchors),
            ancestors,
            lang: config.default_language.clone(),
            canonical,
        },
        meta: std::sync::Arc::new(meta),
        slug,
        date,
        updated: None,
        section: section.map(|(_, id)| id),
        higher: None,
        lower: None,
        data: Some(record.data),
    })
}

/// The sections above a folder, the root first, found by walking up its folders.
fn section_chain(dir: &str, section_dirs: &HashMap<String, SectionId>) -> Vec<SectionId> {
    let mut chain = Vec::new();
    let mut dir = dir;
    loop {
        if let Some(id) = section_dirs.get(dir) {
            chain.push(*id);
        }
        if dir.is_empty() {
            break;
        }
        dir = dir_of(dir);
    }
    chain.reverse();
    chain
}

/// A content file that is not markdown: root-relative key, stat, hash, freshness.
type HashedAsset = (String, Stat, ContentHash, Freshness);

/// Hashes the non-markdown files of content/ (reading only those whose stat changed).
fn hash_assets(
    root: &Path,
    inventory: &Inventory,
    cache: &SourceCache,
    problems: &mut Vec<Diagnostic>,
) -> Vec<HashedAsset> {
    let results: Vec<Result<HashedAsset, Diagnostic>> = inventory
        .assets
        .par_iter()
        .map(|(relative, stat)| {
            let key = format!("content/{relative}");
            let (hash, fresh) = source::file_hash(&root.join(&key), *stat, cache.get(&key))
                .map_err(|e| Diagnostic::error(format!("cannot read file: {e}")).in_file(&key))?;
            Ok((key, *stat, hash, fresh))
        })
        .collect();
    let mut assets = Vec::with_capacity(results.len());
    for result in results {
        match result {
            Ok(asset) => assets.push(asset),
            Err(d) => problems.push(d),
        }
    }
    assets
}

/// Gives each non-markdown file to the nearest bundle or section folder above it.
fn attach_assets(
    root: &Path,
    assets: &[HashedAsset],
    section_dirs: &SectionDirs,
    bundle_dirs: &HashMap<String, Vec<usize>>,
    kept_index: &[Option<usize>],
    pages: &mut [Page],
    sections: &mut [Section],
) {
    for (key, _, hash, _) in assets {
        let relative = &key["content/".len()..];
        let source = root.join(key);
        let mut dir = dir_of(relative);
        loop {
            let name = if dir.is_empty() {
                relative.to_owned()
            } else {
                relative[dir.len() + 1..].to_owned()
            };
            // Each language's page or section of the folder gets the file (as in Zola, each
            // copies it beside its own output).
            if let Some(indices) = bundle_dirs.get(dir) {
                for index in indices {
                    if let Some(page) = kept_index.get(*index).copied().flatten() {
                        pages[page].doc.assets.push(Asset {
                            source: source.clone(),
                            name: name.clone(),
                            hash: *hash,
                        });
                    }
                }
                break;
            }
            let mut owners: Vec<SectionId> = section_dirs
                .values()
                .filter_map(|m| m.get(dir).copied())
                .collect();
            if !owners.is_empty() {
                owners.sort_unstable();
                for id in owners {
                    sections[id.0].doc.assets.push(Asset {
                        source: source.clone(),
                        name: name.clone(),
                        hash: *hash,
                    });
                }
                break;
            }
            if dir.is_empty() {
                break;
            }
            dir = dir_of(dir);
        }
    }
}

/// Links parents, subsections, sorted page lists and siblings.
fn link_sections(sections: &mut [Section], pages: &mut [Page]) {
    // Each language has its own tree: a section's parent is of its language.
    let by_lang = section_dirs(sections);
    for section in sections.iter_mut() {
        let dir = dir_of(&section.doc.relative_path);
        if dir.is_empty() {
            continue;
        }
        let dirs = &by_lang[&section.doc.lang];
        section.parent = nearest_section(dir_of(dir), dirs).or_else(|| dirs.get("").copied());
    }
    for section in sections.iter_mut() {
        let dir = dir_of(&section.doc.relative_path);
        section.doc.ancestors = if dir.is_empty() {
            Vec::new()
        } else {
            section_chain(dir_of(dir), &by_lang[&section.doc.lang])
        };
    }
    let mut children: BTreeMap<usize, Vec<SectionId>> = BTreeMap::new();
    for (i, s) in sections.iter().enumerate() {
        if let Some(parent) = s.parent {
            children.entry(parent.0).or_default().push(SectionId(i));
        }
    }
    for (parent, mut subs) in children {
        subs.sort_by(|a, b| {
            let (a, b) = (&sections[a.0], &sections[b.0]);
            (a.meta.weight, &a.doc.relative_path).cmp(&(b.meta.weight, &b.doc.relative_path))
        });
        sections[parent].subsections = subs;
    }
    // Direct pages, then those bubbling up from transparent subsections (deepest first).
    let mut direct: Vec<Vec<PageId>> = vec![Vec::new(); sections.len()];
    for (i, page) in pages.iter().enumerate() {
        if let Some(section) = page.section {
            direct[section.0].push(PageId(i));
        }
    }
    let mut order: Vec<usize> = (0..sections.len()).collect();
    order.sort_by_key(|i| std::cmp::Reverse(sections[*i].doc.relative_path.matches('/').count()));
    for i in order {
        if sections[i].meta.transparent
            && let Some(parent) = sections[i].parent
        {
            let moved = direct[i].clone();
            direct[parent.0].extend(moved);
        }
    }
    for (i, mut list) in direct.into_iter().enumerate() {
        // As Zola: pages that lack the sort key are not listed (`section.pages`), though
        // they are still written.
        let _unsorted = sort_pages(&mut list, sections[i].meta.sort_by, pages);
        if sections[i].meta.paginate_reversed {
            list.reverse();
        }
        sections[i].pages = list;
    }
    for (i, section) in sections.iter().enumerate() {
        let own: Vec<PageId> = section
            .pages
            .iter()
            .copied()
            .filter(|id| pages[id.0].section == Some(SectionId(i)))
            .collect();
        // As Zola: `lower` is the page before in the section's order, `higher` the one after;
        // an unsorted section's pages have neither.
        if section.meta.sort_by == SortBy::None {
            continue;
        }
        for (k, id) in own.iter().enumerate() {
            pages[id.0].lower = k.checked_sub(1).map(|j| own[j]);
            pages[id.0].higher = own.get(k + 1).copied();
        }
    }
}

/// Sorts pages by the section's order, as Zola does: pages lacking the key (a date, a title,
/// a weight) are left out of the sorted list and returned apart, in content path order; ties
/// are broken by permalink. `none` keeps content path order.
pub(crate) fn sort_pages(list: &mut Vec<PageId>, sort_by: SortBy, pages: &[Page]) -> Vec<PageId> {
    let path = |id: &PageId| pages[id.0].doc.relative_path.as_str();
    list.sort_by(|a, b| path(a).cmp(path(b)));
    let page = |id: &PageId| &pages[id.0];
    let has_key = |id: &PageId| {
        let p = page(id);
        match sort_by {
            SortBy::Date => p.date.is_some(),
            SortBy::UpdateDate => p.date.is_some() || p.updated.is_some(),
            SortBy::Title | SortBy::TitleBytes => p.meta.title.is_some(),
            SortBy::Weight => p.meta.weight.is_some(),
            SortBy::Slug | SortBy::Permalink | SortBy::None => true,
        }
    };
    let (mut sorted, unsorted): (Vec<PageId>, Vec<PageId>) =
        list.iter().partition(|id| has_key(id));
    let title = |id: &PageId| page(id).meta.title.as_deref().unwrap_or("");
    let updated = |id: &PageId| {
        let p = page(id);
        std::cmp::max(
            p.date.as_ref().map(|d: &Date| d.instant),
            p.updated.as_ref().map(|d: &Date| d.instant),
        )
    };
    let order = |a: &PageId, b: &PageId| -> Ordering {
        match sort_by {
            SortBy::Date => page(b)
                .date
                .as_ref()
                .map(|d| d.instant)
                .cmp(&page(a).date.as_ref().map(|d| d.instant)),
            SortBy::UpdateDate => updated(b).cmp(&updated(a)),
            SortBy::Title => lexical_sort::natural_lexical_cmp(title(a), title(b)),
            SortBy::TitleBytes => title(a).cmp(title(b)),
            SortBy::Weight => page(a).meta.weight.cmp(&page(b).meta.weight),
            SortBy::Slug => lexical_sort::natural_lexical_cmp(&page(a).slug, &page(b).slug),
            SortBy::Permalink | SortBy::None => Ordering::Equal,
        }
    };
    if sort_by != SortBy::None {
        sorted.sort_by(|a, b| {
            order(a, b)
                .then_with(|| page(a).doc.permalink.cmp(&page(b).doc.permalink))
                .then_with(|| path(a).cmp(path(b)))
        });
    }
    *list = sorted;
    unsorted
}

#[cfg(test)]
mod tests {
    use crate::site::paths::sanitize_site_path;

    #[test]
    fn site_paths_cannot_escape() {
        assert_eq!(sanitize_site_path("docs/intro").unwrap(), "/docs/intro/");
        assert_eq!(sanitize_site_path("/a//b/./c/").unwrap(), "/a/b/c/");
        assert_eq!(sanitize_site_path("/old.html").unwrap(), "/old.html");
        assert_eq!(sanitize_site_path("").unwrap(), "/");
        for bad in ["../x", "a/../../b", "a\\b", "a\u{0}b", "https://evil.org/x"] {
            assert!(sanitize_site_path(bad).is_err(), "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn sanitized_paths_never_climb(raw in "\\PC{0,40}") {
            if let Ok(path) = sanitize_site_path(&raw) {
                proptest::prop_assert!(path.starts_with('/'));
                proptest::prop_assert!(!path.split('/').any(|c| c == ".."));
            }
        }
    }
}
