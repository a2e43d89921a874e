//! Tera 1.x (the major Zola uses, so Zola templates run unchanged): compiling the site's
//! templates, Zola's functions and filters, and turning tera's errors into diagnostics that name
//! the template, the line and the variable or call at fault.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tera::{Function, Tera};

use crate::diagnostics::{Code, Diagnostic, error_chain};
use crate::plan::reason::Dep;
use crate::render::context::{self, View};
use crate::site::{ContentRef, Site};

/// The compiled templates of a site, with sitegen's functions and filters.
pub(crate) struct Templates {
    /// The tera instance.
    tera: Tera,
    /// The site, whose templates' sources name the culprit of an error.
    site: Arc<Site>,
}

thread_local! {
    /// What the template functions read during the render on this thread.
    static RECORDED: std::cell::RefCell<Vec<Dep>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Notes that the render running on this thread read `dep`.
pub(crate) fn record(dep: Dep) {
    RECORDED.with(|r| r.borrow_mut().push(dep));
}

/// Takes what the functions read on this thread since the last call, sorted and deduplicated.
pub(crate) fn take_recorded() -> Vec<Dep> {
    let mut deps = RECORDED.with(|r| std::mem::take(&mut *r.borrow_mut()));
    deps.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
    deps.dedup();
    deps
}

impl Templates {
    /// Compiles the (parsed) templates of `site`, with the functions that read it and the
    /// copy generated for its pages.
    pub(crate) fn compile(view: &View) -> Result<Self, Vec<Diagnostic>> {
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
    pub(crate) fn render_shortcode(
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

fn register(tera: &mut Tera, view: &View) {
    let site = &view.site;
    let view = view.clone();
    tera.register_function(
        "get_url",
        GetUrl {
            site: Arc::clone(site),
        },
    );
    tera.register_function("get_page", GetPage(view.clone()));
    tera.register_function("get_section", GetSection(view.clone()));
    tera.register_function("get_taxonomy", GetTaxonomy(view));
    tera.register_function("get_taxonomy_url", GetTaxonomyUrl(Arc::clone(site)));
    tera.register_function(
        "load_data",
        LoadData {
            site: Arc::clone(site),
            cache: Mutex::default(),
        },
    );
    tera.register_filter("markdown", MarkdownFilter(Arc::clone(site)));
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

fn bool_arg(args: &HashMap<String, Value>, name: &str) -> bool {
    args.get(name).and_then(Value::as_bool).unwrap_or(false)
}

/// `get_url(path, cachebust=false, trailing_slash=false)`.
struct GetUrl {
    site: Arc<Site>,
}

impl Function for GetUrl {
    fn call(&self, args: &HashMap<String, Value>) -> tera::Result<Value> {
        let path = string_arg(args, "path", "get_url")?;
        if let Some(content) = path.strip_prefix("@/") {
            let (file, anchor) = content
                .split_once('#')
                .map_or((content, None), |(f, a)| (f, Some(a)));
            record(Dep::Url(file.to_owned()));
            let url = self.site.permalink_of(file).ok_or_else(|| {
                tera::Error::msg(format!(
                    "`get_url`: no content file `{file}` (from `{path}`)"
                ))
            })?;
            return Ok(Value::String(
                anchor.map_or(url.clone(), |a| format!("{url}#{a}")),
            ));
        }
        if path.contains("://") || path.starts_with("//") {
            return Ok(Value::String(path.to_owned()));
        }
        let mut url = self.site.config.permalink(path);
        if bool_arg(args, "trailing_slash") && !url.ends_with('/') {
            url.push('/');
        }
        if bool_arg(args, "cachebust") {
            let name = path.trim_start_matches('/');
            record(Dep::Static(name.to_owned()));
            let hash = self.static_hash(name)?;
            url = format!("{url}?h={hash}");
        }
        Ok(Value::String(url))
    }

    fn is_safe(&self) -> bool {
        true
    }
}

impl GetUrl {
    /// A short blake3 hash of the static file `name`, computed once per build.
    fn static_hash(&self, name: &str) -> tera::Result<String> {
        self.site
            .static_files
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.hash.short_hex())
            .ok_or_else(|| {
                tera::Error::msg(format!(
                    "`get_url(cachebust=true)`: no static file `{name}`"
                ))
            })
    }
}

/// `get_page(path)`: a page by content path, without its content.
struct GetPage(View);

impl Function for GetPage {
    fn call(&self, args: &HashMap<String, Value>) -> tera::Result<Value> {
        let path = string_arg(args, "path", "get_page")?.trim_start_matches("@/");
        record(Dep::Page(path.to_owned()));
        match self.0.site.by_content_path.get(path) {
            Some(ContentRef::Page(id)) => Ok(context::page(&self.0, *id, None, true)),
            _ => Err(tera::Error::msg(format!(
                "`get_page`: no page `{path}` in content/"
            ))),
        }
    }
}

/// `get_section(path, metadata_only=false)`.
struct GetSection(View);

impl Function for GetSection {
    fn call(&self, args: &HashMap<String, Value>) -> tera::Result<Value> {
        let path = string_arg(args, "path", "get_section")?.trim_start_matches("@/");
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
            _ => Err(tera::Error::msg(format!(
                "`get_section`: no section `{path}` in content/"
            ))),
        }
    }
}

/// `get_taxonomy(kind, required=true)`.
struct GetTaxonomy(View);

impl Function for GetTaxonomy {
    fn call(&self, args: &HashMap<String, Value>) -> tera::Result<Value> {
        let kind = string_arg(args, "kind", "get_taxonomy")?;
        record(Dep::Taxonomy(kind.to_owned()));
        match self
            .0
            .site
            .taxonomies
            .iter()
            .find(|t| t.config.name == kind)
        {
            Some(taxonomy) => Ok(context::taxonomy(&self.0, taxonomy)),
            None if args.get("required").and_then(Value::as_bool) == Some(false) => Ok(Value::Null),
            None => Err(tera::Error::msg(format!(
                "`get_taxonomy`: no taxonomy `{kind}` in the config"
            ))),
        }
    }
}

/// `get_taxonomy_url(kind, name)`.
struct GetTaxonomyUrl(Arc<Site>);

impl Function for GetTaxonomyUrl {
    fn call(&self, args: &HashMap<String, Value>) -> tera::Result<Value> {
        let kind = string_arg(args, "kind", "get_taxonomy_url")?;
        let name = string_arg(args, "name", "get_taxonomy_url")?;
        record(Dep::TermUrl {
            kind: kind.to_owned(),
            name: name.to_owned(),
        });
        let taxonomy = self
            .0
            .taxonomies
            .iter()
            .find(|t| t.config.name == kind)
            .ok_or_else(|| {
                tera::Error::msg(format!(
                    "`get_taxonomy_url`: no taxonomy `{kind}` in the config"
                ))
            })?;
        let slug = slug::slugify(name);
        taxonomy
            .terms
            .iter()
            .find(|t| t.slug == slug)
            .map(|t| Value::String(t.permalink.clone()))
            .ok_or_else(|| {
                tera::Error::msg(format!("`get_taxonomy_url`: no term `{name}` in `{kind}`"))
            })
    }
}

/// `load_data(path, format)`: a local file (JSON, TOML, YAML, CSV or plain text), read once per
/// build. Paths are relative to the site's root and may not leave it.
struct LoadData {
    site: Arc<Site>,
    cache: Mutex<HashMap<(PathBuf, String), Value>>,
}

impl Function for LoadData {
    fn call(&self, args: &HashMap<String, Value>) -> tera::Result<Value> {
        let raw = string_arg(args, "path", "load_data")?;
        let relative = raw
            .strip_prefix("@/")
            .map_or_else(|| PathBuf::from(raw), |c| Path::new("content").join(c));
        let root = self
            .site
            .root
            .canonicalize()
            .map_err(|e| tera::Error::msg(e.to_string()))?;
        let path = root
            .join(&relative)
            .canonicalize()
            .map_err(|e| tera::Error::msg(format!("`load_data`: cannot read `{raw}`: {e}")))?;
        record(Dep::Data(
            path.strip_prefix(&root).unwrap_or(&path).to_path_buf(),
        ));
        if !path.starts_with(&root) {
            return Err(tera::Error::msg(format!(
                "`load_data`: `{raw}` is outside the site's folder"
            )));
        }
        let format = match args.get("format").and_then(Value::as_str) {
            Some(f) => f.to_owned(),
            None => path
                .extension()
                .and_then(|e| e.to_str())
                .unwrap_or("plain")
                .to_lowercase(),
        };
        let key = (path.clone(), format.clone());
        if let Some(value) = self
            .cache
            .lock()
            .map_err(|_| tera::Error::msg("poisoned"))?
            .get(&key)
        {
            return Ok(value.clone());
        }
        let text = std::fs::read_to_string(&path)
            .map_err(|e| tera::Error::msg(format!("`load_data`: cannot read `{raw}`: {e}")))?;
        let value = parse_data(&text, &format).map_err(|e| {
            tera::Error::msg(format!("`load_data`: `{raw}` is not valid {format}: {e}"))
        })?;
        self.cache
            .lock()
            .map_err(|_| tera::Error::msg("poisoned"))?
            .insert(key, value.clone());
        Ok(value)
    }
}

/// Parses a data file as `format` (`json`, `toml`, `yaml`/`yml`, `csv`; anything else is text).
fn parse_data(text: &str, format: &str) -> Result<Value, String> {
    match format {
        "json" => serde_json::from_str(text).map_err(|e| e.to_string()),
        "toml" => {
            let mut value: Value = toml::from_str(text).map_err(|e| e.to_string())?;
            crate::value::unwrap_datetimes(&mut value);
            Ok(value)
        }
        "yaml" | "yml" => serde_norway::from_str(text).map_err(|e| e.to_string()),
        "csv" => {
            let mut lines = text.lines().filter(|l| !l.trim().is_empty());
            let headers: Vec<Value> = lines
                .next()
                .map(split_csv_line)
                .unwrap_or_default()
                .into_iter()
                .map(Value::String)
                .collect();
            let records: Vec<Value> = lines
                .map(|l| Value::Array(split_csv_line(l).into_iter().map(Value::String).collect()))
                .collect();
            Ok(serde_json::json!({ "headers": headers, "records": records }))
        }
        _ => Ok(Value::String(text.to_owned())),
    }
}

/// Splits one CSV line, honouring double quotes.
fn split_csv_line(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut field)),
            c => field.push(c),
        }
    }
    fields.push(field);
    fields
}

