//! Stage 5, emit: writing outputs where the build can be undone until it succeeds.
//!
//! Every file is staged (a folder beside the output, or memory); only a build without errors
//! lands it, so a failed build leaves the previous output intact and servable. `sitegen check`
//! uses a sink that writes nothing.

pub mod edge;
pub(crate) mod search;
mod write;

pub(crate) use write::{MEMORY_BUDGET, Sink, Staging};
