//! Snapshots of whole output trees, compared with `tests/snapshots/NAME.txt`.
//!
//! A snapshot is one text: every output file by sorted path, a header line
//! `== PATH (N bytes)` followed by the file's text for text files, or the single line
//! `== PATH (N bytes, blake3 HEX)` for binaries (and for every file in [`Detail::Hashes`]). The
//! byte count makes it unambiguous: a text without a final newline gets one in the snapshot.
//! Nothing is filtered: a byte that differs between builds is a bug to fix, not to hide.
//! `SITEGEN_BLESS=1` writes the snapshot instead of comparing; review its diff like code.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// How much of each file a snapshot holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Detail {
    /// Text files in full, binaries as their size and hash.
    Full,
    /// Every file as its size and hash: for sites too large to read in a diff.
    Hashes,
}

/// Extensions of the files shown as text (when they are UTF-8); files without one
/// (`_headers`, `_redirects`, `.assetsignore`) too.
const TEXT: &str = "html htm xml txt css js mjs ts json jsonc toml svg md csv webmanifest";

fn text_of<'a>(path: &str, bytes: &'a [u8]) -> Option<&'a str> {
    let extension = Path::new(path).extension().map(|e| e.to_string_lossy());
    let texty = extension.is_none_or(|e| TEXT.split(' ').any(|t| e.eq_ignore_ascii_case(t)));
    texty.then(|| std::str::from_utf8(bytes).ok()).flatten()
}

/// The snapshot of a tree (relative path → bytes, as `support::tree_of` gives it).
pub(crate) fn render(tree: &BTreeMap<String, Vec<u8>>, detail: Detail) -> String {
    let mut out = String::new();
    for (path, bytes) in tree {
        if let Some(text) = text_of(path, bytes).filter(|_| detail == Detail::Full) {
            let _ = writeln!(out, "== {path} ({} bytes)", bytes.len());
            out.push_str(text);
            if !text.is_empty() && !text.ends_with('\n') {
                out.push('\n');
            }
        } else {
            let hash = blake3::hash(bytes).to_hex();
            let _ = writeln!(out, "== {path} ({} bytes, blake3 {hash})", bytes.len());
        }
    }
    out
}

/// `tests/snapshots/NAME.txt`.
pub(crate) fn file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/snapshots/{name}.txt"))
}

/// Compares `actual` with the snapshot `name`, or writes it under `SITEGEN_BLESS=1`.
#[track_caller]
pub(crate) fn assert_snapshot(name: &str, actual: &str) {
    let file = file(name);
    let expected = std::fs::read_to_string(&file).ok();
    if std::env::var_os("SITEGEN_BLESS").is_some() {
        if expected.as_deref() != Some(actual) {
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(&file, actual).unwrap();
        }
        return;
    }
    let how = "if the change is intended, run `SITEGEN_BLESS=1 cargo test --test it snapshots` \
               and review the diff of tests/snapshots/ like code";
    let Some(expected) = expected else {
        panic!("no snapshot {}: {how}", file.display());
    };
    assert!(
        expected == actual,
        "the output differs from {}:\n{}\n{how}",
        file.display(),
        differences(&expected, actual)
    );
}

/// The files of a snapshot: path → (header, text), read back with the byte counts.
fn files(snapshot: &str) -> Option<BTreeMap<&str, (&str, &str)>> {
    let mut files = BTreeMap::new();
    let mut rest = snapshot;
    while !rest.is_empty() {
        let (header, after) = rest.split_once('\n')?;
        let (path, meta) = header.strip_prefix("== ")?.rsplit_once(" (")?;
        let (text, after) = match meta.strip_suffix(" bytes)") {
            Some(n) => {
                let n: usize = n.parse().ok()?;
                let text = after.get(..n)?;
                let after = &after[n..];
                let added = !text.is_empty() && !text.ends_with('\n');
                (
                    text,
                    if added {
                        after.strip_prefix('\n')?
                    } else {
                        after
                    },
                )
            }
            None => ("", after),
        };
        files.insert(path, (header, text));
        rest = after;
    }
    Some(files)
}

