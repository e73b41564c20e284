//! The group's shared state — roles, the pinned board, settings and open invites — kept
//! in the MLS group context as one private extension.
//!
//! Why there and not in messages: the group context is agreed by every member at every
//! epoch (it enters the key schedule, so members whose states differ cannot even decrypt
//! each other, and the fork tag exposes it), it changes only by a commit, which every
//! client checks against the rules below before merging, and a newcomer receives it in
//! the Welcome — the board reaches someone who joins while every admin is offline, and
//! nobody has to re-send it.
//!
//! The rules every client enforces on a commit by `committer` that takes the state from
//! `old` to `new` ([`check_change`]):
//! * an admin may change anything, as long as some admin remains and every admin is a
//!   member;
//! * a member may change nothing, except to admit a joiner for an open invite that an
//!   admin made without approval: exactly one Add, and the new state is the old one
//!   minus that invite.
//!
//! The secrets of approval-free invites are part of the state (so that any member can
//! admit for one while the admins are offline); those of approval codes are sealed to the
//! admins' seal keys, and the admins' keys (relay admin key, seal key) are part of it too.
//! The state is never readable by the relay: commits are PrivateMessages and the
//! Welcome's GroupInfo is encrypted.

use crate::identity::{IdentityKey, fingerprint};
use crate::payload::InviteSecret;
use kith_i18n::t;
use openmls::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The MLS extension type of the Kith group state (from the private-use range).
pub const STATE_EXTENSION: u16 = 0xF4B1;

/// The most board entries.
pub const MAX_BOARD_ENTRIES: usize = 64;
/// The longest board entry title, in characters.
pub const MAX_BOARD_TITLE_CHARS: usize = 120;
/// The longest board entry text, in bytes.
pub const MAX_BOARD_TEXT_BYTES: usize = 4096;
/// The most open invites at a time.
pub const MAX_OPEN_INVITES: usize = 32;
/// The largest encoded state: bounds what a hostile commit or Welcome can make us parse
/// and keep (64 full board entries and 32 invites fit).
pub const MAX_STATE_BYTES: usize = 320 * 1024;
/// The most messages a group may hand to newcomers.
pub const MAX_HISTORY: u16 = 500;
/// The shortest disappearing-messages timer, seconds.
pub const MIN_DISAPPEAR_SECS: u64 = 5;
/// The longest disappearing-messages timer: a year.
pub const MAX_DISAPPEAR_SECS: u64 = 365 * 24 * 3600;

/// The group's shared state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupState {
    /// Identity keys of the admins.
    pub admins: BTreeSet<IdentityKey>,
    /// The pinned board, in display order.
    pub board: Vec<BoardEntry>,
    /// The id the next board entry gets (ids are never reused).
    pub next_entry: u32,
    /// Messages disappear this many seconds after they were sent (0: never).
    pub disappear_secs: u64,
    /// How many recent messages a newcomer is handed on joining (0: none).
    pub history: u16,
    /// Open invites by slot id.
    pub invites: BTreeMap<[u8; 32], OpenInvite>,
    /// Each admin's admin key at the relay (see `kith_protocol::access::AdminKey`), once
    /// known: the relay takes repairs and retention only from these keys. An admin
    /// without one (just promoted) adds their own with their first commit.
    pub admin_keys: BTreeMap<IdentityKey, AdminKeys>,
    /// A member who was away longer than the group keeps messages and asks to come back
    /// (a knock, `engine/knock.rs`) is let back in by the first admin's client that sees
    /// the request, without asking the admin. Off by default: a lost or taken device can
    /// ask too.
    pub let_back: bool,
    /// Relays the group can go on at when its own is lost (their WebSocket URLs, in
    /// order of preference; at most [`MAX_FALLBACKS`]).
    pub fallbacks: Vec<String>,
    /// The group's home: the relay every member reads and posts at while it answers, and
    /// the group's id there. Named once the group has fallbacks or has moved (`None`: the
    /// relay the group was made on, under the id it got there), so that a member who
    /// joins while the others are on a fallback still knows where home is.
    pub home: Option<RelayPlace>,
    /// The secret the ids of the group's copies on its fallback relays derive from
    /// (`engine/place.rs`): only members know those ids, so that nobody else can take a
    /// fallback's place first. Made with the first fallback, and renewed by every commit
    /// that removes someone.
    pub copy_key: Option<[u8; 32]>,
    /// The creation secret of each fallback (or home) relay that asks for one, by URL: a
    /// member who is the first to go on there sets the group up, and needs it. Only
    /// relays that refuse without it get one here (an admin's secret for another relay
    /// is never handed to every member).
    pub creation_secrets: BTreeMap<String, CreationSecret>,
}

