//! Live reload: what the preview's browsers are told after each build, the server-sent events
//! endpoint that tells them, and the script that listens.
//!
//! The builder thread sends one [`Change`] per build to the [`Hub`]; every open
//! `GET /__sitegen/events` stream forwards it as an event (`reload`, `css`, `error`, `ok`).
//! The hub is a `tokio::sync::broadcast` channel of small capacity: a browser that disconnects
//! drops its receiver with its stream, and one too slow to keep up is told to reload, so a
//! long-running preview keeps no list that grows. The only other state is the current build
//! error, so a page opened while the site is broken shows the overlay at once.
//!
//! The script is injected into HTML responses of the preview only (through
//! [`super::server::Site::inject`]); `sitegen build` never writes it.

use std::convert::Infallible;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use futures_util::stream::{self, Stream};
use tokio::sync::{broadcast, watch};

/// Where the browsers subscribe.
pub(crate) const EVENTS_PATH: &str = "/__sitegen/events";

/// How many changes a slow browser may fall behind before it is simply told to reload.
const CAPACITY: usize = 16;

/// How often an idle stream sends a comment, so proxies and browsers keep it open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// How long a browser waits before reconnecting after the stream broke (the server restarted).
const RETRY: Duration = Duration::from_millis(500);

/// The script injected before `</body>` of every HTML page of the preview.
///
/// `hello` carries the server's instance id: a browser that reconnects to a restarted server
/// (another id) reloads. `EventSource` fires its own `error` event (without data) when the
/// connection breaks, so only an `error` carrying data shows the overlay. The overlay is built
/// with `textContent` only: file names and messages are shown as text, never parsed as HTML.
pub(crate) const SCRIPT: &str = r#"<script>/* sitegen serve: live reload */
(() => {
  const events = new EventSource("/__sitegen/events");
  let instance = null;
  events.addEventListener("hello", (e) => {
    if (instance !== null && instance !== e.data) location.reload();
    instance = e.data;
  });
  events.addEventListener("reload", () => location.reload());
  events.addEventListener("css", () => {
    for (const link of document.querySelectorAll('link[rel~="stylesheet"]')) {
      const url = new URL(link.href, location.href);
      url.searchParams.set("sitegen-reload", Date.now());
      link.href = url.href;
    }
  });
  const hide = () => document.getElementById("sitegen-overlay")?.remove();
  events.addEventListener("ok", hide);
  events.addEventListener("error", (e) => {
    if (typeof e.data !== "string") return;
    hide();
    const add = (parent, tag, text, style) => {
      const node = parent.appendChild(document.createElement(tag));
      node.textContent = text;
      if (style) node.style.cssText = style;
      return node;
    };
    const box = document.createElement("div");
    box.id = "sitegen-overlay";
    box.setAttribute("role", "alert");
    box.style.cssText = "position:fixed;inset:0;z-index:2147483647;overflow:auto;margin:0;" +
      "padding:1.5rem;background:rgba(20,20,20,.97);color:#f5f5f5;font:15px/1.5 monospace";
    add(box, "h2", "sitegen: the build failed; this is the last good build", "margin:0 0 1rem;color:#ff8a80;font-size:1.1rem");
    for (const d of JSON.parse(e.data).errors || []) {
      const item = add(box, "div", "", "margin:0 0 1rem;padding:.75rem;border-left:4px solid #ff8a80;background:#2a2a2a");
      if (d.file) add(item, "div", d.file + (d.line ? ":" + d.line + (d.column ? ":" + d.column : "") : ""), "color:#9ecbff");
      add(item, "pre", d.message, "margin:.25rem 0;white-space:pre-wrap");
      if (d.help) add(item, "div", "help: " + d.help, "color:#c5e1a5");
    }
    document.body.appendChild(box);
  });
})();
</script>
"#;

/// What a build changed, as the browsers are told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Change {
    /// Reload the page.
    Reload,
    /// Only stylesheets changed: fetch them again, keep the page.
    Css,
    /// The build failed: show the overlay. JSON `{"errors": [{message, file, line, column,
    /// help}]}`.
    Error(Arc<str>),
    /// The build works again: remove the overlay.
    Ok,
}

impl Change {
    /// The SSE event's name.
    #[must_use]
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Self::Reload => "reload",
            Self::Css => "css",
            Self::Error(_) => "error",
            Self::Ok => "ok",
        }
    }

    fn event(&self) -> Event {
        // Browsers drop an event without data, so every event carries some.
        let data = match self {
            Self::Error(json) => json,
            _ => self.name(),
        };
        Event::default().event(self.name()).data(data)
    }
}

/// The error overlay's payload: the errors among `diagnostics`, as JSON.
#[must_use]
pub(crate) fn error_payload(diagnostics: &[crate::Diagnostic]) -> Arc<str> {
    let errors: Vec<&crate::Diagnostic> = diagnostics.iter().filter(|d| d.is_error()).collect();
    serde_json::json!({ "errors": errors }).to_string().into()
}

