//! Which outputs to render again, which to keep, which to delete, and why.
//!
//! Compares the inputs of each planned output with those the previous build recorded. An output
//! is kept only when all its inputs are the same, what its templates read through functions is
//! the same, its template is not volatile, no interrupted build was replacing it, and the file
//! in the output folder still has the size that was written.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::thread::JoinHandle;

use rayon::prelude::*;

use crate::hash::ContentHash;
use crate::plan::reason::{Dep, Inputs, OutputRecord, OutputRecords, Reason};

/// What the previous build left that planning compares with.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Previous<'a> {
    /// Its outputs' records, by file.
    pub(crate) outputs: &'a OutputRecords,
    /// Its templates' source hashes, to name the template that changed.
    pub(crate) templates: &'a HashMap<String, ContentHash>,
    /// Its page count (the denominator of the changed fraction).
    pub(crate) pages: usize,
}

/// The files a build that was stopped while replacing them left possibly torn, as its journal
/// names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Interrupted {
    /// Every file of the output.
    Everything,
    /// These files.
    Files(Vec<String>),
}

/// One planned output, as the diff sees it.
pub(crate) struct Item<'a> {
    /// Its file, relative to the output folder.
    pub(crate) file: &'a str,
    /// Its inputs now.
    pub(crate) inputs: Inputs,
    /// Its template's name, to say which template changed.
    pub(crate) template: Option<&'a str>,
    /// The templates it is rendered with.
    pub(crate) closure: &'a [String],
    /// Whether its template reads the clock or the environment.
    pub(crate) volatile: bool,
}

/// The outcome: per item, the reason to render it (`None`: keep the file); files to delete.
#[derive(Debug, Default)]
pub(crate) struct Diff {
    /// Per item, in order.
    pub(crate) decisions: Vec<Option<Reason>>,
    /// Files of the previous build that no output produces any more.
    pub(crate) removed: Vec<String>,
}

/// Decides for every item. `previous` is the last build's manifest (`None`: build in full);
/// `interrupted` the files a stopped build was replacing;
/// `dep_hash` the current hash of something a template read.
pub(crate) fn diff(
    previous: Option<&Previous<'_>>,
    interrupted: Option<&Interrupted>,
    output_dir: &OutputFolder,
    items: &[Item<'_>],
    templates_now: &HashMap<String, ContentHash>,
    dep_hash: &(dyn Fn(&Dep) -> ContentHash + Sync),
) -> Diff {
    let Some(previous) = previous else {
        return Diff {
            decisions: items.iter().map(|_| Some(Reason::Full)).collect(),
            removed: Vec::new(),
        };
    };
    let interrupted_all = matches!(interrupted, Some(Interrupted::Everything));
    let interrupted: HashSet<&str> = match interrupted {
        Some(Interrupted::Files(files)) => files.iter().map(String::as_str).collect(),
        _ => HashSet::new(),
    };
    let decisions = items
        .par_iter()
        .map(|item| {
            if interrupted_all || interrupted.contains(item.file) {
                return Some(Reason::Interrupted);
            }
            let Some(record) = previous.outputs.get(item.file) else {
                return Some(Reason::New);
            };
            decide(previous, record, item, output_dir, templates_now, dep_hash)
        })
        .collect();
    let planned: rustc_hash::FxHashSet<&str> = items.iter().map(|i| i.file).collect();
    let mut removed: Vec<String> = previous
        .outputs
        .keys()
        .filter(|f| !planned.contains(f.as_str()))
        .cloned()
        .collect();
    removed.sort();
    Diff { decisions, removed }
}

fn decide(
    previous: &Previous<'_>,
    record: &OutputRecord,
    item: &Item<'_>,
    output_dir: &OutputFolder,
    templates_now: &HashMap<String, ContentHash>,
    dep_hash: &(dyn Fn(&Dep) -> ContentHash + Sync),
) -> Option<Reason> {
    let (old, new) = (&record.inputs, &item.inputs);
    if old.source != new.source {
        return Some(Reason::SourceChanged);
    }
    if old.template != new.template {
        let changed = item
            .closure
            .iter()
            .find(|t| templates_now.get(*t) != previous.templates.get(*t))
            .cloned()
            .or_else(|| item.template.map(str::to_owned))
            .unwrap_or_default();
        return Some(Reason::TemplateChanged(changed));
    }
    if old.config != new.config {
        return Some(Reason::ConfigChanged);
    }
    if old.listing != new.listing {
        return Some(Reason::ListingChanged);
    }
    if let Some((dep, _)) = record
        .deps
        .iter()
        .find(|(dep, hash)| dep_hash(dep) != *hash)
    {
        return Some(Reason::DependencyChanged(dep.describe()));
    }
    if item.volatile {
        return Some(Reason::Volatile);
    }
    if output_dir.intact(item.file, record.size) {
        None
    } else {
        Some(Reason::OutputMissing)
    }
}

/// The last build's files with their sizes, and those of them found missing or changed.
type Checked = (
    rustc_hash::FxHashMap<String, u64>,
    rustc_hash::FxHashSet<String>,
);

/// The output folder, and what is known of the files the last build left in it.
#[derive(Debug)]
pub(crate) struct OutputFolder {
    dir: PathBuf,
    /// The check of the last build's files, running on a thread of its own until the first
    /// question needs its answer.
    running: Mutex<Option<JoinHandle<Checked>>>,
    checked: OnceLock<Option<Checked>>,
}

impl OutputFolder {
    /// The folder `dir`, its files looked at when asked about.
    pub(crate) fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
            running: Mutex::new(None),
            checked: OnceLock::new(),
        }
    }

    /// Starts checking, on a thread of its own, that the files `expected` (with their sizes)
    /// are in `dir`: at 10,000 outputs the stat calls take as long as loading the site, which
    /// they run beside. The first question waits for the check.
    pub(crate) fn check_in_background(dir: &Path, expected: Vec<(String, u64)>) -> Self {
        let folder = dir.to_path_buf();
        let running = std::thread::spawn(move || {
            let bad = expected
                .iter()
                .filter(|(file, size)| !stat_matches(&folder.join(file), *size))
                .map(|(file, _)| file.clone())
                .collect();
            (expected.into_iter().collect(), bad)
        });
        Self {
            running: Mutex::new(Some(running)),
            ..Self::new(dir)
        }
    }

    /// The background check's result, once it is done.
    fn checked(&self) -> Option<&Checked> {
        self.checked
            .get_or_init(|| {
                let running = self
                    .running
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .take();
                running.and_then(|thread| thread.join().ok())
            })
            .as_ref()
    }

    /// Whether the folder exists.
    pub(crate) fn exists(&self) -> bool {
        self.dir.is_dir()
    }

    /// Whether `file` is in the folder with `size` bytes.
    pub(crate) fn intact(&self, file: &str, size: u64) -> bool {
        match self.checked() {
            Some((expected, bad)) if expected.get(file) == Some(&size) => !bad.contains(file),
            _ => stat_matches(&self.dir.join(file), size),
        }
    }
}

