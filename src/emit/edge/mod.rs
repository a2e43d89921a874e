//! Edge output: what edge platforms need beside the static files (`[edge] targets`).
//!
//! After a build has updated the output folder, [`emit`] writes, for each target, the files its
//! platform's documentation asks for: headers (immutable caching of fingerprinted assets,
//! revalidation of HTML, a content security policy and the usual security headers), aliases as
//! real 301 redirects, and small entry points for the edge routes, each importing the one shared
//! handler module (`handlers/handlers.js`: `search`, `fresh` and the dispatcher):
//!
//! - Cloudflare ([`cloudflare`]): `_headers`, `_redirects`, `_routes.json` (Pages), `_worker.js/`
//!   (a module worker), `wrangler.jsonc` and `.assetsignore` (Workers with static assets);
//! - Netlify ([`netlify`]): `_headers`, `_redirects`, `netlify/edge-functions/NAME.js`;
//! - Vercel ([`vercel`]): `.vercel/output/` (Build Output API v3);
//! - Deno Deploy ([`deno`]): `main.ts`, a static file server with the edge routes.
//!
//! The files are regenerated on every build that is not a no-op, each written atomically (a
//! temporary file or folder renamed into place); they are not part of the build's manifest.
//! Platform limits are checked here, with messages naming the limit and what to do.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};

use serde_json::{Value, json};

use crate::config::{EdgeLimits, EdgeTarget};
use crate::diagnostics::{Diagnostic, Error, Result};
use crate::load::content::sanitize_site_path;
use crate::load::site::Site;

mod cloudflare;
mod deno;
mod netlify;
pub mod search;
mod vercel;

/// The shared handler module every target's entry point imports.
pub const HANDLERS_JS: &str = include_str!("handlers/handlers.js");

/// `Cache-Control` of fingerprinted files.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// `Cache-Control` of HTML pages.
pub const REVALIDATE: &str = "no-cache";
/// The file the `search` handler reads, at the output's root.
pub const SEARCH_INDEX: &str = "search-index.json";
/// The environment variable that overrides `edge.fresh_source`.
pub const FRESH_ENV: &str = "SITEGEN_FRESH_SOURCE";

/// Top-level names of the output folder that belong to a target, never to the site.
const PLATFORM_FILES: [(&str, Option<EdgeTarget>); 12] = [
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

/// Writes the edge files of every target in `site.config.edge.targets` into `output`, and
/// removes those of targets no longer configured.
pub fn emit(site: &Site, output: &Path, warnings: &mut Vec<Diagnostic>) -> Result<()> {
    remove_leftovers(output);
    if site.config.edge.targets.is_empty() {
        // No target (any more): remove what an earlier build wrote, if it did.
        for (name, _) in PLATFORM_FILES {
            if !site.static_files.iter().any(|f| f.name == name) {
                remove_ours(&output.join(name))?;
            }
        }
        return Ok(());
    }
    // The build's stamp (its no-op check) is set aside while the files are written, so a build
    // killed meanwhile is followed by one that writes them again.
    let state = crate::state::dir(&site.root);
    let stamp = state.join("stamp");
    let aside = state.join("stamp.edge");
    let stamped = std::fs::rename(&stamp, &aside).is_ok();
    write_targets(site, output, warnings)?;
    if stamped {
        std::fs::rename(&aside, &stamp).map_err(|e| Error::io(&stamp, e))?;
    }
    Ok(())
}

/// Writes the files of the configured targets, removes those of the others.
fn write_targets(site: &Site, output: &Path, warnings: &mut Vec<Diagnostic>) -> Result<()> {
    let mut edge = Edge::new(site, output)?;
    let index_path = output.join(SEARCH_INDEX);
    if edge.search_index.is_some() && !edge.site_owned.contains(SEARCH_INDEX) {
        let budget = edge.limits.search_index_bytes;
        let bytes = search::build(site, budget, warnings);
        write_atomic(&index_path, &bytes)?;
        edge.files.push(SiteFile {
            path: SEARCH_INDEX.to_owned(),
            size: bytes.len() as u64,
        });
        edge.files.sort();
    } else if !edge.site_owned.contains(SEARCH_INDEX) {
        remove_ours(&index_path)?;
    }
    if edge.targets.contains(&EdgeTarget::Cloudflare) {
        cloudflare::check_limits(&edge)?;
    }
    let shared = edge.targets.contains(&EdgeTarget::Cloudflare)
        || edge.targets.contains(&EdgeTarget::Netlify);
    if shared {
        for name in ["_headers", "_redirects"] {
            if edge.site_owned.contains(name) {
                warnings.push(
                    Diagnostic::warning(format!(
                        "static/{name} is the site's own file: sitegen did not write its {name} for the edge targets"
                    ))
                    .with_help(format!(
                        "remove static/{name} to get sitegen's {name}, or copy what you need from a build without it"
                    )),
                );
            }
        }
        let headers = edge.headers_file(warnings);
        edge.write_root("_headers", headers.as_bytes())?;
    }
    for target in [
        EdgeTarget::Cloudflare,
        EdgeTarget::Netlify,
        EdgeTarget::Vercel,
        EdgeTarget::Deno,
    ] {
        if !edge.targets.contains(&target) {
            for (name, owner) in PLATFORM_FILES {
                if owner == Some(target) && !edge.site_owned.contains(name) {
                    remove_ours(&output.join(name))?;
                }
            }
            continue;
        }
        match target {
            EdgeTarget::Cloudflare => cloudflare::emit(&edge, output, warnings)?,
            EdgeTarget::Netlify => netlify::emit(&edge, output, warnings)?,
            EdgeTarget::Vercel => vercel::emit(&edge, output, warnings)?,
            EdgeTarget::Deno => deno::emit(&edge, output)?,
        }
    }
    if !shared {
        for name in ["_headers", "_redirects"] {
            if !edge.site_owned.contains(name) {
                remove_ours(&output.join(name))?;
            }
        }
    }
    Ok(())
}

/// A file of the built site, as the platforms will serve it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SiteFile {
    /// Relative to the output folder, with `/`.
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
}

