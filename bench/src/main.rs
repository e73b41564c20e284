//! `kith-bench`: measures the real relay against an in-memory fan-out baseline in the
//! same run, over loopback, with real MLS-encrypted, padded messages, and reports the
//! relay as ratios of the baseline (so the figures hold on a noisy machine).
//!
//! `kith-bench --quick --json` (under a minute) prints one JSON object; the full run also
//! writes the tables of BENCHMARKS.md and SVG plots. See BENCHMARKS.md for what each
//! figure means.
#![forbid(unsafe_code)]

mod baseline;
mod floor;
mod load;
mod payloads;
mod procs;
mod report;
mod restart;

use anyhow::{Context, Result};
use bytes::Bytes;
use clap::Parser;
use load::{CatchUp, Latency, Saturation, Scenario, World};
use procs::{Kind, ServerProc};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Benchmark the Kith relay against an in-memory baseline.
#[derive(Parser, Debug)]
#[command(name = "kith-bench", version, about)]
struct Args {
    #[command(subcommand)]
    cmd: Option<Cmd>,
    /// Only 100×10, one offered load and a smaller memory test: under a minute.
    #[arg(long)]
    quick: bool,
    /// Print one JSON object on stdout (progress goes to stderr).
    #[arg(long)]
    json: bool,
    /// The relay binary (default: built next to this one).
    #[arg(long, env = "KITH_RELAY_BIN")]
    relay_bin: Option<PathBuf>,
    /// Seconds of each measurement (default: 2.5 quick, 4 full).
    #[arg(long)]
    secs: Option<f64>,
    /// Messages in flight per group in the saturation runs.
    #[arg(long, default_value_t = 64)]
    window: u64,
    /// Only these scenarios (e.g. `100x10,1x1000`).
    #[arg(long, value_delimiter = ',')]
    scenarios: Vec<String>,
    /// Idle connections for the memory test (default: 10000).
    #[arg(long)]
    idle: Option<usize>,
    /// Stored messages for the restart test (full run; 0 skips it).
    #[arg(long, default_value_t = 1_000_000)]
    restart_messages: u64,
    /// Where the full run writes its tables (between markers) and plots.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Offered loads of the latency runs, as fractions of the baseline's saturation
    /// (default: 0.02 quick; 0.02, 0.05, 0.1, 0.2 full).
    #[arg(long, value_delimiter = ',')]
    fractions: Vec<f64>,
    /// Do not write BENCHMARKS.md or plots.
    #[arg(long)]
    no_write: bool,
}

#[derive(clap::Subcommand, Debug)]
enum Cmd {
    /// Runs the baseline server (used by the benchmark itself).
    #[command(hide = true)]
    BaselineServer,
}

/// One server on one scenario.
#[derive(Clone, Debug, Default)]
pub(crate) struct ServerRun {
    pub(crate) saturation: f64,
    pub(crate) sat: Saturation,
    pub(crate) latency: Vec<Latency>,
    pub(crate) catch_up: Option<CatchUp>,
    /// Relay only: bytes on disk after the run, and messages stored.
    pub(crate) disk: Option<(u64, u64)>,
}

/// Both servers on one scenario.
#[derive(Clone, Debug)]
pub(crate) struct ScenarioResult {
    pub(crate) scenario: Scenario,
    pub(crate) relay: ServerRun,
    pub(crate) baseline: ServerRun,
}

/// Memory of idle connections.
#[derive(Clone, Debug, Default)]
pub(crate) struct Idle {
    pub(crate) conns: usize,
    pub(crate) rss_before_kib: u64,
    /// Connected, authorized, subscribed.
    pub(crate) rss_subscribed_kib: u64,
    /// … and each received one push.
    pub(crate) rss_after_push_kib: u64,
    /// … and each received one 64 KiB push (a large commit or Welcome).
    pub(crate) rss_after_large_kib: u64,
}

impl Idle {
    /// KiB per connection that `rss_kib` grew by from before the members connected.
    fn per_conn(&self, rss_kib: u64) -> f64 {
        rss_kib.saturating_sub(self.rss_before_kib) as f64 / self.conns as f64
    }
    pub(crate) fn per_conn_subscribed(&self) -> f64 {
        self.per_conn(self.rss_subscribed_kib)
    }
    pub(crate) fn per_conn_after_push(&self) -> f64 {
        self.per_conn(self.rss_after_push_kib)
    }
    pub(crate) fn per_conn_after_large(&self) -> f64 {
        self.per_conn(self.rss_after_large_kib)
    }
}

