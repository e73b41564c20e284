//! Crypto-shredding of expired ciphertext.
//!
//! Deleting a record from sled removes it from the index, not from the disk: the bytes
//! stay in the log file until sled happens to reuse that space. A seized disk could then
//! give up ciphertext long past its retention limit. So every stored payload and blob is
//! sealed (XChaCha20-Poly1305) under a key that is destroyed when the record expires, and
//! the keys live outside sled, in two small `shred-keys` files rewritten in place.
//! Whatever bytes linger in sled's log can then no longer be opened by anyone, the relay
//! included.
//!
//! **Keys by expiry, in period classes.** A record's expiry is fixed when it is stored
//! (`stored_at` + the group's retention then: [`Expiry::after`]). It is sealed under the
//! key of the *expiry period* that holds its expiry: periods of length `p` (its class)
//! start at multiples of `p`, and the key of `[start, start + p)` is destroyed once
//! `start + p` has passed. So no record becomes unreadable before it expires, and every
//! record becomes unreadable at most `p` after. The class follows the retention:
//! `p = clamp(retention / 8, 1 s, 1 h)` rounded down to a power of two ([`period_for`]),
//! so a group that keeps messages for 10 s has them shredded within a second of expiry,
//! and the relay-wide 30 days within 34 minutes. Groups of one class share keys: that is
//! safe because a key dies only when every expiry it covers has passed.
//!
//! **Lowering the relay's limit.** Each key also remembers (as an upper bound, written
//! before use) the latest time anything was sealed under it, `used_until`. Everything
//! stored by then must go once `used_until + max_retention` has passed, whatever expiry
//! it was given, so an operator who lowers `--retention` gets older ciphertext shredded at
//! the next sweep, as before.
//!
//! **Not covered:** a *group* that shortens its retention has what it stored before the
//! change deleted at the new retention, but those bytes stay decryptable on disk until the
//! expiry they were stored with (their key is shared with other groups). SECURITY.md says
//! so.
//!
//! **Two copies, each rewritten in place.** The keys are kept in two files,
//! `shred-keys` and `shred-keys.1`, each a whole copy with a generation number and a
//! checksum. A change rewrites the older copy in place and syncs it, then the other: a
//! write cut anywhere (a crash, a power cut between pages) tears at most the copy being
//! written, and open takes the intact copy of the highest generation. So no live key is
//! ever lost (that would turn acknowledged records into silent gaps) and no destroyed key
//! comes back once both copies are written; and rewriting in place, not by rename, keeps
//! overwriting the blocks that held destroyed keys. A key is used only once both copies
//! hold it: a key that could not be written (a full disk) is never used.
//!
//! File format (`KITHSK3\0`, generation (8, big-endian), length of the records (8), the
//! records, SHA-256 of everything before it (32), then zeros to the end of the file).
//! A record is 56 bytes: period (8, big-endian; the top bit marks a key of the first
//! format, below), start (8), used_until (8), key (32). The previous format (`KITHSK2\0`
//! and the same records to the end of the file, one copy) is read and replaced at the
//! first change. The first format (`KITHSK1\0`, 48-byte records: start, length, key) keyed periods by
//! storage time; such keys are kept, open the records sealed under them, and are destroyed
//! when `start + length + max_retention` has passed, as that version did.
//!
//! The payloads are already end-to-end ciphertext; this layer protects only the promise
//! that nothing older than the retention limit remains readable on the relay's disk.
//! (Overwriting a file in place reuses its blocks on common Linux file systems; an SSD's
//! flash translation layer may still keep old copies of the key records.)

use super::{Result, StoreError};
use kith_protocol::aead::{xopen, xseal};
use kith_protocol::{GroupId, Seq};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use zeroize::Zeroizing;

