//! provider: one OpenAI-compatible chat-completions client.
//!
//! A [`Provider`] owns one `reqwest` client (its connection pool and per-request timeout) and
//! sends a [`Request`] as `POST {base_url}/chat/completions`. A request is either one job
//! ([`Request::single`]) or several jobs of one prompt ([`Request::batch`]): the batch asks for
//! one JSON object keyed by task id (`i0`, `i1`, …) under a strict JSON Schema, and
//! [`split_batch`] takes the answer apart again. Errors say whether trying again may help
//! ([`ProviderError::retryable`]); the [`super::queue`] decides what to do about them.
//!
//! The API key is passed in by the caller (who read it from the environment) and is only ever
//! put in the `Authorization` header: never logged, never in an error, never in `Debug`.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::Deserialize;
use serde_json::{Value, json};

use super::{Job, OutputKind};
use crate::config::ProviderConfig;

/// One chat-completions request, before it is sent.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Request {
    /// The system message, when there is one.
    pub(crate) system: Option<String>,
    /// The user message.
    pub(crate) user: String,
    /// Most tokens the answer may take.
    pub(crate) max_tokens: u32,
    /// The JSON Schema the answer must follow, with its name (`response_format`); none for
    /// free text.
    pub(crate) schema: Option<(String, Value)>,
}

/// The id of the `index`-th task of a batch (`i0`, `i1`, …).
pub(crate) fn item_id(index: usize) -> String {
    format!("i{index}")
}

impl Request {
    /// The request of one job: its system and user messages; its schema for JSON answers.
    pub(crate) fn single(job: &Job) -> Self {
        let schema = match job.output.as_ref() {
            OutputKind::Json { schema } => Some((schema_name(&job.prompt), schema.clone())),
            OutputKind::Text | OutputKind::Html => None,
        };
        Self {
            system: job.system.clone(),
            user: job.text.clone(),
            max_tokens: job.max_tokens,
            schema,
        }
    }

    /// The request of several jobs of one prompt (they share its system message and output):
    /// every task listed under its id, the answer one JSON object keyed by those ids, each
    /// value a string (text, HTML) or the prompt's schema (JSON). Its `max_tokens` is the sum
    /// of the jobs'.
    pub(crate) fn batch(jobs: &[&Job]) -> Self {
        let first = jobs.first().copied();
        let mut user = String::from(
            "Answer every task below, each on its own. Reply with one JSON object that has one \
             key per task id (i0, i1, ...), whose value is that task's answer.\n",
        );
        let mut properties = serde_json::Map::new();
        let mut required = Vec::with_capacity(jobs.len());
        let item = match first.map(|j| j.output.as_ref()) {
            Some(OutputKind::Json { schema }) => schema.clone(),
            _ => json!({"type": "string"}),
        };
        for (i, job) in jobs.iter().enumerate() {
            let id = item_id(i);
            user.push_str("\n### ");
            user.push_str(&id);
            user.push('\n');
            user.push_str(&job.text);
            user.push('\n');
            properties.insert(id.clone(), item.clone());
            required.push(Value::String(id));
        }
        let schema = json!({
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": false,
        });
        let name = format!(
            "{}_batch",
            schema_name(first.map_or("", |j| j.prompt.as_str()))
        );
        Self {
            system: first.and_then(|j| j.system.clone()),
            user,
            max_tokens: jobs
                .iter()
                .fold(0u32, |sum, j| sum.saturating_add(j.max_tokens)),
            schema: Some((truncate_name(name), schema)),
        }
    }

    /// The JSON body sent for this request to `model`.
    pub(crate) fn body(&self, model: &str) -> Value {
        let mut messages = Vec::with_capacity(2);
        if let Some(system) = &self.system {
            messages.push(json!({"role": "system", "content": system}));
        }
        messages.push(json!({"role": "user", "content": self.user}));
        let mut body = json!({
            "model": model,
            "messages": messages,
            "max_tokens": self.max_tokens,
        });
        if let Some((name, schema)) = &self.schema {
            body["response_format"] = json!({
                "type": "json_schema",
                "json_schema": {"name": name, "strict": true, "schema": schema},
            });
        }
        body
    }

