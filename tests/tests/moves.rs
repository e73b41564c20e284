//! What the relay does for groups that move between relays (issue 15): `CreateGroupAt`
//! sets a group up at the epoch it is at elsewhere, under an id its members chose, with a
//! log that goes on at the sequence number it had reached.

use kith::{RelayConnection, RelayError};
use kith_protocol::access::{AccessKey, AdminKey};
use kith_protocol::limits::MAX_FIRST_SEQ;
use kith_protocol::{ErrorCode, GroupId, Push, Request, Response, Seq};
use kith_tests::*;
use std::time::Duration;

/// A group set up with `CreateGroupAt`, with the access key of its epoch.
struct Moved {
    id: GroupId,
    key: AccessKey,
}

/// Sets a group up at `epoch` with its log starting at `first_seq`, under a fresh id.
async fn set_up(conn: &RelayConnection, epoch: u64, first_seq: Seq) -> Moved {
    let (key, admin) = (AccessKey::random(), AdminKey::random());
    let id = GroupId(rand::random());
    let made = conn
        .create_group_at(id, epoch, first_seq, key.public(), b"", admin.public())
        .await
        .expect("CreateGroupAt");
    assert_eq!(made, id);
    Moved { id, key }
}

fn refused(code: ErrorCode) -> Result<Response, RelayError> {
    Err(RelayError::Relay(code))
}

/// A group set up here at the epoch it is at elsewhere, under an id its members chose;
/// the id cannot be taken twice (the creation secret is checked by the same code as
/// `CreateGroup`'s).
#[tokio::test(flavor = "multi_thread")]
async fn a_group_is_set_up_at_its_epoch_under_a_chosen_id() {
    let relay = TestRelay::start(&[]).await;
    let conn = relay.connect().await;
    let (key, admin) = (AccessKey::random(), AdminKey::random());
    let id = GroupId(rand::random());
    let create = |key: &AccessKey| Request::CreateGroupAt {
        group: id,
        epoch: 7,
        first_seq: 1,
        access_key: key.public(),
        creation_secret: Vec::new(),
        admin_key: admin.public(),
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
    // Its admin key is the one given.
    assert!(member.admin_auth(id, &admin).await.is_ok());
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
            conn.create_group_at(id, 0, bad, key.public(), b"", [1; 32])
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
