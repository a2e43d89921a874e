//! Tera 1.x (the major Zola uses, so Zola templates run unchanged): compiling the site's
//! templates, Zola's functions and filters, and turning tera's errors into diagnostics that name
//! the template, the line and the variable or call at fault.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use serde_json::Value;
use tera::{Function, Tera};

use crate::assets::find;
use crate::diagnostics::{Code, Diagnostic, error_chain};
use crate::plan::reason::Dep;
use crate::render::context::{self, View};
use crate::render::data;
use crate::site::{ContentRef, Site};

/// The compiled templates of a site, with sitegen's functions and filters.
pub(crate) struct Templates {
    /// The tera instance.
    tera: Tera,
    /// The site, whose templates' sources name the culprit of an error.
    site: Arc<Site>,
}

pub(crate) use crate::render::recorded::{record, take_recorded};

impl Templates {
    /// Compiles the (parsed) templates of `site`, with the functions that read it and the
    /// copy generated for its pages.
    /// `markdown` is the `markdown` filter, which renders shortcodes with these templates: it
    /// reaches them through `handle`, set here once they are compiled.
    pub(crate) fn compile(
        view: &View,
        markdown: impl tera::Filter + 'static,
        handle: &TemplatesHandle,
    ) -> Result<Arc<Self>, Vec<Diagnostic>> {
        let site = &view.site;
        let mut tera = Tera::default();
        for template in &site.templates {
            tera.templates
                .insert(template.name.clone(), template.parsed.clone());
        }
        let mut templates = Self {
            tera,
            site: Arc::clone(site),
        };
        if let Err(e) = templates.tera.build_inheritance_chains() {
            return Err(vec![templates.structure_error(&e)]);
        }
        if let Err(e) = templates.tera.check_macro_files() {
            return Err(vec![templates.structure_error(&e)]);
        }
        register(&mut templates.tera, view);
        templates.tera.register_filter("markdown", markdown);
        let templates = Arc::new(templates);
        let _ = handle.set(Arc::downgrade(&templates));
        Ok(templates)
    }

    /// The source of template `name`: where it came from and its text.
    fn source(&self, name: &str) -> Option<(&Path, &str)> {
        self.site
            .template(name)
            .map(|t| (t.origin.as_path(), t.text.as_str()))
    }

    /// Whether a template named `name` exists.
    pub(crate) fn has(&self, name: &str) -> bool {
        self.tera.templates.contains_key(name)
    }

    /// Renders `name`; a failure names the template, the line and the culprit, and `for_file`.
    pub(crate) fn render(
        &self,
        name: &str,
        context: &tera::Context,
        for_file: &str,
    ) -> Result<String, Diagnostic> {
        self.tera
            .render(name, context)
            .map_err(|e| self.render_error(&e, name, for_file))
    }

    /// Renders `name` for a shortcode call; a failure is what went wrong and where in the
    /// template (its file and line), for an error placed at the call.
    fn shortcode(
        &self,
        name: &str,
        context: &tera::Context,
    ) -> Result<String, (String, Option<crate::diagnostics::Location>)> {
        self.tera.render(name, context).map_err(|e| {
            let d = self.render_error(&e, name, "a shortcode");
            let what = d
                .message
                .split_once("`: ")
                .map_or(d.message.as_str(), |(_, what)| what)
                .to_owned();
            (what, d.location)
        })
    }

    fn structure_error(&self, e: &tera::Error) -> Diagnostic {
        let message = error_chain(e);
        if let tera::ErrorKind::MissingParent { current, parent } = &e.kind
            && let Some((origin, text)) = self.source(current)
        {
            let line = find_line(text, parent).unwrap_or(1);
            return Diagnostic::error(format!(
                "template `{current}` extends `{parent}`, which does not exist"
            ))
            .at(origin, text, line, None)
            .with_help("create the parent template in templates/, or fix the name in `extends`");
        }
        Diagnostic::error(message)
            .with_help("check the `extends` and `import` tags of your templates")
    }

