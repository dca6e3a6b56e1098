//! The `channel.k8s.io` WebSocket framing of exec, attach and port-forward: every binary
//! message is `[channel][payload]`. Exec and attach use channel 0 stdin, 1 stdout, 2 stderr,
//! 3 status (a JSON `Status`), 4 terminal resize, and in `v5` the close message `[255, ch]`
//! (stdin EOF arrives as `ff 00`). Port-forward (`v4`, `?ports=`) uses channel `2i` for the data
//! of port `i` and `2i+1` for its errors, each opened by `[ch, port as u16 little-endian]`.

use serde::Deserialize;
use serde_json::json;

/// Channel of the process's standard input (client to server).
pub const STDIN: u8 = 0;
/// Channel of the process's standard output (server to client).
pub const STDOUT: u8 = 1;
/// Channel of the process's standard error (server to client).
pub const STDERR: u8 = 2;
/// Channel of the final `Status` (server to client).
pub const STATUS: u8 = 3;
/// Channel of terminal resize events (client to server).
pub const RESIZE: u8 = 4;
/// Channel byte of a `v5` close message `[255, ch]`.
pub const CLOSE: u8 = 255;

/// A version of the `channel.k8s.io` subprotocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `v5.channel.k8s.io`: `v4` plus the close message `[255, ch]`.
    V5,
    /// `v4.channel.k8s.io`: JSON status on channel 3.
    V4,
}

impl Protocol {
    /// The subprotocols the server accepts, most preferred first.
    pub const SUPPORTED: [&'static str; 2] = ["v5.channel.k8s.io", "v4.channel.k8s.io"];

    /// The subprotocol's name as sent in `Sec-WebSocket-Protocol`.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::V5 => Self::SUPPORTED[0],
            Protocol::V4 => Self::SUPPORTED[1],
        }
    }

    /// The protocol named `name` (one entry of `Sec-WebSocket-Protocol`), if supported.
    pub fn from_name(name: &str) -> Option<Protocol> {
        match name.trim() {
            "v5.channel.k8s.io" => Some(Protocol::V5),
            "v4.channel.k8s.io" => Some(Protocol::V4),
            _ => None,
        }
    }

    /// The best protocol among the comma-separated offers of a `Sec-WebSocket-Protocol`
    /// header (`v5` before `v4`), or `None` when none is supported.
    pub fn negotiate(offered: &str) -> Option<Protocol> {
        let offers: Vec<Protocol> = offered.split(',').filter_map(Protocol::from_name).collect();
        [Protocol::V5, Protocol::V4].into_iter().find(|p| offers.contains(p))
    }
}

/// The terminal size of a resize message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct TerminalSize {
    /// Columns.
    #[serde(rename = "Width")]
    pub width: u16,
    /// Rows.
    #[serde(rename = "Height")]
    pub height: u16,
}

/// One decoded message from an exec or attach client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientFrame {
    /// Bytes for the process's standard input (possibly empty, which is not EOF).
    Stdin(Vec<u8>),
    /// The terminal was resized.
    Resize {
        /// Columns.
        width: u16,
        /// Rows.
        height: u16,
    },
    /// The client closed its standard input (`v5` `[255, 0]`).
    CloseStdin,
    /// Anything else: an empty message, an unknown channel, a malformed resize, a close of
    /// another channel. Ignored by servers.
    Other,
}

/// Decodes one binary message of an exec or attach client.
pub fn decode_client_frame(message: &[u8]) -> ClientFrame {
    let Some((&channel, payload)) = message.split_first() else {
        return ClientFrame::Other;
    };
    match channel {
        STDIN => ClientFrame::Stdin(payload.to_vec()),
        RESIZE => match serde_json::from_slice::<TerminalSize>(payload) {
            Ok(size) => ClientFrame::Resize {
                width: size.width,
                height: size.height,
            },
            Err(_) => ClientFrame::Other,
        },
        CLOSE if payload.first() == Some(&STDIN) => ClientFrame::CloseStdin,
        _ => ClientFrame::Other,
    }
}

/// A binary message `[channel][payload]`.
pub fn frame(channel: u8, payload: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(payload.len() + 1);
    message.push(channel);
    message.extend_from_slice(payload);
    message
}

/// A stdout message (channel 1).
pub fn stdout_frame(payload: &[u8]) -> Vec<u8> {
    frame(STDOUT, payload)
}

/// A stderr message (channel 2).
pub fn stderr_frame(payload: &[u8]) -> Vec<u8> {
    frame(STDERR, payload)
}

/// A `v5` close message `[255, channel]`: the sender writes no more on `channel`.
pub fn close_frame(channel: u8) -> Vec<u8> {
    vec![CLOSE, channel]
}

/// The channel-3 message (channel byte included) for a process that exited with `code`,
/// without the command in the failure message. See [`exit_status_for`].
pub fn exit_status(code: i32) -> Vec<u8> {
    exit_status_for(&[], code)
}

/// The channel-3 message (channel byte included) for `command` exiting with `code`, worded as
/// the kubelet with containerd words it: `{"metadata":{},"status":"Success"}` for 0, else a
/// `Failure` with reason `NonZeroExitCode` and the code as the `ExitCode` cause, from which
/// kubectl takes its own exit code.
pub fn exit_status_for(command: &[String], code: i32) -> Vec<u8> {
    frame(STATUS, exit_status_json(command, code).to_string().as_bytes())
}

