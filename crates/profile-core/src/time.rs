//! Injected time: a clock, a sleep and a jitter source, so that backoff, rate limits and
//! signatures are tested without waiting and without flakiness.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Wall-clock time (for `Retry-After` dates and request signatures).
pub trait Clock: Send + Sync + fmt::Debug {
    /// Now.
    fn now(&self) -> SystemTime;
}

/// The system's clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that always says the same time (for tests and snapshots).
#[derive(Clone, Copy, Debug)]
pub struct FixedClock(pub SystemTime);

impl Clock for FixedClock {
    fn now(&self) -> SystemTime {
        self.0
    }
}

/// A future that completes after a delay.
pub type SleepFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Waiting.
pub trait Sleep: Send + Sync + fmt::Debug {
    /// A future that completes after `duration`.
    fn sleep(&self, duration: Duration) -> SleepFuture;
}

/// Sleeps on tokio's timer (which tests can pause and advance).
#[derive(Clone, Copy, Debug, Default)]
pub struct TokioSleep;

impl Sleep for TokioSleep {
    fn sleep(&self, duration: Duration) -> SleepFuture {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// A UTC calendar date and time, for the formats vendors put on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UtcDateTime {
    /// The year.
    pub year: i64,
    /// 1 to 12.
    pub month: u32,
    /// 1 to 31.
    pub day: u32,
    /// 0 to 23.
    pub hour: u32,
    /// 0 to 59.
    pub minute: u32,
    /// 0 to 59.
    pub second: u32,
    /// 0 to 999,999.
    pub microsecond: u32,
}

impl UtcDateTime {
    /// The calendar time of an instant (instants before 1970 count as 1970-01-01).
    pub fn from_system_time(time: SystemTime) -> Self {
        let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
        let secs = since.as_secs();
        // Howard Hinnant's days-to-civil algorithm.
        let z = (secs / 86_400) as i64 + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let rem = secs % 86_400;
        Self {
            year: yoe + era * 400 + i64::from(month <= 2),
            month,
            day,
            hour: (rem / 3_600) as u32,
            minute: (rem % 3_600 / 60) as u32,
            second: (rem % 60) as u32,
            microsecond: since.subsec_micros(),
        }
    }

    /// `2020-02-03T22:14:48Z` (ISO 8601, second precision).
    pub fn iso8601(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }

    /// `2000-01-01 01:01:01` (Capture's signing date).
    pub fn date_time(&self) -> String {
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }

    /// `2016-03-13 19:39:17.856608 +0000` (Capture's timestamps).
    pub fn date_time_micros(&self) -> String {
        format!("{}.{:06} +0000", self.date_time(), self.microsecond)
    }
}

/// A small, fast source of jitter in `[0, 1)` (SplitMix64). Not for cryptography.
pub struct Jitter {
    state: AtomicU64,
}

impl Jitter {
    /// A source with a fixed seed: the same sequence every time.
    pub fn seeded(seed: u64) -> Self {
        Self {
            state: AtomicU64::new(seed),
        }
    }

    /// A source seeded from the clock.
    pub fn from_time() -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9E37_79B9_7F4A_7C15);
        Self::seeded(nanos)
    }

    /// The next value in `[0, 1)`.
    pub fn next_unit(&self) -> f64 {
        let mut z = self
            .state
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        // The top 53 bits make an exact f64 in [0, 1).
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

impl fmt::Debug for Jitter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Jitter")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_times_of_known_instants() {
        let at = |secs: u64, micros: u32| {
            UtcDateTime::from_system_time(UNIX_EPOCH + Duration::new(secs, micros * 1_000))
        };
        assert_eq!(at(0, 0).iso8601(), "1970-01-01T00:00:00Z");
        assert_eq!(at(1_580_768_088, 0).iso8601(), "2020-02-03T22:14:48Z");
        assert_eq!(at(951_782_400, 0).iso8601(), "2000-02-29T00:00:00Z");
        assert_eq!(at(946_688_461, 0).date_time(), "2000-01-01 01:01:01");
        assert_eq!(
            at(1_457_897_957, 856_608).date_time_micros(),
            "2016-03-13 19:39:17.856608 +0000"
        );
    }

    #[test]
    fn jitter_stays_in_the_unit_interval_and_is_repeatable_with_a_seed() {
        let a = Jitter::seeded(42);
        let b = Jitter::seeded(42);
        for _ in 0..10_000 {
            let x = a.next_unit();
            assert!((0.0..1.0).contains(&x));
            assert_eq!(x, b.next_unit());
        }
    }
}