/// What differs, file by file: files added and removed, and for each changed file its first
/// differing line with a little context.
fn differences(expected: &str, actual: &str) -> String {
    let (Some(old), Some(new)) = (files(expected), files(actual)) else {
        return first_difference("the snapshot", expected, actual);
    };
    let mut out = String::new();
    for path in old.keys().filter(|p| !new.contains_key(*p)) {
        let _ = writeln!(out, "removed: {path}");
    }
    for path in new.keys().filter(|p| !old.contains_key(*p)) {
        let _ = writeln!(out, "added:   {path}");
    }
    let changed: Vec<_> = old
        .iter()
        .filter_map(|(path, before)| Some((path, before, new.get(path)?)))
        .filter(|(_, before, after)| before != after)
        .collect();
    for (shown, (path, before, after)) in changed.iter().enumerate() {
        if shown == 8 {
            let _ = writeln!(out, "… and {} more changed files", changed.len() - shown);
            break;
        }
        let _ = writeln!(out, "changed: {path}");
        if before.1 == after.1 {
            let _ = writeln!(out, "  - {}\n  + {}", before.0, after.0);
        } else {
            out.push_str(&first_difference(path, before.1, after.1));
        }
    }
    out
}

/// The first line where `expected` and `actual` differ, with two lines before and three after.
pub(crate) fn first_difference(what: &str, expected: &str, actual: &str) -> String {
    let old: Vec<&str> = expected.lines().collect();
    let new: Vec<&str> = actual.lines().collect();
    let at = old.iter().zip(&new).take_while(|(a, b)| a == b).count();
    let mut out = format!("  {what}, line {}:\n", at + 1);
    for (n, line) in old.iter().enumerate().take(at).skip(at.saturating_sub(2)) {
        let _ = writeln!(out, "    {:>5} | {}", n + 1, clip(line, 0));
    }
    let column = |a: &str, b: &str| a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count();
    let col = column(old.get(at).unwrap_or(&""), new.get(at).unwrap_or(&""));
    for (sign, lines) in [('-', &old), ('+', &new)] {
        for (n, line) in lines.iter().enumerate().skip(at).take(3) {
            let _ = writeln!(out, "  {sign} {:>5} | {}", n + 1, clip(line, col));
        }
        if lines.len() <= at {
            let _ = writeln!(out, "  {sign}       | (end of file)");
        }
    }
    out
}

/// A long line cut around the character `col` (minified HTML, JSON indexes are one line).
fn clip(line: &str, col: usize) -> String {
    let chars: Vec<char> = line.chars().collect();
    if chars.len() <= 160 {
        return line.to_owned();
    }
    let start = col.saturating_sub(60);
    let end = (start + 160).min(chars.len());
    let cut: String = chars[start..end].iter().collect();
    let before = if start > 0 { "…" } else { "" };
    let after = if end < chars.len() { "…" } else { "" };
    format!("{before}{cut}{after} (column {})", col + 1)
}

#[test]
fn renders_text_in_full_and_binaries_as_hashes_and_reads_itself_back() {
    let tree = BTreeMap::from([
        ("a.html".to_owned(), b"<p>a</p>".to_vec()),
        ("b.png".to_owned(), vec![0x89, b'P', b'N', b'G']),
        ("c/_headers".to_owned(), b"/*\n  X: y\n".to_vec()),
        ("d.txt".to_owned(), Vec::new()),
    ]);
    let text = render(&tree, Detail::Full);
    assert!(text.starts_with("== a.html (8 bytes)\n<p>a</p>\n== b.png (4 bytes, blake3 "));
    assert!(text.ends_with("== c/_headers (10 bytes)\n/*\n  X: y\n== d.txt (0 bytes)\n"));
    let files = files(&text).unwrap();
    assert_eq!(files.len(), 4);
    assert_eq!(files["a.html"].1, "<p>a</p>");
    let mut changed = tree.clone();
    changed.insert("a.html".to_owned(), b"<p>b</p>".to_vec());
    changed.remove("d.txt");
    let diff = differences(&text, &render(&changed, Detail::Full));
    assert!(diff.contains("removed: d.txt"), "{diff}");
    assert!(
        diff.contains(
            "changed: a.html\n  a.html, line 1:\n  -     1 | <p>a</p>\n  +     1 | <p>b</p>"
        ),
        "{diff}"
    );
    assert!(
        render(&tree, Detail::Hashes)
            .lines()
            .all(|l| l.contains("blake3"))
    );
}
