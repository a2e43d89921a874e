//! The outputs' stream: each selected output through render → post → emit, in parallel
//! (rayon), so no stage holds the whole site's HTML.
//!
//! Outputs render in rounds: each takes those that show no copy still being generated (the
//! first, nearly all of them, while the queue runs), then waits for more copy to arrive. Feeds
//! render last, with the content of the pages they list. What the checks at the end need of an
//! output (its links, heading ids, a feed page's content) is kept, the rest dropped as soon as
//! the output is written.

use std::collections::HashMap;
use std::path::Path;

use rayon::prelude::*;

use crate::build::Progress;
use crate::config::LinkLevel;
use crate::diagnostics::{Diagnostic, Error, Result, guarded};
use crate::emit::Sink;
use crate::generate::copy::CopySet;
use crate::hash::ContentHash;
use crate::markdown::AnchorLink;
use crate::plan::incremental::BuildPlan;
use crate::plan::reason::Dep;
use crate::plan::{Output, Planned};
use crate::post::links::{self, Checked, LinkCheck};
use crate::render::{Rendered, Renderer};
use crate::site::{ContentRef, PageId, Site};

/// What the stream works with.
pub(crate) struct Stages<'a> {
    /// The site.
    pub(crate) site: &'a Site,
    /// Its generated copy.
    pub(crate) copy: &'a CopySet,
    /// The build's plan.
    pub(crate) plan: &'a BuildPlan,
    /// The render stage.
    pub(crate) renderer: &'a Renderer,
    /// The post stage.
    pub(crate) post: &'a crate::post::Post,
    /// Where outputs go.
    pub(crate) sink: &'a Sink,
    /// The output folder (link targets this build does not render are read from it).
    pub(crate) output: &'a Path,
}

/// One output written.
#[derive(Debug)]
pub(crate) struct Written {
    /// Its index in the plan.
    pub(crate) index: usize,
    /// Bytes written.
    pub(crate) size: u64,
    /// Their hash.
    pub(crate) hash: ContentHash,
    /// What its template functions read.
    pub(crate) deps: Vec<Dep>,
}

impl Written {
    /// The output as the build state records it.
    pub(crate) fn record(&self) -> crate::state::commit::Landed<'_> {
        crate::state::commit::Landed {
            index: self.index,
            size: self.size,
            hash: self.hash,
            deps: &self.deps,
        }
    }
}

/// What the stream left.
#[derive(Debug)]
pub(crate) struct Produced {
    /// Every output produced, written or found unchanged.
    pub(crate) written: Vec<Written>,
    /// Internal links to nothing the site has, one problem each (the caller decides how bad).
    pub(crate) broken_links: Vec<Diagnostic>,
}

/// One finished output: what the later checks need from it.
#[derive(Default)]
struct Done {
    index: usize,
    size: u64,
    hash: ContentHash,
    deps: Vec<Dep>,
    anchors: Option<(String, Vec<String>)>,
    anchor_links: Vec<(String, AnchorLink)>,
    feed_content: Option<(PageId, String)>,
    links: Checked,
}

/// Renders, post-processes and writes the plan's selected outputs.
pub(crate) fn produce(stages: &Stages<'_>, progress: &dyn Progress) -> Result<Produced> {
    let Stages {
        site,
        copy,
        plan,
        renderer,
        post,
        sink,
        output,
    } = *stages;
    let outputs = &plan.outputs;
    progress.start(plan.selected.len());
    let (renders, deferred) = (outputs.renders.len(), outputs.deferred.len());
    let check = LinkCheck::new(site, outputs);
    let finish = |index: usize,
                  planned: &Planned,
                  rendered: Result<Rendered, Vec<Diagnostic>>|
     -> Result<Done> {
        let rendered = rendered.map_err(Error::Site)?;
        let processed = guarded("post-processing", &planned.file, || {
            post.process(&planned.file, &planned.path, rendered.text)
        })
        .map_err(|d| Error::Site(vec![d]))?;
        let bytes = processed.bytes;
        let (size, hash) = (bytes.len() as u64, ContentHash::of(&bytes));
        sink.write(&planned.file, bytes, &hash)?;
        progress.advance();
        let mut deps = rendered.deps;
        deps.extend(processed.deps);
        let links = check.own(index, &planned.file, processed.links, &processed.ids);
        Ok(Done {
            index,
            size,
            hash,
            deps,
            anchors: rendered.anchors,
            anchor_links: rendered.anchor_links,
            feed_content: rendered.feed_content,
            links,
        })
    };
    let one = |&i: &usize| {
        if i < renders {
            let planned = &outputs.renders[i];
            let rendered = guarded("rendering", &planned.file, || renderer.render(planned));
            finish(i, planned, rendered.unwrap_or_else(|d| Err(vec![d])))
        } else {
            let copied = &outputs.copies[i - renders - deferred];
            let size = match &copied.bytes {
                Some(bytes) => sink
                    .write(&copied.file, bytes.to_vec(), &copied.hash)
                    .map(|()| bytes.len() as u64)?,
                None => sink.copy(&copied.source, &copied.file, &copied.hash)?,
            };
            progress.advance();
            Ok(Done {
                index: i,
                size,
                hash: copied.hash,
                links: Checked::nothing(i),
                ..Done::default()
            })
        }
    };
    let own = |i: &usize| *i < renders || *i >= renders + deferred;
    let mut rest: Vec<usize> = plan.selected.iter().copied().filter(own).collect();
    let mut done: Vec<Result<Done>> = Vec::with_capacity(rest.len());
    while !rest.is_empty() {
        let seen = copy.changes();
        let (now, later): (Vec<usize>, Vec<usize>) = if copy.any_waiting() {
            rest.into_iter().partition(|i| {
                !outputs
                    .renders
                    .get(*i)
                    .is_some_and(|r| shows_waiting_copy(site, copy, &r.output))
            })
        } else {
            (rest, Vec::new())
        };
        if now.is_empty() {
            copy.wait_change(seen);
        }
        done.extend(now.par_iter().map(one).collect::<Vec<_>>());
        rest = later;
    }
    let (mut finished, mut problems) = sort_out(done)?;
    let mut broken_anchors = check_anchors(site, renderer, &mut finished);
    // `[link_checker] internal_level = "warn"`: a broken anchor is a warning, as in Zola.
    let anchors_warn = site.config.link_checker.internal_level == LinkLevel::Warn;
    if anchors_warn {
        for d in &mut broken_anchors {
            d.severity = crate::diagnostics::Severity::Warning;
        }
    } else {
        problems.append(&mut broken_anchors);
    }
    if !problems.is_empty() {
        return Err(Error::Site(problems));
    }
    let feeds: Vec<usize> = plan
        .selected
        .iter()
        .copied()
        .filter(|i| (renders..renders + deferred).contains(i))
        .collect();
    if !feeds.is_empty() {
        let contents = feed_contents(stages, &mut finished)?;
        let results: Vec<Result<Done>> = feeds
            .par_iter()
            .map(|&i| {
                let planned = &outputs.deferred[i - renders];
                let rendered = guarded("rendering", &planned.file, || {
                    renderer.render_feed(planned, &contents)
                });
                finish(i, planned, rendered.unwrap_or_else(|d| Err(vec![d])))
            })
            .collect();
        let (feeds, problems) = sort_out(results)?;
        if !problems.is_empty() {
            return Err(Error::Site(problems));
        }
        finished.extend(feeds);
    }
    let checked = finished
        .iter_mut()
        .map(|d| std::mem::take(&mut d.links))
        .collect();
    let mut broken_links = check.fragments(checked, output);
    broken_links.append(&mut broken_anchors);
    let written = finished
        .into_iter()
        .map(|d| Written {
            index: d.index,
            size: d.size,
            hash: d.hash,
            deps: d.deps,
        })
        .collect();
    Ok(Produced {
        written,
        broken_links,
    })
}

