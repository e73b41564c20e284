//! `kith-lazyfs`: a FUSE file system for power-cut tests, in the spirit of LazyFS (as
//! Jepsen uses it). Its *live* state is in memory; its *durable* state is a backing
//! directory. A program on top sees every write at once, but only what it made durable
//! with `fsync`/`fdatasync` (and directory fsyncs) reaches the backing directory. On a
//! simulated power cut everything else is gone, and the backing directory holds exactly
//! what a real disk would still hold.
//!
//! ```text
//! kith-lazyfs BACKING_DIR MOUNTPOINT
//! ```
//!
//! mounts the file system at `MOUNTPOINT` (the `mount` system call as root, else the
//! `fusermount3` helper of Debian's `fuse3` package), starting from what `BACKING_DIR`
//! holds, and prints `kith-lazyfs mounted` on stdout once it is. Then:
//!
//! - **SIGUSR1** cuts the power: the live state is dropped and every later operation
//!   fails with `EIO`, so the program on top cannot make anything more durable. The file
//!   system stays mounted (and answering `EIO`) until it is unmounted.
//! - **SIGTERM** (or SIGINT) unmounts (lazily if busy) and exits; unsynced writes are
//!   lost as on a cut. `fusermount3 -u MOUNTPOINT` or `umount -l MOUNTPOINT` also ends
//!   it.
//! - With **`KITH_LAZYFS_TRACE=FILE`** in its environment it appends a line to `FILE`
//!   for every namespace change, truncation and (dir) fsync that succeeded, and `cut`:
//!   what to read when a power-cut test fails, to see what the program on top did not
//!   make durable.
//!
//! # Durability rules
//!
//! Data and namespace are both strict, as POSIX promises and no more:
//!
//! 1. **File data.** Writes and truncations change only the live content. `fsync` or
//!    `fdatasync` of a file writes its current content and length (and mode) to its
//!    backing file and fsyncs that. `sync_file_range(2)`, `close` and `flush` make
//!    nothing durable (FUSE does not even see `sync_file_range`).
//! 2. **Directory entries.** Creating, removing and renaming entries change only the
//!    live tree. `fsync` of a directory makes all of that directory's entries durable as
//!    they are live: new entries appear in the backing directory (a file whose data was
//!    never fsynced appears empty, as on ext4 after a crash), removed ones go, renamed
//!    ones move.
//! 3. **New files and directories** (the one exception, as ext4 does it with
//!    `ext4_sync_parent`): `fsync` of a file or directory that has no durable name yet
//!    also makes its live entry durable in its parent, and the parent's in its own
//!    parent while those are new too, so that fsync of a new file is enough to find it
//!    after a crash. Only those entries: the parent's other new entries stay volatile.
//!    A renamed (not new) file keeps its old durable name until a directory is fsynced.
//! 4. **Renames are atomic.** A rename becomes durable as one change when the directory
//!    it left or the one it entered is fsynced (a crash never leaves a renamed file under
//!    both names or under none). A cycle of renames (a swap through a temporary name) is
//!    made durable through a temporary name in the backing root,
//!    `.kith-lazyfs-tmp-N`, which is gone again before the fsync returns.
//! 5. Removing a directory durably keeps what was renamed out of it (it moves to its
//!    live place), so that a durable `rmdir` never loses a rename that is not durable.
//!
//! Not modelled: hard links and symlinks (refused), extended attributes, timestamps and
//! ownership (live only; the backing files get the times of their last sync), and
//! renaming a directory into what is still its own durable subtree (the fsync that
//! would persist it fails with `EIO`). Every operation is applied under one lock, so a
//! cut never splits one.
//!
//! The model ([`model::Model`]) does not depend on FUSE; [`fs::LazyFs`] maps FUSE
//! requests onto it.
#![forbid(unsafe_code)]

pub mod fs;
pub mod model;
pub mod mounted;
pub mod probe;
mod ranges;
