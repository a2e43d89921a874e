//! The generation queue against the scripted mock: retries, backoff, timeouts, the breaker,
//! batching, checks, deduplication, budgets and the concurrency and rate limits.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sitegen::config::{ClassBudget, ProviderConfig, ProviderKind};
use sitegen::generate::queue::{self, Budgets, Check, QueueStats};
use sitegen::generate::{Answer, Job, JobKey, Outcome, OutputKind};

use crate::llm_mock::{MockLlm, Reply, Script, text_for};

/// A provider on the mock with small backoffs and a short timeout.
fn provider(mock: &MockLlm) -> ProviderConfig {
    ProviderConfig {
        kind: ProviderKind::Openai,
        base_url: format!("{}/", mock.base_url()), // the trailing slash is trimmed
        model: "mock-model".to_owned(),
        api_key_env: None,
        max_concurrency: 4,
        rpm: None,
        tpm: None,
        timeout: 2.0,
        max_retries: 3,
        breaker_failures: 5,
        retry_base_ms: 10,
        retry_max_ms: 40,
        price_in: 1.0,
        price_out: 2.0,
    }
}

fn text_job(i: usize) -> Job {
    Job {
        key: format!("k{i}").into(),
        prompt: "summary@1".to_owned(),
        class: "short".to_owned(),
        system: Some("sys".to_owned()),
        text: format!("Describe item number {i}"),
        output: Arc::new(OutputKind::Text),
        max_tokens: 50,
        batch_size: 1,
    }
}

fn text_jobs(n: usize, batch_size: usize) -> Vec<Job> {
    (0..n)
        .map(|i| Job {
            batch_size,
            ..text_job(i)
        })
        .collect()
}

fn json_job(i: usize) -> Job {
    let schema = json!({
        "type": "object",
        "properties": {"title": {"type": "string"}, "score": {"type": "number"}},
        "required": ["title", "score"],
        "additionalProperties": false,
    });
    Job {
        prompt: "facts@1".to_owned(),
        output: Arc::new(OutputKind::Json { schema }),
        ..text_job(i)
    }
}

/// Text must be a non-empty string; JSON must match the job's schema.
fn check() -> Check {
    Arc::new(|job: &Job, value: &Value| match job.output.as_ref() {
        OutputKind::Json { schema } if jsonschema::is_valid(schema, value) => Ok(value.clone()),
        OutputKind::Json { .. } => Err("does not match the schema".to_owned()),
        _ => match value.as_str() {
            Some(s) if !s.is_empty() => Ok(value.clone()),
            _ => Err("empty".to_owned()),
        },
    })
}

/// Runs the queue (bounded in time) and collects its answers by key, checking there is
/// exactly one per key.
async fn run_with(
    config: ProviderConfig,
    key: Option<&str>,
    jobs: Vec<Job>,
    budgets: Budgets,
) -> (QueueStats, HashMap<JobKey, Answer>) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let run = queue::run(
        Arc::new(config),
        key.map(str::to_owned),
        jobs,
        budgets,
        check(),
        tx,
    );
    let stats = tokio::time::timeout(Duration::from_secs(10), run)
        .await
        .expect("the queue finishes");
    let mut answers = HashMap::new();
    while let Ok(answer) = rx.try_recv() {
        let key = answer.key.clone();
        assert!(
            answers.insert(key.clone(), answer).is_none(),
            "two answers for {key}"
        );
    }
    assert_eq!(
        answers.len() as u64,
        stats.jobs,
        "one answer per distinct job"
    );
    (stats, answers)
}

async fn run(config: ProviderConfig, jobs: Vec<Job>) -> (QueueStats, HashMap<JobKey, Answer>) {
    run_with(config, None, jobs, Budgets::default()).await
}

fn generated(answer: &Answer) -> &Value {
    match &answer.outcome {
        Outcome::Generated { value } => value,
        other => panic!("{} not generated: {other:?}", answer.key),
    }
}

fn failed(answer: &Answer) -> &str {
    match &answer.outcome {
        Outcome::Failed { error } => error,
        other => panic!("{} did not fail: {other:?}", answer.key),
    }
}

#[tokio::test]
async fn a_429_is_retried_after_its_retry_after() {
    let mock = MockLlm::start(Script::replies(vec![Reply::too_many(1)]));
    let started = Instant::now();
    let (stats, answers) = run(provider(&mock), vec![text_job(0)]).await;
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited the Retry-After"
    );
    assert_eq!(mock.requests(), 2);
    assert_eq!((stats.requests, stats.retries), (2, 1));
    let answer = &answers["k0"];
    assert_eq!(
        generated(answer),
        &json!(text_for("Describe item number 0"))
    );
    assert_eq!(answer.retries, 1);
    assert!(answer.latency_ms >= 1000);
}

