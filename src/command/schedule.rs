//! `sitegen schedule --cron "*/15 * * * *"`: run a job on a cron schedule, in the foreground,
//! until stopped.
//!
//! This sits outside the pipeline: the CLI hands [`run`] a closure that does one job (a build, a
//! threshold-gated rebuild) and returns a one-line summary, and this module only decides *when*
//! to call it. Times are the machine's local time, as in crontab: `0 3 * * *` is 03:00 on the
//! wall clock, DST included.
//!
//! Stopping: SIGINT or SIGTERM while waiting returns at once (within one 250 ms sleep slice);
//! during a tick, the first signal lets the tick finish and then returns, and a second one exits
//! the process with code 130 without waiting. Abandoning a build is safe because the build
//! commits its state only after a successful swap (see DESIGN.md, "State in `.sitegen/`").
//!
//! This module must not know what a tick does, print to the terminal itself (lines go through
//! the caller's `log`), or run two ticks at once.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use chrono::{DateTime, Local, SecondsFormat, Timelike};
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use signal_hook::consts::{SIGINT, SIGTERM};

use crate::diagnostics::Error;

/// The longest single sleep, so a stop signal is noticed promptly while waiting.
const SLICE: Duration = Duration::from_millis(250);

/// The exit code of a process stopped by a second signal (128 + SIGINT, as shells report it).
const EXIT_INTERRUPTED: i32 = 130;

/// What the usage error shows, so the user sees a working expression.
const EXAMPLE: &str = "`*/15 * * * *` (every 15 minutes) or `0 3 * * 1-5` (03:00 on weekdays)";

/// A parsed cron expression: when the scheduled job runs.
///
/// Standard 5-field expressions (`minute hour day-of-month month day-of-week`), a leading
/// seconds field (6 fields), names (`MON`, `JAN`) and `@hourly`-style nicknames are accepted.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// The expression as the user wrote it, for messages.
    expression: String,
    cron: Cron,
}

impl Schedule {
    /// Parses a cron expression.
    ///
    /// # Errors
    ///
    /// [`Error::Usage`] naming the expression, what is wrong with it and an example.
    pub fn parse(expression: &str) -> Result<Self, Error> {
        // Seconds are optional so that `*/10 * * * * *` works too; a year field is refused,
        // because a 6-field expression would otherwise be ambiguous between the two.
        let parser = CronParser::builder()
            .seconds(Seconds::Optional)
            .year(Year::Disallowed)
            .build();
        let cron = parser.parse(expression).map_err(|e| {
            // croner ends its sentences with a period; ours goes on after a semicolon.
            let complaint = e.to_string();
            let complaint = complaint.trim_end_matches('.');
            Error::Usage(format!(
                "invalid cron expression `{expression}`: {complaint}; expected 5 fields (minute \
                 hour day-of-month month day-of-week), optionally after a seconds field, e.g. \
                 {EXAMPLE}"
            ))
        })?;
        Ok(Self {
            expression: expression.trim().to_owned(),
            cron,
        })
    }

    /// The expression as given.
    #[must_use]
    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// The first occurrence strictly after `time`, in local time.
    ///
    /// # Errors
    ///
    /// [`Error::Usage`] when the expression never matches (such as `0 0 30 2 *`).
    pub(crate) fn next_after(&self, time: &DateTime<Local>) -> Result<DateTime<Local>, Error> {
        self.cron.find_next_occurrence(time, false).map_err(|e| {
            Error::Usage(format!(
                "cron expression `{}` has no next occurrence after {}: {e}",
                self.expression,
                rfc3339(time)
            ))
        })
    }
}

impl FromStr for Schedule {
    type Err = Error;

    fn from_str(expression: &str) -> Result<Self, Error> {
        Self::parse(expression)
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.expression)
    }
}

