//! Named crash points, for the crash tests (`tests/tests/durability.rs`).
//!
//! With the `test-hooks` feature, `KITH_RELAY_CRASH_AT=NAME` (or `NAME:N`) makes the relay
//! abort, as `kill -9` would, the first (or `N`th) time it reaches the point `NAME`: no
//! destructor runs, nothing more is written, and whatever the kernel already has stays.
//! The tests then restart it and check what survived. Without the feature every point is
//! an empty inline function, so a release binary has neither the hook nor its lookup.
//!
//! The points, in the order a write meets them (PROTOCOL.md's durability section and
//! SECURITY.md name the same):
//!
//! | point | where |
//! |---|---|
//! | `open.replayed` | open: the log's records are in sled, durably; segments not emptied |
//! | `open.reset` | open: the first segment emptied, the second not |
//! | `append.written` | a sync's record written to the log, not yet `fdatasync`ed |
//! | `append.synced` | the record durable, nobody answered yet |
//! | `checkpoint.rotated` | a checkpoint moved syncs to the other segment; sled has nothing of it yet |
//! | `checkpoint.slice` | a checkpoint wrote one slice of its changes to sled |
//! | `values.written` | a checkpoint's large values are in their own files, synced; sled not told yet |
//! | `checkpoint.applied` | a checkpoint's changes are in sled durably; its segment not emptied |
//! | `checkpoint.retired` | the checkpoint's segment emptied |
//! | `keys.written` | one copy of the shredding keys rewritten and synced (`:1`: the other copy not yet) |
//! | `delete.recorded` | a group's deletion (`DeleteGroup`) recorded in the store, in memory; not in the log yet |

/// A point the tests asked for: the environment variable `var` set to `NAME` or
/// `NAME:N` names it and the hit (the first, or the `N`th) at which it fires, once.
#[cfg(feature = "test-hooks")]
struct Trigger {
    var: &'static str,
    target: std::sync::OnceLock<Option<(String, u64)>>,
    hits: std::sync::atomic::AtomicU64,
}

#[cfg(feature = "test-hooks")]
impl Trigger {
    const fn new(var: &'static str) -> Self {
        Self {
            var,
            target: std::sync::OnceLock::new(),
            hits: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Whether reaching `name` now is the hit asked for.
    fn fires(&self, name: &str) -> bool {
        let target = self.target.get_or_init(|| {
            let spec = std::env::var(self.var).ok()?;
            Some(match spec.split_once(':') {
                Some((name, n)) => (name.to_string(), n.parse().unwrap_or(1).max(1)),
                None => (spec, 1),
            })
        });
        matches!(target, Some((want, n)) if want == name
            && self.hits.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1 == *n)
    }
}

/// Aborts the process here if the crash tests asked for this point.
#[cfg(feature = "test-hooks")]
pub fn point(name: &'static str) {
    static CRASH: Trigger = Trigger::new("KITH_RELAY_CRASH_AT");
    if CRASH.fires(name) {
        eprintln!("kith-relay: crash point {name} reached; aborting");
        std::process::abort();
    }
}

/// Aborts the process here if the crash tests asked for this point.
#[cfg(not(feature = "test-hooks"))]
#[inline(always)]
pub fn point(_name: &'static str) {}

/// Whether the tests asked this point to fail now: `KITH_RELAY_FAIL_AT=NAME:N` makes the
/// `N`th time it is reached (and only that one) fail as an I/O error would. The points:
/// `append`, a sync's log write (a full disk, say); `fdatasync`, the sync of that write
/// (an I/O error whose outcome is unknown).
#[cfg(feature = "test-hooks")]
pub fn fails(name: &'static str) -> bool {
    static FAIL: Trigger = Trigger::new("KITH_RELAY_FAIL_AT");
    FAIL.fires(name)
}

/// Whether the tests asked this point to fail now; never in this build.
#[cfg(not(feature = "test-hooks"))]
#[inline(always)]
pub fn fails(_name: &'static str) -> bool {
    false
}

/// A size limit that the crash tests may lower (`KITH_RELAY_TEST_<NAME>`, bytes), so that
/// checkpoints and rotations happen within a few posts; `default` otherwise.
#[cfg(feature = "test-hooks")]
pub fn tunable(name: &str, default: usize) -> usize {
    std::env::var(format!("KITH_RELAY_TEST_{name}"))
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A size limit that the crash tests may lower; `default` in this build.
#[cfg(not(feature = "test-hooks"))]
#[inline(always)]
pub fn tunable(_name: &str, default: usize) -> usize {
    default
}