#[tokio::test]
async fn a_429_with_an_http_date_is_honoured() {
    // A date two seconds ahead, in whole seconds: the wait is between 1 and 2 s.
    let at = chrono::Utc::now() + chrono::Duration::seconds(2);
    let date = at.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    let mock = MockLlm::start(Script::replies(vec![Reply::TooMany(Some(date))]));
    let started = Instant::now();
    let (_, answers) = run(provider(&mock), vec![text_job(0)]).await;
    assert!(started.elapsed() >= Duration::from_millis(900));
    generated(&answers["k0"]);
    assert_eq!(mock.requests(), 2);
}

#[tokio::test]
async fn server_errors_are_retried_until_the_retries_run_out() {
    let mock = MockLlm::start(Script::replies(vec![
        Reply::ServerError,
        Reply::ServerError,
    ]));
    let (stats, answers) = run(provider(&mock), vec![text_job(0)]).await;
    assert_eq!((stats.requests, stats.retries, stats.failures), (3, 2, 0));
    generated(&answers["k0"]);

    let mock = MockLlm::start(Script::with(|_| Reply::ServerError));
    let config = ProviderConfig {
        max_retries: 2,
        ..provider(&mock)
    };
    let (stats, answers) = run(config, vec![text_job(0)]).await;
    assert_eq!(mock.requests(), 3, "1 + max_retries");
    assert_eq!((stats.requests, stats.retries, stats.failures), (3, 2, 1));
    assert!(failed(&answers["k0"]).contains("500"));
}

#[tokio::test]
async fn backoff_is_jittered_exponential_and_capped() {
    // Five retries, base 100 ms, cap 400 ms: ceilings 100, 200, 400, 400, 400 ms, so the
    // waits add up to at most 1.5 s (mean 750 ms). Under 100 ms in all has a chance of about
    // 1 in 15,000 with full jitter; without any backoff it would take a few ms.
    let mock = MockLlm::start(Script::with(|_| Reply::ServerError));
    let config = ProviderConfig {
        max_retries: 5,
        retry_base_ms: 100,
        retry_max_ms: 400,
        breaker_failures: 0,
        ..provider(&mock)
    };
    run(config, vec![text_job(0)]).await;
    let times: Vec<Instant> = mock.received().iter().map(|r| r.at).collect();
    assert_eq!(times.len(), 6);
    let total = times[5] - times[0];
    assert!(total >= Duration::from_millis(100), "waited: {total:?}");
    assert!(
        total <= Duration::from_millis(1500 + 300),
        "capped: {total:?}"
    );
}

#[tokio::test]
async fn a_timeout_is_retried() {
    let mock = MockLlm::start(Script::replies(vec![Reply::Hang]));
    let config = ProviderConfig {
        timeout: 0.3,
        ..provider(&mock)
    };
    let started = Instant::now();
    let (stats, answers) = run(config, vec![text_job(0)]).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!((mock.requests(), stats.retries), (2, 1));
    generated(&answers["k0"]);
}

#[tokio::test]
async fn a_400_or_an_unparseable_body_is_not_retried() {
    let mock = MockLlm::start(Script::with(|_| Reply::BadRequest));
    let (stats, answers) = run(provider(&mock), vec![text_job(0)]).await;
    assert_eq!((mock.requests(), stats.retries, stats.failures), (1, 0, 1));
    assert!(failed(&answers["k0"]).contains("400"));

    let mock = MockLlm::start(Script::with(|_| Reply::UnparseableBody));
    let (stats, answers) = run(provider(&mock), vec![text_job(0)]).await;
    assert_eq!((mock.requests(), stats.retries), (1, 0));
    assert!(failed(&answers["k0"]).contains("unparseable"));
}

#[tokio::test]
async fn the_breaker_opens_after_consecutive_failures() {
    let mock = MockLlm::start(Script::with(|_| Reply::ServerError));
    let config = ProviderConfig {
        max_concurrency: 1,
        max_retries: 1,
        breaker_failures: 3,
        ..provider(&mock)
    };
    let (stats, answers) = run(config, text_jobs(10, 1)).await;
    assert!(stats.breaker_opened);
    assert_eq!(
        mock.requests(),
        6,
        "3 failed requests of 2 attempts, then nothing"
    );
    let open = answers
        .values()
        .filter(|a| a.outcome == Outcome::BreakerOpen)
        .count();
    assert_eq!((stats.failures, open), (3, 7));
    for i in 3..10 {
        assert_eq!(
            answers[format!("k{i}").as_str()].outcome,
            Outcome::BreakerOpen
        );
    }
}

