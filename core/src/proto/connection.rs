//! The connection engine after the handshake: frames in, events out; sends in,
//! bytes out; the close handshake.
//!
//! ```
//! use wsx_core::proto::{Config, Connection, Event, Role};
//!
//! let mut client = Connection::new(Role::Client, Config::default());
//! let mut server = Connection::new(Role::Server, Config::default());
//! client.sender().send(wsx_core::proto::MessageKind::Text, b"hi").unwrap();
//!
//! // The transport moves the client's bytes to the server.
//! server.feed(client.pending());
//! let written = client.pending().len();
//! client.consume(written);
//!
//! // Events borrow the input; the sender may reply meanwhile (here: echo).
//! while let Some((event, sender)) = server.next_event() {
//!     if let Event::Message { kind, data } = event {
//!         sender.send(kind, data).unwrap();
//!     }
//! }
//! client.feed(server.pending());
//! let (event, _) = client.next_event().unwrap();
//! assert_eq!(event, Event::Message { kind: wsx_core::proto::MessageKind::Text, data: b"hi" });
//! ```

mod input;
mod output;
mod prepared;
mod sender;
#[cfg(test)]
mod tests;

use std::ops::Range;

use self::input::InputBuffer;
pub use self::prepared::PreparedMessage;
use self::sender::RSV1;
use self::sender::Received;
pub use self::sender::Sender;
use super::close::{CloseCode, MAX_CLOSE_REASON, parse_close_payload};
use super::error::ProtocolError;
use super::extension::deflate::{Agreement, Deflater, InflateError, Inflater};
use super::frame::{FrameHeader, MAX_CONTROL_PAYLOAD, OpCode, apply_mask};
use super::message::{Assembler, MessageKind};

/// Bytes unmasked and validated at a time: half of a typical 32 KiB L1
/// data cache, so validation reads what unmasking just wrote from there.
const CACHE_BLOCK: usize = 16 * 1024;

/// Which end of the connection this engine is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Masks every frame it sends; refuses masked frames.
    Client,
    /// Refuses unmasked frames; never masks.
    Server,
}

/// Limits and behaviour of the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Largest message accepted, assembled (default 16 MiB). Over it: close 1009.
    /// Also applies in streaming mode, counted over all of a message's pieces.
    pub max_message_size: usize,
    /// Largest single frame accepted (default 16 MiB). Over it: close 1009.
    pub max_frame_size: usize,
    /// Answer pings with pongs automatically (default true).
    pub auto_pong: bool,
    /// Deliver data frames as [`Event::Fragment`] as they arrive instead of
    /// assembling whole messages (default false).
    pub streaming: bool,
    /// Refuse binary messages: only text is accepted (default false). A binary
    /// message then fails the connection with close 1003.
    pub reject_binary: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_message_size: crate::defaults::MAX_MESSAGE_SIZE,
            max_frame_size: crate::defaults::MAX_FRAME_SIZE,
            auto_pong: true,
            streaming: false,
            reject_binary: crate::defaults::REJECT_BINARY,
        }
    }
}

/// The state of the close handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Data may flow both ways.
    Open,
    /// We sent a close frame and wait for the peer's.
    CloseSent,
    /// Both close frames have passed (or the connection failed): flush the
    /// output, then close the transport.
    Closed,
}

/// Something the peer sent.
#[derive(Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// A whole message; text is valid UTF-8.
    Message {
        /// Text or binary.
        kind: MessageKind,
        /// The payload, borrowed until the next call on the engine.
        data: &'a [u8],
    },
    /// A piece of a message, in streaming mode only.
    Fragment {
        /// The kind of the message this piece belongs to.
        kind: MessageKind,
        /// The piece (text pieces end on a character boundary).
        data: &'a [u8],
        /// Whether this is the message's last piece.
        fin: bool,
    },
    /// A ping (already answered when `auto_pong` is on).
    Ping(&'a [u8]),
    /// A pong.
    Pong(&'a [u8]),
    /// The peer's close frame: 1005 when it carried no code.
    Close {
        /// The peer's code.
        code: CloseCode,
        /// The peer's reason.
        reason: &'a str,
    },
    /// The peer broke the protocol; a close frame with
    /// [`ProtocolError::close_code`] is queued and no event follows.
    Error(ProtocolError),
}

/// How a frame's payload is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Kept in the input buffer until whole, then delivered from there:
    /// control frames and single-frame messages.
    InPlace,
    /// Moved into the assembly buffer as it arrives: fragmented messages.
    Assemble,
    /// Delivered as [`Event::Fragment`]s as it arrives: streaming mode.
    Stream,
    /// Inflated into the assembly buffer as it arrives: compressed messages
    /// (delivered whole, also in streaming mode).
    Inflate,
}

