//! Stage 5, emit: writing outputs where the build can be undone until it succeeds.
//!
//! Every file goes into a staging folder beside the output; only a build without errors swaps
//! it in, so a failed build leaves the previous output intact and servable. `sitegen check`
//! uses a sink that writes nothing.

pub mod edge;
mod write;

pub use write::{Sink, Staging};
