//! Every Sunshine call as a pure function from input to [`ApiRequest`].

use profile_core::{
    ApiRequest, BaseUrl, Error, HeaderValue, Idempotency, Method, encode_path_segment,
};
use std::borrow::Cow;

use crate::{
    IdentifierQuery, ProfileContent, ProfileId, ProfileLocator, ProfileUpdate, SunshineAuth, UserId,
};

pub(crate) const VENDOR: &str = "sunshine";
const PROFILES: &str = "/api/v2/user_profiles";

/// Builds the requests of one Zendesk account. Nothing here touches the network: the
/// [`SunshineClient`](crate::SunshineClient) sends what these return, and `--dry-run`
/// prints it.
#[derive(Clone, Debug)]
pub struct SunshineRequests {
    base_url: BaseUrl,
    authorization: HeaderValue,
}

impl SunshineRequests {
    /// Requests for the account at `base_url` (`https://{subdomain}.zendesk.com`).
    pub fn new(base_url: BaseUrl, auth: &SunshineAuth) -> Self {
        Self {
            base_url,
            authorization: auth.authorization(),
        }
    }

    fn request(
        &self,
        operation: &'static str,
        method: Method,
        path: impl Into<Cow<'static, str>>,
    ) -> ApiRequest {
        ApiRequest::new(VENDOR, operation, method, &self.base_url, path)
            .header("accept", "application/json")
            .header("authorization", self.authorization.clone())
    }

    fn at(&self, operation: &'static str, method: Method, locator: &ProfileLocator) -> ApiRequest {
        match locator {
            ProfileLocator::Id(id) => self.request(
                operation,
                method,
                format!("{PROFILES}/{}", encode_path_segment(id.as_str())),
            ),
            ProfileLocator::Identifier(query) => self
                .request(operation, method, PROFILES)
                .query("identifier", query.joined()),
        }
    }

    /// `GET /api/v2/user_profiles/{id}` or `GET /api/v2/user_profiles?identifier=…`.
    pub fn get_profile(&self, locator: &ProfileLocator) -> ApiRequest {
        self.at("get_profile", Method::Get, locator)
    }

    /// `GET /api/v2/users/{user_id}/profiles`: every profile of one Zendesk user.
    pub fn list_user_profiles(&self, user: UserId) -> ApiRequest {
        self.request(
            "list_user_profiles",
            Method::Get,
            format!("/api/v2/users/{user}/profiles"),
        )
    }

    /// `PATCH /api/v2/user_profiles/{id}` or `…?identifier=…`: merges `update` into the
    /// profile.
    ///
    /// Marked idempotent: merging the same attributes and adding the same identifiers a
    /// second time leaves the profile as the first time did, so a PATCH whose response was
    /// lost may be sent again.
    pub fn patch_profile(
        &self,
        locator: &ProfileLocator,
        update: &ProfileUpdate,
    ) -> Result<ApiRequest, Error> {
        Ok(self
            .at("patch_profile", Method::Patch, locator)
            .json_of(&update.body()?)
            .map_err(Error::invalid_input)?
            .idempotency(Idempotency::Idempotent))
    }

    /// `PUT /api/v2/user_profiles?identifier=…`: replaces the profile the query finds, or
    /// creates it.
    pub fn create_or_replace(
        &self,
        query: &IdentifierQuery,
        content: &ProfileContent,
    ) -> Result<ApiRequest, Error> {
        self.request("create_or_replace", Method::Put, PROFILES)
            .query("identifier", query.joined())
            .json_of(&content.body()?)
            .map_err(Error::invalid_input)
    }

    /// `PUT /api/v2/users/{user_id}/profiles?identifier=…`: the same, for a given Zendesk
    /// user.
    pub fn create_or_replace_for_user(
        &self,
        user: UserId,
        query: &IdentifierQuery,
        content: &ProfileContent,
    ) -> Result<ApiRequest, Error> {
        self.request(
            "create_or_replace_for_user",
            Method::Put,
            format!("/api/v2/users/{user}/profiles"),
        )
        .query("identifier", query.joined())
        .json_of(&content.body()?)
        .map_err(Error::invalid_input)
    }

    /// `PUT /api/v2/user_profiles/{id}`: replaces the content of an existing profile.
    pub fn replace_profile(
        &self,
        id: &ProfileId,
        content: &ProfileContent,
    ) -> Result<ApiRequest, Error> {
        self.at(
            "replace_profile",
            Method::Put,
            &ProfileLocator::Id(id.clone()),
        )
        .json_of(&content.body()?)
        .map_err(Error::invalid_input)
    }

    /// `DELETE /api/v2/user_profiles/{id}`.
    pub fn delete_profile(&self, id: &ProfileId) -> ApiRequest {
        self.at(
            "delete_profile",
            Method::Delete,
            &ProfileLocator::Id(id.clone()),
        )
    }
}
