//! A raw WebSocket client over a std `TcpStream`, with hand-encoded frames:
//! the hostile peer of the tests. It masks like a client must, and can break
//! every other rule.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Opcodes, as on the wire.
pub mod op {
    /// A continuation frame.
    pub const CONTINUATION: u8 = 0x0;
    /// A text frame.
    pub const TEXT: u8 = 0x1;
    /// A binary frame.
    pub const BINARY: u8 = 0x2;
    /// A close frame.
    pub const CLOSE: u8 = 0x8;
    /// A ping.
    pub const PING: u8 = 0x9;
    /// A pong.
    pub const PONG: u8 = 0xA;
}

/// The masking key every raw peer uses.
pub const KEY: [u8; 4] = [0x12, 0x34, 0x56, 0x78];

/// The handshake request of a raw peer, for `host`.
pub fn request(host: &str) -> String {
    request_with(host, "")
}

/// The handshake request of a raw peer, for `host`, with extra header lines
/// (each ending in CRLF).
pub fn request_with(host: &str, extra: &str) -> String {
    format!(
        "GET / HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
}

/// A frame header with any length, in the 64-bit form when `long` (even for
/// small lengths), masked with [`KEY`].
pub fn header(fin: bool, opcode: u8, len: u64, long: bool) -> Vec<u8> {
    let mut out = vec![u8::from(fin) << 7 | opcode];
    match len {
        0..=125 if !long => out.push(0x80 | len as u8),
        126..=0xFFFF if !long => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out.push(0x80 | 127);
            out.extend_from_slice(&len.to_be_bytes());
        }
    }
    out.extend_from_slice(&KEY);
    out
}

/// A whole masked frame.
pub fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = header(fin, opcode, payload.len() as u64, false);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ KEY[i % 4]));
    out
}

/// A close frame with a code.
pub fn close_frame(code: u16) -> Vec<u8> {
    frame(true, op::CLOSE, &code.to_be_bytes())
}

/// How the server ended the connection, as the raw peer saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// A close frame with this code (1005 for an empty one), then EOF.
    Close(u16),
    /// EOF or a reset with no close frame.
    Dropped,
}

/// A frame from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// FIN.
    pub fin: bool,
    /// RSV1: the message is compressed (permessage-deflate).
    pub compressed: bool,
    /// The opcode.
    pub opcode: u8,
    /// The payload.
    pub payload: Vec<u8>,
}

/// A raw client connection past the handshake.
pub struct RawPeer {
    /// The socket.
    pub stream: TcpStream,
    buf: Vec<u8>,
    /// Whether permessage-deflate was agreed (RSV1 allowed from the server).
    deflate: bool,
    /// Whether [`RawPeer::close`] sent our close frame.
    close_sent: bool,
}

impl RawPeer {
    /// Connects to `addr`, completes the handshake (checking the 101), and
    /// sets a read timeout of `patience`.
    pub fn connect(addr: SocketAddr, patience: Duration) -> io::Result<RawPeer> {
        RawPeer::connect_with(addr, patience, "").map(|(peer, _)| peer)
    }

