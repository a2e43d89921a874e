//! The site's configuration: `sitegen.toml`, falling back to Zola's `zola.toml` and `config.toml`.
//!
//! Two steps, as in ripgrep: the raw file (plus `--set` overrides) is parsed into an immutable
//! [`Config`], which every later stage reads. Unknown keys are errors naming the key and line;
//! Zola keys that sitegen accepts but does not act on are warnings, so a Zola site builds as is.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

mod edge;
mod generate;
pub(crate) mod highlighting;
mod languages;
mod multilingual;
mod taxonomy;
mod template;

use crate::diagnostics::{Diagnostic, Error, Result};
use crate::value::{KeyOffsets, parse_toml};
pub(crate) use edge::{EdgeConfig, EdgeLimits, EdgeTarget, check_route_path};
pub use generate::{ClassBudget, GenField, GenerateConfig, ProviderConfig, ProviderKind};
pub(crate) use languages::LanguageOptions;
pub(crate) use taxonomy::TaxonomyConfig;

/// Config file names tried, in order, in the site's root.
pub(crate) const CONFIG_FILES: [&str; 3] = ["sitegen.toml", "zola.toml", "config.toml"];

/// The resolved configuration of one build. Serialized as `config` in every template.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The site's public URL, without a trailing slash (`https://example.org`).
    pub(crate) base_url: String,
    /// The site's title.
    pub(crate) title: Option<String>,
    /// The site's description.
    pub(crate) description: Option<String>,
    /// The language of the content (`lang` of the HTML).
    pub(crate) default_language: String,
    /// A theme folder under `themes/`; `default` is built in.
    pub(crate) theme: Option<String>,
    /// The taxonomies pages can be classified by.
    pub(crate) taxonomies: Vec<TaxonomyConfig>,
    /// Whether to write feeds (`feed_filenames`) of all dated pages.
    #[serde(alias = "generate_feed")]
    pub(crate) generate_feeds: bool,
    /// Feed files to write: `atom.xml` (Atom) and/or `rss.xml` (RSS 2.0).
    pub(crate) feed_filenames: Vec<String>,
    /// How many pages a feed holds, newest first; all when unset.
    pub(crate) feed_limit: Option<usize>,
    /// Whether to write `sitemap.xml`.
    pub(crate) generate_sitemap: bool,
    /// Whether to write `robots.txt`.
    pub(crate) generate_robots_txt: bool,
    /// Whether the sitemap lists the pagers of paginated sections and terms (`none` excludes
    /// none of them, `all` all of them), as Zola's key says.
    pub(crate) exclude_paginated_pages_in_sitemap: PagersInSitemap,
    /// Whether to minify HTML output (with inline CSS and JS).
    #[serde(alias = "minify_html")]
    pub(crate) minify: bool,
    /// The output folder, relative to the root, when `--output` is not given.
    pub(crate) output_dir: PathBuf,
    /// Give static CSS, JS, fonts and images names carrying a hash of their content, and
    /// rewrite every reference to them (so hosts can cache them forever).
    pub(crate) fingerprint_assets: bool,
    /// `loading="lazy"` and `decoding="async"` on images (all but a page's first). One of
    /// sitegen's own additions: on by default for a `sitegen.toml` site, off for a site
    /// configured by Zola's `zola.toml` or `config.toml` unless it asks.
    pub(crate) lazy_images: bool,
    /// `width` and `height` on images of the site whose size is known (sitegen's own, on by
    /// default like `lazy_images`).
    pub(crate) image_sizes: bool,
    /// `rel="noopener"` on links to other sites (sitegen's own, on by default like
    /// `lazy_images`).
    pub(crate) noopener_links: bool,
    /// `tabindex="0"` on code blocks (keyboard users can scroll them) and `aria-label` on task
    /// list checkboxes (sitegen's own, on by default like `lazy_images`).
    pub(crate) accessible_markup: bool,
    /// Markdown rendering options.
    pub(crate) markdown: MarkdownConfig,
    /// The site's author, for feeds.
    pub(crate) author: Option<String>,
    /// Free-form values for templates (`config.extra`).
    #[serde(deserialize_with = "crate::value::table")]
    pub(crate) extra: serde_json::Map<String, serde_json::Value>,
    /// Data files turned into pages (`[[collections]]`).
    pub(crate) collections: Vec<CollectionConfig>,
    /// AI copy generation (`[generate]`).
    pub(crate) generate: GenerateConfig,
    /// Model providers by name (`[providers.NAME]`); `offline` is built in.
    #[serde(skip_serializing)]
    pub(crate) providers: BTreeMap<String, ProviderConfig>,
    /// Edge output (`[edge]`): platform files, headers, redirects and edge routes.
    pub(crate) edge: EdgeConfig,
    /// Compile the site's `sass/` folder (Zola's `compile_sass`; a theme's is always compiled).
    /// Not in templates' `config`, as in Zola.
    #[serde(skip_serializing)]
    pub(crate) compile_sass: bool,
    // Zola keys that sitegen accepts and ignores, with a warning when they ask for something
    // (not flattened into a struct of their own: serde's flatten disables deny_unknown_fields).
    #[serde(skip_serializing)]
    build_search_index: bool,
    /// Zola's `[slugify]`: how paths, taxonomy terms and heading anchors are made.
    pub(crate) slugify: SlugifyConfig,
    /// Zola's `[link_checker]`.
    pub(crate) link_checker: LinkCheckerConfig,
    /// Globs of content files not read (Zola's `ignored_content`), matched against the path
    /// under content/ and the path from the site's root.
    pub(crate) ignored_content: Vec<String>,
    /// Globs of static files not copied (Zola's `ignored_static`), matched against the path
    /// under static/.
    pub(crate) ignored_static: Vec<String>,
    /// The compiled `ignored_content` and `ignored_static`.
    #[serde(skip)]
    pub(crate) ignored: IgnoredGlobs,
    /// A path under which every taxonomy lives (`blog` → `/blog/tags/`), Zola's `taxonomy_root`.
    pub(crate) taxonomy_root: Option<String>,
    /// `build` or `serve`, as Zola's templates read `config.mode`; set by the command.
    pub(crate) mode: Mode,
    /// Static files hard-linked into the output rather than copied (Zola's).
    #[serde(skip_serializing)]
    pub(crate) hard_link_static: bool,
    /// A clean build keeps the output folder's top-level dotfiles (Zola's).
    #[serde(skip_serializing)]
    pub(crate) preserve_dotfiles_in_output: bool,
    /// Languages besides the default one (`[languages.CODE]`); a table of the default language
    /// is merged into the top-level keys when the config is read. Templates see Zola's
    /// `config.languages`, made by [`Config::template_value_for`].
    #[serde(skip_serializing)]
    pub(crate) languages: BTreeMap<String, LanguageOptions>,
    /// The default language's strings for `trans` (`[translations]`).
    #[serde(skip_serializing)]
    pub(crate) translations: BTreeMap<String, String>,
    #[serde(skip_serializing)]
    search: Option<toml::Table>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            base_url: "/".to_owned(),
            title: None,
            description: None,
            default_language: "en".to_owned(),
            theme: None,
            taxonomies: Vec::new(),
            generate_feeds: false,
            feed_filenames: vec!["atom.xml".to_owned()],
            feed_limit: None,
            generate_sitemap: true,
            generate_robots_txt: true,
            exclude_paginated_pages_in_sitemap: PagersInSitemap::None,
            minify: false,
            output_dir: PathBuf::from("public"),
            fingerprint_assets: false,
            lazy_images: true,
            image_sizes: true,
            noopener_links: true,
            accessible_markup: true,
            markdown: MarkdownConfig::default(),
            author: None,
            extra: serde_json::Map::new(),
            collections: Vec::new(),
            generate: GenerateConfig::default(),
            providers: BTreeMap::new(),
            edge: EdgeConfig::default(),
            compile_sass: false,
            build_search_index: false,
            slugify: SlugifyConfig::default(),
            link_checker: LinkCheckerConfig::default(),
            ignored_content: Vec::new(),
            ignored_static: Vec::new(),
            ignored: IgnoredGlobs::default(),
            taxonomy_root: None,
            mode: Mode::Build,
            hard_link_static: false,
            preserve_dotfiles_in_output: false,
            languages: BTreeMap::new(),
            translations: BTreeMap::new(),
            search: None,
        }
    }
}