fn stat_matches(path: &Path, size: u64) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() == size)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::Previous;
    use super::{Interrupted, Item, OutputFolder, diff};
    use crate::hash::{ContentHash, Fingerprint};
    use crate::plan::reason::{Dep, Inputs, OutputRecord, OutputRecords, Reason};

    fn h(s: &str) -> ContentHash {
        Fingerprint::new(s).finish()
    }

    fn inputs(source: &str) -> Inputs {
        Inputs {
            source: h(source),
            template: h("t"),
            config: h("c"),
            listing: h("l"),
        }
    }

    #[test]
    fn decides_per_input_group_and_checks_the_output_file() {
        let out = tempfile::tempdir().unwrap();
        std::fs::write(out.path().join("a.html"), "aaaa").unwrap();
        std::fs::write(out.path().join("b.html"), "bbbb").unwrap();
        let record = |source: &str, deps: Vec<(Dep, ContentHash)>| OutputRecord {
            inputs: inputs(source),
            deps,
            output: h("out"),
            size: 4,
            reason: Reason::Full,
        };
        let mut outputs = OutputRecords::default();
        outputs.insert("a.html".into(), record("a", vec![]));
        outputs.insert(
            "b.html".into(),
            record("b", vec![(Dep::Page("x.md".into()), h("old"))]),
        );
        outputs.insert("c.html".into(), record("c", vec![]));
        outputs.insert("gone.html".into(), record("gone", vec![]));
        let templates = HashMap::new();
        let previous = Previous {
            outputs: &outputs,
            templates: &templates,
            pages: 4,
        };
        let closure = vec!["page.html".to_owned()];
        let item = |file: &'static str, source: &str| Item {
            file,
            inputs: inputs(source),
            template: Some("page.html"),
            closure: &closure,
            volatile: false,
        };
        let items = [
            item("a.html", "a"),
            item("b.html", "b"),
            item("c.html", "c"),
            item("d.html", "d"),
            item("a2.html", "changed"),
        ];
        let dep_hash = |_: &Dep| h("new");
        let d = diff(
            Some(&previous),
            None,
            &OutputFolder::new(out.path()),
            &items,
            &HashMap::new(),
            &dep_hash,
        );
        assert_eq!(d.decisions[0], None, "unchanged and present");
        assert!(matches!(d.decisions[1], Some(Reason::DependencyChanged(_))));
        assert_eq!(
            d.decisions[2],
            Some(Reason::OutputMissing),
            "c.html was deleted from the output"
        );
        assert_eq!(d.decisions[3], Some(Reason::New));
        assert_eq!(d.removed, ["gone.html"]);

        let interrupted = Some(Interrupted::Files(vec!["a.html".to_owned()]));
        let d = diff(
            Some(&previous),
            interrupted.as_ref(),
            &OutputFolder::new(out.path()),
            &items[..1],
            &HashMap::new(),
            &dep_hash,
        );
        assert_eq!(d.decisions[0], Some(Reason::Interrupted));
        let d = diff(
            None,
            None,
            &OutputFolder::new(out.path()),
            &items[..1],
            &HashMap::new(),
            &dep_hash,
        );
        assert_eq!(d.decisions[0], Some(Reason::Full));
    }
}
