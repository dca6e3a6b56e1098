//! Tests of the SPDY port-forward session with an in-process SPDY/3.1 client (its own zlib
//! streams over the same dictionary) against a TCP echo server on 127.0.0.1, over a plain
//! byte stream and over a WebSocket.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, duplex};

use super::portforward::serve_portforward;
use super::spdy::{FLAG_FIN, Frame, FrameDecoder, FrameEncoder, Headers, RST_CANCEL};
use super::test_support::{TestWs, closed_port, dial_local, echo_server};
use super::ws_io::WsIo;

type BoxRead = Box<dyn AsyncRead + Send + Unpin>;
type BoxWrite = Box<dyn AsyncWrite + Send + Unpin>;

/// The client's side: kubectl's frames, in kubectl's order.
struct Client {
    rd: BoxRead,
    wr: BoxWrite,
    encoder: FrameEncoder,
    decoder: FrameDecoder,
}

impl Client {
    fn new(rd: BoxRead, wr: BoxWrite) -> Self {
        Client {
            rd,
            wr,
            encoder: FrameEncoder::new().expect("encoder"),
            decoder: FrameDecoder::new(),
        }
    }

    async fn send(&mut self, frame: Frame) {
        let bytes = self.encoder.encode(&frame).expect("encode");
        self.wr.write_all(&bytes).await.expect("write");
        self.wr.flush().await.expect("flush");
    }

    async fn recv(&mut self) -> Frame {
        let read = self.decoder.read_frame(&mut self.rd);
        tokio::time::timeout(Duration::from_secs(10), read)
            .await
            .expect("a frame in time")
            .expect("a valid frame")
            .expect("not EOF")
    }

    async fn open(&mut self, stream_id: u32, kind: &str, port: u16, request: &str) {
        let headers: Headers = vec![
            ("streamtype".into(), kind.into()),
            ("port".into(), port.to_string()),
            ("requestid".into(), request.into()),
        ];
        self.send(Frame::SynStream {
            stream_id,
            associated_to: 0,
            priority: 0,
            flags: 0,
            headers,
        })
        .await;
        assert_eq!(
            self.recv().await,
            Frame::SynReply {
                stream_id,
                flags: 0,
                headers: Vec::new()
            }
        );
    }

    async fn data(&mut self, stream_id: u32, flags: u8, data: &[u8]) {
        let data = data.to_vec();
        self.send(Frame::Data { stream_id, flags, data }).await;
    }

    /// kubectl's pair: error stream (half-closed at once), then data stream.
    async fn open_pair(&mut self, error: u32, port: u16, request: &str) {
        self.open(error, "error", port, request).await;
        self.data(error, FLAG_FIN, b"").await;
        self.open(error + 2, "data", port, request).await;
    }
}

fn data(stream_id: u32, flags: u8, data: &[u8]) -> Frame {
    Frame::Data {
        stream_id,
        flags,
        data: data.to_vec(),
    }
}

/// One echoed round trip, a ping, then the client's FIN ends the pair.
async fn echo_round_trip(client: &mut Client, echo: u16) {
    client.open_pair(1, echo, "0").await;
    client.data(3, 0, b"hello").await;
    assert_eq!(client.recv().await, data(3, 0, b"hello"));
    client.send(Frame::Ping { id: 5 }).await;
    assert_eq!(client.recv().await, Frame::Ping { id: 5 });
    client.data(3, FLAG_FIN, b"").await;
    assert_eq!(client.recv().await, data(3, FLAG_FIN, b""));
    assert_eq!(client.recv().await, data(1, FLAG_FIN, b""));
}

