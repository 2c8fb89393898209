//! The users of the emulated directory: saved ones, and synthetic ones made on demand.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value, json};

/// Users: those saved (by lower-cased e-mail) over [`Synthetic`] generated ones
/// (`user0000000@customer.com` …), which exist without being held in memory.
#[derive(Debug)]
pub(crate) struct Users {
    saved: BTreeMap<String, Map<String, Value>>,
    synthetic: Arc<Synthetic>,
}

/// The synthetic users: how many, and what they hold. Fixed when the emulator starts, so
/// a handler makes them outside the directory's lock.
#[derive(Debug)]
pub(crate) struct Synthetic {
    count: u64,
    domain: String,
    /// The synthetic users' job title, if they have one.
    title: Option<String>,
    /// How many "Extra k" fields the synthetic users hold.
    extra_fields: usize,
}

/// A user found under the directory's lock: a copy of a saved one, or a synthetic one's
/// position, made once the lock is given back ([`Synthetic::make`]).
#[derive(Debug)]
pub(crate) enum Found {
    Saved(Map<String, Value>),
    Synthetic(u64),
}

fn synthetic_email(index: u64, domain: &str) -> String {
    format!("user{index:07}@{domain}")
}

fn synthetic_index(email: &str, domain: &str) -> Option<u64> {
    let local = email.strip_suffix(domain)?.strip_suffix('@')?;
    let digits = local.strip_prefix("user")?;
    (digits.len() == 7).then(|| digits.parse().ok()).flatten()
}

/// Every tenth synthetic user (`user0000009`, `user0000019`, …) is disabled.
pub(crate) fn synthetic_disabled(index: u64) -> bool {
    index % 10 == 9
}

/// Every twentieth (`user0000004`, `user0000024`, …) is hidden from the directory.
pub(crate) fn synthetic_hidden(index: u64) -> bool {
    index % 20 == 4
}

/// Which users a listing shows: one status (`enabled` by default), hidden ones only when
/// asked (`showHidden`), as `user/directory/list` does.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Shown {
    pub(crate) disabled: bool,
    pub(crate) hidden: bool,
}

impl Shown {
    fn shows(self, user: &Map<String, Value>) -> bool {
        let disabled = user
            .get("status")
            .and_then(Value::as_str)
            .is_some_and(|s| s.eq_ignore_ascii_case("disabled"));
        let hidden = user.get("isHidden").and_then(Value::as_bool) == Some(true);
        self.shows_one(disabled, hidden)
    }

    fn shows_one(self, disabled: bool, hidden: bool) -> bool {
        disabled == self.disabled && (self.hidden || !hidden)
    }
}

impl Synthetic {
    pub(crate) fn new(
        count: u64,
        domain: &str,
        title: Option<String>,
        extra_fields: usize,
    ) -> Self {
        Self {
            count,
            domain: domain.to_owned(),
            title,
            extra_fields,
        }
    }

    /// The user `found` names, whole.
    pub(crate) fn make(&self, found: Found) -> Map<String, Value> {
        self.make_keeping(found, |_| true)
    }

    /// The user `found` names; of a synthetic user, only the top-level properties `keep`
    /// names are made (a listing that selects a few of them makes no more).
    pub(crate) fn make_keeping(
        &self,
        found: Found,
        keep: impl Fn(&str) -> bool,
    ) -> Map<String, Value> {
        match found {
            Found::Saved(user) => user,
            Found::Synthetic(index) => self.generate(index, keep),
        }
    }

    fn generate(&self, index: u64, keep: impl Fn(&str) -> bool) -> Map<String, Value> {
        let mut user = Map::new();
        let mut put = |name: &str, value: &dyn Fn() -> Value| {
            if keep(name) {
                user.insert(name.to_owned(), value());
            }
        };
        put("id", &|| Value::String(synthetic_id(index)));
        put("uid", &|| Value::String(synthetic_id(index)));
        put("email", &|| {
            Value::String(synthetic_email(index, &self.domain))
        });
        put("firstName", &|| json!("User"));
        put("lastName", &|| Value::String(format!("{index:07}")));
        put("fullName", &|| Value::String(format!("User {index:07}")));
        put("status", &|| {
            json!(if synthetic_disabled(index) {
                "disabled"
            } else {
                "enabled"
            })
        });
        put("isHidden", &|| json!(synthetic_hidden(index)));
        put("customProfile", &|| {
            let custom = (1..=self.extra_fields)
                .map(|k| {
                    (
                        super::extra_field_uuid(k),
                        Value::String(format!("E{k}-{index:07}")),
                    )
                })
                .collect();
            Value::Object(custom)
        });
        put("apiProfile", &|| {
            let mut api =
                json!({"name": {"givenName": "User", "familyName": format!("{index:07}")}});
            if let (Some(title), Value::Object(api)) = (&self.title, &mut api) {
                api.insert("organizations".into(), json!({"title": title}));
            }
            api
        });
        user
    }
}

