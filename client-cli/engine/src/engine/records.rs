//! What the client keeps in its encrypted store, besides OpenMLS's own state.
//!
//! Namespaces (the store hashes them with the profile's key; none reaches disk in clear):
//!
//! | namespace | key | value |
//! |---|---|---|
//! | `profile` | `me` | [`ProfileRecord`] |
//! | `groups` | the group's id here | [`GroupRecord`] |
//! | `places` | the group's id here | [`super::place::Placement`] |
//! | `msgs/<group hex>` | seq (8, BE) ‖ sub (2, BE) | [`MessageRecord`] |
//! | `invites/<group hex>` | slot id | [`AdminInvite`] |
//! | `requests/<group hex>` | slot id | [`JoinRequest`] |
//! | `unconfirmed/<group hex>` | SHA-256 of the posted payload | [`Unconfirmed`] |
//! | `joins` | slot id | [`PendingJoin`] |
//! | `contacts` | identity key | [`Contact`] |

use super::state::GroupState;
use crate::identity::IdentityKey;
use crate::payload::{Body, FileRef, InviteSecret};
use crate::seal::{Invitation, WelcomeKey};
use kith_protocol::{Epoch, GroupId, Seq};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Namespace of the profile record.
pub const NS_PROFILE: &str = "profile";
/// Namespace of group records.
pub const NS_GROUPS: &str = "groups";
/// Namespace of pending joins.
pub const NS_JOINS: &str = "joins";
/// Namespace of contacts (verification state).
pub const NS_CONTACTS: &str = "contacts";
/// Namespace of the outbox: texts not stored by the relay yet, by number
/// (`engine/outbox.rs`).
pub const NS_OUTBOX: &str = "outbox";
/// Namespace of the outbox's attempts whose answer is awaited: outbox number by
/// [`unconfirmed_key`].
pub const NS_OUTBOX_ATTEMPTS: &str = "outbox-attempts";
/// Namespace of the outbox's next number.
pub const NS_OUTBOX_NEXT: &str = "outbox-next";

/// The namespace of a group's messages.
pub fn ns_msgs(group: &GroupId) -> String {
    format!("msgs/{}", group.to_hex())
}

/// The namespace of the invites a group's admins know about.
pub fn ns_invites(group: &GroupId) -> String {
    format!("invites/{}", group.to_hex())
}

/// The namespace of the join requests waiting for this admin's approval.
pub fn ns_requests(group: &GroupId) -> String {
    format!("requests/{}", group.to_hex())
}

/// The namespace of a group's messages of ours that the relay may have stored without
/// our hearing so (see [`Unconfirmed`]).
pub fn ns_unconfirmed(group: &GroupId) -> String {
    format!("unconfirmed/{}", group.to_hex())
}

/// The namespace of the numbers the relay gave our own messages in its answers, by
/// [`unconfirmed_key`]: where each was shown until it is met in the log. The relay's
/// answer is not trusted: the log decides.
pub fn ns_claimed(group: &GroupId) -> String {
    format!("claimed/{}", group.to_hex())
}

/// The key of an [`Unconfirmed`] entry: SHA-256 of the padded bytes as posted, which
/// the relay serves back unchanged.
pub fn unconfirmed_key(payload: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    Sha256::digest(payload).into()
}

/// The key of a message record.
pub fn msg_key(seq: Seq, sub: u16) -> [u8; 10] {
    let mut k = [0u8; 10];
    k[..8].copy_from_slice(&seq.to_be_bytes());
    k[8..].copy_from_slice(&sub.to_be_bytes());
    k
}

/// Who this profile is.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ProfileRecord {
    /// Display name, sent to groups inside MLS.
    pub name: String,
    /// The identity (and MLS signature) public key.
    pub identity: IdentityKey,
    /// When the profile was made, Unix seconds.
    pub created_at: u64,
}

/// Whether this profile is still in a group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum GroupStatus {
    /// A member.
    Active,
    /// Removed by a commit of `by`.
    Removed {
        /// The remover, if known.
        by: Option<IdentityKey>,
    },
    /// This profile left.
    Left,
}

