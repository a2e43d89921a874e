//! Files made on demand for templates, and the files templates name.
//!
//! Templates ask for files that do not exist yet: `resize_image` for a processed image. The
//! call is answered at once from the source's header, and the request recorded
//! ([`images::Images`]); the driver has every file still asked for made once rendering is over,
//! in parallel, each keyed by a hash of its inputs in a cache under `.sitegen/` ([`images::make`]),
//! and recorded in the build state like any output.
//!
//! A rank below plan: plan hashes what a page read of an image ([`images::probe`]), render
//! answers the calls, the driver makes the files. Nothing here renders or writes the output.

mod encode;
pub(crate) mod find;
pub(crate) mod image_meta;
pub mod image_op;
pub mod images;
