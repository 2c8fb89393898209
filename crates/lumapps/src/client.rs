//! The LumApps client.

use std::sync::Arc;
use std::time::Duration;

use futures_util::Stream;
use profile_core::credentials::token_authorization;
use profile_core::secrecy::SecretString;
use profile_core::{
    ApiClient, ApiRequest, BaseUrl, ClientConfig, ClientSettings, Error, HeaderValue, Page,
    paginate,
};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::response::read;
use crate::{
    DirectoryModule, FieldRef, LumAppsAuth, LumAppsInputError, LumAppsRequests, UserLocator,
    UserStatus,
};

/// A token is fetched again this long before it expires.
const REFRESH_MARGIN: Duration = Duration::from_secs(60);
/// Users fetched per page of `user/directory/list`.
pub const DEFAULT_PAGE_SIZE: u32 = 100;

/// Where a field's value lives once saved.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoredAt {
    /// `customProfile.{uuid}`.
    CustomProfile {
        /// The field's uuid.
        uuid: String,
    },
    /// `apiProfile` at the field's bound path (`organizations/title`).
    ApiProfile {
        /// The path.
        path: String,
    },
}

/// What [`LumAppsClient::update_fields`] did.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct FieldsUpdate {
    /// The user as saved.
    pub user: Map<String, Value>,
    /// For each field changed, in order: its uuid and where its value lives.
    pub stored: Vec<(String, StoredAt)>,
}

#[derive(Debug)]
struct CachedToken {
    header: HeaderValue,
    refresh_at: Instant,
}

#[derive(Debug)]
struct Inner {
    requests: LumAppsRequests,
    auth: LumAppsAuth,
    core: ApiClient,
    token: Mutex<Option<CachedToken>>,
    page_size: u32,
}

/// Settings of a [`LumAppsClient`]: the shared ones through [`ClientSettings`] (retry,
/// rate limit, HTTP, transport, clock), and the page size of listings.
#[derive(Debug)]
pub struct LumAppsClientBuilder {
    base_url: BaseUrl,
    auth: LumAppsAuth,
    config: ClientConfig,
    page_size: u32,
    organization_id: Option<String>,
}

impl ClientSettings for LumAppsClientBuilder {
    fn config_mut(&mut self) -> &mut ClientConfig {
        &mut self.config
    }
}

impl LumAppsClientBuilder {
    /// Users per page when listing a directory (default [`DEFAULT_PAGE_SIZE`]).
    pub fn page_size(mut self, page_size: u32) -> Self {
        self.page_size = page_size.max(1);
        self
    }

    /// Sends `LumApps-Organization-Id` with every call, as LumApps' own SDK does (with an
    /// application token, its customer id is sent already).
    pub fn organization_id(mut self, customer_id: impl Into<String>) -> Self {
        self.organization_id = Some(customer_id.into());
        self
    }

    /// Builds the client.
    pub fn build(self) -> Result<LumAppsClient, Error> {
        self.auth.check().map_err(Error::invalid_input)?;
        let mut requests = LumAppsRequests::new(self.base_url, &self.auth);
        if let Some(organization) = self.organization_id {
            requests = requests.with_organization_id(organization);
        }
        Ok(LumAppsClient {
            inner: Arc::new(Inner {
                requests,
                auth: self.auth,
                core: self.config.build()?,
                token: Mutex::new(None),
                page_size: self.page_size,
            }),
        })
    }
}

/// A client of one LumApps cell. Cheap to clone; clones share connections and the token.
#[derive(Clone, Debug)]
pub struct LumAppsClient {
    inner: Arc<Inner>,
}

fn users_page(mut body: Value) -> Page<Map<String, Value>> {
    page_of(&mut body, |item| match item {
        Value::Object(user) => Some(user),
        _ => None,
    })
}

/// A page of `{"items": [...], "more": bool, "cursor": "..."}`: it is the last when `more`
/// is false or missing, or when it is empty.
fn page_of<T>(body: &mut Value, decode: impl Fn(Value) -> Option<T>) -> Page<T> {
    let items: Vec<T> = match body.get_mut("items").map(Value::take) {
        Some(Value::Array(items)) => items.into_iter().filter_map(decode).collect(),
        _ => Vec::new(),
    };
    let more = body.get("more").and_then(Value::as_bool).unwrap_or(false);
    let next_cursor = body
        .get("cursor")
        .and_then(Value::as_str)
        .filter(|c| more && !c.is_empty() && !items.is_empty())
        .map(str::to_owned);
    Page { items, next_cursor }
}

