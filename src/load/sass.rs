//! Sass: the stylesheets of the site's `sass/` (with `compile_sass = true`) and of its theme's
//! `sass/` (always, as Zola), compiled as Zola 0.22.1 compiles them, into CSS files that the
//! build writes like static files.
//!
//! Part of load, the I/O stage: what it makes joins the site's static files (as
//! [`StaticSource::Made`](crate::site::StaticSource::Made)), so plan hashes the CSS, emit
//! writes it and the manifest records it like any other output, and `get_url(cachebust=true)`
//! finds it. Zola's rules: every `.scss` and `.sass` file whose path under `sass/` has no part
//! starting with `_` is compiled to the same path with `.css` (`sass/a/b.scss` → `a/b.css`),
//! with grass 0.13.4 in its compressed style and no load path (imports resolve relative to the
//! importing file); two files of one folder compiling to the same path are an error; the site's
//! stylesheet wins over the theme's of the same path, and a static file over both (Zola copies
//! static files over the compiled CSS).
//!
//! Incremental: grass reads the file system through [`Recorder`], which notes every file
//! it looked for or read and what it found. The CSS is kept in the build state, in the source
//! cache's record of the stylesheet's file ([`Stylesheet`]), with those looks; the next build
//! compiles again only the stylesheets for which one of them now finds something else (a
//! partial edited, an import's file created or removed). Files in `sass/` are read only when
//! their stat changed, like every source file. Stylesheets compile in parallel (rayon); a panic
//! inside grass becomes an error naming the stylesheet.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;
use rustc_hash::FxHashMap;

use crate::diagnostics::{Diagnostic, panic_message};
use crate::hash::ContentHash;
use crate::load::source::{
    self, Cached, Freshness, Look, Made, Saw, SourceCache, Stat, Stylesheet, Warning,
};
use crate::load::theme::Theme;
use crate::load::walk::SourceFiles;
use crate::site::layout::{SOURCE_FOLDERS, THEMES};

/// What compiling the stylesheets of a site gave.
#[derive(Debug, Default)]
pub(crate) struct Compilation {
    /// The CSS, by output path (`a/b.css`), sorted by it.
    pub(crate) files: Vec<(String, Arc<[u8]>)>,
    /// How many stylesheets were compiled by this build (the others' CSS was the last build's).
    pub(crate) compiled: usize,
    /// Whether a stylesheet looked outside the folders the walk lists (`../node_modules/…`):
    /// the stamp cannot see such files change, so every build must look again.
    pub(crate) reads_outside: bool,
}

/// A stylesheet's CSS file, its file's path, and its record with whether it was compiled now.
type Outcome = (String, String, Result<(Stylesheet, bool), Diagnostic>);

/// The source cache as load holds it: the previous build's, the one being made, and how each
/// file compares.
pub(crate) struct CacheSides<'a> {
    /// The previous build's records.
    pub(crate) previous: &'a SourceCache,
    /// This build's.
    pub(crate) next: &'a mut SourceCache,
    /// How each file compares with the previous build.
    pub(crate) freshness: &'a mut Vec<(String, Freshness)>,
}