    fn render_error(&self, e: &tera::Error, name: &str, for_file: &str) -> Diagnostic {
        let message = error_chain(e);
        // The innermost template named in the chain is the one at fault; other quoted names
        // (variables, functions, filters) are what to look for in it.
        let single = quoted(&message, '\'');
        let culprit_template = single
            .iter()
            .rev()
            .find(|q| self.source(q).is_some())
            .cloned()
            .unwrap_or_else(|| name.to_owned());
        let mut culprit = quoted(&message, '`');
        culprit.extend(single.into_iter().filter(|q| self.source(q).is_none()));
        let what = message.lines().last().unwrap_or(&message).trim().to_owned();
        let d = Diagnostic::error(format!("while rendering {for_file} with `{name}`: {what}"));
        let d = match self.source(&culprit_template) {
            Some((origin, text)) => {
                let needle = culprit
                    .iter()
                    .find_map(|c| find_line(text, c).map(|l| (l, c.clone())));
                match needle {
                    Some((line, c)) => {
                        let column = text
                            .lines()
                            .nth(line - 1)
                            .and_then(|l| l.find(c.as_str()))
                            .map(|i| i + 1);
                        d.at(origin, text, line, column)
                    }
                    None => d.in_file(origin),
                }
            }
            None => d,
        };
        d.with_code(Code::Render)
            .with_help("check the variable or call in the template; page fields are listed in the README's template context")
    }
}

impl crate::render::shortcodes::ShortcodeTemplates for Templates {
    fn has(&self, name: &str) -> bool {
        Templates::has(self, name)
    }

    fn render_shortcode(
        &self,
        name: &str,
        context: &tera::Context,
    ) -> Result<String, (String, Option<crate::diagnostics::Location>)> {
        self.shortcode(name, context)
    }

    fn render_for(
        &self,
        name: &str,
        context: &tera::Context,
        for_file: &str,
    ) -> Result<String, Diagnostic> {
        self.render(name, context, for_file)
    }
}

/// Every substring of `text` between a pair of `quote`s.
fn quoted(text: &str, quote: char) -> Vec<String> {
    text.split(quote)
        .skip(1)
        .step_by(2)
        .filter(|s| !s.is_empty() && !s.contains('\n'))
        .map(str::to_owned)
        .collect()
}

/// 1-based line of the first line of `text` containing `needle`.
fn find_line(text: &str, needle: &str) -> Option<usize> {
    text.lines()
        .position(|line| line.contains(needle))
        .map(|i| i + 1)
}

/// How a filter reaches the templates that hold it (set once they are compiled).
pub(crate) type TemplatesHandle = Arc<OnceLock<Weak<Templates>>>;

fn register(tera: &mut Tera, view: &View) {
    let site = &view.site;
    let view = view.clone();
    tera.register_function(
        "get_url",
        GetUrl {
            site: Arc::clone(site),
            hashes: Mutex::default(),
        },
    );
    tera.register_function("get_page", GetPage(view.clone()));
    tera.register_function("trans", Trans(Arc::clone(site)));
    tera.register_function("get_section", GetSection(view.clone()));
    tera.register_function("get_taxonomy", GetTaxonomy(view.clone()));
    tera.register_function(
        "resize_image",
        crate::render::images::ResizeImage(view.images()),
    );
    tera.register_function(
        "get_image_metadata",
        crate::render::images::GetImageMetadata(view.images()),
    );
    tera.register_function("get_taxonomy_term", GetTaxonomyTerm(view));
    tera.register_function("get_taxonomy_url", GetTaxonomyUrl(Arc::clone(site)));
    tera.register_function(
        "load_data",
        LoadData {
            site: Arc::clone(site),
            cache: Mutex::default(),
        },
    );
    tera.register_function(
        "get_hash",
        GetHash {
            site: Arc::clone(site),
        },
    );
    crate::render::filters::register(tera, &site.config.default_language);
}