/// A synthetic user's id (and uid).
fn synthetic_id(index: u64) -> String {
    format!("{}", 5_000_000_000_000_000u64 + index)
}

impl Users {
    pub(crate) fn new(synthetic: Arc<Synthetic>) -> Self {
        Self {
            saved: BTreeMap::new(),
            synthetic,
        }
    }

    pub(crate) fn insert(&mut self, user: Map<String, Value>) {
        if let Some(email) = user.get("email").and_then(Value::as_str) {
            self.saved.insert(email.to_lowercase(), user);
        }
    }

    /// Gives the saved user at `from` the address `to`, keeping their id and uid (an
    /// identity provider's rename). Answers whether there was such a saved user.
    pub(crate) fn rename(&mut self, from: &str, to: &str) -> bool {
        let Some(mut user) = self.saved.remove(&from.to_lowercase()) else {
            return false;
        };
        user.insert("email".into(), Value::String(to.to_owned()));
        self.saved.insert(to.to_lowercase(), user);
        true
    }

    /// The user with this address (any case).
    pub(crate) fn find_email(&self, email: &str) -> Option<Found> {
        Some(match self.find_email_ref(email)? {
            Ok(user) => Found::Saved(user.clone()),
            Err(index) => Found::Synthetic(index),
        })
    }

    /// The user with this uid (or id).
    pub(crate) fn find_uid(&self, uid: &str) -> Option<Found> {
        let matches = |u: &Map<String, Value>| {
            u.get("uid").and_then(Value::as_str) == Some(uid)
                || u.get("id").and_then(Value::as_str) == Some(uid)
        };
        if let Some(user) = self.saved.values().find(|u| matches(u)) {
            return Some(Found::Saved(user.clone()));
        }
        let index = uid
            .parse::<u64>()
            .ok()?
            .checked_sub(5_000_000_000_000_000)?;
        (index < self.synthetic.count)
            .then(|| self.find_email(&synthetic_email(index, &self.synthetic.domain)))
            .flatten()
    }

    /// The id and uid of the user with this address, without making the whole user.
    pub(crate) fn ids_of(&self, email: &str) -> Option<(Option<Value>, Option<Value>)> {
        match self.find_email_ref(email)? {
            Ok(user) => Some((user.get("id").cloned(), user.get("uid").cloned())),
            Err(index) => Some((
                Some(Value::String(synthetic_id(index))),
                Some(Value::String(synthetic_id(index))),
            )),
        }
    }

    /// The saved user with this address, or the synthetic one's position.
    fn find_email_ref(&self, email: &str) -> Option<Result<&Map<String, Value>, u64>> {
        let key = email.to_lowercase();
        if let Some(user) = self.saved.get(&key) {
            return Some(Ok(user));
        }
        synthetic_index(&key, &self.synthetic.domain)
            .filter(|i| *i < self.synthetic.count)
            .map(Err)
    }

    /// Up to `count` users that `shown` shows, from position `start` on: the synthetic ones
    /// first (saved versions over them), then the saved users that are not synthetic.
    /// Returns the page, the position after the last one looked at, and whether more
    /// positions follow.
    pub(crate) fn page_shown(
        &self,
        start: u64,
        count: u64,
        shown: Shown,
    ) -> (Vec<Found>, u64, bool) {
        let synthetic = self.synthetic.count;
        let mut found = Vec::new();
        let mut position = start;
        while position < synthetic && (found.len() as u64) < count.max(1) {
            let saved = match self.saved.is_empty() {
                true => None,
                false => self
                    .saved
                    .get(&synthetic_email(position, &self.synthetic.domain)),
            };
            let user = match saved {
                Some(saved) => shown.shows(saved).then(|| Found::Saved(saved.clone())),
                // A synthetic user's status is known without making the user.
                None => shown
                    .shows_one(synthetic_disabled(position), synthetic_hidden(position))
                    .then_some(Found::Synthetic(position)),
            };
            found.extend(user);
            position += 1;
        }
        if position < synthetic {
            return (found, position, true);
        }
        // Past the synthetic users: the saved others, gathered only once a page gets here
        // (every page would otherwise walk all the saved users).
        let others = self.others();
        let total = synthetic + others.len() as u64;
        while position < total && (found.len() as u64) < count.max(1) {
            let user = others[(position - synthetic) as usize];
            found.extend(shown.shows(user).then(|| Found::Saved(user.clone())));
            position += 1;
        }
        (found, position, position < total)
    }

