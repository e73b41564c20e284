//! The chat's connections, one per relay: each with its own state, backoff and
//! generation, so that one relay that is down leaves the groups of the others live.
//!
//! A link's generation changes whenever its connection is given up or made anew; a wake
//! (push, lost channel) of an older generation is stale and ignored.

use super::messages::ConnState;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::Instant;

/// The longest wait between reconnection attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Failed attempts after which the state shows as offline rather than reconnecting.
pub const OFFLINE_AFTER: u32 = 3;

struct Link {
    state: ConnState,
    failures: u32,
    next_attempt: Option<Instant>,
    generation: u64,
}

/// Every relay the chat connects to, by URL.
#[derive(Default)]
pub struct Links {
    map: BTreeMap<String, Link>,
    generations: u64,
}

impl Links {
    /// Makes the set of relays `relays`: new ones start connecting now, relays no group
    /// uses any more are dropped.
    pub fn set_relays(&mut self, relays: impl IntoIterator<Item = String>) {
        let wanted: BTreeMap<String, ()> = relays.into_iter().map(|r| (r, ())).collect();
        self.map.retain(|r, _| wanted.contains_key(r));
        for r in wanted.into_keys() {
            self.map.entry(r).or_insert_with(|| Link {
                state: ConnState::Connecting,
                failures: 0,
                next_attempt: Some(Instant::now()),
                generation: 0,
            });
        }
    }

    /// Whether there is no relay at all.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The relays, by URL.
    pub fn relays(&self) -> impl Iterator<Item = &String> {
        self.map.keys()
    }

    /// The state of `relay`'s connection, if it is one of the links.
    pub fn state(&self, relay: &str) -> Option<ConnState> {
        self.map.get(relay).map(|l| l.state.clone())
    }

    /// Whether `relay`'s connection is up.
    pub fn connected(&self, relay: &str) -> bool {
        self.map
            .get(relay)
            .is_some_and(|l| l.state == ConnState::Connected)
    }

    /// Whether any relay's connection is up.
    pub fn any_connected(&self) -> bool {
        self.map.values().any(|l| l.state == ConnState::Connected)
    }

    /// A relay whose next attempt is due by `now`.
    pub fn due(&self, now: Instant) -> Option<String> {
        self.map
            .iter()
            .find(|(_, l)| l.next_attempt.is_some_and(|a| a <= now))
            .map(|(r, _)| r.clone())
    }

    /// The earliest next attempt of any relay.
    pub fn next_attempt(&self) -> Option<Instant> {
        self.map.values().filter_map(|l| l.next_attempt).min()
    }

    /// An attempt on `relay` starts: its old connection's wakes become stale. Returns
    /// the new generation.
    pub fn begin(&mut self, relay: &str) -> u64 {
        self.generations += 1;
        let generation = self.generations;
        if let Some(l) = self.map.get_mut(relay) {
            l.next_attempt = None;
            l.generation = generation;
        }
        generation
    }

    /// The generation of `relay`'s current connection.
    pub fn generation(&self, relay: &str) -> Option<u64> {
        self.map.get(relay).map(|l| l.generation)
    }

    /// `relay` is connected.
    pub fn up(&mut self, relay: &str) {
        if let Some(l) = self.map.get_mut(relay) {
            l.failures = 0;
            l.state = ConnState::Connected;
        }
    }

    /// `relay`'s connection is gone or an attempt failed: schedules the next attempt
    /// (at once if it was working a moment ago, then with a growing backoff).
    pub fn lost(&mut self, relay: &str) {
        self.generations += 1;
        let generation = self.generations;
        let Some(l) = self.map.get_mut(relay) else {
            return;
        };
        l.generation = generation;
        let now = Instant::now();
        if l.state == ConnState::Connected {
            l.failures = 0;
            l.next_attempt = Some(now);
            l.state = ConnState::Reconnecting {
                attempt: 0,
                retry_at: now,
            };
            return;
        }
        l.failures += 1;
        let delay = Duration::from_millis(500)
            .saturating_mul(1 << l.failures.min(8))
            .min(MAX_BACKOFF);
        let at = now + delay;
        l.next_attempt = Some(at);
        l.state = if l.failures >= OFFLINE_AFTER {
            ConnState::Offline { retry_at: at }
        } else {
            ConnState::Reconnecting {
                attempt: l.failures,
                retry_at: at,
            }
        };
    }

    /// Every relay that is not connected tries again now (the user asked).
    pub fn retry_now(&mut self) {
        let now = Instant::now();
        for l in self.map.values_mut() {
            if l.state != ConnState::Connected {
                l.next_attempt = Some(now);
            }
        }
    }

    /// The state of each relay.
    pub fn states(&self) -> Vec<(String, ConnState)> {
        self.map
            .iter()
            .map(|(r, l)| (r.clone(), l.state.clone()))
            .collect()
    }

    /// One state for all: connected when every relay is, else the worst one's (offline,
    /// then reconnecting, then connecting); idle without relays.
    pub fn summary(&self) -> ConnState {
        let rank = |s: &ConnState| match s {
            ConnState::Offline { .. } => 4,
            ConnState::Reconnecting { .. } => 3,
            ConnState::Connecting => 2,
            ConnState::Connected => 1,
            ConnState::Idle => 0,
        };
        self.map
            .values()
            .map(|l| l.state.clone())
            .max_by_key(rank)
            .unwrap_or(ConnState::Idle)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_relay_down_leaves_the_other_connected() {
        let mut links = Links::default();
        links.set_relays(["wss://a".to_owned(), "wss://b".to_owned()]);
        assert_eq!(links.summary(), ConnState::Connecting);
        let ga = links.begin("wss://a");
        links.up("wss://a");
        links.begin("wss://b");
        links.lost("wss://b");
        assert!(links.connected("wss://a"));
        assert!(!links.connected("wss://b"));
        assert_eq!(links.generation("wss://a"), Some(ga));
        assert!(matches!(links.summary(), ConnState::Reconnecting { .. }));
        for _ in 0..OFFLINE_AFTER {
            links.begin("wss://b");
            links.lost("wss://b");
        }
        assert!(matches!(links.summary(), ConnState::Offline { .. }));
        assert!(links.connected("wss://a"), "a stays up");
        // A relay no group uses any more goes, with its state.
        links.set_relays(["wss://a".to_owned()]);
        assert_eq!(links.summary(), ConnState::Connected);
    }
}
