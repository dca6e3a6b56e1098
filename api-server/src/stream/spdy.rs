//! SPDY/3.1 framing, as kubectl's port-forward speaks it: 8-byte frame headers, control
//! frames (SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE)
//! and data frames, with header blocks zlib-compressed against the SPDY/3 dictionary by one
//! stateful zlib stream per direction: a [`FrameEncoder`] for what is sent and a
//! [`FrameDecoder`] for what is received, each kept for the whole connection.

use std::io;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use tokio::io::{AsyncRead, AsyncReadExt};

use super::spdy_dictionary::dictionary;

/// The protocol version in every control frame.
pub const VERSION: u16 = 3;
/// Flag: the sender's last frame on this stream (DATA, SYN_STREAM, SYN_REPLY, HEADERS).
pub const FLAG_FIN: u8 = 0x01;
/// Flag of SYN_STREAM: the recipient may not send on the stream.
pub const FLAG_UNIDIRECTIONAL: u8 = 0x02;

/// RST_STREAM status: protocol error.
pub const RST_PROTOCOL_ERROR: u32 = 1;
/// RST_STREAM status: a frame for a stream that is not open.
pub const RST_INVALID_STREAM: u32 = 2;
/// RST_STREAM status: the stream was refused before any processing.
pub const RST_REFUSED_STREAM: u32 = 3;
/// RST_STREAM status: the stream is no longer needed.
pub const RST_CANCEL: u32 = 5;
/// RST_STREAM status: an internal error.
pub const RST_INTERNAL_ERROR: u32 = 6;

/// The largest payload one frame can carry (24-bit length).
pub const MAX_PAYLOAD: usize = (1 << 24) - 1;
/// The largest decompressed header block accepted.
const MAX_HEADER_BLOCK: usize = 256 * 1024;

const TYPE_SYN_STREAM: u16 = 1;
const TYPE_SYN_REPLY: u16 = 2;
const TYPE_RST_STREAM: u16 = 3;
const TYPE_SETTINGS: u16 = 4;
const TYPE_PING: u16 = 6;
const TYPE_GOAWAY: u16 = 7;
const TYPE_HEADERS: u16 = 8;
const TYPE_WINDOW_UPDATE: u16 = 9;

/// A header block: (lowercase name, value) pairs; several values of one name stay joined by NUL.
pub type Headers = Vec<(String, String)>;

/// The value of header `name` in `headers`.
pub fn header<'a>(headers: &'a Headers, name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// One SETTINGS entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    /// Entry flags (persist value, persisted).
    pub flags: u8,
    /// Setting id (24 bits).
    pub id: u32,
    /// Value.
    pub value: u32,
}

/// One SPDY/3.1 frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// Opens a stream.
    SynStream {
        /// The new stream's id (odd from clients).
        stream_id: u32,
        /// The stream it is associated to, or 0.
        associated_to: u32,
        /// Priority, 0 (highest) to 7.
        priority: u8,
        /// [`FLAG_FIN`], [`FLAG_UNIDIRECTIONAL`].
        flags: u8,
        /// Its headers.
        headers: Headers,
    },
    /// Accepts a stream.
    SynReply {
        /// The stream.
        stream_id: u32,
        /// [`FLAG_FIN`].
        flags: u8,
        /// Reply headers.
        headers: Headers,
    },
    /// Ends a stream abnormally.
    RstStream {
        /// The stream.
        stream_id: u32,
        /// Why (`RST_*`).
        status: u32,
    },
    /// Connection settings (ignored by the port-forward server).
    Settings {
        /// Frame flags.
        flags: u8,
        /// The entries.
        entries: Vec<Setting>,
    },
    /// A ping, to be echoed with the same id.
    Ping {
        /// Its id.
        id: u32,
    },
    /// The sender starts no more streams.
    GoAway {
        /// The last stream the sender accepted.
        last_good_stream_id: u32,
        /// 0 OK, 1 protocol error, 2 internal error.
        status: u32,
    },
    /// More headers for a stream.
    Headers {
        /// The stream.
        stream_id: u32,
        /// [`FLAG_FIN`].
        flags: u8,
        /// The headers.
        headers: Headers,
    },
    /// Flow control (ignored by the port-forward server, as by kubectl's own).
    WindowUpdate {
        /// The stream (0: the connection).
        stream_id: u32,
        /// Bytes added to the window.
        delta: u32,
    },
    /// Stream data.
    Data {
        /// The stream.
        stream_id: u32,
        /// [`FLAG_FIN`].
        flags: u8,
        /// The bytes.
        data: Vec<u8>,
    },
    /// A control frame of a type this codec does not know (NOOP, CREDENTIAL, ...).
    Unknown {
        /// Its type.
        kind: u16,
    },
}

