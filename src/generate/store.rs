//! The AI results cache and traces: `.sitegen/generations.sqlite`.
//!
//! Unlike the build manifest, these rows cost money to make, so they are never thrown away:
//! the database is a real `SQLite` file (WAL, `synchronous=FULL`) that users may query with
//! `sqlite3`, every write is one transaction, and its schema is versioned with
//! `PRAGMA user_version` and changed only by appending a step to [`MIGRATIONS`]. A database
//! of a newer version than this code knows is refused, never touched; a damaged one is an
//! error, not a fresh start. [`SCHEMA_DOC`] describes every table and column.
//!
//! `results` is the cache (one row per checked value, by [`Job::key`](crate::generate::Job)),
//! `builds` and `traces` say what every build asked for and what it cost (`sitegen stats`),
//! and `pending` names the fields that got fallback copy, so the next build retries them.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OpenFlags, TransactionBehavior, params};
use serde::{Deserialize, Serialize};

use crate::diagnostics::{Error, Result};
use crate::generate::{Answer, Outcome};

/// The database's file name, in the state folder.
pub(crate) const FILE: &str = "generations.sqlite";

/// The schema, one step per version: step `i` takes a database from `user_version` `i` to
/// `i + 1`. Append only; never edit a step that has shipped. Comments stay in the SQL, so
/// `sqlite3 .sitegen/generations.sqlite .schema` shows them.
pub(crate) const MIGRATIONS: &[&str] = &["
    -- The cache: one row per generated, checked value.
    CREATE TABLE results (
        key        TEXT PRIMARY KEY,  -- blake3 of provider kind, model, prompt and rendered text
        prompt     TEXT NOT NULL,     -- the prompt's name
        version    INTEGER NOT NULL,  -- the prompt's version
        provider   TEXT NOT NULL,     -- the provider that made it
        model      TEXT NOT NULL,     -- the model that made it
        value      TEXT NOT NULL,     -- the value, JSON
        created_at INTEGER NOT NULL   -- unix seconds
    );
    -- One row per build that generated (or looked up) anything.
    CREATE TABLE builds (
        id          INTEGER PRIMARY KEY,
        started_at  INTEGER NOT NULL,  -- unix seconds
        finished_at INTEGER,           -- unix seconds; NULL: running, or stopped
        provider    TEXT NOT NULL,
        model       TEXT NOT NULL
    );
    -- One row per job of a build: what was asked, what it cost, how it ended.
    CREATE TABLE traces (
        id          INTEGER PRIMARY KEY,
        build       INTEGER NOT NULL,  -- builds.id
        at          INTEGER NOT NULL,  -- unix milliseconds
        page        TEXT NOT NULL,     -- the page's content path
        field       TEXT NOT NULL,     -- the generated field
        prompt      TEXT NOT NULL,
        version     INTEGER NOT NULL,
        prompt_hash TEXT NOT NULL,     -- hash of the prompt's templates
        provider    TEXT NOT NULL,
        model       TEXT NOT NULL,
        batch_id    TEXT,              -- the request that answered it, when batched
        tokens_in   INTEGER NOT NULL,
        tokens_out  INTEGER NOT NULL,
        cost_usd    REAL NOT NULL,
        latency_ms  INTEGER NOT NULL,
        cache_hit   INTEGER NOT NULL,  -- 1: answered from results
        retries     INTEGER NOT NULL,
        outcome     TEXT NOT NULL CHECK (outcome IN ('generated', 'cached', 'over_budget',
                        'breaker_open', 'failed', 'offline')),
        error       TEXT               -- why it failed, or the budget it would exceed
    );
    CREATE INDEX traces_build ON traces (build);
    CREATE INDEX traces_at ON traces (at);
    -- Fields that got fallback copy: the next build retries them.
    CREATE TABLE pending (
        page  TEXT NOT NULL,
        field TEXT NOT NULL,
        key   TEXT NOT NULL,     -- the cache key it was asked under
        since INTEGER NOT NULL,  -- unix seconds, when it first fell back
        PRIMARY KEY (page, field)
    ) WITHOUT ROWID;
"];

/// The text of [`SCHEMA_DOC`], as a literal so the doc comment can show it too.
macro_rules! schema_doc {
    () => {
        "\
results: the cache, one row per generated (checked) value
  key          TEXT PRIMARY KEY  the job's cache key: blake3 of provider kind, model, prompt
                                 (name, version, template hash) and rendered text, hex
  prompt       TEXT              the prompt's name
  version      INTEGER           the prompt's version
  provider     TEXT              the provider that made it (its [providers.NAME])
  model        TEXT              the model that made it
  value        TEXT              the value as JSON: a string for text and HTML
  created_at   INTEGER           when it was made, unix seconds

builds: one row per build that generated or looked up anything
  id           INTEGER PRIMARY KEY
  started_at   INTEGER           unix seconds
  finished_at  INTEGER NULL      unix seconds; NULL while running, or if it was stopped
  provider     TEXT              the build's default provider
  model        TEXT              its model

traces: one row per job of a build
  id           INTEGER PRIMARY KEY
  build        INTEGER           builds.id
  at           INTEGER           when the answer was recorded, unix milliseconds
  page         TEXT              the page's content path
  field        TEXT              the generated field
  prompt       TEXT              the prompt's name
  version      INTEGER           the prompt's version
  prompt_hash  TEXT              the hash of the prompt's templates
  provider     TEXT              the provider asked
  model        TEXT              the model asked
  batch_id     TEXT NULL         the request that answered it when batched (b-<n>, per build)
  tokens_in    INTEGER           input tokens (a batch's are shared out among its jobs)
  tokens_out   INTEGER           output tokens
  cost_usd     REAL              USD
  latency_ms   INTEGER           milliseconds from the first send to the answer
  cache_hit    INTEGER           1 when answered from results (no request, no cost)
  retries      INTEGER           requests retried for it
  outcome      TEXT              generated | cached | over_budget | breaker_open | failed | offline
  error        TEXT NULL         the last error (failed), or the budget (over_budget)

pending: fields that got fallback copy; the next build retries them
  page         TEXT              the page's content path   } PRIMARY KEY
  field        TEXT              the field                 }
  key          TEXT              the cache key it was asked under
  since        INTEGER           when it first fell back, unix seconds
"
    };
}

/// Every table and column of the database, for the README and `sitegen stats --help`:
///
#[doc = concat!("```text\n", schema_doc!(), "```")]
pub const SCHEMA_DOC: &str = schema_doc!();

/// Keys per `IN (…)` list of [`Store::lookup`], well under `SQLite`'s limit on parameters.
const LOOKUP_CHUNK: usize = 500;

/// The database of AI results, builds, traces and pending fields.
///
/// One connection behind a mutex, so a `Store` may be shared between threads; every method
/// is one statement or one transaction.
#[derive(Debug)]
pub(crate) struct Store {
    db: Mutex<Connection>,
    path: PathBuf,
}

/// What [`Store::record`] needs to know about a job beyond its [`Answer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Trace {
    /// The page's content path.
    pub(crate) page: String,
    /// The generated field.
    pub(crate) field: String,
    /// The prompt's name (without its version).
    pub(crate) prompt: String,
    /// The prompt's version.
    pub(crate) version: u32,
    /// The hash of the prompt's templates.
    pub(crate) prompt_hash: String,
    /// The provider asked, by name. A job of the provider named `offline` that did not get a
    /// value is traced with the outcome `offline`.
    pub(crate) provider: String,
    /// The model asked.
    pub(crate) model: String,
    /// Whether the answer came from the cache (its outcome is then `cached`).
    pub(crate) cache_hit: bool,
}