/// Compiles the stylesheets of the site at `root` found by the walk (`sources`): its theme's
/// `sass/` folder, and its own when `compile_site` (Zola's `compile_sass`). Unchanged
/// stylesheets take their CSS from `cache.previous`; every file of the folders gets its record
/// in `cache.next`. Problems (Sass errors, conflicts, unreadable files) go to `problems`.
pub(crate) fn compile(
    root: &Path,
    compile_site: bool,
    theme: &Theme,
    sources: &SourceFiles,
    cache: CacheSides<'_>,
    problems: &mut Vec<Diagnostic>,
) -> Compilation {
    let CacheSides {
        previous,
        next,
        freshness,
    } = cache;
    let mut folders: Vec<String> = theme.folder_of("sass").into_iter().collect();
    if compile_site {
        folders.push("sass".to_owned());
    }
    let files: Vec<(usize, String, String, PathBuf, Stat)> = folders
        .iter()
        .enumerate()
        .flat_map(|(i, folder)| {
            sources
                .files_in(root, folder)
                .map(move |(name, path, stat)| (i, format!("{folder}/{name}"), name, path, stat))
        })
        .collect();
    if files.is_empty() {
        return Compilation::default();
    }
    let hashed: Vec<_> = files
        .into_par_iter()
        .map(|(folder, key, name, path, stat)| {
            let hash = source::file_hash(&path, stat, previous.get(&key));
            (folder, key, name, stat, hash)
        })
        .collect();

    // Every file's hash, and per folder the stylesheets by the CSS file they compile to.
    let mut hashes: FxHashMap<String, (ContentHash, Stat, Freshness)> = FxHashMap::default();
    let mut by_css: Vec<BTreeMap<String, Vec<String>>> = vec![BTreeMap::new(); folders.len()];
    for (folder, key, name, stat, hash) in hashed {
        match hash {
            Ok((hash, fresh)) => {
                if let Some(css) = css_name(&name) {
                    by_css[folder].entry(css).or_default().push(key.clone());
                }
                hashes.insert(key, (hash, stat, fresh));
            }
            Err(e) => {
                problems.push(Diagnostic::error(format!("cannot read file: {e}")).in_file(key));
            }
        }
    }
    // The site's folder comes last: its stylesheets win over the theme's.
    let mut chosen: BTreeMap<String, String> = BTreeMap::new();
    for folder in by_css {
        for (css, mut keys) in folder {
            if keys.len() > 1 {
                keys.sort();
                problems.push(
                    Diagnostic::error(format!(
                        "Sass path conflict: `{}` and `{}` both compile to `{css}`",
                        keys[0], keys[1]
                    ))
                    .in_file(&keys[1])
                    .with_help("Zola refuses this too: rename or remove one of the two files"),
                );
                chosen.remove(&css);
                continue;
            }
            chosen.insert(css, keys.swap_remove(0));
        }
    }

    let compiler = Compiler::new(root, &hashes);
    let results: Vec<Outcome> = chosen
        .into_par_iter()
        .map(|(css, key)| {
            let hash = hashes[&key].0;
            let kept = match previous.get(&key).map(|c| &c.made) {
                Some(Made::Stylesheet(kept)) if compiler.still_valid(kept) => Some(kept),
                _ => None,
            };
            let result = match kept {
                Some(kept) => Ok((
                    Stylesheet {
                        hash,
                        ..(**kept).clone()
                    },
                    false,
                )),
                None => compiler.compile(&key, hash).map(|s| (s, true)),
            };
            (css, key, result)
        })
        .collect();

    let mut compilation = Compilation::default();
    let mut records: FxHashMap<String, (Made, bool)> = FxHashMap::default();
    for (css, key, result) in results {
        match result {
            Ok((stylesheet, compiled)) => {
                compilation.compiled += usize::from(compiled);
                let theme_name = theme.folder_name();
                compilation.reads_outside |= stylesheet
                    .looks
                    .iter()
                    .any(|l| outside(&l.path, theme_name));
                problems.extend(stylesheet.warnings.iter().map(|w| {
                    Diagnostic::warning(format!("@warn: {}", w.message))
                        .at_line(&w.file, w.line, Some(w.column), &w.source_line)
                        .with_help(format!("a `@warn` met compiling `{key}` into `{css}`"))
                }));
                compilation
                    .files
                    .push((css, Arc::from(stylesheet.css.as_bytes())));
                records.insert(key, (Made::Stylesheet(Box::new(stylesheet)), compiled));
            }
            Err(d) => problems.push(d),
        }
    }
    compilation.files.sort_by(|a, b| a.0.cmp(&b.0));

    // Every file's record: the compiled stylesheets', and the hash of the others.
    let mut keys: Vec<&String> = hashes.keys().collect();
    keys.sort();
    for key in keys {
        let (hash, stat, fresh) = hashes[key];
        let (made, rewritten) = records.remove(key).unwrap_or_else(|| {
            let was_stylesheet = matches!(
                previous.get(key).map(|c| &c.made),
                Some(Made::Stylesheet(_))
            );
            (Made::File(hash), was_stylesheet)
        });
        // A file whose bytes are the same but whose record is not must be written again.
        let fresh = if rewritten && fresh == Freshness::Unchanged {
            Freshness::Touched
        } else {
            fresh
        };
        freshness.push((key.clone(), fresh));
        next.insert(key.clone(), Cached { stat, made });
    }
    compilation
}

/// The CSS file a stylesheet at `name` (under `sass/`) compiles to, as Zola names it; `None`
/// for partials (any part of the path starting with `_`) and other files.
fn css_name(name: &str) -> Option<String> {
    let is_sass = name.ends_with(".scss") || name.ends_with(".sass");
    if !is_sass || name.split('/').any(|part| part.starts_with('_')) {
        return None;
    }
    Some(format!("{}.css", &name[..name.len() - ".scss".len()]))
}

