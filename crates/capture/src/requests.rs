//! Every Capture call as a pure function from input to [`ApiRequest`].

use std::borrow::Cow;
use std::sync::Arc;

use profile_core::time::Clock;
use profile_core::{ApiRequest, BaseUrl, Error, HeaderValue, Idempotency, Method};

use crate::{
    CaptureAuth, EntityBulkCreate, EntityCount, EntityCreate, EntityDelete, EntityFind, EntityRead,
    EntityReplace, EntityUpdate,
};

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
            let date = signing_date(self.clock.now());
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

    /// `POST /entity.find`: a page of the records a filter passes.
    pub fn find(&self, find: &EntityFind) -> Result<ApiRequest, Error> {
        Ok(self.post(
            "entity_find",
            "/entity.find",
            find.form()?,
            Idempotency::Idempotent,
        ))
    }

    /// `POST /entity.count`: how many records a filter passes.
    pub fn count(&self, count: &EntityCount) -> Result<ApiRequest, Error> {
        Ok(self.post(
            "entity_count",
            "/entity.count",
            count.form()?,
            Idempotency::Idempotent,
        ))
    }

    /// `POST /entity.delete`: deleting twice leaves the record as deleted once (the second
    /// answers 310).
    pub fn delete(&self, delete: &EntityDelete) -> Result<ApiRequest, Error> {
        Ok(self.post(
            "entity_delete",
            "/entity.delete",
            delete.form()?,
            Idempotency::Idempotent,
        ))
    }

    /// `POST /entity.create`: not idempotent (a second one would create a second record, or
    /// be refused as a unique violation), so never sent again once it may have arrived.
    pub fn create(&self, create: &EntityCreate) -> Result<ApiRequest, Error> {
        Ok(self.post(
            "entity_create",
            "/entity.create",
            create.form()?,
            Idempotency::NotIdempotent,
        ))
    }

    /// `POST /entity.bulkCreate`: many records in one call (not idempotent).
    pub fn bulk_create(&self, bulk: &EntityBulkCreate) -> Result<ApiRequest, Error> {
        Ok(self.post(
            "entity_bulk_create",
            "/entity.bulkCreate",
            bulk.form()?,
            Idempotency::NotIdempotent,
        ))
    }

    /// `POST /entityType`: the schema of an entity type.
    pub fn entity_type(&self, type_name: &str) -> Result<ApiRequest, Error> {
        crate::model::check_type_name(type_name)?;
        Ok(self.post(
            "entity_type",
            "/entityType",
            vec![("type_name".into(), type_name.to_owned())],
            Idempotency::Idempotent,
        ))
    }
}

/// `2000-01-01 01:01:01`: the UTC date a signed request carries (`%Y-%m-%d %H:%M:%S`).
/// A clock outside 1970 to 9999 (an injected one) is held to those years.
fn signing_date(at: std::time::SystemTime) -> String {
    use std::time::{Duration, UNIX_EPOCH};
    let last = UNIX_EPOCH + Duration::from_secs(253_402_300_799);
    humantime::format_rfc3339_seconds(at.clamp(UNIX_EPOCH, last))
        .to_string()
        .trim_end_matches('Z')
        .replacen('T', " ", 1)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn the_signing_date_is_utc_to_the_second() {
        let at = UNIX_EPOCH + Duration::new(946_688_461, 999_000_000);
        assert_eq!(super::signing_date(at), "2000-01-01 01:01:01");
        assert_eq!(super::signing_date(UNIX_EPOCH), "1970-01-01 00:00:00");
        let before = UNIX_EPOCH - Duration::from_secs(5);
        assert_eq!(super::signing_date(before), "1970-01-01 00:00:00");
        let after = UNIX_EPOCH + Duration::from_secs(300_000_000_000);
        assert_eq!(super::signing_date(after), "9999-12-31 23:59:59");
    }
}
