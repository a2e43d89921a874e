//! The output of a good site: files, URLs, listings, links, feeds, sitemap, taxonomies.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::support::snapshot::first_difference;
use crate::support::{SiteTest, fixtures, sitegen, tree_of};

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
        second.contains("date=2024-02-01 words=18 read=1 slug=second"),
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
        second.contains("https://example.org/tags/web/"),
        "get_taxonomy_url, not escaped (as Zola's): {second}"
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
        alpha.contains("<h2 id=\"sub-one\">Sub one<a class=\"zola-anchor\" href=\"#sub-one\" aria-label=\"Anchor link for: sub-one\">🔗</a></h2>"),
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
        rss.contains("<pubDate>Thu, 01 Feb 2024 00:00:00 +0000</pubDate>"),
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

/// The site's relative file paths, sorted.
fn files_of(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .map(Result::unwrap)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.path().strip_prefix(dir).unwrap().to_path_buf())
        .collect();
    files.sort();
    files
}

/// Copies `files` of `from` to `to`, creating them (and their folders) in this order.
fn lay_out(from: &Path, files: &[PathBuf], to: &Path) {
    for file in files {
        let target = to.join(file);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(from.join(file), target).unwrap();
    }
}

/// The order in which each folder under `dir` lists its entries, by folder.
fn listing(dir: &Path) -> BTreeMap<PathBuf, Vec<String>> {
    let mut listing = BTreeMap::new();
    for folder in walkdir::WalkDir::new(dir) {
        let folder = folder.unwrap();
        if folder.file_type().is_dir() {
            let names = std::fs::read_dir(folder.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            let relative = folder.path().strip_prefix(dir).unwrap().to_path_buf();
            listing.insert(relative, names);
        }
    }
    listing
}

/// The files under `dir` in the order the file system lists them, folder by folder.
fn files_as_listed(dir: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(Result::unwrap)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.path().strip_prefix(dir).unwrap().to_path_buf())
        .collect()
}

