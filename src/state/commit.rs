//! The end of a successful build: the output lands and the build state follows it, in an order
//! that a kill at any moment leaves consistent.
//!
//! 1. The `pending` journal names every file about to be replaced ([`manifest::begin`]).
//! 2. The staged outputs land in the output folder; stale ones are removed.
//! 3. The manifest's changed rows are committed, and the journal removed.
//! 4. Later, once the edge files are written too, the stamp ([`write_stamp`]) lets the next
//!    build see in milliseconds that nothing changed.
//!
//! A build killed before 3 leaves a journal; the next build renders the files it names again.

use std::path::{Path, PathBuf};

use crate::assets::images::{ImageRecord, ImageRecords};
use crate::diagnostics::Result;
use crate::emit::Staging;
use crate::hash::ContentHash;
use crate::load::source::{Freshness, SourceCache, Stat};
use crate::plan::incremental::BuildPlan;
use crate::plan::reason::{Dep, OutputRecord, OutputRecords, Reason};
use crate::site::Site;
use crate::state::manifest::{self, Manifest};
use crate::state::stamp::{self, Stamp};

/// One output this build produced (written, or found unchanged).
#[derive(Debug)]
pub(crate) struct Landed<'a> {
    /// Its index in the plan.
    pub(crate) index: usize,
    /// Bytes written.
    pub(crate) size: u64,
    /// Their hash.
    pub(crate) hash: ContentHash,
    /// What its template functions read.
    pub(crate) deps: &'a [Dep],
}

/// The processed images of the output after this build.
#[derive(Debug, Default)]
pub(crate) struct ImageChanges {
    /// Every file of the output's `processed_images/`.
    pub(crate) records: ImageRecords,
    /// The files of the last build no output asks for any more, removed from the output.
    pub(crate) dropped: Vec<(String, ImageRecord)>,
    /// Whether the records differ from the last build's.
    pub(crate) changed: bool,
    /// The files staged, and how each was had (for `--explain`).
    pub(crate) staged: Vec<(String, &'static str)>,
}

/// What a successful build records.
pub(crate) struct BuildRecord<'a> {
    /// The state folder.
    pub(crate) state_dir: &'a Path,
    /// The site built.
    pub(crate) site: &'a Site,
    /// Its plan.
    pub(crate) plan: &'a BuildPlan,
    /// The outputs produced.
    pub(crate) produced: Vec<Landed<'a>>,
    /// Every source file's stat and parse, for the next build.
    pub(crate) sources: SourceCache,
    /// How each source file compares with the previous build.
    pub(crate) freshness: &'a [(String, Freshness)],
    /// Source files of the previous build that are gone.
    pub(crate) sources_removed: Vec<String>,
    /// Whether the sources' cache differs from the previous one.
    pub(crate) sources_changed: bool,
    /// Whether an interrupted build's journal was found.
    pub(crate) interrupted: bool,
    /// The output folder (absolute).
    pub(crate) output: PathBuf,
    /// Whether drafts were built.
    pub(crate) drafts: bool,
    /// Its processed images (none for a build that made none).
    pub(crate) images: ImageChanges,
}

