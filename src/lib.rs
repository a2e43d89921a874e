//! sitegen: a static site generator for large sites whose copy is partly written by language
//! models, with Zola's content conventions.
//!
//! A build is a chain of values, one stage a module, in this order:
//!
//! ```text
//! load ──► plan ──► generate ──► render ──► post ──► emit ──► state
//! Site     BuildPlan CopySet     Rendered   Processed files   manifest, stamp
//! ```
//!
//! - [`load`]: the site's folder (content, data, templates, static files, prompts) → an
//!   immutable [`site::Site`], the model, which holds metadata only (bodies are read again when
//!   rendered, so memory stays flat as sites grow).
//! - [`assets`]: the files templates name and the files they ask to be made (processed
//!   images): answered while templates render, made once rendering is over.
//! - [`plan`]: every output and its file, what each is made from, and, against the previous
//!   build's records, which to render, keep and delete, and why.
//! - [`generate`]: the AI copy of the pages' generated fields: the cache, then a
//!   concurrency-limited, batched queue of provider calls, filling a [`generate::copy::CopySet`]
//!   while the site renders.
//! - [`render`]: markdown ([`markdown`]) and tera templates, one output at a time.
//! - [`post`]: one streaming rewrite of each HTML output (fingerprinted assets, images, links),
//!   the link check, minification.
//! - [`emit`]: staging the outputs and landing them; the edge platforms' files.
//! - [`state`]: `.sitegen/`, what a build leaves for the next (the manifest, the stamp, the
//!   journal, the lock).
//!
//! The ground floor, which every stage may read and which imports none: [`site`] (the model),
//! [`config`], [`diagnostics`], [`fs`], [`hash`], [`markdown`] and [`value`]. [`build`] is the driver,
//! the only module that knows the order of the stages: it streams outputs through render →
//! post → emit in parallel with rayon. [`command`] and [`serve`] are what the command line
//! runs. Problems in the site are [`Diagnostic`]s, collected and reported together; a build
//! with errors writes nothing.

#[allow(
    unsafe_code,
    reason = "the allocator's C API is called here, and only here"
)]
pub mod alloc;
pub mod assets;
pub mod build;
pub mod command;
pub mod config;
pub mod diagnostics;
pub mod emit;
pub mod fs;
pub mod generate;
pub mod hash;
pub(crate) mod highlight;
pub mod load;
pub mod markdown;
mod markdown_options;
pub mod plan;
pub mod post;
pub mod render;
pub mod serve;
pub mod site;
pub(crate) mod splice;
pub mod state;
pub mod value;

pub use build::{BuildReport, Options, build};
pub use diagnostics::{Diagnostic, Error};
