//! The integration tests: one binary, a module per concern, fixtures in tests/fixtures/.

mod build;
mod cli;
mod errors;
mod generate;
mod incremental;
mod llm_mock;
mod queue;
mod support;
