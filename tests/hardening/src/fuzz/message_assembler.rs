//! Fuzz body: a sequence of well-formed frames (data, continuation, control,
//! some breaking the rules) with small limits, checked against a model of
//! RFC 6455 written here independently of the engine.

use wsx_core::proto::{Config, MessageKind, Role};

use super::engine::{Ev, check_output, drive};

/// A session: the engine's settings, its frames and how the bytes are cut.
///
/// Encoded as: a flags byte (bit 0 server, 1 streaming, 2 reject binary,
/// 3 automatic pongs), `max_message_size / 2`, `max_frame_size`, a count of
/// piece sizes (mod 8) and the sizes, then the frames, each a byte of bits
/// (0-2 opcode index, 3 FIN, 4 masked the wrong way, 5 an RSV bit), a payload
/// length and the payload (cut short at the end of the input).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Play the server (frames masked) or the client.
    pub server: bool,
    /// Deliver fragments as they arrive.
    pub streaming: bool,
    /// Refuse binary messages.
    pub reject_binary: bool,
    /// Answer pings.
    pub auto_pong: bool,
    /// `max_message_size` (even, at most 510).
    pub max_message: usize,
    /// `max_frame_size` (at most 255).
    pub max_frame: u8,
    /// Sizes of the pieces the bytes are fed in.
    pub cuts: Vec<u8>,
    /// The frames, in order.
    pub frames: Vec<Frame>,
}

/// One frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Its opcode.
    pub op: Op,
    /// FIN.
    pub fin: bool,
    /// Masked the wrong way for the role.
    pub wrong_mask: bool,
    /// RSV1 set (a protocol error without an extension).
    pub rsv: bool,
    /// The payload (at most 255 bytes).
    pub payload: Vec<u8>,
}

/// An opcode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// 0x0.
    Continuation,
    /// 0x1.
    Text,
    /// 0x2.
    Binary,
    /// 0x8.
    Close,
    /// 0x9.
    Ping,
    /// 0xA.
    Pong,
}

const OPS: [Op; 6] = [
    Op::Continuation,
    Op::Text,
    Op::Binary,
    Op::Close,
    Op::Ping,
    Op::Pong,
];

impl Session {
    /// Reads a session from fuzz input; any bytes give one.
    pub fn decode(data: &[u8]) -> Session {
        let mut it = data.iter().copied();
        let flags = it.next().unwrap_or(0);
        let max_message = usize::from(it.next().unwrap_or(0)) * 2;
        let max_frame = it.next().unwrap_or(0);
        let ncuts = it.next().unwrap_or(0) % 8;
        let cuts = it.by_ref().take(usize::from(ncuts)).collect();
        let mut frames = Vec::new();
        while let Some(bits) = it.next() {
            let len = it.next().unwrap_or(0);
            frames.push(Frame {
                op: OPS[usize::from(bits & 0b111) % OPS.len()],
                fin: bits & 0b1000 != 0,
                wrong_mask: bits & 0b1_0000 != 0,
                rsv: bits & 0b10_0000 != 0,
                payload: it.by_ref().take(usize::from(len)).collect(),
            });
        }
        Session {
            server: flags & 1 != 0,
            streaming: flags & 2 != 0,
            reject_binary: flags & 4 != 0,
            auto_pong: flags & 8 != 0,
            max_message,
            max_frame,
            cuts,
            frames,
        }
    }

    /// The fuzz input [`Session::decode`] reads back as this session.
    pub fn encode(&self) -> Vec<u8> {
        let flags = u8::from(self.server)
            | u8::from(self.streaming) << 1
            | u8::from(self.reject_binary) << 2
            | u8::from(self.auto_pong) << 3;
        let mut out = vec![flags, (self.max_message / 2).min(255) as u8, self.max_frame];
        out.push(self.cuts.len().min(7) as u8);
        out.extend(self.cuts.iter().take(7));
        for f in &self.frames {
            let op = OPS.iter().position(|&o| o == f.op).unwrap_or(0) as u8;
            let bits =
                op | u8::from(f.fin) << 3 | u8::from(f.wrong_mask) << 4 | u8::from(f.rsv) << 5;
            let len = f.payload.len().min(255);
            out.extend_from_slice(&[bits, len as u8]);
            out.extend_from_slice(&f.payload[..len]);
        }
        out
    }
}

impl Op {
    fn code(self) -> u8 {
        match self {
            Op::Continuation => 0x0,
            Op::Text => 0x1,
            Op::Binary => 0x2,
            Op::Close => 0x8,
            Op::Ping => 0x9,
            Op::Pong => 0xA,
        }
    }
    fn is_control(self) -> bool {
        self.code() >= 0x8
    }
}

/// Builds a session from fuzz input and runs it.
pub fn run(data: &[u8]) {
    run_session(&Session::decode(data));
}

