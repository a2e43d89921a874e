//! Incremental builds: they redo only what changed, and always equal a clean build.

use std::path::Path;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use sitegen::build::{Options, Quiet, Resident};

use crate::support::{SiteTest, copy_tree, tree_of};

/// A clean build of a copy of `site` (without its state or output), returning its output tree.
fn clean_build_of(site: &SiteTest) -> std::collections::BTreeMap<String, Vec<u8>> {
    let copy = tempfile::tempdir().unwrap();
    copy_tree(site.root(), copy.path());
    let _ = std::fs::remove_dir_all(copy.path().join(".sitegen"));
    let _ = std::fs::remove_dir_all(copy.path().join("public"));
    build_in_process(copy.path()).unwrap();
    tree_of(&copy.path().join("public"))
}

fn build_in_process(root: &Path) -> Result<sitegen::BuildReport, sitegen::Error> {
    let options = Options {
        root: root.to_path_buf(),
        write: true,
        ..Options::default()
    };
    sitegen::build(&options, &Quiet, &mut Resident::default())
}

/// One edit of the fixture site `basic`.
#[derive(Debug, Clone)]
enum Edit {
    Body(usize, String),
    Title(usize, String),
    Date(usize, u8),
    Add(String),
    Delete(usize),
    Rename(usize, String),
    Template(String),
    Static(String),
    SectionSort(bool),
    Config(String),
}

const PAGES: [&str; 4] = [
    "content/blog/second.md",
    "content/docs/a.md",
    "content/about.md",
    "content/blog/2024-01-01-first.md",
];

fn edit() -> impl Strategy<Value = Edit> {
    let word = "[a-z]{1,8}";
    prop_oneof![
        (0..PAGES.len(), word).prop_map(|(i, w)| Edit::Body(i, w)),
        (0..PAGES.len(), word).prop_map(|(i, w)| Edit::Title(i, w)),
        (0..PAGES.len(), 1..28u8).prop_map(|(i, d)| Edit::Date(i, d)),
        word.prop_map(Edit::Add),
        (0..PAGES.len()).prop_map(Edit::Delete),
        (0..PAGES.len(), word).prop_map(|(i, w)| Edit::Rename(i, w)),
        word.prop_map(Edit::Template),
        word.prop_map(Edit::Static),
        any::<bool>().prop_map(Edit::SectionSort),
        word.prop_map(Edit::Config),
    ]
}

