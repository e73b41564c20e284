//! Identity keys, fingerprints and safety numbers.
//!
//! A profile has one Ed25519 identity key. It is the MLS signature key in every group,
//! and the MLS credential is a `BasicCredential` whose identity is exactly these 32
//! public-key bytes — never a name. Every client checks that a member's credential and
//! signature key agree ([`credential_matches`]) before it shows that member.

use sha2::{Digest, Sha256, Sha512};

/// An Ed25519 identity public key.
pub type IdentityKey = [u8; 32];

/// A short fingerprint to tell identities apart on screen: 80 bits of SHA-256 as 20 hex
/// digits in groups of four (`3f2a 91c0 …`). Not for verification: use
/// [`safety_number`].
pub fn fingerprint(key: &IdentityKey) -> String {
    let digest = Sha256::new()
        .chain_update(b"kith fingerprint v1\0")
        .chain_update(key)
        .finalize();
    let hex = kith_protocol::ids::hex(&digest[..10]);
    hex.as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).unwrap_or(""))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The safety number of two identities: 60 decimal digits in twelve groups of five, the
/// same whichever side computes it. Two people read it to each other (in person or on a
/// call); if it matches, nobody — the relay included — substituted a key.
pub fn safety_number(a: &IdentityKey, b: &IdentityKey) -> String {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    let digest = Sha512::new()
        .chain_update(b"kith safety number v1\0")
        .chain_update(lo)
        .chain_update(hi)
        .finalize();
    digest[..60]
        .chunks(5)
        .map(|c| {
            let n = c.iter().fold(0u64, |acc, &b| (acc << 8) | b as u64);
            format!("{:05}", n % 100_000)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether an MLS credential's identity is exactly the member's signature key, which is
/// what every Kith credential must be.
pub fn credential_matches(credential_identity: &[u8], signature_key: &[u8]) -> bool {
    credential_identity.len() == 32 && credential_identity == signature_key
}

/// The identity key carried by a credential, if it is a well-formed Kith credential.
pub fn identity_of(credential_identity: &[u8], signature_key: &[u8]) -> Option<IdentityKey> {
    if credential_matches(credential_identity, signature_key) {
        credential_identity.try_into().ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safety_numbers_are_symmetric_and_distinct() {
        let a = [1u8; 32];
        let b = [2u8; 32];
        let c = [3u8; 32];
        assert_eq!(safety_number(&a, &b), safety_number(&b, &a));
        assert_ne!(safety_number(&a, &b), safety_number(&a, &c));
        let n = safety_number(&a, &b);
        assert_eq!(n.split(' ').count(), 12);
        assert!(
            n.split(' ')
                .all(|g| g.len() == 5 && g.chars().all(|c| c.is_ascii_digit()))
        );
    }

    #[test]
    fn fingerprints_and_credentials() {
        let f = fingerprint(&[7; 32]);
        assert_eq!(f.len(), 24);
        assert_ne!(f, fingerprint(&[8; 32]));
        assert!(credential_matches(&[5; 32], &[5; 32]));
        assert!(!credential_matches(&[5; 32], &[6; 32]));
        assert!(!credential_matches(b"Alice", b"Alice"));
        assert_eq!(identity_of(&[5; 32], &[5; 32]), Some([5; 32]));
    }
}