/// A relay's creation secret, as the state carries it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreationSecret(#[serde(with = "serde_bytes")] pub Vec<u8>);

impl std::fmt::Debug for CreationSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CreationSecret(…)")
    }
}

/// A relay and the group's id there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayPlace {
    /// The relay's WebSocket URL, in the one form [`relay_url`] gives.
    pub url: String,
    /// The group's id at that relay.
    pub id: kith_protocol::GroupId,
    /// The sequence number its log starts at, for a home a move set up (0 for the relay
    /// a group was made on): above every number of the relay it left, so that members'
    /// records, keyed by those numbers, never meet.
    pub first_seq: u64,
}

/// The most fallback relays a group names.
pub const MAX_FALLBACKS: usize = 4;

/// The state as version 3 encoded it (before `home` and `copy_key`), still read, and
/// still written while neither is set but `let_back` or a fallback is. (Postcard writes a
/// nested struct as its fields in order: this is version 2's fields, then two more.)
#[derive(Serialize, Deserialize)]
struct StateV3 {
    v2: StateV2,
    let_back: bool,
    fallbacks: Vec<String>,
}

/// The state as version 2 encoded it (before `let_back` and `fallbacks`), still read,
/// and still written while neither is set.
#[derive(Serialize, Deserialize)]
struct StateV2 {
    admins: BTreeSet<IdentityKey>,
    board: Vec<BoardEntry>,
    next_entry: u32,
    disappear_secs: u64,
    history: u16,
    invites: BTreeMap<[u8; 32], OpenInvite>,
    admin_keys: BTreeMap<IdentityKey, AdminKeys>,
}

/// An admin's public keys for admin work, one pair per admin and group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminKeys {
    /// The admin key at the relay (Ed25519).
    pub relay: [u8; 32],
    /// The HPKE (X25519) key the secrets of approval codes are sealed to.
    pub seal: [u8; 32],
}

/// The state as version 1 encoded it (before admin keys), still read.
#[derive(Deserialize)]
struct StateV1 {
    admins: BTreeSet<IdentityKey>,
    board: Vec<BoardEntry>,
    next_entry: u32,
    disappear_secs: u64,
    history: u16,
    invites: BTreeMap<[u8; 32], OpenInviteV1>,
}

#[derive(Deserialize)]
struct OpenInviteV1 {
    by: IdentityKey,
    secret: InviteSecret,
}

/// One entry of the pinned board.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoardEntry {
    /// Stable id (what `kith board edit|rm` name).
    pub id: u32,
    /// Title.
    pub title: String,
    /// Text (contacts, addresses, templates).
    pub text: String,
    /// The admin who last wrote it.
    pub by: IdentityKey,
    /// When, Unix seconds (the writer's clock).
    pub at: u64,
}

/// The most bytes one sealed copy of an invite secret takes.
pub const MAX_SEALED_SECRET: usize = 512;

/// An invite an admin made that nobody has used yet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenInvite {
    /// The admin who made it.
    pub by: IdentityKey,
    /// When it expires, Unix seconds.
    pub expires_at: u64,
    /// Whether the joiner waits for an admin's approval.
    pub needs_approval: bool,
    /// What it takes to read the answer and seal the welcome, for an approval-free code:
    /// any member admits its joiner. `None` for an approval code.
    pub secret: Option<InviteSecret>,
    /// For an approval code: its secret sealed to each admin's seal key (HPKE), so that
    /// only admins can read who answers it.
    pub sealed: BTreeMap<IdentityKey, SealedSecret>,
}

