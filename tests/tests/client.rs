//! End-to-end tests of the `kith` command line: real relay, real `kith` processes, one
//! profile directory per person. Every command is a new process, so every step also
//! exercises reopening the encrypted store.

use kith_tests::client::{JOIN_WITHIN, Profile, Running, join, poll};
use kith_tests::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The group name used everywhere (only members may ever see it).
const GROUP: &str = "Mothers-of-41st";

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// `kith group create NAME --relay URL`; returns the 8-hex id it printed.
fn new_group(admin: &Profile, relay: &TestRelay, name: &str) -> String {
    let out = admin.ok(&["group", "create", name, "--relay", &relay.ws_url()]);
    let line = out.trim();
    let prefix = format!("Created group {name:?} (");
    let id = line
        .strip_prefix(&prefix)
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("unexpected `group create` output: {out:?}"));
    assert!(
        id.len() == 8 && id.chars().all(|c| c.is_ascii_hexdigit()),
        "group id {id:?} is not 8 hex digits"
    );
    id.to_owned()
}

/// `kith invite GROUP [--expires …]`; checks the invite's shape and returns it.
fn invite(admin: &Profile, relay: &TestRelay, group: &str, extra: &[&str]) -> String {
    let mut args = vec!["invite", group];
    args.extend_from_slice(extra);
    let out = admin.ok(&args);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1, "invite prints exactly one line: {out:?}");
    let invite = lines[0].to_owned();
    let prefix = format!("kith+ws://{}/", relay.addr());
    let code = invite
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("invite {invite:?} does not start with {prefix:?}"));
    let groups: Vec<&str> = code.split('-').collect();
    assert_eq!(groups.len(), 7, "code {code:?} is not 7 groups");
    assert!(
        groups
            .iter()
            .all(|g| g.len() == 4 && g.chars().all(|c| c.is_ascii_alphanumeric())),
        "code {code:?} is not made of groups of 4 characters"
    );
    invite
}

/// A relay, Olena (creator, admin) and the group; `others` joined by one code each.
fn group_of(relay: &TestRelay, others: &[&str]) -> (Profile, Vec<Profile>) {
    let olena = Profile::new("Olena");
    new_group(&olena, relay, GROUP);
    let mut members = Vec::new();
    for name in others {
        let p = Profile::new(name);
        let code = invite(&olena, relay, GROUP, &[]);
        join(&olena, &p, &code, GROUP);
        members.push(p);
    }
    (olena, members)
}

/// One line of `kith read`.
#[derive(Debug, PartialEq, Eq)]
enum Line {
    Text { name: String, text: String },
    Notice(String),
    Alert(String),
}

/// Parses `kith read` output, checking the `YYYY-MM-DD HH:MM ` prefix of every line.
fn parse_read(out: &str) -> Vec<Line> {
    out.lines()
        .map(|l| {
            let (stamp, rest) = l
                .split_at_checked(17)
                .unwrap_or_else(|| panic!("short line {l:?}"));
            let b = stamp.as_bytes();
            let digits = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15];
            assert!(
                digits.iter().all(|&i| b[i].is_ascii_digit())
                    && b[4] == b'-'
                    && b[7] == b'-'
                    && b[10] == b' '
                    && b[13] == b':'
                    && b[16] == b' ',
                "line {l:?} does not start with `YYYY-MM-DD HH:MM `"
            );
            if let Some(t) = rest.strip_prefix("* ") {
                Line::Notice(t.to_owned())
            } else if let Some(t) = rest.strip_prefix("! ") {
                Line::Alert(t.to_owned())
            } else {
                let (name, text) = rest
                    .split_once(": ")
                    .unwrap_or_else(|| panic!("line {l:?} is not `time name: text`"));
                // `Name?`: a sender whose safety number the reader has not confirmed.
                Line::Text {
                    name: name.strip_suffix('?').unwrap_or(name).to_owned(),
                    text: text.to_owned(),
                }
            }
        })
        .collect()
}

/// The (name, text) pairs of the text lines of `kith read` output.
fn texts(out: &str) -> Vec<(String, String)> {
    parse_read(out)
        .into_iter()
        .filter_map(|l| match l {
            Line::Text { name, text } => Some((name, text)),
            _ => None,
        })
        .collect()
}

fn notices(out: &str) -> Vec<String> {
    parse_read(out)
        .into_iter()
        .filter_map(|l| match l {
            Line::Notice(t) => Some(t),
            _ => None,
        })
        .collect()
}

fn no_alerts(who: &Profile, out: &str) {
    let alerts: Vec<_> = parse_read(out)
        .into_iter()
        .filter(|l| matches!(l, Line::Alert(_)))
        .collect();
    assert!(alerts.is_empty(), "{} sees alerts: {alerts:?}", who.name());
}

fn json_lines(out: &str) -> Vec<Value> {
    out.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect()
}

/// `kith --json members GROUP`.
fn members(p: &Profile, group: &str) -> Vec<Value> {
    json_lines(&p.ok(&["--json", "members", group]))
}

