//! The commands as a user runs them: init, build, check, their options and their output.

use crate::support::{SiteTest, tree_of};

#[test]
fn init_makes_a_site_that_builds_with_the_builtin_theme() {
    let dir = SiteTest::empty();
    let site_dir = dir.root().join("my-site");
    let run = dir.run(&["init", "my-site"]);
    run.assert_ok();
    assert!(site_dir.join("sitegen.toml").is_file());
    assert!(
        !site_dir.join("themes").exists(),
        "the default theme is built in"
    );
    let built = dir.run(&["build", "--root", "my-site", "--quiet"]);
    built.assert_ok();
    assert!(
        built.stdout.starts_with("Built 2 pages, 2 sections"),
        "{}",
        built.stdout
    );
    let out = site_dir.join("public");
    let home = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(home.contains("<html lang=\"en\""), "{home}");
    let post = std::fs::read_to_string(out.join("blog/first-post/index.html")).unwrap();
    assert!(post.contains("My first post"));
    assert!(
        post.contains("https://example.org/blog/second-post/"),
        "internal link resolved"
    );
    let files = tree_of(&out);
    assert!(
        files.keys().any(|f| f.ends_with(".css")),
        "theme CSS is copied: {:?}",
        files.keys()
    );
    assert!(files.contains_key("tags/news/index.html"));
    assert!(files.contains_key("atom.xml"));
    dir.run(&["init", "my-site"])
        .assert_code(2)
        .assert_stderr_contains("not empty");
}

#[test]
fn summary_is_one_line_and_json_is_one_object() {
    let site = SiteTest::fixture("basic");
    let run = site.build();
    run.assert_ok();
    assert_eq!(run.stdout.lines().count(), 1, "{}", run.stdout);
    assert!(
        run.stdout
            .starts_with("Built 6 pages, 3 sections, 26 files in "),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.is_empty(),
        "no progress bar when not on a terminal: {}",
        run.stderr
    );

    let json = site.run(&["build", "--format", "json", "--full"]);
    json.assert_ok();
    let value = json.json();
    assert_eq!(value["pages"], 6);
    assert_eq!(value["sections"], 3);
    assert_eq!(value["files_written"], 26);
    assert_eq!(value["pages_rendered"], 6);
    assert_eq!(value["changed_fraction"], 1.0);
    assert!(value["duration_ms"].is_u64());
    assert_eq!(value["errors"], serde_json::json!([]));
    assert!(value["warnings"].is_array());

    let again = site.run(&["build", "--format", "json"]).json();
    assert_eq!(again["files_written"], 0, "nothing changed: {again}");
    assert_eq!(again["pages_rendered"], 0);
    assert_eq!(again["pages_reused"], 6);
    assert_eq!(again["outputs_removed"], 0);
    assert_eq!(again["changed_fraction"], 0.0);
}

#[test]
fn check_writes_nothing_and_passes_a_good_site() {
    let site = SiteTest::fixture("basic");
    let run = site.check();
    run.assert_ok();
    assert!(run.stdout.contains("no errors"), "{}", run.stdout);
    assert!(!site.output().exists());
}

#[test]
fn set_overrides_the_config_for_one_run() {
    let site = SiteTest::fixture("basic");
    site.run(&[
        "build",
        "--set",
        "base_url=https://other.net",
        "--set",
        "extra.author=\"Bo\"",
    ])
    .assert_ok();
    let page = site.read("blog/second/index.html");
    assert!(page.contains("https://other.net/blog/third/"), "{page}");
    assert!(page.contains("<footer>Bo "), "{page}");
    site.run(&["build", "--set", "nonsense"])
        .assert_code(2)
        .assert_stderr_contains("--set expects KEY=VALUE");
    site.run(&["build", "--set", "no_such_key=1"])
        .assert_code(2)
        .assert_stderr_contains("no_such_key");
}

#[test]
fn root_and_output_options() {
    let site = SiteTest::fixture("basic");
    let elsewhere = tempfile::tempdir().unwrap();
    let out = elsewhere.path().join("site");
    let root = site.root().to_string_lossy().into_owned();
    let dir = SiteTest::empty();
    dir.run(&["build", "--root", &root, "--output", &out.to_string_lossy()])
        .assert_ok();
    assert!(out.join("index.html").is_file());
    assert!(!site.output().exists());
    dir.run(&["build", "--root", &root, "--output", &root])
        .assert_code(2)
        .assert_stderr_contains("refusing");
    dir.run(&["build", "--root", &format!("{root}/content/blog")])
        .assert_code(2);
}