/// An edge route, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The site path, or a prefix ending in `*`.
    pub path: String,
    /// `search`, `fresh`, or the key of a custom handler (its file, relative to the site).
    pub handler: String,
}

/// A handler module of the site, bundled as is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Custom {
    /// Its file relative to the site (`edge/hello.js`): the name routes use.
    pub key: String,
    /// The module's file name in the emitted code (`edge-hello.js`).
    pub module: String,
    /// Its source.
    pub source: Vec<u8>,
}

/// Everything the targets need, computed once per build.
#[derive(Debug)]
pub struct Edge {
    /// The configured targets.
    pub targets: BTreeSet<EdgeTarget>,
    /// The files of the built site (not the platforms' files), sorted.
    pub files: Vec<SiteFile>,
    /// Edge routes: exact paths first, then prefixes, longest first.
    pub routes: Vec<Route>,
    /// The site's handler modules that routes name.
    pub custom: Vec<Custom>,
    /// Aliases and section redirects: (from, to), sorted, as URL paths (percent-encoded).
    pub redirects: Vec<(String, String)>,
    /// Headers sent with every response (CSP, nosniff, …).
    pub security: Vec<(String, String)>,
    /// Where the `search` handler finds its index, when some route uses it.
    pub search_index: Option<String>,
    /// `edge.fresh_source`.
    pub fresh_source: Option<String>,
    /// The limits to check.
    pub limits: EdgeLimits,
    /// The site's title, for names.
    pub name: String,
    /// Platform file names that are the site's own static files (left alone).
    pub site_owned: HashSet<String>,
    output: PathBuf,
}

