//! The FUSE side: each request locks the [`Model`] once and maps its answer to a reply.

use crate::model::{self, Attr, Error, Ino, Kind, Model, SetAttr};
use fuser::{
    BsdFileFlags, Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation,
    INodeNo, KernelConfig, LockOwner, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate, ReplyData,
    ReplyDirectory, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs, ReplyWrite, Request, TimeOrNow,
    WriteFlags,
};
use std::ffi::OsStr;
use std::io::Write;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

/// How long the kernel may cache attributes and entries. Short: correctness does not
/// depend on it (every change goes through this process), but after a cut stale cached
/// answers should not linger.
const TTL: Duration = Duration::from_millis(200);

/// The FUSE file system over a shared [`Model`] (shared with the signal thread that
/// cuts the power).
pub struct LazyFs {
    model: Arc<Mutex<Model>>,
    trace: Option<Mutex<std::io::BufWriter<std::fs::File>>>,
}

impl LazyFs {
    /// A file system over `model`.
    pub fn new(model: Arc<Mutex<Model>>) -> LazyFs {
        LazyFs { model, trace: None }
    }

    /// Also appends a line to `file` for every namespace change, truncation and sync
    /// that succeeds (not for writes: too many), to tell after a failed power-cut test
    /// what the program on top did and did not make durable.
    pub fn with_trace(mut self, file: std::fs::File) -> LazyFs {
        self.trace = Some(Mutex::new(std::io::BufWriter::new(file)));
        self
    }

    /// Appends `line()` to the trace, if tracing.
    fn trace(&self, line: impl FnOnce() -> String) {
        let Some(trace) = &self.trace else { return };
        let mut t = trace.lock().unwrap_or_else(|e| e.into_inner());
        let _ = writeln!(t, "{}", line());
        // Flushed at once: the process may be killed at any moment.
        let _ = t.flush();
    }

