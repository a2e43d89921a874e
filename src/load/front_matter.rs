//! Front matter: TOML between `+++` lines or YAML between `---` lines, as in Zola.
//!
//! Splitting is pure and never panics; parse errors are placed at their line in the file
//! (the front matter's own line shifted by where it starts).

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::site::front_matter::Date;
use crate::value::{KeyOffsets, parse_toml, parse_yaml};

/// The syntax of a front matter block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// `+++` … `+++`
    Toml,
    /// `---` … `---`
    Yaml,
}

/// A file cut into front matter and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Split<'a> {
    /// The syntax, or `None` when the file has no front matter.
    pub(crate) format: Option<Format>,
    /// The front matter text, without its fences.
    pub(crate) front_matter: &'a str,
    /// 1-based line of the front matter's first line in the file.
    pub(crate) front_matter_line: usize,
    /// Byte offset of the front matter's first line in the file.
    pub(crate) front_matter_offset: usize,
    /// The body (markdown).
    pub(crate) body: &'a str,
    /// Byte offset of the body in the file.
    pub(crate) body_offset: usize,
}

/// Cuts `text` into front matter and body. Errors when a fence is opened and never closed.
pub(crate) fn split(text: &str) -> Result<Split<'_>, String> {
    let start = usize::from(text.starts_with('\u{feff}')) * '\u{feff}'.len_utf8();
    // Zola's pattern lets blank lines and spaces come before the opening fence.
    let fence_at = text[start..]
        .find(|c: char| !c.is_ascii_whitespace())
        .map_or(start, |i| start + i);
    let fence_line = text[..fence_at].matches('\n').count() + 1;
    let rest = &text[fence_at..];
    let first_line = rest.lines().next().unwrap_or("");
    let (format, fence) = match first_line.trim_end() {
        "+++" => (Format::Toml, "+++"),
        "---" => (Format::Yaml, "---"),
        _ => {
            return Ok(Split {
                format: None,
                front_matter: "",
                front_matter_line: 1,
                front_matter_offset: start,
                body: &text[start..],
                body_offset: start,
            });
        }
    };
    let fm_start = fence_at + rest.find('\n').map_or(rest.len(), |i| i + 1);
    let mut offset = fm_start;
    for line in text[fm_start..].split_inclusive('\n') {
        if line.trim_end() == fence {
            let body_offset = offset + line.len();
            return Ok(Split {
                format: Some(format),
                front_matter: &text[fm_start..offset],
                front_matter_line: fence_line + 1,
                front_matter_offset: fm_start,
                body: &text[body_offset..],
                body_offset,
            });
        }
        offset += line.len();
    }
    Err(format!(
        "the front matter opened by `{fence}` on line {fence_line} is never closed"
    ))
}

/// A parse error inside the front matter: message, and 1-based line and column within it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParseError {
    /// What the parser said.
    pub(crate) message: String,
    /// Line within the front matter, when known.
    pub(crate) line: Option<usize>,
    /// Column, when known.
    pub(crate) column: Option<usize>,
}

/// The tables of a front matter whose keys are located too (a taxonomy's name is a key).
const LOCATED_TABLES: [&str; 1] = ["taxonomies"];

/// Parses the front matter of `split` as `T`, with where its keys are (offsets within the
/// front matter).
pub(crate) fn parse<T: DeserializeOwned + Default>(
    split: &Split<'_>,
) -> Result<(T, KeyOffsets), ParseError> {
    match split.format {
        None => Ok((T::default(), KeyOffsets::default())),
        Some(Format::Toml) => parse_toml(split.front_matter, &LOCATED_TABLES).map_err(|e| {
            let (line, column) = e
                .span()
                .map(|s| crate::diagnostics::line_column(split.front_matter, s.start))
                .unzip();
            ParseError {
                message: e.message().trim().to_owned(),
                line,
                column,
            }
        }),
        Some(Format::Yaml) => {
            if split.front_matter.trim().is_empty() {
                return Ok((T::default(), KeyOffsets::default()));
            }
            parse_yaml(split.front_matter, &LOCATED_TABLES).map_err(|e| {
                let location = e.location();
                let message = e.to_string();
                // serde_norway appends " at line L column C"; the location is shown separately.
                let message = message
                    .split(" at line ")
                    .next()
                    .unwrap_or(&message)
                    .to_owned();
                ParseError {
                    message,
                    line: location.as_ref().map(serde_norway::Location::line),
                    column: location.as_ref().map(serde_norway::Location::column),
                }
            })
        }
    }
}

/// Parses a front matter date: a TOML date or datetime, or a string `YYYY-MM-DD`,
/// `YYYY-MM-DDTHH:MM:SS` (space allowed) with an optional offset.
pub(crate) fn parse_date(value: &Value) -> Result<Date, String> {
    let Value::String(text) = value else {
        return Err(format!("expected a date, found `{value}`"));
    };
    let text = text.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(text) {
        return Ok(Date {
            instant: dt.naive_utc(),
            text: text.to_owned(),
        });
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(instant) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(Date {
                instant,
                text: text.to_owned(),
            });
        }
    }
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(Date {
            instant: date.and_hms_opt(0, 0, 0).unwrap_or_default(),
            text: date.format("%Y-%m-%d").to_string(),
        });
    }
    Err(format!("`{text}` is not a date"))
}