/// An invite secret sealed to one admin (HPKE base mode, `engine/invite.rs`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedSecret {
    /// The KEM output.
    #[serde(with = "serde_bytes")]
    pub kem: Vec<u8>,
    /// The ciphertext.
    #[serde(with = "serde_bytes")]
    pub ct: Vec<u8>,
}

/// Why a state change is refused; the text completes "NAME tried to …".
pub type Refusal = String;

impl GroupState {
    /// The state of a new group: its creator is the only admin.
    pub fn new(creator: IdentityKey) -> Self {
        Self {
            admins: BTreeSet::from([creator]),
            ..Self::default()
        }
    }

    /// Reads the state from a group context's extensions. A group without one (or with
    /// one that does not parse) has no admins: nobody can change anything.
    pub fn from_extensions(ext: &Extensions<GroupContext>) -> Self {
        ext.unknown(STATE_EXTENSION)
            .and_then(|u| Self::decode(&u.0))
            .unwrap_or_default()
    }

    /// The state of `m` at its current epoch.
    pub fn of(m: &MlsGroup) -> Self {
        Self::from_extensions(m.extensions())
    }

    fn decode(bytes: &[u8]) -> Option<Self> {
        if bytes.len() > MAX_STATE_BYTES {
            return None;
        }
        let (version, rest) = bytes.split_first()?;
        let state = match version {
            1 => match postcard::take_from_bytes::<StateV1>(rest) {
                Ok((v1, [])) => Self {
                    admins: v1.admins,
                    board: v1.board,
                    next_entry: v1.next_entry,
                    disappear_secs: v1.disappear_secs,
                    history: v1.history,
                    // Approval codes of version 1 carried their secret for everyone: it
                    // is not kept (such a code no longer admits anyone).
                    invites: v1
                        .invites
                        .into_iter()
                        .map(|(slot, i)| {
                            let approval = i.secret.needs_approval;
                            let open = OpenInvite {
                                by: i.by,
                                expires_at: i.secret.expires_at,
                                needs_approval: approval,
                                secret: (!approval).then_some(i.secret),
                                sealed: BTreeMap::new(),
                            };
                            (slot, open)
                        })
                        .collect(),
                    admin_keys: BTreeMap::new(),
                    ..Self::default()
                },
                _ => return None,
            },
            2 => match postcard::take_from_bytes::<StateV2>(rest) {
                Ok((v2, [])) => Self::from_v2(v2),
                _ => return None,
            },
            3 => match postcard::take_from_bytes::<StateV3>(rest) {
                Ok((v3, [])) => Self {
                    let_back: v3.let_back,
                    fallbacks: v3.fallbacks,
                    ..Self::from_v2(v3.v2)
                },
                _ => return None,
            },
            4 => match postcard::take_from_bytes::<Self>(rest) {
                Ok((s, [])) => s,
                _ => return None,
            },
            _ => return None,
        };
        state.well_formed().then_some(state)
    }

    /// Encodes the state in the oldest version that holds it (2 while `let_back` is off
    /// and no fallback is set, 3 while no home or copy key is named), so that clients
    /// that predate the newer fields still read it.
    pub fn encode(&self) -> Vec<u8> {
        if self.home.is_some() || self.copy_key.is_some() || !self.creation_secrets.is_empty() {
            let mut out = vec![4u8];
            out.extend(postcard::to_stdvec(self).unwrap_or_default());
            return out;
        }
        let v2 = StateV2 {
            admins: self.admins.clone(),
            board: self.board.clone(),
            next_entry: self.next_entry,
            disappear_secs: self.disappear_secs,
            history: self.history,
            invites: self.invites.clone(),
            admin_keys: self.admin_keys.clone(),
        };
        if self.let_back || !self.fallbacks.is_empty() {
            let v3 = StateV3 {
                v2,
                let_back: self.let_back,
                fallbacks: self.fallbacks.clone(),
            };
            let mut out = vec![3u8];
            out.extend(postcard::to_stdvec(&v3).unwrap_or_default());
            return out;
        }
        let mut out = vec![2u8];
        out.extend(postcard::to_stdvec(&v2).unwrap_or_default());
        out
    }

