//! The site's templates: read (built-in, then the theme's, then the site's, later ones
//! winning), parsed, and analysed for what each one uses.
//!
//! Parsing happens here, with every other input, so a site with a broken template and a broken
//! page reports both at once, and plan can tell which outputs a template edit touches before
//! anything renders. Render builds its tera instance from these parsed templates.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use crate::diagnostics::{Diagnostic, error_chain};
use crate::hash::Fingerprint;
use crate::load::theme::Theme;
use crate::load::walk::SourceFiles;
use crate::site::paths::relative_to;
use crate::site::{TemplateSource, TemplateUse};

/// Built-in templates, which a theme or the site may override by name. `404.html`,
/// `internal/alias.html`, `anchor-link.html`, `summary-cutoff.html` and
/// `split_sitemap_index.xml` are Zola's own, byte for byte.
const BUILTIN_TEMPLATES: [(&str, &str); 9] = [
    ("sitemap.xml", include_str!("../builtin/sitemap.xml")),
    (
        "split_sitemap_index.xml",
        include_str!("../builtin/split_sitemap_index.xml"),
    ),
    ("atom.xml", include_str!("../builtin/atom.xml")),
    ("rss.xml", include_str!("../builtin/rss.xml")),
    ("robots.txt", include_str!("../builtin/robots.txt")),
    (
        "internal/alias.html",
        include_str!("../builtin/internal/alias.html"),
    ),
    ("404.html", include_str!("../builtin/404.html")),
    (
        "anchor-link.html",
        include_str!("../builtin/anchor-link.html"),
    ),
    (
        "summary-cutoff.html",
        include_str!("../builtin/summary-cutoff.html"),
    ),
];

