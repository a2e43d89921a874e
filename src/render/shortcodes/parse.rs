//! Finding shortcode calls in a markdown body, as Zola's grammar (`content.pest`) reads them.
//!
//! Pure and allocation-light: [`parse`] returns the body with every call replaced by a
//! placeholder, the calls (with their byte offsets in the original body, for errors), and
//! escaped calls (`{{/* … */}}`, `{%/* … */%}`) written out as the call they show. Text that
//! only looks like a call (`{{ page.title }}`, a malformed argument) stays text, as in Zola; an
//! unclosed `{% name() %}` or a stray `{% end %}` is an error, as in Zola.

use serde_json::{Map, Number, Value};

use crate::splice::placeholder;

/// One shortcode call.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Call {
    /// The shortcode's name.
    pub(crate) name: String,
    /// Its arguments, an object.
    pub(crate) args: Map<String, Value>,
    /// Its body (trimmed, with its own calls replaced by placeholders), for `{% … %}` calls.
    pub(crate) body: Option<String>,
    /// Calls in the body, indexed by their placeholders.
    pub(crate) inner: Vec<Call>,
    /// The index of its placeholder.
    pub(crate) index: usize,
    /// How many calls of this shortcode came before it in the file, plus one.
    pub(crate) nth: usize,
    /// Byte offset of the call in the original body.
    pub(crate) offset: usize,
    /// Byte length of the call in the original body.
    pub(crate) len: usize,
}

/// A body with its calls replaced by placeholders.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Parsed {
    /// The text, with placeholders.
    pub(crate) text: String,
    /// The calls, indexed by their placeholders.
    pub(crate) calls: Vec<Call>,
    /// Where the text differs from the source, in order.
    pub(crate) edits: Vec<Edit>,
}

/// A part of the source written otherwise in the text: a call, or an escaped call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Edit {
    /// Byte offset in the text.
    pub(crate) at: usize,
    /// Byte length in the text.
    pub(crate) len: usize,
    /// Byte offset in the source.
    pub(crate) source_at: usize,
    /// Byte length in the source.
    pub(crate) source_len: usize,
    /// The call (an index of `calls`) it is, when it is one.
    pub(crate) call: Option<usize>,
}

/// A body that cannot be read: byte offset and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    /// Byte offset in the body.
    pub(crate) offset: usize,
    /// What is wrong.
    pub(crate) message: String,
}

/// Reads `body`: calls become placeholders, escaped calls the calls they show.
pub(crate) fn parse(body: &str) -> Result<Parsed, SyntaxError> {
    let mut counter = std::collections::HashMap::new();
    let mut next_index = 0;
    parse_in(body, 0, &mut counter, &mut next_index, false)
}

