//! Relay access without identity.
//!
//! Every MLS epoch of a group has an access key pair derived from the MLS exporter
//! (`export_secret(ACCESS_EXPORTER_LABEL, b"", 32)`), so every member of that epoch, and
//! nobody else, can compute it. The relay stores only the public half. A connection proves
//! it holds the private half by signing a single-use relay nonce; the relay cannot tell
//! which member signed. A member removed by a commit never learns the next epoch's
//! exporter secret, so it loses access at that commit.
//!
//! Invite slots are managed with a token: a random 32-byte secret shared among a group's
//! admins inside MLS; the relay stores only [`manage_hash`] of it.

use crate::frame::{AccessPublicKey, AdminPublicKey};
use crate::ids::{Epoch, GroupId};
use crate::limits::NONCE_LEN;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use hkdf::Hkdf;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// The MLS exporter label for the access secret.
pub const ACCESS_EXPORTER_LABEL: &str = "kith relay access v1";

/// The length of the exporter secret to ask for.
pub const ACCESS_EXPORTER_LEN: usize = 32;

const AUTH_CONTEXT: &[u8] = b"kith relay auth v1\0";
const ADMIN_AUTH_CONTEXT: &[u8] = b"kith relay admin auth v1\0";

/// The private access key of one epoch. Zeroized on drop (ed25519-dalek's `zeroize`).
pub struct AccessKey(SigningKey);

impl AccessKey {
    /// Derives the access key from the MLS exporter secret of an epoch.
    pub fn from_exporter_secret(secret: &[u8]) -> Self {
        let hk = Hkdf::<Sha256>::new(Some(b"kith relay access key v1"), secret);
        let mut seed = Zeroizing::new([0u8; 32]);
        hk.expand(b"ed25519 seed", seed.as_mut())
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        Self(SigningKey::from_bytes(&seed))
    }

    /// A random access key (tests, benchmarks).
    pub fn random() -> Self {
        Self::from_exporter_secret(&rand::random::<[u8; 32]>())
    }

    /// The public half, which the relay stores.
    pub fn public(&self) -> AccessPublicKey {
        self.0.verifying_key().to_bytes()
    }

    /// Signs the access challenge for `(group, epoch)`.
    pub fn sign_auth(&self, nonce: &[u8; NONCE_LEN], group: &GroupId, epoch: Epoch) -> [u8; 64] {
        self.0.sign(&auth_message(nonce, group, epoch)).to_bytes()
    }
}

/// The bytes an access signature covers: a context string, the relay's nonce, the group
/// and the epoch, so that a signature answers exactly one challenge for one epoch.
pub fn auth_message(nonce: &[u8; NONCE_LEN], group: &GroupId, epoch: Epoch) -> Vec<u8> {
    let mut m = Vec::with_capacity(AUTH_CONTEXT.len() + NONCE_LEN + 16 + 8);
    m.extend_from_slice(AUTH_CONTEXT);
    m.extend_from_slice(nonce);
    m.extend_from_slice(&group.0);
    m.extend_from_slice(&epoch.to_be_bytes());
    m
}

/// Checks an access signature (strict Ed25519: no malleable or small-order keys).
pub fn verify_auth(
    key: &AccessPublicKey,
    nonce: &[u8; NONCE_LEN],
    group: &GroupId,
    epoch: Epoch,
    signature: &[u8; 64],
) -> bool {
    let Ok(key) = VerifyingKey::from_bytes(key) else {
        return false;
    };
    key.verify_strict(
        &auth_message(nonce, group, epoch),
        &Signature::from_bytes(signature),
    )
    .is_ok()
}

/// A group admin's key at the relay: an Ed25519 key pair whose public half is one of the
/// group's admin keys, proved like an access key ([`admin_auth_message`]). Clients derive
/// it from a secret only that admin holds, one per group, so that keys of one person in
/// two groups cannot be linked. Zeroized on drop.
pub struct AdminKey(SigningKey);

impl AdminKey {
    /// The admin key for a 32-byte secret seed (HKDF-expanded again here, so that a seed
    /// used elsewhere does not become a signing key as is).
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        let hk = Hkdf::<Sha256>::new(Some(b"kith relay admin key v1"), seed);
        let mut out = Zeroizing::new([0u8; 32]);
        hk.expand(b"ed25519 seed", out.as_mut())
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        Self(SigningKey::from_bytes(&out))
    }

    /// A random admin key (tests).
    pub fn random() -> Self {
        Self::from_seed(&rand::random::<[u8; 32]>())
    }

    /// The public half, which the relay stores.
    pub fn public(&self) -> AdminPublicKey {
        self.0.verifying_key().to_bytes()
    }

    /// Signs the admin challenge for `group`.
    pub fn sign_auth(&self, nonce: &[u8; NONCE_LEN], group: &GroupId) -> [u8; 64] {
        self.0
            .sign(&admin_auth_message(nonce, group, &self.public()))
            .to_bytes()
    }
}

