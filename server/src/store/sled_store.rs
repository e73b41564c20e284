//! [`Store`] on sled 0.34: one tree, records keyed by a one-byte kind and big-endian
//! numbers so that a group's log is one ordered range.
//!
//! | key | value |
//! |---|---|
//! | `G` group(16) | [`GroupMeta`] (postcard) |
//! | `K` group(16) epoch(8) | access public key (32 bytes) |
//! | `M` group(16) seq(8) | `0x00`, then the message's fields with its payload sealed (postcard: seq, epoch, kind, stored_at, [`Sealed`]) |
//! | `B` group(16) blob id(32) | the blob sealed (postcard: stored_at, [`Sealed`]) |
//! | `T` group(16) stored_at(8) blob id(32) | expires_at(8) length(8): the blobs of a group by age, for retention |
//! | `S` sha256(slot id)(32) | [`Slot`] (postcard) |
//! | `A` group(16) | the group's admin keys (postcard list) |
//!
//! Payloads and blobs are sealed under shredding keys ([`super::shred`]). A message record
//! written before expiries were recorded is a postcard [`Message`] whose payload was sealed
//! by the first shredding format; it never starts with `0x00` (its first field is a
//! sequence number, never 0), which is how the two are told apart.
//!
//! Group commit and the write-ahead log: no write goes to sled directly. Every change
//! (`append`, `trim`, a slot's compare-and-swap, …) is recorded in an in-memory overlay
//! (key → new value or removal; a later change to a key replaces an earlier one), and
//! [`Store::sync`] appends everything recorded since the last sync as **one** record to
//! the write-ahead log ([`super::wal`]) and `fdatasync`s it: that is the durability
//! point. The synced changes stay in memory, visible to reads, until a *checkpoint*
//! ([`Store::checkpoint`], run beside the flusher when a few MiB or a few seconds have
//! gathered) applies them to sled as one atomic `sled::Batch`, flushes sled, `fdatasync`s
//! its log (sled's own flush uses `sync_file_range(2)`, which neither flushes the
//! device's cache nor commits the file's grown length), and only then empties the log
//! segment. Reads look at the overlay's layers first (newest first), then sled, so every
//! call sees every write made before it.
//!
//! Why not sled's flush per sync: sled 0.34 hands each log-buffer write to its I/O thread
//! pool, waking all of its idle threads, and seals the buffer around every batch; per
//! sync, on two cores, that was most of the relay's latency at light load and had capped
//! it near 3 000 posts/s with one batch per message (BENCHMARKS.md). The log costs one
//! `pwrite` and one `fdatasync` per sync, on the syncing thread.

use super::index::{self, Chunk, Live};
use super::packs::{Packs, Pointer};
use super::shred::{Expiry, KeyRing, Sealed};
use super::values::{self, ValueFiles};
use super::wal::{AppendError, Changes, Wal};
use super::{BlobInfo, GroupMeta, RecordInfo, Result, Slot, SlotKey, Store, StoreError};
use kith_protocol::frame::{AccessPublicKey, AdminPublicKey};
use kith_protocol::{BlobId, Epoch, GroupId, Message, MessageKind, Seq};
use serde::{Deserialize, Serialize};
use sled::IVec;
use std::fs::File;
use std::ops::{Bound, ControlFlow, Range};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const GROUP: u8 = b'G';
const KEY: u8 = b'K';
const MESSAGE: u8 = b'M';
const BLOB: u8 = b'B';
const BLOB_AGE: u8 = b'T';
const SLOT: u8 = b'S';
/// A group's admin keys (one record per group, a postcard list).
const ADMINS: u8 = b'A';
/// The key of the last log record sled has applied (8 bytes, big-endian), written in the
/// same batch as the record's changes: open replays only what lies above it.
const APPLIED: &[u8] = b"L";
/// The first byte of a message record in the current format.
const MESSAGE_V2: u8 = 0;
/// The AEAD tag the shredding layer adds.
const TAG: u64 = 16;

/// A message record as stored (after the [`MESSAGE_V2`] byte).
#[derive(Serialize, Deserialize)]
struct StoredMessage {
    seq: Seq,
    epoch: Epoch,
    kind: MessageKind,
    stored_at: u64,
    body: Sealed,
}

/// The same record, decoded without copying the ciphertext (bookkeeping only).
#[derive(Deserialize)]
struct StoredMessageHead<'a> {
    seq: Seq,
    epoch: Epoch,
    _kind: MessageKind,
    stored_at: u64,
    expires_at: u64,
    _period: u64,
    _check: [u8; 4],
    _nonce: [u8; 24],
    #[serde(borrow)]
    ciphertext: &'a [u8],
}

/// A record of the first format, decoded without copying the ciphertext.
#[derive(Deserialize)]
struct LegacyMessageHead<'a> {
    seq: Seq,
    epoch: Epoch,
    _kind: MessageKind,
    stored_at: u64,
    #[serde(borrow)]
    payload: &'a [u8],
}

/// A blob as stored.
#[derive(Serialize, Deserialize)]
struct StoredBlob {
    stored_at: u64,
    body: Sealed,
}

/// What a message's sealing is bound to: where and what it is.
fn message_context(g: &GroupId, seq: Seq, epoch: Epoch, kind: MessageKind, at: u64) -> Vec<u8> {
    let mut c = Vec::with_capacity(64);
    c.extend_from_slice(b"kith relay message v2\0");
    c.extend_from_slice(&g.0);
    c.extend_from_slice(&seq.to_be_bytes());
    c.extend_from_slice(&epoch.to_be_bytes());
    c.push(match kind {
        MessageKind::Application => 0,
        MessageKind::Commit => 1,
        MessageKind::Repair => 2,
    });
    c.extend_from_slice(&at.to_be_bytes());
    c
}

fn blob_context(g: &GroupId, id: &BlobId, stored_at: u64) -> Vec<u8> {
    let mut c = Vec::with_capacity(80);
    c.extend_from_slice(b"kith relay blob v1\0");
    c.extend_from_slice(&g.0);
    c.extend_from_slice(id);
    c.extend_from_slice(&stored_at.to_be_bytes());
    c
}

/// A checkpoint is wanted once this much is in the log but not in sled…
const CHECKPOINT_BYTES: usize = 4 << 20;
/// Past this much in the log but not in sled, the flusher waits for checkpoints before
/// its next sync ([`Store::backlogged`]): writers see latency, not errors, and their
/// connections stop being read…
const MAX_BACKLOG_BYTES: usize = 64 << 20;
/// …and past it while checkpoints fail (or past four times as much in any case: one
/// sync's batch can be large), new writes are refused. Together they bound the memory of the overlay, the size of the log
/// segments and what an open reads back.
/// [`MAX_BACKLOG_BYTES`], or what the crash tests lowered it to.
fn backlog_limit() -> usize {
    crate::crash::tunable("BACKLOG_BYTES", MAX_BACKLOG_BYTES)
}

/// After a failed checkpoint, the next waits this long.
const CHECKPOINT_RETRY: Duration = Duration::from_secs(1);
/// New writes are refused while the data dir's file system has less free than this…
const FREE_FLOOR_BYTES: usize = 96 << 20;
/// …and a checkpoint waits until there is twice its size free, plus this: sled stops
/// working for good after one failed write (it keeps the error and returns it from every
/// later call, reads included, until it is opened again), so it must never meet a full
/// disk. Writes are refused first, cleanly, by the log.
const CHECKPOINT_FREE_MARGIN: u64 = 16 << 20;
/// How long a reading of the free space is used.
const FREE_READING: Duration = Duration::from_millis(50);
/// …or once the oldest of it is this old.
const CHECKPOINT_AFTER: Duration = Duration::from_secs(10);
/// A checkpoint writes to sled this much at a time…
const CHECKPOINT_SLICE: usize = 256 << 10;
/// …with this pause between slices.
const CHECKPOINT_PAUSE: Duration = Duration::from_millis(2);

