//! Zola's configuration and front matter keys, each on a small site written here: what Zola
//! accepts is accepted, and what it asks for is done as Zola 0.22 does it.

use crate::support::SiteTest;

/// A Zola site (`config.toml`) whose section template lists its pages' titles, and whose page
/// template prints the page's content and its siblings.
fn zola_site(config: &str) -> SiteTest {
    let site = SiteTest::empty();
    site.write(
        "config.toml",
        format!("base_url = \"https://z.example.org\"\ntitle = \"Z\"\n{config}"),
    )
    .write(
        "templates/index.html",
        "{% for p in section.pages %}{{ p.title }}|{% endfor %}",
    )
    .write(
        "templates/section.html",
        "[{% for p in section.pages %}{{ p.title }}|{% endfor %}]",
    )
    .write(
        "templates/page.html",
        "{{ page.content | safe }}<p>lower={% if page.lower %}{{ page.lower.title }}{% endif %} higher={% if page.higher %}{{ page.higher.title }}{% endif %}</p>",
    );
    site
}

#[test]
fn every_sort_by_of_zola_orders_as_zola_does() {
    let site = zola_site("");
    let pages = [
        ("a10", "title = \"a10\"\nweight = 3\ndate = 2024-01-03"),
        (
            "a2",
            "title = \"a2\"\nweight = 1\ndate = 2024-01-01\nupdated = 2024-02-01",
        ),
        ("B", "title = \"B\"\nweight = 2\ndate = 2024-01-02"),
        ("none", "title = \"None\""),
    ];
    for (name, front) in pages {
        site.write(
            &format!("content/s/{name}.md"),
            format!("+++\n{front}\n+++\n"),
        );
    }
    for (sort_by, expected) in [
        ("date", "[a10|B|a2|]"),
        ("update_date", "[a2|a10|B|]"),
        ("title", "[a2|a10|B|None|]"),
        ("title_bytes", "[B|None|a10|a2|]"),
        ("weight", "[a2|B|a10|]"),
        ("slug", "[a2|a10|B|None|]"),
        ("permalink", "[a10|a2|B|None|]"),
        ("none", "[B|a10|a2|None|]"),
    ] {
        site.write(
            "content/s/_index.md",
            format!("+++\nsort_by = \"{sort_by}\"\n+++\n"),
        );
        site.build().assert_ok();
        assert_eq!(site.read("s/index.html"), expected, "{sort_by}");
    }
    // A page lacking the key is not listed, and has no siblings; the others do.
    site.write("content/s/_index.md", "+++\nsort_by = \"weight\"\n+++\n");
    site.build().assert_ok();
    assert!(site.read("s/none/index.html").contains("lower= higher="));
    assert!(site.read("s/b/index.html").contains("lower=a2 higher=a10"));
}

#[test]
fn front_matter_after_blank_lines_is_front_matter() {
    let site = zola_site("");
    site.write(
        "content/p.md",
        "\n  \n+++\ntitle = \"Spaced\"\nslug = \"spaced\"\n+++\nThe body.\n",
    );
    site.build().assert_ok();
    let page = site.read("spaced/index.html");
    assert!(page.starts_with("<p>The body.</p>"), "{page}");
    assert_eq!(site.read("index.html"), "Spaced|");
}

#[test]
fn markdown_options_of_zola_are_honoured() {
    let body = "[out](https://other.org) [in](@/b.md) ![alt](/i.png)\n";
    // Zola's defaults: `rel="external"` on external links only.
    let site = zola_site("");
    site.write("content/a.md", format!("+++\ntitle = \"A\"\n+++\n{body}"))
        .write("content/b.md", "+++\ntitle = \"B\"\n+++\n");
    site.build().assert_ok();
    let page = site.read("a/index.html");
    assert!(
        page.contains(
            "<a rel=\"external\" href=\"https://other.org\">out</a> <a href=\"https://z.example.org/b/\">in</a> <img src=\"/i.png\" alt=\"alt\" />"
        ),
        "{page}"
    );
    let site = zola_site(
        "[markdown]\nexternal_links_external = false\nexternal_links_class = \"ext\"\n\
         external_links_target_blank = true\nexternal_links_no_follow = true\n\
         external_links_no_referrer = true\nlazy_async_image = true\n",
    );
    site.write("content/a.md", format!("+++\ntitle = \"A\"\n+++\n{body}"))
        .write("content/b.md", "+++\ntitle = \"B\"\n+++\n");
    site.build().assert_ok();
    let page = site.read("a/index.html");
    assert!(
        page.contains(
            "<a class=\"ext\" rel=\"noopener nofollow noreferrer\" target=\"_blank\" href=\"https://other.org\">out</a>"
        ),
        "{page}"
    );
    assert!(
        page.contains("<img src=\"/i.png\" alt=\"alt\" loading=\"lazy\" decoding=\"async\" />"),
        "{page}"
    );
}

