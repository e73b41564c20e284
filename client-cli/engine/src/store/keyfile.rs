//! `profile.key`: the profile's random data key, wrapped under a key derived from the
//! passphrase with Argon2id, and the duress slot.
//!
//! Layout (all integers big-endian), version 2, 485 bytes:
//!
//! ```text
//! magic "KITHPKEY" (8) | format version = 2 (1) | m_cost KiB (4) | t_cost (4) | p_cost (4)
//! | salt (32) | duress slot (360) | nonce (24)
//! | XChaCha20-Poly1305(kek, nonce, data_key, aad = the 53 bytes before the slot) (48)
//! ```
//!
//! Version 1 (125 bytes, still read) has no slot. The header (magic to salt) is the AEAD's
//! associated data, so changing the parameters or the salt makes the unwrap fail like a
//! wrong passphrase would.
//!
//! **The duress slot** (`kith passphrase --duress`): `duress salt (32) | check (32) |
//! name nonce (24) | name (256 + 16)`. With `d = Argon2id(duress passphrase, duress salt)`
//! (the file's parameters), `check = HKDF-SHA256(d, "kith duress check v1")` and the name
//! is the display name, padded to 256 bytes and sealed under `HKDF-SHA256(d, "kith duress
//! name v1")`. A profile without a duress passphrase has random bytes there, so the file
//! does not say whether one is set. Every unlock derives both `kek` and `d`, whatever the
//! file holds, so its time does not say it either. The slot is outside the associated
//! data: setting it needs no passphrase but the new one, and a slot planted by someone
//! who can write the file only matters if the owner types the planter's passphrase.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::Path;

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use rand::rngs::OsRng;
use zeroize::Zeroizing;

use super::StoreError;

/// File name of the wrapped data key inside a profile directory.
pub const PROFILE_KEY_FILE: &str = "profile.key";
/// Temporary name used while `profile.key` is replaced atomically.
pub(crate) const PROFILE_KEY_TMP: &str = "profile.key.tmp";

const MAGIC: &[u8; 8] = b"KITHPKEY";
const FORMAT_V1: u8 = 1;
const FORMAT_VERSION: u8 = 2;
const SALT_LEN: usize = 32;
const NONCE_LEN: usize = 24;
const HEADER_LEN: usize = 8 + 1 + 12 + SALT_LEN;
const WRAPPED_LEN: usize = 32 + 16;
const FILE_LEN_V1: usize = HEADER_LEN + NONCE_LEN + WRAPPED_LEN;
/// A display name in the duress slot, padded (64 characters of up to 4 bytes).
const NAME_PAD: usize = 256;
/// The duress slot's length.
pub(crate) const SLOT_LEN: usize = SALT_LEN + 32 + NONCE_LEN + NAME_PAD + 16;
const FILE_LEN: usize = HEADER_LEN + SLOT_LEN + NONCE_LEN + WRAPPED_LEN;

/// Upper bounds on parameters read from disk, so a tampered file cannot make `open`
/// allocate gigabytes or spin for hours.
const MAX_M_COST_KIB: u32 = 4 * 1024 * 1024;
const MAX_T_COST: u32 = 64;
const MAX_P_COST: u32 = 16;

/// Environment variable that makes *new* profiles use [`KdfParams::insecure_fast`].
/// **Test-only**: it makes a stolen profile's passphrase cheap to brute-force, so it
/// exists only with the `test-hooks` feature (the end-to-end tests' builds).
#[cfg(feature = "test-hooks")]
pub const FAST_KDF_ENV: &str = "KITH_TEST_FAST_KDF";

/// Argon2id cost parameters for deriving the key-encryption key from the passphrase.
///
/// They are stored in `profile.key`, so a profile always opens with the parameters it was
/// created with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory cost in KiB.
    pub m_cost_kib: u32,
    /// Number of passes.
    pub t_cost: u32,
    /// Degree of parallelism.
    pub p_cost: u32,
}

impl KdfParams {
    /// The parameters for real profiles: Argon2id with 64 MiB, 3 passes, 1 lane.
    pub const fn recommended() -> Self {
        KdfParams {
            m_cost_kib: 64 * 1024,
            t_cost: 3,
            p_cost: 1,
        }
    }

    /// **Test-only** parameters (8 KiB, 1 pass): a profile created with them can be
    /// brute-forced cheaply. For unit and end-to-end tests that create many profiles.
    pub const fn insecure_fast() -> Self {
        KdfParams {
            m_cost_kib: 8,
            t_cost: 1,
            p_cost: 1,
        }
    }

