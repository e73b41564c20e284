//! Power cuts under load: the relay runs on `kith-lazyfs` (tests/lazyfs), a FUSE file
//! system that keeps every write not yet fsynced in memory only. Mid-load the power is
//! cut (SIGUSR1: unsynced writes dropped, every later operation fails), the relay is
//! killed, and a new relay starts directly on what was synced. Everything the relay
//! acknowledged must be there: messages at their sequence numbers with their exact
//! payloads, the epochs of acknowledged commits, and acknowledged blobs; and the next
//! post must get a sequence number that was never acknowledged.
//!
//! Each round first kills the relay with kill -9 *without* a cut and restarts it on the
//! file system's live state: a control that the file system serves the relay like a
//! disk, so that a failure after the cut is the relay's. On a failure the backing
//! directory and kith-lazyfs's trace of namespace changes and syncs are kept (their
//! paths are printed), to see what the relay did not make durable.
//!
//! Needs `/dev/fuse` and root (or `fusermount3`, Debian's `fuse3`): skipped with a
//! message without them, except under `CI`, where that is a failure.

use futures_util::FutureExt;
use futures_util::future::join_all;
use kith::{RelayConnection, RelayError};
use kith_protocol::access::AccessKey;
use kith_protocol::frame::blob_id;
use kith_protocol::{BlobId, Epoch, ErrorCode, GroupId, MessageKind, PostKind, Seq, padding};
use kith_tests::lazyfs::{KeptOnFailure, LazyFs, fuse_available, listing};
use kith_tests::*;
use std::collections::{BTreeMap, HashSet};
use std::fs::{self, File};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Independent rounds, each on fresh directories.
const ROUNDS: usize = 3;
const WRITERS: usize = 4;
const LANES: usize = 3;

/// The group's access keys by epoch: `known` were acknowledged (a commit to them was
/// answered), `generated` also holds a key whose commit was still in flight.
#[derive(Default)]
struct Keys {
    known: Vec<Arc<AccessKey>>,
    generated: Vec<Arc<AccessKey>>,
}

/// What the relay acknowledged before the cut, and what was sent at all.
#[derive(Default)]
struct Acked {
    messages: BTreeMap<Seq, (MessageKind, Vec<u8>)>,
    /// The highest epoch a commit to which was acknowledged.
    epoch: Epoch,
    blobs: Vec<(BlobId, Vec<u8>)>,
    /// Every payload sent, acknowledged or not: what may be stored beyond the
    /// acknowledged ones.
    sent: HashSet<Vec<u8>>,
}

/// One phase of load on one relay process.
struct Load {
    url: String,
    group: GroupId,
    /// Names the phase in payloads, so that no two phases send the same payload.
    phase: &'static str,
    keys: Mutex<Keys>,
    acked: Mutex<Acked>,
    /// Set just before the relay is killed: from then on failures are expected.
    stopping: AtomicBool,
    /// Failures before that.
    failures: Mutex<Vec<String>>,
}

impl Load {
    fn latest(&self) -> (Epoch, Arc<AccessKey>) {
        let keys = self.keys.lock().unwrap();
        let e = keys.known.len() - 1;
        (e as Epoch, keys.known[e].clone())
    }

    /// Records a failure unless the relay is being killed.
    fn failed(&self, what: String) {
        if !self.stopping.load(Ordering::SeqCst) {
            self.failures.lock().unwrap().push(what);
        }
    }

