//! Conformance with Zola: every case of `tests/conformance/` built by sitegen, compared with the
//! output Zola 0.22 wrote for it.
//!
//! A case is a folder: `site/` (a small Zola site), `expected/` (what `zola build` wrote for it,
//! committed verbatim, so CI needs no Zola), `README.md` (the Zola documentation page it covers
//! and the Zola version that wrote `expected/`) and, optionally, `differences.toml`: the files
//! allowed to differ, each with its reason (an image listed with `compare = "dimensions"` must
//! still have Zola's format and size). Every expected file must be written by sitegen and
//! be equal to Zola's, HTML and XML compared after whitespace between tags is dropped and runs
//! of whitespace are collapsed (Zola and tera are not byte-stable there, browsers ignore it). A
//! difference that no longer differs is reported too, so the list stays true.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::support::{SiteTest, copy_tree, tree_of};

/// The cases' folder.
fn cases() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance")
}

#[derive(serde::Deserialize)]
struct Differences {
    #[serde(default)]
    difference: Vec<Difference>,
}

#[derive(serde::Deserialize)]
struct Difference {
    path: String,
    reason: String,
    /// `"dimensions"`: an image whose bytes may differ (another encoder or resampler), compared
    /// by its format and decoded size instead. By default a listed file is not compared.
    #[serde(default)]
    compare: Option<String>,
}

/// An image's format and size, read from its header (AVIF too).
fn dimensions(bytes: &[u8]) -> Option<(String, usize, usize)> {
    let kind = imagesize::image_type(bytes).ok()?;
    let size = imagesize::blob_size(bytes).ok()?;
    Some((format!("{kind:?}"), size.width, size.height))
}

/// A feed's `<generator>` names the program that wrote it: the one element where sitegen is
/// meant to differ, compared as if sitegen's said Zola.
const GENERATORS: [(&str, &str); 2] = [
    (
        r#"<generator uri="https://github.com/sitegen/sitegen">sitegen</generator>"#,
        r#"<generator uri="https://www.getzola.org/">Zola</generator>"#,
    ),
    (
        "<generator>sitegen</generator>",
        "<generator>Zola</generator>",
    ),
];

/// The text compared: markup with its insignificant whitespace removed; other files as they are.
fn normalized(path: &str, bytes: &[u8]) -> Vec<u8> {
    let markup = [".html", ".htm", ".xml"].iter().any(|e| path.ends_with(e));
    let Ok(text) = std::str::from_utf8(bytes) else {
        return bytes.to_vec();
    };
    if !markup {
        return bytes.to_vec();
    }
    let mut text = text.to_owned();
    for (ours, zolas) in GENERATORS {
        text = text.replace(ours, zolas);
    }
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for c in text.chars() {
        if c.is_whitespace() {
            space = true;
            continue;
        }
        // Whitespace between two tags only separates them; elsewhere it is one space.
        if space && !(c == '<' && out.ends_with('>')) && !out.is_empty() {
            out.push(' ');
        }
        space = false;
        out.push(c);
    }
    out.into_bytes()
}

/// Where two texts first differ, with some context of each.
fn first_difference(expected: &[u8], actual: &[u8]) -> String {
    let at = expected
        .iter()
        .zip(actual)
        .position(|(a, b)| a != b)
        .unwrap_or(expected.len().min(actual.len()));
    let window = |bytes: &[u8]| {
        let start = at.saturating_sub(80);
        let end = (at + 120).min(bytes.len());
        String::from_utf8_lossy(&bytes[start..end]).into_owned()
    };
    format!(
        "      at byte {at}\n      zola:    {}\n      sitegen: {}",
        window(expected),
        window(actual)
    )
}

