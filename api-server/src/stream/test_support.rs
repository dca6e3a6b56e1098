//! In-memory WebSocket for the stream tests: a [`TestWs`] (the server's side, a stream and
//! sink of axum messages) and its [`TestClient`].

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Bytes;
use axum::extract::ws::Message;
use futures::{Sink, Stream};
use tokio::sync::mpsc;

/// The server's side of an in-memory WebSocket.
pub struct TestWs {
    rx: mpsc::UnboundedReceiver<Result<Message, io::Error>>,
    tx: mpsc::UnboundedSender<Message>,
}

/// The client's side of an in-memory WebSocket.
pub struct TestClient {
    tx: mpsc::UnboundedSender<Result<Message, io::Error>>,
    rx: mpsc::UnboundedReceiver<Message>,
}

impl TestWs {
    /// A connected server side and client side.
    pub fn pair() -> (TestWs, TestClient) {
        let (to_server, from_client) = mpsc::unbounded_channel();
        let (to_client, from_server) = mpsc::unbounded_channel();
        let ws = TestWs {
            rx: from_client,
            tx: to_client,
        };
        let client = TestClient {
            tx: to_server,
            rx: from_server,
        };
        (ws, client)
    }
}

impl TestClient {
    /// Sends one message to the server (ignored if the server side is gone).
    pub fn send(&self, message: Message) {
        let _ = self.tx.send(Ok(message));
    }

    /// The next message from the server, `None` once the server side is gone.
    pub async fn recv(&mut self) -> Option<Message> {
        self.rx.recv().await
    }
}

/// A binary message with `data`.
pub fn binary(data: &[u8]) -> Message {
    Message::Binary(Bytes::copy_from_slice(data))
}

impl Stream for TestWs {
    type Item = Result<Message, io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx)
    }
}

impl Sink<Message> for TestWs {
    type Error = io::Error;

    fn poll_ready(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> io::Result<()> {
        self.tx
            .send(item)
            .map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// The client side as a stream and sink too, e.g. to wrap it in a `WsIo`.
impl Stream for TestClient {
    type Item = Result<Message, io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx).map(|m| m.map(Ok))
    }
}

impl Sink<Message> for TestClient {
    type Error = io::Error;

    fn poll_ready(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> io::Result<()> {
        self.tx
            .send(Ok(item))
            .map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// A TCP echo server on 127.0.0.1; returns its port.
pub async fn echo_server() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut rd, mut wr) = conn.split();
                let _ = tokio::io::copy(&mut rd, &mut wr).await;
            });
        }
    });
    port
}

/// A port on 127.0.0.1 that nobody listens on (bound, then released).
pub async fn closed_port() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    listener.local_addr().expect("addr").port()
}

/// Dials `port` on 127.0.0.1.
pub fn dial_local(port: u16) -> crate::stream::portforward::DialFuture<tokio::net::TcpStream> {
    Box::pin(async move { tokio::net::TcpStream::connect(("127.0.0.1", port)).await })
}
