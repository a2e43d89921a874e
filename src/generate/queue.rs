//! queue: sends a build's cache misses to their provider, within its limits.
//!
//! [`run`] takes the jobs of one provider and answers every distinct job exactly once, on a
//! channel, as soon as its outcome is known (so the caller can commit answers and render the
//! pages they complete while the rest are still in flight). On the way:
//!
//! - identical jobs (same [`Job::key`]) are sent once;
//! - jobs of one prompt are packed [`Job::batch_size`] to a request; an item missing from the
//!   answer, or failing its check, is sent again alone;
//! - every value goes through the [`Check`]; a job whose answer fails it is sent once more
//!   alone, and a second failure is final ([`Outcome::Failed`]);
//! - budgets are checked before a request is sent, against what was spent plus what requests
//!   in flight may still spend (their reservations, replaced by the actual usage on arrival);
//! - per provider: at most `max_concurrency` requests in flight, `rpm` and `tpm` paced by a
//!   small GCRA token bucket, the per-request timeout, retries of retryable errors with full
//!   jitter exponential backoff (at least as long as `Retry-After`), and a circuit breaker
//!   that stops everything after `breaker_failures` requests in a row failed for good.
//!
//! One coordinating loop owns all the bookkeeping; each request in flight is one task (at most
//! `max_concurrency` of them, in a `JoinSet`), which does its own rate-limit waits and retries
//! and hands back what happened. A request that fails for good fails all its jobs, batched or
//! not: they are not retried alone (the next build retries them).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use super::provider::{self, Completion, Provider, ProviderError, Request};
use super::{Answer, Job, JobKey, Outcome};
use crate::config::{ClassBudget, ProviderConfig, ProviderKind};

/// Checks (and may normalize) one generated value: `Ok` is the value kept, `Err` says why it
/// was refused.
pub type Check = Arc<dyn Fn(&Job, &Value) -> Result<Value, String> + Send + Sync>;

/// The spending limits of one build.
#[derive(Debug, Clone, Default)]
pub struct Budgets {
    /// Most USD the whole build may spend (`--max-cost`).
    pub max_cost: Option<f64>,
    /// Limits per request class.
    pub classes: BTreeMap<String, ClassBudget>,
}

/// What a run of the queue did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct QueueStats {
    /// Distinct jobs (one answer each).
    pub jobs: u64,
    /// HTTP requests sent, retries included.
    pub requests: u64,
    /// Re-sends: HTTP retries, and jobs sent again alone after a missing or refused answer.
    pub retries: u64,
    /// Input tokens of all answered requests.
    pub tokens_in: u64,
    /// Output tokens of all answered requests.
    pub tokens_out: u64,
    /// USD of all answered requests.
    pub cost_usd: f64,
    /// Jobs that ended [`Outcome::Failed`].
    pub failures: u64,
    /// Whether the circuit breaker opened.
    pub breaker_opened: bool,
    /// Per class: the budget that stopped it (in words), and how many jobs were not sent.
    pub over_budget: BTreeMap<String, (String, u64)>,
}

/// A `Retry-After` longer than this (or than `retry_max_ms`, when longer) ends the retries:
/// a build does not sit out a provider's long ban.
const RETRY_AFTER_LIMIT: Duration = Duration::from_secs(120);

/// Characters counted for each task of a batch besides its text (its `### iN` header).
const ITEM_OVERHEAD_CHARS: usize = 12;

