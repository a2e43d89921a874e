//! Collections and AI copy, end to end: whole `sitegen build`s against the offline provider
//! and against the scripted OpenAI-compatible mock on 127.0.0.1.

use serde_json::Value;

use crate::llm_mock::{MockLlm, Reply, Script};
use crate::support::SiteTest;

const CONFIG: &str = r#"
base_url = "https://example.org"
title = "Directory"
taxonomies = [{ name = "cities" }]

[generate]
provider = "offline"

[generate.classes.short]
batch_size = 2

[providers.llm]
kind = "openai"
base_url = "http://127.0.0.1:9/v1"
model = "test-model"
api_key_env = "SITEGEN_TEST_NO_SUCH_KEY"
max_retries = 0
retry_base_ms = 1
breaker_failures = 100
price_in = 1.0
price_out = 2.0

[[collections]]
name = "listings"
data = "data/listings.csv"
path = "/listings/{city}/{name}/"
template = "listing.html"
title = "{name}"
taxonomies = { cities = "{city}" }

[collections.generate]
snippet = { prompt = "snippet", vars = { tone = "warm" } }
info = "info@1"
"#;

const SNIPPET: &str = r#"+++
class = "short"
max_chars = 200
fallback = "{{ page.data.name }} in {{ page.data.city }} ({{ vars.tone }})"
+++
Describe {{ page.data.name }} in {{ page.data.city }}, {{ vars.tone }}.
"#;

const INFO: &str = r#"+++
version = 1
output = "json"
schema = { type = "object", properties = { summary = { type = "string" } }, required = ["summary"] }
fallback = '{% set s = "About " ~ page.data.name %}{"summary": {{ s | json_encode() }}}'
+++
Summarize {{ page.data.name }}.
"#;

/// A site with three listings in two cities, a prompt of each kind, and templates that show
/// the copy on each listing, in the section's list and on the city pages.
fn site() -> SiteTest {
    let site = SiteTest::empty();
    site.write("sitegen.toml", CONFIG)
        .write(
            "data/listings.csv",
            "name,city\nBlue Heron,Lyon\n<b>Bold</b> Cafe,Lyon\nOak,Leeds\n",
        )
        .write("prompts/snippet.md", SNIPPET)
        .write("prompts/info.md", INFO)
        .write("content/_index.md", "+++\ntitle = \"Home\"\n+++\n")
        .write(
            "content/listings/_index.md",
            "+++\ntitle = \"Listings\"\nsort_by = \"title\"\n+++\n",
        )
        .write(
            "templates/listing.html",
            "<h1>{{ page.title }}</h1><p class=s>{{ page.generated.snippet }}</p><p class=i>{{ page.generated.info.summary }}</p><p>{{ page.data.city }}</p>",
        )
        .write(
            "templates/section.html",
            "{% for p in section.pages %}<li>{{ p.title }}: {{ p.generated.snippet }}</li>{% endfor %}",
        )
        .write("templates/index.html", "home")
        .write(
            "templates/taxonomy_single.html",
            "{% for p in term.pages %}<li>{{ p.generated.snippet }}</li>{% endfor %}",
        )
        .write("templates/taxonomy_list.html", "{% for t in terms %}{{ t.name }}{% endfor %}");
    site
}

fn build_json(site: &SiteTest, extra: &[&str]) -> Value {
    let mut args = vec!["build", "--quiet", "--format", "json"];
    args.extend_from_slice(extra);
    let run = site.run(&args);
    run.assert_ok();
    run.json()
}

fn with_llm(mock: &MockLlm) -> Vec<String> {
    vec![
        "--set".to_owned(),
        "generate.provider=\"llm\"".to_owned(),
        "--set".to_owned(),
        format!("providers.llm.base_url=\"{}\"", mock.base_url()),
    ]
}

fn args(owned: &[String]) -> Vec<&str> {
    owned.iter().map(String::as_str).collect()
}

#[test]
fn records_become_pages_in_sections_taxonomies_and_the_sitemap() {
    let site = site();
    let report = build_json(&site, &[]);
    assert_eq!(report["pages"], 3);
    let page = site.read("listings/lyon/blue-heron/index.html");
    assert!(page.contains("<h1>Blue Heron</h1>"), "{page}");
    assert!(page.contains("<p>Lyon</p>"));
    let lyon = site.read("cities/lyon/index.html");
    assert_eq!(lyon.matches("<li>").count(), 2, "{lyon}");
    let sitemap = site.read("sitemap.xml");
    assert!(sitemap.contains("https://example.org/listings/leeds/oak/"));
    let listing = site.read("listings/index.html");
    assert!(listing.find("Blue Heron").unwrap() < listing.find("Oak").unwrap());
}

