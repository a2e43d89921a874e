//! Prompts: tera templates in prompts/, with TOML front matter.
//!
//! ```text
//! +++
//! name = "snippet"        # the file's stem when unset
//! version = 2             # 1 when unset; `snippet` means the newest, `snippet@1` that one
//! class = "short"         # the request class: budgets and batch sizes
//! output = "text"         # "text", "html" (sanitized) or "json" (with `schema`)
//! max_chars = 160         # answers longer than this fail their check
//! max_tokens = 80         # the answer's token limit (a class's `max_tokens` caps it)
//! system = "You write…"   # the system message
//! fallback = "{{ page.title }} in {{ page.data.city }}."   # required: the copy without a model
//! +++
//! Write one sentence about {{ page.title }} …
//! ```
//!
//! Body and fallback see `page` (title, description, path, permalink, data, extra,
//! taxonomies), `vars` (the field's variables) and `config`. All prompts are compiled once per
//! build into one tera instance.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;

use crate::diagnostics::Diagnostic;
use crate::generate::OutputKind;
use crate::hash::{ContentHash, Fingerprint};
use crate::load::front_matter::{self, Format};
use crate::value::{KeyOffsets, parse_toml};

/// One version of a prompt.
#[derive(Debug, Clone)]
pub(crate) struct Prompt {
    /// Its name.
    pub(crate) name: String,
    /// Its version.
    pub(crate) version: u32,
    /// Its request class.
    pub(crate) class: String,
    /// What it asks for.
    pub(crate) output: Arc<OutputKind>,
    /// Longest acceptable answer, in characters.
    pub(crate) max_chars: Option<usize>,
    /// The answer's token limit.
    pub(crate) max_tokens: u32,
    /// The system message.
    pub(crate) system: Option<String>,
    /// The file, relative to the root.
    pub(crate) file: String,
    /// Hash of the file: part of every cache key made with it.
    pub(crate) hash: ContentHash,
}

impl Prompt {
    /// `name@version`.
    pub(crate) fn id(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }
}

/// Every prompt of the site, compiled.
#[derive(Default)]
pub(crate) struct Prompts {
    /// By `name@version`.
    prompts: HashMap<String, Prompt>,
    /// Newest version by name.
    newest: HashMap<String, u32>,
    tera: tera::Tera,
}

impl std::fmt::Debug for Prompts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prompts")
            .field("prompts", &self.prompts.keys())
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Head {
    name: Option<String>,
    #[serde(default = "one")]
    version: u32,
    #[serde(default = "default_class")]
    class: String,
    #[serde(default = "text")]
    output: String,
    schema: Option<toml::Value>,
    max_chars: Option<usize>,
    #[serde(default = "default_tokens")]
    max_tokens: u32,
    system: Option<String>,
    fallback: Option<String>,
}

fn one() -> u32 {
    1
}
fn default_class() -> String {
    "default".to_owned()
}
fn text() -> String {
    "text".to_owned()
}
fn default_tokens() -> u32 {
    256
}