/// Parses `text` (found at `base` in the body). Inside a body (`nested`), a `{% end %}` ends the
/// text; the caller finds it.
fn parse_in(
    text: &str,
    base: usize,
    counter: &mut std::collections::HashMap<String, usize>,
    next_index: &mut usize,
    nested: bool,
) -> Result<Parsed, SyntaxError> {
    let mut out = Parsed {
        text: String::with_capacity(text.len()),
        calls: Vec::new(),
        edits: Vec::new(),
    };
    let bytes = text.as_bytes();
    let mut copied = 0;
    let mut i = 0;
    while let Some(found) = memchr_brace(bytes, i) {
        i = found;
        let rest = &text[i..];
        let at_start = i;
        let out_before = out.text.len() + (i - copied);
        let calls_before = out.calls.len();
        if let Some(len) = escaped_inline(rest) {
            out.text.push_str(&text[copied..i]);
            let shown = rest[..len]
                .replacen("{{/*", "{{", 1)
                .replacen("*/}}", "}}", 1);
            out.text.push_str(&shown);
            i += len;
            copied = i;
        } else if let Some((name, args, len)) = call(rest, "{{", "}}") {
            out.text.push_str(&text[copied..i]);
            let nth = bump(counter, &name);
            let index = *next_index;
            out.text.push_str(&placeholder(index));
            *next_index += 1;
            out.calls.push(Call {
                index,
                name,
                args,
                body: None,
                inner: Vec::new(),
                nth,
                offset: base + i,
                len,
            });
            i += len;
            copied = i;
        } else if let Some(len) = escaped_body(rest) {
            out.text.push_str(&text[copied..i]);
            let (open_len, close_start) = len;
            let open = rest[..open_len]
                .replacen("{%/*", "{%", 1)
                .replacen("*/%}", "%}", 1);
            out.text.push_str(&open);
            out.text.push_str(&rest[open_len..close_start.0]);
            let close = &rest[close_start.0..close_start.1];
            out.text
                .push_str(&close.replacen("{%/*", "{%", 1).replacen("*/%}", "%}", 1));
            i += close_start.1;
            copied = i;
        } else if let Some((name, args, open_len)) = call(rest, "{%", "%}") {
            out.text.push_str(&text[copied..i]);
            let nth = bump(counter, &name);
            let index = *next_index;
            *next_index += 1;
            let inside = &rest[open_len..];
            let end = find_end(inside).ok_or_else(|| SyntaxError {
                offset: base + i,
                message: format!(
                    "the shortcode call `{}` has no `{{% end %}}`",
                    rest[..open_len].trim()
                ),
            })?;
            let raw_body = &inside[..end.0];
            if raw_body.is_empty() {
                return Err(SyntaxError {
                    offset: base + i,
                    message: format!(
                        "the shortcode call `{}` has an empty body",
                        rest[..open_len].trim()
                    ),
                });
            }
            let trimmed = raw_body.trim();
            let lead = raw_body.len() - raw_body.trim_start().len();
            let inner = parse_in(
                trimmed,
                base + i + open_len + lead,
                counter,
                next_index,
                true,
            )?;
            out.text.push_str(&placeholder(index));
            let len = open_len + end.1;
            out.calls.push(Call {
                index,
                name,
                args,
                body: Some(inner.text),
                inner: inner.calls,
                nth,
                offset: base + i,
                len,
            });
            i += len;
            copied = i;
        } else if end_tag(rest).is_some() && !nested {
            return Err(SyntaxError {
                offset: base + i,
                message: "`{% end %}` without a shortcode call to close".to_owned(),
            });
        } else {
            i += 1;
            continue;
        }
        out.edits.push(Edit {
            at: out_before,
            len: out.text.len() - out_before,
            source_at: base + at_start,
            source_len: i - at_start,
            call: (out.calls.len() > calls_before).then_some(calls_before),
        });
    }
    out.text.push_str(&text[copied..]);
    Ok(out)
}

fn bump(counter: &mut std::collections::HashMap<String, usize>, name: &str) -> usize {
    let n = counter.entry(name.to_owned()).or_insert(0);
    *n += 1;
    *n
}

/// The next `{` from `from`.
fn memchr_brace(bytes: &[u8], from: usize) -> Option<usize> {
    bytes[from.min(bytes.len())..]
        .iter()
        .position(|b| *b == b'{')
        .map(|p| p + from)
}

/// The end of the body of a `{% … %}` call starting at `inside`: (where the `{% end %}`
/// starts, where it ends), skipping nested body calls.
fn find_end(inside: &str) -> Option<(usize, usize)> {
    let mut depth = 0usize;
    let mut i = 0;
    let bytes = inside.as_bytes();
    while let Some(found) = memchr_brace(bytes, i) {
        i = found;
        let rest = &inside[i..];
        if let Some(len) = escaped_inline(rest) {
            i += len;
        } else if let Some((_, _, len)) = call(rest, "{{", "}}") {
            i += len;
        } else if let Some((_, close)) = escaped_body(rest) {
            i += close.1;
        } else if let Some((_, _, len)) = call(rest, "{%", "%}") {
            depth += 1;
            i += len;
        } else if let Some(len) = end_tag(rest) {
            if depth == 0 {
                return Some((i, i + len));
            }
            depth -= 1;
            i += len;
        } else {
            i += 1;
        }
    }
    None
}

