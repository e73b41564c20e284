//! `profile.key`: the profile's random data key, wrapped under a key derived from the
//! passphrase with Argon2id, and the duress slot.
//!
//! Layout (all integers big-endian), version 3, 518 bytes:
//!
//! ```text
//! magic "KITHPKEY" (8) | format version = 3 (1) | m_cost KiB (4) | t_cost (4) | p_cost (4)
//! | salt (32) | duress slot (393) | nonce (24)
//! | XChaCha20-Poly1305(kek, nonce, data_key, aad = the 53 bytes before the slot) (48)
//! ```
//!
//! Version 2 (485 bytes, a 360-byte slot) and version 1 (125 bytes, no slot) are still
//! read; a version 2 file is written again as version 3, its slot padded with random
//! bytes (which a version 2 slot's unlock ignores). The header (magic to salt) is the
//! AEAD's associated data, so changing the parameters or the salt makes the unwrap fail
//! like a wrong passphrase would.
//!
//! **The duress slot** (`kith passphrase --duress [--notify]`): `duress salt (32) | check
//! (32) | nonce (24) | sealed (289 + 16)`. With `d = Argon2id(duress passphrase, duress
//! salt)` (the file's parameters), `check = HKDF-SHA256(d, "kith duress check v1")`, and
//! `sealed` is `name (256) | flags (1) | data key (32)` under `HKDF-SHA256(d, "kith duress
//! name v1")`: the display name padded to 256 bytes; flag 1 = *notify* (a duress unlock
//! first tells the groups and leaves them, `engine/duress.rs`), and then the profile's
//! data key follows, which that needs to open the old store; without notify, zeros. The
//! slot is as long either way, and what it holds is sealed, so the file says neither
//! whether notify is on nor whether a duress passphrase is set: without one the slot is
//! random bytes. (A version 2 slot sealed only the name, `256 + 16` bytes: no notify.) Every unlock derives both `kek` and `d`, whatever the
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
const FORMAT_V2: u8 = 2;
const FORMAT_VERSION: u8 = 3;
const SALT_LEN: usize = 32;
const NONCE_LEN: usize = 24;
const HEADER_LEN: usize = 8 + 1 + 12 + SALT_LEN;
const WRAPPED_LEN: usize = 32 + 16;
const FILE_LEN_V1: usize = HEADER_LEN + NONCE_LEN + WRAPPED_LEN;
/// A display name in the duress slot, padded (64 characters of up to 4 bytes).
const NAME_PAD: usize = 256;
/// What the slot seals: the padded name, the flags and the data key (zeros without
/// notify).
const SEALED_PLAIN: usize = NAME_PAD + 1 + 32;
/// Where the sealed part of a slot starts.
const SEALED_AT: usize = SALT_LEN + 32 + NONCE_LEN;
/// The duress slot's length.
pub(crate) const SLOT_LEN: usize = SEALED_AT + SEALED_PLAIN + 16;
/// A version 2 slot's length: only the name sealed.
const SLOT_LEN_V2: usize = SEALED_AT + NAME_PAD + 16;
const FILE_LEN: usize = HEADER_LEN + SLOT_LEN + NONCE_LEN + WRAPPED_LEN;
const FILE_LEN_V2: usize = HEADER_LEN + SLOT_LEN_V2 + NONCE_LEN + WRAPPED_LEN;
/// The flag in the sealed slot: tell the groups and leave them before destroying.
const FLAG_NOTIFY: u8 = 1;

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
/// unlock's time), the parameters, the display name kept for it, and, when the member
/// chose to notify, the old profile's data key.
pub struct DuressUnlock {
    pub(crate) kek: Zeroizing<[u8; 32]>,
    pub(crate) salt: [u8; SALT_LEN],
    pub(crate) params: KdfParams,
    /// The display name the profile had when the duress passphrase was set.
    pub name: String,
    /// With notify on: the profile's data key, to open the old store once more and
    /// tell its groups before it is destroyed.
    pub(crate) old_key: Option<Zeroizing<[u8; 32]>>,
}

