//! The Capture client: builds requests, sends them, reads `stat`.

use futures_util::Stream;
use profile_core::{
    ApiClient, ApiRequest, ApiResponse, BaseUrl, ClientConfig, ClientSettings, Error, Page,
    RateLimit, paginate,
};
use serde_json::Value;

use crate::response::read;
use crate::{
    BulkCreated, CaptureAuth, CaptureRequests, Created, EntityBulkCreate, EntityCount,
    EntityCreate, EntityDelete, EntityFind, EntityRead, EntityReplace, EntityType, EntityUpdate,
};

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
    /// Requests this client (and its clones) has sent so far, each attempt counted.
    pub fn requests_sent(&self) -> u64 {
        self.core.requests_sent()
    }

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

    /// One page of the records a filter passes (`entity.find`).
    ///
    /// Find is eventually consistent at Akamai: a record just created can be missing for
    /// minutes, so "not found by find" never means "create it".
    pub async fn find(&self, find: &EntityFind) -> Result<Vec<Value>, Error> {
        let request = self.requests.find(find)?;
        let (vendor, operation) = (request.vendor(), request.operation());
        let mut body = self.call(request).await?;
        match body.get_mut("results").map(Value::take) {
            Some(Value::Array(results)) => Ok(results),
            _ => Err(Error::UnexpectedResponse {
                vendor,
                operation,
                status: 200,
                reason: "the answer has no `results` array".to_owned(),
                source: None,
            }),
        }
    }

    /// Every record of `type_name` that `filter` (if any) passes, with only the
    /// attributes `only` names (all when empty), `page_size` at a time: paged by id
    /// (`sort_on=["id"]`, `filter=id > {last id}`), the method Akamai recommends for large
    /// sets, as a stream with one page in memory at a time.
    pub fn find_all(
        &self,
        type_name: &str,
        filter: Option<&str>,
        only: &[&str],
        page_size: u32,
    ) -> impl Stream<Item = Result<Value, Error>> + Send + 'static {
        let client = self.clone();
        let type_name = type_name.to_owned();
        let filter = filter.map(|f| format!("({f}) and "));
        let mut only: Vec<String> = only.iter().map(|s| (*s).to_owned()).collect();
        if !only.is_empty() && !only.iter().any(|name| name == "id") {
            only.push("id".to_owned());
        }
        let page_size = page_size.clamp(1, crate::MAX_FIND_RESULTS);
        paginate("capture", "find_all", move |cursor: Option<String>| {
            let (client, type_name, filter, only) = (
                client.clone(),
                type_name.clone(),
                filter.clone(),
                only.clone(),
            );
            async move {
                let last: u64 = cursor.as_deref().and_then(|c| c.parse().ok()).unwrap_or(0);
                let find = EntityFind::new(type_name)
                    .filter(format!("{}id > {last}", filter.unwrap_or_default()))
                    .sort_on(["id"])
                    .only(only)
                    .max_results(page_size);
                let items = client.find(&find).await?;
                let next = items
                    .last()
                    .and_then(|record| record.get("id"))
                    .and_then(Value::as_u64)
                    .filter(|_| items.len() as u32 == page_size)
                    .map(|id| id.to_string());
                Ok(Page {
                    items,
                    next_cursor: next,
                })
            }
        })
    }

    /// How many records a filter passes (`entity.count`; eventually consistent).
    pub async fn count(&self, count: &EntityCount) -> Result<u64, Error> {
        let request = self.requests.count(count)?;
        let (vendor, operation) = (request.vendor(), request.operation());
        let body = self.call(request).await?;
        body.get("total_count")
            .and_then(Value::as_u64)
            .ok_or_else(|| Error::UnexpectedResponse {
                vendor,
                operation,
                status: 200,
                reason: "the answer has no `total_count`".to_owned(),
                source: None,
            })
    }

    /// Deletes a record (`entity.delete`).
    pub async fn delete(&self, delete: &EntityDelete) -> Result<(), Error> {
        self.call(self.requests.delete(delete)?).await.map(drop)
    }

    /// Creates a record (`entity.create`) and returns its id and uuid. Never sent twice
    /// once it may have arrived: after an error that [`Error::may_have_applied`], look the
    /// record up by its key before creating it again.
    pub async fn create(&self, create: &EntityCreate) -> Result<Created, Error> {
        let request = self.requests.create(create)?;
        let (vendor, operation) = (request.vendor(), request.operation());
        let body = self.call(request).await?;
        serde_json::from_value(body).map_err(|e| Error::UnexpectedResponse {
            vendor,
            operation,
            status: 200,
            reason: "the answer has no `id` and `uuid`".to_owned(),
            source: Some(Box::new(e)),
        })
    }

    /// Creates many records in one call (`entity.bulkCreate`): each record's result, in
    /// the order sent. A record refused for its values (a unique value taken) is
    /// [`BulkCreated::Refused`]; the others are created all the same.
    pub async fn bulk_create(&self, bulk: &EntityBulkCreate) -> Result<Vec<BulkCreated>, Error> {
        let request = self.requests.bulk_create(bulk)?;
        let (vendor, operation) = (request.vendor(), request.operation());
        let body = self.call(request).await?;
        let unexpected = |reason: String| Error::UnexpectedResponse {
            vendor,
            operation,
            status: 200,
            reason,
            source: None,
        };
        let uuids = body
            .get("uuid_results")
            .and_then(Value::as_array)
            .ok_or_else(|| unexpected("the answer has no `uuid_results`".to_owned()))?;
        if uuids.len() != bulk.len() {
            return Err(unexpected(format!(
                "{} results for {} records",
                uuids.len(),
                bulk.len()
            )));
        }
        let ids = body.get("results").and_then(Value::as_array);
        Ok(uuids
            .iter()
            .enumerate()
            .map(|(at, result)| match result {
                Value::String(uuid) => BulkCreated::Created {
                    uuid: uuid.clone(),
                    id: ids.and_then(|ids| ids.get(at)).and_then(Value::as_u64),
                },
                other => BulkCreated::Refused {
                    code: other.get("code").and_then(Value::as_u64),
                    description: other
                        .get("error_description")
                        .and_then(Value::as_str)
                        .unwrap_or("refused, with no description")
                        .to_owned(),
                },
            })
            .collect())
    }

    /// The schema of an entity type (`entityType`).
    pub async fn entity_type(&self, type_name: &str) -> Result<EntityType, Error> {
        let request = self.requests.entity_type(type_name)?;
        let (vendor, operation) = (request.vendor(), request.operation());
        let mut body = self.call(request).await?;
        let schema = body.get_mut("schema").map(Value::take).unwrap_or_default();
        serde_json::from_value(schema).map_err(|e| Error::UnexpectedResponse {
            vendor,
            operation,
            status: 200,
            reason: "the answer has no `schema` with `name` and `attr_defs`".to_owned(),
            source: Some(Box::new(e)),
        })
    }
}
