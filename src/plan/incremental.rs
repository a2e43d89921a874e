//! Incremental selection: which outputs this build renders, which it keeps, which it deletes,
//! why, and how much of the site changed.
//!
//! Every output's inputs are hashed ([`super::hash`]) and compared with what the previous
//! build recorded ([`super::diff`]); the result is one [`BuildPlan`], which the driver follows
//! and `sitegen rebuild` reads the changed fraction of. Pure but for the output folder's stat
//! calls (an output deleted by hand is rendered again).

use std::collections::{HashMap, HashSet};

use rayon::prelude::*;

use crate::hash::ContentHash;
use crate::load::SourceChanges;
use crate::load::source::Freshness;
use crate::plan::diff::{self, Interrupted, Item, OutputFolder, Previous};
use crate::plan::hash::{self as input_hash, Fingerprints};
use crate::plan::output::{Output, Outputs, template_of};
use crate::plan::reason::{Dep, Inputs, OutputRecords, Reason};
use crate::site::{ContentRef, Site};

/// How the build relates to the previous one.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Baseline<'a> {
    /// The previous build's records; `None`: everything is rendered.
    pub(crate) previous: Option<Previous<'a>>,
    /// The files a stopped build was replacing (`Some(None)`: all of them).
    pub(crate) interrupted: Option<&'a Interrupted>,
    /// The output folder as the previous build left it.
    pub(crate) folder: &'a OutputFolder,
    /// Whether this build writes (`sitegen check` renders everything and writes nothing).
    pub(crate) write: bool,
}

/// The plan of one build: its outputs, what each is made from, which to render and why.
#[derive(Debug)]
pub(crate) struct BuildPlan {
    /// Every output of the site.
    pub(crate) outputs: Outputs,
    /// The listing fingerprints of the pages and the hashes of the templates.
    pub(crate) fingerprints: Fingerprints,
    /// Per output (renders, deferred, copies), the hashes of its inputs.
    pub(crate) inputs: Vec<Inputs>,
    /// Per output, why it is rendered (`None`: its file is kept).
    pub(crate) decisions: Vec<Option<Reason>>,
    /// The outputs this build produces, by index: the changed ones when it updates an output
    /// folder in place, all of them otherwise.
    pub(crate) selected: Vec<usize>,
    /// Files of the previous build that no output produces any more.
    pub(crate) removed: Vec<String>,
    /// The share of pages whose inputs changed (1 without a previous build).
    pub(crate) changed_fraction: f64,
    /// Whether the build updates the previous output in place (else it writes a new tree).
    pub(crate) incremental: bool,
    /// Whether a template of an output reads the clock or the environment.
    pub(crate) volatile: bool,
    /// Every template's source hash, for the next build's explanations.
    pub(crate) templates: HashMap<String, ContentHash>,
}

impl BuildPlan {
    /// Plans the build of `outputs` against `baseline`, with the current `fingerprints`.
    pub(crate) fn new(
        site: &Site,
        outputs: Outputs,
        fingerprints: Fingerprints,
        baseline: &Baseline<'_>,
        changes: &SourceChanges,
    ) -> Self {
        let templates = template_hashes(site);
        let items = items(site, &outputs, &fingerprints);
        let incremental = baseline.previous.is_some() && baseline.folder.exists();
        let dep_hash = |dep: &Dep| input_hash::dep_hash(site, &fingerprints, dep);
        let diff = diff::diff(
            baseline.previous.as_ref().filter(|_| incremental),
            baseline.interrupted,
            baseline.folder,
            &items,
            &templates,
            &dep_hash,
        );
        let changed_fraction = changed_fraction(
            site,
            &outputs,
            &diff.decisions,
            baseline.previous.as_ref(),
            changes,
        );
        let selected = if baseline.write && incremental {
            (0..items.len())
                .filter(|i| diff.decisions[*i].is_some())
                .collect()
        } else {
            (0..items.len()).collect()
        };
        let volatile = items.iter().any(|i| i.volatile);
        let inputs = items.iter().map(|i| i.inputs).collect();
        drop(items);
        Self {
            outputs,
            fingerprints,
            inputs,
            decisions: diff.decisions,
            selected,
            removed: diff.removed,
            changed_fraction,
            incremental,
            volatile,
            templates,
        }
    }

    /// Hashes the inputs again with new `fingerprints`: the copy some outputs waited for has
    /// arrived, and they are recorded with the copy they got.
    pub(crate) fn rehash(&mut self, site: &Site, fingerprints: Fingerprints) {
        self.inputs = items(site, &self.outputs, &fingerprints)
            .into_iter()
            .map(|i| i.inputs)
            .collect();
        self.fingerprints = fingerprints;
    }

