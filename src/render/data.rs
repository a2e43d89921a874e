//! Files that templates read: `load_data`, `get_hash` and `get_url(cachebust=true)` find them
//! in Zola's order, and `load_data` parses every format Zola reads.
//!
//! Part of render: the functions call these while a template renders. Every file looked at is
//! recorded (found or not), so that an output is rendered again when one appears, changes or
//! goes. Nothing here reads outside the site's folder or the network.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};
use sha2::Digest as _;

/// A format `load_data` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Format {
    /// TOML (a table).
    Toml,
    /// JSON.
    Json,
    /// CSV: `{headers, records}`.
    Csv,
    /// BibTeX: `{preambles, comments, variables, bibliographies}`.
    Bibtex,
    /// XML, as `roxmltree_to_serde` maps it to JSON.
    Xml,
    /// YAML.
    Yaml,
    /// The text as is.
    Plain,
}

impl Format {
    /// The format named `name` (`format=` of `load_data`), case-insensitively.
    pub(crate) fn named(name: &str) -> Result<Self, String> {
        match name.to_lowercase().as_str() {
            "toml" => Ok(Self::Toml),
            "json" => Ok(Self::Json),
            "csv" => Ok(Self::Csv),
            "bibtex" => Ok(Self::Bibtex),
            "xml" => Ok(Self::Xml),
            "yaml" | "yml" => Ok(Self::Yaml),
            "plain" => Ok(Self::Plain),
            other => Err(format!(
                "unknown format `{other}` (toml, json, csv, bibtex, xml, yaml or plain)"
            )),
        }
    }

    /// The format of a file with no `format=`: by its extension, plain text when unknown.
    pub(crate) fn of_file(path: &Path) -> Self {
        path.extension()
            .and_then(|e| e.to_str())
            .and_then(|e| Self::named(e).ok())
            .unwrap_or(Self::Plain)
    }

    /// Its name, for messages.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Toml => "TOML",
            Self::Json => "JSON",
            Self::Csv => "CSV",
            Self::Bibtex => "BibTeX",
            Self::Xml => "XML",
            Self::Yaml => "YAML",
            Self::Plain => "text",
        }
    }
}

/// Parses `text` as `format`, into the value Zola's `load_data` gives templates.
pub(crate) fn parse(text: &str, format: Format) -> Result<Value, String> {
    match format {
        Format::Json => serde_json::from_str(text).map_err(|e| e.to_string()),
        Format::Toml => {
            let mut value: Value = toml::from_str::<toml::Table>(text)
                .map_err(|e| e.to_string())
                .and_then(|t| serde_json::to_value(t).map_err(|e| e.to_string()))?;
            crate::value::unwrap_datetimes(&mut value);
            Ok(value)
        }
        Format::Yaml => serde_norway::from_str(text).map_err(|e| e.to_string()),
        Format::Csv => csv(text),
        Format::Bibtex => bibtex(text),
        Format::Xml => roxmltree_to_serde::xml_string_to_json(
            text.to_owned(),
            &roxmltree_to_serde::Config::default(),
        )
        .map_err(|e| format!("{e:?}")),
        Format::Plain => Ok(Value::String(text.to_owned())),
    }
}

/// CSV as Zola reads it: the first line is the headers; every record has as many fields.
fn csv(text: &str) -> Result<Value, String> {
    let mut reader = ::csv::Reader::from_reader(text.as_bytes());
    let headers: Vec<Value> = reader
        .headers()
        .map_err(|e| format!("{e} - unable to read the header line (line 1)"))?
        .iter()
        .map(|h| Value::String(h.to_owned()))
        .collect();
    let mut records = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| e.to_string())?;
        records.push(Value::Array(
            record.iter().map(|f| Value::String(f.to_owned())).collect(),
        ));
    }
    let mut map = Map::new();
    map.insert("headers".into(), Value::Array(headers));
    map.insert("records".into(), Value::Array(records));
    Ok(Value::Object(map))
}

