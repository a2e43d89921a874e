//! The `markdown` filter: a string rendered as markdown, with its shortcodes, as Zola's.
//!
//! Part of render, registered with the templates once they are compiled: it renders the
//! shortcodes it meets with those same templates, which it reaches through a handle set after
//! compiling.

use std::collections::HashMap;
use std::sync::{Arc, Weak};

use serde_json::Value;
use tera::Tera;

use crate::render::templates::TemplatesHandle;
use crate::site::Site;

/// Registers the `markdown` filter of `site` in `tera`, whose compiled templates `templates`
/// will hold.
pub(crate) fn register(tera: &mut Tera, site: &Arc<Site>, templates: &TemplatesHandle) {
    tera.register_filter(
        "markdown",
        MarkdownFilter {
            anchor: crate::site::anchor::AnchorTemplate::new(site),
            site: Arc::clone(site),
            templates: Arc::clone(templates),
        },
    );
}

fn bool_arg(args: &HashMap<String, Value>, name: &str) -> bool {
    args.get(name).and_then(Value::as_bool).unwrap_or(false)
}

/// `markdown(inline=false)`: renders a string as markdown, with its shortcodes, which see
/// `config` and `lang` (as in Zola, not the page).
struct MarkdownFilter {
    site: Arc<Site>,
    anchor: crate::site::anchor::AnchorTemplate,
    templates: TemplatesHandle,
}

impl tera::Filter for MarkdownFilter {
    fn filter(&self, value: &Value, args: &HashMap<String, Value>) -> tera::Result<Value> {
        let text = value
            .as_str()
            .ok_or_else(|| tera::Error::msg("`markdown` filters strings only"))?;
        let options = crate::markdown::RenderOptions::new(&self.site.config, None)
            .with_anchors(self.site.config.slugify.anchors);
        let resolve = |path: &str| self.site.permalink_of(path);
        let anchor_link = |id: &str, level: u32| self.anchor.render(id, level);
        let context = || {
            let mut ctx = tera::Context::new();
            ctx.insert("config", &self.site.config.template_value());
            ctx.insert("lang", &self.site.config.default_language);
            ctx
        };
        let expanded = match self.templates.get().and_then(Weak::upgrade) {
            Some(templates) => crate::render::shortcodes::expand(text, &templates, &context)
                .map_err(|errors| {
                    let messages: Vec<String> = errors.into_iter().map(|e| e.message).collect();
                    tera::Error::msg(format!("`markdown`: {}", messages.join("; ")))
                })?,
            None => None,
        };
        let (text, spliced) = expanded
            .as_ref()
            .map_or((text, &[][..]), |e| (e.text.as_str(), &e.html[..]));
        let mut html =
            crate::markdown::render_spliced(text, &options, "", &resolve, &anchor_link, spliced)
                .html;
        if bool_arg(args, "inline") {
            // Zola's rule, to the byte.
            html = html
                .trim_start_matches("<p>")
                .trim_end_matches("</p>\n")
                .to_owned();
        }
        Ok(Value::String(html))
    }

    fn is_safe(&self) -> bool {
        true
    }
}
