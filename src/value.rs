//! Free-form values (`extra`, dates) read from TOML or YAML, as the JSON values templates see.
//!
//! TOML datetimes reach serde as a private one-key map; [`Json`] turns them back into the
//! RFC 3339 strings templates expect, so `extra.published | date` works for either format.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

/// The key under which the `toml` crate hands datetimes to serde.
const TOML_DATETIME: &str = "$__toml_private_datetime";

/// Replaces TOML's datetime maps inside `value` by their string form.
pub(crate) fn unwrap_datetimes(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map.len() == 1
                && let Some(Value::String(s)) = map.get(TOML_DATETIME)
            {
                *value = Value::String(s.clone());
                return;
            }
            map.values_mut().for_each(unwrap_datetimes);
        }
        Value::Array(items) => items.iter_mut().for_each(unwrap_datetimes),
        _ => {}
    }
}

/// Deserializes any value, with TOML datetimes as strings.
pub(crate) fn any<'de, D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
    let mut value = Value::deserialize(d)?;
    unwrap_datetimes(&mut value);
    Ok(value)
}

/// Deserializes an optional value, with TOML datetimes as strings.
pub(crate) fn optional<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    any(d).map(|v| (!v.is_null()).then_some(v))
}

/// Deserializes a table (`extra`), with TOML datetimes as strings.
pub(crate) fn table<'de, D: Deserializer<'de>>(d: D) -> Result<Map<String, Value>, D::Error> {
    let mut map = Option::<Map<String, Value>>::deserialize(d)?.unwrap_or_default();
    map.values_mut().for_each(unwrap_datetimes);
    Ok(map)
}

/// Where the keys of a TOML or YAML document are, taken while it is parsed: the byte offsets
/// of each top-level key and its value, and of each key of the tables asked for
/// (`taxonomies.tags`) and its value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct KeyOffsets(Vec<(String, usize, usize)>);

impl KeyOffsets {
    /// The offset of `key` (`title`, or `table.key` for a key of a table asked for).
    pub(crate) fn get(&self, key: &str) -> Option<usize> {
        self.0.iter().find(|(k, ..)| k == key).map(|(_, at, _)| *at)
    }

    /// The offset of the value of `key`.
    pub(crate) fn value(&self, key: &str) -> Option<usize> {
        self.0.iter().find(|(k, ..)| k == key).map(|(.., at)| *at)
    }
}

/// Parses TOML `text` as `T`, with the offsets of its top-level keys and of the keys of its
/// tables named in `tables`. One parse serves both: the syntax tree keeps every key's span.
pub(crate) fn parse_toml<T: DeserializeOwned>(
    text: &str,
    tables: &[&str],
) -> Result<(T, KeyOffsets), toml::de::Error> {
    let document = toml::de::DeTable::parse(text)?;
    let mut offsets = Vec::new();
    for (key, value) in document.get_ref() {
        let name = key.get_ref();
        offsets.push((name.to_string(), key.span().start, value.span().start));
        if tables.contains(&name.as_ref())
            && let Some(table) = value.get_ref().as_table()
        {
            for (inner, inner_value) in table {
                offsets.push((
                    format!("{name}.{}", inner.get_ref()),
                    inner.span().start,
                    inner_value.span().start,
                ));
            }
        }
    }
    let value = T::deserialize(toml::de::Deserializer::from(document))?;
    Ok((value, KeyOffsets(offsets)))
}

/// The offsets of the keys of YAML `text`: its top-level keys (`key:` at the start of a line),
/// and the keys one level inside those named in `tables`. Read from the text the YAML parser
/// was given, in the same pass that checks it.
pub(crate) fn yaml_offsets(text: &str, tables: &[&str]) -> KeyOffsets {
    /// The key of a `key: value` line, and the offset of its value in the line.
    fn key_of(line: &str) -> Option<(&str, usize)> {
        let end = line.find(':')?;
        let key = line[..end].trim().trim_matches(|c| c == '"' || c == '\'');
        let value = end + 1 + (line[end + 1..].len() - line[end + 1..].trim_start().len());
        (!key.is_empty() && !key.contains(char::is_whitespace) && !key.starts_with(['-', '#']))
            .then_some((key, value))
    }
    let mut offsets = Vec::new();
    let mut table: Option<&str> = None;
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        let indent = line.len() - line.trim_start().len();
        if indent == 0 {
            table = None;
            if let Some((key, value)) = key_of(line) {
                offsets.push((key.to_owned(), at, at + value));
                table = tables.iter().copied().find(|t| *t == key);
            }
        } else if let (Some(name), Some((key, value))) = (table, key_of(line)) {
            offsets.push((format!("{name}.{key}"), at + indent, at + value));
        }
        at += line.len();
    }
    KeyOffsets(offsets)
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::{parse_toml, yaml_offsets};

    #[test]
    fn keys_are_found_where_they_were_parsed() {
        let text = "title = \"a\"\n[taxonomies]\ntags = [\"x\"]\n";
        let (value, offsets) = parse_toml::<toml::Table>(text, &["taxonomies"]).unwrap();
        assert_eq!(value["title"].as_str(), Some("a"));
        assert_eq!(offsets.get("title"), Some(0));
        assert_eq!(offsets.value("title"), Some(8));
        assert_eq!(
            offsets.get("taxonomies.tags"),
            Some(text.find("tags").unwrap())
        );
        let dotted = "taxonomies.tags = [\"x\"]\n";
        let (_, offsets) = parse_toml::<toml::Table>(dotted, &["taxonomies"]).unwrap();
        assert_eq!(offsets.get("taxonomies.tags"), Some(11));
        let yaml = "title: a\ntaxonomies:\n  tags: [x]\n# note: no key\n";
        let offsets = yaml_offsets(yaml, &["taxonomies"]);
        assert_eq!(offsets.get("title"), Some(0));
        assert_eq!(
            offsets.get("taxonomies.tags"),
            Some(yaml.find("tags").unwrap())
        );
        assert_eq!(
            offsets.value("taxonomies.tags"),
            Some(yaml.find("[x]").unwrap())
        );
        assert_eq!(offsets.get("note"), None);
    }

    #[derive(Deserialize)]
    struct Extra {
        #[serde(deserialize_with = "super::table")]
        extra: serde_json::Map<String, serde_json::Value>,
    }

    #[test]
    fn toml_datetimes_become_strings() {
        let e: Extra =
            toml::from_str("[extra]\nwhen = 2024-05-01\nlist = [1979-05-27T07:32:00Z]").unwrap();
        assert_eq!(e.extra["when"], "2024-05-01");
        assert_eq!(e.extra["list"][0], "1979-05-27T07:32:00Z");
    }
}
