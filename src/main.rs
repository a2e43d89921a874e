//! The `sitegen` command: parses the command line, calls the library, reports.
//!
//! The only place that writes to the terminal. Exit codes: 0 success, 1 the site has errors,
//! 2 usage, config or I/O failure.

use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sitegen::build::{BuildReport, Options, Progress, Quiet, Resident};
use sitegen::command::{self, Decision, Gate, Locking};
use sitegen::generate::stage::GenerationStatus;
use sitegen::{Diagnostic, Error};

/// A fast static site generator for large sites, with Zola's content conventions.
#[derive(Debug, Parser)]
#[command(version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// More log output (repeat for more); `RUST_LOG` works too.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// The config file to read, relative to the site's folder, instead of the first of
    /// sitegen.toml, zola.toml and config.toml there (Zola's `--config`).
    #[arg(short, long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a new site in DIR, using the built-in default theme.
    Init {
        /// The folder to create (must be missing or empty).
        dir: PathBuf,
    },
    /// Build the site into the output folder (public/ by default), redoing only what changed.
    Build {
        #[command(flatten)]
        site: SiteArgs,
        #[command(flatten)]
        build: BuildArgs,
    },
    /// Build (incrementally) only if enough changed since the last build: for cron jobs.
    Rebuild {
        #[command(flatten)]
        site: SiteArgs,
        #[command(flatten)]
        build: BuildArgs,
        #[command(flatten)]
        gate: GateArgs,
    },
    /// Run `rebuild` on a cron schedule, in the foreground, until stopped (SIGINT/SIGTERM).
    Schedule {
        #[command(flatten)]
        site: SiteArgs,
        #[command(flatten)]
        build: BuildArgs,
        #[command(flatten)]
        gate: GateArgs,
        /// A cron expression (minute hour day month weekday), e.g. "*/15 * * * *".
        #[arg(long, value_name = "EXPR")]
        cron: String,
    },
    /// Load and render everything without writing; list every problem (exit 1 if any).
    Check {
        #[command(flatten)]
        site: SiteArgs,
    },
    /// Preview the site: build it into a preview folder, serve it, rebuild and reload the
    /// browsers on every change.
    Serve {
        /// The site's folder.
        #[arg(short, long, value_name = "DIR", default_value = ".")]
        root: PathBuf,
        /// Override a config value for this run: a dotted key and a TOML value (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
        /// The site's URL for this run: `--set base_url="URL"` (Zola's `--base-url`).
        #[arg(short = 'u', long, value_name = "URL")]
        base_url: Option<String>,
        /// Include pages marked `draft = true`.
        #[arg(long)]
        drafts: bool,
        /// Where to build the preview (default: .sitegen-serve/public under the root).
        #[arg(short, long, value_name = "DIR")]
        output: Option<PathBuf>,
        /// The address to listen on.
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1")]
        bind: std::net::IpAddr,
        /// The port to listen on (0: any free port, printed).
        #[arg(short, long, default_value_t = 1111)]
        port: u16,
        /// Open the preview in the browser.
        #[arg(long)]
        open: bool,
        /// Wait for another sitegen working on this site instead of exiting.
        #[arg(long)]
        wait: bool,
    },
    /// AI generation: calls, cache hit rate, tokens, cost and latency, from the traces in
    /// .sitegen/generations.sqlite (the last build by default).
    #[command(after_long_help = format!("The tables of generations.sqlite:\n\n{}", sitegen::generate::store::SCHEMA_DOC))]
    Stats {
        /// The site's folder.
        #[arg(short, long, value_name = "DIR", default_value = ".")]
        root: PathBuf,
        /// Every build since this long ago (`24h`, `7d`) instead of the last one.
        #[arg(long, value_name = "AGE", value_parser = parse_age, conflicts_with = "all")]
        since: Option<Duration>,
        /// Every build recorded.
        #[arg(long)]
        all: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
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
    /// The site's URL for this run: `--set base_url="URL"` (Zola's `--base-url`).
    #[arg(short = 'u', long, value_name = "URL")]
    base_url: Option<String>,
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

#[derive(Debug, Args)]
struct BuildArgs {
    /// Where to write the site (default: the config's `output_dir`, `public`, under the root).
    #[arg(short, long, value_name = "DIR")]
    output: Option<PathBuf>,
    /// Ignore the previous build's state and build everything.
    #[arg(long)]
    full: bool,
    /// Print why each output was written.
    #[arg(long)]
    explain: bool,
    /// Wait for another sitegen working on this site instead of exiting.
    #[arg(long)]
    wait: bool,
    /// Most USD this build's AI generation may spend; jobs beyond it get fallback copy.
    #[arg(long, value_name = "USD")]
    max_cost: Option<f64>,
    /// Fail when any generated field got fallback copy (for CI gates).
    #[arg(long)]
    strict: bool,
}

#[derive(Debug, Args)]
struct GateArgs {
    /// Build when at least this share of the pages changed: `5%` (or `0.05`).
    #[arg(long, value_name = "PERCENT", default_value = "0%", value_parser = parse_threshold)]
    threshold: f64,
    /// Build anyway when the last build is older than this: `24h`, `30m`, `2d`, `90s`.
    #[arg(long, value_name = "AGE", value_parser = parse_age)]
    max_age: Option<Duration>,
}

fn parse_threshold(text: &str) -> Result<f64, String> {
    let (number, scale) = match text.trim().strip_suffix('%') {
        Some(n) => (n, 100.0),
        None => (text.trim(), 1.0),
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a percentage like 5%"))?;
    let fraction = value / scale;
    if (0.0..=1.0).contains(&fraction) {
        Ok(fraction)
    } else {
        Err(format!("`{text}` is not between 0% and 100%"))
    }
}

fn parse_age(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration like 24h"))?;
    let seconds = match unit {
        "s" | "" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("`{text}`: the unit is s, m, h or d")),
    };
    Ok(Duration::from_secs(number * seconds))
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
    let config = cli.config.as_ref();
    match cli.command {
        Command::Init { dir } => match command::init::init(&dir) {
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
        Command::Build { site, build } => run(&site, config, Some(&build), None),
        Command::Rebuild { site, build, gate } => run(&site, config, Some(&build), Some(&gate)),
        Command::Schedule {
            site,
            build,
            gate,
            cron,
        } => schedule(&site, config, &build, &gate, &cron),
        Command::Check { site } => run(&site, config, None, None),
        Command::Serve {
            root,
            overrides,
            base_url,
            drafts,
            output,
            bind,
            port,
            open,
            wait,
        } => serve(&sitegen::serve::Preview {
            build: Options {
                root,
                output,
                drafts,
                overrides: with_base_url(overrides, base_url.as_deref()),
                config_file: config.cloned(),
                ..Options::default()
            },
            wait,
            bind,
            port,
            open,
        }),
        Command::Stats {
            root,
            since,
            all,
            format,
        } => stats(&root, since, all, format),
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

/// The `--set` overrides with `--base-url`'s after them (the last override of a key wins).
fn with_base_url(mut overrides: Vec<String>, base_url: Option<&str>) -> Vec<String> {
    if let Some(url) = base_url {
        overrides.push(format!("base_url={}", toml::Value::String(url.to_owned())));
    }
    overrides
}

fn options(args: &SiteArgs, config: Option<&PathBuf>, build: Option<&BuildArgs>) -> Options {
    Options {
        root: args.root.clone(),
        config_file: config.cloned(),
        output: build.and_then(|b| b.output.clone()),
        drafts: args.drafts,
        overrides: with_base_url(args.overrides.clone(), args.base_url.as_deref()),
        write: build.is_some(),
        full: build.is_some_and(|b| b.full),
        max_cost: build.and_then(|b| b.max_cost),
        strict: build.is_some_and(|b| b.strict),
    }
}

fn gate(args: &GateArgs) -> Gate {
    Gate {
        threshold: args.threshold,
        max_age: args.max_age,
    }
}

fn run(
    args: &SiteArgs,
    config: Option<&PathBuf>,
    build: Option<&BuildArgs>,
    gate_args: Option<&GateArgs>,
) -> ExitCode {
    let options = options(args, config, build);
    let locking = Locking {
        wait: build.is_some_and(|b| b.wait),
    };
    let explain = build.is_some_and(|b| b.explain);
    let interactive = std::io::stderr().is_terminal() && !args.quiet && args.format == Format::Text;
    let bar;
    let progress: &dyn Progress = if interactive {
        bar = Bar::new();
        &bar
    } else {
        &Quiet
    };
    // The process ends after this build: its memory is left to the exit.
    let mut resident = Resident::exiting();
    let result = match gate_args {
        Some(g) => command::rebuild(&options, locking, gate(g), progress, &mut resident),
        None => command::build(&options, locking, progress, &mut resident).map(|report| {
            Decision::Built {
                reason: "build".to_owned(),
                report: Box::new(report),
            }
        }),
    };
    match result {
        Ok(outcome) => {
            report(
                outcome,
                args.format,
                options.write,
                gate_args.is_some(),
                explain,
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e, args.format),
    }
}

/// Prints the generation statistics of the site at `root`.
fn stats(root: &std::path::Path, since: Option<Duration>, all: bool, format: Format) -> ExitCode {
    use command::stats::{self, Span};
    let span = match (since, all) {
        (_, true) => Span::All,
        (Some(age), _) => Span::Since(age),
        (None, false) => Span::LastBuild,
    };
    match stats::stats(root, span) {
        Ok(stats) => {
            match format {
                Format::Json => say(&serde_json::to_string(&stats).unwrap_or_default()),
                Format::Text => say(stats::render_text(&stats).trim_end()),
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e, format),
    }
}

/// Previews the site until SIGINT or SIGTERM.
fn serve(options: &sitegen::serve::Preview) -> ExitCode {
    sitegen::alloc::keep_freed_memory();
    let terminal: std::sync::Arc<dyn sitegen::serve::Terminal> =
        std::sync::Arc::new(ServeTerminal::default());
    match sitegen::serve::run(options, &terminal) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e, Format::Text),
    }
}

/// How `sitegen serve` reports: news and summaries on stdout, problems on stderr.
#[derive(Default)]
struct ServeTerminal {
    /// Whether a build has succeeded (so there is a last good build to serve).
    served: std::sync::atomic::AtomicBool,
}

impl sitegen::serve::Terminal for ServeTerminal {
    fn note(&self, line: &str) {
        say(line);
    }

    fn built(&self, report: &BuildReport, cause: &str, repeated: bool) {
        if !repeated {
            for warning in &report.warnings {
                complain(&warning.to_string());
            }
        }
        self.served
            .store(true, std::sync::atomic::Ordering::Relaxed);
        say(&format!("{cause}: {}", summary_line(report, true)));
    }

    fn failed(&self, error: &Error) {
        let mut all = error.diagnostics();
        all.sort_by_key(|d| !d.is_error());
        for d in &all {
            complain(&d.to_string());
        }
        let serving = if self.served.load(std::sync::atomic::Ordering::Relaxed) {
            "still serving the last good build"
        } else {
            "nothing to serve until a build succeeds"
        };
        complain(&format!(
            "error: the build failed with {} error(s); {serving}",
            all.iter().filter(|d| d.is_error()).count()
        ));
    }
}

/// Runs `rebuild` on the cron schedule until SIGINT or SIGTERM.
fn schedule(
    args: &SiteArgs,
    config: Option<&PathBuf>,
    build: &BuildArgs,
    gate: &GateArgs,
    cron: &str,
) -> ExitCode {
    sitegen::alloc::keep_freed_memory();
    let schedule = match command::schedule::Schedule::parse(cron) {
        Ok(s) => s,
        Err(e) => return fail(&e, Format::Text),
    };
    let options = options(args, config, Some(build));
    let (locking, gate) = (Locking { wait: true }, self::gate(gate));
    say(&format!(
        "scheduled: `{}` for {}",
        schedule.expression(),
        args.root.display()
    ));
    let tick = || {
        let mut resident = Resident::default();
        command::rebuild(&options, locking, gate, &Quiet, &mut resident).map(
            |outcome| match outcome {
                Decision::Skipped { reason, .. } => format!("skipped: {reason}"),
                Decision::Built { reason, report } => {
                    format!("built ({reason}): {}", summary_line(&report, true))
                }
            },
        )
    };
    match command::schedule::run(&schedule, tick, &mut |line| say(line)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e, Format::Text),
    }
}

fn report(outcome: Decision, format: Format, write: bool, gated: bool, explain: bool) {
    let outcome = match outcome {
        Decision::Built { reason, mut report } => {
            if !explain {
                report.rebuilt.clear();
            }
            Decision::Built { reason, report }
        }
        skipped @ Decision::Skipped { .. } => skipped,
    };
    if format == Format::Json {
        let value = match &outcome {
            Decision::Built { report, .. } if !gated => serde_json::to_value(report),
            other => serde_json::to_value(other),
        };
        say(&value.map(|v| v.to_string()).unwrap_or_default());
        return;
    }
    match outcome {
        Decision::Skipped { reason, .. } => say(&format!("skipped: {reason}")),
        Decision::Built { reason, report } => {
            for warning in &report.warnings {
                complain(&warning.to_string());
            }
            for rebuilt in &report.rebuilt {
                say(&format!("  {}: {}", rebuilt.file, rebuilt.reason));
            }
            if gated {
                say(&format!("built: {reason}"));
            }
            say(&summary_line(&report, write));
        }
    }
}

fn summary_line(report: &BuildReport, write: bool) -> String {
    let seconds = report.duration_ms as f64 / 1000.0;
    let warnings = warnings_note(report.warnings.len());
    if !write {
        return format!(
            "Checked {} pages, {} sections, {} outputs in {seconds:.2}s: no errors{warnings}",
            report.pages, report.sections, report.files_written
        );
    }
    let mut line = format!(
        "Built {} pages, {} sections, {} files",
        report.pages, report.sections, report.files_written
    );
    if report.pages_reused > 0 || report.outputs_removed > 0 {
        let _ = write!(
            line,
            " ({} pages rendered, {} reused, {} outputs removed, {} changed)",
            report.pages_rendered,
            report.pages_reused,
            report.outputs_removed,
            sitegen::build::percent(report.changed_fraction)
        );
    }
    format!(
        "{line} in {seconds:.2}s into {}{warnings}",
        report.output.display()
    )
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
            ProgressStyle::with_template("{spinner} {wide_bar} {pos}/{len} outputs ({eta}) {msg}")
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

    fn generation(&self, status: &GenerationStatus) {
        if status.done < status.total && self.0.is_hidden() {
            self.0.set_draw_target(ProgressDrawTarget::stderr());
        }
        self.0.set_message(format!(
            "· copy {}/{} done, {} pending, {} failed, {} tokens, ${:.4}",
            status.done,
            status.total,
            status.total - status.done,
            status.failed,
            status.tokens,
            status.cost_usd
        ));
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}
