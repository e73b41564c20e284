//! End-to-end tests of the outbox (issue 18): `kith send` while the relay is down says
//! "not sent", exits 3 and keeps the text, encrypted, in the profile; `kith outbox`
//! lists it; the next `kith sync` (or `send`) sends everything in order, once; a message
//! dropped with `--drop` never goes. Real relay behind a gate that takes it away and
//! brings it back on the same address, real `kith` processes.

use kith_tests::client::{self, Profile, join};
use kith_tests::gate::Gate;
use kith_tests::*;
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

const GROUP: &str = "Legal aid";

fn outbox(p: &Profile) -> Vec<Value> {
    p.ok(&["--json", "outbox"])
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// The texts of `p`'s history, in order.
fn texts(p: &Profile) -> Vec<String> {
    p.ok(&["--json", "read", GROUP, "--all"])
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["kind"] == "text")
        .map(|v| v["text"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Olena makes GROUP on `relay`; Iryna joins it with a one-time code.
fn olena_and_iryna(relay: &str) -> (Profile, Profile) {
    let olena = Profile::new("Olena");
    let iryna = Profile::new("Iryna");
    olena.ok(&["group", "create", GROUP, "--relay", relay]);
    let code = olena.ok(&["invite", GROUP]).trim().to_owned();
    join(&olena, &iryna, &code, GROUP);
    (olena, iryna)
}

/// Whether any file under `dir` holds `needle` as it is.
fn plaintext_in(dir: &Path, needle: &[u8]) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|e| {
        let path = e.path();
        if path.is_dir() {
            plaintext_in(&path, needle)
        } else {
            std::fs::read(&path).is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle))
        }
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn messages_sent_while_the_relay_is_down_wait_encrypted_and_go_out_in_order() {
    let relay = TestRelay::start(&[]).await;
    let mut gate = Gate::new(relay.addr()).await;
    let (olena, iryna) = olena_and_iryna(&gate.url());
    olena.ok(&["send", GROUP, "before the outage"]);

    gate.close();
    let first = "the hearing moved to Monday";
    let out = olena.fails(&["send", GROUP, first], 3);
    assert!(
        out.stderr.contains("not sent") && out.stderr.contains("kith outbox"),
        "the sender must be told it was not sent and where it is: {out}"
    );
    let second = "bring the papers";
    olena.fails(&["send", GROUP, second], 3);
    let dropped = "a message she changed her mind about";
    olena.fails(&["send", GROUP, dropped], 3);

    let queued = outbox(&olena);
    let listed: Vec<&str> = queued.iter().filter_map(|q| q["text"].as_str()).collect();
    assert_eq!(listed, [first, second, dropped], "{queued:?}");
    assert!(
        queued
            .iter()
            .all(|q| q["state"] == "waiting" && q["group"] == GROUP)
    );
    let shown = olena.ok(&["outbox"]);
    assert!(
        shown.contains(first) && shown.contains("waiting for the relay"),
        "{shown}"
    );
    // Kept encrypted: no file of the profile holds the text.
    assert!(
        !plaintext_in(olena.dir(), first.as_bytes()),
        "the outbox keeps plaintext on disk"
    );

    let id = queued[2]["id"].as_u64().expect("an id").to_string();
    let out = olena.ok(&["outbox", "--drop", &id]);
    assert!(out.contains("Dropped"), "{out}");
    olena.fails(&["outbox", "--drop", &id], 2);

    gate.reopen().await;
    let out = olena.run(&["sync"]);
    assert!(out.success(), "{out}");
    assert!(
        out.stderr.contains("sent 2 messages from the outbox"),
        "sync must say what it sent: {out}"
    );
    assert!(outbox(&olena).is_empty());
    assert!(olena.ok(&["outbox"]).contains("The outbox is empty"));

    let seen = texts(&iryna);
    let want = ["before the outage", first, second];
    assert_eq!(seen, want, "once each, in order, and not the dropped one");
    assert_eq!(texts(&olena), want, "the sender's own history");

    // The next outage: a later `kith send` carries the earlier message first.
    gate.close();
    olena.fails(&["send", GROUP, "third"], 3);
    gate.reopen().await;
    let out = olena.run(&["send", GROUP, "fourth"]);
    assert!(out.success(), "{out}");
    assert!(out.stderr.contains("also sent 1 earlier message"), "{out}");
    let seen = texts(&iryna);
    assert_eq!(seen[seen.len() - 2..], ["third", "fourth"], "{seen:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_outbox_speaks_russian_and_refuses_what_could_never_go() {
    let relay = TestRelay::start(&[]).await;
    let mut gate = Gate::new(relay.addr()).await;
    let olena = Profile::new("Olena");
    olena.ok(&["group", "create", GROUP, "--relay", &gate.url()]);
    gate.close();
    let ru = [("LANG", "ru_RU.UTF-8")];
    let out = olena.run_env(&["send", GROUP, "слушание перенесли"], &ru);
    assert_eq!(out.code(), 3, "{out}");
    assert!(
        out.stderr.contains("не отправлено") && out.stderr.contains("очереди"),
        "{out}"
    );
    let out = olena.run_env(&["outbox"], &ru);
    assert!(out.stdout.contains("ждёт сервера"), "{out}");
    // An empty text is refused at once, not queued.
    olena.fails(&["send", GROUP, "   "], 2);
    assert_eq!(outbox(&olena).len(), 1);
}

/// Through the daemon: `kith send` while the relay is down is kept the same way, and the
/// daemon sends it by itself once the relay is back, without another command.
#[tokio::test(flavor = "multi_thread")]
async fn the_daemon_sends_what_waits_once_the_relay_is_back() {
    let relay = TestRelay::start(&[]).await;
    let mut gate = Gate::new(relay.addr()).await;
    let (olena, iryna) = olena_and_iryna(&gate.url());

    let mut daemon = olena.spawn(&["daemon"]);
    let socket = olena.dir().join("kith.sock");
    client::poll(Duration::from_secs(30), "the daemon's socket", || {
        if let Some(out) = daemon.try_finish() {
            panic!("the daemon exited at start: {out}");
        }
        std::os::unix::net::UnixStream::connect(&socket).ok()
    });
    gate.close();
    let out = olena.fails(&["send", GROUP, "kept by the daemon"], 3);
    assert!(out.stderr.contains("not sent"), "{out}");
    assert!(olena.ok(&["outbox"]).contains("kept by the daemon"));

    gate.reopen().await;
    client::poll(Duration::from_secs(60), "the daemon to send it", || {
        texts(&iryna)
            .iter()
            .any(|t| t == "kept by the daemon")
            .then_some(())
    });
    client::poll(Duration::from_secs(10), "the outbox to empty", || {
        outbox(&olena).is_empty().then_some(())
    });
    olena.ok(&["daemon", "--stop"]);
    let _ = daemon.exits_within(Duration::from_secs(10));
}

/// A crash between the relay storing a queued message and the client hearing so: the
/// entry shows as unconfirmed, is never sent again, and leaves the outbox when the next
/// sync meets the relay's copy. A crash before the bytes left keeps it unconfirmed (it
/// waits a day for proof before it may go again), so nothing goes twice either way.
#[tokio::test(flavor = "multi_thread")]
async fn a_crash_while_sending_never_sends_twice() {
    let relay = TestRelay::start(&[]).await;
    let (olena, iryna) = olena_and_iryna(&relay.ws_url());

    let crashed = olena.run_env(
        &["send", GROUP, "stored, then the sender died"],
        &[("KITH_TEST_CRASH_AT", "after-post")],
    );
    assert!(!crashed.success(), "the hook must abort: {crashed}");
    let queued = outbox(&olena);
    assert_eq!(queued.len(), 1, "{queued:?}");
    assert_eq!(queued[0]["state"], "unconfirmed");
    // A send meanwhile does not send it again; its sync meets the copy.
    olena.ok(&["send", GROUP, "next"]);
    assert!(outbox(&olena).is_empty());
    assert_eq!(texts(&iryna), ["stored, then the sender died", "next"]);

    let crashed = olena.run_env(
        &["send", GROUP, "never left"],
        &[("KITH_TEST_CRASH_AT", "after-encrypt")],
    );
    assert!(!crashed.success(), "the hook must abort: {crashed}");
    olena.ok(&["sync"]);
    let queued = outbox(&olena);
    assert_eq!(queued.len(), 1, "{queued:?}");
    assert_eq!(queued[0]["state"], "unconfirmed");
    assert_eq!(texts(&iryna), ["stored, then the sender died", "next"]);
}
