//! Sealing of the three invite blobs the relay carries but must not read.
//!
//! - The **invitation** is sealed with the slot key (from the invite code), so only
//!   someone holding the code can read it. It is signed by the inviter's identity key.
//! - The **answer** (the joiner's KeyPackage and display name) is sealed to the inviter's
//!   ephemeral X25519 key from the invitation: the joiner makes its own ephemeral key,
//!   and both sides derive `HKDF-SHA256(salt = slot key, ikm = X25519(eph_j, eph_i))`.
//!   Mixing in the slot key means a party that only saw the relay's traffic cannot
//!   derive anything even if it learned one ephemeral secret.
//! - The **welcome** is sealed under a second key from the same derivation, which the
//!   joiner keeps while it waits and any admin holding the inviter's ephemeral secret can
//!   derive from the answer.
//!
//! Every key seals exactly one blob; XChaCha20-Poly1305 with a random nonce all the same,
//! so that an accidental reuse would not be catastrophic. Every blob is padded to a relay
//! bucket, and the associated data names the blob's kind and slot, so a blob cannot be
//! replayed as another kind or into another slot.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use kith_protocol::invite::SlotKey;
use kith_protocol::padding::{pad, unpad};
use kith_protocol::{GroupId, Seq, SlotId};
use rand::RngCore;
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use sha2::Sha256;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::{Zeroize, ZeroizeOnDrop};

const VERSION: u8 = 1;
const NONCE: usize = 24;

/// Why a sealed blob could not be opened.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    /// Bad padding, wrong version, too short, or failed authentication: the blob is
    /// not what it claims to be, or was sealed for another code.
    #[error("{}", kith_i18n::t!("net-seal-invalid"))]
    Invalid,
    /// Too large to seal.
    #[error("{}", kith_i18n::t!("net-seal-too-large"))]
    TooLarge,
}

/// What the inviter leaves in the slot, sealed with the slot key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invitation {
    /// The group's name as the inviter's client knows it.
    pub group_name: String,
    /// The inviter's display name.
    pub inviter_name: String,
    /// The inviter's identity key (Ed25519 public key).
    pub inviter_key: [u8; 32],
    /// The inviter's ephemeral X25519 public key for sealing the answer.
    pub inviter_eph: [u8; 32],
    /// The MLS group id the welcome must be for.
    pub mls_group_id: Vec<u8>,
    /// The group's id on the relay.
    pub relay_group: GroupId,
    /// When the invite expires, Unix seconds.
    pub expires_at: u64,
    /// An admin must approve the joiner before anyone admits them.
    pub needs_approval: bool,
    /// Ed25519 signature by `inviter_key` over [`Invitation::signed_bytes`].
    #[serde(with = "serde_bytes")]
    pub signature: Vec<u8>,
}

impl Invitation {
    /// The bytes the inviter signs: every field but the signature, with a context.
    pub fn signed_bytes(&self, slot: &SlotId) -> Vec<u8> {
        let unsigned = Invitation {
            signature: Vec::new(),
            ..self.clone()
        };
        let mut out = b"kith invitation v1\0".to_vec();
        out.extend_from_slice(&slot.0);
        out.extend_from_slice(&postcard::to_stdvec(&unsigned).unwrap_or_default());
        out
    }
}

/// The joiner's answer, sealed to the inviter's ephemeral key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    /// The joiner's MLS KeyPackage, TLS-encoded.
    #[serde(with = "serde_bytes")]
    pub key_package: Vec<u8>,
    /// The joiner's display name.
    pub display_name: String,
}

/// What the admitting member leaves for the joiner, sealed under the welcome key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WelcomeBundle {
    /// The MLS Welcome, TLS-encoded.
    #[serde(with = "serde_bytes")]
    pub welcome: Vec<u8>,
    /// The group's ratchet tree after the commit that added the joiner, TLS-encoded.
    /// Given to OpenMLS beside the Welcome, which checks it against the tree hash the
    /// Welcome's signed GroupInfo carries: whoever forges it makes the join fail.
    #[serde(with = "serde_bytes")]
    pub ratchet_tree: Vec<u8>,
    /// The sequence number from which the joiner reads the group's log (just after the
    /// commit that added it).
    pub start_seq: Seq,
    /// Display names of the members, by identity key, as the admitter knows them.
    pub names: Vec<([u8; 32], String)>,
}

/// A single-use symmetric key for the welcome. Zeroized on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop, Serialize, Deserialize)]
pub struct WelcomeKey(pub [u8; 32]);

impl std::fmt::Debug for WelcomeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WelcomeKey(…)")
    }
}

fn aad(kind: &str, slot: &SlotId) -> Vec<u8> {
    let mut a = format!("kith {kind} v1\0").into_bytes();
    a.extend_from_slice(&slot.0);
    a
}

