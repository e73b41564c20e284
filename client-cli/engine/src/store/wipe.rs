//! Crypto-shredding of a profile directory.

use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Seek, SeekFrom, Write};
use std::path::Path;

use rand::RngCore;
use rand::rngs::OsRng;

use super::expiry::{EXPIRY_KEYS_FILE, EXPIRY_KEYS_TMP};
use super::keyfile::{PROFILE_KEY_TMP, sync_dir};
use super::{DB_DIR, PROFILE_KEY_FILE, StoreError};

const CHUNK: usize = 64 * 1024;

/// Destroys the profile in `dir`.
///
/// 1. `profile.key` (and a leftover `profile.key.tmp`), then `expiry-keys` (and a leftover
///    `expiry-keys.tmp`), are overwritten with random bytes, fsynced and deleted, and the
///    directory is fsynced. Without the wrapped data key the database cannot be decrypted
///    by anyone, with or without the passphrase: this step is what the promise rests on.
///    (`expiry-keys` is sealed under a key derived from the data key, so destroying
///    `profile.key` already makes it useless; it goes in this step too, so that the bucket
///    keys do not depend on that alone.)
/// 2. Every other file under `dir` is overwritten with zeros, fsynced and deleted, then
///    the directories are removed.
///
/// On SSDs (wear levelling), copy-on-write and journaling filesystems, overwriting a file
/// does not guarantee that the old blocks are gone from the medium; that is why step 1
/// destroys the key before anything else. Close every [`Store`](super::Store) of the
/// profile first; `wipe` does not wait for other processes.
///
/// To protect against a mistyped `--home`, a directory that has neither `profile.key` nor
/// `db/` is refused with [`StoreError::NoProfile`] and left untouched, as is a missing
/// directory. After an interrupted wipe (key gone, `db/` left), wiping again finishes it.
/// Step 2 is best-effort: it goes on past errors and reports the first one.
pub fn wipe(dir: impl AsRef<Path>) -> Result<(), StoreError> {
    let dir = dir.as_ref();
    match fs::symlink_metadata(dir) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => return Err(StoreError::NoProfile),
        Err(e) if e.kind() == ErrorKind::NotFound => return Err(StoreError::NoProfile),
        Err(e) => return Err(e.into()),
    }
    let keys = key_files(dir);
    let looks_like_profile = keys
        .iter()
        .chain([&dir.join(DB_DIR)])
        .any(|p| fs::symlink_metadata(p).is_ok());
    if !looks_like_profile {
        return Err(StoreError::NoProfile);
    }

    // Step 1: the keys. Errors here abort: the caller must know a key may survive.
    destroy_keys(dir)?;

    // Step 2: everything else.
    shred_path(dir)
}

/// Step 1 of [`wipe`] (also a duress unlock's first step): `profile.key`, `expiry-keys`
/// and their leftover temporary files overwritten with random bytes, fsynced, deleted,
/// and the directory fsynced.
pub(crate) fn destroy_keys(dir: &Path) -> Result<(), StoreError> {
    for path in key_files(dir) {
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_file() => {
                overwrite(&path, Fill::Random)?;
                fs::remove_file(&path)?;
            }
            Ok(_) => fs::remove_file(&path)?,
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
    }
    sync_dir(dir)
}

fn key_files(dir: &Path) -> [std::path::PathBuf; 4] {
    [
        dir.join(PROFILE_KEY_FILE),
        dir.join(PROFILE_KEY_TMP),
        dir.join(EXPIRY_KEYS_FILE),
        dir.join(EXPIRY_KEYS_TMP),
    ]
}

/// Overwrites and deletes `path` (a file, or a directory recursively); symlinks are
/// removed, never followed. Best-effort: continues past errors and returns the first.
pub(crate) fn shred_path(path: &Path) -> Result<(), StoreError> {
    let mut first_error = None;
    shred_inner(path, &mut first_error);
    match first_error {
        Some(e) => Err(StoreError::Io(e)),
        None => Ok(()),
    }
}

fn shred_inner(path: &Path, first_error: &mut Option<std::io::Error>) {
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == ErrorKind::NotFound => return,
        Err(e) => return record(first_error, Err(e)),
    };
    if meta.is_dir() {
        match fs::read_dir(path) {
            Ok(entries) => {
                let children: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
                for child in children {
                    shred_inner(&child, first_error);
                }
            }
            Err(e) => record(first_error, Err(e)),
        }
        record(first_error, fs::remove_dir(path));
    } else if meta.is_file() {
        record(first_error, overwrite(path, Fill::Zeros));
        record(first_error, fs::remove_file(path));
    } else {
        record(first_error, fs::remove_file(path));
    }
}

fn record(first_error: &mut Option<std::io::Error>, result: std::io::Result<()>) {
    if let Err(e) = result
        && first_error.is_none()
    {
        *first_error = Some(e);
    }
}

#[derive(Clone, Copy)]
enum Fill {
    Random,
    Zeros,
}

/// Overwrites the whole current length of `path` in place and fsyncs it.
fn overwrite(path: &Path, fill: Fill) -> std::io::Result<()> {
    let mut file = OpenOptions::new().write(true).open(path)?;
    let len = file.metadata()?.len();
    file.seek(SeekFrom::Start(0))?;
    let mut buf = vec![0u8; CHUNK];
    let mut left = len;
    while left > 0 {
        let n = usize::try_from(left.min(CHUNK as u64)).unwrap_or(CHUNK);
        if let Fill::Random = fill {
            OsRng.fill_bytes(&mut buf[..n]);
        }
        file.write_all(&buf[..n])?;
        left -= n as u64;
    }
    file.sync_all()
}