/// `(name, role)` of every member, sorted.
fn roster(p: &Profile, group: &str) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = members(p, group)
        .iter()
        .map(|m| {
            (
                m["name"].as_str().expect("name").to_owned(),
                m["role"].as_str().expect("role").to_owned(),
            )
        })
        .collect();
    v.sort();
    v
}

fn roster_of(list: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = list
        .iter()
        .map(|(n, r)| (n.to_string(), r.to_string()))
        .collect();
    v.sort();
    v
}

/// `kith --json groups`, the group records only.
fn groups_json(p: &Profile) -> Vec<Value> {
    json_lines(&p.ok(&["--json", "groups"]))
        .into_iter()
        .filter(|g| g.get("id").is_some())
        .collect()
}

/// Asserts that everyone in `readers` sees `text` from `sender` in `read --all`.
fn all_see(readers: &[&Profile], sender: &str, text: &str) {
    for r in readers {
        let out = r.ok(&["read", GROUP, "--all"]);
        no_alerts(r, &out);
        assert!(
            texts(&out).contains(&(sender.to_owned(), text.to_owned())),
            "{} does not see {sender}: {text:?} in:\n{out}",
            r.name()
        );
    }
}

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

/// a. Olena creates a group, invites Iryna and Mykola (one code each), all three talk.
#[tokio::test(flavor = "multi_thread")]
async fn create_invite_join_and_chat_among_three() {
    let relay = TestRelay::start(&[]).await;
    let olena = Profile::new("Olena");
    let iryna = Profile::new("Iryna");
    let mykola = Profile::new("Mykola");

    // whoami, text and JSON.
    let who = olena.ok(&["whoami"]);
    let lines: Vec<&str> = who.lines().collect();
    assert_eq!(lines.len(), 2, "{who:?}");
    assert_eq!(lines[0], "Olena");
    let fp = lines[1]
        .strip_prefix("Fingerprint: ")
        .unwrap_or_else(|| panic!("no fingerprint line in {who:?}"));
    let fp_groups: Vec<&str> = fp.split(' ').collect();
    assert_eq!(fp_groups.len(), 5, "fingerprint {fp:?}");
    assert!(fp_groups.iter().all(|g| g.len() == 4), "fingerprint {fp:?}");
    let who_json: Value = serde_json::from_str(olena.ok(&["--json", "whoami"]).trim()).unwrap();
    assert_eq!(who_json["name"], "Olena");
    assert_eq!(who_json["fingerprint"], fp);

    let id = new_group(&olena, &relay, GROUP);
    let listed = olena.ok(&["groups"]);
    let line = listed.lines().next().unwrap_or_default();
    let cols: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(
        cols,
        [GROUP, &id, "1", "member", "0", "unread"],
        "groups line {line:?}"
    );

    let code_i = invite(&olena, &relay, GROUP, &[]);
    let code_m = invite(&olena, &relay, &id, &["--expires", "72h"]);
    assert_ne!(code_i, code_m, "two invites share a code");
    join(&olena, &iryna, &code_i, GROUP);
    join(&olena, &mykola, &code_m, GROUP);

    // Everyone sees three members, Olena the only admin.
    let expected = roster_of(&[
        ("Olena", "admin"),
        ("Iryna", "member"),
        ("Mykola", "member"),
    ]);
    for p in [&olena, &iryna, &mykola] {
        assert_eq!(
            roster(p, GROUP),
            expected,
            "members as {} sees them",
            p.name()
        );
        let me: Vec<Value> = members(p, GROUP)
            .into_iter()
            .filter(|m| m["you"] == true)
            .collect();
        assert_eq!(me.len(), 1, "exactly one member is `you`");
        assert_eq!(me[0]["name"], p.name());
        let g = groups_json(p);
        assert_eq!(g.len(), 1, "{} has one group: {g:?}", p.name());
        assert_eq!(g[0]["name"], GROUP);
        assert_eq!(g[0]["members"], 3);
        assert_eq!(g[0]["status"], "active");
        assert!(
            g[0]["id"].as_str().unwrap().starts_with(&id),
            "id {} vs {id}",
            g[0]["id"]
        );
        assert!(
            g[0]["relay"]
                .as_str()
                .unwrap()
                .contains(&relay.addr().to_string())
        );
    }

    // All three talk.
    olena.ok(&["send", GROUP, "Welcome, both of you."]);
    iryna.ok(&["send", GROUP, "Thank you, Olena!"]);
    let mut stdin_send = mykola.command(&["send", GROUP, "-"]);
    stdin_send.stdin(std::process::Stdio::piped());
    let mut child = stdin_send
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn send -");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(b"Hello from Kharkiv, via stdin.\n")
            .unwrap();
    }
    let sent = child.wait_with_output().expect("send -");
    assert!(sent.status.success(), "send - failed: {sent:?}");

    let all = [
        ("Olena", "Welcome, both of you."),
        ("Iryna", "Thank you, Olena!"),
        ("Mykola", "Hello from Kharkiv, via stdin."),
    ];
    for p in [&olena, &iryna, &mykola] {
        let out = p.ok(&["read", GROUP, "--all"]);
        no_alerts(p, &out);
        let seen = texts(&out);
        for (name, text) in all {
            assert!(
                seen.contains(&(name.to_owned(), text.to_owned())),
                "{} does not see {name}: {text:?} in:\n{out}",
                p.name()
            );
        }
        // In order, and each once.
        let ours: Vec<_> = seen
            .iter()
            .filter(|(n, t)| all.contains(&(n.as_str(), t.as_str())))
            .map(|(n, t)| (n.as_str(), t.as_str()))
            .collect();
        assert_eq!(ours, all, "{} sees them in another order:\n{out}", p.name());
    }

    // Unread: Iryna's next message shows up once in Olena's plain `read`, then not again.
    iryna.ok(&["send", GROUP, "One more thing."]);
    let first = olena.ok(&["read", GROUP]);
    assert_eq!(
        texts(&first),
        [("Iryna".to_owned(), "One more thing.".to_owned())],
        "plain read shows exactly the unread message:\n{first}"
    );
    let second = olena.ok(&["read", GROUP]);
    assert!(texts(&second).is_empty(), "read twice:\n{second}");

    // JSON read.
    let recs = json_lines(&iryna.ok(&["--json", "read", GROUP, "--all"]));
    let welcome = recs
        .iter()
        .find(|r| r["text"] == "Welcome, both of you.")
        .expect("welcome in JSON read");
    assert_eq!(welcome["name"], "Olena");
    assert_eq!(welcome["kind"], "text");
    assert_eq!(welcome["own"], false);
    assert!(welcome["seq"].is_u64() && welcome["time"].is_u64());
    let own = recs
        .iter()
        .find(|r| r["text"] == "Thank you, Olena!")
        .expect("own message in JSON read");
    assert_eq!(own["own"], true);

    // Safety numbers: both sides see the same 60 digits; --confirm marks verified.
    let safety = |p: &Profile, other: &str| -> String {
        let out = p.ok(&["verify", GROUP, other]);
        let digits: Vec<&str> = out
            .lines()
            .map(str::trim)
            .find(|l| {
                let g: Vec<&str> = l.split(' ').collect();
                g.len() == 12
                    && g.iter()
                        .all(|g| g.len() == 5 && g.bytes().all(|b| b.is_ascii_digit()))
            })
            .unwrap_or_else(|| panic!("no 12×5-digit safety number in {out:?}"))
            .split(' ')
            .collect();
        digits.join(" ")
    };
    let on = safety(&olena, "Iryna");
    assert_eq!(on, safety(&iryna, "Olena"), "safety numbers differ");
    assert_ne!(
        on,
        safety(&olena, "Mykola"),
        "safety number does not depend on the peer"
    );
    olena.ok(&["verify", GROUP, "Iryna", "--confirm"]);
    let verified: Vec<(String, bool)> = members(&olena, GROUP)
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap().to_owned(),
                m["verified"] == true,
            )
        })
        .collect();
    assert!(verified.contains(&("Iryna".into(), true)), "{verified:?}");
    assert!(verified.contains(&("Mykola".into(), false)), "{verified:?}");
}