/// Which traces [`Store::stats`] sums up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Range {
    /// The most recent build.
    LastBuild,
    /// Builds and traces since this time, in unix seconds.
    Since(i64),
    /// Everything recorded.
    All,
}

/// Totals of a [`Range`] of traces, for `sitegen stats`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Builds in the range.
    pub(crate) builds: u64,
    /// Jobs traced.
    pub(crate) jobs: u64,
    /// Requests sent: distinct batches, plus jobs sent on their own.
    pub(crate) requests: u64,
    /// Cache hits per job (0 without jobs).
    pub(crate) cache_hit_rate: f64,
    /// Input tokens.
    pub(crate) tokens_in: u64,
    /// Output tokens.
    pub(crate) tokens_out: u64,
    /// USD.
    pub(crate) cost_usd: f64,
    /// Latency of the jobs that were sent (not answered from the cache, nor skipped).
    pub(crate) latency_ms: Latency,
    /// Totals per model.
    pub(crate) by_model: BTreeMap<String, Group>,
    /// Totals per prompt, as `name@version`.
    pub(crate) by_prompt: BTreeMap<String, Group>,
    /// Jobs that got fallback copy: over budget, breaker open, failed or offline.
    pub(crate) fallbacks: u64,
    /// Jobs that failed (after retries, or their checks twice).
    pub(crate) failures: u64,
}

