//! Reading source files, with the previous build's parse reused when a file did not change.
//!
//! Every file the build reads (content, static files, bundle assets) is known by its path
//! relative to the site's root. The previous build left, for each, its stat (size and mtime)
//! and what was made of it: the parse of a markdown file, or the hash of any other. A file whose
//! stat is unchanged is not read again; one whose stat changed is read and hashed, and parsed
//! only when its bytes changed. This is what lets a no-op rebuild of 10,000 pages skip reading
//! them. The cache is data derived from the files: losing it only costs time.

use std::path::Path;
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::diagnostics::{Diagnostic, key_line};
use crate::hash::ContentHash;
use crate::load::front_matter::{self, Split};
use crate::markdown;
use crate::site::front_matter::{PageFrontMatter, SectionFrontMatter};

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
    pub fn of(metadata: &std::fs::Metadata) -> Self {
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
    /// Content paths this file links to with an anchor (`@/a.md#part`).
    pub anchor_targets: Vec<String>,
    /// Content paths this file links to (`@/a.md`).
    pub links: Vec<String>,
    /// Hash of the front matter's text.
    pub front_matter_hash: ContentHash,
    /// 1-based line of the front matter's first line.
    pub front_matter_line: usize,
}

impl<T> Parsed<T> {
    /// A problem at the line of `key` in the front matter (or the file's first line). The file
    /// is read again: problems are rare, and the cache stays small without the text.
    pub fn at_key(&self, root: &Path, key: &str, message: String) -> Diagnostic {
        let display = Path::new("content").join(&self.relative);
        let text = std::fs::read_to_string(root.join(&display)).unwrap_or_default();
        let line = key_line_in_front_matter(&text, key).unwrap_or(1);
        Diagnostic::error(message).at(display, &text, line, None)
    }
}

/// 1-based line, in the whole file `text`, of `key` in its front matter.
pub fn key_line_in_front_matter(text: &str, key: &str) -> Option<usize> {
    let split = front_matter::split(text).ok()?;
    key_line(split.front_matter, key).map(|k| k + split.front_matter_line - 1)
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
pub enum Freshness {
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
pub fn markdown<T>(
    root: &Path,
    key: &str,
    relative: &str,
    stat: Stat,
    cached: Option<Cached>,
    pick: fn(Made) -> Option<Parsed<T>>,
) -> Result<(Parsed<T>, Freshness), Diagnostic>
where
    T: DeserializeOwned + Default,
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
pub fn file_hash(
    path: &Path,
    stat: Stat,
    cached: Option<&Cached>,
) -> Result<(ContentHash, Freshness), std::io::Error> {
    let previous = cached.and_then(|c| match c.made {
        Made::File(hash) => Some((c.stat, hash)),
        _ => None,
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

fn parse<T: DeserializeOwned + Default>(
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
    let meta = front_matter::parse::<T>(&split).map_err(|e| {
        let line = e.line.map_or(split.front_matter_line, |l| l + split.front_matter_line - 1);
        Diagnostic::error(format!("invalid front matter: {}", e.message))
            .at(display, &text, line, e.column)
            .with_help("front matter is TOML between `+++` lines or YAML between `---` lines; see the content model in the README")
    })?;
    let (links, anchor_targets) = internal_links(split.body);
    Ok(Parsed {
        relative: relative.to_owned(),
        meta: Arc::new(meta),
        body_offset: split.body_offset,
        body_len: split.body.len(),
        hash,
        word_count: markdown::word_count(split.body),
        summary_source: markdown::summary_part(split.body).map(str::to_owned),
        anchor_targets,
        links,
        front_matter_hash: ContentHash::of(split.front_matter.as_bytes()),
        front_matter_line: split.front_matter_line,
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
    fn finds_internal_links() {
        let (links, anchored) = internal_links("[a](@/x.md) [b](@/y.md#top) [c](@/x.md)");
        assert_eq!(links, ["x.md", "y.md"]);
        assert_eq!(anchored, ["y.md"]);
    }
}
