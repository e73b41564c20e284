//! `kith doctor`: why a relay cannot be reached, step by step, in plain words.
//!
//! A relay that does not answer can be down, blocked, intercepted or misconfigured, and
//! each calls for something else (wait, try Tor with bridges, stop and warn, fix the
//! address). The doctor walks the steps a connection takes — name resolution, TCP (or the
//! SOCKS5 proxy), TLS, the WebSocket upgrade, `Hello` — and stops at the first that
//! fails, saying what it means and what to try. Nothing is sent beyond `Hello`: the
//! doctor needs no profile and proves no access.
//!
//! Through a proxy (`--proxy`), names are never resolved here (a `.onion` name or a
//! blocked name must not leak to the local resolver): the proxy resolves them.

use crate::relay::{ConnectOptions, SocksProxy, plain_ws_stays_private, tls_config};
use futures_util::{SinkExt, StreamExt};
use kith_i18n::t;
use kith_protocol::{ClientFrame, ErrorCode, PROTOCOL_VERSION, RelayFrame, Request, Response};
use serde::Serialize;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_socks::TargetAddr;
use tokio_socks::tcp::Socks5Stream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// How long each step may take (a Tor circuit takes a while).
const STEP_TIMEOUT: Duration = Duration::from_secs(20);

/// One step of the way to a relay, as the doctor found it.
#[derive(Clone, Debug, Serialize)]
pub struct Step {
    /// Which step: `address`, `resolve`, `tcp`, `proxy`, `tls`, `websocket`, `hello`.
    pub step: &'static str,
    /// Whether it worked.
    pub ok: bool,
    /// What was seen, in the reader's language.
    pub detail: String,
}

/// What the doctor found for one relay.
#[derive(Clone, Debug, Serialize)]
pub struct Diagnosis {
    /// The relay's URL.
    pub url: String,
    /// The steps taken, up to the first that failed.
    pub steps: Vec<Step>,
    /// Whether the relay answered as a Kith relay.
    pub ok: bool,
    /// What it means and what to try, in plain words (the reader's language).
    pub verdict: String,
}

struct Walk {
    steps: Vec<Step>,
}

impl Walk {
    fn ok(&mut self, step: &'static str, detail: impl Into<String>) {
        self.steps.push(Step {
            step,
            ok: true,
            detail: detail.into(),
        });
    }

    /// Records a failed step; the verdict says what it means.
    fn fail(
        &mut self,
        step: &'static str,
        detail: impl Into<String>,
        verdict: impl Into<String>,
    ) -> String {
        self.steps.push(Step {
            step,
            ok: false,
            detail: detail.into(),
        });
        verdict.into()
    }
}

