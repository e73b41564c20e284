//! End-to-end tests of running a group (issue 6): roles enforced by every client, the
//! pinned board, join approval, disappearing messages, history for newcomers and
//! moderation. Real relay, real `kith` processes, one profile directory per person.

use kith_tests::client::{self, Profile, admit_while, poll};
use kith_tests::*;
use serde_json::Value;
use std::time::Duration;

const GROUP: &str = "Legal-aid-41st";

/// The JSON lines `kith --json ARGS…` printed.
fn json(p: &Profile, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    p.ok(&all)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// Every record of the group as `p` has it: (kind, name, text).
fn history(p: &Profile) -> Vec<(String, String, String)> {
    json(p, &["read", GROUP, "--all"])
        .iter()
        .map(|v| {
            (
                v["kind"].as_str().unwrap_or_default().to_owned(),
                v["name"].as_str().unwrap_or_default().to_owned(),
                v["text"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn texts(p: &Profile) -> Vec<String> {
    history(p)
        .into_iter()
        .filter(|(k, _, _)| k == "text")
        .map(|(_, _, t)| t)
        .collect()
}

fn alerts(p: &Profile) -> Vec<String> {
    history(p)
        .into_iter()
        .filter(|(k, _, _)| k == "alert")
        .map(|(_, _, t)| t)
        .collect()
}

/// (name, role) of every member as `p` sees them.
fn roles(p: &Profile) -> Vec<(String, String)> {
    let mut v: Vec<_> = json(p, &["members", GROUP])
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap_or_default().to_owned(),
                m["role"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    v.sort();
    v
}

fn board_titles(p: &Profile) -> Vec<(u64, String, String)> {
    json(p, &["board", GROUP])
        .iter()
        .map(|e| {
            (
                e["id"].as_u64().unwrap_or(u64::MAX),
                e["title"].as_str().unwrap_or_default().to_owned(),
                e["text"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn make_invite(admin: &Profile, extra: &[&str]) -> String {
    let mut args = vec!["invite", GROUP];
    args.extend_from_slice(extra);
    let out = admin.ok(&args);
    out.trim().to_owned()
}

/// `joiner` uses `code` while `syncer` (any member) syncs; asserts the join worked.
fn join_via(syncer: &Profile, joiner: &Profile, code: &str) {
    let joining = joiner.spawn(&["join", code, "--wait", "30"]);
    let out = admit_while(syncer, joining);
    assert!(out.success(), "join failed: {out}");
    assert_eq!(out.stdout.trim(), format!("Joined {GROUP:?}."), "{out}");
}

/// Olena creates the group; each of `others` joins with a code of hers.
fn group_of(relay: &TestRelay, others: &[&str]) -> (Profile, Vec<Profile>) {
    let olena = Profile::new("Olena");
    olena.ok(&["group", "create", GROUP, "--relay", &relay.ws_url()]);
    let members = others
        .iter()
        .map(|name| {
            let p = Profile::new(name);
            let code = make_invite(&olena, &[]);
            join_via(&olena, &p, &code);
            p
        })
        .collect();
    for p in std::iter::once(&olena).chain(&members) {
        p.ok(&["sync"]);
    }
    (olena, members)
}

const ROGUE: [(&str, &str); 1] = [("KITH_TEST_IGNORE_OWN_ROLE", "1")];

#[tokio::test(flavor = "multi_thread")]
async fn member_admin_actions_are_refused_by_every_other_client() {
    let relay = TestRelay::start(&[]).await;
    let (olena, others) = group_of(&relay, &["Bohdan", "Mallory"]);
    let [bohdan, mallory] = [&others[0], &others[1]];
    olena.ok(&[
        "board",
        "add",
        GROUP,
        "Lawyer",
        "Ms Koval, +380 44 000 0000",
    ]);
    bohdan.ok(&["send", GROUP, "hello all"]);
    mallory.ok(&["sync"]);

    // Without the test hook, Mallory's own client already refuses.
    for args in [
        &["promote", GROUP, "Mallory"][..],
        &["board", "add", GROUP, "Fake lawyer", "call me"],
        &["group", "set", GROUP, "--disappear", "1h"],
        &["invite", GROUP],
        &["remove", GROUP, "Bohdan"],
    ] {
        let out = mallory.fails(args, 2);
        assert!(out.stderr.contains("only admins"), "{args:?}: {out}");
    }

    let before_roles = roles(&olena);
    let before_board = board_titles(&olena);
    // With it, she plays a patched client: each change really is committed, and each is
    // refused by everyone else, shown as such, and undone by Olena's client.
    let attempts: [(&[&str], &str); 4] = [
        (&["promote", GROUP, "Mallory"], "change who the admins are"),
        (
            &["board", "add", GROUP, "Fake lawyer", "call me"],
            "change the board",
        ),
        (
            &["group", "set", GROUP, "--disappear", "1h"],
            "change the group's settings",
        ),
        (&["invite", GROUP], "change the group's invites"),
    ];
    for (args, what) in attempts {
        let out = mallory.run_env(args, &ROGUE);
        assert!(out.success(), "{args:?} with the hook: {out}");
        // Bohdan (a member) sees the refusal and holds back until an admin repairs.
        bohdan.ok(&["sync"]);
        let alert = format!("REFUSED: Mallory tried to {what}");
        assert!(
            alerts(bohdan).iter().any(|a| a.starts_with(&alert)),
            "{args:?}: Bohdan has no {alert:?} in {:?}",
            alerts(bohdan)
        );
        let held = bohdan.fails(&["send", GROUP, "is this safe?"], 2);
        assert!(held.stderr.contains("on hold"), "{held}");
        // Olena's client refuses too, and repairs.
        olena.ok(&["sync"]);
        assert!(
            alerts(&olena).iter().any(|a| a.starts_with(&alert)),
            "Olena has no {alert:?}"
        );
        for p in [&olena, bohdan, mallory] {
            p.ok(&["sync"]);
            assert_eq!(roles(p), before_roles, "{} after {args:?}", p.name());
            assert_eq!(board_titles(p), before_board, "{} after {args:?}", p.name());
            let show = &json(p, &["group", "show", GROUP])[0];
            assert_eq!(show["disappear_secs"], 0, "{} after {args:?}", p.name());
            assert_eq!(show["open_invites"], 0, "{} after {args:?}", p.name());
        }
        bohdan.ok(&["send", GROUP, &format!("still here after {what}")]);
    }
    // Deleting someone else's message is an application message: refused, not applied.
    let seq = json(&olena, &["read", GROUP, "--all"])
        .iter()
        .find(|v| v["text"] == "hello all")
        .and_then(|v| v["seq"].as_u64())
        .expect("Bohdan's message");
    let out = mallory.run_env(&["delete", GROUP, &seq.to_string()], &ROGUE);
    assert!(out.success(), "{out}");
    for p in [&olena, bohdan] {
        p.ok(&["sync"]);
        assert!(texts(p).contains(&"hello all".to_owned()), "{}", p.name());
        assert!(
            alerts(p)
                .iter()
                .any(|a| a.contains("Mallory tried to delete another member's message")),
            "{}: {:?}",
            p.name(),
            alerts(p)
        );
    }
    // A removal by a member: nobody follows it, and Olena's client voids it at the
    // relay (issue 13), so Bohdan stays.
    let out = mallory.run_env(&["remove", GROUP, "Bohdan"], &ROGUE);
    assert!(out.success(), "{out}");
    olena.ok(&["sync"]);
    assert!(
        alerts(&olena)
            .iter()
            .any(|a| a.contains("Mallory tried to remove Bohdan without being an admin")),
        "{:?}",
        alerts(&olena)
    );
    assert!(roles(&olena).iter().any(|(n, _)| n == "Bohdan"));
    // The group goes on: Olena removes Mallory and talks; Bohdan reads it.
    olena.ok(&["remove", GROUP, "Mallory"]);
    olena.ok(&["send", GROUP, "Mallory is out"]);
    assert!(texts(&olena).contains(&"Mallory is out".to_owned()));
    bohdan.ok(&["sync"]);
    assert!(texts(bohdan).contains(&"Mallory is out".to_owned()));
}

#[tokio::test(flavor = "multi_thread")]
async fn board_reaches_a_member_who_joins_while_every_admin_is_offline() {
    let relay = TestRelay::start(&[]).await;
    let (olena, others) = group_of(&relay, &["Bohdan"]);
    let bohdan = &others[0];
    olena.ok(&[
        "board",
        "add",
        GROUP,
        "Lawyer",
        "Ms Koval\n+380 44 000 0000",
    ]);
    olena.ok(&[
        "board",
        "add",
        GROUP,
        "Appeal template",
        "To the commander…",
    ]);
    olena.ok(&["board", "add", GROUP, "Old address", "moved"]);
    olena.ok(&[
        "board",
        "edit",
        GROUP,
        "0",
        "--text",
        "Ms Koval\n+380 44 111 1111",
    ]);
    olena.ok(&["board", "rm", GROUP, "2"]);
    let code = make_invite(&olena, &[]);
    // Olena goes offline for good; only Bohdan, a plain member, is online.
    drop(olena);
    let iryna = Profile::new("Iryna");
    join_via(bohdan, &iryna, &code);
    assert_eq!(
        board_titles(&iryna),
        vec![
            (0, "Lawyer".into(), "Ms Koval\n+380 44 111 1111".into()),
            (1, "Appeal template".into(), "To the commander…".into()),
        ]
    );
    assert_eq!(board_titles(&iryna), board_titles(bohdan));
    assert_eq!(
        roles(&iryna),
        vec![
            ("Bohdan".into(), "member".into()),
            ("Iryna".into(), "member".into()),
            ("Olena".into(), "admin".into()),
        ]
    );
    bohdan.ok(&["sync"]);
    assert!(
        history(bohdan)
            .iter()
            .any(|(_, _, t)| t.contains("You added Iryna")),
        "{:?}",
        history(bohdan)
    );
    // Iryna reads the board in the text form too.
    let text = iryna.ok(&["board", GROUP]);
    assert!(
        text.contains("[0] Lawyer") && text.contains("+380 44 111 1111"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_approval_code_admits_nobody_until_an_admin_approves() {
    let relay = TestRelay::start(&[]).await;
    let (olena, others) = group_of(&relay, &["Bohdan"]);
    let bohdan = &others[0];
    let code = make_invite(&olena, &["--approve"]);
    let iryna = Profile::new("Iryna");
    // Iryna answers; Bohdan (a member) and Olena both sync; nobody adds her.
    let out = iryna.run(&["join", &code, "--wait", "0"]);
    assert!(out.success(), "{out}");
    assert!(out.stderr.contains("must approve"), "{out}");
    for _ in 0..3 {
        bohdan.ok(&["sync"]);
        olena.ok(&["sync"]);
    }
    assert!(!roles(&olena).iter().any(|(n, _)| n == "Iryna"));
    iryna.ok(&["sync"]);
    assert!(json(&iryna, &["groups"]).iter().all(|g| g["id"].is_null()));
    // Olena sees her name and fingerprint; the fingerprint is Iryna's.
    let requests = json(&olena, &["requests", GROUP]);
    assert_eq!(requests.len(), 1, "{requests:?}");
    let fp = json(&iryna, &["whoami"])[0]["fingerprint"].clone();
    assert_eq!(requests[0]["name"], "Iryna");
    assert_eq!(requests[0]["fingerprint"], fp);
    assert!(json(bohdan, &["requests", GROUP]).is_empty());
    // A member has no requests to approve (their client never read the answer).
    let out = bohdan.fails(&["approve", GROUP, "1"], 2);
    assert!(out.stderr.contains("no join request"), "{out}");
    olena.ok(&["approve", GROUP, "1"]);
    poll(Duration::from_secs(20), "Iryna admitted", || {
        iryna.ok(&["sync"]);
        json(&iryna, &["groups"])
            .iter()
            .any(|g| g["name"] == GROUP)
            .then_some(())
    });
    iryna.ok(&["send", GROUP, "thank you"]);
    bohdan.ok(&["sync"]);
    assert!(texts(bohdan).contains(&"thank you".to_owned()));

    // Denied: the code is closed and Petro never gets in.
    let code = make_invite(&olena, &["--approve"]);
    let petro = Profile::new("Petro");
    assert!(petro.run(&["join", &code, "--wait", "0"]).success());
    olena.ok(&["sync"]);
    assert_eq!(json(&olena, &["requests", GROUP]).len(), 1);
    olena.ok(&["deny", GROUP, "Petro"]);
    assert!(json(&olena, &["requests", GROUP]).is_empty());
    let out = petro.run(&["sync"]);
    assert!(!out.success(), "{out}");
    assert!(json(&petro, &["groups"]).iter().all(|g| g["name"] != GROUP));
    assert!(!roles(&olena).iter().any(|(n, _)| n == "Petro"));
}

#[tokio::test(flavor = "multi_thread")]
async fn history_is_handed_to_newcomers_only_when_the_group_opts_in() {
    let relay = TestRelay::start(&[]).await;
    let (olena, others) = group_of(&relay, &["Bohdan"]);
    let bohdan = &others[0];
    bohdan.ok(&["send", GROUP, "one"]);
    // Off by default: Iryna sees nothing from before her join.
    let iryna = Profile::new("Iryna");
    join_via(&olena, &iryna, &make_invite(&olena, &[]));
    assert!(texts(&iryna).is_empty(), "{:?}", texts(&iryna));

    olena.ok(&["group", "set", GROUP, "--history", "2"]);
    bohdan.ok(&["send", GROUP, "two"]);
    olena.ok(&["send", GROUP, "three"]);
    let petro = Profile::new("Petro");
    join_via(bohdan, &petro, &make_invite(&olena, &[]));
    petro.ok(&["sync"]);
    let got = json(&petro, &["read", GROUP, "--all"]);
    let shared: Vec<(String, String, String)> = got
        .iter()
        .filter(|v| v["kind"] == "text")
        .map(|v| {
            (
                v["name"].as_str().unwrap_or_default().to_owned(),
                v["text"].as_str().unwrap_or_default().to_owned(),
                v["history_from"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        shared,
        vec![
            ("Bohdan".into(), "two".into(), "Bohdan".into()),
            ("Olena".into(), "three".into(), "Bohdan".into()),
        ]
    );
    // Iryna, already in, was not handed anything.
    iryna.ok(&["sync"]);
    assert_eq!(texts(&iryna), vec!["two".to_owned(), "three".to_owned()]);
}

#[tokio::test(flavor = "multi_thread")]
async fn roles_change_by_promote_and_demote() {
    let relay = TestRelay::start(&[]).await;
    let (olena, others) = group_of(&relay, &["Bohdan"]);
    let bohdan = &others[0];
    let out = olena.fails(&["demote", GROUP, "Olena"], 2);
    assert!(out.stderr.contains("only admin"), "{out}");
    olena.ok(&["promote", GROUP, "Bohdan"]);
    bohdan.ok(&["sync"]);
    assert_eq!(
        roles(bohdan),
        vec![
            ("Bohdan".into(), "admin".into()),
            ("Olena".into(), "admin".into())
        ]
    );
    // Bohdan can now do what admins do.
    bohdan.ok(&["board", "add", GROUP, "Hotline", "1547"]);
    bohdan.ok(&["demote", GROUP, "Olena"]);
    olena.ok(&["sync"]);
    assert_eq!(
        roles(&olena),
        vec![
            ("Bohdan".into(), "admin".into()),
            ("Olena".into(), "member".into())
        ]
    );
    let out = olena.fails(&["board", "rm", GROUP, "0"], 2);
    assert!(out.stderr.contains("only admins"), "{out}");
    assert!(
        history(&olena)
            .iter()
            .any(|(_, _, t)| t == "Bohdan made Olena a member (no longer an admin)"),
        "{:?}",
        history(&olena)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn admins_delete_messages_and_remove_with_hide() {
    let relay = TestRelay::start(&[]).await;
    let (olena, others) = group_of(&relay, &["Bohdan", "Iryna"]);
    let [bohdan, iryna] = [&others[0], &others[1]];
    bohdan.ok(&["send", GROUP, "meet at the station"]);
    bohdan.ok(&["send", GROUP, "my own typo"]);
    iryna.ok(&["send", GROUP, "ok"]);
    let seq_of = |p: &Profile, text: &str| {
        json(p, &["read", GROUP, "--all"])
            .iter()
            .find(|v| v["text"] == text)
            .and_then(|v| v["seq"].as_u64())
            .unwrap_or_else(|| panic!("{text:?} not found"))
            .to_string()
    };
    // The author deletes their own; a member may not delete someone else's.
    bohdan.ok(&["delete", GROUP, &seq_of(bohdan, "my own typo")]);
    let out = iryna.fails(&["delete", GROUP, &seq_of(iryna, "meet at the station")], 2);
    assert!(out.stderr.contains("only admins"), "{out}");
    // An admin deletes anyone's.
    olena.ok(&["delete", GROUP, &seq_of(&olena, "ok")]);
    for p in [&olena, bohdan, iryna] {
        p.ok(&["sync"]);
        assert_eq!(
            texts(p),
            vec!["meet at the station".to_owned()],
            "{}",
            p.name()
        );
    }
    // Remove and hide in one step.
    olena.ok(&["remove", GROUP, "Bohdan", "--hide"]);
    iryna.ok(&["sync"]);
    assert!(texts(iryna).is_empty(), "{:?}", texts(iryna));
    assert!(
        history(iryna)
            .iter()
            .any(|(_, _, t)| t.starts_with("Olena hid the messages of Bohdan")),
        "{:?}",
        history(iryna)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn disappearing_messages_leave_every_profile() {
    let relay = TestRelay::start(&[]).await;
    let (olena, others) = group_of(&relay, &["Bohdan"]);
    let bohdan = &others[0];
    let out = olena.fails(&["group", "set", GROUP, "--disappear", "2s"], 2);
    assert!(out.stderr.contains("between"), "{out}");
    olena.ok(&["group", "set", GROUP, "--disappear", "6s"]);
    bohdan.ok(&["sync"]);
    let show = &json(bohdan, &["group", "show", GROUP])[0];
    assert_eq!(show["disappear_secs"], 6);
    // The relay keeps the group's ciphertext no longer than the timer (its retention
    // deletes it and destroys its at-rest keys: blobs.rs tests that part).
    assert_eq!(show["relay_retention_secs"], 6, "{show}");
    bohdan.ok(&["send", GROUP, "the address is Sadova 5"]);
    olena.ok(&["sync"]);
    assert!(texts(&olena).contains(&"the address is Sadova 5".to_owned()));
    // While it lives, it is in the store (sealed under an expiry-bucket key).
    let group_hex = json(&olena, &["groups"])[0]["id"]
        .as_str()
        .expect("group id")
        .to_owned();
    let stored = |p: &Profile| -> usize {
        let store = kith::store::Store::open(p.dir(), client::TEST_PASSPHRASE.as_bytes())
            .expect("open the profile's store");
        store
            .scan_raw(&format!("msgs/{group_hex}"))
            .expect("scan")
            .iter()
            .filter(|(_, v)| v.windows(6).any(|w| w == b"Sadova"))
            .count()
    };
    assert_eq!(stored(bohdan), 1);
    std::thread::sleep(Duration::from_secs(7));
    for p in [&olena, bohdan] {
        p.ok(&["sync"]);
        assert!(texts(p).is_empty(), "{}: {:?}", p.name(), texts(p));
        assert_eq!(stored(p), 0, "{} still stores it", p.name());
    }
    // Turning it off keeps later messages, and gives the relay its own retention back.
    olena.ok(&["group", "set", GROUP, "--disappear", "off"]);
    let show = &json(&olena, &["group", "show", GROUP])[0];
    assert!(show["relay_retention_secs"].as_u64() > Some(6), "{show}");
    bohdan.ok(&["send", GROUP, "kept"]);
    std::thread::sleep(Duration::from_secs(7));
    olena.ok(&["sync"]);
    assert_eq!(texts(&olena), vec!["kept".to_owned()]);
}
