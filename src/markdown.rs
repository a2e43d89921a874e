//! Markdown to HTML (pulldown-cmark), the way Zola renders it.
//!
//! Pure: takes a page's body and a resolver for `@/` links, returns the HTML, the table of
//! contents, the heading ids and the problems found (with byte offsets into the body, which
//! the caller turns into file lines). Used by load (summaries) and render (content); it never
//! touches the file system.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt::Write as _;
use std::sync::Arc;

use pulldown_cmark::{
    CodeBlockKind, CowStr, Event, HeadingLevel, LinkType, Options as Extensions, Parser, Tag,
    TagEnd, html,
};
use serde::Serialize;
use unicode_segmentation::UnicodeSegmentation;

use crate::config::{AnchorLinks, Config, SlugifyStrategy};
use crate::highlight::{Highlighter, OpenBlock};
use crate::markdown_options::{self as zola, ZolaOptions};

/// A heading being collected: its level, id, classes and inner events.
type OpenHeading<'a> = (
    HeadingLevel,
    Option<CowStr<'a>>,
    Vec<CowStr<'a>>,
    Vec<Event<'a>>,
);

/// How to render, from the config and the page's section.
#[derive(Debug, Clone, Default)]
pub struct RenderOptions {
    /// Typographic quotes and dashes.
    pub(crate) smart_punctuation: bool,
    /// Where heading anchor links go.
    pub(crate) anchor_links: AnchorLinks,
    /// The rest of Zola's `[markdown]` options (external links, images, emoji, footnotes).
    pub(crate) zola: ZolaOptions,
    /// How heading ids are made (Zola's `slugify.anchors`).
    pub(crate) anchors: SlugifyStrategy,
    /// Highlights fenced code, when the site configures `[markdown.highlighting]`.
    pub(crate) highlighter: Option<Arc<Highlighter>>,
    /// sitegen's `accessible_markup`: code blocks keyboard users can scroll, checkboxes with
    /// a name.
    pub(crate) accessible: bool,
}

impl RenderOptions {
    /// The options of `config`, with the section's anchor link placement when it sets one.
    pub(crate) fn new(site_config: &Config, anchor_links: Option<AnchorLinks>) -> Self {
        let config = &site_config.markdown;
        Self {
            accessible: site_config.accessible_markup,
            smart_punctuation: config.smart_punctuation,
            anchor_links: anchor_links.unwrap_or(config.insert_anchor_links),
            zola: ZolaOptions::new(config),
            anchors: SlugifyStrategy::On,
            highlighter: config
                .highlighting
                .as_ref()
                .and_then(|h| h.highlighter().cloned()),
        }
    }

    /// These options, with heading ids made by `anchors`.
    #[must_use]
    pub(crate) fn with_anchors(mut self, anchors: SlugifyStrategy) -> Self {
        self.anchors = anchors;
        self
    }
}

/// One heading of the table of contents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Heading {
    /// 1 to 6.
    pub(crate) level: u32,
    /// The heading's id (its anchor).
    pub(crate) id: String,
    /// The heading's text.
    pub(crate) title: String,
    /// The page's permalink with `#id`.
    pub(crate) permalink: String,
    /// The headings nested under it.
    pub(crate) children: Vec<Heading>,
}

/// A link to another content file with an anchor (`@/a.md#part`), checked once every page is rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AnchorLink {
    /// The target's path relative to content/ (`blog/a.md`).
    pub(crate) target: String,
    /// The anchor, without `#`.
    pub(crate) anchor: String,
    /// Byte offset of the link in the body.
    pub(crate) offset: usize,
}

/// A problem in the markdown: byte offset in the body, message, hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    /// Byte offset in the body.
    pub(crate) offset: usize,
    /// What is wrong.
    pub(crate) message: String,
    /// What to do.
    pub(crate) help: String,
}

/// The rendered body.
#[derive(Debug, Default)]
pub struct Markup {
    /// The HTML.
    pub html: String,
    /// The table of contents.
    pub(crate) toc: Vec<Heading>,
    /// The ids of the headings, for anchor checks.
    pub(crate) anchors: Vec<String>,
    /// Internal links with an anchor, to check against the target's headings.
    pub(crate) anchor_links: Vec<AnchorLink>,
    /// Broken internal links and other problems.
    pub(crate) problems: Vec<Problem>,
}

