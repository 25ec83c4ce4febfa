//! Python keyword options turned into the core's configurations.

use std::path::PathBuf;
use std::time::Duration;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use wsx_core::net::{
    ClientAuth, ClientConfig, InboxLimits, Keepalive, ProxyConfig, ReconnectPolicy, ServerConfig,
    SlowSubscriber, TlsClientConfig, TlsServerConfig,
};
use wsx_core::proto::DeflateConfig;

/// What `None` means for a timeout: so long that it never passes.
const FOREVER: Duration = Duration::from_secs(365 * 24 * 3600);

/// The core's defaults of the options `connect` and `serve` take, in
/// Python's units (seconds, bytes), from `wsx._wsx.defaults()`: the `wsx`
/// package writes no default of its own.
#[pyclass(module = "wsx._wsx", frozen, get_all, skip_from_py_object)]
#[derive(Debug, Clone)]
pub struct Defaults {
    /// The address a server listens on.
    host: String,
    /// The port a server listens on (0: a free one).
    port: u16,
    /// Time for the TCP connect and for the handshake, in seconds.
    open_timeout: f64,
    /// Time between keepalive pings, in seconds.
    ping_interval: f64,
    /// Time to wait for a keepalive pong, in seconds.
    ping_timeout: f64,
    /// Time to wait for the close handshake, in seconds.
    close_timeout: f64,
    /// Largest message accepted, in bytes.
    max_size: usize,
    /// Most open connections of a server at once.
    max_connections: usize,
    max_queue: usize,
    client_compression: bool,
    server_compression: bool,
    /// Event loops (threads) a server spreads its connections over.
    loops: usize,
}

#[pymethods]
impl Defaults {
    fn __repr__(&self) -> String {
        format!(
            "Defaults(host={:?}, port={}, open_timeout={}, ping_interval={}, ping_timeout={}, \
             close_timeout={}, max_size={}, max_connections={}, max_queue={}, \
             client_compression={}, server_compression={}, loops={})",
            self.host,
            self.port,
            self.open_timeout,
            self.ping_interval,
            self.ping_timeout,
            self.close_timeout,
            self.max_size,
            self.max_connections,
            self.max_queue,
            py_bool(self.client_compression),
            py_bool(self.server_compression),
            self.loops
        )
    }
}

/// The core's defaults of the options of `connect` and `serve`.
#[pyfunction]
pub fn defaults() -> Defaults {
    let (c, s) = (ClientConfig::default(), ServerConfig::default());
    let keepalive = c.keepalive.unwrap_or_default();
    Defaults {
        host: s.host,
        port: s.port,
        open_timeout: c.handshake_timeout.as_secs_f64(),
        ping_interval: keepalive.interval.as_secs_f64(),
        ping_timeout: keepalive.timeout.as_secs_f64(),
        close_timeout: c.close_timeout.as_secs_f64(),
        max_size: c.protocol.max_message_size,
        max_connections: s.max_connections,
        max_queue: InboxLimits::default().high_messages,
        client_compression: c.compression.is_some(),
        server_compression: s.compression.is_some(),
        loops: s.loops,
    }
}

/// `t` seconds as a duration; negative, too large or not-a-number (what a
/// duration cannot hold) is a `ValueError` naming the argument. Range rules
/// (more than 0, ...) are the core's.
pub fn seconds(name: &str, t: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(t)
        .map_err(|_| PyValueError::new_err(format!("{name} is not a duration: {t} s")))
}

