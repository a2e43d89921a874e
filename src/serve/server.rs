//! The static file server under `sitegen serve`: the output folder over HTTP/1.1.
//!
//! It behaves like a real static server so that a preview shows what production will: content
//! types by extension, strong `ETags` and Last-Modified with 304s, gzip and brotli by
//! Accept-Encoding, single byte ranges, `/dir/` → `dir/index.html`, `/dir` → a redirect to
//! `/dir/`, and the site's own `404.html`. Every response says `Cache-Control: no-cache`, so a
//! browser always revalidates and sees a rebuild at once.
//!
//! **Security.** The request path is percent-decoded exactly once and refused (with a plain 404,
//! revealing nothing) when it has `.`/`..` or empty segments, backslashes, NUL or control
//! characters, a drive letter, or a `%XX` left after decoding (double encoding). The file found
//! is then canonicalized and served only when it lies inside the canonicalized root, so a
//! symlink pointing out of the output is a 404 too. Folders are never listed.
//!
//! **Speed.** The hot path is a hash-map lookup: files are cached in memory keyed by the raw
//! request path, each with its body (for small files), content type, `ETag`, Last-Modified and
//! lazily made compressed variants. An entry is used only while the file's (device, inode,
//! size, mtime) is unchanged. That is checked with a `stat` when whatever writes the output
//! (the preview's builder) said it wrote since the entry's last check ([`Folder::writes`]), so a
//! rebuild is seen on the next request, and otherwise at most every [`REVALIDATE_AFTER`], so
//! a change made by anyone else is seen within that. The cache is bounded ([`CACHE_BYTES`]);
//! when full it is simply cleared.
//! Larger files are streamed from disk in 64 KiB chunks, never read whole.
//!
//! **Bounded resources.** [`run`] caps open connections at [`MAX_CONNECTIONS`] (an HTTP/1.1
//! connection has at most one request in flight, so this also caps requests, open files and
//! buffers); further clients wait in the kernel's accept queue. A client that does not finish
//! its request head within [`HEADER_READ_TIMEOUT`] (idle keep-alive included) is dropped, and
//! every connection runs on its own task, so slow clients stall nobody else.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::io::{self, Read, SeekFrom};
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::{Method, StatusCode, Uri};
use axum::response::Response;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::net::TcpListener;
use tokio::sync::{OnceCell, Semaphore, watch};
use tokio::task::JoinSet;
use tokio_util::io::ReaderStream;

/// Most connections open at once; the next clients wait in the accept queue.
pub(crate) const MAX_CONNECTIONS: usize = 1024;
/// How long a client may take to send a request head (or stay idle between requests).
pub(crate) const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(15);
/// How long [`run`] lets open connections finish after the shutdown signal.
pub(crate) const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// The most bytes the file cache holds (bodies and compressed variants) before it is cleared.
pub(crate) const CACHE_BYTES: usize = 64 << 20;
/// Files up to this size are read whole and kept in the cache; larger ones are streamed.
pub(crate) const SMALL_FILE: u64 = 256 << 10;
/// Text files (compressible types) up to this size are read whole too, to be compressed and
/// have the inject hook applied; beyond it they are streamed as they are.
pub(crate) const WHOLE_TEXT_FILE: u64 = 4 << 20;
/// Bodies smaller than this are sent uncompressed: compression would save nothing worth it.
pub(crate) const MIN_COMPRESS: usize = 1024;
/// How long a cached file is served without a look on disk, unless [`Folder::writes`] moved.
pub const REVALIDATE_AFTER: Duration = Duration::from_millis(500);
/// The read size when streaming a large file.
const STREAM_CHUNK: usize = 64 << 10;
/// What an entry costs in the cache besides its bytes (so the entry count is bounded too).
const ENTRY_OVERHEAD: usize = 512;

/// The hook applied to every text/html response body: the page's HTML in, the HTML to send out.
pub type Inject = Arc<dyn Fn(&str) -> String + Send + Sync>;

