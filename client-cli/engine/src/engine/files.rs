//! Files (issue 6): `kith send-file`, `kith files`, `kith get`.
//!
//! **Sending.** A file of at most [`MAX_FILE_BYTES`] is read whole, cut into chunks of
//! [`CHUNK_SIZE`] bytes (the last one padded with zeros to the same size), and each chunk
//! is sealed with ChaCha20-Poly1305 under a fresh random key made for this file alone.
//! Every sealed chunk is exactly [`MAX_BLOB`] bytes, a relay bucket, so the relay learns
//! only how many chunks a file has. The chunks are stored on the relay as blobs
//! (`PutBlob`, which needs access to the group's current epoch), and then a
//! [`Body::File`] message carries the file's name, size, SHA-256, key and the blob ids
//! inside the group's MLS encryption: only members who can read that message can open
//! the file, and the relay never sees the key.
//!
//! **Nonces.** Chunk `i` is sealed with the nonce `i` (96-bit big-endian; the format is
//! [`kith_protocol::aead::seal_chunk`]). That is safe because the key is fresh for every
//! file and seals each chunk index once: no (key, nonce) pair ever repeats with different
//! plaintexts. (Sending the same file twice makes a new key; retrying an upload re-sends
//! the same sealed bytes.) The associated data binds the chunk's index and the file's
//! chunk count, so chunks cannot be reordered, dropped or moved between positions without
//! the open failing.
//!
//! **Receiving.** A `File` message is checked (size within the limit, chunk size one the
//! relay can store, chunk count consistent with size and chunk size, name cleaned of
//! control characters and path separators) and recorded. Nothing is downloaded until
//! `kith get`.
//!
//! **Downloading.** Every chunk is fetched (`GetBlob`), its SHA-256 checked against the
//! id the message named (by the relay connection), opened (AEAD), the padding checked
//! and stripped, and the whole file's size and SHA-256 checked against the message. Any
//! failure refuses the whole file, naming the chunk. The file is written to a temporary
//! file in the destination directory, synced, and only then given its name; an existing
//! file is never replaced unless asked.

use super::records::*;
use super::{Client, ClientError, Result, SyncReport, now_secs};
use crate::identity::IdentityKey;
use crate::payload::{Body, FileRef};
use crate::relay::{RelayConnection, RelayError};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use kith_i18n::t;
use kith_protocol::aead::{TAG_LEN as TAG, open_chunk, seal_chunk, sha256};
use kith_protocol::frame::blob_id;
use kith_protocol::limits::MAX_BLOB;
use kith_protocol::padding::is_bucket;
use kith_protocol::{BlobId, ErrorCode, GroupId, Message, Seq};
use std::collections::VecDeque;
use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use zeroize::Zeroizing;

/// The largest file Kith sends or accepts: 25 MiB (scans of papers).
pub const MAX_FILE_BYTES: u64 = 25 << 20;

/// The plaintext bytes of one chunk: a sealed chunk is exactly one [`MAX_BLOB`].
pub const CHUNK_SIZE: usize = MAX_BLOB - TAG;

/// Blob requests in flight at once.
const WINDOW: usize = 8;

/// Rounds of blob transfers (each after reconnecting, or catching up with a new epoch)
/// before giving up.
const ROUNDS: u32 = 8;

/// The longest file name kept, in characters (and at most 255 bytes).
const MAX_FILE_NAME_CHARS: usize = 128;

/// A file as `kith files` lists it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct FileInfo {
    /// Its number in the group's list (1 = the oldest kept), for `kith get`.
    pub number: usize,
    /// Its name (cleaned).
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// Who shared it (display name).
    pub sender: String,
    /// Their identity key, hex.
    pub sender_id: Option<String>,
    /// Whether we shared it.
    pub own: bool,
    /// When it was shared (the sender's clock), Unix seconds.
    pub time: u64,
    /// The relay sequence number of the message that shared it.
    pub seq: Seq,
    /// How many chunks it is stored in.
    pub chunks: usize,
}

/// A file saved by [`Client::get_file`].
#[derive(Clone, Debug, serde::Serialize)]
pub struct SavedFile {
    /// Its name in the group.
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// Where it was written.
    pub path: PathBuf,
}

