//! Expiring records: values sealed under the key of an *expiry bucket*, and the file of
//! bucket keys that [`Store::shred_expired`](super::Store::shred_expired) destroys.
//!
//! Deleting a sled record removes it from sled's index, not from its log files, and every
//! ordinary value is sealed under the one data key: whoever has the passphrase could open a
//! deleted record found in the log. An expiring record is therefore sealed under a random
//! key of its bucket, and the bucket keys live outside sled, in `expiry-keys`. When a bucket
//! ends, its key is destroyed in that file (rewritten in place and fsynced); from then on
//! whatever bytes of its records linger in sled's log open for nobody, passphrase or not.
//!
//! # Buckets
//!
//! A bucket is an aligned interval `[start, start + 2^log2)` of Unix seconds. A record
//! written at `now` expiring at `expires_at` goes to the bucket containing `expires_at`
//! whose length is the largest power of two not above `max(1, (expires_at - now) / 8)`,
//! at most 2^16 s (18.2 h, under a day) — or to an existing shorter bucket that contains
//! `expires_at`. So its bytes stay openable at most `max(1 s, 12.5 % of the time it had
//! left)` past its expiry (if `shred_expired` runs when the bucket ends), and a steady
//! stream of records with one timer keeps about nine keys alive.
//!
//! # The file `expiry-keys`
//!
//! Two copies ("slots") of the key ring, back to back; nothing in clear:
//!
//! ```text
//! file  = slot || slot                       (2 × slot_len(cap) bytes)
//! slot  = nonce(24) || XChaCha20-Poly1305(file_key, nonce, body, aad = "KITHEXK1" || cap u32 BE)
//! body  = generation u64 BE || watermark u64 BE || count u32 BE
//!         || count × entry || zeros up to 20 + cap × 42 bytes
//! entry = start u64 BE || log2 u8 || state u8 (1 live, 0 shredded) || key (32; zeros if shredded)
//! ```
//!
//! * `file_key = HKDF-SHA256(data key, info = "kith store v1 expiry key file")`: the file
//!   alone gives nothing, and `change_passphrase` (which re-wraps the same data key) leaves
//!   it valid.
//! * `cap` (a power of two ≥ 8) is each slot's capacity in entries, so the file's length
//!   shows only a rough count of buckets. `slot_len(cap) = 60 + 42 × cap`.
//! * `watermark` is the highest `now` that destroyed a key: records expiring at or before
//!   it read as absent even if the clock goes back.
//! * A *shredded* entry (key already zeroed) means "records of this bucket may still be in
//!   sled": `shred_expired` deletes them and then forgets the entry (it leaves the file at
//!   the next rewrite). After a crash between destroying a key and deleting its records,
//!   the next `shred_expired` (every [`Store::open`](super::Store::open) runs one) finishes.
//!
//! **Rewriting in place.** Every change rewrites the same file (never a rename, which would
//! leave the old blocks holding destroyed keys): first the slot that does not overlap the
//! last good copy, fsync, then the other, fsync, then zeros over anything past the new end,
//! fsync, truncate, fsync. A crash at any point leaves at least one complete slot of either
//! the old or the new state; readers take the authentic slot with the highest generation
//! (trying every possible `cap`), and [`KeyRing::open`] repairs the other copy at once. Only
//! the very first version of the file is made with a temporary file and a rename (there is
//! nothing old to destroy then).

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use hkdf::Hkdf;
use rand::RngCore;
use rand::rngs::OsRng;
use sha2::Sha256;
use zeroize::{Zeroize, Zeroizing};

use super::StoreError;
use super::keyfile::sync_dir;
use super::seal::{AEAD_OVERHEAD, EXPIRING_HEADER_LEN, EXPIRING_MAGIC, aead_open, aead_seal};

/// File name of the bucket keys inside a profile directory.
pub const EXPIRY_KEYS_FILE: &str = "expiry-keys";
/// Temporary name used only while the file is first created.
pub(crate) const EXPIRY_KEYS_TMP: &str = "expiry-keys.tmp";

