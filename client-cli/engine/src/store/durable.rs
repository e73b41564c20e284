//! Making a sled batch survive a power cut, not only a process crash.
//!
//! sled 0.34's `flush()` ends in `sync_file_range(2)`: the pages reach the device, but
//! its cache is not flushed and the file's metadata is not committed. And sled keeps a
//! tree page larger than about 128 KiB as a file of its own under `blobs/`, written
//! without any `fsync`, its directory entry neither. A laptop whose battery dies after
//! `kith send` could then come back with the ratchet step that encrypted the message
//! undone, and encrypt the next one under the same key and nonce. So every commit ends
//! here: the new blob files and their directory synced first (sled wrote them while it
//! applied the batch), then sled's log written and `fdatasync`ed.
//!
//! The relay has the same step for its own store (`server/src/store/sled_store.rs`).

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// After sled opened: its `conf` (written without a sync) and the directory, durable.
/// An empty `conf` after a power cut stops sled from opening at all.
pub(super) fn opened(db_dir: &Path) -> std::io::Result<()> {
    File::open(db_dir.join("conf"))?.sync_all()?;
    File::open(db_dir)?.sync_all()
}

/// The sled directory's files that a commit syncs.
pub(super) struct Durable {
    dir: PathBuf,
    blobs: PathBuf,
    log: PathBuf,
    /// Blob files already synced (sled never rewrites one: a new page gets a new file).
    synced: Mutex<HashSet<OsString>>,
}

impl Durable {
    pub(super) fn new(db_dir: &Path) -> Self {
        Self {
            dir: db_dir.to_path_buf(),
            blobs: db_dir.join("blobs"),
            log: db_dir.join("db"),
            synced: Mutex::new(HashSet::new()),
        }
    }

    /// After `apply_batch`: syncs the blob files sled wrote, then flushes sled and
    /// `fdatasync`s its log.
    pub(super) fn commit(&self, db: &sled::Db) -> Result<(), super::StoreError> {
        let mut synced = self.synced.lock().unwrap_or_else(|e| e.into_inner());
        let mut present = HashSet::new();
        let mut new = false;
        if let Ok(entries) = std::fs::read_dir(&self.blobs) {
            for entry in entries {
                let name = entry?.file_name();
                if !synced.contains(&name) {
                    File::open(self.blobs.join(&name))?.sync_all()?;
                    new = true;
                }
                present.insert(name);
            }
        }
        if new {
            File::open(&self.blobs)?.sync_all()?;
        }
        // Forget the files sled removed.
        *synced = present;
        drop(synced);
        // sled's own error converts to a plain I/O error where it is one.
        db.flush()?;
        File::open(&self.log)?.sync_data()?;
        // Snapshot files sled renamed into place: their names, now that the log they
        // refer to is durable.
        File::open(&self.dir)?.sync_all()?;
        Ok(())
    }
}
