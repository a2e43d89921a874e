//! The driver: the only place that knows the order of the stages.
//!
//! config → lock → previous state → load → plan → templates → hash and diff → (render → post →
//! emit) per output that changed, in parallel → anchor checks → feeds → commit → state.
//! Per-page problems are collected; a stage that reported errors stops the build before the
//! output is touched, so a failed build writes nothing.
//!
//! The first build (or `--full`) writes every output into a staging folder and swaps it in.
//! Later builds render only what changed, hold it in memory (or a staging folder past a budget)
//! and write over the old files, skipping those whose bytes did not change; a journal in
//! `.sitegen/` names them first, so a build killed at any moment is repaired by the next one.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rayon::prelude::*;
use serde::Serialize;

use crate::diagnostics::{self, Diagnostic, Error, Result};
use crate::emit::{MEMORY_BUDGET, Sink, Staging};
use crate::generate::stage::{self as generate, GenerationReport};
use crate::hash::{ContentHash, Fingerprint};
use crate::load::site::{ContentRef, PageId, Site};
use crate::load::source::Freshness;
use crate::load::source::Stat;
use crate::markdown::AnchorLink;
use crate::plan::diff::{self, Item};
use crate::plan::hash::{self as input_hash, Fingerprints};
use crate::plan::{self, BuildPlan, Output, Planned};
use crate::render::{Rendered, Renderer, Templates};
use crate::state::manifest::{self, Manifest, OutputRecord, Reason};
use crate::state::stamp::{self, Stamp};
use crate::{config, load, lock, post, state};

/// What to build, from the command line.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The site's folder.
    pub root: PathBuf,
    /// The output folder; the config's `output_dir` under the root when unset.
    pub output: Option<PathBuf>,
    /// Whether drafts are built.
    pub drafts: bool,
    /// `--set key=value` overrides of the config.
    pub overrides: Vec<String>,
    /// Whether to write the output (`build`) or only check everything (`check`).
    pub write: bool,
    /// Ignore the previous build's state (`--full`).
    pub full: bool,
    /// Wait for another sitegen working on the site instead of failing (`--wait`).
    pub wait: bool,
    /// Build only when enough changed (`sitegen rebuild`).
    pub gate: Option<Gate>,
    /// Most USD the build's generation may spend (`--max-cost`), over the config's.
    pub max_cost: Option<f64>,
    /// Fail when any generated field got fallback copy (`--strict`).
    pub strict: bool,
}

/// The threshold gate of `sitegen rebuild`.
#[derive(Debug, Clone, Copy)]
pub struct Gate {
    /// Build when at least this fraction (0–1) of the pages changed.
    pub threshold: f64,
    /// Build anyway when the last build is older than this.
    pub max_age: Option<Duration>,
}

/// Progress of the render stage, for a progress bar.
pub trait Progress: Sync {
    /// `total` outputs are about to be produced.
    fn start(&self, total: usize);
    /// One more is done.
    fn advance(&self);
    /// Where the generation of copy stands (called a few times a second while it runs).
    fn generation(&self, _status: &GenerationStatus) {}
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

/// No progress display.
#[derive(Debug, Clone, Copy, Default)]
pub struct Quiet;

impl Progress for Quiet {
    fn start(&self, _: usize) {}
    fn advance(&self) {}
}

/// One output written by a build, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Rebuilt {
    /// The file, relative to the output folder.
    pub file: String,
    /// Why it was written.
    pub reason: String,
}

/// The summary of a build.
#[derive(Debug, Clone, Serialize)]
pub struct BuildReport {
    /// Pages in the site.
    pub pages: usize,
    /// Sections in the site (the home page included).
    pub sections: usize,
    /// Files written (or, for `check`, that would be).
    pub files_written: usize,
    /// Wall time of the build.
    pub duration_ms: u128,
    /// Errors (none in a successful build; kept for the JSON shape).
    pub errors: Vec<Diagnostic>,
    /// Warnings.
    pub warnings: Vec<Diagnostic>,
    /// Pages rendered by this build.
    pub pages_rendered: usize,
    /// Pages whose previous output was kept.
    pub pages_reused: usize,
    /// Outputs of the previous build deleted because nothing produces them any more.
    pub outputs_removed: usize,
    /// The fraction of pages whose inputs changed since the last build (1 without state).
    pub changed_fraction: f64,
    /// Every output written, with the reason (`--explain`).
    pub rebuilt: Vec<Rebuilt>,
    /// What generation did, when the site has generated fields.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generation: Option<GenerationReport>,
    /// The output folder.
    #[serde(skip)]
    pub output: PathBuf,
}

/// What `sitegen rebuild` decided.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "decision", rename_all = "lowercase")]
pub enum Outcome {
    /// The site was built.
    Built {
        /// Why: the changed fraction reached the threshold, or the last build was too old.
        reason: String,
        /// The build's summary.
        #[serde(flatten)]
        report: Box<BuildReport>,
    },
    /// Too little changed; nothing was written.
    Skipped {
        /// Why.
        reason: String,
        /// The fraction of pages that changed.
        changed_fraction: f64,
        /// The threshold.
        threshold: f64,
        /// Seconds since the last build, when known.
        last_build_age_s: Option<u64>,
    },
}

/// Builds (or checks) the site described by `options`.
pub fn build(options: &Options, progress: &dyn Progress) -> Result<BuildReport> {
    let options = Options {
        gate: None,
        ..options.clone()
    };
    match run(&options, progress)? {
        Outcome::Built { report, .. } => Ok(*report),
        Outcome::Skipped { .. } => unreachable!("no gate, no skip"),
    }
}

/// What a long-running caller (`sitegen serve`) keeps between its builds: the last build's
/// manifest, which every incremental build starts from (reading it back from
/// `.sitegen/state.sqlite` costs ~45 ms at 10,000 pages), and, for a caller that watches the
/// files, the last walk of the sources with the paths changed since.
#[derive(Debug, Default)]
pub struct Resident {
    /// The manifest as last committed, with the database generation it was committed as: it
    /// is used only while the database is still at that generation (another process may have
    /// built since), else read again.
    manifest: Option<(u64, Manifest)>,
    /// The last build's walk of the source folders, with the theme folder it walked.
    walk: Option<(Option<String>, load::walk::SourceFiles)>,
    /// The paths changed since that walk, when the caller tells ([`Resident::changed`]).
    changed: Option<std::collections::BTreeSet<PathBuf>>,
    /// Whether the caller tells every change (see [`Resident::watched`]).
    watched: bool,
    /// Whether the process exits after the build (see [`run_then_exit`]).
    exiting: bool,
}

