//! A SPDY/3.1 port-forward session, the server side of kubectl's `port-forward` over any byte
//! stream: the body of a plain `Upgrade: SPDY/3.1` connection, or a WebSocket with subprotocol
//! [`WS_PROTOCOL`] made a byte stream by [`super::ws_io::WsIo`].
//!
//! Per local connection the client opens two streams with the same `requestid`: `error`
//! (half-closed at once) and `data`, both naming the pod's `port`. Each stream gets a
//! SYN_REPLY; once both are there the port is dialled and bytes are piped both ways as DATA
//! frames (FIN when a side closes). A dial error is written as text on the error stream. Pings
//! are echoed, RST_STREAM drops the pair, GOAWAY refuses later streams; SETTINGS and
//! WINDOW_UPDATE are ignored (kubectl's SPDY library does no flow control either).

use std::collections::HashMap;
use std::io;
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::{AbortHandle, JoinSet};

use super::spdy::{
    FLAG_FIN, Frame, FrameDecoder, FrameEncoder, Headers, RST_PROTOCOL_ERROR, RST_REFUSED_STREAM, SpdyError, header,
};

/// The WebSocket subprotocol of kubectl 1.31+'s tunnelled port-forward.
pub const WS_PROTOCOL: &str = "SPDY/3.1+portforward.k8s.io";
/// The `Upgrade` value of the plain SPDY port-forward.
pub const SPDY_UPGRADE: &str = "SPDY/3.1";
/// The `X-Stream-Protocol-Version` of the plain SPDY port-forward.
pub const STREAM_PROTOCOL: &str = "portforward.k8s.io";

/// A future dialling a pod's port.
pub type DialFuture<C> = BoxFuture<'static, io::Result<C>>;

/// Bytes read from the pod per DATA frame at most.
const CHUNK: usize = 32 * 1024;
/// Frames queued for the connection before senders wait.
const OUT_QUEUE: usize = 64;
/// Chunks from the client queued per pair before the session waits for the pod.
const TO_POD_QUEUE: usize = 16;
/// Data buffered for a data stream whose error stream has not arrived yet.
const MAX_EARLY: usize = 1024 * 1024;

/// Serves one port-forward connection until the client closes it: answers the client's
/// streams, dials `dial(port)` for each data stream (a TCP connection to the pod's port,
/// opened inside the pod's network namespace) and pipes bytes both ways.
///
/// Returns `Ok` when the client closes the connection, an error when it breaks or speaks
/// something else than SPDY/3.1. Forwarded connections still open are dropped at the end.
pub async fn serve_portforward<T, D, C>(transport: T, dial: D) -> Result<(), SpdyError>
where
    T: AsyncRead + AsyncWrite + Send,
    D: Fn(u16) -> DialFuture<C>,
    C: AsyncRead + AsyncWrite + Send + 'static,
{
    let (mut rd, mut wr) = tokio::io::split(transport);
    let (out, out_rx) = mpsc::channel(OUT_QUEUE);
    let reader = async {
        let mut session = Session::new(out, dial);
        let mut decoder = FrameDecoder::new();
        while let Some(frame) = decoder.read_frame(&mut rd).await? {
            if session.handle(frame).await.is_err() {
                break; // the writer is gone: its error is the session's
            }
        }
        Ok(())
    };
    let result = tokio::select! {
        read = reader => read,
        written = write_frames(&mut wr, out_rx) => written,
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), wr.shutdown()).await;
    result
}

/// Encodes and writes frames in queue order (the zlib stream needs it), flushing when the
/// queue is empty. Ends when every sender is gone, or with the first write error.
async fn write_frames<W: AsyncWrite + Unpin>(
    writer: &mut W,
    mut frames: mpsc::Receiver<Frame>,
) -> Result<(), SpdyError> {
    let mut encoder = FrameEncoder::new()?;
    while let Some(frame) = frames.recv().await {
        writer.write_all(&encoder.encode(&frame)?).await?;
        while let Ok(frame) = frames.try_recv() {
            writer.write_all(&encoder.encode(&frame)?).await?;
        }
        writer.flush().await?;
    }
    Ok(())
}

/// What kind of stream a SYN_STREAM opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Data,
    Error,
}

