//! `Listener`: a listening server whose accepted connections wait in a queue
//! for Python to take them (`accept` blocks, `_poll_accept` serves asyncio),
//! and the decision hooks (`process_request`, `select_subprotocol`,
//! `process_response`), run off the loop thread through the core's deferred
//! upgrade.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use pyo3::exceptions::PyTimeoutError;
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use wsx_core::net::{Error, ErrorKind, Handler, PeerAddr, Refusal, Server, ServerHandler, Upgrade};
use wsx_core::proto::{CloseCode, HandshakeError};

use crate::connection::{Connection, Payload, ServerConnection};
use crate::errors;
use crate::events::{ConnHandler, ConnShared};
use crate::http::{Headers, Request, Response};
use crate::mailbox::{Mailbox, deadline};
use crate::notifier::Hub;

/// Opened connections not yet taken by Python.
#[derive(Default)]
pub struct AcceptQueue {
    ready: VecDeque<Arc<ConnShared>>,
    shut_down: bool,
}

impl AcceptQueue {
    fn next(&mut self) -> Option<Option<Arc<ConnShared>>> {
        match self.ready.pop_front() {
            Some(c) => Some(Some(c)),
            None => self.shut_down.then_some(None),
        }
    }
}

/// The server's handler on the loop thread. It never takes the GIL: the
/// decision hooks run on a thread of their own, through the core's
/// deferred upgrade.
struct Acceptor {
    queue: Arc<Mailbox<AcceptQueue>>,
    /// `decide(connection, request, plain_http, subprotocol)`, the Python
    /// side of `process_request`, `select_subprotocol` and
    /// `process_response`.
    decide: Option<Arc<Py<PyAny>>>,
    /// Whether `process_request` sees plain HTTP requests too.
    answers_http: bool,
}

impl ServerHandler for Acceptor {
    fn answers_plain_http(&self) -> bool {
        self.answers_http
    }

    fn on_upgrade(&mut self, upgrade: &mut Upgrade<'_>) -> Result<Box<dyn Handler>, Refusal> {
        let shared = ConnShared::new();
        let _ = shared.request.set(upgrade.request.clone());
        if let Some(identity) = upgrade.peer_identity() {
            let _ = shared.peer_identity.set(identity.clone());
        }
        shared.opened(|o| o.peer = Some(upgrade.peer_addr.clone()));
        if let Some(decide) = &self.decide {
            let decide = decide.clone();
            let request = upgrade.request.clone();
            let plain = upgrade.is_plain_http();
            let subprotocol = upgrade.subprotocol.clone();
            let shared = shared.clone();
            let pending = upgrade.defer();
            // Without a thread, the closure and the pending upgrade in it
            // drop: the handshake is refused with 500.
            let _ = std::thread::Builder::new()
                .name("wsx-process-request".to_owned())
                .spawn(move || {
                    let decision = Python::attach(|py| {
                        decide_now(py, decide.bind(py), &shared, &request, plain, subprotocol)
                    });
                    // Too late only when the client left or the timeout passed.
                    let _ = match decision {
                        Decision::Accept(subprotocol, headers) => {
                            pending.accept_with(subprotocol, headers)
                        }
                        Decision::AcceptAsIs => pending.accept(),
                        Decision::Refuse(r) => pending.refuse(r),
                    };
                });
        }
        let queue = self.queue.clone();
        let on_open = Box::new(move |c| queue.update(|q| q.ready.push_back(c)));
        Ok(Box::new(ConnHandler::new(shared, Some(on_open))))
    }

    fn on_shutdown(&mut self) {
        self.queue.update(|q| q.shut_down = true);
    }
}

/// What the hooks decided.
enum Decision {
    Accept(Option<String>, Vec<(String, String)>),
    AcceptAsIs,
    Refuse(Refusal),
}

/// The choice of `select_subprotocol` and the headers `process_response`
/// added, to accept a handshake with.
#[pyclass(module = "wsx._wsx", frozen, get_all)]
pub struct Accept {
    subprotocol: Option<String>,
    headers: Vec<(String, String)>,
}

#[pymethods]
impl Accept {
    #[new]
    #[pyo3(signature = (subprotocol=None, headers=None))]
    fn new(subprotocol: Option<String>, headers: Option<&Bound<'_, PyAny>>) -> PyResult<Accept> {
        Ok(Accept {
            subprotocol,
            headers: Headers::extract(headers)?.pairs().to_vec(),
        })
    }
}

