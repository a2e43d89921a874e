//! Zola's template API: the lookup of templates, Zola's built-in templates and how a site or
//! theme overrides them, template cycles, and Zola's functions and filters.
//!
//! `tests/fixtures/zola-templates` and `tests/fixtures/zola-functions` hold, in `zola-public/`,
//! the files Zola 0.22.1 wrote for them (`zola build --output-dir zola-public`, committed so
//! the tests need no Zola): sitegen must write each of them byte for byte.

use crate::support::{SiteTest, fixtures, tree_of};

/// Files of Zola's output sitegen is not asked to match here, each with its reason.
const NOT_COMPARED: &[(&str, &str)] = &[];

/// Builds fixture `name` and compares its output with what Zola wrote for it.
#[track_caller]
fn assert_as_zola(name: &str) {
    let site = SiteTest::fixture(name);
    site.build().assert_ok();
    let ours = site.tree();
    let zola = tree_of(&fixtures().join(name).join("zola-public"));
    assert!(!zola.is_empty(), "{name}: zola-public/ is missing");
    let mut failures = Vec::new();
    for (path, expected) in &zola {
        if NOT_COMPARED.iter().any(|(p, _)| p == path) {
            continue;
        }
        match ours.get(path) {
            None => failures.push(format!("{path}: not written")),
            Some(actual) if actual != expected => failures.push(format!(
                "{path} differs\n--- zola\n{}\n--- sitegen\n{}",
                String::from_utf8_lossy(expected),
                String::from_utf8_lossy(actual)
            )),
            Some(_) => {}
        }
    }
    assert!(failures.is_empty(), "{name}:\n{}", failures.join("\n"));
}

#[test]
fn template_lookup_and_builtins_are_zolas() {
    assert_as_zola("zola-templates");
    let site = SiteTest::fixture("zola-templates");
    site.build().assert_ok();
    assert!(
        !site.exists("unused/index.html"),
        "a taxonomy without terms writes nothing"
    );
}

#[test]
fn functions_and_filters_are_zolas() {
    assert_as_zola("zola-functions");
}

#[test]
fn listed_pages_carry_content_and_toc_as_in_zola() {
    assert_as_zola("zola-listed-content");
}

#[test]
fn the_site_or_theme_overrides_zolas_builtin_templates() {
    let site = SiteTest::fixture("zola-templates");
    site.write(
        "themes/plain/templates/internal/alias.html",
        "theme alias to {{ url | safe }}",
    )
    .write(
        "templates/anchor-link.html",
        "<a class=\"mine\" href=\"#{{ id }}\" data-level=\"{{ level }}\" lang=\"{{ lang }}\">#</a>",
    )
    .write("templates/404.html", "site 404");
    site.build().assert_ok();
    assert_eq!(
        site.read("old-a/index.html"),
        "theme alias to https://example.org/blog/a/"
    );
    assert_eq!(site.read("404.html"), "site 404");
    let about = site.read("about/index.html");
    assert!(
        about.contains("<h2 id=\"left-anchored\"><a class=\"mine\" href=\"#left-anchored\" data-level=\"2\" lang=\"en\">#</a>Left anchored</h2>"),
        "{about}"
    );
    let docs = site.read("docs/c/index.html");
    assert!(
        docs.contains("<h1 id=\"top\"><a class=\"mine\" href=\"#top\" data-level=\"1\" lang=\"en\">Top</a></h1>"),
        "{docs}"
    );

    // The site's alias template wins over the theme's; an edit of anchor-link.html re-renders
    // the pages with anchor links.
    site.write("templates/internal/alias.html", "site alias")
        .write("templates/anchor-link.html", "<a href=\"#{{ id }}\">¶</a>");
    site.build().assert_ok();
    assert_eq!(site.read("old-a/index.html"), "site alias");
    assert!(
        site.read("about/index.html")
            .contains("<a href=\"#left-anchored\">¶</a>Left anchored"),
        "{}",
        site.read("about/index.html")
    );
}

#[test]
fn a_broken_anchor_link_template_names_the_heading() {
    let site = SiteTest::fixture("zola-templates");
    site.write("templates/anchor-link.html", "{{ nope }}");
    let run = site.build();
    run.assert_code(1)
        .assert_stderr_contains("cannot render `anchor-link.html`")
        .assert_stderr_contains("content/about.md:4");
}

#[test]
fn a_taxonomy_without_terms_needs_no_template() {
    let site = SiteTest::fixture("zola-templates");
    site.remove("templates/taxonomy_list.html")
        .remove("templates/taxonomy_single.html")
        .write(
            "content/blog/a.md",
            "+++\ntitle = \"Post A\"\ndate = 2024-01-02\n[taxonomies]\ntags = [\"Rust\"]\n+++\nA.\n",
        );
    // `series` has no term left, `tags` has its own templates, `unused` never had a term.
    site.build().assert_ok();
    assert!(!site.exists("series/index.html"));
    assert!(site.exists("tags/rust/index.html"));
}

#[test]
fn a_template_including_itself_is_an_error_not_a_crash() {
    let site = SiteTest::fixture("zola-templates");
    site.write(
        "templates/page.html",
        "{% extends \"plain/templates/page.html\" %}{% block title %}{% include \"page.html\" %}{% endblock title %}",
    );
    site.build()
        .assert_code(1)
        .assert_stderr_contains("template `page.html` extends, includes or imports itself");
}

#[test]
fn load_data_reads_missing_files_as_null_and_rebuilds_when_they_appear() {
    let site = SiteTest::fixture("zola-functions");
    site.build().assert_ok();
    assert!(site.read("post/index.html").contains("missing: null"));
    site.write("data/nope.json", "{\"now\": \"here\"}");
    site.build().assert_ok();
    assert!(
        site.read("post/index.html")
            .contains("missing: {&quot;now&quot;:&quot;here&quot;}"),
        "{}",
        site.read("post/index.html")
    );
}
