//! Embeds themes/default/ in the binary, so `theme = "default"` works in any site.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    // A position-independent executable relocates its 11 MB of `.data.rel.ro` (vtables and
    // static tables of the dependencies) at every start: ~3,000 page faults and 7 ms before
    // `main`. Linked at a fixed address, those pages are read lazily from the page cache.
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
    let theme = Path::new(env!("CARGO_MANIFEST_DIR")).join("themes/default");
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(&theme)
        .into_iter()
        .filter_map(Result::ok)
    {
        if entry.file_type().is_dir() {
            // Each folder, not only the theme's: a file added with an old modification time
            // (copied, checked out) changes only its folder's.
            println!("cargo:rerun-if-changed={}", entry.path().display());
        } else if entry.file_type().is_file() {
            files.push(entry.into_path());
        }
    }
    files.sort();
    let mut out = String::from(
        "/// The files of themes/default/, by path relative to it.\npub static DEFAULT_THEME: &[(&str, &[u8])] = &[\n",
    );
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
        let name = file
            .strip_prefix(&theme)
            .expect("inside the theme")
            .to_string_lossy()
            .replace('\\', "/");
        let _ = writeln!(
            out,
            "    ({name:?}, include_bytes!({:?})),",
            file.display().to_string()
        );
    }
    out.push_str("];\n");
    let dest =
        Path::new(&std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("default_theme.rs");
    std::fs::write(dest, out).expect("write the embedded theme");
}