impl DuressUnlock {
    /// Whether the member chose to tell the groups (`kith passphrase --duress --notify`).
    pub fn notifies(&self) -> bool {
        self.old_key.is_some()
    }
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

/// The duress slot for `passphrase`, keeping `name` for the fresh profile and, with
/// `notify` (the profile's data key), what telling the groups needs.
pub(crate) fn duress_slot(
    passphrase: &[u8],
    params: &KdfParams,
    name: &str,
    notify: Option<&[u8; 32]>,
) -> Result<[u8; SLOT_LEN], StoreError> {
    let mut slot = random_slot();
    let d = derive_kek(passphrase, params, &slot[..SALT_LEN])?;
    let (check, name_key) = duress_keys(&d);
    slot[SALT_LEN..SALT_LEN + 32].copy_from_slice(&check[..]);
    let mut plain = Zeroizing::new([0u8; SEALED_PLAIN]);
    let bytes = name.as_bytes();
    if bytes.len() > NAME_PAD {
        return Err(StoreError::TooLarge);
    }
    plain[..bytes.len()].copy_from_slice(bytes);
    if let Some(key) = notify {
        plain[NAME_PAD] = FLAG_NOTIFY;
        plain[NAME_PAD + 1..].copy_from_slice(key);
    }
    let nonce_at = SALT_LEN + 32;
    let cipher = XChaCha20Poly1305::new(chacha20poly1305::Key::from_slice(&name_key[..]));
    let sealed = cipher
        .encrypt(
            XNonce::from_slice(&slot[nonce_at..nonce_at + NONCE_LEN]),
            Payload {
                msg: &plain[..],
                aad: b"kith duress name",
            },
        )
        .map_err(|_| StoreError::Kdf("sealing the duress slot failed".into()))?;
    slot[SEALED_AT..].copy_from_slice(&sealed);
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
        let (slot_len, file_len) = match bytes[8] {
            FORMAT_V1 => (0, FILE_LEN_V1),
            FORMAT_V2 => (SLOT_LEN_V2, FILE_LEN_V2),
            FORMAT_VERSION => (SLOT_LEN, FILE_LEN),
            v => return Err(StoreError::UnsupportedVersion(v)),
        };
        if bytes.len() != file_len {
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
        // A version 2 slot is padded to today's length with random bytes: it is written
        // again that way, and its unlock reads only its own length.
        let slot = (slot_len > 0).then(|| {
            let mut slot = random_slot();
            slot[..slot_len].copy_from_slice(&bytes[at..at + slot_len]);
            at += slot_len;
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
        // The check matched: this is the duress passphrase. Today's slot, or a version 2
        // one (only the name sealed, random bytes after it).
        let nonce_at = SALT_LEN + 32;
        let cipher = XChaCha20Poly1305::new(chacha20poly1305::Key::from_slice(&name_key[..]));
        let open = |sealed: &[u8]| {
            cipher
                .decrypt(
                    XNonce::from_slice(&slot[nonce_at..nonce_at + NONCE_LEN]),
                    Payload {
                        msg: sealed,
                        aad: b"kith duress name",
                    },
                )
                .ok()
                .map(Zeroizing::new)
        };
        let plain = open(&slot[SEALED_AT..])
            .or_else(|| open(&slot[SEALED_AT..SLOT_LEN_V2]))
            .ok_or(StoreError::WrongPassphrase)?;
        let name_part = &plain[..NAME_PAD.min(plain.len())];
        let end = name_part
            .iter()
            .position(|b| *b == 0)
            .unwrap_or(name_part.len());
        let name = String::from_utf8_lossy(&name_part[..end]).into_owned();
        let old_key =
            (plain.len() == SEALED_PLAIN && plain[NAME_PAD] & FLAG_NOTIFY != 0).then(|| {
                let mut key = Zeroizing::new([0u8; 32]);
                key.copy_from_slice(&plain[NAME_PAD + 1..]);
                key
            });
        Ok(Unlock::Duress(DuressUnlock {
            kek: d,
            salt,
            params: self.params,
            name,
            old_key,
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

    /// The file's bytes (in the version its header says).
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(FILE_LEN);
        out.extend_from_slice(&self.header);
        if let Some(slot) = &self.slot {
            let len = if self.header[8] == FORMAT_V2 {
                SLOT_LEN_V2
            } else {
                SLOT_LEN
            };
            out.extend_from_slice(&slot[..len]);
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
        future[8] = 4;
        assert!(matches!(
            KeyFile::parse(&future),
            Err(StoreError::UnsupportedVersion(4))
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
        let slot = duress_slot(b"duress words", &params, "Olena", None).unwrap();
        let kf = KeyFile::seal(b"real words", params, &[7u8; 32], slot).unwrap();
        let parsed = KeyFile::parse(&kf.to_bytes()).unwrap();
        assert!(matches!(parsed.unlock(b"real words"), Ok(Unlock::Real(k)) if *k == [7u8; 32]));
        match parsed.unlock(b"duress words") {
            Ok(Unlock::Duress(u)) => {
                assert_eq!(u.name, "Olena");
                assert!(!u.notifies(), "notify is off unless chosen");
            }
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

    /// With notify on, the slot also holds the profile's data key (what opening the old
    /// store to tell the groups needs), for the duress passphrase only; the file is as
    /// long as without notify and without any duress passphrase.
    #[test]
    fn the_notify_slot_holds_the_data_key_for_the_duress_passphrase_only() {
        let params = KdfParams::insecure_fast();
        let data_key = [5u8; 32];
        let notify = duress_slot(b"duress words", &params, "Olena", Some(&data_key)).unwrap();
        let kf = KeyFile::seal(b"real words", params, &data_key, notify).unwrap();
        let silent = duress_slot(b"duress words", &params, "Olena", None).unwrap();
        let quiet = KeyFile::seal(b"real words", params, &data_key, silent).unwrap();
        let none = KeyFile::seal(b"real words", params, &data_key, random_slot()).unwrap();
        let bytes = kf.to_bytes();
        assert_eq!(bytes.len(), FILE_LEN);
        assert_eq!(quiet.to_bytes().len(), FILE_LEN);
        assert_eq!(none.to_bytes().len(), FILE_LEN);
        // The key is sealed: its bytes are nowhere in the file.
        assert!(!bytes.windows(32).any(|w| w == data_key));

        let parsed = KeyFile::parse(&bytes).unwrap();
        assert!(matches!(parsed.unlock(b"real words"), Ok(Unlock::Real(k)) if *k == data_key));
        match parsed.unlock(b"duress words") {
            Ok(Unlock::Duress(u)) => {
                assert_eq!(u.name, "Olena");
                assert!(u.notifies());
                assert_eq!(u.old_key.as_deref(), Some(&data_key));
            }
            _ => panic!("the duress passphrase did not open the slot"),
        }
        assert!(matches!(
            parsed.unlock(b"other words"),
            Err(StoreError::WrongPassphrase)
        ));
        // A real passphrase changed later keeps the slot, notify and all.
        let changed = KeyFile::seal(b"new real words", params, &data_key, parsed.slot()).unwrap();
        let changed = KeyFile::parse(&changed.to_bytes()).unwrap();
        assert!(matches!(
            changed.unlock(b"duress words"),
            Ok(Unlock::Duress(u)) if u.old_key.as_deref() == Some(&data_key)
        ));
        // Setting the duress passphrase again without notify drops the key.
        let off = duress_slot(b"duress words", &params, "Olena", None).unwrap();
        let off = KeyFile::seal(b"real words", params, &data_key, off).unwrap();
        assert!(!off.to_bytes().windows(32).any(|w| w == data_key));
        assert!(matches!(
            KeyFile::parse(&off.to_bytes()).unwrap().unlock(b"duress words"),
            Ok(Unlock::Duress(u)) if !u.notifies()
        ));
    }

    /// A version 2 file (a 360-byte slot that sealed only the name), as the last
    /// release wrote it.
    fn version_2_file(real: &[u8], duress: Option<&[u8]>, data_key: &[u8; 32]) -> Vec<u8> {
        let params = KdfParams::insecure_fast();
        let mut slot = [0u8; SLOT_LEN_V2];
        OsRng.fill_bytes(&mut slot);
        if let Some(duress) = duress {
            let d = derive_kek(duress, &params, &slot[..SALT_LEN]).unwrap();
            let (check, name_key) = duress_keys(&d);
            slot[SALT_LEN..SALT_LEN + 32].copy_from_slice(&check[..]);
            let mut padded = [0u8; NAME_PAD];
            padded[..5].copy_from_slice(b"Olena");
            let cipher = XChaCha20Poly1305::new(chacha20poly1305::Key::from_slice(&name_key[..]));
            let sealed = cipher
                .encrypt(
                    XNonce::from_slice(&slot[SALT_LEN + 32..SEALED_AT]),
                    Payload {
                        msg: &padded[..],
                        aad: b"kith duress name",
                    },
                )
                .unwrap();
            slot[SEALED_AT..].copy_from_slice(&sealed);
        }
        let fresh = KeyFile::seal(real, params, data_key, random_slot()).unwrap();
        let mut header = fresh.header;
        header[8] = FORMAT_V2;
        let kek = derive_kek(real, &params, &header[21..]).unwrap();
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        let cipher = XChaCha20Poly1305::new(chacha20poly1305::Key::from_slice(&kek[..]));
        let wrapped = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: data_key,
                    aad: &header,
                },
            )
            .unwrap();
        let mut bytes = header.to_vec();
        bytes.extend_from_slice(&slot);
        bytes.extend_from_slice(&nonce);
        bytes.extend_from_slice(&wrapped);
        assert_eq!(bytes.len(), FILE_LEN_V2);
        bytes
    }

    /// Version 2 files still open, their duress passphrase too (without notify), and
    /// stay byte for byte what they were until written again, which makes them version
    /// 3 with the duress passphrase kept.
    #[test]
    fn version_2_files_still_open_and_keep_their_duress_passphrase() {
        let key = [4u8; 32];
        let bytes = version_2_file(b"real words", Some(b"duress words"), &key);
        let parsed = KeyFile::parse(&bytes).unwrap();
        assert_eq!(parsed.to_bytes(), bytes);
        assert!(matches!(parsed.unlock(b"real words"), Ok(Unlock::Real(k)) if *k == key));
        assert!(matches!(
            parsed.unlock(b"duress words"),
            Ok(Unlock::Duress(u)) if u.name == "Olena" && !u.notifies()
        ));
        assert!(matches!(
            parsed.unlock(b"other words"),
            Err(StoreError::WrongPassphrase)
        ));
        // The passphrase changed: written as version 3, the old slot kept.
        let again = KeyFile::seal(b"new words", parsed.params, &key, parsed.slot()).unwrap();
        let again_bytes = again.to_bytes();
        assert_eq!(again_bytes.len(), FILE_LEN);
        assert_eq!(again_bytes[8], FORMAT_VERSION);
        let again = KeyFile::parse(&again_bytes).unwrap();
        assert!(matches!(again.unlock(b"new words"), Ok(Unlock::Real(k)) if *k == key));
        assert!(matches!(
            again.unlock(b"duress words"),
            Ok(Unlock::Duress(u)) if u.name == "Olena" && !u.notifies()
        ));
        // Without a duress passphrase, the version 2 slot opens with nothing.
        let plain = KeyFile::parse(&version_2_file(b"real words", None, &key)).unwrap();
        assert!(matches!(
            plain.unlock(b"duress words"),
            Err(StoreError::WrongPassphrase)
        ));
    }
}
