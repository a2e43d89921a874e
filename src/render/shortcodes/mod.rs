//! Shortcodes: `{{ name(arg=value) }}` and `{% name() %}body{% end %}` in markdown, rendered
//! with `templates/shortcodes/NAME.html` or `NAME.md` (the site's, else the theme's), as Zola
//! does it.
//!
//! A pre-pass over the body before markdown ([`expand`]): calls are found ([`parse`]), `.md`
//! shortcodes are rendered and their output put in the markdown (so it is read as markdown),
//! `.html` shortcodes are rendered and left as placeholders that markdown splices their output
//! into untouched (`crate::splice`). A call to a shortcode that does not exist, or whose
//! template fails, is an error at the call; rendering a page notes which shortcodes it used, so
//! a change of one re-renders the pages that call it.

pub(crate) mod parse;
pub(crate) mod summary;

use serde_json::Value;
use tera::Context;

use crate::plan::reason::Dep;
use crate::render::reads;
use crate::render::templates::Templates;
use crate::splice::placeholder;
use parse::{Call, Edit};

/// A body with its shortcodes expanded.
#[derive(Debug)]
pub(crate) struct Expanded {
    /// The markdown: `.md` shortcodes' output in place, placeholders for the `.html` ones.
    pub(crate) text: String,
    /// The output of each placeholder (empty for `.md` shortcodes).
    pub(crate) html: Vec<String>,
    /// Where `text` differs from the body.
    edits: Vec<Edit>,
}

impl Expanded {
    /// The byte offset in the body of byte `offset` of the expanded text.
    pub(crate) fn source_offset(&self, offset: usize) -> usize {
        let Some(edit) = self.edits.iter().rev().find(|e| e.at <= offset) else {
            return offset;
        };
        if offset < edit.at + edit.len {
            edit.source_at
        } else {
            edit.source_at + edit.source_len + (offset - edit.at - edit.len)
        }
    }
}

/// Renders the markdown of `doc`: `source` as it is, or its `expanded` form with the `.html`
/// shortcodes' output spliced in.
pub(crate) fn render_markdown(
    source: &str,
    expanded: Option<&Expanded>,
    doc: &crate::site::Document,
    resolve: &dyn Fn(&str) -> Option<String>,
    anchor: crate::markdown::AnchorHook<'_>,
) -> crate::markdown::Markup {
    let (text, html) = expanded.map_or((source, &[][..]), |e| (e.text.as_str(), &e.html[..]));
    crate::markdown::render_spliced(text, &doc.markdown, &doc.permalink, resolve, anchor, html)
}

/// A call that cannot be rendered: byte offset in the body, message, hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CallError {
    /// Byte offset of the call in the body.
    pub(crate) offset: usize,
    /// What is wrong.
    pub(crate) message: String,
    /// What to do.
    pub(crate) help: String,
}

