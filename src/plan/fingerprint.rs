//! Asset fingerprinting: static CSS, JS, fonts and images get names carrying a hash of their
//! content (`css/site.css` → `css/site.3f2a9c0d1e7b4a55.css`), so a host can cache them
//! forever; the post stage rewrites every reference to them.
//!
//! A stylesheet's `url(…)` references to other assets are rewritten too, so its own hash is
//! taken after that: changing a font changes the name of the stylesheet that loads it.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use regex::Regex;

use crate::hash::ContentHash;
use crate::plan::output::{Assets, Fingerprinted, Outputs};
use crate::site::paths::{resolve_path, split_suffix};
use crate::site::{Site, StaticSource};

/// Extensions of the files that get fingerprinted names.
const EXTENSIONS: [&str; 16] = [
    "css", "js", "mjs", "woff", "woff2", "ttf", "otf", "eot", "png", "jpg", "jpeg", "gif", "webp",
    "avif", "svg", "mp4",
];

static CSS_URL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"url\(\s*(['"]?)([^'")\s]+)(['"]?)\s*\)"#).unwrap_or_else(|_| unreachable!())
});

/// `name` with `hash` before its extension.
fn hashed_name(name: &str, hash: &ContentHash) -> String {
    let hex = &hash.hex()[..16];
    match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.ends_with('/') && !stem.is_empty() => {
            format!("{stem}.{hex}.{ext}")
        }
        _ => format!("{name}.{hex}"),
    }
}

fn fingerprinted(name: &str) -> bool {
    name.rsplit_once('.')
        .is_some_and(|(_, ext)| EXTENSIONS.iter().any(|e| e.eq_ignore_ascii_case(ext)))
}

/// Renames the static files of `plan` that get fingerprints, rewriting stylesheets; returns
/// the map the post stage rewrites references with. Decided while planning, so the files'
/// names are known before anything renders and post only reads them.
pub(crate) fn apply(site: &Site, plan: &mut Outputs) -> Assets {
    let statics: HashMap<&str, &crate::site::StaticFile> = site
        .static_files
        .iter()
        .map(|f| (f.name.as_str(), f))
        .collect();
    // Everything but stylesheets first: stylesheets point at them.
    let mut assets: Assets = HashMap::new();
    for file in site.static_files.iter().filter(|f| fingerprinted(&f.name)) {
        if !file.name.ends_with(".css") {
            assets.insert(
                format!("/{}", file.name),
                Fingerprinted {
                    path: format!("/{}", hashed_name(&file.name, &file.hash)),
                    deps: vec![file.name.clone()],
                },
            );
        }
    }
    let mut stylesheets: HashMap<String, (Arc<[u8]>, ContentHash)> = HashMap::new();
    for file in site
        .static_files
        .iter()
        .filter(|f| f.name.ends_with(".css"))
    {
        let bytes = match &file.source {
            StaticSource::Builtin(bytes) => bytes.to_vec(),
            StaticSource::Made(bytes) => bytes.to_vec(),
            StaticSource::File(path) => match std::fs::read(path) {
                Ok(bytes) => bytes,
                Err(_) => continue,
            },
        };
        let text = String::from_utf8_lossy(&bytes);
        let own_path = format!("/{}", file.name);
        let mut deps = vec![file.name.clone()];
        let rewritten = CSS_URL.replace_all(&text, |c: &regex::Captures<'_>| {
            let url = &c[2];
            let target = resolve_path(url, &own_path);
            match target
                .as_deref()
                .and_then(|t| assets.get(t).map(|a| (t, a)))
            {
                Some((_, asset)) => {
                    deps.extend(asset.deps.iter().cloned());
                    let (_, suffix) = split_suffix(url);
                    format!("url({}{}{}{})", &c[1], asset.path, suffix, &c[3])
                }
                None => c[0].to_owned(),
            }
        });
        let rewritten: Arc<[u8]> = Arc::from(rewritten.as_bytes());
        let hash = ContentHash::of(&rewritten);
        deps.sort();
        deps.dedup();
        assets.insert(
            own_path,
            Fingerprinted {
                path: format!("/{}", hashed_name(&file.name, &hash)),
                deps,
            },
        );
        stylesheets.insert(file.name.clone(), (rewritten, hash));
    }
    for copy in &mut plan.copies {
        let Some(file) = statics.get(copy.file.as_str()) else {
            continue;
        };
        if copy.hash != file.hash {
            continue; // a bundle's file of the same name
        }
        let Some(asset) = assets.get(&format!("/{}", file.name)) else {
            continue;
        };
        asset
            .path
            .trim_start_matches('/')
            .clone_into(&mut copy.file);
        if let Some((bytes, hash)) = stylesheets.get(&file.name) {
            copy.bytes = Some(Arc::clone(bytes));
            copy.hash = *hash;
        }
    }
    assets
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_hash_before_the_extension() {
        let h = ContentHash::of(b"x");
        let name = hashed_name("css/site.css", &h);
        assert!(name.starts_with("css/site.") && name.ends_with(".css"));
        assert_eq!(name.len(), "css/site.css".len() + 17);
        assert!(fingerprinted("a/B.WOFF2"));
        assert!(!fingerprinted("robots.txt"));
        assert!(!fingerprinted("favicon.ico"));
    }
}