#[tokio::test]
async fn a_success_resets_the_breaker() {
    // Two failures, a success, two failures, …: never three in a row.
    let mock = MockLlm::start(Script::with(|r| {
        if r.n % 3 == 2 {
            Reply::Good
        } else {
            Reply::BadRequest
        }
    }));
    let config = ProviderConfig {
        max_concurrency: 1,
        breaker_failures: 3,
        ..provider(&mock)
    };
    let (stats, answers) = run(config, text_jobs(9, 1)).await;
    assert!(!stats.breaker_opened);
    assert_eq!((mock.requests(), stats.failures), (9, 6));
    assert!(answers.values().all(|a| a.outcome != Outcome::BreakerOpen));
}

#[tokio::test]
async fn jobs_of_one_prompt_are_batched_and_split_back() {
    let mock = MockLlm::start(Script::good());
    let jobs = text_jobs(23, 5);
    let (stats, answers) = run(provider(&mock), jobs.clone()).await;
    assert_eq!(mock.requests(), 5, "ceil(23 / 5)");
    assert_eq!((stats.requests, stats.retries, stats.failures), (5, 0, 0));
    for job in &jobs {
        let answer = &answers[&job.key];
        assert_eq!(
            generated(answer),
            &json!(text_for(&job.text)),
            "{}",
            job.key
        );
        assert!(
            answer
                .batch_id
                .as_deref()
                .is_some_and(|b| b.starts_with("b-"))
        );
    }
    let batch_ids: std::collections::BTreeSet<_> =
        answers.values().map(|a| a.batch_id.clone()).collect();
    assert_eq!(batch_ids.len(), 5);
    let body = &mock.bodies()[0];
    assert_eq!(body["max_tokens"], 250, "5 × 50");
    let schema = &body["response_format"]["json_schema"];
    assert_eq!(schema["strict"], true);
    assert_eq!(
        schema["schema"]["required"],
        json!(["i0", "i1", "i2", "i3", "i4"])
    );
    assert_eq!(
        body["messages"][0],
        json!({"role": "system", "content": "sys"})
    );
}

#[tokio::test]
async fn json_jobs_are_batched_with_their_schema() {
    let mock = MockLlm::start(Script::good());
    let jobs: Vec<Job> = (0..4)
        .map(|i| Job {
            batch_size: 4,
            ..json_job(i)
        })
        .collect();
    let (stats, answers) = run(provider(&mock), jobs).await;
    assert_eq!(stats.requests, 1);
    for i in 0..4 {
        let value = generated(&answers[format!("k{i}").as_str()]);
        assert_eq!(
            value["title"],
            json!(text_for(&format!("Describe item number {i}")))
        );
        assert_eq!(value["score"], json!(1));
    }
}

#[tokio::test]
async fn an_item_missing_from_a_batch_is_sent_again_alone() {
    let mock = MockLlm::start(Script::replies(vec![Reply::MissingItem(2)]));
    let jobs = text_jobs(5, 5);
    let (stats, answers) = run(provider(&mock), jobs).await;
    assert_eq!((mock.requests(), stats.retries, stats.failures), (2, 1, 0));
    let alone = &mock.bodies()[1];
    assert!(
        alone.get("response_format").is_none(),
        "a single text request"
    );
    assert_eq!(alone["messages"][1]["content"], "Describe item number 2");
    let answer = &answers["k2"];
    assert_eq!(
        generated(answer),
        &json!(text_for("Describe item number 2"))
    );
    assert_eq!((answer.retries, answer.batch_id.as_deref()), (1, None));
    assert_eq!(answers["k1"].retries, 0);
}

#[tokio::test]
async fn malformed_json_is_sent_again_once_then_fails() {
    let mock = MockLlm::start(Script::replies(vec![Reply::Malformed]));
    let (_, answers) = run(provider(&mock), vec![json_job(0)]).await;
    assert_eq!(mock.requests(), 2);
    assert_eq!(generated(&answers["k0"])["score"], json!(1));

    let mock = MockLlm::start(Script::with(|_| Reply::Malformed));
    let (stats, answers) = run(provider(&mock), vec![json_job(0)]).await;
    assert_eq!((mock.requests(), stats.retries, stats.failures), (2, 1, 1));
    assert!(failed(&answers["k0"]).contains("not valid JSON"));
}

