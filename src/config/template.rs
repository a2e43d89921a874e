//! The config as templates see it: `config` in every template, with every key Zola's
//! serialization gives templates (`config.mode`, `config.languages`, `config.markdown.*`,
//! `config.build_search_index`, `config.search`, …) beside sitegen's own.
//!
//! Keys sitegen implements come from its own serialization; the Zola keys it does not
//! implement get the value Zola would give them, so templates that read them render as they do
//! under Zola.

use serde_json::{Map, Value, json};

use crate::config::Config;

impl Config {
    /// The value of `config` in templates.
    pub(crate) fn template_value(&self) -> Value {
        let mut value = serde_json::to_value(self).unwrap_or(Value::Null);
        let Value::Object(map) = &mut value else {
            return value;
        };
        // Zola's `mode`: sitegen's preview writes what a build writes, so it is always `build`.
        fill(
            map,
            [
                ("mode", json!("build")),
                ("languages", json!({})),
                ("generate_feed", json!(self.generate_feeds)),
                ("build_search_index", json!(self.build_search_index)),
                (
                    "search",
                    json!({ "index_format": "elasticlunr_javascript" }),
                ),
            ],
        );
        if let Some(Value::Object(markdown)) = map.get_mut("markdown") {
            fill(
                markdown,
                [
                    ("highlighting", Value::Null),
                    ("render_emoji", json!(self.markdown.render_emoji)),
                    ("external_links_class", Value::Null),
                    ("external_links_external", json!(true)),
                    ("definition_list", json!(false)),
                    ("bottom_footnotes", json!(self.markdown.bottom_footnotes)),
                    ("lazy_async_image", json!(false)),
                    ("github_alerts", json!(false)),
                ],
            );
        }
        value
    }
}

/// Inserts each `(key, value)` that `map` does not have.
fn fill<const N: usize>(map: &mut Map<String, Value>, entries: [(&str, Value); N]) {
    for (key, value) in entries {
        map.entry(key).or_insert(value);
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    #[test]
    fn templates_see_zolas_keys() {
        let value = Config::default().template_value();
        assert_eq!(value["mode"], "build");
        assert_eq!(value["build_search_index"], false);
        assert_eq!(value["markdown"]["external_links_external"], true);
        assert_eq!(value["markdown"]["smart_punctuation"], false);
        assert_eq!(value["search"]["index_format"], "elasticlunr_javascript");
    }
}
