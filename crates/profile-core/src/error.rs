//! The one error type of every vendor crate.

use std::fmt;
use std::time::Duration;

/// A boxed error source.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// How far a request got before it failed. This is what decides whether sending it again is
/// safe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendState {
    /// Nothing left the machine: the input was refused, or the connection could not be made.
    NotSent,
    /// The request may have reached the server and been applied (a timeout, a connection
    /// dropped before the whole response arrived).
    MaybeSent,
    /// The server answered.
    Sent,
}

/// The vendor-neutral class of an error the vendor answered with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ApiErrorKind {
    /// The user, profile or record does not exist.
    NotFound,
    /// The credentials were refused.
    Unauthorized,
    /// The credentials are valid but not allowed to do this.
    Forbidden,
    /// The vendor's rate limit was hit; see [`ApiError::retry_after`].
    RateLimited,
    /// An optimistic precondition (a timestamp, a version) no longer holds.
    PreconditionFailed,
    /// The request conflicts with the current state (a unique value already taken, …).
    Conflict,
    /// The vendor refused the request as malformed or invalid.
    InvalidRequest,
    /// The vendor failed on its side (500 and other 5xx).
    ServerError,
    /// The vendor is failing for now in a way that may pass (502, 503, 504; Capture's 500
    /// and 504). The request may have been applied, so only an idempotent one is sent
    /// again.
    Unavailable,
    /// Anything else.
    Other,
}

impl ApiErrorKind {
    /// The usual meaning of an HTTP status, for vendors that use HTTP statuses.
    pub fn from_status(status: u16) -> Self {
        match status {
            404 | 410 => ApiErrorKind::NotFound,
            401 => ApiErrorKind::Unauthorized,
            403 => ApiErrorKind::Forbidden,
            429 => ApiErrorKind::RateLimited,
            502..=504 => ApiErrorKind::Unavailable,
            409 => ApiErrorKind::Conflict,
            412 => ApiErrorKind::PreconditionFailed,
            400 | 405..=408 | 411 | 413..=422 => ApiErrorKind::InvalidRequest,
            500..=599 => ApiErrorKind::ServerError,
            _ => ApiErrorKind::Other,
        }
    }
}

/// An error the vendor answered with, with what it said about it.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ApiError {
    /// The vendor's short name (`"sunshine"`).
    pub vendor: &'static str,
    /// The operation that failed (`"patch_profile"`).
    pub operation: &'static str,
    /// The HTTP status (some vendors answer 200 with an error body).
    pub status: u16,
    /// The vendor-neutral class.
    pub kind: ApiErrorKind,
    /// The vendor's own error code (`"NotFound"`, `"310"`, …).
    pub code: Option<String>,
    /// The vendor's symbolic reason, beside its code (Capture's `error`, e.g.
    /// `record_not_found`).
    pub reason: Option<String>,
    /// The vendor's message.
    pub message: Option<String>,
    /// The vendor's request id, for its support team.
    pub request_id: Option<String>,
    /// How long the vendor asked us to wait before trying again.
    pub retry_after: Option<Duration>,
    /// Whether an earlier attempt of the same request may have been applied: the retry
    /// loop sent it again after a timeout, a dropped connection or a 5xx. This answer then
    /// does not prove that nothing was applied.
    pub earlier_attempt_may_have_applied: bool,
}

impl ApiError {
    /// An error with a status and a kind; add the rest with the `with_` methods.
    pub fn new(
        vendor: &'static str,
        operation: &'static str,
        status: u16,
        kind: ApiErrorKind,
    ) -> Self {
        Self {
            vendor,
            operation,
            status,
            kind,
            code: None,
            reason: None,
            message: None,
            request_id: None,
            retry_after: None,
            earlier_attempt_may_have_applied: false,
        }
    }

