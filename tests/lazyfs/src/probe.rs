//! Whether this machine can mount FUSE file systems, for the tests that need to: this
//! crate's own and the power-cut tests of `kith-tests`.

use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};

/// Whether this machine can mount FUSE file systems; `false` (with the reason printed,
/// naming `test`) means skip. Under `CI` it must be able to: there a missing `/dev/fuse`
/// is a failure, not a silent pass.
pub fn fuse_available(test: &str) -> bool {
    let why = if !Path::new("/dev/fuse").exists() {
        Some("/dev/fuse does not exist")
    } else if OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/fuse")
        .is_err()
    {
        Some("/dev/fuse cannot be opened")
    } else if !is_root() && installed("fusermount3").is_none() {
        Some("not root and no fusermount3 (Debian package fuse3)")
    } else {
        None
    };
    let Some(why) = why else { return true };
    let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false");
    assert!(!ci, "{test} must run under CI, but {why}");
    eprintln!("SKIPPED: {why}; {test} did not run");
    false
}

fn is_root() -> bool {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

fn installed(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(tool))
            .find(|p| p.is_file())
    })
}