/// Runs `decide(connection, request, plain_http, subprotocol)`: `None`
/// accepts as is, an `Accept` accepts with its subprotocol and headers, a
/// `Response` answers instead of the handshake, and a status or a
/// `(status, reason[, headers])` tuple refuses. An exception (reported
/// through `sys.unraisablehook`) refuses with 500.
fn decide_now(
    py: Python<'_>,
    decide: &Bound<'_, PyAny>,
    shared: &Arc<ConnShared>,
    request: &wsx_core::proto::handshake::Request,
    plain: bool,
    subprotocol: Option<String>,
) -> Decision {
    let answer = || -> PyResult<Decision> {
        let conn = Connection::server(py, shared.clone(), false)?;
        let request = Request::new(py, request)?;
        let out = decide.call1((conn, request, plain, subprotocol))?;
        if out.is_none() {
            return Ok(Decision::AcceptAsIs);
        }
        if let Ok(accept) = out.cast::<Accept>() {
            let a = accept.get();
            return Ok(Decision::Accept(a.subprotocol.clone(), a.headers.clone()));
        }
        if let Ok(response) = out.cast::<Response>() {
            let (status, headers, body) = response.get().parts(py);
            return Refusal::response(status, headers, body)
                .map(Decision::Refuse)
                .map_err(|e| invalid(py, e));
        }
        refusal(&out).map(Decision::Refuse)
    };
    match answer() {
        Ok(d) => d,
        Err(e) => {
            e.write_unraisable(py, Some(decide));
            Decision::Refuse(Refusal::internal_error("Internal Server Error"))
        }
    }
}

/// `wsx.exceptions.InvalidArgument` with the core's words for a refusal it
/// would not send.
fn invalid(py: Python<'_>, e: HandshakeError) -> PyErr {
    errors::to_py(py, &Error::new(ErrorKind::InvalidArgument, e.to_string()))
}

/// The core's refusal for a status or a `(status, reason[, headers])`
/// tuple: a status outside 400-599 or a bad header raises
/// `wsx.exceptions.InvalidArgument` (the core's rule and message), which
/// refuses with 500.
fn refusal(out: &Bound<'_, PyAny>) -> PyResult<Refusal> {
    let py = out.py();
    if let Ok(status) = out.extract::<u16>() {
        return Refusal::new(status, "").map_err(|e| invalid(py, e));
    }
    let t = out.cast::<PyTuple>()?;
    let status = t.get_item(0)?.extract()?;
    let reason = if t.len() > 1 {
        t.get_item(1)?.extract()?
    } else {
        String::new()
    };
    let headers = Headers::extract(t.get_item(2).ok().as_ref())?;
    let mut refusal = Refusal::new(status, reason).map_err(|e| invalid(py, e))?;
    for (name, value) in headers.pairs() {
        refusal
            .add_header(name.clone(), value.clone())
            .map_err(|e| invalid(py, e))?;
    }
    Ok(refusal)
}

/// A listening server on the shared loop. Accepted connections queue up
/// until `accept` (or the asyncio layer) takes them.
#[pyclass(module = "wsx._wsx", frozen)]
pub struct Listener {
    server: Server,
    queue: Arc<Mailbox<AcceptQueue>>,
    /// Where it listens: an IP address and port, or a Unix socket's path.
    local: PeerAddr,
    /// The configuration's close timeout: the default of `shutdown`.
    close_timeout: Duration,
}

impl Listener {
    /// Starts listening with `config` (its inbox bounds each connection's
    /// received messages); `decide` runs on a thread of its own for each
    /// handshake (and each plain HTTP request if `answers_http`).
    pub fn start(
        py: Python<'_>,
        config: wsx_core::net::ServerConfig,
        decide: Option<Py<PyAny>>,
        answers_http: bool,
        cluster: Option<Py<crate::cluster::Cluster>>,
    ) -> PyResult<Listener> {
        let handle = crate::runtime::handle(py)?;
        let queue = Arc::new(Mailbox::new(AcceptQueue::default()));
        let close_timeout = config.close_timeout;
        let acceptor = Box::new(Acceptor {
            queue: queue.clone(),
            answers_http: answers_http && decide.is_some(),
            decide: decide.map(Arc::new),
        });
        let (config, acceptor) = crate::cluster::join(py, cluster.as_ref(), config, acceptor)?;
        let server = py
            .detach(|| handle.listen(config, acceptor))
            .map_err(|e| crate::options::refused(py, &e))?;
        if let Some(cluster) = &cluster {
            cluster.get().started(&server);
        }
        let local = match server.unix_socket_path() {
            Some(path) => PeerAddr::Unix(Some(path.to_owned())),
            None => PeerAddr::Ip(server.local_addr()),
        };
        Ok(Listener {
            server,
            queue,
            local,
            close_timeout,
        })
    }
}