#[tokio::test]
async fn schema_violations_are_sent_again_once_then_fail() {
    let mock = MockLlm::start(Script::with(|_| Reply::SchemaViolation));
    let (_, answers) = run(provider(&mock), vec![json_job(0)]).await;
    assert_eq!(mock.requests(), 2);
    assert_eq!(failed(&answers["k0"]), "does not match the schema");

    // In a batch: the batch, then each item alone once.
    let mock = MockLlm::start(Script::with(|_| Reply::SchemaViolation));
    let jobs: Vec<Job> = (0..3)
        .map(|i| Job {
            batch_size: 3,
            ..json_job(i)
        })
        .collect();
    let (stats, _) = run(provider(&mock), jobs).await;
    assert_eq!((mock.requests(), stats.failures), (4, 3));
    // A batch breaking the checks is still an answered request: the breaker stays shut.
    assert!(!stats.breaker_opened);
}

#[tokio::test]
async fn identical_jobs_are_sent_once() {
    let mock = MockLlm::start(Script::good());
    let jobs: Vec<Job> = (0..5).map(|_| text_job(7)).collect();
    let (stats, answers) = run(provider(&mock), jobs).await;
    assert_eq!((mock.requests(), stats.jobs, answers.len()), (1, 1, 1));
}

#[tokio::test]
async fn jobs_over_a_class_cost_budget_are_not_sent() {
    let mock = MockLlm::start(Script::good());
    // Estimate per job: 25 chars → 7 tokens in, 50 out: 57 tokens, 0.57 USD at 10,000 USD/M.
    // Actual: 7 in, 9 out ("generated: Describe item number N"): 0.16 USD.
    let config = ProviderConfig {
        max_concurrency: 1,
        price_in: 10_000.0,
        price_out: 10_000.0,
        ..provider(&mock)
    };
    let class = ClassBudget {
        max_cost_per_build: Some(1.0),
        ..ClassBudget::default()
    };
    let budgets = Budgets {
        max_cost: None,
        classes: BTreeMap::from([("short".to_owned(), class)]),
    };
    let (stats, answers) = run_with(config, None, text_jobs(10, 1), budgets).await;
    let over = answers
        .values()
        .filter(|a| matches!(a.outcome, Outcome::OverBudget { .. }))
        .count();
    // Sent while spent + 0.57 ≤ 1.00: after 0, 0.16, 0.32; not after 0.48.
    assert_eq!((mock.requests(), over), (3, 7));
    assert_eq!(
        stats.over_budget["short"],
        ("short: max_cost_per_build 1.00 USD".to_owned(), 7)
    );
    assert!(stats.cost_usd <= 1.0);
    assert_eq!(
        answers["k9"].outcome,
        Outcome::OverBudget {
            budget: "short: max_cost_per_build 1.00 USD".to_owned()
        }
    );
}

#[tokio::test]
async fn token_and_global_budgets_and_the_class_max_tokens() {
    let mock = MockLlm::start(Script::good());
    let config = ProviderConfig {
        max_concurrency: 1,
        ..provider(&mock)
    };
    let class = ClassBudget {
        max_tokens: Some(20),
        max_tokens_per_build: Some(60),
        ..ClassBudget::default()
    };
    let budgets = Budgets {
        max_cost: None,
        classes: BTreeMap::from([("short".to_owned(), class)]),
    };
    // Estimate 7 + 20 = 27 tokens; actual 16: sent after 0, 16, 32 (32 + 27 ≤ 60), not 48.
    let (stats, _) = run_with(config.clone(), None, text_jobs(6, 1), budgets).await;
    assert_eq!(mock.requests(), 3);
    assert_eq!(
        stats.over_budget["short"],
        ("short: max_tokens_per_build 60 tokens".to_owned(), 3)
    );
    assert!(
        mock.bodies().iter().all(|b| b["max_tokens"] == 20),
        "capped"
    );

    let budgets = Budgets {
        max_cost: Some(0.0),
        classes: BTreeMap::new(),
    };
    let (stats, _) = run_with(config, None, text_jobs(4, 2), budgets).await;
    assert_eq!(mock.requests(), 3, "nothing more sent");
    assert_eq!(
        stats.over_budget["short"],
        ("max_cost 0.00 USD (--max-cost)".to_owned(), 4)
    );
    assert_eq!((stats.requests, stats.cost_usd), (0, 0.0));
}

