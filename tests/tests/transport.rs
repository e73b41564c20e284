//! The client's transport options (issue 8): every relay connection through a SOCKS5
//! proxy (`--proxy`, `KITH_PROXY`; Tor in real use), and `--ca` for a relay whose
//! certificate comes from a private CA — through the library and through the `kith`
//! binary.
//!
//! The proxy is the harness's minimal SOCKS5 server (`kith_tests::socks`), which records
//! what it was asked to connect to. For the plain `ws://` tests it connects every request
//! to one loopback address instead of the target, so that a relay "at"
//! `relay.example.org` is the test relay, and nothing leaves the machine whatever the
//! client tries.

use kith::{ConnectOptions, RelayConnection, RelayError};
use kith_tests::client::{Output, Profile};
use kith_tests::socks::{Socks5Proxy, Target};
use kith_tests::tls::TestCa;
use kith_tests::{TestRelay, create_group, payload, post_app};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn through(proxy: &Socks5Proxy) -> ConnectOptions {
    ConnectOptions {
        proxy: Some(proxy.url()),
        ..ConnectOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_library_reaches_the_relay_only_through_the_proxy() {
    let relay = TestRelay::start(&[]).await;
    let proxy = Socks5Proxy::start().await;
    let port = relay.addr().port();

    // A host name goes to the proxy unresolved.
    let url = format!("ws://localhost:{port}/v1");
    let conn = RelayConnection::connect_with(&url, through(&proxy))
        .await
        .expect("connect through the proxy");
    let group = create_group(&conn).await;
    post_app(&conn, group.id, 0, payload("through SOCKS5"))
        .await
        .unwrap();
    assert_eq!(
        proxy.targets(),
        vec![Target::Domain("localhost".into(), port)]
    );

    // An address stays an address.
    let conn2 = RelayConnection::connect_with(&relay.ws_url(), through(&proxy))
        .await
        .expect("connect to an address through the proxy");
    conn2.ping().await.unwrap();
    assert_eq!(proxy.targets().len(), 2);
    assert_eq!(proxy.targets()[1], Target::Ip(relay.addr()));

    // The relay saw exactly the two proxied connections (plus none of ours directly).
    let metrics = kith_tests::http_get(relay.metrics_addr(), "/metrics")
        .await
        .1;
    let total = metrics
        .lines()
        .find(|l| l.starts_with("kith_connections_accepted_total"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse::<f64>().ok());
    assert_eq!(total, Some(2.0), "{metrics}");

    // No fallback: with no proxy listening (port 1), connecting fails instead of going
    // direct.
    let opts = ConnectOptions {
        proxy: Some("socks5://127.0.0.1:1".into()),
        ..ConnectOptions::default()
    };
    match RelayConnection::connect_with(&url, opts).await {
        Err(RelayError::Connect(msg)) => assert!(msg.contains("SOCKS5"), "{msg}"),
        other => panic!("expected a proxy error, got {other:?}"),
    }
    // Only SOCKS5 proxies are understood.
    let opts = ConnectOptions {
        proxy: Some("http://127.0.0.1:8080".into()),
        ..ConnectOptions::default()
    };
    assert!(matches!(
        RelayConnection::connect_with(&url, opts).await,
        Err(RelayError::Setup(m)) if m.contains("SOCKS5")
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn wss_through_the_proxy_with_a_private_ca() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("Kith transport CA");
    let ca_file = dir.path().join("ca.pem");
    ca.write_pem(&ca_file);
    let (cert, key) = (dir.path().join("r.crt"), dir.path().join("r.key"));
    ca.issue(&["localhost", "127.0.0.1"], 5).write(&cert, &key);
    let relay = TestRelay::start(&[
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ])
    .await;
    let proxy = Socks5Proxy::start().await;
    let url = format!("wss://localhost:{}/v1", relay.addr().port());
    let opts = ConnectOptions {
        proxy: Some(proxy.url()),
        ca: Some(ca_file),
        ..ConnectOptions::default()
    };
    let conn = RelayConnection::connect_with(&url, opts)
        .await
        .expect("wss through the proxy");
    create_group(&conn).await;
    assert_eq!(
        proxy.targets(),
        vec![Target::Domain("localhost".into(), relay.addr().port())]
    );
}

/// Runs `kith ARGS…` for `p` off the async runtime.
async fn kith(p: &Arc<Profile>, args: &[&str], envs: &[(&str, &str)]) -> Output {
    let p = p.clone();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let envs: Vec<(String, String)> = envs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        p.run_env(&args, &envs)
    })
    .await
    .expect("kith task")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_kith_binary_uses_kith_proxy_and_ca() {
    let relay = TestRelay::start(&[]).await;
    let proxy = Socks5Proxy::start().await;
    let port = relay.addr().port();
    let ws = format!("ws://localhost:{port}");
    let p = Arc::new(
        tokio::task::spawn_blocking(|| Profile::new("Olena"))
            .await
            .unwrap(),
    );

    // KITH_PROXY: creating a group and sending go through the proxy, and only there.
    let via = [("KITH_PROXY", proxy.url())];
    let via: Vec<(&str, &str)> = via.iter().map(|(k, v)| (*k, v.as_str())).collect();
    for args in [
        &["group", "create", "Legal aid", "--relay", ws.as_str()][..],
        &["send", "Legal aid", "hello via the proxy"][..],
    ] {
        let out = kith(&p, args, &via).await;
        assert!(out.success(), "kith {args:?}: {out}");
    }
    let seen = proxy.targets();
    assert!(!seen.is_empty(), "kith did not use KITH_PROXY");
    assert!(
        seen.iter()
            .all(|t| *t == Target::Domain("localhost".into(), port)),
        "{seen:?}"
    );

    // --proxy naming a dead proxy: the command fails; nothing goes direct.
    let before = kith_tests::http_get(relay.metrics_addr(), "/metrics")
        .await
        .1;
    let out = kith(
        &p,
        &[
            "--proxy",
            "socks5://127.0.0.1:1",
            "send",
            "Legal aid",
            "must not leave",
        ],
        &[],
    )
    .await;
    assert!(!out.success(), "send through a dead proxy succeeded: {out}");
    let after = kith_tests::http_get(relay.metrics_addr(), "/metrics")
        .await
        .1;
    let connections = |m: &str| {
        m.lines()
            .find(|l| l.starts_with("kith_connections_accepted_total"))
            .map(str::to_owned)
    };
    assert_eq!(
        connections(&before),
        connections(&after),
        "a direct connection"
    );
    // A proxy that is not a socks5:// URL is a usage error.
    let out = kith(
        &p,
        &["--proxy", "127.0.0.1:9050", "send", "Legal aid", "x"],
        &[],
    )
    .await;
    assert_eq!(out.code(), 2, "{out}");

    // --ca (and KITH_CA) for a wss:// relay whose certificate comes from a private CA.
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("Kith CLI CA");
    let ca_file = dir.path().join("ca.pem");
    ca.write_pem(&ca_file);
    let (cert, key) = (dir.path().join("r.crt"), dir.path().join("r.key"));
    ca.issue(&["localhost"], 9).write(&cert, &key);
    let tls_relay = TestRelay::start(&[
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ])
    .await;
    let wss = format!("wss://localhost:{}", tls_relay.addr().port());
    let ca_path = ca_file.to_str().unwrap();
    let out = kith(&p, &["group", "create", "Papers", "--relay", &wss], &[]).await;
    assert!(!out.success(), "a private CA was trusted without --ca");
    assert!(out.to_string().contains("certificate"), "{out}");
    let out = kith(
        &p,
        &[
            "--ca", ca_path, "group", "create", "Papers", "--relay", &wss,
        ],
        &[],
    )
    .await;
    assert!(out.success(), "--ca: {out}");
    let out = kith(&p, &["send", "Papers", "over wss"], &[("KITH_CA", ca_path)]).await;
    assert!(out.success(), "KITH_CA: {out}");
}

/// Asserts that `out` is the refusal of a plain `ws://` address, and came at once.
fn assert_plain_ws_refused(out: &Output, took: std::time::Duration) {
    assert_eq!(out.code(), 2, "{out}");
    assert!(
        out.stderr.contains("uses plain ws://") && out.stderr.contains("--allow-plain-ws"),
        "the refusal does not explain itself or name the flag: {out}"
    );
    assert!(took < std::time::Duration::from_secs(5), "took {took:?}");
}

/// Plain `ws://` to a host that is not this machine (issue 13) is refused before any
/// connection is tried — from `group create --relay` and from a `kith+ws://` invite —
/// and a falsey `KITH_ALLOW_PLAIN_WS` does not change that. The addresses are TEST-NET
/// and private ones; through the proxy, which only ever connects to loopback, the proxy
/// must not even be asked.
#[tokio::test(flavor = "multi_thread")]
async fn plain_ws_to_another_machine_is_refused_before_any_connection() {
    let p = Arc::new(
        tokio::task::spawn_blocking(|| Profile::new("Olena"))
            .await
            .unwrap(),
    );
    let code = kith_protocol::invite::InviteCode::generate();
    let invite = format!("kith+ws://192.0.2.1:9/{code}");
    let create = [
        "group",
        "create",
        "Legal aid",
        "--relay",
        "ws://192.0.2.1:9",
    ];
    let join = ["join", invite.as_str(), "--wait", "0"];

    // Directly (the check comes first, so no packet leaves the machine).
    for args in [&create[..], &join[..]] {
        let started = std::time::Instant::now();
        let out = kith(&p, args, &[]).await;
        assert_plain_ws_refused(&out, started.elapsed());
    }

    // Through a proxy on loopback, which would record any attempt.
    let proxy = Socks5Proxy::start_redirecting(SocketAddr::from(([127, 0, 0, 1], 9))).await;
    let url = proxy.url();
    let invite_10 = format!("kith+ws://10.0.0.7:7878/{code}");
    for (args, envs) in [
        (&create[..], vec![("KITH_PROXY", url.as_str())]),
        (
            &join[..],
            vec![("KITH_PROXY", url.as_str()), ("KITH_ALLOW_PLAIN_WS", "0")],
        ),
        (
            &["join", invite_10.as_str(), "--wait", "0"][..],
            vec![("KITH_PROXY", url.as_str())],
        ),
        (
            &[
                "group",
                "create",
                "Legal aid",
                "--relay",
                "ws://RELAY.Example.ORG:7878",
            ][..],
            vec![("KITH_PROXY", url.as_str())],
        ),
    ] {
        let started = std::time::Instant::now();
        let out = kith(&p, args, &envs).await;
        assert_plain_ws_refused(&out, started.elapsed());
    }
    assert_eq!(
        proxy.targets(),
        vec![],
        "a refused address was connected to"
    );
    let out = kith(&p, &["groups"], &[]).await;
    assert!(out.success() && !out.stdout.contains("Legal aid"), "{out}");
}

/// `--allow-plain-ws` (or `KITH_ALLOW_PLAIN_WS=1`) lets plain `ws://` through, and it is
/// needed by every command that reaches such a relay, not only the one that was given the
/// address; `.onion` hosts and loopback need nothing. The relay "at" `relay.example.org`
/// is the test relay on loopback, reached through a proxy that connects every request
/// there: nothing leaves the machine.
#[tokio::test(flavor = "multi_thread")]
async fn allow_plain_ws_lets_plain_ws_through() {
    let relay = TestRelay::start(&[]).await;
    let proxy = Socks5Proxy::start_redirecting(relay.addr()).await;
    let url = proxy.url();
    let via = [("KITH_PROXY", url.as_str())];
    let allowed = [("KITH_PROXY", url.as_str()), ("KITH_ALLOW_PLAIN_WS", "1")];
    let (olena, iryna) =
        tokio::task::spawn_blocking(|| (Profile::new("Olena"), Profile::new("Iryna")))
            .await
            .unwrap();
    let (olena, iryna) = (Arc::new(olena), Arc::new(iryna));
    let remote = Target::Domain("relay.example.org".into(), 7878);

    let create = [
        "group",
        "create",
        "Legal aid",
        "--relay",
        "ws://relay.example.org:7878",
    ];
    let started = std::time::Instant::now();
    let out = kith(&olena, &create, &via).await;
    assert_plain_ws_refused(&out, started.elapsed());
    assert_eq!(proxy.targets(), vec![]);

    let with_flag: Vec<&str> = ["--allow-plain-ws"]
        .iter()
        .chain(&create)
        .copied()
        .collect();
    let out = kith(&olena, &with_flag, &via).await;
    assert!(out.success(), "{out}");
    assert_eq!(proxy.targets(), vec![remote.clone()]);

    // The stored group's relay is checked at every connection.
    let started = std::time::Instant::now();
    let out = kith(&olena, &["send", "Legal aid", "hello"], &via).await;
    assert_plain_ws_refused(&out, started.elapsed());
    assert_eq!(proxy.targets().len(), 1, "{:?}", proxy.targets());
    let out = kith(&olena, &["send", "Legal aid", "hello"], &allowed).await;
    assert!(out.success(), "{out}");
    let out = kith(&olena, &["invite", "Legal aid"], &allowed).await;
    assert!(out.success(), "{out}");
    let invite = out.stdout.trim().to_owned();
    assert!(
        invite.starts_with("kith+ws://relay.example.org:7878/"),
        "{invite}"
    );

    // Joining from the invite: refused, then let through by the flag.
    let join = ["join", invite.as_str(), "--wait", "0"];
    let before = proxy.targets().len();
    let started = std::time::Instant::now();
    let out = kith(&iryna, &join, &via).await;
    assert_plain_ws_refused(&out, started.elapsed());
    assert_eq!(proxy.targets().len(), before);
    let with_flag: Vec<&str> = join.iter().copied().chain(["--allow-plain-ws"]).collect();
    let out = kith(&iryna, &with_flag, &via).await;
    assert!(out.success(), "{out}");
    assert!(out.stderr.contains("Join request sent"), "{out}");
    assert!(proxy.targets()[before..].iter().all(|t| *t == remote));

    // A .onion host needs no flag: Tor encrypts up to the onion service.
    let onion = "ws://kithkithkithkithkithkithkithkithkithkithkithkithkith7.onion:80";
    let out = kith(
        &olena,
        &["group", "create", "Papers", "--relay", onion],
        &via,
    )
    .await;
    assert!(out.success(), "{out}");
    assert_eq!(
        proxy.targets().last(),
        Some(&Target::Domain(
            "kithkithkithkithkithkithkithkithkithkithkithkithkith7.onion".into(),
            80
        ))
    );
    // Without a proxy it is refused before anything is looked up (a lookup would tell
    // the local resolver which onion service this machine wants).
    let out = kith(&olena, &["send", "Papers", "no proxy"], &[]).await;
    assert!(!out.success(), "{out}");
    assert!(
        out.stderr.contains("Tor onion service") && out.stderr.contains("not looked up"),
        "{out}"
    );
}

/// A plain HTTP server on loopback that answers every request 404 (and, as real ones
/// do, what is not HTTP at all — a TLS hello — 400 at once).
async fn http_404() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut b = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && head.len() < 8192 {
                    if s.read(&mut b).await.unwrap_or(0) == 0 {
                        return;
                    }
                    if head.is_empty() && !b[0].is_ascii_uppercase() {
                        let _ = s
                            .write_all(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")
                            .await;
                        return;
                    }
                    head.push(b[0]);
                }
                let _ = s
                    .write_all(
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    )
                    .await;
            });
        }
    });
    addr
}

