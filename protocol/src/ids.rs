//! Identifiers that cross the wire. All are opaque random bytes or counters: none of them
//! carries a name.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A per-group sequence number, assigned by the relay, starting at 1 (or at the
/// `first_seq` of `CreateGroupAt`, for a group that moved here) and increasing by one for
/// every stored message of the group.
pub type Seq = u64;

/// An MLS epoch number. The relay tracks the current epoch of each group and accepts a
/// commit only for it.
pub type Epoch = u64;

/// A relay-side group id: 16 random bytes chosen by the relay at creation. It is not the
/// MLS group id and says nothing about the group.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(arbitrary::Arbitrary))]
pub struct GroupId(pub [u8; 16]);

impl GroupId {
    /// A fresh random group id.
    pub fn random() -> Self {
        Self(rand::random())
    }

    /// The id as lowercase hex.
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }

    /// Parses 32 hex digits.
    pub fn from_hex(s: &str) -> Option<Self> {
        let mut out = [0u8; 16];
        unhex(s, &mut out).then_some(Self(out))
    }
}

/// Group ids are not secret, but they do link traffic to a group: `Debug` shows only a
/// prefix so that a stray debug log does not carry a whole id.
impl fmt::Debug for GroupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GroupId({}…)", &self.to_hex()[..4])
    }
}

/// An invite slot id: 32 bytes derived from an invite code by HKDF (see
/// [`crate::invite`]). The relay never sees the code, and stores only a hash of this id.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(any(test, feature = "arbitrary"), derive(arbitrary::Arbitrary))]
pub struct SlotId(pub [u8; 32]);

impl fmt::Debug for SlotId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SlotId(…)")
    }
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// Parses hex (either case) into `out`; false unless `s` is exactly `2 * out.len()` digits.
pub fn unhex(s: &str, out: &mut [u8]) -> bool {
    let s = s.as_bytes();
    if s.len() != out.len() * 2 {
        return false;
    }
    fn nib(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    for (i, o) in out.iter_mut().enumerate() {
        match (nib(s[2 * i]), nib(s[2 * i + 1])) {
            (Some(h), Some(l)) => *o = (h << 4) | l,
            _ => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_rejects_bad_input() {
        let g = GroupId::random();
        assert_eq!(GroupId::from_hex(&g.to_hex()), Some(g));
        assert_eq!(GroupId::from_hex("zz"), None);
        assert_eq!(GroupId::from_hex(&"g".repeat(32)), None);
        assert!(!format!("{g:?}").contains(&g.to_hex()));
    }
}
