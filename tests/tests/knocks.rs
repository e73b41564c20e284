//! The knock box at the relay: anyone may knock on an existing group, only members list
//! and remove knocks, the box is bounded, and what was acknowledged survives a restart.

use kith::RelayError;
use kith_protocol::access::{manage_hash, slot_key};
use kith_protocol::limits::MAX_KNOCKS;
use kith_protocol::{ErrorCode, GroupId, Request, Response, SlotId};
use kith_tests::*;

fn knock(group: GroupId, token: &[u8; 32], byte: u8) -> (SlotId, Request) {
    let slot = SlotId(rand::random());
    let req = Request::Knock {
        group,
        slot,
        manage_hash: manage_hash(token),
        knock: vec![byte; 1024],
    };
    (slot, req)
}

fn knocks_of(r: Result<Response, RelayError>) -> Vec<kith_protocol::KnockEntry> {
    match r {
        Ok(Response::Knocks { knocks }) => knocks,
        other => panic!("expected knocks, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn anyone_knocks_members_see_and_answer_and_the_box_is_bounded() {
    let mut relay = TestRelay::start(&[]).await;
    let member = relay.connect().await;
    let group = create_group(&member).await;
    let token: [u8; 32] = rand::random();

    // A stranger (no Auth at all) knocks; a knock on no group is refused.
    let stranger = relay.connect().await;
    let (first, req) = knock(group.id, &token, 1);
    assert!(matches!(
        stranger.request(req).await,
        Ok(Response::Knocked { .. })
    ));
    let (_, nowhere) = knock(GroupId(rand::random()), &token, 1);
    assert_eq!(
        stranger.request(nowhere).await,
        Err(RelayError::Relay(ErrorCode::NoSuchGroup))
    );
    let bad = Request::Knock {
        group: group.id,
        slot: SlotId(rand::random()),
        manage_hash: manage_hash(&token),
        knock: vec![1; 1000],
    };
    assert_eq!(
        stranger.request(bad).await,
        Err(RelayError::Relay(ErrorCode::BadPadding)),
        "a knock is padded like an answer"
    );

    // Only a connection of the group's current epoch lists the box.
    assert_eq!(
        stranger
            .request(Request::GetKnocks { group: group.id })
            .await,
        Err(RelayError::Relay(ErrorCode::Unauthorized))
    );
    let listed = knocks_of(member.request(Request::GetKnocks { group: group.id }).await);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].key, slot_key(&first));
    assert_eq!(listed[0].knock, vec![1; 1024]);

    // The box holds MAX_KNOCKS unanswered knocks; then knocks_full.
    let mut slots = vec![first];
    for i in 1..MAX_KNOCKS {
        let (slot, req) = knock(group.id, &token, i as u8 + 1);
        assert!(
            matches!(stranger.request(req).await, Ok(Response::Knocked { .. })),
            "knock {i}"
        );
        slots.push(slot);
    }
    let (_, one_more) = knock(group.id, &token, 99);
    assert_eq!(
        stranger.request(one_more).await,
        Err(RelayError::Relay(ErrorCode::KnocksFull))
    );

    // The box survives a restart (the index is rebuilt from the slots).
    relay.restart().await;
    let member = relay.connect().await;
    member.auth(group.id, 0, &group.key).await.unwrap();
    let listed = knocks_of(member.request(Request::GetKnocks { group: group.id }).await);
    assert_eq!(listed.len(), MAX_KNOCKS);

    // Answering one (the token comes inside the sealed knock) takes it out of the box;
    // the knocker reads the welcome as a joiner does.
    assert_eq!(
        member
            .request(Request::PutWelcome {
                slot: slots[0],
                manage_token: token,
                welcome: vec![5; 1024],
            })
            .await,
        Ok(Response::WelcomePut)
    );
    let stranger = relay.connect().await;
    assert_eq!(
        stranger
            .request(Request::GetWelcome { slot: slots[0] })
            .await,
        Ok(Response::Welcome {
            welcome: Some(vec![5; 1024])
        })
    );
    // Deleting another frees a place too; then a new knock fits, and only one.
    assert_eq!(
        member
            .request(Request::DeleteKnock {
                group: group.id,
                key: slot_key(&slots[1]),
            })
            .await,
        Ok(Response::KnockDeleted)
    );
    let listed = knocks_of(member.request(Request::GetKnocks { group: group.id }).await);
    assert_eq!(listed.len(), MAX_KNOCKS - 2);
    let (_, a) = knock(group.id, &token, 100);
    let (_, b) = knock(group.id, &token, 101);
    let (_, c) = knock(group.id, &token, 102);
    for r in [a, b] {
        assert!(matches!(
            stranger.request(r).await,
            Ok(Response::Knocked { .. })
        ));
    }
    assert_eq!(
        stranger.request(c).await,
        Err(RelayError::Relay(ErrorCode::KnocksFull))
    );

    // The knocker removes its own answered slot with its token.
    assert_eq!(
        stranger
            .request(Request::DeleteInvite {
                slot: slots[0],
                manage_token: token,
            })
            .await,
        Ok(Response::InviteDeleted)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_member_of_one_group_cannot_touch_another_groups_slots() {
    let relay = TestRelay::start(&[]).await;
    let a = relay.connect().await;
    let ga = create_group(&a).await;
    let b = relay.connect().await;
    let gb = create_group(&b).await;
    let token: [u8; 32] = rand::random();

    // A knock on group A, and an invite that B's member made.
    let (knocked, req) = knock(ga.id, &token, 1);
    assert!(matches!(b.request(req).await, Ok(Response::Knocked { .. })));
    let invite = SlotId(rand::random());
    assert!(matches!(
        b.request(Request::PutInvite {
            slot: invite,
            manage_hash: manage_hash(&token),
            ttl_secs: 600,
            invitation: vec![3; 256],
        })
        .await,
        Ok(Response::InvitePut { .. })
    ));

    // B's member sees nothing of A's box, and cannot remove A's knock or its own
    // group's invite slot through DeleteKnock.
    assert!(knocks_of(b.request(Request::GetKnocks { group: gb.id }).await).is_empty());
    for key in [slot_key(&knocked), slot_key(&invite)] {
        assert_eq!(
            b.request(Request::DeleteKnock { group: gb.id, key }).await,
            Err(RelayError::Relay(ErrorCode::NoSuchInvite))
        );
    }
    assert_eq!(
        b.request(Request::DeleteKnock {
            group: ga.id,
            key: slot_key(&knocked),
        })
        .await,
        Err(RelayError::Relay(ErrorCode::Unauthorized))
    );
    assert_eq!(
        knocks_of(a.request(Request::GetKnocks { group: ga.id }).await).len(),
        1
    );
    assert!(matches!(
        b.request(Request::GetInvite { slot: invite }).await,
        Ok(Response::Invite { .. })
    ));
}
