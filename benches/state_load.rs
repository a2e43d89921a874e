//! Which store loads the build state faster: the `MessagePack` manifest, or an `SQLite` table?
//!
//! `cargo bench --bench state_load [-- PAGES]` (default 100,000) builds a manifest of PAGES
//! synthetic pages (one source entry and one output record each, shaped like a real site's),
//! then times, over 5 runs (medians): loading it all, as every incremental build does; and
//! committing one page's change (3 records), as a one-page edit does. The candidates: one
//! `MessagePack` file rewritten atomically (temp file, fsync, rename) on every commit, and the
//! `SQLite` database sitegen uses (`sitegen::state::manifest`), one row per record.

#![allow(clippy::print_stdout, reason = "a benchmark reports on stdout")]

use std::sync::Arc;
use std::time::{Duration, Instant};

use sitegen::hash::{ContentHash, Fingerprint};
use sitegen::load::source::{Cached, Made, Parsed, Stat};
use sitegen::plan::reason::{Inputs, OutputRecord, Reason};
use sitegen::site::front_matter::PageFrontMatter;
use sitegen::state::manifest::{self, Manifest};

fn h(s: &str) -> ContentHash {
    Fingerprint::new(s).finish()
}

fn synthetic(pages: usize) -> Manifest {
    let mut m = Manifest {
        format: manifest::FORMAT,
        engine: env!("CARGO_PKG_VERSION").to_owned(),
        pages,
        ..Manifest::default()
    };
    for i in 0..pages {
        let relative = format!("sec-{:02}/page-{i:06}.md", i % 10);
        let meta = PageFrontMatter {
            title: Some(format!("Static Margin Supply Volume Column {i}")),
            description: Some(
                "Parent journal zenith estimate canvas around wonder channel pocket sample."
                    .to_owned(),
            ),
            date: Some(serde_json::Value::String("2015-01-01T00:23:00Z".to_owned())),
            taxonomies: [(
                "tags".to_owned(),
                vec!["account".to_owned(), "area".to_owned(), "binary".to_owned()],
            )]
            .into_iter()
            .collect(),
            ..PageFrontMatter::default()
        };
        let parsed = Parsed {
            relative: relative.clone(),
            meta: Arc::new(meta),
            body_offset: 180,
            body_len: 4500,
            hash: h(&relative),
            word_count: 680,
            summary_source: None,
            summary_open: false,
            anchor_targets: Vec::new(),
            links: Vec::new(),
            front_matter_hash: h("fm"),
            spans: sitegen::load::source::KeySpans::default(),
            ignored: Vec::new(),
        };
        let stat = Stat {
            size: 4680,
            mtime_ns: 1_700_000_000_000_000_000 + i as i128,
        };
        m.sources.insert(
            format!("content/{relative}"),
            Cached {
                stat,
                made: Made::Page(parsed),
            },
        );
        let record = OutputRecord {
            inputs: Inputs {
                source: h("s"),
                template: h("t"),
                config: h("c"),
                listing: h("l"),
            },
            deps: Vec::new(),
            output: h(&format!("out{i}")),
            size: 9000,
            reason: Reason::Full,
        };
        m.outputs
            .insert(format!("sec-{:02}/page-{i:06}/index.html", i % 10), record);
    }
    m
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> Duration {
    median(
        (0..runs)
            .map(|_| {
                let start = Instant::now();
                std::hint::black_box(f());
                start.elapsed()
            })
            .collect(),
    )
}

fn file_write(dir: &std::path::Path, m: &Manifest) {
    use std::io::Write;
    let tmp = dir.join("manifest.tmp");
    let mut file = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&tmp).unwrap());
    rmp_serde::encode::write(&mut file, m).unwrap();
    file.flush().unwrap();
    file.into_inner().unwrap().sync_all().unwrap();
    std::fs::rename(&tmp, dir.join("manifest")).unwrap();
}

fn file_read(dir: &std::path::Path) -> Manifest {
    let file = std::fs::File::open(dir.join("manifest")).unwrap();
    rmp_serde::from_read(std::io::BufReader::with_capacity(1 << 20, file)).unwrap()
}

fn main() {
    let pages: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().unwrap();
    let m = synthetic(pages);
    file_write(dir.path(), &m);
    let size = std::fs::metadata(dir.path().join("manifest"))
        .unwrap()
        .len();
    let manifest_load = time(5, || file_read(dir.path()).pages);
    let manifest_commit = time(5, || file_write(dir.path(), &m));

    let db = tempfile::tempdir().unwrap();
    manifest::write(db.path(), &m, None).unwrap();
    let db_size: u64 = std::fs::read_dir(db.path())
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    let sqlite_load = time(5, || manifest::read(db.path()).unwrap().pages);
    let changed: Vec<&str> = m.outputs.keys().take(2).map(String::as_str).collect();
    let delta = manifest::Delta {
        sources_changed: m.sources.keys().take(1).map(String::as_str).collect(),
        outputs_changed: changed,
        ..manifest::Delta::default()
    };
    let sqlite_commit = time(5, || manifest::write(db.path(), &m, Some(&delta)).unwrap());

    println!(
        "# build state of {pages} pages: load everything, commit one page's change (medians of 5)\n"
    );
    println!("| store | size | load | commit one page |");
    println!("|---|---:|---:|---:|");
    println!(
        "| MessagePack manifest (rewritten, fsync) | {:.1} MB | {:.0} ms | {:.0} ms |",
        size as f64 / 1e6,
        ms(manifest_load),
        ms(manifest_commit)
    );
    println!(
        "| SQLite, one row per record (WAL, synchronous=FULL) | {:.1} MB | {:.0} ms | {:.1} ms |",
        db_size as f64 / 1e6,
        ms(sqlite_load),
        ms(sqlite_commit)
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
