//! The `v4.channel.k8s.io` port-forward of client libraries (the `kube` crate, client-go's
//! WebSocket dialer): `GET …/portforward?ports=80,8080`, one connection per listed port for
//! the life of the WebSocket. Port `i` has data channel `2i` and error channel `2i+1`; the
//! server opens each channel with `[ch, port LE]`, writes pod bytes as `[2i, bytes..]` and a
//! dial error as text on `2i+1`. The session ends, with a close frame 1000, when every port's
//! pod side has closed, or when the client closes the WebSocket.

use std::fmt::Display;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, close_code};
use futures::future::join_all;
use futures::{Sink, SinkExt, Stream, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use super::channel::{CLOSE, frame, port_data_channel, port_error_channel, port_header};
use super::portforward::DialFuture;

/// Bytes read from the pod per message at most.
const CHUNK: usize = 32 * 1024;
/// Messages queued before the pumps wait for the WebSocket.
const OUT_QUEUE: usize = 32;
/// Chunks from the client queued per port.
const TO_POD_QUEUE: usize = 16;

/// A failure of the channel port-forward.
#[derive(Debug, thiserror::Error)]
pub enum ChannelPortForwardError {
    /// More ports than channels (at most 127).
    #[error("too many ports: {0}")]
    TooManyPorts(usize),
    /// Sending to the client failed.
    #[error("sending to the port-forward client failed: {0}")]
    Send(String),
}

/// Serves a `v4.channel.k8s.io` port-forward of `ports` over `ws` (an upgraded axum
/// `WebSocket`), dialling each port once with `dial`.
pub async fn serve_channel_portforward<S, RE, SE, D, C>(
    ws: S,
    ports: &[u16],
    dial: D,
) -> Result<(), ChannelPortForwardError>
where
    S: Stream<Item = Result<Message, RE>> + Sink<Message, Error = SE>,
    SE: Display,
    D: Fn(u16) -> DialFuture<C>,
    C: AsyncRead + AsyncWrite + Send + 'static,
{
    if port_error_channel(ports.len().saturating_sub(1)).is_none() {
        return Err(ChannelPortForwardError::TooManyPorts(ports.len()));
    }
    let (mut sink, mut stream) = ws.split();
    let (out, mut out_rx) = mpsc::channel::<Vec<u8>>(OUT_QUEUE);
    let mut to_pod = Vec::new();
    let mut forwards = Vec::new();
    for (index, &port) in ports.iter().enumerate() {
        let (tx, rx) = mpsc::channel(TO_POD_QUEUE);
        to_pod.push(Some(tx));
        let channels = (
            port_data_channel(index).unwrap_or_default(),
            port_error_channel(index).unwrap_or_default(),
        );
        forwards.push(forward(port, channels, dial(port), rx, out.clone()));
    }
    drop(out);
    let writer = async {
        while let Some(message) = out_rx.recv().await {
            if let Err(e) = sink.send(Message::Binary(message.into())).await {
                return Err(ChannelPortForwardError::Send(e.to_string()));
            }
        }
        Ok(())
    };
    let main = async {
        tokio::select! {
            _ = join_all(forwards) => true,
            () = read_client(&mut stream, to_pod) => false,
        }
    };
    let (finished, written) = futures::join!(main, writer);
    written?;
    if finished {
        let close = CloseFrame {
            code: close_code::NORMAL,
            reason: Utf8Bytes::from_static(""),
        };
        sink.send(Message::Close(Some(close)))
            .await
            .map_err(|e| ChannelPortForwardError::Send(e.to_string()))?;
    }
    Ok(())
}

/// One port: the channel headers, the dial, then bytes both ways until the pod's side closes.
async fn forward<C>(
    port: u16,
    (data, error): (u8, u8),
    dial: DialFuture<C>,
    mut from_client: mpsc::Receiver<Vec<u8>>,
    out: mpsc::Sender<Vec<u8>>,
) where
    C: AsyncRead + AsyncWrite + Send + 'static,
{
    for channel in [data, error] {
        if out.send(port_header(channel, port)).await.is_err() {
            return;
        }
    }
    let conn = match dial.await {
        Ok(conn) => conn,
        Err(e) => {
            let message = format!("error forwarding port {port}: {e}");
            let _ = out.send(frame(error, message.as_bytes())).await;
            return;
        }
    };
    let (mut pod_rd, mut pod_wr) = tokio::io::split(conn);
    let to_pod = async {
        while let Some(chunk) = from_client.recv().await {
            if pod_wr.write_all(&chunk).await.is_err() {
                return;
            }
        }
        let _ = pod_wr.shutdown().await;
    };
    let from_pod = async {
        let mut buf = vec![0u8; CHUNK];
        while let Ok(n) = pod_rd.read(&mut buf).await {
            if n == 0 || out.send(frame(data, &buf[..n])).await.is_err() {
                return;
            }
        }
    };
    // The port is done when the pod's side is; the client's side may stay open.
    let to_pod_then_wait = async {
        to_pod.await;
        futures::future::pending::<()>().await
    };
    tokio::select! {
        () = from_pod => {}
        () = to_pod_then_wait => {}
    }
}

/// Reads client messages until the WebSocket closes: `[2i, bytes..]` to port `i`, `v5`'s
/// `[255, 2i]` closes the client's side of port `i`; anything else is ignored.
async fn read_client<St, RE>(stream: &mut St, mut to_pod: Vec<Option<mpsc::Sender<Vec<u8>>>>)
where
    St: Stream<Item = Result<Message, RE>> + Unpin,
{
    while let Some(Ok(message)) = stream.next().await {
        let data = match message {
            Message::Binary(data) => data,
            Message::Close(_) => return,
            _ => continue,
        };
        let Some((&channel, payload)) = data.split_first() else {
            continue;
        };
        let (channel, close) = match (channel, payload.first()) {
            (CLOSE, Some(&closed)) => (closed, true),
            _ => (channel, false),
        };
        if channel % 2 != 0 {
            continue;
        }
        let Some(slot) = to_pod.get_mut(usize::from(channel / 2)) else {
            continue;
        };
        if close {
            *slot = None;
        } else if let Some(tx) = slot.as_ref()
            && !payload.is_empty()
            && tx.send(payload.to_vec()).await.is_err()
        {
            *slot = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::test_support::{TestWs, binary, closed_port, dial_local, echo_server};

    #[tokio::test]
    async fn forwards_bytes_and_reports_dial_errors() {
        let echo = echo_server().await;
        let closed = closed_port().await;
        let (ws, mut client) = TestWs::pair();
        let ports = [echo, closed];
        let session = tokio::spawn(async move { serve_channel_portforward(ws, &ports, dial_local).await });
        let mut headers = Vec::new();
        while headers.len() < 4 {
            let Some(Message::Binary(b)) = client.recv().await else {
                panic!("header")
            };
            headers.push(b.to_vec());
        }
        headers.sort();
        assert_eq!(headers[0], port_header(0, echo));
        assert_eq!(headers[1], port_header(1, echo));
        assert_eq!(headers[2], port_header(2, closed));
        assert_eq!(headers[3], port_header(3, closed));
        let Some(Message::Binary(error)) = client.recv().await else {
            panic!("error")
        };
        assert_eq!(error[0], 3);
        assert!(String::from_utf8_lossy(&error[1..]).contains("error forwarding port"));
        client.send(binary(b"\x00ping"));
        let Some(Message::Binary(echoed)) = client.recv().await else {
            panic!("echo")
        };
        assert_eq!(&echoed[..], b"\x00ping");
        client.send(binary(&[CLOSE, 0]));
        // The echo server closes its side after ours: the session ends with a close frame.
        assert!(matches!(client.recv().await, Some(Message::Close(Some(_)))));
        session.await.expect("join").expect("serve");
    }

    #[tokio::test]
    async fn rejects_too_many_ports() {
        let (ws, _client) = TestWs::pair();
        let ports = vec![80u16; 200];
        let result = serve_channel_portforward(ws, &ports, dial_local).await;
        assert!(matches!(result, Err(ChannelPortForwardError::TooManyPorts(200))));
    }
}