/// A page's summary: its markdown, and whether the marker cut a block open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SummarySource<'a> {
    /// The markdown before the marker, followed by the link reference definitions made after
    /// it, so that `[text][ref]` in the summary resolves as Zola resolves it (Zola cuts the
    /// whole document's rendering at the marker).
    pub(crate) markdown: Cow<'a, str>,
    /// The marker was inside a paragraph, heading, list item or quote: Zola then renders
    /// `summary-cutoff.html` before the tags it closes.
    pub(crate) open: bool,
}

/// The summary of `body`, when it has one.
pub(crate) fn summary_source(body: &str) -> Option<SummarySource<'_>> {
    let (before, open) = summary_part(body)?;
    let after = &body[before.len()..];
    let summary = |markdown| Some(SummarySource { markdown, open });
    if !after.contains("]:") {
        return summary(Cow::Borrowed(before));
    }
    let parser = Parser::new_ext(body, extensions(false));
    let mut later: Vec<_> = parser
        .reference_definitions()
        .iter()
        .map(|(_, def)| def.span.clone())
        .filter(|span| span.start >= before.len())
        .collect();
    if later.is_empty() {
        return summary(Cow::Borrowed(before));
    }
    later.sort_by_key(|span| span.start);
    let mut source = before.to_owned();
    for span in later {
        source.push_str("\n\n");
        source.push_str(body[span].trim_end());
    }
    source.push('\n');
    summary(Cow::Owned(source))
}

/// The part of `body` before the summary marker, when it has one, and whether a block was
/// open there. As Zola: the first HTML outside code that holds the marker, a line of its own or
/// inside a line (`text <!-- more --> text`).
pub(crate) fn summary_part(body: &str) -> Option<(&str, bool)> {
    if !body.contains("<!--") {
        return None;
    }
    let mut open = 0usize;
    for (event, range) in Parser::new_ext(body, extensions(false)).into_offset_iter() {
        match event {
            Event::Start(Tag::HtmlBlock) | Event::End(TagEnd::HtmlBlock) => {}
            Event::Start(_) => open += 1,
            Event::End(_) => open = open.saturating_sub(1),
            Event::Html(text) | Event::InlineHtml(text) if has_more(&text) => {
                // The marker's own place in the event (an HTML block may hold more).
                let at = range.start + body[range].find("<!--").unwrap_or(0);
                return Some((&body[..at], open > 0));
            }
            _ => {}
        }
    }
    None
}

/// The markdown extensions sitegen renders with.
fn extensions(smart_punctuation: bool) -> Extensions {
    let mut extensions = Extensions::ENABLE_TABLES
        | Extensions::ENABLE_FOOTNOTES
        | Extensions::ENABLE_STRIKETHROUGH
        | Extensions::ENABLE_TASKLISTS
        | Extensions::ENABLE_HEADING_ATTRIBUTES;
    if smart_punctuation {
        extensions |= Extensions::ENABLE_SMART_PUNCTUATION;
    }
    extensions
}

/// Whether `text` holds the summary marker as Zola's pattern `<!--\s*more\s*-->` finds it, in
/// any case (`<!--more-->`, `<!-- MORE -->`).
fn has_more(text: &str) -> bool {
    text.match_indices("<!--").any(|(at, _)| {
        let rest = text[at + 4..].trim_start();
        rest.get(..4)
            .is_some_and(|w| w.eq_ignore_ascii_case("more"))
            && rest[4..].trim_start().starts_with("-->")
    })
}

/// Counts words as Zola does: Unicode words (UAX #29, so `don't` is one word and `—` none),
/// skipping what lies between pairs of ```` ``` ```` fences, so code does not count.
pub(crate) fn word_count(body: &str) -> usize {
    body.split("```")
        .step_by(2)
        .map(|prose| prose.unicode_words().count())
        .sum()
}

/// Minutes to read `words` words at 200 words a minute, rounded up (Zola's rule).
pub(crate) fn reading_time(words: usize) -> usize {
    words.div_ceil(200)
}

/// Renders `body`. `permalink` is the page's URL (for the table of contents); `resolve` maps a
/// content path (`blog/a.md`) to its permalink.
pub fn render(
    body: &str,
    options: &RenderOptions,
    permalink: &str,
    resolve: &dyn Fn(&str) -> Option<String>,
) -> Markup {
    render_with(body, options, permalink, resolve, &|id, level| {
        Ok(builtin_anchor_link(id, level))
    })
}

