//! Drives one exec or attach session over a `channel.k8s.io` WebSocket: client stdin to the
//! process (closing it on `v5`'s `ff 00`), the process's stdout and stderr to the client, then
//! the exit status on channel 3 and a close frame 1000. The process side is abstract
//! ([`ExecIo`]: pipes as boxed tokio readers/writers and a future of the exit code), so the
//! caller plugs in a real process, a container's attach pipes or, in tests, in-memory pipes.

use std::fmt::Display;
use std::io;
use std::pin::pin;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, close_code};
use futures::future::BoxFuture;
use futures::{Sink, SinkExt, Stream, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, watch};

use super::channel::{
    ClientFrame, Protocol, STDERR, STDOUT, TerminalSize, decode_client_frame, error_status, exit_status_for, frame,
};

/// A boxed reader of a process's output pipe.
pub type BoxReader = Box<dyn AsyncRead + Send + Unpin>;
/// A boxed writer of a process's input pipe.
pub type BoxWriter = Box<dyn AsyncWrite + Send + Unpin>;
/// Called with every terminal resize the client sends.
pub type ResizeFn = Box<dyn FnMut(TerminalSize) + Send>;

/// How long output is still read once the process has exited, after the last byte read: a
/// background child holding the pipe open must not keep the session open for ever.
pub const DRAIN_IDLE: Duration = Duration::from_secs(2);

/// How long after the upgrade the first message waits. kubectl before 1.34 (client-go's
/// `wsStreamExecutor`) starts reading the WebSocket in one goroutine while another registers
/// its streams; a message read before its stream exists is dropped ("Unknown stream id 1,
/// discarding message") and, for the exit status, the command fails with "error: closed all
/// streams" (seen with kubectl 1.32 against a loaded machine: `echo out` answers within a
/// millisecond). client-go 1.34 waits for its streams ("make sure all streams are created
/// before starting demux websocket", client-go 2f016580e); older clients get this pause,
/// about the latency a real kubelet's exec adds anyway.
pub const FIRST_MESSAGE_HOLD: Duration = Duration::from_millis(50);

/// Size of one read from an output pipe (one stdout or stderr message at most).
const CHUNK: usize = 32 * 1024;
/// Outgoing messages queued before the output pumps wait for the WebSocket.
const OUT_QUEUE: usize = 32;

/// The process side of an exec or attach session.
pub struct ExecIo {
    /// The process's stdin, when the client asked for `stdin=true`. Shut down (and dropped)
    /// when the client closes its stdin.
    pub stdin: Option<BoxWriter>,
    /// The process's stdout, when `stdout=true` (with a TTY: the terminal's output).
    pub stdout: Option<BoxReader>,
    /// The process's stderr, when `stderr=true` and no TTY.
    pub stderr: Option<BoxReader>,
    /// Receives terminal resizes (TTY sessions); `None` ignores them.
    pub resize: Option<ResizeFn>,
    /// Resolves to the exit code when the process ends; an error becomes an `InternalError`
    /// Status. For attach, resolve to 0 when the attach ends. It is dropped unresolved when
    /// the client goes away first: the caller should then end the process itself (e.g.
    /// `kill_on_drop`) if it must not outlive the session.
    pub exit: BoxFuture<'static, io::Result<i32>>,
    /// The command line, quoted in the failure Status (`error executing command [..]`).
    pub command: Vec<String>,
}

/// How an exec session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecEnd {
    /// The process exited with this code; the Status was sent on channel 3.
    Exited(i32),
    /// Waiting for the process failed; an `InternalError` Status was sent.
    Failed(String),
    /// The client closed the WebSocket (or it broke) before the process ended.
    ClientGone,
}

/// A failure of the WebSocket while sending.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// Sending a message to the client failed.
    #[error("sending to the exec client failed: {0}")]
    Send(String),
}

/// Runs one exec or attach session over `ws` (an upgraded axum `WebSocket`, or any stream
/// and sink of its messages) until the process ends or the client goes away.
///
/// Returns how it ended; an error only when the end could not be sent to the client.
pub async fn run_exec<S, RE, SE>(ws: S, io: ExecIo, protocol: Protocol) -> Result<ExecEnd, ExecError>
where
    S: Stream<Item = Result<Message, RE>> + Sink<Message, Error = SE>,
    SE: Display,
{
    // v4 and v5 differ only in the client's close message, which the decoder accepts in both.
    let _ = protocol;
    let ExecIo {
        stdin,
        stdout,
        stderr,
        resize,
        exit,
        command,
    } = io;
    let (mut sink, mut stream) = ws.split();
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(OUT_QUEUE);
    let first_at = tokio::time::Instant::now() + FIRST_MESSAGE_HOLD;
    let writer = async {
        while let Some(message) = rx.recv().await {
            tokio::time::sleep_until(first_at).await;
            if let Err(e) = sink.send(Message::Binary(message.into())).await {
                return Err(ExecError::Send(e.to_string()));
            }
        }
        Ok(())
    };
    let session = async move {
        let end = wait_process(exit, stdout, stderr, &tx).await;
        let status = match &end {
            ExecEnd::Exited(code) => exit_status_for(&command, *code),
            ExecEnd::Failed(message) => error_status(message),
            ExecEnd::ClientGone => return end,
        };
        // The writer only stops when every sender is gone, so this cannot be lost.
        let _ = tx.send(status).await;
        end
    };
    let main = async {
        tokio::select! {
            end = session => end,
            () = read_client(&mut stream, stdin, resize) => ExecEnd::ClientGone,
        }
    };
    let (end, written) = futures::join!(main, writer);
    written?;
    if end != ExecEnd::ClientGone {
        let close = CloseFrame {
            code: close_code::NORMAL,
            reason: Utf8Bytes::from_static(""),
        };
        sink.send(Message::Close(Some(close)))
            .await
            .map_err(|e| ExecError::Send(e.to_string()))?;
    }
    Ok(end)
}

