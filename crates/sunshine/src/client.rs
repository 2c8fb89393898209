//! The Sunshine client: builds requests, sends them, decodes the answers.

use std::sync::Arc;

use profile_core::{
    ApiRequest, ApiResponse, BaseUrl, Error, HttpConfig, RateLimit, RetryPolicy, Transport,
    TransportStack, send_decoding,
};
use serde::Deserialize;

use crate::response::{decode, error_from};
use crate::{
    IdentifierQuery, ProfileContent, ProfileId, ProfileLocator, ProfileUpdate, SunshineAuth,
    SunshineRequests, UserId, UserProfile,
};

/// Zendesk's usual account limit, a common plan's 700 requests a minute.
pub const DEFAULT_RATE_LIMIT_PER_MINUTE: u32 = 700;

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

/// The profile as a JSON object, for the vendor-neutral layer: one parse, no typed detour.
#[derive(Deserialize)]
pub(crate) struct RawProfileEnvelope {
    pub(crate) profile: serde_json::Map<String, serde_json::Value>,
}

#[derive(Deserialize)]
struct ProfilesEnvelope {
    profiles: Vec<UserProfile>,
}

/// Settings of a [`SunshineClient`].
#[derive(Debug)]
pub struct SunshineClientBuilder {
    base_url: BaseUrl,
    auth: SunshineAuth,
    stack: TransportStack,
}

impl SunshineClientBuilder {
    /// The retry policy (default: [`RetryPolicy::default`]).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.stack = self.stack.retry(policy);
        self
    }

    /// The client-side rate limit (default: [`DEFAULT_RATE_LIMIT_PER_MINUTE`], no limit on
    /// requests in flight).
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

    /// Builds the client.
    pub fn build(self) -> Result<SunshineClient, Error> {
        self.auth.check().map_err(Error::invalid_input)?;
        Ok(SunshineClient {
            requests: SunshineRequests::new(self.base_url, &self.auth),
            transport: self.stack.build()?,
        })
    }
}

/// A client of one Zendesk account's user profiles.
///
/// Cheap to clone; clones share connections and the rate limit.
#[derive(Clone, Debug)]
pub struct SunshineClient {
    requests: SunshineRequests,
    transport: Arc<dyn Transport>,
}

impl SunshineClient {
    /// Starts building a client for the account at `base_url`
    /// (`https://{subdomain}.zendesk.com`).
    pub fn builder(base_url: BaseUrl, auth: SunshineAuth) -> SunshineClientBuilder {
        SunshineClientBuilder {
            base_url,
            auth,
            stack: TransportStack::new()
                .rate_limit(RateLimit::per_minute(DEFAULT_RATE_LIMIT_PER_MINUTE)),
        }
    }

    /// The request builders, for inspecting or printing a request without sending it.
    pub fn requests(&self) -> &SunshineRequests {
        &self.requests
    }

    /// Sends a request built by [`SunshineClient::requests`].
    pub async fn send(&self, request: &ApiRequest) -> Result<ApiResponse, Error> {
        self.transport.send(request).await
    }

    /// Sends a request whose answer is `{"profile": {...}}` and returns the profile object.
    pub(crate) async fn call_raw(
        &self,
        request: ApiRequest,
    ) -> Result<serde_json::Map<String, serde_json::Value>, Error> {
        Ok(self.call::<RawProfileEnvelope>(request).await?.0.profile)
    }

    /// Sends a request and checks that it succeeded, leaving the answer undecoded (the
    /// retry layer has already checked that a JSON answer arrived whole).
    pub(crate) async fn call_unread(&self, request: ApiRequest) -> Result<(), Error> {
        let response = self.transport.send(&request).await?;
        if response.is_success() {
            return Ok(());
        }
        Err(crate::response::error_from(&request, &response))
    }

    async fn call<T: for<'de> Deserialize<'de> + Send>(
        &self,
        request: ApiRequest,
    ) -> Result<(T, u16), Error> {
        let (response, body) = send_decoding::<T>(&*self.transport, &request).await?;
        let value = decode(&request, &response, body)?;
        Ok((value, response.status()))
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
        let response = self.transport.send(&request).await?;
        if response.is_success() {
            Ok(())
        } else {
            Err(error_from(&request, &response))
        }
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
