//! End-to-end tests of look-alike names (issue 13, section 5): an infiltrator who joins
//! under another member's name — the same name, the same in other capitals, or a
//! look-alike in another script — is told apart on every line (`Name [3f2a 91c0]`),
//! announced to everyone by an alert, and flagged in `--json`; the warning about a
//! verified contact's name says what happened. Real relay, real `kith` processes, one
//! profile directory per person.

use kith_tests::client::{Profile, join, poll};
use kith_tests::*;
use serde_json::Value;
use std::time::Duration;

/// The families' group: a Cyrillic name, looked up in other capitals below.
const GROUP: &str = "Семья";

/// The JSON lines `kith --json ARGS…` printed.
fn json(p: &Profile, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    p.ok(&all)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// `p`'s own fingerprint fragment as lines show it: `[3f2a 91c0]`.
fn tag_of(p: &Profile, group: &str) -> String {
    let me = json(p, &["members", group])
        .into_iter()
        .find(|m| m["you"] == true)
        .unwrap_or_else(|| panic!("{} is not in their own member list", p.name()));
    format!(
        "[{}]",
        &me["fingerprint"].as_str().expect("fingerprint")[..9]
    )
}

/// `admin` creates `group` on the relay.
fn create(admin: &Profile, relay: &TestRelay, group: &str) {
    admin.ok(&["group", "create", group, "--relay", &relay.ws_url()]);
}

/// `joiner` joins `group` with a fresh code of `admin`'s (who admits them).
fn admit(admin: &Profile, joiner: &Profile, group: &str) {
    let code = admin.ok(&["invite", group]).trim().to_owned();
    join(admin, joiner, &code, group);
}

/// The lines of `kith read GROUP --all` (a lower-case spelling of the group's name:
/// lookups fold case in every script).
fn read_all(p: &Profile) -> String {
    p.ok(&["read", "семья", "--all"])
}

/// The one line of `out` that contains `needle`.
fn line_with<'a>(out: &'a str, needle: &str) -> &'a str {
    let hits: Vec<&str> = out.lines().filter(|l| l.contains(needle)).collect();
    assert_eq!(
        hits.len(),
        1,
        "one line with {needle:?} expected in:\n{out}"
    );
    hits[0]
}

/// The alert lines of `kith read` output.
fn alerts(out: &str) -> Vec<&str> {
    out.lines()
        .filter_map(|l| l.get(17..)?.strip_prefix("! "))
        .collect()
}

/// (1) An impostor with exactly the admin's name joins. Every other member's `read`
/// tells the two apart by fingerprint fragments — on the impostor's lines too, live in
/// `read --follow` — and everyone was told by an alert; the real admin is told that
/// someone took her name.
#[tokio::test(flavor = "multi_thread")]
async fn an_impostor_with_the_admins_exact_name_is_told_apart_and_announced() {
    let relay = TestRelay::start(&[]).await;
    let alice = Profile::new("Alice Zubova");
    create(&alice, &relay, GROUP);
    let bohdan = Profile::new("Bohdan");
    admit(&alice, &bohdan, GROUP);
    bohdan.ok(&["sync"]);
    let impostor = Profile::new("Alice Zubova");
    admit(&alice, &impostor, GROUP);
    let (real, fake) = (tag_of(&alice, GROUP), tag_of(&impostor, GROUP));
    assert_ne!(real, fake);

    alice.ok(&["send", GROUP, "The lawyer is Petrenko, as before"]);
    impostor.ok(&["send", GROUP, "New lawyer, call +7 900 000 00 00"]);
    bohdan.ok(&["send", GROUP, "Which one of you is it?"]);

    let seen = read_all(&bohdan);
    // The impostor's line carries its own fragment (and the unverified mark); the real
    // admin's hers. Neither appears as a bare "Alice Zubova".
    assert!(
        line_with(&seen, "New lawyer").contains(&format!(
            "Alice Zubova {fake}?: New lawyer, call +7 900 000 00 00"
        )),
        "{seen}"
    );
    assert!(
        line_with(&seen, "Petrenko")
            .contains(&format!("Alice Zubova {real}?: The lawyer is Petrenko")),
        "{seen}"
    );
    assert!(
        !seen.contains("Alice Zubova: ") && !seen.contains("Alice Zubova?: "),
        "{seen}"
    );
    // Bohdan, whose name nobody shares, is shown plainly (his own line: no mark).
    assert!(seen.contains("Bohdan: Which one of you is it?"), "{seen}");
    // The joining was announced, beside the usual notice; the notice of the real
    // admin's adding says which Alice Zubova it was.
    assert!(
        seen.contains(&format!("* {fake} is Alice Zubova\n")),
        "{seen}"
    );
    assert!(
        seen.contains(&format!(
            "* Alice Zubova added a new member {fake} (by Alice Zubova {real})"
        )),
        "{seen}"
    );
    let told = alerts(&seen);
    assert!(
        told.iter().any(|a| a.starts_with(&format!(
            "Careful: a second member calls themself Alice Zubova {fake}. \
             The Alice Zubova you know is still in the group {real}."
        ))),
        "Bohdan's alerts: {told:?}"
    );

    // The real admin (who admitted the impostor) is told someone took her name, and
    // her own lines carry her fragment too.
    let hers = read_all(&alice);
    assert!(
        alerts(&hers).iter().any(|a| a.contains(&format!(
            "a second member calls themself Alice Zubova {fake}. That is your name: you are {real}."
        ))),
        "{hers}"
    );
    assert!(
        hers.contains(&format!("Alice Zubova {real}: The lawyer is Petrenko")),
        "{hers}"
    );
    assert!(
        hers.contains(&format!("Alice Zubova {fake}?: New lawyer")),
        "{hers}"
    );

    // A name lookup that matches both is refused as ambiguous, whatever the capitals.
    let out = bohdan.fails(&["verify", "СЕМЬЯ", "alice zubova"], 2);
    assert!(out.stderr.contains("2 members match"), "{out}");

    // Live: `read --follow` tags the impostor's new line as it arrives.
    let follow = bohdan.spawn(&["read", GROUP, "--follow"]);
    impostor.ok(&["send", GROUP, "Call me now"]);
    let want = format!("Alice Zubova {fake}?: Call me now");
    poll(Duration::from_secs(20), "the follower to print", || {
        follow.stdout_so_far().contains(&want).then_some(())
    });
    follow.kill();
}