impl Resident {
    /// A resident state whose caller watches the site's files and tells every change with
    /// [`Resident::changed`], so builds need not walk the source folders again. (The default
    /// one walks them in every build.)
    #[must_use]
    pub fn watched() -> Self {
        Self {
            watched: true,
            ..Self::default()
        }
    }

    /// Tells the next build that the files or folders `paths` (relative to the site's root)
    /// changed: with a [`Resident::watched`] state, it looks at those again instead of walking
    /// every source folder.
    pub fn changed(&mut self, paths: impl IntoIterator<Item = PathBuf>) {
        if let Some(changed) = &mut self.changed {
            changed.extend(paths);
        }
    }

    /// The sources of the site at `root` by the last walk and the changes since, if known.
    fn walk(&mut self, root: &Path, theme: Option<&str>) -> Option<load::walk::SourceFiles> {
        let (walked_theme, previous) = self.walk.take()?;
        let changed = self.changed.take()?;
        if walked_theme.as_deref() != theme {
            return None;
        }
        load::walk::patch(&previous, root, theme, &changed)
    }

    /// Keeps `sources`, the walk of a build that succeeded, for the next.
    fn walked(&mut self, theme: Option<String>, sources: load::walk::SourceFiles) {
        if self.watched {
            self.walk = Some((theme, sources));
            self.changed = Some(std::collections::BTreeSet::new());
        }
    }
}

/// Builds the site, or (with a gate) decides first whether enough changed to build.
pub fn run(options: &Options, progress: &dyn Progress) -> Result<Outcome> {
    let mut resident = Resident::default();
    let outcome = run_resident(options, progress, &mut resident);
    drop_later(resident);
    outcome
}

/// [`run`] for a process that exits right after (`sitegen build`): the build's memory is left
/// to the exit. Freeing the site and the manifest value by value, even on another thread, took
/// a core from the end of a build for tens of milliseconds at 10,000 pages.
pub fn run_then_exit(options: &Options, progress: &dyn Progress) -> Result<Outcome> {
    let mut resident = Resident {
        exiting: true,
        ..Resident::default()
    };
    let outcome = run_resident(options, progress, &mut resident);
    std::mem::forget(resident);
    outcome
}