async fn timed<T, E: std::fmt::Display>(
    f: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, String> {
    match tokio::time::timeout(STEP_TIMEOUT, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(no_answer_within()),
    }
}

/// "no answer within 20 seconds".
fn no_answer_within() -> String {
    t!(
        "net-doctor-no-answer-within",
        wait = kith_i18n::duration(STEP_TIMEOUT.as_secs())
    )
}

/// Walks the way to the relay at `url` as `options` would connect, and says what it
/// found.
pub async fn diagnose(url: &str, options: &ConnectOptions) -> Diagnosis {
    let mut walk = Walk { steps: Vec::new() };
    let (ok, verdict) = match walk_to(url, options, &mut walk).await {
        Ok(hello) => (true, t!("net-doctor-verdict-ok", hello = hello)),
        Err(verdict) => (false, verdict),
    };
    Diagnosis {
        url: url.to_owned(),
        steps: walk.steps,
        ok,
        verdict,
    }
}

async fn walk_to(url: &str, options: &ConnectOptions, walk: &mut Walk) -> Result<String, String> {
    let request = url.into_client_request().map_err(|e| {
        walk.fail(
            "address",
            e.to_string(),
            t!(
                "net-doctor-verdict-not-an-address",
                wss = "wss://relay.example",
                ws = "ws://127.0.0.1:8080"
            ),
        )
    })?;
    let uri = request.uri().clone();
    let tls = match uri.scheme_str() {
        Some("wss") => true,
        Some("ws") => false,
        _ => {
            return Err(walk.fail(
                "address",
                t!("net-doctor-bad-scheme"),
                t!("net-doctor-verdict-bad-scheme"),
            ));
        }
    };
    let Some(host) = uri
        .host()
        .map(|h| h.trim_start_matches('[').trim_end_matches(']').to_owned())
    else {
        return Err(walk.fail(
            "address",
            t!("net-doctor-no-host"),
            t!("net-doctor-verdict-no-host"),
        ));
    };
    let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
    if !tls && !options.allow_plain_ws && !plain_ws_stays_private(&host) {
        return Err(walk.fail(
            "address",
            t!("net-doctor-plain-ws"),
            t!("net-doctor-verdict-plain-ws"),
        ));
    }
    walk.ok(
        "address",
        if tls {
            t!("net-doctor-address-tls", host = &host, port = port)
        } else {
            t!("net-doctor-address-plain", host = &host, port = port)
        },
    );
    let onion = crate::relay::is_onion(&host);
    let tcp = match &options.proxy {
        Some(proxy) => through_proxy(proxy, &host, port, walk).await?,
        None if onion => {
            return Err(walk.fail(
                "resolve",
                t!("net-doctor-onion-no-proxy"),
                t!("net-doctor-verdict-onion-no-proxy"),
            ));
        }
        None => direct(&host, port, walk).await?,
    };
    let _ = tcp.set_nodelay(true);
    if tls {
        let config = tls_config(options.ca.as_deref())
            .map_err(|e| walk.fail("tls", e.to_string(), t!("net-doctor-verdict-ca-unreadable")))?;
        let name = rustls_pki_types::ServerName::try_from(host.clone())
            .map_err(|e| walk.fail("tls", e.to_string(), t!("net-doctor-verdict-bad-tls-name")))?;
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let stream = match tokio::time::timeout(STEP_TIMEOUT, connector.connect(name, tcp)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(tls_failed(&host, &e, walk)),
            Err(_) => {
                return Err(walk.fail(
                    "tls",
                    t!("net-doctor-tls-no-answer"),
                    t!("net-doctor-verdict-tls-no-answer"),
                ));
            }
        };
        walk.ok("tls", t!("net-doctor-certificate-valid", host = &host));
        upgrade_and_hello(request, stream, walk).await
    } else {
        upgrade_and_hello(request, tcp, walk).await
    }
}

async fn direct(host: &str, port: u16, walk: &mut Walk) -> Result<TcpStream, String> {
    let addrs: Vec<std::net::SocketAddr> = if let Ok(ip) = host.parse::<IpAddr>() {
        walk.ok(
            "resolve",
            t!("net-doctor-is-an-address", address = ip.to_string()),
        );
        vec![(ip, port).into()]
    } else {
        match timed(tokio::net::lookup_host((host, port))).await {
            Ok(a) => {
                let a: Vec<_> = a.collect();
                if a.is_empty() {
                    return Err(walk.fail(
                        "resolve",
                        t!("net-doctor-no-address"),
                        t!("net-doctor-verdict-no-address", host = host),
                    ));
                }
                let shown: Vec<String> = a.iter().map(|s| s.ip().to_string()).collect();
                walk.ok(
                    "resolve",
                    t!(
                        "net-doctor-resolved",
                        host = host,
                        addresses = shown.join(", ")
                    ),
                );
                a
            }
            Err(e) => {
                return Err(walk.fail(
                    "resolve",
                    e,
                    t!("net-doctor-verdict-lookup-failed", host = host),
                ));
            }
        }
    };
    let mut last = String::new();
    let mut refused = false;
    for addr in &addrs {
        match tokio::time::timeout(STEP_TIMEOUT, TcpStream::connect(addr)).await {
            Ok(Ok(s)) => {
                walk.ok(
                    "tcp",
                    t!("net-doctor-connected", address = addr.to_string()),
                );
                return Ok(s);
            }
            Ok(Err(e)) => {
                refused |= e.kind() == std::io::ErrorKind::ConnectionRefused;
                last = format!("{addr}: {e}");
            }
            Err(_) => last = format!("{addr}: {}", no_answer_within()),
        }
    }
    Err(walk.fail(
        "tcp",
        last,
        if refused {
            t!("net-doctor-verdict-refused")
        } else {
            t!("net-doctor-verdict-no-answer")
        },
    ))
}

async fn through_proxy(
    proxy: &str,
    host: &str,
    port: u16,
    walk: &mut Walk,
) -> Result<TcpStream, String> {
    let proxy: SocksProxy = proxy.parse().map_err(|e: crate::relay::RelayError| {
        walk.fail("proxy", e.to_string(), t!("net-doctor-verdict-proxy-bad"))
    })?;
    if let Err(e) = timed(TcpStream::connect(proxy.addr.as_str())).await {
        return Err(walk.fail(
            "proxy",
            format!("{}: {e}", proxy.addr),
            t!("net-doctor-verdict-proxy-silent", proxy = &proxy.addr),
        ));
    }
    let target = match host.parse::<IpAddr>() {
        Ok(ip) => TargetAddr::Ip((ip, port).into()),
        Err(_) => TargetAddr::Domain(host.into(), port),
    };
    let stream = match &proxy.auth {
        None => timed(Socks5Stream::connect(proxy.addr.as_str(), target)).await,
        Some((user, pass)) => {
            timed(Socks5Stream::connect_with_password(
                proxy.addr.as_str(),
                target,
                user,
                pass,
            ))
            .await
        }
    };
    match stream {
        Ok(s) => {
            walk.ok(
                "proxy",
                t!(
                    "net-doctor-proxy-reached",
                    proxy = &proxy.addr,
                    host = host,
                    port = port
                ),
            );
            Ok(s.into_inner())
        }
        Err(e) => Err(walk.fail(
            "proxy",
            e,
            t!(
                "net-doctor-verdict-proxy-unreached",
                host = host,
                port = port,
                obfs4 = "obfs4",
                snowflake = "snowflake",
                webtunnel = "webtunnel"
            ),
        )),
    }
}

fn tls_failed(host: &str, e: &std::io::Error, walk: &mut Walk) -> String {
    let cert = e
        .get_ref()
        .and_then(|i| i.downcast_ref::<rustls::Error>())
        .is_some_and(|t| {
            matches!(
                t,
                rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented
            )
        });
    if cert {
        walk.fail(
            "tls",
            e.to_string(),
            t!("net-doctor-verdict-certificate", host = host),
        )
    } else {
        walk.fail("tls", e.to_string(), t!("net-doctor-verdict-not-tls"))
    }
}

async fn upgrade_and_hello<S>(
    request: tokio_tungstenite::tungstenite::handshake::client::Request,
    stream: S,
    walk: &mut Walk,
) -> Result<String, String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    use tokio_tungstenite::tungstenite::Error as WsError;
    let path = request.uri().path().to_owned();
    let (mut ws, _) = match tokio::time::timeout(
        STEP_TIMEOUT,
        tokio_tungstenite::client_async(request, stream),
    )
    .await
    {
        Ok(Ok(ws)) => ws,
        Ok(Err(WsError::Http(response))) => {
            return Err(walk.fail(
                "websocket",
                format!("HTTP {}", response.status()),
                t!(
                    "net-doctor-verdict-web-server",
                    status = format!("HTTP {}", response.status()),
                    path = &path
                ),
            ));
        }
        Ok(Err(e)) => {
            return Err(walk.fail(
                "websocket",
                e.to_string(),
                t!("net-doctor-verdict-not-websocket"),
            ));
        }
        Err(_) => {
            return Err(walk.fail(
                "websocket",
                t!("net-doctor-upgrade-no-answer"),
                t!("net-doctor-verdict-upgrade-no-answer"),
            ));
        }
    };
    walk.ok("websocket", t!("net-doctor-upgraded", path = &path));
    let hello = ClientFrame {
        id: 1,
        request: Request::Hello {
            version: PROTOCOL_VERSION,
        },
    };
    let answer = async {
        ws.send(WsMessage::binary(hello.encode()))
            .await
            .map_err(|e| e.to_string())?;
        loop {
            match ws.next().await {
                Some(Ok(WsMessage::Binary(b))) => {
                    return RelayFrame::decode(&b).map_err(|e| e.to_string());
                }
                Some(Ok(WsMessage::Close(c))) => {
                    return Err(t!("net-doctor-closed", why = format!("{c:?}")));
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(e.to_string()),
                None => return Err(t!("net-closed-ended")),
            }
        }
    };
    let verdict_other = t!("net-doctor-verdict-not-kith");
    let result = match tokio::time::timeout(STEP_TIMEOUT, answer).await {
        Ok(Ok(RelayFrame::Response {
            body: Response::Hello { version, max_frame },
            ..
        })) => Ok(t!(
            "net-doctor-hello",
            version = version,
            size = kith_i18n::size(u64::from(max_frame))
        )),
        Ok(Ok(RelayFrame::Error {
            code: ErrorCode::UnsupportedVersion,
            ..
        })) => Err(walk.fail(
            "hello",
            "unsupported_version",
            t!("net-doctor-verdict-other-version"),
        )),
        Ok(Ok(other)) => Err(walk.fail("hello", format!("{other:?}"), verdict_other)),
        Ok(Err(e)) => Err(walk.fail("hello", e, verdict_other)),
        Err(_) => Err(walk.fail("hello", t!("net-doctor-hello-no-answer"), verdict_other)),
    };
    let _ = ws.close(None).await;
    if let Ok(h) = &result {
        walk.ok("hello", h.clone());
    }
    result
}
