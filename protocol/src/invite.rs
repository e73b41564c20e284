//! One-time invite codes and invite strings.
//!
//! A code is 128 random bits, written as 26 Crockford base32 characters plus 2 checksum
//! characters, in seven groups of four (`7KQM-2XHD-…`), so that it can be read aloud and
//! a mistyped code is caught before anything is sent. Parsing ignores case, spaces and
//! dashes, and reads `I`/`L` as `1` and `O` as `0`.
//!
//! HKDF-SHA256 splits the code into a slot id, the only thing the relay sees, and a slot
//! key that seals the invitation and the answers. The invite string carries the relay's
//! address: `kith://host[:port]/CODE` for a relay behind TLS (`wss://`), and
//! `kith+ws://host:port/CODE` for a plain WebSocket relay.

use crate::ids::SlotId;
use hkdf::Hkdf;
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const CODE_BYTES: usize = 16;
const DATA_CHARS: usize = 26; // ceil(128 / 5)
const CHECK_CHARS: usize = 2;
const CODE_CHARS: usize = DATA_CHARS + CHECK_CHARS;

/// A one-time invite code: 128 secret random bits. Zeroized on drop; `Debug` does not
/// show it.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct InviteCode([u8; CODE_BYTES]);

/// The secret key of an invite slot, derived from the code. Zeroized on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SlotKey(pub [u8; 32]);

/// Why an invite code or string did not parse.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum InviteError {
    /// Wrong number of characters.
    #[error("an invite code has {CODE_CHARS} characters; this one has {0}")]
    BadLength(usize),
    /// A character that is not in the code alphabet.
    #[error("the invite code has a character that cannot be in a code: {0:?}")]
    BadCharacter(char),
    /// The checksum does not match: a character was mistyped.
    #[error("the invite code has a typo (checksum mismatch)")]
    BadChecksum,
    /// The string is not `kith://host/CODE` or `kith+ws://host:port/CODE`.
    #[error("an invite looks like kith://host/CODE or kith+ws://host:port/CODE")]
    BadInvite,
    /// A relay URL that is not `ws://host:port` or `wss://host[:port]`.
    #[error("a relay URL looks like wss://host or ws://host:port")]
    BadRelayUrl,
}

impl InviteCode {
    /// A fresh code from the operating system's random number generator.
    pub fn generate() -> Self {
        let mut bytes = [0u8; CODE_BYTES];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
        Self(bytes)
    }

    /// Derives the slot id (seen by the relay) and the slot key (never sent anywhere).
    pub fn derive(&self) -> (SlotId, SlotKey) {
        let hk = Hkdf::<Sha256>::new(Some(b"kith invite v1"), &self.0);
        let mut id = [0u8; 32];
        let mut key = SlotKey([0u8; 32]);
        hk.expand(b"slot id", &mut id)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        hk.expand(b"slot key", &mut key.0)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        (SlotId(id), key)
    }

    fn checksum(bytes: &[u8; CODE_BYTES]) -> [u8; CHECK_CHARS] {
        let digest = Sha256::new()
            .chain_update(b"kith invite checksum v1\0")
            .chain_update(bytes)
            .finalize();
        let v = u16::from_be_bytes([digest[0], digest[1]]) >> 6; // 10 bits
        [ALPHABET[(v >> 5) as usize], ALPHABET[(v & 31) as usize]]
    }

    /// The code as 28 characters without separators.
    fn chars(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(CODE_CHARS));
        // 128 bits as 26 five-bit groups, big-endian; the last group has 2 zero bits.
        let mut acc: u32 = 0;
        let mut bits = 0;
        for &b in &self.0 {
            acc = (acc << 8) | b as u32;
            bits += 8;
            while bits >= 5 {
                bits -= 5;
                out.push(ALPHABET[((acc >> bits) & 31) as usize]);
            }
        }
        out.push(ALPHABET[((acc << (5 - bits)) & 31) as usize]);
        acc.zeroize();
        out.extend_from_slice(&Self::checksum(&self.0));
        out
    }
}

/// Seven groups of four characters joined by `-`.
impl fmt::Display for InviteCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let chars = self.chars();
        for (i, group) in chars.chunks(4).enumerate() {
            if i > 0 {
                f.write_str("-")?;
            }
            // The alphabet is ASCII.
            f.write_str(std::str::from_utf8(group).map_err(|_| fmt::Error)?)?;
        }
        Ok(())
    }
}

