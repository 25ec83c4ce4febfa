//! `Reconnect`: the policy of a client that reconnects by itself, passed as
//! `reconnect=`.

use std::time::Duration;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use wsx_core::net::ReconnectPolicy;

use crate::options::{py_bool, seconds};

/// When and how often a client reconnects, passed as `reconnect=`. The wait
/// before reconnect attempt n is drawn at random below
/// `min(max_delay, initial_delay * factor ** (n - 1))` seconds (full jitter;
/// `jitter=False` waits exactly that).
#[pyclass(module = "wsx._wsx", frozen, eq, get_all, skip_from_py_object)]
#[derive(Clone, PartialEq)]
pub struct Reconnect {
    /// The ceiling of the first wait, in seconds.
    initial_delay: f64,
    /// How much the ceiling grows per attempt.
    factor: f64,
    /// The largest ceiling, in seconds.
    max_delay: f64,
    /// Most attempts in a row without a lasting connection (None: forever).
    max_attempts: Option<u32>,
    /// A connection open this many seconds starts the backoff afresh.
    reset_after: f64,
    /// Retry after a 4xx refusal of the handshake.
    retry_on_4xx: bool,
    /// Bytes `send` may queue while disconnected (0: such sends raise).
    queue_while_disconnected: usize,
    /// Draw each wait at random below its ceiling.
    jitter: bool,
    /// The close codes after which the client reconnects (sorted).
    retry_codes: Vec<u16>,
}

impl Reconnect {
    /// The core's policy (checked by the constructor).
    pub fn policy(&self) -> PyResult<ReconnectPolicy> {
        Ok(ReconnectPolicy {
            initial_delay: seconds("initial_delay", self.initial_delay)?,
            factor: self.factor,
            max_delay: seconds("max_delay", self.max_delay)?,
            max_attempts: self.max_attempts,
            reset_after: seconds("reset_after", self.reset_after)?,
            retry_on_4xx: self.retry_on_4xx,
            queue_while_disconnected: self.queue_while_disconnected,
            jitter: self.jitter,
            retry_codes: self.retry_codes.clone(),
        })
    }
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

#[pymethods]
impl Reconnect {
    /// A policy with the core's defaults for every argument left out (0.5 s
    /// first wait, doubling up to 30 s, forever, reset after 10 s open, no
    /// retry on 4xx, no queue while disconnected, jitter, and reconnect
    /// after the close codes 1001, 1006, 1011, 1012, 1013 and 1014 unless
    /// the application closed). Raises `ValueError` for a negative duration
    /// and `InvalidArgument` (a `ValueError`) for what the core's rule
    /// refuses (a factor below 1 or not finite, an initial delay past the
    /// maximum, a retry code outside 1000-4999).
    #[new]
    #[pyo3(signature = (
        *, initial_delay=None, factor=None, max_delay=None, max_attempts=None, reset_after=None,
        retry_on_4xx=None, queue_while_disconnected=None, jitter=None, retry_codes=None
    ))]
    #[allow(clippy::too_many_arguments)] // mirrors Python's keyword arguments
    fn new(
        py: Python<'_>,
        initial_delay: Option<f64>,
        factor: Option<f64>,
        max_delay: Option<f64>,
        max_attempts: Option<u32>,
        reset_after: Option<f64>,
        retry_on_4xx: Option<bool>,
        queue_while_disconnected: Option<usize>,
        jitter: Option<bool>,
        retry_codes: Option<Vec<u16>>,
    ) -> PyResult<Reconnect> {
        let d = ReconnectPolicy::default();
        let mut retry_codes = retry_codes.unwrap_or(d.retry_codes);
        retry_codes.sort_unstable();
        retry_codes.dedup();
        ReconnectPolicy::check_retry_codes(&retry_codes)
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        let r = Reconnect {
            initial_delay: initial_delay.unwrap_or(secs(d.initial_delay)),
            factor: factor.unwrap_or(d.factor),
            max_delay: max_delay.unwrap_or(secs(d.max_delay)),
            max_attempts,
            reset_after: reset_after.unwrap_or(secs(d.reset_after)),
            retry_on_4xx: retry_on_4xx.unwrap_or(d.retry_on_4xx),
            queue_while_disconnected: queue_while_disconnected
                .unwrap_or(d.queue_while_disconnected),
            jitter: jitter.unwrap_or(d.jitter),
            retry_codes,
        };
        r.policy()?
            .validate()
            .map_err(|e| crate::errors::to_py(py, &e))?;
        Ok(r)
    }

    fn __repr__(&self) -> String {
        format!(
            "Reconnect(initial_delay={}, factor={}, max_delay={}, max_attempts={}, reset_after={}, \
             retry_on_4xx={}, queue_while_disconnected={}, jitter={}, retry_codes={:?})",
            self.initial_delay,
            self.factor,
            self.max_delay,
            self.max_attempts
                .map_or_else(|| "None".to_owned(), |n| n.to_string()),
            self.reset_after,
            py_bool(self.retry_on_4xx),
            self.queue_while_disconnected,
            py_bool(self.jitter),
            self.retry_codes
        )
    }
}