/// b. A second use of a code gets "already used" — whether the first joiner has been
/// admitted yet or not — and does not make the second one a member.
#[tokio::test(flavor = "multi_thread")]
async fn invite_code_works_once() {
    let relay = TestRelay::start(&[]).await;
    let olena = Profile::new("Olena");
    let iryna = Profile::new("Iryna");
    let mykola = Profile::new("Mykola");
    new_group(&olena, &relay, GROUP);
    let code = invite(&olena, &relay, GROUP, &[]);

    // Iryna answers but is not admitted yet.
    let out = iryna.ok(&["join", &code, "--wait", "0"]);
    assert!(out.trim().is_empty(), "nothing joined yet: {out:?}");

    let second = mykola.fails(&["join", &code, "--wait", "5"], 1);
    assert!(
        second.stderr.contains("already used"),
        "second use: {second}"
    );

    // Olena admits; Iryna completes; the code is still spent.
    olena.ok(&["sync"]);
    poll(JOIN_WITHIN, "Iryna's join", || {
        iryna.ok(&["sync"]);
        (groups_json(&iryna).len() == 1).then_some(())
    });
    let third = mykola.fails(&["join", &code, "--wait", "5"], 1);
    assert!(third.stderr.contains("already used"), "third use: {third}");

    olena.ok(&["sync"]);
    assert_eq!(
        roster(&olena, GROUP),
        roster_of(&[("Olena", "admin"), ("Iryna", "member")])
    );
    assert!(groups_json(&mykola).is_empty(), "Mykola got a group");
    let mine = mykola.ok(&["groups"]);
    assert!(!mine.contains(GROUP), "Mykola's groups: {mine}");
    olena.ok(&["send", GROUP, "only for members"]);
    assert!(mykola.run(&["read", GROUP, "--all"]).code() != 0);
}

