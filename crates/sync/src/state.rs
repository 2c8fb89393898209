//! What a sync remembers between nights: per user, the values the vendor last confirmed;
//! per run, what it was asked and what came of it.
//!
//! [`StateStore`] is the small interface the engine needs; [`SqliteState`] is its one
//! implementation, a SQLite database in one file (WAL, schema versioned by
//! `PRAGMA user_version`). Its tables are meant to be read with the `sqlite3` shell:
//!
//! | table | one row per |
//! |---|---|
//! | `scopes` | vendor, base URL, what addresses records there (`source=…;type=…`, `type_name=…`, `directory=…`) and the key kind |
//! | `users` | scope and user key: the vendor's id, the mapped fields as last confirmed (`fields`, JSON), a hash of the input row, the last outcome and vendor error code, whether the sync manages the user, timestamps |
//! | `runs` | run: start, end, status, options (JSON), summary (JSON), the run it continues |
//! | `run_rows` | row of a run that did something or failed (unchanged rows are only counted) |
//!
//! No credential is ever stored: a scope names the base URL, not who connected to it.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Map, Value};

/// What went wrong with the state database.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// SQLite refused or failed.
    #[error("state database {path}: {source}")]
    Sqlite {
        /// The database file.
        path: String,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// The file was written by a newer version of this tool.
    #[error(
        "state database {path} has schema version {found}; this version of profiles knows up to {known}: upgrade profiles"
    )]
    NewerSchema {
        /// The database file.
        path: String,
        /// Its schema version.
        found: i64,
        /// The newest this build knows.
        known: i64,
    },
    /// A value read back is not what this tool writes (the file was edited by hand, or is
    /// damaged).
    #[error("state database {path}: {what}")]
    Corrupt {
        /// The database file.
        path: String,
        /// What is wrong.
        what: String,
    },
}

/// Where a sync's records live: one vendor, one base URL, one kind of record there, one
/// kind of key. Two scopes never share a user.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ScopeKey {
    /// The vendor (`sunshine`).
    pub vendor: String,
    /// The base URL the sync talks to.
    pub base_url: String,
    /// What addresses records there: `source=coolbikes;type=rider`, `type_name=user`,
    /// `directory=…`.
    pub name: String,
    /// The kind of key (`email`, `id`, or an attribute's name).
    pub key_kind: String,
}

/// A scope's id in the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ScopeId(pub i64);

/// A run's id in the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub struct RunId(pub i64);

/// What the store knows of one user.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct UserState {
    /// The vendor's id of the profile or record, when known.
    pub vendor_id: Option<String>,
    /// The mapped fields as the vendor last confirmed them, by path (`attributes.x`):
    /// `null` is "known to hold nothing"; a path that is absent is not known.
    pub fields: Map<String, Value>,
    /// The hash of the input row last settled.
    pub row_hash: Option<String>,
    /// The last outcome (`listed`, `updated`, `unchanged`, `failed`, `unknown`).
    pub outcome: String,
    /// The vendor's error code of the last failure.
    pub code: Option<String>,
    /// What the last failure said.
    pub reason: Option<String>,
    /// Whether the last failure may pass.
    pub retryable: bool,
    /// A write was sent and its outcome is not known: read before writing again.
    pub in_doubt: bool,
    /// The sync manages this user: it settled them from an input row (wrote, created or
    /// confirmed them). Only managed users can be leavers.
    pub managed: bool,
}

/// A row's result, as recorded.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Settled {
    /// The vendor confirmed these values (a read, or a write it accepted): they replace
    /// the stored ones for these paths.
    Confirmed {
        /// The vendor's id, when the answer gave one.
        vendor_id: Option<String>,
        /// Path → value.
        fields: Map<String, Value>,
        /// The input row's hash.
        row_hash: String,
        /// `updated` or `unchanged`.
        outcome: &'static str,
        /// The fields written (empty when unchanged).
        written: Vec<String>,
        /// The fields the vendor held otherwise than the state said (a `--verify`).
        drift: Vec<String>,
    },
    /// The vendor refused the row, and nothing was applied.
    Failed {
        /// Why.
        reason: String,
        /// The vendor's code.
        code: Option<String>,
        /// Whether it may pass.
        retryable: bool,
        /// The input row's hash.
        row_hash: String,
    },
    /// A write may or may not have been applied: the user stays in doubt.
    Unknown {
        /// Why.
        reason: String,
    },
    /// The vendor has no such user, and none was created.
    Missing {
        /// Why none was created.
        reason: String,
        /// The input row's hash.
        row_hash: String,
    },
    /// A leaver's action was done: the profile deleted, or the leaver fields written.
    Retired {
        /// Whether the profile was deleted (else the leaver fields were written).
        deleted: bool,
        /// The leaver fields written, path → value.
        fields: Map<String, Value>,
    },
}

/// A user the state manages who is gone from today's input.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Leaver {
    /// The user's key.
    pub key: String,
    /// The vendor's id, when known.
    pub vendor_id: Option<String>,
}

