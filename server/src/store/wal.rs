//! The relay's write-ahead log: what makes a sync durable without asking sled to flush.
//!
//! Why: a sled flush hands its log buffer to sled's I/O thread pool, which wakes all of
//! its idle threads; on two cores those wake-ups, once per flush, were most of the
//! relay's latency at light load (BENCHMARKS.md). Appending the sync's changes to a file
//! of our own and `fdatasync`ing it is one `pwrite` and one `fdatasync` on the syncing
//! thread. sled gets the same changes later, in large batches (a *checkpoint*), off the
//! path of any post.
//!
//! Two segment files, `wal-0` and `wal-1`. Syncs append to the active one. A checkpoint
//! switches syncs to the other (empty) segment, applies everything the old one holds to
//! sled, makes sled durable, and only then empties the old segment. At open, every record
//! of both segments is replayed into sled in sequence order (records hold whole values,
//! so replaying what sled already has is harmless), sled is made durable, and both are
//! emptied.
//!
//! Segments grow by a MiB of zeros at a time and never shrink, so that an append
//! overwrites allocated blocks and its `fdatasync` need not commit a new file length (on
//! ext4, a journal commit per sync) — once per MiB instead. *Emptying* a segment writes, at its start, a
//! marker: a record with no changes and the next sequence number. Record sequence
//! numbers only grow, for the life of the data dir, so what a segment held before its
//! marker, wherever it lingers behind newer records, has smaller numbers — and reading
//! a segment stops at the first record whose number does not grow.
//!
//! Record: `len u32 LE ‖ check [u8; 8] ‖ body`, where `check` is the first 8 bytes of
//! SHA-256(body) and `body = seq u64 LE ‖ count u32 LE ‖ count × entry`,
//! `entry = key_len u32 LE ‖ key ‖ 0 (remove) | 1 ‖ value_len u32 LE ‖ value`.
//! Reading a segment stops at the first record that is short or fails its check: a torn
//! write at the tail is a sync that never returned, so nothing acknowledged is lost.

use sha2::{Digest, Sha256};
use sled::IVec;
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Changes to apply to sled: `Some(value)` to write, `None` to remove.
pub type Changes = BTreeMap<IVec, Option<IVec>>;

const HEADER: usize = 4 + 8;
/// The largest record read back (a sync's changes are bounded by the relay's in-flight
/// limits far below this); a larger length is treated as a torn record.
const MAX_RECORD: usize = 1 << 30;

fn check(body: &[u8]) -> [u8; 8] {
    let mut out = [0u8; 8];
    out.copy_from_slice(&Sha256::digest(body)[..8]);
    out
}

/// Encodes one record.
pub fn encode(seq: u64, changes: &Changes) -> Vec<u8> {
    let size: usize = changes
        .iter()
        .map(|(k, v)| 4 + k.len() + 1 + v.as_ref().map_or(0, |v| 4 + v.len()))
        .sum();
    let mut body = Vec::with_capacity(HEADER + 12 + size);
    body.extend_from_slice(&[0u8; HEADER]);
    body.extend_from_slice(&seq.to_le_bytes());
    body.extend_from_slice(&(changes.len() as u32).to_le_bytes());
    for (k, v) in changes {
        body.extend_from_slice(&(k.len() as u32).to_le_bytes());
        body.extend_from_slice(k);
        match v {
            None => body.push(0),
            Some(v) => {
                body.push(1);
                body.extend_from_slice(&(v.len() as u32).to_le_bytes());
                body.extend_from_slice(v);
            }
        }
    }
    let len = (body.len() - HEADER) as u32;
    let sum = check(&body[HEADER..]);
    body[..4].copy_from_slice(&len.to_le_bytes());
    body[4..HEADER].copy_from_slice(&sum);
    body
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }

    fn u32(&mut self) -> Option<usize> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?) as usize)
    }
}

fn decode_body(body: &[u8]) -> Option<(u64, Changes)> {
    let mut r = Reader(body);
    let seq = u64::from_le_bytes(r.take(8)?.try_into().ok()?);
    let count = r.u32()?;
    let mut changes = Changes::new();
    for _ in 0..count {
        let klen = r.u32()?;
        let key = IVec::from(r.take(klen)?);
        let value = match r.take(1)?[0] {
            0 => None,
            1 => {
                let vlen = r.u32()?;
                Some(IVec::from(r.take(vlen)?))
            }
            _ => return None,
        };
        changes.insert(key, value);
    }
    r.0.is_empty().then_some((seq, changes))
}

/// Every intact record at the start of `bytes`, in file order, up to the first whose
/// sequence number does not grow (an older record behind newer ones).
pub fn decode_all(bytes: &[u8]) -> Vec<(u64, Changes)> {
    let mut out: Vec<(u64, Changes)> = Vec::new();
    let mut r = Reader(bytes);
    while let Some(head) = r.take(HEADER) {
        let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
        if len > MAX_RECORD {
            break;
        }
        let Some(body) = r.take(len) else { break };
        if check(body) != head[4..HEADER] {
            break;
        }
        match decode_body(body) {
            Some(rec) if out.last().is_none_or(|(last, _)| rec.0 > *last) => out.push(rec),
            _ => break,
        }
    }
    out
}

