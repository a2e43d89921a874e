//! The post stage on whole builds: fingerprinted assets, image attributes, link checks and
//! minification.

use crate::support::{SiteTest, copy_tree};

/// A 3×2 PNG.
const PNG: [u8; 73] = [
    137, 80, 78, 71, 13, 10, 26, 10, 0, 0, 0, 13, 73, 72, 68, 82, 0, 0, 0, 3, 0, 0, 0, 2, 8, 2, 0,
    0, 0, 18, 22, 241, 77, 0, 0, 0, 16, 73, 68, 65, 84, 120, 156, 99, 248, 207, 192, 0, 65, 12,
    112, 22, 0, 65, 210, 5, 251, 135, 240, 185, 72, 0, 0, 0, 0, 73, 69, 78, 68, 174, 66, 96, 130,
];

fn site() -> SiteTest {
    let site = SiteTest::empty();
    site.write(
        "sitegen.toml",
        "base_url = \"https://example.org\"\nfingerprint_assets = true\n",
    )
    .write("static/css/site.css", "body { background: url(\"../img/bg.png\") }\n@font-face { src: url(/fonts/a.woff2) }\n")
    .write("static/fonts/a.woff2", "font v1")
    .write("static/img/bg.png", PNG)
    .write("static/img/a.png", PNG)
    .write("static/robots-note.txt", "kept as is")
    .write(
        "templates/index.html",
        "<!DOCTYPE html><html><head><link rel=\"stylesheet\" href=\"{{ get_url(path='css/site.css') }}\"></head><body><img src=\"/img/a.png\" alt=\"a\"><img src=\"/img/a.png\" alt=\"b\"><a href=\"https://other.example/\">o</a><a href=\"/about/#team\">t</a></body></html>",
    )
    .write("templates/page.html", "<!DOCTYPE html><html><body><h1 id=\"team\">{{ page.title }}</h1>{{ page.content | safe }}</body></html>")
    .write("content/_index.md", "+++\n+++\n")
    .write("content/about.md", "+++\ntitle = \"About\"\n+++\nHello.\n");
    site
}

/// The one file of `site`'s output under `dir` whose name starts with `stem.`.
fn hashed(site: &SiteTest, dir: &str, stem: &str) -> String {
    let names: Vec<String> = std::fs::read_dir(site.output().join(dir))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&format!("{stem}.")))
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    format!("{dir}/{}", names[0])
}

#[test]
fn assets_get_hashed_names_and_every_reference_follows() {
    let site = site();
    site.build().assert_ok();
    let css = hashed(&site, "css", "site");
    let font = hashed(&site, "fonts", "a");
    let bg = hashed(&site, "img", "bg");
    assert!(css.len() > "css/site.css".len());
    assert!(!site.exists("css/site.css"));
    assert!(
        site.exists("robots-note.txt"),
        "other files keep their names"
    );
    let html = site.read("index.html");
    assert!(
        html.contains(&format!("href=\"https://example.org/{css}\"")),
        "{html}"
    );
    let stylesheet = site.read(&css);
    assert!(
        stylesheet.contains(&format!("url(\"/{bg}\")")),
        "{stylesheet}"
    );
    assert!(
        stylesheet.contains(&format!("url(/{font})")),
        "{stylesheet}"
    );
    // Images: sizes read from the file; all but the first lazy.
    let img = hashed(&site, "img", "a");
    assert!(
        html.contains(&format!(
            "<img src=\"/{img}\" alt=\"a\" decoding=\"async\" width=\"3\" height=\"2\">"
        )),
        "{html}"
    );
    assert!(
        html.contains(&format!("<img src=\"/{img}\" alt=\"b\" loading=\"lazy\" decoding=\"async\" width=\"3\" height=\"2\">")),
        "{html}"
    );
    assert!(
        html.contains("<a href=\"https://other.example/\" rel=\"noopener\">"),
        "{html}"
    );

    // A new font renames the stylesheet that loads it, and the pages that link that follow,
    // incrementally as in a clean build.
    site.write("static/fonts/a.woff2", "font v2");
    site.build().assert_ok();
    let css2 = hashed(&site, "css", "site");
    assert_ne!(css, css2);
    assert!(site.read("index.html").contains(&css2));
    let clean = SiteTest::empty();
    copy_tree(site.root(), clean.root());
    clean.remove(".sitegen").remove("public");
    clean.build().assert_ok();
    assert_eq!(site.tree(), clean.tree());
}

