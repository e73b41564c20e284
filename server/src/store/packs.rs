//! Message records kept out of sled, many to a file, under `packs/`.
//!
//! Why: sled's cost is per key. Inserting every message into sled at a checkpoint was the
//! larger part of the relay's CPU once the store outgrew sled's cache (BENCHMARKS.md,
//! issue 19); storing a small pointer instead of the record cost the same, so the
//! records *and* their per-message keys left sled. A checkpoint appends the records it
//! applies to the active pack, in one write, `fdatasync`s it (and the directory, for a
//! new pack) **before** any sled batch that points into it, and sled keeps, per group, an
//! index of 128 sequence numbers to a key ([`super::index`]).
//!
//! A pack is named by a random 64-bit id (16 hex digits) and holds entries back to
//! back: `group [16] ‖ seq u64 LE ‖ len u32 LE ‖ record`. A [`Pointer`] names the record
//! (pack, offset of the record, length). Entries are never changed in place; a pack
//! grows until [`PACK_BYTES`], then a new one is started. A pack that failed a write or a
//! sync is never appended to again (after a failed `fdatasync`, Linux may drop pages and
//! report the next sync a success), so only a pack's tail can be torn.
//!
//! Which packs are live is sled's business: a count per pack, kept in the same batches
//! as the index ([`super::sled_store`]). A pack nobody points to is deleted, and one
//! that is mostly dead is copied forward.

use super::{Result, StoreError};
use kith_protocol::{GroupId, Seq};
use sled::IVec;
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The directory, inside the data dir.
pub const DIR: &str = "packs";
/// A pack takes appends until it is this large.
pub const PACK_BYTES: u64 = 64 << 20;
/// An entry's bytes before its record.
pub const ENTRY_HEADER: usize = 16 + 8 + 4;
/// The largest record read back (the relay's frame limit is far below); a larger length
/// is a torn entry.
const MAX_RECORD: usize = 64 << 20;

/// Where one record lies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pointer {
    /// The pack's id.
    pub pack: u64,
    /// The offset of the record (after its entry header).
    pub offset: u64,
    /// The record's length.
    pub len: u32,
}

impl Pointer {
    /// Its bytes: `pack u64 LE ‖ offset u64 LE ‖ len u32 LE`.
    pub const LEN: usize = 20;

    /// As [`Pointer::LEN`] bytes.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.pack.to_le_bytes());
        out.extend_from_slice(&self.offset.to_le_bytes());
        out.extend_from_slice(&self.len.to_le_bytes());
    }

    /// From the first [`Pointer::LEN`] bytes of `b`.
    pub fn decode(b: &[u8]) -> Option<Self> {
        Some(Self {
            pack: u64::from_le_bytes(b.get(..8)?.try_into().ok()?),
            offset: u64::from_le_bytes(b.get(8..16)?.try_into().ok()?),
            len: u32::from_le_bytes(b.get(16..20)?.try_into().ok()?),
        })
    }
}

/// The pack being appended to.
struct Active {
    id: u64,
    file: Arc<File>,
    /// Where the next entry goes.
    end: u64,
    /// The directory entry is not yet durable.
    new: bool,
}

/// The `packs/` directory.
pub struct Packs {
    dir: PathBuf,
    /// Open handles, by pack id (a deleted pack stays readable through a handle still
    /// held by a reader).
    files: Mutex<HashMap<u64, Arc<File>>>,
    active: Mutex<Option<Active>>,
}

fn name(id: u64) -> String {
    format!("{id:016x}")
}

impl Packs {
    /// Opens (or makes, durably) `packs/` in the data dir. Appends go to a new pack.
    pub fn open(data_dir: &Path) -> Result<Self> {
        let dir = data_dir.join(DIR);
        if !dir.is_dir() {
            std::fs::create_dir_all(&dir)?;
            super::wal::sync_dir(data_dir)?;
        }
        Ok(Self {
            dir,
            files: Mutex::new(HashMap::new()),
            active: Mutex::new(None),
        })
    }