/// `True` or `False`, for `__repr__`.
pub fn py_bool(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

/// A timeout in seconds; `None`: one that never passes.
pub fn timeout(name: &str, t: Option<f64>) -> PyResult<Duration> {
    t.map_or(Ok(FOREVER), |t| seconds(name, t))
}

/// Keepalive from `ping_interval` (`None`: off) and `ping_timeout` (`None`: no limit).
pub fn keepalive(interval: Option<f64>, wait: Option<f64>) -> PyResult<Option<Keepalive>> {
    interval
        .map(|i| {
            Ok(Keepalive {
                interval: seconds("ping_interval", i)?,
                timeout: timeout("ping_timeout", wait)?,
            })
        })
        .transpose()
}

/// The core's inbox for `max_queue`: `(high, low)` messages (`low` None:
/// the core's default for `high`), or `None` for no bound. The core
/// validates the marks.
pub fn inbox(max_queue: Option<(i64, Option<i64>)>) -> PyResult<InboxLimits> {
    let count = |n: i64| {
        usize::try_from(n).map_err(|_| {
            PyValueError::new_err(format!("max_queue counts messages: {n} is not a count"))
        })
    };
    Ok(match max_queue {
        Some((high, low)) => InboxLimits::messages(count(high)?, low.map(count).transpose()?),
        None => InboxLimits::unbounded(),
    })
}

/// The core's refusal of a configuration, naming the Python option where
/// the core names its own field (the inbox is `max_queue`).
pub fn refused(py: Python<'_>, e: &wsx_core::net::Error) -> PyErr {
    if e.kind() == wsx_core::net::ErrorKind::InvalidArgument && e.message().contains("inbox") {
        let message = format!("max_queue: {}", e.message());
        let e = wsx_core::net::Error::new(e.kind(), message);
        return crate::errors::to_py(py, &e);
    }
    crate::errors::to_py(py, e)
}

/// Options shared by clients and servers.
pub struct Common {
    pub open_timeout: Option<f64>,
    pub ping_interval: Option<f64>,
    pub ping_timeout: Option<f64>,
    pub close_timeout: Option<f64>,
    /// `None`: no limit.
    pub max_size: Option<usize>,
}

/// Client options beyond [`Common`].
pub struct Client {
    pub subprotocols: Vec<String>,
    pub headers: Vec<(String, String)>,
    pub origin: Option<String>,
    pub ca_file: Option<PathBuf>,
    /// A client certificate chain and its key (PEM files), for mutual TLS.
    pub client_cert: Option<(PathBuf, PathBuf)>,
    pub verify: bool,
    /// permessage-deflate to offer (`None`: none).
    pub compression: Option<DeflateConfig>,
    /// Reconnect when the connection drops (`None`: never).
    pub reconnect: Option<ReconnectPolicy>,
    /// A proxy to connect through.
    pub proxy: Option<ProxyConfig>,
    /// Take the proxy from `https_proxy` / `http_proxy` / `all_proxy` and
    /// `no_proxy` when `proxy` is `None`.
    pub proxy_from_env: bool,
}

/// Server options beyond [`Common`].
pub struct Server {
    pub host: String,
    pub port: u16,
    pub subprotocols: Vec<String>,
    pub origins: Option<Vec<String>>,
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    /// Mutual TLS: client certificates asked for and verified.
    pub client_auth: Option<ClientAuth>,
    pub max_connections: Option<usize>,
    /// permessage-deflate to accept (`None`: refuse it).
    pub compression: Option<DeflateConfig>,
    /// What publishing does with a subscriber whose send queue is full.
    pub slow_subscriber: SlowSubscriber,
}

impl Common {
    fn protocol(&self, mut p: wsx_core::proto::Config) -> wsx_core::proto::Config {
        let max = self.max_size.unwrap_or(usize::MAX);
        p.max_message_size = max;
        p.max_frame_size = max;
        p
    }
}

/// The core's client configuration.
pub fn client(common: &Common, c: Client) -> PyResult<ClientConfig> {
    let defaults = ClientConfig::default();
    let open = timeout("open_timeout", common.open_timeout)?;
    Ok(ClientConfig {
        protocol: common.protocol(defaults.protocol.clone()),
        subprotocols: c.subprotocols,
        headers: c.headers,
        origin: c.origin,
        connect_timeout: open,
        handshake_timeout: open,
        close_timeout: timeout("close_timeout", common.close_timeout)?,
        keepalive: keepalive(common.ping_interval, common.ping_timeout)?,
        tls: TlsClientConfig {
            ca_file: c.ca_file,
            client_cert: c.client_cert,
            danger_disable_verification: !c.verify,
        },
        compression: c.compression,
        reconnect: c.reconnect,
        proxy: c.proxy,
        proxy_from_env: c.proxy_from_env,
        ..defaults
    })
}

/// Mutual TLS from `client_ca_file` (on when given), `client_cert_required`
/// and `client_crl_file`.
pub fn client_auth(
    ca_file: Option<PathBuf>,
    required: bool,
    crl_file: Option<PathBuf>,
) -> PyResult<Option<ClientAuth>> {
    match ca_file {
        Some(ca_file) => Ok(Some(ClientAuth {
            ca_file,
            required,
            crl_files: crl_file.into_iter().collect(),
        })),
        None if crl_file.is_some() => Err(PyValueError::new_err(
            "client_crl_file needs client_ca_file (the CA client certificates are checked against)",
        )),
        None => Ok(None),
    }
}

/// The core's server configuration.
pub fn server(common: &Common, s: Server) -> PyResult<ServerConfig> {
    let defaults = ServerConfig::default();
    let tls = match (s.cert_file, s.key_file) {
        (Some(cert_file), Some(key_file)) => Some(TlsServerConfig {
            cert_file,
            key_file,
            client_auth: s.client_auth,
        }),
        (None, None) if s.client_auth.is_some() => {
            return Err(PyValueError::new_err(
                "client_ca_file needs TLS: give cert_file and key_file too",
            ));
        }
        (None, None) => None,
        _ => return Err(PyValueError::new_err("cert_file and key_file go together")),
    };
    Ok(ServerConfig {
        protocol: common.protocol(defaults.protocol.clone()),
        host: s.host,
        port: s.port,
        subprotocols: s.subprotocols,
        origins: s.origins,
        tls,
        max_connections: s.max_connections.unwrap_or(defaults.max_connections),
        handshake_timeout: timeout("open_timeout", common.open_timeout)?,
        close_timeout: timeout("close_timeout", common.close_timeout)?,
        keepalive: keepalive(common.ping_interval, common.ping_timeout)?,
        compression: s.compression,
        slow_subscriber: s.slow_subscriber,
        ..defaults
    })
}
