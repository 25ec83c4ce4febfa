//! `Connection` (with `ClientConnection` and `ServerConnection`) and
//! `PongWaiter`: the Python objects over one core connection. Blocking calls
//! release the GIL; the `_..._nowait` / `_poll_...` methods never block and
//! serve the asyncio layer.

use std::sync::{Arc, OnceLock};

use pyo3::exceptions::{PyTimeoutError, PyTypeError, PyUnicodeDecodeError};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyString};
use wsx_core::net::{Conn, DrivenLoop, ErrorKind};
use wsx_core::proto::{CloseCode, MessageKind};

use crate::errors::{self, Closed};
use crate::events::{ConnShared, ConnState, Message, Next};
use crate::http::{Request, Response};
use crate::mailbox::deadline;
use crate::notifier::Hub;

/// A WebSocket connection. Every method may be called from any thread;
/// sends from several threads at once are safe. Iterating yields messages
/// until the connection closes normally.
#[pyclass(module = "wsx._wsx", subclass, frozen, weakref)]
pub struct Connection {
    shared: Arc<ConnShared>,
    /// Whether dropping this object closes the connection (false for the
    /// view handed to `process_request`).
    owner: bool,
}

/// The client side of a connection, as returned by `connect`.
#[pyclass(module = "wsx._wsx", extends = Connection, frozen)]
pub struct ClientConnection;

/// The server side of a connection, as given to a server's handler.
#[pyclass(module = "wsx._wsx", extends = Connection, frozen)]
pub struct ServerConnection;

impl Connection {
    fn init(shared: Arc<ConnShared>, owner: bool) -> PyClassInitializer<Connection> {
        PyClassInitializer::from(Connection { shared, owner })
    }

    /// A new client object over `shared`.
    pub fn client(py: Python<'_>, shared: Arc<ConnShared>) -> PyResult<Py<ClientConnection>> {
        Py::new(py, Self::init(shared, true).add_subclass(ClientConnection))
    }

    /// A new server object over `shared`; `owner` closes the connection when collected.
    pub fn server(
        py: Python<'_>,
        shared: Arc<ConnShared>,
        owner: bool,
    ) -> PyResult<Py<ServerConnection>> {
        Py::new(py, Self::init(shared, owner).add_subclass(ServerConnection))
    }

    /// The core's handle; an error before the connection exists.
    pub(crate) fn conn(&self) -> PyResult<&Conn> {
        self.shared.conn.get().ok_or_else(|| {
            Python::attach(|py| errors::invalid_state(py, "the connection is not open yet"))
        })
    }

    fn wait_closed(&self, py: Python<'_>) -> PyResult<Arc<Closed>> {
        self.shared.mailbox.wait_forever(py, ConnState::closed)
    }

    /// Starts the close handshake; a connection already closing is left alone.
    fn start_close(&self, py: Python<'_>, code: u16, reason: &str) -> PyResult<()> {
        let Some(conn) = self.shared.conn.get() else {
            return Ok(());
        };
        match py.detach(|| conn.close(CloseCode(code), reason)) {
            Err(e) if e.kind() != ErrorKind::Closed => Err(errors::to_py(py, &e)),
            _ => Ok(()),
        }
    }

    /// Queues `message` once; `Ok(false)` means the queue is full (and, for
    /// asyncio, the mailbox is armed to report when it drains).
    fn try_send(
        &self,
        py: Python<'_>,
        kind: MessageKind,
        data: &[u8],
        compress: bool,
        block: bool,
    ) -> PyResult<bool> {
        self.try_with(py, block, |conn, driven| match driven {
            Some(driven) => driven.send(conn, kind, data, compress),
            None => (conn.send_with(kind, data, compress), false),
        })
    }

