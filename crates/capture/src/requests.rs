//! Every Capture call as a pure function from input to [`ApiRequest`].

use std::sync::Arc;

use profile_core::time::{Clock, UtcDateTime};
use profile_core::{ApiRequest, BaseUrl, Error, Idempotency, Method};

use crate::{CaptureAuth, EntityRead, EntityReplace, EntityUpdate};

pub(crate) const VENDOR: &str = "capture";

/// Builds the requests of one Capture application. Signed requests take their `Date` from
/// the clock, so a fixed clock gives repeatable signatures (the snapshot tests use one).
#[derive(Clone, Debug)]
pub struct CaptureRequests {
    base_url: BaseUrl,
    auth: CaptureAuth,
    clock: Arc<dyn Clock>,
}

impl CaptureRequests {
    /// Requests for the application at `base_url` (`https://{app}.janraincapture.com`).
    pub fn new(base_url: BaseUrl, auth: CaptureAuth, clock: Arc<dyn Clock>) -> Self {
        Self {
            base_url,
            auth,
            clock,
        }
    }

    fn post(
        &self,
        operation: &'static str,
        path: &'static str,
        fields: Vec<(String, String)>,
        idempotency: Idempotency,
    ) -> ApiRequest {
        let date = UtcDateTime::from_system_time(self.clock.now()).date_time();
        let headers = self.auth.headers(path, &date, &fields);
        let mut request = ApiRequest::new(VENDOR, operation, Method::Post, &self.base_url, path)
            .header("accept", "application/json")
            .form(fields)
            .idempotency(idempotency);
        for (name, value) in headers {
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
