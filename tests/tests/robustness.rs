//! End-to-end tests of the relay under abuse and failure: kill -9 in the middle of
//! posting, garbage frames, a reader that stops reading, pings during a burst of pushes,
//! creation secrets, rate limits and timeouts.

use futures_util::SinkExt;
use futures_util::future::join_all;
use kith::RelayError;
use kith_protocol::limits::{MAX_FRAME, MAX_INVITE_BLOB};
use kith_protocol::{
    ClientFrame, ErrorCode, PROTOCOL_VERSION, Push, RelayFrame, Request, Response, Seq, SlotId,
    padding,
};
use kith_tests::*;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message as WsMessage;

/// Acknowledged posts: sequence number and payload.
type Acked = Vec<(Seq, Vec<u8>)>;

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_loses_no_acknowledged_message() {
    let mut relay = TestRelay::start(&[]).await;
    let setup = relay.connect().await;
    let g = Arc::new(create_group(&setup).await);
    let url = relay.ws_url();
    let acked: Arc<Mutex<Acked>> = Arc::default();

    // A fifth writer that is still posting (4 in flight) when the relay dies.
    let in_flight = {
        let (g, acked, url) = (g.clone(), acked.clone(), url.clone());
        tokio::spawn(async move {
            let conn = kith::RelayConnection::connect(&url).await.unwrap();
            conn.auth(g.id, 0, &g.key).await.unwrap();
            let lanes = (0..4).map(|lane| {
                let (conn, g, acked) = (&conn, &g, &acked);
                async move {
                    for i in 0.. {
                        let p = payload(&format!("writer 4 lane {lane} message {i}"));
                        match post_app(conn, g.id, 0, p.clone()).await {
                            Ok(seq) => acked.lock().unwrap().push((seq, p)),
                            Err(_) => return i,
                        }
                    }
                    unreachable!()
                }
            });
            join_all(lanes).await.into_iter().sum::<u64>()
        })
    };

    let writers = (0..4).map(|w| {
        let (g, acked, url) = (g.clone(), acked.clone(), url.clone());
        tokio::spawn(async move {
            let conn = kith::RelayConnection::connect(&url).await.unwrap();
            conn.auth(g.id, 0, &g.key).await.unwrap();
            for i in 0..50 {
                let p = payload(&format!("writer {w} message {i}"));
                let seq = post_app(&conn, g.id, 0, p.clone()).await.unwrap();
                acked.lock().unwrap().push((seq, p));
            }
        })
    });
    for r in join_all(writers).await {
        r.unwrap();
    }
    relay.kill9();
    let fifth_acked = in_flight.await.unwrap();
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    assert!(acked.len() >= 200);
    eprintln!("acknowledged before kill -9: 200 + {fifth_acked}");

    relay.restart().await;
    let conn = relay.connect().await;
    conn.auth(g.id, 0, &g.key).await.unwrap();
    let (messages, next, head, _) = fetch_all(&conn, g.id, 1).await.unwrap();
    let n = messages.len() as u64;
    let seqs: Vec<u64> = messages.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, (1..=n).collect::<Vec<_>>(), "contiguous from 1");
    assert_eq!((next, head), (n + 1, n + 1));
    for (seq, p) in &acked {
        let m = messages
            .get(*seq as usize - 1)
            .unwrap_or_else(|| panic!("acknowledged seq {seq} lost (only {n} stored)"));
        assert_eq!(&m.payload, p, "payload of acknowledged seq {seq}");
    }
    // Anything stored beyond the acknowledged ones is one of the in-flight posts.
    for m in &messages {
        let text = String::from_utf8_lossy(padding::unpad(&m.payload).unwrap()).into_owned();
        assert!(
            text.starts_with("writer "),
            "unexpected stored payload {text:?}"
        );
    }
    assert_eq!(
        post_app(&conn, g.id, 0, payload("after restart")).await,
        Ok(n + 1)
    );
}

