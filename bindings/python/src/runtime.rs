//! The one native event loop of the process, started on first use; every
//! connection and server shares it. Blocking waits drive it on the waiting
//! thread ([`DrivenLoop`]); its background thread drives it while nobody
//! waits.

use std::sync::OnceLock;

use pyo3::prelude::*;
use wsx_core::net::{DrivenLoop, Error, LoopHandle};

static LOOP: OnceLock<Result<DrivenLoop, Error>> = OnceLock::new();

/// The handle of the shared loop, starting it if needed.
pub fn handle(py: Python<'_>) -> PyResult<&'static LoopHandle> {
    match LOOP.get_or_init(DrivenLoop::spawn) {
        Ok(driven) => Ok(driven.handle()),
        Err(e) => Err(crate::errors::to_py(py, e)),
    }
}

/// The shared loop, if it was started (every connection and server was
/// made on it).
pub fn driven() -> Option<&'static DrivenLoop> {
    LOOP.get().and_then(|r| r.as_ref().ok())
}