/// Lands `staging` and commits the build's manifest. Returns the manifest now in the state
/// folder with its generation (the previous one, when nothing changed), for the stamp and for a
/// resident caller.
pub(crate) fn commit(
    staging: Staging,
    record: BuildRecord<'_>,
    previous: Option<Manifest>,
) -> Result<Option<(u64, Manifest)>> {
    let BuildRecord {
        state_dir,
        site,
        plan,
        produced,
        sources,
        freshness,
        sources_removed,
        sources_changed,
        interrupted,
        output,
        drafts,
        images,
    } = record;
    let mut records = OutputRecords::default();
    // The outputs produced, written or found unchanged: their records change.
    let mut recorded: Vec<&str> = Vec::with_capacity(produced.len());
    for p in &produced {
        let file = plan.outputs.file(p.index);
        recorded.push(file);
        let deps = p
            .deps
            .iter()
            .map(|d| (d.clone(), plan.dep_hash(site, d)))
            .collect();
        records.insert(
            file.to_owned(),
            OutputRecord {
                inputs: plan.inputs[p.index],
                deps,
                output: p.hash,
                size: p.size,
                reason: plan.decisions[p.index].clone().unwrap_or(Reason::Full),
            },
        );
    }
    let changed = !recorded.is_empty()
        || !plan.removed.is_empty()
        || sources_changed
        || interrupted
        || images.changed;
    if !changed && let Some(mut previous) = previous {
        staging.abort();
        // Nothing was committed: the manifest read is still the stored one, with the sources
        // cache loading took from it.
        previous.sources = sources;
        return Ok(manifest::generation(state_dir).map(|generation| (generation, previous)));
    }
    // Kept outputs keep their records: when only some were written, the previous records are
    // updated in place (100,000 of them add up), else all are new.
    if let Some(mut previous) = previous.filter(|_| plan.incremental) {
        let mut all = std::mem::take(&mut previous.outputs);
        for file in &plan.removed {
            all.remove(file);
        }
        all.extend(records);
        records = all;
    }
    let mut removed = plan.removed.clone();
    removed.extend(images.dropped.iter().map(|(file, _)| file.clone()));
    // The journal names the files about to be replaced (`None`: all of them).
    let journal = staging.staged().map(|mut staged| {
        staged.extend(removed.iter().cloned());
        staged
    });
    let journal: Option<Vec<&str>> = journal
        .as_ref()
        .map(|files| files.iter().map(String::as_str).collect());
    manifest::begin(state_dir, journal.as_deref())?;
    staging.commit(&removed)?;
    let manifest = Manifest {
        format: manifest::FORMAT,
        engine: env!("CARGO_PKG_VERSION").to_owned(),
        built_at: unix_now(),
        output,
        drafts,
        pages: site.pages.len(),
        sources,
        outputs: records,
        templates: plan.templates.clone(),
        images: images.records,
    };
    let delta = manifest::Delta {
        sources_changed: freshness
            .iter()
            .filter(|(_, f)| *f != Freshness::Unchanged)
            .map(|(key, _)| key.as_str())
            .collect(),
        sources_removed,
        outputs_changed: recorded,
        outputs_removed: &plan.removed,
        images_changed: images.changed,
    };
    let generation = manifest::write(state_dir, &manifest, plan.incremental.then_some(&delta))?;
    manifest::end(state_dir)?;
    crate::assets::images::tidy_cache(state_dir, &manifest.images, &images.dropped);
    Ok(Some((generation, manifest)))
}

/// What the stamp of a successful build records besides its manifest.
pub(crate) struct StampInputs<'a> {
    /// Hash of the effective config, the drafts flag and the output folder.
    pub(crate) config: ContentHash,
    /// The walk of the source folders.
    pub(crate) files: &'a [(String, Stat)],
    /// Whether some output must be rendered on every build (a volatile template, a page whose
    /// copy is pending).
    pub(crate) volatile: bool,
}

/// Writes the stamp of a successful build whose manifest is `manifest` (at `generation`).
pub(crate) fn write_stamp(
    state_dir: &Path,
    site: &Site,
    (generation, manifest): (u64, &Manifest),
    inputs: &StampInputs<'_>,
) {
    let mut outputs: Vec<(String, u64)> = manifest
        .outputs
        .iter()
        .map(|(file, r)| (file.clone(), r.size))
        .chain(
            manifest
                .images
                .iter()
                .map(|(file, r)| (file.clone(), r.size)),
        )
        .collect();
    outputs.sort();
    // Files read through load_data count as sources too, and images found outside the
    // folders the walk sees (or not found, which one may become).
    let data_read = manifest
        .outputs
        .values()
        .flat_map(|r| &r.deps)
        .any(|(dep, _)| match dep {
            Dep::Data(_) => true,
            Dep::Image(image) => image.source.as_deref().is_none_or(|source| {
                !crate::site::layout::input_folders()
                    .any(|folder| source.starts_with(&format!("{folder}/")))
            }),
            _ => false,
        });
    let stamp = Stamp {
        engine: env!("CARGO_PKG_VERSION").to_owned(),
        config: inputs.config,
        files: stamp::files_hash(inputs.files),
        outputs,
        pages: site.pages.len(),
        sections: site.sections.len(),
        volatile: data_read || inputs.volatile,
        generation,
    };
    if let Err(e) = stamp::write(state_dir, &stamp) {
        tracing::warn!("cannot write the build stamp ({e}); the next build reads everything");
    }
}

/// Seconds since the epoch.
pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Records when the last build (even one that had nothing to do) finished.
pub(crate) fn write_last_build(state_dir: &Path) {
    let _ = std::fs::write(state_dir.join("last-build"), format!("{}\n", unix_now()));
}

/// How long ago the last build finished.
pub(crate) fn last_build_age(state_dir: &Path) -> Option<std::time::Duration> {
    let text = std::fs::read_to_string(state_dir.join("last-build")).ok()?;
    let then: i64 = text.trim().parse().ok()?;
    Some(std::time::Duration::from_secs(
        u64::try_from(unix_now() - then).unwrap_or(0),
    ))
}
