//! The connection against a scripted fake relay that misbehaves on purpose.
use super::*;
use kith_protocol::{MessageKind, SlotId};
use std::future::Future;
use tokio::net::TcpListener;

type ServerWs = WebSocketStream<TcpStream>;

async fn fake<F, Fut>(script: F) -> String
where
    F: FnOnce(ServerWs) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
        script(ws).await;
    });
    format!("ws://{addr}/v1")
}

async fn recv(ws: &mut ServerWs) -> Option<ClientFrame> {
    loop {
        match ws.next().await? {
            Ok(WsMessage::Binary(b)) => return Some(ClientFrame::decode(&b).unwrap()),
            Ok(WsMessage::Close(_)) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}

async fn send(ws: &mut ServerWs, frame: RelayFrame) {
    ws.send(WsMessage::binary(frame.encode())).await.unwrap();
}

async fn answer_hello(ws: &mut ServerWs) {
    let hello = recv(ws).await.unwrap();
    assert_eq!(hello.id, 1, "the first request id is 1");
    assert_eq!(
        hello.request,
        Request::Hello {
            version: PROTOCOL_VERSION
        }
    );
    let body = Response::Hello {
        version: PROTOCOL_VERSION,
        max_frame: MAX_FRAME as u32,
    };
    send(ws, RelayFrame::Response { id: 1, body }).await;
}

/// Answers every Ping with Pong until the client goes away.
async fn pong_forever(ws: &mut ServerWs) {
    while let Some(f) = recv(ws).await {
        if f.request == Request::Ping {
            let frame = RelayFrame::Response {
                id: f.id,
                body: Response::Pong,
            };
            send(ws, frame).await;
        }
    }
}

fn opts(request_timeout: Duration, push_queue: usize) -> ConnectOptions {
    ConnectOptions {
        connect_timeout: Duration::from_secs(5),
        request_timeout,
        push_queue,
        ..ConnectOptions::default()
    }
}

fn push(seq: Seq) -> RelayFrame {
    RelayFrame::Push(Push::Message {
        group: GroupId([1; 16]),
        message: Message {
            seq,
            epoch: 0,
            kind: MessageKind::Application,
            stored_at: 0,
            payload: vec![0; 256],
        },
    })
}

#[tokio::test]
async fn pipelined_answers_out_of_order_reach_their_requests() {
    let url = fake(|mut ws| async move {
        answer_hello(&mut ws).await;
        let mut got = Vec::new();
        for _ in 0..3 {
            got.push(recv(&mut ws).await.unwrap());
        }
        let mut ids: Vec<_> = got.iter().map(|f| f.id).collect();
        ids.sort();
        assert_eq!(ids, vec![2, 3, 4]);
        for f in got.into_iter().rev() {
            let body = match f.request {
                Request::Ping => Response::Pong,
                Request::Challenge => Response::Challenge { nonce: [7; 32] },
                Request::GetWelcome { .. } => Response::Welcome { welcome: None },
                other => panic!("unexpected {other:?}"),
            };
            send(&mut ws, RelayFrame::Response { id: f.id, body }).await;
        }
        pong_forever(&mut ws).await;
    })
    .await;
    let conn = RelayConnection::connect(&url).await.unwrap();
    let (a, b, c) = tokio::join!(
        conn.ping(),
        conn.request(Request::Challenge),
        conn.request(Request::GetWelcome {
            slot: SlotId([0; 32])
        }),
    );
    a.unwrap();
    assert_eq!(b.unwrap(), Response::Challenge { nonce: [7; 32] });
    assert_eq!(c.unwrap(), Response::Welcome { welcome: None });
    conn.ping().await.unwrap();
    conn.close().await;
    assert!(matches!(conn.ping().await, Err(RelayError::Closed(_))));
}

async fn hostile_after_hello(reply: impl Fn(RequestId) -> WsMessage + Send + 'static) {
    let url = fake(move |mut ws| async move {
        answer_hello(&mut ws).await;
        let f = recv(&mut ws).await.unwrap();
        ws.send(reply(f.id)).await.unwrap();
        pong_forever(&mut ws).await;
    })
    .await;
    let conn = RelayConnection::connect(&url).await.unwrap();
    let first = conn.ping().await;
    assert!(
        matches!(first, Err(RelayError::Protocol(_))),
        "got {first:?}"
    );
    assert!(conn.is_closed());
    assert!(matches!(conn.ping().await, Err(RelayError::Protocol(_))));
}

#[tokio::test]
async fn answer_to_an_unknown_id_fails_the_connection() {
    hostile_after_hello(|id| {
        WsMessage::binary(
            RelayFrame::Response {
                id: id + 100,
                body: Response::Pong,
            }
            .encode(),
        )
    })
    .await;
}

#[tokio::test]
async fn text_message_fails_the_connection() {
    hostile_after_hello(|_| WsMessage::text("hello")).await;
}

#[tokio::test]
async fn undecodable_frame_fails_the_connection() {
    hostile_after_hello(|_| WsMessage::binary(vec![0xff; 40])).await;
}

#[tokio::test]
async fn answer_of_the_wrong_kind_fails_the_connection() {
    hostile_after_hello(|id| {
        WsMessage::binary(
            RelayFrame::Response {
                id,
                body: Response::Challenge { nonce: [0; 32] },
            }
            .encode(),
        )
    })
    .await;
}

#[tokio::test]
async fn oversized_message_fails_the_connection() {
    hostile_after_hello(|_| WsMessage::binary(vec![0; MAX_FRAME + 1])).await;
}

#[tokio::test]
async fn errors_reach_their_request_and_id_zero_is_only_counted() {
    let url = fake(|mut ws| async move {
        answer_hello(&mut ws).await;
        let f = recv(&mut ws).await.unwrap();
        let code = ErrorCode::BadFrame;
        send(&mut ws, RelayFrame::Error { id: 0, code }).await;
        let code = ErrorCode::StaleEpoch;
        send(&mut ws, RelayFrame::Error { id: f.id, code }).await;
        pong_forever(&mut ws).await;
    })
    .await;
    let conn = RelayConnection::connect(&url).await.unwrap();
    assert_eq!(
        conn.ping().await,
        Err(RelayError::Relay(ErrorCode::StaleEpoch))
    );
    assert_eq!(conn.unattributed_errors(), 1);
    assert_eq!(conn.last_unattributed_error(), Some(ErrorCode::BadFrame));
    conn.ping().await.unwrap();
}

#[tokio::test]
async fn late_answer_to_a_timed_out_request_is_ignored() {
    let url = fake(|mut ws| async move {
        answer_hello(&mut ws).await;
        let late = recv(&mut ws).await.unwrap();
        // Answer the second request only after the first timed out.
        let next = recv(&mut ws).await.unwrap();
        let pong = |id| RelayFrame::Response {
            id,
            body: Response::Pong,
        };
        send(&mut ws, pong(late.id)).await;
        send(&mut ws, pong(next.id)).await;
        pong_forever(&mut ws).await;
    })
    .await;
    let conn = RelayConnection::connect_with(&url, opts(Duration::from_millis(200), 8))
        .await
        .unwrap();
    assert_eq!(conn.ping().await, Err(RelayError::Timeout("request")));
    conn.ping().await.unwrap();
    conn.ping().await.unwrap();
    assert!(!conn.is_closed());
}

#[tokio::test]
async fn pushes_are_delivered_and_overflow_fails_the_connection() {
    let url = fake(|mut ws| async move {
        answer_hello(&mut ws).await;
        let f = recv(&mut ws).await.unwrap();
        for seq in 1..=2 {
            send(&mut ws, push(seq)).await;
        }
        let frame = RelayFrame::Response {
            id: f.id,
            body: Response::Pong,
        };
        send(&mut ws, frame).await;
        let f = recv(&mut ws).await.unwrap();
        for seq in 3..=5 {
            send(&mut ws, push(seq)).await;
        }
        let frame = RelayFrame::Response {
            id: f.id,
            body: Response::Pong,
        };
        send(&mut ws, frame).await;
        pong_forever(&mut ws).await;
    })
    .await;
    let conn = RelayConnection::connect_with(&url, opts(Duration::from_secs(5), 2))
        .await
        .unwrap();
    let mut pushes = conn.take_pushes().unwrap();
    assert!(conn.take_pushes().is_none());
    conn.ping().await.unwrap();
    for seq in 1..=2 {
        let Push::Message { message, .. } = pushes.recv().await.unwrap();
        assert_eq!(message.seq, seq);
    }
    // Nobody reads now: the third of three pushes overflows the queue of two.
    assert_eq!(conn.ping().await, Err(RelayError::PushOverflow));
    let mut seen = 0;
    while pushes.recv().await.is_some() {
        seen += 1;
    }
    assert_eq!(seen, 2, "the channel ends after the buffered pushes");
}

#[tokio::test]
async fn hello_is_checked() {
    let url = fake(|mut ws| async move {
        let f = recv(&mut ws).await.unwrap();
        let body = Response::Hello {
            version: PROTOCOL_VERSION + 1,
            max_frame: 1000,
        };
        send(&mut ws, RelayFrame::Response { id: f.id, body }).await;
        pong_forever(&mut ws).await;
    })
    .await;
    assert!(matches!(
        RelayConnection::connect(&url).await,
        Err(RelayError::Protocol(_))
    ));

    let url = fake(|mut ws| async move {
        let f = recv(&mut ws).await.unwrap();
        let code = ErrorCode::UnsupportedVersion;
        send(&mut ws, RelayFrame::Error { id: f.id, code }).await;
    })
    .await;
    assert_eq!(
        RelayConnection::connect(&url).await.err(),
        Some(RelayError::Relay(ErrorCode::UnsupportedVersion))
    );

    // A relay that never answers Hello.
    let url = fake(|mut ws| async move { while recv(&mut ws).await.is_some() {} }).await;
    let mut o = opts(Duration::from_secs(5), 8);
    o.connect_timeout = Duration::from_millis(300);
    assert_eq!(
        RelayConnection::connect_with(&url, o).await.err(),
        Some(RelayError::Timeout("connect and hello"))
    );
}

/// `wss://` to a relay that speaks plain `ws://` (it answers the TLS hello with an HTTP
/// error, as Kith's relay does): said plainly, not in rustls's words.
#[tokio::test]
async fn wss_to_a_plain_relay_says_it_does_not_speak_tls() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        let mut hello = [0u8; 512];
        let _ = tcp.read(&mut hello).await;
        let _ = tcp
            .write_all(
                b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            )
            .await;
    });
    let err = RelayConnection::connect_with(&format!("wss://{addr}/v1"), opts(REQUEST_TIMEOUT, 8))
        .await
        .unwrap_err();
    assert_eq!(err, RelayError::Setup(t!("net-not-tls")), "{err}");
}

