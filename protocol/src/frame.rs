//! Every frame of the wire protocol.
//!
//! One WebSocket binary message carries exactly one frame. A client sends
//! [`ClientFrame`]s, a relay sends [`RelayFrame`]s. Both are encoded with postcard
//! (serde, varint integers, enums as a varint variant index, byte strings as a varint
//! length then the bytes); `docs/PROTOCOL.md` spells out the layout.
//!
//! Decoding is bounded: [`ClientFrame::decode`] and [`RelayFrame::decode`] refuse input
//! longer than [`MAX_FRAME`], never allocate more than the input's length, never panic, and
//! check every field against its limit ([`ClientFrame::validate`]) so that a decoded frame
//! is one the receiver may act on.

use crate::error::ErrorCode;
use crate::ids::{Epoch, GroupId, Seq, SlotId};
use crate::limits::*;
use serde::{Deserialize, Serialize};

/// A request id chosen by the client. The relay names it in the response or error, so a
/// client may pipeline many requests. The relay never interprets it. `0` is reserved for
/// errors that answer no request (an undecodable frame).
pub type RequestId = u32;

/// An Ed25519 public key that grants access to one epoch of one group (see
/// [`crate::access`]).
pub type AccessPublicKey = [u8; 32];

/// A blob's id: the SHA-256 of its bytes, computed by the relay (and checked by every
/// client that reads it).
pub type BlobId = [u8; 32];

/// An Ed25519 public key that grants a group's admin capability at the relay (see
/// [`crate::access::AdminKey`]).
pub type AdminPublicKey = [u8; 32];

/// The id of a blob: SHA-256 of its bytes.
pub fn blob_id(data: &[u8]) -> BlobId {
    crate::aead::sha256(data)
}

/// A frame from a client to the relay.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(arbitrary::Arbitrary))]
pub struct ClientFrame {
    /// Echoed in the answer.
    pub id: RequestId,
    /// What the client asks.
    pub request: Request,
}