/// The frame whose payload is being received.
#[derive(Debug, Clone, Copy)]
struct InFrame {
    opcode: OpCode,
    fin: bool,
    mask: Option<[u8; 4]>,
    /// The message kind, for data frames.
    kind: Option<MessageKind>,
    mode: Mode,
    /// Payload bytes not yet consumed from the input.
    remaining: u64,
    /// Payload bytes consumed so far (where the mask cycle stands).
    pos: u64,
    /// Unconsumed payload bytes at the input's front already unmasked and
    /// checked.
    seen: usize,
}

impl InFrame {
    /// Marks `n` more payload bytes consumed.
    fn advance(&mut self, n: usize) {
        self.pos += n as u64;
        self.remaining -= n as u64;
    }
}

/// Where an event's bytes are.
#[derive(Debug)]
enum Src {
    Input(Range<usize>),
    Assembled,
    Stitch,
}

/// An event found by [`Connection::step`], before it borrows its bytes.
#[derive(Debug)]
enum Ready {
    Message(MessageKind, Src),
    Fragment(MessageKind, Src, bool),
    Ping(Range<usize>),
    Pong(Range<usize>),
    Close(CloseCode, Range<usize>),
}

/// What one parsing step achieved.
enum Step {
    Ready(Ready),
    /// Progress without an event (a header parsed, a fragment stored).
    Progress,
    /// Waiting for more input.
    NeedMore,
}

/// In streaming mode, a character split between two frames, delivered as a
/// piece of its own once complete.
#[derive(Debug, Default)]
struct Stitch {
    buf: [u8; 4],
    len: usize,
    /// Whether the validator's carried bytes were consumed with an earlier
    /// frame (so they are no longer in the input buffer).
    detached: bool,
}

/// A WebSocket connection engine for one role.
#[derive(Debug)]
pub struct Connection {
    role: Role,
    config: Config,
    allowed_rsv: u8,
    input: InputBuffer,
    frame: Option<InFrame>,
    assembler: Assembler,
    stitch: Stitch,
    /// The permessage-deflate decompressor, once negotiated.
    inflater: Option<Inflater>,
    /// Whether the open message is compressed.
    inflating: bool,
    /// No further events: the peer's close arrived or the connection failed.
    done: bool,
    /// Whether a protocol error waits for [`Connection::fail_deferred`]
    /// before the failing close frame is queued.
    defer_failure: bool,
    /// The error whose close frame is deferred.
    deferred: Option<ProtocolError>,
    sender: Sender,
}

impl Connection {
    /// A new engine for `role`, in the open state.
    pub fn new(role: Role, config: Config) -> Connection {
        Connection {
            role,
            allowed_rsv: 0,
            input: InputBuffer::default(),
            frame: None,
            assembler: Assembler::new(config.max_message_size),
            stitch: Stitch::default(),
            inflater: None,
            inflating: false,
            done: false,
            defer_failure: false,
            deferred: None,
            sender: Sender::new(role),
            config,
        }
    }

    /// The role this engine plays.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The limits and behaviour it was created with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Lets frames carry the RSV bits in `bits` (0b100 = RSV1, ...), for an
    /// extension negotiated in the handshake. By default any RSV bit fails
    /// the connection with 1002.
    pub fn set_allowed_rsv(&mut self, bits: u8) {
        self.allowed_rsv = bits & 0b111;
    }

