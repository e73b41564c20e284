//! End-to-end tests of issue 13: one member with a modified client (the `test-evil`
//! hook of the `kith` test build, acting on that member's own authorized connection)
//! cannot end a group or starve its offline members. Real relay, real `kith` processes.

use kith_tests::TestRelay;
use kith_tests::client::{Profile, join};
use serde_json::Value;

const GROUP: &str = "Families-of-the-41st";

fn json(p: &Profile, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    p.ok(&all)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// (kind, text) of every record `p` has of the group.
fn history(p: &Profile) -> Vec<(String, String)> {
    json(p, &["read", GROUP, "--all"])
        .iter()
        .map(|v| {
            (
                v["kind"].as_str().unwrap_or_default().to_owned(),
                v["text"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn texts(p: &Profile) -> Vec<String> {
    history(p)
        .into_iter()
        .filter(|(k, _)| k == "text")
        .map(|(_, t)| t)
        .collect()
}

fn alerts(p: &Profile) -> Vec<String> {
    history(p)
        .into_iter()
        .filter(|(k, _)| k == "alert")
        .map(|(_, t)| t)
        .collect()
}

/// Olena (admin) makes the group; Bohdan and Mallory join.
fn group(relay: &TestRelay) -> (Profile, Profile, Profile) {
    let olena = Profile::new("Olena");
    olena.ok(&["group", "create", GROUP, "--relay", &relay.ws_url()]);
    let mut members = Vec::new();
    for name in ["Bohdan", "Mallory"] {
        let p = Profile::new(name);
        let code = olena.ok(&["invite", GROUP]).trim().to_owned();
        join(&olena, &p, &code, GROUP);
        members.push(p);
    }
    let mallory = members.pop().unwrap();
    let bohdan = members.pop().unwrap();
    for p in [&olena, &bohdan, &mallory] {
        p.ok(&["sync"]);
    }
    (olena, bohdan, mallory)
}

/// Garbage posted as the epoch's commit used to end the group: every later sync and
/// send failed ("log continues in epoch e+1"), for the admin too. Now the admin's next
/// sync voids it, everyone goes on, nothing sent before is lost, and the alert says that
/// who sent it cannot be known.
#[tokio::test(flavor = "multi_thread")]
async fn a_garbage_commit_is_voided_by_the_admins_client_and_the_group_goes_on() {
    let relay = TestRelay::start(&[]).await;
    let (olena, bohdan, mallory) = group(&relay);
    bohdan.ok(&["send", GROUP, "before the attack"]);
    let out = mallory.ok(&["test-evil", GROUP, "garbage-commit"]);
    assert!(out.contains("posted"), "{out}");

    // Bohdan (a member) cannot go on alone, and is told why in plain words.
    let stuck = bohdan.run(&["send", GROUP, "are you there?"]);
    assert!(!stuck.success(), "{stuck}");
    assert!(
        stuck.stderr.contains("no client can read"),
        "Bohdan is not told what happened: {stuck}"
    );

    // Olena's next sync repairs it, on its own.
    olena.ok(&["sync"]);
    let told = alerts(&olena);
    assert!(
        told.iter()
            .any(|a| a.contains("voided a commit") && a.contains("cannot be known")),
        "Olena has no void alert: {told:?}"
    );
    // Everyone goes on: Bohdan sends, Olena and Mallory read it; nothing is lost.
    bohdan.ok(&["send", GROUP, "after the repair"]);
    olena.ok(&["send", GROUP, "all fine"]);
    for p in [&olena, &bohdan] {
        p.ok(&["sync"]);
        let t = texts(p);
        for want in ["before the attack", "after the repair", "all fine"] {
            assert!(
                t.iter().any(|x| x == want),
                "{}: {want:?} missing from {t:?}",
                p.name()
            );
        }
        assert!(
            alerts(p).iter().any(|a| a.contains("voided a commit")),
            "{} was not told of the void",
            p.name()
        );
    }
    // For a while only admins commit: Mallory cannot at once do it again.
    let again = mallory.ok(&["test-evil", GROUP, "garbage-commit"]);
    assert!(
        again.contains("refused") && again.contains("only the group's admins"),
        "{again}"
    );
    bohdan.ok(&["send", GROUP, "still here"]);
    olena.ok(&["sync"]);
    assert!(texts(&olena).iter().any(|t| t == "still here"));
}

/// A signed commit that gives the relay a wrong key for the next epoch locked every
/// member out. Now the admin's client gives the relay the right key, names the
/// committer, and everyone goes on.
#[tokio::test(flavor = "multi_thread")]
async fn a_commit_with_a_wrong_relay_key_is_put_right_and_its_author_named() {
    let relay = TestRelay::start(&[]).await;
    let (olena, bohdan, mallory) = group(&relay);
    let out = mallory.ok(&["test-evil", GROUP, "wrong-key-commit"]);
    assert!(out.contains("posted"), "{out}");

    let stuck = bohdan.run(&["send", GROUP, "hello?"]);
    assert!(!stuck.success(), "{stuck}");
    assert!(
        stuck.stderr.contains("Mallory") && stuck.stderr.contains("wrong key"),
        "Bohdan is not told who: {stuck}"
    );

    olena.ok(&["sync"]);
    let told = alerts(&olena);
    assert!(
        told.iter()
            .any(|a| a.contains("Mallory") && a.contains("wrong one")),
        "Olena is not told who: {told:?}"
    );
    bohdan.ok(&["send", GROUP, "back again"]);
    olena.ok(&["sync"]);
    assert!(texts(&olena).iter().any(|t| t == "back again"));
    bohdan.ok(&["sync"]);
    assert!(
        alerts(&bohdan)
            .iter()
            .any(|a| a.contains("right access key") && a.contains("Mallory")),
        "Bohdan is not told of the repair: {:?}",
        alerts(&bohdan)
    );
}

/// Any member used to be able to set the group's relay retention to one second, so that
/// members who were offline lost everything. The relay now takes it only from an admin
/// key: the offline member reads every message.
#[tokio::test(flavor = "multi_thread")]
async fn a_member_cannot_shorten_the_relays_retention() {
    // The relay's real floor (a minute) stays out of the way: one second here.
    let relay = TestRelay::start(&[]).await;
    let (olena, bohdan, mallory) = group(&relay);
    let out = mallory.ok(&["test-evil", GROUP, "set-retention", "1"]);
    assert!(
        out.contains("refused"),
        "the relay took a member's retention: {out}"
    );
    for i in 0..3 {
        olena.ok(&["send", GROUP, &format!("news {i}")]);
    }
    std::thread::sleep(std::time::Duration::from_secs(3));
    // Bohdan was offline all along: he reads everything.
    bohdan.ok(&["sync"]);
    let t = texts(&bohdan);
    for i in 0..3 {
        assert!(t.contains(&format!("news {i}")), "{t:?}");
    }
    let show = json(&bohdan, &["group", "show", GROUP]);
    assert!(
        show[0]["relay_retention_secs"].as_u64() > Some(24 * 3600),
        "{show:?}"
    );
}

/// The relay's retention floor: a group asking for one second gets a minute.
#[tokio::test(flavor = "multi_thread")]
async fn the_relay_keeps_messages_at_least_a_minute() {
    let relay = TestRelay::start_with_env(&[], &[("KITH_RELAY_TEST_MIN_RETENTION_SECS", "")]).await;
    let conn = relay.connect().await;
    let g = kith_tests::create_group(&conn).await;
    assert_eq!(conn.set_retention(g.id, 1).await.unwrap(), 60);
    assert_eq!(conn.set_retention(g.id, 3600).await.unwrap(), 3600);
}
