//! The link check: every internal link of every HTML output must name a file of the site, and
//! its `#fragment` an element the target has; every `@/page.md#anchor` of the markdown a
//! heading of that page.
//!
//! Each output checks its own links as it finishes ([`LinkCheck::own`]): only links with a
//! fragment into another output wait until all are done ([`LinkCheck::fragments`]), and ids are
//! kept as sorted 8-byte hashes, so 100,000 pages do not hold their links and ids as strings
//! until the end. Targets this build did not render are read from the output folder.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::diagnostics::{Code, Diagnostic};
use crate::markdown::AnchorLink;
use crate::plan::{Output, Outputs};
use crate::post::{Link, ids_of};
use crate::site::{ContentRef, Site};

/// The link check of one build.
pub(crate) struct LinkCheck<'a> {
    site: &'a Site,
    outputs: &'a Outputs,
    /// Every file of the site.
    files: rustc_hash::FxHashSet<&'a str>,
}

/// What one output left for the end of the check.
#[derive(Debug, Default)]
pub(crate) struct Checked {
    /// The output's index.
    index: usize,
    /// Its internal links that name nothing the site has, or an id it lacks itself.
    broken: Vec<Diagnostic>,
    /// Its internal links with a fragment into another output.
    fragments: Vec<FragmentLink>,
    /// Its element ids (and `<a name>`s), as sorted [`id_hash`]es.
    ids: Vec<u64>,
}

/// A link to an element of another output.
#[derive(Debug)]
struct FragmentLink {
    /// The link as written.
    href: String,
    /// The output file it points at.
    target: String,
    /// The fragment, percent-decoded.
    fragment: String,
}

impl Checked {
    /// Nothing to check in output `index` (a copied file).
    pub(crate) fn nothing(index: usize) -> Self {
        Self {
            index,
            ..Self::default()
        }
    }
}

impl<'a> LinkCheck<'a> {
    /// The check of the outputs of `site`.
    pub(crate) fn new(site: &'a Site, outputs: &'a Outputs) -> Self {
        let files = outputs
            .renders
            .iter()
            .chain(&outputs.deferred)
            .map(|p| p.file.as_str())
            .chain(outputs.copies.iter().map(|c| c.file.as_str()))
            .collect();
        Self {
            site,
            outputs,
            files,
        }
    }

    /// Checks the `links` of output `index` (file `from`, element `ids`) that stay within it or
    /// name no file; keeps the rest for [`LinkCheck::fragments`].
    pub(crate) fn own(
        &self,
        index: usize,
        from: &str,
        links: Vec<Link>,
        ids: &[String],
    ) -> Checked {
        let ids = id_hashes(ids);
        let mut checked = Checked {
            index,
            ..Checked::default()
        };
        for link in links {
            let path = percent_decode(&link.path);
            // Processed images are made after rendering, from the very calls that gave their
            // URLs (and a committed `static/processed_images/` is copied then too).
            if path
                .strip_prefix('/')
                .and_then(|p| p.strip_prefix(crate::assets::images::FOLDER))
                .is_some_and(|rest| rest.starts_with('/'))
            {
                continue;
            }
            let candidates = if path.ends_with('/') {
                vec![format!("{}index.html", &path[1..])]
            } else {
                vec![path[1..].to_owned(), format!("{}/index.html", &path[1..])]
            };
            let Some(target) = candidates
                .into_iter()
                .find(|c| self.files.contains(c.as_str()))
            else {
                checked.broken.push(
                    Diagnostic::warning(format!(
                        "broken link `{}` in {from}: the site has nothing at {path}",
                        link.href
                    ))
                    .in_file(self.source_of(index, from))
                    .with_help("fix the link, or add the page it points at")
                    .with_code(Code::BrokenLink),
                );
                continue;
            };
            let Some(fragment) = link.fragment else {
                continue;
            };
            let fragment = percent_decode(&fragment);
            if !target.ends_with(".html") || fragment == "top" {
                continue;
            }
            if target != from {
                checked.fragments.push(FragmentLink {
                    href: link.href,
                    target,
                    fragment,
                });
            } else if ids.binary_search(&id_hash(&fragment)).is_err() {
                checked
                    .broken
                    .push(self.missing_id(index, from, &link.href, &target, &fragment));
            }
        }
        checked.ids = ids;
        checked
    }

