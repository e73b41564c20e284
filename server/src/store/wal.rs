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
//! of both segments is replayed into sled in sequence order, sled is made durable, and
//! both are emptied.
//!
//! **What sled already has is never replayed.** Sled keeps, in the same atomic batch as
//! the changes, the sequence number of the last record it has applied (*applied*, see
//! `sled_store.rs`); open replays only records above it. Without that, a crash that
//! left one segment emptied and the other not (between the two markers of a reset, or
//! after a checkpoint put a segment's records in sled and before it emptied it) would
//! replay older records over newer values: group metadata rolled back, acknowledged
//! messages no longer served, sequence numbers given out again.
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
/// A segment larger than this when emptied is cut back to [`GROW_BYTES`].
const MAX_KEPT_BYTES: u64 = 16 << 20;

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
    /// Opens both segments (made if missing) and returns every record they hold above
    /// `applied` (the last record sled has), in sequence order, for replay. Call
    /// [`Wal::reset`] once sled has them durably.
    pub fn open(dir: &Path, applied: u64) -> std::io::Result<(Self, Vec<(u64, Changes)>)> {
        let mut files = Vec::with_capacity(2);
        let mut records = Vec::new();
        let mut sizes = [0u64; 2];
        let mut last = applied;
        for (i, name) in SEGMENTS.into_iter().enumerate() {
            let mut f = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(dir.join(name))?;
            let mut bytes = Vec::new();
            f.read_to_end(&mut bytes)?;
            for (seq, changes) in decode_all(&bytes) {
                last = last.max(seq);
                if seq > applied {
                    records.push((seq, changes));
                }
            }
            sizes[i] = (bytes.len() as u64).max(GROW_BYTES);
            zero_fill(&f, bytes.len() as u64, sizes[i])?;
            files.push(f);
        }
        // The segments' names are durable before anything is acknowledged from them.
        sync_dir(dir)?;
        records.sort_by_key(|(seq, _)| *seq);
        let [a, b]: [File; 2] = files.try_into().map_err(|_| std::io::ErrorKind::Other)?;
        let wal = Self {
            files: [a, b],
            active: 0,
            ends: [0, 0],
            sizes,
            // Above every number ever written, markers included: a new record is always
            // newer than whatever lingers in either segment.
            next_seq: last + 1,
            dirty: [true, true],
        };
        Ok((wal, records))
    }

    /// The sequence number the next record will get.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Empties both segments (after their records reached sled durably), and cuts back
    /// one that grew large (a checkpoint that lagged), so that the next open reads little.
    pub fn reset(&mut self) -> std::io::Result<()> {
        for i in 0..2 {
            if i == 1 {
                crate::crash::point("open.reset");
            }
            self.retire(i)?;
        }
        self.active = 0;
        Ok(())
    }

    /// Writes a marker at the start of segment `i`: what it held is no longer read.
    fn empty(&mut self, i: usize) -> std::io::Result<()> {
        let marker = encode(self.next_seq, &Changes::new());
        // The number is used whatever happens: a marker half written is never followed by
        // another record of the same number.
        self.next_seq += 1;
        self.files[i].write_all_at(&marker, 0)?;
        self.files[i].sync_data()?;
        self.ends[i] = marker.len() as u64;
        self.dirty[i] = false;
        Ok(())
    }

    /// Appends a record of `changes` to the active segment and makes it durable. Returns
    /// the record's size.
    ///
    /// A failure to make room (the disk is full) or to write is [`AppendError::NotWritten`]:
    /// the record is not in the log as a whole, so it is never replayed, and the next
    /// record overwrites what part of it was written. A failed `fdatasync` is
    /// [`AppendError::Unknown`]: the record may or may not reach the disk, and after a
    /// failed `fdatasync` Linux may drop the unwritten pages and report the next one as a
    /// success, so no later sync can be trusted either; the caller must stop (and the next
    /// open's replay decides). Either way the record's sequence number is used up: two
    /// records never carry one number.
    pub fn append(&mut self, changes: &Changes) -> Result<usize, AppendError> {
        let record = encode(self.next_seq, changes);
        self.next_seq += 1;
        let i = self.active;
        let end = self.ends[i];
        let need = end + record.len() as u64;
        if need > self.sizes[i] {
            let size = need.div_ceil(GROW_BYTES) * GROW_BYTES;
            zero_fill(&self.files[i], self.sizes[i], size).map_err(AppendError::NotWritten)?;
            self.sizes[i] = size;
        }
        if crate::crash::fails("append") {
            return Err(AppendError::NotWritten(std::io::Error::other(
                "injected by a test",
            )));
        }
        let f = &self.files[i];
        f.write_all_at(&record, end)
            .map_err(AppendError::NotWritten)?;
        crate::crash::point("append.written");
        if crate::crash::fails("fdatasync") {
            return Err(AppendError::Unknown(std::io::Error::other(
                "injected by a test",
            )));
        }
        f.sync_data().map_err(AppendError::Unknown)?;
        crate::crash::point("append.synced");
        self.ends[i] += record.len() as u64;
        Ok(record.len())
    }

    /// Switches syncs to the other segment (emptying it first if an earlier checkpoint
    /// could not). Returns the segment that now only the checkpoint uses, and the number
    /// of its last record: once sled has its records, sled's *applied* becomes that.
    pub fn rotate(&mut self) -> std::io::Result<(usize, u64)> {
        let last = self.next_seq - 1;
        let next = self.active ^ 1;
        if self.dirty[next] {
            self.empty(next)?;
        }
        let old = self.active;
        self.active = next;
        // The old segment holds records until the checkpoint has put them in sled.
        self.dirty[old] = true;
        Ok((old, last))
    }

    /// Empties a segment whose records sled now has durably, and cuts it back if a lag
    /// made it large (its zeros would otherwise hold the disk space until a restart).
    pub fn retire(&mut self, segment: usize) -> std::io::Result<()> {
        self.empty(segment)?;
        if self.sizes[segment] > MAX_KEPT_BYTES {
            self.files[segment].set_len(GROW_BYTES)?;
            self.files[segment].sync_all()?;
            self.sizes[segment] = GROW_BYTES;
        }
        Ok(())
    }
}