/// What a client may ask of a relay.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(arbitrary::Arbitrary))]
pub enum Request {
    /// Must be the first frame of a connection, and only the first.
    Hello {
        /// The client's protocol version; see [`crate::PROTOCOL_VERSION`].
        version: u16,
    },
    /// Keeps an idle connection open; answered with [`Response::Pong`].
    Ping,
    /// Asks for a fresh single-use nonce to sign in [`Request::Auth`].
    Challenge,
    /// Creates a group at epoch 0 whose access key is `access_key`, with one admin key.
    CreateGroup {
        /// The access public key of epoch 0.
        access_key: AccessPublicKey,
        /// The operator's creation secret, if the relay requires one.
        #[serde(with = "serde_bytes")]
        creation_secret: Vec<u8>,
        /// The group's first admin key (the creator's).
        admin_key: AdminPublicKey,
    },
    /// Proves that this connection holds the access key of `(group, epoch)`.
    Auth {
        /// The group.
        group: GroupId,
        /// The epoch whose access key signed.
        epoch: Epoch,
        /// A nonce from [`Response::Challenge`], single use.
        nonce: [u8; NONCE_LEN],
        /// Ed25519 signature over [`crate::access::auth_message`].
        #[serde(with = "serde_bytes")]
        signature: [u8; 64],
    },
    /// Stores a message in the group's log. Only for the relay's current epoch of the
    /// group, and only on a connection authorized for it.
    Post {
        /// The group.
        group: GroupId,
        /// The epoch the message was made in; must be the group's current epoch.
        epoch: Epoch,
        /// Application message or commit.
        kind: PostKind,
        /// The padded ciphertext (an MLS message, opaque to the relay).
        #[serde(with = "serde_bytes")]
        payload: Vec<u8>,
    },
    /// Reads the group's log from sequence number `from` on, as far as this connection
    /// is authorized (see [`Response::Messages`]).
    Fetch {
        /// The group.
        group: GroupId,
        /// The first sequence number wanted.
        from: Seq,
        /// The most messages wanted (capped at [`MAX_FETCH_MESSAGES`]).
        limit: u32,
    },
    /// Asks for live pushes of new messages of the group. Needs at least one `Auth` for
    /// the group; pushes come only for epochs this connection is authorized for.
    Subscribe {
        /// The group.
        group: GroupId,
    },
    /// Stops live pushes for the group.
    Unsubscribe {
        /// The group.
        group: GroupId,
    },
    /// Leaves a sealed invitation in a new invite slot. Needs a connection authorized for
    /// some group's current epoch (so that outsiders cannot fill the relay's disk).
    PutInvite {
        /// The slot id derived from the invite code.
        slot: SlotId,
        /// SHA-256 of the management token (see [`crate::access::manage_hash`]); the
        /// token is shared among the group's admins and needed to read the answer.
        manage_hash: [u8; 32],
        /// Seconds until the slot expires (at most [`MAX_INVITE_TTL_SECS`]).
        ttl_secs: u64,
        /// The sealed invitation, padded.
        #[serde(with = "serde_bytes")]
        invitation: Vec<u8>,
    },
    /// Reads the sealed invitation of a slot.
    GetInvite {
        /// The slot.
        slot: SlotId,
    },
    /// Answers a slot with a sealed join request. Atomic: only the first answer wins,
    /// every later one gets [`ErrorCode::AlreadyUsed`].
    AnswerInvite {
        /// The slot.
        slot: SlotId,
        /// The sealed join request, padded.
        #[serde(with = "serde_bytes")]
        answer: Vec<u8>,
    },
    /// Reads the answer of a slot, if any (admins, holding the management token).
    GetAnswer {
        /// The slot.
        slot: SlotId,
        /// The management token whose hash was given in `PutInvite`.
        manage_token: [u8; 32],
    },
    /// Leaves the sealed welcome for the joiner, once.
    PutWelcome {
        /// The slot.
        slot: SlotId,
        /// The management token.
        manage_token: [u8; 32],
        /// The sealed welcome, padded.
        #[serde(with = "serde_bytes")]
        welcome: Vec<u8>,
    },
    /// Reads the welcome of a slot, if any (the joiner).
    GetWelcome {
        /// The slot.
        slot: SlotId,
    },
    /// Removes a slot before it expires (an admin revoking an invite).
    DeleteInvite {
        /// The slot.
        slot: SlotId,
        /// The management token.
        manage_token: [u8; 32],
    },
    /// Stores an opaque blob (a sealed file chunk) for the group. Only on a connection
    /// authorized for the group's current epoch. The relay names it by its SHA-256;
    /// putting the same bytes again is answered with the same id and stores nothing new.
    PutBlob {
        /// The group.
        group: GroupId,
        /// The blob, a bucket size of at most [`MAX_BLOB`] bytes.
        #[serde(with = "serde_bytes")]
        data: Vec<u8>,
    },
    /// Reads a blob of the group. Only on a connection authorized for the group's
    /// current epoch.
    GetBlob {
        /// The group.
        group: GroupId,
        /// The blob's id, as [`Response::BlobPut`] named it.
        id: BlobId,
    },
    /// Sets how long the relay keeps the group's messages and blobs. Only on a connection
    /// that proved one of the group's admin keys ([`Request::AdminAuth`]).
    SetRetention {
        /// The group.
        group: GroupId,
        /// Seconds; 0 means the relay's default. The relay never keeps anything longer
        /// than its own limit, so the effective value is `min(secs, limit)`.
        secs: u64,
    },
    /// Proves that this connection holds one of the group's admin keys.
    AdminAuth {
        /// The group.
        group: GroupId,
        /// The admin public key that signed; must be one of the group's.
        key: AdminPublicKey,
        /// A nonce from [`Response::Challenge`], single use.
        nonce: [u8; NONCE_LEN],
        /// Ed25519 signature over [`crate::access::admin_auth_message`].
        #[serde(with = "serde_bytes")]
        signature: [u8; 64],
    },
    /// Replaces the group's admin keys (admin connection).
    SetAdmins {
        /// The group.
        group: GroupId,
        /// The new keys: 1 to [`MAX_ADMIN_KEYS`].
        keys: Vec<AdminPublicKey>,
    },
    /// Voids the commit at `seq` and everything stored after it, and puts the group back
    /// in that commit's epoch (admin connection). For a commit that the members' clients
    /// cannot process, which would otherwise end the group.
    VoidFrom {
        /// The group.
        group: GroupId,
        /// The sequence number of the commit to void.
        seq: Seq,
        /// For how long, from now, commits are accepted only from admin connections
        /// (at most [`MAX_COMMIT_LOCK_SECS`]).
        lock_secs: u64,
    },
    /// Replaces the access key of the group's current epoch (admin connection). For a
    /// commit that named a wrong key for the epoch it started.
    ResetAccessKey {
        /// The group.
        group: GroupId,
        /// The current epoch.
        epoch: Epoch,
        /// The right access public key of `epoch`.
        access_key: AccessPublicKey,
        /// As for [`Request::VoidFrom`].
        lock_secs: u64,
    },
    /// Leaves a sealed request to be let back into a group in the group's knock box, in
    /// a new slot: for a member whose copy of the group no longer gets in (the relay no
    /// longer knows the epoch it holds). Needs no authorization; the group must exist and
    /// its box holds at most [`MAX_KNOCKS`] unanswered knocks. The slot expires after
    /// [`KNOCK_TTL_SECS`]. A member's client answers it with `PutWelcome` (the token comes
    /// inside the sealed knock); the knocker reads the answer with `GetWelcome` and may
    /// remove the slot with `DeleteInvite`.
    Knock {
        /// The group.
        group: GroupId,
        /// A fresh random slot id.
        slot: SlotId,
        /// SHA-256 of the slot's management token, as in `PutInvite`.
        manage_hash: [u8; 32],
        /// The sealed request, padded.
        #[serde(with = "serde_bytes")]
        knock: Vec<u8>,
    },
    /// Reads the group's knock box: every knock that is neither answered nor expired.
    /// Only on a connection authorized for the group's current epoch.
    GetKnocks {
        /// The group.
        group: GroupId,
    },
    /// Removes a knock from the group's box (a refused one, or one nobody can open). Only
    /// on a connection authorized for the group's current epoch.
    DeleteKnock {
        /// The group.
        group: GroupId,
        /// The knock's key, as [`Response::Knocks`] names it.
        key: [u8; 32],
    },
    /// Creates a group under an id the client chose, at `epoch`, whose access key is
    /// `access_key`, with the group's admin keys and retention and an empty log that
    /// starts at `first_seq`: a group that moves here from another relay goes on at the
    /// epoch it is at, under an id its members derive (so that nobody who is not a member
    /// of that epoch can take the id first), with the admins and retention its members
    /// agreed (whoever sets it up), and its sequence numbers go on growing where they
    /// were (clients key their history by them). Answered [`Response::GroupCreated`];
    /// [`ErrorCode::GroupExists`] if the id is taken, [`ErrorCode::BadRequest`] if
    /// `first_seq` is not in `1..=`[`MAX_FIRST_SEQ`]; more than [`MAX_ADMIN_KEYS`] admin
    /// keys is `too_large` when decoded. Creation rules as for `CreateGroup`.
    CreateGroupAt {
        /// The id the group is to have here.
        group: GroupId,
        /// The epoch it starts at.
        epoch: Epoch,
        /// The sequence number its first stored message gets.
        first_seq: Seq,
        /// The access public key of `epoch`.
        access_key: AccessPublicKey,
        /// The operator's creation secret, if the relay requires one.
        #[serde(with = "serde_bytes")]
        creation_secret: Vec<u8>,
        /// The group's admin keys here (none: as for a group made before admin keys,
        /// whose first `SetAdmins` any member of the current epoch may make).
        admin_keys: Vec<AdminPublicKey>,
        /// The retention the group asks for, seconds, as `SetRetention` takes it (0: the
        /// relay's default).
        retention_secs: u64,
    },
    /// Deletes the group's copy on this relay, for good: every message, access key, blob,
    /// admin key and knock of it (admin connection, as for [`Request::VoidFrom`]). For a
    /// group that has left this relay. Answered [`Response::GroupDeleted`] once durable;
    /// afterwards the id is unknown here, and [`Request::CreateGroupAt`] may use it again.
    DeleteGroup {
        /// The group.
        group: GroupId,
    },
}