/// Everything one run measured.
pub(crate) struct Results {
    pub(crate) quick: bool,
    pub(crate) secs: f64,
    pub(crate) window: u64,
    pub(crate) fractions: Vec<f64>,
    pub(crate) payload_len: usize,
    pub(crate) scenarios: Vec<ScenarioResult>,
    pub(crate) idle_relay: Idle,
    pub(crate) idle_baseline: Option<Idle>,
    pub(crate) restart: Option<restart::Restart>,
    /// `pwrite` + `fdatasync` of one record on the relay's disk, this run.
    pub(crate) floor: floor::Floor,
    pub(crate) machine: String,
    pub(crate) elapsed: f64,
}

fn main() -> Result<()> {
    let args = Args::parse();
    // 10 000 connections need as many descriptors, here and in the relay (which inherits
    // the limit).
    if let Ok((_, hard)) = rlimit::Resource::NOFILE.get() {
        let _ = rlimit::Resource::NOFILE.set(hard, hard);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match args.cmd {
        Some(Cmd::BaselineServer) => rt.block_on(baseline::serve()),
        None => rt.block_on(run(args)),
    }
}

fn progress(msg: impl AsRef<str>) {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    let t = START.get_or_init(Instant::now).elapsed().as_secs_f64();
    eprintln!("kith-bench [{t:6.1} s] {}", msg.as_ref());
}

async fn run(args: Args) -> Result<()> {
    let started = Instant::now();
    progress("starting");
    let secs = args.secs.unwrap_or(if args.quick { 2.5 } else { 4.0 });
    let measure = Duration::from_secs_f64(secs);
    let warm = Duration::from_secs_f64(if args.quick { 0.5 } else { 1.0 });
    let fractions: Vec<f64> = if !args.fractions.is_empty() {
        args.fractions.clone()
    } else if args.quick {
        vec![report::HEADLINE_FRACTION]
    } else {
        vec![report::HEADLINE_FRACTION, 0.05, 0.1, 0.2]
    };
    let all = [
        Scenario {
            groups: 100,
            members: 10,
        },
        Scenario {
            groups: 10,
            members: 100,
        },
        Scenario {
            groups: 1,
            members: 1000,
        },
    ];
    let scenarios: Vec<Scenario> = if !args.scenarios.is_empty() {
        all.into_iter()
            .filter(|s| args.scenarios.contains(&s.name()))
            .collect()
    } else if args.quick {
        all[..1].to_vec()
    } else {
        all.to_vec()
    };
    let bin = procs::relay_bin(args.relay_bin.clone())?;
    progress(format!("relay binary {}", bin.display()));
    let pool = Arc::new(payloads::mls_pool(64)?);
    let payload_len = pool[0].len();
    progress(format!(
        "{} real MLS ciphertexts, padded to {payload_len} bytes",
        pool.len()
    ));
    let tmp = tempfile::Builder::new().prefix("kith-bench-").tempdir()?;
    let samples = if args.quick { 1000 } else { 3000 };
    progress(format!(
        "floor: {samples} × pwrite + fdatasync of {} bytes",
        floor::RECORD
    ));
    let floor_dir = tmp.path().join("floor");
    let floor = tokio::task::spawn_blocking(move || {
        floor::measure(&floor_dir, samples, Duration::from_millis(1))
    })
    .await??;
    progress(format!(
        "floor: p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms",
        floor.p50 as f64 / 1e6,
        floor.p99 as f64 / 1e6,
        floor.p999 as f64 / 1e6
    ));

    let mut results = Vec::new();
    for (i, sc) in scenarios.iter().enumerate() {
        progress(format!("scenario {}", sc.name()));
        let r = run_scenario(
            *sc,
            &bin,
            &tmp.path().join(format!("scenario-{i}")),
            &pool,
            &args,
            warm,
            measure,
            &fractions,
        )
        .await
        .with_context(|| format!("scenario {}", sc.name()))?;
        progress(format!(
            "scenario {}: relay {:.0}/s, baseline {:.0}/s, ratio {:.2}",
            sc.name(),
            r.relay.saturation,
            r.baseline.saturation,
            r.relay.saturation / r.baseline.saturation
        ));
        results.push(r);
    }

    let conns = args.idle.unwrap_or(10_000);
    progress(format!("memory: {conns} idle connections on the relay"));
    let idle_relay = idle(Kind::Relay, &bin, tmp.path(), conns, &pool).await?;
    let idle_baseline = if args.quick {
        None
    } else {
        progress(format!("memory: {conns} idle connections on the baseline"));
        Some(idle(Kind::Baseline, &bin, tmp.path(), conns, &pool).await?)
    };

    let restart = if args.quick || args.restart_messages == 0 {
        None
    } else {
        let groups = 1000usize;
        let per_group = args.restart_messages.div_ceil(groups as u64);
        progress(format!(
            "restart: filling a store with {} messages",
            groups as u64 * per_group
        ));
        let r = restart::run(&bin, tmp.path(), groups, per_group, 3, &pool).await?;
        progress(format!("restart: {:?}", r.starts));
        Some(r)
    };

    let results = Results {
        quick: args.quick,
        secs,
        window: args.window,
        fractions,
        payload_len,
        scenarios: results,
        idle_relay,
        idle_baseline,
        restart,
        floor,
        machine: report::machine(),
        elapsed: started.elapsed().as_secs_f64(),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report::json(&results))?);
    } else {
        println!("{}", report::markdown(&results, None));
    }
    if !args.quick && !args.no_write {
        let path = args.report.clone().unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .parent()
                .expect("workspace")
                .join("BENCHMARKS.md")
        });
        report::write(&path, &results)?;
        progress(format!("wrote {}", path.display()));
    }
    progress(format!("done in {:.0} s", started.elapsed().as_secs_f64()));
    Ok(())
}

