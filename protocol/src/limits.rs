//! Every size and count limit of the protocol. A relay rejects anything larger; a client
//! never sends anything larger and rejects relay frames that break them.

/// The largest padded blob (message payload, invitation, answer, welcome): 1 MiB.
/// Sized for the largest blob we expect: a sealed Welcome bundle, which carries the
/// ratchet tree of a 1000-member group (~300 KiB), or a commit right after a bulk add
/// (~100 KiB).
pub const MAX_PAYLOAD: usize = 1 << 20;

/// The largest WebSocket message or frame either side accepts: the largest payload plus
/// room for the frame around it (ids, sequence numbers, and a fetch response's per-message
/// headers). Just above [`MAX_PAYLOAD`] on purpose: nothing legitimate is bigger.
pub const MAX_FRAME: usize = MAX_PAYLOAD + 64 * 1024;

/// The largest blob (`PutBlob`): 256 KiB, one of the padding buckets. Blobs are sealed
/// file chunks; a client cuts a file into chunks that seal to exactly this size, so the
/// relay sees every chunk of every file at the same size. Far below [`MAX_FRAME`].
pub const MAX_BLOB: usize = 1 << 18;

/// The largest sealed invitation or join answer. Invitations carry a group name, a key
/// and a few ids; answers carry one KeyPackage and a display name.
pub const MAX_INVITE_BLOB: usize = 16 * 1024;

/// The most messages one `Fetch` returns.
pub const MAX_FETCH_MESSAGES: u32 = 256;

/// The most payload bytes one `Fetch` response carries (at least one message is always
/// returned if one is available, so that the largest message can be fetched).
pub const MAX_FETCH_BYTES: usize = MAX_PAYLOAD;

/// The size of a relay nonce for the access challenge.
pub const NONCE_LEN: usize = 32;

/// The length of a creation secret presented by a client, in bytes (at most).
pub const MAX_CREATION_SECRET: usize = 256;

/// The longest an invite slot may live, whatever the client asks: 30 days.
pub const MAX_INVITE_TTL_SECS: u64 = 30 * 24 * 3600;

/// How long a relay keeps a group's messages unless its operator sets another limit
/// (`--retention`); what a client assumes when the relay has not said.
pub const DEFAULT_RETENTION_SECS: u64 = 30 * 24 * 3600;

/// The most knocks (requests of members to be let back in, `Knock`) a group's box holds
/// at a time that no admin has answered yet. Small: a member knocks only after being
/// away longer than the group keeps messages.
pub const MAX_KNOCKS: usize = 16;

/// How long a knock waits for an admin's answer before the relay drops it: 14 days.
pub const KNOCK_TTL_SECS: u64 = 14 * 24 * 3600;

/// The most admin keys a group has at the relay (`SetAdmins`).
pub const MAX_ADMIN_KEYS: usize = 32;

/// The longest an admin may reserve commits to admin connections after a repair: 7 days.
pub const MAX_COMMIT_LOCK_SECS: u64 = 7 * 24 * 3600;

/// The shortest retention a relay keeps a group's messages and blobs for, whatever the
/// group asks: a minute. A retention is set by an admin; the floor bounds what a
/// mistaken or hostile one can take from members who are offline for a moment.
pub const MIN_RETENTION_SECS: u64 = 60;

/// The largest sequence number a group's log may start at (`CreateGroupAt`): 2^62, so
/// that a log that starts there can never run out of numbers.
pub const MAX_FIRST_SEQ: u64 = 1 << 62;
