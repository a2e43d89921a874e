//! `sitegen serve`: the real binary on a copy of a fixture, driven over HTTP and its
//! server-sent events: the reload script, rebuilds on edits, `css` for stylesheets, the error
//! overlay's events, the site lock, and AI copy that never blocks the preview.
//!
//! Every wait is bounded; every server is killed (by pid, through a guard) even when a test
//! fails.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::llm_mock::{MockLlm, Script};
use crate::support::{SiteTest, tree_of};

/// How long a server may take to start, and an edit to reach the browsers.
const START: Duration = Duration::from_secs(30);
const EVENT: Duration = Duration::from_secs(10);

/// The marker of the injected script.
const SCRIPT_MARK: &str = "sitegen serve: live reload";

/// A running `sitegen serve`, killed when dropped.
struct Serve {
    child: Child,
    port: u16,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Serve {
    /// Starts `sitegen serve --port 0 ARGS` on `site` and waits for its `serving` line.
    fn start(site: &SiteTest, args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sitegen"))
            .args(["serve", "--port", "0", "--root"])
            .arg(site.root())
            .args(args)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (lines, stdout) = collect(child.stdout.take().unwrap());
        let (_, stderr) = collect(child.stderr.take().unwrap());
        let mut serve = Self {
            child,
            port: 0,
            stdout,
            stderr,
        };
        let deadline = Instant::now() + START;
        while serve.port == 0 {
            match lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(line) => {
                    if let Some(rest) = line.strip_prefix("serving http://127.0.0.1:") {
                        serve.port = rest.trim_end_matches('/').parse().unwrap();
                    }
                }
                Err(e) => panic!(
                    "no `serving` line within {START:?} ({e:?})\n{}",
                    serve.output()
                ),
            }
        }
        serve
    }

    fn output(&self) -> String {
        format!(
            "stdout:\n{}\nstderr:\n{}",
            self.stdout.lock().unwrap(),
            self.stderr.lock().unwrap()
        )
    }

