//! The relay and the network as the adversary (SECURITY.md's first two rows): real
//! `kith` clients talk to the real relay through a man in the middle ([`Mitm`]) that
//! tampers, replays, withholds, injects, substitutes and forks. Each time the clients
//! must refuse or detect it, show it to the user, and stay usable.

use kith_protocol::padding::pad;
use kith_protocol::{
    ClientFrame, ErrorCode, MessageKind, PostKind, Push, RelayFrame, Request, Response,
};
use kith_tests::TestRelay;
use kith_tests::client::{Profile, join, poll};
use kith_tests::mitm::{Dir, Mitm, on_client_frames, on_relay_frames, pass};
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const GROUP: &str = "Appeals-Kyiv";

/// Olena creates the group through the man in the middle; `others` join by one code each.
fn group_via(mitm: &Mitm, others: &[&str]) -> (Profile, Vec<Profile>) {
    let olena = Profile::new("Olena");
    olena.ok(&["group", "create", GROUP, "--relay", &mitm.ws_url()]);
    let members = others
        .iter()
        .map(|name| {
            let p = Profile::new(name);
            let code = olena.ok(&["invite", GROUP]).trim().to_owned();
            join(&olena, &p, &code, GROUP);
            p
        })
        .collect();
    (olena, members)
}

fn send(p: &Profile, text: &str) -> u64 {
    let out = p.ok(&["--json", "send", GROUP, text]);
    let v: Value = serde_json::from_str(out.trim()).expect("send --json");
    v["seq"].as_u64().expect("seq")
}

