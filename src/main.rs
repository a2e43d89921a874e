//! The `sitegen` command: parses the command line, calls the library, reports.
//!
//! The only place that writes to the terminal. Exit codes: 0 success, 1 the site has errors,
//! 2 usage, config or I/O failure.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sitegen::build::{BuildReport, Options, Progress, Quiet};
use sitegen::{Diagnostic, Error};

/// A fast static site generator for large sites, with Zola's content conventions.
#[derive(Debug, Parser)]
#[command(version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// More log output (repeat for more); RUST_LOG works too.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a new site in DIR, using the built-in default theme.
    Init {
        /// The folder to create (must be missing or empty).
        dir: PathBuf,
    },
    /// Build the site into the output folder (public/ by default).
    Build {
        #[command(flatten)]
        site: SiteArgs,
        /// Where to write the site (default: the config's output_dir, `public`, under the root).
        #[arg(short, long, value_name = "DIR")]
        output: Option<PathBuf>,
    },
    /// Load and render everything without writing; list every problem (exit 1 if any).
    Check {
        #[command(flatten)]
        site: SiteArgs,
    },
}

#[derive(Debug, Args)]
struct SiteArgs {
    /// The site's folder.
    #[arg(short, long, value_name = "DIR", default_value = ".")]
    root: PathBuf,
    /// Override a config value for this run: a dotted key and a TOML value (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
    /// Include pages marked `draft = true`.
    #[arg(long)]
    drafts: bool,
    /// Print only the summary and problems (no progress bar).
    #[arg(short, long)]
    quiet: bool,
    /// Output format of the summary.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// A line for people.
    Text,
    /// One JSON object for scripts.
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    match cli.command {
        Command::Init { dir } => match sitegen::init::init(&dir) {
            Ok(()) => {
                say(&format!(
                    "Created a new site in {}. Build it with: sitegen build --root {}",
                    dir.display(),
                    dir.display()
                ));
                ExitCode::SUCCESS
            }
            Err(e) => fail(&e, Format::Text),
        },
        Command::Build { site, output } => run(&site, Some(output), true),
        Command::Check { site } => run(&site, None, false),
    }
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn run(args: &SiteArgs, output: Option<Option<PathBuf>>, write: bool) -> ExitCode {
    let options = Options {
        root: args.root.clone(),
        output: output.flatten(),
        drafts: args.drafts,
        overrides: args.overrides.clone(),
        write,
    };
    let interactive = std::io::stderr().is_terminal() && !args.quiet && args.format == Format::Text;
    let result = if interactive {
        sitegen::build(&options, &Bar::new())
    } else {
        sitegen::build(&options, &Quiet)
    };
    match result {
        Ok(report) => {
            summarize(&report, args.format, write);
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e, args.format),
    }
}

fn summarize(report: &BuildReport, format: Format, write: bool) {
    match format {
        Format::Json => say(&serde_json::to_string(report).unwrap_or_default()),
        Format::Text => {
            for warning in &report.warnings {
                complain(&warning.to_string());
            }
            let seconds = report.duration_ms as f64 / 1000.0;
            let line = if write {
                format!(
                    "Built {} pages, {} sections, {} files in {seconds:.2}s into {}{}",
                    report.pages,
                    report.sections,
                    report.files_written,
                    report.output.display(),
                    warnings_note(report.warnings.len())
                )
            } else {
                format!(
                    "Checked {} pages, {} sections, {} outputs in {seconds:.2}s: no errors{}",
                    report.pages,
                    report.sections,
                    report.files_written,
                    warnings_note(report.warnings.len())
                )
            };
            say(&line);
        }
    }
}

fn warnings_note(count: usize) -> String {
    match count {
        0 => String::new(),
        1 => " (1 warning)".to_owned(),
        n => format!(" ({n} warnings)"),
    }
}

fn fail(error: &Error, format: Format) -> ExitCode {
    let all = error.diagnostics();
    let (errors, warnings): (Vec<Diagnostic>, Vec<Diagnostic>) =
        all.into_iter().partition(Diagnostic::is_error);
    match format {
        Format::Json => {
            let value = serde_json::json!({ "errors": errors, "warnings": warnings });
            say(&value.to_string());
        }
        Format::Text => {
            for d in errors.iter().chain(&warnings) {
                complain(&d.to_string());
            }
            if matches!(error, Error::Site(_)) {
                complain(&format!(
                    "error: the site has {} error(s); nothing was written",
                    errors.len()
                ));
            }
        }
    }
    ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(2))
}

/// Writes a line to stdout; a closed pipe is not an error.
fn say(line: &str) {
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

/// Writes to stderr.
fn complain(text: &str) {
    let _ = write!(
        std::io::stderr().lock(),
        "{}{}",
        text,
        if text.ends_with('\n') { "" } else { "\n" }
    );
}

/// A progress bar on stderr, shown only for builds with many outputs.
struct Bar(ProgressBar);

impl Bar {
    fn new() -> Self {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {wide_bar} {pos}/{len} outputs ({eta})")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Self(bar)
    }
}

impl Progress for Bar {
    fn start(&self, total: usize) {
        if total < 500 {
            self.0.set_draw_target(ProgressDrawTarget::hidden());
        }
        self.0.set_length(total as u64);
    }

    fn advance(&self) {
        self.0.inc(1);
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}

/// mimalloc: rendering allocates many small values on every thread; glibc's arenas made the
/// build slower and its peak memory higher (measured at 100,000 pages, see the README).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
