//! The driver: the only place that knows the order of the stages.
//!
//! ```text
//! prepare: config → walk → (stamp: nothing changed?) → load → plan → generate (started)
//!          → plan the increment: what to render, keep and delete, and why
//! finish:  (render → post → emit) per output, in parallel → the processed images they asked
//!          for, made in parallel → state (commit) → edge files
//! ```
//!
//! A build is prepared, then finished: `sitegen rebuild` reads the changed fraction of a
//! [`Prepared`] build before it decides to finish it. Each stage reports all its problems; one
//! that reported errors stops the build before the output is touched, so a failed build
//! writes nothing. The caller holds the site lock (see `command`).

mod images;
mod ready;
mod report;
mod resident;
mod setup;
mod stream;

use std::sync::Arc;
use std::time::Instant;

use crate::diagnostics::{Diagnostic, Result};
use crate::generate::copy::CopySet;
use crate::generate::stage::{self as generate, GenerationReport, Running};
use crate::load::walk::SourceFiles;
use crate::plan::diff::OutputFolder;
use crate::plan::incremental::{Baseline, BuildPlan};
use crate::render::{Renderer, context::View};
use crate::site::Site;
use crate::state::commit;
use crate::state::manifest::Manifest;
use crate::state::stamp::Stamp;
use crate::{load, plan, post};
pub use report::{BuildReport, Progress, Quiet, Rebuilt, percent};
pub use resident::Resident;
pub use setup::Options;
use setup::{Prior, Setup, with_warnings};

/// A build prepared up to its first write.
pub(crate) enum Prepared {
    /// Nothing the last build read or wrote changed: its stamp says so.
    Unchanged(Box<(Setup, Stamp, Instant)>),
    /// The site is loaded and planned, and its copy on the way.
    Ready(Box<Ready>),
}

impl Prepared {
    /// The share of the site's pages whose inputs changed since the last build.
    pub(crate) fn changed_fraction(&self) -> f64 {
        match self {
            Self::Unchanged(_) => 0.0,
            Self::Ready(ready) => ready.plan.changed_fraction,
        }
    }
}

/// Builds (or, without `options.write`, checks) the site.
pub fn build(
    options: &Options,
    progress: &dyn Progress,
    resident: &mut Resident,
) -> Result<BuildReport> {
    let prepared = prepare(options, resident)?;
    finish(prepared, progress, resident)
}

/// Everything up to the first write: the site loaded and planned, its copy asked for.
pub(crate) fn prepare(options: &Options, resident: &mut Resident) -> Result<Prepared> {
    let started = Instant::now();
    let (setup, config) = Setup::read(options)?;
    let mut prior = Prior::read(&setup, options, resident);
    let sources = resident.sources(&setup.root, setup.theme.folder_name());
    tracing::info!(elapsed = ?started.elapsed(), "walked");
    if let Some(stamp) = prior.unchanged(&setup, &sources) {
        resident.walked(setup.theme.folder_name(), sources);
        return Ok(Prepared::Unchanged(Box::new((setup, stamp, started))));
    }
    let (mut previous, folder) = prior.take(&setup, options, resident);
    tracing::info!(elapsed = ?started.elapsed(), "read the build state");
    let cache = previous.as_mut().map(|m| std::mem::take(&mut m.sources));
    let mut warnings = setup.warnings.clone();
    let cache = cache.unwrap_or_default();
    let loaded = load::load(
        &setup.root,
        config,
        &setup.theme,
        options.drafts,
        cache,
        &sources,
    )
    .map_err(|e| with_warnings(e, &warnings))?;
    warnings.extend(loaded.warnings);
    let (site, changes) = (Arc::new(loaded.site), loaded.changes);
    tracing::info!(elapsed = ?started.elapsed(), pages = site.pages.len(), "loaded");
    let staged = (|| {
        let outputs = plan::plan(&site)?;
        let copy = Arc::new(CopySet::new());
        let asking = generate::Asking {
            state_dir: &setup.state_dir,
            config_file: &setup.config_file,
            write: options.write,
            max_cost: options.max_cost,
        };
        let generation = generate::begin(&site, &copy, &asking, &mut warnings)?;
        let view = View::new(&site, &copy);
        let images = view.images();
        let renderer = Renderer::new(view, &outputs)?;
        let post = post::Post::new(&site, outputs.assets.clone());
        let baseline = Baseline {
            previous: previous.as_ref().map(Manifest::previous),
            interrupted: prior.interrupted.as_ref(),
            folder: &folder,
            write: options.write,
        };
        let plan = BuildPlan::new(
            &site,
            outputs,
            copy.fingerprints(&site),
            &baseline,
            &changes,
        );
        Ok((copy, generation, renderer, images, post, plan))
    })();
    let (copy, generation, renderer, images, post, plan) =
        staged.map_err(|e| with_warnings(e, &warnings))?;
    tracing::info!(elapsed = ?started.elapsed(), changed = plan.changed_fraction, "planned");
    Ok(Prepared::Ready(Box::new(Ready {
        started,
        interrupted: prior.interrupted.is_some(),
        setup,
        options: options.clone(),
        sources,
        site,
        changes,
        previous,
        folder,
        copy,
        generation,
        generated: None,
        waited: false,
        renderer,
        images,
        image_changes: None,
        post,
        plan,
        warnings,
    })))
}