/// (2) A confusable name: Latin "Olena" is in the group, verified by Iryna; a newcomer
/// calls themself "Olеna" with a Cyrillic "е". Iryna's `read` tags both, marks the
/// unverified one, and the warning says a second member took the name — not that Olena
/// changed her key. A lookup by the Latin name finds the real Olena only.
#[tokio::test(flavor = "multi_thread")]
async fn a_confusable_name_is_told_apart_and_the_warning_says_what_happened() {
    let relay = TestRelay::start(&[]).await;
    let olena = Profile::new("Olena");
    create(&olena, &relay, GROUP);
    let iryna = Profile::new("Iryna");
    admit(&olena, &iryna, GROUP);
    iryna.ok(&["verify", GROUP, "Olena", "--confirm"]);
    let look_alike = "Ol\u{0435}na";
    let impostor = Profile::new(look_alike);
    admit(&olena, &impostor, GROUP);
    let (real, fake) = (tag_of(&olena, GROUP), tag_of(&impostor, GROUP));

    olena.ok(&["send", GROUP, "Meeting moved to Friday"]);
    impostor.ok(&["send", GROUP, "Send the documents to me"]);
    let seen = read_all(&iryna);
    assert!(
        seen.contains(&format!("{look_alike} {fake}?: Send the documents to me")),
        "{seen}"
    );
    // The verified Olena: tagged, and without the unverified mark.
    assert!(
        seen.contains(&format!("Olena {real}: Meeting moved to Friday")),
        "{seen}"
    );
    let told = alerts(&seen);
    assert!(
        told.iter().any(|a| a.starts_with(&format!(
            "WARNING: a second member calls themself {look_alike} {fake}. \
             The Olena you verified is still in the group {real}"
        ))),
        "Iryna's alerts: {told:?}"
    );
    assert!(
        !told.iter().any(|a| a.contains("different key")),
        "{told:?}"
    );

    // Lookups fold case (Cyrillic capitals too) and do not take the look-alike for the
    // real name: "olena" is Olena alone.
    let out = iryna.ok(&["verify", "СЕМЬЯ", "olena"]);
    assert!(out.contains("Safety number with Olena:"), "{out}");
    let members = json(&iryna, &["members", "СеМьЯ"]);
    let flagged: Vec<(&str, bool)> = members
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap_or_default(),
                m["name_collides"] == true,
            )
        })
        .collect();
    assert!(flagged.contains(&("Olena", true)), "{flagged:?}");
    assert!(flagged.contains(&(look_alike, true)), "{flagged:?}");
    assert!(flagged.contains(&("Iryna", false)), "{flagged:?}");
}