/// A data file whose records become pages (`[[collections]]`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CollectionConfig {
    /// Its name, for messages.
    pub(crate) name: String,
    /// The data file, relative to the root (`data/listings.csv`): CSV, JSON (an array of
    /// objects), JSON Lines, YAML (a list of mappings) or TOML (an array of tables).
    pub(crate) data: PathBuf,
    /// The URL path of each record's page, with `{field}` placeholders filled with the
    /// record's slugified values (`/listings/{city}/{slug}/`).
    pub(crate) path: String,
    /// The template that renders the pages.
    #[serde(default = "default_collection_template")]
    pub(crate) template: String,
    /// The page title, with `{field}` placeholders filled with the record's values.
    #[serde(default)]
    pub(crate) title: Option<String>,
    /// The page description, with placeholders as `title`.
    #[serde(default)]
    pub(crate) description: Option<String>,
    /// The page date: the name of a field holding a date.
    #[serde(default)]
    pub(crate) date: Option<String>,
    /// Taxonomy name → term pattern (`{ cities = "{city}" }`); a pattern that is exactly
    /// `{field}` whose value is a list gives one term per item.
    #[serde(default)]
    pub(crate) taxonomies: BTreeMap<String, String>,
    /// Generated fields of every page: field → prompt.
    #[serde(default)]
    pub(crate) generate: BTreeMap<String, GenField>,
}

