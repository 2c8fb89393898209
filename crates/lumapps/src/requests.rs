//! Every LumApps call as a pure function from input to [`ApiRequest`].

use profile_core::credentials::{basic_authorization, token_authorization};
use profile_core::secrecy::SecretString;
use profile_core::{
    ApiRequest, BaseUrl, Error, HeaderValue, Idempotency, Method, encode_path_segment,
};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value, json};

use crate::{LumAppsAuth, LumAppsInputError};

pub(crate) const VENDOR: &str = "lumapps";
/// A path of the legacy API (`/_ah/api/lumsites/v1/…`), as a constant: requests to a
/// fixed path reuse its parsed URL.
macro_rules! legacy_path {
    ($path:literal) => {
        concat!("/_ah/api/lumsites/v1/", $path)
    };
}

/// A save's body: the user's properties in their order, `contentId` set to the directory
/// (where the user had one, or last).
struct SaveBody<'a> {
    user: &'a Map<String, Value>,
    directory_id: &'a str,
}

impl Serialize for SaveBody<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let had_one = self.user.contains_key("contentId");
        let mut map = serializer.serialize_map(Some(self.user.len() + usize::from(!had_one)))?;
        for (key, value) in self.user {
            if key == "contentId" {
                map.serialize_entry(key, self.directory_id)?;
            } else {
                map.serialize_entry(key, value)?;
            }
        }
        if !had_one {
            map.serialize_entry("contentId", self.directory_id)?;
        }
        map.end()
    }
}

/// The content types the seed's directory listing leaves out.
const EXCLUDED_TYPES: [&str; 9] = [
    "community",
    "custom",
    "custom_list",
    "image_gallery",
    "menu",
    "news",
    "news_list",
    "page",
    "post",
];

/// A directory user's status, as `user/directory/list` filters by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UserStatus {
    /// The account is live (what LumApps lists by default).
    Enabled,
    /// The account has been deactivated.
    Disabled,
}

impl UserStatus {
    /// As the API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            UserStatus::Enabled => "ENABLED",
            UserStatus::Disabled => "DISABLED",
        }
    }
}

/// Who a directory call is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserLocator {
    /// By e-mail address.
    Email(String),
    /// By LumApps user id.
    Uid(String),
}

/// Builds the requests of one LumApps cell (`https://{cell}.api.lumapps.com`), holding its
/// credentials as the other vendors' builders do.
///
/// With a bearer token every request carries it. With an application's credentials the
/// token is fetched at run time ([`LumAppsRequests::application_token`]): the requests are
/// built without `Authorization` and the client adds the token it holds before sending.
#[derive(Clone, Debug)]
pub struct LumAppsRequests {
    base_url: BaseUrl,
    /// The `Authorization` of a bearer token given up front.
    authorization: Option<HeaderValue>,
    /// Sent as `LumApps-Organization-Id`, as LumApps' own SDK does, when known.
    organization_id: Option<String>,
}

fn not_empty(value: &str, what: &'static str) -> Result<(), LumAppsInputError> {
    if value.trim().is_empty() {
        Err(LumAppsInputError::Empty(what))
    } else {
        Ok(())
    }
}

impl LumAppsRequests {
    /// Requests for the cell at `base_url`, authenticated with `auth`.
    pub fn new(base_url: BaseUrl, auth: &LumAppsAuth) -> Self {
        let (authorization, organization_id) = match auth {
            LumAppsAuth::Token(token) => (Some(token_authorization("Bearer", token)), None),
            LumAppsAuth::Application { customer_id, .. } => (None, Some(customer_id.clone())),
        };
        Self {
            base_url,
            authorization,
            organization_id,
        }
    }

    /// Sends `LumApps-Organization-Id: {customer_id}` with every call, as LumApps' own SDK
    /// does (with an application token the customer id is known and sent already).
    pub fn with_organization_id(mut self, customer_id: impl Into<String>) -> Self {
        self.organization_id = Some(customer_id.into());
        self
    }

    fn legacy(&self, operation: &'static str, method: Method, path: &'static str) -> ApiRequest {
        let mut request = ApiRequest::new(VENDOR, operation, method, &self.base_url, path)
            .header("accept", "application/json");
        if let Some(organization) = &self.organization_id {
            request = request.header("lumapps-organization-id", organization.clone());
        }
        match &self.authorization {
            Some(authorization) => request.header("authorization", authorization.clone()),
            None => request,
        }
    }

    /// `POST content/list` for the user directory modules of an instance, with the body of
    /// the seed's example (`type`, `excludeType`, `action: CUSTOM_EDIT`). `instanceId` is
    /// sent as a list, as LumApps' API description declares it (the seed writes a string).
    pub fn list_directories(
        &self,
        instance_id: &str,
        lang: &str,
        cursor: Option<&str>,
    ) -> Result<ApiRequest, Error> {
        not_empty(instance_id, "the instance id")?;
        let mut body = json!({
            "instanceId": [instance_id],
            "lang": lang,
            "type": ["user_directory"],
            "excludeType": EXCLUDED_TYPES,
            "action": "CUSTOM_EDIT",
        });
        if let (Some(cursor), Value::Object(map)) = (cursor, &mut body) {
            map.insert("cursor".into(), json!(cursor));
        }
        Ok(self
            .legacy(
                "list_directories",
                Method::Post,
                legacy_path!("content/list"),
            )
            .json(body)
            .idempotency(Idempotency::Idempotent))
    }

