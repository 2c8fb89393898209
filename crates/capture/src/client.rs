//! The Capture client: builds requests, sends them, reads `stat`.

use std::sync::Arc;

use profile_core::time::{Clock, SystemClock};
use profile_core::{
    ApiRequest, ApiResponse, BaseUrl, Error, HttpConfig, RateLimit, RetryPolicy, Transport,
    TransportStack, send_decoding,
};
use serde_json::Value;

use crate::error::{classify, read};
use crate::{CaptureAuth, CaptureRequests, EntityRead, EntityReplace, EntityUpdate};

/// Capture limits simultaneous calls (error 510) rather than calls a minute; by default the
/// client keeps at most this many in flight.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 8;

/// Settings of a [`CaptureClient`].
#[derive(Debug)]
pub struct CaptureClientBuilder {
    base_url: BaseUrl,
    auth: CaptureAuth,
    clock: Arc<dyn Clock>,
    stack: TransportStack,
}

impl CaptureClientBuilder {
    /// The retry policy (default: [`RetryPolicy::default`]).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.stack = self.stack.retry(policy);
        self
    }

    /// The client-side rate limit (default: at most [`DEFAULT_MAX_IN_FLIGHT`] in flight).
    pub fn rate_limit(mut self, limit: RateLimit) -> Self {
        self.stack = self.stack.rate_limit(limit);
        self
    }

    /// Timeouts, body limit and user agent of the HTTP transport.
    pub fn http(mut self, config: HttpConfig) -> Self {
        self.stack = self.stack.http(config);
        self
    }

    /// Sends through this transport instead of real HTTP; retry, rate limit and tracing
    /// still wrap it.
    pub fn transport(mut self, transport: Arc<dyn Transport>) -> Self {
        self.stack = self.stack.base_transport(transport);
        self
    }

    /// The clock that dates signed requests.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Builds the client.
    pub fn build(self) -> Result<CaptureClient, Error> {
        self.auth.check().map_err(Error::invalid_input)?;
        Ok(CaptureClient {
            requests: CaptureRequests::new(self.base_url, self.auth, self.clock),
            transport: self.stack.classifier(classify).build()?,
        })
    }
}

/// What an `entity.update` answered.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct UpdateOutcome {
    /// The updated record (or the part under the path), when it was asked for with
    /// `include_record`.
    pub record: Option<Value>,
}

/// A client of one Capture application.
///
/// Cheap to clone; clones share connections and the rate limit.
#[derive(Clone, Debug)]
pub struct CaptureClient {
    requests: CaptureRequests,
    transport: Arc<dyn Transport>,
}

impl CaptureClient {
    /// Starts building a client for the application at `base_url`
    /// (`https://{app}.janraincapture.com`).
    pub fn builder(base_url: BaseUrl, auth: CaptureAuth) -> CaptureClientBuilder {
        CaptureClientBuilder {
            base_url,
            auth,
            clock: Arc::new(SystemClock),
            stack: TransportStack::new()
                .rate_limit(RateLimit::unlimited().with_max_in_flight(DEFAULT_MAX_IN_FLIGHT)),
        }
    }

    /// The request builders, for inspecting or printing a request without sending it.
    pub fn requests(&self) -> &CaptureRequests {
        &self.requests
    }

    /// Sends a request built by [`CaptureClient::requests`].
    pub async fn send(&self, request: &ApiRequest) -> Result<ApiResponse, Error> {
        self.transport.send(request).await
    }

    async fn call(&self, request: ApiRequest) -> Result<Value, Error> {
        let (response, decoded) = send_decoding::<Value>(&*self.transport, &request).await?;
        read(&request, &response, decoded)
    }

    /// Updates the attributes named in `update`, leaving the others alone.
    pub async fn update(&self, update: &EntityUpdate) -> Result<UpdateOutcome, Error> {
        let mut body = self.call(self.requests.update(update)?).await?;
        Ok(UpdateOutcome {
            record: body.get_mut("result").map(Value::take),
        })
    }

    /// Reads a record (or the part under a path).
    pub async fn entity(&self, read: &EntityRead) -> Result<Value, Error> {
        let request = self.requests.entity(read)?;
        let (vendor, operation) = (request.vendor(), request.operation());
        let mut body = self.call(request).await?;
        body.get_mut("result")
            .map(Value::take)
            .ok_or_else(|| Error::UnexpectedResponse {
                vendor,
                operation,
                status: 200,
                reason: "the answer has no `result`".to_owned(),
                source: None,
            })
    }

    /// Replaces a record (or the part under a path).
    pub async fn replace(&self, replace: &EntityReplace) -> Result<UpdateOutcome, Error> {
        let mut body = self.call(self.requests.replace(replace)?).await?;
        Ok(UpdateOutcome {
            record: body.get_mut("result").map(Value::take),
        })
    }
}
