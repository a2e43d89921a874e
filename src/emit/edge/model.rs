//! The site as the edge platforms see it: its files, routes, redirects and headers, and the
//! platforms' names and limits. Every target's writer reads this one value.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};

use serde_json::{Value, json};

use crate::config::{EdgeLimits, EdgeTarget, check_route_path};
use crate::diagnostics::{Diagnostic, Error, Result};
use crate::fs::{Durability, is_temporary, write_atomic};
use crate::site::Site;
use crate::site::paths::alias_path;

/// The shared handler module every target's entry point imports.
pub const HANDLERS_JS: &str = include_str!("handlers/handlers.js");

/// `Cache-Control` of fingerprinted files.
pub(crate) const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// `Cache-Control` of HTML pages.
pub(crate) const REVALIDATE: &str = "no-cache";
/// The file the `search` handler reads, at the output's root.
pub(crate) const SEARCH_INDEX: &str = "search-index.json";
/// The environment variable that overrides `edge.fresh_source`.
pub(crate) const FRESH_ENV: &str = "SITEGEN_FRESH_SOURCE";

/// Top-level names of the output folder that belong to a target, never to the site.
pub(crate) const PLATFORM_FILES: [(&str, Option<EdgeTarget>); 12] = [
    ("_headers", None),
    ("_redirects", None),
    ("_worker.js", Some(EdgeTarget::Cloudflare)),
    ("_routes.json", Some(EdgeTarget::Cloudflare)),
    ("wrangler.jsonc", Some(EdgeTarget::Cloudflare)),
    (".assetsignore", Some(EdgeTarget::Cloudflare)),
    ("netlify", Some(EdgeTarget::Netlify)),
    ("netlify.toml", Some(EdgeTarget::Netlify)),
    (".vercel", Some(EdgeTarget::Vercel)),
    ("main.ts", Some(EdgeTarget::Deno)),
    ("_deno", Some(EdgeTarget::Deno)),
    (SEARCH_INDEX, None),
];

/// A file of the built site, as the platforms will serve it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct SiteFile {
    /// Relative to the output folder, with `/`.
    pub(crate) path: String,
    /// Its size in bytes.
    pub(crate) size: u64,
}

/// An edge route, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Route {
    /// The site path, or a prefix ending in `*`.
    pub(crate) path: String,
    /// `search`, `fresh`, or the key of a custom handler (its file, relative to the site).
    pub(crate) handler: String,
}

/// A handler module of the site, bundled as is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Custom {
    /// Its file relative to the site (`edge/hello.js`): the name routes use.
    pub(crate) key: String,
    /// The module's file name in the emitted code (`edge-hello.js`).
    pub(crate) module: String,
    /// Its source.
    pub(crate) source: Vec<u8>,
}

/// Everything the targets need, computed once per build.
#[derive(Debug)]
pub(crate) struct Edge {
    /// The configured targets.
    pub(crate) targets: BTreeSet<EdgeTarget>,
    /// The files of the built site (not the platforms' files), sorted.
    pub(crate) files: Vec<SiteFile>,
    /// Edge routes: exact paths first, then prefixes, longest first.
    pub(crate) routes: Vec<Route>,
    /// The site's handler modules that routes name.
    pub(crate) custom: Vec<Custom>,
    /// Aliases and section redirects: (from, to), sorted, as URL paths (percent-encoded).
    pub(crate) redirects: Vec<(String, String)>,
    /// Headers sent with every response (CSP, nosniff, …).
    pub(crate) security: Vec<(String, String)>,
    /// Where the `search` handler finds its index, when some route uses it.
    pub(crate) search_index: Option<String>,
    /// `edge.fresh_source`.
    pub(crate) fresh_source: Option<String>,
    /// The limits to check.
    pub(crate) limits: EdgeLimits,
    /// The site's title, for names.
    pub(crate) name: String,
    /// Platform file names that are the site's own static files (left alone).
    pub(crate) site_owned: HashSet<String>,
    output: PathBuf,
}