/// Latency percentiles, in milliseconds (nearest rank; 0 when nothing was sent).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Latency {
    /// Median.
    pub(crate) p50: u64,
    /// 95th percentile.
    pub(crate) p95: u64,
    /// 99th percentile.
    pub(crate) p99: u64,
}

/// Totals of one model or prompt.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Group {
    /// Jobs traced.
    pub(crate) jobs: u64,
    /// Requests sent.
    pub(crate) requests: u64,
    /// Jobs answered from the cache.
    pub(crate) cache_hits: u64,
    /// Input tokens.
    pub(crate) tokens_in: u64,
    /// Output tokens.
    pub(crate) tokens_out: u64,
    /// USD.
    pub(crate) cost_usd: f64,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn now_s() -> i64 {
    now_ms() / 1000
}

/// `SQLite` integers are signed: counts beyond `i64::MAX` cannot happen, and are saturated.
fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The `outcome` column of a job.
fn outcome_name(answer: &Answer, trace: &Trace) -> &'static str {
    match &answer.outcome {
        Outcome::Generated { .. } if trace.cache_hit => "cached",
        Outcome::Generated { .. } => "generated",
        _ if trace.provider == "offline" => "offline",
        Outcome::OverBudget { .. } => "over_budget",
        Outcome::BreakerOpen => "breaker_open",
        Outcome::Failed { .. } => "failed",
    }
}

impl Store {
    /// Opens `generations.sqlite` in `state_dir`, creating it or bringing its schema up to
    /// date. A database written by a newer sitegen, or one that is not a database, is an
    /// error and is left as it is.
    pub(crate) fn open(state_dir: &Path) -> Result<Store> {
        std::fs::create_dir_all(state_dir).map_err(|e| Error::io(state_dir, e))?;
        let path = state_dir.join(FILE);
        let fail = |e: rusqlite::Error| Error::Store {
            message: format!(
                "AI results database {}: {e} (it holds paid-for results, so sitegen does not \
                 replace it; move it away to start again)",
                path.display()
            ),
            path: path.clone(),
        };
        let mut db = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(fail)?;
        db.busy_timeout(Duration::from_secs(10)).map_err(fail)?;
        // Checked before any pragma that writes: a newer database is not touched at all.
        let version = user_version(&db).map_err(fail)?;
        check_version(&path, version)?;
        db.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;")
            .map_err(fail)?;
        match migrate(&mut db) {
            Ok(()) => {}
            Err(Migration::Newer(version)) => check_version(&path, version)?,
            Err(Migration::Sqlite(e)) => return Err(fail(e)),
        }
        Ok(Store {
            db: Mutex::new(db),
            path,
        })
    }

    /// The database file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    fn db(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock left no transaction open: rusqlite rolls back on drop.
        self.db.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The cached values of those of `keys` that are in the cache. A value that is not valid
    /// JSON (edited by hand) is a miss, and is generated again.
    pub(crate) fn lookup(
        &self,
        keys: &[&str],
    ) -> rusqlite::Result<HashMap<String, serde_json::Value>> {
        let db = self.db();
        let mut unique: Vec<&str> = keys.to_vec();
        unique.sort_unstable();
        unique.dedup();
        let mut found = HashMap::new();
        for chunk in unique.chunks(LOOKUP_CHUNK) {
            let marks = vec!["?"; chunk.len()].join(",");
            let mut statement = db.prepare_cached(&format!(
                "SELECT key, value FROM results WHERE key IN ({marks})"
            ))?;
            let mut rows = statement.query(rusqlite::params_from_iter(chunk))?;
            while let Some(row) = rows.next()? {
                let key: String = row.get(0)?;
                let text = row.get_ref(1)?;
                let text = text.as_str()?;
                match serde_json::from_str(text) {
                    Ok(value) => {
                        found.insert(key, value);
                    }
                    Err(e) => tracing::warn!("cached result {key} is not JSON ({e}): a miss"),
                }
            }
        }
        Ok(found)
    }