#[tokio::test]
async fn a_closing_relay_fails_requests_in_flight() {
    let url = fake(|mut ws| async move {
        answer_hello(&mut ws).await;
        let _ = recv(&mut ws).await.unwrap();
        drop(ws);
    })
    .await;
    let conn = RelayConnection::connect(&url).await.unwrap();
    assert!(matches!(conn.ping().await, Err(RelayError::Closed(_))));
    assert!(conn.is_closed());
}

#[tokio::test]
async fn blobs_are_checked_against_their_ids() {
    let url = fake(|mut ws| async move {
        answer_hello(&mut ws).await;
        // A blob that is not the one asked for; then a true one.
        let f = recv(&mut ws).await.unwrap();
        let body = Response::Blob { data: vec![1; 256] };
        send(&mut ws, RelayFrame::Response { id: f.id, body }).await;
        let f = recv(&mut ws).await.unwrap();
        let body = Response::Blob { data: vec![2; 256] };
        send(&mut ws, RelayFrame::Response { id: f.id, body }).await;
        // A put answered with a wrong id.
        let f = recv(&mut ws).await.unwrap();
        let body = Response::BlobPut { id: [0; 32] };
        send(&mut ws, RelayFrame::Response { id: f.id, body }).await;
        pong_forever(&mut ws).await;
    })
    .await;
    let conn = RelayConnection::connect(&url).await.unwrap();
    let g = GroupId([1; 16]);
    let want = blob_id(&[2; 256]);
    assert_eq!(conn.get_blob(g, want).await, Err(RelayError::BlobMismatch));
    assert_eq!(conn.get_blob(g, want).await.unwrap(), vec![2; 256]);
    assert!(matches!(
        conn.put_blob(g, vec![3; 256]).await,
        Err(RelayError::Protocol(_))
    ));
    assert!(
        conn.is_closed(),
        "a relay that misnames a blob is not trusted on"
    );
}

