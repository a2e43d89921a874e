//! `sitegen serve`: a preview that builds the site, serves it, and rebuilds and reloads the
//! browsers whenever a source changes.
//!
//! ```text
//! watch (notify) ──► builder thread: build::build (incremental) ──► reload::Hub ──► SSE ──► browsers
//!                                      │ writes                                      ▲
//!                                      ▼                                             │
//!                              preview output folder ◄── server (axum): files + reload script
//! ```
//!
//! - [`watch`] says which sources changed, batched.
//! - The builder thread runs the one build path ([`crate::build::build`], incremental, exactly
//!   what `sitegen build` runs) into a preview output folder of its own, so `public/` is never
//!   touched, then tells the [`reload::Hub`] what the browsers should do.
//! - [`server`] serves the output folder; [`reload`] adds `GET /__sitegen/events` and the
//!   script injected into HTML responses. Only responses are decorated: what the build writes
//!   is what `sitegen build` would write, but for two overrides that a preview needs:
//!   `base_url = "/"` (links stay on the preview, whatever its address), and the AI budget
//!   below.
//! - A failed build leaves the last good output in place (a build with errors writes nothing),
//!   so the server keeps serving it while the browsers show the errors over it.
//!
//! **AI copy never blocks the preview.** A build waits for every generated field it sends to
//! the provider, which can take minutes. Preview builds therefore send nothing: they run with a
//! spending cap below zero, so every field not in the cache gets its prompt's fallback at once
//! (and is recorded as pending, as any field over budget is). Cached copy is used as always:
//! the cache is keyed by provider and model, which a cap does not change (overriding the
//! provider with `offline` would, and would show fallbacks for copy already paid for). When a
//! preview build held fields back, the builder runs one build with the real budget once the
//! sources have been quiet for [`BACKGROUND_AFTER`], and the browsers reload when it is done.
//! Edits that arrive meanwhile are built after it.
//!
//! The rayon build and the tokio server never nest: builds run on the builder thread, outside
//! the runtime.

pub(crate) mod reload;
pub mod server;
pub(crate) mod watch;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::watch as signal;

use crate::build::{self, BuildReport, Quiet};
use crate::diagnostics::{Code, Error, Result};
use crate::state::{
    self,
    lock::{self, SiteLock},
};
use reload::{Change, Hub};
use watch::{Changes, Next, Watch};

/// The preview's output folder under the site's root, when `--output` is not given.
///
/// Not under `.sitegen/`, where the build refuses to write (it guards the state folder as a
/// whole); [`run`] puts a `.gitignore` in it so it stays out of git all the same.
pub(crate) const PREVIEW_FOLDER: &str = ".sitegen-serve";

/// How long the sources must be quiet before a build asks the provider for held-back copy.
pub(crate) const BACKGROUND_AFTER: Duration = Duration::from_millis(300);

/// A spending cap no request fits under: preview builds send nothing to the provider.
const SEND_NOTHING: f64 = -1.0;

/// How long shutdown waits for a build in progress before leaving it (the next build
/// repairs whatever it left, as after any interruption).
const STOP_WAIT: Duration = Duration::from_secs(2);

/// What to serve, from the command line.
#[derive(Debug, Clone)]
pub struct Preview {
    /// The site and how to build it: `root`, `output` (default: [`preview_output`]), `drafts`
    /// and `overrides`.
    pub build: build::Options,
    /// Wait for another sitegen holding the site, at the start, instead of failing.
    pub wait: bool,
    /// The address to listen on.
    pub bind: IpAddr,
    /// The port; 0 lets the system choose one (printed in the `serving` line).
    pub port: u16,
    /// Open the preview in the browser once it is ready.
    pub open: bool,
}

/// What `serve` tells the person at the terminal; the command line prints it.
pub trait Terminal: Send + Sync {
    /// A line of news (`serving http://…`, what changed).
    fn note(&self, line: &str);
    /// A build succeeded: its summary, and its warnings unless `repeated` (the same as the
    /// last build's, already shown). `cause` says what started it.
    fn built(&self, report: &BuildReport, cause: &str, repeated: bool);
    /// A build failed: its problems. The last good build is still served.
    fn failed(&self, error: &Error);
}

/// The default output folder of the preview of the site at `root`.
#[must_use]
pub(crate) fn preview_output(root: &Path) -> PathBuf {
    root.join(PREVIEW_FOLDER).join("public")
}

