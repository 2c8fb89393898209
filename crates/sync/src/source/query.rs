//! Rows from a SQL query on PostgreSQL: a model, as Hightouch and Census call it.

use std::collections::VecDeque;
use std::sync::Arc;

use futures_util::stream;
use serde_json::{Map, Value};
use tokio_postgres::{Client, SimpleQueryMessage};

use super::{RowSource, RowStream};
use crate::input::InputError;
use crate::outcome::RowError;
use crate::pg::{PgTarget, words};

/// How many rows each `FETCH` brings: memory holds this many rows of the query at most.
const FETCH: usize = 1000;

/// The rows of a `SELECT` on PostgreSQL; its columns' names are the rows' fields.
///
/// The query runs in one read-only transaction (`REPEATABLE READ`) that lasts as long as
/// the source: the night reads it twice (keys first, then rows), and both passes see the
/// same rows. Each pass streams them through a cursor, a thousand at a time, so memory
/// stays flat however many rows the query gives. Values come as PostgreSQL writes them as
/// text (`t`/`f` for booleans, `2026-12-04` for dates); SQL `NULL` is an empty value.
///
/// ```no_run
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// use profile_sync::source::{QuerySource, RowSource};
///
/// let source = QuerySource::open(
///     "postgres://reader@hr-db.internal/hr",
///     "SELECT work_email AS email, given_name AS first_name FROM staff WHERE active",
/// )
/// .await?;
/// assert_eq!(source.columns(), ["email", "first_name"]);
/// # Ok(())
/// # }
/// ```
pub struct QuerySource {
    client: Arc<Client>,
    query: String,
    columns: Arc<[String]>,
    name: String,
    passes: usize,
    /// Why a pass stopped, once one did: the transaction is then gone, and every later
    /// pass is refused with that reason.
    broken: Arc<std::sync::Mutex<Option<String>>>,
}

impl std::fmt::Debug for QuerySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuerySource")
            .field("name", &self.name)
            .field("columns", &self.columns)
            .finish_non_exhaustive()
    }
}

impl QuerySource {
    /// Connects to the database `url` names (see [`crate::pg`] for the libpq variables
    /// and TLS), begins the read-only transaction and reads the query's columns; no row is
    /// read yet.
    pub async fn open(url: &str, query: &str) -> Result<Self, InputError> {
        let target = PgTarget::parse(url).map_err(|e| InputError::Query {
            source_name: "the query's database".into(),
            message: e.to_string(),
        })?;
        let name = format!("query on {}", target.describe());
        let failed = |message: String| InputError::Query {
            source_name: name.clone(),
            message,
        };
        let query = query.trim().trim_end_matches(';').trim_end().to_owned();
        if query.is_empty() {
            return Err(failed("the query is empty".into()));
        }
        let client = target.connect().await.map_err(|e| failed(e.to_string()))?;
        client
            .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await
            .map_err(|e| failed(words(&e)))?;
        let statement = client
            .prepare(&query)
            .await
            .map_err(|e| failed(format!("the query is refused: {}", words(&e))))?;
        if !statement.params().is_empty() {
            return Err(failed(
                "the query has parameters ($1 …): write the values into it".into(),
            ));
        }
        // A cursor takes a SELECT or VALUES alone (no INSERT, no data-modifying WITH):
        // declared once here, so that any other statement is refused before the night.
        client
            .batch_execute(&format!(
                "DECLARE profiles_check NO SCROLL CURSOR FOR {query}; CLOSE profiles_check"
            ))
            .await
            .map_err(|e| failed(format!("the query is refused: {}", words(&e))))?;
        let columns: Vec<String> = statement
            .columns()
            .iter()
            .map(|c| c.name().to_owned())
            .collect();
        if columns.is_empty() {
            return Err(failed(
                "the query gives no columns: it must be a SELECT".into(),
            ));
        }
        for (i, column) in columns.iter().enumerate() {
            if columns[..i].contains(column) {
                return Err(failed(format!(
                    "the query gives two columns named `{column}`: name them apart with AS"
                )));
            }
        }
        Ok(Self {
            client: Arc::new(client),
            query,
            columns: columns.into(),
            name,
            passes: 0,
            broken: Arc::default(),
        })
    }
}

/// Where a pass through the cursor is.
struct Pass {
    client: Arc<Client>,
    columns: Arc<[String]>,
    declare: Option<String>,
    cursor: String,
    buffered: VecDeque<Map<String, Value>>,
    line: u64,
    done: bool,
}

impl Pass {
    /// The next batch of rows; an error ends the pass.
    async fn fetch(&mut self) -> Result<(), String> {
        if let Some(declare) = self.declare.take() {
            self.client
                .batch_execute(&declare)
                .await
                .map_err(|e| words(&e))?;
        }
        let messages = self
            .client
            .simple_query(&format!("FETCH FORWARD {FETCH} FROM {}", self.cursor))
            .await
            .map_err(|e| words(&e))?;
        for message in messages {
            if let SimpleQueryMessage::Row(row) = message {
                let mut fields = Map::with_capacity(self.columns.len());
                for (i, column) in self.columns.iter().enumerate() {
                    let value = match row.try_get(i).map_err(|e| words(&e))? {
                        Some(text) => Value::String(text.to_owned()),
                        None => Value::Null,
                    };
                    fields.insert(column.clone(), value);
                }
                self.buffered.push_back(fields);
            }
        }
        if self.buffered.is_empty() {
            self.done = true;
            let _ = self
                .client
                .batch_execute(&format!("CLOSE {}", self.cursor))
                .await;
        }
        Ok(())
    }
}

impl RowSource for QuerySource {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn columns(&self) -> &[String] {
        &self.columns
    }

    fn rows(&mut self) -> Result<RowStream, InputError> {
        let broken = self
            .broken
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        if let Some(reason) = broken {
            return Err(InputError::Query {
                source_name: self.name.clone(),
                message: format!("it stopped giving rows: {reason}"),
            });
        }
        self.passes += 1;
        let cursor = format!("profiles_rows_{}", self.passes);
        let pass = Pass {
            client: self.client.clone(),
            columns: self.columns.clone(),
            declare: Some(format!(
                "DECLARE {cursor} NO SCROLL CURSOR FOR {}",
                self.query
            )),
            cursor,
            buffered: VecDeque::new(),
            line: 0,
            done: false,
        };
        let name = self.name.clone();
        let broken = self.broken.clone();
        Ok(Box::pin(stream::unfold(pass, move |mut pass| {
            let (name, broken) = (name.clone(), broken.clone());
            async move {
                if pass.buffered.is_empty() && !pass.done {
                    if let Err(reason) = pass.fetch().await {
                        // The pass ends here: the rows not read are not synced, and the
                        // row that says why keeps the night from looking for leavers.
                        pass.done = true;
                        pass.line += 1;
                        *broken
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner) =
                            Some(reason.clone());
                        let error = RowError {
                            line: pass.line,
                            reason: format!(
                                "{name} stopped giving rows: {reason}; the rows after it were not read"
                            ),
                        };
                        return Some((Err(error), pass));
                    }
                }
                let row = pass.buffered.pop_front()?;
                pass.line += 1;
                let line = pass.line;
                Some((Ok((line, row)), pass))
            }
        })))
    }
}