/// A commit of ours that the relay has not (yet, as far as we know) accepted. OpenMLS
/// keeps the staged commit itself; this says what it was for and what was sent, so that
/// after a crash or a lost answer we recognise our own commit in the log.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PendingCommit {
    /// The epoch the commit was made in.
    pub epoch: Epoch,
    /// The padded bytes as posted.
    #[serde(with = "serde_bytes")]
    pub payload: Vec<u8>,
    /// The MLS Welcome, for a commit that adds someone.
    #[serde(with = "serde_bytes")]
    pub welcome: Option<Vec<u8>>,
    /// What it does.
    pub purpose: CommitPurpose,
}

/// What a commit of ours does.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub enum CommitPurpose {
    /// Changes the group state only (roles, board, settings, invites); what changed is
    /// told from the states before and after.
    #[default]
    State,
    /// Adds the joiner who answered invite `slot`.
    Add {
        /// The invite slot.
        slot: [u8; 32],
        /// The joiner's identity.
        identity: IdentityKey,
        /// The joiner's display name.
        name: String,
    },
    /// Removes members.
    Remove {
        /// Their identities.
        identities: Vec<IdentityKey>,
    },
    /// Updates our own leaf (post-compromise security).
    Update,
    /// Removes members who asked to leave.
    Leaves {
        /// Their identities.
        identities: Vec<IdentityKey>,
    },
}

/// A group as this profile knows it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct GroupRecord {
    /// The group's name (never sent to the relay).
    pub name: String,
    /// The WebSocket URL of the relay this client reads and posts the group at: its
    /// home, or a fallback while the home cannot be reached (`engine/place.rs`).
    pub relay: String,
    /// The group's id in this profile: the key of its records here, and its id on the
    /// relay this profile first knew it at. On [`Self::relay`] it is `place.id`.
    pub relay_group: GroupId,
    /// The MLS group id.
    #[serde(with = "serde_bytes")]
    pub mls_group_id: Vec<u8>,
    /// The next relay sequence number to read.
    pub cursor: Seq,
    /// Messages with a sequence number below this were shown to the user.
    pub read_upto: Seq,
    /// Member, removed, or left.
    pub status: GroupStatus,
    /// Display names by identity key.
    pub names: BTreeMap<IdentityKey, String>,
    /// Members who asked to leave and are waiting for an admin to commit it.
    pub leaving: BTreeSet<IdentityKey>,
    /// Our commit waiting for the relay's answer.
    pub pending: Option<PendingCommit>,
    /// When we last committed an update of our own leaf, Unix seconds.
    pub last_update: u64,
    /// The group's shared state as this client accepts it: the MLS-agreed state after
    /// every change that passed the rules, and never one that did not (see `tainted`).
    pub state: GroupState,
    /// Members who made a change they had no right to (shown to the user; kept until
    /// they leave or are removed).
    pub offenders: BTreeSet<IdentityKey>,
    /// Members added by such a change.
    pub intruders: BTreeSet<IdentityKey>,
    /// A change that broke the rules was merged (the relay had made it the epoch's
    /// commit) and not undone yet: the MLS state holds what `state` refuses, or an
    /// intruder is in the group. Until an admin's client undoes it, this client sends
    /// nothing to the group.
    pub tainted: bool,
    /// The member who admitted us, while we accept shared history from it.
    pub history_from: Option<IdentityKey>,
    /// The next record index for shared history (history is filed just before our join).
    pub history_next: u16,
    /// Where the group is at [`Self::relay`], and what this client knows of its other
    /// copies. Kept in a namespace of its own (`places`), so that group records written
    /// before groups could move still read; [`super::Client`] loads and saves it with
    /// the record.
    #[serde(skip)]
    pub place: super::place::Placement,
}

/// What kind of line a message record is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RecordKind {
    /// A text message.
    Text(String),
    /// A membership or group event, shown set apart.
    Notice(String),
    /// Something the user must see: a rejected or undecryptable message, a key change.
    Alert(String),
    /// A file; `kith get` downloads it.
    File(FileRef),
    /// A message deleted for everyone (by its sender or an admin); the text is gone.
    Deleted {
        /// Who deleted it.
        by: IdentityKey,
    },
}