/// Expands the shortcodes of `body`; `None` when it has neither calls nor escaped calls.
/// `context` makes what every call sees besides its arguments (`config`, `lang`, `page` or
/// `section`); it is called once, and only when there are calls.
pub(crate) fn expand(
    body: &str,
    templates: &Templates,
    context: &dyn Fn() -> Context,
) -> Result<Option<Expanded>, Vec<CallError>> {
    if !crate::splice::may_have_calls(body) {
        return Ok(None);
    }
    let parsed = parse::parse(body).map_err(|e| {
        vec![CallError {
            offset: e.offset,
            message: e.message,
            help: "a body shortcode is `{% name(…) %}`, its body, and `{% end %}`; to show a tag as text, write `{%/* … */%}`".to_owned(),
        }]
    })?;
    if parsed.edits.is_empty() {
        return Ok(None);
    }
    let base = if parsed.calls.is_empty() {
        Context::new()
    } else {
        context()
    };
    let count = count_calls(&parsed.calls);
    let mut html = vec![String::new(); count];
    let mut errors = Vec::new();
    let mut outputs: Vec<Option<(String, bool)>> = Vec::with_capacity(parsed.calls.len());
    for call in &parsed.calls {
        outputs.push(render(call, templates, &base, &mut errors));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    // The text, with `.md` outputs in place of their placeholders.
    let mut text = String::with_capacity(parsed.text.len());
    let mut edits = Vec::with_capacity(parsed.edits.len());
    let mut copied = 0;
    for edit in &parsed.edits {
        text.push_str(&parsed.text[copied..edit.at]);
        let at = text.len();
        let written = &parsed.text[edit.at..edit.at + edit.len];
        match edit
            .call
            .and_then(|i| Some((&parsed.calls[i], outputs[i].take()?)))
        {
            Some((_, (output, true))) => text.push_str(&output),
            Some((call, (output, false))) => {
                html[call.index] = output;
                text.push_str(written);
            }
            None => text.push_str(written),
        }
        edits.push(Edit {
            at,
            len: text.len() - at,
            ..*edit
        });
        copied = edit.at + edit.len;
    }
    text.push_str(&parsed.text[copied..]);
    Ok(Some(Expanded { text, html, edits }))
}

fn count_calls(calls: &[Call]) -> usize {
    calls
        .iter()
        .map(|c| c.index + 1)
        .chain(calls.iter().map(|c| count_calls(&c.inner)))
        .max()
        .unwrap_or(0)
}

/// The template of shortcode `name`: `shortcodes/NAME.html`, else `shortcodes/NAME.md`.
fn template_of(templates: &Templates, name: &str) -> Option<(String, bool)> {
    let html = format!("shortcodes/{name}.html");
    if templates.has(&html) {
        return Some((html, false));
    }
    let md = format!("shortcodes/{name}.md");
    templates.has(&md).then_some((md, true))
}

/// Renders `call` (its body's calls first): its output and whether it is markdown.
fn render(
    call: &Call,
    templates: &Templates,
    base: &Context,
    errors: &mut Vec<CallError>,
) -> Option<(String, bool)> {
    reads::record(Dep::Shortcode(call.name.clone()));
    let Some((template, markdown)) = template_of(templates, &call.name) else {
        errors.push(CallError {
            offset: call.offset,
            message: format!(
                "unknown shortcode `{}`: there is no templates/shortcodes/{}.html or .md",
                call.name, call.name
            ),
            help: format!(
                "create templates/shortcodes/{}.html (or .md), fix the name, or write the call as `{{{{/* … */}}}}` to show it as text",
                call.name
            ),
        });
        return None;
    };
    let mut ctx = Context::from_value(Value::Object(call.args.clone())).unwrap_or_default();
    if let Some(body) = &call.body {
        let mut body = body.clone();
        for inner in &call.inner {
            // Inner calls are rendered whatever their kind, as in Zola.
            let output = render(inner, templates, base, errors)
                .map(|(o, _)| o)
                .unwrap_or_default();
            body = body.replacen(&placeholder(inner.index), &output, 1);
        }
        // Trimmed so that a body does not end its HTML with a new line, as in Zola.
        ctx.insert("body", body.trim_end());
    }
    ctx.insert("nth", &call.nth);
    ctx.extend(base.clone());
    match templates.render_shortcode(&template, &ctx) {
        Ok(output) => Some((output.replace("\r\n", "\n"), markdown)),
        Err((what, location)) => {
            let place = location.map_or_else(
                || format!("templates/{template}"),
                |l| match l.line {
                    Some(line) => format!("{}:{line}", l.file.display()),
                    None => l.file.display().to_string(),
                },
            );
            errors.push(CallError {
                offset: call.offset,
                message: format!("shortcode `{}` failed: {what} (at {place})", call.name),
                help: format!(
                    "fix the template at {place}, or the call's arguments (every argument the template reads must be given)"
                ),
            });
            None
        }
    }
}