impl Prompts {
    /// Reads the prompts among `files` (root-relative paths under prompts/).
    pub(crate) fn load<'a>(
        root: &Path,
        files: impl Iterator<Item = &'a str>,
        problems: &mut Vec<Diagnostic>,
    ) -> Self {
        let mut prompts = Self::default();
        let mut templates: Vec<(String, String)> = Vec::new();
        for file in files {
            if !(file.ends_with(".md") || file.ends_with(".txt") || file.ends_with(".tera")) {
                continue;
            }
            let text = match std::fs::read_to_string(root.join(file)) {
                Ok(text) => text,
                Err(e) => {
                    problems.push(
                        Diagnostic::error(format!("cannot read the prompt: {e}")).in_file(file),
                    );
                    continue;
                }
            };
            match parse(file, &text) {
                Ok((prompt, body, fallback)) => {
                    let id = prompt.id();
                    if let Some(other) = prompts.prompts.get(&id) {
                        problems.push(
                            Diagnostic::error(format!(
                                "two prompts are `{id}`: this one and {}",
                                other.file
                            ))
                            .in_file(file)
                            .with_help("give one of them another `version`"),
                        );
                        continue;
                    }
                    templates.push((id.clone(), body));
                    templates.push((format!("{id}#fallback"), fallback));
                    if let Some(system) = &prompt.system {
                        templates.push((format!("{id}#system"), system.clone()));
                    }
                    let newest = prompts.newest.entry(prompt.name.clone()).or_insert(0);
                    *newest = (*newest).max(prompt.version);
                    prompts.prompts.insert(id, prompt);
                }
                Err(d) => problems.push(d),
            }
        }
        templates.sort();
        for (name, body) in &templates {
            if let Err(e) = prompts.tera.add_raw_template(name, body) {
                let id = name.split('#').next().unwrap_or(name);
                let file = prompts.prompts.get(id).map_or("prompts", |p| &p.file);
                problems.push(
                    Diagnostic::error(format!(
                        "the prompt `{name}` is not a valid template: {}",
                        crate::diagnostics::error_chain(&e)
                    ))
                    .in_file(file)
                    .with_help("prompts are tera templates: check the {{ }} and {% %} tags"),
                );
            }
        }
        prompts
    }

    /// The prompt `reference` names: `name` (its newest version) or `name@version`.
    pub(crate) fn resolve(&self, reference: &str) -> Option<&Prompt> {
        if let Some((name, version)) = reference.split_once('@') {
            self.prompts.get(&format!("{name}@{}", version.trim()))
        } else {
            let version = self.newest.get(reference.trim())?;
            self.prompts.get(&format!("{}@{version}", reference.trim()))
        }
    }

    /// Renders the prompt's body (`part` ""), `fallback` or `system` with `context`.
    pub(crate) fn render(
        &self,
        prompt: &Prompt,
        part: &str,
        context: &tera::Context,
    ) -> Result<String, String> {
        let name = if part.is_empty() {
            prompt.id()
        } else {
            format!("{}#{part}", prompt.id())
        };
        self.tera
            .render(&name, context)
            .map_err(|e| crate::diagnostics::error_chain(&e))
    }

    /// The fallback of `prompt` as a value: the text, or for JSON prompts the parsed JSON.
    pub(crate) fn fallback(
        &self,
        prompt: &Prompt,
        context: &tera::Context,
    ) -> Result<serde_json::Value, String> {
        let text = self.render(prompt, "fallback", context)?;
        match prompt.output.as_ref() {
            OutputKind::Json { .. } => serde_json::from_str(&text)
                .map_err(|e| format!("the fallback of `{}` is not JSON: {e}", prompt.id())),
            OutputKind::Html => Ok(serde_json::Value::String(
                crate::generate::checks::sanitize_html(text.trim()),
            )),
            OutputKind::Text => Ok(serde_json::Value::String(text.trim().to_owned())),
        }
    }
}

