//! Restart with many stored messages: the store is filled directly through the relay's
//! own storage layer (`kith_relay::store::SledStore`, the same records a `Post` writes,
//! much faster than over the network), then the real binary is started on it and timed
//! until it prints its listening line and answers `GET /healthz`.

use crate::procs::{ServerProc, healthz};
use anyhow::{Context, Result, bail};
use bytes::Bytes;
use kith_protocol::access::AccessKey;
use kith_protocol::{GroupId, Message, MessageKind, Request, Response};
use kith_relay::store::shred::Expiry;
use kith_relay::store::sled_store::SledStore;
use kith_relay::store::{GroupMeta, Store};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the fill and the restarts measured.
#[derive(Clone, Debug, Default)]
pub struct Restart {
    pub messages: u64,
    pub groups: usize,
    pub fill_secs: f64,
    pub disk_bytes: u64,
    /// Per restart: (to the listening line, to a 200 from /healthz), seconds.
    pub starts: Vec<(f64, f64)>,
    pub rss_kib: u64,
}

/// Bytes used on disk under `dir` (allocated blocks, like `du`).
pub fn disk_usage(dir: &Path) -> Result<u64> {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        if meta.is_dir() {
            total += disk_usage(&entry.path())?;
        } else {
            total += meta.blocks() * 512;
        }
    }
    Ok(total)
}

/// Writes `groups × per_group` messages (payloads from `pool`) into a store in `data`.
/// Returns the access key of group 0 and its id, for a check after the restart.
pub fn fill(
    data: &Path,
    groups: usize,
    per_group: u64,
    pool: &[Bytes],
) -> Result<(GroupId, AccessKey)> {
    let store = Arc::new(SledStore::open(data).map_err(|e| anyhow::anyhow!("{e}"))?);
    let mut first = None;
    let ids: Vec<GroupId> = (0..groups)
        .map(|i| {
            let id = GroupId::random();
            let key = AccessKey::random();
            store
                .create_group(&id, &GroupMeta::new(), &key.public(), &[[0; 32]])
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            if i == 0 {
                first = Some((id, key));
            }
            Ok(id)
        })
        .collect::<Result<_>>()?;
    // Two writers, like the relay's connections on two cores; each owns half the groups.
    std::thread::scope(|s| {
        let mut handles = Vec::new();
        for half in ids.chunks(groups.div_ceil(2)) {
            let store = store.clone();
            handles.push(s.spawn(move || -> Result<()> {
                let mut n = 0usize;
                for id in half {
                    let mut meta = GroupMeta::new();
                    for _ in 0..per_group {
                        let payload = &pool[n % pool.len()];
                        n += 1;
                        let message = Message {
                            seq: meta.next_seq,
                            epoch: 0,
                            kind: MessageKind::Application,
                            stored_at: kith_relay::relay::now_secs(),
                            payload: payload.to_vec(),
                        };
                        meta.next_seq += 1;
                        meta.messages += 1;
                        meta.bytes += payload.len() as u64;
                        store
                            .append(
                                id,
                                &meta,
                                &message,
                                // The relay's default retention, 30 days.
                                Expiry::after(message.stored_at, 30 * 24 * 3600),
                                None,
                                0..0,
                            )
                            .map_err(|e| anyhow::anyhow!("{e}"))?;
                        // As the relay's flusher does: one log record per sync, and a
                        // checkpoint into sled when enough has gathered.
                        if n.is_multiple_of(512) {
                            store.sync().map_err(|e| anyhow::anyhow!("{e}"))?;
                            if store.wants_checkpoint() {
                                store.checkpoint().map_err(|e| anyhow::anyhow!("{e}"))?;
                            }
                        }
                    }
                }
                Ok(())
            }));
        }
        handles
            .into_iter()
            .try_for_each(|h| h.join().map_err(|_| anyhow::anyhow!("fill panicked"))?)
    })?;
    store.sync().map_err(|e| anyhow::anyhow!("{e}"))?;
    first.context("no group")
}

/// Fills a store with `groups × per_group` messages and restarts the relay on it
/// `restarts` times.
pub async fn run(
    bin: &Path,
    dir: &Path,
    groups: usize,
    per_group: u64,
    restarts: usize,
    pool: &[Bytes],
) -> Result<Restart> {
    let data = dir.join("restart-data");
    let started = Instant::now();
    let (group, key) = {
        let data = data.clone();
        let pool = pool.to_vec();
        tokio::task::spawn_blocking(move || fill(&data, groups, per_group, &pool)).await??
    };
    let fill_secs = started.elapsed().as_secs_f64();
    let mut out = Restart {
        messages: groups as u64 * per_group,
        groups,
        fill_secs,
        disk_bytes: disk_usage(&data)?,
        ..Restart::default()
    };
    for i in 0..restarts {
        let t0 = Instant::now();
        let relay = ServerProc::relay(bin, &data, &[], &dir.join("restart.log")).await?;
        let listening = relay.ready_after.as_secs_f64();
        loop {
            if let Ok(200) = healthz(relay.addr).await {
                break;
            }
            if t0.elapsed() > Duration::from_secs(120) {
                bail!("relay did not answer /healthz after a restart");
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let healthy = t0.elapsed().as_secs_f64();
        out.starts.push((listening, healthy));
        if i == 0 {
            // The data is really there: the last message of a group is served.
            let mut ws = crate::load::connect(relay.addr, 64 * 1024).await?;
            crate::load::authorize(&mut ws, group, &key).await?;
            let from = per_group;
            match crate::load::request(
                &mut ws,
                20,
                Request::Fetch {
                    group,
                    from,
                    limit: 1,
                },
            )
            .await?
            {
                Response::Messages { messages, head, .. }
                    if messages.len() == 1 && head == per_group + 1 => {}
                other => bail!("after the restart, fetch gave {other:?}"),
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
            out.rss_kib = relay.rss_kib()?;
        }
        relay.stop().await;
    }
    Ok(out)
}