/// Makes a heading's anchor link (Zola's `anchor-link.html`) from its id and level, or says
/// why it cannot. The caller renders the site's template; markdown knows no templates.
pub(crate) type AnchorHook<'a> = &'a (dyn Fn(&str, u32) -> Result<String, String> + Sync);

/// Zola's built-in `anchor-link.html`, for markdown rendered without the site's templates.
pub(crate) fn builtin_anchor_link(id: &str, _level: u32) -> String {
    let id = tera::escape_html(id);
    format!("<a class=\"zola-anchor\" href=\"#{id}\" aria-label=\"Anchor link for: {id}\">🔗</a>")
}

/// [`render`], with heading anchor links made by `anchor`.
#[allow(clippy::trivially_copy_pass_by_ref)] // the same signature as `render`
pub(crate) fn render_with(
    body: &str,
    options: &RenderOptions,
    permalink: &str,
    resolve: &dyn Fn(&str) -> Option<String>,
    anchor: AnchorHook<'_>,
) -> Markup {
    render_spliced(body, options, permalink, resolve, anchor, &[])
}

/// Renders `body`, whose shortcode placeholders get `html` (see [`crate::splice`]), with heading
/// anchor links made by `anchor`.
#[allow(clippy::trivially_copy_pass_by_ref)]
pub(crate) fn render_spliced(
    body: &str,
    options: &RenderOptions,
    permalink: &str,
    resolve: &dyn Fn(&str) -> Option<String>,
    anchor: AnchorHook<'_>,
    html: &[String],
) -> Markup {
    let extensions = extensions(options.smart_punctuation) | options.zola.extensions();
    let mut out = Markup {
        html: String::with_capacity(body.len() * 3 / 2),
        ..Markup::default()
    };
    let mut ids = HashSet::new();
    let mut flat_toc = Vec::new();
    let mut events: Vec<Event<'_>> = Vec::new();
    let mut heading: Option<OpenHeading<'_>> = None;
    let mut external_link_depth = Vec::new();
    // Inside a lazy image's alt text (written into an attribute), and inside a code block.
    let mut in_lazy_alt = false;
    let mut in_code = false;
    let mut code: Option<(OpenBlock, usize)> = None;
    // Whether the summary marker was met.
    let mut continued = false;

    let link = LinkContext { permalink, resolve };
    let parser = Parser::new_ext(body, extensions).into_offset_iter();
    for (event, range) in crate::splice::events(parser, body, html) {
        if let Some((_, _, _, inner)) = heading.as_mut() {
            if !matches!(event, Event::End(TagEnd::Heading(_))) {
                // Links in a heading resolve as elsewhere (`[Part](#part)`, `@/` paths).
                let event = match event {
                    Event::Start(Tag::Link {
                        link_type,
                        dest_url,
                        title,
                        id,
                    }) => Event::Start(Tag::Link {
                        dest_url: link_target(link_type, dest_url, range.start, &link, &mut out),
                        link_type,
                        title,
                        id,
                    }),
                    other => other,
                };
                inner.push(event);
                continue;
            }
            let (level, id, classes, inner) = heading.take().unwrap_or_else(|| unreachable!());
            let title = plain_text(&inner);
            let id = unique_id(
                id.map_or_else(|| options.anchors.anchor(&title), |id| id.to_string()),
                &mut ids,
            );
            let mut inner_html = String::new();
            html::push_html(&mut inner_html, inner.into_iter());
            write_heading(
                &mut events,
                level,
                &id,
                &classes,
                &inner_html,
                options.anchor_links,
                &mut |id| match anchor(id, level as u32) {
                    Ok(link) => Some(link),
                    Err(message) => {
                        out.problems.push(Problem {
                            offset: range.start,
                            message,
                            help:
                                "fix templates/anchor-link.html, which makes heading anchor links"
                                    .to_owned(),
                        });
                        None
                    }
                },
            );
            flat_toc.push(Heading {
                level: level as u32,
                permalink: format!("{permalink}#{id}"),
                id: id.clone(),
                title,
                children: Vec::new(),
            });
            out.anchors.push(id);
            continue;
        }
        match event {
            Event::Start(Tag::Heading {
                level, id, classes, ..
            }) => heading = Some((level, id, classes, Vec::new())),
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            }) => {
                // As Zola: whether a link is external is read before `@/` links resolve.
                let external = is_external(&dest_url);
                let dest_url = link_target(link_type, dest_url, range.start, &link, &mut out);
                if external && options.zola.tweaks_external_links() {
                    external_link_depth.push(true);
                    events.push(Event::Html(
                        options.zola.external_link_open(&dest_url, &title).into(),
                    ));
                } else {
                    external_link_depth.push(false);
                    events.push(Event::Start(Tag::Link {
                        link_type,
                        dest_url,
                        title,
                        id,
                    }));
                }
            }
            Event::End(TagEnd::Link) => {
                if external_link_depth.pop() == Some(true) {
                    events.push(Event::Html("</a>".into()));
                } else {
                    events.push(Event::End(TagEnd::Link));
                }
            }
            Event::Start(Tag::Image {
                link_type,
                dest_url,
                title,
                id,
            }) => {
                let dest_url = relative_to_page(dest_url, permalink);
                if options.zola.lazy_async_image {
                    in_lazy_alt = true;
                    events.push(Event::Html(zola::lazy_image_open(&dest_url, &title).into()));
                } else {
                    events.push(Event::Start(Tag::Image {
                        link_type,
                        dest_url,
                        title,
                        id,
                    }));
                }
            }
            Event::End(TagEnd::Image) if in_lazy_alt => {
                in_lazy_alt = false;
                events.push(Event::Html(zola::LAZY_IMAGE_END.into()));
            }
            // The alt text as plain text, as pulldown-cmark writes it (tags dropped).
            Event::Text(text) | Event::Code(text) | Event::InlineHtml(text) if in_lazy_alt => {
                events.push(Event::Html(escape(&text).into()));
            }
            _ if in_lazy_alt => {}
            Event::Text(text) if options.zola.render_emoji && !in_code => {
                events.push(Event::Text(zola::emoji(text)));
            }
            // Checkboxes with a name, so assistive technology can tell done from not done.
            Event::TaskListMarker(done) if options.accessible => {
                let (checked, label) = if done {
                    (" checked", "done")
                } else {
                    ("", "not done")
                };
                let input =
                    format!("<input type=\"checkbox\" disabled{checked} aria-label=\"{label}\"> ");
                events.push(Event::Html(input.into()));
            }
            // Highlighted code is collected, then rendered whole (see `highlight`).
            Event::Start(Tag::CodeBlock(kind)) if options.highlighter.is_some() => {
                let info = match &kind {
                    CodeBlockKind::Fenced(info) => Some(info.as_ref()),
                    CodeBlockKind::Indented => None,
                };
                code = Some((Highlighter::open(info), range.start));
            }
            Event::Text(text) if code.is_some() => {
                if let Some((block, _)) = code.as_mut() {
                    block.push(&text);
                }
            }
            Event::End(TagEnd::CodeBlock) if code.is_some() => {
                if let (Some((block, offset)), Some(highlighter)) =
                    (code.take(), &options.highlighter)
                {
                    match highlighter.block(block) {
                        Ok(html) => events.push(Event::Html(html.into())),
                        Err(message) => out.problems.push(Problem {
                            offset,
                            message,
                            help: "add the language's grammar with `extra_grammars` in \
                                   [markdown.highlighting], or fix its name"
                                .to_owned(),
                        }),
                    }
                }
            }
            // Code blocks can be scrolled with the keyboard.
            Event::Start(Tag::CodeBlock(kind)) => {
                in_code = true;
                events.push(Event::Html(
                    code_block_open(&kind, options.accessible).into(),
                ));
            }
            Event::End(TagEnd::CodeBlock) => {
                in_code = false;
                events.push(Event::Html("</code></pre>\n".into()));
            }
            // As Zola: the first event holding the marker becomes the place to continue at.
            Event::Html(text) | Event::InlineHtml(text) if !continued && has_more(&text) => {
                continued = true;
                events.push(Event::Html("<span id=\"continue-reading\"></span>".into()));
            }
            other => events.push(other),
        }
    }
    if options.zola.bottom_footnotes {
        zola::bottom_footnotes(&mut events);
    }
    html::push_html(&mut out.html, events.into_iter());
    out.toc = nest(flat_toc);
    out
}

