//! A scripted OpenAI-compatible chat-completions server, for tests of generation.
//!
//! ```ignore
//! let mock = MockLlm::start(Script::replies(vec![Reply::too_many(1), Reply::Good]));
//! // point a provider's base_url at mock.base_url() ("http://127.0.0.1:PORT/v1")
//! assert_eq!(mock.requests(), 2);
//! ```
//!
//! The server runs on its own thread and runtime, so it serves sync tests (a whole `sitegen
//! build` run as a child process) as well as `#[tokio::test]`s; it stops when dropped. Each
//! request gets a [`Step`] from the [`Script`] (a latency, then a [`Reply`]); the default
//! reply is a good answer: `generated: <first 40 chars of the user text>` for a plain
//! request, or for a `json_schema` request a JSON object with the schema's required properties
//! (strings `generated: …`, numbers `1`, one-item arrays). A batch (properties `i0`, `i1`, … and
//! `### iN` sections in the user text) gets each item made from its own section. Usage is
//! reported as characters / 4 of the messages (in) and of the content (out).

#![allow(dead_code, reason = "a shared harness: each test uses part of it")]

use std::future::IntoFuture;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

/// What the server answers to one request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Reply {
    /// A good answer (see the module docs).
    Good,
    /// HTTP 200 with this content, as is.
    Content(String),
    /// HTTP 429, with this `Retry-After` header value when given (`"1"`, or an HTTP date).
    TooMany(Option<String>),
    /// HTTP 500.
    ServerError,
    /// HTTP 400 (not retryable).
    BadRequest,
    /// No answer for an hour: past any client timeout.
    Hang,
    /// HTTP 200 whose content is not JSON.
    Malformed,
    /// HTTP 200 whose content is JSON of the wrong shape: `{"unexpected": 1}` for a single
    /// request, and every item the number `12345` in a batch.
    SchemaViolation,
    /// A good batch answer without item `i<N>`.
    MissingItem(usize),
    /// HTTP 200 whose body is not a chat-completions response.
    UnparseableBody,
}

impl Reply {
    /// HTTP 429 with `Retry-After: <seconds>`.
    pub(crate) fn too_many(seconds: u64) -> Self {
        Reply::TooMany(Some(seconds.to_string()))
    }

    /// This reply after `latency`.
    pub(crate) fn after(self, latency: Duration) -> Step {
        Step {
            latency,
            reply: self,
        }
    }
}

/// The server's behaviour for one request: wait `latency`, then send `reply`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Step {
    /// How long the server takes before answering.
    pub latency: Duration,
    /// The answer.
    pub reply: Reply,
}

impl From<Reply> for Step {
    fn from(reply: Reply) -> Self {
        Step {
            latency: Duration::ZERO,
            reply,
        }
    }
}

/// A request the server received.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    /// Its number, from 0, in order of arrival.
    pub n: usize,
    /// When it arrived.
    pub at: Instant,
    /// Its JSON body (`Null` when it was not JSON).
    pub body: Value,
    /// Its `Authorization` header.
    pub authorization: Option<String>,
}

impl Received {
    /// The user message.
    pub(crate) fn user(&self) -> &str {
        user_text(&self.body)
    }

    /// The ids of a batch request (`i0`, `i1`, …), empty for a single request.
    pub(crate) fn batch_ids(&self) -> Vec<String> {
        batch_ids(&self.body)
    }
}

type ScriptFn = dyn Fn(&Received) -> Step + Send + Sync;

/// How the server answers each request.
#[derive(Clone)]
pub(crate) struct Script(Arc<ScriptFn>);

impl Script {
    /// Good answers, at once.
    pub(crate) fn good() -> Self {
        Self::with(|_| Reply::Good)
    }

    /// Request `n` gets `replies[n]`; later ones get good answers.
    pub(crate) fn replies(replies: Vec<Reply>) -> Self {
        Self::with(move |r| replies.get(r.n).cloned().unwrap_or(Reply::Good))
    }

    /// The step of each request chosen by a closure (of the request, with its number).
    pub(crate) fn with<S: Into<Step>>(f: impl Fn(&Received) -> S + Send + Sync + 'static) -> Self {
        Self(Arc::new(move |r| f(r).into()))
    }