    /// Records the start of a build; returns its id for [`Store::record`].
    pub(crate) fn begin_build(&self, provider: &str, model: &str) -> rusqlite::Result<i64> {
        let db = self.db();
        db.execute(
            "INSERT INTO builds (started_at, provider, model) VALUES (?1, ?2, ?3)",
            params![now_s(), provider, model],
        )?;
        Ok(db.last_insert_rowid())
    }

    /// Records the end of build `build`.
    pub(crate) fn finish_build(&self, build: i64) -> rusqlite::Result<()> {
        self.db().execute(
            "UPDATE builds SET finished_at = ?1 WHERE id = ?2",
            params![now_s(), build],
        )?;
        Ok(())
    }

    /// Records answers of build `build` in one transaction: the value of each one generated
    /// (not a cache hit) into the cache, and a trace of every one. Nothing is written if any
    /// row fails.
    pub(crate) fn record(&self, build: i64, rows: &[(Answer, Trace)]) -> rusqlite::Result<()> {
        let mut db = self.db();
        let tx = db.transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut put_result = tx.prepare_cached(
                "INSERT OR REPLACE INTO results
                 (key, prompt, version, provider, model, value, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            let mut put_trace = tx.prepare_cached(
                "INSERT INTO traces
                 (build, at, page, field, prompt, version, prompt_hash, provider, model,
                  batch_id, tokens_in, tokens_out, cost_usd, latency_ms, cache_hit, retries,
                  outcome, error)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,
                         ?16, ?17, ?18)",
            )?;
            let at = now_ms();
            for (answer, trace) in rows {
                let error = match &answer.outcome {
                    Outcome::Generated { value } => {
                        if !trace.cache_hit {
                            put_result.execute(params![
                                answer.key.as_str(),
                                trace.prompt,
                                trace.version,
                                trace.provider,
                                trace.model,
                                value.to_string(),
                                at / 1000,
                            ])?;
                        }
                        None
                    }
                    Outcome::OverBudget { budget } => Some(budget.as_str()),
                    Outcome::BreakerOpen => None,
                    Outcome::Failed { error } => Some(error.as_str()),
                };
                put_trace.execute(params![
                    build,
                    at,
                    trace.page,
                    trace.field,
                    trace.prompt,
                    trace.version,
                    trace.prompt_hash,
                    trace.provider,
                    trace.model,
                    answer.batch_id,
                    int(answer.tokens_in),
                    int(answer.tokens_out),
                    answer.cost_usd,
                    int(answer.latency_ms),
                    trace.cache_hit,
                    answer.retries,
                    outcome_name(answer, trace),
                    error,
                ])?;
            }
        }
        tx.commit()
    }