/// The writes sled does not have yet, in layers from newest to oldest (see the module
/// doc). A key's newest layer wins.
struct Overlay {
    /// Recorded since the last sync began.
    current: Changes,
    /// Being written to the log by the sync in progress.
    applying: Option<Arc<Changes>>,
    /// In the log's active segment.
    durable: Changes,
    /// The log bytes behind `durable`.
    durable_bytes: usize,
    /// When `durable` got its oldest change.
    durable_since: Option<Instant>,
    /// In the retired segment, being applied to sled by a checkpoint.
    checkpointing: Option<Arc<Changes>>,
    /// The log bytes behind `checkpointing`.
    checkpointing_bytes: usize,
    /// When the last checkpoint failed, if the last one did.
    checkpoint_failed: Option<Instant>,
    /// Writes recorded so far ([`Store::write_mark`]).
    written: u64,
    /// `written` when the last sync that succeeded took its changes
    /// ([`Store::synced_mark`]).
    synced: u64,
}

impl Overlay {
    fn new() -> Self {
        Self {
            current: Changes::new(),
            applying: None,
            durable: Changes::new(),
            durable_bytes: 0,
            durable_since: None,
            checkpointing: None,
            checkpointing_bytes: 0,
            checkpoint_failed: None,
            written: 0,
            synced: 0,
        }
    }

    /// The log bytes that sled does not have yet.
    fn backlog(&self) -> usize {
        self.durable_bytes + self.checkpointing_bytes
    }

    /// The newest change to `key`, if any layer has one.
    fn find(&self, key: &[u8]) -> Option<&Option<IVec>> {
        self.current
            .get(key)
            .or_else(|| self.applying.as_ref().and_then(|a| a.get(key)))
            .or_else(|| self.durable.get(key))
            .or_else(|| self.checkpointing.as_ref().and_then(|c| c.get(key)))
    }
}

/// See [`SledStore::doomed`].
#[derive(Default)]
struct Doomed {
    files: Vec<String>,
    packs: Vec<u64>,
}

/// The sled engine.
pub struct SledStore {
    db: sled::Db,
    log_file: Option<File>,
    /// sled's `blobs/` directory, and the files in it already synced (sled never
    /// rewrites one).
    blob_dir: std::path::PathBuf,
    synced_blobs: Mutex<std::collections::HashSet<std::ffi::OsString>>,
    /// Large values, kept out of sled ([`values`]).
    values: ValueFiles,
    /// The sled keys whose value is in a file, with the file's name: which keys a
    /// checkpoint replaces a file of, without reading sled for every key.
    file_keys: Mutex<std::collections::HashMap<IVec, String>>,
    /// Message records, many to a file ([`super::packs`]), and what each pack holds that
    /// sled's index points to (as sled has it, durably).
    packs: Packs,
    live: Mutex<std::collections::HashMap<u64, Live>>,
    /// Packs a copy-forward did not empty (their count disagrees with the index, which
    /// would be a bug): not tried again by this process.
    stuck: Mutex<std::collections::HashSet<u64>>,
    /// Sled holds message records written before the index, inline under their `M` key.
    legacy: bool,
    /// Files of values and packs that sled no longer refers to, durably: deleted at the
    /// end of the next checkpoint, so that a read that found the old reference just
    /// before has long finished (and a read that misses one looks again).
    doomed: Mutex<Doomed>,
    /// The data dir, and the last reading of its free space (when, bytes).
    dir: std::path::PathBuf,
    free: Mutex<Option<(Instant, u64)>>,
    ring: KeyRing,
    overlay: Mutex<Overlay>,
    /// The write-ahead log; its lock also makes it one sync at a time (the flusher and
    /// retention both sync).
    wal: Mutex<Wal>,
    /// Whether open finished: only then does a drop move the log into sled.
    opened: bool,
    /// One checkpoint at a time; holds the segment it retires and that segment's last
    /// record number until it is done.
    checkpoint: Mutex<Option<(usize, u64)>>,
    /// Tests: leave the log unapplied on drop, as a crash would.
    #[cfg(test)]
    crash_on_drop: std::sync::atomic::AtomicBool,
}

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> Self {
        StoreError::Engine(e.to_string())
    }
}

impl From<std::io::Error> for StoreError {
    fn from(e: std::io::Error) -> Self {
        StoreError::Engine(e.to_string())
    }
}

/// A failed sled write: sled keeps the error and returns it from every later call, reads
/// included, until it is opened again, so the relay must stop (the log still holds
/// everything sled did not get).
fn engine_failed(e: sled::Error) -> StoreError {
    StoreError::Failed(format!("sled: {e}"))
}

fn group_key(g: &GroupId) -> [u8; 17] {
    let mut k = [0u8; 17];
    k[0] = GROUP;
    k[1..].copy_from_slice(&g.0);
    k
}

fn admins_key(g: &GroupId) -> [u8; 17] {
    let mut k = group_key(g);
    k[0] = ADMINS;
    k
}

fn numbered_key(kind: u8, g: &GroupId, n: u64) -> [u8; 25] {
    let mut k = [0u8; 25];
    k[0] = kind;
    k[1..17].copy_from_slice(&g.0);
    k[17..].copy_from_slice(&n.to_be_bytes());
    k
}

fn blob_key(g: &GroupId, id: &BlobId) -> [u8; 49] {
    let mut k = [0u8; 49];
    k[0] = BLOB;
    k[1..17].copy_from_slice(&g.0);
    k[17..].copy_from_slice(id);
    k
}

fn blob_age_key(g: &GroupId, stored_at: u64, id: &BlobId) -> [u8; 57] {
    let mut k = [0u8; 57];
    k[0] = BLOB_AGE;
    k[1..17].copy_from_slice(&g.0);
    k[17..25].copy_from_slice(&stored_at.to_be_bytes());
    k[25..].copy_from_slice(id);
    k
}

fn slot_key(key: &SlotKey) -> [u8; 33] {
    let mut k = [0u8; 33];
    k[0] = SLOT;
    k[1..].copy_from_slice(key);
    k
}

/// The group and sequence number of a message record's key.
fn message_of(key: &[u8]) -> Result<(GroupId, Seq)> {
    if key.len() != 25 || key[0] != MESSAGE {
        return Err(StoreError::Corrupt);
    }
    let group = GroupId(key[1..17].try_into().expect("16 bytes"));
    Ok((
        group,
        u64::from_be_bytes(key[17..].try_into().expect("8 bytes")),
    ))
}

/// How a pointer into a pack travels between reading the index and reading the record
/// ([`SledStore::resolve`]); never stored.
const POINTER: &[u8] = b"\xFFkith-pack-ptr\x01";

fn pointer_value(p: Pointer) -> IVec {
    let mut v = Vec::with_capacity(POINTER.len() + Pointer::LEN);
    v.extend_from_slice(POINTER);
    p.encode(&mut v);
    IVec::from(v)
}

fn pointer_of(v: &[u8]) -> Option<Pointer> {
    Pointer::decode(v.strip_prefix(POINTER)?)
}

/// What one slice of a checkpoint applies to sled (see [`SledStore::to_sled`]).
#[derive(Default)]
struct Slice {
    batch: sled::Batch,
    /// What the batch writes, roughly.
    bytes: usize,
    /// Value files written for the batch, to sync before it.
    files: Vec<File>,
    /// Value files the batch stops referring to.
    replaced: Vec<String>,
    /// The live counts of the packs the batch's index changes touch.
    touched: std::collections::HashMap<u64, Live>,
    /// Packs whose count reached zero in an applied batch.
    dead: Vec<u64>,
}

impl Slice {
    fn put_chunk(&mut self, (key, chunk): (IVec, Chunk)) {
        if chunk.is_empty() {
            self.batch.remove(key);
        } else {
            let v = chunk.encode();
            self.bytes += key.len() + v.len();
            self.batch.insert(key, v);
        }
    }

    /// Counts a record in (`plus`) or out of its pack.
    fn count(
        &mut self,
        p: Pointer,
        plus: bool,
        live: &Mutex<std::collections::HashMap<u64, Live>>,
    ) {
        self.touched
            .entry(p.pack)
            .or_insert_with(|| {
                let live = live.lock().expect("pack count lock poisoned");
                live.get(&p.pack).copied().unwrap_or_default()
            })
            .add(p.len, plus);
    }

