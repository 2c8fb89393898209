use std::borrow::Cow;
use std::time::Duration;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use reqwest::header::{self, HeaderName};

use super::Transport;
use crate::{ApiRequest, ApiResponse, Body, Error, Method};

/// Settings of the real HTTP transport.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct HttpConfig {
    /// How long to wait for a connection (TCP and TLS).
    pub connect_timeout: Duration,
    /// How long one request may take from start to the last byte of the response.
    pub request_timeout: Duration,
    /// How long an idle pooled connection is kept.
    pub pool_idle_timeout: Duration,
    /// The largest response body accepted; a larger one is an
    /// [`Error::ResponseTooLarge`], read no further.
    pub max_response_bytes: usize,
    /// The largest request body sent; a larger one is refused with
    /// [`Error::InvalidInput`] before anything is sent.
    pub max_request_bytes: usize,
    /// The `User-Agent` sent with every request.
    pub user_agent: String,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            pool_idle_timeout: Duration::from_secs(90),
            max_response_bytes: 8 * 1024 * 1024,
            max_request_bytes: 4 * 1024 * 1024,
            user_agent: concat!("profile-toolkit/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

impl HttpConfig {
    /// Sets the connect timeout.
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets the whole-request timeout.
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Sets the response body limit.
    pub fn with_max_response_bytes(mut self, limit: usize) -> Self {
        self.max_response_bytes = limit;
        self
    }

    /// Sets the request body limit.
    pub fn with_max_request_bytes(mut self, limit: usize) -> Self {
        self.max_request_bytes = limit;
        self
    }
}

/// The real transport: reqwest over rustls, gzip, pooled keep-alive connections, connect
/// and request timeouts, no redirects (a vendor API that redirects is answered with
/// [`Error::UnexpectedResponse`] rather than followed to another host with our
/// credentials), and no retry of reqwest's own: every attempt is the retry loop's
/// ([`crate::RetryPolicy`]), which knows which writes may be sent again.
#[derive(Clone, Debug)]
pub struct HttpTransport {
    client: reqwest::Client,
    max_response_bytes: usize,
    max_request_bytes: usize,
}

impl HttpTransport {
    /// A transport with these settings.
    pub fn new(config: &HttpConfig) -> Result<Self, Error> {
        let client = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .pool_idle_timeout(config.pool_idle_timeout)
            .redirect(reqwest::redirect::Policy::none())
            // reqwest's own retry (of HTTP/2 refusals, which an HTTP/1.1 client never gets)
            // would copy every request in case; the retry loop above decides alone.
            .retry(reqwest::retry::never().max_retries_per_request(0))
            .user_agent(config.user_agent.clone())
            .gzip(true)
            .build()
            .map_err(|e| Error::invalid_input(e.without_url()))?;
        Ok(Self {
            client,
            max_response_bytes: config.max_response_bytes,
            max_request_bytes: config.max_request_bytes,
        })
    }

    /// A transport with the default settings.
    pub fn with_defaults() -> Result<Self, Error> {
        Self::new(&HttpConfig::default())
    }
}

fn method(method: Method) -> reqwest::Method {
    match method {
        Method::Get => reqwest::Method::GET,
        Method::Post => reqwest::Method::POST,
        Method::Put => reqwest::Method::PUT,
        Method::Patch => reqwest::Method::PATCH,
        Method::Delete => reqwest::Method::DELETE,
    }
}

/// Sorts a reqwest error by how far the request got. The URL is stripped first: it may
/// carry personal data in its query string.
fn classify(request: &ApiRequest, error: reqwest::Error) -> Error {
    let (vendor, operation) = (request.vendor(), request.operation());
    if error.is_builder() {
        return Error::invalid_input(error.without_url());
    }
    if error.is_connect() {
        return Error::Connect {
            vendor,
            operation,
            source: Box::new(error.without_url()),
        };
    }
    if error.is_timeout() {
        return Error::Timeout {
            vendor,
            operation,
            source: Box::new(error.without_url()),
        };
    }
    Error::Connection {
        vendor,
        operation,
        source: Box::new(error.without_url()),
    }
}

/// The name as `http` holds it: the names our requests carry as constants, without
/// parsing them again for every request.
fn header_name(name: &str) -> Result<HeaderName, Error> {
    Ok(match name {
        "accept" => header::ACCEPT,
        "authorization" => header::AUTHORIZATION,
        "content-type" => header::CONTENT_TYPE,
        _ => HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
            Error::invalid_input(format!("`{name}` cannot be sent as a header name"))
        })?,
    })
}

