//! What a command can fail with, and the exit code each failure gets.
//!
//! | exit | when |
//! |---|---|
//! | 0 | the command did what it was asked (a sync: every row succeeded or was unchanged) |
//! | 1 | the vendor refused, or the network failed (a sync: some rows failed) |
//! | 2 | usage, configuration or input: nothing was sent, or the sync did not start |
//! | 3 | a sync stopped: the credentials were refused, or the vendor could not be reached for many rows in a row; the rows left are done by the next run |
//! | 4 | a mirror's leavers were held by the mass-leaver guard: nothing was done to any leaver (`--allow-leavers N` approves them) |
//! | 130 | a sync interrupted by Ctrl-C: the rows in flight were finished, the summary and report written |

use std::error::Error as _;
use std::fmt;

use profile_core::BaseUrl;

/// A command's failure.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    /// The flags, the environment or the input do not make a command that can run: nothing
    /// was sent.
    #[error("{0}")]
    Usage(String),
    /// The vendor could not be reached: which host, and why.
    #[error("cannot reach {endpoint}: {why}")]
    Unreachable {
        /// `host:port`.
        endpoint: String,
        /// Refused, DNS, TLS or timeout, in words.
        why: Unreachable,
        #[source]
        source: profile_core::Error,
    },
    /// The vendor answered with a refusal, or the exchange failed on the way.
    #[error(transparent)]
    Vendor(profile_core::Error),
    /// Anything else that stopped a command that had started (an emulator that could not
    /// listen, a demo step that did not behave).
    #[error("{0}")]
    Failed(String),
    /// A sync stopped before its last row for a reason no row survives: the credentials
    /// refused, or the vendor unreachable.
    #[error(
        "the sync stopped: {0}; fix it and run the same command again: the rows left are done then"
    )]
    Stopped(String),
    /// The mass-leaver guard held a mirror's leavers back.
    #[error("{0}")]
    LeaversHeld(String),
    /// Another run holds the sync's scope in its state.
    #[error("{0}")]
    Busy(String),
    /// Ctrl-C: the rows in flight were finished, the summary and report written.
    #[error(
        "interrupted: the rows in flight were finished; run the same command again to do the rest"
    )]
    Interrupted,
}

/// Why a vendor could not be reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unreachable {
    Refused,
    Dns,
    Tls,
    Timeout,
    Other,
}

impl fmt::Display for Unreachable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Unreachable::Refused => "connection refused (is the server running on that port?)",
            Unreachable::Dns => "DNS lookup failed (is the host name right?)",
            Unreachable::Tls => {
                "TLS handshake failed (is it an https server with a valid certificate?)"
            }
            Unreachable::Timeout => "timed out (is the host reachable from here?)",
            Unreachable::Other => "connection failed",
        })
    }
}

impl From<String> for CliError {
    fn from(message: String) -> Self {
        CliError::Usage(message)
    }
}

impl From<&str> for CliError {
    fn from(message: &str) -> Self {
        CliError::Usage(message.to_owned())
    }
}

impl CliError {
    /// The exit code of the table above.
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => 2,
            CliError::Vendor(error) if error.is_invalid_input() => 2,
            CliError::Unreachable { .. } | CliError::Vendor(_) | CliError::Failed(_) => 1,
            CliError::Stopped(_) => 3,
            CliError::LeaversHeld(_) => 4,
            CliError::Busy(_) => 5,
            CliError::Interrupted => 130,
        }
    }

    /// A vendor client's error, naming the host when the vendor could not be reached.
    pub(crate) fn vendor(error: profile_core::Error, base: &BaseUrl) -> Self {
        let why = match &error {
            profile_core::Error::Timeout { .. } => Unreachable::Timeout,
            profile_core::Error::Connect { .. } => why_unreachable(&error),
            _ => return CliError::Vendor(error),
        };
        CliError::Unreachable {
            endpoint: endpoint(base),
            why,
            source: error,
        }
    }

    /// The message with its causes, one a line, as printed on stderr.
    pub(crate) fn report(&self) -> String {
        let mut text = format!("error: {self}");
        let mut cause = self.source();
        // A transparent variant's first source is itself.
        if matches!(self, CliError::Vendor(_)) {
            cause = cause.and_then(|c| c.source());
        }
        let mut last = self.to_string();
        while let Some(error) = cause {
            let line = error.to_string();
            if !last.contains(&line) {
                text.push_str(&format!("\n  caused by: {line}"));
            }
            last = line;
            cause = error.source();
        }
        text
    }
}

/// `host:port` of a base URL (the port the scheme implies when none is written).
fn endpoint(base: &BaseUrl) -> String {
    let url = url::Url::parse(base.as_str()).ok();
    let host = url
        .as_ref()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    let port = url.as_ref().and_then(url::Url::port_or_known_default);
    match port {
        Some(port) => format!("{host}:{port}"),
        None => host,
    }
}

/// Reads the causes of a connect failure: an I/O error that says refused or timed out, a
/// resolver's words, or a TLS library's.
fn why_unreachable(error: &profile_core::Error) -> Unreachable {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    let mut words = String::new();
    while let Some(error) = cause {
        if let Some(io) = error.downcast_ref::<std::io::Error>() {
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => return Unreachable::Refused,
                std::io::ErrorKind::TimedOut => return Unreachable::Timeout,
                _ => {}
            }
        }
        words.push_str(&error.to_string().to_lowercase());
        words.push('\n');
        cause = error.source();
    }
    if words.contains("dns error")
        || words.contains("failed to lookup address")
        || words.contains("invalid dns name")
    {
        Unreachable::Dns
    } else if words.contains("certificate") || words.contains("tls") || words.contains("handshake")
    {
        Unreachable::Tls
    } else if words.contains("connection refused") {
        Unreachable::Refused
    } else if words.contains("timed out") {
        Unreachable::Timeout
    } else {
        Unreachable::Other
    }
}