    /// The saved users that are not synthetic, in e-mail order.
    fn others(&self) -> Vec<&Map<String, Value>> {
        self.saved
            .iter()
            .filter(|(email, _)| {
                synthetic_index(email, &self.synthetic.domain)
                    .is_none_or(|i| i >= self.synthetic.count)
            })
            .map(|(_, user)| user)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_synthetic_user_made_for_a_selector_is_the_whole_user_cut_down() {
        let synthetic = Synthetic::new(100, "customer.com", Some("Engineer".into()), 2);
        for selector in [
            "email,uid,id,apiProfile/organizations/title",
            "customProfile,status,isHidden",
            "apiProfile(name)",
            "nothing",
        ] {
            let selection = super::super::partial::Selection::parse(selector).unwrap();
            for index in [0, 7, 99] {
                let whole = synthetic.make(Found::Synthetic(index));
                let made = synthetic.make_keeping(Found::Synthetic(index), |n| selection.keeps(n));
                assert_eq!(
                    selection.apply(Value::Object(made)),
                    selection.apply(Value::Object(whole)),
                    "{selector} of user {index}"
                );
            }
        }
    }

    fn by_email(users: &Users, email: &str) -> Option<Map<String, Value>> {
        users.find_email(email).map(|f| users.synthetic.make(f))
    }

    fn listed_page(
        users: &Users,
        start: u64,
        count: u64,
        shown: Shown,
    ) -> (Vec<Map<String, Value>>, u64, bool) {
        let (found, next, more) = users.page_shown(start, count, shown);
        let made = found.into_iter().map(|f| users.synthetic.make(f)).collect();
        (made, next, more)
    }

    #[test]
    fn synthetic_users_are_made_on_demand_and_saved_ones_replace_them() {
        let mut users = Users::new(Arc::new(Synthetic::new(1_000_000, "customer.com", None, 0)));
        let generated = by_email(&users, "user0999999@customer.com").unwrap();
        assert_eq!(generated["lastName"], "0999999");
        assert!(by_email(&users, "user1000000@customer.com").is_none());
        let mut changed = generated.clone();
        changed.insert("lastName".into(), json!("Changed"));
        users.insert(changed);
        assert_eq!(
            by_email(&users, "USER0999999@customer.com").unwrap()["lastName"],
            "Changed"
        );
        // user0999999 is disabled (every tenth is), user0999998 not.
        let every = |disabled| Shown {
            disabled,
            hidden: true,
        };
        let (page, next, more) = listed_page(&users, 999_998, 10, every(false));
        assert_eq!((page.len(), next, more), (1, 1_000_000, false));
        assert_eq!(page[0]["lastName"], "0999998");
        let (page, _, more) = listed_page(&users, 999_998, 10, every(true));
        assert_eq!((page.len(), more), (1, false));
        assert_eq!(page[0]["lastName"], "Changed");
        // A page stops at its count and says where the next one starts.
        let (page, next, more) = listed_page(&users, 0, 3, every(true));
        let names: Vec<&Value> = page.iter().map(|u| &u["lastName"]).collect();
        assert_eq!(names, ["0000009", "0000019", "0000029"]);
        assert_eq!((next, more), (30, true));
    }

    #[test]
    fn a_listing_goes_on_from_the_synthetic_users_to_the_saved_others() {
        let mut users = Users::new(Arc::new(Synthetic::new(3, "customer.com", None, 0)));
        users.insert(
            json!({"email": "zoe@customer.com", "status": "enabled"})
                .as_object()
                .unwrap()
                .clone(),
        );
        users.insert(
            json!({"email": "amy@customer.com", "status": "enabled"})
                .as_object()
                .unwrap()
                .clone(),
        );
        let every = Shown {
            disabled: false,
            hidden: true,
        };
        let emails = |page: &[Map<String, Value>]| -> Vec<String> {
            page.iter()
                .map(|u| u["email"].as_str().unwrap().to_owned())
                .collect()
        };
        // A page that ends with the synthetic users says more follow: the saved others.
        let (page, next, more) = listed_page(&users, 0, 3, every);
        assert_eq!(page.len(), 3);
        assert_eq!((next, more), (3, true));
        let (page, next, more) = listed_page(&users, 2, 2, every);
        assert_eq!(
            emails(&page),
            ["user0000002@customer.com", "amy@customer.com"]
        );
        assert_eq!((next, more), (4, true));
        let (page, next, more) = listed_page(&users, next, 10, every);
        assert_eq!(emails(&page), ["zoe@customer.com"]);
        assert_eq!((next, more), (5, false));
    }
}