    /// Re-authorizes `conn` for the group's newest known epoch after a `StaleEpoch`;
    /// waits for the committer to publish the key if the commit is not answered yet.
    async fn catch_up(&self, conn: &RelayConnection, epoch: &mut Epoch) -> Result<(), RelayError> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let (e, key) = self.latest();
            if e > *epoch {
                conn.auth(self.group, e, &key).await?;
                *epoch = e;
                return Ok(());
            }
            if Instant::now() > deadline || self.stopping.load(Ordering::SeqCst) {
                return Err(RelayError::Relay(ErrorCode::StaleEpoch));
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

/// A padded payload of bucket `bucket` that names its sender, filled with `fill`.
fn message(bucket: usize, tag: &str, fill: u8) -> Vec<u8> {
    let mut data = tag.as_bytes().to_vec();
    data.resize((bucket - 4).max(data.len()), fill);
    let p = padding::pad(&data).expect("fits a bucket");
    assert_eq!(p.len(), bucket);
    p
}

/// The bucket of the `i`th message of a lane: mostly small, with every size up to
/// 1 MiB now and then.
fn bucket_of(i: u64) -> usize {
    match i % 16 {
        3 => padding::BUCKETS[1],
        6 => padding::BUCKETS[2],
        9 => padding::BUCKETS[3],
        11 => padding::BUCKETS[4],
        13 => padding::BUCKETS[5],
        15 if i % 32 == 15 => padding::BUCKETS[6],
        _ => padding::BUCKETS[0],
    }
}

async fn writer_lane(
    load: Arc<Load>,
    conn: Arc<RelayConnection>,
    epoch: Arc<Mutex<Epoch>>,
    w: usize,
    lane: usize,
) {
    for i in 0u64.. {
        let p = message(
            bucket_of(i),
            &format!("{} writer {w} lane {lane} message {i}", load.phase),
            (i % 251) as u8,
        );
        load.acked.lock().unwrap().sent.insert(p.clone());
        loop {
            let e = *epoch.lock().unwrap();
            match post_app(&conn, load.group, e, p.clone()).await {
                Ok(seq) => {
                    let old = load
                        .acked
                        .lock()
                        .unwrap()
                        .messages
                        .insert(seq, (MessageKind::Application, p.clone()));
                    if old.is_some() {
                        load.failed(format!("seq {seq} acknowledged twice"));
                    }
                    break;
                }
                Err(RelayError::Relay(ErrorCode::StaleEpoch)) => {
                    let mut now = e;
                    if let Err(err) = load.catch_up(&conn, &mut now).await {
                        load.failed(format!("writer {w} lane {lane}: re-auth: {err}"));
                        return;
                    }
                    let mut shared = epoch.lock().unwrap();
                    *shared = (*shared).max(now);
                }
                Err(err) => {
                    load.failed(format!("writer {w} lane {lane} message {i}: {err}"));
                    return;
                }
            }
        }
    }
}

/// Posts a commit every ~250 ms, moving the group to a new epoch with a new key.
async fn committer(load: Arc<Load>) {
    let Ok(conn) = RelayConnection::connect(&load.url).await else {
        load.failed("committer: connect".into());
        return;
    };
    let (mut epoch, key) = load.latest();
    if let Err(err) = conn.auth(load.group, epoch, &key).await {
        load.failed(format!("committer: auth: {err}"));
        return;
    }
    for i in 0u64.. {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let next = Arc::new(AccessKey::random());
        load.keys.lock().unwrap().generated.push(next.clone());
        let p = message(
            padding::BUCKETS[i as usize % 3],
            &format!("{} commit {i}", load.phase),
            0xC0,
        );
        load.acked.lock().unwrap().sent.insert(p.clone());
        let kind = PostKind::Commit {
            next_access_key: next.public(),
        };
        match conn.post(load.group, epoch, kind, p.clone()).await {
            Ok(seq) => {
                epoch += 1;
                load.keys.lock().unwrap().known.push(next.clone());
                {
                    let mut acked = load.acked.lock().unwrap();
                    acked.messages.insert(seq, (MessageKind::Commit, p));
                    acked.epoch = epoch;
                }
                if let Err(err) = conn.auth(load.group, epoch, &next).await {
                    load.failed(format!("committer: auth epoch {epoch}: {err}"));
                    return;
                }
            }
            Err(err) => {
                load.failed(format!("committer: commit {i}: {err}"));
                return;
            }
        }
    }
}

/// Puts a 256 KiB blob every ~100 ms.
async fn blob_putter(load: Arc<Load>) {
    let Ok(conn) = RelayConnection::connect(&load.url).await else {
        load.failed("blobs: connect".into());
        return;
    };
    let (mut epoch, key) = load.latest();
    if let Err(err) = conn.auth(load.group, epoch, &key).await {
        load.failed(format!("blobs: auth: {err}"));
        return;
    }
    for i in 0u64.. {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut data = message(
            padding::BUCKETS[5],
            &format!("{} blob {i}", load.phase),
            (i % 200) as u8,
        );
        data[4..].rotate_left(i as usize % 1000);
        loop {
            match conn.put_blob(load.group, data.clone()).await {
                Ok(id) => {
                    load.acked.lock().unwrap().blobs.push((id, data));
                    break;
                }
                Err(RelayError::Relay(ErrorCode::StaleEpoch)) => {
                    if let Err(err) = load.catch_up(&conn, &mut epoch).await {
                        load.failed(format!("blobs: re-auth: {err}"));
                        return;
                    }
                }
                Err(err) => {
                    load.failed(format!("blob {i}: {err}"));
                    return;
                }
            }
        }
    }
}

/// Runs the load (writers, a committer, a blob putter) on `relay` for `run`, then kills
/// the relay, first cutting the power if `lazy` is given. Returns what was acknowledged
/// (added to `acked`) and the keys (`keys` carried on).
async fn load_then_kill(
    relay: &mut TestRelay,
    group: GroupId,
    phase: &'static str,
    keys: Keys,
    acked: Acked,
    run: Duration,
    lazy: Option<&LazyFs>,
) -> (Keys, Acked) {
    let load = Arc::new(Load {
        url: relay.ws_url(),
        group,
        phase,
        keys: Mutex::new(keys),
        acked: Mutex::new(acked),
        stopping: AtomicBool::new(false),
        failures: Mutex::default(),
    });
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let load = load.clone();
        tasks.push(tokio::spawn(async move {
            let conn = match RelayConnection::connect(&load.url).await {
                Ok(c) => Arc::new(c),
                Err(e) => return load.failed(format!("writer {w}: connect: {e}")),
            };
            let (e, key) = load.latest();
            if let Err(err) = conn.auth(load.group, e, &key).await {
                return load.failed(format!("writer {w}: auth: {err}"));
            }
            let epoch = Arc::new(Mutex::new(e));
            let lanes = (0..LANES)
                .map(|lane| writer_lane(load.clone(), conn.clone(), epoch.clone(), w, lane));
            join_all(lanes).await;
        }));
    }
    tasks.push(tokio::spawn(committer(load.clone())));
    tasks.push(tokio::spawn(blob_putter(load.clone())));
    tokio::time::sleep(run).await;

    load.stopping.store(true, Ordering::SeqCst);
    if let Some(lazy) = lazy {
        // The power cut: the file system first (nothing more becomes durable), then
        // the relay dies.
        lazy.cut();
    }
    relay.kill9();
    for t in tasks {
        t.await.unwrap();
    }
    let failures = std::mem::take(&mut *load.failures.lock().unwrap());
    assert!(
        failures.is_empty(),
        "{phase}: the load failed before the relay was killed:\n{}\nrelay log:\n{}",
        failures.join("\n"),
        relay.log_tail(30)
    );
    let keys = std::mem::take(&mut *load.keys.lock().unwrap());
    let acked = std::mem::take(&mut *load.acked.lock().unwrap());
    (keys, acked)
}

/// Checks that the (restarted) relay serves everything in `acked`, and that a new post
/// gets the next sequence number, which it adds to `acked`; moves `keys` on to the
/// stored epoch. `ctx` describes the data
/// directory for failure messages.
async fn verify(
    relay: &TestRelay,
    group: GroupId,
    keys: &mut Keys,
    acked: &mut Acked,
    what: &str,
    ctx: &str,
) {
    let ctx = || format!("({what}; {ctx}\nrelay log:\n{})", relay.log_tail(20));
    let max_acked = acked.messages.keys().next_back().copied().unwrap_or(0);
    let conn = relay.connect().await;
    let mut current = None;
    for (e, key) in keys.generated.iter().enumerate() {
        // A key whose commit was in flight may or may not have been stored.
        if let Ok((cur, _)) = conn.auth(group, e as Epoch, key).await {
            current = Some(cur);
        } else if e as Epoch <= acked.epoch {
            panic!("the key of acknowledged epoch {e} is refused {}", ctx());
        }
    }
    let current = current.unwrap_or_else(|| panic!("no key is accepted {}", ctx()));
    // From here on the stored epoch counts: a commit in flight at the kill may have
    // been stored without an answer, and a key generated for one that was not is
    // never used.
    keys.generated.truncate(current as usize + 1);
    keys.known = keys.generated.clone();
    assert!(
        current >= acked.epoch,
        "the group is at epoch {current}, but a commit to epoch {} was acknowledged {}",
        acked.epoch,
        ctx()
    );

    let (messages, next, head, needs) = fetch_all(&conn, group, 1)
        .await
        .unwrap_or_else(|e| panic!("fetch: {e} {}", ctx()));
    assert_eq!(needs, None, "every stored epoch's key was given {}", ctx());
    let n = messages.len() as u64;
    let seqs: Vec<Seq> = messages.iter().map(|m| m.seq).collect();
    assert!(
        seqs.iter().copied().eq(1..=n),
        "sequence numbers are not contiguous from 1 (first gap at {:?}) {}",
        first_gap(&seqs),
        ctx()
    );
    assert_eq!((next, head), (n + 1, n + 1), "next and head {}", ctx());
    let lost: Vec<Seq> = acked.messages.keys().copied().filter(|s| *s > n).collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged messages are lost: only {n} stored, {max_acked} acknowledged \
         {}",
        lost.len(),
        acked.messages.len(),
        ctx()
    );
    for (seq, (kind, payload)) in &acked.messages {
        let m = &messages[*seq as usize - 1];
        assert!(
            m.payload == *payload && m.kind == *kind,
            "acknowledged seq {seq} is served with another payload ({} bytes, {:?}; \
             {} bytes, {kind:?} acknowledged) {}",
            m.payload.len(),
            m.kind,
            payload.len(),
            ctx()
        );
    }
    for m in &messages {
        assert!(
            acked.sent.contains(&m.payload),
            "seq {} holds a payload that was never sent {}",
            m.seq,
            ctx()
        );
    }

