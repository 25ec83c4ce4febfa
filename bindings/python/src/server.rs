//! `Listener`: a listening server whose accepted connections wait in a queue
//! for Python to take them (`accept` blocks, `_poll_accept` serves asyncio),
//! and the `process_request` hook that may refuse a handshake.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use pyo3::exceptions::PyTimeoutError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use wsx_core::net::{Error, ErrorKind, Handler, Refusal, Server, ServerHandler, Upgrade};
use wsx_core::proto::HandshakeError;

use crate::connection::{Connection, Payload, ServerConnection};
use crate::errors;
use crate::events::{ConnHandler, ConnShared};
use crate::http::Request;
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

/// The server's handler on the loop thread.
struct Acceptor {
    queue: Arc<Mailbox<AcceptQueue>>,
    process_request: Option<Py<PyAny>>,
}

impl ServerHandler for Acceptor {
    fn on_upgrade(&mut self, upgrade: &mut Upgrade<'_>) -> Result<Box<dyn Handler>, Refusal> {
        let shared = ConnShared::new();
        let _ = shared.request.set(upgrade.request.clone());
        shared.opened(|o| o.peer = Some(upgrade.peer_addr));
        if let Some(hook) = &self.process_request {
            Python::attach(|py| decide(py, hook.bind(py), &shared, upgrade.request))?;
        }
        let queue = self.queue.clone();
        let on_open = Box::new(move |c| queue.update(|q| q.ready.push_back(c)));
        Ok(Box::new(ConnHandler::new(shared, Some(on_open))))
    }

    fn on_shutdown(&mut self) {
        self.queue.update(|q| q.shut_down = true);
    }
}

/// Runs `process_request(connection, request)`: `None` accepts; a status, or
/// a `(status, reason)` or `(status, reason, headers)` tuple refuses. An
/// exception (reported through `sys.unraisablehook`) refuses with 500.
fn decide(
    py: Python<'_>,
    hook: &Bound<'_, PyAny>,
    shared: &Arc<ConnShared>,
    request: &wsx_core::proto::handshake::Request,
) -> Result<(), Refusal> {
    let answer = || -> PyResult<Option<Refusal>> {
        let conn = Connection::server(py, shared.clone(), false)?;
        let request = Request::new(py, request)?;
        let out = hook.call1((conn, request))?;
        if out.is_none() {
            Ok(None)
        } else {
            refusal(&out).map(Some)
        }
    };
    match answer() {
        Ok(None) => Ok(()),
        Ok(Some(r)) => Err(r),
        Err(e) => {
            e.write_unraisable(py, Some(hook));
            Err(Refusal::internal_error("Internal Server Error"))
        }
    }
}

/// The core's refusal for what `process_request` returned: a status outside
/// 400-599 or a bad header raises `wsx.exceptions.InvalidArgument` (the
/// core's rule and message), which refuses with 500.
fn refusal(out: &Bound<'_, PyAny>) -> PyResult<Refusal> {
    let py = out.py();
    let invalid = |e: HandshakeError| {
        errors::to_py(py, &Error::new(ErrorKind::InvalidArgument, e.to_string()))
    };
    if let Ok(status) = out.extract::<u16>() {
        return Refusal::new(status, "").map_err(invalid);
    }
    let t = out.cast::<PyTuple>()?;
    let status = t.get_item(0)?.extract()?;
    let reason = if t.len() > 1 {
        t.get_item(1)?.extract()?
    } else {
        String::new()
    };
    let headers: Vec<(String, String)> = match t.get_item(2) {
        Err(_) => Vec::new(),
        Ok(h) => match h.cast::<PyDict>() {
            Ok(d) => d.items().extract()?,
            Err(_) => h.extract()?,
        },
    };
    let mut refusal = Refusal::new(status, reason).map_err(invalid)?;
    for (name, value) in headers {
        refusal.add_header(name, value).map_err(invalid)?;
    }
    Ok(refusal)
}

/// A listening server on the shared loop. Accepted connections queue up
/// until `accept` (or the asyncio layer) takes them.
#[pyclass(module = "wsx._wsx", frozen)]
pub struct Listener {
    server: Server,
    queue: Arc<Mailbox<AcceptQueue>>,
    port: u16,
    host: String,
}

impl Listener {
    /// Starts listening with `config` (its inbox bounds each connection's
    /// received messages); `process_request` runs on the loop thread.
    pub fn start(
        py: Python<'_>,
        config: wsx_core::net::ServerConfig,
        process_request: Option<Py<PyAny>>,
        cluster: Option<Py<crate::cluster::Cluster>>,
    ) -> PyResult<Listener> {
        let handle = crate::runtime::handle(py)?;
        let queue = Arc::new(Mailbox::new(AcceptQueue::default()));
        let acceptor = Box::new(Acceptor {
            queue: queue.clone(),
            process_request,
        });
        let (config, acceptor) = crate::cluster::join(py, cluster.as_ref(), config, acceptor)?;
        let server = py
            .detach(|| handle.listen(config, acceptor))
            .map_err(|e| crate::errors::to_py(py, &e))?;
        if let Some(cluster) = &cluster {
            cluster.get().started(&server);
        }
        let addr = py.detach(|| server.local_addr());
        Ok(Listener {
            server,
            queue,
            port: addr.port(),
            host: addr.ip().to_string(),
        })
    }
}

#[pymethods]
impl Listener {
    /// The port the server listens on.
    #[getter]
    fn port(&self) -> u16 {
        self.port
    }

    /// The `(host, port)` the server listens on.
    #[getter]
    fn local_address(&self) -> (String, u16) {
        (self.host.clone(), self.port)
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

    /// Graceful shutdown: stop accepting, close every connection with 1001,
    /// drop those still open after `timeout` seconds. Does not wait.
    #[pyo3(signature = (timeout=5.0))]
    fn shutdown(&self, py: Python<'_>, timeout: f64) -> PyResult<()> {
        let timeout: Duration = crate::options::seconds("timeout", timeout)?;
        py.detach(|| self.server.shutdown(timeout));
        Ok(())
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
            self.server.shutdown(Duration::from_secs(1));
        }
    }
}
