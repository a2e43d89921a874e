//! Collections: data files whose records become pages (`[[collections]]` in the config).
//!
//! A record is a flat map of fields read from CSV, JSON (an array of objects), JSON Lines,
//! YAML (a list of mappings) or TOML (an array of tables). Its page's URL comes from the
//! collection's path pattern (`/listings/{city}/{slug}/`, values slugified), its title and
//! description from patterns with raw values, its terms from taxonomy patterns. A record that
//! cannot make a page is reported with its file and line (or, for formats without lines, its
//! position); two records with one URL are an error naming both.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::config::CollectionConfig;
use crate::diagnostics::Diagnostic;
use crate::hash::{ContentHash, Fingerprint};
use crate::site::paths::sanitize_site_path;

/// One record of a collection, ready to become a page.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    /// Index of its collection in the config.
    pub(crate) collection: usize,
    /// The data file, relative to the root (`data/listings.csv`).
    pub(crate) file: String,
    /// 1-based line of the record in its file (its position for JSON, YAML and TOML).
    pub(crate) line: usize,
    /// The fields.
    pub(crate) data: Arc<Map<String, Value>>,
    /// The page's site path (`/listings/portland/blue-heron/`).
    pub(crate) path: String,
    /// The title, from the collection's pattern.
    pub(crate) title: Option<String>,
    /// The description, from the collection's pattern.
    pub(crate) description: Option<String>,
    /// The date field's value.
    pub(crate) date: Option<Value>,
    /// Taxonomy → terms.
    pub(crate) taxonomies: crate::site::front_matter::Terms,
    /// Hash of the collection's config and the record's fields.
    pub(crate) hash: ContentHash,
}

/// Reads every collection of the config. Problems are collected; bad records are skipped.
pub(crate) fn load(
    root: &Path,
    collections: &[CollectionConfig],
    problems: &mut Vec<Diagnostic>,
) -> Vec<Record> {
    let mut records = Vec::new();
    let mut paths: HashMap<String, (String, usize)> = HashMap::new();
    for (index, collection) in collections.iter().enumerate() {
        let file = collection.data.to_string_lossy().replace('\\', "/");
        if collection.data.is_absolute()
            || collection
                .data
                .components()
                .any(|c| matches!(c, std::path::Component::ParentDir))
        {
            problems.push(
                Diagnostic::error(format!(
                    "collection `{}`: the data file `{file}` is outside the site",
                    collection.name
                ))
                .with_help("name a file inside the site's folder, like `data/listings.csv`"),
            );
            continue;
        }
        let text = match std::fs::read_to_string(root.join(&collection.data)) {
            Ok(text) => text,
            Err(e) => {
                problems.push(
                    Diagnostic::error(format!(
                        "collection `{}`: cannot read `{file}`: {e}",
                        collection.name
                    ))
                    .with_help("create the file, or fix `data` in the collection's config"),
                );
                continue;
            }
        };
        let rows = match parse(&file, &text) {
            Ok(rows) => rows,
            Err(d) => {
                problems.push(d);
                continue;
            }
        };
        let config_hash = Fingerprint::new("collection").json(collection).finish();
        for (line, data) in rows {
            let at = |message: String| {
                let d = Diagnostic::error(message);
                if line > 0 && has_lines(&file) {
                    d.at(&file, &text, line, None)
                } else {
                    d.in_file(&file)
                }
            };
            match record(index, collection, &file, line, data, &config_hash) {
                Ok(record) => {
                    if let Some((other_file, other_line)) = paths.get(&record.path) {
                        problems.push(
                            at(format!(
                                "two records have the page `{}`: this one and the one at {other_file}:{other_line}",
                                record.path
                            ))
                            .with_help("make the fields of the path pattern unique per record (add an id or a slug)"),
                        );
                        continue;
                    }
                    paths.insert(record.path.clone(), (file.clone(), line));
                    records.push(record);
                }
                Err((message, help)) => problems.push(at(message).with_help(help)),
            }
        }
    }
    records
}