fn default_collection_template() -> String {
    "page.html".to_owned()
}

/// `[markdown]`: how content is rendered, with Zola's keys and defaults. As in Zola, a key it
/// does not know is an error (Zola 0.22 removed `highlight_code` and `highlight_theme`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct MarkdownConfig {
    /// Typographic quotes and dashes.
    pub(crate) smart_punctuation: bool,
    /// Where heading anchor links go, unless a section says otherwise.
    pub(crate) insert_anchor_links: AnchorLinks,
    /// `rel="external"` on external links (Zola's default: on).
    pub(crate) external_links_external: bool,
    /// A class on external links.
    pub(crate) external_links_class: Option<String>,
    /// `target="_blank"` (and `rel="noopener"`) on external links.
    pub(crate) external_links_target_blank: bool,
    /// `rel="nofollow"` on external links.
    pub(crate) external_links_no_follow: bool,
    /// `rel="noreferrer"` on external links.
    pub(crate) external_links_no_referrer: bool,
    /// Definition lists (`term` / `: definition`).
    pub(crate) definition_list: bool,
    /// GitHub's alerts (`> [!NOTE]`).
    pub(crate) github_alerts: bool,
    /// `loading="lazy" decoding="async"` on every markdown image.
    pub(crate) lazy_async_image: bool,
    /// Footnotes gathered at the bottom, GitHub style, with back links.
    pub(crate) bottom_footnotes: bool,
    /// `:smile:` shortcodes as emoji.
    pub(crate) render_emoji: bool,
    /// Zola 0.21's highlighting keys: parsed so that `highlighting::init` can fail on them with
    /// the way to `[markdown.highlighting]`, as Zola 0.22 fails on them.
    #[serde(skip_serializing)]
    highlight_code: bool,
    #[serde(skip_serializing)]
    highlight_theme: Option<String>,
    /// Syntax highlighting (`[markdown.highlighting]`); none when unset.
    pub(crate) highlighting: Option<highlighting::HighlightingConfig>,
}

impl Default for MarkdownConfig {
    fn default() -> Self {
        Self {
            smart_punctuation: false,
            insert_anchor_links: AnchorLinks::None,
            external_links_external: true,
            external_links_class: None,
            external_links_target_blank: false,
            external_links_no_follow: false,
            external_links_no_referrer: false,
            definition_list: false,
            github_alerts: false,
            lazy_async_image: false,
            bottom_footnotes: false,
            render_emoji: false,
            highlight_code: false,
            highlight_theme: None,
            highlighting: None,
        }
    }
}

