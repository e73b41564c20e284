//! How a sync of many groups reports: one outcome per group and per pending join, so
//! that one that fails (its relay down, a bad welcome, a broken group) stops no other.

use super::{ClientError, Result, SyncReport};
use crate::relay::RelayError;
use kith_protocol::GroupId;

/// How one part of a sync ended: one group, or one pending join.
#[derive(Debug)]
pub struct SyncOutcome {
    /// The group (for a join that failed: none yet).
    pub group: Option<GroupId>,
    /// The group's name, for the person.
    pub name: String,
    /// What it brought, or why it failed.
    pub result: Result<SyncReport>,
}

/// Relays found unreachable in this pass, with why: their other groups are not tried
/// again, so that one dead relay costs one connect timeout, not one per group.
pub(crate) type Dead = std::collections::HashMap<String, String>;

/// The error a group on a relay already found unreachable gets.
pub(crate) fn dead_relay(why: &str) -> ClientError {
    ClientError::Relay(RelayError::Connect(why.to_owned()))
}

/// Remembers `relay` as unreachable if `result` says so.
pub(crate) fn note_dead<T>(dead: &mut Dead, relay: &str, result: &Result<T>) {
    let why = match result {
        Err(ClientError::Relay(RelayError::Connect(why))) => why.clone(),
        Err(ClientError::Relay(RelayError::Timeout(what))) => {
            kith_i18n::t!("engine-no-answer-in-time", what = *what)
        }
        _ => return,
    };
    dead.entry(relay.to_owned()).or_insert(why);
}
