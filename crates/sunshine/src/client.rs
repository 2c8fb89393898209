//! The Sunshine client: builds requests, sends them, decodes the answers.

use profile_core::{
    ApiClient, ApiRequest, ApiResponse, BaseUrl, ClientConfig, ClientSettings, Error, RateLimit,
    StatedLimit,
};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::response::read;
use crate::{
    IdentifierQuery, ProfileContent, ProfileId, ProfileLocator, ProfileUpdate, SunshineAuth,
    SunshineRequests, UserId, UserProfile,
};

/// Where the client's rate limit starts: the profiles API limit of Zendesk's smallest plans
/// (Team and Growth, 250 requests a minute). The client then adopts the limit Zendesk states
/// in its answers (`X-Rate-Limit`), lower or higher: Professional 500, Enterprise 700,
/// Enterprise Plus 1,000.
pub const DEFAULT_RATE_LIMIT_PER_MINUTE: u32 = 250;

/// What a PUT did.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ReplaceOutcome {
    /// The profile as it now is.
    pub profile: UserProfile,
    /// `true` when nothing matched and the profile was created (201); `false` when an
    /// existing profile's content was replaced (200).
    pub created: bool,
}

#[derive(Deserialize)]
struct ProfileEnvelope {
    profile: UserProfile,
}

/// The profile as a JSON object, for the vendor-neutral layer.
#[derive(Deserialize)]
struct ProfileFieldsEnvelope {
    profile: serde_json::Map<String, serde_json::Value>,
}

#[derive(Deserialize)]
struct ProfilesEnvelope {
    profiles: Vec<UserProfile>,
}

/// Settings of a [`SunshineClient`]: the shared ones through [`ClientSettings`] (retry,
/// rate limit, HTTP, transport, clock).
#[derive(Debug)]
pub struct SunshineClientBuilder {
    base_url: BaseUrl,
    auth: SunshineAuth,
    config: ClientConfig,
}

impl ClientSettings for SunshineClientBuilder {
    fn config_mut(&mut self) -> &mut ClientConfig {
        &mut self.config
    }
}

impl SunshineClientBuilder {
    /// Builds the client.
    pub fn build(self) -> Result<SunshineClient, Error> {
        self.auth.check().map_err(Error::invalid_input)?;
        Ok(SunshineClient {
            requests: SunshineRequests::new(self.base_url, &self.auth),
            core: self.config.build()?,
        })
    }
}

/// A client of one Zendesk account's user profiles.
///
/// Cheap to clone; clones share connections and the rate limit.
#[derive(Clone, Debug)]
pub struct SunshineClient {
    requests: SunshineRequests,
    core: ApiClient,
}

impl SunshineClient {
    /// Requests this client (and its clones) has sent so far, each attempt counted.
    pub fn requests_sent(&self) -> u64 {
        self.core.requests_sent()
    }

    /// Starts building a client for the account at `base_url`
    /// (`https://{subdomain}.zendesk.com`), limited by default to
    /// [`DEFAULT_RATE_LIMIT_PER_MINUTE`] until Zendesk states the account's limit, which it
    /// then follows ([`StatedLimit::Adopt`]). A limit of your own
    /// (`.rate_limit(RateLimit::per_minute(n).following(StatedLimit::LowerOnly))`) is a
    /// ceiling that a lower stated limit still lowers.
    pub fn builder(base_url: BaseUrl, auth: SunshineAuth) -> SunshineClientBuilder {
        SunshineClientBuilder {
            base_url,
            auth,
            config: ClientConfig::new().rate_limit(
                RateLimit::per_minute(DEFAULT_RATE_LIMIT_PER_MINUTE).following(StatedLimit::Adopt),
            ),
        }
    }

    /// The request builders, for inspecting or printing a request without sending it.
    pub fn requests(&self) -> &SunshineRequests {
        &self.requests
    }

    /// Sends a request built by [`SunshineClient::requests`] once (through the rate limit,
    /// without retrying) and returns the answer as it came.
    pub async fn send(&self, request: &ApiRequest) -> Result<ApiResponse, Error> {
        self.core.send_once(request).await
    }

