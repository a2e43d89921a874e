//! The generate stage: from the pages' generated fields to their copy.
//!
//! 1. [`plan`] renders every field's prompt with its page into a [`Job`] keyed by what it asks
//!    (provider, model, prompt version and text), so identical jobs share one key.
//! 2. [`start`] looks every key up in the cache of `.sitegen/generations.sqlite`. Hits are
//!    copy at once; with the `offline` provider, so are the prompts' fallbacks. The rest go to
//!    the [`queue`] on a thread of their own, and the pages waiting for them are marked so the
//!    renderer renders everything else meanwhile.
//! 3. Each answer is committed to the database as it arrives (a crash loses nothing paid
//!    for), then given to the pages that asked for it; a page whose fields are all answered
//!    is released to the renderer. A job that failed, was over budget or met an open breaker
//!    gets its prompt's fallback, and its page is recorded as pending for the next build.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::config::GenerateConfig;
use crate::config::{ProviderConfig, ProviderKind};
use crate::diagnostics::{Diagnostic, Error, Result};
use crate::generate::copy::CopySet;
use crate::generate::prompts::{Prompt, Prompts};
use crate::generate::queue::{self, Budgets, QueueStats};
use crate::generate::store::{Store, Trace};
use crate::generate::{Answer, Job, JobKey, Outcome, checks};
use crate::hash::Fingerprint;
use crate::site::{PageId, Site};

/// One generated field of one page.
#[derive(Debug, Clone)]
struct FieldJob {
    page: PageId,
    field: String,
    /// `name@version` of its prompt.
    prompt: String,
    /// Its job's key.
    key: JobKey,
    /// What the prompt and its fallback see.
    context: Arc<tera::Context>,
}

/// The jobs of a build, with the prompts that made them.
#[derive(Debug, Default)]
pub(crate) struct Jobs {
    /// The site's prompts, compiled.
    prompts: Arc<Prompts>,
    fields: Vec<FieldJob>,
    /// Distinct jobs, by key.
    jobs: HashMap<JobKey, Job>,
    /// Per key, the page's public text that an answer may echo.
    public: HashMap<JobKey, String>,
}

impl Jobs {
    /// Whether no page has generated fields.
    pub(crate) fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}

/// What the stage did, for the report (`generation` in `--format json`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct GenerationReport {
    /// Generated fields of the site's pages.
    pub(crate) jobs: u64,
    /// Fields whose copy came from the cache.
    pub(crate) cache_hits: u64,
    /// HTTP requests sent.
    pub(crate) requests: u64,
    /// Requests sent again.
    pub(crate) retries: u64,
    /// Input tokens used.
    pub(crate) tokens_in: u64,
    /// Output tokens used.
    pub(crate) tokens_out: u64,
    /// What they cost, in USD.
    pub(crate) cost_usd: f64,
    /// Fields that got their prompt's fallback (offline, failed, over budget, breaker open).
    pub fallbacks: u64,
    /// Fields whose generation failed.
    pub(crate) failures: u64,
    /// Per class, the budget that made jobs fall back and how many.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) over_budget: BTreeMap<String, (String, u64)>,
    /// Whether the provider's circuit breaker opened.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub(crate) breaker_opened: bool,
}

/// Where the generation of copy stands, for a progress display.
#[derive(Debug, Clone, Copy, Default)]
pub struct GenerationStatus {
    /// Generated fields of the site.
    pub total: u64,
    /// Fields with their copy (generated, cached or fallback).
    pub done: u64,
    /// Fields that failed (they get fallback copy).
    pub failed: u64,
    /// Tokens used so far (in + out).
    pub tokens: u64,
    /// USD spent so far.
    pub cost_usd: f64,
}