/// `{{/* name(…) */}}`: its length.
fn escaped_inline(text: &str) -> Option<usize> {
    let rest = text.strip_prefix("{{/*")?;
    let mut cursor = Cursor::new(rest);
    cursor.ws();
    cursor.definition()?;
    cursor.ws();
    cursor.eat("*/}}")?;
    Some(4 + cursor.at)
}

/// `{%/* name(…) */%}…{%/* end */%}`: the opening tag's length, and where the closing tag
/// starts and ends.
fn escaped_body(text: &str) -> Option<(usize, (usize, usize))> {
    let rest = text.strip_prefix("{%/*")?;
    let mut cursor = Cursor::new(rest);
    cursor.ws();
    cursor.definition()?;
    cursor.ws();
    cursor.eat("*/%}")?;
    let open = 4 + cursor.at;
    let mut i = open;
    while let Some(at) = text[i..].find("{%/*") {
        let start = i + at;
        let mut c = Cursor::new(&text[start + 4..]);
        c.ws();
        if c.eat("end").is_some() {
            c.ws();
            if c.eat("*/%}").is_some() {
                // The body must not be empty (Zola's `+`).
                return (start > open).then_some((open, (start, start + 4 + c.at)));
            }
        }
        i = start + 4;
    }
    None
}

/// `{% end %}`: its length.
fn end_tag(text: &str) -> Option<usize> {
    let rest = text.strip_prefix("{%")?;
    let mut cursor = Cursor::new(rest);
    cursor.ws();
    cursor.eat("end")?;
    cursor.ws();
    cursor.eat("%}")?;
    Some(2 + cursor.at)
}

/// `open name(args) close`: the name, the arguments and the length.
fn call(text: &str, open: &str, close: &str) -> Option<(String, Map<String, Value>, usize)> {
    let rest = text.strip_prefix(open)?;
    let mut cursor = Cursor::new(rest);
    cursor.ws();
    let (name, args) = cursor.definition()?;
    cursor.ws();
    cursor.eat(close)?;
    Some((name, args, open.len() + cursor.at))
}

