//! Reading source files, with the previous build's parse reused when a file did not change.
//!
//! Every file the build reads (content, static files, bundle assets) is known by its path
//! relative to the site's root. The previous build left, for each, its stat (size and mtime)
//! and what was made of it: the parse of a markdown file, or the hash of any other. A file whose
//! stat is unchanged is not read again; one whose stat changed is read and hashed, and parsed
//! only when its bytes changed. This is what lets a no-op rebuild of 10,000 pages skip reading
//! them. The cache is data derived from the files: losing it only costs time.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::diagnostics::Diagnostic;
use crate::hash::ContentHash;
use crate::load::front_matter::{self, Split};
use crate::markdown;
use crate::site::front_matter::{PageFrontMatter, SectionFrontMatter};
use crate::value::IgnoredKey;

/// A file's size and modification time, compared to decide whether to read it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stat {
    /// Bytes.
    pub size: u64,
    /// Modification time, nanoseconds since the epoch.
    pub mtime_ns: i128,
}

impl Stat {
    /// The stat of `metadata`.
    pub(crate) fn of(metadata: &std::fs::Metadata) -> Self {
        let mtime_ns = metadata
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| i128::try_from(d.as_nanos()).unwrap_or(i128::MAX));
        Self {
            size: metadata.len(),
            mtime_ns,
        }
    }
}

/// A markdown file as parsed: all later builds need of it without reading it again.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Parsed<T> {
    /// Path relative to content/, with `/`.
    pub relative: String,
    /// The front matter.
    pub meta: Arc<T>,
    /// Where the body starts.
    pub body_offset: usize,
    /// The body's length.
    pub body_len: usize,
    /// Hash of the whole file.
    pub hash: ContentHash,
    /// Words in the body.
    pub word_count: usize,
    /// Markdown before `<!-- more -->`.
    pub summary_source: Option<String>,
    /// Whether the marker cut a block open (see `markdown::SummarySource`).
    pub summary_open: bool,
    /// Content paths this file links to with an anchor (`@/a.md#part`).
    pub anchor_targets: Vec<String>,
    /// Content paths this file links to (`@/a.md`).
    pub links: Vec<String>,
    /// Hash of the front matter's text.
    pub front_matter_hash: ContentHash,
    /// Where the keys that later checks point at are.
    pub spans: KeySpans,
    /// Front matter keys no field reads (Zola ignores them), each warned about on every
    /// build; offsets are in the file.
    pub ignored: Vec<IgnoredKey>,
}

/// Where, in its file, the front matter keys are that checks made after parsing point at: a
/// page's or section's `template` (which must exist) and its taxonomies' names (which the
/// config must declare). Byte offsets, taken while the front matter was parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeySpans {
    /// The value of `template`.
    pub(crate) template: Option<u32>,
    /// The name of each taxonomy, in the order of the front matter's `taxonomies`.
    pub(crate) taxonomies: Box<[Option<u32>]>,
}

/// A problem of a front matter value, found while it was parsed: the key at fault and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyProblem {
    /// The key (`date`, `taxonomies.tags`).
    pub(crate) key: String,
    /// What is wrong.
    pub(crate) message: String,
    /// What to do.
    pub(crate) help: String,
}

/// A kind of front matter (a page's, a section's): what is checked while it is parsed, and what
/// is located for the checks made later.
pub(crate) trait FrontMatter: DeserializeOwned + Default {
    /// Checks the values whose validity needs nothing but the file (dates, slugs, paths) of
    /// the file at content path `relative`.
    fn check(&self, relative: &str) -> Result<(), KeyProblem>;

    /// The spans later checks point at, given where in the file each key (`at`) and its value
    /// (`value_at`) is.
    fn spans(
        &self,
        at: &dyn Fn(&str) -> Option<u32>,
        value_at: &dyn Fn(&str) -> Option<u32>,
    ) -> KeySpans;
}