/// The value as `http` holds it. A value fixed in the program (`application/json`) is
/// checked and used where it lies; any other is copied.
fn header_value(name: &str, value: &crate::HeaderValue) -> Result<header::HeaderValue, Error> {
    let converted = match value {
        crate::HeaderValue::Plain(Cow::Borrowed(text)) => {
            header::HeaderValue::from_maybe_shared(Bytes::from_static(text.as_bytes()))
        }
        other => header::HeaderValue::from_str(other.expose()),
    };
    let mut converted = converted.map_err(|_| {
        Error::invalid_input(format!(
            "header `{name}` holds characters that cannot be sent"
        ))
    })?;
    converted.set_sensitive(value.is_secret());
    Ok(converted)
}

#[async_trait]
impl Transport for HttpTransport {
    async fn send(&self, request: &ApiRequest) -> Result<ApiResponse, Error> {
        // Built directly rather than through `RequestBuilder`, which moves itself once per
        // header and parses every name again.
        let mut outgoing = reqwest::Request::new(method(request.method()), request.parsed_url());
        let headers = outgoing.headers_mut();
        // Room for the client's own (`user-agent`, `accept-encoding`) too.
        headers.reserve(request.headers().len() + 2);
        for (name, value) in request.headers() {
            headers.append(header_name(name)?, header_value(name, value)?);
        }
        match request.body() {
            Body::Empty => {}
            body => {
                let bytes = body.encoded();
                if bytes.len() > self.max_request_bytes {
                    return Err(Error::invalid_input(format!(
                        "the request body is {} bytes, more than the limit of {} bytes (a value too large for the vendor?)",
                        bytes.len(),
                        self.max_request_bytes
                    )));
                }
                *outgoing.body_mut() = Some(bytes.into());
            }
        }
        let mut response = self
            .client
            .execute(outgoing)
            .await
            .map_err(|e| classify(request, e))?;
        let status = response.status().as_u16();
        let out = ApiResponse::new(status, bytes::Bytes::new())
            .with_header_map(std::mem::take(response.headers_mut()));
        if response
            .content_length()
            .is_some_and(|len| len > self.max_response_bytes as u64)
        {
            return Err(Error::ResponseTooLarge {
                vendor: request.vendor(),
                operation: request.operation(),
                limit: self.max_response_bytes,
            });
        }
        // Read chunk by chunk so that a body without a length cannot exceed the limit either.
        // A body that comes in one chunk (most do) is kept as it is, without a copy.
        let mut first: Option<bytes::Bytes> = None;
        let mut body = BytesMut::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| classify(request, e))? {
            let so_far = first.as_ref().map_or(0, bytes::Bytes::len) + body.len();
            if so_far + chunk.len() > self.max_response_bytes {
                return Err(Error::ResponseTooLarge {
                    vendor: request.vendor(),
                    operation: request.operation(),
                    limit: self.max_response_bytes,
                });
            }
            match first.take() {
                None if body.is_empty() => first = Some(chunk),
                None => body.extend_from_slice(&chunk),
                Some(earlier) => {
                    body.extend_from_slice(&earlier);
                    body.extend_from_slice(&chunk);
                }
            }
        }
        if let Some(only) = first {
            return Ok(out.with_body(only));
        }
        Ok(out.with_body(body.freeze()))
    }
}