/// How a build asks for its copy.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Asking<'a> {
    /// The state folder, which holds the cache of answers.
    pub(crate) state_dir: &'a Path,
    /// The config file, for problems with the provider's settings.
    pub(crate) config_file: &'a Path,
    /// Whether the build writes: a check gives every field its fallback and asks nothing.
    pub(crate) write: bool,
    /// Most USD the build may spend (`--max-cost`), over the config's.
    pub(crate) max_cost: Option<f64>,
}

/// Begins the stage for `site`: plans a job per generated field, fills `copy` with what the
/// cache (or, for a check, the fallbacks) gives at once, and sends the rest to the provider
/// while the site renders. `None` when nothing is left to wait for.
pub(crate) fn begin(
    site: &Arc<Site>,
    copy: &Arc<CopySet>,
    asking: &Asking<'_>,
    warnings: &mut Vec<Diagnostic>,
) -> Result<Option<Running>> {
    let (provider_name, provider) = provider(&site.config).map_err(|message| {
        Error::Config(Box::new(
            Diagnostic::error(message)
                .in_file(asking.config_file)
                .with_help("name a provider of [providers], or \"offline\""),
        ))
    })?;
    let jobs = plan(site, &provider, &site.config.generate).map_err(Error::Site)?;
    if jobs.is_empty() {
        return Ok(None);
    }
    if !asking.write {
        fill_fallbacks(&jobs, copy);
        return Ok(None);
    }
    let max_cost = asking.max_cost.or(site.config.generate.max_cost);
    let (running, more) = start(
        site,
        jobs,
        copy,
        asking.state_dir,
        &provider_name,
        provider,
        max_cost,
    )?;
    warnings.extend(more);
    Ok(Some(running))
}

/// The provider a build uses, resolved from the config.
pub(crate) fn provider(
    config: &crate::config::Config,
) -> std::result::Result<(String, ProviderConfig), String> {
    let name = config.generate.provider.clone();
    match config.providers.get(&name) {
        Some(p) => Ok((name, p.clone())),
        None if name == "offline" => Ok((name, ProviderConfig::offline())),
        None => Err(format!(
            "`generate.provider` is `{name}`, which is not in [providers]"
        )),
    }
}

/// Compiles the prompts of `site` and renders the prompt of every generated field into a job.
pub(crate) fn plan(
    site: &Site,
    provider: &ProviderConfig,
    generate: &GenerateConfig,
) -> std::result::Result<Jobs, Vec<Diagnostic>> {
    use rayon::prelude::*;
    let mut problems = Vec::new();
    let prompts = Prompts::load(
        &site.root,
        site.prompt_files.iter().map(String::as_str),
        &mut problems,
    );
    if !problems.is_empty() {
        return Err(problems);
    }
    let with_fields: Vec<usize> = (0..site.pages.len())
        .filter(|i| !site.pages[*i].meta.generate.is_empty())
        .collect();
    if with_fields.is_empty() {
        return Ok(Jobs::default());
    }
    let config = site.config.template_value();
    let results: Vec<std::result::Result<Vec<PlannedField>, Diagnostic>> = with_fields
        .par_iter()
        .map(|i| page_jobs(site, &prompts, PageId(*i), provider, generate, &config))
        .collect();
    let mut planned = Jobs {
        prompts: Arc::new(prompts),
        ..Jobs::default()
    };
    for result in results {
        match result {
            Ok(list) => {
                for (field, job, public) in list {
                    planned.public.entry(job.key.clone()).or_insert(public);
                    planned.jobs.entry(job.key.clone()).or_insert(job);
                    planned.fields.push(field);
                }
            }
            Err(d) => problems.push(d),
        }
    }
    if problems.is_empty() {
        Ok(planned)
    } else {
        Err(problems)
    }
}

/// Where a page's problem is reported: its file, or its collection's data file.
fn page_origin(site: &Site, id: PageId) -> String {
    let page = site.page(id);
    if page.doc.has_file {
        format!("content/{}", page.doc.relative_path)
    } else {
        site.config
            .collections
            .iter()
            .find(|c| page.doc.relative_path.starts_with(&format!("@{}/", c.name)))
            .map_or_else(
                || page.doc.relative_path.clone(),
                |c| c.data.to_string_lossy().into_owned(),
            )
    }
}

