//! The bulk benchmark's ceiling, a process of its own: each row's prebuilt read and write
//! (a JSON Lines file of request pairs, written by `profile-bench`), sent by a bare reqwest
//! client at a concurrency; prints how many rows succeeded and how long they took.
//!
//! `profile-bench-ceiling FILE CONCURRENCY [one-thread|multi-thread]`
//!
//! It runs on the allocator `profiles` runs with, so that the sync is measured against what
//! the machine can do with the same allocator; the rest of the bench (its emulators, its
//! memory children) keeps the system's, as a program using the SDK would.
#![allow(clippy::print_stdout, clippy::expect_used)]

mod raw;

use std::time::Instant;

use futures_util::stream::{self, StreamExt};
use serde_json::json;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let file = args.first().expect("the requests file");
    let concurrency: usize = args
        .get(1)
        .and_then(|n| n.parse().ok())
        .expect("a concurrency");
    // On one thread as `profiles sync` runs, or on tokio's multi-thread runtime.
    let runtime = match args.get(2).map(String::as_str) {
        Some("multi-thread") => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build(),
        _ => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
    }
    .expect("a runtime");
    runtime.block_on(ceiling(file, concurrency));
}

async fn ceiling(requests_file: &str, concurrency: usize) {
    let text = std::fs::read_to_string(requests_file).expect("the requests");
    let requests: Vec<(raw::RawRequest, raw::RawRequest)> = text
        .lines()
        .map(|line| {
            let pair: serde_json::Value = serde_json::from_str(line).expect("a request pair");
            (
                raw::RawRequest::from_json(&pair[0]),
                raw::RawRequest::from_json(&pair[1]),
            )
        })
        .collect();
    let client = reqwest::Client::new();
    let started = Instant::now();
    let ok = stream::iter(requests.iter())
        .map(|(read, write)| {
            let client = client.clone();
            async move { read.send(&client).await && write.send(&client).await }
        })
        .buffer_unordered(concurrency)
        .filter(|ok| std::future::ready(*ok))
        .count()
        .await;
    println!(
        "{}",
        json!({"ok": ok, "seconds": started.elapsed().as_secs_f64()})
    );
}