/// The start of a code block that is not highlighted: Zola's `<pre><code data-lang="…">`, or
/// with `accessible`, one keyboard users can scroll, with the language's class.
fn code_block_open(kind: &CodeBlockKind<'_>, accessible: bool) -> String {
    let lang = match kind {
        CodeBlockKind::Fenced(info) => info.split([' ', ',']).next().unwrap_or(""),
        CodeBlockKind::Indented => "",
    };
    let lang = escape(lang);
    match (accessible, lang.is_empty()) {
        (true, true) => "<pre tabindex=\"0\"><code>".to_owned(),
        (true, false) => format!(
            "<pre tabindex=\"0\" data-lang=\"{lang}\"><code class=\"language-{lang}\" data-lang=\"{lang}\">"
        ),
        (false, _) if lang.is_empty() || lang == giallo::PLAIN_GRAMMAR_NAME => {
            "<pre><code>".to_owned()
        }
        (false, _) => format!("<pre><code data-lang=\"{lang}\">"),
    }
}

/// A link or image as Zola writes it: one relative to the page's folder (`diagram.png`,
/// `other/`, `?q`) or a bare fragment (`#usage`) is joined to the page's `permalink`; other
/// URLs (`/x`, `../x`, `#`, `scheme:…`) stay as written.
fn relative_to_page<'a>(url: CowStr<'a>, permalink: &str) -> CowStr<'a> {
    let has_scheme = url.find(':').is_some_and(|colon| {
        colon > 0
            && url[..colon]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    });
    let colocated =
        !url.starts_with('/') && !url.starts_with("..") && !url.starts_with('#') && !has_scheme;
    if colocated || (url.starts_with('#') && &*url != "#") {
        CowStr::from(format!("{permalink}{url}"))
    } else {
        url
    }
}

