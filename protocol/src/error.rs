//! Typed error codes. On the wire an error code is a `u16`, so that a client can name a
//! code it does not know ([`ErrorCode::Unknown`]) instead of failing to decode the frame.
//! The relay never sends free text: what a code means to a person comes from
//! [`ErrorCode::description`] on the client's side, so a hostile relay cannot put words
//! on a user's screen.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

macro_rules! error_codes {
    ($( $(#[$doc:meta])* $name:ident = $num:literal, $slug:literal, $desc:literal; )*) => {
        /// An error a relay answers a request with.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $( $(#[$doc])* $name, )*
            /// A code this version does not know.
            Unknown(u16),
        }

        impl ErrorCode {
            /// Every known code, in numeric order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$name),*];

            /// The number on the wire.
            pub fn as_u16(self) -> u16 {
                match self {
                    $( ErrorCode::$name => $num, )*
                    ErrorCode::Unknown(n) => n,
                }
            }

            /// The code for a number; unknown numbers are kept as [`ErrorCode::Unknown`].
            pub fn from_u16(n: u16) -> Self {
                match n {
                    $( $num => ErrorCode::$name, )*
                    n => ErrorCode::Unknown(n),
                }
            }

            /// A short snake_case name, used in metrics labels and docs.
            pub fn slug(self) -> &'static str {
                match self {
                    $( ErrorCode::$name => $slug, )*
                    ErrorCode::Unknown(_) => "unknown",
                }
            }

            /// What the code means, for a person.
            pub fn description(self) -> &'static str {
                match self {
                    $( ErrorCode::$name => $desc, )*
                    ErrorCode::Unknown(_) => "the relay answered with an error this version does not know",
                }
            }
        }
    };
}

error_codes! {
    /// The frame could not be decoded.
    BadFrame = 1, "bad_frame", "the frame could not be decoded";
    /// The `Hello` named a protocol version the relay does not speak.
    UnsupportedVersion = 2, "unsupported_version", "the relay does not speak this protocol version";
    /// A request came before `Hello`, or a second `Hello` came.
    HelloFirst = 3, "hello_first", "the connection must start with exactly one Hello";
    /// A field is larger than its limit.
    TooLarge = 4, "too_large", "a field is larger than the protocol allows";
    /// The connection sends faster than its rate limit.
    RateLimited = 5, "rate_limited", "too many requests; slow down";
    /// No group with this id.
    NoSuchGroup = 6, "no_such_group", "the relay has no such group";
    /// The connection has not proven access to this group and epoch.
    Unauthorized = 7, "unauthorized", "no access to this group and epoch on this connection";
    /// The access signature did not verify.
    AuthFailed = 8, "auth_failed", "the access proof was wrong";
    /// The nonce was not issued to this connection, or was already used.
    BadNonce = 9, "bad_nonce", "the challenge nonce is unknown or already used";
    /// The post named an epoch older than the group's current one.
    StaleEpoch = 10, "stale_epoch", "the group has moved to a newer epoch; fetch and retry";
    /// A payload or blob length is not one of the padding buckets.
    BadPadding = 11, "bad_padding", "the payload is not padded to a bucket size";
    /// The group is over its storage quota (for blobs; messages drop the oldest instead).
    QuotaExceeded = 12, "quota_exceeded", "the group is over its storage quota on this relay";
    /// The relay requires a creation secret and none or a wrong one was given.
    CreationForbidden = 13, "creation_forbidden", "this relay does not let you create groups";
    /// An invite slot with this id already exists.
    SlotExists = 14, "slot_exists", "an invite with this code already exists";
    /// No invite slot with this id (never made, or removed after it expired).
    NoSuchInvite = 15, "no_such_invite", "no such invite on this relay";
    /// The invite slot has expired.
    InviteExpired = 16, "invite_expired", "the invite has expired";
    /// The invite was already answered: one-time codes work once.
    AlreadyUsed = 17, "already_used", "the invite was already used";
    /// The invite has not been answered yet, so a welcome cannot be put.
    NotAnswered = 18, "not_answered", "the invite has not been answered yet";
    /// The invite's management token was wrong.
    Forbidden = 19, "forbidden", "not allowed: the invite's token or the group's admin key is missing or wrong";
    /// A per-connection count limit (subscriptions, groups, requests in flight) was hit.
    TooMany = 20, "too_many", "a per-connection limit was reached";
    /// The request is well-formed but its values are out of range.
    BadRequest = 21, "bad_request", "the request's values are out of range";
    /// The relay failed internally; the request had no effect.
    Internal = 22, "internal", "the relay failed internally; try again";
    /// The relay is shutting down; reconnect later.
    ShuttingDown = 23, "shutting_down", "the relay is shutting down; reconnect later";
    /// No blob with this id in this group (never stored, or expired).
    NoSuchBlob = 24, "no_such_blob", "the relay has no such file chunk (it may have expired)";
    /// The relay could not store the write (its disk is full or failing); nothing of it
    /// was kept, so retrying later stores it once.
    StorageUnavailable = 25, "storage_unavailable", "the relay could not store this right now (its disk is full or failing); nothing was stored; try again later";
    /// An admin repaired the group a moment ago and, for a while, accepts commits only
    /// from admin connections (see `VoidFrom`).
    CommitLocked = 26, "commit_locked", "after a repair, only the group's admins may commit for a while; try later";
    /// The relay holds as many invites (invitations, answers, welcomes) as its operator
    /// allows; nothing was stored. Room comes back as invites are deleted or expire.
    InvitesFull = 27, "invites_full", "the relay holds as many invites as it can store; nothing was stored; try again later";
    /// The group's box of knocks (members asking to be let back in) holds
    /// [`crate::limits::MAX_KNOCKS`] unanswered ones; nothing was stored.
    KnocksFull = 28, "knocks_full", "the group already has as many requests to come back as it can hold; nothing was stored; try again later";
    /// `CreateGroupAt` named an id a group on this relay already has.
    GroupExists = 29, "group_exists", "a group with this id already exists on this relay";
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u16(self.as_u16())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        u16::deserialize(d).map(ErrorCode::from_u16)
    }
}

#[cfg(any(test, feature = "arbitrary"))]
impl<'a> arbitrary::Arbitrary<'a> for ErrorCode {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(ErrorCode::from_u16(u.arbitrary()?))
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.description(), self.slug())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_distinct() {
        let mut numbers = std::collections::HashSet::new();
        let mut slugs = std::collections::HashSet::new();
        for &c in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_u16(c.as_u16()), c);
            assert!(numbers.insert(c.as_u16()), "duplicate number {c:?}");
            assert!(slugs.insert(c.slug()), "duplicate slug {c:?}");
        }
        assert_eq!(ErrorCode::from_u16(999), ErrorCode::Unknown(999));
    }
}
