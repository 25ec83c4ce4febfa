//! `Cluster`: a server joins a cluster of servers that share their topics
//! through Redis (`serve(..., cluster=wsx.Cluster(url))`, or a plain URL).
//! Its `on_state` and `on_gap` callbacks run on the network thread; its
//! `state`, `stats()` and `node_id` read the server's link at any time.

use std::path::PathBuf;
use std::sync::OnceLock;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use wsx_core::net::{
    ClusterConfig, ClusterGap as CoreGap, ClusterState, Conn, Error, Handler, QueueFull, Refusal,
    Server, ServerHandler, SlowSubscriber, Upgrade,
};

use crate::options::seconds;
use crate::reconnect::Reconnect;

/// How a server joins a cluster, passed as `serve(..., cluster=)`.
/// Publications of any server of the cluster reach the subscribers of all;
/// Redis pub/sub delivers at most once, so lost publications are reported
/// (`on_gap`) for the application to resynchronise its clients.
#[pyclass(module = "wsx._wsx", frozen)]
pub struct Cluster {
    config: ClusterConfig,
    on_state: Option<Py<PyAny>>,
    on_gap: Option<Py<PyAny>>,
    /// The server using it, once `serve` started one (one per cluster object).
    server: OnceLock<Server>,
}

fn state_name(state: ClusterState) -> &'static str {
    match state {
        ClusterState::Connecting => "connecting",
        ClusterState::Up => "up",
        ClusterState::Down => "down",
        ClusterState::Resubscribing => "resubscribing",
    }
}

/// Publications of another server to a topic that were lost (`on_gap`).
#[pyclass(module = "wsx._wsx", frozen, get_all)]
pub struct ClusterGap {
    /// The topic.
    topic: String,
    /// The publishing server's node id.
    node: String,
    /// The publisher's epoch now.
    epoch: u64,
    /// The epoch before, when the publisher restarted (None otherwise).
    previous_epoch: Option<u64>,
    /// The sequence number expected next.
    expected: u64,
    /// The sequence number that arrived.
    received: u64,
    /// How many publications were lost; None when the publisher restarted.
    missed: Option<u64>,
}

#[pymethods]
impl ClusterGap {
    fn __repr__(&self) -> String {
        format!(
            "ClusterGap(topic={:?}, node={:?}, missed={})",
            self.topic,
            self.node,
            self.missed
                .map_or_else(|| "None".to_owned(), |n| n.to_string())
        )
    }
}

#[pymethods]
impl Cluster {
    /// `url` is `redis://[[user]:password@]host[:port][/db]` (`rediss://`
    /// for TLS). `prefix` starts every Redis channel name (so applications
    /// can share a Redis); `node_id` names this server (random by default);
    /// `sharded` uses SPUBLISH/SSUBSCRIBE (Redis 7; against a Redis Cluster
    /// each channel goes to the master of its hash slot); `reconnect` is the
    /// backoff of the link (a `wsx.Reconnect`); at most `max_queued`
    /// publications (`max_queued_bytes` bytes) wait for Redis, the oldest
    /// dropped past that (`queue_full="drop_newest"` drops the new one).
    /// `ca_file` (PEM) adds CA certificates to trust for `rediss://` (a
    /// Redis with a private CA).
    /// `on_state(state, detail)` gets "up", "down" or "resubscribing";
    /// `on_gap(gap)` a `ClusterGap`. The URL is checked by `serve`.
    #[new]
    #[pyo3(signature = (
        url, *, prefix=None, node_id=None, sharded=false, reconnect=None, max_queued=None,
        max_queued_bytes=None, queue_full="drop_oldest", connect_timeout=None, keepalive=None,
        ca_file=None, on_state=None, on_gap=None
    ))]
    #[allow(clippy::too_many_arguments)] // mirrors Python's keyword arguments
    fn new(
        url: String,
        prefix: Option<String>,
        node_id: Option<String>,
        sharded: bool,
        reconnect: Option<PyRef<'_, Reconnect>>,
        max_queued: Option<usize>,
        max_queued_bytes: Option<usize>,
        queue_full: &str,
        connect_timeout: Option<f64>,
        keepalive: Option<f64>,
        ca_file: Option<PathBuf>,
        on_state: Option<Py<PyAny>>,
        on_gap: Option<Py<PyAny>>,
    ) -> PyResult<Cluster> {
        let d = ClusterConfig::default();
        let queue_full = match queue_full {
            "drop_oldest" => QueueFull::DropOldest,
            "drop_newest" => QueueFull::DropNewest,
            other => {
                return Err(PyValueError::new_err(format!(
                    "queue_full is \"drop_oldest\" or \"drop_newest\", not {other:?}"
                )));
            }
        };
        let mut config = ClusterConfig {
            url,
            prefix: prefix.unwrap_or(d.prefix.clone()),
            node_id,
            sharded,
            reconnect: match reconnect {
                Some(r) => r.policy()?,
                None => d.reconnect.clone(),
            },
            max_queued: max_queued.unwrap_or(d.max_queued),
            max_queued_bytes: max_queued_bytes.unwrap_or(d.max_queued_bytes),
            queue_full,
            connect_timeout: match connect_timeout {
                Some(t) => seconds("connect_timeout", t)?,
                None => d.connect_timeout,
            },
            keepalive: match keepalive {
                Some(t) => seconds("keepalive", t)?,
                None => d.keepalive,
            },
            ..d
        };
        config.tls.ca_file = ca_file;
        Ok(Cluster {
            config,
            on_state,
            on_gap,
            server: OnceLock::new(),
        })
    }

    /// The URL of the Redis.
    #[getter]
    fn url(&self) -> &str {
        &self.config.url
    }

    /// The state of the server's link to Redis: "connecting", "up", "down"
    /// or "resubscribing"; None before `serve` used this cluster.
    #[getter]
    fn state(&self) -> Option<&'static str> {
        let state = self.server.get()?.cluster_state()?;
        Some(state_name(state))
    }

    /// This server's node id (None before `serve` used this cluster, unless
    /// one was given).
    #[getter]
    fn node_id(&self) -> Option<String> {
        match self.server.get() {
            Some(server) => server.cluster_stats().map(|s| s.node_id),
            None => self.config.node_id.clone(),
        }
    }

    /// The figures of the link (state, node_id, epoch, published, received,
    /// queued, dropped, gaps, disconnects, subscriptions) as a dict; None
    /// before `serve` used this cluster.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let Some(stats) = self.server.get().and_then(Server::cluster_stats) else {
            return Ok(None);
        };
        let d = PyDict::new(py);
        d.set_item("state", state_name(stats.state))?;
        d.set_item("node_id", stats.node_id)?;
        d.set_item("epoch", stats.epoch)?;
        d.set_item("published", stats.published)?;
        d.set_item("received", stats.received)?;
        d.set_item("queued", stats.queued)?;
        d.set_item("dropped", stats.dropped)?;
        d.set_item("gaps", stats.gaps)?;
        d.set_item("disconnects", stats.disconnects)?;
        d.set_item("subscriptions", stats.subscriptions)?;
        Ok(Some(d))
    }

    fn __repr__(&self) -> String {
        format!(
            "Cluster({:?}, prefix={:?}, state={})",
            self.config.url,
            self.config.prefix,
            self.state().unwrap_or("None")
        )
    }
}