/// The longest bucket: 2^16 s ≈ 18.2 hours.
pub(crate) const MAX_LOG2: u8 = 16;
/// Most buckets (live or awaiting cleanup) at once.
pub(crate) const MAX_BUCKETS: usize = 1 << 16;
/// Smallest slot capacity, in entries.
const MIN_CAP: usize = 8;
/// Largest slot capacity a reader tries (growth may overshoot `MAX_BUCKETS` to keep one
/// good copy untouched while rewriting).
const MAX_CAP: usize = MAX_BUCKETS * 4;
const ENTRY_LEN: usize = 8 + 1 + 1 + 32;
const BODY_HEADER_LEN: usize = 8 + 8 + 4;
const FILE_AAD: &[u8; 8] = b"KITHEXK1";
const HKDF_INFO_FILE: &[u8] = b"kith store v1 expiry key file";

/// The current Unix time in seconds (0 before 1970).
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// An expiry bucket: `[start, start + 2^log2)`, `start` a multiple of `2^log2`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct BucketId {
    pub(crate) start: u64,
    pub(crate) log2: u8,
}

impl BucketId {
    /// The bucket of length `2^log2` that contains `t`.
    pub(crate) fn containing(t: u64, log2: u8) -> Self {
        debug_assert!(log2 <= MAX_LOG2);
        BucketId {
            start: t & !((1u64 << log2) - 1),
            log2,
        }
    }

    /// The first second after the bucket (saturating at `u64::MAX`).
    pub(crate) fn end(self) -> u64 {
        self.start.saturating_add(1u64 << self.log2)
    }

    fn is_valid(self) -> bool {
        self.log2 <= MAX_LOG2 && self.start.trailing_zeros() >= u32::from(self.log2)
    }

    /// The header in front of every value sealed under this bucket's key.
    pub(crate) fn header(self) -> [u8; EXPIRING_HEADER_LEN] {
        let mut h = [0u8; EXPIRING_HEADER_LEN];
        h[..3].copy_from_slice(&EXPIRING_MAGIC);
        h[3] = self.log2;
        h[4..].copy_from_slice(&self.start.to_be_bytes());
        h
    }

    /// Parses a header made by [`BucketId::header`].
    pub(crate) fn from_header(h: &[u8]) -> Result<Self, StoreError> {
        let bad = StoreError::Corrupt("an expiring value names an impossible bucket");
        if h.len() != EXPIRING_HEADER_LEN || h[..3] != EXPIRING_MAGIC {
            return Err(bad);
        }
        let start = u64::from_be_bytes(h[4..].try_into().expect("8 bytes"));
        let id = BucketId { start, log2: h[3] };
        if id.is_valid() { Ok(id) } else { Err(bad) }
    }

    /// The namespace of the index entries of this bucket's records (one per record; the
    /// entry's key is the record's sled key). It cannot be a namespace of the application:
    /// those are not expected to start with a NUL byte.
    pub(crate) fn index_ns(self) -> String {
        format!("\u{0}kith/expiry-index/{}/{}", self.start, self.log2)
    }
}

/// The log2 of the bucket length for a record expiring at `expires_at`, written at `now`:
/// the largest power of two not above `max(1, (expires_at - now) / 8)`, at most 2^16.
pub(crate) fn bucket_log2(expires_at: u64, now: u64) -> u8 {
    let target = (expires_at.saturating_sub(now) / 8).max(1);
    let log2 = u64::BITS - 1 - target.leading_zeros();
    u8::try_from(log2).unwrap_or(MAX_LOG2).min(MAX_LOG2)
}

/// A 32-byte key (a bucket key, or the file key), on the heap so that moving it (inside
/// the map, or the ring into its mutex) leaves no copies behind; zeroized on drop and never
/// printed.
pub(crate) struct SecretKey(Box<[u8; 32]>);

impl SecretKey {
    fn zeroed() -> Self {
        SecretKey(Box::new([0u8; 32]))
    }

    fn random() -> Self {
        let mut key = Self::zeroed();
        OsRng.fill_bytes(&mut key.0[..]);
        key
    }

    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl Drop for SecretKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey([redacted])")
    }
}