    /// The touched counts into the batch.
    fn stage_counts(&mut self) {
        for (id, l) in &self.touched {
            let k = index::live_key(*id);
            if l.count == 0 {
                self.batch.remove(&k[..]);
            } else {
                self.batch.insert(&k[..], &l.encode()[..]);
            }
        }
    }
}

fn encode<T: serde::Serialize>(v: &T) -> Vec<u8> {
    postcard::to_stdvec(v).expect("postcard encoding into a Vec is infallible")
}

fn decode<'a, T: serde::Deserialize<'a>>(b: &'a [u8]) -> Result<T> {
    postcard::from_bytes(b).map_err(|_| StoreError::Corrupt)
}

impl SledStore {
    /// Opens (or creates) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir)?;
        let config = sled::Config::new()
            .path(dir)
            .cache_capacity(64 * 1024 * 1024)
            // sled writes its log only when told (checkpoints, open): a background flush
            // could put a log entry on disk before the blob file it names is synced.
            .flush_every_ms(None);
        // sled's own threads may hold its file lock a moment after the previous `Db` in
        // this process was dropped (seen in the store's reopen tests under load): a
        // short wait, not a failure. Another process holding it still fails, after it.
        let started = Instant::now();
        let db = loop {
            match config.open() {
                // sled reports it as `Other` with this text around the OS error.
                Err(sled::Error::Io(e))
                    if e.to_string().starts_with("could not acquire lock")
                        && started.elapsed() < Duration::from_secs(2) =>
                {
                    std::thread::sleep(Duration::from_millis(20));
                }
                other => break other?,
            }
        };
        // sled writes its `conf` without syncing it, or the directory: a power cut then
        // left an empty one, and sled would not open again (the power-cut test).
        File::open(dir.join("conf"))?.sync_all()?;
        super::wal::sync_dir(dir)?;
        let log_file = File::open(dir.join("db")).ok();
        let ring = KeyRing::open(dir)?;
        let applied = match db.get(APPLIED)? {
            Some(v) => u64::from_be_bytes(v.as_ref().try_into().map_err(|_| StoreError::Corrupt)?),
            None => 0,
        };
        // What the log holds from before a crash that sled does not have yet: into sled,
        // durably, with the number of its last record; then the log starts empty.
        let (wal, records) = Wal::open(dir, applied)?;
        let mut live = std::collections::HashMap::new();
        for kv in db.scan_prefix([index::LIVE]) {
            let (k, v) = kv?;
            let id = k
                .get(1..9)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_be_bytes)
                .ok_or(StoreError::Corrupt)?;
            live.insert(id, Live::decode(&v)?);
        }
        // Message records written before the index, inline in sled: while any is left,
        // a message's change also removes its `M` key. (Large records under `M` are
        // references to value files, which `file_keys` knows.)
        let mut legacy = false;
        for kv in db.scan_prefix([MESSAGE]) {
            if values::reference(&kv?.1).is_none() {
                legacy = true;
                break;
            }
        }
        let mut store = Self {
            db,
            log_file,
            blob_dir: dir.join("blobs"),
            synced_blobs: Mutex::new(std::collections::HashSet::new()),
            values: ValueFiles::open(dir)?,
            file_keys: Mutex::new(std::collections::HashMap::new()),
            packs: Packs::open(dir)?,
            live: Mutex::new(live),
            stuck: Mutex::new(std::collections::HashSet::new()),
            legacy,
            doomed: Mutex::new(Doomed::default()),
            dir: dir.to_path_buf(),
            free: Mutex::new(None),
            ring,
            overlay: Mutex::new(Overlay::new()),
            wal: Mutex::new(wal),
            checkpoint: Mutex::new(None),
            opened: false,
            #[cfg(test)]
            crash_on_drop: std::sync::atomic::AtomicBool::new(false),
        };
        let replayed = (|| {
            if let Some(&(last, _)) = records.last() {
                let mut all = Changes::new();
                for (_, changes) in records {
                    all.extend(changes);
                }
                store.to_sled(&all, last, false)?;
                crate::crash::point("open.replayed");
            }
            store.wal.lock().expect("store log lock poisoned").reset()?;
            // Files a crash left that sled does not refer to.
            let (swept, live) = store.values.sweep(|k| Ok(store.db.get(k)?))?;
            if swept > 0 {
                tracing::debug!(swept, "value files without a reference removed");
            }
            *store.file_keys.lock().expect("file key lock poisoned") = live
                .into_iter()
                .map(|(k, name)| (IVec::from(k), name))
                .collect();
            // Packs sled has no count for: written by a checkpoint that never got to
            // sled, or emptied by one that did and not deleted before a crash.
            let orphans: Vec<u64> = {
                let live = store.live.lock().expect("pack count lock poisoned");
                let ids = store.packs.list()?;
                ids.into_iter()
                    .filter(|id| !live.contains_key(id))
                    .collect()
            };
            if !orphans.is_empty() {
                tracing::debug!(packs = orphans.len(), "packs nothing points to removed");
                store.packs.remove(&orphans);
            }
            Ok(())
        })();
        #[cfg(any(test, feature = "test-hooks"))]
        let replayed = replayed.and_then(|()| store.verify_counts());
        match replayed {
            Ok(()) => {
                store.opened = true;
                Ok(store)
            }
            Err(e) => {
                // Sled may be stuck on its error: dropping it would wait for a flush
                // that never ends. The process stops on this error anyway.
                std::mem::forget(store);
                Err(e)
            }
        }
    }

    /// Makes what sled holds durable against a power cut: the files sled 0.34 keeps
    /// large tree pages in (`blobs/`, written without `fsync`, their names neither)
    /// synced first, then its flush (`sync_file_range(2)` only) and `fdatasync` on its
    /// log. The client's store has the same step (`client-cli/engine/src/store/durable.rs`).
    fn sled_durable(&self) -> Result<()> {
        self.sync_sled_blobs()?;
        self.db.flush().map_err(engine_failed)?;
        if let Some(f) = &self.log_file {
            f.sync_data()?;
        }
        // sled renames its snapshots into place without syncing the directory: only
        // now, with the log they refer to durable, are their names made durable.
        super::wal::sync_dir(&self.dir)?;
        Ok(())
    }

    /// Applies `changes` to sled with `last` as its *applied* number, durably: message
    /// records to a pack and large values to files of their own first (synced before
    /// the batch that refers to them), in slices (each flushed, with a pause between)
    /// when `sliced`, and the files and packs nothing refers to any more doomed. Not
    /// atomic as a whole, and need not be: until the last slice says `last` is applied,
    /// replay at open redoes all of it. Each slice is atomic, and carries the live counts
    /// of the packs its index changes touch, so the counts always match the index.
    fn to_sled(&self, changes: &Changes, last: u64, sliced: bool) -> Result<()> {
        let unique = format!("{last:016x}{:016x}", rand::random::<u64>());
        // Updated as sled will be; on a failure the next open rebuilds it from the files.
        let mut file_keys = self.file_keys.lock().expect("file key lock poisoned");
        let mut slice = Slice::default();
        let messages = changes.range::<[u8], _>((
            Bound::Included(&[MESSAGE][..]),
            Bound::Excluded(&[MESSAGE + 1][..]),
        ));
        // The small records, into the active pack, durably, before any batch points there.
        let mut records = Vec::new();
        for (k, v) in messages.clone() {
            if let Some(v) = v.as_ref().filter(|v| v.len() < values::THRESHOLD) {
                let (group, seq) = message_of(k)?;
                records.push((group, seq, &v[..]));
            }
        }
        let mut pointers = Vec::new().into_iter();
        if !records.is_empty() {
            pointers = self.packs.append(&records)?.into_iter();
            self.packs.sync()?;
            crate::crash::point("pack.synced");
        }
        drop(records);
        let mut chunk: Option<(IVec, Chunk)> = None;
        for (n, (k, v)) in messages.enumerate() {
            let (group, seq) = message_of(k)?;
            let ck = index::key(&group, seq);
            if chunk.as_ref().is_none_or(|(key, _)| key[..] != ck[..]) {
                if let Some(done) = chunk.take() {
                    slice.put_chunk(done);
                    if sliced {
                        self.maybe_apply(&mut slice)?;
                    }
                }
                let c = match self.db.get(ck)? {
                    Some(v) => Chunk::decode(&v)?,
                    None => Chunk::default(),
                };
                chunk = Some((IVec::from(&ck[..]), c));
            }
            let c = &mut chunk.as_mut().expect("set above").1;
            let small = v.as_ref().is_some_and(|v| v.len() < values::THRESHOLD);
            let pointer = small.then(|| pointers.next().expect("one pointer per small record"));
            if let Some(old) = c.set(seq, pointer) {
                slice.count(old, false, &self.live);
            }
            if let Some(p) = pointer {
                slice.count(p, true, &self.live);
            }
            match v {
                Some(v) if !small => {
                    self.to_file(&mut slice, &mut file_keys, &unique, n, k, v)?;
                }
                _ => {
                    // The record's `M` key, if sled has one: a large value's reference, or a
                    // record from before the index. (Open replays before it knows
                    // `file_keys`.)
                    if let Some(name) = file_keys.remove(k) {
                        slice.replaced.push(name);
                        slice.batch.remove(k.clone());
                    } else if self.legacy || !self.opened {
                        slice.batch.remove(k.clone());
                    }
                }
            }
        }
        if let Some(done) = chunk.take() {
            slice.put_chunk(done);
        }
        let others = changes
            .range::<[u8], _>((Bound::Unbounded, Bound::Excluded(&[MESSAGE][..])))
            .chain(
                changes.range::<[u8], _>((Bound::Included(&[MESSAGE + 1][..]), Bound::Unbounded)),
            );
        for (n, (k, v)) in others.enumerate() {
            slice.bytes += k.len() + v.as_ref().map_or(0, |v| v.len());
            if let Some(name) = file_keys.remove(k) {
                slice.replaced.push(name);
            }
            match v {
                Some(v) if v.len() >= values::THRESHOLD => {
                    self.to_file(&mut slice, &mut file_keys, &unique, changes.len() + n, k, v)?;
                }
                Some(v) => slice.batch.insert(k.clone(), v.clone()),
                None => slice.batch.remove(k.clone()),
            }
            if sliced {
                self.maybe_apply(&mut slice)?;
            }
        }
        slice.batch.insert(APPLIED, &last.to_be_bytes());
        slice.stage_counts();
        self.values.sync(std::mem::take(&mut slice.files))?;
        crate::crash::point("values.written");
        self.db
            .apply_batch(std::mem::take(&mut slice.batch))
            .map_err(engine_failed)?;
        self.sled_durable()?;
        self.commit_counts(&mut slice);
        let mut doomed = self.doomed.lock().expect("doomed lock poisoned");
        doomed.files.extend(slice.replaced);
        doomed.packs.extend(slice.dead);
        Ok(())
    }

    /// A large value to a file of its own (synced with the slice), its reference to sled.
    fn to_file(
        &self,
        slice: &mut Slice,
        file_keys: &mut std::collections::HashMap<IVec, String>,
        unique: &str,
        n: usize,
        k: &IVec,
        v: &IVec,
    ) -> Result<()> {
        let (r, f) = self.values.write(k, &format!("{unique}{n:x}"), v)?;
        slice.files.push(f);
        let name = values::reference(&r).unwrap_or_default().to_string();
        if let Some(old) = file_keys.insert(k.clone(), name) {
            slice.replaced.push(old);
        }
        slice.batch.insert(k.clone(), r);
        Ok(())
    }

    /// Applies the slice's batch, durably, once it holds enough (see [`Self::to_sled`]).
    fn maybe_apply(&self, slice: &mut Slice) -> Result<()> {
        if slice.bytes < crate::crash::tunable("CHECKPOINT_SLICE", CHECKPOINT_SLICE) {
            return Ok(());
        }
        slice.stage_counts();
        self.values.sync(std::mem::take(&mut slice.files))?;
        self.db
            .apply_batch(std::mem::take(&mut slice.batch))
            .map_err(engine_failed)?;
        self.commit_counts(slice);
        self.sync_sled_blobs()?;
        self.db.flush().map_err(engine_failed)?;
        crate::crash::point("checkpoint.slice");
        slice.bytes = 0;
        // The tests slow checkpoints down with a longer pause (a slow disk).
        let pause = crate::crash::tunable("CHECKPOINT_PAUSE_MS", 0) as u64;
        std::thread::sleep(CHECKPOINT_PAUSE.max(Duration::from_millis(pause)));
        Ok(())
    }

    /// The counts a slice's applied batch carried become the store's.
    fn commit_counts(&self, slice: &mut Slice) {
        let mut live = self.live.lock().expect("pack count lock poisoned");
        for (id, l) in slice.touched.drain() {
            if l.count == 0 {
                live.remove(&id);
                slice.dead.push(id);
            } else {
                live.insert(id, l);
            }
        }
    }

    /// Free bytes on the data dir's file system (for an unprivileged process), read at
    /// most every [`FREE_READING`]; `u64::MAX` if it cannot be read.
    fn free_bytes(&self) -> u64 {
        let mut free = self.free.lock().expect("free space lock poisoned");
        if let Some((at, bytes)) = *free
            && at.elapsed() < FREE_READING
        {
            return bytes;
        }
        let bytes = rustix::fs::statvfs(&self.dir)
            .map(|s| s.f_bavail.saturating_mul(s.f_frsize))
            .unwrap_or(u64::MAX);
        *free = Some((Instant::now(), bytes));
        bytes
    }

    /// Syncs the blob files sled wrote since the last call, and their directory.
    fn sync_sled_blobs(&self) -> Result<()> {
        let mut synced = self.synced_blobs.lock().expect("blob list lock poisoned");
        let mut present = std::collections::HashSet::new();
        let mut new = false;
        if let Ok(entries) = std::fs::read_dir(&self.blob_dir) {
            for entry in entries {
                let name = entry?.file_name();
                if !synced.contains(&name) {
                    File::open(self.blob_dir.join(&name))?.sync_all()?;
                    new = true;
                }
                present.insert(name);
            }
        }
        if new {
            super::wal::sync_dir(&self.blob_dir)?;
        }
        *synced = present;
        Ok(())
    }

    /// Compare-and-swap through the overlay: atomic with every other write, which all
    /// go through the overlay's lock.
    fn cas(&self, key: &[u8], old: Option<&[u8]>, new: Option<Vec<u8>>) -> Result<bool> {
        let mut o = self.overlay();
        let current = match o.find(key) {
            Some(v) => v.clone(),
            None => self.sled_get(key)?,
        };
        if current.as_deref() != old {
            return Ok(false);
        }
        o.current.insert(IVec::from(key), new.map(IVec::from));
        o.written += 1;
        Ok(true)
    }

    fn overlay(&self) -> std::sync::MutexGuard<'_, Overlay> {
        self.overlay.lock().expect("store overlay lock poisoned")
    }

    /// Records changes for the next sync, in order.
    fn record(&self, changes: impl IntoIterator<Item = (IVec, Option<IVec>)>) {
        let mut o = self.overlay();
        for (k, v) in changes {
            o.current.insert(k, v);
        }
        o.written += 1;
    }

    /// One record: the overlay's version if it has one, else sled's.
    fn get(&self, key: &[u8]) -> Result<Option<IVec>> {
        if let Some(v) = self.overlay().find(key) {
            return Ok(v.clone());
        }
        // Not in the overlay when we looked; a checkpoint may have moved it to sled
        // since, which is where we look next.
        self.sled_get(key)
    }

    /// Sled's value of a key, with a reference to a value file read.
    fn sled_get(&self, key: &[u8]) -> Result<Option<IVec>> {
        for _ in 0..3 {
            let stored = if key.first() == Some(&MESSAGE) {
                self.sled_message(key)?
            } else {
                self.db.get(key)?
            };
            let Some(v) = stored else {
                return Ok(None);
            };
            match self.resolve(v)? {
                Some(v) => return Ok(Some(v)),
                // Replaced and deleted since we read the reference: read again.
                None => continue,
            }
        }
        Err(StoreError::Engine(
            "a stored value's file is missing".into(),
        ))
    }

    /// Where sled has a message record: a pointer into a pack (as [`pointer_value`]) from
    /// the index, or the value of its `M` key.
    fn sled_message(&self, key: &[u8]) -> Result<Option<IVec>> {
        let (group, seq) = message_of(key)?;
        if let Some(v) = self.db.get(index::key(&group, seq))?
            && let Some(p) = Chunk::decode(&v)?.get(seq)
        {
            return Ok(Some(pointer_value(p)));
        }
        Ok(self.db.get(key)?)
    }

    /// A value as sled stores it, with a reference read from its file or pack; `None` if
    /// the file or pack is gone (sled refers to another value by now).
    fn resolve(&self, v: IVec) -> Result<Option<IVec>> {
        if let Some(p) = pointer_of(&v) {
            return self.packs.read(&p);
        }
        match values::reference(&v) {
            None => Ok(Some(v)),
            Some(name) => match self.values.read(name) {
                Ok(v) => Ok(Some(v)),
                Err(_) if !self.values.exists(name) => Ok(None),
                Err(e) => Err(e),
            },
        }
    }

    /// The records in `[lo, hi)` in key order, sled's merged with the overlay's.
    fn range(&self, lo: &[u8], hi: Bound<&[u8]>) -> impl Iterator<Item = Result<(IVec, IVec)>> {
        self.merged(lo, hi, |bounds| {
            Box::new(self.db.range(bounds).map(|kv| kv.map_err(Into::into)))
        })
    }

    /// A group's message records from `from` on, in order, sled's (the index's pointers
    /// and any `M` keys) merged with the overlay's.
    fn messages(&self, group: &GroupId, from: Seq) -> impl Iterator<Item = Result<(IVec, IVec)>> {
        let lo = numbered_key(MESSAGE, group, from);
        let hi = numbered_key(MESSAGE, group, u64::MAX);
        let group = *group;
        self.merged(&lo, Bound::Included(&hi), move |bounds| {
            let chunks = self
                .db
                .range(index::key(&group, from)..=index::key(&group, u64::MAX))
                .flat_map(move |kv| {
                    let entries = kv.map_err(StoreError::from).and_then(|(k, v)| {
                        let first = index::first_seq(&k)?;
                        Ok(Chunk::decode(&v)?
                            .from(first, from)
                            .map(|(seq, p)| {
                                let key = IVec::from(&numbered_key(MESSAGE, &group, seq)[..]);
                                Ok((key, pointer_value(p)))
                            })
                            .collect::<Vec<_>>())
                    });
                    match entries {
                        Ok(v) => v,
                        Err(e) => vec![Err(e)],
                    }
                });
            let keys = self.db.range(bounds).map(|kv| kv.map_err(Into::into));
            Box::new(merge_sorted(chunks, keys))
        })
    }

    /// `db`'s records (opened with the bounds while the overlay is read, see below) merged
    /// with the overlay's in `[lo, hi)`.
    fn merged<'a, F>(
        &'a self,
        lo: &[u8],
        hi: Bound<&[u8]>,
        db: F,
    ) -> impl Iterator<Item = Result<(IVec, IVec)>> + use<'a, F>
    where
        F: FnOnce((Bound<IVec>, Bound<IVec>)) -> DbRecords<'a>,
    {
        let hi_owned = match hi {
            Bound::Included(h) => Bound::Included(IVec::from(h)),
            Bound::Excluded(h) => Bound::Excluded(IVec::from(h)),
            Bound::Unbounded => Bound::Unbounded,
        };
        let bounds = (Bound::Included(IVec::from(lo)), hi_owned);
        // The overlay's part, newest change per key (usually empty or a few records).
        let mut over = Changes::new();
        let db = {
            let o = self.overlay();
            // Oldest layer first, so that newer changes replace older ones.
            let layers = [
                o.checkpointing.as_deref(),
                Some(&o.durable),
                o.applying.as_deref(),
                Some(&o.current),
            ];
            for layer in layers.into_iter().flatten() {
                over.extend(
                    layer
                        .range(bounds.clone())
                        .map(|(k, v)| (k.clone(), v.clone())),
                );
            }
            // A checkpoint may move records from the overlay to sled while we read: they
            // are then found in both, with the same value, and the overlay's is used.
            db(bounds)
        };
        let mut db = db.peekable();
        let mut over = over.into_iter().peekable();
        std::iter::from_fn(move || {
            loop {
                let order = match (db.peek(), over.peek()) {
                    (None, None) => return None,
                    (Some(Err(_)), _) | (Some(Ok(_)), None) => std::cmp::Ordering::Greater,
                    (None, Some(_)) => std::cmp::Ordering::Less,
                    (Some(Ok((dk, _))), Some((ok, _))) => ok.cmp(dk),
                };
                if order == std::cmp::Ordering::Equal {
                    // The overlay's change replaces sled's record.
                    db.next();
                }
                if order != std::cmp::Ordering::Greater {
                    match over.next() {
                        Some((k, Some(v))) => return Some(Ok((k, v))),
                        // Removed since the last sync.
                        Some((_, None)) => continue,
                        None => return None,
                    }
                }
                return match db.next()? {
                    Err(e) => Some(Err(e)),
                    Ok((k, v)) => match self.resolve(v) {
                        Ok(Some(v)) => Some(Ok((k, v))),
                        // Replaced since the range read it: its value now, if any.
                        Ok(None) => match self.get(&k) {
                            Ok(Some(v)) => Some(Ok((k, v))),
                            Ok(None) => continue,
                            Err(e) => Some(Err(e)),
                        },
                        Err(e) => Some(Err(e)),
                    },
                };
            }
        })
    }

    /// The stored form of a message: its payload sealed under the key of its expiry.
    fn seal(&self, group: &GroupId, message: &Message, expiry: Expiry) -> Result<Vec<u8>> {
        let m = message;
        let context = message_context(group, m.seq, m.epoch, m.kind, m.stored_at);
        let stored = StoredMessage {
            seq: m.seq,
            epoch: m.epoch,
            kind: m.kind,
            stored_at: m.stored_at,
            body: self.ring.seal(m.stored_at, expiry, &context, &m.payload)?,
        };
        // One allocation of the right size: growing from empty copied the ciphertext
        // several times (a fifth of sealing, by perf).
        let mut out = Vec::with_capacity(64 + stored.body.ciphertext.len());
        out.push(MESSAGE_V2);
        Ok(postcard::to_extend(&stored, out).expect("postcard encoding into a Vec is infallible"))
    }

    /// The message back, or `None` if its key was shredded.
    fn unseal(&self, group: &GroupId, bytes: &[u8]) -> Result<Option<Message>> {
        if let Some(rest) = bytes.strip_prefix(&[MESSAGE_V2]) {
            let s: StoredMessage = decode(rest)?;
            let context = message_context(group, s.seq, s.epoch, s.kind, s.stored_at);
            return Ok(self.ring.unseal(&s.body, &context)?.map(|payload| Message {
                seq: s.seq,
                epoch: s.epoch,
                kind: s.kind,
                stored_at: s.stored_at,
                payload,
            }));
        }
        let mut m: Message = decode(bytes)?;
        match self
            .ring
            .unseal_legacy(m.stored_at, group, m.seq, &m.payload)?
        {
            Some(p) => {
                m.payload = p;
                Ok(Some(m))
            }
            None => Ok(None),
        }
    }

    /// A message record's bookkeeping, without opening it.
    fn info(bytes: &[u8]) -> Result<RecordInfo> {
        if let Some(rest) = bytes.strip_prefix(&[MESSAGE_V2]) {
            let h: StoredMessageHead<'_> = decode(rest)?;
            return Ok(RecordInfo {
                seq: h.seq,
                epoch: h.epoch,
                stored_at: h.stored_at,
                expires_at: Some(h.expires_at),
                len: (h.ciphertext.len() as u64).saturating_sub(TAG),
            });
        }
        let h: LegacyMessageHead<'_> = decode(bytes)?;
        Ok(RecordInfo {
            seq: h.seq,
            epoch: h.epoch,
            stored_at: h.stored_at,
            expires_at: None,
            len: (h.payload.len() as u64).saturating_sub(TAG),
        })
    }

    fn blob_record(&self, group: &GroupId, id: &BlobId) -> Result<Option<StoredBlob>> {
        self.get(&blob_key(group, id))?
            .map(|v| decode(&v))
            .transpose()
    }
}

