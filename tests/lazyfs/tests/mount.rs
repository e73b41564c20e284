//! The real `kith-lazyfs` binary mounted on a temporary directory: what reaches the
//! backing directory through the kernel's FUSE requests, and what a power cut leaves.
//!
//! Needs `/dev/fuse` and root (or `fusermount3`): skipped with a message without them,
//! except under `CI`, where that is a failure.

use kith_lazyfs::mounted::Mounted;
use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

fn fuse_available() -> bool {
    kith_lazyfs::probe::fuse_available("the kith-lazyfs mount tests")
}

/// The binary of this crate mounted on `mountpoint`.
fn mount(backing: &Path, mountpoint: &Path) -> Mounted {
    Mounted::start(
        Path::new(env!("CARGO_BIN_EXE_kith-lazyfs")),
        backing,
        mountpoint,
        None,
    )
}

/// The tree under `dir`: path → `None` for a directory, its content for a file.
fn tree(dir: &Path) -> BTreeMap<String, Option<Vec<u8>>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        for e in fs::read_dir(dir.join(&rel)).unwrap() {
            let e = e.unwrap();
            let p = rel.join(e.file_name());
            let key = p.to_string_lossy().into_owned();
            if e.file_type().unwrap().is_dir() {
                out.insert(key, None);
                stack.push(p);
            } else {
                out.insert(key, Some(fs::read(e.path()).unwrap()));
            }
        }
    }
    out
}

fn sync_dir(dir: &Path) {
    File::open(dir).unwrap().sync_all().unwrap();
}

#[test]
fn a_power_cut_leaves_exactly_what_was_synced() {
    if !fuse_available() {
        return;
    }
    let backing = tempfile::tempdir().unwrap();
    let mnt = tempfile::tempdir().unwrap();
    let m = mnt.path();
    let fs_ = mount(backing.path(), m);

    // A directory made durable (the mount root fsynced) before the rest is created: a
    // root fsync later would make the root's new entries durable too.
    fs::create_dir(m.join("dir")).unwrap();
    sync_dir(m);
    // Two files written, one fsynced.
    let mut synced = File::create(m.join("synced")).unwrap();
    synced.write_all(b"synced data").unwrap();
    synced.sync_all().unwrap();
    fs::write(m.join("unsynced"), b"lost data").unwrap();
    // A third file created, never synced.
    File::create(m.join("created")).unwrap();
    // A file whose data is fdatasynced in a new directory (so its new parents' entries
    // are durable too), and entries whose directory is never fsynced.
    fs::create_dir(m.join("dir/sub")).unwrap();
    let mut f = File::create(m.join("dir/sub/file")).unwrap();
    f.write_all(b"in sub").unwrap();
    f.sync_data().unwrap();
    fs::create_dir(m.join("dir/sub/never-synced-dir")).unwrap();
    fs::write(m.join("dir/sub/never-synced-file"), b"x").unwrap();
    // The atomic-replace pattern, without the final directory fsync: the data of the
    // temporary file is durable under its old name only.
    let mut t = File::create(m.join("state.tmp")).unwrap();
    t.write_all(b"new state").unwrap();
    t.sync_all().unwrap();
    fs::rename(m.join("state.tmp"), m.join("state")).unwrap();
    // Data appended after the fsync is live only.
    synced.write_all(b" and more").unwrap();

    // Reads see everything.
    assert_eq!(fs::read(m.join("synced")).unwrap(), b"synced data and more");
    assert_eq!(fs::read(m.join("unsynced")).unwrap(), b"lost data");
    assert_eq!(fs::read(m.join("state")).unwrap(), b"new state");
    let mut names: Vec<_> = fs::read_dir(m)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["created", "dir", "state", "synced", "unsynced"]);

    fs_.cut();
    // Everything fails now, so nothing more can be made durable.
    assert!(synced.write_all(b"after").is_err() || synced.sync_all().is_err());
    assert!(fs::read(m.join("synced")).is_err());
    assert!(File::create(m.join("late")).is_err());
    fs_.stop();

    let want: BTreeMap<String, Option<Vec<u8>>> = [
        ("dir", None),
        ("dir/sub", None),
        ("dir/sub/file", Some(&b"in sub"[..])),
        ("state.tmp", Some(&b"new state"[..])),
        ("synced", Some(&b"synced data"[..])),
    ]
    .into_iter()
    .map(|(p, c)| (p.to_string(), c.map(|c| c.to_vec())))
    .collect();
    assert_eq!(tree(backing.path()), want);
}