impl<T> Parsed<T> {
    /// One warning per front matter key that no field reads, naming the key and its line.
    pub(crate) fn ignored_key_warnings(&self, root: &Path) -> Vec<Diagnostic> {
        if self.ignored.is_empty() {
            return Vec::new();
        }
        let display = Path::new("content").join(&self.relative);
        let text = std::fs::read_to_string(root.join(&display)).unwrap_or_default();
        self.ignored
            .iter()
            .map(|key| {
                let message = match key.table() {
                    Some(table) => format!(
                        "unknown key `{}` in the front matter's `{table}` is ignored",
                        key.name()
                    ),
                    None => format!("unknown front matter key `{}` is ignored", key.name()),
                };
                let d = Diagnostic::warning(message);
                match key.offset {
                    Some(at) => d.at_offset(&display, &text, at as usize),
                    None => d.at(&display, &text, 1, None),
                }
                .with_help(
                    "Zola ignores it too; remove it, or move it under `[extra]` to use it in templates",
                )
            })
            .collect()
    }

    /// A problem at byte `offset` of the file (its first line when unknown). The file is read
    /// again only to show the line: problems are rare, and the cache stays small without it.
    pub(crate) fn at(&self, root: &Path, offset: Option<u32>, message: String) -> Diagnostic {
        let display = Path::new("content").join(&self.relative);
        let text = std::fs::read_to_string(root.join(&display)).unwrap_or_default();
        let d = Diagnostic::error(message);
        match offset {
            Some(at) => d.at_offset(display, &text, at as usize),
            None => d.at(display, &text, 1, None),
        }
    }
}

/// What the previous build made of a file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Made {
    /// A page's parse.
    Page(Parsed<PageFrontMatter>),
    /// A section's parse.
    Section(Parsed<SectionFrontMatter>),
    /// Any other file: its hash.
    File(ContentHash),
    /// A Sass stylesheet that is compiled (not a partial): its hash and its CSS, with what
    /// compiling it read.
    Stylesheet(Box<Stylesheet>),
}

/// A Sass stylesheet compiled by `load::sass`, as the build state keeps it under its file's
/// path: what the next build needs to tell whether its CSS still holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stylesheet {
    /// The hash of its own file.
    pub hash: ContentHash,
    /// The CSS.
    pub css: Arc<str>,
    /// Every file compiling it looked for or read, in order, with what was found.
    pub looks: Vec<Look>,
    /// Its `@warn`s, reported again on every build that reuses the CSS.
    pub warnings: Vec<Warning>,
}

/// One look at the file system by the compiler.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Look {
    /// The path: relative to the site's root (with `/`) when inside it, else absolute.
    pub path: String,
    /// What was asked, and found.
    pub saw: Saw,
}

/// What a look found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Saw {
    /// Whether a file is there.
    File(bool),
    /// Whether a folder is there.
    Dir(bool),
    /// The hash of the bytes read; `None`: the read failed.
    Bytes(Option<ContentHash>),
}

/// A `@warn` of a stylesheet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    /// What it says.
    pub message: String,
    /// The file it is in, as it is shown.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// The line's text.
    pub source_line: String,
}

/// One file in the cache.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Cached {
    /// Its stat when it was read.
    pub stat: Stat,
    /// What was made of it.
    pub made: Made,
}

/// The cache, by path relative to the site's root (`content/blog/a.md`, `static/site.css`).
pub type SourceCache = rustc_hash::FxHashMap<String, Cached>;

/// How a file compares with the previous build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Freshness {
    /// Same bytes and stat as last time.
    Unchanged,
    /// Same bytes, another stat (touched, or checked out again).
    Touched,
    /// Different bytes.
    Changed,
    /// Not in the previous build.
    Added,
}

/// Parses a markdown file: the cached parse when its stat (or failing that its hash) is
/// unchanged, else a fresh one. `pick` takes the parse of the right kind out of the cache entry.
pub(crate) fn markdown<T>(
    root: &Path,
    key: &str,
    relative: &str,
    stat: Stat,
    cached: Option<Cached>,
    pick: fn(Made) -> Option<Parsed<T>>,
) -> Result<(Parsed<T>, Freshness), Diagnostic>
where
    T: FrontMatter,
{
    let was_cached = cached.is_some();
    let previous = cached.and_then(|c| {
        let stat = c.stat;
        pick(c.made).map(|p| (stat, p))
    });
    let previous = match previous {
        Some((old_stat, parsed)) if old_stat == stat => return Ok((parsed, Freshness::Unchanged)),
        other => other,
    };
    let file = root.join(key);
    let display = Path::new(key);
    let bytes = std::fs::read(&file)
        .map_err(|e| Diagnostic::error(format!("cannot read file: {e}")).in_file(display))?;
    let hash = ContentHash::of(&bytes);
    match previous {
        Some((_, parsed)) if parsed.hash == hash => Ok((parsed, Freshness::Touched)),
        _ if !was_cached => parse(display, relative, bytes, hash).map(|p| (p, Freshness::Added)),
        _ => parse(display, relative, bytes, hash).map(|p| (p, Freshness::Changed)),
    }
}

