//! Site paths and the files they are written to: pure string functions every stage shares.
//!
//! Paths from content, data and URLs pass through [`sanitize_site_path`] before they name a
//! file, so no page can write outside the output folder.

use std::path::{Path, PathBuf};

/// Cleans a URL path from front matter (`path`, `aliases`): no `..`, no backslashes or control
/// characters, so it can never name a file outside the output folder. Returns `/a/b/`, or
/// `/a/b.html` when the last segment has an extension.
pub(crate) fn sanitize_site_path(raw: &str) -> Result<String, String> {
    let trimmed = raw.trim();
    if trimmed.contains('\\') || trimmed.chars().any(char::is_control) || trimmed.contains("://") {
        return Err(format!("`{raw}` is not a site path"));
    }
    let mut parts = Vec::new();
    for part in trimmed.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(format!("`{raw}` climbs out of the site with `..`")),
            part => parts.push(part),
        }
    }
    let Some(last) = parts.last() else {
        return Ok("/".to_owned());
    };
    if last.contains('.') && !trimmed.ends_with('/') {
        Ok(format!("/{}", parts.join("/")))
    } else {
        Ok(format!("/{}/", parts.join("/")))
    }
}

/// The site path of a page or section whose front matter sets `path`: always a folder, as Zola
/// writes it (`/2020/a.b.html` → `/2020/a.b.html/`, written to `2020/a.b.html/index.html`).
pub(crate) fn page_path(raw: &str) -> Result<String, String> {
    let path = sanitize_site_path(raw)?;
    Ok(if path.ends_with('/') {
        path
    } else {
        format!("{path}/")
    })
}

/// The site path of an alias: a file when its last segment ends with `.html` (`/old.html`),
/// otherwise a folder with an `index.html` (`/old/`, `/feed.xml/`), as Zola writes aliases.
pub(crate) fn alias_path(raw: &str) -> Result<String, String> {
    let path = sanitize_site_path(raw)?;
    Ok(if path.ends_with('/') || path.ends_with(".html") {
        path
    } else {
        format!("{path}/")
    })
}

/// A path shown in messages: relative to the root when inside it.
pub(crate) fn relative_to(path: &Path, root: &Path) -> PathBuf {
    path.strip_prefix(root)
        .map_or_else(|_| path.to_path_buf(), Path::to_path_buf)
}

/// The output file of a site path: `/a/b/` → `a/b/index.html`, `/a.html` → `a.html`.
pub(crate) fn file_of(path: &str) -> String {
    let trimmed = path.trim_start_matches('/');
    if trimmed.is_empty() || trimmed.ends_with('/') {
        format!("{trimmed}index.html")
    } else {
        trimmed.to_owned()
    }
}

/// The folder part of a site path's output (`/a/b/` → `a/b/`, `/a/x.html` → `a/`).
pub(crate) fn dir_of(path: &str) -> String {
    let file = file_of(path);
    file.rfind('/')
        .map_or_else(String::new, |i| file[..=i].to_owned())
}

/// The site path of page `pager` of a listing at `base` (`/blog/`, 3 → `/blog/page/3/`).
pub(crate) fn pager_path(base: &str, paginate_path: &str, pager: usize) -> String {
    if pager <= 1 {
        base.to_owned()
    } else {
        format!("{base}{paginate_path}/{pager}/")
    }
}

/// `url` without its query and fragment, and those.
pub(crate) fn split_suffix(url: &str) -> (&str, &str) {
    match url.find(['?', '#']) {
        Some(i) => (&url[..i], &url[i..]),
        None => (url, ""),
    }
}

/// The site path `url` points at from the page or file at site path `from`; `None` for other
/// sites, `data:` and the like. Query and fragment are dropped; `.` and `..` resolved (never
/// above the root).
pub(crate) fn resolve_path(url: &str, from: &str) -> Option<String> {
    let url = url.trim();
    let (path, _) = split_suffix(url);
    if path.is_empty() || path.starts_with("//") {
        return None;
    }
    if let Some(colon) = path.find(':')
        && !path[..colon].contains('/')
    {
        return None; // a scheme: http:, mailto:, data:…
    }
    let joined = if path.starts_with('/') {
        path.to_owned()
    } else {
        let dir = match from.rfind('/') {
            Some(i) => &from[..=i],
            None => "/",
        };
        format!("{dir}{path}")
    };
    let mut parts: Vec<&str> = Vec::new();
    for segment in joined.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    let mut out = format!("/{}", parts.join("/"));
    if joined.ends_with('/') && out != "/" {
        out.push('/');
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::{alias_path, file_of, page_path, pager_path, resolve_path};

    #[test]
    fn pages_are_folders_and_aliases_files_only_when_html() {
        assert_eq!(
            page_path("/2020/01/a.b.html").unwrap(),
            "/2020/01/a.b.html/"
        );
        assert_eq!(page_path("docs/intro").unwrap(), "/docs/intro/");
        assert_eq!(
            file_of(&page_path("/a.b.html").unwrap()),
            "a.b.html/index.html"
        );
        assert_eq!(alias_path("/old.html").unwrap(), "/old.html");
        assert_eq!(alias_path("/old.php").unwrap(), "/old.php/");
        assert_eq!(alias_path("old/").unwrap(), "/old/");
        assert_eq!(
            file_of(&alias_path("/feed.xml").unwrap()),
            "feed.xml/index.html"
        );
        assert!(alias_path("../x").is_err());
    }

    proptest::proptest! {
        #[test]
        fn page_and_alias_paths_stay_inside_the_site(raw in "\\PC{0,40}") {
            for path in [page_path(&raw), alias_path(&raw)].into_iter().flatten() {
                proptest::prop_assert!(path.starts_with('/'));
                proptest::prop_assert!(!path.split('/').any(|s| s == ".."));
                proptest::prop_assert!(page_path(&raw).map_or(true, |p| p.ends_with('/')));
            }
        }
    }

    #[test]
    fn files_of_paths() {
        assert_eq!(file_of("/"), "index.html");
        assert_eq!(file_of("/blog/a/"), "blog/a/index.html");
        assert_eq!(file_of("/old.html"), "old.html");
        assert_eq!(pager_path("/blog/", "page", 1), "/blog/");
        assert_eq!(pager_path("/blog/", "page", 3), "/blog/page/3/");
    }

    #[test]
    fn paths_resolve_like_a_browser_and_stay_inside_the_site() {
        assert_eq!(
            resolve_path("a.png", "/blog/post/").as_deref(),
            Some("/blog/post/a.png")
        );
        assert_eq!(
            resolve_path("../x/", "/blog/post/").as_deref(),
            Some("/blog/x/")
        );
        assert_eq!(
            resolve_path("../../../../etc", "/a/").as_deref(),
            Some("/etc")
        );
        assert_eq!(
            resolve_path("/css/s.css?h=1#x", "/").as_deref(),
            Some("/css/s.css")
        );
        assert_eq!(
            resolve_path("fonts/a.woff2", "/css/site.css").as_deref(),
            Some("/css/fonts/a.woff2")
        );
        assert_eq!(resolve_path("https://x.org/a", "/"), None);
        assert_eq!(resolve_path("//x.org/a", "/"), None);
        assert_eq!(resolve_path("mailto:a@b", "/"), None);
        assert_eq!(resolve_path("data:image/png;base64,AA", "/"), None);
    }
}