/// The two streams of one `requestid`, gathered until both are there.
#[derive(Default)]
struct Pending {
    port: Option<u16>,
    data: Option<u32>,
    error: Option<u32>,
    early: Vec<Vec<u8>>,
    early_len: usize,
    data_fin: bool,
}

/// A pair being forwarded.
struct Running {
    abort: AbortHandle,
    streams: [u32; 2],
}

/// The reader side's state of one connection.
struct Session<D, C> {
    out: mpsc::Sender<Frame>,
    dial: D,
    /// Every stream opened: its request id and kind.
    streams: HashMap<u32, (String, Kind)>,
    pending: HashMap<String, Pending>,
    /// Data stream id to the queue of its pair's task.
    to_pod: HashMap<u32, mpsc::Sender<Vec<u8>>>,
    running: HashMap<String, Running>,
    tasks: JoinSet<()>,
    going_away: bool,
    _conn: std::marker::PhantomData<fn() -> C>,
}

/// The writer is gone.
struct Closed;

impl<D, C> Session<D, C>
where
    D: Fn(u16) -> DialFuture<C>,
    C: AsyncRead + AsyncWrite + Send + 'static,
{
    fn new(out: mpsc::Sender<Frame>, dial: D) -> Self {
        Session {
            out,
            dial,
            streams: HashMap::new(),
            pending: HashMap::new(),
            to_pod: HashMap::new(),
            running: HashMap::new(),
            tasks: JoinSet::new(),
            going_away: false,
            _conn: std::marker::PhantomData,
        }
    }

    async fn send(&self, frame: Frame) -> Result<(), Closed> {
        self.out.send(frame).await.map_err(|_| Closed)
    }

    async fn handle(&mut self, frame: Frame) -> Result<(), Closed> {
        while self.tasks.try_join_next().is_some() {}
        match frame {
            Frame::SynStream {
                stream_id,
                flags,
                headers,
                ..
            } => self.open(stream_id, flags, &headers).await,
            Frame::Data { stream_id, flags, data } => {
                self.data(stream_id, data, flags & FLAG_FIN != 0).await;
                Ok(())
            }
            Frame::RstStream { stream_id, .. } => {
                self.reset(stream_id);
                Ok(())
            }
            Frame::Ping { id } => self.send(Frame::Ping { id }).await,
            Frame::GoAway { .. } => {
                self.going_away = true;
                Ok(())
            }
            Frame::SynReply { .. }
            | Frame::Headers { .. }
            | Frame::Settings { .. }
            | Frame::WindowUpdate { .. }
            | Frame::Unknown { .. } => Ok(()),
        }
    }

    /// A new stream: validated, answered with SYN_REPLY, paired.
    async fn open(&mut self, stream_id: u32, flags: u8, headers: &Headers) -> Result<(), Closed> {
        let refuse = |status| Frame::RstStream { stream_id, status };
        if self.going_away {
            return self.send(refuse(RST_REFUSED_STREAM)).await;
        }
        let Some((kind, port, request)) = parse_stream(stream_id, headers) else {
            return self.send(refuse(RST_PROTOCOL_ERROR)).await;
        };
        if self.streams.contains_key(&stream_id) {
            return self.send(refuse(RST_PROTOCOL_ERROR)).await;
        }
        self.send(Frame::SynReply {
            stream_id,
            flags: 0,
            headers: Vec::new(),
        })
        .await?;
        self.streams.insert(stream_id, (request.clone(), kind));
        let pending = self.pending.entry(request.clone()).or_default();
        match kind {
            Kind::Data => {
                pending.data = Some(stream_id);
                pending.port = Some(port);
                pending.data_fin = flags & FLAG_FIN != 0;
            }
            Kind::Error => pending.error = Some(stream_id),
        }
        if let Some(Pending {
            port: Some(port),
            data: Some(data),
            error: Some(error),
            ..
        }) = self.pending.get(&request)
        {
            let (port, data, error) = (*port, *data, *error);
            if let Some(pending) = self.pending.remove(&request) {
                self.start(request, port, [data, error], pending);
            }
        }
        Ok(())
    }

    /// Spawns the pair's forwarding task.
    fn start(&mut self, request: String, port: u16, streams: [u32; 2], pending: Pending) {
        let (to_pod, from_client) = mpsc::channel(TO_POD_QUEUE);
        if !pending.data_fin {
            self.to_pod.insert(streams[0], to_pod);
        }
        let pair = Pair {
            port,
            data: streams[0],
            error: streams[1],
            out: self.out.clone(),
        };
        let dial = (self.dial)(port);
        let abort = self.tasks.spawn(pair.forward(dial, pending.early, from_client));
        self.running.insert(request, Running { abort, streams });
    }

    /// Client data: to the pair's task, or buffered while the pair is incomplete.
    async fn data(&mut self, stream_id: u32, data: Vec<u8>, fin: bool) {
        if let Some(to_pod) = self.to_pod.get(&stream_id) {
            if !data.is_empty() && to_pod.send(data).await.is_err() {
                self.to_pod.remove(&stream_id);
            }
            if fin {
                self.to_pod.remove(&stream_id);
            }
            return;
        }
        let Some((request, Kind::Data)) = self.streams.get(&stream_id) else {
            return; // the error stream (half-closed by the client) or an unknown stream
        };
        if let Some(pending) = self.pending.get_mut(request) {
            if pending.early_len + data.len() <= MAX_EARLY && !data.is_empty() {
                pending.early_len += data.len();
                pending.early.push(data);
            }
            pending.data_fin |= fin;
        }
    }

    /// RST_STREAM on either stream of a pair drops the whole pair.
    fn reset(&mut self, stream_id: u32) {
        let Some((request, _)) = self.streams.get(&stream_id) else {
            return;
        };
        let request = request.clone();
        self.pending.remove(&request);
        if let Some(running) = self.running.remove(&request) {
            running.abort.abort();
            for id in running.streams {
                self.to_pod.remove(&id);
            }
        }
    }
}