    /// Sends a request (retrying as the policy says) and decodes its answer.
    async fn call<T: DeserializeOwned + Send>(
        &self,
        request: ApiRequest,
    ) -> Result<(T, u16), Error> {
        self.core
            .execute(&request, |response, now| {
                let body = read(&request, response, now)?;
                Ok((body, response.status()))
            })
            .await
    }

    /// Sends a request whose answer is `{"profile": {...}}` and returns the profile as a
    /// JSON object (for the vendor-neutral layer).
    pub(crate) async fn profile_fields(
        &self,
        request: ApiRequest,
    ) -> Result<serde_json::Map<String, serde_json::Value>, Error> {
        Ok(self.call::<ProfileFieldsEnvelope>(request).await?.0.profile)
    }

    /// Reads one profile. A profile that does not exist is an error with
    /// [`Error::is_not_found`].
    pub async fn get_profile(&self, locator: &ProfileLocator) -> Result<UserProfile, Error> {
        let (envelope, _) = self
            .call::<ProfileEnvelope>(self.requests.get_profile(locator))
            .await?;
        Ok(envelope.profile)
    }

    /// Every profile of one Zendesk user.
    pub async fn list_user_profiles(&self, user: UserId) -> Result<Vec<UserProfile>, Error> {
        let (envelope, _) = self
            .call::<ProfilesEnvelope>(self.requests.list_user_profiles(user))
            .await?;
        Ok(envelope.profiles)
    }

    /// Merges `update` into the profile and returns the result; 404 (not found) when no
    /// profile matches.
    pub async fn patch_profile(
        &self,
        locator: &ProfileLocator,
        update: &ProfileUpdate,
    ) -> Result<UserProfile, Error> {
        let request = self.requests.patch_profile(locator, update)?;
        Ok(self.call::<ProfileEnvelope>(request).await?.0.profile)
    }

    /// Replaces the content of the profile `query` finds, or creates it.
    pub async fn create_or_replace(
        &self,
        query: &IdentifierQuery,
        content: &ProfileContent,
    ) -> Result<ReplaceOutcome, Error> {
        let request = self.requests.create_or_replace(query, content)?;
        let (envelope, status) = self.call::<ProfileEnvelope>(request).await?;
        Ok(ReplaceOutcome {
            profile: envelope.profile,
            created: status == 201,
        })
    }

    /// The same as [`SunshineClient::create_or_replace`], for a given Zendesk user.
    pub async fn create_or_replace_for_user(
        &self,
        user: UserId,
        query: &IdentifierQuery,
        content: &ProfileContent,
    ) -> Result<ReplaceOutcome, Error> {
        let request = self
            .requests
            .create_or_replace_for_user(user, query, content)?;
        let (envelope, status) = self.call::<ProfileEnvelope>(request).await?;
        Ok(ReplaceOutcome {
            profile: envelope.profile,
            created: status == 201,
        })
    }

    /// Replaces the content of an existing profile (its id and `created_at` stay).
    pub async fn replace_profile(
        &self,
        id: &ProfileId,
        content: &ProfileContent,
    ) -> Result<UserProfile, Error> {
        let request = self.requests.replace_profile(id, content)?;
        Ok(self.call::<ProfileEnvelope>(request).await?.0.profile)
    }

    /// Deletes a profile.
    pub async fn delete_profile(&self, id: &ProfileId) -> Result<(), Error> {
        let request = self.requests.delete_profile(id);
        self.core
            .execute(&request, |response, now| {
                if response.is_success() {
                    return Ok(());
                }
                Err(crate::response::error_from(&request, response, now))
            })
            .await
    }

    /// The safe full replace Zendesk recommends: reads the profile, lets `edit` change its
    /// content, and replaces it by id, so that nothing `edit` leaves alone is lost.
    ///
    /// Zendesk offers no precondition on a PUT, so a change made by someone else between
    /// the read and the replace is overwritten; prefer
    /// [`SunshineClient::patch_profile`] where a merge is enough.
    pub async fn merge_and_replace<F>(
        &self,
        locator: &ProfileLocator,
        edit: F,
    ) -> Result<UserProfile, Error>
    where
        F: FnOnce(&mut ProfileContent) + Send,
    {
        let current = self.get_profile(locator).await?;
        let id = ProfileId::new(current.id.clone()).map_err(Error::invalid_input)?;
        let mut content = ProfileContent::from(&current);
        edit(&mut content);
        self.replace_profile(&id, &content).await
    }
}
