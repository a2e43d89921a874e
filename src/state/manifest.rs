//! The build manifest: per output, what it was made from; per source file, its last parse.
//!
//! Stored in an `SQLite` database (`.sitegen/state.sqlite`, WAL, `synchronous=FULL`), one row per
//! source file and per output, each record a `MessagePack` blob. Measured at 100,000 pages
//! (`cargo bench --bench state_load`), loading it all costs what decoding one `MessagePack` file
//! does (~0.4 s), but a build that changed three records commits three rows in one transaction
//! instead of rewriting a 55 MB file (~330 ms). The manifest is written only after a build
//! updated the output. Before a build touches the output it writes the `pending` journal naming
//! the files it is about to replace; a build that finds a journal does not trust the manifest
//! for those files, so a build killed at any moment leaves state and output consistent.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};

use crate::assets::images::ImageRecords;
use crate::diagnostics::{Error, Result};
use crate::fs::{Durability, write_atomic};
use crate::hash::ContentHash;
use crate::load::source::SourceCache;
use crate::plan::diff::{Interrupted, Previous};
use crate::plan::reason::OutputRecords;

/// Bumped whenever the manifest's shape or the meaning of its hashes changes.
pub const FORMAT: u32 = 8;

/// The database's schema. Records are `MessagePack` blobs of [`Cached`](crate::load::source::Cached)
/// and [`OutputRecord`]; `meta` holds the manifest's other fields by name.
const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS sources (key TEXT PRIMARY KEY, record BLOB NOT NULL) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS outputs (file TEXT PRIMARY KEY, record BLOB NOT NULL) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS images (file TEXT PRIMARY KEY, record BLOB NOT NULL) WITHOUT ROWID;
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
    /// Whether the processed images' records changed (their table is then written whole).
    pub images_changed: bool,
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
    /// Every file of the output's `processed_images/`, by output path.
    pub images: ImageRecords,
}

impl Manifest {
    /// What the next build's plan compares with.
    pub(crate) fn previous(&self) -> Previous<'_> {
        Previous {
            outputs: &self.outputs,
            templates: &self.templates,
            pages: self.pages,
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
    Error::store(db_path(state), e)
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

/// A value stored as a `MessagePack` blob.
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
pub(crate) fn read_unless(state: &Path, unwanted: &AtomicBool) -> Option<Manifest> {
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
        let mut outputs =
            OutputRecords::with_capacity_and_hasher(capacity, rustc_hash::FxBuildHasher);
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
        let mut sources =
            SourceCache::with_capacity_and_hasher(capacity, rustc_hash::FxBuildHasher);
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
    let mut images = ImageRecords::new();
    if !read_table(&db, "SELECT file, record FROM images", unwanted, |f, r| {
        images.insert(f, r);
    })? {
        return Ok(None);
    }
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
        images,
    }))
}

/// Decodes every row (key, `MessagePack` record) of `query` into `put`. `Ok(false)`: given up
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
    let mut db = if let Ok(db) = open(state, true) {
        db
    } else {
        // A damaged database is derived data: start it again.
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", db_path(state).display()));
        }
        open(state, true).map_err(|e| db_error(state, &e))?
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
    if delta.is_none_or(|d| d.images_changed) {
        tx.execute_batch("DELETE FROM images;")?;
        let mut put_image = tx.prepare("INSERT INTO images VALUES (?1, ?2)")?;
        for (file, record) in &manifest.images {
            put_image.execute(rusqlite::params![file, encode(record)])?;
        }
    }
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
pub(crate) fn generation(state: &Path) -> Option<u64> {
    if !db_path(state).exists() {
        return None;
    }
    let db = open(state, false).ok()?;
    meta(&db, "generation")
}

/// The output files a stopped build was replacing.
pub(crate) fn pending(state: &Path) -> Option<Interrupted> {
    let text = std::fs::read_to_string(pending_path(state)).ok()?;
    if text.lines().next() == Some("*") {
        return Some(Interrupted::Everything);
    }
    Some(Interrupted::Files(
        text.lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect(),
    ))
}

/// Records, durably, that the output files `files` (all of them when `None`) are about to be
/// replaced.
pub(crate) fn begin(state: &Path, files: Option<&[&str]>) -> Result<()> {
    let text = match files {
        None => "*\n".to_owned(),
        Some(files) => files.iter().fold(String::new(), |mut text, f| {
            text.push_str(f);
            text.push('\n');
            text
        }),
    };
    write_atomic(&pending_path(state), text.as_bytes(), Durability::Synced)
}

/// Clears the journal once the manifest describing the new output is written.
pub(crate) fn end(state: &Path) -> Result<()> {
    let path = pending_path(state);
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(&path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::{Delta, FORMAT, Manifest, begin, end, generation, pending, read, write};
    use crate::hash::ContentHash;
    use crate::plan::diff::Interrupted;
    use crate::plan::reason::{Dep, Inputs, OutputRecord, Reason};

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
            Some(Interrupted::Files(vec![
                "a/index.html".to_owned(),
                "b.xml".to_owned()
            ]))
        );
        begin(dir.path(), None).unwrap();
        assert_eq!(pending(dir.path()), Some(Interrupted::Everything));
        end(dir.path()).unwrap();
        assert_eq!(pending(dir.path()), None);
    }
}
