//! Power cuts under the client: Alice's profile runs on `kith-lazyfs` (tests/lazyfs), a
//! FUSE file system that keeps every write not yet fsynced in memory only. After she
//! sends, the power is cut (SIGUSR1: unsynced writes dropped, every later operation
//! fails) and she goes on from what was synced. Bob must then read every message her
//! commands reported as sent, each exactly once, and never a message he cannot decrypt.
//!
//! That is the point of the test: a message's ratchet step (the generation of the
//! sender's key and nonce) is committed before the message is posted. If the commit of
//! A1's step were lost in a cut, A2 would be encrypted under A1's key and nonce — a
//! reuse that breaks the encryption of both — and Bob, who deleted that key after
//! decrypting A1, could not decrypt A2. The relay and Bob run on a normal disk.
//!
//! Cycles, each on a fresh mount of the backing directory as the last cut left it:
//!
//! - three where the cut comes after `kith send` (and, once, `kith read`) has finished,
//!   with one more send before the cut each time. These cannot tell a commit that syncs
//!   from one that does not: sled's `Drop` fsyncs its log when a process exits cleanly.
//! - nine where it comes at a random moment while `kith send` runs, spread over the time
//!   a send takes. A send that the cut makes fail may or may not have reached the relay;
//!   Bob may see it, but at most once.
//! - three where it comes once the relay has stored the message, before the client has
//!   its answer (a man in the middle holds the answer back), and the process dies with
//!   the power: it never exits cleanly, so only the commit of the ratchet step before
//!   the post keeps the next message from reusing its key. Bob must see that message
//!   exactly once.
//!
//! On a failure the backing directory (Alice's synced profile) and kith-lazyfs's traces
//! are kept (their paths are printed).
//!
//! Needs `/dev/fuse` and root (or `fusermount3`, Debian's `fuse3`): skipped with a
//! message without them, except under `CI`, where that is a failure.

use kith_protocol::{RelayFrame, Response};
use kith_tests::TestRelay;
use kith_tests::client::{Output, Profile, Running, TEST_PASSPHRASE, join, kith_bin};
use kith_tests::lazyfs::{KeptOnFailure, copy_synced, fuse_available, listing};
use kith_tests::mitm::{Dir, Mitm, Rule};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const GROUP: &str = "Night-shift-41st";

/// Cycles with the cut after the commands finished.
const AFTER_CYCLES: usize = 3;
/// Cuts at a random moment while `kith send` runs.
const RANDOM_CUTS: usize = 9;
/// Cuts just after the relay stored the message `kith send` posts.
const POST_CUTS: usize = 3;

/// When a cut comes while `kith send` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Moment {
    /// This long after the start.
    Random(Duration),
    /// Once the relay stored the message, before its answer reaches the client.
    AfterPost,
}

/// Holds back the relay's answers to posts while `hold` is set (a rule of the man in
/// the middle): the relay stored the message, and the client waits for an answer that
/// does not come, so a cut then comes, without fail, between the two.
#[derive(Default)]
struct Gate {
    hold: AtomicBool,
    /// Answers held back so far.
    held: AtomicU64,
}

impl Gate {
    fn rule(self: &Arc<Self>) -> Rule {
        let gate = self.clone();
        Arc::new(move |_, dir, frame| {
            let posted = || {
                matches!(
                    RelayFrame::decode(&frame),
                    Ok(RelayFrame::Response {
                        body: Response::Posted { .. },
                        ..
                    })
                )
            };
            if dir == Dir::ToClient && gate.hold.load(Ordering::SeqCst) && posted() {
                gate.held.fetch_add(1, Ordering::SeqCst);
                return vec![];
            }
            vec![(dir, frame)]
        })
    }
}

/// Starts `kith --home HOME ARGS…` as Alice: what [`Profile::command`] does, but with her
/// profile wherever it is now (the mount or the backing directory), not where `init`
/// made it.
fn alice_at(alice: &Profile, home: &Path, args: &[&str]) -> Running {
    let mut cmd = Command::new(kith_bin());
    cmd.arg("--home").arg(home).args(args);
    for (k, _) in std::env::vars_os() {
        if k.to_str().is_some_and(|k| k.starts_with("KITH_")) || k == "RUST_LOG" {
            cmd.env_remove(k);
        }
    }
    cmd.env("KITH_PASSPHRASE", TEST_PASSPHRASE)
        .env("KITH_TEST_FAST_KDF", "1");
    let what = format!("kith --home {} {}", home.display(), args.join(" "));
    alice.spawn_command(cmd, &what)
}

