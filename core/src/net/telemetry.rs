//! Telemetry: counters per loop and per server, their OpenMetrics text, and
//! log records through the [`log`] facade.
//!
//! # Counters
//!
//! Every loop and every server owns one `Counters` (a server spread over
//! several loops one per loop). Only the loop's thread writes them, so an
//! update is a relaxed load and a relaxed store of the same word: no lock
//! and no atomic read-modify-write on the hot path. Any thread may read them at any time
//! ([`super::LoopHandle::metrics`], [`super::Server::metrics`]); a snapshot
//! is each figure as it was at some moment, not one instant for all.
//!
//! Message and byte counts are of application payloads (whole messages, or
//! fragments' bytes with the message counted at its last fragment), before
//! compression and without frame headers: the figures an application can
//! predict from what it sends and receives.
//!
//! # Log records
//!
//! wsx logs through the `log` crate's macros with the targets below. When
//! no logger is installed (the default), or its level is below a record's,
//! a record costs one relaxed atomic load (`log::max_level()`) and nothing
//! is formatted. The C API and the bindings install a logger that hands the
//! records to their callback, `logging` or event.
//!
//! | target | level | what |
//! |---|---|---|
//! | `wsx.conn` | info | connection opened (id, peer, server or client), closed (code, reason, clean) |
//! | `wsx.server` | info / debug | handshake refused (status, why); a plain HTTP request answered (debug) |
//! | `wsx.protocol` | warn | protocol errors (the close code it maps to, the reason) |
//! | `wsx.keepalive` | warn | no pong within the keepalive timeout |
//! | `wsx.proxy` | info | proxy tunnel requested, established, failed |
//! | `wsx.cluster` | info | pub/sub broker (cluster) state changes: see [`cluster_state`] |

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};

/// Log targets (see the module's table).
pub mod target {
    /// Connections opened and closed.
    pub const CONN: &str = "wsx.conn";
    /// Handshakes refused and plain HTTP requests answered.
    pub const SERVER: &str = "wsx.server";
    /// Protocol errors.
    pub const PROTOCOL: &str = "wsx.protocol";
    /// Keepalive timeouts.
    pub const KEEPALIVE: &str = "wsx.keepalive";
    /// Proxy tunnels.
    pub const PROXY: &str = "wsx.proxy";
    /// Pub/sub broker (cluster) state.
    pub const CLUSTER: &str = "wsx.cluster";
    /// A loop thread that ended before it was stopped.
    pub const LOOP: &str = "wsx.loop";
}

/// Close codes counted one by one; every other code counts as "other".
pub const CLOSE_CODES: [u16; 11] = [
    1000, 1001, 1002, 1003, 1005, 1006, 1007, 1008, 1009, 1011, 1012,
];

/// HTTP statuses of refused handshakes counted one by one; every other
/// status from 400 up counts as "other" (below 400 it is an answered plain
/// HTTP request, see [`Metrics::http_answered`]).
pub const REFUSAL_STATUSES: [u16; 9] = [400, 401, 403, 404, 405, 426, 429, 500, 503];

/// Adds `n` to a counter only the loop's thread writes.
#[inline(always)]
fn add(counter: &AtomicU64, n: u64) {
    counter.store(counter.load(Relaxed).wrapping_add(n), Relaxed);
}

/// The live counters of a loop or a server (see the module's doc).
#[derive(Debug, Default)]
pub(super) struct Counters {
    connections_open: AtomicU64,
    connections_opened: AtomicU64,
    handshakes_accepted: AtomicU64,
    refused: [AtomicU64; REFUSAL_STATUSES.len() + 1],
    http_answered: AtomicU64,
    messages_in: AtomicU64,
    bytes_in: AtomicU64,
    messages_out: AtomicU64,
    bytes_out: AtomicU64,
    closes: [AtomicU64; CLOSE_CODES.len() + 1],
    keepalive_timeouts: AtomicU64,
    protocol_errors: AtomicU64,
    /// A gauge kept as a wrapping sum of signed changes.
    queued_bytes: AtomicU64,
    /// Microseconds plus one (0: no ping answered yet).
    last_rtt_micros: AtomicU64,
}

impl Counters {
    pub fn opened(&self) {
        add(&self.connections_open, 1);
        add(&self.connections_opened, 1);
    }

    pub fn closed(&self, code: u16) {
        add(&self.connections_open, u64::MAX); // minus one
        let at = CLOSE_CODES
            .iter()
            .position(|&c| c == code)
            .unwrap_or(CLOSE_CODES.len());
        add(&self.closes[at], 1);
    }

    pub fn accepted(&self) {
        add(&self.handshakes_accepted, 1);
    }