#[test]
fn broken_links_warn_in_build_and_fail_check_and_strict() {
    let site = site();
    site.write(
        "content/about.md",
        "+++\ntitle = \"About\"\n+++\n[gone](/nowhere/) and [anchor](/#nope) and [ok](/about/#team)\n",
    );
    let run = site.run(&["build", "--quiet", "--format", "json"]);
    run.assert_ok();
    let warnings = run.json()["warnings"].to_string();
    assert!(
        warnings.contains("broken link `/nowhere/` in about/index.html"),
        "{warnings}"
    );
    assert!(warnings.contains("content/about.md"), "{warnings}");
    assert!(
        warnings.contains("has no element with id `nope`"),
        "{warnings}"
    );
    // [ok](/about/#team), and the home page's link to it, are fine.
    assert_eq!(
        run.json()["warnings"].as_array().unwrap().len(),
        2,
        "{warnings}"
    );

    site.check()
        .assert_code(1)
        .assert_stderr_contains("error: broken link `/nowhere/`");
    let before = site.tree();
    site.write(
        "content/about.md",
        "+++\ntitle = \"About\"\n+++\n[gone](/nowhere/)\n",
    );
    site.run(&["build", "--quiet", "--strict"])
        .assert_code(1)
        .assert_stderr_contains("broken link");
    assert_eq!(site.tree(), before, "a failed build writes nothing");
}