/// The bytes an admin signature covers: a context string (not the access one, so that
/// neither signature can stand for the other), the nonce, the group and the key.
pub fn admin_auth_message(
    nonce: &[u8; NONCE_LEN],
    group: &GroupId,
    key: &AdminPublicKey,
) -> Vec<u8> {
    let mut m = Vec::with_capacity(ADMIN_AUTH_CONTEXT.len() + NONCE_LEN + 16 + 32);
    m.extend_from_slice(ADMIN_AUTH_CONTEXT);
    m.extend_from_slice(nonce);
    m.extend_from_slice(&group.0);
    m.extend_from_slice(key);
    m
}

/// Checks an admin signature (strict Ed25519).
pub fn verify_admin_auth(
    key: &AdminPublicKey,
    nonce: &[u8; NONCE_LEN],
    group: &GroupId,
    signature: &[u8; 64],
) -> bool {
    let Ok(vk) = VerifyingKey::from_bytes(key) else {
        return false;
    };
    vk.verify_strict(
        &admin_auth_message(nonce, group, key),
        &Signature::from_bytes(signature),
    )
    .is_ok()
}

/// The hash of an invite management token, as the relay stores it.
pub fn manage_hash(token: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"kith invite manage v1\0");
    h.update(token);
    h.finalize().into()
}

/// The key the relay stores a slot under, and names a knock by ([`crate::KnockEntry`]): a
/// hash of the slot id, so that the relay's data dir does not hold the id a client
/// presents.
pub fn slot_key(slot: &crate::SlotId) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"kith relay slot v1\0");
    h.update(slot.0);
    h.finalize().into()
}

/// Whether `token` hashes to `hash`, compared in constant time.
pub fn manage_token_matches(token: &[u8; 32], hash: &[u8; 32]) -> bool {
    manage_hash(token).ct_eq(hash).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_secret_same_key_and_signatures_bind_everything() {
        let secret = [7u8; 32];
        let a = AccessKey::from_exporter_secret(&secret);
        let b = AccessKey::from_exporter_secret(&secret);
        assert_eq!(a.public(), b.public());
        let other = AccessKey::from_exporter_secret(&[8u8; 32]);
        assert_ne!(a.public(), other.public());

        let g = GroupId([1; 16]);
        let n = [2u8; NONCE_LEN];
        let sig = a.sign_auth(&n, &g, 5);
        assert!(verify_auth(&a.public(), &n, &g, 5, &sig));
        assert!(!verify_auth(&a.public(), &n, &g, 6, &sig));
        assert!(!verify_auth(&a.public(), &[3; NONCE_LEN], &g, 5, &sig));
        assert!(!verify_auth(&a.public(), &n, &GroupId([9; 16]), 5, &sig));
        assert!(!verify_auth(&other.public(), &n, &g, 5, &sig));
        assert!(!verify_auth(&[0; 32], &n, &g, 5, &sig));
    }

    #[test]
    fn admin_signatures_bind_group_key_and_nonce_and_are_not_access_signatures() {
        let a = AdminKey::from_seed(&[1; 32]);
        assert_eq!(a.public(), AdminKey::from_seed(&[1; 32]).public());
        let g = GroupId([1; 16]);
        let n = [2u8; NONCE_LEN];
        let sig = a.sign_auth(&n, &g);
        assert!(verify_admin_auth(&a.public(), &n, &g, &sig));
        assert!(!verify_admin_auth(&a.public(), &[3; NONCE_LEN], &g, &sig));
        assert!(!verify_admin_auth(&a.public(), &n, &GroupId([9; 16]), &sig));
        let b = AdminKey::from_seed(&[2; 32]);
        assert!(!verify_admin_auth(&b.public(), &n, &g, &sig));
        // The same seed as an access secret gives another key, and an access signature
        // is no admin signature.
        let access = AccessKey::from_exporter_secret(&[1; 32]);
        assert_ne!(access.public(), a.public());
        let asig = access.sign_auth(&n, &g, 0);
        assert!(!verify_admin_auth(&access.public(), &n, &g, &asig));
    }

    #[test]
    fn manage_tokens() {
        let t = [5u8; 32];
        let h = manage_hash(&t);
        assert!(manage_token_matches(&t, &h));
        assert!(!manage_token_matches(&[6u8; 32], &h));
    }
}