/// What the server serves.
pub struct Folder {
    /// The output folder.
    pub root: PathBuf,
    /// Applied to every text/html response body (the live-reload script in preview); `None`
    /// serves files as they are.
    pub inject: Option<Inject>,
    /// Counts the writes to the folder: whatever writes it adds one when it is done (before
    /// telling browsers to reload), and every cached file is checked on disk again.
    pub writes: Arc<AtomicU64>,
}

impl fmt::Debug for Folder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Folder")
            .field("root", &self.root)
            .field("inject", &self.inject.is_some())
            .field("writes", &self.writes)
            .finish()
    }
}

/// A [`Router`] whose fallback serves the site's files; other routes (the preview's
/// `/__sitegen/...`) can be merged into it.
pub fn router(site: Arc<Folder>) -> Router {
    let server = Arc::new(Server {
        site,
        cache: Cache::default(),
    });
    Router::new().fallback(move |request: Request| {
        let server = Arc::clone(&server);
        async move { server.handle(request).await }
    })
}

/// Serves `router` on `listener` until `shutdown` completes, then lets open connections finish
/// for [`SHUTDOWN_GRACE`] and drops the rest.
///
/// Connections are capped at [`MAX_CONNECTIONS`] and must send their request heads within
/// [`HEADER_READ_TIMEOUT`]. Errors accepting a connection (a client gone, file handles running
/// out) are logged and retried after a pause rather than ending the server.
pub async fn run(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let (stop, stopped) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut shutdown = pin!(shutdown);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(128 << 10);

    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    tracing::warn!("accepting a connection: {error}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Reap finished connections so the set stays small.
        while connections.try_join_next().is_some() {}
        // Small responses go out at once rather than waiting for Nagle's timer.
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(router.clone());
        let connection = http
            .serve_connection(TokioIo::new(stream), service)
            .with_upgrades();
        let mut stopped = stopped.clone();
        connections.spawn(async move {
            let _permit = permit;
            let mut connection = pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => return,
                _ = stopped.wait_for(|stop| *stop) => {}
            }
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        });
    }

    let _ = stop.send(true);
    let drain = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(SHUTDOWN_GRACE, drain).await.is_err() {
        connections.shutdown().await;
    }
    Ok(())
}

/// The site and its file cache, shared by every request.
struct Server {
    site: Arc<Folder>,
    cache: Cache,
}

/// What a request path names.
enum Found {
    /// A file to serve.
    File(Arc<Entry>),
    /// A folder asked for without its trailing slash.
    Folder,
    /// Nothing (or something refused).
    Nothing,
}

impl Server {
    async fn handle(self: Arc<Self>, request: Request) -> Response {
        let head = match *request.method() {
            Method::GET => false,
            Method::HEAD => true,
            _ => return method_not_allowed(),
        };
        let (parts, _) = request.into_parts();
        match Arc::clone(&self).find(parts.uri.path()).await {
            Found::File(entry) => {
                self.respond(&entry, &parts.headers, head, StatusCode::OK)
                    .await
            }
            Found::Folder => redirect_to_folder(&parts.uri),
            Found::Nothing => self.not_found(&parts.headers, head).await,
        }
    }

    /// The cached entry for `path` when the file is unchanged, otherwise a fresh look on disk.
    async fn find(self: Arc<Self>, path: &str) -> Found {
        let writes = self.site.writes.load(Ordering::Acquire);
        if let Some(entry) = self.cache.get(path)
            && entry.is_fresh(writes)
        {
            return Found::File(entry);
        }
        let path = path.to_owned();
        tokio::task::spawn_blocking(move || self.load(&path))
            .await
            .unwrap_or(Found::Nothing)
    }

    /// Resolves `path` on disk and caches what it finds.
    fn load(&self, path: &str) -> Found {
        let writes = self.site.writes.load(Ordering::Acquire);
        let Some((relative, folder)) = decode(path) else {
            return Found::Nothing;
        };
        let mut file = self.site.root.join(relative);
        if folder {
            file.push("index.html");
        }
        let Ok(metadata) = std::fs::metadata(&file) else {
            return Found::Nothing;
        };
        if metadata.is_dir() {
            return if folder || !self.inside_root(&file) {
                Found::Nothing
            } else {
                Found::Folder
            };
        }
        if !metadata.is_file() {
            return Found::Nothing;
        }
        let Ok(canonical) = std::fs::canonicalize(&file) else {
            return Found::Nothing;
        };
        match std::fs::canonicalize(&self.site.root) {
            Ok(root) if canonical.starts_with(&root) => {}
            _ => return Found::Nothing,
        }
        match Entry::read(file, canonical, self.site.inject.as_deref(), writes) {
            Ok(entry) => {
                let entry = Arc::new(entry);
                self.cache.insert(path, Arc::clone(&entry));
                Found::File(entry)
            }
            Err(_) => Found::Nothing,
        }
    }