impl Edge {
    /// Resolves the routes and redirects of `site` and lists the files of `output`.
    pub(crate) fn new(site: &Site, output: &Path) -> Result<Self> {
        let config = &site.config.edge;
        let mut problems = Vec::new();
        let mut routes = Vec::new();
        let mut custom: BTreeMap<String, Custom> = BTreeMap::new();
        let mut add_route = |path: &str,
                             handler: &str,
                             file: Option<PathBuf>,
                             problems: &mut Vec<Diagnostic>| {
            let located = |d: Diagnostic| match &file {
                Some(f) => d.in_file(f),
                None => d,
            };
            if let Err(why) = check_route_path(path) {
                problems.push(
                        located(Diagnostic::error(format!("edge route `{path}`: {why}")))
                            .with_help("a route path is a site path starting with `/`, optionally ending with `*` (`/api/*`)"),
                    );
                return;
            }
            let handler = match handler {
                "search" | "fresh" => handler.to_owned(),
                file_name => match custom_handler(&site.root, file_name) {
                    Ok(c) => {
                        let key = c.key.clone();
                        custom.entry(key.clone()).or_insert(c);
                        key
                    }
                    Err(why) => {
                        problems.push(
                                located(Diagnostic::error(format!(
                                    "edge route `{path}`: handler `{file_name}` {why}"
                                )))
                                .with_help("a handler is `search`, `fresh`, or a JavaScript module of the site (`edge/hello.js`) whose default export is `async (request, context) => Response`"),
                            );
                        return;
                    }
                },
            };
            routes.push(Route {
                path: encode_path(path),
                handler,
            });
        };
        for route in &config.routes {
            add_route(&route.path, &route.handler, None, &mut problems);
        }
        for page in &site.pages {
            if let Some(handler) = &page.meta.edge
                && page.meta.render != Some(false)
            {
                let file = PathBuf::from("content").join(&page.doc.relative_path);
                add_route(&page.doc.path, handler, Some(file), &mut problems);
            }
        }
        if !problems.is_empty() {
            return Err(Error::Site(problems));
        }
        // Exact paths first, then prefixes (longest first): the first match wins everywhere.
        routes.sort_by(|a, b| {
            let glob = |r: &Route| r.path.ends_with('*');
            glob(a)
                .cmp(&glob(b))
                .then(b.path.len().cmp(&a.path.len()))
                .then(a.path.cmp(&b.path))
        });
        routes.dedup_by(|a, b| a.path == b.path);

        let site_owned: HashSet<String> = site
            .static_files
            .iter()
            .map(|f| f.name.clone())
            .filter(|n| PLATFORM_FILES.iter().any(|(p, _)| p == n))
            .collect();
        let files = inventory(output, &site_owned);
        let search_index = routes
            .iter()
            .any(|r| r.handler == "search")
            .then(|| format!("/{SEARCH_INDEX}"));
        // Two files may flatten to one module name (`a/b.js`, `a-b.js`): number the second.
        let mut custom: Vec<Custom> = custom.into_values().collect();
        let mut taken: HashSet<String> = HashSet::new();
        for c in &mut custom {
            let (stem, ext) = c.module.rsplit_once('.').unwrap_or((&c.module, "js"));
            let (stem, ext) = (stem.to_owned(), ext.to_owned());
            let mut n = 1;
            while !taken.insert(c.module.clone()) {
                n += 1;
                c.module = format!("{stem}-{n}.{ext}");
            }
        }
        Ok(Self {
            targets: config.targets.iter().copied().collect(),
            files,
            routes,
            custom,
            redirects: redirects(site),
            security: security_headers(site),
            search_index,
            fresh_source: config.fresh_source.clone(),
            limits: config.limits.clone(),
            name: site.config.title.clone().unwrap_or_default(),
            site_owned,
            output: output.to_path_buf(),
        })
    }

    /// Writes `bytes` to `name` at the output's root, unless the site has a file of that name.
    pub(super) fn write_root(&self, name: &str, bytes: &[u8]) -> Result<()> {
        if self.site_owned.contains(name) {
            return Ok(());
        }
        write_atomic(&self.output.join(name), bytes, Durability::Cached)
    }