/// Sends `jobs` to `provider` (with `api_key`, when given) and sends one [`Answer`] per
/// distinct job key on `answers`, as soon as it is known; returns what it did.
///
/// Never fails: a job that cannot be answered gets [`Outcome::Failed`],
/// [`Outcome::OverBudget`] or [`Outcome::BreakerOpen`], and the caller falls back. The
/// `offline` provider answers every job [`Outcome::Failed`] without sending anything.
pub async fn run(
    provider: Arc<ProviderConfig>,
    api_key: Option<String>,
    jobs: Vec<Job>,
    budgets: Budgets,
    check: Check,
    answers: mpsc::UnboundedSender<Answer>,
) -> QueueStats {
    let mut queue = Queue::new(&provider, jobs, budgets, check, answers);
    if provider.kind == ProviderKind::Offline {
        queue.fail_all("the offline provider sends no requests");
        return queue.stats;
    }
    let client = match Provider::new(Arc::clone(&provider), api_key) {
        Ok(client) => client,
        Err(e) => {
            queue.fail_all(&e.message);
            return queue.stats;
        }
    };
    let (breaker, breaker_rx) = watch::channel(false);
    let shared = Arc::new(Shared {
        limiter: Limiter::new(&provider),
        provider: client,
        breaker: breaker_rx,
    });
    let limit = provider.max_concurrency.max(1);
    let mut in_flight: JoinSet<Sent> = JoinSet::new();
    let mut items_of: HashMap<tokio::task::Id, Vec<usize>> = HashMap::new();
    loop {
        while in_flight.len() < limit {
            let Some(unit) = queue.pending.pop_front() else {
                break;
            };
            if queue.breaker_open {
                queue.answer_all(&unit.items, || Outcome::BreakerOpen, None);
                continue;
            }
            let Some(send) = queue.admit(&unit) else {
                continue;
            };
            let items = send.items.clone();
            let task = in_flight.spawn(send.run(Arc::clone(&shared)));
            items_of.insert(task.id(), items);
        }
        let Some(joined) = in_flight.join_next_with_id().await else {
            break; // nothing in flight and nothing pending: every job is answered
        };
        match joined {
            Ok((id, sent)) => {
                items_of.remove(&id);
                queue.settle(sent, &shared);
            }
            Err(e) => {
                // A request task panicked: its jobs fail; the rest go on.
                let items = items_of.remove(&e.id()).unwrap_or_default();
                let error = format!("internal error in the request task: {e}");
                queue.answer_all(
                    &items,
                    || Outcome::Failed {
                        error: error.clone(),
                    },
                    None,
                );
            }
        }
        if queue.breaker_open && !*breaker.borrow() {
            breaker.send_replace(true);
        }
    }
    debug_assert!(queue.slots.iter().all(|s| s.done), "every job is answered");
    queue.stats
}

/// One distinct job and what it has cost so far.
struct Slot {
    job: Job,
    first_sent: Option<Instant>,
    tokens_in: u64,
    tokens_out: u64,
    cost: f64,
    retries: u32,
    /// Whether it was already sent again alone after a missing or refused answer.
    resent: bool,
    done: bool,
}

/// Jobs to send in one request (indexes into the slots); one job: a single request.
struct Unit {
    items: Vec<usize>,
}

/// Tokens and USD, spent or reserved, per class and in all.
#[derive(Default)]
struct Ledger {
    cost: f64,
    class_tokens: HashMap<String, u64>,
    class_cost: HashMap<String, f64>,
}

impl Ledger {
    fn add(&mut self, class: &str, tokens: u64, cost: f64) {
        self.cost += cost;
        *self.class_tokens.entry(class.to_owned()).or_default() += tokens;
        *self.class_cost.entry(class.to_owned()).or_default() += cost;
    }

    fn remove(&mut self, class: &str, tokens: u64, cost: f64) {
        self.cost = (self.cost - cost).max(0.0);
        if let Some(t) = self.class_tokens.get_mut(class) {
            *t = t.saturating_sub(tokens);
        }
        if let Some(c) = self.class_cost.get_mut(class) {
            *c = (*c - cost).max(0.0);
        }
    }

    fn tokens(&self, class: &str) -> u64 {
        self.class_tokens.get(class).copied().unwrap_or(0)
    }

    fn class_cost(&self, class: &str) -> f64 {
        self.class_cost.get(class).copied().unwrap_or(0.0)
    }
}

/// The coordinator's state: everything but the requests in flight.
struct Queue {
    config: ProviderConfig,
    budgets: Budgets,
    check: Check,
    answers: mpsc::UnboundedSender<Answer>,
    slots: Vec<Slot>,
    pending: VecDeque<Unit>,
    stats: QueueStats,
    spent: Ledger,
    reserved: Ledger,
    consecutive_failures: u32,
    breaker_open: bool,
    batches: u64,
}