/// Errors of the SPDY codec.
#[derive(Debug, thiserror::Error)]
pub enum SpdyError {
    /// The byte stream failed.
    #[error("SPDY transport: {0}")]
    Io(#[from] io::Error),
    /// The peer sent something that is not SPDY/3.1.
    #[error("SPDY protocol error: {0}")]
    Protocol(String),
    /// A header block could not be (de)compressed.
    #[error("SPDY header compression: {0}")]
    Compression(String),
}

fn protocol(message: impl Into<String>) -> SpdyError {
    SpdyError::Protocol(message.into())
}

/// Decodes received frames; holds the receiving direction's zlib stream.
pub struct FrameDecoder {
    inflate: Decompress,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl FrameDecoder {
    /// A decoder at the start of a connection.
    pub fn new() -> Self {
        FrameDecoder {
            inflate: Decompress::new(true),
        }
    }

    /// Reads one frame from `reader`; `None` at EOF on a frame boundary.
    pub async fn read_frame<R: AsyncRead + Unpin>(&mut self, reader: &mut R) -> Result<Option<Frame>, SpdyError> {
        let mut head = [0u8; 8];
        let first = reader.read(&mut head).await?;
        if first == 0 {
            return Ok(None);
        }
        reader.read_exact(&mut head[first..]).await?;
        let length = usize::from(head[5]) << 16 | usize::from(head[6]) << 8 | usize::from(head[7]);
        let mut payload = vec![0u8; length];
        reader.read_exact(&mut payload).await?;
        self.decode(head, &payload).map(Some)
    }

    /// Decodes one frame from its 8-byte header and its payload.
    pub fn decode(&mut self, head: [u8; 8], payload: &[u8]) -> Result<Frame, SpdyError> {
        let word = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
        let flags = head[4];
        if word & 0x8000_0000 == 0 {
            return Ok(Frame::Data {
                stream_id: word & 0x7fff_ffff,
                flags,
                data: payload.to_vec(),
            });
        }
        let version = ((word >> 16) & 0x7fff) as u16;
        if version != VERSION {
            return Err(protocol(format!("unsupported SPDY version {version}")));
        }
        let kind = (word & 0xffff) as u16;
        let mut p = Payload(payload);
        let frame = match kind {
            TYPE_SYN_STREAM => {
                let stream_id = p.u32()? & 0x7fff_ffff;
                let associated_to = p.u32()? & 0x7fff_ffff;
                let priority = p.u8()? >> 5;
                let _slot = p.u8()?;
                let headers = self.header_block(p.rest())?;
                Frame::SynStream {
                    stream_id,
                    associated_to,
                    priority,
                    flags,
                    headers,
                }
            }
            TYPE_SYN_REPLY | TYPE_HEADERS => {
                let stream_id = p.u32()? & 0x7fff_ffff;
                let headers = self.header_block(p.rest())?;
                if kind == TYPE_SYN_REPLY {
                    Frame::SynReply {
                        stream_id,
                        flags,
                        headers,
                    }
                } else {
                    Frame::Headers {
                        stream_id,
                        flags,
                        headers,
                    }
                }
            }
            TYPE_RST_STREAM => Frame::RstStream {
                stream_id: p.u32()? & 0x7fff_ffff,
                status: p.u32()?,
            },
            TYPE_SETTINGS => {
                let count = p.u32()?;
                let mut entries = Vec::new();
                for _ in 0..count {
                    let id = p.u32()?;
                    entries.push(Setting {
                        flags: (id >> 24) as u8,
                        id: id & 0x00ff_ffff,
                        value: p.u32()?,
                    });
                }
                Frame::Settings { flags, entries }
            }
            TYPE_PING => Frame::Ping { id: p.u32()? },
            TYPE_GOAWAY => Frame::GoAway {
                last_good_stream_id: p.u32()? & 0x7fff_ffff,
                status: p.u32()?,
            },
            TYPE_WINDOW_UPDATE => Frame::WindowUpdate {
                stream_id: p.u32()? & 0x7fff_ffff,
                delta: p.u32()? & 0x7fff_ffff,
            },
            kind => Frame::Unknown { kind },
        };
        Ok(frame)
    }

    fn header_block(&mut self, compressed: &[u8]) -> Result<Headers, SpdyError> {
        let block = inflate(&mut self.inflate, compressed)?;
        let mut p = Payload(&block);
        let count = p.u32()?;
        let mut headers = Vec::new();
        for _ in 0..count {
            let name = p.string()?.to_ascii_lowercase();
            let value = p.string()?;
            headers.push((name, value));
        }
        Ok(headers)
    }
}

/// Encodes frames to send; holds the sending direction's zlib stream, so frames must be sent
/// in the order they were encoded.
pub struct FrameEncoder {
    deflate: Compress,
}

impl FrameEncoder {
    /// An encoder at the start of a connection.
    pub fn new() -> Result<Self, SpdyError> {
        let mut deflate = Compress::new(Compression::default(), true);
        deflate
            .set_dictionary(dictionary())
            .map_err(|e| SpdyError::Compression(e.to_string()))?;
        Ok(FrameEncoder { deflate })
    }