/// A bucket in the ring.
#[derive(Debug)]
enum Entry {
    Live(SecretKey),
    /// Key destroyed; records sealed under it may still be in sled.
    Shredded,
}

/// The decoded content of a slot.
struct State {
    generation: u64,
    watermark: u64,
    entries: BTreeMap<BucketId, Entry>,
}

/// A byte range of the file: `(offset, length)`.
type Region = (u64, u64);

fn slot_len(cap: usize) -> u64 {
    (AEAD_OVERHEAD + BODY_HEADER_LEN + cap * ENTRY_LEN) as u64
}

fn disjoint(a: Region, b: Region) -> bool {
    a.0 + a.1 <= b.0 || b.0 + b.1 <= a.0
}

/// The bucket keys of a profile and the open file that holds them.
pub(crate) struct KeyRing {
    file: File,
    file_key: SecretKey,
    entries: BTreeMap<BucketId, Entry>,
    watermark: u64,
    generation: u64,
    cap: usize,
    /// Regions of the file known to hold a complete copy of the newest state on disk.
    good: Vec<Region>,
    /// The last rewrite failed: the file may not match `entries` (it may still hold keys
    /// destroyed in memory), so the next chance to rewrite it must be taken.
    dirty: bool,
    /// Every change made to the file, in order (for the crash tests).
    #[cfg(test)]
    journal: Vec<Op>,
}

/// A change made to the file.
#[cfg(test)]
#[derive(Clone, Debug)]
enum Op {
    Write(u64, Vec<u8>),
    SetLen(u64),
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("buckets", &self.entries.len())
            .finish_non_exhaustive()
    }
}

