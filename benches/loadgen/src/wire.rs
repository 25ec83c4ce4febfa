//! Just enough of RFC 6455 for a load generator: the client's opening
//! handshake, one pre-masked frame per message, and an in-place parser that
//! checks each echo against the payload sent.

use std::io::{self, Read, Write};
use std::net::TcpStream;

use crate::payload::Kind;

/// The RFC's own sample nonce and the accept value it must produce.
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
/// One masking key for every frame: the server cannot tell, and the client
/// masks once instead of per message.
const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// Sends the upgrade request and waits for `101 Switching Protocols`.
pub fn handshake(mut stream: &TcpStream, host: &str, path: &str) -> io::Result<()> {
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )?;
    let mut response = Vec::with_capacity(256);
    let mut chunk = [0u8; 512];
    while !response.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut chunk)?;
        if n == 0 || response.len() > 8192 {
            return Err(io::Error::other("handshake: no complete response"));
        }
        response.extend_from_slice(&chunk[..n]);
    }
    let text = String::from_utf8_lossy(&response);
    if !text.starts_with("HTTP/1.1 101") || !text.contains(ACCEPT) {
        let first = text.lines().next().unwrap_or_default();
        return Err(io::Error::other(format!("handshake refused: {first}")));
    }
    Ok(())
}

/// A whole masked client frame carrying `payload`.
pub fn client_frame(kind: Kind, payload: &[u8]) -> Vec<u8> {
    let opcode = if kind.is_text() { 0x1 } else { 0x2 };
    let mut frame = Vec::with_capacity(payload.len() + 14);
    frame.push(0x80 | opcode);
    match payload.len() {
        n if n < 126 => frame.push(0x80 | n as u8),
        n if n <= 0xffff => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(&MASK);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ MASK[i % 4]));
    frame
}

/// What one read's bytes completed.
pub struct Seen {
    /// Whole echoed messages.
    pub messages: usize,
    /// Echoed payload bytes (framing not counted).
    pub payload_bytes: usize,
}

/// Parses echoes out of a byte stream, checking them against the payload.
pub struct Parser {
    /// WebSocket frames (otherwise raw bytes, one message per payload).
    framed: bool,
    /// A header split between reads.
    carry: [u8; 14],
    carry_len: usize,
    /// Payload bytes left in the current frame.
    left: u64,
    /// The current frame ends a message; it is a control frame.
    fin: bool,
    control: bool,
    /// The current frame is a close: the server is hanging up.
    close: bool,
    /// Bytes of the current message received so far.
    at: usize,
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

/// The length of a server frame header, from its first two bytes.
fn header_len(b1: u8) -> io::Result<usize> {
    if b1 & 0x80 != 0 {
        return Err(bad("the server masked a frame"));
    }
    Ok(match b1 & 0x7f {
        126 => 4,
        127 => 10,
        _ => 2,
    })
}

impl Parser {
    /// A parser for echoes of `size`-byte messages.
    pub fn new(framed: bool) -> Parser {
        Parser {
            framed,
            carry: [0; 14],
            carry_len: 0,
            left: 0,
            fin: false,
            control: false,
            close: false,
            at: 0,
        }
    }

    /// Consumes `data`, comparing echoed payload bytes with `payload`.
    pub fn feed(&mut self, mut data: &[u8], payload: &[u8]) -> io::Result<Seen> {
        let mut seen = Seen {
            messages: 0,
            payload_bytes: 0,
        };
        if !self.framed {
            while !data.is_empty() {
                let take = data.len().min(payload.len() - self.at);
                self.check(&data[..take], payload)?;
                seen.payload_bytes += take;
                data = &data[take..];
                if self.at == payload.len() {
                    self.at = 0;
                    seen.messages += 1;
                }
            }
            return Ok(seen);
        }
        while !data.is_empty() {
            if self.left == 0 {
                data = self.header(data)?;
                if self.left == 0 && self.carry_len == 0 {
                    self.end_frame(payload, &mut seen)?;
                }
                continue;
            }
            let take = data
                .len()
                .min(usize::try_from(self.left).unwrap_or(usize::MAX));
            if !self.control {
                self.check(&data[..take], payload)?;
                seen.payload_bytes += take;
            }
            self.left -= take as u64;
            data = &data[take..];
            if self.left == 0 {
                self.end_frame(payload, &mut seen)?;
            }
        }
        Ok(seen)
    }

    /// Reads a frame header (or the part of one that arrived); returns the rest.
    fn header<'d>(&mut self, data: &'d [u8]) -> io::Result<&'d [u8]> {
        if self.carry_len == 0 && data.len() >= 2 {
            let len = header_len(data[1])?;
            if data.len() >= len {
                let (header, rest) = data.split_at(len);
                self.start_frame(header);
                return Ok(rest);
            }
        }
        // Split between reads: gather it in `carry`.
        for (i, &b) in data.iter().enumerate() {
            self.carry[self.carry_len] = b;
            self.carry_len += 1;
            if self.carry_len >= 2 && self.carry_len == header_len(self.carry[1])? {
                let header = self.carry;
                self.start_frame(&header[..self.carry_len]);
                self.carry_len = 0;
                return Ok(&data[i + 1..]);
            }
        }
        Ok(&[])
    }

    /// Takes in a whole frame header.
    fn start_frame(&mut self, header: &[u8]) {
        let (b0, b1) = (header[0], header[1]);
        self.fin = b0 & 0x80 != 0;
        self.control = b0 & 0x08 != 0;
        self.close = b0 & 0x0f == 0x8;
        self.left = match b1 & 0x7f {
            126 => u64::from(u16::from_be_bytes([header[2], header[3]])),
            127 => u64::from_be_bytes(header[2..10].try_into().expect("8 bytes")),
            n => u64::from(n),
        };
    }

    /// Compares the next echoed bytes of the current message.
    fn check(&mut self, got: &[u8], payload: &[u8]) -> io::Result<()> {
        let expected = payload
            .get(self.at..self.at + got.len())
            .ok_or_else(|| bad("an echo longer than the message"))?;
        if got != expected {
            return Err(bad("an echo that differs from the message"));
        }
        self.at += got.len();
        Ok(())
    }

    fn end_frame(&mut self, payload: &[u8], seen: &mut Seen) -> io::Result<()> {
        if self.close {
            return Err(bad("the server closed the connection"));
        }
        if self.control || !self.fin {
            return Ok(());
        }
        if self.at != payload.len() {
            return Err(bad("an echo shorter than the message"));
        }
        self.at = 0;
        seen.messages += 1;
        Ok(())
    }
}