/// Records as sled's side of [`SledStore::merged`] yields them.
type DbRecords<'a> = Box<dyn Iterator<Item = Result<(IVec, IVec)>> + 'a>;

/// Two key-ordered record streams as one (an error first as soon as either has one).
fn merge_sorted(
    a: impl Iterator<Item = Result<(IVec, IVec)>>,
    b: impl Iterator<Item = Result<(IVec, IVec)>>,
) -> impl Iterator<Item = Result<(IVec, IVec)>> {
    let mut a = a.peekable();
    let mut b = b.peekable();
    std::iter::from_fn(move || {
        let order = match (a.peek(), b.peek()) {
            (None, None) => return None,
            (Some(Err(_)), _) | (Some(Ok(_)), None) => std::cmp::Ordering::Less,
            (_, Some(Err(_))) | (None, Some(Ok(_))) => std::cmp::Ordering::Greater,
            (Some(Ok((ka, _))), Some(Ok((kb, _)))) => ka.cmp(kb),
        };
        if order == std::cmp::Ordering::Equal {
            // Never both (a checkpoint writes one and removes the other in one slice);
            // the first wins if they were.
            b.next();
        }
        let take_a = order != std::cmp::Ordering::Greater;
        if take_a { a.next() } else { b.next() }
    })
}

