//! Zola's own filters beside tera's: `base64_encode`, `base64_decode`, `regex_replace` and
//! `num_format` (`markdown` lives with the functions, as it reads the site).
//!
//! Part of render; pure: no file, no clock.

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::Value;
use tera::{Filter, Tera};

use crate::render::data;

/// Registers the filters; `default_language` is `num_format`'s locale when it names none.
pub(crate) fn register(tera: &mut Tera, default_language: &str) {
    tera.register_filter("base64_encode", base64_encode);
    tera.register_filter("base64_decode", base64_decode);
    tera.register_filter("regex_replace", RegexReplace::default());
    tera.register_filter(
        "num_format",
        NumFormat {
            default_language: default_language.to_owned(),
        },
    );
}

fn string<'a>(value: &'a Value, filter: &str) -> tera::Result<&'a str> {
    value.as_str().ok_or_else(|| {
        tera::Error::msg(format!(
            "Filter `{filter}` was called on an incorrect value: got `{value}` but expected a String"
        ))
    })
}

fn base64_encode(value: &Value, _: &HashMap<String, Value>) -> tera::Result<Value> {
    Ok(Value::String(data::base64_encode(string(
        value,
        "base64_encode",
    )?)))
}

fn base64_decode(value: &Value, _: &HashMap<String, Value>) -> tera::Result<Value> {
    data::base64_decode(string(value, "base64_decode")?)
        .map(Value::String)
        .map_err(tera::Error::msg)
}

/// `regex_replace(pattern, rep)`: every match of `pattern` replaced by `rep` (`$1`, `$name`
/// for groups); each pattern compiled once.
#[derive(Default)]
struct RegexReplace {
    compiled: Mutex<HashMap<String, regex::Regex>>,
}

impl Filter for RegexReplace {
    fn filter(&self, value: &Value, args: &HashMap<String, Value>) -> tera::Result<Value> {
        let text = string(value, "regex_replace")?;
        let arg = |name: &str| {
            args.get(name).and_then(Value::as_str).ok_or_else(|| {
                tera::Error::msg(format!(
                    "Filter `regex_replace` expected an arg called `{name}`"
                ))
            })
        };
        let (pattern, rep) = (arg("pattern")?, arg("rep")?);
        let mut compiled = self
            .compiled
            .lock()
            .map_err(|_| tera::Error::msg("poisoned"))?;
        if !compiled.contains_key(pattern) {
            let regex = regex::Regex::new(pattern).map_err(|e| {
                tera::Error::msg(format!("`regex_replace`: failed to compile regex: {e}"))
            })?;
            compiled.insert(pattern.to_owned(), regex);
        }
        let regex = &compiled[pattern];
        Ok(Value::String(regex.replace_all(text, rep).into_owned()))
    }
}

/// `num_format(locale=config.default_language)`: an integer with the locale's separators.
struct NumFormat {
    default_language: String,
}

impl Filter for NumFormat {
    fn filter(&self, value: &Value, args: &HashMap<String, Value>) -> tera::Result<Value> {
        use num_format::{Locale, ToFormattedString as _};
        let number = value.as_i64().ok_or_else(|| {
            tera::Error::msg(format!(
                "Filter `num_format` was called on an incorrect value: got `{value}` but expected a i64"
            ))
        })?;
        let name = match args.get("locale") {
            Some(locale) => locale
                .as_str()
                .ok_or_else(|| tera::Error::msg("`num_format`: `locale` must be a string"))?,
            None => &self.default_language,
        };
        let locale = Locale::from_name(name).map_err(|_| {
            tera::Error::msg(format!(
                "Filter `num_format` was called with an invalid `locale` argument: `{name}`."
            ))
        })?;
        Ok(Value::String(number.to_formatted_string(&locale)))
    }
}

#[cfg(test)]
mod tests {
    use tera::{Context, Tera};

    fn render(template: &str) -> String {
        let mut tera = Tera::default();
        super::register(&mut tera, "en");
        tera.render_str(template, &Context::new()).unwrap()
    }

    #[test]
    fn zola_filters() {
        assert_eq!(render("{{ 'hello' | base64_encode }}"), "aGVsbG8=");
        assert_eq!(render("{{ 'aGVsbG8=' | base64_decode }}"), "hello");
        assert_eq!(
            render("{{ 'a1b22' | regex_replace(pattern='(\\d+)', rep='<$1>') | safe }}"),
            "a<1>b<22>"
        );
        assert_eq!(render("{{ 1234567 | num_format }}"), "1,234,567");
        assert_eq!(
            render("{{ 1234567 | num_format(locale='de') }}"),
            "1.234.567"
        );
    }
}