/// Zola's `[slugify]`.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize)]
#[serde(default)]
pub(crate) struct SlugifyConfig {
    /// Section and page paths.
    pub(crate) paths: SlugifyStrategy,
    /// Whether a page's date prefix stays in its slug (`2024-01-01-a` → `2024-01-01-a`).
    pub(crate) paths_keep_dates: bool,
    /// Taxonomy and term paths.
    pub(crate) taxonomies: SlugifyStrategy,
    /// Heading ids.
    pub(crate) anchors: SlugifyStrategy,
}

/// How text becomes a slug (Zola's `SlugifyStrategy`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum SlugifyStrategy {
    /// ASCII, lowercase, dashes.
    #[default]
    On,
    /// Only characters unsafe in paths removed.
    Safe,
    /// As written.
    Off,
}

impl SlugifyStrategy {
    /// `text` as a path segment, Zola's `slugify_paths`.
    pub(crate) fn path(self, text: &str) -> String {
        match self {
            Self::On => slug::slugify(text),
            Self::Safe => text
                .trim_end_matches([' ', '.'])
                .chars()
                .filter(|c| !r#"<>:"/\|?*"#.contains(*c))
                .collect(),
            Self::Off => text.to_owned(),
        }
    }

    /// `text` as a heading id, Zola's `slugify_anchors`.
    pub(crate) fn anchor(self, text: &str) -> String {
        match self {
            Self::On => slug::slugify(text),
            Self::Safe | Self::Off => text.replace(|c: char| c.is_ascii_whitespace(), "_"),
        }
    }
}

/// Zola's `[link_checker]`. sitegen checks internal links and anchors; external links are not
/// fetched, so `skip_prefixes`, `skip_anchor_prefixes` and `external_level` are accepted for
/// Zola's sake.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub(crate) struct LinkCheckerConfig {
    /// External URL prefixes not checked.
    pub(crate) skip_prefixes: Vec<String>,
    /// External URL prefixes whose anchors are not checked.
    pub(crate) skip_anchor_prefixes: Vec<String>,
    /// How bad a broken internal link (`@/missing.md`, a missing anchor) is.
    pub(crate) internal_level: LinkLevel,
    /// How bad a broken external link is.
    pub(crate) external_level: LinkLevel,
    /// Globs of files whose links are not checked.
    pub(crate) ignored_files: Vec<String>,
}

/// `error` or `warn`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum LinkLevel {
    /// The build fails.
    #[default]
    Error,
    /// A warning.
    Warn,
}

/// Zola's `mode`: what the templates are rendered for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Mode {
    /// `sitegen build`.
    #[default]
    Build,
    /// `sitegen serve`.
    Serve,
    /// `sitegen check`.
    Check,
}

/// The compiled globs of `ignored_content` and `ignored_static`.
#[derive(Debug, Clone, Default)]
pub(crate) struct IgnoredGlobs {
    /// Content files not read.
    pub(crate) content: globset::GlobSet,
    /// Static files not copied.
    pub(crate) static_files: globset::GlobSet,
}

impl IgnoredGlobs {
    /// Whether the content file at `relative` (under content/) is ignored.
    pub(crate) fn content(&self, relative: &str) -> bool {
        !self.content.is_empty()
            && (self.content.is_match(relative)
                || self.content.is_match(format!("content/{relative}")))
    }

    /// Whether the static file at `relative` (under static/) is ignored.
    pub(crate) fn static_file(&self, relative: &str) -> bool {
        !self.static_files.is_empty() && self.static_files.is_match(relative)
    }
}

/// Compiles `globs` (of the config's key `key`).
fn glob_set(globs: &[String], key: &str, file: &Path) -> Result<globset::GlobSet> {
    let mut set = globset::GlobSetBuilder::new();
    for glob in globs {
        let compiled = globset::Glob::new(glob).map_err(|e| {
            Error::Config(Box::new(
                Diagnostic::error(format!("invalid `{key}` glob `{glob}`: {e}"))
                    .in_file(file)
                    .with_help("globs are Zola's: `*.xlsx`, `**/drafts/**`"),
            ))
        })?;
        set.add(compiled);
    }
    set.build().map_err(|e| {
        Error::Config(Box::new(
            Diagnostic::error(format!("invalid `{key}` globs: {e}")).in_file(file),
        ))
    })
}