pub(crate) fn read(
    root: &Path,
    sources: &SourceFiles,
    theme: &Theme,
    problems: &mut Vec<Diagnostic>,
) -> Vec<TemplateSource> {
    let mut found: Vec<(String, std::path::PathBuf, std::borrow::Cow<'static, [u8]>)> =
        BUILTIN_TEMPLATES
            .iter()
            .map(|(name, text)| {
                (
                    (*name).to_owned(),
                    format!("(built-in) {name}").into(),
                    text.as_bytes().into(),
                )
            })
            .collect();
    let mut disk = Vec::new();
    // As Zola does, a theme's templates are also known by their path in the theme
    // (`NAME/templates/page.html`), so a site's template of the same name can extend them.
    match theme {
        Theme::Builtin => {
            for (name, bytes) in Theme::builtin_files("templates/") {
                for key in [
                    name.to_owned(),
                    format!("{}/templates/{name}", super::theme::DEFAULT),
                ] {
                    found.push((
                        key,
                        format!("(built-in theme) templates/{name}").into(),
                        bytes.into(),
                    ));
                }
            }
        }
        Theme::Folder(_) => {
            let folder = theme.folder_of("templates").unwrap_or_default();
            let prefix = theme.folder_name().unwrap_or_default();
            for (name, path, extra) in sources.files_in(root, &folder) {
                disk.push((format!("{prefix}/templates/{name}"), path.clone(), extra));
                disk.push((name, path, extra));
            }
        }
        Theme::None => {}
    }
    disk.extend(sources.files_in(root, "templates"));
    for (name, path, _) in disk {
        match std::fs::read(&path) {
            Ok(bytes) => found.push((name, relative_to(&path, root), bytes.into())),
            Err(e) => problems.push(
                Diagnostic::error(format!("cannot read template: {e}"))
                    .in_file(relative_to(&path, root)),
            ),
        }
    }
    // Later sources win: built-in, then theme, then site.
    let mut by_name: BTreeMap<String, (PathBuf, String)> = BTreeMap::new();
    for (name, origin, bytes) in found {
        match String::from_utf8(bytes.into_owned()) {
            Ok(text) => {
                by_name.insert(name, (origin, text));
            }
            Err(e) => {
                let offset = e.utf8_error().valid_up_to();
                let lossy = String::from_utf8_lossy(e.as_bytes()).into_owned();
                problems.push(
                    Diagnostic::error("template is not valid UTF-8")
                        .at_offset(&origin, &lossy, offset)
                        .with_help("save the file as UTF-8"),
                );
            }
        }
    }
    parse(by_name, problems)
}

/// Parses every template, reporting all syntax errors, and finds what each one uses.
fn parse(
    sources: BTreeMap<String, (PathBuf, String)>,
    problems: &mut Vec<Diagnostic>,
) -> Vec<TemplateSource> {
    let mut templates = Vec::with_capacity(sources.len());
    for (name, (origin, text)) in sources {
        match tera::Template::new(&name, Some(origin.display().to_string()), &text) {
            Ok(parsed) => templates.push(TemplateSource {
                name,
                origin,
                text,
                parsed,
                uses: TemplateUse::default(),
            }),
            Err(e) => problems.push(parse_error(&e, &origin, &text)),
        }
    }
    let mut uses = analyze(&templates, problems);
    for template in &mut templates {
        if let Some(found) = uses.remove(&template.name) {
            template.uses = found;
        }
    }
    templates
}

fn parse_error(e: &tera::Error, origin: &Path, text: &str) -> Diagnostic {
    let message = error_chain(e);
    let location = message.lines().find_map(|line| {
        let rest = line.trim().strip_prefix("--> ")?;
        let (line, column) = rest.split_once(':')?;
        Some((
            line.trim().parse::<usize>().ok()?,
            column.trim().parse::<usize>().ok()?,
        ))
    });
    let expected = message
        .lines()
        .filter_map(|l| l.trim().strip_prefix("= "))
        .next_back()
        .map_or_else(
            || message.lines().last().unwrap_or("").trim().to_owned(),
            str::to_owned,
        );
    let d = Diagnostic::error(format!("template syntax error: {expected}"));
    match location {
        Some((line, column)) => d.at(origin, text, line, Some(column)),
        None => d.in_file(origin),
    }
    .with_help("see tera's documentation of template syntax (tera 1.x, as used by Zola)")
}

/// Walks every template's syntax tree for what it uses. Templates that extend, include or
/// import each other in a cycle are an error naming it (tera would recurse until the stack
/// overflows).
fn analyze(
    sources: &[TemplateSource],
    problems: &mut Vec<Diagnostic>,
) -> HashMap<String, TemplateUse> {
    let texts: HashMap<&str, &str> = sources
        .iter()
        .map(|t| (t.name.as_str(), t.text.as_str()))
        .collect();
    let mut direct: HashMap<&str, Uses> = HashMap::new();
    for TemplateSource {
        name,
        parsed: template,
        ..
    } in sources
    {
        let mut uses = Uses::default();
        uses.templates.extend(template.parent.iter().cloned());
        uses.templates.extend(
            template
                .imported_macro_files
                .iter()
                .map(|(file, _)| file.clone()),
        );
        visit_nodes(&template.ast, &mut uses);
        direct.insert(name.as_str(), uses);
    }
    problems.extend(cycles(sources, &direct));
    let mut out = HashMap::new();
    for name in texts.keys() {
        let name = (*name).to_owned();
        let mut closure = closure_of(&name, &direct);
        closure.sort();
        let mut fp = Fingerprint::new("templates");
        let mut paths: Option<Vec<String>> = Some(Vec::new());
        let mut volatile = false;
        let mut listed_content = false;
        for t in &closure {
            fp.str(t).opt(texts.get(t.as_str()).copied());
            if let Some(uses) = direct.get(t.as_str()) {
                volatile |= uses.volatile;
                // A template included inside a loop shows its `page.content` for each page.
                listed_content |= uses.listed_content
                    || uses.nested_includes.iter().any(|n| {
                        closure_of(n, &direct)
                            .iter()
                            .any(|c| direct.get(c.as_str()).is_some_and(|u| u.own_content))
                    });
                match (&mut paths, uses.whole_config) {
                    (_, true) => paths = None,
                    (Some(list), false) => list.extend(uses.config_paths.iter().cloned()),
                    (None, false) => {}
                }
            }
        }
        if let Some(list) = &mut paths {
            list.sort();
            list.dedup();
        }
        out.insert(
            name,
            TemplateUse {
                closure_hash: fp.finish(),
                closure,
                config_paths: paths,
                volatile,
                listed_content,
            },
        );
    }
    out
}

/// `name` and the templates it uses, recursively, in the order found.
fn closure_of(name: &str, direct: &HashMap<&str, Uses>) -> Vec<String> {
    let mut closure: Vec<String> = vec![name.to_owned()];
    let mut i = 0;
    while i < closure.len() {
        if let Some(uses) = direct.get(closure[i].as_str()) {
            for t in &uses.templates {
                if !closure.contains(t) {
                    closure.push(t.clone());
                }
            }
        }
        i += 1;
    }
    closure
}

/// One error per cycle of templates that extend, include or import each other, at the tag
/// of the cycle's first template (in name order) that leads into it.
fn cycles(sources: &[TemplateSource], direct: &HashMap<&str, Uses>) -> Vec<Diagnostic> {
    /// Depth-first search from `name`; `path` is the chain being followed.
    fn visit<'a>(
        name: &'a str,
        direct: &'a HashMap<&str, Uses>,
        path: &mut Vec<&'a str>,
        done: &mut std::collections::HashSet<&'a str>,
        found: &mut Vec<Vec<&'a str>>,
    ) {
        if let Some(at) = path.iter().position(|p| *p == name) {
            let mut cycle = path[at..].to_vec();
            // The same cycle is reported once, starting at its smallest name.
            let start = cycle
                .iter()
                .enumerate()
                .min_by_key(|(_, n)| **n)
                .map_or(0, |(i, _)| i);
            cycle.rotate_left(start);
            if !found.contains(&cycle) {
                found.push(cycle);
            }
            return;
        }
        if done.contains(name) {
            return;
        }
        let Some((key, uses)) = direct.get_key_value(name) else {
            return;
        };
        path.push(key);
        for next in &uses.templates {
            if let Some((next, _)) = direct.get_key_value(next.as_str()) {
                visit(next, direct, path, done, found);
            }
        }
        path.pop();
        done.insert(key);
    }
    let mut names: Vec<&str> = direct.keys().copied().collect();
    names.sort_unstable();
    let mut found = Vec::new();
    let mut done = std::collections::HashSet::new();
    for name in names {
        visit(name, direct, &mut Vec::new(), &mut done, &mut found);
    }
    found
        .into_iter()
        .map(|cycle| {
            let first = cycle[0];
            let next = cycle.get(1).copied().unwrap_or(first);
            let chain: Vec<String> = cycle
                .iter()
                .chain(std::iter::once(&first))
                .map(|n| format!("`{n}`"))
                .collect();
            let message = if cycle.len() == 1 {
                format!("template `{first}` extends, includes or imports itself")
            } else {
                format!(
                    "templates extend, include or import each other in a cycle: {}",
                    chain.join(" → ")
                )
            };
            let d = Diagnostic::error(message);
            let d = match sources.iter().find(|t| t.name == first) {
                Some(t) => {
                    let needle = [format!("\"{next}\""), format!("'{next}'")];
                    let line = needle.iter().find_map(|n| find_line(&t.text, n));
                    match line {
                        Some(line) => {
                            let column = t
                                .text
                                .lines()
                                .nth(line - 1)
                                .and_then(|l| needle.iter().find_map(|n| l.find(n.as_str())))
                                .map(|c| c + 1);
                            d.at(&t.origin, &t.text, line, column)
                        }
                        None => d.in_file(&t.origin),
                    }
                }
                None => d,
            };
            d.with_help("a template cannot contain itself: break the cycle (recursion belongs in a macro that calls itself)")
        })
        .collect()
}

