//! Keyed hashing of store keys and sealing of store values.
//!
//! Two 32-byte keys are derived from the profile's random data key with HKDF-SHA256
//! (separate `info` labels): `mac_key` names entries, `enc_key` seals them.
//!
//! * A sled key is `ns_tag(8) || entry(32)`, where
//!   `ns_tag = HMAC(mac_key, 0x01 || ns)[..8]` (so one namespace can be scanned by prefix) and
//!   `entry = HMAC(mac_key, 0x02 || len(ns) as u32 BE || ns || key)` (length-prefixed so that
//!   no two `(ns, key)` pairs hash the same input).
//! * A sled value is `nonce(24) || XChaCha20-Poly1305(enc_key, nonce, padded, aad = sled key)`,
//!   where `padded = len(key) u32 LE || key || len(value) u32 LE || value || zeros`, padded to
//!   [`padded_len`]. The AAD binds a value to its sled key, so a value copied to another key
//!   fails to open.
//! * An *expiring* value (see `expiry.rs`) is sealed under the random key of its expiry
//!   bucket instead of `enc_key`:
//!   `header(12) || nonce(24) || XChaCha20-Poly1305(bucket_key, nonce, padded, aad = header || sled key)`,
//!   where `header = "KX" || 0x01 || log2(bucket length) u8 || bucket start u64 BE` and
//!   `padded = expires_at u64 LE || len(key) u32 LE || key || len(value) u32 LE || value || zeros`,
//!   padded like the other format. The two formats are told apart by length: an ordinary
//!   value is `24 + 64k + 16` bytes (≡ 40 mod 64), an expiring one `12 + 24 + 64k + 16`
//!   (≡ 52 mod 64), so values written before expiring records existed read unchanged.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use rand::RngCore;
use rand::rngs::OsRng;
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::StoreError;

/// Length of the namespace tag at the front of every sled key.
pub(crate) const NS_TAG_LEN: usize = 8;
/// Length of a sled key.
pub(crate) const SLED_KEY_LEN: usize = NS_TAG_LEN + 32;
/// Length of the random XChaCha20 nonce in front of every sealed value.
const NONCE_LEN: usize = 24;
/// Length of the Poly1305 tag.
const TAG_LEN: usize = 16;
/// Every sealed plaintext is a multiple of this many bytes.
const PAD_BLOCK: usize = 64;

const HKDF_INFO_ENC: &[u8] = b"kith store v1 value encryption";
const HKDF_INFO_MAC: &[u8] = b"kith store v1 key hashing";

/// A sled key: `ns_tag || entry hash`.
pub(crate) type SledKey = [u8; SLED_KEY_LEN];

/// The two working keys of an open store. Zeroized on drop; never printed.
#[derive(Zeroize, ZeroizeOnDrop)]
pub(crate) struct Keys {
    enc: [u8; 32],
    mac: [u8; 32],
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys([redacted])")
    }
}

impl Keys {
    /// Derives the working keys from the profile's data key.
    pub(crate) fn derive(data_key: &[u8; 32]) -> Self {
        let hk = Hkdf::<Sha256>::new(None, data_key);
        let mut keys = Keys {
            enc: [0; 32],
            mac: [0; 32],
        };
        // Both lengths are far below HKDF-SHA256's 8160-byte limit, so expand cannot fail.
        hk.expand(HKDF_INFO_ENC, &mut keys.enc)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        hk.expand(HKDF_INFO_MAC, &mut keys.mac)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        keys
    }

    fn hmac(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.mac).expect("HMAC accepts any key length");
        for part in parts {
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }

    /// The 8-byte prefix shared by every sled key of namespace `ns`.
    pub(crate) fn ns_tag(&self, ns: &str) -> [u8; NS_TAG_LEN] {
        let full = self.hmac(&[&[0x01], ns.as_bytes()]);
        let mut tag = [0u8; NS_TAG_LEN];
        tag.copy_from_slice(&full[..NS_TAG_LEN]);
        tag
    }