    /// The parameters for a new profile: [`KdfParams::recommended`]; in a build with the
    /// `test-hooks` feature, [`KdfParams::insecure_fast`] if the environment has
    /// `KITH_TEST_FAST_KDF=1` (**test-only**; a warning is logged).
    pub fn for_new_profile() -> Self {
        #[cfg(feature = "test-hooks")]
        if std::env::var_os(FAST_KDF_ENV).is_some_and(|v| v == "1") {
            tracing::warn!(
                "{FAST_KDF_ENV}=1: creating a profile with insecure test-only key derivation"
            );
            return Self::insecure_fast();
        }
        Self::recommended()
    }

    fn argon2(&self) -> Result<Argon2<'static>, StoreError> {
        let params = Params::new(self.m_cost_kib, self.t_cost, self.p_cost, Some(32))
            .map_err(|e| StoreError::Kdf(e.to_string()))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
}

impl Default for KdfParams {
    fn default() -> Self {
        Self::recommended()
    }
}

/// A parsed `profile.key`.
pub(crate) struct KeyFile {
    pub(crate) params: KdfParams,
    header: [u8; HEADER_LEN],
    /// The duress slot (random bytes when none is set; `None` in a version 1 file).
    slot: Option<[u8; SLOT_LEN]>,
    nonce: [u8; NONCE_LEN],
    wrapped: [u8; WRAPPED_LEN],
}

/// What a passphrase opened.
pub(crate) enum Unlock {
    /// The profile's data key.
    Real(Zeroizing<[u8; 32]>),
    /// The duress passphrase: what a fresh profile in its place needs.
    Duress(DuressUnlock),
}

/// A duress unlock: the key derived from the duress passphrase and its salt (the fresh
/// profile's data key is wrapped under them, so no further derivation shows in the
/// unlock's time), the parameters, and the display name kept for it.
pub struct DuressUnlock {
    pub(crate) kek: Zeroizing<[u8; 32]>,
    pub(crate) salt: [u8; SALT_LEN],
    pub(crate) params: KdfParams,
    /// The display name the profile had when the duress passphrase was set.
    pub name: String,
}

impl std::fmt::Debug for DuressUnlock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DuressUnlock(..)")
    }
}

/// A duress slot that opens with nothing: random bytes.
pub(crate) fn random_slot() -> [u8; SLOT_LEN] {
    let mut slot = [0u8; SLOT_LEN];
    OsRng.fill_bytes(&mut slot);
    slot
}

/// The duress slot for `passphrase`, keeping `name` for the fresh profile.
pub(crate) fn duress_slot(
    passphrase: &[u8],
    params: &KdfParams,
    name: &str,
) -> Result<[u8; SLOT_LEN], StoreError> {
    let mut slot = random_slot();
    let d = derive_kek(passphrase, params, &slot[..SALT_LEN])?;
    let (check, name_key) = duress_keys(&d);
    slot[SALT_LEN..SALT_LEN + 32].copy_from_slice(&check[..]);
    let mut padded = Zeroizing::new([0u8; NAME_PAD]);
    let bytes = name.as_bytes();
    if bytes.len() > NAME_PAD {
        return Err(StoreError::TooLarge);
    }
    padded[..bytes.len()].copy_from_slice(bytes);
    let nonce_at = SALT_LEN + 32;
    let cipher = XChaCha20Poly1305::new(chacha20poly1305::Key::from_slice(&name_key[..]));
    let sealed = cipher
        .encrypt(
            XNonce::from_slice(&slot[nonce_at..nonce_at + NONCE_LEN]),
            Payload {
                msg: &padded[..],
                aad: b"kith duress name",
            },
        )
        .map_err(|_| StoreError::Kdf("sealing the duress slot failed".into()))?;
    slot[nonce_at + NONCE_LEN..].copy_from_slice(&sealed);
    Ok(slot)
}

/// The check value and the name key of a duress slot, from `d`.
fn duress_keys(d: &[u8; 32]) -> (Zeroizing<[u8; 32]>, Zeroizing<[u8; 32]>) {
    let hk = hkdf::Hkdf::<sha2::Sha256>::new(None, d);
    let mut check = Zeroizing::new([0u8; 32]);
    let mut name_key = Zeroizing::new([0u8; 32]);
    hk.expand(b"kith duress check v1", &mut check[..])
        .expect("32 bytes is a valid HKDF output");
    hk.expand(b"kith duress name v1", &mut name_key[..])
        .expect("32 bytes is a valid HKDF output");
    (check, name_key)
}

