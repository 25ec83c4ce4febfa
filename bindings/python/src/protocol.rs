//! The sans-I/O protocol objects (`wsx.protocol`): one connection's engine
//! (`wsx_core::proto::engine`) with no socket, clock or thread, driven by the
//! caller's own I/O as websockets' sans-I/O layer is. The Python classes in
//! `wsx/protocol.py` wrap `_wsx.Engine` and give the events their types.

use std::time::Duration;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};
use wsx_core::net::{Error, ErrorKind};
use wsx_core::proto::engine::{
    CloseOrigin, Engine as CoreEngine, EngineConfig, EngineError, EngineEvent, EngineState,
    ErrorKind as EngineErrorKind,
};
use wsx_core::proto::handshake::Headers;
use wsx_core::proto::{DeflateConfig, MessageKind, SendError, WsUrl};

use crate::deflate::Deflate;
use crate::{errors, options};

/// One WebSocket connection's protocol engine. Usable from any thread, one
/// call at a time (a call while another runs raises `RuntimeError`), as the
/// `wsx.protocol` objects that wrap it.
#[pyclass(module = "wsx._wsx")]
pub struct Engine {
    inner: CoreEngine,
    /// Events taken from the engine (as tuples), not yet returned.
    events: Vec<Py<PyAny>>,
    /// Whether the half-close was reported by `take_output`.
    shutdown_reported: bool,
}

fn engine_error(py: Python<'_>, error: EngineError) -> PyErr {
    let kind = match &error {
        EngineError::Send(SendError::Closed) => ErrorKind::Closed,
        _ => ErrorKind::InvalidArgument,
    };
    errors::to_py(py, &Error::new(kind, error.to_string()))
}

/// Milliseconds of `d`, rounded up: a duration of more than zero stays so.
fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX)
}

/// The engine's configuration from Python's keyword arguments, in the same
/// units and with the same meaning of `None` as `connect` and `serve` (no
/// limit, no timeout, no keepalive); the core validates it once complete.
#[allow(clippy::too_many_arguments)] // mirrors Python's keyword arguments
fn config(
    subprotocols: Vec<String>,
    compression: Option<DeflateConfig>,
    max_size: Option<usize>,
    streaming: bool,
    open_timeout: Option<f64>,
    close_timeout: Option<f64>,
    ping_interval: Option<f64>,
    ping_timeout: Option<f64>,
) -> PyResult<EngineConfig> {
    let open = open_timeout
        .map(|t| options::seconds("open_timeout", t))
        .transpose()?;
    let keepalive = options::keepalive(ping_interval, ping_timeout)?;
    let mut c = EngineConfig {
        subprotocols,
        compression,
        handshake_timeout_ms: open.map(ms),
        close_timeout_ms: ms(options::timeout("close_timeout", close_timeout)?),
        keepalive_ms: keepalive.map(|k| (ms(k.interval), ms(k.timeout))),
        ..EngineConfig::default()
    };
    let max = max_size.unwrap_or(usize::MAX);
    c.protocol.max_message_size = max;
    c.protocol.max_frame_size = max;
    c.protocol.streaming = streaming;
    Ok(c)
}

/// The core's verdict on a complete configuration.
fn validated(py: Python<'_>, c: EngineConfig) -> PyResult<EngineConfig> {
    c.validate().map_err(|e| errors::to_py(py, &e))?;
    Ok(c)
}

#[pymethods]
impl Engine {
    /// A client engine for `uri`; its handshake request is pending at once.
    #[staticmethod]
    #[pyo3(signature = (
        uri, *, subprotocols=Vec::new(), headers=Vec::new(), origin=None, compression=None,
        max_size=None, streaming=false, open_timeout=None, close_timeout=None,
        ping_interval=None, ping_timeout=None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn client(
        py: Python<'_>,
        uri: &str,
        subprotocols: Vec<String>,
        headers: Vec<(String, String)>,
        origin: Option<String>,
        compression: Option<Py<Deflate>>,
        max_size: Option<usize>,
        streaming: bool,
        open_timeout: Option<f64>,
        close_timeout: Option<f64>,
        ping_interval: Option<f64>,
        ping_timeout: Option<f64>,
    ) -> PyResult<Engine> {
        let url = WsUrl::parse(uri).map_err(|e| errors::invalid_uri(py, uri, e.to_string()))?;
        let mut c = config(
            subprotocols,
            compression.map(|d| d.get().config()),
            max_size,
            streaming,
            open_timeout,
            close_timeout,
            ping_interval,
            ping_timeout,
        )?;
        c.headers = headers;
        c.origin = origin;
        let inner = CoreEngine::client(&url, validated(py, c)?).map_err(|e| {
            errors::to_py(py, &Error::new(ErrorKind::InvalidArgument, e.to_string()))
        })?;
        Ok(Engine::wrap(inner))
    }