fn string_arg<'a>(
    args: &'a HashMap<String, Value>,
    name: &str,
    function: &str,
) -> tera::Result<&'a str> {
    args.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| tera::Error::msg(format!("`{function}` needs a string argument `{name}`")))
}

/// The `lang` argument of `function`, the default language when absent.
fn lang_arg<'a>(
    args: &'a HashMap<String, Value>,
    site: &'a Site,
    function: &str,
) -> tera::Result<&'a str> {
    match args.get("lang") {
        None => Ok(&site.config.default_language),
        Some(v) => v
            .as_str()
            .ok_or_else(|| tera::Error::msg(format!("`{function}`: `lang` must be a string"))),
    }
}

/// `trans(key, lang)`: a string of the config's `translations` of `lang` (the default
/// language's when absent), failing as Zola's does for a missing key or language.
struct Trans(Arc<Site>);

impl Function for Trans {
    fn call(&self, args: &HashMap<String, Value>) -> tera::Result<Value> {
        let key = args
            .get("key")
            .and_then(Value::as_str)
            .ok_or_else(|| tera::Error::msg("`trans` requires a `key` argument."))?;
        let lang = match args.get("lang") {
            None => self.0.config.default_language.as_str(),
            Some(v) => v
                .as_str()
                .ok_or_else(|| tera::Error::msg("`trans`: `lang` must be a string."))?,
        };
        record(Dep::Translation {
            key: key.to_owned(),
            lang: lang.to_owned(),
        });
        self.0
            .config
            .translation(lang, key)
            .map(|s| Value::String(s.to_owned()))
            .map_err(|e| {
                tera::Error::chain("Failed to retrieve term translation", tera::Error::msg(e))
            })
    }
}

/// A content path of language `lang`, as Zola's functions make it: the code goes before the
/// last `.` (`blog/a.md` → `blog/a.fr.md`); the default language's path is left alone.
fn with_lang(path: &str, lang: &str, site: &Site) -> String {
    if lang == site.config.default_language {
        return path.to_owned();
    }
    match path.rfind('.') {
        Some(i) => format!("{}.{lang}{}", &path[..i], &path[i..]),
        None => format!("{path}.{lang}"),
    }
}

pub(crate) fn bool_arg(args: &HashMap<String, Value>, name: &str) -> bool {
    args.get(name).and_then(Value::as_bool).unwrap_or(false)
}

/// `get_url(path, cachebust=false, trailing_slash=false)`, as Zola: `@/` paths resolve content;
/// any other path is made a permalink by Zola's rule and loses its trailing slash unless
/// `trailing_slash=true`; `cachebust` appends `?h=` and the first 20 hex digits of the file's
/// SHA-256, the file found as `load_data` finds it.
struct GetUrl {
    site: Arc<Site>,
    /// Cache-busting hashes, by path: computed once per build.
    hashes: Mutex<HashMap<PathBuf, String>>,
}

impl Function for GetUrl {
    fn call(&self, args: &HashMap<String, Value>) -> tera::Result<Value> {
        let path = string_arg(args, "path", "get_url")?;
        let lang = lang_arg(args, &self.site, "get_url")?;
        if lang != self.site.config.default_language
            && !self.site.config.languages.contains_key(lang)
        {
            return Err(tera::Error::msg(format!(
                "`{lang}` is not an authorized language (check config.languages)."
            )));
        }
        // As Zola: a content path gets the language before its last `.` (`@/a.md` →
        // `@/a.fr.md`); any other path gets `/CODE` in front unless it starts with it.
        let localized;
        let path = if lang == self.site.config.default_language {
            path
        } else if path.starts_with("@/") {
            localized = {
                let (stem, ext) = path.rsplit_once('.').unwrap_or((path, ""));
                if ext.is_empty() && !path.contains('.') {
                    format!("{path}.{lang}")
                } else {
                    format!("{stem}.{lang}.{ext}")
                }
            };
            &localized
        } else if path.get(1..).is_some_and(|rest| rest.starts_with(lang)) {
            path
        } else {
            localized = format!("{lang}/{path}");
            &localized
        };
        if let Some(content) = path.strip_prefix("@/") {
            let (file, anchor) = content
                .split_once('#')
                .map_or((content, None), |(f, a)| (f, Some(a)));
            record(Dep::Url(file.to_owned()));
            let url = self.site.permalink_of(file).ok_or_else(|| {
                tera::Error::msg(format!(
                    "`get_url`: could not resolve URL for link `{path}` not found."
                ))
            })?;
            return Ok(Value::String(
                anchor.map_or(url.clone(), |a| format!("{url}#{a}")),
            ));
        }
        if path.contains("://") || path.starts_with("//") {
            return Ok(Value::String(path.to_owned()));
        }
        let mut url = self.site.config.make_permalink(path);
        if !bool_arg(args, "trailing_slash") && url.ends_with('/') {
            url.pop();
        }
        if bool_arg(args, "cachebust") {
            let hash = self.cachebust(path)?;
            url = format!("{url}?h={hash}");
        }
        Ok(Value::String(url))
    }

