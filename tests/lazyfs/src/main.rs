//! `kith-lazyfs BACKING_DIR MOUNTPOINT`: mounts the power-cut test file system (see the
//! `kith_lazyfs` crate docs). SIGUSR1 cuts the power; SIGTERM unmounts and exits.
#![forbid(unsafe_code)]

use kith_lazyfs::fs::LazyFs;
use kith_lazyfs::model::Model;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1};
use signal_hook::iterator::Signals;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

const USAGE: &str = "usage: kith-lazyfs BACKING_DIR MOUNTPOINT\n\
    Mounts at MOUNTPOINT a file system whose durable state is BACKING_DIR and whose\n\
    unsynced writes live in memory. SIGUSR1: power cut (drop unsynced writes, then EIO\n\
    for everything). SIGTERM: unmount and exit.";

fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let [backing, mountpoint] = <[_; 2]>::try_from(args).unwrap_or_else(|_| {
        eprintln!("{USAGE}");
        std::process::exit(2);
    });
    match run(Path::new(&backing), &PathBuf::from(mountpoint)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kith-lazyfs: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(backing: &Path, mountpoint: &Path) -> std::io::Result<()> {
    let model = Arc::new(Mutex::new(Model::load(backing)?));
    // Register the handlers before mounting, so that a signal sent as soon as the
    // "mounted" line is read cannot kill the process with its default action.
    let mut signals = Signals::new([SIGUSR1, SIGTERM, SIGINT, SIGHUP])?;
    let mut config = fuser::Config::default();
    config.mount_options = vec![
        fuser::MountOption::FSName("kith-lazyfs".into()),
        fuser::MountOption::Subtype("kith-lazyfs".into()),
    ];
    let mut fs = LazyFs::new(model.clone());
    if let Some(trace) = std::env::var_os("KITH_LAZYFS_TRACE") {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&trace)?;
        fs = fs.with_trace(file);
    }
    let session = fuser::Session::new(fs, mountpoint, &config)?;
    let mountpoint = mountpoint.canonicalize()?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for sig in signals.forever() {
                if sig == SIGUSR1 {
                    model.lock().unwrap_or_else(|e| e.into_inner()).cut();
                    if let Some(trace) = std::env::var_os("KITH_LAZYFS_TRACE")
                        && let Ok(mut f) = std::fs::OpenOptions::new().append(true).open(trace)
                    {
                        let _ = writeln!(f, "cut");
                    }
                    eprintln!("kith-lazyfs: power cut; every operation now fails with EIO");
                } else {
                    unmount(&mountpoint);
                    std::process::exit(0);
                }
            }
        })?;
    println!("kith-lazyfs mounted");
    std::io::stdout().flush()?;
    // Returns once unmounted from outside (fusermount3 -u, umount).
    session.run()
}

/// Detaches the mount even while files on it are open (the program on top may still
/// run), as root directly, else through fusermount3.
fn unmount(mountpoint: &Path) {
    if nix::mount::umount2(mountpoint, nix::mount::MntFlags::MNT_DETACH).is_ok() {
        return;
    }
    let status = std::process::Command::new("fusermount3")
        .arg("-u")
        .arg("-z")
        .arg(mountpoint)
        .status();
    if !status.as_ref().is_ok_and(|s| s.success()) {
        eprintln!(
            "kith-lazyfs: could not unmount {}: {status:?}",
            mountpoint.display()
        );
    }
}