impl LumAppsClient {
    /// Requests this client (and its clones) has sent so far, each attempt counted.
    pub fn requests_sent(&self) -> u64 {
        self.inner.core.requests_sent()
    }

    /// Users per page when listing a directory.
    pub(crate) fn page_size(&self) -> u32 {
        self.inner.page_size
    }

    /// Starts building a client for the cell at `base_url`
    /// (`https://go-cell-001.api.lumapps.com`).
    pub fn builder(base_url: BaseUrl, auth: LumAppsAuth) -> LumAppsClientBuilder {
        LumAppsClientBuilder {
            base_url,
            auth,
            config: ClientConfig::new(),
            page_size: DEFAULT_PAGE_SIZE,
            organization_id: None,
        }
    }

    /// The request builders, for inspecting or printing a request without sending it.
    pub fn requests(&self) -> &LumAppsRequests {
        &self.inner.requests
    }

    /// The application token's `Authorization` to send now (fetched when missing, near
    /// expiry, or `force`d after a 401); `None` with a bearer token, which the request
    /// builders already carry.
    async fn application_authorization(&self, force: bool) -> Result<Option<HeaderValue>, Error> {
        let LumAppsAuth::Application {
            customer_id,
            client_id,
            client_secret,
            user_email,
        } = &self.inner.auth
        else {
            return Ok(None);
        };
        let mut cached = self.inner.token.lock().await;
        if let Some(token) = cached
            .as_ref()
            .filter(|t| !force && Instant::now() < t.refresh_at)
        {
            return Ok(Some(token.header.clone()));
        }
        let request = self.inner.requests.application_token(
            customer_id,
            client_id,
            client_secret,
            user_email,
        )?;
        let (token, expires_in) = self
            .inner
            .core
            .execute(&request, |response, now| {
                let body: Value = read(&request, response, now)?;
                match body.get("access_token").and_then(Value::as_str) {
                    Some(token) => Ok((
                        token.to_owned(),
                        body.get("expires_in")
                            .and_then(Value::as_u64)
                            .unwrap_or(3_600),
                    )),
                    None => Err(Error::UnexpectedResponse {
                        vendor: request.vendor(),
                        operation: request.operation(),
                        status: response.status(),
                        reason: "the answer has no access_token".to_owned(),
                        source: None,
                    }),
                }
            })
            .await?;
        let lifetime = Duration::from_secs(expires_in);
        let header = token_authorization("Bearer", &SecretString::from(token));
        *cached = Some(CachedToken {
            header: header.clone(),
            // Short-lived tokens are refreshed at half their life rather than never.
            refresh_at: Instant::now() + lifetime.saturating_sub(REFRESH_MARGIN.min(lifetime / 2)),
        });
        Ok(Some(header))
    }

    /// Sends a request with the client's credentials (retrying as the policy says) and
    /// returns the JSON of its answer. With an application token, a 401 fetches a new
    /// token and sends the request once more.
    async fn call<T: DeserializeOwned + Send>(&self, request: ApiRequest) -> Result<T, Error> {
        let request = match self.application_authorization(false).await? {
            Some(authorization) => request.header("authorization", authorization),
            None => request,
        };
        let result = self.execute(&request).await;
        match result {
            Err(error) if error.is_unauthorized() => {
                let Some(fresh) = self.application_authorization(true).await? else {
                    return Err(error);
                };
                self.execute(&request.header("authorization", fresh)).await
            }
            other => other,
        }
    }

    async fn execute<T: DeserializeOwned + Send>(&self, request: &ApiRequest) -> Result<T, Error> {
        self.inner
            .core
            .execute(request, |response, now| read(request, response, now))
            .await
    }