impl Queue {
    /// Deduplicates the jobs, caps their `max_tokens` by their class, and packs them into
    /// requests, jobs of one prompt (and system message) `batch_size` to a request.
    fn new(
        config: &ProviderConfig,
        jobs: Vec<Job>,
        budgets: Budgets,
        check: Check,
        answers: mpsc::UnboundedSender<Answer>,
    ) -> Self {
        let mut seen: HashSet<JobKey> = HashSet::with_capacity(jobs.len());
        let mut slots = Vec::with_capacity(jobs.len());
        for mut job in jobs {
            if !seen.insert(job.key.clone()) {
                continue;
            }
            if let Some(cap) = budgets.classes.get(&job.class).and_then(|b| b.max_tokens) {
                job.max_tokens = job.max_tokens.min(cap);
            }
            slots.push(Slot {
                job,
                first_sent: None,
                tokens_in: 0,
                tokens_out: 0,
                cost: 0.0,
                retries: 0,
                resent: false,
                done: false,
            });
        }
        // Groups in order of first appearance, so answers come roughly in the caller's order.
        let mut group_of: HashMap<(&str, &str, Option<&str>, usize), usize> = HashMap::new();
        let mut groups: Vec<(usize, Vec<usize>)> = Vec::new();
        for (i, slot) in slots.iter().enumerate() {
            let job = &slot.job;
            let size = job.batch_size.max(1);
            let key = (
                job.prompt.as_str(),
                job.class.as_str(),
                job.system.as_deref(),
                size,
            );
            let g = *group_of.entry(key).or_insert_with(|| {
                groups.push((size, Vec::new()));
                groups.len() - 1
            });
            groups[g].1.push(i);
        }
        let pending = groups
            .into_iter()
            .flat_map(|(size, items)| {
                items
                    .chunks(size)
                    .map(|c| Unit { items: c.to_vec() })
                    .collect::<Vec<_>>()
            })
            .collect();
        let stats = QueueStats {
            jobs: slots.len() as u64,
            ..QueueStats::default()
        };
        Self {
            config: config.clone(),
            budgets,
            check,
            answers,
            slots,
            pending,
            stats,
            spent: Ledger::default(),
            reserved: Ledger::default(),
            consecutive_failures: 0,
            breaker_open: false,
            batches: 0,
        }
    }

    /// Answers every job `Failed` with `error` (nothing can be sent).
    fn fail_all(&mut self, error: &str) {
        let items: Vec<usize> = (0..self.slots.len()).collect();
        self.pending.clear();
        self.answer_all(
            &items,
            || Outcome::Failed {
                error: error.to_owned(),
            },
            None,
        );
    }

