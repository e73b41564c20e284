//! A running `kith-lazyfs`, for tests: mounted, the power cut, stopped. Used by this
//! crate's mount tests and by the power-cut tests of `kith-tests`.

use std::fs::{self, File};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A mounted `kith-lazyfs`; killed and unmounted on drop.
pub struct Mounted {
    child: Option<Child>,
    mountpoint: PathBuf,
}

impl Mounted {
    /// Runs the binary `bin` to mount `backing` at `mountpoint` (appending its trace of
    /// namespace changes and syncs to `trace`, if given); returns once it says it is
    /// mounted.
    pub fn start(bin: &Path, backing: &Path, mountpoint: &Path, trace: Option<&Path>) -> Self {
        let mut cmd = Command::new(bin);
        cmd.arg(backing)
            .arg(mountpoint)
            .stdin(Stdio::null())
            .stdout(Stdio::piped());
        if let Some(trace) = trace {
            cmd.env("KITH_LAZYFS_TRACE", trace);
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", bin.display()));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line);
            }
        });
        let mounted = Mounted {
            child: Some(child),
            mountpoint: mountpoint.to_path_buf(),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(line) if line == "kith-lazyfs mounted" => return mounted,
                Ok(_) => {}
                Err(e) => panic!("kith-lazyfs did not say it mounted: {e}"),
            }
        }
    }

    fn signal(&self, sig: &str) {
        let pid = self.child.as_ref().expect("running").id();
        let status = Command::new("kill")
            .args([sig, &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {sig} {pid}: {status}");
    }

    /// Cuts the power and waits until the file system fails operations.
    pub fn cut(&self) {
        self.signal("-USR1");
        // The signal is handled asynchronously: only once a write fails is nothing
        // more becoming durable.
        let probe = self.mountpoint.join(".power-probe");
        let deadline = Instant::now() + Duration::from_secs(10);
        while fs::symlink_metadata(&self.mountpoint).is_ok() && File::create(&probe).is_ok() {
            let _ = fs::remove_file(&probe);
            assert!(
                Instant::now() < deadline,
                "the power cut did not take effect"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// SIGTERM: unmounts and exits; checks that it did both.
    pub fn stop(mut self) {
        self.signal("-TERM");
        let mut child = self.child.take().expect("running");
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                unmount(&self.mountpoint);
                panic!("kith-lazyfs did not exit on SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        assert!(status.success(), "kith-lazyfs exited with {status}");
        assert!(!is_mounted(&self.mountpoint), "still mounted after SIGTERM");
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            // Killed, the process cannot unmount; a stale mount would make every
            // later access to the mountpoint fail with ENOTCONN.
            unmount(&self.mountpoint);
        }
    }
}

fn unmount(mountpoint: &Path) {
    let _ = Command::new("umount").arg("-l").arg(mountpoint).status();
}

/// Whether something is mounted at `mountpoint`.
pub fn is_mounted(mountpoint: &Path) -> bool {
    let canon = mountpoint
        .canonicalize()
        .unwrap_or(mountpoint.to_path_buf());
    fs::read_to_string("/proc/self/mounts")
        .unwrap_or_default()
        .lines()
        .any(|l| l.split_whitespace().nth(1) == Some(canon.to_str().unwrap_or("")))
}
