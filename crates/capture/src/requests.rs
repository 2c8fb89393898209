//! Every Capture call as a pure function from input to [`ApiRequest`].

use std::borrow::Cow;
use std::sync::Arc;

use profile_core::time::{Clock, UtcDateTime};
use profile_core::{ApiRequest, BaseUrl, Error, HeaderValue, Idempotency, Method};

use crate::{CaptureAuth, EntityRead, EntityReplace, EntityUpdate};

pub(crate) const VENDOR: &str = "capture";

/// Builds the requests of one Capture application. Signed requests take their `Date` from
/// the clock, so a fixed clock gives repeatable signatures (the snapshot tests use one).
#[derive(Clone, Debug)]
pub struct CaptureRequests {
    base_url: BaseUrl,
    auth: CaptureAuth,
    clock: Arc<dyn Clock>,
    // Basic and OAuth send the same `Authorization` on every request: built once, shared.
    // Signed requests sign each request afresh.
    fixed_authorization: Option<HeaderValue>,
}

impl CaptureRequests {
    /// Requests for the application at `base_url` (`https://{app}.janraincapture.com`).
    pub fn new(base_url: BaseUrl, auth: CaptureAuth, clock: Arc<dyn Clock>) -> Self {
        let fixed_authorization = auth.fixed_authorization();
        Self {
            base_url,
            auth,
            clock,
            fixed_authorization,
        }
    }

    fn post(
        &self,
        operation: &'static str,
        path: &'static str,
        fields: Vec<(Cow<'static, str>, String)>,
        idempotency: Idempotency,
    ) -> ApiRequest {
        // Signed over the fields, so before they move into the body.
        let signed = if self.fixed_authorization.is_none() {
            let date = UtcDateTime::from_system_time(self.clock.now()).date_time();
            self.auth.signed_headers(path, &date, &fields)
        } else {
            None
        };
        let mut request = ApiRequest::new(VENDOR, operation, Method::Post, &self.base_url, path)
            .header("accept", "application/json")
            .form(fields)
            .idempotency(idempotency);
        if let Some(authorization) = &self.fixed_authorization {
            request = request.header("authorization", authorization.clone());
        }
        for (name, value) in signed.into_iter().flatten() {
            request = request.header(name, value);
        }
        request
    }

    /// `POST /entity.update`. Not idempotent when it may append to a plural (see
    /// [`EntityValues::may_append_to_plural`](crate::EntityValues::may_append_to_plural)):
    /// the retry layer then never resends it once it may have arrived.
    pub fn update(&self, update: &EntityUpdate) -> Result<ApiRequest, Error> {
        let idempotency = if update.values().may_append_to_plural() {
            Idempotency::NotIdempotent
        } else {
            Idempotency::Idempotent
        };
        Ok(self.post(
            "entity_update",
            "/entity.update",
            update.form()?,
            idempotency,
        ))
    }

    /// `POST /entity`: reads one record (or the part under a path).
    pub fn entity(&self, read: &EntityRead) -> Result<ApiRequest, Error> {
        Ok(self.post("entity", "/entity", read.form()?, Idempotency::Idempotent))
    }

    /// `POST /entity.replace`: sending the same replace twice leaves the same values.
    pub fn replace(&self, replace: &EntityReplace) -> Result<ApiRequest, Error> {
        Ok(self.post(
            "entity_replace",
            "/entity.replace",
            replace.form()?,
            Idempotency::Idempotent,
        ))
    }
}