    /// Marks fields as pending (page, field, cache key), in one transaction. A field already
    /// pending keeps the time it first fell back.
    pub(crate) fn set_pending(&self, rows: &[(String, String, String)]) -> rusqlite::Result<()> {
        let mut db = self.db();
        let tx = db.transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut put = tx.prepare_cached(
                "INSERT INTO pending (page, field, key, since) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (page, field) DO UPDATE SET key = excluded.key",
            )?;
            let since = now_s();
            for (page, field, key) in rows {
                put.execute(params![page, field, key, since])?;
            }
        }
        tx.commit()
    }

    /// Clears pending fields (page, field), in one transaction.
    pub(crate) fn clear_pending(&self, rows: &[(String, String)]) -> rusqlite::Result<()> {
        let mut db = self.db();
        let tx = db.transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut delete =
                tx.prepare_cached("DELETE FROM pending WHERE page = ?1 AND field = ?2")?;
            for (page, field) in rows {
                delete.execute(params![page, field])?;
            }
        }
        tx.commit()
    }

    /// The pages with a pending field.
    #[cfg(test)]
    pub(crate) fn pending(&self) -> rusqlite::Result<HashSet<String>> {
        let db = self.db();
        let mut statement = db.prepare_cached("SELECT DISTINCT page FROM pending")?;
        statement.query_map([], |row| row.get(0))?.collect()
    }

    /// Sums up the traces of `range`.
    pub(crate) fn stats(&self, range: Range) -> rusqlite::Result<Stats> {
        let db = self.db();
        let (filter, builds_sql, bound): (&str, &str, i64) = match range {
            Range::LastBuild => (
                "build = (SELECT max(id) FROM builds) AND ?1 = ?1",
                "SELECT count(*) FROM (SELECT 1 FROM builds WHERE ?1 = ?1 LIMIT 1)",
                0,
            ),
            Range::Since(since) => (
                "at >= ?1 * 1000",
                "SELECT count(*) FROM builds WHERE started_at >= ?1",
                since,
            ),
            Range::All => ("?1 = ?1", "SELECT count(*) FROM builds WHERE ?1 = ?1", 0),
        };
        let mut stats = Stats {
            builds: db
                .query_row(builds_sql, [bound], |row| row.get::<_, i64>(0))
                .map(|n| u64::try_from(n).unwrap_or(0))?,
            ..Stats::default()
        };
        let mut statement = db.prepare(&format!(
            "SELECT build, model, prompt, version, batch_id, cache_hit, outcome, tokens_in,
                    tokens_out, cost_usd, latency_ms
             FROM traces WHERE {filter}"
        ))?;
        let mut rows = statement.query([bound])?;
        let mut latencies = Vec::new();
        let mut batches: HashSet<(i64, String)> = HashSet::new();
        let mut model_batches: HashSet<(String, i64, String)> = HashSet::new();
        let mut prompt_batches: HashSet<(String, i64, String)> = HashSet::new();
        let mut hits = 0u64;
        while let Some(row) = rows.next()? {
            let build: i64 = row.get(0)?;
            let model: String = row.get(1)?;
            let prompt = format!("{}@{}", row.get_ref(2)?.as_str()?, row.get::<_, i64>(3)?);
            let batch: Option<String> = row.get(4)?;
            let cache_hit: bool = row.get(5)?;
            let outcome = row.get_ref(6)?.as_str()?;
            let count = |i: usize| -> rusqlite::Result<u64> {
                Ok(u64::try_from(row.get::<_, i64>(i)?).unwrap_or(0))
            };
            let (tokens_in, tokens_out) = (count(7)?, count(8)?);
            let cost: f64 = row.get(9)?;
            let latency = count(10)?;
            let sent = !cache_hit && matches!(outcome, "generated" | "failed");
            // A job is a request of its own unless batched; a batch is one request.
            let new_request = |seen: &mut HashSet<(String, i64, String)>, group: &str| {
                sent && match &batch {
                    None => true,
                    Some(id) => seen.insert((group.to_owned(), build, id.clone())),
                }
            };
            let model_request = new_request(&mut model_batches, &model);
            let prompt_request = new_request(&mut prompt_batches, &prompt);
            let request = sent
                && match &batch {
                    None => true,
                    Some(id) => batches.insert((build, id.clone())),
                };
            stats.jobs += 1;
            stats.requests += u64::from(request);
            hits += u64::from(cache_hit);
            stats.tokens_in += tokens_in;
            stats.tokens_out += tokens_out;
            stats.cost_usd += cost;
            if sent {
                latencies.push(latency);
            }
            match outcome {
                "generated" | "cached" => {}
                "failed" => {
                    stats.fallbacks += 1;
                    stats.failures += 1;
                }
                _ => stats.fallbacks += 1,
            }
            for (group, request) in [
                (stats.by_model.entry(model).or_default(), model_request),
                (stats.by_prompt.entry(prompt).or_default(), prompt_request),
            ] {
                group.jobs += 1;
                group.requests += u64::from(request);
                group.cache_hits += u64::from(cache_hit);
                group.tokens_in += tokens_in;
                group.tokens_out += tokens_out;
                group.cost_usd += cost;
            }
        }
        if stats.jobs > 0 {
            stats.cache_hit_rate = hits as f64 / stats.jobs as f64;
        }
        latencies.sort_unstable();
        stats.latency_ms = Latency {
            p50: percentile(&latencies, 50),
            p95: percentile(&latencies, 95),
            p99: percentile(&latencies, 99),
        };
        Ok(stats)
    }
}

/// The nearest-rank percentile `p` of `sorted` (0 when empty).
fn percentile(sorted: &[u64], p: usize) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted[rank.min(sorted.len()) - 1]
}

fn user_version(db: &Connection) -> rusqlite::Result<usize> {
    let version: i64 = db.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    Ok(usize::try_from(version).unwrap_or(usize::MAX))
}

