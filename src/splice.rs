//! HTML spliced into markdown at placeholders: how the output of `.html` shortcodes reaches
//! the page without being read as markdown, as Zola does it.
//!
//! Render's shortcode pass replaces each call by a placeholder (`@@SITEGENSC<n>@@`, text that
//! markdown, emphasis and smart punctuation leave alone) and renders the shortcode; markdown
//! then runs its events through [`events`], which puts output `n` where placeholder `n` is: as
//! raw HTML in text and HTML (a paragraph holding nothing but the placeholder loses its `<p>`,
//! as in Zola), as text in code, where it is escaped like the code around it. Pure; part of the
//! ground floor so that `markdown` needs no stage.

use std::collections::VecDeque;
use std::ops::Range;

use pulldown_cmark::{CowStr, Event, Tag, TagEnd};

/// The start of every placeholder.
pub(crate) const PREFIX: &str = "@@SITEGENSC";

/// Whether `text` may hold shortcode calls at all (Zola's own shortcut).
pub(crate) fn may_have_calls(text: &str) -> bool {
    text.contains("{{") || text.contains("{%")
}

/// The placeholder of output `index`.
pub(crate) fn placeholder(index: usize) -> String {
    format!("{PREFIX}{index}@@")
}

/// The events of `parser` over `body`, with `outputs` spliced in at their placeholders.
pub(crate) fn events<'a, I>(
    parser: I,
    body: &'a str,
    outputs: &'a [String],
) -> impl Iterator<Item = (Event<'a>, Range<usize>)> + 'a
where
    I: Iterator<Item = (Event<'a>, Range<usize>)> + 'a,
{
    Splice {
        inner: parser.peekable(),
        body,
        outputs,
        in_code: false,
        paragraphs: Vec::new(),
        pending: VecDeque::new(),
    }
}

struct Splice<'a, I: Iterator<Item = (Event<'a>, Range<usize>)>> {
    inner: std::iter::Peekable<I>,
    body: &'a str,
    outputs: &'a [String],
    in_code: bool,
    /// Per open paragraph, whether its tags are dropped (it holds one placeholder only).
    paragraphs: Vec<bool>,
    pending: VecDeque<(Event<'a>, Range<usize>)>,
}

impl<'a, I: Iterator<Item = (Event<'a>, Range<usize>)>> Iterator for Splice<'a, I> {
    type Item = (Event<'a>, Range<usize>);

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(item) = self.pending.pop_front() {
            return Some(item);
        }
        let (event, range) = self.inner.next()?;
        if self.outputs.is_empty() {
            return Some((event, range));
        }
        match event {
            Event::Start(Tag::CodeBlock(_)) => self.in_code = true,
            Event::End(TagEnd::CodeBlock) => self.in_code = false,
            Event::Start(Tag::Paragraph) => {
                let alone = is_placeholder(self.body.get(range.clone()).unwrap_or("").trim());
                self.paragraphs.push(alone);
                if alone {
                    return self.next();
                }
            }
            // The guard pops the paragraph, dropped or not.
            Event::End(TagEnd::Paragraph) if self.paragraphs.pop() == Some(true) => {
                return self.next();
            }
            Event::Text(text) => {
                // Pulldown-cmark may cut text at characters it considered as delimiters.
                let mut text = text;
                let mut end = range.end;
                while let Some((Event::Text(_), _)) = self.inner.peek() {
                    if let Some((Event::Text(more), more_range)) = self.inner.next() {
                        let mut joined = text.into_string();
                        joined.push_str(&more);
                        text = joined.into();
                        end = more_range.end;
                    }
                }
                let range = range.start..end;
                if !text.contains(PREFIX) {
                    return Some((Event::Text(text), range));
                }
                if self.in_code {
                    return Some((Event::Text(self.replace(&text).into()), range));
                }
                self.split(&text, &range);
                return self.next();
            }
            Event::Code(text) if text.contains(PREFIX) => {
                return Some((Event::Code(self.replace(&text).into()), range));
            }
            Event::Html(text) if text.contains(PREFIX) => {
                return Some((Event::Html(self.replace(&text).into()), range));
            }
            Event::InlineHtml(text) if text.contains(PREFIX) => {
                return Some((Event::InlineHtml(self.replace(&text).into()), range));
            }
            _ => {}
        }
        Some((event, range))
    }
}

impl<'a, I: Iterator<Item = (Event<'a>, Range<usize>)>> Splice<'a, I> {
    /// `text` with every placeholder replaced by its output.
    fn replace(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        for piece in pieces(text) {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Output(i) => out.push_str(self.output(i)),
            }
        }
        out
    }

    /// Text events around HTML events, queued.
    fn split(&mut self, text: &str, range: &Range<usize>) {
        for piece in pieces(text) {
            let event = match piece {
                Piece::Text("") => continue,
                Piece::Text(t) => Event::Text(CowStr::from(t.to_owned())),
                Piece::Output(i) => Event::Html(CowStr::from(self.output(i).to_owned())),
            };
            self.pending.push_back((event, range.clone()));
        }
    }

    fn output(&self, index: usize) -> &'a str {
        self.outputs.get(index).map_or("", String::as_str)
    }
}

enum Piece<'t> {
    Text(&'t str),
    Output(usize),
}

/// `text` cut into text and placeholders.
fn pieces(text: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(PREFIX) {
        let after = &rest[start + PREFIX.len()..];
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        let index = after[..digits].parse::<usize>().ok();
        match index {
            Some(index) if after[digits..].starts_with("@@") => {
                out.push(Piece::Text(&rest[..start]));
                out.push(Piece::Output(index));
                rest = &after[digits + 2..];
            }
            _ => {
                out.push(Piece::Text(&rest[..start + PREFIX.len()]));
                rest = after;
            }
        }
    }
    out.push(Piece::Text(rest));
    out
}

/// Whether `text` is one placeholder and nothing else.
fn is_placeholder(text: &str) -> bool {
    text.strip_prefix(PREFIX)
        .and_then(|rest| rest.strip_suffix("@@"))
        .is_some_and(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use pulldown_cmark::{Parser, html};

    use super::{events, placeholder};

    fn render(body: &str, outputs: &[String]) -> String {
        let mut out = String::new();
        let parser = Parser::new(body).into_offset_iter();
        html::push_html(&mut out, events(parser, body, outputs).map(|(e, _)| e));
        out
    }

    #[test]
    fn outputs_go_in_raw_in_text_and_escaped_in_code() {
        let outputs = vec!["<b>x</b>".to_owned(), "<i>".to_owned()];
        let body = format!(
            "a {} c\n\n{}\n\n```\n{}\n```\n",
            placeholder(0),
            placeholder(0),
            placeholder(1)
        );
        assert_eq!(
            render(&body, &outputs),
            "<p>a <b>x</b> c</p>\n<b>x</b>\n<pre><code>&lt;i&gt;\n</code></pre>\n"
        );
    }
}
