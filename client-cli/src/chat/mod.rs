//! `kith chat`: a full-screen terminal chat, the second face over the same
//! [`Client`] as the scriptable commands.
//!
//! Two halves talk over channels so the screen never waits on the network:
//!
//! - the engine's live loop (`kith_engine::live`) owns the profile's only `Client` (the
//!   store is locked per process) and runs on the calling task: subscriptions,
//!   catch-up, sending, reconnecting; when a daemon holds the profile, its loop serves
//!   the chat over the daemon's socket instead ([`run_attached`]);
//! - the screen runs in a task of its own: [`app`] (state, keys), [`ui`] (drawing),
//!   [`input`] (the line editor).
//!
//! The terminal is put back (raw mode off, main screen, cursor shown) by a guard on
//! every way out: normal exit, Ctrl-C (a key in raw mode), SIGTERM/SIGHUP, and panics
//! (a panic hook restores it before the message is printed).

pub mod app;

pub mod input;

pub mod notices;

pub mod status;

pub mod ui;

#[cfg(test)]
mod render_tests;

use crate::engine::{Client, ClientError};
use crate::rpc;
use app::App;
use crossterm::event::{DisableBracketedPaste, EnableBracketedPaste, EventStream};
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use futures_util::StreamExt;
use kith_engine::live::messages::{Command, Event};
use kith_i18n::t;
use kith_protocol::GroupId;
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use serde_json::json;
use std::io::{IsTerminal, Stdout, Write};
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

/// How long the engine may finish what it is doing after the screen closed.
const ENGINE_GRACE: Duration = Duration::from_secs(3);

/// Whether the terminal is in the chat's full-screen mode (so a panic elsewhere, or a
/// second restore, writes nothing).
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// Puts the terminal back as it was: main screen, cooked mode, cursor, no bracketed
/// paste. Safe to call more than once, and from the panic hook.
pub fn restore_terminal() {
    if !ACTIVE.swap(false, Ordering::SeqCst) {
        return;
    }
    let mut out = std::io::stdout();
    let _ = crossterm::execute!(
        out,
        DisableBracketedPaste,
        LeaveAlternateScreen,
        crossterm::cursor::Show
    );
    let _ = disable_raw_mode();
    let _ = out.flush();
}

/// Owns the terminal's full-screen mode; restores the terminal when dropped.
pub struct TerminalGuard {
    _private: (),
}

impl TerminalGuard {
    /// Enters raw mode and the alternate screen, with bracketed paste, and installs the
    /// panic hook that restores the terminal.
    pub fn enter() -> std::io::Result<Self> {
        install_panic_hook();
        enable_raw_mode()?;
        ACTIVE.store(true, Ordering::SeqCst);
        let guard = TerminalGuard { _private: () };
        crossterm::execute!(
            std::io::stdout(),
            EnterAlternateScreen,
            EnableBracketedPaste
        )?;
        Ok(guard)
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

fn install_panic_hook() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore_terminal();
            previous(info);
        }));
    });
}

/// Why the chat ended with an error.
#[derive(Debug)]
pub enum ChatError {
    /// An engine call failed (e.g. the group named on the command line is unknown).
    Client(ClientError),
    /// Not run in a terminal.
    NotATerminal,
    /// The terminal failed.
    Terminal(String),
    /// The engine stopped (the local store failed), or the screen crashed.
    Stopped(String),
    /// The daemon refused to attach the chat.
    Daemon {
        /// What it said.
        message: String,
        /// It was a usage error (no such group).
        usage: bool,
    },
}

impl std::fmt::Display for ChatError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChatError::Client(e) => e.fmt(f),
            ChatError::NotATerminal => f.write_str(&t!("chat-not-a-terminal")),
            ChatError::Terminal(e) => f.write_str(&t!("chat-terminal-failed", error = e)),
            ChatError::Stopped(why) => f.write_str(why),
            ChatError::Daemon { message, .. } => f.write_str(message),
        }
    }
}

impl std::error::Error for ChatError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ChatError::Client(e) => Some(e),
            _ => None,
        }
    }
}

impl From<ClientError> for ChatError {
    fn from(e: ClientError) -> Self {
        ChatError::Client(e)
    }
}