/// c. An expired code gets a clear "expired", and leaves nothing pending.
#[tokio::test(flavor = "multi_thread")]
async fn expired_code_is_refused() {
    let relay = TestRelay::start(&[]).await;
    let olena = Profile::new("Olena");
    let iryna = Profile::new("Iryna");
    new_group(&olena, &relay, GROUP);
    let short = invite(&olena, &relay, GROUP, &["--expires", "1s"]);
    let made = Instant::now();
    // Not synchronisation: this test is about time passing (the code lives 1 s, and
    // the relay counts in whole seconds).
    std::thread::sleep(Duration::from_millis(2100).saturating_sub(made.elapsed()));
    let out = iryna.run(&["join", &short, "--wait", "0"]);
    assert_eq!(out.code(), 1, "join with an expired code: {out}");
    assert!(out.stderr.contains("expired"), "{out}");
    assert!(groups_json(&iryna).is_empty());
    let listed = iryna.ok(&["groups"]);
    assert!(
        !listed.contains("waiting"),
        "expired join left pending: {listed}"
    );
    assert_eq!(members(&olena, GROUP).len(), 1);
}

/// d. Olena removes Mykola: he is told, cannot send, and never sees what follows.
#[tokio::test(flavor = "multi_thread")]
async fn removed_member_is_told_and_cannot_send_or_read_on() {
    let relay = TestRelay::start(&[]).await;
    let (olena, rest) = group_of(&relay, &["Iryna", "Mykola"]);
    let (iryna, mykola) = (&rest[0], &rest[1]);
    olena.ok(&["send", GROUP, "before the removal"]);
    all_see(&[iryna, mykola], "Olena", "before the removal");

    // Only admins remove and invite.
    let refused = iryna.run(&["remove", GROUP, "Mykola"]);
    assert!(!refused.success(), "a member removed someone: {refused}");
    assert_eq!(roster(&olena, GROUP).len(), 3);
    let refused = iryna.run(&["invite", GROUP]);
    assert!(
        !refused.success() && refused.stdout.is_empty(),
        "a member made an invite: {refused}"
    );

    // By fingerprint prefix.
    let fp = members(&olena, GROUP)
        .into_iter()
        .find(|m| m["name"] == "Mykola")
        .expect("Mykola listed")["fingerprint"]
        .as_str()
        .unwrap()
        .to_owned();
    // Mykola's `read --follow`, running when he is removed, stops after saying so
    // (it once ran on for ever, waiting for messages that could not come).
    let follower = mykola.spawn(&["read", GROUP, "--follow"]);
    std::thread::sleep(Duration::from_secs(1));
    let out = olena.ok(&["remove", GROUP, &fp[..9]]);
    assert_eq!(out.trim(), "Removed Mykola.");
    let followed = follower.exits_within(Duration::from_secs(40));
    assert!(
        followed.success() && followed.stdout.contains("Olena removed you from the group"),
        "the follower after the removal: {followed}"
    );
    olena.ok(&["send", GROUP, "after-removal SECRET from Olena"]);
    iryna.ok(&["send", GROUP, "after-removal SECRET from Iryna"]);

    // Mykola is told, by whom (the follower above read it first).
    let told = mykola.run(&["read", GROUP, "--all"]).stdout;
    assert!(
        notices(&told)
            .iter()
            .any(|n| n == "Olena removed you from the group"),
        "Mykola's read:\n{told}"
    );
    let send = mykola.fails(&["send", GROUP, "am I still here?"], 1);
    assert!(
        send.stderr.contains("removed"),
        "send after removal: {send}"
    );
    let again = mykola.run(&["read", GROUP, "--all"]);
    assert!(
        !again.stdout.contains("after-removal") && !again.stdout.contains("am I still here"),
        "the removed member reads on:\n{again}"
    );
    assert!(
        again.stdout.contains("before the removal"),
        "history lost:\n{again}"
    );
    let sync = mykola.run(&["sync"]);
    assert!(!sync.stdout.contains("after-removal"), "{sync}");
    let g = groups_json(mykola);
    assert_eq!(g[0]["status"], "removed", "{g:?}");
    assert!(mykola.ok(&["groups"]).contains("[you were removed]"));

    // The others see who removed whom, and carry on without him.
    for p in [&olena, iryna] {
        let out = p.ok(&["read", GROUP, "--all"]);
        no_alerts(p, &out);
        let ns = notices(&out);
        let expected = if p.name() == "Olena" {
            "You removed Mykola"
        } else {
            "Olena removed Mykola"
        };
        assert!(
            ns.iter().any(|n| n == expected),
            "{} notices {ns:?}",
            p.name()
        );
        assert!(!out.contains("am I still here"), "{out}");
        assert_eq!(
            roster(p, GROUP),
            roster_of(&[("Olena", "admin"), ("Iryna", "member")])
        );
    }
    all_see(&[&olena], "Iryna", "after-removal SECRET from Iryna");
    all_see(&[iryna], "Olena", "after-removal SECRET from Olena");
}

