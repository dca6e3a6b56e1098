//! A WebSocket seen as a byte stream: [`WsIo`] turns a stream and sink of binary messages (an
//! upgraded axum `WebSocket`) into `AsyncRead + AsyncWrite`, as kubectl's
//! `SPDY/3.1+portforward.k8s.io` tunnel needs: each binary message carries raw bytes of the
//! SPDY stream, with no channel byte.

use std::fmt::Display;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::body::Bytes;
use axum::extract::ws::Message;
use futures::{Sink, Stream};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A WebSocket as a byte stream: reads the payloads of binary messages in order (text, ping
/// and pong messages are skipped; a close message or the end is EOF), and writes every
/// `write` as one binary message. Shutting it down closes the WebSocket.
pub struct WsIo<S> {
    ws: S,
    pending: Bytes,
    eof: bool,
}

impl<S> WsIo<S> {
    /// Wraps `ws`.
    pub fn new(ws: S) -> Self {
        WsIo {
            ws,
            pending: Bytes::new(),
            eof: false,
        }
    }

    /// The WebSocket back (bytes already received but not read are lost).
    pub fn into_inner(self) -> S {
        self.ws
    }
}

impl<S, E> AsyncRead for WsIo<S>
where
    S: Stream<Item = Result<Message, E>> + Unpin,
    E: Display,
{
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            if !this.pending.is_empty() {
                let n = this.pending.len().min(buf.remaining());
                buf.put_slice(&this.pending.split_to(n));
                return Poll::Ready(Ok(()));
            }
            if this.eof {
                return Poll::Ready(Ok(()));
            }
            match ready!(Pin::new(&mut this.ws).poll_next(cx)) {
                Some(Ok(Message::Binary(data))) => this.pending = data,
                Some(Ok(Message::Close(_))) | None => this.eof = true,
                Some(Ok(_)) => {}
                Some(Err(e)) => return Poll::Ready(Err(io::Error::other(e.to_string()))),
            }
        }
    }
}

impl<S, E> AsyncWrite for WsIo<S>
where
    S: Sink<Message, Error = E> + Unpin,
    E: Display,
{
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let ws = Pin::new(&mut self.ws);
        ready!(ws.poll_ready(cx)).map_err(to_io)?;
        let message = Message::Binary(Bytes::copy_from_slice(buf));
        Pin::new(&mut self.ws).start_send(message).map_err(to_io)?;
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.ws).poll_flush(cx).map_err(to_io)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.ws).poll_close(cx).map_err(to_io)
    }
}

fn to_io(e: impl Display) -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, e.to_string())
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::stream::test_support::{TestWs, binary};

    #[tokio::test]
    async fn reads_binary_payloads_and_writes_messages() {
        let (ws, mut client) = TestWs::pair();
        let mut io = WsIo::new(ws);
        client.send(binary(b"hel"));
        client.send(Message::Ping(Bytes::from_static(b"p")));
        client.send(binary(b""));
        client.send(binary(b"lo"));
        client.send(Message::Close(None));
        let mut read = Vec::new();
        io.read_to_end(&mut read).await.expect("read");
        assert_eq!(read, b"hello");
        io.write_all(b"back").await.expect("write");
        io.flush().await.expect("flush");
        assert_eq!(client.recv().await, Some(binary(b"back")));
    }

    #[tokio::test]
    async fn small_reads_split_a_message() {
        let (ws, client) = TestWs::pair();
        let mut io = WsIo::new(ws);
        client.send(binary(b"abcdef"));
        let mut two = [0u8; 2];
        io.read_exact(&mut two).await.expect("read");
        assert_eq!(&two, b"ab");
        let mut four = [0u8; 4];
        io.read_exact(&mut four).await.expect("read");
        assert_eq!(&four, b"cdef");
    }
}