/// Starts `kith --json send GROUP TEXT` as Alice with her profile at `home`.
fn spawn_send(alice: &Profile, home: &Path, text: &str) -> Running {
    alice_at(alice, home, &["--json", "send", GROUP, text])
}

/// The sequence number a successful `kith --json send` printed.
fn sent_seq(out: &Output) -> u64 {
    let v: Value = serde_json::from_str(out.stdout.trim())
        .unwrap_or_else(|e| panic!("`send --json` printed no JSON ({e}): {out}"));
    v["seq"]
        .as_u64()
        .unwrap_or_else(|| panic!("no seq in `send --json` output: {out}"))
}

/// What Alice's `kith send` commands reported.
#[derive(Default)]
struct Sent {
    /// Texts a command reported as sent, with their sequence numbers: Bob must see each
    /// exactly once.
    ok: Vec<(String, u64)>,
    /// Texts whose command failed in a cut after the relay had stored them: seen
    /// exactly once.
    stored: Vec<String>,
    /// Texts whose command failed in a cut: posted or not, so seen at most once.
    failed: Vec<String>,
}

impl Sent {
    /// Records a send that must have succeeded.
    fn must(&mut self, text: &str, out: &Output, ctx: &str) {
        assert!(out.success(), "{ctx}: sending {text:?} failed: {out}");
        self.ok.push((text.to_owned(), sent_seq(out)));
    }
}

fn json_lines(out: &str) -> Vec<Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect()
}

/// `--json read GROUP --all` of `out` (a finished read), checked: it synced, and no
/// record is an alert (a message that failed to decrypt or verify becomes one).
fn history(who: &str, out: &Output, ctx: &str) -> Vec<Value> {
    assert!(out.success(), "{ctx}: {who}'s read failed: {out}");
    // `read` falls back to what is stored when it cannot sync, and says so.
    assert!(
        !out.stderr.contains("could not"),
        "{ctx}: {who}'s read complains: {out}"
    );
    let recs = json_lines(&out.stdout);
    let alerts: Vec<&Value> = recs.iter().filter(|r| r["kind"] == "alert").collect();
    assert!(
        alerts.is_empty(),
        "{ctx}: {who} sees alerts (a message that could not be decrypted: a key and nonce \
         used twice?): {alerts:?}\n{out}"
    );
    recs
}

/// The sequence numbers of each text from `name` in `recs`.
fn texts_from(recs: &[Value], name: &str) -> BTreeMap<String, Vec<u64>> {
    let mut by_text: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for r in recs {
        if r["kind"] == "text" && r["name"] == name {
            let text = r["text"].as_str().expect("text").to_owned();
            by_text
                .entry(text)
                .or_default()
                .push(r["seq"].as_u64().expect("seq"));
        }
    }
    by_text
}

/// Checks that Bob reads each message in `sent.ok` exactly once (at the sequence number
/// its send reported), each of `sent.stored` exactly once, each of `sent.failed` at most
/// once, and nothing else from Alice. Returns those of `sent.stored` and `sent.failed`
/// he sees.
fn check_bob(bob: &Profile, sent: &Sent, ctx: &str) -> Vec<String> {
    let out = bob.run(&["--json", "read", GROUP, "--all"]);
    let recs = history("Bob", &out, ctx);
    let seen = texts_from(&recs, "Alice");
    for (text, seq) in &sent.ok {
        assert_eq!(
            seen.get(text),
            Some(&vec![*seq]),
            "{ctx}: Bob must see {text:?} exactly once, at seq {seq}: {out}"
        );
    }
    for text in &sent.stored {
        assert_eq!(
            seen.get(text).map(Vec::len),
            Some(1),
            "{ctx}: the relay stored {text:?}: Bob must see it exactly once: {out}"
        );
    }
    let mut delivered = sent.stored.clone();
    for text in &sent.failed {
        match seen.get(text).map(Vec::len) {
            None => {}
            Some(1) => delivered.push(text.clone()),
            Some(n) => panic!("{ctx}: Bob sees {text:?} {n} times: {out}"),
        }
    }
    for text in seen.keys() {
        assert!(
            sent.ok.iter().any(|(t, _)| t == text)
                || sent.stored.contains(text)
                || sent.failed.contains(text),
            "{ctx}: Bob sees {text:?} from Alice, which she never sent: {out}"
        );
    }
    delivered
}