/// The problems of one case: an empty list when sitegen writes what Zola wrote.
fn check_case(dir: &Path) -> Vec<String> {
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    let mut problems = Vec::new();
    for required in ["site", "expected", "README.md"] {
        if !dir.join(required).exists() {
            problems.push(format!("{name}: {required} is missing"));
        }
    }
    if !problems.is_empty() {
        return problems;
    }
    let allowed: BTreeMap<String, Difference> =
        match std::fs::read_to_string(dir.join("differences.toml")) {
            Ok(text) => toml::from_str::<Differences>(&text)
                .unwrap_or_else(|e| panic!("{name}/differences.toml: {e}"))
                .difference
                .into_iter()
                .map(|d| {
                    assert!(
                        !d.reason.trim().is_empty(),
                        "{name}: {} has no reason",
                        d.path
                    );
                    (d.path.clone(), d)
                })
                .collect(),
            Err(_) => BTreeMap::new(),
        };

    let site = SiteTest::empty();
    copy_tree(&dir.join("site"), site.root());
    let run = site.run(&["build", "--quiet"]);
    if run.code != 0 {
        problems.push(format!("{name}: sitegen build failed:\n{}", run.stderr));
        return problems;
    }
    let expected = tree_of(&dir.join("expected"));
    let actual = site.tree();
    for (path, want) in &expected {
        let same = actual
            .get(path)
            .is_some_and(|got| normalized(path, got) == normalized(path, want));
        if let Some(difference) = allowed.get(path)
            && difference.compare.as_deref() == Some("dimensions")
        {
            let got = actual.get(path).map(|got| dimensions(got));
            match got {
                None => problems.push(format!("{name}: {path}: written by Zola, not by sitegen")),
                Some(got) if got != dimensions(want) || got.is_none() => problems.push(format!(
                    "{name}: {path}: format and size {got:?}, Zola's {:?}",
                    dimensions(want)
                )),
                Some(_) if same => problems.push(format!(
                    "{name}: {path} is listed in differences.toml but equals Zola's: remove it"
                )),
                Some(_) => {}
            }
            continue;
        }
        match (same, allowed.contains_key(path)) {
            (true, true) => problems.push(format!(
                "{name}: {path} is listed in differences.toml but equals Zola's: remove it"
            )),
            (false, false) => match actual.get(path) {
                None => problems.push(format!("{name}: {path}: written by Zola, not by sitegen")),
                Some(got) => problems.push(format!(
                    "{name}: {path} differs from Zola's\n{}",
                    first_difference(&normalized(path, want), &normalized(path, got))
                )),
            },
            _ => {}
        }
    }
    for path in actual.keys() {
        if !expected.contains_key(path) && !allowed.contains_key(path) {
            problems.push(format!("{name}: {path}: written by sitegen, not by Zola"));
        }
    }
    for path in allowed.keys() {
        if !expected.contains_key(path) && !actual.contains_key(path) {
            problems.push(format!(
                "{name}: {path} is listed in differences.toml but neither writes it"
            ));
        }
    }
    problems
}

#[test]
fn every_case_matches_zolas_output() {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(cases())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(!dirs.is_empty(), "no conformance cases");
    let mut report = String::new();
    for dir in &dirs {
        for problem in check_case(dir) {
            let _ = writeln!(report, "{problem}");
        }
    }
    assert!(
        report.is_empty(),
        "sitegen differs from Zola 0.22 ({} cases):\n{report}",
        dirs.len()
    );
}

#[test]
fn normalization_keeps_text_but_not_layout() {
    let a = normalized("a.html", b"<p>\n  one   two\n</p>\n<p>x</p>");
    let b = normalized("a.html", b"<p> one two </p><p>x</p>");
    assert_eq!(a, b);
    // Whitespace inside text still separates words.
    assert_ne!(
        normalized("a.html", b"<p>one two</p>"),
        normalized("a.html", b"<p>onetwo</p>")
    );
    // Only the generator's name is taken as equal.
    assert_eq!(
        normalized("atom.xml", b"<generator>sitegen</generator>"),
        normalized("atom.xml", b"<generator>Zola</generator>")
    );
    // Other files compare byte for byte.
    assert_ne!(normalized("a.css", b"a  b"), normalized("a.css", b"a b"));
}
