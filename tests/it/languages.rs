//! Multilingual sites (Zola's `[languages]`): the `multilingual` fixture, in English (the
//! default), French and German, and small sites written here for the errors and edge cases.

use std::collections::BTreeSet;

use crate::support::SiteTest;

/// The files a `--format json --explain` build rewrote.
fn rebuilt(site: &SiteTest) -> BTreeSet<String> {
    let json = site.run(&["build", "--format", "json", "--explain"]).json();
    json["rebuilt"]
        .as_array()
        .unwrap_or_else(|| panic!("no `rebuilt`: {json}"))
        .iter()
        .map(|r| r["file"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn each_language_has_its_pages_sections_taxonomies_and_feeds() {
    let site = SiteTest::fixture("multilingual");
    site.build().assert_ok();
    for file in [
        "index.html",
        "fr/index.html",
        "de/index.html",
        "blog/first/index.html",
        "fr/blog/first/index.html",
        "de/blog/first/index.html",
        "fr/blog/index.html",
        "fr/blog/photo/index.html",
        "fr/blog/photo/note.txt",
        "blog/photo/note.txt",
        "tags/rust/index.html",
        "fr/tags/index.html",
        "fr/tags/rust/index.html",
        "atom.xml",
        "fr/atom.xml",
        "fr/rss.xml",
        "a-propos/index.html",
        "misc-en/index.html",
    ] {
        assert!(site.exists(file), "{file} is missing");
    }
    // German has no feeds and no taxonomies; no translation is a page of the default language.
    for file in [
        "de/atom.xml",
        "de/tags/index.html",
        "fr/tags/web/index.html",
        "blog/first.fr/index.html",
        "_index.fr/index.html",
        "fr/a-propos/index.html",
    ] {
        assert!(!site.exists(file), "{file} should not be written");
    }

    let fr = site.read("fr/blog/first/index.html");
    assert!(fr.contains(r#"<html lang="fr">"#), "{fr}");
    assert!(fr.contains("lang=fr page.lang=fr Bonjour"), "{fr}");
    assert!(
        fr.contains("<title>Premier article | Multi FR</title>"),
        "{fr}"
    );
    assert!(
        fr.contains("en=Multi feeds=true; de=Multi DE feeds=false;"),
        "config.languages holds the other languages: {fr}"
    );
    assert!(
        fr.contains("ancestors: _index.fr.md, blog&#x2F;_index.fr.md"),
        "{fr}"
    );
    assert!(fr.contains("<p>lower: Une photo</p>"), "{fr}");
    assert!(
        fr.contains(r#"<li>en: <a href="https:&#x2F;&#x2F;example.org&#x2F;blog&#x2F;first&#x2F;">First post</a></li>"#),
        "{fr}"
    );
    assert!(fr.contains(r#"<a href="https://example.org/fr/tags/rust/">rust</a>"#));
    let de = site.read("de/blog/first/index.html");
    assert!(de.contains("<p>ancestors: </p>"), "an orphan: {de}");

    // Sections list the pages of their language only.
    let blog = site.read("fr/blog/index.html");
    assert!(
        blog.contains("Premier article") && blog.contains("Une photo"),
        "{blog}"
    );
    assert!(
        !blog.contains("Second post") && !blog.contains("Erster"),
        "{blog}"
    );
    let blog = site.read("blog/index.html");
    assert!(!blog.contains("Premier article"), "{blog}");

    let home = site.read("index.html");
    assert!(home.contains("lang=en section.lang=en Hello"), "{home}");
    assert!(
        home.contains("fr: Premier article; 2 pages in the French blog"),
        "{home}"
    );
    assert!(
        home.contains("urls: https://example.org/blog/first/ https://example.org/fr/blog/first/ https://example.org/fr/blog https://example.org/de/"),
        "{home}"
    );
    assert!(home.contains("tags in en: rust=2; web=1;"), "{home}");
    let de = site.read("de/index.html");
    assert!(de.contains(r#"<html lang="de">"#) && de.contains("| Multi DE</title>"));

    let feed = site.read("fr/atom.xml");
    assert!(feed.contains(r#"xml:lang="fr""#) && feed.contains("<title>Multi FR</title>"));
    assert!(feed.contains("Premier article") && !feed.contains("First post"));
    let feed = site.read("atom.xml");
    assert!(feed.contains("First post") && !feed.contains("Premier article"));

    let sitemap = site.read("sitemap.xml");
    for url in [
        "https://example.org/fr/blog/first/",
        "https://example.org/de/",
        "https://example.org/fr/tags/rust/",
        "https://example.org/a-propos/",
    ] {
        assert!(sitemap.contains(url), "{url} not in the sitemap");
    }
}

#[test]
fn a_file_of_an_undeclared_language_is_an_error_naming_it() {
    let site = SiteTest::fixture("multilingual");
    site.write("content/blog/first.it.md", "+++\ntitle = \"Primo\"\n+++\n");
    site.build()
        .assert_code(1)
        .assert_stderr_contains("content/blog/first.it.md")
        .assert_stderr_contains("language code `it`");
}

#[test]
fn without_languages_files_keep_their_names() {
    let site = SiteTest::empty();
    site.write("config.toml", "base_url = \"https://e.org\"\n")
        .write("templates/index.html", "home")
        .write(
            "templates/page.html",
            "{{ page.lang }} {{ page.translations | length }}",
        )
        .write("content/a.es.md", "+++\ntitle = \"A\"\n+++\n")
        .write("content/_index.es.md", "+++\n+++\n");
    let run = site.build();
    run.assert_ok().assert_stderr_contains("_index.es.md");
    assert_eq!(site.read("a-es/index.html"), "en 0");
    assert!(!site.exists("_index-es/index.html") && !site.exists("es/index.html"));
}

#[test]
fn the_default_language_table_merges_and_conflicts_as_in_zola() {
    let site = SiteTest::empty();
    site.write(
        "config.toml",
        "base_url = \"https://e.org\"\ndefault_language = \"fr\"\n[languages.fr]\ntitle = \"Titre\"\n[languages.fr.translations]\nhi = \"Salut\"\n[languages.en]\n",
    )
    .write("templates/index.html", "{{ config.title }} {{ trans(key='hi') }} {{ lang }}")
    .write("content/_index.en.md", "+++\n+++\n");
    site.build().assert_ok();
    assert_eq!(site.read("index.html"), "Titre Salut fr");
    assert_eq!(site.read("en/index.html"), " Salut en");

    site.write(
        "config.toml",
        "base_url = \"https://e.org\"\ntitle = \"T\"\n[languages.en]\ntitle = \"U\"\n",
    );
    site.build()
        .assert_code(2)
        .assert_stderr_contains("`title` for default language is specified twice");
}

#[test]
fn a_missing_translation_key_fails_as_in_zola() {
    let site = SiteTest::fixture("multilingual");
    site.write("templates/page.html", "{{ trans(key='nope', lang=lang) }}");
    site.build()
        .assert_code(1)
        .assert_stderr_contains("Translation key 'nope' for language");
}

#[test]
fn editing_a_translation_rebuilds_it_its_listings_and_the_pages_showing_it() {
    let site = SiteTest::fixture("multilingual");
    // Templates that read `config.languages` read every language's strings: they would be
    // rebuilt by any edit of them, so this test's do not.
    let macros = std::fs::read_to_string(site.root().join("templates/macros.html")).unwrap();
    let start = macros.find("{% macro languages()").unwrap();
    site.write(
        "templates/macros.html",
        format!(
            "{}{{% macro languages() %}}{{% endmacro %}}\n",
            &macros[..start]
        ),
    );
    site.build().assert_ok();
    assert!(rebuilt(&site).is_empty());

    // A body edit: the page, and the feeds that carry its content.
    let path = "content/blog/first.fr.md";
    let text = std::fs::read_to_string(site.root().join(path)).unwrap();
    site.write(
        path,
        text.replace("Le premier article", "Le premier billet"),
    );
    let files = rebuilt(&site);
    let expected: BTreeSet<String> = ["fr/blog/first/index.html", "fr/atom.xml", "fr/rss.xml"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(files, expected);
    assert!(
        site.read("fr/blog/first/index.html")
            .contains("premier billet")
    );

    // A title edit: also its listings and every page showing its translations.
    let text = std::fs::read_to_string(site.root().join(path)).unwrap();
    site.write(
        path,
        text.replace("title = \"Premier article\"", "title = \"Premier billet\""),
    );
    let files = rebuilt(&site);
    for file in [
        "fr/blog/first/index.html",
        "fr/blog/index.html",
        "blog/first/index.html",
        "de/blog/first/index.html",
        "fr/tags/rust/index.html",
    ] {
        assert!(files.contains(file), "{file} not rebuilt: {files:?}");
    }
    // (`blog/second/` is rebuilt too: its `page.lower` is the English page, whose
    // `translations` name the French title.)
    for file in [
        "about-us/index.html",
        "a-propos/index.html",
        "misc-en/index.html",
        "404.html",
    ] {
        assert!(!files.contains(file), "{file} rebuilt: {files:?}");
    }
    assert!(
        site.read("blog/first/index.html")
            .contains("Premier billet")
    );

    // A translation string: the pages that show it.
    let config = std::fs::read_to_string(site.root().join("config.toml")).unwrap();
    site.write(
        "config.toml",
        config.replace("hello = \"Hallo\"", "hello = \"Guten Tag\""),
    );
    let files = rebuilt(&site);
    assert!(files.contains("de/index.html"), "{files:?}");
    assert!(!files.contains("fr/index.html"), "{files:?}");
    assert!(site.read("de/blog/first/index.html").contains("Guten Tag"));
}

#[test]
fn heading_anchor_links_know_their_documents_language() {
    let site = SiteTest::fixture("multilingual");
    site.write(
        "templates/anchor-link.html",
        "<a class=\"anchor\" lang=\"{{ lang }}\" href=\"#{{ id }}\">#</a>",
    )
    .write(
        "content/blog/first.fr.md",
        "+++\ntitle = \"Premier article\"\ndate = 2024-01-11\n[taxonomies]\ntags = [\"rust\"]\n+++\n## Titre\n",
    )
    .write(
        "content/blog/_index.fr.md",
        "+++\ntitle = \"Le blog\"\nsort_by = \"date\"\ninsert_anchor_links = \"right\"\n+++\n",
    );
    site.build().assert_ok();
    let fr = site.read("fr/blog/first/index.html");
    assert!(
        fr.contains(r##"<a class="anchor" lang="fr" href="#titre">#</a>"##),
        "{fr}"
    );
}