/// Issue 15: `kith doctor` says which step fails and what it means, without a profile.
#[tokio::test(flavor = "multi_thread")]
async fn kith_doctor_names_the_step_that_fails() {
    let p = Arc::new(Profile::new("Doctor"));
    let doctor = |args: Vec<String>| {
        let p = p.clone();
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            kith(&p, &args, &[]).await
        }
    };
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();

    // A healthy relay.
    let relay = TestRelay::start(&[]).await;
    let out = doctor(s(&["doctor", &relay.ws_url()])).await;
    assert!(out.success(), "{out}");
    assert!(out.stdout.contains("answers as a Kith relay"), "{out}");

    // A refused port.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let out = doctor(s(&["doctor", &format!("ws://127.0.0.1:{port}")])).await;
    assert_eq!(out.code(), 1, "{out}");
    assert!(
        out.stdout.contains("FAIL tcp") && out.stdout.contains("nothing listens on that port"),
        "{out}"
    );

    // A plain web server: no relay at /v1 over ws://, no TLS over wss://.
    let http = http_404().await;
    let out = doctor(s(&["doctor", &format!("ws://{http}")])).await;
    assert!(
        out.stdout.contains("FAIL websocket")
            && out.stdout.contains("A web server answers there (HTTP 404"),
        "{out}"
    );
    let out = doctor(s(&["doctor", &format!("wss://localhost:{}", http.port())])).await;
    assert!(
        out.stdout.contains("FAIL tls") && out.stdout.contains("not with TLS"),
        "{out}"
    );

    // TLS with a certificate nobody here trusts (what an intercepting proxy shows).
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("Not your CA");
    let (cert, key) = (dir.path().join("r.crt"), dir.path().join("r.key"));
    ca.issue(&["localhost"], 3).write(&cert, &key);
    let tls_relay = TestRelay::start(&[
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ])
    .await;
    let wss = format!("wss://localhost:{}", tls_relay.addr().port());
    let out = doctor(s(&["doctor", &wss])).await;
    assert!(
        out.stdout.contains("FAIL tls")
            && out.stdout.contains("not a valid one for localhost")
            && out.stdout.contains("intercepting"),
        "{out}"
    );
    // With that CA trusted (--ca), the same relay is fine.
    let ca_file = dir.path().join("ca.pem");
    ca.write_pem(&ca_file);
    let out = doctor(s(&["--ca", ca_file.to_str().unwrap(), "doctor", &wss])).await;
    assert!(out.success(), "{out}");

    // An .onion relay: never looked up here; through the proxy, only the proxy is asked.
    let onion = "ws://kithrelayexample.onion/v1";
    let out = doctor(s(&["doctor", onion])).await;
    assert!(
        out.stdout.contains("FAIL resolve") && out.stdout.contains("only through Tor"),
        "{out}"
    );
    let proxy = Socks5Proxy::start_redirecting(relay.addr()).await;
    let out = doctor(s(&["--proxy", &proxy.url(), "--json", "doctor", onion])).await;
    assert!(out.success(), "{out}");
    let v: serde_json::Value = serde_json::from_str(out.stdout.trim()).expect("one JSON line");
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(
        proxy.targets(),
        vec![Target::Domain("kithrelayexample.onion".into(), 80)]
    );
}
