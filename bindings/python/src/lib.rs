//! Python binding of wsx: the native module `wsx._wsx`, binding the Rust core
//! (`wsx_core::net`) directly. The public Python API lives in the `wsx`
//! package, which wraps this module.
//!
//! One native event loop per process runs on a thread of its own (started on
//! first use). Its handlers only record events into per-connection mailboxes
//! and never take the GIL: Python hooks (`process_request`,
//! `before_connect`, ...) run on threads of their own.
//! Python threads wait on those mailboxes with the GIL released; asyncio
//! loops are woken through a socket (`Hub`).

mod address;
mod broadcast;
mod cluster;
mod connection;
mod deflate;
mod errors;
mod events;
mod http;
mod mailbox;
mod notifier;
mod options;
mod protocol;
mod pubsub;
mod reconnect;
mod resolver;
mod runtime;
mod server;
mod stats;
mod telemetry;

use std::path::PathBuf;

use pyo3::prelude::*;
use wsx_core::net::ProxyConfig;
use wsx_core::proto::WsUrl;

use connection::{ClientConnection, Connection, PongWaiter, ServerConnection};
use deflate::Deflate;
use events::{ConnHandler, ConnShared};
use http::{Headers, Request, Response};
use notifier::Hub;
use reconnect::Reconnect;
use server::Listener;

/// Starts a client connection to `uri` and returns at once; wait for the
/// handshake with `_wait_open()` (sync) or `_poll_open()` (asyncio). The
/// timeouts and `max_size` have no default here: the `wsx` package passes
/// them, defaulting to `defaults()`. The core validates every option and
/// its error is raised here.
#[pyfunction]
#[pyo3(signature = (
    uri, *, open_timeout, ping_interval, ping_timeout, close_timeout, max_size,
    subprotocols=Vec::new(), headers=Vec::new(), origin=None, ca_file=None, verify=true, max_queue=None, compression=None, reconnect=None, proxy=None,
    proxy_from_env=false, before_connect=None, client_cert=None, resolver=None, unix_socket_path=None
))]
#[allow(clippy::too_many_arguments)] // mirrors Python's keyword arguments
fn open_client(
    py: Python<'_>,
    uri: &str,
    open_timeout: Option<f64>,
    ping_interval: Option<f64>,
    ping_timeout: Option<f64>,
    close_timeout: Option<f64>,
    max_size: Option<usize>,
    subprotocols: Vec<String>,
    headers: Vec<(String, String)>,
    origin: Option<String>,
    ca_file: Option<PathBuf>,
    verify: bool,
    max_queue: Option<(i64, Option<i64>)>,
    compression: Option<Py<Deflate>>,
    reconnect: Option<Py<Reconnect>>,
    proxy: Option<String>,
    proxy_from_env: bool,
    before_connect: Option<Py<PyAny>>,
    client_cert: Option<(PathBuf, PathBuf)>,
    resolver: Option<Py<PyAny>>,
    unix_socket_path: Option<PathBuf>,
) -> PyResult<Py<ClientConnection>> {
    WsUrl::parse(uri).map_err(|e| errors::invalid_uri(py, uri, e.to_string()))?;
    let common = options::Common {
        open_timeout,
        ping_interval,
        ping_timeout,
        close_timeout,
        max_size,
    };
    let client = options::Client {
        subprotocols,
        headers,
        origin,
        ca_file,
        client_cert,
        verify,
        compression: compression.map(|d| d.get().config()),
        reconnect: reconnect.map(|r| r.get().policy()).transpose()?,
        proxy: proxy
            .as_deref()
            .map(ProxyConfig::parse)
            .transpose()
            .map_err(|e| errors::to_py(py, &e))?,
        proxy_from_env,
    };
    let mut config = options::client(&common, client)?;
    config.inbox = Some(options::inbox(max_queue)?);
    config.resolver = resolver.map(resolver::resolver);
    config.unix_socket_path = unix_socket_path;
    let handle = runtime::handle(py)?;
    let shared = ConnShared::new();
    let handler =
        Box::new(ConnHandler::new(shared.clone(), None).with_before_connect(before_connect));
    let conn = py
        .detach(|| handle.connect(uri, config, handler))
        .map_err(|e| options::refused(py, &e))?;
    let _ = shared.conn.set(conn);
    Connection::client(py, shared)
}