/// Renders, writes and records a prepared build.
pub(crate) fn finish(
    prepared: Prepared,
    progress: &dyn Progress,
    resident: &mut Resident,
) -> Result<BuildReport> {
    let mut ready = match prepared {
        Prepared::Unchanged(unchanged) => {
            let (setup, stamp, started) = *unchanged;
            commit::write_last_build(&setup.state_dir);
            return Ok(BuildReport::unchanged(
                &stamp,
                setup.warnings,
                setup.output,
                started,
            ));
        }
        Prepared::Ready(ready) => ready,
    };
    let sink = ready.sink(resident.is_watched())?;
    let produced = ready.produce(&sink, progress);
    let produced = match ready
        .settle(produced)
        .and_then(|produced| ready.process_images(&sink, &produced).map(|()| produced))
    {
        Ok(produced) => produced,
        Err(e) => {
            sink.abort();
            return Err(with_warnings(e, &ready.warnings));
        }
    };
    tracing::info!(elapsed = ?ready.started.elapsed(), files = sink.files_written(), "rendered");
    let report = ready.record(sink, &produced, resident)?;
    tracing::info!(elapsed = ?ready.started.elapsed(), "done");
    resident.walked(
        ready.setup.theme.folder_name(),
        std::mem::take(&mut ready.sources),
    );
    resident.dispose(ready);
    Ok(report)
}

/// A prepared build: the values `finish` takes through render, post, emit and state.
pub(crate) struct Ready {
    started: Instant,
    /// Whether a stopped build's journal was found.
    interrupted: bool,
    setup: Setup,
    options: Options,
    /// The walk of the source folders.
    sources: SourceFiles,
    site: Arc<Site>,
    /// How the sources compare with the previous build's.
    changes: load::SourceChanges,
    /// The previous build's manifest (its sources cache taken by load).
    previous: Option<Manifest>,
    /// The output folder as the previous build left it.
    folder: OutputFolder,
    copy: Arc<CopySet>,
    /// The generation of copy, when it runs while the site renders.
    generation: Option<Running>,
    /// What generation did, once it is over.
    generated: Option<GenerationReport>,
    /// Whether some copy was still being written when the outputs began to render.
    waited: bool,
    renderer: Renderer,
    /// The images the templates read and asked to be processed.
    images: Arc<crate::assets::images::Images>,
    /// The processed images of the output, once made.
    image_changes: Option<commit::ImageChanges>,
    post: post::Post,
    plan: BuildPlan,
    warnings: Vec<Diagnostic>,
}
