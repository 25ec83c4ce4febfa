//! Deadlines of connections and servers in one heap, cancelled lazily: an
//! entry fires only if its owner still holds the same deadline for its kind.
//! Entries nobody holds any more (cancelled, replaced, or of a connection
//! that is gone) are swept out once the heap has doubled since the last
//! sweep, so it stays within twice the live deadlines (amortised O(1) per
//! deadline set) instead of following the connection rate.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

/// Entries the heap may hold before the first sweep.
const MIN_SWEEP: usize = 1024;

/// What a deadline is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum TimerKind {
    /// Name resolution and TCP connect.
    Connect = 0,
    /// Time to race the next address beside the connects under way.
    Race,
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
    /// A broker link's reconnect wait is over.
    BrokerRetry,
    /// A broker link's connect deadline, or its next keepalive.
    BrokerCheck,
}

/// How many kinds there are.
pub(super) const KINDS: usize = 11;

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

    /// Whether `timer` is still wanted.
    pub fn holds(&self, timer: &Timer) -> bool {
        self.get(timer.kind) == Some(timer.at)
    }

    /// Whether `timer` is still wanted; if so it is consumed.
    pub fn take_due(&mut self, timer: &Timer) -> bool {
        if self.holds(timer) {
            self.cancel(timer.kind);
            true
        } else {
            false
        }
    }
}

/// All deadlines of a loop.
#[derive(Debug)]
pub(super) struct Timers {
    heap: BinaryHeap<Reverse<Timer>>,
    /// Heap size at which the next sweep runs.
    sweep_at: usize,
}

impl Default for Timers {
    fn default() -> Timers {
        Timers {
            heap: BinaryHeap::new(),
            sweep_at: MIN_SWEEP,
        }
    }
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

    /// Whether enough entries were added since the last sweep to pay for one.
    pub fn sweep_due(&self) -> bool {
        self.heap.len() >= self.sweep_at
    }

    /// Keeps only the entries `live` says are still held, and gives back
    /// memory the heap no longer needs.
    pub fn sweep(&mut self, mut live: impl FnMut(&Timer) -> bool) {
        self.heap.retain(|t| live(&t.0));
        self.sweep_at = self.heap.len().saturating_mul(2).max(MIN_SWEEP);
        if self.heap.capacity() > self.sweep_at.saturating_mul(2) {
            self.heap.shrink_to(self.sweep_at);
        }
    }

    /// How many entries the heap holds, live or not.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.heap.len()
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Owners in a table, as the reactor keeps them: slot = index.
    fn schedule_all(timers: &mut Timers, owners: &mut [Deadlines], kind: TimerKind, after: u64) {
        for (slot, d) in owners.iter_mut().enumerate() {
            timers.schedule(d, slot, slot as u64, kind, Duration::from_secs(after));
        }
    }

    fn sweep(timers: &mut Timers, owners: &[Deadlines]) {
        timers.sweep(|t| owners.get(t.slot).is_some_and(|d| d.holds(t)));
    }

    #[test]
    fn rescheduling_replaces_the_deadline_and_the_old_entry_never_fires() {
        let mut timers = Timers::default();
        let mut d = Deadlines::default();
        timers.schedule(&mut d, 0, 7, TimerKind::Ping, Duration::ZERO);
        let first = d.get(TimerKind::Ping).unwrap();
        timers.schedule(&mut d, 0, 7, TimerKind::Ping, Duration::from_secs(60));
        let due = timers
            .pop_due(first)
            .expect("the old entry is still in the heap");
        assert!(!d.take_due(&due), "a replaced deadline fired");
        assert!(timers.pop_due(first).is_none());
        let later = d.get(TimerKind::Ping).unwrap();
        let due = timers.pop_due(later).expect("the new deadline");
        assert!(d.take_due(&due));
        assert_eq!(d.get(TimerKind::Ping), None);
    }

    #[test]
    fn too_far_a_deadline_never_comes() {
        let mut timers = Timers::default();
        let mut d = Deadlines::default();
        timers.schedule(&mut d, 0, 1, TimerKind::Idle, Duration::MAX);
        assert_eq!(d.get(TimerKind::Idle), None);
        assert_eq!(timers.next(), None);
    }

    #[test]
    fn cancelled_entries_are_swept_once_they_pile_up() {
        let mut timers = Timers::default();
        // Many short-lived owners, each holding a far deadline, then gone:
        // what the heap holds must follow the live ones, not the total.
        let mut peak = 0;
        for round in 0..100 {
            let mut owners: Vec<Deadlines> = (0..100).map(|_| Deadlines::default()).collect();
            schedule_all(&mut timers, &mut owners, TimerKind::Ping, 30);
            schedule_all(&mut timers, &mut owners, TimerKind::Idle, 60);
            if timers.sweep_due() {
                sweep(&mut timers, &owners);
            }
            peak = peak.max(timers.len());
            drop(owners);
            assert!(
                timers.len() <= 2 * MIN_SWEEP,
                "round {round}: {}",
                timers.len()
            );
        }
        assert!(peak >= 200, "nothing was scheduled");
    }

    #[test]
    fn a_sweep_keeps_every_live_deadline_in_order() {
        let mut timers = Timers::default();
        let mut owners: Vec<Deadlines> = (0..3000).map(|_| Deadlines::default()).collect();
        // Every owner's first deadline is replaced; half of them then cancel.
        schedule_all(&mut timers, &mut owners, TimerKind::Close, 10);
        for (slot, d) in owners.iter_mut().enumerate() {
            let after = Duration::from_millis(slot as u64 % 97);
            timers.schedule(d, slot, slot as u64, TimerKind::Close, after);
        }
        for d in owners.iter_mut().step_by(2) {
            d.cancel(TimerKind::Close);
        }
        sweep(&mut timers, &owners);
        assert_eq!(timers.len(), 1500);
        assert!(
            !timers.sweep_due(),
            "the next sweep waits for the heap to double"
        );
        let mut fired = Vec::new();
        let mut last = None;
        while let Some(t) = timers.pop_due(Instant::now() + Duration::from_secs(1)) {
            assert!(last <= Some(t.at), "out of order");
            last = Some(t.at);
            assert!(owners[t.slot].take_due(&t));
            fired.push(t.slot);
        }
        fired.sort_unstable();
        assert_eq!(fired, (1..3000).step_by(2).collect::<Vec<_>>());
    }

    #[test]
    fn a_sweep_gives_back_memory_after_a_peak() {
        let mut timers = Timers::default();
        let mut owners: Vec<Deadlines> = (0..100_000).map(|_| Deadlines::default()).collect();
        schedule_all(&mut timers, &mut owners, TimerKind::Handshake, 10);
        let peak = timers.heap.capacity();
        owners.truncate(10);
        sweep(&mut timers, &owners);
        assert_eq!(timers.len(), 10);
        assert!(
            timers.heap.capacity() < peak / 10,
            "{}",
            timers.heap.capacity()
        );
    }
}
