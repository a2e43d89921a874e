//! Stage 4, post: rendered text → the bytes written, one output at a time.
//!
//! Pure. Minifies HTML (with its inline CSS and JS) when the config asks for it; other files
//! pass through. Step 5 of the roadmap adds lol_html rewriting here.

use std::sync::OnceLock;

/// Post-processes the output written to `file`.
pub fn process(file: &str, text: String, minify: bool) -> Vec<u8> {
    if minify && is_html(file) {
        minify_html::minify(text.as_bytes(), cfg())
    } else {
        text.into_bytes()
    }
}

fn is_html(file: &str) -> bool {
    file.ends_with(".html") || file.ends_with(".htm")
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
    use super::process;

    #[test]
    fn minifies_html_only_when_asked() {
        let html = "<!DOCTYPE html>\n<html>\n  <body>\n    <p>a   b</p>\n  <style> p { color : red ; } </style></body>\n</html>\n".to_owned();
        let small = String::from_utf8(process("a/index.html", html.clone(), true)).unwrap();
        assert!(small.len() < html.len(), "{small}");
        assert!(small.contains("<p>a b</p>"), "{small}");
        assert!(small.contains("p{color:red}"), "{small}");
        assert_eq!(
            process("a/index.html", html.clone(), false),
            html.as_bytes()
        );
        assert_eq!(process("feed.xml", html.clone(), true), html.as_bytes());
    }
}