/// A reader of one call.
struct Cursor<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Cursor<'a> {
    fn new(text: &'a str) -> Self {
        Self { text, at: 0 }
    }

    fn rest(&self) -> &'a str {
        &self.text[self.at..]
    }

    fn ws(&mut self) {
        let rest = self.rest();
        let trimmed = rest.trim_start_matches([' ', '\t', '\r', '\n']);
        self.at += rest.len() - trimmed.len();
    }

    fn eat(&mut self, token: &str) -> Option<()> {
        self.rest()
            .starts_with(token)
            .then(|| self.at += token.len())
    }

    fn ident(&mut self) -> Option<&'a str> {
        let rest = self.rest();
        let first = rest.bytes().next()?;
        if !(first.is_ascii_alphabetic() || first == b'_') {
            return None;
        }
        let len = rest
            .bytes()
            .position(|b| !(b.is_ascii_alphanumeric() || b == b'_'))
            .unwrap_or(rest.len());
        self.at += len;
        Some(&rest[..len])
    }

    /// `name(key=value, …)`.
    fn definition(&mut self) -> Option<(String, Map<String, Value>)> {
        let name = self.ident()?.to_owned();
        self.ws();
        self.eat("(")?;
        let mut args = Map::new();
        self.ws();
        // Zola's `kwargs*`: groups of comma-separated arguments, one after another.
        while !self.rest().starts_with(')') {
            loop {
                self.ws();
                let key = self.ident()?.to_owned();
                self.ws();
                self.eat("=")?;
                self.ws();
                let value = self.literal()?;
                args.insert(key, value);
                self.ws();
                if self.eat(",").is_none() {
                    break;
                }
            }
        }
        self.eat(")")?;
        Some((name, args))
    }

    /// A string (three quote kinds), a boolean, a float, an integer or an array.
    fn literal(&mut self) -> Option<Value> {
        let rest = self.rest();
        let first = rest.chars().next()?;
        match first {
            '"' | '\'' | '`' => {
                let end = rest[1..].find(first)?;
                self.at += end + 2;
                Some(Value::String(rest[1..=end].to_owned()))
            }
            '[' => {
                self.at += 1;
                let mut items = Vec::new();
                loop {
                    self.ws();
                    if self.eat("]").is_some() {
                        return Some(Value::Array(items));
                    }
                    items.push(self.literal()?);
                    self.ws();
                    if self.eat(",").is_none() {
                        self.ws();
                        self.eat("]")?;
                        return Some(Value::Array(items));
                    }
                }
            }
            _ if rest.starts_with("true") => {
                self.at += 4;
                Some(Value::Bool(true))
            }
            _ if rest.starts_with("false") => {
                self.at += 5;
                Some(Value::Bool(false))
            }
            _ => self.number(),
        }
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)?`, as Zola's grammar.
    fn number(&mut self) -> Option<Value> {
        let rest = self.rest();
        let bytes = rest.as_bytes();
        let mut i = usize::from(bytes.first() == Some(&b'-'));
        match bytes.get(i)? {
            b'0' => i += 1,
            b'1'..=b'9' => {
                i += 1;
                while bytes.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
            }
            _ => return None,
        }
        let int_end = i;
        if bytes.get(i) == Some(&b'.') && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
            i += 1;
            while bytes.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            let value: f64 = rest[..i].parse().ok()?;
            self.at += i;
            return Number::from_f64(value).map(Value::Number);
        }
        let value: i64 = rest[..int_end].parse().ok()?;
        self.at += int_end;
        Some(Value::Number(value.into()))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::parse;
    use crate::splice::placeholder;

    #[test]
    fn inline_calls_become_placeholders_with_their_arguments() {
        let body = "A {{ yt(id=\"x\", n=-3, f=1.5, on=true, s='q', b=`r`, l=[1, \"a\"]) }} b";
        let parsed = parse(body).unwrap();
        assert_eq!(parsed.text, format!("A {} b", placeholder(0)));
        let call = &parsed.calls[0];
        assert_eq!(call.name, "yt");
        assert_eq!(
            serde_json::Value::Object(call.args.clone()),
            json!({"id": "x", "n": -3, "f": 1.5, "on": true, "s": "q", "b": "r", "l": [1, "a"]})
        );
        assert_eq!((call.offset, call.len, call.nth), (2, body.len() - 4, 1));
    }

    #[test]
    fn body_calls_nest_and_count() {
        let body = "{% q(a=1) %}\nOne {{ q() }}\n{% q() %}x{% end %}\n{% end %}\n{{ q() }}";
        let parsed = parse(body).unwrap();
        assert_eq!(
            parsed.text,
            format!("{}\n{}", placeholder(0), placeholder(3))
        );
        let outer = &parsed.calls[0];
        assert_eq!(
            outer.body.as_deref(),
            Some(format!("One {}\n{}", placeholder(1), placeholder(2)).as_str())
        );
        assert_eq!(outer.inner.len(), 2);
        assert_eq!(outer.inner[1].body.as_deref(), Some("x"));
        let nths: Vec<usize> = [outer.nth, outer.inner[0].nth, outer.inner[1].nth]
            .into_iter()
            .chain([parsed.calls[1].nth])
            .collect();
        assert_eq!(nths, [1, 2, 3, 4]);
        assert_eq!(outer.inner[0].offset, body.find("{{").unwrap());
    }

    #[test]
    fn escaped_calls_print_the_call_and_lookalikes_stay_text() {
        let body = "{{/* yt(id=\"x\") */}} {%/* q() */%}\nbody {{ a() }}\n{%/* end */%} {{ page.title }} {{ a(x=) }}";
        let parsed = parse(body).unwrap();
        assert_eq!(
            parsed.text,
            "{{ yt(id=\"x\") }} {% q() %}\nbody {{ a() }}\n{% end %} {{ page.title }} {{ a(x=) }}"
        );
        assert!(parsed.calls.is_empty());
    }

    #[test]
    fn unclosed_or_stray_tags_are_errors() {
        assert_eq!(parse("x\n{% q() %}\nbody").unwrap_err().offset, 2);
        assert!(parse("{% end %}").is_err());
        assert!(parse("{% q() %}{% end %}").is_err());
        assert!(parse("{% if x %}").is_ok(), "not a call");
    }
}
