//! The image step of [`super::finish`]: once every output rendered, the processed images they
//! ask for are made (or taken from the cache) and staged with the outputs.
//!
//! What is asked for is what this build's templates asked for, and what the outputs it kept
//! from the last build asked for then (their records hold it). Files of the last build that no
//! output asks for any more are removed with the stale outputs.

use std::collections::{BTreeMap, HashSet};

use crate::assets::images::{self, Asked, ImageDep, ImageRecords, Resize};
use crate::build::Ready;
use crate::diagnostics::{Diagnostic, Error, Result, Severity};
use crate::emit::Sink;
use crate::plan::reason::Dep;
use crate::site::StaticSource;
use crate::state::commit::ImageChanges;

use super::stream::Produced;

impl Ready {
    /// Makes and stages the processed images the site asks for; their records wait in
    /// `image_changes` for the commit. A source that cannot be decoded fails the build.
    pub(super) fn process_images(&mut self, sink: &Sink, produced: &Produced) -> Result<()> {
        if !self.options.write {
            return Ok(());
        }
        let wanted = self.wanted(produced);
        let plan = &self.plan;
        let committed = plan
            .outputs
            .committed_images
            .iter()
            .map(|c| (c.file.as_str(), &c.source, c.hash))
            .collect();
        let previous = self
            .previous
            .as_ref()
            .filter(|_| plan.incremental)
            .map(|m| &m.images);
        let folder = &self.folder;
        let intact = |file: &str, size: u64| folder.intact(file, size);
        let made = images::make(&Asked {
            site: &self.site,
            wanted: &wanted,
            committed,
            state_dir: &self.setup.state_dir,
            previous,
            intact: &intact,
        });
        let (errors, warnings): (Vec<Diagnostic>, Vec<Diagnostic>) = made
            .problems
            .into_iter()
            .partition(|d| d.severity == Severity::Error);
        self.warnings.extend(warnings);
        if !errors.is_empty() {
            return Err(Error::Site(errors));
        }
        let mut records = ImageRecords::new();
        let mut staged = Vec::new();
        for placed in made.placed {
            if let Some(how) = placed.how {
                if placed.record.committed {
                    sink.copy(
                        &StaticSource::File(placed.from.clone()),
                        &placed.file,
                        &placed.record.key,
                    )?;
                } else {
                    sink.link(&placed.from, &placed.file)?;
                }
                staged.push((placed.file.clone(), how));
            }
            records.insert(placed.file, placed.record);
        }
        let before = previous.cloned().unwrap_or_default();
        let dropped: Vec<_> = before
            .into_iter()
            .filter(|(file, _)| !records.contains_key(file))
            .collect();
        let changed = !staged.is_empty()
            || !dropped.is_empty()
            || self.previous.as_ref().is_none_or(|m| m.images != records);
        self.image_changes = Some(ImageChanges {
            records,
            dropped,
            changed,
            staged,
        });
        Ok(())
    }

    /// Every processed file asked for: by the templates of this build (the outputs rendered,
    /// and summaries and feeds, which render bodies too), and by the outputs kept from the last.
    fn wanted(&self, produced: &Produced) -> BTreeMap<String, Resize> {
        let mut wanted = self.images.requested();
        let mut add = |dep: &Dep| {
            if let Dep::Image(ImageDep {
                resize: Some(resize),
                ..
            }) = dep
            {
                wanted
                    .entry(resize.file.clone())
                    .or_insert_with(|| resize.clone());
            }
        };
        for written in &produced.written {
            written.deps.iter().for_each(&mut add);
        }
        if let Some(previous) = self.previous.as_ref().filter(|_| self.plan.incremental) {
            let made: HashSet<usize> = produced.written.iter().map(|w| w.index).collect();
            for index in (0..self.plan.outputs.len()).filter(|i| !made.contains(i)) {
                if let Some(record) = previous.outputs.get(self.plan.outputs.file(index)) {
                    record.deps.iter().for_each(|(dep, _)| add(dep));
                }
            }
        }
        wanted
    }
}