/// Calls `tick` at every occurrence of `schedule` (local time) until SIGINT or SIGTERM.
///
/// Each tick logs one line through `log`: `<RFC 3339 time of the occurrence> <summary>`, or
/// `<time> error: <message>` when the tick fails; a failed tick does not stop the schedule.
/// A tick that overruns later occurrences skips them rather than running back to back. A stop
/// signal while waiting logs `stopping` and returns; the first signal during a tick lets it
/// finish (and log), then logs `stopping` and returns; a second signal exits the process at once
/// with code 130. The signal handlers stay installed after this returns, so any later SIGINT or
/// SIGTERM exits with 130 too.
///
/// # Errors
///
/// [`Error::Usage`] when the signal handlers cannot be installed or the expression never
/// matches. Errors of `tick` are logged, not returned.
pub fn run<F>(schedule: &Schedule, tick: F, log: &mut dyn FnMut(&str)) -> Result<(), Error>
where
    F: FnMut() -> Result<String, Error>,
{
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [SIGINT, SIGTERM] {
        // Order matters: actions run in registration order, so the shutdown sees the flag as it
        // was before this signal and only fires for a signal that follows a first one.
        signal_hook::flag::register_conditional_shutdown(
            signal,
            EXIT_INTERRUPTED,
            Arc::clone(&stop),
        )
        .and_then(|_| signal_hook::flag::register(signal, Arc::clone(&stop)))
        .map_err(|e| {
            Error::Usage(format!(
                "cannot install the handler of signal {signal}: {e}"
            ))
        })?;
    }
    run_with(schedule, Local::now, thread::sleep, &stop, None, tick, log)
}

/// [`run`] with the clock, the sleep and the stop flag passed in, so tests can fake time.
/// `max_ticks` ends the loop after that many ticks (tests only; `run` passes `None`).
fn run_with(
    schedule: &Schedule,
    now: impl Fn() -> DateTime<Local>,
    sleep: impl Fn(Duration),
    stop: &AtomicBool,
    max_ticks: Option<usize>,
    mut tick: impl FnMut() -> Result<String, Error>,
    log: &mut dyn FnMut(&str),
) -> Result<(), Error> {
    let mut last: Option<DateTime<Local>> = None;
    let mut ticks = 0;
    while max_ticks.is_none_or(|max| ticks < max) {
        // Search from a whole second (the schedule's finest unit) and never from before the
        // last occurrence, so a tick that ends within its own second cannot run it twice.
        let current = now();
        let mut from = current.with_nanosecond(0).unwrap_or(current);
        if let Some(last) = last.filter(|last| *last > from) {
            from = last;
        }
        let next = schedule.next_after(&from)?;
        tracing::debug!(next = %rfc3339(&next), "waiting for the next tick");

        loop {
            if stop.load(Ordering::SeqCst) {
                log("stopping");
                return Ok(());
            }
            let remaining = (next - now()).to_std().unwrap_or(Duration::ZERO);
            if remaining.is_zero() {
                break;
            }
            sleep(remaining.min(SLICE));
        }

        let line = match tick() {
            Ok(summary) => format!("{} {summary}", rfc3339(&next)),
            Err(e) => format!("{} error: {e}", rfc3339(&next)),
        };
        log(&line);
        last = Some(next);
        ticks += 1;
    }
    Ok(())
}

/// `2026-01-15T10:15:00+01:00`: seconds are the schedule's finest unit.
fn rfc3339(time: &DateTime<Local>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, false)
}

#[cfg(test)]
mod tests {
    use std::cell::{Cell, RefCell};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use chrono::{DateTime, Local, TimeDelta, TimeZone};

    use super::{Schedule, rfc3339, run_with};
    use crate::diagnostics::Error;

    fn at(hour: u32, minute: u32, second: u32) -> DateTime<Local> {
        // January: far from any DST change, whatever the machine's zone.
        Local
            .with_ymd_and_hms(2026, 1, 15, hour, minute, second)
            .single()
            .unwrap()
    }

    /// A clock that stands still until someone sleeps on it.
    struct FakeClock {
        time: Cell<DateTime<Local>>,
        longest_sleep: Cell<Duration>,
    }

    impl FakeClock {
        fn starting_at(time: DateTime<Local>) -> Self {
            Self {
                time: Cell::new(time),
                longest_sleep: Cell::new(Duration::ZERO),
            }
        }

        fn now(&self) -> DateTime<Local> {
            self.time.get()
        }

        fn sleep(&self, duration: Duration) {
            self.longest_sleep
                .set(self.longest_sleep.get().max(duration));
            self.time
                .set(self.time.get() + TimeDelta::from_std(duration).unwrap());
        }
    }