    /// Sets the vendor's error code.
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// Sets the vendor's symbolic reason.
    pub fn with_reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    /// Sets the vendor's message.
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }

    /// Sets the vendor's request id.
    pub fn with_request_id(mut self, request_id: Option<String>) -> Self {
        self.request_id = request_id;
        self
    }

    /// Sets the delay the vendor asked for.
    pub fn with_retry_after(mut self, retry_after: Option<Duration>) -> Self {
        self.retry_after = retry_after;
        self
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} failed with HTTP {}",
            self.vendor, self.operation, self.status
        )?;
        match (&self.code, &self.reason) {
            (Some(code), Some(reason)) => write!(f, " ({code} {reason})")?,
            (Some(one), None) | (None, Some(one)) => write!(f, " ({one})")?,
            (None, None) => {}
        }
        if let Some(message) = &self.message {
            write!(f, ": {message}")?;
        }
        if let Some(retry_after) = self.retry_after {
            write!(f, "; retry after {}s", retry_after.as_secs_f64())?;
        }
        if let Some(request_id) = &self.request_id {
            write!(f, " [request id {request_id}]")?;
        }
        if self.earlier_attempt_may_have_applied {
            write!(f, "; an earlier attempt may have been applied")?;
        }
        Ok(())
    }
}

/// Every way a call can fail.
///
/// Inspect it with the predicates ([`Error::send_state`], [`Error::is_retryable`],
/// [`Error::status`], [`Error::is_not_found`], …) rather than by matching on detail: the
/// variants may grow. No variant ever holds a credential, a full URL or a query string.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input was refused before anything was sent. The source is the vendor crate's own
    /// typed error (downcast it to match on it).
    #[error("invalid input: {0}")]
    InvalidInput(#[source] BoxError),

    /// The connection could not be made; nothing was sent.
    #[error("{vendor} {operation}: could not connect: {source}")]
    Connect {
        /// The vendor's short name.
        vendor: &'static str,
        /// The operation.
        operation: &'static str,
        /// The transport's error.
        #[source]
        source: BoxError,
    },

    /// No complete response in time; the request may have been applied.
    #[error("{vendor} {operation}: timed out; the request may have been applied")]
    Timeout {
        /// The vendor's short name.
        vendor: &'static str,
        /// The operation.
        operation: &'static str,
        /// The transport's error.
        #[source]
        source: BoxError,
    },

    /// The connection failed after the request may have left; it may have been applied.
    #[error("{vendor} {operation}: connection failed; the request may have been applied: {source}")]
    Connection {
        /// The vendor's short name.
        vendor: &'static str,
        /// The operation.
        operation: &'static str,
        /// The transport's error.
        #[source]
        source: BoxError,
    },

    /// The response body was larger than the configured limit.
    #[error("{vendor} {operation}: response body is larger than the limit of {limit} bytes")]
    ResponseTooLarge {
        /// The vendor's short name.
        vendor: &'static str,
        /// The operation.
        operation: &'static str,
        /// The limit, in bytes.
        limit: usize,
    },

    /// The vendor answered with something this crate cannot read (not JSON, the wrong
    /// shape, an unexpected status or redirect).
    #[error("{vendor} {operation}: unexpected response (HTTP {status}): {reason}")]
    UnexpectedResponse {
        /// The vendor's short name.
        vendor: &'static str,
        /// The operation.
        operation: &'static str,
        /// The HTTP status.
        status: u16,
        /// What was wrong with it.
        reason: String,
        /// The decoder's error, if any.
        #[source]
        source: Option<BoxError>,
    },

    /// A success's body ended before its JSON document did: the answer was cut short on the
    /// way, and the request may have been applied.
    #[error(
        "{vendor} {operation}: the answer (HTTP {status}) was cut short; the request may have been applied"
    )]
    CutShort {
        /// The vendor's short name.
        vendor: &'static str,
        /// The operation.
        operation: &'static str,
        /// The HTTP status.
        status: u16,
        /// The decoder's error.
        #[source]
        source: BoxError,
    },

    /// The vendor answered with an error.
    #[error("{0}")]
    Api(Box<ApiError>),

    /// A paginated listing was stopped because the server sent a cursor it had sent before.
    #[error(
        "{vendor} {operation}: the server repeated a pagination cursor; stopped to avoid an endless loop"
    )]
    RepeatedCursor {
        /// The vendor's short name.
        vendor: &'static str,
        /// The operation.
        operation: &'static str,
    },
}

impl From<ApiError> for Error {
    fn from(error: ApiError) -> Self {
        Error::Api(Box::new(error))
    }
}

