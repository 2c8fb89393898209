//! The state in one SQLite file (WAL, schema versioned by `PRAGMA user_version`), created
//! private to its owner (0600): it holds every synced person's field values, and never a
//! credential. Its tables are meant to be read with the `sqlite3` shell:
//!
//! | table | one row per |
//! |---|---|
//! | `scopes` | vendor, base URL, what addresses records there (`source=…;type=…`, `type_name=…`, `directory=…`) and the key kind |
//! | `users` | scope and user key: the vendor's id, the mapped fields as last confirmed (`fields`, JSON), a hash of the input row, the last outcome and vendor error code, whether the sync manages the user, timestamps |
//! | `runs` | run: start, end, status, options (JSON), summary (JSON), the run it continues |
//! | `run_rows` | row of a run that did something or failed (unchanged rows are only counted) |
//! | `leases` | scope being synced now: which process holds it, since when |
//! | `input_keys` | key of a running run's input, with its line, when the run has too many to hold in memory or looks for leavers (emptied when the run ends) |
//! | `first_nights` | scope whose first night is under way, its listing held in memory until the run's end (a scope still here after a run killed lists again) |
//!
//! The connection lives on a thread of its own, so the async night never waits on SQLite
//! inside its runtime. The thread takes the calls waiting for it together and commits them
//! as one transaction (each call in a savepoint of its own, so one call's failure undoes
//! that call alone); a call's answer is given only once its transaction is committed.
//!
//! On a scope's first night the users its listing finds are held in memory (at most
//! [`DEFERRED_USERS`]) rather than written: a row's settlement writes its user once, with
//! what the listing found, and the users no row settled are written before anything else
//! reads the users (the leavers, the run's end). A first night killed before its end leaves
//! its scope in `first_nights`, so the next night lists again.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, mpsc};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Map, Value};

use super::held_keys::{self, HeldKeys};
use super::lease::unix_now;
use super::{
    DeadLetter, HeldLease, Known, LeaseHolder, LeaseRecord, Leaver, LeaverHold, ListedUser, RunEnd,
    RunId, RunRecord, RunRow, ScopeId, ScopeKey, ScopeRuns, Settlement, StateError, StateStore,
    UserOutcome, UserState, now,
};

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
    // 2: one writer per scope, and the input's keys kept by run (no connection's own
    // TEMP table: any connection, and a store across a network, sees them the same).
    "CREATE TABLE leases (
        scope_id INTEGER PRIMARY KEY REFERENCES scopes(id),
        token TEXT NOT NULL,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        since TEXT NOT NULL,
        renewed REAL NOT NULL
    );
    CREATE TABLE input_keys (
        run_id INTEGER NOT NULL,
        key TEXT NOT NULL,
        line INTEGER NOT NULL,
        PRIMARY KEY (run_id, key, line)
    ) WITHOUT ROWID;",
    // 3: the leavers the mass-leaver guard holds, until approved and retired.
    "CREATE TABLE leaver_holds (
        scope_id INTEGER PRIMARY KEY REFERENCES scopes(id),
        keys TEXT NOT NULL,
        approved INTEGER NOT NULL,
        held_at TEXT NOT NULL
    );",
    // 4: e-mail keys without regard to case. A key an earlier version kept in capitals is
    // folded; where the folded key is there already, the capitalised one is let go (it is
    // no longer managed, so never a leaver).
    "UPDATE OR IGNORE users SET key = lower(key)
        WHERE key <> lower(key) AND scope_id IN (SELECT id FROM scopes WHERE key_kind = 'email');
     DELETE FROM users
        WHERE key <> lower(key) AND scope_id IN (SELECT id FROM scopes WHERE key_kind = 'email');",
    // 5: the scopes whose first night holds its listing in memory (see `Deferred`): while a
    // scope is here, a run of it has not ended, and the next one lists again.
    "CREATE TABLE first_nights (scope_id INTEGER PRIMARY KEY REFERENCES scopes(id));",
];

/// The most calls committed as one transaction.
const GROUP: usize = 256;

/// A call to the connection's thread: runs inside the open transaction, and answers once
/// it is committed (with the commit's error, if the commit failed).
type Answer = Box<dyn FnOnce(Option<&StateError>) + Send>;
type Job = Box<dyn FnOnce(&Connection, &str) -> (bool, Answer) + Send>;

/// The state in a SQLite file, created private to its owner (0600); its connection lives on
/// a thread of its own, which commits the calls waiting for it as one transaction.
pub struct SqliteState {
    path: String,
    jobs: Option<mpsc::Sender<Job>>,
    worker: Option<std::thread::JoinHandle<()>>,
    /// A first night's listed users not written yet; used on the connection's thread only,
    /// in the order of the calls.
    deferred: Arc<Mutex<Deferred>>,
    /// The running run's input keys while they are few (see [`HeldKeys`]).
    keys: Arc<Mutex<HeldKeys>>,
}

/// Writes a run's input keys to `input_keys` (a key and line given twice, once).
fn write_keys(
    conn: &Connection,
    store: &str,
    run: RunId,
    keys: &[(String, u64)],
) -> Result<(), StateError> {
    let failed = |e| backend(store, "cannot record the input's keys", e);
    let mut insert = conn
        .prepare_cached("INSERT OR IGNORE INTO input_keys (run_id, key, line) VALUES (?1, ?2, ?3)")
        .map_err(failed)?;
    for (key, line) in keys {
        insert
            .execute(params![run.0, key, *line as i64])
            .map_err(failed)?;
    }
    Ok(())
}

/// The most listed users a first night holds in memory; past it, they are written and the
/// rest of the listing is written as it comes.
const DEFERRED_USERS: usize = 50_000;

/// The users a scope's first night listed and no call has written yet. The scope had no user
/// when its night began, so a user the file holds for it was written by this run, and one
/// held here exists nowhere else: a lookup answers from here, a settlement or an intent
/// writes the user once (what the listing found, with what the row did), and any other
/// call first writes those still here.
#[derive(Debug, Default)]
struct Deferred {
    scope: Option<ScopeId>,
    users: HashMap<String, UserState>,
    /// The keys the run has written to the file since its first night began (at most
    /// [`DEFERRED_USERS`]; past that, `None`): a key neither held nor written is in the
    /// file nowhere, and is not read.
    written: Option<std::collections::HashSet<String>>,
    /// The scope whose lease this store's run lost (until the run ends): another run holds
    /// it now and may have written its users since, so what this run lists is not written
    /// (a listing it held was let go), and its end leaves the scope in `first_nights`.
    lease_lost: Option<ScopeId>,
}

impl Deferred {
    /// The users held for `scope`, if its first night holds them.
    fn of(&mut self, scope: ScopeId) -> Option<&mut HashMap<String, UserState>> {
        (self.scope == Some(scope)).then_some(&mut self.users)
    }

    /// Whether the file may hold `key` of `scope` (always, but on a first night).
    fn may_hold(&self, scope: ScopeId, key: &str) -> bool {
        self.scope != Some(scope) || may_have_written(self.written.as_ref(), key)
    }

    /// Notes that the run no longer holds `scope`'s lease, and lets go of its listing
    /// unwritten.
    fn lost_lease(&mut self, scope: ScopeId) {
        self.lease_lost = Some(scope);
        if self.scope == Some(scope) {
            self.scope = None;
            self.users.clear();
            self.written = None;
        }
    }

    /// Notes that the run wrote `key` of `scope` to the file.
    fn wrote(&mut self, scope: ScopeId, key: &str) {
        if self.scope != Some(scope) {
            return;
        }
        if let Some(written) = &mut self.written {
            if written.len() < DEFERRED_USERS {
                written.insert(key.to_owned());
            } else {
                self.written = None;
            }
        }
    }
}

