//! The checks every generated value passes before it is kept.
//!
//! A model's answer is untrusted input that ends up in published pages, so [`check`] holds it
//! to the prompt's contract: text is a non-empty string within `max_chars`; HTML is
//! sanitized (ammonia, a conservative set of tags, links `rel="noopener noreferrer"`) before
//! its length is measured; JSON is valid against the prompt's schema. Then no value may carry
//! personal data (an email address, a phone number, a card number) that the page's own public
//! fields do not already show: models invent plausible contacts, and a made-up phone number
//! on a published page reaches a real person. Error messages name the rule that failed and
//! never the data that failed it, because they are written to traces.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use super::OutputKind;

/// What a value is checked against.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits<'a> {
    /// The kind of value the prompt asks for.
    pub(crate) output: &'a OutputKind,
    /// Most characters (Unicode scalar values) of text, or of the text of HTML.
    pub(crate) max_chars: Option<usize>,
    /// The page's own public fields, concatenated: personal data found here may be echoed.
    pub(crate) public: &'a str,
}

/// A JSON Schema compiled once, for the values of one prompt.
#[derive(Debug)]
pub(crate) struct Compiled {
    validator: jsonschema::Validator,
}

impl Compiled {
    /// Compiles `schema`; the error says why it is not a usable schema.
    pub(crate) fn new(schema: &Value) -> Result<Self, String> {
        jsonschema::validator_for(schema)
            .map(|validator| Self { validator })
            .map_err(|e| format!("invalid JSON schema: {e}"))
    }

    /// Checks `value` against the schema; the error names the first failing place in the
    /// value (a JSON pointer), with the value itself masked.
    pub(crate) fn validate(&self, value: &Value) -> Result<(), String> {
        self.validator.validate(value).map_err(|e| {
            let path = match e.instance_path.as_str() {
                "" => "/",
                path => path,
            };
            format!("does not match its schema at `{path}`: {}", e.masked())
        })
    }
}

/// Checks `value` against `limits`; returns the value to keep (trimmed text, sanitized HTML,
/// the JSON as it is) or why it fails. JSON schemas are compiled per call: see [`check_with`].
pub(crate) fn check(value: &Value, limits: &Limits) -> Result<Value, String> {
    check_with(value, limits, None)
}

/// [`check`], validating JSON with `schema` (the prompt's schema, compiled once) when given.
pub(crate) fn check_with(
    value: &Value,
    limits: &Limits,
    schema: Option<&Compiled>,
) -> Result<Value, String> {
    match limits.output {
        OutputKind::Text => {
            let text = string(value, "text")?.trim();
            non_empty(text)?;
            max_chars(text.chars().count(), limits.max_chars)?;
            personal_data(text, limits.public)?;
            Ok(Value::String(text.to_owned()))
        }
        OutputKind::Html => {
            let html = sanitize_html(string(value, "HTML")?);
            let html = html.trim();
            let text = text_of(html);
            non_empty(text.trim())?;
            max_chars(text.chars().count(), limits.max_chars)?;
            // The text has entities decoded; the markup has the link targets.
            personal_data(&text, limits.public)?;
            personal_data(html, limits.public)?;
            Ok(Value::String(html.to_owned()))
        }
        OutputKind::Json { schema: source } => {
            match schema {
                Some(compiled) => compiled.validate(value)?,
                None => Compiled::new(source)?.validate(value)?,
            }
            let mut leaves = Vec::new();
            string_leaves(value, &mut leaves);
            for leaf in leaves {
                personal_data(leaf, limits.public)?;
            }
            Ok(value.clone())
        }
    }
}

fn string<'v>(value: &'v Value, kind: &str) -> Result<&'v str, String> {
    value.as_str().ok_or_else(|| {
        let got = match value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
        };
        format!("expected {kind} (a JSON string), got {got}")
    })
}

fn non_empty(text: &str) -> Result<(), String> {
    if text.is_empty() {
        return Err("the answer is empty".to_owned());
    }
    Ok(())
}

fn max_chars(chars: usize, limit: Option<usize>) -> Result<(), String> {
    match limit {
        Some(limit) if chars > limit => Err(format!(
            "{chars} characters, over the limit of {limit} (max_chars)"
        )),
        _ => Ok(()),
    }
}

