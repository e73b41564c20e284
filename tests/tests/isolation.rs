//! One failure stops one group only (issue 14): a profile with groups on a live relay,
//! a dead relay, and a pending join whose welcome is damaged on the way syncs the live
//! one, says which failed, and exits non-zero only for those. Real relays, real `kith` processes.

use kith_protocol::{RelayFrame, Response};
use kith_tests::client::{Profile, admit_while};
use kith_tests::mitm::{Mitm, on_relay_frames};
use kith_tests::*;
use std::time::{Duration, Instant};

fn join_via(admin: &Profile, joiner: &Profile, code: &str, group: &str) {
    let joining = joiner.spawn(&["join", code, "--wait", "30"]);
    let out = admit_while(admin, joining);
    assert!(out.success(), "join failed: {out}");
    assert_eq!(out.stdout.trim(), format!("Joined {group:?}."), "{out}");
}

fn invite(admin: &Profile, group: &str) -> String {
    admin.ok(&["invite", group]).trim().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dead_relay_and_a_bad_welcome_stop_only_their_own_group() {
    let alive = TestRelay::start(&[]).await;
    let mut doomed = TestRelay::start(&[]).await;
    let liar = Mitm::start(alive.ws_url()).await;
    let olena = Profile::new("Olena");
    let bohdan = Profile::new("Bohdan");
    for (group, relay) in [("Alpha", alive.ws_url()), ("Beta", doomed.ws_url())] {
        olena.ok(&["group", "create", group, "--relay", &relay]);
        join_via(&olena, &bohdan, &invite(&olena, group), group);
    }
    // A third group reached through a relay that damages welcomes.
    olena.ok(&["group", "create", "Gamma", "--relay", &liar.ws_url()]);
    liar.set_rule(on_relay_frames(|_, f| {
        vec![match f {
            RelayFrame::Response {
                id,
                body:
                    Response::Welcome {
                        welcome: Some(mut w),
                    },
            } => {
                let mid = w.len() / 2;
                w[mid] ^= 1;
                RelayFrame::Response {
                    id,
                    body: Response::Welcome { welcome: Some(w) },
                }
            }
            other => other,
        }]
    }));
    let out = bohdan.run(&["join", &invite(&olena, "Gamma"), "--wait", "0"]);
    assert!(out.success(), "{out}");
    olena.ok(&["sync"]); // admits Bohdan to Gamma: the welcome is on the relay

    doomed.kill9();
    olena.ok(&["send", "Alpha", "the lawyer is free on Monday"]);

    let started = Instant::now();
    let out = bohdan.run(&["sync"]);
    let took = started.elapsed();
    assert!(!out.success(), "two parts failed: {out}");
    assert!(
        out.stdout.contains("Alpha: "),
        "the live group synced: {out}"
    );
    assert!(
        out.stderr.contains("Beta: could not sync"),
        "the dead relay's group is named: {out}"
    );
    assert!(
        out.stderr.contains("Gamma") && out.stderr.contains("tries again"),
        "the damaged welcome is named, with what happens next: {out}"
    );
    assert!(!out.stderr.contains("Alpha"), "{out}");
    assert!(took < Duration::from_secs(20), "took {took:?}");
    let read = bohdan.ok(&["read", "Alpha"]);
    assert!(read.contains("the lawyer is free on Monday"), "{read}");

    // The welcome the admin sealed is still on the relay: once nothing damages it on
    // the way, the join completes, while the dead relay's group still fails.
    liar.set_rule(kith_tests::mitm::pass());
    let out = bohdan.run(&["sync"]);
    assert!(!out.success(), "{out}");
    assert!(out.stdout.contains("Joined \"Gamma\""), "{out}");
    assert!(out.stderr.contains("Beta: could not sync"), "{out}");
    assert!(!out.stderr.contains("Gamma"), "{out}");

    // With the dead relay's group the only failure, `sync GROUP` of a live one is clean.
    let out = bohdan.run(&["sync", "Alpha"]);
    assert!(out.success(), "{out}");
}