impl KeyRing {
    /// Opens `dir/expiry-keys` (creating it, empty, if missing), keyed from `data_key`.
    ///
    /// A file with no authentic slot is [`StoreError::Corrupt`]. A file with only one good
    /// copy (a crash mid-rewrite) is repaired before this returns.
    pub(crate) fn open(dir: &Path, data_key: &[u8; 32]) -> Result<Self, StoreError> {
        let file_key = derive_file_key(data_key);
        let path = dir.join(EXPIRY_KEYS_FILE);
        let mut file = match OpenOptions::new().read(true).write(true).open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                create_file(dir, file_key.bytes())?;
                OpenOptions::new().read(true).write(true).open(&path)?
            }
            Err(e) => return Err(e.into()),
        };
        let len = file.metadata()?.len();
        if len > 2 * slot_len(MAX_CAP) {
            return Err(StoreError::Corrupt("expiry-keys is far too long"));
        }
        let mut bytes = Vec::new();
        file.seek(SeekFrom::Start(0))?;
        file.read_to_end(&mut bytes)?;
        let (state, cap, good) = read_best(file_key.bytes(), &bytes)?
            .ok_or(StoreError::Corrupt("expiry-keys holds no authentic copy"))?;
        let canonical = vec![(0, slot_len(cap)), (slot_len(cap), slot_len(cap))];
        let mut ring = KeyRing {
            file,
            file_key,
            entries: state.entries,
            watermark: state.watermark,
            generation: state.generation,
            cap,
            good,
            dirty: false,
            #[cfg(test)]
            journal: Vec::new(),
        };
        if ring.good != canonical || len != 2 * slot_len(cap) {
            ring.persist()?;
        }
        Ok(ring)
    }

    /// The store's notion of now: the clock, but never before the watermark.
    pub(crate) fn now(&self) -> u64 {
        unix_now().max(self.watermark)
    }

    /// The key of `bucket` if it is live.
    pub(crate) fn live_key(&self, bucket: BucketId) -> Option<&SecretKey> {
        match self.entries.get(&bucket) {
            Some(Entry::Live(key)) => Some(key),
            _ => None,
        }
    }

    /// The bucket for a record expiring at `expires_at` (`> now`), with a key that is on
    /// disk: an existing live one, or a new one written (fsynced) before this returns.
    pub(crate) fn bucket_for(&mut self, expires_at: u64, now: u64) -> Result<BucketId, StoreError> {
        debug_assert!(expires_at > now);
        let max_log2 = bucket_log2(expires_at, now);
        for log2 in (0..=max_log2).rev() {
            let id = BucketId::containing(expires_at, log2);
            if self.live_key(id).is_some() {
                return Ok(id);
            }
        }
        let id = BucketId::containing(expires_at, max_log2);
        if self.entries.len() >= MAX_BUCKETS {
            return Err(StoreError::TooManyExpiryBuckets);
        }
        // A shredded bucket ended at or before the watermark, and `id` ends after
        // `expires_at > now >= watermark`: it cannot be one (its cleanup would delete the
        // records sealed under a new key).
        if self.entries.contains_key(&id) {
            return Err(StoreError::Corrupt(
                "an expiry bucket past the watermark is shredded",
            ));
        }
        self.entries.insert(id, Entry::Live(SecretKey::random()));
        if let Err(e) = self.persist() {
            // Never seal with a key that may not be on disk.
            self.entries.remove(&id);
            return Err(e);
        }
        Ok(id)
    }

    /// Destroys the key of every live bucket that ended at or before `now`, on disk
    /// (fsynced) before returning; raises the watermark. Returns how many were destroyed.
    pub(crate) fn destroy_ended(&mut self, now: u64) -> Result<usize, StoreError> {
        let mut destroyed = 0;
        for (id, entry) in self.entries.iter_mut() {
            if id.end() <= now && matches!(entry, Entry::Live(_)) {
                *entry = Entry::Shredded; // drops (and zeroizes) the key
                destroyed += 1;
            }
        }
        // Raised in memory always; on disk only with a destruction, which is all it has to
        // cover there (every shredded bucket ends at or before the persisted watermark).
        self.watermark = self.watermark.max(now);
        if destroyed > 0 || self.dirty {
            self.persist()?;
        }
        Ok(destroyed)
    }

    /// Buckets whose key is destroyed but whose records may remain in sled.
    pub(crate) fn shredded(&self) -> Vec<BucketId> {
        self.entries
            .iter()
            .filter(|(_, e)| matches!(e, Entry::Shredded))
            .map(|(id, _)| *id)
            .collect()
    }

    /// Forgets shredded buckets whose records are gone (they leave the file at the next
    /// rewrite; until then a restart only repeats an empty cleanup).
    pub(crate) fn forget(&mut self, cleaned: &[BucketId]) {
        for id in cleaned {
            if matches!(self.entries.get(id), Some(Entry::Shredded)) {
                self.entries.remove(id);
            }
        }
    }

    /// Rewrites the file in place with the current state (see the module documentation).
    fn persist(&mut self) -> Result<(), StoreError> {
        self.dirty = true;
        self.rewrite()?;
        self.dirty = false;
        Ok(())
    }

    fn rewrite(&mut self) -> Result<(), StoreError> {
        let count = self.entries.len();
        let mut cap = count.next_power_of_two().max(MIN_CAP);
        // Shrink only when mostly empty, so a count hovering at a boundary does not make
        // every write also zero and truncate.
        if cap < self.cap && count > self.cap / 4 {
            cap = self.cap;
        }
        let (first, second, len) = loop {
            let s = slot_len(cap);
            let (a, b) = ((0, s), (s, s));
            if self.good.is_empty() || self.good.iter().any(|g| disjoint(b, *g)) {
                break (b, a, s);
            }
            if self.good.iter().any(|g| disjoint(a, *g)) {
                break (a, b, s);
            }
            cap *= 2;
            if cap > MAX_CAP {
                return Err(StoreError::Corrupt(
                    "expiry-keys cannot be rewritten safely",
                ));
            }
        };
        self.generation += 1;
        let body = encode_body(self.generation, self.watermark, &self.entries, cap);
        for region in [first, second] {
            // Each copy has its own random nonce.
            let slot = aead_seal(self.file_key.bytes(), &body, &slot_aad(cap))?;
            debug_assert_eq!(slot.len() as u64, region.1);
            self.write_synced(region.0, &slot)?;
            if region == first {
                self.good = vec![first];
            } else {
                self.good.push(second);
            }
        }
        let new_len = 2 * len;
        let old_len = self.file.metadata()?.len();
        if old_len > new_len {
            // Nothing of an older state may stay in the blocks a truncation frees.
            let zeros = vec![0u8; usize::try_from(old_len - new_len).unwrap_or(0)];
            self.write_synced(new_len, &zeros)?;
            #[cfg(test)]
            self.journal.push(Op::SetLen(new_len));
            self.file.set_len(new_len)?;
            self.file.sync_all()?;
        }
        self.cap = cap;
        Ok(())
    }

    /// Writes `bytes` at `offset` in place and fsyncs the file.
    fn write_synced(&mut self, offset: u64, bytes: &[u8]) -> Result<(), StoreError> {
        #[cfg(test)]
        self.journal.push(Op::Write(offset, bytes.to_vec()));
        self.file.seek(SeekFrom::Start(offset))?;
        self.file.write_all(bytes)?;
        self.file.sync_all()?;
        Ok(())
    }

    /// The live keys (for tests that play the seizing adversary).
    #[cfg(test)]
    pub(crate) fn live_keys(&self) -> Vec<(BucketId, [u8; 32])> {
        self.entries
            .iter()
            .filter_map(|(id, e)| match e {
                Entry::Live(k) => Some((*id, *k.bytes())),
                Entry::Shredded => None,
            })
            .collect()
    }
}

