//! What the relay does for groups that move between relays (issue 15): `CreateGroupAt`
//! sets a group up at the epoch it is at elsewhere, under an id its members chose, with a
//! log that goes on at the sequence number it had reached; `DeleteGroup` removes a copy
//! the group has left, everything of it, for good (durably, across a restart and a
//! kill -9), and leaves the id free for a new group that needs a fresh `Auth`.

use kith::{RelayConnection, RelayError};
use kith_protocol::access::{AccessKey, AdminKey, manage_hash};
use kith_protocol::limits::MAX_FIRST_SEQ;
use kith_protocol::{ErrorCode, GroupId, Push, Request, Response, Seq, SlotId};
use kith_tests::*;
use std::path::Path;
use std::time::Duration;

/// A group set up with `CreateGroupAt`, with the access key of its epoch.
struct Moved {
    id: GroupId,
    key: AccessKey,
    admin: AdminKey,
}

/// Sets a group up at `epoch` with its log starting at `first_seq`, under a fresh id.
async fn set_up(conn: &RelayConnection, epoch: u64, first_seq: Seq) -> Moved {
    let (key, admin) = (AccessKey::random(), AdminKey::random());
    let id = GroupId(rand::random());
    let made = conn
        .create_group_at(
            id,
            epoch,
            first_seq,
            key.public(),
            b"",
            &[admin.public()],
            0,
        )
        .await
        .expect("CreateGroupAt");
    assert_eq!(made, id);
    Moved { id, key, admin }
}

fn refused(code: ErrorCode) -> Result<Response, RelayError> {
    Err(RelayError::Relay(code))
}

/// A knock of `len` bytes on `group` in a fresh slot, with the management token `token`.
fn knock(group: GroupId, token: &[u8; 32], len: usize) -> (SlotId, Request) {
    let slot = SlotId(rand::random());
    let req = Request::Knock {
        group,
        slot,
        manage_hash: manage_hash(token),
        knock: vec![7; len],
    };
    (slot, req)
}

/// `kith-relay stats --json` on the data dir of a stopped relay.
fn stats(data: &Path) -> serde_json::Value {
    let mut cmd = std::process::Command::new(relay_bin());
    cmd.arg("--data").arg(data).args(["stats", "--json"]);
    for (k, _) in std::env::vars_os() {
        if k.to_str().is_some_and(|k| k.starts_with("KITH_RELAY_")) {
            cmd.env_remove(k);
        }
    }
    let out = cmd.output().expect("run kith-relay stats");
    assert!(
        out.status.success(),
        "stats: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stats JSON")
}

/// A group set up here at the epoch it is at elsewhere, under an id its members chose;
/// the id cannot be taken twice (the creation secret is checked by the same code as
/// `CreateGroup`'s).
#[tokio::test(flavor = "multi_thread")]
async fn a_group_is_set_up_at_its_epoch_under_a_chosen_id() {
    let relay = TestRelay::start(&[]).await;
    let conn = relay.connect().await;
    let (key, admin, other) = (AccessKey::random(), AdminKey::random(), AdminKey::random());
    let id = GroupId(rand::random());
    let create = |key: &AccessKey| Request::CreateGroupAt {
        group: id,
        epoch: 7,
        first_seq: 1,
        access_key: key.public(),
        creation_secret: Vec::new(),
        admin_keys: vec![admin.public(), other.public()],
        retention_secs: 120,
    };
    assert_eq!(
        conn.request(create(&key)).await,
        Ok(Response::GroupCreated { group: id })
    );
    assert_eq!(
        conn.request(create(&AccessKey::random())).await,
        refused(ErrorCode::GroupExists),
        "nobody takes the id a second time"
    );
    // It is at epoch 7: its key works for 7 and nothing else; members post there.
    let member = relay.connect().await;
    assert_eq!(member.auth(id, 7, &key).await, Ok((7, 1)));
    assert!(matches!(
        member.auth(id, 6, &key).await,
        Err(RelayError::Relay(_))
    ));
    assert_eq!(post_app(&member, id, 7, vec![1; 256]).await, Ok(1));
    // Its admin keys are those given, every one of them (whoever set it up, each admin
    // can act there), and its retention is the one asked for.
    let info = member.admin_auth(id, &other).await.unwrap();
    let mut want = vec![admin.public(), other.public()];
    want.sort_unstable();
    let mut keys = info.keys.clone();
    keys.sort_unstable();
    assert_eq!(keys, want);
    assert_eq!(info.retention_asked, 120);
    assert_eq!(
        relay
            .connect()
            .await
            .auth_info(id, 7, &key)
            .await
            .unwrap()
            .retention_secs,
        120
    );
}