/// Builds, serves and watches the site until SIGINT or SIGTERM.
///
/// # Errors
///
/// [`Error::Locked`] when another sitegen holds the site (naming its pid), [`Error::Listen`]
/// when the address cannot be listened on; [`Error::Io`] for the state folder or the watches. A site that does not
/// build is no error here: its problems go to `terminal` and the browsers, and the preview
/// goes on.
pub fn run(options: &Preview, terminal: &Arc<dyn Terminal>) -> Result<()> {
    let root = options.build.root.clone();
    if !root.is_dir() {
        return Err(Error::Usage(format!(
            "the site folder `{}` does not exist",
            root.display()
        )));
    }
    // The site lock, for the preview's whole life: a `sitegen build` or a second `serve` on
    // this site is refused (naming our pid) instead of racing our builds on the state.
    let state_dir = state::ensure(&root)?;
    let held = lock::acquire(&state_dir, "serve", options.wait)?;

    let output = if let Some(output) = &options.build.output {
        output.clone()
    } else {
        let folder = root.join(PREVIEW_FOLDER);
        std::fs::create_dir_all(&folder).map_err(|e| Error::io(&folder, e))?;
        let ignore = folder.join(".gitignore");
        if !ignore.exists() {
            std::fs::write(&ignore, "# sitegen serve's preview output\n*\n")
                .map_err(|e| Error::io(&ignore, e))?;
        }
        preview_output(&root)
    };
    let mut overrides = vec![r#"base_url="/""#.to_owned(), r#"mode="serve""#.to_owned()];
    // The user's own `--set` come after, so theirs win (a `--set base_url=…` included).
    overrides.extend(options.build.overrides.iter().cloned());
    let build_options = build::Options {
        output: Some(output.clone()),
        overrides,
        write: true,
        ..options.build.clone()
    };

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("serve")
        .enable_all()
        .build()
        .map_err(|e| Error::Internal(format!("cannot start the server's runtime: {e}")))?;
    let address = SocketAddr::new(options.bind, options.port);
    let listener = runtime
        .block_on(TcpListener::bind(address))
        .map_err(|source| Error::Listen { address, source })?;
    let address = listener
        .local_addr()
        .map_err(|source| Error::Listen { address, source })?;
    let url = browse_url(address);

    let (closing_tx, closing) = signal::channel(false);
    let hub = Arc::new(Hub::new(closing));
    // Watch before the first build, so an edit made while it runs is not missed.
    let watch = Watch::new(
        &root,
        &[output.clone(), state_dir.clone()],
        options.build.config_file.as_deref(),
    )?;
    let stopper = watch.stopper();
    let mut builder = Builder {
        options: build_options,
        _lock: held,
        hub: Arc::clone(&hub),
        terminal: Arc::clone(terminal),
        failing: false,
        held_back: false,
        warnings: Vec::new(),
        resident: build::Resident::watched(),
        writes: Arc::default(),
    };
    terminal.note(&format!(
        "building {} into {}",
        root.display(),
        output.display()
    ));
    builder.rebuild(None);

    let site = Arc::new(server::Folder {
        root: output,
        inject: Some(Arc::new(reload::inject)),
        writes: Arc::clone(&builder.writes),
    });
    let router = reload::routes(Arc::clone(&hub)).merge(server::router(site));
    let worker = std::thread::Builder::new()
        .name("serve-build".into())
        .spawn(move || builder.watch(watch))
        .map_err(|e| Error::Internal(format!("cannot start the build thread: {e}")))?;

    terminal.note(&format!("serving {url}"));
    if options.open {
        open_browser(&url, terminal.as_ref());
    }
    let shutdown = async move {
        stop_signal().await;
        tracing::debug!("stopping");
        // Ends the event streams, which would otherwise hold the shutdown open.
        let _ = closing_tx.send(true);
    };
    let served = runtime.block_on(server::run(listener, router, shutdown));
    tracing::debug!("server stopped");
    stopper.stop();
    join_within(worker, STOP_WAIT);
    tracing::debug!("builder stopped");
    runtime.shutdown_timeout(Duration::from_millis(200));
    tracing::debug!("runtime stopped");
    served.map_err(|e| Error::Internal(format!("the server failed: {e}")))
}

/// The URL to print and open: the bound address, with a wildcard address made local.
fn browse_url(address: SocketAddr) -> String {
    let ip = match address.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}/", SocketAddr::new(ip, address.port()))
}

/// SIGINT (Ctrl-C) or, on Unix, SIGTERM.
async fn stop_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}

/// Opens `url` in the desktop's browser, without waiting for it.
fn open_browser(url: &str, terminal: &dyn Terminal) {
    let mut command = if cfg!(target_os = "macos") {
        std::process::Command::new("open")
    } else if cfg!(windows) {
        let mut c = std::process::Command::new("cmd");
        c.args(["/C", "start", ""]);
        c
    } else {
        std::process::Command::new("xdg-open")
    };
    command
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    match command.spawn() {
        // Reaped on a thread of its own: the opener may outlive nothing of ours.
        Ok(mut child) => {
            let _ = std::thread::Builder::new()
                .name("open".into())
                .spawn(move || child.wait());
        }
        Err(e) => terminal.note(&format!("cannot open a browser ({e}); open {url}")),
    }
}

/// Waits for `worker` to finish, for `limit` at most.
fn join_within(worker: JoinHandle<()>, limit: Duration) {
    let started = Instant::now();
    while !worker.is_finished() && started.elapsed() < limit {
        std::thread::sleep(Duration::from_millis(10));
    }
    if worker.is_finished() {
        let _ = worker.join();
    }
}