/// Zola's test for an external link (`is_external_link`): an `http:` or `https:` URL.
fn is_external(url: &str) -> bool {
    url.starts_with("http:") || url.starts_with("https:")
}

/// What links resolve against: the page's permalink and the site's content paths.
struct LinkContext<'a> {
    permalink: &'a str,
    resolve: &'a dyn Fn(&str) -> Option<String>,
}

/// Where a link (at byte `offset`) goes: an `@/` path resolved, a path relative to the page
/// joined to its permalink, anything else as written.
fn link_target<'a>(
    link_type: LinkType,
    dest_url: CowStr<'a>,
    offset: usize,
    link: &LinkContext<'_>,
    out: &mut Markup,
) -> CowStr<'a> {
    match dest_url.strip_prefix("@/") {
        Some(target) => CowStr::from(resolve_internal(target, offset, link.resolve, out)),
        None if link_type != LinkType::Email => relative_to_page(dest_url, link.permalink),
        None => dest_url,
    }
}

fn resolve_internal(
    target: &str,
    offset: usize,
    resolve: &dyn Fn(&str) -> Option<String>,
    out: &mut Markup,
) -> String {
    let (path, anchor) = match target.split_once('#') {
        Some((path, anchor)) => (path, Some(anchor)),
        None => (target, None),
    };
    let Some(url) = resolve(path) else {
        out.problems.push(Problem {
            offset,
            message: format!("broken internal link `@/{target}`: no content file `{path}`"),
            help: "internal links name a file relative to content/, such as `@/blog/post.md`"
                .to_owned(),
        });
        // Written as it is, as Zola does when `internal_level = "warn"` lets the page be.
        return format!("@/{target}");
    };
    match anchor {
        Some(anchor) => {
            out.anchor_links.push(AnchorLink {
                target: path.to_owned(),
                anchor: anchor.to_owned(),
                offset,
            });
            format!("{url}#{anchor}")
        }
        None => url,
    }
}