    /// Runs one send `attempt`, given the loop to run it on when this
    /// thread may write it at once (and saying then whether its write was
    /// deferred); past the high-water mark waits for room (`block`) or
    /// returns false (armed for the writable event).
    fn try_with(
        &self,
        py: Python<'_>,
        block: bool,
        attempt: impl Fn(&Conn, Option<&DrivenLoop>) -> (Result<(), wsx_core::net::Error>, bool) + Sync,
    ) -> PyResult<bool> {
        let conn = self.conn()?;
        let mailbox = &self.shared.mailbox;
        loop {
            let seen = mailbox.peek(|s| s.writable);
            // A blocking send writes at once on this thread when nobody
            // drives the loop, and so does asyncio's when its loop drives
            // the native one (a burst's rest then waits for its next turn);
            // others leave it to the loop's driver.
            let asyncio = mailbox.asyncio_drives();
            let send = || match crate::runtime::driven() {
                Some(driven) if block || asyncio.is_some() => {
                    let (sent, deferred) = attempt(conn, Some(driven));
                    if let Some(notifier) = asyncio
                        && deferred
                    {
                        notifier.ask_drive();
                    }
                    sent
                }
                _ => attempt(conn, None).0,
            };
            let e = match py.detach(send) {
                Ok(()) => return Ok(true),
                Err(e) => e,
            };
            match e.kind() {
                ErrorKind::WouldBlock => {
                    let drained = move |s: &mut ConnState| {
                        (s.writable != seen || s.closed().is_some()).then_some(())
                    };
                    let changed = if block {
                        Some(mailbox.wait_forever(py, drained)?)
                    } else {
                        mailbox.poll(drained)
                    };
                    if changed.is_none() {
                        return Ok(false);
                    }
                }
                ErrorKind::Closed if block => {
                    return Err(errors::closed(py, &*self.wait_closed(py)?));
                }
                ErrorKind::Closed => match mailbox.poll(ConnState::closed) {
                    Some(c) => return Err(errors::closed(py, &c)),
                    None => return Ok(false),
                },
                _ => return Err(errors::to_py(py, &e)),
            }
        }
    }

    /// Queues `message` now or not at all (a broadcast): would-block and
    /// closed are errors (`WouldBlock`, `ConnectionClosed`), never a wait.
    pub(crate) fn send_now(&self, py: Python<'_>, kind: MessageKind, data: &[u8]) -> PyResult<()> {
        let conn = self.conn()?;
        match py.detach(|| conn.send(kind, data)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::Closed => {
                match self.shared.mailbox.peek(ConnState::closed) {
                    Some(c) => Err(errors::closed(py, &c)),
                    None => Err(errors::to_py(py, &e)),
                }
            }
            Err(e) => Err(errors::to_py(py, &e)),
        }
    }

    fn opened(py: Python<'_>, r: Option<Result<(), Arc<Closed>>>) -> PyResult<bool> {
        match r {
            None => Ok(false),
            Some(Ok(())) => Ok(true),
            Some(Err(closed)) => Err(match &closed.error {
                Some(e) => errors::to_py(py, e),
                None => errors::closed(py, &closed),
            }),
        }
    }
}

/// Runs `f` on `driven` (see [`DrivenLoop::run`]) if given, else at once.
fn run_on<R>(driven: Option<&DrivenLoop>, f: impl FnOnce() -> R) -> (R, bool) {
    match driven {
        Some(driven) => driven.run(f),
        None => (f(), false),
    }
}

/// What a blocking connection says when used the asyncio way.
const BLOCKING_IN_ASYNC: &str = "this is a blocking connection (wsx.sync.connect, wsx.sync.serve): \
use `with` and `for`, not `async with` and `async for`; \
for asyncio, connect with wsx.connect (or wsx.asyncio.connect) and serve with wsx.serve";

/// The bytes of a message and its kind: `str` is text, `bytes`, `bytearray`
/// and `memoryview` (any buffer) are binary.
pub(crate) enum Payload<'py> {
    Bytes(MessageKind, Bound<'py, PyBytes>),
    Owned(Vec<u8>),
}