#[test]
fn offline_builds_use_the_fallbacks_escaped() {
    let site = site();
    let report = build_json(&site, &[]);
    let generation = &report["generation"];
    assert_eq!(generation["jobs"], 6);
    assert_eq!(generation["fallbacks"], 6);
    assert_eq!(generation["requests"], 0);
    let page = site.read("listings/lyon/b-bold-b-cafe/index.html");
    // Copy is untrusted text: the record's markup comes out escaped.
    assert!(
        page.contains("&lt;b&gt;Bold&lt;&#x2F;b&gt; Cafe in Lyon (warm)"),
        "{page}"
    );
    assert!(!page.contains("<b>Bold"));
    assert!(page.contains("<p class=i>About &lt;b&gt;"), "{page}");
    let list = site.read("listings/index.html");
    assert!(list.contains("Oak: Oak in Leeds (warm)"), "{list}");
}

#[test]
fn a_provider_writes_the_copy_once_and_later_builds_hit_the_cache() {
    let site = site();
    let mock = MockLlm::start(Script::good());
    let llm = with_llm(&mock);
    let report = build_json(&site, &args(&llm));
    let g = &report["generation"];
    assert_eq!(g["jobs"], 6);
    assert_eq!(g["cache_hits"], 0);
    assert_eq!(g["fallbacks"], 0, "{report}");
    // snippet: 3 jobs, batch_size 2 → 2 requests; info: 3 requests of one job.
    assert_eq!(g["requests"], 5, "{report}");
    assert_eq!(mock.requests(), 5);
    assert!(g["tokens_in"].as_u64().unwrap() > 0);
    assert!(g["cost_usd"].as_f64().unwrap() > 0.0);
    let page = site.read("listings/leeds/oak/index.html");
    assert!(
        page.contains("<p class=s>generated: Describe Oak in Leeds"),
        "{page}"
    );
    assert!(page.contains("<p class=i>generated: "), "{page}");
    let list = site.read("listings/index.html");
    assert!(list.contains("Oak: generated: Describe Oak"), "{list}");

    // Everything again: every field from the cache, no call.
    let mut again = args(&llm);
    again.push("--full");
    let report = build_json(&site, &again);
    assert_eq!(report["generation"]["cache_hits"], 6, "{report}");
    assert_eq!(report["generation"]["requests"], 0);
    assert_eq!(mock.requests(), 5);
    assert!(
        site.read("listings/leeds/oak/index.html")
            .contains("generated: Describe Oak")
    );

    // A changed record asks again for its own copy only.
    site.write(
        "data/listings.csv",
        "name,city\nBlue Heron,Lyon\n<b>Bold</b> Cafe,Lyon\nOak,York\n",
    );
    let report = build_json(&site, &args(&llm));
    // `info` does not read the city: its copy stays; `snippet` does.
    assert_eq!(report["generation"]["cache_hits"], 5, "{report}");
    assert_eq!(mock.requests(), 6);
    assert!(
        report["changed_fraction"].as_f64().unwrap() > 0.0,
        "{report}"
    );
    assert!(site.exists("listings/york/oak/index.html"));
    assert!(!site.exists("listings/leeds/oak/index.html"));

    let stats = site.run(&["stats", "--format", "json"]);
    stats.assert_ok();
    let stats = stats.json();
    // The last build traced the fields of the pages it rendered: two per listing page.
    assert_eq!(
        stats["jobs"],
        report["pages_rendered"].as_u64().unwrap() * 2,
        "{report}"
    );
    assert_eq!(
        stats["jobs"], 4,
        "Oak's page and its neighbour's, not Blue Heron's: {report}"
    );
    for key in [
        "builds",
        "requests",
        "cache_hit_rate",
        "tokens_in",
        "tokens_out",
        "cost_usd",
        "latency_ms",
        "by_model",
        "by_prompt",
        "fallbacks",
        "failures",
    ] {
        assert!(stats.get(key).is_some(), "stats lack {key}: {stats}");
    }
    assert!(stats["by_model"].get("test-model").is_some(), "{stats}");
    let all = site.run(&["stats", "--all", "--format", "json"]).json();
    assert_eq!(all["jobs"], 6 + 6 + 4);
    assert_eq!(all["builds"], 3);
}

