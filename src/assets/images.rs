//! Processed images: what `resize_image` and `get_image_metadata` answer while templates
//! render, and the files they ask for, made once each after rendering.
//!
//! A call reads the source's header only (once per build), and answers with the URL and the
//! size at once; the request is recorded, here for the build and in the output's
//! dependencies for the next build (a page kept from an earlier build still asks for its
//! images). Once every output rendered, the driver hands [`make`] every file still asked for:
//! each is named as Zola names it (`processed_images/STEM.HASH.EXT`, a hash of the path as
//! written and the operation), and cached in `.sitegen/processed_images/` under a key of the
//! source's bytes and the operation. A file whose key is in the cache is not made again; the
//! rest are made in parallel (rayon), each source decoded once however many files it gives.
//!
//! The cache is never the site's own `static/`. A committed `static/processed_images/` (Zola
//! writes there) is copied like other static files, except where a file of the same name is
//! made: the made file wins (its name stands for the same source and operation; it is made
//! from the source as it is now).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::assets::encode;
use crate::assets::find::{self, Found, PLACES};
use crate::assets::image_meta::{ImageMeta, metadata_value};
use crate::assets::image_op::{Encoding, Instructions, Operation, unified_path, zola_file_name};
use crate::diagnostics::Diagnostic;
use crate::hash::{ContentHash, Fingerprint};
use crate::site::{Site, StaticSource};

/// The output folder of processed images (Zola's `RESIZED_SUBDIR`).
pub const FOLDER: &str = "processed_images";

/// The cache folder's name, in the state folder.
pub(crate) const CACHE: &str = "processed_images";

/// Bumped when the same source and operation would be made into other bytes: cached files of
/// an earlier version are then made again.
const CACHE_VERSION: u64 = 1;

/// How long a cached file no build asks for is kept (a branch switched back, a page restored).
const KEEP_UNUSED: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);

/// What a template read of an image: recorded with the output, so the next build renders it
/// again when the image's size or format changes, and keeps its processed file.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ImageDep {
    /// The path as the template gave it.
    pub path: String,
    /// The file found, relative to the site's folder (`None`: none was).
    pub source: Option<String>,
    /// The processed file asked for, for `resize_image`.
    pub resize: Option<Resize>,
}

/// One processed file asked for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Resize {
    /// Its path in the output (`processed_images/a.0123456789abcdef.jpg`).
    pub file: String,
    /// The source, relative to the site's folder.
    pub source: String,
    /// The operation.
    pub op: Operation,
    /// The encoding.
    pub encoding: Encoding,
}

/// The service templates call: it finds images, reads their headers once, and records the
/// files asked for.
#[derive(Debug)]
pub(crate) struct Images {
    root: PathBuf,
    theme: Option<String>,
    /// `BASE_URL/processed_images/`.
    base_url: String,
    /// Headers read, by file.
    metas: Mutex<rustc_hash::FxHashMap<PathBuf, Result<ImageMeta, String>>>,
    /// `get_image_metadata`'s answers, by file.
    values: Mutex<rustc_hash::FxHashMap<PathBuf, Result<Value, String>>>,
    /// The files asked for during this build, by output path.
    requested: Mutex<BTreeMap<String, Resize>>,
}

impl Images {
    /// The service for `site`.
    pub(crate) fn new(site: &Site) -> Self {
        Self {
            root: site.root.clone(),
            theme: site.config.theme.clone(),
            base_url: site.config.make_permalink(FOLDER),
            metas: Mutex::default(),
            values: Mutex::default(),
            requested: Mutex::default(),
        }
    }

    fn find(&self, path: &str) -> Result<Option<Found>, String> {
        find::search(&self.root, self.theme.as_deref(), path, &mut Vec::new())
    }

    fn meta(&self, found: &Found) -> Result<ImageMeta, String> {
        let cached = lock(&self.metas).get(&found.path).cloned();
        cached.unwrap_or_else(|| {
            let meta = ImageMeta::read(&found.path);
            lock(&self.metas).insert(found.path.clone(), meta.clone());
            meta
        })
    }

