//! The options of Zola's `[markdown]` table that change the events markdown renders: external
//! link tags, lazy images, emoji and bottom footnotes, each written as Zola 0.22 writes it.
//!
//! Kept apart from `markdown.rs`, which calls these at one place each: the rendering loop stays
//! about headings, links and code, and these stay about Zola's output. Pure, like markdown.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, LazyLock};

use pulldown_cmark::{CowStr, Event, Options as Extensions, Tag, TagEnd};

use crate::config::MarkdownConfig;

/// What `[markdown]` asks of external links and images.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ZolaOptions {
    /// `rel="external"`.
    pub(crate) external: bool,
    /// `class="…"`.
    pub(crate) class: Option<Arc<str>>,
    /// `target="_blank"` and `rel="noopener"`.
    pub(crate) target_blank: bool,
    /// `rel="nofollow"`.
    pub(crate) no_follow: bool,
    /// `rel="noreferrer"`.
    pub(crate) no_referrer: bool,
    /// Definition lists.
    pub(crate) definition_list: bool,
    /// GitHub alerts.
    pub(crate) github_alerts: bool,
    /// `loading="lazy" decoding="async"` on images.
    pub(crate) lazy_async_image: bool,
    /// Footnotes at the bottom, GitHub style.
    pub(crate) bottom_footnotes: bool,
    /// `:shortcode:` emoji.
    pub(crate) render_emoji: bool,
}

impl ZolaOptions {
    /// The options of `config`.
    pub(crate) fn new(config: &MarkdownConfig) -> Self {
        Self {
            external: config.external_links_external,
            class: config.external_links_class.as_deref().map(Arc::from),
            target_blank: config.external_links_target_blank,
            no_follow: config.external_links_no_follow,
            no_referrer: config.external_links_no_referrer,
            definition_list: config.definition_list,
            github_alerts: config.github_alerts,
            lazy_async_image: config.lazy_async_image,
            bottom_footnotes: config.bottom_footnotes,
            render_emoji: config.render_emoji,
        }
    }

    /// The parser extensions these options add.
    pub(crate) fn extensions(&self) -> Extensions {
        let mut extensions = Extensions::empty();
        if self.definition_list {
            extensions |= Extensions::ENABLE_DEFINITION_LIST;
        }
        if self.github_alerts {
            extensions |= Extensions::ENABLE_GFM;
        }
        extensions
    }

    /// Whether external links get a tag of their own (Zola's `has_external_link_tweaks`).
    pub(crate) fn tweaks_external_links(&self) -> bool {
        self.external
            || self.class.is_some()
            || self.target_blank
            || self.no_follow
            || self.no_referrer
    }

    /// The opening tag of an external link, attributes in Zola's order (class, rel, target,
    /// title, href).
    pub(crate) fn external_link_open(&self, url: &str, title: &str) -> String {
        let mut tag = String::from("<a ");
        if let Some(class) = &self.class {
            let _ = write!(tag, "class=\"{class}\" ");
        }
        let mut rel = Vec::new();
        if self.target_blank {
            rel.push("noopener");
        }
        if self.no_follow {
            rel.push("nofollow");
        }
        if self.no_referrer {
            rel.push("noreferrer");
        }
        if self.external {
            rel.push("external");
        }
        if !rel.is_empty() {
            let _ = write!(tag, "rel=\"{}\" ", rel.join(" "));
        }
        if self.target_blank {
            tag.push_str("target=\"_blank\" ");
        }
        if !title.is_empty() {
            let _ = write!(
                tag,
                "title=\"{}\" ",
                html_escape::encode_double_quoted_attribute(title)
            );
        }
        let _ = write!(tag, "href=\"{}\">", escape_href(url));
        tag
    }
}

/// Escapes a URL for an attribute as pulldown-cmark's `escape_href` does: `&` and `'` as
/// entities, other bytes outside its safe set percent-encoded.
fn escape_href(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    for c in url.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '\'' => out.push_str("&#x27;"),
            c if c.is_ascii_alphanumeric() || "!#$%()*+,-./:;=?@^_~".contains(c) => out.push(c),
            c => {
                let mut bytes = [0; 4];
                for b in c.encode_utf8(&mut bytes).bytes() {
                    let _ = write!(out, "%{b:02X}");
                }
            }
        }
    }
    out
}

/// The opening of an image with `loading="lazy"`: `<img src="…" title="…" alt="`, whose alt
/// text follows as escaped HTML and whose end is [`LAZY_IMAGE_END`] (Zola's markup).
pub(crate) fn lazy_image_open(url: &str, title: &str) -> String {
    let mut tag = format!("<img src=\"{}", escape_href(url));
    if !title.is_empty() {
        let _ = write!(tag, "\" title=\"{}", escape_href(title));
    }
    tag.push_str("\" alt=\"");
    tag
}

/// The end of an image opened by [`lazy_image_open`].
pub(crate) const LAZY_IMAGE_END: &str = "\" loading=\"lazy\" decoding=\"async\" />";

