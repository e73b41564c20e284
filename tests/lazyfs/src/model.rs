//! The file system itself, without FUSE: a live tree in memory and a durable tree that
//! is the backing directory. See the crate documentation for the durability rules.
//!
//! Every inode number is shared by both trees. The durable tree is kept as links
//! (`dlink`: inode → durable parent and name) and durable directory listings
//! (`dchildren`), and the backing directory always looks exactly like it: every change
//! to the durable tree is made on disk (and the disk fsynced) before the call returns.
//! So a power cut has nothing to undo: it only stops all further changes.

use crate::ranges::RangeSet;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ffi::{OsStr, OsString};
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// An inode number (FUSE node id). Never reused while mounted.
pub type Ino = u64;

/// The root directory's inode number (FUSE's).
pub const ROOT: Ino = 1;

/// Names of the backing directory's short-lived entries while a cycle of renames (a
/// swap) is made durable; none is left behind unless the backing file system fails.
const TMP_PREFIX: &str = ".kith-lazyfs-tmp-";

/// Why an operation failed; the FUSE layer maps each to an errno.
#[derive(Debug)]
pub enum Error {
    /// No such entry or inode (`ENOENT`).
    NotFound,
    /// The name is taken (`EEXIST`).
    Exists,
    /// Not a directory (`ENOTDIR`).
    NotDir,
    /// Is a directory (`EISDIR`).
    IsDir,
    /// The directory is not empty (`ENOTEMPTY`).
    NotEmpty,
    /// An invalid request, such as moving a directory into itself (`EINVAL`).
    Invalid,
    /// The power was cut: nothing works any more (`EIO`).
    Cut,
    /// The backing directory failed, or a durable change is one this model cannot make
    /// (`EIO`).
    Io(io::Error),
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::NotFound => f.write_str("not found"),
            Error::Exists => f.write_str("exists"),
            Error::NotDir => f.write_str("not a directory"),
            Error::IsDir => f.write_str("is a directory"),
            Error::NotEmpty => f.write_str("directory not empty"),
            Error::Invalid => f.write_str("invalid argument"),
            Error::Cut => f.write_str("the power was cut"),
            Error::Io(e) => write!(f, "backing directory: {e}"),
        }
    }
}

/// The result of a model operation.
pub type Result<T> = std::result::Result<T, Error>;

/// What an inode is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
}

/// An inode's attributes, as `stat` reports them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attr {
    /// Inode number.
    pub ino: Ino,
    /// File or directory.
    pub kind: Kind,
    /// Length in bytes (files; 0 for directories).
    pub size: u64,
    /// Permission bits (`mode & 0o7777`).
    pub perm: u16,
    /// Number of links.
    pub nlink: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Last access.
    pub atime: SystemTime,
    /// Last modification.
    pub mtime: SystemTime,
    /// Last status change.
    pub ctime: SystemTime,
}

/// The changes of a `setattr`; `None` leaves a field alone.
#[derive(Clone, Debug, Default)]
pub struct SetAttr {
    /// New permission bits.
    pub mode: Option<u32>,
    /// New owner.
    pub uid: Option<u32>,
    /// New group.
    pub gid: Option<u32>,
    /// New length (truncate or extend with zeros).
    pub size: Option<u64>,
    /// New access time.
    pub atime: Option<SystemTime>,
    /// New modification time.
    pub mtime: Option<SystemTime>,
}

struct Meta {
    perm: u16,
    uid: u32,
    gid: u32,
    atime: SystemTime,
    mtime: SystemTime,
    ctime: SystemTime,
    /// Whether `perm` is what the backing file has (chmod is made durable by fsync).
    perm_synced: bool,
}

/// A file's live content and how it differs from its backing file.
struct FileData {
    data: Vec<u8>,
    /// Bytes written since the last sync.
    dirty: RangeSet,
    /// The backing file's length.
    backing_len: u64,
    /// The smallest live length since the last sync: the backing file's bytes at and past
    /// it are stale (truncated away, maybe extended again with zeros).
    min_len: u64,
}

impl FileData {
    fn empty() -> FileData {
        FileData {
            data: Vec::new(),
            dirty: RangeSet::default(),
            backing_len: 0,
            min_len: 0,
        }
    }

