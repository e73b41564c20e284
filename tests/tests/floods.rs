//! Floods and bad input against the relay: limits hold, memory stays bounded, and a
//! well-behaved client on the same relay keeps working throughout.

use kith_tests::*;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Resident memory of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// A WebSocket upgrade done by hand, so that the test can then write raw frames.
async fn raw_upgrade(relay: &TestRelay) -> TcpStream {
    let mut s = TcpStream::connect(relay.addr()).await.unwrap();
    s.write_all(
        b"GET /v1 HTTP/1.1\r\nHost: relay\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .await
    .unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut b).await.unwrap();
        head.push(b[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"), "upgrade refused");
    s
}

/// The header of a masked client frame (mask key 0, so the payload goes as is).
fn frame_header(fin: bool, opcode: u8, len: u64) -> Vec<u8> {
    let mut h = vec![(if fin { 0x80 } else { 0 }) | opcode];
    if len < 126 {
        h.push(0x80 | len as u8);
    } else if len <= u16::MAX as u64 {
        h.push(0x80 | 126);
        h.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        h.push(0x80 | 127);
        h.extend_from_slice(&len.to_be_bytes());
    }
    h.extend_from_slice(&[0, 0, 0, 0]);
    h
}

/// Writes `total` bytes of frames (built by `next_frame`) until the relay closes the
/// connection; returns how many bytes went out.
async fn push_until_closed(
    s: &mut TcpStream,
    total: u64,
    mut next_frame: impl FnMut(u64) -> Vec<u8>,
) -> u64 {
    let mut sent = 0u64;
    while sent < total {
        let f = next_frame(sent);
        match tokio::time::timeout(Duration::from_secs(5), s.write_all(&f)).await {
            Ok(Ok(())) => sent += f.len() as u64,
            _ => break,
        }
    }
    sent
}

async fn closed_by_relay(s: &mut TcpStream) -> bool {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue, // a close frame or an error frame: read on to EOF
            Err(_) => return false,
        }
    }
}