/// A well-behaved client that posts and fetches until told to stop, counting its round
/// trips in `rounds`; panics on the first failure.
fn good_client(
    url: String,
    stop: Arc<AtomicBool>,
    rounds: Arc<AtomicU64>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let conn = kith::RelayConnection::connect(&url).await.unwrap();
        let g = create_group(&conn).await;
        let mut n = 0;
        while !stop.load(Ordering::Relaxed) {
            let p = payload(&format!("good {n}"));
            let seq = post_app(&conn, g.id, 0, p.clone())
                .await
                .unwrap_or_else(|e| panic!("good client's post {n} failed: {e}"));
            assert_eq!(seq, n + 1);
            let page = conn.fetch(g.id, seq, 1).await.unwrap();
            assert_eq!(page.messages[0].payload, p);
            n += 1;
            rounds.store(n, Ordering::Relaxed);
        }
        conn.ping().await.unwrap();
    })
}

/// Waits until the good client has done `at_least` round trips in all.
async fn good_progress(good: &tokio::task::JoinHandle<()>, rounds: &AtomicU64, at_least: u64) {
    eventually(
        Duration::from_secs(20),
        "the good client's progress",
        || async {
            assert!(!good.is_finished(), "the good client failed");
            (rounds.load(Ordering::Relaxed) >= at_least).then_some(())
        },
    )
    .await;
}

fn random_garbage() -> Vec<u8> {
    loop {
        let len = rand::random::<usize>() % 200 + 1;
        let bytes: Vec<u8> = (0..len).map(|_| rand::random()).collect();
        if ClientFrame::decode(&bytes).is_err() {
            return bytes;
        }
    }
}

async fn send_binary(ws: &mut RawWs, bytes: Vec<u8>) {
    // The relay may close while we send; what it does is checked by reading.
    let _ = ws.send(WsMessage::binary(bytes)).await;
}

async fn expect_error(ws: &mut RawWs, ids: &[u32], code: ErrorCode, what: &str) {
    match raw_next(ws, WAIT).await {
        Some(RawEvent::Frame(RelayFrame::Error { id, code: got }))
            if ids.contains(&id) && got == code => {}
        other => panic!("{what}: expected Error {code:?} with id in {ids:?}, got {other:?}"),
    }
}

