//! Summaries made with the templates, once they are compiled: those that call shortcodes
//! (load renders the others, without templates), and those whose `<!-- more -->` cut a block
//! open, which get `summary-cutoff.html` before the tags that close it, as in Zola.
//!
//! The listing fingerprint of such a page covers the shortcode templates and the cutoff
//! template (`plan::hash`), so the outputs that list it are rendered again when one changes. A
//! call that fails here fails in the page's own body too, where it is reported; the summary is
//! then left out. A cutoff template that fails is an error of its own.

use std::collections::HashMap;

use rayon::prelude::*;

use tera::Context;

use crate::diagnostics::Diagnostic;
use crate::markdown;
use crate::render::recorded::take_recorded;
use crate::render::shortcodes::Templates;
use crate::site::{PageId, Site};

/// What a page's calls see besides their arguments.
pub(crate) type PageContext<'a> = &'a (dyn Fn(PageId) -> Context + Sync);

/// The summaries of the pages whose summary may call shortcodes or was cut inside a block,
/// or the errors of the cutoff template.
pub(crate) fn render_all(
    site: &Site,
    templates: &Templates,
    context: PageContext<'_>,
    anchor: markdown::AnchorHook<'_>,
) -> Result<HashMap<PageId, String>, Vec<Diagnostic>> {
    let made: Vec<Result<(PageId, String), Diagnostic>> = site
        .pages
        .par_iter()
        .enumerate()
        .filter_map(|(i, page)| {
            let id = PageId(i);
            let html = match page.doc.summary_markdown.as_deref() {
                Some(source) => render_one(site, templates, context, anchor, id, source),
                None => page.doc.summary.clone().filter(|_| page.doc.summary_open),
            };
            // What the shortcodes read belongs to no output.
            take_recorded();
            let html = html?;
            if !page.doc.summary_open {
                return Some(Ok((id, html)));
            }
            let cut = with_cutoff(&html, templates, &page.doc.lang, &page.doc);
            Some(cut.map(|html| (id, html)))
        })
        .collect();
    let (ok, errors): (Vec<_>, Vec<_>) = made.into_iter().partition(Result::is_ok);
    if errors.is_empty() {
        Ok(ok.into_iter().filter_map(Result::ok).collect())
    } else {
        Err(errors.into_iter().filter_map(Result::err).collect())
    }
}

/// Block tags that a summary cut inside a block leaves open (what its HTML ends with).
const BLOCKS: [&str; 11] = [
    "p",
    "li",
    "ul",
    "ol",
    "blockquote",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
];

/// `html` (a summary whose marker was inside a block, rendered with the blocks closed) with
/// `summary-cutoff.html` before the closing tags, each followed by a newline, as Zola writes
/// it.
fn with_cutoff(
    html: &str,
    templates: &Templates,
    lang: &str,
    doc: &crate::site::Document,
) -> Result<String, Diagnostic> {
    let mut body = html.trim_end();
    let mut closing = Vec::new();
    while let Some(start) = body.rfind("</") {
        let tag = body[start + 2..].strip_suffix('>').unwrap_or_default();
        if !BLOCKS.contains(&tag) {
            break;
        }
        closing.push(&body[start..]);
        body = body[..start].trim_end();
    }
    let mut ctx = Context::new();
    ctx.insert("summary", body);
    ctx.insert("lang", lang);
    let for_file = format!("the summary of content/{}", doc.relative_path);
    let cutoff = templates.render_for("summary-cutoff.html", &ctx, &for_file)?;
    let mut out = format!("{body}{cutoff}");
    for tag in closing.iter().rev() {
        out.push_str(tag);
        out.push('\n');
    }
    Ok(out)
}

fn render_one(
    site: &Site,
    templates: &Templates,
    context: PageContext<'_>,
    anchor: markdown::AnchorHook<'_>,
    id: PageId,
    source: &str,
) -> Option<String> {
    let doc = &site.page(id).doc;
    let resolve = |path: &str| site.permalink_of(path);
    let expanded = super::expand(source, templates, &|| context(id)).ok()?;
    let markup = super::render_markdown(source, expanded.as_ref(), doc, &resolve, anchor);
    // As Zola, which trims the summary's end.
    Some(markup.html.trim_end().to_owned())
}