    /// Turns permessage-deflate on, as agreed in the handshake: messages with
    /// RSV1 are inflated (bounded by `max_message_size`), and messages sent
    /// are compressed (see [`Sender::send_with`]). Call it before feeding
    /// the first frame.
    pub fn enable_deflate(&mut self, agreement: &Agreement) {
        let p = &agreement.params;
        let (ours, no_takeover, theirs, theirs_no_takeover) = match self.role {
            Role::Client => (
                p.client_max_window_bits,
                p.client_no_context_takeover,
                p.server_max_window_bits,
                p.server_no_context_takeover,
            ),
            Role::Server => (
                p.server_max_window_bits,
                p.server_no_context_takeover,
                p.client_max_window_bits,
                p.client_no_context_takeover,
            ),
        };
        // zlib cannot compress with an 8-bit window: such an end sends every
        // message uncompressed, which RFC 7692 allows.
        let deflater =
            (ours >= 9).then(|| Deflater::new(agreement.config.level, ours, no_takeover));
        self.sender
            .enable_deflate(deflater, agreement.config.threshold);
        self.inflater = Some(Inflater::new(theirs, !theirs_no_takeover));
        self.allowed_rsv |= RSV1;
    }

    /// With `on`, a protocol error ends the events at once but queues its
    /// close frame only at [`Connection::fail_deferred`]: meanwhile the
    /// application may still answer what arrived before the error (an
    /// application that takes messages from a queue answers them after the
    /// engine read further). Off by default.
    pub fn set_defer_failure(&mut self, on: bool) {
        self.defer_failure = on;
    }

    /// Queues the close frame of a deferred protocol error (see
    /// [`Connection::set_defer_failure`]); whether one was waiting.
    pub fn fail_deferred(&mut self) -> bool {
        match self.deferred.take() {
            Some(err) => {
                self.fail(&err);
                true
            }
            None => false,
        }
    }

    /// Whether a protocol error waits for [`Connection::fail_deferred`].
    pub fn failure_deferred(&self) -> bool {
        self.deferred.is_some()
    }

    /// Whether permessage-deflate is on.
    pub fn deflate_enabled(&self) -> bool {
        self.inflater.is_some()
    }

    /// Appends bytes received from the peer. Once the peer's close arrived
    /// or the connection failed, nothing more is read: the bytes are dropped.
    pub fn feed(&mut self, data: &[u8]) {
        self.settle();
        if !self.done {
            self.input.extend(data);
        }
    }

    /// Received bytes not yet parsed into events (a frame still arriving,
    /// or frames after the last event taken).
    pub fn buffered_input(&self) -> usize {
        self.input.data().len()
    }

    /// Bytes queued to send and not yet consumed (see [`Sender::buffered_amount`]).
    pub fn buffered_amount(&self) -> usize {
        self.sender.buffered_amount()
    }

    /// Room for at least `min` (and at least 1) bytes to read from the
    /// transport straight into the input buffer; report how many were read
    /// with [`Connection::commit_read`].
    pub fn read_buf(&mut self, min: usize) -> &mut [u8] {
        self.settle();
        // A frame delivered from the input buffer needs its rest there: the
        // buffer grows for it, not past it, and room for that rest is room
        // enough (asking for more would move or grow a buffer that holds
        // the whole frame already).
        let awaited = match self.frame {
            Some(f) if f.mode == Mode::InPlace => {
                let arrived = self.input.data().len() as u64;
                usize::try_from(f.remaining.saturating_sub(arrived)).unwrap_or(usize::MAX)
            }
            _ => usize::MAX,
        };
        self.input.spare_within(min.min(awaited).max(1), awaited)
    }

    /// Marks `n` bytes of [`Connection::read_buf`] as received (dropped, like
    /// [`Connection::feed`]'s, once no event can follow).
    pub fn commit_read(&mut self, n: usize) {
        self.settle();
        if !self.done {
            self.input.commit(n);
        }
    }

    /// Gives the input buffer's allocation up when every received byte was
    /// consumed, so a connection between messages holds none; an event loop
    /// keeps it for the next connection to read (see
    /// [`Connection::lend_read_buf`]). `None` while bytes wait, or when the
    /// buffer grew for large frames and is kept for the next.
    pub fn release_read_buf(&mut self) -> Option<Vec<u8>> {
        self.settle();
        self.input.release()
    }

