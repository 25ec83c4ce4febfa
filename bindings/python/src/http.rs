//! The opening handshake as Python sees it: `Headers`, `Request`, `Response`.

use pyo3::exceptions::PyKeyError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use wsx_core::proto::handshake;

/// HTTP header fields in arrival order; names are matched case-insensitively.
/// `headers[name]` joins repeated fields with ", "; `get_all` lists them.
/// `headers[name] = value` adds a field (as in `websockets`), `del
/// headers[name]` removes every field of that name.
#[pyclass(module = "wsx._wsx", sequence, skip_from_py_object)]
#[derive(Debug, Clone)]
pub struct Headers {
    items: Vec<(String, String)>,
}

impl Headers {
    fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.items
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn joined(&self, name: &str) -> Option<String> {
        let values: Vec<&str> = self.values(name).collect();
        (!values.is_empty()).then(|| values.join(", "))
    }
}

impl Headers {
    /// Headers from a `Headers`, a mapping or `(name, value)` pairs.
    pub fn extract(value: Option<&Bound<'_, PyAny>>) -> PyResult<Headers> {
        let Some(value) = value.filter(|v| !v.is_none()) else {
            return Ok(Headers { items: Vec::new() });
        };
        if let Ok(h) = value.cast::<Headers>() {
            return Ok(h.borrow().clone());
        }
        let items = match value.cast::<PyDict>() {
            Ok(d) => d.items().extract()?,
            Err(_) => value.extract()?,
        };
        Ok(Headers { items })
    }

    /// Every `(name, value)` pair, in order.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.items
    }
}

impl From<&handshake::Headers> for Headers {
    fn from(h: &handshake::Headers) -> Headers {
        Headers { items: h.0.clone() }
    }
}

#[pymethods]
impl Headers {
    #[new]
    #[pyo3(signature = (items=None))]
    fn new(items: Option<Vec<(String, String)>>) -> Headers {
        Headers {
            items: items.unwrap_or_default(),
        }
    }

    fn __setitem__(&mut self, name: String, value: String) {
        self.items.push((name, value));
    }

    fn __delitem__(&mut self, name: &str) -> PyResult<()> {
        let before = self.items.len();
        self.items.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        if self.items.len() == before {
            return Err(PyKeyError::new_err(name.to_owned()));
        }
        Ok(())
    }

    fn __getitem__(&self, name: &str) -> PyResult<String> {
        self.joined(name)
            .ok_or_else(|| PyKeyError::new_err(name.to_owned()))
    }

    /// The value of `name` (repeated fields joined with ", "), or `default`.
    #[pyo3(signature = (name, default=None))]
    fn get(&self, name: &str, default: Option<String>) -> Option<String> {
        self.joined(name).or(default)
    }

    /// Every value of `name`, in order.
    fn get_all(&self, name: &str) -> Vec<String> {
        self.values(name).map(str::to_owned).collect()
    }

    /// Every `(name, value)` pair, in order.
    fn items(&self) -> Vec<(String, String)> {
        self.items.clone()
    }

    /// Every field name, in order (repeated names repeat).
    fn keys(&self) -> Vec<String> {
        self.items.iter().map(|(k, _)| k.clone()).collect()
    }

    fn __contains__(&self, name: &str) -> bool {
        self.values(name).next().is_some()
    }

    fn __len__(&self) -> usize {
        self.items.len()
    }

    fn __iter__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(self
            .keys()
            .into_pyobject(py)?
            .try_iter()?
            .into_any()
            .unbind())
    }

    fn __repr__(&self) -> String {
        format!("Headers({:?})", self.items)
    }
}

/// A handshake request, as a server received it.
#[pyclass(module = "wsx._wsx", frozen, get_all)]
#[derive(Debug)]
pub struct Request {
    /// The request target: path and query.
    pub path: String,
    /// The request's headers.
    pub headers: Py<Headers>,
    /// The subprotocols the client offered, in its order (as the core
    /// parsed `Sec-WebSocket-Protocol`).
    pub subprotocols: Vec<String>,
}

impl Request {
    /// The Python view of a core request.
    pub fn new(py: Python<'_>, r: &handshake::Request) -> PyResult<Request> {
        Ok(Request {
            path: r.path.clone(),
            headers: Py::new(py, Headers::from(&r.headers))?,
            subprotocols: r.subprotocols().into_iter().map(str::to_owned).collect(),
        })
    }
}

#[pymethods]
impl Request {
    fn __repr__(&self) -> String {
        format!("Request(path={:?})", self.path)
    }
}

/// An HTTP response: the one a client received for its handshake, or one a
/// server's `process_request` answers with instead of the handshake
/// (`Response(200, "OK", headers, b"body")`, or `connection.respond(status,
/// text)`).
#[pyclass(module = "wsx._wsx", frozen)]
#[derive(Debug)]
pub struct Response {
    /// The HTTP status code (101 for an accepted handshake).
    #[pyo3(get)]
    pub status_code: u16,
    /// The reason phrase.
    #[pyo3(get)]
    pub reason_phrase: String,
    /// The response's headers.
    #[pyo3(get)]
    pub headers: Py<Headers>,
    body: Vec<u8>,
}

impl Response {
    /// The Python view of a core response.
    pub fn new(py: Python<'_>, r: &handshake::Response) -> PyResult<Response> {
        Ok(Response {
            status_code: r.status,
            reason_phrase: r.reason.clone(),
            headers: Py::new(py, Headers::from(&r.headers))?,
            body: r.body.clone(),
        })
    }

    /// A response known only by its status (no headers, no body).
    pub fn from_status(py: Python<'_>, status: u16) -> PyResult<Response> {
        Ok(Response {
            status_code: status,
            reason_phrase: handshake::reason_phrase(status).to_owned(),
            headers: Py::new(py, Headers { items: Vec::new() })?,
            body: Vec::new(),
        })
    }

    /// A `text/plain; charset=utf-8` body.
    pub fn set_text(&mut self, py: Python<'_>, text: &str) -> PyResult<()> {
        self.headers = Py::new(
            py,
            Headers {
                items: vec![(
                    "Content-Type".to_owned(),
                    "text/plain; charset=utf-8".to_owned(),
                )],
            },
        )?;
        self.body = text.as_bytes().to_vec();
        Ok(())
    }

    /// The status, headers and body, to answer a request with.
    pub fn parts(&self, py: Python<'_>) -> (u16, Vec<(String, String)>, Vec<u8>) {
        let headers = self.headers.bind(py).borrow().items.clone();
        (self.status_code, headers, self.body.clone())
    }
}

#[pymethods]
impl Response {
    /// `reason_phrase` defaults to the status's standard phrase; `headers`
    /// is a `Headers`, a mapping or pairs.
    #[new]
    #[pyo3(signature = (status_code, reason_phrase=None, headers=None, body=Vec::new()))]
    fn py_new(
        py: Python<'_>,
        status_code: u16,
        reason_phrase: Option<String>,
        headers: Option<&Bound<'_, PyAny>>,
        body: Vec<u8>,
    ) -> PyResult<Response> {
        Ok(Response {
            status_code,
            reason_phrase: reason_phrase
                .unwrap_or_else(|| handshake::reason_phrase(status_code).to_owned()),
            headers: Py::new(py, Headers::extract(headers)?)?,
            body,
        })
    }

    /// The body (empty for a 101).
    #[getter]
    fn body<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.body)
    }

    fn __repr__(&self) -> String {
        format!(
            "Response(status_code={}, reason_phrase={:?})",
            self.status_code, self.reason_phrase
        )
    }
}
