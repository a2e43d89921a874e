//! `[edge]`: what sitegen writes beside the static files for edge platforms, and the
//! platforms' limits it checks at build time.

use std::path::{Component, Path};

use serde::{Deserialize, Serialize};

/// `[edge]`: what sitegen writes beside the static files for edge platforms.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct EdgeConfig {
    /// The platforms to write files for.
    pub(crate) targets: Vec<EdgeTarget>,
    /// Edge routes (`[[edge.routes]] path = "/api/search" handler = "search"`).
    pub(crate) routes: Vec<EdgeRoute>,
    /// Platform limits checked at build time (`[edge.limits]`).
    pub(crate) limits: EdgeLimits,
    /// The URL of the JSON document the `fresh` handler fetches at request time (`{path}` is
    /// replaced with the page's path); the `SITEGEN_FRESH_SOURCE` variable overrides it.
    pub(crate) fresh_source: Option<String>,
    /// The `Content-Security-Policy` header; unset: a default allowing the site's own origin
    /// (and its `base_url`), `""`: no such header.
    pub(crate) csp: Option<String>,
}

/// An edge platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum EdgeTarget {
    /// Cloudflare Workers (static assets) and Pages.
    Cloudflare,
    /// Netlify, with edge functions.
    Netlify,
    /// Vercel's Build Output API v3.
    Vercel,
    /// Deno Deploy (`main.ts`).
    Deno,
}

/// One edge route: requests to `path` are answered by `handler`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, try_from = "RawEdgeRoute")]
pub(crate) struct EdgeRoute {
    /// A site path (`/api/search`), or a prefix ending in `*` (`/api/*`).
    pub(crate) path: String,
    /// `search`, `fresh`, or a JavaScript module of the site (`edge/hello.js`).
    pub(crate) handler: String,
}

/// An edge route as written, checked into an [`EdgeRoute`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEdgeRoute {
    path: String,
    handler: String,
}

impl TryFrom<RawEdgeRoute> for EdgeRoute {
    type Error = String;

    fn try_from(raw: RawEdgeRoute) -> std::result::Result<Self, String> {
        check_route(&raw.path, &raw.handler)?;
        Ok(Self {
            path: raw.path,
            handler: raw.handler,
        })
    }
}

/// `[edge.limits]`: the platforms' limits, checked at build time.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct EdgeLimits {
    /// Files per Cloudflare deployment (20,000 on the free plan).
    pub(crate) max_files: usize,
    /// Largest file Cloudflare serves (25 MiB).
    pub(crate) max_file_bytes: u64,
    /// Static rules of Cloudflare's `_redirects` (2,000); further aliases go into the worker.
    pub(crate) max_redirects: usize,
    /// Rules of Cloudflare's `_routes.json` and `run_worker_first` (100); more are collapsed.
    pub(crate) max_route_rules: usize,
    /// Rules of a `_headers` file (100 on Cloudflare).
    pub(crate) max_header_rules: usize,
    /// Rules of Netlify's `_redirects` before aliases move into an edge function (10,000).
    pub(crate) netlify_max_redirects: usize,
    /// Routes of Vercel's `config.json` (2,048); further aliases go into an edge function.
    pub(crate) vercel_max_routes: usize,
    /// Size budget of `search-index.json` (2 MiB).
    pub(crate) search_index_bytes: usize,
}

impl Default for EdgeLimits {
    fn default() -> Self {
        Self {
            max_files: 20_000,
            max_file_bytes: 25 * 1024 * 1024,
            max_redirects: 2_000,
            max_route_rules: 100,
            max_header_rules: 100,
            netlify_max_redirects: 10_000,
            vercel_max_routes: 2_048,
            search_index_bytes: 2 * 1024 * 1024,
        }
    }
}

/// Checks an edge route as the config gives it: its path, and that its handler is `search`,
/// `fresh` or a relative `.js`/`.mjs` path (whether the file is there is checked when it is read).
pub(crate) fn check_route(path: &str, handler: &str) -> std::result::Result<(), String> {
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
pub(crate) fn check_route_path(path: &str) -> std::result::Result<(), &'static str> {
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
