use std::collections::VecDeque;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::{ApiRequest, ApiResponse, Error, Transport};

/// A transport for tests: records every request and answers from a queue of canned
/// responses (or errors), in order. With the queue empty it answers 200 with an empty JSON
/// object.
#[derive(Debug, Default)]
pub struct RecordingTransport {
    requests: Mutex<Vec<ApiRequest>>,
    replies: Mutex<VecDeque<Result<ApiResponse, Error>>>,
}

impl RecordingTransport {
    /// An empty recorder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues a response.
    pub fn push_response(&self, response: ApiResponse) -> &Self {
        self.lock_replies().push_back(Ok(response));
        self
    }

    /// Queues an error.
    pub fn push_error(&self, error: Error) -> &Self {
        self.lock_replies().push_back(Err(error));
        self
    }

    /// Every request sent so far, in order.
    pub fn requests(&self) -> Vec<ApiRequest> {
        match self.requests.lock() {
            Ok(requests) => requests.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn lock_replies(&self) -> std::sync::MutexGuard<'_, VecDeque<Result<ApiResponse, Error>>> {
        self.replies.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl Transport for RecordingTransport {
    async fn send(&self, request: &ApiRequest) -> Result<ApiResponse, Error> {
        self.requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(request.clone());
        self.lock_replies()
            .pop_front()
            .unwrap_or_else(|| Ok(ApiResponse::new(200, "{}")))
    }
}