#[test]
fn what_the_relay_does_to_files_survives_when_synced() {
    if !fuse_available() {
        return;
    }
    let backing = tempfile::tempdir().unwrap();
    let mnt = tempfile::tempdir().unwrap();
    let m = mnt.path();
    let fs_ = mount(backing.path(), m);

    // A write-ahead log: preallocated with set_len, small pwrites at offsets, fdatasync.
    let wal = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(m.join("wal-0"))
        .unwrap();
    wal.set_len(1 << 20).unwrap();
    wal.sync_all().unwrap();
    let mut expect = vec![0u8; 1 << 20];
    let mut at = 0usize;
    for i in 0..2005u32 {
        let rec = format!("record {i};").into_bytes();
        wal.write_all_at(&rec, at as u64).unwrap();
        expect[at..at + rec.len()].copy_from_slice(&rec);
        at += rec.len();
        if i % 10 == 9 {
            wal.sync_data().unwrap();
        }
    }
    // The last 5 records were not synced: they are lost on the cut.
    let synced_wal = {
        let mut e = expect.clone();
        let last = (0..2000u32)
            .map(|i| format!("record {i};").len())
            .sum::<usize>();
        e[last..at].fill(0);
        e
    };
    // Large values in a subdirectory: 5 MiB in 1 MiB pwrites, a rename, a directory fsync.
    fs::create_dir(m.join("blobs")).unwrap();
    let big: Vec<u8> = (0..5 << 20).map(|i: u32| (i % 251) as u8).collect();
    let mut b = File::create(m.join("blobs/tmp-1")).unwrap();
    for chunk in big.chunks(1 << 20) {
        b.write_all(chunk).unwrap();
    }
    b.sync_all().unwrap();
    fs::rename(m.join("blobs/tmp-1"), m.join("blobs/1")).unwrap();
    sync_dir(&m.join("blobs"));
    sync_dir(m);
    // Whole-file read back through the mount.
    let mut read = Vec::new();
    File::open(m.join("blobs/1"))
        .unwrap()
        .read_to_end(&mut read)
        .unwrap();
    assert!(read == big, "a 5 MiB file reads back");
    // Truncate (set_len down) and fsync.
    let shred = File::create(m.join("shred-keys")).unwrap();
    shred.write_all_at(&[7u8; 4096], 0).unwrap();
    shred.set_len(100).unwrap();
    shred.sync_all().unwrap();
    sync_dir(m);

    fs_.cut();
    fs_.stop();
    let t = tree(backing.path());
    assert_eq!(
        t.keys().collect::<Vec<_>>(),
        ["blobs", "blobs/1", "shred-keys", "wal-0"]
    );
    assert!(t["blobs/1"].as_deref() == Some(&big[..]), "the big file");
    assert_eq!(t["shred-keys"].as_deref(), Some(&[7u8; 100][..]));
    assert!(
        t["wal-0"].as_deref() == Some(&synced_wal[..]),
        "the log holds the synced records and zeros after them"
    );

    // Mounting again starts from the durable state, and works on it.
    let fs_ = mount(backing.path(), m);
    assert!(fs::read(m.join("blobs/1")).unwrap() == big);
    fs::write(m.join("more"), b"more").unwrap();
    File::open(m.join("more")).unwrap().sync_all().unwrap();
    fs_.stop();
    assert_eq!(fs::read(backing.path().join("more")).unwrap(), b"more");
}
