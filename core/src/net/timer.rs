//! Deadlines of connections and servers in one heap, cancelled lazily: an
//! entry fires only if its owner still holds the same deadline for its kind.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

/// What a deadline is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum TimerKind {
    /// Name resolution and TCP connect.
    Connect = 0,
    /// TLS and WebSocket handshakes.
    Handshake,
    /// Time to send the next keepalive ping.
    Ping,
    /// The keepalive ping's answer is due.
    Pong,
    /// Nothing received for too long.
    Idle,
    /// The peer's close frame or TCP close is due.
    Close,
    /// A server's graceful shutdown is over.
    Shutdown,
    /// A reconnecting client's wait is over.
    Reconnect,
}

/// How many kinds there are.
pub(super) const KINDS: usize = 8;

/// One pending deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Timer {
    pub at: Instant,
    pub slot: usize,
    pub owner: u64,
    pub kind: TimerKind,
}

/// The deadlines an owner currently holds, one per kind.
#[derive(Debug, Default)]
pub(super) struct Deadlines([Option<Instant>; KINDS]);

impl Deadlines {
    pub fn get(&self, kind: TimerKind) -> Option<Instant> {
        self.0[kind as usize]
    }

    pub fn cancel(&mut self, kind: TimerKind) {
        self.0[kind as usize] = None;
    }

    fn set(&mut self, kind: TimerKind, at: Instant) {
        self.0[kind as usize] = Some(at);
    }

    /// Whether `timer` is still wanted; if so it is consumed.
    pub fn take_due(&mut self, timer: &Timer) -> bool {
        if self.get(timer.kind) == Some(timer.at) {
            self.cancel(timer.kind);
            true
        } else {
            false
        }
    }
}

/// All deadlines of a loop.
#[derive(Debug, Default)]
pub(super) struct Timers {
    heap: BinaryHeap<Reverse<Timer>>,
}

impl Timers {
    /// Sets `owner`'s deadline of `kind` to `after` from now, replacing any
    /// earlier one (a deadline too far to represent never comes).
    pub fn schedule(
        &mut self,
        deadlines: &mut Deadlines,
        slot: usize,
        owner: u64,
        kind: TimerKind,
        after: Duration,
    ) {
        deadlines.cancel(kind);
        let Some(at) = Instant::now().checked_add(after) else {
            return;
        };
        deadlines.set(kind, at);
        self.heap.push(Reverse(Timer {
            at,
            slot,
            owner,
            kind,
        }));
    }

    /// The earliest deadline, if any.
    pub fn next(&self) -> Option<Instant> {
        self.heap.peek().map(|t| t.0.at)
    }

    /// Removes and returns one deadline at or before `now`.
    pub fn pop_due(&mut self, now: Instant) -> Option<Timer> {
        if self.heap.peek()?.0.at <= now {
            self.heap.pop().map(|t| t.0)
        } else {
            None
        }
    }
}
