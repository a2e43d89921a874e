//! The commands: what `sitegen build`, `check`, `rebuild`, `schedule`, `stats` and `init` do
//! with the library, between the command line (`main.rs`, which parses and prints) and the
//! driver ([`crate::build`]).
//!
//! This layer holds the site lock while a command works on the site, decides `rebuild`'s gate
//! from a prepared build's changed fraction, and leaves a command-line build's memory to the
//! process's exit. Exit codes come from the errors themselves ([`crate::Error::exit_code`]).

pub mod init;
pub mod schedule;
pub mod stats;

use std::time::Duration;

use serde::Serialize;

use crate::build::{self, BuildReport, Options, Progress, Resident, percent};
use crate::diagnostics::Result;
use crate::state::{self, commit, lock};

/// How a command-line build waits for the site lock.
#[derive(Debug, Clone, Copy, Default)]
pub struct Locking {
    /// Wait for another sitegen working on the site instead of failing (`--wait`).
    pub wait: bool,
}

/// `sitegen build` (and, without `options.write`, `sitegen check`): builds the site,
/// holding its lock while it writes. `resident` is what the caller keeps between builds
/// ([`Resident::exiting`] for a process that ends after this one).
pub fn build(
    options: &Options,
    locking: Locking,
    progress: &dyn Progress,
    resident: &mut Resident,
) -> Result<BuildReport> {
    let _lock = hold(options, locking)?;
    build::build(options, progress, resident)
}

/// The threshold gate of `sitegen rebuild`.
#[derive(Debug, Clone, Copy)]
pub struct Gate {
    /// Build when at least this fraction (0–1) of the pages changed.
    pub threshold: f64,
    /// Build anyway when the last build is older than this.
    pub max_age: Option<Duration>,
}

/// What `sitegen rebuild` decided.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "decision", rename_all = "lowercase")]
pub enum Decision {
    /// The site was built.
    Built {
        /// Why: the changed fraction reached the threshold, or the last build was too old.
        reason: String,
        /// The build's summary.
        #[serde(flatten)]
        report: Box<BuildReport>,
    },
    /// Too little changed; nothing was written.
    Skipped {
        /// Why.
        reason: String,
        /// The fraction of pages that changed.
        changed_fraction: f64,
        /// The threshold.
        threshold: f64,
        /// Seconds since the last build, when known.
        last_build_age_s: Option<u64>,
    },
}

/// `sitegen rebuild`: builds the site when enough of it changed since the last build, or the
/// last build is too old.
pub fn rebuild(
    options: &Options,
    locking: Locking,
    gate: Gate,
    progress: &dyn Progress,
    resident: &mut Resident,
) -> Result<Decision> {
    let _lock = hold(options, locking)?;
    let prepared = build::prepare(options, resident)?;
    let age = commit::last_build_age(&state::dir(&options.root));
    Ok(match gate.decide(prepared.changed_fraction(), age) {
        Ok(reason) => Decision::Built {
            reason,
            report: Box::new(build::finish(prepared, progress, resident)?),
        },
        Err(skipped) => skipped,
    })
}

impl Gate {
    /// Why to build when `changed` of the pages changed and the last build is `age` old, or
    /// the outcome of skipping it.
    fn decide(&self, changed: f64, age: Option<Duration>) -> std::result::Result<String, Decision> {
        let skipped = || Decision::Skipped {
            reason: format!(
                "{} changed (< {})",
                percent(changed),
                percent(self.threshold)
            ),
            changed_fraction: changed,
            threshold: self.threshold,
            last_build_age_s: age.map(|a| a.as_secs()),
        };
        if changed >= self.threshold {
            return Ok(format!(
                "{} changed (>= {})",
                percent(changed),
                percent(self.threshold)
            ));
        }
        match (self.max_age, age) {
            (Some(max), Some(age)) if age >= max => Ok(format!(
                "last build {}s ago (max age {}s)",
                age.as_secs(),
                max.as_secs()
            )),
            (Some(_), None) => Ok("no previous build".to_owned()),
            _ => Err(skipped()),
        }
    }
}

/// The site lock, for a command that writes: another sitegen on the site makes it fail
/// naming that process (or wait, with `--wait`).
fn hold(options: &Options, locking: Locking) -> Result<Option<lock::SiteLock>> {
    if !options.write {
        return Ok(None);
    }
    let state_dir = state::ensure(&options.root)?;
    lock::acquire(&state_dir, "build", locking.wait).map(Some)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{Decision, Gate};

    #[test]
    fn the_gate_builds_past_the_threshold_or_the_age_and_skips_otherwise() {
        let gate = Gate {
            threshold: 0.05,
            max_age: Some(Duration::from_secs(3600)),
        };
        let hour = |h: u64| Some(Duration::from_secs(h * 3600));
        assert_eq!(gate.decide(0.05, hour(0)).unwrap(), "5% changed (>= 5%)");
        assert_eq!(
            gate.decide(0.01, hour(2)).unwrap(),
            "last build 7200s ago (max age 3600s)"
        );
        assert_eq!(gate.decide(0.0, None).unwrap(), "no previous build");
        let Err(Decision::Skipped { reason, .. }) = gate.decide(0.012, hour(0)) else {
            panic!("expected a skip");
        };
        assert_eq!(reason, "1.2% changed (< 5%)");
        let no_age = Gate {
            max_age: None,
            ..gate
        };
        assert!(no_age.decide(0.0, None).is_err());
    }
}
