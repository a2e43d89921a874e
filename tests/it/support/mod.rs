//! The test harness: a site in a temporary folder, built by the real `sitegen` binary.
//!
//! `SiteTest::fixture("basic")` copies `tests/fixtures/basic`; `write`/`remove` edit it;
//! `build`/`check` run the binary and return its exit code and output; `read`/`tree` look at the
//! result. `SiteTest::example("blog")` copies `examples/blog`; [`snapshot`] renders a whole output
//! tree as one text and compares it with `tests/snapshots/`.

pub(crate) mod snapshot;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The fixtures folder.
pub(crate) fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A site under test in a temporary folder.
pub(crate) struct SiteTest {
    dir: tempfile::TempDir,
}

/// What one run of the binary did.
#[derive(Debug)]
pub(crate) struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    #[track_caller]
    pub(crate) fn assert_ok(&self) -> &Self {
        assert_eq!(
            self.code, 0,
            "expected success\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    pub(crate) fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "unexpected exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    pub(crate) fn assert_stderr_contains(&self, needle: &str) -> &Self {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}:\n{}",
            self.stderr
        );
        self
    }

    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.stdout))
    }
}

/// Runs `sitegen ARGS` in `dir`.
pub(crate) fn sitegen(dir: &Path, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_sitegen"))
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Copies a folder recursively.
pub(crate) fn copy_tree(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.unwrap();
        let target = to.join(entry.path().strip_prefix(from).unwrap());
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

impl SiteTest {
    /// An empty site folder.
    pub(crate) fn empty() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// A copy of `tests/fixtures/NAME`.
    pub(crate) fn fixture(name: &str) -> Self {
        let test = Self::empty();
        copy_tree(&fixtures().join(name), test.root());
        test
    }

    /// A copy of `examples/NAME`, without the output and state of a build made in place.
    pub(crate) fn example(name: &str) -> Self {
        let test = Self::empty();
        let from = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples")
            .join(name);
        for entry in std::fs::read_dir(&from).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name();
            if ["public", ".sitegen", ".sitegen-serve"].contains(&&*name.to_string_lossy()) {
                continue;
            }
            let target = test.root().join(&name);
            if entry.file_type().unwrap().is_dir() {
                copy_tree(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), &target).unwrap();
            }
        }
        test
    }

    pub(crate) fn root(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn output(&self) -> PathBuf {
        self.root().join("public")
    }

    pub(crate) fn write(&self, path: &str, text: impl AsRef<[u8]>) -> &Self {
        let path = self.root().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
        self
    }

    pub(crate) fn remove(&self, path: &str) -> &Self {
        let path = self.root().join(path);
        if path.is_dir() {
            std::fs::remove_dir_all(path).unwrap();
        } else {
            std::fs::remove_file(path).unwrap();
        }
        self
    }

    /// Runs `sitegen ARGS` in the site's folder.
    pub(crate) fn run(&self, args: &[&str]) -> Run {
        sitegen(self.root(), args)
    }

    pub(crate) fn build(&self) -> Run {
        self.run(&["build", "--quiet"])
    }

    pub(crate) fn check(&self) -> Run {
        self.run(&["check", "--quiet"])
    }

    /// A file of the output.
    #[track_caller]
    pub(crate) fn read(&self, path: &str) -> String {
        let path = self.output().join(path);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    pub(crate) fn exists(&self, path: &str) -> bool {
        self.output().join(path).exists()
    }

    /// Every file of the output with its bytes, by sorted path.
    pub(crate) fn tree(&self) -> BTreeMap<String, Vec<u8>> {
        tree_of(&self.output())
    }
}

/// Every file under `dir` with its bytes.
pub(crate) fn tree_of(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    if !dir.exists() {
        return files;
    }
    for entry in walkdir::WalkDir::new(dir) {
        let entry = entry.unwrap();
        if entry.file_type().is_file() {
            let name = entry
                .path()
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            files.insert(name, std::fs::read(entry.path()).unwrap());
        }
    }
    files
}