#[tokio::test]
async fn incoherent_fetch_page_fails_the_connection() {
    let url = fake(|mut ws| async move {
        answer_hello(&mut ws).await;
        let f = recv(&mut ws).await.unwrap();
        let m = |seq| Message {
            seq,
            epoch: 0,
            kind: MessageKind::Application,
            stored_at: 0,
            payload: vec![0; 256],
        };
        let body = Response::Messages {
            messages: vec![m(5), m(4)],
            next: 6,
            head: 6,
            needs_epoch: None,
        };
        send(&mut ws, RelayFrame::Response { id: f.id, body }).await;
        pong_forever(&mut ws).await;
    })
    .await;
    let conn = RelayConnection::connect(&url).await.unwrap();
    assert!(matches!(
        conn.fetch(GroupId([1; 16]), 1, 10).await,
        Err(RelayError::Protocol(_))
    ));
    assert!(conn.is_closed());
}

#[test]
fn plain_ws_is_private_only_on_loopback_and_onion() {
    for host in [
        "127.0.0.1",
        "127.1.2.3",
        "::1",
        "[::1]",
        "::ffff:127.0.0.1",
        "localhost",
        "LocalHost",
        "abcdefghijklmnop.onion",
        "ABCDEFGHIJKLMNOP.ONION",
    ] {
        assert!(plain_ws_stays_private(host), "{host} should be private");
    }
    for host in [
        "relay.example.org",
        "RELAY.EXAMPLE.ORG",
        "10.0.0.5",
        "192.168.1.1",
        "172.16.0.1",
        "192.0.2.1",
        "fe80::1",
        "[fd00::1]",
        "0.0.0.0",
        "::",
        "localhost.example.org",
        "localhost.",
        "127.0.0.1.example.org",
        "onion",
        ".onion",
        "x.onion.example.org",
        "x..onion",
        "",
    ] {
        assert!(
            !plain_ws_stays_private(host),
            "{host} should not be private"
        );
    }
}