#[test]
fn sitegens_own_additions_are_off_for_a_zola_config_and_on_for_sitegen_toml() {
    let page = "+++\ntitle = \"A\"\n+++\n![one](/one.png) ![two](/two.png) [x](https://other.org)\n\n\
                ```\ncode\n```\n\n- [ ] todo\n";
    let site = zola_site("");
    site.write("content/a.md", page);
    site.build().assert_ok();
    let zola = site.read("a/index.html");
    assert!(
        !zola.contains("loading=") && !zola.contains("noopener"),
        "{zola}"
    );
    assert!(
        zola.contains("<pre><code>") && zola.contains("<input disabled=\"\" type=\"checkbox\"/>"),
        "{zola}"
    );
    site.remove("config.toml");
    site.write("sitegen.toml", "base_url = \"https://z.example.org\"\n");
    site.build().assert_ok();
    let own = site.read("a/index.html");
    assert!(
        own.contains("loading=\"lazy\"") && own.contains("noopener"),
        "{own}"
    );
    assert!(
        own.contains("<pre tabindex=\"0\">") && own.contains("aria-label=\"not done\""),
        "{own}"
    );
    // A Zola site asks for them by name.
    site.remove("sitegen.toml");
    site.write(
        "config.toml",
        "base_url = \"https://z.example.org\"\nlazy_images = true\nnoopener_links = true\n\
         accessible_markup = true\n",
    );
    site.build().assert_ok();
    let asked = site.read("a/index.html");
    assert!(
        asked.contains("loading=\"lazy\"")
            && asked.contains("noopener")
            && asked.contains("<pre tabindex=\"0\">"),
        "{asked}"
    );
}

#[test]
fn a_themes_extra_merges_into_config_extra_under_the_sites() {
    let site =
        zola_site("theme = \"t\"\n[extra]\nsite_only = \"s\"\n[extra.nested]\nx = \"site\"\n");
    site.write(
        "themes/t/theme.toml",
        "name = \"t\"\n[extra]\nsite_only = \"theme\"\ntheme_only = \"t\"\n[extra.nested]\nx = \"theme\"\ny = \"theme\"\n",
    )
    .write(
        "templates/index.html",
        "{{ config.extra.site_only }} {{ config.extra.theme_only }} {{ config.extra.nested.x }} {{ config.extra.nested.y }}",
    );
    site.build().assert_ok();
    assert_eq!(site.read("index.html"), "s t site theme");
}

#[test]
fn slugify_strategies_make_paths_terms_and_anchors_as_zola() {
    let page = "+++\ntitle = \"P\"\n[taxonomies]\ntags = [\"Café Au Lait\"]\n+++\n# Hello World\n";
    let config = "taxonomies = [{ name = \"tags\" }]\n";
    let site = zola_site(config);
    site.write("content/Été/2024-01-01-Ma Page.md", page)
        .write("content/Été/_index.md", "+++\n+++\n")
        .write("templates/taxonomy_list.html", "")
        .write("templates/taxonomy_single.html", "{{ term.name }}");
    site.build().assert_ok();
    assert!(site.exists("Été/ma-page/index.html"));
    assert!(site.exists("tags/cafe-au-lait/index.html"));
    assert!(
        site.read("Été/ma-page/index.html")
            .contains("id=\"hello-world\"")
    );
    site.write(
        "config.toml",
        format!(
            "base_url = \"https://z.example.org\"\n{config}[slugify]\npaths = \"safe\"\n\
             paths_keep_dates = true\ntaxonomies = \"off\"\nanchors = \"safe\"\n"
        ),
    );
    site.build().assert_ok();
    assert!(
        site.exists("Été/2024-01-01-Ma Page/index.html"),
        "{:?}",
        site.tree().keys()
    );
    assert!(
        site.exists("tags/Café Au Lait/index.html"),
        "{:?}",
        site.tree().keys()
    );
    let page = site.read("Été/2024-01-01-Ma Page/index.html");
    assert!(page.contains("id=\"Hello_World\""), "{page}");
}

#[test]
fn ignored_content_and_static_globs_leave_files_out() {
    let site = zola_site(
        "ignored_content = [\"*.xlsx\", \"**/drafts/**\"]\nignored_static = [\"*.psd\"]\n",
    );
    site.write("content/a.md", "+++\ntitle = \"A\"\n+++\n")
        .write("content/drafts/b.md", "+++\ntitle = \"B\"\n+++\n")
        .write("content/sheet.xlsx", "x")
        .write("static/art.psd", "x")
        .write("static/site.css", "x");
    site.build().assert_ok();
    assert!(site.exists("a/index.html") && site.exists("site.css"));
    assert!(!site.exists("drafts/b/index.html") && !site.exists("art.psd"));
    site.write(
        "config.toml",
        "base_url = \"https://z.example.org\"\nignored_static = [\"[\"]\n",
    );
    site.build()
        .assert_code(2)
        .assert_stderr_contains("invalid `ignored_static` glob");
}