    fn inside_root(&self, path: &Path) -> bool {
        match (
            std::fs::canonicalize(path),
            std::fs::canonicalize(&self.site.root),
        ) {
            (Ok(path), Ok(root)) => path.starts_with(root),
            _ => false,
        }
    }

    /// The site's `404.html` with status 404, or a plain one.
    async fn not_found(self: Arc<Self>, headers: &HeaderMap, head: bool) -> Response {
        match Arc::clone(&self).find("/404.html").await {
            Found::File(entry) => {
                self.respond(&entry, headers, head, StatusCode::NOT_FOUND)
                    .await
            }
            _ => plain(StatusCode::NOT_FOUND, "404 Not Found\n"),
        }
    }

    /// The response for `entry`: 200 (or `status`), 206, 304 or 416 as the headers ask.
    async fn respond(
        &self,
        entry: &Entry,
        request: &HeaderMap,
        head: bool,
        status: StatusCode,
    ) -> Response {
        let mut headers = HeaderMap::with_capacity(12);
        headers.insert(header::CONTENT_TYPE, entry.content_type.clone());
        headers.insert(header::CACHE_CONTROL, NO_CACHE);
        headers.insert(header::X_CONTENT_TYPE_OPTIONS, NOSNIFF);
        if entry.compressible {
            headers.insert(header::VARY, ACCEPT_ENCODING);
        }
        let ok = status == StatusCode::OK;
        // Validators and ranges belong to the file's own URL, not to a 404 page served elsewhere.
        if ok {
            headers.insert(header::ACCEPT_RANGES, BYTES);
            headers.insert(header::LAST_MODIFIED, entry.last_modified.clone());
        }

        // A range is served from the identity body; otherwise the best encoding accepted.
        let range = match request.get(header::RANGE) {
            Some(range) if ok && entry.if_range(request.get(header::IF_RANGE)) => {
                parse_range(range.as_bytes(), entry.len)
            }
            _ => Span::Whole,
        };
        let variant = match (&range, &entry.body) {
            (Span::Whole, Payload::Whole(body))
                if entry.compressible && body.len() >= MIN_COMPRESS =>
            {
                match choose_encoding(request.get(header::ACCEPT_ENCODING)) {
                    Encoding::Identity => None,
                    encoding => self.variant(entry, body, encoding).await,
                }
            }
            _ => None,
        };
        if ok {
            let etag = variant.as_ref().map_or(&entry.etag, |(_, v)| &v.etag);
            headers.insert(header::ETAG, etag.clone());
            if entry.not_modified(request) {
                return with_headers(StatusCode::NOT_MODIFIED, headers, Body::empty());
            }
        }

        if let Some((encoding, variant)) = variant {
            headers.insert(header::CONTENT_ENCODING, encoding);
            headers.insert(
                header::CONTENT_LENGTH,
                HeaderValue::from(variant.bytes.len()),
            );
            let body = if head {
                Body::empty()
            } else {
                Body::from(variant.bytes.clone())
            };
            return with_headers(status, headers, body);
        }

        let (status, start, len) = match range {
            Span::Whole => (status, 0, entry.len),
            Span::Part(start, end) => {
                let content_range = format!("bytes {start}-{end}/{}", entry.len);
                if let Ok(value) = HeaderValue::from_str(&content_range) {
                    headers.insert(header::CONTENT_RANGE, value);
                }
                (StatusCode::PARTIAL_CONTENT, start, end - start + 1)
            }
            Span::Unsatisfiable => {
                let content_range = format!("bytes */{}", entry.len);
                if let Ok(value) = HeaderValue::from_str(&content_range) {
                    headers.insert(header::CONTENT_RANGE, value);
                }
                headers.remove(header::ETAG);
                headers.insert(header::CONTENT_TYPE, TEXT_PLAIN);
                return with_headers(
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    headers,
                    Body::from("416 Range Not Satisfiable\n"),
                );
            }
        };
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
        if head {
            return with_headers(status, headers, Body::empty());
        }
        let body = match &entry.body {
            Payload::Whole(body) => {
                let (start, end) = (to_usize(start), to_usize(start + len));
                Body::from(body.slice(start..end))
            }
            Payload::Stream => match stream(&entry.canonical, start, len).await {
                Ok(body) => body,
                Err(_) => return plain(StatusCode::NOT_FOUND, "404 Not Found\n"),
            },
        };
        with_headers(status, headers, body)
    }

