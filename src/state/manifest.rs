//! The build manifest: per output, what it was made from; per source file, its last parse.
//!
//! Stored in an SQLite database (`.sitegen/state.sqlite`, WAL, `synchronous=FULL`), one row per
//! source file and per output, each record a MessagePack blob. Measured at 100,000 pages
//! (`cargo bench --bench state_load`), loading it all costs what decoding one MessagePack file
//! does (~0.4 s), but a build that changed three records commits three rows in one transaction
//! instead of rewriting a 55 MB file (~330 ms). The manifest is written only after a build
//! updated the output. Before a build touches the output it writes the `pending` journal naming
//! the files it is about to replace; a build that finds a journal does not trust the manifest
//! for those files, so a build killed at any moment leaves state and output consistent.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};

use crate::diagnostics::{Error, Result};
use crate::hash::ContentHash;
use crate::load::source::SourceCache;

/// Bumped whenever the manifest's shape or the meaning of its hashes changes.
pub const FORMAT: u32 = 2;

/// The database's schema. Records are MessagePack blobs of [`Cached`](crate::load::source::Cached)
/// and [`OutputRecord`]; `meta` holds the manifest's other fields by name.
const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS sources (key TEXT PRIMARY KEY, record BLOB NOT NULL) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS outputs (file TEXT PRIMARY KEY, record BLOB NOT NULL) WITHOUT ROWID;
";

/// What changed since the manifest that was read, so only those rows are written.
#[derive(Debug, Default)]
pub struct Delta<'a> {
    /// Source keys whose record changed or is new.
    pub sources_changed: Vec<&'a str>,
    /// Source keys that are gone.
    pub sources_removed: Vec<String>,
    /// Output files whose record changed or is new.
    pub outputs_changed: Vec<&'a str>,
    /// Output files that are gone.
    pub outputs_removed: &'a [String],
}

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
    pub outputs: OutputRecords,
    /// Every template's source hash, to name the one that changed.
    pub templates: HashMap<String, ContentHash>,
}

/// The record of every output file, by path relative to the output folder.
pub type OutputRecords = rustc_hash::FxHashMap<String, OutputRecord>;

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

fn db_path(state: &Path) -> PathBuf {
    state.join("state.sqlite")
}

fn pending_path(state: &Path) -> PathBuf {
    state.join("pending")
}

fn db_error(state: &Path, e: &rusqlite::Error) -> Error {
    Error::Usage(format!("build state {}: {e}", db_path(state).display()))
}

fn open(state: &Path, create: bool) -> rusqlite::Result<rusqlite::Connection> {
    use rusqlite::OpenFlags;
    let flags = if create {
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
    };
    let db = rusqlite::Connection::open_with_flags(
        db_path(state),
        flags | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    db.busy_timeout(std::time::Duration::from_secs(10))?;
    // Reading 100,000 rows through a memory map skips a copy of every page of the file.
    db.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA mmap_size=1073741824;",
    )?;
    db.execute_batch(SCHEMA)?;
    Ok(db)
}

fn meta<T: serde::de::DeserializeOwned>(db: &rusqlite::Connection, key: &str) -> Option<T> {
    let blob: Vec<u8> = db
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |row| {
            row.get(0)
        })
        .ok()?;
    rmp_serde::from_slice(&blob).ok()
}

/// A value stored as a MessagePack blob.
fn encode<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    rmp_serde::to_vec(value).unwrap_or_default()
}

/// Reads the manifest of the state folder `state`. Missing, unreadable, corrupt or written by
/// another version: `None` (with a log line saying why), which means a full build.
pub fn read(state: &Path) -> Option<Manifest> {
    read_unless(state, &AtomicBool::new(false))
}

/// [`read`], given up (`None`) as soon as `unwanted` is set: a build reads the manifest while
/// it finds out whether anything changed at all.
pub fn read_unless(state: &Path, unwanted: &AtomicBool) -> Option<Manifest> {
    if !db_path(state).exists() {
        return None;
    }
    match read_db(state, unwanted) {
        Ok(Some(m)) => Some(m),
        Ok(None) if unwanted.load(Ordering::Relaxed) => None,
        Ok(None) => {
            tracing::info!("build state of another version; building in full");
            None
        }
        Err(e) => {
            tracing::warn!(
                "{}: unreadable build state ({e}); building in full",
                db_path(state).display()
            );
            None
        }
    }
}