/// The two copies; the first also has the name every earlier version used.
const FILES: [&str; 2] = ["shred-keys", "shred-keys.1"];
const MAGIC_V1: &[u8; 8] = b"KITHSK1\0";
const RECORD_V1: usize = 8 + 8 + 32;
const MAGIC_V2: &[u8; 8] = b"KITHSK2\0";
const MAGIC: &[u8; 8] = b"KITHSK3\0";
/// Magic, generation and length before the records; the checksum after them.
const HEAD: usize = 8 + 8 + 8;
const SUM: usize = 32;
const RECORD: usize = 8 + 8 + 8 + 32;
/// The top bit of a record's period: a first-format key (periods by storage time).
const LEGACY: u64 = 1 << 63;
/// The longest shredding period: expired ciphertext is unreadable within an hour.
pub const MAX_PERIOD: u64 = 3600;
/// How far ahead of its use a key's `used_until` is written, so that the file is not
/// rewritten on every seal (at most once a minute per key in use).
const USE_SLACK: u64 = 60;

type Key = Zeroizing<[u8; 32]>;

/// The shredding period of records kept `retention_secs`: an eighth of it, between 1 s
/// and [`MAX_PERIOD`], rounded down to a power of two (so there are at most 12 classes).
pub fn period_for(retention_secs: u64) -> u64 {
    let p = (retention_secs / 8).clamp(1, MAX_PERIOD);
    1 << (63 - p.leading_zeros())
}

/// When a stored record expires, and the period class its key belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expiry {
    /// Unix seconds: the record is deleted then, and unreadable at most `period` later.
    pub at: u64,
    /// The length of its key's period.
    pub period: u64,
}

impl Expiry {
    /// The expiry of a record stored at `stored_at` by a group that keeps things
    /// `retention_secs` (at least 1).
    pub fn after(stored_at: u64, retention_secs: u64) -> Self {
        let retention = retention_secs.max(1);
        Self {
            at: stored_at.saturating_add(retention),
            period: period_for(retention),
        }
    }

    fn start(&self) -> u64 {
        self.at - self.at % self.period
    }
}

/// A sealed record body as stored: the key it needs (by expiry and class), a check value
/// of that key, the nonce and the ciphertext.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    /// The record's expiry, Unix seconds.
    pub expires_at: u64,
    /// Its key's period.
    pub period: u64,
    /// The first 4 bytes of SHA-256 of the key: tells "this key was shredded and the
    /// period's key made again" from corruption.
    pub check: [u8; 4],
    /// The random XChaCha20 nonce.
    pub nonce: [u8; 24],
    /// Ciphertext and tag.
    #[serde(with = "serde_bytes")]
    pub ciphertext: Vec<u8>,
}

impl Sealed {
    /// The record's expiry.
    pub fn expiry(&self) -> Expiry {
        Expiry {
            at: self.expires_at,
            period: self.period,
        }
    }
}

#[derive(Clone)]
struct Entry {
    key: Key,
    used_until: u64,
    /// [`check_of`] the key, kept: every seal and unseal needs it.
    check: [u8; 4],
}

impl Entry {
    fn new(key: Key, used_until: u64) -> Self {
        Self {
            check: check_of(&key),
            key,
            used_until,
        }
    }
}

#[derive(Default, Clone)]
struct Ring {
    /// (period, start of the expiry period) -> key.
    keys: BTreeMap<(u64, u64), Entry>,
    /// First-format keys: start of the storage period -> (length, key).
    legacy: BTreeMap<u64, (u64, Key)>,
}

/// The shredding keys.
pub struct KeyRing {
    /// The two copies, their generations (0: not a valid current copy) and lengths.
    files: Mutex<Copies>,
    ring: Mutex<Ring>,
}

struct Copies {
    files: [File; 2],
    generations: [u64; 2],
    lengths: [u64; 2],
}

fn be(b: &[u8]) -> Result<u64> {
    Ok(u64::from_be_bytes(
        b.try_into().map_err(|_| StoreError::Corrupt)?,
    ))
}

fn check_of(key: &[u8; 32]) -> [u8; 4] {
    let d = Sha256::new()
        .chain_update(b"kith relay shred key check v1\0")
        .chain_update(key)
        .finalize();
    [d[0], d[1], d[2], d[3]]
}