impl RecordKind {
    /// The line of text that stands for this record in lists and searches.
    pub fn text(&self) -> String {
        match self {
            RecordKind::Text(t) | RecordKind::Notice(t) | RecordKind::Alert(t) => t.clone(),
            RecordKind::File(f) => kith_i18n::t!(
                "engine-record-file",
                name = super::clean_name(&f.name, 255),
                size = kith_i18n::size(f.size)
            ),
            RecordKind::Deleted { .. } => kith_i18n::t!("engine-record-deleted"),
        }
    }
}

/// Whether an alert's text tells of a member's change that every client refused
/// ("REFUSED: …", in whichever language it was written): a face says it at once.
pub fn is_refusal(text: &str) -> bool {
    kith_i18n::Lang::ALL.iter().any(|lang| {
        let mark = kith_i18n::message_in(*lang, "engine-refused-mark", &[]);
        text.strip_prefix(mark.as_str())
            .is_some_and(|rest| rest.starts_with(':'))
    })
}

/// One line of a group's history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageRecord {
    /// The relay sequence number it came with.
    pub seq: Seq,
    /// Its index among the records of that sequence number.
    pub sub: u16,
    /// Unix seconds, when it happened: the sender's clock for texts and files (never
    /// ahead of ours), the relay's storing of the commit or message for the notices it
    /// brings, ours for alerts (when this client noticed) and our own doings.
    pub time: u64,
    /// The sender, for texts and notices caused by a member.
    pub sender: Option<IdentityKey>,
    /// Whether we sent it.
    pub own: bool,
    /// What it is.
    pub kind: RecordKind,
    /// For history handed to us on joining: the member who handed it over (the original
    /// sender's signature did not travel with it).
    pub shared_by: Option<IdentityKey>,
    /// When it disappears, Unix seconds (0: never).
    pub expires: u64,
}

/// Puts a group's history in the order things happened (each record's `time`), the
/// same second in the relay's order (sequence number, then index): what `kith read`
/// and the chat show. Sequence numbers stay the records' own (`delete N` takes them).
pub fn in_time_order(records: &mut [MessageRecord]) {
    records.sort_by_key(timeline_key);
}

/// Where a record sits in the timeline ([`in_time_order`]).
pub fn timeline_key(r: &MessageRecord) -> (u64, Seq, u16) {
    (r.time, r.seq, r.sub)
}

/// An application message of ours, encrypted and handed to the relay, whose answer we
/// have not seen. OpenMLS cannot decrypt our own messages (the sending ratchet keeps no
/// keys), so when the answer is lost — a crash, `kill -9`, a dropped connection — the
/// echo in the log is all we get: this entry, saved in the same commit as the ratchet
/// step, is what lets the next sync recognise it by its bytes and show it as ours, at
/// its place in the log, once. A successful post removes it in the commit that records
/// the message; the sync that meets the echo removes it likewise. Entries whose echo
/// never comes are dropped by the first sync that reads the log to its end more than
/// [`UNCONFIRMED_KEEP_SECS`] after they were made, and with the group's other records
/// when we leave or are removed. Under a disappearing-messages timer an entry expires
/// with the message it stands for.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Unconfirmed {
    /// When it was encrypted, Unix seconds (our clock).
    pub created: u64,
    /// What the message does to our own view once the relay has it.
    pub effect: OwnEffect,
}

/// How long an [`Unconfirmed`] entry outlives its post, seconds: a day. The relay
/// answers or drops a post within seconds; a catch-up a day later has met every
/// message it stored from that post, so an entry still there by then stands for a post
/// that was never stored (or has already expired from the relay).
pub const UNCONFIRMED_KEEP_SECS: u64 = 24 * 3600;

/// What a message of ours changes in our own view once the relay has stored it: what
/// other members' clients do on receiving it, done by ours without the echo (which it
/// cannot decrypt). Derived from the [`Body`] alone ([`OwnEffect::of`]), for the answer
/// and for the echo alike.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OwnEffect {
    /// A line of our history (a text, a file), as of `time`.
    Record {
        /// The time the body carries (its `sent_at`).
        time: u64,
        /// The line.
        kind: RecordKind,
    },
    /// Our deletion of the message with this sequence number.
    Delete {
        /// The message deleted.
        seq: Seq,
    },
    /// Our hiding of a removed member's messages.
    HideFrom {
        /// The member.
        member: IdentityKey,
    },
}

