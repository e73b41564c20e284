//! Nobody falls out (issue 14): a member who was removed comes back with a new code, and
//! a dead copy of a group never blocks the new one. Real relay, real `kith` processes.

use kith_tests::client::{Profile, admit_while};
use kith_tests::*;
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

fn texts(p: &Profile) -> Vec<String> {
    json(p, &["read", GROUP, "--all"])
        .iter()
        .filter(|v| v["kind"] == "text")
        .map(|v| v["text"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn join_via(admin: &Profile, joiner: &Profile, code: &str) {
    let joining = joiner.spawn(&["join", code, "--wait", "30"]);
    let out = admit_while(admin, joining);
    assert!(out.success(), "join failed: {out}");
    assert_eq!(out.stdout.trim(), format!("Joined {GROUP:?}."), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_removed_member_rejoins_with_a_new_code_and_keeps_one_group() {
    let relay = TestRelay::start(&[]).await;
    let olena = Profile::new("Olena");
    olena.ok(&["group", "create", GROUP, "--relay", &relay.ws_url()]);
    let bohdan = Profile::new("Bohdan");
    let code = olena.ok(&["invite", GROUP]).trim().to_owned();
    join_via(&olena, &bohdan, &code);
    olena.ok(&["send", GROUP, "before the removal"]);
    bohdan.ok(&["sync"]);

    olena.ok(&["remove", GROUP, "Bohdan"]);
    bohdan.ok(&["sync"]);
    olena.ok(&["send", GROUP, "while he was out"]);

    let code = olena.ok(&["invite", GROUP]).trim().to_owned();
    join_via(&olena, &bohdan, &code);
    olena.ok(&["send", GROUP, "welcome back"]);
    let out = bohdan.run(&["sync"]);
    assert!(out.success(), "sync after the rejoin: {out}");
    let seen = texts(&bohdan);
    assert!(seen.contains(&"welcome back".to_owned()), "{seen:?}");
    assert!(
        seen.contains(&"before the removal".to_owned()),
        "what he had before stays: {seen:?}"
    );
    assert!(
        !seen.contains(&"while he was out".to_owned()),
        "nothing sent while he was out: {seen:?}"
    );
    let groups = json(&bohdan, &["groups"]);
    assert_eq!(
        groups.iter().filter(|g| g["name"] == GROUP).count(),
        1,
        "one group of that name: {groups:?}"
    );
    bohdan.ok(&["send", GROUP, "glad to be back"]);
    olena.ok(&["sync"]);
    assert!(texts(&olena).contains(&"glad to be back".to_owned()));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_member_away_past_the_retention_is_told_plainly_and_comes_back() {
    // 6 s: room for a slow machine to fetch a message before it expires.
    let relay = TestRelay::start(&["--retention", "6s", "--retention-interval", "1s"]).await;
    let olena = Profile::new("Olena");
    olena.ok(&["group", "create", GROUP, "--relay", &relay.ws_url()]);
    let bohdan = Profile::new("Bohdan");
    let code = olena.ok(&["invite", GROUP]).trim().to_owned();
    join_via(&olena, &bohdan, &code);
    olena.ok(&["send", GROUP, "before he left"]);
    bohdan.ok(&["sync"]);
    olena.ok(&["verify", GROUP, "Bohdan", "--confirm"]);
    // While Bohdan is away, the group moves on (a commit: the board) and the relay
    // forgets everything older than 6 s, with the epoch keys Bohdan knows.
    olena.ok(&["board", "add", GROUP, "Lawyer", "Ms Koval"]);
    std::thread::sleep(std::time::Duration::from_secs(9));
    olena.ok(&["send", GROUP, "after the relay forgot"]);
    olena.ok(&["sync"]);

    let out = bohdan.run(&["sync"]);
    let said = format!("{}{}", out.stdout, out.stderr);
    assert!(!out.success(), "{out}");
    assert!(said.contains("away longer"), "plain words: {out}");
    for scary in ["misbehaving", "attack", "fork", "FORK"] {
        assert!(
            !said.contains(scary),
            "no alarm without evidence ({scary}): {out}"
        );
    }
    // What he had stays readable, and `read` says by its exit code that it is not all.
    let stored = bohdan.run(&["--json", "read", GROUP, "--all"]);
    assert_eq!(stored.code(), 1, "{stored}");
    assert!(
        stored.stdout.contains("\"text\":\"before he left\""),
        "{stored}"
    );

    // The way back: a new code from an admin; the admin's client re-adds him in one
    // commit, his identity (and so every verification of it) unchanged.
    let before = json(&olena, &["members", GROUP]);
    let code = olena.ok(&["invite", GROUP]).trim().to_owned();
    join_via(&olena, &bohdan, &code);
    olena.ok(&["send", GROUP, "welcome back"]);
    bohdan.ok(&["sync"]);
    let seen = texts(&bohdan);
    assert!(seen.contains(&"welcome back".to_owned()), "{seen:?}");
    assert!(seen.contains(&"before he left".to_owned()), "{seen:?}");
    let after = json(&olena, &["members", GROUP]);
    assert_eq!(
        before.len(),
        after.len(),
        "the old leaf went: {before:?} {after:?}"
    );
    let bohdan_row = after
        .iter()
        .find(|m| m["name"] == "Bohdan")
        .expect("Bohdan listed");
    assert_eq!(
        bohdan_row["verified"], true,
        "same identity, still verified: {after:?}"
    );
    let told = json(&olena, &["read", GROUP, "--all"]);
    assert!(
        told.iter().any(|v| v["text"]
            .as_str()
            .is_some_and(|t| t.contains("You let Bohdan"))),
        "{told:?}"
    );
    let groups = json(&bohdan, &["groups"]);
    assert_eq!(
        groups.iter().filter(|g| g["name"] == GROUP).count(),
        1,
        "{groups:?}"
    );
    bohdan.ok(&["send", GROUP, "I am back"]);
    olena.ok(&["sync"]);
    assert!(texts(&olena).contains(&"I am back".to_owned()));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_timer_that_deletes_what_the_relay_keeps_is_asked_first() {
    let relay = TestRelay::start(&[]).await;
    let olena = Profile::new("Olena");
    olena.ok(&["group", "create", GROUP, "--relay", &relay.ws_url()]);
    olena.ok(&["send", GROUP, "the lawyer's number"]);
    let file = olena.dir().join("letter.txt");
    std::fs::write(&file, "to the military commissariat").unwrap();
    olena.ok(&["send-file", GROUP, file.to_str().unwrap()]);
    std::thread::sleep(std::time::Duration::from_secs(6));

    // A script (no terminal) is told what would go, and nothing changes.
    let out = olena.fails(&["group", "set", GROUP, "--disappear", "5s"], 2);
    assert!(
        out.stderr.contains("1 message(s) and 1 file(s)") && out.stderr.contains("--yes"),
        "{out}"
    );
    assert_eq!(
        json(&olena, &["group", "show", GROUP])[0]["disappear_secs"],
        0
    );
    // A timer longer than everything stored deletes nothing: no question.
    olena.ok(&["group", "set", GROUP, "--disappear", "1h"]);
    // Shorter again, said yes to.
    olena.ok(&["group", "set", GROUP, "--disappear", "5s", "--yes"]);
    assert_eq!(
        json(&olena, &["group", "show", GROUP])[0]["disappear_secs"],
        5
    );
}

/// Olena's group, Bohdan in it and verified, then away while the group moves on and a
/// 6 s relay forgets the epoch his copy is at. Returns what his first sync after said.
fn away_past_the_retention(
    relay: &TestRelay,
    olena: &Profile,
    bohdan: &Profile,
    removed: bool,
) -> String {
    olena.ok(&["group", "create", GROUP, "--relay", &relay.ws_url()]);
    let code = olena.ok(&["invite", GROUP]).trim().to_owned();
    join_via(olena, bohdan, &code);
    olena.ok(&["send", GROUP, "before he left"]);
    bohdan.ok(&["sync"]);
    olena.ok(&["verify", GROUP, "Bohdan", "--confirm"]);
    olena.ok(&["board", "add", GROUP, "Lawyer", "Ms Koval"]);
    if removed {
        olena.ok(&["remove", GROUP, "Bohdan"]);
    }
    std::thread::sleep(std::time::Duration::from_secs(9));
    olena.ok(&["send", GROUP, "after the relay forgot"]);
    let out = bohdan.run(&["sync"]);
    assert!(!out.success(), "{out}");
    format!("{}{}", out.stdout, out.stderr)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_member_away_past_the_retention_asks_by_himself_and_an_admin_lets_him_back() {
    let relay = TestRelay::start(&["--retention", "6s", "--retention-interval", "1s"]).await;
    let olena = Profile::new("Olena");
    let bohdan = Profile::new("Bohdan");
    let said = away_past_the_retention(&relay, &olena, &bohdan, false);
    assert!(
        said.contains("away longer") && said.contains("asked the group's admins"),
        "plain words, and what happens next: {said}"
    );
    // Asking again while the first request waits knocks no second time.
    let again = bohdan.run(&["sync"]);
    assert!(!again.success());

    // The admin sees who fell behind, and decides.
    olena.ok(&["sync"]);
    let asks = json(&olena, &["requests", GROUP]);
    assert_eq!(asks.len(), 1, "one request: {asks:?}");
    assert_eq!(asks[0]["name"], "Bohdan");
    assert_eq!(asks[0]["comes_back"], true, "{asks:?}");
    let told = json(&olena, &["read", GROUP, "--all"]);
    assert!(
        told.iter().any(|v| v["text"]
            .as_str()
            .is_some_and(|t| t.contains("Bohdan") && t.contains("asks to be let back in"))),
        "{told:?}"
    );
    let before = json(&olena, &["members", GROUP]);
    olena.ok(&["approve", GROUP, "Bohdan"]);
    olena.ok(&["send", GROUP, "welcome back"]);

    // His next sync brings him back, with his history, as the same verified identity.
    let out = bohdan.run(&["sync"]);
    assert!(out.success(), "{out}");
    let seen = texts(&bohdan);
    assert!(seen.contains(&"welcome back".to_owned()), "{seen:?}");
    assert!(seen.contains(&"before he left".to_owned()), "{seen:?}");
    let notes = json(&bohdan, &["read", GROUP, "--all"]);
    assert!(
        notes.iter().any(|v| v["text"]
            .as_str()
            .is_some_and(|t| t.contains("You are back in the group"))),
        "{notes:?}"
    );
    let after = json(&olena, &["members", GROUP]);
    assert_eq!(before.len(), after.len(), "{before:?} {after:?}");
    let row = after.iter().find(|m| m["name"] == "Bohdan").unwrap();
    assert_eq!(row["verified"], true, "{after:?}");
    assert!(json(&olena, &["requests", GROUP]).is_empty());
    assert_eq!(
        json(&bohdan, &["groups"])
            .iter()
            .filter(|g| g["name"] == GROUP)
            .count(),
        1
    );
    bohdan.ok(&["send", GROUP, "I am back"]);
    olena.ok(&["sync"]);
    assert!(texts(&olena).contains(&"I am back".to_owned()));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_member_is_told_and_does_not_ask_again() {
    let relay = TestRelay::start(&["--retention", "6s", "--retention-interval", "1s"]).await;
    let olena = Profile::new("Olena");
    let bohdan = Profile::new("Bohdan");
    away_past_the_retention(&relay, &olena, &bohdan, false);
    olena.ok(&["sync"]);
    olena.ok(&["deny", GROUP, "Bohdan"]);
    assert!(json(&olena, &["requests", GROUP]).is_empty());
    // Told, and not asking again by himself.
    let out = bohdan.run(&["sync"]);
    assert!(!out.success());
    let said = format!("{}{}", out.stdout, out.stderr);
    assert!(said.contains("did not let you back in"), "{said}");
    olena.ok(&["sync"]);
    assert!(json(&olena, &["requests", GROUP]).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_member_removed_while_away_cannot_knock_back_in() {
    let relay = TestRelay::start(&["--retention", "6s", "--retention-interval", "1s"]).await;
    let olena = Profile::new("Olena");
    let bohdan = Profile::new("Bohdan");
    let said = away_past_the_retention(&relay, &olena, &bohdan, true);
    assert!(said.contains("asked the group's admins"), "{said}");
    // His copy never saw the removal, so it knocks; the admin's client refuses it on
    // sight (he is not in the tree), says so, and asks nobody.
    olena.ok(&["sync"]);
    assert!(json(&olena, &["requests", GROUP]).is_empty());
    let told = json(&olena, &["read", GROUP, "--all"]);
    assert!(
        told.iter().any(|v| v["text"]
            .as_str()
            .is_some_and(|t| t.contains("who is not in the group"))),
        "{told:?}"
    );
    let out = bohdan.run(&["sync"]);
    assert!(!out.success());
    assert!(
        format!("{}{}", out.stdout, out.stderr).contains("did not let you back in"),
        "{out}"
    );
    let members = json(&olena, &["members", GROUP]);
    assert!(members.iter().all(|m| m["name"] != "Bohdan"), "{members:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn where_the_group_allows_it_a_member_is_let_back_in_without_asking() {
    let relay = TestRelay::start(&["--retention", "6s", "--retention-interval", "1s"]).await;
    let olena = Profile::new("Olena");
    let bohdan = Profile::new("Bohdan");
    olena.ok(&["group", "create", GROUP, "--relay", &relay.ws_url()]);
    olena.ok(&["group", "set", GROUP, "--let-back", "auto"]);
    assert_eq!(
        json(&olena, &["group", "show", GROUP])[0]["let_back"],
        "auto"
    );
    let code = olena.ok(&["invite", GROUP]).trim().to_owned();
    join_via(&olena, &bohdan, &code);
    bohdan.ok(&["sync"]);
    olena.ok(&["board", "add", GROUP, "Lawyer", "Ms Koval"]);
    std::thread::sleep(std::time::Duration::from_secs(9));
    assert!(!bohdan.run(&["sync"]).success());
    // The admin's next sync lets him back in; nobody was asked.
    olena.ok(&["sync"]);
    assert!(json(&olena, &["requests", GROUP]).is_empty());
    olena.ok(&["send", GROUP, "welcome back"]);
    let out = bohdan.run(&["sync"]);
    assert!(out.success(), "{out}");
    assert!(texts(&bohdan).contains(&"welcome back".to_owned()));
}

#[tokio::test(flavor = "multi_thread")]
async fn turning_a_short_timer_off_again_keeps_what_remains() {
    let relay = TestRelay::start(&[]).await;
    let olena = Profile::new("Olena");
    let bohdan = Profile::new("Bohdan");
    olena.ok(&["group", "create", GROUP, "--relay", &relay.ws_url()]);
    let code = olena.ok(&["invite", GROUP]).trim().to_owned();
    join_via(&olena, &bohdan, &code);
    olena.ok(&["send", GROUP, "before any timer"]);
    olena.ok(&["group", "set", GROUP, "--disappear", "1h", "--yes"]);
    olena.ok(&["send", GROUP, "under the timer"]);
    olena.ok(&["group", "set", GROUP, "--disappear", "off"]);
    olena.ok(&["send", GROUP, "after the timer"]);
    bohdan.ok(&["sync"]);
    std::thread::sleep(std::time::Duration::from_secs(2));
    olena.ok(&["sync"]);
    bohdan.ok(&["sync"]);
    for p in [&olena, &bohdan] {
        let seen = texts(p);
        for t in ["before any timer", "under the timer", "after the timer"] {
            assert!(
                seen.contains(&t.to_owned()),
                "{}: {t:?} in {seen:?}",
                p.name()
            );
        }
    }
}