impl Edge {
    /// Resolves the routes and redirects of `site` and lists the files of `output`.
    pub fn new(site: &Site, output: &Path) -> Result<Self> {
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
    fn write_root(&self, name: &str, bytes: &[u8]) -> Result<()> {
        if self.site_owned.contains(name) {
            return Ok(());
        }
        write_atomic(&self.output.join(name), bytes)
    }

    /// The object the handlers read (`site.js`), with the redirects this target does in code.
    pub fn site_object(&self, redirects: &[(String, String)]) -> Value {
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
    pub fn site_js(&self, redirects: &[(String, String)]) -> String {
        let object = serde_json::to_string_pretty(&self.site_object(redirects)).unwrap_or_default();
        format!(
            "// Generated by sitegen: what the edge handlers need to know about the site (routes,\n\
             // redirects done in code, headers, settings). Rebuilt with the site; do not edit.\n\
             export default {object};\n"
        )
    }

    /// The import lines and the `custom` object of an entry point whose modules are in `dir`
    /// (`./custom`), for the custom handlers in `keys` (all when `None`).
    pub fn custom_imports(&self, dir: &str, keys: Option<&[&str]>) -> (String, String) {
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
    pub fn function_name(&self, handler: &str) -> String {
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
    pub fn headers_file(&self, warnings: &mut Vec<Diagnostic>) -> String {
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
pub fn is_fingerprinted(path: &str) -> bool {
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

fn is_html(path: &str) -> bool {
    path.ends_with(".html") || path.ends_with(".htm")
}

/// `_headers` patterns that cover the fingerprinted files and nothing else: for each file, the
/// broadest `/dir/*.ext` whose every match is fingerprinted, else the file itself. Keeps at most
/// `budget` patterns (those covering most files); returns them and how many files were left out.
pub fn immutable_patterns(files: &[SiteFile], budget: usize) -> (Vec<String>, usize) {
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
pub fn collapse(paths: &[String], budget: usize, max_len: usize) -> Vec<String> {
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

/// Checks an edge route as the config gives it: its path, and that its handler is `search`,
/// `fresh` or a relative `.js`/`.mjs` path (whether the file is there is checked when it is read).
pub fn check_route(path: &str, handler: &str) -> std::result::Result<(), String> {
    check_route_path(path).map_err(|why| format!("edge route `{path}`: {why}"))?;
    let relative = Path::new(handler)
        .components()
        .all(|c| matches!(c, Component::Normal(_)));
    let module = handler.ends_with(".js") || handler.ends_with(".mjs");
    if matches!(handler, "search" | "fresh") || (relative && module) {
        Ok(())
    } else {
        Err(format!(
            "edge route `{path}`: handler `{handler}` is neither `search`, `fresh` nor a JavaScript file of the site (`edge/hello.js`)"
        ))
    }
}

/// Checks a route's path: starts with `/`, no whitespace or quotes, `*` only at the end.
fn check_route_path(path: &str) -> std::result::Result<(), &'static str> {
    if !path.starts_with('/') {
        return Err("the path must start with `/`");
    }
    if path
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '\'' | '\\' | '?' | '#'))
    {
        return Err("the path holds a space, a quote, `?` or `#`");
    }
    if path.trim_end_matches('*').contains('*') || path.ends_with("**") {
        return Err("`*` may only end the path");
    }
    if path.split('/').any(|s| s == "..") {
        return Err("the path climbs with `..`");
    }
    Ok(())
}

/// Reads a custom handler: a `.js`/`.mjs` file inside the site's folder.
fn custom_handler(root: &Path, name: &str) -> std::result::Result<Custom, String> {
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
fn inventory(output: &Path, site_owned: &HashSet<String>) -> Vec<SiteFile> {
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
            (!platform || site_owned.contains(name.as_ref())) && !is_leftover(&name)
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
        let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
        files.push(SiteFile { path, size });
    }
    files.sort();
    files
}

/// Every alias (pages' and sections'), section `redirect_to` and first pager (`/blog/page/1/`),
/// as (from, to) URL paths: the redirect pages of the build, as real redirects.
fn redirects(site: &Site) -> Vec<(String, String)> {
    let mut all: BTreeMap<String, String> = BTreeMap::new();
    let mut add = |aliases: &[String], to: &str| {
        for alias in aliases {
            if let Ok(from) = sanitize_site_path(alias) {
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
            let to = if target.contains("://") {
                target.clone()
            } else {
                encode_path(&format!("/{}", target.trim_start_matches('/')))
            };
            all.entry(encode_path(&section.doc.path)).or_insert(to);
        }
    }
    all.into_iter().filter(|(from, to)| from != to).collect()
}

/// The headers of every response: the content security policy and the usual security headers.
fn security_headers(site: &Site) -> Vec<(String, String)> {
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
pub fn default_csp(base_url: &str) -> String {
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
pub fn encode_path(path: &str) -> String {
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
pub fn js_string(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".to_owned())
}

/// An anchored regular expression (Vercel's PCRE, JavaScript's) for a route path.
pub fn route_regex(path: &str) -> String {
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

/// Writes `bytes` to `path` through a temporary file renamed into place.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(path, e)
    })
}

/// Removes a file or folder, if it is there.
fn remove_path(path: &Path) -> Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(path).map_err(|e| Error::io(path, e)),
        Ok(_) => std::fs::remove_file(path).map_err(|e| Error::io(path, e)),
        Err(_) => Ok(()),
    }
}

/// What marks a file as sitegen's (in its first lines).
pub const MARK: &str = "Generated by sitegen";

/// The file that marks `.vercel/output/` as sitegen's (Vercel ignores it).
pub const VERCEL_MARK: &str = "generated-by-sitegen.txt";

/// Removes `path` if an earlier build wrote it: a file whose first lines say so, a folder
/// holding such a file (or `.vercel/output/` with its mark). Anything else is left alone.
fn remove_ours(path: &Path) -> Result<()> {
    let marked = |file: &Path| {
        let mut head = [0u8; 512];
        std::fs::File::open(file)
            .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
            .is_ok_and(|n| {
                let head = String::from_utf8_lossy(&head[..n]);
                head.contains(MARK)
                    || head.starts_with("{\"version\":1,\"fields\":[\"title\",\"url\"")
            })
    };
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Ok(());
    };
    if !meta.is_dir() {
        return if marked(path) {
            remove_path(path)
        } else {
            Ok(())
        };
    }
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    if name == ".vercel" {
        let inner = path.join("output");
        if inner.join(VERCEL_MARK).is_file() {
            remove_path(&inner)?;
            let _ = std::fs::remove_dir(path); // only when empty
        }
        return Ok(());
    }
    let witness = match name.as_ref() {
        "_worker.js" => path.join("site.js"),
        "netlify" => path.join("sitegen").join("site.js"),
        "_deno" => path.join("site.js"),
        _ => return Ok(()),
    };
    if marked(&witness) {
        remove_path(path)?;
    }
    Ok(())
}

/// Whether a name is a temporary of [`write_atomic`] or [`Tree`] (`.NAME.tmp-PID`, `.NAME.old-PID`).
fn is_leftover(name: &str) -> bool {
    name.starts_with('.')
        && [".tmp-", ".old-"].iter().any(|marker| {
            name.rsplit_once(marker)
                .is_some_and(|(_, pid)| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
        })
}

/// Removes temporaries a killed build left at the output's root and in `.vercel/`.
fn remove_leftovers(output: &Path) {
    for dir in [output.to_path_buf(), output.join(".vercel")] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            if is_leftover(&entry.file_name().to_string_lossy()) {
                let _ = remove_path(&entry.path());
            }
        }
    }
}

/// A folder written fresh beside its destination and swapped in by one rename.
pub struct Tree {
    tmp: PathBuf,
    dest: PathBuf,
}

impl Tree {
    /// A new temporary folder for `dest`.
    pub fn new(dest: &Path) -> Result<Self> {
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = dest.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
        remove_path(&tmp)?;
        std::fs::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
        Ok(Self {
            tmp,
            dest: dest.to_path_buf(),
        })
    }

    fn target(&self, relative: &str) -> Result<PathBuf> {
        let path = self.tmp.join(relative);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        Ok(path)
    }

    /// Writes a file of the tree.
    pub fn write(&self, relative: &str, bytes: &[u8]) -> Result<()> {
        let path = self.target(relative)?;
        std::fs::write(&path, bytes).map_err(|e| Error::io(&path, e))
    }

    /// Puts `source` in the tree: a hard link where the file system allows, else a copy.
    pub fn link(&self, relative: &str, source: &Path) -> Result<()> {
        let path = self.target(relative)?;
        if std::fs::hard_link(source, &path).is_ok() {
            return Ok(());
        }
        std::fs::copy(source, &path)
            .map(|_| ())
            .map_err(|e| Error::io(source, e))
    }

    /// Swaps the tree in at its destination (the old one is moved aside, then removed).
    pub fn commit(self) -> Result<()> {
        let name = self
            .dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let old = self
            .dest
            .with_file_name(format!(".{name}.old-{}", std::process::id()));
        let had_old = std::fs::symlink_metadata(&self.dest).is_ok();
        if had_old {
            std::fs::rename(&self.dest, &old).map_err(|e| Error::io(&self.dest, e))?;
        }
        if let Err(e) = std::fs::rename(&self.tmp, &self.dest) {
            if had_old {
                let _ = std::fs::rename(&old, &self.dest);
            }
            return Err(Error::io(&self.dest, e));
        }
        if had_old {
            remove_path(&old)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str) -> SiteFile {
        SiteFile {
            path: path.to_owned(),
            size: 1,
        }
    }

    #[test]
    fn fingerprints_are_hex_between_dots() {
        assert!(is_fingerprinted("css/site.3f2a9c0d1e7b4a55.css"));
        assert!(is_fingerprinted("a.0123abcd.min.js"));
        assert!(!is_fingerprinted("css/site.css"));
        assert!(!is_fingerprinted("jquery.min.js"));
        assert!(!is_fingerprinted("x.0123abc.css"), "7 digits");
        assert!(!is_fingerprinted("x.0123ABCD.css"), "upper case");
        assert!(
            !is_fingerprinted("dir.0123abcd.x/file.css"),
            "the folder does not count"
        );
    }

    #[test]
    fn immutable_patterns_cover_fingerprinted_files_only() {
        let files = [
            file("css/a.0123abcd0123abcd.css"),
            file("css/b.89abcdef89abcdef.css"),
            file("js/app.0123abcd.js"),
            file("js/vendor/lib.js"),
            file("img/x.aaaaaaaa.png"),
            file("img/y.png"),
            file("index.html"),
            file("page.0123abcd.html"),
        ];
        let (patterns, left_out) = immutable_patterns(&files, 10);
        assert_eq!(
            patterns,
            ["/*.css", "/img/x.aaaaaaaa.png", "/js/app.0123abcd.js"],
            "css: all fingerprinted; js and img: not"
        );
        assert_eq!(left_out, 0);
        let (patterns, left_out) = immutable_patterns(&files, 1);
        assert_eq!(patterns, ["/*.css"]);
        assert_eq!(left_out, 2);
    }

    #[test]
    fn collapse_keeps_exact_paths_until_the_budget() {
        let paths: Vec<String> = ["/api/search", "/blog/a/", "/blog/b/", "/docs/x/y/"]
            .map(String::from)
            .to_vec();
        assert_eq!(collapse(&paths, 10, 100), paths);
        assert_eq!(
            collapse(&paths, 3, 100),
            ["/api/*", "/blog/*", "/docs/*"],
            "depth 2 makes 4 rules, depth 1 three"
        );
        assert_eq!(collapse(&paths, 1, 100), ["/*"]);
        let long = vec![format!("/a/{}", "x".repeat(120))];
        assert_eq!(collapse(&long, 10, 100), ["/a/*"]);
    }

    #[test]
    fn route_regexes_and_paths() {
        assert_eq!(route_regex("/api/search"), "^/api/search$");
        assert_eq!(route_regex("/blog/a.b/"), "^/blog/a\\.b/?$");
        assert_eq!(route_regex("/api/*"), "^/api/.*$");
        assert_eq!(route_regex("/"), "^/$");
        assert_eq!(encode_path("/café au lait/"), "/caf%C3%A9%20au%20lait/");
        assert!(check_route_path("/api/*").is_ok());
        assert!(check_route_path("api").is_err());
        assert!(check_route_path("/a*/b").is_err());
        assert!(check_route_path("/a b").is_err());
    }

    #[test]
    fn default_csp_allows_the_base_urls_origin() {
        let csp = default_csp("https://example.org/blog");
        assert!(
            csp.contains("default-src 'self' https://example.org;"),
            "{csp}"
        );
        assert!(csp.contains("frame-ancestors 'self'"), "{csp}");
        assert!(default_csp("/").starts_with("default-src 'self';"));
    }

    #[test]
    fn leftovers_are_recognized() {
        assert!(is_leftover(".output.tmp-123"));
        assert!(is_leftover("._headers.old-9"));
        assert!(!is_leftover(".well-known"));
        assert!(!is_leftover("a.tmp-1"));
    }
}
