//! The architecture, checked: a stage imports only from itself, the stages before it and the
//! ground floor, and no two modules of `src/` depend on each other, directly or through others.
//!
//! Reads the `crate::…`, `super::…` and `self::…` paths of every file of `src/` (not its
//! comments, strings or `#[cfg(test)]` blocks for the cycle check), so a change that makes a
//! stage reach forward (render importing post, say) or a module cycle fails here, naming the
//! files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The top-level modules in pipeline order: each may import from its own rank or below.
/// Rank 0 is the ground floor: the model and what every stage shares.
const RANKS: &[(&str, usize)] = &[
    ("alloc", 0),
    ("diagnostics", 0),
    ("fs", 0),
    ("hash", 0),
    ("value", 0),
    ("config", 0),
    ("site", 0),
    ("highlight", 0),
    ("markdown", 0),
    ("markdown_options", 0),
    ("splice", 0),
    ("load", 1),
    ("assets", 1),
    ("plan", 2),
    ("generate", 3),
    ("render", 4),
    ("post", 5),
    ("emit", 6),
    ("state", 7),
    ("build", 8),
    ("command", 9),
    ("serve", 9),
];

/// A module of `src/`: its path (`["plan", "hash"]`), and the code of its file.
struct Module {
    path: Vec<String>,
    file: PathBuf,
    code: String,
    /// The code without its `#[cfg(test)]` blocks.
    product: String,
}

