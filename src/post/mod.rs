//! Stage 4, post: rendered text → the bytes written, one output at a time.
//!
//! HTML streams through `lol_html` once, which
//! - rewrites references (`href`, `src`, `srcset`, `poster`, CSS `url()` in `style`) to
//!   fingerprinted static assets ([`fingerprint`]), recording the files each page depends on;
//! - gives images `loading="lazy"` and `decoding="async"` (all but the page's first, which is
//!   likely above the fold) and their `width` and `height` when sitegen can read the file;
//! - adds `rel="noopener"` to links to other sites;
//! - collects the page's internal links and element ids, which the driver checks against the
//!   built site once every page is rendered.
//!
//! Then minify-html, when the config asks for it. Other files pass through.

pub(crate) mod links;
mod minify;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Mutex;

use lol_html::html_content::Element;
use lol_html::{RewriteStrSettings, element, rewrite_str};

use crate::plan::Assets;
use crate::plan::reason::Dep;
use crate::site::paths::{resolve_path, split_suffix};
use crate::site::{Site, StaticSource};

/// What one output became.
#[derive(Debug, Default)]
pub(crate) struct Processed {
    /// The bytes to write.
    pub(crate) bytes: Vec<u8>,
    /// Static files it depends on (fingerprinted names, image sizes).
    pub(crate) deps: Vec<Dep>,
    /// Its internal links: the target's site path and fragment, and the link as written.
    pub(crate) links: Vec<Link>,
    /// The ids of its elements (link targets).
    pub(crate) ids: Vec<String>,
}

/// An internal link of a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Link {
    /// The `href` as written.
    pub(crate) href: String,
    /// The site path it points at (`/blog/a/`).
    pub(crate) path: String,
    /// The fragment, without `#`.
    pub(crate) fragment: Option<String>,
}

/// The post stage of one build.
pub(crate) struct Post {
    minify: bool,
    lazy_images: bool,
    image_sizes: bool,
    noopener_links: bool,
    /// `https://example.org` (scheme and host of `base_url`), to tell own links from others.
    origin: String,
    /// The path of `base_url` without its trailing `/` (`""` or `/docs`).
    base_path: String,
    /// Fingerprinted assets by site path.
    assets: Assets,
    /// Image files by site path, for their size.
    images: HashMap<String, (PathBuf, Option<String>)>,
    sizes: Mutex<HashMap<PathBuf, Option<(usize, usize)>>>,
}

impl std::fmt::Debug for Post {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Post").finish_non_exhaustive()
    }
}

const IMAGE_EXTENSIONS: [&str; 8] = ["png", "jpg", "jpeg", "gif", "webp", "avif", "svg", "bmp"];

