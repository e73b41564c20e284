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

/// (kind, text) of every record `p` has of the group (stored, whether or not it could
/// sync: a group on hold cannot).
fn history(p: &Profile) -> Vec<(String, String)> {
    p.stored(&["--json", "read", GROUP, "--all"])
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect::<Vec<_>>()
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

/// Olena (admin) makes the group; each of `names` joins with a code of hers.
fn group_of(relay: &TestRelay, names: &[&str]) -> (Profile, Vec<Profile>) {
    let olena = Profile::new("Olena");
    olena.ok(&["group", "create", GROUP, "--relay", &relay.ws_url()]);
    let mut members = Vec::new();
    for name in names {
        let p = Profile::new(name);
        let code = olena.ok(&["invite", GROUP]).trim().to_owned();
        join(&olena, &p, &code, GROUP);
        members.push(p);
    }
    for p in std::iter::once(&olena).chain(&members) {
        p.ok(&["sync"]);
    }
    (olena, members)
}

/// Olena (admin) makes the group; Bohdan and Mallory join.
fn group(relay: &TestRelay) -> (Profile, Profile, Profile) {
    let (olena, mut members) = group_of(relay, &["Bohdan", "Mallory"]);
    let mallory = members.pop().unwrap();
    let bohdan = members.pop().unwrap();
    (olena, bohdan, mallory)
}

fn member_names(p: &Profile) -> Vec<String> {
    json(p, &["members", GROUP])
        .iter()
        .map(|m| m["name"].as_str().unwrap_or_default().to_owned())
        .collect()
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
        told.iter().any(|a| a.contains("voided a commit")),
        "Olena has no void alert: {told:?}"
    );
    assert!(
        told.iter()
            .any(|a| a.starts_with("refused a commit") && a.contains("cannot be known")),
        "Olena is not told that nobody can be named: {told:?}"
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

/// A removed member (or whoever holds their laptop) kept the secrets of every open code,
/// so could answer one under a new identity and be admitted by the next honest sync.
/// Now a removal closes every open invite, in the state and at the relay, and the admin
/// is told which codes died.
#[tokio::test(flavor = "multi_thread")]
async fn a_removed_members_kept_invite_secrets_no_longer_open_the_door() {
    let relay = TestRelay::start(&[]).await;
    let (olena, bohdan, mallory) = group(&relay);
    let code = olena.ok(&["invite", GROUP]).trim().to_owned();
    // Mallory's client holds the group state with the code's secrets, as every member's.
    mallory.ok(&["sync"]);
    olena.ok(&["remove", GROUP, "Mallory"]);
    let told = alerts(&olena);
    assert!(
        told.iter()
            .any(|a| a.contains("no longer work") && a.contains(&code)),
        "Olena is not told her code died: {told:?}"
    );
    // Someone Mallory hands the code to (or Mallory herself, under a new identity).
    let sock = Profile::new("Sock");
    let out = sock.run(&["join", &code, "--wait", "5"]);
    assert!(!out.success(), "the closed code still opened: {out}");
    for p in [&olena, &bohdan] {
        p.ok(&["sync"]);
        assert!(
            !member_names(p).iter().any(|n| n == "Sock"),
            "{} admitted Sock",
            p.name()
        );
    }
}

/// Every member used to hold the secrets of approval codes too, and so could read the
/// answers: the names and keys of everyone asking to join. Now they are sealed to the
/// admins: a member's client opens none; a second admin's opens them.
#[tokio::test(flavor = "multi_thread")]
async fn an_approval_codes_answers_are_read_by_admins_only() {
    let relay = TestRelay::start(&[]).await;
    let (olena, bohdan, mallory) = group(&relay);
    olena.ok(&["promote", GROUP, "Bohdan"]);
    // Bohdan's client adds his admin keys to the state; Olena's registers them.
    bohdan.ok(&["sync"]);
    olena.ok(&["sync"]);
    let code = olena.ok(&["invite", GROUP, "--approve"]).trim().to_owned();
    let iryna = Profile::new("Iryna");
    assert!(iryna.run(&["join", &code, "--wait", "0"]).success());
    let out = mallory.ok(&["test-evil", GROUP, "read-answers"]);
    assert!(
        out.contains("opened 0 answer"),
        "a member read an answer: {out}"
    );
    let out = bohdan.ok(&["test-evil", GROUP, "read-answers"]);
    assert!(
        out.contains("opened 1 answer") && out.contains("Iryna"),
        "the second admin cannot read it: {out}"
    );
    bohdan.ok(&["sync"]);
    assert_eq!(json(&bohdan, &["requests", GROUP]).len(), 1);
    mallory.ok(&["sync"]);
    assert!(json(&mallory, &["requests", GROUP]).is_empty());
}

/// A patched member removes the second admin with a commit that leaves the state as it
/// was. The remaining admin's next change used to still name the removed admin, so every
/// other client refused it and put the group on hold for good. Now no client follows a
/// member's removal of anyone: an admin's client voids it, the removed admin stays, and
/// (were a commit ever to name a non-member admin) every commit is normalised.
#[tokio::test(flavor = "multi_thread")]
async fn a_member_removing_an_admin_leaves_no_hold_behind() {
    let relay = TestRelay::start(&[]).await;
    let (olena, members) = group_of(&relay, &["Bohdan", "Mallory", "Iryna"]);
    let [bohdan, mallory, iryna] = [&members[0], &members[1], &members[2]];
    olena.ok(&["promote", GROUP, "Bohdan"]);
    for p in [bohdan, mallory, iryna] {
        p.ok(&["sync"]);
    }
    let out = mallory.run_env(
        &["test-evil", GROUP, "remove-keep-state"],
        &[("KITH_TEST_EVIL_WHO", "Bohdan")],
    );
    assert!(out.success() && out.stdout.contains("posted"), "{out}");
    // Nobody follows the removal; Olena's client voids it, so Bohdan is still a member
    // and still an admin.
    let _ = iryna.run(&["sync"]);
    assert!(
        alerts(iryna)
            .iter()
            .any(|a| a.contains("Mallory tried to remove Bohdan")),
        "{:?}",
        alerts(iryna)
    );
    olena.ok(&["sync"]);
    assert!(member_names(&olena).iter().any(|n| n == "Bohdan"));
    olena.ok(&["board", "add", GROUP, "Lawyer", "Ms Koval, Thursdays"]);
    iryna.ok(&["sync"]);
    let refused_olena = alerts(iryna)
        .into_iter()
        .filter(|a| a.starts_with("REFUSED: Olena"))
        .collect::<Vec<_>>();
    assert!(refused_olena.is_empty(), "{refused_olena:?}");
    iryna.ok(&["send", GROUP, "is the lawyer still on Thursdays?"]);
    olena.ok(&["sync"]);
    assert!(
        texts(&olena)
            .iter()
            .any(|t| t == "is the lawyer still on Thursdays?")
    );
}

/// A member's client used to be able to admit anyone "for" an open approval-free code,
/// whether or not they had answered it. Every other client now checks the admission
/// against the answer the relay holds for that code, refuses one that does not match
/// (the member added is an intruder, the group holds), and the admin's client removes
/// the intruder.
#[tokio::test(flavor = "multi_thread")]
async fn an_admission_not_bound_to_the_codes_answer_is_refused_and_undone() {
    let relay = TestRelay::start(&[]).await;
    let (olena, bohdan, mallory) = group(&relay);
    let _code = olena.ok(&["invite", GROUP]).trim().to_owned();
    let out = mallory.ok(&["test-evil", GROUP, "admit-fake"]);
    assert!(out.contains("posted: true"), "{out}");
    bohdan.ok(&["sync"]);
    assert!(
        alerts(&bohdan)
            .iter()
            .any(|a| a.starts_with("REFUSED: Mallory added a member")),
        "{:?}",
        alerts(&bohdan)
    );
    let held = bohdan.run(&["send", GROUP, "is this safe?"]);
    assert!(
        !held.success(),
        "Bohdan sends with an intruder in the group: {held}"
    );
    // Olena's client checks too, and its repair removes the stranger.
    olena.ok(&["sync"]);
    let before = member_names(&olena).len();
    assert_eq!(before, 3, "{:?}", member_names(&olena));
    bohdan.ok(&["sync"]);
    bohdan.ok(&["send", GROUP, "safe again"]);
}