impl OwnEffect {
    /// The effect of sending `body`, if it has one (names, leave requests and history
    /// for newcomers change nothing in the sender's own view).
    pub fn of(body: &Body) -> Option<Self> {
        match body {
            Body::Text { text, sent_at } => Some(OwnEffect::Record {
                time: *sent_at,
                kind: RecordKind::Text(text.clone()),
            }),
            Body::File(file) => Some(OwnEffect::Record {
                time: file.sent_at,
                kind: RecordKind::File(file.clone()),
            }),
            Body::Delete { seq } => Some(OwnEffect::Delete { seq: *seq }),
            Body::HideFrom { member } => Some(OwnEffect::HideFrom { member: *member }),
            Body::Profile { .. }
            | Body::LeaveRequest
            | Body::History { .. }
            | Body::DuressNotice => None,
        }
    }
}

/// Someone who answered an invite that needs approval, waiting for an admin.
#[derive(Clone, Serialize, Deserialize)]
pub struct JoinRequest {
    /// The invite slot.
    pub slot: [u8; 32],
    /// The joiner's identity key.
    pub identity: IdentityKey,
    /// The name the joiner gave.
    pub name: String,
    /// The joiner's KeyPackage, TLS-encoded (validated when the answer was opened).
    #[serde(with = "serde_bytes")]
    pub key_package: Vec<u8>,
    /// The key to seal the welcome under.
    pub welcome_key: WelcomeKey,
    /// When we saw the request, Unix seconds.
    pub seen_at: u64,
}

/// An invite this profile is admitting a joiner for (any member may, for an invite
/// without approval; admins for approved ones).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AdminInvite {
    /// The secrets.
    pub secret: InviteSecret,
    /// The key to seal the welcome under, once the joiner's answer was opened.
    pub welcome_key: Option<WelcomeKey>,
    /// A sealed welcome that still has to be put on the relay.
    #[serde(with = "serde_bytes")]
    pub welcome_blob: Option<Vec<u8>>,
}

/// A join this profile answered and is waiting to be admitted to.
#[derive(Clone, Serialize, Deserialize)]
pub struct PendingJoin {
    /// The relay's WebSocket URL.
    pub relay: String,
    /// The slot id.
    pub slot: [u8; 32],
    /// What the invitation said.
    pub invitation: Invitation,
    /// The key the welcome will be sealed under.
    pub welcome_key: WelcomeKey,
    /// When we answered, Unix seconds.
    pub answered_at: u64,
}

/// Verification state of an identity key.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Contact {
    /// The safety number was compared and confirmed.
    pub verified: bool,
    /// The last display name seen for this key.
    pub name: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use kith_i18n::{Arg, Lang, message_in};

    fn line(seq: Seq, sub: u16, time: u64, kind: RecordKind) -> MessageRecord {
        MessageRecord {
            seq,
            sub,
            time,
            sender: None,
            own: false,
            kind,
            shared_by: None,
            expires: 0,
        }
    }

    #[test]
    fn the_timeline_is_in_the_order_things_happened() {
        // In the log: a text, a member's join read an hour late (filed at its commit's
        // place), a text sent before the join, and two notices of one second.
        let mut v = vec![
            line(1, 0, 100, RecordKind::Text("a".into())),
            line(2, 0, 300, RecordKind::Notice("joined".into())),
            line(3, 0, 200, RecordKind::Text("b".into())),
            line(4, 1, 300, RecordKind::Notice("second of the commit".into())),
            line(4, 0, 300, RecordKind::Notice("first of the commit".into())),
        ];
        in_time_order(&mut v);
        let order: Vec<(Seq, u16)> = v.iter().map(|r| (r.seq, r.sub)).collect();
        assert_eq!(order, vec![(1, 0), (3, 0), (2, 0), (4, 0), (4, 1)]);
    }

    #[test]
    fn a_refusal_is_known_in_every_language() {
        for lang in Lang::ALL {
            let text = message_in(
                lang,
                "engine-sync-offense",
                &[("name", Arg::from("Mallory")), ("why", Arg::from("x"))],
            );
            assert!(is_refusal(&text), "{text}");
        }
        assert!(!is_refusal("REFUSED to go"));
        assert!(!is_refusal("Olena removed Mykola"));
    }
}