/// Which pagers the sitemap leaves out (Zola's `exclude_paginated_pages_in_sitemap`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum PagersInSitemap {
    /// Every pager is listed.
    #[default]
    None,
    /// No pager is listed (the first page of a listing still is, as the section or term).
    All,
}

/// Where a heading's anchor link is placed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum AnchorLinks {
    /// No anchor link (the heading still gets an id).
    #[default]
    None,
    /// Before the heading's text.
    Left,
    /// After the heading's text.
    Right,
    /// The whole heading is the link.
    Heading,
}

impl Config {
    /// The absolute URL of a site path (`/blog/` → `https://example.org/blog/`).
    pub(crate) fn permalink(&self, path: &str) -> String {
        let base = self.base_url.trim_end_matches('/');
        format!("{base}/{}", path.trim_start_matches('/'))
    }

    /// The absolute URL of a path as Zola's `make_permalink` writes it, for `redirect_to` and
    /// `get_url`: see [`Config::make_path`].
    pub(crate) fn make_permalink(&self, path: &str) -> String {
        self.permalink(&self.make_path(path))
    }

    /// A site path as Zola's `make_permalink` completes it: a trailing slash is added unless
    /// the path has one, is empty, names a feed or holds a `#` (`docs/intro` → `/docs/intro/`).
    pub(crate) fn make_path(&self, path: &str) -> String {
        let as_is = path.is_empty()
            || path.ends_with('/')
            || path.contains('#')
            || self
                .feed_filenames
                .iter()
                .any(|feed| path.ends_with(feed.as_str()));
        let mut site_path = format!("/{}", path.trim_start_matches('/'));
        if !as_is {
            site_path.push('/');
        }
        site_path
    }

    /// The taxonomy named `name`.
    pub(crate) fn taxonomy(&self, name: &str) -> Option<&TaxonomyConfig> {
        self.taxonomies.iter().find(|t| t.name == name)
    }

    fn warnings(&self, file: &Path, text: &str, offsets: &KeyOffsets) -> Vec<Diagnostic> {
        let z = self;
        let asked = [
            ("build_search_index", z.build_search_index),
            ("search", z.search.is_some()),
        ];
        let ignored = offsets.ignored().iter().map(|key| {
            let message = match key.table() {
                Some(table) => format!("unknown key `{}` in `{table}` is ignored", key.name()),
                None => format!("unknown key `{}` is ignored", key.name()),
            };
            let d = Diagnostic::warning(message);
            match key.offset {
                Some(at) => d.at_offset(file, text, at as usize),
                None => d.in_file(file),
            }
            .with_help("Zola ignores it too; remove it to silence this warning")
        });
        asked
            .into_iter()
            .filter(|(_, on)| *on)
            .map(|(key, _)| {
                let name = key.rsplit('.').next().unwrap_or(key);
                let d = Diagnostic::warning(format!(
                    "`{name}` is a Zola option sitegen does not support yet; it is ignored"
                ));
                match offsets.get(key) {
                    Some(at) => d.at_offset(file, text, at),
                    None => d.in_file(file),
                }
                .with_help("remove it from the config to silence this warning")
            })
            .chain(ignored)
            .collect()
    }
}

/// The loaded config, the file it came from, and warnings about it.
#[derive(Debug)]
pub struct Configured {
    /// The resolved config.
    pub config: Config,
    /// The file it was read from, relative to the root.
    pub(crate) file: PathBuf,
    /// Warnings (ignored Zola options).
    pub(crate) warnings: Vec<Diagnostic>,
}