    /// Offers an allocation for [`Connection::read_buf`] to use instead of a
    /// fresh one (its length counts as room; its bytes are overwritten).
    /// Handed back when the engine still holds a buffer of its own.
    pub fn lend_read_buf(&mut self, buf: Vec<u8>) -> Option<Vec<u8>> {
        self.settle();
        self.input.lend(buf)
    }

    /// The next event from the bytes fed so far, with the sending half so the
    /// caller can reply while the event's bytes are borrowed.
    pub fn next_event(&mut self) -> Option<(Event<'_>, &mut Sender)> {
        self.settle();
        if self.done {
            return None;
        }
        let ready = loop {
            match self.step() {
                Ok(Step::Ready(ready)) => break ready,
                Ok(Step::Progress) => {}
                Ok(Step::NeedMore) => return None,
                Err(err) => {
                    if self.defer_failure {
                        self.stop();
                        self.deferred = Some(err.clone());
                    } else {
                        self.fail(&err);
                    }
                    return Some((Event::Error(err), &mut self.sender));
                }
            }
        };
        let Connection {
            input,
            assembler,
            stitch,
            sender,
            ..
        } = self;
        let bytes = |src: Src| match src {
            Src::Input(range) => input.get(range),
            Src::Assembled => assembler.assembled(),
            Src::Stitch => &stitch.buf[..stitch.len],
        };
        let event = match ready {
            Ready::Message(kind, src) => {
                let input = match &src {
                    Src::Input(range) => Some(range.clone()),
                    _ => None,
                };
                let data = bytes(src);
                sender.received = Some(Received {
                    addr: data.as_ptr() as usize,
                    len: data.len(),
                    text: kind == MessageKind::Text,
                    input,
                });
                Event::Message { kind, data }
            }
            Ready::Fragment(kind, src, fin) => Event::Fragment {
                kind,
                data: bytes(src),
                fin,
            },
            Ready::Ping(range) => Event::Ping(input.get(range)),
            Ready::Pong(range) => Event::Pong(input.get(range)),
            Ready::Close(code, range) => Event::Close {
                code,
                reason: parse_close_payload(input.get(range)).map_or("", |(_, reason)| reason),
            },
        };
        Some((event, sender))
    }

    /// The sending half.
    pub fn sender(&mut self) -> &mut Sender {
        self.settle();
        &mut self.sender
    }

    /// The close handshake's state.
    pub fn state(&self) -> State {
        self.sender.state()
    }

    /// Whether we sent a close frame (ours, the automatic reply, or the one
    /// failing the connection).
    pub fn close_sent(&self) -> bool {
        self.sender.sent_close.is_some()
    }

    /// Whether the peer's close frame arrived.
    pub fn close_received(&self) -> bool {
        self.sender.received_close.is_some()
    }

    /// The code of the close frame we sent (1005 if it carried none).
    pub fn sent_close_code(&self) -> Option<CloseCode> {
        self.sender.sent_close
    }

    /// The close frame we sent: its code (1005 if it carried none) and reason.
    pub fn sent_close(&self) -> Option<(CloseCode, &str)> {
        let reason = self.sender.sent_reason.as_str();
        self.sender.sent_close.map(|code| (code, reason))
    }

    /// Whether the peer's close frame arrived before we sent ours (the peer
    /// began the close handshake).
    pub fn close_received_first(&self) -> bool {
        self.sender.received_first
    }

    /// The code of the peer's close frame (1005 if it carried none).
    pub fn received_close_code(&self) -> Option<CloseCode> {
        self.sender.received_close
    }

    /// Whether we failed the connection after a protocol error.
    pub fn failed(&self) -> bool {
        self.sender.failed
    }

    /// Bytes queued for the transport (see [`Sender::pending`]).
    pub fn pending(&self) -> &[u8] {
        match self.sender.out.claimed_front() {
            // A received message's rest, still in the input buffer.
            Some(range) => self.input.get(range),
            None => self.sender.pending(),
        }
    }

    /// Marks `n` bytes of [`Connection::pending`] as written.
    pub fn consume(&mut self, n: usize) {
        self.settle();
        self.sender.consume(n);
    }

