//! Which outputs to render again, which to keep, which to delete, and why.
//!
//! Compares the inputs of each planned output with those the previous build recorded. An output
//! is kept only when all its inputs are the same, what its templates read through functions is
//! the same, its template is not volatile, no interrupted build was replacing it, and the file
//! in the output folder still has the size that was written.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use rayon::prelude::*;

use crate::hash::ContentHash;
use crate::state::manifest::{Dep, Inputs, Manifest, OutputRecord, Reason};

/// One planned output, as the diff sees it.
pub struct Item<'a> {
    /// Its file, relative to the output folder.
    pub file: &'a str,
    /// Its inputs now.
    pub inputs: Inputs,
    /// Its template's name, to say which template changed.
    pub template: Option<&'a str>,
    /// The templates it is rendered with.
    pub closure: &'a [String],
    /// Whether its template reads the clock or the environment.
    pub volatile: bool,
}

/// The outcome: per item, the reason to render it (`None`: keep the file); files to delete.
#[derive(Debug, Default)]
pub struct Diff {
    /// Per item, in order.
    pub decisions: Vec<Option<Reason>>,
    /// Files of the previous build that no output produces any more.
    pub removed: Vec<String>,
}

/// Decides for every item. `previous` is the last build's manifest (`None`: build in full);
/// `interrupted` the files a stopped build was replacing (`Some(None)`: all);
/// `dep_hash` the current hash of something a template read.
pub fn diff(
    previous: Option<&Manifest>,
    interrupted: Option<&Option<Vec<String>>>,
    output_dir: &Path,
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
    let interrupted_all = matches!(interrupted, Some(None));
    let interrupted: HashSet<&str> = match interrupted {
        Some(Some(files)) => files.iter().map(String::as_str).collect(),
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
    let planned: HashSet<&str> = items.iter().map(|i| i.file).collect();
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
    previous: &Manifest,
    record: &OutputRecord,
    item: &Item<'_>,
    output_dir: &Path,
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
        return Some(Reason::DependencyChanged(describe(dep)));
    }
    if item.volatile {
        return Some(Reason::Volatile);
    }
    match std::fs::metadata(output_dir.join(item.file)) {
        Ok(m) if m.is_file() && m.len() == record.size => None,
        _ => Some(Reason::OutputMissing),
    }
}

/// A dependency in words, for `--explain`.
fn describe(dep: &Dep) -> String {
    match dep {
        Dep::Page(path) => format!("page `{path}` (read with get_page)"),
        Dep::Section { path, .. } => format!("section `{path}` (read with get_section)"),
        Dep::Taxonomy(kind) => format!("taxonomy `{kind}` (read with get_taxonomy)"),
        Dep::TermUrl { kind, name } => format!("the URL of term `{name}` in `{kind}`"),
        Dep::Url(path) => format!("the URL of `{path}`"),
        Dep::Static(name) => format!("static file `{name}`"),
        Dep::Data(path) => format!("data file `{}`", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::{Item, diff};
    use crate::hash::{ContentHash, Fingerprint};
    use crate::state::manifest::{Dep, Inputs, Manifest, OutputRecord, Reason};

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
        let mut previous = Manifest::default();
        previous
            .outputs
            .insert("a.html".into(), record("a", vec![]));
        previous.outputs.insert(
            "b.html".into(),
            record("b", vec![(Dep::Page("x.md".into()), h("old"))]),
        );
        previous
            .outputs
            .insert("c.html".into(), record("c", vec![]));
        previous
            .outputs
            .insert("gone.html".into(), record("gone", vec![]));
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
            out.path(),
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

        let interrupted = Some(Some(vec!["a.html".to_owned()]));
        let d = diff(
            Some(&previous),
            interrupted.as_ref(),
            out.path(),
            &items[..1],
            &HashMap::new(),
            &dep_hash,
        );
        assert_eq!(d.decisions[0], Some(Reason::Interrupted));
        let d = diff(
            None,
            None,
            out.path(),
            &items[..1],
            &HashMap::new(),
            &dep_hash,
        );
        assert_eq!(d.decisions[0], Some(Reason::Full));
    }
}