    fn is_safe(&self) -> bool {
        true
    }
}

impl GetUrl {
    /// The first 20 hex digits of the SHA-256 of the file `path`.
    fn cachebust(&self, path: &str) -> tera::Result<String> {
        let found = find_file(&self.site, path, "get_url")?.ok_or_else(|| {
            tera::Error::msg(format!(
                "`get_url(cachebust=true)`: no file `{path}` in the site's folder, static/, content/, the compiled Sass or the theme's static/"
            ))
        })?;
        let mut hashes = self
            .hashes
            .lock()
            .map_err(|_| tera::Error::msg("poisoned"))?;
        if let Some(hash) = hashes.get(&found.key()) {
            return Ok(hash.clone());
        }
        let bytes = found.read(path, "get_url")?;
        let mut hash = data::sha(&bytes, 256, false).map_err(tera::Error::msg)?;
        hash.truncate(20);
        hashes.insert(found.key(), hash.clone());
        Ok(hash)
    }
}

/// A file a function asked for.
enum Located {
    /// On disk.
    Disk(PathBuf),
    /// In the built-in theme's static/.
    Builtin(&'static [u8]),
    /// Made by the build (a compiled stylesheet), with its path in the output.
    Made(Arc<[u8]>, String),
}

impl Located {
    /// A key naming the file, for caches.
    fn key(&self) -> PathBuf {
        match self {
            Self::Disk(path) => path.clone(),
            Self::Builtin(bytes) => PathBuf::from(format!("(built-in) {:p}", bytes.as_ptr())),
            Self::Made(_, name) => PathBuf::from(format!("(made) {name}")),
        }
    }

    fn read(&self, path: &str, function: &str) -> tera::Result<std::borrow::Cow<'static, [u8]>> {
        match self {
            Self::Disk(file) => std::fs::read(file)
                .map(Into::into)
                .map_err(|e| tera::Error::msg(format!("`{function}`: cannot read `{path}`: {e}"))),
            Self::Builtin(bytes) => Ok((*bytes).into()),
            Self::Made(bytes, _) => Ok(bytes.to_vec().into()),
        }
    }

    /// The name whose extension tells its format.
    fn format_name<'a>(&'a self, asked: &'a str) -> &'a Path {
        match self {
            Self::Disk(file) => file,
            Self::Builtin(_) | Self::Made(..) => Path::new(asked),
        }
    }
}