/// The log of a moved group goes on where it was: its first message gets `first_seq`,
/// the next ones count on from there (across a restart too), a fetch from below the
/// start returns it from its first message, and heads say where it is. `first_seq` is
/// 1 to 2^62; anything else is `bad_request` and creates nothing.
#[tokio::test(flavor = "multi_thread")]
async fn a_moved_groups_log_starts_at_first_seq() {
    let mut relay = TestRelay::start(&[]).await;
    let conn = relay.connect().await;
    let start: Seq = 1 << 40;
    let g = set_up(&conn, 3, start).await;
    assert_eq!(conn.auth(g.id, 3, &g.key).await, Ok((3, start)));
    let watcher = relay.connect().await;
    watcher.auth(g.id, 3, &g.key).await.unwrap();
    assert_eq!(watcher.subscribe(g.id).await, Ok(start));
    let mut pushes = watcher.take_pushes().unwrap();

    assert_eq!(
        post_app(&conn, g.id, 3, payload("first here")).await,
        Ok(start)
    );
    let next = Box::new(AccessKey::random());
    let commit = kith_protocol::PostKind::Commit {
        next_access_key: next.public(),
    };
    assert_eq!(
        conn.post(g.id, 3, commit, payload("a commit")).await,
        Ok(start + 1)
    );
    match tokio::time::timeout(Duration::from_secs(5), pushes.recv()).await {
        Ok(Some(Push::Message { message, .. })) => assert_eq!(message.seq, start),
        other => panic!("no push of the first message: {other:?}"),
    }
    for from in [0, 1, start - 1, start] {
        let page = conn.fetch(g.id, from, 10).await.unwrap();
        let seqs: Vec<Seq> = page.messages.iter().map(|m| m.seq).collect();
        assert_eq!(seqs, vec![start, start + 1], "fetch from {from}");
        assert_eq!((page.next, page.head), (start + 2, start + 2));
        assert_eq!(page.messages[0].payload, payload("first here"));
    }

    // Numbers go on from there after a restart.
    relay.restart().await;
    let conn = relay.connect().await;
    assert_eq!(conn.auth(g.id, 4, &next).await, Ok((4, start + 2)));
    assert_eq!(
        post_app(&conn, g.id, 4, payload("after")).await,
        Ok(start + 2)
    );

    // The bounds: 0 and above 2^62 are refused and create nothing; 2^62 itself is taken.
    for bad in [0, MAX_FIRST_SEQ + 1, u64::MAX] {
        let id = GroupId(rand::random());
        let key = AccessKey::random();
        assert_eq!(
            conn.create_group_at(id, 0, bad, key.public(), b"", &[[1; 32]], 0)
                .await,
            Err(RelayError::Relay(ErrorCode::BadRequest)),
            "first_seq {bad}"
        );
        assert_eq!(
            conn.auth(id, 0, &key).await,
            Err(RelayError::Relay(ErrorCode::NoSuchGroup)),
            "first_seq {bad} made a group"
        );
    }
    let top = set_up(&conn, 0, MAX_FIRST_SEQ).await;
    conn.auth(top.id, 0, &top.key).await.unwrap();
    assert_eq!(
        post_app(&conn, top.id, 0, payload("top")).await,
        Ok(MAX_FIRST_SEQ)
    );
    assert_eq!(
        post_app(&conn, top.id, 0, payload("top")).await,
        Ok(MAX_FIRST_SEQ + 1)
    );
}

