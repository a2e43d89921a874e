//! The integration tests: one binary, a module per concern, fixtures in tests/fixtures/.

mod build;
mod cli;
mod conformance;
mod edge;
mod errors;
mod generate;
mod highlight;
mod images;
mod incremental;
mod languages;
mod layering;
mod llm_mock;
mod post;
mod queue;
mod sass;
mod serve_http;
mod serve_live;
mod shortcodes;
mod snapshots;
mod support;
mod zola_config;
mod zola_templates;
