//! Heading anchor links, made as Zola makes them: by the template `anchor-link.html` (the
//! site's, its theme's, or Zola's built-in one), with `id`, `level` and `lang`.
//!
//! Markdown knows no templates: load (summaries) and render (content) hand
//! [`AnchorTemplate::render`] to it as a hook. The template is rendered with tera's own
//! functions and filters only, since it runs while the site is still being loaded.

use tera::{Context, Tera};

use crate::diagnostics::error_chain;
use crate::site::Site;

/// The name of the template.
pub(crate) const ANCHOR_LINK: &str = "anchor-link.html";

/// `anchor-link.html` and the templates it uses, compiled.
pub(crate) struct AnchorTemplate {
    tera: Tera,
    lang: String,
}

impl AnchorTemplate {
    /// The anchor link template of `site`.
    pub(crate) fn new(site: &Site) -> Self {
        let mut tera = Tera::default();
        if let Some(anchor) = site.template(ANCHOR_LINK) {
            for name in &anchor.uses.closure {
                if let Some(t) = site.template(name) {
                    tera.templates.insert(t.name.clone(), t.parsed.clone());
                }
            }
        }
        // A broken chain shows when a heading's link is rendered.
        let _ = tera.build_inheritance_chains();
        Self {
            tera,
            lang: site.config.default_language.clone(),
        }
    }

    /// The anchor link of the heading `id` of `level` (1 to 6), in the default language.
    pub(crate) fn render(&self, id: &str, level: u32) -> Result<String, String> {
        self.render_in(id, level, &self.lang)
    }

    /// The anchor link of the heading `id` of `level` in a document of language `lang`.
    pub(crate) fn render_in(&self, id: &str, level: u32, lang: &str) -> Result<String, String> {
        let mut context = Context::new();
        context.insert("id", id);
        context.insert("level", &level);
        context.insert("lang", lang);
        self.tera
            .render(ANCHOR_LINK, &context)
            .map_err(|e| format!("cannot render `{ANCHOR_LINK}`: {}", error_chain(&e)))
    }
}