#[test]
fn taxonomy_root_mode_and_link_checker_levels() {
    let site = zola_site(
        "taxonomies = [{ name = \"tags\" }]\ntaxonomy_root = \"blog\"\n\
         [link_checker]\ninternal_level = \"warn\"\nexternal_level = \"warn\"\nskip_prefixes = [\"http://localhost\"]\n",
    );
    site.write(
        "content/a.md",
        "+++\ntitle = \"A\"\n[taxonomies]\ntags = [\"x\"]\n+++\n[gone](@/gone.md) [part](@/a.md#nowhere)\n",
    )
    .write("templates/taxonomy_list.html", "")
    .write("templates/taxonomy_single.html", "{{ config.mode }}");
    // Broken internal links are warnings when the config says so: the site builds.
    let run = site.build();
    run.assert_ok();
    assert!(run.stderr.contains("nowhere"), "{}", run.stderr);
    assert_eq!(site.read("blog/tags/x/index.html"), "build");
    site.write(
        "config.toml",
        "base_url = \"https://z.example.org\"\ntaxonomies = [{ name = \"tags\" }]\n",
    );
    site.build()
        .assert_code(1)
        .assert_stderr_contains("gone.md");
}

#[test]
fn taxonomy_templates_see_the_slug_as_zola_gives_it() {
    let site = zola_site("taxonomies = [{ name = \"Blog Tags\" }]\n");
    site.write(
        "content/a.md",
        "+++\ntitle = \"A\"\n[taxonomies]\n\"Blog Tags\" = [\"Rust\"]\n+++\n",
    )
    .write(
        "templates/taxonomy_list.html",
        "{{ taxonomy.name }}={{ taxonomy.slug }}",
    )
    .write(
        "templates/taxonomy_single.html",
        "{{ taxonomy.slug }}/{{ term.slug }}",
    );
    site.build().assert_ok();
    assert_eq!(site.read("blog-tags/index.html"), "Blog Tags=blog-tags");
    assert_eq!(site.read("blog-tags/rust/index.html"), "blog-tags/rust");
}

#[test]
fn sections_carry_zolas_listing_keys_in_templates() {
    let site = zola_site("");
    site.write(
        "content/blog/_index.md",
        "+++\ngenerate_feeds = true\npaginate_by = 5\n+++\n",
    )
    .write("content/blog/a.md", "+++\ntitle = \"A\"\n+++\n")
    .write(
        "templates/page.html",
        "{% set s = get_section(path=\"blog/_index.md\", metadata_only=true) %}\
         {{ s.generate_feeds }} {{ s.paginate_by }} {{ s.transparent }} {{ s.paginate_reversed }}",
    );
    site.build().assert_ok();
    assert_eq!(site.read("blog/a/index.html"), "true 5 false false");
}

#[test]
fn hard_link_static_links_and_preserve_dotfiles_keeps_dotfiles() {
    use std::os::unix::fs::MetadataExt;
    let site = zola_site("hard_link_static = true\npreserve_dotfiles_in_output = true\n");
    site.write("static/a.txt", "static bytes");
    site.build().assert_ok();
    let inode = |path: std::path::PathBuf| std::fs::metadata(path).unwrap().ino();
    assert_eq!(
        inode(site.root().join("static/a.txt")),
        inode(site.output().join("a.txt")),
        "the output's file is the source's"
    );
    // A clean build (no state) replaces the output folder, keeping its dotfiles.
    site.write("public/.git/HEAD", "ref: main");
    site.write("public/stray.html", "old");
    std::fs::remove_dir_all(site.root().join(".sitegen")).unwrap();
    site.build().assert_ok();
    assert_eq!(site.read(".git/HEAD"), "ref: main");
    assert!(!site.exists("stray.html"));
    // Without the options, as Zola: copies, and the output folder replaced whole.
    site.write(
        "config.toml",
        "base_url = \"https://z.example.org\"\ntitle = \"Z\"\n",
    );
    std::fs::remove_dir_all(site.root().join(".sitegen")).unwrap();
    site.build().assert_ok();
    assert!(!site.exists(".git/HEAD"));
    assert_ne!(
        inode(site.root().join("static/a.txt")),
        inode(site.output().join("a.txt"))
    );
}