    fn lock(&self) -> MutexGuard<'_, Model> {
        // A panic under the lock leaves the model as it was at some operation boundary
        // or mid-way; either way the test on top will see the failure.
        self.model.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// `ino`'s live path for the trace.
fn path(m: &Model, ino: Ino) -> String {
    m.live_path(ino).map_or_else(
        || format!("(unlinked inode {ino})"),
        |p| format!("/{}", p.display()),
    )
}

/// The live path of entry `name` of directory `dir`, for the trace.
fn child(m: &Model, dir: Ino, name: &OsStr) -> String {
    let dir = path(m, dir);
    format!("{}/{}", dir.trim_end_matches('/'), name.to_string_lossy())
}

fn errno(e: &Error) -> Errno {
    match e {
        Error::NotFound => Errno::ENOENT,
        Error::Exists => Errno::EEXIST,
        Error::NotDir => Errno::ENOTDIR,
        Error::IsDir => Errno::EISDIR,
        Error::NotEmpty => Errno::ENOTEMPTY,
        Error::Invalid => Errno::EINVAL,
        Error::Cut => Errno::EIO,
        Error::Io(err) => {
            // A failure of the backing directory is the file system's fault, not the
            // program's on top: say so where the test's logs will show it.
            eprintln!("kith-lazyfs: backing directory error: {err}");
            Errno::EIO
        }
    }
}

fn file_type(kind: Kind) -> FileType {
    match kind {
        Kind::File => FileType::RegularFile,
        Kind::Dir => FileType::Directory,
    }
}

fn file_attr(a: &Attr) -> FileAttr {
    FileAttr {
        ino: INodeNo(a.ino),
        size: a.size,
        blocks: a.size.div_ceil(512),
        atime: a.atime,
        mtime: a.mtime,
        ctime: a.ctime,
        crtime: a.ctime,
        kind: file_type(a.kind),
        perm: a.perm,
        nlink: a.nlink,
        uid: a.uid,
        gid: a.gid,
        rdev: 0,
        blksize: 4096,
        flags: 0,
    }
}

fn time(t: TimeOrNow) -> SystemTime {
    match t {
        TimeOrNow::SpecificTime(t) => t,
        TimeOrNow::Now => SystemTime::now(),
    }
}

fn entry(reply: ReplyEntry, r: model::Result<Attr>) {
    match r {
        Ok(a) => reply.entry(&TTL, &file_attr(&a), Generation(0)),
        Err(e) => reply.error(errno(&e)),
    }
}

fn empty(reply: ReplyEmpty, r: model::Result<()>) {
    match r {
        Ok(()) => reply.ok(),
        Err(e) => reply.error(errno(&e)),
    }
}

impl Filesystem for LazyFs {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        // Large writes mean fewer round trips for the relay's 1 MiB payloads; the
        // kernel clamps this to what it supports.
        let _ = config.set_max_write(1 << 20);
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        entry(reply, self.lock().lookup(parent.0, name));
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        match self.lock().getattr(ino.0) {
            Ok(a) => reply.attr(&TTL, &file_attr(&a)),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        _fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let set = SetAttr {
            mode,
            uid,
            gid,
            size,
            atime: atime.map(time),
            mtime: mtime.map(time),
        };
        let mut m = self.lock();
        match m.setattr(ino.0, &set) {
            Ok(a) => {
                if let Some(size) = size {
                    self.trace(|| format!("truncate {} {size}", path(&m, ino.0)));
                }
                reply.attr(&TTL, &file_attr(&a))
            }
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn mkdir(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        reply: ReplyEntry,
    ) {
        let mut m = self.lock();
        let r = m.mkdir(parent.0, name, mode & !umask, req.uid(), req.gid());
        if let Ok(a) = &r {
            self.trace(|| format!("mkdir {}", path(&m, a.ino)));
        }
        entry(reply, r);
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let mut m = self.lock();
        let r = m.unlink(parent.0, name);
        if r.is_ok() {
            self.trace(|| format!("unlink {}", child(&m, parent.0, name)));
        }
        empty(reply, r);
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let mut m = self.lock();
        let r = m.rmdir(parent.0, name);
        if r.is_ok() {
            self.trace(|| format!("rmdir {}", child(&m, parent.0, name)));
        }
        empty(reply, r);
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        if flags.intersects(RenameFlags::RENAME_EXCHANGE | RenameFlags::RENAME_WHITEOUT) {
            return reply.error(Errno::EINVAL);
        }
        let noreplace = flags.contains(RenameFlags::RENAME_NOREPLACE);
        let mut m = self.lock();
        let from = child(&m, parent.0, name);
        let r = m.rename(parent.0, name, newparent.0, newname, noreplace);
        if r.is_ok() {
            self.trace(|| format!("rename {from} {}", child(&m, newparent.0, newname)));
        }
        empty(reply, r);
    }

    fn open(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        match self.lock().open(ino.0) {
            Ok(()) => reply.opened(FileHandle(0), FopenFlags::empty()),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn create(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        let mut m = self.lock();
        let exclusive = flags & libc::O_EXCL != 0;
        let r = m
            .create(
                parent.0,
                name,
                mode & !umask,
                req.uid(),
                req.gid(),
                exclusive,
            )
            .and_then(|(a, created)| {
                // An existing file (the kernel had no entry for it cached) opened with
                // O_TRUNC is truncated here, as open(2) would.
                let a = if !created && flags & libc::O_TRUNC != 0 {
                    let set = SetAttr {
                        size: Some(0),
                        ..SetAttr::default()
                    };
                    m.setattr(a.ino, &set)?
                } else {
                    a
                };
                m.open(a.ino).map(|()| a)
            });
        if let Ok(a) = &r {
            self.trace(|| format!("create {}", path(&m, a.ino)));
        }
        match r {
            Ok(a) => reply.created(
                &TTL,
                &file_attr(&a),
                Generation(0),
                FileHandle(0),
                FopenFlags::empty(),
            ),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        match self.lock().read(ino.0, offset, size) {
            Ok(data) => reply.data(data),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn write(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        match self.lock().write(ino.0, offset, data) {
            Ok(n) => reply.written(n),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        // close() makes nothing durable; it only fails once the power is cut.
        if self.lock().is_cut() {
            reply.error(Errno::EIO);
        } else {
            reply.ok();
        }
    }

    fn release(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        empty(reply, self.lock().release(ino.0));
    }

    fn fsync(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        datasync: bool,
        reply: ReplyEmpty,
    ) {
        // fdatasync makes the length durable too (it must, for the data to be read
        // back), so both are the same here.
        let mut m = self.lock();
        let r = m.fsync(ino.0);
        if r.is_ok() {
            let op = if datasync { "fdatasync" } else { "fsync" };
            self.trace(|| format!("{op} {}", path(&m, ino.0)));
        }
        empty(reply, r);
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        let mut m = self.lock();
        let r = m.getattr(ino.0).and_then(|a| {
            if a.kind == Kind::Dir {
                m.open(ino.0)
            } else {
                Err(Error::NotDir)
            }
        });
        match r {
            Ok(()) => reply.opened(FileHandle(0), FopenFlags::empty()),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        // The listing is taken afresh on each call and indexed by position: entries
        // added or removed between calls may be skipped or repeated, which POSIX allows.
        let entries = match self.lock().readdir(ino.0) {
            Ok(e) => e,
            Err(e) => return reply.error(errno(&e)),
        };
        let skip = usize::try_from(offset).unwrap_or(usize::MAX);
        for (i, (child, kind, name)) in entries.iter().enumerate().skip(skip) {
            if reply.add(INodeNo(*child), (i + 1) as u64, file_type(*kind), name) {
                break;
            }
        }
        reply.ok();
    }

    fn releasedir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _flags: OpenFlags,
        reply: ReplyEmpty,
    ) {
        empty(reply, self.lock().release(ino.0));
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        let mut m = self.lock();
        let r = m.fsync(ino.0);
        if r.is_ok() {
            self.trace(|| format!("fsyncdir {}", path(&m, ino.0)));
        }
        empty(reply, r);
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        if self.lock().is_cut() {
            return reply.error(Errno::EIO);
        }
        // Nothing on top looks at free space: report a roomy, fixed size (1 TiB).
        let blocks = (1u64 << 40) / 4096;
        reply.statfs(blocks, blocks, blocks, 1 << 20, 1 << 20, 4096, 255, 4096);
    }

    fn access(&self, _req: &Request, ino: INodeNo, _mask: fuser::AccessFlags, reply: ReplyEmpty) {
        empty(reply, self.lock().getattr(ino.0).map(|_| ()));
    }
}