impl Post {
    /// The post stage for `site`, with `assets` fingerprinted (empty when the site does not
    /// fingerprint).
    pub(crate) fn new(site: &Site, assets: Assets) -> Self {
        let (origin, base_path) = split_base_url(&site.config.base_url);
        let is_image = |name: &str| {
            name.rsplit_once('.')
                .is_some_and(|(_, e)| IMAGE_EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(e)))
        };
        let mut images = HashMap::new();
        for file in &site.static_files {
            if let StaticSource::File(path) = &file.source
                && is_image(&file.name)
            {
                images.insert(
                    format!("/{}", file.name),
                    (path.clone(), Some(file.name.clone())),
                );
            }
        }
        let docs = site
            .pages
            .iter()
            .map(|p| &p.doc)
            .chain(site.sections.iter().map(|s| &s.doc));
        for doc in docs {
            let dir = match doc.path.rfind('/') {
                Some(i) => &doc.path[..=i],
                None => "/",
            };
            for asset in doc.assets.iter().filter(|a| is_image(&a.name)) {
                images.insert(format!("{dir}{}", asset.name), (asset.source.clone(), None));
            }
        }
        // Fingerprinted images keep their size, under their new path too.
        for (path, asset) in &assets {
            if let Some(image) = images.get(path).cloned() {
                images.insert(asset.path.clone(), image);
            }
        }
        Self {
            minify: site.config.minify,
            lazy_images: site.config.lazy_images,
            image_sizes: site.config.image_sizes,
            noopener_links: site.config.noopener_links,
            origin,
            base_path,
            assets,
            images,
            sizes: Mutex::new(HashMap::new()),
        }
    }

    /// The site path `url` points at from the page at `page`, when it is this site's.
    fn own_path(&self, url: &str, page: &str) -> Option<String> {
        let url = url.trim();
        let local = if !self.origin.is_empty() && url.starts_with(&self.origin) {
            let rest = &url[self.origin.len()..];
            if !(rest.is_empty() || rest.starts_with(['/', '?', '#'])) {
                return None;
            }
            if rest.is_empty() { "/" } else { rest }
        } else {
            url
        };
        let path = resolve_path(local, page)?;
        if self.base_path.is_empty() {
            return Some(path);
        }
        // Root-relative URLs include the base path; page paths do not.
        if local.starts_with('/') {
            let rest = path.strip_prefix(&self.base_path)?;
            return Some(if rest.is_empty() {
                "/".to_owned()
            } else {
                rest.to_owned()
            });
        }
        Some(path)
    }

    /// `url` with its asset path replaced by `asset`, keeping its form (absolute or not).
    fn with_asset(&self, url: &str, asset: &str) -> String {
        let (_, suffix) = split_suffix(url.trim());
        let prefix = if url.trim().starts_with(&self.origin) && !self.origin.is_empty() {
            self.origin.as_str()
        } else {
            ""
        };
        format!("{prefix}{}{asset}{suffix}", self.base_path)
    }

    fn size_of(&self, path: &PathBuf) -> Option<(usize, usize)> {
        let mut sizes = self
            .sizes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *sizes.entry(path.clone()).or_insert_with(|| {
            imagesize::size(path)
                .ok()
                .filter(|s| s.width > 0 && s.height > 0)
                .map(|s| (s.width, s.height))
        })
    }

    /// Post-processes `text`, the output written to `file` at site path `page`.
    pub(crate) fn process(&self, file: &str, page: &str, text: String) -> Processed {
        if !(file.ends_with(".html") || file.ends_with(".htm")) {
            return Processed {
                bytes: text.into_bytes(),
                ..Processed::default()
            };
        }
        let deps: RefCell<Vec<Dep>> = RefCell::new(Vec::new());
        let links: RefCell<Vec<Link>> = RefCell::new(Vec::new());
        let ids: RefCell<Vec<String>> = RefCell::new(Vec::new());
        let images_seen = Cell::new(0usize);
        // A reference to a fingerprinted asset → its new URL (recording the dependency).
        let asset_url = |url: &str| -> Option<String> {
            if self.assets.is_empty() {
                return None;
            }
            let path = self.own_path(url, page)?;
            let asset = self.assets.get(&path)?;
            deps.borrow_mut()
                .extend(asset.deps.iter().map(|d| Dep::Static(d.clone())));
            Some(self.with_asset(url, &asset.path))
        };
        let rewrite_attr = |el: &mut Element<'_, '_>, name: &str| {
            if let Some(value) = attribute(el, name)
                && let Some(new) = asset_url(&value)
            {
                set_attribute(el, name, &new);
            }
        };
        let handlers = vec![
            element!("[href], [src], [poster]", |el| {
                for name in ["href", "src", "poster"] {
                    rewrite_attr(el, name);
                }
                Ok(())
            }),
            element!("[srcset]", |el| {
                if let Some(srcset) = attribute(el, "srcset") {
                    let rewritten: Vec<String> = srcset
                        .split(',')
                        .map(|candidate| {
                            let candidate = candidate.trim();
                            let (url, descriptor) =
                                candidate.split_once(' ').unwrap_or((candidate, ""));
                            let url = asset_url(url).unwrap_or_else(|| url.to_owned());
                            if descriptor.is_empty() {
                                url
                            } else {
                                format!("{url} {}", descriptor.trim())
                            }
                        })
                        .collect();
                    set_attribute(el, "srcset", &rewritten.join(", "));
                }
                Ok(())
            }),
            element!("[style]", |el| {
                if let Some(style) = attribute(el, "style")
                    && style.contains("url(")
                {
                    let new = rewrite_css_urls(&style, &asset_url);
                    set_attribute(el, "style", &new);
                }
                Ok(())
            }),
            element!("img", |el| {
                let first = images_seen.get() == 0;
                images_seen.set(images_seen.get() + 1);
                if self.lazy_images {
                    if !first && !el.has_attribute("loading") {
                        set_attribute(el, "loading", "lazy");
                    }
                    if !el.has_attribute("decoding") {
                        set_attribute(el, "decoding", "async");
                    }
                }
                if self.image_sizes
                    && !el.has_attribute("width")
                    && !el.has_attribute("height")
                    && let Some(src) = attribute(el, "src")
                    && let Some(path) = self.own_path(&src, page)
                    && let Some((file, name)) = self.images.get(&path)
                    && let Some((w, h)) = self.size_of(file)
                {
                    set_attribute(el, "width", &w.to_string());
                    set_attribute(el, "height", &h.to_string());
                    if let Some(name) = name {
                        deps.borrow_mut().push(Dep::Static(name.clone()));
                    }
                }
                Ok(())
            }),
            element!("a[href]", |el| {
                let Some(href) = attribute(el, "href") else {
                    return Ok(());
                };
                let trimmed = href.trim();
                let lower = trimmed.to_ascii_lowercase();
                let absolute = ["http://", "https://", "//"]
                    .iter()
                    .any(|p| lower.starts_with(p));
                if absolute && (self.origin.is_empty() || !trimmed.starts_with(&self.origin)) {
                    let rel = attribute(el, "rel").unwrap_or_default();
                    if self.noopener_links
                        && !rel
                            .split_ascii_whitespace()
                            .any(|r| r.eq_ignore_ascii_case("noopener"))
                    {
                        let rel = format!("{rel} noopener").trim().to_owned();
                        set_attribute(el, "rel", &rel);
                    }
                    return Ok(());
                }
                // `#part` points into the page itself.
                let path = if trimmed.starts_with('#') {
                    Some(page.to_owned())
                } else {
                    self.own_path(trimmed, page)
                };
                if let Some(path) = path {
                    let fragment = trimmed
                        .split_once('#')
                        .map(|(_, f)| f.to_owned())
                        .filter(|f| !f.is_empty());
                    links.borrow_mut().push(Link {
                        href: href.clone(),
                        path,
                        fragment,
                    });
                }
                Ok(())
            }),
            element!("[id]", |el| {
                if let Some(id) = attribute(el, "id") {
                    ids.borrow_mut().push(id);
                }
                Ok(())
            }),
            element!("a[name]", |el| {
                if let Some(name) = attribute(el, "name") {
                    ids.borrow_mut().push(name);
                }
                Ok(())
            }),
        ];
        let html = rewrite_str(
            &text,
            RewriteStrSettings {
                element_content_handlers: handlers,
                ..RewriteStrSettings::new()
            },
        )
        .unwrap_or(text);
        let bytes = if self.minify {
            minify::html(html.as_bytes())
        } else {
            html.into_bytes()
        };
        let mut deps = deps.into_inner();
        deps.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
        deps.dedup();
        Processed {
            bytes,
            deps,
            links: links.into_inner(),
            ids: ids.into_inner(),
        }
    }
}

