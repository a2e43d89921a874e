//! The whole output tree of every fixture site and example, snapshotted in
//! `tests/snapshots/NAME.txt`: a refactor that must not change the output shows every byte it
//! changed. Each site is built clean by the real binary and must build without a warning.
//! `SITEGEN_BLESS=1 cargo test --test it snapshots` rewrites the snapshots after an intended
//! change; review their diff like code.

use crate::support::SiteTest;
use crate::support::snapshot::{self, Detail};

/// Builds `site` clean, asserting it builds with no error and no warning, and snapshots its
/// output as `name`.
#[track_caller]
fn assert_output(name: &str, site: &SiteTest, detail: Detail) {
    let run = site.run(&["build", "--quiet", "--format", "json"]);
    run.assert_ok();
    let report = run.json();
    assert_eq!(report["errors"], serde_json::json!([]), "{report}");
    assert_eq!(report["warnings"], serde_json::json!([]), "{report}");
    assert!(
        run.stderr.is_empty(),
        "the build printed to stderr:\n{}",
        run.stderr
    );
    snapshot::assert_snapshot(name, &snapshot::render(&site.tree(), detail));
}

#[test]
fn basic() {
    assert_output("basic", &SiteTest::fixture("basic"), Detail::Full);
}

#[test]
fn ai_copy() {
    assert_output("ai-copy", &SiteTest::fixture("ai-copy"), Detail::Full);
}

#[test]
fn edge() {
    assert_output("edge", &SiteTest::fixture("edge"), Detail::Full);
}

#[test]
fn highlight() {
    assert_output("highlight", &SiteTest::fixture("highlight"), Detail::Full);
}

#[test]
fn taxonomies() {
    assert_output("taxonomies", &SiteTest::fixture("taxonomies"), Detail::Full);
}

#[test]
fn multilingual() {
    assert_output(
        "multilingual",
        &SiteTest::fixture("multilingual"),
        Detail::Full,
    );
}

#[test]
fn shortcodes() {
    assert_output("shortcodes", &SiteTest::fixture("shortcodes"), Detail::Full);
}

#[test]
fn theme_override() {
    assert_output(
        "theme-override",
        &SiteTest::fixture("theme-override"),
        Detail::Full,
    );
}

#[test]
fn zola_templates() {
    assert_output(
        "zola-templates",
        &SiteTest::fixture("zola-templates"),
        Detail::Full,
    );
}

#[test]
fn zola_listed_content() {
    assert_output(
        "zola-listed-content",
        &SiteTest::fixture("zola-listed-content"),
        Detail::Full,
    );
}

#[test]
fn zola_functions() {
    assert_output(
        "zola-functions",
        &SiteTest::fixture("zola-functions"),
        Detail::Full,
    );
}

#[test]
fn example_blog() {
    assert_output("example-blog", &SiteTest::example("blog"), Detail::Full);
}

/// 2,400 listings: one line per file (path, size, hash), a diff still names every file that
/// changed.
#[test]
fn example_directory() {
    assert_output(
        "example-directory",
        &SiteTest::example("directory"),
        Detail::Hashes,
    );
}

/// A new fixture gets a snapshot test, and a snapshot without its test does not linger.
/// (Not while blessing: the other tests are writing the snapshots meanwhile.)
#[test]
fn every_fixture_has_a_snapshot_and_every_snapshot_a_site() {
    if std::env::var_os("SITEGEN_BLESS").is_some() {
        return;
    }
    let names = |dir: std::path::PathBuf, suffix: &str| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter_map(|n| n.strip_suffix(suffix).map(str::to_owned))
            .collect();
        names.sort();
        names
    };
    let mut sites: Vec<String> = names(crate::support::fixtures(), "")
        .into_iter()
        .filter(|n| n != "errors")
        .collect();
    sites.extend(["example-blog".to_owned(), "example-directory".to_owned()]);
    sites.sort();
    let snapshots = names(snapshot::file("x").parent().unwrap().to_path_buf(), ".txt");
    assert_eq!(
        sites, snapshots,
        "each site under tests/fixtures/ (but errors/) has a test in tests/it/snapshots.rs and a tests/snapshots/NAME.txt"
    );
}