#[test]
fn stages_import_only_what_runs_before_them() {
    let modules = modules();
    let known: BTreeSet<Vec<String>> = modules.iter().map(|m| m.path.clone()).collect();
    let mut wrong = Vec::new();
    for module in &modules {
        let Some(from) = module.path.first() else {
            continue;
        };
        let from_rank = rank(from);
        for target in references(module, &module.code, &known) {
            let Some(to) = target.first() else { continue };
            if rank(to) > from_rank {
                wrong.push(format!(
                    "{} (`{from}`, rank {from_rank}) imports `{}` (rank {})",
                    module.file.display(),
                    target.join("::"),
                    rank(to)
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "stages reach forward (see RANKS in tests/it/layering.rs):\n{}",
        wrong.join("\n")
    );
}

#[test]
fn no_module_takes_part_in_an_import_cycle() {
    let modules = modules();
    let known: BTreeSet<Vec<String>> = modules.iter().map(|m| m.path.clone()).collect();
    let graph: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = modules
        .iter()
        .map(|m| {
            let edges = references(m, &m.product, &known)
                .into_iter()
                .filter(|t| *t != m.path)
                .collect();
            (m.path.clone(), edges)
        })
        .collect();
    let cycles: Vec<String> = strongly_connected(&graph)
        .into_iter()
        .filter(|c| c.len() > 1)
        .map(|c| {
            c.iter()
                .map(|p| p.join("::"))
                .collect::<Vec<_>>()
                .join(" → ")
        })
        .collect();
    assert!(
        cycles.is_empty(),
        "modules that depend on each other:\n{}",
        cycles.join("\n")
    );
}

#[test]
fn the_checks_see_paths_in_every_form() {
    let known: BTreeSet<Vec<String>> = [
        vec!["plan".to_owned()],
        vec!["plan".to_owned(), "hash".to_owned()],
        vec!["site".to_owned()],
        vec!["render".to_owned()],
        vec!["render".to_owned(), "context".to_owned()],
    ]
    .into_iter()
    .collect();
    let module = Module {
        path: vec!["render".to_owned(), "context".to_owned()],
        file: PathBuf::from("src/render/context.rs"),
        code: String::new(),
        product: String::new(),
    };
    let code = "use crate::{plan::hash::{self, Fingerprints}, site};\n\
                // crate::post is only mentioned here\n\
                let s = \"crate::emit\";\n\
                use super::Renderer;";
    let found = references(&module, code, &known);
    let names: BTreeSet<String> = found.iter().map(|p| p.join("::")).collect();
    assert_eq!(
        names,
        ["plan::hash", "render", "site"]
            .into_iter()
            .map(str::to_owned)
            .collect::<BTreeSet<String>>()
    );
}

fn rank(module: &str) -> usize {
    RANKS.iter().find(|(name, _)| *name == module).map_or_else(
        || panic!("`{module}` has no rank: add it to RANKS in tests/it/layering.rs"),
        |(_, rank)| *rank,
    )
}

/// Every module file of `src/` but the binary's `main.rs`.
fn modules() -> Vec<Module> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut modules = Vec::new();
    for entry in walkdir::WalkDir::new(&src) {
        let entry = entry.unwrap();
        let file = entry.path();
        if file.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let relative = file.strip_prefix(&src).unwrap();
        if relative == Path::new("main.rs") {
            continue;
        }
        let mut path: Vec<String> = relative
            .with_extension("")
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if matches!(path.last().map(String::as_str), Some("mod" | "lib")) {
            path.pop();
        }
        let code = strip_comments_and_strings(&std::fs::read_to_string(file).unwrap());
        let product = without_tests(&code);
        modules.push(Module {
            path,
            file: relative.to_path_buf(),
            code,
            product,
        });
    }
    modules.sort_by(|a, b| a.path.cmp(&b.path));
    modules
}

/// The modules `code` (of `module`) refers to, each resolved to the longest known module
/// path that the reference starts with.
fn references(module: &Module, code: &str, known: &BTreeSet<Vec<String>>) -> BTreeSet<Vec<String>> {
    let mut found = BTreeSet::new();
    for (start, _) in code.match_indices("crate::") {
        if code[..start].ends_with(|c: char| c.is_alphanumeric() || c == '_') {
            continue;
        }
        for path in expand(&code[start + "crate::".len()..]) {
            found.extend(resolve(&path, known));
        }
    }
    // A module's children are named without a prefix (`hash::inputs` in `plan/mod.rs`).
    for line in code.lines() {
        let declared = line
            .trim_start()
            .trim_start_matches("pub(crate) ")
            .trim_start_matches("pub ");
        let Some(child) = declared
            .strip_prefix("mod ")
            .and_then(|rest| rest.strip_suffix(';'))
        else {
            continue;
        };
        let needle = format!("{child}::");
        for (start, _) in code.match_indices(&needle) {
            if code[..start].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let full: Vec<String> = module
                .path
                .iter()
                .cloned()
                .chain(expand(&code[start..]).into_iter().flatten())
                .collect();
            found.extend(resolve(&full, known));
        }
    }
    // `super::` and `self::` are relative to the module (its parent for `super`); a file's
    // `mod tests` sees its own module as `super`, which then names the file itself.
    for (prefix, up) in [("super::", 1), ("self::", 0)] {
        for (start, _) in code.match_indices(prefix) {
            if code[..start].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let base = &module.path[..module.path.len().saturating_sub(up)];
            for path in expand(&code[start + prefix.len()..]) {
                let full: Vec<String> = base.iter().cloned().chain(path).collect();
                found.extend(resolve(&full, known));
            }
        }
    }
    found
}

/// The longest known module path `path` starts with.
fn resolve(path: &[String], known: &BTreeSet<Vec<String>>) -> Option<Vec<String>> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|prefix| known.contains(prefix))
}

/// The paths of a use tree at the start of `text` (`a::{b, c::d}` → `a::b`, `a::c::d`).
fn expand(text: &str) -> Vec<Vec<String>> {
    let (paths, _) = tree(text.trim_start());
    paths
}

/// Parses one use tree; returns its paths and the rest of the text.
fn tree(text: &str) -> (Vec<Vec<String>>, &str) {
    let ident_end = text
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    let (ident, rest) = text.split_at(ident_end);
    if ident.is_empty() {
        if let Some(inner) = rest.strip_prefix('{') {
            let mut paths = Vec::new();
            let mut rest = inner;
            loop {
                rest = rest.trim_start();
                if let Some(after) = rest.strip_prefix('}') {
                    return (paths, after);
                }
                if rest.is_empty() {
                    return (paths, rest);
                }
                let (more, after) = tree(rest);
                paths.extend(more);
                rest = after.trim_start();
                rest = rest.strip_prefix(',').unwrap_or(rest);
            }
        }
        return (vec![Vec::new()], rest);
    }
    let ident = ident.to_owned();
    if let Some(after) = rest.strip_prefix("::") {
        let (paths, rest) = tree(after);
        let paths = paths
            .into_iter()
            .map(|p| {
                if p.first().is_some_and(|s| s == "self") {
                    vec![ident.clone()]
                } else {
                    std::iter::once(ident.clone()).chain(p).collect()
                }
            })
            .collect();
        return (paths, rest);
    }
    (vec![vec![ident]], rest)
}

/// `code` with comments, string and char literals blanked out (lengths kept).
fn strip_comments_and_strings(code: &str) -> String {
    let bytes = code.as_bytes();
    let mut out = String::with_capacity(code.len());
    let mut i = 0;
    while i < bytes.len() {
        let rest = &code[i..];
        if rest.starts_with("//") {
            let end = rest.find('\n').unwrap_or(rest.len());
            out.push_str(&" ".repeat(end));
            i += end;
        } else if rest.starts_with("/*") {
            let end = rest.find("*/").map_or(rest.len(), |e| e + 2);
            out.extend(
                rest[..end]
                    .chars()
                    .map(|c| if c == '\n' { '\n' } else { ' ' }),
            );
            i += end;
        } else if rest.starts_with("r#\"") || rest.starts_with("r\"") {
            let hashes = rest[1..].chars().take_while(|c| *c == '#').count();
            let close = format!("\"{}", "#".repeat(hashes));
            let open = 2 + hashes;
            let end = rest[open..]
                .find(&close)
                .map_or(rest.len(), |e| open + e + close.len());
            out.extend(
                rest[..end]
                    .chars()
                    .map(|c| if c == '\n' { '\n' } else { ' ' }),
            );
            i += end;
        } else if rest.starts_with('"') {
            let mut end = 1;
            let chars: Vec<(usize, char)> = rest.char_indices().collect();
            let mut k = 1;
            while k < chars.len() {
                match chars[k].1 {
                    '\\' => k += 2,
                    '"' => {
                        end = chars[k].0 + 1;
                        break;
                    }
                    _ => k += 1,
                }
                end = chars.get(k).map_or(rest.len(), |c| c.0);
            }
            out.extend(
                rest[..end]
                    .chars()
                    .map(|c| if c == '\n' { '\n' } else { ' ' }),
            );
            i += end;
        } else {
            let c = rest.chars().next().unwrap_or(' ');
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// `code` without its `#[cfg(test)]` items (the attribute and the braced block after it).
fn without_tests(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    let mut rest = code;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let after = &rest[at..];
        let Some(open) = after.find('{') else {
            rest = "";
            break;
        };
        let mut depth = 0;
        let mut end = after.len();
        for (i, c) in after[open..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = open + i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// Tarjan's strongly connected components of `graph`.
fn strongly_connected(
    graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
) -> Vec<Vec<Vec<String>>> {
    struct State<'g> {
        graph: &'g BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        index: BTreeMap<&'g Vec<String>, usize>,
        low: BTreeMap<&'g Vec<String>, usize>,
        stack: Vec<&'g Vec<String>>,
        on_stack: BTreeSet<&'g Vec<String>>,
        components: Vec<Vec<Vec<String>>>,
    }
    fn visit<'g>(s: &mut State<'g>, v: &'g Vec<String>) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.graph.get(v).into_iter().flatten() {
            let Some((w, _)) = s.graph.get_key_value(w) else {
                continue;
            };
            if !s.index.contains_key(w) {
                visit(s, w);
                let low = s.low[v].min(s.low[w]);
                s.low.insert(v, low);
            } else if s.on_stack.contains(w) {
                let low = s.low[v].min(s.index[w]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.clone());
                if w == v {
                    break;
                }
            }
            component.sort();
            s.components.push(component);
        }
    }
    let mut state = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        components: Vec::new(),
    };
    for v in graph.keys() {
        if !state.index.contains_key(v) {
            visit(&mut state, v);
        }
    }
    state.components
}
