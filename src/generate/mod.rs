//! generate: the AI copy of the pages being built.
//!
//! Pages and collections declare generated fields (field → prompt + variables). For each,
//! the plan renders the prompt into a [`Job`] whose [`Job::key`] names the result in the cache
//! of `.sitegen/generations.sqlite` ([`store`]). Cache misses go through
//! the [`queue`]: per provider a concurrency limit, requests- and tokens-per-minute limits,
//! timeouts, retries with jittered exponential backoff, a circuit breaker, budgets, and
//! batching of small jobs of one prompt N to a request. Every answer is checked
//! ([`checks`]) before it is kept; one that fails twice, or cannot be sent, falls back to the
//! prompt's fallback template, and the page is recorded as pending so the next build retries.

pub(crate) mod checks;
pub mod copy;
pub(crate) mod prompts;
pub(crate) mod provider;
pub mod queue;
pub mod stage;
pub mod store;

use std::sync::Arc;

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

/// The cache key of a job: blake3(provider kind, model, prompt name + version + template hash,
/// rendered text), hex. Identical jobs share it and are sent once.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JobKey(String);

impl JobKey {
    /// The key's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for JobKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::borrow::Borrow<str> for JobKey {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl From<String> for JobKey {
    fn from(text: String) -> Self {
        Self(text)
    }
}

impl From<&str> for JobKey {
    fn from(text: &str) -> Self {
        Self(text.to_owned())
    }
}

/// One generation to make: a rendered prompt and how to ask for it.
#[derive(Debug, Clone)]
pub struct Job {
    /// The cache key.
    pub key: JobKey,
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
    pub key: JobKey,
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
    pub(crate) fn unsent(key: &JobKey, outcome: Outcome) -> Self {
        Self {
            key: key.clone(),
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
