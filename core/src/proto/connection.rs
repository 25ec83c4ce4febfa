//! The connection engine after the handshake: frames in, events out; sends in,
//! bytes out; the close handshake.

use super::close::CloseCode;
use super::error::{ProtocolError, SendError};
use super::message::MessageKind;

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
    pub max_message_size: usize,
    /// Largest single frame accepted (default 16 MiB). Over it: close 1009.
    pub max_frame_size: usize,
    /// Answer pings with pongs automatically (default true).
    pub auto_pong: bool,
    /// Deliver data frames as [`Event::Fragment`] as they arrive instead of
    /// assembling whole messages (default false).
    pub streaming: bool,
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

/// The sending half of an engine: frames queued here become bytes in
/// [`Sender::pending`].
#[derive(Debug)]
pub struct Sender {}

/// A WebSocket connection engine for one role.
#[derive(Debug)]
pub struct Connection {}

impl Connection {
    /// A new engine for `role`, in the open state.
    pub fn new(role: Role, config: Config) -> Connection {
        let _ = (role, config);
        todo!()
    }

    /// Appends bytes received from the peer.
    pub fn feed(&mut self, data: &[u8]) {
        let _ = data;
        todo!()
    }

    /// The next event from the bytes fed so far, with the sending half so the
    /// caller can reply while the event's bytes are borrowed.
    pub fn next_event(&mut self) -> Option<(Event<'_>, &mut Sender)> {
        todo!()
    }

    /// The sending half.
    pub fn sender(&mut self) -> &mut Sender {
        todo!()
    }

    /// The close handshake's state.
    pub fn state(&self) -> State {
        todo!()
    }
}

impl Sender {
    /// Queues a whole message as one frame.
    pub fn send(&mut self, kind: MessageKind, data: &[u8]) -> Result<(), SendError> {
        let _ = (kind, data);
        todo!()
    }

    /// Queues a close frame.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), SendError> {
        let _ = (code, reason);
        todo!()
    }

    /// Bytes queued for the transport.
    pub fn pending(&self) -> &[u8] {
        todo!()
    }

    /// Marks `n` bytes of [`Sender::pending`] as written.
    pub fn consume(&mut self, n: usize) {
        let _ = n;
        todo!()
    }
}