/// A field, its job, and the page's public text.
type PlannedField = (FieldJob, Job, String);

fn page_jobs(
    site: &Site,
    prompts: &Prompts,
    id: PageId,
    provider: &ProviderConfig,
    generate: &GenerateConfig,
    config: &Value,
) -> std::result::Result<Vec<PlannedField>, Diagnostic> {
    let page = site.page(id);
    let meta = &page.meta;
    let data = page.data.as_deref().cloned().unwrap_or_default();
    let page_value = serde_json::json!({
        "title": meta.title,
        "description": meta.description,
        "path": page.doc.path,
        "permalink": page.doc.permalink,
        "data": data,
        "extra": meta.extra,
        "taxonomies": meta.taxonomies,
    });
    let public = public_text(&page_value);
    let mut out = Vec::with_capacity(meta.generate.len());
    for (field, spec) in &meta.generate {
        let problem = |message: String, help: &str| {
            Diagnostic::error(format!("{}: {message}", page.doc.path))
                .in_file(page_origin(site, id))
                .with_help(help.to_owned())
        };
        let Some(prompt) = prompts.resolve(spec.prompt()) else {
            return Err(problem(
                format!(
                    "the field `{field}` asks for the prompt `{}`, which prompts/ does not have",
                    spec.prompt()
                ),
                "add the prompt file to prompts/, or fix the name (`name` or `name@version`)",
            ));
        };
        let mut context = tera::Context::new();
        context.insert("page", &page_value);
        context.insert("vars", &spec.vars());
        context.insert("config", config);
        let text = prompts.render(prompt, "", &context).map_err(|e| {
            problem(
                format!("the prompt `{}` failed: {e}", prompt.id()),
                "fix the prompt template",
            )
        })?;
        let system = match &prompt.system {
            Some(_) => Some(prompts.render(prompt, "system", &context).map_err(|e| {
                problem(
                    format!("the system message of `{}` failed: {e}", prompt.id()),
                    "fix the prompt's `system`",
                )
            })?),
            None => None,
        };
        let job = job(prompt, provider, generate, system, text);
        out.push((
            FieldJob {
                page: id,
                field: field.clone(),
                prompt: prompt.id(),
                key: job.key.clone(),
                context: Arc::new(context),
            },
            job,
            public.clone(),
        ));
    }
    Ok(out)
}

fn job(
    prompt: &Prompt,
    provider: &ProviderConfig,
    generate: &GenerateConfig,
    system: Option<String>,
    text: String,
) -> Job {
    let class = generate.classes.get(&prompt.class);
    let max_tokens = class
        .and_then(|c| c.max_tokens)
        .map_or(prompt.max_tokens, |cap| cap.min(prompt.max_tokens));
    let kind = match provider.kind {
        ProviderKind::Openai => "openai",
        ProviderKind::Offline => "offline",
    };
    let key = Fingerprint::new("generation")
        .str(kind)
        .str(&provider.model)
        .str(&prompt.id())
        .hash(&prompt.hash)
        .opt(system.as_deref())
        .str(&text)
        .finish();
    Job {
        key: key.hex().into(),
        prompt: prompt.id(),
        class: prompt.class.clone(),
        system,
        text,
        output: Arc::clone(&prompt.output),
        max_tokens,
        batch_size: class.and_then(|c| c.batch_size).unwrap_or(1).max(1),
    }
}