/// A segment grows by this much at a time (zeros written ahead of the records).
pub const GROW_BYTES: u64 = 1 << 20;
/// A segment larger than this at open is cut back to [`GROW_BYTES`].
const MAX_KEPT_BYTES: u64 = 64 << 20;

/// The two segment files and where syncs append.
pub struct Wal {
    files: [File; 2],
    /// The segment syncs append to.
    active: usize,
    /// Where the next record of each segment goes (after its marker and records).
    ends: [u64; 2],
    /// How long each segment file is (all of it written: records, then zeros).
    sizes: [u64; 2],
    /// The next record's sequence number.
    next_seq: u64,
    /// A segment that may still hold records sled has (emptying it failed): it must be
    /// emptied before syncs may use it again.
    dirty: [bool; 2],
}

/// The segment file names.
pub const SEGMENTS: [&str; 2] = ["wal-0", "wal-1"];

impl Wal {
    /// Opens both segments and returns every record they hold, in sequence order, for
    /// replay. Call [`Wal::reset`] once sled has them durably.
    pub fn open(dir: &Path) -> std::io::Result<(Self, Vec<Changes>)> {
        let mut files = Vec::with_capacity(2);
        let mut records = Vec::new();
        let mut sizes = [0u64; 2];
        for (i, name) in SEGMENTS.into_iter().enumerate() {
            let mut f = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(dir.join(name))?;
            let mut bytes = Vec::new();
            f.read_to_end(&mut bytes)?;
            records.extend(decode_all(&bytes));
            sizes[i] = (bytes.len() as u64).max(GROW_BYTES);
            zero_fill(&f, bytes.len() as u64, sizes[i])?;
            files.push(f);
        }
        records.sort_by_key(|(seq, _)| *seq);
        let next_seq = records.last().map_or(0, |(s, _)| s + 1);
        let [a, b]: [File; 2] = files.try_into().map_err(|_| std::io::ErrorKind::Other)?;
        let wal = Self {
            files: [a, b],
            active: 0,
            ends: [0, 0],
            sizes,
            next_seq,
            dirty: [true, true],
        };
        Ok((wal, records.into_iter().map(|(_, c)| c).collect()))
    }

    /// Empties both segments (after their records reached sled durably), and cuts back
    /// one that grew large (a checkpoint that lagged), so that the next open reads little.
    pub fn reset(&mut self) -> std::io::Result<()> {
        for i in 0..2 {
            self.empty(i)?;
            if self.sizes[i] > MAX_KEPT_BYTES {
                self.files[i].set_len(GROW_BYTES)?;
                self.files[i].sync_all()?;
                self.sizes[i] = GROW_BYTES;
            }
        }
        self.active = 0;
        Ok(())
    }

    /// Writes a marker at the start of segment `i`: what it held is no longer read.
    fn empty(&mut self, i: usize) -> std::io::Result<()> {
        let marker = encode(self.next_seq, &Changes::new());
        self.files[i].write_all_at(&marker, 0)?;
        self.files[i].sync_data()?;
        self.next_seq += 1;
        self.ends[i] = marker.len() as u64;
        self.dirty[i] = false;
        Ok(())
    }

    /// Appends a record of `changes` to the active segment and makes it durable. Returns
    /// the record's size. On failure the segment is cut back to its intact records.
    pub fn append(&mut self, changes: &Changes) -> std::io::Result<usize> {
        let record = encode(self.next_seq, changes);
        let i = self.active;
        let end = self.ends[i];
        let need = end + record.len() as u64;
        if need > self.sizes[i] {
            let size = need.div_ceil(GROW_BYTES) * GROW_BYTES;
            zero_fill(&self.files[i], self.sizes[i], size)?;
            self.sizes[i] = size;
        }
        let f = &self.files[i];
        // A failed write may leave part of the record behind: it fails its check, and the
        // next record overwrites it (same offset).
        f.write_all_at(&record, end).and_then(|()| f.sync_data())?;
        self.ends[self.active] += record.len() as u64;
        self.next_seq += 1;
        Ok(record.len())
    }

    /// Switches syncs to the other segment (emptying it first if an earlier checkpoint
    /// could not). Returns the segment that now only the checkpoint uses.
    pub fn rotate(&mut self) -> std::io::Result<usize> {
        let next = self.active ^ 1;
        if self.dirty[next] {
            self.empty(next)?;
        }
        let old = self.active;
        self.active = next;
        // The old segment holds records until the checkpoint has put them in sled.
        self.dirty[old] = true;
        Ok(old)
    }