/// The `Status` object of [`exit_status_for`], without the channel byte.
pub fn exit_status_json(command: &[String], code: i32) -> serde_json::Value {
    if code == 0 {
        return json!({"metadata": {}, "status": "Success"});
    }
    let message = format!(
        "command terminated with non-zero exit code: error executing command [{}], exit code {code}",
        command.join(" ")
    );
    json!({
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]},
    })
}

/// The channel-3 message (channel byte included) for a session that failed without an exit
/// code (the process could not be started or waited for): an `InternalError` Status, which
/// kubectl prints as `error: Internal error occurred: MESSAGE`.
pub fn error_status(message: &str) -> Vec<u8> {
    let status = json!({
        "metadata": {},
        "status": "Failure",
        "message": format!("Internal error occurred: {message}"),
        "reason": "InternalError",
        "details": {"causes": [{"message": message}]},
        "code": 500,
    });
    frame(STATUS, status.to_string().as_bytes())
}

/// The data channel of the `index`-th port of a `v4` port-forward (`2 * index`).
pub fn port_data_channel(index: usize) -> Option<u8> {
    u8::try_from(index.checked_mul(2)?).ok()
}

/// The error channel of the `index`-th port of a `v4` port-forward (`2 * index + 1`).
pub fn port_error_channel(index: usize) -> Option<u8> {
    port_data_channel(index)?.checked_add(1)
}

/// The first message the server sends on each port-forward channel: `[channel, port LE]`.
pub fn port_header(channel: u8, port: u16) -> Vec<u8> {
    let [lo, hi] = port.to_le_bytes();
    vec![channel, lo, hi]
}

/// Parses the `ports` query parameter values of a `v4` port-forward (`ports=80,8080` or
/// repeated `ports=`): each a port in 1..=65535.
pub fn parse_ports<'a>(values: impl IntoIterator<Item = &'a str>) -> Result<Vec<u16>, String> {
    let mut ports = Vec::new();
    for value in values {
        for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match item.parse::<u16>() {
                Ok(port) if port > 0 => ports.push(port),
                _ => return Err(format!("invalid port {item:?}")),
            }
        }
    }
    if ports.is_empty() {
        return Err("at least one port must be given".to_owned());
    }
    Ok(ports)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_client_frames() {
        assert_eq!(decode_client_frame(b"\x00ls\n"), ClientFrame::Stdin(b"ls\n".to_vec()));
        assert_eq!(decode_client_frame(b"\x00"), ClientFrame::Stdin(Vec::new()));
        assert_eq!(decode_client_frame(b""), ClientFrame::Other);
        assert_eq!(decode_client_frame(&[0xff, 0x00]), ClientFrame::CloseStdin);
        assert_eq!(decode_client_frame(&[0xff, 0x01]), ClientFrame::Other);
        assert_eq!(
            decode_client_frame(b"\x04{\"Width\":100,\"Height\":30}"),
            ClientFrame::Resize { width: 100, height: 30 }
        );
        assert_eq!(decode_client_frame(b"\x04{\"Width\":-1}"), ClientFrame::Other);
        assert_eq!(decode_client_frame(b"\x09x"), ClientFrame::Other);
    }

    #[test]
    fn encodes_output_frames() {
        assert_eq!(stdout_frame(b"hi"), b"\x01hi");
        assert_eq!(stderr_frame(b"oops"), b"\x02oops");
        assert_eq!(close_frame(STDOUT), vec![255, 1]);
    }

    #[test]
    fn exit_status_success_and_failure() {
        assert_eq!(exit_status(0), b"\x03{\"metadata\":{},\"status\":\"Success\"}");
        let message = exit_status_for(&["sh".into(), "-c".into(), "exit 3".into()], 3);
        assert_eq!(message[0], STATUS);
        let status: serde_json::Value = serde_json::from_slice(&message[1..]).expect("json");
        assert_eq!(status["status"], "Failure");
        assert_eq!(status["reason"], "NonZeroExitCode");
        assert_eq!(status["details"]["causes"][0]["reason"], "ExitCode");
        assert_eq!(status["details"]["causes"][0]["message"], "3");
        assert_eq!(
            status["message"],
            "command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3"
        );
        let error: serde_json::Value = serde_json::from_slice(&error_status("no such container")[1..]).expect("json");
        assert_eq!(error["reason"], "InternalError");
        assert_eq!(error["code"], 500);
    }

    #[test]
    fn negotiates_protocols() {
        assert_eq!(
            Protocol::negotiate("v4.channel.k8s.io, v5.channel.k8s.io"),
            Some(Protocol::V5)
        );
        assert_eq!(Protocol::negotiate("v4.channel.k8s.io"), Some(Protocol::V4));
        assert_eq!(Protocol::negotiate("SPDY/3.1+portforward.k8s.io"), None);
        assert_eq!(Protocol::V5.name(), "v5.channel.k8s.io");
    }

    #[test]
    fn port_forward_channels() {
        assert_eq!(port_data_channel(1), Some(2));
        assert_eq!(port_error_channel(1), Some(3));
        assert_eq!(port_data_channel(128), None);
        assert_eq!(port_header(2, 8080), vec![2, 0x90, 0x1f]);
        assert_eq!(parse_ports(["80,8080", "9000"]), Ok(vec![80, 8080, 9000]));
        assert!(parse_ports(["0"]).is_err());
        assert!(parse_ports(["x"]).is_err());
        assert!(parse_ports(Vec::<&str>::new()).is_err());
    }
}