    for (i, (id, data)) in acked.blobs.iter().enumerate() {
        match conn.get_blob(group, *id).await {
            Ok(got) => assert!(
                got == *data,
                "blob {} of {} differs {}",
                i + 1,
                acked.blobs.len(),
                ctx()
            ),
            Err(e) => panic!(
                "acknowledged blob {} of {} is not served: {e} {}",
                i + 1,
                acked.blobs.len(),
                ctx()
            ),
        }
        assert_eq!(*id, blob_id(data));
    }

    let p = payload(&format!("after {what}"));
    let seq = conn
        .post(group, current, PostKind::Application, p.clone())
        .await
        .unwrap_or_else(|e| panic!("post after the restart: {e} {}", ctx()));
    assert_eq!(seq, n + 1, "the next post's sequence number {}", ctx());
    assert!(
        seq > max_acked,
        "seq {seq} was acknowledged before {}",
        ctx()
    );
    acked.sent.insert(p.clone());
    acked.messages.insert(seq, (MessageKind::Application, p));
    conn.ping().await.unwrap();
}

fn first_gap(seqs: &[Seq]) -> Option<(usize, Seq)> {
    seqs.iter()
        .enumerate()
        .find(|(i, s)| **s != *i as Seq + 1)
        .map(|(i, s)| (i, *s))
}