    /// Empties a segment whose records sled now has durably.
    pub fn retire(&mut self, segment: usize) -> std::io::Result<()> {
        self.empty(segment)
    }
}

/// Writes zeros from `from` to `to` and syncs the file with its new length: a real
/// allocation, not a sparse file, so that the records later written there, and their
/// syncs, touch no file metadata.
fn zero_fill(f: &File, from: u64, to: u64) -> std::io::Result<()> {
    if from >= to {
        return Ok(());
    }
    let zeros = vec![0u8; GROW_BYTES as usize];
    let mut at = from;
    while at < to {
        let n = (to - at).min(GROW_BYTES) as usize;
        f.write_all_at(&zeros[..n], at)?;
        at += n as u64;
    }
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn changes(pairs: &[(&[u8], Option<&[u8]>)]) -> Changes {
        pairs
            .iter()
            .map(|(k, v)| (IVec::from(*k), v.map(IVec::from)))
            .collect()
    }

    #[test]
    fn records_round_trip_and_a_torn_tail_is_dropped() {
        let a = changes(&[(b"k1", Some(b"v1")), (b"k2", None)]);
        let b = changes(&[(b"k1", None), (b"k3", Some(&[7u8; 300]))]);
        let mut bytes = encode(4, &a);
        bytes.extend(encode(5, &b));
        assert_eq!(decode_all(&bytes), vec![(4, a.clone()), (5, b.clone())]);
        // Every truncation keeps exactly the records that are whole.
        let first = encode(4, &a).len();
        for cut in 0..bytes.len() {
            let got = decode_all(&bytes[..cut]);
            let want = if cut < first { 0 } else { 1 };
            assert_eq!(got.len(), want, "cut at {cut}");
        }
        // A flipped bit anywhere in the second record drops it, never the first.
        for i in first..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x10;
            assert_eq!(decode_all(&bad), vec![(4, a.clone())], "flip at {i}");
        }
        // A huge length is a torn record, not an allocation.
        let mut huge = encode(4, &a);
        huge[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode_all(&huge).is_empty());
    }

    #[test]
    fn segments_replay_in_sequence_order_across_rotation() {
        let dir = tempfile::tempdir().unwrap();
        {
            let (mut wal, old) = Wal::open(dir.path()).unwrap();
            assert!(old.is_empty());
            wal.reset().unwrap();
            wal.append(&changes(&[(b"k", Some(b"1"))])).unwrap();
            let retired = wal.rotate().unwrap();
            wal.append(&changes(&[(b"k", Some(b"2"))])).unwrap();
            // A crash before the checkpoint retired the old segment.
            let _ = retired;
        }
        let values = |records: &[Changes]| -> Vec<IVec> {
            records
                .iter()
                .filter(|c| !c.is_empty()) // markers
                .map(|c| c[&IVec::from(b"k")].clone().unwrap())
                .collect()
        };
        let (mut wal, records) = Wal::open(dir.path()).unwrap();
        assert_eq!(values(&records), vec![IVec::from(b"1"), IVec::from(b"2")]);
        // Emptied, then reused: the old records still lie behind the new one in the
        // files, and are not read again.
        wal.reset().unwrap();
        wal.append(&changes(&[(b"k", Some(b"3"))])).unwrap();
        drop(wal);
        let (mut wal, records) = Wal::open(dir.path()).unwrap();
        assert_eq!(values(&records), vec![IVec::from(b"3")]);
        // Allocated a MiB at a time, and never shrunk.
        for name in SEGMENTS {
            let len = std::fs::metadata(dir.path().join(name)).unwrap().len();
            assert_eq!(len, GROW_BYTES);
        }
        // After a clean reset nothing is read, whatever lies in the files.
        wal.reset().unwrap();
        drop(wal);
        let (_, records) = Wal::open(dir.path()).unwrap();
        assert!(values(&records).is_empty());
    }

    #[test]
    fn a_segment_grows_a_mib_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let (mut wal, _) = Wal::open(dir.path()).unwrap();
        wal.reset().unwrap();
        let value = vec![5u8; 50_000];
        for i in 0..30u32 {
            wal.append(&changes(&[(&i.to_be_bytes(), Some(&value))]))
                .unwrap();
        }
        drop(wal);
        let len = std::fs::metadata(dir.path().join(SEGMENTS[0]))
            .unwrap()
            .len();
        assert_eq!(len, 2 * GROW_BYTES);
        let (_, records) = Wal::open(dir.path()).unwrap();
        assert_eq!(records.iter().filter(|c| !c.is_empty()).count(), 30);
    }

    #[test]
    fn an_older_record_behind_newer_ones_is_not_read() {
        let a = changes(&[(b"k", Some(b"old"))]);
        let b = changes(&[(b"k", Some(b"new"))]);
        let mut bytes = encode(9, &b);
        bytes.extend(encode(3, &a));
        assert_eq!(decode_all(&bytes), vec![(9, b)]);
    }
}