/// Existing content pages, in a stable order.
fn pages_of(site: &SiteTest) -> Vec<String> {
    let mut pages: Vec<String> = walkdir::WalkDir::new(site.root().join("content"))
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_type().is_file()
                && e.file_name().to_string_lossy().ends_with(".md")
                && e.file_name() != "_index.md"
        })
        .map(|e| {
            e.path()
                .strip_prefix(site.root())
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    pages.sort();
    pages
}

fn apply(site: &SiteTest, edit: &Edit) {
    let pages = pages_of(site);
    let pick = |i: usize| pages.get(i % pages.len().max(1)).cloned();
    match edit {
        Edit::Body(i, w) => {
            if let Some(p) = pick(*i) {
                let text = std::fs::read_to_string(site.root().join(&p)).unwrap();
                site.write(&p, format!("{text}\n\nMore {w} text.\n"));
            }
        }
        Edit::Title(i, w) => {
            if let Some(p) = pick(*i) {
                let text = std::fs::read_to_string(site.root().join(&p)).unwrap();
                let text = text
                    .replacen("title = \"", &format!("title = \"{w} "), 1)
                    .replacen("title: ", &format!("title: {w} "), 1);
                site.write(&p, text);
            }
        }
        Edit::Date(i, d) => {
            if let Some(p) =
                pick(*i).filter(|p| p.starts_with("content/blog/") && p.ends_with(".md"))
            {
                let text = std::fs::read_to_string(site.root().join(&p)).unwrap();
                let without: String = text
                    .lines()
                    .filter(|l| !l.starts_with("date ="))
                    .flat_map(|l| [l, "\n"])
                    .collect();
                site.write(
                    &p,
                    without.replacen("+++\n", &format!("+++\ndate = 2023-05-{d:02}\n"), 1),
                );
            }
        }
        Edit::Add(w) => {
            site.write(&format!("content/blog/new-{w}.md"), format!("+++\ntitle = \"New {w}\"\ndate = 2022-02-02\n[taxonomies]\ntags = [\"{w}\"]\n+++\nNew {w}.\n"));
        }
        Edit::Delete(i) => {
            // Keep the pages other fixtures link to.
            if let Some(p) = pick(*i).filter(|p| !p.contains("second") && !p.contains("third")) {
                site.remove(&p);
            }
        }
        Edit::Rename(i, w) => {
            if let Some(p) = pick(*i).filter(|p| {
                !p.contains("second") && !p.contains("third") && !p.ends_with("index.md")
            }) {
                let text = std::fs::read(site.root().join(&p)).unwrap();
                site.remove(&p);
                let dir = Path::new(&p)
                    .parent()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                site.write(&format!("{dir}/renamed-{w}.md"), text);
            }
        }
        Edit::Template(w) => {
            let text = std::fs::read_to_string(site.root().join("templates/page.html")).unwrap();
            site.write(
                "templates/page.html",
                text.replacen("<article>", &format!("<article data-v=\"{w}\">"), 1),
            );
        }
        Edit::Static(w) => {
            site.write(
                "static/css/site.css",
                format!("body {{ color: black; }} /* {w} */\n"),
            );
        }
        Edit::SectionSort(by_title) => {
            let sort = if *by_title { "title" } else { "date" };
            site.write(
                "content/blog/_index.md",
                format!("+++\ntitle = \"Blog\"\nsort_by = \"{sort}\"\npaginate_by = 2\n+++\n"),
            );
        }
        Edit::Config(w) => {
            let text = std::fs::read_to_string(site.root().join("sitegen.toml")).unwrap();
            let text: String = text
                .lines()
                .filter(|l| !l.starts_with("author ="))
                .flat_map(|l| [l, "\n"])
                .collect();
            site.write("sitegen.toml", format!("{text}author = \"{w}\"\n"));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, max_shrink_iters: 20, ..ProptestConfig::default() })]

    /// After any sequence of edits, an incremental build equals a clean build of the same files.
    #[test]
    fn incremental_equals_clean(edits in proptest::collection::vec(edit(), 1..6)) {
        let site = SiteTest::fixture("basic");
        build_in_process(site.root()).unwrap();
        prop_assert_eq!(build_in_process(site.root()).unwrap().files_written, 0, "the state is used");
        for edit in &edits {
            apply(&site, edit);
            let incremental = build_in_process(site.root());
            prop_assert!(incremental.is_ok(), "{edit:?}: {:?}", incremental.err());
            prop_assert_eq!(site.tree(), clean_build_of(&site), "after {:?}", edit);
        }
    }
}