    /// The same script, every request taking `latency` more.
    pub(crate) fn latency(self, latency: Duration) -> Self {
        let inner = self.0;
        Self(Arc::new(move |r| {
            let mut step = inner(r);
            step.latency += latency;
            step
        }))
    }
}

struct Shared {
    script: Script,
    received: Mutex<Vec<Received>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

/// A running mock server; stops when dropped.
pub(crate) struct MockLlm {
    port: u16,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl MockLlm {
    /// Starts a server on 127.0.0.1 (a free port) answering by `script`.
    pub(crate) fn start(script: Script) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let port = listener.local_addr().expect("local address").port();
        let shared = Arc::new(Shared {
            script,
            received: Mutex::new(Vec::new()),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let state = Arc::clone(&shared);
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("mock runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                let app = Router::new()
                    .route("/v1/chat/completions", post(handle))
                    .with_state(state);
                tokio::select! {
                    _ = axum::serve(listener, app).into_future() => {}
                    _ = stopped => {}
                }
            });
            // Requests still hanging are dropped with the runtime.
            runtime.shutdown_background();
        });
        Self {
            port,
            shared,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// The base URL to configure: `http://127.0.0.1:PORT/v1`.
    pub(crate) fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.port)
    }

    /// Requests received so far.
    pub(crate) fn requests(&self) -> usize {
        self.shared.received.lock().unwrap().len()
    }

    /// The requests received so far, in order of arrival.
    pub(crate) fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    /// The JSON bodies of the requests received so far.
    pub(crate) fn bodies(&self) -> Vec<Value> {
        self.received().into_iter().map(|r| r.body).collect()
    }

    /// The most requests that were being handled at once.
    pub(crate) fn max_in_flight(&self) -> usize {
        self.shared.max_in_flight.load(Ordering::SeqCst)
    }
}

impl Drop for MockLlm {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Counts a request in flight while it lives (also when the client gives up on it).
struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn handle(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    shared.max_in_flight.fetch_max(now, Ordering::SeqCst);
    let _guard = InFlight(&shared.in_flight);
    let received = {
        let mut all = shared.received.lock().unwrap();
        let received = Received {
            n: all.len(),
            at: Instant::now(),
            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
            authorization: headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        };
        all.push(received.clone());
        received
    };
    let step = (shared.script.0)(&received);
    tokio::time::sleep(step.latency).await;
    if received.body.is_null() {
        return error(StatusCode::BAD_REQUEST, "the body is not JSON");
    }
    let body = &received.body;
    let content = match step.reply {
        Reply::Good => good_content(body, None),
        Reply::Content(content) => content,
        Reply::TooMany(retry_after) => {
            let mut response = error(StatusCode::TOO_MANY_REQUESTS, "rate limited");
            if let Some(value) = retry_after {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, value.parse().expect("header value"));
            }
            return response;
        }
        Reply::ServerError => return error(StatusCode::INTERNAL_SERVER_ERROR, "server error"),
        Reply::BadRequest => return error(StatusCode::BAD_REQUEST, "bad request"),
        Reply::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            return error(StatusCode::GATEWAY_TIMEOUT, "hung");
        }
        Reply::Malformed => "{\"this is\": not JSON".to_owned(),
        Reply::SchemaViolation => {
            let ids = batch_ids(body);
            if ids.is_empty() {
                r#"{"unexpected": 1}"#.to_owned()
            } else {
                let items: serde_json::Map<String, Value> =
                    ids.into_iter().map(|id| (id, json!(12345))).collect();
                Value::Object(items).to_string()
            }
        }
        Reply::MissingItem(index) => good_content(body, Some(&format!("i{index}"))),
        Reply::UnparseableBody => {
            return (StatusCode::OK, "<html>not an API</html>").into_response();
        }
    };
    let prompt_chars: usize = body["messages"].as_array().map_or(0, |m| {
        m.iter()
            .map(|m| m["content"].as_str().map_or(0, |s| s.chars().count()))
            .sum()
    });
    let completion_tokens = content.chars().count().div_ceil(4);
    let answer = json!({
        "id": format!("mock-{}", received.n),
        "object": "chat.completion",
        "model": body["model"],
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content},
            "finish_reason": "stop",
        }],
        "usage": {
            "prompt_tokens": prompt_chars.div_ceil(4),
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_chars.div_ceil(4) + completion_tokens,
        },
    });
    axum::Json(answer).into_response()
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({"error": {"message": message}}))).into_response()
}