    /// `GET path`: the status and the body.
    fn get(&self, path: &str) -> (u16, String) {
        let mut stream = connect(self.port);
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut reader = BufReader::new(stream);
        let (status, chunked) = read_head(&mut reader);
        let mut body = Vec::new();
        if chunked {
            while let Some(chunk) = read_chunk(&mut reader) {
                body.extend(chunk);
            }
        } else {
            reader.read_to_end(&mut body).unwrap();
        }
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    /// Subscribes to `/__sitegen/events`; returns once the server said `hello`.
    fn events(&self) -> Events {
        let mut stream = connect(self.port);
        write!(
            stream,
            "GET /__sitegen/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n"
        )
        .unwrap();
        // Reads block for at most this long, so the reader thread never outlives the test by
        // much (the server sends a keep-alive comment only every 15 s).
        stream
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let (sender, received) = mpsc::channel();
        let reader_stream = stream.try_clone().unwrap();
        std::thread::spawn(move || read_events(reader_stream, &sender));
        let mut events = Events {
            received,
            seen: Vec::new(),
            stream,
        };
        events.expect("hello", EVENT, self);
        events
    }

    /// Waits until `GET path` answers 200 with a body containing `needle`.
    fn wait_for_text(&self, path: &str, needle: &str) -> String {
        let deadline = Instant::now() + EVENT;
        loop {
            let (status, body) = self.get(path);
            if status == 200 && body.contains(needle) {
                return body;
            }
            assert!(
                Instant::now() < deadline,
                "{path} did not show {needle:?} within {EVENT:?} (HTTP {status}):\n{body}\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// An open event stream.
struct Events {
    received: Receiver<(String, String)>,
    /// Every event seen so far, for failure messages.
    seen: Vec<String>,
    stream: TcpStream,
}

impl Drop for Events {
    fn drop(&mut self) {
        // Ends the reader thread's reads, and the server's stream with them.
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
    }
}

impl Events {
    /// Waits (at most `within`) for an event named `name`, skipping others; returns its data.
    #[track_caller]
    fn expect(&mut self, name: &str, within: Duration, serve: &Serve) -> String {
        let deadline = Instant::now() + within;
        loop {
            match self
                .received
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok((event, data)) => {
                    self.seen.push(event.clone());
                    if event == name {
                        return data;
                    }
                }
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => panic!(
                    "no `{name}` event within {within:?}; saw {:?}\n{}",
                    self.seen,
                    serve.output()
                ),
            }
        }
    }

    /// The events that arrive within `within`.
    fn drain(&mut self, within: Duration) -> Vec<String> {
        let deadline = Instant::now() + within;
        let mut names = Vec::new();
        while let Ok((event, _)) = self
            .received
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            names.push(event);
        }
        names
    }
}

fn connect(port: u16) -> TcpStream {
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(EVENT)).unwrap();
    stream.set_write_timeout(Some(EVENT)).unwrap();
    stream
}

/// Reads the response head: the status, and whether the body is chunked.
fn read_head(reader: &mut impl BufRead) -> (u16, bool) {
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {line:?}"));
    let mut chunked = false;
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        if line.trim().is_empty() {
            return (status, chunked);
        }
        let lower = line.to_ascii_lowercase();
        chunked |= lower.starts_with("transfer-encoding:") && lower.contains("chunked");
    }
}

/// One chunk of a chunked body; `None` at its end.
fn read_chunk(reader: &mut impl BufRead) -> Option<Vec<u8>> {
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let size = usize::from_str_radix(line.trim().split(';').next()?, 16).ok()?;
    if size == 0 {
        return None;
    }
    let mut chunk = vec![0; size + 2];
    reader.read_exact(&mut chunk).ok()?;
    chunk.truncate(size);
    Some(chunk)
}

/// Parses the server-sent events of a chunked response into (name, data) until it ends.
fn read_events(stream: TcpStream, sender: &mpsc::Sender<(String, String)>) {
    let mut reader = BufReader::new(stream);
    // The head, waiting out read timeouts.
    let chunked = loop {
        let mut peek = [0u8; 1];
        match reader.get_ref().peek(&mut peek) {
            Ok(0) => return,
            Ok(_) => break read_head(&mut reader).1,
            Err(e) if is_timeout(&e) => {}
            Err(_) => return,
        }
    };
    let mut text = String::new();
    let mut pending = Vec::new();
    loop {
        let mut buffer = [0u8; 4096];
        match reader.read(&mut buffer) {
            Ok(0) => return,
            Ok(n) => pending.extend_from_slice(&buffer[..n]),
            Err(e) if is_timeout(&e) => continue,
            Err(_) => return,
        }
        // Undo the chunked framing: whole chunks out of `pending` into `text`.
        if chunked {
            while let Some(end) = pending.windows(2).position(|w| w == b"\r\n") {
                let size_line = String::from_utf8_lossy(&pending[..end]).into_owned();
                let Ok(size) = usize::from_str_radix(size_line.trim(), 16) else {
                    return;
                };
                if pending.len() < end + 2 + size + 2 {
                    break;
                }
                text.push_str(&String::from_utf8_lossy(&pending[end + 2..end + 2 + size]));
                pending.drain(..end + 2 + size + 2);
            }
        } else {
            text.push_str(&String::from_utf8_lossy(&pending));
            pending.clear();
        }
        while let Some(end) = text.find("\n\n") {
            let block: String = text.drain(..end + 2).collect();
            let (mut name, mut data) = (String::new(), Vec::new());
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    v.trim().clone_into(&mut name);
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push(v.strip_prefix(' ').unwrap_or(v).to_owned());
                }
            }
            // As browsers do: an event without data is not dispatched.
            if data.is_empty() {
                continue;
            }
            if !name.is_empty() && sender.send((name, data.join("\n"))).is_err() {
                return;
            }
        }
    }
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

/// Lines of a child's pipe: each sent to the receiver and kept in the text.
fn collect(pipe: impl Read + Send + 'static) -> (Receiver<String>, Arc<Mutex<String>>) {
    let (sender, lines) = mpsc::channel();
    let text = Arc::new(Mutex::new(String::new()));
    let all = Arc::clone(&text);
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { return };
            let _ = writeln!(all.lock().unwrap(), "{line}");
            let _ = sender.send(line);
        }
    });
    (lines, text)
}