/// `https://x.org/docs/` → (`https://x.org`, `/docs`): the origin that marks this site's own
/// absolute URLs, and the path every site path sits under (empty at the root).
/// The value of attribute `name` as a browser reads it. `lol_html` returns it as written,
/// character references and all: Tera's autoescape writes `/` as `&#x2F;`, so a template's
/// `href="{{ page.permalink }}"` would otherwise be read as a relative path.
fn attribute(el: &Element<'_, '_>, name: &str) -> Option<String> {
    let value = el.get_attribute(name)?;
    Some(match html_escape::decode_html_entities(&value) {
        std::borrow::Cow::Borrowed(_) => value,
        std::borrow::Cow::Owned(decoded) => decoded,
    })
}

/// Sets attribute `name` to `value` (as a browser should read it): `lol_html` escapes its
/// quotes, and `&` is escaped here, so that a value read by [`attribute`] round-trips.
fn set_attribute(el: &mut Element<'_, '_>, name: &str, value: &str) {
    let _ = el.set_attribute(name, &value.replace('&', "&amp;"));
}

fn split_base_url(base_url: &str) -> (String, String) {
    let base = base_url.trim_end_matches('/');
    match base.find("://") {
        Some(i) => match base[i + 3..].find('/') {
            Some(j) => (base[..i + 3 + j].to_owned(), base[i + 3 + j..].to_owned()),
            None => (base.to_owned(), String::new()),
        },
        None => (String::new(), base.to_owned()),
    }
}