    /// Every user directory module of an instance, page after page.
    pub fn list_directories(
        &self,
        instance_id: &str,
        lang: &str,
    ) -> impl Stream<Item = Result<DirectoryModule, Error>> + Send + 'static {
        let (client, instance_id, lang) = (self.clone(), instance_id.to_owned(), lang.to_owned());
        paginate(
            "lumapps",
            "list_directories",
            move |cursor: Option<String>| {
                let (client, instance_id, lang) =
                    (client.clone(), instance_id.clone(), lang.clone());
                async move {
                    let request = client.inner.requests.list_directories(
                        &instance_id,
                        &lang,
                        cursor.as_deref(),
                    )?;
                    let mut body = client.call(request).await?;
                    let page = page_of(&mut body, Some);
                    let items = page
                        .items
                        .iter()
                        .map(DirectoryModule::from_content)
                        .collect::<Result<Vec<_>, _>>()?;
                    Ok(Page {
                        items,
                        next_cursor: page.next_cursor,
                    })
                }
            },
        )
    }

    /// One user directory module, by id. A content that is not a user directory is refused.
    pub async fn get_directory(&self, id: &str, lang: &str) -> Result<DirectoryModule, Error> {
        let content = self
            .call(self.inner.requests.get_content(id, lang)?)
            .await?;
        Ok(DirectoryModule::from_content(&content)?)
    }

    /// A user as the directory shows them.
    pub async fn get_user(
        &self,
        directory_id: &str,
        user: &UserLocator,
    ) -> Result<Map<String, Value>, Error> {
        match self
            .call(self.inner.requests.get_user(directory_id, user)?)
            .await?
        {
            Value::Object(user) => Ok(user),
            _ => Err(Error::UnexpectedResponse {
                vendor: "lumapps",
                operation: "get_user",
                status: 200,
                reason: "the user is not a JSON object".to_owned(),
                source: None,
            }),
        }
    }

    /// Saves the whole user object into the directory (with `contentId` set).
    pub async fn save_user(
        &self,
        directory_id: &str,
        user: &Map<String, Value>,
    ) -> Result<Map<String, Value>, Error> {
        match self
            .call(self.inner.requests.save_user(directory_id, user)?)
            .await?
        {
            Value::Object(saved) => Ok(saved),
            _ => Ok(user.clone()),
        }
    }

    /// Saves like [`LumAppsClient::save_user`], without building the saved user from the
    /// answer (only checked to be a whole JSON document): for a caller that has no use for
    /// it.
    pub(crate) async fn save_user_unread(
        &self,
        directory_id: &str,
        user: &Map<String, Value>,
    ) -> Result<(), Error> {
        self.call::<serde::de::IgnoredAny>(self.inner.requests.save_user(directory_id, user)?)
            .await
            .map(drop)
    }

    /// The users of a directory as LumApps lists them by default (enabled, hidden ones
    /// left out), page after page; one page in memory at a time.
    pub fn list_users(
        &self,
        directory_id: &str,
    ) -> impl Stream<Item = Result<Map<String, Value>, Error>> + Send + 'static {
        self.list_users_shown(directory_id, None, None)
    }

    /// Every user of a directory, whatever their status and hidden or not: the enabled
    /// users and the disabled ones, two listings with `showHidden` read side by side (their
    /// users interleave as their pages arrive; one page of each in memory at a time). What a
    /// sync that must see everyone it manages reads.
    pub fn list_all_users(
        &self,
        directory_id: &str,
    ) -> impl Stream<Item = Result<Map<String, Value>, Error>> + Send + 'static {
        self.list_all_users_selected(directory_id, None)
    }

    /// [`list_all_users`](Self::list_all_users), each user cut down to the parts `fields`
    /// selects: a partial response (the `fields` parameter of LumApps' API, in Google's
    /// syntax, such as `email,uid,customProfile,apiProfile/organizations/title`). The
    /// pages' own `more` and `cursor` are kept whatever the selector.
    pub fn list_all_users_partial(
        &self,
        directory_id: &str,
        fields: &str,
    ) -> impl Stream<Item = Result<Map<String, Value>, Error>> + Send + 'static {
        let selector: Arc<str> = format!("more,cursor,items({fields})").into();
        self.list_all_users_selected(directory_id, Some(selector))
    }

    fn list_all_users_selected(
        &self,
        directory_id: &str,
        selector: Option<Arc<str>>,
    ) -> impl Stream<Item = Result<Map<String, Value>, Error>> + Send + 'static {
        futures_util::stream::select(
            self.list_users_shown(directory_id, Some(UserStatus::Enabled), selector.clone()),
            self.list_users_shown(directory_id, Some(UserStatus::Disabled), selector),
        )
    }

    fn list_users_shown(
        &self,
        directory_id: &str,
        status: Option<UserStatus>,
        selector: Option<Arc<str>>,
    ) -> impl Stream<Item = Result<Map<String, Value>, Error>> + Send + 'static {
        let (client, directory_id) = (self.clone(), directory_id.to_owned());
        paginate("lumapps", "list_users", move |cursor: Option<String>| {
            let (client, directory_id, selector) =
                (client.clone(), directory_id.clone(), selector.clone());
            async move {
                let (cursor, size) = (cursor.as_deref(), client.inner.page_size);
                let requests = &client.inner.requests;
                let request = match status {
                    None => requests.list_users(&directory_id, cursor, size)?,
                    Some(status) => {
                        requests.list_users_of_status(&directory_id, cursor, size, status)?
                    }
                };
                let request = match selector {
                    Some(selector) => request.query("fields", selector.to_string()),
                    None => request,
                };
                let body = client.call(request).await?;
                Ok(users_page(body))
            }
        })
    }

    fn check_fields<'a>(
        &self,
        directory: &'a DirectoryModule,
        changes: &'a [(FieldRef, Value)],
    ) -> Result<Vec<(&'a crate::FieldSchema, &'a Value)>, Error> {
        let mut resolved = Vec::with_capacity(changes.len());
        for (field, value) in changes {
            let schema = directory.schema.resolve(field)?;
            if !schema.allows(value) {
                let name = match field {
                    FieldRef::Title { title, .. } => title.clone(),
                    FieldRef::Uuid(uuid) => uuid.clone(),
                };
                return Err(LumAppsInputError::ValueNotAvailable {
                    field: name,
                    value: value
                        .as_str()
                        .map_or_else(|| value.to_string(), str::to_owned),
                }
                .into());
            }
            resolved.push((schema, value));
        }
        Ok(resolved)
    }

    /// Writes `changes` into a user object as read (each value under
    /// `customProfile.{uuid}`), after checking them against the directory's schema, and
    /// says where LumApps keeps each. Nothing is sent.
    pub fn apply_fields(
        &self,
        directory: &DirectoryModule,
        user: &mut Map<String, Value>,
        changes: &[(FieldRef, Value)],
    ) -> Result<Vec<(String, StoredAt)>, Error> {
        let resolved = self.check_fields(directory, changes)?;
        let custom = user
            .entry("customProfile")
            .or_insert_with(|| Value::Object(Map::new()));
        if !custom.is_object() {
            *custom = Value::Object(Map::new());
        }
        let mut stored = Vec::with_capacity(resolved.len());
        if let Value::Object(custom) = custom {
            for (schema, value) in resolved {
                custom.insert(schema.uuid.clone(), value.clone());
                let at = match &schema.bound_path {
                    Some(path) => StoredAt::ApiProfile { path: path.clone() },
                    None => StoredAt::CustomProfile {
                        uuid: schema.uuid.clone(),
                    },
                };
                stored.push((schema.uuid.clone(), at));
            }
        }
        Ok(stored)
    }

    /// Sets fields of one user, the way the seed does it and without its chores: reads
    /// the user from the directory, checks every field and value against the directory's
    /// schema before sending anything, writes each value under `customProfile.{uuid}`
    /// (LumApps keeps a bound field's value under its `apiProfile` path), keeps every
    /// other property of the user as it was read, and saves.
    pub async fn update_fields(
        &self,
        directory: &DirectoryModule,
        user: &UserLocator,
        changes: &[(FieldRef, Value)],
    ) -> Result<FieldsUpdate, Error> {
        // Checked before the read, so that nothing at all is sent for bad input.
        self.check_fields(directory, changes)?;
        let mut current = self.get_user(&directory.id, user).await?;
        let stored = self.apply_fields(directory, &mut current, changes)?;
        let user = self.save_user(&directory.id, &current).await?;
        Ok(FieldsUpdate { user, stored })
    }
}