/// What kind of message a [`Request::Post`] stores.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(arbitrary::Arbitrary))]
pub enum PostKind {
    /// An MLS application message (or any message that does not change the epoch).
    Application,
    /// An MLS commit: moves the group from `epoch` to `epoch + 1`, whose access public
    /// key it names. Accepted only for the current epoch; the first one wins.
    Commit {
        /// The access public key of `epoch + 1`.
        next_access_key: AccessPublicKey,
    },
}

/// The kind of a stored message, as delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(arbitrary::Arbitrary))]
pub enum MessageKind {
    /// An application message.
    Application,
    /// A commit, which ended its epoch.
    Commit,
    /// A record the relay wrote for an admin's [`Request::VoidFrom`] or
    /// [`Request::ResetAccessKey`]; its payload is a [`RepairRecord`], padded.
    Repair,
}

/// What an admin repaired, as recorded in the log (a [`MessageKind::Repair`] message).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(arbitrary::Arbitrary))]
pub enum RepairRecord {
    /// Messages `from..` this record's sequence number were voided; the group is back in
    /// this record's epoch.
    Voided {
        /// The voided commit's sequence number.
        from: Seq,
        /// The admin key that asked.
        by: AdminPublicKey,
    },
    /// The access key of this record's epoch was replaced.
    KeyReset {
        /// The admin key that asked.
        by: AdminPublicKey,
    },
}