    /// `resize_image`: the answer Zola gives (`url`, `static_path`, `width`, `height`,
    /// `orig_width`, `orig_height`) and what the output read; the file is only recorded, made
    /// after rendering.
    pub(crate) fn resize(
        &self,
        path: &str,
        op: Operation,
        format: &str,
        quality: Option<u8>,
        speed: Option<u8>,
    ) -> Result<(Value, ImageDep), String> {
        let found = self.find(path)?.ok_or_else(|| {
            format!("cannot find `{path}` in {PLACES}: check the path (content paths start with `@/` or are relative to content/)")
        })?;
        let meta = self
            .meta(&found)
            .map_err(|e| {
                format!(
                    "cannot read `{}` as an image ({e}): resize a JPEG, PNG, WebP, GIF, BMP, TIFF, ICO, TGA, PNM or QOI file",
                    found.relative
                )
            })?;
        let encoding = Encoding::from_args(format, meta.is_lossy(), quality, speed)?;
        let stem = found
            .path
            .file_stem()
            .map_or_else(|| "unknown".into(), |s| s.to_string_lossy());
        let name = zola_file_name(&stem, &unified_path(path), op, encoding);
        let size = (meta.width, meta.height);
        let (width, height) = Instructions::new(op, size).size(size);
        if width == 0 || height == 0 {
            return Err(format!(
                "{op:?} of the {}×{} image `{}` is {width}×{height} pixels: ask for a larger size",
                size.0, size.1, found.relative
            ));
        }
        let resize = Resize {
            file: format!("{FOLDER}/{name}"),
            source: found.relative.clone(),
            op,
            encoding,
        };
        lock(&self.requested).insert(resize.file.clone(), resize.clone());
        let value = json!({
            "url": format!("{}{name}", self.base_url),
            "static_path": format!("static/{FOLDER}/{name}"),
            "width": width,
            "height": height,
            "orig_width": size.0,
            "orig_height": size.1,
        });
        let dep = ImageDep {
            path: path.to_owned(),
            source: Some(found.relative),
            resize: Some(resize),
        };
        Ok((value, dep))
    }

    /// `get_image_metadata`: `width`, `height`, `format` and `mime` as Zola gives them; `null`
    /// for a missing file when `allow_missing`.
    pub(crate) fn metadata(
        &self,
        path: &str,
        allow_missing: bool,
    ) -> Result<(Value, ImageDep), String> {
        let Some(found) = self.find(path)? else {
            let dep = ImageDep {
                path: path.to_owned(),
                source: None,
                resize: None,
            };
            return if allow_missing {
                Ok((Value::Null, dep))
            } else {
                Err(format!(
                    "cannot find `{path}` in {PLACES}: check the path, or pass `allow_missing=true` to get null"
                ))
            };
        };
        let cached = lock(&self.values).get(&found.path).cloned();
        let value = cached.unwrap_or_else(|| {
            let value = metadata_value(&found.path);
            lock(&self.values).insert(found.path.clone(), value.clone());
            value
        });
        let value =
            value.map_err(|e| format!("cannot read `{}` as an image: {e}", found.relative))?;
        let dep = ImageDep {
            path: path.to_owned(),
            source: Some(found.relative),
            resize: None,
        };
        Ok((value, dep))
    }

    /// The files asked for during this build so far.
    pub(crate) fn requested(&self) -> BTreeMap<String, Resize> {
        lock(&self.requested).clone()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The hash of what a template read of the image at `path` (as written): the file found and
/// its header. Plan compares it build to build (`Dep::Image`): a source whose pixels changed
/// but not its size or format does not render its pages again, only its processed files.
pub(crate) fn probe(root: &Path, theme: Option<&str>, path: &str) -> ContentHash {
    let mut f = Fingerprint::new("image");
    match find::search(root, theme, path, &mut Vec::new()) {
        Ok(Some(found)) => {
            f.str(&found.relative);
            match metadata_value(&found.path) {
                Ok(value) => f.json(&value),
                Err(e) => f.str(&e),
            };
        }
        Ok(None) => {
            f.str("missing");
        }
        Err(e) => {
            f.str(&e);
        }
    }
    f.finish()
}

/// One file of the output's `processed_images/`, as the build state records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRecord {
    /// What it is made of: the cache key of a made file, the content hash of a static one.
    pub key: ContentHash,
    /// Its source, relative to the site's folder.
    pub source: String,
    /// Its size in bytes.
    pub size: u64,
    /// Whether it is a file of `static/processed_images/` copied as is.
    pub committed: bool,
}

/// The records of the output's processed images, by output path.
pub type ImageRecords = BTreeMap<String, ImageRecord>;

/// A file of `processed_images/` to put in the output.
#[derive(Debug)]
pub(crate) struct Placed {
    /// Its output path.
    pub(crate) file: String,
    /// The file to link or copy there.
    pub(crate) from: PathBuf,
    /// The record it gets.
    pub(crate) record: ImageRecord,
    /// How it was had, for `--explain` (`None`: the output already holds it).
    pub(crate) how: Option<&'static str>,
}

/// What [`make`] did.
#[derive(Debug, Default)]
pub(crate) struct Made {
    /// Every file of the output's `processed_images/`.
    pub(crate) placed: Vec<Placed>,
    /// Problems: sources that cannot be decoded (errors), colour profiles dropped (warnings).
    pub(crate) problems: Vec<Diagnostic>,
}

/// What the image step is given.
pub(crate) struct Asked<'a> {
    /// The site.
    pub(crate) site: &'a Site,
    /// The processed files asked for, by output path.
    pub(crate) wanted: &'a BTreeMap<String, Resize>,
    /// The files of `static/processed_images/`: output path, source and hash.
    pub(crate) committed: Vec<(&'a str, &'a StaticSource, ContentHash)>,
    /// The state folder.
    pub(crate) state_dir: &'a Path,
    /// The records of the previous build.
    pub(crate) previous: Option<&'a ImageRecords>,
    /// Whether a file of the output is still as recorded (path, size).
    pub(crate) intact: &'a (dyn Fn(&str, u64) -> bool + Sync),
}

