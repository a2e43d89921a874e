//! HTML minification (minify-html), with its inline CSS and JS. minify-html is the heaviest
//! dependency of the build: it stays in this one module.

use std::sync::OnceLock;

/// `html` minified.
pub(crate) fn html(html: &[u8]) -> Vec<u8> {
    minify_html::minify(html, cfg())
}

fn cfg() -> &'static minify_html::Cfg {
    static CFG: OnceLock<minify_html::Cfg> = OnceLock::new();
    CFG.get_or_init(|| minify_html::Cfg {
        minify_css: true,
        minify_js: true,
        // Spec-compliant output only: browsers and validators must read it as the original.
        keep_closing_tags: true,
        keep_html_and_head_opening_tags: true,
        ..minify_html::Cfg::default()
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn minifies_html_with_its_css() {
        let html = "<!DOCTYPE html>\n<html>\n  <body>\n    <p>a   b</p>\n  <style> p { color : red ; } </style></body>\n</html>\n";
        let small = String::from_utf8(super::html(html.as_bytes())).unwrap();
        assert!(small.len() < html.len(), "{small}");
        assert!(small.contains("<p>a b</p>"), "{small}");
        assert!(small.contains("p{color:red}"), "{small}");
    }
}