/// BibTeX as Zola reads it (nom-bibtex); tag names are lowercased.
fn bibtex(text: &str) -> Result<Value, String> {
    let parsed = nom_bibtex::Bibtex::parse(text).map_err(|e| format!("{e:?}"))?;
    let strings = |items: &[String]| -> Value {
        Value::Array(items.iter().map(|s| Value::String(s.clone())).collect())
    };
    // nom-bibtex keeps variables and tags in hash maps, which Zola gives templates in a
    // random order; sorted here, so that builds are reproducible.
    let sorted = |map: &std::collections::HashMap<String, String>, lowercase: bool| {
        let mut entries: Vec<(String, &String)> = map
            .iter()
            .map(|(k, v)| {
                (
                    if lowercase {
                        k.to_lowercase()
                    } else {
                        k.clone()
                    },
                    v,
                )
            })
            .collect();
        entries.sort();
        let mut out = Map::new();
        for (key, value) in entries {
            out.insert(key, Value::String(value.clone()));
        }
        Value::Object(out)
    };
    let variables = sorted(parsed.variables(), false);
    let bibliographies = parsed
        .bibliographies()
        .iter()
        .map(|b| {
            let mut entry = Map::new();
            entry.insert(
                "entry_type".into(),
                Value::String(b.entry_type().to_owned()),
            );
            entry.insert(
                "citation_key".into(),
                Value::String(b.citation_key().to_owned()),
            );
            entry.insert("tags".into(), sorted(b.tags(), true));
            Value::Object(entry)
        })
        .collect();
    let mut map = Map::new();
    map.insert("preambles".into(), strings(parsed.preambles()));
    map.insert("comments".into(), strings(parsed.comments()));
    map.insert("variables".into(), variables);
    map.insert("bibliographies".into(), Value::Array(bibliographies));
    Ok(Value::Object(map))
}

/// Zola's `get_hash`: SHA-256, -384 or -512 of `bytes`, in base64 or lowercase hex.
pub(crate) fn sha(bytes: &[u8], bits: u64, base64: bool) -> Result<String, String> {
    let digest: Vec<u8> = match bits {
        256 => sha2::Sha256::digest(bytes).to_vec(),
        384 => sha2::Sha384::digest(bytes).to_vec(),
        512 => sha2::Sha512::digest(bytes).to_vec(),
        _ => return Err("`sha_type` must be 256, 384 or 512".to_owned()),
    };
    Ok(if base64 {
        STANDARD.encode(digest)
    } else {
        digest.iter().fold(String::new(), |mut hex, b| {
            use std::fmt::Write as _;
            let _ = write!(hex, "{b:02x}");
            hex
        })
    })
}

/// `base64_encode`.
pub(crate) fn base64_encode(text: &str) -> String {
    STANDARD.encode(text.as_bytes())
}

/// `base64_decode`: the decoded bytes must be UTF-8.
pub(crate) fn base64_decode(text: &str) -> Result<String, String> {
    let bytes = STANDARD
        .decode(text.as_bytes())
        .map_err(|e| format!("`base64_decode`: failed to decode: {e}"))?;
    String::from_utf8(bytes).map_err(|e| format!("`base64_decode`: invalid utf-8: {e}"))
}

#[cfg(test)]
mod tests {
    use super::{Format, base64_decode, base64_encode, parse, sha};

    #[test]
    fn csv_as_zola_reads_it() {
        let v = parse("x,y\n1,\"2,3\"\n", Format::Csv).unwrap();
        assert_eq!(v["headers"][1], "y");
        assert_eq!(v["records"][0][1], "2,3");
        assert!(parse("x,y\n1\n", Format::Csv).is_err());
    }

    #[test]
    fn formats_by_name_and_extension() {
        assert_eq!(Format::named("YML").unwrap(), Format::Yaml);
        assert!(Format::named("ini").is_err());
        assert_eq!(Format::of_file("a/b.bib".as_ref()), Format::Plain);
        assert_eq!(Format::of_file("a/b.xml".as_ref()), Format::Xml);
    }

    #[test]
    fn hashes_as_zola_writes_them() {
        assert_eq!(
            sha(b"abc", 256, false).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            sha(b"abc", 384, true).unwrap(),
            "ywB1P0WjXou1oD1pmsZQBycsMqsO3tFjGotgWkP/W+2AhgcroefMI1i67KE0yCWn"
        );
        assert!(sha(b"abc", 1, true).is_err());
        assert_eq!(base64_decode(&base64_encode("héllo")).unwrap(), "héllo");
    }

    #[test]
    fn bibtex_and_xml() {
        let v = parse("@book{k, Title = {T}, author = \"A\"}", Format::Bibtex).unwrap();
        assert_eq!(v["bibliographies"][0]["citation_key"], "k");
        assert_eq!(v["bibliographies"][0]["tags"]["title"], "T");
        let v = parse("<a><b>1</b></a>", Format::Xml).unwrap();
        assert!(v.get("a").is_some(), "{v}");
    }
}