/// How long a call waits for another process's lock on the file.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Puts the file in WAL mode (it stays so). The switch takes the file's lock without
/// waiting for it, so runs opening one new file at the same moment try again until the
/// busy timeout, as every other call waits.
fn use_wal(conn: &Connection) -> rusqlite::Result<()> {
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    loop {
        match conn.query_row("PRAGMA journal_mode = WAL", [], |row| {
            row.get::<_, String>(0)
        }) {
            Err(rusqlite::Error::SqliteFailure(error, _))
                if error.code == rusqlite::ErrorCode::DatabaseBusy
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            other => return other.map(drop),
        }
    }
}

/// Whether a first night whose written keys are `written` (`None`: too many to tell) may
/// have written `key` to the file.
fn may_have_written(written: Option<&std::collections::HashSet<String>>, key: &str) -> bool {
    written.is_none_or(|written| written.contains(key))
}

fn lock(deferred: &Mutex<Deferred>) -> MutexGuard<'_, Deferred> {
    deferred.lock().unwrap_or_else(|p| p.into_inner())
}

/// Writes the users held, and holds none any more.
fn write_deferred(
    conn: &Connection,
    store: &str,
    deferred: &mut Deferred,
) -> Result<(), StateError> {
    let users = std::mem::take(&mut deferred.users);
    deferred.written = None;
    if let Some(scope) = deferred.scope.take() {
        let mut writer = UserWriter::new(conn);
        for (key, user) in &users {
            writer.write(store, scope, key, user)?;
        }
    }
    Ok(())
}

impl std::fmt::Debug for SqliteState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteState")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// A SQLite error: a file that cannot be used as it is (damaged, not a database,
/// read-only, not to be opened) says so in words; anything else is the database failing.
fn backend(store: &str, message: &str, source: rusqlite::Error) -> StateError {
    use rusqlite::ErrorCode;
    let what = match source.sqlite_error_code() {
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => {
            Some("it is damaged, or not a database")
        }
        Some(ErrorCode::ReadOnly) => {
            Some("it is read-only (or its folder is), and every night writes to it")
        }
        Some(ErrorCode::CannotOpen | ErrorCode::PermissionDenied) => Some(
            "it cannot be opened for writing: check that its folder exists and that you may write there",
        ),
        _ => None,
    };
    // A table or column gone (the file edited by hand): its tables are not as profiles
    // made them, said in words rather than in SQL.
    let edited = matches!(&source, rusqlite::Error::SqlInputError { msg, .. } if msg.starts_with("no such"))
        || matches!(&source, rusqlite::Error::SqliteFailure(_, Some(msg)) if msg.starts_with("no such"));
    if edited {
        return StateError::Unusable {
            store: store.to_owned(),
            what: "its tables are not as profiles made them (was it edited by hand?)".to_owned(),
        };
    }
    match what {
        Some(what) => StateError::Unusable {
            store: store.to_owned(),
            what: format!("{what} (SQLite: {source})"),
        },
        None => StateError::Backend {
            store: store.to_owned(),
            message: format!("{message}: {source}"),
            source: Some(Box::new(source)),
        },
    }
}

/// The application id this tool writes in its SQLite files' header ("PROF"), so that
/// another program's database is told from a state.
const APPLICATION_ID: i32 = 0x5052_4F46;

fn describe(path: &str) -> String {
    format!("state database {path}")
}

/// Creates the file private to its owner before SQLite opens it; SQLite gives its -wal
/// and -shm files the same permissions.
fn create_private(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

impl SqliteState {
    /// Opens the database at `path`, creating it (0600; its schema brought up to date) as
    /// needed.
    pub fn open(path: &Path) -> Result<Self, StateError> {
        let name = path.display().to_string();
        let store = describe(&name);
        create_private(path).map_err(|e| StateError::Backend {
            store: store.clone(),
            message: format!("cannot create the file: {e}"),
            source: Some(Box::new(e)),
        })?;
        let conn = Connection::open(path).map_err(|e| backend(&store, "cannot open it", e))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| backend(&store, "cannot open it", e))?;
        // Whose file it is is checked before anything is written to it (WAL mode included).
        migrate(&conn, &store)?;
        use_wal(&conn).map_err(|e| backend(&store, "cannot open it", e))?;
        conn.execute_batch(
            "PRAGMA synchronous = NORMAL;
             PRAGMA foreign_keys = ON;",
        )
        .map_err(|e| backend(&store, "cannot open it", e))?;
        let watched = Watched::of(path);
        let (jobs, receiver) = mpsc::channel::<Job>();
        let worker = std::thread::Builder::new()
            .name("profiles-state".into())
            .spawn(move || serve(conn, &store, &receiver, &watched))
            .map_err(|e| StateError::Backend {
                store: describe(&name),
                message: format!("cannot start its thread: {e}"),
                source: Some(Box::new(e)),
            })?;
        Ok(Self {
            path: name,
            jobs: Some(jobs),
            worker: Some(worker),
            deferred: Arc::default(),
            keys: Arc::default(),
        })
    }

    /// The schema version this build writes.
    pub fn schema_version() -> i64 {
        MIGRATIONS.len() as i64
    }

    /// SQLite's `PRAGMA integrity_check`: `ok`, or what is wrong.
    pub async fn integrity_check(&self) -> Result<String, StateError> {
        self.call(|conn, store| {
            conn.query_row("PRAGMA integrity_check", [], |row| row.get::<_, String>(0))
                .map_err(|e| backend(store, "integrity check", e))
        })
        .await
    }

    /// As [`call_now`](Self::call_now), after writing the listed users a first night
    /// holds: what `work` reads is the whole state.
    async fn call<T, F>(&self, work: F) -> Result<T, StateError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &str) -> Result<T, StateError> + Send + 'static,
    {
        let deferred = self.deferred.clone();
        self.call_now(move |conn, store| {
            write_deferred(conn, store, &mut lock(&deferred))?;
            work(conn, store)
        })
        .await
    }

    /// Runs `work` on the connection's thread, inside a group's transaction; answers once
    /// that transaction is committed.
    async fn call_now<T, F>(&self, work: F) -> Result<T, StateError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &str) -> Result<T, StateError> + Send + 'static,
    {
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |conn, store| {
            let result = work(conn, store);
            let failed = result.is_err();
            let answer: Answer = Box::new(move |commit: Option<&StateError>| {
                let result = match commit {
                    // A file that cannot be used says so the same way for every call.
                    Some(StateError::Unusable { store, what }) => Err(StateError::Unusable {
                        store: store.clone(),
                        what: what.clone(),
                    }),
                    Some(error) => Err(StateError::Backend {
                        store: describe_of(error),
                        message: format!("the commit failed: {error}"),
                        source: None,
                    }),
                    None => result,
                };
                let _ = sender.send(result);
            });
            (failed, answer)
        });
        let closed = || StateError::Closed {
            store: describe(&self.path),
            reason: "its thread has stopped".into(),
        };
        self.jobs
            .as_ref()
            .ok_or_else(closed)?
            .send(job)
            .map_err(|_| closed())?;
        receiver.await.map_err(|_| closed())?
    }
}

fn describe_of(error: &StateError) -> String {
    match error {
        StateError::Backend { store, .. }
        | StateError::Unusable { store, .. }
        | StateError::Address { store, .. }
        | StateError::NewerSchema { store, .. }
        | StateError::Corrupt { store, .. }
        | StateError::Closed { store, .. } => store.clone(),
    }
}

