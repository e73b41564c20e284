//! Blobs and per-group retention on the real relay (issue 6): `PutBlob`, `GetBlob`,
//! `SetRetention`, their access rule (the group's current epoch), limits and quota,
//! durability across a crash, and retention that deletes a short-lived group's messages
//! and blobs and destroys their shredding keys.

use kith::RelayError;
use kith_protocol::access::AccessKey;
use kith_protocol::frame::blob_id;
use kith_protocol::limits::MAX_BLOB;
use kith_protocol::{ErrorCode, PostKind, RelayFrame, Request};
use kith_tests::*;
use std::path::Path;
use std::time::Duration;

const DAY: u64 = 86_400;

fn relay_err(code: ErrorCode) -> RelayError {
    RelayError::Relay(code)
}

/// A sealed-chunk-sized blob of `fill`.
fn blob(fill: u8) -> Vec<u8> {
    vec![fill; MAX_BLOB]
}

fn all_bytes(dir: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(b) = std::fs::read(&p) {
                out.extend(b);
            }
        }
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread")]
async fn blobs_round_trip_and_re_putting_is_idempotent() {
    let relay = TestRelay::start(&[]).await;
    let conn = relay.connect().await;
    let g = create_group(&conn).await;
    let data = blob(0xA5);
    let id = conn.put_blob(g.id, data.clone()).await.unwrap();
    assert_eq!(id, blob_id(&data), "the id is the SHA-256 of the bytes");
    assert_eq!(conn.get_blob(g.id, id).await.unwrap(), data);
    // Again: the same id, nothing stored twice.
    assert_eq!(conn.put_blob(g.id, data.clone()).await.unwrap(), id);
    assert_eq!(metric(&relay, "kith_stored_blobs").await, 1);
    assert_eq!(
        metric(&relay, "kith_stored_blob_bytes").await,
        MAX_BLOB as i64
    );
    // Smaller buckets are blobs too.
    let small = payload_of(100, 3);
    let small_id = conn.put_blob(g.id, small.clone()).await.unwrap();
    assert_eq!(conn.get_blob(g.id, small_id).await.unwrap(), small);
    // Unknown ids, and ids of another group.
    assert_eq!(
        conn.get_blob(g.id, [7; 32]).await,
        Err(relay_err(ErrorCode::NoSuchBlob))
    );
    let other = create_group(&conn).await;
    assert_eq!(
        conn.get_blob(other.id, id).await,
        Err(relay_err(ErrorCode::NoSuchBlob)),
        "blobs belong to their group"
    );
    // Not readable on the relay's disk.
    let stored = all_bytes(relay.data_dir());
    assert!(!contains(&stored, &[0xA5; 64]), "blobs are sealed at rest");
}

