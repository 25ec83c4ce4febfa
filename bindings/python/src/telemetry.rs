//! Telemetry for Python: the counters as dicts (`Listener.metrics`,
//! `loop_metrics`), their OpenMetrics text, and the log records of the core
//! handed to Python's `logging` without the loop thread ever taking the
//! GIL: a `log::Log` queues them (bounded) and `_log_take`, called by a
//! Python thread (see `wsx._logging`), waits for them with the GIL
//! released.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use wsx_core::net::Metrics;
use wsx_core::net::telemetry::{CLOSE_CODES, REFUSAL_STATUSES};

/// The counters as a dict (see `wsx.Server.metrics`).
pub fn metrics_dict<'py>(py: Python<'py>, m: &Metrics) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("connections_open", m.connections_open)?;
    d.set_item("connections_opened", m.connections_opened)?;
    d.set_item("handshakes_accepted", m.handshakes_accepted)?;
    let refused = PyDict::new(py);
    for (status, n) in REFUSAL_STATUSES.iter().zip(m.handshakes_refused) {
        refused.set_item(status, n)?;
    }
    refused.set_item("other", m.handshakes_refused[REFUSAL_STATUSES.len()])?;
    d.set_item("handshakes_refused", refused)?;
    d.set_item("http_answered", m.http_answered)?;
    d.set_item("handshakes_evicted", m.evicted_handshakes)?;
    d.set_item("messages_in", m.messages_in)?;
    d.set_item("bytes_in", m.bytes_in)?;
    d.set_item("messages_out", m.messages_out)?;
    d.set_item("bytes_out", m.bytes_out)?;
    let closes = PyDict::new(py);
    for (code, n) in CLOSE_CODES.iter().zip(m.closes) {
        closes.set_item(code, n)?;
    }
    closes.set_item("other", m.closes[CLOSE_CODES.len()])?;
    d.set_item("closes", closes)?;
    d.set_item("keepalive_timeouts", m.keepalive_timeouts)?;
    d.set_item("protocol_errors", m.protocol_errors)?;
    d.set_item("queued_bytes", m.queued_bytes)?;
    d.set_item(
        "last_ping_rtt",
        m.last_ping_rtt_micros.map(|us| us as f64 / 1e6),
    )?;
    Ok(d)
}

/// The shared loop's counters (every connection and server of the process).
#[pyfunction]
fn loop_metrics(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let m = crate::runtime::handle(py)?.metrics();
    metrics_dict(py, &m)
}

/// Most records kept waiting for Python; past it the oldest are dropped
/// (and counted).
const MAX_QUEUED: usize = 10_000;

/// (Python level, target, message)
type Record = (u8, String, String);

#[derive(Default)]
struct Queue {
    records: VecDeque<Record>,
    dropped: u64,
}

struct PyLogger {
    queue: Mutex<Queue>,
    ready: Condvar,
}

impl log::Log for PyLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.target().starts_with("wsx")
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let level = match record.level() {
            log::Level::Error => 40,
            log::Level::Warn => 30,
            log::Level::Info => 20,
            log::Level::Debug => 10,
            log::Level::Trace => 5,
        };
        let entry = (level, record.target().to_owned(), record.args().to_string());
        let mut q = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        if q.records.len() == MAX_QUEUED {
            q.records.pop_front();
            q.dropped += 1;
        }
        q.records.push_back(entry);
        drop(q);
        self.ready.notify_one();
    }

    fn flush(&self) {}
}

static LOGGER: PyLogger = PyLogger {
    queue: Mutex::new(Queue {
        records: VecDeque::new(),
        dropped: 0,
    }),
    ready: Condvar::new(),
};

static INSTALLED: OnceLock<bool> = OnceLock::new();

/// Lets the records of Python level `level` and up through (0 or less:
/// none). Fails if another `log` logger owns the process.
#[pyfunction]
fn _log_level(level: i32) -> PyResult<()> {
    if !*INSTALLED.get_or_init(|| log::set_logger(&LOGGER).is_ok()) {
        return Err(PyRuntimeError::new_err(
            "another logger of Rust's `log` crate is installed in this process",
        ));
    }
    let filter = match level {
        i32::MIN..=0 => log::LevelFilter::Off,
        1..=9 => log::LevelFilter::Trace,
        10..=19 => log::LevelFilter::Debug,
        20..=29 => log::LevelFilter::Info,
        30..=39 => log::LevelFilter::Warn,
        _ => log::LevelFilter::Error,
    };
    log::set_max_level(filter);
    if filter == log::LevelFilter::Off {
        // Wake the drain thread so it can notice and end.
        LOGGER.ready.notify_all();
    }
    Ok(())
}

/// The records queued so far as `(level, target, message)` tuples, waiting
/// up to `timeout` seconds for one (with the GIL released), and how many
/// were dropped because Python fell behind.
#[pyfunction]
fn _log_take(py: Python<'_>, timeout: f64) -> PyResult<(Vec<Record>, u64)> {
    let wait = Duration::try_from_secs_f64(timeout.max(0.0)).unwrap_or(Duration::ZERO);
    Ok(py.detach(|| {
        let deadline = Instant::now() + wait;
        let mut q = LOGGER.queue.lock().unwrap_or_else(PoisonError::into_inner);
        while q.records.is_empty() && log::max_level() != log::LevelFilter::Off {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            q = LOGGER
                .ready
                .wait_timeout(q, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        let records = q.records.drain(..).collect();
        (records, std::mem::take(&mut q.dropped))
    }))
}

/// Adds the telemetry functions to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(loop_metrics, m)?)?;
    m.add_function(wrap_pyfunction!(_log_level, m)?)?;
    m.add_function(wrap_pyfunction!(_log_take, m)?)?;
    m.add(
        "OPENMETRICS_CONTENT_TYPE",
        wsx_core::net::telemetry::OPENMETRICS_CONTENT_TYPE,
    )
}