    /// The ids of the packs on disk.
    pub fn list(&self) -> Result<Vec<u64>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&self.dir)? {
            let name = entry?.file_name();
            let id = name
                .to_str()
                .filter(|n| n.len() == 16)
                .and_then(|n| u64::from_str_radix(n, 16).ok());
            match id {
                Some(id) => out.push(id),
                // Not ours: left alone.
                None => tracing::warn!("an unknown file in packs/ is left alone"),
            }
        }
        Ok(out)
    }

    /// The active pack's id, if one was started.
    pub fn active(&self) -> Option<u64> {
        self.lock_active().as_ref().map(|a| a.id)
    }

    fn lock_active(&self) -> std::sync::MutexGuard<'_, Option<Active>> {
        self.active.lock().expect("pack lock poisoned")
    }

    /// Appends `records` to the active pack (starting one if there is none or it is
    /// full) and returns where each lies. Not durable until [`Packs::sync`].
    pub fn append(&self, records: &[(GroupId, Seq, &[u8])]) -> Result<Vec<Pointer>> {
        let mut active = self.lock_active();
        if active.as_ref().is_some_and(|a| a.end >= PACK_BYTES) {
            *active = None;
        }
        if active.is_none() {
            *active = Some(self.start()?);
        }
        let a = active.as_mut().expect("started above");
        let size: usize = records.iter().map(|r| ENTRY_HEADER + r.2.len()).sum();
        let mut buf = Vec::with_capacity(size);
        let mut pointers = Vec::with_capacity(records.len());
        for (group, seq, record) in records {
            buf.extend_from_slice(&group.0);
            buf.extend_from_slice(&seq.to_le_bytes());
            buf.extend_from_slice(&(record.len() as u32).to_le_bytes());
            pointers.push(Pointer {
                pack: a.id,
                offset: a.end + buf.len() as u64,
                len: record.len() as u32,
            });
            buf.extend_from_slice(record);
        }
        let written = if crate::crash::fails("pack") {
            Err(std::io::Error::other("injected by a test"))
        } else {
            a.file.write_all_at(&buf, a.end)
        };
        if let Err(e) = written {
            *active = None;
            return Err(e.into());
        }
        a.end += buf.len() as u64;
        Ok(pointers)
    }

    /// Makes what [`Packs::append`] wrote durable (the pack, then, for a new pack, the
    /// directory).
    pub fn sync(&self) -> Result<()> {
        let mut active = self.lock_active();
        let Some(a) = active.as_mut() else {
            return Ok(());
        };
        let synced = a.file.sync_data().and_then(|()| {
            if a.new {
                super::wal::sync_dir(&self.dir)?;
            }
            Ok(())
        });
        match synced {
            Ok(()) => {
                a.new = false;
                Ok(())
            }
            Err(e) => {
                *active = None;
                Err(e.into())
            }
        }
    }

    fn start(&self) -> Result<Active> {
        loop {
            let id = rand::random::<u64>();
            match OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .open(self.dir.join(name(id)))
            {
                Ok(f) => {
                    let file = Arc::new(f);
                    self.lock_files().insert(id, file.clone());
                    return Ok(Active {
                        id,
                        file,
                        end: 0,
                        new: true,
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn lock_files(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<File>>> {
        self.files.lock().expect("pack file lock poisoned")
    }

    fn file(&self, id: u64) -> Result<Option<Arc<File>>> {
        let mut files = self.lock_files();
        if let Some(f) = files.get(&id) {
            return Ok(Some(f.clone()));
        }
        match File::open(self.dir.join(name(id))) {
            Ok(f) => {
                let f = Arc::new(f);
                files.insert(id, f.clone());
                Ok(Some(f))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The record a pointer names; `None` if its pack is gone (deleted once nothing
    /// pointed into it: the caller looks up the record's pointer again).
    pub fn read(&self, p: &Pointer) -> Result<Option<IVec>> {
        let Some(f) = self.file(p.pack)? else {
            return Ok(None);
        };
        let mut out = vec![0u8; p.len as usize];
        match f.read_exact_at(&mut out, p.offset) {
            Ok(()) => Ok(Some(IVec::from(out))),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(StoreError::Engine(
                "a pack is shorter than its index says".into(),
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// Every whole entry of a pack, in file order: (group, seq, where its record lies).
    /// Stops at a torn tail.
    pub fn entries(&self, id: u64) -> Result<Vec<(GroupId, Seq, Pointer)>> {
        let Some(f) = self.file(id)? else {
            return Ok(Vec::new());
        };
        let size = f.metadata()?.len();
        let mut out = Vec::new();
        let mut at = 0u64;
        let mut head = [0u8; ENTRY_HEADER];
        while at + ENTRY_HEADER as u64 <= size {
            f.read_exact_at(&mut head, at)?;
            let group = GroupId(head[..16].try_into().expect("16 bytes"));
            let seq = u64::from_le_bytes(head[16..24].try_into().expect("8 bytes"));
            let len = u32::from_le_bytes(head[24..].try_into().expect("4 bytes"));
            let offset = at + ENTRY_HEADER as u64;
            if len as usize > MAX_RECORD || offset + u64::from(len) > size {
                break;
            }
            out.push((
                group,
                seq,
                Pointer {
                    pack: id,
                    offset,
                    len,
                },
            ));
            at = offset + u64::from(len);
        }
        Ok(out)
    }

    /// A pack's size on disk (0 if it is gone).
    pub fn size(&self, id: u64) -> u64 {
        std::fs::metadata(self.dir.join(name(id))).map_or(0, |m| m.len())
    }

    /// Deletes packs nothing points to any more, durably in sled. Best effort: one left
    /// behind is found at the next open. The active pack is never deleted.
    pub fn remove(&self, ids: &[u64]) {
        let active = self.active();
        let mut files = self.lock_files();
        for &id in ids {
            if Some(id) == active {
                continue;
            }
            files.remove(&id);
            let _ = std::fs::remove_file(self.dir.join(name(id)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_entries_stop_at_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap();
        let packs = Packs::open(dir.path()).unwrap();
        let g = GroupId([7; 16]);
        let a = vec![1u8; 300];
        let b = vec![2u8; 5];
        let ptrs = packs.append(&[(g, 1, &a), (g, 2, &b)]).unwrap();
        packs.sync().unwrap();
        let more = packs.append(&[(g, 3, b"third")]).unwrap();
        packs.sync().unwrap();
        assert_eq!(ptrs[0].pack, more[0].pack, "one pack until it is full");
        assert_eq!(packs.read(&ptrs[0]).unwrap().unwrap(), IVec::from(a));
        assert_eq!(packs.read(&ptrs[1]).unwrap().unwrap(), IVec::from(b));
        assert_eq!(packs.read(&more[0]).unwrap().unwrap(), IVec::from(b"third"));
        let id = ptrs[0].pack;
        let listed: Vec<_> = packs
            .entries(id)
            .unwrap()
            .into_iter()
            .map(|(_, s, p)| (s, p))
            .collect();
        assert_eq!(listed, vec![(1, ptrs[0]), (2, ptrs[1]), (3, more[0])]);
        // A torn tail: a header that claims more than the file holds.
        let f = OpenOptions::new()
            .append(true)
            .open(dir.path().join(DIR).join(name(id)))
            .unwrap();
        f.write_all_at(&[9u8; ENTRY_HEADER + 2], packs.size(id))
            .unwrap();
        assert_eq!(packs.entries(id).unwrap().len(), 3);
        assert_eq!(packs.list().unwrap(), vec![id]);
        // The active pack is never removed; a new process starts another.
        packs.remove(&[id]);
        assert_eq!(packs.list().unwrap(), vec![id]);
        drop(packs);
        let packs = Packs::open(dir.path()).unwrap();
        let other = packs.append(&[(g, 4, b"x")]).unwrap();
        assert_ne!(other[0].pack, id);
        packs.remove(&[id]);
        assert_eq!(packs.read(&ptrs[0]).unwrap(), None);
        assert_eq!(packs.list().unwrap(), vec![other[0].pack]);
    }

    #[test]
    fn a_failed_write_abandons_the_pack() {
        let dir = tempfile::tempdir().unwrap();
        let packs = Packs::open(dir.path()).unwrap();
        let g = GroupId([1; 16]);
        let first = packs.append(&[(g, 1, b"a")]).unwrap()[0];
        // A read-only handle in the active pack's place: the write fails.
        {
            let mut a = packs.lock_active();
            let a = a.as_mut().unwrap();
            a.file = Arc::new(File::open(dir.path().join(DIR).join(name(a.id))).unwrap());
        }
        assert!(packs.append(&[(g, 2, b"b")]).is_err());
        assert_eq!(packs.active(), None);
        let next = packs.append(&[(g, 2, b"b")]).unwrap()[0];
        assert_ne!(next.pack, first.pack);
    }
}