    /// The object the handlers read (`site.js`), with the redirects this target does in code.
    pub(crate) fn site_object(&self, redirects: &[(String, String)]) -> Value {
        let routes: Vec<Value> = self
            .routes
            .iter()
            .map(|r| json!({ "path": r.path, "handler": r.handler }))
            .collect();
        let redirects: serde_json::Map<String, Value> = redirects
            .iter()
            .map(|(from, to)| (from.clone(), Value::from(to.clone())))
            .collect();
        let headers: serde_json::Map<String, Value> = self
            .security
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(v.clone())))
            .collect();
        let mut site = json!({
            "routes": routes,
            "redirects": redirects,
            "headers": headers,
        });
        if let Some(index) = &self.search_index {
            site["search"] = json!({ "index": index });
        }
        if let Some(source) = &self.fresh_source {
            site["fresh"] = json!({ "source": source });
        }
        site
    }

    /// `site.js`: the site object as a module.
    pub(crate) fn site_js(&self, redirects: &[(String, String)]) -> String {
        let object = serde_json::to_string_pretty(&self.site_object(redirects)).unwrap_or_default();
        format!(
            "// Generated by sitegen: what the edge handlers need to know about the site (routes,\n\
             // redirects done in code, headers, settings). Rebuilt with the site; do not edit.\n\
             export default {object};\n"
        )
    }

    /// The import lines and the `custom` object of an entry point whose modules are in `dir`
    /// (`./custom`), for the custom handlers in `keys` (all when `None`).
    pub(crate) fn custom_imports(&self, dir: &str, keys: Option<&[&str]>) -> (String, String) {
        let mut imports = String::new();
        let mut object = String::from("{");
        for (i, c) in self.custom.iter().enumerate() {
            if keys.is_some_and(|k| !k.contains(&c.key.as_str())) {
                continue;
            }
            let _ = writeln!(imports, "import custom{i} from \"{dir}/{}\";", c.module);
            let _ = write!(object, "\n  {}: custom{i},", js_string(&c.key));
        }
        object.push_str(if object.len() > 1 { "\n}" } else { "}" });
        (imports, object)
    }

    /// The name of the function (Netlify, Vercel) that runs `handler`.
    pub(crate) fn function_name(&self, handler: &str) -> String {
        match handler {
            "search" | "fresh" => handler.to_owned(),
            key => self.custom.iter().find(|c| c.key == key).map_or_else(
                || "custom".to_owned(),
                |c| {
                    let stem = c.module.trim_end_matches(".mjs").trim_end_matches(".js");
                    format!("custom-{stem}")
                },
            ),
        }
    }

    /// The `_headers` file (Cloudflare's and Netlify's format): security headers on every path,
    /// revalidation of HTML, immutable caching of fingerprinted files within the rule budget.
    pub(crate) fn headers_file(&self, warnings: &mut Vec<Diagnostic>) -> String {
        let mut text = String::from(
            "# Generated by sitegen: response headers (Cloudflare and Netlify). Rebuilt with the site.\n\
             # Every response: the content security policy and the usual security headers.\n/*\n",
        );
        for (name, value) in &self.security {
            let _ = writeln!(text, "  {name}: {value}");
        }
        text.push_str("# HTML pages: revalidated on every request.\n");
        for path in ["/", "/*/", "/*.html"] {
            let _ = writeln!(text, "{path}\n  Cache-Control: {REVALIDATE}");
        }
        let budget = self.limits.max_header_rules.saturating_sub(4);
        let (patterns, left_out) = immutable_patterns(&self.files, budget);
        if !patterns.is_empty() {
            text.push_str("# Fingerprinted files (a content hash in the name) never change.\n");
        }
        for pattern in &patterns {
            let _ = writeln!(text, "{pattern}\n  Cache-Control: {IMMUTABLE}");
        }
        if left_out > 0 {
            warnings.push(
                Diagnostic::warning(format!(
                    "_headers: {left_out} fingerprinted file(s) did not fit in the {} header rules a _headers file may hold (edge.limits.max_header_rules); they are revalidated instead of cached for a year",
                    self.limits.max_header_rules
                ))
                .with_help("keep fingerprinted assets in folders of their own (`css/`, `js/`, `fonts/`) so one rule per folder covers them"),
            );
        }
        text
    }
}