/// Fragments are checked against the target's ids: on the page itself (`#part` or its own
/// path), on a page the same build renders, and, in an incremental build, on a page it does not
/// render (read from the output).
#[test]
fn fragments_are_checked_on_the_page_itself_and_on_pages_not_rendered_again() {
    let site = site();
    site.write(
        "templates/page.html",
        "<!DOCTYPE html><html><body><h1 id=\"team\">{{ page.title }}</h1><h2 id=\"{{ page.slug }}-part\">p</h2>{{ page.content | safe }}</body></html>",
    )
    .write("templates/section.html", "<!DOCTYPE html><html><body>{{ section.title }}</body></html>")
    .write("content/docs/_index.md", "+++\ntitle = \"Docs\"\n+++\n")
    .write("content/docs/other.md", "+++\ntitle = \"Other\"\n+++\nOther.\n")
    .write(
        "content/about.md",
        "+++\ntitle = \"About\"\n+++\n[a](/about/#about-part) [b](/about/#nope) [c](/docs/other/#other-part) [d](/docs/other/#gone) [e](#about-part) [f](#lost)\n",
    );
    let warnings = |run: &crate::support::Run| {
        let mut w: Vec<String> = run.json()["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["message"].as_str().unwrap().to_owned())
            .collect();
        w.sort();
        w
    };
    let expected = [
        "broken link `/about/#nope` in about/index.html: about/index.html has no element with id `nope`",
        "broken link `/docs/other/#gone` in about/index.html: docs/other/index.html has no element with id `gone`",
        "broken link `https://example.org/about/#lost` in about/index.html: about/index.html has no element with id `lost`",
    ];
    let first = site.run(&["build", "--quiet", "--format", "json"]);
    first.assert_ok();
    assert_eq!(warnings(&first), expected);
    // Only about.md changes: docs/other/index.html is not rendered again, its ids are read.
    site.write(
        "content/about.md",
        "+++\ntitle = \"About\"\n+++\n[a](/about/#about-part) [b](/about/#nope) [c](/docs/other/#other-part) [d](/docs/other/#gone) [e](#about-part) [f](#lost) again\n",
    );
    let second = site.run(&["build", "--quiet", "--format", "json"]);
    second.assert_ok();
    assert_eq!(second.json()["pages_rendered"], 1, "{}", second.json());
    assert_eq!(warnings(&second), expected);
}

/// A link a template prints without `| safe` is autoescaped (`/` as `&#x2F;`); it is checked as
/// the browser reads it: no false warning for a good link, a warning for a broken one, and an
/// escaped stylesheet URL is fingerprinted like any other.
#[test]
fn links_escaped_by_templates_are_checked_as_browsers_read_them() {
    let site = site();
    site.write(
        "templates/page.html",
        "{% set css = \"/css/site.css\" %}<!DOCTYPE html><html><head><link rel=\"stylesheet\" href=\"{{ css }}\"></head><body><h1 id=\"team\">t</h1><a href=\"{{ page.permalink }}\">me</a><a href=\"{{ config.base_url }}/nowhere/\">gone</a></body></html>",
    );
    let run = site.run(&["build", "--quiet", "--format", "json"]);
    run.assert_ok();
    let html = site.read("about/index.html");
    assert!(
        html.contains("example.org&#x2F;about&#x2F;"),
        "escaped as written: {html}"
    );
    let warnings = run.json()["warnings"].to_string();
    assert!(
        warnings.contains("the site has nothing at /nowhere/"),
        "{warnings}"
    );
    assert_eq!(
        run.json()["warnings"].as_array().unwrap().len(),
        1,
        "{warnings}"
    );
    let css = hashed(&site, "css", "site");
    assert!(html.contains(&css), "{html}");
}

/// Element names, attributes and whitespace-collapsed text of `html`, in document order. (In
/// tags, a space after a comma is dropped: minify-html writes the viewport's
/// `width=device-width, initial-scale=1` without it, which browsers read alike.)
fn dom(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = html;
    while !rest.is_empty() {
        if let Some(tag) = rest.strip_prefix('<') {
            let end = tag.find('>').unwrap_or(tag.len());
            let inside = decode_entities(&tag[..end]).replace(", ", ",");
            // `<br />` and `<br/>` close themselves; `href=a/` is a value ending in `/`.
            let inside = match inside.strip_suffix(" /") {
                Some(open) => open.to_owned(),
                None if !inside.contains(' ') => inside.trim_end_matches('/').to_owned(),
                None => inside,
            };
            if !inside.starts_with('!') {
                let mut parts: Vec<String> = inside
                    .split_whitespace()
                    .map(|p| p.replace('"', ""))
                    .collect();
                parts[1..].sort();
                out.push(parts.join(" "));
            }
            rest = &tag[(end + 1).min(tag.len())..];
        } else {
            let end = rest.find('<').unwrap_or(rest.len());
            let text = decode_entities(&rest[..end])
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            if !text.is_empty() {
                out.push(text);
            }
            rest = &rest[end..];
        }
    }
    out
}

/// Text with its character references decoded (minify-html writes `/` for `&#x2F;`).
fn decode_entities(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find('&') {
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        let Some(end) = tail.find(';').filter(|e| *e < 12) else {
            out.push('&');
            rest = &tail[1..];
            continue;
        };
        let name = &tail[1..end];
        let decoded = match name {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => name
                .strip_prefix("#x")
                .or_else(|| name.strip_prefix("#X"))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| name.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        if let Some(c) = decoded {
            out.push(c);
            rest = &tail[end + 1..];
        } else {
            out.push('&');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out
}

#[test]
fn minified_pages_have_the_same_dom() {
    let site = SiteTest::fixture("basic");
    site.build().assert_ok();
    let plain = site.tree();
    let small = SiteTest::fixture("basic");
    small
        .run(&["build", "--quiet", "--set", "minify=true"])
        .assert_ok();
    let minified = small.tree();
    let mut compared = 0;
    for (file, bytes) in &plain {
        if !file.ends_with(".html") {
            continue;
        }
        let a = String::from_utf8_lossy(bytes);
        let b = String::from_utf8_lossy(&minified[file]);
        assert!(b.len() <= a.len(), "{file} grew");
        assert_eq!(dom(&a), dom(&b), "{file}");
        compared += 1;
    }
    assert!(compared > 5, "{compared}");
}