impl<'py> Payload<'py> {
    /// The payload of a Python message; `TypeError` for other types.
    pub(crate) fn extract(message: &Bound<'py, PyAny>) -> PyResult<Payload<'py>> {
        if let Ok(b) = message.cast::<PyBytes>() {
            Ok(Payload::Bytes(MessageKind::Binary, b.clone()))
        } else if let Ok(s) = message.cast::<PyString>() {
            Ok(Payload::Bytes(MessageKind::Text, s.encode_utf8()?))
        } else if let Ok(b) = message.cast::<PyByteArray>() {
            Ok(Payload::Owned(b.to_vec()))
        } else if message.hasattr("__buffer__")?
            || message.is_instance_of::<pyo3::types::PyMemoryView>()
        {
            let py = message.py();
            let bytes = py.get_type::<PyBytes>().call1((message,))?;
            Ok(Payload::Bytes(
                MessageKind::Binary,
                bytes.cast_into::<PyBytes>()?,
            ))
        } else {
            Err(PyTypeError::new_err(format!(
                "a message is str, bytes, bytearray or memoryview, not {}",
                message.get_type().name()?
            )))
        }
    }

    /// The message's kind and bytes.
    pub(crate) fn parts(&self) -> (MessageKind, &[u8]) {
        match self {
            Payload::Bytes(kind, b) => (*kind, b.as_bytes()),
            Payload::Owned(v) => (MessageKind::Binary, v),
        }
    }
}

/// A message's kind, or the one `text` asks for (websockets' `text=`).
fn kind_as(kind: MessageKind, text: Option<bool>) -> MessageKind {
    match text {
        Some(true) => MessageKind::Text,
        Some(false) => MessageKind::Binary,
        None => kind,
    }
}

/// Whether `message` is an iterable of fragments (not a mapping, which
/// websockets refuses too).
fn is_fragments(message: &Bound<'_, PyAny>) -> PyResult<bool> {
    Ok(message.hasattr("__iter__")? && !message.hasattr("keys")?)
}

impl Connection {
    /// websockets' `send(iterable)`: a frame per item, then an empty last
    /// frame; items must all be `str` or all bytes-like (else the
    /// connection fails with 1011 and `TypeError` is raised). An empty
    /// iterable sends nothing.
    fn send_fragments(
        &self,
        py: Python<'_>,
        message: &Bound<'_, PyAny>,
        compress: bool,
        text: Option<bool>,
    ) -> PyResult<()> {
        let mut items = message.try_iter()?;
        let Some(first) = items.next() else {
            return Ok(());
        };
        let first = first?;
        let is_str = first.is_instance_of::<PyString>();
        let payload = Payload::extract(&first)?;
        let kind = kind_as(payload.parts().0, text);
        let send = |data: &[u8], fin: bool| {
            self.try_with(py, true, |c, driven| {
                run_on(driven, || c.send_fragment(kind, data, fin, compress))
            })
            .map(drop)
        };
        send(payload.parts().1, false)?;
        for item in items {
            let item = item?;
            let same = item.is_instance_of::<PyString>() == is_str;
            let payload = match Payload::extract(&item) {
                Ok(payload) if same => payload,
                _ => {
                    self.start_close(py, 1011, "error in fragmented message")?;
                    return Err(PyTypeError::new_err(
                        "the fragments of a message are all str or all bytes-like",
                    ));
                }
            };
            send(payload.parts().1, false)?;
        }
        send(&[], true)
    }
}

impl Message {
    fn into_py(self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(match self.kind {
            MessageKind::Binary => PyBytes::new(py, &self.data).into_any().unbind(),
            MessageKind::Text => {
                let text = simdutf8::basic::from_utf8(&self.data)
                    .map_err(|_| PyUnicodeDecodeError::new_err("text message is not UTF-8"))?;
                PyString::new(py, text).into_any().unbind()
            }
        })
    }
}

#[pymethods]
impl Connection {
    /// Sends a message: `str` as text, `bytes`, `bytearray` or `memoryview`
    /// as binary (`text=True` sends bytes as text, `text=False` a `str` as
    /// binary). An iterable of them sends one fragmented message, a frame
    /// per item (all `str`, or all bytes-like), as websockets does. Waits
    /// (GIL released) while the send queue is full. `compress=False` sends
    /// it uncompressed even with permessage-deflate.
    #[pyo3(signature = (message, compress=true, *, text=None))]
    fn send(
        &self,
        py: Python<'_>,
        message: &Bound<'_, PyAny>,
        compress: bool,
        text: Option<bool>,
    ) -> PyResult<()> {
        match Payload::extract(message) {
            Ok(payload) => {
                let (kind, data) = payload.parts();
                self.try_send(py, kind_as(kind, text), data, compress, true)
                    .map(drop)
            }
            Err(e) if !is_fragments(message)? => Err(e),
            Err(_) => self.send_fragments(py, message, compress, text),
        }
    }

