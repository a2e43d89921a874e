//! The start of a build: the site's config and theme, where the output goes, and what the last
//! build left (read on threads of their own while the sources are walked).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use crate::build::resident::Resident;
use crate::config::highlighting::inputs_hash;
use crate::config::{self, Config};
use crate::diagnostics::{self, Code, Diagnostic, Error, Result};
use crate::hash::{ContentHash, Fingerprint};
use crate::load::theme::Theme;
use crate::load::walk::SourceFiles;
use crate::plan::diff::{Interrupted, OutputFolder};
use crate::site::layout;
use crate::state::manifest::{self, Manifest};
use crate::state::stamp::{self, Stamp};

/// What to build, from the command line.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The site's folder.
    pub root: std::path::PathBuf,
    /// The config file (`--config`), relative to the root; the first of
    /// [`config::CONFIG_FILES`] there when unset.
    pub config_file: Option<std::path::PathBuf>,
    /// The output folder; the config's `output_dir` under the root when unset.
    pub output: Option<std::path::PathBuf>,
    /// Whether drafts are built.
    pub drafts: bool,
    /// `--set key=value` overrides of the config.
    pub overrides: Vec<String>,
    /// Whether to write the output (`build`) or only check everything (`check`).
    pub write: bool,
    /// Ignore the previous build's state (`--full`).
    pub full: bool,
    /// Most USD the build's generation may spend (`--max-cost`), over the config's.
    pub max_cost: Option<f64>,
    /// Fail when any generated field got fallback copy (`--strict`).
    pub strict: bool,
}

/// The site and where its build goes, resolved from the options.
#[derive(Debug)]
pub(crate) struct Setup {
    /// The site's folder.
    pub(crate) root: PathBuf,
    /// The file the config came from, relative to the root.
    pub(crate) config_file: PathBuf,
    /// Warnings about the config.
    pub(crate) warnings: Vec<Diagnostic>,
    /// Its theme.
    pub(crate) theme: Theme,
    /// The output folder.
    pub(crate) output: PathBuf,
    /// The output folder, absolute (recorded in the build state).
    pub(crate) output_abs: PathBuf,
    /// The state folder (`.sitegen/`).
    pub(crate) state_dir: PathBuf,
    /// Hash of the effective config, the drafts flag and the output folder.
    pub(crate) config_hash: ContentHash,
}

impl Setup {
    /// Reads the config of the site of `options` and resolves its theme and output folder.
    pub(crate) fn read(options: &Options) -> Result<(Self, Config)> {
        let root = options.root.clone();
        if !root.is_dir() {
            return Err(Error::Usage(format!(
                "the site folder `{}` does not exist",
                root.display()
            )));
        }
        let config::Configured {
            config,
            file,
            warnings,
        } = config::load(&root, options.config_file.as_deref(), &options.overrides)?;
        let mut config = config;
        let theme = Theme::resolve(&root, config.theme.as_deref(), &file)
            .map_err(|d| Error::Config(Box::new(d)))?;
        theme
            .merge_extra(&root, &mut config.extra)
            .map_err(|d| Error::Config(Box::new(d)))?;
        let output = options
            .output
            .clone()
            .unwrap_or_else(|| root.join(&config.output_dir));
        check_output_folder(&root, &output)?;
        let output_abs = std::path::absolute(&output).map_err(|e| Error::io(&output, e))?;
        let config_hash = Fingerprint::new("effective-config")
            .json(&config)
            // Not in `config`'s own serialization (templates see them through
            // `template_value_for`), and every page may read them.
            .json(&config.languages)
            .json(&config.translations)
            .num(u64::from(options.drafts))
            // Kept out of templates' `config` (as in Zola), but it decides what is built.
            .num(u64::from(config.compile_sass))
            .str(&output_abs.to_string_lossy())
            .hash(&inputs_hash(config.markdown.highlighting.as_ref()))
            .finish();
        // A build that writes keeps its state in the state folder, made on first use.
        let state_dir = if options.write {
            crate::state::ensure(&root)?
        } else {
            crate::state::dir(&root)
        };
        let setup = Self {
            state_dir,
            root,
            config_file: file,
            warnings,
            theme,
            output,
            output_abs,
            config_hash,
        };
        Ok((setup, config))
    }
}

/// What the last build left: its manifest (read on a thread of its own, unless a resident
/// caller kept it), its stamp, the journal of a build that was stopped, and the check of its
/// output files (on another thread, while the site loads).
pub(crate) struct Prior {
    /// The manifest being read, and the flag that gives the read up.
    reading: Option<(JoinHandle<Option<Manifest>>, Arc<AtomicBool>)>,
    /// Whether the manifest is wanted at all (a `--full` build or a check needs none).
    wanted: bool,
    /// The stamp, when the no-op check can trust it.
    stamp: Option<Stamp>,
    /// The files a stopped build was replacing (`Some(None)`: all of them).
    pub(crate) interrupted: Option<Interrupted>,
}