/// Whether a file name carries a content hash (`site.0123abcd.css`): `.` + 8 or more lowercase
/// hex digits + `.`.
pub(crate) fn is_fingerprinted(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    let bytes = name.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'.' {
            let hex = bytes[i + 1..]
                .iter()
                .take_while(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
                .count();
            if hex >= 8 && bytes.get(i + 1 + hex) == Some(&b'.') {
                return true;
            }
            i += hex.max(1);
        } else {
            i += 1;
        }
    }
    false
}

pub(super) fn is_html(path: &str) -> bool {
    path.ends_with(".html") || path.ends_with(".htm")
}

/// `_headers` patterns that cover the fingerprinted files and nothing else: for each file, the
/// broadest `/dir/*.ext` whose every match is fingerprinted, else the file itself. Keeps at most
/// `budget` patterns (those covering most files); returns them and how many files were left out.
pub(crate) fn immutable_patterns(files: &[SiteFile], budget: usize) -> (Vec<String>, usize) {
    // (folder prefix, extension) → (files, fingerprinted files); a pattern `/dir/*.ext` matches
    // files at any depth below `dir/`.
    let mut counts: HashMap<(&str, &str), (usize, usize)> = HashMap::new();
    for f in files {
        let Some((_, ext)) = f.path.rsplit_once('.') else {
            continue;
        };
        let hit = usize::from(is_fingerprinted(&f.path) && !is_html(&f.path));
        let mut prefix_ends: Vec<usize> = vec![0];
        prefix_ends.extend(f.path.match_indices('/').map(|(i, _)| i + 1));
        for end in prefix_ends {
            let entry = counts.entry((&f.path[..end], ext)).or_default();
            entry.0 += 1;
            entry.1 += hit;
        }
    }
    let mut covered: BTreeMap<String, usize> = BTreeMap::new();
    for f in files {
        if !is_fingerprinted(&f.path) || is_html(&f.path) {
            continue;
        }
        let Some((_, ext)) = f.path.rsplit_once('.') else {
            continue;
        };
        let mut prefix_ends: Vec<usize> = vec![0];
        prefix_ends.extend(f.path.match_indices('/').map(|(i, _)| i + 1));
        let pattern = prefix_ends
            .iter()
            .find(|end| {
                counts
                    .get(&(&f.path[..**end], ext))
                    .is_some_and(|(n, h)| n == h)
            })
            .map_or_else(
                || format!("/{}", f.path),
                |end| format!("/{}*.{ext}", &f.path[..*end]),
            );
        *covered.entry(pattern).or_default() += 1;
    }
    let mut ranked: Vec<(String, usize)> = covered.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let left_out = ranked.iter().skip(budget).map(|(_, n)| n).sum();
    ranked.truncate(budget);
    let mut patterns: Vec<String> = ranked.into_iter().map(|(p, _)| p).collect();
    patterns.sort();
    (patterns, left_out)
}

/// At most `budget` rules (each at most `max_len` characters) covering `paths`: exact paths
/// while they fit, else prefixes (`/blog/*`), shorter and shorter, down to `/*`.
pub(crate) fn collapse(paths: &[String], budget: usize, max_len: usize) -> Vec<String> {
    let rules: BTreeSet<String> = paths.iter().cloned().collect();
    let fits = |rules: &BTreeSet<String>| {
        rules.len() <= budget.max(1) && rules.iter().all(|r| r.len() <= max_len)
    };
    if fits(&rules) {
        return rules.into_iter().collect();
    }
    let depth_of = |p: &str| p.trim_matches('/').split('/').count();
    let deepest = rules.iter().map(|p| depth_of(p)).max().unwrap_or(1);
    for depth in (1..deepest).rev() {
        let collapsed: BTreeSet<String> = rules
            .iter()
            .map(|p| {
                let segments: Vec<&str> = p.trim_matches('/').split('/').collect();
                if segments.len() > depth {
                    format!("/{}/*", segments[..depth].join("/"))
                } else {
                    p.clone()
                }
            })
            .collect();
        // A prefix covers the exact paths below it.
        let globs: Vec<String> = collapsed
            .iter()
            .filter_map(|r| r.strip_suffix('*').map(str::to_owned))
            .collect();
        let collapsed: BTreeSet<String> = collapsed
            .into_iter()
            .filter(|r| r.ends_with('*') || !globs.iter().any(|g| r.starts_with(g.as_str())))
            .collect();
        if fits(&collapsed) {
            return collapsed.into_iter().collect();
        }
    }
    vec!["/*".to_owned()]
}

