//! The client's encrypted local store.
//!
//! A profile directory holds:
//!
//! * `profile.key` — a random 32-byte *data key*, wrapped with XChaCha20-Poly1305 under a
//!   key derived from the passphrase with Argon2id (see [`KdfParams`]);
//! * `db/` — a sled database in which every key is a keyed hash and every value is sealed;
//! * `expiry-keys` — the random keys of the expiry buckets of expiring records, sealed under
//!   a key derived from the data key (see `expiry.rs`).
//!
//! From the data key, HKDF-SHA256 derives a MAC key and an encryption key. A sled key is
//! `HMAC(mac, ns)[..8] || HMAC(mac, ns, key)`; a sled value is
//! `nonce || XChaCha20-Poly1305(enc, nonce, padded(key, value), aad = sled key)`. No
//! plaintext, name, namespace or application key reaches the disk, and a value moved to
//! another key does not open.
//!
//! **Expiring records** ([`Store::put_raw_expiring`]) are sealed the same way but under the
//! random key of an *expiry bucket* (a power-of-two interval of time containing the
//! record's `expires_at`, at most 1/8 of its time left and at most 2^16 s long), with a
//! 12-byte header naming the bucket in front (format in `seal.rs`). They read like any
//! other record until they expire; after that, or once their bucket's key is gone, they
//! read as absent and are deleted. [`Store::shred_expired`] destroys the keys of ended
//! buckets — in `expiry-keys`, rewritten in place and fsynced — and then deletes their
//! records, found through an index: for every committed expiring record, an ordinary
//! record in the bucket's namespace `"\0kith/expiry-index/{start}/{log2}"` whose key is the
//! record's sled key. Whatever copies of their bytes sled's log keeps can then be opened by
//! no one, with or without the passphrase. A bucket key is on disk before any commit can
//! use it (it is written when [`Store::put_raw_expiring`] first needs it, before the value
//! even enters the overlay), so a crash never makes a committed record unreadable early.
//!
//! **Transactions.** Every write ([`Store::put`], [`Store::delete`], and all OpenMLS writes
//! through [`KithProvider`]) goes to an in-memory overlay that reads consult first.
//! [`Store::commit`] applies the overlay as one sled batch and makes it durable against a
//! power cut, not only a crash (sled's own flush is not: see `durable.rs`);
//! [`Store::rollback`] (or dropping the last handle) discards it. So "process an MLS
//! message, save its plaintext, advance the cursor" becomes durable all at once or not at
//! all. Clones of a [`Store`] share one overlay.
//!
//! **Destruction.** [`wipe`] crypto-shreds a profile: it destroys `profile.key` (and
//! `expiry-keys`) first, so the database is unreadable even where overwriting the other
//! files does not reach the physical medium.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use kith_i18n::t;
use rand::RngCore;
use rand::rngs::OsRng;
use serde::Serialize;
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

mod durable;
mod expiry;
mod keyfile;
mod mls;
mod seal;
mod wipe;

#[cfg(test)]
mod expiry_tests;
#[cfg(test)]
mod mls_tests;
#[cfg(test)]
mod tests;

pub use expiry::EXPIRY_KEYS_FILE;
#[cfg(feature = "test-hooks")]
pub use keyfile::FAST_KDF_ENV;
pub use keyfile::{DuressUnlock, KdfParams, PROFILE_KEY_FILE};
pub use mls::{KithProvider, MlsStorage};
pub use wipe::wipe;

