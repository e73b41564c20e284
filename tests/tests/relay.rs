//! End-to-end tests of the relay's message log: health endpoints, ordering, cursors,
//! pushes, epochs and access, retention, graceful shutdown, and what it logs.

use futures_util::future::join_all;
use kith::RelayError;
use kith_protocol::access::AccessKey;
use kith_protocol::{ErrorCode, GroupId, MessageKind, PostKind, Push, Request, Response};
use kith_tests::*;
use std::time::Duration;

fn relay_err(code: ErrorCode) -> RelayError {
    RelayError::Relay(code)
}

#[tokio::test(flavor = "multi_thread")]
async fn health_and_metrics_endpoints_answer() {
    let relay = TestRelay::start(&[]).await;
    let (status, _) = http_get(relay.addr(), "/healthz").await;
    assert_eq!(status, 200, "GET /healthz on the WebSocket port");

    // Some traffic first, so that counters exist.
    let conn = relay.connect().await;
    let g = create_group(&conn).await;
    post_app(&conn, g.id, 0, payload("hello")).await.unwrap();

    let (status, body) = http_get(relay.metrics_addr(), "/metrics").await;
    assert_eq!(status, 200, "GET /metrics on the metrics port");
    assert!(body.contains("kith_"), "no kith_ metric in:\n{body}");

    assert_eq!(http_get(relay.addr(), "/no-such-path").await.0, 404);
    assert_eq!(http_get(relay.metrics_addr(), "/no-such-path").await.0, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn messages_are_ordered_and_cursors_page_through_them() {
    let relay = TestRelay::start(&[]).await;
    let conn = relay.connect().await;
    let g = create_group(&conn).await;

    let mut sent = Vec::new();
    for i in 1..=50u64 {
        let p = payload(&format!("message {i}"));
        let seq = post_app(&conn, g.id, 0, p.clone()).await.unwrap();
        assert_eq!(seq, i, "sequence numbers start at 1 and increase by one");
        sent.push(p);
    }

    let mut got = Vec::new();
    let mut from = 1;
    let mut sizes = Vec::new();
    loop {
        let page = conn.fetch(g.id, from, 20).await.unwrap();
        assert_eq!(page.head, 51);
        assert_eq!(page.needs_epoch, None);
        if page.messages.is_empty() {
            assert_eq!(
                page.next, from,
                "an empty page leaves the cursor where it was"
            );
            break;
        }
        sizes.push(page.messages.len());
        assert_eq!(page.next, page.messages.last().unwrap().seq + 1);
        from = page.next;
        got.extend(page.messages);
    }
    assert_eq!(sizes, vec![20, 20, 10]);
    let seqs: Vec<u64> = got.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, (1..=50).collect::<Vec<_>>());
    for (m, p) in got.iter().zip(&sent) {
        assert_eq!(&m.payload, p, "payload of seq {}", m.seq);
        assert_eq!(m.epoch, 0);
        assert_eq!(m.kind, MessageKind::Application);
    }

    // Limits are capped to 1..=256.
    let page = conn.fetch(g.id, 1, 0).await.unwrap();
    assert_eq!(page.messages.len(), 1, "limit 0 is raised to 1");
    let page = conn.fetch(g.id, 10, 100_000).await.unwrap();
    assert_eq!(page.messages.len(), 41);
    assert_eq!((page.next, page.head), (51, 51));

    // Pipelined posts on one connection all get distinct, contiguous sequence numbers.
    let posts = (0..20).map(|i| post_app(&conn, g.id, 0, payload(&format!("pipelined {i}"))));
    let mut seqs: Vec<u64> = join_all(posts)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    seqs.sort();
    assert_eq!(seqs, (51..=70).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread")]
async fn live_pushes_reach_every_subscriber_once_in_order() {
    let relay = TestRelay::start(&[]).await;
    let poster = relay.connect().await;
    let g = create_group(&poster).await;
    for i in 0..5 {
        post_app(&poster, g.id, 0, payload(&format!("before {i}")))
            .await
            .unwrap();
    }

    let mut subs = Vec::new();
    for _ in 0..3 {
        let c = relay.connect().await;
        c.auth(g.id, 0, &g.key).await.unwrap();
        let rx = c.take_pushes().unwrap();
        let head = c.subscribe(g.id).await.unwrap();
        assert_eq!(head, 6, "pushes start at the head");
        subs.push((c, rx));
    }

    let mut sent = Vec::new();
    for i in 0..30 {
        let p = payload(&format!("live {i}"));
        let seq = post_app(&poster, g.id, 0, p.clone()).await.unwrap();
        sent.push((seq, p));
    }
    // A sentinel: if anything was pushed twice, it would show up before it.
    let sentinel = payload("sentinel");
    let sentinel_seq = post_app(&poster, g.id, 0, sentinel.clone()).await.unwrap();
    sent.push((sentinel_seq, sentinel));

    for (n, (_conn, rx)) in subs.iter_mut().enumerate() {
        for (seq, p) in &sent {
            let push = tokio::time::timeout(Duration::from_secs(10), rx.recv())
                .await
                .unwrap_or_else(|_| panic!("subscriber {n}: no push for seq {seq}"))
                .unwrap_or_else(|| panic!("subscriber {n}: push channel ended"));
            let Push::Message { group, message } = push;
            assert_eq!(group, g.id);
            assert_eq!(
                message.seq, *seq,
                "subscriber {n}: pushes in order, once each"
            );
            assert_eq!(&message.payload, p);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_commits_for_one_epoch_only_one_wins() {
    let relay = TestRelay::start(&[]).await;
    let a = relay.connect().await;
    let g = create_group(&a).await;
    let b = relay.connect().await;
    b.auth(g.id, 0, &g.key).await.unwrap();

    let (ka, kb) = (AccessKey::random(), AccessKey::random());
    let commit = |k: &AccessKey| PostKind::Commit {
        next_access_key: k.public(),
    };
    let (ra, rb) = tokio::join!(
        a.post(g.id, 0, commit(&ka), payload("commit from a")),
        b.post(g.id, 0, commit(&kb), payload("commit from b")),
    );
    let (winner, loser) = match (&ra, &rb) {
        (Ok(1), Err(e)) if *e == relay_err(ErrorCode::StaleEpoch) => (ka, kb),
        (Err(e), Ok(1)) if *e == relay_err(ErrorCode::StaleEpoch) => (kb, ka),
        _ => panic!("expected exactly one Posted{{seq: 1}} and one StaleEpoch: {ra:?} {rb:?}"),
    };

    for conn in [&a, &b] {
        assert_eq!(
            post_app(conn, g.id, 0, payload("late")).await,
            Err(relay_err(ErrorCode::StaleEpoch)),
            "epoch 0 is closed"
        );
    }

    let c = relay.connect().await;
    assert_eq!(c.auth(g.id, 1, &winner).await, Ok((1, 2)));
    assert_eq!(post_app(&c, g.id, 1, payload("epoch 1")).await, Ok(2));

    let d = relay.connect().await;
    assert_eq!(
        d.auth(g.id, 1, &loser).await,
        Err(relay_err(ErrorCode::AuthFailed))
    );
    assert_eq!(
        d.auth(g.id, 2, &winner).await,
        Err(relay_err(ErrorCode::Unauthorized)),
        "no key stored for a future epoch"
    );

    let (messages, ..) = fetch_all(&c, g.id, 2).await.unwrap();
    assert_eq!(messages.len(), 1);
    let old = relay.connect().await;
    old.auth(g.id, 0, &g.key).await.unwrap();
    let page = old.fetch(g.id, 1, 10).await.unwrap();
    assert_eq!(page.messages.len(), 1);
    assert_eq!(page.messages[0].kind, MessageKind::Commit);
    assert_eq!(page.messages[0].epoch, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn access_is_denied_without_the_right_key() {
    let relay = TestRelay::start(&[]).await;
    let owner = relay.connect().await;
    let g = create_group(&owner).await;
    post_app(&owner, g.id, 0, payload("one")).await.unwrap();

    // No auth at all.
    let x = relay.connect().await;
    assert_eq!(
        post_app(&x, g.id, 0, payload("intruder")).await,
        Err(relay_err(ErrorCode::Unauthorized))
    );
    assert_eq!(
        x.fetch(g.id, 1, 10).await,
        Err(relay_err(ErrorCode::Unauthorized))
    );
    assert_eq!(
        x.subscribe(g.id).await,
        Err(relay_err(ErrorCode::Unauthorized))
    );
    // Wrong key, unknown group.
    assert_eq!(
        x.auth(g.id, 0, &AccessKey::random()).await,
        Err(relay_err(ErrorCode::AuthFailed))
    );
    assert_eq!(
        x.auth(GroupId::random(), 0, &g.key).await,
        Err(relay_err(ErrorCode::NoSuchGroup))
    );
    // Still nothing after the failures.
    assert_eq!(
        x.fetch(g.id, 1, 10).await,
        Err(relay_err(ErrorCode::Unauthorized))
    );

    // Nonces: single use, unknown ones refused, at most 8 outstanding (oldest dropped).
    let nonce = |r: Response| match r {
        Response::Challenge { nonce } => nonce,
        other => panic!("{other:?}"),
    };
    let auth_with = |n: [u8; 32]| Request::Auth {
        group: g.id,
        epoch: 0,
        nonce: n,
        signature: g.key.sign_auth(&n, &g.id, 0),
    };
    let y = relay.connect().await;
    assert_eq!(
        y.request(auth_with([0; 32])).await,
        Err(relay_err(ErrorCode::BadNonce))
    );
    let mut nonces = Vec::new();
    for _ in 0..9 {
        nonces.push(nonce(y.request(Request::Challenge).await.unwrap()));
    }
    assert_eq!(
        y.request(auth_with(nonces[0])).await,
        Err(relay_err(ErrorCode::BadNonce)),
        "the oldest of 9 outstanding nonces is dropped"
    );
    assert!(matches!(
        y.request(auth_with(nonces[8])).await,
        Ok(Response::Authorized { .. })
    ));
    assert_eq!(
        y.request(auth_with(nonces[8])).await,
        Err(relay_err(ErrorCode::BadNonce)),
        "a nonce is single use"
    );
    // A nonce of another connection is unknown here.
    let other_nonce = nonce(owner.request(Request::Challenge).await.unwrap());
    assert_eq!(
        y.request(auth_with(other_nonce)).await,
        Err(relay_err(ErrorCode::BadNonce))
    );

    // Epochs: seqs 1..=3 at epoch 0, commit at 4, then epoch 1 messages at 5 and 6.
    post_app(&owner, g.id, 0, payload("two")).await.unwrap();
    post_app(&owner, g.id, 0, payload("three")).await.unwrap();
    let k1 = AccessKey::random();
    let commit = PostKind::Commit {
        next_access_key: k1.public(),
    };
    assert_eq!(owner.post(g.id, 0, commit, payload("commit")).await, Ok(4));
    let new = relay.connect().await;
    assert_eq!(new.auth(g.id, 1, &k1).await, Ok((1, 5)));
    assert_eq!(post_app(&new, g.id, 1, payload("five")).await, Ok(5));
    assert_eq!(post_app(&new, g.id, 1, payload("six")).await, Ok(6));

    let old = relay.connect().await;
    assert_eq!(old.auth(g.id, 0, &g.key).await, Ok((1, 7)));
    let page = old.fetch(g.id, 1, 256).await.unwrap();
    let seqs: Vec<u64> = page.messages.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, vec![1, 2, 3, 4], "the old key reads its epoch");
    assert_eq!(page.messages[3].kind, MessageKind::Commit);
    assert_eq!(page.needs_epoch, Some(1));
    assert_eq!(page.next, 5);
    assert_eq!(page.head, 7);
    assert_eq!(
        post_app(&old, g.id, 0, payload("stale")).await,
        Err(relay_err(ErrorCode::StaleEpoch))
    );
    assert_eq!(
        post_app(&old, g.id, 1, payload("not mine")).await,
        Err(relay_err(ErrorCode::Unauthorized))
    );
    assert_eq!(
        old.auth(g.id, 1, &g.key).await,
        Err(relay_err(ErrorCode::AuthFailed)),
        "the old key does not open the new epoch"
    );

    // The new key alone does not read the old epoch.
    let page = new.fetch(g.id, 1, 256).await.unwrap();
    assert!(page.messages.is_empty());
    assert_eq!((page.next, page.needs_epoch), (1, Some(0)));
    let page = new.fetch(g.id, 5, 256).await.unwrap();
    let seqs: Vec<u64> = page.messages.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, vec![5, 6]);
    assert_eq!((page.next, page.head, page.needs_epoch), (7, 7, None));

    // Bad padding is refused.
    assert_eq!(
        post_app(&new, g.id, 1, vec![0; 300]).await,
        Err(relay_err(ErrorCode::BadPadding))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn retention_by_age_removes_old_messages() {
    let relay = TestRelay::start(&["--retention", "2s", "--retention-interval", "1s"]).await;
    let conn = relay.connect().await;
    let g = create_group(&conn).await;
    for i in 0..5 {
        post_app(&conn, g.id, 0, payload(&format!("old {i}")))
            .await
            .unwrap();
    }
    eventually(Duration::from_secs(30), "messages to expire", || async {
        let (messages, next, head, _) = fetch_all(&conn, g.id, 1).await.unwrap();
        assert_eq!(head, 6, "the head does not move back");
        assert!(next <= head);
        messages.is_empty().then_some(())
    })
    .await;
    assert_eq!(
        post_app(&conn, g.id, 0, payload("new")).await,
        Ok(6),
        "sequence numbers are never reused"
    );
    let page = conn.fetch(g.id, 1, 10).await.unwrap();
    let seqs: Vec<u64> = page.messages.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, vec![6]);
}

#[tokio::test(flavor = "multi_thread")]
async fn retention_by_count_keeps_the_newest() {
    let relay =
        TestRelay::start(&["--max-group-messages", "10", "--retention-interval", "1s"]).await;
    let conn = relay.connect().await;
    let g = create_group(&conn).await;
    let mut sent = Vec::new();
    for i in 1..=30u64 {
        let p = payload(&format!("m {i}"));
        assert_eq!(post_app(&conn, g.id, 0, p.clone()).await, Ok(i));
        sent.push(p);
    }
    let messages = eventually(Duration::from_secs(30), "trim to 10 messages", || async {
        let (messages, ..) = fetch_all(&conn, g.id, 1).await.unwrap();
        (messages.len() <= 10).then_some(messages)
    })
    .await;
    let seqs: Vec<u64> = messages.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, (21..=30).collect::<Vec<_>>(), "the newest 10 remain");
    for m in &messages {
        assert_eq!(m.payload, sent[m.seq as usize - 1]);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_exits_cleanly_and_keeps_acknowledged_messages() {
    let mut relay = TestRelay::start(&[]).await;
    let conn = relay.connect().await;
    let g = create_group(&conn).await;
    let mut sent = Vec::new();
    for i in 1..=20u64 {
        let p = payload(&format!("durable {i}"));
        assert_eq!(post_app(&conn, g.id, 0, p.clone()).await, Ok(i));
        sent.push(p);
    }
    // An idle subscriber must not hold the shutdown up.
    let idle = relay.connect().await;
    idle.auth(g.id, 0, &g.key).await.unwrap();
    idle.subscribe(g.id).await.unwrap();

    let status = relay
        .stop_gracefully(Duration::from_secs(10))
        .await
        .expect("kith-relay did not exit within 10 s of SIGTERM");
    assert!(status.success(), "exit status after SIGTERM: {status}");
    assert!(
        conn.ping().await.is_err(),
        "the connection is gone with the relay"
    );

    relay.restart().await;
    let conn = relay.connect().await;
    conn.auth(g.id, 0, &g.key).await.unwrap();
    let (messages, next, head, _) = fetch_all(&conn, g.id, 1).await.unwrap();
    assert_eq!((next, head), (21, 21));
    let got: Vec<Vec<u8>> = messages.into_iter().map(|m| m.payload).collect();
    assert_eq!(got, sent);
}

#[tokio::test(flavor = "multi_thread")]
async fn relay_logs_and_metrics_carry_no_ids_or_secrets() {
    use kith_protocol::SlotId;
    use kith_protocol::access::manage_hash;

    let mut relay = TestRelay::start(&[]).await;
    let conn = relay.connect().await;
    let mut groups = Vec::new();
    for _ in 0..3 {
        let g = create_group(&conn).await;
        let sub = relay.connect().await;
        sub.auth(g.id, 0, &g.key).await.unwrap();
        sub.subscribe(g.id).await.unwrap();
        post_app(&conn, g.id, 0, payload("kith-marker-stored-payload"))
            .await
            .unwrap();
        fetch_all(&conn, g.id, 1).await.unwrap();
        // Failures are logged too, perhaps: they must not name the group either.
        let stranger = relay.connect().await;
        let _ = stranger.auth(g.id, 0, &AccessKey::random()).await;
        let _ = stranger.fetch(g.id, 1, 1).await;
        groups.push(g.id);
    }
    let slot = SlotId(rand::random());
    let token: [u8; 32] = rand::random();
    let put = Request::PutInvite {
        slot,
        manage_hash: manage_hash(&token),
        ttl_secs: 600,
        invitation: payload("kith-marker-stored-invitation"),
    };
    assert!(matches!(
        conn.request(put).await,
        Ok(Response::InvitePut { .. })
    ));
    let joiner = relay.connect().await;
    let answer = Request::AnswerInvite {
        slot,
        answer: payload("answer"),
    };
    assert_eq!(joiner.request(answer).await, Ok(Response::Answered));
    let get = Request::GetAnswer {
        slot,
        manage_token: token,
    };
    assert!(matches!(
        conn.request(get).await,
        Ok(Response::Answer { .. })
    ));

    let (_, metrics) = http_get(relay.metrics_addr(), "/metrics").await;
    let status = relay
        .stop_gracefully(Duration::from_secs(10))
        .await
        .expect("exit after SIGTERM");
    assert!(status.success());

    let log = relay.log();
    let slot_hex = kith_protocol::ids::hex(&slot.0);
    let token_hex = kith_protocol::ids::hex(&token);
    for g in &groups {
        assert!(
            !log.contains(&g.to_hex()),
            "the relay log names group {}",
            g.to_hex()
        );
        assert!(!metrics.contains(&g.to_hex()), "metrics name a group");
    }
    for (what, hex) in [("slot id", &slot_hex), ("manage token", &token_hex)] {
        assert!(
            !log.contains(hex.as_str()),
            "the relay log holds the {what}"
        );
        assert!(!metrics.contains(hex.as_str()), "metrics hold the {what}");
    }

    // The data directory holds the (client-sealed) invite blobs as given, message
    // payloads sealed again under shredding keys, and only hashes of slot ids and
    // management tokens.
    let mut stored = Vec::new();
    read_all_files(relay.data_dir(), &mut stored);
    assert!(
        contains(&stored, b"kith-marker-stored-invitation"),
        "sanity: the scan of the data dir sees stored blobs"
    );
    assert!(
        !contains(&stored, b"kith-marker-stored-payload"),
        "message payloads are sealed at rest"
    );
    assert!(
        !contains(&stored, &slot.0),
        "the data dir holds a raw slot id"
    );
    assert!(
        !contains(&stored, &token),
        "the data dir holds a raw management token"
    );
}

fn read_all_files(dir: &std::path::Path, out: &mut Vec<u8>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            read_all_files(&path, out);
        } else if let Ok(bytes) = std::fs::read(&path) {
            out.extend_from_slice(&bytes);
            out.extend_from_slice(b"\0--file boundary--\0");
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread")]
async fn pushes_follow_epochs_and_unsubscribe() {
    let relay = TestRelay::start(&[]).await;
    let owner = relay.connect().await;
    let g = create_group(&owner).await;
    let h = create_group(&owner).await;
    let f = create_group(&owner).await;

    let s = relay.connect().await;
    let mut rx = s.take_pushes().unwrap();
    for grp in [&g, &h, &f] {
        s.auth(grp.id, 0, &grp.key).await.unwrap();
        assert_eq!(s.subscribe(grp.id).await, Ok(1));
    }
    let mut next_push = async || {
        let Push::Message { group, message } =
            tokio::time::timeout(Duration::from_secs(10), rx.recv())
                .await
                .expect("a push within 10 s")
                .expect("push channel open");
        (group, message.seq, message.payload)
    };

    // s holds only epoch 0 of g: it gets the commit that ends it, not what follows.
    assert_eq!(post_app(&owner, g.id, 0, payload("g0")).await, Ok(1));
    let k1 = AccessKey::random();
    let commit = PostKind::Commit {
        next_access_key: k1.public(),
    };
    assert_eq!(
        owner.post(g.id, 0, commit, payload("g commit")).await,
        Ok(2)
    );
    let member1 = relay.connect().await;
    member1.auth(g.id, 1, &k1).await.unwrap();
    assert_eq!(post_app(&member1, g.id, 1, payload("g1")).await, Ok(3));
    assert_eq!(
        post_app(&owner, h.id, 0, payload("h sentinel")).await,
        Ok(1)
    );
    assert_eq!(next_push().await, (g.id, 1, payload("g0")));
    assert_eq!(next_push().await, (g.id, 2, payload("g commit")));
    assert_eq!(
        next_push().await,
        (h.id, 1, payload("h sentinel")),
        "no push of an epoch s is not authorized for"
    );

    // After Unsubscribe, nothing more from h.
    assert_eq!(
        s.request(Request::Unsubscribe { group: h.id }).await,
        Ok(Response::Unsubscribed)
    );
    assert_eq!(post_app(&owner, h.id, 0, payload("h later")).await, Ok(2));
    assert_eq!(
        post_app(&owner, f.id, 0, payload("f sentinel")).await,
        Ok(1)
    );
    assert_eq!(next_push().await, (f.id, 1, payload("f sentinel")));
}

#[tokio::test(flavor = "multi_thread")]
async fn one_connection_follows_at_most_64_groups() {
    let relay = TestRelay::start(&[]).await;
    let mut groups = Vec::new();
    for _ in 0..3 {
        let creator = relay.connect().await;
        for _ in 0..22 {
            groups.push(create_group(&creator).await);
        }
    }
    let s = relay.connect().await;
    for g in &groups[..64] {
        s.auth(g.id, 0, &g.key).await.unwrap();
        s.subscribe(g.id).await.unwrap();
    }
    let last = &groups[64];
    let r = match s.auth(last.id, 0, &last.key).await {
        Ok(_) => s.subscribe(last.id).await.map(|_| ()),
        Err(e) => Err(e),
    };
    assert_eq!(r, Err(relay_err(ErrorCode::TooMany)), "a 65th group");
    s.ping().await.unwrap();
}

/// A second `Auth` for a (group, epoch) the connection already holds is still checked:
/// a bad signature gets `auth_failed`, not `Authorized` (found by a client written from
/// docs/PROTOCOL.md alone).
#[tokio::test]
async fn a_repeated_auth_is_verified_too() {
    let relay = TestRelay::start(&[]).await;
    let owner = relay.connect().await;
    let g = create_group(&owner).await;
    owner.auth(g.id, 0, &g.key).await.unwrap();
    let fresh = || async {
        match owner.request(Request::Challenge).await.unwrap() {
            Response::Challenge { nonce } => nonce,
            other => panic!("{other:?}"),
        }
    };
    let nonce = fresh().await;
    assert_eq!(
        owner
            .request(Request::Auth {
                group: g.id,
                epoch: 0,
                nonce,
                signature: [0; 64],
            })
            .await,
        Err(relay_err(ErrorCode::AuthFailed)),
        "64 zero bytes are not a signature"
    );
    let nonce = fresh().await;
    assert!(matches!(
        owner
            .request(Request::Auth {
                group: g.id,
                epoch: 0,
                nonce,
                signature: g.key.sign_auth(&nonce, &g.id, 0),
            })
            .await,
        Ok(Response::Authorized { .. })
    ));
    // The failed attempt took nothing away: the connection still posts.
    post_app(&owner, g.id, 0, payload("still in"))
        .await
        .unwrap();
}
