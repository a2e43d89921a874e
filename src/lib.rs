//! sitegen: a static site generator for large sites, with Zola's content conventions.
//!
//! A build is a chain of values, one stage a module, in this order:
//!
//! ```text
//! config ──► load ──► plan ──► render ──► post ──► emit
//!            Site     BuildPlan  Rendered   bytes    files (staging, swapped in on success)
//! ```
//!
//! - [`config`]: `sitegen.toml` (or Zola's `zola.toml`/`config.toml`) plus `--set` overrides.
//! - [`load`]: content/, static/, templates → an immutable [`load::site::Site`] holding metadata
//!   only (bodies are read again when rendered, so memory stays flat as sites grow).
//! - [`plan`]: every output and its file; two sources claiming one file is an error.
//! - [`render`]: markdown ([`markdown`]) and tera templates, one output at a time.
//! - [`post`]: minification (HTML with its inline CSS and JS).
//! - [`emit`]: the staging folder and its swap.
//!
//! [`build::build`] is the driver: it streams outputs through render → post → emit in parallel
//! with rayon. Problems in the site are [`diagnostics::Diagnostic`]s, collected and reported
//! together; the build fails before the swap, so the previous output stays intact.

pub mod alloc;
pub mod build;
pub mod config;
pub mod diagnostics;
pub mod emit;
pub mod generate;
pub mod hash;
pub mod init;
pub mod load;
pub mod lock;
pub mod markdown;
pub mod plan;
pub mod post;
pub mod render;
pub mod schedule;
pub mod serve;
pub mod state;
pub mod theme;
pub mod value;

pub use build::{BuildReport, Options, build};
pub use diagnostics::{Diagnostic, Error};