/// Whether positions in `file` are lines (CSV, JSON Lines) rather than record numbers.
pub(crate) fn has_lines(file: &str) -> bool {
    file.ends_with(".csv") || file.ends_with(".jsonl") || file.ends_with(".ndjson")
}

/// Records with their line (or position).
type Rows = Vec<(usize, Map<String, Value>)>;

/// The records of a data file, with their line (or position).
fn parse(file: &str, text: &str) -> Result<Rows, Diagnostic> {
    let extension = file.rsplit('.').next().unwrap_or("").to_ascii_lowercase();
    let not_a_list = |what: &str| {
        Diagnostic::error(format!("`{file}` is not {what}"))
            .in_file(file)
            .with_help("a collection's data file holds a list of records with named fields")
    };
    let objects = |values: Vec<Value>| -> Result<Rows, Diagnostic> {
        values
            .into_iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::Object(map) => Ok((i + 1, map)),
                _ => Err(Diagnostic::error(format!(
                    "record {} of `{file}` is not a table of fields",
                    i + 1
                ))
                .in_file(file)
                .with_help("every record must map field names to values")),
            })
            .collect()
    };
    match extension.as_str() {
        "csv" => {
            let mut reader = csv::ReaderBuilder::new()
                .flexible(false)
                .from_reader(text.as_bytes());
            let headers = reader
                .headers()
                .map_err(|e| csv_error(file, text, &e))?
                .clone();
            let mut rows = Vec::new();
            for row in reader.records() {
                let row = row.map_err(|e| csv_error(file, text, &e))?;
                let line = row
                    .position()
                    .map_or(0, |p| usize::try_from(p.line()).unwrap_or(usize::MAX));
                let map = headers
                    .iter()
                    .zip(row.iter())
                    .map(|(k, v)| (k.to_owned(), Value::String(v.to_owned())))
                    .collect();
                rows.push((line, map));
            }
            Ok(rows)
        }
        "jsonl" | "ndjson" => {
            let mut rows = Vec::new();
            for (i, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                match serde_json::from_str::<Value>(line) {
                    Ok(Value::Object(map)) => rows.push((i + 1, map)),
                    Ok(_) => {
                        return Err(Diagnostic::error("this line is not a JSON object")
                            .at(file, text, i + 1, None)
                            .with_help("write one object of fields per line"));
                    }
                    Err(e) => {
                        return Err(Diagnostic::error(format!("invalid JSON: {e}"))
                            .at(file, text, i + 1, Some(e.column()))
                            .with_help("write one object of fields per line"));
                    }
                }
            }
            Ok(rows)
        }
        "json" => match serde_json::from_str::<Value>(text) {
            Ok(Value::Array(values)) => objects(values),
            Ok(_) => Err(not_a_list("a JSON array")),
            Err(e) => Err(Diagnostic::error(format!("invalid JSON: {e}"))
                .at(file, text, e.line().max(1), Some(e.column()))
                .with_help("the file must hold one array of objects")),
        },
        "yaml" | "yml" => match serde_norway::from_str::<Value>(text) {
            Ok(Value::Array(values)) => objects(values),
            Ok(_) => Err(not_a_list("a YAML list")),
            Err(e) => {
                let d = Diagnostic::error(format!("invalid YAML: {e}"));
                Err(match e.location() {
                    Some(l) => d.at(file, text, l.line(), Some(l.column())),
                    None => d.in_file(file),
                }
                .with_help("the file must hold one list of mappings"))
            }
        },
        "toml" => match toml::from_str::<toml::Table>(text) {
            Ok(table) => {
                let list = table.into_iter().find_map(|(_, v)| match v {
                    toml::Value::Array(items) => Some(items),
                    _ => None,
                });
                let Some(list) = list else {
                    return Err(not_a_list("a TOML array of tables (`[[records]]`)"));
                };
                let values = list
                    .into_iter()
                    .map(|v| serde_json::to_value(v).unwrap_or(Value::Null))
                    .collect();
                objects(values)
            }
            Err(e) => {
                let d = Diagnostic::error(format!("invalid TOML: {}", e.message()));
                Err(match e.span() {
                    Some(span) => d.at_offset(file, text, span.start),
                    None => d.in_file(file),
                }
                .with_help("the file must hold an array of tables, like `[[records]]`"))
            }
        },
        _ => Err(Diagnostic::error(format!(
            "`{file}`: collections read .csv, .json, .jsonl, .yaml or .toml files"
        ))
        .in_file(file)
        .with_help("convert the data, or name the file with its format's extension")),
    }
}