    #[test]
    fn parses_five_and_six_fields() {
        let schedule = Schedule::parse("*/15 * * * *").unwrap();
        assert_eq!(schedule.expression(), "*/15 * * * *");
        assert_eq!(schedule.next_after(&at(10, 7, 0)).unwrap(), at(10, 15, 0));
        // Strictly after: an occurrence at the given time is not the next one.
        assert_eq!(schedule.next_after(&at(10, 15, 0)).unwrap(), at(10, 30, 0));

        let seconds: Schedule = "*/10 * * * * *".parse().unwrap();
        assert_eq!(seconds.next_after(&at(10, 7, 3)).unwrap(), at(10, 7, 10));
        assert!(Schedule::parse("@hourly").is_ok());
        assert!(Schedule::parse("0 3 * * MON-FRI").is_ok());
    }

    #[test]
    fn a_bad_expression_is_a_usage_error_with_an_example() {
        for bad in [
            "*/15 * * *",
            "61 * * * *",
            "every day",
            "0 0 1 1 * 2030",
            "",
        ] {
            let Err(Error::Usage(message)) = Schedule::parse(bad) else {
                panic!("`{bad}` parsed");
            };
            assert!(
                message.starts_with(&format!("invalid cron expression `{bad}`: ")),
                "{message}"
            );
            assert!(message.contains("e.g. `*/15 * * * *`"), "{message}");
        }
        let message = Schedule::parse("61 * * * *").unwrap_err().to_string();
        assert_eq!(
            message,
            "invalid cron expression `61 * * * *`: Component error: Number out of bounds; \
             expected 5 fields (minute hour day-of-month month day-of-week), optionally after a \
             seconds field, e.g. `*/15 * * * *` (every 15 minutes) or `0 3 * * 1-5` \
             (03:00 on weekdays)"
        );
    }

    #[test]
    fn ticks_follow_the_expression() {
        let schedule = Schedule::parse("*/15 * * * *").unwrap();
        let clock = FakeClock::starting_at(at(10, 7, 0));
        let stop = AtomicBool::new(false);
        let ticked_at = RefCell::new(Vec::new());
        let mut lines = Vec::new();

        run_with(
            &schedule,
            || clock.now(),
            |d| clock.sleep(d),
            &stop,
            Some(3),
            || {
                ticked_at.borrow_mut().push(clock.now());
                Ok(format!("built {} pages", ticked_at.borrow().len()))
            },
            &mut |line| lines.push(line.to_owned()),
        )
        .unwrap();

        assert_eq!(
            ticked_at.into_inner(),
            [at(10, 15, 0), at(10, 30, 0), at(10, 45, 0)]
        );
        assert_eq!(
            lines,
            [
                format!("{} built 1 pages", rfc3339(&at(10, 15, 0))),
                format!("{} built 2 pages", rfc3339(&at(10, 30, 0))),
                format!("{} built 3 pages", rfc3339(&at(10, 45, 0))),
            ]
        );
        assert!(
            clock.longest_sleep.get() <= Duration::from_millis(250),
            "slept {:?} at once",
            clock.longest_sleep.get()
        );
    }

    #[test]
    fn a_failed_tick_is_logged_and_the_schedule_goes_on() {
        let schedule = Schedule::parse("0 * * * *").unwrap();
        let clock = FakeClock::starting_at(at(9, 59, 59));
        let stop = AtomicBool::new(false);
        let mut calls = 0;
        let mut lines = Vec::new();

        run_with(
            &schedule,
            || clock.now(),
            |d| clock.sleep(d),
            &stop,
            Some(3),
            || {
                calls += 1;
                if calls == 2 {
                    Err(Error::Usage("the provider refused the key".to_owned()))
                } else {
                    Ok("ok".to_owned())
                }
            },
            &mut |line| lines.push(line.to_owned()),
        )
        .unwrap();

        assert_eq!(calls, 3);
        assert_eq!(
            lines,
            [
                format!("{} ok", rfc3339(&at(10, 0, 0))),
                format!(
                    "{} error: the provider refused the key",
                    rfc3339(&at(11, 0, 0))
                ),
                format!("{} ok", rfc3339(&at(12, 0, 0))),
            ]
        );
    }