fn removals(
    kind: u8,
    g: &GroupId,
    range: Range<u64>,
) -> impl Iterator<Item = (IVec, Option<IVec>)> + '_ {
    range.map(move |n| (IVec::from(&numbered_key(kind, g, n)[..]), None))
}

impl Store for SledStore {
    fn groups(&self) -> Result<Vec<(GroupId, GroupMeta)>> {
        let mut out = Vec::new();
        for kv in self.range(&[GROUP], Bound::Excluded(&[GROUP + 1])) {
            let (k, v) = kv?;
            let id: [u8; 16] = k[1..].try_into().map_err(|_| StoreError::Corrupt)?;
            out.push((GroupId(id), GroupMeta::decode(&v)?));
        }
        Ok(out)
    }

    fn group(&self, group: &GroupId) -> Result<Option<GroupMeta>> {
        self.get(&group_key(group))?
            .map(|v| GroupMeta::decode(&v))
            .transpose()
    }

    fn create_group(
        &self,
        group: &GroupId,
        meta: &GroupMeta,
        key: &AccessPublicKey,
        admins: &[AdminPublicKey],
    ) -> Result<bool> {
        // The relay picks ids at random and serializes creation per id, so a plain check
        // suffices; the CAS makes a collision harmless anyway.
        let created = self.cas(&group_key(group), None, Some(encode(meta)))?;
        if created {
            self.record([
                (
                    IVec::from(&numbered_key(KEY, group, meta.epoch)[..]),
                    Some(IVec::from(&key[..])),
                ),
                (
                    IVec::from(&admins_key(group)[..]),
                    Some(IVec::from(encode(&admins.to_vec()))),
                ),
            ]);
        }
        Ok(created)
    }