#[tokio::test]
async fn the_concurrency_limit_holds() {
    let mock = MockLlm::start(Script::good().latency(Duration::from_millis(100)));
    let config = ProviderConfig {
        max_concurrency: 3,
        ..provider(&mock)
    };
    let started = Instant::now();
    run(config, text_jobs(12, 1)).await;
    assert_eq!(mock.requests(), 12);
    assert_eq!(mock.max_in_flight(), 3);
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "4 rounds of 100 ms"
    );
}

#[tokio::test]
async fn the_rpm_limit_spaces_requests() {
    let mock = MockLlm::start(Script::good());
    let config = ProviderConfig {
        max_concurrency: 8,
        rpm: Some(600), // one every 100 ms
        ..provider(&mock)
    };
    let started = Instant::now();
    run(config, text_jobs(6, 1)).await;
    assert!(started.elapsed() >= Duration::from_millis(500));
    let times: Vec<Instant> = mock.received().iter().map(|r| r.at).collect();
    for pair in times.windows(2) {
        assert!(
            pair[1] - pair[0] >= Duration::from_millis(60),
            "{:?}",
            pair[1] - pair[0]
        );
    }
}

#[tokio::test]
async fn stats_add_up_tokens_and_cost() {
    let mock = MockLlm::start(Script::good());
    let (stats, answers) = run(provider(&mock), text_jobs(7, 3)).await;
    assert_eq!(stats.requests, 3);
    let sum_in: u64 = answers.values().map(|a| a.tokens_in).sum();
    let sum_out: u64 = answers.values().map(|a| a.tokens_out).sum();
    let sum_cost: f64 = answers.values().map(|a| a.cost_usd).sum();
    assert_eq!((stats.tokens_in, stats.tokens_out), (sum_in, sum_out));
    assert!(stats.tokens_in > 0 && stats.tokens_out > 0);
    let expected = (stats.tokens_in as f64 * 1.0 + stats.tokens_out as f64 * 2.0) / 1e6;
    assert!((stats.cost_usd - expected).abs() < 1e-12);
    assert!((sum_cost - expected).abs() < 1e-12);
    // The mock reports characters / 4: check one single request's share.
    let (_, single) = run(provider(&mock), vec![text_job(3)]).await;
    let a = &single["k3"];
    // "sys" + "Describe item number 3": 25 chars → 7; "generated: Describe item number 3" → 9.
    assert_eq!((a.tokens_in, a.tokens_out), (7, 9));
}

#[tokio::test]
async fn the_key_goes_in_the_authorization_header_only_when_given() {
    let mock = MockLlm::start(Script::good());
    run_with(
        provider(&mock),
        Some("sk-test"),
        vec![text_job(0)],
        Budgets::default(),
    )
    .await;
    run(provider(&mock), vec![text_job(1)]).await;
    let received = mock.received();
    assert_eq!(received[0].authorization.as_deref(), Some("Bearer sk-test"));
    assert_eq!(received[1].authorization, None);
    assert_eq!(received[0].body["model"], "mock-model");
}

#[tokio::test]
async fn answers_arrive_as_soon_as_they_are_known() {
    let mock = MockLlm::start(Script::with(|r| {
        let latency = if r.user().ends_with('1') { 1500 } else { 0 };
        Reply::Good.after(Duration::from_millis(latency))
    }));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let task = tokio::spawn(queue::run(
        Arc::new(provider(&mock)),
        None,
        text_jobs(2, 1),
        Budgets::default(),
        check(),
        tx,
    ));
    let first = tokio::time::timeout(Duration::from_secs(1), rx.recv())
        .await
        .expect("the fast answer before the slow one is done")
        .expect("an answer");
    assert_eq!(first.key.as_str(), "k0");
    assert!(!task.is_finished());
    let stats = task.await.expect("the queue");
    assert_eq!(stats.jobs, 2);
    assert_eq!(rx.recv().await.expect("the slow answer").key.as_str(), "k1");
}

#[tokio::test]
async fn the_offline_provider_sends_nothing() {
    let mock = MockLlm::start(Script::good());
    let config = ProviderConfig {
        kind: ProviderKind::Offline,
        ..provider(&mock)
    };
    let (stats, answers) = run(config, text_jobs(3, 1)).await;
    assert_eq!((mock.requests(), stats.requests, stats.failures), (0, 0, 3));
    assert!(
        answers
            .values()
            .all(|a| matches!(a.outcome, Outcome::Failed { .. }))
    );
}