    pub fn refused(&self, status: u16) {
        if status < 400 {
            return add(&self.http_answered, 1);
        }
        let at = REFUSAL_STATUSES
            .iter()
            .position(|&s| s == status)
            .unwrap_or(REFUSAL_STATUSES.len());
        add(&self.refused[at], 1);
    }

    #[inline(always)]
    pub fn message_in(&self, len: usize, whole: bool) {
        add(&self.messages_in, u64::from(whole));
        add(&self.bytes_in, len as u64);
    }

    #[inline(always)]
    pub fn message_out(&self, len: usize, whole: bool) {
        add(&self.messages_out, u64::from(whole));
        add(&self.bytes_out, len as u64);
    }

    pub fn keepalive_timeout(&self) {
        add(&self.keepalive_timeouts, 1);
    }

    pub fn protocol_error(&self) {
        add(&self.protocol_errors, 1);
    }

    #[inline(always)]
    pub fn queued_change(&self, old: usize, new: usize) {
        add(&self.queued_bytes, (new as u64).wrapping_sub(old as u64));
    }

    pub fn rtt(&self, micros: u64) {
        self.last_rtt_micros
            .store(micros.saturating_add(1), Relaxed);
    }

    /// The figures now (plus the server's evicted handshakes, kept apart).
    pub fn snapshot(&self, evicted_handshakes: u64) -> Metrics {
        let load = |c: &AtomicU64| c.load(Relaxed);
        Metrics {
            connections_open: load(&self.connections_open),
            connections_opened: load(&self.connections_opened),
            handshakes_accepted: load(&self.handshakes_accepted),
            handshakes_refused: std::array::from_fn(|i| load(&self.refused[i])),
            http_answered: load(&self.http_answered),
            evicted_handshakes,
            messages_in: load(&self.messages_in),
            bytes_in: load(&self.bytes_in),
            messages_out: load(&self.messages_out),
            bytes_out: load(&self.bytes_out),
            closes: std::array::from_fn(|i| load(&self.closes[i])),
            keepalive_timeouts: load(&self.keepalive_timeouts),
            protocol_errors: load(&self.protocol_errors),
            // A reader may see a decrease before its increase: never below 0.
            queued_bytes: i64::try_from(load(&self.queued_bytes))
                .map_or(0, |n| u64::try_from(n).unwrap_or(0)),
            last_ping_rtt_micros: load(&self.last_rtt_micros).checked_sub(1),
        }
    }
}

/// A snapshot of a loop's or a server's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Metrics {
    /// Connections open now (from the handshake's end to the close event).
    pub connections_open: u64,
    /// Connections that opened, in total.
    pub connections_opened: u64,
    /// Handshakes a server accepted (always 0 for a loop's clients).
    pub handshakes_accepted: u64,
    /// Handshakes refused, by HTTP status: `REFUSAL_STATUSES[i]` at `i`,
    /// every other status from 400 up at the last index.
    pub handshakes_refused: [u64; REFUSAL_STATUSES.len() + 1],
    /// Plain HTTP requests the application answered with a status below 400
    /// (a `/metrics` route, a health check).
    pub http_answered: u64,
    /// Unfinished handshakes dropped to make room for newer connections.
    pub evicted_handshakes: u64,
    /// Messages received (counted at their last fragment).
    pub messages_in: u64,
    /// Payload bytes received (after decompression).
    pub bytes_in: u64,
    /// Messages queued for sending (counted at their last fragment; a
    /// published message once per subscriber).
    pub messages_out: u64,
    /// Payload bytes queued for sending (before compression).
    pub bytes_out: u64,
    /// Connections closed, by close code: `CLOSE_CODES[i]` at `i`, every
    /// other code at the last index.
    pub closes: [u64; CLOSE_CODES.len() + 1],
    /// Connections dropped because a keepalive ping went unanswered.
    pub keepalive_timeouts: u64,
    /// Protocol errors of peers (a close with 1002, 1007, 1009...).
    pub protocol_errors: u64,
    /// Bytes waiting in the connections' output, not yet written.
    pub queued_bytes: u64,
    /// Round trip of the last answered ping of any connection, in
    /// microseconds.
    pub last_ping_rtt_micros: Option<u64>,
}