/// The element ids (and `<a name>`s) of `html`.
pub(crate) fn ids_of(html: &str) -> std::collections::HashSet<String> {
    let ids: RefCell<std::collections::HashSet<String>> = RefCell::default();
    let _ = rewrite_str(
        html,
        RewriteStrSettings {
            element_content_handlers: vec![element!("[id], a[name]", |el| {
                for name in ["id", "name"] {
                    if let Some(value) = attribute(el, name) {
                        ids.borrow_mut().insert(value);
                    }
                }
                Ok(())
            })],
            ..RewriteStrSettings::new()
        },
    );
    ids.into_inner()
}

/// `css` with each `url(…)` that `asset_url` knows rewritten.
fn rewrite_css_urls(css: &str, asset_url: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(css.len());
    let mut rest = css;
    while let Some(start) = rest.find("url(") {
        let Some(end) = rest[start..].find(')') else {
            break;
        };
        out.push_str(&rest[..start]);
        let inner = rest[start + 4..start + end].trim();
        let quote = inner.chars().next().filter(|c| *c == '"' || *c == '\'');
        let url = quote.map_or(inner, |q| inner.trim_matches(q));
        match asset_url(url) {
            Some(new) => {
                let q = quote.map(String::from).unwrap_or_default();
                let _ = write!(out, "url({q}{new}{q})");
            }
            None => out.push_str(&rest[start..=start + end]),
        }
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Fingerprinted;

    fn post(base_url: &str, assets: &[(&str, &str)]) -> Post {
        let (origin, base_path) = split_base_url(base_url);
        Post {
            minify: false,
            lazy_images: true,
            image_sizes: true,
            noopener_links: true,
            origin,
            base_path,
            assets: assets
                .iter()
                .map(|(from, to)| {
                    (
                        (*from).to_owned(),
                        Fingerprinted {
                            path: (*to).to_owned(),
                            deps: vec![from.trim_start_matches('/').to_owned()],
                        },
                    )
                })
                .collect(),
            images: HashMap::new(),
            sizes: Mutex::new(HashMap::new()),
        }
    }

    /// The site path and fragment of each link `p` collected.
    fn links_of(p: &Processed) -> Vec<(&str, Option<&str>)> {
        p.links
            .iter()
            .map(|l| (l.path.as_str(), l.fragment.as_deref()))
            .collect()
    }

    fn run(post: &Post, html: &str) -> (String, Processed) {
        let mut p = post.process("a/index.html", "/a/", html.to_owned());
        (String::from_utf8(std::mem::take(&mut p.bytes)).unwrap(), p)
    }

    #[test]
    fn images_after_the_first_load_lazily() {
        let (html, _) = run(
            &post("https://x.org", &[]),
            r#"<img src="a.png"><p><img src="b.png" loading="eager"><img src="c.png">"#,
        );
        assert_eq!(
            html,
            r#"<img src="a.png" decoding="async"><p><img src="b.png" loading="eager" decoding="async"><img src="c.png" loading="lazy" decoding="async">"#
        );
    }

    #[test]
    fn links_to_other_sites_get_noopener_and_own_links_are_collected() {
        let (html, p) = run(
            &post("https://x.org", &[]),
            r#"<a href="https://y.org/" rel="external">y</a><a href="https://x.org/b/#top">b</a><a href="../c/">c</a><a href="mailto:a@x.org">m</a><h2 id="h">h</h2>"#,
        );
        assert!(
            html.contains(r#"<a href="https://y.org/" rel="external noopener">"#),
            "{html}"
        );
        assert!(
            html.contains(r#"<a href="https://x.org/b/#top">b</a>"#),
            "own site: untouched: {html}"
        );
        let links = links_of(&p);
        assert_eq!(links, [("/b/", Some("top")), ("/c/", None)]);
        assert_eq!(p.ids, ["h"]);
        let (_, p) = run(
            &post("https://x.org", &[]),
            r##"<a href="#h">h</a><a href="#">t</a>"##,
        );
        let links = links_of(&p);
        assert_eq!(links, [("/a/", Some("h")), ("/a/", None)], "the page's own");
    }

    #[test]
    fn references_to_fingerprinted_assets_are_rewritten_in_every_form() {
        let post = post(
            "https://x.org/docs",
            &[
                ("/css/s.css", "/css/s.abc.css"),
                ("/i/a.png", "/i/a.def.png"),
            ],
        );
        let (html, p) = run(
            &post,
            r#"<link rel="stylesheet" href="https://x.org/docs/css/s.css?h=1"><img src="/docs/i/a.png" srcset="/docs/i/a.png 1x, /docs/i/b.png 2x"><div style="background: url('../i/a.png')"></div><a href="/docs/css/other.css">o</a>"#,
        );
        assert!(
            html.contains(r#"href="https://x.org/docs/css/s.abc.css?h=1""#),
            "{html}"
        );
        assert!(html.contains(r#"src="/docs/i/a.def.png""#), "{html}");
        assert!(
            html.contains(r#"srcset="/docs/i/a.def.png 1x, /docs/i/b.png 2x""#),
            "{html}"
        );
        assert!(html.contains(r"url('/docs/i/a.def.png')"), "{html}");
        assert!(html.contains(r#"href="/docs/css/other.css""#), "{html}");
        assert_eq!(
            p.deps,
            [
                Dep::Static("css/s.css".into()),
                Dep::Static("i/a.png".into())
            ]
        );
    }

    /// Tera's autoescape writes `/` as `&#x2F;`: such links, ids and asset URLs are read as a
    /// browser reads them, and a rewritten URL keeps its `&` escaped.
    #[test]
    fn attributes_are_read_with_their_character_references_decoded() {
        let post = post("https://x.org", &[("/css/s.css", "/css/s.abc.css")]);
        let (html, p) = run(
            &post,
            r#"<a href="https:&#x2F;&#x2F;x.org&#x2F;b&#x2F;#s&amp;t">b</a><a href="&#x2F;c&#x2F;">c</a><h2 id="a&amp;b">h</h2><link href="&#x2F;css&#x2F;s.css?v=1&amp;w=2">"#,
        );
        let links = links_of(&p);
        assert_eq!(links, [("/b/", Some("s&t")), ("/c/", None)]);
        assert_eq!(p.ids, ["a&b"]);
        assert!(
            html.contains(r#"<link href="/css/s.abc.css?v=1&amp;w=2">"#),
            "{html}"
        );
        assert!(ids_of(r#"<p id="x&#x2F;y">"#).contains("x/y"));
    }

    #[test]
    fn other_files_pass_through() {
        let p =
            post("https://x.org", &[]).process("feed.xml", "/feed.xml", "<img src=a>".to_owned());
        assert_eq!(p.bytes, b"<img src=a>");
        assert!(ids_of(r#"<p id="a"><a name="b">"#).contains("b"));
    }
}