fn write_heading(
    events: &mut Vec<Event<'_>>,
    level: HeadingLevel,
    id: &str,
    classes: &[CowStr<'_>],
    inner: &str,
    anchors: AnchorLinks,
    anchor_link: &mut dyn FnMut(&str) -> Option<String>,
) {
    let link = match anchors {
        AnchorLinks::None => None,
        _ => anchor_link(id),
    };
    let id = escape(id);
    let mut open = format!("<{level} id=\"{id}\"");
    if !classes.is_empty() {
        let classes: Vec<&str> = classes.iter().map(AsRef::as_ref).collect();
        let _ = write!(open, " class=\"{}\"", escape(&classes.join(" ")));
    }
    open.push('>');
    // As Zola: the link goes right before or after the heading's text; `heading` wraps the
    // text in the opening tag of the link the template makes.
    let body = match (anchors, link) {
        (AnchorLinks::Left, Some(link)) => format!("{link}{inner}"),
        (AnchorLinks::Right, Some(link)) => format!("{inner}{link}"),
        (AnchorLinks::Heading, Some(link)) => match opening_a_tag(&link) {
            Some(tag) => format!("{tag}{inner}</a>"),
            None => inner.to_owned(),
        },
        _ => inner.to_owned(),
    };
    events.push(Event::Html(format!("{open}{body}</{level}>\n").into()));
}

/// The opening `<a …>` tag of the first link in `html` (Zola's `(<\s*a[^>]*>).*?<\s*/\s*a>`).
fn opening_a_tag(html: &str) -> Option<&str> {
    static A_TAG: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"(<\s*a[^>]*>).*?<\s*/\s*a>").unwrap_or_else(|_| unreachable!())
    });
    A_TAG
        .captures(html)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str())
}