/// Pumps stdout and stderr into `tx` while waiting for the exit code; after the exit, output
/// is drained until EOF or [`DRAIN_IDLE`] without a byte.
async fn wait_process(
    exit: BoxFuture<'static, io::Result<i32>>,
    stdout: Option<BoxReader>,
    stderr: Option<BoxReader>,
    tx: &mpsc::Sender<Vec<u8>>,
) -> ExecEnd {
    let (exited_tx, exited_rx) = watch::channel(false);
    let mut outputs = pin!(async {
        futures::join!(
            pump(stdout, STDOUT, tx, exited_rx.clone()),
            pump(stderr, STDERR, tx, exited_rx.clone())
        )
    });
    let mut exit = exit;
    let result = tokio::select! {
        result = &mut exit => {
            let _ = exited_tx.send(true);
            outputs.await;
            result
        }
        _ = &mut outputs => exit.await,
    };
    match result {
        Ok(code) => ExecEnd::Exited(code),
        Err(e) => ExecEnd::Failed(e.to_string()),
    }
}

/// Copies one output pipe into messages on `channel` until EOF, an error, or (once `exited`
/// is set) [`DRAIN_IDLE`] without output.
async fn pump(reader: Option<BoxReader>, channel: u8, tx: &mpsc::Sender<Vec<u8>>, mut exited: watch::Receiver<bool>) {
    let Some(mut reader) = reader else { return };
    let mut buf = vec![0u8; CHUNK];
    let mut draining = false;
    loop {
        let read = if draining || *exited.borrow() {
            draining = true;
            match tokio::time::timeout(DRAIN_IDLE, reader.read(&mut buf)).await {
                Ok(read) => read,
                Err(_) => return,
            }
        } else {
            tokio::select! {
                read = reader.read(&mut buf) => read,
                changed = exited.changed() => {
                    draining = changed.is_err() || *exited.borrow();
                    continue;
                }
            }
        };
        match read {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if tx.send(frame(channel, &buf[..n])).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Reads client messages until the WebSocket closes or fails: stdin into the process,
/// `ff 00` closes it, resizes go to `resize`. Everything else is ignored (axum answers pings).
async fn read_client<St, RE>(stream: &mut St, mut stdin: Option<BoxWriter>, mut resize: Option<ResizeFn>)
where
    St: Stream<Item = Result<Message, RE>> + Unpin,
{
    while let Some(Ok(message)) = stream.next().await {
        let data = match message {
            Message::Binary(data) => data,
            Message::Close(_) => return,
            _ => continue,
        };
        match decode_client_frame(&data) {
            ClientFrame::Stdin(bytes) => {
                if let Some(writer) = stdin.as_mut() {
                    let written = async {
                        writer.write_all(&bytes).await?;
                        writer.flush().await
                    };
                    if !bytes.is_empty() && written.await.is_err() {
                        // The process closed its stdin: later input has nowhere to go.
                        stdin = None;
                    }
                }
            }
            ClientFrame::CloseStdin => {
                if let Some(mut writer) = stdin.take() {
                    let _ = writer.shutdown().await;
                }
            }
            ClientFrame::Resize { width, height } => {
                if let Some(resize) = resize.as_mut() {
                    resize(TerminalSize { width, height });
                }
            }
            ClientFrame::Other => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use futures::FutureExt;
    use tokio::io::duplex;
    use tokio::sync::oneshot;

    use super::*;
    use crate::stream::channel::{STATUS, exit_status};
    use crate::stream::test_support::{TestWs, binary};

    /// A fake `cat`: copies stdin to stdout, says "bye" on stderr at stdin EOF, exits `code`.
    fn fake_cat(code: i32) -> ExecIo {
        let (stdin, mut child_in) = duplex(1024);
        let (mut child_out, stdout) = duplex(1024);
        let (mut child_err, stderr) = duplex(1024);
        let (exit_tx, exit_rx) = oneshot::channel();
        tokio::spawn(async move {
            let _ = tokio::io::copy(&mut child_in, &mut child_out).await;
            let _ = child_err.write_all(b"bye").await;
            drop((child_out, child_err));
            let _ = exit_tx.send(code);
        });
        ExecIo {
            stdin: Some(Box::new(stdin)),
            stdout: Some(Box::new(stdout)),
            stderr: Some(Box::new(stderr)),
            resize: None,
            exit: exit_rx.map(|r| r.map_err(io::Error::other)).boxed(),
            command: vec!["cat".into()],
        }
    }

    /// Collects server messages until the close frame; returns (stdout, stderr, status).
    async fn collect(client: &mut crate::stream::test_support::TestClient) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
        let (mut out, mut err, mut status) = (Vec::new(), Vec::new(), Vec::new());
        while let Some(message) = client.recv().await {
            match message {
                Message::Binary(b) if b.first() == Some(&STDOUT) => out.extend_from_slice(&b[1..]),
                Message::Binary(b) if b.first() == Some(&STDERR) => err.extend_from_slice(&b[1..]),
                Message::Binary(b) if b.first() == Some(&STATUS) => status = b.to_vec(),
                Message::Close(Some(frame)) => {
                    assert_eq!(frame.code, 1000);
                    break;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        (out, err, status)
    }

    #[tokio::test]
    async fn pumps_stdin_to_stdout_and_reports_exit_code() {
        let (ws, mut client) = TestWs::pair();
        let session = tokio::spawn(run_exec(ws, fake_cat(3), Protocol::V5));
        client.send(binary(b"\x00hello "));
        client.send(binary(b""));
        client.send(binary(b"\x00"));
        client.send(binary(b"\x00world"));
        client.send(binary(&[0xff, 0x00]));
        let (out, err, status) = collect(&mut client).await;
        assert_eq!(out, b"hello world");
        assert_eq!(err, b"bye");
        let status: serde_json::Value = serde_json::from_slice(&status[1..]).expect("json");
        assert_eq!(status["details"]["causes"][0]["message"], "3");
        assert_eq!(session.await.expect("join").expect("run"), ExecEnd::Exited(3));
    }

    #[tokio::test]
    async fn the_first_message_waits_for_an_old_kubectl_to_make_its_streams() {
        let started = tokio::time::Instant::now();
        let (ws, mut client) = TestWs::pair();
        let session = tokio::spawn(run_exec(ws, fake_cat(0), Protocol::V5));
        client.send(binary(&[0xff, 0x00]));
        let first = client.recv().await;
        assert!(
            started.elapsed() >= FIRST_MESSAGE_HOLD,
            "{first:?} after {:?}",
            started.elapsed()
        );
        assert!(matches!(first, Some(Message::Binary(_))), "{first:?}");
        let _ = collect(&mut client).await;
        assert_eq!(session.await.expect("join").expect("run"), ExecEnd::Exited(0));
    }

    #[tokio::test]
    async fn success_status_and_resize() {
        let sizes = Arc::new(Mutex::new(Vec::new()));
        let seen = sizes.clone();
        let mut io = fake_cat(0);
        io.resize = Some(Box::new(move |size| seen.lock().expect("lock").push(size)));
        let (ws, mut client) = TestWs::pair();
        let session = tokio::spawn(run_exec(ws, io, Protocol::V4));
        client.send(binary(b"\x04{\"Width\":80,\"Height\":24}"));
        client.send(binary(&[0xff, 0x00]));
        let (_, _, status) = collect(&mut client).await;
        assert_eq!(status, exit_status(0));
        assert_eq!(session.await.expect("join").expect("run"), ExecEnd::Exited(0));
        let sizes = sizes.lock().expect("lock").clone();
        assert_eq!(sizes, vec![TerminalSize { width: 80, height: 24 }]);
    }

    #[tokio::test]
    async fn exit_error_becomes_internal_error_status() {
        let io = ExecIo {
            stdin: None,
            stdout: None,
            stderr: None,
            resize: None,
            exit: async { Err(io::Error::other("no such process")) }.boxed(),
            command: Vec::new(),
        };
        let (ws, mut client) = TestWs::pair();
        let end = run_exec(ws, io, Protocol::V5).await.expect("run");
        assert_eq!(end, ExecEnd::Failed("no such process".into()));
        let (_, _, status) = collect(&mut client).await;
        let status: serde_json::Value = serde_json::from_slice(&status[1..]).expect("json");
        assert_eq!(status["reason"], "InternalError");
    }

    #[tokio::test]
    async fn client_going_away_ends_the_session() {
        let (ws, client) = TestWs::pair();
        let io = ExecIo {
            exit: futures::future::pending().boxed(),
            ..fake_cat(0)
        };
        drop(client);
        let end = run_exec(ws, io, Protocol::V5).await.expect("run");
        assert_eq!(end, ExecEnd::ClientGone);
    }

    #[tokio::test]
    async fn output_held_open_after_exit_is_cut_after_idle() {
        let (_child_out, stdout) = duplex(64);
        let io = ExecIo {
            stdin: None,
            stdout: Some(Box::new(stdout)),
            stderr: None,
            resize: None,
            exit: async { Ok(0) }.boxed(),
            command: Vec::new(),
        };
        let (ws, mut client) = TestWs::pair();
        let end = run_exec(ws, io, Protocol::V5).await.expect("run");
        assert_eq!(end, ExecEnd::Exited(0));
        let (_, _, status) = collect(&mut client).await;
        assert_eq!(status, exit_status(0));
    }
}
