//! Sass, as Zola compiles it: `compile_sass = true` compiles `sass/**/*.{scss,sass}` but
//! partials into the output with `.css`, compressed; the theme's `sass/` always; errors name
//! the file, line and column and keep the previous output; an incremental build compiles only
//! the stylesheets whose files changed; `get_url(cachebust=true)` hashes the compiled CSS.

use crate::support::SiteTest;

/// A Zola site that compiles its Sass, whose home page links its stylesheet `a.css`.
fn sass_site() -> SiteTest {
    let site = SiteTest::empty();
    site.write(
        "config.toml",
        "base_url = \"https://example.org\"\ncompile_sass = true\n",
    )
    .write("content/_index.md", "+++\n+++\n")
    .write(
        "templates/index.html",
        "<link rel=\"stylesheet\" href=\"{{ get_url(path='a.css', cachebust=true) }}\">",
    )
    .write("sass/_colors.scss", "$text: #123456;\n$link: #2a4b6c;\n")
    .write("sass/_layout.scss", "@mixin boxed { margin: 0 auto; max-width: 40rem; }\n")
    .write(
        "sass/a.scss",
        "@import \"colors\";\n@import \"layout\";\n\nbody {\n  color: $text;\n  main { @include boxed; }\n  a:hover { color: $link; }\n}\n",
    )
    .write(
        "sass/pages/b.sass",
        "@import \"../colors\"\n\nnav\n  ul\n    padding: 0\n  a\n    color: $link\n",
    )
    .write("sass/pages/c.scss", ".c { width: 10px * 2; }\n");
    site
}

/// The JSON report of a build.
fn build_json(site: &SiteTest) -> serde_json::Value {
    let run = site.run(&["build", "--quiet", "--format", "json", "--explain"]);
    run.assert_ok();
    run.json()
}

/// The files a build wrote (`--explain`), sorted.
fn rebuilt(report: &serde_json::Value) -> Vec<String> {
    report["rebuilt"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["file"].as_str().unwrap().to_owned())
        .collect()
}

