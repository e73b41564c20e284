//! What a seizure finds, and what a crash leaves (SECURITY.md: the relay's disk and logs,
//! a seized laptop, crash safety).

use futures_util::{SinkExt, StreamExt};
use kith_protocol::access::AccessKey;
use kith_protocol::{ClientFrame, PROTOCOL_VERSION, RelayFrame, Request, Response};
use kith_tests::client::{Profile, join};
use kith_tests::*;
use serde_json::Value;
use std::path::Path;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message as Ws;

const GROUP: &str = "Seized-Relay-Group";

fn all_bytes(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(b) = std::fs::read(&p) {
                out.push((p.display().to_string(), b));
            }
        }
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The relay's disk and logs hold no client address, even at debug level: a client
/// connects from 127.0.0.2 (any 127/8 address is loopback) and does everything a
/// member does; then the data dir and the log are searched for that address.
#[tokio::test(flavor = "multi_thread")]
async fn the_relay_keeps_no_client_address_even_in_debug_logs() {
    let relay = TestRelay::start_with_env(&[], &[("KITH_RELAY_LOG", "debug")]).await;
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    let stream = socket.connect(relay.addr()).await.unwrap();
    let (mut ws, _) = tokio_tungstenite::client_async(relay.ws_url(), stream)
        .await
        .unwrap();
    let mut id = 0;
    let mut ask = async |ws: &mut tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
                         request: Request| {
        id += 1;
        let frame = ClientFrame { id, request }.encode();
        ws.send(Ws::Binary(frame.into())).await.unwrap();
        loop {
            match ws.next().await {
                Some(Ok(Ws::Binary(b))) => match RelayFrame::decode(&b).unwrap() {
                    RelayFrame::Response { body, .. } => return body,
                    RelayFrame::Error { code, .. } => panic!("relay error {code:?}"),
                    RelayFrame::Push(_) => continue,
                },
                other => panic!("unexpected {other:?}"),
            }
        }
    };
    ask(
        &mut ws,
        Request::Hello {
            version: PROTOCOL_VERSION,
        },
    )
    .await;
    let key = AccessKey::random();
    let Response::GroupCreated { group } = ask(
        &mut ws,
        Request::CreateGroup {
            access_key: key.public(),
            creation_secret: vec![],
            admin_key: [7; 32],
        },
    )
    .await
    else {
        panic!("create")
    };
    let Response::Challenge { nonce } = ask(&mut ws, Request::Challenge).await else {
        panic!("challenge")
    };
    let signature = key.sign_auth(&nonce, &group, 0);
    ask(
        &mut ws,
        Request::Auth {
            group,
            epoch: 0,
            nonce,
            signature,
        },
    )
    .await;
    ask(
        &mut ws,
        Request::Post {
            group,
            epoch: 0,
            kind: kith_protocol::PostKind::Application,
            payload: payload("a message"),
        },
    )
    .await;
    drop(ws);
    // Give the relay a moment to log the session's end (debug), then look.
    let log = eventually(
        Duration::from_secs(5),
        "the session end in the log",
        || async {
            let log = relay.log();
            log.contains("session ended").then_some(log)
        },
    )
    .await;
    assert!(
        !log.contains("127.0.0.2"),
        "the log holds the client's address:\n{log}"
    );
    for (path, bytes) in all_bytes(relay.data_dir()) {
        // The text form; four raw bytes would match random ciphertext by chance.
        assert!(
            !contains(&bytes, b"127.0.0.2"),
            "{path} holds the client's address"
        );
    }
}