/// Both servers on one scenario. They run side by side, each with its own members
/// connected, and take turns: saturation runs alternate (baseline, relay, relay,
/// baseline, …) and the median of each server's runs is kept, so that a burst of noise
/// from other processes on the machine hits both alike.
#[allow(clippy::too_many_arguments)]
async fn run_scenario(
    sc: Scenario,
    bin: &Path,
    dir: &Path,
    pool: &Arc<Vec<Bytes>>,
    args: &Args,
    warm: Duration,
    measure: Duration,
    fractions: &[f64],
) -> Result<ScenarioResult> {
    std::fs::create_dir_all(dir)?;
    let data = dir.join("relay-data");
    let servers = [
        ServerProc::baseline(&dir.join("baseline.log")).await?,
        ServerProc::relay(bin, &data, &[], &dir.join("relay.log")).await?,
    ];
    let kinds = [Kind::Baseline, Kind::Relay];
    let mut worlds = Vec::new();
    for (server, kind) in servers.iter().zip(kinds) {
        worlds.push(World::setup(server.addr, server.pid(), sc, pool.clone()).await?);
        progress(format!("  {} set up (pid {})", kind.name(), server.pid()));
    }
    let rounds = 3;
    let mut sats: [Vec<Saturation>; 2] = [Vec::new(), Vec::new()];
    for round in 0..rounds {
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for k in order {
            let sat = worlds[k].saturate(args.window, warm, measure).await?;
            progress(format!(
                "  {} saturation: {:.0} deliveries/s; server {:.2} cores ({:.2} µs/delivery), generator {:.2} cores",
                kinds[k].name(),
                sat.rate,
                sat.server_cores,
                sat.server_cores * 1e6 / sat.rate,
                sat.generator_cores
            ));
            sats[k].push(sat);
        }
    }
    let median = |v: &mut Vec<Saturation>| {
        v.sort_by(|a, b| a.rate.total_cmp(&b.rate));
        v[v.len() / 2]
    };
    let sat = [median(&mut sats[0]), median(&mut sats[1])];
    let loads: Vec<f64> = fractions.iter().map(|f| f * sat[0].rate).collect();
    let mut latency: [Vec<Latency>; 2] = [Vec::new(), Vec::new()];
    for (i, load) in loads.iter().enumerate() {
        let order = if i % 2 == 0 { [0, 1] } else { [1, 0] };
        for k in order {
            let l = worlds[k].open_loop(*load, warm, measure).await?;
            progress(format!(
                "  {} at {:.0}/s: p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms ({} samples{}; cores: server {:.2}, generator {:.2})",
                kinds[k].name(),
                load,
                l.p50 as f64 / 1e6,
                l.p99 as f64 / 1e6,
                l.p999 as f64 / 1e6,
                l.samples,
                if l.skipped + l.undelivered > 0 {
                    format!(", {} skipped, {} undelivered", l.skipped, l.undelivered)
                } else {
                    String::new()
                },
                l.server_cores,
                l.generator_cores
            ));
            latency[k].push(l);
        }
    }
    let mut catch_up: [Option<CatchUp>; 2] = [None, None];
    if !args.quick {
        for k in [0, 1] {
            let c = worlds[k].catch_up(500).await?;
            progress(format!(
                "  {} catch-up: {} members × {} messages in {:.2} s",
                kinds[k].name(),
                c.members,
                c.backlog,
                c.secs
            ));
            catch_up[k] = Some(c);
        }
    }
    let stored: u64 = worlds[1].groups.iter().map(|g| g.track.head() - 1).sum();
    for w in worlds {
        w.close().await;
    }
    for s in servers {
        s.stop().await;
    }
    let [lb, lr] = latency;
    let [cb, cr] = catch_up;
    Ok(ScenarioResult {
        scenario: sc,
        baseline: ServerRun {
            saturation: sat[0].rate,
            sat: sat[0],
            latency: lb,
            catch_up: cb,
            disk: None,
        },
        relay: ServerRun {
            saturation: sat[1].rate,
            sat: sat[1],
            latency: lr,
            catch_up: cr,
            disk: Some((restart::disk_usage(&data)?, stored)),
        },
    })
}