/// Reads the config of the site at `root` from `file` (relative to the root), or the first of
/// [`CONFIG_FILES`] there, applying `overrides` (`key.path=value`).
pub fn load(root: &Path, file: Option<&Path>, overrides: &[String]) -> Result<Configured> {
    if let Some(file) = file
        && !root.join(file).is_file()
    {
        return Err(Error::Config(Box::new(
            Diagnostic::error(format!(
                "the config file `{}` given by --config does not exist in {}",
                file.display(),
                root.display()
            ))
            .with_help("--config names a file relative to the site's folder (--root)"),
        )));
    }
    let found = CONFIG_FILES
        .iter()
        .map(Path::new)
        .find(|n| root.join(n).is_file());
    let Some(name) = file.or(found) else {
        return Err(Error::Config(Box::new(
            Diagnostic::error(format!("no config file in {}", root.display())).with_help(format!(
                "create {} there, or run `sitegen init` to scaffold a site (looked for {})",
                CONFIG_FILES[0],
                CONFIG_FILES.join(", ")
            )),
        )));
    };
    let file = PathBuf::from(name);
    let path = root.join(name);
    let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let text = String::from_utf8_lossy(e.as_bytes()).into_owned();
        Error::Config(Box::new(
            Diagnostic::error("the config file is not valid UTF-8")
                .at_offset(&file, &text, offset)
                .with_help("save the file as UTF-8"),
        ))
    })?;
    let (mut config, offsets) = parse_located(&file, &text, overrides)?;
    highlighting::init(
        &mut config.markdown.highlighting,
        root,
        &file,
        &text,
        &offsets,
    )?;
    let warnings = config.warnings(&file, &text, &offsets);
    Ok(Configured {
        config,
        file,
        warnings,
    })
}

/// Parses config `text` (from `file`) and applies `overrides`.
#[cfg(test)]
pub(crate) fn parse(file: &Path, text: &str, overrides: &[String]) -> Result<Config> {
    parse_located(file, text, overrides).map(|(config, _)| config)
}

/// [`parse`], with where the keys of `text` are (its top-level keys and those of
/// `[markdown]`).
fn parse_located(file: &Path, text: &str, overrides: &[String]) -> Result<(Config, KeyOffsets)> {
    let located = |e: toml::de::Error| {
        let d = Diagnostic::error(format!("invalid config: {}", e.message().trim()));
        let d = match e.span() {
            Some(span) => d.at_offset(file, text, span.start),
            None => d.in_file(file),
        };
        let removed = ["highlight_code", "highlight_theme", "highlight_themes_css"]
            .iter()
            .any(|key| e.message().contains(&format!("`{key}`")));
        Error::Config(Box::new(d.with_help(if removed {
            "Zola 0.22 removed this key, as sitegen does: highlighting is set in \
             `[markdown.highlighting]` (`theme = \"…\"`)"
        } else {
            "see the configuration reference in the README"
        })))
    };
    let (config, offsets): (Config, KeyOffsets) =
        parse_toml(text, &["markdown"]).map_err(located)?;
    if overrides.is_empty() {
        let config = with_globs(normalize(config, file, &offsets, overrides), file)?;
        return Ok((config, offsets));
    }
    let mut table: toml::Table = toml::from_str(text).map_err(located)?;
    for item in overrides {
        apply_override(&mut table, item)?;
    }
    let config = Config::deserialize(toml::Value::Table(table)).map_err(|e| {
        Error::Config(Box::new(
            Diagnostic::error(format!(
                "invalid config after --set: {}",
                e.message().trim()
            ))
            .in_file(file)
            .with_help("check the keys and values given with --set"),
        ))
    })?;
    let config = with_globs(normalize(config, file, &offsets, overrides), file)?;
    Ok((config, offsets))
}

/// `config` with its languages resolved and its ignore globs compiled.
fn with_globs(mut config: Config, file: &Path) -> Result<Config> {
    config.resolve_languages(file)?;
    config.ignored = IgnoredGlobs {
        content: glob_set(&config.ignored_content, "ignored_content", file)?,
        static_files: glob_set(&config.ignored_static, "ignored_static", file)?,
    };
    Ok(config)
}

/// sitegen's own additions to the output, on by default only for a site configured by
/// `sitegen.toml`: a Zola site gets Zola's output unless it asks for them.
const OWN_ADDITIONS: [&str; 4] = [
    "lazy_images",
    "image_sizes",
    "noopener_links",
    "accessible_markup",
];

