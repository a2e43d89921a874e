//! The preview's static file server over real HTTP: `serve::server::router` + `run` on
//! 127.0.0.1:0 against a temporary folder.
//!
//! Requests are written by hand over a `TcpStream` (with `Connection: close`), so that paths
//! reach the server exactly as written (an HTTP client would normalize `..` and `%2e`) and
//! bodies arrive as sent (no automatic decompression).

use std::fmt::Write as _;
use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sitegen::serve::server::{self, Folder, Inject};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

const SECRET: &str = "TOP SECRET outside the root";

/// A server on a loopback port; stopped when dropped.
struct TestServer {
    addr: SocketAddr,
    writes: Arc<std::sync::atomic::AtomicU64>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    async fn start(root: &Path, inject: Option<Inject>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let writes: Arc<std::sync::atomic::AtomicU64> = Arc::default();
        let site = Arc::new(Folder {
            root: root.to_path_buf(),
            inject,
            writes: Arc::clone(&writes),
        });
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server::run(listener, server::router(site), async move {
            let _ = stopped.await;
        }));
        Self {
            addr,
            writes,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Says the folder was written, as the preview's builder does after a build.
    fn wrote(&self) {
        self.writes
            .fetch_add(1, std::sync::atomic::Ordering::Release);
    }

    async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        request(self.addr, "GET", path, headers).await
    }

    /// Stops the server and waits for it.
    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let result = tokio::time::timeout(Duration::from_secs(10), task).await;
            assert!(result.is_ok(), "the server did not stop");
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A response as read off the wire.
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    #[track_caller]
    fn expect_header(&self, name: &str) -> &str {
        self.header(name)
            .unwrap_or_else(|| panic!("no {name} header in {:?}", self.headers))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends one request exactly as written and reads the whole response.
async fn request(addr: SocketAddr, method: &str, target: &str, headers: &[(&str, &str)]) -> Reply {
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        let _ = write!(head, "{name}: {value}\r\n");
    }
    head.push_str("\r\n");
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(head.as_bytes()).await.unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.unwrap();
        raw
    };
    let raw = tokio::time::timeout(Duration::from_secs(10), exchange)
        .await
        .expect("the response took over 10 s");
    parse(&raw)
}

fn parse(raw: &[u8]) -> Reply {
    let split = raw
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head in {:?}", String::from_utf8_lossy(raw)));
    let head = std::str::from_utf8(&raw[..split]).unwrap();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status = status_line.split(' ').nth(1).unwrap().parse().unwrap();
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    Reply {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

/// A site folder in a temporary directory, with a secret beside it.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new(with_404: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("public");
        std::fs::create_dir_all(root.join("a")).unwrap();
        std::fs::create_dir_all(root.join("empty")).unwrap();
        std::fs::write(dir.path().join("secret"), SECRET).unwrap();
        std::fs::create_dir_all(dir.path().join("outside")).unwrap();
        std::fs::write(dir.path().join("outside/secret.txt"), SECRET).unwrap();

        std::fs::write(
            root.join("index.html"),
            "<!doctype html><title>home</title><p>home</p>",
        )
        .unwrap();
        std::fs::write(root.join("a/index.html"), big_html("page a")).unwrap();
        std::fs::write(root.join("style.css"), css()).unwrap();
        std::fs::write(root.join("data.json"), r#"{"ok": true}"#).unwrap();
        std::fs::write(root.join("pic.png"), b"\x89PNG\r\n\x1a\n0000").unwrap();
        std::fs::write(root.join("font.woff2"), b"wOF2").unwrap();
        std::fs::write(root.join("odd.unknownext"), b"?").unwrap();
        std::fs::write(root.join("big.bin"), big_binary()).unwrap();
        if with_404 {
            std::fs::write(
                root.join("404.html"),
                "<!doctype html><p>custom not found</p>",
            )
            .unwrap();
        }
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(
                dir.path().join("outside/secret.txt"),
                root.join("leak.txt"),
            )
            .unwrap();
            std::os::unix::fs::symlink(dir.path().join("outside"), root.join("leakdir")).unwrap();
        }
        Self { dir }
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("public")
    }

    fn read(&self, path: &str) -> Vec<u8> {
        std::fs::read(self.root().join(path)).unwrap()
    }
}

fn css() -> String {
    let mut css = String::new();
    for i in 0..200 {
        let _ = writeln!(
            css,
            ".rule-{i} {{ color: #{:06x}; margin: {i}px; }}",
            i * 4099
        );
    }
    css
}

