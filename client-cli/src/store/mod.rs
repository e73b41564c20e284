//! The client's encrypted local store.
//!
//! A profile directory holds:
//!
//! * `profile.key` — a random 32-byte *data key*, wrapped with XChaCha20-Poly1305 under a
//!   key derived from the passphrase with Argon2id (see [`KdfParams`]);
//! * `db/` — a sled database in which every key is a keyed hash and every value is sealed.
//!
//! From the data key, HKDF-SHA256 derives a MAC key and an encryption key. A sled key is
//! `HMAC(mac, ns)[..8] || HMAC(mac, ns, key)`; a sled value is
//! `nonce || XChaCha20-Poly1305(enc, nonce, padded(key, value), aad = sled key)`. No
//! plaintext, name, namespace or application key reaches the disk, and a value moved to
//! another key does not open.
//!
//! **Transactions.** Every write ([`Store::put`], [`Store::delete`], and all OpenMLS writes
//! through [`KithProvider`]) goes to an in-memory overlay that reads consult first.
//! [`Store::commit`] applies the overlay as one sled batch and flushes it to disk;
//! [`Store::rollback`] (or dropping the last handle) discards it. So "process an MLS
//! message, save its plaintext, advance the cursor" becomes durable all at once or not at
//! all. Clones of a [`Store`] share one overlay.
//!
//! **Destruction.** [`wipe`] crypto-shreds a profile: it destroys `profile.key` first, so the
//! database is unreadable even where overwriting the other files does not reach the
//! physical medium.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rand::RngCore;
use rand::rngs::OsRng;
use serde::Serialize;
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

mod keyfile;
mod mls;
mod seal;
mod wipe;

#[cfg(test)]
mod mls_tests;
#[cfg(test)]
mod tests;

pub use keyfile::{FAST_KDF_ENV, KdfParams, PROFILE_KEY_FILE};
pub use mls::{KithProvider, MlsStorage};
pub use wipe::wipe;

use keyfile::KeyFile;
use seal::{Keys, NS_TAG_LEN, SLED_KEY_LEN, SledKey};

/// Name of the database directory inside a profile directory.
pub const DB_DIR: &str = "db";

/// How often, and how long apart, `open` retries a database lock before reporting
/// [`StoreError::InUse`] (covers a handle of this process that is still shutting down).
const LOCK_RETRIES: u32 = 5;
const LOCK_RETRY_DELAY: Duration = Duration::from_millis(40);

