//! `.sitegen/`: what a build leaves for the next one.
//!
//! Two kinds of state fail differently and are kept apart. The build manifest (this module)
//! is derived data: what each output was made from, and the previous parse of every source
//! file. It is written atomically after the output is updated, and a missing, corrupt or
//! foreign-version manifest only means a full rebuild. (The AI results of a later stage cost
//! money and will live in a database beside it.)
//!
//! Files: `processed_images/` (the cache of processed images, see `assets::images`),
//! `manifest` (`MessagePack`, versioned), `stamp` (the stat of every file the last build
//! read, for the no-op check), `pending` (the journal of a build that was updating the output
//! when it stopped), `last-build`, `lock`, `.gitignore`, `README`.

pub(crate) mod commit;
pub mod lock;
pub mod manifest;
pub(crate) mod stamp;

use std::path::{Path, PathBuf};

use crate::diagnostics::{Error, Result};

/// The state folder's name, in the site's root.
pub(crate) const DIR: &str = ".sitegen";

/// The state folder of the site at `root`.
pub(crate) fn dir(root: &Path) -> PathBuf {
    root.join(DIR)
}

/// Creates the state folder with its `.gitignore` and README when missing.
pub(crate) fn ensure(root: &Path) -> Result<PathBuf> {
    let dir = dir(root);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let ignore = dir.join(".gitignore");
    if !ignore.exists() {
        std::fs::write(
            &ignore,
            "# sitegen's build state: derived, rebuilt when missing.\n*\n",
        )
        .map_err(|e| Error::io(&ignore, e))?;
    }
    let readme = dir.join("README");
    if !readme.exists() {
        std::fs::write(&readme, README).map_err(|e| Error::io(&readme, e))?;
    }
    Ok(dir)
}

const README: &str = "\
This folder is sitegen's build state. All of it is safe to delete (the next build is then a
full one) except generations.sqlite, whose AI results cost money to make again.

manifest  what every output was built from (MessagePack, versioned), and the parse of every
          source file keyed by its size and modification time (for a Sass stylesheet, its
          CSS and what compiling it read)
stamp     the size and modification time of every file the last build read, to see quickly
          that nothing changed
last-build  when the last build finished (seconds since 1970), for `rebuild --max-age`
pending   present only while a build is replacing files in the output folder; a build that
          finds it rebuilds those files
lock      held by the sitegen process working on the site; names its pid
processed_images/  the images resize_image made, named by a hash of their source's bytes and
          the operation; linked into the output; files no build asked for in 7 days are removed
generations.sqlite  the AI results cache, and a trace of every generation each build asked
          for (tokens, cost, latency, outcome) and the fields left with fallback copy; an
          SQLite database: `sqlite3 .sitegen/generations.sqlite .schema` describes its tables,
          `sitegen stats` sums it up
";