    /// The sled key of `(ns, key)`.
    pub(crate) fn sled_key(&self, ns: &str, key: &[u8]) -> SledKey {
        let ns_len = u32::try_from(ns.len())
            .expect("namespace longer than 4 GiB")
            .to_be_bytes();
        let entry = self.hmac(&[&[0x02], &ns_len, ns.as_bytes(), key]);
        let mut out = [0u8; SLED_KEY_LEN];
        out[..NS_TAG_LEN].copy_from_slice(&self.ns_tag(ns));
        out[NS_TAG_LEN..].copy_from_slice(&entry);
        out
    }

    /// Seals `(key, value)` for storage under `sled_key`.
    pub(crate) fn seal(
        &self,
        sled_key: &SledKey,
        key: &[u8],
        value: &[u8],
    ) -> Result<Vec<u8>, StoreError> {
        let plain = padded_plaintext(&[], key, value)?;
        aead_seal(&self.enc, &plain, sled_key)
    }

    /// Opens a value read from `sled_key`; returns the original key and the value.
    pub(crate) fn open(&self, sled_key: &[u8], blob: &[u8]) -> Result<Opened, StoreError> {
        let plain = aead_open(&self.enc, blob, sled_key)?;
        parse_plaintext(&plain)
    }

    /// Whether `sled_key` is the sled key of `(ns, key)`.
    pub(crate) fn matches(&self, sled_key: &[u8], ns: &str, key: &[u8]) -> bool {
        // Not secret-dependent in a way that matters (both sides are stored on disk), but
        // keep the comparison constant-time anyway.
        let expected = self.sled_key(ns, key);
        sled_key.len() == expected.len()
            && sled_key
                .iter()
                .zip(expected.iter())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }
}

/// An opened value: the application's original key and the serialized value.
pub(crate) struct Opened {
    pub(crate) key: Zeroizing<Vec<u8>>,
    pub(crate) value: Zeroizing<Vec<u8>>,
}

/// Length of the header in front of an expiring value.
pub(crate) const EXPIRING_HEADER_LEN: usize = 12;
/// The first three bytes of an expiring value's header: "KX", format 1.
pub(crate) const EXPIRING_MAGIC: [u8; 3] = *b"KX\x01";
/// Length of the `expires_at` prefix inside an expiring value's plaintext.
const EXPIRES_AT_LEN: usize = 8;

/// The header of an expiring value, or `None` for an ordinary one.
///
/// The formats differ in length modulo [`PAD_BLOCK`]; a value of the expiring length without
/// the expiring magic is damaged.
pub(crate) fn expiring_header(blob: &[u8]) -> Result<Option<&[u8]>, StoreError> {
    if blob.len() % PAD_BLOCK != (EXPIRING_HEADER_LEN + NONCE_LEN + TAG_LEN) % PAD_BLOCK {
        return Ok(None);
    }
    if blob.len() < EXPIRING_HEADER_LEN + NONCE_LEN + TAG_LEN
        || blob[..EXPIRING_MAGIC.len()] != EXPIRING_MAGIC
    {
        return Err(StoreError::Corrupt("an expiring value has a bad header"));
    }
    Ok(Some(&blob[..EXPIRING_HEADER_LEN]))
}

