//! Socket addresses as Python's `socket` module (and so `websockets`) gives
//! them: `(host, port)` for an IP address; for a Unix domain socket, its
//! path as a string, `""` when unnamed (a client's socket, as a server sees
//! it).

use pyo3::prelude::*;
use wsx_core::net::PeerAddr;

/// `addr` as Python reads it.
pub fn to_py(py: Python<'_>, addr: &PeerAddr) -> PyResult<Py<PyAny>> {
    Ok(match addr {
        PeerAddr::Ip(a) => (a.ip().to_string(), a.port())
            .into_pyobject(py)?
            .into_any()
            .unbind(),
        PeerAddr::Unix(path) => {
            let path = path
                .as_deref()
                .map(|p| p.to_string_lossy())
                .unwrap_or_default();
            path.into_pyobject(py)?.into_any().unbind()
        }
    })
}
