//! The one conversion from the core's errors to the exceptions of
//! `wsx.exceptions`.

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;
use wsx_core::net::{Error, ErrorKind};
use wsx_core::proto::CloseCode;

/// How a connection ended.
#[derive(Debug, Clone)]
pub struct Closed {
    /// The close code.
    pub code: u16,
    /// The close reason.
    pub reason: String,
    /// Whether the close handshake completed.
    pub clean: bool,
    /// The failure that ended the connection, if any.
    pub error: Option<Error>,
}

impl Closed {
    /// Whether the end counts as normal (iteration stops quietly on it).
    pub fn ok(&self) -> bool {
        self.clean
            && matches!(
                CloseCode(self.code),
                CloseCode::NORMAL | CloseCode::GOING_AWAY | CloseCode::NO_STATUS
            )
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
        ErrorKind::Dns
        | ErrorKind::Connect
        | ErrorKind::Io
        | ErrorKind::Proxy
        | ErrorKind::NotConnected => make(py, "ConnectError", (msg,)),
        ErrorKind::Timeout => make(py, "OpenTimeout", (msg,)),
        ErrorKind::Tls => make(py, "TLSError", (msg,)),
        ErrorKind::Handshake => match error.status() {
            Some(status) => make(py, "InvalidStatus", (status, msg)),
            None => make(py, "InvalidHandshake", (msg,)),
        },
        ErrorKind::Protocol if code == Some(CloseCode::MESSAGE_TOO_BIG.0) => {
            make(py, "PayloadTooBig", (msg,))
        }
        ErrorKind::Protocol => make(py, "ProtocolError", (msg,)),
        ErrorKind::Closed => make(py, "ConnectionClosedError", (CloseCode::ABNORMAL.0, msg)),
        ErrorKind::WouldBlock => PyRuntimeError::new_err(msg),
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
    let err = make(py, name, (closed.code, closed.reason.clone()));
    if let Some(cause) = &closed.error {
        err.set_cause(py, Some(to_py_closing(py, cause, Some(closed.code))));
    }
    err
}

/// `InvalidURI` for a URL the core refused.
pub fn invalid_uri(py: Python<'_>, uri: &str, msg: String) -> PyErr {
    make(py, "InvalidURI", (uri.to_owned(), msg))
}