    /// The bytes of `frame`. Data longer than [`MAX_PAYLOAD`] is an error: split it first.
    pub fn encode(&mut self, frame: &Frame) -> Result<Vec<u8>, SpdyError> {
        let (kind, flags, payload) = match frame {
            Frame::Data { stream_id, flags, data } => {
                let mut bytes = (stream_id & 0x7fff_ffff).to_be_bytes().to_vec();
                bytes.push(*flags);
                bytes.extend_from_slice(&length24(data.len())?);
                bytes.extend_from_slice(data);
                return Ok(bytes);
            }
            Frame::SynStream {
                stream_id,
                associated_to,
                priority,
                flags,
                headers,
            } => {
                let mut p = stream_id.to_be_bytes().to_vec();
                p.extend_from_slice(&associated_to.to_be_bytes());
                p.push((priority & 0x07) << 5);
                p.push(0);
                p.extend(self.header_block(headers)?);
                (TYPE_SYN_STREAM, *flags, p)
            }
            Frame::SynReply {
                stream_id,
                flags,
                headers,
            } => {
                let mut p = stream_id.to_be_bytes().to_vec();
                p.extend(self.header_block(headers)?);
                (TYPE_SYN_REPLY, *flags, p)
            }
            Frame::Headers {
                stream_id,
                flags,
                headers,
            } => {
                let mut p = stream_id.to_be_bytes().to_vec();
                p.extend(self.header_block(headers)?);
                (TYPE_HEADERS, *flags, p)
            }
            Frame::RstStream { stream_id, status } => (TYPE_RST_STREAM, 0, words(&[*stream_id, *status])),
            Frame::Settings { flags, entries } => {
                let mut p = words(&[u32::try_from(entries.len()).map_err(|_| protocol("settings"))?]);
                for e in entries {
                    p.extend(words(&[u32::from(e.flags) << 24 | e.id & 0x00ff_ffff, e.value]));
                }
                (TYPE_SETTINGS, *flags, p)
            }
            Frame::Ping { id } => (TYPE_PING, 0, words(&[*id])),
            Frame::GoAway {
                last_good_stream_id,
                status,
            } => (TYPE_GOAWAY, 0, words(&[*last_good_stream_id, *status])),
            Frame::WindowUpdate { stream_id, delta } => (TYPE_WINDOW_UPDATE, 0, words(&[*stream_id, *delta])),
            Frame::Unknown { kind } => return Err(protocol(format!("cannot encode type {kind}"))),
        };
        let mut bytes = (0x8000_0000 | u32::from(VERSION) << 16 | u32::from(kind))
            .to_be_bytes()
            .to_vec();
        bytes.push(flags);
        bytes.extend_from_slice(&length24(payload.len())?);
        bytes.extend(payload);
        Ok(bytes)
    }