fn check_version(path: &Path, version: usize) -> Result<()> {
    if version > MIGRATIONS.len() {
        return Err(Error::Store {
            message: format!(
                "AI results database {} has schema version {version}, newer than this sitegen \
                 knows ({}): it was written by a newer sitegen; upgrade sitegen to use it (it \
                 was left untouched)",
                path.display(),
                MIGRATIONS.len()
            ),
            path: path.to_path_buf(),
        });
    }
    Ok(())
}

enum Migration {
    Newer(usize),
    Sqlite(rusqlite::Error),
}

impl From<rusqlite::Error> for Migration {
    fn from(e: rusqlite::Error) -> Self {
        Self::Sqlite(e)
    }
}

/// Applies the missing steps of [`MIGRATIONS`], each in a transaction with its new
/// `user_version`. The version is read again under the write lock, so two processes opening
/// the database at once apply each step once.
fn migrate(db: &mut Connection) -> std::result::Result<(), Migration> {
    loop {
        let tx = db.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version = user_version(&tx)?;
        if version > MIGRATIONS.len() {
            return Err(Migration::Newer(version));
        }
        let Some(step) = MIGRATIONS.get(version) else {
            return Ok(());
        };
        tx.execute_batch(step)?;
        tx.pragma_update(None, "user_version", version + 1)?;
        tx.commit()?;
    }
}

#[cfg(test)]
mod tests {
    use super::{FILE, MIGRATIONS, Range, Store, Trace, percentile};
    use crate::generate::{Answer, Outcome};
    use serde_json::json;

    fn answer(key: &str, outcome: Outcome) -> Answer {
        Answer::unsent(&key.into(), outcome)
    }

    fn trace(page: &str, prompt: &str, model: &str) -> Trace {
        Trace {
            page: page.to_owned(),
            field: "summary".to_owned(),
            prompt: prompt.to_owned(),
            version: 1,
            prompt_hash: "h".to_owned(),
            provider: "main".to_owned(),
            model: model.to_owned(),
            cache_hit: false,
        }
    }

    fn generated(key: &str, value: serde_json::Value) -> Answer {
        answer(key, Outcome::Generated { value })
    }

    fn count(path: &std::path::Path, sql: &str) -> i64 {
        let db = rusqlite::Connection::open(path.join(FILE)).unwrap();
        db.query_row(sql, [], |row| row.get(0)).unwrap()
    }