    fn delete_group(&self, group: &GroupId, meta: &GroupMeta, knocks: &[SlotKey]) -> Result<u64> {
        // One removal per record, in one `record`: the next sync puts all of them in one
        // log record, which replay applies whole and, being removals, any number of
        // times. Large values of these records (`values/`) go with the checkpoint that
        // applies the removals: their files are doomed there and deleted at the end of
        // the next one, or by open's sweep after a crash. Their shredding keys stay:
        // they expire with their period, whatever else they seal.
        let mut changes: Vec<(IVec, Option<IVec>)> =
            removals(MESSAGE, group, meta.first_seq..meta.next_seq).collect();
        let start = numbered_key(KEY, group, 0);
        let end = numbered_key(KEY, group, u64::MAX);
        for kv in self.range(&start, Bound::Included(&end)) {
            changes.push((kv?.0, None));
        }
        // By the age index, which holds every blob: reading the blobs' own records
        // would read their contents.
        for b in self.blob_infos(group)? {
            changes.push((IVec::from(&blob_key(group, &b.id)[..]), None));
            changes.push((
                IVec::from(&blob_age_key(group, b.stored_at, &b.id)[..]),
                None,
            ));
        }
        changes.push((IVec::from(&admins_key(group)[..]), None));
        changes.push((IVec::from(&group_key(group)[..]), None));
        // Slots are written by compare-and-swap without the group's lock (a welcome, the
        // knocker's own delete, the sweep): read and removed under the overlay's lock,
        // which every write takes, so what is counted is what is removed.
        let mut o = self.overlay();
        let mut freed = 0;
        for key in knocks {
            let k = slot_key(key);
            let current = match o.find(&k) {
                Some(v) => v.clone(),
                None => self.sled_get(&k)?,
            };
            let Some(v) = current else { continue };
            let slot: Slot = decode(&v)?;
            if slot.knock_of() == Some(*group) {
                freed += slot.stored_bytes();
                changes.push((IVec::from(&k[..]), None));
            }
        }
        for (k, v) in changes {
            o.current.insert(k, v);
        }
        o.written += 1;
        Ok(freed)
    }

    fn admin_keys(&self, group: &GroupId) -> Result<Vec<AdminPublicKey>> {
        match self.get(&admins_key(group))? {
            Some(v) => decode(&v),
            None => Ok(Vec::new()),
        }
    }

    fn set_admin_keys(&self, group: &GroupId, keys: &[AdminPublicKey]) -> Result<()> {
        self.record([(
            IVec::from(&admins_key(group)[..]),
            Some(IVec::from(encode(&keys.to_vec()))),
        )]);
        Ok(())
    }

    fn void(
        &self,
        group: &GroupId,
        meta: &GroupMeta,
        record: &Message,
        expiry: Expiry,
        remove: Range<Seq>,
    ) -> Result<()> {
        let sealed = self.seal(group, record, expiry)?;
        let mut changes: Vec<(IVec, Option<IVec>)> = removals(MESSAGE, group, remove).collect();
        // The keys of the voided epochs go: nobody may prove access to them any more.
        let start = numbered_key(KEY, group, meta.epoch + 1);
        let end = numbered_key(KEY, group, u64::MAX);
        for kv in self.range(&start, Bound::Included(&end)) {
            changes.push((kv?.0, None));
        }
        changes.push((
            IVec::from(&numbered_key(MESSAGE, group, record.seq)[..]),
            Some(IVec::from(sealed)),
        ));
        changes.push((
            IVec::from(&group_key(group)[..]),
            Some(IVec::from(encode(meta))),
        ));
        self.record(changes);
        Ok(())
    }

    fn access_key(&self, group: &GroupId, epoch: Epoch) -> Result<Option<AccessPublicKey>> {
        match self.get(&numbered_key(KEY, group, epoch))? {
            None => Ok(None),
            Some(v) => Ok(Some(
                v.as_ref().try_into().map_err(|_| StoreError::Corrupt)?,
            )),
        }
    }

    fn append(
        &self,
        group: &GroupId,
        meta: &GroupMeta,
        message: &Message,
        expiry: Expiry,
        next_key: Option<&AccessPublicKey>,
        remove: Range<Seq>,
    ) -> Result<()> {
        let sealed = self.seal(group, message, expiry)?;
        let mut changes = vec![(
            IVec::from(&numbered_key(MESSAGE, group, message.seq)[..]),
            Some(IVec::from(sealed)),
        )];
        if let Some(key) = next_key {
            changes.push((
                IVec::from(&numbered_key(KEY, group, meta.epoch)[..]),
                Some(IVec::from(&key[..])),
            ));
        }
        changes.extend(removals(MESSAGE, group, remove));
        changes.push((
            IVec::from(&group_key(group)[..]),
            Some(IVec::from(encode(meta))),
        ));
        self.record(changes);
        Ok(())
    }

    fn message(&self, group: &GroupId, seq: Seq) -> Result<Option<Message>> {
        match self.get(&numbered_key(MESSAGE, group, seq))? {
            Some(v) => self.unseal(group, &v),
            None => Ok(None),
        }
    }

