//! The build manifest: per output, what it was made from; per source file, its last parse.
//!
//! Written only after a build updated the output, atomically (temp file, fsync, rename). Before
//! a build touches the output it writes the `pending` journal naming the files it is about to
//! replace; a build that finds a journal does not trust the manifest for those files, so a
//! build killed at any moment leaves state and output consistent.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::diagnostics::{Error, Result};
use crate::hash::ContentHash;
use crate::load::source::SourceCache;

/// Bumped whenever the manifest's shape or the meaning of its hashes changes.
pub const FORMAT: u32 = 1;

/// What one build left for the next.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT`] when written.
    pub format: u32,
    /// The sitegen version that wrote it: another version's hashes mean nothing here.
    pub engine: String,
    /// When the build finished, in seconds since the epoch.
    pub built_at: i64,
    /// The output folder it wrote (absolute).
    pub output: PathBuf,
    /// Whether drafts were built.
    pub drafts: bool,
    /// Pages in the site (the denominator of the changed fraction).
    pub pages: usize,
    /// Every source file's stat and parse.
    pub sources: SourceCache,
    /// Every output file, by path relative to the output folder.
    pub outputs: HashMap<String, OutputRecord>,
    /// Every template's source hash, to name the one that changed.
    pub templates: HashMap<String, ContentHash>,
}

/// How one output file was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputRecord {
    /// The hashes of its inputs.
    pub inputs: Inputs,
    /// What its rendering read through template functions, with the hash each had.
    pub deps: Vec<(Dep, ContentHash)>,
    /// The hash of the bytes written.
    pub output: ContentHash,
    /// The number of bytes written.
    pub size: u64,
    /// Why it was last written.
    pub reason: Reason,
}

/// The inputs of one output, hashed in groups so a change can be explained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inputs {
    /// Its own source: the page or section file, its path and place, the file it copies.
    pub source: ContentHash,
    /// The templates it is rendered with (extends, includes, imports).
    pub template: ContentHash,
    /// The config values it reads.
    pub config: ContentHash,
    /// What it lists: the metadata of other pages.
    pub listing: ContentHash,
}

/// Something a template read while rendering, through a function.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Dep {
    /// `get_page(path)`.
    Page(String),
    /// `get_section(path)`, with its pages when `listing`.
    Section {
        /// Content path.
        path: String,
        /// Whether the pages were asked for.
        listing: bool,
    },
    /// `get_taxonomy(kind)`.
    Taxonomy(String),
    /// `get_taxonomy_url(kind, name)`.
    TermUrl {
        /// Taxonomy.
        kind: String,
        /// Term.
        name: String,
    },
    /// `get_url("@/path")`: a content file's URL.
    Url(String),
    /// `get_url(path, cachebust=true)`: a static file's hash.
    Static(String),
    /// `load_data(path)`: a data file's bytes.
    Data(PathBuf),
}

/// Why an output was (re)written: `sitegen build --explain` prints these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reason {
    /// No previous build state (or `--full`).
    Full,
    /// Not in the previous build.
    New,
    /// Its source changed.
    SourceChanged,
    /// A template it uses changed.
    TemplateChanged(String),
    /// A config value it reads changed.
    ConfigChanged,
    /// A page it lists changed.
    ListingChanged,
    /// Something it read through a template function changed.
    DependencyChanged(String),
    /// The file is missing from the output, or not what was written.
    OutputMissing,
    /// A previous build was stopped while replacing it.
    Interrupted,
    /// Its template reads the clock, the environment or random numbers.
    Volatile,
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Full => write!(f, "full build"),
            Self::New => write!(f, "new output"),
            Self::SourceChanged => write!(f, "source changed"),
            Self::TemplateChanged(name) => write!(f, "template `{name}` changed"),
            Self::ConfigChanged => write!(f, "config changed"),
            Self::ListingChanged => write!(f, "listing changed"),
            Self::DependencyChanged(what) => write!(f, "{what} changed"),
            Self::OutputMissing => write!(f, "output missing or modified"),
            Self::Interrupted => write!(f, "previous build was interrupted"),
            Self::Volatile => write!(f, "its template calls now(), get_env() or get_random()"),
        }
    }
}

fn manifest_path(state: &Path) -> PathBuf {
    state.join("manifest")
}

fn pending_path(state: &Path) -> PathBuf {
    state.join("pending")
}