/// Ciphertext older than the retention limit is unreadable on the relay's disk, not only
/// absent from its answers: payloads are sealed at rest under per-period keys, and the
/// keys of expired periods are destroyed (the file holding them is rewritten in place).
#[tokio::test(flavor = "multi_thread")]
async fn nothing_older_than_retention_remains_readable_on_the_relay_disk() {
    let relay = TestRelay::start(&["--retention", "2s", "--retention-interval", "1s"]).await;
    let conn = relay.connect().await;
    let g = create_group(&conn).await;
    let marker = b"EXPIRED-CIPHERTEXT-MARKER-5521";
    for i in 0..20 {
        let mut data = marker.to_vec();
        data.extend_from_slice(format!("-{i}").as_bytes());
        post_app(
            &conn,
            g.id,
            g.epoch,
            kith_protocol::padding::pad(&data).unwrap(),
        )
        .await
        .unwrap();
    }
    let keys = relay_shred_keys(relay.data_dir());
    assert!(!keys.is_empty(), "at least one period key");
    let stored: Vec<u8> = all_bytes(relay.data_dir())
        .into_iter()
        .flat_map(|(_, b)| b)
        .collect();
    assert!(!contains(&stored, marker), "payloads are sealed at rest");

    eventually(
        Duration::from_secs(20),
        "retention to delete them",
        || async {
            fetch_all(&conn, g.id, 1)
                .await
                .unwrap()
                .0
                .is_empty()
                .then_some(())
        },
    )
    .await;
    // The keys the payloads were sealed under are gone from every file.
    eventually(
        Duration::from_secs(20),
        "the expired periods' keys to be destroyed",
        || async {
            let files = all_bytes(relay.data_dir());
            keys.iter()
                .all(|k| files.iter().all(|(_, b)| !contains(b, k)))
                .then_some(())
        },
    )
    .await;
}