/// `markdown(inline=false)`: renders a string as markdown.
struct MarkdownFilter(Arc<Site>);

impl tera::Filter for MarkdownFilter {
    fn filter(&self, value: &Value, args: &HashMap<String, Value>) -> tera::Result<Value> {
        let text = value
            .as_str()
            .ok_or_else(|| tera::Error::msg("`markdown` filters strings only"))?;
        let options = crate::markdown::RenderOptions::new(&self.0.config.markdown, None);
        let resolve = |path: &str| self.0.permalink_of(path);
        let mut html = crate::markdown::render(text, &options, "", &resolve).html;
        if bool_arg(args, "inline") {
            let trimmed = html.trim();
            if let Some(inner) = trimmed
                .strip_prefix("<p>")
                .and_then(|s| s.strip_suffix("</p>"))
                && !inner.contains("<p>")
            {
                html = inner.to_owned();
            }
        }
        Ok(Value::String(html))
    }

    fn is_safe(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::{parse_data, quoted, split_csv_line};

    #[test]
    fn csv_lines_honour_quotes() {
        assert_eq!(split_csv_line("a,\"b,c\",\"d\"\"e\""), ["a", "b,c", "d\"e"]);
        let v = parse_data("x,y\n1,2\n", "csv").unwrap();
        assert_eq!(v["headers"][1], "y");
        assert_eq!(v["records"][0][0], "1");
    }

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