/// A user whose last row did not succeed, as `profiles sync status` lists them.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct DeadLetter {
    /// The scope: vendor, base URL and name.
    pub scope: String,
    /// The user's key.
    pub key: String,
    /// `failed`, `unknown` or `missing`.
    pub outcome: String,
    /// The vendor's code.
    pub code: Option<String>,
    /// What it said.
    pub reason: Option<String>,
    /// Whether the next run tries it again even if its row does not change.
    pub retried: bool,
    /// When.
    pub at: Option<String>,
    /// The input line of its last row.
    pub line: Option<u64>,
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RunEnd {
    /// Every row was seen.
    Finished,
    /// The run stopped before the end, for this reason; the next run goes on.
    Stopped(String),
}

/// A row of a run that did something or failed, as the report lists it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct RunRow {
    /// The run it was recorded by.
    pub run: i64,
    /// The input line.
    pub line: u64,
    /// The key.
    pub key: String,
    /// `updated`, `failed`, `unknown`.
    pub outcome: String,
    /// The vendor's code.
    pub code: Option<String>,
    /// Why it failed, or the fields written, or those that had drifted.
    pub detail: Option<String>,
}

/// The small interface the engine keeps its state through. [`SqliteState`] implements it;
/// another store (a server's database) could.
pub trait StateStore: Send + Sync {
    /// The scope's id, created on first use.
    fn scope(&self, scope: &ScopeKey) -> Result<ScopeId, StateError>;

    /// Whether the scope was ever read in full from the vendor, or written by a run.
    fn has_users(&self, scope: ScopeId) -> Result<bool, StateError>;

    /// Starts a run. When the scope's last run did not finish (killed, stopped), the new
    /// one continues it: its id is returned beside the new one.
    fn begin_run(
        &self,
        scope: ScopeId,
        input: &str,
        options: &Value,
    ) -> Result<(RunId, Option<RunId>), StateError>;

    /// Records the keys of the input, each with its line, before the first row is synced;
    /// answers the keys that appear more than once, each with all its lines (the last
    /// wins).
    fn load_input_keys(
        &self,
        keys: &mut dyn Iterator<Item = (String, u64)>,
    ) -> Result<Vec<(String, Vec<u64>)>, StateError>;

    /// The last line of `key` in the input loaded by
    /// [`load_input_keys`](Self::load_input_keys), if any.
    fn last_line(&self, key: &str) -> Result<Option<u64>, StateError>;

    /// What the store knows of one user.
    fn user(&self, scope: ScopeId, key: &str) -> Result<Option<UserState>, StateError>;

    /// Stores what a bulk read of the vendor found, for the given paths (a user not in the
    /// store is added, not managed by the sync).
    fn listed(
        &self,
        scope: ScopeId,
        users: &[(String, Option<String>, Map<String, Value>)],
    ) -> Result<(), StateError>;

    /// Marks a user in doubt before a write is sent, durably: if the process dies before
    /// the answer, the next run reads the user before writing again.
    fn intend(&self, scope: ScopeId, run: RunId, key: &str) -> Result<(), StateError>;

    /// Records a row's result.
    fn settle(
        &self,
        scope: ScopeId,
        run: RunId,
        line: u64,
        key: &str,
        settled: &Settled,
    ) -> Result<(), StateError>;

    /// The users of `scope` the sync manages (it settled them from an input row) who are
    /// not in the input loaded by [`load_input_keys`](Self::load_input_keys) and not
    /// retired yet; and how many users it manages in all.
    fn leavers(&self, scope: ScopeId) -> Result<(Vec<Leaver>, u64), StateError>;

    /// Every user, of every scope, whose last row failed, is unknown or missing.
    fn dead_letters(&self) -> Result<Vec<DeadLetter>, StateError>;

    /// Ends a run with its summary.
    fn end_run(&self, run: RunId, end: &RunEnd, summary: &Value) -> Result<(), StateError>;

    /// The runs a report covers: `run` and the interrupted runs it continues, oldest
    /// first.
    fn run_chain(&self, run: RunId) -> Result<Vec<RunId>, StateError>;

    /// The rows recorded by the runs of a chain that did something or failed, the latest
    /// per key.
    fn run_rows(&self, runs: &[RunId]) -> Result<Vec<RunRow>, StateError>;
}

/// The schema, one migration per version: version N is the first N entries applied.
const MIGRATIONS: &[&str] = &[
    // 1: scopes, users, runs and their rows.
    "CREATE TABLE scopes (
        id INTEGER PRIMARY KEY,
        vendor TEXT NOT NULL,
        base_url TEXT NOT NULL,
        name TEXT NOT NULL,
        key_kind TEXT NOT NULL,
        created_at TEXT NOT NULL,
        UNIQUE (vendor, base_url, name, key_kind)
    );
    CREATE TABLE users (
        scope_id INTEGER NOT NULL REFERENCES scopes(id),
        key TEXT NOT NULL,
        vendor_id TEXT,
        fields TEXT NOT NULL DEFAULT '{}',
        row_hash TEXT,
        outcome TEXT NOT NULL,
        code TEXT,
        reason TEXT,
        retryable INTEGER NOT NULL DEFAULT 0,
        in_doubt INTEGER NOT NULL DEFAULT 0,
        managed INTEGER NOT NULL DEFAULT 0,
        last_run INTEGER,
        last_line INTEGER,
        confirmed_at TEXT,
        changed_at TEXT,
        failed_at TEXT,
        PRIMARY KEY (scope_id, key)
    ) WITHOUT ROWID;
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        scope_id INTEGER NOT NULL REFERENCES scopes(id),
        continues INTEGER REFERENCES runs(id),
        started_at TEXT NOT NULL,
        ended_at TEXT,
        status TEXT NOT NULL,
        input TEXT NOT NULL,
        options TEXT NOT NULL,
        summary TEXT,
        stop_reason TEXT
    );
    CREATE TABLE run_rows (
        run_id INTEGER NOT NULL REFERENCES runs(id),
        key TEXT NOT NULL,
        line INTEGER NOT NULL,
        outcome TEXT NOT NULL,
        code TEXT,
        detail TEXT,
        at TEXT NOT NULL,
        PRIMARY KEY (run_id, key)
    ) WITHOUT ROWID;",
];

