//! Where a night's rows come from: a [`RowSource`] names its columns up front and gives
//! its rows as a stream, each with its line (the row's identity in reports and in the
//! state). A night reads its source twice: once for the keys (a key on two lines is synced
//! once, from its last line), then for the rows; a source that cannot be read twice (a
//! pipe) keeps a private copy of what it read.
//!
//! [`FileSource`] reads a CSV or JSON Lines file; [`FileSource::stdin`] reads standard
//! input; `QuerySource` (feature `postgres`) reads the rows of a SQL query on PostgreSQL.
//!
//! ```
//! use futures_util::StreamExt;
//! use profile_sync::input::{Format, InputOptions};
//! use profile_sync::source::{FileSource, RowSource};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let path = std::env::temp_dir().join(format!("source-doc-{}.csv", std::process::id()));
//! std::fs::write(&path, "email,first_name\r\njdoe@example.com,Jane\r\n")?;
//! let mut source = FileSource::open(&path, InputOptions::new(Format::Csv))?;
//! assert_eq!(source.columns(), ["email", "first_name"]);
//! let rows: Vec<_> = source.rows()?.collect().await;
//! let (line, row) = rows[0].as_ref().unwrap();
//! assert_eq!((*line, row["first_name"].as_str()), (2, Some("Jane")));
//! # std::fs::remove_file(&path)?;
//! # Ok(())
//! # }
//! ```

use std::io::Read;
use std::path::{Path, PathBuf};

use futures_util::stream::{self, BoxStream};

use crate::input::{self, InputError, InputOptions, RawRow};

/// A source's rows: each its line and its columns, or why the row cannot be read.
pub type RowStream = BoxStream<'static, RawRow>;

/// Where a night's rows come from; see the [module](self) docs.
pub trait RowSource: Send {
    /// The source in words, for reports (`hr.csv`, `standard input`).
    fn name(&self) -> String;

    /// The columns known up front (CSV's header, or the first JSON object's keys).
    fn columns(&self) -> &[String];

    /// The rows, from the first: each call reads the source again.
    fn rows(&mut self) -> Result<RowStream, InputError>;
}

impl<S: RowSource + ?Sized> RowSource for Box<S> {
    fn name(&self) -> String {
        (**self).name()
    }

    fn columns(&self) -> &[String] {
        (**self).columns()
    }

    fn rows(&mut self) -> Result<RowStream, InputError> {
        (**self).rows()
    }
}

/// A CSV or JSON Lines file, or standard input.
#[derive(Debug)]
pub struct FileSource {
    path: PathBuf,
    name: String,
    options: InputOptions,
    columns: Vec<String>,
    /// A copy of standard input, removed with the source.
    spooled: bool,
}

impl FileSource {
    /// Opens the file at `path`: its columns are read (and its text checked) now.
    pub fn open(path: &Path, options: InputOptions) -> Result<Self, InputError> {
        let (columns, _) = input::open(path, &options)?;
        Ok(Self {
            path: path.to_owned(),
            name: path.display().to_string(),
            options,
            columns,
            spooled: false,
        })
    }

    /// Reads standard input to its end into a file private to this user (0600) in the
    /// temporary folder, removed when the source is dropped, so that it can be read twice.
    pub fn stdin(options: InputOptions) -> Result<Self, InputError> {
        Self::spool(std::io::stdin().lock(), "standard input", options)
    }

    /// As [`stdin`](Self::stdin), from any reader.
    pub fn spool(
        mut reader: impl Read,
        name: &str,
        options: InputOptions,
    ) -> Result<Self, InputError> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path =
            std::env::temp_dir().join(format!("profiles-input-{}-{nanos}", std::process::id()));
        let io = |source| InputError::Io {
            path: name.to_owned(),
            source,
        };
        let mut file = {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            options.open(&path).map_err(io)?
        };
        let copied = std::io::copy(&mut reader, &mut file).map_err(io);
        drop(file);
        let mut source = Self {
            path,
            name: name.to_owned(),
            options,
            columns: Vec::new(),
            spooled: true,
        };
        copied?;
        let (columns, _) =
            input::open(&source.path, &source.options).map_err(|e| e.renamed(name))?;
        source.columns = columns;
        Ok(source)
    }
}

impl Drop for FileSource {
    fn drop(&mut self) {
        if self.spooled {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

impl RowSource for FileSource {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn columns(&self) -> &[String] {
        &self.columns
    }

    fn rows(&mut self) -> Result<RowStream, InputError> {
        let (_, rows) =
            input::reopen(&self.path, &self.options).map_err(|e| e.renamed(&self.name))?;
        Ok(Box::pin(stream::iter(rows)))
    }
}

/// What [`Filtered`] keeps: a test on a row's columns.
pub type RowTest =
    std::sync::Arc<dyn Fn(&serde_json::Map<String, serde_json::Value>) -> bool + Send + Sync>;

/// The rows of another source that pass a test (one person's, for `profiles sync --only`);
/// rows that cannot be read are left out too.
pub struct Filtered<S> {
    inner: S,
    keep: RowTest,
}

impl<S> Filtered<S> {
    /// The rows of `inner` that `keep` keeps.
    pub fn new(inner: S, keep: RowTest) -> Self {
        Self { inner, keep }
    }
}

impl<S: std::fmt::Debug> std::fmt::Debug for Filtered<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Filtered")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<S: RowSource> RowSource for Filtered<S> {
    fn name(&self) -> String {
        self.inner.name()
    }

    fn columns(&self) -> &[String] {
        self.inner.columns()
    }

    fn rows(&mut self) -> Result<RowStream, InputError> {
        use futures_util::StreamExt;
        let keep = self.keep.clone();
        Ok(self
            .inner
            .rows()?
            .filter(move |raw| {
                let kept = matches!(raw, Ok((_, row)) if keep(row));
                std::future::ready(kept)
            })
            .boxed())
    }
}

#[cfg(feature = "postgres")]
mod query;
#[cfg(feature = "postgres")]
pub use query::QuerySource;
