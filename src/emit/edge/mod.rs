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

mod cloudflare;
mod deno;
mod files;
mod model;
mod netlify;
mod vercel;

use std::path::Path;

use crate::config::EdgeTarget;
use crate::diagnostics::{Diagnostic, Result};
use crate::emit::search;
use crate::generate::copy::CopySet;
use crate::site::Site;
use files::{remove_leftovers, remove_ours};
pub use model::HANDLERS_JS;
use model::{Edge, PLATFORM_FILES, SEARCH_INDEX, SiteFile};

/// Writes the edge files of every target in `site.config.edge.targets` into `output` (the
/// search index with the `copy` generated for the pages), and removes those of targets no
/// longer configured. The build's stamp is written after them, so a build stopped meanwhile is
/// followed by one that writes them again.
pub(crate) fn emit(
    site: &Site,
    copy: &CopySet,
    output: &Path,
    warnings: &mut Vec<Diagnostic>,
) -> Result<()> {
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
    write_targets(site, copy, output, warnings)
}

/// Writes the files of the configured targets, removes those of the others.
fn write_targets(
    site: &Site,
    copy: &CopySet,
    output: &Path,
    warnings: &mut Vec<Diagnostic>,
) -> Result<()> {
    let mut edge = Edge::new(site, output)?;
    let index_path = output.join(SEARCH_INDEX);
    if edge.search_index.is_some() && !edge.site_owned.contains(SEARCH_INDEX) {
        let budget = edge.limits.search_index_bytes;
        let bytes = search::build(site, copy, budget, warnings);
        crate::fs::write_atomic(&index_path, &bytes, crate::fs::Durability::Cached)?;
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

#[cfg(test)]
mod tests {
    use super::model::*;
    use crate::config::check_route_path;
    use crate::fs::is_temporary as is_leftover;

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