#[pymethods]
impl Listener {
    /// The port the server listens on (0 on a Unix domain socket).
    #[getter]
    fn port(&self) -> u16 {
        self.local.ip().map_or(0, |a| a.port())
    }

    /// The server's close timeout in seconds (the default of `shutdown`).
    #[getter]
    fn close_timeout(&self) -> f64 {
        self.close_timeout.as_secs_f64()
    }

    /// The `(host, port)` the server listens on, or the path of its Unix
    /// domain socket.
    #[getter]
    fn local_address(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        crate::address::to_py(py, &self.local)
    }

    /// The next opened connection; None once the server has shut down.
    /// Raises `TimeoutError` after `timeout` seconds.
    #[pyo3(signature = (timeout=None))]
    fn accept(
        &self,
        py: Python<'_>,
        timeout: Option<f64>,
    ) -> PyResult<Option<Py<ServerConnection>>> {
        match self.queue.wait(py, deadline(timeout)?, AcceptQueue::next)? {
            Some(Some(shared)) => Connection::server(py, shared, true).map(Some),
            Some(None) => Ok(None),
            None => Err(PyTimeoutError::new_err(
                "timed out waiting for a connection",
            )),
        }
    }

    /// Graceful shutdown (the drain): every open connection gets a close
    /// frame with `code` and `reason`, handshakes meanwhile a 503, and what
    /// is still open after `timeout` seconds (default: the server's
    /// `close_timeout`) is dropped. Does not wait.
    #[pyo3(signature = (timeout=None, code=1001, reason=""))]
    fn shutdown(
        &self,
        py: Python<'_>,
        timeout: Option<f64>,
        code: u16,
        reason: &str,
    ) -> PyResult<()> {
        let timeout = match timeout {
            Some(t) => crate::options::seconds("timeout", t)?,
            None => self.close_timeout,
        };
        py.detach(|| self.server.drain(CloseCode(code), reason, timeout))
            .map_err(|e| errors::to_py(py, &e))
    }

    /// Sends `message` (`str`: text, bytes-like: binary) to every connection
    /// subscribed to `topic`, except `exclude`, and returns how many it was
    /// queued for. Never waits: a subscriber whose send queue is full is
    /// skipped or dropped, as the server's `slow_subscriber` says.
    #[pyo3(signature = (topic, message, *, exclude=None))]
    fn publish(
        &self,
        py: Python<'_>,
        topic: &str,
        message: &Bound<'_, PyAny>,
        exclude: Option<PyRef<'_, Connection>>,
    ) -> PyResult<usize> {
        let payload = Payload::extract(message)?;
        let (kind, data) = payload.parts();
        let except = exclude.as_deref().map(Connection::conn).transpose()?;
        let server = &self.server;
        py.detach(|| match except {
            Some(conn) => server.publish_except(topic, kind, data, conn),
            None => server.publish(topic, kind, data),
        })
        .map_err(|e| crate::errors::to_py(py, &e))
    }

    /// The server's counters now, as a dict (see `wsx.Server.metrics`).
    fn metrics<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, pyo3::types::PyDict>> {
        crate::telemetry::metrics_dict(py, &self.server.metrics())
    }

    /// The server's counters as OpenMetrics text (for a `/metrics` route).
    fn metrics_text(&self) -> String {
        self.server.metrics_text()
    }

    /// How many connections are subscribed to `topic`.
    fn subscribers(&self, topic: &str) -> usize {
        self.server.subscribers(topic)
    }

    /// Whether the shutdown finished (every connection closed).
    #[getter]
    fn shut_down(&self) -> bool {
        self.queue.peek(|q| q.shut_down)
    }

    /// Routes wake-ups to an asyncio loop's hub.
    fn _attach(&self, hub: &Hub) {
        self.queue.attach(hub.inner.clone());
    }

    /// The number the hub reports this server by.
    #[getter]
    fn _token(&self) -> u64 {
        self.queue.token()
    }

    /// The next opened connection, or None (and armed) if none is waiting or
    /// the server has shut down (see `shut_down`).
    fn _poll_accept(&self, py: Python<'_>) -> PyResult<Option<Py<ServerConnection>>> {
        match self.queue.poll(AcceptQueue::next) {
            Some(Some(shared)) => Connection::server(py, shared, true).map(Some),
            _ => Ok(None),
        }
    }
}

impl Drop for Listener {
    /// A server whose object is collected stops (closing its connections).
    fn drop(&mut self) {
        if !self.queue.peek(|q| q.shut_down) {
            self.server.shutdown(self.close_timeout);
        }
    }
}
