//! The sending half: frames encoded (and masked, for clients) straight into
//! one output buffer, and the local side of the close handshake.

use std::io::{self, IoSlice};
use std::ops::Range;

#[cfg(doc)]
use super::Connection;
use super::output::Output;
use super::prepared::PreparedMessage;
use super::{Role, State};
use crate::proto::close::{CloseCode, check_close, encode_close_payload};
use crate::proto::error::SendError;
use crate::proto::extension::deflate::Deflater;
use crate::proto::frame::{FrameHeader, MAX_CONTROL_PAYLOAD, MaskKeys, OpCode, apply_mask};
use crate::proto::message::{MessageKind, Utf8Validator, check_utf8};

/// RSV1: the message is compressed (permessage-deflate).
pub(super) const RSV1: u8 = 0b100;

/// The sending half of an engine: frames queued here become bytes in
/// [`Sender::pending`].
#[derive(Debug)]
pub struct Sender {
    role: Role,
    /// Encoded frames not yet written.
    pub(super) out: Output,
    keys: MaskKeys,
    /// The kind of the message opened by `send_fragment`, until its last piece.
    outgoing: Option<MessageKind>,
    outgoing_utf8: Utf8Validator,
    /// Whether the message opened by `send_fragment` is compressed.
    outgoing_compressed: bool,
    /// The permessage-deflate compressor, once negotiated (`None` also when
    /// the agreed window is too small for zlib: then nothing is compressed).
    deflater: Option<Deflater>,
    /// Whole messages shorter than this are sent uncompressed.
    threshold: usize,
    /// The code of the close frame we sent (1005 for one without a code).
    pub(super) sent_close: Option<CloseCode>,
    /// The reason of the close frame we sent.
    pub(super) sent_reason: String,
    /// Whether the peer's close frame came before ours.
    pub(super) received_first: bool,
    /// The code of the close frame the peer sent (1005 for one without a code).
    pub(super) received_close: Option<CloseCode>,
    /// Whether we failed the connection after a protocol error.
    pub(super) failed: bool,
    /// The message of the event being handled (see [`Received`]); cleared
    /// by the engine's next call.
    pub(super) received: Option<Received>,
}

/// The whole message of the event being handled, as the engine delivered
/// it. A send of exactly these bytes (an echo) needs no second UTF-8 check
/// when they were checked as text, and, when they lie in the input buffer,
/// their unwritten rest is queued by reference to that buffer instead of
/// copied (see [`Sender::send_through`]). The event borrows the bytes for
/// as long as the sender is lent with it, so the same address and length
/// are the same bytes; the engine forgets them at its next call.
#[derive(Debug, Clone)]
pub(super) struct Received {
    /// Address of the first byte: compared, never dereferenced.
    pub(super) addr: usize,
    pub(super) len: usize,
    /// Whether the bytes were checked as UTF-8 (a text message).
    pub(super) text: bool,
    /// Where the bytes are in the input buffer, if there.
    pub(super) input: Option<Range<usize>>,
}

impl Received {
    fn is(&self, data: &[u8]) -> bool {
        self.addr == data.as_ptr() as usize && self.len == data.len()
    }
}

impl Sender {
    pub(super) fn new(role: Role) -> Sender {
        Sender {
            role,
            out: Output::default(),
            keys: MaskKeys::default(),
            outgoing: None,
            outgoing_utf8: Utf8Validator::new(),
            outgoing_compressed: false,
            deflater: None,
            threshold: 0,
            sent_close: None,
            sent_reason: String::new(),
            received_first: false,
            received_close: None,
            failed: false,
            received: None,
        }
    }

    /// The close handshake's state.
    pub fn state(&self) -> State {
        match (self.sent_close, self.received_close) {
            _ if self.failed => State::Closed,
            (Some(_), Some(_)) => State::Closed,
            (Some(_), None) => State::CloseSent,
            (None, _) => State::Open,
        }
    }

    /// The code of the close frame we sent (1005 if it carried none), if any.
    pub fn sent_close_code(&self) -> Option<CloseCode> {
        self.sent_close
    }

    /// Compresses messages from now on (permessage-deflate negotiated):
    /// whole messages of at least `threshold` bytes, and fragmented ones.
    pub(super) fn enable_deflate(&mut self, deflater: Option<Deflater>, threshold: usize) {
        self.deflater = deflater;
        self.threshold = threshold;
    }