/// `DeleteGroup` is for the group's admins only; it removes everything of the group
/// (messages, blobs, knocks answered or not, admin keys), frees what the group held of
/// the relay-wide invite cap, lowers the gauges, stops pushes, and leaves the id free.
/// Connections that had proved access to the deleted group must prove it again for a
/// new group under the same id, even one at the same epoch with the same key.
#[tokio::test(flavor = "multi_thread")]
async fn an_admin_deletes_a_group_and_everything_of_it_goes() {
    // The least the relay takes: one slot with a largest welcome, and 32 KiB.
    let relay = TestRelay::start(&["--max-invite-bytes", "1056KiB"]).await;
    let admin = relay.connect().await;
    let g = set_up(&admin, 5, 100).await;
    admin.auth(g.id, 5, &g.key).await.unwrap();
    // A bystander group, untouched by all of it.
    let other_conn = relay.connect().await;
    let other = create_group(&other_conn).await;
    post_app(&other_conn, other.id, 0, payload("bystander"))
        .await
        .unwrap();

    // A member (not an admin), subscribed.
    let member = relay.connect().await;
    member.auth(g.id, 5, &g.key).await.unwrap();
    member.subscribe(g.id).await.unwrap();
    let mut member_pushes = member.take_pushes().unwrap();
    // A subscriber that asks nothing more of the group: only the relay can end its
    // subscription.
    let watcher = relay.connect().await;
    watcher.auth(g.id, 5, &g.key).await.unwrap();
    watcher.subscribe(g.id).await.unwrap();
    let mut watcher_pushes = watcher.take_pushes().unwrap();
    let mut sizes = 0;
    for (i, len) in [200usize, 5000, 60_000].into_iter().enumerate() {
        let body = payload_of(len, i as u8);
        sizes += body.len() as i64;
        assert_eq!(post_app(&admin, g.id, 5, body).await, Ok(100 + i as Seq));
    }
    for pushes in [&mut member_pushes, &mut watcher_pushes] {
        for _ in 0..3 {
            assert!(matches!(
                tokio::time::timeout(Duration::from_secs(5), pushes.recv()).await,
                Ok(Some(Push::Message { .. }))
            ));
        }
    }
    let blob = vec![9u8; 64 * 1024];
    let blob_id = admin.put_blob(g.id, blob.clone()).await.unwrap();

    // Knocks: one answered with a largest welcome, one waiting. With them the invite
    // cap has no room left for another 16 KiB knock.
    let stranger = relay.connect().await;
    let token: [u8; 32] = rand::random();
    let (welcomed, req) = knock(g.id, &token, 16 * 1024);
    assert!(matches!(
        stranger.request(req).await,
        Ok(Response::Knocked { .. })
    ));
    assert_eq!(
        member
            .request(Request::PutWelcome {
                slot: welcomed,
                manage_token: token,
                welcome: vec![5; 1 << 20],
            })
            .await,
        Ok(Response::WelcomePut)
    );
    let (waiting, req) = knock(g.id, &token, 1024);
    assert!(matches!(
        stranger.request(req).await,
        Ok(Response::Knocked { .. })
    ));
    let (_, too_many) = knock(other.id, &token, 16 * 1024);
    assert_eq!(
        stranger.request(too_many).await,
        refused(ErrorCode::InvitesFull)
    );
    let bystander_bytes = payload("bystander").len() as i64;
    assert_eq!(metric(&relay, "kith_groups").await, 2);
    assert_eq!(metric(&relay, "kith_stored_messages").await, 4);
    assert_eq!(
        metric(&relay, "kith_stored_bytes").await,
        sizes + bystander_bytes
    );
    assert_eq!(metric(&relay, "kith_stored_blobs").await, 1);

    // Refused: a connection that proved no admin key (the member), one that proved a
    // key the group no longer has, and the admin's before it proves its key.
    let delete = Request::DeleteGroup { group: g.id };
    assert_eq!(
        member.request(delete.clone()).await,
        refused(ErrorCode::Forbidden)
    );
    assert_eq!(
        admin.request(delete.clone()).await,
        refused(ErrorCode::Forbidden)
    );
    let former = AdminKey::random();
    admin.admin_auth(g.id, &g.admin).await.unwrap();
    admin
        .set_admins(g.id, vec![g.admin.public(), former.public()])
        .await
        .unwrap();
    let demoted = relay.connect().await;
    demoted.admin_auth(g.id, &former).await.unwrap();
    admin
        .set_admins(g.id, vec![g.admin.public()])
        .await
        .unwrap();
    assert_eq!(
        demoted.request(delete.clone()).await,
        refused(ErrorCode::Forbidden)
    );
    // Nothing of it went.
    assert_eq!(fetch_all(&member, g.id, 1).await.unwrap().0.len(), 3);

    // The admin deletes it.
    assert_eq!(admin.delete_group(g.id).await, Ok(()));

    // Unknown from now on, to everyone.
    let fresh = relay.connect().await;
    assert_eq!(
        fresh.auth(g.id, 5, &g.key).await,
        Err(RelayError::Relay(ErrorCode::NoSuchGroup))
    );
    assert_eq!(
        fresh.admin_auth(g.id, &g.admin).await.map(|_| ()),
        Err(RelayError::Relay(ErrorCode::NoSuchGroup))
    );
    let (_, late) = knock(g.id, &token, 1024);
    assert_eq!(
        stranger.request(late).await,
        refused(ErrorCode::NoSuchGroup)
    );
    // Connections that held access get what any connection gets for a group it never
    // proved.
    assert_eq!(
        post_app(&member, g.id, 5, payload("too late")).await,
        Err(RelayError::Relay(ErrorCode::Unauthorized))
    );
    assert_eq!(
        admin.get_blob(g.id, blob_id).await,
        Err(RelayError::Relay(ErrorCode::Unauthorized))
    );
    assert_eq!(
        admin.request(Request::GetKnocks { group: g.id }).await,
        refused(ErrorCode::Unauthorized)
    );
    assert_eq!(
        admin.request(delete.clone()).await,
        refused(ErrorCode::Forbidden)
    );
    // The knocks' slots are gone, answered or not, and their bytes with them: a 16 KiB
    // knock fits again.
    for slot in [welcomed, waiting] {
        assert_eq!(
            stranger.request(Request::GetWelcome { slot }).await,
            refused(ErrorCode::NoSuchInvite)
        );
    }
    let (_, fits) = knock(other.id, &token, 16 * 1024);
    assert!(matches!(
        stranger.request(fits).await,
        Ok(Response::Knocked { .. })
    ));
    assert_eq!(metric(&relay, "kith_groups").await, 1);
    assert_eq!(metric(&relay, "kith_stored_messages").await, 1);
    assert_eq!(metric(&relay, "kith_stored_bytes").await, bystander_bytes);
    assert_eq!(metric(&relay, "kith_stored_blobs").await, 0);
    assert_eq!(metric(&relay, "kith_stored_blob_bytes").await, 0);

    // The id is free: a new group under it, at the same epoch and with the same key.
    let again = fresh
        .create_group_at(g.id, 5, 100, g.key.public(), b"", &[g.admin.public()], 0)
        .await;
    assert_eq!(again, Ok(g.id));
    // Old authorizations do not count for it: the member's (which it lost when it
    // found the group gone) nor the watcher's (which asked nothing since, so that it
    // still holds its proof of the old group's epoch 5, under the same key)…
    for (who, conn) in [("member", &member), ("watcher", &watcher)] {
        assert_eq!(
            post_app(conn, g.id, 5, payload("old proof")).await,
            Err(RelayError::Relay(ErrorCode::Unauthorized)),
            "{who}"
        );
    }
    // …a fresh one does, and shows an empty log: nothing of the old group is served.
    let newcomer = relay.connect().await;
    assert_eq!(newcomer.auth(g.id, 5, &g.key).await, Ok((5, 100)));
    assert!(fetch_all(&newcomer, g.id, 1).await.unwrap().0.is_empty());
    assert_eq!(
        newcomer.get_blob(g.id, blob_id).await,
        Err(RelayError::Relay(ErrorCode::NoSuchBlob))
    );
    assert_eq!(
        newcomer.request(Request::GetKnocks { group: g.id }).await,
        Ok(Response::Knocks { knocks: vec![] })
    );
    newcomer.subscribe(g.id).await.unwrap();
    let mut newcomer_pushes = newcomer.take_pushes().unwrap();
    assert_eq!(
        post_app(&newcomer, g.id, 5, payload("new group")).await,
        Ok(100)
    );
    let page = watcher.fetch(g.id, 1, 10).await.unwrap();
    assert!(page.messages.is_empty(), "served on an old proof");
    assert_eq!(page.needs_epoch, Some(5));
    // A repair record goes to every subscriber of a group, whatever it proved: the old
    // group's subscriptions must be gone for the member not to get it.
    newcomer.admin_auth(g.id, &g.admin).await.unwrap();
    assert_eq!(
        newcomer.reset_access_key(g.id, 5, g.key.public(), 0).await,
        Ok(101)
    );
    // The new group's subscriber gets both pushes; the old group's subscribers nothing.
    for seq in [100, 101] {
        match tokio::time::timeout(Duration::from_secs(5), newcomer_pushes.recv()).await {
            Ok(Some(Push::Message { message, .. })) => assert_eq!(message.seq, seq),
            other => panic!("push {seq}: {other:?}"),
        }
    }
    for (who, pushes) in [
        ("watcher", &mut watcher_pushes),
        ("member", &mut member_pushes),
    ] {
        assert!(
            tokio::time::timeout(Duration::from_millis(500), pushes.recv())
                .await
                .is_err(),
            "the deleted group's subscriber ({who}) got a push"
        );
    }
    watcher.ping().await.unwrap();
    member.ping().await.unwrap();
    // The member proves access again and is a member of the new group.
    member.auth(g.id, 5, &g.key).await.unwrap();
    assert_eq!(
        post_app(&member, g.id, 5, payload("proved again")).await,
        Ok(102)
    );
    // The bystander lost nothing.
    let (messages, ..) = fetch_all(&other_conn, other.id, 1).await.unwrap();
    assert_eq!(messages.len(), 1);
}

