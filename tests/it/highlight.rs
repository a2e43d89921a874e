//! Syntax highlighting, compared byte for byte with what Zola 0.22.1 wrote for the same site:
//! `tests/fixtures/highlight/` has one config per style (inline, class, light/dark inline,
//! light/dark class) and a page of annotated blocks; `expected/STYLE/` is Zola's output (see the
//! fixture's README.md).

use std::path::Path;

use crate::support::snapshot::first_difference;
use crate::support::{SiteTest, fixtures, tree_of};

/// Each style's config file and the folder of Zola's output for it.
const STYLES: [(&str, &str); 4] = [
    ("config.toml", "inline"),
    ("config.class.toml", "class"),
    ("config.dual.toml", "dual"),
    ("config.dual-class.toml", "dual-class"),
];

/// The files Zola wrote that these tests compare.
fn expected(style: &str) -> Vec<(String, String)> {
    tree_of(&fixtures().join("highlight/expected").join(style))
        .into_iter()
        .map(|(path, bytes)| (path, String::from_utf8(bytes).unwrap()))
        .collect()
}

#[test]
fn code_blocks_are_highlighted_as_zola_highlights_them() {
    let mut wrong = Vec::new();
    for (config, style) in STYLES {
        let site = SiteTest::fixture("highlight");
        site.run(&["--config", config, "build", "--quiet", "--drafts"])
            .assert_ok();
        for (path, zola) in expected(style) {
            let ours = site.read(&path);
            if ours != zola {
                wrong.push(first_difference(&format!("{style}/{path}"), &zola, &ours));
            }
        }
        let stylesheets: Vec<String> = site
            .tree()
            .into_keys()
            .filter(|p| p.starts_with("giallo"))
            .collect();
        let zola_stylesheets: Vec<String> = expected(style)
            .into_iter()
            .map(|(p, _)| p)
            .filter(|p| p.starts_with("giallo"))
            .collect();
        assert_eq!(stylesheets, zola_stylesheets, "{style}");
    }
    assert!(
        wrong.is_empty(),
        "differs from Zola 0.22.1:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn an_unknown_language_warns_once_per_build_or_fails_when_asked() {
    let site = SiteTest::fixture("highlight");
    site.write(
        "content/more.md",
        "+++\ntitle = \"More\"\n+++\n```nosuchlang\nx\n```\n\n```nosuchlang\ny\n```\n",
    );
    let run = site.run(&["build", "--format", "json"]);
    run.assert_ok();
    let warnings = run.json()["warnings"].clone();
    let messages: Vec<&str> = warnings
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["message"].as_str().unwrap())
        .collect();
    assert_eq!(
        messages,
        ["no grammar for the language `nosuchlang`: its code blocks are shown as plain text"],
        "{warnings}"
    );

    let config = std::fs::read_to_string(site.root().join("config.toml")).unwrap();
    site.write(
        "config.toml",
        format!("{config}error_on_missing_language = true\n"),
    );
    site.build()
        .assert_code(1)
        .assert_stderr_contains("no grammar for the language `nosuchlang`")
        .assert_stderr_contains("more.md:4:1");
}

#[test]
fn a_missing_theme_fails_the_build_as_in_zola() {
    let site = SiteTest::fixture("highlight");
    site.write(
        "config.toml",
        "base_url = \"https://example.org\"\n[markdown.highlighting]\ntheme = \"nope\"\n",
    );
    site.build()
        .assert_code(2)
        .assert_stderr_contains("the highlighting theme `nope` does not exist");
}

#[test]
fn changing_the_highlighting_config_renders_the_pages_again() {
    let site = SiteTest::fixture("highlight");
    site.build().assert_ok();
    let before = site.read("blocks/index.html");
    let config = std::fs::read_to_string(site.root().join("config.toml")).unwrap();
    site.write("config.toml", config.replace("github-dark", "github-light"));
    let run = site.run(&["build", "--explain"]);
    run.assert_ok();
    assert!(run.stdout.contains("blocks/index.html"), "{}", run.stdout);
    assert_ne!(site.read("blocks/index.html"), before);
    // Back to the first theme, class style: the page changes again and the stylesheet appears.
    site.write("config.toml", format!("{config}style = \"class\"\n"));
    site.build().assert_ok();
    assert!(
        site.read("blocks/index.html")
            .contains("class=\"giallo z-code\"")
    );
    assert!(site.read("giallo.css").contains(".z-code"));
}

#[test]
fn a_stylesheet_in_static_wins_over_the_generated_one() {
    let site = SiteTest::fixture("highlight");
    site.write("static/giallo.css", "/* mine */\n");
    site.run(&["--config", "config.class.toml", "build", "--quiet"])
        .assert_ok();
    assert_eq!(site.read("giallo.css"), "/* mine */\n");
    assert!(!Path::new(&site.output().join("giallo-light.css")).exists());
}