fn aad(context: &[u8], expiry: Expiry) -> Vec<u8> {
    let mut a = Vec::with_capacity(context.len() + 16);
    a.extend_from_slice(context);
    a.extend_from_slice(&expiry.at.to_be_bytes());
    a.extend_from_slice(&expiry.period.to_be_bytes());
    a
}

/// Reads the records of a current-format copy, if it is whole: (generation, records).
fn read_copy(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let rest = bytes.strip_prefix(MAGIC)?;
    let generation = u64::from_be_bytes(rest.get(..8)?.try_into().ok()?);
    let len = usize::try_from(u64::from_be_bytes(rest.get(8..16)?.try_into().ok()?)).ok()?;
    let end = HEAD.checked_add(len)?;
    let sum = bytes.get(end..end.checked_add(SUM)?)?;
    (Sha256::digest(&bytes[..end])[..] == *sum && len.is_multiple_of(RECORD))
        .then(|| (generation, &bytes[HEAD..end]))
}

fn read_records(body: &[u8], ring: &mut Ring) -> Result<()> {
    if !body.len().is_multiple_of(RECORD) {
        return Err(StoreError::Corrupt);
    }
    for r in body.chunks_exact(RECORD) {
        let (period, start, used_until) = (be(&r[..8])?, be(&r[8..16])?, be(&r[16..24])?);
        let mut key = Zeroizing::new([0u8; 32]);
        key.copy_from_slice(&r[24..]);
        if period & LEGACY != 0 {
            ring.legacy.insert(start, (period & !LEGACY, key));
        } else if period == 0 {
            return Err(StoreError::Corrupt);
        } else {
            ring.keys
                .insert((period, start), Entry::new(key, used_until));
        }
    }
    Ok(())
}

impl KeyRing {
    /// Opens (or creates) the key files in `dir`.
    pub fn open(dir: &Path) -> Result<Self> {
        let mut files = Vec::with_capacity(2);
        let mut contents = Vec::with_capacity(2);
        for name in FILES {
            let mut file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(dir.join(name))?;
            let mut bytes = Zeroizing::new(Vec::new());
            file.read_to_end(&mut bytes)?;
            files.push(file);
            contents.push(bytes);
        }
        // Both names durable before any key is used.
        File::open(dir)?.sync_all()?;
        let mut ring = Ring::default();
        let mut generations = [0u64; 2];
        let copies: Vec<Option<(u64, &[u8])>> = contents.iter().map(|c| read_copy(c)).collect();
        for (i, c) in copies.iter().enumerate() {
            generations[i] = c.map_or(0, |(g, _)| g);
        }
        let newest = (0..2)
            .filter(|&i| copies[i].is_some())
            .max_by_key(|&i| generations[i]);
        let first = &contents[0];
        if let Some(i) = newest {
            read_records(copies[i].map(|(_, r)| r).unwrap_or_default(), &mut ring)?;
        } else if let Some(body) = first.strip_prefix(MAGIC_V2) {
            read_records(body, &mut ring)?;
        } else if let Some(body) = first.strip_prefix(MAGIC_V1) {
            if body.len() % RECORD_V1 != 0 {
                return Err(StoreError::Corrupt);
            }
            for r in body.chunks_exact(RECORD_V1) {
                let mut key = Zeroizing::new([0u8; 32]);
                key.copy_from_slice(&r[16..]);
                ring.legacy.insert(be(&r[..8])?, (be(&r[8..16])?, key));
            }
        } else if contents.iter().any(|c| !c.is_empty()) {
            // Neither copy whole and no earlier format: a torn write cannot do that (it
            // tears one copy at most), so this is corruption, not a state to start over
            // from (that would make every stored record unreadable).
            return Err(StoreError::Corrupt);
        }
        let lengths = [contents[0].len() as u64, contents[1].len() as u64];
        let [a, b]: [File; 2] = files.try_into().map_err(|_| StoreError::Corrupt)?;
        Ok(Self {
            files: Mutex::new(Copies {
                files: [a, b],
                generations,
                lengths,
            }),
            ring: Mutex::new(ring),
        })
    }