fn string_leaves<'v>(value: &'v Value, out: &mut Vec<&'v str>) {
    match value {
        Value::String(s) => out.push(s),
        Value::Array(items) => items.iter().for_each(|v| string_leaves(v, out)),
        Value::Object(map) => map.values().for_each(|v| string_leaves(v, out)),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// The sanitizer: conservative tags for body copy (no headings above `h2`, no images, no
/// tables, no `div`/`span`, no `class` or `style`), `http`, `https` and `mailto` links only.
static SANITIZER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut builder = ammonia::Builder::default();
    builder
        .tags(HashSet::from([
            "a",
            "abbr",
            "b",
            "blockquote",
            "br",
            "cite",
            "code",
            "dd",
            "del",
            "dl",
            "dt",
            "em",
            "h2",
            "h3",
            "h4",
            "h5",
            "h6",
            "hr",
            "i",
            "ins",
            "kbd",
            "li",
            "mark",
            "ol",
            "p",
            "pre",
            "q",
            "s",
            "small",
            "strong",
            "sub",
            "sup",
            "u",
            "ul",
        ]))
        .tag_attributes(HashMap::from([
            ("a", HashSet::from(["href", "hreflang", "title"])),
            ("abbr", HashSet::from(["title"])),
        ]))
        .generic_attributes(HashSet::from(["lang"]))
        .url_schemes(HashSet::from(["http", "https", "mailto"]))
        .link_rel(Some("noopener noreferrer"))
        .strip_comments(true);
    builder
});

/// Sanitizes generated HTML: only conservative tags and attributes are kept (the text of
/// others stays, `script` and `style` go with their content), and every link gets
/// `rel="noopener noreferrer"`.
pub(crate) fn sanitize_html(html: &str) -> String {
    SANITIZER.clean(html).to_string()
}

/// The text of sanitized HTML: tags dropped, entities decoded.
fn text_of(html: &str) -> String {
    let mut tagless = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        tagless.push_str(&rest[..start]);
        // Skip the tag; `>` may appear inside a quoted attribute value.
        let mut quoted = false;
        let end = rest[start..]
            .char_indices()
            .find(|&(_, c)| {
                if c == '"' {
                    quoted = !quoted;
                }
                c == '>' && !quoted
            })
            .map_or(rest.len(), |(i, _)| start + i + 1);
        rest = &rest[end..];
    }
    tagless.push_str(rest);
    html_escape::decode_html_entities(&tagless).into_owned()
}

/// An email address.
static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}").expect("valid regex")
});

/// A run of digits with the separators of phone and card numbers between them.
static NUMBER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\+?\(?[0-9]+(?:[ \u{a0}().-]{1,3}[0-9]+)*\)?").expect("valid regex")
});

/// A date, which has the digits and separators of a phone number.
static DATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(?:[0-9]{4}[-./][0-9]{1,2}[-./][0-9]{1,2}|[0-9]{1,2}[-./][0-9]{1,2}[-./][0-9]{4})$",
    )
    .expect("valid regex")
});

/// Fails when `text` holds an email address, phone number or card number that `public` does
/// not. The message names the kind of data, never the data.
fn personal_data(text: &str, public: &str) -> Result<(), String> {
    let fail = |what: &str| {
        Err(format!(
            "personal data not in the page's public fields: {what}"
        ))
    };
    let mut public_lower = None;
    for found in EMAIL.find_iter(text) {
        let public = public_lower.get_or_insert_with(|| public.to_lowercase());
        if !public.contains(&found.as_str().to_lowercase()) {
            return fail("an email address");
        }
    }
    let mut public_numbers = None;
    for found in NUMBER.find_iter(text) {
        // Digits inside a word (an id, a hash) are not a number of their own.
        let before = text[..found.start()].chars().next_back();
        let after = text[found.end()..].chars().next();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_')
            || after.is_some_and(|c| c.is_alphanumeric() || c == '_')
        {
            continue;
        }
        let digits: String = found
            .as_str()
            .chars()
            .filter(char::is_ascii_digit)
            .collect();
        let what = if (13..=19).contains(&digits.len()) && luhn(&digits) {
            "a card number"
        } else if (7..=15).contains(&digits.len()) && !not_a_phone(found.as_str().trim()) {
            "a phone number"
        } else {
            continue;
        };
        let (joined, runs) = public_numbers.get_or_insert_with(|| numbers_of(public));
        let known = joined.contains(&digits)
            || runs
                .iter()
                .any(|run: &String| run.len() >= 7 && digits.contains(run.as_str()));
        if !known {
            return fail(what);
        }
    }
    Ok(())
}

