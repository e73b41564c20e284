//! Power-cut tests on `kith-lazyfs` (tests/lazyfs): mounting it, cutting the power,
//! and the directories a failing test keeps for a post-mortem.
//!
//! `kith-lazyfs BACKING MOUNTPOINT` keeps every write not yet fsynced in memory only;
//! SIGUSR1 drops those writes and makes every later operation fail, so that afterwards
//! `BACKING` holds exactly what a disk would after a power cut. The binary is found in
//! `KITH_LAZYFS_BIN` if set, else next to the test executable (built if missing, see
//! [`crate::workspace_bin`]).

pub use kith_lazyfs::probe::fuse_available;
use std::fs::{self, File};
use std::path::Path;

/// A temporary directory that is kept (and named on stderr) if the test fails.
pub struct KeptOnFailure(Option<tempfile::TempDir>, &'static str);

impl KeptOnFailure {
    /// A new temporary directory named `prefix…`; `what` describes it in the message
    /// printed when it is kept.
    pub fn new(prefix: &str, what: &'static str) -> KeptOnFailure {
        let dir = tempfile::Builder::new().prefix(prefix).tempdir().unwrap();
        KeptOnFailure(Some(dir), what)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        self.0.as_ref().expect("present until dropped").path()
    }
}

impl Drop for KeptOnFailure {
    fn drop(&mut self) {
        if std::thread::panicking()
            && let Some(dir) = self.0.take()
        {
            eprintln!("{} kept at {}", self.1, dir.keep().display());
        }
    }
}

pub use kith_lazyfs::mounted::Mounted as LazyFs;

/// Mounts `backing` at `mountpoint` with the workspace's `kith-lazyfs`, appending its
/// trace of namespace changes and syncs to `trace`.
pub fn mount(backing: &Path, mountpoint: &Path, trace: &Path) -> LazyFs {
    let bin = crate::workspace_bin("KITH_LAZYFS_BIN", "kith-lazyfs", "kith-lazyfs");
    LazyFs::start(&bin, backing, mountpoint, Some(trace))
}

/// Copies the tree `src` to `dst` (which must not exist), keeping permissions, and
/// fsyncs every file and directory (and `dst`'s parent), so that a `kith-lazyfs` on a
/// backing directory holding `dst` starts with all of it durable. Only regular files
/// and directories: kith-lazyfs refuses links.
pub fn copy_synced(src: &Path, dst: &Path) {
    fn copy(src: &Path, dst: &Path) {
        fs::create_dir(dst).unwrap_or_else(|e| panic!("create {}: {e}", dst.display()));
        for entry in fs::read_dir(src).unwrap_or_else(|e| panic!("read {}: {e}", src.display())) {
            let entry = entry.unwrap();
            let (from, to) = (entry.path(), dst.join(entry.file_name()));
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                copy(&from, &to);
            } else if kind.is_file() {
                // `fs::copy` also copies the permissions.
                fs::copy(&from, &to).unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
                File::open(&to).unwrap().sync_all().unwrap();
            } else {
                panic!("{} is neither a file nor a directory", from.display());
            }
        }
        fs::set_permissions(dst, fs::metadata(src).unwrap().permissions()).unwrap();
        // After its entries: the directory's fsync makes their names durable.
        File::open(dst).unwrap().sync_all().unwrap();
    }
    copy(src, dst);
    let parent = dst.parent().expect("dst has a parent");
    File::open(parent).unwrap().sync_all().unwrap();
}

/// The files under `dir` with their sizes, for failure messages.
pub fn listing(dir: &Path) -> String {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            let rel = p.strip_prefix(dir).unwrap_or(&p).display().to_string();
            match e.metadata() {
                Ok(m) if m.is_dir() => {
                    out.push(format!("{rel}/"));
                    stack.push(p);
                }
                Ok(m) => out.push(format!("{rel} ({} bytes)", m.len())),
                Err(e) => out.push(format!("{rel} ({e})")),
            }
        }
    }
    out.sort();
    if out.is_empty() {
        "(empty)".into()
    } else {
        out.join("\n  ")
    }
}