#[tokio::test(flavor = "multi_thread")]
async fn a_power_cut_never_makes_the_client_reuse_a_key() {
    if !fuse_available("the client power-cut test") {
        return;
    }
    let started = Instant::now();
    let relay = TestRelay::start(&[]).await;
    // Everyone talks to the relay through a man in the middle that passes everything,
    // except while the gate holds the answers to posts.
    let mitm = Mitm::start(relay.ws_url()).await;
    let gate = Arc::new(Gate::default());
    mitm.set_rule(gate.rule());
    let alice = Profile::new("Alice");
    let bob = Profile::new("Bob");
    alice.ok(&["group", "create", GROUP, "--relay", &mitm.ws_url()]);
    let code = alice.ok(&["invite", GROUP]).trim().to_owned();
    join(&alice, &bob, &code, GROUP);
    bob.ok(&["read", GROUP]);
    alice.ok(&["sync"]);
    eprintln!("group set up in {:?}", started.elapsed());

    // Move Alice's profile into the backing directory, all of it durable, so that the
    // first mount starts from a profile that has nothing unsynced.
    let backing = KeptOnFailure::new(
        "kith-powercut-client-backing-",
        "Alice's synced profile (the kith-lazyfs backing directory)",
    );
    let traces = KeptOnFailure::new("kith-powercut-client-trace-", "the kith-lazyfs traces");
    let mnt = tempfile::Builder::new()
        .prefix("kith-powercut-client-mnt-")
        .tempdir()
        .unwrap();
    // A subdirectory, so that the cut's probe file in the mount's root is not in it.
    let on_disk = backing.path().join("home");
    let on_mount = mnt.path().join("home");
    copy_synced(alice.dir(), &on_disk);
    // From here on nothing may use the original by mistake.
    std::fs::remove_dir_all(alice.dir()).unwrap();
    let trace = |cycle: usize| traces.path().join(format!("cycle-{cycle}"));

    let mut sent = Sent::default();
    let mut bob_sent = Vec::new();
    // Sends that a cut at a random moment made fail, but that reached Bob.
    let mut failed_but_delivered = Vec::new();
    // The longest a first send on a fresh mount took (later ones are faster): the
    // range of the cut's moment below, where the send is a first one too.
    let mut send_time = Duration::ZERO;

    for cycle in 0..AFTER_CYCLES {
        let ctx = format!("cycle {cycle} (cut after the commands)");
        let lazy = kith_tests::lazyfs::mount(backing.path(), mnt.path(), &trace(cycle));
        // One more send each cycle: the cut follows a different number of commits.
        for i in 1..=cycle + 1 {
            let text = format!("cycle {cycle}: A{i}, on kith-lazyfs");
            let t = Instant::now();
            let out = spawn_send(&alice, &on_mount, &text).wait();
            if i == 1 {
                send_time = send_time.max(t.elapsed());
            }
            sent.must(&text, &out, &ctx);
        }
        if cycle == 1 {
            // Alice also receives before the cut: her receiving ratchet, the message's
            // record and her cursor are committed last.
            let text = format!("cycle {cycle}: from Bob");
            bob.ok(&["send", GROUP, &text]);
            bob_sent.push(text.clone());
            let out = alice_at(&alice, &on_mount, &["--json", "read", GROUP]).wait();
            let got = texts_from(&history("Alice", &out, &ctx), "Bob");
            assert_eq!(got.get(&text).map(Vec::len), Some(1), "{ctx}: {out}");
        }
        lazy.cut();
        lazy.stop();

        // Alice goes on from what was synced.
        let text = format!("cycle {cycle}: after the cut");
        let out = spawn_send(&alice, &on_disk, &text).wait();
        sent.must(
            &text,
            &out,
            &format!("{ctx}; the synced profile held:\n  {}", listing(&on_disk)),
        );
        check_bob(&bob, &sent, &ctx);
    }

    // The cuts while `kith send` runs: at random moments in the `k`th of `RANDOM_CUTS`
    // slices of a send's time (a quarter more, as it varies), so that they spread over
    // all of it (opening the store, catching up, committing the ratchet step, posting,
    // recording the sent message); then, interleaved, just after the relay stored the
    // message: the moment when only the commit of the ratchet step stands between the
    // next message and a reused key and nonce.
    let range = send_time.as_millis() as u64 * 5 / 4;
    let slice = (range / RANDOM_CUTS as u64).max(1);
    let mut moments: Vec<Moment> = (0..RANDOM_CUTS as u64)
        .map(|k| {
            Moment::Random(Duration::from_millis(
                k * slice + rand::random::<u64>() % slice,
            ))
        })
        .collect();
    for i in 0..POST_CUTS {
        moments.insert(i * (RANDOM_CUTS / POST_CUTS + 1) + 1, Moment::AfterPost);
    }
    for (i, moment) in moments.into_iter().enumerate() {
        let cycle = AFTER_CYCLES + i;
        let ctx = format!("cycle {cycle} (cut while `kith send` runs, {moment:?})");
        let lazy = kith_tests::lazyfs::mount(backing.path(), mnt.path(), &trace(cycle));
        let text = format!("cycle {cycle}: sent during the cut");
        let held = gate.held.load(Ordering::SeqCst);
        gate.hold
            .store(moment == Moment::AfterPost, Ordering::SeqCst);
        let t0 = Instant::now();
        let mut running = spawn_send(&alice, &on_mount, &text);
        match moment {
            Moment::Random(delay) => std::thread::sleep(delay),
            Moment::AfterPost => {
                while gate.held.load(Ordering::SeqCst) == held {
                    if let Some(out) = running.try_finish() {
                        panic!("{ctx}: the send ended before the relay answered: {out}");
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
        let cut_at = t0.elapsed();
        lazy.cut();
        let cut_send = match moment {
            Moment::Random(_) => running.wait(),
            // The cut ends the process too (it would wait for the held answer until it
            // timed out): it never exits cleanly, so sled's `Drop` syncs nothing.
            Moment::AfterPost => running.kill(),
        };
        gate.hold.store(false, Ordering::SeqCst);
        lazy.stop();
        if cut_send.success() {
            sent.ok.push((text.clone(), sent_seq(&cut_send)));
        } else if moment == Moment::AfterPost {
            sent.stored.push(text.clone());
        } else {
            sent.failed.push(text.clone());
        }
        // The cut's command may end in any way, even a panic (sled's `Drop` of its log
        // unwraps an `fsync` that fails): only what it made durable counts.
        let said = match cut_send.stderr.find("panicked at") {
            Some(at) => cut_send.stderr[at..]
                .lines()
                .take(2)
                .collect::<Vec<_>>()
                .join(" "),
            None => cut_send.stderr.trim().to_owned(),
        };

        // The next send from what was synced must work.
        let after = format!("cycle {cycle}: after the cut");
        let out = spawn_send(&alice, &on_disk, &after).wait();
        sent.must(
            &after,
            &out,
            &format!("{ctx}; the synced profile held:\n  {}", listing(&on_disk)),
        );
        let delivered = check_bob(&bob, &sent, &ctx).contains(&text);
        if delivered && !cut_send.success() && moment != Moment::AfterPost {
            failed_but_delivered.push(text.clone());
        }
        // What the cut did, for whoever wonders which moments a run hit.
        eprintln!(
            "{ctx}: cut {cut_at:?} after the start (a first send took up to {send_time:?}): \
             {}; the next send said {:?}",
            match (cut_send.success(), delivered) {
                (true, _) => "the send succeeded".to_owned(),
                (false, true) => format!(
                    "the send failed ({}), but Bob got it: {said:?}",
                    cut_send.status
                ),
                (false, false) => format!("the send failed ({}): {said:?}", cut_send.status),
            },
            out.stderr.trim()
        );
    }

    // Alice's own history, from what was synced: every message once, nothing she could
    // not decrypt (her own echoed back, Bob's).
    let ctx = "Alice's history at the end";
    let out = alice_at(&alice, &on_disk, &["--json", "read", GROUP, "--all"]).wait();
    let recs = history("Alice", &out, ctx);
    let own = texts_from(&recs, "Alice");
    for (text, seq) in &sent.ok {
        assert_eq!(own.get(text), Some(&vec![*seq]), "{ctx}: {text:?}: {out}");
    }
    for (text, seqs) in &own {
        assert_eq!(seqs.len(), 1, "{ctx}: {text:?} shown more than once: {out}");
    }
    let from_bob = texts_from(&recs, "Bob");
    for text in &bob_sent {
        assert_eq!(from_bob.get(text).map(Vec::len), Some(1), "{ctx}: {out}");
    }
    // Not errors (no command said they were sent), but worth knowing: whether Alice's
    // own history shows what Bob got although her `kith send` failed or died.
    let shown = |texts: &[String]| texts.iter().filter(|t| own.contains_key(*t)).count();
    eprintln!(
        "{} messages sent and read across {} power cuts in {:?}; {} sends failed in a cut \
         at a random moment but reached Bob, {} of them in Alice's own history; {} of the {} \
         messages stored while their answer was held back are in it",
        sent.ok.len(),
        AFTER_CYCLES + RANDOM_CUTS + POST_CUTS,
        started.elapsed(),
        failed_but_delivered.len(),
        shown(&failed_but_delivered),
        shown(&sent.stored),
        sent.stored.len(),
    );
}
