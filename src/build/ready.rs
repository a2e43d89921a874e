//! The steps of [`super::finish`], in order: where the outputs go ([`Ready::sink`]), the
//! stream through render, post and emit ([`Ready::produce`]), the end of generation and the
//! checks that can still fail the build ([`Ready::settle`]), and the record of what was built
//! ([`Ready::record`]).

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::build::stream::{self, Produced, Stages};
use crate::build::{BuildReport, Progress, Ready, Rebuilt, Resident};
use crate::diagnostics::{self, Code, Diagnostic, Error, Result};
use crate::emit::{self, MEMORY_BUDGET, Sink, Staging};
use crate::plan::Output;
use crate::plan::reason::Reason;
use crate::site::PageId;
use crate::state::commit::{self, BuildRecord, StampInputs};

impl Ready {
    /// Where the outputs go: nowhere for a check; a new tree for a clean build, swapped in at
    /// the end; for an incremental build, memory (or a staging folder past a budget) from which
    /// each changed file is written over its old copy. A `watched` site is being served: the
    /// preview's file server reads its files while a build writes them, so they are replaced
    /// whole (staged on disk, renamed over), never written in place.
    pub(super) fn sink(&self, watched: bool) -> Result<Sink> {
        let output = &self.setup.output;
        if !self.options.write {
            return Ok(Sink::Discard(std::sync::atomic::AtomicUsize::default()));
        }
        let staging = match self.previous.as_ref().filter(|_| self.plan.incremental) {
            Some(previous) => {
                let intact = self.plan.intact(&previous.outputs, &self.folder);
                let budget = if watched { 0 } else { MEMORY_BUDGET };
                Staging::flat(output, intact, budget)?
            }
            None => Staging::new(output)?,
        };
        let config = &self.site.config;
        Ok(Sink::Staging(staging.with_zola_options(
            config.hard_link_static,
            config.preserve_dotfiles_in_output,
        )))
    }

    /// Streams the selected outputs through render, post and emit, while the generation of
    /// copy (if any is still running) shows its progress.
    pub(super) fn produce(&mut self, sink: &Sink, progress: &dyn Progress) -> Result<Produced> {
        self.waited = self.copy.any_waiting();
        if let Some(running) = &self.generation {
            let rendered: HashSet<PageId> = self
                .plan
                .selected
                .iter()
                .filter_map(
                    |i| match self.plan.outputs.renders.get(*i).map(|r| &r.output) {
                        Some(Output::Page(id)) => Some(*id),
                        _ => None,
                    },
                )
                .collect();
            if let Err(e) = running.trace_used(&rendered) {
                tracing::warn!("{e}");
            }
        }
        let stages = Stages {
            site: &self.site,
            copy: &self.copy,
            plan: &self.plan,
            renderer: &self.renderer,
            post: &self.post,
            sink,
            output: &self.setup.output,
        };
        match &self.generation {
            Some(running) if !running.is_idle() => {
                let rendering = AtomicBool::new(true);
                std::thread::scope(|scope| {
                    scope.spawn(|| {
                        while rendering.load(Ordering::Relaxed) {
                            progress.generation(&running.status());
                            std::thread::sleep(Duration::from_millis(200));
                        }
                    });
                    let produced = stream::produce(&stages, progress);
                    rendering.store(false, Ordering::Relaxed);
                    produced
                })
            }
            _ => stream::produce(&stages, progress),
        }
    }

    /// Waits for the generation of copy to end, and fails the build for what must fail it:
    /// copy that fell back under `--strict`, broken links under `check` and `--strict`.
    /// Outputs that showed copy still being written are recorded with the copy they got.
    pub(super) fn settle(&mut self, produced: Result<Produced>) -> Result<Produced> {
        let report = self
            .generation
            .take()
            .map(super::super::generate::stage::Running::finish)
            .transpose()?;
        if let Some(report) = &report {
            for (class, (budget, jobs)) in &report.over_budget {
                self.warnings.push(
                    Diagnostic::warning(format!(
                        "{jobs} generated field(s) of class `{class}` got fallback copy: over the budget {budget}"
                    ))
                    .with_help("raise the budget in [generate.classes] or --max-cost; the next build retries them")
                    .with_code(Code::OverBudget),
                );
            }
            if report.breaker_opened {
                self.warnings.push(Diagnostic::warning(
                    "the provider kept failing: its circuit breaker opened and the remaining fields got fallback copy",
                ).with_help("see `sitegen stats` for the errors; the next build retries them"));
            }
            if self.options.strict && report.fallbacks > 0 {
                return Err(Error::Site(vec![
                    Diagnostic::error(format!(
                        "{} generated fields got fallback copy ({} failed); --strict allows none",
                        report.fallbacks, report.failures
                    ))
                    .with_help(
                        "see `sitegen stats` for what failed; their answers that arrived are kept in the cache",
                    ),
                ]));
            }
        }
        self.generated = report;
        if self.waited {
            self.plan
                .rehash(&self.site, self.copy.fingerprints(&self.site));
        }
        let mut produced = produced?;
        // Broken links are warnings of a build, errors of `check` and of `--strict`.
        if !produced.broken_links.is_empty() && (!self.options.write || self.options.strict) {
            let errors = produced
                .broken_links
                .into_iter()
                .map(Diagnostic::into_error)
                .collect();
            return Err(Error::Site(errors));
        }
        self.warnings.append(&mut produced.broken_links);
        self.warnings
            .extend(crate::config::highlighting::unknown_languages(
                self.site.config.markdown.highlighting.as_ref(),
            ));
        Ok(produced)
    }