/// [`run`], starting from (and leaving) the last build's state in `resident` instead of
/// reading it from disk.
#[allow(clippy::too_many_lines)]
pub fn run_resident(
    options: &Options,
    progress: &dyn Progress,
    resident: &mut Resident,
) -> Result<Outcome> {
    let started = Instant::now();
    let root = options.root.as_path();
    if !root.is_dir() {
        return Err(Error::Usage(format!(
            "the site folder `{}` does not exist",
            root.display()
        )));
    }
    let config::Loaded {
        config,
        file,
        mut warnings,
    } = config::load(root, &options.overrides)?;
    let output = options
        .output
        .clone()
        .unwrap_or_else(|| root.join(&config.output_dir));
    check_output_folder(root, &output)?;
    let output_abs = std::path::absolute(&output).map_err(|e| Error::io(&output, e))?;

    let state_dir = state::dir(root);
    let _lock = if options.write {
        Some(lock::acquire(&state::ensure(root)?, "build", options.wait)?)
    } else {
        None
    };
    // The last build's manifest, unless a resident caller kept it: read on a thread of its own
    // while the sources are walked (a build that finds nothing changed does not wait for it).
    let wanted = options.write && !options.full;
    let unwanted = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reading = (wanted && resident.manifest.is_none())
        .then(|| {
            let (state_dir, unwanted) = (state_dir.clone(), Arc::clone(&unwanted));
            std::thread::Builder::new()
                .name("state".into())
                .spawn(move || manifest::read_unless(&state_dir, &unwanted))
                .ok()
        })
        .flatten();
    // The stat of every source file, taken before anything is read: the no-op check compares
    // it with the last build's, and this build's stamp records it.
    let theme_folder = config
        .theme
        .clone()
        .filter(|t| !t.contains(['/', '\\']) && t != ".." && root.join("themes").join(t).is_dir());
    let sources = resident
        .walk(root, theme_folder.as_deref())
        .unwrap_or_else(|| load::walk::walk(root, theme_folder.as_deref()));
    tracing::info!(elapsed = ?started.elapsed(), faults = faults(), "walked");
    let config_hash = Fingerprint::new("effective-config")
        .json(&config)
        .num(u64::from(options.drafts))
        .str(&output_abs.to_string_lossy())
        .finish();
    let stamp = (options.write && !options.full && manifest::pending(&state_dir).is_none())
        .then(|| stamp::read(&state_dir))
        .flatten();
    if let Some(stamp) = stamp
        .as_ref()
        .filter(|s| stamp::unchanged(s, &state_dir, &config_hash, &sources.files, &output))
    {
        unwanted.store(true, std::sync::atomic::Ordering::Relaxed);
        let outcome = nothing_changed(stamp, options, &state_dir, output, warnings, started);
        resident.walked(theme_folder, sources);
        return Ok(outcome);
    }
    stamp::clear(&state_dir);
    // The last build's outputs are checked for on a thread of their own while the site loads.
    let output_check = stamp.map(|s| diff::OutputFolder::check_in_background(&output, s.outputs));
    let kept = resident.manifest.take();
    let mut previous = if wanted {
        kept.filter(|(generation, _)| manifest::generation(&state_dir) == Some(*generation))
            .map(|(_, m)| m)
            .or_else(|| match reading {
                Some(thread) => thread.join().ok().flatten(),
                None => manifest::read(&state_dir),
            })
            .filter(|m| m.output == output_abs && m.drafts == options.drafts)
    } else {
        None
    };
    tracing::info!(elapsed = ?started.elapsed(), faults = faults(), "read the build state");
    let interrupted = manifest::pending(&state_dir);
    let cache = previous
        .as_mut()
        .map(|m| std::mem::take(&mut m.sources))
        .unwrap_or_default();
    let loaded = load::load(root, config, &file, options.drafts, cache, &sources)
        .map_err(|e| with_warnings(e, &warnings))?;
    warnings.extend(loaded.warnings);
    tracing::info!(pages = loaded.site.pages.len(), faults = faults(), elapsed = ?started.elapsed(), "loaded");
    let (provider_name, provider) = generate::provider(&loaded.site.config).map_err(|message| {
        with_warnings(
            Error::Config(Box::new(
                Diagnostic::error(message)
                    .in_file(&file)
                    .with_help("name a provider of [providers], or \"offline\""),
            )),
            &warnings,
        )
    })?;
    let jobs = generate::plan(&loaded.site, &provider, &loaded.site.config.generate)
        .map_err(|d| with_warnings(Error::Site(d), &warnings))?;
    let site = Arc::new(loaded.site);
    let mut plan = plan::plan(&site).map_err(|e| with_warnings(e, &warnings))?;
    let assets = if site.config.fingerprint_assets {
        post::fingerprint::apply(&site, &mut plan)
    } else {
        Default::default()
    };
    let post = post::Post::new(&site, assets);
    let templates =
        Arc::new(Templates::compile(&site).map_err(|d| with_warnings(Error::Site(d), &warnings))?);
    let renderer = Renderer::new(
        Arc::clone(&site),
        Arc::clone(&templates),
        plan.feed_pages.clone(),
    );
    let missing = renderer.missing_templates();
    if !missing.is_empty() {
        return Err(with_warnings(Error::Site(missing), &warnings));
    }

    // The copy of generated fields: cached and fallback copy at once, the rest on a thread of
    // its own while the site renders.
    let generation = if jobs.is_empty() {
        None
    } else if options.write {
        let max_cost = options.max_cost.or(site.config.generate.max_cost);
        let (running, more) = generate::start(
            Arc::clone(&site),
            jobs,
            &state::ensure(root)?,
            provider_name,
            provider,
            max_cost,
        )
        .map_err(|e| with_warnings(e, &warnings))?;
        warnings.extend(more);
        Some(running)
    } else {
        generate::fill_fallbacks(&site, &jobs);
        None
    };
    let nonce = u64::try_from(unix_now()).unwrap_or_default() ^ u64::from(std::process::id());
    let config_json = serde_json::to_value(&site.config).unwrap_or_default();
    let fps = Fingerprints::new(&site, &templates, &config_json, nonce);
    let items = items(&site, &plan, &fps, &templates);
    let incremental = previous.is_some() && output.is_dir();
    let templates_now = templates.source_hashes();
    let dep_hash = |dep: &manifest::Dep| input_hash::dep_hash(&site, &fps, dep);
    let output_folder = output_check
        .and_then(|check| check.join().ok())
        .unwrap_or_else(|| diff::OutputFolder::new(&output));
    let diff = diff::diff(
        previous.as_ref().filter(|_| incremental),
        interrupted.as_ref(),
        &output_folder,
        &items,
        &templates_now,
        &dep_hash,
    );
    let changed_fraction = changed_fraction(
        &site,
        &plan,
        &diff,
        previous.as_ref(),
        &loaded.freshness,
        loaded.removed_pages,
    );
    tracing::info!(elapsed = ?started.elapsed(), faults = faults(), changed_fraction, "planned");

    let mut built_reason = String::from("build");
    if let Some(gate) = options.gate {
        let age = last_build_age(&state_dir);
        if changed_fraction >= gate.threshold {
            built_reason = format!(
                "{} changed (>= {})",
                percent(changed_fraction),
                percent(gate.threshold)
            );
        } else if let (Some(max), Some(age)) = (gate.max_age, age) {
            if age < max {
                return Ok(skipped(changed_fraction, gate.threshold, Some(age)));
            }
            built_reason = format!(
                "last build {}s ago (max age {}s)",
                age.as_secs(),
                max.as_secs()
            );
        } else if gate.max_age.is_some() && age.is_none() {
            built_reason = "no previous build".to_owned();
        } else {
            return Ok(skipped(changed_fraction, gate.threshold, age));
        }
    }

    // A clean build writes a new tree and swaps it in; an incremental one moves the files it
    // wrote into the output folder one by one, whatever their number: that makes no folder, and
    // an output whose bytes did not change is not written at all.
    let swap = !incremental;
    let selected: Vec<usize> = if options.write && !swap {
        (0..items.len())
            .filter(|i| diff.decisions[*i].is_some())
            .collect()
    } else {
        (0..items.len()).collect()
    };
    let sink = if !options.write {
        Sink::Discard(Default::default())
    } else if let Some(previous) = previous.as_ref().filter(|_| !swap) {
        let intact = intact_outputs(previous, &items, &selected, &diff, &output_folder);
        // A watched site is being served: the preview's file server reads its files while a
        // build writes them, so they are replaced whole (staged on disk, renamed over), never
        // written in place.
        let budget = if resident.watched { 0 } else { MEMORY_BUDGET };
        Sink::Staging(Staging::flat(&output, intact, budget)?)
    } else {
        Sink::Staging(Staging::new(&output)?)
    };
    if let Some(running) = &generation {
        let rendered: HashSet<PageId> = selected
            .iter()
            .filter_map(|i| match plan.renders.get(*i).map(|r| &r.output) {
                Some(Output::Page(id)) => Some(*id),
                _ => None,
            })
            .collect();
        if let Err(e) = running.trace_used(&rendered) {
            tracing::warn!("{e}");
        }
    }
    let stages = Stages {
        site: &site,
        plan: &plan,
        renderer: &renderer,
        post: &post,
        sink: &sink,
        output: &output,
    };
    // Whether copy is still being written: the outputs showing it are recorded (below) with the
    // copy they got, not the placeholder their inputs were hashed with.
    let waited = site.generated.any_waiting();
    let produced = match &generation {
        Some(running) if !running.is_idle() => {
            // Generation shows its progress while the site renders.
            let rendering = std::sync::atomic::AtomicBool::new(true);
            std::thread::scope(|scope| {
                scope.spawn(|| {
                    while rendering.load(std::sync::atomic::Ordering::Relaxed) {
                        progress.generation(&running.status());
                        std::thread::sleep(Duration::from_millis(200));
                    }
                });
                let produced = produce(&stages, &selected, progress);
                rendering.store(false, std::sync::atomic::Ordering::Relaxed);
                produced
            })
        }
        _ => produce(&stages, &selected, progress),
    };
    let generation = match generation.map(generate::Running::finish).transpose() {
        Ok(report) => report,
        Err(e) => {
            if let Sink::Staging(staging) = sink {
                staging.abort();
            }
            return Err(with_warnings(e, &warnings));
        }
    };
    if let Some(report) = &generation {
        for (class, (budget, jobs)) in &report.over_budget {
            warnings.push(
                Diagnostic::warning(format!(
                    "{jobs} generated field(s) of class `{class}` got fallback copy: over the budget {budget}"
                ))
                .with_help("raise the budget in [generate.classes] or --max-cost; the next build retries them"),
            );
        }
        if report.breaker_opened {
            warnings.push(Diagnostic::warning(
                "the provider kept failing: its circuit breaker opened and the remaining fields got fallback copy",
            ).with_help("see `sitegen stats` for the errors; the next build retries them"));
        }
    }
    if options.strict
        && let Some(report) = generation.as_ref().filter(|r| r.fallbacks > 0)
    {
        if let Sink::Staging(staging) = sink {
            staging.abort();
        }
        let d = Diagnostic::error(format!(
            "{} generated fields got fallback copy ({} failed); --strict allows none",
            report.fallbacks, report.failures
        ))
        .with_help(
            "see `sitegen stats` for what failed; their answers that arrived are kept in the cache",
        );
        return Err(with_warnings(Error::Site(vec![d]), &warnings));
    }
    let items = if waited {
        let fps = Fingerprints::new(&site, &templates, &config_json, nonce);
        self::items(&site, &plan, &fps, &templates)
    } else {
        items
    };
    let produced = match produced {
        // Broken links are warnings of a build, errors of `check` and of `--strict`.
        Ok(produced) if !produced.broken_links.is_empty() && (!options.write || options.strict) => {
            if let Sink::Staging(staging) = sink {
                staging.abort();
            }
            let errors = produced
                .broken_links
                .into_iter()
                .map(Diagnostic::into_error)
                .collect();
            return Err(with_warnings(Error::Site(errors), &warnings));
        }
        Ok(mut produced) => {
            warnings.append(&mut produced.broken_links);
            produced
        }
        Err(e) => {
            if let Sink::Staging(staging) = sink {
                staging.abort();
            }
            return Err(with_warnings(e, &warnings));
        }
    };
    let files_written = sink.files_written();
    tracing::info!(elapsed = ?started.elapsed(), faults = faults(), files_written, "rendered");

    let mut rebuilt = Vec::with_capacity(selected.len());
    if let Sink::Staging(staging) = sink {
        let mut records = manifest::OutputRecords::default();
        // The outputs produced, written or found unchanged: their records change.
        let mut recorded: Vec<&str> = Vec::with_capacity(selected.len());
        for (i, (size, output_hash, deps)) in &produced.outputs {
            let item = &items[*i];
            let reason = diff.decisions[*i].clone().unwrap_or(Reason::Full);
            // Outputs written again only because the whole tree was swapped are not rebuilds.
            if diff.decisions[*i].is_some() || previous.is_none() {
                rebuilt.push(Rebuilt {
                    file: item.file.to_owned(),
                    reason: reason.to_string(),
                });
            }
            recorded.push(item.file);
            let deps = deps.iter().map(|d| (d.clone(), dep_hash(d))).collect();
            records.insert(
                item.file.to_owned(),
                OutputRecord {
                    inputs: item.inputs,
                    deps,
                    output: *output_hash,
                    size: *size,
                    reason,
                },
            );
        }
        let sources_changed = loaded.cache_changed;
        let changed = !recorded.is_empty()
            || !diff.removed.is_empty()
            || sources_changed
            || interrupted.is_some();
        if changed || previous.is_none() {
            // Kept outputs keep their records: when only some were written, the previous
            // records are updated in place (100,000 of them add up), else all are new.
            if let Some(previous) = previous.as_mut().filter(|_| !swap) {
                let mut all = std::mem::take(&mut previous.outputs);
                for file in &diff.removed {
                    all.remove(file);
                }
                all.extend(records);
                records = all;
            }
            // The journal names the files about to be replaced (`None`: all of them).
            let journal = staging.staged().map(|mut staged| {
                staged.extend(diff.removed.iter().cloned());
                staged
            });
            let journal: Option<Vec<&str>> = journal
                .as_ref()
                .map(|files| files.iter().map(String::as_str).collect());
            manifest::begin(&state_dir, journal.as_deref())?;
            staging.commit(&diff.removed)?;
            let manifest = Manifest {
                format: manifest::FORMAT,
                engine: env!("CARGO_PKG_VERSION").to_owned(),
                built_at: unix_now(),
                output: output_abs.clone(),
                drafts: options.drafts,
                pages: site.pages.len(),
                sources: loaded.cache,
                outputs: records,
                templates: templates_now,
            };
            tracing::info!(elapsed = ?started.elapsed(), faults = faults(), "output updated");
            let delta = manifest::Delta {
                sources_changed: loaded
                    .freshness
                    .iter()
                    .filter(|(_, f)| *f != Freshness::Unchanged)
                    .map(|(key, _)| key.as_str())
                    .collect(),
                sources_removed: loaded.removed_sources,
                outputs_changed: recorded.clone(),
                outputs_removed: &diff.removed,
            };
            let generation = manifest::write(&state_dir, &manifest, incremental.then_some(&delta))?;
            tracing::info!(elapsed = ?started.elapsed(), faults = faults(), "build state written");
            manifest::end(&state_dir)?;
            write_stamp(
                &state_dir,
                &manifest,
                generation,
                config_hash,
                &sources.files,
                &site,
                &items,
            );
            resident.manifest = Some((generation, manifest));
        } else {
            staging.abort();
            if let (Some(mut previous), Some(generation)) =
                (previous.take(), manifest::generation(&state_dir))
            {
                write_stamp(
                    &state_dir,
                    &previous,
                    generation,
                    config_hash,
                    &sources.files,
                    &site,
                    &items,
                );
                // Nothing was committed: the manifest read is still the stored one, with the
                // sources cache load took from it.
                previous.sources = loaded.cache;
                resident.manifest = Some((generation, previous));
            }
        }
        // Edge platforms' files, beside the outputs and outside the manifest.
        if let Err(e) = crate::emit::edge::emit(&site, &output, &mut warnings) {
            stamp::clear(&state_dir); // so the next build tries them again
            return Err(with_warnings(e, &warnings));
        }
        write_last_build(&state_dir);
    }
    diagnostics::sort(&mut warnings);
    rebuilt.sort_by(|a, b| a.file.cmp(&b.file));
    let is_page =
        |i: usize| i < plan.renders.len() && matches!(plan.renders[i].output, Output::Page(_));
    let pages_rendered = selected.iter().filter(|i| is_page(**i)).count();
    let report = BuildReport {
        pages: site.pages.len(),
        sections: site.sections.len(),
        files_written,
        duration_ms: started.elapsed().as_millis(),
        errors: Vec::new(),
        warnings,
        pages_rendered,
        pages_reused: (0..items.len()).filter(|i| is_page(*i)).count() - pages_rendered,
        outputs_removed: if options.write { diff.removed.len() } else { 0 },
        changed_fraction,
        rebuilt,
        generation,
        output,
    };
    tracing::info!(elapsed = ?started.elapsed(), faults = faults(), "done");
    drop(items);
    drop(renderer);
    drop(templates);
    let leftovers = (previous, site, plan, fps, output_folder, loaded.freshness);
    if resident.exiting {
        std::mem::forget(leftovers);
    } else {
        drop_later(leftovers);
    }
    resident.walked(theme_folder, sources);
    Ok(Outcome::Built {
        reason: built_reason,
        report: Box::new(report),
    })
}