/// Whether the look at `path` is at a file the walk does not list: outside the source
/// folders and the theme `theme`, or hidden.
fn outside(path: &str, theme: Option<&str>) -> bool {
    let mut parts = path.split('/');
    let listed = match parts.next() {
        Some(THEMES) => parts.next().is_some_and(|name| Some(name) == theme),
        Some(first) => SOURCE_FOLDERS.contains(&first),
        None => false,
    };
    !listed || path.split('/').any(|part| part.starts_with('.'))
}

/// Compiles stylesheets of one site.
struct Compiler<'a> {
    /// The site's root, absolute.
    root: PathBuf,
    /// The same, with links resolved (the compiler names imported files by canonical path).
    canonical_root: PathBuf,
    /// The hashes of the files of the stylesheet folders, by root-relative path.
    hashes: &'a FxHashMap<String, (ContentHash, Stat, Freshness)>,
}

impl<'a> Compiler<'a> {
    fn new(root: &Path, hashes: &'a FxHashMap<String, (ContentHash, Stat, Freshness)>) -> Self {
        let root = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
        let canonical_root = root.canonicalize().unwrap_or_else(|_| root.clone());
        Self {
            root,
            canonical_root,
            hashes,
        }
    }

    /// How a look's path is written down: relative to the root (lexically normalized) when it
    /// is inside it, else as it is.
    fn key_of(&self, path: &Path) -> String {
        path.strip_prefix(&self.root)
            .or_else(|_| path.strip_prefix(&self.canonical_root))
            .ok()
            .and_then(normalized)
            .unwrap_or_else(|| path.to_string_lossy().into_owned())
    }

    /// A file as the compiler named it, as problems show it: relative to the root when inside.
    fn shown(&self, name: &str) -> PathBuf {
        PathBuf::from(self.key_of(Path::new(name)))
    }

    /// The path a look was at.
    fn path_of(&self, key: &str) -> PathBuf {
        self.root.join(key)
    }

    /// Whether every look of `kept`'s compilation finds the same today.
    fn still_valid(&self, kept: &Stylesheet) -> bool {
        kept.looks.iter().all(|look| {
            let path = self.path_of(&look.path);
            let now = match look.saw {
                Saw::File(_) => Saw::File(path.is_file()),
                Saw::Dir(_) => Saw::Dir(path.is_dir()),
                Saw::Bytes(_) => Saw::Bytes(match self.hashes.get(&look.path) {
                    Some((hash, _, _)) => Some(*hash),
                    None => std::fs::read(&path).ok().map(|b| ContentHash::of(&b)),
                }),
            };
            now == look.saw
        })
    }

    /// Compiles the stylesheet at root-relative `key`, whose file hashes to `hash`.
    fn compile(&self, key: &str, hash: ContentHash) -> Result<Stylesheet, Diagnostic> {
        let recorder = Recorder::default();
        let logger = Warnings::default();
        let options = grass::Options::default()
            .style(grass::OutputStyle::Compressed)
            .fs(&recorder)
            .logger(&logger);
        let path = self.root.join(key);
        let css = catching(key, || grass::from_path(&path, &options))?
            .map_err(|e| self.error(key, *e, &recorder))?;
        let mut seen = HashSet::new();
        let looks = recorder
            .looks
            .into_inner()
            .into_iter()
            .map(|(path, saw)| Look {
                path: self.key_of(&path),
                saw,
            })
            .filter(|look| seen.insert((look.path.clone(), std::mem::discriminant(&look.saw))))
            .collect();
        let warnings = logger
            .kept
            .into_inner()
            .into_iter()
            .map(|w| Warning {
                file: self.shown(&w.file.to_string_lossy()),
                ..w
            })
            .collect();
        Ok(Stylesheet {
            hash,
            css: css.into(),
            looks,
            warnings,
        })
    }

    /// A Sass error as a problem: where it is (the stylesheet compiled, or the partial it
    /// imports), with the line.
    fn error(&self, key: &str, error: grass::Error, recorder: &Recorder) -> Diagnostic {
        let help = "sitegen compiles Sass with grass 0.13.4, the compiler of Zola 0.22: \
                    fix the stylesheet (Zola fails on it too)";
        // The file read last is the one an I/O or encoding error is about.
        let last_read = || {
            recorder
                .looks
                .borrow()
                .iter()
                .rev()
                .find(|(_, saw)| matches!(saw, Saw::Bytes(_)))
                .map_or_else(
                    || PathBuf::from(key),
                    |(path, _)| self.shown(&path.to_string_lossy()),
                )
        };
        match error.kind() {
            grass::ErrorKind::ParseError { message, loc, .. } => {
                Diagnostic::error(format!("cannot compile `{key}`: {message}"))
                    .at(
                        self.shown(loc.file.name()),
                        loc.file.source(),
                        loc.begin.line + 1,
                        Some(loc.begin.column + 1),
                    )
                    .with_help(help)
            }
            grass::ErrorKind::FromUtf8Error(_) => Diagnostic::error(format!(
                "cannot compile `{key}`: the file is not valid UTF-8"
            ))
            .in_file(last_read())
            .with_help("save the file as UTF-8"),
            grass::ErrorKind::IoError(e) => {
                Diagnostic::error(format!("cannot compile `{key}`: cannot read file: {e}"))
                    .in_file(last_read())
            }
            other => Diagnostic::error(format!("cannot compile `{key}`: {other:?}"))
                .in_file(key)
                .with_help(help),
        }
    }
}