/// A file name as received or typed, made safe to show and to save: no control
/// characters, no path separators, no leading dots (no hidden files, no `..`), bounded.
pub fn clean_file_name(name: &str) -> String {
    let mut out = String::new();
    for c in name
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '/' | '\\'))
        .take(MAX_FILE_NAME_CHARS)
    {
        if out.len() + c.len_utf8() > 255 {
            break;
        }
        out.push(c);
    }
    let out = out.trim().trim_start_matches('.').trim();
    if out.is_empty() {
        "file".into()
    } else {
        out.to_owned()
    }
}

/// Whether a path as typed ends with a path separator (`-o saved/`: a folder).
fn ends_with_separator(p: &Path) -> bool {
    let s = p.as_os_str().to_string_lossy();
    s.ends_with('/') || s.ends_with(std::path::MAIN_SEPARATOR)
}

/// Where `kith get` saves the file called `name`: in the folder `out`, or as the file
/// `out`, or under its own name here. A folder that `out` names (`-o DIR/`, or the one
/// of `-o DIR/NAME`) must exist: saying so beats a system error about a temporary file.
fn destination(out: Option<&Path>, name: &str) -> Result<PathBuf> {
    let Some(p) = out else {
        return Ok(PathBuf::from(name));
    };
    if p.is_dir() {
        return Ok(p.join(name));
    }
    let folder = if ends_with_separator(p) {
        Some(p)
    } else {
        p.parent().filter(|d| !d.as_os_str().is_empty())
    };
    if let Some(folder) = folder.filter(|d| !d.is_dir()) {
        let shown = folder.display().to_string();
        let shown = shown.trim_end_matches(['/', std::path::MAIN_SEPARATOR]);
        return Err(ClientError::Usage(t!("net-file-no-folder", path = shown)));
    }
    Ok(p.to_path_buf())
}

/// How many chunks a file of `size` bytes takes (at least one: an empty file looks like
/// any other small file).
fn chunk_count(size: u64, chunk_size: u32) -> u64 {
    size.div_ceil(u64::from(chunk_size.max(1))).max(1)
}

/// Checks that a file reference adds up; says what does not.
fn check_file_ref(f: &FileRef) -> std::result::Result<(), String> {
    if f.size > MAX_FILE_BYTES {
        return Err(t!("net-file-ref-too-large"));
    }
    let sealed = f.chunk_size as usize + TAG;
    if f.chunk_size == 0 || sealed > MAX_BLOB || !is_bucket(sealed) {
        return Err(t!("net-file-ref-bad-chunk-size"));
    }
    if f.chunks.len() as u64 != chunk_count(f.size, f.chunk_size) {
        return Err(t!("net-file-ref-bad-chunk-list"));
    }
    Ok(())
}

fn altered(index: usize, count: usize) -> ClientError {
    ClientError::Hostile(t!(
        "net-file-chunk-altered",
        chunk = index + 1,
        count = count
    ))
}

/// Failures worth another round: the connection, the relay's load, its own failures.
fn transient(e: &RelayError) -> bool {
    matches!(
        e,
        RelayError::Connect(_)
            | RelayError::Closed(_)
            | RelayError::Timeout(_)
            | RelayError::PushOverflow
            | RelayError::Relay(ErrorCode::Internal | ErrorCode::RateLimited)
    )
}

/// Writes `data` to `dest` without ever leaving a partial file under that name: a
/// temporary file in the same directory (readable by us only), synced, then renamed
/// (replacing `dest` only with `force`; otherwise linked, which fails if it exists).
fn write_new_file(dest: &Path, data: &[u8], force: bool) -> Result<()> {
    let path = dest.display().to_string();
    let write_failed = |e: std::io::Error| {
        ClientError::Usage(t!(
            "net-file-cannot-write",
            path = &path,
            why = e.to_string()
        ))
    };
    let save_failed = |e: std::io::Error| {
        ClientError::Usage(t!(
            "net-file-cannot-save",
            path = &path,
            why = e.to_string()
        ))
    };
    let exists = || ClientError::Usage(t!("net-file-exists", path = &path));
    let dir = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let base = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let tmp = dir.join(format!(".{base}.kith-part-{:016x}", rand::random::<u64>()));
    let result = (|| {
        let mut open = std::fs::OpenOptions::new();
        open.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
        let mut f = open.open(&tmp).map_err(write_failed)?;
        f.write_all(data).map_err(write_failed)?;
        f.sync_all().map_err(write_failed)?;
        drop(f);
        if force {
            std::fs::rename(&tmp, dest).map_err(save_failed)
        } else {
            match std::fs::hard_link(&tmp, dest) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(exists()),
                // A file system without hard links: check, then rename.
                Err(_) if dest.exists() => Err(exists()),
                Err(_) => std::fs::rename(&tmp, dest).map_err(save_failed),
            }
        }
    })();
    let _ = std::fs::remove_file(&tmp);
    if result.is_ok()
        && let Ok(d) = std::fs::File::open(&dir)
    {
        // The new name, durable (best effort: not every platform syncs directories).
        let _ = d.sync_all();
    }
    result
}