impl ChatError {
    /// The process exit code, as the other commands use them (2: usage, 1: failed).
    pub fn exit_code(&self) -> u8 {
        match self {
            ChatError::Client(
                ClientError::Usage(_) | ClientError::NoGroup(_) | ClientError::NoMember(_),
            )
            | ChatError::NotATerminal
            | ChatError::Daemon { usage: true, .. } => 2,
            _ => 1,
        }
    }
}

/// Runs the chat on an unlocked profile until the user quits. `group` names the group
/// to open first.
pub async fn run(client: &mut Client, group: Option<&str>) -> Result<(), ChatError> {
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return Err(ChatError::NotATerminal);
    }
    let first = group.map(|q| client.find_group(q)).transpose()?;
    // From here on the engine's words name the chat's commands (`/requests`).
    kith_i18n::set_face(kith_i18n::Face::Chat);
    let (cmd_tx, cmd_rx) = unbounded_channel();
    let (ev_tx, ev_rx) = unbounded_channel();
    let engine = kith_engine::live::task::run(client, cmd_rx, ev_tx, first);
    face(engine, ev_rx, cmd_tx, first, false).await
}

/// Runs the chat on the live loop of the profile's daemon (`kith chat` while a daemon
/// holds the profile): the loop's commands and events travel over the daemon's socket
/// (docs/RPC.md, "The chat's stream").
pub async fn run_attached(mut conn: rpc::Connection, group: Option<&str>) -> Result<(), ChatError> {
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return Err(ChatError::NotATerminal);
    }
    let first = match conn
        .call("chat.attach", json!({ "group": group }), |_, _| {})
        .await
        .map_err(ChatError::Stopped)?
    {
        rpc::Answer::Result(v) => v["group"].as_str().and_then(GroupId::from_hex),
        rpc::Answer::Error { code, message, .. } => {
            return Err(ChatError::Daemon {
                message,
                usage: code == rpc::USAGE,
            });
        }
    };
    kith_i18n::set_face(kith_i18n::Face::Chat);
    let (cmd_tx, cmd_rx) = unbounded_channel();
    let (ev_tx, ev_rx) = unbounded_channel();
    face(bridge(conn, cmd_rx, ev_tx), ev_rx, cmd_tx, first, true).await
}