    fn header_block(&mut self, headers: &Headers) -> Result<Vec<u8>, SpdyError> {
        let mut block = Vec::new();
        let count = u32::try_from(headers.len()).map_err(|_| protocol("too many headers"))?;
        block.extend_from_slice(&count.to_be_bytes());
        for (name, value) in headers {
            for part in [name.to_ascii_lowercase().as_bytes(), value.as_bytes()] {
                let len = u32::try_from(part.len()).map_err(|_| protocol("header too long"))?;
                block.extend_from_slice(&len.to_be_bytes());
                block.extend_from_slice(part);
            }
        }
        deflate(&mut self.deflate, &block)
    }
}

fn words(values: &[u32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_be_bytes()).collect()
}

fn length24(len: usize) -> Result<[u8; 3], SpdyError> {
    if len > MAX_PAYLOAD {
        return Err(protocol(format!("frame payload of {len} bytes is too long")));
    }
    Ok([(len >> 16) as u8, (len >> 8) as u8, len as u8])
}

/// Compresses one header block with a sync flush, continuing the connection's zlib stream.
fn deflate(deflate: &mut Compress, input: &[u8]) -> Result<Vec<u8>, SpdyError> {
    let mut out = Vec::with_capacity(input.len() + 64);
    let start = deflate.total_in();
    loop {
        let consumed = usize::try_from(deflate.total_in() - start).unwrap_or(usize::MAX);
        let rest = input.get(consumed..).unwrap_or_default();
        deflate
            .compress_vec(rest, &mut out, FlushCompress::Sync)
            .map_err(|e| SpdyError::Compression(e.to_string()))?;
        let consumed = usize::try_from(deflate.total_in() - start).unwrap_or(usize::MAX);
        if consumed >= input.len() && out.len() < out.capacity() {
            return Ok(out);
        }
        out.reserve(out.capacity().max(64));
    }
}

/// Decompresses one header block, continuing the connection's zlib stream; supplies the SPDY
/// dictionary when the stream asks for it (after its zlib header, in the first block).
fn inflate(inflate: &mut Decompress, input: &[u8]) -> Result<Vec<u8>, SpdyError> {
    let mut out = Vec::with_capacity(input.len() * 4 + 64);
    let start = inflate.total_in();
    let consumed = |d: &Decompress| usize::try_from(d.total_in() - start).unwrap_or(usize::MAX);
    loop {
        let (before_in, before_out) = (consumed(inflate), out.len());
        let rest = input.get(before_in..).unwrap_or_default();
        match inflate.decompress_vec(rest, &mut out, FlushDecompress::Sync) {
            Ok(Status::StreamEnd) => return Ok(out),
            Ok(_) => {}
            Err(e) if e.needs_dictionary().is_some() => {
                inflate
                    .set_dictionary(dictionary())
                    .map_err(|e| SpdyError::Compression(e.to_string()))?;
                continue;
            }
            Err(e) => return Err(SpdyError::Compression(e.to_string())),
        }
        let done = consumed(inflate) >= input.len();
        if done && out.len() < out.capacity() {
            return Ok(out);
        }
        if out.len() == out.capacity() {
            if out.len() >= MAX_HEADER_BLOCK {
                return Err(SpdyError::Compression("header block too large".into()));
            }
            out.reserve(out.len());
        } else if consumed(inflate) == before_in && out.len() == before_out {
            return Err(SpdyError::Compression("truncated header block".into()));
        }
    }
}

/// A cursor over a frame payload.
struct Payload<'a>(&'a [u8]);

impl<'a> Payload<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], SpdyError> {
        if self.0.len() < n {
            return Err(protocol("frame too short"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, SpdyError> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, SpdyError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn string(&mut self) -> Result<String, SpdyError> {
        let len = usize::try_from(self.u32()?).map_err(|_| protocol("header length"))?;
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| protocol("header is not UTF-8"))
    }

    fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(frames: &[Frame]) {
        let mut encoder = FrameEncoder::new().expect("encoder");
        let mut decoder = FrameDecoder::new();
        for frame in frames {
            let bytes = encoder.encode(frame).expect("encode");
            let head: [u8; 8] = bytes[..8].try_into().expect("head");
            assert_eq!(decoder.decode(head, &bytes[8..]).expect("decode"), *frame);
        }
    }

    fn hdrs(pairs: &[(&str, &str)]) -> Headers {
        pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
    }

    #[test]
    fn frames_roundtrip_with_one_zlib_stream_per_direction() {
        roundtrip(&[
            Frame::SynStream {
                stream_id: 1,
                associated_to: 0,
                priority: 0,
                flags: 0,
                headers: hdrs(&[("streamtype", "error"), ("port", "80"), ("requestid", "0")]),
            },
            Frame::SynReply {
                stream_id: 1,
                flags: 0,
                headers: Vec::new(),
            },
            Frame::SynStream {
                stream_id: 3,
                associated_to: 0,
                priority: 7,
                flags: FLAG_FIN,
                headers: hdrs(&[("streamtype", "data"), ("port", "80"), ("requestid", "0")]),
            },
            Frame::Headers {
                stream_id: 3,
                flags: 0,
                headers: hdrs(&[("x", "a\0b")]),
            },
            Frame::Data {
                stream_id: 3,
                flags: FLAG_FIN,
                data: b"hello".to_vec(),
            },
            Frame::RstStream {
                stream_id: 3,
                status: RST_CANCEL,
            },
            Frame::Settings {
                flags: 0,
                entries: vec![Setting {
                    flags: 1,
                    id: 7,
                    value: 65536,
                }],
            },
            Frame::Ping { id: 1 },
            Frame::GoAway {
                last_good_stream_id: 3,
                status: 0,
            },
            Frame::WindowUpdate {
                stream_id: 0,
                delta: 1000,
            },
        ]);
    }

    #[test]
    fn header_blocks_name_the_spdy_dictionary() {
        let mut encoder = FrameEncoder::new().expect("encoder");
        let bytes = encoder
            .encode(&Frame::SynReply {
                stream_id: 1,
                flags: 0,
                headers: Vec::new(),
            })
            .expect("encode");
        // zlib header (2 bytes, FDICT set), then the dictionary's Adler-32.
        let zlib = &bytes[12..];
        assert_ne!(zlib[1] & 0x20, 0);
        assert_eq!(zlib[2..6], [0xe3, 0xc6, 0xa7, 0xc2]);
    }

    #[tokio::test]
    async fn reads_frames_from_a_byte_stream() {
        let mut encoder = FrameEncoder::new().expect("encoder");
        let mut bytes = encoder.encode(&Frame::Ping { id: 9 }).expect("ping");
        bytes.extend(
            encoder
                .encode(&Frame::Data {
                    stream_id: 5,
                    flags: 0,
                    data: vec![7; 3],
                })
                .expect("data"),
        );
        let mut reader = &bytes[..];
        let mut decoder = FrameDecoder::new();
        assert_eq!(
            decoder.read_frame(&mut reader).await.expect("1"),
            Some(Frame::Ping { id: 9 })
        );
        assert!(matches!(
            decoder.read_frame(&mut reader).await.expect("2"),
            Some(Frame::Data { stream_id: 5, .. })
        ));
        assert_eq!(decoder.read_frame(&mut reader).await.expect("eof"), None);
        let mut truncated = &bytes[..5];
        assert!(decoder.read_frame(&mut truncated).await.is_err());
    }

    #[test]
    fn rejects_garbage() {
        let mut decoder = FrameDecoder::new();
        let head = [0x80, 2, 0, 1, 0, 0, 0, 0];
        assert!(matches!(decoder.decode(head, &[]), Err(SpdyError::Protocol(_))));
        let head = [0x80, 3, 0, 1, 0, 0, 0, 14];
        let bad = [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4];
        assert!(decoder.decode(head, &bad).is_err());
        assert_eq!(
            decoder.decode([0x80, 3, 0, 5, 0, 0, 0, 0], &[]).expect("noop"),
            Frame::Unknown { kind: 5 }
        );
    }
}
