//! Crypto-shredding of expired ciphertext.
//!
//! Deleting a record from sled removes it from the index, not from the disk: the bytes
//! stay in the log file until sled happens to reuse that space. A seized disk could then
//! give up ciphertext long past its retention limit. So every stored payload is sealed
//! (XChaCha20-Poly1305) under a key of the *period* it was stored in, and the period keys
//! live outside sled, in a small `shred-keys` file that is rewritten in place. When
//! retention deletes a period's messages, it also forgets the period's key; whatever
//! bytes linger in sled's log can no longer be opened by anyone, the relay included.
//!
//! The payloads are already end-to-end ciphertext; this layer protects only the promise
//! that nothing older than the retention limit remains readable on the relay's disk.
//! (Overwriting a file in place reuses its blocks on common Linux file systems; an SSD's
//! flash translation layer may still keep old copies of the 48-byte key records.)

use super::{Result, StoreError};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use kith_protocol::{GroupId, Seq};
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;
use zeroize::Zeroizing;

const FILE: &str = "shred-keys";
const MAGIC: &[u8; 8] = b"KITHSK1\0";
const RECORD: usize = 8 + 8 + 32;

type Key = Zeroizing<[u8; 32]>;

/// The period keys, by period start (Unix seconds).
pub struct KeyRing {
    file: Mutex<File>,
    period: u64,
    // start -> (length, key)
    keys: Mutex<BTreeMap<u64, (u64, Key)>>,
}

impl KeyRing {
    /// Opens (or creates) the key file in `dir`; new periods last `period`.
    pub fn open(dir: &Path, period: Duration) -> Result<Self> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.join(FILE))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        let mut keys = BTreeMap::new();
        if !bytes.is_empty() {
            let body = bytes.strip_prefix(MAGIC).ok_or(StoreError::Corrupt)?;
            if body.len() % RECORD != 0 {
                return Err(StoreError::Corrupt);
            }
            for r in body.chunks_exact(RECORD) {
                let start = u64::from_be_bytes(r[..8].try_into().map_err(|_| StoreError::Corrupt)?);
                let len = u64::from_be_bytes(r[8..16].try_into().map_err(|_| StoreError::Corrupt)?);
                let mut key = Zeroizing::new([0u8; 32]);
                key.copy_from_slice(&r[16..]);
                keys.insert(start, (len, key));
            }
        }
        bytes.iter_mut().for_each(|b| *b = 0);
        Ok(Self {
            file: Mutex::new(file),
            period: period.as_secs().clamp(1, 24 * 3600),
            keys: Mutex::new(keys),
        })
    }

    /// Rewrites the whole file in place and syncs it.
    fn persist(&self, keys: &BTreeMap<u64, (u64, Key)>) -> Result<()> {
        let mut out = Zeroizing::new(Vec::with_capacity(MAGIC.len() + keys.len() * RECORD));
        out.extend_from_slice(MAGIC);
        for (start, (len, key)) in keys {
            out.extend_from_slice(&start.to_be_bytes());
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(key.as_ref());
        }
        let mut f = self.file.lock().map_err(|_| StoreError::Corrupt)?;
        f.seek(SeekFrom::Start(0))?;
        f.write_all(&out)?;
        f.set_len(out.len() as u64)?;
        f.sync_all()?;
        Ok(())
    }

    fn find(keys: &BTreeMap<u64, (u64, Key)>, t: u64) -> Option<&Key> {
        keys.range(..=t)
            .next_back()
            .filter(|(start, (len, _))| t < *start + *len)
            .map(|(_, (_, k))| k)
    }

    /// The key for time `t`, made (and durably recorded) if its period has none yet.
    fn key_for(&self, t: u64) -> Result<Key> {
        let mut keys = self.keys.lock().map_err(|_| StoreError::Corrupt)?;
        if let Some(k) = Self::find(&keys, t) {
            return Ok(k.clone());
        }
        let start = t - t % self.period;
        let key = Zeroizing::new(rand::random::<[u8; 32]>());
        keys.insert(start, (self.period, key.clone()));
        // Durable before anything sealed with it is written: a key lost in a crash would
        // take acknowledged messages with it.
        self.persist(&keys)?;
        Ok(key)
    }

    fn nonce(group: &GroupId, seq: Seq) -> [u8; 24] {
        let mut n = [0u8; 24];
        n[..16].copy_from_slice(&group.0);
        n[16..].copy_from_slice(&seq.to_be_bytes());
        n
    }

    /// Seals a payload stored at time `t` as message `seq` of `group`.
    pub fn seal(&self, t: u64, group: &GroupId, seq: Seq, payload: &[u8]) -> Result<Vec<u8>> {
        let key = self.key_for(t)?;
        let nonce = Self::nonce(group, seq);
        XChaCha20Poly1305::new(key.as_ref().into())
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: payload,
                    aad: &nonce,
                },
            )
            .map_err(|_| StoreError::Corrupt)
    }

    /// Opens a payload; `None` once its period's key is forgotten.
    pub fn unseal(
        &self,
        t: u64,
        group: &GroupId,
        seq: Seq,
        sealed: &[u8],
    ) -> Result<Option<Vec<u8>>> {
        let keys = self.keys.lock().map_err(|_| StoreError::Corrupt)?;
        let Some(key) = Self::find(&keys, t) else {
            return Ok(None);
        };
        let nonce = Self::nonce(group, seq);
        XChaCha20Poly1305::new(key.as_ref().into())
            .decrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: sealed,
                    aad: &nonce,
                },
            )
            .map(Some)
            .map_err(|_| StoreError::Corrupt)
    }

    /// Forgets every key whose period ended at or before `cutoff`. Returns how many.
    pub fn forget_before(&self, cutoff: u64) -> Result<usize> {
        let mut keys = self.keys.lock().map_err(|_| StoreError::Corrupt)?;
        let before = keys.len();
        keys.retain(|start, (len, _)| *start + *len > cutoff);
        let forgotten = before - keys.len();
        if forgotten > 0 {
            self.persist(&keys)?;
        }
        Ok(forgotten)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_forget_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let g = GroupId([1; 16]);
        let ring = KeyRing::open(dir.path(), Duration::from_secs(10)).unwrap();
        let old = ring.seal(100, &g, 1, b"old").unwrap();
        let new = ring.seal(125, &g, 2, b"new").unwrap();
        assert_eq!(ring.unseal(100, &g, 1, &old).unwrap().unwrap(), b"old");
        // Bound to its slot: another sequence number does not open it.
        assert!(ring.unseal(100, &g, 9, &old).is_err());
        drop(ring);
        let ring = KeyRing::open(dir.path(), Duration::from_secs(10)).unwrap();
        assert_eq!(ring.unseal(125, &g, 2, &new).unwrap().unwrap(), b"new");
        assert_eq!(ring.forget_before(115).unwrap(), 1);
        assert_eq!(ring.unseal(100, &g, 1, &old).unwrap(), None);
        assert_eq!(ring.unseal(125, &g, 2, &new).unwrap().unwrap(), b"new");
        drop(ring);
        let ring = KeyRing::open(dir.path(), Duration::from_secs(10)).unwrap();
        assert_eq!(ring.unseal(100, &g, 1, &old).unwrap(), None);
        let file = std::fs::read(dir.path().join(FILE)).unwrap();
        assert_eq!(file.len(), MAGIC.len() + RECORD);
    }
}