/// Completes a parsed config: sitegen's own additions are off for a Zola config file unless
/// the file (`offsets`) or an override names them. `base_url` is kept as written, as in Zola.
fn normalize(
    mut config: Config,
    file: &Path,
    offsets: &KeyOffsets,
    overrides: &[String],
) -> Config {
    if file.file_name().is_some_and(|name| name != CONFIG_FILES[0]) {
        let named = |key: &str| {
            offsets.get(key).is_some()
                || overrides
                    .iter()
                    .any(|o| o.split('=').next().is_some_and(|k| k.trim() == key))
        };
        for key in OWN_ADDITIONS.into_iter().filter(|key| !named(key)) {
            match key {
                "lazy_images" => config.lazy_images = false,
                "image_sizes" => config.image_sizes = false,
                "noopener_links" => config.noopener_links = false,
                _ => config.accessible_markup = false,
            }
        }
    }
    config
}

/// Applies one `--set key.path=value`: the value is TOML, or a bare string when it is not.
fn apply_override(table: &mut toml::Table, item: &str) -> Result<()> {
    let usage = || {
        Error::Usage(format!(
            "--set expects KEY=VALUE with a dotted key, got `{item}`"
        ))
    };
    let (key, raw) = item.split_once('=').ok_or_else(usage)?;
    let keys: Vec<&str> = key.trim().split('.').collect();
    if keys.iter().any(|k| k.is_empty()) {
        return Err(usage());
    }
    let value = toml::from_str::<BTreeMap<String, toml::Value>>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut m| m.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()));
    let (last, parents) = keys.split_last().ok_or_else(usage)?;
    let mut current = table;
    for k in parents {
        let entry = current
            .entry((*k).to_owned())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        current = entry.as_table_mut().ok_or_else(|| {
            Error::Usage(format!("--set {key}: `{k}` is not a table in the config"))
        })?;
    }
    current.insert((*last).to_owned(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn make_permalink_adds_zolas_trailing_slash() {
        let config = super::Config {
            base_url: "https://example.org".to_owned(),
            ..super::Config::default()
        };
        assert_eq!(
            config.make_permalink("docs/intro"),
            "https://example.org/docs/intro/"
        );
        assert_eq!(config.make_permalink("/docs/"), "https://example.org/docs/");
        assert_eq!(config.make_permalink("/"), "https://example.org/");
        assert_eq!(
            config.make_permalink("/atom.xml"),
            "https://example.org/atom.xml"
        );
        assert_eq!(config.make_permalink("/a#b"), "https://example.org/a#b");
        assert_eq!(
            config.make_permalink("/logo.png"),
            "https://example.org/logo.png/"
        );
    }

    use std::path::Path;

    use super::{Error, parse};

    #[test]
    fn defaults_and_trailing_slash() {
        let c = parse(
            Path::new("sitegen.toml"),
            "base_url = \"https://a.org/\"",
            &[],
        )
        .unwrap();
        assert_eq!(c.base_url, "https://a.org/", "kept as written, as in Zola");
        assert_eq!(c.permalink("/blog/"), "https://a.org/blog/");
        assert_eq!(c.permalink("/"), "https://a.org/");
        assert!(c.generate_sitemap);
        assert_eq!(c.feed_filenames, ["atom.xml"]);
    }

    #[test]
    fn unknown_key_names_key_and_line() {
        let Err(Error::Config(d)) =
            parse(Path::new("sitegen.toml"), "title = \"x\"\ntitel = 1\n", &[])
        else {
            panic!("expected a config error");
        };
        assert!(d.message.contains("titel"), "{}", d.message);
        assert_eq!(d.location.unwrap().line, Some(2));
    }

    #[test]
    fn overrides_take_toml_or_bare_strings() {
        let sets = [
            "base_url=https://b.org".to_owned(),
            "extra.count=3".to_owned(),
            "minify=true".to_owned(),
            "title=\"Quoted\"".to_owned(),
        ];
        let c = parse(Path::new("sitegen.toml"), "title = \"x\"", &sets).unwrap();
        assert_eq!(c.base_url, "https://b.org");
        assert_eq!(c.extra["count"].as_i64(), Some(3));
        assert!(c.minify);
        assert_eq!(c.title.as_deref(), Some("Quoted"));
    }

    #[test]
    fn override_with_wrong_type_is_an_error() {
        let sets = ["minify=maybe".to_owned()];
        assert!(matches!(
            parse(Path::new("sitegen.toml"), "", &sets),
            Err(Error::Config(_))
        ));
    }
}