/// Makes the files asked for that the cache lacks (in parallel, each source decoded once), and
/// lists every file of the output's `processed_images/` with where to take it from.
pub(crate) fn make(asked: &Asked<'_>) -> Made {
    let site = asked.site;
    let cache = asked.state_dir.join(CACHE);
    let hashes = source_hashes(site);
    let mut made = Made::default();
    let mut jobs: BTreeMap<&str, Vec<(&Resize, ContentHash, PathBuf)>> = BTreeMap::new();
    for resize in asked.wanted.values() {
        let Some(source_hash) = hashes.get(resize.source.as_str()).copied().or_else(|| {
            std::fs::read(site.root.join(&resize.source))
                .ok()
                .map(|b| ContentHash::of(&b))
        }) else {
            made.problems.push(
                Diagnostic::error(format!(
                    "`resize_image`: cannot read `{}`, which a page asks to resize",
                    resize.source
                ))
                .with_help("the file went away while the site was built: build again"),
            );
            continue;
        };
        let key = Fingerprint::new("processed-image")
            .num(CACHE_VERSION)
            .hash(&source_hash)
            .json(&resize.op)
            .json(&resize.encoding)
            .finish();
        let cached = cache.join(cache_name(&key, &resize.file));
        let record = |size| ImageRecord {
            key,
            source: resize.source.clone(),
            size,
            committed: false,
        };
        let before = asked.previous.and_then(|p| p.get(&resize.file));
        match std::fs::metadata(&cached) {
            Ok(m) if m.is_file() => {
                let kept = before.is_some_and(|b| {
                    b.key == key && b.size == m.len() && (asked.intact)(&resize.file, m.len())
                });
                made.placed.push(Placed {
                    file: resize.file.clone(),
                    from: cached,
                    record: record(m.len()),
                    how: (!kept).then_some("processed image, from the cache"),
                });
            }
            _ => jobs
                .entry(resize.source.as_str())
                .or_default()
                .push((resize, key, cached)),
        }
    }
    for (file, source, hash) in &asked.committed {
        if asked.wanted.contains_key(*file) {
            continue;
        }
        let StaticSource::File(path) = source else {
            continue;
        };
        let size = std::fs::metadata(path).map_or(0, |m| m.len());
        let record = ImageRecord {
            key: *hash,
            source: path
                .strip_prefix(&site.root)
                .unwrap_or(path)
                .to_string_lossy()
                .into_owned(),
            size,
            committed: true,
        };
        let kept = asked
            .previous
            .and_then(|p| p.get(*file))
            .is_some_and(|b| *b == record && (asked.intact)(file, size));
        made.placed.push(Placed {
            file: (*file).to_owned(),
            from: path.clone(),
            record,
            how: (!kept).then_some("static file"),
        });
    }
    if !jobs.is_empty() && std::fs::create_dir_all(&cache).is_err() {
        made.problems.push(
            Diagnostic::error(format!("cannot create `{}`", cache.display()))
                .with_help("check the permissions of the site's .sitegen/ folder"),
        );
        return made;
    }
    let results: Vec<(Vec<Placed>, Vec<Diagnostic>)> = jobs
        .into_par_iter()
        .map(|(source, files)| make_from(&site.root, source, &files))
        .collect();
    for (placed, problems) in results {
        made.placed.extend(placed);
        made.problems.extend(problems);
    }
    made.placed.sort_by(|a, b| a.file.cmp(&b.file));
    made
}