fn derive_file_key(data_key: &[u8; 32]) -> SecretKey {
    let mut key = SecretKey::zeroed();
    Hkdf::<Sha256>::new(None, data_key)
        .expand(HKDF_INFO_FILE, &mut key.0[..])
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    key
}

fn slot_aad(cap: usize) -> [u8; 12] {
    let mut aad = [0u8; 12];
    aad[..8].copy_from_slice(FILE_AAD);
    aad[8..].copy_from_slice(&u32::try_from(cap).expect("cap fits u32").to_be_bytes());
    aad
}

/// Writes the first version of the file (an empty ring, both slots) under a temporary
/// name and renames it into place.
fn create_file(dir: &Path, file_key: &[u8; 32]) -> Result<(), StoreError> {
    let body = encode_body(0, 0, &BTreeMap::new(), MIN_CAP);
    let mut bytes = aead_seal(file_key, &body, &slot_aad(MIN_CAP))?;
    bytes.extend_from_slice(&aead_seal(file_key, &body, &slot_aad(MIN_CAP))?);
    let tmp = dir.join(EXPIRY_KEYS_TMP);
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp)?;
    file.write_all(&bytes)?;
    file.sync_all()?;
    drop(file);
    fs::rename(&tmp, dir.join(EXPIRY_KEYS_FILE))?;
    sync_dir(dir)
}

/// A slot's plaintext (see the module documentation).
fn encode_body(
    generation: u64,
    watermark: u64,
    entries: &BTreeMap<BucketId, Entry>,
    cap: usize,
) -> Zeroizing<Vec<u8>> {
    let mut body = Zeroizing::new(Vec::with_capacity(BODY_HEADER_LEN + cap * ENTRY_LEN));
    body.extend_from_slice(&generation.to_be_bytes());
    body.extend_from_slice(&watermark.to_be_bytes());
    let count = u32::try_from(entries.len()).expect("at most MAX_BUCKETS entries");
    body.extend_from_slice(&count.to_be_bytes());
    for (id, entry) in entries {
        body.extend_from_slice(&id.start.to_be_bytes());
        body.push(id.log2);
        match entry {
            Entry::Live(key) => {
                body.push(1);
                body.extend_from_slice(key.bytes());
            }
            Entry::Shredded => {
                body.push(0);
                body.extend_from_slice(&[0u8; 32]);
            }
        }
    }
    body.resize(BODY_HEADER_LEN + cap * ENTRY_LEN, 0);
    body
}