/// Reads until the relay closes; panics if it does not within `WAIT`. Returns the
/// number of frames read before the close.
async fn expect_closed(ws: &mut RawWs, what: &str) -> usize {
    let mut frames = 0;
    loop {
        match raw_next(ws, WAIT).await {
            Some(RawEvent::Closed(_)) => return frames,
            Some(_) => frames += 1,
            None => panic!("{what}: the relay did not close the connection"),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn garbage_is_refused_and_does_not_disturb_others() {
    let relay = TestRelay::start(&[]).await;
    let url = relay.ws_url();
    let stop = Arc::new(AtomicBool::new(false));
    let rounds = Arc::new(AtomicU64::new(0));
    let good = good_client(url.clone(), stop.clone(), rounds.clone());
    good_progress(&good, &rounds, 3).await;

    // Random bytes: one BadFrame error each, and the connection still works.
    let mut ws = raw_connect_hello(&url).await;
    for _ in 0..10 {
        send_binary(&mut ws, random_garbage()).await;
        expect_error(&mut ws, &[0], ErrorCode::BadFrame, "random bytes").await;
    }
    raw_send(&mut ws, 2, Request::Ping).await;
    assert_eq!(raw_answer(&mut ws, 2).await, Ok(Response::Pong));

    // Unknown variants, trailing bytes.
    let unknown_request = vec![0x05, 0x10]; // id 5, request variant 16 (one past the last)
    let unknown_far = vec![0x05, 0x7f, 1, 2, 3];
    let mut trailing = ClientFrame {
        id: 6,
        request: Request::Ping,
    }
    .encode();
    trailing.push(0);
    for bytes in [unknown_request, unknown_far, trailing] {
        send_binary(&mut ws, bytes).await;
        expect_error(&mut ws, &[0], ErrorCode::BadFrame, "malformed frame").await;
    }
    // A field over its limit: refused with TooLarge.
    let over = ClientFrame {
        id: 7,
        request: Request::AnswerInvite {
            slot: SlotId([3; 32]),
            answer: vec![0; MAX_INVITE_BLOB + 1],
        },
    };
    send_binary(&mut ws, over.encode()).await;
    expect_error(&mut ws, &[0, 7], ErrorCode::TooLarge, "over-limit field").await;
    // A second Hello.
    let hello = Request::Hello {
        version: PROTOCOL_VERSION,
    };
    raw_send(&mut ws, 8, hello.clone()).await;
    expect_error(&mut ws, &[8], ErrorCode::HelloFirst, "second Hello").await;

    // A text message: an error or a close.
    let mut ws = raw_connect_hello(&url).await;
    let _ = ws.send(WsMessage::text("hello relay")).await;
    match raw_next(&mut ws, WAIT).await {
        Some(RawEvent::Frame(RelayFrame::Error {
            id: 0,
            code: ErrorCode::BadFrame,
        }))
        | Some(RawEvent::Closed(_)) => {}
        other => panic!("text message: {other:?}"),
    }

    // Bigger than MAX_FRAME: closed.
    let mut ws = raw_connect_hello(&url).await;
    send_binary(&mut ws, vec![0; MAX_FRAME + 1]).await;
    expect_closed(&mut ws, "oversized frame").await;

    // Not Hello first: HelloFirst, then closed.
    let mut ws = raw_connect(&url).await;
    raw_send(&mut ws, 1, Request::Ping).await;
    expect_error(&mut ws, &[0, 1], ErrorCode::HelloFirst, "Ping first").await;
    expect_closed(&mut ws, "after HelloFirst").await;

    // Garbage first: an error, then closed (no Hello ever came).
    let mut ws = raw_connect(&url).await;
    send_binary(&mut ws, random_garbage()).await;
    match raw_next(&mut ws, WAIT).await {
        Some(RawEvent::Frame(RelayFrame::Error { .. })) | Some(RawEvent::Closed(_)) => {}
        other => panic!("garbage first: {other:?}"),
    }

    // A Hello with another version: UnsupportedVersion, then closed.
    let mut ws = raw_connect(&url).await;
    raw_send(&mut ws, 1, Request::Hello { version: 999 }).await;
    expect_error(
        &mut ws,
        &[0, 1],
        ErrorCode::UnsupportedVersion,
        "Hello v999",
    )
    .await;
    expect_closed(&mut ws, "after UnsupportedVersion").await;

    // Many bad frames: the relay gives up on the connection after 16.
    let mut ws = raw_connect_hello(&url).await;
    for _ in 0..20 {
        send_binary(&mut ws, random_garbage()).await;
    }
    let errors = expect_closed(&mut ws, "20 bad frames").await;
    assert!(errors <= 16, "{errors} error frames before the close");

    // The good client kept going all along, and goes on.
    let during = rounds.load(Ordering::Relaxed);
    good_progress(&good, &rounds, during + 3).await;
    stop.store(true, Ordering::Relaxed);
    good.await.expect("the good client never failed");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reader_that_stops_reading_is_cut_off_and_others_carry_on() {
    let relay = TestRelay::start(&["--outbox-bytes", "2MiB"]).await;
    let poster = relay.connect().await;
    let g = create_group(&poster).await;

    let mut slow = raw_connect_hello(&relay.ws_url()).await;
    raw_auth(&mut slow, 2, g.id, 0, &g.key).await;
    raw_send(&mut slow, 4, Request::Subscribe { group: g.id }).await;
    assert!(matches!(
        raw_answer(&mut slow, 4).await,
        Ok(Response::Subscribed { .. })
    ));
    // From here on nobody reads `slow`.

    // ~25 MiB of pushes: far beyond the outbox plus what the kernel buffers without the
    // receiver reading (its receive window does not grow unless it reads).
    const POSTS: u64 = 400;
    let next = AtomicU64::new(0);
    let lanes = (0..8).map(|_| async {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= POSTS {
                return;
            }
            let p = payload_of(60_000, i as u8);
            assert_eq!(p.len(), 65_536);
            post_app(&poster, g.id, 0, p)
                .await
                .unwrap_or_else(|e| panic!("post {i} failed: {e}"));
        }
    });
    join_all(lanes).await;
    assert_eq!(poster.fetch(g.id, 1, 1).await.unwrap().head, POSTS + 1);

    // Now read: some pushes, then the end of the connection.
    let mut pushes = 0;
    loop {
        match raw_next(&mut slow, WAIT).await {
            Some(RawEvent::Frame(RelayFrame::Push(Push::Message { .. }))) => pushes += 1,
            Some(RawEvent::Closed(_)) => break,
            Some(other) => panic!("slow reader got {other:?}"),
            None => panic!("the slow reader was not cut off ({pushes} pushes read)"),
        }
    }
    eprintln!("the slow reader read {pushes} of {POSTS} pushes before the cut");
    assert!(
        pushes < POSTS,
        "the slow reader got all {pushes} pushes: it was not cut off"
    );
    poster.ping().await.unwrap();
}

/// The relay writes its data frames itself and leaves control frames to tungstenite
/// (ARCHITECTURE.md, invariant 18). A client that pings without pause while pushes of
/// every size up to 256 KiB pour in must still read every frame whole, in order, and get
/// its pongs: a pong written into the middle of a push would break the stream.
#[tokio::test(flavor = "multi_thread")]
async fn pings_during_a_burst_of_pushes_never_split_a_frame() {
    let relay = TestRelay::start(&[]).await;
    let poster = relay.connect().await;
    let g = create_group(&poster).await;
    let mut sub = raw_connect_hello(&relay.ws_url()).await;
    raw_auth(&mut sub, 2, g.id, 0, &g.key).await;
    raw_send(&mut sub, 4, Request::Subscribe { group: g.id }).await;
    assert!(matches!(
        raw_answer(&mut sub, 4).await,
        Ok(Response::Subscribed { .. })
    ));
    let (mut sink, mut stream) = futures_util::StreamExt::split(sub);
    let done = Arc::new(AtomicBool::new(false));
    let pinger = {
        let done = done.clone();
        tokio::spawn(async move {
            let mut sent = 0u64;
            while !done.load(Ordering::Relaxed) {
                sink.send(WsMessage::Ping(sent.to_be_bytes().to_vec().into()))
                    .await
                    .expect("ping");
                sent += 1;
                tokio::time::sleep(Duration::from_micros(200)).await;
            }
            sent
        })
    };

    // Sizes cycle through four buckets, 1 KiB to 256 KiB; two lanes post at once.
    const POSTS: u64 = 200;
    let sizes = [500usize, 60_000, 3_000, 250_000];
    let next = AtomicU64::new(0);
    let lanes = (0..2).map(|_| async {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= POSTS {
                return;
            }
            let p = payload_of(sizes[i as usize % sizes.len()], i as u8);
            post_app(&poster, g.id, 0, p)
                .await
                .unwrap_or_else(|e| panic!("post {i} failed: {e}"));
        }
    });
    let reader = async {
        let (mut seqs, mut pongs) = (Vec::new(), 0u64);
        while (seqs.len() as u64) < POSTS {
            let msg = tokio::time::timeout(WAIT, futures_util::StreamExt::next(&mut stream))
                .await
                .unwrap_or_else(|_| panic!("stalled after {} pushes", seqs.len()));
            match msg {
                Some(Ok(WsMessage::Binary(b))) => match RelayFrame::decode(&b) {
                    Ok(RelayFrame::Push(Push::Message { message, .. })) => {
                        assert!(padding::is_bucket(message.payload.len()));
                        seqs.push(message.seq);
                    }
                    other => panic!("after {} pushes: {other:?}", seqs.len()),
                },
                Some(Ok(WsMessage::Pong(_))) => pongs += 1,
                other => panic!("after {} pushes the stream broke: {other:?}", seqs.len()),
            }
        }
        (seqs, pongs)
    };
    let (_, (seqs, pongs)) = tokio::join!(join_all(lanes), reader);
    done.store(true, Ordering::Relaxed);
    let pings = pinger.await.expect("pinger");
    assert_eq!(
        seqs,
        (1..=POSTS).collect::<Vec<_>>(),
        "every push, in order"
    );
    assert!(pings > 10, "only {pings} pings were sent during the burst");
    assert!(pongs > 0, "{pings} pings, no pong read during the burst");
    eprintln!("{POSTS} pushes read whole while {pings} pings were sent ({pongs} pongs read)");
}

#[tokio::test(flavor = "multi_thread")]
async fn creation_secret_gates_group_creation() {
    let relay = TestRelay::start_with_env(&[], &[("KITH_RELAY_CREATION_SECRET", "s3cret")]).await;
    let conn = relay.connect().await;
    for wrong in [&b""[..], b"wrong", b"s3cret\n", b"S3CRET"] {
        assert_eq!(
            create_group_with_secret(&conn, wrong).await.err(),
            Some(RelayError::Relay(ErrorCode::CreationForbidden)),
            "secret {:?}",
            String::from_utf8_lossy(wrong)
        );
    }
    let g = create_group_with_secret(&conn, b"s3cret").await.unwrap();
    assert_eq!(post_app(&conn, g.id, 0, payload("hi")).await, Ok(1));
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limit_answers_rate_limited() {
    let relay = TestRelay::start(&["--rate", "1", "--burst", "5"]).await;
    let conn = relay.connect().await;
    let results = join_all((0..30).map(|_| conn.request(Request::Challenge))).await;
    let ok = results.iter().filter(|r| r.is_ok()).count();
    let limited = results
        .iter()
        .filter(|r| **r == Err(RelayError::Relay(ErrorCode::RateLimited)))
        .count();
    assert_eq!(
        ok + limited,
        30,
        "only successes and RateLimited: {results:?}"
    );
    assert!(limited >= 20, "{limited} of 30 rate limited");
    assert!(ok >= 1, "the burst lets some through");
    // The connection survives and recovers as tokens come back.
    eventually(
        Duration::from_secs(10),
        "a request to pass again",
        || async { conn.request(Request::Challenge).await.ok() },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn silent_connections_time_out() {
    let relay = TestRelay::start(&["--handshake-timeout", "1s", "--idle-timeout", "2s"]).await;

    // A TCP connection that never sends an HTTP upgrade.
    let mut tcp = tokio::net::TcpStream::connect(relay.addr()).await.unwrap();
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(WAIT, tokio::io::AsyncReadExt::read(&mut tcp, &mut buf))
        .await
        .expect("the relay did not drop a silent TCP connection");
    assert!(matches!(read, Ok(0) | Err(_)), "got {read:?}");

    // A WebSocket that said Hello and then nothing.
    let idle = relay.connect().await;
    eventually(
        Duration::from_secs(15),
        "the idle connection to be closed",
        || async { idle.is_closed().then_some(()) },
    )
    .await;

    // One that keeps pinging stays.
    let busy = relay.connect().await;
    for _ in 0..6 {
        busy.ping().await.unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(!busy.is_closed());
}

#[tokio::test(flavor = "multi_thread")]
async fn config_file_and_secret_file_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let secret_path = dir.path().join("secret");
    std::fs::write(&secret_path, "file-secret\n").unwrap();
    let config_path = dir.path().join("relay.toml");
    std::fs::write(
        &config_path,
        format!(
            "rate = 1\nburst = 20\ncreation_secret_file = {:?}\n",
            secret_path.to_str().unwrap()
        ),
    )
    .unwrap();
    let relay = TestRelay::start(&["--config", config_path.to_str().unwrap()]).await;
    let conn = relay.connect().await;
    assert_eq!(
        create_group_with_secret(&conn, b"").await.err(),
        Some(RelayError::Relay(ErrorCode::CreationForbidden))
    );
    create_group_with_secret(&conn, b"file-secret")
        .await
        .expect("the secret from the file (trimmed) works");
    let results = join_all((0..40).map(|_| conn.request(Request::Challenge))).await;
    let limited = results
        .iter()
        .filter(|r| **r == Err(RelayError::Relay(ErrorCode::RateLimited)))
        .count();
    assert!(
        limited >= 10,
        "rate 1 from the file: {limited} of 40 limited"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_beyond_the_cap_wait_for_a_free_slot() {
    let relay = TestRelay::start(&["--max-connections", "2"]).await;
    let short = kith::ConnectOptions {
        connect_timeout: Duration::from_secs(1),
        ..Default::default()
    };
    let a = relay.connect().await;
    let b = relay.connect().await;
    let third = kith::RelayConnection::connect_with(&relay.ws_url(), short.clone()).await;
    assert!(third.is_err(), "a third connection is not served");
    drop(a);
    let c = eventually(Duration::from_secs(20), "a free slot", || async {
        kith::RelayConnection::connect_with(&relay.ws_url(), short.clone())
            .await
            .ok()
    })
    .await;
    c.ping().await.unwrap();
    b.ping().await.unwrap();
}