    /// [`RawPeer::connect`] with extra request header lines (each ending in
    /// CRLF); also returns the 101 response's head.
    pub fn connect_with(
        addr: SocketAddr,
        patience: Duration,
        extra: &str,
    ) -> io::Result<(RawPeer, String)> {
        let mut stream = TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(patience))?;
        stream.set_nodelay(true)?;
        stream.write_all(request_with(&addr.to_string(), extra).as_bytes())?;
        let mut peer = RawPeer {
            stream,
            buf: Vec::new(),
            deflate: false,
            close_sent: false,
        };
        let head = loop {
            if let Some(end) = peer.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break peer.buf.drain(..end + 4).collect::<Vec<u8>>();
            }
            if peer.fill()? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "closed during the handshake",
                ));
            }
        };
        let head = String::from_utf8_lossy(&head).into_owned();
        if !head.starts_with("HTTP/1.1 101 ") || !head.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") {
            return Err(io::Error::other(format!("not a 101: {head}")));
        }
        peer.deflate = head.to_ascii_lowercase().contains("permessage-deflate");
        Ok((peer, head))
    }

    /// Writes bytes.
    pub fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }

    fn fill(&mut self) -> io::Result<usize> {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.stream.read(&mut chunk)?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// The next frame from the server; `None` at EOF. Checks the server did
    /// not mask and used no RSV bit.
    pub fn read_frame(&mut self) -> io::Result<Option<Frame>> {
        loop {
            if let Some((frame, used)) = parse(&self.buf, self.deflate)? {
                self.buf.drain(..used);
                return Ok(Some(frame));
            }
            if self.fill()? == 0 {
                return Ok(None);
            }
        }
    }

    /// Starts the close handshake with `code`.
    pub fn close(&mut self, code: u16) -> io::Result<()> {
        self.close_sent = true;
        self.send(&close_frame(code))
    }

    /// Reads until the server's close frame, skipping other frames, answers
    /// it (unless [`RawPeer::close`] began the handshake), reads until the
    /// server closes the TCP connection, and closes ours. A reset or EOF
    /// without a close frame is [`Ending::Dropped`].
    pub fn ending(&mut self) -> io::Result<Ending> {
        let code = loop {
            match self.read_frame() {
                Ok(Some(f)) if f.opcode == op::CLOSE => {
                    break match f.payload[..] {
                        [hi, lo, ..] => u16::from_be_bytes([hi, lo]),
                        _ => 1005,
                    };
                }
                Ok(Some(_)) => {}
                Ok(None) => return Ok(Ending::Dropped),
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {
                    return Ok(Ending::Dropped);
                }
                Err(e) => return Err(e),
            }
        };
        if !self.close_sent {
            // Echo the code as a client must (1005 is answered with 1000).
            let reply = if code == 1005 { 1000 } else { code };
            // The server may already be gone.
            let _ = self.close(reply);
        }
        loop {
            match self.read_frame() {
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => break,
                Err(e) => return Err(e),
            }
        }
        // Our side closes too, as the server waits for (it may linger,
        // draining, until the peer's FIN).
        let _ = self.stream.shutdown(std::net::Shutdown::Write);
        Ok(Ending::Close(code))
    }

    /// Sends a message and reads the echo (skipping pings and pongs).
    pub fn echo(&mut self, opcode: u8, payload: &[u8]) -> io::Result<Vec<u8>> {
        self.send(&frame(true, opcode, payload))?;
        loop {
            match self.read_frame()? {
                Some(f) if f.opcode == opcode && f.fin => return Ok(f.payload),
                Some(f) if matches!(f.opcode, op::PING | op::PONG) => {}
                other => return Err(io::Error::other(format!("expected an echo, got {other:?}"))),
            }
        }
    }
}

/// Parses one unmasked server frame from the front of `buf` (RSV1 only
/// when `deflate` was agreed).
fn parse(buf: &[u8], deflate: bool) -> io::Result<Option<(Frame, usize)>> {
    let [b0, b1, ..] = *buf else { return Ok(None) };
    let rsv = if deflate { 0x30 } else { 0x70 };
    if b1 & 0x80 != 0 || b0 & rsv != 0 {
        return Err(io::Error::other(format!(
            "server frame breaks the rules: {b0:#x} {b1:#x}"
        )));
    }
    let (len, at) = match b1 & 0x7F {
        126 if buf.len() >= 4 => (u64::from(u16::from_be_bytes([buf[2], buf[3]])), 4),
        127 if buf.len() >= 10 => (
            u64::from_be_bytes(buf[2..10].try_into().expect("8 bytes")),
            10,
        ),
        126 | 127 => return Ok(None),
        n => (u64::from(n), 2),
    };
    let end = at + usize::try_from(len).map_err(io::Error::other)?;
    if buf.len() < end {
        return Ok(None);
    }
    let frame = Frame {
        fin: b0 & 0x80 != 0,
        compressed: b0 & 0x40 != 0,
        opcode: b0 & 0x0F,
        payload: buf[at..end].to_vec(),
    };
    Ok(Some((frame, end)))
}

/// Closes `stream` with a TCP reset instead of a FIN (SO_LINGER 0), as a
/// peer that crashes or is killed mid-frame does.
pub fn reset(stream: TcpStream) {
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: a valid socket and a correctly sized option value.
        unsafe {
            libc::setsockopt(
                stream.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                (&linger as *const libc::linger).cast(),
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            );
        }
    }
    drop(stream);
}