    fn scan(
        &self,
        group: &GroupId,
        from: Seq,
        visit: &mut dyn FnMut(Message) -> ControlFlow<()>,
    ) -> Result<()> {
        for kv in self.messages(group, from) {
            let (_, v) = kv?;
            // A message whose key was shredded is expired: retention deletes it next.
            let Some(m) = self.unseal(group, &v)? else {
                continue;
            };
            if visit(m).is_break() {
                break;
            }
        }
        Ok(())
    }

    fn scan_info(
        &self,
        group: &GroupId,
        from: Seq,
        visit: &mut dyn FnMut(RecordInfo) -> ControlFlow<()>,
    ) -> Result<()> {
        for kv in self.messages(group, from) {
            let (_, v) = kv?;
            if visit(Self::info(&v)?).is_break() {
                break;
            }
        }
        Ok(())
    }

    fn set_meta(&self, group: &GroupId, meta: &GroupMeta) -> Result<()> {
        self.record([(
            IVec::from(&group_key(group)[..]),
            Some(IVec::from(encode(meta))),
        )]);
        Ok(())
    }

    fn put_blob(
        &self,
        group: &GroupId,
        meta: &GroupMeta,
        id: &BlobId,
        data: &[u8],
        stored_at: u64,
        expiry: Expiry,
    ) -> Result<()> {
        let body = self
            .ring
            .seal(stored_at, expiry, &blob_context(group, id, stored_at), data)?;
        let mut age = [0u8; 16];
        age[..8].copy_from_slice(&expiry.at.to_be_bytes());
        age[8..].copy_from_slice(&(data.len() as u64).to_be_bytes());
        self.record([
            (
                IVec::from(&blob_key(group, id)[..]),
                Some(IVec::from(encode(&StoredBlob { stored_at, body }))),
            ),
            (
                IVec::from(&blob_age_key(group, stored_at, id)[..]),
                Some(IVec::from(&age[..])),
            ),
            (
                IVec::from(&group_key(group)[..]),
                Some(IVec::from(encode(meta))),
            ),
        ]);
        Ok(())
    }

    fn blob_info(&self, group: &GroupId, id: &BlobId) -> Result<Option<BlobInfo>> {
        Ok(self.blob_record(group, id)?.map(|b| BlobInfo {
            id: *id,
            stored_at: b.stored_at,
            expires_at: b.body.expires_at,
            len: (b.body.ciphertext.len() as u64).saturating_sub(TAG),
        }))
    }

    fn blob(&self, group: &GroupId, id: &BlobId) -> Result<Option<Vec<u8>>> {
        match self.blob_record(group, id)? {
            Some(b) => self
                .ring
                .unseal(&b.body, &blob_context(group, id, b.stored_at)),
            None => Ok(None),
        }
    }

    fn blob_infos(&self, group: &GroupId) -> Result<Vec<BlobInfo>> {
        let mut lo = [0u8; 17];
        lo[0] = BLOB_AGE;
        lo[1..].copy_from_slice(&group.0);
        let hi = blob_age_key(group, u64::MAX, &[0xFF; 32]);
        let mut out = Vec::new();
        for kv in self.range(&lo, Bound::Included(&hi)) {
            let (k, v) = kv?;
            if k.len() != 57 || v.len() != 16 {
                return Err(StoreError::Corrupt);
            }
            let num = |b: &[u8]| -> Result<u64> {
                Ok(u64::from_be_bytes(
                    b.try_into().map_err(|_| StoreError::Corrupt)?,
                ))
            };
            out.push(BlobInfo {
                id: k[25..].try_into().map_err(|_| StoreError::Corrupt)?,
                stored_at: num(&k[17..25])?,
                expires_at: num(&v[..8])?,
                len: num(&v[8..])?,
            });
        }
        Ok(out)
    }

    fn remove_blobs(&self, group: &GroupId, meta: &GroupMeta, blobs: &[BlobInfo]) -> Result<()> {
        let mut changes = Vec::with_capacity(blobs.len() * 2 + 1);
        for b in blobs {
            changes.push((IVec::from(&blob_key(group, &b.id)[..]), None));
            changes.push((
                IVec::from(&blob_age_key(group, b.stored_at, &b.id)[..]),
                None,
            ));
        }
        changes.push((
            IVec::from(&group_key(group)[..]),
            Some(IVec::from(encode(meta))),
        ));
        self.record(changes);
        Ok(())
    }

    fn trim(
        &self,
        group: &GroupId,
        meta: &GroupMeta,
        remove: Range<Seq>,
        keys_before: Epoch,
    ) -> Result<()> {
        let mut changes: Vec<(IVec, Option<IVec>)> = removals(MESSAGE, group, remove).collect();
        let start = numbered_key(KEY, group, 0);
        let end = numbered_key(KEY, group, keys_before);
        for kv in self.range(&start, Bound::Excluded(&end)) {
            changes.push((kv?.0, None));
        }
        changes.push((
            IVec::from(&group_key(group)[..]),
            Some(IVec::from(encode(meta))),
        ));
        self.record(changes);
        Ok(())
    }

    fn slot(&self, key: &SlotKey) -> Result<Option<Slot>> {
        self.get(&slot_key(key))?.map(|v| decode(&v)).transpose()
    }

    fn swap_slot(&self, key: &SlotKey, old: Option<&Slot>, new: Option<&Slot>) -> Result<bool> {
        let old = old.map(encode);
        self.cas(&slot_key(key), old.as_deref(), new.map(encode))
    }

    fn slot_expiries(&self) -> Result<Vec<(SlotKey, u64)>> {
        let mut out = Vec::new();
        for kv in self.range(&[SLOT], Bound::Excluded(&[SLOT + 1])) {
            let (k, v) = kv?;
            let key: SlotKey = k[1..].try_into().map_err(|_| StoreError::Corrupt)?;
            let slot: Slot = decode(&v)?;
            out.push((key, slot.expires_at));
        }
        Ok(out)
    }

    fn shred(&self, now: u64, max_retention: u64) -> Result<usize> {
        self.ring.forget(now, max_retention)
    }

    fn next_shred(&self, max_retention: u64) -> Result<Option<u64>> {
        self.ring.next_forget(max_retention)
    }

    fn sync(&self) -> Result<()> {
        let mut wal = self.wal.lock().expect("store log lock poisoned");
        let changes = {
            let mut o = self.overlay();
            if o.current.is_empty() {
                return Ok(());
            }
            let changes = Arc::new(std::mem::take(&mut o.current));
            o.applying = Some(changes.clone());
            (changes, o.written)
        };
        let (changes, upto) = changes;
        let written = wal.append(&changes);
        let mut o = self.overlay();
        o.applying = None;
        match written {
            Ok(bytes) => {
                o.synced = o.synced.max(upto);
                for (k, v) in changes.iter() {
                    o.durable.insert(k.clone(), v.clone());
                }
                o.durable_bytes += bytes;
                o.durable_since.get_or_insert_with(Instant::now);
                Ok(())
            }
            Err(AppendError::NotWritten(e)) => {
                // Visible (under any newer change) until the caller discards them.
                for (k, v) in changes.iter() {
                    o.current.entry(k.clone()).or_insert_with(|| v.clone());
                }
                Err(StoreError::NotDurable(e.to_string()))
            }
            Err(e @ AppendError::Unknown(_)) => Err(StoreError::Failed(e.to_string())),
        }
    }

    fn write_mark(&self) -> u64 {
        self.overlay().written
    }

    fn synced_mark(&self) -> u64 {
        self.overlay().synced
    }

    fn discard_unsynced(&self) {
        let mut o = self.overlay();
        o.current.clear();
        o.applying = None;
    }

    fn backlogged(&self) -> bool {
        let o = self.overlay();
        // Waiting helps only while checkpoints work: after a failure, writes go on until
        // `admit` refuses them.
        o.checkpoint_failed.is_none() && o.backlog() >= backlog_limit()
    }