impl RepairRecord {
    /// Encodes the record (before padding).
    pub fn encode(&self) -> Vec<u8> {
        encode(self)
    }

    /// Decodes a record (after unpadding).
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        decode_exact(bytes)
    }
}

/// A stored message as the relay delivers it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(arbitrary::Arbitrary))]
pub struct Message {
    /// Its sequence number in the group's log.
    pub seq: Seq,
    /// The epoch it was posted in.
    pub epoch: Epoch,
    /// Application message or commit.
    pub kind: MessageKind,
    /// When the relay stored it, in Unix seconds (relay's clock, not trusted).
    pub stored_at: u64,
    /// The padded ciphertext.
    #[serde(with = "serde_bytes")]
    pub payload: Vec<u8>,
}

/// A frame from the relay to a client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(arbitrary::Arbitrary))]
pub enum RelayFrame {
    /// The answer to request `id`.
    Response {
        /// The request's id.
        id: RequestId,
        /// The answer.
        body: Response,
    },
    /// Request `id` failed (0: the frame could not be attributed to a request).
    Error {
        /// The request's id, or 0.
        id: RequestId,
        /// What went wrong.
        code: ErrorCode,
    },
    /// A new message in a subscribed group, not asked for by any one request.
    Push(Push),
}

/// Unsolicited frames from the relay.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(arbitrary::Arbitrary))]
pub enum Push {
    /// A message was stored (and flushed) in a group this connection subscribed to.
    Message {
        /// The group.
        group: GroupId,
        /// The message.
        message: Message,
    },
}

/// Successful answers, one variant per request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(arbitrary::Arbitrary))]
pub enum Response {
    /// Answers `Hello`.
    Hello {
        /// The version the relay will speak (the client's).
        version: u16,
        /// The relay's frame size limit.
        max_frame: u32,
    },
    /// Answers `Ping`.
    Pong,
    /// Answers `Challenge`: a single-use nonce for `Auth`.
    Challenge {
        /// The nonce.
        nonce: [u8; NONCE_LEN],
    },
    /// Answers `CreateGroup`.
    GroupCreated {
        /// The new group's id.
        group: GroupId,
    },
    /// Answers `Auth`: the connection may now fetch that epoch's messages, and post if
    /// it is the current one.
    Authorized {
        /// The group's current epoch on the relay.
        current_epoch: Epoch,
        /// The sequence number the next stored message will get.
        head: Seq,
        /// How long the relay keeps the group's messages and blobs, in seconds (the
        /// effective value: see [`Request::SetRetention`]).
        retention_secs: u64,
    },
    /// Answers `Post`: stored and flushed under this sequence number.
    Posted {
        /// The message's sequence number.
        seq: Seq,
    },
    /// Answers `Fetch`: messages from `from` on, in order, stopping at the first message
    /// of an epoch this connection is not authorized for, at the limit, or at the end.
    Messages {
        /// The messages, in sequence order, without gaps except where retention removed
        /// messages.
        messages: Vec<Message>,
        /// Where the next fetch should start.
        next: Seq,
        /// The sequence number the next stored message will get.
        head: Seq,
        /// The epoch of the message at `next`, if it exists and was withheld because
        /// this connection is not authorized for that epoch.
        needs_epoch: Option<Epoch>,
    },
    /// Answers `Subscribe`.
    Subscribed {
        /// The sequence number the next stored message will get; pushes start there.
        head: Seq,
    },
    /// Answers `Unsubscribe`.
    Unsubscribed,
    /// Answers `PutInvite`.
    InvitePut {
        /// When the slot expires, Unix seconds.
        expires_at: u64,
    },
    /// Answers `GetInvite`.
    Invite {
        /// The sealed invitation.
        #[serde(with = "serde_bytes")]
        invitation: Vec<u8>,
        /// When the slot expires, Unix seconds.
        expires_at: u64,
    },
    /// Answers `AnswerInvite`: the answer is stored and the slot is used.
    Answered,
    /// Answers `GetAnswer`.
    Answer {
        /// The sealed join request, if the slot was answered.
        #[serde(with = "serde_bytes")]
        answer: Option<Vec<u8>>,
        /// Whether a welcome was already put.
        welcomed: bool,
    },
    /// Answers `PutWelcome`.
    WelcomePut,
    /// Answers `GetWelcome`.
    Welcome {
        /// The sealed welcome, if an admin has put it yet.
        #[serde(with = "serde_bytes")]
        welcome: Option<Vec<u8>>,
    },
    /// Answers `DeleteInvite`.
    InviteDeleted,
    /// Answers `PutBlob`: stored and flushed under this id.
    BlobPut {
        /// SHA-256 of the blob.
        id: BlobId,
    },
    /// Answers `GetBlob`.
    Blob {
        /// The blob's bytes.
        #[serde(with = "serde_bytes")]
        data: Vec<u8>,
    },
    /// Answers `SetRetention`: stored and flushed.
    RetentionSet {
        /// The effective retention, in seconds.
        secs: u64,
    },
    /// Answers `AdminAuth`: the connection may use the group's admin requests.
    AdminAuthorized {
        /// The group's admin keys.
        keys: Vec<AdminPublicKey>,
        /// Until when (Unix seconds) commits are accepted only from admin connections.
        commit_lock_until: u64,
        /// The retention the group asked for (0: the relay's default), as stored.
        retention_asked: u64,
    },
    /// Answers `SetAdmins`: stored and flushed.
    AdminsSet,
    /// Answers `VoidFrom`: stored and flushed; the repair record's sequence number.
    Voided {
        /// The [`MessageKind::Repair`] record's sequence number.
        seq: Seq,
    },
    /// Answers `ResetAccessKey`: stored and flushed.
    AccessKeyReset {
        /// The [`MessageKind::Repair`] record's sequence number.
        seq: Seq,
    },
    /// Answers `Knock`: stored and flushed.
    Knocked {
        /// When the knock expires, Unix seconds.
        expires_at: u64,
    },
    /// Answers `GetKnocks`: at most [`MAX_KNOCKS`], oldest first.
    Knocks {
        /// The knocks.
        knocks: Vec<KnockEntry>,
    },
    /// Answers `DeleteKnock`: removed and flushed (a knock already gone is `no_such_invite`).
    KnockDeleted,
    /// Answers `DeleteGroup`: everything of the group is deleted, durably.
    GroupDeleted,
}

