//! One writer per scope: who holds a scope's lease, and when another may take it over.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long a lease lasts without being renewed: a run renews it every quarter of that,
/// so a holder killed without a word is taken over within a minute.
pub const LEASE_TTL: Duration = Duration::from_secs(60);

/// A run that holds (or wants) a scope's lease.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseHolder {
    /// A token of this run alone.
    pub token: String,
    /// The host it runs on.
    pub host: String,
    /// Its process id.
    pub pid: u32,
}

impl LeaseHolder {
    /// This process, with a token of its own.
    pub fn this_process() -> Self {
        let pid = std::process::id();
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        Self {
            token: format!("{pid:x}-{nanos:x}"),
            host: host_name(),
            pid,
        }
    }
}

/// Another run's lease on a scope.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct HeldLease {
    /// The host it runs on.
    pub host: String,
    /// Its process id.
    pub pid: u32,
    /// When it took the lease (RFC 3339).
    pub since: String,
}

impl std::fmt::Display for HeldLease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "process {} on {} holds it since {}",
            self.pid, self.host, self.since
        )
    }
}

/// A lease as a store keeps it.
#[derive(Clone, Debug, PartialEq)]
pub struct LeaseRecord {
    /// The holder's token.
    pub token: String,
    /// Its host.
    pub host: String,
    /// Its process id.
    pub pid: u32,
    /// When it took the lease (RFC 3339).
    pub since: String,
    /// When it last renewed it, in seconds since the Unix epoch.
    pub renewed: f64,
}

impl LeaseRecord {
    /// A new lease of `holder`, taken now.
    pub fn of(holder: &LeaseHolder) -> Self {
        Self {
            token: holder.token.clone(),
            host: holder.host.clone(),
            pid: holder.pid,
            since: super::now(),
            renewed: unix_now(),
        }
    }

    /// Whether `holder` may take this lease: it is its own, it was not renewed for
    /// [`LEASE_TTL`], or its holder ran on this host and is gone.
    pub fn may_be_taken_by(&self, holder: &LeaseHolder) -> bool {
        self.token == holder.token
            || unix_now() - self.renewed > LEASE_TTL.as_secs_f64()
            || (self.host == holder.host && !process_alive(self.pid))
    }

    /// The lease as another run sees it.
    pub fn held(&self) -> HeldLease {
        HeldLease {
            host: self.host.clone(),
            pid: self.pid,
            since: self.since.clone(),
        }
    }
}

/// Seconds since the Unix epoch.
pub(super) fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "unknown-host".to_owned())
}

/// Whether a process of this host is running. Where that cannot be told (no `/proc`), it
/// is taken to be, and its lease lapses after [`LEASE_TTL`].
fn process_alive(pid: u32) -> bool {
    let proc = std::path::Path::new("/proc");
    if !proc.join("self").exists() {
        return true;
    }
    // A zombie (killed, not yet reaped by its parent) is gone too.
    match std::fs::read_to_string(proc.join(pid.to_string()).join("stat")) {
        Ok(stat) => !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_holder_keeps_its_lease_and_a_dead_one_on_this_host_loses_it() {
        let me = LeaseHolder::this_process();
        let other = LeaseHolder::this_process();
        let mut lease = LeaseRecord::of(&me);
        assert!(lease.may_be_taken_by(&me));
        // The holder (this process) is alive and renewed just now.
        let rival = LeaseHolder {
            token: "rival".into(),
            ..other
        };
        assert!(!lease.may_be_taken_by(&rival));
        // On another host, a stale lease lapses.
        lease.host = "elsewhere".into();
        lease.renewed -= LEASE_TTL.as_secs_f64() + 1.0;
        assert!(lease.may_be_taken_by(&rival));
        // On this host, a holder that no longer runs loses it at once.
        let mut dead = LeaseRecord::of(&me);
        dead.pid = u32::MAX - 1;
        assert!(dead.may_be_taken_by(&rival));
    }
}