    /// `entry`'s body in `encoding`, compressed on first use (off the async threads) and kept;
    /// `None` when compressing does not make it smaller.
    async fn variant<'a>(
        &self,
        entry: &'a Entry,
        body: &Bytes,
        encoding: Encoding,
    ) -> Option<(HeaderValue, &'a Variant)> {
        let (cell, name, suffix) = match encoding {
            Encoding::Brotli => (&entry.br, BR, "br"),
            Encoding::Gzip => (&entry.gzip, GZIP, "gz"),
            Encoding::Identity => return None,
        };
        let variant = cell
            .get_or_init(|| async {
                let body = body.clone();
                let compressed = tokio::task::spawn_blocking(move || compress(&body, encoding))
                    .await
                    .ok()
                    .flatten()?;
                self.cache.grow(compressed.len());
                let etag = format!("\"{}-{suffix}\"", entry.tag);
                Some(Variant {
                    bytes: compressed,
                    etag: HeaderValue::from_str(&etag).ok()?,
                })
            })
            .await
            .as_ref()?;
        Some((name, variant))
    }
}

/// One file as served: what is needed to answer for it without touching the disk again.
struct Entry {
    /// The file's path under the root as the request named it (re-checked on every request).
    file: PathBuf,
    /// Its canonical path, which large files are streamed from.
    canonical: PathBuf,
    /// The identity of the file version this entry was made from.
    stamp: Stamp,
    /// The folder's [`Folder::writes`] when the stamp was last found on disk, and when that was
    /// (in milliseconds of [`clock`]).
    checked_writes: AtomicU64,
    checked_at: AtomicU64,
    content_type: HeaderValue,
    /// Whether the type is text worth compressing.
    compressible: bool,
    /// The strong `ETag` (quoted) and its opaque tag alone.
    etag: HeaderValue,
    tag: Box<str>,
    last_modified: HeaderValue,
    /// The modification time in whole seconds since the epoch, for If-Modified-Since.
    modified: u64,
    /// The length of the identity body.
    len: u64,
    body: Payload,
    gzip: OnceCell<Option<Variant>>,
    br: OnceCell<Option<Variant>>,
}

/// Where an entry's identity body is.
enum Payload {
    /// In memory (after the inject hook, for HTML).
    Whole(Bytes),
    /// On disk, streamed per request.
    Stream,
}

/// A compressed body with its own `ETag`.
struct Variant {
    bytes: Bytes,
    etag: HeaderValue,
}

/// What identifies one version of a file: when any part changes, the cache entry is stale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    device: u64,
    inode: u64,
    len: u64,
    modified: Option<SystemTime>,
}

impl Stamp {
    fn of(metadata: &std::fs::Metadata) -> Self {
        #[cfg(unix)]
        let (device, inode) = {
            use std::os::unix::fs::MetadataExt;
            (metadata.dev(), metadata.ino())
        };
        #[cfg(not(unix))]
        let (device, inode) = (0, 0);
        Self {
            device,
            inode,
            len: metadata.len(),
            modified: metadata.modified().ok(),
        }
    }
}