    fn admit(&self) -> Result<()> {
        let (backlog, failing) = {
            let o = self.overlay();
            (o.backlog(), o.checkpoint_failed.is_some())
        };
        let limit = backlog_limit();
        if (failing && backlog >= limit) || backlog >= 4 * limit {
            return Err(StoreError::Refused(format!(
                "{:.1} MiB in the log wait for a checkpoint",
                backlog as f64 / f64::from(1 << 20)
            )));
        }
        let floor = crate::crash::tunable("FREE_FLOOR_BYTES", FREE_FLOOR_BYTES) as u64;
        let free = self.free_bytes();
        if free < floor {
            return Err(StoreError::Refused(format!(
                "{} MiB free on the data dir's disk, {} MiB needed",
                free >> 20,
                floor >> 20
            )));
        }
        Ok(())
    }

    fn wants_checkpoint(&self) -> bool {
        let o = self.overlay();
        if o.checkpoint_failed
            .is_some_and(|t| t.elapsed() < CHECKPOINT_RETRY)
        {
            return false;
        }
        o.checkpointing.is_some()
            || o.durable_bytes >= crate::crash::tunable("CHECKPOINT_BYTES", CHECKPOINT_BYTES)
            || o.durable_bytes >= backlog_limit()
            || o.durable_since
                .is_some_and(|t| t.elapsed() >= CHECKPOINT_AFTER)
    }

    fn checkpoint(&self) -> Result<()> {
        // One at a time; a second caller has nothing to add.
        let Ok(mut retired) = self.checkpoint.try_lock() else {
            return Ok(());
        };
        let result = self.checkpoint_locked(&mut retired);
        self.overlay().checkpoint_failed = result.is_err().then(Instant::now);
        result
    }
}

impl SledStore {
    fn checkpoint_locked(&self, retired: &mut Option<(usize, u64)>) -> Result<()> {
        if retired.is_none() {
            // Syncs move to the other segment; what the retired one holds is frozen.
            let mut wal = self.wal.lock().expect("store log lock poisoned");
            let mut o = self.overlay();
            if o.durable.is_empty() {
                return Ok(());
            }
            *retired = Some(wal.rotate()?);
            o.checkpointing = Some(Arc::new(std::mem::take(&mut o.durable)));
            o.checkpointing_bytes = o.durable_bytes;
            o.durable_bytes = 0;
            o.durable_since = None;
            drop(o);
            drop(wal);
            crate::crash::point("checkpoint.rotated");
        }
        // (A checkpoint that failed after rotating left its changes in `checkpointing`
        // and its segment retired: this one finishes it.)
        let Some((segment, last)) = *retired else {
            return Ok(());
        };
        let (changes, size) = {
            let o = self.overlay();
            (
                o.checkpointing.clone().unwrap_or_default(),
                o.checkpointing_bytes,
            )
        };
        let need = 2 * size as u64 + CHECKPOINT_FREE_MARGIN;
        let free = self.free_bytes();
        if free < need {
            // Sled must not meet a full disk; the log keeps everything meanwhile.
            return Err(StoreError::Refused(format!(
                "a checkpoint waits for {} MiB free ({} MiB now)",
                need >> 20,
                free >> 20
            )));
        }
        // Doomed by earlier checkpoints: deleted once this one is done.
        let old = std::mem::take(&mut *self.doomed.lock().expect("doomed lock poisoned"));
        if let Err(e) = self.to_sled(&changes, last, true) {
            let mut doomed = self.doomed.lock().expect("doomed lock poisoned");
            doomed.files.extend(old.files);
            doomed.packs.extend(old.packs);
            return Err(e);
        }
        crate::crash::point("checkpoint.applied");
        self.wal
            .lock()
            .expect("store log lock poisoned")
            .retire(segment)?;
        crate::crash::point("checkpoint.retired");
        *retired = None;
        // The files and packs let go by the checkpoint before this one (see `doomed`).
        self.values.remove(&old.files);
        self.packs.remove(&old.packs);
        {
            let mut o = self.overlay();
            o.checkpointing = None;
            o.checkpointing_bytes = 0;
        }
        self.compact(last)
    }

    /// Tests: the packs' live counts, in memory and in sled, are what the index says, and
    /// every pack the index points into exists.
    #[cfg(any(test, feature = "test-hooks"))]
    fn verify_counts(&self) -> Result<()> {
        let mut counted = std::collections::HashMap::<u64, Live>::new();
        for kv in self.db.scan_prefix([index::INDEX]) {
            let (k, v) = kv?;
            for (_, p) in Chunk::decode(&v)?.from(index::first_seq(&k)?, 0) {
                counted.entry(p.pack).or_default().add(p.len, true);
            }
        }
        let mut stored = std::collections::HashMap::new();
        for kv in self.db.scan_prefix([index::LIVE]) {
            let (k, v) = kv?;
            let id = u64::from_be_bytes(k[1..].try_into().map_err(|_| StoreError::Corrupt)?);
            stored.insert(id, Live::decode(&v)?);
        }
        let memory = self.live.lock().expect("pack count lock poisoned").clone();
        let on_disk: std::collections::HashSet<u64> = self.packs.list()?.into_iter().collect();
        if counted != stored || counted != memory || !counted.keys().all(|id| on_disk.contains(id))
        {
            return Err(StoreError::Engine(format!(
                "pack counts disagree: index {counted:?}, sled {stored:?}, memory {memory:?}, \
                 on disk {on_disk:?}"
            )));
        }
        Ok(())
    }

    /// Copies forward the live records of the emptiest pack that is at most a quarter
    /// live, so that its space comes back (retention frees most packs whole, but one
    /// long-kept group, or deletions, can keep a pack alive with little in it). The
    /// copies go through [`Self::to_sled`], like any change: to the active pack, the
    /// index pointed at them, the old pack's count down to zero and the pack doomed.
    fn compact(&self, last: u64) -> Result<()> {
        let active = self.packs.active();
        let candidates: Vec<(u64, Live)> = {
            let stuck = self.stuck.lock().expect("stuck pack lock poisoned");
            let live = self.live.lock().expect("pack count lock poisoned");
            live.iter()
                .filter(|(id, _)| Some(**id) != active && !stuck.contains(id))
                .map(|(id, l)| (*id, *l))
                .collect()
        };
        let sparse = candidates
            .into_iter()
            .map(|(id, l)| (id, l, self.packs.size(id)))
            .filter(|(_, l, size)| l.bytes.saturating_mul(4) < *size)
            .min_by_key(|(_, l, _)| l.bytes);
        let Some((id, _, _)) = sparse else {
            return Ok(());
        };
        let mut copies = Changes::new();
        let mut chunk: Option<([u8; 25], Chunk)> = None;
        for (group, seq, p) in self.packs.entries(id)? {
            let ck = index::key(&group, seq);
            if chunk.as_ref().is_none_or(|(k, _)| *k != ck) {
                let c = match self.db.get(ck)? {
                    Some(v) => Chunk::decode(&v)?,
                    None => Chunk::default(),
                };
                chunk = Some((ck, c));
            }
            let pointed = chunk.as_ref().and_then(|(_, c)| c.get(seq));
            if pointed == Some(p)
                && let Some(record) = self.packs.read(&p)?
            {
                copies.insert(
                    IVec::from(&numbered_key(MESSAGE, &group, seq)[..]),
                    Some(record),
                );
            }
        }
        tracing::debug!(records = copies.len(), "a sparse pack copied forward");
        crate::crash::point("compact.read");
        self.to_sled(&copies, last, true)?;
        if self
            .live
            .lock()
            .expect("pack count lock poisoned")
            .contains_key(&id)
        {
            tracing::warn!("a pack's live count disagrees with the index; it is kept");
            self.stuck
                .lock()
                .expect("stuck pack lock poisoned")
                .insert(id);
        }
        Ok(())
    }
}

impl Drop for SledStore {
    fn drop(&mut self) {
        #[cfg(test)]
        if self
            .crash_on_drop
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            return;
        }
        if !self.opened {
            return;
        }
        // A clean stop leaves an empty log: what is synced (and, as sled itself does on
        // drop, what nobody synced) goes to sled. Best effort: what fails stays in the
        // log and is replayed at the next open.
        let _ = self.sync();
        let _ = self.checkpoint();
        let _ = self.checkpoint();
    }
}

#[cfg(test)]
#[path = "sled_store_tests.rs"]
mod tests;