/// Reads the manifest of the state folder `state`. Missing, unreadable, corrupt or written by
/// another version: `None` (with a log line saying why), which means a full build.
pub fn read(state: &Path) -> Option<Manifest> {
    let path = manifest_path(state);
    let file = std::fs::File::open(&path).ok()?;
    match rmp_serde::from_read::<_, Manifest>(std::io::BufReader::with_capacity(1 << 20, file)) {
        Ok(m) if m.format == FORMAT && m.engine == env!("CARGO_PKG_VERSION") => Some(m),
        Ok(m) => {
            tracing::info!(format = m.format, engine = %m.engine, "build state of another version; building in full");
            None
        }
        Err(e) => {
            tracing::warn!(
                "{}: unreadable build state ({e}); building in full",
                path.display()
            );
            None
        }
    }
}

/// Writes `manifest` atomically (temp file, fsync, rename); returns the hash of its bytes.
/// It is encoded straight into the file: at 100,000 pages a buffer of it would be 60 MB.
pub fn write(state: &Path, manifest: &Manifest) -> Result<ContentHash> {
    let path = manifest_path(state);
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let file = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    let mut writer = HashingWriter {
        inner: std::io::BufWriter::with_capacity(1 << 20, file),
        hasher: blake3::Hasher::new(),
    };
    rmp_serde::encode::write(&mut writer, manifest)
        .map_err(|e| Error::Usage(format!("cannot encode the build state: {e}")))?;
    let hash = ContentHash(*writer.hasher.finalize().as_bytes());
    let file = writer
        .inner
        .into_inner()
        .map_err(|e| Error::io(&tmp, e.into_error()))?;
    file.sync_all().map_err(|e| Error::io(&tmp, e))?;
    drop(file);
    std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
    sync_dir(state);
    Ok(hash)
}

/// Writes through to a file while hashing what is written.
struct HashingWriter<W> {
    inner: W,
    hasher: blake3::Hasher,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn sync_dir(dir: &Path) {
    if let Ok(dir) = std::fs::File::open(dir) {
        let _ = dir.sync_all();
    }
}

/// The hash of the manifest file as it is on disk.
pub fn file_hash(state: &Path) -> Option<ContentHash> {
    std::fs::read(manifest_path(state))
        .ok()
        .map(|bytes| ContentHash::of(&bytes))
}

/// The output files a stopped build was replacing: `Some(None)` means all of them.
pub fn pending(state: &Path) -> Option<Option<Vec<String>>> {
    let text = std::fs::read_to_string(pending_path(state)).ok()?;
    if text.lines().next() == Some("*") {
        return Some(None);
    }
    Some(Some(
        text.lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect(),
    ))
}

/// Records, durably, that the output files `files` (all of them when `None`) are about to be
/// replaced.
pub fn begin(state: &Path, files: Option<&[&str]>) -> Result<()> {
    let text = match files {
        None => "*\n".to_owned(),
        Some(files) => files.iter().map(|f| format!("{f}\n")).collect(),
    };
    write_atomic(&pending_path(state), text.as_bytes())
}

/// Clears the journal once the manifest describing the new output is written.
pub fn end(state: &Path) -> Result<()> {
    let path = pending_path(state);
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(&path, e)),
    }
}

/// Writes `bytes` to `path` atomically: a temp file, fsync, rename, fsync of the folder.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let mut file = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    file.write_all(bytes).map_err(|e| Error::io(&tmp, e))?;
    file.sync_all().map_err(|e| Error::io(&tmp, e))?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))?;
    if let Some(dir) = path.parent()
        && let Ok(dir) = std::fs::File::open(dir)
    {
        let _ = dir.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{FORMAT, Manifest, begin, end, pending, read, write};

    #[test]
    fn round_trip_and_rejects_other_versions_and_garbage() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read(dir.path()).is_none());
        let manifest = Manifest {
            format: FORMAT,
            engine: env!("CARGO_PKG_VERSION").to_owned(),
            pages: 3,
            ..Manifest::default()
        };
        write(dir.path(), &manifest).unwrap();
        assert_eq!(read(dir.path()).unwrap().pages, 3);

        write(
            dir.path(),
            &Manifest {
                format: FORMAT + 1,
                ..manifest
            },
        )
        .unwrap();
        assert!(read(dir.path()).is_none(), "another format");
        std::fs::write(dir.path().join("manifest"), b"\x93garbage").unwrap();
        assert!(read(dir.path()).is_none(), "corrupt");
    }

    #[test]
    fn the_journal_names_what_was_being_replaced() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(pending(dir.path()), None);
        begin(dir.path(), Some(&["a/index.html", "b.xml"])).unwrap();
        assert_eq!(
            pending(dir.path()),
            Some(Some(vec!["a/index.html".to_owned(), "b.xml".to_owned()]))
        );
        begin(dir.path(), None).unwrap();
        assert_eq!(pending(dir.path()), Some(None));
        end(dir.path()).unwrap();
        assert_eq!(pending(dir.path()), None);
    }
}
