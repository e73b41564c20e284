//! The relay as a client written from docs/PROTOCOL.md alone sees it: how it closes a
//! connection (always with a close frame the client gets to read, with the code the page
//! names), and the relay-wide cap on what invite slots hold.

use kith::{RelayConnection, RelayError};
use kith_protocol::access::manage_hash;
use kith_protocol::limits::MAX_INVITE_BLOB;
use kith_protocol::{
    ClientFrame, ErrorCode, PROTOCOL_VERSION, RelayFrame, Request, Response, SlotId,
};
use kith_tests::*;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const WAIT: Duration = Duration::from_secs(15);

/// Reads raw events until the connection ends; returns the frames and how it ended.
async fn read_to_end(ws: &mut RawWs) -> (Vec<RelayFrame>, String) {
    let mut frames = Vec::new();
    loop {
        match raw_next(ws, WAIT).await {
            Some(RawEvent::Frame(f)) => frames.push(f),
            Some(RawEvent::Closed(how)) => return (frames, how),
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_64th_rate_limited_answer_comes_with_the_close_and_nothing_is_lost() {
    let relay = TestRelay::start(&["--rate", "1", "--burst", "1"]).await;
    let mut ws = raw_connect_hello(&relay.ws_url()).await;
    // 70 requests sent before reading any answer: the relay closes with some of them
    // still unread, which must not turn into a TCP reset that eats the close frame.
    for id in 2..72 {
        raw_send(&mut ws, id, Request::Challenge).await;
    }
    let (frames, how) = read_to_end(&mut ws).await;
    let limited: Vec<u32> = frames
        .iter()
        .filter_map(|f| match f {
            RelayFrame::Error {
                id,
                code: ErrorCode::RateLimited,
            } => Some(*id),
            _ => None,
        })
        .collect();
    let passed = frames.len() - limited.len();
    assert!(passed >= 1, "the burst lets the first through: {frames:?}");
    assert_eq!(
        limited.len(),
        64,
        "the 64th rate_limited answer in a row closes: {frames:?}"
    );
    assert!(
        how.contains("Policy"),
        "a close frame with code 1008, not a reset: {how}"
    );
}

/// Opens a WebSocket by hand on a plain TCP stream, so that the test can send what a
/// WebSocket library never would.
async fn hand_upgrade(relay: &TestRelay) -> TcpStream {
    let mut tcp = TcpStream::connect(relay.addr()).await.unwrap();
    let request = format!(
        "GET /v1 HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        relay.addr()
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        assert_eq!(
            tcp.read(&mut b).await.unwrap(),
            1,
            "the upgrade answer ended"
        );
        head.push(b[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    tcp
}

/// One WebSocket frame (FIN set), masked with a zero key when `masked`.
fn ws_frame(opcode: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    let mut f = vec![0x80 | opcode];
    let mask = if masked { 0x80 } else { 0 };
    if payload.len() < 126 {
        f.push(mask | payload.len() as u8);
    } else {
        f.push(mask | 126);
        f.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    }
    if masked {
        f.extend_from_slice(&[0; 4]);
    }
    f.extend_from_slice(payload);
    f
}

/// Reads server frames (never masked) until a close frame, and returns its code; `None`
/// if the stream ended, or was reset, without one.
async fn close_code(tcp: &mut TcpStream) -> Option<u16> {
    let read = async {
        loop {
            let mut h = [0u8; 2];
            tcp.read_exact(&mut h).await.ok()?;
            let len = match h[1] & 0x7f {
                126 => {
                    let mut l = [0u8; 2];
                    tcp.read_exact(&mut l).await.ok()?;
                    u16::from_be_bytes(l) as usize
                }
                127 => {
                    let mut l = [0u8; 8];
                    tcp.read_exact(&mut l).await.ok()?;
                    u64::from_be_bytes(l) as usize
                }
                n => n as usize,
            };
            let mut body = vec![0u8; len];
            tcp.read_exact(&mut body).await.ok()?;
            if h[0] & 0x0f == 0x8 {
                return Some(u16::from_be_bytes([*body.first()?, *body.get(1)?]));
            }
        }
    };
    tokio::time::timeout(WAIT, read)
        .await
        .expect("the relay neither closed nor ended")
}

fn hello() -> Vec<u8> {
    ClientFrame {
        id: 1,
        request: Request::Hello {
            version: PROTOCOL_VERSION,
        },
    }
    .encode()
}

#[tokio::test(flavor = "multi_thread")]
async fn protocol_violations_get_close_code_1002() {
    let relay = TestRelay::start(&[]).await;

    // An unmasked client frame, as the first frame.
    let mut tcp = hand_upgrade(&relay).await;
    tcp.write_all(&ws_frame(0x2, &hello(), false))
        .await
        .unwrap();
    assert_eq!(
        close_code(&mut tcp).await,
        Some(1002),
        "unmasked first frame"
    );

    // A reserved opcode after a good Hello.
    let mut tcp = hand_upgrade(&relay).await;
    tcp.write_all(&ws_frame(0x2, &hello(), true)).await.unwrap();
    tcp.write_all(&ws_frame(0x3, b"x", true)).await.unwrap();
    assert_eq!(close_code(&mut tcp).await, Some(1002), "reserved opcode");

    // An unmasked frame after a good Hello.
    let mut tcp = hand_upgrade(&relay).await;
    tcp.write_all(&ws_frame(0x2, &hello(), true)).await.unwrap();
    tcp.write_all(&ws_frame(0x2, &hello(), false))
        .await
        .unwrap();
    assert_eq!(close_code(&mut tcp).await, Some(1002), "unmasked frame");
}

#[tokio::test(flavor = "multi_thread")]
async fn no_hello_by_the_deadline_gets_close_code_1008() {
    let relay = TestRelay::start(&["--handshake-timeout", "1s"]).await;
    let mut tcp = hand_upgrade(&relay).await;
    assert_eq!(close_code(&mut tcp).await, Some(1008));
}

fn put_invite(token: &[u8; 32], len: usize) -> Request {
    Request::PutInvite {
        slot: SlotId(rand::random()),
        manage_hash: manage_hash(token),
        ttl_secs: 600,
        invitation: vec![7; len],
    }
}

/// A connection allowed to put invites (authorized for a group's current epoch).
async fn member(relay: &TestRelay) -> RelayConnection {
    let conn = relay.connect().await;
    create_group(&conn).await;
    conn
}

#[tokio::test(flavor = "multi_thread")]
async fn invite_slots_share_one_relay_wide_cap() {
    let mut relay = TestRelay::start(&["--max-invite-bytes", "1056KiB"]).await;
    let token: [u8; 32] = rand::random();
    // 66 invitations of 16 KiB fill 1056 KiB (the least the relay takes: one slot with
    // a largest welcome); one connection may make 63 (and its group).
    let a = member(&relay).await;
    let mut slots = Vec::new();
    for _ in 0..63 {
        let put = put_invite(&token, MAX_INVITE_BLOB);
        let Request::PutInvite { slot, .. } = &put else {
            unreachable!()
        };
        slots.push(*slot);
        assert!(matches!(
            a.request(put).await,
            Ok(Response::InvitePut { .. })
        ));
    }
    let b = member(&relay).await;
    for _ in 0..3 {
        assert!(matches!(
            b.request(put_invite(&token, MAX_INVITE_BLOB)).await,
            Ok(Response::InvitePut { .. })
        ));
    }
    let full = Err(RelayError::Relay(ErrorCode::InvitesFull));
    assert_eq!(
        b.request(put_invite(&token, 256)).await,
        full,
        "the cap is relay-wide"
    );
    let again = Request::PutInvite {
        slot: slots[0],
        manage_hash: manage_hash(&token),
        ttl_secs: 600,
        invitation: vec![7; 256],
    };
    assert_eq!(
        b.request(again).await,
        Err(RelayError::Relay(ErrorCode::SlotExists)),
        "a slot that exists is that, full or not"
    );

    // Removing one frees its room.
    let freed = slots.pop().unwrap();
    assert_eq!(
        a.request(Request::DeleteInvite {
            slot: freed,
            manage_token: token
        })
        .await,
        Ok(Response::InviteDeleted)
    );
    // 16 KiB of room: 4 + 4 + 4 + 1 KiB of it taken, 3 KiB left.
    let answer_slot = SlotId(rand::random());
    for (i, len) in [4096, 4096, 4096, 1024].into_iter().enumerate() {
        let put = Request::PutInvite {
            slot: if i == 0 {
                answer_slot
            } else {
                SlotId(rand::random())
            },
            manage_hash: manage_hash(&token),
            ttl_secs: 600,
            invitation: vec![7; len],
        };
        assert!(matches!(
            b.request(put).await,
            Ok(Response::InvitePut { .. })
        ));
    }

    // The count survives a restart: it is taken from the store.
    relay.restart().await;
    let c = member(&relay).await;
    assert_eq!(c.request(put_invite(&token, 4096)).await, full);

    // Answers and welcomes count too.
    let stranger = relay.connect().await;
    assert_eq!(
        stranger
            .request(Request::AnswerInvite {
                slot: answer_slot,
                answer: vec![1; MAX_INVITE_BLOB],
            })
            .await,
        full,
        "an answer over the cap"
    );
    assert_eq!(
        stranger
            .request(Request::AnswerInvite {
                slot: answer_slot,
                answer: vec![1; 1024],
            })
            .await,
        Ok(Response::Answered)
    );
    assert_eq!(
        c.request(Request::PutWelcome {
            slot: answer_slot,
            manage_token: token,
            welcome: vec![2; 256 * 1024],
        })
        .await,
        full,
        "a welcome over the cap"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_edges_the_page_names_hold() {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message as WsMessage;
    let relay = TestRelay::start(&[]).await;
    let mut ws = raw_connect_hello(&relay.ws_url()).await;

    // A text message is answered bad_frame, id 0, and the connection stays.
    ws.send(WsMessage::text("hello?")).await.unwrap();
    assert_eq!(raw_answer(&mut ws, 0).await, Err(ErrorCode::BadFrame));

    // A second Hello: hello_first, and the connection stays.
    raw_send(
        &mut ws,
        7,
        Request::Hello {
            version: PROTOCOL_VERSION,
        },
    )
    .await;
    assert_eq!(raw_answer(&mut ws, 7).await, Err(ErrorCode::HelloFirst));

    // Request id 0 is answered like any other.
    raw_send(&mut ws, 0, Request::Ping).await;
    assert_eq!(raw_answer(&mut ws, 0).await, Ok(Response::Pong));

    // A non-minimal varint (id 5 as `85 00`) is accepted.
    ws.send(WsMessage::binary(vec![0x85, 0x00, 0x01]))
        .await
        .unwrap();
    assert_eq!(raw_answer(&mut ws, 5).await, Ok(Response::Pong));

    // Trailing bytes after a frame: bad_frame, id 0.
    let mut frame = ClientFrame {
        id: 9,
        request: Request::Ping,
    }
    .encode();
    frame.push(0);
    ws.send(WsMessage::binary(frame)).await.unwrap();
    assert_eq!(raw_answer(&mut ws, 0).await, Err(ErrorCode::BadFrame));

    // Still open after all of it.
    raw_send(&mut ws, 10, Request::Ping).await;
    assert_eq!(raw_answer(&mut ws, 10).await, Ok(Response::Pong));
}