impl fmt::Debug for InviteCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("InviteCode(…)")
    }
}

fn decode_char(c: char) -> Result<u8, InviteError> {
    let up = match c.to_ascii_uppercase() {
        'I' | 'L' => '1',
        'O' => '0',
        other => other,
    };
    ALPHABET
        .iter()
        .position(|&a| a as char == up)
        .map(|p| p as u8)
        .ok_or(InviteError::BadCharacter(c))
}

impl FromStr for InviteCode {
    type Err = InviteError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut vals = Zeroizing::new(Vec::with_capacity(CODE_CHARS));
        for c in s.chars().filter(|c| !c.is_whitespace() && *c != '-') {
            if vals.len() == CODE_CHARS + 1 {
                break; // too long either way; don't keep reading hostile input
            }
            vals.push(decode_char(c)?);
        }
        if vals.len() != CODE_CHARS {
            return Err(InviteError::BadLength(vals.len()));
        }
        let mut bytes = [0u8; CODE_BYTES];
        let mut acc: u32 = 0;
        let mut bits = 0;
        let mut n = 0;
        for &v in &vals[..DATA_CHARS] {
            acc = (acc << 5) | v as u32;
            bits += 5;
            if bits >= 8 {
                bits -= 8;
                bytes[n] = (acc >> bits) as u8;
                n += 1;
            }
        }
        // 130 bits were read into 128: the 2 left over must be zero, or two strings
        // would name one code.
        let leftover = acc & ((1 << bits) - 1);
        acc.zeroize();
        if leftover != 0 {
            bytes.zeroize();
            return Err(InviteError::BadChecksum);
        }
        let code = InviteCode(bytes);
        bytes.zeroize();
        let expected = InviteCode::checksum(&code.0);
        let given = [
            ALPHABET[vals[DATA_CHARS] as usize],
            ALPHABET[vals[DATA_CHARS + 1] as usize],
        ];
        if bool::from(expected.ct_eq(&given)) {
            Ok(code)
        } else {
            Err(InviteError::BadChecksum)
        }
    }
}

/// Where a relay is: host (and port), and whether it is reached over TLS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelayAddr {
    /// `wss://` (true) or `ws://` (false).
    pub tls: bool,
    /// `host` or `host:port` or `[v6]:port`, as written.
    pub authority: String,
}

fn valid_authority(a: &str) -> bool {
    !a.is_empty()
        && a.len() <= 255
        && a.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._:[]".contains(c))
}

impl RelayAddr {
    /// The WebSocket URL of the relay's endpoint.
    pub fn ws_url(&self) -> String {
        let scheme = if self.tls { "wss" } else { "ws" };
        format!("{scheme}://{}{}", self.authority, crate::WS_PATH)
    }
}

/// Parses `ws://host:port`, `wss://host[:port]`, with or without the `/v1` path.
impl FromStr for RelayAddr {
    type Err = InviteError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (tls, rest) = if let Some(r) = s.strip_prefix("wss://") {
            (true, r)
        } else if let Some(r) = s.strip_prefix("ws://") {
            (false, r)
        } else {
            return Err(InviteError::BadRelayUrl);
        };
        let rest = rest.trim_end_matches('/');
        let authority = rest.strip_suffix(crate::WS_PATH).unwrap_or(rest);
        if !valid_authority(authority) {
            return Err(InviteError::BadRelayUrl);
        }
        Ok(Self {
            tls,
            authority: authority.to_owned(),
        })
    }
}

/// An invite: a relay and a one-time code.
#[derive(Clone, Debug)]
pub struct Invite {
    /// The relay that holds the slot.
    pub relay: RelayAddr,
    /// The code.
    pub code: InviteCode,
}

impl fmt::Display for Invite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.relay.tls { "kith" } else { "kith+ws" };
        write!(f, "{scheme}://{}/{}", self.relay.authority, self.code)
    }
}