    /// A server engine waiting for a handshake request.
    #[staticmethod]
    #[pyo3(signature = (
        *, subprotocols=Vec::new(), origins=None, compression=None, max_size=None,
        streaming=false, open_timeout=None, close_timeout=None, ping_interval=None,
        ping_timeout=None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn server(
        py: Python<'_>,
        subprotocols: Vec<String>,
        origins: Option<Vec<String>>,
        compression: Option<Py<Deflate>>,
        max_size: Option<usize>,
        streaming: bool,
        open_timeout: Option<f64>,
        close_timeout: Option<f64>,
        ping_interval: Option<f64>,
        ping_timeout: Option<f64>,
    ) -> PyResult<Engine> {
        let mut c = config(
            subprotocols,
            compression.map(|d| d.get().config()),
            max_size,
            streaming,
            open_timeout,
            close_timeout,
            ping_interval,
            ping_timeout,
        )?;
        c.origins = origins;
        Ok(Engine::wrap(CoreEngine::server(validated(py, c)?)))
    }

    /// Feeds bytes received from the transport (all of them: events are
    /// taken meanwhile when the engine holds a frame's worth).
    fn receive_data(&mut self, py: Python<'_>, data: &[u8]) -> PyResult<()> {
        let mut rest = data;
        loop {
            let n = self.inner.feed(rest);
            rest = &rest[n..];
            self.collect(py)?;
            if rest.is_empty() {
                return Ok(());
            }
        }
    }

    /// The transport ended.
    fn receive_eof(&mut self, py: Python<'_>) -> PyResult<()> {
        self.inner.feed_eof();
        self.collect(py)
    }

    /// Tells the engine the time (seconds of a monotonic clock).
    fn tick(&mut self, py: Python<'_>, now: f64) -> PyResult<()> {
        self.inner.tick((now * 1000.0) as u64);
        self.collect(py)
    }

    /// When to call `tick` next (seconds of the same clock), or None.
    fn next_deadline(&self) -> Option<f64> {
        self.inner.next_deadline().map(|t| t as f64 / 1000.0)
    }

    /// The events received since the last call, as tuples.
    fn take_events(&mut self, py: Python<'_>) -> PyResult<Vec<Py<PyAny>>> {
        self.collect(py)?;
        Ok(std::mem::take(&mut self.events))
    }

    /// The bytes to send (copied out and consumed), and whether the write
    /// side should now be half-closed (reported once).
    fn take_output<'py>(&mut self, py: Python<'py>) -> (Bound<'py, PyBytes>, bool) {
        let pending = self.inner.pending();
        let bytes = PyBytes::new(py, pending);
        let n = pending.len();
        self.inner.consume(n);
        let shutdown = !self.shutdown_reported && self.inner.wants_shutdown();
        self.shutdown_reported |= shutdown;
        (bytes, shutdown)
    }

    /// Server: accepts the pending request.
    #[pyo3(signature = (subprotocol=None, headers=Vec::new()))]
    fn accept(
        &mut self,
        py: Python<'_>,
        subprotocol: Option<&str>,
        headers: Vec<(String, String)>,
    ) -> PyResult<()> {
        self.inner
            .accept(subprotocol, &headers)
            .map_err(|e| engine_error(py, e))?;
        self.collect(py)
    }

    /// Server: refuses the pending request with an HTTP status.
    fn reject(&mut self, py: Python<'_>, status: u16, reason: &str) -> PyResult<()> {
        self.inner
            .refuse(status, reason)
            .map_err(|e| engine_error(py, e))
    }

    /// Queues a message or a piece of one (`fin=False` continues it).
    #[pyo3(signature = (data, text, fin=true, fragmented=false))]
    fn send(
        &mut self,
        py: Python<'_>,
        data: &Bound<'_, PyAny>,
        text: bool,
        fin: bool,
        fragmented: bool,
    ) -> PyResult<()> {
        let kind = if text {
            MessageKind::Text
        } else {
            MessageKind::Binary
        };
        let owned;
        let text_owned;
        let bytes: &[u8] = if let Ok(s) = data.cast::<PyString>() {
            text_owned = s.to_cow()?;
            text_owned.as_bytes()
        } else if let Ok(b) = data.cast::<PyBytes>() {
            b.as_bytes()
        } else if let Ok(v) = data.extract::<Vec<u8>>() {
            owned = v;
            &owned
        } else {
            return Err(PyTypeError::new_err("data must be str or bytes-like"));
        };
        let result = if fin && !fragmented {
            self.inner.send(kind, bytes)
        } else {
            self.inner.send_fragment(kind, bytes, fin)
        };
        result.map_err(|e| engine_error(py, e))
    }

    /// Queues a ping.
    fn ping(&mut self, py: Python<'_>, data: &[u8]) -> PyResult<()> {
        self.inner.ping(data).map_err(|e| engine_error(py, e))
    }

    /// Queues a pong.
    fn pong(&mut self, py: Python<'_>, data: &[u8]) -> PyResult<()> {
        self.inner.pong(data).map_err(|e| engine_error(py, e))
    }

    /// Starts the close handshake.
    fn close(&mut self, py: Python<'_>, code: u16, reason: &str) -> PyResult<()> {
        self.inner
            .close(code, reason)
            .map_err(|e| engine_error(py, e))
    }

    /// "connecting", "open", "closing" or "closed".
    #[getter]
    fn state(&self) -> &'static str {
        match self.inner.state() {
            EngineState::Connecting => "connecting",
            EngineState::Open => "open",
            EngineState::Closing => "closing",
            EngineState::Closed => "closed",
        }
    }

    /// Bytes queued to send and not yet taken.
    #[getter]
    fn buffered_amount(&self) -> usize {
        self.inner.buffered_amount()
    }

    /// The subprotocol agreed, if any.
    #[getter]
    fn subprotocol(&self) -> Option<String> {
        self.inner.subprotocol().map(str::to_owned)
    }
}

