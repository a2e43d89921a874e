//! `[generate]`, `[providers.NAME]` and generated fields: how AI copy is asked for.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A generated field: which prompt writes it, with what variables.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum GenField {
    /// Just the prompt (`snippet = "snippet@2"`).
    Prompt(String),
    /// The prompt and its variables.
    Full {
        /// `name` (its newest version) or `name@version`.
        prompt: String,
        /// Values the prompt reads as `vars.NAME`.
        #[serde(default)]
        vars: BTreeMap<String, serde_json::Value>,
    },
}

impl GenField {
    /// The prompt's reference.
    pub(crate) fn prompt(&self) -> &str {
        match self {
            Self::Prompt(p) | Self::Full { prompt: p, .. } => p,
        }
    }

    /// The variables.
    pub(crate) fn vars(&self) -> serde_json::Value {
        match self {
            Self::Prompt(_) => serde_json::Value::Object(serde_json::Map::new()),
            Self::Full { vars, .. } => serde_json::json!(vars),
        }
    }
}

/// `[generate]`: which provider writes the copy, and the budgets.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct GenerateConfig {
    /// The provider's name: `offline` (built in: every field gets its prompt's fallback) or
    /// one of `[providers]`.
    pub(crate) provider: String,
    /// Most USD one build may spend (`--max-cost` overrides).
    pub(crate) max_cost: Option<f64>,
    /// Budgets and batch sizes per request class.
    pub(crate) classes: BTreeMap<String, ClassBudget>,
}

impl Default for GenerateConfig {
    fn default() -> Self {
        Self {
            provider: "offline".to_owned(),
            max_cost: None,
            classes: BTreeMap::new(),
        }
    }
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
    pub(crate) fn timeout(&self) -> Duration {
        Duration::from_secs_f64(self.timeout.max(0.001))
    }

    /// The cost in USD of a request's tokens.
    pub(crate) fn cost(&self, tokens_in: u64, tokens_out: u64) -> f64 {
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