/// Finds `path` as Zola's functions do (see [`find::search_made`]: the files the build makes,
/// its compiled stylesheets, where Zola looks in its output), then in the built-in theme's
/// static files, recording every file looked at.
fn find_file(site: &Site, path: &str, function: &str) -> tera::Result<Option<Located>> {
    let mut looked_at = Vec::new();
    let made = |name: &str| made_file(site, name).is_some();
    let found = find::search_made(
        &site.root,
        site.config.theme.as_deref(),
        path,
        &made,
        &mut looked_at,
    );
    for candidate in looked_at {
        record(Dep::Data(candidate));
    }
    match found.map_err(|e| tera::Error::msg(format!("`{function}`: {e}")))? {
        Some(find::Searched::File(file)) => Ok(Some(Located::Disk(file.path))),
        Some(find::Searched::Made(name)) => {
            record(Dep::Static(name.clone()));
            Ok(made_file(site, &name).map(|bytes| Located::Made(bytes, name)))
        }
        None => {
            let name = path.trim_start_matches('/');
            let builtin = site.static_files.iter().find_map(|f| match f.source {
                crate::site::StaticSource::Builtin(bytes) if f.name == name => Some(bytes),
                _ => None,
            });
            if builtin.is_some() {
                record(Dep::Static(name.to_owned()));
            }
            Ok(builtin.map(Located::Builtin))
        }
    }
}

/// The bytes of the file the build makes at `name` in the output, if it makes one.
fn made_file(site: &Site, name: &str) -> Option<Arc<[u8]>> {
    let i = site
        .static_files
        .binary_search_by(|f| f.name.as_str().cmp(name))
        .ok()?;
    match &site.static_files[i].source {
        crate::site::StaticSource::Made(bytes) => Some(Arc::clone(bytes)),
        _ => None,
    }
}

/// `get_hash(path | literal, sha_type=384, base64=true)`, as Zola.
struct GetHash {
    site: Arc<Site>,
}

impl Function for GetHash {
    fn call(&self, args: &HashMap<String, Value>) -> tera::Result<Value> {
        let path = args.get("path").and_then(Value::as_str);
        let literal = args.get("literal").and_then(Value::as_str);
        let bytes = match (path, literal) {
            (Some(_), Some(_)) => {
                return Err(tera::Error::msg(
                    "`get_hash`: must have only one of `path` or `literal` argument",
                ));
            }
            (None, None) => {
                return Err(tera::Error::msg(
                    "`get_hash`: must have at least one of `path` or `literal` argument",
                ));
            }
            (Some(path), None) => {
                let found = find_file(&self.site, path, "get_hash")?.ok_or_else(|| {
                    tera::Error::msg(format!("`get_hash`: cannot find file: {path}"))
                })?;
                found.read(path, "get_hash")?.into_owned()
            }
            (None, Some(literal)) => literal.as_bytes().to_vec(),
        };
        let bits = match args.get("sha_type") {
            None => 384,
            Some(v) => v.as_u64().ok_or_else(|| {
                tera::Error::msg("`get_hash`: `sha_type` must be 256, 384 or 512")
            })?,
        };
        let base64 = args.get("base64").and_then(Value::as_bool).unwrap_or(true);
        data::sha(&bytes, bits, base64)
            .map(Value::String)
            .map_err(|e| tera::Error::msg(format!("`get_hash`: {e}")))
    }
}

/// `get_page(path)`: a page by content path, without its content.
struct GetPage(View);

impl Function for GetPage {
    fn call(&self, args: &HashMap<String, Value>) -> tera::Result<Value> {
        let asked = string_arg(args, "path", "get_page")?.trim_start_matches("@/");
        let lang = args.get("lang").and_then(Value::as_str);
        let path = with_lang(asked, lang.unwrap_or_default(), &self.0.site);
        let path = if lang.is_some() {
            path
        } else {
            asked.to_owned()
        };
        record(Dep::Page(path.clone()));
        match self.0.site.by_content_path.get(&path) {
            Some(ContentRef::Page(id)) => Ok(context::page(&self.0, *id, None, true)),
            _ => Err(tera::Error::msg(match lang {
                Some(lang) => format!("Page `{asked}` not found for language `{lang}`."),
                None => format!("`get_page`: no page `{path}` in content/"),
            })),
        }
    }
}

/// `get_section(path, metadata_only=false)`.
struct GetSection(View);

