//! One client connection that never blocks: a TCP connect from a chosen
//! source address, the opening handshake, then the server's frames (its
//! pings answered, its pongs counted). Just enough of RFC 6455 for that.

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr};

use mio::net::TcpStream;
use socket2::{Domain, SockRef, Socket, Type};

/// The upgrade request, with the RFC's sample nonce.
const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Version: 13\r\n\r\n";
/// The `Sec-WebSocket-Accept` that nonce must get.
const ACCEPT: &[u8] = b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
/// One masking key for every frame (the server cannot tell).
const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
/// A masked ping with no payload.
const PING: [u8; 6] = [0x89, 0x80, MASK[0], MASK[1], MASK[2], MASK[3]];

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Connecting,
    Handshaking,
    Open,
}

/// A client connection.
pub struct Conn {
    stream: TcpStream,
    state: State,
    /// Bytes of a response or a frame not complete yet.
    partial: Vec<u8>,
    /// Pongs received.
    pub pongs: u32,
}

impl Conn {
    /// Starts connecting to `target` from `source` (any free port of it).
    pub fn dial(target: SocketAddr, source: IpAddr) -> io::Result<Conn> {
        let socket = Socket::new(Domain::for_address(target), Type::STREAM, None)?;
        socket.set_nonblocking(true)?;
        socket.set_tcp_nodelay(true)?;
        no_port_at_bind(&socket)?;
        socket.bind(&SocketAddr::new(source, 0).into())?;
        match socket.connect(&target.into()) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
            Err(e) => return Err(e),
        }
        Ok(Conn {
            stream: TcpStream::from_std(socket.into()),
            state: State::Connecting,
            partial: Vec::new(),
            pongs: 0,
        })
    }

    /// The socket, to register for events.
    pub fn stream(&mut self) -> &mut TcpStream {
        &mut self.stream
    }

    /// Whether the handshake completed.
    pub fn is_open(&self) -> bool {
        self.state == State::Open
    }

    /// Goes as far as the socket allows (events may be spurious); an error
    /// ends the connection.
    pub fn advance(&mut self, buf: &mut [u8]) -> io::Result<()> {
        if self.state == State::Connecting {
            if let Some(e) = self.stream.take_error()? {
                return Err(e);
            }
            match self.stream.peer_addr() {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return Ok(()),
                Err(e) => return Err(e),
            }
            // A fresh socket's send buffer takes the whole request.
            if self.stream.write(REQUEST)? != REQUEST.len() {
                return Err(io::Error::other("the upgrade request did not fit"));
            }
            self.state = State::Handshaking;
        }
        let closed = self.read_all(buf)?;
        if self.state == State::Handshaking {
            let Some(end) = self.partial.windows(4).position(|w| w == b"\r\n\r\n") else {
                return if closed {
                    Err(io::ErrorKind::UnexpectedEof.into())
                } else {
                    Ok(())
                };
            };
            let head = &self.partial[..end];
            if !head.starts_with(b"HTTP/1.1 101")
                || !head.windows(ACCEPT.len()).any(|w| w == ACCEPT)
            {
                let line = head.split(|&b| b == b'\r').next().unwrap_or_default();
                return Err(io::Error::other(format!(
                    "handshake refused: {}",
                    String::from_utf8_lossy(line)
                )));
            }
            self.partial.drain(..end + 4);
            self.state = State::Open;
        }
        self.frames()?;
        if closed {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection",
            ));
        }
        Ok(())
    }

    /// Sends a ping.
    pub fn ping(&mut self) -> io::Result<()> {
        self.send(&PING)
    }

    /// Closes with a reset: no close handshake and no TIME_WAIT left behind.
    pub fn abort(self) {
        let _ = SockRef::from(&self.stream).set_linger(Some(std::time::Duration::ZERO));
    }

    /// Reads until the socket is drained; true at its end.
    fn read_all(&mut self, buf: &mut [u8]) -> io::Result<bool> {
        loop {
            match self.stream.read(buf) {
                Ok(0) => return Ok(true),
                Ok(n) => self.partial.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Handles the whole frames received: pings are answered, pongs
    /// counted, a close ends the connection, messages are ignored.
    fn frames(&mut self) -> io::Result<()> {
        let mut at = 0;
        let mut replies = Vec::new();
        while let Some((opcode, start, end)) = frame_at(&self.partial[at..])? {
            let payload = &self.partial[at + start..at + end];
            match opcode {
                0x8 => return Err(io::Error::other("the server sent a close frame")),
                0x9 => {
                    replies.extend_from_slice(&[0x8a, 0x80 | payload.len() as u8]);
                    replies.extend_from_slice(&MASK);
                    replies.extend(payload.iter().zip(MASK.iter().cycle()).map(|(b, m)| b ^ m));
                }
                0xa => self.pongs += 1,
                _ => {}
            }
            at += end;
        }
        self.partial.drain(..at);
        if replies.is_empty() {
            Ok(())
        } else {
            self.send(&replies)
        }
    }

    /// Writes a few bytes, which an idle socket's send buffer takes.
    fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        if self.stream.write(bytes)? != bytes.len() {
            return Err(io::Error::other("a control frame did not fit"));
        }
        Ok(())
    }
}

/// `IP_BIND_ADDRESS_NO_PORT`: the port is chosen at `connect`, for the
/// whole address pair, not at `bind` for the source address alone; so a
/// source address is not limited to the ephemeral range once over, and
/// `connect`s without `bind` (other programs on this loopback) do not find
/// the range taken.
fn no_port_at_bind(socket: &Socket) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let on: libc::c_int = 1;
    // SAFETY: a valid socket, and an int option of the right size.
    let done = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_BIND_ADDRESS_NO_PORT,
            (&raw const on).cast(),
            std::mem::size_of_val(&on) as libc::socklen_t,
        )
    };
    if done == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The opcode and payload bounds of the server frame at the start of
/// `data`, if it is all there.
fn frame_at(data: &[u8]) -> io::Result<Option<(u8, usize, usize)>> {
    let [b0, b1, ..] = *data else {
        return Ok(None);
    };
    if b1 & 0x80 != 0 {
        return Err(io::Error::other("a masked frame from the server"));
    }
    let (head, len) = match b1 & 0x7f {
        126 if data.len() >= 4 => (4, u64::from(u16::from_be_bytes([data[2], data[3]]))),
        127 if data.len() >= 10 => (10, u64::from_be_bytes(data[2..10].try_into().unwrap())),
        126 | 127 => return Ok(None),
        n => (2, u64::from(n)),
    };
    let end = usize::try_from(len).map_err(io::Error::other)? + head;
    Ok((data.len() >= end).then_some((b0 & 0x0f, head, end)))
}