impl Entry {
    /// Reads the file at `canonical` (found as `file`) into an entry.
    fn read(
        file: PathBuf,
        canonical: PathBuf,
        inject: Option<&(dyn Fn(&str) -> String + Send + Sync)>,
        writes: u64,
    ) -> io::Result<Self> {
        let mut handle = std::fs::File::open(&canonical)?;
        // The stamp is taken before reading: a file rewritten meanwhile is seen as changed.
        let metadata = handle.metadata()?;
        if !metadata.is_file() {
            return Err(io::ErrorKind::InvalidInput.into());
        }
        let stamp = Stamp::of(&metadata);
        let kind = kind_of(&file);
        let size = metadata.len();
        let modified_time = metadata.modified().unwrap_or(UNIX_EPOCH);
        let modified = modified_time
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        let whole = size <= SMALL_FILE || (kind.compressible && size <= WHOLE_TEXT_FILE);

        let (body, len, tag) = if whole {
            let mut bytes = Vec::with_capacity(to_usize(size));
            handle
                .by_ref()
                .take(WHOLE_TEXT_FILE)
                .read_to_end(&mut bytes)?;
            if let (true, Some(inject)) = (kind.html, inject) {
                bytes = inject(&String::from_utf8_lossy(&bytes)).into_bytes();
            }
            let hash = blake3::hash(&bytes);
            let tag = crate::hash::hex(&hash.as_bytes()[..10]);
            let len = bytes.len() as u64;
            (Payload::Whole(Bytes::from(bytes)), len, tag)
        } else {
            let nanos = modified_time
                .duration_since(UNIX_EPOCH)
                .map_or(0, |since| since.as_nanos());
            (Payload::Stream, size, format!("{size:x}-{nanos:x}"))
        };
        let etag = HeaderValue::from_str(&format!("\"{tag}\""))
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidData))?;
        let last_modified = HeaderValue::from_str(&httpdate::fmt_http_date(modified_time))
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidData))?;
        Ok(Self {
            file,
            canonical,
            stamp,
            checked_writes: AtomicU64::new(writes),
            checked_at: AtomicU64::new(clock()),
            content_type: HeaderValue::from_static(kind.mime),
            compressible: kind.compressible,
            etag,
            tag: tag.into(),
            last_modified,
            modified,
            len,
            body,
            gzip: OnceCell::new(),
            br: OnceCell::new(),
        })
    }

    /// Whether the file on disk is still the one this entry was made from, the folder having
    /// seen `writes` writes: looked up on disk when the folder was written since the last look,
    /// or that look is older than [`REVALIDATE_AFTER`].
    fn is_fresh(&self, writes: u64) -> bool {
        let now = clock();
        if self.checked_writes.load(Ordering::Acquire) == writes
            && now.saturating_sub(self.checked_at.load(Ordering::Relaxed))
                < u64::try_from(REVALIDATE_AFTER.as_millis()).unwrap_or(u64::MAX)
        {
            return true;
        }
        let fresh =
            std::fs::metadata(&self.file).is_ok_and(|metadata| Stamp::of(&metadata) == self.stamp);
        if fresh {
            self.checked_at.store(now, Ordering::Relaxed);
            self.checked_writes.store(writes, Ordering::Release);
        }
        fresh
    }

    /// What the entry costs in the cache.
    fn cost(&self) -> usize {
        let body = match &self.body {
            Payload::Whole(body) => body.len(),
            Payload::Stream => 0,
        };
        body + ENTRY_OVERHEAD
    }

    /// Whether the request's validators match: If-None-Match (any encoding of this content),
    /// else If-Modified-Since.
    fn not_modified(&self, request: &HeaderMap) -> bool {
        if let Some(tags) = request.get(header::IF_NONE_MATCH) {
            return tags.to_str().is_ok_and(|tags| {
                tags.split(',').any(|candidate| {
                    let candidate = candidate.trim();
                    if candidate == "*" {
                        return true;
                    }
                    let candidate = candidate.strip_prefix("W/").unwrap_or(candidate);
                    let Some(opaque) = candidate
                        .strip_prefix('"')
                        .and_then(|rest| rest.strip_suffix('"'))
                    else {
                        return false;
                    };
                    let opaque = opaque
                        .strip_suffix("-br")
                        .or_else(|| opaque.strip_suffix("-gz"))
                        .unwrap_or(opaque);
                    opaque == &*self.tag
                })
            });
        }
        request
            .get(header::IF_MODIFIED_SINCE)
            .and_then(|since| since.to_str().ok())
            .and_then(|since| httpdate::parse_http_date(since).ok())
            .and_then(|since| since.duration_since(UNIX_EPOCH).ok())
            .is_some_and(|since| self.modified <= since.as_secs())
    }

    /// Whether a Range header may be honoured: no If-Range, or one naming this version.
    fn if_range(&self, condition: Option<&HeaderValue>) -> bool {
        let Some(condition) = condition else {
            return true;
        };
        let bytes = condition.as_bytes();
        if bytes.starts_with(b"\"") {
            return bytes == self.etag.as_bytes();
        }
        if bytes.starts_with(b"W/") {
            return false;
        }
        condition
            .to_str()
            .ok()
            .and_then(|date| httpdate::parse_http_date(date).ok())
            .and_then(|date| date.duration_since(UNIX_EPOCH).ok())
            .is_some_and(|date| date.as_secs() == self.modified)
    }
}