impl Function for GetSection {
    fn call(&self, args: &HashMap<String, Value>) -> tera::Result<Value> {
        let asked = string_arg(args, "path", "get_section")?.trim_start_matches("@/");
        let lang = args.get("lang").and_then(Value::as_str);
        let path = match lang {
            Some(lang) => with_lang(asked, lang, &self.0.site),
            None => asked.to_owned(),
        };
        let path = path.as_str();
        record(Dep::Section {
            path: path.to_owned(),
            listing: !bool_arg(args, "metadata_only"),
        });
        match self.0.site.by_content_path.get(path) {
            Some(ContentRef::Section(id)) => Ok(context::section(
                &self.0,
                *id,
                None,
                !bool_arg(args, "metadata_only"),
            )),
            _ => Err(tera::Error::msg(match lang {
                Some(lang) => format!("Section `{asked}` not found for language `{lang}`."),
                None => format!("`get_section`: no section `{path}` in content/"),
            })),
        }
    }
}

/// `get_taxonomy(kind, required=true)`.
struct GetTaxonomy(View);

impl Function for GetTaxonomy {
    fn call(&self, args: &HashMap<String, Value>) -> tera::Result<Value> {
        let kind = string_arg(args, "kind", "get_taxonomy")?;
        let lang = lang_arg(args, &self.0.site, "get_taxonomy")?;
        record(Dep::Taxonomy {
            kind: kind.to_owned(),
            lang: lang.to_owned(),
        });
        match self.0.site.taxonomy_named(kind, lang) {
            Some(taxonomy) => Ok(context::taxonomy(&self.0, taxonomy)),
            None if args.get("required").and_then(Value::as_bool) == Some(false) => Ok(Value::Null),
            None => Err(tera::Error::msg(format!(
                "`get_taxonomy`: no taxonomy `{kind}` in the config"
            ))),
        }
    }
}

/// `get_taxonomy_term(kind, term, include_pages=true, required=true)`: a term by its name.
struct GetTaxonomyTerm(View);

impl Function for GetTaxonomyTerm {
    fn call(&self, args: &HashMap<String, Value>) -> tera::Result<Value> {
        let kind = string_arg(args, "kind", "get_taxonomy_term")?;
        let name = string_arg(args, "term", "get_taxonomy_term")?;
        let required = args.get("required").and_then(Value::as_bool) != Some(false);
        let include_pages = args.get("include_pages").and_then(Value::as_bool) != Some(false);
        let lang = lang_arg(args, &self.0.site, "get_taxonomy_term")?;
        record(Dep::Taxonomy {
            kind: kind.to_owned(),
            lang: lang.to_owned(),
        });
        let Some(taxonomy) = self.0.site.taxonomy_named(kind, lang) else {
            return if required {
                Err(tera::Error::msg(format!(
                    "`get_taxonomy_term`: no taxonomy `{kind}` in the config"
                )))
            } else {
                Ok(Value::Null)
            };
        };
        match taxonomy.terms.iter().find(|t| t.name == name) {
            Some(term) => Ok(context::term(&self.0, term, include_pages)),
            None if required => Err(tera::Error::msg(format!(
                "`get_taxonomy_term`: no term `{name}` in `{kind}`"
            ))),
            None => Ok(Value::Null),
        }
    }
}

/// `get_taxonomy_url(kind, name)`.
struct GetTaxonomyUrl(Arc<Site>);

impl Function for GetTaxonomyUrl {
    fn call(&self, args: &HashMap<String, Value>) -> tera::Result<Value> {
        let kind = string_arg(args, "kind", "get_taxonomy_url")?;
        let name = string_arg(args, "name", "get_taxonomy_url")?;
        let lang = lang_arg(args, &self.0, "get_taxonomy_url")?;
        record(Dep::TermUrl {
            kind: kind.to_owned(),
            name: name.to_owned(),
            lang: lang.to_owned(),
        });
        let taxonomy = self.0.taxonomy_named(kind, lang).ok_or_else(|| {
            tera::Error::msg(format!(
                "`get_taxonomy_url`: no taxonomy `{kind}` in the config"
            ))
        })?;
        let slug = self.0.config.slugify.taxonomies.path(name);
        taxonomy
            .terms
            .iter()
            .find(|t| t.slug == slug)
            .map(|t| Value::String(t.permalink.clone()))
            .ok_or_else(|| {
                tera::Error::msg(format!("`get_taxonomy_url`: no term `{name}` in `{kind}`"))
            })
    }
    fn is_safe(&self) -> bool {
        true
    }
}

