//! Crypto-shredding of expired ciphertext.
//!
//! Deleting a record from sled removes it from the index, not from the disk: the bytes
//! stay in the log file until sled happens to reuse that space. A seized disk could then
//! give up ciphertext long past its retention limit. So every stored payload and blob is
//! sealed (XChaCha20-Poly1305) under a key that is destroyed when the record expires, and
//! the keys live outside sled, in a small `shred-keys` file that is rewritten in place.
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
//! File format (`KITHSK2\0`, then 56-byte records): period (8, big-endian; the top bit
//! marks a key of the first format, below), start (8), used_until (8), key (32). The
//! first format (`KITHSK1\0`, 48-byte records: start, length, key) keyed periods by
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
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use zeroize::Zeroizing;

const FILE: &str = "shred-keys";
const MAGIC_V1: &[u8; 8] = b"KITHSK1\0";
const RECORD_V1: usize = 8 + 8 + 32;
const MAGIC: &[u8; 8] = b"KITHSK2\0";
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

struct Entry {
    key: Key,
    used_until: u64,
}

#[derive(Default)]
struct Ring {
    /// (period, start of the expiry period) -> key.
    keys: BTreeMap<(u64, u64), Entry>,
    /// First-format keys: start of the storage period -> (length, key).
    legacy: BTreeMap<u64, (u64, Key)>,
}

/// The shredding keys.
pub struct KeyRing {
    file: Mutex<File>,
    ring: Mutex<Ring>,
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

impl KeyRing {
    /// Opens (or creates) the key file in `dir`.
    pub fn open(dir: &Path) -> Result<Self> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.join(FILE))?;
        let mut bytes = Zeroizing::new(Vec::new());
        file.read_to_end(&mut bytes)?;
        let mut ring = Ring::default();
        if let Some(body) = bytes.strip_prefix(MAGIC_V1) {
            if body.len() % RECORD_V1 != 0 {
                return Err(StoreError::Corrupt);
            }
            for r in body.chunks_exact(RECORD_V1) {
                let mut key = Zeroizing::new([0u8; 32]);
                key.copy_from_slice(&r[16..]);
                ring.legacy.insert(be(&r[..8])?, (be(&r[8..16])?, key));
            }
        } else if let Some(body) = bytes.strip_prefix(MAGIC) {
            if body.len() % RECORD != 0 {
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
                    ring.keys.insert((period, start), Entry { key, used_until });
                }
            }
        } else if !bytes.is_empty() {
            return Err(StoreError::Corrupt);
        }
        Ok(Self {
            file: Mutex::new(file),
            ring: Mutex::new(ring),
        })
    }

    fn ring(&self) -> Result<MutexGuard<'_, Ring>> {
        self.ring.lock().map_err(|_| StoreError::Corrupt)
    }

    /// Rewrites the whole file in place and syncs it.
    fn persist(&self, ring: &Ring) -> Result<()> {
        let n = ring.keys.len() + ring.legacy.len();
        let mut out = Zeroizing::new(Vec::with_capacity(MAGIC.len() + n * RECORD));
        out.extend_from_slice(MAGIC);
        for (start, (len, key)) in &ring.legacy {
            out.extend_from_slice(&(len | LEGACY).to_be_bytes());
            out.extend_from_slice(&start.to_be_bytes());
            out.extend_from_slice(&start.saturating_add(*len).to_be_bytes());
            out.extend_from_slice(key.as_ref());
        }
        for ((period, start), e) in &ring.keys {
            out.extend_from_slice(&period.to_be_bytes());
            out.extend_from_slice(&start.to_be_bytes());
            out.extend_from_slice(&e.used_until.to_be_bytes());
            out.extend_from_slice(e.key.as_ref());
        }
        let mut f = self.file.lock().map_err(|_| StoreError::Corrupt)?;
        f.seek(SeekFrom::Start(0))?;
        f.write_all(&out)?;
        f.set_len(out.len() as u64)?;
        f.sync_all()?;
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
        let key = {
            let mut ring = self.ring()?;
            let slot = (expiry.period, expiry.start());
            let fresh = match ring.keys.get_mut(&slot) {
                Some(e) if e.used_until >= now => None,
                Some(e) => {
                    e.used_until = now + USE_SLACK;
                    Some(e.key.clone())
                }
                None => {
                    let key = Zeroizing::new(rand::random::<[u8; 32]>());
                    ring.keys.insert(
                        slot,
                        Entry {
                            key: key.clone(),
                            used_until: now + USE_SLACK,
                        },
                    );
                    Some(key)
                }
            };
            match fresh {
                // Durable before anything sealed with it is written: a key lost in a
                // crash would take acknowledged records with it, and a `used_until` too
                // early would shred records still within their retention.
                Some(key) => {
                    self.persist(&ring)?;
                    key
                }
                None => ring.keys[&slot].key.clone(),
            }
        };
        let nonce: [u8; 24] = rand::random();
        let ciphertext = xseal(&key, &nonce, &aad(context, expiry), plaintext);
        Ok(Sealed {
            expires_at: expiry.at,
            period: expiry.period,
            check: check_of(&key),
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
                Some(e) if check_of(&e.key) == sealed.check => e.key.clone(),
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
        let before = ring.keys.len() + ring.legacy.len();
        ring.keys
            .retain(|(period, start), e| !Self::dead(*period, *start, e, now, max_retention));
        ring.legacy.retain(|start, (len, _)| {
            start.saturating_add(*len).saturating_add(max_retention) > now
        });
        let forgotten = before - ring.keys.len() - ring.legacy.len();
        if forgotten > 0 {
            self.persist(&ring)?;
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
        let file = std::fs::read(dir.path().join(FILE)).unwrap();
        assert_eq!(file.len(), MAGIC.len() + 2 * RECORD);
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
        std::fs::write(dir.path().join(FILE), &file).unwrap();

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
        let bytes = std::fs::read(dir.path().join(FILE)).unwrap();
        assert!(!bytes.windows(32).any(|w| w == key), "the old key is gone");
    }
}