/// The large message of the memory test: a padding bucket (64 KiB).
const LARGE_PUSH: usize = 1 << 16;

async fn idle(
    kind: Kind,
    bin: &Path,
    dir: &Path,
    conns: usize,
    pool: &Arc<Vec<Bytes>>,
) -> Result<Idle> {
    let data = dir.join(format!("idle-{}", kind.name()));
    let log = dir.join(format!("idle-{}.log", kind.name()));
    let server = match kind {
        Kind::Relay => ServerProc::relay(bin, &data, &[], &log).await?,
        Kind::Baseline => ServerProc::baseline(&log).await?,
    };
    let groups = (conns / 10).max(1);
    // Create the groups first (with throwaway connections) so that the baseline memory
    // includes them and the store's first writes.
    let (mut members, created) = load::idle_members(server.addr, 0, groups).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_before_kib = server.rss_kib()?;
    let limit = Arc::new(tokio::sync::Semaphore::new(64));
    let mut set = tokio::task::JoinSet::new();
    for i in 0..conns {
        let (id, key) = created[i % groups].clone();
        let (addr, limit) = (server.addr, limit.clone());
        set.spawn(async move {
            let _p = limit.acquire_owned().await?;
            Ok::<_, anyhow::Error>((i, load::join(addr, id, &key, 4096).await?.0))
        });
    }
    let mut by_index = Vec::with_capacity(conns);
    while let Some(r) = set.join_next().await {
        by_index.push(r??);
    }
    by_index.sort_by_key(|(i, _)| *i);
    members.extend(by_index.into_iter().map(|(_, ws)| ws));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_subscribed_kib = server.rss_kib()?;
    // One message per group: every connection has now written a push.
    for (g, (id, _)) in created.iter().enumerate() {
        load::post_one(&mut members[g], *id, &pool[g % pool.len()]).await?;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_after_push_kib = server.rss_kib()?;
    // Then one large message per group (64 KiB padded: a commit or Welcome of a big
    // group), pushed to every member: what a connection keeps of a large frame after
    // writing it is memory an idle connection does not need. (The stored messages add
    // 64 KiB × groups to the process, 6.4 KiB per connection at 10 per group.)
    let large = Bytes::from(vec![0x42u8; LARGE_PUSH]);
    for (g, (id, _)) in created.iter().enumerate() {
        load::post_one(&mut members[g], *id, &large).await?;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_after_large_kib = server.rss_kib()?;
    drop(members);
    server.stop().await;
    let idle = Idle {
        conns,
        rss_before_kib,
        rss_subscribed_kib,
        rss_after_push_kib,
        rss_after_large_kib,
    };
    progress(format!(
        "  {}: {:.1} KiB per subscribed connection, {:.1} KiB after a push, {:.1} KiB after a 64 KiB push",
        kind.name(),
        idle.per_conn_subscribed(),
        idle.per_conn_after_push(),
        idle.per_conn_after_large()
    ));
    Ok(idle)
}
