//! Problems found in a site, and the errors that stop a build.
//!
//! A [`Diagnostic`] is one problem in the site's own files (front matter, markdown, templates,
//! config): a message, where it is (file, line, column, the source line) and what to do. Stages
//! collect them, the driver stops at the end of a stage that reported any error, and the
//! reporter prints them all, rustc style. [`Error`] is what ends a build: the site's problems,
//! or a failure that belongs to no page (I/O, a missing root).

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// How bad a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Severity {
    /// The build fails.
    Error,
    /// The build goes on; the user should look.
    Warning,
}

/// Where in a file a problem is. Lines and columns are 1-based.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub(crate) struct Location {
    /// The file, relative to the site root where it is inside it.
    pub(crate) file: PathBuf,
    /// 1-based line, when known.
    pub(crate) line: Option<usize>,
    /// 1-based column (in characters), when known.
    pub(crate) column: Option<usize>,
}

/// What kind of problem a diagnostic is, for code that treats some kinds apart (the message
/// is for people and may change).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Code {
    /// A template failed while rendering an output (reported once per template and culprit).
    Render,
    /// Generated fields got fallback copy because a budget was reached.
    OverBudget,
    /// An internal link or fragment that names nothing.
    BrokenLink,
}

/// One problem in the site, with its location and a hint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// What kind of problem it is, when code tells it apart.
    #[serde(skip)]
    pub(crate) code: Option<Code>,
    /// Error or warning.
    pub(crate) severity: Severity,
    /// What went wrong, in one sentence.
    pub(crate) message: String,
    /// Where it went wrong.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub(crate) location: Option<Location>,
    /// The text of the offending line, for the caret display.
    #[serde(skip)]
    pub(crate) source_line: Option<String>,
    /// What to do about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) help: Option<String>,
}

impl Diagnostic {
    /// An error with no location yet.
    pub(crate) fn error(message: impl Into<String>) -> Self {
        Self {
            code: None,
            severity: Severity::Error,
            message: message.into(),
            location: None,
            source_line: None,
            help: None,
        }
    }

    /// A warning with no location yet.
    pub(crate) fn warning(message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(message)
        }
    }

    /// Places the problem in a file, without a line.
    #[must_use]
    pub(crate) fn in_file(mut self, file: impl Into<PathBuf>) -> Self {
        self.location = Some(Location {
            file: file.into(),
            line: None,
            column: None,
        });
        self
    }

    /// Places the problem at a line and column of `text`, the file's content.
    #[must_use]
    pub(crate) fn at(
        mut self,
        file: impl Into<PathBuf>,
        text: &str,
        line: usize,
        column: Option<usize>,
    ) -> Self {
        self.source_line = text.lines().nth(line.saturating_sub(1)).map(str::to_owned);
        self.location = Some(Location {
            file: file.into(),
            line: Some(line),
            column,
        });
        self
    }

    /// Places the problem at a line and column whose text, `source_line`, is all that is known
    /// of the file (a problem kept from an earlier build, say).
    #[must_use]
    pub(crate) fn at_line(
        mut self,
        file: impl Into<PathBuf>,
        line: usize,
        column: Option<usize>,
        source_line: &str,
    ) -> Self {
        self.source_line = Some(source_line.to_owned());
        self.location = Some(Location {
            file: file.into(),
            line: Some(line),
            column,
        });
        self
    }

    /// Places the problem at byte `offset` of `text`, the file's content.
    #[must_use]
    pub(crate) fn at_offset(self, file: impl Into<PathBuf>, text: &str, offset: usize) -> Self {
        let (line, column) = line_column(text, offset);
        self.at(file, text, line, Some(column))
    }

    /// Marks the problem as one of kind `code`.
    #[must_use]
    pub(crate) fn with_code(mut self, code: Code) -> Self {
        self.code = Some(code);
        self
    }

    /// Adds a hint saying what to do.
    #[must_use]
    pub(crate) fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// The same problem as an error.
    #[must_use]
    pub(crate) fn into_error(mut self) -> Self {
        self.severity = Severity::Error;
        self
    }

    /// Whether this problem fails the build.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

impl fmt::Display for Diagnostic {
    /// rustc style: `error: message`, ` --> file:line:col`, the line with a caret, `= help: …`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        writeln!(f, "{label}: {}", self.message)?;
        let gutter = self
            .location
            .as_ref()
            .and_then(|l| l.line)
            .map_or(1, |line| line.to_string().len());
        let pad = " ".repeat(gutter);
        if let Some(location) = &self.location {
            write!(f, "{pad}--> {}", location.file.display())?;
            if let Some(line) = location.line {
                write!(f, ":{line}")?;
                if let Some(column) = location.column {
                    write!(f, ":{column}")?;
                }
            }
            writeln!(f)?;
            if let (Some(line), Some(text)) = (location.line, &self.source_line) {
                writeln!(f, "{pad} |")?;
                writeln!(f, "{line} | {text}")?;
                if let Some(column) = location.column {
                    writeln!(f, "{pad} | {}^", " ".repeat(column.saturating_sub(1)))?;
                }
            }
        }
        if let Some(help) = &self.help {
            writeln!(f, "{pad} = help: {help}")?;
        }
        Ok(())
    }
}