impl KeyFile {
    /// Wraps `data_key` under `passphrase` with fresh salt and nonce, with the duress
    /// slot `slot`.
    pub(crate) fn seal(
        passphrase: &[u8],
        params: KdfParams,
        data_key: &[u8; 32],
        slot: [u8; SLOT_LEN],
    ) -> Result<Self, StoreError> {
        let mut salt = [0u8; SALT_LEN];
        OsRng.fill_bytes(&mut salt);
        let kek = derive_kek(passphrase, &params, &salt)?;
        Self::seal_with_kek(&kek, salt, params, data_key, slot)
    }

    /// Wraps `data_key` under a key already derived (`kek` from `salt`).
    pub(crate) fn seal_with_kek(
        kek: &[u8; 32],
        salt: [u8; SALT_LEN],
        params: KdfParams,
        data_key: &[u8; 32],
        slot: [u8; SLOT_LEN],
    ) -> Result<Self, StoreError> {
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);

        let mut header = [0u8; HEADER_LEN];
        header[..8].copy_from_slice(MAGIC);
        header[8] = FORMAT_VERSION;
        header[9..13].copy_from_slice(&params.m_cost_kib.to_be_bytes());
        header[13..17].copy_from_slice(&params.t_cost.to_be_bytes());
        header[17..21].copy_from_slice(&params.p_cost.to_be_bytes());
        header[21..].copy_from_slice(&salt);