/// Decodes `source` once and makes each of `files` from it into the cache.
fn make_from(
    root: &Path,
    source: &str,
    files: &[(&Resize, ContentHash, PathBuf)],
) -> (Vec<Placed>, Vec<Diagnostic>) {
    let path = root.join(source);
    let cannot = |e: &str| {
        Diagnostic::error(format!("`resize_image`: cannot process `{source}`: {e}"))
            .in_file(source)
            .with_help("the image is damaged or in a format sitegen cannot decode: open and save it again, or convert it to PNG or JPEG")
    };
    let decoded = match encode::decode(&path) {
        Ok(decoded) => decoded,
        Err(e) => return (Vec::new(), vec![cannot(&e)]),
    };
    let results: Vec<Result<(Placed, bool), Diagnostic>> = files
        .par_iter()
        .map(|(resize, key, cached)| {
            let instructions = Instructions::new(resize.op, decoded.size());
            let encoded = encode::make(&path, &decoded, instructions, resize.encoding)
                .map_err(|e| cannot(&e))?;
            write_cached(cached, &encoded.bytes).map_err(|e| {
                Diagnostic::error(format!("cannot write `{}`: {e}", cached.display())).with_help(
                    "check the permissions and free space of the site's .sitegen/ folder",
                )
            })?;
            Ok((
                Placed {
                    file: resize.file.clone(),
                    from: cached.clone(),
                    record: ImageRecord {
                        key: *key,
                        source: source.to_owned(),
                        size: encoded.bytes.len() as u64,
                        committed: false,
                    },
                    how: Some("processed image, made"),
                },
                encoded.profile_dropped,
            ))
        })
        .collect();
    let mut placed = Vec::new();
    let mut problems = Vec::new();
    for result in results {
        match result {
            Ok((p, dropped)) => {
                if dropped {
                    problems.push(
                        Diagnostic::warning(format!(
                            "`resize_image`: the colour profile of `{source}` is not kept in `{}`: its encoder cannot carry one, so colours may shift",
                            p.file
                        ))
                        .in_file(source)
                        .with_help("use format=\"jpg\", \"png\" or lossless \"webp\" to keep the profile"),
                    );
                }
                placed.push(p);
            }
            Err(d) => problems.push(d),
        }
    }
    (placed, problems)
}

/// Writes a cache file whole: a temporary file renamed into place, so a build killed midway
/// leaves no torn file under a valid key.
fn write_cached(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// The content hashes load took of the site's static files and content assets, by path
/// relative to the site's folder: sources are not read again to key the cache.
fn source_hashes(site: &Site) -> rustc_hash::FxHashMap<String, ContentHash> {
    let relative = |path: &Path| {
        path.strip_prefix(&site.root)
            .unwrap_or(path)
            .to_string_lossy()
            .replace('\\', "/")
    };
    let mut hashes = rustc_hash::FxHashMap::default();
    for file in &site.static_files {
        if let StaticSource::File(path) = &file.source {
            hashes.insert(relative(path), file.hash);
        }
    }
    let docs = site
        .pages
        .iter()
        .map(|p| &p.doc)
        .chain(site.sections.iter().map(|s| &s.doc));
    for doc in docs {
        for asset in &doc.assets {
            hashes.insert(relative(&asset.source), asset.hash);
        }
    }
    hashes
}

/// The name of the cache file of `key` for the output file `file`.
fn cache_name(key: &ContentHash, file: &str) -> String {
    let extension = file.rsplit_once('.').map_or("", |(_, e)| e);
    format!("{}.{extension}", &key.hex()[..32])
}

/// Tidies the cache after a build whose output holds `kept`: files that left the output
/// (`dropped`, by output path) start their grace period now; files no build has asked for in
/// [`KEEP_UNUSED`] are removed, as are temporary files of killed builds.
pub(crate) fn tidy_cache(state_dir: &Path, kept: &ImageRecords, dropped: &[(String, ImageRecord)]) {
    let cache = state_dir.join(CACHE);
    let Ok(entries) = std::fs::read_dir(&cache) else {
        return;
    };
    let in_use: rustc_hash::FxHashSet<String> = kept
        .iter()
        .filter(|(_, r)| !r.committed)
        .map(|(file, r)| cache_name(&r.key, file))
        .collect();
    let now = std::time::SystemTime::now();
    for (file, record) in dropped.iter().filter(|(_, r)| !r.committed) {
        let name = cache_name(&record.key, file);
        if !in_use.contains(&name)
            && let Ok(handle) = std::fs::File::options().write(true).open(cache.join(&name))
        {
            let _ = handle.set_modified(now);
        }
    }
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if in_use.contains(&name) {
            continue;
        }
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| now.duration_since(t).ok())
            .is_some_and(|age| age > KEEP_UNUSED);
        let torn =
            name.contains(".tmp-") && !Path::new(&format!("/proc/{}", pid_of(&name))).exists();
        if old || torn {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// The pid in the name of a temporary file (`KEY.tmp-PID`).
fn pid_of(name: &str) -> String {
    name.rsplit_once(".tmp-")
        .map(|(_, pid)| pid.to_owned())
        .unwrap_or_default()
}
