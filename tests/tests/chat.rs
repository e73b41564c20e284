//! End-to-end tests of `kith chat` through a real pseudo-terminal: the chat runs in a
//! detached tmux session (its own server socket, no user config), keys go in with
//! `send-keys`/`paste-buffer`, and the screen is read back with `capture-pane`. Every
//! wait polls the screen (or a CLI command) with a deadline; nothing sleeps a fixed
//! time to synchronise.
//!
//! Needs `tmux` on the PATH (`.ci/run` installs it).

use kith_tests::client::{Profile, TEST_PASSPHRASE, kith_bin};
use kith_tests::gate::Gate;
use kith_tests::*;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};
use tempfile::TempDir;

const GROUP: &str = "Legal aid";

/// How long the chat may take to show something (connect, catch up, render).
const SCREEN_WITHIN: Duration = Duration::from_secs(20);

/// "Within a few seconds": a message sent by the CLI must be on the chat screen by then.
const LIVE_WITHIN: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------------------------------
// tmux
// ---------------------------------------------------------------------------------------

/// A `kith chat` running in a tmux session of a private tmux server.
struct Tmux {
    dir: TempDir,
}

impl Tmux {
    fn socket(&self) -> PathBuf {
        self.dir.path().join("tmux.sock")
    }

    /// `tmux -S SOCKET -f CONF ARGS…`.
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("tmux");
        c.arg("-u")
            .arg("-S")
            .arg(self.socket())
            .arg("-f")
            .arg(self.dir.path().join("tmux.conf"))
            .args(args);
        c
    }

    fn run(&self, args: &[&str]) -> String {
        let out = self
            .cmd(args)
            .output()
            .unwrap_or_else(|e| panic!("could not run tmux (is it installed?): {e}"));
        assert!(
            out.status.success(),
            "tmux {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Starts `kith --home DIR chat ARGS…` for `who` in a `w`x`h` terminal.
    fn start(who: &Profile, args: &[&str], w: u16, h: u16) -> Tmux {
        Tmux::start_env(who, args, w, h, &[])
    }

    /// [`Tmux::start`] with more environment (a language, a time zone).
    fn start_env(who: &Profile, args: &[&str], w: u16, h: u16, envs: &[(&str, &str)]) -> Tmux {
        let dir = tempfile::Builder::new()
            .prefix("kith-tmux-")
            .tempdir()
            .expect("tmux dir");
        // Keep the pane after kith exits, to read its exit status.
        std::fs::write(
            dir.path().join("tmux.conf"),
            // set-clipboard: what the chat copies (OSC 52) lands in tmux's buffer.
            "set -g remain-on-exit on\nset -g history-limit 100\nset -g set-clipboard on\n",
        )
        .expect("tmux.conf");
        let t = Tmux { dir };
        let mut cmd = t.cmd(&[
            "new-session",
            "-d",
            "-s",
            "chat",
            "-x",
            &w.to_string(),
            "-y",
            &h.to_string(),
        ]);
        cmd.arg(kith_bin())
            .arg("--home")
            .arg(who.dir())
            .arg("chat")
            .args(args);
        // The tmux server (and so the pane) inherits this environment.
        for (k, _) in std::env::vars_os() {
            if k.to_str().is_some_and(|k| k.starts_with("KITH_")) || k == "NO_COLOR" {
                cmd.env_remove(k);
            }
        }
        cmd.env("KITH_PASSPHRASE", TEST_PASSPHRASE)
            .env("KITH_TEST_FAST_KDF", "1")
            .env("TERM", "xterm-256color")
            .env_remove("LC_ALL")
            .env_remove("LC_MESSAGES")
            .env("LANG", "C.UTF-8")
            .env("TZ", "UTC")
            .env("KITH_CONFIG", who.config_path());
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let out = cmd
            .output()
            .unwrap_or_else(|e| panic!("could not run tmux (is it installed?): {e}"));
        assert!(
            out.status.success(),
            "tmux new-session failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        t
    }

    /// The screen as text.
    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "chat"])
    }

    /// The screen and what scrolled off it, wrapped lines joined.
    fn scrollback(&self) -> String {
        self.run(&["capture-pane", "-p", "-J", "-S", "-", "-t", "chat"])
    }

    /// Types `text` literally.
    fn type_text(&self, text: &str) {
        self.run(&["send-keys", "-t", "chat", "-l", text]);
    }

    /// Presses a key (tmux key name: Enter, C-c, F2…).
    fn key(&self, key: &str) {
        self.run(&["send-keys", "-t", "chat", key]);
    }

    /// Pastes `text` as a terminal paste (bracketed, when the app asked for it).
    fn paste(&self, text: &str) {
        self.run(&["set-buffer", "--", text]);
        self.run(&["paste-buffer", "-p", "-d", "-t", "chat"]);
    }

    /// Polls the screen until `check` accepts it; panics with the last screen after
    /// `within`.
    fn wait_for(&self, within: Duration, what: &str, check: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + within;
        loop {
            let s = self.screen();
            if check(&s) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "timed out after {within:?} waiting for {what}; the screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `#{pane_dead} #{pane_dead_status} #{alternate_on}`.
    fn pane_state(&self) -> (bool, Option<i32>, bool) {
        let out = self.run(&[
            "display-message",
            "-p",
            "-t",
            "chat",
            "#{pane_dead} #{pane_dead_status} #{alternate_on}",
        ]);
        let parts: Vec<&str> = out.split_whitespace().collect();
        let dead = parts.first() == Some(&"1");
        let status = if dead {
            parts.get(1).and_then(|s| s.parse().ok())
        } else {
            None
        };
        let alt = parts.last() == Some(&"1");
        (dead, status, alt)
    }

    /// Waits for kith to exit; returns its exit status and whether the terminal was
    /// left in the alternate screen.
    fn wait_exit(&self, within: Duration) -> (i32, bool) {
        let deadline = Instant::now() + within;
        loop {
            let (dead, status, alt) = self.pane_state();
            if dead {
                return (status.unwrap_or(-1), alt);
            }
            assert!(
                Instant::now() < deadline,
                "kith chat did not exit within {within:?}; the screen:\n{}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("last chat screen:\n{}", self.screen());
        }
        let _ = self.cmd(&["kill-server"]).output();
    }
}

// ---------------------------------------------------------------------------------------
// Groups through the CLI
// ---------------------------------------------------------------------------------------

/// Olena creates GROUP on `relay_url`; Iryna joins it with a one-time code.
fn olena_and_iryna(relay_url: &str) -> (Profile, Profile) {
    let olena = Profile::new("Olena");
    let iryna = Profile::new("Iryna");
    olena.ok(&["group", "create", GROUP, "--relay", relay_url]);
    let code = olena.ok(&["invite", GROUP]).trim().to_owned();
    let mut joining = iryna.spawn(&["join", &code, "--wait", "30"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    let out = loop {
        olena.ok(&["sync"]);
        if let Some(out) = joining.try_finish() {
            break out;
        }
        assert!(Instant::now() < deadline, "Iryna was not admitted");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(out.success(), "join failed: {out}");
    (olena, iryna)
}

/// Polls `kith read GROUP --all` as `who` until its output contains `text` (where
/// `read` marks a sender whose safety number `who` has not confirmed: `Olena?: …`).
fn read_until(who: &Profile, text: &str) -> String {
    let deadline = Instant::now() + SCREEN_WITHIN;
    loop {
        let out = who.ok(&["read", GROUP, "--all"]);
        if out.contains(text) {
            return out;
        }
        assert!(
            Instant::now() < deadline,
            "{} never read {text:?}; last read:\n{out}",
            who.name()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn connected(s: &str) -> bool {
    s.lines()
        .next()
        .is_some_and(|top| top.contains(" connected"))
}

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

/// Olena lives in `kith chat`; Iryna uses the CLI. What Olena types reaches Iryna's
/// `kith read`; what Iryna sends appears on Olena's screen within a few seconds; a
/// multi-line paste is one message; resizing keeps everything; Ctrl-C quits cleanly.
#[tokio::test(flavor = "multi_thread")]
async fn chat_and_cli_talk_live() {
    if kith_tests::installed_tool("tmux", "tmux").is_none() {
        return;
    }
    let relay = TestRelay::start(&[]).await;
    let (olena, iryna) = olena_and_iryna(&relay.ws_url());
    iryna.ok(&["send", GROUP, "hello from Iryna before the chat"]);

    let chat = Tmux::start(&olena, &[GROUP], 80, 24);
    let s = chat.wait_for(SCREEN_WITHIN, "the chat to connect", |s| {
        connected(s) && s.contains("hello from Iryna before the chat")
    });
    assert!(s.contains(GROUP), "{s}");
    // Iryna has not been verified by Olena: her name carries the mark.
    assert!(s.contains("Iryna?: hello from Iryna"), "{s}");
    assert!(s.contains("Message to Legal aid"), "{s}");

    // Olena types; Iryna's `kith read` gets it.
    chat.type_text("Lawyer Petrenko takes appeals on Thursdays");
    chat.key("Enter");
    chat.wait_for(SCREEN_WITHIN, "the relay's acknowledgement", |s| {
        s.contains("Olena: Lawyer Petrenko takes appeals on Thursdays") && !s.contains("[sending")
    });
    let read = read_until(&iryna, "Olena?: Lawyer Petrenko takes appeals on Thursdays");
    assert!(!read.contains(" ! "), "Iryna sees an alert:\n{read}");

    // Iryna sends with the CLI; it is on Olena's screen within a few seconds.
    iryna.ok(&["send", GROUP, "Thank you, I will call him"]);
    let sent = Instant::now();
    chat.wait_for(LIVE_WITHIN, "Iryna's message, pushed live", |s| {
        s.contains("Iryna?: Thank you, I will call him")
    });
    eprintln!(
        "Iryna's message was on the chat screen {:?} after `kith send` returned",
        sent.elapsed()
    );

    // A multi-line paste is one message, sent with one Enter.
    chat.paste("Address:\nKyivska 12, office 4");
    chat.wait_for(SCREEN_WITHIN, "the pasted text in the input", |s| {
        s.contains("Kyivska 12, office 4")
    });
    chat.key("Enter");
    read_until(&iryna, "Olena?: Address:\nKyivska 12, office 4");

    // History and slash commands: Up brings the last message back; /members shows
    // roles.
    chat.key("Up");
    chat.wait_for(SCREEN_WITHIN, "history in the input", |s| {
        s.lines()
            .rev()
            .nth(1)
            .is_some_and(|l| l.contains("Kyivska 12, office 4"))
    });
    // Down goes back to the (empty) draft.
    chat.key("Down");
    chat.type_text("/members");
    chat.key("Enter");
    chat.wait_for(SCREEN_WITHIN, "the member list", |s| {
        s.contains("Members (2)") && s.contains("member · NOT verified")
    });

    chat.key("F2");
    chat.wait_for(SCREEN_WITHIN, "the member list to close", |s| {
        !s.contains("Members (2)")
    });

    // Resizing redraws cleanly at the new size, and back.
    chat.run(&["resize-window", "-t", "chat", "-x", "50", "-y", "16"]);
    chat.wait_for(SCREEN_WITHIN, "the narrow layout", |s| {
        s.lines().count() <= 16 && connected(s) && !s.contains(" Groups")
    });
    chat.run(&["resize-window", "-t", "chat", "-x", "80", "-y", "24"]);
    chat.wait_for(SCREEN_WITHIN, "the wide layout again", |s| {
        s.contains(" Groups") && s.contains("Thank you, I will call him")
    });

    // Ctrl-C quits, with exit status 0 and the terminal back on the main screen.
    chat.key("C-c");
    let (status, alternate) = chat.wait_exit(SCREEN_WITHIN);
    assert_eq!(
        status,
        0,
        "kith chat exit status; screen:\n{}",
        chat.screen()
    );
    assert!(!alternate, "the terminal was left in the alternate screen");
    // The store is free again: the CLI can open the profile.
    let all = olena.ok(&["read", GROUP, "--all"]);
    // `Iryna?`: Olena has not confirmed Iryna's safety number.
    assert!(all.contains("Iryna?: Thank you, I will call him"), "{all}");
}

/// The relay goes away: the chat says so, keeps what is typed and queued, and sends it
/// once the relay is back. SIGTERM then ends it cleanly.
#[tokio::test(flavor = "multi_thread")]
async fn offline_messages_wait_and_go_out_when_the_relay_returns() {
    if kith_tests::installed_tool("tmux", "tmux").is_none() {
        return;
    }
    let relay = TestRelay::start(&[]).await;
    let mut gate = Gate::new(relay.addr()).await;
    let (olena, iryna) = olena_and_iryna(&gate.url());

    let chat = Tmux::start(&olena, &[GROUP], 80, 24);
    chat.wait_for(SCREEN_WITHIN, "the chat to connect", connected);

    gate.close();
    chat.wait_for(SCREEN_WITHIN, "the chat to notice the relay is gone", |s| {
        let top = s.lines().next().unwrap_or_default();
        top.contains("reconnecting") || top.contains("offline")
    });
    chat.type_text("written while offline");
    chat.key("Enter");
    chat.wait_for(SCREEN_WITHIN, "the queued mark", |s| {
        s.contains("Olena: written while offline [queued: offline]")
    });
    chat.type_text("a draft not sent yet");
    chat.wait_for(SCREEN_WITHIN, "the state to show offline", |s| {
        s.lines().next().unwrap_or_default().contains("offline")
    });

    gate.reopen().await;
    // Ctrl-R reconnects at once instead of waiting for the backoff.
    chat.key("C-r");
    let s = chat.wait_for(SCREEN_WITHIN, "the queued message to go out", |s| {
        connected(s) && s.contains("Olena: written while offline") && !s.contains("[queued")
    });
    assert!(
        s.contains("a draft not sent yet"),
        "the draft was lost:\n{s}"
    );
    read_until(&iryna, "Olena?: written while offline");

    // SIGTERM ends the chat cleanly too, terminal restored.
    let pid = chat.run(&["display-message", "-p", "-t", "chat", "#{pane_pid}"]);
    let killed = Command::new("kill")
        .args(["-TERM", pid.trim()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let (status, alternate) = chat.wait_exit(SCREEN_WITHIN);
    assert_eq!(status, 0, "exit status after SIGTERM");
    assert!(!alternate, "the terminal was left in the alternate screen");
}

/// Issue 18: quitting loses nothing. A message typed while the relay is down waits in
/// the store's encrypted outbox: Ctrl-C quits without a question (nothing would be lost)
/// and says where it waits, `kith outbox` lists it, and the next chat shows it queued
/// and sends it once the relay is back.
#[tokio::test(flavor = "multi_thread")]
async fn queued_messages_outlive_quitting_the_chat() {
    if kith_tests::installed_tool("tmux", "tmux").is_none() {
        return;
    }
    let relay = TestRelay::start(&[]).await;
    let mut gate = Gate::new(relay.addr()).await;
    let (olena, iryna) = olena_and_iryna(&gate.url());
    gate.close();

    let chat = Tmux::start(&olena, &[GROUP], 80, 24);
    chat.wait_for(SCREEN_WITHIN, "the chat to find the relay gone", |s| {
        s.lines().next().unwrap_or_default().contains("offline") && s.contains("You added Iryna")
    });
    chat.type_text("typed before quitting");
    chat.key("Enter");
    chat.wait_for(SCREEN_WITHIN, "the queued mark", |s| {
        s.contains("Olena: typed before quitting [queued")
    });
    chat.key("C-c");
    let (status, _) = chat.wait_exit(SCREEN_WITHIN);
    assert_eq!(
        status,
        0,
        "quitting with a queued message:\n{}",
        chat.screen()
    );
    let s = chat.scrollback();
    assert!(
        s.contains("1 message waits in the outbox"),
        "the chat must say where the message waits:\n{s}"
    );
    let listed = olena.ok(&["outbox"]);
    assert!(listed.contains("typed before quitting"), "{listed}");

    gate.reopen().await;
    let chat = Tmux::start(&olena, &[GROUP], 80, 24);
    chat.wait_for(SCREEN_WITHIN, "the message to go out", |s| {
        connected(s) && s.contains("Olena: typed before quitting") && !s.contains("[queued")
    });
    read_until(&iryna, "Olena?: typed before quitting");
    assert!(olena_outbox_empty(&chat, &olena));
}

/// Whether `kith outbox` says it is empty, once the chat has quit (one process holds a
/// profile).
fn olena_outbox_empty(chat: &Tmux, olena: &Profile) -> bool {
    chat.key("C-c");
    chat.wait_exit(SCREEN_WITHIN);
    olena.ok(&["outbox"]).contains("The outbox is empty")
}

/// Issue 14: one relay that is down stops its own groups only. Olena's chat holds a
/// group on a live relay and one on a relay that goes away: the live group still sends
/// and receives, the screen says which relay is down, and the list marks its group.
#[tokio::test(flavor = "multi_thread")]
async fn one_relay_down_leaves_the_groups_of_the_others_live() {
    if kith_tests::installed_tool("tmux", "tmux").is_none() {
        return;
    }
    let live = TestRelay::start(&[]).await;
    let other = TestRelay::start(&[]).await;
    let mut gate = Gate::new(other.addr()).await;
    let (olena, iryna) = olena_and_iryna(&live.ws_url());
    olena.ok(&["group", "create", "Elsewhere", "--relay", &gate.url()]);

    let chat = Tmux::start(&olena, &[GROUP], 100, 24);
    chat.wait_for(SCREEN_WITHIN, "the chat to connect", connected);
    gate.close();
    chat.wait_for(SCREEN_WITHIN, "the other relay to show down", |s| {
        let top = s.lines().next().unwrap_or_default();
        top.contains(" connected") && top.contains("1 other relay down")
    });
    chat.wait_for(SCREEN_WITHIN, "its group to be marked", |s| {
        s.contains("Elsewhere ○")
    });
    chat.type_text("/relays");
    chat.key("Enter");
    chat.wait_for(
        SCREEN_WITHIN,
        "/relays to name the open group's relay",
        |s| s.contains(&format!("Relay: {} (connected)", live.ws_url())),
    );
    // Once it counts as offline, the chat says why, as `kith doctor` would.
    chat.wait_for(
        SCREEN_WITHIN,
        "the doctor's verdict on the other relay",
        |s| s.contains("is offline. The machine answers, but nothing listens"),
    );

    // The live group goes on both ways.
    chat.type_text("still here");
    chat.key("Enter");
    read_until(&iryna, "Olena?: still here");
    iryna.ok(&["send", GROUP, "me too"]);
    let s = chat.wait_for(LIVE_WITHIN, "Iryna's message, live", |s| {
        s.contains("me too")
    });
    assert!(
        !s.contains("[queued"),
        "nothing queued on the live relay:\n{s}"
    );

    gate.reopen().await;
    chat.key("C-r");
    chat.wait_for(SCREEN_WITHIN, "every relay back", |s| {
        let top = s.lines().next().unwrap_or_default();
        connected(s) && !top.contains("down") && !s.contains("Elsewhere ○")
    });
}

/// Issue 6 in the chat: Olena (admin, in `kith chat`) pins a board entry with
/// `/board add`; Iryna reads it with `kith board`; Olena makes Iryna an admin with
/// `/promote`; Iryna pins an entry with the CLI, and `/board` on Olena's screen shows
/// it, pushed live.
#[tokio::test(flavor = "multi_thread")]
async fn board_pinned_in_the_chat_and_from_the_cli() {
    if kith_tests::installed_tool("tmux", "tmux").is_none() {
        return;
    }
    let started = Instant::now();
    let relay = TestRelay::start(&[]).await;
    let (olena, iryna) = olena_and_iryna(&relay.ws_url());

    let chat = Tmux::start(&olena, &[GROUP], 80, 24);
    chat.wait_for(SCREEN_WITHIN, "the chat to connect", connected);

    chat.type_text("/board add Lawyer Petrenko | Takes appeals on Thursdays, 10:00-14:00");
    chat.key("Enter");
    chat.wait_for(SCREEN_WITHIN, "the entry to be pinned", |s| {
        s.contains("Pinned [0] Lawyer Petrenko to the board.")
            && s.contains("* You pinned to the board: Lawyer Petrenko")
    });
    let board = iryna.ok(&["board", GROUP]);
    assert!(board.contains("[0] Lawyer Petrenko"), "{board}");
    assert!(
        board.contains("    Takes appeals on Thursdays, 10:00-14:00"),
        "{board}"
    );
    assert!(board.contains("— Olena,"), "{board}");

    // A member may not pin: Iryna's CLI says so. Olena promotes her from the chat.
    let refused = iryna.fails(&["board", "add", GROUP, "Shelter", "x"], 2);
    assert!(refused.stderr.contains("only admins"), "{refused}");
    chat.type_text("/promote Iryna");
    chat.key("Enter");
    chat.wait_for(SCREEN_WITHIN, "Iryna to be an admin", |s| {
        s.contains("Iryna is now an admin.")
    });
    iryna.ok(&[
        "board",
        "add",
        GROUP,
        "Shelter",
        "Kyivska 12, office 4\nopen 24/7",
    ]);

    chat.type_text("/board");
    chat.key("Enter");
    let s = chat.wait_for(SCREEN_WITHIN, "the board with Iryna's entry", |s| {
        s.contains(" Board · Legal aid ") && s.contains("[1] Shelter") && s.contains("open 24/7")
    });
    eprintln!("the board overlay:\n{s}");
    assert!(s.contains("[0] Lawyer Petrenko"), "{s}");
    assert!(s.contains("    Kyivska 12, office 4"), "{s}");
    assert!(s.contains("— Iryna,"), "{s}");
    chat.key("Escape");
    chat.wait_for(SCREEN_WITHIN, "the board to close", |s| {
        !s.contains(" Board · ") && s.contains("Iryna pinned to the board: Shelter")
    });

    // A file from the chat reaches the CLI byte for byte, and one from the CLI is saved
    // from the chat.
    let scan = olena.dir().join("appeal.txt");
    std::fs::write(&scan, b"To the commander of unit 41...").expect("write the file");
    chat.type_text(&format!("/file {}", scan.display()));
    chat.key("Enter");
    chat.wait_for(SCREEN_WITHIN, "the file to be sent", |s| {
        s.contains("Sent appeal.txt.") && s.contains("[file] appeal.txt (30 B)")
    });
    let got = iryna.dir().join("got.txt");
    iryna.ok(&["get", GROUP, "appeal.txt", "-o", &got.display().to_string()]);
    assert_eq!(
        std::fs::read(&got).expect("saved"),
        b"To the commander of unit 41..."
    );
    let reply = iryna.dir().join("reply.txt");
    std::fs::write(&reply, b"received, thank you").expect("write the file");
    iryna.ok(&["send-file", GROUP, &reply.display().to_string()]);
    let saved_dir = olena.dir().join("downloads");
    std::fs::create_dir(&saved_dir).expect("mkdir");
    chat.wait_for(SCREEN_WITHIN, "Iryna's file", |s| {
        s.contains("[file] reply.txt (19 B)")
    });
    chat.type_text(&format!("/get reply.txt {}", saved_dir.display()));
    chat.key("Enter");
    chat.wait_for(SCREEN_WITHIN, "the file to be saved", |s| {
        s.contains("Saved reply.txt (19 B)")
    });
    assert_eq!(
        std::fs::read(saved_dir.join("reply.txt")).expect("saved"),
        b"received, thank you"
    );

    chat.key("C-c");
    let (status, _) = chat.wait_exit(SCREEN_WITHIN);
    assert_eq!(status, 0, "exit status; screen:\n{}", chat.screen());
    eprintln!("board scenario took {:?}", started.elapsed());
}

/// Issue 15 in the chat: a move reaches a member who has the chat open at once (it
/// follows the group to the new relay, shows what is posted there, and `/relays` names
/// it), and a relay that is lost sends the chat on to the group's fallback by itself.
#[tokio::test(flavor = "multi_thread")]
async fn the_chat_follows_a_move_at_once_and_fails_over_by_itself() {
    if kith_tests::installed_tool("tmux", "tmux").is_none() {
        return;
    }
    let old = TestRelay::start(&[]).await;
    let new = TestRelay::start(&[]).await;
    let spare = TestRelay::start(&[]).await;
    let mut gate = Gate::new(new.addr()).await;
    let (olena, iryna) = olena_and_iryna(&old.ws_url());
    let chat = Tmux::start(&iryna, &["--failover-after", "2s", GROUP], 100, 24);
    chat.wait_for(SCREEN_WITHIN, "the chat to connect", connected);

    olena.ok(&["group", "move", GROUP, "--to", &gate.url()]);
    chat.wait_for(SCREEN_WITHIN, "the move", |s| {
        s.contains("moved the group to")
    });
    olena.ok(&["send", GROUP, "from the new relay"]);
    chat.wait_for(LIVE_WITHIN, "a message at the new relay, live", |s| {
        s.contains("from the new relay")
    });
    chat.type_text("/relays");
    chat.key("Enter");
    chat.wait_for(SCREEN_WITHIN, "/relays to name the new relay", |s| {
        s.contains(&format!("Relay: {} (connected)", gate.url()))
    });

    // The new relay is lost; the group has a fallback: the chat goes on there alone.
    olena.ok(&["group", "set", GROUP, "--fallback", &spare.ws_url()]);
    chat.wait_for(SCREEN_WITHIN, "the fallback named", |s| {
        s.contains("added a fallback relay")
    });
    gate.close();
    chat.wait_for(SCREEN_WITHIN, "the failover", |s| {
        s.contains(&format!("goes on at {}", spare.ws_url()))
    });
    chat.type_text("from the chat at the spare");
    chat.key("Enter");
    let mut cmd_ok = false;
    let deadline = Instant::now() + SCREEN_WITHIN;
    while Instant::now() < deadline {
        let out = olena.run(&["--failover-after", "1s", "read", GROUP, "--all"]);
        if out.success() && out.stdout.contains("Iryna?: from the chat at the spare") {
            cmd_ok = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(
        cmd_ok,
        "Olena follows to the spare and reads the chat's message"
    );
}

/// With a daemon holding Olena's profile (issue 17), `kith chat` attaches to it instead
/// of failing: a `kith send` from another process appears on the chat screen within a
/// few seconds, Iryna's message too, and what Olena types goes out through the daemon.
/// Quitting the chat leaves the daemon serving.
#[tokio::test(flavor = "multi_thread")]
async fn the_chat_attaches_to_the_daemon_beside_other_commands() {
    if kith_tests::installed_tool("tmux", "tmux").is_none() {
        return;
    }
    let relay = TestRelay::start(&[]).await;
    let (olena, iryna) = olena_and_iryna(&relay.ws_url());
    let mut daemon = olena.spawn(&["daemon"]);
    let socket = olena.dir().join("kith.sock");
    let deadline = Instant::now() + SCREEN_WITHIN;
    while std::os::unix::net::UnixStream::connect(&socket).is_err() {
        assert!(daemon.try_finish().is_none(), "the daemon exited");
        assert!(
            Instant::now() < deadline,
            "the daemon's socket never answered"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    let chat = Tmux::start(&olena, &[GROUP], 80, 24);
    chat.wait_for(SCREEN_WITHIN, "the attached chat to connect", |s| {
        connected(s) && s.contains("Message to Legal aid")
    });
    olena.ok(&["send", GROUP, "sent by kith send beside the chat"]);
    chat.wait_for(LIVE_WITHIN, "the message of the other process", |s| {
        s.contains("Olena: sent by kith send beside the chat")
    });
    iryna.ok(&["send", GROUP, "Iryna answers"]);
    chat.wait_for(LIVE_WITHIN, "Iryna's message, pushed live", |s| {
        s.contains("Iryna?: Iryna answers")
    });
    chat.type_text("typed in the attached chat");
    chat.key("Enter");
    read_until(&iryna, "Olena?: typed in the attached chat");

    chat.key("C-c");
    let (status, alternate) = chat.wait_exit(SCREEN_WITHIN);
    assert_eq!(
        status,
        0,
        "kith chat exit status; screen:\n{}",
        chat.screen()
    );
    assert!(!alternate, "the terminal was left in the alternate screen");
    assert!(
        daemon.try_finish().is_none(),
        "the chat took the daemon down"
    );
    let who = olena.run_env(&["whoami"], &[("KITH_PASSPHRASE", "")]);
    assert!(who.success() && who.stdout.contains("Olena"), "{who}");
    olena.ok(&["daemon", "--stop"]);
}

/// A Russian speaker in Irkutsk (`LANG=ru_RU.UTF-8`, `TZ=Asia/Irkutsk`): the chat's top
/// bar, key hints, help and day separators are in Russian, with plural forms, and times
/// are local, the zone named once on the day separator.
#[tokio::test(flavor = "multi_thread")]
async fn the_chat_speaks_russian_in_local_time() {
    let relay = TestRelay::start(&[]).await;
    let (olena, iryna) = olena_and_iryna(&relay.ws_url());
    iryna.ok(&["send", GROUP, "Здравствуйте, есть новости по апелляции?"]);
    let chat = Tmux::start_env(
        &olena,
        &[GROUP],
        80,
        24,
        &[("LANG", "ru_RU.UTF-8"), ("TZ", "Asia/Irkutsk")],
    );
    let s = chat.wait_for(SCREEN_WITHIN, "the conversation, in Russian", |s| {
        s.contains("есть новости") && s.contains("на связи")
    });
    assert!(s.contains("2 участника"), "the top bar's count:\n{s}");
    assert!(
        s.contains("Asia/Irkutsk"),
        "the zone on the day separator:\n{s}"
    );
    assert!(s.contains("F1 справка"), "the key hints:\n{s}");
    // The message's time is Irkutsk's: UTC + 8 hours.
    let utc = iryna.ok(&["read", GROUP, "--all", "--utc"]);
    let utc_time = utc
        .lines()
        .find(|l| l.contains("есть новости"))
        .and_then(|l| l.split_whitespace().nth(1))
        .expect("the message in UTC")
        .to_owned();
    let (h, m) = utc_time.split_once(':').unwrap();
    let local = format!("{:02}:{m}", (h.parse::<u32>().unwrap() + 8) % 24);
    assert!(
        s.lines()
            .any(|l| l.contains(&local) && l.contains("есть новости")),
        "{local} (Irkutsk) on the screen:\n{s}"
    );
    chat.key("F1");
    let help = chat.wait_for(SCREEN_WITHIN, "the help, in Russian", |s| {
        s.contains("Справка")
    });
    for english in ["Keys", "Commands", "Members", "send", "search"] {
        assert!(
            !help.contains(english),
            "English {english:?} in the help:\n{help}"
        );
    }
    chat.key("Escape");
    chat.key("C-c");
    let (code, _) = chat.wait_exit(SCREEN_WITHIN);
    assert_eq!(code, 0, "{}", chat.screen());
}

/// The invite box in a real terminal: the invite alone on its row from the first
/// column (a mouse selection takes it and nothing else), `c` hands it to the terminal's
/// clipboard (OSC 52: tmux's buffer here), `/invites` shows it again without making a
/// new one, and two invites made in a row are one line of the conversation.
#[tokio::test(flavor = "multi_thread")]
async fn the_invite_box_copies_and_opens_again() {
    if kith_tests::installed_tool("tmux", "tmux").is_none() {
        return;
    }
    let relay = TestRelay::start(&[]).await;
    let olena = Profile::new("Olena");
    olena.ok(&["group", "create", GROUP, "--relay", &relay.ws_url()]);
    let chat = Tmux::start(&olena, &[GROUP], 100, 30);
    chat.wait_for(SCREEN_WITHIN, "the chat to connect", connected);
    chat.type_text("/invite");
    chat.key("Enter");
    let s = chat.wait_for(SCREEN_WITHIN, "the invite box", |s| {
        s.lines().any(|l| l.starts_with("kith+ws://"))
    });
    let invite = s
        .lines()
        .find(|l| l.starts_with("kith+ws://"))
        .map(|l| l.trim_end().to_owned())
        .unwrap();
    assert!(
        !invite.contains(' '),
        "the invite's row holds it alone:\n{s}"
    );
    assert!(s.contains("c: copy it to the clipboard"), "{s}");

    chat.key("c");
    let deadline = Instant::now() + SCREEN_WITHIN;
    loop {
        let out = chat
            .cmd(&["show-buffer"])
            .output()
            .expect("tmux show-buffer");
        if String::from_utf8_lossy(&out.stdout) == invite {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the clipboard never got the invite: {:?}\n{}",
            String::from_utf8_lossy(&out.stdout),
            chat.screen()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // `c` left the box open; any other key closes it.
    assert!(chat.screen().contains(&invite));
    chat.key("Escape");
    chat.wait_for(SCREEN_WITHIN, "the box to close", |s| !s.contains(&invite));

    chat.type_text("/invites");
    chat.key("Enter");
    chat.wait_for(SCREEN_WITHIN, "the same invite again", |s| {
        s.lines().any(|l| l.trim_end() == invite)
    });
    chat.key("Escape");

    // A second invite: the two notices of the two commits are one line.
    chat.type_text("/invite");
    chat.key("Enter");
    chat.wait_for(SCREEN_WITHIN, "a second invite", |s| {
        s.lines()
            .any(|l| l.starts_with("kith+ws://") && l.trim_end() != invite)
    });
    chat.key("Escape");
    let s = chat.wait_for(SCREEN_WITHIN, "the invites made, as one line", |s| {
        s.contains("* You made 2 invites")
    });
    assert!(!s.contains("You made an invite"), "{s}");
    chat.key("C-c");
    let (code, _) = chat.wait_exit(SCREEN_WITHIN);
    assert_eq!(code, 0, "{}", chat.screen());
}