/// The builder thread: builds on change and tells the hub.
struct Builder {
    /// The preview's build options (budget and all but the spending cap).
    options: build::Options,
    /// The site lock, held for as long as the builder lives.
    _lock: SiteLock,
    hub: Arc<Hub>,
    terminal: Arc<dyn Terminal>,
    /// Whether the last build failed (the browsers show the overlay).
    failing: bool,
    /// Whether the last preview build held generated fields back from the provider.
    held_back: bool,
    /// The last successful build's warnings, printed once rather than after every save.
    warnings: Vec<String>,
    /// The last build's state, kept for the next.
    resident: build::Resident,
    /// The server's count of writes to the output folder ([`server::Folder::writes`]).
    writes: Arc<std::sync::atomic::AtomicU64>,
}

impl Builder {
    /// Builds on every batch of changes until stopped.
    fn watch(mut self, mut watch: Watch) {
        loop {
            let wait = self.held_back.then_some(BACKGROUND_AFTER);
            match watch.next(wait) {
                Next::Changed(changes) => self.rebuild(Some(&changes)),
                Next::Idle => self.generate(),
                Next::Stop => return,
            }
        }
    }

    /// A preview build after `changes` (the first build when `None`), and the browsers told.
    fn rebuild(&mut self, changes: Option<&Changes>) {
        let cause = changes.map_or_else(|| "first build".to_owned(), |c| c.describe(3));
        if let Some(changes) = changes {
            self.resident.changed(changes.paths.iter().cloned());
        }
        let options = build::Options {
            max_cost: Some(SEND_NOTHING),
            ..self.options.clone()
        };
        match self.build(&options) {
            Ok(report) => {
                self.held_back = report
                    .generation
                    .as_ref()
                    .is_some_and(|g| !g.over_budget.is_empty());
                let mut report = report;
                if self.held_back {
                    // Our cap's doing, not the user's budget: say it as what it is.
                    let held: usize = report.warnings.len();
                    report.warnings.retain(|w| w.code != Some(Code::OverBudget));
                    if report.warnings.len() < held {
                        self.terminal.note(
                            "generated copy not in the cache shows its fallback for now; \
                             the provider is asked in the background",
                        );
                    }
                }
                self.report(&report, &cause);
                // Only stylesheets changed, and kept their names: the pages can keep their
                // links and fetch them again. (A fingerprinted stylesheet gets a new name, the
                // old one is removed, and the pages must reload to link the new one.)
                let css = changes.is_some_and(Changes::only_css) && report.outputs_removed == 0;
                self.succeeded(&report, css);
            }
            Err(e) => self.fail(&e),
        }
    }

    /// The build that asks the provider for the copy preview builds held back.
    fn generate(&mut self) {
        self.held_back = false;
        self.terminal
            .note("asking the provider for the generated copy held back");
        match self.build(&self.options.clone()) {
            Ok(report) => {
                self.report(&report, "generated copy");
                self.succeeded(&report, false);
            }
            Err(e) => self.fail(&e),
        }
    }

    fn report(&mut self, report: &BuildReport, cause: &str) {
        let warnings: Vec<String> = report.warnings.iter().map(ToString::to_string).collect();
        let repeated = warnings == self.warnings;
        self.warnings = warnings;
        self.terminal.built(report, cause, repeated);
    }

    fn succeeded(&mut self, report: &BuildReport, css: bool) {
        if self.failing {
            self.failing = false;
            self.hub.send(Change::Ok);
            self.hub.send(Change::Reload);
        } else if report.files_written > 0 || report.outputs_removed > 0 {
            self.hub
                .send(if css { Change::Css } else { Change::Reload });
        }
    }

    fn fail(&mut self, error: &Error) {
        self.terminal.failed(error);
        self.failing = true;
        // No background build for copy while the site is broken: the fix's build decides.
        self.held_back = false;
        self.warnings.clear();
        self.hub
            .send(Change::Error(reload::error_payload(&error.diagnostics())));
    }

    /// One build. A panic in a build (a bug) must not end the preview: it is reported as the
    /// build's failure, and the next change builds again.
    fn build(&mut self, options: &build::Options) -> Result<BuildReport> {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            build::build(options, &Quiet, &mut self.resident)
        }))
        .unwrap_or_else(|panic| {
            let what = crate::diagnostics::panic_message(&*panic);
            Err(Error::Internal(format!("the build panicked: {what}")))
        });
        // Whatever the build wrote is served from now on (before any browser is told).
        self.writes
            .fetch_add(1, std::sync::atomic::Ordering::Release);
        result
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::browse_url;

    #[test]
    fn a_wildcard_address_is_browsed_on_the_loopback() {
        let url = |a: &str| browse_url(a.parse::<SocketAddr>().unwrap());
        assert_eq!(url("0.0.0.0:1111"), "http://127.0.0.1:1111/");
        assert_eq!(url("[::]:8080"), "http://[::1]:8080/");
        assert_eq!(url("192.168.1.2:80"), "http://192.168.1.2:80/");
    }
}
