//! Publish/subscribe on a server: its connections subscribe to topics
//! (`ServerConnection.subscribe`), the server publishes to every subscriber
//! of a topic at once (`Listener.publish`, in `server.rs`); and `respond`,
//! the answer of `process_request` to a request.

use pyo3::prelude::*;
use wsx_core::net::SlowSubscriber;

use crate::connection::ServerConnection;
use crate::errors;
use crate::http::Response;

#[pymethods]
impl ServerConnection {
    /// A response to answer the request with from `process_request`
    /// instead of the handshake: `status` with `text` as a plain-text body
    /// (as in `websockets`). Return it from `process_request`.
    fn respond(&self, py: Python<'_>, status: u16, text: &str) -> PyResult<Response> {
        let mut response = Response::from_status(py, status)?;
        response.set_text(py, text)?;
        Ok(response)
    }

    /// Subscribes this connection to `topic`: messages its server publishes
    /// there from now on reach it. False if it was subscribed already.
    /// Closing the connection leaves all its topics. Raises
    /// `ConnectionClosed` once the connection is closing.
    fn subscribe(slf: PyRef<'_, Self>, py: Python<'_>, topic: &str) -> PyResult<bool> {
        let conn = slf.as_super().conn()?.clone();
        py.detach(|| conn.subscribe(topic))
            .map_err(|e| errors::to_py(py, &e))
    }

    /// Unsubscribes from `topic`; whether the connection was subscribed.
    fn unsubscribe(slf: PyRef<'_, Self>, py: Python<'_>, topic: &str) -> PyResult<bool> {
        let conn = slf.as_super().conn()?.clone();
        Ok(py.detach(|| conn.unsubscribe(topic)))
    }

    /// The topics this connection is subscribed to, sorted.
    #[getter]
    fn topics(slf: PyRef<'_, Self>) -> PyResult<Vec<String>> {
        let mut topics = slf.as_super().conn()?.topics();
        topics.sort_unstable();
        Ok(topics)
    }
}

/// `slow_subscriber` by name: `"skip"` or `"drop"`.
pub fn slow_subscriber(name: &str) -> PyResult<SlowSubscriber> {
    match name {
        "skip" => Ok(SlowSubscriber::Skip),
        "drop" => Ok(SlowSubscriber::Drop),
        _ => Err(pyo3::exceptions::PyValueError::new_err(format!(
            "slow_subscriber is \"skip\" or \"drop\", not {name:?}"
        ))),
    }
}