    /// Forgets the backing file (it is gone): all content is unsynced again.
    fn lose_backing(&mut self) {
        self.backing_len = 0;
        self.min_len = 0;
        self.dirty.clear();
        self.dirty.insert(0, self.data.len() as u64);
    }

    fn set_len(&mut self, len: u64) {
        let len_usize = usize::try_from(len).unwrap_or(usize::MAX);
        if len_usize < self.data.len() {
            self.data.truncate(len_usize);
            self.dirty.clip(len);
            self.min_len = self.min_len.min(len);
        } else {
            self.data.resize(len_usize, 0);
        }
    }
}

enum Body {
    File(FileData),
    Dir(BTreeMap<OsString, Ino>),
}

struct Inode {
    meta: Meta,
    body: Body,
    /// Its live parent and name; `None` for the root and for unlinked inodes.
    link: Option<(Ino, OsString)>,
    /// Open file or directory handles.
    open: u32,
}

impl Inode {
    fn kind(&self) -> Kind {
        match self.body {
            Body::File(_) => Kind::File,
            Body::Dir(_) => Kind::Dir,
        }
    }
}

/// The whole file system: live state in memory, durable state in the backing directory.
pub struct Model {
    backing: PathBuf,
    inodes: HashMap<Ino, Inode>,
    next_ino: Ino,
    cut: bool,
    /// Durable parent and name of every durable inode but the root.
    dlink: HashMap<Ino, (Ino, OsString)>,
    /// Durable entries of every durable directory, the root included.
    dchildren: HashMap<Ino, BTreeMap<OsString, Ino>>,
    next_tmp: u64,
}

fn now() -> SystemTime {
    SystemTime::now()
}

fn meta_from(md: &fs::Metadata) -> Meta {
    let time = |secs: i64, nsecs: i64| {
        let (Ok(s), Ok(n)) = (u64::try_from(secs), u32::try_from(nsecs)) else {
            return SystemTime::UNIX_EPOCH;
        };
        SystemTime::UNIX_EPOCH + Duration::new(s, n)
    };
    Meta {
        perm: (md.mode() & 0o7777) as u16,
        uid: md.uid(),
        gid: md.gid(),
        atime: time(md.atime(), md.atime_nsec()),
        mtime: time(md.mtime(), md.mtime_nsec()),
        ctime: time(md.ctime(), md.ctime_nsec()),
        perm_synced: true,
    }
}

fn sync_path(path: &Path) -> io::Result<()> {
    File::open(path)?.sync_all()
}

