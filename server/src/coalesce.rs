//! A write buffer that lives for one batch of frames, sized by the batch before it.
//!
//! The relay's cost at saturation is `send(2)`: on loopback (and on a VPS's virtual
//! network) the sender pays per call for the whole TCP path, so frames that are ready
//! together must leave together. tungstenite can gather frames itself, but its buffer is
//! fixed when the connection opens and never shrinks: 4 KiB costs a `send` every few
//! frames at saturation, 128 KiB would stay with every connection that was ever busy, and
//! its capacity follows the largest frame it ever held (a fetch answer: up to 1 MiB).
//! Here the relay writes whole frames into [`Coalesce`] (its data frames directly, see
//! `connection::send_all`; tungstenite's control frames through tungstenite, whose write
//! buffer is 0), which collects up to [`LIMIT`] bytes and writes them at the flush that
//! ends the batch. The buffer is freed at every flush, so a connection between batches
//! holds none; the next batch allocates once, as much as the last one used.
use bytes::Bytes;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::tungstenite::protocol::frame::FrameHeader;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};

/// `payload` as one whole, unmasked binary WebSocket frame (RFC 6455 §5.2: what a server
/// sends), its header written by tungstenite's own encoder.
pub fn binary_frame(payload: &[u8]) -> Bytes {
    let header = FrameHeader {
        opcode: OpCode::Data(Data::Binary),
        ..FrameHeader::default()
    };
    let len = payload.len() as u64;
    let mut out = Vec::with_capacity(header.len(len) + payload.len());
    // Writing into a Vec cannot fail.
    let _ = header.format(len, &mut out);
    out.extend_from_slice(payload);
    out.into()
}

/// Bytes collected before they are written out without waiting for the flush.
pub const LIMIT: usize = 128 * 1024;

/// The least a batch's buffer starts with.
pub const START: usize = 8 * 1024;

/// `inner` with a write buffer of [`LIMIT`] bytes at most, written out and freed at every
/// flush. Reads pass straight through.
pub struct Coalesce<S> {
    inner: S,
    buf: Vec<u8>,
    /// Bytes of `buf` already written.
    written: usize,
    /// Bytes accepted since the last completed flush.
    batch: usize,
    /// Bytes the last batch buffered: what the next one allocates.
    hint: usize,
}

impl<S> Coalesce<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            buf: Vec::new(),
            written: 0,
            batch: 0,
            hint: START,
        }
    }

    /// Bytes the buffer holds allocated.
    #[cfg(test)]
    fn capacity(&self) -> usize {
        self.buf.capacity()
    }
}

impl<S: AsyncWrite + Unpin> Coalesce<S> {
    /// Writes out everything buffered.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.buf.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.buf[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        self.buf.clear();
        self.written = 0;
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Coalesce<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Coalesce<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if !this.buf.is_empty() && this.buf.len() + data.len() > LIMIT {
            ready!(this.poll_drain(cx))?;
        }
        if data.len() >= LIMIT {
            // Large enough to be its own `send`; copying it would only cost memory.
            let n = ready!(Pin::new(&mut this.inner).poll_write(cx, data))?;
            this.batch += n;
            return Poll::Ready(Ok(n));
        }
        if this.buf.capacity() == 0 {
            // One allocation for the batch instead of a doubling from one frame.
            this.buf.reserve(this.hint.max(data.len()));
        }
        this.buf.extend_from_slice(data);
        this.batch += data.len();
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        ready!(this.poll_drain(cx))?;
        ready!(Pin::new(&mut this.inner).poll_flush(cx))?;
        this.hint = this.batch.clamp(START, LIMIT);
        this.buf = Vec::new();
        this.batch = 0;
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        ready!(this.poll_drain(cx))?;
        this.buf = Vec::new();
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Counts the writes that reach it.
    #[derive(Default)]
    struct Counting {
        data: Vec<u8>,
        writes: usize,
        /// Accept at most this much per write (a full socket buffer).
        per_write: Option<usize>,
    }

    impl AsyncWrite for Counting {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            data: &[u8],
        ) -> Poll<io::Result<usize>> {
            let n = self.per_write.map_or(data.len(), |p| p.min(data.len()));
            self.data.extend_from_slice(&data[..n]);
            self.writes += 1;
            Poll::Ready(Ok(n))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    fn frames(n: usize, len: usize) -> Vec<Vec<u8>> {
        (0..n).map(|i| vec![i as u8; len]).collect()
    }

    #[tokio::test]
    async fn frames_written_together_leave_in_one_write_and_in_order() {
        let mut c = Coalesce::new(Counting::default());
        let fs = frames(64, 1100);
        for f in &fs {
            c.write_all(f).await.unwrap();
        }
        assert_eq!(c.inner.writes, 0, "nothing leaves before the flush");
        c.flush().await.unwrap();
        assert_eq!(c.inner.writes, 1);
        assert_eq!(c.inner.data, fs.concat());
    }

    #[tokio::test]
    async fn the_buffer_lives_for_one_batch_and_is_sized_by_the_last() {
        let mut c = Coalesce::new(Counting::default());
        c.write_all(&[1; 1100]).await.unwrap();
        assert!(c.capacity() >= START);
        c.flush().await.unwrap();
        assert_eq!(c.capacity(), 0, "nothing held between batches");
        for f in frames(32, 1100) {
            c.write_all(&f).await.unwrap();
        }
        c.flush().await.unwrap();
        assert_eq!(c.capacity(), 0);
        c.write_all(&[1; 1100]).await.unwrap();
        assert!(
            c.capacity() >= 32 * 1100,
            "one allocation, as large as the last batch"
        );
    }

    #[tokio::test]
    async fn the_buffer_never_grows_past_its_limit() {
        let mut c = Coalesce::new(Counting::default());
        let fs = frames(300, 1100);
        for f in &fs {
            c.write_all(f).await.unwrap();
            assert!(c.buf.len() <= LIMIT);
        }
        let big = vec![9u8; 3 * LIMIT];
        c.write_all(&big).await.unwrap();
        assert!(c.capacity() <= 2 * LIMIT);
        c.flush().await.unwrap();
        let mut want = fs.concat();
        want.extend_from_slice(&big);
        assert_eq!(c.inner.data, want);
        assert!(c.inner.writes >= 3);
    }

    #[tokio::test]
    async fn partial_writes_of_a_full_socket_lose_nothing() {
        let mut c = Coalesce::new(Counting {
            per_write: Some(1000),
            ..Counting::default()
        });
        let fs = frames(50, 1100);
        for f in &fs {
            c.write_all(f).await.unwrap();
        }
        c.flush().await.unwrap();
        assert_eq!(c.inner.data, fs.concat());
    }

    #[tokio::test]
    async fn reads_pass_through() {
        let mut c = Coalesce::new(&b"hello"[..]);
        let mut s = String::new();
        c.read_to_string(&mut s).await.unwrap();
        assert_eq!(s, "hello");
    }
}
