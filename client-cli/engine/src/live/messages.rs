//! What the screen and the engine say to each other (`chat/mod.rs`: two channels, no
//! other sharing): the screen's [`Command`]s, the engine's [`Event`]s, and what they
//! carry. Kept apart from both sides, so that neither imports the other for them.

use crate::engine::records::MessageRecord;
use crate::engine::{BoardEntry, GroupSummary, MemberInfo, RequestInfo};
use crate::identity::IdentityKey;
use kith_protocol::{GroupId, Seq};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::time::Duration;
use tokio::time::Instant;

/// What the screen asks of the engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// Tell everything again (who we are, every group's view, the connections): a
    /// screen that attached to a loop already running (`kith chat` through the daemon).
    Refresh,
    /// No screen looks at any group now (a chat attached to the daemon closed): new
    /// messages stay unread.
    Detach,
    /// The user looks at this group now (its messages count as read).
    Select(GroupId),
    /// Send a text; `id` names it in the outbox until the relay acknowledged it.
    Send {
        /// Outbox id (chosen by the screen).
        id: u64,
        /// The group.
        group: GroupId,
        /// The text.
        text: String,
    },
    /// Try to reconnect now (the user pressed retry while offline).
    Reconnect,
    /// Make a one-time invite.
    Invite {
        /// The group.
        group: GroupId,
        /// How long the code stays valid.
        ttl: Duration,
        /// The joiner waits for an admin's approval.
        approval: bool,
    },
    /// Remove a member (by name or fingerprint prefix).
    Remove {
        /// The group.
        group: GroupId,
        /// The member as typed.
        member: String,
        /// Also hide every message the member sent, for everyone.
        hide: bool,
    },
    /// Pin a new entry to the board.
    BoardAdd {
        /// The group.
        group: GroupId,
        /// The title.
        title: String,
        /// The text (may be empty).
        text: String,
    },
    /// Change a board entry (`None`: keep).
    BoardEdit {
        /// The group.
        group: GroupId,
        /// The entry's id.
        id: u32,
        /// A new title.
        title: Option<String>,
        /// A new text.
        text: Option<String>,
    },
    /// Remove a board entry.
    BoardRm {
        /// The group.
        group: GroupId,
        /// The entry's id.
        id: u32,
    },
    /// Send a file (`engine::files`).
    SendFile {
        /// The group.
        group: GroupId,
        /// The file to send.
        path: std::path::PathBuf,
    },
    /// List the group's files (answered as an info line).
    ListFiles(GroupId),
    /// Download a file and save it.
    GetFile {
        /// The group.
        group: GroupId,
        /// Its number in the list, or its name.
        which: String,
        /// Where to save it (a directory or a file name; default: its own name here).
        out: Option<std::path::PathBuf>,
    },
    /// Make a member an admin.
    Promote {
        /// The group.
        group: GroupId,
        /// The member as typed.
        member: String,
    },
    /// Make an admin a member again.
    Demote {
        /// The group.
        group: GroupId,
        /// The member as typed.
        member: String,
    },
    /// Look for new join requests now.
    Requests(GroupId),
    /// Approve a join request (by number or name).
    Approve {
        /// The group.
        group: GroupId,
        /// The request as typed.
        request: String,
    },
    /// Deny a join request (by number or name).
    Deny {
        /// The group.
        group: GroupId,
        /// The request as typed.
        request: String,
    },
    /// Delete a message for everyone.
    Delete {
        /// The group.
        group: GroupId,
        /// The message's sequence number.
        seq: Seq,
    },
    /// Change the disappearing timer (seconds, 0 = off) and/or the history newcomers
    /// receive (messages, 0 = none).
    Settings {
        /// The group.
        group: GroupId,
        /// The new timer.
        disappear: Option<u64>,
        /// The new history length.
        history: Option<u16>,
    },
    /// Drop the messages held for a group on hold.
    Discard(GroupId),
    /// Show the safety number with a member.
    Verify {
        /// The group.
        group: GroupId,
        /// The member as typed.
        member: String,
    },
    /// The safety numbers matched: mark the member verified.
    ConfirmVerified {
        /// The group the member was named in.
        group: GroupId,
        /// The member's identity key.
        member: IdentityKey,
        /// The member's name.
        name: String,
    },
    /// Leave the group.
    Leave(GroupId),
}

/// The state of the connection to the relay(s), always on screen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConnState {
    /// First connection attempt under way.
    Connecting,
    /// Subscribed to every active group; pushes arrive live.
    Connected,
    /// The connection was lost or failed a few times; retrying.
    Reconnecting {
        /// Failed attempts so far.
        attempt: u32,
        /// When the next attempt starts.
        #[serde(with = "instant_serde")]
        retry_at: Instant,
    },
    /// The relay has been unreachable for a while; still retrying, more slowly.
    Offline {
        /// When the next attempt starts.
        #[serde(with = "instant_serde")]
        retry_at: Instant,
    },
    /// No group to connect for.
    Idle,
}

/// Where a message of the outbox stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OutState {
    /// Waiting for the connection; it goes out once the relay is reachable.
    Queued,
    /// Posted; waiting for the relay's acknowledgement.
    Sending,
    /// Acknowledged and stored in the history.
    Sent,
    /// Not sent, or not known to be; the user may retry. Says why.
    Failed(String),
    /// Not sent because the group is on hold; tried again after each catch-up with the
    /// group, so it goes out once an admin's client has repaired the group.
    Held,
}