/// The same site in two folders at different paths, whose folders list their files in
/// opposite orders, builds to byte-identical output that names neither folder: output must
/// depend neither on where the site is nor on the order the file system lists it in. The
/// taxonomies fixture is made of listings, pagers and feeds, all of them orders (with two posts
/// on one date).
#[test]
fn builds_are_reproducible() {
    let fixture = fixtures().join("taxonomies");
    let one = tempfile::tempdir().unwrap();
    let a = one.path().join("site");
    lay_out(&fixture, &files_of(&fixture), &a);

    // tmpfs lists a folder's entries in reverse order of creation: creating the second copy's
    // files in the order the first copy's folders list them makes every folder of the second
    // list its entries in the opposite order, whatever the first's file system does (ext4
    // lists by hash, not by creation). Without /dev/shm: a second temporary folder, with a
    // longer path, filled in reverse order.
    let shm = Path::new("/dev/shm");
    let on_tmpfs = shm.is_dir() && tempfile::tempdir_in(shm).is_ok();
    let two = if on_tmpfs {
        tempfile::tempdir_in(shm).unwrap()
    } else {
        tempfile::tempdir().unwrap()
    };
    let b = two.path().join("a/longer/path/to/the/same/site");
    if on_tmpfs {
        lay_out(&a, &files_as_listed(&a), &b);
        let mut reversed = listing(&a);
        for names in reversed.values_mut() {
            names.reverse();
        }
        assert_eq!(
            listing(&b),
            reversed,
            "the second copy lists every folder in the opposite order"
        );
    } else {
        let mut files = files_of(&fixture);
        files.reverse();
        lay_out(&fixture, &files, &b);
    }

    let mut trees = Vec::new();
    for (site, out) in [(&a, one.path().join("out")), (&b, two.path().join("o"))] {
        // Absolute paths, so that any path the build passes on is absolute too.
        let (root, output) = (site.to_string_lossy(), out.to_string_lossy());
        let args = [
            "build", "--full", "--quiet", "--root", &root, "--output", &output,
        ];
        sitegen(site, &args).assert_ok();
        trees.push(tree_of(&out));
    }
    let (ta, tb) = (&trees[0], &trees[1]);
    assert!(
        ta.contains_key("tags/rust/page/2/index.html"),
        "{:?}",
        ta.keys()
    );
    assert_eq!(
        ta.keys().collect::<Vec<_>>(),
        tb.keys().collect::<Vec<_>>(),
        "the same files"
    );
    // The temporary folders hold the sites and the outputs: no output may name them.
    let mut roots: Vec<String> = Vec::new();
    for dir in [one.path(), two.path()] {
        roots.push(dir.to_string_lossy().into_owned());
        roots.push(dir.canonicalize().unwrap().to_string_lossy().into_owned());
    }
    for (path, bytes) in ta {
        for tree in [ta, tb] {
            for root in &roots {
                let leaked = tree[path].windows(root.len()).any(|w| w == root.as_bytes());
                assert!(!leaked, "{path} holds the absolute path {root}");
            }
        }
        assert!(
            bytes == &tb[path],
            "{path} differs between the copies at {} (-) and {} (+):\n{}",
            a.display(),
            b.display(),
            first_difference(
                path,
                &String::from_utf8_lossy(bytes),
                &String::from_utf8_lossy(&tb[path])
            )
        );
    }
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

#[test]
fn the_sitemap_lists_pagers_unless_zolas_key_excludes_them() {
    let site = SiteTest::fixture("taxonomies");
    site.build().assert_ok();
    let all = site.read("sitemap.xml");
    for pager in ["/posts/page/1/", "/posts/page/2/", "/tags/rust/page/2/"] {
        assert!(all.contains(pager), "{pager} missing:\n{all}");
    }
    // The first pager of a term redirects to the term, as a section's does.
    assert!(
        site.read("tags/rust/page/1/index.html")
            .contains("url=https://tax.example.org/tags/rust/")
    );
    site.run(&[
        "build",
        "--quiet",
        "--set",
        "exclude_paginated_pages_in_sitemap=\"all\"",
    ])
    .assert_ok();
    let fewer = site.read("sitemap.xml");
    assert!(!fewer.contains("/page/"), "{fewer}");
    assert!(
        fewer.contains("<loc>https://tax.example.org/tags/rust/</loc>"),
        "{fewer}"
    );
}

#[test]
fn two_writers_of_one_file_resolve_as_in_zola() {
    let site = SiteTest::fixture("basic");
    // A page's alias equal to its own path: the page is written, as Zola writes it over the alias.
    site.write(
        "content/blog/self.md",
        "+++\ntitle = \"Self\"\naliases = [\"/blog/self/\", \"/old-self/\"]\n+++\nBody of self.\n",
    );
    // A static file beats a page's co-located file of the same name: Zola copies static/ last.
    site.write(
        "content/blog/bundle/index.md",
        "+++\ntitle = \"Bundle\"\n+++\n",
    );
    site.write("content/blog/bundle/photo.txt", "the bundle's");
    site.write("static/blog/bundle/photo.txt", "static's");
    // The home section's own feed at the site feed's name: the site feed is written.
    site.write(
        "content/_index.md",
        "+++\ntitle = \"Home\"\ngenerate_feeds = true\n+++\nWelcome *home*.\n",
    );
    site.build().assert_ok();
    assert!(site.read("blog/self/index.html").contains("Body of self."));
    assert!(site.read("old-self/index.html").contains("/blog/self/"));
    assert_eq!(site.read("blog/bundle/photo.txt"), "static's");
    assert!(site.read("atom.xml").contains("<title>Basic</title>"));

    // Two files claiming one path stay an error, as Zola's path collision check makes it.
    site.write(
        "content/blog/other.md",
        "+++\ntitle = \"Other\"\naliases = [\"/blog/self/\"]\n+++\n",
    );
    site.build().assert_code(1).assert_stderr_contains(
        "`blog/self/index.html` is claimed by both content/blog/self.md and content/blog/other.md",
    );
}

#[test]
fn folder_names_are_kept_in_urls_as_zola_keeps_them() {
    let site = SiteTest::fixture("basic");
    site.write(
        "content/Release_Notes/_index.md",
        "+++\ntitle = \"Notes\"\n+++\n",
    );
    site.write(
        "content/Release_Notes/First Note.md",
        "+++\ntitle = \"First\"\n+++\nThe first note.\n",
    );
    site.build().assert_ok();
    // The folder as written; the page's own file name slugified.
    assert!(site.exists("Release_Notes/index.html"));
    assert!(
        site.read("Release_Notes/first-note/index.html")
            .contains("The first note.")
    );
}