/// One round on fresh directories: load, kill -9 (the file system keeps its live
/// state: a check of the file system itself under the relay), load again, power cut,
/// and a relay on what was synced.
async fn one_round(round: usize) {
    let backing = KeptOnFailure::new(
        "kith-powercut-backing-",
        "the backing directory (what was synced)",
    );
    let trace = KeptOnFailure::new("kith-powercut-trace-", "the kith-lazyfs trace");
    let trace_file = trace.path().join("trace");
    let mnt = tempfile::Builder::new()
        .prefix("kith-powercut-mnt-")
        .tempdir()
        .unwrap();
    let lazy = kith_tests::lazyfs::mount(backing.path(), mnt.path(), &trace_file);
    let on_mount = mnt.path().join("relay-data");
    fs::create_dir(&on_mount).unwrap();
    // The data directory's own entry must be durable before the relay uses it.
    File::open(mnt.path()).unwrap().sync_all().unwrap();

    let mut relay = TestRelay::start(&[]).await;
    relay.kill9();
    relay.set_data_dir(&on_mount);
    relay.restart().await;
    let setup = relay.connect().await;
    let g = create_group(&setup).await;
    drop(setup);
    let key0 = Arc::new(g.key);
    let keys = Keys {
        known: vec![key0.clone()],
        generated: vec![key0],
    };
    let jitter = || Duration::from_millis(rand::random::<u64>() % 1000);

    // Control: kill -9 without a power cut. The relay restarts on the file system's
    // live state, which must serve it like any disk; a failure here is the file
    // system's (or kill -9 recovery's), not a power-cut bug.
    let run = Duration::from_millis(500) + jitter();
    let (mut keys, mut acked) = load_then_kill(
        &mut relay,
        g.id,
        "kill -9",
        keys,
        Acked::default(),
        run,
        None,
    )
    .await;
    eprintln!(
        "round {round}: {} ms of load, kill -9: {} messages, {} blobs, epoch {} acknowledged",
        run.as_millis(),
        acked.messages.len(),
        acked.blobs.len(),
        acked.epoch
    );
    relay.restart().await;
    let what = format!("round {round}, after kill -9 on kith-lazyfs (no power cut)");
    verify(
        &relay,
        g.id,
        &mut keys,
        &mut acked,
        &what,
        "the relay ran on kith-lazyfs",
    )
    .await;

    let run = Duration::from_millis(1000) + jitter();
    let (mut keys, mut acked) =
        load_then_kill(&mut relay, g.id, "power cut", keys, acked, run, Some(&lazy)).await;
    lazy.stop();
    eprintln!(
        "round {round}: {} ms more load, power cut: {} messages, {} blobs, epoch {} acknowledged",
        run.as_millis(),
        acked.messages.len(),
        acked.blobs.len(),
        acked.epoch
    );
    assert!(
        acked.messages.len() > 50,
        "round {round}: too little load to test anything"
    );

    // A new relay directly on what was synced.
    let synced = backing.path().join("relay-data");
    let ctx = format!("the synced data directory held:\n  {}", listing(&synced));
    relay.set_data_dir(&synced);
    if std::panic::AssertUnwindSafe(relay.restart())
        .catch_unwind()
        .await
        .is_err()
    {
        panic!(
            "round {round}: the relay does not start on what was synced at the power cut \
             ({} messages, {} blobs acknowledged); {ctx}",
            acked.messages.len(),
            acked.blobs.len()
        );
    }
    let what = format!("round {round}, after the power cut");
    verify(&relay, g.id, &mut keys, &mut acked, &what, &ctx).await;
    relay.kill9();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_power_cut_loses_nothing_acknowledged() {
    if !fuse_available("the relay power-cut test") {
        return;
    }
    for round in 0..ROUNDS {
        one_round(round).await;
    }
}