/// Reads a custom handler: a `.js`/`.mjs` file inside the site's folder.
pub(super) fn custom_handler(root: &Path, name: &str) -> std::result::Result<Custom, String> {
    let relative = Path::new(name);
    if !relative
        .components()
        .all(|c| matches!(c, Component::Normal(_)))
    {
        return Err("is neither `search`, `fresh` nor a file inside the site".to_owned());
    }
    if !(name.ends_with(".js") || name.ends_with(".mjs")) {
        return Err(
            "is neither `search`, `fresh` nor a JavaScript file (`.js`, `.mjs`)".to_owned(),
        );
    }
    let path = root.join(relative);
    let inside = match (path.canonicalize(), root.canonicalize()) {
        (Ok(file), Ok(root)) => file.starts_with(root),
        (Err(e), _) | (_, Err(e)) => {
            return Err(format!("cannot be read from `{}`: {e}", path.display()));
        }
    };
    if !inside {
        return Err("leads out of the site's folder (a symbolic link)".to_owned());
    }
    let source = std::fs::read(&path)
        .map_err(|e| format!("cannot be read from `{}`: {e}", path.display()))?;
    let key = name.replace('\\', "/");
    let module: String = key
        .chars()
        .map(|c| match c {
            '/' => '-',
            c if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') => c,
            _ => '_',
        })
        .collect();
    Ok(Custom {
        key,
        module,
        source,
    })
}

/// The files of the output folder that are the site's (not a platform's), sorted.
pub(super) fn inventory(output: &Path, site_owned: &HashSet<String>) -> Vec<SiteFile> {
    let mut files = Vec::new();
    let walker = walkdir::WalkDir::new(output)
        .min_depth(1)
        .into_iter()
        .filter_entry(|e| {
            if e.depth() != 1 {
                return true;
            }
            let name = e.file_name().to_string_lossy();
            let platform = PLATFORM_FILES.iter().any(|(p, _)| *p == name);
            (!platform || site_owned.contains(name.as_ref())) && !is_temporary(&name)
        });
    for entry in walker.flatten() {
        if !entry.file_type().is_file() {
            continue;
        }
        let Ok(relative) = entry.path().strip_prefix(output) else {
            continue;
        };
        let path = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        let size = entry.metadata().map_or(0, |m| m.len());
        files.push(SiteFile { path, size });
    }
    files.sort();
    files
}

