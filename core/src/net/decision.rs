//! Decisions taken later, from any thread: a server's accept or refusal of a
//! handshake ([`PendingUpgrade`]) and the headers of a client's attempt
//! ([`PendingAttempt`]). The loop keeps the connection waiting, with its
//! timeout still running, until the decision arrives as a command; a
//! decision that comes after the connection ended is an error.

use std::sync::Arc;

use super::error::{Error, ErrorKind};
use super::shared::{Command, ConnShared, Decision, LoopLink};
use super::state::ConnState;
use crate::proto::handshake::Rejection;

/// A handshake whose decision [`super::Upgrade::defer`] postponed. Accept or
/// refuse it once, from any thread, before the server's handshake timeout
/// passes; dropping it undecided refuses with 500.
pub struct PendingUpgrade {
    later: Later,
}

/// A client attempt whose start [`super::Attempt::defer`] postponed:
/// proceed once, from any thread, before the connect timeout passes;
/// dropping it proceeds with the headers as they are.
pub struct PendingAttempt {
    later: Later,
}

/// The way back to the loop for one decision.
struct Later {
    conn: Arc<ConnShared>,
    lp: Arc<dyn LoopLink>,
    decided: bool,
}

impl Later {
    fn decide(&mut self, decision: Decision) -> Result<(), Error> {
        self.decided = true;
        if self.conn.state() == ConnState::Closed {
            return Err(Error::new(
                ErrorKind::Closed,
                "too late: the connection ended before the decision (its timeout passed, or the peer left)",
            ));
        }
        let conn = self.conn.clone();
        self.lp.push(Command::Decide { conn, decision })
    }
}

impl PendingUpgrade {
    pub(super) fn new(conn: Arc<ConnShared>, lp: Arc<dyn LoopLink>) -> PendingUpgrade {
        PendingUpgrade {
            later: Later {
                conn,
                lp,
                decided: false,
            },
        }
    }

    /// Accepts with the subprotocol and response headers the upgrade event
    /// held when it returned.
    pub fn accept(mut self) -> Result<(), Error> {
        self.later.decide(Decision::Accept {
            subprotocol: None,
            headers: None,
        })
    }

    /// Accepts with this subprotocol and these extra response headers.
    pub fn accept_with(
        mut self,
        subprotocol: Option<String>,
        headers: Vec<(String, String)>,
    ) -> Result<(), Error> {
        self.later.decide(Decision::Accept {
            subprotocol: Some(subprotocol),
            headers: Some(headers),
        })
    }

    /// Refuses with an HTTP status.
    pub fn refuse(mut self, refusal: Rejection) -> Result<(), Error> {
        self.later.decide(Decision::Refuse(refusal))
    }
}

impl Drop for PendingUpgrade {
    fn drop(&mut self) {
        if !self.later.decided {
            let refusal = Rejection::internal_error("the server dropped the handshake undecided");
            let _ = self.later.decide(Decision::Refuse(refusal));
        }
    }
}

impl PendingAttempt {
    pub(super) fn new(conn: Arc<ConnShared>, lp: Arc<dyn LoopLink>) -> PendingAttempt {
        PendingAttempt {
            later: Later {
                conn,
                lp,
                decided: false,
            },
        }
    }

    /// Starts the attempt with these extra request headers (`None`: those
    /// the hook left).
    pub fn proceed(mut self, headers: Option<Vec<(String, String)>>) -> Result<(), Error> {
        self.later.decide(Decision::Proceed(headers))
    }
}

impl Drop for PendingAttempt {
    fn drop(&mut self) {
        if !self.later.decided {
            let _ = self.later.decide(Decision::Proceed(None));
        }
    }
}