/// Replaces a file the way many editors save: a temporary file renamed over it.
fn atomic_save(path: &Path, text: &str) {
    let temporary = path.with_extension("md.tmp");
    std::fs::write(&temporary, text).unwrap();
    std::fs::rename(&temporary, path).unwrap();
}

#[test]
fn the_preview_injects_the_reload_script_and_builds_never_write_it() {
    let site = SiteTest::fixture("basic");
    site.build().assert_ok();
    let public = tree_of(&site.output());
    assert!(
        public
            .values()
            .all(|bytes| !String::from_utf8_lossy(bytes).contains(SCRIPT_MARK))
    );

    let serve = Serve::start(&site, &[]);
    let (status, page) = serve.get("/blog/second/");
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Intro of the second post."), "{page}");
    let script = page.find(SCRIPT_MARK).expect("the script is injected");
    assert!(script < page.rfind("</body>").unwrap(), "{page}");
    assert!(page.contains("new EventSource(\"/__sitegen/events\")"));
    // Links stay on the preview: base_url is the preview's.
    assert!(!page.contains("https://example.org/"), "{page}");
    let (status, css) = serve.get("/css/site.css");
    assert_eq!(status, 200);
    assert!(!css.contains(SCRIPT_MARK), "only HTML gets the script");

    // The preview has its own output folder: public/ is left as the build wrote it, and what
    // the preview's build wrote has no script either (only responses are decorated).
    assert_eq!(tree_of(&site.output()), public, "serve touched public/");
    let preview = site.root().join(".sitegen-serve/public");
    let written = std::fs::read_to_string(preview.join("blog/second/index.html")).unwrap();
    assert!(!written.contains(SCRIPT_MARK));
}

#[test]
fn an_edited_page_reloads_the_browsers_with_the_new_text() {
    let site = SiteTest::fixture("basic");
    let serve = Serve::start(&site, &[]);
    let mut events = serve.events();
    let file = site.root().join("content/blog/second.md");
    let text = std::fs::read_to_string(&file).unwrap();
    atomic_save(
        &file,
        &text.replace("Intro of the second post.", "Freshly edited intro."),
    );
    events.expect("reload", EVENT, &serve);
    let page = serve.wait_for_text("/blog/second/", "Freshly edited intro.");
    assert!(page.contains(SCRIPT_MARK));
    // An editor's swap file is no change.
    std::fs::write(site.root().join("content/blog/.second.md.swp"), "x").unwrap();
    let after = events.drain(Duration::from_millis(500));
    assert!(after.is_empty(), "a swap file caused {after:?}");
}

#[test]
fn a_stylesheet_edit_sends_css_not_reload() {
    let site = SiteTest::fixture("basic");
    let serve = Serve::start(&site, &[]);
    let mut events = serve.events();
    let css = site.root().join("static/css/site.css");
    let mut text = std::fs::read_to_string(&css).unwrap();
    text.push_str("\nbody { color: #123456; }\n");
    std::fs::write(&css, text).unwrap();
    events.expect("css", EVENT, &serve);
    assert!(
        !events.seen.contains(&"reload".to_owned()),
        "{:?}",
        events.seen
    );
    serve.wait_for_text("/css/site.css", "#123456");
}

#[test]
fn a_broken_template_shows_its_error_while_the_last_good_page_is_served() {
    let site = SiteTest::fixture("basic");
    let serve = Serve::start(&site, &[]);
    let mut events = serve.events();
    let template = site.root().join("templates/page.html");
    let good = std::fs::read_to_string(&template).unwrap();
    let broken = good.replacen(
        "{{ page.title }}</h1>",
        "{{ page.title | nosuchfilter }}</h1>",
        1,
    );
    assert_ne!(
        broken, good,
        "the fixture's page.html changed: update this test"
    );
    std::fs::write(&template, &broken).unwrap();

    let data = events.expect("error", EVENT, &serve);
    let payload: serde_json::Value = serde_json::from_str(&data).unwrap();
    let error = &payload["errors"][0];
    assert_eq!(error["file"], "templates/page.html", "{payload}");
    assert_eq!(error["line"], 3, "{payload}");
    assert!(
        error["message"].as_str().unwrap().contains("nosuchfilter"),
        "{payload}"
    );
    let (status, page) = serve.get("/blog/second/");
    assert_eq!(status, 200);
    assert!(
        page.contains("<h1>Second</h1>"),
        "the last good page: {page}"
    );
    // A browser that opens the site now is told at once.
    let mut late = serve.events();
    late.expect("error", EVENT, &serve);
    assert!(serve.stderr.lock().unwrap().contains("nosuchfilter"));
    assert!(
        serve
            .stderr
            .lock()
            .unwrap()
            .contains("still serving the last good build"),
        "{}",
        serve.output()
    );

    std::fs::write(&template, &good).unwrap();
    events.expect("ok", EVENT, &serve);
    events.expect("reload", EVENT, &serve);
    late.expect("ok", EVENT, &serve);
}