impl Cluster {
    /// Takes the cluster for a server about to start: its config, and a
    /// handler that adds its callbacks to `inner`. Raises `ValueError` if
    /// another server took it already.
    pub fn take(
        slf: &Py<Cluster>,
        py: Python<'_>,
        inner: Box<dyn ServerHandler>,
    ) -> PyResult<(ClusterConfig, Box<dyn ServerHandler>)> {
        let me = slf.get();
        if me.server.get().is_some() {
            return Err(PyValueError::new_err(
                "this wsx.Cluster serves another server already: make one per server",
            ));
        }
        let handler = WithCluster {
            inner,
            cluster: slf.clone_ref(py),
        };
        Ok((me.config.clone(), Box::new(handler)))
    }

    /// The server started with this cluster.
    pub fn started(&self, server: &Server) {
        let _ = self.server.set(server.clone());
    }
}

/// A server's handler plus the cluster's callbacks.
struct WithCluster {
    inner: Box<dyn ServerHandler>,
    cluster: Py<Cluster>,
}

/// Calls `callback(*args)` on the loop thread; an exception goes to
/// `sys.unraisablehook`.
fn call(callback: &Option<Py<PyAny>>, args: impl FnOnce(Python<'_>) -> PyResult<Py<PyAny>>) {
    let Some(callback) = callback else { return };
    Python::attach(|py| {
        let result = args(py).and_then(|args| {
            let args = args.bind(py).cast::<pyo3::types::PyTuple>()?.clone();
            callback.bind(py).call1(args).map(drop)
        });
        if let Err(e) = result {
            e.write_unraisable(py, Some(callback.bind(py)));
        }
    });
}

impl ServerHandler for WithCluster {
    fn on_upgrade(&mut self, upgrade: &mut Upgrade<'_>) -> Result<Box<dyn Handler>, Refusal> {
        self.inner.on_upgrade(upgrade)
    }
    fn on_error(&mut self, error: &Error) {
        self.inner.on_error(error);
    }
    fn on_shutdown(&mut self) {
        self.inner.on_shutdown();
    }
    fn on_slow_subscriber(&mut self, conn: &Conn, topic: &str, action: SlowSubscriber) {
        self.inner.on_slow_subscriber(conn, topic, action);
    }
    fn on_cluster_state(&mut self, state: ClusterState, detail: &str) {
        call(&self.cluster.get().on_state, |py| {
            Ok((state_name(state), detail)
                .into_pyobject(py)?
                .into_any()
                .unbind())
        });
    }
    fn on_cluster_gap(&mut self, gap: &CoreGap<'_>) {
        call(&self.cluster.get().on_gap, |py| {
            let gap = ClusterGap {
                topic: gap.topic.to_owned(),
                node: gap.node.to_owned(),
                epoch: gap.epoch,
                previous_epoch: gap.previous_epoch,
                expected: gap.expected,
                received: gap.received,
                missed: gap.missed(),
            };
            Ok((Py::new(py, gap)?,).into_pyobject(py)?.into_any().unbind())
        });
    }
}

/// What `Listener::start` does with `cluster=`: the server's config joins
/// the cluster and its handler gains the cluster's callbacks.
pub fn join(
    py: Python<'_>,
    cluster: Option<&Py<Cluster>>,
    mut config: wsx_core::net::ServerConfig,
    handler: Box<dyn ServerHandler>,
) -> PyResult<(wsx_core::net::ServerConfig, Box<dyn ServerHandler>)> {
    let Some(cluster) = cluster else {
        return Ok((config, handler));
    };
    let (cluster_config, handler) = Cluster::take(cluster, py, handler)?;
    config.cluster = Some(cluster_config);
    Ok((config, handler))
}