    /// Ends what the last event lent the sender: its bytes are no longer
    /// known (see [`Received`]).
    /// A received message's rest queued by reference ([`Sender::send_through`])
    /// takes the input buffer along: the unconsumed bytes after it move to
    /// another (the one a written message gave back, if any). A buffer given
    /// back becomes the input buffer again while that holds nothing.
    fn settle(&mut self) {
        self.sender.received = None;
        let out = &mut self.sender.out;
        if out.claimed().is_some() {
            let buf = self.input.hand_over(out.take_returned());
            out.settle(buf);
        }
        if let Some(buf) = out.take_returned() {
            self.input.adopt(buf);
        }
    }

    /// Fails the connection: queues a close with the error's code (unless a
    /// close was sent already) and stops all events.
    fn fail(&mut self, err: &ProtocolError) {
        self.stop();
        if self.sender.state() == State::Open {
            let text = err.to_string();
            let mut cut = text.len().min(MAX_CLOSE_REASON);
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            // Without a masking key no frame can be sent; the transport is
            // dropped either way.
            let _ = self.sender.write_close(err.close_code(), &text[..cut]);
        }
        self.sender.failed = true;
    }

    /// Ends the events: nothing after the peer's close or a failure is read.
    fn stop(&mut self) {
        self.done = true;
        self.frame = None;
        self.input.consume(self.input.data().len());
    }

    fn step(&mut self) -> Result<Step, ProtocolError> {
        let Some(frame) = self.frame else {
            let Some((header, len)) = FrameHeader::decode(self.input.data())? else {
                return Ok(Step::NeedMore);
            };
            self.frame = Some(self.begin_frame(&header)?);
            self.input.consume(len);
            return Ok(Step::Progress);
        };
        match frame.mode {
            Mode::InPlace => self.step_in_place(frame),
            Mode::Assemble => self.step_assemble(frame),
            Mode::Stream => self.step_stream(frame),
            Mode::Inflate => self.step_inflate(frame),
        }
    }

    /// Checks a header against the role, the extensions, the control frame
    /// rules, the continuation rules and the limits, before any payload.
    fn begin_frame(&mut self, h: &FrameHeader) -> Result<InFrame, ProtocolError> {
        if h.rsv & !self.allowed_rsv != 0 {
            return Err(ProtocolError::ReservedBits(h.rsv & !self.allowed_rsv));
        }
        let compressed = self.inflater.is_some() && h.rsv & RSV1 != 0;
        match (self.role, h.mask) {
            (Role::Server, None) => return Err(ProtocolError::UnmaskedFrame),
            (Role::Client, Some(_)) => return Err(ProtocolError::MaskedFrame),
            _ => {}
        }
        let (kind, mode) = if h.opcode.is_control() {
            if compressed {
                return Err(ProtocolError::CompressedControlFrame(h.opcode));
            }
            if !h.fin {
                return Err(ProtocolError::FragmentedControlFrame(h.opcode));
            }
            if h.payload_len > MAX_CONTROL_PAYLOAD as u64 {
                return Err(ProtocolError::ControlFrameTooLong {
                    opcode: h.opcode,
                    len: h.payload_len,
                });
            }
            (None, Mode::InPlace)
        } else {
            if h.payload_len > self.config.max_frame_size as u64 {
                return Err(ProtocolError::FrameTooLarge {
                    len: h.payload_len,
                    max: self.config.max_frame_size,
                });
            }
            let starts = match h.opcode {
                OpCode::Text => Some(MessageKind::Text),
                OpCode::Binary => Some(MessageKind::Binary),
                _ => None,
            };
            let kind = self.assembler.begin_frame(starts, h.payload_len)?;
            if starts == Some(MessageKind::Binary) && self.config.reject_binary {
                return Err(ProtocolError::BinaryNotAccepted);
            }
            match starts {
                Some(_) => self.inflating = compressed,
                None if compressed => return Err(ProtocolError::CompressedContinuation),
                None => {}
            }
            let mode = if self.inflating {
                Mode::Inflate
            } else if self.config.streaming {
                Mode::Stream
            } else if starts.is_some() && h.fin {
                Mode::InPlace
            } else {
                Mode::Assemble
            };
            (Some(kind), mode)
        };
        Ok(InFrame {
            opcode: h.opcode,
            fin: h.fin,
            mask: h.mask,
            kind,
            mode,
            remaining: h.payload_len,
            pos: 0,
            seen: 0,
        })
    }