    /// `GET content/get?uid=…&lang=…`: one content (a user directory module, say).
    pub fn get_content(&self, id: &str, lang: &str) -> Result<ApiRequest, Error> {
        not_empty(id, "the content id")?;
        Ok(self
            .legacy("get_content", Method::Get, legacy_path!("content/get"))
            .query("uid", id)
            .query("lang", lang))
    }

    /// `GET user/directory/get?contentId=…&email=…` (or `uid=…`): a user as the directory
    /// shows them.
    pub fn get_user(&self, directory_id: &str, user: &UserLocator) -> Result<ApiRequest, Error> {
        not_empty(directory_id, "the directory id")?;
        let request = self
            .legacy("get_user", Method::Get, legacy_path!("user/directory/get"))
            .query("contentId", directory_id);
        Ok(match user {
            UserLocator::Email(email) => {
                not_empty(email, "the e-mail address")?;
                request.query("email", email.clone())
            }
            UserLocator::Uid(uid) => {
                not_empty(uid, "the user id")?;
                request.query("uid", uid.clone())
            }
        })
    }

    /// `POST user/directory/save`: the whole user object with `contentId` set. A save
    /// without a directory id cannot be built.
    ///
    /// Idempotent: it writes the whole object, so a second identical save leaves what the
    /// first did.
    pub fn save_user(
        &self,
        directory_id: &str,
        user: &Map<String, Value>,
    ) -> Result<ApiRequest, Error> {
        not_empty(directory_id, "the directory id")?;
        let has_identity = ["email", "id", "uid"].iter().any(|k| {
            user.get(*k)
                .and_then(Value::as_str)
                .is_some_and(|v| !v.is_empty())
        });
        if !has_identity {
            return Err(LumAppsInputError::UserWithoutIdentity.into());
        }
        // Serialized from the user as it is, rather than from a copy with `contentId` set.
        self.legacy(
            "save_user",
            Method::Post,
            legacy_path!("user/directory/save"),
        )
        .json_of(&SaveBody { user, directory_id })
        .map_err(Error::invalid_input)
        .map(|request| request.idempotency(Idempotency::Idempotent))
    }

    /// `POST user/directory/list`: one page of a directory's users, as LumApps lists them
    /// by default (enabled users, hidden ones left out). `maxResults` is a string, as the
    /// API declares it.
    pub fn list_users(
        &self,
        directory_id: &str,
        cursor: Option<&str>,
        max_results: u32,
    ) -> Result<ApiRequest, Error> {
        self.list_users_shown(directory_id, cursor, max_results, None)
    }

    /// [`list_users`](Self::list_users) of the users of one status, hidden ones included:
    /// `status` (`ENABLED` or `DISABLED`) and `showHidden: true`.
    pub fn list_users_of_status(
        &self,
        directory_id: &str,
        cursor: Option<&str>,
        max_results: u32,
        status: UserStatus,
    ) -> Result<ApiRequest, Error> {
        self.list_users_shown(directory_id, cursor, max_results, Some(status))
    }

    fn list_users_shown(
        &self,
        directory_id: &str,
        cursor: Option<&str>,
        max_results: u32,
        status: Option<UserStatus>,
    ) -> Result<ApiRequest, Error> {
        not_empty(directory_id, "the directory id")?;
        let mut body =
            json!({"contentId": directory_id, "maxResults": max_results.max(1).to_string()});
        if let (Some(status), Value::Object(map)) = (status, &mut body) {
            map.insert("status".into(), json!(status.as_str()));
            map.insert("showHidden".into(), json!(true));
        }
        if let (Some(cursor), Value::Object(map)) = (cursor, &mut body) {
            map.insert("cursor".into(), json!(cursor));
        }
        Ok(self
            .legacy(
                "list_users",
                Method::Post,
                legacy_path!("user/directory/list"),
            )
            .json(body)
            .idempotency(Idempotency::Idempotent))
    }

    /// `POST /v2/organizations/{customer_id}/application-token`: HTTP Basic with the
    /// application's id and secret, form `grant_type=client_credentials&user_email=…`.
    pub fn application_token(
        &self,
        customer_id: &str,
        client_id: &str,
        client_secret: &SecretString,
        user_email: &str,
    ) -> Result<ApiRequest, Error> {
        not_empty(customer_id, "the customer id")?;
        not_empty(user_email, "the user e-mail")?;
        Ok(ApiRequest::new(
            VENDOR,
            "application_token",
            Method::Post,
            &self.base_url,
            format!(
                "/v2/organizations/{}/application-token",
                encode_path_segment(customer_id)
            ),
        )
        .header("accept", "application/json")
        .header(
            "authorization",
            basic_authorization(client_id, client_secret),
        )
        .form(vec![
            ("grant_type".into(), "client_credentials".into()),
            ("user_email".into(), user_email.into()),
        ])
        .idempotency(Idempotency::Idempotent))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The body is what setting `contentId` on a copy of the user and serializing it gave:
    /// replaced in place where the user has one, added last where not.
    #[test]
    fn a_save_body_is_the_user_with_content_id_set() {
        for user in [
            json!({"email": "a@example.com", "customProfile": {"f": "v"}, "id": "1"}),
            json!({"contentId": "old", "email": "a@example.com", "uid": "u"}),
            json!({"email": "a@example.com", "contentId": "old", "firstName": "Á\"\n"}),
        ] {
            let Value::Object(user) = user else {
                unreachable!()
            };
            let mut expected = user.clone();
            expected.insert("contentId".into(), json!("dir-1"));
            let body = serde_json::to_vec(&SaveBody {
                user: &user,
                directory_id: "dir-1",
            })
            .unwrap();
            assert_eq!(body, serde_json::to_vec(&expected).unwrap());
        }
    }
}
