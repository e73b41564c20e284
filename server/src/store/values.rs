//! Large values kept out of sled, each in a file of its own under `values/`.
//!
//! Why: sled 0.34 keeps a tree page larger than about 128 KiB as a separate file under
//! `blobs/`, written without `fsync` (its name neither), so a power cut can leave sled
//! naming a page that is not on disk; and it rewrites a whole page, large values and
//! all, every few changes, so 15 MiB of 200 KiB messages took more than 24 MiB of disk
//! in one checkpoint (a full disk then stops sled for good). So a value of
//! [`THRESHOLD`] bytes or more goes to sled as a small reference, and its bytes to a file
//! that is written and `fsync`ed, with its directory, **before** the sled batch that
//! refers to it is applied. A leaf of sled (at most 17 entries) then stays far below the
//! blob size, and each large value is written once.
//!
//! A file is named `KEYHEX.UNIQUE`: the hex of the sled key it belongs to, and a name
//! never used before (the log record number of the checkpoint that wrote it and a random
//! number). A file is deleted once sled durably refers to another value (or none) for its
//! key; a crash in between leaves an orphan, which open finds from the key in its name
//! and deletes ([`ValueFiles::sweep`]).
//!
//! The reference, as sled stores it: [`MAGIC`] (16 bytes) then the file name. No stored
//! record starts with those bytes: a message record starts with `0x00`, and every other
//! record with a postcard number or length.

use super::{Result, StoreError};
use sled::IVec;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Values of this size or more live in files of their own.
pub const THRESHOLD: usize = 4096;
/// The first bytes of a reference.
const MAGIC: &[u8; 16] = b"\xFFkith-value-ref\x01";
/// The directory, inside the data dir.
pub const DIR: &str = "values";

/// The `values/` directory.
pub struct ValueFiles {
    dir: PathBuf,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The file name a sled value refers to, if it is a reference.
pub fn reference(value: &[u8]) -> Option<&str> {
    std::str::from_utf8(value.strip_prefix(MAGIC)?).ok()
}

impl ValueFiles {
    /// Opens (or makes, durably) `values/` in the data dir.
    pub fn open(data_dir: &Path) -> Result<Self> {
        let dir = data_dir.join(DIR);
        if !dir.is_dir() {
            std::fs::create_dir_all(&dir)?;
            super::wal::sync_dir(data_dir)?;
        }
        Ok(Self { dir })
    }

    /// Writes `value` of `key` to a new file (not yet synced: see [`ValueFiles::sync`])
    /// and returns the reference to store in sled in its place.
    pub fn write(&self, key: &[u8], unique: &str, value: &[u8]) -> Result<(IVec, File)> {
        let name = format!("{}.{unique}", hex(key));
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(self.dir.join(&name))?;
        f.write_all(value)?;
        let mut r = MAGIC.to_vec();
        r.extend_from_slice(name.as_bytes());
        Ok((IVec::from(r), f))
    }

    /// Makes written files durable: each file, then the directory.
    pub fn sync(&self, files: Vec<File>) -> Result<()> {
        if files.is_empty() {
            return Ok(());
        }
        for f in files {
            f.sync_data()?;
        }
        super::wal::sync_dir(&self.dir)?;
        Ok(())
    }

    /// The value a reference names.
    pub fn read(&self, name: &str) -> Result<IVec> {
        if name.contains('/') {
            return Err(StoreError::Corrupt);
        }
        let mut f = File::open(self.dir.join(name)).map_err(|e| {
            StoreError::Engine(format!(
                "a stored value's file is missing or unreadable: {e}"
            ))
        })?;
        let mut out = Vec::new();
        f.read_to_end(&mut out)?;
        Ok(IVec::from(out))
    }

    /// Whether the file a reference names exists.
    pub fn exists(&self, name: &str) -> bool {
        !name.contains('/') && self.dir.join(name).exists()
    }

    /// Deletes files sled no longer refers to (durably). Best effort: a file left behind
    /// is found by the next [`ValueFiles::sweep`].
    pub fn remove(&self, names: &[String]) {
        for name in names {
            let _ = std::fs::remove_file(self.dir.join(name));
        }
    }

    /// Deletes every file that sled does not refer to (left by a crash between a
    /// checkpoint and its deletions, or written by a checkpoint that never got to sled).
    /// `current` gives sled's value of a key. Returns how many it removed, and the key and
    /// file name of every file sled refers to.
    #[allow(clippy::type_complexity)]
    pub fn sweep(
        &self,
        current: impl Fn(&[u8]) -> Result<Option<IVec>>,
    ) -> Result<(usize, Vec<(Vec<u8>, String)>)> {
        let mut removed = 0;
        let mut live_files = Vec::new();
        for entry in std::fs::read_dir(&self.dir)? {
            let name = entry?.file_name();
            let Some(name) = name.to_str() else { continue };
            let key = name.split_once('.').and_then(|(k, _)| unhex(k));
            let live = match &key {
                Some(key) => current(key)?
                    .as_deref()
                    .and_then(reference)
                    .is_some_and(|r| r == name),
                None => false,
            };
            match (live, key) {
                (true, Some(key)) => live_files.push((key, name.to_string())),
                _ => {
                    let _ = std::fs::remove_file(self.dir.join(name));
                    removed += 1;
                }
            }
        }
        Ok((removed, live_files))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_round_trips_through_its_reference_and_orphans_are_swept() {
        let dir = tempfile::tempdir().unwrap();
        let v = ValueFiles::open(dir.path()).unwrap();
        let (r, f) = v.write(b"M\x01key", "7.abc", &[9u8; 10_000]).unwrap();
        v.sync(vec![f]).unwrap();
        let name = reference(&r).unwrap().to_string();
        assert_eq!(v.read(&name).unwrap(), IVec::from(vec![9u8; 10_000]));
        let (orphan, f) = v.write(b"M\x01key", "8.def", b"later").unwrap();
        v.sync(vec![f]).unwrap();
        // Sled refers to the first: the second is an orphan.
        let refer = r.clone();
        let (removed, live) = v.sweep(|_| Ok(Some(refer.clone()))).unwrap();
        assert_eq!(removed, 1);
        assert_eq!(live, vec![(b"M\x01key".to_vec(), name.clone())]);
        assert!(v.read(reference(&orphan).unwrap()).is_err());
        assert!(v.read(&name).is_ok());
        // Not a reference at all: both gone.
        assert_eq!(v.sweep(|_| Ok(Some(IVec::from(b"plain")))).unwrap().0, 1);
        assert!(v.read(&name).is_err());
        assert!(reference(b"\x00a message record").is_none());
        assert!(v.read("../escape").is_err());
    }
}