/// The newest authentic state in the file's bytes, its capacity and every region holding it.
fn read_best(
    file_key: &[u8; 32],
    bytes: &[u8],
) -> Result<Option<(State, usize, Vec<Region>)>, StoreError> {
    let mut best: Option<(State, usize, Vec<Region>)> = None;
    let mut cap = MIN_CAP;
    while cap <= MAX_CAP && slot_len(cap) <= bytes.len() as u64 {
        let s = slot_len(cap);
        for offset in [0, s] {
            let Some(slot) = usize::try_from(offset)
                .ok()
                .and_then(|o| bytes.get(o..o + usize::try_from(s).ok()?))
            else {
                continue;
            };
            let Ok(body) = aead_open(file_key, slot, &slot_aad(cap)) else {
                continue;
            };
            let state = decode_state(&body, cap)?;
            match &mut best {
                Some((b, _, regions)) if b.generation == state.generation => {
                    regions.push((offset, s));
                }
                Some((b, _, _)) if b.generation > state.generation => {}
                _ => best = Some((state, cap, vec![(offset, s)])),
            }
        }
        cap *= 2;
    }
    Ok(best)
}

fn decode_state(body: &[u8], cap: usize) -> Result<State, StoreError> {
    let bad = StoreError::Corrupt("expiry-keys is malformed");
    if body.len() != BODY_HEADER_LEN + cap * ENTRY_LEN {
        return Err(bad);
    }
    let u64_at = |at: usize| u64::from_be_bytes(body[at..at + 8].try_into().expect("8 bytes"));
    let generation = u64_at(0);
    let watermark = u64_at(8);
    let count = u32::from_be_bytes(body[16..20].try_into().expect("4 bytes"));
    let count = usize::try_from(count).unwrap_or(usize::MAX);
    if count > cap || count > MAX_BUCKETS {
        return Err(bad);
    }
    let mut entries = BTreeMap::new();
    for e in body[BODY_HEADER_LEN..].chunks_exact(ENTRY_LEN).take(count) {
        let id = BucketId {
            start: u64::from_be_bytes(e[..8].try_into().expect("8 bytes")),
            log2: e[8],
        };
        if !id.is_valid() {
            return Err(bad);
        }
        let entry = match e[9] {
            1 => {
                let mut key = SecretKey::zeroed();
                key.0.copy_from_slice(&e[10..]);
                Entry::Live(key)
            }
            0 => Entry::Shredded,
            _ => return Err(bad),
        };
        if entries.insert(id, entry).is_some() {
            return Err(bad);
        }
    }
    Ok(State {
        generation,
        watermark,
        entries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn store_expiry_bucket_lengths_bound_the_overshoot() {
        let now = 1_700_000_000u64;
        for left in [
            1u64,
            2,
            7,
            8,
            9,
            15,
            16,
            100,
            3600,
            86_400,
            7 * 86_400,
            400 * 86_400,
        ] {
            for skew in 0..20u64 {
                let expires_at = now + left + skew;
                let left = expires_at - now;
                let log2 = bucket_log2(expires_at, now);
                let len = 1u64 << log2;
                let b = BucketId::containing(expires_at, log2);
                assert!(b.is_valid());
                assert!(b.start <= expires_at && expires_at < b.end());
                // Openable at most max(1 s, 1/8 of the time left) past expiry …
                assert!(b.end() - expires_at <= (left / 8).max(1), "left {left}");
                // … and never longer than a day; and the bucket is not needlessly short.
                assert!(len <= 86_400);
                assert!(len == 1 << MAX_LOG2 || len * 2 > (left / 8).max(1));
            }
        }
        assert_eq!(bucket_log2(now + 30, now), 1); // 30 s timer: 2 s buckets
        assert_eq!(bucket_log2(now + 3600, now), 8); // 1 h: 256 s
        assert_eq!(bucket_log2(now + 30 * 86_400, now), MAX_LOG2);
    }

    /// `image` after all of `ops[..whole]` and, if `part` is given, the first `part` bytes
    /// of the write `ops[whole]` (torn there).
    fn replay(image: &[u8], ops: &[Op], whole: usize, part: Option<usize>) -> Vec<u8> {
        let mut out = image.to_vec();
        let apply = |out: &mut Vec<u8>, op: &Op, n: usize| match op {
            Op::Write(offset, bytes) => {
                let at = usize::try_from(*offset).unwrap();
                let n = n.min(bytes.len());
                if out.len() < at + n {
                    out.resize(at + n, 0);
                }
                out[at..at + n].copy_from_slice(&bytes[..n]);
            }
            Op::SetLen(len) => out.resize(usize::try_from(*len).unwrap(), 0),
        };
        for op in &ops[..whole] {
            apply(&mut out, op, usize::MAX);
        }
        if let Some(n) = part {
            apply(&mut out, &ops[whole], n);
        }
        out
    }

    /// The generations of every authentic slot in `bytes`, wherever it is.
    fn authentic_generations(file_key: &[u8; 32], bytes: &[u8]) -> Vec<u64> {
        let mut out = Vec::new();
        let mut cap = MIN_CAP;
        while slot_len(cap) <= bytes.len() as u64 {
            let s = usize::try_from(slot_len(cap)).unwrap();
            for offset in [0, s] {
                if let Some(slot) = bytes.get(offset..offset + s)
                    && let Ok(body) = aead_open(file_key, slot, &slot_aad(cap))
                {
                    out.push(decode_state(&body, cap).unwrap().generation);
                }
            }
            cap *= 2;
        }
        out
    }

    /// Every prefix of every rewrite of the file — growing, same size, shrinking — opens to
    /// the state before or the state after it, and is repaired to two good copies; a
    /// finished rewrite leaves no authentic copy of an older state anywhere in the file.
    #[test]
    fn store_expiry_file_survives_a_crash_at_any_write() {
        const T0: u64 = 4_000_000_000; // after the test machine's clock: `now` is ours
        let data_key = [5u8; 32];
        let file_key = derive_file_key(&data_key);
        let dir = tempfile::tempdir().unwrap();
        let scratch = tempfile::tempdir().unwrap();
        let path = dir.path().join(EXPIRY_KEYS_FILE);
        let mut ring = KeyRing::open(dir.path(), &data_key).unwrap();
        let expiry = |i: u64| T0 + i * 100_000 + 1; // one bucket each

        type Step = Box<dyn Fn(&mut KeyRing)>;
        let mut steps: Vec<Step> = Vec::new();
        for i in 1..=20u64 {
            // Grows the slots 8 → 16 → 32 entries.
            steps.push(Box::new(move |r: &mut KeyRing| {
                r.bucket_for(expiry(i), T0).unwrap();
            }));
        }
        // Destroys 15 (same size), then a write with 6 entries left shrinks to 8.
        let cut = expiry(15) + (1 << MAX_LOG2);
        steps.push(Box::new(move |r: &mut KeyRing| {
            assert_eq!(r.destroy_ended(cut).unwrap(), 15);
        }));
        steps.push(Box::new(move |r: &mut KeyRing| {
            let shredded = r.shredded();
            r.forget(&shredded);
            r.bucket_for(expiry(40), cut).unwrap();
        }));

        let mut sizes = Vec::new();
        for step in steps {
            let old_image = fs::read(&path).unwrap();
            let old_keys = ring.live_keys();
            ring.journal.clear();
            step(&mut ring);
            let new_keys = ring.live_keys();
            let new_image = fs::read(&path).unwrap();
            sizes.push(new_image.len());
            let ops = ring.journal.clone();
            assert_eq!(replay(&old_image, &ops, ops.len(), None), new_image);
            // A finished rewrite: two copies of the new state, nothing else authentic.
            let gens = authentic_generations(file_key.bytes(), &new_image);
            assert_eq!(gens, vec![ring.generation; 2]);

            for whole in 0..=ops.len() {
                let parts: Vec<Option<usize>> = match ops.get(whole) {
                    None => vec![None],
                    Some(Op::SetLen(_)) => vec![None],
                    Some(Op::Write(_, bytes)) => {
                        let n = bytes.len();
                        vec![Some(0), Some(1), Some(n / 2), Some(n - 1)]
                    }
                };
                for part in parts {
                    let image = replay(&old_image, &ops, whole, part);
                    let scratch_path = scratch.path().join(EXPIRY_KEYS_FILE);
                    fs::write(&scratch_path, &image).unwrap();
                    let reopened = KeyRing::open(scratch.path(), &data_key)
                        .unwrap_or_else(|e| panic!("crash at op {whole}, {part:?} bytes: {e}"));
                    let keys = reopened.live_keys();
                    assert!(
                        keys == old_keys || keys == new_keys,
                        "crash at op {whole}, {part:?} bytes: a third state"
                    );
                    drop(reopened);
                    // Repaired: two good copies of that state at their places, nothing else.
                    let repaired = fs::read(&scratch_path).unwrap();
                    let gens = authentic_generations(file_key.bytes(), &repaired);
                    assert_eq!(gens.len(), 2, "crash at op {whole}, {part:?}");
                    assert_eq!(gens[0], gens[1]);
                    let again = KeyRing::open(scratch.path(), &data_key).unwrap();
                    assert_eq!(again.live_keys(), keys);
                    assert_eq!(
                        fs::read(&scratch_path).unwrap(),
                        repaired,
                        "repair is stable"
                    );
                }
            }
        }
        let (s8, s16, s32) = (2 * slot_len(8), 2 * slot_len(16), 2 * slot_len(32));
        assert_eq!(sizes[0], s8 as usize);
        assert_eq!(sizes[8], s16 as usize);
        assert_eq!(sizes[16], s32 as usize);
        assert_eq!(*sizes.last().unwrap(), s8 as usize, "shrunk again");
    }

    #[test]
    fn store_expiry_failed_rewrite_is_retried_at_the_next_shred() {
        let dir = tempfile::tempdir().unwrap();
        let mut ring = KeyRing::open(dir.path(), &[8u8; 32]).unwrap();
        ring.journal.clear();
        assert_eq!(ring.destroy_ended(1).unwrap(), 0);
        assert!(ring.journal.is_empty(), "nothing to write");
        ring.dirty = true; // as after a failed rewrite
        assert_eq!(ring.destroy_ended(1).unwrap(), 0);
        assert!(!ring.journal.is_empty(), "rewritten");
        assert!(!ring.dirty);
    }

    #[test]
    fn store_expiry_file_with_no_authentic_copy_is_refused() {
        let data_key = [6u8; 32];
        let dir = tempfile::tempdir().unwrap();
        let mut ring = KeyRing::open(dir.path(), &data_key).unwrap();
        ring.bucket_for(4_000_000_000, 3_999_000_000).unwrap();
        drop(ring);
        // Another data key (another profile's file) does not open it.
        assert!(matches!(
            KeyRing::open(dir.path(), &[7u8; 32]),
            Err(StoreError::Corrupt(_))
        ));
        let path = dir.path().join(EXPIRY_KEYS_FILE);
        let mut bytes = fs::read(&path).unwrap();
        let half = bytes.len() / 2;
        bytes[30] ^= 1;
        bytes[half + 30] ^= 1;
        fs::write(&path, &bytes).unwrap();
        assert!(matches!(
            KeyRing::open(dir.path(), &data_key),
            Err(StoreError::Corrupt(_))
        ));
        fs::write(&path, b"").unwrap();
        assert!(matches!(
            KeyRing::open(dir.path(), &data_key),
            Err(StoreError::Corrupt(_))
        ));
    }

    #[test]
    fn store_expiry_header_roundtrip() {
        let b = BucketId::containing(1_700_000_123, 7);
        assert_eq!(BucketId::from_header(&b.header()).unwrap(), b);
        let mut h = b.header();
        h[3] = MAX_LOG2 + 1;
        assert!(BucketId::from_header(&h).is_err());
        let mut h = b.header();
        h[11] |= 1; // misaligned start
        assert!(BucketId::from_header(&h).is_err());
    }
}