/// Splits a Zola-style date prefix off a file name: `2024-05-01-hello` → (`2024-05-01`, `hello`).
pub(crate) fn date_prefix(stem: &str) -> Option<(&str, &str)> {
    let (date, rest) = (stem.get(..10)?, stem.get(10..)?);
    let rest = rest.strip_prefix('-').or_else(|| rest.strip_prefix('_'))?;
    (NaiveDate::parse_from_str(date, "%Y-%m-%d").is_ok() && !rest.is_empty())
        .then_some((date, rest))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{Format, date_prefix, parse, parse_date, split};
    use crate::site::front_matter::{PageFrontMatter, Terms};

    #[test]
    fn terms_read_as_a_sorted_map_and_keep_the_last_of_a_name() {
        let text = "+++\ntitle = \"t\"\n[taxonomies]\ntags = [\"b\", \"a\"]\nauthors_t = [\"z\"]\n+++\nbody\n";
        let (meta, _): (PageFrontMatter, _) = parse(&split(text).unwrap()).unwrap();
        assert_eq!(
            meta.taxonomies.keys().collect::<Vec<_>>(),
            ["authors_t", "tags"]
        );
        assert_eq!(
            *meta.taxonomies.get("tags").unwrap(),
            ["b", "a"],
            "terms keep their order"
        );
        assert_eq!(meta.taxonomies.get("none"), None);
        assert_eq!(
            serde_json::to_value(&meta.taxonomies).unwrap(),
            json!({"authors_t": ["z"], "tags": ["b", "a"]})
        );
        let twice: Terms = [("t", "first"), ("s", "x"), ("t", "last")]
            .into_iter()
            .map(|(name, term)| (name.to_owned(), vec![term.to_owned()]))
            .collect();
        assert_eq!(*twice.get("t").unwrap(), ["last"]);
        assert_eq!(twice.keys().count(), 2);
        let bytes = rmp_serde::to_vec(&twice).unwrap();
        assert_eq!(rmp_serde::from_slice::<Terms>(&bytes).unwrap(), twice);
    }

    #[test]
    fn splits_toml_and_yaml() {
        let s = split("+++\ntitle = \"a\"\n+++\nbody").unwrap();
        assert_eq!(
            (s.format, s.front_matter, s.body),
            (Some(Format::Toml), "title = \"a\"\n", "body")
        );
        let s = split("---\r\ntitle: a\r\n---\r\nbody").unwrap();
        assert_eq!(
            (s.format, s.front_matter, s.body),
            (Some(Format::Yaml), "title: a\r\n", "body")
        );
        let s = split("just text").unwrap();
        assert_eq!((s.format, s.body), (None, "just text"));
        assert!(split("+++\ntitle = 1\n").is_err());
        assert_eq!(split("+++\n+++").unwrap().body, "");
        let s = split("\n  \n+++\ntitle = \"a\"\n+++\nbody").unwrap();
        assert_eq!(
            (s.format, s.front_matter, s.front_matter_line, s.body),
            (Some(Format::Toml), "title = \"a\"\n", 4, "body")
        );
        assert_eq!(split("\n\ntext").unwrap().format, None);
    }

    #[test]
    fn parse_errors_carry_lines() {
        let s = split("+++\ntitle = \"a\"\ndraft = \"yes\"\n+++\n").unwrap();
        let e = parse::<PageFrontMatter>(&s).unwrap_err();
        assert_eq!(e.line, Some(2), "{e:?}");
        let s = split("---\ntitle: a\ndraft: [\n---\n").unwrap();
        let e = parse::<PageFrontMatter>(&s).unwrap_err();
        assert!(e.line.is_some(), "{e:?}");
    }

    #[test]
    fn dates_parse_in_zola_forms() {
        assert_eq!(parse_date(&json!("2024-05-01")).unwrap().text, "2024-05-01");
        assert_eq!(
            parse_date(&json!("2024-05-01")).unwrap().rfc3339(),
            "2024-05-01T00:00:00+00:00"
        );
        assert!(parse_date(&json!("2024-05-01T10:00:00+02:00")).is_ok());
        assert!(parse_date(&json!("2024-05-01 10:00:00")).is_ok());
        assert!(parse_date(&json!("2024-13-01")).is_err());
        assert!(parse_date(&json!(5)).is_err());
    }

    #[test]
    fn date_prefixes() {
        assert_eq!(
            date_prefix("2024-05-01-hello"),
            Some(("2024-05-01", "hello"))
        );
        assert_eq!(date_prefix("2024-05-01"), None);
        assert_eq!(date_prefix("hello-world-2024"), None);
    }

    proptest::proptest! {
        #[test]
        fn splitting_never_panics(text in "(\\+\\+\\+|---)?\\PC*") {
            let _ = split(&text);
        }
    }
}