    /// Unmasks the payload bytes that arrived since the last step and returns
    /// how many unconsumed payload bytes are present in all.
    fn unmask_arrived(&mut self, f: &InFrame) -> usize {
        let avail = (self.input.data().len() as u64).min(f.remaining) as usize;
        if let Some(key) = f.mask {
            let offset = ((f.pos + f.seen as u64) % 4) as usize;
            apply_mask(&mut self.input.data_mut()[f.seen..avail], key, offset);
        }
        avail
    }

    /// Unmasks the payload bytes that arrived since the last step and, for
    /// a data frame, validates them if the message is text (so bad bytes
    /// fail at once): both in one pass over blocks that stay in the L1
    /// cache, not two passes over all that arrived (a read can bring
    /// megabytes). Returns how many unconsumed payload bytes are present.
    fn unmask_and_check(&mut self, f: &InFrame) -> Result<usize, ProtocolError> {
        let avail = (self.input.data().len() as u64).min(f.remaining) as usize;
        let check = f.kind.is_some();
        let mut at = f.seen;
        while at < avail {
            let end = avail.min(at + CACHE_BLOCK);
            if let Some(key) = f.mask {
                let offset = ((f.pos + at as u64) % 4) as usize;
                apply_mask(&mut self.input.data_mut()[at..end], key, offset);
            }
            if check {
                self.assembler.check(&self.input.data()[at..end])?;
            }
            at = end;
        }
        Ok(avail)
    }

    fn step_in_place(&mut self, mut f: InFrame) -> Result<Step, ProtocolError> {
        let avail = self.unmask_and_check(&f)?;
        f.seen = avail;
        if (avail as u64) < f.remaining {
            self.frame = Some(f);
            return Ok(Step::NeedMore);
        }
        self.frame = None;
        let range = self.input.front(avail);
        self.input.consume(avail);
        let ready = match (f.opcode, f.kind) {
            (_, Some(kind)) => {
                self.assembler.end_frame(true)?;
                Ready::Message(kind, Src::Input(range))
            }
            (OpCode::Ping, _) => {
                if self.config.auto_pong && self.sender.state() == State::Open {
                    // Only a failing random number generator stops the pong.
                    let _ = self.sender.pong(self.input.get(range.clone()));
                }
                Ready::Ping(range)
            }
            (OpCode::Pong, _) => Ready::Pong(range),
            _ => {
                let (code, _) = parse_close_payload(self.input.get(range.clone()))?;
                self.sender.received_close = Some(code);
                self.sender.received_first = self.sender.sent_close.is_none();
                self.stop();
                if self.sender.sent_close.is_none() {
                    // Echo the code; 1005 (no code) is echoed as an empty close.
                    let _ = self.sender.write_close(code, "");
                }
                Ready::Close(code, range)
            }
        };
        Ok(Step::Ready(ready))
    }

    fn step_assemble(&mut self, mut f: InFrame) -> Result<Step, ProtocolError> {
        let avail = self.unmask_and_check(&f)?;
        self.assembler.append(&self.input.data()[..avail]);
        self.input.consume(avail);
        f.advance(avail);
        if let Some(step) = self.keep_or_end_frame(f, avail)? {
            return Ok(step);
        }
        Ok(match (f.fin, f.kind) {
            (true, Some(kind)) => Step::Ready(Ready::Message(kind, Src::Assembled)),
            _ => Step::Progress,
        })
    }

    /// After a step over `avail` bytes of an assembled frame's payload: keeps
    /// the frame while payload remains (the step to report), else ends it
    /// (`None`).
    fn keep_or_end_frame(
        &mut self,
        f: InFrame,
        avail: usize,
    ) -> Result<Option<Step>, ProtocolError> {
        if f.remaining > 0 {
            self.frame = Some(f);
            return Ok(Some(if avail == 0 {
                Step::NeedMore
            } else {
                Step::Progress
            }));
        }
        self.frame = None;
        self.assembler.end_frame(f.fin)?;
        Ok(None)
    }