    /// The next message (`str` or `bytes`). Raises `TimeoutError` after
    /// `timeout` seconds and `ConnectionClosed` once the connection closed
    /// and every message was read.
    #[pyo3(signature = (timeout=None))]
    fn recv(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Py<PyAny>> {
        match self
            .shared
            .mailbox
            .wait(py, deadline(timeout)?, |st| st.next(self.shared.conn.get()))?
        {
            Some(Next::Message(m)) => m.into_py(py),
            Some(Next::Closed(c)) => Err(errors::closed(py, &c)),
            None => Err(PyTimeoutError::new_err("timed out waiting for a message")),
        }
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        let conn = self.shared.conn.get();
        match self.shared.mailbox.wait_forever(py, |st| st.next(conn))? {
            Next::Message(m) => m.into_py(py).map(Some),
            Next::Closed(c) if c.ok() => Ok(None),
            Next::Closed(c) => Err(errors::closed(py, &c)),
        }
    }

    /// Sends a ping (at most 125 bytes of `data`); the returned waiter gives
    /// the round trip in seconds when the pong arrives, or raises
    /// `ConnectionClosed` if the connection closes first.
    #[pyo3(signature = (data=Vec::new()), text_signature = "($self, data=b'')")]
    fn ping(&self, py: Python<'_>, data: Vec<u8>) -> PyResult<PongWaiter> {
        let conn = self.conn()?;
        let mailbox = &self.shared.mailbox;
        let rtt = mailbox.peek(|s| s.add_ping(data.clone()));
        match py.detach(|| conn.ping(&data)) {
            // Closing: the waiter raises ConnectionClosed once closed.
            Err(e) if e.kind() != ErrorKind::Closed => {
                mailbox.peek(|s| s.remove_ping(&rtt));
                return Err(errors::to_py(py, &e));
            }
            _ => {}
        }
        Ok(PongWaiter {
            shared: self.shared.clone(),
            rtt,
        })
    }

    /// Performs the close handshake with `code` and `reason` and waits until
    /// the connection is closed. Closing a closed connection does nothing.
    #[pyo3(signature = (code=1000, reason=String::new()), text_signature = "($self, code=1000, reason='')")]
    fn close(&self, py: Python<'_>, code: u16, reason: String) -> PyResult<()> {
        self.start_close(py, code, &reason)?;
        self.wait_closed(py).map(drop)
    }

    fn __enter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    /// A blocking connection in `async with`: a mix-up, named at once.
    fn __aenter__(&self) -> PyResult<()> {
        Err(PyTypeError::new_err(BLOCKING_IN_ASYNC))
    }

    #[pyo3(signature = (*_args))]
    fn __aexit__(&self, _args: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<()> {
        Err(PyTypeError::new_err(BLOCKING_IN_ASYNC))
    }

    /// A blocking connection in `async for`: a mix-up, named at once.
    fn __aiter__(&self) -> PyResult<()> {
        Err(PyTypeError::new_err(BLOCKING_IN_ASYNC))
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, py: Python<'_>, _args: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<()> {
        self.close(py, CloseCode::NORMAL.0, String::new())
    }

    /// The negotiated subprotocol, if any.
    #[getter]
    fn subprotocol(&self) -> Option<String> {
        self.shared.opened(|o| o.subprotocol.clone())
    }

    /// The close code, once the connection is closed.
    #[getter]
    fn close_code(&self) -> Option<u16> {
        self.shared.mailbox.peek(|s| s.closed()).map(|c| c.code)
    }

    /// The close reason, once the connection is closed: "" when the
    /// transport dropped with no close frame either way (1006, as
    /// websockets says; what went wrong is the `ConnectionClosed`'s cause).
    #[getter]
    fn close_reason(&self) -> Option<String> {
        self.shared.mailbox.peek(|s| s.closed()).map(|c| {
            match c.rcvd.is_none() && c.sent.is_none() {
                true => String::new(),
                false => c.reason.clone(),
            }
        })
    }

    /// Mutual TLS (server side): the subject of the client's verified
    /// certificate, RFC 4514 (`CN=alice,O=Example`), or `None` when it sent
    /// none (or without TLS, or on a client).
    #[getter]
    fn peer_subject(&self) -> Option<String> {
        self.shared.peer_identity.get().map(|i| i.subject.clone())
    }

    /// Mutual TLS (server side): the client's certificate chain as sent, leaf
    /// first, each certificate DER (`ssl.DER_cert_to_PEM_cert` converts), or
    /// `None`.
    #[getter]
    fn peer_certificates<'py>(&self, py: Python<'py>) -> Option<Vec<Bound<'py, PyBytes>>> {
        self.shared
            .peer_identity
            .get()
            .map(|i| i.chain.iter().map(|der| PyBytes::new(py, der)).collect())
    }