use expiry::{BucketId, EXPIRY_KEYS_TMP, KeyRing, unix_now};
use keyfile::KeyFile;
use seal::{Keys, NS_TAG_LEN, Opened, SLED_KEY_LEN, SledKey};

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
    #[error("{}", t!("net-store-no-profile", file = PROFILE_KEY_FILE))]
    NoProfile,
    /// `create` was asked to make a profile where one already exists.
    #[error("{}", t!("net-store-profile-exists"))]
    ProfileExists,
    /// The passphrase does not unlock `profile.key` (or the file was altered).
    #[error("{}", t!("net-store-wrong-passphrase"))]
    WrongPassphrase,
    /// Another process (or another open handle in this one) holds the database.
    #[error("{}", t!("net-store-in-use"))]
    InUse,
    /// A file of the store is damaged or has been tampered with.
    #[error("{}", t!("net-store-corrupt", what = *.0))]
    Corrupt(&'static str),
    /// `profile.key` was written by a newer Kith.
    #[error("{}", t!("net-store-unknown-version", file = PROFILE_KEY_FILE, version = *.0))]
    UnsupportedVersion(u8),
    /// A key or value is too large to store (over 4 GiB).
    #[error("{}", t!("net-store-too-large"))]
    TooLarge,
    /// Argon2id rejected its parameters.
    #[error("{}", t!("net-store-kdf", why = .0))]
    Kdf(String),
    /// A value could not be serialized or deserialized.
    #[error("{}", t!("net-store-serde", why = .0.to_string()))]
    Serde(#[from] serde_json::Error),
    /// A filesystem error.
    #[error("{}", t!("net-store-io", why = .0.to_string()))]
    Io(#[from] std::io::Error),
    /// A sled error other than a held lock.
    #[error("{}", t!("net-store-db", why = .0.to_string()))]
    Db(sled::Error),
    /// A thread panicked while holding the store's lock; roll back to recover.
    #[error("{}", t!("net-store-poisoned"))]
    Poisoned,
    /// Expiring records are spread over too many expiry buckets (more than 65 536 at once).
    #[error("{}", t!("net-store-too-many-buckets"))]
    TooManyExpiryBuckets,
    /// The duress passphrase was given: the caller destroys the profile and makes a fresh
    /// one in its place ([`Store::duress_reset`]). Never shown: `Client::open` handles it.
    #[error("{}", t!("net-store-wrong-passphrase"))]
    Duress(Box<DuressUnlock>),
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
    /// An expiring value, sealed at commit under its bucket's key (whose key is already on
    /// disk). If by then the key is gone or the value has expired, it commits as a delete.
    PutExpiring {
        key: Zeroizing<Vec<u8>>,
        value: Zeroizing<Vec<u8>>,
        expires_at: u64,
        bucket: BucketId,
    },
    Delete,
}

/// A value read from sled, once opened.
enum Stored {
    Live(Opened),
    /// An expiring value whose bucket key is gone or whose time has passed: it reads as
    /// absent, and is deleted.
    Gone,
}

type Overlay = BTreeMap<SledKey, Change>;

/// A raw entry returned by [`Store::scan_raw`]: the original key and the value bytes.
pub type RawEntry = (Vec<u8>, Zeroizing<Vec<u8>>);

struct Inner {
    dir: PathBuf,
    db: sled::Db,
    /// Syncs what sled wrote at each commit (see [`durable`]).
    durable: durable::Durable,
    keys: Keys,
    data_key: Zeroizing<[u8; 32]>,
    /// Lock order: `overlay` before `ring` whenever both are held.
    overlay: Mutex<Overlay>,
    ring: Mutex<KeyRing>,
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
        for leftover in [DB_DIR, EXPIRY_KEYS_FILE, EXPIRY_KEYS_TMP] {
            let path = dir.join(leftover);
            if fs::symlink_metadata(&path).is_ok() {
                wipe::shred_path(&path)?;
            }
        }
        create_private_dir(&db_path)?;
        let db = open_db(&db_path)?;

        let mut data_key = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(&mut data_key[..]);
        let ring = KeyRing::open(dir, &data_key)?;
        KeyFile::seal(passphrase, params, &data_key, keyfile::random_slot())?.write_atomic(dir)?;
        Ok(Self::assemble(dir, db, data_key, ring))
    }

    /// Opens the profile in `dir` with `passphrase`.
    ///
    /// [`StoreError::NoProfile`] if there is none, [`StoreError::WrongPassphrase`] if the
    /// passphrase does not unlock it (nothing is written in that case), and
    /// [`StoreError::InUse`] if another process has it open.
    pub fn open(dir: impl AsRef<Path>, passphrase: &[u8]) -> Result<Store, StoreError> {
        let dir = dir.as_ref();
        let key_file = KeyFile::read(dir)?;
        let data_key = match key_file.unlock(passphrase)? {
            keyfile::Unlock::Real(key) => key,
            keyfile::Unlock::Duress(u) => return Err(StoreError::Duress(Box::new(u))),
        };
        let db_path = dir.join(DB_DIR);
        if !db_path.is_dir() {
            return Err(StoreError::Corrupt("the database directory is missing"));
        }
        let db = open_db(&db_path)?;
        let ring = KeyRing::open(dir, &data_key)?;
        let store = Self::assemble(dir, db, data_key, ring);
        // Buckets that ended while the store was closed lose their keys now.
        store.shred_expired(unix_now())?;
        Ok(store)
    }

    fn assemble(dir: &Path, db: sled::Db, data_key: Zeroizing<[u8; 32]>, ring: KeyRing) -> Store {
        Store {
            inner: Arc::new(Inner {
                dir: dir.to_path_buf(),
                durable: durable::Durable::new(&dir.join(DB_DIR)),
                db,
                keys: Keys::derive(&data_key),
                data_key,
                overlay: Mutex::new(BTreeMap::new()),
                ring: Mutex::new(ring),
            }),
        }
    }

    /// The profile directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Re-wraps the data key under a new passphrase (and parameters), replacing
    /// `profile.key` atomically. The database and `expiry-keys` (sealed under a key derived
    /// from the unchanged data key) are untouched.
    ///
    /// The old `profile.key` is replaced by a rename; on SSDs and journaling filesystems
    /// its old blocks may survive, so someone who knows the *old* passphrase and recovers
    /// them could still unlock the store.
    pub fn change_passphrase(
        &self,
        new_passphrase: &[u8],
        params: KdfParams,
    ) -> Result<(), StoreError> {
        let slot = KeyFile::read(&self.inner.dir)?.slot();
        KeyFile::seal(new_passphrase, params, &self.inner.data_key, slot)?
            .write_atomic(&self.inner.dir)
    }

    /// The key-derivation parameters of this profile's `profile.key`.
    pub fn kdf_params(&self) -> Result<KdfParams, StoreError> {
        Ok(KeyFile::read(&self.inner.dir)?.params)
    }

    /// Sets the duress passphrase: unlocking with it destroys this profile's keys and
    /// leaves a fresh, empty profile named `name` in its place, which it opens from then
    /// on (see `keyfile.rs`). `current` is the profile's passphrase (the key is re-sealed
    /// under it with a fresh salt). With `notify`, the slot also holds the data key, so
    /// that a duress unlock can open this store once more to tell its groups
    /// ([`Store::open_before_duress`]); setting it again without `notify` drops the key.
    pub fn set_duress(
        &self,
        current: &[u8],
        duress: &[u8],
        name: &str,
        notify: bool,
    ) -> Result<(), StoreError> {
        let params = KeyFile::read(&self.inner.dir)?.params;
        let key = notify.then_some(&*self.inner.data_key);
        let slot = keyfile::duress_slot(duress, &params, name, key)?;
        KeyFile::seal(current, params, &self.inner.data_key, slot)?.write_atomic(&self.inner.dir)
    }

    /// On a duress unlock with notify on: the profile's store, opened once more with the
    /// data key the slot keeps, for telling the groups before [`Store::duress_reset`]
    /// destroys it (`None` without notify).
    pub fn open_before_duress(
        dir: impl AsRef<Path>,
        unlock: &DuressUnlock,
    ) -> Result<Option<Store>, StoreError> {
        let Some(key) = &unlock.old_key else {
            return Ok(None);
        };
        let dir = dir.as_ref();
        let db_path = dir.join(DB_DIR);
        if !db_path.is_dir() {
            return Err(StoreError::Corrupt("the database directory is missing"));
        }
        let db = open_db(&db_path)?;
        let ring = KeyRing::open(dir, key)?;
        Ok(Some(Self::assemble(dir, db, key.clone(), ring)))
    }

    /// What a duress unlock does (`Client::open`): the keys of the profile in `dir` are
    /// destroyed (`profile.key` and `expiry-keys` overwritten, fsynced, deleted: nothing
    /// opens the old database after this, the real passphrase included), the old
    /// database is deleted, and a fresh store is made in its place whose data key is
    /// wrapped under the duress passphrase's key (no further key derivation).
    pub fn duress_reset(dir: impl AsRef<Path>, unlock: DuressUnlock) -> Result<Store, StoreError> {
        let dir = dir.as_ref();
        wipe::destroy_keys(dir)?;
        let db_path = dir.join(DB_DIR);
        match fs::remove_dir_all(&db_path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
        create_private_dir(&db_path)?;
        let db = open_db(&db_path)?;
        let mut data_key = Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(&mut data_key[..]);
        let ring = KeyRing::open(dir, &data_key)?;
        KeyFile::seal_with_kek(
            &unlock.kek,
            unlock.salt,
            unlock.params,
            &data_key,
            keyfile::random_slot(),
        )?
        .write_atomic(dir)?;
        Ok(Self::assemble(dir, db, data_key, ring))
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

    /// Stores `value` (serialized as JSON) under `(ns, key)` in the pending changes, to
    /// disappear at `expires_at` (Unix seconds); see [`Store::put_raw_expiring`].
    pub fn put_expiring<T: Serialize + ?Sized>(
        &self,
        ns: &str,
        key: &[u8],
        value: &T,
        expires_at: u64,
    ) -> Result<(), StoreError> {
        let bytes = Zeroizing::new(serde_json::to_vec(value)?);
        self.put_raw_expiring(ns, key, &bytes, expires_at)
    }

    /// Stores raw bytes under `(ns, key)` in the pending changes, to disappear at
    /// `expires_at` (Unix seconds).
    ///
    /// The value is sealed under the key of its expiry bucket rather than the data key.
    /// Until `expires_at` it reads like any other value ([`Store::get_raw`],
    /// [`Store::scan_raw`], [`Store::get`], [`Store::scan`]); from then on it reads as absent
    /// (and is deleted), and once [`Store::shred_expired`] has run past the end of its
    /// bucket — at most `max(1 s, (expires_at - now) / 8)` and at most 2^16 s after
    /// `expires_at` — its bytes can no longer be opened by anyone, passphrase or not.
    ///
    /// If the bucket has no key yet, a new one is written to `expiry-keys` (fsynced) before
    /// this returns, so a commit can never depend on a key that did not reach the disk. A
    /// rollback leaves that key behind, unused until its bucket ends. An `expires_at` that
    /// has already passed stores nothing and deletes whatever `(ns, key)` held.
    /// ([`Store::delete`] or a plain [`Store::put_raw`] over an expiring value works as
    /// usual; an update through OpenMLS's storage makes the value non-expiring.)
    pub fn put_raw_expiring(
        &self,
        ns: &str,
        key: &[u8],
        value: &[u8],
        expires_at: u64,
    ) -> Result<(), StoreError> {
        let sled_key = self.inner.keys.sled_key(ns, key);
        // The ring lock is released before the overlay lock is taken (lock order).
        let bucket = {
            let mut ring = self.ring()?;
            let now = ring.now();
            if expires_at <= now {
                None
            } else {
                Some(ring.bucket_for(expires_at, now)?)
            }
        };
        let change = match bucket {
            Some(bucket) => Change::PutExpiring {
                key: Zeroizing::new(key.to_vec()),
                value: Zeroizing::new(value.to_vec()),
                expires_at,
                bucket,
            },
            None => Change::Delete,
        };
        self.lock()?.insert(sled_key, change);
        Ok(())
    }

    /// Destroys the key of every expiry bucket that ended at or before `now` (Unix seconds),
    /// then deletes the records sealed under those keys; returns how many records it
    /// deleted.
    ///
    /// The keys are gone from `expiry-keys` on disk (rewritten in place, fsynced) before the
    /// records are touched, and the deletions are flushed before this returns. Records are
    /// found through the buckets' index entries, not a scan of the store. Pending changes
    /// are left pending; an expiring value among them whose bucket has ended commits as a
    /// delete. Afterwards the store treats every time up to `now` as past: records that
    /// expire by then read as absent even if the clock says otherwise.
    ///
    /// [`Store::open`] runs this with the current time; call it again whenever a bucket may
    /// have ended (a timer every few seconds is cheap: it does nothing when no bucket ended).
    /// If it fails after destroying keys, the records of those buckets read as absent, and
    /// the next call (or the next open) deletes them.
    pub fn shred_expired(&self, now: u64) -> Result<usize, StoreError> {
        let pending = {
            let mut ring = self.ring()?;
            ring.destroy_ended(now)?;
            ring.shredded()
        };
        if pending.is_empty() {
            return Ok(0);
        }
        let keys = &self.inner.keys;
        let db = &self.inner.db;
        // Holding the overlay lock keeps commits (the only other sled writer) out.
        let overlay = self.lock()?;
        let mut batch = sled::Batch::default();
        let mut deleted = 0;
        for bucket in &pending {
            let ns = bucket.index_ns();
            for item in db.scan_prefix(keys.ns_tag(&ns)) {
                let (index_key, blob) = item?;
                let entry = keys.open(&index_key, &blob)?;
                // The 8-byte tag may collide with another namespace's; the full hash decides.
                if !keys.matches(&index_key, &ns, &entry.key) {
                    continue;
                }
                batch.remove(index_key);
                let record_key = &entry.key[..];
                // Only if the record is still the one sealed under this bucket: it may have
                // been overwritten or deleted since.
                if let Some(record) = db.get(record_key)?
                    && let Ok(Some(header)) = seal::expiring_header(&record)
                    && BucketId::from_header(header).ok() == Some(*bucket)
                {
                    batch.remove(record_key);
                    deleted += 1;
                }
            }
        }
        db.apply_batch(batch)?;
        db.flush()?;
        drop(overlay);
        self.ring()?.forget(&pending);
        Ok(deleted)
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
        let ring = self.ring()?;
        let now = ring.now();
        let mut found = BTreeMap::new();
        let mut gone = Vec::new();
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
            match self.open_stored(&ring, now, &sled_key, &blob)? {
                // The 8-byte tag may collide with another namespace's; the full hash decides.
                Stored::Live(opened) => {
                    if keys.matches(&sled_key, ns, &opened.key) {
                        found.insert(opened.key.to_vec(), opened.value);
                    }
                }
                Stored::Gone => gone.push((sled_key, blob)),
            }
        }
        let mut lower = [0u8; SLED_KEY_LEN];
        lower[..NS_TAG_LEN].copy_from_slice(&tag);
        for (sled_key, change) in overlay.range(lower..) {
            if sled_key[..NS_TAG_LEN] != tag {
                break;
            }
            match change {
                Change::Put { key, value } if keys.matches(sled_key, ns, key) => {
                    found.insert(key.to_vec(), value.clone());
                }
                Change::PutExpiring {
                    key,
                    value,
                    expires_at,
                    bucket,
                } if Self::pending_is_live(&ring, now, *expires_at, *bucket)
                    && keys.matches(sled_key, ns, key) =>
                {
                    found.insert(key.to_vec(), value.clone());
                }
                _ => {}
            }
        }
        drop(ring);
        for (sled_key, blob) in gone {
            self.delete_gone(&sled_key, &blob);
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
        // An expiring value becomes an ordinary one here (OpenMLS writes none).
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
        let ring = self.ring()?;
        let now = ring.now();
        match overlay.get(sled_key) {
            Some(Change::Put { value, .. }) => return Ok(Some(value.clone())),
            Some(Change::PutExpiring {
                value,
                expires_at,
                bucket,
                ..
            }) => {
                let live = Self::pending_is_live(&ring, now, *expires_at, *bucket);
                return Ok(live.then(|| value.clone()));
            }
            Some(Change::Delete) => return Ok(None),
            None => {}
        }
        let Some(blob) = self.inner.db.get(sled_key)? else {
            return Ok(None);
        };
        let opened = match self.open_stored(&ring, now, sled_key, &blob)? {
            Stored::Live(opened) => opened,
            Stored::Gone => {
                drop(ring);
                self.delete_gone(sled_key, &blob);
                return Ok(None);
            }
        };
        if opened.key.as_slice() != key {
            return Err(StoreError::Corrupt("a stored value belongs to another key"));
        }
        Ok(Some(opened.value))
    }

    /// Opens a value read from sled: an ordinary one with the data key, an expiring one with
    /// its bucket's key — or [`Stored::Gone`] if that key is destroyed or the value expired.
    fn open_stored(
        &self,
        ring: &KeyRing,
        now: u64,
        sled_key: &[u8],
        blob: &[u8],
    ) -> Result<Stored, StoreError> {
        let Some(header) = seal::expiring_header(blob)? else {
            return Ok(Stored::Live(self.inner.keys.open(sled_key, blob)?));
        };
        let bucket = BucketId::from_header(header)?;
        let Some(bucket_key) = ring.live_key(bucket) else {
            return Ok(Stored::Gone);
        };
        let (expires_at, opened) = seal::open_expiring(bucket_key.bytes(), sled_key, blob)?;
        Ok(if expires_at > now {
            Stored::Live(opened)
        } else {
            Stored::Gone
        })
    }

    /// Whether a pending expiring value is still readable.
    fn pending_is_live(ring: &KeyRing, now: u64, expires_at: u64, bucket: BucketId) -> bool {
        expires_at > now && ring.live_key(bucket).is_some()
    }

    /// Deletes a gone expiring value from sled directly: it is unreadable whatever happens,
    /// so this is cleanup, neither part of the pending changes nor flushed (the overlay
    /// lock, held by every caller, keeps commits out). Best-effort: a failure leaves an
    /// unreadable record that the next read or `shred_expired` deletes.
    fn delete_gone(&self, sled_key: &[u8], blob: &[u8]) {
        let _ = self
            .inner
            .db
            .compare_and_swap(sled_key, Some(blob), None::<&[u8]>);
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
        let keys = &self.inner.keys;
        let ring = self.ring()?;
        let now = ring.now();
        let mut batch = sled::Batch::default();
        for (sled_key, change) in overlay.iter() {
            match change {
                Change::Put { key, value } => {
                    batch.insert(&sled_key[..], keys.seal(sled_key, key, value)?);
                }
                Change::PutExpiring {
                    key,
                    value,
                    expires_at,
                    bucket,
                } => match ring.live_key(*bucket) {
                    // The key is on disk: `put_raw_expiring` wrote it before queuing this.
                    Some(bucket_key) if *expires_at > now => {
                        let sealed = seal::seal_expiring(
                            bucket_key.bytes(),
                            &bucket.header(),
                            sled_key,
                            key,
                            value,
                            *expires_at,
                        )?;
                        batch.insert(&sled_key[..], sealed);
                        let index_ns = bucket.index_ns();
                        let index_key = keys.sled_key(&index_ns, sled_key);
                        batch.insert(&index_key[..], keys.seal(&index_key, sled_key, &[])?);
                    }
                    _ => batch.remove(&sled_key[..]),
                },
                Change::Delete => batch.remove(&sled_key[..]),
            }
        }
        drop(ring);
        self.inner.db.apply_batch(batch)?;
        overlay.clear();
        // Durable against a power cut, not just a crash: sled's own flush is not.
        self.inner.durable.commit(&self.inner.db)?;
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

    fn ring(&self) -> Result<MutexGuard<'_, KeyRing>, StoreError> {
        self.inner.ring.lock().map_err(|_| StoreError::Poisoned)
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
            Ok(db) => {
                durable::opened(path)?;
                return Ok(db);
            }
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
