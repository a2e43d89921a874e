//! Summaries that call shortcodes: the part of a page before `<!-- more -->`, rendered with the
//! templates once they are compiled (load renders the other summaries, without templates).
//!
//! The listing fingerprint of such a page covers the shortcode templates (`plan::hash`), so
//! the outputs that list it are rendered again when one changes. A call that fails here fails
//! in the page's own body too, where it is reported; the summary is then left out.

use std::collections::HashMap;

use rayon::prelude::*;

use tera::Context;

use crate::markdown;
use crate::render::reads;
use crate::render::templates::Templates;
use crate::site::{PageId, Site};

/// What a page's calls see besides their arguments.
pub(crate) type PageContext<'a> = &'a (dyn Fn(PageId) -> Context + Sync);

/// The summaries of the pages whose summary may call shortcodes.
pub(crate) fn render_all(
    site: &Site,
    templates: &Templates,
    context: PageContext<'_>,
    anchor: markdown::AnchorHook<'_>,
) -> HashMap<PageId, String> {
    site.pages
        .par_iter()
        .enumerate()
        .filter_map(|(i, page)| {
            let source = page.doc.summary_markdown.as_deref()?;
            let html = render_one(site, templates, context, anchor, PageId(i), source);
            // What the shortcodes read belongs to no output.
            reads::take_recorded();
            html.map(|html| (PageId(i), html))
        })
        .collect()
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