impl FromStr for Invite {
    type Err = InviteError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (tls, rest) = if let Some(r) = s.strip_prefix("kith://") {
            (true, r)
        } else if let Some(r) = s.strip_prefix("kith+ws://") {
            (false, r)
        } else {
            return Err(InviteError::BadInvite);
        };
        let (authority, code) = rest.split_once('/').ok_or(InviteError::BadInvite)?;
        if !valid_authority(authority) {
            return Err(InviteError::BadInvite);
        }
        Ok(Self {
            relay: RelayAddr {
                tls,
                authority: authority.to_owned(),
            },
            code: code.parse()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn display_is_seven_groups_and_round_trips() {
        let code = InviteCode::generate();
        let s = code.to_string();
        assert_eq!(s.len(), 28 + 6);
        assert_eq!(s.split('-').count(), 7);
        let back: InviteCode = s.parse().unwrap();
        assert_eq!(back.0, code.0);
        // Forgiving input: lower case, spaces, no dashes.
        let loose = s.to_lowercase().replace('-', " ");
        assert_eq!(loose.parse::<InviteCode>().unwrap().0, code.0);
    }

    #[test]
    fn confusable_letters_are_read_as_digits() {
        let code = InviteCode([0u8; 16]);
        let s = code.to_string();
        let with_letters = s.replacen('0', "O", 3);
        assert_eq!(with_letters.parse::<InviteCode>().unwrap().0, code.0);
    }

    #[test]
    fn every_single_typo_is_caught() {
        let code = InviteCode::generate();
        let chars: Vec<u8> = code.chars().to_vec();
        let mut caught = 0;
        let mut tried = 0;
        for i in 0..chars.len() {
            for &a in ALPHABET {
                if a == chars[i] {
                    continue;
                }
                let mut c = chars.clone();
                c[i] = a;
                let s = String::from_utf8(c).unwrap();
                tried += 1;
                if s.parse::<InviteCode>().is_err() {
                    caught += 1;
                }
            }
        }
        // A 10-bit checksum misses about 1 in 1024 random changes; single substitutions
        // are almost all caught.
        assert!(caught * 1000 >= tried * 995, "caught {caught} of {tried}");
    }

    #[test]
    fn errors_are_specific() {
        assert_eq!(
            "ABC".parse::<InviteCode>().unwrap_err(),
            InviteError::BadLength(3)
        );
        assert_eq!(
            "U".repeat(28).parse::<InviteCode>().unwrap_err(),
            InviteError::BadCharacter('U')
        );
        assert!("x".repeat(10_000).parse::<InviteCode>().is_err());
    }

    #[test]
    fn derivation_is_deterministic_and_separates_id_from_key() {
        let code = InviteCode::generate();
        let (id1, k1) = code.derive();
        let (id2, k2) = code.clone().derive();
        assert_eq!(id1, id2);
        assert_eq!(k1.0, k2.0);
        assert_ne!(id1.0, k1.0);
        let (id3, _) = InviteCode::generate().derive();
        assert_ne!(id1, id3);
    }

    #[test]
    fn invite_strings() {
        let code = InviteCode::generate();
        let tls = Invite {
            relay: "wss://relay.example.org".parse().unwrap(),
            code: code.clone(),
        };
        let s = tls.to_string();
        assert!(s.starts_with("kith://relay.example.org/"));
        let back: Invite = s.parse().unwrap();
        assert_eq!(back.relay.ws_url(), "wss://relay.example.org/v1");
        assert_eq!(back.code.0, code.0);

        let plain = Invite {
            relay: "ws://127.0.0.1:7878/v1".parse().unwrap(),
            code,
        };
        let s = plain.to_string();
        assert!(s.starts_with("kith+ws://127.0.0.1:7878/"));
        let back: Invite = s.parse().unwrap();
        assert_eq!(back.relay.ws_url(), "ws://127.0.0.1:7878/v1");
        assert!(!back.relay.tls);

        assert_eq!(
            "http://x/abc".parse::<Invite>().unwrap_err(),
            InviteError::BadInvite
        );
        assert_eq!(
            "kith://a b/abc".parse::<Invite>().unwrap_err(),
            InviteError::BadInvite
        );
        assert_eq!(
            "ftp://x".parse::<RelayAddr>().unwrap_err(),
            InviteError::BadRelayUrl
        );
        assert!(!format!("{:?}", back).contains(&back.code.to_string()));
    }

    proptest! {
        #[test]
        fn parsing_never_panics(s in ".{0,80}") {
            let _ = s.parse::<InviteCode>();
            let _ = s.parse::<Invite>();
            let _ = s.parse::<RelayAddr>();
        }

        #[test]
        fn all_codes_round_trip(bytes in any::<[u8; 16]>()) {
            let code = InviteCode(bytes);
            prop_assert_eq!(code.to_string().parse::<InviteCode>().unwrap().0, bytes);
        }
    }
}