/// Whose `content` or `toc` a template shows.
enum Shown {
    /// The page's or section's it renders: `page.content`, `section.toc`.
    Own,
    /// Another's: any other path to one (`paginator.pages[0].content`, `p.toc`).
    Listed,
}

/// Whose `content` or `toc` `ident` reads, if any. `extra.toc` is front matter, not a table of
/// contents. Conservative: inside loops and macros, `page` may be any page.
fn reads_content(ident: &str, nested: bool) -> Option<Shown> {
    let parts: Vec<&str> = ident
        .split(['.', '['])
        .map(|p| p.trim_end_matches(']').trim_matches(['"', '\'']))
        .collect();
    let shown = parts.first() != Some(&"config")
        && parts
            .windows(2)
            .any(|w| matches!(w[1], "content" | "toc") && w[0] != "extra");
    if !shown {
        None
    } else if !nested && parts.len() == 2 && matches!(parts[0], "page" | "section") {
        Some(Shown::Own)
    } else {
        Some(Shown::Listed)
    }
}

/// 1-based line of the first line of `text` containing `needle`.
fn find_line(text: &str, needle: &str) -> Option<usize> {
    text.lines()
        .position(|line| line.contains(needle))
        .map(|i| i + 1)
}

/// What one template uses directly.
#[derive(Default)]
struct Uses {
    templates: Vec<String>,
    config_paths: Vec<String>,
    whole_config: bool,
    volatile: bool,
    listed_content: bool,
    /// Whether it shows the `content` or `toc` of the page or section it renders.
    own_content: bool,
    /// Templates it includes inside a loop or after rebinding `page`.
    nested_includes: Vec<String>,
    /// While walking: inside a loop or a macro, where `page` may name another page.
    nested: u32,
    /// While walking: `page` or `section` was assigned by `set`.
    rebound: bool,
    /// While walking: loop variables over a feed's `pages`, whose content the feed is given.
    entries: Vec<String>,
}