#[test]
fn a_no_op_build_writes_nothing_and_one_edit_rebuilds_its_dependents() {
    let site = SiteTest::fixture("basic");
    site.build().assert_ok();
    let noop = site.run(&["build", "--format", "json", "--explain"]).json();
    assert_eq!(noop["files_written"], 0, "{noop}");
    assert_eq!(noop["rebuilt"], serde_json::json!([]));

    site.write(
        "content/docs/b.md",
        std::fs::read_to_string(site.root().join("content/docs/b.md"))
            .unwrap()
            .replace("Beta ~~old~~", "Beta ~~older~~"),
    );
    let run = site.run(&["build", "--explain"]);
    run.assert_ok();
    assert!(
        run.stdout.contains("  docs/b/index.html: source changed"),
        "{}",
        run.stdout
    );
    assert!(
        !run.stdout.contains("blog/"),
        "nothing else: {}",
        run.stdout
    );
    assert!(site.read("docs/b/index.html").contains("<del>older</del>"));

    // A template used by one page rebuilds that page only.
    site.write("templates/about.html", "{% extends \"base.html\" %}{% block main %}<div class=\"about v2\">{{ page.content | safe }}</div>{% endblock main %}");
    let json = site.run(&["build", "--format", "json", "--explain"]).json();
    let rebuilt: Vec<&str> = json["rebuilt"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["file"].as_str().unwrap())
        .collect();
    assert_eq!(rebuilt, ["about-us/index.html"], "{json}");
    assert_eq!(
        json["rebuilt"][0]["reason"],
        "template `about.html` changed"
    );

    // A config value no template reads rebuilds nothing but what it affects.
    let text = std::fs::read_to_string(site.root().join("sitegen.toml")).unwrap();
    site.write(
        "sitegen.toml",
        text.replace(
            "generate_feeds = true",
            "generate_feeds = true\ngenerate_robots_txt = false",
        ),
    );
    let json = site.run(&["build", "--format", "json", "--explain"]).json();
    assert_eq!(json["files_written"], 0, "{json}");
    assert_eq!(json["outputs_removed"], 1);
    assert!(!site.exists("robots.txt"));

    // A value the base template reads rebuilds every page that extends it.
    let json = site
        .run(&["build", "--format", "json", "--set", "extra.author=\"Zed\""])
        .json();
    assert_eq!(json["pages_rendered"], 6, "{json}");
    assert!(site.read("index.html").contains("Zed"));

    // A template edit that changes no byte of output renders every page and writes no file.
    let base = std::fs::read_to_string(site.root().join("templates/base.html")).unwrap();
    site.write("templates/base.html", format!("{base}{{# a note #}}"));
    let json = site
        .run(&["build", "--format", "json", "--set", "extra.author=\"Zed\""])
        .json();
    assert_eq!(json["pages_rendered"], 6, "{json}");
    assert_eq!(json["files_written"], 0, "{json}");
}

#[test]
fn a_resident_state_is_used_only_while_no_other_build_committed() {
    let site = SiteTest::fixture("basic");
    let options = Options {
        root: site.root().to_path_buf(),
        write: true,
        ..Options::default()
    };
    let mut resident = Resident::default();
    let mut resident_build = || sitegen::build(&options, &Quiet, &mut resident).unwrap();
    let page = "content/docs/b.md";
    let original = std::fs::read_to_string(site.root().join(page)).unwrap();
    // Of the same length: the output's size alone cannot tell the two apart.
    let edited = original.replace("Beta ~~old~~", "Beta ~~new~~");
    assert_ne!(original, edited);
    resident_build();
    site.write(page, &edited);
    let report = resident_build();
    assert!(
        report.pages_rendered < report.pages,
        "incremental: {report:?}"
    );
    assert!(site.read("docs/b/index.html").contains("<del>new</del>"));

    // Another process builds the page back to its first text, then a second edit makes it
    // what the kept state last saw: that state is stale and must not be trusted.
    site.write(page, &original);
    build_in_process(site.root()).unwrap();
    assert!(!site.read("docs/b/index.html").contains("<del>new</del>"));
    site.write(page, &edited);
    resident_build();
    assert!(
        site.read("docs/b/index.html").contains("<del>new</del>"),
        "the page is rebuilt although the kept state had it so"
    );
    assert_eq!(site.tree(), clean_build_of(&site));
}

