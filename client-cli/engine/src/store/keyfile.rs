//! `profile.key`: the profile's random data key, wrapped under a key derived from the
//! passphrase with Argon2id.
//!
//! Layout (all integers big-endian), 125 bytes:
//!
//! ```text
//! magic "KITHPKEY" (8) | format version = 1 (1) | m_cost KiB (4) | t_cost (4) | p_cost (4)
//! | salt (32) | nonce (24) | XChaCha20-Poly1305(kek, nonce, data_key, aad = everything before nonce) (48)
//! ```
//!
//! The header is the AEAD's associated data, so changing the parameters or the salt makes
//! the unwrap fail like a wrong passphrase would.

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
const FORMAT_VERSION: u8 = 1;
const SALT_LEN: usize = 32;
const NONCE_LEN: usize = 24;
const HEADER_LEN: usize = 8 + 1 + 12 + SALT_LEN;
const WRAPPED_LEN: usize = 32 + 16;
const FILE_LEN: usize = HEADER_LEN + NONCE_LEN + WRAPPED_LEN;

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
    nonce: [u8; NONCE_LEN],
    wrapped: [u8; WRAPPED_LEN],
}

impl KeyFile {
    /// Wraps `data_key` under `passphrase` with fresh salt and nonce.
    pub(crate) fn seal(
        passphrase: &[u8],
        params: KdfParams,
        data_key: &[u8; 32],
    ) -> Result<Self, StoreError> {
        let mut salt = [0u8; SALT_LEN];
        OsRng.fill_bytes(&mut salt);
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);

        let mut header = [0u8; HEADER_LEN];
        header[..8].copy_from_slice(MAGIC);
        header[8] = FORMAT_VERSION;
        header[9..13].copy_from_slice(&params.m_cost_kib.to_be_bytes());
        header[13..17].copy_from_slice(&params.t_cost.to_be_bytes());
        header[17..21].copy_from_slice(&params.p_cost.to_be_bytes());
        header[21..].copy_from_slice(&salt);

        let kek = derive_kek(passphrase, &params, &salt)?;
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
            nonce,
            wrapped,
        })
    }

    /// Parses the bytes of a `profile.key`.
    pub(crate) fn parse(bytes: &[u8]) -> Result<Self, StoreError> {
        if bytes.len() < HEADER_LEN || &bytes[..8] != MAGIC {
            return Err(StoreError::Corrupt("profile.key is not a Kith key file"));
        }
        if bytes[8] != FORMAT_VERSION {
            return Err(StoreError::UnsupportedVersion(bytes[8]));
        }
        if bytes.len() != FILE_LEN {
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
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&bytes[HEADER_LEN..HEADER_LEN + NONCE_LEN]);
        let mut wrapped = [0u8; WRAPPED_LEN];
        wrapped.copy_from_slice(&bytes[HEADER_LEN + NONCE_LEN..]);
        Ok(KeyFile {
            params,
            header,
            nonce,
            wrapped,
        })
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
        let kf = KeyFile::seal(b"correct horse", KdfParams::insecure_fast(), &data_key).unwrap();
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
        let kf = KeyFile::seal(b"pw", KdfParams::insecure_fast(), &[1u8; 32]).unwrap();
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
        future[8] = 2;
        assert!(matches!(
            KeyFile::parse(&future),
            Err(StoreError::UnsupportedVersion(2))
        ));
        let mut greedy = kf.to_bytes();
        greedy[9..13].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(
            KeyFile::parse(&greedy),
            Err(StoreError::Corrupt(_))
        ));
    }
}