#[test]
fn failed_copy_falls_back_and_the_next_build_retries_it() {
    let site = site();
    // Every request fails (400 is not retried) until the switch flips.
    let failing = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let flag = std::sync::Arc::clone(&failing);
    let mock = MockLlm::start(Script::with(move |_| {
        if flag.load(std::sync::atomic::Ordering::SeqCst) {
            Reply::BadRequest
        } else {
            Reply::Good
        }
    }));
    let llm = with_llm(&mock);
    let report = build_json(&site, &args(&llm));
    assert_eq!(report["generation"]["fallbacks"], 6, "{report}");
    assert_eq!(report["generation"]["failures"], 6);
    let page = site.read("listings/leeds/oak/index.html");
    assert!(
        page.contains("Oak in Leeds (warm)"),
        "fallback copy: {page}"
    );

    // --strict refuses a build with fallbacks, and leaves the output alone.
    let before = site.tree();
    let mut strict = args(&llm);
    strict.extend(["--strict", "--quiet"]);
    strict.insert(0, "build");
    let run = site.run(&strict);
    run.assert_code(1)
        .assert_stderr_contains("got fallback copy")
        .assert_stderr_contains("--strict");
    assert_eq!(site.tree(), before);

    // Nothing changed on disk, yet the pending copy is asked for again.
    failing.store(false, std::sync::atomic::Ordering::SeqCst);
    let report = build_json(&site, &args(&llm));
    assert_eq!(report["generation"]["fallbacks"], 0, "{report}");
    let page = site.read("listings/leeds/oak/index.html");
    assert!(page.contains("generated: Describe Oak"), "{page}");
    let list = site.read("listings/index.html");
    assert!(
        list.contains("Oak: generated: Describe Oak"),
        "listings follow: {list}"
    );
    // And then it is settled: a build with nothing changed does nothing.
    let requests = mock.requests();
    let report = build_json(&site, &args(&llm));
    assert_eq!(report["pages_rendered"], 0, "{report}");
    assert_eq!(mock.requests(), requests);
}

#[test]
fn a_build_budget_sends_nothing_beyond_it() {
    let site = site();
    let mock = MockLlm::start(Script::good());
    let mut llm = with_llm(&mock);
    llm.extend(["--max-cost".to_owned(), "0.000001".to_owned()]);
    let run = site.run(&[&["build", "--quiet", "--format", "json"][..], &args(&llm)].concat());
    run.assert_ok();
    let report = run.json();
    assert_eq!(report["generation"]["fallbacks"], 6, "{report}");
    assert_eq!(mock.requests(), 0);
    let warnings = report["warnings"].to_string();
    assert!(warnings.contains("over the budget"), "{warnings}");
}

#[test]
fn bad_records_and_prompts_are_errors_with_their_place() {
    let site = site();
    site.write("data/listings.csv", "name,city\nA,Lyon\nB,\nA,Lyon\n");
    let run = site.build();
    run.assert_code(1)
        .assert_stderr_contains("data/listings.csv:3")
        .assert_stderr_contains("no value for `city`")
        .assert_stderr_contains("data/listings.csv:4")
        .assert_stderr_contains("two records have the page `/listings/lyon/a/`");

    let site = self::site();
    site.write(
        "sitegen.toml",
        CONFIG.replace("info = \"info@1\"", "info = \"info@7\""),
    );
    site.build()
        .assert_code(1)
        .assert_stderr_contains("asks for the prompt `info@7`");

    let site = self::site();
    site.write(
        "prompts/info.md",
        INFO.replace("fallback = ", "nofallback = "),
    );
    site.build()
        .assert_code(1)
        .assert_stderr_contains("prompts/info.md");
}

#[test]
fn answers_that_fail_their_checks_are_retried_once_then_never_published() {
    let site = site();
    let mock = MockLlm::start(Script::with(|_| {
        Reply::Content("Write to owner@example.com for a table".to_owned())
    }));
    let mut llm = with_llm(&mock);
    llm.extend([
        "--set".to_owned(),
        "generate.classes.short.batch_size=1".to_owned(),
    ]);
    let report = build_json(&site, &args(&llm));
    let g = &report["generation"];
    assert_eq!(g["fallbacks"], 6, "{report}");
    // Each job: the answer, then one retry alone.
    assert_eq!(mock.requests(), 12, "{report}");
    let page = site.read("listings/leeds/oak/index.html");
    assert!(!page.contains("owner@example.com"), "{page}");
    assert!(page.contains("Oak in Leeds (warm)"), "{page}");
}

