//! Broken sites: each folder of `tests/fixtures/errors/` (but `_base`) is laid over the good
//! site `_base` after it was built once. The build must fail with the exit code and the messages
//! of the folder's `expected.txt` and leave the previous output byte for byte as it was.
//! A `REMOVE` file lists paths to delete from the base. `SITEGEN_BLESS=1` rewrites the
//! expectations after an intended change; review the diff like code.

use std::path::Path;

use crate::support::{SiteTest, copy_tree, fixtures};

fn cases() -> Vec<String> {
    let mut cases: Vec<String> = std::fs::read_dir(fixtures().join("errors"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name != "_base")
        .collect();
    cases.sort();
    cases
}

fn apply(case_dir: &Path, site: &SiteTest) {
    for entry in std::fs::read_dir(case_dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        match name.as_str() {
            "expected.txt" => {}
            "REMOVE" => {
                for path in std::fs::read_to_string(entry.path())
                    .unwrap()
                    .lines()
                    .filter(|l| !l.is_empty())
                {
                    site.remove(path);
                }
            }
            _ if entry.file_type().unwrap().is_dir() => {
                copy_tree(&entry.path(), &site.root().join(&name));
            }
            _ => {
                std::fs::copy(entry.path(), site.root().join(&name)).unwrap();
            }
        }
    }
}

#[test]
fn every_broken_site_fails_clearly_and_keeps_the_previous_output() {
    let bless = std::env::var_os("SITEGEN_BLESS").is_some();
    let mut failures = Vec::new();
    for case in cases() {
        let case_dir = fixtures().join("errors").join(&case);
        let site = SiteTest::fixture("errors/_base");
        site.build().assert_ok();
        let before = site.tree();
        assert!(
            before.contains_key("blog/a/index.html"),
            "the base site builds"
        );

        apply(&case_dir, &site);
        let run = site.build();
        let actual = format!("exit: {}\n{}", run.code, run.stderr);
        let expected_file = case_dir.join("expected.txt");
        if bless {
            std::fs::write(&expected_file, &actual).unwrap();
        }
        let expected = std::fs::read_to_string(&expected_file).unwrap_or_default();
        if actual != expected {
            failures.push(format!(
                "{case}: stderr differs\n--- expected\n{expected}\n--- actual\n{actual}"
            ));
        }
        if run.code == 0 {
            failures.push(format!("{case}: the build succeeded"));
        }
        if site.tree() != before {
            failures.push(format!("{case}: the previous output changed"));
        }
        if run.stderr.contains(&*site.root().to_string_lossy()) {
            failures.push(format!(
                "{case}: messages show the temporary folder instead of site-relative paths"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn check_lists_the_same_problems_and_writes_nothing() {
    let site = SiteTest::fixture("errors/_base");
    apply(&fixtures().join("errors/many-errors"), &site);
    site.check()
        .assert_code(1)
        .assert_stderr_contains("content/blog/c.md:3:9")
        .assert_stderr_contains("content/blog/e.md:3:8\n");
    // Problems found while rendering are listed together too.
    let site = SiteTest::fixture("errors/_base");
    site.write(
        "content/blog/c.md",
        "+++\ntitle = \"C\"\n+++\n[x](@/nowhere.md)\n",
    );
    site.write(
        "content/blog/d.md",
        "+++\ntitle = \"D\"\n+++\n\nSee [y](@/blog/b.md#missing).\n",
    );
    site.check()
        .assert_code(1)
        .assert_stderr_contains("content/blog/c.md:4:1")
        .assert_stderr_contains("content/blog/d.md:5:5")
        .assert_stderr_contains("the headings of `blog/b.md` have the ids: part");
    assert!(!site.output().exists(), "check writes nothing");
}

#[test]
fn json_output_lists_errors_with_locations() {
    let site = SiteTest::fixture("errors/_base");
    apply(&fixtures().join("errors/bad-date"), &site);
    let run = site.run(&["build", "--format", "json"]);
    run.assert_code(1);
    let json = run.json();
    let error = &json["errors"][0];
    assert_eq!(error["file"], "content/blog/c.md");
    assert_eq!(error["line"], 3);
    assert!(
        error["message"].as_str().unwrap().contains("2024-13-45"),
        "{json}"
    );
}