/// Carries the screen's commands to the daemon and the daemon's events back, until
/// the screen closes its commands or the daemon goes away.
async fn bridge(
    conn: rpc::Connection,
    mut commands: UnboundedReceiver<Command>,
    events: UnboundedSender<Event>,
) {
    let (mut lines, mut out) = conn.split();
    let reader_events = events.clone();
    let reader = tokio::spawn(async move {
        loop {
            match lines.next().await {
                Ok(v) if v["method"] == "chat.event" => {
                    match serde_json::from_value::<Event>(v["params"].clone()) {
                        Ok(ev) => {
                            if reader_events.send(ev).is_err() {
                                return;
                            }
                        }
                        Err(e) => {
                            let _ = reader_events.send(Event::Error(t!(
                                "chat-daemon-event-unknown",
                                error = e.to_string()
                            )));
                        }
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    let _ = reader_events.send(Event::Fatal(t!("chat-daemon-gone", error = e)));
                    return;
                }
            }
        }
    });
    let here = std::env::current_dir().unwrap_or_default();
    while let Some(mut c) = commands.recv().await {
        // Paths are the chat's: the daemon runs elsewhere.
        match &mut c {
            Command::SendFile { path, .. } => *path = here.join(&*path),
            Command::GetFile { out, .. } => {
                *out = Some(here.join(out.as_deref().unwrap_or(std::path::Path::new("."))))
            }
            _ => {}
        }
        let Ok(params) = serde_json::to_value(&c) else {
            continue;
        };
        if out.notify("chat.command", params).await.is_err() {
            break;
        }
    }
    drop(events);
    reader.abort();
}

/// The screen over an engine: the live loop itself, or the bridge to the daemon's
/// (`attached`).
async fn face(
    engine: impl std::future::Future<Output = ()>,
    ev_rx: UnboundedReceiver<Event>,
    cmd_tx: UnboundedSender<Command>,
    first: Option<GroupId>,
    attached: bool,
) -> Result<(), ChatError> {
    let app = App::new(ui::Theme::color_from_env(), first);
    let mut screen = tokio::spawn(screen(app, ev_rx, cmd_tx));
    tokio::pin!(engine);
    let outcome = tokio::select! {
        // The engine ends only when the screen closed its commands (or a fatal error
        // was sent to the screen, which then quits).
        () = &mut engine => (&mut screen).await,
        r = &mut screen => {
            let _ = tokio::time::timeout(ENGINE_GRACE, engine).await;
            r
        }
    };
    restore_terminal();
    let outcome = match outcome {
        Ok(r) => r,
        Err(e) if e.is_panic() => {
            return Err(ChatError::Stopped(t!("chat-screen-crashed")));
        }
        Err(_) => return Ok(()),
    };
    match outcome {
        Ok(end) => {
            if let Some(fatal) = end.fatal {
                return Err(ChatError::Stopped(fatal));
            }
            if end.kept > 0 && attached {
                eprintln!("{}", t!("chat-unsent-in-daemon", n = end.kept));
            } else if end.kept > 0 {
                eprintln!("{}", t!("chat-unsent-kept", n = end.kept));
            }
            if end.failed > 0 {
                eprintln!("{}", t!("chat-unsent-lost", n = end.failed));
            }
            Ok(())
        }
        Err(e) => Err(ChatError::Terminal(e.to_string())),
    }
}

/// How the screen ended.
struct End {
    fatal: Option<String>,
    /// Waiting in the outbox.
    kept: usize,
    /// Failed, so gone with the screen.
    failed: usize,
}

async fn screen(
    mut app: App,
    mut events: UnboundedReceiver<Event>,
    commands: UnboundedSender<Command>,
) -> std::io::Result<End> {
    let _guard = TerminalGuard::enter()?;
    let mut terminal: Terminal<CrosstermBackend<Stdout>> =
        Terminal::new(CrosstermBackend::new(std::io::stdout()))?;
    terminal.clear()?;
    let mut keys = EventStream::new();
    // Redraws once a second for the clocks (retry countdown, passing messages).
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut signals = Signals::new()?;
    if let Some(first) = app.selected {
        app.select(first);
    }
    loop {
        if app.redraw {
            app.redraw = false;
            terminal.clear()?;
        }
        terminal.draw(|f| ui::draw(f, &mut app))?;
        tokio::select! {
            key = keys.next() => match key {
                Some(Ok(ev)) => app.on_terminal(ev),
                Some(Err(e)) => return Err(e),
                None => app.quit = true,
            },
            ev = events.recv() => match ev {
                Some(ev) => app.on_engine(ev),
                None => {
                    if app.fatal.is_none() {
                        app.fatal = Some(t!("chat-engine-stopped"));
                    }
                    app.quit = true;
                }
            },
            _ = tick.tick() => {}
            () = signals.recv() => app.quit = true,
        }
        // Take everything that is already there before drawing again.
        while let Ok(ev) = events.try_recv() {
            app.on_engine(ev);
        }
        for c in app.take_commands() {
            let _ = commands.send(c);
        }
        if let Some(text) = app.clipboard.take() {
            // Terminals that allow it (and tmux with `set-clipboard on`) put it on the
            // clipboard; the others ignore the sequence.
            let mut out = std::io::stdout();
            let _ = write!(out, "{}", osc52(&text));
            let _ = out.flush();
        }
        if app.quit {
            break;
        }
    }
    Ok(End {
        fatal: app.fatal.take(),
        kept: app.unsent() - app.failed(),
        failed: app.failed(),
    })
}

/// The OSC 52 sequence that asks the terminal to put `text` on the clipboard
/// (`ESC ] 52 ; c ; BASE64 BEL`).
pub fn osc52(text: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = String::with_capacity(text.len().div_ceil(3) * 4);
    for chunk in text.as_bytes().chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                b64.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                b64.push('=');
            }
        }
    }
    format!("\x1b]52;c;{b64}\x07")
}

/// SIGTERM and SIGHUP end the chat cleanly (Ctrl-C is a key in raw mode).
struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                term: signal(SignalKind::terminate())?,
                hup: signal(SignalKind::hangup())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    async fn recv(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.hup.recv() => {}
        }
        #[cfg(not(unix))]
        std::future::pending::<()>().await
    }
}