impl Drop for SqliteState {
    fn drop(&mut self) {
        // The thread ends once its channel closes; waiting for it closes the connection
        // (and checkpoints the WAL) before the process goes on.
        self.jobs = None;
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

/// The file a store was opened on, to notice it removed or replaced while in use (SQLite
/// would go on writing to a file no longer there).
struct Watched {
    path: std::path::PathBuf,
    identity: Option<(u64, u64)>,
}

impl Watched {
    fn of(path: &Path) -> Self {
        Self {
            path: path.to_owned(),
            identity: Self::identity(path),
        }
    }

    #[cfg(unix)]
    fn identity(path: &Path) -> Option<(u64, u64)> {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
    }

    #[cfg(not(unix))]
    fn identity(path: &Path) -> Option<(u64, u64)> {
        std::fs::metadata(path).ok().map(|_| (0, 0))
    }

    /// Whether the file is still the one opened.
    fn still_there(&self) -> bool {
        Self::identity(&self.path) == self.identity
    }
}

/// The connection's thread: takes the calls waiting, runs them in one transaction, each
/// in a savepoint, commits, then answers them. Once the file is found removed or replaced,
/// every call is refused.
fn serve(conn: Connection, store: &str, jobs: &mpsc::Receiver<Job>, watched: &Watched) {
    let mut gone = false;
    while let Ok(first) = jobs.recv() {
        gone = gone || !watched.still_there();
        if gone {
            let error = StateError::Unusable {
                store: store.to_owned(),
                what: "it was removed or replaced while this run was using it".to_owned(),
            };
            let (_, answer) = first(&conn, store);
            answer(Some(&error));
            continue;
        }
        let mut group = vec![first];
        while group.len() < GROUP {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let began = conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(|e| backend(store, "cannot begin a transaction", e));
        let mut answers = Vec::with_capacity(group.len());
        for job in group {
            if began.is_err() {
                let (_, answer) = job(&conn, store);
                answers.push(answer);
                continue;
            }
            let _ = conn.execute_batch("SAVEPOINT call");
            let (failed, answer) = job(&conn, store);
            let _ = conn.execute_batch(if failed {
                "ROLLBACK TO call; RELEASE call"
            } else {
                "RELEASE call"
            });
            answers.push(answer);
        }
        let committed = match began {
            Ok(()) => conn.execute_batch("COMMIT").map_err(|e| {
                let _ = conn.execute_batch("ROLLBACK");
                backend(store, "cannot commit", e)
            }),
            Err(e) => Err(e),
        };
        for answer in answers {
            answer(committed.as_ref().err());
        }
    }
}

/// What is in a file about to be opened as a state: `Ok` when it is a state (or empty).
fn check_owner(conn: &Connection, store: &str) -> Result<(), StateError> {
    let sqlite = |e| backend(store, "cannot read it", e);
    let id: i32 = conn
        .query_row("PRAGMA application_id", [], |row| row.get(0))
        .map_err(sqlite)?;
    if id == APPLICATION_ID {
        return Ok(());
    }
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .and_then(|mut select| {
            select
                .query_map([], |row| row.get(0))
                .and_then(|rows| rows.collect())
        })
        .map_err(sqlite)?;
    let ours = ["scopes", "users", "runs", "run_rows"]
        .iter()
        .all(|name| tables.iter().any(|t| t == name));
    // An empty file, or a state written before the id was set.
    if id == 0 && (tables.is_empty() || ours) {
        return Ok(());
    }
    Err(StateError::Unusable {
        store: store.to_owned(),
        what: if id == 0 {
            format!(
                "it is another program's SQLite database (its tables: {}), left untouched; give --state a file of its own",
                tables.join(", ")
            )
        } else {
            format!(
                "it is another program's SQLite database (application id {id:#x}), left untouched; give --state a file of its own"
            )
        },
    })
}

fn migrate(conn: &Connection, store: &str) -> Result<(), StateError> {
    let sqlite = |e| backend(store, "cannot bring its schema up to date", e);
    // The version is read inside the write transaction: two first runs on one new file
    // create the tables once.
    conn.execute_batch("BEGIN IMMEDIATE").map_err(sqlite)?;
    let result = (|| {
        check_owner(conn, store)?;
        conn.execute_batch(&format!("PRAGMA application_id = {APPLICATION_ID}"))
            .map_err(sqlite)?;
        let found: i64 = conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .map_err(sqlite)?;
        let known = MIGRATIONS.len() as i64;
        if found > known {
            return Err(StateError::NewerSchema {
                store: store.to_owned(),
                found,
                known,
            });
        }
        for (index, migration) in MIGRATIONS.iter().enumerate().skip(found.max(0) as usize) {
            conn.execute_batch(migration).map_err(sqlite)?;
            conn.execute_batch(&format!("PRAGMA user_version = {}", index + 1))
                .map_err(sqlite)?;
        }
        Ok(())
    })();
    match result {
        Ok(()) => conn.execute_batch("COMMIT").map_err(sqlite),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
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

fn corrupt(store: &str, what: String) -> StateError {
    StateError::Corrupt {
        store: store.to_owned(),
        what,
    }
}

/// A user's columns after its scope and key, in the order of [`UserRow`]: a macro so that
/// the statements naming them are literals, prepared and found in the cache without being
/// formatted for each user.
macro_rules! user_columns {
    () => {
        "vendor_id, fields, row_hash, outcome, code, reason, retryable, in_doubt, managed, \
         last_run, last_line, confirmed_at, changed_at, failed_at"
    };
}

/// One user's row, as stored.
type UserRow = (
    Option<String>,
    String,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    bool,
    bool,
    bool,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
);

fn read_user(
    conn: &Connection,
    store: &str,
    scope: ScopeId,
    key: &str,
) -> Result<Option<UserState>, StateError> {
    let row: Option<UserRow> = conn
        .prepare_cached(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE scope_id = ?1 AND key = ?2"
        ))
        .and_then(|mut select| {
            select
                .query_row(params![scope.0, key], |row| {
                    Ok((
                        row.get(0)?,
                        row.get(1)?,
                        row.get(2)?,
                        row.get(3)?,
                        row.get(4)?,
                        row.get(5)?,
                        row.get(6)?,
                        row.get(7)?,
                        row.get(8)?,
                        row.get(9)?,
                        row.get(10)?,
                        row.get(11)?,
                        row.get(12)?,
                        row.get(13)?,
                    ))
                })
                .optional()
        })
        .map_err(|e| backend(store, "cannot read a user", e))?;
    let Some(row) = row else {
        return Ok(None);
    };
    let fields = decode_fields(&row.1).ok_or_else(|| {
        corrupt(
            store,
            format!("the fields of user {key} are not a JSON object"),
        )
    })?;
    let outcome = UserOutcome::parse(&row.3).ok_or_else(|| {
        corrupt(
            store,
            format!("user {key} has the unknown outcome `{}`", row.3),
        )
    })?;
    Ok(Some(UserState {
        vendor_id: row.0,
        fields,
        row_hash: row.2,
        outcome,
        code: row.4,
        reason: row.5,
        retryable: row.6,
        in_doubt: row.7,
        managed: row.8,
        last_run: row.9.map(RunId),
        last_line: row.10.map(|l| l.max(0) as u64),
        confirmed_at: row.11,
        changed_at: row.12,
        failed_at: row.13,
    }))
}

/// Writes users whole, its statement looked up in the connection's cache once for a
/// group of users rather than for each (which hashed its text every time).
struct UserWriter<'c> {
    conn: &'c Connection,
    upsert: Option<rusqlite::CachedStatement<'c>>,
}

impl<'c> UserWriter<'c> {
    fn new(conn: &'c Connection) -> Self {
        Self { conn, upsert: None }
    }

    fn write(
        &mut self,
        store: &str,
        scope: ScopeId,
        key: &str,
        user: &UserState,
    ) -> Result<(), StateError> {
        let failed = |e| backend(store, "cannot write a user", e);
        let upsert = match &mut self.upsert {
            Some(upsert) => upsert,
            None => self.upsert.insert(
                self.conn
                    .prepare_cached(concat!(
                        "INSERT INTO users (scope_id, key, ",
                        user_columns!(),
                        ")
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)
                 ON CONFLICT (scope_id, key) DO UPDATE SET vendor_id = ?3, fields = ?4,
                    row_hash = ?5, outcome = ?6, code = ?7, reason = ?8, retryable = ?9,
                    in_doubt = ?10, managed = ?11, last_run = ?12, last_line = ?13,
                    confirmed_at = ?14, changed_at = ?15, failed_at = ?16"
                    ))
                    .map_err(failed)?,
            ),
        };
        upsert
            .execute(params![
                scope.0,
                key,
                user.vendor_id,
                encode_fields(&user.fields),
                user.row_hash,
                user.outcome.as_str(),
                user.code,
                user.reason,
                user.retryable,
                user.in_doubt,
                user.managed,
                user.last_run.map(|r| r.0),
                user.last_line.map(|l| l as i64),
                user.confirmed_at,
                user.changed_at,
                user.failed_at,
            ])
            .map(drop)
            .map_err(failed)
    }
}

fn read_lease(conn: &Connection, scope: ScopeId) -> rusqlite::Result<Option<LeaseRecord>> {
    conn.query_row(
        "SELECT token, host, pid, since, renewed FROM leases WHERE scope_id = ?1",
        [scope.0],
        |row| {
            Ok(LeaseRecord {
                token: row.get(0)?,
                host: row.get(1)?,
                pid: row.get(2)?,
                since: row.get(3)?,
                renewed: row.get(4)?,
            })
        },
    )
    .optional()
}

#[async_trait::async_trait]
impl StateStore for SqliteState {
    fn describe(&self) -> String {
        describe(&self.path)
    }

    fn persistent(&self) -> bool {
        true
    }

    async fn scope(&self, scope: &ScopeKey) -> Result<ScopeId, StateError> {
        let scope = scope.clone();
        self.call_now(move |conn, store| {
            let at = now();
            conn.execute(
                "INSERT INTO scopes (vendor, base_url, name, key_kind, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (vendor, base_url, name, key_kind) DO NOTHING",
                params![scope.vendor, scope.base_url, scope.name, scope.key_kind, at],
            )
            .and_then(|_| {
                conn.query_row(
                    "SELECT id FROM scopes
                     WHERE vendor = ?1 AND base_url = ?2 AND name = ?3 AND key_kind = ?4",
                    params![scope.vendor, scope.base_url, scope.name, scope.key_kind],
                    |row| row.get(0),
                )
            })
            .map(ScopeId)
            .map_err(|e| backend(store, "cannot record the scope", e))
        })
        .await
    }

    async fn acquire(
        &self,
        scope: ScopeId,
        holder: &LeaseHolder,
    ) -> Result<Option<HeldLease>, StateError> {
        let holder = holder.clone();
        self.call_now(move |conn, store| {
            let sqlite = |e| backend(store, "cannot take the scope's lease", e);
            if let Some(lease) = read_lease(conn, scope).map_err(sqlite)? {
                if !lease.may_be_taken_by(&holder) {
                    return Ok(Some(lease.held()));
                }
            }
            let lease = LeaseRecord::of(&holder);
            conn.execute(
                "INSERT OR REPLACE INTO leases (scope_id, token, host, pid, since, renewed)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    scope.0,
                    lease.token,
                    lease.host,
                    lease.pid,
                    lease.since,
                    lease.renewed
                ],
            )
            .map_err(sqlite)?;
            Ok(None)
        })
        .await
    }

    async fn renew(&self, scope: ScopeId, holder: &LeaseHolder) -> Result<bool, StateError> {
        let token = holder.token.clone();
        let deferred = self.deferred.clone();
        self.call_now(move |conn, store| {
            let renewed = conn
                .execute(
                    "UPDATE leases SET renewed = ?3 WHERE scope_id = ?1 AND token = ?2",
                    params![scope.0, token, unix_now()],
                )
                .map(|changed| changed == 1)
                .map_err(|e| backend(store, "cannot renew the scope's lease", e))?;
            if !renewed {
                // Another run holds the scope: what this one listed is not written over
                // what that one may have written.
                lock(&deferred).lost_lease(scope);
            }
            Ok(renewed)
        })
        .await
    }

    async fn release(&self, scope: ScopeId, holder: &LeaseHolder) -> Result<(), StateError> {
        let token = holder.token.clone();
        self.call_now(move |conn, store| {
            conn.execute(
                "DELETE FROM leases WHERE scope_id = ?1 AND token = ?2",
                params![scope.0, token],
            )
            .map(drop)
            .map_err(|e| backend(store, "cannot give the scope's lease back", e))
        })
        .await
    }

    /// False also while the scope is in `first_nights`: its first night did not end, and
    /// the listing it held in memory was not written.
    async fn has_users(&self, scope: ScopeId) -> Result<bool, StateError> {
        let deferred = self.deferred.clone();
        self.call_now(move |conn, store| {
            let sqlite = |e| backend(store, "cannot read the users", e);
            let (any, unfinished): (bool, bool) = conn
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM users WHERE scope_id = ?1),
                        EXISTS (SELECT 1 FROM first_nights WHERE scope_id = ?1)",
                    [scope.0],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .map_err(sqlite)?;
            if !any {
                // A first night: its listing is held in memory (see `Deferred`), and the
                // scope marked until the run ends.
                let mut deferred = lock(&deferred);
                write_deferred(conn, store, &mut deferred)?;
                deferred.scope = Some(scope);
                deferred.written = Some(std::collections::HashSet::new());
                conn.execute(
                    "INSERT OR IGNORE INTO first_nights (scope_id)
                     SELECT id FROM scopes WHERE id = ?1",
                    [scope.0],
                )
                .map_err(sqlite)?;
            }
            Ok(any && !unfinished)
        })
        .await
    }