#[test]
fn plain_ws_urls_are_refused_unless_allowed() {
    for url in [
        "ws://relay.example.org/v1",
        "ws://Relay.Example.Org:7878/v1",
        "ws://10.1.2.3:7878/v1",
        "ws://192.0.2.1:9/v1",
        "ws://[2001:db8::1]:7878/v1",
    ] {
        let err = check_plain_ws(url, false).unwrap_err();
        assert_eq!(err, RelayError::PlainWs(url.to_owned()));
        let text = err.to_string();
        assert!(
            text.contains("plain ws://") && text.contains("--allow-plain-ws"),
            "{text}"
        );
        assert_eq!(check_plain_ws(url, true), Ok(()));
    }
    for url in [
        "ws://127.0.0.1:7878/v1",
        "ws://[::1]:7878/v1",
        "ws://LOCALHOST:7878/v1",
        "ws://abcdefghijklmnop.onion/v1",
        "wss://relay.example.org/v1",
        "wss://10.1.2.3:7878/v1",
    ] {
        assert_eq!(check_plain_ws(url, false), Ok(()), "{url}");
    }
}

/// The refusal comes before any connection: with a proxy that does not exist (on
/// loopback, so nothing could leave the machine anyway), a refused URL fails with
/// `PlainWs` and an allowed one gets as far as the proxy.
#[tokio::test]
async fn plain_ws_is_refused_before_connecting() {
    let url = "ws://relay.example.org:7878/v1";
    let options = ConnectOptions {
        proxy: Some("socks5://127.0.0.1:1".into()),
        ..ConnectOptions::default()
    };
    assert_eq!(
        RelayConnection::connect_with(url, options.clone())
            .await
            .err(),
        Some(RelayError::PlainWs(url.into()))
    );
    let allowed = ConnectOptions {
        allow_plain_ws: true,
        ..options
    };
    match RelayConnection::connect_with(url, allowed).await.err() {
        Some(RelayError::Connect(why)) => assert!(why.contains("SOCKS5"), "{why}"),
        other => panic!("expected a connection error, got {other:?}"),
    }
}