/// Milliseconds since the server's first use of this clock.
fn clock() -> u64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let start = START.get_or_init(std::time::Instant::now);
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// The entries by raw request path, with the bytes they hold.
#[derive(Default)]
struct Cache {
    inner: RwLock<CacheInner>,
    /// Bytes of compressed variants made since the last clear.
    variants: AtomicUsize,
}

#[derive(Default)]
struct CacheInner {
    entries: HashMap<Box<str>, Arc<Entry>>,
    bytes: usize,
}

impl Cache {
    fn get(&self, path: &str) -> Option<Arc<Entry>> {
        let inner = self
            .inner
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        inner.entries.get(path).cloned()
    }

    fn insert(&self, path: &str, entry: Arc<Entry>) {
        let cost = entry.cost() + path.len();
        if cost > CACHE_BYTES / 4 {
            return;
        }
        let mut inner = self
            .inner
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if inner.bytes + cost + self.variants.load(Ordering::Relaxed) > CACHE_BYTES {
            inner.entries.clear();
            inner.bytes = 0;
            self.variants.store(0, Ordering::Relaxed);
        }
        if let Some(old) = inner.entries.insert(path.into(), entry) {
            inner.bytes -= old.cost() + path.len();
        }
        inner.bytes += cost;
    }

    /// Counts `bytes` more held by a compressed variant.
    fn grow(&self, bytes: usize) {
        self.variants.fetch_add(bytes, Ordering::Relaxed);
    }
}

/// A file type: its Content-Type and whether it is text worth compressing.
struct Kind {
    mime: &'static str,
    compressible: bool,
    html: bool,
}

