//! `broadcast`: one message to many connections, never waiting.

use pyo3::prelude::*;

use crate::connection::{Connection, Payload};

/// Queues `message` (`str`: text, bytes-like: binary) on every connection
/// of `connections` that can take it now, and returns the `(index,
/// exception)` of those skipped: `WouldBlock` when its send queue is past
/// the high-water mark, `ConnectionClosed` when closed or closing. The
/// message is extracted once; the GIL is released while sending.
#[pyfunction]
pub fn broadcast(
    py: Python<'_>,
    connections: Vec<PyRef<'_, Connection>>,
    message: &Bound<'_, PyAny>,
) -> PyResult<Vec<(usize, Py<PyAny>)>> {
    let payload = Payload::extract(message)?;
    let (kind, data) = payload.parts();
    let mut skipped = Vec::new();
    for (i, conn) in connections.iter().enumerate() {
        if let Err(e) = conn.send_now(py, kind, data) {
            skipped.push((i, e.into_value(py).into_any()));
        }
    }
    Ok(skipped)
}