    fn ring(&self) -> Result<MutexGuard<'_, Ring>> {
        self.ring.lock().map_err(|_| StoreError::Corrupt)
    }

    /// Writes `ring` to both copies, the older first, each in place and synced.
    fn persist(&self, ring: &Ring) -> Result<()> {
        let n = ring.keys.len() + ring.legacy.len();
        let mut records = Zeroizing::new(Vec::with_capacity(n * RECORD));
        for (start, (len, key)) in &ring.legacy {
            records.extend_from_slice(&(len | LEGACY).to_be_bytes());
            records.extend_from_slice(&start.to_be_bytes());
            records.extend_from_slice(&start.saturating_add(*len).to_be_bytes());
            records.extend_from_slice(key.as_ref());
        }
        for ((period, start), e) in &ring.keys {
            records.extend_from_slice(&period.to_be_bytes());
            records.extend_from_slice(&start.to_be_bytes());
            records.extend_from_slice(&e.used_until.to_be_bytes());
            records.extend_from_slice(e.key.as_ref());
        }
        let mut c = self.files.lock().map_err(|_| StoreError::Corrupt)?;
        let generation = c.generations[0].max(c.generations[1]) + 1;
        let mut out = Zeroizing::new(Vec::with_capacity(HEAD + records.len() + SUM));
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&generation.to_be_bytes());
        out.extend_from_slice(&(records.len() as u64).to_be_bytes());
        out.extend_from_slice(&records);
        let sum = Sha256::digest(&out[..]);
        out.extend_from_slice(&sum);
        let older = usize::from(c.generations[1] < c.generations[0]);
        for i in [older, older ^ 1] {
            // Zeros over what a longer earlier copy held (destroyed keys among it).
            let mut bytes = out.clone();
            bytes.resize(out.len().max(c.lengths[i] as usize), 0);
            // Until it is whole again this copy is not current.
            c.generations[i] = 0;
            c.files[i].write_all_at(&bytes, 0)?;
            c.files[i].sync_data()?;
            c.generations[i] = generation;
            c.lengths[i] = bytes.len() as u64;
            crate::crash::point("keys.written");
        }
        Ok(())
    }

    /// Seals `plaintext`, stored at `now`, under the key of `expiry`'s period (made, or
    /// its `used_until` moved, and durably recorded first if needed). `context` is bound
    /// as associated data: what the record is and where it is stored.
    pub fn seal(
        &self,
        now: u64,
        expiry: Expiry,
        context: &[u8],
        plaintext: &[u8],
    ) -> Result<Sealed> {
        let (key, check) = {
            let mut ring = self.ring()?;
            let slot = (expiry.period, expiry.start());
            match ring.keys.get(&slot) {
                Some(e) if e.used_until >= now => (e.key.clone(), e.check),
                found => {
                    // Durable before anything sealed with it is written, and in use only
                    // once durable: a key lost in a crash would take acknowledged records
                    // with it, and a `used_until` too early would shred records still
                    // within their retention.
                    let key = found.map_or_else(
                        || Zeroizing::new(rand::random::<[u8; 32]>()),
                        |e| e.key.clone(),
                    );
                    let entry = Entry::new(key, now + USE_SLACK);
                    let key = (entry.key.clone(), entry.check);
                    let mut next = ring.clone();
                    next.keys.insert(slot, entry);
                    self.persist(&next)?;
                    *ring = next;
                    key
                }
            }
        };
        let nonce: [u8; 24] = rand::random();
        let ciphertext = xseal(&key, &nonce, &aad(context, expiry), plaintext);
        Ok(Sealed {
            expires_at: expiry.at,
            period: expiry.period,
            check,
            nonce,
            ciphertext,
        })
    }

    /// Opens a sealed record; `None` once its key is destroyed.
    pub fn unseal(&self, sealed: &Sealed, context: &[u8]) -> Result<Option<Vec<u8>>> {
        let expiry = sealed.expiry();
        if expiry.period == 0 {
            return Err(StoreError::Corrupt);
        }
        let key = {
            let ring = self.ring()?;
            match ring.keys.get(&(expiry.period, expiry.start())) {
                Some(e) if e.check == sealed.check => e.key.clone(),
                // Destroyed (and perhaps made again for the same period since).
                _ => return Ok(None),
            }
        };
        xopen(
            &key,
            &sealed.nonce,
            &aad(context, expiry),
            &sealed.ciphertext,
        )
        .map(Some)
        .ok_or(StoreError::Corrupt)
    }

    /// Opens a payload sealed by the first format (under the key of the period it was
    /// stored in, bound to its group and sequence number); `None` once the key is gone.
    pub fn unseal_legacy(
        &self,
        stored_at: u64,
        group: &GroupId,
        seq: Seq,
        sealed: &[u8],
    ) -> Result<Option<Vec<u8>>> {
        let key = {
            let ring = self.ring()?;
            let found = ring
                .legacy
                .range(..=stored_at)
                .next_back()
                .filter(|(start, (len, _))| stored_at < start.saturating_add(*len))
                .map(|(_, (_, k))| k.clone());
            match found {
                Some(k) => k,
                None => return Ok(None),
            }
        };
        let mut nonce = [0u8; 24];
        nonce[..16].copy_from_slice(&group.0);
        nonce[16..].copy_from_slice(&seq.to_be_bytes());
        xopen(&key, &nonce, &nonce, sealed)
            .map(Some)
            .ok_or(StoreError::Corrupt)
    }

    fn dead(period: u64, start: u64, e: &Entry, now: u64, max_retention: u64) -> bool {
        start.saturating_add(period) <= now || e.used_until.saturating_add(max_retention) <= now
    }

    /// Destroys every key whose records have all expired by `now`: its expiry period has
    /// ended, or everything sealed under it is older than `max_retention` (the relay's
    /// limit). Returns how many.
    pub fn forget(&self, now: u64, max_retention: u64) -> Result<usize> {
        let mut ring = self.ring()?;
        let mut next = ring.clone();
        next.keys
            .retain(|(period, start), e| !Self::dead(*period, *start, e, now, max_retention));
        next.legacy.retain(|start, (len, _)| {
            start.saturating_add(*len).saturating_add(max_retention) > now
        });
        let forgotten = ring.keys.len() + ring.legacy.len() - next.keys.len() - next.legacy.len();
        if forgotten > 0 {
            // Gone from memory only once gone from both copies: a failed write is tried
            // again at the next sweep.
            self.persist(&next)?;
            *ring = next;
        }
        Ok(forgotten)
    }

    /// When [`KeyRing::forget`] will next have something to destroy (Unix seconds), if
    /// ever.
    pub fn next_forget(&self, max_retention: u64) -> Result<Option<u64>> {
        let ring = self.ring()?;
        let keys = ring.keys.iter().map(|((period, start), e)| {
            start
                .saturating_add(*period)
                .min(e.used_until.saturating_add(max_retention))
        });
        let legacy = ring
            .legacy
            .iter()
            .map(|(start, (len, _))| start.saturating_add(*len).saturating_add(max_retention));
        Ok(keys.chain(legacy).min())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: u64 = 86_400;

    #[test]
    fn periods_are_powers_of_two_between_a_second_and_an_hour() {
        assert_eq!(period_for(0), 1);
        assert_eq!(period_for(10), 1);
        assert_eq!(period_for(16), 2);
        assert_eq!(period_for(100), 8);
        assert_eq!(period_for(30 * DAY), 2048);
        for r in [1, 7, 9, 100, 3600, 29_000, 30 * DAY, u64::MAX] {
            let p = period_for(r);
            assert!(p.is_power_of_two() && (1..=MAX_PERIOD).contains(&p));
            assert!(r < 16 || p <= r / 8, "{r}: {p}");
        }
    }

    #[test]
    fn a_record_is_readable_until_it_expires_and_not_a_period_later() {
        let dir = tempfile::tempdir().unwrap();
        let ring = KeyRing::open(dir.path()).unwrap();
        let short = Expiry::after(1000, 10); // at 1010, period 1
        let long = Expiry::after(1000, 30 * DAY);
        let a = ring.seal(1000, short, b"ctx a", b"short").unwrap();
        let b = ring.seal(1000, long, b"ctx b", b"long").unwrap();
        assert_eq!(ring.unseal(&a, b"ctx a").unwrap().unwrap(), b"short");
        // Bound to its context.
        assert!(ring.unseal(&a, b"ctx b").is_err());
        assert_eq!(ring.next_forget(30 * DAY).unwrap(), Some(1011));
        assert_eq!(ring.forget(1010, 30 * DAY).unwrap(), 0);
        assert!(ring.unseal(&a, b"ctx a").unwrap().is_some());
        assert_eq!(ring.forget(1011, 30 * DAY).unwrap(), 1);
        assert_eq!(ring.unseal(&a, b"ctx a").unwrap(), None);
        assert_eq!(ring.unseal(&b, b"ctx b").unwrap().unwrap(), b"long");
        // Another group of the same class, storing later, gets its own key for the
        // same period; the old record stays unreadable rather than "corrupt".
        let c = ring
            .seal(1001, Expiry::after(1001, 9), b"ctx c", b"c")
            .unwrap();
        assert_eq!(c.expires_at, 1010);
        assert_eq!(ring.unseal(&a, b"ctx a").unwrap(), None);
        assert_eq!(ring.unseal(&c, b"ctx c").unwrap().unwrap(), b"c");

        drop(ring);
        let ring = KeyRing::open(dir.path()).unwrap();
        assert_eq!(ring.unseal(&b, b"ctx b").unwrap().unwrap(), b"long");
        assert_eq!(ring.unseal(&c, b"ctx c").unwrap().unwrap(), b"c");
        for name in FILES {
            let file = std::fs::read(dir.path().join(name)).unwrap();
            assert_eq!(file.len(), HEAD + 2 * RECORD + SUM, "{name}");
        }
    }

    #[test]
    fn lowering_the_relay_limit_shreds_what_was_stored_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let ring = KeyRing::open(dir.path()).unwrap();
        let a = ring
            .seal(1000, Expiry::after(1000, 30 * DAY), b"a", b"a")
            .unwrap();
        // Nothing was sealed under it after 1000 + slack: with a limit of one day the
        // key goes a day after that, long before the record's own expiry.
        assert_eq!(ring.forget(1000 + DAY, DAY).unwrap(), 0);
        assert_eq!(ring.forget(1000 + USE_SLACK + DAY, DAY).unwrap(), 1);
        assert_eq!(ring.unseal(&a, b"a").unwrap(), None);
    }

    #[test]
    fn keys_of_the_first_format_still_open_their_records_and_expire() {
        let dir = tempfile::tempdir().unwrap();
        let g = GroupId([1; 16]);
        let key = [7u8; 32];
        let mut nonce = [0u8; 24];
        nonce[..16].copy_from_slice(&g.0);
        nonce[16..].copy_from_slice(&5u64.to_be_bytes());
        let sealed = xseal(&key, &nonce, &nonce, b"old");
        let mut file = MAGIC_V1.to_vec();
        file.extend_from_slice(&3600u64.to_be_bytes());
        file.extend_from_slice(&3600u64.to_be_bytes());
        file.extend_from_slice(&key);
        std::fs::write(dir.path().join(FILES[0]), &file).unwrap();

        let ring = KeyRing::open(dir.path()).unwrap();
        assert_eq!(
            ring.unseal_legacy(4000, &g, 5, &sealed).unwrap().unwrap(),
            b"old"
        );
        assert_eq!(ring.unseal_legacy(9000, &g, 5, &sealed).unwrap(), None);
        // Rewritten in the new format, still legacy.
        ring.seal(5000, Expiry::after(5000, 100), b"x", b"x")
            .unwrap();
        drop(ring);
        let ring = KeyRing::open(dir.path()).unwrap();
        assert!(ring.unseal_legacy(4000, &g, 5, &sealed).unwrap().is_some());
        // Gone when its storage period plus the retention has passed.
        assert_eq!(ring.next_forget(100).unwrap(), Some(5104));
        ring.forget(7200 + 99, 100).unwrap();
        assert!(ring.unseal_legacy(4000, &g, 5, &sealed).unwrap().is_some());
        ring.forget(7200 + 100, 100).unwrap();
        assert_eq!(ring.unseal_legacy(4000, &g, 5, &sealed).unwrap(), None);
        for name in FILES {
            let bytes = std::fs::read(dir.path().join(name)).unwrap();
            assert!(
                !bytes.windows(32).any(|w| w == key),
                "the old key is gone from {name}"
            );
        }
    }

    #[test]
    fn a_torn_copy_falls_back_to_the_other_and_no_destroyed_key_returns() {
        let dir = tempfile::tempdir().unwrap();
        let ring = KeyRing::open(dir.path()).unwrap();
        let a = ring
            .seal(1000, Expiry::after(1000, 10), b"a", b"a")
            .unwrap();
        let b = ring
            .seal(1000, Expiry::after(1000, 30 * DAY), b"b", b"b")
            .unwrap();
        assert_eq!(ring.forget(1011, 30 * DAY).unwrap(), 1);
        drop(ring);
        // Every copy, torn at every 7th byte (a write cut between pages), in turn.
        for name in FILES {
            let path = dir.path().join(name);
            let whole = std::fs::read(&path).unwrap();
            for cut in (0..whole.len()).step_by(7) {
                let mut torn = whole.clone();
                for byte in &mut torn[cut..] {
                    *byte = 0xA5;
                }
                std::fs::write(&path, &torn).unwrap();
                let ring = KeyRing::open(dir.path()).unwrap();
                assert_eq!(
                    ring.unseal(&b, b"b").unwrap().unwrap(),
                    b"b",
                    "{name} cut {cut}"
                );
                assert_eq!(ring.unseal(&a, b"a").unwrap(), None, "{name} cut {cut}");
            }
            std::fs::write(&path, &whole).unwrap();
        }
    }

    #[test]
    fn a_key_that_could_not_be_written_is_never_used() {
        let dir = tempfile::tempdir().unwrap();
        let ring = KeyRing::open(dir.path()).unwrap();
        // Read-only handles in place of the files: every write fails (a full disk).
        let good = {
            let mut c = ring.files.lock().unwrap();
            let ro = |i: usize| File::open(dir.path().join(FILES[i])).unwrap();
            std::mem::replace(&mut c.files, [ro(0), ro(1)])
        };
        assert!(
            ring.seal(1000, Expiry::after(1000, 100), b"x", b"x")
                .is_err()
        );
        assert!(ring.ring().unwrap().keys.is_empty(), "not in use");
        ring.files.lock().unwrap().files = good;
        let sealed = ring
            .seal(1000, Expiry::after(1000, 100), b"x", b"x")
            .unwrap();
        drop(ring);
        let ring = KeyRing::open(dir.path()).unwrap();
        assert_eq!(ring.unseal(&sealed, b"x").unwrap().unwrap(), b"x");
    }

    #[test]
    fn the_previous_format_is_read_and_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let key = [4u8; 32];
        let mut file = MAGIC_V2.to_vec();
        file.extend_from_slice(&1u64.to_be_bytes());
        file.extend_from_slice(&2000u64.to_be_bytes());
        file.extend_from_slice(&5000u64.to_be_bytes());
        file.extend_from_slice(&key);
        std::fs::write(dir.path().join(FILES[0]), &file).unwrap();
        let ring = KeyRing::open(dir.path()).unwrap();
        assert_eq!(ring.next_forget(u64::MAX).unwrap(), Some(2001));
        ring.seal(1000, Expiry::after(1000, 10), b"x", b"x")
            .unwrap();
        drop(ring);
        for name in FILES {
            let bytes = std::fs::read(dir.path().join(name)).unwrap();
            assert!(bytes.starts_with(MAGIC), "{name}");
        }
        let ring = KeyRing::open(dir.path()).unwrap();
        assert_eq!(ring.ring().unwrap().keys.len(), 2);
    }
}