/// The type of `path` by its extension; `application/octet-stream` when unknown.
fn kind_of(path: &Path) -> Kind {
    let extension = path
        .extension()
        .and_then(|extension| extension.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let (mime, compressible) = match extension.as_str() {
        "html" | "htm" => ("text/html; charset=utf-8", true),
        "css" => ("text/css; charset=utf-8", true),
        "js" | "mjs" => ("text/javascript; charset=utf-8", true),
        "json" | "map" => ("application/json", true),
        "webmanifest" => ("application/manifest+json", true),
        "xml" => ("application/xml", true),
        "rss" => ("application/rss+xml", true),
        "atom" => ("application/atom+xml", true),
        "xsl" | "xslt" => ("application/xslt+xml", true),
        "svg" => ("image/svg+xml", true),
        "txt" => ("text/plain; charset=utf-8", true),
        "md" => ("text/markdown; charset=utf-8", true),
        "csv" => ("text/csv; charset=utf-8", true),
        "png" => ("image/png", false),
        "jpg" | "jpeg" => ("image/jpeg", false),
        "gif" => ("image/gif", false),
        "webp" => ("image/webp", false),
        "avif" => ("image/avif", false),
        "ico" => ("image/x-icon", false),
        "bmp" => ("image/bmp", false),
        "woff2" => ("font/woff2", false),
        "woff" => ("font/woff", false),
        "ttf" => ("font/ttf", false),
        "otf" => ("font/otf", false),
        "pdf" => ("application/pdf", false),
        "wasm" => ("application/wasm", false),
        "mp4" => ("video/mp4", false),
        "webm" => ("video/webm", false),
        "mp3" => ("audio/mpeg", false),
        "ogg" => ("audio/ogg", false),
        "wav" => ("audio/wav", false),
        "zip" => ("application/zip", false),
        "gz" => ("application/gzip", false),
        _ => ("application/octet-stream", false),
    };
    Kind {
        mime,
        compressible,
        html: mime.starts_with("text/html"),
    }
}

/// The request path decoded once and checked: the relative path under the root, and whether
/// it names a folder (a trailing slash). `None` for anything refused.
fn decode(raw: &str) -> Option<(PathBuf, bool)> {
    let decoded = percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .ok()?;
    let rest = decoded.strip_prefix('/')?;
    if decoded.chars().any(|c| c == '\\' || c.is_control()) || still_encoded(&decoded) {
        return None;
    }
    let (body, folder) = match rest.strip_suffix('/') {
        Some(body) => (body, true),
        None => (rest, rest.is_empty()),
    };
    if !body.is_empty()
        && body.split('/').any(|segment| {
            segment.is_empty() || segment == "." || segment == ".." || is_drive(segment)
        })
    {
        return None;
    }
    Some((PathBuf::from(body), folder))
}

/// Whether `segment` starts like a Windows drive (`C:`).
fn is_drive(segment: &str) -> bool {
    let bytes = segment.as_bytes();
    bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':'
}

/// Whether `decoded` still holds a `%XX` escape: a double-encoded path.
fn still_encoded(decoded: &str) -> bool {
    decoded
        .as_bytes()
        .windows(3)
        .any(|w| w[0] == b'%' && w[1].is_ascii_hexdigit() && w[2].is_ascii_hexdigit())
}

/// A Range request's outcome.
#[derive(Debug, PartialEq, Eq)]
enum Span {
    /// No (usable) range: the whole body.
    Whole,
    /// Bytes `start..=end`.
    Part(u64, u64),
    /// A range beyond the body: 416.
    Unsatisfiable,
}

/// A single `bytes=a-b`, `a-` or `-n` range of a `len`-byte body. Other units, several ranges
/// and malformed ones are ignored (the whole body is served, as RFC 9110 allows).
fn parse_range(value: &[u8], len: u64) -> Span {
    let Some(spec) = std::str::from_utf8(value)
        .ok()
        .and_then(|value| value.trim().strip_prefix("bytes="))
    else {
        return Span::Whole;
    };
    if spec.contains(',') {
        return Span::Whole;
    }
    let Some((first, last)) = spec.split_once('-') else {
        return Span::Whole;
    };
    let (first, last) = (first.trim(), last.trim());
    if first.is_empty() {
        let Ok(suffix) = last.parse::<u64>() else {
            return Span::Whole;
        };
        if suffix == 0 || len == 0 {
            return Span::Unsatisfiable;
        }
        return Span::Part(len.saturating_sub(suffix), len - 1);
    }
    let Ok(start) = first.parse::<u64>() else {
        return Span::Whole;
    };
    let end = if last.is_empty() {
        u64::MAX
    } else {
        match last.parse::<u64>() {
            Ok(end) if end >= start => end,
            _ => return Span::Whole,
        }
    };
    if start >= len {
        return Span::Unsatisfiable;
    }
    Span::Part(start, end.min(len - 1))
}

/// A content coding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Brotli,
    Gzip,
    Identity,
}

/// The coding to answer with for an Accept-Encoding header: the highest q-value among br and
/// gzip (br on a tie), identity when neither is acceptable.
fn choose_encoding(accept: Option<&HeaderValue>) -> Encoding {
    let Some(accept) = accept.and_then(|accept| accept.to_str().ok()) else {
        return Encoding::Identity;
    };
    let (mut br, mut gzip, mut any) = (None, None, None);
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or("").trim();
        let mut q = 1000;
        for parameter in parts {
            let parameter = parameter.trim();
            if let Some(value) = parameter
                .strip_prefix("q=")
                .or_else(|| parameter.strip_prefix("Q="))
            {
                q = quality(value);
            }
        }
        if coding.eq_ignore_ascii_case("br") {
            br = Some(q);
        } else if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
            gzip = Some(q);
        } else if coding == "*" {
            any = Some(q);
        }
    }
    let br = br.or(any).unwrap_or(0);
    let gzip = gzip.or(any).unwrap_or(0);
    if br > 0 && br >= gzip {
        Encoding::Brotli
    } else if gzip > 0 {
        Encoding::Gzip
    } else {
        Encoding::Identity
    }
}