    fn from_v2(v2: StateV2) -> Self {
        Self {
            admins: v2.admins,
            board: v2.board,
            next_entry: v2.next_entry,
            disappear_secs: v2.disappear_secs,
            history: v2.history,
            invites: v2.invites,
            admin_keys: v2.admin_keys,
            ..Self::default()
        }
    }

    fn well_formed(&self) -> bool {
        self.board.len() <= MAX_BOARD_ENTRIES
            && self.invites.len() <= MAX_OPEN_INVITES
            && self.history <= MAX_HISTORY
            && (self.disappear_secs == 0
                || (MIN_DISAPPEAR_SECS..=MAX_DISAPPEAR_SECS).contains(&self.disappear_secs))
            && self.board.iter().all(|e| {
                e.title.chars().count() <= MAX_BOARD_TITLE_CHARS
                    && e.text.len() <= MAX_BOARD_TEXT_BYTES
                    && e.id < self.next_entry
            })
            && self.invites.iter().all(|(slot, i)| {
                let secret_ok = match &i.secret {
                    Some(secret) => {
                        secret.slot == *slot
                            && !i.needs_approval
                            && !secret.needs_approval
                            && secret.expires_at == i.expires_at
                    }
                    None => i.needs_approval,
                };
                secret_ok
                    && i.sealed.len() <= MAX_OPEN_INVITES
                    && i.sealed
                        .values()
                        .all(|s| s.kem.len() + s.ct.len() <= MAX_SEALED_SECRET)
            })
            && self.admin_keys.keys().all(|a| self.admins.contains(a))
            && self.fallbacks.len() <= MAX_FALLBACKS
            && self
                .fallbacks
                .iter()
                .all(|u| relay_url(u).as_deref() == Some(u))
            && self
                .fallbacks
                .iter()
                .enumerate()
                .all(|(i, u)| !self.fallbacks[..i].contains(u))
            && self.home.as_ref().is_none_or(|h| {
                relay_url(&h.url).as_deref() == Some(&h.url) && !self.fallbacks.contains(&h.url)
            })
            && self.creation_secrets.iter().all(|(url, secret)| {
                secret.0.len() <= kith_protocol::limits::MAX_CREATION_SECRET
                    && (self.fallbacks.contains(url)
                        || self.home.as_ref().is_some_and(|h| h.url == *url))
            })
    }

    /// The relay admin keys of the admins, as the relay should hold them.
    pub fn relay_admin_keys(&self) -> Vec<[u8; 32]> {
        let mut keys: Vec<[u8; 32]> = self.admin_keys.values().map(|k| k.relay).collect();
        keys.sort_unstable();
        keys.dedup();
        keys
    }

    /// The admin whose relay admin key is `key`.
    pub fn admin_with_key(&self, key: &[u8; 32]) -> Option<IdentityKey> {
        self.admin_keys
            .iter()
            .find(|(_, k)| k.relay == *key)
            .map(|(a, _)| *a)
    }

    /// This state with every admin (and admin key) who is not in `members` dropped: what
    /// every commit of ours sets, so that no accepted state names a non-member admin.
    pub fn normalised(&self, members: &BTreeSet<IdentityKey>) -> Self {
        let mut next = self.clone();
        next.admins.retain(|a| members.contains(a));
        next.admin_keys.retain(|a, _| next.admins.contains(a));
        for i in next.invites.values_mut() {
            i.sealed.retain(|a, _| next.admins.contains(a));
        }
        next
    }

    /// Whether a change from `self` to `next` must close every open invite: someone
    /// leaves the group or stops being an admin, and could answer, read or burn the
    /// codes whose secrets they hold; or the group moves, and the codes' slots stay
    /// behind at the old relay.
    pub fn closes_invites(&self, next: &GroupState, removes_someone: bool) -> bool {
        removes_someone
            || self.admins.iter().any(|a| !next.admins.contains(a))
            || self.home != next.home
    }

