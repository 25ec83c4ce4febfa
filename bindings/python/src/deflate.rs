//! `Deflate`: the permessage-deflate (RFC 7692) settings a Python user passes
//! as `compression=`.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use wsx_core::proto::DeflateConfig;

use crate::options::py_bool;

/// permessage-deflate settings (RFC 7692), passed as `compression=`.
/// Window sizes are powers of two (8 to 15); `level` is zlib's (0 to 9);
/// messages shorter than `threshold` bytes are sent uncompressed.
#[pyclass(module = "wsx._wsx", frozen, eq, get_all, skip_from_py_object)]
#[derive(Clone, PartialEq)]
pub struct Deflate {
    /// Largest window of the client's compressor (offered by a client,
    /// imposed by a server).
    client_max_window_bits: u8,
    /// Largest window of the server's compressor.
    server_max_window_bits: u8,
    /// The client's compressor starts afresh for every message.
    client_no_context_takeover: bool,
    /// The server's compressor starts afresh for every message.
    server_no_context_takeover: bool,
    /// Compression level, 0 (stored) to 9 (smallest).
    level: u32,
    /// Messages shorter than this many bytes are sent uncompressed.
    threshold: usize,
    /// A server compresses with its loop's one shared compressor (asking
    /// for `server_no_context_takeover`): no compressor per connection.
    shared_compressor: bool,
}

impl Deflate {
    /// The core's settings.
    pub fn config(&self) -> DeflateConfig {
        DeflateConfig {
            client_max_window_bits: self.client_max_window_bits,
            server_max_window_bits: self.server_max_window_bits,
            client_no_context_takeover: self.client_no_context_takeover,
            server_no_context_takeover: self.server_no_context_takeover,
            level: self.level,
            threshold: self.threshold,
            shared_compressor: self.shared_compressor,
        }
    }
}

#[pymethods]
impl Deflate {
    /// Settings with the core's defaults for every argument left out (15-bit
    /// windows, context takeover, level 6, threshold 64 bytes, no shared
    /// compressor). Raises `ValueError` for a window outside 8-15, a level
    /// above 9, or `shared_compressor` with an 8-bit server window (`connect`
    /// raises it for `shared_compressor`, a server setting).
    #[new]
    #[pyo3(signature = (
        *, client_max_window_bits=None, server_max_window_bits=None,
        client_no_context_takeover=false, server_no_context_takeover=false, level=None, threshold=None,
        shared_compressor=false
    ))]
    fn new(
        client_max_window_bits: Option<u8>,
        server_max_window_bits: Option<u8>,
        client_no_context_takeover: bool,
        server_no_context_takeover: bool,
        level: Option<u32>,
        threshold: Option<usize>,
        shared_compressor: bool,
    ) -> PyResult<Deflate> {
        let d = DeflateConfig::default();
        let config = DeflateConfig {
            client_max_window_bits: client_max_window_bits.unwrap_or(d.client_max_window_bits),
            server_max_window_bits: server_max_window_bits.unwrap_or(d.server_max_window_bits),
            client_no_context_takeover,
            server_no_context_takeover,
            level: level.unwrap_or(d.level),
            threshold: threshold.unwrap_or(d.threshold),
            shared_compressor,
        };
        config.check().map_err(PyValueError::new_err)?;
        Ok(Deflate {
            client_max_window_bits: config.client_max_window_bits,
            server_max_window_bits: config.server_max_window_bits,
            client_no_context_takeover,
            server_no_context_takeover,
            level: config.level,
            threshold: config.threshold,
            shared_compressor,
        })
    }

    fn __repr__(&self) -> String {
        format!(
            "Deflate(client_max_window_bits={}, server_max_window_bits={}, \
             client_no_context_takeover={}, server_no_context_takeover={}, level={}, threshold={}, \
             shared_compressor={})",
            self.client_max_window_bits,
            self.server_max_window_bits,
            py_bool(self.client_no_context_takeover),
            py_bool(self.server_no_context_takeover),
            self.level,
            self.threshold,
            py_bool(self.shared_compressor)
        )
    }
}
