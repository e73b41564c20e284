//! A group outlives its relay (issue 15), end to end with real relays and real `kith`
//! processes: a failover when the home is lost, a planned move with a member offline,
//! and a split made on purpose (one member's home blocked by its proxy) that is seen
//! and heals.
//!
//! The failover threshold is 2 s here (`--failover-after`); the first command after a
//! relay is lost fails and notes since when, a command past the threshold goes on at the
//! fallback.

use kith::RelayError;
use kith_protocol::ErrorCode;
use kith_protocol::access::AccessKey;
use kith_tests::client::{Output, Profile, join};
use kith_tests::socks::Socks5Proxy;
use kith_tests::*;
use serde_json::Value;
use std::time::Duration;

const GROUP: &str = "Mothers-of-Kyzyl";

/// Past the 2 s threshold of these tests.
const PAST_THRESHOLD: Duration = Duration::from_millis(2500);

/// `kith ARGS…` for `p` with the short threshold and the given global options.
fn run(p: &Profile, global: &[&str], args: &[&str]) -> Output {
    let mut all = vec!["--failover-after", "2s"];
    all.extend_from_slice(global);
    all.extend_from_slice(args);
    p.run(&all)
}

fn ok(p: &Profile, global: &[&str], args: &[&str]) -> String {
    let out = run(p, global, args);
    assert!(out.success(), "[{}] {args:?} failed: {out}", p.name());
    out.stdout
}

/// How many lines of `read --all` contain `text`.
fn count(p: &Profile, global: &[&str], text: &str) -> usize {
    ok(p, global, &["read", GROUP, "--all"])
        .lines()
        .filter(|l| l.contains(text))
        .count()
}

fn show(p: &Profile) -> Value {
    serde_json::from_str(ok(p, &[], &["--json", "group", "show", GROUP]).trim()).unwrap()
}

/// The group's id at the relay it was made on (its id in `kith groups`).
fn first_id(p: &Profile) -> kith_protocol::GroupId {
    let line = ok(p, &[], &["--json", "groups"]);
    let v: Value = serde_json::from_str(line.lines().next().unwrap()).unwrap();
    kith_protocol::GroupId::from_hex(v["id"].as_str().unwrap()).unwrap()
}

/// Whether the relay still has a group with this id (`Auth` with a key that cannot be
/// right: `no_such_group` only if it has none).
async fn relay_has(relay: &TestRelay, id: kith_protocol::GroupId) -> bool {
    let conn = relay.connect().await;
    match conn.auth(id, 0, &AccessKey::random()).await {
        Err(RelayError::Relay(ErrorCode::NoSuchGroup)) => false,
        Err(RelayError::Relay(_)) => true,
        other => panic!("unexpected answer to a wrong key: {other:?}"),
    }
}

/// Olena's group on `home` with Aryuna and Dolgor in it, and `fallback` named (given
/// its creation secret, if it asks for one).
fn three_with_fallback(home: &TestRelay, fallback: Option<&TestRelay>) -> [Profile; 3] {
    three_with_secret_fallback(home, fallback, None)
}

fn three_with_secret_fallback(
    home: &TestRelay,
    fallback: Option<&TestRelay>,
    secret: Option<&str>,
) -> [Profile; 3] {
    let olena = Profile::new("Olena");
    let aryuna = Profile::new("Aryuna");
    let dolgor = Profile::new("Dolgor");
    olena.ok(&["group", "create", GROUP, "--relay", &home.ws_url()]);
    for p in [&aryuna, &dolgor] {
        let code = olena.ok(&["invite", GROUP]).trim().to_owned();
        join(&olena, p, &code, GROUP);
    }
    if let Some(f) = fallback {
        let envs: Vec<(&str, &str)> = secret
            .map(|s| vec![("KITH_CREATION_SECRET", s)])
            .unwrap_or_default();
        let out = olena.run_env(&["group", "set", GROUP, "--fallback", &f.ws_url()], &envs);
        assert!(out.success(), "{out}");
    }
    for p in [&olena, &aryuna, &dolgor] {
        p.ok(&["sync"]);
    }
    [olena, aryuna, dolgor]
}