        let cipher = XChaCha20Poly1305::new(chacha20poly1305::Key::from_slice(&kek[..]));
        let wrapped_vec = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: data_key,
                    aad: &header,
                },
            )
            .map_err(|_| StoreError::Kdf("wrapping the data key failed".into()))?;
        let mut wrapped = [0u8; WRAPPED_LEN];
        wrapped.copy_from_slice(&wrapped_vec);
        Ok(KeyFile {
            params,
            header,
            slot: Some(slot),
            nonce,
            wrapped,
        })
    }

    /// The duress slot, as it is (random when none is set).
    pub(crate) fn slot(&self) -> [u8; SLOT_LEN] {
        self.slot.unwrap_or_else(random_slot)
    }

    /// Parses the bytes of a `profile.key`.
    pub(crate) fn parse(bytes: &[u8]) -> Result<Self, StoreError> {
        if bytes.len() < HEADER_LEN || &bytes[..8] != MAGIC {
            return Err(StoreError::Corrupt("profile.key is not a Kith key file"));
        }
        let slotted = match bytes[8] {
            FORMAT_V1 => false,
            FORMAT_VERSION => true,
            v => return Err(StoreError::UnsupportedVersion(v)),
        };
        if bytes.len() != if slotted { FILE_LEN } else { FILE_LEN_V1 } {
            return Err(StoreError::Corrupt("profile.key has the wrong length"));
        }
        let be = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
        let params = KdfParams {
            m_cost_kib: be(9),
            t_cost: be(13),
            p_cost: be(17),
        };
        if params.m_cost_kib > MAX_M_COST_KIB
            || params.t_cost > MAX_T_COST
            || params.p_cost > MAX_P_COST
        {
            return Err(StoreError::Corrupt(
                "profile.key asks for unreasonable key-derivation costs",
            ));
        }
        let mut header = [0u8; HEADER_LEN];
        header.copy_from_slice(&bytes[..HEADER_LEN]);
        let mut at = HEADER_LEN;
        let slot = slotted.then(|| {
            let mut slot = [0u8; SLOT_LEN];
            slot.copy_from_slice(&bytes[at..at + SLOT_LEN]);
            at += SLOT_LEN;
            slot
        });
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&bytes[at..at + NONCE_LEN]);
        let mut wrapped = [0u8; WRAPPED_LEN];
        wrapped.copy_from_slice(&bytes[at + NONCE_LEN..]);
        Ok(KeyFile {
            params,
            header,
            slot,
            nonce,
            wrapped,
        })
    }

    /// Opens the file with `passphrase`: the data key, or a duress unlock, or
    /// [`StoreError::WrongPassphrase`]. Both derivations run every time (see the module
    /// doc), the slot's check is compared in constant time.
    pub(crate) fn unlock(&self, passphrase: &[u8]) -> Result<Unlock, StoreError> {
        let real = self.unwrap_key(passphrase);
        let no_slot = [0u8; SLOT_LEN];
        let slot = self.slot.as_ref().unwrap_or(&no_slot);
        let mut salt = [0u8; SALT_LEN];
        salt.copy_from_slice(&slot[..SALT_LEN]);
        let d = derive_kek(passphrase, &self.params, &salt)?;
        match real {
            Ok(key) => return Ok(Unlock::Real(key)),
            Err(StoreError::WrongPassphrase) => {}
            Err(e) => return Err(e),
        }
        if self.slot.is_none() {
            return Err(StoreError::WrongPassphrase);
        }
        let (check, name_key) = duress_keys(&d);
        use subtle::ConstantTimeEq;
        if !bool::from(check[..].ct_eq(&slot[SALT_LEN..SALT_LEN + 32])) {
            return Err(StoreError::WrongPassphrase);
        }
        let nonce_at = SALT_LEN + 32;
        let cipher = XChaCha20Poly1305::new(chacha20poly1305::Key::from_slice(&name_key[..]));
        let padded = Zeroizing::new(
            cipher
                .decrypt(
                    XNonce::from_slice(&slot[nonce_at..nonce_at + NONCE_LEN]),
                    Payload {
                        msg: &slot[nonce_at + NONCE_LEN..],
                        aad: b"kith duress name",
                    },
                )
                .map_err(|_| StoreError::WrongPassphrase)?,
        );
        let end = padded.iter().position(|b| *b == 0).unwrap_or(padded.len());
        let name = String::from_utf8_lossy(&padded[..end]).into_owned();
        Ok(Unlock::Duress(DuressUnlock {
            kek: d,
            salt,
            params: self.params,
            name,
        }))
    }

    /// Unwraps the data key. A wrong passphrase (or a tampered file) gives
    /// [`StoreError::WrongPassphrase`].
    pub(crate) fn unwrap_key(&self, passphrase: &[u8]) -> Result<Zeroizing<[u8; 32]>, StoreError> {
        let kek = derive_kek(passphrase, &self.params, &self.header[21..])?;
        let cipher = XChaCha20Poly1305::new(chacha20poly1305::Key::from_slice(&kek[..]));
        let plain = Zeroizing::new(
            cipher
                .decrypt(
                    XNonce::from_slice(&self.nonce),
                    Payload {
                        msg: &self.wrapped,
                        aad: &self.header,
                    },
                )
                .map_err(|_| StoreError::WrongPassphrase)?,
        );
        let mut key = Zeroizing::new([0u8; 32]);
        if plain.len() != 32 {
            return Err(StoreError::Corrupt(
                "profile.key holds a key of the wrong size",
            ));
        }
        key.copy_from_slice(&plain);
        Ok(key)
    }

    /// The file's bytes.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(FILE_LEN);
        out.extend_from_slice(&self.header);
        if let Some(slot) = &self.slot {
            out.extend_from_slice(slot);
        }
        out.extend_from_slice(&self.nonce);
        out.extend_from_slice(&self.wrapped);
        out
    }

    /// Reads `dir/profile.key`; a missing file is [`StoreError::NoProfile`].
    pub(crate) fn read(dir: &Path) -> Result<Self, StoreError> {
        match fs::read(dir.join(PROFILE_KEY_FILE)) {
            Ok(bytes) => Self::parse(&bytes),
            Err(e) if e.kind() == ErrorKind::NotFound => Err(StoreError::NoProfile),
            Err(e) => Err(StoreError::Io(e)),
        }
    }

    /// Writes `dir/profile.key` atomically: temp file, fsync, rename, fsync the directory.
    pub(crate) fn write_atomic(&self, dir: &Path) -> Result<(), StoreError> {
        let tmp = dir.join(PROFILE_KEY_TMP);
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&tmp)?;
        file.write_all(&self.to_bytes())?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, dir.join(PROFILE_KEY_FILE))?;
        sync_dir(dir)
    }
}

/// Argon2id(passphrase, salt) → 32-byte key-encryption key.
fn derive_kek(
    passphrase: &[u8],
    params: &KdfParams,
    salt: &[u8],
) -> Result<Zeroizing<[u8; 32]>, StoreError> {
    let mut kek = Zeroizing::new([0u8; 32]);
    params
        .argon2()?
        .hash_password_into(passphrase, salt, &mut kek[..])
        .map_err(|e| StoreError::Kdf(e.to_string()))?;
    Ok(kek)
}