    /// The current hash of something a template read.
    pub(crate) fn dep_hash(&self, site: &Site, dep: &Dep) -> ContentHash {
        input_hash::dep_hash(site, &self.fingerprints, dep)
    }

    /// Whether output `index` is a page.
    pub(crate) fn is_page(&self, index: usize) -> bool {
        self.outputs
            .renders
            .get(index)
            .is_some_and(|r| matches!(r.output, Output::Page(_)))
    }

    /// The selected outputs whose file the last build wrote and the output folder still holds
    /// untouched, with the hash of its bytes: one rendered to the same bytes need not be
    /// written. A file an interrupted build was replacing may be torn, whatever its size.
    pub(crate) fn intact(
        &self,
        previous: &OutputRecords,
        folder: &OutputFolder,
    ) -> rustc_hash::FxHashMap<String, ContentHash> {
        self.selected
            .iter()
            .filter(|i| {
                !matches!(
                    self.decisions[**i],
                    Some(Reason::OutputMissing | Reason::Interrupted)
                )
            })
            .filter_map(|i| {
                let file = self.outputs.file(*i);
                let record = previous.get(file)?;
                folder
                    .intact(file, record.size)
                    .then(|| (file.to_owned(), record.output))
            })
            .collect()
    }
}

/// Every template's source hash.
fn template_hashes(site: &Site) -> HashMap<String, ContentHash> {
    site.templates
        .iter()
        .map(|t| (t.name.clone(), ContentHash::of(t.text.as_bytes())))
        .collect()
}

/// Every output as the diff sees it: renders, then feeds, then copies.
fn items<'a>(site: &'a Site, outputs: &'a Outputs, fps: &Fingerprints) -> Vec<Item<'a>> {
    let rendered = outputs
        .renders
        .par_iter()
        .chain(&outputs.deferred)
        .map(|planned| {
            let template = template_of(site, &planned.output);
            let uses = template.and_then(|t| site.template(t)).map(|t| &t.uses);
            Item {
                file: &planned.file,
                inputs: input_hash::inputs(site, fps, planned),
                template,
                closure: uses.map_or(&[][..], |u| &u.closure[..]),
                volatile: uses.is_some_and(|u| u.volatile),
            }
        });
    let copies = outputs.copies.iter().map(|copy| Item {
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
    outputs: &Outputs,
    decisions: &[Option<Reason>],
    previous: Option<&Previous<'_>>,
    changes: &SourceChanges,
) -> f64 {
    let Some(previous) = previous else { return 1.0 };
    // Whether the source file `key` (`content/…`) is one of the site's pages.
    let is_page = |key: &str| {
        key.strip_prefix("content/")
            .and_then(|path| site.by_content_path.get(path))
            .is_some_and(|found| matches!(found, ContentRef::Page(_)))
    };
    let mut changed: HashSet<String> = changes
        .freshness
        .iter()
        .filter(|(key, f)| matches!(f, Freshness::Changed | Freshness::Added) && is_page(key))
        .map(|(key, _)| key.clone())
        .collect();
    for (i, planned) in outputs.renders.iter().enumerate() {
        if let (
            Output::Page(id),
            Some(
                Reason::TemplateChanged(_)
                | Reason::ConfigChanged
                | Reason::Volatile
                | Reason::Full,
            ),
        ) = (&planned.output, &decisions[i])
        {
            changed.insert(format!("content/{}", site.page(*id).doc.relative_path));
        }
    }
    // Records of collections have no file: their pages' decisions tell.
    let mut added_records = 0;
    for (i, planned) in outputs.renders.iter().enumerate() {
        if let Output::Page(id) = &planned.output
            && !site.page(*id).doc.has_file
        {
            match &decisions[i] {
                Some(Reason::New) => added_records += 1,
                Some(Reason::SourceChanged) => {}
                _ => continue,
            }
            changed.insert(site.page(*id).doc.relative_path.clone());
        }
    }
    let added_files = changes
        .freshness
        .iter()
        .filter(|(key, f)| *f == Freshness::Added && is_page(key))
        .count();
    // Pages gone = pages before + pages added - pages now.
    let removed = changes
        .removed_pages
        .max((previous.pages + added_files + added_records).saturating_sub(site.pages.len()));
    let total = site.pages.len().max(previous.pages).max(1);
    ((changed.len() + removed) as f64 / total as f64).min(1.0)
}
