//! `kith daemon`: unlocks a profile once and owns it, so that every other `kith`
//! command, the chat and other programs can use it at the same time (issue 17).
//!
//! - the engine's live loop (`kith_engine::live`) holds the profile's only `Client`:
//!   subscriptions, catch-up, reconnecting and failover run as in the chat;
//! - each call of a connected process runs on that loop as a job (`conn.rs`), one at a
//!   time, so a call never waits on another process's lock;
//! - the loop's events become JSON-RPC notifications for the connections that
//!   subscribed (`events.rs`).
//!
//! The socket (`rpc::SOCKET_NAME` in the profile directory) is made mode 0600 and
//! every connection's peer must be this user (`SO_PEERCRED`): whoever can use the
//! socket can do what the profile's owner can, without the passphrase.

mod conn;
mod events;

use crate::args::Cli;
use crate::cli::failure::{Failure, failed, usage};
use crate::cli::{daemon_running, home_dir, open_profile};
use crate::engine::Client;
use crate::live::task::{Job, run_with_jobs};
use crate::rpc;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::Mutex;
use tokio::net::UnixListener;
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};
use tokio_util::sync::CancellationToken;

/// What every connection shares.
pub(crate) struct Shared {
    /// Jobs for the live loop.
    jobs: tokio::sync::mpsc::UnboundedSender<Job>,
    /// The live loop's commands (from attached chats); taken away to stop the loop.
    commands: Mutex<Option<UnboundedSender<crate::live::Command>>>,
    /// The subscribers of events.
    hub: events::Hub,
    /// Cancelled to stop the daemon.
    stop: CancellationToken,
    /// The connections' tasks, given a moment to send their last lines at a stop.
    tracker: tokio_util::task::TaskTracker,
    /// The connection settings the daemon runs with (`version`), which a command
    /// must share to go through it.
    connection: serde_json::Value,
}

impl Shared {
    /// Hands a command to the live loop (false once it is stopping).
    pub(crate) fn command(&self, c: crate::live::Command) -> bool {
        self.commands
            .lock()
            .ok()
            .and_then(|tx| tx.as_ref().map(|tx| tx.send(c).is_ok()))
            .unwrap_or(false)
    }
}

/// Runs the daemon; returns the process exit code.
pub async fn run(cli: Cli) -> ExitCode {
    crate::cli::failure::exit(run_inner(cli).await)
}

async fn run_inner(cli: Cli) -> Result<u8, Failure> {
    let home = home_dir(&cli)?;
    if daemon_running(&home).await {
        return Err(usage(kith_i18n::t!(
            "cli-daemon-already",
            home = home.display().to_string()
        )));
    }
    let mut client = open_profile(&cli, &home).await?;
    let socket = rpc::socket_path(&home);
    let (listener, uid) = bind(&socket)?;
    eprintln!(
        "{}",
        kith_i18n::t!(
            "cli-daemon-started",
            home = home.display().to_string(),
            socket = socket.display().to_string()
        )
    );
    let code = serve(
        &mut client,
        listener,
        uid,
        crate::cli::connection_settings(&cli),
    )
    .await;
    let _ = std::fs::remove_file(&socket);
    client.close().await;
    eprintln!("{}", kith_i18n::t!("cli-daemon-closed"));
    Ok(code)
}

/// Binds the socket: a file left by a daemon that died is replaced (the store's lock,
/// taken before, says no other daemon holds this profile). Returns the listener and
/// the uid that may connect (the socket's owner: this process's user).
fn bind(socket: &Path) -> Result<(UnixListener, u32), Failure> {
    if std::fs::symlink_metadata(socket).is_ok() {
        std::fs::remove_file(socket).map_err(|e| {
            failed(kith_i18n::t!(
                "cli-daemon-old-socket",
                socket = socket.display().to_string(),
                error = e.to_string()
            ))
        })?;
    }
    let listener = UnixListener::bind(socket).map_err(|e| {
        failed(kith_i18n::t!(
            "cli-daemon-cannot-listen",
            socket = socket.display().to_string(),
            error = e.to_string()
        ))
    })?;
    // The profile directory is the user's alone already; the socket is too.
    std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o600)).map_err(|e| {
        failed(kith_i18n::t!(
            "cli-daemon-socket-mode",
            error = e.to_string()
        ))
    })?;
    let uid = std::fs::metadata(socket)
        .map_err(|e| {
            failed(kith_i18n::t!(
                "cli-daemon-socket-read",
                error = e.to_string()
            ))
        })?
        .uid();
    Ok((listener, uid))
}

/// Serves until stopped (a signal, `shutdown`, or a store failure); the exit code.
async fn serve(
    client: &mut Client,
    listener: UnixListener,
    uid: u32,
    connection: serde_json::Value,
) -> u8 {
    let (cmd_tx, cmd_rx) = unbounded_channel();
    let (ev_tx, ev_rx) = unbounded_channel();
    let (job_tx, job_rx) = unbounded_channel();
    let stop = CancellationToken::new();
    let shared = Arc::new(Shared {
        jobs: job_tx,
        commands: Mutex::new(Some(cmd_tx)),
        hub: events::Hub::default(),
        stop: stop.clone(),
        tracker: tokio_util::task::TaskTracker::new(),
        connection,
    });
    let fatal = Arc::new(std::sync::atomic::AtomicBool::new(false));
    tokio::spawn(events::pump(ev_rx, shared.clone(), fatal.clone()));
    tokio::spawn(accept(listener, uid, shared.clone()));
    // The live loop ends when its command channel closes: on a stop, once what it is
    // doing (a job, a catch-up) is done.
    let stopper = {
        let shared = shared.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = shared.stop.cancelled() => {}
                () = signal() => {}
            }
            if let Ok(mut commands) = shared.commands.lock() {
                commands.take();
            }
        })
    };
    run_with_jobs(client, cmd_rx, ev_tx, None, Some(job_rx)).await;
    stop.cancel();
    let _ = stopper.await;
    // The answer to `shutdown` and the last events go out before the process ends.
    shared.tracker.close();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), shared.tracker.wait()).await;
    if fatal.load(std::sync::atomic::Ordering::SeqCst) {
        1
    } else {
        0
    }
}

/// Ctrl-C or SIGTERM (SIGHUP too: the terminal that started it went away).
async fn signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).ok();
    let mut hup = signal(SignalKind::hangup()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        Some(_) = async { term.as_mut()?.recv().await } => {}
        Some(_) = async { hup.as_mut()?.recv().await } => {}
    }
}

/// Accepts connections from this user only.
async fn accept(listener: UnixListener, uid: u32, shared: Arc<Shared>) {
    loop {
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                Err(e) => {
                    eprintln!("{}", kith_i18n::t!("cli-daemon-accept-failed", error = e.to_string()));
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = shared.stop.cancelled() => return,
        };
        match stream.peer_cred() {
            Ok(cred) if cred.uid() == uid => {
                shared.tracker.spawn(conn::serve(stream, shared.clone()));
            }
            // Closed unanswered: another user (root aside, who needs no socket).
            _ => drop(stream),
        }
    }
}