#[tokio::test(flavor = "multi_thread")]
async fn the_home_is_lost_and_the_members_carry_on_at_the_fallback_reading_everything() {
    let mut home = TestRelay::start(&[]).await;
    // The fallback lets only holders of its creation secret set groups up: its operator
    // gave it to the admin, whose setting hands it to the members with the group.
    let secret = "the spare relay's creation secret";
    let spare = TestRelay::start_with_env(&[], &[("KITH_RELAY_CREATION_SECRET", secret)]).await;
    let [olena, aryuna, dolgor] = three_with_secret_fallback(&home, None, None);
    let out = olena.run(&["group", "set", GROUP, "--fallback", &spare.ws_url()]);
    assert!(
        !out.success() && out.stderr.contains("KITH_CREATION_SECRET"),
        "a fallback that would refuse the members is refused at once: {out}"
    );
    let out = olena.run_env(
        &["group", "set", GROUP, "--fallback", &spare.ws_url()],
        &[("KITH_CREATION_SECRET", secret)],
    );
    assert!(out.success(), "{out}");
    for p in [&aryuna, &dolgor] {
        p.ok(&["sync"]);
    }

    // Before the loss: Aryuna reads Olena's first message, Dolgor reads nothing more.
    olena.ok(&["send", GROUP, "the lawyer takes appeals on Thursday"]);
    aryuna.ok(&["read", GROUP]);
    aryuna.ok(&["send", GROUP, "my son's unit moved north"]);
    olena.ok(&["read", GROUP]);

    home.kill9();
    // Within the threshold: said plainly, nothing moves yet.
    let out = olena.run(&["--failover-after", "1h", "sync"]);
    assert!(!out.success(), "{out}");
    assert!(
        out.stderr.contains("could not connect") && out.stderr.contains("fallback relay"),
        "{out}"
    );
    // Past it (the send's own retries get there), Olena's client goes on at the spare.
    ok(&olena, &[], &["send", GROUP, "we go on at the spare relay"]);
    let at = show(&olena);
    assert_eq!(at["relay"], home.ws_url(), "the home stays what it was");
    assert_eq!(at["at"], spare.ws_url(), "Olena is at the fallback: {at}");
    let told = ok(&olena, &[], &["read", GROUP, "--all"]);
    assert!(told.contains("goes on at its fallback relay"), "{told}");

    // The others follow on their own, past their own threshold.
    for p in [&aryuna, &dolgor] {
        let _ = run(p, &[], &["sync"]);
        std::thread::sleep(PAST_THRESHOLD);
        ok(p, &[], &["sync"]);
        assert_eq!(show(p)["at"], spare.ws_url());
    }
    // Dolgor had read neither message before the loss: both senders posted theirs again.
    for text in [
        "the lawyer takes appeals on Thursday",
        "my son's unit moved north",
        "we go on at the spare relay",
    ] {
        poll_count(&dolgor, text, 1);
    }
    // Those who had them see them once.
    assert_eq!(count(&olena, &[], "my son's unit moved north"), 1);
    assert_eq!(
        count(&aryuna, &[], "the lawyer takes appeals on Thursday"),
        1
    );
    assert_eq!(count(&aryuna, &[], "we go on at the spare relay"), 1);

    // And the group goes on: a reply reaches everyone.
    ok(
        &dolgor,
        &[],
        &["send", GROUP, "thank you, I will call them"],
    );
    for p in [&olena, &aryuna] {
        assert_eq!(count(p, &[], "thank you, I will call them"), 1);
    }
}