/// One knock in a group's box ([`Response::Knocks`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(arbitrary::Arbitrary))]
pub struct KnockEntry {
    /// What names the knock in `DeleteKnock`: the relay's key for the slot, SHA-256 of
    /// `"kith relay slot v1\0"` and the slot id (the relay does not keep slot ids).
    pub key: [u8; 32],
    /// The sealed request, as knocked.
    #[serde(with = "serde_bytes")]
    pub knock: Vec<u8>,
    /// When it expires, Unix seconds.
    pub expires_at: u64,
}

/// Why a frame could not be decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    /// Longer than [`MAX_FRAME`].
    #[error("frame of {0} bytes is over the limit")]
    TooLong(usize),
    /// Not a valid encoding, or bytes left over after the frame.
    #[error("malformed frame")]
    Malformed,
    /// Decoded, but a field breaks a limit. Carries the frame's request id (0 for relay
    /// frames) so that the error can name the request.
    #[error("field over its limit")]
    OverLimit(RequestId),
}

impl DecodeError {
    /// The error code a relay answers this with.
    pub fn code(&self) -> ErrorCode {
        match self {
            DecodeError::TooLong(_) | DecodeError::OverLimit(_) => ErrorCode::TooLarge,
            DecodeError::Malformed => ErrorCode::BadFrame,
        }
    }
}

fn decode_exact<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, DecodeError> {
    if bytes.len() > MAX_FRAME {
        return Err(DecodeError::TooLong(bytes.len()));
    }
    // `take_from_bytes` so that trailing garbage is an error rather than ignored: one
    // message is one frame, exactly.
    match postcard::take_from_bytes::<T>(bytes) {
        Ok((value, [])) => Ok(value),
        _ => Err(DecodeError::Malformed),
    }
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    encode_sized(value, 0)
}

/// Encodes into a buffer of `hint` bytes to start with: a vector that grows from empty
/// copies a large payload several times on the way (the relay's hottest encode).
fn encode_sized<T: Serialize>(value: &T, hint: usize) -> Vec<u8> {
    // Serializing our own in-memory types into a Vec cannot fail: postcard only errors
    // on unsupported serde features (none used here) or a full fixed buffer.
    postcard::to_extend(value, Vec::with_capacity(hint))
        .expect("postcard encoding into a Vec is infallible")
}

impl ClientFrame {
    /// Encodes the frame.
    pub fn encode(&self) -> Vec<u8> {
        encode(self)
    }