/// Starts a server listening on `host:port` (0 picks a free port), or on
/// the Unix domain socket `unix_socket_path`. As for `open_client`, the
/// timeouts and `max_size` have no default here.
#[pyfunction]
#[pyo3(signature = (
    host, port, *, max_size, open_timeout, ping_interval, ping_timeout, close_timeout,
    subprotocols=Vec::new(), origins=None, decide=None, answers_http=false, cert_file=None, key_file=None,
    client_ca_file=None, client_cert_required=true, client_crl_file=None, max_connections=None, max_queue=None, compression=None, slow_subscriber="skip", cluster=None,
    unix_socket_path=None, remove_stale_socket=false, reuse_port=false, loops=1
))]
#[allow(clippy::too_many_arguments)] // mirrors Python's keyword arguments
fn listen(
    py: Python<'_>,
    host: String,
    port: u16,
    max_size: Option<usize>,
    open_timeout: Option<f64>,
    ping_interval: Option<f64>,
    ping_timeout: Option<f64>,
    close_timeout: Option<f64>,
    subprotocols: Vec<String>,
    origins: Option<Vec<String>>,
    decide: Option<Py<PyAny>>,
    answers_http: bool,
    cert_file: Option<PathBuf>,
    key_file: Option<PathBuf>,
    client_ca_file: Option<PathBuf>,
    client_cert_required: bool,
    client_crl_file: Option<PathBuf>,
    max_connections: Option<usize>,
    max_queue: Option<(i64, Option<i64>)>,
    compression: Option<Py<Deflate>>,
    slow_subscriber: &str,
    cluster: Option<Py<cluster::Cluster>>,
    unix_socket_path: Option<PathBuf>,
    remove_stale_socket: bool,
    reuse_port: bool,
    loops: usize,
) -> PyResult<Listener> {
    let common = options::Common {
        open_timeout,
        ping_interval,
        ping_timeout,
        close_timeout,
        max_size,
    };
    let server = options::Server {
        host,
        port,
        subprotocols,
        origins,
        cert_file,
        key_file,
        client_auth: options::client_auth(client_ca_file, client_cert_required, client_crl_file)?,
        max_connections,
        compression: compression.map(|d| d.get().config()),
        slow_subscriber: pubsub::slow_subscriber(slow_subscriber)?,
    };
    let mut config = options::server(&common, server)?;
    config.inbox = Some(options::inbox(max_queue)?);
    config.unix_socket_path = unix_socket_path;
    config.remove_stale_socket = remove_stale_socket;
    config.reuse_port = reuse_port;
    config.loops = loops;
    Listener::start(py, config, decide, answers_http, cluster)
}

#[pymodule]
fn _wsx(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(open_client, m)?)?;
    m.add_function(wrap_pyfunction!(listen, m)?)?;
    m.add_function(wrap_pyfunction!(options::defaults, m)?)?;
    m.add_class::<options::Defaults>()?;
    m.add_class::<Connection>()?;
    m.add_class::<ClientConnection>()?;
    m.add_class::<ServerConnection>()?;
    m.add_class::<PongWaiter>()?;
    m.add_class::<Listener>()?;
    m.add_class::<server::Accept>()?;
    m.add_function(wrap_pyfunction!(broadcast::broadcast, m)?)?;
    m.add_class::<Headers>()?;
    m.add_class::<Request>()?;
    m.add_class::<Response>()?;
    m.add_class::<Hub>()?;
    m.add_class::<Deflate>()?;
    m.add_class::<Reconnect>()?;
    m.add_class::<protocol::Engine>()?;
    m.add_class::<cluster::Cluster>()?;
    m.add_class::<cluster::ClusterGap>()?;
    stats::register(m)?;
    telemetry::register(m)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