impl Client {
    /// Sends the file at `path` to the group: seals it in chunks under a fresh key,
    /// stores the chunks on the relay, then sends the key, hash and chunk ids inside the
    /// group's encryption. Returns the message's sequence number.
    pub async fn send_file(&mut self, group: &GroupId, path: &Path) -> Result<Seq> {
        let usage = |s: String| ClientError::Usage(s);
        let shown = path.display().to_string();
        let cannot_read = |e: std::io::Error| {
            usage(t!(
                "net-file-cannot-read",
                path = &shown,
                why = e.to_string()
            ))
        };
        let name = path
            .file_name()
            .map(|n| clean_file_name(&n.to_string_lossy()))
            .ok_or_else(|| usage(t!("net-file-names-no-file", path = &shown)))?;
        let meta = std::fs::metadata(path).map_err(cannot_read)?;
        if !meta.is_file() {
            return Err(usage(t!("net-file-not-a-file", path = &shown)));
        }
        let too_big = |n: u64| {
            usage(t!(
                "net-file-too-big",
                path = &shown,
                size = kith_i18n::size(n),
                limit = kith_i18n::size(MAX_FILE_BYTES)
            ))
        };
        if meta.len() > MAX_FILE_BYTES {
            return Err(too_big(meta.len()));
        }
        let data = Zeroizing::new(std::fs::read(path).map_err(cannot_read)?);
        let size = data.len() as u64;
        if size > MAX_FILE_BYTES {
            return Err(too_big(size));
        }
        let g = self.load_group(group)?;
        if g.status != GroupStatus::Active {
            return Err(ClientError::NotMember(self.status_text(&g)));
        }

        let key = Zeroizing::new(rand::random::<[u8; 32]>());
        // At most 101 chunks: fits a u32.
        let count = chunk_count(size, CHUNK_SIZE as u32) as u32;
        let mut blobs = Vec::with_capacity(count as usize);
        let mut plain = Zeroizing::new(vec![0u8; CHUNK_SIZE]);
        for i in 0..count {
            let start = i as usize * CHUNK_SIZE;
            let end = (start + CHUNK_SIZE).min(data.len());
            plain.fill(0);
            plain[..end - start].copy_from_slice(&data[start..end]);
            blobs.push(seal_chunk(&key, i, count, &plain));
        }
        let chunks: Vec<BlobId> = blobs.iter().map(|b| blob_id(b)).collect();
        let sha256 = sha256(&data);
        drop(plain);
        drop(data);

        let stored = self
            .each_blob(
                group,
                blobs.len(),
                |conn, g, i| {
                    let blob = blobs[i].clone();
                    async move { (i, conn.put_blob(g, blob).await) }
                },
                |_, e| match e {
                    RelayError::Relay(ErrorCode::QuotaExceeded) => {
                        ClientError::Usage(t!("net-file-quota-full"))
                    }
                    e => e.into(),
                },
            )
            .await?;
        if stored != chunks {
            return Err(ClientError::Hostile(t!("net-file-chunk-ids-differ")));
        }

        let file = FileRef {
            name,
            size,
            sha256,
            key: *key,
            chunk_size: CHUNK_SIZE as u32,
            chunks,
            sent_at: now_secs(),
        };
        self.send_body(group, Body::File(file)).await
    }

    /// Records a file someone shared (called by sync for a [`Body::File`]), after
    /// checking that it adds up; a file that does not is refused with an alert.
    pub(super) fn on_file(
        &mut self,
        g: &GroupRecord,
        msg: &Message,
        who: IdentityKey,
        mut file: FileRef,
        report: &mut SyncReport,
    ) -> Result<()> {
        check_file_ref(&file).map_err(ClientError::Hostile)?;
        file.name = clean_file_name(&file.name);
        let r = MessageRecord {
            shared_by: None,
            expires: 0,
            seq: msg.seq,
            sub: 0,
            // The sender's clock, but never in the future of ours.
            time: file.sent_at.min(now_secs()),
            sender: Some(who),
            own: false,
            kind: RecordKind::File(file),
        };
        self.add_record(g, r.clone())?;
        report.new.push(r);
        Ok(())
    }