    /// The input tokens this request is expected to take: a quarter of its characters.
    pub(crate) fn estimated_tokens_in(&self) -> u64 {
        let chars =
            self.system.as_deref().map_or(0, |s| s.chars().count()) + self.user.chars().count();
        estimate_tokens(chars)
    }
}

/// Tokens of `chars` characters of text, the usual rough estimate (4 characters a token).
pub(crate) fn estimate_tokens(chars: usize) -> u64 {
    (chars as u64).div_ceil(4)
}

/// A schema name the API accepts (`[a-zA-Z0-9_-]{1,64}`) made from a prompt's `name@version`.
fn schema_name(prompt: &str) -> String {
    let name: String = prompt
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    truncate_name(if name.is_empty() {
        "answer".to_owned()
    } else {
        name
    })
}

fn truncate_name(mut name: String) -> String {
    name.truncate(64); // ASCII only, so any byte index is a char boundary
    name
}

/// A provider's answer to one request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Completion {
    /// `choices[0].message.content` (empty when the model sent none).
    pub(crate) content: String,
    /// Input tokens, as reported by the API (estimated when it reports none).
    pub(crate) tokens_in: u64,
    /// Output tokens, likewise.
    pub(crate) tokens_out: u64,
}

/// Why a request failed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ProviderError {
    /// What went wrong, for the build's report (never holds the key).
    pub(crate) message: String,
    /// Whether sending it again may work: HTTP 429, 5xx, timeouts, connection errors.
    pub(crate) retryable: bool,
    /// How long the API asked us to wait (`Retry-After`), when it said.
    pub(crate) retry_after: Option<Duration>,
    /// The HTTP status, when there was a response.
    pub(crate) status: Option<u16>,
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ProviderError {}

impl ProviderError {
    fn fatal(message: String) -> Self {
        Self {
            message,
            retryable: false,
            retry_after: None,
            status: None,
        }
    }

    fn transport(error: &reqwest::Error) -> Self {
        let retryable =
            error.is_timeout() || error.is_connect() || error.is_request() || error.is_body();
        let what = if error.is_timeout() {
            "timed out"
        } else if error.is_connect() {
            "could not connect"
        } else {
            "failed"
        };
        Self {
            message: format!("request {what}: {error}"),
            retryable,
            retry_after: None,
            status: error.status().map(|s| s.as_u16()),
        }
    }
}

/// An OpenAI-compatible chat-completions API, ready to send requests.
pub(crate) struct Provider {
    config: Arc<ProviderConfig>,
    client: reqwest::Client,
    url: String,
    api_key: Option<String>,
}

impl fmt::Debug for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Provider")
            .field("url", &self.url)
            .field("model", &self.config.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

impl Provider {
    /// A client for `config`, authenticating with `api_key` when given.
    pub(crate) fn new(
        config: Arc<ProviderConfig>,
        api_key: Option<String>,
    ) -> Result<Self, ProviderError> {
        // reqwest is built without a TLS crypto provider of its own (see Cargo.toml): ring is
        // the process's, installed once (a later call finds it there and changes nothing).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(config.timeout())
            .pool_max_idle_per_host(config.max_concurrency.max(1))
            .build()
            .map_err(|e| ProviderError::fatal(format!("cannot set up the HTTP client: {e}")))?;
        let url = format!("{}/chat/completions", config.base_url.trim_end_matches('/'));
        Ok(Self {
            config,
            client,
            url,
            api_key,
        })
    }

    /// Sends `request` once (no retries: that is the queue's business).
    pub(crate) async fn complete(&self, request: &Request) -> Result<Completion, ProviderError> {
        let mut builder = self
            .client
            .post(&self.url)
            .json(&request.body(&self.config.model));
        if let Some(key) = &self.api_key {
            builder = builder.bearer_auth(key);
        }
        let response = builder
            .send()
            .await
            .map_err(|e| ProviderError::transport(&e))?;
        let status = response.status();
        if !status.is_success() {
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, SystemTime::now()));
            let text = response.text().await.unwrap_or_default();
            return Err(ProviderError {
                message: format!("HTTP {status}: {}", snippet(&text)),
                retryable: status.as_u16() == 429 || status.is_server_error(),
                retry_after,
                status: Some(status.as_u16()),
            });
        }
        let text = response
            .text()
            .await
            .map_err(|e| ProviderError::transport(&e))?;
        parse_response(&text, request)
    }
}