fn read_db(state: &Path, unwanted: &AtomicBool) -> rusqlite::Result<Option<Manifest>> {
    let db = open(state, false)?;
    let (Some(format), Some(engine)) = (meta::<u32>(&db, "format"), meta::<String>(&db, "engine"))
    else {
        return Ok(None);
    };
    if format != FORMAT || engine != env!("CARGO_PKG_VERSION") {
        return Ok(None);
    }
    // Sized up front from the page count (`count(*)` would walk every page of both tables):
    // growing maps of 10,000 large records rehashes and moves them repeatedly.
    let pages: usize = meta(&db, "pages").unwrap_or(0);
    let capacity = pages + pages / 8 + 64;
    // The two tables are decoded at once, the outputs on a second connection. Builds hold the
    // site's lock, so no commit comes between the two connections' reads.
    let read_outputs = || -> rusqlite::Result<Option<OutputRecords>> {
        let mut outputs = OutputRecords::with_capacity_and_hasher(capacity, Default::default());
        let db = open(state, false)?;
        let read = read_table(&db, "SELECT file, record FROM outputs", unwanted, |f, r| {
            outputs.insert(f, r);
        })?;
        Ok(read.then_some(outputs))
    };
    let (sources, outputs) = std::thread::scope(|scope| {
        let thread = std::thread::Builder::new()
            .name("state-outputs".into())
            .spawn_scoped(scope, read_outputs);
        let mut sources = SourceCache::with_capacity_and_hasher(capacity, Default::default());
        let read = read_table(&db, "SELECT key, record FROM sources", unwanted, |k, r| {
            sources.insert(k, r);
        });
        let outputs = match thread {
            Ok(thread) => thread.join().unwrap_or(Err(rusqlite::Error::InvalidQuery)),
            Err(_) => read_outputs(),
        };
        (read.map(|read| read.then_some(sources)), outputs)
    });
    let (Some(sources), Some(outputs)) = (sources?, outputs?) else {
        return Ok(None);
    };
    Ok(Some(Manifest {
        format,
        engine,
        built_at: meta(&db, "built_at").unwrap_or(0),
        output: meta(&db, "output").unwrap_or_default(),
        drafts: meta(&db, "drafts").unwrap_or(false),
        pages: meta(&db, "pages").unwrap_or(0),
        sources,
        outputs,
        templates: meta(&db, "templates").unwrap_or_default(),
    }))
}

/// Decodes every row (key, MessagePack record) of `query` into `put`. `Ok(false)`: given up
/// because `unwanted` was set.
fn read_table<T: serde::de::DeserializeOwned>(
    db: &rusqlite::Connection,
    query: &str,
    unwanted: &AtomicBool,
    mut put: impl FnMut(String, T),
) -> rusqlite::Result<bool> {
    let decode = |e: rmp_serde::decode::Error| rusqlite::Error::ToSqlConversionFailure(Box::new(e));
    let mut statement = db.prepare(query)?;
    let mut rows = statement.query([])?;
    let mut n = 0usize;
    while let Some(row) = rows.next()? {
        if n.is_multiple_of(1024) && unwanted.load(Ordering::Relaxed) {
            return Ok(false);
        }
        n += 1;
        let record = rmp_serde::from_slice(row.get_ref(1)?.as_blob()?).map_err(decode)?;
        put(row.get(0)?, record);
    }
    Ok(true)
}

/// Writes `manifest` in one transaction: every row when `delta` is `None` (a full build),
/// else only the rows it names. Returns the new generation number, which the stamp records.
pub fn write(state: &Path, manifest: &Manifest, delta: Option<&Delta<'_>>) -> Result<u64> {
    let mut db = match open(state, true) {
        Ok(db) => db,
        Err(_) => {
            // A damaged database is derived data: start it again.
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", db_path(state).display()));
            }
            open(state, true).map_err(|e| db_error(state, &e))?
        }
    };
    let tx = db.transaction().map_err(|e| db_error(state, &e))?;
    let generation = write_rows(&tx, manifest, delta).map_err(|e| db_error(state, &e))?;
    tx.commit().map_err(|e| db_error(state, &e))?;
    Ok(generation)
}

fn write_rows(
    tx: &rusqlite::Transaction<'_>,
    manifest: &Manifest,
    delta: Option<&Delta<'_>>,
) -> rusqlite::Result<u64> {
    let generation: u64 = meta::<u64>(tx, "generation").unwrap_or(0) + 1;
    {
        let mut put_meta = tx.prepare("INSERT OR REPLACE INTO meta VALUES (?1, ?2)")?;
        put_meta.execute(rusqlite::params!["format", encode(&manifest.format)])?;
        put_meta.execute(rusqlite::params!["engine", encode(&manifest.engine)])?;
        put_meta.execute(rusqlite::params!["built_at", encode(&manifest.built_at)])?;
        put_meta.execute(rusqlite::params!["output", encode(&manifest.output)])?;
        put_meta.execute(rusqlite::params!["drafts", encode(&manifest.drafts)])?;
        put_meta.execute(rusqlite::params!["pages", encode(&manifest.pages)])?;
        put_meta.execute(rusqlite::params!["templates", encode(&manifest.templates)])?;
        put_meta.execute(rusqlite::params!["generation", encode(&generation)])?;
    }
    let mut put_source = tx.prepare("INSERT OR REPLACE INTO sources VALUES (?1, ?2)")?;
    let mut put_output = tx.prepare("INSERT OR REPLACE INTO outputs VALUES (?1, ?2)")?;
    match delta {
        None => {
            tx.execute_batch("DELETE FROM sources; DELETE FROM outputs;")?;
            for (key, record) in &manifest.sources {
                put_source.execute(rusqlite::params![key, encode(record)])?;
            }
            for (file, record) in &manifest.outputs {
                put_output.execute(rusqlite::params![file, encode(record)])?;
            }
        }
        Some(delta) => {
            for key in &delta.sources_changed {
                if let Some(record) = manifest.sources.get(*key) {
                    put_source.execute(rusqlite::params![key, encode(record)])?;
                }
            }
            for key in &delta.sources_removed {
                tx.execute("DELETE FROM sources WHERE key = ?1", [key])?;
            }
            for file in &delta.outputs_changed {
                if let Some(record) = manifest.outputs.get(*file) {
                    put_output.execute(rusqlite::params![file, encode(record)])?;
                }
            }
            for file in delta.outputs_removed {
                tx.execute("DELETE FROM outputs WHERE file = ?1", [file])?;
            }
        }
    }
    Ok(generation)
}

