//! One sitegen at a time per site: an advisory lock on `.sitegen/lock`.
//!
//! Every command that writes the output or the state (`build`, `serve`, `rebuild`, `schedule`)
//! takes [`SiteLock`] first, so a cron-driven rebuild cannot interleave with a build started by
//! hand. The lock is the operating system's (`flock` on Unix, through [`File::try_lock`]), not
//! the file's existence: the kernel drops it when the holding process exits or is killed, so a
//! lock left by a dead process is simply taken over and nobody ever deletes a stale lock file.
//!
//! The file's text (`<pid> <command>`) only names the holder in messages; it is never what
//! decides whether the site is locked, and a garbled record just reads as "unknown pid".
//!
//! This module must not delete the lock file (another process may be blocked on it, and a new
//! file would be a second, unrelated lock) nor look at anything else in the state folder.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::diagnostics::Error;

/// The lock file's name inside the state folder.
const LOCK_FILE: &str = "lock";

/// The held lock of one site. Dropping it releases the lock; the file stays in place.
#[derive(Debug)]
pub struct SiteLock {
    /// The open, locked file: the lock lives exactly as long as this handle.
    file: File,
    /// Where the file is, for error messages.
    path: PathBuf,
}

impl Drop for SiteLock {
    fn drop(&mut self) {
        // Clear the record first, while still holding the lock, so a later `holder` does not
        // name a process that has finished. Errors are ignored: closing the handle releases the
        // lock whatever happens here, and a stale record is harmless.
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

/// Takes the lock of the site whose state lives in `state_dir`, creating the folder if needed.
///
/// `command` (`build`, `serve`, …) is recorded with our pid so that another sitegen can say who
/// holds the site. When another process holds it, `wait == false` fails at once with
/// [`Error::Locked`] naming that process; `wait == true` logs once and blocks until it is free.
///
/// # Errors
///
/// [`Error::Locked`] when the site is locked and `wait` is false; [`Error::Io`] naming the folder
/// or the lock file when they cannot be created, opened, locked or written.
pub fn acquire(state_dir: &Path, command: &str, wait: bool) -> Result<SiteLock, Error> {
    fs::create_dir_all(state_dir).map_err(|e| Error::io(state_dir, e))?;
    let path = state_dir.join(LOCK_FILE);
    // Not truncated on open: until we hold the lock, the text is the holder's record.
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| Error::io(&path, e))?;

    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let who = describe_holder(holder(state_dir));
            if !wait {
                return Err(Error::Locked(format!(
                    "another sitegen ({who}) is working on this site, holding {}; wait for it \
                     to finish or stop it (or pass --wait)",
                    path.display()
                )));
            }
            tracing::info!("waiting for another sitegen ({who}) to finish with this site");
            file.lock().map_err(|e| Error::io(&path, e))?;
        }
        Err(TryLockError::Error(e)) => return Err(Error::io(&path, e)),
    }

    let mut lock = SiteLock { file, path };
    record(&mut lock, command)?;
    Ok(lock)
}

/// The pid and command recorded in `<state_dir>/lock`, if the file holds a readable record.
///
/// The record says who took the lock last and has not released it cleanly; whether that process
/// still holds it is only known by trying to lock, as [`acquire`] does.
#[must_use]
pub(crate) fn holder(state_dir: &Path) -> Option<(u32, String)> {
    let text = fs::read_to_string(state_dir.join(LOCK_FILE)).ok()?;
    let (pid, command) = text.trim().split_once(' ').unwrap_or((text.trim(), ""));
    let pid = pid.parse().ok()?;
    Some((pid, command.trim().to_owned()))
}

/// Replaces the file's text with our record, `<pid> <command>\n`.
fn record(lock: &mut SiteLock, command: &str) -> Result<(), Error> {
    let pid = std::process::id();
    let file = &mut lock.file;
    file.set_len(0)
        .and_then(|()| file.seek(SeekFrom::Start(0)))
        .and_then(|_| writeln!(file, "{pid} {command}"))
        .and_then(|()| file.flush())
        .map_err(|e| Error::io(&lock.path, e))
}