/// (3) `--json` carries every sender's fingerprint, and `name_collides` where a name
/// collides (here: the same name in capitals); a name nobody shares is not flagged.
#[tokio::test(flavor = "multi_thread")]
async fn json_carries_the_collision_flag_and_the_senders_fingerprint() {
    let relay = TestRelay::start(&[]).await;
    let olena = Profile::new("Olena");
    create(&olena, &relay, GROUP);
    let iryna = Profile::new("Iryna");
    admit(&olena, &iryna, GROUP);
    let impostor = Profile::new("OLENA");
    admit(&olena, &impostor, GROUP);
    impostor.ok(&["send", GROUP, "urgent: new address"]);
    iryna.ok(&["send", GROUP, "hello"]);
    let fp = |p: &Profile| {
        json(p, &["members", GROUP])
            .into_iter()
            .find(|m| m["you"] == true)
            .map(|m| m["fingerprint"].clone())
            .expect("own entry")
    };

    let recs = json(&olena, &["read", GROUP, "--all"]);
    let by_text = |t: &str| {
        recs.iter()
            .find(|r| r["text"] == t)
            .unwrap_or_else(|| panic!("no record {t:?} in {recs:?}"))
            .clone()
    };
    let fake = by_text("urgent: new address");
    assert_eq!(fake["name"], "OLENA");
    assert_eq!(fake["name_collides"], true, "{fake}");
    assert_eq!(fake["sender_fingerprint"], fp(&impostor), "{fake}");
    assert_eq!(fake["sender_verified"], false, "{fake}");
    let plain = by_text("hello");
    assert_eq!(plain["name_collides"], false, "{plain}");
    assert_eq!(plain["sender_fingerprint"], fp(&iryna), "{plain}");
    // The alert is in the JSON history too.
    assert!(
        recs.iter().any(|r| r["kind"] == "alert"
            && r["text"]
                .as_str()
                .is_some_and(|t| t.contains("a second member calls themself OLENA"))),
        "{recs:?}"
    );
}

/// (4) Someone joins under the name of a contact Iryna verified in another group, whose
/// key is not in this one: the warning says exactly that (not "Olena now uses a
/// different key").
#[tokio::test(flavor = "multi_thread")]
async fn the_name_of_a_verified_contact_from_elsewhere_is_called_what_it_is() {
    let relay = TestRelay::start(&[]).await;
    let olena = Profile::new("Olena");
    create(&olena, &relay, GROUP);
    let iryna = Profile::new("Iryna");
    admit(&olena, &iryna, GROUP);
    iryna.ok(&["verify", GROUP, "Olena", "--confirm"]);
    let real = tag_of(&olena, GROUP);

    const OTHER: &str = "Legal-aid";
    create(&iryna, &relay, OTHER);
    let someone = Profile::new("olena");
    admit(&iryna, &someone, OTHER);
    let newcomer = tag_of(&someone, OTHER);
    iryna.ok(&["sync"]);
    let seen = iryna.ok(&["read", OTHER, "--all"]);
    let told = alerts(&seen);
    assert!(
        told.iter().any(|a| a.starts_with(&format!(
            "WARNING: someone new {newcomer} uses the name olena of a contact you verified, \
             whose key {real} is not in this group."
        ))),
        "Iryna's alerts: {told:?}\n{seen}"
    );
    assert!(!seen.contains("different key"), "{seen}");
}

/// A join request from someone who takes a member's name warns the admin before they
/// approve, and the joiner's own client says that the name was taken.
#[tokio::test(flavor = "multi_thread")]
async fn a_join_request_under_a_members_name_warns_the_admin_and_the_joiner() {
    let relay = TestRelay::start(&[]).await;
    let olena = Profile::new("Olena");
    create(&olena, &relay, GROUP);
    let code = olena.ok(&["invite", GROUP, "--approve"]).trim().to_owned();
    // Latin "Olena" against a Cyrillic "Оlena".
    let twin = Profile::new("\u{041E}lena");
    assert!(twin.run(&["join", &code, "--wait", "0"]).success());
    olena.ok(&["sync"]);
    let out = read_all(&olena);
    assert!(
        alerts(&out)
            .iter()
            .any(|a| a.contains("asks to join") && a.contains("Careful")),
        "no warning before approving:\n{out}"
    );
    olena.ok(&["approve", GROUP, "1"]);
    poll(Duration::from_secs(20), "the twin joins", || {
        (twin.run(&["sync"]).success() && twin.run(&["read", "семья", "--all"]).success())
            .then_some(())
    });
    let mine = twin.ok(&["read", "семья", "--all"]);
    assert!(
        alerts(&mine)
            .iter()
            .any(|a| a.contains("already has a member of your name")),
        "the joiner is not told:\n{mine}"
    );
}