#[tokio::test(flavor = "multi_thread")]
async fn blobs_need_access_to_the_current_epoch() {
    let relay = TestRelay::start(&[]).await;
    let owner = relay.connect().await;
    let g = create_group(&owner).await;
    let id = owner.put_blob(g.id, blob(1)).await.unwrap();

    // No access proven at all.
    let x = relay.connect().await;
    assert_eq!(
        x.put_blob(g.id, blob(2)).await,
        Err(relay_err(ErrorCode::Unauthorized))
    );
    assert_eq!(
        x.get_blob(g.id, id).await,
        Err(relay_err(ErrorCode::Unauthorized))
    );
    assert_eq!(
        x.set_retention(g.id, 60).await,
        Err(relay_err(ErrorCode::Forbidden)),
        "retention is an admin's"
    );

    // A member of epoch 0 (say, the one the next commit removes) keeps its connection.
    let removed = relay.connect().await;
    removed.auth(g.id, 0, &g.key).await.unwrap();
    assert_eq!(removed.get_blob(g.id, id).await.unwrap(), blob(1));
    let next = AccessKey::random();
    owner
        .post(
            g.id,
            0,
            PostKind::Commit {
                next_access_key: next.public(),
            },
            payload("commit"),
        )
        .await
        .unwrap();
    // Epoch 0 no longer opens the blobs, new or old, nor lets it put or set anything.
    for conn in [&removed, &owner] {
        assert_eq!(
            conn.get_blob(g.id, id).await,
            Err(relay_err(ErrorCode::StaleEpoch))
        );
        assert_eq!(
            conn.put_blob(g.id, blob(3)).await,
            Err(relay_err(ErrorCode::StaleEpoch))
        );
    }
    assert_eq!(
        removed.set_retention(g.id, 60).await,
        Err(relay_err(ErrorCode::Forbidden)),
        "a member is no admin"
    );
    // A fresh connection with epoch 0's key: authorized for epoch 0 only, so still no.
    let late = relay.connect().await;
    late.auth(g.id, 0, &g.key).await.unwrap();
    assert_eq!(
        late.get_blob(g.id, id).await,
        Err(relay_err(ErrorCode::StaleEpoch))
    );
    // The members of epoch 1 do.
    owner.auth(g.id, 1, &next).await.unwrap();
    assert_eq!(owner.get_blob(g.id, id).await.unwrap(), blob(1));
    owner.put_blob(g.id, blob(3)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_and_unpadded_blobs_and_an_over_quota_group_are_refused() {
    let relay = TestRelay::start(&["--max-group-blob-bytes", "1MiB"]).await;
    let conn = relay.connect().await;
    let g = create_group(&conn).await;

    let mut ws = raw_connect_hello(&relay.ws_url()).await;
    raw_auth(&mut ws, 2, g.id, 0, &g.key).await;
    // One byte over the limit: refused when decoded, naming the request.
    raw_send(
        &mut ws,
        10,
        Request::PutBlob {
            group: g.id,
            data: vec![0; MAX_BLOB + 1],
        },
    )
    .await;
    assert_eq!(raw_answer(&mut ws, 10).await, Err(ErrorCode::TooLarge));
    // The next bucket up (1 MiB) is a valid payload size but not a valid blob.
    raw_send(
        &mut ws,
        11,
        Request::PutBlob {
            group: g.id,
            data: vec![0; 1 << 20],
        },
    )
    .await;
    assert_eq!(raw_answer(&mut ws, 11).await, Err(ErrorCode::TooLarge));
    // Not a bucket size.
    raw_send(
        &mut ws,
        12,
        Request::PutBlob {
            group: g.id,
            data: vec![0; 1000],
        },
    )
    .await;
    assert_eq!(raw_answer(&mut ws, 12).await, Err(ErrorCode::BadPadding));
    // The client library refuses to send what the relay must refuse.
    assert!(matches!(
        conn.put_blob(g.id, vec![0; MAX_BLOB + 1]).await,
        Err(RelayError::TooLarge(_))
    ));

    // 1 MiB of blobs per group: four fit, the fifth is refused, nothing is dropped.
    let mut ids = Vec::new();
    for i in 0..4 {
        ids.push(conn.put_blob(g.id, blob(i)).await.unwrap());
    }
    assert_eq!(
        conn.put_blob(g.id, blob(4)).await,
        Err(relay_err(ErrorCode::QuotaExceeded))
    );
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(conn.get_blob(g.id, *id).await.unwrap(), blob(i as u8));
    }
    // Re-putting a stored blob is still fine, and other groups have their own quota.
    assert_eq!(conn.put_blob(g.id, blob(0)).await.unwrap(), ids[0]);
    let other = create_group(&conn).await;
    conn.put_blob(other.id, blob(4)).await.unwrap();
    // Messages are not held back by the blob quota.
    post_app(&conn, g.id, 0, payload("still talking"))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn retention_is_per_group_and_capped_by_the_relay() {
    let relay = TestRelay::start(&["--retention", "30d"]).await;
    let conn = relay.connect().await;
    let g = create_group(&conn).await;
    let info = conn.auth_info(g.id, 0, &g.key).await.unwrap();
    assert_eq!(info.retention_secs, 30 * DAY, "the relay's default");
    assert_eq!(conn.set_retention(g.id, 600).await.unwrap(), 600);
    assert_eq!(
        conn.set_retention(g.id, 10 * 365 * DAY).await.unwrap(),
        30 * DAY,
        "never longer than the relay's limit"
    );
    assert_eq!(conn.set_retention(g.id, 0).await.unwrap(), 30 * DAY);
    assert_eq!(conn.set_retention(g.id, 1).await.unwrap(), 1);
    // Another connection sees it when it proves access.
    let other = relay.connect().await;
    let info = other.auth_info(g.id, 0, &g.key).await.unwrap();
    assert_eq!(info.retention_secs, 1);
}

/// A group that keeps things 2 seconds has its messages and blobs deleted, and the keys
/// they were sealed under destroyed, within seconds — on a relay whose own retention is
/// 30 days and whose full sweep runs hourly. A group next to it keeps its messages.
#[tokio::test(flavor = "multi_thread")]
async fn a_short_group_retention_deletes_messages_and_blobs_and_destroys_their_keys() {
    let relay = TestRelay::start(&["--retention", "30d", "--retention-interval", "1h"]).await;
    let conn = relay.connect().await;
    let keeper = create_group(&conn).await;
    post_app(&conn, keeper.id, 0, payload("kept for 30 days"))
        .await
        .unwrap();
    let keeper_keys = relay_shred_keys(relay.data_dir());

    let g = create_group(&conn).await;
    assert_eq!(conn.set_retention(g.id, 2).await.unwrap(), 2);
    let marker = b"SHORT-LIVED-MARKER-0417";
    for i in 0..5u8 {
        let mut data = marker.to_vec();
        data.push(b'0' + i);
        post_app(&conn, g.id, 0, padding_pad(&data)).await.unwrap();
    }
    let mut chunk = vec![0u8; MAX_BLOB];
    chunk[..marker.len()].copy_from_slice(marker);
    let id = conn.put_blob(g.id, chunk.clone()).await.unwrap();
    assert_eq!(conn.get_blob(g.id, id).await.unwrap(), chunk);
    let stored = all_bytes(relay.data_dir());
    assert!(!contains(&stored, marker), "sealed at rest");
    let short_keys: Vec<Vec<u8>> = relay_shred_keys(relay.data_dir())
        .into_iter()
        .filter(|k| !keeper_keys.contains(k))
        .collect();
    assert!(
        !short_keys.is_empty(),
        "the short group's records have keys"
    );

    eventually(
        Duration::from_secs(20),
        "the short group's messages and blob to go",
        || async {
            let (messages, ..) = fetch_all(&conn, g.id, 1).await.unwrap();
            let blob = conn.get_blob(g.id, id).await;
            (messages.is_empty() && blob == Err(relay_err(ErrorCode::NoSuchBlob))).then_some(())
        },
    )
    .await;
    eventually(
        Duration::from_secs(20),
        "their keys to be destroyed in every file",
        || async {
            let files = all_bytes(relay.data_dir());
            short_keys
                .iter()
                .all(|k| !contains(&files, k))
                .then_some(())
        },
    )
    .await;
    assert_eq!(metric(&relay, "kith_stored_blobs").await, 0);
    // The sequence continues; the other group is untouched.
    assert_eq!(post_app(&conn, g.id, 0, payload("new")).await, Ok(6));
    let (kept, ..) = fetch_all(&conn, keeper.id, 1).await.unwrap();
    assert_eq!(kept.len(), 1);
    assert!(
        keeper_keys
            .iter()
            .all(|k| relay_shred_keys(relay.data_dir()).contains(k)),
        "the 30-day key stays"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn blobs_and_retention_survive_a_crash() {
    let mut relay = TestRelay::start(&[]).await;
    let conn = relay.connect().await;
    let g = create_group(&conn).await;
    let id = conn.put_blob(g.id, blob(9)).await.unwrap();
    assert_eq!(conn.set_retention(g.id, 3600).await.unwrap(), 3600);
    // Acknowledged means flushed: kill -9 right after loses neither.
    relay.restart().await;
    let conn = relay.connect().await;
    let info = conn.auth_info(g.id, 0, &g.key).await.unwrap();
    assert_eq!(info.retention_secs, 3600);
    assert_eq!(conn.get_blob(g.id, id).await.unwrap(), blob(9));
    assert_eq!(metric(&relay, "kith_stored_blobs").await, 1);
    assert_eq!(conn.put_blob(g.id, blob(9)).await.unwrap(), id);
    assert_eq!(metric(&relay, "kith_stored_blobs").await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_relay_logs_no_blob_or_group_id() {
    let relay = TestRelay::start_with_env(&[], &[("KITH_RELAY_LOG", "info")]).await;
    let conn = relay.connect().await;
    let g = create_group(&conn).await;
    conn.set_retention(g.id, 1).await.unwrap();
    let id = conn.put_blob(g.id, blob(5)).await.unwrap();
    // Retention removes it (and logs that it did).
    eventually(Duration::from_secs(20), "the blob to expire", || async {
        (conn.get_blob(g.id, id).await == Err(relay_err(ErrorCode::NoSuchBlob))).then_some(())
    })
    .await;
    let log = eventually(
        Duration::from_secs(10),
        "the retention log line",
        || async {
            let log = relay.log();
            log.contains("retention removed").then_some(log)
        },
    )
    .await;
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    for needle in [g.id.to_hex()[..8].to_owned(), hex(&id)[..8].to_owned()] {
        assert!(!log.contains(&needle), "{needle} in the log:\n{log}");
    }
    // A blob answer is a frame like any other: a raw client sees it decode.
    let mut ws = raw_connect_hello(&relay.ws_url()).await;
    raw_auth(&mut ws, 2, g.id, 0, &g.key).await;
    raw_send(&mut ws, 5, Request::GetBlob { group: g.id, id }).await;
    match raw_next(&mut ws, Duration::from_secs(5)).await {
        Some(RawEvent::Frame(RelayFrame::Error { id: 5, code })) => {
            assert_eq!(code, ErrorCode::NoSuchBlob)
        }
        other => panic!("{other:?}"),
    }
}

fn padding_pad(data: &[u8]) -> Vec<u8> {
    kith_protocol::padding::pad(data).unwrap()
}