    /// The broken links of all outputs `checked`: those each found itself, and links with a
    /// fragment into another output that lacks the id. Targets this build did not render are
    /// read from `output`.
    pub(crate) fn fragments(&self, mut checked: Vec<Checked>, output: &Path) -> Vec<Diagnostic> {
        let by_file: rustc_hash::FxHashMap<&str, usize> = checked
            .iter()
            .enumerate()
            .map(|(at, c)| (self.outputs.file(c.index), at))
            .collect();
        let mut problems: Vec<Diagnostic> = checked
            .iter_mut()
            .flat_map(|c| std::mem::take(&mut c.broken))
            .collect();
        let mut read: rustc_hash::FxHashMap<String, Vec<u64>> = rustc_hash::FxHashMap::default();
        for done in &checked {
            let from = self.outputs.file(done.index);
            for link in &done.fragments {
                let ids = match by_file.get(link.target.as_str()) {
                    Some(&at) => &checked[at].ids,
                    None => read.entry(link.target.clone()).or_insert_with(|| {
                        std::fs::read_to_string(output.join(&link.target))
                            .map(|html| id_hashes(&ids_of(&html)))
                            .unwrap_or_default()
                    }),
                };
                if ids.binary_search(&id_hash(&link.fragment)).is_err() {
                    problems.push(self.missing_id(
                        done.index,
                        from,
                        &link.href,
                        &link.target,
                        &link.fragment,
                    ));
                }
            }
        }
        problems.sort_by(|a, b| a.message.cmp(&b.message));
        problems
    }

    /// The warning for a link whose `target` has no element with id `fragment`.
    fn missing_id(
        &self,
        index: usize,
        from: &str,
        href: &str,
        target: &str,
        fragment: &str,
    ) -> Diagnostic {
        Diagnostic::warning(format!(
            "broken link `{href}` in {from}: {target} has no element with id `{fragment}`"
        ))
        .in_file(self.source_of(index, from))
        .with_help("fix the fragment, or give the target element that id")
        .with_code(Code::BrokenLink)
    }

    /// The file a problem of output `index` is reported in: a page's or section's source, or
    /// the output itself.
    fn source_of(&self, index: usize, file: &str) -> PathBuf {
        let site = self.site;
        match self.outputs.renders.get(index).map(|r| &r.output) {
            Some(Output::Page(id)) if site.page(*id).doc.has_file => {
                PathBuf::from("content").join(&site.page(*id).doc.relative_path)
            }
            Some(Output::Section { id, .. }) if site.section(*id).doc.has_file => {
                PathBuf::from("content").join(&site.section(*id).doc.relative_path)
            }
            _ => PathBuf::from(file),
        }
    }
}

/// The hash an element id is known by in [`Checked::ids`]. A collision can only hide a broken
/// fragment's warning.
fn id_hash(id: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::hash::DefaultHasher::new();
    id.hash(&mut hasher);
    hasher.finish()
}

/// The sorted, deduplicated [`id_hash`]es of `ids`.
fn id_hashes<'i>(ids: impl IntoIterator<Item = &'i String>) -> Vec<u64> {
    let mut hashes: Vec<u64> = ids.into_iter().map(|id| id_hash(id)).collect();
    hashes.sort_unstable();
    hashes.dedup();
    hashes
}

/// `%XX` escapes decoded (invalid ones kept as they are).
fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

/// The errors of `links` (from the pages at their content paths) that name an anchor their
/// target lacks; `anchors` holds the heading ids of the targets.
pub(crate) fn anchors(
    site: &Site,
    anchors: &HashMap<String, Vec<String>>,
    links: &[(String, AnchorLink)],
) -> Vec<Diagnostic> {
    links
        .iter()
        .filter_map(|(from, link)| check_anchor(site, anchors, from, link))
        .collect()
}

/// An error when `link` (from the page at content path `from`) names an anchor its target lacks.
fn check_anchor(
    site: &Site,
    anchors: &HashMap<String, Vec<String>>,
    from: &str,
    link: &AnchorLink,
) -> Option<Diagnostic> {
    let known = anchors.get(&link.target)?;
    if known.contains(&link.anchor) {
        return None;
    }
    let display = PathBuf::from("content").join(from);
    let message = format!(
        "broken internal link `@/{}#{}`: `{}` has no heading with that id",
        link.target, link.anchor, link.target
    );
    // The link's offset was taken when the body was parsed; the text is read again only to
    // show the line.
    let body_offset = match site.by_content_path.get(from) {
        Some(ContentRef::Page(id)) => site.page(*id).doc.body_offset,
        Some(ContentRef::Section(id)) => site.section(*id).doc.body_offset,
        None => 0,
    };
    let d = match std::fs::read_to_string(site.root.join(&display)) {
        Ok(text) => {
            Diagnostic::error(message).at_offset(&display, &text, body_offset + link.offset)
        }
        Err(_) => Diagnostic::error(message).in_file(&display),
    };
    let ids = if known.is_empty() {
        "none".to_owned()
    } else {
        known.join(", ")
    };
    Some(d.with_help(format!(
        "the headings of `{}` have the ids: {ids}",
        link.target
    )))
}