/// Whether `output` shows the copy of a page that is still being generated: the page itself
/// or a sibling, a section, term or taxonomy listing it, a feed holding it.
fn shows_waiting_copy(site: &Site, output: &Output) -> bool {
    let waiting = |id: &PageId| site.generated.is_waiting(*id);
    match output {
        Output::Page(id) => {
            let page = site.page(*id);
            waiting(id) || page.lower.iter().chain(&page.higher).any(waiting)
        }
        Output::Section { id, .. } => site.section(*id).pages.iter().any(waiting),
        Output::Taxonomy(t) => site.taxonomies[*t]
            .terms
            .iter()
            .flat_map(|t| &t.pages)
            .any(waiting),
        Output::Term { taxonomy, term, .. } => site.taxonomies[*taxonomy].terms[*term]
            .pages
            .iter()
            .any(waiting),
        Output::Feed { pages, .. } => pages.iter().any(waiting),
        Output::Redirect { .. } | Output::NotFound | Output::Robots | Output::Sitemap(_) => false,
    }
}

/// The `selected` outputs whose file the last build wrote and the output folder still holds
/// untouched, with the hash of its bytes: one rendered to the same bytes need not be written.
/// A file an interrupted build was replacing may be torn, whatever its size.
fn intact_outputs(
    previous: &Manifest,
    items: &[Item<'_>],
    selected: &[usize],
    diff: &diff::Diff,
    output_folder: &diff::OutputFolder,
) -> rustc_hash::FxHashMap<String, ContentHash> {
    selected
        .iter()
        .filter(|i| {
            !matches!(
                diff.decisions[**i],
                Some(Reason::OutputMissing | Reason::Interrupted)
            )
        })
        .filter_map(|i| {
            let file = items[*i].file;
            let record = previous.outputs.get(file)?;
            output_folder
                .intact(file, record.size)
                .then(|| (file.to_owned(), record.output))
        })
        .collect()
}

/// Frees a large value on another thread: freeing 10,000 pages' worth of small allocations
/// takes tens of milliseconds that a command-line build need not wait for (the process may
/// exit before the thread is done, and the memory goes back with it).
fn drop_later<T: Send + 'static>(value: T) {
    let spawned = std::thread::Builder::new()
        .name("drop".into())
        .spawn(move || drop(value));
    if let Err(e) = spawned {
        tracing::debug!("no thread to free memory on ({e}); freeing inline");
    }
}