/// A good client's round: post and read back.
async fn good_round(relay: &TestRelay, text: &str) {
    let conn = relay.connect().await;
    let g = create_group(&conn).await;
    post_app(&conn, g.id, g.epoch, payload(text)).await.unwrap();
    let (msgs, ..) = fetch_all(&conn, g.id, 1).await.unwrap();
    assert_eq!(msgs.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn huge_messages_frames_and_continuation_floods_are_cut_off() {
    let relay = TestRelay::start(&[]).await;
    let pid = relay.pid().expect("relay pid");
    let before = rss_kib(pid);

    // A 20 MB frame: refused at its header.
    let mut s = raw_upgrade(&relay).await;
    let header = frame_header(true, 2, 20 << 20);
    let sent = push_until_closed(&mut s, 20 << 20, |i| {
        if i == 0 {
            header.clone()
        } else {
            vec![0u8; 256 * 1024]
        }
    })
    .await;
    assert!(closed_by_relay(&mut s).await, "20 MB frame: not closed");
    assert!(sent < 20 << 20, "the relay read all 20 MB ({sent})");

    // A 100 MB message in 1 MiB fragments: cut off past the message limit.
    let mut s = raw_upgrade(&relay).await;
    let chunk = 1 << 20;
    let sent = push_until_closed(&mut s, 100 << 20, |i| {
        let mut f = frame_header(false, if i == 0 { 2 } else { 0 }, chunk);
        f.extend(std::iter::repeat_n(0u8, chunk as usize));
        f
    })
    .await;
    assert!(closed_by_relay(&mut s).await, "100 MB message: not closed");
    assert!(
        sent < 20 << 20,
        "the relay took {sent} bytes of one message"
    );

    // A flood of tiny continuation frames.
    let mut s = raw_upgrade(&relay).await;
    let sent = push_until_closed(&mut s, 64 << 20, |i| {
        let mut f = frame_header(false, if i == 0 { 2 } else { 0 }, 64);
        f.extend([0u8; 64]);
        f
    })
    .await;
    assert!(
        closed_by_relay(&mut s).await,
        "continuation flood: not closed"
    );
    assert!(
        sent < 16 << 20,
        "the relay took {sent} bytes of continuation frames"
    );

    good_round(&relay, "still serving").await;
    let after = rss_kib(pid);
    assert!(
        after < before + 64 * 1024,
        "relay memory grew from {before} KiB to {after} KiB"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hundreds_of_slow_handshakes_do_not_lock_out_a_good_client() {
    let relay = TestRelay::start(&["--handshake-timeout", "2s"]).await;
    let mut slow = Vec::new();
    for i in 0..600 {
        let mut s = TcpStream::connect(relay.addr()).await.unwrap();
        if i % 2 == 0 {
            // Half a request head, then silence.
            s.write_all(b"GET /v1 HTTP/1.1\r\nHost: x\r\n")
                .await
                .unwrap();
        }
        slow.push(s);
    }
    // While they hang, a good client is served.
    good_round(&relay, "served during the flood").await;
    // And they are all cut off by the handshake deadline.
    for s in &mut slow {
        assert!(closed_by_relay(s).await, "a slow handshake was not cut off");
    }
    good_round(&relay, "served after the flood").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_mailbox_flood_is_bounded_and_other_groups_keep_working() {
    let relay = TestRelay::start(&["--max-group-messages", "50"]).await;
    let pid = relay.pid().expect("relay pid");
    let flooder = relay.connect().await;
    let target = create_group(&flooder).await;
    let flood = {
        let flooder = std::sync::Arc::new(flooder);
        let tasks: Vec<_> = (0..8)
            .map(|t| {
                let c = flooder.clone();
                tokio::spawn(async move {
                    for i in 0..250 {
                        post_app(
                            &c,
                            target.id,
                            target.epoch,
                            payload_of(2000 + (t * i) % 900, 7),
                        )
                        .await
                        .unwrap();
                    }
                })
            })
            .collect();
        (flooder, tasks)
    };
    // Meanwhile, another member of another group keeps working.
    for i in 0..10 {
        good_round(&relay, &format!("good {i}")).await;
    }
    for t in flood.1 {
        t.await.unwrap();
    }
    let (msgs, ..) = fetch_all(&flood.0, target.id, 1).await.unwrap();
    assert!(msgs.len() <= 50, "the quota holds: {} stored", msgs.len());
    assert_eq!(msgs.last().unwrap().seq, 2000, "the newest are kept");
    assert!(rss_kib(pid) < 256 * 1024, "relay RSS {} KiB", rss_kib(pid));
}

/// Guessing invite codes: every guess misses (128-bit codes, only hashes stored), and a
/// connection that misses 16 times is closed, so guessing costs a new connection (and
/// its handshake) every 16 tries on top of the rate limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn guessing_invite_codes_is_cut_off() {
    let relay = TestRelay::start(&[]).await;
    let mut ws = raw_connect_hello(&relay.ws_url()).await;
    for id in 2..18 {
        let slot = kith_protocol::SlotId(rand::random());
        raw_send(&mut ws, id, kith_protocol::Request::GetInvite { slot }).await;
        assert_eq!(
            raw_answer(&mut ws, id).await,
            Err(kith_protocol::ErrorCode::NoSuchInvite),
            "guess {id}"
        );
    }
    raw_send(
        &mut ws,
        99,
        kith_protocol::Request::GetInvite {
            slot: kith_protocol::SlotId(rand::random()),
        },
    )
    .await;
    assert!(
        matches!(
            raw_next(&mut ws, Duration::from_secs(10)).await,
            Some(RawEvent::Closed(_)) | None
        ),
        "a 17th guess on the same connection is not answered"
    );
    good_round(&relay, "guessers do not disturb members").await;
}