/// Dates and decimal numbers have the shape of phone numbers but are not.
fn not_a_phone(number: &str) -> bool {
    let trimmed = number.trim_matches(|c: char| !c.is_ascii_digit());
    DATE.is_match(trimmed)
        || (trimmed.matches('.').count() == 1
            && trimmed.chars().all(|c| c.is_ascii_digit() || c == '.'))
}

/// The digits of `public` with the number separators removed (so a number found anywhere in
/// it, in any format, is a substring), and each number run's digits on its own.
fn numbers_of(public: &str) -> (String, Vec<String>) {
    let joined = public
        .chars()
        .filter(|c| !matches!(c, ' ' | '\u{a0}' | '(' | ')' | '.' | '-' | '+'))
        .collect();
    let runs = NUMBER
        .find_iter(public)
        .map(|m| m.as_str().chars().filter(char::is_ascii_digit).collect())
        .collect();
    (joined, runs)
}

/// Whether `digits` pass the Luhn checksum of card numbers.
fn luhn(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            match (i % 2 == 1, d * 2) {
                (false, _) => d,
                (true, doubled) if doubled > 9 => doubled - 9,
                (true, doubled) => doubled,
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::{Compiled, Limits, OutputKind, check, check_with, luhn, sanitize_html, text_of};
    use serde_json::json;

    fn limits<'a>(output: &'a OutputKind, max_chars: Option<usize>, public: &'a str) -> Limits<'a> {
        Limits {
            output,
            max_chars,
            public,
        }
    }

    #[test]
    fn text_is_a_trimmed_string_within_max_chars() {
        let l = limits(&OutputKind::Text, Some(5), "");
        assert_eq!(check(&json!("  héllo \n"), &l).unwrap(), json!("héllo"));
        let error = check(&json!("héllo!"), &l).unwrap_err();
        assert!(
            error.contains("limit of 5") && error.contains("max_chars"),
            "{error}"
        );
        assert!(check(&json!(42), &l).unwrap_err().contains("a number"));
        assert!(check(&json!("   "), &l).unwrap_err().contains("empty"));
        let unlimited = limits(&OutputKind::Text, None, "");
        assert!(check(&json!("x".repeat(10_000)), &unlimited).is_ok());
    }

    #[test]
    fn html_is_sanitized_then_measured_as_text() {
        let l = limits(&OutputKind::Html, Some(11), "");
        let out = check(
            &json!(
                "<p onclick=\"x()\" class=\"c\">Hello &amp; <a href=\"https://e.com\">bye</a></p>\
                 <script>alert(1)</script><img src=x>"
            ),
            &l,
        )
        .unwrap();
        assert_eq!(
            out,
            json!(
                "<p>Hello &amp; <a href=\"https://e.com\" rel=\"noopener noreferrer\">bye</a></p>"
            )
        );
        // 13 characters of text.
        let error = check(&json!("<b>Hello &amp; world</b>"), &l).unwrap_err();
        assert!(error.contains("limit of 11"), "{error}");
        // Markup does not count.
        assert!(check(&json!("<p><em>Hello</em> <strong>w</strong></p>"), &l).is_ok());
        assert!(
            check(&json!("<img src=x><script>1</script>"), &l).is_err(),
            "empty"
        );
        let clean = sanitize_html("<a href=\"javascript:alert(1)\">x</a><div style=\"a\">y</div>");
        assert_eq!(clean, "<a rel=\"noopener noreferrer\">x</a>y");
        assert_eq!(
            text_of("<a title=\"a > b\">x</a> &lt;&nbsp;&unknown"),
            "x <\u{a0}&unknown"
        );
    }

    #[test]
    fn json_is_validated_against_the_schema() {
        let kind = OutputKind::Json {
            schema: json!({
                "type": "object",
                "required": ["items"],
                "properties": {"items": {"type": "array", "items": {"type": "integer"}}}
            }),
        };
        let l = limits(&kind, None, "");
        let good = json!({"items": [1, 2]});
        assert_eq!(check(&good, &l).unwrap(), good);
        let error = check(&json!({"items": [1, "secret"]}), &l).unwrap_err();
        assert!(error.contains("`/items/1`"), "{error}");
        assert!(!error.contains("secret"), "the value is masked: {error}");
        let error = check(&json!([]), &l).unwrap_err();
        assert!(error.contains("`/`"), "{error}");
        let OutputKind::Json { schema } = &kind else {
            unreachable!()
        };
        let compiled = Compiled::new(schema).unwrap();
        assert!(check_with(&good, &l, Some(&compiled)).is_ok());
        assert!(check_with(&json!({}), &l, Some(&compiled)).is_err());
        assert!(Compiled::new(&json!({"type": 12})).is_err());
    }

    #[test]
    fn emails_not_on_the_page_are_refused_without_being_named() {
        let text = OutputKind::Text;
        let l = limits(&text, None, "Contact: Desk@Example.org");
        let error = check(&json!("Write to jane.doe@gmail.com today"), &l).unwrap_err();
        assert_eq!(
            error,
            "personal data not in the page's public fields: an email address"
        );
        assert!(check(&json!("Write to desk@example.org today"), &l).is_ok());
        let html = OutputKind::Html;
        let l = limits(&html, None, "");
        let error = check(&json!("<a href=\"mailto:x@y.com\">mail us</a>"), &l).unwrap_err();
        assert!(error.contains("email"), "{error}");
        let kind = OutputKind::Json {
            schema: json!({"type": "object"}),
        };
        let l = limits(&kind, None, "");
        let error = check(&json!({"a": {"b": ["ok", "me@x.io"]}}), &l).unwrap_err();
        assert!(
            error.contains("email") && !error.contains("me@x.io"),
            "{error}"
        );
    }

    #[test]
    fn phone_numbers_match_the_page_in_any_format() {
        let text = OutputKind::Text;
        let l = limits(&text, None, "Call +1 (555) 123-4567, or visit us.");
        assert!(check(&json!("Call 555.123.4567 now"), &l).is_ok());
        assert!(check(&json!("Call +15551234567 now"), &l).is_ok());
        assert!(check(&json!("Call 555 123 4567 now"), &l).is_ok());
        let error = check(&json!("Call 555-987-6543 now"), &l).unwrap_err();
        assert_eq!(
            error,
            "personal data not in the page's public fields: a phone number"
        );
        assert!(!error.contains("987"));
        let nobody = limits(&text, None, "");
        assert!(check(&json!("Ring +44 20 7946 0958."), &nobody).is_err());
        assert!(check(&json!("Ring (020) 7946-0958."), &nobody).is_err());
        // Not phone numbers: short numbers, dates, decimals, digits inside words.
        for fine in [
            "Founded 1999, 120 staff, open 9-17.",
            "Updated 2024-01-15 and 15.01.2024.",
            "Pi is 3.14159265.",
            "Commit a1b2c3d4e5f60718 and id_12345678.",
        ] {
            assert!(check(&json!(fine), &nobody).is_ok(), "{fine}");
        }
    }

    #[test]
    fn card_numbers_are_luhn_valid_digit_runs() {
        assert!(luhn("4111111111111111"));
        assert!(!luhn("4111111111111112"));
        let text = OutputKind::Text;
        let nobody = limits(&text, None, "");
        let error = check(&json!("Pay with 4111 1111 1111 1111."), &nobody).unwrap_err();
        assert_eq!(
            error,
            "personal data not in the page's public fields: a card number"
        );
        assert!(check(&json!("Pay with 4111-1111-1111-1111."), &nobody).is_err());
        // 16 digits failing the checksum: not a card (and too long for a phone number).
        assert!(check(&json!("Order 4111 1111 1111 1112."), &nobody).is_ok());
        let public = limits(&text, None, "test card 4111-1111-1111-1111");
        assert!(check(&json!("Use 4111111111111111."), &public).is_ok());
    }
}
