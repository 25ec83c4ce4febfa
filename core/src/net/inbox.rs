//! Pull-mode delivery: a connection's bounded queue of received messages.
//!
//! The loop puts each message in; any thread takes them out (waiting, or
//! not). Past the high marks (a count of messages or of bytes) the loop stops
//! reading the connection, so a peer sending faster than the application
//! reads is held back by TCP instead of growing memory; once the queue drains
//! to the low marks, reading resumes. After the connection ends, the
//! messages that arrived before the end are still taken, in order, and only
//! then does the queue report the end.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use super::config::InboxLimits;
use crate::proto::MessageKind;

/// A received message, owned (pull mode copies it out of the read buffer
/// once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Text (valid UTF-8) or binary.
    pub kind: MessageKind,
    /// The payload.
    pub data: Vec<u8>,
}

/// What a take from the queue found.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Take {
    /// The oldest message; `resume` tells that reading should resume now.
    Message { message: Message, resume: bool },
    /// Nothing yet; `fail_now` tells that a deferred protocol error's close
    /// frame may go out now (the receiver answered what came before it).
    Empty { fail_now: bool },
    /// The connection ended and every message was taken.
    Ended,
}

/// What a put found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Put {
    /// The queue was empty: the readable event is owed.
    pub first: bool,
}

/// The queue of one connection.
pub(super) struct Inbox {
    limits: InboxLimits,
    state: Mutex<State>,
    changed: Condvar,
}

struct State {
    messages: VecDeque<Message>,
    bytes: usize,
    /// Past a high mark: the loop holds input back.
    full: bool,
    /// The connection ended: nothing more comes.
    ended: bool,
    /// The receiver's last take found nothing (or it never took): it is
    /// not busy answering a message.
    receiver_idle: bool,
    /// A protocol error waits for the receiver to become idle.
    failure_pending: bool,
    /// Threads waiting in `take_until`: only then does a change notify
    /// (a notification costs a system call even with nobody waiting, one per
    /// message for a receiver that never blocks).
    waiters: usize,
}

impl Default for State {
    fn default() -> Self {
        State {
            messages: VecDeque::new(),
            bytes: 0,
            full: false,
            ended: false,
            receiver_idle: true,
            failure_pending: false,
            waiters: 0,
        }
    }
}