impl Metrics {
    /// Adds `other`'s figures (the round trip stays ours, or becomes theirs
    /// if we have none).
    pub(super) fn add(&mut self, other: &Metrics) {
        self.connections_open += other.connections_open;
        self.connections_opened += other.connections_opened;
        self.handshakes_accepted += other.handshakes_accepted;
        for (a, b) in self
            .handshakes_refused
            .iter_mut()
            .zip(other.handshakes_refused)
        {
            *a += b;
        }
        self.http_answered += other.http_answered;
        self.evicted_handshakes += other.evicted_handshakes;
        self.messages_in += other.messages_in;
        self.bytes_in += other.bytes_in;
        self.messages_out += other.messages_out;
        self.bytes_out += other.bytes_out;
        for (a, b) in self.closes.iter_mut().zip(other.closes) {
            *a += b;
        }
        self.keepalive_timeouts += other.keepalive_timeouts;
        self.protocol_errors += other.protocol_errors;
        self.queued_bytes += other.queued_bytes;
        self.last_ping_rtt_micros = self.last_ping_rtt_micros.or(other.last_ping_rtt_micros);
    }

    /// Handshakes refused with `status` (a status outside
    /// [`REFUSAL_STATUSES`] gives the "other" count).
    pub fn refused(&self, status: u16) -> u64 {
        let at = REFUSAL_STATUSES.iter().position(|&s| s == status);
        self.handshakes_refused[at.unwrap_or(REFUSAL_STATUSES.len())]
    }

    /// Every handshake refused.
    pub fn refused_total(&self) -> u64 {
        self.handshakes_refused.iter().sum()
    }

    /// Connections closed with `code` (a code outside [`CLOSE_CODES`] gives
    /// the "other" count).
    pub fn closes_with(&self, code: u16) -> u64 {
        let at = CLOSE_CODES.iter().position(|&c| c == code);
        self.closes[at.unwrap_or(CLOSE_CODES.len())]
    }

    /// The OpenMetrics text exposition (what Prometheus scrapes, content
    /// type [`OPENMETRICS_CONTENT_TYPE`]), ending with `# EOF`. Every name
    /// starts with `wsx_`.
    pub fn to_openmetrics(&self) -> String {
        let mut out = String::with_capacity(2048);
        let mut family = |name: &str, kind: &str, help: &str, samples: &[(&str, u64)]| {
            let _ = writeln!(out, "# TYPE {name} {kind}\n# HELP {name} {help}");
            let suffix = if kind == "counter" { "_total" } else { "" };
            for (labels, value) in samples {
                let _ = writeln!(out, "{name}{suffix}{labels} {value}");
            }
        };
        family(
            "wsx_connections_open",
            "gauge",
            "Connections open now.",
            &[("", self.connections_open)],
        );
        family(
            "wsx_connections_opened",
            "counter",
            "Connections that opened.",
            &[("", self.connections_opened)],
        );
        family(
            "wsx_handshakes_accepted",
            "counter",
            "WebSocket handshakes accepted.",
            &[("", self.handshakes_accepted)],
        );
        let refused: Vec<(String, u64)> = REFUSAL_STATUSES
            .iter()
            .map(|s| s.to_string())
            .chain(["other".to_owned()])
            .zip(self.handshakes_refused)
            .map(|(status, n)| (format!("{{status=\"{status}\"}}"), n))
            .collect();
        let refused: Vec<(&str, u64)> = refused.iter().map(|(l, n)| (l.as_str(), *n)).collect();
        family(
            "wsx_handshakes_refused",
            "counter",
            "WebSocket handshakes refused, by HTTP status.",
            &refused,
        );
        family(
            "wsx_http_answered",
            "counter",
            "Plain HTTP requests answered with a status below 400.",
            &[("", self.http_answered)],
        );
        family(
            "wsx_handshakes_evicted",
            "counter",
            "Unfinished handshakes dropped to make room for newer connections.",
            &[("", self.evicted_handshakes)],
        );
        family(
            "wsx_messages_received",
            "counter",
            "Messages received.",
            &[("", self.messages_in)],
        );
        family(
            "wsx_received_bytes",
            "counter",
            "Payload bytes received.",
            &[("", self.bytes_in)],
        );
        family(
            "wsx_messages_sent",
            "counter",
            "Messages queued for sending.",
            &[("", self.messages_out)],
        );
        family(
            "wsx_sent_bytes",
            "counter",
            "Payload bytes queued for sending.",
            &[("", self.bytes_out)],
        );
        let closes: Vec<(String, u64)> = CLOSE_CODES
            .iter()
            .map(|c| c.to_string())
            .chain(["other".to_owned()])
            .zip(self.closes)
            .map(|(code, n)| (format!("{{code=\"{code}\"}}"), n))
            .collect();
        let closes: Vec<(&str, u64)> = closes.iter().map(|(l, n)| (l.as_str(), *n)).collect();
        family(
            "wsx_closes",
            "counter",
            "Connections closed, by close code.",
            &closes,
        );
        family(
            "wsx_keepalive_timeouts",
            "counter",
            "Connections dropped for an unanswered keepalive ping.",
            &[("", self.keepalive_timeouts)],
        );
        family(
            "wsx_protocol_errors",
            "counter",
            "Protocol errors of peers.",
            &[("", self.protocol_errors)],
        );
        family(
            "wsx_queued_bytes",
            "gauge",
            "Bytes waiting in the connections' output.",
            &[("", self.queued_bytes)],
        );
        let _ = writeln!(
            out,
            "# TYPE wsx_last_ping_rtt_seconds gauge\n# HELP wsx_last_ping_rtt_seconds Round trip of the last answered ping."
        );
        if let Some(micros) = self.last_ping_rtt_micros {
            let _ = writeln!(
                out,
                "wsx_last_ping_rtt_seconds {}.{:06}",
                micros / 1_000_000,
                micros % 1_000_000
            );
        }
        out.push_str("# EOF\n");
        out
    }
}