/// Iryna leaves: an admin's client commits her removal, everyone is told, and she
/// gets nothing after it.
#[tokio::test(flavor = "multi_thread")]
async fn member_leaves() {
    let relay = TestRelay::start(&[]).await;
    let (olena, rest) = group_of(&relay, &["Iryna", "Mykola"]);
    let (iryna, mykola) = (&rest[0], &rest[1]);
    // The only admin may not leave others stranded without anyone able to invite.
    let refused = olena.run(&["leave", GROUP]);
    assert_eq!(refused.code(), 2, "the only admin leaving: {refused}");
    assert!(refused.stderr.contains("only admin"), "{refused}");
    assert_eq!(groups_json(&olena)[0]["status"], "active");

    let out = iryna.ok(&["leave", GROUP]);
    assert_eq!(out.trim(), "You left the group.");
    assert_eq!(groups_json(iryna)[0]["status"], "left");
    let send = iryna.run(&["send", GROUP, "still here?"]);
    assert_eq!(send.code(), 1, "send after leaving: {send}");

    olena.ok(&["sync"]);
    olena.ok(&["send", GROUP, "after Iryna left"]);
    for p in [&olena, mykola] {
        let out = p.ok(&["read", GROUP, "--all"]);
        no_alerts(p, &out);
        assert!(
            notices(&out).iter().any(|n| n == "Iryna left the group"),
            "{} is not told that Iryna left:\n{out}",
            p.name()
        );
        assert_eq!(
            roster(p, GROUP),
            roster_of(&[("Olena", "admin"), ("Mykola", "member")]),
            "as {} sees it",
            p.name()
        );
    }
    all_see(&[mykola], "Olena", "after Iryna left");
    let hers = iryna.run(&["read", GROUP, "--all"]);
    assert!(!hers.stdout.contains("after Iryna left"), "{hers}");
}

/// e. Two (here three) members commit fresh keys at the same moment: every command
/// succeeds, each commit gets its own epoch, and the group still works.
#[tokio::test(flavor = "multi_thread")]
async fn concurrent_commits_converge() {
    let relay = TestRelay::start(&[]).await;
    let (olena, rest) = group_of(&relay, &["Iryna", "Mykola"]);
    let everyone: Vec<&Profile> = [&olena].into_iter().chain(rest.iter()).collect();
    for p in &everyone {
        p.ok(&["sync"]);
    }
    let update_epoch = |out: &kith_tests::client::Output| -> u64 {
        out.stdout
            .trim()
            .strip_prefix("Committed fresh keys (epoch ")
            .and_then(|s| s.strip_suffix(")."))
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("unexpected update output: {out}"))
    };
    // The epoch before the races: one update alone.
    let mut last = update_epoch(&olena.run(&["group", "update", GROUP]));

    for round in 0..2 {
        let running: Vec<Running> = everyone
            .iter()
            .map(|p| p.spawn(&["group", "update", GROUP]))
            .collect();
        let mut epochs = Vec::new();
        for r in running {
            let what = r.what().to_owned();
            let out = r.wait();
            assert!(out.success(), "round {round}: `{what}` failed: {out}");
            epochs.push(update_epoch(&out));
        }
        eprintln!("round {round}: the concurrent updates ended at epochs {epochs:?}");
        // Each command prints the epoch it ended at, which may include a later commit
        // it met while catching up after its own (seen once under load: [11, 12, 11]);
        // three commits that each got an epoch of their own end three epochs on.
        assert!(
            epochs.iter().all(|e| (last + 1..=last + 3).contains(e)),
            "round {round}: from epoch {last}: {epochs:?}"
        );
        assert_eq!(
            epochs.iter().max(),
            Some(&(last + 3)),
            "round {round}: a commit was lost or two claimed one epoch (from {last}): {epochs:?}"
        );
        last += 3;

        for p in &everyone {
            let text = format!("round {round}: {} after the race", p.name());
            p.ok(&["send", GROUP, &text]);
        }
        for p in &everyone {
            let out = p.ok(&["read", GROUP, "--all"]);
            no_alerts(p, &out);
            for q in &everyone {
                let text = format!("round {round}: {} after the race", q.name());
                assert!(
                    texts(&out).contains(&(q.name().to_owned(), text.clone())),
                    "{} does not see {text:?}:\n{out}",
                    p.name()
                );
            }
        }
    }
}

/// f. Iryna stays offline while Olena moves the group through ten epochs, sending in
/// each; one `read --all` catches her up on everything.
#[tokio::test(flavor = "multi_thread")]
async fn member_offline_for_ten_epochs_catches_up_in_one_read() {
    let relay = TestRelay::start(&[]).await;
    let (olena, rest) = group_of(&relay, &["Iryna"]);
    let iryna = &rest[0];
    iryna.ok(&["sync"]);
    olena.ok(&["sync"]);

    let mut last_epoch = None;
    let mut sent = Vec::new();
    for i in 0..10 {
        let out = olena.ok(&["group", "update", GROUP]);
        let epoch: u64 = out
            .trim()
            .strip_prefix("Committed fresh keys (epoch ")
            .and_then(|s| s.strip_suffix(")."))
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("unexpected update output: {out:?}"));
        if let Some(prev) = last_epoch {
            assert_eq!(epoch, prev + 1, "one update, one epoch");
        }
        last_epoch = Some(epoch);
        let text = format!("news #{i} in epoch {epoch}");
        olena.ok(&["send", GROUP, &text]);
        sent.push(("Olena".to_owned(), text));
    }

    let out = iryna.ok(&["read", GROUP, "--all"]);
    no_alerts(iryna, &out);
    let seen: Vec<(String, String)> = texts(&out)
        .into_iter()
        .filter(|(_, t)| t.starts_with("news #"))
        .collect();
    assert_eq!(seen, sent, "Iryna's catch-up:\n{out}");
    // And she is fully in step: her reply reaches Olena.
    iryna.ok(&["send", GROUP, "caught up"]);
    all_see(&[&olena], "Iryna", "caught up");
}