/// Every string of a page's public fields, for the personal-data check.
fn public_text(value: &Value) -> String {
    fn walk(value: &Value, out: &mut String) {
        match value {
            Value::String(s) => {
                out.push_str(s);
                out.push('\n');
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            Value::Object(map) => map.values().for_each(|v| walk(v, out)),
            Value::Number(n) => {
                out.push_str(&n.to_string());
                out.push('\n');
            }
            _ => {}
        }
    }
    let mut out = String::new();
    walk(value, &mut out);
    out
}

/// Gives every field its fallback, without the cache or a provider (`sitegen check`).
pub(crate) fn fill_fallbacks(jobs: &Jobs, copy: &CopySet) {
    let prompts = &jobs.prompts;
    let mut by_page: BTreeMap<PageId, Map<String, Value>> = BTreeMap::new();
    for field in &jobs.fields {
        let value = prompts
            .resolve(&field.prompt)
            .and_then(|p| prompts.fallback(p, &field.context).ok())
            .unwrap_or_default();
        by_page
            .entry(field.page)
            .or_default()
            .insert(field.field.clone(), value);
    }
    for (page, fields) in by_page {
        copy.set(page, Arc::new(fields), false);
    }
    copy.finish();
}

/// The running stage: [`Running::finish`] waits for the queue and records the pending pages.
pub(crate) struct Running {
    shared: Arc<Shared>,
    worker: Option<JoinHandle<QueueStats>>,
    /// Answers known at once (cache hits, offline fallbacks), traced by `trace_used`.
    immediate: Vec<(Answer, bool)>,
}

/// What the answering thread and the finishing driver share.
struct Shared {
    site: Arc<Site>,
    /// The copy being filled in.
    copy: Arc<CopySet>,
    /// The prompts the jobs were made with.
    prompts: Arc<Prompts>,
    store: Store,
    build: i64,
    provider_name: String,
    model: String,
    fields: Vec<FieldJob>,
    /// Field indices per key.
    by_key: HashMap<JobKey, Vec<usize>>,
    /// Field indices per page.
    by_page: HashMap<PageId, Vec<usize>>,
    state: Mutex<Tally>,
}

#[derive(Default)]
struct Tally {
    /// Per field, its value and whether it is a fallback (None: not answered yet).
    values: Vec<Option<(Value, bool)>>,
    report: GenerationReport,
    /// Answers not committed yet (the database write failed), kept to retry.
    problems: Vec<String>,
}

/// Starts the stage: fills what the cache and fallbacks give at once, and sends the rest to
/// the provider on a thread of its own.
pub(crate) fn start(
    site: &Arc<Site>,
    planned: Jobs,
    copy: &Arc<CopySet>,
    state_dir: &Path,
    provider_name: &str,
    provider: ProviderConfig,
    max_cost: Option<f64>,
) -> Result<(Running, Vec<Diagnostic>)> {
    let mut warnings = Vec::new();
    let store = Store::open(state_dir)?;
    let db_error = |e: rusqlite::Error| Error::store(store.path(), e);
    let build = store
        .begin_build(provider_name, &provider.model)
        .map_err(db_error)?;
    let keys: Vec<&str> = planned.jobs.keys().map(JobKey::as_str).collect();
    let cached = store.lookup(&keys).map_err(db_error)?;
    let mut by_key: HashMap<JobKey, Vec<usize>> = HashMap::new();
    let mut by_page: HashMap<PageId, Vec<usize>> = HashMap::new();
    for (i, f) in planned.fields.iter().enumerate() {
        by_key.entry(f.key.clone()).or_default().push(i);
        by_page.entry(f.page).or_default().push(i);
    }
    let shared = Arc::new(Shared {
        site: Arc::clone(site),
        copy: Arc::clone(copy),
        prompts: Arc::clone(&planned.prompts),
        store,
        build,
        model: provider.model.clone(),
        provider_name: provider_name.to_owned(),
        fields: planned.fields,
        by_key,
        by_page,
        state: Mutex::new(Tally {
            values: Vec::new(),
            report: GenerationReport::default(),
            problems: Vec::new(),
        }),
    });
    {
        let mut state = shared.lock();
        state.values = vec![None; shared.fields.len()];
        state.report.jobs = shared.fields.len() as u64;
    }
    // Cache hits, and with the offline provider every miss's fallback.
    let offline = provider.kind == ProviderKind::Offline;
    let mut immediate: Vec<(Answer, bool)> = Vec::new();
    let mut to_send: Vec<Job> = Vec::new();
    for (key, job) in planned.jobs {
        if let Some(value) = cached.get(key.as_str()) {
            immediate.push((
                Answer::unsent(
                    &key,
                    Outcome::Generated {
                        value: value.clone(),
                    },
                ),
                true,
            ));
        } else if offline {
            immediate.push((Answer::unsent(&key, Outcome::BreakerOpen), false));
        } else {
            to_send.push(job);
        }
    }
    let waiting: Vec<PageId> = to_send
        .iter()
        .flat_map(|job| shared.by_key.get(&job.key).into_iter().flatten())
        .map(|i| shared.fields[*i].page)
        .collect();
    copy.expect(waiting);
    // Copy from the cache or the fallbacks is traced only for the pages this build renders
    // ([`Running::trace_used`]): a rebuild of one page must not trace 10,000 cache hits.
    shared.answer(&immediate, false);

    let worker = if to_send.is_empty() {
        None
    } else {
        let api_key = match &provider.api_key_env {
            Some(var) => match std::env::var(var) {
                Ok(key) if !key.is_empty() => Some(key),
                _ => {
                    warnings.push(Diagnostic::warning(format!(
                        "the environment variable `{var}` is not set: requests to `{provider_name}` go without an API key"
                    )).with_help(format!("set {var} for a hosted API; local servers (Ollama, vLLM, llama.cpp) need none")));
                    None
                }
            },
            None => None,
        };
        let budgets = Budgets {
            max_cost,
            classes: site.config.generate.classes.clone(),
        };
        let public = planned.public;
        let max_chars: HashMap<String, Option<usize>> = shared
            .fields
            .iter()
            .filter_map(|f| {
                shared
                    .prompts
                    .resolve(&f.prompt)
                    .map(|p| (f.prompt.clone(), p.max_chars))
            })
            .collect();
        let check: queue::Check = Arc::new(move |job: &Job, value: &Value| {
            let limits = checks::Limits {
                output: &job.output,
                max_chars: max_chars.get(&job.prompt).copied().flatten(),
                public: public.get(&job.key).map_or("", String::as_str),
            };
            checks::check(value, &limits)
        });
        let shared = Arc::clone(&shared);
        let provider = Arc::new(provider);
        Some(
            std::thread::Builder::new()
                .name("generate".into())
                .spawn(move || {
                    // However the queue ends (even by a panic), no page is left waiting.
                    let _release = Release(Arc::clone(&shared.copy));
                    let stats = run_queue(&shared, provider, api_key, to_send, budgets, check);
                    shared.settle_unanswered();
                    stats
                })
                .map_err(|e| Error::Internal(format!("cannot start the generation thread: {e}")))?,
        )
    };
    Ok((
        Running {
            shared,
            worker,
            immediate,
        },
        warnings,
    ))
}

fn run_queue(
    shared: &Arc<Shared>,
    provider: Arc<ProviderConfig>,
    api_key: Option<String>,
    jobs: Vec<Job>,
    budgets: Budgets,
    check: queue::Check,
) -> QueueStats {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::error!("cannot start the generation runtime: {e}");
            let failed: Vec<(Answer, bool)> = jobs
                .iter()
                .map(|j| {
                    (
                        Answer::unsent(
                            &j.key,
                            Outcome::Failed {
                                error: e.to_string(),
                            },
                        ),
                        false,
                    )
                })
                .collect();
            shared.answer(&failed, true);
            return QueueStats::default();
        }
    };
    runtime.block_on(async {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let queue = tokio::spawn(queue::run(provider, api_key, jobs, budgets, check, tx));
        let mut batch = Vec::new();
        while let Some(first) = rx.recv().await {
            // Everything that arrived together is committed in one transaction.
            batch.push((first, false));
            while let Ok(more) = rx.try_recv() {
                batch.push((more, false));
            }
            let answered = std::mem::take(&mut batch);
            let shared = Arc::clone(shared);
            let _ = tokio::task::spawn_blocking(move || shared.answer(&answered, true)).await;
        }
        queue.await.unwrap_or_default()
    })
}