/// The current time as stored: ISO 8601 in UTC, to the millisecond.
const NOW: &str = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";

/// Records a batch of results at most this long before committing them (a kill loses at
/// most that much, which the next run redoes from the vendor's answers).
const BATCH_TIME: Duration = Duration::from_millis(500);
const BATCH_ROWS: u32 = 512;

struct Inner {
    conn: Connection,
    /// Writes since the last commit, and when the batch began.
    batched: u32,
    since: Instant,
}

/// The state in a SQLite file.
pub struct SqliteState {
    path: String,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for SqliteState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteState")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteState {
    /// Opens the database at `path`, creating it (and bringing its schema up to date) as
    /// needed.
    pub fn open(path: &Path) -> Result<Self, StateError> {
        let name = path.display().to_string();
        let sqlite = |source| StateError::Sqlite {
            path: name.clone(),
            source,
        };
        let conn = Connection::open(path).map_err(sqlite)?;
        conn.busy_timeout(Duration::from_secs(10)).map_err(sqlite)?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;
             PRAGMA foreign_keys = ON;
             PRAGMA temp_store = FILE;",
        )
        .map_err(sqlite)?;
        migrate(&conn, &name)?;
        conn.execute_batch(
            "CREATE TEMP TABLE input_keys (
                key TEXT PRIMARY KEY,
                line INTEGER NOT NULL
            ) WITHOUT ROWID;",
        )
        .map_err(sqlite)?;
        Ok(Self {
            path: name,
            inner: Mutex::new(Inner {
                conn,
                batched: 0,
                since: Instant::now(),
            }),
        })
    }

    /// The schema version this build writes.
    pub fn schema_version() -> i64 {
        MIGRATIONS.len() as i64
    }

    /// SQLite's `PRAGMA integrity_check`: `ok`, or what is wrong.
    pub fn integrity_check(&self) -> Result<String, StateError> {
        let inner = self.lock();
        inner
            .conn
            .query_row("PRAGMA integrity_check", [], |row| row.get::<_, String>(0))
            .map_err(|e| self.sqlite(e))
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves a connection that is still usable.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn sqlite(&self, source: rusqlite::Error) -> StateError {
        StateError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    fn corrupt(&self, what: impl Into<String>) -> StateError {
        StateError::Corrupt {
            path: self.path.clone(),
            what: what.into(),
        }
    }

    /// Runs `write` inside the open batch, committing when the batch is old or large
    /// enough, or at once when `durable`.
    fn batched<T>(
        &self,
        durable: bool,
        write: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StateError> {
        let mut inner = self.lock();
        if inner.conn.is_autocommit() {
            inner
                .conn
                .execute_batch("BEGIN IMMEDIATE")
                .map_err(|e| self.sqlite(e))?;
            inner.batched = 0;
            inner.since = Instant::now();
        }
        let value = write(&inner.conn).map_err(|e| self.sqlite(e))?;
        inner.batched += 1;
        if durable || inner.batched >= BATCH_ROWS || inner.since.elapsed() >= BATCH_TIME {
            inner
                .conn
                .execute_batch("COMMIT")
                .map_err(|e| self.sqlite(e))?;
        }
        Ok(value)
    }

    /// Commits what is batched.
    pub fn flush(&self) -> Result<(), StateError> {
        let inner = self.lock();
        if !inner.conn.is_autocommit() {
            inner
                .conn
                .execute_batch("COMMIT")
                .map_err(|e| self.sqlite(e))?;
        }
        Ok(())
    }
}

fn migrate(conn: &Connection, path: &str) -> Result<(), StateError> {
    let sqlite = |source| StateError::Sqlite {
        path: path.to_owned(),
        source,
    };
    let found: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(sqlite)?;
    let known = MIGRATIONS.len() as i64;
    if found > known {
        return Err(StateError::NewerSchema {
            path: path.to_owned(),
            found,
            known,
        });
    }
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(found.max(0) as usize) {
        let version = index as i64 + 1;
        conn.execute_batch(&format!(
            "BEGIN IMMEDIATE; {migration}; PRAGMA user_version = {version}; COMMIT;"
        ))
        .map_err(|source| {
            let _ = conn.execute_batch("ROLLBACK");
            sqlite(source)
        })?;
    }
    Ok(())
}

fn fields_json(fields: &Map<String, Value>) -> String {
    encode_fields(fields)
}

/// The text a user's confirmed fields are stored as (a JSON object, path → value).
pub fn encode_fields(fields: &Map<String, Value>) -> String {
    Value::Object(fields.clone()).to_string()
}

/// A stored `fields` value read back: the object, or `None` when the text is not one (a
/// file edited by hand, or damaged).
pub fn decode_fields(text: &str) -> Option<Map<String, Value>> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(fields)) => Some(fields),
        _ => None,
    }
}