impl Prior {
    /// Starts reading what the last build of `setup` left.
    pub(crate) fn read(setup: &Setup, options: &Options, resident: &Resident) -> Self {
        let wanted = options.write && !options.full;
        let reading = (wanted && !resident.has_manifest())
            .then(|| {
                let state_dir = setup.state_dir.clone();
                let unwanted = Arc::new(AtomicBool::new(false));
                let flag = Arc::clone(&unwanted);
                std::thread::Builder::new()
                    .name("state".into())
                    .spawn(move || manifest::read_unless(&state_dir, &flag))
                    .ok()
                    .map(|thread| (thread, unwanted))
            })
            .flatten();
        let interrupted = manifest::pending(&setup.state_dir);
        let stamp = (wanted && interrupted.is_none())
            .then(|| stamp::read(&setup.state_dir))
            .flatten();
        Self {
            reading,
            wanted,
            stamp,
            interrupted,
        }
    }

    /// The stamp, when nothing the last build read (`sources`) or wrote changed since.
    pub(crate) fn unchanged(&mut self, setup: &Setup, sources: &SourceFiles) -> Option<Stamp> {
        self.stamp.as_ref().filter(|s| {
            stamp::unchanged(
                s,
                &setup.state_dir,
                &setup.config_hash,
                &sources.files,
                &setup.output,
            )
        })?;
        if let Some((_, unwanted)) = &self.reading {
            unwanted.store(true, Ordering::Relaxed);
        }
        self.stamp.take()
    }

    /// The last build's manifest, when it built into the same output the same way; and the
    /// output folder, whose files the last build wrote are checked on a thread of their own
    /// while the site loads. The stamp is cleared: until this build succeeds, the next one
    /// takes the ordinary path.
    pub(crate) fn take(
        &mut self,
        setup: &Setup,
        options: &Options,
        resident: &mut Resident,
    ) -> (Option<Manifest>, OutputFolder) {
        stamp::clear(&setup.state_dir);
        let folder = match self.stamp.take() {
            Some(stamp) => OutputFolder::check_in_background(&setup.output, stamp.outputs),
            None => OutputFolder::new(&setup.output),
        };
        let kept = resident.take_manifest(&setup.state_dir);
        let manifest = if self.wanted {
            kept.or_else(|| match self.reading.take() {
                Some((thread, _)) => thread.join().ok().flatten(),
                None => manifest::read(&setup.state_dir),
            })
            .filter(|m| m.output == setup.output_abs && m.drafts == options.drafts)
        } else {
            None
        };
        (manifest, folder)
    }
}

/// Adds the warnings found so far to a site's errors, so the report lists both.
pub(crate) fn with_warnings(error: Error, warnings: &[Diagnostic]) -> Error {
    match error {
        Error::Site(mut all) => {
            all.extend(warnings.iter().cloned());
            diagnostics::sort(&mut all);
            Error::Site(collapse_repeats(all))
        }
        other => other,
    }
}

/// One broken template fails every page that uses it: each place in a template that failed is
/// reported once, with a count.
fn collapse_repeats(all: Vec<Diagnostic>) -> Vec<Diagnostic> {
    let mut kept: Vec<Diagnostic> = Vec::with_capacity(all.len());
    let mut repeats: HashMap<diagnostics::Location, (usize, usize)> = HashMap::new();
    for d in all {
        let Some(place) = d.location.clone().filter(|_| d.code == Some(Code::Render)) else {
            kept.push(d);
            continue;
        };
        if let Some((_, count)) = repeats.get_mut(&place) {
            *count += 1;
        } else {
            repeats.insert(place, (kept.len(), 0));
            kept.push(d);
        }
    }
    for (index, count) in repeats.into_values() {
        if count > 0 {
            let _ = write!(
                kept[index].message,
                " (and {count} more output(s) with the same error)"
            );
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
    let sources = layout::SOURCE_FOLDERS
        .iter()
        .chain(&[layout::THEMES, crate::state::DIR])
        .map(|d| root_abs.join(d));
    if root_abs.starts_with(&output_abs) || sources.into_iter().any(|s| output_abs.starts_with(s)) {
        return Err(Error::Usage(format!(
            "refusing to write the site into `{}`: it holds the site's own files, which the build would replace",
            output.display()
        )));
    }
    Ok(())
}