/// Ends the copy's waiting when dropped.
struct Release(Arc<CopySet>);

impl Drop for Release {
    fn drop(&mut self) {
        self.0.finish();
    }
}

impl Shared {
    /// The trace of `field`'s answer.
    fn trace(&self, field: &FieldJob, cache_hit: bool) -> Trace {
        let (name, version) = field.prompt.split_once('@').unwrap_or((&field.prompt, "1"));
        Trace {
            page: self.site.page(field.page).doc.relative_path.clone(),
            field: field.field.clone(),
            prompt: name.to_owned(),
            version: version.parse().unwrap_or(1),
            prompt_hash: self
                .prompts
                .resolve(&field.prompt)
                .map(|p| p.hash.short_hex())
                .unwrap_or_default(),
            provider: self.provider_name.clone(),
            model: self.model.clone(),
            cache_hit,
        }
    }

    /// Gives fields the queue never answered (it should answer every job) their fallback.
    fn settle_unanswered(&self) {
        let missing: Vec<JobKey> = {
            let state = self.lock();
            let mut keys: Vec<JobKey> = self
                .fields
                .iter()
                .zip(&state.values)
                .filter(|(_, v)| v.is_none())
                .map(|(f, _)| f.key.clone())
                .collect();
            keys.sort();
            keys.dedup();
            keys
        };
        let failed: Vec<(Answer, bool)> = missing
            .iter()
            .map(|key| {
                let error = "the queue gave no answer".to_owned();
                (Answer::unsent(key, Outcome::Failed { error }), false)
            })
            .collect();
        self.answer(&failed, true);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Tally> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Commits `answers` (with whether each came from the cache), then gives each page whose
    /// fields are all answered its copy.
    fn answer(&self, answers: &[(Answer, bool)], trace: bool) {
        if answers.is_empty() {
            return;
        }
        let mut rows: Vec<(Answer, Trace)> = Vec::new();
        let mut resolved: Vec<(usize, Value, bool)> = Vec::new();
        for (answer, cache_hit) in answers {
            for &i in self.by_key.get(&answer.key).into_iter().flatten() {
                let field = &self.fields[i];
                let (value, fallback) = match &answer.outcome {
                    Outcome::Generated { value } => (value.clone(), false),
                    _ => (self.fallback(field), true),
                };
                resolved.push((i, value, fallback));
                if trace {
                    rows.push((answer.clone(), self.trace(field, *cache_hit)));
                }
            }
        }
        // Paid-for answers are committed before anything else happens to them.
        if trace && let Err(e) = self.store.record(self.build, &rows) {
            tracing::error!("cannot record generations: {e}");
            self.lock().problems.push(e.to_string());
        }
        let mut state = self.lock();
        for (answer, cache_hit) in answers {
            let uses = self.by_key.get(&answer.key).map_or(0, Vec::len) as u64;
            let r = &mut state.report;
            r.tokens_in += answer.tokens_in;
            r.tokens_out += answer.tokens_out;
            r.cost_usd += answer.cost_usd;
            if *cache_hit {
                r.cache_hits += uses;
            }
            match &answer.outcome {
                Outcome::Generated { .. } => {}
                Outcome::Failed { .. } => {
                    r.failures += uses;
                    r.fallbacks += uses;
                }
                _ => r.fallbacks += uses,
            }
        }
        let mut pages: Vec<PageId> = Vec::new();
        for (i, value, fallback) in resolved {
            pages.push(self.fields[i].page);
            state.values[i] = Some((value, fallback));
        }
        pages.sort();
        pages.dedup();
        for page in pages {
            let indices = &self.by_page[&page];
            if indices.iter().all(|i| state.values[*i].is_some()) {
                let mut fields = Map::new();
                let mut pending = false;
                for i in indices {
                    if let Some((value, fallback)) = &state.values[*i] {
                        fields.insert(self.fields[*i].field.clone(), value.clone());
                        pending |= *fallback && self.provider_name != "offline";
                    }
                }
                self.copy.set(page, Arc::new(fields), pending);
            }
        }
    }

    /// The fallback of a field: its prompt's fallback template, or (if that fails) an empty
    /// string, logged.
    fn fallback(&self, field: &FieldJob) -> Value {
        let prompts = &self.prompts;
        prompts
            .resolve(&field.prompt)
            .ok_or_else(|| format!("no prompt `{}`", field.prompt))
            .and_then(|p| prompts.fallback(p, &field.context))
            .unwrap_or_else(|e| {
                tracing::error!(
                    "{}: the fallback of `{}` failed: {e}",
                    field.field,
                    field.prompt
                );
                Value::String(String::new())
            })
    }
}

impl Running {
    /// Where the stage stands.
    pub(crate) fn status(&self) -> GenerationStatus {
        let state = self.shared.lock();
        GenerationStatus {
            total: state.values.len() as u64,
            done: state.values.iter().filter(|v| v.is_some()).count() as u64,
            failed: state.report.failures,
            tokens: state.report.tokens_in + state.report.tokens_out,
            cost_usd: state.report.cost_usd,
        }
    }