impl Engine {
    fn wrap(inner: CoreEngine) -> Engine {
        Engine {
            inner,
            events: Vec::new(),
            shutdown_reported: false,
        }
    }

    /// Moves every ready event into `events`, as tuples.
    fn collect(&mut self, py: Python<'_>) -> PyResult<()> {
        while let Some(event) = self.inner.next_event() {
            let tuple = match event {
                EngineEvent::Request(r) => {
                    ("request", r.path().to_owned(), owned_headers(r.headers()))
                        .into_pyobject(py)?
                }
                EngineEvent::Open {
                    subprotocol,
                    deflate,
                } => ("open", subprotocol.map(str::to_owned), deflate).into_pyobject(py)?,
                EngineEvent::Message { kind, data } => match kind {
                    // Valid UTF-8: the engine checked it.
                    MessageKind::Text => (
                        "message",
                        PyString::new(py, std::str::from_utf8(data).unwrap_or_default()),
                    )
                        .into_pyobject(py)?,
                    MessageKind::Binary => ("message", PyBytes::new(py, data)).into_pyobject(py)?,
                },
                EngineEvent::Fragment { kind, data, fin } => (
                    "fragment",
                    PyBytes::new(py, data),
                    kind == MessageKind::Text,
                    fin,
                )
                    .into_pyobject(py)?,
                EngineEvent::Ping(data) => ("ping", PyBytes::new(py, data)).into_pyobject(py)?,
                EngineEvent::Pong(data) => ("pong", PyBytes::new(py, data)).into_pyobject(py)?,
                EngineEvent::Close {
                    code,
                    reason,
                    origin,
                    clean,
                } => {
                    let origin = match origin {
                        CloseOrigin::Local => "local",
                        CloseOrigin::Remote => "remote",
                        CloseOrigin::Transport => "transport",
                    };
                    ("close", code, reason.to_owned(), origin, clean).into_pyobject(py)?
                }
                EngineEvent::Error {
                    kind,
                    status,
                    message,
                } => {
                    let kind = match kind {
                        EngineErrorKind::Handshake => "handshake",
                        EngineErrorKind::Protocol => "protocol",
                        EngineErrorKind::Timeout => "timeout",
                    };
                    let message = message.to_owned();
                    // A refused handshake: the response's headers and body.
                    let (headers, body) = match self.inner.response().filter(|_| status != 0) {
                        Some(r) => (owned_headers(&r.headers), r.body.as_slice()),
                        None => (Vec::new(), &[][..]),
                    };
                    let body = PyBytes::new(py, body);
                    ("error", kind, status, message, headers, body).into_pyobject(py)?
                }
            };
            self.events.push(tuple.into_any().unbind());
        }
        Ok(())
    }
}

/// Header fields as Python's `(name, value)` pairs.
fn owned_headers(headers: &Headers) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect()
}