impl Error {
    /// An [`Error::InvalidInput`] from a vendor crate's typed input error.
    pub fn invalid_input(source: impl Into<BoxError>) -> Self {
        Error::InvalidInput(source.into())
    }

    /// How far the request got.
    pub fn send_state(&self) -> SendState {
        match self {
            Error::InvalidInput(_) | Error::Connect { .. } => SendState::NotSent,
            Error::Timeout { .. } | Error::Connection { .. } => SendState::MaybeSent,
            Error::ResponseTooLarge { .. }
            | Error::CutShort { .. }
            | Error::UnexpectedResponse { .. }
            | Error::Api(_)
            | Error::RepeatedCursor { .. } => SendState::Sent,
        }
    }

    /// Whether the same call may succeed later: a connection that could not be made, a
    /// timeout, a rate limit, a 502/503/504, an answer cut short. Whether it is *safe* to resend also depends on
    /// the request's idempotency; see [`SendState`].
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Connect { .. }
            | Error::Timeout { .. }
            | Error::Connection { .. }
            | Error::CutShort { .. } => true,
            Error::Api(e) => matches!(
                e.kind,
                ApiErrorKind::RateLimited | ApiErrorKind::Unavailable
            ),
            _ => false,
        }
    }

    /// Whether the request may have changed something at the vendor although it ended in
    /// this error: it may have arrived and its answer was lost ([`SendState::MaybeSent`]),
    /// the vendor failed on its side (a 5xx, or Capture's 500 and 504), or it answered with
    /// a success that could not be read. A caller must read before writing again; the bulk
    /// engine reports such rows as unknown, not failed.
    pub fn may_have_applied(&self) -> bool {
        match self {
            Error::Timeout { .. } | Error::Connection { .. } => true,
            Error::ResponseTooLarge { .. } | Error::CutShort { .. } => true,
            Error::UnexpectedResponse { status, .. } => {
                (200..300).contains(status) || *status >= 500
            }
            Error::Api(e) => {
                matches!(
                    e.kind,
                    ApiErrorKind::ServerError | ApiErrorKind::Unavailable
                ) || e.earlier_attempt_may_have_applied
            }
            Error::InvalidInput(_) | Error::Connect { .. } | Error::RepeatedCursor { .. } => false,
        }
    }

    /// The same error, saying that an earlier attempt of its request may have been applied:
    /// a caller must not take "refused" or "could not connect" for "nothing happened".
    pub(crate) fn after_uncertain_attempts(self) -> Self {
        match self {
            Error::Api(mut e) => {
                e.earlier_attempt_may_have_applied = true;
                Error::Api(e)
            }
            error if !error.may_have_applied() && !error.is_invalid_input() => {
                match error.vendor_and_operation() {
                    Some((vendor, operation)) => Error::Connection {
                        vendor,
                        operation,
                        source: format!(
                            "an earlier attempt may have been applied; the last: {error}"
                        )
                        .into(),
                    },
                    None => error,
                }
            }
            error => error,
        }
    }

    fn vendor_and_operation(&self) -> Option<(&'static str, &'static str)> {
        match self {
            Error::Connect {
                vendor, operation, ..
            }
            | Error::Timeout {
                vendor, operation, ..
            }
            | Error::Connection {
                vendor, operation, ..
            }
            | Error::ResponseTooLarge {
                vendor, operation, ..
            }
            | Error::CutShort {
                vendor, operation, ..
            }
            | Error::UnexpectedResponse {
                vendor, operation, ..
            }
            | Error::RepeatedCursor { vendor, operation } => Some((vendor, operation)),
            Error::Api(e) => Some((e.vendor, e.operation)),
            Error::InvalidInput(_) => None,
        }
    }

    /// The vendor's answer, if it answered with an error.
    pub fn api_error(&self) -> Option<&ApiError> {
        match self {
            Error::Api(e) => Some(e),
            _ => None,
        }
    }

    /// The HTTP status of the response, if there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api(e) => Some(e.status),
            Error::UnexpectedResponse { status, .. } | Error::CutShort { status, .. } => {
                Some(*status)
            }
            _ => None,
        }
    }

    /// The vendor-neutral class of a vendor's error answer.
    pub fn api_kind(&self) -> Option<ApiErrorKind> {
        self.api_error().map(|e| e.kind)
    }

    /// Whether the user, profile or record does not exist.
    pub fn is_not_found(&self) -> bool {
        self.api_kind() == Some(ApiErrorKind::NotFound)
    }

    /// Whether the vendor's rate limit was hit.
    pub fn is_rate_limited(&self) -> bool {
        self.api_kind() == Some(ApiErrorKind::RateLimited)
    }

    /// Whether the credentials were refused.
    pub fn is_unauthorized(&self) -> bool {
        self.api_kind() == Some(ApiErrorKind::Unauthorized)
    }

    /// Whether no complete response came in time.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout { .. })
    }

    /// Whether the input was refused before anything was sent.
    pub fn is_invalid_input(&self) -> bool {
        matches!(self, Error::InvalidInput(_))
    }

    /// How long the vendor asked us to wait.
    pub fn retry_after(&self) -> Option<Duration> {
        self.api_error().and_then(|e| e.retry_after)
    }

    /// The vendor's own error code.
    pub fn vendor_code(&self) -> Option<&str> {
        self.api_error().and_then(|e| e.code.as_deref())
    }

    /// The vendor's request id.
    pub fn request_id(&self) -> Option<&str> {
        self.api_error().and_then(|e| e.request_id.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_state_says_how_far_the_request_got() {
        let invalid = Error::invalid_input("bad");
        assert_eq!(invalid.send_state(), SendState::NotSent);
        let timeout = Error::Timeout {
            vendor: "v",
            operation: "op",
            source: "slow".into(),
        };
        assert_eq!(timeout.send_state(), SendState::MaybeSent);
        assert!(timeout.is_timeout() && timeout.is_retryable());
        let api: Error = ApiError::new("v", "op", 404, ApiErrorKind::NotFound).into();
        assert_eq!(api.send_state(), SendState::Sent);
        assert!(api.is_not_found() && !api.is_retryable());
    }

    #[test]
    fn a_rate_limit_answer_carries_its_delay_and_is_retryable() {
        let err: Error = ApiError::new("v", "op", 429, ApiErrorKind::RateLimited)
            .with_code("TooManyRequests")
            .with_retry_after(Some(Duration::from_secs(7)))
            .into();
        assert!(err.is_retryable() && err.is_rate_limited());
        assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
        assert_eq!(err.status(), Some(429));
        assert_eq!(err.vendor_code(), Some("TooManyRequests"));
        assert_eq!(
            err.to_string(),
            "v op failed with HTTP 429 (TooManyRequests); retry after 7s"
        );
    }

    #[test]
    fn what_may_have_been_applied() {
        let api = |status| -> Error {
            ApiError::new("v", "op", status, ApiErrorKind::from_status(status)).into()
        };
        assert!(api(503).may_have_applied() && api(500).may_have_applied());
        assert!(!api(429).may_have_applied() && !api(404).may_have_applied());
        let refused_after_a_drop = api(429).after_uncertain_attempts();
        assert!(refused_after_a_drop.may_have_applied());
        assert!(
            refused_after_a_drop
                .to_string()
                .ends_with("; an earlier attempt may have been applied")
        );
        let unreadable = |status| Error::UnexpectedResponse {
            vendor: "v",
            operation: "op",
            status,
            reason: "cut short".into(),
            source: None,
        };
        assert!(unreadable(200).may_have_applied());
        assert!(!unreadable(400).may_have_applied());
        assert!(!Error::invalid_input("bad").may_have_applied());
    }

    #[test]
    fn status_classes_map_to_kinds() {
        assert_eq!(ApiErrorKind::from_status(404), ApiErrorKind::NotFound);
        assert_eq!(ApiErrorKind::from_status(401), ApiErrorKind::Unauthorized);
        assert_eq!(ApiErrorKind::from_status(422), ApiErrorKind::InvalidRequest);
        assert_eq!(ApiErrorKind::from_status(500), ApiErrorKind::ServerError);
        assert_eq!(ApiErrorKind::from_status(503), ApiErrorKind::Unavailable);
        assert_eq!(ApiErrorKind::from_status(302), ApiErrorKind::Other);
    }
}