    /// Sends job `i`'s answer; counts failures.
    fn answer(&mut self, i: usize, outcome: Outcome, batch_id: Option<&str>) {
        let slot = &mut self.slots[i];
        debug_assert!(!slot.done, "one answer per job");
        if slot.done {
            return;
        }
        slot.done = true;
        if matches!(outcome, Outcome::Failed { .. }) {
            self.stats.failures += 1;
        }
        let answer = Answer {
            key: slot.job.key.clone(),
            outcome,
            tokens_in: slot.tokens_in,
            tokens_out: slot.tokens_out,
            cost_usd: slot.cost,
            latency_ms: slot.first_sent.map_or(0, |t| {
                u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX)
            }),
            retries: slot.retries,
            batch_id: batch_id.map(str::to_owned),
        };
        // The receiver may be gone (the caller gave up); the answer is then nobody's business.
        let _ = self.answers.send(answer);
    }

    fn answer_all(&mut self, items: &[usize], outcome: impl Fn() -> Outcome, batch: Option<&str>) {
        for &i in items {
            self.answer(i, outcome(), batch);
        }
    }

    /// The budget that sending `tokens` and `cost` more for `class` would exceed, in words.
    fn exceeded(&self, class: &str, tokens: u64, cost: f64) -> Option<String> {
        if let Some(budget) = self.budgets.classes.get(class) {
            if let Some(max) = budget.max_tokens_per_build
                && self.spent.tokens(class) + self.reserved.tokens(class) + tokens > max
            {
                return Some(format!("{class}: max_tokens_per_build {max} tokens"));
            }
            if let Some(max) = budget.max_cost_per_build
                && self.spent.class_cost(class) + self.reserved.class_cost(class) + cost > max
            {
                return Some(format!("{class}: max_cost_per_build {max:.2} USD"));
            }
        }
        if let Some(max) = self.budgets.max_cost
            && self.spent.cost + self.reserved.cost + cost > max
        {
            return Some(format!("max_cost {max:.2} USD (--max-cost)"));
        }
        None
    }

    /// The request for `unit`, with the jobs the budgets allow (the others are answered
    /// `OverBudget` here); `None` when none is left. Reserves the request's estimate.
    fn admit(&mut self, unit: &Unit) -> Option<Outgoing> {
        let class = self.slots[*unit.items.first()?].job.class.clone();
        let batched = unit.items.len() > 1;
        let (mut tokens, mut cost) = (0u64, 0.0f64);
        let mut admitted = Vec::with_capacity(unit.items.len());
        for &i in &unit.items {
            let job = &self.slots[i].job;
            let mut chars = job.text.chars().count();
            if admitted.is_empty() {
                chars += job.system.as_deref().map_or(0, |s| s.chars().count());
            }
            if batched {
                chars += ITEM_OVERHEAD_CHARS;
            }
            let tokens_in = provider::estimate_tokens(chars);
            let tokens_out = u64::from(job.max_tokens);
            let item_cost = self.config.cost(tokens_in, tokens_out);
            let (t, c) = (tokens + tokens_in + tokens_out, cost + item_cost);
            if let Some(budget) = self.exceeded(&class, t, c) {
                let entry = self
                    .stats
                    .over_budget
                    .entry(class.clone())
                    .or_insert_with(|| (budget.clone(), 0));
                entry.1 += 1;
                self.answer(i, Outcome::OverBudget { budget }, None);
            } else {
                (tokens, cost) = (t, c);
                admitted.push(i);
            }
        }
        if admitted.is_empty() {
            return None;
        }
        self.reserved.add(&class, tokens, cost);
        let now = Instant::now();
        for &i in &admitted {
            self.slots[i].first_sent.get_or_insert(now);
        }
        let (request, batch_id) = if batched && admitted.len() > 1 {
            self.batches += 1;
            let jobs: Vec<&Job> = admitted.iter().map(|&i| &self.slots[i].job).collect();
            (Request::batch(&jobs), Some(format!("b-{}", self.batches)))
        } else if let [only] = admitted[..] {
            (Request::single(&self.slots[only].job), None)
        } else {
            unreachable!("a single request has one job")
        };
        Some(Outgoing {
            weight: request.estimated_tokens_in() + u64::from(request.max_tokens),
            request,
            items: admitted,
            batch_id,
            class,
            reserved_tokens: tokens,
            reserved_cost: cost,
            max_retries: self.config.max_retries,
            backoff: Backoff::of(&self.config),
        })
    }

    /// Books what a request did and answers (or sends again) its jobs.
    fn settle(&mut self, sent: Sent, shared: &Shared) {
        let Outgoing {
            items,
            batch_id,
            class,
            reserved_tokens,
            reserved_cost,
            weight,
            ..
        } = sent.send;
        self.reserved.remove(&class, reserved_tokens, reserved_cost);
        self.stats.requests += u64::from(sent.attempts);
        let resends = sent.attempts.saturating_sub(1);
        self.stats.retries += u64::from(resends);
        for &i in &items {
            self.slots[i].retries += resends;
        }
        let batch = batch_id.as_deref();
        match sent.result {
            Err(Stop::Breaker) => self.answer_all(&items, || Outcome::BreakerOpen, batch),
            Err(Stop::Failed(e)) => {
                tracing::warn!(
                    "generation request failed for good ({} job(s)): {e}",
                    items.len()
                );
                self.consecutive_failures += 1;
                let threshold = self.config.breaker_failures;
                if threshold > 0 && self.consecutive_failures >= threshold && !self.breaker_open {
                    tracing::warn!(
                        "{threshold} generation requests in a row failed: circuit breaker open"
                    );
                    self.breaker_open = true;
                    self.stats.breaker_opened = true;
                    let pending: Vec<Unit> = self.pending.drain(..).collect();
                    for unit in pending {
                        self.answer_all(&unit.items, || Outcome::BreakerOpen, None);
                    }
                }
                let error = e.message;
                self.answer_all(
                    &items,
                    || Outcome::Failed {
                        error: error.clone(),
                    },
                    batch,
                );
            }
            Ok(completion) => {
                self.consecutive_failures = 0;
                let used = completion.tokens_in + completion.tokens_out;
                shared.limiter.credit(weight.saturating_sub(used));
                self.book(&items, &class, &completion);
                if let Some(batch) = batch {
                    self.settle_batch(&items, batch, &completion.content);
                } else {
                    let i = items[0];
                    let value = provider::parse_single(&self.slots[i].job, &completion.content);
                    self.settle_value(i, value, None);
                }
            }
        }
    }

    /// Adds a request's usage to the totals, shared out evenly among its jobs.
    fn book(&mut self, items: &[usize], class: &str, c: &Completion) {
        let cost = self.config.cost(c.tokens_in, c.tokens_out);
        self.stats.tokens_in += c.tokens_in;
        self.stats.tokens_out += c.tokens_out;
        self.stats.cost_usd += cost;
        self.spent.add(class, c.tokens_in + c.tokens_out, cost);
        let n = items.len() as u64;
        for (k, &i) in items.iter().enumerate() {
            let slot = &mut self.slots[i];
            slot.tokens_in += share(c.tokens_in, n, k as u64);
            slot.tokens_out += share(c.tokens_out, n, k as u64);
            slot.cost += cost / n as f64;
        }
    }

    fn settle_batch(&mut self, items: &[usize], batch: &str, content: &str) {
        let output = Arc::clone(&self.slots[items[0]].job.output);
        match provider::split_batch(&output, content, items.len()) {
            Ok(values) => {
                for (&i, value) in items.iter().zip(values) {
                    let value = value.ok_or_else(|| "missing from the batch answer".to_owned());
                    self.settle_value(i, value, Some(batch));
                }
            }
            Err(error) => {
                for &i in items {
                    self.settle_value(i, Err(error.clone()), Some(batch));
                }
            }
        }
    }

    /// Checks job `i`'s value: kept, or sent again alone once, or failed.
    fn settle_value(&mut self, i: usize, value: Result<Value, String>, batch: Option<&str>) {
        let checked = value.and_then(|v| (self.check)(&self.slots[i].job, &v));
        match checked {
            Ok(value) => self.answer(i, Outcome::Generated { value }, batch),
            Err(error) if self.slots[i].resent || self.breaker_open => {
                self.answer(i, Outcome::Failed { error }, batch);
            }
            Err(error) => {
                tracing::debug!(
                    "generation {} sent again alone: {error}",
                    self.slots[i].job.key
                );
                let slot = &mut self.slots[i];
                slot.resent = true;
                slot.retries += 1;
                self.stats.retries += 1;
                self.pending.push_front(Unit { items: vec![i] });
            }
        }
    }
}