/// Seals `(key, value)`, expiring at `expires_at`, under a bucket key for storage under
/// `sled_key`. `header` names the bucket (see the module documentation).
pub(crate) fn seal_expiring(
    bucket_key: &[u8; 32],
    header: &[u8; EXPIRING_HEADER_LEN],
    sled_key: &SledKey,
    key: &[u8],
    value: &[u8],
    expires_at: u64,
) -> Result<Vec<u8>, StoreError> {
    let plain = padded_plaintext(&expires_at.to_le_bytes(), key, value)?;
    let mut aad = [0u8; EXPIRING_HEADER_LEN + SLED_KEY_LEN];
    aad[..EXPIRING_HEADER_LEN].copy_from_slice(header);
    aad[EXPIRING_HEADER_LEN..].copy_from_slice(sled_key);
    let sealed = aead_seal(bucket_key, &plain, &aad)?;
    let mut out = Vec::with_capacity(EXPIRING_HEADER_LEN + sealed.len());
    out.extend_from_slice(header);
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// Opens an expiring value (header included) read from `sled_key` with its bucket key;
/// returns `expires_at` and the opened entry.
pub(crate) fn open_expiring(
    bucket_key: &[u8; 32],
    sled_key: &[u8],
    blob: &[u8],
) -> Result<(u64, Opened), StoreError> {
    let Some(header) = expiring_header(blob)? else {
        return Err(StoreError::Corrupt("not an expiring value"));
    };
    let mut aad = Vec::with_capacity(EXPIRING_HEADER_LEN + sled_key.len());
    aad.extend_from_slice(header);
    aad.extend_from_slice(sled_key);
    let plain = aead_open(bucket_key, &blob[EXPIRING_HEADER_LEN..], &aad)?;
    let bad = || StoreError::Corrupt("a stored value is malformed");
    let prefix: [u8; EXPIRES_AT_LEN] = plain
        .get(..EXPIRES_AT_LEN)
        .and_then(|p| p.try_into().ok())
        .ok_or_else(bad)?;
    let opened = parse_plaintext(&plain[EXPIRES_AT_LEN..])?;
    Ok((u64::from_le_bytes(prefix), opened))
}

/// `prefix || len(key) u32 LE || key || len(value) u32 LE || value`, zero-padded to
/// [`padded_len`] of its length.
fn padded_plaintext(
    prefix: &[u8],
    key: &[u8],
    value: &[u8],
) -> Result<Zeroizing<Vec<u8>>, StoreError> {
    let key_len = u32::try_from(key.len()).map_err(|_| StoreError::TooLarge)?;
    let value_len = u32::try_from(value.len()).map_err(|_| StoreError::TooLarge)?;
    let inner = prefix.len() + 8 + key.len() + value.len();
    let mut plain = Zeroizing::new(Vec::with_capacity(padded_len(inner)));
    plain.extend_from_slice(prefix);
    plain.extend_from_slice(&key_len.to_le_bytes());
    plain.extend_from_slice(key);
    plain.extend_from_slice(&value_len.to_le_bytes());
    plain.extend_from_slice(value);
    plain.resize(padded_len(inner), 0);
    Ok(plain)
}

/// Splits a plaintext made by [`padded_plaintext`] (without its prefix) into key and value.
fn parse_plaintext(plain: &[u8]) -> Result<Opened, StoreError> {
    let bad = || StoreError::Corrupt("a stored value is malformed");
    let (key, rest) = take_prefixed(plain).ok_or_else(bad)?;
    let (value, _padding) = take_prefixed(rest).ok_or_else(bad)?;
    Ok(Opened {
        key: Zeroizing::new(key.to_vec()),
        value: Zeroizing::new(value.to_vec()),
    })
}

/// `nonce(24) || XChaCha20-Poly1305(key, nonce, plain, aad)` with a random nonce.
pub(crate) fn aead_seal(key: &[u8; 32], plain: &[u8], aad: &[u8]) -> Result<Vec<u8>, StoreError> {
    let mut nonce = [0u8; NONCE_LEN];
    OsRng.fill_bytes(&mut nonce);
    let cipher = XChaCha20Poly1305::new(chacha20poly1305::Key::from_slice(key));
    let sealed = cipher
        .encrypt(XNonce::from_slice(&nonce), Payload { msg: plain, aad })
        .map_err(|_| StoreError::TooLarge)?;
    let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// Opens what [`aead_seal`] made.
pub(crate) fn aead_open(
    key: &[u8; 32],
    blob: &[u8],
    aad: &[u8],
) -> Result<Zeroizing<Vec<u8>>, StoreError> {
    if blob.len() < NONCE_LEN + TAG_LEN {
        return Err(StoreError::Corrupt("a stored value is truncated"));
    }
    let (nonce, ct) = blob.split_at(NONCE_LEN);
    let cipher = XChaCha20Poly1305::new(chacha20poly1305::Key::from_slice(key));
    cipher
        .decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad })
        .map(Zeroizing::new)
        .map_err(|_| StoreError::Corrupt("a stored value failed authentication"))
}

/// Bytes that [`aead_seal`] adds to its plaintext.
pub(crate) const AEAD_OVERHEAD: usize = NONCE_LEN + TAG_LEN;