fn seal_with(
    key: &[u8; 32],
    aad: &[u8],
    prefix: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, SealError> {
    let cipher = XChaCha20Poly1305::new(key.into());
    let mut nonce = [0u8; NONCE];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let ct = cipher
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .map_err(|_| SealError::TooLarge)?;
    let mut blob = vec![VERSION];
    blob.extend_from_slice(prefix);
    blob.extend_from_slice(&nonce);
    blob.extend_from_slice(&ct);
    pad(&blob).map_err(|_| SealError::TooLarge)
}

fn open_with(key: &[u8; 32], aad: &[u8], body: &[u8]) -> Result<Vec<u8>, SealError> {
    if body.len() < NONCE + 16 {
        return Err(SealError::Invalid);
    }
    let (nonce, ct) = body.split_at(NONCE);
    XChaCha20Poly1305::new(key.into())
        .decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad })
        .map_err(|_| SealError::Invalid)
}

fn unpad_versioned(blob: &[u8]) -> Result<&[u8], SealError> {
    let inner = unpad(blob).map_err(|_| SealError::Invalid)?;
    match inner.split_first() {
        Some((&VERSION, rest)) => Ok(rest),
        _ => Err(SealError::Invalid),
    }
}

fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    postcard::to_stdvec(v).expect("postcard encoding into a Vec is infallible")
}

fn decode<T: DeserializeOwned>(b: &[u8]) -> Result<T, SealError> {
    match postcard::take_from_bytes(b) {
        Ok((v, [])) => Ok(v),
        _ => Err(SealError::Invalid),
    }
}

/// Seals the invitation for `slot` with the slot key.
pub fn seal_invitation(
    slot: &SlotId,
    key: &SlotKey,
    inv: &Invitation,
) -> Result<Vec<u8>, SealError> {
    seal_with(&key.0, &aad("invitation", slot), &[], &encode(inv))
}

/// Opens an invitation.
pub fn open_invitation(slot: &SlotId, key: &SlotKey, blob: &[u8]) -> Result<Invitation, SealError> {
    let body = unpad_versioned(blob)?;
    decode(&open_with(&key.0, &aad("invitation", slot), body)?)
}

struct Derived {
    answer: [u8; 32],
    welcome: WelcomeKey,
}

impl Drop for Derived {
    fn drop(&mut self) {
        self.answer.zeroize();
    }
}

fn derive(slot_key: &SlotKey, shared: &[u8; 32], joiner: &[u8; 32], inviter: &[u8; 32]) -> Derived {
    let hk = Hkdf::<Sha256>::new(Some(&slot_key.0), shared);
    let mut info = Vec::with_capacity(96);
    let mut out = Derived {
        answer: [0; 32],
        welcome: WelcomeKey([0; 32]),
    };
    for (label, dest) in [
        (&b"kith answer key v1\0"[..], &mut out.answer),
        (&b"kith welcome key v1\0"[..], &mut out.welcome.0),
    ] {
        info.clear();
        info.extend_from_slice(label);
        info.extend_from_slice(joiner);
        info.extend_from_slice(inviter);
        hk.expand(&info, dest)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
    }
    out
}

/// Seals the joiner's answer to the inviter's ephemeral key. Returns the blob and the
/// key under which the welcome will come.
pub fn seal_answer(
    slot: &SlotId,
    slot_key: &SlotKey,
    inviter_eph: &[u8; 32],
    answer: &Answer,
) -> Result<(Vec<u8>, WelcomeKey), SealError> {
    let eph = StaticSecret::random_from_rng(rand::rngs::OsRng);
    let eph_pub = PublicKey::from(&eph).to_bytes();
    let shared = eph.diffie_hellman(&PublicKey::from(*inviter_eph));
    if !shared.was_contributory() {
        return Err(SealError::Invalid);
    }
    let keys = derive(slot_key, shared.as_bytes(), &eph_pub, inviter_eph);
    let blob = seal_with(
        &keys.answer,
        &aad("answer", slot),
        &eph_pub,
        &encode(answer),
    )?;
    Ok((blob, keys.welcome.clone()))
}

/// Opens an answer with the inviter's ephemeral secret. Returns the answer and the key
/// to seal the welcome under.
pub fn open_answer(
    slot: &SlotId,
    slot_key: &SlotKey,
    inviter_eph: &StaticSecret,
    blob: &[u8],
) -> Result<(Answer, WelcomeKey), SealError> {
    let body = unpad_versioned(blob)?;
    if body.len() < 32 {
        return Err(SealError::Invalid);
    }
    let (joiner_pub, rest) = body.split_at(32);
    let joiner_pub: [u8; 32] = joiner_pub.try_into().map_err(|_| SealError::Invalid)?;
    let shared = inviter_eph.diffie_hellman(&PublicKey::from(joiner_pub));
    if !shared.was_contributory() {
        return Err(SealError::Invalid);
    }
    let inviter_pub = PublicKey::from(inviter_eph).to_bytes();
    let keys = derive(slot_key, shared.as_bytes(), &joiner_pub, &inviter_pub);
    let answer = decode(&open_with(&keys.answer, &aad("answer", slot), rest)?)?;
    Ok((answer, keys.welcome.clone()))
}

