//! How close does the generation queue get to the throughput its limits allow?
//!
//! `cargo bench --bench generate [-- --jobs N --concurrency C --batch B --unbatched-jobs U]`
//! (defaults 10,000, 32, 20, 2,000) starts a mock chat-completions API on 127.0.0.1 that
//! answers each request after a random latency, uniform in 200–2000 ms (seeded), and runs N
//! short enrichment jobs through `sitegen::generate::queue::run` at concurrency C: once
//! batched B to a request, then U of them one to a request (all N would take ~10 minutes).
//!
//! With everything enqueued at once, the best the queue can do is keep C requests in flight:
//! C × items per request / mean latency jobs a second. It prints the throughput and that
//! bound, the p95 time from enqueueing to a job's answer, the tokens, and the peak RSS.

#![allow(clippy::print_stdout, reason = "a benchmark reports on stdout")]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::routing::post;
use serde_json::{Value, json};
use sitegen::config::{ProviderConfig, ProviderKind};
use sitegen::generate::queue::{self, Budgets, Check};
use sitegen::generate::{Answer, Job, Outcome, OutputKind};

/// Benchmark settings, from the command line.
struct Args {
    jobs: usize,
    concurrency: usize,
    batch: usize,
    unbatched_jobs: usize,
}

impl Args {
    fn parse() -> Self {
        let mut args = Self {
            jobs: 10_000,
            concurrency: 32,
            batch: 20,
            unbatched_jobs: 2_000,
        };
        let mut it = std::env::args().skip(1);
        while let Some(flag) = it.next() {
            // `cargo bench` adds `--bench`; other unknown flags are ignored likewise.
            let slot = match flag.as_str() {
                "--jobs" => &mut args.jobs,
                "--concurrency" => &mut args.concurrency,
                "--batch" => &mut args.batch,
                "--unbatched-jobs" => &mut args.unbatched_jobs,
                _ => continue,
            };
            match it.next().and_then(|v| v.parse().ok()) {
                Some(value) => *slot = value,
                None => panic!("{flag} wants a number"),
            }
        }
        args
    }
}

/// The mock API's state: its latency dice and what it served.
struct Mock {
    rng: Mutex<fastrand::Rng>,
    requests: AtomicU64,
    latency_ms: AtomicU64,
}

/// Answers after 200–2000 ms: a JSON object of strings for a batch, a string otherwise.
async fn complete(
    State(mock): State<Arc<Mock>>,
    axum::Json(body): axum::Json<Value>,
) -> axum::Json<Value> {
    let latency = mock
        .rng
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .u64(200..=2000);
    mock.requests.fetch_add(1, Ordering::Relaxed);
    mock.latency_ms.fetch_add(latency, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(latency)).await;
    let sentence = "A sturdy, well-made piece that does what it says, every day.";
    let properties = body["response_format"]["json_schema"]["schema"]["properties"].as_object();
    let content = match properties {
        Some(ids) => {
            let items: serde_json::Map<String, Value> = ids
                .keys()
                .map(|id| (id.clone(), json!(format!("{id}: {sentence}"))))
                .collect();
            Value::Object(items).to_string()
        }
        None => sentence.to_owned(),
    };
    let prompt_chars: usize = body["messages"].as_array().map_or(0, |m| {
        m.iter()
            .map(|m| m["content"].as_str().map_or(0, str::len))
            .sum()
    });
    axum::Json(json!({
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}],
        "usage": {
            "prompt_tokens": prompt_chars.div_ceil(4),
            "completion_tokens": content.len().div_ceil(4),
        },
    }))
}