/// The content type of [`Metrics::to_openmetrics`]'s text.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A loop's counters: its clients' own, and those of its servers, added up
/// when read.
#[derive(Debug, Default)]
pub(super) struct LoopTelemetry {
    pub own: Counters,
    /// Every server's counters while it lives, and the sum of those of the
    /// servers gone.
    servers: Mutex<(Vec<Arc<Counters>>, Metrics)>,
}

impl LoopTelemetry {
    /// Counters for a new server of the loop.
    pub fn server_counters(&self) -> Arc<Counters> {
        let counters = Arc::new(Counters::default());
        let mut servers = self.servers.lock().unwrap_or_else(PoisonError::into_inner);
        servers.0.push(counters.clone());
        counters
    }

    /// Every figure of the loop: its clients' and its servers'.
    pub fn snapshot(&self) -> Metrics {
        let mut total = self.own.snapshot(0);
        let mut servers = self.servers.lock().unwrap_or_else(PoisonError::into_inner);
        let (live, gone) = &mut *servers;
        live.retain(|counters| {
            let figures = counters.snapshot(0);
            // Only this list holds them: the server is gone, its figures
            // final, counted from now on in `gone` (and only there, or this
            // snapshot would count them twice and the next one go down).
            let alive = Arc::strong_count(counters) > 1;
            match alive {
                true => total.add(&figures),
                false => gone.add(&figures),
            }
            alive
        });
        total.add(gone);
        total
    }
}

/// Logs a change of a server's cluster link (`wsx.cluster`): its node id,
/// the new state and why.
pub fn cluster_state(node: &str, state: &str, detail: &str) {
    log::info!(target: target::CLUSTER, "cluster node {node}: {state}{}{detail}", if detail.is_empty() { "" } else { ": " });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_their_text() {
        let c = Counters::default();
        c.opened();
        c.opened();
        c.accepted();
        c.refused(401);
        c.refused(503);
        c.refused(418);
        c.refused(200);
        c.message_in(5, true);
        c.message_in(3, false);
        c.message_out(7, true);
        c.queued_change(0, 10);
        c.queued_change(10, 4);
        c.closed(1000);
        c.closed(4000);
        c.rtt(1_500_000);
        let m = c.snapshot(2);
        assert_eq!(m.connections_open, 0);
        assert_eq!(m.connections_opened, 2);
        assert_eq!((m.refused(401), m.refused(503), m.refused(418)), (1, 1, 1));
        assert_eq!(m.refused_total(), 3);
        assert_eq!(m.http_answered, 1);
        assert_eq!((m.messages_in, m.bytes_in), (1, 8));
        assert_eq!((m.messages_out, m.bytes_out), (1, 7));
        assert_eq!((m.closes_with(1000), m.closes_with(4000)), (1, 1));
        assert_eq!(m.queued_bytes, 4);
        assert_eq!(m.last_ping_rtt_micros, Some(1_500_000));
        let text = m.to_openmetrics();
        assert!(text.contains("wsx_handshakes_refused_total{status=\"401\"} 1\n"));
        assert!(text.contains("wsx_closes_total{code=\"other\"} 1\n"));
        assert!(text.contains("wsx_last_ping_rtt_seconds 1.500000\n"));
        assert!(text.contains("wsx_handshakes_evicted_total 2\n"));
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn a_loop_keeps_the_figures_of_its_servers_gone() {
        let lp = LoopTelemetry::default();
        lp.own.message_out(1, true);
        let server = lp.server_counters();
        server.opened();
        server.message_in(10, true);
        server.closed(1000);
        let live = lp.snapshot();
        drop(server);
        // Never counted twice, never lost: loop counters only go up.
        for _ in 0..2 {
            let m = lp.snapshot();
            assert_eq!(
                (m.connections_opened, m.messages_in, m.bytes_in),
                (1, 1, 10)
            );
            assert_eq!((m.messages_out, m.closes_with(1000)), (1, 1));
            assert_eq!(m.connections_opened, live.connections_opened);
        }
    }
}