/// The `k`-th of `n` even shares of `total` (the remainder goes to the first ones).
fn share(total: u64, n: u64, k: u64) -> u64 {
    total / n + u64::from(k < total % n)
}

/// Retry delays: full jitter over an exponentially growing, capped ceiling.
#[derive(Debug, Clone, Copy)]
struct Backoff {
    base_ms: u64,
    max_ms: u64,
}

impl Backoff {
    fn of(config: &ProviderConfig) -> Self {
        Self {
            base_ms: config.retry_base_ms,
            max_ms: config.retry_max_ms.max(config.retry_base_ms),
        }
    }

    /// The wait before retry number `retry` (0 for the first).
    fn delay(self, retry: u32) -> Duration {
        let ceiling = self
            .base_ms
            .saturating_mul(1u64 << retry.min(32))
            .min(self.max_ms);
        Duration::from_millis(fastrand::u64(0..=ceiling))
    }

    /// The longest `Retry-After` worth waiting for.
    fn retry_after_limit(self) -> Duration {
        RETRY_AFTER_LIMIT.max(Duration::from_millis(self.max_ms))
    }
}

/// What request tasks share.
struct Shared {
    provider: Provider,
    limiter: Limiter,
    /// True once the circuit breaker is open: tasks stop before their next attempt.
    breaker: watch::Receiver<bool>,
}

