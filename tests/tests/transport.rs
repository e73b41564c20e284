//! The client's transport options (issue 8): every relay connection through a SOCKS5
//! proxy (`--proxy`, `KITH_PROXY`; Tor in real use), and `--ca` for a relay whose
//! certificate comes from a private CA — through the library and through the `kith`
//! binary.
//!
//! The proxy is a minimal SOCKS5 server written here (no authentication, CONNECT to an
//! IPv4 address or a domain name) that records what it was asked to connect to.

use kith::{ConnectOptions, RelayConnection, RelayError};
use kith_tests::client::{Output, Profile};
use kith_tests::tls::TestCa;
use kith_tests::{TestRelay, create_group, payload, post_app};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the test proxy was asked to reach.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Target {
    /// A name the proxy resolved itself (what Tor needs: no local DNS).
    Domain(String, u16),
    /// An IPv4 address.
    Ip(SocketAddr),
}

/// A SOCKS5 proxy on 127.0.0.1 that relays CONNECTs and records their targets.
struct Socks5Proxy {
    addr: SocketAddr,
    targets: Arc<Mutex<Vec<Target>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Socks5Proxy {
    async fn start() -> Socks5Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let targets = Arc::new(Mutex::new(Vec::new()));
        let seen = targets.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let seen = seen.clone();
                tokio::spawn(async move {
                    let _ = serve(client, seen).await;
                });
            }
        });
        Socks5Proxy {
            addr,
            targets,
            task,
        }
    }

    fn url(&self) -> String {
        format!("socks5://{}", self.addr)
    }

    fn targets(&self) -> Vec<Target> {
        self.targets.lock().unwrap().clone()
    }
}

impl Drop for Socks5Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One SOCKS5 session (RFC 1928): greeting (no authentication), CONNECT, then bytes both
/// ways until either side closes.
async fn serve(mut client: TcpStream, seen: Arc<Mutex<Vec<Target>>>) -> std::io::Result<()> {
    let mut head = [0u8; 2];
    client.read_exact(&mut head).await?;
    let mut methods = vec![0u8; head[1] as usize];
    client.read_exact(&mut methods).await?;
    if head[0] != 5 || !methods.contains(&0) {
        client.write_all(&[5, 0xff]).await?;
        return Ok(());
    }
    client.write_all(&[5, 0]).await?;
    let mut req = [0u8; 4];
    client.read_exact(&mut req).await?;
    if req[0] != 5 || req[1] != 1 {
        client.write_all(&[5, 7, 0, 1, 0, 0, 0, 0, 0, 0]).await?;
        return Ok(());
    }
    let target = match req[3] {
        1 => {
            let mut ip = [0u8; 4];
            client.read_exact(&mut ip).await?;
            let port = client.read_u16().await?;
            Target::Ip(SocketAddr::from((Ipv4Addr::from(ip), port)))
        }
        3 => {
            let len = client.read_u8().await?;
            let mut name = vec![0u8; len as usize];
            client.read_exact(&mut name).await?;
            let port = client.read_u16().await?;
            Target::Domain(String::from_utf8_lossy(&name).into_owned(), port)
        }
        _ => {
            client.write_all(&[5, 8, 0, 1, 0, 0, 0, 0, 0, 0]).await?;
            return Ok(());
        }
    };
    seen.lock().unwrap().push(target.clone());
    let upstream = match &target {
        Target::Ip(a) => TcpStream::connect(a).await,
        Target::Domain(name, port) => TcpStream::connect((name.as_str(), *port)).await,
    };
    let mut upstream = match upstream {
        Ok(s) => s,
        Err(_) => {
            client.write_all(&[5, 5, 0, 1, 0, 0, 0, 0, 0, 0]).await?;
            return Ok(());
        }
    };
    client.write_all(&[5, 0, 0, 1, 127, 0, 0, 1, 0, 0]).await?;
    tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
    Ok(())
}

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
