//! Every vendor's response decoding, through the public clients: any status and body end
//! in a value or a typed error, never a panic, and never show a credential.
#![no_main]

use libfuzzer_sys::fuzz_target;
use profile_capture::{CaptureAuth, CaptureClient, EntityLocator, EntityRead};
use profile_core::{BaseUrl, ClientSettings, RetryPolicy};
use profile_fuzz::{answer, block_on, transport};
use profile_lumapps::{LumAppsAuth, LumAppsClient, UserLocator};
use profile_sunshine::{IdentifierQuery, ProfileLocator, SunshineAuth, SunshineClient};

fuzz_target!(|data: &[u8]| {
    let base = BaseUrl::parse("https://example.com").unwrap();
    let sunshine = SunshineClient::builder(base.clone(), SunshineAuth::api_token("a@b.c", "SECRET1"))
        .transport(transport(answer(data)))
        .retry(RetryPolicy::never())
        .build()
        .unwrap();
    let query: IdentifierQuery = "s:t:email:a@b.c".parse().unwrap();
    if let Err(e) = block_on(sunshine.get_profile(&ProfileLocator::Identifier(query))) {
        assert!(!e.to_string().contains("SECRET1"));
    }
    let capture = CaptureClient::builder(base.clone(), CaptureAuth::basic("id", "SECRET2"))
        .transport(transport(answer(data)))
        .retry(RetryPolicy::never())
        .build()
        .unwrap();
    if let Err(e) = block_on(capture.entity(&EntityRead::new("user", EntityLocator::Id(1)))) {
        assert!(!e.to_string().contains("SECRET2"));
    }
    let lumapps = LumAppsClient::builder(base, LumAppsAuth::token("SECRET3"))
        .transport(transport(answer(data)))
        .retry(RetryPolicy::never())
        .build()
        .unwrap();
    if let Err(e) = block_on(lumapps.get_user("d1", &UserLocator::Email("a@b.c".into()))) {
        assert!(!e.to_string().contains("SECRET3"));
    }
});
