//! A group outlives its relay (issue 15): the relays a group names, in its state.

use kith_tests::client::{Profile, admit_while};
use kith_tests::*;
use serde_json::Value;

const GROUP: &str = "Mothers-of-Kyzyl";

fn json(p: &Profile, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    p.ok(&all)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn fallbacks(p: &Profile) -> Vec<String> {
    json(p, &["group", "show", GROUP])[0]["fallbacks"]
        .as_array()
        .expect("fallbacks listed")
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn admins_name_fallback_relays_and_every_member_sees_them() {
    let relay = TestRelay::start(&[]).await;
    let olena = Profile::new("Olena");
    let aryuna = Profile::new("Aryuna");
    olena.ok(&["group", "create", GROUP, "--relay", &relay.ws_url()]);
    let code = olena.ok(&["invite", GROUP]).trim().to_owned();
    let joining = aryuna.spawn(&["join", &code, "--wait", "30"]);
    assert!(admit_while(&olena, joining).success());

    // Written in the one form the state keeps, in order, without repeats.
    olena.ok(&[
        "group",
        "set",
        GROUP,
        "--fallback",
        "ws://127.0.0.1:9/",
        "--fallback",
        "ws://127.0.0.1:10",
        "--fallback",
        "ws://127.0.0.1:9/v1",
    ]);
    aryuna.ok(&["sync"]);
    let want = vec!["ws://127.0.0.1:9/v1", "ws://127.0.0.1:10/v1"];
    assert_eq!(fallbacks(&olena), want);
    assert_eq!(fallbacks(&aryuna), want, "every member has them");
    let told = aryuna.ok(&["read", GROUP, "--all"]);
    assert!(
        told.contains("added a fallback relay: ws://127.0.0.1:10/v1"),
        "{told}"
    );
    assert_eq!(
        json(&aryuna, &["group", "show", GROUP])[0]["relay"],
        relay.ws_url()
    );

    // A member cannot change them; nor can anyone name what is no relay, or too many,
    // or the group's own relay.
    let out = aryuna.run(&["group", "set", GROUP, "--fallback", "ws://127.0.0.1:11"]);
    assert!(
        !out.success() && out.stderr.contains("only admins"),
        "{out}"
    );
    for bad in [
        "https://127.0.0.1:11",
        "relay.example",
        relay.ws_url().as_str(),
    ] {
        let out = olena.run(&["group", "set", GROUP, "--fallback", bad]);
        assert!(!out.success(), "{bad}: {out}");
    }
    let out = olena.run(&[
        "group",
        "set",
        GROUP,
        "--fallback",
        "ws://127.0.0.1:11",
        "--fallback",
        "ws://127.0.0.1:12",
        "--fallback",
        "ws://127.0.0.1:13",
    ]);
    assert!(!out.success() && out.stderr.contains("at most 4"), "{out}");
    assert_eq!(fallbacks(&olena), want, "nothing changed");

    olena.ok(&["group", "set", GROUP, "--no-fallback", "ws://127.0.0.1:9"]);
    aryuna.ok(&["sync"]);
    assert_eq!(fallbacks(&aryuna), vec!["ws://127.0.0.1:10/v1"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn doctor_checks_a_groups_relay_and_its_fallbacks() {
    let relay = TestRelay::start(&[]).await;
    let olena = Profile::new("Olena");
    olena.ok(&["group", "create", GROUP, "--relay", &relay.ws_url()]);
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("ws://127.0.0.1:{}/v1", l.local_addr().unwrap().port())
    };
    olena.ok(&["group", "set", GROUP, "--fallback", &dead]);
    let out = olena.run(&["--json", "doctor", GROUP]);
    assert_eq!(out.code(), 1, "one of them cannot be used: {out}");
    let found: Vec<Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(found.len(), 2, "{out}");
    assert_eq!(found[0]["url"], relay.ws_url());
    assert_eq!(found[0]["ok"], true);
    assert_eq!(found[1]["url"], dead);
    assert_eq!(found[1]["ok"], false);
    assert_eq!(
        found[1]["steps"].as_array().unwrap().last().unwrap()["step"],
        "tcp"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_code_on_a_relay_that_cannot_be_reached_says_so() {
    let mut relay = TestRelay::start(&[]).await;
    let olena = Profile::new("Olena");
    olena.ok(&["group", "create", GROUP, "--relay", &relay.ws_url()]);
    let code = olena.ok(&["invite", GROUP]).trim().to_owned();
    relay.kill9();
    let aryuna = Profile::new("Aryuna");
    let out = aryuna.run(&["join", &code]);
    assert!(!out.success(), "{out}");
    assert!(
        out.stderr.contains("cannot be reached") && out.stderr.contains("ask for a new code"),
        "{out}"
    );
    // And the doctor, given the code, names the step.
    let out = aryuna.run(&["doctor", &code]);
    assert!(out.stdout.contains("FAIL tcp"), "{out}");
}