/// Runs one session: the engine's events equal the model's, however the bytes
/// are cut, and what the engine wrote back is what the model expects.
pub fn run_session(s: &Session) {
    let role = if s.server { Role::Server } else { Role::Client };
    let config = Config {
        max_message_size: s.max_message,
        max_frame_size: usize::from(s.max_frame),
        auto_pong: s.auto_pong,
        streaming: s.streaming,
        reject_binary: s.reject_binary,
    };
    let mut wire = Vec::new();
    for (i, f) in s.frames.iter().enumerate() {
        encode(role, f, i, &mut wire);
    }
    let (expected, open) = model(&config, &s.frames);
    let cuts: Vec<usize> = s.cuts.iter().map(|&c| usize::from(c)).collect();
    let got = drive(role, config.clone(), &wire, &cuts);
    assert_eq!(got.trace, expected, "engine vs model");
    // Streamed pieces of an unfinished message are a prefix of what arrived.
    assert!(
        open.starts_with(&got.partial),
        "streamed {:?} of {open:?}",
        got.partial
    );
    check_output(role, config.auto_pong, &got);
}

/// Hand-encodes a frame with the shortest length.
fn encode(role: Role, f: &Frame, index: usize, out: &mut Vec<u8>) {
    let payload = &f.payload;
    out.push(u8::from(f.fin) << 7 | u8::from(f.rsv) << 6 | f.op.code());
    let masked = (role == Role::Server) != f.wrong_mask;
    let m = if masked { 0x80 } else { 0 };
    match payload.len() {
        n @ 0..=125 => out.push(m | n as u8),
        n @ 126..=0xFFFF => {
            out.push(m | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(m | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    if masked {
        let key = [0x5A, index as u8, 0xC3, (index >> 8) as u8 | 0x11];
        out.extend_from_slice(&key);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    } else {
        out.extend_from_slice(payload);
    }
}

/// What RFC 6455 says an endpoint reports for these frames, and the data of
/// a message still open at the end.
fn model(config: &Config, frames: &[Frame]) -> (Vec<Ev>, Vec<u8>) {
    let mut events = Vec::new();
    // The open message: its kind and the bytes so far.
    let mut open: Option<(MessageKind, Vec<u8>)> = None;
    for f in frames {
        match check_frame(config, f, &mut open) {
            Ok(Some(ev)) => {
                let end = matches!(ev, Ev::Close(..));
                events.push(ev);
                if end {
                    break;
                }
            }
            Ok(None) => {}
            Err(code) => {
                events.push(Ev::Error(code));
                break;
            }
        }
    }
    (events, open.map(|(_, d)| d).unwrap_or_default())
}

/// One frame through the model: its event, or the close code failing the
/// connection. Header rules come first, in the order the RFC lists them.
fn check_frame(
    config: &Config,
    f: &Frame,
    open: &mut Option<(MessageKind, Vec<u8>)>,
) -> Result<Option<Ev>, u16> {
    let payload = f.payload.as_slice();
    if f.rsv || f.wrong_mask {
        return Err(1002);
    }
    if f.op.is_control() {
        if !f.fin || payload.len() > 125 {
            return Err(1002);
        }
        return match f.op {
            Op::Ping => Ok(Some(Ev::Ping(payload.to_vec()))),
            Op::Pong => Ok(Some(Ev::Pong(payload.to_vec()))),
            _ => close_event(payload).map(Some),
        };
    }
    if payload.len() > config.max_frame_size {
        return Err(1009);
    }
    let kind = match (f.op, open.as_ref()) {
        (Op::Continuation, Some((kind, _))) => *kind,
        (Op::Continuation, None) | (_, Some(_)) => return Err(1002),
        (Op::Text, None) => MessageKind::Text,
        _ => MessageKind::Binary,
    };
    let so_far = open.as_ref().map_or(0, |(_, d)| d.len());
    if so_far + payload.len() > config.max_message_size {
        return Err(1009);
    }
    if f.op != Op::Continuation && kind == MessageKind::Binary && config.reject_binary {
        return Err(1003);
    }
    let (_, data) = open.get_or_insert((kind, Vec::new()));
    data.extend_from_slice(payload);
    // Invalid as soon as the bytes so far cannot start valid text; at the
    // end of the message, incomplete is invalid too.
    if kind == MessageKind::Text
        && let Err(e) = std::str::from_utf8(data)
        && (e.error_len().is_some() || f.fin)
    {
        // What was streamed is only the valid prefix.
        data.truncate(e.valid_up_to());
        return Err(1007);
    }
    if !f.fin {
        return Ok(None);
    }
    let (kind, data) = open.take().expect("open message");
    Ok(Some(Ev::Message(kind, data)))
}

/// The close event for a close payload, or the code of its error.
fn close_event(payload: &[u8]) -> Result<Ev, u16> {
    match payload {
        [] => Ok(Ev::Close(1005, String::new())),
        [_] => Err(1002),
        [hi, lo, reason @ ..] => {
            let code = u16::from_be_bytes([*hi, *lo]);
            if !matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999) {
                return Err(1002);
            }
            let reason = std::str::from_utf8(reason).map_err(|_| 1007u16)?;
            Ok(Ev::Close(code, reason.to_owned()))
        }
    }
}