    #[test]
    fn a_tick_that_overruns_skips_the_missed_occurrences() {
        let schedule = Schedule::parse("*/15 * * * *").unwrap();
        let clock = FakeClock::starting_at(at(10, 7, 0));
        let stop = AtomicBool::new(false);
        let ticked_at = RefCell::new(Vec::new());

        run_with(
            &schedule,
            || clock.now(),
            |d| clock.sleep(d),
            &stop,
            Some(2),
            || {
                ticked_at.borrow_mut().push(clock.now());
                // A 40-minute build: 10:30 and 10:45 pass while it runs.
                clock.sleep(Duration::from_secs(40 * 60));
                Ok("slow".to_owned())
            },
            &mut |_| {},
        )
        .unwrap();

        assert_eq!(ticked_at.into_inner(), [at(10, 15, 0), at(11, 0, 0)]);
    }

    #[test]
    fn a_stop_while_waiting_returns_promptly_without_a_tick() {
        let schedule = Schedule::parse("0 * * * *").unwrap();
        let clock = FakeClock::starting_at(at(10, 7, 0));
        let stop = AtomicBool::new(false);
        let mut lines = Vec::new();
        let mut ticks = 0;

        run_with(
            &schedule,
            || clock.now(),
            |d| {
                clock.sleep(d);
                // The signal arrives at 10:20 while we wait for 11:00.
                if clock.now() >= at(10, 20, 0) {
                    stop.store(true, Ordering::SeqCst);
                }
            },
            &stop,
            Some(5),
            || {
                ticks += 1;
                Ok("ticked".to_owned())
            },
            &mut |line| lines.push(line.to_owned()),
        )
        .unwrap();

        assert_eq!(ticks, 0);
        assert_eq!(lines, ["stopping"]);
        assert!(clock.now() <= at(10, 20, 0) + TimeDelta::milliseconds(250));
    }

    #[test]
    fn a_stop_during_a_tick_lets_it_finish_then_returns() {
        let schedule = Schedule::parse("*/15 * * * *").unwrap();
        let clock = FakeClock::starting_at(at(10, 7, 0));
        let stop = AtomicBool::new(false);
        let mut lines = Vec::new();
        let mut ticks = 0;

        run_with(
            &schedule,
            || clock.now(),
            |d| clock.sleep(d),
            &stop,
            Some(5),
            || {
                ticks += 1;
                stop.store(true, Ordering::SeqCst);
                Ok("finished anyway".to_owned())
            },
            &mut |line| lines.push(line.to_owned()),
        )
        .unwrap();

        assert_eq!(ticks, 1);
        assert_eq!(
            lines,
            [
                format!("{} finished anyway", rfc3339(&at(10, 15, 0))),
                "stopping".to_owned(),
            ]
        );
    }

    #[test]
    fn a_stop_before_the_first_wait_runs_nothing() {
        let schedule = Schedule::parse("* * * * *").unwrap();
        let clock = FakeClock::starting_at(at(10, 7, 0));
        let stop = AtomicBool::new(true);
        let mut lines = Vec::new();

        run_with(
            &schedule,
            || clock.now(),
            |d| clock.sleep(d),
            &stop,
            Some(5),
            || -> Result<String, Error> { panic!("ticked after a stop") },
            &mut |line| lines.push(line.to_owned()),
        )
        .unwrap();

        assert_eq!(lines, ["stopping"]);
        assert_eq!(clock.now(), at(10, 7, 0));
    }

    #[test]
    fn an_expression_that_never_matches_is_an_error_before_any_tick() {
        let schedule = Schedule::parse("0 0 30 2 *").unwrap();
        let clock = FakeClock::starting_at(at(10, 7, 0));
        let stop = AtomicBool::new(false);

        let result = run_with(
            &schedule,
            || clock.now(),
            |d| clock.sleep(d),
            &stop,
            Some(1),
            || -> Result<String, Error> { panic!("ticked on 30 February") },
            &mut |_| {},
        );

        let Err(Error::Usage(message)) = result else {
            panic!("a schedule of 30 February ran");
        };
        assert!(
            message.starts_with("cron expression `0 0 30 2 *` has no next occurrence after "),
            "{message}"
        );
    }
}