/// The stamp of a successful build: what it read and wrote.
fn write_stamp(
    state_dir: &Path,
    manifest: &Manifest,
    generation: u64,
    config: ContentHash,
    files: &[(String, Stat)],
    site: &Site,
    items: &[Item<'_>],
) {
    let mut outputs: Vec<(String, u64)> = manifest
        .outputs
        .iter()
        .map(|(file, r)| (file.clone(), r.size))
        .collect();
    outputs.sort();
    // Files read through load_data count as sources too.
    let data_read = manifest
        .outputs
        .values()
        .flat_map(|r| &r.deps)
        .any(|(dep, _)| matches!(dep, manifest::Dep::Data(_)));
    let stamp = Stamp {
        engine: env!("CARGO_PKG_VERSION").to_owned(),
        config,
        files: stamp::files_hash(files),
        outputs,
        pages: site.pages.len(),
        sections: site.sections.len(),
        // Fallback copy waiting for a retry makes the next build do more than nothing.
        volatile: data_read
            || items.iter().any(|i| i.volatile)
            || !site.generated.pending().is_empty(),
        generation,
    };
    if let Err(e) = stamp::write(state_dir, &stamp) {
        tracing::warn!("cannot write the build stamp ({e}); the next build reads everything");
    }
}

/// The report of a build that found nothing changed since the last one.
fn nothing_changed(
    stamp: &Stamp,
    options: &Options,
    state_dir: &Path,
    output: PathBuf,
    warnings: Vec<Diagnostic>,
    started: Instant,
) -> Outcome {
    let age = last_build_age(state_dir);
    if let Some(gate) = options.gate {
        let too_old = matches!((gate.max_age, age), (Some(max), Some(age)) if age >= max);
        if gate.threshold > 0.0 && !too_old {
            return skipped(0.0, gate.threshold, age);
        }
    }
    write_last_build(state_dir);
    let report = BuildReport {
        pages: stamp.pages,
        sections: stamp.sections,
        files_written: 0,
        duration_ms: started.elapsed().as_millis(),
        errors: Vec::new(),
        warnings,
        pages_rendered: 0,
        pages_reused: stamp.pages,
        outputs_removed: 0,
        changed_fraction: 0.0,
        rebuilt: Vec::new(),
        generation: None,
        output,
    };
    let reason = match (options.gate, age) {
        (Some(gate), Some(age)) if gate.threshold > 0.0 => format!(
            "last build {}s ago (max age {}s)",
            age.as_secs(),
            gate.max_age.map_or(0, |m| m.as_secs())
        ),
        (Some(gate), _) => format!("0% changed (>= {})", percent(gate.threshold)),
        (None, _) => "build".to_owned(),
    };
    Outcome::Built {
        reason,
        report: Box::new(report),
    }
}

fn skipped(changed_fraction: f64, threshold: f64, age: Option<Duration>) -> Outcome {
    Outcome::Skipped {
        reason: format!(
            "{} changed (< {})",
            percent(changed_fraction),
            percent(threshold)
        ),
        changed_fraction,
        threshold,
        last_build_age_s: age.map(|a| a.as_secs()),
    }
}

/// `0.012` → `1.2%`.
pub fn percent(fraction: f64) -> String {
    let p = fraction * 100.0;
    if (p - p.round()).abs() < 1e-9 {
        format!("{p:.0}%")
    } else if p < 1.0 {
        format!("{p:.2}%")
    } else {
        format!("{p:.1}%")
    }
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Records when the last build (even one that had nothing to do) finished.
fn write_last_build(state_dir: &Path) {
    let _ = std::fs::write(state_dir.join("last-build"), format!("{}\n", unix_now()));
}

/// How long ago the last build finished.
fn last_build_age(state_dir: &Path) -> Option<Duration> {
    let text = std::fs::read_to_string(state_dir.join("last-build")).ok()?;
    let then: i64 = text.trim().parse().ok()?;
    Some(Duration::from_secs(
        u64::try_from(unix_now() - then).unwrap_or(0),
    ))
}

/// Every output as the diff sees it: renders, then feeds, then copies.
fn items<'a>(
    site: &'a Site,
    plan: &'a BuildPlan,
    fps: &Fingerprints,
    templates: &'a Templates,
) -> Vec<Item<'a>> {
    let rendered = plan
        .renders
        .par_iter()
        .chain(&plan.deferred)
        .map(|planned| {
            let template = plan::template_of(site, &planned.output);
            let analysis = template.and_then(|t| templates.analysis(t));
            Item {
                file: &planned.file,
                inputs: input_hash::inputs(site, fps, planned),
                template,
                closure: analysis.map_or(&[][..], |a| &a.closure[..]),
                volatile: analysis.is_some_and(|a| a.volatile),
            }
        });
    let copies = plan.copies.iter().map(|copy| Item {
        file: &copy.file,
        inputs: input_hash::copy_inputs(copy),
        template: None,
        closure: &[],
        volatile: false,
    });
    let mut all: Vec<Item<'a>> = rendered.collect();
    all.extend(copies);
    all
}