/// A byte offset or size of a file as an index (they fit: the file was read or mapped).
fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// A q-value in thousandths; 0 when malformed.
fn quality(value: &str) -> u32 {
    match value.trim().parse::<f32>() {
        // In 0..=1000 by the guard: the cast neither truncates nor loses a sign.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Ok(q) if (0.0..=1.0).contains(&q) => (q * 1000.0).round() as u32,
        _ => 0,
    }
}

/// `body` compressed, or `None` when that does not make it smaller.
fn compress(body: &[u8], encoding: Encoding) -> Option<Bytes> {
    use std::io::Write;
    let compressed = match encoding {
        Encoding::Gzip => {
            let mut encoder = flate2::write::GzEncoder::new(
                Vec::with_capacity(body.len() / 3),
                flate2::Compression::new(6),
            );
            encoder.write_all(body).ok()?;
            encoder.finish().ok()?
        }
        Encoding::Brotli => {
            let mut out = Vec::with_capacity(body.len() / 3);
            {
                let mut encoder = brotli::CompressorWriter::new(&mut out, 16 << 10, 5, 22);
                encoder.write_all(body).ok()?;
                encoder.flush().ok()?;
            }
            out
        }
        Encoding::Identity => return None,
    };
    (compressed.len() < body.len()).then(|| Bytes::from(compressed))
}

/// `len` bytes of the file at `path` from `start`, streamed.
async fn stream(path: &Path, start: u64, len: u64) -> io::Result<Body> {
    let mut file = tokio::fs::File::open(path).await?;
    if start > 0 {
        file.seek(SeekFrom::Start(start)).await?;
    }
    Ok(Body::from_stream(ReaderStream::with_capacity(
        file.take(len),
        STREAM_CHUNK,
    )))
}

/// A 301 from `/dir` to `/dir/`, keeping the query string.
fn redirect_to_folder(uri: &Uri) -> Response {
    let location = match uri.query() {
        Some(query) => format!("{}/?{query}", uri.path()),
        None => format!("{}/", uri.path()),
    };
    let mut headers = HeaderMap::with_capacity(4);
    headers.insert(header::CACHE_CONTROL, NO_CACHE);
    match HeaderValue::from_str(&location) {
        Ok(location) => {
            headers.insert(header::LOCATION, location);
            with_headers(StatusCode::MOVED_PERMANENTLY, headers, Body::empty())
        }
        Err(_) => plain(StatusCode::NOT_FOUND, "404 Not Found\n"),
    }
}

/// 405 for anything but GET and HEAD.
fn method_not_allowed() -> Response {
    let mut response = plain(StatusCode::METHOD_NOT_ALLOWED, "405 Method Not Allowed\n");
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
    response
}

/// A short plain-text response.
fn plain(status: StatusCode, text: &'static str) -> Response {
    let mut headers = HeaderMap::with_capacity(4);
    headers.insert(header::CONTENT_TYPE, TEXT_PLAIN);
    headers.insert(header::CACHE_CONTROL, NO_CACHE);
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, NOSNIFF);
    with_headers(status, headers, Body::from(text))
}

fn with_headers(status: StatusCode, headers: HeaderMap, body: Body) -> Response {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

const NO_CACHE: HeaderValue = HeaderValue::from_static("no-cache");
const NOSNIFF: HeaderValue = HeaderValue::from_static("nosniff");
const ACCEPT_ENCODING: HeaderValue = HeaderValue::from_static("accept-encoding");
const BYTES: HeaderValue = HeaderValue::from_static("bytes");
const TEXT_PLAIN: HeaderValue = HeaderValue::from_static("text/plain; charset=utf-8");
const BR: HeaderValue = HeaderValue::from_static("br");
const GZIP: HeaderValue = HeaderValue::from_static("gzip");
