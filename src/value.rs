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
///
/// It also holds the keys the deserializer skipped because the type has no field of that name
/// (Zola ignores them; sitegen warns about each), with where each is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct KeyOffsets {
    keys: Vec<(String, usize, usize)>,
    ignored: Vec<IgnoredKey>,
}

/// A key of a document that no field reads: Zola ignores it, sitegen warns about it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IgnoredKey {
    /// Its dotted path (`sort_by`, `taxonomies.0.title`).
    pub path: String,
    /// Byte offset of the key in the document, when found.
    pub offset: Option<u32>,
}

impl IgnoredKey {
    /// The key's own name, the last part of its path.
    pub(crate) fn name(&self) -> &str {
        self.path.rsplit('.').next().unwrap_or(&self.path)
    }

    /// The table the key sits in (`taxonomies`), for keys not at the top level.
    pub(crate) fn table(&self) -> Option<&str> {
        let parent = self.path.rsplit_once('.')?.0;
        Some(
            parent
                .split('.')
                .rfind(|part| part.parse::<usize>().is_err())
                .unwrap_or(parent),
        )
    }
}

impl KeyOffsets {
    /// The offset of `key` (`title`, or `table.key` for a key of a table asked for).
    pub(crate) fn get(&self, key: &str) -> Option<usize> {
        self.keys
            .iter()
            .find(|(k, ..)| k == key)
            .map(|(_, at, _)| *at)
    }

    /// The offset of the value of `key`.
    pub(crate) fn value(&self, key: &str) -> Option<usize> {
        self.keys
            .iter()
            .find(|(k, ..)| k == key)
            .map(|(.., at)| *at)
    }

    /// The keys no field read, in document order.
    pub(crate) fn ignored(&self) -> &[IgnoredKey] {
        &self.ignored
    }
}

/// One step of a path through a document.
enum Step {
    Key(String),
    Index(usize),
}

/// The steps from the root to the value at `path`.
fn steps(path: &serde_ignored::Path<'_>) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut at = path;
    loop {
        at = match at {
            serde_ignored::Path::Root => break,
            serde_ignored::Path::Seq { parent, index } => {
                steps.push(Step::Index(*index));
                parent
            }
            serde_ignored::Path::Map { parent, key } => {
                steps.push(Step::Key(key.clone()));
                parent
            }
            serde_ignored::Path::Some { parent }
            | serde_ignored::Path::NewtypeStruct { parent }
            | serde_ignored::Path::NewtypeVariant { parent } => parent,
        };
    }
    steps.reverse();
    steps
}

fn dotted(steps: &[Step]) -> String {
    let parts: Vec<String> = steps
        .iter()
        .map(|s| match s {
            Step::Key(k) => k.clone(),
            Step::Index(i) => i.to_string(),
        })
        .collect();
    parts.join(".")
}

/// Deserializes `T` from `deserializer`, collecting the paths of the keys no field read.
fn deserialize_noting_ignored<'de, T, D>(deserializer: D) -> Result<(T, Vec<Vec<Step>>), D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    let mut ignored = Vec::new();
    let value = serde_ignored::deserialize(deserializer, |path| ignored.push(steps(&path)))?;
    Ok((value, ignored))
}

/// The offset of the key at `steps` in a TOML document.
fn toml_key_offset(document: &toml::de::DeTable<'_>, steps: &[Step]) -> Option<usize> {
    let (Step::Key(first), rest) = steps.split_first()? else {
        return None;
    };
    let (key, mut value) = document.iter().find(|(k, _)| k.get_ref() == first)?;
    let mut offset = key.span().start;
    for step in rest {
        match step {
            Step::Key(name) => {
                let (key, inner) = value
                    .get_ref()
                    .as_table()?
                    .iter()
                    .find(|(k, _)| k.get_ref() == name)?;
                offset = key.span().start;
                value = inner;
            }
            Step::Index(i) => {
                value = value.get_ref().as_array()?.get(*i)?;
                offset = value.span().start;
            }
        }
    }
    Some(offset)
}

/// Parses YAML `text` as `T`, with the offsets of its top-level keys and of the keys of its
/// tables named in `tables`, and the keys no field read.
pub(crate) fn parse_yaml<T: DeserializeOwned>(
    text: &str,
    tables: &[&str],
) -> Result<(T, KeyOffsets), serde_norway::Error> {
    let (value, ignored) = deserialize_noting_ignored(serde_norway::Deserializer::from_str(text))?;
    let mut offsets = yaml_offsets(text, tables);
    offsets.ignored = ignored
        .iter()
        .map(|steps| {
            let path = dotted(steps);
            let offset = offsets
                .get(&path)
                .or_else(|| match steps.first() {
                    Some(Step::Key(first)) => offsets.get(first),
                    _ => None,
                })
                .and_then(|o| u32::try_from(o).ok());
            IgnoredKey { path, offset }
        })
        .collect();
    Ok((value, offsets))
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
    let (value, ignored) = deserialize_noting_ignored(toml::de::Deserializer::from(document))?;
    let ignored = if ignored.is_empty() {
        Vec::new()
    } else {
        // Rare: parse again to find where the skipped keys are (the first parse was consumed).
        let document = toml::de::DeTable::parse(text)?;
        ignored
            .iter()
            .map(|steps| IgnoredKey {
                path: dotted(steps),
                offset: toml_key_offset(document.get_ref(), steps)
                    .and_then(|o| u32::try_from(o).ok()),
            })
            .collect()
    };
    Ok((
        value,
        KeyOffsets {
            keys: offsets,
            ignored,
        },
    ))
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
    KeyOffsets {
        keys: offsets,
        ignored: Vec::new(),
    }
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