/// Errors of the local store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// There is no profile (no `profile.key`) in the given directory.
    #[error("no Kith profile here (no {PROFILE_KEY_FILE})")]
    NoProfile,
    /// `create` was asked to make a profile where one already exists.
    #[error("a Kith profile already exists here")]
    ProfileExists,
    /// The passphrase does not unlock `profile.key` (or the file was altered).
    #[error("wrong passphrase")]
    WrongPassphrase,
    /// Another process (or another open handle in this one) holds the database.
    #[error(
        "this profile is already open in another Kith process (its database is locked); \
         close that one first"
    )]
    InUse,
    /// A file of the store is damaged or has been tampered with.
    #[error("the local store is damaged: {0}")]
    Corrupt(&'static str),
    /// `profile.key` was written by a newer Kith.
    #[error("profile.key has format version {0}, which this Kith does not know")]
    UnsupportedVersion(u8),
    /// A key or value is too large to store (over 4 GiB).
    #[error("value too large for the local store")]
    TooLarge,
    /// Argon2id rejected its parameters.
    #[error("key derivation failed: {0}")]
    Kdf(String),
    /// A value could not be serialized or deserialized.
    #[error("could not (de)serialize a stored value: {0}")]
    Serde(#[from] serde_json::Error),
    /// A filesystem error.
    #[error("I/O error in the local store: {0}")]
    Io(#[from] std::io::Error),
    /// A sled error other than a held lock.
    #[error("database error: {0}")]
    Db(sled::Error),
    /// A thread panicked while holding the store's lock; roll back to recover.
    #[error("the store's pending changes are unusable after a panic; roll back")]
    Poisoned,
}

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> Self {
        match e {
            sled::Error::Io(io) => StoreError::Io(io),
            other => StoreError::Db(other),
        }
    }
}

/// A pending change in the overlay.
enum Change {
    Put {
        key: Zeroizing<Vec<u8>>,
        value: Zeroizing<Vec<u8>>,
    },
    Delete,
}

type Overlay = BTreeMap<SledKey, Change>;

/// A raw entry returned by [`Store::scan_raw`]: the original key and the value bytes.
pub type RawEntry = (Vec<u8>, Zeroizing<Vec<u8>>);

struct Inner {
    dir: PathBuf,
    db: sled::Db,
    keys: Keys,
    data_key: Zeroizing<[u8; 32]>,
    overlay: Mutex<Overlay>,
}

/// An open, unlocked profile store. Cheap to clone; clones share the pending changes.
///
/// Dropping the last handle without [`Store::commit`] discards pending changes.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pending = self.inner.overlay.lock().map(|o| o.len()).ok();
        f.debug_struct("Store")
            .field("dir", &self.inner.dir)
            .field("pending_changes", &pending)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Whether `dir` holds a profile (a `profile.key`).
    pub fn profile_exists(dir: impl AsRef<Path>) -> bool {
        dir.as_ref().join(PROFILE_KEY_FILE).is_file()
    }

    /// Creates a new profile in `dir` (created if needed, mode 0700) with
    /// [`KdfParams::for_new_profile`].
    pub fn create(dir: impl AsRef<Path>, passphrase: &[u8]) -> Result<Store, StoreError> {
        Self::create_with_params(dir, passphrase, KdfParams::for_new_profile())
    }

    /// Creates a new profile in `dir` with explicit Argon2id parameters.
    ///
    /// Fails with [`StoreError::ProfileExists`] if `dir` already has a `profile.key`. A
    /// `db/` left without a key (an interrupted `create` or `wipe`) is unreadable and is
    /// shredded first.
    pub fn create_with_params(
        dir: impl AsRef<Path>,
        passphrase: &[u8],
        params: KdfParams,
    ) -> Result<Store, StoreError> {
        let dir = dir.as_ref();
        if dir.join(PROFILE_KEY_FILE).exists() {
            return Err(StoreError::ProfileExists);
        }
        create_private_dir(dir)?;
        let db_path = dir.join(DB_DIR);
        if fs::symlink_metadata(&db_path).is_ok() {
            wipe::shred_path(&db_path)?;
        }
        create_private_dir(&db_path)?;
        let db = open_db(&db_path)?;

        let mut data_key = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(&mut data_key[..]);
        KeyFile::seal(passphrase, params, &data_key)?.write_atomic(dir)?;
        Ok(Self::assemble(dir, db, data_key))
    }

    /// Opens the profile in `dir` with `passphrase`.
    ///
    /// [`StoreError::NoProfile`] if there is none, [`StoreError::WrongPassphrase`] if the
    /// passphrase does not unlock it (nothing is written in that case), and
    /// [`StoreError::InUse`] if another process has it open.
    pub fn open(dir: impl AsRef<Path>, passphrase: &[u8]) -> Result<Store, StoreError> {
        let dir = dir.as_ref();
        let key_file = KeyFile::read(dir)?;
        let data_key = key_file.unwrap_key(passphrase)?;
        let db_path = dir.join(DB_DIR);
        if !db_path.is_dir() {
            return Err(StoreError::Corrupt("the database directory is missing"));
        }
        let db = open_db(&db_path)?;
        Ok(Self::assemble(dir, db, data_key))
    }

    fn assemble(dir: &Path, db: sled::Db, data_key: Zeroizing<[u8; 32]>) -> Store {
        Store {
            inner: Arc::new(Inner {
                dir: dir.to_path_buf(),
                db,
                keys: Keys::derive(&data_key),
                data_key,
                overlay: Mutex::new(BTreeMap::new()),
            }),
        }
    }

    /// The profile directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Re-wraps the data key under a new passphrase (and parameters), replacing
    /// `profile.key` atomically. The database is untouched.
    ///
    /// The old `profile.key` is replaced by a rename; on SSDs and journaling filesystems
    /// its old blocks may survive, so someone who knows the *old* passphrase and recovers
    /// them could still unlock the store.
    pub fn change_passphrase(
        &self,
        new_passphrase: &[u8],
        params: KdfParams,
    ) -> Result<(), StoreError> {
        KeyFile::seal(new_passphrase, params, &self.inner.data_key)?.write_atomic(&self.inner.dir)
    }

    /// Stores `value` (serialized as JSON) under `(ns, key)` in the pending changes.
    pub fn put<T: Serialize + ?Sized>(
        &self,
        ns: &str,
        key: &[u8],
        value: &T,
    ) -> Result<(), StoreError> {
        let bytes = Zeroizing::new(serde_json::to_vec(value)?);
        self.put_raw(ns, key, &bytes)
    }

    /// Reads the value under `(ns, key)`, pending changes first.
    pub fn get<T: DeserializeOwned>(&self, ns: &str, key: &[u8]) -> Result<Option<T>, StoreError> {
        match self.get_raw(ns, key)? {
            Some(bytes) => Ok(Some(serde_json::from_slice(&bytes)?)),
            None => Ok(None),
        }
    }

    /// Deletes `(ns, key)` in the pending changes (deleting a missing key is not an error).
    pub fn delete(&self, ns: &str, key: &[u8]) -> Result<(), StoreError> {
        let sled_key = self.inner.keys.sled_key(ns, key);
        self.lock()?.insert(sled_key, Change::Delete);
        Ok(())
    }

    /// All `(key, value)` pairs of namespace `ns`, pending changes included, sorted by key
    /// (so big-endian sequence numbers come out in order).
    pub fn scan<T: DeserializeOwned>(&self, ns: &str) -> Result<Vec<(Vec<u8>, T)>, StoreError> {
        self.scan_raw(ns)?
            .into_iter()
            .map(|(k, v)| Ok((k, serde_json::from_slice(&v)?)))
            .collect()
    }

    /// Deletes every key of namespace `ns` (pending until commit); returns how many.
    pub fn delete_namespace(&self, ns: &str) -> Result<usize, StoreError> {
        let entries = self.scan_raw(ns)?;
        let mut overlay = self.lock()?;
        for (key, _) in &entries {
            overlay.insert(self.inner.keys.sled_key(ns, key), Change::Delete);
        }
        Ok(entries.len())
    }

    /// Stores raw bytes under `(ns, key)` in the pending changes.
    pub fn put_raw(&self, ns: &str, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        let sled_key = self.inner.keys.sled_key(ns, key);
        self.lock()?.insert(
            sled_key,
            Change::Put {
                key: Zeroizing::new(key.to_vec()),
                value: Zeroizing::new(value.to_vec()),
            },
        );
        Ok(())
    }

    /// Reads raw bytes under `(ns, key)`, pending changes first.
    pub fn get_raw(&self, ns: &str, key: &[u8]) -> Result<Option<Zeroizing<Vec<u8>>>, StoreError> {
        let sled_key = self.inner.keys.sled_key(ns, key);
        let overlay = self.lock()?;
        self.read_locked(&overlay, &sled_key, key)
    }

    /// All raw `(key, value)` pairs of namespace `ns`, pending changes included, sorted by key.
    pub fn scan_raw(&self, ns: &str) -> Result<Vec<RawEntry>, StoreError> {
        let keys = &self.inner.keys;
        let tag = keys.ns_tag(ns);
        let overlay = self.lock()?;
        let mut found = BTreeMap::new();
        for item in self.inner.db.scan_prefix(tag) {
            let (sled_key, blob) = item?;
            if sled_key.len() != SLED_KEY_LEN {
                return Err(StoreError::Corrupt("a database key has the wrong length"));
            }
            let mut fixed = [0u8; SLED_KEY_LEN];
            fixed.copy_from_slice(&sled_key);
            if overlay.contains_key(&fixed) {
                continue; // superseded by a pending change, handled below
            }
            let opened = keys.open(&sled_key, &blob)?;
            // The 8-byte tag may collide with another namespace's; the full hash decides.
            if keys.matches(&sled_key, ns, &opened.key) {
                found.insert(opened.key.to_vec(), opened.value);
            }
        }
        let mut lower = [0u8; SLED_KEY_LEN];
        lower[..NS_TAG_LEN].copy_from_slice(&tag);
        for (sled_key, change) in overlay.range(lower..) {
            if sled_key[..NS_TAG_LEN] != tag {
                break;
            }
            if let Change::Put { key, value } = change
                && keys.matches(sled_key, ns, key)
            {
                found.insert(key.to_vec(), value.clone());
            }
        }
        Ok(found.into_iter().collect())
    }

    /// Read-modify-write of one raw value under a single lock (for OpenMLS's list appends).
    pub(crate) fn update_raw(
        &self,
        ns: &str,
        key: &[u8],
        f: impl FnOnce(Option<&[u8]>) -> Result<Vec<u8>, StoreError>,
    ) -> Result<(), StoreError> {
        let sled_key = self.inner.keys.sled_key(ns, key);
        let mut overlay = self.lock()?;
        let current = self.read_locked(&overlay, &sled_key, key)?;
        let new = Zeroizing::new(f(current.as_deref().map(|v| v.as_slice()))?);
        overlay.insert(
            sled_key,
            Change::Put {
                key: Zeroizing::new(key.to_vec()),
                value: new,
            },
        );
        Ok(())
    }

    fn read_locked(
        &self,
        overlay: &Overlay,
        sled_key: &SledKey,
        key: &[u8],
    ) -> Result<Option<Zeroizing<Vec<u8>>>, StoreError> {
        match overlay.get(sled_key) {
            Some(Change::Put { value, .. }) => return Ok(Some(value.clone())),
            Some(Change::Delete) => return Ok(None),
            None => {}
        }
        let Some(blob) = self.inner.db.get(sled_key)? else {
            return Ok(None);
        };
        let opened = self.inner.keys.open(sled_key, &blob)?;
        if opened.key.as_slice() != key {
            return Err(StoreError::Corrupt("a stored value belongs to another key"));
        }
        Ok(Some(opened.value))
    }

    /// Whether there are changes not yet committed.
    pub fn has_pending(&self) -> bool {
        self.lock().map(|o| !o.is_empty()).unwrap_or(true)
    }

    /// Makes all pending changes durable at once: seals them, applies them to sled as one
    /// atomic batch and flushes (fsync) before returning.
    ///
    /// If this returns an error before the batch is applied, the changes stay pending (retry
    /// or roll back). An error from the final flush means the changes are applied but
    /// perhaps not durable; treat it as fatal.
    pub fn commit(&self) -> Result<(), StoreError> {
        let mut overlay = self.lock()?;
        if overlay.is_empty() {
            return Ok(());
        }
        let mut batch = sled::Batch::default();
        for (sled_key, change) in overlay.iter() {
            match change {
                Change::Put { key, value } => {
                    batch.insert(&sled_key[..], self.inner.keys.seal(sled_key, key, value)?);
                }
                Change::Delete => batch.remove(&sled_key[..]),
            }
        }
        self.inner.db.apply_batch(batch)?;
        overlay.clear();
        self.inner.db.flush()?;
        Ok(())
    }

    /// Discards all pending changes. Always succeeds (it also clears a poisoned lock).
    pub fn rollback(&self) {
        let mut overlay = self
            .inner
            .overlay
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        overlay.clear();
        drop(overlay);
        self.inner.overlay.clear_poison();
    }

    fn lock(&self) -> Result<MutexGuard<'_, Overlay>, StoreError> {
        self.inner.overlay.lock().map_err(|_| StoreError::Poisoned)
    }
}

/// Creates `dir` (and parents) readable only by the owner.
fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)?;
    Ok(())
}

fn open_db(path: &Path) -> Result<sled::Db, StoreError> {
    let mut attempt = 0;
    loop {
        // Every commit flushes explicitly; no background flusher is needed.
        match sled::Config::new().path(path).flush_every_ms(None).open() {
            Ok(db) => return Ok(db),
            Err(sled::Error::Io(e)) if e.to_string().contains("could not acquire lock") => {
                attempt += 1;
                if attempt >= LOCK_RETRIES {
                    return Err(StoreError::InUse);
                }
                std::thread::sleep(LOCK_RETRY_DELAY);
            }
            Err(e) => return Err(e.into()),
        }
    }
}