impl Model {
    /// Opens the file system on `backing`: both the live and the durable state start as
    /// what the directory holds (regular files and directories; anything else is
    /// skipped with a warning).
    pub fn load(backing: &Path) -> io::Result<Model> {
        let backing = backing.canonicalize()?;
        let md = fs::metadata(&backing)?;
        if !md.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is not a directory", backing.display()),
            ));
        }
        let mut model = Model {
            backing: backing.clone(),
            inodes: HashMap::new(),
            next_ino: ROOT + 1,
            cut: false,
            dlink: HashMap::new(),
            dchildren: HashMap::new(),
            next_tmp: 0,
        };
        model.inodes.insert(
            ROOT,
            Inode {
                meta: meta_from(&md),
                body: Body::Dir(BTreeMap::new()),
                link: None,
                open: 0,
            },
        );
        model.dchildren.insert(ROOT, BTreeMap::new());
        let mut stack = vec![(ROOT, backing)];
        while let Some((dir, path)) = stack.pop() {
            let mut entries: Vec<_> = fs::read_dir(&path)?.collect::<io::Result<_>>()?;
            entries.sort_by_key(|e| e.file_name());
            for entry in entries {
                let name = entry.file_name();
                let md = fs::symlink_metadata(entry.path())?;
                let body = if md.is_dir() {
                    Body::Dir(BTreeMap::new())
                } else if md.is_file() {
                    let data = fs::read(entry.path())?;
                    let len = data.len() as u64;
                    Body::File(FileData {
                        data,
                        dirty: RangeSet::default(),
                        backing_len: len,
                        min_len: len,
                    })
                } else {
                    eprintln!(
                        "kith-lazyfs: skipping {} (neither a file nor a directory)",
                        entry.path().display()
                    );
                    continue;
                };
                let ino = model.alloc_ino();
                if md.is_dir() {
                    model.dchildren.insert(ino, BTreeMap::new());
                    stack.push((ino, entry.path()));
                }
                model.inodes.insert(
                    ino,
                    Inode {
                        meta: meta_from(&md),
                        body,
                        link: Some((dir, name.clone())),
                        open: 0,
                    },
                );
                model.dir_mut(dir).insert(name.clone(), ino);
                model.dlink.insert(ino, (dir, name.clone()));
                model.dchildren_mut(dir).insert(name, ino);
            }
        }
        Ok(model)
    }

    /// The backing directory (canonical path).
    pub fn backing(&self) -> &Path {
        &self.backing
    }

    fn alloc_ino(&mut self) -> Ino {
        let ino = self.next_ino;
        self.next_ino += 1;
        ino
    }

    // ---- the power cut ------------------------------------------------------------

    /// Cuts the power: drops the live state (everything not yet durable) and fails every
    /// later operation with [`Error::Cut`]. The backing directory already holds exactly
    /// what was made durable, so nothing is written.
    pub fn cut(&mut self) {
        self.cut = true;
        self.inodes = HashMap::new();
    }

    /// Whether the power was cut.
    pub fn is_cut(&self) -> bool {
        self.cut
    }

    fn check(&self) -> Result<()> {
        if self.cut { Err(Error::Cut) } else { Ok(()) }
    }

    // ---- live state ---------------------------------------------------------------

    fn inode(&self, ino: Ino) -> Result<&Inode> {
        self.inodes.get(&ino).ok_or(Error::NotFound)
    }

    fn inode_mut(&mut self, ino: Ino) -> Result<&mut Inode> {
        self.inodes.get_mut(&ino).ok_or(Error::NotFound)
    }

    fn dir(&self, ino: Ino) -> Result<&BTreeMap<OsString, Ino>> {
        match &self.inode(ino)?.body {
            Body::Dir(d) => Ok(d),
            Body::File(_) => Err(Error::NotDir),
        }
    }

    /// A live directory's entries. Only for inodes known to be live directories.
    fn dir_mut(&mut self, ino: Ino) -> &mut BTreeMap<OsString, Ino> {
        match self.inodes.get_mut(&ino).map(|i| &mut i.body) {
            Some(Body::Dir(d)) => d,
            _ => unreachable!("inode {ino} is not a live directory"),
        }
    }

    fn file_mut(&mut self, ino: Ino) -> Result<&mut FileData> {
        match &mut self.inode_mut(ino)?.body {
            Body::File(f) => Ok(f),
            Body::Dir(_) => Err(Error::IsDir),
        }
    }

    fn attr_of(&self, ino: Ino) -> Result<Attr> {
        let inode = self.inode(ino)?;
        let (size, nlink) = match &inode.body {
            Body::File(f) => (f.data.len() as u64, u32::from(inode.link.is_some())),
            Body::Dir(d) => {
                let subdirs = d
                    .values()
                    .filter(|c| self.inodes.get(c).is_some_and(|i| i.kind() == Kind::Dir))
                    .count();
                (0, 2 + subdirs as u32)
            }
        };
        let m = &inode.meta;
        Ok(Attr {
            ino,
            kind: inode.kind(),
            size,
            perm: m.perm,
            nlink,
            uid: m.uid,
            gid: m.gid,
            atime: m.atime,
            mtime: m.mtime,
            ctime: m.ctime,
        })
    }

    fn touch_dir(&mut self, dir: Ino) {
        if let Some(i) = self.inodes.get_mut(&dir) {
            let t = now();
            i.meta.mtime = t;
            i.meta.ctime = t;
        }
    }

    /// Drops an inode that has neither a name nor an open handle.
    fn maybe_forget(&mut self, ino: Ino) {
        if ino != ROOT
            && self
                .inodes
                .get(&ino)
                .is_some_and(|i| i.link.is_none() && i.open == 0)
        {
            self.inodes.remove(&ino);
        }
    }

    /// The attributes of `name` in directory `parent`.
    pub fn lookup(&self, parent: Ino, name: &OsStr) -> Result<Attr> {
        self.check()?;
        let child = *self.dir(parent)?.get(name).ok_or(Error::NotFound)?;
        self.attr_of(child)
    }

    /// The attributes of `ino`.
    pub fn getattr(&self, ino: Ino) -> Result<Attr> {
        self.check()?;
        self.attr_of(ino)
    }

    /// Changes attributes; a new size truncates or extends (with zeros) the live content.
    pub fn setattr(&mut self, ino: Ino, set: &SetAttr) -> Result<Attr> {
        self.check()?;
        let inode = self.inode_mut(ino)?;
        if let Some(size) = set.size {
            match &mut inode.body {
                Body::File(f) => f.set_len(size),
                Body::Dir(_) => return Err(Error::IsDir),
            }
            inode.meta.mtime = now();
        }
        let m = &mut inode.meta;
        if let Some(mode) = set.mode {
            let perm = (mode & 0o7777) as u16;
            if perm != m.perm {
                m.perm = perm;
                m.perm_synced = false;
            }
        }
        if let Some(uid) = set.uid {
            m.uid = uid;
        }
        if let Some(gid) = set.gid {
            m.gid = gid;
        }
        if let Some(t) = set.atime {
            m.atime = t;
        }
        if let Some(t) = set.mtime {
            m.mtime = t;
        }
        m.ctime = now();
        self.attr_of(ino)
    }

    fn new_inode(
        &mut self,
        parent: Ino,
        name: &OsStr,
        body: Body,
        mode: u32,
        uid: u32,
        gid: u32,
    ) -> Ino {
        let ino = self.alloc_ino();
        let t = now();
        self.inodes.insert(
            ino,
            Inode {
                meta: Meta {
                    perm: (mode & 0o7777) as u16,
                    uid,
                    gid,
                    atime: t,
                    mtime: t,
                    ctime: t,
                    perm_synced: true,
                },
                body,
                link: Some((parent, name.to_os_string())),
                open: 0,
            },
        );
        self.dir_mut(parent).insert(name.to_os_string(), ino);
        self.touch_dir(parent);
        ino
    }

    /// Creates the file `name` in `parent`, or finds it if it exists and `exclusive` is
    /// false. Returns its attributes and whether it was created. Does not open it.
    pub fn create(
        &mut self,
        parent: Ino,
        name: &OsStr,
        mode: u32,
        uid: u32,
        gid: u32,
        exclusive: bool,
    ) -> Result<(Attr, bool)> {
        self.check()?;
        if let Some(&existing) = self.dir(parent)?.get(name) {
            if exclusive {
                return Err(Error::Exists);
            }
            let attr = self.attr_of(existing)?;
            if attr.kind == Kind::Dir {
                return Err(Error::IsDir);
            }
            return Ok((attr, false));
        }
        let ino = self.new_inode(parent, name, Body::File(FileData::empty()), mode, uid, gid);
        Ok((self.attr_of(ino)?, true))
    }

    /// Creates the directory `name` in `parent`.
    pub fn mkdir(
        &mut self,
        parent: Ino,
        name: &OsStr,
        mode: u32,
        uid: u32,
        gid: u32,
    ) -> Result<Attr> {
        self.check()?;
        if self.dir(parent)?.contains_key(name) {
            return Err(Error::Exists);
        }
        let ino = self.new_inode(parent, name, Body::Dir(BTreeMap::new()), mode, uid, gid);
        self.attr_of(ino)
    }

    /// Removes the file `name` from `parent`.
    pub fn unlink(&mut self, parent: Ino, name: &OsStr) -> Result<()> {
        self.check()?;
        let child = *self.dir(parent)?.get(name).ok_or(Error::NotFound)?;
        if self.inode(child)?.kind() == Kind::Dir {
            return Err(Error::IsDir);
        }
        self.detach(parent, name, child);
        Ok(())
    }

    /// Removes the empty directory `name` from `parent`.
    pub fn rmdir(&mut self, parent: Ino, name: &OsStr) -> Result<()> {
        self.check()?;
        let child = *self.dir(parent)?.get(name).ok_or(Error::NotFound)?;
        if !self.dir(child)?.is_empty() {
            return Err(Error::NotEmpty);
        }
        self.detach(parent, name, child);
        Ok(())
    }

    fn detach(&mut self, parent: Ino, name: &OsStr, child: Ino) {
        self.dir_mut(parent).remove(name);
        self.touch_dir(parent);
        if let Some(i) = self.inodes.get_mut(&child) {
            i.link = None;
            i.meta.ctime = now();
        }
        self.maybe_forget(child);
    }

    /// Renames `parent/name` to `newparent/newname`, replacing a file there (or an empty
    /// directory by a directory); with `noreplace`, fails if the target exists.
    pub fn rename(
        &mut self,
        parent: Ino,
        name: &OsStr,
        newparent: Ino,
        newname: &OsStr,
        noreplace: bool,
    ) -> Result<()> {
        self.check()?;
        let src = *self.dir(parent)?.get(name).ok_or(Error::NotFound)?;
        let target = self.dir(newparent)?.get(newname).copied();
        let src_kind = self.inode(src)?.kind();
        if let Some(t) = target {
            if noreplace {
                return Err(Error::Exists);
            }
            if t == src {
                return Ok(());
            }
            match (src_kind, self.inode(t)?.kind()) {
                (Kind::Dir, Kind::File) => return Err(Error::NotDir),
                (Kind::File, Kind::Dir) => return Err(Error::IsDir),
                (Kind::Dir, Kind::Dir) if !self.dir(t)?.is_empty() => {
                    return Err(Error::NotEmpty);
                }
                _ => {}
            }
        }
        if src_kind == Kind::Dir {
            // A directory cannot move into its own subtree.
            let mut at = newparent;
            loop {
                if at == src {
                    return Err(Error::Invalid);
                }
                match self.inodes.get(&at).and_then(|i| i.link.as_ref()) {
                    Some((p, _)) => at = *p,
                    None => break,
                }
            }
        }
        if let Some(t) = target {
            self.detach(newparent, newname, t);
        }
        self.dir_mut(parent).remove(name);
        self.dir_mut(newparent).insert(newname.to_os_string(), src);
        self.touch_dir(parent);
        self.touch_dir(newparent);
        if let Some(i) = self.inodes.get_mut(&src) {
            i.link = Some((newparent, newname.to_os_string()));
            i.meta.ctime = now();
        }
        Ok(())
    }

    /// Opens a file or directory (counts the handle, so that an unlinked inode stays
    /// readable until released).
    pub fn open(&mut self, ino: Ino) -> Result<()> {
        self.check()?;
        self.inode_mut(ino)?.open += 1;
        Ok(())
    }

    /// Releases a handle of [`Model::open`].
    pub fn release(&mut self, ino: Ino) -> Result<()> {
        self.check()?;
        let inode = self.inode_mut(ino)?;
        inode.open = inode.open.saturating_sub(1);
        self.maybe_forget(ino);
        Ok(())
    }

    /// Up to `size` bytes of the live content from `offset` on.
    pub fn read(&self, ino: Ino, offset: u64, size: u32) -> Result<&[u8]> {
        self.check()?;
        let data = match &self.inode(ino)?.body {
            Body::File(f) => &f.data,
            Body::Dir(_) => return Err(Error::IsDir),
        };
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(data.len());
        let end = start.saturating_add(size as usize).min(data.len());
        Ok(&data[start..end])
    }

    /// Writes `bytes` at `offset` into the live content (extending it with zeros first
    /// if `offset` is past its end). Nothing reaches the backing file until a sync.
    pub fn write(&mut self, ino: Ino, offset: u64, bytes: &[u8]) -> Result<u32> {
        self.check()?;
        let f = self.file_mut(ino)?;
        let start = usize::try_from(offset).map_err(|_| Error::Invalid)?;
        let end = start.checked_add(bytes.len()).ok_or(Error::Invalid)?;
        if end > f.data.len() {
            f.data.resize(end, 0);
        }
        f.data[start..end].copy_from_slice(bytes);
        f.dirty.insert(offset, end as u64);
        let t = now();
        let m = &mut self.inode_mut(ino)?.meta;
        m.mtime = t;
        m.ctime = t;
        Ok(bytes.len() as u32)
    }

    /// A live directory's entries, `.` and `..` first.
    pub fn readdir(&self, ino: Ino) -> Result<Vec<(Ino, Kind, OsString)>> {
        self.check()?;
        let dir = self.dir(ino)?;
        let parent = self.inode(ino)?.link.as_ref().map_or(ROOT, |(p, _)| *p);
        let mut out = vec![
            (ino, Kind::Dir, OsString::from(".")),
            (parent, Kind::Dir, OsString::from("..")),
        ];
        for (name, child) in dir {
            if let Some(i) = self.inodes.get(child) {
                out.push((*child, i.kind(), name.clone()));
            }
        }
        Ok(out)
    }

    // ---- durability ---------------------------------------------------------------

    /// `fsync`/`fdatasync` of a file, `fsync` of a directory: see the crate docs.
    pub fn fsync(&mut self, ino: Ino) -> Result<()> {
        self.check()?;
        match self.inode(ino)?.kind() {
            Kind::File => self.sync_file(ino),
            Kind::Dir => self.sync_dir(ino),
        }
    }

    fn sync_file(&mut self, ino: Ino) -> Result<()> {
        let mut pending = Vec::new();
        let linked = self.ensure_durable(ino, &mut pending)?;
        self.settle(pending)?;
        if linked {
            self.write_back(ino)?;
        }
        // An unlinked file has no name to come back under after a crash: nothing to do.
        Ok(())
    }

    fn sync_dir(&mut self, ino: Ino) -> Result<()> {
        let mut pending = Vec::new();
        if !self.ensure_durable(ino, &mut pending)? {
            return self.settle(pending);
        }
        let mut names: BTreeSet<OsString> = self.dir(ino)?.keys().cloned().collect();
        names.extend(
            self.dchildren
                .get(&ino)
                .into_iter()
                .flatten()
                .map(|(n, _)| n.clone()),
        );
        for name in names {
            self.place(ino, &name, &mut pending)?;
        }
        self.settle(pending)
    }

    fn live_link(&self, ino: Ino) -> Option<(Ino, OsString)> {
        self.inodes.get(&ino)?.link.clone()
    }

    fn dchildren_mut(&mut self, dir: Ino) -> &mut BTreeMap<OsString, Ino> {
        self.dchildren.entry(dir).or_default()
    }

    /// The backing path of a durable inode.
    fn dpath(&self, ino: Ino) -> PathBuf {
        let mut names = Vec::new();
        let mut at = ino;
        while at != ROOT {
            let (p, n) = self
                .dlink
                .get(&at)
                .unwrap_or_else(|| unreachable!("inode {at} is not durable"));
            names.push(n);
            at = *p;
        }
        let mut path = self.backing.clone();
        path.extend(names.into_iter().rev());
        path
    }

    /// Gives a live inode a durable name if it has none: its live entry is made durable
    /// in its parent, and so on up while the parents have none either (what ext4 does
    /// for a new file or directory). False if it (or a parent) has no live name.
    fn ensure_durable(&mut self, ino: Ino, pending: &mut Vec<Ino>) -> Result<bool> {
        if ino == ROOT || self.dlink.contains_key(&ino) {
            return Ok(true);
        }
        let Some((parent, name)) = self.live_link(ino) else {
            return Ok(false);
        };
        if !self.ensure_durable(parent, pending)? {
            return Ok(false);
        }
        self.place(parent, &name, pending)?;
        Ok(true)
    }

    /// Makes the durable entry `name` of durable directory `dir` what the live one is.
    ///
    /// An inode that was durable there but lives elsewhere now was renamed: the rename
    /// is made durable as a whole (a rename is atomic: a crash never loses the file),
    /// by parking it under a temporary name and moving it to its live place in
    /// [`Model::settle`]. The parking breaks cycles of renames such as swaps.
    fn place(&mut self, dir: Ino, name: &OsStr, pending: &mut Vec<Ino>) -> Result<()> {
        let live = self.inodes.get(&dir).and_then(|i| match &i.body {
            Body::Dir(d) => d.get(name).copied(),
            Body::File(_) => None,
        });
        let durable = self.dchildren.get(&dir).and_then(|d| d.get(name).copied());
        if live == durable {
            return Ok(());
        }
        if let Some(old) = durable {
            if self.live_link(old).is_some() {
                let tmp = self.tmp_name();
                self.move_durable(old, ROOT, &tmp)?;
                pending.push(old);
            } else {
                self.remove_durable(old, pending)?;
            }
        }
        if let Some(new) = live {
            if self.dlink.contains_key(&new) {
                self.move_durable(new, dir, name)?;
            } else {
                self.create_durable(new, dir, name)?;
            }
        }
        Ok(())
    }

    /// Moves every parked (renamed) inode to its live place, which may park others.
    /// Ends: each step makes one more durable entry equal to its live one, and such an
    /// entry is never parked again.
    fn settle(&mut self, mut pending: Vec<Ino>) -> Result<()> {
        while let Some(ino) = pending.pop() {
            if !self.dlink.contains_key(&ino) {
                continue;
            }
            match self.live_link(ino) {
                Some((parent, name)) if self.ensure_durable(parent, &mut pending)? => {
                    self.place(parent, &name, &mut pending)?;
                }
                _ => self.remove_durable(ino, &mut pending)?,
            }
        }
        Ok(())
    }

    fn tmp_name(&mut self) -> OsString {
        loop {
            self.next_tmp += 1;
            let name = OsString::from(format!("{TMP_PREFIX}{}", self.next_tmp));
            let taken = self
                .dchildren
                .get(&ROOT)
                .is_some_and(|d| d.contains_key(&name))
                || self.backing.join(&name).symlink_metadata().is_ok();
            if !taken {
                return name;
            }
        }
    }

    /// Renames a durable inode in the backing directory to `dir/name`, which must be
    /// free in the durable tree.
    fn move_durable(&mut self, ino: Ino, dir: Ino, name: &OsStr) -> Result<()> {
        let mut at = dir;
        while at != ROOT {
            if at == ino {
                // Only reachable by renaming a directory under what was its own durable
                // subtree without syncing in between; nothing Kith does.
                return Err(Error::Io(io::Error::other(
                    "cannot make durable a rename of a directory into its own durable subtree",
                )));
            }
            at = self.dlink[&at].0;
        }
        let from = self.dpath(ino);
        let to = self.dpath(dir).join(name);
        fs::rename(&from, &to)?;
        let (old_dir, old_name) = self
            .dlink
            .insert(ino, (dir, name.to_os_string()))
            .unwrap_or_else(|| unreachable!("moved inode {ino} was durable"));
        self.dchildren_mut(old_dir).remove(&old_name);
        self.dchildren_mut(dir).insert(name.to_os_string(), ino);
        sync_path(&self.dpath(old_dir))?;
        if old_dir != dir {
            sync_path(&self.dpath(dir))?;
        }
        Ok(())
    }

    /// Creates a live inode that has no durable name at `dir/name` in the backing
    /// directory: a directory empty, a file empty (its data is durable only once it is
    /// fsynced itself).
    fn create_durable(&mut self, ino: Ino, dir: Ino, name: &OsStr) -> Result<()> {
        let path = self.dpath(dir).join(name);
        let inode = self.inodes.get_mut(&ino).ok_or(Error::NotFound)?;
        let perm = fs::Permissions::from_mode(u32::from(inode.meta.perm));
        match &mut inode.body {
            Body::File(f) => {
                let file = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&path)?;
                file.set_permissions(perm)?;
                file.sync_all()?;
                if f.backing_len != 0 {
                    f.lose_backing();
                }
            }
            Body::Dir(_) => {
                fs::create_dir(&path)?;
                fs::set_permissions(&path, perm)?;
                sync_path(&path)?;
                self.dchildren.insert(ino, BTreeMap::new());
            }
        }
        inode.meta.perm_synced = true;
        self.dlink.insert(ino, (dir, name.to_os_string()));
        self.dchildren_mut(dir).insert(name.to_os_string(), ino);
        sync_path(&self.dpath(dir))?;
        Ok(())
    }

    /// Deletes a durable inode that has no live name from the backing directory. Its
    /// durable descendants that do have one (they were renamed out of it) are parked
    /// first, so that the rename is not lost.
    fn remove_durable(&mut self, ino: Ino, pending: &mut Vec<Ino>) -> Result<()> {
        let mut stack = vec![ino];
        while let Some(d) = stack.pop() {
            let kids: Vec<Ino> = self
                .dchildren
                .get(&d)
                .into_iter()
                .flatten()
                .map(|(_, c)| *c)
                .collect();
            for c in kids {
                if self.live_link(c).is_some() {
                    let tmp = self.tmp_name();
                    self.move_durable(c, ROOT, &tmp)?;
                    pending.push(c);
                } else if self.dchildren.contains_key(&c) {
                    stack.push(c);
                }
            }
        }
        let path = self.dpath(ino);
        let removed = if self.dchildren.contains_key(&ino) {
            fs::remove_dir_all(&path)
        } else {
            fs::remove_file(&path)
        };
        match removed {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e.into()),
            _ => {}
        }
        let (dir, name) = self
            .dlink
            .remove(&ino)
            .unwrap_or_else(|| unreachable!("removed inode {ino} was durable"));
        self.dchildren_mut(dir).remove(&name);
        let mut stack = vec![ino];
        while let Some(d) = stack.pop() {
            if let Some(Body::File(f)) = self.inodes.get_mut(&d).map(|i| &mut i.body) {
                f.lose_backing();
            }
            if let Some(kids) = self.dchildren.remove(&d) {
                for (_, c) in kids {
                    self.dlink.remove(&c);
                    stack.push(c);
                }
            }
        }
        sync_path(&self.dpath(dir))?;
        Ok(())
    }

    /// Writes a durable file's unsynced bytes and length (and mode) to its backing file
    /// and fsyncs it.
    fn write_back(&mut self, ino: Ino) -> Result<()> {
        let path = self.dpath(ino);
        let inode = self.inodes.get_mut(&ino).ok_or(Error::NotFound)?;
        let Body::File(f) = &mut inode.body else {
            return Err(Error::IsDir);
        };
        let len = f.data.len() as u64;
        if f.dirty.is_empty() && f.backing_len == len && f.min_len >= len && inode.meta.perm_synced
        {
            return Ok(());
        }
        let file = OpenOptions::new().write(true).open(&path)?;
        let mut at = f.backing_len;
        if f.min_len < f.backing_len {
            file.set_len(f.min_len)?;
            at = f.min_len;
        }
        for (s, e) in f.dirty.iter() {
            let e = e.min(len);
            if s < e {
                file.write_all_at(&f.data[s as usize..e as usize], s)?;
                at = at.max(e);
            }
        }
        if at != len {
            file.set_len(len)?;
        }
        if !inode.meta.perm_synced {
            file.set_permissions(fs::Permissions::from_mode(u32::from(inode.meta.perm)))?;
            inode.meta.perm_synced = true;
        }
        file.sync_all()?;
        f.dirty.clear();
        f.backing_len = len;
        f.min_len = len;
        Ok(())
    }

    /// The durable tree as `(path relative to the backing directory, kind)`, sorted:
    /// what the backing directory must hold (for tests).
    pub fn durable_tree(&self) -> Vec<(PathBuf, Kind)> {
        let mut out: Vec<(PathBuf, Kind)> = self
            .dlink
            .keys()
            .map(|&ino| {
                let path = self
                    .dpath(ino)
                    .strip_prefix(&self.backing)
                    .expect("durable paths are under the backing directory")
                    .to_path_buf();
                let kind = if self.dchildren.contains_key(&ino) {
                    Kind::Dir
                } else {
                    Kind::File
                };
                (path, kind)
            })
            .collect();
        out.sort();
        out
    }

    /// The live path of `ino` from the mount's root (`None` if it has no live name), for
    /// traces.
    pub fn live_path(&self, ino: Ino) -> Option<PathBuf> {
        let mut names = Vec::new();
        let mut at = ino;
        while at != ROOT {
            let (p, n) = self.inodes.get(&at)?.link.as_ref()?;
            names.push(n.as_os_str());
            at = *p;
        }
        Some(names.into_iter().rev().collect())
    }

    /// The live tree as `(path, kind, content)`, sorted (for tests).
    pub fn live_tree(&self) -> Vec<(PathBuf, Kind, Vec<u8>)> {
        let mut out = Vec::new();
        let mut stack = vec![(ROOT, PathBuf::new())];
        while let Some((dir, path)) = stack.pop() {
            let Ok(entries) = self.dir(dir) else { continue };
            for (name, &child) in entries {
                let p = path.join(name);
                match self.inodes.get(&child).map(|i| &i.body) {
                    Some(Body::File(f)) => out.push((p, Kind::File, f.data.clone())),
                    Some(Body::Dir(_)) => {
                        out.push((p.clone(), Kind::Dir, Vec::new()));
                        stack.push((child, p));
                    }
                    None => {}
                }
            }
        }
        out.sort();
        out
    }
}

#[cfg(test)]
mod tests;