    async fn begin_run(
        &self,
        scope: ScopeId,
        input: &str,
        options: &Value,
    ) -> Result<(RunId, Option<RunId>), StateError> {
        let (input, options) = (input.to_owned(), options.to_string());
        self.call(move |conn, store| {
            let sqlite = |e| backend(store, "cannot begin the run", e);
            let unfinished: Option<i64> = conn
                .query_row(
                    "SELECT id FROM runs WHERE scope_id = ?1 AND status <> 'finished'
                     AND id = (SELECT max(id) FROM runs WHERE scope_id = ?1)",
                    [scope.0],
                    |row| row.get(0),
                )
                .optional()
                .map_err(sqlite)?;
            // Users known only from a listing may have been written by the run that did not
            // finish, with no intent: in doubt.
            if unfinished.is_some() {
                conn.execute(
                    "UPDATE users SET in_doubt = 1
                     WHERE scope_id = ?1 AND outcome = 'listed' AND in_doubt = 0",
                    [scope.0],
                )
                .map_err(sqlite)?;
            }
            // Keys an earlier run of the scope left (it was killed before its end).
            conn.execute(
                "DELETE FROM input_keys WHERE run_id IN (SELECT id FROM runs WHERE scope_id = ?1)",
                [scope.0],
            )
            .map_err(sqlite)?;
            conn.execute(
                "INSERT INTO runs (scope_id, continues, started_at, status, input, options)
                 VALUES (?1, ?2, ?3, 'running', ?4, ?5)",
                params![scope.0, unfinished, now(), input, options],
            )
            .map_err(sqlite)?;
            Ok((RunId(conn.last_insert_rowid()), unfinished.map(RunId)))
        })
        .await
    }