/// The generation of the stored manifest, if it can be read.
pub fn generation(state: &Path) -> Option<u64> {
    if !db_path(state).exists() {
        return None;
    }
    let db = open(state, false).ok()?;
    meta(&db, "generation")
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

/// Writes `bytes` to `path` through a temporary file renamed over it, synced to disk (file
/// and folder) before and after the rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    replace(path, bytes, true)
}

/// [`write_atomic`] without the syncs, for derived data whose loss in a crash only costs time:
/// a reader sees the old bytes or the new, never a mix.
pub fn write_unsynced(path: &Path, bytes: &[u8]) -> Result<()> {
    replace(path, bytes, false)
}

fn replace(path: &Path, bytes: &[u8], sync: bool) -> Result<()> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let mut file = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    file.write_all(bytes).map_err(|e| Error::io(&tmp, e))?;
    if sync {
        file.sync_all().map_err(|e| Error::io(&tmp, e))?;
    }
    drop(file);
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))?;
    if sync
        && let Some(dir) = path.parent()
        && let Ok(dir) = std::fs::File::open(dir)
    {
        let _ = dir.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{
        Delta, Dep, FORMAT, Inputs, Manifest, OutputRecord, Reason, begin, end, generation,
        pending, read, write,
    };
    use crate::hash::ContentHash;

    #[test]
    fn round_trip_delta_and_rejects_other_versions_and_garbage() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read(dir.path()).is_none());
        let record = |n: u8| OutputRecord {
            inputs: Inputs {
                source: ContentHash([n; 32]),
                template: ContentHash::default(),
                config: ContentHash::default(),
                listing: ContentHash::default(),
            },
            deps: vec![(Dep::Page("a.md".into()), ContentHash([n; 32]))],
            output: ContentHash::default(),
            size: u64::from(n),
            reason: Reason::Full,
        };
        let mut manifest = Manifest {
            format: FORMAT,
            engine: env!("CARGO_PKG_VERSION").to_owned(),
            pages: 3,
            ..Manifest::default()
        };
        manifest.outputs.insert("a.html".into(), record(1));
        manifest.outputs.insert("b.html".into(), record(2));
        assert_eq!(write(dir.path(), &manifest, None).unwrap(), 1);
        let back = read(dir.path()).unwrap();
        assert_eq!((back.pages, back.outputs.len()), (3, 2));
        assert_eq!(back.outputs["b.html"], record(2));

        manifest.outputs.insert("a.html".into(), record(9));
        manifest.outputs.remove("b.html");
        let removed = vec!["b.html".to_owned()];
        let delta = Delta {
            outputs_changed: vec!["a.html"],
            outputs_removed: &removed,
            ..Delta::default()
        };
        assert_eq!(write(dir.path(), &manifest, Some(&delta)).unwrap(), 2);
        assert_eq!(generation(dir.path()), Some(2));
        let back = read(dir.path()).unwrap();
        assert_eq!(back.outputs.len(), 1);
        assert_eq!(back.outputs["a.html"], record(9));

        write(
            dir.path(),
            &Manifest {
                format: FORMAT + 1,
                ..manifest
            },
            None,
        )
        .unwrap();
        assert!(read(dir.path()).is_none(), "another format");
        for suffix in ["-wal", "-shm"] {
            let _ = std::fs::remove_file(dir.path().join(format!("state.sqlite{suffix}")));
        }
        std::fs::write(
            dir.path().join("state.sqlite"),
            b"garbage, not a database at all, no",
        )
        .unwrap();
        assert!(read(dir.path()).is_none(), "corrupt");
        assert_eq!(
            write(dir.path(), &Manifest::default(), None).unwrap(),
            1,
            "a damaged database starts again"
        );
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