/// Runs `work` (a compilation of the stylesheet `key`); a panic in it becomes an error naming
/// the stylesheet and the place in the compiler, so that a bug of the compiler met on some
/// input cannot crash the build. The panic is not printed: the error says it all.
fn catching<T>(key: &str, work: impl FnOnce() -> T) -> Result<T, Diagnostic> {
    quiet_panics();
    COMPILING.with(|c| c.set(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
    COMPILING.with(|c| c.set(false));
    let place = PANICKED_AT.with(|p| p.borrow_mut().take());
    result.map_err(|panic| {
        let place = place.map(|p| format!(", at {p}")).unwrap_or_default();
        Diagnostic::error(format!(
            "cannot compile `{key}`: the Sass compiler crashed on it ({}{place})",
            panic_message(&*panic)
        ))
        .in_file(key)
        .with_help(
            "this is a bug of grass, the Sass compiler (Zola's too): change the construct \
             it fails on, or report it with the stylesheet",
        )
    })
}

thread_local! {
    /// Whether this thread is compiling a stylesheet (inside [`catching`]).
    static COMPILING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// Where the compiler panicked on this thread, kept by the panic hook for [`catching`].
    static PANICKED_AT: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs, once per process, a panic hook that keeps quiet about panics of a compilation
/// (noting where they happened) and leaves every other panic to the hook before it.
fn quiet_panics() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if COMPILING.with(std::cell::Cell::get) {
                let place = info.location().map(|l| {
                    // From the crate's folder on: the same on every machine.
                    let file = l.file();
                    let file = file.find("grass").map_or(file, |at| &file[at..]);
                    format!("{file}:{}:{}", l.line(), l.column())
                });
                PANICKED_AT.with(|p| *p.borrow_mut() = place);
            } else {
                previous(info);
            }
        }));
    });
}

/// The normalized form (`a/../b` → `b`, with `/`) of a relative path; `None` when it climbs
/// out of its base.
fn normalized(path: &Path) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => parts.push(part.to_str()?),
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(parts.join("/"))
}

/// The real file system, as grass reads it, with a note of every look and what it found.
#[derive(Debug, Default)]
struct Recorder {
    looks: RefCell<Vec<(PathBuf, Saw)>>,
}

impl Recorder {
    fn note(&self, path: &Path, saw: Saw) {
        self.looks.borrow_mut().push((path.to_path_buf(), saw));
    }
}

impl grass::Fs for Recorder {
    fn is_dir(&self, path: &Path) -> bool {
        let found = path.is_dir();
        self.note(path, Saw::Dir(found));
        found
    }

    fn is_file(&self, path: &Path) -> bool {
        let found = path.is_file();
        self.note(path, Saw::File(found));
        found
    }

    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        let read = std::fs::read(path);
        self.note(
            path,
            Saw::Bytes(read.as_ref().ok().map(|b| ContentHash::of(b))),
        );
        read
    }

    /// As grass's own file system does: imported files are known by their canonical path.
    fn canonicalize(&self, path: &Path) -> std::io::Result<PathBuf> {
        std::fs::canonicalize(path)
    }
}

/// The `@warn`s of a compilation, kept; `@debug`s go to the log.
#[derive(Debug, Default)]
struct Warnings {
    kept: RefCell<Vec<Warning>>,
}

impl grass::Logger for Warnings {
    fn debug(&self, location: codemap::SpanLoc, message: &str) {
        tracing::info!(
            "{}:{} @debug: {message}",
            location.file.name(),
            location.begin.line + 1
        );
    }