    /// The peer's `(host, port)`; over a Unix domain socket its path (a
    /// client sees the server's; a server sees `""`, a client's socket
    /// being unnamed), as `websockets` reports it.
    #[getter]
    fn remote_address(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        self.shared
            .opened(|o| o.peer.clone())
            .map(|a| crate::address::to_py(py, &a))
            .transpose()
    }

    /// The round trip of the last answered ping, in seconds (0 before any).
    #[getter]
    fn latency(&self) -> f64 {
        self.shared
            .conn
            .get()
            .and_then(Conn::rtt)
            .map_or(0.0, |rtt| rtt.as_secs_f64())
    }

    /// The handshake request (server side).
    #[getter]
    fn request(&self, py: Python<'_>) -> PyResult<Option<Request>> {
        self.shared
            .request
            .get()
            .map(|r| Request::new(py, r))
            .transpose()
    }

    /// The handshake response (client side).
    #[getter]
    fn response(&self, py: Python<'_>) -> PyResult<Option<Response>> {
        self.shared
            .opened(|o| o.response.clone())
            .map(|r| Response::new(py, &r))
            .transpose()
    }

    /// Whether the connection is open now: false while connecting, closed,
    /// or while a reconnecting client is between connections.
    #[getter]
    fn connected(&self) -> bool {
        self.shared
            .conn
            .get()
            .is_some_and(|c| c.state() == wsx_core::net::ConnState::Open)
    }

    /// How many times a client with `reconnect=` reconnected (connections
    /// opened after the first one).
    #[getter]
    fn reconnects(&self) -> u64 {
        self.shared.mailbox.peek(|s| s.reconnects)
    }

    /// How many received messages wait to be read (at most `max_queue`).
    #[getter]
    fn _queued(&self) -> usize {
        self.shared.conn.get().map_or(0, Conn::inbox_len)
    }

    /// Whether reading is paused because `max_queue` messages wait.
    #[getter]
    fn _reading_paused(&self) -> bool {
        self.shared.conn.get().is_some_and(Conn::is_inbox_full)
    }

    /// Routes this connection's wake-ups to an asyncio loop's hub.
    fn _attach(&self, hub: &Hub) {
        self.shared.mailbox.attach(hub.inner.clone());
    }

    /// The number the hub reports this connection by.
    #[getter]
    fn _token(&self) -> u64 {
        self.shared.mailbox.token()
    }