    /// The files shared in a group (as far as its stored history goes), oldest first,
    /// numbered from 1.
    pub fn files(&self, group: &GroupId) -> Result<Vec<FileInfo>> {
        Ok(self
            .file_records(group)?
            .into_iter()
            .map(|(info, _)| info)
            .collect())
    }

    pub(crate) fn file_records(&self, group: &GroupId) -> Result<Vec<(FileInfo, FileRef)>> {
        self.load_group(group)?;
        let mut out = Vec::new();
        for r in self.messages(group)? {
            if let RecordKind::File(f) = r.kind {
                out.push((
                    FileInfo {
                        number: out.len() + 1,
                        // Cleaned again here, whatever path recorded it: this name
                        // becomes a path in `get_file`.
                        name: clean_file_name(&f.name),
                        size: f.size,
                        sender: r
                            .sender
                            .map(|s| self.display_name(group, &s))
                            .unwrap_or_default(),
                        sender_id: r.sender.map(|s| kith_protocol::ids::hex(&s)),
                        own: r.own,
                        time: r.time,
                        seq: r.seq,
                        chunks: f.chunks.len(),
                    },
                    f,
                ));
            }
        }
        Ok(out)
    }

    /// Finds a file by its number in [`Client::files`] or by its name (exact, ignoring
    /// case with Unicode's full case folding; it must be unique).
    fn find_file(&self, group: &GroupId, which: &str) -> Result<(FileInfo, FileRef)> {
        let mut files = self.file_records(group)?;
        let which = which.trim();
        if let Ok(n) = which.parse::<usize>()
            && n >= 1
            && n <= files.len()
        {
            return Ok(files.swap_remove(n - 1));
        }
        let mut hits: Vec<_> = files
            .into_iter()
            .filter(|(i, _)| super::names::same(&i.name, which))
            .collect();
        match hits.len() {
            1 => Ok(hits.swap_remove(0)),
            0 => Err(ClientError::Usage(t!("net-file-no-such", name = which))),
            n => Err(ClientError::Usage(t!(
                "net-file-ambiguous",
                n = n,
                name = which
            ))),
        }
    }

    /// Downloads file `which` (its number or unique name) of the group, checks every
    /// chunk and the whole, and saves it to `out` (a file, or a directory to save it in
    /// under its own name; default: its name in the current directory). An existing
    /// file is replaced only with `force`. Nothing is written unless every check passed.
    pub async fn get_file(
        &mut self,
        group: &GroupId,
        which: &str,
        out: Option<&Path>,
        force: bool,
    ) -> Result<SavedFile> {
        // A file announced since the last sync is found too.
        self.sync_group_inner(group).await?;
        let (info, file) = self.find_file(group, which)?;
        let dest = destination(out, &info.name)?;
        if !force && dest.exists() {
            return Err(ClientError::Usage(t!(
                "net-file-exists",
                path = dest.display().to_string()
            )));
        }
        check_file_ref(&file).map_err(ClientError::Hostile)?;
        let count = file.chunks.len();
        let sealed = self
            .each_blob(
                group,
                count,
                |conn, g, i| {
                    let id = file.chunks[i];
                    async move { (i, conn.get_blob(g, id).await) }
                },
                |i, e| match e {
                    RelayError::BlobMismatch => altered(i, count),
                    e => e.into(),
                },
            )
            .await?;
        let sealed_len = file.chunk_size as usize + TAG;
        let mut data = Zeroizing::new(Vec::with_capacity(count * file.chunk_size as usize));
        for (i, blob) in sealed.iter().enumerate() {
            if blob.len() != sealed_len {
                return Err(altered(i, count));
            }
            let plain = Zeroizing::new(
                open_chunk(&file.key, i as u32, count as u32, blob)
                    .ok_or_else(|| altered(i, count))?,
            );
            data.extend_from_slice(&plain);
        }
        let size = file.size as usize;
        if data.len() < size || data[size..].iter().any(|&b| b != 0) {
            return Err(ClientError::Hostile(t!("net-file-bad-padding")));
        }
        data.truncate(size);
        if sha256(&data) != file.sha256 {
            return Err(ClientError::Hostile(t!("net-file-bad-checksum")));
        }
        write_new_file(&dest, &data, force)?;
        Ok(SavedFile {
            name: info.name,
            size: file.size,
            path: dest,
        })
    }