#[test]
fn a_watched_resident_state_sees_the_changes_it_is_told_without_walking() {
    let site = SiteTest::fixture("basic");
    let options = Options {
        root: site.root().to_path_buf(),
        write: true,
        ..Options::default()
    };
    let mut resident = Resident::watched();
    let build = |resident: &mut Resident| {
        sitegen::build(&options, &Quiet, resident).unwrap();
    };
    build(&mut resident);
    site.write(
        "content/blog/fourth.md",
        "+++\ntitle = \"Fourth\"\ndate = 2024-03-01\n+++\nA new page.\n",
    );
    resident.changed([Path::new("content/blog/fourth.md").to_path_buf()]);
    build(&mut resident);
    assert!(site.read("blog/fourth/index.html").contains("A new page."));

    // The preview serves these files while it builds: a changed one is replaced whole (a new
    // file renamed over it), never written in place where a reader could see it half written.
    let inode = |file: &str| {
        std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(site.output().join(file)).unwrap())
    };
    let before = inode("blog/fourth/index.html");
    site.write(
        "content/blog/fourth.md",
        "+++\ntitle = \"Fourth\"\ndate = 2024-03-01\n+++\nAn edited page.\n",
    );
    resident.changed([Path::new("content/blog/fourth.md").to_path_buf()]);
    build(&mut resident);
    assert!(
        site.read("blog/fourth/index.html")
            .contains("An edited page.")
    );
    assert_ne!(
        inode("blog/fourth/index.html"),
        before,
        "replaced, not written in place"
    );

    site.remove("content/docs/b.md");
    site.write("static/extra.txt", "extra");
    resident.changed(["content/docs/b.md", "static"].map(std::path::PathBuf::from));
    build(&mut resident);
    assert!(!site.exists("docs/b/index.html"));
    assert_eq!(site.read("extra.txt"), "extra");
    assert_eq!(site.tree(), clean_build_of(&site));
}

#[test]
fn removed_pages_disappear_with_their_listings_and_feeds() {
    let site = SiteTest::fixture("basic");
    site.build().assert_ok();
    assert!(site.read("atom.xml").contains("blog/first/"));
    site.remove("content/blog/2024-01-01-first.md");
    let json = site.run(&["build", "--format", "json"]).json();
    assert!(json["outputs_removed"].as_u64().unwrap() >= 1, "{json}");
    assert!(!site.exists("blog/first/index.html"));
    assert!(!site.exists("blog/first"), "its folder is pruned");
    assert!(!site.read("atom.xml").contains("blog/first/"));
    assert!(!site.read("sitemap.xml").contains("blog/first/"));
    assert!(!site.exists("blog/page/2/index.html"), "pagination follows");
    assert_eq!(site.tree(), clean_build_of(&site));
}

#[test]
fn a_deleted_output_file_is_rebuilt() {
    let site = SiteTest::fixture("basic");
    site.build().assert_ok();
    std::fs::remove_file(site.output().join("docs/b/index.html")).unwrap();
    let run = site.run(&["build", "--explain"]);
    run.assert_ok();
    assert!(
        run.stdout.contains("docs/b/index.html: output missing"),
        "{}",
        run.stdout
    );
    assert_eq!(site.tree(), clean_build_of(&site));
}

#[test]
fn corrupt_or_foreign_state_means_a_full_build() {
    let site = SiteTest::fixture("basic");
    site.build().assert_ok();
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(site.root().join(format!(".sitegen/state.sqlite{suffix}")));
    }
    std::fs::write(
        site.root().join(".sitegen/state.sqlite"),
        b"not a database, not a manifest",
    )
    .unwrap();
    let json = site.run(&["build", "--format", "json"]).json();
    assert_eq!(json["files_written"], 26, "{json}");
    assert_eq!(site.tree(), clean_build_of(&site));
    assert!(
        std::fs::read_to_string(site.root().join(".sitegen/.gitignore"))
            .unwrap()
            .contains('*')
    );
}

/// A site big enough that a build takes a while in a debug binary.
fn big_site(pages: usize) -> SiteTest {
    let site = SiteTest::fixture("basic");
    for i in 0..pages {
        let body = "Some words in a paragraph. ".repeat(40);
        site.write(
            &format!("content/bulk/p{i:04}.md"),
            format!(
                "+++\ntitle = \"Bulk {i}\"\ndate = 2020-01-{:02}\n+++\n## Part\n\n{body}\n",
                1 + i % 28
            ),
        );
    }
    site.write(
        "content/bulk/_index.md",
        "+++\ntitle = \"Bulk\"\nsort_by = \"date\"\n+++\n",
    );
    site
}