fn csv_error(file: &str, text: &str, e: &csv::Error) -> Diagnostic {
    let d = Diagnostic::error(format!("invalid CSV: {e}"));
    match e.position() {
        Some(p) => d.at(
            file,
            text,
            usize::try_from(p.line()).unwrap_or(usize::MAX),
            None,
        ),
        None => d.in_file(file),
    }
    .with_help("every row needs as many fields as the header; quote values holding commas")
}

/// A problem with a record: the message and the help.
type Problem = (String, String);

/// The page of one record.
fn record(
    collection_index: usize,
    collection: &CollectionConfig,
    file: &str,
    line: usize,
    data: Map<String, Value>,
    config_hash: &ContentHash,
) -> Result<Record, Problem> {
    let raw_path = fill(&collection.path, &data, true)?;
    let path = sanitize_site_path(&raw_path).map_err(|e| {
        (
            format!("the page path `{raw_path}` is not valid: {e}"),
            "fix the collection's `path` pattern".to_owned(),
        )
    })?;
    let title = collection
        .title
        .as_deref()
        .map(|p| fill(p, &data, false))
        .transpose()?;
    let description = collection
        .description
        .as_deref()
        .map(|p| fill(p, &data, false))
        .transpose()?;
    let date = collection.date.as_ref().and_then(|field| {
        data.get(field)
            .filter(|v| !v.is_null() && v.as_str() != Some(""))
            .cloned()
    });
    let mut taxonomies = Vec::new();
    for (name, pattern) in &collection.taxonomies {
        let whole_field = pattern
            .strip_prefix('{')
            .and_then(|p| p.strip_suffix('}'))
            .filter(|f| !f.contains(['{', '}']));
        let terms: Vec<String> = match whole_field.and_then(|f| data.get(f)) {
            Some(Value::Array(items)) => items.iter().map(text_of).collect(),
            _ => vec![fill(pattern, &data, false)?],
        };
        let terms: Vec<String> = terms.into_iter().filter(|t| !t.trim().is_empty()).collect();
        if !terms.is_empty() {
            taxonomies.push((name.clone(), terms));
        }
    }
    let taxonomies = taxonomies.into_iter().collect();
    let hash = Fingerprint::new("record")
        .hash(config_hash)
        .json(&data)
        .finish();
    Ok(Record {
        collection: collection_index,
        file: file.to_owned(),
        line,
        data: Arc::new(data),
        path,
        title,
        description,
        date,
        taxonomies,
        hash,
    })
}