#[test]
fn zola_config_names_and_keys_are_accepted() {
    let site = SiteTest::fixture("basic");
    let config = std::fs::read_to_string(site.root().join("sitegen.toml")).unwrap();
    site.remove("sitegen.toml");
    site.write("config.toml", format!("compile_sass = true\nbuild_search_index = true\n{config}\n[markdown.highlighting]\ntheme = \"github-dark\"\n"));
    let run = site.build();
    run.assert_ok();
    assert!(
        run.stderr
            .contains("`build_search_index` is a Zola option sitegen does not support yet"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("`compile_sass`"), "{}", run.stderr);
    assert!(run.stderr.contains("config.toml:"), "{}", run.stderr);
    // Zola 0.22 removed `highlight_code`: an error there, and here.
    site.write(
        "config.toml",
        format!("{config}\n[markdown]\nhighlight_code = true\n"),
    );
    site.build()
        .assert_code(2)
        .assert_stderr_contains("`highlight_code` was removed in Zola 0.22")
        .assert_stderr_contains("[markdown.highlighting]");
}

#[test]
fn keys_zola_ignores_are_warnings_naming_key_file_and_line() {
    let site = SiteTest::fixture("basic");
    let config = std::fs::read_to_string(site.root().join("sitegen.toml")).unwrap();
    assert!(config.contains("feed = true }"), "{config}");
    // A key inside a taxonomy (as a key after `[[taxonomies]]` lands), which Zola lets pass.
    site.write(
        "sitegen.toml",
        config.replace("feed = true }", "feed = true, title = \"Tags\" }"),
    );
    site.write(
        "content/blog/stray.md",
        "+++\ntitle = \"Stray\"\nsort_by = \"date\"\npaginate_by = 3\n+++\nBody.\n",
    );
    let run = site.build();
    run.assert_ok();
    for expected in [
        "warning: unknown key `title` in `taxonomies` is ignored",
        "sitegen.toml:",
        "warning: unknown front matter key `sort_by` is ignored",
        "content/blog/stray.md:3:1",
        "warning: unknown front matter key `paginate_by` is ignored",
        "content/blog/stray.md:4:1",
    ] {
        assert!(run.stderr.contains(expected), "{expected}\n{}", run.stderr);
    }
    assert_eq!(run.stderr.matches("`sort_by`").count(), 1, "{}", run.stderr);
    // A section's unknown key stays an error, as in Zola (its front matter denies them).
    site.write(
        "content/blog/_index.md",
        "+++\ntitle = \"Blog\"\ndate = 2024-01-01\n+++\n",
    );
    site.build()
        .assert_code(1)
        .assert_stderr_contains("unknown field `date`");
}

#[test]
fn a_failed_build_keeps_the_previous_output() {
    let site = SiteTest::fixture("basic");
    site.build().assert_ok();
    let before = site.tree();
    site.write("content/blog/second.md", "+++\ntitle = 3\n+++\n");
    site.build()
        .assert_code(1)
        .assert_stderr_contains("content/blog/second.md:2:9");
    assert_eq!(site.tree(), before);
    let leftovers: Vec<_> = std::fs::read_dir(site.root())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().starts_with(".public"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "no staging folder left behind: {leftovers:?}"
    );
}

#[test]
fn zolas_config_and_base_url_options_work_as_set_and_root() {
    let site = SiteTest::fixture("basic");
    // `--config FILE` reads another file of the site's folder, before or after the command.
    let staging = std::fs::read_to_string(site.root().join("sitegen.toml"))
        .unwrap()
        .replace("title = \"Basic\"", "title = \"Staging\"");
    site.write("staging.toml", staging);
    site.run(&["--config", "staging.toml", "build", "--quiet"])
        .assert_ok();
    assert!(site.read("index.html").contains("Staging"));
    site.run(&["build", "--quiet", "-c", "sitegen.toml"])
        .assert_ok();
    assert!(!site.read("index.html").contains("Staging"));
    // `--base-url URL` is `--set base_url="URL"`: every permalink follows it.
    site.run(&[
        "build",
        "--quiet",
        "--base-url",
        "https://preview.example.net",
    ])
    .assert_ok();
    let sitemap = site.read("sitemap.xml");
    assert!(
        sitemap.contains("<loc>https://preview.example.net/</loc>"),
        "{sitemap}"
    );
    assert!(!sitemap.contains("https://example.org/"), "{sitemap}");
    site.run(&["build", "--quiet", "-u", "https://other.example.net/"])
        .assert_ok();
    assert!(
        site.read("sitemap.xml")
            .contains("https://other.example.net/")
    );
    // A missing file is a config error naming it.
    site.run(&["--config", "missing.toml", "build"])
        .assert_code(2)
        .assert_stderr_contains("missing.toml");
}
