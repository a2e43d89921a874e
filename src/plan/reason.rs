//! What an output was made from, and why it was made again: the records plan compares
//! build to build, and the typed reasons `sitegen build --explain` prints.
//!
//! Plan decides with them, render and post report what they read as [`Dep`]s, and the build
//! state (`state::manifest`) stores them between builds.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::hash::ContentHash;

/// The record of every output file, by path relative to the output folder.
pub(crate) type OutputRecords = rustc_hash::FxHashMap<String, OutputRecord>;

/// How one output file was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputRecord {
    /// The hashes of its inputs.
    pub inputs: Inputs,
    /// What its rendering read through template functions, with the hash each had.
    pub deps: Vec<(Dep, ContentHash)>,
    /// The hash of the bytes written.
    pub output: ContentHash,
    /// The number of bytes written.
    pub size: u64,
    /// Why it was last written.
    pub reason: Reason,
}

/// The inputs of one output, hashed in groups so a change can be explained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inputs {
    /// Its own source: the page or section file, its path and place, the file it copies.
    pub source: ContentHash,
    /// The templates it is rendered with (extends, includes, imports).
    pub template: ContentHash,
    /// The config values it reads.
    pub config: ContentHash,
    /// What it lists: the metadata of other pages.
    pub listing: ContentHash,
}

/// Something a template read while rendering, through a function.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Dep {
    /// `get_page(path)`.
    Page(String),
    /// `get_section(path)`, with its pages when `listing`.
    Section {
        /// Content path.
        path: String,
        /// Whether the pages were asked for.
        listing: bool,
    },
    /// `get_taxonomy(kind, lang)` (or `get_taxonomy_term`).
    Taxonomy {
        /// Taxonomy.
        kind: String,
        /// Its language.
        lang: String,
    },
    /// `get_taxonomy_url(kind, name, lang)`.
    TermUrl {
        /// Taxonomy.
        kind: String,
        /// Term.
        name: String,
        /// The taxonomy's language.
        lang: String,
    },
    /// `trans(key, lang)`: one string of the config's translations.
    Translation {
        /// The key.
        key: String,
        /// The language.
        lang: String,
    },
    /// `get_url("@/path")`: a content file's URL.
    Url(String),
    /// `get_url(path, cachebust=true)`: a static file's hash.
    Static(String),
    /// `load_data(path)`: a data file's bytes.
    Data(PathBuf),
    /// A shortcode called in the markdown, by name: its template (`shortcodes/NAME.html` or
    /// `.md`), what that uses and the config values it reads.
    Shortcode(String),
    /// `resize_image(path, …)` or `get_image_metadata(path)`: the file found and its header
    /// (size, format), and for `resize_image` the processed file asked for.
    Image(crate::assets::images::ImageDep),
}

/// Why an output was (re)written: `sitegen build --explain` prints these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reason {
    /// No previous build state (or `--full`).
    Full,
    /// Not in the previous build.
    New,
    /// Its source changed.
    SourceChanged,
    /// A template it uses changed.
    TemplateChanged(String),
    /// A config value it reads changed.
    ConfigChanged,
    /// A page it lists changed.
    ListingChanged,
    /// Something it read through a template function changed.
    DependencyChanged(String),
    /// The file is missing from the output, or not what was written.
    OutputMissing,
    /// A previous build was stopped while replacing it.
    Interrupted,
    /// Its template reads the clock, the environment or random numbers.
    Volatile,
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Full => write!(f, "full build"),
            Self::New => write!(f, "new output"),
            Self::SourceChanged => write!(f, "source changed"),
            Self::TemplateChanged(name) => write!(f, "template `{name}` changed"),
            Self::ConfigChanged => write!(f, "config changed"),
            Self::ListingChanged => write!(f, "listing changed"),
            Self::DependencyChanged(what) => write!(f, "{what} changed"),
            Self::OutputMissing => write!(f, "output missing or modified"),
            Self::Interrupted => write!(f, "previous build was interrupted"),
            Self::Volatile => write!(f, "its template calls now(), get_env() or get_random()"),
        }
    }
}

impl Dep {
    /// The dependency in words, for `--explain`.
    pub(crate) fn describe(&self) -> String {
        match self {
            Self::Page(path) => format!("page `{path}` (read with get_page)"),
            Self::Section { path, .. } => format!("section `{path}` (read with get_section)"),
            Self::Taxonomy { kind, lang } => {
                format!("taxonomy `{kind}` of language `{lang}` (read with get_taxonomy)")
            }
            Self::TermUrl { kind, name, lang } => {
                format!("the URL of term `{name}` in `{kind}` of language `{lang}`")
            }
            Self::Translation { key, lang } => {
                format!("translation `{key}` of language `{lang}` (read with trans)")
            }
            Self::Url(path) => format!("the URL of `{path}`"),
            Self::Static(name) => format!("static file `{name}`"),
            Self::Data(path) => format!("data file `{}`", path.display()),
            Self::Shortcode(name) => format!("shortcode `{name}`"),
            Self::Image(image) => format!("image `{}`", image.path),
        }
    }
}