/// Starts the mock; returns its base URL and state.
async fn start_mock(seed: u64) -> (String, Arc<Mock>) {
    let mock = Arc::new(Mock {
        rng: Mutex::new(fastrand::Rng::with_seed(seed)),
        requests: AtomicU64::new(0),
        latency_ms: AtomicU64::new(0),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let port = listener.local_addr().expect("local address").port();
    let app = Router::new()
        .route("/v1/chat/completions", post(complete))
        .with_state(Arc::clone(&mock));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://127.0.0.1:{port}/v1"), mock)
}

fn jobs(n: usize, batch_size: usize) -> Vec<Job> {
    const THINGS: [&str; 6] = ["kettle", "lamp", "backpack", "chair", "notebook", "bicycle"];
    const CITIES: [&str; 5] = ["Lyon", "Porto", "Ghent", "Turku", "Graz"];
    let output = Arc::new(OutputKind::Text);
    (0..n)
        .map(|i| Job {
            key: format!("{i:08x}").into(),
            prompt: "enrich@1".to_owned(),
            class: "enrich".to_owned(),
            system: Some("You write short, plain product copy.".to_owned()),
            text: format!(
                "Write one sentence describing item #{i}, a {} sold in {}.",
                THINGS[i % THINGS.len()],
                CITIES[i % CITIES.len()]
            ),
            output: Arc::clone(&output),
            max_tokens: 60,
            batch_size,
        })
        .collect()
}

/// Peak resident memory, from /proc/self/status (Linux).
fn peak_rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l["VmHWM:".len()..].trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

async fn measure(label: &str, base_url: &str, mock: &Mock, args: &Args, n: usize, batch: usize) {
    let provider = Arc::new(ProviderConfig {
        kind: ProviderKind::Openai,
        base_url: base_url.to_owned(),
        model: "mock".to_owned(),
        max_concurrency: args.concurrency,
        timeout: 30.0,
        max_retries: 2,
        price_in: 0.15,
        price_out: 0.60,
        ..ProviderConfig::offline()
    });
    let check: Check = Arc::new(|_: &Job, v: &Value| Ok(v.clone()));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Answer>();
    let (requests0, latency0) = (
        mock.requests.load(Ordering::Relaxed),
        mock.latency_ms.load(Ordering::Relaxed),
    );
    let started = Instant::now();
    let collector = tokio::spawn(async move {
        let mut latencies = Vec::new();
        let mut generated = 0usize;
        while let Some(answer) = rx.recv().await {
            latencies.push(started.elapsed());
            generated += usize::from(matches!(answer.outcome, Outcome::Generated { .. }));
        }
        (latencies, generated)
    });
    let stats = queue::run(
        provider,
        None,
        jobs(n, batch),
        Budgets::default(),
        check,
        tx,
    )
    .await;
    let wall = started.elapsed();
    let (mut latencies, generated) = collector.await.expect("collector");
    latencies.sort();
    let p95 = latencies
        .get((latencies.len() * 95 / 100).min(latencies.len().saturating_sub(1)))
        .copied()
        .unwrap_or_default();
    let served = mock.requests.load(Ordering::Relaxed) - requests0;
    let mean_latency =
        (mock.latency_ms.load(Ordering::Relaxed) - latency0) as f64 / served.max(1) as f64 / 1000.0;
    let per_request = stats.jobs as f64 / stats.requests.max(1) as f64;
    let throughput = stats.jobs as f64 / wall.as_secs_f64();
    let bound = args.concurrency as f64 * per_request / mean_latency;
    println!("{label}");
    println!(
        "  jobs {} ({generated} generated, {} failed)",
        stats.jobs, stats.failures
    );
    println!(
        "  requests {} ({per_request:.1} jobs each), retries {}",
        stats.requests, stats.retries
    );
    println!("  wall {:.2} s", wall.as_secs_f64());
    println!("  throughput {throughput:.1} jobs/s");
    println!(
        "  bound {bound:.1} jobs/s ({} × {per_request:.1} / {mean_latency:.3} s mean latency)",
        args.concurrency
    );
    println!("  throughput / bound {:.1} %", 100.0 * throughput / bound);
    println!(
        "  p95 job latency (enqueue → answer) {:.2} s",
        p95.as_secs_f64()
    );
    println!(
        "  tokens in {} out {} (cost {:.4} USD at 0.15/0.60 per M)",
        stats.tokens_in, stats.tokens_out, stats.cost_usd
    );
    println!("  peak RSS {}", peak_rss());
}

fn main() {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        let (base_url, mock) = start_mock(0x5eed).await;
        println!(
            "generate: {} jobs, concurrency {}, mock latency uniform 200–2000 ms\n",
            args.jobs, args.concurrency
        );
        let label = format!("batched, {} per request", args.batch);
        measure(
            &label,
            &base_url,
            &mock,
            &args,
            args.jobs,
            args.batch.max(1),
        )
        .await;
        let unbatched = args.unbatched_jobs.min(args.jobs);
        if unbatched > 0 {
            println!();
            measure("one job per request", &base_url, &mock, &args, unbatched, 1).await;
        }
    });
}