    /// Traces the copy that came from the cache or the fallbacks at once, for the fields of
    /// `pages` (the pages this build renders).
    pub(crate) fn trace_used(&self, pages: &std::collections::HashSet<PageId>) -> Result<()> {
        let shared = &self.shared;
        let mut rows = Vec::new();
        for (answer, cache_hit) in &self.immediate {
            for &i in shared.by_key.get(&answer.key).into_iter().flatten() {
                let field = &shared.fields[i];
                if pages.contains(&field.page) {
                    rows.push((answer.clone(), shared.trace(field, *cache_hit)));
                }
            }
        }
        shared
            .store
            .record(shared.build, &rows)
            .map_err(|e| Error::store(shared.store.path(), e))
    }

    /// A stage with nothing to do.
    pub(crate) fn is_idle(&self) -> bool {
        self.worker.is_none()
    }

    /// Waits for the queue, releases every page, records which fields are pending, and
    /// returns the report.
    pub(crate) fn finish(mut self) -> Result<GenerationReport> {
        let stats = self
            .worker
            .take()
            .map(|w| w.join().unwrap_or_default())
            .unwrap_or_default();
        let shared = &self.shared;
        shared.copy.finish();
        let state = shared.lock();
        let mut report = state.report.clone();
        report.requests = stats.requests;
        report.retries = stats.retries;
        report.tokens_in = stats.tokens_in;
        report.tokens_out = stats.tokens_out;
        report.cost_usd = stats.cost_usd;
        report.over_budget = stats.over_budget;
        report.breaker_opened = stats.breaker_opened;
        let mut pending = Vec::new();
        let mut settled = Vec::new();
        for (i, field) in shared.fields.iter().enumerate() {
            let page = shared.site.page(field.page).doc.relative_path.clone();
            match &state.values[i] {
                Some((_, true)) if shared.provider_name != "offline" => {
                    pending.push((page, field.field.clone(), field.key.to_string()));
                }
                _ => settled.push((page, field.field.clone())),
            }
        }
        let problems = state.problems.clone();
        drop(state);
        let db = |e: rusqlite::Error| Error::store(shared.store.path(), e);
        shared.store.set_pending(&pending).map_err(db)?;
        shared.store.clear_pending(&settled).map_err(db)?;
        shared.store.finish_build(shared.build).map_err(db)?;
        if let Some(problem) = problems.first() {
            return Err(Error::store(
                shared.store.path(),
                format!("cannot record generations: {problem}"),
            ));
        }
        Ok(report)
    }
}