    /// The group context extensions that carry this state (with the required
    /// capabilities that make OpenMLS refuse members whose clients cannot carry it).
    pub fn extensions(&self) -> Result<Extensions<GroupContext>, String> {
        if !self.well_formed() {
            return Err(t!("engine-state-breaks-limits"));
        }
        let bytes = self.encode();
        if bytes.len() > MAX_STATE_BYTES {
            return Err(t!("engine-state-board-too-large"));
        }
        Extensions::from_vec(vec![
            Extension::RequiredCapabilities(RequiredCapabilitiesExtension::new(
                &[ExtensionType::Unknown(STATE_EXTENSION)],
                &[],
                &[],
            )),
            Extension::Unknown(STATE_EXTENSION, UnknownExtension(bytes)),
        ])
        .map_err(|e| format!("{e:?}"))
    }

    /// Whether `who` is an admin.
    pub fn is_admin(&self, who: &IdentityKey) -> bool {
        self.admins.contains(who)
    }
}

/// A relay address in the one form the state keeps (`ws[s]://authority/v1`), if it is
/// one.
pub fn relay_url(s: &str) -> Option<String> {
    s.trim()
        .parse::<kith_protocol::invite::RelayAddr>()
        .ok()
        .map(|r| r.ws_url())
}

/// The leaf capabilities every Kith client announces: it can carry the state extension.
pub fn capabilities() -> Capabilities {
    Capabilities::builder()
        .extensions(vec![ExtensionType::Unknown(STATE_EXTENSION)])
        .build()
}

/// Checks a state change made by a commit. `members_after` are the identities in the
/// group once the commit is merged; `adds` how many members it adds.
pub fn check_change(
    old: &GroupState,
    new: &GroupState,
    committer: &IdentityKey,
    members_after: &BTreeSet<IdentityKey>,
    adds: usize,
) -> Result<(), Refusal> {
    if old.is_admin(committer) {
        if new != old {
            if new.admins.is_empty() && !members_after.is_empty() {
                return Err(t!("engine-state-refusal-no-admin"));
            }
            if let Some(a) = new.admins.iter().find(|a| !members_after.contains(*a)) {
                return Err(t!(
                    "engine-state-refusal-outsider-admin",
                    fingerprint = &fingerprint(a)[..9]
                ));
            }
        }
        return Ok(());
    }
    // A member: an admission for an approval-free invite, or nothing.
    if new == old {
        return if adds == 0 {
            Ok(())
        } else {
            Err(t!("engine-state-refusal-add"))
        };
    }
    let used: Vec<_> = old
        .invites
        .keys()
        .filter(|k| !new.invites.contains_key(*k))
        .collect();
    let mut expected = old.clone();
    if let [slot] = used.as_slice() {
        let invite = &old.invites[*slot];
        expected.invites.remove(*slot);
        if expected == *new && adds == 1 && !invite.needs_approval {
            return Ok(());
        }
        if invite.needs_approval && adds == 1 {
            return Err(t!("engine-state-refusal-unapproved"));
        }
    }
    Err(describe_forbidden(old, new))
}

fn describe_forbidden(old: &GroupState, new: &GroupState) -> Refusal {
    if old.admins != new.admins {
        t!("engine-state-refusal-admins")
    } else if old.board != new.board {
        t!("engine-state-refusal-board")
    } else if old.disappear_secs != new.disappear_secs
        || old.history != new.history
        || old.let_back != new.let_back
        || old.fallbacks != new.fallbacks
        || old.home != new.home
        || old.copy_key != new.copy_key
        || old.creation_secrets != new.creation_secrets
    {
        t!("engine-state-refusal-settings")
    } else {
        t!("engine-state-refusal-invites")
    }
}