impl Inbox {
    /// An empty queue bounded by `limits`.
    pub fn new(limits: InboxLimits) -> Inbox {
        Inbox {
            limits,
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update leaves the state consistent before it could panic.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues a message (the loop, on its thread).
    pub fn put(&self, message: Message) -> Put {
        let mut s = self.lock();
        let first = s.messages.is_empty();
        s.bytes += message.data.len();
        s.messages.push_back(message);
        if s.messages.len() >= self.limits.high_messages || s.bytes >= self.limits.high_bytes {
            s.full = true;
        }
        self.notify(s);
        Put { first }
    }

    /// Whether the loop must hold input back (a high mark was reached and
    /// the queue has not drained to the low marks since).
    pub fn is_full(&self) -> bool {
        self.lock().full
    }

    /// A protocol error arrived: whether its close frame may go out at once
    /// (the queue is empty and the receiver is not answering a message);
    /// otherwise the take that next finds the queue empty says so.
    pub fn fail_when_idle(&self) -> bool {
        let mut s = self.lock();
        let idle = s.messages.is_empty() && s.receiver_idle;
        s.failure_pending = !idle;
        idle
    }

    /// Marks the end: takes report it once the queue is empty.
    pub fn end(&self) {
        let mut s = self.lock();
        s.ended = true;
        self.notify(s);
    }

    /// Wakes the threads waiting in `take_until`, if any (`s` is the held lock).
    fn notify(&self, s: MutexGuard<'_, State>) {
        let waiting = s.waiters > 0;
        drop(s);
        if waiting {
            self.changed.notify_all();
        }
    }

    /// How many messages and bytes wait.
    pub fn len(&self) -> (usize, usize) {
        let s = self.lock();
        (s.messages.len(), s.bytes)
    }

    /// Takes the oldest message without waiting.
    pub fn take(&self) -> Take {
        self.take_from(&mut self.lock())
    }

    /// Takes the oldest message, waiting for one until `deadline` (`None`:
    /// as long as it takes); `Take::Empty` when the deadline passed.
    pub fn take_until(&self, deadline: Option<Instant>) -> Take {
        let mut s = self.lock();
        loop {
            match self.take_from(&mut s) {
                Take::Empty { fail_now: false } => {}
                done => return done,
            }
            let timeout = match deadline {
                None => None,
                Some(at) => {
                    let now = Instant::now();
                    if now >= at {
                        return Take::Empty { fail_now: false };
                    }
                    Some(at - now)
                }
            };
            s.waiters += 1;
            s = match timeout {
                None => self.changed.wait(s).unwrap_or_else(PoisonError::into_inner),
                Some(left) => {
                    self.changed
                        .wait_timeout(s, left)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
            };
            s.waiters -= 1;
        }
    }

    fn take_from(&self, s: &mut State) -> Take {
        let Some(message) = s.messages.pop_front() else {
            s.receiver_idle = true;
            let fail_now = std::mem::take(&mut s.failure_pending);
            return if s.ended {
                Take::Ended
            } else {
                Take::Empty { fail_now }
            };
        };
        s.receiver_idle = false;
        s.bytes -= message.data.len();
        let drained =
            s.messages.len() <= self.limits.low_messages && s.bytes <= self.limits.low_bytes;
        let resume = s.full && drained;
        if resume {
            s.full = false;
        }
        Take::Message { message, resume }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    fn limits() -> InboxLimits {
        InboxLimits {
            high_messages: 4,
            low_messages: 1,
            high_bytes: 1000,
            low_bytes: 100,
        }
    }

    fn msg(n: usize) -> Message {
        Message {
            kind: MessageKind::Binary,
            data: vec![7; n],
        }
    }

    fn taken(t: Take) -> (usize, bool) {
        match t {
            Take::Message { message, resume } => (message.data.len(), resume),
            other => panic!("expected a message, found {other:?}"),
        }
    }

    #[test]
    fn full_at_the_high_count_and_resumes_at_the_low_one() {
        let inbox = Inbox::new(limits());
        assert!(inbox.put(msg(1)).first);
        for _ in 0..2 {
            assert!(!inbox.put(msg(1)).first);
            assert!(!inbox.is_full());
        }
        inbox.put(msg(1));
        assert!(inbox.is_full(), "4 messages reach the high mark");
        assert_eq!(taken(inbox.take()), (1, false));
        assert_eq!(taken(inbox.take()), (1, false));
        assert!(inbox.is_full(), "still above the low mark");
        assert_eq!(taken(inbox.take()), (1, true), "down to 1: resume");
        assert!(!inbox.is_full());
        assert_eq!(taken(inbox.take()), (1, false));
        assert_eq!(inbox.take(), Take::Empty { fail_now: false });
    }

    #[test]
    fn full_at_the_high_byte_count() {
        let inbox = Inbox::new(limits());
        inbox.put(msg(600));
        assert!(!inbox.is_full());
        inbox.put(msg(400));
        assert!(inbox.is_full(), "1000 bytes reach the high mark");
        assert_eq!(
            taken(inbox.take()),
            (600, false),
            "400 bytes left: above 100"
        );
        assert_eq!(taken(inbox.take()), (400, true));
    }

    #[test]
    fn messages_that_arrived_before_the_end_are_taken_first() {
        let inbox = Inbox::new(limits());
        inbox.put(msg(3));
        inbox.end();
        assert_eq!(taken(inbox.take()), (3, false));
        assert_eq!(inbox.take(), Take::Ended);
        assert_eq!(inbox.take_until(None), Take::Ended);
    }

    #[test]
    fn a_protocol_error_waits_for_the_receiver_to_answer_what_came_before() {
        let inbox = Inbox::new(limits());
        assert!(
            inbox.fail_when_idle(),
            "nothing taken, nothing queued: at once"
        );
        inbox.put(msg(1));
        assert!(!inbox.fail_when_idle(), "a message waits");
        assert_eq!(taken(inbox.take()), (1, false));
        // The receiver answers, then looks for the next message.
        assert_eq!(inbox.take(), Take::Empty { fail_now: true });
        assert_eq!(inbox.take(), Take::Empty { fail_now: false });
        assert!(inbox.fail_when_idle(), "idle again");
    }

    #[test]
    fn a_waiting_take_wakes_for_a_message_from_another_thread() {
        let inbox = Arc::new(Inbox::new(limits()));
        let deadline = Instant::now() + Duration::from_millis(10);
        assert_eq!(
            inbox.take_until(Some(deadline)),
            Take::Empty { fail_now: false }
        );
        let putter = {
            let inbox = inbox.clone();
            std::thread::spawn(move || inbox.put(msg(5)))
        };
        assert_eq!(taken(inbox.take_until(None)), (5, false));
        putter.join().unwrap();
    }
}