/// A request on its way, and what the coordinator needs back when it is done.
struct Outgoing {
    request: Request,
    items: Vec<usize>,
    batch_id: Option<String>,
    class: String,
    reserved_tokens: u64,
    reserved_cost: f64,
    /// Its tokens for the `tpm` limit (input estimate + `max_tokens`).
    weight: u64,
    max_retries: u32,
    backoff: Backoff,
}

/// How a request ended without an answer.
enum Stop {
    /// Failed for good: not retryable, or out of retries.
    Failed(ProviderError),
    /// Not (or no longer) sent: the breaker opened.
    Breaker,
}

/// A finished request.
struct Sent {
    send: Outgoing,
    /// HTTP requests sent (1 + retries; 0 when the breaker stopped it first).
    attempts: u32,
    result: Result<Completion, Stop>,
}

impl Outgoing {
    /// Sends the request, waiting for the rate limits before each attempt and retrying
    /// retryable errors; stops early when the breaker opens.
    async fn run(self, shared: Arc<Shared>) -> Sent {
        let mut breaker = shared.breaker.clone();
        let mut attempts = 0u32;
        let result = loop {
            let at = shared.limiter.reserve(self.weight);
            if !wait_unless_open(at, &mut breaker).await {
                break Err(Stop::Breaker);
            }
            attempts += 1;
            let error = match shared.provider.complete(&self.request).await {
                Ok(completion) => break Ok(completion),
                Err(error) => error,
            };
            if !error.retryable || attempts > self.max_retries {
                break Err(Stop::Failed(error));
            }
            let mut wait = self.backoff.delay(attempts - 1);
            if let Some(asked) = error.retry_after {
                if asked > self.backoff.retry_after_limit() {
                    break Err(Stop::Failed(ProviderError {
                        message: format!("{error} (Retry-After {} s: gave up)", asked.as_secs()),
                        retryable: false,
                        ..error
                    }));
                }
                shared.limiter.pause(asked);
                wait = wait.max(asked);
            }
            tracing::debug!("generation request retried in {wait:?}: {error}");
            if !wait_unless_open(Instant::now() + wait, &mut breaker).await {
                break Err(Stop::Breaker);
            }
        };
        Sent {
            send: self,
            attempts,
            result,
        }
    }
}

/// Sleeps until `at`; false (at once) when the breaker is or becomes open.
async fn wait_unless_open(at: Instant, breaker: &mut watch::Receiver<bool>) -> bool {
    if *breaker.borrow() {
        return false;
    }
    let opened = tokio::select! {
        () = tokio::time::sleep_until(at.into()) => false,
        // An error means the coordinator is gone, which it is not while tasks run.
        _ = breaker.wait_for(|open| *open) => true,
    };
    !opened && !*breaker.borrow()
}

/// The `rpm` and `tpm` limits of a provider, and any pause a `Retry-After` asked for.
///
/// Each limit is a GCRA ("virtual scheduling") bucket: a request is given the earliest moment
/// its limits allow and books its share of the minute, so waiters go in order and nothing
/// polls. Requests per minute are spaced evenly (no burst); tokens per minute allow a burst of
/// ten seconds' worth, and tokens reserved but not used are given back.
struct Limiter {
    start: Instant,
    rpm: Option<Mutex<Gcra>>,
    tpm: Option<Mutex<Gcra>>,
    /// Seconds since `start` before which nothing is sent.
    paused_until: Mutex<f64>,
}

/// A GCRA bucket; times in seconds since the limiter's start.
struct Gcra {
    /// Seconds one unit books.
    per_unit: f64,
    /// Seconds of burst allowed ahead of the schedule.
    tolerance: f64,
    /// The theoretical arrival time: when the schedule is free again.
    tat: f64,
}

