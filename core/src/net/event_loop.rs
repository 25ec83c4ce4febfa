//! The event loop and the handles that start work on it: [`EventLoop`]
//! (poll it, or spawn it onto a thread of its own), [`LoopHandle`] (connect
//! and listen from any thread) and [`LoopThread`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::time::Duration;

use super::config::{ClientConfig, ServerConfig};
use super::error::{Error, ErrorKind};
use super::handle::{Conn, Server};
use super::handler::{Handler, ServerHandler};
use super::queue::{ConnectRequest, ListenRequest, LoopShared, Work};
use super::reactor::Reactor;
use super::shared::{ConnShared, LoopPart, ServerShared};
use super::spread::{self, SharedHandler};
use super::stats::Live;
use super::tls::{self, ClientTls};
use super::worker::Worker;
use super::{cluster, env_proxy, listener, redial, telemetry};
use crate::proto::{UnixUrl, WsUrl};

/// An event loop driving many connections and servers.
pub struct EventLoop {
    reactor: Reactor,
}

/// A handle to an [`EventLoop`], usable from any thread.
#[derive(Clone)]
pub struct LoopHandle {
    pub(super) shared: Arc<LoopShared>,
}

/// A loop running on a thread of its own; dropping it stops and joins it.
pub struct LoopThread {
    handle: LoopHandle,
    worker: Worker,
}

impl EventLoop {
    /// A new loop with no connections.
    pub fn new() -> Result<EventLoop, Error> {
        Ok(EventLoop {
            reactor: Reactor::new(Arc::new(AtomicU64::new(1)))?,
        })
    }
    /// A loop of a server spread over several, taking its ids from the
    /// server's home loop `home`.
    fn part_of(home: &LoopShared) -> Result<EventLoop, Error> {
        Ok(EventLoop {
            reactor: Reactor::new(home.ids())?,
        })
    }
    /// A handle for other threads.
    pub fn handle(&self) -> LoopHandle {
        LoopHandle {
            shared: self.reactor.shared.clone(),
        }
    }
    /// Does the ready I/O and due timers, runs the callbacks on this thread,
    /// then returns. Waits up to `timeout` for something to happen (`None`:
    /// until something does; `Some(ZERO)` never blocks).
    pub fn poll(&mut self, timeout: Option<Duration>) -> Result<(), Error> {
        self.reactor.poll(timeout)
    }
    /// Runs `f` as if on the loop's own thread: the work it queues (a send,
    /// a close) skips the wake-up and waits for [`run_queued`](Self::run_queued)
    /// or the next [`poll`](Self::poll). For a caller holding the loop.
    pub(super) fn queue_here<R>(&mut self, f: impl FnOnce() -> R) -> R {
        let _guard = self.reactor.shared.enter();
        f()
    }
    /// Sends a message of `conn` (on this loop) from a caller holding the
    /// loop, without queueing it when nothing is queued before it: written
    /// at the next [`run_queued`](Self::run_queued) or
    /// [`poll`](Self::poll), as queued work is.
    pub(super) fn send_here(
        &mut self,
        conn: &Conn,
        kind: crate::proto::MessageKind,
        data: &[u8],
        compress: bool,
    ) -> Result<(), Error> {
        self.reactor.send_here(conn, kind, data, compress)
    }
    /// Does the queued work and its writes at once, without polling for
    /// readiness.
    pub(super) fn run_queued(&mut self) {
        self.reactor.run_queued();
    }
    /// Polls until [`LoopHandle::stop`].
    pub fn run(&mut self) -> Result<(), Error> {
        while !self.reactor.shared.take_stop() {
            self.reactor.poll(None)?;
        }
        Ok(())
    }
    /// The body of a loop thread: [`run`](Self::run) until stopped. What
    /// ends it early (a failing poller, or a bug's panic) is logged at error
    /// level (target `wsx.loop`) instead of vanishing with the thread;
    /// dropping the loop afterwards delivers every connection's close event.
    pub fn run_thread(&mut self) {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.run())) {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                log::error!(target: telemetry::target::LOOP, "the loop stopped: {error}");
            }
            Err(panic) => {
                let text = (panic.downcast_ref::<&str>().copied())
                    .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
                    .unwrap_or("unknown panic");
                log::error!(target: telemetry::target::LOOP, "the loop stopped: internal error (panic): {text}");
            }
        }
    }
    /// Runs the loop on a thread of its own.
    pub fn spawn(self) -> Result<LoopThread, Error> {
        self.spawn_named("wsx-loop".to_owned())
    }
    fn spawn_named(self, name: String) -> Result<LoopThread, Error> {
        let handle = self.handle();
        let mut event_loop = self;
        let thread = std::thread::Builder::new()
            .name(name)
            .spawn(move || event_loop.run_thread())
            .map_err(|e| Error::io("could not start the loop's thread", &e))?;
        let stop = handle.clone();
        Ok(LoopThread {
            handle,
            worker: Worker::new(thread, move || stop.stop()),
        })
    }
}

/// The poller's descriptor (epoll, kqueue), for [`super::DrivenLoop`].
#[cfg(unix)]
impl std::os::fd::AsRawFd for EventLoop {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.reactor.registry().as_raw_fd()
    }
}