/// g. Groups and history live in the profile: a new process (every command is one),
/// even after the previous one was killed with SIGKILL mid-`read --follow`, finds them.
#[tokio::test(flavor = "multi_thread")]
async fn client_restart_keeps_groups_and_history() {
    let relay = TestRelay::start(&[]).await;
    let (olena, rest) = group_of(&relay, &["Iryna"]);
    let iryna = &rest[0];
    olena.ok(&["send", GROUP, "first"]);
    iryna.ok(&["send", GROUP, "second"]);

    // A live follower, killed after it printed a pushed message.
    olena.ok(&["read", GROUP]);
    let follow = olena.spawn(&["read", GROUP, "--follow"]);
    iryna.ok(&["send", GROUP, "pushed live"]);
    poll(Duration::from_secs(20), "the follower to print", || {
        follow.stdout_so_far().contains("pushed live").then_some(())
    });
    let followed = follow.kill();
    assert_eq!(
        texts(&followed.stdout),
        [("Iryna".to_owned(), "pushed live".to_owned())],
        "{followed}"
    );

    // New processes.
    let listed = olena.ok(&["groups"]);
    let cols: Vec<&str> = listed
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(cols[0], GROUP, "{listed}");
    assert_eq!(&cols[2..], ["2", "members", "0", "unread"], "{listed}");
    let again = olena.ok(&["read", GROUP]);
    assert!(
        texts(&again).is_empty(),
        "shown twice after the kill:\n{again}"
    );
    let history = olena.ok(&["read", GROUP, "--all"]);
    let seen: Vec<_> = texts(&history);
    for (n, t) in [
        ("Olena", "first"),
        ("Iryna", "second"),
        ("Iryna", "pushed live"),
    ] {
        assert_eq!(
            seen.iter().filter(|(a, b)| a == n && b == t).count(),
            1,
            "{n}: {t} not exactly once in:\n{history}"
        );
    }
    // Unread counts survive too.
    iryna.ok(&["send", GROUP, "third"]);
    olena.ok(&["sync"]);
    let g = groups_json(&olena);
    assert_eq!(g[0]["unread"], 1, "{g:?}");
    assert_eq!(g[0]["members"], 2, "{g:?}");
    olena.ok(&["send", GROUP, "still here"]);
    all_see(&[iryna], "Olena", "still here");
}

/// Every file under `dir`, with its bytes.
fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            let Ok(meta) = std::fs::symlink_metadata(&p) else {
                continue;
            };
            if meta.is_dir() {
                stack.push(p);
            } else if meta.is_file() {
                let bytes =
                    std::fs::read(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()));
                out.push((p, bytes));
            }
        }
    }
    out.sort();
    out
}

