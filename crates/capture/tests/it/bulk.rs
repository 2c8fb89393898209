//! The calls a sync needs beyond the documented update: find (paged by id), count, delete,
//! create and entityType, over HTTP against the emulator, and a schema of your own.

use futures_util::TryStreamExt;
use profile_capture::{
    CaptureErrorKind, EntityCount, EntityCreate, EntityDelete, EntityFind, EntityLocator,
    EntityRead,
};
use profile_emulator::capture::{CaptureConfig, CaptureEmulator};
use serde_json::{Value, json};

use crate::{MATT_UUID, basic, builder, setup};

#[tokio::test]
async fn find_pages_25000_records_by_id_with_a_projection_in_three_requests() {
    let (emulator, client) = setup().await;
    let records: Vec<Value> = (0..25_000)
        .map(|i| json!({"email": format!("member{i}@example.com"), "givenName": format!("M{i}")}))
        .collect();
    emulator.seed("user", &records).unwrap();
    let seen = emulator.faults().requests_seen();
    let found: Vec<Value> = client
        .find_all("user", None, &["email"], 10_000)
        .try_collect()
        .await
        .unwrap();
    // The documentation's three records and the 25,000, in pages of 10,000, 10,000, 5,003.
    assert_eq!(found.len(), 25_003);
    assert_eq!(emulator.faults().requests_seen() - seen, 3);
    let ids: Vec<u64> = found.iter().map(|r| r["id"].as_u64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ascending, each once");
    for record in &found {
        let mut names: Vec<&str> = record
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        names.sort();
        assert_eq!(names, ["email", "id"], "{record}");
    }
    // With a filter of the caller's, combined with the paging one.
    let some: Vec<Value> = client
        .find_all(
            "user",
            Some("email = 'member7@example.com' or email = 'gjack@example.com'"),
            &[],
            1,
        )
        .try_collect()
        .await
        .unwrap();
    let emails: Vec<&str> = some.iter().map(|r| r["email"].as_str().unwrap()).collect();
    assert_eq!(emails, ["gjack@example.com", "member7@example.com"]);
}

#[tokio::test]
async fn find_takes_a_filter_sort_projection_and_window_and_refuses_past_10000() {
    let (_emulator, client) = setup().await;
    let page = client
        .find(
            &EntityFind::new("user")
                .filter("id > 5000")
                .sort_on(["-id"])
                .only(["email"])
                .max_results(2)
                .first_result(2),
        )
        .await
        .unwrap();
    assert_eq!(
        page,
        [
            json!({"email": "alane@example.com"}),
            json!({"email": "mpark@example.com"})
        ]
    );
    // The same window in id order, asked for or by default: the page starts past the
    // filter's lowest id and skips as Capture counts.
    for ascending in [true, false] {
        let mut find = EntityFind::new("user")
            .filter("id > 5000")
            .only(["email"])
            .max_results(1)
            .first_result(2);
        if ascending {
            find = find.sort_on(["id"]);
        }
        let page = client.find(&find).await.unwrap();
        assert_eq!(page, [json!({"email": "alane@example.com"})], "{ascending}");
    }
    let refused = client
        .find(&EntityFind::new("user").max_results(10_001))
        .await
        .unwrap_err();
    assert!(refused.is_invalid_input(), "{refused}");
    let unknown = client
        .find(&EntityFind::new("user").filter("shoeSize > 40"))
        .await
        .unwrap_err();
    assert_eq!(
        CaptureErrorKind::of(&unknown),
        Some(CaptureErrorKind::UnknownAttribute)
    );
}

#[tokio::test]
async fn count_delete_and_create_do_what_capture_documents() {
    let (emulator, client) = setup().await;
    assert_eq!(client.count(&EntityCount::new("user")).await.unwrap(), 3);
    let filtered = EntityCount::new("user").filter("email = 'gjack@example.com'");
    assert_eq!(client.count(&filtered).await.unwrap(), 1);

    // Create: an id and a uuid, and the record is there.
    let created = client
        .create(
            &EntityCreate::new(
                "user",
                json!({"email": "new@example.com", "givenName": "New"}),
            )
            .unwrap(),
        )
        .await
        .unwrap();
    let record = client
        .entity(&EntityRead::new(
            "user",
            EntityLocator::uuid(created.uuid.clone()),
        ))
        .await
        .unwrap();
    assert_eq!(
        (record["id"].as_u64(), record["givenName"].as_str()),
        (Some(created.id), Some("New"))
    );
    // A second create of the same unique e-mail is a unique violation (361): the record
    // exists.
    let again = client
        .create(&EntityCreate::new("user", json!({"email": "new@example.com"})).unwrap())
        .await
        .unwrap_err();
    assert_eq!(
        CaptureErrorKind::of(&again),
        Some(CaptureErrorKind::UniqueViolation)
    );

    // Delete by uuid, by id, by key: each record is gone, and a second delete is 310.
    for locator in [
        EntityLocator::uuid(MATT_UUID),
        EntityLocator::Id(5252),
        EntityLocator::key("email", "new@example.com"),
    ] {
        client
            .delete(&EntityDelete::new("user", locator.clone()))
            .await
            .unwrap();
        let gone = client
            .entity(&EntityRead::new("user", locator.clone()))
            .await
            .unwrap_err();
        assert!(gone.is_not_found(), "{gone}");
        let twice = client
            .delete(&EntityDelete::new("user", locator))
            .await
            .unwrap_err();
        assert!(twice.is_not_found());
    }
    assert_eq!(client.count(&EntityCount::new("user")).await.unwrap(), 1);
    assert_eq!(emulator.records("user").len(), 1);
}

/// `uuid` and `id` are unique attributes of every entity: usable as `key_attribute`, as
/// janrain-datalib addresses records (the uuid as a JSON string).
#[tokio::test]
async fn uuid_and_id_work_as_key_attributes() {
    let (_emulator, client) = setup().await;
    let by_uuid = client
        .entity(&EntityRead::new(
            "user",
            EntityLocator::key("uuid", MATT_UUID),
        ))
        .await
        .unwrap();
    let by_id = client
        .entity(&EntityRead::new("user", EntityLocator::key("id", 5250)))
        .await
        .unwrap();
    assert_eq!(by_uuid["email"], "mpark@example.com");
    assert_eq!(by_uuid, by_id);
    let missing = client
        .entity(&EntityRead::new("user", EntityLocator::key("id", 1)))
        .await
        .unwrap_err();
    assert!(missing.is_not_found());
}

#[tokio::test]
async fn entity_type_describes_the_schema() {
    let (_emulator, client) = setup().await;
    let schema = client.entity_type("user").await.unwrap();
    assert_eq!(schema.name, "user");
    let email = schema.attribute("email").unwrap();
    assert_eq!(email.kind, "string");
    assert!(email.is_unique());
    assert!(schema.attribute("uuid").unwrap().is_unique());
    let statuses = schema.attribute("statuses").unwrap();
    assert_eq!(statuses.kind, "plural");
    assert_eq!(schema.attribute("statuses.status").unwrap().kind, "string");
    assert!(schema.attribute("shoeSize").is_none());
    let unknown = client.entity_type("robot").await.unwrap_err();
    assert_eq!(
        CaptureErrorKind::of(&unknown),
        Some(CaptureErrorKind::UnknownEntityType)
    );
}

/// A schema of one's own, as `profiles emulator --schema FILE` loads it: two plurals, a
/// nested object, a required attribute and a second unique key.
#[tokio::test]
async fn a_schema_of_your_own_with_two_plurals_is_served() {
    let description = json!({"stat": "ok", "schema": {"name": "member", "attr_defs": [
        {"name": "id", "type": "id"},
        {"name": "uuid", "type": "uuid"},
        {"name": "email", "type": "string", "constraints": ["unique", "required"]},
        {"name": "employeeNumber", "type": "string", "constraints": ["unique"]},
        {"name": "primaryAddress", "type": "object", "attr_defs": [
            {"name": "city", "type": "string"}, {"name": "zip", "type": "string"}]},
        {"name": "roles", "type": "plural", "attr_defs": [{"name": "role", "type": "string"}]},
        {"name": "badges", "type": "plural", "attr_defs": [
            {"name": "badge", "type": "string"}, {"name": "level", "type": "integer"}]},
        {"name": "preferences", "type": "json"}
    ]}});
    let emulator = CaptureEmulator::start_with(
        CaptureConfig::default()
            .schema_from_entity_type(&description)
            .unwrap(),
        profile_emulator::loopback(0),
    )
    .await
    .unwrap();
    let client = builder(&emulator, basic()).build().unwrap();
    assert!(
        emulator.records("member").is_empty(),
        "no documentation records"
    );
    let described = client.entity_type("member").await.unwrap();
    assert!(described.attribute("email").unwrap().is_required());
    assert_eq!(described.attribute("badges.level").unwrap().kind, "integer");

    // The required attribute is required.
    let missing = client
        .create(&EntityCreate::new("member", json!({"employeeNumber": "E1"})).unwrap())
        .await
        .unwrap_err();
    assert_eq!(
        CaptureErrorKind::of(&missing),
        Some(CaptureErrorKind::MissingRequiredAttribute)
    );
    let created = client
        .create(
            &EntityCreate::new(
                "member",
                json!({"email": "a@example.com", "employeeNumber": "E1",
                       "primaryAddress": {"city": "Lyon"},
                       "roles": [{"role": "admin"}], "badges": [{"badge": "gold", "level": 3}],
                       "preferences": {"any": ["json", 1]}}),
            )
            .unwrap(),
        )
        .await
        .unwrap();
    // The second unique key addresses the record; both plurals hold their elements with ids.
    let record = client
        .entity(&EntityRead::new(
            "member",
            EntityLocator::key("employeeNumber", "E1"),
        ))
        .await
        .unwrap();
    assert_eq!(record["id"].as_u64(), Some(created.id));
    assert_eq!(record["primaryAddress"]["city"], "Lyon");
    assert!(record["roles"][0]["id"].is_u64() && record["badges"][0]["id"].is_u64());
    assert_eq!(record["badges"][0]["level"], 3);
    let wrong_type = client
        .create(
            &EntityCreate::new(
                "member",
                json!({"email": "b@example.com", "badges": [{"level": "high"}]}),
            )
            .unwrap(),
        )
        .await
        .unwrap_err();
    assert_eq!(
        CaptureErrorKind::of(&wrong_type),
        Some(CaptureErrorKind::InvalidJsonType)
    );
}

#[tokio::test]
async fn bulk_create_makes_each_record_and_refuses_a_taken_address_alone() {
    let (emulator, client) = setup().await;
    let before = emulator.records("user").len();
    let bulk = profile_capture::EntityBulkCreate::new(
        "user",
        vec![
            json!({"email": "new1@example.com", "givenName": "One"}),
            // The documentation's record holds this address.
            json!({"email": "mpark@example.com", "givenName": "Twice"}),
            json!({"email": "new2@example.com", "givenName": "Two"}),
        ],
    )
    .unwrap();
    let results = client.bulk_create(&bulk).await.unwrap();
    assert_eq!(results.len(), 3);
    let profile_capture::BulkCreated::Created { uuid, id } = &results[0] else {
        panic!("{results:?}")
    };
    assert!(id.is_some());
    assert_eq!(
        results[1],
        profile_capture::BulkCreated::Refused {
            code: Some(361),
            description: "Attempted to update a duplicate value".into()
        }
    );
    assert!(matches!(
        results[2],
        profile_capture::BulkCreated::Created { .. }
    ));
    let records = emulator.records("user");
    assert_eq!(records.len(), before + 2);
    let created = records.iter().find(|r| r["uuid"] == uuid.as_str()).unwrap();
    assert_eq!(created["email"], "new1@example.com");
    assert_eq!(
        records
            .iter()
            .filter(|r| r["email"] == "mpark@example.com")
            .count(),
        1
    );
    assert_eq!(
        emulator.faults().requests_to("POST", "/entity.bulkCreate"),
        1
    );
}

#[tokio::test]
async fn bulk_create_is_refused_to_a_client_without_owner_or_direct_access() {
    let emulator = CaptureEmulator::start_with(
        CaptureConfig::default().login_client("login-client", "login-secret"),
        profile_emulator::loopback(0),
    )
    .await
    .unwrap();
    let before = emulator.records("user").len();
    let bulk =
        profile_capture::EntityBulkCreate::new("user", vec![json!({"email": "new1@example.com"})])
            .unwrap();
    let login = builder(
        &emulator,
        profile_capture::CaptureAuth::basic("login-client", "login-secret"),
    )
    .build()
    .unwrap();
    // The login client may read…
    login
        .entity(&EntityRead::new("user", EntityLocator::uuid(MATT_UUID)))
        .await
        .unwrap();
    // …but not create in bulk; nothing is created.
    let error = login.bulk_create(&bulk).await.unwrap_err();
    assert_eq!(error.vendor_code(), Some("403"), "{error}");
    assert!(
        error.to_string().contains("owner or direct_access"),
        "{error}"
    );
    assert_eq!(emulator.records("user").len(), before);
    // An end user's access token neither.
    let token = builder(
        &emulator,
        profile_capture::CaptureAuth::oauth(profile_emulator::capture::DEMO_ACCESS_TOKEN),
    )
    .build()
    .unwrap();
    assert!(token.bulk_create(&bulk).await.is_err());
    // The owner client may.
    let owner = builder(&emulator, basic()).build().unwrap();
    assert_eq!(owner.bulk_create(&bulk).await.unwrap().len(), 1);
    assert_eq!(emulator.records("user").len(), before + 1);
}