/// One group as the screen shows it, read from the store.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GroupView {
    /// The history, in order.
    pub records: Vec<MessageRecord>,
    /// Display names of everyone who appears in the history or the member list.
    #[serde(with = "pairs")]
    pub names: HashMap<IdentityKey, String>,
    /// Members whose safety number this profile confirmed.
    pub verified: HashSet<IdentityKey>,
    /// People whose name collides with another's of the group (look-alike or the same):
    /// shown with a fingerprint fragment (see `engine::names`).
    pub colliding: HashSet<IdentityKey>,
    /// The current members (empty once we are out of the group).
    pub members: Vec<MemberInfo>,
    /// We are an admin of the group.
    pub admin: bool,
    /// The pinned board, in display order.
    pub board: Vec<BoardEntry>,
    /// Messages disappear this many seconds after they were sent (0: never).
    pub disappear_secs: u64,
    /// How many recent messages newcomers receive (0: none).
    pub history: u16,
    /// Invites made and not used yet.
    pub open_invites: usize,
    /// Join requests waiting for an admin's decision (as this profile has seen them).
    pub requests: Vec<RequestInfo>,
    /// Why the group is on hold, if sending to it was refused for that (the engine's
    /// words); cleared when something is sent to it again.
    pub on_hold: Option<String>,
    /// The group's fallback relays (`/relays`).
    pub fallbacks: Vec<String>,
    /// The group's home relay (`/relays`); the group summary's `relay` is where this
    /// client is, a fallback while the home cannot be reached.
    pub home: String,
}

impl GroupView {
    /// How `who` is named on screen: the display name, tagged with a fingerprint
    /// fragment where it collides with another's; `None` for someone unknown.
    pub fn label(&self, who: &IdentityKey) -> Option<String> {
        let name = self.names.get(who)?;
        Some(if self.colliding.contains(who) {
            crate::engine::names::tagged(name, who)
        } else {
            name.clone()
        })
    }

    /// The earliest time, Unix seconds, at which a message of this view disappears.
    pub fn next_expiry(&self) -> Option<u64> {
        self.records
            .iter()
            .filter(|r| r.expires != 0)
            .map(|r| r.expires)
            .min()
    }
}

/// What the engine tells the screen.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Event {
    /// Who we are.
    Me {
        /// Display name.
        name: String,
        /// Identity key.
        identity: IdentityKey,
    },
    /// Every group with counts, and the groups we wait to be admitted to.
    Groups {
        /// Groups, sorted by name.
        groups: Vec<GroupSummary>,
        /// Names of groups we asked to join.
        joining: Vec<String>,
    },
    /// One group's view changed.
    Group {
        /// The group.
        id: GroupId,
        /// Its view.
        view: Box<GroupView>,
    },
    /// The connection state changed: of all relays at once (the worst), and of each.
    Connection(ConnState),
    /// The state of each relay's connection, by URL (sent when one changes).
    Relays(Vec<(String, ConnState)>),
    /// A message of the outbox moved on.
    Outbox {
        /// Its id.
        id: u64,
        /// Its new state.
        state: OutState,
    },
    /// A message waiting in the outbox that the screen did not send itself (left by an
    /// earlier run or by a command), or that a screen attaching now should show.
    Unsent {
        /// Its id, as in [`Event::Outbox`].
        id: u64,
        /// The group.
        group: GroupId,
        /// The text.
        text: String,
        /// When it was written, Unix seconds.
        time: u64,
    },
    /// Something to tell the user in passing.
    Info(String),
    /// Something that failed.
    Error(String),
    /// An invite was made.
    Invite {
        /// The group's name.
        group: String,
        /// The invite string.
        invite: String,
        /// How long it stays valid.
        ttl: Duration,
        /// The joiner waits for an admin's approval.
        approval: bool,
    },
    /// The safety number with a member, to compare out of band.
    SafetyNumber {
        /// The group.
        group: GroupId,
        /// The member.
        member: IdentityKey,
        /// The member's name.
        name: String,
        /// The number.
        number: String,
    },
    /// The engine cannot go on (the store failed); the chat must end.
    Fatal(String),
}

/// An [`Instant`] across processes: the milliseconds until it (0 if past).
mod instant_serde {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::time::Duration;
    use tokio::time::Instant;

    pub fn serialize<S: Serializer>(at: &Instant, s: S) -> Result<S::Ok, S::Error> {
        let ms = at.saturating_duration_since(Instant::now()).as_millis();
        u64::try_from(ms).unwrap_or(u64::MAX).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Instant, D::Error> {
        // A day at most: a hostile or broken peer cannot overflow the clock.
        let ms = u64::deserialize(d)?.min(86_400_000);
        Ok(Instant::now() + Duration::from_millis(ms))
    }
}

/// A map whose keys are not strings, as a list of pairs (JSON keys are strings).
mod pairs {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::collections::HashMap;
    use std::hash::Hash;

    pub fn serialize<K: Serialize, V: Serialize, S: Serializer>(
        map: &HashMap<K, V>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_seq(map.iter())
    }

    pub fn deserialize<'de, K, V, D>(d: D) -> Result<HashMap<K, V>, D::Error>
    where
        K: Deserialize<'de> + Eq + Hash,
        V: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        Ok(Vec::<(K, V)>::deserialize(d)?.into_iter().collect())
    }
}