    /// Waits until the opening handshake succeeds, or raises why it failed.
    #[pyo3(signature = (timeout=None))]
    fn _wait_open(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<bool> {
        let r = self
            .shared
            .mailbox
            .wait(py, deadline(timeout)?, ConnState::opening)?;
        Self::opened(py, r)
    }

    /// True once open; False (and armed) while opening; raises on failure.
    fn _poll_open(&self, py: Python<'_>) -> PyResult<bool> {
        Self::opened(py, self.shared.mailbox.poll(ConnState::opening))
    }

    /// The next message, or None (and armed) if none is there yet.
    fn _recv_nowait(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        match self
            .shared
            .mailbox
            .poll(|st| st.next(self.shared.conn.get()))
        {
            Some(Next::Message(m)) => m.into_py(py).map(Some),
            Some(Next::Closed(c)) => Err(errors::closed(py, &c)),
            None => Ok(None),
        }
    }

    /// Queues a message: False (and armed) when the send queue is full.
    #[pyo3(signature = (message, compress=true, text=None))]
    fn _send_nowait(
        &self,
        py: Python<'_>,
        message: &Bound<'_, PyAny>,
        compress: bool,
        text: Option<bool>,
    ) -> PyResult<bool> {
        let payload = Payload::extract(message)?;
        let (kind, data) = payload.parts();
        self.try_send(py, kind_as(kind, text), data, compress, false)
    }

    /// Queues one fragment of a message of kind text (`text`) or binary,
    /// the last with `fin`: False (and armed) when the send queue is full.
    #[pyo3(signature = (piece, text, fin, compress=true))]
    fn _send_fragment_nowait(
        &self,
        py: Python<'_>,
        piece: &Bound<'_, PyAny>,
        text: bool,
        fin: bool,
        compress: bool,
    ) -> PyResult<bool> {
        let payload = Payload::extract(piece)?;
        let kind = kind_as(MessageKind::Binary, Some(text));
        let data = payload.parts().1;
        self.try_with(py, false, |c, driven| {
            run_on(driven, || c.send_fragment(kind, data, fin, compress))
        })
    }

    /// Fails the connection after a fragmented message went wrong part-way
    /// (1011, as websockets does): the peer must not wait for the rest.
    fn _fail_fragmented(&self, py: Python<'_>) -> PyResult<()> {
        self.start_close(py, 1011, "error in fragmented message")
    }

    /// Starts the close handshake without waiting.
    #[pyo3(signature = (code=1000, reason=String::new()), text_signature = "($self, code=1000, reason='')")]
    fn _close_nowait(&self, py: Python<'_>, code: u16, reason: String) -> PyResult<()> {
        self.start_close(py, code, &reason)
    }

    /// True once closed; False (and armed) before.
    fn _poll_closed(&self) -> bool {
        self.shared.mailbox.poll(ConnState::closed).is_some()
    }
}

impl Drop for Connection {
    /// An open connection whose owning object is collected is closed with
    /// 1001 (going away), so neither its socket nor its state leaks.
    fn drop(&mut self) {
        if self.owner && self.shared.mailbox.peek(|s| s.closed().is_none()) {
            if let Some(conn) = self.shared.conn.get() {
                let _ = conn.close(CloseCode::GOING_AWAY, "");
            }
        }
    }
}

/// Waits for the pong answering one ping; `wait()` returns the round trip
/// in seconds.
#[pyclass(module = "wsx._wsx", frozen)]
pub struct PongWaiter {
    shared: Arc<ConnShared>,
    rtt: Arc<OnceLock<f64>>,
}

impl PongWaiter {
    fn answered(
        &self,
    ) -> impl FnMut(&mut ConnState) -> Option<Result<f64, Arc<Closed>>> + Send + use<> {
        let rtt = self.rtt.clone();
        move |s| rtt.get().copied().map(Ok).or_else(|| s.closed().map(Err))
    }
}

#[pymethods]
impl PongWaiter {
    /// The round trip in seconds. Raises `TimeoutError` after `timeout`
    /// seconds and `ConnectionClosed` if the connection closed first.
    #[pyo3(signature = (timeout=None))]
    fn wait(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<f64> {
        match self
            .shared
            .mailbox
            .wait(py, deadline(timeout)?, self.answered())?
        {
            Some(Ok(rtt)) => Ok(rtt),
            Some(Err(c)) => Err(errors::closed(py, &c)),
            None => Err(PyTimeoutError::new_err("timed out waiting for the pong")),
        }
    }

    /// Whether the pong arrived.
    fn done(&self) -> bool {
        self.rtt.get().is_some()
    }

    /// The round trip, or None (and the connection armed) before the pong.
    fn _poll(&self, py: Python<'_>) -> PyResult<Option<f64>> {
        match self.shared.mailbox.poll(self.answered()) {
            Some(Ok(rtt)) => Ok(Some(rtt)),
            Some(Err(c)) => Err(errors::closed(py, &c)),
            None => Ok(None),
        }
    }
}
