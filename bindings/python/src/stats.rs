//! `_live_objects()`: the core's counts of live connections, servers and
//! event loops, so tests can check that everything Python let go of was
//! freed on the native side.

use pyo3::prelude::*;
use pyo3::types::PyDict;

/// The counts of live native objects in the process, as a dict with the
/// keys "connections", "servers" and "loops" (a debugging aid for leak
/// checks: exact once no other thread is using wsx).
#[pyfunction]
fn _live_objects(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let live = wsx_core::net::stats();
    let counts = PyDict::new(py);
    counts.set_item("connections", live.connections)?;
    counts.set_item("servers", live.servers)?;
    counts.set_item("loops", live.loops)?;
    Ok(counts)
}

/// Adds `_live_objects` to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_live_objects, m)?)
}
