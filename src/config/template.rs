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
    /// The value of `config` in the templates of the default language.
    pub(crate) fn template_value(&self) -> Value {
        self.template_value_for(&self.default_language)
    }

    /// The value of `config` in the templates of language `lang`, as Zola's `serialize(lang)`:
    /// that language's title, description, feeds, taxonomies and search flag, and in
    /// `languages` the options of every other language (the default one's included).
    pub(crate) fn template_value_for(&self, lang: &str) -> Value {
        let mut value = serde_json::to_value(self).unwrap_or(Value::Null);
        let Value::Object(map) = &mut value else {
            return value;
        };
        let languages: Map<String, Value> = self
            .language_codes()
            .filter(|code| *code != lang)
            .filter_map(|code| {
                let options = self.language(code)?;
                Some((code.to_owned(), serde_json::to_value(options).ok()?))
            })
            .collect();
        map.insert("languages".to_owned(), Value::Object(languages));
        if lang != self.default_language
            && let Some(options) = self.languages.get(lang)
        {
            map.insert("title".to_owned(), json!(options.title));
            map.insert("description".to_owned(), json!(options.description));
            map.insert("generate_feeds".to_owned(), json!(options.generate_feeds));
            map.insert("generate_feed".to_owned(), json!(options.generate_feeds));
            map.insert("feed_filenames".to_owned(), json!(options.feed_filenames));
            map.insert("taxonomies".to_owned(), json!(options.taxonomies));
            map.insert(
                "build_search_index".to_owned(),
                json!(options.build_search_index),
            );
        }
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