    /// Whether a compressor is active (see [`Sender::send_with`]).
    pub fn compresses(&self) -> bool {
        self.deflater.is_some()
    }

    /// Whether the compressor holds its zlib state now (a shared one is
    /// lent for one message at a time).
    #[cfg(test)]
    pub(crate) fn deflater_allocated(&self) -> bool {
        self.deflater.as_ref().is_some_and(Deflater::is_allocated)
    }

    /// Queues a whole message as one frame. Text must be valid UTF-8. With
    /// permessage-deflate, it is compressed when at least the threshold long.
    pub fn send(&mut self, kind: MessageKind, data: &[u8]) -> Result<(), SendError> {
        self.send_with(kind, data, true)
    }

    /// Like [`Sender::send`], with `compress = false` sending this message
    /// uncompressed even when permessage-deflate is on (for data already
    /// compressed, or too small to gain). `true` compresses when deflate was
    /// negotiated and the message is at least the configured threshold.
    pub fn send_with(
        &mut self,
        kind: MessageKind,
        data: &[u8],
        compress: bool,
    ) -> Result<(), SendError> {
        self.check_whole(kind, data)?;
        let compress = compress && data.len() >= self.threshold;
        self.write_data_frame(data_opcode(kind), data, true, compress)
    }

    /// Like [`Sender::send_with`], without copying the payload when it can
    /// go out as it is (a server's frame, not compressed) and nothing is
    /// queued before it: `write` gets the header and the payload as two
    /// slices and returns how many bytes it took (as a vectored socket
    /// write does), and only the rest is queued. When `data` is the message
    /// of the event being handled, lying in the engine's input buffer, the
    /// rest is not copied either: the engine hands that buffer over to the
    /// queue at its next call ([`Connection::next_event`], `sender`,
    /// `consume`, a read), and [`Sender::pending`] shows those bytes only
    /// from then on (the engine's own [`Connection::pending`] at once). An error from `write`
    /// counts as nothing taken: the queue's next write meets it again.
    pub fn send_through(
        &mut self,
        kind: MessageKind,
        data: &[u8],
        compress: bool,
        write: impl FnOnce(&[IoSlice<'_>]) -> io::Result<usize>,
    ) -> Result<(), SendError> {
        let compressed = compress && self.deflater.is_some() && data.len() >= self.threshold;
        if self.role == Role::Client || compressed || self.out.len() > 0 {
            return self.send_with(kind, data, compress);
        }
        self.check_whole(kind, data)?;
        let header = FrameHeader {
            fin: true,
            rsv: 0,
            opcode: data_opcode(kind),
            mask: None,
            payload_len: data.len() as u64,
        };
        let (header, header_len) = header.to_bytes();
        let header = &header[..header_len];
        let parts = [IoSlice::new(header), IoSlice::new(data)];
        let written = write(&parts).unwrap_or(0);
        if written < header_len + data.len() {
            let of_header = written.min(header_len);
            let of_data = written - of_header;
            let out = self.out.buffer();
            out.extend_from_slice(&header[of_header..]);
            // The received message itself (an echo): its rest stays where
            // it is, and the engine hands its input buffer over to this
            // queue at its next call instead of a copy being made here.
            let received = self.received.as_mut().filter(|r| r.is(data));
            match received.and_then(|r| r.input.take()) {
                Some(range) => self.out.push_claimed(range.start + of_data..range.end),
                None => self.out.buffer().extend_from_slice(&data[of_data..]),
            }
        }
        Ok(())
    }

    /// Whether a whole message may be queued now: the connection is open,
    /// no fragmented message is under way, and text is valid UTF-8.
    fn check_whole(&self, kind: MessageKind, data: &[u8]) -> Result<(), SendError> {
        self.check_open()?;
        if let Some(open) = self.outgoing {
            return Err(SendError::MessageInProgress(open));
        }
        if kind == MessageKind::Text
            && !self.received.as_ref().is_some_and(|r| r.text && r.is(data))
        {
            check_utf8(data).map_err(|e| SendError::InvalidUtf8 { at: e.at })?;
        }
        Ok(())
    }

    /// Queues one piece of a fragmented message: the first call opens a
    /// message of `kind`, later calls continue it (with the same `kind`) and
    /// the call with `fin` ends it. Control frames may be sent in between.
    /// Text may split a character between pieces but must be valid UTF-8 as a
    /// whole. With permessage-deflate, the message is compressed (whatever
    /// its size: the total is unknown when it starts).
    pub fn send_fragment(
        &mut self,
        kind: MessageKind,
        data: &[u8],
        fin: bool,
    ) -> Result<(), SendError> {
        self.send_fragment_with(kind, data, fin, true)
    }

    /// Like [`Sender::send_fragment`]; the first piece's `compress = false`
    /// sends the whole message uncompressed (later pieces' flag is ignored).
    pub fn send_fragment_with(
        &mut self,
        kind: MessageKind,
        data: &[u8],
        fin: bool,
        compress: bool,
    ) -> Result<(), SendError> {
        self.check_open()?;
        let opcode = match self.outgoing {
            None => data_opcode(kind),
            Some(open) if open == kind => OpCode::Continuation,
            Some(open) => return Err(SendError::FragmentKindMismatch { open, given: kind }),
        };
        let mut utf8 = match self.outgoing {
            None => Utf8Validator::new(),
            Some(_) => self.outgoing_utf8.clone(),
        };
        if kind == MessageKind::Text {
            utf8.feed(data)
                .and_then(|()| if fin { utf8.finish() } else { Ok(()) })
                .map_err(|e| SendError::InvalidUtf8 { at: e.at })?;
        }
        let compress = match self.outgoing {
            None => compress,
            Some(_) => self.outgoing_compressed,
        };
        self.write_data_frame(opcode, data, fin, compress)?;
        self.outgoing_compressed = compress;
        self.outgoing = if fin { None } else { Some(kind) };
        self.outgoing_utf8 = utf8;
        Ok(())
    }

    /// Queues a message encoded once for many connections. A server queues
    /// a reference to the shared frame (or, with permessage-deflate, to the
    /// shared compressed frame when its compressor starts afresh for every
    /// message; see [`PreparedMessage`]); a client, whose frames are masked
    /// with keys of its own, encodes it like [`Sender::send`].
    pub fn send_prepared(&mut self, message: &mut PreparedMessage) -> Result<(), SendError> {
        self.check_open()?;
        if let Some(open) = self.outgoing {
            return Err(SendError::MessageInProgress(open));
        }
        let opcode = data_opcode(message.kind());
        let compress = message.payload().len() >= self.threshold;
        if self.role == Role::Client {
            return self.write_data_frame(opcode, message.payload(), true, compress);
        }
        let compressed = self
            .deflater
            .as_mut()
            .filter(|_| compress)
            .and_then(|deflater| {
                let settings = deflater.shareable_settings()?;
                Some(message.compressed_frame(settings, deflater))
            });
        match compressed {
            Some(frame) => self.out.push_shared(&frame?),
            None => self.out.push_shared(message.frame()),
        }
        Ok(())
    }

    /// Queues a ping (at most 125 bytes).
    pub fn ping(&mut self, data: &[u8]) -> Result<(), SendError> {
        self.control(OpCode::Ping, data)
    }

    /// Queues a pong (at most 125 bytes); an unsolicited pong is a heartbeat.
    pub fn pong(&mut self, data: &[u8]) -> Result<(), SendError> {
        self.control(OpCode::Pong, data)
    }

    fn control(&mut self, opcode: OpCode, data: &[u8]) -> Result<(), SendError> {
        self.check_open()?;
        if data.len() > MAX_CONTROL_PAYLOAD {
            return Err(SendError::ControlFrameTooLong(data.len()));
        }
        self.write_frame(opcode, true, 0, &[data])
    }

    /// Queues a close frame. The code must be valid on the wire, with a
    /// reason of at most 123 bytes, or 1005 without a reason for a frame
    /// without a code (see [`check_close`]). The state becomes
    /// [`State::CloseSent`], or [`State::Closed`] when the peer's close
    /// already arrived. Nothing may be sent after it.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), SendError> {
        self.check_open()?;
        check_close(code, reason)?;
        self.write_close(code, reason)
    }

    /// Queues a close frame without the caller-facing checks: `code` 1005
    /// sends an empty payload. Used for the automatic reply and for failing.
    pub(super) fn write_close(&mut self, code: CloseCode, reason: &str) -> Result<(), SendError> {
        let mut payload = Vec::with_capacity(2 + reason.len());
        encode_close_payload(code, reason, &mut payload);
        self.write_frame(OpCode::Close, true, 0, &[&payload])?;
        self.sent_close = Some(code);
        reason.clone_into(&mut self.sent_reason);
        Ok(())
    }

    fn check_open(&self) -> Result<(), SendError> {
        if self.sent_close.is_some() || self.failed {
            Err(SendError::Closed)
        } else {
            Ok(())
        }
    }

    /// Encodes a data frame, compressed (RSV1 on a message's first frame)
    /// when `compress` and a compressor is active.
    fn write_data_frame(
        &mut self,
        opcode: OpCode,
        data: &[u8],
        fin: bool,
        compress: bool,
    ) -> Result<(), SendError> {
        let deflater = if compress { self.deflater.take() } else { None };
        let Some(mut deflater) = deflater else {
            return self.write_frame(opcode, fin, 0, &[data]);
        };
        let rsv = if opcode == OpCode::Continuation {
            0
        } else {
            RSV1
        };
        let result = deflater
            .compress(data, fin, |compressed| {
                self.write_frame(opcode, fin, rsv, &[compressed])
            })
            .unwrap_or_else(|e| Err(SendError::Compression(e)));
        self.deflater = Some(deflater);
        result
    }

    /// Encodes one frame into the output buffer: header, then the payload
    /// masked in place with a fresh key for a client (one copy).
    fn write_frame(
        &mut self,
        opcode: OpCode,
        fin: bool,
        rsv: u8,
        payload: &[&[u8]],
    ) -> Result<(), SendError> {
        let mask = match self.role {
            Role::Client => Some(self.keys.next_key().map_err(SendError::Random)?),
            Role::Server => None,
        };
        let len: usize = payload.iter().map(|p| p.len()).sum();
        let header = FrameHeader {
            fin,
            rsv,
            opcode,
            mask,
            payload_len: len as u64,
        };
        let out = self.out.buffer();
        out.reserve(header.encoded_len() + len);
        header.encode(out);
        match mask {
            Some(key) => extend_masked(out, payload, len, key),
            None => payload.iter().for_each(|part| out.extend_from_slice(part)),
        }
        Ok(())
    }

    /// The next bytes to write: everything queued, unless a frame shared
    /// with other connections ([`Sender::send_prepared`]) waits: then the
    /// queue comes one piece at a time (or all at once through
    /// [`Sender::pending_slices`]). Empty when nothing waits.
    pub fn pending(&self) -> &[u8] {
        self.out.pending()
    }

    /// Fills `slices` with the queued bytes in order, for a vectored write;
    /// returns how many it filled.
    pub fn pending_slices<'a>(&'a self, slices: &mut [IoSlice<'a>]) -> usize {
        self.out.slices(slices)
    }

    /// Marks `n` queued bytes as written.
    pub fn consume(&mut self, n: usize) {
        self.out.consume(n);
    }

    /// How many bytes are queued and not yet written.
    pub fn buffered_amount(&self) -> usize {
        self.out.len()
    }
}

/// Payloads up to this size are copied, then masked: the source and the
/// copy fit in the L1 cache together.
const MASK_WHOLE_MAX: usize = 16 * 1024;

/// Larger payloads are copied and masked this many bytes at a time, each
/// block masked while its copy is still in the L1 cache: one pass over
/// memory, not two. Measured side by side (copy and mask, 2-core machine):
/// 1 KiB blocks give 27 GB/s at 64 KiB against 19 GB/s for the whole, and
/// 2 or 4 KiB blocks 22 GB/s; at 16 KiB and below the whole is faster
/// (42 GB/s against 30).
const MASK_BLOCK: usize = 1024;

/// Appends `payload` (`len` bytes in all) to `out`, masked with `key`.
fn extend_masked(out: &mut Vec<u8>, payload: &[&[u8]], len: usize, key: [u8; 4]) {
    let size = match len <= MASK_WHOLE_MAX {
        true => MASK_WHOLE_MAX,
        false => MASK_BLOCK,
    };
    let mut offset = 0;
    for block in payload.iter().flat_map(|part| part.chunks(size)) {
        let start = out.len();
        out.extend_from_slice(block);
        apply_mask(&mut out[start..], key, offset);
        offset += block.len();
    }
}

pub(super) fn data_opcode(kind: MessageKind) -> OpCode {
    match kind {
        MessageKind::Text => OpCode::Text,
        MessageKind::Binary => OpCode::Binary,
    }
}