/// `--passphrase-file`: the first line of a file only its owner can read; it wins over
/// `KITH_PASSPHRASE`; a file others can read is refused with what to do; a new profile's
/// passphrase from a file has the same minimum as one typed.
#[test]
fn a_passphrase_file_for_scripts() {
    use std::os::unix::fs::PermissionsExt;
    let olena = Profile::new("Olena");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pass");
    std::fs::write(&file, format!("{}\n", kith_tests::client::TEST_PASSPHRASE)).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let path = file.to_str().unwrap();
    let wrong = [("KITH_PASSPHRASE", "not the passphrase at all")];
    let out = olena.run_env(&["--passphrase-file", path, "whoami"], &wrong);
    assert!(out.success() && out.stdout.contains("Olena"), "{out}");
    let out = olena.run_env(&["whoami"], &[("KITH_PASSPHRASE_FILE", path), wrong[0]]);
    assert!(out.success(), "{out}");

    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = olena.run(&["--passphrase-file", path, "whoami"]);
    assert_eq!(out.code(), 2, "{out}");
    assert!(out.stderr.contains("chmod 600"), "{out}");

    let short = dir.path().join("short");
    std::fs::write(&short, "short\n").unwrap();
    std::fs::set_permissions(&short, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = std::process::Command::new(kith_tests::client::kith_bin())
        .arg("--home")
        .arg(dir.path().join("new-home"))
        .args(["--passphrase-file", short.to_str().unwrap()])
        .args(["init", "--name", "Nobody"])
        .env_remove("KITH_PASSPHRASE")
        .env("LANG", "C.UTF-8")
        .env("KITH_CONFIG", dir.path().join("config.toml"))
        .env("KITH_TEST_FAST_KDF", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("at least 8"), "{stderr}");
    assert!(!dir.path().join("new-home").join("profile.key").exists());
}

/// h. A wrong passphrase is a clear error and changes nothing.
#[tokio::test(flavor = "multi_thread")]
async fn wrong_passphrase_is_refused_and_harmless() {
    let relay = TestRelay::start(&[]).await;
    let (olena, _rest) = group_of(&relay, &["Iryna"]);
    olena.ok(&["send", GROUP, "before"]);
    let before = files(olena.dir());
    assert!(!before.is_empty());

    for args in [
        &["whoami"][..],
        &["groups"],
        &["read", GROUP, "--all"],
        &["send", GROUP, "with the wrong passphrase"],
    ] {
        let out = olena.run_env(args, &[("KITH_PASSPHRASE", "not the passphrase")]);
        assert_eq!(out.code(), 1, "{args:?} with a wrong passphrase: {out}");
        assert!(
            out.stderr.contains("wrong passphrase"),
            "{args:?} with a wrong passphrase: {out}"
        );
        assert!(out.stdout.is_empty(), "{out}");
    }
    assert!(
        files(olena.dir()) == before,
        "a wrong passphrase changed the profile's files"
    );

    assert_eq!(olena.ok(&["whoami"]).lines().next(), Some("Olena"));
    let history = olena.ok(&["read", GROUP, "--all"]);
    assert!(
        texts(&history).contains(&("Olena".into(), "before".into())),
        "{history}"
    );
    assert!(!history.contains("wrong passphrase"));
}

/// i. After a full run (invites, chat, removal, updates), no file of the relay or of any
/// profile holds a message text, a display name, the group name or an invite code.
#[tokio::test(flavor = "multi_thread")]
async fn no_plaintext_at_rest() {
    const NAMES: [&str; 3] = ["Olena", "Iryna", "Mykola"];
    const SECRETS: [&str; 4] = [
        "Petrenko-LAWYER-7731",
        "+380-44-555-0199-HOTLINE",
        "Адвокат Петренко, вул. Хрещатик 22",
        "Unit-A0000-sighting-Bakhmut",
    ];
    let relay = TestRelay::start(&[]).await;
    let olena = Profile::new("Olena");
    let iryna = Profile::new("Iryna");
    let mykola = Profile::new("Mykola");
    new_group(&olena, &relay, GROUP);
    let mut codes = Vec::new();
    for p in [&iryna, &mykola] {
        let code = invite(&olena, &relay, GROUP, &[]);
        join(&olena, p, &code, GROUP);
        codes.push(code);
    }
    // An unused invite, too.
    codes.push(invite(&olena, &relay, GROUP, &[]));
    olena.ok(&["send", GROUP, SECRETS[0]]);
    iryna.ok(&["send", GROUP, SECRETS[1]]);
    mykola.ok(&["send", GROUP, SECRETS[2]]);
    iryna.ok(&["group", "update", GROUP]);
    for p in [&olena, &iryna, &mykola] {
        let other = if p.name() == "Olena" {
            "Iryna"
        } else {
            "Olena"
        };
        p.ok(&["verify", GROUP, other, "--confirm"]);
    }
    olena.ok(&["remove", GROUP, "Mykola"]);
    olena.ok(&["send", GROUP, SECRETS[3]]);
    for p in [&olena, &iryna, &mykola] {
        let out = p.ok(&["read", GROUP, "--all"]);
        assert!(
            out.contains(SECRETS[0]),
            "{} did not get the text",
            p.name()
        );
    }
    all_see(&[&iryna], "Olena", SECRETS[3]);

    let mut markers: Vec<String> = SECRETS.iter().map(|s| s.to_string()).collect();
    markers.extend(NAMES.iter().map(|s| s.to_string()));
    markers.push(GROUP.to_owned());
    for code in &codes {
        let c = code.rsplit('/').next().unwrap();
        markers.push(c.to_owned());
        markers.push(c.replace('-', ""));
    }

    let mut places: Vec<(&str, PathBuf)> = vec![
        ("relay data", relay.data_dir().to_path_buf()),
        (
            "relay logs",
            relay.log_path().parent().unwrap().to_path_buf(),
        ),
    ];
    for p in [&olena, &iryna, &mykola] {
        places.push((p.name(), p.dir().to_path_buf()));
    }
    let contains = |haystack: &[u8], needle: &str| {
        let needle = needle.as_bytes().to_ascii_lowercase();
        haystack
            .windows(needle.len())
            .any(|w| w == needle.as_slice())
    };
    let mut found = Vec::new();
    let mut scanned = 0usize;
    let mut control = false;
    for (label, dir) in &places {
        let all = files(dir);
        assert!(!all.is_empty(), "{label}: no files in {}", dir.display());
        for (path, bytes) in all {
            scanned += bytes.len();
            let lower = bytes.to_ascii_lowercase();
            // Positive control: the scan does see text that is there.
            control |= contains(&lower, "kith-relay listening on");
            for m in &markers {
                if contains(&lower, m) {
                    found.push(format!("{label}: {m:?} in {}", path.display()));
                }
            }
        }
    }
    assert!(
        control,
        "the scan did not find the relay's ready line in its logs"
    );
    assert!(scanned > 10_000, "scanned only {scanned} bytes");
    assert!(found.is_empty(), "plaintext at rest:\n{}", found.join("\n"));

    // Wipe leaves nothing behind; with --leave it leaves the group first, so the others
    // do not list a member who is gone for ever.
    let out = mykola.ok(&["wipe", "--yes"]);
    assert!(out.contains("destroyed"), "{out}");
    assert!(files(mykola.dir()).is_empty(), "files left after wipe");
    assert!(!mykola.run(&["whoami"]).success());
    let out = iryna.run(&["wipe", "--yes", "--leave"]);
    assert!(out.success(), "{out}");
    assert!(out.stdout.contains("destroyed"), "{out}");
    assert!(out.stderr.contains(&format!("left {GROUP:?}")), "{out}");
    assert!(
        files(iryna.dir()).is_empty(),
        "files left after wipe --leave"
    );
    olena.ok(&["sync"]);
    let members = olena.ok(&["members", GROUP]);
    assert!(
        !members.contains("Iryna"),
        "the wiped member is still listed:\n{members}"
    );
}

/// j. `join --wait 0` returns at once; the join completes with a later `kith sync` of
/// the joiner once an admin's client has admitted it. A join that times out exits 3.
#[tokio::test(flavor = "multi_thread")]
async fn join_completes_later_with_sync() {
    let relay = TestRelay::start(&[]).await;
    let olena = Profile::new("Olena");
    let iryna = Profile::new("Iryna");
    let mykola = Profile::new("Mykola");
    new_group(&olena, &relay, GROUP);
    let code_i = invite(&olena, &relay, GROUP, &[]);
    let code_m = invite(&olena, &relay, GROUP, &[]);

    let quick = iryna.run(&["join", &code_i, "--wait", "0"]);
    assert_eq!(quick.code(), 0, "{quick}");
    assert!(quick.stdout.trim().is_empty(), "{quick}");
    assert!(
        quick.stderr.contains("Olena") && quick.stderr.contains(GROUP),
        "{quick}"
    );
    let timed_out = mykola.run(&["join", &code_m, "--wait", "1"]);
    assert_eq!(
        timed_out.code(),
        3,
        "join not admitted within --wait: {timed_out}"
    );

    for p in [&iryna, &mykola] {
        let waiting = p.ok(&["groups"]);
        assert!(
            waiting.contains(GROUP) && waiting.contains("waiting"),
            "{} is not shown waiting: {waiting}",
            p.name()
        );
        assert!(groups_json(p).is_empty());
    }

    olena.ok(&["sync"]);
    for p in [&iryna, &mykola] {
        poll(JOIN_WITHIN, "the join to complete", || {
            p.ok(&["sync"]);
            (groups_json(p).len() == 1).then_some(())
        });
        let listed = p.ok(&["groups"]);
        assert!(!listed.contains("waiting"), "{listed}");
    }
    olena.ok(&["sync"]);
    let expected = roster_of(&[
        ("Olena", "admin"),
        ("Iryna", "member"),
        ("Mykola", "member"),
    ]);
    for p in [&olena, &iryna, &mykola] {
        assert_eq!(roster(p, GROUP), expected, "as {} sees it", p.name());
    }
    iryna.ok(&["send", GROUP, "made it in"]);
    mykola.ok(&["send", GROUP, "me too"]);
    all_see(&[&olena, &mykola], "Iryna", "made it in");
    all_see(&[&olena, &iryna], "Mykola", "me too");
}

/// `kith read` is in the order things happened: a notice sits at its commit's time, not
/// at the time the reader's client read it (Iryna reads a while after), and the times
/// never go back. The numbers (`seq`, what `delete N` takes) stay the log's.
#[tokio::test(flavor = "multi_thread")]
async fn read_is_in_the_order_things_happened() {
    let relay = TestRelay::start(&[]).await;
    let (olena, rest) = group_of(&relay, &["Iryna"]);
    let iryna = &rest[0];
    iryna.ok(&["sync"]);
    olena.ok(&["sync"]);
    olena.ok(&["send", GROUP, "before the invite"]);
    std::thread::sleep(std::time::Duration::from_millis(1200));
    invite(&olena, &relay, GROUP, &[]);
    std::thread::sleep(std::time::Duration::from_millis(1200));
    olena.ok(&["send", GROUP, "after the invite"]);
    std::thread::sleep(std::time::Duration::from_millis(2200));

    let recs = json_lines(&iryna.ok(&["--json", "read", GROUP]));
    let at = |what: &str| {
        recs.iter()
            .position(|r| r["text"].as_str().is_some_and(|t| t.contains(what)))
            .unwrap_or_else(|| panic!("{what:?} not read: {recs:#?}"))
    };
    let (before, made, after) = (
        at("before the invite"),
        at("Olena made an invite"),
        at("after the invite"),
    );
    assert!(before < made && made < after, "{recs:#?}");
    let times: Vec<u64> = recs.iter().map(|r| r["time"].as_u64().unwrap()).collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "times go back: {recs:#?}"
    );
    // The log's numbers: the notice's commit came between the two texts.
    let seq = |i: usize| recs[i]["seq"].as_u64().unwrap();
    assert!(
        seq(before) < seq(made) && seq(made) < seq(after),
        "{recs:#?}"
    );
}