/// A field's value as text.
fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// `pattern` with each `{field}` replaced by the record's value (slugified when `slugify`).
fn fill(pattern: &str, data: &Map<String, Value>, slugify: bool) -> Result<String, Problem> {
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut rest = pattern;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('}') else {
            return Err((
                format!("the pattern `{pattern}` has an unclosed `{{`"),
                "write placeholders as `{field}`".to_owned(),
            ));
        };
        let field = rest[start + 1..start + end].trim();
        let value = data.get(field).map(text_of).unwrap_or_default();
        if value.trim().is_empty() {
            return Err((
                format!(
                    "this record has no value for `{field}`, which the pattern `{pattern}` needs"
                ),
                format!("give every record a `{field}`, or change the collection's pattern"),
            ));
        }
        if slugify {
            out.push_str(&slug::slugify(&value));
        } else {
            out.push_str(&value);
        }
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collection(path: &str) -> CollectionConfig {
        toml::from_str(&format!(
            "name = \"l\"\ndata = \"data/l.csv\"\npath = \"{path}\"\ntitle = \"{{name}}\"\ntaxonomies = {{ cities = \"{{city}}\" }}"
        ))
        .unwrap()
    }

    fn load_one(file: &str, text: &str, path: &str) -> (Vec<Record>, Vec<Diagnostic>) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("data")).unwrap();
        std::fs::write(dir.path().join(file), text).unwrap();
        let mut c = collection(path);
        c.data = file.into();
        let mut problems = Vec::new();
        let records = load(dir.path(), &[c], &mut problems);
        (records, problems)
    }

    #[test]
    fn csv_records_become_pages_with_slugified_paths() {
        let (records, problems) = load_one(
            "data/l.csv",
            "name,city\n\"Blue Heron, Coffee\",Saint Paul\nOak,Lyon\n",
            "/listings/{city}/{name}/",
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(records[0].path, "/listings/saint-paul/blue-heron-coffee/");
        assert_eq!(records[0].title.as_deref(), Some("Blue Heron, Coffee"));
        assert_eq!(records[0].line, 2);
        assert_eq!(records[1].line, 3);
        assert_eq!(*records[1].taxonomies.get("cities").unwrap(), ["Lyon"]);
    }

    #[test]
    fn every_format_reads_the_same_records() {
        let expected = ["/x/a/", "/x/b/"];
        for (file, text) in [
            (
                "data/l.json",
                r#"[{"name":"a","city":"c"},{"name":"b","city":"c"}]"#,
            ),
            (
                "data/l.jsonl",
                "{\"name\":\"a\",\"city\":\"c\"}\n\n{\"name\":\"b\",\"city\":\"c\"}\n",
            ),
            (
                "data/l.yaml",
                "- name: a\n  city: c\n- name: b\n  city: c\n",
            ),
            (
                "data/l.toml",
                "[[r]]\nname = \"a\"\ncity = \"c\"\n[[r]]\nname = \"b\"\ncity = \"c\"\n",
            ),
        ] {
            let (records, problems) = load_one(file, text, "/x/{name}/");
            assert!(problems.is_empty(), "{file}: {problems:?}");
            let paths: Vec<&str> = records.iter().map(|r| r.path.as_str()).collect();
            assert_eq!(paths, expected, "{file}");
        }
    }

    #[test]
    fn bad_records_name_their_line() {
        let (records, problems) = load_one("data/l.csv", "name,city\na,c\n,c\nb,c\n", "/x/{name}/");
        assert_eq!(records.len(), 2);
        let d = &problems[0];
        assert!(d.message.contains("no value for `name`"), "{}", d.message);
        assert_eq!(d.location.as_ref().unwrap().line, Some(3));

        let (_, problems) = load_one("data/l.csv", "name,city\na,c\na,d\n", "/x/{name}/");
        assert!(
            problems[0]
                .message
                .contains("two records have the page `/x/a/`")
        );
        assert!(problems[0].message.contains("data/l.csv:2"));
        assert_eq!(problems[0].location.as_ref().unwrap().line, Some(3));

        let (_, problems) = load_one("data/l.csv", "name,city\na,c,extra\n", "/x/{name}/");
        assert!(
            problems[0].message.contains("invalid CSV"),
            "{}",
            problems[0].message
        );
        assert_eq!(problems[0].location.as_ref().unwrap().line, Some(2));

        let (_, problems) = load_one("data/l.jsonl", "{\"name\":\"a\"}\n{oops\n", "/x/{name}/");
        assert_eq!(problems[0].location.as_ref().unwrap().line, Some(2));
    }

    #[test]
    fn paths_cannot_escape_the_output() {
        let (records, _) = load_one("data/l.csv", "name,city\n../../etc,c\n", "/x/{name}/");
        assert_eq!(records[0].path, "/x/etc/");
        let (records, problems) = load_one("data/l.csv", "name,city\na,c\n", "/../{name}/");
        assert!(records.is_empty());
        assert!(
            problems[0].message.contains("not valid"),
            "{}",
            problems[0].message
        );
    }
}
