//! The output of a good site: files, URLs, listings, links, feeds, sitemap, taxonomies.

use crate::support::SiteTest;

fn basic() -> SiteTest {
    let site = SiteTest::fixture("basic");
    site.build().assert_ok();
    site
}

#[test]
fn writes_pretty_urls_bundles_aliases_and_static_files() {
    let site = basic();
    let files: Vec<String> = site.tree().into_keys().collect();
    let expected = [
        "404.html",
        "about-us/index.html",
        "atom.xml",
        "blog/first/index.html",
        "blog/index.html",
        "blog/page/1/index.html",
        "blog/page/2/index.html",
        "blog/second/index.html",
        "blog/third/index.html",
        "blog/third/photo.png",
        "css/site.css",
        "docs/alpha-page/index.html",
        "docs/b/index.html",
        "docs/index.html",
        "index.html",
        "old/second/index.html",
        "robots.txt",
        "rss.xml",
        "sitemap.xml",
        "tags/index.html",
        "tags/rust/atom.xml",
        "tags/rust/index.html",
        "tags/rust/rss.xml",
        "tags/web/atom.xml",
        "tags/web/index.html",
        "tags/web/rss.xml",
    ];
    assert_eq!(files, expected);
    assert!(
        site.read("old/second/index.html")
            .contains("url=https://example.org/blog/second/")
    );
    assert!(
        site.read("blog/page/1/index.html")
            .contains("url=https://example.org/blog/")
    );
}

#[test]
fn drafts_only_with_the_flag() {
    let site = basic();
    assert!(!site.exists("blog/draft/index.html"));
    site.run(&["build", "--drafts"]).assert_ok();
    assert!(site.read("blog/draft/index.html").contains("Not yet."));
}

#[test]
fn pages_get_their_context() {
    let site = basic();
    let second = site.read("blog/second/index.html");
    assert!(second.contains("<title>Second</title>"));
    assert!(
        second.contains("date=2024-02-01 words=14 read=1 slug=second"),
        "{second}"
    );
    assert!(
        second.contains("_index.md;blog&#x2F;_index.md;"),
        "ancestors: {second}"
    );
    assert!(second.contains("<p class=\"mood\">happy</p>"), "extra");
    assert!(
        second.contains("higher=First lower=Third"),
        "siblings: {second}"
    );
    assert!(
        second.contains("href=\"https://example.org/blog/third/#details\""),
        "internal link with anchor"
    );
    assert!(
        second.contains("href=\"https://example.org/docs/\""),
        "internal link to a section"
    );
    assert!(
        second.contains("tags&#x2F;web&#x2F;"),
        "get_taxonomy_url: {second}"
    );
    assert!(second.contains("css/site.css?h="), "cache-busting get_url");
    assert!(
        second.contains("<footer>Ann &#x2F;blog&#x2F;second&#x2F;</footer>"),
        "config.extra and current_path"
    );
    let first = site.read("blog/first/index.html");
    assert!(
        first.contains("date=2024-01-01"),
        "the date comes from the file name: {first}"
    );
    let third = site.read("blog/third/index.html");
    assert!(
        third.contains("<span class=\"asset\">&#x2F;blog&#x2F;third&#x2F;photo.png</span>"),
        "{third}"
    );
}

#[test]
fn markdown_features_toc_and_anchor_links() {
    let site = basic();
    let alpha = site.read("docs/alpha-page/index.html");
    assert!(
        alpha.contains("<h2 id=\"sub-one\">Sub one <a class=\"anchor\" href=\"#sub-one\""),
        "{alpha}"
    );
    assert!(alpha.contains("<nav class=\"toc\"><a href=\"https:&#x2F;&#x2F;example.org&#x2F;docs&#x2F;alpha-page&#x2F;#top\">Top</a><a"), "{alpha}");
    assert!(alpha.contains("<table>"));
    let beta = site.read("docs/b/index.html");
    assert!(
        beta.contains("<del>old</del>"),
        "YAML front matter page renders: {beta}"
    );
    assert!(beta.contains("footnote-definition"));
    let about = site.read("about-us/index.html");
    assert!(
        about.contains("<div class=\"about\"><p>About us.</p>"),
        "custom template and path: {about}"
    );
    assert!(
        about.contains("<strong>md</strong>"),
        "markdown filter, inline"
    );
}

