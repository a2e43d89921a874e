//! HTML minification (minify-html), with its inline CSS (inline JS is left as written). minify-html is the heaviest
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
        // Not inline JavaScript, as Zola: minify-js panics on valid scripts (and a script is
        // the user's code, which a minifier must not change the meaning of).
        minify_js: false,
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

    #[test]
    fn leaves_inline_scripts_as_written() {
        let script = "window.goatcounter = { path: function(p) { return location.host + p } };\n  var  x = 1;";
        let html =
            format!("<!DOCTYPE html><html><body><p>a</p><script>{script}</script></body></html>");
        let small = String::from_utf8(super::html(html.as_bytes())).unwrap();
        assert!(small.contains(script), "{small}");
    }
}