fn visit_nodes(nodes: &[tera::ast::Node], uses: &mut Uses) {
    use tera::ast::{ExprVal, Node};
    for node in nodes {
        match node {
            Node::VariableBlock(_, expr) => visit_expr(expr, uses),
            Node::MacroDefinition(_, def, _) => {
                def.args
                    .values()
                    .flatten()
                    .for_each(|e| visit_expr(e, uses));
                uses.nested += 1;
                visit_nodes(&def.body, uses);
                uses.nested -= 1;
            }
            Node::Include(_, names, _) => {
                uses.templates.extend(names.iter().cloned());
                if uses.nested > 0 || uses.rebound {
                    uses.nested_includes.extend(names.iter().cloned());
                }
            }
            Node::Set(_, set) => {
                visit_expr(&set.value, uses);
                uses.rebound |= matches!(set.key.as_str(), "page" | "section");
            }
            Node::FilterSection(_, section, _) => {
                section
                    .filter
                    .args
                    .values()
                    .for_each(|e| visit_expr(e, uses));
                visit_nodes(&section.body, uses);
            }
            Node::Block(_, block, _) => visit_nodes(&block.body, uses),
            Node::Forloop(_, forloop, _) => {
                visit_expr(&forloop.container, uses);
                let entries = matches!(&forloop.container.val, ExprVal::Ident(i) if i == "pages");
                if entries {
                    uses.entries.push(forloop.value.clone());
                }
                uses.nested += 1;
                visit_nodes(&forloop.body, uses);
                if let Some(empty) = &forloop.empty_body {
                    visit_nodes(empty, uses);
                }
                uses.nested -= 1;
                if entries {
                    uses.entries.pop();
                }
            }
            Node::If(conditions, _) => {
                for (_, expr, body) in &conditions.conditions {
                    visit_expr(expr, uses);
                    visit_nodes(body, uses);
                }
                if let Some((_, body)) = &conditions.otherwise {
                    visit_nodes(body, uses);
                }
            }
            _ => {}
        }
    }
}

fn visit_expr(expr: &tera::ast::Expr, uses: &mut Uses) {
    use tera::ast::ExprVal;
    for filter in &expr.filters {
        filter.args.values().for_each(|e| visit_expr(e, uses));
    }
    match &expr.val {
        ExprVal::Ident(ident) => visit_ident(ident, uses),
        ExprVal::Math(m) => {
            visit_expr(&m.lhs, uses);
            visit_expr(&m.rhs, uses);
        }
        ExprVal::Logic(l) => {
            visit_expr(&l.lhs, uses);
            visit_expr(&l.rhs, uses);
        }
        ExprVal::Test(test) => {
            visit_ident(&test.ident, uses);
            test.args.iter().for_each(|e| visit_expr(e, uses));
        }
        ExprVal::MacroCall(call) => call.args.values().for_each(|e| visit_expr(e, uses)),
        ExprVal::FunctionCall(call) => {
            if matches!(call.name.as_str(), "now" | "get_random" | "get_env") {
                uses.volatile = true;
            }
            call.args.values().for_each(|e| visit_expr(e, uses));
        }
        ExprVal::Array(items) => items.iter().for_each(|e| visit_expr(e, uses)),
        ExprVal::StringConcat(concat) => {
            for value in &concat.values {
                if let ExprVal::Ident(ident) = value {
                    visit_ident(ident, uses);
                }
            }
        }
        ExprVal::In(within) => {
            visit_expr(&within.lhs, uses);
            visit_expr(&within.rhs, uses);
        }
        ExprVal::String(_) | ExprVal::Int(_) | ExprVal::Float(_) | ExprVal::Bool(_) => {}
    }
}

