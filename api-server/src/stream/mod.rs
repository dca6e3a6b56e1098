//! Streaming protocols of exec, attach and port-forward, independent of HTTP routing.
//!
//! - [`channel`]: the `channel.k8s.io` WebSocket framing (`v5` and `v4`): one byte of channel,
//!   then the payload; the exit status as a `Status` on channel 3.
//! - [`exec`]: drives one exec or attach session over such a WebSocket, against a child
//!   process given as pipes and an exit future ([`exec::ExecIo`]).
//! - [`ws_portforward`]: the `v4.channel.k8s.io` port-forward of client libraries
//!   (`?ports=80`), channel `2i` data and `2i+1` errors.
//! - [`spdy`]: the SPDY/3.1 frame codec with zlib-compressed header blocks.
//! - [`portforward`]: a SPDY/3.1 port-forward session (kubectl's protocol), over any byte
//!   stream: a plain upgraded connection or a WebSocket made one with [`ws_io::WsIo`].

pub mod channel;
pub mod exec;
pub mod portforward;
pub mod spdy;
mod spdy_dictionary;
pub mod ws_io;
pub mod ws_portforward;

#[cfg(test)]
mod portforward_tests;
#[cfg(test)]
mod test_support;