/// The outputs that finished, and the problems of those that did not; an error that belongs
/// to no output ends the stream.
fn sort_out(results: Vec<Result<Done>>) -> Result<(Vec<Done>, Vec<Diagnostic>)> {
    let mut problems = Vec::new();
    let mut finished = Vec::with_capacity(results.len());
    for result in results {
        match result {
            Ok(d) => finished.push(d),
            Err(Error::Site(d)) => problems.extend(d),
            Err(other) => return Err(other),
        }
    }
    Ok((finished, problems))
}

/// The errors of the `@/page.md#anchor` links of the `finished` outputs. Targets this build
/// did not render have their headings read again.
fn check_anchors(site: &Site, renderer: &Renderer, finished: &mut [Done]) -> Vec<Diagnostic> {
    let mut anchors: HashMap<String, Vec<String>> = finished
        .iter_mut()
        .filter_map(|d| d.anchors.take())
        .collect();
    let links: Vec<(String, AnchorLink)> = finished
        .iter_mut()
        .flat_map(|d| std::mem::take(&mut d.anchor_links))
        .collect();
    for (_, link) in &links {
        if anchors.contains_key(&link.target) {
            continue;
        }
        if let Some(ContentRef::Page(id)) = site.by_content_path.get(&link.target)
            && let Ok((_, ids)) = renderer.page_body(*id)
        {
            anchors.insert(link.target.clone(), ids);
        }
    }
    links::anchors(site, &anchors, &links)
}

/// The content of every page a feed lists: kept from this build's render of the page, or
/// rendered for the feed only.
fn feed_contents(stages: &Stages<'_>, finished: &mut [Done]) -> Result<HashMap<PageId, String>> {
    let mut contents: HashMap<PageId, String> = finished
        .iter_mut()
        .filter_map(|d| d.feed_content.take())
        .collect();
    let missing: Vec<PageId> = stages
        .plan
        .outputs
        .feed_pages
        .iter()
        .copied()
        .filter(|id| !contents.contains_key(id))
        .collect();
    let bodies: Vec<_> = missing
        .par_iter()
        .map(|id| (*id, stages.renderer.page_body(*id)))
        .collect();
    let mut problems = Vec::new();
    for (id, body) in bodies {
        match body {
            Ok((html, _)) => {
                contents.insert(id, html);
            }
            Err(d) => problems.extend(d),
        }
    }
    if problems.is_empty() {
        Ok(contents)
    } else {
        Err(Error::Site(problems))
    }
}

/// Whether `output` shows the copy of a page that is still being generated: the page itself
/// or a sibling, a section, term or taxonomy listing it, a feed holding it.
fn shows_waiting_copy(site: &Site, copy: &CopySet, output: &Output) -> bool {
    let waiting = |id: &PageId| copy.is_waiting(*id);
    match output {
        Output::Page(id) => {
            let page = site.page(*id);
            waiting(id) || page.lower.iter().chain(&page.higher).any(waiting)
        }
        Output::Section { id, .. } => site.section(*id).pages.iter().any(waiting),
        Output::Taxonomy(t) => site
            .taxonomy(*t)
            .terms
            .iter()
            .flat_map(|t| &t.pages)
            .any(waiting),
        Output::Term { term, .. } => site.term(*term).pages.iter().any(waiting),
        Output::Feed { pages, .. } => pages.iter().any(waiting),
        Output::Redirect { .. } | Output::NotFound | Output::Robots | Output::Sitemap(_) => false,
    }
}