#[test]
fn a_build_killed_at_any_moment_is_repaired_by_the_next() {
    let site = big_site(400);
    let started = Instant::now();
    site.run(&["build", "--quiet", "--full"]).assert_ok();
    let full = started.elapsed();
    // Kill points spread over the build, deterministic.
    for (n, fraction) in [0.05, 0.3, 0.55, 0.8, 0.95, 1.1].into_iter().enumerate() {
        // Alternate full and incremental builds being killed.
        if n % 2 == 1 {
            site.write(
                &format!("content/bulk/p{:04}.md", n * 7),
                format!("+++\ntitle = \"Edited {n}\"\n+++\nEdited.\n"),
            );
        }
        let args: &[&str] = if n % 2 == 0 {
            &["build", "--quiet", "--full"]
        } else {
            &["build", "--quiet"]
        };
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sitegen"))
            .args(args)
            .current_dir(site.root())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(full.mul_f64(fraction));
        let _ = child.kill();
        let _ = child.wait();
        let run = site.run(&["build", "--quiet"]);
        run.assert_ok();
        assert_eq!(
            site.tree(),
            clean_build_of(&site),
            "after a kill at {fraction} of a build"
        );
    }
}

#[test]
fn a_file_torn_by_a_killed_commit_is_written_again() {
    // An incremental build writes changed files over their old copies; killed in the middle
    // of one, it leaves it torn (its old size, mixed bytes) and the journal naming it. The
    // size alone would pass the file as intact: the journal is what has it written again.
    let site = big_site(20);
    site.build().assert_ok();
    let file = "bulk/p0003/index.html";
    let good = site.read(file);
    let mut torn = good.clone().into_bytes();
    let half = torn.len() / 2;
    torn[half..].fill(b'#');
    std::fs::write(site.root().join("public").join(file), &torn).unwrap();
    std::fs::write(site.root().join(".sitegen/pending"), format!("{file}\n")).unwrap();

    let json = site.run(&["build", "--format", "json", "--explain"]).json();
    let rebuilt = json["rebuilt"].as_array().unwrap();
    assert!(
        rebuilt
            .iter()
            .any(|r| r["file"] == file && r["reason"] == "previous build was interrupted"),
        "{json}"
    );
    assert_eq!(site.read(file), good);
    assert!(!site.root().join(".sitegen/pending").exists());
    assert_eq!(site.tree(), clean_build_of(&site));
}

#[test]
fn rebuild_builds_only_past_the_threshold_or_the_max_age() {
    let site = big_site(16);
    site.build().assert_ok();
    // 22 pages in all; one changed is 4.5%.
    site.write(
        "content/bulk/p0001.md",
        "+++\ntitle = \"Changed\"\n+++\nChanged.\n",
    );
    let run = site.run(&["rebuild", "--threshold", "5%"]);
    run.assert_ok();
    assert_eq!(run.stdout.trim(), "skipped: 4.5% changed (< 5%)");
    assert!(
        !site.read("bulk/p0001/index.html").contains("Changed"),
        "nothing was written"
    );

    let json = site
        .run(&["rebuild", "--threshold", "5%", "--format", "json"])
        .json();
    assert_eq!(json["decision"], "skipped");
    assert!(
        (json["changed_fraction"].as_f64().unwrap() - 1.0 / 22.0).abs() < 1e-9,
        "{json}"
    );

    // At the threshold exactly: built.
    let run = site.run(&["rebuild", "--threshold", &format!("{}", 1.0 / 22.0)]);
    run.assert_ok();
    assert!(
        run.stdout.starts_with("built: 4.5% changed"),
        "{}",
        run.stdout
    );
    assert!(site.read("bulk/p0001/index.html").contains("Changed"));

    // Nothing changed, but the last build is older than the max age.
    site.run(&["rebuild", "--threshold", "5%", "--max-age", "1h"])
        .assert_ok();
    let stamp = site.root().join(".sitegen/last-build");
    let old = std::fs::read_to_string(&stamp)
        .unwrap()
        .trim()
        .parse::<i64>()
        .unwrap()
        - 7200;
    std::fs::write(&stamp, format!("{old}\n")).unwrap();
    let json = site
        .run(&[
            "rebuild",
            "--threshold",
            "5%",
            "--max-age",
            "1h",
            "--format",
            "json",
        ])
        .json();
    assert_eq!(json["decision"], "built", "{json}");
    assert!(
        json["reason"].as_str().unwrap().contains("max age"),
        "{json}"
    );
    let json = site
        .run(&[
            "rebuild",
            "--threshold",
            "5%",
            "--max-age",
            "1h",
            "--format",
            "json",
        ])
        .json();
    assert_eq!(
        json["decision"], "skipped",
        "the max-age build reset the clock: {json}"
    );

    // A template change counts as the pages it affects.
    let text = std::fs::read_to_string(site.root().join("templates/page.html")).unwrap();
    site.write(
        "templates/page.html",
        text.replace("<article>", "<article class=\"v2\">"),
    );
    let json = site
        .run(&["rebuild", "--threshold", "50%", "--format", "json"])
        .json();
    assert_eq!(json["decision"], "built", "{json}");
    assert!(
        (json["changed_fraction"].as_f64().unwrap() - 21.0 / 22.0).abs() < 1e-9,
        "all but the about page: {json}"
    );
}