/// A deletion answered is a deletion kept: after a kill -9 right after the answer, and
/// after a restart, the group is unknown, nothing of it is on the data dir (not its large
/// values' files either), and the id can be used again.
#[tokio::test(flavor = "multi_thread")]
async fn a_deletion_holds_after_a_kill_9_and_a_restart() {
    let mut relay = TestRelay::start(&[]).await;
    let conn = relay.connect().await;
    let g = set_up(&conn, 2, 10).await;
    conn.auth(g.id, 2, &g.key).await.unwrap();
    for i in 0..20u8 {
        let len = if i % 4 == 0 { 100_000 } else { 300 };
        post_app(&conn, g.id, 2, payload_of(len, i)).await.unwrap();
    }
    conn.put_blob(g.id, vec![4; 64 * 1024]).await.unwrap();
    let (_, req) = knock(g.id, &[1; 32], 1024);
    assert!(matches!(
        conn.request(req).await,
        Ok(Response::Knocked { .. })
    ));
    let bystander = create_group(&conn).await;
    post_app(&conn, bystander.id, 0, payload("stays"))
        .await
        .unwrap();
    // Into sled (the open's replay), so that the large values are files of their own.
    relay.restart().await;
    relay.kill9();
    assert!(
        !value_files_of(relay.data_dir(), g.id).is_empty(),
        "no value files to check"
    );
    let before = stats(relay.data_dir());
    assert_eq!(before["groups"], 2);
    assert_eq!(before["blobs"], 1);
    assert_eq!(before["invite_slots"], 1);
    relay.start_again().await;

    let conn = relay.connect().await;
    conn.admin_auth(g.id, &g.admin).await.unwrap();
    conn.delete_group(g.id).await.unwrap();
    relay.kill9();

    let after = stats(relay.data_dir());
    assert_eq!(after["groups"], 1, "{after}");
    assert_eq!(after["messages"], 1, "{after}");
    assert_eq!(after["blobs"], 0, "{after}");
    assert_eq!(after["invite_slots"], 0, "{after}");
    assert_eq!(value_files_of(relay.data_dir(), g.id), Vec::<String>::new());
    relay.start_again().await;
    let conn = relay.connect().await;
    assert_eq!(
        conn.auth(g.id, 2, &g.key).await,
        Err(RelayError::Relay(ErrorCode::NoSuchGroup))
    );
    conn.auth(bystander.id, 0, &bystander.key).await.unwrap();
    assert_eq!(fetch_all(&conn, bystander.id, 1).await.unwrap().0.len(), 1);

    // A graceful restart keeps it so, and the id can be used again.
    relay.stop_gracefully(Duration::from_secs(20)).await;
    relay.start_again().await;
    let conn = relay.connect().await;
    assert_eq!(
        conn.auth(g.id, 2, &g.key).await,
        Err(RelayError::Relay(ErrorCode::NoSuchGroup))
    );
    assert_eq!(
        conn.create_group_at(g.id, 2, 10, g.key.public(), b"", &[g.admin.public()], 0)
            .await,
        Ok(g.id)
    );
    assert_eq!(conn.auth(g.id, 2, &g.key).await, Ok((2, 10)));
    assert!(fetch_all(&conn, g.id, 1).await.unwrap().0.is_empty());
    assert_eq!(
        conn.request(Request::GetKnocks { group: g.id }).await,
        Ok(Response::Knocks { knocks: vec![] })
    );
}

