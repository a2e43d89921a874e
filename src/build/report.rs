//! What a build reports: its summary ([`BuildReport`]), and its progress while it runs.

use std::path::PathBuf;
use std::time::Instant;

use serde::Serialize;

use crate::diagnostics::Diagnostic;
use crate::generate::stage::{GenerationReport, GenerationStatus};
use crate::state::stamp::Stamp;

/// Progress of the render stage, for a progress bar.
pub trait Progress: Sync {
    /// `total` outputs are about to be produced.
    fn start(&self, total: usize);
    /// One more is done.
    fn advance(&self);
    /// Where the generation of copy stands (called a few times a second while it runs).
    fn generation(&self, _status: &GenerationStatus) {}
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
    pub(crate) errors: Vec<Diagnostic>,
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
    /// Sass stylesheets compiled by this build (the others' CSS was the last build's).
    pub stylesheets_compiled: usize,
    /// Every output written, with the reason (`--explain`).
    pub rebuilt: Vec<Rebuilt>,
    /// What generation did, when the site has generated fields.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generation: Option<GenerationReport>,
    /// The output folder.
    #[serde(skip)]
    pub output: PathBuf,
}

impl BuildReport {
    /// The report of a build that found nothing changed since the last one (`stamp`).
    pub(crate) fn unchanged(
        stamp: &Stamp,
        warnings: Vec<Diagnostic>,
        output: PathBuf,
        started: Instant,
    ) -> Self {
        Self {
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
            stylesheets_compiled: 0,
            rebuilt: Vec::new(),
            generation: None,
            output,
        }
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