/// A prompt file → the prompt, its body and its fallback.
fn parse(file: &str, text: &str) -> Result<(Prompt, String, String), Diagnostic> {
    let split =
        front_matter::split(text).map_err(|e| Diagnostic::error(e).at(file, text, 1, None))?;
    if split.format != Some(Format::Toml) {
        return Err(Diagnostic::error("a prompt needs +++ TOML front matter")
            .at(file, text, 1, None)
            .with_help(
                "start the file with +++, then `fallback = \"…\"` and the other fields, then +++",
            ));
    }
    let (head, offsets): (Head, KeyOffsets) = parse_toml(split.front_matter, &[]).map_err(|e| {
        let line = e.span().map_or(0, |s| {
            split.front_matter[..s.start].matches('\n').count()
        }) + split.front_matter_line;
        Diagnostic::error(format!("invalid prompt front matter: {}", e.message()))
            .at(file, text, line, None)
            .with_help("prompt fields: name, version, class, output, schema, max_chars, max_tokens, system, fallback")
    })?;
    let at = |key: &str, message: String, help: &str| {
        let d = Diagnostic::error(message);
        match offsets.get(key) {
            Some(offset) => d.at_offset(file, text, split.front_matter_offset + offset),
            None => d.at(file, text, 1, None),
        }
        .with_help(help.to_owned())
    };
    let Some(fallback) = head.fallback else {
        return Err(at(
            "",
            "this prompt has no `fallback`".to_owned(),
            "add `fallback = \"…\"`: the copy used when no model answers (offline builds, failures, budgets)",
        ));
    };
    let output = match head.output.as_str() {
        "text" => OutputKind::Text,
        "html" => OutputKind::Html,
        "json" => {
            let Some(schema) = head.schema else {
                return Err(at(
                    "output",
                    "a JSON prompt needs a `schema`".to_owned(),
                    "add `schema = { type = \"object\", … }` (a JSON Schema)",
                ));
            };
            let schema = serde_json::to_value(schema).unwrap_or_default();
            if let Err(e) = jsonschema::validator_for(&schema) {
                return Err(at(
                    "schema",
                    format!("the schema is not a valid JSON Schema: {e}"),
                    "fix the schema",
                ));
            }
            OutputKind::Json { schema }
        }
        other => {
            return Err(at(
                "output",
                format!("unknown output `{other}`"),
                "write output = \"text\", \"html\" or \"json\"",
            ));
        }
    };
    let stem = Path::new(file)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = head.name.unwrap_or(stem);
    if name.is_empty() || name.contains(['@', '#', '/']) {
        return Err(at(
            "name",
            format!("`{name}` is not a prompt name"),
            "use letters, digits, `-` and `_`",
        ));
    }
    let prompt = Prompt {
        name,
        version: head.version,
        class: head.class,
        output: Arc::new(output),
        max_chars: head.max_chars,
        max_tokens: head.max_tokens,
        system: head.system,
        file: file.to_owned(),
        hash: Fingerprint::new("prompt").str(text).finish(),
    };
    Ok((prompt, split.body.to_owned(), fallback))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(files: &[(&str, &str)]) -> (Prompts, Vec<Diagnostic>) {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        let mut problems = Vec::new();
        let prompts = Prompts::load(dir.path(), files.iter().map(|(n, _)| *n), &mut problems);
        (prompts, problems)
    }

    #[test]
    fn versions_resolve_and_render() {
        let (prompts, problems) = load(&[
            (
                "prompts/s.md",
                "+++\nversion = 2\nfallback = \"F {{ page.title }}\"\n+++\nv2 {{ page.title }} {{ vars.tone }}",
            ),
            (
                "prompts/s-old.md",
                "+++\nname = \"s\"\nfallback = \"old\"\n+++\nv1",
            ),
        ]);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(prompts.resolve("s").unwrap().version, 2);
        assert_eq!(prompts.resolve("s@1").unwrap().version, 1);
        assert!(prompts.resolve("s@3").is_none());
        let mut ctx = tera::Context::new();
        ctx.insert("page", &serde_json::json!({"title": "T"}));
        ctx.insert("vars", &serde_json::json!({"tone": "warm"}));
        let p = prompts.resolve("s").unwrap();
        assert_eq!(prompts.render(p, "", &ctx).unwrap(), "v2 T warm");
        assert_eq!(prompts.fallback(p, &ctx).unwrap(), "F T");
    }

    #[test]
    fn a_prompt_without_fallback_or_schema_is_an_error_at_its_line() {
        let (_, problems) = load(&[("prompts/a.md", "+++\nclass = \"x\"\n+++\nbody")]);
        assert!(
            problems[0].message.contains("no `fallback`"),
            "{problems:?}"
        );
        let (_, problems) = load(&[(
            "prompts/b.md",
            "+++\nfallback = \"{}\"\noutput = \"json\"\n+++\nbody",
        )]);
        assert!(problems[0].message.contains("needs a `schema`"));
        assert_eq!(problems[0].location.as_ref().unwrap().line, Some(3));
        let (_, problems) = load(&[("prompts/c.md", "+++\nfallback = \"x\"\n+++\n{{ oops")]);
        assert!(
            problems[0].message.contains("not a valid template"),
            "{problems:?}"
        );
    }

    #[test]
    fn json_fallbacks_are_parsed() {
        let (prompts, problems) = load(&[(
            "prompts/j.md",
            "+++\noutput = \"json\"\nschema = { type = \"object\" }\nfallback = '{\"a\": {{ page.title | json_encode() }}}'\n+++\nbody",
        )]);
        assert!(problems.is_empty(), "{problems:?}");
        let mut ctx = tera::Context::new();
        ctx.insert("page", &serde_json::json!({"title": "T \"q\""}));
        let p = prompts.resolve("j").unwrap();
        assert_eq!(
            prompts.fallback(p, &ctx).unwrap(),
            serde_json::json!({"a": "T \"q\""})
        );
    }
}
