//! `sitegen stats`: what AI generation did, summed up from the traces of
//! `.sitegen/generations.sqlite`.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use crate::diagnostics::{Error, Result};
use crate::generate::store::{self, Range, Stats, Store};

/// Which builds to sum up.
#[derive(Debug, Clone, Copy)]
pub enum Span {
    /// The last build.
    LastBuild,
    /// Every build since this long ago.
    Since(Duration),
    /// Every build recorded.
    All,
}

/// The statistics of the builds `span` of the site at `root`.
pub fn stats(root: &Path, span: Span) -> Result<Stats> {
    let state = crate::state::dir(root);
    if !state.join(store::FILE).exists() {
        return Err(Error::Usage(format!(
            "no generations recorded in {}: build a site with generated fields first",
            state.display()
        )));
    }
    let range = match span {
        Span::All => Range::All,
        Span::Since(age) => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            Range::Since(i64::try_from(now.saturating_sub(age).as_secs()).unwrap_or(0))
        }
        Span::LastBuild => Range::LastBuild,
    };
    Store::open(&state)?
        .stats(range)
        .map_err(|e| Error::store(store::FILE, e))
}

/// A readable summary of `stats`, for `sitegen stats`.
pub fn render_text(stats: &Stats) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} build(s), {} job(s), {} request(s), cache hit rate {:.1}%",
        stats.builds,
        stats.jobs,
        stats.requests,
        stats.cache_hit_rate * 100.0
    );
    let _ = writeln!(
        out,
        "tokens: {} in, {} out; cost: {:.4} USD",
        stats.tokens_in, stats.tokens_out, stats.cost_usd
    );
    let _ = writeln!(
        out,
        "latency: p50 {} ms, p95 {} ms, p99 {} ms",
        stats.latency_ms.p50, stats.latency_ms.p95, stats.latency_ms.p99
    );
    let _ = writeln!(
        out,
        "fallbacks: {} (failures: {})",
        stats.fallbacks, stats.failures
    );
    for (title, groups) in [("model", &stats.by_model), ("prompt", &stats.by_prompt)] {
        if groups.is_empty() {
            continue;
        }
        let width = groups
            .keys()
            .map(|k| k.chars().count())
            .max()
            .unwrap_or(0)
            .max(title.len());
        let _ = writeln!(
            out,
            "\n{title:<width$}  {:>8}  {:>8}  {:>8}  {:>10}  {:>10}  {:>10}",
            "jobs", "requests", "hits", "tokens in", "tokens out", "USD"
        );
        for (name, g) in groups {
            let _ = writeln!(
                out,
                "{name:<width$}  {:>8}  {:>8}  {:>8}  {:>10}  {:>10}  {:>10.4}",
                g.jobs, g.requests, g.cache_hits, g.tokens_in, g.tokens_out, g.cost_usd
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::render_text;
    use crate::generate::store::{Group, Stats};

    #[test]
    fn the_text_report_names_totals_models_and_prompts() {
        let group = Group {
            jobs: 109,
            ..Group::default()
        };
        let stats = Stats {
            builds: 1,
            jobs: 109,
            by_model: BTreeMap::from([("m2".to_owned(), group.clone())]),
            by_prompt: BTreeMap::from([("p@1".to_owned(), group)]),
            ..Stats::default()
        };
        let text = render_text(&stats);
        assert!(text.contains("109 job(s)") && text.contains("p@1") && text.contains("m2"));
    }
}
