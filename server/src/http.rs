//! The little HTTP the relay speaks: one request head per connection, bounded and parsed
//! with httparse; `GET /healthz`; the WebSocket upgrade to `/v1`; and the metrics
//! listener. Anything else gets a short error status and a close.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

/// The longest request head accepted. Browsers and WebSocket clients send well under
/// 2 KiB; anything larger is not a client of ours.
pub const MAX_HEAD: usize = 8 * 1024;

/// What a request head asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Route {
    /// `GET /healthz`.
    Health,
    /// `GET /metrics`.
    Metrics,
    /// A valid WebSocket upgrade to the relay endpoint, with its `Sec-WebSocket-Key`.
    Upgrade(String),
    /// Anything else: answer with this status.
    Reject(u16),
}

/// A request head and any bytes the client sent after it.
pub struct Head {
    /// What it asks for.
    pub route: Route,
    /// Bytes read past the head (a client that did not wait for the 101).
    pub rest: Vec<u8>,
}

/// Reads one request head (at most [`MAX_HEAD`] bytes) and routes it. `ws_path` is the
/// WebSocket endpoint's path.
pub async fn read_head<S: AsyncRead + Unpin>(stream: &mut S, ws_path: &str) -> io::Result<Head> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(&buf) {
            Ok(httparse::Status::Complete(len)) => {
                let route = route(&req, ws_path);
                return Ok(Head {
                    route,
                    rest: buf[len..].to_vec(),
                });
            }
            Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => continue,
            Ok(httparse::Status::Partial) => {
                return Ok(Head {
                    route: Route::Reject(431),
                    rest: Vec::new(),
                });
            }
            Err(_) => {
                return Ok(Head {
                    route: Route::Reject(400),
                    rest: Vec::new(),
                });
            }
        }
    }
}

fn header<'a>(req: &'a httparse::Request<'_, '_>, name: &str) -> Option<&'a str> {
    req.headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .and_then(|h| std::str::from_utf8(h.value).ok())
        .map(str::trim)
}

fn has_token(value: Option<&str>, token: &str) -> bool {
    value.is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
}

fn route(req: &httparse::Request<'_, '_>, ws_path: &str) -> Route {
    if req.method != Some("GET") {
        return Route::Reject(405);
    }
    match req.path {
        Some("/healthz") => Route::Health,
        Some("/metrics") => Route::Metrics,
        Some(p) if p == ws_path => {
            let upgrade = has_token(header(req, "upgrade"), "websocket")
                && has_token(header(req, "connection"), "upgrade")
                && header(req, "sec-websocket-version") == Some("13");
            match header(req, "sec-websocket-key") {
                Some(key) if upgrade && !key.is_empty() && key.len() <= 64 => {
                    Route::Upgrade(key.to_owned())
                }
                _ => Route::Reject(426),
            }
        }
        _ => Route::Reject(404),
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        426 => "Upgrade Required",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

/// Writes a complete response with a body and `Connection: close`.
pub async fn respond<S: AsyncWrite + Unpin>(
    stream: &mut S,
    status: u16,
    content_type: &str,
    body: &[u8],
) -> io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n",
        reason(status),
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    stream.flush().await
}

/// Writes the `101 Switching Protocols` answer to a WebSocket upgrade.
pub async fn accept_upgrade<S: AsyncWrite + Unpin>(stream: &mut S, key: &str) -> io::Result<()> {
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    let head = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await?;
    stream.flush().await
}

/// A stream that first yields bytes already read from it. Holds no buffer once they are
/// consumed, so an idle connection costs nothing for it.
pub struct Prefixed<S> {
    prefix: Vec<u8>,
    pos: usize,
    inner: S,
}

impl<S> Prefixed<S> {
    /// `inner`, read after `prefix`.
    pub fn new(prefix: Vec<u8>, inner: S) -> Self {
        Self {
            prefix,
            pos: 0,
            inner,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Prefixed<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.pos < self.prefix.len() {
            let n = buf.remaining().min(self.prefix.len() - self.pos);
            let start = self.pos;
            buf.put_slice(&self.prefix[start..start + n]);
            self.pos += n;
            if self.pos == self.prefix.len() {
                self.prefix = Vec::new();
                self.pos = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Prefixed<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn route_of(req: &str) -> Route {
        let mut r = req.as_bytes();
        read_head(&mut r, "/v1").await.unwrap().route
    }

    #[tokio::test]
    async fn routes() {
        assert_eq!(
            route_of("GET /healthz HTTP/1.1\r\n\r\n").await,
            Route::Health
        );
        assert_eq!(
            route_of("POST /healthz HTTP/1.1\r\n\r\n").await,
            Route::Reject(405)
        );
        assert_eq!(
            route_of("GET /x HTTP/1.1\r\n\r\n").await,
            Route::Reject(404)
        );
        assert_eq!(
            route_of("GET /v1 HTTP/1.1\r\n\r\n").await,
            Route::Reject(426)
        );
        assert_eq!(
            route_of("GET /v1 HTTP/1.1\r\nUpgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: abc==\r\n\r\n").await,
            Route::Upgrade("abc==".into())
        );
        assert_eq!(
            route_of("\x00\x01garbage\r\n\r\n").await,
            Route::Reject(400)
        );
        let long = format!("GET / HTTP/1.1\r\nX: {}\r\n", "a".repeat(MAX_HEAD));
        assert_eq!(route_of(&long).await, Route::Reject(431));
    }

    #[tokio::test]
    async fn bytes_after_the_head_are_kept() {
        let mut r: &[u8] = b"GET /healthz HTTP/1.1\r\n\r\nEXTRA";
        let head = read_head(&mut r, "/v1").await.unwrap();
        assert_eq!(head.rest, b"EXTRA");
        let mut p = Prefixed::new(head.rest, &b"MORE"[..]);
        let mut all = String::new();
        p.read_to_string(&mut all).await.unwrap();
        assert_eq!(all, "EXTRAMORE");
    }
}