/// The first 20 hex digits of the SHA-256 of `bytes`, Zola's cache-busting hash.
fn zola_hash(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    use std::fmt::Write as _;
    let mut hex = String::new();
    for byte in &sha2::Sha256::digest(bytes)[..10] {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

#[test]
fn stylesheets_compile_with_their_partials_to_compressed_css_at_their_path() {
    let site = sass_site();
    site.write("sass/_unused/skipped.scss", "x { y: z }\n");
    site.build().assert_ok();
    assert_eq!(
        site.read("a.css"),
        "body{color:#123456}body main{margin:0 auto;max-width:40rem}body a:hover{color:#2a4b6c}"
    );
    assert_eq!(
        site.read("pages/b.css"),
        "nav ul{padding:0}nav a{color:#2a4b6c}"
    );
    assert_eq!(site.read("pages/c.css"), ".c{width:20px}");
    for partial in [
        "_colors.css",
        "colors.css",
        "_layout.css",
        "_unused/skipped.css",
        "unused/skipped.css",
    ] {
        assert!(!site.exists(partial), "{partial}");
    }
    // Without `compile_sass`, the site's own Sass is left alone, as Zola leaves it.
    site.write("config.toml", "base_url = \"https://example.org\"\n");
    site.write("templates/index.html", "home");
    site.build().assert_ok();
    assert!(!site.exists("a.css") && !site.exists("pages/b.css"));
}

#[test]
fn the_themes_sass_is_always_compiled_and_the_sites_and_static_files_win() {
    let site = SiteTest::empty();
    site.write(
        "config.toml",
        "base_url = \"https://example.org\"\ntheme = \"t\"\n",
    )
    .write("content/_index.md", "+++\n+++\n")
    .write("themes/t/templates/index.html", "home")
    .write("themes/t/sass/_base.scss", "$w: 1px;\n")
    .write(
        "themes/t/sass/theme.scss",
        "@import 'base';\n.t { border: $w solid; }\n",
    )
    .write("themes/t/sass/shared.scss", ".from-theme { a: b }\n")
    .write("themes/t/sass/covered.scss", ".compiled { a: b }\n")
    .write(
        "themes/t/static/covered.css",
        "/* the theme's static file */\n",
    )
    .write("sass/shared.scss", ".from-site { a: b }\n");
    // `compile_sass` is off: the theme's Sass is compiled all the same, the site's is not.
    site.build().assert_ok();
    assert_eq!(site.read("theme.css"), ".t{border:1px solid}");
    assert_eq!(site.read("shared.css"), ".from-theme{a:b}");
    assert_eq!(site.read("covered.css"), "/* the theme's static file */\n");

    site.write(
        "config.toml",
        "base_url = \"https://example.org\"\ntheme = \"t\"\ncompile_sass = true\n",
    );
    site.build().assert_ok();
    assert_eq!(site.read("shared.css"), ".from-site{a:b}");
    assert_eq!(site.read("theme.css"), ".t{border:1px solid}");
    // The site's stylesheet gone, the theme's takes its place again.
    site.remove("sass/shared.scss");
    site.build().assert_ok();
    assert_eq!(site.read("shared.css"), ".from-theme{a:b}");
}

#[test]
fn an_scss_and_a_sass_of_one_name_are_an_error_naming_both() {
    let site = sass_site();
    site.write("sass/pages/b.scss", "nav { a: b }\n");
    site.build()
        .assert_code(1)
        .assert_stderr_contains(
            "Sass path conflict: `sass/pages/b.sass` and `sass/pages/b.scss` both compile to `pages/b.css`",
        );
    assert!(!site.exists("index.html"), "a failed build writes nothing");
}

#[test]
fn a_sass_error_names_file_line_and_column_and_keeps_the_previous_output() {
    let site = sass_site();
    site.build().assert_ok();
    let before = site.tree();
    site.write(
        "sass/_colors.scss",
        "$text: #123456;\n$link: lighten(#00f);\n",
    );
    let run = site.run(&["build", "--quiet", "--format", "json"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let errors = run.json()["errors"].as_array().unwrap().clone();
    // Both stylesheets that import the partial fail, each naming the partial's line.
    assert_eq!(errors.len(), 2, "{errors:?}");
    for error in &errors {
        assert_eq!(error["file"], "sass/_colors.scss", "{error}");
        assert_eq!(
            (error["line"].as_u64(), error["column"].as_u64()),
            (Some(2), Some(8)),
            "{error}"
        );
    }
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap()
            .contains("`sass/a.scss`")
    );
    assert!(
        errors[1]["message"]
            .as_str()
            .unwrap()
            .contains("`sass/pages/b.sass`")
    );
    let text = site.build();
    text.assert_code(1)
        .assert_stderr_contains(" --> sass/_colors.scss:2:8")
        .assert_stderr_contains("2 | $link: lighten(#00f);");
    assert_eq!(site.tree(), before, "the previous output stays");

    // A panic inside the compiler is an error too, naming the stylesheet.
    site.write("sass/_colors.scss", "$text: #123456;\n$link: #2a4b6c;\n");
    site.write("sass/crash.scss", "a { b: simple-selectors(\"> a\"); }\n");
    site.build()
        .assert_code(1)
        .assert_stderr_contains("cannot compile `sass/crash.scss`: the Sass compiler crashed on it")
        .assert_stderr_contains(" --> sass/crash.scss");
    assert_eq!(site.tree(), before);
    site.remove("sass/crash.scss");
    site.build().assert_ok();
}

#[test]
fn only_the_stylesheets_whose_files_changed_are_compiled_again() {
    let site = sass_site();
    let first = build_json(&site);
    assert_eq!(first["stylesheets_compiled"], 3);

    // Nothing changed: nothing compiled, nothing written.
    let noop = build_json(&site);
    assert_eq!(noop["stylesheets_compiled"], 0);
    assert_eq!(noop["files_written"], 0);

    // A page edited: the stylesheets' CSS comes from the build state.
    site.write("content/_index.md", "+++\ntitle = \"Home\"\n+++\n");
    let content = build_json(&site);
    assert_eq!(content["stylesheets_compiled"], 0);
    assert!(
        !rebuilt(&content).iter().any(|f| f.ends_with(".css")),
        "{content}"
    );

    // A partial only `a.scss` imports: `a.scss` alone is compiled, and the page that links
    // it with a cache-busting hash is written again.
    site.write(
        "sass/_layout.scss",
        "@mixin boxed { margin: 0 auto; max-width: 50rem; }\n",
    );
    let layout = build_json(&site);
    assert_eq!(layout["stylesheets_compiled"], 1);
    assert_eq!(rebuilt(&layout), ["a.css", "index.html"]);

    // A partial two stylesheets import: both, and `pages/c.scss` not.
    site.write("sass/_colors.scss", "$text: #654321;\n$link: #2a4b6c;\n");
    let colors = build_json(&site);
    assert_eq!(colors["stylesheets_compiled"], 2);
    assert_eq!(
        rebuilt(&colors),
        ["a.css", "index.html"],
        "b.css is byte for byte the same"
    );

    // Transitively: a partial imported by a partial.
    site.write(
        "sass/_colors.scss",
        "@import \"palette\";\n$text: #654321;\n$link: $blue;\n",
    )
    .write("sass/_palette.scss", "$blue: #1a2b3c;\n");
    assert_eq!(build_json(&site)["stylesheets_compiled"], 2);
    site.write("sass/_palette.scss", "$blue: #1a2b3d;\n");
    let palette = build_json(&site);
    assert_eq!(palette["stylesheets_compiled"], 2);
    assert!(site.read("pages/b.css").contains("#1a2b3d"));

    // A file created where an import looked first (`_colors.sass` before `_colors.scss`)
    // answers the import from now on.
    site.write("sass/_colors.sass", "$text: #224467\n$link: #2b4d6f\n");
    assert_eq!(build_json(&site)["stylesheets_compiled"], 2);
    assert!(site.read("a.css").contains("#224467"));

    // A stylesheet removed takes its CSS with it.
    site.remove("sass/pages/c.scss");
    let removed = build_json(&site);
    assert_eq!(removed["stylesheets_compiled"], 0);
    assert_eq!(removed["outputs_removed"], 1);
    assert!(!site.exists("pages/c.css"));

    // Whatever the edits, the output is the one a clean build writes.
    let incremental = site.tree();
    site.run(&["build", "--quiet", "--full"]).assert_ok();
    assert_eq!(site.tree(), incremental);
}

#[test]
fn a_stylesheet_importing_from_outside_the_source_folders_is_checked_on_every_build() {
    let site = sass_site();
    site.write("vendor/_grid.scss", ".grid { display: grid; }\n")
        .write("sass/vendor.scss", "@import \"../vendor/grid\";\n");
    site.build().assert_ok();
    assert_eq!(site.read("vendor.css"), ".grid{display:grid}");
    // vendor/ is no source folder: only the stylesheet's own record of what it read tells.
    site.write("vendor/_grid.scss", ".grid { display: flex; }\n");
    let report = build_json(&site);
    assert_eq!(report["stylesheets_compiled"], 1);
    assert_eq!(site.read("vendor.css"), ".grid{display:flex}");
}

#[test]
fn cachebust_hashes_the_compiled_css_as_zola_does() {
    let site = sass_site();
    site.build().assert_ok();
    let css = site.read("a.css");
    let expected = format!(
        "<link rel=\"stylesheet\" href=\"https://example.org/a.css?h={}\">",
        zola_hash(css.as_bytes())
    );
    assert_eq!(site.read("index.html"), expected);
    site.write("sass/_colors.scss", "$text: #456780;\n$link: #2a4b6c;\n");
    site.build().assert_ok();
    let css = site.read("a.css");
    assert!(css.contains("#456780"));
    assert!(
        site.read("index.html")
            .contains(&format!("a.css?h={}", zola_hash(css.as_bytes())))
    );
}