#[test]
fn a_second_serve_on_the_site_exits_naming_the_first() {
    let site = SiteTest::fixture("basic");
    let first = Serve::start(&site, &[]);
    let mut second = Command::new(env!("CARGO_BIN_EXE_sitegen"))
        .args(["serve", "--port", "0", "--root"])
        .arg(site.root())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + START;
    let status = loop {
        if let Some(status) = second.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = second.kill();
            let _ = second.wait();
            panic!("the second serve is still running after {START:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    second
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(!status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("pid {}", first.child.id())),
        "{stderr}"
    );
    // The first goes on serving.
    assert_eq!(first.get("/").0, 200);
}

#[test]
fn copy_still_being_written_shows_its_fallback_then_reloads_when_it_arrives() {
    let site = SiteTest::empty();
    site.write(
        "sitegen.toml",
        "base_url = \"https://example.org\"\ntitle = \"AI\"\n\n[[collections]]\nname = \"shops\"\ndata = \"data/shops.csv\"\npath = \"/shops/{name}/\"\ntemplate = \"shop.html\"\ntitle = \"{name}\"\n\n[collections.generate]\nblurb = \"blurb\"\n\n[providers.llm]\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:9/v1\"\nmodel = \"m\"\nprice_in = 0.15\nprice_out = 0.60\n",
    )
    .write("data/shops.csv", "name\nAlpha\nBeta\n")
    .write(
        "prompts/blurb.md",
        "+++\nfallback = \"Fallback about {{ page.data.name }}.\"\n+++\nWrite about {{ page.data.name }}.\n",
    )
    .write("content/_index.md", "+++\ntitle = \"Home\"\n+++\n")
    .write("templates/index.html", "<body>home</body>")
    .write(
        "templates/shop.html",
        "<html><body><p class=b>{{ page.generated.blurb }}</p></body></html>",
    );
    // The provider answers slowly: a preview that waited for it would not be up in time.
    let mock = MockLlm::start(Script::good().latency(Duration::from_secs(3)));
    let provider = format!("providers.llm.base_url=\"{}\"", mock.base_url());
    let started = Instant::now();
    let serve = Serve::start(
        &site,
        &["--set", "generate.provider=\"llm\"", "--set", &provider],
    );
    let mut events = serve.events();
    let (status, page) = serve.get("/shops/alpha/");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the preview waited for the provider"
    );
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Fallback about Alpha."), "{page}");

    events.expect("reload", Duration::from_secs(20), &serve);
    let page = serve.wait_for_text("/shops/alpha/", "generated: ");
    assert!(!page.contains("Fallback about"), "{page}");
    assert!(mock.requests() >= 1);
}

#[test]
fn a_site_broken_from_the_start_says_there_is_nothing_to_serve_yet() {
    let site = SiteTest::fixture("basic");
    let template = site.root().join("templates/page.html");
    let good = std::fs::read_to_string(&template).unwrap();
    std::fs::write(
        &template,
        good.replacen("</h1>", "{{ x | nosuchfilter }}</h1>", 1),
    )
    .unwrap();
    let serve = Serve::start(&site, &[]);
    let deadline = Instant::now() + START;
    while !serve.stderr.lock().unwrap().contains("build failed") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let stderr = serve.stderr.lock().unwrap().clone();
    assert!(
        stderr.contains("nothing to serve until a build succeeds"),
        "{stderr}"
    );
    assert!(!stderr.contains("last good build"), "{stderr}");
}