impl LoopHandle {
    /// Starts a client connection to a `ws://` or `wss://` URL, or over a
    /// Unix domain socket to a `ws+unix:` or `wss+unix:` URL as Node's ws
    /// writes them (`ws+unix:///run/app.sock:/chat`, see
    /// [`crate::proto::UnixUrl`]; the same as
    /// [`ClientConfig::unix_socket_path`] with `ws://localhost/chat`). A bad
    /// URL or option fails here; everything later reaches `handler`.
    pub fn connect(
        &self,
        url: &str,
        mut config: ClientConfig,
        handler: Box<dyn Handler>,
    ) -> Result<Conn, Error> {
        let url = match UnixUrl::parse(url)? {
            Some(unix) if config.unix_socket_path.is_some() => {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!(
                        "the URL names the socket {} and unix_socket_path another: give one",
                        unix.socket_path
                    ),
                ));
            }
            Some(unix) => {
                config.unix_socket_path = Some(unix.socket_path.into());
                unix.url
            }
            None => WsUrl::parse(url)?,
        };
        config.validate()?;
        if config.proxy.is_none() && config.proxy_from_env && config.unix_socket_path.is_none() {
            config.proxy = env_proxy::for_url(&url, |name| std::env::var(name).ok())?;
        }
        let tls = match url.secure {
            true => Some(ClientTls::new(&config.tls, &url.host)?),
            false => None,
        };
        let handshake = redial::new_handshake(&url, &config, config.headers.clone())?;
        let backpressure = config.backpressure;
        let mut shared = ConnShared::new(self.shared.next_id(), backpressure, config.inbox);
        if let Some(policy) = &config.reconnect {
            shared.disconnected_queue = policy.queue_while_disconnected;
        }
        let shared = Arc::new(shared);
        let request = ConnectRequest {
            conn: shared.clone(),
            url,
            config,
            tls,
            handshake,
            handler,
        };
        self.shared.push(Work::Connect(Box::new(request)))?;
        Ok(Conn {
            shared,
            lp: self.shared.clone(),
        })
    }
    /// Binds and starts a server (the bind happens before this returns, so the
    /// port can be read back at once). With [`ServerConfig::loops`] above 1
    /// the server starts the threads of its other loops here.
    pub fn listen(
        &self,
        config: ServerConfig,
        handler: Box<dyn ServerHandler>,
    ) -> Result<Server, Error> {
        config.validate()?;
        let tls = config.tls.as_ref().map(tls::server_config).transpose()?;
        let broker = config.cluster.as_ref().map(cluster::prepare).transpose()?;
        let mut config = config;
        let kernel = config.loops > 1 && spread::kernel_balances(&config);
        config.reuse_port |= kernel;
        let listener = listener::bind(&config)?;
        let local_addr = listener
            .local_addr()
            .map_err(|e| Error::io("could not read the listening address", &e))?;
        // The other loops, each with a socket of its own when the kernel
        // balances (else loop 0 hands them their connections).
        let mut others = Vec::with_capacity(config.loops - 1);
        for _ in 1..config.loops {
            let socket = kernel
                .then(|| listener::bind_shared(local_addr))
                .transpose()?;
            others.push((EventLoop::part_of(&self.shared)?, socket));
        }
        let links = std::iter::once(self.shared.clone())
            .chain(others.iter().map(|(lp, _)| lp.reactor.shared.clone()));
        let shared = Arc::new(ServerShared {
            id: self.shared.next_id(),
            local_addr,
            unix_path: listener.unix_path().map(Into::into),
            topics: Default::default(),
            slow_subscriber: config.slow_subscriber,
            evicted_handshakes: Default::default(),
            cluster: broker.as_ref().map(|b| b.node.shared.clone()),
            parts: links
                .map(|link| LoopPart::new(link, self.shared.telemetry.server_counters()))
                .collect(),
            running: AtomicUsize::new(config.loops),
            conns: AtomicUsize::new(0),
            _live: Live::server(),
        });
        let mut handlers: Vec<Box<dyn ServerHandler>> = match config.loops {
            1 => vec![handler],
            _ => SharedHandler::split(handler, &shared)
                .into_iter()
                .map(|h| Box::new(h) as Box<dyn ServerHandler>)
                .collect(),
        };
        let mut workers = Vec::with_capacity(others.len());
        for (part, ((event_loop, socket), handler)) in
            (1..).zip(others.into_iter().zip(handlers.drain(1..)))
        {
            event_loop
                .reactor
                .shared
                .push(Work::Listen(Box::new(ListenRequest {
                    server: shared.clone(),
                    listener: socket,
                    part,
                    workers: Vec::new(),
                    config: config.clone(),
                    tls: tls.clone(),
                    handler,
                    broker: None,
                })))?;
            workers.push(event_loop.spawn_named(format!("wsx-loop-{part}"))?.worker);
        }
        let request = ListenRequest {
            server: shared.clone(),
            listener: Some(listener),
            part: 0,
            workers,
            config,
            tls,
            handler: handlers.remove(0),
            broker,
        };
        self.shared.push(Work::Listen(Box::new(request)))?;
        Ok(Server {
            shared,
            lp: self.shared.clone(),
        })
    }
    /// The loop's telemetry counters now: every connection and server of
    /// the loop (see [`crate::net::telemetry`]). Callable from any thread.
    pub fn metrics(&self) -> crate::net::Metrics {
        self.shared.telemetry.snapshot()
    }
    /// Asks the loop to stop: `run` returns (a [`LoopThread`]'s thread ends).
    /// Dropping the loop then drops its connections, each with a close event
    /// (1006, not clean), and its servers, each with its shutdown event.
    /// Commands queued after that fail with [`ErrorKind::Closed`].
    pub fn stop(&self) {
        self.shared.request_stop();
    }
}

impl LoopThread {
    /// A handle to the running loop.
    pub fn handle(&self) -> &LoopHandle {
        &self.handle
    }
}