/// Polls `read` until `text` shows `n` times (the re-posts come with the senders' next
/// syncs).
fn poll_count(p: &Profile, text: &str, n: usize) {
    client::poll(Duration::from_secs(30), text, || {
        (count(p, &[], text) == n).then_some(())
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn a_planned_move_reaches_every_member_even_one_who_was_offline_and_the_old_copy_goes() {
    let mut old = TestRelay::start(&[]).await;
    let new = TestRelay::start(&[]).await;
    let [olena, aryuna, dolgor] = three_with_fallback(&old, None);
    let id = first_id(&olena);
    let dir = tempfile::tempdir().unwrap();
    let scan = dir.path().join("appeal-scan.pdf");
    std::fs::write(&scan, b"%PDF appeal to the garrison court").unwrap();
    olena.ok(&["send-file", GROUP, scan.to_str().unwrap()]);
    olena.ok(&["send", GROUP, "before the move"]);
    dolgor.ok(&["read", GROUP]);
    // Dolgor is offline from here on.

    let out = olena.ok(&["group", "move", GROUP, "--to", &new.ws_url()]);
    assert!(out.contains("Moved the group"), "{out}");
    assert_eq!(show(&olena)["relay"], new.ws_url());
    olena.ok(&["send", GROUP, "after the move"]);

    let read = aryuna.ok(&["read", GROUP]);
    assert!(read.contains("after the move"), "Aryuna followed: {read}");
    assert!(read.contains("moved the group to the relay"), "{read}");
    assert_eq!(show(&aryuna)["relay"], new.ws_url());
    aryuna.ok(&["send", GROUP, "Aryuna here, at the new relay"]);
    olena.ok(&["sync"]);
    assert!(
        relay_has(&old, id).await,
        "the old copy stays while a member has not moved"
    );

    // Dolgor comes back: he finds the move at the old relay, and follows.
    let read = dolgor.ok(&["read", GROUP]);
    for text in ["after the move", "Aryuna here, at the new relay"] {
        assert!(read.contains(text), "{text}: {read}");
    }
    assert_eq!(show(&dolgor)["relay"], new.ws_url());
    // The file sent before the move comes from the new relay.
    let got = dir.path().join("got");
    std::fs::create_dir(&got).unwrap();
    dolgor.ok(&["get", GROUP, "1", "-o", got.to_str().unwrap()]);
    assert_eq!(
        std::fs::read(got.join("appeal-scan.pdf")).unwrap(),
        b"%PDF appeal to the garrison court"
    );

    // Every member was seen at the new home: an admin's sync deletes the old copy.
    client::poll(Duration::from_secs(30), "the old copy deleted", || {
        olena.ok(&["sync"]);
        let told = olena.ok(&["read", GROUP, "--all"]);
        told.contains("old copy").then_some(())
    });
    assert!(!relay_has(&old, id).await, "the old relay no longer has it");

    // Without the old relay at all, the group goes on.
    old.kill9();
    dolgor.ok(&["send", GROUP, "Dolgor, from the new relay"]);
    assert!(
        olena
            .ok(&["read", GROUP])
            .contains("Dolgor, from the new relay")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_block_for_one_member_is_a_split_that_is_seen_and_heals() {
    let home = TestRelay::start(&[]).await;
    let spare = TestRelay::start(&[]).await;
    let proxy = Socks5Proxy::start().await;
    let [olena, aryuna, dolgor] = three_with_fallback(&home, Some(&spare));
    let via = ["--proxy", &proxy.url()];
    ok(&dolgor, &via, &["sync"]);

    // Dolgor's network blocks the home (a regional block); the others' does not.
    proxy.block(home.addr().port());
    let _ = run(&dolgor, &via, &["send", GROUP, "can anyone hear me?"]);
    std::thread::sleep(PAST_THRESHOLD);
    ok(
        &dolgor,
        &via,
        &["send", GROUP, "hello from behind the block"],
    );
    assert_eq!(show_via(&dolgor, &via)["at"], spare.ws_url());
    olena.ok(&["send", GROUP, "written at home meanwhile"]);

    // The others see that someone writes at the fallback (they look every threshold).
    client::poll(Duration::from_secs(30), "the split seen", || {
        let _ = ok(&aryuna, &[], &["sync"]);
        let told = ok(&aryuna, &[], &["read", GROUP, "--all"]);
        told.contains("Dolgor wrote at the fallback relay")
            .then_some(())
    });
    assert_eq!(
        count(&aryuna, &[], "hello from behind the block"),
        0,
        "not read from there: it comes home with its writer"
    );

    // The block ends: Dolgor's client goes home by itself and brings what it wrote.
    proxy.unblock(home.addr().port());
    client::poll(Duration::from_secs(30), "Dolgor back home", || {
        ok(&dolgor, &via, &["sync"]);
        (show_via(&dolgor, &via)["at"] == home.ws_url()).then_some(())
    });
    let back = ok(&dolgor, &via, &["read", GROUP, "--all"]);
    assert!(back.contains("answers again"), "{back}");
    assert!(back.contains("written at home meanwhile"), "{back}");
    for p in [&olena, &aryuna] {
        client::poll(Duration::from_secs(30), "Dolgor's message at home", || {
            (count(p, &[], "hello from behind the block") >= 1).then_some(())
        });
        let lines: Vec<String> = ok(p, &[], &["read", GROUP, "--all"])
            .lines()
            .filter(|l| l.contains("hello from behind the block"))
            .map(str::to_owned)
            .collect();
        assert_eq!(lines.len(), 1, "once: {lines:?}");
    }
    // One group again: a message from home reaches Dolgor, and his from home reach all.
    ok(&dolgor, &via, &["send", GROUP, "home again"]);
    assert_eq!(count(&olena, &[], "home again"), 1);
}

fn show_via(p: &Profile, via: &[&str]) -> Value {
    serde_json::from_str(ok(p, via, &["--json", "group", "show", GROUP]).trim()).unwrap()
}

/// A member about to be removed takes the ids of the fallbacks' copies for the coming
/// epochs, with keys nobody else has (a patched client: the `squat-fallbacks` test hook).
/// The removal renews the key those ids come from, so when the home is lost the others
/// still get out.
#[tokio::test(flavor = "multi_thread")]
async fn a_removed_member_cannot_block_the_way_out() {
    let mut home = TestRelay::start(&[]).await;
    let spare = TestRelay::start(&[]).await;
    let [olena, aryuna, dolgor] = three_with_fallback(&home, Some(&spare));
    let out = dolgor.ok(&["test-evil", GROUP, "squat-fallbacks", "4"]);
    assert!(out.contains("took 5 id(s)"), "{out}");
    olena.ok(&["remove", GROUP, "Dolgor"]);
    aryuna.ok(&["sync"]);

    home.kill9();
    ok(&olena, &[], &["send", GROUP, "we are out"]);
    assert_eq!(show(&olena)["at"], spare.ws_url());
    let _ = run(&aryuna, &[], &["sync"]);
    std::thread::sleep(PAST_THRESHOLD);
    ok(&aryuna, &[], &["sync"]);
    assert_eq!(count(&aryuna, &[], "we are out"), 1);
}
