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
    /// What was seen.
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
    /// What it means and what to try, in plain words.
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
        Err(_) => Err(format!("no answer within {} s", STEP_TIMEOUT.as_secs())),
    }
}

/// Walks the way to the relay at `url` as `options` would connect, and says what it
/// found.
pub async fn diagnose(url: &str, options: &ConnectOptions) -> Diagnosis {
    let mut walk = Walk { steps: Vec::new() };
    let (ok, verdict) = match walk_to(url, options, &mut walk).await {
        Ok(hello) => (
            true,
            format!("The relay answers as a Kith relay ({hello}). Nothing to fix here."),
        ),
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
            "This is not a relay address. One looks like wss://relay.example or \
             ws://127.0.0.1:8080; check it with whoever gave it to you.",
        )
    })?;
    let uri = request.uri().clone();
    let tls = match uri.scheme_str() {
        Some("wss") => true,
        Some("ws") => false,
        _ => {
            return Err(walk.fail(
                "address",
                "the address starts with neither wss:// nor ws://",
                "This is not a relay address: it starts with wss:// (or ws://).",
            ));
        }
    };
    let Some(host) = uri
        .host()
        .map(|h| h.trim_start_matches('[').trim_end_matches(']').to_owned())
    else {
        return Err(walk.fail("address", "no host", "This relay address names no host."));
    };
    let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
    if !tls && !options.allow_plain_ws && !plain_ws_stays_private(&host) {
        return Err(walk.fail(
            "address",
            "plain ws:// to a host on the network",
            "This address is plain ws://: anyone on the way could read and change the \
             traffic, so Kith refuses it. Use the relay's wss:// address (or \
             --allow-plain-ws if you know why).",
        ));
    }
    walk.ok(
        "address",
        format!("{host}:{port}, {}", if tls { "TLS" } else { "plain" }),
    );
    let onion = crate::relay::is_onion(&host);
    let tcp = match &options.proxy {
        Some(proxy) => through_proxy(proxy, &host, port, walk).await?,
        None if onion => {
            return Err(walk.fail(
                "resolve",
                "a .onion name, and no proxy",
                "A .onion relay is reached only through Tor: start Tor and give \
                 --proxy socks5://127.0.0.1:9050. (The name was not looked up here.)",
            ));
        }
        None => direct(&host, port, walk).await?,
    };
    let _ = tcp.set_nodelay(true);
    if tls {
        let config = tls_config(options.ca.as_deref()).map_err(|e| {
            walk.fail(
                "tls",
                e.to_string(),
                "The certificates Kith should trust could not be read (--ca).",
            )
        })?;
        let name = rustls_pki_types::ServerName::try_from(host.clone()).map_err(|e| {
            walk.fail(
                "tls",
                e.to_string(),
                "This host name cannot be checked by TLS.",
            )
        })?;
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let stream = match tokio::time::timeout(STEP_TIMEOUT, connector.connect(name, tcp)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(tls_failed(&host, &e, walk)),
            Err(_) => {
                return Err(walk.fail(
                    "tls",
                    "no answer to the TLS handshake",
                    "Something accepts connections there but does not finish TLS: the \
                     connection may be slowed or cut on its way (a block). Try Tor with \
                     bridges.",
                ));
            }
        };
        walk.ok("tls", format!("the certificate is valid for {host}"));
        upgrade_and_hello(request, stream, walk).await
    } else {
        upgrade_and_hello(request, tcp, walk).await
    }
}