/// `load_data(path | literal, format, required=true)`: a file found as Zola finds it (the site's
/// folder, static/, content/, the theme's static/; never outside the site's folder), or a
/// literal string, parsed as `format` (by default the file's extension; plain text when
/// unknown) and read once per build. `url` is refused: builds do not use the network.
struct LoadData {
    site: Arc<Site>,
    cache: Mutex<HashMap<(PathBuf, data::Format), Value>>,
}

impl Function for LoadData {
    fn call(&self, args: &HashMap<String, Value>) -> tera::Result<Value> {
        let required = args.get("required").and_then(Value::as_bool) != Some(false);
        let format = args
            .get("format")
            .map(|f| {
                f.as_str()
                    .ok_or_else(|| "`format` must be a string".to_owned())
                    .and_then(data::Format::named)
            })
            .transpose()
            .map_err(|e| tera::Error::msg(format!("`load_data`: {e}")))?;
        let sources = ["path", "url", "literal"]
            .iter()
            .filter(|k| args.contains_key(**k))
            .count();
        if sources != 1 {
            return Err(tera::Error::msg(
                "`load_data`: requires EITHER a `path`, `url`, or `literal` argument",
            ));
        }
        if let Some(literal) = args.get("literal") {
            let text = literal
                .as_str()
                .ok_or_else(|| tera::Error::msg("`load_data`: `literal` must be a string"))?;
            let format = format.unwrap_or(data::Format::Plain);
            return data::parse(text, format).map_err(|e| {
                tera::Error::msg(format!(
                    "`load_data`: the literal is not valid {}: {e}",
                    format.name()
                ))
            });
        }
        if args.contains_key("url") {
            return if required {
                Err(tera::Error::msg(
                    "`load_data`: `url` is not supported: sitegen builds without the network; put the file in the site",
                ))
            } else {
                Ok(Value::Null)
            };
        }
        let raw = string_arg(args, "path", "load_data")?;
        let path = match find_file(&self.site, raw, "load_data") {
            Ok(Some(path)) => path,
            Ok(None) | Err(_) if !required => return Ok(Value::Null),
            Ok(None) => {
                return Err(tera::Error::msg(format!(
                    "`load_data`: `{raw}` doesn't exist (looked in the site's folder, static/, content/ and the theme's static/)"
                )));
            }
            Err(e) => return Err(e),
        };
        let format = format.unwrap_or_else(|| data::Format::of_file(path.format_name(raw)));
        let key = (path.key(), format);
        if let Some(value) = self
            .cache
            .lock()
            .map_err(|_| tera::Error::msg("poisoned"))?
            .get(&key)
        {
            return Ok(value.clone());
        }
        let bytes = path.read(raw, "load_data")?;
        let text = std::str::from_utf8(&bytes)
            .map_err(|e| tera::Error::msg(format!("`load_data`: `{raw}` is not UTF-8: {e}")))?;
        let value = data::parse(text, format).map_err(|e| {
            tera::Error::msg(format!(
                "`load_data`: `{raw}` is not valid {}: {e}",
                format.name()
            ))
        })?;
        self.cache
            .lock()
            .map_err(|_| tera::Error::msg("poisoned"))?
            .insert(key, value.clone());
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::quoted;

    #[test]
    fn quoted_pieces() {
        assert_eq!(
            quoted("Variable `page.foo` not found in 'page.html'", '`'),
            ["page.foo"]
        );
        assert_eq!(
            quoted("in 'base.html' from 'page.html'", '\''),
            ["base.html", "page.html"]
        );
    }
}
