//! The driver: the only place that knows the order of the stages.
//!
//! config → load → plan → compile templates → (render → post → emit) per output, in parallel →
//! anchor checks → feeds → swap. Per-page problems are collected; a stage that reported errors
//! stops the build before anything is swapped in, so a failed build writes nothing.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use rayon::prelude::*;
use serde::Serialize;

use crate::diagnostics::{self, Diagnostic, Error, Result};
use crate::emit::{Sink, Staging};
use crate::load::site::{PageId, Site};
use crate::markdown::AnchorLink;
use crate::plan::{self, Planned};
use crate::render::{Rendered, Renderer, Templates};
use crate::{config, load, post};

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
}

/// Progress of the render stage, for a progress bar.
pub trait Progress: Sync {
    /// `total` outputs are about to be produced.
    fn start(&self, total: usize);
    /// One more is done.
    fn advance(&self);
}

/// No progress display.
#[derive(Debug, Clone, Copy, Default)]
pub struct Quiet;

impl Progress for Quiet {
    fn start(&self, _: usize) {}
    fn advance(&self) {}
}

/// The summary of a successful build.
#[derive(Debug, Clone, Serialize)]
pub struct BuildReport {
    /// Pages built.
    pub pages: usize,
    /// Sections built (the home page included).
    pub sections: usize,
    /// Files written (or, for `check`, that would be).
    pub files_written: usize,
    /// Wall time of the build.
    pub duration_ms: u128,
    /// Errors (none in a successful build; kept for the JSON shape).
    pub errors: Vec<Diagnostic>,
    /// Warnings.
    pub warnings: Vec<Diagnostic>,
    /// The output folder.
    #[serde(skip)]
    pub output: PathBuf,
}

/// Builds (or checks) the site described by `options`.
pub fn build(options: &Options, progress: &dyn Progress) -> Result<BuildReport> {
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

    let (site, load_warnings) =
        load::load(root, config, &file, options.drafts).map_err(|e| with_warnings(e, &warnings))?;
    warnings.extend(load_warnings);
    tracing::info!(pages = site.pages.len(), elapsed = ?started.elapsed(), "loaded");
    let site = Arc::new(site);
    let plan = plan::plan(&site).map_err(|e| with_warnings(e, &warnings))?;
    let templates =
        Arc::new(Templates::compile(&site).map_err(|d| with_warnings(Error::Site(d), &warnings))?);
    let renderer = Renderer::new(Arc::clone(&site), templates, plan.feed_pages.clone());
    let missing = renderer.missing_templates();
    if !missing.is_empty() {
        return Err(with_warnings(Error::Site(missing), &warnings));
    }

    tracing::info!(outputs = plan.renders.len(), elapsed = ?started.elapsed(), "planned and compiled templates");
    let sink = if options.write {
        Sink::Staging(Staging::new(&output)?)
    } else {
        Sink::Discard(Default::default())
    };
    match produce(&site, &plan, &renderer, &sink, progress) {
        Ok(more) => warnings.extend(more),
        Err(e) => {
            if let Sink::Staging(staging) = sink {
                staging.abort();
            }
            return Err(with_warnings(e, &warnings));
        }
    }
    tracing::info!(elapsed = ?started.elapsed(), "rendered and written");
    let files_written = sink.files_written();
    if let Sink::Staging(staging) = sink {
        staging.commit()?;
    }
    diagnostics::sort(&mut warnings);
    Ok(BuildReport {
        pages: site.pages.len(),
        sections: site.sections.len(),
        files_written,
        duration_ms: started.elapsed().as_millis(),
        errors: Vec::new(),
        warnings,
        output,
    })
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

/// One finished output: what the later checks need from it.
#[derive(Default)]
struct Done {
    anchors: Option<(String, Vec<String>)>,
    anchor_links: Vec<(String, AnchorLink)>,
    feed_content: Option<(PageId, String)>,
    warnings: Vec<Diagnostic>,
}

/// Renders, post-processes and writes every output; returns the warnings.
fn produce(
    site: &Site,
    plan: &plan::BuildPlan,
    renderer: &Renderer,
    sink: &Sink,
    progress: &dyn Progress,
) -> Result<Vec<Diagnostic>> {
    progress.start(plan.renders.len() + plan.copies.len() + plan.deferred.len());
    let minify = site.config.minify;
    let finish = |planned: &Planned, rendered: Result<Rendered, Vec<Diagnostic>>| -> Result<Done> {
        let rendered = rendered.map_err(Error::Site)?;
        let bytes = post::process(&planned.file, rendered.text, minify);
        sink.write(&planned.file, &bytes)?;
        progress.advance();
        Ok(Done {
            anchors: rendered.anchors,
            anchor_links: rendered.anchor_links,
            feed_content: rendered.feed_content,
            warnings: rendered.warnings,
        })
    };
    let done: Vec<Result<Done>> = plan
        .renders
        .par_iter()
        .map(|p| finish(p, renderer.render(p)))
        .collect();
    let copied: Vec<Result<()>> = plan
        .copies
        .par_iter()
        .map(|c| {
            sink.copy(&c.source, &c.file)?;
            progress.advance();
            Ok(())
        })
        .collect();
    let mut problems = Vec::new();
    let mut finished = Vec::with_capacity(done.len());
    for result in done
        .into_iter()
        .chain(copied.into_iter().map(|r| r.map(|()| Done::default())))
    {
        match result {
            Ok(d) => finished.push(d),
            Err(Error::Site(d)) => problems.extend(d),
            Err(other) => return Err(other),
        }
    }
    let mut warnings: Vec<Diagnostic> = finished
        .iter_mut()
        .flat_map(|d| std::mem::take(&mut d.warnings))
        .collect();
    let anchors: HashMap<String, Vec<String>> = finished
        .iter_mut()
        .filter_map(|d| d.anchors.take())
        .collect();
    for (from, link) in finished.iter().flat_map(|d| &d.anchor_links) {
        if let Some(d) = check_anchor(site, &anchors, from, link) {
            problems.push(d);
        }
    }
    if !problems.is_empty() {
        problems.append(&mut warnings);
        return Err(Error::Site(problems));
    }
    let contents: HashMap<PageId, String> = finished
        .into_iter()
        .filter_map(|d| d.feed_content)
        .collect();
    let feeds: Vec<Result<Done>> = plan
        .deferred
        .par_iter()
        .map(|p| finish(p, renderer.render_feed(p, &contents)))
        .collect();
    for result in feeds {
        match result {
            Ok(_) => {}
            Err(Error::Site(d)) => problems.extend(d),
            Err(other) => return Err(other),
        }
    }
    if problems.is_empty() {
        Ok(warnings)
    } else {
        problems.append(&mut warnings);
        Err(Error::Site(problems))
    }
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