/// Says, in words for the group's history, what changed between two states. `name`
/// turns an identity into a display name; `by` is the committer's name (`None`: this
/// profile's own commit).
pub fn describe_change(
    old: &GroupState,
    new: &GroupState,
    by: Option<&str>,
    name: &dyn Fn(&IdentityKey) -> String,
) -> Vec<String> {
    // Who did it: the catalogue words a change of one's own apart ("You made…").
    let (actor, by) = match by {
        Some(by) => ("other", by),
        None => ("you", ""),
    };
    let mut out = Vec::new();
    if old.admin_keys != new.admin_keys && old.admins == new.admins {
        out.push(t!("engine-state-told-admin-keys", actor = actor, by = by));
    }
    for a in new.admins.difference(&old.admins) {
        out.push(t!(
            "engine-state-told-promoted",
            actor = actor,
            by = by,
            name = name(a)
        ));
    }
    for a in old.admins.difference(&new.admins) {
        out.push(t!(
            "engine-state-told-demoted",
            actor = actor,
            by = by,
            name = name(a)
        ));
    }
    let old_board: BTreeMap<u32, &BoardEntry> = old.board.iter().map(|e| (e.id, e)).collect();
    let new_board: BTreeMap<u32, &BoardEntry> = new.board.iter().map(|e| (e.id, e)).collect();
    // Titles come from another member's commit: cleaned before they reach a terminal.
    let title = |e: &BoardEntry| super::clean_name(&e.title, MAX_BOARD_TITLE_CHARS);
    for (id, e) in &new_board {
        match old_board.get(id) {
            None => out.push(t!(
                "engine-state-told-pinned",
                actor = actor,
                by = by,
                title = title(e)
            )),
            Some(o) if o != e => out.push(t!(
                "engine-state-told-edited",
                actor = actor,
                by = by,
                title = title(e)
            )),
            _ => {}
        }
    }
    for (id, e) in &old_board {
        if !new_board.contains_key(id) {
            out.push(t!(
                "engine-state-told-unpinned",
                actor = actor,
                by = by,
                title = title(e)
            ));
        }
    }
    if old.disappear_secs != new.disappear_secs {
        out.push(match new.disappear_secs {
            0 => t!("engine-state-told-disappear-off", actor = actor, by = by),
            s => t!(
                "engine-state-told-disappear",
                actor = actor,
                by = by,
                duration = kith_i18n::duration(s)
            ),
        });
    }
    if old.history != new.history {
        out.push(match new.history {
            0 => t!("engine-state-told-history-off", actor = actor, by = by),
            n => t!("engine-state-told-history", actor = actor, by = by, n = n),
        });
    }
    for u in new.fallbacks.iter().filter(|u| !old.fallbacks.contains(u)) {
        out.push(t!(
            "engine-state-told-fallback-added",
            actor = actor,
            by = by,
            url = u
        ));
    }
    for u in old.fallbacks.iter().filter(|u| !new.fallbacks.contains(u)) {
        out.push(t!(
            "engine-state-told-fallback-removed",
            actor = actor,
            by = by,
            url = u
        ));
    }

    if old.let_back != new.let_back {
        out.push(if new.let_back {
            t!("engine-state-told-let-back-on", actor = actor, by = by)
        } else {
            t!("engine-state-told-let-back-off", actor = actor, by = by)
        });
    }
    for (slot, i) in &new.invites {
        if !old.invites.contains_key(slot) {
            out.push(if i.needs_approval {
                t!("engine-state-told-invite-approval", actor = actor, by = by)
            } else {
                t!("engine-state-told-invite", actor = actor, by = by)
            });
        }
    }
    out
}