    /// Decodes and validates one frame.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let frame: Self = decode_exact(bytes)?;
        frame.validate()?;
        Ok(frame)
    }

    /// Checks every field against its limit.
    pub fn validate(&self) -> Result<(), DecodeError> {
        let ok = match &self.request {
            Request::CreateGroup {
                creation_secret, ..
            } => creation_secret.len() <= MAX_CREATION_SECRET,
            Request::CreateGroupAt {
                creation_secret,
                admin_keys,
                ..
            } => creation_secret.len() <= MAX_CREATION_SECRET && admin_keys.len() <= MAX_ADMIN_KEYS,
            Request::Post { payload, .. } => payload.len() <= MAX_PAYLOAD,
            Request::PutInvite { invitation, .. } => invitation.len() <= MAX_INVITE_BLOB,
            Request::AnswerInvite { answer, .. } => answer.len() <= MAX_INVITE_BLOB,
            Request::PutWelcome { welcome, .. } => welcome.len() <= MAX_PAYLOAD,
            Request::Knock { knock, .. } => knock.len() <= MAX_INVITE_BLOB,
            Request::PutBlob { data, .. } => data.len() <= MAX_BLOB,
            Request::SetAdmins { keys, .. } => !keys.is_empty() && keys.len() <= MAX_ADMIN_KEYS,
            _ => true,
        };
        if ok {
            Ok(())
        } else {
            Err(DecodeError::OverLimit(self.id))
        }
    }
}

impl RelayFrame {
    /// Encodes the frame.
    pub fn encode(&self) -> Vec<u8> {
        // Room for the messages' bytes and their few header fields each.
        let hint = match self {
            RelayFrame::Push(Push::Message { message, .. }) => message.payload.len() + 64,
            RelayFrame::Response {
                body: Response::Messages { messages, .. },
                ..
            } => messages.iter().map(|m| m.payload.len() + 32).sum::<usize>() + 64,
            _ => 64,
        };
        encode_sized(self, hint)
    }