/// The first 300 characters of an error body, on one line.
fn snippet(text: &str) -> String {
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(300) {
        Some((at, _)) => format!("{}…", &one_line[..at]),
        None => one_line,
    }
}

/// A `Retry-After` value: seconds, or an HTTP date (RFC 9110), as a wait from `now`.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds));
    }
    let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let at = SystemTime::from(date.with_timezone(&chrono::Utc));
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[derive(Deserialize)]
struct ChatResponse {
    #[serde(default)]
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct Choice {
    message: Message,
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    content: Option<String>,
}

#[derive(Deserialize)]
struct Usage {
    #[serde(default)]
    prompt_tokens: Option<u64>,
    #[serde(default)]
    completion_tokens: Option<u64>,
}

/// The completion in a response body; an unparseable body is a (non-retryable) error.
fn parse_response(body: &str, request: &Request) -> Result<Completion, ProviderError> {
    let parsed: ChatResponse = serde_json::from_str(body).map_err(|e| {
        ProviderError::fatal(format!("unparseable response ({e}): {}", snippet(body)))
    })?;
    let Some(choice) = parsed.choices.into_iter().next() else {
        return Err(ProviderError::fatal(format!(
            "response without choices: {}",
            snippet(body)
        )));
    };
    let content = choice.message.content.unwrap_or_default();
    let usage = parsed.usage;
    let tokens_in = usage
        .as_ref()
        .and_then(|u| u.prompt_tokens)
        .unwrap_or_else(|| request.estimated_tokens_in());
    let tokens_out = usage
        .as_ref()
        .and_then(|u| u.completion_tokens)
        .unwrap_or_else(|| estimate_tokens(content.chars().count()));
    Ok(Completion {
        content,
        tokens_in,
        tokens_out,
    })
}

/// The value of one job's answer: the content itself for text and HTML; the parsed JSON for
/// JSON (a parse error is the job's check failure).
pub(crate) fn parse_single(job: &Job, content: &str) -> Result<Value, String> {
    match job.output.as_ref() {
        OutputKind::Text | OutputKind::Html => Ok(Value::String(content.to_owned())),
        OutputKind::Json { .. } => parse_json(content),
    }
}

/// The values of a batch's `n` items, by position (`None`: the answer has no such item), or
/// an error when the answer is not a JSON object at all. Text and HTML items must be strings.
pub(crate) fn split_batch(
    output: &OutputKind,
    content: &str,
    n: usize,
) -> Result<Vec<Option<Value>>, String> {
    let Value::Object(mut object) = parse_json(content)? else {
        return Err("the batch answer is not a JSON object".to_owned());
    };
    let wants_string = matches!(output, OutputKind::Text | OutputKind::Html);
    Ok((0..n)
        .map(|i| {
            object
                .remove(&item_id(i))
                .filter(|v| !wants_string || v.is_string())
        })
        .collect())
}

/// JSON content, forgiving a Markdown code fence around it.
fn parse_json(content: &str) -> Result<Value, String> {
    let mut text = content.trim();
    if let Some(rest) = text.strip_prefix("```") {
        let rest = rest.strip_prefix("json").unwrap_or(rest);
        text = rest.strip_suffix("```").unwrap_or(rest).trim();
    }
    serde_json::from_str(text).map_err(|e| format!("the answer is not valid JSON: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(text: &str, output: OutputKind) -> Job {
        Job {
            key: format!("k-{text}").into(),
            prompt: "summary@2".to_owned(),
            class: "short".to_owned(),
            system: Some("Be brief.".to_owned()),
            text: text.to_owned(),
            output: Arc::new(output),
            max_tokens: 100,
            batch_size: 5,
        }
    }

    #[test]
    fn single_text_body_has_no_response_format() {
        let body = Request::single(&job("hello", OutputKind::Text)).body("m");
        assert_eq!(body["model"], "m");
        assert_eq!(body["max_tokens"], 100);
        assert_eq!(body["messages"][0]["role"], "system");
        assert_eq!(body["messages"][1]["content"], "hello");
        assert!(body.get("response_format").is_none());
    }

    #[test]
    fn json_and_batch_bodies_ask_for_a_strict_schema() {
        let schema = json!({"type": "object", "properties": {"a": {"type": "string"}}});
        let single = Request::single(&job(
            "x",
            OutputKind::Json {
                schema: schema.clone(),
            },
        ));
        let rf = &single.body("m")["response_format"];
        assert_eq!(rf["type"], "json_schema");
        assert_eq!(rf["json_schema"]["name"], "summary_2");
        assert_eq!(rf["json_schema"]["strict"], true);
        assert_eq!(rf["json_schema"]["schema"], schema);

        let (a, b) = (
            job("first", OutputKind::Text),
            job("second", OutputKind::Text),
        );
        let batch = Request::batch(&[&a, &b]);
        assert_eq!(batch.max_tokens, 200);
        assert!(batch.user.contains("### i0\nfirst\n"));
        assert!(batch.user.contains("### i1\nsecond\n"));
        let body = batch.body("m");
        let s = &body["response_format"]["json_schema"]["schema"];
        assert_eq!(s["required"], json!(["i0", "i1"]));
        assert_eq!(s["properties"]["i1"], json!({"type": "string"}));
        assert_eq!(s["additionalProperties"], false);
    }

    #[test]
    fn batches_split_by_id() {
        let items = split_batch(&OutputKind::Text, r#"{"i0": "a", "i2": 3}"#, 3).unwrap();
        assert_eq!(items, vec![Some(json!("a")), None, None]);
        assert!(split_batch(&OutputKind::Text, "[1]", 1).is_err());
        assert!(split_batch(&OutputKind::Text, "nope", 1).is_err());
        let fenced = split_batch(&OutputKind::Text, "```json\n{\"i0\": \"a\"}\n```", 1).unwrap();
        assert_eq!(fenced, vec![Some(json!("a"))]);
    }

    #[test]
    fn responses_parse_with_or_without_usage() {
        let request = Request::single(&job("abcdefgh", OutputKind::Text));
        let with = r#"{"choices":[{"message":{"content":"hi"}}],"usage":{"prompt_tokens":7,"completion_tokens":2}}"#;
        let c = parse_response(with, &request).unwrap();
        assert_eq!(
            (c.content.as_str(), c.tokens_in, c.tokens_out),
            ("hi", 7, 2)
        );
        let without = r#"{"choices":[{"message":{"content":"hello"}}]}"#;
        let c = parse_response(without, &request).unwrap();
        // "Be brief." (9) + "abcdefgh" (8) = 17 chars → 5 tokens; "hello" → 2.
        assert_eq!((c.tokens_in, c.tokens_out), (5, 2));
        let bad = parse_response("<html>", &request).unwrap_err();
        assert!(!bad.retryable);
        assert!(parse_response(r#"{"choices":[]}"#, &request).is_err());
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_470);
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        // 2015-10-21T07:28:00Z is 10 s after `now`.
        let date = parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now);
        assert_eq!(date, Some(Duration::from_secs(10)));
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn debug_hides_the_key() {
        let config = Arc::new(ProviderConfig::offline());
        let p = Provider::new(config, Some("sk-secret".to_owned())).unwrap();
        assert!(!format!("{p:?}").contains("sk-secret"));
    }
}