    fn warn(&self, location: codemap::SpanLoc, message: &str) {
        self.kept.borrow_mut().push(Warning {
            message: message.to_owned(),
            file: PathBuf::from(location.file.name()),
            line: location.begin.line + 1,
            column: location.begin.column + 1,
            source_line: location.file.source_line(location.begin.line).to_owned(),
        });
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use rustc_hash::FxHashMap;

    use super::{Compiler, Saw, catching, css_name, normalized, outside};

    #[test]
    fn stylesheets_and_partials_as_zola_tells_them_apart() {
        assert_eq!(css_name("a/b.scss").as_deref(), Some("a/b.css"));
        assert_eq!(css_name("main.sass").as_deref(), Some("main.css"));
        assert_eq!(css_name("x.min.scss").as_deref(), Some("x.min.css"));
        for not in [
            "_vars.scss",
            "_parts/a.scss",
            "a/_b.sass",
            "a.css",
            "a.scss.bak",
        ] {
            assert_eq!(css_name(not), None, "{not}");
        }
    }

    #[test]
    fn paths_normalize_inside_their_base_only() {
        assert_eq!(
            normalized(Path::new("sass/../static/x.scss")).as_deref(),
            Some("static/x.scss")
        );
        assert_eq!(
            normalized(Path::new("./sass/a.scss")).as_deref(),
            Some("sass/a.scss")
        );
        assert_eq!(normalized(Path::new("sass/../../up.scss")), None);
    }

    #[test]
    fn looks_outside_the_walked_folders_are_told() {
        assert!(!outside("sass/_a.scss", None));
        assert!(!outside("static/x.css", None));
        assert!(!outside("themes/t/sass/_a.scss", Some("t")));
        assert!(outside("themes/u/sass/_a.scss", Some("t")));
        assert!(outside("node_modules/b/_x.scss", None));
        assert!(outside("sass/.hidden/_x.scss", None));
        assert!(outside("/usr/share/x.scss", None));
    }

    #[test]
    fn a_compilation_records_what_it_read_and_is_valid_until_that_changes() {
        let dir = tempfile::tempdir().unwrap();
        let write = |file: &str, text: &str| {
            let path = dir.path().join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        };
        write("sass/main.scss", "@import \"vars\";\na { color: $c; }\n");
        write("sass/_vars.scss", "$c: red;\n");
        write("sass/other.scss", "b { x: y }\n");
        let hashes = FxHashMap::default();
        let compiler = Compiler::new(dir.path(), &hashes);
        let hash = crate::hash::ContentHash::default();
        let compiled = compiler.compile("sass/main.scss", hash).unwrap();
        assert_eq!(&*compiled.css, "a{color:red}");
        let read: Vec<&str> = compiled
            .looks
            .iter()
            .filter(|l| matches!(l.saw, Saw::Bytes(Some(_))))
            .map(|l| l.path.as_str())
            .collect();
        assert_eq!(read, ["sass/main.scss", "sass/_vars.scss"]);
        assert!(compiler.still_valid(&compiled));

        write("sass/other.scss", "b { x: z }\n");
        assert!(compiler.still_valid(&compiled), "a file it did not read");
        write("sass/_vars.scss", "$c: blue;\n");
        assert!(!compiler.still_valid(&compiled), "a partial it read");
        write("sass/_vars.scss", "$c: red;\n");
        assert!(compiler.still_valid(&compiled));
        // A file where the import looked first now answers it.
        write("sass/vars.scss", "$c: green;\n");
        assert!(!compiler.still_valid(&compiled), "a file where it looked");
    }

    #[test]
    fn errors_name_the_file_line_and_column_even_in_a_partial() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("sass")).unwrap();
        std::fs::write(dir.path().join("sass/a.scss"), "@import 'b';\n").unwrap();
        std::fs::write(dir.path().join("sass/_b.scss"), "x {\n  y: $nope;\n}\n").unwrap();
        let hashes = FxHashMap::default();
        let compiler = Compiler::new(dir.path(), &hashes);
        let d = compiler
            .compile("sass/a.scss", crate::hash::ContentHash::default())
            .unwrap_err();
        let at = d.location.clone().unwrap();
        assert_eq!(at.file, Path::new("sass/_b.scss"));
        assert_eq!((at.line, at.column), (Some(2), Some(6)));
        assert_eq!(d.source_line.as_deref(), Some("  y: $nope;"));
        assert!(d.message.contains("sass/a.scss"), "{}", d.message);
    }

    #[test]
    fn a_panic_is_an_error_naming_the_stylesheet() {
        let d = catching("sass/a.scss", || -> u8 { panic!("boom") }).unwrap_err();
        assert!(d.is_error());
        assert!(
            d.message.contains("`sass/a.scss`") && d.message.contains("boom"),
            "{}",
            d.message
        );
        assert_eq!(catching("x", || 7).unwrap(), 7);
    }
}