/// Fans the builder's changes out to every connected browser.
#[derive(Debug)]
pub(crate) struct Hub {
    sender: broadcast::Sender<Change>,
    /// The current build error, sent first to browsers that connect while it lasts.
    error: Mutex<Option<Arc<str>>>,
    /// This server's instance id (`hello`).
    instance: String,
    /// Becomes true when the server shuts down: open streams end, so shutdown does not wait
    /// for browsers to go away.
    closing: watch::Receiver<bool>,
}

impl Hub {
    /// A hub whose streams end when `closing` becomes true.
    #[must_use]
    pub(crate) fn new(closing: watch::Receiver<bool>) -> Self {
        let instance = format!(
            "{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        );
        Self {
            sender: broadcast::channel(CAPACITY).0,
            error: Mutex::new(None),
            instance,
            closing,
        }
    }

    /// Tells every connected browser; remembers an error for those that connect later.
    pub(crate) fn send(&self, change: Change) {
        {
            let mut error = self.error.lock().unwrap_or_else(PoisonError::into_inner);
            match &change {
                Change::Error(json) => *error = Some(Arc::clone(json)),
                Change::Ok => *error = None,
                Change::Reload | Change::Css => {}
            }
        }
        // No receiver is not an error: nobody is looking.
        let _ = self.sender.send(change);
    }

    /// The event stream of one browser: `hello`, the current error if any, then every change.
    fn stream(&self) -> impl Stream<Item = Result<Event, Infallible>> + Send + use<> {
        // Subscribe before reading the error, so no change falls between the two.
        let receiver = self.sender.subscribe();
        let mut first = vec![
            Event::default()
                .event("hello")
                .data(&self.instance)
                .retry(RETRY),
        ];
        if let Some(json) = self
            .error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
        {
            first.push(Change::Error(json).event());
        }
        let greeting = stream::iter(first.into_iter().map(Ok));
        let changes = stream::unfold(
            (receiver, self.closing.clone()),
            |(mut receiver, mut closing)| async move {
                if *closing.borrow() {
                    return None;
                }
                let event = tokio::select! {
                    received = receiver.recv() => match received {
                        Ok(change) => change.event(),
                        // Fell behind: what was missed is unknown, so reload.
                        Err(broadcast::error::RecvError::Lagged(_)) => Change::Reload.event(),
                        Err(broadcast::error::RecvError::Closed) => return None,
                    },
                    _ = closing.wait_for(|c| *c) => return None,
                };
                Some((Ok(event), (receiver, closing)))
            },
        );
        futures_util::StreamExt::chain(greeting, changes)
    }
}

/// The live-reload routes: `GET /__sitegen/events`.
pub(crate) fn routes(hub: Arc<Hub>) -> Router {
    Router::new()
        .route(EVENTS_PATH, get(events))
        .with_state(hub)
}

async fn events(State(hub): State<Arc<Hub>>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    Sse::new(hub.stream()).keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
}

/// `html` with [`SCRIPT`] before its last `</body>` (at the end when it has none).
#[must_use]
pub(crate) fn inject(html: &str) -> String {
    let at = html
        .as_bytes()
        .windows(7)
        .rposition(|w| w.eq_ignore_ascii_case(b"</body>"))
        .unwrap_or(html.len());
    let mut out = String::with_capacity(html.len() + SCRIPT.len());
    out.push_str(&html[..at]);
    out.push_str(SCRIPT);
    out.push_str(&html[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::{Change, Hub, SCRIPT, error_payload, inject};
    use crate::Diagnostic;

    #[test]
    fn the_script_goes_before_the_last_body_end_tag() {
        let html = "<html><body><p>a</p></BODY></html>";
        let out = inject(html);
        assert!(out.starts_with("<html><body><p>a</p><script>"), "{out}");
        assert!(out.ends_with("</script>\n</BODY></html>"), "{out}");
        assert_eq!(inject("<p>no body</p>"), format!("<p>no body</p>{SCRIPT}"));
    }

    #[test]
    fn the_error_payload_lists_errors_with_file_and_line() {
        let d = Diagnostic::error("unknown variable `x`")
            .at("templates/page.html", "a\nb\n{{ x }}\n", 3, Some(4))
            .with_help("define it");
        let json: serde_json::Value =
            serde_json::from_str(&error_payload(&[d, Diagnostic::warning("ignored")])).unwrap();
        let errors = json["errors"].as_array().unwrap();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0]["file"], "templates/page.html");
        assert_eq!(errors[0]["line"], 3);
        assert_eq!(errors[0]["help"], "define it");
    }

    #[test]
    fn the_hub_remembers_the_error_until_ok() {
        let (_tx, rx) = tokio::sync::watch::channel(false);
        let hub = Hub::new(rx);
        hub.send(Change::Error("{}".into()));
        assert!(hub.error.lock().unwrap().is_some());
        hub.send(Change::Ok);
        assert!(hub.error.lock().unwrap().is_none());
    }
}