/// (changed + added + removed pages, and pages a template or config change affects) / pages.
fn changed_fraction(
    site: &Site,
    plan: &BuildPlan,
    diff: &diff::Diff,
    previous: Option<&Manifest>,
    freshness: &[(String, Freshness)],
    removed: usize,
) -> f64 {
    let Some(previous) = previous else { return 1.0 };
    // Whether the source file `key` (`content/…`) is one of the site's pages.
    let is_page = |key: &str| {
        key.strip_prefix("content/")
            .and_then(|path| site.by_content_path.get(path))
            .is_some_and(|found| matches!(found, ContentRef::Page(_)))
    };
    let mut changed: HashSet<String> = freshness
        .iter()
        .filter(|(key, f)| matches!(f, Freshness::Changed | Freshness::Added) && is_page(key))
        .map(|(key, _)| key.clone())
        .collect();
    for (i, planned) in plan.renders.iter().enumerate() {
        if let (
            Output::Page(id),
            Some(
                Reason::TemplateChanged(_)
                | Reason::ConfigChanged
                | Reason::Volatile
                | Reason::Full,
            ),
        ) = (&planned.output, &diff.decisions[i])
        {
            changed.insert(format!("content/{}", site.page(*id).doc.relative_path));
        }
    }
    // Records of collections have no file: their pages' decisions tell.
    let mut added_records = 0;
    for (i, planned) in plan.renders.iter().enumerate() {
        if let Output::Page(id) = &planned.output
            && !site.page(*id).doc.has_file
        {
            match &diff.decisions[i] {
                Some(Reason::New) => added_records += 1,
                Some(Reason::SourceChanged) => {}
                _ => continue,
            }
            changed.insert(site.page(*id).doc.relative_path.clone());
        }
    }
    let added_files = freshness
        .iter()
        .filter(|(key, f)| *f == Freshness::Added && is_page(key))
        .count();
    // Pages gone = pages before + pages added - pages now.
    let removed = removed
        .max((previous.pages + added_files + added_records).saturating_sub(site.pages.len()));
    let total = site.pages.len().max(previous.pages).max(1);
    ((changed.len() + removed) as f64 / total as f64).min(1.0)
}

/// Adds the warnings found so far to a site's errors, so the report lists both.
fn with_warnings(error: Error, warnings: &[Diagnostic]) -> Error {
    match error {
        Error::Site(mut all) => {
            all.extend(warnings.iter().cloned());
            diagnostics::sort(&mut all);
            Error::Site(collapse_repeats(all))
        }
        other => other,
    }
}

/// One broken template fails every page that uses it: report it once, with a count.
fn collapse_repeats(all: Vec<Diagnostic>) -> Vec<Diagnostic> {
    let mut kept: Vec<Diagnostic> = Vec::with_capacity(all.len());
    let mut repeats: HashMap<(Option<diagnostics::Location>, String), (usize, usize)> =
        HashMap::new();
    for d in all {
        let Some((_, what)) = d
            .message
            .strip_prefix("while rendering ")
            .and_then(|m| m.split_once(": "))
        else {
            kept.push(d);
            continue;
        };
        let key = (d.location.clone(), what.to_owned());
        if let Some((_, count)) = repeats.get_mut(&key) {
            *count += 1;
        } else {
            repeats.insert(key, (kept.len(), 0));
            kept.push(d);
        }
    }
    for (index, count) in repeats.into_values() {
        if count > 0 {
            kept[index].message.push_str(&format!(
                " (and {count} more output(s) with the same error)"
            ));
        }
    }
    kept
}

/// Refuses output folders that would destroy the site: the root itself, or a folder above it.
fn check_output_folder(root: &Path, output: &Path) -> Result<()> {
    let absolute = |p: &Path| std::path::absolute(p).map_err(|e| Error::io(p, e));
    let (root_abs, output_abs) = (absolute(root)?, absolute(output)?);
    let root_abs = root_abs.canonicalize().unwrap_or(root_abs);
    let output_abs = output_abs
        .parent()
        .and_then(|p| p.canonicalize().ok())
        .map_or(output_abs.clone(), |p| {
            p.join(output_abs.file_name().unwrap_or_default())
        });
    let sources =
        ["content", "templates", "static", "themes", ".sitegen"].map(|d| root_abs.join(d));
    if root_abs.starts_with(&output_abs) || sources.iter().any(|s| output_abs.starts_with(s)) {
        return Err(Error::Usage(format!(
            "refusing to write the site into `{}`: it holds the site's own files, which the build would replace",
            output.display()
        )));
    }
    Ok(())
}

/// A page's content and heading ids, or its problems.
type BodyResult = std::result::Result<(String, Vec<String>), Vec<Diagnostic>>;

/// The size and hash of what was written, and what its template functions read.
type Written = (u64, ContentHash, Vec<manifest::Dep>);

/// What producing the outputs left: per output index, the size and hash of what was written
/// and what its template functions read.
struct Produced {
    outputs: Vec<(usize, Written)>,
    /// Internal links to nothing the site has, one problem each (the caller decides how bad).
    broken_links: Vec<Diagnostic>,
}

/// One finished output: what the later checks need from it.
#[derive(Default)]
struct Done {
    index: usize,
    size: u64,
    hash: ContentHash,
    deps: Vec<manifest::Dep>,
    anchors: Option<(String, Vec<String>)>,
    anchor_links: Vec<(String, AnchorLink)>,
    feed_content: Option<(PageId, String)>,
    /// Its internal links that name nothing the site has, or an id it lacks itself.
    broken_links: Vec<Diagnostic>,
    /// Its internal links with a fragment into another output, checked once all are done.
    fragment_links: Vec<FragmentLink>,
    /// Its element ids (and `<a name>`s), as sorted [`id_hash`]es: 100,000 pages keep them
    /// until every page has rendered, and a hash is 8 bytes where a String is 24 and a block.
    ids: Vec<u64>,
}