fn plain_text(events: &[Event<'_>]) -> String {
    let mut text = String::new();
    for event in events {
        if let Event::Text(t) | Event::Code(t) = event {
            text.push_str(t);
        }
    }
    text
}

fn unique_id(base: String, seen: &mut HashSet<String>) -> String {
    let base = if base.is_empty() {
        "section".to_owned()
    } else {
        base
    };
    if seen.insert(base.clone()) {
        return base;
    }
    (1..=seen.len() + 1)
        .map(|n| format!("{base}-{n}"))
        .find(|candidate| seen.insert(candidate.clone()))
        .unwrap_or(base)
}

/// Nests a flat list of headings by level.
fn nest(flat: Vec<Heading>) -> Vec<Heading> {
    let mut roots: Vec<Heading> = Vec::new();
    for heading in flat {
        insert(&mut roots, heading);
    }
    roots
}

fn insert(siblings: &mut Vec<Heading>, heading: Heading) {
    match siblings.last_mut() {
        Some(last) if last.level < heading.level => insert(&mut last.children, heading),
        _ => siblings.push(heading),
    }
}

/// Escapes text for an HTML attribute or element.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{Config, RenderOptions, reading_time, render, summary_part, summary_source};
    use crate::config::AnchorLinks;

    fn resolve(path: &str) -> Option<String> {
        (path == "blog/a.md").then(|| "https://x.org/blog/a/".to_owned())
    }

    #[test]
    fn headings_get_unique_ids_and_a_nested_toc() {
        let r = render(
            "# Intro\n\n## Part\n\n## Part\n\n# Custom {#mine .big}\n",
            &RenderOptions::default(),
            "/p/",
            &resolve,
        );
        assert!(r.html.contains("<h1 id=\"intro\">Intro</h1>"), "{}", r.html);
        assert!(r.html.contains("<h2 id=\"part-1\">Part</h2>"));
        assert!(r.html.contains("<h1 id=\"mine\" class=\"big\">Custom</h1>"));
        assert_eq!(r.anchors, ["intro", "part", "part-1", "mine"]);
        assert_eq!(r.toc.len(), 2);
        assert_eq!(r.toc[0].children.len(), 2);
        assert_eq!(r.toc[0].children[1].permalink, "/p/#part-1");
    }

    #[test]
    fn anchor_links_follow_the_option() {
        let options = RenderOptions {
            anchor_links: AnchorLinks::Right,
            ..RenderOptions::default()
        };
        let r = render("## Hi", &options, "/", &resolve);
        assert!(
            r.html.contains("Hi<a class=\"zola-anchor\" href=\"#hi\""),
            "{}",
            r.html
        );
    }

    #[test]
    fn links_in_headings_resolve_like_the_others() {
        let r = render(
            "## [Part](#part)\n\n## [A](@/blog/a.md)\n",
            &RenderOptions::default(),
            "https://x.org/p/",
            &resolve,
        );
        assert!(
            r.html
                .contains("<h2 id=\"part\"><a href=\"https://x.org/p/#part\">Part</a></h2>"),
            "{}",
            r.html
        );
        assert!(
            r.html
                .contains("<a href=\"https://x.org/blog/a/\">A</a></h2>"),
            "{}",
            r.html
        );
    }

    #[test]
    fn internal_links_resolve_or_report() {
        let r = render(
            "[a](@/blog/a.md#top) and\n[b](@/nope.md)",
            &RenderOptions::default(),
            "/",
            &resolve,
        );
        assert!(
            r.html.contains("href=\"https://x.org/blog/a/#top\""),
            "{}",
            r.html
        );
        assert_eq!(r.anchor_links[0].anchor, "top");
        assert_eq!(r.problems.len(), 1);
        assert!(r.problems[0].message.contains("@/nope.md"));
        assert_eq!(r.problems[0].offset, 25);
    }

    #[test]
    fn extensions_are_on() {
        let r = render(
            "| a |\n|---|\n| b |\n\n~~x~~ [^1]\n\n[^1]: note\n\n- [x] done",
            &RenderOptions::default(),
            "/",
            &resolve,
        );
        for needle in [
            "<table>",
            "<del>x</del>",
            "footnote-definition",
            "<input disabled=\"\" type=\"checkbox\" checked=\"\"/>",
        ] {
            assert!(r.html.contains(needle), "{needle} missing in {}", r.html);
        }
    }

    /// A config whose `[markdown]` table is `toml`, with sitegen's additions.
    fn markdown(toml: &str) -> Config {
        let mut config = Config::default();
        config.markdown = toml::from_str(toml).unwrap();
        config
    }

    #[test]
    fn code_blocks_are_focusable_and_escaped() {
        let source = "```rust\nlet a = 1 < 2;\n```\n\n- [x] done\n";
        let r = render(
            source,
            &RenderOptions::new(&markdown(""), None),
            "/",
            &resolve,
        );
        let expected = "<pre tabindex=\"0\" data-lang=\"rust\"><code class=\"language-rust\" \
                        data-lang=\"rust\">let a = 1 &lt; 2;\n</code></pre>\n";
        assert!(r.html.starts_with(expected), "{}", r.html);
        assert!(r.html.contains("disabled checked aria-label=\"done\""));
        // Without sitegen's additions, as Zola writes them.
        let zola = RenderOptions::default();
        let r = render(source, &zola, "/", &resolve);
        let expected = "<pre><code data-lang=\"rust\">let a = 1 &lt; 2;\n</code></pre>\n";
        assert!(r.html.starts_with(expected), "{}", r.html);
        assert!(
            r.html
                .contains("<input disabled=\"\" type=\"checkbox\" checked=\"\"/>")
        );
    }

    #[test]
    fn external_links_get_attributes_when_asked() {
        let options = RenderOptions::new(&markdown("external_links_target_blank = true"), None);
        let r = render(
            "[x](https://a.org \"t\") [y](/local) ![i](https://a.org/i.png)",
            &options,
            "/",
            &resolve,
        );
        assert!(
            r.html.contains(
                "<a rel=\"noopener external\" target=\"_blank\" title=\"t\" href=\"https://a.org\">x</a>"
            ),
            "{}",
            r.html
        );
        assert!(r.html.contains("<a href=\"/local\">y</a>"));
    }

    #[test]
    fn zola_markdown_options_change_the_output() {
        let options = RenderOptions::new(
            &markdown(
                "lazy_async_image = true\nrender_emoji = true\ndefinition_list = true\n\
                 github_alerts = true\nbottom_footnotes = true",
            ),
            None,
        );
        let r = render(
            "![a *b* <c>](/i.png \"T\") :smile:\n\n`:smile:`\n\nTerm\n: Def\n\n\
             > [!NOTE]\n> Hi\n\nNote[^1].\n\n[^1]: The note.\n",
            &options,
            "/",
            &resolve,
        );
        for expected in [
            "<img src=\"/i.png\" title=\"T\" alt=\"a b &lt;c&gt;\" loading=\"lazy\" decoding=\"async\" /> 😄",
            "<code>:smile:</code>",
            "<dl>",
            "markdown-alert-note",
            "<sup class=\"footnote-reference\" id=\"fr-1-1\"><a href=\"#fn-1\">1</a></sup>",
            "<section class=\"footnotes\">\n<ol class=\"footnotes-list\">\n<li id=\"fn-1\">\n<p>The note. <a href=\"#fr-1-1\">↩</a></p>\n</li>\n</ol>\n</section>\n",
        ] {
            assert!(r.html.contains(expected), "{expected}\n{}", r.html);
        }
    }

    #[test]
    fn relative_links_and_fragments_are_joined_to_the_page_as_zola_does() {
        let md = "[a](diagram.png) [b](#usage) [c](/abs/) [d](../up/) [e](#) [f](mailto:x@y.z) \
                  [g](https://x.org/) <x@y.z> ![i](img/p.png) [h](?q=1)";
        let html = render(
            md,
            &RenderOptions::default(),
            "https://s.org/blog/a/",
            &resolve,
        )
        .html;
        for want in [
            "href=\"https://s.org/blog/a/diagram.png\"",
            "href=\"https://s.org/blog/a/#usage\"",
            "href=\"/abs/\"",
            "href=\"../up/\"",
            "href=\"#\"",
            "href=\"mailto:x@y.z\"",
            "href=\"https://x.org/\"",
            "href=\"mailto:x@y.z\"",
            "src=\"https://s.org/blog/a/img/p.png\"",
            "href=\"https://s.org/blog/a/?q=1\"",
        ] {
            assert!(html.contains(want), "{want} missing in {html}");
        }
    }

    #[test]
    fn the_summary_marker_is_read_as_zola_reads_it() {
        for marker in [
            "<!-- more -->",
            "<!--more-->",
            "<!-- MORE -->",
            "<!--\t MoRe \t-->",
        ] {
            let body = format!("Top.\n\n{marker}\n\nRest.");
            assert_eq!(summary_part(&body), Some(("Top.\n\n", false)), "{marker}");
        }
        assert_eq!(summary_part("Top.\n\n<!-- more than this -->\n"), None);
        // Inside a line, a block is left open; in a quote too.
        assert_eq!(
            summary_part("Top and <!-- more --> rest.\n"),
            Some(("Top and ", true))
        );
        assert_eq!(
            summary_part("> q\n> <!-- more -->\n"),
            Some(("> q\n> ", true))
        );
    }

    #[test]
    fn the_summary_keeps_the_reference_definitions_made_after_the_marker() {
        let body = "See [the docs][docs] and [x].\n\n<!-- more -->\n\nRest.\n\n[docs]: https://d.org/ \"Docs\"\n[x]: /x/\n";
        let source = summary_source(body).unwrap().markdown;
        let html = render(&source, &RenderOptions::default(), "/p/", &resolve).html;
        assert!(
            html.contains("<a href=\"https://d.org/\" title=\"Docs\">the docs</a>"),
            "{html}"
        );
        assert!(html.contains("<a href=\"/x/\">x</a>"), "{html}");
        assert!(!html.contains("Rest"), "{html}");
        // Without definitions after the marker, the part before it is the source.
        let source = summary_source("A.\n<!-- more -->\nB.").unwrap();
        assert_eq!((source.markdown.as_ref(), source.open), ("A.\n", false));
    }

    #[test]
    fn words_are_counted_as_zola_counts_them_outside_code_fences() {
        assert_eq!(super::word_count("Don't panic — it's fine."), 4);
        assert_eq!(
            super::word_count("One two\n```rust\nlet a = b;\n```\nthree"),
            3
        );
        // An unclosed fence hides the rest, as in Zola.
        assert_eq!(super::word_count("a b\n```\nc d"), 2);
    }

    #[test]
    fn summary_and_reading_time() {
        assert_eq!(
            summary_part("intro\n<!-- more -->\nrest"),
            Some(("intro\n", false))
        );
        assert_eq!(summary_part("no marker"), None);
        assert_eq!(
            summary_part("```\n<!-- more -->\n```\ntext"),
            None,
            "not inside code"
        );
        assert_eq!(
            summary_part("say `<!-- more -->` inline"),
            None,
            "not inside inline code"
        );
        assert_eq!(reading_time(0), 0);
        assert_eq!(reading_time(201), 2);
        let r = render(
            "a\n\n<!-- more -->\n\nb",
            &RenderOptions::default(),
            "/",
            &resolve,
        );
        assert!(
            r.html.contains("<span id=\"continue-reading\"></span>"),
            "{}",
            r.html
        );
    }
}