#[test]
fn sections_sort_and_paginate() {
    let site = basic();
    let blog = site.read("blog/index.html");
    assert!(
        blog.contains(
            "1/2 prev=none next=https:&#x2F;&#x2F;example.org&#x2F;blog&#x2F;page&#x2F;2&#x2F;"
        ),
        "{blog}"
    );
    let third = blog.find(">Third<").unwrap();
    let second = blog.find(">Second<").unwrap();
    assert!(third < second, "newest first");
    assert!(
        blog.contains("<div class=\"summary\"><p>Intro of the second post.</p>"),
        "summary"
    );
    assert!(!blog.contains(">First<"));
    let page2 = site.read("blog/page/2/index.html");
    assert!(
        page2.contains(">First<") && page2.contains("2/2"),
        "{page2}"
    );
    let docs = site.read("docs/index.html");
    assert!(
        docs.find(">Alpha<").unwrap() < docs.find(">Beta<").unwrap(),
        "by weight"
    );
    let home = site.read("index.html");
    assert!(home.contains("<li class=\"sub\"><a href=\"https:&#x2F;&#x2F;example.org&#x2F;blog&#x2F;\">Blog</a></li>"), "{home}");
    assert!(home.contains("<em>home</em>"), "section content");
}

#[test]
fn taxonomies_feeds_and_sitemap() {
    let site = basic();
    let tags = site.read("tags/index.html");
    assert!(
        tags.contains(">Rust (2)<") && tags.contains(">Web (1)<"),
        "{tags}"
    );
    let rust = site.read("tags/rust/index.html");
    assert!(
        rust.find(">Third<").is_none() && rust.contains(">Second<") && rust.contains(">First<"),
        "{rust}"
    );

    let atom = site.read("atom.xml");
    assert_eq!(
        atom.matches("<entry").count(),
        3,
        "dated pages only: {atom}"
    );
    assert!(
        atom.find("blog/third/").unwrap() < atom.find("blog/second/").unwrap(),
        "newest first"
    );
    assert!(
        atom.contains("<summary type=\"html\">&lt;p&gt;Intro of the second post."),
        "summary when there is one"
    );
    assert!(
        atom.contains("&lt;h2 id=&quot;details&quot;&gt;Details"),
        "content otherwise: {atom}"
    );
    let rss = site.read("rss.xml");
    assert!(
        rss.contains("<pubDate>Thu, 1 Feb 2024 00:00:00 +0000</pubDate>"),
        "{rss}"
    );
    assert!(site.read("tags/web/atom.xml").contains("blog/second/"));

    let sitemap = site.read("sitemap.xml");
    for url in [
        "https://example.org/",
        "https://example.org/blog/second/",
        "https://example.org/blog/page/2/",
        "https://example.org/tags/rust/",
    ] {
        assert!(
            sitemap.contains(&format!("<loc>{url}</loc>")),
            "{url} missing in {sitemap}"
        );
    }
    assert!(
        !sitemap.contains("old/second"),
        "aliases are not in the sitemap"
    );
    assert!(sitemap.contains("<lastmod>2024-02-01</lastmod>"));
    assert!(
        site.read("robots.txt")
            .contains("Sitemap: https://example.org/sitemap.xml")
    );
}

#[test]
fn builds_are_reproducible() {
    let a = basic();
    let b = basic();
    assert_eq!(a.tree(), b.tree());
    b.build().assert_ok();
    assert_eq!(a.tree(), b.tree(), "rebuilding gives the same bytes");
}

#[test]
fn minify_shrinks_html() {
    let site = basic();
    let plain = site.read("blog/second/index.html");
    site.run(&["build", "--set", "minify=true"]).assert_ok();
    let small = site.read("blog/second/index.html");
    assert!(small.len() < plain.len());
    assert!(small.contains("<p>Intro of the second post.</p>"));
}

#[test]
fn paths_from_content_stay_inside_the_output() {
    let site = SiteTest::fixture("basic");
    site.write(
        "content/blog/evil.md",
        "+++\ntitle = \"Evil\"\naliases = [\"/ok/../../../../tmp/x\"]\n+++\n",
    );
    site.build()
        .assert_code(1)
        .assert_stderr_contains("content/blog/evil.md:3");
    site.write(
        "content/blog/evil.md",
        "+++\ntitle = \"Evil\"\nslug = \"../../up\"\n+++\n",
    );
    site.build().assert_ok();
    assert!(site.exists("blog/up/index.html"), "slugs are slugified");
    assert!(!site.root().join("up").exists());
}

#[cfg(unix)]
#[test]
fn symlinks_out_of_the_site_are_refused() {
    let site = SiteTest::fixture("basic");
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), "secret").unwrap();
    std::os::unix::fs::symlink(
        outside.path().join("secret.txt"),
        site.root().join("static/secret.txt"),
    )
    .unwrap();
    site.build()
        .assert_code(1)
        .assert_stderr_contains("static/secret.txt");
    assert!(!site.exists("secret.txt"));
}