fn take_prefixed(buf: &[u8]) -> Option<(&[u8], &[u8])> {
    let len_bytes: [u8; 4] = buf.get(..4)?.try_into().ok()?;
    let len = usize::try_from(u32::from_le_bytes(len_bytes)).ok()?;
    let rest = &buf[4..];
    if rest.len() < len {
        return None;
    }
    Some(rest.split_at(len))
}

/// The padded plaintext length for `len` bytes of content: Padmé padding (which leaks
/// O(log log len) bits of the length, with at most ~12% overhead), then rounded up to a
/// multiple of 64 bytes, so small values all look alike.
pub(crate) fn padded_len(len: usize) -> usize {
    let padme = padme(len);
    padme.max(1).div_ceil(PAD_BLOCK) * PAD_BLOCK
}

/// Padmé (Nikitin et al., "Reducing Metadata Leakage from Encrypted Files and
/// Communication with PURBs", PETS 2019).
fn padme(len: usize) -> usize {
    if len < 2 {
        return len;
    }
    let e = usize::BITS - 1 - len.leading_zeros(); // floor(log2 len)
    let s = u32::BITS - e.leading_zeros(); // floor(log2 e) + 1
    let last_bits = e - s;
    let mask = (1usize << last_bits) - 1;
    (len + mask) & !mask
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Keys {
        Keys::derive(&[7u8; 32])
    }

    #[test]
    fn store_seal_roundtrip_and_aad_binding() {
        let k = keys();
        let a = k.sled_key("ns", b"a");
        let b = k.sled_key("ns", b"b");
        let blob = k.seal(&a, b"a", b"hello").unwrap();
        let opened = k.open(&a, &blob).unwrap();
        assert_eq!(&opened.key[..], b"a");
        assert_eq!(&opened.value[..], b"hello");
        // The same ciphertext under another key does not open.
        assert!(matches!(k.open(&b, &blob), Err(StoreError::Corrupt(_))));
        // A flipped bit does not open.
        let mut bad = blob.clone();
        bad[30] ^= 1;
        assert!(k.open(&a, &bad).is_err());
        // Another data key does not open it.
        assert!(Keys::derive(&[8u8; 32]).open(&a, &blob).is_err());
    }

    #[test]
    fn store_keys_are_namespaced_and_unambiguous() {
        let k = keys();
        assert_eq!(k.sled_key("ns", b"x")[..NS_TAG_LEN], k.ns_tag("ns"));
        assert_ne!(k.ns_tag("ns"), k.ns_tag("nt"));
        // Length prefix: ("ab", "c") and ("a", "bc") differ.
        assert_ne!(k.sled_key("ab", b"c"), k.sled_key("a", b"bc"));
        assert!(k.matches(&k.sled_key("ns", b"x"), "ns", b"x"));
        assert!(!k.matches(&k.sled_key("ns", b"x"), "ns", b"y"));
        // Different data keys give unrelated names.
        assert_ne!(
            k.sled_key("ns", b"x"),
            Keys::derive(&[8u8; 32]).sled_key("ns", b"x")
        );
    }

    #[test]
    fn store_padding_hides_small_size_differences() {
        let k = keys();
        let s = k.sled_key("ns", b"k");
        let short = k.seal(&s, b"k", b"hi").unwrap();
        let longer = k.seal(&s, b"k", &[b'x'; 40]).unwrap();
        assert_eq!(short.len(), longer.len());
        assert!((short.len() - NONCE_LEN - TAG_LEN).is_multiple_of(PAD_BLOCK));
        for len in [0usize, 1, 63, 64, 65, 1000, 5000, 100_000, 1 << 20] {
            let p = padded_len(len);
            assert!(p >= len && p.is_multiple_of(PAD_BLOCK), "len {len} -> {p}");
            assert!(
                p <= len + len / 8 + PAD_BLOCK,
                "overhead too big: {len} -> {p}"
            );
        }
    }

    #[test]
    fn store_keys_debug_is_redacted() {
        assert_eq!(format!("{:?}", keys()), "Keys([redacted])");
    }
}