/// "pid 1234, `serve`" or "unknown pid", for messages.
fn describe_holder(holder: Option<(u32, String)>) -> String {
    match holder {
        Some((pid, command)) if command.is_empty() => format!("pid {pid}"),
        Some((pid, command)) => format!("pid {pid}, `{command}`"),
        // An empty or garbled record: the holder is between truncating and writing it, or it
        // was written by something else.
        None => "unknown pid".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::sync::mpsc;
    use std::thread;
    use std::time::{Duration, Instant};

    use super::{LOCK_FILE, acquire, holder};
    use crate::diagnostics::Error;

    #[test]
    fn a_second_acquire_fails_and_names_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join(".sitegen");
        let _held = acquire(&state, "serve", false).unwrap();
        assert_eq!(
            holder(&state),
            Some((std::process::id(), "serve".to_owned()))
        );

        let Err(Error::Locked(message)) = acquire(&state, "build", false) else {
            panic!("a second acquire succeeded while the lock was held");
        };
        let pid = std::process::id();
        assert!(
            message.starts_with(&format!(
                "another sitegen (pid {pid}, `serve`) is working on this site, holding "
            )),
            "{message}"
        );
        assert!(
            message.ends_with("; wait for it to finish or stop it (or pass --wait)"),
            "{message}"
        );
        assert!(message.contains(&state.join(LOCK_FILE).display().to_string()));
    }

    #[test]
    fn the_lock_is_free_again_after_drop() {
        let dir = tempfile::tempdir().unwrap();
        let first = acquire(dir.path(), "build", false).unwrap();
        drop(first);
        assert_eq!(holder(dir.path()), None, "a released lock leaves no holder");
        let second = acquire(dir.path(), "rebuild", false).unwrap();
        assert_eq!(
            holder(dir.path()),
            Some((std::process::id(), "rebuild".to_owned()))
        );
        assert!(second.path.is_file());
        drop(second);
        assert!(
            dir.path().join(LOCK_FILE).is_file(),
            "the file stays in place"
        );
    }

    #[test]
    fn a_record_without_a_lock_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        // What a killed process leaves behind: its record, but no lock (the kernel dropped it).
        fs::write(dir.path().join(LOCK_FILE), "4194305 build\n").unwrap();
        assert_eq!(holder(dir.path()), Some((4_194_305, "build".to_owned())));

        let _lock = acquire(dir.path(), "serve", false).unwrap();
        assert_eq!(
            holder(dir.path()),
            Some((std::process::id(), "serve".to_owned()))
        );
    }

    #[test]
    fn a_garbled_record_reads_as_an_unknown_pid() {
        let dir = tempfile::tempdir().unwrap();
        let _held = acquire(dir.path(), "build", false).unwrap();
        fs::write(dir.path().join(LOCK_FILE), b"\xff\xfe12 build").unwrap();
        assert_eq!(holder(dir.path()), None);

        let Err(Error::Locked(message)) = acquire(dir.path(), "build", false) else {
            panic!("a second acquire succeeded while the lock was held");
        };
        assert!(
            message.starts_with("another sitegen (unknown pid) is working on this site"),
            "{message}"
        );

        fs::write(dir.path().join(LOCK_FILE), "").unwrap();
        assert_eq!(holder(dir.path()), None);
    }

    #[test]
    fn waiting_blocks_until_the_holder_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().to_path_buf();
        let held = acquire(&state, "build", false).unwrap();

        let started = Instant::now();
        let holder_thread = thread::spawn(move || {
            thread::sleep(Duration::from_millis(200));
            drop(held);
        });
        // Acquire on another thread so that a lock that never frees fails the test instead of
        // hanging it.
        let (sender, receiver) = mpsc::channel();
        let waiter_state = state.clone();
        thread::spawn(move || {
            let result = acquire(&waiter_state, "rebuild", true);
            let _ = sender.send((result.map_err(|e| e.to_string()), started.elapsed()));
        });

        let (result, elapsed) = receiver
            .recv_timeout(Duration::from_secs(5))
            .expect("acquire with wait did not return within 5 s of the holder letting go");
        let lock = result.unwrap();
        assert!(
            elapsed >= Duration::from_millis(200),
            "acquired after {elapsed:?}, before the holder let go"
        );
        assert_eq!(
            holder(&state),
            Some((std::process::id(), "rebuild".to_owned()))
        );
        holder_thread.join().unwrap();
        drop(lock);
    }
}
