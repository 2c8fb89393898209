//! Helpers for testing code built on profile-core (feature `test-util`).

mod recording;

pub use recording::RecordingTransport;

/// The retry policy of tests against an emulator: the default attempts, with waits of 10 to
/// 50 ms instead of 200 ms to 20 s, so that a test of a retried fault takes milliseconds.
pub fn quick_retries() -> crate::RetryPolicy {
    crate::RetryPolicy::default().with_backoff(
        std::time::Duration::from_millis(10),
        std::time::Duration::from_millis(50),
    )
}

#[cfg(feature = "test-util")]
mod traces {
    use std::cell::RefCell;
    use std::io::Write;
    use std::sync::{Arc, Mutex, OnceLock};

    thread_local! {
        static CAPTURE: RefCell<Option<Arc<Mutex<Vec<u8>>>>> = const { RefCell::new(None) };
    }

    /// Writes to the buffer of the thread that is capturing; discards everything else.
    struct ThreadCapture;

    impl Write for ThreadCapture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            CAPTURE.with(|c| {
                if let Some(buffer) = c.borrow().as_ref() {
                    buffer
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .extend_from_slice(buf);
                }
            });
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// What [`capture_traces`] collected.
    #[derive(Clone, Debug)]
    pub struct CapturedTraces(Arc<Mutex<Vec<u8>>>);

    impl CapturedTraces {
        /// Everything written so far, as text.
        pub fn text(&self) -> String {
            String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
        }
    }

    /// Collects, from now on, every tracing event emitted on the calling thread at TRACE
    /// level, formatted as the `fmt` subscriber writes them. Run the code under test on this
    /// thread (a current-thread tokio runtime).
    ///
    /// A process-wide subscriber is installed once (a thread-local one races with other
    /// test threads over tracing's per-callsite interest cache and loses events); it
    /// discards the output of threads that are not capturing. Returns `None` if another
    /// global subscriber was installed first.
    pub fn capture_traces() -> Option<CapturedTraces> {
        static INSTALLED: OnceLock<bool> = OnceLock::new();
        let installed = *INSTALLED.get_or_init(|| {
            let subscriber = tracing_subscriber::fmt()
                .with_max_level(tracing::Level::TRACE)
                .with_ansi(false)
                .with_writer(|| ThreadCapture)
                .finish();
            tracing::subscriber::set_global_default(subscriber).is_ok()
        });
        if !installed {
            return None;
        }
        let buffer = Arc::new(Mutex::new(Vec::new()));
        CAPTURE.with(|c| *c.borrow_mut() = Some(buffer.clone()));
        Some(CapturedTraces(buffer))
    }
}

#[cfg(feature = "test-util")]
pub use traces::{CapturedTraces, capture_traces};