/// A link to an element of another output.
struct FragmentLink {
    /// The link as written.
    href: String,
    /// The output file it points at.
    target: String,
    /// The fragment, percent-decoded.
    fragment: String,
}

/// The hash an element id is known by in [`Done::ids`]. A collision can only hide a broken
/// fragment's warning.
fn id_hash(id: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::hash::DefaultHasher::new();
    id.hash(&mut hasher);
    hasher.finish()
}

/// The sorted, deduplicated [`id_hash`]es of `ids`.
fn id_hashes<'a>(ids: impl IntoIterator<Item = &'a String>) -> Vec<u64> {
    let mut hashes: Vec<u64> = ids.into_iter().map(|id| id_hash(id)).collect();
    hashes.sort_unstable();
    hashes.dedup();
    hashes
}

/// What the render → post → emit loop works with.
struct Stages<'a> {
    site: &'a Site,
    plan: &'a BuildPlan,
    renderer: &'a Renderer,
    post: &'a post::Post,
    sink: &'a Sink,
    /// The output folder (link targets this build does not render are read from it).
    output: &'a Path,
}

/// Renders, post-processes and writes the `selected` outputs (indexes into renders, then
/// deferred, then copies).
fn produce(stages: &Stages<'_>, selected: &[usize], progress: &dyn Progress) -> Result<Produced> {
    let Stages {
        site,
        plan,
        renderer,
        post,
        sink,
        output,
    } = *stages;
    progress.start(selected.len());
    let (renders, deferred) = (plan.renders.len(), plan.deferred.len());
    // Every file of the site, for the link check each output gets as it finishes.
    let files: rustc_hash::FxHashSet<&str> = plan
        .renders
        .iter()
        .chain(&plan.deferred)
        .map(|p| p.file.as_str())
        .chain(plan.copies.iter().map(|c| c.file.as_str()))
        .collect();
    let finish = |index: usize,
                  planned: &Planned,
                  rendered: Result<Rendered, Vec<Diagnostic>>|
     -> Result<Done> {
        let rendered = rendered.map_err(Error::Site)?;
        let processed = post.process(&planned.file, &planned.path, rendered.text);
        let bytes = processed.bytes;
        let (size, hash) = (bytes.len() as u64, ContentHash::of(&bytes));
        sink.write(&planned.file, bytes, &hash)?;
        progress.advance();
        let mut deps = rendered.deps;
        deps.extend(processed.deps);
        let ids = id_hashes(&processed.ids);
        let (broken_links, fragment_links) =
            check_own_links(stages, &files, index, &planned.file, processed.links, &ids);
        Ok(Done {
            index,
            size,
            hash,
            deps,
            anchors: rendered.anchors,
            anchor_links: rendered.anchor_links,
            feed_content: rendered.feed_content,
            broken_links,
            fragment_links,
            ids,
        })
    };
    let one = |&i: &usize| {
        if i < renders {
            let planned = &plan.renders[i];
            finish(i, planned, renderer.render(planned))
        } else {
            let copy = &plan.copies[i - renders - deferred];
            let size = match &copy.bytes {
                Some(bytes) => sink
                    .write(&copy.file, bytes.to_vec(), &copy.hash)
                    .map(|()| bytes.len() as u64)?,
                None => sink.copy(&copy.source, &copy.file, &copy.hash)?,
            };
            progress.advance();
            Ok(Done {
                index: i,
                size,
                hash: copy.hash,
                ..Done::default()
            })
        }
    };
    let own = |i: &usize| *i < renders || *i >= renders + deferred;
    // Outputs render in rounds: each takes those that show no copy still being written (the
    // first, nearly all of them, while the queue runs), then waits for more copy to arrive.
    let mut rest: Vec<usize> = selected.iter().copied().filter(own).collect();
    let mut done: Vec<Result<Done>> = Vec::with_capacity(rest.len());
    while !rest.is_empty() {
        let seen = site.generated.changes();
        let (now, later): (Vec<usize>, Vec<usize>) = if site.generated.any_waiting() {
            rest.into_iter().partition(|i| {
                !plan
                    .renders
                    .get(*i)
                    .is_some_and(|r| shows_waiting_copy(site, &r.output))
            })
        } else {
            (rest, Vec::new())
        };
        if now.is_empty() {
            site.generated.wait_change(seen);
        }
        done.extend(now.par_iter().map(one).collect::<Vec<_>>());
        rest = later;
    }
    let mut problems = Vec::new();
    let mut finished = Vec::with_capacity(done.len());
    for result in done {
        match result {
            Ok(d) => finished.push(d),
            Err(Error::Site(d)) => problems.extend(d),
            Err(other) => return Err(other),
        }
    }
    let mut anchors: HashMap<String, Vec<String>> = finished
        .iter_mut()
        .filter_map(|d| d.anchors.take())
        .collect();
    let links: Vec<(String, AnchorLink)> = finished
        .iter_mut()
        .flat_map(|d| std::mem::take(&mut d.anchor_links))
        .collect();
    // Targets this build did not render still have their headings checked.
    for (_, link) in &links {
        if anchors.contains_key(&link.target) {
            continue;
        }
        if let Some(ContentRef::Page(id)) = site.by_content_path.get(&link.target)
            && let Ok((_, ids)) = renderer.page_body(*id)
        {
            anchors.insert(link.target.clone(), ids);
        }
    }
    for (from, link) in &links {
        if let Some(d) = check_anchor(site, &anchors, from, link) {
            problems.push(d);
        }
    }
    if !problems.is_empty() {
        return Err(Error::Site(problems));
    }
    let mut contents: HashMap<PageId, String> = finished
        .iter_mut()
        .filter_map(|d| d.feed_content.take())
        .collect();
    let feeds: Vec<usize> = selected
        .iter()
        .copied()
        .filter(|i| (renders..renders + deferred).contains(i))
        .collect();
    if !feeds.is_empty() {
        // Feed pages this build did not render: their content is rendered for the feed only.
        let missing: Vec<PageId> = plan
            .feed_pages
            .iter()
            .copied()
            .filter(|id| !contents.contains_key(id))
            .collect();
        let bodies: Vec<(PageId, BodyResult)> = missing
            .par_iter()
            .map(|id| (*id, renderer.page_body(*id)))
            .collect();
        for (id, body) in bodies {
            match body {
                Ok((html, _)) => {
                    contents.insert(id, html);
                }
                Err(d) => problems.extend(d),
            }
        }
    }
    let feed_results: Vec<Result<Done>> = feeds
        .par_iter()
        .map(|&i| {
            let planned = &plan.deferred[i - renders];
            finish(i, planned, renderer.render_feed(planned, &contents))
        })
        .collect();
    for result in feed_results {
        match result {
            Ok(d) => finished.push(d),
            Err(Error::Site(d)) => problems.extend(d),
            Err(other) => return Err(other),
        }
    }
    if !problems.is_empty() {
        return Err(Error::Site(problems));
    }
    let broken_links = check_links(stages, &mut finished, output);
    let outputs = finished
        .into_iter()
        .map(|d| (d.index, (d.size, d.hash, d.deps)))
        .collect();
    Ok(Produced {
        outputs,
        broken_links,
    })
}