/// The stream kind, port and request id of a SYN_STREAM, `None` when they are missing or
/// invalid. Without `requestid` (old clients) the error stream's id names the pair and the
/// data stream is the next one the client opened (its id plus 2).
fn parse_stream(stream_id: u32, headers: &Headers) -> Option<(Kind, u16, String)> {
    let kind = match header(headers, "streamtype")? {
        "data" => Kind::Data,
        "error" => Kind::Error,
        _ => return None,
    };
    let port = header(headers, "port")?.trim().parse::<u16>().ok().filter(|p| *p > 0)?;
    let request = match header(headers, "requestid") {
        Some(id) => id.to_owned(),
        None if kind == Kind::Data => stream_id.checked_sub(2)?.to_string(),
        None => stream_id.to_string(),
    };
    Some((kind, port, request))
}

/// The task side of one pair.
struct Pair {
    port: u16,
    data: u32,
    error: u32,
    out: mpsc::Sender<Frame>,
}

impl Pair {
    /// Dials, then pipes both ways until both sides are closed. The data and error streams
    /// get their FIN when the pod's side closes.
    async fn forward<C>(self, dial: DialFuture<C>, early: Vec<Vec<u8>>, mut from_client: mpsc::Receiver<Vec<u8>>)
    where
        C: AsyncRead + AsyncWrite + Send + 'static,
    {
        let conn = match dial.await {
            Ok(conn) => conn,
            Err(e) => {
                let message = format!("error forwarding port {}: {e}", self.port);
                let _ = self.send(self.error, 0, message.into_bytes()).await;
                self.finish().await;
                return;
            }
        };
        let (mut pod_rd, mut pod_wr) = tokio::io::split(conn);
        let to_pod = async {
            for chunk in early {
                if pod_wr.write_all(&chunk).await.is_err() {
                    return;
                }
            }
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
                if n == 0 || self.send(self.data, 0, buf[..n].to_vec()).await.is_err() {
                    break;
                }
            }
            self.finish().await;
        };
        futures::join!(to_pod, from_pod);
    }

    async fn send(&self, stream_id: u32, flags: u8, data: Vec<u8>) -> Result<(), Closed> {
        let frame = Frame::Data { stream_id, flags, data };
        self.out.send(frame).await.map_err(|_| Closed)
    }

    /// FIN on the data stream, then on the error stream (the client reads the error stream
    /// to its end after the data stream's).
    async fn finish(&self) {
        let _ = self.send(self.data, FLAG_FIN, Vec::new()).await;
        let _ = self.send(self.error, FLAG_FIN, Vec::new()).await;
    }
}