    fn step_inflate(&mut self, mut f: InFrame) -> Result<Step, ProtocolError> {
        let avail = self.unmask_arrived(&f);
        let Connection {
            input,
            assembler,
            inflater,
            ..
        } = self;
        let Some(inflater) = inflater.as_mut() else {
            return Err(ProtocolError::ReservedBits(RSV1));
        };
        let (out, max) = assembler.output();
        let from = out.len();
        let mut inflated = inflater.inflate(&input.data()[..avail], out, max);
        input.consume(avail);
        f.advance(avail);
        if inflated.is_ok() && f.remaining == 0 && f.fin {
            inflated = inflater.finish(out, max);
        }
        inflated.map_err(|e| match e {
            InflateError::TooLarge => ProtocolError::MessageTooLarge {
                len: max as u64 + 1,
                max,
            },
            InflateError::Corrupt(reason) => ProtocolError::InvalidCompressedData(reason),
        })?;
        assembler.check_from(from)?;
        if let Some(step) = self.keep_or_end_frame(f, avail)? {
            return Ok(step);
        }
        let (true, Some(kind)) = (f.fin, f.kind) else {
            return Ok(Step::Progress);
        };
        self.inflating = false;
        Ok(Step::Ready(if self.config.streaming {
            Ready::Fragment(kind, Src::Assembled, true)
        } else {
            Ready::Message(kind, Src::Assembled)
        }))
    }

    fn step_stream(&mut self, mut f: InFrame) -> Result<Step, ProtocolError> {
        let kind = f.kind.unwrap_or(MessageKind::Binary);
        let text = kind == MessageKind::Text;
        let mut avail = self.unmask_arrived(&f);
        let mut stitched = false;
        if text && avail > f.seen {
            if self.stitch.detached {
                // The carried bytes left with an earlier frame: finish the
                // character from this frame's first bytes, consuming them.
                debug_assert_eq!(f.seen, 0);
                let utf8 = self.assembler.utf8();
                let carried = utf8.carried().len();
                self.stitch.buf[..carried].copy_from_slice(utf8.carried());
                let used = utf8
                    .complete_carry(&self.input.data()[..avail])
                    .map_err(|e| ProtocolError::InvalidUtf8 { at: e.at })?;
                self.stitch.buf[carried..carried + used]
                    .copy_from_slice(&self.input.data()[..used]);
                self.stitch.len = carried + used;
                self.input.consume(used);
                f.pos += used as u64;
                f.remaining -= used as u64;
                avail -= used;
                stitched = utf8.carried().is_empty();
                self.stitch.detached = !stitched;
            }
            self.assembler.check(&self.input.data()[f.seen..avail])?;
        }
        f.seen = avail;
        if stitched {
            let fin = f.fin && f.remaining == 0;
            self.end_stream_frame_if_done(f)?;
            return Ok(Step::Ready(Ready::Fragment(kind, Src::Stitch, fin)));
        }
        let carried = if text {
            self.assembler.utf8().carried().len()
        } else {
            0
        };
        let held = if self.stitch.detached { 0 } else { carried };
        let deliver = f.seen - held;
        let range = self.input.front(deliver);
        if f.seen as u64 == f.remaining {
            // The whole rest of the frame is here; a character split with the
            // next frame goes on in the validator only.
            self.input.consume(f.seen);
            self.stitch.detached = carried > 0;
            f.pos += f.seen as u64;
            f.remaining = 0;
            f.seen = 0;
            self.end_stream_frame_if_done(f)?;
            if deliver == 0 && !f.fin {
                return Ok(Step::Progress);
            }
            return Ok(Step::Ready(Ready::Fragment(kind, Src::Input(range), f.fin)));
        }
        if deliver > 0 {
            self.input.consume(deliver);
            f.pos += deliver as u64;
            f.remaining -= deliver as u64;
            f.seen = held;
        }
        self.frame = Some(f);
        Ok(if deliver == 0 {
            Step::NeedMore
        } else {
            Step::Ready(Ready::Fragment(kind, Src::Input(range), false))
        })
    }

    /// Stores `f` back, or ends it when its payload is all consumed.
    fn end_stream_frame_if_done(&mut self, f: InFrame) -> Result<(), ProtocolError> {
        if f.remaining > 0 {
            self.frame = Some(f);
            return Ok(());
        }
        self.frame = None;
        self.assembler.end_frame(f.fin)
    }
}