impl Gcra {
    fn per_minute(limit: u32, burst_seconds: f64) -> Option<Mutex<Self>> {
        (limit > 0).then(|| {
            Mutex::new(Self {
                per_unit: 60.0 / f64::from(limit),
                tolerance: burst_seconds,
                tat: 0.0,
            })
        })
    }

    /// Books `units` at the earliest moment not before `now`; returns that moment.
    fn reserve(&mut self, now: f64, units: f64) -> f64 {
        let at = now.max(self.tat - self.tolerance);
        self.tat = self.tat.max(at) + units * self.per_unit;
        at
    }
}

impl Limiter {
    fn new(config: &ProviderConfig) -> Self {
        Self {
            start: Instant::now(),
            rpm: config.rpm.and_then(|rpm| Gcra::per_minute(rpm, 0.0)),
            tpm: config.tpm.and_then(|tpm| Gcra::per_minute(tpm, 10.0)),
            paused_until: Mutex::new(0.0),
        }
    }

    /// Books one request of `tokens` and returns when it may be sent.
    fn reserve(&self, tokens: u64) -> Instant {
        let now = self.start.elapsed().as_secs_f64();
        let mut at = now.max(*lock(&self.paused_until));
        if let Some(rpm) = &self.rpm {
            at = lock(rpm).reserve(at, 1.0);
        }
        if let Some(tpm) = &self.tpm {
            at = lock(tpm).reserve(at, tokens as f64);
        }
        self.start + Duration::from_secs_f64(at)
    }

    /// Gives back `tokens` booked but not used.
    fn credit(&self, tokens: u64) {
        if let Some(tpm) = &self.tpm {
            let mut bucket = lock(tpm);
            bucket.tat -= tokens as f64 * bucket.per_unit;
        }
    }

    /// Holds every request back for `wait` from now (a `Retry-After`).
    fn pause(&self, wait: Duration) {
        let until = (self.start.elapsed() + wait).as_secs_f64();
        let mut paused = lock(&self.paused_until);
        *paused = paused.max(until);
    }
}

/// Locks a mutex whose data stays consistent even if a holder panicked.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_add_up() {
        let parts: Vec<u64> = (0..3).map(|k| share(10, 3, k)).collect();
        assert_eq!(parts, vec![4, 3, 3]);
        assert_eq!(parts.iter().sum::<u64>(), 10);
    }

    #[test]
    fn backoff_is_capped_and_jittered() {
        let b = Backoff {
            base_ms: 100,
            max_ms: 1000,
        };
        for retry in 0..40 {
            let ceiling = (100u64 << retry.min(10)).min(1000);
            assert!(b.delay(retry) <= Duration::from_millis(ceiling));
        }
        let distinct: std::collections::HashSet<_> = (0..50).map(|_| b.delay(5)).collect();
        assert!(distinct.len() > 1, "jittered");
    }

    #[test]
    fn gcra_spaces_requests_and_allows_token_bursts() {
        let mut rpm = Gcra {
            per_unit: 0.1,
            tolerance: 0.0,
            tat: 0.0,
        };
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        let times: Vec<f64> = (0..4).map(|_| rpm.reserve(0.0, 1.0)).collect();
        for (time, expected) in times.iter().zip([0.0, 0.1, 0.2, 0.3]) {
            assert!(close(*time, expected), "{times:?}");
        }
        // After a long idle time there is still no burst.
        assert!(close(rpm.reserve(10.0, 1.0), 10.0));
        assert!(close(rpm.reserve(10.0, 1.0), 10.1));

        let mut tpm = Gcra {
            per_unit: 0.001,
            tolerance: 1.0,
            tat: 0.0,
        };
        // 1000 tokens a second, a second's burst: two requests of 600 go at once, the third
        // waits for the schedule (1.2 s booked, 1 s tolerated).
        assert!(close(tpm.reserve(0.0, 600.0), 0.0));
        assert!(close(tpm.reserve(0.0, 600.0), 0.0));
        assert!(close(tpm.reserve(0.0, 600.0), 0.2));
    }
}