#[tokio::test]
async fn forwards_over_a_byte_stream() {
    let echo = echo_server().await;
    let (server_io, client_io) = duplex(64 * 1024);
    let session = tokio::spawn(serve_portforward(server_io, dial_local));
    let (rd, wr) = tokio::io::split(client_io);
    let mut client = Client::new(Box::new(rd), Box::new(wr));
    echo_round_trip(&mut client, echo).await;

    // A second connection of the same session, with more data than one frame holds.
    client.open_pair(5, echo, "1").await;
    let big: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
    client.data(7, 0, &big).await;
    let mut back = Vec::new();
    while back.len() < big.len() {
        match client.recv().await {
            Frame::Data { stream_id: 7, data, .. } => back.extend(data),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(back, big);
    drop(client);
    session.await.expect("join").expect("session");
}

#[tokio::test]
async fn dial_errors_go_to_the_error_stream() {
    let closed = closed_port().await;
    let (server_io, client_io) = duplex(64 * 1024);
    let session = tokio::spawn(serve_portforward(server_io, dial_local));
    let (rd, wr) = tokio::io::split(client_io);
    let mut client = Client::new(Box::new(rd), Box::new(wr));
    client.open_pair(1, closed, "0").await;
    match client.recv().await {
        Frame::Data {
            stream_id: 1,
            flags: 0,
            data,
        } => {
            let text = String::from_utf8(data).expect("utf-8");
            assert!(text.starts_with(&format!("error forwarding port {closed}: ")), "{text}");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(client.recv().await, data(3, FLAG_FIN, b""));
    assert_eq!(client.recv().await, data(1, FLAG_FIN, b""));
    drop(client);
    session.await.expect("join").expect("session");
}

#[tokio::test]
async fn reset_drops_a_pair_and_goaway_refuses_new_streams() {
    let echo = echo_server().await;
    let (server_io, client_io) = duplex(64 * 1024);
    let session = tokio::spawn(serve_portforward(server_io, dial_local));
    let (rd, wr) = tokio::io::split(client_io);
    let mut client = Client::new(Box::new(rd), Box::new(wr));
    client.open_pair(1, echo, "0").await;
    client
        .send(Frame::RstStream {
            stream_id: 3,
            status: RST_CANCEL,
        })
        .await;
    client.data(3, 0, b"ignored").await;
    client.send(Frame::Ping { id: 7 }).await;
    assert_eq!(client.recv().await, Frame::Ping { id: 7 });

    // A stream without a valid port is reset.
    client
        .send(Frame::SynStream {
            stream_id: 5,
            associated_to: 0,
            priority: 0,
            flags: 0,
            headers: vec![("streamtype".into(), "data".into())],
        })
        .await;
    assert!(matches!(client.recv().await, Frame::RstStream { stream_id: 5, .. }));

    client
        .send(Frame::GoAway {
            last_good_stream_id: 0,
            status: 0,
        })
        .await;
    client
        .send(Frame::SynStream {
            stream_id: 7,
            associated_to: 0,
            priority: 0,
            flags: 0,
            headers: vec![
                ("streamtype".into(), "error".into()),
                ("port".into(), echo.to_string()),
                ("requestid".into(), "9".into()),
            ],
        })
        .await;
    assert!(matches!(client.recv().await, Frame::RstStream { stream_id: 7, .. }));
    drop(client);
    session.await.expect("join").expect("session");
}

#[tokio::test]
async fn forwards_over_a_websocket_tunnel() {
    let echo = echo_server().await;
    let (ws, client_ws) = TestWs::pair();
    let session = tokio::spawn(serve_portforward(WsIo::new(ws), dial_local));
    let (rd, wr) = tokio::io::split(WsIo::new(client_ws));
    let mut client = Client::new(Box::new(rd), Box::new(wr));
    echo_round_trip(&mut client, echo).await;
    client.wr.shutdown().await.expect("close");
    drop(client);
    session.await.expect("join").expect("session");
}

#[tokio::test]
async fn garbage_ends_the_session_with_an_error() {
    let (server_io, mut client_io) = duplex(1024);
    let session = tokio::spawn(serve_portforward(server_io, dial_local));
    client_io.write_all(b"GET / HTTP/1.1\r\n\r\n").await.expect("write");
    drop(client_io);
    let result = session.await.expect("join");
    assert!(result.is_err());
}
