//! A message encoded once for many server connections (publish/subscribe).

use std::sync::Arc;

use super::sender::{RSV1, data_opcode};
use crate::proto::error::SendError;
use crate::proto::extension::deflate::Deflater;
use crate::proto::frame::{FrameHeader, OpCode};
use crate::proto::message::MessageKind;

/// A whole message encoded once and queued on many server connections with
/// [`super::Sender::send_prepared`]: a server's frames are not masked, so
/// every peer gets the same bytes, and each connection's queue holds a
/// reference to them instead of a copy.
///
/// With permessage-deflate a compressed payload depends on the compressor's
/// history, so it is shared only among connections whose compressor starts
/// afresh for every message (`server_no_context_takeover` agreed) with the
/// same level and window: each such variant is compressed once, by the first
/// connection that needs it. A connection that keeps its compression context
/// gets the uncompressed frame (RFC 7692 lets any message go uncompressed),
/// so that publishing never compresses once per subscriber.
#[derive(Debug, Clone)]
pub struct PreparedMessage {
    kind: MessageKind,
    /// The uncompressed frame: header, then the payload.
    frame: Arc<[u8]>,
    header_len: usize,
    /// Compressed frames, by the compressor settings that made them.
    compressed: Vec<((u32, u8), Arc<[u8]>)>,
}

impl PreparedMessage {
    /// Encodes `data` as one unmasked frame. Text must be valid UTF-8.
    pub fn new(kind: MessageKind, data: &[u8]) -> Result<PreparedMessage, SendError> {
        if kind == MessageKind::Text {
            simdutf8::compat::from_utf8(data).map_err(|e| SendError::InvalidUtf8 {
                at: e.valid_up_to() as u64,
            })?;
        }
        let (frame, header_len) = encode(data_opcode(kind), 0, data);
        Ok(PreparedMessage {
            kind,
            frame,
            header_len,
            compressed: Vec::new(),
        })
    }

    /// The message's kind.
    pub fn kind(&self) -> MessageKind {
        self.kind
    }

    /// The message's (uncompressed) payload.
    pub fn payload(&self) -> &[u8] {
        &self.frame[self.header_len..]
    }

    /// The uncompressed frame, header included.
    pub fn frame(&self) -> &Arc<[u8]> {
        &self.frame
    }

    /// The frame compressed by `deflater`, whose output must depend on its
    /// settings alone ([`Deflater::shareable_settings`]); made on first use.
    pub(super) fn compressed_frame(
        &mut self,
        settings: (u32, u8),
        deflater: &mut Deflater,
    ) -> Result<Arc<[u8]>, SendError> {
        if let Some((_, frame)) = self.compressed.iter().find(|(s, _)| *s == settings) {
            return Ok(frame.clone());
        }
        let header_len = self.header_len;
        let payload = deflater
            .compress(&self.frame[header_len..], true)
            .map_err(SendError::Compression)?;
        let (frame, _) = encode(data_opcode(self.kind), RSV1, payload);
        self.compressed.push((settings, frame.clone()));
        Ok(frame)
    }
}

/// One final unmasked frame: its bytes and the length of its header.
fn encode(opcode: OpCode, rsv: u8, payload: &[u8]) -> (Arc<[u8]>, usize) {
    let header = FrameHeader {
        fin: true,
        rsv,
        opcode,
        mask: None,
        payload_len: payload.len() as u64,
    };
    let mut frame = Vec::with_capacity(header.encoded_len() + payload.len());
    header.encode(&mut frame);
    let header_len = frame.len();
    frame.extend_from_slice(payload);
    (Arc::from(frame), header_len)
}