/// What ends a command. Problems in the site's files are [`Error::Site`]; the rest belong to no
/// page, and each says which exit code it ends the process with ([`Error::exit_code`]).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The site has errors (front matter, templates, links, …); all of them, in file order.
    #[error("the site has {} error(s)", .0.iter().filter(|d| d.is_error()).count())]
    Site(Vec<Diagnostic>),
    /// The config is missing or invalid.
    #[error("{0}")]
    Config(Box<Diagnostic>),
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// A database of the state folder cannot be used (damaged, from a newer sitegen, locked).
    #[error("{message}")]
    Store {
        /// The database.
        path: PathBuf,
        /// What is wrong with it, naming the database.
        message: String,
    },
    /// Another sitegen is working on the site.
    #[error("{0}")]
    Locked(String),
    /// A network address cannot be used (the preview server's).
    #[error("cannot listen on {address}: {source}")]
    Listen {
        /// The address.
        address: std::net::SocketAddr,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// A bad option or argument, or a command that cannot apply to the site as it is.
    #[error("{0}")]
    Usage(String),
    /// Something sitegen itself failed at (a thread or runtime that could not start, a panic).
    #[error("{0}")]
    Internal(String),
}

impl Error {
    /// Wraps an I/O error with the path it happened on.
    pub(crate) fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }

    /// An error of the database at `path`: `what` went wrong with it.
    pub(crate) fn store(path: impl AsRef<Path>, what: impl fmt::Display) -> Self {
        let path = path.as_ref().to_path_buf();
        Self::Store {
            message: format!("{}: {what}", path.display()),
            path,
        }
    }

    /// The process exit code: 1 when the site has errors, 2 for the rest (config, usage, I/O,
    /// the state folder, the lock, the network, sitegen's own failures).
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Site(_) => 1,
            Self::Config(_)
            | Self::Io { .. }
            | Self::Store { .. }
            | Self::Locked(_)
            | Self::Listen { .. }
            | Self::Usage(_)
            | Self::Internal(_) => 2,
        }
    }

    /// The problems to print, one diagnostic each.
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        match self {
            Self::Site(all) => all.clone(),
            Self::Config(d) => vec![(**d).clone()],
            other => vec![Diagnostic::error(other.to_string())],
        }
    }
}

/// What a caught panic said.
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".to_owned())
}

/// Runs `work` for the output `file`; a panic in it (a bug of sitegen's or of a dependency's,
/// met on some input) becomes an error naming the output, so one page cannot crash the build.
pub(crate) fn guarded<T>(
    stage: &str,
    file: &str,
    work: impl FnOnce() -> T,
) -> Result<T, Diagnostic> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).map_err(|panic| {
        Diagnostic::error(format!(
            "{stage} of `{file}` failed: sitegen crashed on it ({})",
            panic_message(&*panic)
        ))
        .with_help(
            "this is a bug: please report it with the source of this output; \
             until then, change or remove what the output is made of",
        )
    })
}

/// The messages of an error and of its sources, one per line (tera's errors nest the culprit).
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push('\n');
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Result of a stage.
pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

/// Sorts problems by file and line so output does not depend on thread timing.
pub(crate) fn sort(diagnostics: &mut [Diagnostic]) {
    diagnostics.sort_by(|a, b| {
        (a.severity, &a.location, &a.message).cmp(&(b.severity, &b.location, &b.message))
    });
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_panic_becomes_an_error_naming_the_output() {
        let d = super::guarded("post-processing", "blog/a/index.html", || -> u8 {
            panic!("minifier fell over")
        })
        .unwrap_err();
        assert!(d.message.contains("blog/a/index.html"), "{}", d.message);
        assert!(d.message.contains("minifier fell over"), "{}", d.message);
        assert_eq!(super::guarded("render", "x", || 7).unwrap(), 7);
    }

    use super::{Diagnostic, line_column};

    #[test]
    fn line_and_column_count_characters() {
        assert_eq!(line_column("ab\ncdé f", 0), (1, 1));
        assert_eq!(line_column("ab\ncdé f", 3), (2, 1));
        assert_eq!(line_column("ab\ncdé f", 8), (2, 5));
        assert_eq!(line_column("ab", 99), (1, 3));
    }

    #[test]
    fn displays_like_rustc() {
        let d = Diagnostic::error("bad date")
            .at("content/a.md", "title = 1\ndate = \"x\"", 2, Some(8))
            .with_help("use YYYY-MM-DD");
        assert_eq!(
            d.to_string(),
            "error: bad date\n --> content/a.md:2:8\n  |\n2 | date = \"x\"\n  |        ^\n  = help: use YYYY-MM-DD\n"
        );
    }
}
