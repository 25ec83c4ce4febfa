//! The opening handshake as Python sees it: `Headers`, `Request`, `Response`.

use pyo3::exceptions::PyKeyError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use wsx_core::proto::handshake;

/// HTTP header fields in arrival order; names are matched case-insensitively.
/// `headers[name]` joins repeated fields with ", "; `get_all` lists them.
#[pyclass(module = "wsx._wsx", frozen, sequence)]
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
}

impl Request {
    /// The Python view of a core request.
    pub fn new(py: Python<'_>, r: &handshake::Request) -> PyResult<Request> {
        Ok(Request {
            path: r.path.clone(),
            headers: Py::new(py, Headers::from(&r.headers))?,
        })
    }
}

#[pymethods]
impl Request {
    fn __repr__(&self) -> String {
        format!("Request(path={:?})", self.path)
    }
}

/// A handshake response, as a client received it.
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
}

#[pymethods]
impl Response {
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