/// Text with `:shortcode:` emoji replaced, as Zola's `render_emoji` does.
pub(crate) fn emoji(text: CowStr<'_>) -> CowStr<'_> {
    static REPLACER: LazyLock<gh_emoji::Replacer> = LazyLock::new(gh_emoji::Replacer::new);
    if !text.contains(':') {
        return text;
    }
    match REPLACER.replace_all(&text) {
        std::borrow::Cow::Borrowed(_) => text,
        std::borrow::Cow::Owned(replaced) => replaced.into(),
    }
}

/// Moves footnote definitions to the end, in order of first reference, GitHub style, with back
/// links: Zola's `convert_footnotes_to_github_style`, event for event.
pub(crate) fn bottom_footnotes(old_events: &mut Vec<Event<'_>>) {
    let events = std::mem::take(old_events);
    // Footnote bodies on a stack, as a footnote can hold footnotes.
    let mut bodies: Vec<Vec<Event<'_>>> = Vec::new();
    let mut footnotes: Vec<Vec<Event<'_>>> = Vec::new();
    let mut numbers: HashMap<CowStr<'_>, (usize, usize)> = HashMap::new();
    for event in events {
        match event {
            Event::Start(Tag::FootnoteDefinition(_)) => bodies.push(vec![event]),
            Event::End(TagEnd::FootnoteDefinition) => {
                if let Some(mut body) = bodies.pop() {
                    body.push(event);
                    footnotes.push(body);
                }
            }
            Event::FootnoteReference(name) => {
                let n = numbers.len() + 1;
                let (n, nr) = numbers.entry(name.clone()).or_insert((n, 0));
                *nr += 1;
                let reference = Event::Html(
                    format!(
                        r##"<sup class="footnote-reference" id="fr-{name}-{nr}"><a href="#fn-{name}">{n}</a></sup>"##
                    )
                    .into(),
                );
                match bodies.last_mut() {
                    Some(body) => body.push(reference),
                    None => old_events.push(reference),
                }
            }
            other => match bodies.last_mut() {
                Some(body) => body.push(other),
                None => old_events.push(other),
            },
        }
    }
    if footnotes.is_empty() {
        return;
    }
    old_events.push(Event::Html(
        "<section class=\"footnotes\">\n<ol class=\"footnotes-list\">\n".into(),
    ));
    let number = |f: &Vec<Event<'_>>| match f.first() {
        Some(Event::Start(Tag::FootnoteDefinition(name))) => numbers.get(name).copied(),
        _ => None,
    };
    // Only footnotes referenced, in the order of their first reference.
    footnotes.retain(|f| number(f).is_some_and(|n| n.1 != 0));
    footnotes.sort_by_cached_key(|f| number(f).map_or(0, |n| n.0));
    for footnote in footnotes {
        // The back links go into the footnote's last paragraph, or after its last tag.
        let mut name = CowStr::from("");
        let mut written = false;
        let len = footnote.len();
        for (i, event) in footnote.into_iter().enumerate() {
            match event {
                Event::Start(Tag::FootnoteDefinition(def)) => {
                    old_events.push(Event::Html(format!("<li id=\"fn-{def}\">").into()));
                    name = def;
                    written = false;
                }
                Event::End(end @ (TagEnd::FootnoteDefinition | TagEnd::Paragraph))
                    if !written && i + 2 >= len =>
                {
                    let count = numbers.get(&name).map_or(0, |n| n.1);
                    let mut html = back_links(&name, count);
                    html.push_str(if end == TagEnd::FootnoteDefinition {
                        "</li>\n"
                    } else {
                        "</p>\n"
                    });
                    written = true;
                    old_events.push(Event::Html(html.into()));
                }
                Event::End(TagEnd::FootnoteDefinition) => {
                    old_events.push(Event::Html("</li>\n".into()));
                }
                other => old_events.push(other),
            }
        }
    }
    old_events.push(Event::Html("</ol>\n</section>\n".into()));
}

/// ` ↩ ↩2 …`: one back link per reference to footnote `name`.
fn back_links(name: &str, count: usize) -> String {
    let mut links = String::new();
    for usage in 1..=count {
        let _ = write!(links, " <a href=\"#fr-{name}-{usage}\">↩");
        if usage > 1 {
            let _ = write!(links, "{usage}");
        }
        links.push_str("</a>");
    }
    links
}

#[cfg(test)]
mod tests {
    use super::{ZolaOptions, escape_href};

    #[test]
    fn external_link_tags_follow_zolas_order() {
        let options = ZolaOptions {
            external: true,
            ..ZolaOptions::default()
        };
        assert_eq!(
            options.external_link_open("https://a.org/?q=1&r=2", ""),
            "<a rel=\"external\" href=\"https://a.org/?q=1&amp;r=2\">"
        );
        let options = ZolaOptions {
            external: true,
            class: Some("ext".into()),
            target_blank: true,
            no_follow: true,
            no_referrer: true,
            ..ZolaOptions::default()
        };
        assert_eq!(
            options.external_link_open("https://a.org", "T"),
            "<a class=\"ext\" rel=\"noopener nofollow noreferrer external\" target=\"_blank\" title=\"T\" href=\"https://a.org\">"
        );
        assert!(!ZolaOptions::default().tweaks_external_links());
    }

    #[test]
    fn hrefs_are_escaped_as_pulldown_cmark_does() {
        assert_eq!(escape_href("a b\"é&'"), "a%20b%22%C3%A9&amp;&#x27;");
    }
}