fn big_html(title: &str) -> String {
    let mut html = format!("<!doctype html><html><head><title>{title}</title></head><body>");
    for i in 0..100 {
        let _ = writeln!(
            html,
            "<p>Paragraph {i} of {title}, long enough to compress.</p>"
        );
    }
    html.push_str("</body></html>\n");
    html
}

/// 1 MiB and a bit of pseudo-random bytes: streamed, not cached whole.
fn big_binary() -> Vec<u8> {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    (0..(1 << 20) + 12_345)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        })
        .collect()
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn unbrotli(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    brotli::Decompressor::new(bytes, 4096)
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_types_and_standard_headers() {
    let fixture = Fixture::new(true);
    let server = TestServer::start(&fixture.root(), None).await;

    for (path, expected) in [
        ("/", "text/html; charset=utf-8"),
        ("/index.html", "text/html; charset=utf-8"),
        ("/a/", "text/html; charset=utf-8"),
        ("/style.css", "text/css; charset=utf-8"),
        ("/data.json", "application/json"),
        ("/pic.png", "image/png"),
        ("/font.woff2", "font/woff2"),
        ("/big.bin", "application/octet-stream"),
        ("/odd.unknownext", "application/octet-stream"),
    ] {
        let reply = server.get(path, &[]).await;
        assert_eq!(reply.status, 200, "{path}");
        assert_eq!(reply.expect_header("content-type"), expected, "{path}");
        assert_eq!(reply.expect_header("x-content-type-options"), "nosniff");
        assert_eq!(reply.expect_header("cache-control"), "no-cache");
        assert_eq!(reply.expect_header("accept-ranges"), "bytes");
        assert!(
            reply.expect_header("etag").starts_with('"'),
            "{path}: a strong ETag"
        );
        reply.expect_header("last-modified");
        let len: usize = reply.expect_header("content-length").parse().unwrap();
        assert_eq!(len, reply.body.len(), "{path}");
    }
    let home = server.get("/", &[]).await;
    assert_eq!(home.body, fixture.read("index.html"));
    let big = server.get("/big.bin", &[]).await;
    assert!(
        big.body == fixture.read("big.bin"),
        "the streamed file arrives whole"
    );

    // An ordinary HTTP client sees the same.
    let client = reqwest::Client::new();
    let response = client
        .get(format!("http://{}/style.css", server.addr))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/css; charset=utf-8"
    );
    assert_eq!(response.bytes().await.unwrap(), fixture.read("style.css"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validators_give_304_without_a_body() {
    let fixture = Fixture::new(true);
    let server = TestServer::start(&fixture.root(), None).await;

    for path in ["/style.css", "/big.bin", "/a/"] {
        let first = server.get(path, &[]).await;
        let etag = first.expect_header("etag").to_owned();
        let modified = first.expect_header("last-modified").to_owned();

        let revalidated = server.get(path, &[("If-None-Match", &etag)]).await;
        assert_eq!(revalidated.status, 304, "{path}");
        assert!(revalidated.body.is_empty());
        assert_eq!(revalidated.expect_header("etag"), etag);

        let listed = server
            .get(path, &[("If-None-Match", &format!("\"nope\", {etag}"))])
            .await;
        assert_eq!(listed.status, 304, "{path}: one of a list");

        let other = server
            .get(path, &[("If-None-Match", "\"something-else\"")])
            .await;
        assert_eq!(other.status, 200, "{path}");

        let since = server.get(path, &[("If-Modified-Since", &modified)]).await;
        assert_eq!(since.status, 304, "{path}");
        assert!(since.body.is_empty());

        let old = server
            .get(
                path,
                &[("If-Modified-Since", "Sat, 01 Jan 2000 00:00:00 GMT")],
            )
            .await;
        assert_eq!(old.status, 200, "{path}");

        // If-None-Match wins over If-Modified-Since.
        let both = server
            .get(
                path,
                &[
                    ("If-None-Match", "\"something-else\""),
                    ("If-Modified-Since", &modified),
                ],
            )
            .await;
        assert_eq!(both.status, 200, "{path}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_and_brotli_by_accept_encoding() {
    let fixture = Fixture::new(true);
    let server = TestServer::start(&fixture.root(), None).await;
    let css = fixture.read("style.css");
    assert!(css.len() > 1024);

    let gzip = server
        .get("/style.css", &[("Accept-Encoding", "gzip")])
        .await;
    assert_eq!(gzip.expect_header("content-encoding"), "gzip");
    assert_eq!(gzip.expect_header("vary"), "accept-encoding");
    assert!(gzip.body.len() < css.len());
    assert_eq!(gunzip(&gzip.body), css);

    let br = server
        .get("/style.css", &[("Accept-Encoding", "gzip, deflate, br")])
        .await;
    assert_eq!(br.expect_header("content-encoding"), "br");
    assert_eq!(unbrotli(&br.body), css);
    assert_ne!(br.expect_header("etag"), gzip.expect_header("etag"));

    // q-values decide; q=0 refuses.
    let preferred = server
        .get("/style.css", &[("Accept-Encoding", "br;q=0.5, gzip;q=0.9")])
        .await;
    assert_eq!(preferred.expect_header("content-encoding"), "gzip");
    let refused = server
        .get("/style.css", &[("Accept-Encoding", "br;q=0, gzip;q=0")])
        .await;
    assert_eq!(refused.header("content-encoding"), None);
    assert_eq!(refused.body, css);

    let identity = server.get("/style.css", &[]).await;
    assert_eq!(identity.header("content-encoding"), None);
    assert_eq!(identity.expect_header("vary"), "accept-encoding");
    assert_eq!(identity.body, css);

    // The compressed ETag revalidates too.
    let etag = br.expect_header("etag");
    let revalidated = server
        .get(
            "/style.css",
            &[("Accept-Encoding", "br"), ("If-None-Match", etag)],
        )
        .await;
    assert_eq!(revalidated.status, 304);

    // HTML compresses; tiny bodies and binary types do not.
    let page = server.get("/a/", &[("Accept-Encoding", "br")]).await;
    assert_eq!(page.expect_header("content-encoding"), "br");
    assert_eq!(unbrotli(&page.body), fixture.read("a/index.html"));
    let tiny = server.get("/", &[("Accept-Encoding", "gzip, br")]).await;
    assert_eq!(tiny.header("content-encoding"), None);
    let binary = server
        .get("/big.bin", &[("Accept-Encoding", "gzip, br")])
        .await;
    assert_eq!(binary.header("content-encoding"), None);
    assert_eq!(binary.header("vary"), None);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_has_the_headers_and_no_body() {
    let fixture = Fixture::new(true);
    let server = TestServer::start(&fixture.root(), None).await;
    for path in ["/style.css", "/big.bin", "/"] {
        let get = server.get(path, &[]).await;
        let head = request(server.addr, "HEAD", path, &[]).await;
        assert_eq!(head.status, 200);
        assert!(head.body.is_empty(), "{path}: HEAD sent a body");
        for name in ["content-type", "content-length", "etag", "last-modified"] {
            assert_eq!(head.header(name), get.header(name), "{path}: {name}");
        }
    }
    let missing = request(server.addr, "HEAD", "/missing", &[]).await;
    assert_eq!(missing.status, 404);
    assert!(missing.body.is_empty());

    for method in ["POST", "PUT", "DELETE", "OPTIONS"] {
        let refused = request(server.addr, method, "/", &[("Content-Length", "0")]).await;
        assert_eq!(refused.status, 405, "{method}");
        assert_eq!(refused.expect_header("allow"), "GET, HEAD");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn byte_ranges() {
    let fixture = Fixture::new(true);
    let server = TestServer::start(&fixture.root(), None).await;
    for file in ["style.css", "big.bin"] {
        let path = format!("/{file}");
        let whole = fixture.read(file);
        let len = whole.len();

        let first = server.get(&path, &[("Range", "bytes=0-99")]).await;
        assert_eq!(first.status, 206, "{file}");
        assert_eq!(
            first.expect_header("content-range"),
            format!("bytes 0-99/{len}")
        );
        assert_eq!(first.body, whole[..100]);

        let middle = server
            .get(
                &path,
                &[("Range", "bytes=1000-1999"), ("Accept-Encoding", "gzip")],
            )
            .await;
        assert_eq!(middle.status, 206, "{file}");
        assert_eq!(
            middle.header("content-encoding"),
            None,
            "ranges are of the identity body"
        );
        assert_eq!(middle.body, whole[1000..2000]);

        let tail = server.get(&path, &[("Range", "bytes=-10")]).await;
        assert_eq!(tail.status, 206);
        assert_eq!(
            tail.expect_header("content-range"),
            format!("bytes {}-{}/{len}", len - 10, len - 1)
        );
        assert_eq!(tail.body, whole[len - 10..]);

        let open = server.get(&path, &[("Range", "bytes=100-")]).await;
        assert_eq!(open.status, 206);
        assert_eq!(open.body, whole[100..]);

        let past_end = server
            .get(&path, &[("Range", &format!("bytes={}-", len + 10))])
            .await;
        assert_eq!(past_end.status, 416, "{file}");
        assert_eq!(
            past_end.expect_header("content-range"),
            format!("bytes */{len}")
        );

        // If-Range with a stale validator gets the whole body.
        let stale = server
            .get(&path, &[("Range", "bytes=0-9"), ("If-Range", "\"stale\"")])
            .await;
        assert_eq!(stale.status, 200);
        assert_eq!(stale.body.len(), len);
        let etag = first.expect_header("etag");
        let current = server
            .get(&path, &[("Range", "bytes=0-9"), ("If-Range", etag)])
            .await;
        assert_eq!(current.status, 206);
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_found_and_folder_redirects() {
    let fixture = Fixture::new(true);
    let server = TestServer::start(&fixture.root(), None).await;

    let missing = server.get("/no/such/page/", &[]).await;
    assert_eq!(missing.status, 404);
    assert!(missing.text().contains("custom not found"));
    assert_eq!(
        missing.expect_header("content-type"),
        "text/html; charset=utf-8"
    );

    let redirect = server.get("/a", &[]).await;
    assert_eq!(redirect.status, 301);
    assert_eq!(redirect.expect_header("location"), "/a/");
    let with_query = server.get("/a?x=1&y=2", &[]).await;
    assert_eq!(with_query.expect_header("location"), "/a/?x=1&y=2");
    let page = server.get("/a/?x=1", &[]).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.body, fixture.read("a/index.html"));

    // A folder without index.html is not listed.
    let empty = server.get("/empty/", &[]).await;
    assert_eq!(empty.status, 404);
    assert!(empty.text().contains("custom not found"));
    server.stop().await;

    let bare = Fixture::new(false);
    let server = TestServer::start(&bare.root(), None).await;
    let missing = server.get("/nothing", &[]).await;
    assert_eq!(missing.status, 404);
    assert!(
        missing
            .expect_header("content-type")
            .starts_with("text/plain")
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traversal_attempts_are_refused() {
    let fixture = Fixture::new(true);
    let server = TestServer::start(&fixture.root(), None).await;
    let attempts = [
        "/../secret",
        "/%2e%2e/secret",
        "/%2E%2E/secret",
        "/%252e%252e/secret",
        "/..%2fsecret",
        "/a/..%2f..%2fsecret",
        "/a/..%5c..%5csecret",
        "/..\\secret",
        "/a/%2e%2e/%2e%2e/secret",
        "//etc/passwd",
        "/%2fetc%2fpasswd",
        "/C:/Windows/win.ini",
        "/a/%00/../../secret",
        "/leak.txt",
        "/leakdir/secret.txt",
        "/./index.html",
    ];
    for attempt in attempts {
        let reply = server.get(attempt, &[]).await;
        assert!(
            reply.status == 404 || reply.status == 400,
            "{attempt}: status {}",
            reply.status
        );
        assert!(
            !reply.text().contains("TOP SECRET"),
            "{attempt} leaked the secret"
        );
        assert!(
            !reply.text().contains("root:"),
            "{attempt} leaked /etc/passwd"
        );
    }
    // Refusals that reach the handler look like any missing page.
    assert_eq!(server.get("/%2e%2e/secret", &[]).await.status, 404);
    assert_eq!(server.get("/leak.txt", &[]).await.status, 404);
    // The symlinked folder is no redirect target either.
    assert_eq!(server.get("/leakdir", &[]).await.status, 404);
    // Ordinary escapes still work.
    std::fs::write(fixture.root().join("with space.txt"), "spaced").unwrap();
    assert_eq!(server.get("/with%20space.txt", &[]).await.text(), "spaced");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inject_applies_to_html_only() {
    let fixture = Fixture::new(true);
    let inject: Inject =
        Arc::new(|html: &str| html.replace("</body>", "<script>/*reload*/</script></body>"));
    let server = TestServer::start(&fixture.root(), Some(inject)).await;

    let page = server.get("/a/", &[]).await;
    let text = page.text();
    assert!(text.contains("<script>/*reload*/</script></body>"));
    assert_eq!(
        page.body.len(),
        page.expect_header("content-length")
            .parse::<usize>()
            .unwrap()
    );
    let br = server.get("/a/", &[("Accept-Encoding", "br")]).await;
    assert_eq!(
        unbrotli(&br.body),
        page.body,
        "compressed after the injection"
    );
    let missing = server.get("/missing/", &[]).await;
    assert_eq!(missing.status, 404);

    let css = server.get("/style.css", &[]).await;
    assert_eq!(css.body, fixture.read("style.css"));
    server.stop().await;

    // The ETag is of the injected bytes.
    let plain = TestServer::start(&fixture.root(), None).await;
    let raw = plain.get("/a/", &[]).await;
    assert_ne!(raw.expect_header("etag"), page.expect_header("etag"));
    plain.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_file_is_served_fresh() {
    let fixture = Fixture::new(true);
    let server = TestServer::start(&fixture.root(), None).await;

    for path in ["a/index.html", "style.css"] {
        let url = format!("/{path}");
        let before = server.get(&url, &[("Accept-Encoding", "gzip")]).await;
        let etag = before.expect_header("etag").to_owned();
        // Written in place (same size class, new bytes), as an editor or a build would.
        let changed = String::from_utf8(fixture.read(path))
            .unwrap()
            .replace('1', "7")
            + "\n";
        std::fs::write(fixture.root().join(path), &changed).unwrap();
        server.wrote();

        let after = server.get(&url, &[("Accept-Encoding", "gzip")]).await;
        assert_eq!(after.status, 200);
        assert_ne!(after.expect_header("etag"), etag, "{path}");
        assert_eq!(gunzip(&after.body), changed.as_bytes());
        let revalidated = server.get(&url, &[("If-None-Match", &etag)]).await;
        assert_eq!(
            revalidated.status, 200,
            "{path}: the old ETag no longer matches"
        );
    }

    // A rename over the file (how a build swaps files in) is seen too.
    let fresh = fixture.dir.path().join("fresh.html");
    std::fs::write(&fresh, "<p>swapped in</p>").unwrap();
    std::fs::rename(&fresh, fixture.root().join("index.html")).unwrap();
    server.wrote();
    assert_eq!(server.get("/", &[]).await.text(), "<p>swapped in</p>");

    // A removed file is gone; a new one appears.
    std::fs::remove_file(fixture.root().join("data.json")).unwrap();
    server.wrote();
    assert_eq!(server.get("/data.json", &[]).await.status, 404);
    std::fs::write(fixture.root().join("data.json"), "[]").unwrap();
    assert_eq!(server.get("/data.json", &[]).await.text(), "[]");

    // A change nobody announced is seen once the cached entry is due a look on disk.
    std::fs::write(fixture.root().join("data.json"), "[1]").unwrap();
    tokio::time::sleep(server::REVALIDATE_AFTER + Duration::from_millis(100)).await;
    assert_eq!(server.get("/data.json", &[]).await.text(), "[1]");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slow_clients_do_not_stall_others() {
    let fixture = Fixture::new(true);
    let server = TestServer::start(&fixture.root(), None).await;

    // 200 connections that send half a request head and stall.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut stalled = Vec::with_capacity(200);
    for _ in 0..200 {
        assert!(
            Instant::now() < deadline,
            "opening the slow connections took too long"
        );
        let mut stream =
            tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(server.addr))
                .await
                .expect("connect timed out")
                .unwrap();
        stream
            .write_all(b"GET /style.css HTTP/1.1\r\nHost: slow\r\nX-Half: ")
            .await
            .unwrap();
        stalled.push(stream);
    }

    // A normal request still gets through at once, several times.
    for _ in 0..5 {
        let started = Instant::now();
        let reply = server.get("/a/", &[]).await;
        assert_eq!(reply.status, 200);
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "a request took {:?} beside 200 slow clients",
            started.elapsed()
        );
    }
    // The stalled ones are still open (not yet timed out) and get nothing.
    let mut buffer = [0u8; 16];
    let probe =
        tokio::time::timeout(Duration::from_millis(100), stalled[0].read(&mut buffer)).await;
    assert!(probe.is_err(), "a half-sent request got an answer");

    drop(stalled);
    server.stop().await;
}
