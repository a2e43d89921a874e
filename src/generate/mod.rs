//! generate: the AI copy of the pages being built.
//!
//! Pages and collections declare generated fields (field → prompt + variables). For each,
//! the plan renders the prompt into a [`Job`] whose [`Job::key`] names the result in the cache
//! of `.sitegen/generations.sqlite` ([`crate::state::generations`]). Cache misses go through
//! the [`queue`]: per provider a concurrency limit, requests- and tokens-per-minute limits,
//! timeouts, retries with jittered exponential backoff, a circuit breaker, budgets, and
//! batching of small jobs of one prompt N to a request. Every answer is checked
//! ([`checks`]) before it is kept; one that fails twice, or cannot be sent, falls back to the
//! prompt's fallback template, and the page is recorded as pending so the next build retries.

pub mod checks;
pub mod copy;
pub mod provider;
pub mod queue;
pub mod stage;

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What a prompt asks the model for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum OutputKind {
    /// Plain text (escaped in templates like any string).
    Text,
    /// HTML (sanitized before templates see it).
    Html,
    /// A JSON value valid against this JSON Schema.
    Json {
        /// The schema.
        schema: serde_json::Value,
    },
}

/// One generation to make: a rendered prompt and how to ask for it.
#[derive(Debug, Clone)]
pub struct Job {
    /// blake3(provider kind, model, prompt name + version + template hash, rendered text), hex:
    /// the cache key. Identical jobs share it and are sent once.
    pub key: String,
    /// `name@version` of the prompt.
    pub prompt: String,
    /// The prompt's request class (budgets and batch sizes are per class).
    pub class: String,
    /// The system message, when the prompt has one.
    pub system: Option<String>,
    /// The user message: the prompt template rendered with the page's variables.
    pub text: String,
    /// The expected output.
    pub output: Arc<OutputKind>,
    /// Most tokens the answer may take (per item, in a batch).
    pub max_tokens: u32,
    /// Jobs of one prompt are packed this many to a request (1: no batching).
    pub batch_size: usize,
}

/// A provider, as configured (`[providers.NAME]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// `openai` (an OpenAI-compatible chat-completions API) or `offline` (no network: every
    /// job gets its prompt's fallback).
    pub kind: ProviderKind,
    /// The API's base URL, up to and including `/v1`.
    #[serde(default)]
    pub base_url: String,
    /// The model name sent with each request.
    #[serde(default)]
    pub model: String,
    /// The environment variable holding the API key (never the key itself).
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// Requests in flight at once.
    #[serde(default = "default_concurrency")]
    pub max_concurrency: usize,
    /// Requests per minute (none: unlimited).
    #[serde(default)]
    pub rpm: Option<u32>,
    /// Tokens (in + out) per minute (none: unlimited).
    #[serde(default)]
    pub tpm: Option<u32>,
    /// Seconds one request may take.
    #[serde(default = "default_timeout")]
    pub timeout: f64,
    /// Retries of a request after the first attempt.
    #[serde(default = "default_retries")]
    pub max_retries: u32,
    /// Consecutive failed requests (after their retries) that open the circuit breaker.
    #[serde(default = "default_breaker")]
    pub breaker_failures: u32,
    /// Milliseconds of the first retry's backoff ceiling; it doubles per retry (full jitter).
    #[serde(default = "default_retry_base_ms")]
    pub retry_base_ms: u64,
    /// Most milliseconds of one backoff ceiling.
    #[serde(default = "default_retry_max_ms")]
    pub retry_max_ms: u64,
    /// USD per million input tokens.
    #[serde(default)]
    pub price_in: f64,
    /// USD per million output tokens.
    #[serde(default)]
    pub price_out: f64,
}

/// The kinds of provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// An OpenAI-compatible chat-completions API.
    Openai,
    /// No network: fallbacks only.
    Offline,
}

fn default_concurrency() -> usize {
    8
}
fn default_timeout() -> f64 {
    60.0
}
fn default_retries() -> u32 {
    4
}
fn default_breaker() -> u32 {
    5
}
fn default_retry_base_ms() -> u64 {
    500
}
fn default_retry_max_ms() -> u64 {
    30_000
}

impl ProviderConfig {
    /// The built-in `offline` provider.
    pub fn offline() -> Self {
        Self {
            kind: ProviderKind::Offline,
            base_url: String::new(),
            model: String::new(),
            api_key_env: None,
            max_concurrency: default_concurrency(),
            rpm: None,
            tpm: None,
            timeout: default_timeout(),
            max_retries: default_retries(),
            breaker_failures: default_breaker(),
            retry_base_ms: default_retry_base_ms(),
            retry_max_ms: default_retry_max_ms(),
            price_in: 0.0,
            price_out: 0.0,
        }
    }

    /// The per-request timeout.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs_f64(self.timeout.max(0.001))
    }

    /// The cost in USD of a request's tokens.
    pub fn cost(&self, tokens_in: u64, tokens_out: u64) -> f64 {
        (tokens_in as f64 * self.price_in + tokens_out as f64 * self.price_out) / 1_000_000.0
    }
}

/// Limits of one request class (`[generate.classes.NAME]`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassBudget {
    /// Most output tokens per request (per item in a batch); the prompt's own limit otherwise.
    #[serde(default)]
    pub max_tokens: Option<u32>,
    /// Most tokens (in + out) this class may use in one build.
    #[serde(default)]
    pub max_tokens_per_build: Option<u64>,
    /// Most USD this class may cost in one build.
    #[serde(default)]
    pub max_cost_per_build: Option<f64>,
    /// Jobs packed per request (1: no batching).
    #[serde(default)]
    pub batch_size: Option<usize>,
}

/// How one job ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// A checked answer.
    Generated {
        /// The value: a string for text and HTML, the JSON value for JSON.
        value: serde_json::Value,
    },
    /// Not sent: a budget would be exceeded (its description).
    OverBudget {
        /// Which budget, in words (`class short: max_cost_per_build 0.50 USD`).
        budget: String,
    },
    /// Not sent: the circuit breaker of the provider is open.
    BreakerOpen,
    /// Sent and failed (after retries), or failed its checks twice.
    Failed {
        /// The last error.
        error: String,
    },
}

/// One job's answer, with what it cost: the queue sends one per job, as soon as it is known.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    /// The job's key.
    pub key: String,
    /// How it ended.
    pub outcome: Outcome,
    /// Input tokens of the request (a batch's tokens are shared out among its items).
    pub tokens_in: u64,
    /// Output tokens.
    pub tokens_out: u64,
    /// USD.
    pub cost_usd: f64,
    /// Milliseconds from the first send to the answer.
    pub latency_ms: u64,
    /// Requests retried for it.
    pub retries: u32,
    /// The request that answered it, when it was batched (`b-<n>`), for traces.
    pub batch_id: Option<String>,
}

impl Answer {
    /// The answer of a job that was never sent (cached, offline, or given up): no tokens, no
    /// cost, no latency.
    pub fn unsent(key: &str, outcome: Outcome) -> Self {
        Self {
            key: key.to_owned(),
            outcome,
            tokens_in: 0,
            tokens_out: 0,
            cost_usd: 0.0,
            latency_ms: 0,
            retries: 0,
            batch_id: None,
        }
    }
}