#[test]
fn two_builds_never_run_at_once() {
    let site = SiteTest::fixture("basic");
    site.build().assert_ok();
    let state = site.root().join(".sitegen");
    let held = sitegen::state::lock::acquire(&state, "serve", false).unwrap();
    let run = site.build();
    run.assert_code(2);
    assert!(
        run.stderr.contains(&format!("pid {}", std::process::id())),
        "{}",
        run.stderr
    );

    // --wait waits for the holder.
    let root = site.root().to_path_buf();
    let waiter = std::thread::spawn(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_sitegen"))
            .args(["build", "--quiet", "--wait"])
            .current_dir(root)
            .output()
            .unwrap()
    });
    std::thread::sleep(Duration::from_millis(400));
    assert!(!waiter.is_finished(), "the second build waits");
    drop(held);
    let out = waiter.join().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A lock file left by a dead process is taken over.
    std::fs::write(state.join("lock"), "4194305 build\n").unwrap();
    site.build().assert_ok();
}

#[test]
fn schedule_runs_ticks_until_stopped() {
    let site = SiteTest::fixture("basic");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sitegen"))
        .args(["schedule", "--cron", "* * * * * *", "--threshold", "5%"])
        .current_dir(site.root())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !site.exists("index.html") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(1500));
    let status = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let started = Instant::now();
    let out = loop {
        if child.try_wait().unwrap().is_some() {
            break child.wait_with_output().unwrap();
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "schedule did not stop"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("built (no previous build") || stdout.contains("built ("),
        "{stdout}"
    );
    assert!(stdout.contains("skipped: 0% changed (< 5%)"), "{stdout}");
    assert!(stdout.trim_end().ends_with("stopping"), "{stdout}");
    assert!(site.exists("index.html"));
}

#[test]
fn listings_that_show_content_follow_body_edits_and_the_others_do_not() {
    let site = SiteTest::fixture("zola-listed-content");
    site.build().assert_ok();
    assert!(site.read("index.html").contains("The first post"));

    // The home page shows the blog's pages' content: a body edit reaches it, and the blog's
    // pager that lists the page, and not the pager that does not.
    let first = "content/blog/first.md";
    let text = std::fs::read_to_string(site.root().join(first)).unwrap();
    site.write(first, text.replace("The first post", "The opening post"));
    let json = site.run(&["build", "--format", "json", "--explain"]).json();
    assert!(
        site.read("index.html").contains("The opening post"),
        "{json}"
    );
    assert!(
        site.read("blog/page/2/index.html")
            .contains("The opening post")
    );
    assert!(!site.read("blog/index.html").contains("opening"));
    let incremental = tree_of(&site.output());
    assert_eq!(incremental, clean_build_of(&site));
    assert!(
        json["pages_rendered"].as_u64().unwrap() < json["pages"].as_u64().unwrap(),
        "{json}"
    );

    // A shortcode's template is part of every listed body.
    site.write(
        "templates/shortcodes/note.html",
        "<em class=\"note\">{{ text }}</em>",
    );
    site.build().assert_ok();
    assert!(
        site.read("index.html")
            .contains("<em class=\"note\">shortcode</em>")
    );
    assert_eq!(tree_of(&site.output()), clean_build_of(&site));
}