fn visit_ident(ident: &str, uses: &mut Uses) {
    let head = ident.split('[').next().unwrap_or(ident);
    let entry = uses.entries.iter().any(|e| {
        ident
            .strip_prefix(e.as_str())
            .is_some_and(|r| r.starts_with('.'))
    });
    match reads_content(ident, uses.nested > 0 || uses.rebound) {
        // A feed's entries carry their content.
        Some(Shown::Listed) if entry => uses.own_content = true,
        Some(Shown::Own) => uses.own_content = true,
        Some(Shown::Listed) => uses.listed_content = true,
        None => {}
    }
    if head == "config" {
        uses.whole_config = true;
    } else if let Some(path) = head.strip_prefix("config.") {
        uses.config_paths
            .push(path.trim_end_matches('.').to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn analysed(templates: &[(&str, &str)]) -> HashMap<String, TemplateUse> {
        let sources = templates
            .iter()
            .map(|(name, text)| {
                (
                    (*name).to_owned(),
                    (PathBuf::from(name), (*text).to_owned()),
                )
            })
            .collect();
        let mut problems = Vec::new();
        let parsed = parse(sources, &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        parsed.into_iter().map(|t| (t.name, t.uses)).collect()
    }

    fn lists(templates: &[(&str, &str)]) -> bool {
        analysed(templates)[templates[0].0].listed_content
    }

    #[test]
    fn a_template_lists_content_when_it_shows_another_documents() {
        // Its own content, and front matter named `toc`, are not listed content.
        assert!(!lists(&[(
            "p.html",
            "{{ page.content }}{% for h in page.toc %}{% endfor %}"
        )]));
        assert!(!lists(&[(
            "s.html",
            "{{ section.content }}{{ page.extra.toc }}"
        )]));
        assert!(!lists(&[("c.html", "{{ config.extra.content }}")]));
        // Another's, by any path to it.
        assert!(lists(&[(
            "s.html",
            "{% for p in section.pages %}{{ p.content }}{% endfor %}"
        )]));
        assert!(lists(&[("s.html", "{{ paginator.pages[0].toc }}")]));
        assert!(lists(&[("p.html", "{{ page.lower.content }}")]));
        assert!(lists(&[(
            "i.html",
            "{% set s = get_section(path='a') %}{{ s.content }}"
        )]));
        // `page` rebound by a loop or by `set`, or a macro's argument.
        assert!(lists(&[(
            "l.html",
            "{% for page in section.pages %}{{ page.content }}{% endfor %}"
        )]));
        assert!(lists(&[(
            "r.html",
            "{% set page = get_page(path='a.md') %}{{ page.content }}"
        )]));
        assert!(lists(&[(
            "m.html",
            "{% macro card(page) %}{{ page.content }}{% endmacro %}"
        )]));
        // A feed's entries (`pages`) are given their content; other pages' are listed.
        let entries = "{% for e in pages %}{{ e.content }}{% endfor %}";
        assert!(!lists(&[("atom.xml", entries)]));
        let root = "{% set r = get_section(path='_index.md') %}\
                    {% for e in r.pages %}{{ e.content }}{% endfor %}";
        assert!(lists(&[("atom.xml", root)]));
    }

    #[test]
    fn listed_content_is_found_through_parents_imports_and_includes_in_loops() {
        let parent = (
            "base.html",
            "{% block b %}{{ paginator.pages[0].content }}{% endblock %}",
        );
        assert!(lists(&[
            ("child.html", "{% extends \"base.html\" %}"),
            parent
        ]));
        let card = ("card.html", "{{ page.content }}");
        // Included once, `page` is the page being rendered; in a loop, each listed one.
        assert!(!lists(&[
            ("once.html", "{% include \"card.html\" %}"),
            card
        ]));
        let looped = "{% for page in section.pages %}{% include \"card.html\" %}{% endfor %}";
        assert!(lists(&[("loop.html", looped), card]));
    }
}
