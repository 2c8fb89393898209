//! The Capture client: builds requests, sends them, reads `stat`.

use profile_core::{
    ApiClient, ApiRequest, ApiResponse, BaseUrl, ClientConfig, ClientSettings, Error, RateLimit,
};
use serde_json::Value;

use crate::response::read;
use crate::{CaptureAuth, CaptureRequests, EntityRead, EntityReplace, EntityUpdate};

/// Capture limits simultaneous calls (error 510) rather than calls a minute; by default the
/// client keeps at most this many in flight.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 8;

/// Settings of a [`CaptureClient`]: the shared ones through [`ClientSettings`] (retry,
/// rate limit, HTTP, transport, and the clock that also dates signed requests).
#[derive(Debug)]
pub struct CaptureClientBuilder {
    base_url: BaseUrl,
    auth: CaptureAuth,
    config: ClientConfig,
}

impl ClientSettings for CaptureClientBuilder {
    fn config_mut(&mut self) -> &mut ClientConfig {
        &mut self.config
    }
}

impl CaptureClientBuilder {
    /// Builds the client.
    pub fn build(self) -> Result<CaptureClient, Error> {
        self.auth.check().map_err(Error::invalid_input)?;
        let clock = self.config.clock_ref().clone();
        Ok(CaptureClient {
            requests: CaptureRequests::new(self.base_url, self.auth, clock),
            core: self.config.build()?,
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
    core: ApiClient,
}

impl CaptureClient {
    /// Starts building a client for the application at `base_url`
    /// (`https://{app}.janraincapture.com`), with at most [`DEFAULT_MAX_IN_FLIGHT`] calls in
    /// flight by default.
    pub fn builder(base_url: BaseUrl, auth: CaptureAuth) -> CaptureClientBuilder {
        CaptureClientBuilder {
            base_url,
            auth,
            config: ClientConfig::new()
                .rate_limit(RateLimit::unlimited().with_max_in_flight(DEFAULT_MAX_IN_FLIGHT)),
        }
    }

    /// The request builders, for inspecting or printing a request without sending it.
    pub fn requests(&self) -> &CaptureRequests {
        &self.requests
    }

    /// Sends a request built by [`CaptureClient::requests`] once (through the rate limit,
    /// without retrying) and returns the answer as it came.
    pub async fn send(&self, request: &ApiRequest) -> Result<ApiResponse, Error> {
        self.core.send_once(request).await
    }

    /// Sends a request (retrying as the policy says) and reads its `stat: ok` body.
    async fn call(&self, request: ApiRequest) -> Result<Value, Error> {
        self.core
            .execute(&request, |response, now| read(&request, response, now))
            .await
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