fn history(p: &Profile) -> Vec<(String, String)> {
    p.ok(&["--json", "read", GROUP, "--all"])
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            (
                v["kind"].as_str().unwrap().to_owned(),
                v["text"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// A client killed between decrypting a message and saving its state shows the message
/// once on restart, and a client killed between encrypting and posting does not reuse
/// the key for its next message.
#[tokio::test(flavor = "multi_thread")]
async fn a_crashed_client_neither_loses_repeats_nor_reuses() {
    let relay = TestRelay::start(&[]).await;
    let olena = Profile::new("Olena");
    olena.ok(&["group", "create", GROUP, "--relay", &relay.ws_url()]);
    let iryna = Profile::new("Iryna");
    let code = olena.ok(&["invite", GROUP]).trim().to_owned();
    join(&olena, &iryna, &code, GROUP);
    iryna.ok(&["read", GROUP]);
    olena.ok(&["sync"]);

    olena.ok(&["send", GROUP, "the message read during the crash"]);
    let crashed = iryna.run_env(&["read", GROUP], &[("KITH_TEST_CRASH_AT", "after-decrypt")]);
    assert!(!crashed.success(), "the hook must abort: {crashed}");
    let h = history(&iryna);
    let shown: Vec<_> = h
        .iter()
        .filter(|(_, t)| t == "the message read during the crash")
        .collect();
    assert_eq!(shown.len(), 1, "shown exactly once after the crash: {h:?}");
    assert!(h.iter().all(|(k, _)| k != "alert"), "{h:?}");

    let crashed = iryna.run_env(
        &["send", GROUP, "lost in the crash"],
        &[("KITH_TEST_CRASH_AT", "after-encrypt")],
    );
    assert!(!crashed.success(), "the hook must abort: {crashed}");
    iryna.ok(&["send", GROUP, "sent after the crash"]);
    let h = history(&olena);
    assert!(
        h.iter()
            .any(|(k, t)| k == "text" && t == "sent after the crash"),
        "{h:?}"
    );
    assert!(
        h.iter()
            .all(|(k, t)| k != "alert" && t != "lost in the crash"),
        "no reused key, nothing half-sent: {h:?}"
    );
}

/// The texts of `kith --json read GROUP ARGS…` as `p`, each with whether it is `p`'s own.
fn texts(p: &Profile, args: &[&str]) -> Vec<(bool, String)> {
    let mut cmd = vec!["--json", "read", GROUP];
    cmd.extend_from_slice(args);
    p.ok(&cmd)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["kind"] == "text")
        .map(|v| {
            (
                v["own"].as_bool().unwrap(),
                v["text"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// How often `text` is among `texts`, as `own` (or not).
fn count(texts: &[(bool, String)], own: bool, text: &str) -> usize {
    texts.iter().filter(|(o, t)| *o == own && t == text).count()
}

/// A client killed after the relay stored its message but before the answer arrived
/// (so it never recorded the message) shows it, once and as its own, at its next read,
/// as every other member does; and its next message goes out normally.
#[tokio::test(flavor = "multi_thread")]
async fn a_client_killed_before_the_answer_still_shows_its_message_once() {
    let relay = TestRelay::start(&[]).await;
    let alice = Profile::new("Alice");
    alice.ok(&["group", "create", GROUP, "--relay", &relay.ws_url()]);
    let bob = Profile::new("Bob");
    let code = alice.ok(&["invite", GROUP]).trim().to_owned();
    join(&alice, &bob, &code, GROUP);
    bob.ok(&["read", GROUP]);
    alice.ok(&["sync"]);

    let first = "stored, then the sender died";
    let crashed = alice.run_env(
        &["send", GROUP, first],
        &[("KITH_TEST_CRASH_AT", "after-post")],
    );
    assert!(!crashed.success(), "the hook must abort: {crashed}");
    let shown = texts(&alice, &[]);
    assert_eq!(count(&shown, true, first), 1, "Alice's read: {shown:?}");
    let shown = texts(&bob, &["--all"]);
    assert_eq!(count(&shown, false, first), 1, "Bob's history: {shown:?}");

    let second = "sent after the crash";
    alice.ok(&["send", GROUP, second]);
    let a = texts(&alice, &["--all"]);
    let b = texts(&bob, &["--all"]);
    for text in [first, second] {
        assert_eq!(count(&a, true, text), 1, "Alice's history: {a:?}");
        assert_eq!(count(&b, false, text), 1, "Bob's history: {b:?}");
    }
    assert_eq!(a.len(), 2, "nothing else, nothing twice: {a:?}");
    assert_eq!(b.len(), 2, "nothing else, nothing twice: {b:?}");
    for h in [history(&alice), history(&bob)] {
        assert!(h.iter().all(|(k, _)| k != "alert"), "{h:?}");
    }
}

/// A send whose answer is lost on the way (the relay stored the message) fails saying
/// that the message may have arrived and where to look, is not sent a second time on
/// its own, and the sender's next read shows it once as its own.
#[tokio::test(flavor = "multi_thread")]
async fn a_send_whose_answer_is_lost_says_it_may_have_arrived() {
    use kith_tests::mitm::{Dir, Mitm};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    let relay = TestRelay::start(&[]).await;
    let mitm = Mitm::start(relay.ws_url()).await;
    // While set, the relay's answers to posts reach the client as garbage: it fails the
    // connection with the message stored and no answer.
    let spoil = Arc::new(AtomicBool::new(false));
    let gate = spoil.clone();
    mitm.set_rule(Arc::new(move |_, dir, frame| {
        let posted = matches!(
            RelayFrame::decode(&frame),
            Ok(RelayFrame::Response {
                body: Response::Posted { .. },
                ..
            })
        );
        if dir == Dir::ToClient && posted && gate.load(Ordering::SeqCst) {
            return vec![(dir, vec![0xff; 7])];
        }
        vec![(dir, frame)]
    }));
    let alice = Profile::new("Alice");
    alice.ok(&["group", "create", GROUP, "--relay", &mitm.ws_url()]);
    let bob = Profile::new("Bob");
    let code = alice.ok(&["invite", GROUP]).trim().to_owned();
    join(&alice, &bob, &code, GROUP);
    bob.ok(&["read", GROUP]);
    alice.ok(&["sync"]);

    let text = "the answer to this one is lost";
    spoil.store(true, Ordering::SeqCst);
    let out = alice.fails(&["send", GROUP, text], 1);
    spoil.store(false, Ordering::SeqCst);
    assert!(
        out.stderr.contains("may already have reached the group")
            && out.stderr.contains("`kith read`"),
        "the error must say it may have arrived, and where to look: {out}"
    );
    let shown = texts(&alice, &[]);
    assert_eq!(count(&shown, true, text), 1, "Alice's read: {shown:?}");
    let shown = texts(&bob, &["--all"]);
    assert_eq!(
        count(&shown, false, text),
        1,
        "sent once, not retried: {shown:?}"
    );
    assert_eq!(shown.len(), 1, "{shown:?}");
}

/// Forced to unlock (issue 18): the duress passphrase destroys the profile beyond
/// recovery and opens an empty one of the same name that looks like a new profile:
/// `groups` prints what a brand-new profile's prints, the fingerprint is another, and
/// afterwards the real passphrase opens nothing.
#[tokio::test(flavor = "multi_thread")]
async fn a_duress_unlock_destroys_the_profile_and_looks_like_a_new_one() {
    let relay = TestRelay::start(&[]).await;
    let olena = Profile::new("Olena");
    olena.ok(&["group", "create", GROUP, "--relay", &relay.ws_url()]);
    olena.ok(&["send", GROUP, "the appeal is heard on Monday"]);
    let real_fingerprint = olena.ok(&["whoami"]);
    const DURESS: &str = "nothing to see here";

    // A new profile's passphrase has the prompt's minimum from the environment too.
    let dir = tempfile::tempdir().unwrap();
    let short_init = std::process::Command::new(kith_tests::client::kith_bin())
        .arg("--home")
        .arg(dir.path().join("p"))
        .args(["init", "--name", "Short"])
        .env("KITH_PASSPHRASE", "short")
        .env("KITH_TEST_FAST_KDF", "1")
        .output()
        .unwrap();
    assert_eq!(short_init.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&short_init.stderr).contains("at least 8"));

    // Refused: too short, and the same as the real passphrase.
    let short = olena.run_env(
        &["passphrase", "--duress"],
        &[("KITH_NEW_PASSPHRASE", "short")],
    );
    assert_eq!(short.code(), 2, "{short}");
    let same = olena.run_env(
        &["passphrase", "--duress"],
        &[("KITH_NEW_PASSPHRASE", kith_tests::client::TEST_PASSPHRASE)],
    );
    assert_eq!(same.code(), 2, "{same}");
    let set = olena.run_env(
        &["passphrase", "--duress"],
        &[("KITH_NEW_PASSPHRASE", DURESS)],
    );
    assert!(set.success(), "{set}");
    // The real passphrase still opens the real profile.
    assert!(
        olena
            .ok(&["read", GROUP, "--all"])
            .contains("the appeal is heard")
    );

    let forced = olena.run_env(&["groups"], &[("KITH_PASSPHRASE", DURESS)]);
    let brand_new = Profile::new("Olena").run(&["groups"]);
    assert!(forced.success(), "{forced}");
    assert_eq!(forced.stdout, brand_new.stdout);
    assert_eq!(forced.stderr, brand_new.stderr);
    let who = olena.run_env(&["whoami"], &[("KITH_PASSPHRASE", DURESS)]);
    assert!(who.success(), "{who}");
    assert_eq!(who.stdout.lines().next(), Some("Olena"), "{who}");
    assert_ne!(who.stdout, real_fingerprint, "the old identity survived");

    // The real passphrase opens nothing now; the duress one opens the empty profile.
    let real = olena.run(&["groups"]);
    assert!(!real.success(), "{real}");
    assert!(real.stderr.contains("wrong passphrase"), "{real}");
    let again = olena.run_env(&["read", GROUP, "--all"], &[("KITH_PASSPHRASE", DURESS)]);
    assert_eq!(again.code(), 2, "the group survived: {again}");
    // Nothing of the group's text is anywhere in the profile directory.
    for (path, bytes) in all_bytes(olena.dir()) {
        assert!(
            !contains(&bytes, b"the appeal is heard on Monday"),
            "plaintext in {path}"
        );
    }
}

const DURESS: &str = "nothing to see here";
const NOTICE: &str = "Olena's client says that Olena's device was unlocked under duress. What comes from that device from now on is not from Olena.";

/// Alice (admin) with Olena and Bob in GROUP at `relay_url`, everyone caught up.
fn duress_group(relay_url: &str) -> (Profile, Profile, Profile) {
    let alice = Profile::new("Alice");
    alice.ok(&["group", "create", GROUP, "--relay", relay_url]);
    let olena = Profile::new("Olena");
    let bob = Profile::new("Bob");
    for p in [&olena, &bob] {
        let code = alice.ok(&["invite", GROUP]).trim().to_owned();
        join(&alice, p, &code, GROUP);
    }
    olena.ok(&["send", GROUP, "the appeal is heard on Monday"]);
    for p in [&alice, &bob, &olena] {
        p.ok(&["read", GROUP]);
    }
    (alice, olena, bob)
}

/// Sets Olena's duress passphrase, with `--notify` or without.
fn set_duress(olena: &Profile, notify: bool) -> String {
    let mut args = vec!["passphrase", "--duress"];
    if notify {
        args.push("--notify");
    }
    let set = olena.run_env(&args, &[("KITH_NEW_PASSPHRASE", DURESS)]);
    assert!(set.success(), "{set}");
    set.stdout
}

/// Olena is forced to unlock: `kith groups` with the duress passphrase prints what a
/// brand-new profile's prints, byte for byte; afterwards the real passphrase opens
/// nothing and the old identity is gone. Returns how long the forced unlock took.
fn forced_unlock_looks_new(olena: &Profile, real_fingerprint: &str) -> Duration {
    let started = std::time::Instant::now();
    let forced = olena.run_env(&["groups"], &[("KITH_PASSPHRASE", DURESS)]);
    let took = started.elapsed();
    let brand_new = Profile::new("Olena").run(&["groups"]);
    assert!(forced.success(), "{forced}");
    assert_eq!(forced.stdout, brand_new.stdout, "{forced}");
    assert_eq!(forced.stderr, brand_new.stderr, "{forced}");
    let real = olena.run(&["groups"]);
    assert!(!real.success(), "{real}");
    assert!(real.stderr.contains("wrong passphrase"), "{real}");
    let who = olena.run_env(&["whoami"], &[("KITH_PASSPHRASE", DURESS)]);
    assert!(who.success(), "{who}");
    assert_ne!(who.stdout, real_fingerprint, "the old identity survived");
    for (path, bytes) in all_bytes(olena.dir()) {
        assert!(
            !contains(&bytes, b"the appeal is heard on Monday"),
            "plaintext in {path}"
        );
    }
    took
}

/// `kith --json read GROUP --all` as `p`: the notices' texts, after a sync.
fn notices_of(p: &Profile) -> Vec<String> {
    p.ok(&["--json", "read", GROUP, "--all"])
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["kind"] == "notice")
        .map(|v| v["text"].as_str().unwrap().to_owned())
        .collect()
}

/// The names `kith --json members GROUP` lists for `p`.
fn member_names(p: &Profile) -> Vec<String> {
    let mut names: Vec<String> = p
        .ok(&["--json", "members", GROUP])
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .map(|v| v["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

/// With notify on (`kith passphrase --duress --notify`), a duress unlock first tells the
/// group and leaves it: every member sees the notice as Olena's client's claim (the
/// admin with what to do), and Olena is gone from the members once the admin's client
/// committed her leave; what the unlock prints is still a new profile's, and the real
/// passphrase opens nothing.
#[tokio::test(flavor = "multi_thread")]
async fn a_duress_unlock_with_notify_tells_the_group_and_leaves_it() {
    let relay = TestRelay::start(&[]).await;
    let (alice, olena, bob) = duress_group(&relay.ws_url());
    let real_fingerprint = olena.ok(&["whoami"]);
    let said = set_duress(&olena, true);
    assert!(said.contains("with notify"), "{said}");
    // Nothing was sent by setting it.
    assert!(!notices_of(&bob).iter().any(|n| n.contains("duress")));

    forced_unlock_looks_new(&olena, &real_fingerprint);

    let bobs = notices_of(&bob);
    assert!(bobs.iter().any(|n| n == NOTICE), "Bob's notices: {bobs:?}");
    let alices = notices_of(&alice);
    let admin = alices
        .iter()
        .find(|n| n.starts_with(NOTICE))
        .unwrap_or_else(|| panic!("Alice's notices: {alices:?}"));
    assert!(
        admin.contains(&format!("kith remove \"{GROUP}\" \"Olena\"")) && admin.contains("by phone"),
        "the admin is told what to do: {admin}"
    );
    assert!(
        alices.iter().any(|n| n == "Olena is leaving the group"),
        "{alices:?}"
    );
    // The admin's client commits the leave; then nobody lists Olena.
    alice.ok(&["sync"]);
    for p in [&alice, &bob] {
        p.ok(&["sync"]);
        assert_eq!(member_names(p), ["Alice", "Bob"], "as {} sees it", p.name());
    }
}

/// With notify off, nothing is sent: set with `--notify` and then again without (as by
/// default), the duress unlock destroys the profile and the others see no notice, with
/// Olena still among the members.
#[tokio::test(flavor = "multi_thread")]
async fn a_duress_unlock_without_notify_tells_nobody() {
    let relay = TestRelay::start(&[]).await;
    let (alice, olena, bob) = duress_group(&relay.ws_url());
    let real_fingerprint = olena.ok(&["whoami"]);
    set_duress(&olena, true);
    let said = set_duress(&olena, false);
    assert!(!said.contains("with notify"), "{said}");

    forced_unlock_looks_new(&olena, &real_fingerprint);

    alice.ok(&["sync"]);
    for p in [&alice, &bob] {
        let notices = notices_of(p);
        assert!(
            !notices
                .iter()
                .any(|n| n.contains("duress") || n.contains("leaving")),
            "{} was told: {notices:?}",
            p.name()
        );
        assert_eq!(
            member_names(p),
            ["Alice", "Bob", "Olena"],
            "as {} sees it",
            p.name()
        );
    }
}

/// With notify on and the relay down, the duress unlock destroys the profile all the
/// same and prints what a new profile's prints.
#[tokio::test(flavor = "multi_thread")]
async fn a_duress_unlock_with_notify_and_the_relay_down_still_destroys() {
    let mut relay = TestRelay::start(&[]).await;
    let (_alice, olena, _bob) = duress_group(&relay.ws_url());
    let real_fingerprint = olena.ok(&["whoami"]);
    set_duress(&olena, true);
    relay.kill9();
    forced_unlock_looks_new(&olena, &real_fingerprint);
}

/// With notify on and a relay that takes connections but never answers (blocked),
/// the duress unlock gives up telling the group within its budget, and still destroys
/// the profile and prints what a new profile's prints.
#[tokio::test(flavor = "multi_thread")]
async fn a_duress_unlock_with_notify_gives_up_on_a_silent_relay_in_time() {
    use kith_tests::mitm::Mitm;
    use std::sync::Arc;

    let relay = TestRelay::start(&[]).await;
    let mitm = Mitm::start(relay.ws_url()).await;
    let (_alice, olena, _bob) = duress_group(&mitm.ws_url());
    let real_fingerprint = olena.ok(&["whoami"]);
    set_duress(&olena, true);
    // Every frame either way is dropped: the WebSocket opens, nothing comes back.
    mitm.set_rule(Arc::new(|_, _, _| Vec::new()));
    let took = forced_unlock_looks_new(&olena, &real_fingerprint);
    let budget = kith::engine::DURESS_NOTIFY_BUDGET;
    eprintln!("the forced unlock took {took:?}");
    // Without the budget, a connection's own timeouts (10 s for the `Hello`, once for
    // the notice and once for the leave) would hold it twice as long.
    assert!(
        took < budget + Duration::from_secs(5),
        "the forced unlock took {took:?} (budget {budget:?})"
    );
}