#[test]
fn answers_paid_for_survive_a_killed_build() {
    use std::time::{Duration, Instant};
    let site = site();
    let mock = MockLlm::start(Script::good().latency(Duration::from_millis(400)));
    let mut llm = with_llm(&mock);
    llm.extend([
        "--set".to_owned(),
        "providers.llm.max_concurrency=1".to_owned(),
    ]);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_sitegen"))
        .args([&["build", "--quiet"][..], &args(&llm)].concat())
        .current_dir(site.root())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once two answers are in (5 requests, one at a time, 400 ms each).
    let started = Instant::now();
    while mock.requests() < 3 && started.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let sent = mock.requests();
    assert!((3..5).contains(&sent), "killed mid-way: {sent} requests");

    let db = rusqlite::Connection::open(site.root().join(".sitegen/generations.sqlite")).unwrap();
    let kept: i64 = db
        .query_row("SELECT count(*) FROM results", [], |r| r.get(0))
        .unwrap();
    assert!(kept >= 2, "answers committed as they arrived: {kept}");
    drop(db);

    // The next build asks only for what was not paid for, and equals a clean one.
    let report = build_json(&site, &args(&llm));
    assert_eq!(report["generation"]["fallbacks"], 0, "{report}");
    assert!(
        report["generation"]["cache_hits"].as_u64().unwrap() >= 2,
        "{report}"
    );
    assert!(mock.requests() - sent <= 5 - 2, "{report}");
    let page = site.read("listings/leeds/oak/index.html");
    assert!(page.contains("generated: Describe Oak"), "{page}");
}

/// Records when each output was done.
#[derive(Default)]
struct Clock(std::sync::Mutex<Vec<std::time::Instant>>);

impl sitegen::build::Progress for Clock {
    fn start(&self, _: usize) {}
    fn advance(&self) {
        self.0.lock().unwrap().push(std::time::Instant::now());
    }
}

#[test]
fn a_page_waits_for_its_own_copy_only() {
    use std::time::{Duration, Instant};
    let site = site();
    // Oak's copy takes 3 s; everything else answers at once.
    let mock = MockLlm::start(Script::with(|r| {
        if r.user().contains("Oak") {
            Reply::Good.after(Duration::from_secs(3))
        } else {
            Reply::Good.into()
        }
    }));
    let options = sitegen::build::Options {
        root: site.root().to_path_buf(),
        write: true,
        overrides: vec![
            "generate.provider=\"llm\"".to_owned(),
            format!("providers.llm.base_url=\"{}\"", mock.base_url()),
            "generate.classes.short.batch_size=1".to_owned(),
        ],
        ..sitegen::build::Options::default()
    };
    let clock = Clock::default();
    let started = Instant::now();
    let report =
        sitegen::build::build(&options, &clock, &mut sitegen::build::Resident::default()).unwrap();
    assert_eq!(report.generation.as_ref().unwrap().fallbacks, 0);
    let done = clock.0.lock().unwrap().clone();
    assert!(started.elapsed() >= Duration::from_secs(3));
    // Oak's page, the listing and its city wait; the other pages, the home page, the other
    // city, the sitemap… are written meanwhile.
    let early = done
        .iter()
        .filter(|t| t.duration_since(started) < Duration::from_secs(2))
        .count();
    let times: Vec<u128> = done
        .iter()
        .map(|t| t.duration_since(started).as_millis())
        .collect();
    assert!(
        early >= 5,
        "{early} of {} outputs before Oak's copy: {times:?}",
        done.len()
    );
    assert!(early < done.len(), "some outputs waited for Oak's copy");
    let page = site.read("listings/leeds/oak/index.html");
    assert!(page.contains("generated: Describe Oak"), "{page}");
}

#[test]
fn record_edits_build_incrementally_to_what_a_clean_build_makes() {
    let site = site();
    site.write(
        "data/listings.csv",
        "name,city\nA,Lyon\nB,Lyon\nC,Lyon\nD,Lyon\nE,Lyon\nF,Leeds\n",
    );
    site.check().assert_ok();
    build_json(&site, &[]);
    // One record removed, one added.
    site.write(
        "data/listings.csv",
        "name,city\nA,Lyon\nB,Lyon\nC,Lyon\nD,Lyon\nE,Lyon\nG,York\n",
    );
    let report = build_json(&site, &[]);
    assert_eq!(report["pages_reused"], 4, "{report}");
    let fraction = report["changed_fraction"].as_f64().unwrap();
    assert!((fraction - 2.0 / 6.0).abs() < 1e-9, "{report}");
    let clean = SiteTest::empty();
    crate::support::copy_tree(site.root(), clean.root());
    clean.remove(".sitegen").remove("public");
    build_json(&clean, &[]);
    assert_eq!(site.tree(), clean.tree());
    assert!(!site.exists("listings/leeds/f/index.html"));
    assert!(!site.exists("cities/leeds/index.html"));
    assert!(site.read("listings/index.html").contains("G: G in York"));
}