/// fsyncs a directory so a rename or unlink in it is durable (no-op where unsupported).
pub(crate) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_keyfile_roundtrip_and_wrong_passphrase() {
        let data_key = [9u8; 32];
        let kf = KeyFile::seal(
            b"correct horse",
            KdfParams::insecure_fast(),
            &data_key,
            random_slot(),
        )
        .unwrap();
        let bytes = kf.to_bytes();
        assert_eq!(bytes.len(), FILE_LEN);
        let parsed = KeyFile::parse(&bytes).unwrap();
        assert_eq!(parsed.params, KdfParams::insecure_fast());
        assert_eq!(*parsed.unwrap_key(b"correct horse").unwrap(), data_key);
        assert!(matches!(
            parsed.unwrap_key(b"wrong horse"),
            Err(StoreError::WrongPassphrase)
        ));
    }

    #[test]
    fn store_keyfile_header_is_authenticated() {
        let kf =
            KeyFile::seal(b"pw", KdfParams::insecure_fast(), &[1u8; 32], random_slot()).unwrap();
        let mut bytes = kf.to_bytes();
        // Raise t_cost by one: still valid parameters, but the unwrap must fail.
        bytes[16] += 1;
        let parsed = KeyFile::parse(&bytes).unwrap();
        assert!(matches!(
            parsed.unwrap_key(b"pw"),
            Err(StoreError::WrongPassphrase)
        ));
        // Garbage, a future version and absurd costs are refused before any KDF runs.
        assert!(matches!(
            KeyFile::parse(b"nope"),
            Err(StoreError::Corrupt(_))
        ));
        let mut future = kf.to_bytes();
        future[8] = 3;
        assert!(matches!(
            KeyFile::parse(&future),
            Err(StoreError::UnsupportedVersion(3))
        ));
        let mut greedy = kf.to_bytes();
        greedy[9..13].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(
            KeyFile::parse(&greedy),
            Err(StoreError::Corrupt(_))
        ));
    }

    #[test]
    fn the_duress_passphrase_opens_the_slot_and_nothing_else() {
        let params = KdfParams::insecure_fast();
        let slot = duress_slot(b"duress words", &params, "Olena").unwrap();
        let kf = KeyFile::seal(b"real words", params, &[7u8; 32], slot).unwrap();
        let parsed = KeyFile::parse(&kf.to_bytes()).unwrap();
        assert!(matches!(parsed.unlock(b"real words"), Ok(Unlock::Real(k)) if *k == [7u8; 32]));
        match parsed.unlock(b"duress words") {
            Ok(Unlock::Duress(u)) => assert_eq!(u.name, "Olena"),
            _ => panic!("the duress passphrase did not open the slot"),
        }
        assert!(matches!(
            parsed.unlock(b"other words"),
            Err(StoreError::WrongPassphrase)
        ));
        // Without a duress passphrase the slot is random and opens with nothing; the file
        // is as long either way.
        let plain = KeyFile::seal(b"real words", params, &[7u8; 32], random_slot()).unwrap();
        assert_eq!(plain.to_bytes().len(), kf.to_bytes().len());
        assert!(matches!(
            plain.unlock(b"duress words"),
            Err(StoreError::WrongPassphrase)
        ));
    }

    #[test]
    fn version_1_files_still_open() {
        // A version 1 file: the header says 1, no slot.
        let kf =
            KeyFile::seal(b"pw", KdfParams::insecure_fast(), &[3u8; 32], random_slot()).unwrap();
        let mut header = kf.header;
        header[8] = FORMAT_V1;
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        let kek = derive_kek(b"pw", &kf.params, &header[21..]).unwrap();
        let cipher = XChaCha20Poly1305::new(chacha20poly1305::Key::from_slice(&kek[..]));
        let wrapped = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &[3u8; 32],
                    aad: &header,
                },
            )
            .unwrap();
        let mut bytes = header.to_vec();
        bytes.extend_from_slice(&nonce);
        bytes.extend_from_slice(&wrapped);
        assert_eq!(bytes.len(), FILE_LEN_V1);
        let parsed = KeyFile::parse(&bytes).unwrap();
        assert!(matches!(parsed.unlock(b"pw"), Ok(Unlock::Real(k)) if *k == [3u8; 32]));
        assert!(matches!(
            parsed.unlock(b"nope"),
            Err(StoreError::WrongPassphrase)
        ));
    }
}