/// The internal links of output `index` (file `from`, element ids `ids`) that point at no file
/// of the site or at an id `from` lacks, and those with a fragment into another output, left
/// for [`check_links`].
fn check_own_links(
    stages: &Stages<'_>,
    files: &rustc_hash::FxHashSet<&str>,
    index: usize,
    from: &str,
    links: Vec<post::Link>,
    ids: &[u64],
) -> (Vec<Diagnostic>, Vec<FragmentLink>) {
    let mut broken = Vec::new();
    let mut later = Vec::new();
    for link in links {
        let path = percent_decode(&link.path);
        let candidates = if path.ends_with('/') {
            vec![format!("{}index.html", &path[1..])]
        } else {
            vec![path[1..].to_owned(), format!("{}/index.html", &path[1..])]
        };
        let Some(target) = candidates.into_iter().find(|c| files.contains(c.as_str())) else {
            broken.push(
                Diagnostic::warning(format!(
                    "broken link `{}` in {from}: the site has nothing at {path}",
                    link.href
                ))
                .in_file(source_of(stages.site, stages.plan, index, from))
                .with_help("fix the link, or add the page it points at"),
            );
            continue;
        };
        let Some(fragment) = link.fragment else {
            continue;
        };
        let fragment = percent_decode(&fragment);
        if !target.ends_with(".html") || fragment == "top" {
            continue;
        }
        if target != from {
            later.push(FragmentLink {
                href: link.href,
                target,
                fragment,
            });
        } else if ids.binary_search(&id_hash(&fragment)).is_err() {
            broken.push(missing_id(
                stages, index, from, &link.href, &target, &fragment,
            ));
        }
    }
    (broken, later)
}

/// The warning for a link whose `target` has no element with id `fragment`.
fn missing_id(
    stages: &Stages<'_>,
    index: usize,
    from: &str,
    href: &str,
    target: &str,
    fragment: &str,
) -> Diagnostic {
    Diagnostic::warning(format!(
        "broken link `{href}` in {from}: {target} has no element with id `{fragment}`"
    ))
    .in_file(source_of(stages.site, stages.plan, index, from))
    .with_help("fix the fragment, or give the target element that id")
}

/// The broken links of the outputs `finished`: those each found itself, and links with a
/// fragment into another output that lacks the id. Targets this build did not render are read
/// from `output`.
fn check_links(stages: &Stages<'_>, finished: &mut [Done], output: &Path) -> Vec<Diagnostic> {
    let plan = stages.plan;
    let all = plan.renders.len() + plan.deferred.len();
    let file_of = |i: usize| {
        if i < all {
            plan.renders
                .get(i)
                .unwrap_or_else(|| &plan.deferred[i - plan.renders.len()])
                .file
                .as_str()
        } else {
            plan.copies[i - all].file.as_str()
        }
    };
    let mut problems: Vec<Diagnostic> = finished
        .iter_mut()
        .flat_map(|d| std::mem::take(&mut d.broken_links))
        .collect();
    let by_file: rustc_hash::FxHashMap<&str, usize> = finished
        .iter()
        .enumerate()
        .map(|(at, d)| (file_of(d.index), at))
        .collect();
    let mut read: rustc_hash::FxHashMap<String, Vec<u64>> = Default::default();
    for done in finished.iter() {
        let from = file_of(done.index);
        for link in &done.fragment_links {
            let ids = match by_file.get(link.target.as_str()) {
                Some(&at) => &finished[at].ids,
                None => read.entry(link.target.clone()).or_insert_with(|| {
                    std::fs::read_to_string(output.join(&link.target))
                        .map(|html| id_hashes(&post::ids_of(&html)))
                        .unwrap_or_default()
                }),
            };
            if ids.binary_search(&id_hash(&link.fragment)).is_err() {
                problems.push(missing_id(
                    stages,
                    done.index,
                    from,
                    &link.href,
                    &link.target,
                    &link.fragment,
                ));
            }
        }
    }
    problems.sort_by(|a, b| a.message.cmp(&b.message));
    problems
}

/// The file a problem of output `index` is reported in: a page's or section's source, or the
/// output itself.
fn source_of(site: &Site, plan: &BuildPlan, index: usize, file: &str) -> PathBuf {
    match plan.renders.get(index).map(|r| &r.output) {
        Some(Output::Page(id)) if site.page(*id).doc.has_file => {
            PathBuf::from("content").join(&site.page(*id).doc.relative_path)
        }
        Some(Output::Section { id, .. }) if site.section(*id).doc.has_file => {
            PathBuf::from("content").join(&site.section(*id).doc.relative_path)
        }
        _ => PathBuf::from(file),
    }
}

/// `%XX` escapes decoded (invalid ones kept as they are).
fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

/// An error when `link` (from the page at content path `from`) names an anchor its target lacks.
fn check_anchor(
    site: &Site,
    anchors: &HashMap<String, Vec<String>>,
    from: &str,
    link: &AnchorLink,
) -> Option<Diagnostic> {
    let known = anchors.get(&link.target)?;
    if known.contains(&link.anchor) {
        return None;
    }
    let file = site.root.join("content").join(from);
    let display = PathBuf::from("content").join(from);
    let message = format!(
        "broken internal link `@/{}#{}`: `{}` has no heading with that id",
        link.target, link.anchor, link.target
    );
    let d = match std::fs::read_to_string(&file) {
        Ok(text) => {
            let body_offset = crate::load::front_matter::split(&text).map_or(0, |s| s.body_offset);
            Diagnostic::error(message).at_offset(&display, &text, body_offset + link.offset)
        }
        Err(_) => Diagnostic::error(message).in_file(&display),
    };
    let ids = if known.is_empty() {
        "none".to_owned()
    } else {
        known.join(", ")
    };
    Some(d.with_help(format!(
        "the headings of `{}` have the ids: {ids}",
        link.target
    )))
}

/// Minor page faults of the process so far, for the phase log: at 10,000 pages, faulting in
/// fresh memory is a fifth of an incremental build's time.
fn faults() -> u64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| {
            // The fields after the command name; minflt is the 10th field of the line.
            let fields = stat.rsplit(')').next()?;
            fields.split_whitespace().nth(7)?.parse().ok()
        })
        .unwrap_or(0)
}