async fn direct(host: &str, port: u16, walk: &mut Walk) -> Result<TcpStream, String> {
    let addrs: Vec<std::net::SocketAddr> = if let Ok(ip) = host.parse::<IpAddr>() {
        walk.ok("resolve", format!("{ip} is an address: nothing to look up"));
        vec![(ip, port).into()]
    } else {
        match timed(tokio::net::lookup_host((host, port))).await {
            Ok(a) => {
                let a: Vec<_> = a.collect();
                if a.is_empty() {
                    return Err(walk.fail(
                        "resolve",
                        "no address",
                        format!(
                            "The name {host} has no address: check the relay address; if it \
                             is right, the name may be blocked where you are — try Tor \
                             (--proxy socks5://127.0.0.1:9050)."
                        ),
                    ));
                }
                let shown: Vec<String> = a.iter().map(|s| s.ip().to_string()).collect();
                walk.ok("resolve", format!("{host} is {}", shown.join(", ")));
                a
            }
            Err(e) => {
                return Err(walk.fail(
                    "resolve",
                    e,
                    format!(
                        "The name {host} could not be looked up: check the relay address and \
                         your internet connection; if both are right, the name may be blocked \
                         where you are — try Tor (--proxy socks5://127.0.0.1:9050)."
                    ),
                ));
            }
        }
    };
    let mut last = String::new();
    let mut refused = false;
    for addr in &addrs {
        match tokio::time::timeout(STEP_TIMEOUT, TcpStream::connect(addr)).await {
            Ok(Ok(s)) => {
                walk.ok("tcp", format!("connected to {addr}"));
                return Ok(s);
            }
            Ok(Err(e)) => {
                refused |= e.kind() == std::io::ErrorKind::ConnectionRefused;
                last = format!("{addr}: {e}");
            }
            Err(_) => last = format!("{addr}: no answer within {} s", STEP_TIMEOUT.as_secs()),
        }
    }
    Err(walk.fail(
        "tcp",
        last,
        if refused {
            "The machine answers, but nothing listens on that port (connection refused): \
             the relay is not running, or the port in the address is wrong. Ask the person \
             who runs it."
        } else {
            "No answer from the relay's machine: it is down, or the way to it is blocked. \
             If other sites work, try Tor with bridges (--proxy), or a fallback relay."
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
        walk.fail(
            "proxy",
            e.to_string(),
            "The --proxy address is not a SOCKS5 URL.",
        )
    })?;
    if let Err(e) = timed(TcpStream::connect(proxy.addr.as_str())).await {
        return Err(walk.fail(
            "proxy",
            format!("{}: {e}", proxy.addr),
            format!(
                "The proxy at {} does not answer: is Tor running? (Tor Browser listens on \
                 9150, the tor service on 9050.)",
                proxy.addr
            ),
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
                format!("the proxy {} reached {host}:{port}", proxy.addr),
            );
            Ok(s.into_inner())
        }
        Err(e) => Err(walk.fail(
            "proxy",
            e,
            format!(
                "The proxy answers but could not reach {host}:{port}: the relay may be down, \
                 or (with Tor) Tor itself may be blocked — set it up with bridges (obfs4, \
                 snowflake or webtunnel)."
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
            format!(
                "The certificate presented is not a valid one for {host}. Something may be \
                 intercepting the connection (a censor's proxy, a network that inspects \
                 traffic), or the relay's certificate is wrong or expired. Do not go on over \
                 this network: try Tor, and tell whoever runs the relay."
            ),
        )
    } else {
        walk.fail(
            "tls",
            e.to_string(),
            "Something answers there, but not with TLS: the address may name the wrong \
             port (a plain web server, or a ws:// relay), or the connection is tampered \
             with on its way.",
        )
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
                format!(
                    "A web server answers there (HTTP {}), but no Kith relay at {path}: \
                         check the address (a relay's ends in /v1, or nothing), or the proxy \
                         in front of the relay.",
                    response.status()
                ),
            ));
        }
        Ok(Err(e)) => {
            return Err(walk.fail(
                "websocket",
                e.to_string(),
                "Something answers there, but it is not a WebSocket server: the address \
                     names the wrong service, or the connection is tampered with.",
            ));
        }
        Err(_) => {
            return Err(walk.fail(
                "websocket",
                "no answer to the upgrade",
                "The server accepted the connection but did not answer: it may be \
                     overloaded, or the connection is slowed on its way.",
            ));
        }
    };
    walk.ok("websocket", format!("upgraded at {path}"));
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
                    return Err(format!("closed: {c:?}"));
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(e.to_string()),
                None => return Err("the connection ended".into()),
            }
        }
    };
    let verdict_other = "A WebSocket server answers there, but not as a Kith relay: the address \
                         names another service.";
    let result = match tokio::time::timeout(STEP_TIMEOUT, answer).await {
        Ok(Ok(RelayFrame::Response {
            body: Response::Hello { version, max_frame },
            ..
        })) => Ok(format!(
            "protocol version {version}, frames up to {} KiB",
            max_frame / 1024
        )),
        Ok(Ok(RelayFrame::Error {
            code: ErrorCode::UnsupportedVersion,
            ..
        })) => Err(walk.fail(
            "hello",
            "unsupported_version",
            "The relay speaks another version of the protocol: update Kith (or the relay).",
        )),
        Ok(Ok(other)) => Err(walk.fail("hello", format!("{other:?}"), verdict_other)),
        Ok(Err(e)) => Err(walk.fail("hello", e, verdict_other)),
        Err(_) => Err(walk.fail("hello", "no answer to Hello", verdict_other)),
    };
    let _ = ws.close(None).await;
    if let Ok(h) = &result {
        walk.ok("hello", h.clone());
    }
    result
}
