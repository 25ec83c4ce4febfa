//! A message encoded once for many server connections (publish/subscribe).

use std::sync::Arc;

use super::sender::{RSV1, data_opcode};
use crate::proto::error::SendError;
use crate::proto::extension::deflate::Deflater;
use crate::proto::frame::{FrameHeader, OpCode};
use crate::proto::message::{MessageKind, check_utf8};

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
    compressed: Vec<(Settings, Arc<[u8]>)>,
}

/// A compressor's level and window bits ([`Deflater::shareable_settings`]).
type Settings = (u32, u8);

impl PreparedMessage {
    /// Encodes `data` as one unmasked frame. Text must be valid UTF-8.
    pub fn new(kind: MessageKind, data: &[u8]) -> Result<PreparedMessage, SendError> {
        if kind == MessageKind::Text {
            check_utf8(data).map_err(|e| SendError::InvalidUtf8 { at: e.at })?;
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
        settings: Settings,
        deflater: &mut Deflater,
    ) -> Result<Arc<[u8]>, SendError> {
        if let Some((_, frame)) = self.compressed.iter().find(|(s, _)| *s == settings) {
            return Ok(frame.clone());
        }
        let header_len = self.header_len;
        let opcode = data_opcode(self.kind);
        let (frame, _) = deflater
            .compress(&self.frame[header_len..], true, |payload| {
                encode(opcode, RSV1, payload)
            })
            .map_err(SendError::Compression)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::extension::deflate::{Agreement, DeflateConfig, DeflateParams};
    use crate::proto::{CloseCode, Config, Connection, Event, Role, SendError};

    fn deflate(server_no_context_takeover: bool) -> Agreement {
        Agreement {
            params: DeflateParams {
                server_no_context_takeover,
                client_no_context_takeover: false,
                server_max_window_bits: 15,
                client_max_window_bits: 15,
            },
            config: DeflateConfig {
                threshold: 0,
                ..DeflateConfig::default()
            },
        }
    }

    fn engine(role: Role, agreement: Option<&Agreement>) -> Connection {
        let mut conn = Connection::new(role, Config::default());
        if let Some(agreement) = agreement {
            conn.enable_deflate(agreement);
        }
        conn
    }

    /// Everything queued, consumed.
    fn take(conn: &mut Connection) -> Vec<u8> {
        let mut out = Vec::new();
        while !conn.pending().is_empty() {
            out.extend_from_slice(conn.pending());
            let n = conn.pending().len();
            conn.consume(n);
        }
        out
    }

    /// The messages `bytes` decode to at a peer of the other role.
    fn received(role: Role, agreement: Option<&Agreement>, bytes: &[u8]) -> Vec<Vec<u8>> {
        let mut peer = engine(role, agreement);
        peer.feed(bytes);
        let mut out = Vec::new();
        while let Some((event, _)) = peer.next_event() {
            match event {
                Event::Message { data, .. } => out.push(data.to_vec()),
                other => panic!("unexpected {other:?}"),
            }
        }
        out
    }

    const TEXT: &str = "Hello, Hello, Hello, Hello, Hello, Hello!";

    #[test]
    fn servers_queue_the_same_frame_between_their_own() {
        let mut message = PreparedMessage::new(MessageKind::Text, TEXT.as_bytes()).unwrap();
        let mut a = engine(Role::Server, None);
        let mut b = engine(Role::Server, None);
        a.sender().send(MessageKind::Text, b"before").unwrap();
        a.sender().send_prepared(&mut message).unwrap();
        a.sender().send(MessageKind::Text, b"after").unwrap();
        b.sender().send_prepared(&mut message).unwrap();
        assert_eq!(take(&mut b), &message.frame()[..]);
        let got = received(Role::Client, None, &take(&mut a));
        assert_eq!(got, [&b"before"[..], TEXT.as_bytes(), b"after"]);
    }

    #[test]
    fn servers_reference_a_large_frame_without_copying_it() {
        let data = vec![9u8; 4096];
        let mut message = PreparedMessage::new(MessageKind::Binary, &data).unwrap();
        let mut servers: Vec<Connection> = (0..3).map(|_| engine(Role::Server, None)).collect();
        for server in &mut servers {
            server.sender().send_prepared(&mut message).unwrap();
        }
        assert_eq!(Arc::strong_count(message.frame()), 4);
        for server in &mut servers {
            let got = received(Role::Client, None, &take(server));
            assert_eq!(got, std::slice::from_ref(&data));
        }
        assert_eq!(Arc::strong_count(message.frame()), 1);
    }

    #[test]
    fn a_client_masks_a_prepared_message_with_its_own_key() {
        let mut message = PreparedMessage::new(MessageKind::Binary, &[1, 2, 3]).unwrap();
        let mut client = engine(Role::Client, None);
        client.sender().send_prepared(&mut message).unwrap();
        let bytes = take(&mut client);
        assert_ne!(bytes, &message.frame()[..], "masked");
        assert_eq!(received(Role::Server, None, &bytes), [vec![1, 2, 3]]);
    }

    #[test]
    fn without_context_takeover_one_compressed_frame_serves_all() {
        let agreement = deflate(true);
        let mut message = PreparedMessage::new(MessageKind::Text, TEXT.as_bytes()).unwrap();
        let mut outputs = Vec::new();
        for _ in 0..3 {
            let mut server = engine(Role::Server, Some(&agreement));
            server.sender().send_prepared(&mut message).unwrap();
            server.sender().send_prepared(&mut message).unwrap();
            outputs.push(take(&mut server));
        }
        assert_eq!(message.compressed.len(), 1, "compressed once");
        assert!(outputs.windows(2).all(|w| w[0] == w[1]));
        assert_eq!(outputs[0][0] & 0x40, 0x40, "RSV1: compressed");
        assert!(outputs[0].len() < 2 * message.frame().len());
        let got = received(Role::Client, Some(&agreement), &outputs[0]);
        assert_eq!(got, [TEXT.as_bytes(), TEXT.as_bytes()]);
    }

    #[test]
    fn with_context_takeover_the_uncompressed_frame_is_shared() {
        let agreement = deflate(false);
        let mut message = PreparedMessage::new(MessageKind::Text, TEXT.as_bytes()).unwrap();
        let mut server = engine(Role::Server, Some(&agreement));
        server
            .sender()
            .send(MessageKind::Text, TEXT.as_bytes())
            .unwrap();
        server.sender().send_prepared(&mut message).unwrap();
        server
            .sender()
            .send(MessageKind::Text, TEXT.as_bytes())
            .unwrap();
        assert!(message.compressed.is_empty());
        let bytes = take(&mut server);
        let got = received(Role::Client, Some(&agreement), &bytes);
        assert_eq!(got, [TEXT.as_bytes(); 3]);
    }

    #[test]
    fn refused_in_the_middle_of_a_message_after_close_and_on_bad_text() {
        assert_eq!(
            PreparedMessage::new(MessageKind::Text, &[0xff]).unwrap_err(),
            SendError::InvalidUtf8 { at: 0 }
        );
        let mut message = PreparedMessage::new(MessageKind::Binary, b"x").unwrap();
        let mut server = engine(Role::Server, None);
        server
            .sender()
            .send_fragment(MessageKind::Text, b"a", false)
            .unwrap();
        assert_eq!(
            server.sender().send_prepared(&mut message),
            Err(SendError::MessageInProgress(MessageKind::Text))
        );
        server
            .sender()
            .send_fragment(MessageKind::Text, b"b", true)
            .unwrap();
        server.sender().close(CloseCode::NORMAL, "").unwrap();
        assert_eq!(
            server.sender().send_prepared(&mut message),
            Err(SendError::Closed)
        );
    }
}
