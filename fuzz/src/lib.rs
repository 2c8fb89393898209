//! The fuzz targets' bodies, and their shared helpers.
//!
//! Each target is a function here: the `fuzz_target!` of `fuzz_targets/` calls it under
//! libFuzzer (`cargo xtask fuzz`), and `tests/corpus.rs` calls it over the inputs kept in
//! `corpus/<target>/`, so that `cargo xtask ci` fails when a target stops compiling or its
//! corpus breaks its property.

pub mod targets;

use std::sync::Arc;

use profile_core::ApiResponse;
pub use profile_core::RecordingTransport;

/// Splits fuzz input into a status (first two bytes, folded into 100..600) and a body.
pub fn answer(data: &[u8]) -> ApiResponse {
    let (head, body) = data.split_at(data.len().min(2));
    let raw = head.iter().fold(0u16, |acc, b| {
        acc.wrapping_mul(256).wrapping_add(u16::from(*b))
    });
    ApiResponse::new(100 + raw % 500, body.to_vec()).with_header("content-type", "application/json")
}

/// A transport that answers once with `response`.
pub fn transport(response: ApiResponse) -> Arc<RecordingTransport> {
    let transport = Arc::new(RecordingTransport::new());
    transport.push_response(response);
    transport
}

/// Runs a future to completion on this thread's single-threaded runtime (made once).
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    thread_local! {
        static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("runtime: {e}"));
    }
    RUNTIME.with(|runtime| runtime.block_on(future))
}

/// Splits text into key/value pairs at `\n` and `=`.
pub fn pairs(text: &str) -> Vec<(String, String)> {
    text.split('\n')
        .map(|line| match line.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => (line.to_owned(), String::new()),
        })
        .collect()
}