/// Retention goes on past a deleted group: the sweeps (full ones every second here, and
/// the short ones of groups that keep things briefly) skip it, and keep deleting what
/// expired in the others.
#[tokio::test(flavor = "multi_thread")]
async fn retention_goes_on_past_a_deleted_group() {
    let relay = TestRelay::start(&["--retention-interval", "1s"]).await;
    let conn = relay.connect().await;
    let mut groups = Vec::new();
    for _ in 0..3 {
        let g = set_up(&conn, 0, 1).await;
        conn.auth(g.id, 0, &g.key).await.unwrap();
        conn.admin_auth(g.id, &g.admin).await.unwrap();
        assert_eq!(conn.set_retention(g.id, 2).await, Ok(2));
        for i in 0..5u8 {
            post_app(&conn, g.id, 0, payload_of(300, i)).await.unwrap();
        }
        groups.push(g);
    }
    // Deleted while the sweeps run.
    for g in &groups[..2] {
        conn.delete_group(g.id).await.unwrap();
    }
    let kept = &groups[2];
    eventually(Duration::from_secs(15), "the kept group's expiry", || {
        let conn = &conn;
        async move {
            let page = conn.fetch(kept.id, 1, 10).await.ok()?;
            (page.messages.is_empty() && page.head == 6).then_some(())
        }
    })
    .await;
    assert_eq!(metric(&relay, "kith_stored_messages").await, 0);
    assert_eq!(metric(&relay, "kith_groups").await, 1);
    assert!(
        !relay.log().contains("retention failed"),
        "{}",
        relay.log_tail(20)
    );
}