    /// Runs `op` for blobs `0..count`, [`WINDOW`] at a time, on a connection that proved
    /// access to the group's current epoch, and returns their results in order. When the
    /// epoch moved meanwhile (`stale_epoch`) it catches up and proves access again; on a
    /// transient failure it reconnects and tries again, with backoff; what failed is
    /// retried, what succeeded is kept. Any other failure of blob `i` is `fatal(i, e)`.
    async fn each_blob<T, F, Fut>(
        &mut self,
        group: &GroupId,
        count: usize,
        op: F,
        fatal: impl Fn(usize, RelayError) -> ClientError,
    ) -> Result<Vec<T>>
    where
        F: Fn(Arc<RelayConnection>, GroupId, usize) -> Fut,
        Fut: Future<Output = (usize, std::result::Result<T, RelayError>)>,
    {
        let mut out: Vec<Option<T>> = (0..count).map(|_| None).collect();
        let mut todo: VecDeque<usize> = (0..count).collect();
        let mut delay = Duration::from_millis(500);
        let mut rounds = 0;
        while !todo.is_empty() {
            rounds += 1;
            // At the group's current epoch, with access proven for it.
            self.sync_group_inner(group).await?;
            let g = self.load_group(group)?;
            if g.status != GroupStatus::Active {
                return Err(ClientError::NotMember(self.status_text(&g)));
            }
            let m = self.mls_group(&g)?;
            let conn = self.ensure_auth(&g, &m).await?;
            let mut running = FuturesUnordered::new();
            let mut failed: Option<(usize, RelayError)> = None;
            loop {
                while failed.is_none() && running.len() < WINDOW {
                    let Some(i) = todo.pop_front() else { break };
                    running.push(op(conn.clone(), g.place.id, i));
                }
                let Some((i, result)) = running.next().await else {
                    break;
                };
                match result {
                    Ok(v) => out[i] = Some(v),
                    Err(e) => {
                        todo.push_back(i);
                        // The first failure that is neither an epoch move nor transient
                        // decides; otherwise the first one.
                        let decisive = |e: &RelayError| {
                            !transient(e) && *e != RelayError::Relay(ErrorCode::StaleEpoch)
                        };
                        if failed
                            .as_ref()
                            .is_none_or(|(_, f)| !decisive(f) && decisive(&e))
                        {
                            failed = Some((i, e));
                        }
                    }
                }
            }
            if let Some((i, e)) = failed {
                let epoch_moved = e == RelayError::Relay(ErrorCode::StaleEpoch);
                if rounds >= ROUNDS || !(epoch_moved || transient(&e)) {
                    return Err(fatal(i, e));
                }
                // A new epoch: the next round catches up and proves access to it.
                // Otherwise reconnect after a pause.
                if !epoch_moved {
                    self.close().await;
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(8));
                }
            }
        }
        let done: Vec<T> = out.into_iter().flatten().collect();
        if done.len() != count {
            return Err(ClientError::Relay(RelayError::Protocol(t!(
                "net-file-transfer-incomplete"
            ))));
        }
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_ref(size: u64, chunks: usize) -> FileRef {
        FileRef {
            name: "a".into(),
            size,
            sha256: [0; 32],
            key: [0; 32],
            chunk_size: CHUNK_SIZE as u32,
            chunks: vec![[0; 32]; chunks],
            sent_at: 0,
        }
    }

    #[test]
    fn names_are_cleaned_for_screens_and_file_systems() {
        assert_eq!(clean_file_name("scan 1.pdf"), "scan 1.pdf");
        assert_eq!(clean_file_name("../../etc/passwd"), "etcpasswd");
        assert_eq!(clean_file_name("..\\..\\boot.ini"), "boot.ini");
        assert_eq!(clean_file_name(".hidden"), "hidden");
        assert_eq!(clean_file_name("\x1b[31mred\x1b[0m.txt"), "[31mred[0m.txt");
        assert_eq!(clean_file_name(".."), "file");
        assert_eq!(clean_file_name(""), "file");
        assert_eq!(clean_file_name("  /  "), "file");
        assert_eq!(
            clean_file_name(&"x".repeat(1000)).len(),
            MAX_FILE_NAME_CHARS
        );
        assert!(clean_file_name(&"я".repeat(1000)).len() <= 255);
    }