/// The hash of any file: the cached one when its stat is unchanged.
pub(crate) fn file_hash(
    path: &Path,
    stat: Stat,
    cached: Option<&Cached>,
) -> Result<(ContentHash, Freshness), std::io::Error> {
    let previous = cached.and_then(|c| match &c.made {
        Made::File(hash) => Some((c.stat, *hash)),
        Made::Stylesheet(stylesheet) => Some((c.stat, stylesheet.hash)),
        Made::Page(_) | Made::Section(_) => None,
    });
    if let Some((old_stat, hash)) = previous
        && old_stat == stat
    {
        return Ok((hash, Freshness::Unchanged));
    }
    let hash = ContentHash::of(&std::fs::read(path)?);
    let freshness = match previous {
        Some((_, old)) if old == hash => Freshness::Touched,
        Some(_) => Freshness::Changed,
        None => Freshness::Added,
    };
    Ok((hash, freshness))
}

fn parse<T: FrontMatter>(
    display: &Path,
    relative: &str,
    bytes: Vec<u8>,
    hash: ContentHash,
) -> Result<Parsed<T>, Diagnostic> {
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let offset = e.utf8_error().valid_up_to();
            let lossy = String::from_utf8_lossy(e.as_bytes()).into_owned();
            return Err(Diagnostic::error("file is not valid UTF-8")
                .at_offset(display, &lossy, offset)
                .with_help("save the file as UTF-8"));
        }
    };
    let split: Split<'_> = front_matter::split(&text).map_err(|message| {
        Diagnostic::error(message)
            .at(display, &text, 1, Some(1))
            .with_help(
                "close the front matter with the same fence (`+++` or `---`) on a line of its own",
            )
    })?;
    let (meta, offsets) = front_matter::parse::<T>(&split).map_err(|e| {
        let line = e.line.map_or(split.front_matter_line, |l| l + split.front_matter_line - 1);
        Diagnostic::error(format!("invalid front matter: {}", e.message))
            .at(display, &text, line, e.column)
            .with_help("front matter is TOML between `+++` lines or YAML between `---` lines; see the content model in the README")
    })?;
    let in_file = |offset: Option<usize>| {
        offset.and_then(|o| u32::try_from(split.front_matter_offset + o).ok())
    };
    let at = |key: &str| in_file(offsets.get(key));
    let value_at = |key: &str| in_file(offsets.value(key));
    if let Err(problem) = meta.check(relative) {
        let d = Diagnostic::error(problem.message).with_help(problem.help);
        return Err(match value_at(&problem.key) {
            Some(offset) => d.at_offset(display, &text, offset as usize),
            None => d.at(display, &text, split.front_matter_line, None),
        });
    }
    let spans = meta.spans(&at, &value_at);
    let (links, anchor_targets) = internal_links(split.body);
    let summary = markdown::summary_source(split.body);
    Ok(Parsed {
        relative: relative.to_owned(),
        meta: Arc::new(meta),
        body_offset: split.body_offset,
        body_len: split.body.len(),
        hash,
        word_count: markdown::word_count(split.body),
        summary_open: summary.as_ref().is_some_and(|s| s.open),
        summary_source: summary.map(|s| s.markdown.into_owned()),
        anchor_targets,
        links,
        front_matter_hash: ContentHash::of(split.front_matter.as_bytes()),
        spans,
        ignored: offsets
            .ignored()
            .iter()
            .map(|key| IgnoredKey {
                path: key.path.clone(),
                offset: key.offset.and_then(|o| in_file(Some(o as usize))),
            })
            .collect(),
    })
}

