//! The one native event loop of the process, started on first use and
//! running on a thread of its own; every connection and server shares it.

use std::sync::OnceLock;

use pyo3::prelude::*;
use wsx_core::net::{Error, EventLoop, LoopHandle, LoopThread};

static LOOP: OnceLock<Result<LoopThread, Error>> = OnceLock::new();

/// The handle of the shared loop, starting it if needed.
pub fn handle(py: Python<'_>) -> PyResult<&'static LoopHandle> {
    match LOOP.get_or_init(|| EventLoop::new().and_then(EventLoop::spawn)) {
        Ok(thread) => Ok(thread.handle()),
        Err(e) => Err(crate::errors::to_py(py, e)),
    }
}