    #[test]
    fn file_references_must_add_up() {
        assert_eq!(CHUNK_SIZE + TAG, MAX_BLOB);
        assert_eq!(chunk_count(0, CHUNK_SIZE as u32), 1);
        assert_eq!(chunk_count(CHUNK_SIZE as u64, CHUNK_SIZE as u32), 1);
        assert_eq!(chunk_count(CHUNK_SIZE as u64 + 1, CHUNK_SIZE as u32), 2);
        assert_eq!(chunk_count(MAX_FILE_BYTES, CHUNK_SIZE as u32), 101);
        assert!(check_file_ref(&file_ref(0, 1)).is_ok());
        assert!(check_file_ref(&file_ref(MAX_FILE_BYTES, 101)).is_ok());
        assert!(check_file_ref(&file_ref(MAX_FILE_BYTES + 1, 101)).is_err());
        assert!(check_file_ref(&file_ref(1000, 2)).is_err());
        assert!(check_file_ref(&file_ref(1000, 0)).is_err());
        let mut odd = file_ref(1000, 1);
        odd.chunk_size = 1000;
        assert!(
            check_file_ref(&odd).is_err(),
            "1016 bytes is no relay bucket"
        );
        odd.chunk_size = 0;
        assert!(check_file_ref(&odd).is_err());
        odd.chunk_size = (1 << 20) - TAG as u32;
        assert!(check_file_ref(&odd).is_err(), "over the blob limit");
    }

    #[tokio::test]
    async fn a_stored_name_never_leaves_the_destination_directory() {
        let home = tempfile::tempdir().unwrap();
        let mut client = Client::init(&home.path().join("p"), b"pass", "Olena").unwrap();
        let relay = "ws://127.0.0.1:9".to_owned();
        let g = GroupRecord {
            name: "G".into(),
            relay,
            relay_group: GroupId([1; 16]),
            mls_group_id: vec![1; 16],
            cursor: 1,
            read_upto: 1,
            status: GroupStatus::Left,
            names: Default::default(),
            leaving: Default::default(),
            pending: None,
            last_update: 0,
            state: Default::default(),
            offenders: Default::default(),
            intruders: Default::default(),
            tainted: false,
            history_from: None,
            history_next: 0,
            place: crate::engine::place::Placement::at(GroupId([1; 16])),
        };
        client.save_group(&g).unwrap();
        // A record made by some other path than `on_file`, with a hostile name.
        let mut f = file_ref(10, 1);
        f.name = "../../escape.txt".into();
        let r = MessageRecord {
            shared_by: None,
            expires: 0,
            seq: 5,
            sub: 0,
            time: 0,
            sender: None,
            own: false,
            kind: RecordKind::File(f),
        };
        client.add_record(&g, r).unwrap();
        client.db().commit().unwrap();
        let files = client.files(&g.relay_group).unwrap();
        assert_eq!(files[0].name, "escape.txt");
        let (info, _) = client.find_file(&g.relay_group, "1").unwrap();
        assert_eq!(info.name, "escape.txt");
        // Downloading needs an active group: refused before any path is touched.
        assert!(
            client
                .get_file(&g.relay_group, "1", None, false)
                .await
                .is_err()
        );
    }

    #[test]
    fn a_folder_to_save_in_must_exist() {
        let dir = tempfile::tempdir().unwrap();
        let here = dir.path();
        assert_eq!(destination(None, "a.pdf").unwrap(), PathBuf::from("a.pdf"));
        assert_eq!(
            destination(Some(here), "a.pdf").unwrap(),
            here.join("a.pdf")
        );
        assert_eq!(
            destination(Some(&here.join("b.pdf")), "a.pdf").unwrap(),
            here.join("b.pdf")
        );
        let missing = here.join("missing");
        let no_folder = t!("net-file-no-folder", path = missing.display().to_string());
        let as_folder = PathBuf::from(format!("{}/", missing.display()));
        for out in [as_folder, missing.join("b.pdf")] {
            match destination(Some(&out), "a.pdf") {
                Err(ClientError::Usage(why)) => assert_eq!(why, no_folder),
                other => panic!("{out:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_saved_file_never_replaces_one_unless_forced() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out.bin");
        write_new_file(&dest, b"one", false).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"one");
        let err = write_new_file(&dest, b"two", false).unwrap_err();
        assert!(err.to_string().contains("exists"), "{err}");
        assert_eq!(std::fs::read(&dest).unwrap(), b"one");
        write_new_file(&dest, b"two", true).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file left");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&dest).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "readable by us only");
        }
    }
}
