//! Deadlines: scheduling, firing, and what each kind does when it passes.

use std::time::{Duration, Instant};

use super::{Entry, Reactor};
use crate::net::conn::Phase;
use crate::net::error::{Error, Timeout};
use crate::net::timer::{Timer, TimerKind};
use crate::net::{tally, telemetry};

impl Reactor {
    /// Sets a deadline `after` from now (one too far to represent never comes).
    pub fn schedule(&mut self, slot: usize, kind: TimerKind, after: Duration) {
        match self.entries.get_mut(slot) {
            Some(Entry::Conn(c)) => {
                self.timers
                    .schedule(&mut c.deadlines, slot, c.conn.shared.id, kind, after)
            }
            Some(Entry::Listener(l)) => {
                self.timers
                    .schedule(&mut l.deadlines, slot, l.id, kind, after)
            }
            Some(Entry::BrokerLink(b)) => {
                let owner = b.owner();
                self.timers
                    .schedule(&mut b.deadlines, slot, owner, kind, after)
            }
            Some(Entry::Broker(_)) | None => {}
        }
        self.sweep_timers();
    }

    pub(super) fn fire_timers(&mut self, now: Instant) {
        while let Some(timer) = self.timers.pop_due(now) {
            let due = match self.entries.get_mut(timer.slot) {
                Some(Entry::Conn(c)) => {
                    c.conn.shared.id == timer.owner && c.deadlines.take_due(&timer)
                }
                Some(Entry::Listener(l)) => l.id == timer.owner && l.deadlines.take_due(&timer),
                Some(Entry::BrokerLink(b)) => {
                    b.owner() == timer.owner && b.deadlines.take_due(&timer)
                }
                Some(Entry::Broker(_)) | None => false,
            };
            if due {
                self.on_timer(timer.slot, timer.kind);
            }
        }
    }

    pub(super) fn on_timer(&mut self, slot: usize, kind: TimerKind) {
        if kind == TimerKind::Shutdown {
            return self.shutdown_timeout(slot);
        }
        if kind == TimerKind::Reconnect {
            return self.start_attempt(slot);
        }
        if kind == TimerKind::Race {
            return self.connect_next(slot);
        }
        if kind == TimerKind::BrokerRetry {
            return self.broker_retry(slot);
        }
        if kind == TimerKind::BrokerCheck {
            return self.broker_check(slot);
        }
        let Some(c) = self.conn_mut(slot) else { return };
        let timeouts = c.timeouts;
        let seconds = |d: Duration| format!("{:.1} s", d.as_secs_f64());
        match kind {
            TimerKind::Connect => {
                let error = self.connect_timeout_error(slot);
                self.fail(slot, error);
            }
            TimerKind::Handshake => {
                let message = format!(
                    "the handshake did not finish within {}",
                    seconds(timeouts.handshake)
                );
                self.fail(slot, Error::timeout(Timeout::Open, message));
            }
            TimerKind::Ping => {
                let Some(keepalive) = timeouts.keepalive else {
                    return;
                };
                c.pings_sent += 1;
                let payload = c.pings_sent.to_be_bytes();
                if c.ping(&payload) {
                    self.schedule(slot, TimerKind::Pong, keepalive.timeout);
                    self.mark_dirty(slot);
                }
            }
            TimerKind::Pong => {
                let wait = timeouts.keepalive.map_or(Duration::ZERO, |k| k.timeout);
                let message = format!("no answer to a keepalive ping within {}", seconds(wait));
                tally::count(&c.conn, telemetry::Counters::keepalive_timeout);
                log::warn!(target: telemetry::target::KEEPALIVE, "connection {}: {message}", c.conn.shared.id);
                self.fail(slot, Error::timeout(Timeout::Keepalive, message));
            }
            TimerKind::Idle => {
                let Some(idle) = timeouts.idle else { return };
                let quiet = c.last_rx.elapsed();
                if quiet >= idle {
                    let message = format!("nothing received for {}", seconds(idle));
                    self.fail(slot, Error::timeout(Timeout::Idle, message));
                } else {
                    self.schedule(slot, TimerKind::Idle, idle - quiet);
                }
            }
            TimerKind::Close => {
                if c.engine.failure_deferred() {
                    c.fail_deferred();
                    self.after_engine(slot);
                } else if matches!(c.phase, Phase::AwaitEof) {
                    let (code, reason, clean) = c.ending();
                    self.finish(slot, code, &reason, clean);
                } else {
                    let message = format!(
                        "the peer did not complete the close handshake within {}",
                        seconds(timeouts.close)
                    );
                    self.fail(slot, Error::timeout(Timeout::Close, message));
                }
            }
            TimerKind::Shutdown
            | TimerKind::Reconnect
            | TimerKind::Race
            | TimerKind::BrokerRetry
            | TimerKind::BrokerCheck => {}
        }
    }

    /// Whether the owner in `timer`'s slot still holds it.
    pub fn holds(&self, timer: &Timer) -> bool {
        match self.entries.get(timer.slot) {
            Some(Entry::Conn(c)) => c.conn.shared.id == timer.owner && c.deadlines.holds(timer),
            Some(Entry::Listener(l)) => l.id == timer.owner && l.deadlines.holds(timer),
            Some(Entry::BrokerLink(b)) => b.owner() == timer.owner && b.deadlines.holds(timer),
            Some(Entry::Broker(_)) | None => false,
        }
    }

    /// Sweeps out the timers nobody holds once enough have piled up.
    pub fn sweep_timers(&mut self) {
        if self.timers.sweep_due() {
            let mut timers = std::mem::take(&mut self.timers);
            timers.sweep(|t| self.holds(t));
            self.timers = timers;
        }
    }
}