/// Content paths linked to (`](@/a.md)`), and those linked with an anchor (`](@/a.md#part)`),
/// found by a quick scan of the body: the first decide which pages a page's output depends on,
/// the second which pages keep their heading ids for the anchor check.
fn internal_links(body: &str) -> (Vec<String>, Vec<String>) {
    let mut links = Vec::new();
    let mut anchored = Vec::new();
    for (i, _) in body.match_indices("(@/") {
        let rest = &body[i + 3..];
        let link = &rest[..rest.find([')', ' ', '\n']).unwrap_or(rest.len())];
        match link.split_once('#') {
            Some((path, _)) => {
                links.push(path.to_owned());
                anchored.push(path.to_owned());
            }
            None => links.push(link.to_owned()),
        }
    }
    links.sort();
    links.dedup();
    (links, anchored)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::{Cached, Freshness, Made, Stat, internal_links, markdown};
    use crate::site::front_matter::PageFrontMatter;

    fn pick(m: Made) -> Option<super::Parsed<PageFrontMatter>> {
        match m {
            Made::Page(p) => Some(p),
            _ => None,
        }
    }

    #[test]
    fn unchanged_stat_skips_the_read_and_changed_bytes_reparse() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("content/a.md");
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, "+++\ntitle = \"A\"\n+++\nbody").unwrap();
        let stat = Stat::of(&std::fs::metadata(&file).unwrap());
        let (first, freshness) =
            markdown(dir.path(), "content/a.md", "a.md", stat, None, pick).unwrap();
        assert_eq!(freshness, Freshness::Added);
        let mut cache = HashMap::new();
        cache.insert(
            "content/a.md".to_owned(),
            Cached {
                stat,
                made: Made::Page(first),
            },
        );

        // Same stat: not read at all, even though the file is gone.
        std::fs::remove_file(&file).unwrap();
        let cached = cache.get("content/a.md").cloned();
        let (again, freshness) =
            markdown(dir.path(), "content/a.md", "a.md", stat, cached, pick).unwrap();
        assert_eq!(
            (freshness, again.meta.title.as_deref()),
            (Freshness::Unchanged, Some("A"))
        );

        std::fs::write(&file, "+++\ntitle = \"B\"\n+++\nbody").unwrap();
        let stat = Stat::of(&std::fs::metadata(&file).unwrap());
        let cached = cache.get("content/a.md").cloned();
        let (changed, freshness) =
            markdown(dir.path(), "content/a.md", "a.md", stat, cached, pick).unwrap();
        assert_eq!(
            (freshness, changed.meta.title.as_deref()),
            (Freshness::Changed, Some("B"))
        );
    }

    #[test]
    fn front_matter_problems_and_spans_are_located_while_parsing() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| {
            let file = dir.path().join("content").join(name);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(&file, text).unwrap();
            Stat::of(&std::fs::metadata(&file).unwrap())
        };
        let parse = |name: &str, text: &str| {
            let stat = write(name, text);
            markdown(
                dir.path(),
                &format!("content/{name}"),
                name,
                stat,
                None,
                pick,
            )
        };
        for (name, text, value) in [
            (
                "t.md",
                "+++\ntitle = \"T\"\ndate = \"soon\"\n+++\n",
                "\"soon\"",
            ),
            ("y.md", "---\ntitle: T\ndate: soon\n---\n", "soon"),
        ] {
            let d = parse(name, text).unwrap_err();
            let at = d.location.unwrap();
            let column = text.lines().nth(2).unwrap().find(value).unwrap();
            assert_eq!((at.line, at.column), (Some(3), Some(column + 1)), "{name}");
        }
        let text = "+++\ntemplate = \"x.html\"\n[taxonomies]\ntags = [\"a\"]\n+++\n";
        let (parsed, _) = parse("s.md", text).unwrap();
        let offset = |needle: &str| u32::try_from(text.find(needle).unwrap()).unwrap();
        assert_eq!(parsed.spans.template, Some(offset("\"x.html\"")));
        assert_eq!(&*parsed.spans.taxonomies, [Some(offset("tags"))]);
    }

    #[test]
    fn finds_internal_links() {
        let (links, anchored) = internal_links("[a](@/x.md) [b](@/y.md#top) [c](@/x.md)");
        assert_eq!(links, ["x.md", "y.md"]);
        assert_eq!(anchored, ["y.md"]);
    }
}