/// Seals the welcome bundle.
pub fn seal_welcome(
    slot: &SlotId,
    key: &WelcomeKey,
    bundle: &WelcomeBundle,
) -> Result<Vec<u8>, SealError> {
    seal_with(&key.0, &aad("welcome", slot), &[], &encode(bundle))
}

/// Opens the welcome bundle.
pub fn open_welcome(
    slot: &SlotId,
    key: &WelcomeKey,
    blob: &[u8],
) -> Result<WelcomeBundle, SealError> {
    let body = unpad_versioned(blob)?;
    decode(&open_with(&key.0, &aad("welcome", slot), body)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kith_protocol::invite::InviteCode;
    use kith_protocol::padding::is_bucket;

    fn invitation(eph: [u8; 32]) -> Invitation {
        Invitation {
            group_name: "Mothers of the 41st".into(),
            inviter_name: "Olena".into(),
            inviter_key: [1; 32],
            inviter_eph: eph,
            mls_group_id: vec![2; 16],
            relay_group: GroupId([3; 16]),
            expires_at: 99,
            needs_approval: false,
            signature: vec![4; 64],
        }
    }

    #[test]
    fn the_whole_exchange() {
        let code = InviteCode::generate();
        let (slot, key) = code.derive();
        let inviter_eph = StaticSecret::random_from_rng(rand::rngs::OsRng);
        let inv = invitation(PublicKey::from(&inviter_eph).to_bytes());

        let blob = seal_invitation(&slot, &key, &inv).unwrap();
        assert!(is_bucket(blob.len()));
        assert!(!blob.windows(6).any(|w| w == b"Mother"));
        let opened = open_invitation(&slot, &key, &blob).unwrap();
        assert_eq!(opened, inv);

        let answer = Answer {
            key_package: vec![5; 300],
            display_name: "Iryna".into(),
        };
        let (ablob, joiner_wkey) = seal_answer(&slot, &key, &opened.inviter_eph, &answer).unwrap();
        let (got, admin_wkey) = open_answer(&slot, &key, &inviter_eph, &ablob).unwrap();
        assert_eq!(got, answer);
        assert_eq!(joiner_wkey.0, admin_wkey.0);

        let bundle = WelcomeBundle {
            welcome: vec![6; 1000],
            ratchet_tree: vec![7; 300],
            start_seq: 42,
            names: vec![([1; 32], "Olena".into())],
        };
        let wblob = seal_welcome(&slot, &admin_wkey, &bundle).unwrap();
        assert_eq!(open_welcome(&slot, &joiner_wkey, &wblob).unwrap(), bundle);
    }

    #[test]
    fn wrong_code_wrong_kind_or_tampering_is_refused() {
        let (slot, key) = InviteCode::generate().derive();
        let (other_slot, other_key) = InviteCode::generate().derive();
        let inv = invitation([9; 32]);
        let blob = seal_invitation(&slot, &key, &inv).unwrap();
        assert_eq!(
            open_invitation(&slot, &other_key, &blob),
            Err(SealError::Invalid)
        );
        assert_eq!(
            open_invitation(&other_slot, &key, &blob),
            Err(SealError::Invalid)
        );
        let mut bad = blob.clone();
        bad[10] ^= 1;
        assert_eq!(open_invitation(&slot, &key, &bad), Err(SealError::Invalid));
        // An invitation blob is not accepted as a welcome even under the same key.
        let wkey = WelcomeKey(key.0);
        assert_eq!(open_welcome(&slot, &wkey, &blob), Err(SealError::Invalid));
        assert_eq!(
            open_invitation(&slot, &key, &[0; 7]),
            Err(SealError::Invalid)
        );
    }

    #[test]
    fn an_answer_sealed_for_another_inviter_does_not_open() {
        let (slot, key) = InviteCode::generate().derive();
        let real = StaticSecret::random_from_rng(rand::rngs::OsRng);
        let fake = StaticSecret::random_from_rng(rand::rngs::OsRng);
        let answer = Answer {
            key_package: vec![1],
            display_name: "x".into(),
        };
        let (blob, _) =
            seal_answer(&slot, &key, &PublicKey::from(&fake).to_bytes(), &answer).unwrap();
        assert!(open_answer(&slot, &key, &real, &blob).is_err());
        // A low-order point is refused rather than giving an all-zero shared secret.
        assert!(seal_answer(&slot, &key, &[0; 32], &answer).is_err());
    }
}