    /// Lands the outputs, commits the build state, writes the edge platforms' files and the
    /// stamp, and reports.
    pub(super) fn record(
        &mut self,
        sink: Sink,
        produced: &Produced,
        resident: &mut Resident,
    ) -> Result<BuildReport> {
        let plan = &self.plan;
        let files_written = sink.files_written();
        let mut rebuilt = Vec::with_capacity(produced.written.len());
        if let Sink::Staging(staging) = sink {
            for w in &produced.written {
                // Outputs written again only because the whole tree was swapped are not rebuilds.
                if plan.decisions[w.index].is_some() || self.previous.is_none() {
                    let reason = plan.decisions[w.index].clone().unwrap_or(Reason::Full);
                    rebuilt.push(Rebuilt {
                        file: plan.outputs.file(w.index).to_owned(),
                        reason: reason.to_string(),
                    });
                }
            }
            let mut images = self.image_changes.take().unwrap_or_default();
            rebuilt.extend(images.staged.drain(..).map(|(file, how)| Rebuilt {
                file,
                reason: how.to_owned(),
            }));
            let state_dir = &self.setup.state_dir;
            let record = BuildRecord {
                state_dir,
                site: &self.site,
                plan,
                produced: produced
                    .written
                    .iter()
                    .map(stream::Written::record)
                    .collect(),
                sources: std::mem::take(&mut self.changes.cache),
                freshness: &self.changes.freshness,
                sources_removed: std::mem::take(&mut self.changes.removed_sources),
                sources_changed: self.changes.cache_changed,
                interrupted: self.interrupted,
                output: self.setup.output_abs.clone(),
                drafts: self.options.drafts,
                images,
            };
            let committed = commit::commit(staging, record, self.previous.take())?;
            tracing::info!(elapsed = ?self.started.elapsed(), "committed");
            // Edge platforms' files, beside the outputs and outside the manifest; the stamp
            // follows them, so a build stopped meanwhile is followed by one that writes them.
            emit::edge::emit(
                &self.site,
                &self.copy,
                &self.setup.output,
                &mut self.warnings,
            )
            .map_err(|e| super::setup::with_warnings(e, &self.warnings))?;
            if let Some((generation, manifest)) = &committed {
                let inputs = StampInputs {
                    config: self.setup.config_hash,
                    files: &self.sources.files,
                    // Files a stylesheet read outside the walked folders are seen only by
                    // the ordinary path.
                    volatile: plan.volatile
                        || !self.copy.pending().is_empty()
                        || self.changes.reads_outside,
                };
                commit::write_stamp(state_dir, &self.site, (*generation, manifest), &inputs);
            }
            resident.keep_manifest(committed);
            commit::write_last_build(state_dir);
        }
        diagnostics::sort(&mut self.warnings);
        rebuilt.sort_by(|a, b| a.file.cmp(&b.file));
        let pages_rendered = plan.selected.iter().filter(|i| plan.is_page(**i)).count();
        Ok(BuildReport {
            pages: self.site.pages.len(),
            sections: self.site.sections.len(),
            files_written,
            duration_ms: self.started.elapsed().as_millis(),
            errors: Vec::new(),
            warnings: std::mem::take(&mut self.warnings),
            pages_rendered,
            pages_reused: (0..plan.outputs.len()).filter(|i| plan.is_page(*i)).count()
                - pages_rendered,
            outputs_removed: if self.options.write {
                plan.removed.len()
            } else {
                0
            },
            changed_fraction: plan.changed_fraction,
            stylesheets_compiled: self.changes.stylesheets_compiled,
            rebuilt,
            generation: self.generated.take(),
            output: self.setup.output.clone(),
        })
    }
}
