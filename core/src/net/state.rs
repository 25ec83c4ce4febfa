//! A connection's public state and how it ended: the close frames each side
//! sent, which came first, and whether the ending counts as normal. The
//! loop derives both from its own phase and the engine's close state; the
//! bindings read them instead of computing their own.

use crate::proto::{CloseCode, Connection};

/// The state of a [`super::Conn`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnState {
    /// Resolving, connecting, or in the TLS or WebSocket handshake (also a
    /// reconnecting client between connections).
    Connecting = 0,
    /// Open for messages.
    Open = 1,
    /// The close handshake is under way.
    Closing = 2,
    /// Closed; the close event has run or is about to.
    Closed = 3,
}

impl ConnState {
    /// The state stored as `n` (see the discriminants).
    pub(super) fn from_u8(n: u8) -> ConnState {
        match n {
            0 => ConnState::Connecting,
            1 => ConnState::Open,
            2 => ConnState::Closing,
            _ => ConnState::Closed,
        }
    }
}

/// Which side began the close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseOrigin {
    /// This side sent the first close frame: the application closed, a
    /// server shut down, or the engine failed the connection.
    Local,
    /// The peer's close frame came first.
    Remote,
    /// No close frame passed: the transport dropped, a timeout passed, or
    /// the connection never opened (code 1006).
    Transport,
}

/// How a connection ended, kept after its close event (see
/// [`super::Conn::close_info`]); the owned form of [`super::Close`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseInfo {
    /// The peer's code, ours if we failed the connection, or 1006.
    pub code: CloseCode,
    /// The reason that went with the code.
    pub reason: String,
    /// Whether both close frames passed before the transport closed.
    pub clean: bool,
    /// Who began the close.
    pub origin: CloseOrigin,
    /// Whether both sides closed with 1000, 1001 or 1005.
    pub normal: bool,
    /// The close frame we sent (code and reason), if any.
    pub sent: Option<(CloseCode, String)>,
    /// The peer's close frame (code and reason), if any.
    pub rcvd: Option<(CloseCode, String)>,
}

/// Close codes that end a connection normally when both sides use one
/// (RFC 6455: 1000 normal, 1001 going away, 1005 no status), as
/// python-websockets' `ConnectionClosedOK` counts them.
const NORMAL_CODES: [CloseCode; 3] = [
    CloseCode::NORMAL,
    CloseCode::GOING_AWAY,
    CloseCode::NO_STATUS,
];

/// The close frames of a connection as they passed.
#[derive(Debug, Default, Clone)]
pub(super) struct Ending {
    /// The close frame we sent: code and reason.
    pub sent: Option<(CloseCode, String)>,
    /// The peer's close frame: code and reason.
    pub rcvd: Option<(CloseCode, String)>,
    /// Whether the peer's frame came before ours.
    pub rcvd_first: bool,
    /// The engine failed the connection (protocol error): never clean.
    pub failed: bool,
}

impl Ending {
    /// Records a protocol error: the engine failed the connection with
    /// `code`; `reason` is the whole message (the frame carries at most 123
    /// bytes of it).
    pub fn failure(&mut self, code: CloseCode, reason: String) {
        self.sent.get_or_insert((code, reason));
        self.failed = true;
    }

    /// Records the peer's close frame (its event carries the reason).
    pub fn rcvd(&mut self, code: CloseCode, reason: &str) {
        self.rcvd = Some((code, reason.to_owned()));
    }

    /// Takes what the engine knows: the close frame we sent, which came
    /// first, and whether it failed the connection.
    pub fn absorb(&mut self, engine: &Connection) {
        if self.sent.is_none()
            && let Some((code, reason)) = engine.sent_close()
        {
            self.sent = Some((code, reason.to_owned()));
        }
        self.rcvd_first = engine.close_received_first();
        self.failed |= engine.failed();
    }

    /// Who began the close.
    pub fn origin(&self) -> CloseOrigin {
        match (&self.sent, &self.rcvd) {
            (_, Some(_)) if self.rcvd_first => CloseOrigin::Remote,
            (Some(_), _) => CloseOrigin::Local,
            (None, Some(_)) => CloseOrigin::Remote,
            (None, None) => CloseOrigin::Transport,
        }
    }

    /// The code and reason the close event reports: the peer's frame, or
    /// ours when we failed the connection; `None` (1006) when no close frame
    /// came from the peer.
    pub fn reported(&self) -> Option<(CloseCode, &str)> {
        let frame = match (&self.rcvd, &self.sent) {
            (_, Some(sent)) if self.failed => sent,
            (Some(rcvd), _) => rcvd,
            (None, _) => return None,
        };
        Some((frame.0, frame.1.as_str()))
    }

    /// Whether both close frames passed with codes that count as normal.
    pub fn normal(&self) -> bool {
        matches!((&self.sent, &self.rcvd), (Some(s), Some(r))
            if !self.failed && NORMAL_CODES.contains(&s.0) && NORMAL_CODES.contains(&r.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ending(sent: Option<u16>, rcvd: Option<u16>, rcvd_first: bool) -> Ending {
        Ending {
            sent: sent.map(|c| (CloseCode(c), "ours".to_owned())),
            rcvd: rcvd.map(|c| (CloseCode(c), "theirs".to_owned())),
            rcvd_first,
            failed: false,
        }
    }

    #[test]
    fn the_classification_of_each_code_in_both_directions() {
        for (code, normal) in [(1000, true), (1001, true), (1011, false), (4000, false)] {
            for peer_first in [true, false] {
                // The other side echoes the code, as RFC 6455 asks.
                let e = ending(Some(code), Some(code), peer_first);
                assert_eq!(e.normal(), normal, "{code} peer_first={peer_first}");
                let origin = if peer_first {
                    CloseOrigin::Remote
                } else {
                    CloseOrigin::Local
                };
                assert_eq!(e.origin(), origin, "{code}");
                assert_eq!(e.reported().map(|r| r.0), Some(CloseCode(code)));
            }
        }
        // 1006: no frame passed either way.
        let dropped = ending(None, None, false);
        assert!(!dropped.normal());
        assert_eq!(dropped.origin(), CloseOrigin::Transport);
        assert_eq!(dropped.reported(), None);
        // Our close sent, the peer vanished before answering.
        let half = ending(Some(1000), None, false);
        assert!(!half.normal());
        assert_eq!(half.origin(), CloseOrigin::Local);
        assert_eq!(half.reported(), None);
    }

    #[test]
    fn a_failed_connection_reports_our_code_and_is_never_normal() {
        let mut e = ending(Some(1002), Some(1000), false);
        e.failed = true;
        assert!(!e.normal());
        assert_eq!(e.reported().map(|r| r.0), Some(CloseCode(1002)));
    }
}