    /// Decodes and validates one frame. A client must treat the relay as hostile: this
    /// checks the same limits the relay is held to.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let frame: Self = decode_exact(bytes)?;
        frame.validate()?;
        Ok(frame)
    }

    /// Checks every field against its limit.
    pub fn validate(&self) -> Result<(), DecodeError> {
        let ok = match self {
            RelayFrame::Push(Push::Message { message, .. }) => message.payload.len() <= MAX_PAYLOAD,
            RelayFrame::Response { body, .. } => match body {
                Response::Messages { messages, .. } => {
                    messages.len() <= MAX_FETCH_MESSAGES as usize
                        && messages.iter().all(|m| m.payload.len() <= MAX_PAYLOAD)
                }
                Response::Invite { invitation, .. } => invitation.len() <= MAX_INVITE_BLOB,
                Response::Answer { answer, .. } => {
                    answer.as_ref().is_none_or(|a| a.len() <= MAX_INVITE_BLOB)
                }
                Response::Welcome { welcome } => {
                    welcome.as_ref().is_none_or(|w| w.len() <= MAX_PAYLOAD)
                }
                Response::Blob { data } => data.len() <= MAX_BLOB,
                Response::Knocks { knocks } => {
                    knocks.len() <= MAX_KNOCKS
                        && knocks.iter().all(|k| k.knock.len() <= MAX_INVITE_BLOB)
                }
                _ => true,
            },
            RelayFrame::Error { .. } => true,
        };
        if ok {
            Ok(())
        } else {
            Err(DecodeError::OverLimit(0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arbitrary::{Arbitrary, Unstructured};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn client_frames_round_trip(seed in proptest::collection::vec(any::<u8>(), 0..4096)) {
            let mut u = Unstructured::new(&seed);
            if let Ok(frame) = ClientFrame::arbitrary(&mut u) {
                let bytes = frame.encode();
                prop_assert_eq!(postcard::from_bytes::<ClientFrame>(&bytes).ok(), Some(frame.clone()));
                if frame.validate().is_ok() {
                    prop_assert_eq!(ClientFrame::decode(&bytes), Ok(frame));
                }
            }
        }

        #[test]
        fn relay_frames_round_trip(seed in proptest::collection::vec(any::<u8>(), 0..4096)) {
            let mut u = Unstructured::new(&seed);
            if let Ok(frame) = RelayFrame::arbitrary(&mut u) {
                let bytes = frame.encode();
                prop_assert_eq!(postcard::from_bytes::<RelayFrame>(&bytes).ok(), Some(frame.clone()));
                if frame.validate().is_ok() {
                    prop_assert_eq!(RelayFrame::decode(&bytes), Ok(frame));
                }
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = ClientFrame::decode(&bytes);
            let _ = RelayFrame::decode(&bytes);
        }

        #[test]
        fn truncated_and_extended_frames_are_rejected(seed in proptest::collection::vec(any::<u8>(), 0..1024), cut in any::<prop::sample::Index>()) {
            let mut u = Unstructured::new(&seed);
            if let Ok(frame) = ClientFrame::arbitrary(&mut u) {
                let mut bytes = frame.encode();
                let at = cut.index(bytes.len());
                prop_assert!(ClientFrame::decode(&bytes[..at]).is_err());
                bytes.push(0);
                prop_assert_eq!(ClientFrame::decode(&bytes), Err(DecodeError::Malformed));
            }
        }
    }

    #[test]
    fn oversize_input_is_refused_before_parsing() {
        let big = vec![0u8; MAX_FRAME + 1];
        assert_eq!(
            ClientFrame::decode(&big),
            Err(DecodeError::TooLong(MAX_FRAME + 1))
        );
    }

    #[test]
    fn over_limit_fields_are_refused() {
        let frame = ClientFrame {
            id: 7,
            request: Request::AnswerInvite {
                slot: SlotId([1; 32]),
                answer: vec![0; MAX_INVITE_BLOB + 1],
            },
        };
        assert_eq!(
            ClientFrame::decode(&frame.encode()),
            Err(DecodeError::OverLimit(7))
        );
    }

    #[test]
    fn over_limit_blobs_are_refused_both_ways() {
        let put = ClientFrame {
            id: 9,
            request: Request::PutBlob {
                group: GroupId([1; 16]),
                data: vec![0; MAX_BLOB + 1],
            },
        };
        assert_eq!(
            ClientFrame::decode(&put.encode()),
            Err(DecodeError::OverLimit(9))
        );
        let blob = RelayFrame::Response {
            id: 9,
            body: Response::Blob {
                data: vec![0; MAX_BLOB + 1],
            },
        };
        assert_eq!(
            RelayFrame::decode(&blob.encode()),
            Err(DecodeError::OverLimit(0))
        );
        let fits = ClientFrame {
            id: 9,
            request: Request::PutBlob {
                group: GroupId([1; 16]),
                data: vec![0; MAX_BLOB],
            },
        };
        assert!(fits.encode().len() <= MAX_FRAME);
        assert_eq!(ClientFrame::decode(&fits.encode()), Ok(fits));
    }

    #[test]
    fn a_length_prefix_larger_than_the_input_does_not_allocate_it() {
        // id 1, Post (variant 5), group, epoch, Application, then a payload length of
        // 2^32 with no bytes behind it.
        let mut bytes = vec![1u8, 5];
        bytes.extend_from_slice(&[0; 16]);
        bytes.push(0);
        bytes.push(0);
        bytes.extend_from_slice(&[0x80, 0x80, 0x80, 0x80, 0x10]);
        assert_eq!(ClientFrame::decode(&bytes), Err(DecodeError::Malformed));
    }

    #[test]
    fn hello_layout_is_stable() {
        // The first frame of every connection; its bytes are specified in PROTOCOL.md.
        let hello = ClientFrame {
            id: 1,
            request: Request::Hello { version: 1 },
        };
        assert_eq!(hello.encode(), vec![0x01, 0x00, 0x01]);
    }
}

#[cfg(test)]
mod layout {
    //! The byte layouts PROTOCOL.md states, pinned.
    use super::*;

    #[test]
    fn auth_layout() {
        let f = ClientFrame {
            id: 300,
            request: Request::Auth {
                group: GroupId([0xAA; 16]),
                epoch: 2,
                nonce: [0xBB; 32],
                signature: [0xCC; 64],
            },
        };
        let mut want = vec![0xAC, 0x02, 4];
        want.extend([0xAA; 16]);
        want.push(2);
        want.extend([0xBB; 32]);
        want.push(64);
        want.extend([0xCC; 64]);
        assert_eq!(f.encode(), want);
    }

    #[test]
    fn error_and_post_layout() {
        let e = RelayFrame::Error {
            id: 5,
            code: ErrorCode::StaleEpoch,
        };
        assert_eq!(e.encode(), vec![1, 5, 10]);
        let p = ClientFrame {
            id: 1,
            request: Request::Post {
                group: GroupId([0; 16]),
                epoch: 0,
                kind: PostKind::Commit {
                    next_access_key: [7; 32],
                },
                payload: vec![9; 3],
            },
        };
        let mut want = vec![1, 5];
        want.extend([0; 16]);
        want.push(0);
        want.push(1);
        want.extend([7; 32]);
        want.extend([3, 9, 9, 9]);
        assert_eq!(p.encode(), want);
    }

    #[test]
    fn blob_and_retention_layout() {
        let put = ClientFrame {
            id: 2,
            request: Request::PutBlob {
                group: GroupId([1; 16]),
                data: vec![5; 2],
            },
        };
        let mut want = vec![2, 16];
        want.extend([1; 16]);
        want.extend([2, 5, 5]);
        assert_eq!(put.encode(), want);
        let get = ClientFrame {
            id: 3,
            request: Request::GetBlob {
                group: GroupId([1; 16]),
                id: [4; 32],
            },
        };
        let mut want = vec![3, 17];
        want.extend([1; 16]);
        want.extend([4; 32]);
        assert_eq!(get.encode(), want);
        let set = ClientFrame {
            id: 4,
            request: Request::SetRetention {
                group: GroupId([1; 16]),
                secs: 300,
            },
        };
        let mut want = vec![4, 18];
        want.extend([1; 16]);
        want.extend([0xAC, 0x02]);
        assert_eq!(set.encode(), want);
        let authorized = RelayFrame::Response {
            id: 1,
            body: Response::Authorized {
                current_epoch: 2,
                head: 3,
                retention_secs: 10,
            },
        };
        assert_eq!(authorized.encode(), vec![0, 1, 4, 2, 3, 10]);
        let put = RelayFrame::Response {
            id: 1,
            body: Response::BlobPut { id: [6; 32] },
        };
        let mut want = vec![0, 1, 16];
        want.extend([6; 32]);
        assert_eq!(put.encode(), want);
        let e = RelayFrame::Error {
            id: 1,
            code: ErrorCode::NoSuchBlob,
        };
        assert_eq!(e.encode(), vec![1, 1, 24]);
    }

    #[test]
    fn create_group_at_and_delete_group_layout() {
        let create = ClientFrame {
            id: 1,
            request: Request::CreateGroupAt {
                group: GroupId([0x11; 16]),
                epoch: 7,
                first_seq: 1 << 40,
                access_key: [0x22; 32],
                creation_secret: vec![0x44; 2],
                admin_keys: vec![[0x33; 32]],
                retention_secs: 300,
            },
        };
        let mut want = vec![1, 26];
        want.extend([0x11; 16]);
        want.push(7);
        want.extend([0x80, 0x80, 0x80, 0x80, 0x80, 0x20]);
        want.extend([0x22; 32]);
        want.extend([2, 0x44, 0x44]);
        want.push(1);
        want.extend([0x33; 32]);
        want.extend([0xAC, 0x02]);
        assert_eq!(create.encode(), want);
        assert_eq!(ClientFrame::decode(&want), Ok(create.clone()));
        // More admin keys than a group has: refused when decoded.
        let mut many = create;
        if let Request::CreateGroupAt { admin_keys, .. } = &mut many.request {
            *admin_keys = vec![[0x33; 32]; MAX_ADMIN_KEYS + 1];
        }
        assert_eq!(
            ClientFrame::decode(&many.encode()),
            Err(DecodeError::OverLimit(1))
        );

        let delete = ClientFrame {
            id: 2,
            request: Request::DeleteGroup {
                group: GroupId([0x11; 16]),
            },
        };
        let mut want = vec![2, 27];
        want.extend([0x11; 16]);
        assert_eq!(delete.encode(), want);
        assert_eq!(ClientFrame::decode(&want), Ok(delete));

        // The answer is the next free `Response` index: `CreateGroupAt` has none of its
        // own (it answers `GroupCreated`).
        let deleted = RelayFrame::Response {
            id: 2,
            body: Response::GroupDeleted,
        };
        assert_eq!(deleted.encode(), vec![0, 2, 26]);
        assert_eq!(RelayFrame::decode(&[0, 2, 26]), Ok(deleted));
    }

    #[test]
    fn create_group_at_takes_any_first_seq_on_the_wire() {
        // The bounds on `first_seq` are the relay's (`bad_request`), not the decoder's
        // (`too_large` would count as an undecodable frame).
        for first_seq in [0, MAX_FIRST_SEQ + 1, u64::MAX] {
            let f = ClientFrame {
                id: 3,
                request: Request::CreateGroupAt {
                    group: GroupId([1; 16]),
                    epoch: 0,
                    first_seq,
                    access_key: [2; 32],
                    creation_secret: Vec::new(),
                    admin_keys: vec![[3; 32]],
                    retention_secs: 0,
                },
            };
            assert_eq!(ClientFrame::decode(&f.encode()), Ok(f));
        }
        let long_secret = ClientFrame {
            id: 4,
            request: Request::CreateGroupAt {
                group: GroupId([1; 16]),
                epoch: 0,
                first_seq: 1,
                access_key: [2; 32],
                creation_secret: vec![0; MAX_CREATION_SECRET + 1],
                admin_keys: vec![[3; 32]],
                retention_secs: 0,
            },
        };
        assert_eq!(
            ClientFrame::decode(&long_secret.encode()),
            Err(DecodeError::OverLimit(4))
        );
    }
}