/// Every alias (pages' and sections'), section `redirect_to` and first pager (`/blog/page/1/`),
/// as (from, to) URL paths: the redirect pages of the build, as real redirects.
pub(super) fn redirects(site: &Site) -> Vec<(String, String)> {
    let mut all: BTreeMap<String, String> = BTreeMap::new();
    let mut add = |aliases: &[String], to: &str| {
        for alias in aliases {
            if let Ok(from) = alias_path(alias) {
                all.entry(encode_path(&from))
                    .or_insert_with(|| encode_path(to));
            }
        }
    };
    for page in &site.pages {
        add(&page.meta.aliases, &page.doc.path);
    }
    for section in &site.sections {
        add(&section.meta.aliases, &section.doc.path);
    }
    for section in &site.sections {
        // The first page of a paginated listing is the listing itself.
        if section.meta.render
            && section.meta.paginate_by.is_some()
            && section.meta.redirect_to.is_none()
        {
            let first = format!("{}{}/1/", section.doc.path, section.meta.paginate_path);
            all.entry(encode_path(&first))
                .or_insert_with(|| encode_path(&section.doc.path));
        }
        if let Some(target) = &section.meta.redirect_to {
            let to = if target.starts_with("http:") || target.starts_with("https:") {
                target.clone()
            } else {
                encode_path(&site.config.make_path(target))
            };
            all.entry(encode_path(&section.doc.path)).or_insert(to);
        }
    }
    for taxonomy in site.taxonomies.iter().filter(|t| t.config.render) {
        if taxonomy.config.paginate_by.is_some() {
            for term in &taxonomy.terms {
                let first = format!("{}{}/1/", term.path, taxonomy.config.paginate_path);
                all.entry(encode_path(&first))
                    .or_insert_with(|| encode_path(&term.path));
            }
        }
    }
    all.into_iter().filter(|(from, to)| from != to).collect()
}

/// The headers of every response: the content security policy and the usual security headers.
pub(super) fn security_headers(site: &Site) -> Vec<(String, String)> {
    let csp = site
        .config
        .edge
        .csp
        .clone()
        .unwrap_or_else(|| default_csp(&site.config.base_url));
    let mut headers = Vec::new();
    if !csp.trim().is_empty() {
        headers.push(("Content-Security-Policy".to_owned(), csp.trim().to_owned()));
    }
    for (name, value) in [
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "SAMEORIGIN"),
        ("Referrer-Policy", "strict-origin-when-cross-origin"),
        (
            "Permissions-Policy",
            "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
        ),
    ] {
        headers.push((name.to_owned(), value.to_owned()));
    }
    headers
}

/// The default policy: the site's own origin (and its `base_url`'s, whose absolute links the
/// templates print) for scripts, styles and fonts; images from anywhere over HTTPS; no plugins,
/// no framing by other sites.
pub(crate) fn default_csp(base_url: &str) -> String {
    let origin = base_url
        .split_once("://")
        .filter(|(scheme, _)| *scheme == "https" || *scheme == "http")
        .map(|(scheme, rest)| {
            let host = rest.split('/').next().unwrap_or_default();
            format!(" {scheme}://{host}")
        })
        .filter(|o| o.len() > " https://".len() && !o[1..].contains(['\'', ';', ' ', ',']))
        .unwrap_or_default();
    format!(
        "default-src 'self'{origin}; img-src 'self'{origin} data: https:; style-src 'self'{origin} 'unsafe-inline'; \
         script-src 'self'{origin}; font-src 'self'{origin} data:; object-src 'none'; base-uri 'self'; \
         form-action 'self'; frame-ancestors 'self'"
    )
}

/// Percent-encodes what a URL path cannot hold as is (spaces, non-ASCII), as `URL` would.
pub(crate) fn encode_path(path: &str) -> String {
    use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
    const PATH: &AsciiSet = &CONTROLS
        .add(b' ')
        .add(b'"')
        .add(b'#')
        .add(b'<')
        .add(b'>')
        .add(b'?')
        .add(b'`')
        .add(b'{')
        .add(b'}')
        .add(b'^')
        .add(b'|')
        .add(b'\\');
    utf8_percent_encode(path, PATH).to_string()
}

/// A JavaScript string literal.
pub(crate) fn js_string(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".to_owned())
}

/// An anchored regular expression (Vercel's PCRE, JavaScript's) for a route path.
pub(crate) fn route_regex(path: &str) -> String {
    let escape = |s: &str| {
        s.chars().fold(String::new(), |mut out, c| {
            if "\\^$.|?*+()[]{}".contains(c) {
                out.push('\\');
            }
            out.push(c);
            out
        })
    };
    if let Some(prefix) = path.strip_suffix('*') {
        format!("^{}.*$", escape(prefix))
    } else if let Some(dir) = path.strip_suffix('/').filter(|d| !d.is_empty()) {
        format!("^{}/?$", escape(dir))
    } else {
        format!("^{}$", escape(path))
    }
}