/// `read --all --json` as (kind, name, text).
fn history(p: &Profile) -> Vec<(String, String, String)> {
    p.stored(&["--json", "read", GROUP, "--all"])
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("read --json line");
            (
                v["kind"].as_str().unwrap_or_default().to_owned(),
                v["name"].as_str().unwrap_or_default().to_owned(),
                v["text"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn texts(h: &[(String, String, String)]) -> Vec<String> {
    h.iter()
        .filter(|(k, _, _)| k == "text")
        .map(|(_, _, t)| t.clone())
        .collect()
}

fn alerts(h: &[(String, String, String)]) -> Vec<String> {
    h.iter()
        .filter(|(k, _, _)| k == "alert")
        .map(|(_, _, t)| t.clone())
        .collect()
}

/// Passes everything, and records the application messages clients post, as they leave.
fn record_posts(mitm: &Mitm) -> Arc<Mutex<Vec<Vec<u8>>>> {
    let posted: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
    let p = posted.clone();
    mitm.set_rule(on_client_frames(move |_, f| {
        if let Request::Post {
            kind: PostKind::Application,
            payload,
            ..
        } = &f.request
        {
            p.lock().unwrap().push(payload.clone());
        }
        vec![f]
    }));
    posted
}

/// Rewrites every `Messages` page and push the relay sends.
fn on_messages(
    f: impl Fn(&mut Vec<kith_protocol::Message>) + Send + Sync + 'static,
) -> kith_tests::mitm::Rule {
    on_relay_frames(move |_, frame| {
        let mut frame = frame;
        match &mut frame {
            RelayFrame::Response {
                body: Response::Messages { messages, .. },
                ..
            } => f(messages),
            RelayFrame::Push(Push::Message { message, .. }) => {
                let mut one = vec![message.clone()];
                f(&mut one);
                match one.pop() {
                    Some(m) => *message = m,
                    None => return vec![],
                }
            }
            _ => {}
        }
        vec![frame]
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tampered_replayed_and_withheld_messages_are_flagged_and_the_group_stays_usable() {
    let relay = TestRelay::start(&[]).await;
    let mitm = Mitm::start(relay.ws_url()).await;
    let (olena, rest) = group_via(&mitm, &["Iryna"]);
    let iryna = &rest[0];
    iryna.ok(&["read", GROUP]); // caught up, and her first self-update is done
    olena.ok(&["sync"]);

    let first = send(&olena, "first: the hearing is on Monday");
    let flipped = send(&olena, "second: bring the passport copy");
    let withheld = send(&olena, "third: withheld by the relay");
    let replayed = send(&olena, "fourth: replaced by a replay");

    let first_payload: Arc<Mutex<Option<Vec<u8>>>> = Arc::default();
    let seen = first_payload.clone();
    mitm.set_rule(on_messages(move |msgs| {
        if let Some(m) = msgs.iter().find(|m| m.seq == first) {
            *seen.lock().unwrap() = Some(m.payload.clone());
        }
        msgs.retain(|m| m.seq != withheld);
        for m in msgs.iter_mut() {
            if m.seq == flipped {
                // Inside the MLS ciphertext (the blob is a length, the MLS message and
                // zero padding).
                let mid = m.payload.len() / 2;
                m.payload[mid] ^= 0x40;
            }
            if m.seq == replayed
                && let Some(old) = seen.lock().unwrap().clone()
            {
                m.payload = old;
            }
        }
    }));
    let h = history(iryna);
    let t = texts(&h);
    assert_eq!(
        t.iter().filter(|x| x.starts_with("first")).count(),
        1,
        "the replayed message is shown once: {h:?}"
    );
    assert!(!t.iter().any(|x| x.starts_with("second")), "{h:?}");
    assert!(!t.iter().any(|x| x.starts_with("third")), "{h:?}");
    let a = alerts(&h);
    assert!(
        a.iter().any(|x| x.contains("could not decrypt or verify")),
        "the flipped or replayed message is flagged: {a:?}"
    );
    assert!(
        a.iter()
            .any(|x| x.contains("1 message(s) before this one are missing")),
        "the withheld message is flagged: {a:?}"
    );

    // The relay behaves again: the group works, nothing was corrupted.
    mitm.set_rule(pass());
    send(&olena, "fifth: all is well");
    send(iryna, "sixth: Iryna answers");
    assert!(texts(&history(iryna)).contains(&"fifth: all is well".to_owned()));
    assert!(texts(&history(&olena)).contains(&"sixth: Iryna answers".to_owned()));
}

/// A real MLS commit in plaintext (a PublicMessage), from a throwaway group.
fn plaintext_commit() -> Vec<u8> {
    use openmls::prelude::*;
    use openmls_basic_credential::SignatureKeyPair;
    use openmls_rust_crypto::OpenMlsRustCrypto;
    let provider = OpenMlsRustCrypto::default();
    let cs = Ciphersuite::MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519;
    let signer = SignatureKeyPair::new(cs.signature_algorithm()).unwrap();
    signer.store(provider.storage()).unwrap();
    let credential = CredentialWithKey {
        credential: BasicCredential::new(signer.public().to_vec()).into(),
        signature_key: signer.public().into(),
    };
    let mut group = MlsGroup::builder()
        .ciphersuite(cs)
        .with_wire_format_policy(PURE_PLAINTEXT_WIRE_FORMAT_POLICY)
        .build(&provider, &signer, credential)
        .unwrap();
    let (commit, _, _) = group
        .self_update(&provider, &signer, LeafNodeParameters::default())
        .unwrap()
        .into_contents();
    commit.to_bytes().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn injected_commits_plaintext_and_mislabelled_messages_are_refused() {
    let relay = TestRelay::start(&[]).await;
    let mitm = Mitm::start(relay.ws_url()).await;
    let (olena, rest) = group_via(&mitm, &["Iryna"]);
    let iryna = &rest[0];
    iryna.ok(&["read", GROUP]);
    olena.ok(&["sync"]);

    // A commit nobody in this group made: Olena's commit in another group, captured on
    // its way to the relay.
    let captured: Arc<Mutex<Option<Vec<u8>>>> = Arc::default();
    let c = captured.clone();
    mitm.set_rule(on_client_frames(move |_, f| {
        if let Request::Post {
            kind: PostKind::Commit { .. },
            payload,
            ..
        } = &f.request
        {
            *c.lock().unwrap() = Some(payload.clone());
        }
        vec![f]
    }));
    olena.ok(&["group", "create", "Other", "--relay", &mitm.ws_url()]);
    olena.ok(&["group", "update", "Other"]);
    let foreign = captured
        .lock()
        .unwrap()
        .clone()
        .expect("a commit was captured");

    // Three real messages whose slots the relay fills with: the foreign commit, a
    // plaintext MLS commit, and the third message relabelled as a commit.
    let a = send(&olena, "one");
    let b = send(&olena, "two");
    let c = send(&olena, "three, which the relay labels a commit");
    let plaintext = pad(&plaintext_commit()).unwrap();
    mitm.set_rule(on_messages(move |msgs| {
        for m in msgs.iter_mut() {
            if m.seq == a {
                m.payload = foreign.clone();
                m.kind = MessageKind::Commit;
            } else if m.seq == b {
                m.payload = plaintext.clone();
                m.kind = MessageKind::Commit;
            } else if m.seq == c {
                m.kind = MessageKind::Commit;
            }
        }
    }));
    let h = history(iryna);
    let a_ = alerts(&h);
    assert!(
        a_.len() >= 3,
        "each injected or mislabelled message is refused and shown: {h:?}"
    );
    assert!(
        a_.iter().any(|x| x.contains("plaintext MLS message")),
        "the plaintext commit is named as such: {a_:?}"
    );
    assert!(
        a_.iter().any(|x| x.contains("kind label does not match")),
        "the relabelled message is named as such: {a_:?}"
    );
    mitm.set_rule(pass());

    // Honest again: Iryna's state is intact.
    send(&olena, "after the attack");
    let h = history(iryna);
    assert!(texts(&h).contains(&"after the attack".to_owned()), "{h:?}");
    assert!(
        !texts(&h).iter().any(|t| t.contains("labels a commit")),
        "a relabelled message must not be shown as genuine: {h:?}"
    );
    let members = iryna.ok(&["--json", "members", GROUP]);
    assert_eq!(members.lines().count(), 2, "no member was added: {members}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forged_invitation_substituted_join_request_and_fake_welcome_are_refused() {
    let relay = TestRelay::start(&[]).await;
    let mitm = Mitm::start(relay.ws_url()).await;
    let (olena, _) = group_via(&mitm, &[]);
    let iryna = Profile::new("Iryna");

    // 1. The relay serves another code's (or any) sealed blob for this slot.
    let code = olena.ok(&["invite", GROUP]).trim().to_owned();
    mitm.set_rule(on_relay_frames(|_, f| match f {
        RelayFrame::Response {
            id,
            body: Response::Invite { expires_at, .. },
        } => vec![RelayFrame::Response {
            id,
            body: Response::Invite {
                invitation: pad(&[7u8; 300]).unwrap(),
                expires_at,
            },
        }],
        other => vec![other],
    }));
    let out = iryna.run(&["join", &code, "--wait", "0"]);
    assert_eq!(out.code(), 1, "{out}");
    assert!(out.stderr.contains("does not open with this code"), "{out}");
    // Nothing was answered: the same code still works once the relay is honest.
    mitm.set_rule(pass());
    join(&olena, &iryna, &code, GROUP);

    // 2. The relay substitutes the join request.
    let mykola = Profile::new("Mykola");
    let code = olena.ok(&["invite", GROUP]).trim().to_owned();
    mitm.set_rule(on_client_frames(|_, mut f| {
        if let Request::AnswerInvite { answer, .. } = &mut f.request {
            *answer = pad(&[9u8; 500]).unwrap();
        }
        vec![f]
    }));
    let out = mykola.run(&["join", &code, "--wait", "0"]);
    assert_eq!(out.code(), 0, "{out}");
    mitm.set_rule(pass());
    olena.ok(&["sync"]);
    let h = history(&olena);
    assert!(
        alerts(&h)
            .iter()
            .any(|a| a.contains("answered with data that does not open")),
        "{h:?}"
    );
    assert_eq!(olena.ok(&["--json", "members", GROUP]).lines().count(), 2);

    // 3. The relay hands the joiner a welcome nobody sealed for it.
    let petro = Profile::new("Petro");
    let code = olena.ok(&["invite", GROUP]).trim().to_owned();
    mitm.set_rule(on_relay_frames(|_, f| match f {
        RelayFrame::Response {
            id,
            body: Response::Welcome { welcome: Some(_) },
        } => vec![RelayFrame::Response {
            id,
            body: Response::Welcome {
                welcome: Some(pad(&[3u8; 2000]).unwrap()),
            },
        }],
        other => vec![other],
    }));
    let out = petro.run(&["join", &code, "--wait", "0"]);
    assert_eq!(out.code(), 0, "{out}");
    olena.ok(&["sync"]); // admits Petro and leaves the real welcome
    let out = petro.run(&["sync"]);
    assert_eq!(out.code(), 1, "{out}");
    assert!(out.stderr.contains("the welcome does not open"), "{out}");
    // The real welcome is still there: once the relay stops lying, the join completes.
    mitm.set_rule(pass());
    poll(Duration::from_secs(20), "Petro's join to complete", || {
        petro.ok(&["sync"]);
        (!petro.ok(&["--json", "groups"]).contains("waiting_to_join")).then_some(())
    });
    assert_eq!(petro.ok(&["--json", "members", GROUP]).lines().count(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_forked_group_is_detected() {
    let relay = TestRelay::start(&[]).await;
    let mitm = Mitm::start(relay.ws_url()).await;
    let (olena, rest) = group_via(&mitm, &["Iryna"]);
    let iryna = &rest[0];
    iryna.ok(&["read", GROUP]);
    olena.ok(&["sync"]);

    // Olena commits (epoch e -> e+1, commit A at sequence number `fork`).
    let out = olena.ok(&["--json", "group", "update", GROUP]);
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    let epoch_after = v["epoch"].as_u64().unwrap();
    let fork_at: Arc<Mutex<Option<u64>>> = Arc::default();
    let iryna_commit: Arc<Mutex<Option<Vec<u8>>>> = Arc::default();

    // While Iryna commits too, the relay hides A from her, swallows her commit B,
    // answers "Posted" in its own name, and then serves B to her in A's place.
    let (fa, ic) = (fork_at.clone(), iryna_commit.clone());
    mitm.set_rule(Arc::new(move |_, dir, bytes| {
        if dir == Dir::ToRelay {
            if let Ok(ClientFrame {
                id,
                request:
                    Request::Post {
                        kind: PostKind::Commit { .. },
                        payload,
                        ..
                    },
            }) = ClientFrame::decode(&bytes)
            {
                let seq = fa.lock().unwrap().expect("A was seen before Iryna commits");
                *ic.lock().unwrap() = Some(payload);
                let posted = RelayFrame::Response {
                    id,
                    body: Response::Posted { seq },
                };
                return vec![(Dir::ToClient, posted.encode())];
            }
            return vec![(dir, bytes)];
        }
        let Ok(mut f) = RelayFrame::decode(&bytes) else {
            return vec![(dir, bytes)];
        };
        if let RelayFrame::Response {
            body:
                Response::Messages {
                    messages,
                    next,
                    head,
                    needs_epoch,
                },
            ..
        } = &mut f
            && let Some(a) = messages.iter().find(|m| m.kind == MessageKind::Commit)
        {
            let fork = *fa.lock().unwrap().get_or_insert(a.seq);
            match ic.lock().unwrap().clone() {
                // Before Iryna's commit: her log ends just before A.
                None => {
                    messages.retain(|m| m.seq < fork);
                    *next = (*next).min(fork);
                    *head = fork;
                    *needs_epoch = None;
                }
                // After: B stands where A is.
                Some(b) => {
                    for m in messages.iter_mut().filter(|m| m.seq == fork) {
                        m.payload = b.clone();
                    }
                }
            }
        }
        vec![(dir, f.encode())]
    }));
    // Iryna merges her B; when her client then proves access to the epoch B made, the
    // honest relay (which holds A's key) refuses, and the client names the likely cause.
    let out = iryna.run(&["group", "update", GROUP]);
    assert_eq!(out.code(), 1, "Iryna's commit in a forked view: {out}");
    assert!(out.stderr.contains("fork"), "{out}");
    mitm.set_rule(pass());
    let out = iryna.run(&["send", GROUP, "hello?"]);
    assert_eq!(out.code(), 1, "{out}");
    assert!(out.stderr.contains("fork"), "{out}");

    // A relay that let Iryna read anyway: Olena's next message, served to Iryna.
    let captured: Arc<Mutex<Option<Vec<u8>>>> = Arc::default();
    let c = captured.clone();
    mitm.set_rule(on_client_frames(move |_, f| {
        if let Request::Post {
            kind: PostKind::Application,
            payload,
            ..
        } = &f.request
        {
            *c.lock().unwrap() = Some(payload.clone());
        }
        vec![f]
    }));
    send(&olena, "in Olena's branch of the fork");
    let first = captured.lock().unwrap().clone().expect("captured");
    send(&olena, "again in Olena's branch");
    let second = captured.lock().unwrap().clone().expect("captured");
    let fork_seq = fork_at.lock().unwrap().expect("fork point");
    let served = Arc::new(std::sync::atomic::AtomicBool::new(false));
    mitm.set_rule(on_relay_frames(move |_, f| match f {
        RelayFrame::Error {
            id,
            code: ErrorCode::AuthFailed,
        } => vec![RelayFrame::Response {
            id,
            body: Response::Authorized {
                current_epoch: epoch_after,
                head: fork_seq + 2,
                retention_secs: 30 * 24 * 3600,
            },
        }],
        RelayFrame::Error {
            id,
            code: ErrorCode::Unauthorized,
        } if !served.swap(true, std::sync::atomic::Ordering::SeqCst) => {
            let message = |seq, payload: &Vec<u8>| kith_protocol::Message {
                seq,
                epoch: epoch_after,
                kind: MessageKind::Application,
                stored_at: 0,
                payload: payload.clone(),
            };
            vec![RelayFrame::Response {
                id,
                body: Response::Messages {
                    messages: vec![
                        message(fork_seq + 1, &first),
                        message(fork_seq + 2, &second),
                    ],
                    next: fork_seq + 3,
                    head: fork_seq + 3,
                    needs_epoch: None,
                },
            }]
        }
        other => vec![other],
    }));
    // One message of another view could be one damaged frame: no fork is claimed on it.
    // The second, with the same tag, makes the claim.
    let out = iryna.run(&["--json", "read", GROUP, "--all"]);
    let lines: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.contains("view of the group"))
        .collect();
    assert_eq!(
        lines.len(),
        2,
        "both messages are refused, and said so: {out}"
    );
    assert!(!lines[0].contains("FORK"), "not on one message: {out}");
    assert!(
        lines[1].contains("FORK"),
        "Iryna's client shows the fork: {out}"
    );
}

/// Where a PrivateMessage's authenticated data (the epoch tag) starts in `mls`.
fn aad_at(mls: &[u8]) -> usize {
    let varint = |b: &[u8]| -> (usize, usize) {
        let n = 1usize << (b[0] >> 6);
        let v = b[1..n]
            .iter()
            .fold((b[0] & 0x3f) as usize, |v, x| (v << 8) | *x as usize);
        (v, n)
    };
    let (gid, n) = varint(&mls[4..]);
    let at = 4 + n + gid + 8 + 1;
    at + varint(&mls[at..]).1
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flipped_bit_in_the_epoch_tag_raises_no_fork_and_loses_nothing() {
    let relay = TestRelay::start(&[]).await;
    let mitm = Mitm::start(relay.ws_url()).await;
    let (olena, rest) = group_via(&mitm, &["Iryna"]);
    let iryna = &rest[0];
    iryna.ok(&["read", GROUP]);
    // The tag is in the clear: the relay, or anyone on a ws:// path, can change it.
    mitm.set_rule(on_messages(|messages| {
        for m in messages
            .iter_mut()
            .filter(|m| m.kind == MessageKind::Application)
        {
            let mut mls = kith_protocol::padding::unpad(&m.payload).unwrap().to_vec();
            let at = aad_at(&mls);
            mls[at] ^= 0x01;
            m.payload = pad(&mls).unwrap();
        }
    }));
    send(&olena, "the hearing moved to Thursday");
    send(&olena, "bring the documents");
    let h = history(iryna);
    let t = texts(&h);
    assert!(
        t.contains(&"the hearing moved to Thursday".to_owned()),
        "{h:?}"
    );
    assert!(t.contains(&"bring the documents".to_owned()), "{h:?}");
    let a = alerts(&h);
    assert!(
        !a.iter()
            .any(|x| x.contains("FORK") || x.contains("view of the group")),
        "{a:?}"
    );
    assert!(
        a.iter()
            .any(|x| x.contains("label on this message was changed")),
        "{a:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn message_sizes_on_the_wire_fall_into_a_few_buckets() {
    let relay = TestRelay::start(&[]).await;
    let mitm = Mitm::start(relay.ws_url()).await;
    let (olena, _) = group_via(&mitm, &[]);
    let sizes: Arc<Mutex<Vec<usize>>> = Arc::default();
    let s = sizes.clone();
    mitm.set_rule(on_client_frames(move |_, f| {
        if let Request::Post {
            kind: PostKind::Application,
            payload,
            ..
        } = &f.request
        {
            s.lock().unwrap().push(payload.len());
        }
        vec![f]
    }));
    for len in [1, 5, 40, 120, 300, 600] {
        send(&olena, &"x".repeat(len));
    }
    send(
        &olena,
        "Привіт, це повідомлення українською з кириличними літерами",
    );
    let sizes = sizes.lock().unwrap().clone();
    assert_eq!(sizes.len(), 7, "{sizes:?}");
    assert!(
        sizes.iter().all(|&n| n == 1024),
        "every short text is one 1 KiB bucket on the wire: {sizes:?}"
    );
}

/// A rule that adds `delta` to every `Posted{seq}` the relay answers.
fn posted_off_by(delta: i64) -> kith_tests::mitm::Rule {
    on_relay_frames(move |_, f| match f {
        RelayFrame::Response {
            id,
            body: Response::Posted { seq },
        } => vec![RelayFrame::Response {
            id,
            body: Response::Posted {
                seq: seq.saturating_add_signed(delta),
            },
        }],
        other => vec![other],
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_relay_lying_in_posted_changes_nothing_already_received() {
    let relay = TestRelay::start(&[]).await;
    let mitm = Mitm::start(relay.ws_url()).await;
    let (olena, rest) = group_via(&mitm, &["Iryna"]);
    let iryna = &rest[0];
    send(iryna, "the bus leaves at six");
    olena.ok(&["sync"]);
    // An honest answer: the echo in the log adds nothing to what was shown.
    send(iryna, "see you there");
    let synced = iryna.ok(&["--json", "sync"]);
    assert!(
        synced.contains("\"new\":0"),
        "the own echo is not new: {synced}"
    );
    olena.ok(&["sync"]);

    // The number of what Olena just received.
    mitm.set_rule(posted_off_by(-1));
    send(&olena, "I will be there");
    let t = texts(&history(&olena));
    assert!(t.contains(&"the bus leaves at six".to_owned()), "{t:?}");

    // A number ahead of the log: shown there only until the log says otherwise.
    mitm.set_rule(posted_off_by(3));
    send(&olena, "with the papers");
    mitm.set_rule(pass());
    for n in 1..=4 {
        send(iryna, &format!("update {n}"));
    }
    olena.ok(&["sync"]);
    let h = history(&olena);
    let t = texts(&h);
    for want in [
        "the bus leaves at six",
        "see you there",
        "I will be there",
        "with the papers",
    ] {
        assert_eq!(t.iter().filter(|x| *x == want).count(), 1, "{want}: {t:?}");
    }
    for n in 1..=4 {
        assert!(t.contains(&format!("update {n}")), "{t:?}");
    }
    assert_eq!(
        alerts(&h)
            .iter()
            .filter(|a| a.contains("wrong number"))
            .count(),
        2,
        "both lies are named: {:?}",
        alerts(&h)
    );
    // Her view agrees with Iryna's, in order.
    let theirs = texts(&history(iryna));
    assert_eq!(t, theirs);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_relay_that_drops_and_renumbers_is_caught_with_sender_and_count() {
    let relay = TestRelay::start(&[]).await;
    let mitm = Mitm::start(relay.ws_url()).await;
    let (olena, rest) = group_via(&mitm, &["Iryna"]);
    let iryna = &rest[0];
    iryna.ok(&["read", GROUP]);

    // Olena's posts, as they leave.
    let posted = record_posts(&mitm);
    for text in [
        "the unit moved",
        "do not call tonight",
        "the list is at the office",
    ] {
        send(&olena, text);
    }
    let hidden = posted.lock().unwrap()[1].clone();

    // To Iryna, the relay leaves out the second and closes the hole: every later number
    // one lower, her cursor mapped back, so the numbers show no gap.
    let dropped: Arc<Mutex<Option<u64>>> = Arc::default();
    let d = dropped.clone();
    mitm.set_rule(Arc::new(move |_, dir, bytes| {
        let at = *d.lock().unwrap();
        if dir == Dir::ToRelay {
            if let (Some(at), Ok(mut f)) = (at, ClientFrame::decode(&bytes))
                && let Request::Fetch { from, .. } = &mut f.request
                && *from >= at
            {
                *from += 1;
                return vec![(dir, f.encode())];
            }
            return vec![(dir, bytes)];
        }
        let Ok(mut f) = RelayFrame::decode(&bytes) else {
            return vec![(dir, bytes)];
        };
        let down = |s: &mut u64, at: Option<u64>| {
            if at.is_some_and(|a| *s > a) {
                *s -= 1;
            }
        };
        if let RelayFrame::Response { body, .. } = &mut f {
            match body {
                Response::Messages {
                    messages,
                    next,
                    head,
                    ..
                } => {
                    if let Some(m) = messages.iter().find(|m| m.payload == hidden) {
                        *d.lock().unwrap() = Some(m.seq);
                    }
                    let at = *d.lock().unwrap();
                    messages.retain(|m| m.payload != hidden);
                    for m in messages.iter_mut() {
                        down(&mut m.seq, at);
                    }
                    down(next, at);
                    down(head, at);
                }
                Response::Authorized { head, .. } | Response::Subscribed { head } => down(head, at),
                _ => {}
            }
        }
        vec![(dir, f.encode())]
    }));
    let h = history(iryna);
    let t = texts(&h);
    assert!(t.contains(&"the unit moved".to_owned()), "{h:?}");
    assert!(t.contains(&"the list is at the office".to_owned()), "{h:?}");
    assert!(!t.contains(&"do not call tonight".to_owned()), "{h:?}");
    let a = alerts(&h);
    assert!(
        a.iter()
            .any(|x| x.starts_with("1 message(s) from Olena before this one did not reach you")),
        "the gap, with who and how many: {a:?}"
    );
    assert!(
        !a.iter().any(|x| x.contains("are missing")),
        "the relay's numbers showed nothing: {a:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_relay_that_shows_one_member_another_order_is_caught_by_the_next_message() {
    let relay = TestRelay::start(&[]).await;
    let mitm = Mitm::start(relay.ws_url()).await;
    let (olena, rest) = group_via(&mitm, &["Iryna", "Bohdan"]);
    let (iryna, bohdan) = (&rest[0], &rest[1]);
    for p in [&olena, iryna, bohdan] {
        p.ok(&["sync"]);
    }
    let posted = record_posts(&mitm);
    // Two senders, each counter in order: only the views can tell a swap.
    send(&olena, "the hearing is on Monday");
    send(bohdan, "I will bring the papers");
    send(&olena, "room 12");
    let (a, b) = {
        let p = posted.lock().unwrap();
        (p[0].clone(), p[1].clone())
    };
    // To Iryna, the relay swaps the first two (numbers kept).
    mitm.set_rule(on_messages(move |messages| {
        for m in messages.iter_mut() {
            if m.payload == a {
                m.payload = b.clone();
            } else if m.payload == b {
                m.payload = a.clone();
            }
        }
    }));
    let h = history(iryna);
    let t = texts(&h);
    assert!(t.contains(&"room 12".to_owned()), "{h:?}");
    let a = alerts(&h);
    assert!(
        a.iter()
            .any(|x| x.contains("Olena was shown other messages, or another order")),
        "the swap is caught, and who saw otherwise: {a:?}"
    );
    assert!(
        !a.iter().any(|x| x.contains("did not reach you")),
        "no sender's message is missing: {a:?}"
    );
    // Those shown the true order see nothing wrong.
    mitm.set_rule(pass());
    for p in [&olena, bohdan] {
        let a = alerts(&history(p));
        assert!(
            !a.iter().any(|x| x.contains("before writing this")),
            "{}: {a:?}",
            p.name()
        );
    }
}