    async fn add_input_keys(&self, run: RunId, keys: &[(String, u64)]) -> Result<(), StateError> {
        // Too many to hold: those held and these go to the table, and the rest after.
        let Some(written) = held_keys::lock(&self.keys).hold(run, keys) else {
            return Ok(());
        };
        self.call_now(move |conn, store| write_keys(conn, store, run, &written))
            .await
    }

    async fn input_duplicates(&self, run: RunId) -> Result<Vec<(String, Vec<u64>)>, StateError> {
        if let Some(duplicates) = held_keys::lock(&self.keys).duplicates(run) {
            return Ok(duplicates);
        }
        self.call_now(move |conn, store| {
            let sqlite = |e| backend(store, "cannot read the input's keys", e);
            let mut select = conn
                .prepare(
                    "SELECT key, group_concat(line, ' ') FROM (
                        SELECT key, line FROM input_keys
                        WHERE run_id = ?1 AND key IN (
                            SELECT key FROM input_keys WHERE run_id = ?1
                            GROUP BY key HAVING count(*) > 1)
                        ORDER BY key, line)
                     GROUP BY key",
                )
                .map_err(sqlite)?;
            let mut duplicates: Vec<(String, Vec<u64>)> = select
                .query_map([run.0], |row| {
                    let lines: String = row.get(1)?;
                    Ok((
                        row.get::<_, String>(0)?,
                        lines
                            .split(' ')
                            .filter_map(|l| l.parse().ok())
                            .collect::<Vec<u64>>(),
                    ))
                })
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                .map_err(sqlite)?;
            for (_, lines) in &mut duplicates {
                lines.sort_unstable();
            }
            duplicates.sort_by_key(|(_, lines)| lines.first().copied());
            Ok(duplicates)
        })
        .await
    }

    async fn lookup(
        &self,
        scope: ScopeId,
        _run: RunId,
        keys: &[String],
    ) -> Result<Vec<Known>, StateError> {
        let keys = keys.to_vec();
        let deferred = self.deferred.clone();
        self.call_now(move |conn, store| {
            let mut deferred = lock(&deferred);
            keys.iter()
                .map(|key| {
                    let held = deferred.of(scope).and_then(|held| held.get(key)).cloned();
                    let user = match held {
                        Some(user) => Some(user),
                        None if !deferred.may_hold(scope, key) => None,
                        None => read_user(conn, store, scope, key)?,
                    };
                    Ok(Known { user })
                })
                .collect()
        })
        .await
    }

    async fn listed(
        &self,
        scope: ScopeId,
        run: RunId,
        users: &[ListedUser],
    ) -> Result<(), StateError> {
        let users = users.to_vec();
        let deferred = self.deferred.clone();
        self.call_now(move |conn, store| {
            let at = now();
            let mut deferred = lock(&deferred);
            let mut writer = UserWriter::new(conn);
            // A run that lost the scope's lease writes nothing it only listed.
            if deferred.lease_lost == Some(scope) {
                return Ok(());
            }
            let room = deferred
                .of(scope)
                .is_some_and(|held| held.len() + users.len() <= DEFERRED_USERS);
            if !room {
                write_deferred(conn, store, &mut deferred)?;
            }
            for (key, vendor_id, fields) in &users {
                let Deferred {
                    scope: holds,
                    users: held,
                    written,
                    ..
                } = &mut *deferred;
                if *holds != Some(scope) {
                    let known = read_user(conn, store, scope, key)?;
                    if let Some(user) =
                        UserState::listed(known, run, vendor_id.clone(), fields, &at)
                    {
                        writer.write(store, scope, key, &user)?;
                    }
                    continue;
                };
                let known = match held.remove(key) {
                    // Named twice by the listing.
                    Some(user) => Some(user),
                    // Neither held nor written by the run: in the file nowhere.
                    None if !may_have_written(written.as_ref(), key) => None,
                    None => match read_user(conn, store, scope, key)? {
                        // Only this run writes the scope's users: one the file holds was
                        // written by a row, which the listing leaves as it is.
                        Some(_) => continue,
                        None => None,
                    },
                };
                if let Some(user) = UserState::listed(known, run, vendor_id.clone(), fields, &at) {
                    held.insert(key.clone(), user);
                }
            }
            Ok(())
        })
        .await
    }

    async fn intend(&self, scope: ScopeId, run: RunId, keys: &[String]) -> Result<(), StateError> {
        let keys = keys.to_vec();
        let deferred = self.deferred.clone();
        self.call_now(move |conn, store| {
            let mut deferred = lock(&deferred);
            // UserState::intended, one statement a key: a user not known is added as being
            // sent, a known one is marked in doubt; both are the run's. A user held from
            // the listing is written whole, marked.
            let mut upsert = conn
                .prepare_cached(
                    "INSERT INTO users (scope_id, key, outcome, in_doubt, last_run)
                     VALUES (?1, ?2, 'sending', 1, ?3)
                     ON CONFLICT (scope_id, key) DO UPDATE SET in_doubt = 1,
                        last_run = excluded.last_run",
                )
                .map_err(|e| backend(store, "cannot mark a user in doubt", e))?;
            let mut writer = UserWriter::new(conn);
            for key in &keys {
                if let Some(listed) = deferred.of(scope).and_then(|held| held.remove(key)) {
                    let user = UserState::intended(Some(listed), run);
                    writer.write(store, scope, key, &user)?;
                } else {
                    upsert
                        .execute(params![scope.0, key, run.0])
                        .map_err(|e| backend(store, "cannot mark a user in doubt", e))?;
                }
                deferred.wrote(scope, key);
            }
            Ok(())
        })
        .await
    }

    async fn settle(
        &self,
        scope: ScopeId,
        run: RunId,
        settlements: &[Settlement],
    ) -> Result<(), StateError> {
        let settlements = settlements.to_vec();
        let deferred = self.deferred.clone();
        self.call_now(move |conn, store| {
            let mut deferred = lock(&deferred);
            let at = now();
            let mut record = conn
                .prepare_cached(
                    "INSERT INTO run_rows (run_id, key, line, outcome, code, detail, at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                     ON CONFLICT (run_id, key) DO UPDATE SET line = excluded.line,
                        outcome = excluded.outcome, code = excluded.code,
                        detail = excluded.detail, at = excluded.at",
                )
                .map_err(|e| backend(store, "cannot record a row", e))?;
            let mut writer = UserWriter::new(conn);
            for settlement in &settlements {
                let key = &settlement.key;
                let held = deferred.of(scope).and_then(|held| held.remove(key));
                let known = match held {
                    Some(listed) => Some(listed),
                    None if !deferred.may_hold(scope, key) => None,
                    None => read_user(conn, store, scope, key)?,
                };
                if let Some(user) = UserState::apply(known, run, settlement, &at) {
                    writer.write(store, scope, key, &user)?;
                    deferred.wrote(scope, key);
                }
                if let Some(row) = RunRow::of(run, settlement) {
                    record
                        .execute(params![
                            run.0,
                            row.key,
                            row.line as i64,
                            row.outcome.as_str(),
                            row.code,
                            row.detail,
                            at
                        ])
                        .map_err(|e| backend(store, "cannot record a row", e))?;
                }
            }
            Ok(())
        })
        .await
    }

    async fn leavers(&self, scope: ScopeId, run: RunId) -> Result<(Vec<Leaver>, u64), StateError> {
        // The query reads the run's keys from the table.
        let held = held_keys::lock(&self.keys).take_for_table(run);
        self.call(move |conn, store| {
            if let Some(keys) = &held {
                write_keys(conn, store, run, keys)?;
            }
            let sqlite = |e| backend(store, "cannot look for leavers", e);
            let managed: i64 = conn
                .query_row(
                    "SELECT count(*) FROM users WHERE scope_id = ?1 AND managed
                     AND outcome NOT IN ('deleted', 'retired')",
                    [scope.0],
                    |row| row.get(0),
                )
                .map_err(sqlite)?;
            let mut select = conn
                .prepare(
                    "SELECT key, vendor_id FROM users WHERE scope_id = ?1 AND managed
                     AND outcome NOT IN ('deleted', 'retired')
                     AND key NOT IN (SELECT key FROM input_keys WHERE run_id = ?2)
                     AND (vendor_id IS NULL OR vendor_id NOT IN (
                        SELECT p.vendor_id FROM users p
                        WHERE p.scope_id = ?1 AND p.vendor_id IS NOT NULL
                        AND p.key IN (SELECT key FROM input_keys WHERE run_id = ?2)))
                     ORDER BY key",
                )
                .map_err(sqlite)?;
            let leavers = select
                .query_map([scope.0, run.0], |row| {
                    Ok(Leaver {
                        key: row.get(0)?,
                        vendor_id: row.get(1)?,
                    })
                })
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                .map_err(sqlite)?;
            Ok((leavers, managed.max(0) as u64))
        })
        .await
    }

    async fn leaver_hold(&self, scope: ScopeId) -> Result<Option<LeaverHold>, StateError> {
        self.call(move |conn, store| {
            let row: Option<(String, bool, String)> = conn
                .query_row(
                    "SELECT keys, approved, held_at FROM leaver_holds WHERE scope_id = ?1",
                    [scope.0],
                    |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
                )
                .optional()
                .map_err(|e| backend(store, "cannot read the leavers held", e))?;
            let Some((keys, approved, at)) = row else {
                return Ok(None);
            };
            let keys: Vec<String> = serde_json::from_str(&keys)
                .map_err(|_| corrupt(store, "the leavers held are not a list of keys".into()))?;
            Ok(Some(LeaverHold { keys, approved, at }))
        })
        .await
    }

    async fn set_leaver_hold(
        &self,
        scope: ScopeId,
        hold: Option<&LeaverHold>,
    ) -> Result<(), StateError> {
        let hold = hold.cloned();
        self.call(move |conn, store| {
            match hold {
                Some(hold) => conn.execute(
                    "INSERT OR REPLACE INTO leaver_holds (scope_id, keys, approved, held_at)
                     VALUES (?1, ?2, ?3, ?4)",
                    params![
                        scope.0,
                        Value::from(hold.keys).to_string(),
                        hold.approved,
                        hold.at
                    ],
                ),
                None => conn.execute("DELETE FROM leaver_holds WHERE scope_id = ?1", [scope.0]),
            }
            .map(drop)
            .map_err(|e| backend(store, "cannot record the leavers held", e))
        })
        .await
    }

    async fn forget(&self, keys: &[String]) -> Result<u64, StateError> {
        let keys = keys.to_vec();
        self.call(move |conn, store| {
            let mut removed = 0;
            for key in &keys {
                removed += conn
                    .execute("DELETE FROM users WHERE key = ?1", [key])
                    .map_err(|e| backend(store, "cannot forget a user", e))?
                    as u64;
            }
            Ok(removed)
        })
        .await
    }

    async fn dead_letters(&self) -> Result<Vec<DeadLetter>, StateError> {
        self.call(move |conn, store| {
            let sqlite = |e| backend(store, "cannot read the dead letters", e);
            let mut select = conn
                .prepare(
                    "SELECT s.vendor || ' ' || s.base_url || ' ' || s.name, u.key, u.scope_id
                     FROM users u JOIN scopes s ON s.id = u.scope_id
                     WHERE u.outcome IN ('failed', 'unknown', 'missing', 'sending')
                     ORDER BY u.failed_at DESC, u.key",
                )
                .map_err(sqlite)?;
            let keys = select
                .query_map([], |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, i64>(2)?,
                    ))
                })
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                .map_err(sqlite)?;
            let mut letters = Vec::new();
            for (scope, key, scope_id) in keys {
                if let Some(user) = read_user(conn, store, ScopeId(scope_id), &key)? {
                    letters.extend(DeadLetter::of(&scope, &key, &user));
                }
            }
            Ok(letters)
        })
        .await
    }

    async fn history(&self, limit: usize) -> Result<Vec<ScopeRuns>, StateError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.call(move |conn, store| {
            let sqlite = |e| backend(store, "cannot read the runs", e);
            let scopes = conn
                .prepare("SELECT id, vendor, base_url, name, key_kind FROM scopes ORDER BY id")
                .and_then(|mut select| {
                    select
                        .query_map([], |row| {
                            Ok((
                                row.get::<_, i64>(0)?,
                                ScopeKey {
                                    vendor: row.get(1)?,
                                    base_url: row.get(2)?,
                                    name: row.get(3)?,
                                    key_kind: row.get(4)?,
                                },
                            ))
                        })?
                        .collect::<Result<Vec<_>, _>>()
                })
                .map_err(sqlite)?;
            let mut select = conn
                .prepare(
                    "SELECT id, continues, started_at, ended_at, status, input, options, summary,
                            stop_reason
                     FROM runs WHERE scope_id = ?1 ORDER BY id DESC LIMIT ?2",
                )
                .map_err(sqlite)?;
            let json = |text: Option<String>| text.and_then(|t| serde_json::from_str(&t).ok());
            let mut history = Vec::with_capacity(scopes.len());
            for (id, scope) in scopes {
                let runs = select
                    .query_map(params![id, limit], |row| {
                        Ok(RunRecord {
                            id: RunId(row.get(0)?),
                            continues: row.get::<_, Option<i64>>(1)?.map(RunId),
                            started_at: row.get(2)?,
                            ended_at: row.get(3)?,
                            status: row.get(4)?,
                            input: row.get(5)?,
                            options: json(row.get(6)?).unwrap_or(Value::Null),
                            summary: json(row.get(7)?),
                            stop_reason: row.get(8)?,
                        })
                    })
                    .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                    .map_err(sqlite)?;
                history.push(ScopeRuns {
                    id: ScopeId(id),
                    scope,
                    runs,
                });
            }
            Ok(history)
        })
        .await
    }

    async fn end_run(&self, run: RunId, end: &RunEnd, summary: &Value) -> Result<(), StateError> {
        let (status, reason) = match end {
            RunEnd::Finished => ("finished", None),
            RunEnd::Stopped(reason) => ("stopped", Some(reason.clone())),
        };
        let summary = summary.to_string();
        *held_keys::lock(&self.keys) = HeldKeys::default();
        let lease_lost = lock(&self.deferred).lease_lost.take();
        self.call(move |conn, store| {
            conn.execute(
                "UPDATE runs SET ended_at = ?2, status = ?3, summary = ?4, stop_reason = ?5
                 WHERE id = ?1",
                params![run.0, now(), status, summary, reason],
            )
            .and_then(|_| conn.execute("DELETE FROM input_keys WHERE run_id = ?1", [run.0]))
            // Its listing is written (by `call`): the scope's users are known, unless the
            // run lost the scope's lease and let its listing go.
            .and_then(|_| {
                conn.execute(
                    "DELETE FROM first_nights
                     WHERE scope_id = (SELECT scope_id FROM runs WHERE id = ?1)
                     AND scope_id IS NOT ?2",
                    params![run.0, lease_lost.map(|s| s.0)],
                )
            })
            .map(drop)
            .map_err(|e| backend(store, "cannot end the run", e))
        })
        .await
    }

    async fn run_chain(&self, run: RunId) -> Result<Vec<RunId>, StateError> {
        self.call(move |conn, store| {
            let mut chain = vec![run];
            let mut select = conn
                .prepare_cached("SELECT continues FROM runs WHERE id = ?1")
                .map_err(|e| backend(store, "cannot read the runs", e))?;
            let mut current = run;
            while let Some(earlier) = select
                .query_row([current.0], |row| row.get::<_, Option<i64>>(0))
                .optional()
                .map_err(|e| backend(store, "cannot read the runs", e))?
                .flatten()
            {
                if chain.iter().any(|r| r.0 == earlier) || chain.len() > 10_000 {
                    return Err(corrupt(store, "the runs' `continues` form a loop".into()));
                }
                chain.push(RunId(earlier));
                current = RunId(earlier);
            }
            chain.reverse();
            Ok(chain)
        })
        .await
    }

    async fn run_rows(&self, runs: &[RunId]) -> Result<Vec<RunRow>, StateError> {
        let runs = runs.to_vec();
        self.call(move |conn, store| {
            let sqlite = |e| backend(store, "cannot read the run's rows", e);
            let mut select = conn
                .prepare_cached(
                    "SELECT run_id, line, key, outcome, code, detail FROM run_rows
                     WHERE run_id = ?1",
                )
                .map_err(sqlite)?;
            let read = |select: &mut rusqlite::CachedStatement<'_>, run: RunId| {
                select
                    .query_map([run.0], |row| {
                        Ok((
                            row.get::<_, i64>(0)?,
                            row.get::<_, i64>(1)?,
                            row.get::<_, String>(2)?,
                            row.get::<_, String>(3)?,
                            row.get::<_, Option<String>>(4)?,
                            row.get::<_, Option<String>>(5)?,
                        ))
                    })
                    .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                    .map_err(sqlite)
            };
            let row_of =
                |(run, line, key, outcome, code, detail): (
                    i64,
                    i64,
                    String,
                    String,
                    Option<String>,
                    Option<String>,
                )| RunRow::stored(store, run, line, key, &outcome, code, detail);
            // One run (a run not continued from another): a key has one row. In the order of
            // the lines, then of the keys as bytes, sorted here (SQLite sorted them in a
            // temporary tree: 4 ms of a night of 20,000 rows).
            if let [run] = runs[..] {
                let mut rows = read(&mut select, run)?
                    .into_iter()
                    .map(row_of)
                    .collect::<Result<Vec<_>, _>>()?;
                rows.sort_unstable_by(RunRow::in_order);
                return Ok(rows);
            }
            // The latest run's word on a key wins.
            let mut latest: std::collections::BTreeMap<String, RunRow> = Default::default();
            for run in runs {
                for row in read(&mut select, run)? {
                    let row = row_of(row)?;
                    latest.insert(row.key.clone(), row);
                }
            }
            let mut rows: Vec<RunRow> = latest.into_values().collect();
            rows.sort_by_key(|row| row.line);
            Ok(rows)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("profile-sync-state-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("state.db")
    }

    #[tokio::test]
    async fn the_sqlite_store_passes_the_conformance_suite() {
        let path = scratch("conformance");
        let store = SqliteState::open(&path).unwrap();
        super::super::conformance::check(&store).await.unwrap();
        assert_eq!(store.integrity_check().await.unwrap(), "ok");
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_new_state_file_and_its_wal_are_private_to_their_owner() {
        use std::os::unix::fs::PermissionsExt;
        let path = scratch("private");
        let store = SqliteState::open(&path).unwrap();
        store.has_users(ScopeId(1)).await.unwrap();
        for suffix in ["", "-wal", "-shm"] {
            let mut name = path.clone().into_os_string();
            name.push(suffix);
            let mode = std::fs::metadata(&name).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{suffix}");
        }
    }

    #[tokio::test]
    async fn what_was_settled_outlives_the_process_and_a_killed_run_is_continued() {
        let path = scratch("reopen");
        let key = ScopeKey {
            vendor: "sunshine".into(),
            base_url: "http://127.0.0.1:1/".into(),
            name: "source=coolbikes;type=rider".into(),
            key_kind: "email".into(),
        };
        let first = {
            let state = SqliteState::open(&path).unwrap();
            let scope = state.scope(&key).await.unwrap();
            let (run, _) = state
                .begin_run(scope, "in.csv", &Value::Null)
                .await
                .unwrap();
            state.intend(scope, run, &["a@x".into()]).await.unwrap();
            run
        };
        let state = SqliteState::open(&path).unwrap();
        let scope = state.scope(&key).await.unwrap();
        let (second, continues) = state
            .begin_run(scope, "in.csv", &Value::Null)
            .await
            .unwrap();
        assert_eq!(continues, Some(first));
        let known = state.lookup(scope, second, &["a@x".into()]).await.unwrap();
        assert!(known[0].user.as_ref().unwrap().in_doubt);
    }

    fn rider_scope() -> ScopeKey {
        ScopeKey {
            vendor: "sunshine".into(),
            base_url: "http://127.0.0.1:1/".into(),
            name: "source=coolbikes;type=rider".into(),
            key_kind: "email".into(),
        }
    }

    /// The users the file itself holds for `scope`, by key, with their outcome and fields.
    fn stored(path: &Path) -> Vec<(String, String, String)> {
        let conn = Connection::open(path).unwrap();
        let mut select = conn
            .prepare("SELECT key, outcome, fields FROM users ORDER BY key")
            .unwrap();
        select
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// A first night of the rider scope in the file at `path`, once its listing has named
    /// a@x and b@x (see [`crate::store::test_listing_night`]).
    async fn listing_night(path: &Path) -> (SqliteState, ScopeId, RunId, Option<RunId>) {
        let state = SqliteState::open(path).unwrap();
        let (scope, run, continues) =
            crate::store::test_listing_night(&state, &rider_scope()).await;
        (state, scope, run, continues)
    }

    #[tokio::test]
    async fn a_first_night_writes_each_listed_user_once() {
        let path = scratch("first-night");
        let (state, scope, run, _) = listing_night(&path).await;
        // Held, not written: a lookup answers from what the listing found.
        assert!(stored(&path).is_empty(), "{:?}", stored(&path));
        let known = state.lookup(scope, run, &["a@x".into()]).await.unwrap();
        let ann = known[0].user.as_ref().unwrap();
        assert_eq!(ann.outcome, UserOutcome::Listed);
        assert_eq!(ann.vendor_id.as_deref(), Some("id-a@x"));
        // The settlement writes the user once: what the row wrote, over what was listed.
        state
            .settle(scope, run, &[crate::store::test_updated(2, "a@x", "Anna")])
            .await
            .unwrap();
        let rows = stored(&path);
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!(rows[0].0, "a@x");
        assert_eq!(rows[0].1, "updated");
        assert!(
            rows[0].2.contains("\"Anna\"") && rows[0].2.contains("\"Rider\""),
            "{rows:?}"
        );
        // A listing that names the settled user again leaves them as the row left them.
        state
            .listed(scope, run, &[crate::store::test_listed_user("a@x", "Late")])
            .await
            .unwrap();
        // The users no row settled are written before the leavers are looked for.
        let (_, managed) = state.leavers(scope, run).await.unwrap();
        assert_eq!(managed, 1);
        let rows = stored(&path);
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert_eq!(
            (rows[0].1.as_str(), rows[1].1.as_str()),
            ("updated", "listed")
        );
        assert!(rows[0].2.contains("\"Anna\""), "{rows:?}");
        crate::store::test_end_known(&state, scope, run).await;
    }

    #[tokio::test]
    async fn on_a_first_night_a_key_neither_listed_nor_written_is_not_looked_for() {
        let path = scratch("first-night-unread");
        let (state, scope, run, _) = listing_night(&path).await;
        // What the lease rules out, done here to see where an answer comes from.
        Connection::open(&path)
            .unwrap()
            .execute(
                "INSERT INTO users (scope_id, key, outcome) VALUES (?1, 'x@x', 'listed')",
                [scope.0],
            )
            .unwrap();
        let known = state.lookup(scope, run, &["x@x".into()]).await.unwrap();
        assert!(known[0].user.is_none(), "the scope had nobody: not read");
        // A joiner the run settled is read back from the file.
        state
            .settle(scope, run, &[crate::store::test_updated(4, "j@x", "Jo")])
            .await
            .unwrap();
        let known = state.lookup(scope, run, &["j@x".into()]).await.unwrap();
        assert_eq!(
            known[0].user.as_ref().unwrap().outcome,
            UserOutcome::Updated
        );
        crate::store::test_end_known(&state, scope, run).await;
    }

    #[tokio::test]
    async fn a_first_night_that_lost_its_lease_writes_only_what_it_did() {
        let path = scratch("lease-lost");
        let store = SqliteState::open(&path).unwrap();
        let other = SqliteState::open(&path).unwrap();
        crate::store::test_lease_lost_night(&store, &other, &rider_scope()).await;
    }

    #[tokio::test]
    async fn a_first_night_killed_before_its_end_is_listed_again() {
        let path = scratch("first-night-killed");
        {
            let (state, scope, run, _) = listing_night(&path).await;
            state
                .settle(scope, run, &[crate::store::test_updated(2, "a@x", "Anna")])
                .await
                .unwrap();
            // Killed here: the listing held in memory is gone with the process.
        }
        assert_eq!(stored(&path).len(), 1);
        // Not known in full: the next night lists again, writing as it lists (the scope
        // has a user), and leaves what the killed run wrote.
        let (state, scope, run, continues) = listing_night(&path).await;
        assert!(continues.is_some());
        let rows = stored(&path);
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert_eq!(rows[1].1, "listed");
        crate::store::test_end_known(&state, scope, run).await;
    }

    #[tokio::test]
    async fn a_runs_keys_are_held_until_there_are_too_many_then_written() {
        let path = scratch("keys");
        let state = SqliteState::open(&path).unwrap();
        let scope = state.scope(&rider_scope()).await.unwrap();
        let (run, _) = state
            .begin_run(scope, "in.csv", &Value::Null)
            .await
            .unwrap();
        let in_file = || -> i64 {
            Connection::open(&path)
                .unwrap()
                .query_row("SELECT count(*) FROM input_keys", [], |row| row.get(0))
                .unwrap()
        };
        let a_twice = vec![("a@x".to_owned(), vec![2, 3])];
        state
            .add_input_keys(
                run,
                &[("a@x".into(), 3), ("a@x".into(), 2), ("a@x".into(), 3)],
            )
            .await
            .unwrap();
        assert_eq!(in_file(), 0, "held");
        assert_eq!(state.input_duplicates(run).await.unwrap(), a_twice);
        // Past what memory holds: those held and the rest go to the file.
        let many: Vec<(String, u64)> = (0..held_keys::HELD_KEYS)
            .map(|i| (format!("u{i}@x"), i as u64 + 10))
            .collect();
        state.add_input_keys(run, &many).await.unwrap();
        state
            .add_input_keys(run, &[("b@x".into(), 9), ("b@x".into(), 5)])
            .await
            .unwrap();
        assert_eq!(in_file(), held_keys::HELD_KEYS as i64 + 4);
        let mut both = a_twice.clone();
        both.push(("b@x".to_owned(), vec![5, 9]));
        assert_eq!(state.input_duplicates(run).await.unwrap(), both);
        state
            .end_run(run, &RunEnd::Finished, &Value::Null)
            .await
            .unwrap();
        assert_eq!(in_file(), 0);
        // A new run starts with none, held again.
        let (next, _) = state
            .begin_run(scope, "in.csv", &Value::Null)
            .await
            .unwrap();
        state
            .add_input_keys(next, &[("c@x".into(), 2)])
            .await
            .unwrap();
        assert!(state.input_duplicates(next).await.unwrap().is_empty());
        assert_eq!(in_file(), 0);
    }

    #[tokio::test]
    async fn another_programs_database_is_refused_untouched() {
        let path = scratch("foreign");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
                .unwrap();
        }
        let before = std::fs::read(&path).unwrap();
        let error = SqliteState::open(&path).unwrap_err();
        assert!(error.is_unusable(), "{error}");
        assert!(
            error
                .to_string()
                .contains("another program's SQLite database (its tables: invoices)"),
            "{error}"
        );
        assert_eq!(
            std::fs::read(&path).unwrap(),
            before,
            "the file was changed"
        );
        let path = scratch("foreign-id");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch("PRAGMA application_id = 42").unwrap();
        }
        assert!(
            SqliteState::open(&path)
                .unwrap_err()
                .to_string()
                .contains("application id 0x2a")
        );
    }

    #[tokio::test]
    async fn a_state_removed_while_in_use_refuses_every_call_after() {
        let path = scratch("removed");
        let store = SqliteState::open(&path).unwrap();
        store.has_users(ScopeId(1)).await.unwrap();
        std::fs::remove_file(&path).unwrap();
        let error = store.has_users(ScopeId(1)).await.unwrap_err();
        assert!(error.is_unusable(), "{error}");
        assert!(error.to_string().contains("removed or replaced"), "{error}");
    }

    #[test]
    fn two_first_runs_on_one_new_file_make_its_tables_once() {
        let path = scratch("two-first-runs");
        let opened: Vec<Result<SqliteState, StateError>> = std::thread::scope(|threads| {
            let runs: Vec<_> = (0..4)
                .map(|_| threads.spawn(|| SqliteState::open(&path)))
                .collect();
            runs.into_iter().map(|run| run.join().unwrap()).collect()
        });
        for store in &opened {
            assert!(store.is_ok(), "{:?}", store.as_ref().err());
        }
        let conn = Connection::open(&path).unwrap();
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .unwrap();
        assert_eq!(version, SqliteState::schema_version());
    }

    #[tokio::test]
    async fn a_dropped_column_is_said_in_words_not_in_sql() {
        let path = scratch("dropped");
        drop(SqliteState::open(&path).unwrap());
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch("ALTER TABLE users DROP COLUMN row_hash")
                .unwrap();
        }
        let store = SqliteState::open(&path).unwrap();
        let error = store
            .lookup(ScopeId(1), RunId(1), &["a@x".into()])
            .await
            .unwrap_err();
        assert!(error.is_unusable(), "{error}");
        let text = error.to_string();
        assert!(
            text.contains("its tables are not as profiles made them"),
            "{text}"
        );
        assert!(!text.contains("SELECT"), "{text}");
    }

    #[tokio::test]
    async fn garbage_is_refused_as_damaged_with_what_to_do() {
        let path = scratch("garbage");
        std::fs::write(&path, vec![0x5a; 8192]).unwrap();
        let error = SqliteState::open(&path).unwrap_err();
        assert!(error.is_unusable(), "{error}");
        let text = error.to_string();
        assert!(
            text.contains("cannot be used: it is damaged, or not a database"),
            "{text}"
        );
        assert!(text.contains("move it aside and run again"), "{text}");
    }

    #[tokio::test]
    async fn a_file_from_a_newer_version_is_refused_and_a_damaged_value_is_an_error() {
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
        let scope = state.scope(&crate::store::test_scope()).await.unwrap();
        let fields = serde_json::json!({"name": "A"})
            .as_object()
            .unwrap()
            .clone();
        state
            .listed(
                scope,
                crate::store::RunId(1),
                &[("a@x".into(), None, fields)],
            )
            .await
            .unwrap();
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute("UPDATE users SET fields = '[1'", []).unwrap();
        }
        let (run, _) = state.begin_run(scope, "in", &Value::Null).await.unwrap();
        assert!(matches!(
            state.lookup(scope, run, &["a@x".into()]).await,
            Err(StateError::Corrupt { .. })
        ));
    }
}