impl StateStore for SqliteState {
    fn scope(&self, scope: &ScopeKey) -> Result<ScopeId, StateError> {
        self.flush()?;
        let inner = self.lock();
        inner
            .conn
            .execute(
                &format!(
                    "INSERT INTO scopes (vendor, base_url, name, key_kind, created_at)
                     VALUES (?1, ?2, ?3, ?4, {NOW})
                     ON CONFLICT (vendor, base_url, name, key_kind) DO NOTHING"
                ),
                params![scope.vendor, scope.base_url, scope.name, scope.key_kind],
            )
            .map_err(|e| self.sqlite(e))?;
        inner
            .conn
            .query_row(
                "SELECT id FROM scopes WHERE vendor = ?1 AND base_url = ?2 AND name = ?3 AND key_kind = ?4",
                params![scope.vendor, scope.base_url, scope.name, scope.key_kind],
                |row| row.get(0),
            )
            .map(ScopeId)
            .map_err(|e| self.sqlite(e))
    }

    fn has_users(&self, scope: ScopeId) -> Result<bool, StateError> {
        let inner = self.lock();
        inner
            .conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM users WHERE scope_id = ?1)",
                [scope.0],
                |row| row.get(0),
            )
            .map_err(|e| self.sqlite(e))
    }

    fn begin_run(
        &self,
        scope: ScopeId,
        input: &str,
        options: &Value,
    ) -> Result<(RunId, Option<RunId>), StateError> {
        self.flush()?;
        let inner = self.lock();
        let unfinished: Option<i64> = inner
            .conn
            .query_row(
                "SELECT id FROM runs WHERE scope_id = ?1 AND status <> 'finished'
                 AND id = (SELECT max(id) FROM runs WHERE scope_id = ?1)",
                [scope.0],
                |row| row.get(0),
            )
            .optional()
            .map_err(|e| self.sqlite(e))?;
        inner
            .conn
            .execute(
                &format!(
                    "INSERT INTO runs (scope_id, continues, started_at, status, input, options)
                     VALUES (?1, ?2, {NOW}, 'running', ?3, ?4)"
                ),
                params![scope.0, unfinished, input, options.to_string()],
            )
            .map_err(|e| self.sqlite(e))?;
        Ok((RunId(inner.conn.last_insert_rowid()), unfinished.map(RunId)))
    }

    fn load_input_keys(
        &self,
        keys: &mut dyn Iterator<Item = (String, u64)>,
    ) -> Result<Vec<(String, Vec<u64>)>, StateError> {
        self.flush()?;
        let inner = self.lock();
        let conn = &inner.conn;
        let result = (|| {
            conn.execute_batch("DELETE FROM temp.input_keys; BEGIN")?;
            let mut duplicates: Vec<(String, Vec<u64>)> = Vec::new();
            let mut index: std::collections::HashMap<String, usize> = Default::default();
            {
                let mut insert = conn.prepare(
                    "INSERT INTO temp.input_keys (key, line) VALUES (?1, ?2)
                     ON CONFLICT (key) DO UPDATE SET line = excluded.line",
                )?;
                let mut earlier =
                    conn.prepare_cached("SELECT line FROM temp.input_keys WHERE key = ?1")?;
                for (key, line) in keys {
                    let before: Option<i64> =
                        earlier.query_row([&key], |row| row.get(0)).optional()?;
                    insert.execute(params![key, line as i64])?;
                    if let Some(before) = before {
                        match index.get(&key) {
                            Some(&at) => duplicates[at].1.push(line),
                            None => {
                                index.insert(key.clone(), duplicates.len());
                                duplicates.push((key, vec![before as u64, line]));
                            }
                        }
                    }
                }
            }
            conn.execute_batch("COMMIT")?;
            Ok(duplicates)
        })();
        result.map_err(|e: rusqlite::Error| {
            let _ = conn.execute_batch("ROLLBACK");
            self.sqlite(e)
        })
    }

    fn last_line(&self, key: &str) -> Result<Option<u64>, StateError> {
        let inner = self.lock();
        let mut select = inner
            .conn
            .prepare_cached("SELECT line FROM temp.input_keys WHERE key = ?1")
            .map_err(|e| self.sqlite(e))?;
        select
            .query_row([key], |row| row.get::<_, i64>(0))
            .optional()
            .map(|line| line.map(|l| l as u64))
            .map_err(|e| self.sqlite(e))
    }

    fn user(&self, scope: ScopeId, key: &str) -> Result<Option<UserState>, StateError> {
        let inner = self.lock();
        let mut select = inner
            .conn
            .prepare_cached(
                "SELECT vendor_id, fields, row_hash, outcome, code, retryable, in_doubt, managed,
                    reason
                 FROM users WHERE scope_id = ?1 AND key = ?2",
            )
            .map_err(|e| self.sqlite(e))?;
        let row = select
            .query_row(params![scope.0, key], |row| {
                Ok((
                    row.get::<_, Option<String>>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, Option<String>>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, Option<String>>(4)?,
                    row.get::<_, bool>(5)?,
                    row.get::<_, bool>(6)?,
                    row.get::<_, bool>(7)?,
                    row.get::<_, Option<String>>(8)?,
                ))
            })
            .optional()
            .map_err(|e| self.sqlite(e))?;
        let Some((
            vendor_id,
            fields,
            row_hash,
            outcome,
            code,
            retryable,
            in_doubt,
            written,
            reason,
        )) = row
        else {
            return Ok(None);
        };
        let fields = match decode_fields(&fields) {
            Some(fields) => fields,
            None => {
                return Err(self.corrupt(format!("the fields of user {key} are not a JSON object")));
            }
        };
        Ok(Some(UserState {
            vendor_id,
            fields,
            row_hash,
            outcome,
            code,
            reason,
            retryable,
            in_doubt,
            managed: written,
        }))
    }

    fn listed(
        &self,
        scope: ScopeId,
        users: &[(String, Option<String>, Map<String, Value>)],
    ) -> Result<(), StateError> {
        self.batched(false, |conn| {
            let mut select =
                conn.prepare_cached("SELECT fields FROM users WHERE scope_id = ?1 AND key = ?2")?;
            let mut upsert = conn.prepare_cached(&format!(
                "INSERT INTO users (scope_id, key, vendor_id, fields, outcome, confirmed_at)
                 VALUES (?1, ?2, ?3, ?4, 'listed', {NOW})
                 ON CONFLICT (scope_id, key) DO UPDATE SET
                    vendor_id = coalesce(excluded.vendor_id, vendor_id),
                    fields = excluded.fields, confirmed_at = excluded.confirmed_at"
            ))?;
            for (key, vendor_id, fields) in users {
                let mut merged = match select
                    .query_row(params![scope.0, key], |row| row.get::<_, String>(0))
                    .optional()?
                    .map(|text| serde_json::from_str::<Value>(&text))
                {
                    Some(Ok(Value::Object(stored))) => stored,
                    _ => Map::new(),
                };
                for (path, value) in fields {
                    merged.insert(path.clone(), value.clone());
                }
                upsert.execute(params![scope.0, key, vendor_id, fields_json(&merged)])?;
            }
            Ok(())
        })
    }

    fn intend(&self, scope: ScopeId, run: RunId, key: &str) -> Result<(), StateError> {
        self.batched(true, |conn| {
            conn.prepare_cached(
                "INSERT INTO users (scope_id, key, outcome, in_doubt, last_run)
                 VALUES (?1, ?2, 'sending', 1, ?3)
                 ON CONFLICT (scope_id, key) DO UPDATE SET in_doubt = 1, last_run = ?3",
            )?
            .execute(params![scope.0, key, run.0])
            .map(drop)
        })
    }

    fn settle(
        &self,
        scope: ScopeId,
        run: RunId,
        line: u64,
        key: &str,
        settled: &Settled,
    ) -> Result<(), StateError> {
        let line = line as i64;
        let mut stored: Option<Map<String, Value>> = None;
        if let Settled::Confirmed { fields, .. } | Settled::Retired { fields, .. } = settled {
            let mut merged = self
                .user(scope, key)?
                .map(|user| user.fields)
                .unwrap_or_default();
            for (path, value) in fields {
                merged.insert(path.clone(), value.clone());
            }
            stored = Some(merged);
        }
        // A write's or a failure's record is committed at once (the report of a run killed
        // later still has it); an unchanged row's may wait for the batch.
        let durable = match settled {
            Settled::Confirmed { written, .. } => !written.is_empty(),
            _ => true,
        };
        self.batched(durable, |conn| {
            let mut row = conn.prepare_cached(&format!(
                "INSERT INTO run_rows (run_id, key, line, outcome, code, detail, at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, {NOW})
                 ON CONFLICT (run_id, key) DO UPDATE SET line = excluded.line,
                    outcome = excluded.outcome, code = excluded.code,
                    detail = excluded.detail, at = excluded.at"
            ))?;
            match settled {
                Settled::Confirmed {
                    vendor_id,
                    row_hash,
                    outcome,
                    written,
                    drift,
                    ..
                } => {
                    let changed = !written.is_empty();
                    conn.prepare_cached(&format!(
                        "INSERT INTO users (scope_id, key, vendor_id, fields, row_hash, outcome,
                            managed, last_run, last_line, confirmed_at, changed_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, {NOW},
                            CASE WHEN ?10 THEN {NOW} END)
                         ON CONFLICT (scope_id, key) DO UPDATE SET
                            vendor_id = coalesce(excluded.vendor_id, vendor_id),
                            fields = excluded.fields, row_hash = excluded.row_hash,
                            outcome = excluded.outcome, code = NULL, reason = NULL,
                            retryable = 0, in_doubt = 0, managed = managed OR excluded.managed,
                            last_run = excluded.last_run, last_line = excluded.last_line,
                            confirmed_at = excluded.confirmed_at,
                            changed_at = coalesce(excluded.changed_at, changed_at)"
                    ))?
                    .execute(params![
                        scope.0,
                        key,
                        vendor_id,
                        fields_json(stored.as_ref().unwrap_or(&Map::new())),
                        row_hash,
                        outcome,
                        true,
                        run.0,
                        line,
                        changed
                    ])?;
                    let detail = match (changed, drift.is_empty()) {
                        (true, true) => Some(written.join(", ")),
                        (true, false) => Some(format!(
                            "wrote {}; drift: {}",
                            written.join(", "),
                            drift.join(", ")
                        )),
                        (false, false) => Some(format!("drift: {}", drift.join(", "))),
                        (false, true) => None,
                    };
                    if let Some(detail) = detail {
                        let outcome = match (changed, drift.is_empty()) {
                            (true, true) if *outcome == "created" => "created",
                            (true, true) => "updated",
                            (true, false) => "corrected",
                            _ => "drift",
                        };
                        row.execute(params![run.0, key, line, outcome, None::<String>, detail])?;
                    }
                }
                Settled::Missing { reason, row_hash } => {
                    conn.prepare_cached(&format!(
                        "INSERT INTO users (scope_id, key, row_hash, outcome, reason, last_run,
                            last_line, failed_at)
                         VALUES (?1, ?2, ?3, 'missing', ?4, ?5, ?6, {NOW})
                         ON CONFLICT (scope_id, key) DO UPDATE SET
                            row_hash = excluded.row_hash, outcome = 'missing', code = NULL,
                            reason = excluded.reason, retryable = 0, in_doubt = 0,
                            last_run = excluded.last_run, last_line = excluded.last_line,
                            failed_at = excluded.failed_at"
                    ))?
                    .execute(params![scope.0, key, row_hash, reason, run.0, line])?;
                    row.execute(params![run.0, key, line, "missing", None::<String>, reason])?;
                }
                Settled::Retired { deleted, fields } => {
                    let outcome = if *deleted { "deleted" } else { "retired" };
                    conn.prepare_cached(&format!(
                        "UPDATE users SET outcome = ?3, in_doubt = 0, code = NULL, reason = NULL,
                            managed = CASE WHEN ?4 THEN 0 ELSE managed END,
                            fields = CASE WHEN ?4 THEN '{{}}' ELSE ?5 END,
                            last_run = ?6, changed_at = {NOW}, confirmed_at = {NOW}
                         WHERE scope_id = ?1 AND key = ?2"
                    ))?
                    .execute(params![
                        scope.0,
                        key,
                        outcome,
                        deleted,
                        fields_json(stored.as_ref().unwrap_or(&Map::new())),
                        run.0
                    ])?;
                    let detail: Vec<&String> = fields.keys().collect();
                    row.execute(params![
                        run.0,
                        key,
                        line,
                        outcome,
                        None::<String>,
                        detail
                            .iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ])?;
                }
                Settled::Failed {
                    reason,
                    code,
                    retryable,
                    row_hash,
                } => {
                    conn.prepare_cached(&format!(
                        "INSERT INTO users (scope_id, key, row_hash, outcome, code, reason,
                            retryable, last_run, last_line, failed_at)
                         VALUES (?1, ?2, ?3, 'failed', ?4, ?5, ?6, ?7, ?8, {NOW})
                         ON CONFLICT (scope_id, key) DO UPDATE SET
                            row_hash = excluded.row_hash, outcome = 'failed', in_doubt = 0,
                            code = excluded.code, reason = excluded.reason,
                            retryable = excluded.retryable, last_run = excluded.last_run,
                            last_line = excluded.last_line, failed_at = excluded.failed_at"
                    ))?
                    .execute(params![
                        scope.0, key, row_hash, code, reason, retryable, run.0, line
                    ])?;
                    row.execute(params![run.0, key, line, "failed", code, reason])?;
                }
                Settled::Unknown { reason } => {
                    conn.prepare_cached(&format!(
                        "INSERT INTO users (scope_id, key, outcome, reason, in_doubt, last_run,
                            last_line, failed_at)
                         VALUES (?1, ?2, 'unknown', ?3, 1, ?4, ?5, {NOW})
                         ON CONFLICT (scope_id, key) DO UPDATE SET outcome = 'unknown',
                            reason = excluded.reason, in_doubt = 1,
                            last_run = excluded.last_run, last_line = excluded.last_line,
                            failed_at = excluded.failed_at"
                    ))?
                    .execute(params![scope.0, key, reason, run.0, line])?;
                    row.execute(params![run.0, key, line, "unknown", None::<String>, reason])?;
                }
            }
            Ok(())
        })
    }

    fn leavers(&self, scope: ScopeId) -> Result<(Vec<Leaver>, u64), StateError> {
        self.flush()?;
        let inner = self.lock();
        let conn = &inner.conn;
        let managed: i64 = conn
            .query_row(
                "SELECT count(*) FROM users WHERE scope_id = ?1 AND managed
                 AND outcome NOT IN ('deleted', 'retired')",
                [scope.0],
                |row| row.get(0),
            )
            .map_err(|e| self.sqlite(e))?;
        let mut select = conn
            .prepare(
                "SELECT key, vendor_id FROM users WHERE scope_id = ?1 AND managed
                 AND outcome NOT IN ('deleted', 'retired')
                 AND key NOT IN (SELECT key FROM temp.input_keys) ORDER BY key",
            )
            .map_err(|e| self.sqlite(e))?;
        let leavers = select
            .query_map([scope.0], |row| {
                Ok(Leaver {
                    key: row.get(0)?,
                    vendor_id: row.get(1)?,
                })
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| self.sqlite(e))?;
        Ok((leavers, managed.max(0) as u64))
    }

    fn dead_letters(&self) -> Result<Vec<DeadLetter>, StateError> {
        self.flush()?;
        let inner = self.lock();
        let mut select = inner
            .conn
            .prepare(
                "SELECT s.vendor || ' ' || s.base_url || ' ' || s.name, u.key, u.outcome, u.code,
                    u.reason, u.retryable, u.in_doubt, u.failed_at, u.last_line
                 FROM users u JOIN scopes s ON s.id = u.scope_id
                 WHERE u.outcome IN ('failed', 'unknown', 'missing', 'sending')
                 ORDER BY u.failed_at DESC, u.key",
            )
            .map_err(|e| self.sqlite(e))?;
        select
            .query_map([], |row| {
                let outcome: String = row.get(2)?;
                let retryable: bool = row.get(5)?;
                let in_doubt: bool = row.get(6)?;
                Ok(DeadLetter {
                    scope: row.get(0)?,
                    key: row.get(1)?,
                    retried: retryable || in_doubt || outcome != "failed",
                    outcome: if outcome == "sending" {
                        "unknown".to_owned()
                    } else {
                        outcome
                    },
                    code: row.get(3)?,
                    reason: row.get(4)?,
                    at: row.get(7)?,
                    line: row.get::<_, Option<i64>>(8)?.map(|l| l.max(0) as u64),
                })
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| self.sqlite(e))
    }

    fn end_run(&self, run: RunId, end: &RunEnd, summary: &Value) -> Result<(), StateError> {
        self.flush()?;
        let (status, reason) = match end {
            RunEnd::Finished => ("finished", None),
            RunEnd::Stopped(reason) => ("stopped", Some(reason.as_str())),
        };
        let inner = self.lock();
        inner
            .conn
            .execute(
                &format!(
                    "UPDATE runs SET ended_at = {NOW}, status = ?2, summary = ?3, stop_reason = ?4
                     WHERE id = ?1"
                ),
                params![run.0, status, summary.to_string(), reason],
            )
            .map(drop)
            .map_err(|e| self.sqlite(e))
    }

    fn run_chain(&self, run: RunId) -> Result<Vec<RunId>, StateError> {
        let inner = self.lock();
        let mut chain = vec![run];
        let mut select = inner
            .conn
            .prepare_cached("SELECT continues FROM runs WHERE id = ?1")
            .map_err(|e| self.sqlite(e))?;
        let mut current = run;
        while let Some(earlier) = select
            .query_row([current.0], |row| row.get::<_, Option<i64>>(0))
            .optional()
            .map_err(|e| self.sqlite(e))?
            .flatten()
        {
            if chain.iter().any(|r| r.0 == earlier) || chain.len() > 10_000 {
                return Err(self.corrupt("the runs' `continues` form a loop"));
            }
            chain.push(RunId(earlier));
            current = RunId(earlier);
        }
        chain.reverse();
        Ok(chain)
    }

    fn run_rows(&self, runs: &[RunId]) -> Result<Vec<RunRow>, StateError> {
        self.flush()?;
        let inner = self.lock();
        let mut select = inner
            .conn
            .prepare_cached(
                "SELECT run_id, line, key, outcome, code, detail FROM run_rows WHERE run_id = ?1
                 ORDER BY line",
            )
            .map_err(|e| self.sqlite(e))?;
        // The latest run's word on a key wins.
        let mut latest: std::collections::BTreeMap<String, RunRow> = Default::default();
        for run in runs {
            let rows = select
                .query_map([run.0], |row| {
                    Ok(RunRow {
                        run: row.get(0)?,
                        line: row.get::<_, i64>(1)?.max(0) as u64,
                        key: row.get(2)?,
                        outcome: row.get(3)?,
                        code: row.get(4)?,
                        detail: row.get(5)?,
                    })
                })
                .map_err(|e| self.sqlite(e))?;
            for row in rows {
                let row = row.map_err(|e| self.sqlite(e))?;
                latest.insert(row.key.clone(), row);
            }
        }
        let mut rows: Vec<RunRow> = latest.into_values().collect();
        rows.sort_by_key(|row| row.line);
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("profile-sync-state-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("state.db")
    }

    fn scope_key() -> ScopeKey {
        ScopeKey {
            vendor: "sunshine".into(),
            base_url: "http://127.0.0.1:1/".into(),
            name: "source=coolbikes;type=rider".into(),
            key_kind: "email".into(),
        }
    }

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn a_new_file_gets_the_schema_and_reopening_keeps_what_was_settled() {
        let path = scratch("reopen");
        {
            let state = SqliteState::open(&path).unwrap();
            let scope = state.scope(&scope_key()).unwrap();
            assert!(!state.has_users(scope).unwrap());
            let (run, continues) = state.begin_run(scope, "in.csv", &json!({})).unwrap();
            assert_eq!(continues, None);
            state.intend(scope, run, "a@x").unwrap();
            state
                .settle(
                    scope,
                    run,
                    2,
                    "a@x",
                    &Settled::Confirmed {
                        vendor_id: Some("p1".into()),
                        fields: object(json!({"name": "A", "attributes.size": null})),
                        row_hash: "h".into(),
                        outcome: "updated",
                        written: vec!["name".into()],
                        drift: vec![],
                    },
                )
                .unwrap();
            state
                .end_run(run, &RunEnd::Finished, &json!({"rows": 1}))
                .unwrap();
        }
        let state = SqliteState::open(&path).unwrap();
        let scope = state.scope(&scope_key()).unwrap();
        let user = state.user(scope, "a@x").unwrap().unwrap();
        assert_eq!(user.vendor_id.as_deref(), Some("p1"));
        assert_eq!(
            user.fields,
            object(json!({"name": "A", "attributes.size": null}))
        );
        assert!(!user.in_doubt && user.managed);
        assert_eq!(user.outcome, "updated");
        assert_eq!(state.integrity_check().unwrap(), "ok");
        // The finished run is not continued.
        let (_, continues) = state.begin_run(scope, "in.csv", &json!({})).unwrap();
        assert_eq!(continues, None);
    }

    #[test]
    fn an_intent_without_an_answer_leaves_the_user_in_doubt_and_the_run_continued() {
        let path = scratch("doubt");
        let state = SqliteState::open(&path).unwrap();
        let scope = state.scope(&scope_key()).unwrap();
        let (first, _) = state.begin_run(scope, "in.csv", &json!({})).unwrap();
        state.intend(scope, first, "a@x").unwrap();
        drop(state);
        let state = SqliteState::open(&path).unwrap();
        let user = state.user(scope, "a@x").unwrap().unwrap();
        assert!(user.in_doubt);
        assert!(user.fields.is_empty());
        let (second, continues) = state.begin_run(scope, "in.csv", &json!({})).unwrap();
        assert_eq!(continues, Some(first));
        assert_eq!(state.run_chain(second).unwrap(), vec![first, second]);
    }

    #[test]
    fn a_failure_keeps_the_confirmed_fields_and_the_latest_row_of_a_chain_is_reported() {
        let path = scratch("failure");
        let state = SqliteState::open(&path).unwrap();
        let scope = state.scope(&scope_key()).unwrap();
        let (first, _) = state.begin_run(scope, "in.csv", &json!({})).unwrap();
        state
            .listed(scope, &[("a@x".into(), None, object(json!({"name": "A"})))])
            .unwrap();
        state
            .settle(
                scope,
                first,
                2,
                "a@x",
                &Settled::Failed {
                    reason: "503".into(),
                    code: Some("unavailable".into()),
                    retryable: true,
                    row_hash: "h".into(),
                },
            )
            .unwrap();
        let user = state.user(scope, "a@x").unwrap().unwrap();
        assert_eq!(user.outcome, "failed");
        assert!(user.retryable);
        assert_eq!(user.fields, object(json!({"name": "A"})));
        let (second, _) = state.begin_run(scope, "in.csv", &json!({})).unwrap();
        state
            .settle(
                scope,
                second,
                2,
                "a@x",
                &Settled::Confirmed {
                    vendor_id: None,
                    fields: object(json!({"name": "B"})),
                    row_hash: "h2".into(),
                    outcome: "updated",
                    written: vec!["name".into()],
                    drift: vec![],
                },
            )
            .unwrap();
        let rows = state.run_rows(&state.run_chain(second).unwrap()).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(
            (rows[0].outcome.as_str(), rows[0].run),
            ("updated", second.0)
        );
    }

    #[test]
    fn duplicate_keys_are_named_with_all_their_lines_and_the_last_wins() {
        let state = SqliteState::open(&scratch("dups")).unwrap();
        let keys = [("a", 2), ("b", 3), ("a", 4), ("c", 5), ("a", 6), ("c", 7)];
        let mut iter = keys.iter().map(|(k, l)| ((*k).to_owned(), *l as u64));
        let duplicates = state.load_input_keys(&mut iter).unwrap();
        assert_eq!(
            duplicates,
            vec![
                ("a".to_owned(), vec![2, 4, 6]),
                ("c".to_owned(), vec![5, 7])
            ]
        );
        assert_eq!(state.last_line("a").unwrap(), Some(6));
        assert_eq!(state.last_line("b").unwrap(), Some(3));
        assert_eq!(state.last_line("z").unwrap(), None);
    }

    #[test]
    fn a_file_from_a_newer_version_is_refused_and_a_damaged_value_is_an_error() {
        let path = scratch("newer");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch("PRAGMA user_version = 99").unwrap();
        }
        assert!(matches!(
            SqliteState::open(&path),
            Err(StateError::NewerSchema { found: 99, .. })
        ));
        let path = scratch("damaged");
        let state = SqliteState::open(&path).unwrap();
        let scope = state.scope(&scope_key()).unwrap();
        state
            .listed(scope, &[("a@x".into(), None, object(json!({"name": "A"})))])
            .unwrap();
        state.flush().unwrap();
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute("UPDATE users SET fields = '[1'", []).unwrap();
        }
        assert!(matches!(
            state.user(scope, "a@x"),
            Err(StateError::Corrupt { .. })
        ));
    }
}