fn user_text(body: &Value) -> &str {
    body["messages"]
        .as_array()
        .and_then(|m| m.iter().rev().find(|m| m["role"] == "user"))
        .and_then(|m| m["content"].as_str())
        .unwrap_or("")
}

fn schema(body: &Value) -> Option<&Value> {
    let rf = &body["response_format"];
    (rf["type"] == "json_schema").then(|| &rf["json_schema"]["schema"])
}

fn batch_ids(body: &Value) -> Vec<String> {
    let user = user_text(body);
    let Some(properties) = schema(body).and_then(|s| s["properties"].as_object()) else {
        return Vec::new();
    };
    let ids: Vec<String> = properties.keys().cloned().collect();
    let is_batch = !ids.is_empty()
        && ids.iter().all(|id| {
            id.strip_prefix('i')
                .is_some_and(|n| n.parse::<usize>().is_ok())
                && user.contains(&format!("### {id}\n"))
        });
    if is_batch { ids } else { Vec::new() }
}

/// The text of task `id` in a batch's user message.
fn section<'a>(user: &'a str, id: &str) -> Option<&'a str> {
    let header = format!("### {id}\n");
    let start = user.find(&header)? + header.len();
    let rest = &user[start..];
    let end = rest.find("\n### i").unwrap_or(rest.len());
    Some(rest[..end].trim_end())
}

/// A good answer's content, leaving out batch item `skip`.
fn good_content(body: &Value, skip: Option<&str>) -> String {
    let user = user_text(body);
    let Some(schema) = schema(body) else {
        return text_for(user);
    };
    let ids = batch_ids(body);
    if ids.is_empty() {
        return fake(schema, user).to_string();
    }
    let items: serde_json::Map<String, Value> = ids
        .iter()
        .filter(|id| Some(id.as_str()) != skip)
        .map(|id| {
            let item = &schema["properties"][id];
            (id.clone(), fake(item, section(user, id).unwrap_or("")))
        })
        .collect();
    Value::Object(items).to_string()
}

/// `generated: <first 40 chars of text>`.
pub(crate) fn text_for(text: &str) -> String {
    let head: String = text.chars().take(40).collect();
    format!("generated: {head}")
}

/// A value satisfying `schema`'s type, required properties and array items, made from `seed`.
fn fake(schema: &Value, seed: &str) -> Value {
    if let Some(first) = schema["enum"].as_array().and_then(|e| e.first()) {
        return first.clone();
    }
    let kind = match &schema["type"] {
        Value::String(t) => t.as_str(),
        Value::Array(types) => types
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or("null"),
        _ if schema["properties"].is_object() => "object",
        _ => "string",
    };
    match kind {
        "object" => {
            let properties = schema["properties"].as_object();
            let names: Vec<String> = match schema["required"].as_array() {
                Some(required) => required
                    .iter()
                    .filter_map(|n| n.as_str().map(str::to_owned))
                    .collect(),
                None => properties
                    .map(|p| p.keys().cloned().collect())
                    .unwrap_or_default(),
            };
            let object: serde_json::Map<String, Value> = names
                .into_iter()
                .map(|name| {
                    let sub = properties
                        .and_then(|p| p.get(&name))
                        .unwrap_or(&Value::Null);
                    let value = fake(sub, seed);
                    (name, value)
                })
                .collect();
            Value::Object(object)
        }
        "array" => {
            let n = schema["minItems"].as_u64().unwrap_or(1).max(1);
            Value::Array((0..n).map(|_| fake(&schema["items"], seed)).collect())
        }
        "number" | "integer" => json!(1),
        "boolean" => json!(true),
        "null" => Value::Null,
        _ => Value::String(text_for(seed)),
    }
}