/// Why a record did not become durable (see [`Wal::append`]).
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// The record is not in the log; the log may go on.
    #[error("write-ahead log: {0}")]
    NotWritten(std::io::Error),
    /// Whether the record reached the disk is unknown, and no later sync can be trusted.
    #[error("write-ahead log sync failed: {0}")]
    Unknown(std::io::Error),
}

/// `fsync`s a directory, so that the names made or renamed in it are durable.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
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
            let (mut wal, old) = Wal::open(dir.path(), 0).unwrap();
            assert!(old.is_empty());
            wal.reset().unwrap();
            wal.append(&changes(&[(b"k", Some(b"1"))])).unwrap();
            let retired = wal.rotate().unwrap();
            wal.append(&changes(&[(b"k", Some(b"2"))])).unwrap();
            // A crash before the checkpoint retired the old segment.
            let _ = retired;
        }
        let values = |records: &[(u64, Changes)]| -> Vec<IVec> {
            records
                .iter()
                .map(|(_, c)| c)
                .filter(|c| !c.is_empty()) // markers
                .map(|c| c[&IVec::from(b"k")].clone().unwrap())
                .collect()
        };
        let (mut wal, records) = Wal::open(dir.path(), 0).unwrap();
        assert_eq!(values(&records), vec![IVec::from(b"1"), IVec::from(b"2")]);
        // Emptied, then reused: the old records still lie behind the new one in the
        // files, and are not read again.
        wal.reset().unwrap();
        wal.append(&changes(&[(b"k", Some(b"3"))])).unwrap();
        drop(wal);
        let (mut wal, records) = Wal::open(dir.path(), 0).unwrap();
        assert_eq!(values(&records), vec![IVec::from(b"3")]);
        // Allocated a MiB at a time, and never shrunk.
        for name in SEGMENTS {
            let len = std::fs::metadata(dir.path().join(name)).unwrap().len();
            assert_eq!(len, GROW_BYTES);
        }
        // After a clean reset nothing is read, whatever lies in the files.
        wal.reset().unwrap();
        drop(wal);
        let (_, records) = Wal::open(dir.path(), 0).unwrap();
        assert!(values(&records).is_empty());
    }

    #[test]
    fn a_segment_grows_a_mib_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let (mut wal, _) = Wal::open(dir.path(), 0).unwrap();
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
        let (_, records) = Wal::open(dir.path(), 0).unwrap();
        assert_eq!(records.iter().filter(|(_, c)| !c.is_empty()).count(), 30);
    }

    #[test]
    fn records_sled_has_applied_are_not_replayed_and_numbers_stay_above_them() {
        let dir = tempfile::tempdir().unwrap();
        let (mut wal, _) = Wal::open(dir.path(), 0).unwrap();
        wal.reset().unwrap();
        for v in [b"1", b"2", b"3"] {
            wal.append(&changes(&[(b"k", Some(v))])).unwrap();
        }
        let (_, last) = wal.rotate().unwrap();
        wal.append(&changes(&[(b"k", Some(b"4"))])).unwrap();
        drop(wal);
        // Sled has the rotated segment: only the newer record comes back.
        let (wal, records) = Wal::open(dir.path(), last).unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].1[&IVec::from(b"k")], Some(IVec::from(b"4")));
        assert!(records[0].0 > last);
        assert!(wal.next_seq() > records[0].0);
        drop(wal);
        // Sled claims more than the log ever held (its log was kept, the segments lost):
        // nothing to replay, and new numbers start above sled's.
        let (wal, records) = Wal::open(dir.path(), 1000).unwrap();
        assert!(records.is_empty());
        assert_eq!(wal.next_seq(), 1001);
    }

    #[test]
    fn a_failed_append_uses_up_its_number() {
        let dir = tempfile::tempdir().unwrap();
        let (mut wal, _) = Wal::open(dir.path(), 0).unwrap();
        wal.reset().unwrap();
        let before = wal.next_seq();
        // A read-only handle in place of the segment: the write fails.
        let path = dir.path().join(SEGMENTS[0]);
        let good = std::mem::replace(&mut wal.files[0], File::open(&path).unwrap());
        let err = wal.append(&changes(&[(b"k", Some(b"lost"))])).unwrap_err();
        assert!(matches!(err, AppendError::NotWritten(_)), "{err}");
        assert_eq!(wal.next_seq(), before + 1);
        wal.files[0] = good;
        wal.append(&changes(&[(b"k", Some(b"kept"))])).unwrap();
        drop(wal);
        let (_, records) = Wal::open(dir.path(), 0).unwrap();
        let real: Vec<_> = records.iter().filter(|(_, c)| !c.is_empty()).collect();
        assert_eq!(real.len(), 1);
        assert_eq!(real[0].0, before + 1);
        assert_eq!(real[0].1[&IVec::from(b"k")], Some(IVec::from(b"kept")));
    }

    #[test]
    fn a_large_segment_is_cut_back_when_retired() {
        let dir = tempfile::tempdir().unwrap();
        let (mut wal, _) = Wal::open(dir.path(), 0).unwrap();
        wal.reset().unwrap();
        let value = vec![5u8; 1 << 20];
        for i in 0..20u32 {
            wal.append(&changes(&[(&i.to_be_bytes(), Some(&value))]))
                .unwrap();
        }
        let len = || {
            std::fs::metadata(dir.path().join(SEGMENTS[0]))
                .unwrap()
                .len()
        };
        assert!(len() > MAX_KEPT_BYTES);
        let (old, _) = wal.rotate().unwrap();
        wal.retire(old).unwrap();
        assert_eq!(len(), GROW_BYTES);
        // And used again from its start.
        wal.rotate().unwrap();
        wal.append(&changes(&[(b"k", Some(b"v"))])).unwrap();
        drop(wal);
        let (_, records) = Wal::open(dir.path(), 0).unwrap();
        assert_eq!(records.iter().filter(|(_, c)| !c.is_empty()).count(), 1);
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
