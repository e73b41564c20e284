//! End-to-end tests of invite slots: the one-time answer race, management tokens,
//! welcomes, expiry and removal.

use kith::{RelayConnection, RelayError};
use kith_protocol::access::manage_hash;
use kith_protocol::limits::{MAX_INVITE_BLOB, MAX_INVITE_TTL_SECS};
use kith_protocol::{ErrorCode, Request, Response, SlotId};
use kith_tests::*;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Barrier;

fn err(code: ErrorCode) -> Result<Response, RelayError> {
    Err(RelayError::Relay(code))
}

fn put_invite(slot: SlotId, token: &[u8; 32], ttl_secs: u64, invitation: Vec<u8>) -> Request {
    Request::PutInvite {
        slot,
        manage_hash: manage_hash(token),
        ttl_secs,
        invitation,
    }
}

/// A connection allowed to put invites (authorized for a group's current epoch).
async fn admin(relay: &TestRelay) -> RelayConnection {
    let conn = relay.connect().await;
    create_group(&conn).await;
    conn
}

#[tokio::test(flavor = "multi_thread")]
async fn sixty_four_answers_race_and_exactly_one_wins() {
    let relay = TestRelay::start(&[]).await;
    let admin = admin(&relay).await;
    let slot = SlotId(rand::random());
    let token: [u8; 32] = rand::random();
    let invitation = payload("sealed invitation");
    let put = admin
        .request(put_invite(slot, &token, 600, invitation.clone()))
        .await;
    let Ok(Response::InvitePut { expires_at }) = put else {
        panic!("PutInvite: {put:?}")
    };
    assert_eq!(
        relay
            .connect()
            .await
            .request(Request::GetInvite { slot })
            .await,
        Ok(Response::Invite {
            invitation,
            expires_at
        })
    );

    // 64 connections, all ready before any answers.
    let mut joiners = Vec::new();
    for _ in 0..64 {
        joiners.push(relay.connect().await);
    }
    let barrier = Arc::new(Barrier::new(64));
    let tasks: Vec<_> = joiners
        .into_iter()
        .enumerate()
        .map(|(i, conn)| {
            let barrier = barrier.clone();
            tokio::spawn(async move {
                let answer = payload(&format!("answer from joiner {i}"));
                barrier.wait().await;
                let r = conn
                    .request(Request::AnswerInvite {
                        slot,
                        answer: answer.clone(),
                    })
                    .await;
                (r, answer)
            })
        })
        .collect();
    let mut winners = Vec::new();
    let mut used = 0;
    for t in tasks {
        match t.await.unwrap() {
            (Ok(Response::Answered), answer) => winners.push(answer),
            (r, _) if r == err(ErrorCode::AlreadyUsed) => used += 1,
            (r, _) => panic!("unexpected answer result {r:?}"),
        }
    }
    assert_eq!((winners.len(), used), (1, 63));
    let winner = winners.pop().unwrap();

    // The admin reads the winning answer with the token; a wrong token is refused.
    assert_eq!(
        admin
            .request(Request::GetAnswer {
                slot,
                manage_token: token
            })
            .await,
        Ok(Response::Answer {
            answer: Some(winner),
            welcomed: false
        })
    );
    let wrong: [u8; 32] = rand::random();
    assert_eq!(
        admin
            .request(Request::GetAnswer {
                slot,
                manage_token: wrong
            })
            .await,
        err(ErrorCode::Forbidden)
    );
    // The slot is used up for everyone else.
    let outsider = relay.connect().await;
    assert_eq!(
        outsider.request(Request::GetInvite { slot }).await,
        err(ErrorCode::AlreadyUsed)
    );

    // Welcome: not before it is put, only with the token, only once.
    assert_eq!(
        outsider.request(Request::GetWelcome { slot }).await,
        Ok(Response::Welcome { welcome: None })
    );
    let welcome = payload("sealed welcome");
    let put_welcome = |manage_token| Request::PutWelcome {
        slot,
        manage_token,
        welcome: welcome.clone(),
    };
    assert_eq!(
        admin.request(put_welcome(wrong)).await,
        err(ErrorCode::Forbidden)
    );
    assert_eq!(
        admin.request(put_welcome(token)).await,
        Ok(Response::WelcomePut)
    );
    assert_eq!(
        admin.request(put_welcome(token)).await,
        err(ErrorCode::AlreadyUsed)
    );
    assert_eq!(
        outsider.request(Request::GetWelcome { slot }).await,
        Ok(Response::Welcome {
            welcome: Some(welcome.clone())
        })
    );
    let Ok(Response::Answer { welcomed, .. }) = admin
        .request(Request::GetAnswer {
            slot,
            manage_token: token,
        })
        .await
    else {
        panic!("GetAnswer after the welcome")
    };
    assert!(welcomed);

    // Deleting needs the token; afterwards the slot is gone.
    assert_eq!(
        admin
            .request(Request::DeleteInvite {
                slot,
                manage_token: wrong
            })
            .await,
        err(ErrorCode::Forbidden)
    );
    assert_eq!(
        admin
            .request(Request::DeleteInvite {
                slot,
                manage_token: token
            })
            .await,
        Ok(Response::InviteDeleted)
    );
    assert_eq!(
        outsider.request(Request::GetInvite { slot }).await,
        err(ErrorCode::NoSuchInvite)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn invite_requests_are_checked() {
    let relay = TestRelay::start(&[]).await;
    let admin = admin(&relay).await;
    let token: [u8; 32] = rand::random();
    let slot = SlotId(rand::random());

    // Outsiders cannot fill the relay's disk.
    let outsider = relay.connect().await;
    assert_eq!(
        outsider
            .request(put_invite(slot, &token, 600, payload("x")))
            .await,
        err(ErrorCode::Unauthorized)
    );
    // TTL and padding.
    for ttl in [0, MAX_INVITE_TTL_SECS + 1] {
        assert_eq!(
            admin
                .request(put_invite(slot, &token, ttl, payload("x")))
                .await,
            err(ErrorCode::BadRequest),
            "ttl {ttl}"
        );
    }
    assert_eq!(
        admin
            .request(put_invite(slot, &token, 600, vec![0; 300]))
            .await,
        err(ErrorCode::BadPadding)
    );
    // A bucket above MAX_INVITE_BLOB is never sent (the relay's side of this is in
    // robustness.rs, with a raw socket).
    let big = payload_of(MAX_INVITE_BLOB, 1);
    assert!(big.len() > MAX_INVITE_BLOB);
    assert!(matches!(
        admin.request(put_invite(slot, &token, 600, big)).await,
        Err(RelayError::TooLarge(_))
    ));
    admin.ping().await.unwrap();

    // Unknown slots.
    assert_eq!(
        outsider.request(Request::GetInvite { slot }).await,
        err(ErrorCode::NoSuchInvite)
    );
    assert_eq!(
        outsider
            .request(Request::AnswerInvite {
                slot,
                answer: payload("a")
            })
            .await,
        err(ErrorCode::NoSuchInvite)
    );

    // A slot id is used once.
    assert!(matches!(
        admin
            .request(put_invite(slot, &token, 600, payload("x")))
            .await,
        Ok(Response::InvitePut { .. })
    ));
    assert_eq!(
        admin
            .request(put_invite(slot, &token, 600, payload("y")))
            .await,
        err(ErrorCode::SlotExists)
    );
    // No welcome before an answer; the answer must be padded.
    assert_eq!(
        admin
            .request(Request::PutWelcome {
                slot,
                manage_token: token,
                welcome: payload("w")
            })
            .await,
        err(ErrorCode::NotAnswered)
    );
    assert_eq!(
        admin
            .request(Request::GetAnswer {
                slot,
                manage_token: token
            })
            .await,
        Ok(Response::Answer {
            answer: None,
            welcomed: false
        })
    );
    assert_eq!(
        outsider
            .request(Request::AnswerInvite {
                slot,
                answer: vec![1; 100]
            })
            .await,
        err(ErrorCode::BadPadding)
    );
    assert_eq!(
        outsider
            .request(Request::AnswerInvite {
                slot,
                answer: payload("a")
            })
            .await,
        Ok(Response::Answered),
        "a refused answer did not use the slot"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn invites_expire_and_are_then_removed() {
    // Retention runs at start-up and then hourly: nothing removes the slot between its
    // expiry and the restart below, so `invite_expired` is seen deterministically.
    let mut relay = TestRelay::start(&["--retention-interval", "1h"]).await;
    let admin = admin(&relay).await;
    let token: [u8; 32] = rand::random();
    let slot = SlotId(rand::random());
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let Ok(Response::InvitePut { expires_at }) = admin
        .request(put_invite(slot, &token, 1, payload("short-lived")))
        .await
    else {
        panic!("PutInvite")
    };
    assert!(
        (before..=before + 3).contains(&expires_at),
        "expires_at {expires_at} is about now + 1 s (now {before})"
    );

    let joiner = relay.connect().await;
    eventually(Duration::from_secs(15), "the invite to expire", || async {
        match joiner.request(Request::GetInvite { slot }).await {
            Ok(Response::Invite { .. }) => None,
            r if r == err(ErrorCode::InviteExpired) => Some(()),
            r => panic!("GetInvite before removal: {r:?}"),
        }
    })
    .await;
    let r = joiner
        .request(Request::AnswerInvite {
            slot,
            answer: payload("too late"),
        })
        .await;
    assert!(
        r == err(ErrorCode::InviteExpired),
        "answering an expired invite: {r:?}"
    );

    // Retention at start-up removes the expired slot.
    relay.restart().await;
    let joiner = relay.connect().await;
    eventually(
        Duration::from_secs(15),
        "the start-up retention pass to remove the expired slot",
        || async {
            match joiner.request(Request::GetInvite { slot }).await {
                r if r == err(ErrorCode::InviteExpired) => None,
                r if r == err(ErrorCode::NoSuchInvite) => Some(()),
                r => panic!("GetInvite after expiry: {r:?}"),
            }
        },
    )
    .await;
}