/// Parses a duration like `30s`, `10m`, `12h`, `7d`, `2w` (a bare number is seconds).
pub fn parse_duration(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num.parse().ok()?;
    let mult = match unit.trim() {
        "" | "s" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return None,
    };
    n.checked_mul(mult)
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IdentityKey = [1; 32];
    const B: IdentityKey = [2; 32];

    #[test]
    fn a_state_of_version_2_still_reads_and_asks_before_letting_back_in() {
        let mut s = GroupState::new(A);
        s.disappear_secs = 3600;
        let v2 = s.encode();
        assert_eq!(
            v2[0], 2,
            "what older clients read, while nothing needs more"
        );
        assert_eq!(GroupState::decode(&v2), Some(s.clone()));
        s.let_back = true;
        let v3 = s.encode();
        assert_eq!(v3[0], 3);
        assert_eq!(GroupState::decode(&v3), Some(s.clone()));
        s.let_back = false;
        s.fallbacks = vec!["wss://spare.example/v1".into()];
        assert_eq!(GroupState::decode(&s.encode()), Some(s.clone()));
        // Only in the one form, at most four, no twice.
        for bad in [
            vec!["wss://spare.example".to_owned()],
            vec!["https://spare.example/v1".to_owned()],
            vec!["wss://a/v1".to_owned(), "wss://a/v1".to_owned()],
            (0..5).map(|i| format!("wss://r{i}/v1")).collect(),
        ] {
            s.fallbacks = bad;
            assert_eq!(GroupState::decode(&s.encode()), None, "{:?}", s.fallbacks);
        }
        // A home and a copy key need version 4; version 3 is still what a state with
        // only fallbacks is written as.
        s.fallbacks = vec!["wss://spare.example/v1".into()];
        assert_eq!(s.encode()[0], 3);
        s.home = Some(RelayPlace {
            url: "wss://home.example/v1".into(),
            id: kith_protocol::GroupId([4; 16]),
            first_seq: 0,
        });
        s.copy_key = Some([9; 32]);
        assert_eq!(s.encode()[0], 4);
        assert_eq!(GroupState::decode(&s.encode()), Some(s.clone()));
        // The home is never also a fallback, and is in the one form.
        let mut twice = s.clone();
        twice.fallbacks.push("wss://home.example/v1".into());
        assert_eq!(GroupState::decode(&twice.encode()), None);
        let mut sloppy = s.clone();
        sloppy.home.as_mut().unwrap().url = "wss://home.example".into();
        assert_eq!(GroupState::decode(&sloppy.encode()), None);
        // A creation secret only for a relay the state names, and not too long.
        s.creation_secrets.insert(
            "wss://spare.example/v1".into(),
            CreationSecret(b"spare".to_vec()),
        );
        assert_eq!(GroupState::decode(&s.encode()), Some(s.clone()));
        let mut stray = s.clone();
        stray
            .creation_secrets
            .insert("wss://other.example/v1".into(), CreationSecret(vec![1]));
        assert_eq!(GroupState::decode(&stray.encode()), None);
        let mut long = s.clone();
        long.creation_secrets.insert(
            "wss://spare.example/v1".into(),
            CreationSecret(vec![1; kith_protocol::limits::MAX_CREATION_SECRET + 1]),
        );
        assert_eq!(GroupState::decode(&long.encode()), None);
    }

    fn invite(slot: u8, approval: bool) -> OpenInvite {
        OpenInvite {
            by: A,
            expires_at: 10,
            needs_approval: approval,
            secret: (!approval).then(|| InviteSecret {
                slot: [slot; 32],
                slot_key: [0; 32],
                eph_secret: [0; 32],
                manage_token: [0; 32],
                expires_at: 10,
                needs_approval: false,
            }),
            sealed: BTreeMap::new(),
        }
    }

    #[test]
    fn round_trip_and_bounds() {
        let mut s = GroupState::new(A);
        s.board.push(BoardEntry {
            id: 0,
            title: "Legal aid".into(),
            text: "+1 555".into(),
            by: A,
            at: 1,
        });
        s.next_entry = 1;
        s.invites.insert([7; 32], invite(7, false));
        let ext = s.extensions().unwrap();
        assert_eq!(GroupState::from_extensions(&ext), s);
        // An entry id at or above next_entry, an over-long text: refused.
        let mut bad = s.clone();
        bad.next_entry = 0;
        assert!(bad.extensions().is_err());
        assert_eq!(GroupState::decode(&bad.encode()), None);
        let mut big = s.clone();
        big.board[0].text = "x".repeat(MAX_BOARD_TEXT_BYTES + 1);
        assert_eq!(GroupState::decode(&big.encode()), None);
        // Trailing bytes, wrong version: refused.
        let mut trailing = s.encode();
        trailing.push(0);
        assert_eq!(GroupState::decode(&trailing), None);
        let mut v5 = s.encode();
        v5[0] = 5;
        assert_eq!(GroupState::decode(&v5), None);
        // An admin key of a non-admin: refused.
        let mut stray = s.clone();
        stray.admin_keys.insert(
            B,
            AdminKeys {
                relay: [5; 32],
                seal: [6; 32],
            },
        );
        assert_eq!(GroupState::decode(&stray.encode()), None);
    }

    #[test]
    fn members_may_only_admit_for_open_invites() {
        kith_i18n::set_lang(kith_i18n::Lang::En);
        let members = BTreeSet::from([A, B]);
        let mut old = GroupState::new(A);
        old.invites.insert([7; 32], invite(7, false));
        old.invites.insert([8; 32], invite(8, true));
        let mut used7 = old.clone();
        used7.invites.remove(&[7; 32]);
        assert_eq!(check_change(&old, &used7, &B, &members, 1), Ok(()));
        // Without an add, or with two, it is not an admission.
        assert!(check_change(&old, &used7, &B, &members, 0).is_err());
        assert!(check_change(&old, &used7, &B, &members, 2).is_err());
        // An approval invite: only an admin.
        let mut used8 = old.clone();
        used8.invites.remove(&[8; 32]);
        assert!(
            check_change(&old, &used8, &B, &members, 1)
                .unwrap_err()
                .contains("approved")
        );
        assert_eq!(check_change(&old, &used8, &A, &members, 1), Ok(()));
        // Adding without any invite; promoting oneself; editing the board.
        assert!(check_change(&old, &old, &B, &members, 1).is_err());
        let mut promoted = old.clone();
        promoted.admins.insert(B);
        assert!(
            check_change(&old, &promoted, &B, &members, 0)
                .unwrap_err()
                .contains("admins")
        );
        assert_eq!(check_change(&old, &promoted, &A, &members, 0), Ok(()));
        // An admission that also sneaks in a change.
        let mut sneaky = used7.clone();
        sneaky.history = 10;
        assert!(check_change(&old, &sneaky, &B, &members, 1).is_err());
        // Admins must keep an admin, and only name members.
        let mut none = old.clone();
        none.admins.clear();
        assert!(check_change(&old, &none, &A, &members, 0).is_err());
        let mut outsider = old.clone();
        outsider.admins.insert([9; 32]);
        assert!(check_change(&old, &outsider, &A, &members, 0).is_err());
        // Where the group lives is the admins' to change: a member's move, new fallback
        // or copy key is refused by every client.
        let mut moved = old.clone();
        moved.home = Some(RelayPlace {
            url: "wss://elsewhere.example/v1".into(),
            id: kith_protocol::GroupId([1; 16]),
            first_seq: 1 << 40,
        });
        let mut spare = old.clone();
        spare.fallbacks.push("wss://spare.example/v1".into());
        let mut rekeyed = old.clone();
        rekeyed.copy_key = Some([3; 32]);
        for change in [&moved, &spare, &rekeyed] {
            assert!(
                check_change(&old, change, &B, &members, 0)
                    .unwrap_err()
                    .contains("settings")
            );
            assert_eq!(check_change(&old, change, &A, &members, 0), Ok(()));
        }
    }

    #[test]
    fn changes_are_told_with_titles_cleaned() {
        let old = GroupState::new(A);
        let mut new = old.clone();
        new.board.push(BoardEntry {
            id: 0,
            title: "Law\x1b[2Jyer".into(),
            text: String::new(),
            by: A,
            at: 0,
        });
        new.next_entry = 1;
        new.admins.insert(B);
        new.disappear_secs = 7 * 86_400;
        kith_i18n::set_lang(kith_i18n::Lang::En);
        let told = describe_change(&old, &new, Some("Olena"), &|_| "Iryna".into());
        assert_eq!(
            told,
            vec![
                "Olena made Iryna an admin",
                "Olena pinned to the board: Law[2Jyer",
                "Olena set messages to disappear after 7 days",
            ]
        );
        let mine = describe_change(&old, &new, None, &|_| "Iryna".into());
        assert_eq!(mine[0], "You made Iryna an admin");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("7d"), Some(7 * 86_400));
        assert_eq!(parse_duration("90"), Some(90));
        assert_eq!(parse_duration("10m"), Some(600));
        assert_eq!(parse_duration("2w"), Some(14 * 86_400));
        assert_eq!(parse_duration("x"), None);
        assert_eq!(parse_duration("5y"), None);
    }
}
