//! The one conversion from the core's errors to the exceptions of
//! `wsx.exceptions`.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;
use wsx_core::net::{Error, ErrorKind, Timeout};
use wsx_core::proto::CloseCode;

use crate::http::Response;

/// How a connection ended, as the core's close event told.
#[derive(Debug, Clone)]
pub struct Closed {
    /// The close code.
    pub code: u16,
    /// The close reason.
    pub reason: String,
    /// The core's classification: both sides closed with 1000, 1001 or 1005.
    pub normal: bool,
    /// The peer's close frame, if any.
    pub rcvd: Option<(u16, String)>,
    /// Our close frame, if any.
    pub sent: Option<(u16, String)>,
    /// With both frames: whether the peer's came first.
    pub rcvd_then_sent: Option<bool>,
    /// The failure that ended the connection, if any.
    pub error: Option<Error>,
}

impl Closed {
    /// Whether the end counts as normal (iteration stops quietly on it).
    pub fn ok(&self) -> bool {
        self.normal
    }
}

fn class<'py>(py: Python<'py>, name: &'static str) -> PyResult<Bound<'py, PyType>> {
    static MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    let module = MODULE.get_or_try_init(py, || py.import("wsx.exceptions").map(Bound::unbind))?;
    module
        .bind(py)
        .getattr(name)?
        .cast_into::<PyType>()
        .map_err(PyErr::from)
}

fn make<'py>(py: Python<'py>, name: &'static str, args: impl pyo3::call::PyCallArgs<'py>) -> PyErr {
    match class(py, name).and_then(|cls| cls.call1(args)) {
        Ok(value) => PyErr::from_value(value),
        Err(err) => err,
    }
}

/// The exception for a core error raised by a call or during the opening
/// handshake.
pub fn to_py(py: Python<'_>, error: &Error) -> PyErr {
    to_py_closing(py, error, None)
}

fn to_py_closing(py: Python<'_>, error: &Error, code: Option<u16>) -> PyErr {
    let msg = error.message().to_owned();
    match error.kind() {
        ErrorKind::InvalidArgument => make(py, "InvalidArgument", (msg,)),
        ErrorKind::Connect if refused(error.os_error()) => {
            make(py, "ConnectionRefused", (error.os_error(), msg))
        }
        ErrorKind::Dns
        | ErrorKind::Connect
        | ErrorKind::Io
        | ErrorKind::Proxy
        | ErrorKind::NotConnected => match error.os_error() {
            Some(errno) => make(py, "ConnectError", (errno, msg)),
            None => make(py, "ConnectError", (msg,)),
        },
        ErrorKind::Timeout => match error.which_timeout() {
            Some(Timeout::Keepalive | Timeout::Idle) => make(py, "KeepaliveTimeout", (msg,)),
            Some(Timeout::Close) => make(py, "CloseTimeout", (msg,)),
            _ => make(py, "OpenTimeout", (msg,)),
        },
        ErrorKind::Tls => make(py, "TLSError", (msg,)),
        ErrorKind::Handshake => match (error.response(), error.status()) {
            (Some(r), _) => match Response::new(py, r) {
                Ok(response) => make(py, "InvalidStatus", (response, msg)),
                Err(e) => e,
            },
            (None, Some(status)) => match Response::from_status(py, status) {
                Ok(response) => make(py, "InvalidStatus", (response, msg)),
                Err(e) => e,
            },
            (None, None) => make(py, "InvalidHandshake", (msg,)),
        },
        ErrorKind::Protocol if code == Some(CloseCode::MESSAGE_TOO_BIG.0) => {
            make(py, "PayloadTooBig", (msg,))
        }
        ErrorKind::Protocol => make(py, "ProtocolError", (msg,)),
        ErrorKind::Closed => make(py, "ConnectionClosedError", (CloseCode::ABNORMAL.0, msg)),
        ErrorKind::WouldBlock => make(py, "WouldBlock", (msg,)),
        // A kind added to the core later: still a WsxError, never a build break.
        #[allow(unreachable_patterns)]
        _ => make(py, "WsxError", (msg,)),
    }
}

/// `ConnectionClosedOK` or `ConnectionClosedError` for a closed connection,
/// with the failure (if any) as `__cause__`.
pub fn closed(py: Python<'_>, closed: &Closed) -> PyErr {
    let name = if closed.ok() {
        "ConnectionClosedOK"
    } else {
        "ConnectionClosedError"
    };
    let err = make(
        py,
        name,
        (
            closed.code,
            closed.reason.clone(),
            closed.rcvd.clone(),
            closed.sent.clone(),
            closed.rcvd_then_sent,
        ),
    );
    if let Some(cause) = &closed.error {
        err.set_cause(py, Some(to_py_closing(py, cause, Some(closed.code))));
    }
    err
}

/// Whether `errno` is the OS's "connection refused".
fn refused(errno: Option<i32>) -> bool {
    errno.is_some_and(|n| {
        std::io::Error::from_raw_os_error(n).kind() == std::io::ErrorKind::ConnectionRefused
    })
}

/// `InvalidURI` for a URL the core refused.
pub fn invalid_uri(py: Python<'_>, uri: &str, msg: String) -> PyErr {
    make(py, "InvalidURI", (uri.to_owned(), msg))
}