    #[test]
    fn results_round_trip_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let build = store.begin_build("main", "m1").unwrap();
        let mut hit = trace("b.md", "p", "m1");
        hit.cache_hit = true;
        store
            .record(
                build,
                &[
                    (generated("k1", json!("hello")), trace("a.md", "p", "m1")),
                    (
                        generated("k2", json!({"a": [1, 2]})),
                        trace("a.md", "q", "m1"),
                    ),
                    (generated("k3", json!("from cache")), hit),
                    (
                        answer(
                            "k4",
                            Outcome::Failed {
                                error: "timeout".into(),
                            },
                        ),
                        trace("c.md", "p", "m1"),
                    ),
                ],
            )
            .unwrap();
        store.finish_build(build).unwrap();
        let found = store.lookup(&["k1", "k2", "k3", "k4", "k1"]).unwrap();
        assert_eq!(found.len(), 2, "cache hits and failures write no result");
        assert_eq!(found["k1"], json!("hello"));
        assert_eq!(found["k2"], json!({"a": [1, 2]}));
        drop(store);

        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.lookup(&["k2"]).unwrap()["k2"], json!({"a": [1, 2]}));
        let keys: Vec<String> = (0..1200).map(|i| format!("x{i}")).collect();
        let mut asked: Vec<&str> = keys.iter().map(String::as_str).collect();
        asked.push("k1");
        assert_eq!(store.lookup(&asked).unwrap().len(), 1, "chunked IN lists");
        assert_eq!(count(dir.path(), "SELECT count(*) FROM traces"), 4);
        assert_eq!(
            count(
                dir.path(),
                "SELECT count(*) FROM traces WHERE outcome = 'cached' AND cache_hit = 1"
            ),
            1
        );
        assert_eq!(
            count(
                dir.path(),
                "SELECT count(*) FROM builds WHERE finished_at IS NOT NULL"
            ),
            1
        );
        assert_eq!(
            count(dir.path(), "PRAGMA user_version"),
            i64::try_from(MIGRATIONS.len()).unwrap()
        );
    }

    #[test]
    fn record_is_one_transaction() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let build = store.begin_build("main", "m").unwrap();
        // Another connection (a user with sqlite3) makes the insert of one trace fail.
        rusqlite::Connection::open(dir.path().join(FILE))
            .unwrap()
            .execute_batch(
                "CREATE TRIGGER boom BEFORE INSERT ON traces WHEN NEW.page = 'boom.md'
                 BEGIN SELECT RAISE(ABORT, 'boom'); END;",
            )
            .unwrap();
        let rows = vec![
            (generated("good", json!("kept?")), trace("a.md", "p", "m")),
            (generated("bad", json!("no")), trace("boom.md", "p", "m")),
        ];
        assert!(store.record(build, &rows).is_err());
        assert!(store.lookup(&["good", "bad"]).unwrap().is_empty());
        assert_eq!(count(dir.path(), "SELECT count(*) FROM traces"), 0);
        // The store is usable after the rollback.
        store.record(build, &rows[..1]).unwrap();
        assert_eq!(store.lookup(&["good"]).unwrap().len(), 1);
    }

    #[test]
    fn ten_thousand_traces_are_recorded_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let build = store.begin_build("main", "m").unwrap();
        let rows: Vec<_> = (0..10_000)
            .map(|i| {
                (
                    generated(&format!("k{i}"), json!(format!("value {i}"))),
                    trace(&format!("p{i}.md"), "p", "m"),
                )
            })
            .collect();
        store.record(build, &rows).unwrap();
        assert_eq!(count(dir.path(), "SELECT count(*) FROM results"), 10_000);
        assert_eq!(count(dir.path(), "SELECT count(*) FROM traces"), 10_000);
    }

    #[test]
    fn pending_fields_are_set_and_cleared() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let s = |a: &str, b: &str, c: &str| (a.to_owned(), b.to_owned(), c.to_owned());
        store
            .set_pending(&[
                s("a.md", "title", "k1"),
                s("a.md", "body", "k2"),
                s("b.md", "title", "k3"),
            ])
            .unwrap();
        store.set_pending(&[s("a.md", "title", "k9")]).unwrap();
        assert_eq!(count(dir.path(), "SELECT count(*) FROM pending"), 3);
        assert_eq!(
            count(dir.path(), "SELECT count(*) FROM pending WHERE key = 'k9'"),
            1,
            "upserted"
        );
        let pages = store.pending().unwrap();
        assert_eq!(pages.len(), 2);
        assert!(pages.contains("a.md") && pages.contains("b.md"));
        store
            .clear_pending(&[
                ("a.md".into(), "title".into()),
                ("b.md".into(), "title".into()),
            ])
            .unwrap();
        assert_eq!(
            store.pending().unwrap().into_iter().collect::<Vec<_>>(),
            ["a.md"]
        );
        store
            .clear_pending(&[("a.md".into(), "body".into())])
            .unwrap();
        assert!(store.pending().unwrap().is_empty());
    }

    #[test]
    fn stats_sum_up_a_known_set_of_traces() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let old = store.begin_build("main", "m1").unwrap();
        store
            .record(
                old,
                &[(generated("old", json!("x")), trace("o.md", "p", "m1"))],
            )
            .unwrap();
        let build = store.begin_build("main", "m1").unwrap();
        let mut rows = Vec::new();
        // 100 jobs of prompt p on m1, sent alone, latencies 1..=100 ms, 10 tokens in, 5 out.
        for i in 1..=100u64 {
            let mut a = generated(&format!("a{i}"), json!("v"));
            a.latency_ms = i;
            a.tokens_in = 10;
            a.tokens_out = 5;
            a.cost_usd = 0.01;
            rows.push((a, trace("a.md", "p", "m1")));
        }
        // 4 jobs of prompt q on m2 in two batches of 2.
        for i in 0..4u64 {
            let mut a = generated(&format!("b{i}"), json!("v"));
            a.batch_id = Some(format!("b-{}", i / 2));
            a.latency_ms = 1000;
            rows.push((a, trace("b.md", "q", "m2")));
        }
        // 2 cache hits of p on m1, one failure, one over budget, one offline.
        for i in 0..2 {
            let mut t = trace("c.md", "p", "m1");
            t.cache_hit = true;
            rows.push((generated(&format!("c{i}"), json!("v")), t));
        }
        let mut failed = answer(
            "f",
            Outcome::Failed {
                error: "bad".into(),
            },
        );
        failed.latency_ms = 5000;
        rows.push((failed, trace("f.md", "q", "m2")));
        rows.push((
            answer(
                "o",
                Outcome::OverBudget {
                    budget: "class x".into(),
                },
            ),
            trace("g.md", "q", "m2"),
        ));
        let mut offline = trace("h.md", "p", "m1");
        offline.provider = "offline".into();
        rows.push((answer("h", Outcome::BreakerOpen), offline));
        store.record(build, &rows).unwrap();

        let stats = store.stats(Range::LastBuild).unwrap();
        assert_eq!(stats.builds, 1);
        assert_eq!(stats.jobs, 109);
        assert_eq!(stats.requests, 100 + 2 + 1);
        assert!((stats.cache_hit_rate - 2.0 / 109.0).abs() < 1e-9);
        assert_eq!((stats.tokens_in, stats.tokens_out), (1000, 500));
        assert!((stats.cost_usd - 1.0).abs() < 1e-9);
        // 105 sent: latencies 1..=100, 4 × 1000, 5000.
        assert_eq!(stats.latency_ms.p50, 53);
        assert_eq!(stats.latency_ms.p95, 100);
        assert_eq!(stats.latency_ms.p99, 1000);
        assert_eq!((stats.fallbacks, stats.failures), (3, 1));
        let m1 = &stats.by_model["m1"];
        assert_eq!((m1.jobs, m1.requests, m1.cache_hits), (103, 100, 2));
        let m2 = &stats.by_model["m2"];
        assert_eq!((m2.jobs, m2.requests, m2.cache_hits), (6, 3, 0));
        assert_eq!(stats.by_prompt.keys().collect::<Vec<_>>(), ["p@1", "q@1"]);
        assert_eq!(stats.by_prompt["q@1"].requests, 3);
        assert_eq!(stats.by_prompt["p@1"].tokens_in, 1000);
        assert_eq!(
            count(
                dir.path(),
                "SELECT count(*) FROM traces WHERE outcome = 'offline'"
            ),
            1
        );
        assert_eq!(
            count(
                dir.path(),
                "SELECT count(*) FROM traces WHERE outcome = 'over_budget'"
            ),
            1
        );

        let all = store.stats(Range::All).unwrap();
        assert_eq!((all.builds, all.jobs, all.requests), (2, 110, 104));
        let since = store.stats(Range::Since(0)).unwrap();
        assert_eq!(since.jobs, 110);
        let future = store.stats(Range::Since(i64::from(u32::MAX))).unwrap();
        assert_eq!(
            (future.builds, future.jobs, future.latency_ms.p99),
            (0, 0, 0)
        );
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        assert_eq!(percentile(&[], 50), 0);
        assert_eq!(percentile(&[7], 99), 7);
        let v: Vec<u64> = (1..=10).collect();
        assert_eq!(
            (percentile(&v, 50), percentile(&v, 95), percentile(&v, 99)),
            (5, 10, 10)
        );
    }

    #[test]
    fn a_newer_database_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        let newer = MIGRATIONS.len() + 1;
        {
            let db = rusqlite::Connection::open(&path).unwrap();
            db.execute_batch("CREATE TABLE future (x INTEGER)").unwrap();
            db.pragma_update(None, "user_version", newer).unwrap();
        }
        let before = std::fs::read(&path).unwrap();
        let error = Store::open(dir.path()).unwrap_err().to_string();
        assert!(error.contains("newer"), "{error}");
        assert_eq!(std::fs::read(&path).unwrap(), before, "not modified");
        assert_eq!(
            count(
                dir.path(),
                "SELECT count(*) FROM sqlite_master WHERE name = 'results'"
            ),
            0
        );
    }

    #[test]
    fn a_damaged_database_is_an_error_not_a_fresh_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE);
        std::fs::write(&path, b"not a database, but somebody's paid-for results").unwrap();
        assert!(Store::open(dir.path()).is_err());
        assert!(std::fs::read(&path).unwrap().starts_with(b"not a database"));
    }
}
