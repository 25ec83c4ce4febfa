"""The blocking API, named as in ``websockets.sync.client`` and
``websockets.sync.server``: :func:`connect` and :func:`serve`. Every
blocking call releases the GIL and lets Ctrl-C through::

    from wsx.sync import connect

    with connect("ws://127.0.0.1:8765/") as ws:
        ws.send("hello")
        print(ws.recv())

The top-level ``wsx.connect`` and ``wsx.serve`` are the asyncio API, as
``websockets.connect`` and ``websockets.serve`` are since websockets 14.
"""

from __future__ import annotations

import inspect
import logging
import os
import sys
import threading
import weakref
from typing import Any, Callable, Optional, Sequence, Tuple, Union

from . import _router, _wsx
from ._options import (
    DEFAULTS,
    Address,
    BeforeConnect,
    ClusterLike,
    CompressionLike,
    HeadersLike,
    ProxyLike,
    QueueLike,
    ReconnectLike,
    Resolver,
    Sendable,
    SlowSubscriber,
    SSLLike,
    start_client,
    start_server,
    unix_uri,
)
from ._wsx import ClientConnection, Request, Response, ServerConnection
from .exceptions import ConnectionClosed

__all__ = [
    "connect",
    "serve",
    "unix_connect",
    "unix_serve",
    "route",
    "Router",
    "Server",
    "ClientConnection",
    "ServerConnection",
]

logger = logging.getLogger("wsx.server")

StrPath = Union[str, "os.PathLike[str]"]
#: What ``process_request`` returns: None goes on with the handshake; a
#: :class:`~wsx.Response` (``connection.respond(status, text)``) answers
#: instead; a status or a ``(status, reason[, headers])`` tuple refuses.
ProcessResult = Union[None, Response, int, Tuple[int, str], Tuple[int, str, Any]]


def _is_async(f: Any) -> bool:
    """Whether calling `f` gives a coroutine (a coroutine function, or an
    object whose ``__call__`` is one)."""
    return inspect.iscoroutinefunction(f) or inspect.iscoroutinefunction(getattr(f, "__call__", None))


def _no_awaitable(out: Any) -> Any:
    """A hook of the blocking server returned an awaitable: a mix-up."""
    close = getattr(out, "close", None)
    if callable(close):
        close()  # no "never awaited" warning on top of the error
    raise TypeError(
        "a hook of wsx.sync.serve returned an awaitable: the blocking server takes plain functions; "
        "use wsx.serve (asyncio) for coroutines"
    )


def connect(
    uri: str,
    *,
    subprotocols: Optional[Sequence[str]] = None,
    additional_headers: HeadersLike = None,
    origin: Optional[str] = None,
    open_timeout: Optional[float] = DEFAULTS.open_timeout,
    ping_interval: Optional[float] = DEFAULTS.ping_interval,
    ping_timeout: Optional[float] = DEFAULTS.ping_timeout,
    close_timeout: Optional[float] = DEFAULTS.close_timeout,
    max_size: Optional[int] = DEFAULTS.max_size,
    ca_file: Optional[StrPath] = None,
    verify: bool = True,
    ssl: SSLLike = None,
    client_cert: Optional[StrPath] = None,
    client_key: Optional[StrPath] = None,
    max_queue: QueueLike = DEFAULTS.max_queue,
    compression: CompressionLike = "deflate" if DEFAULTS.client_compression else None,
    reconnect: ReconnectLike = None,
    proxy: ProxyLike = None,
    before_connect: Optional[BeforeConnect] = None,
    resolver: Optional[Resolver] = None,
    unix_socket_path: Optional[StrPath] = None,
) -> ClientConnection:
    """Opens a WebSocket connection to ``uri`` (``ws://`` or ``wss://``) and
    returns it once the handshake succeeded; also a context manager that
    closes it.

    ``subprotocols`` are offered in order; ``additional_headers`` (a mapping
    or pairs) and ``origin`` go into the request. ``None`` turns a timeout or
    ``max_size`` off; ``ping_interval=None`` turns keepalive pings off. The
    defaults are the core's (``wsx._wsx.defaults()``), and so are the rules:
    a value the core refuses (a zero timeout, a header name that is not an
    HTTP token, ...) raises :class:`~wsx.InvalidArgument`, naming the option.
    ``ca_file`` adds trusted CA certificates (PEM); ``verify=False`` turns
    certificate checks off (tests only). ``ssl=`` (as in ``websockets``) is
    mapped onto those: an ``ssl.SSLContext``'s loaded CA certificates become
    ``ca_file`` and ``CERT_NONE`` becomes ``verify=False`` (TLS is rustls,
    so the context itself is not used); what cannot be mapped raises
    :class:`~wsx.InvalidArgument` naming ``ca_file`` / ``verify``.
    ``client_cert`` (a PEM chain, leaf first) and ``client_key`` (its PEM
    key; omitted: in the ``client_cert`` file, as ``load_cert_chain`` takes
    them) present a client certificate for mutual TLS: what
    ``ssl_context.load_cert_chain(certfile, keyfile)`` does in
    ``websockets``, whose key an ``ssl.SSLContext`` never gives back.

    ``resolver(host, port)`` resolves host names in place of the system
    resolver (a service directory, DNS over HTTPS, a test): it returns the
    addresses to try, each an IP address string (connected to on ``port``)
    or an ``(ip, port)`` pair as ``socket.getaddrinfo`` gives them; what it
    raises fails the attempt (:class:`~wsx.ConnectError`). It runs on a
    resolver thread of the library, within ``open_timeout``. IPv6 and IPv4
    addresses are raced (RFC 8305, Happy Eyeballs): IPv6 first, IPv4 250 ms
    later or as soon as the IPv6 attempt fails, so a dead IPv6 route costs a
    quarter second. With ``wsx.asyncio``, it may be a coroutine function,
    run on the caller's event loop.

    ``max_queue`` bounds the messages received and not yet read: once that
    many wait, the connection stops reading the socket (the peer sees TCP
    backpressure) until they drain to a quarter of it; ``(high, low)`` sets
    both marks; ``None`` never stops reading. While reading is stopped, the
    peer's pings and close frame wait too (``ping_timeout`` may then close
    the connection).

    ``compression="deflate"`` offers permessage-deflate (RFC 7692), used if
    the server accepts; a :class:`~wsx.Deflate` sets its parameters; ``None``
    offers no compression. ``send(message, compress=False)`` sends one
    message uncompressed.

    ``reconnect=True`` (or a :class:`~wsx.Reconnect` policy) makes the
    connection outlive drops: when the server goes away or restarts (1001,
    1012), when it ends abnormally (1006, 1011, 1013, 1014; the set is the
    policy's ``retry_codes``), or after a failed attempt or a 5xx refusal, a
    new connection is made with backoff,
    and the same object goes on. :meth:`recv` and iteration keep working
    across reconnects: messages of every connection arrive in one stream
    (none is lost from what was received; what the server sent while
    disconnected is not seen). :attr:`connected` tells whether a connection
    is up, :attr:`reconnects` counts them; ``send`` while disconnected raises
    :class:`~wsx.ConnectError` unless the policy has
    ``queue_while_disconnected``. The first connection is retried too, so
    ``connect`` returns once one opens, or raises when the policy gives up
    (bound it with ``max_attempts``). :meth:`close` stops reconnecting; a
    normal close by the server (1000) ends it too.

    ``before_connect(attempt)`` runs before every attempt (0 for the first)
    on a thread of its own (the attempt waits for it, within
    ``open_timeout``) and returns the extra headers for that attempt (e.g. a
    fresh token), or None to send ``additional_headers``.

    ``proxy`` goes through an HTTP CONNECT (``http://``, ``https://``) or
    SOCKS5 (``socks5://``) proxy, with ``user:password@`` if needed;
    ``proxy=True`` takes it from ``https_proxy`` / ``http_proxy`` /
    ``all_proxy``, honouring ``no_proxy``. Unlike ``websockets``, the default
    ``None`` ignores those variables.

    ``unix_socket_path`` connects to that Unix domain socket instead of the
    URI's host and port (no proxy then); the URI still gives the scheme
    (``wss://`` runs TLS over the socket and verifies the URI's host name),
    the ``Host`` header and the resource. :func:`unix_connect` is the same
    as ``websockets`` spells it.

    Raises :class:`~wsx.InvalidURI`, :class:`~wsx.ConnectError` (a
    refused TCP connection: :class:`~wsx.ConnectionRefused`, a
    ``ConnectionRefusedError``), :class:`~wsx.OpenTimeout`,
    :class:`~wsx.InvalidStatus` (``.response`` is the server's answer),
    :class:`~wsx.TLSError` or :class:`~wsx.InvalidHandshake`.
    """
    conn = start_client(**locals())  # exactly the arguments above
    conn._wait_open()
    return conn


class _Serving:
    """What the server's threads share. They hold this, never the
    :class:`Server`, so a server dropped without :meth:`Server.shutdown`
    is collected (and then shut down, freeing its port)."""

    def __init__(self, listener: _wsx.Listener, handler: Callable[[ServerConnection], Any]) -> None:
        self.listener = listener
        self.handler = handler
        self.connections: set[ServerConnection] = set()
        self.threads: set[threading.Thread] = set()
        self.lock = threading.Lock()
        # Set when the acceptor returns: what `serve_forever` waits on.
        self.stopped = threading.Event()

    def accept_loop(self) -> None:
        try:
            while True:
                conn = self.listener.accept()
                if conn is None:  # the server shut down
                    return
                thread = threading.Thread(target=self.run, args=(conn,), name="wsx-handler", daemon=True)
                with self.lock:
                    self.threads.add(thread)
                    self.connections.add(conn)
                thread.start()
        finally:
            self.stopped.set()

    def run(self, conn: ServerConnection) -> None:
        try:
            out = self.handler(conn)
            if inspect.isawaitable(out):
                _no_awaitable(out)
        except ConnectionClosed:
            pass
        except Exception:
            logger.error("connection handler failed", exc_info=True)
            conn.close(1011, "internal error")
        else:
            conn.close()
        finally:
            with self.lock:
                self.threads.discard(threading.current_thread())
                self.connections.discard(conn)


class Server:
    """A running server: each connection's handler runs on its own thread.

    Use it as a context manager (leaving it shuts the server down) and call
    :meth:`serve_forever` to block until :meth:`shutdown`. A server that is
    dropped without :meth:`shutdown` shuts down when collected.
    """

    def __init__(self, listener: _wsx.Listener, handler: Callable[[ServerConnection], Any]) -> None:
        self._listener = listener
        self._serving = serving = _Serving(listener, handler)
        self._acceptor = threading.Thread(target=serving.accept_loop, name=f"wsx-server-{listener.port}", daemon=True)
        self._acceptor.start()
        # Collected without shutdown(): stop, so the threads end and the port is freed.
        self._finalizer = weakref.finalize(self, listener.shutdown)

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return self._listener.port

    @property
    def local_address(self) -> Address:
        """The ``(host, port)`` the server listens on, or its Unix domain
        socket's path."""
        return self._listener.local_address

    @property
    def connections(self) -> set[ServerConnection]:
        """The connections whose handler is running (a copy), as in
        ``websockets``."""
        with self._serving.lock:
            return set(self._serving.connections)

    def publish(self, topic: str, message: Sendable, *, exclude: Optional[ServerConnection] = None) -> int:
        """Sends ``message`` (``str`` as text, bytes-like as binary) to every
        connection subscribed to ``topic`` (see
        :meth:`ServerConnection.subscribe`) but ``exclude``, and returns how
        many it was queued for. Never waits: the frame is encoded once and
        shared; a subscriber whose send queue is full is skipped or dropped
        as ``slow_subscriber`` says. Safe from any thread."""
        return self._listener.publish(topic, message, exclude=exclude)

    def subscribers(self, topic: str) -> int:
        """How many connections are subscribed to ``topic``."""
        return self._listener.subscribers(topic)

    def metrics(self) -> dict[str, Any]:
        """The server's counters now (see :meth:`wsx.Server.metrics`).
        Safe from any thread."""
        return self._listener.metrics()

    def metrics_text(self) -> str:
        """The counters as OpenMetrics text, for a ``/metrics`` route (see
        :meth:`wsx.Server.metrics_text`)."""
        return self._listener.metrics_text()

    def serve_forever(self) -> None:
        """Blocks until the server is shut down (from another thread or by
        Ctrl-C, which shuts it down too)."""
        # Not `self._acceptor.join(0.1)`: before Python 3.13, a Ctrl-C that
        # interrupts `Thread.join` marks the thread stopped while it still
        # runs (CPython gh-90882), so `shutdown` would not wait for it and
        # the interpreter would finalize under it (an abort, "FATAL:
        # exception not rethrown", when it takes the GIL back).
        try:
            while not self._serving.stopped.wait(0.1):
                pass
        except KeyboardInterrupt:
            self.shutdown()
            raise

    def shutdown(
        self, *, code: int = 1001, reason: str = "", timeout: Optional[float] = None
    ) -> None:
        """Graceful shutdown (the drain): every connection gets a close frame
        with ``code`` and ``reason`` (1001, going away, by default; 1012 tells
        reconnecting clients the service restarts), handshakes meanwhile are
        answered 503, connections still open after ``timeout`` seconds (the
        server's ``close_timeout`` by default) are dropped; then waits for the
        handlers to return."""
        self._listener.shutdown(timeout, code, reason)
        self._finalizer.detach()
        if threading.current_thread() is not self._acceptor:
            self._acceptor.join()
        with self._serving.lock:
            threads = [t for t in self._serving.threads if t is not threading.current_thread()]
        timeout = self._listener.close_timeout
        for t in threads:
            t.join(timeout)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    async def __aenter__(self) -> Server:
        raise TypeError(
            "wsx.sync.serve is the blocking server: use `with`, not `async with`; "
            "for asyncio, serve with wsx.serve (or wsx.asyncio.serve)"
        )

    async def __aexit__(self, *exc: object) -> None:
        pass


def serve(
    handler: Callable[[ServerConnection], Any],
    host: str = DEFAULTS.host,
    port: int = DEFAULTS.port,
    *,
    subprotocols: Optional[Sequence[str]] = None,
    origins: Optional[Sequence[Optional[str]]] = None,
    process_request: Optional[Callable[[ServerConnection, Request], ProcessResult]] = None,
    select_subprotocol: Optional[Callable[[ServerConnection, Sequence[str]], Optional[str]]] = None,
    process_response: Optional[Callable[[ServerConnection, Request, Response], Optional[Response]]] = None,
    cert_file: Optional[StrPath] = None,
    key_file: Optional[StrPath] = None,
    client_ca_file: Optional[StrPath] = None,
    client_cert_required: bool = True,
    client_crl_file: Optional[StrPath] = None,
    ssl: SSLLike = None,
    max_size: Optional[int] = DEFAULTS.max_size,
    open_timeout: Optional[float] = DEFAULTS.open_timeout,
    ping_interval: Optional[float] = DEFAULTS.ping_interval,
    ping_timeout: Optional[float] = DEFAULTS.ping_timeout,
    close_timeout: Optional[float] = DEFAULTS.close_timeout,
    max_connections: Optional[int] = None,
    max_queue: QueueLike = DEFAULTS.max_queue,
    compression: CompressionLike = "deflate" if DEFAULTS.server_compression else None,
    slow_subscriber: SlowSubscriber = "skip",
    cluster: ClusterLike = None,
    unix_socket_path: Optional[StrPath] = None,
    remove_stale_socket: bool = False,
    reuse_port: bool = False,
    loops: int = DEFAULTS.loops,
) -> Server:
    """Starts a WebSocket server on ``host:port`` (port 0 picks a free one,
    read it back from :attr:`Server.port`) and returns it at once.

    ``handler(connection)`` runs on a thread of its own for each connection;
    the connection is closed when it returns (1011 if it raised).
    ``subprotocols`` are chosen in this order among those the client offers.
    ``origins`` restricts the ``Origin`` header (403 otherwise).

    ``process_request(connection, request)`` runs for every request, plain
    HTTP ones included (a load balancer's ``GET /healthz``), as in
    ``websockets``: return None to go on (a plain HTTP request then gets
    ``426 Upgrade Required``), or answer instead of the handshake with
    ``connection.respond(status, text)`` or a :class:`~wsx.Response`
    ``(status, reason, headers, body)``; a status or a ``(status, reason[,
    headers])`` tuple refuses too. ``select_subprotocol(connection,
    offered)`` picks the subprotocol (None: none); ``process_response(
    connection, request, response)`` may add headers to the 101 response
    (``response.headers[name] = value``) or return another response. The
    hooks run on a thread of their own, never the network thread, so a
    slow hook (or one holding the GIL) delays only its own handshake,
    within ``open_timeout``. An exception in a hook (or an answer the core
    refuses, such as a header it writes itself) answers 500 and is reported
    through ``sys.unraisablehook``. They are plain functions here
    (coroutines are refused: use :func:`wsx.serve`).

    ``cert_file`` and ``key_file`` (PEM) serve ``wss://``; ``ssl=`` (an
    ``ssl.SSLContext``) cannot be mapped onto them and is refused with a
    message that names them. ``client_ca_file`` (PEM) turns mutual TLS on:
    each client is asked for a certificate signed by that CA (and not revoked
    by the CRLs of ``client_crl_file``); with ``client_cert_required=False``
    a client may send none, otherwise it fails the TLS handshake. The
    verified certificate is ``connection.peer_subject`` (RFC 4514 text,
    ``"CN=alice,O=Example"``) and ``connection.peer_certificates`` (DER,
    leaf first), already in ``process_request``, to authorise by identity.
    A TLS server offers ALPN ``http/1.1`` only. ``max_queue`` bounds each connection's unread messages as
    in :func:`connect`. ``compression="deflate"`` (or a
    :class:`~wsx.Deflate`) accepts permessage-deflate from clients that
    offer it; the default ``None`` declines it (compression costs memory per
    connection, which a server may not want to spend by default).
    ``slow_subscriber`` says what :meth:`Server.publish` does with a
    subscriber whose send queue is full: ``"skip"`` it for that message, or
    ``"drop"`` the connection (it could no longer see every message).
    ``cluster`` (a ``redis://`` URL or a :class:`~wsx.Cluster`) joins the
    servers sharing that Redis: :meth:`Server.publish` then also reaches
    their subscribers, and theirs reach this server's; a
    :class:`~wsx.Cluster` tells the link's state and lost publications
    through its ``on_state`` and ``on_gap`` callbacks.

    ``unix_socket_path`` listens on that Unix domain socket instead of
    ``host`` and ``port`` (:func:`unix_serve` is the same as ``websockets``
    spells it). The socket file takes the permissions the umask leaves and
    is removed when the server closes. A file already there raises
    :class:`~wsx.WsxError` saying what it is (unlike ``websockets``, whose
    asyncio server replaces any socket file): with
    ``remove_stale_socket=True`` a socket nobody accepts on (a crashed
    server's) is removed first; a live server's socket and other files never
    are. Peers then have no IP address: ``remote_address`` is ``""``.

    ``reuse_port=True`` binds with ``SO_REUSEPORT`` (as ``socket.create_server``
    and asyncio's ``create_server`` spell it): several servers, in this
    process or others, each with the option, listen on one port and the
    kernel spreads new connections among them. Without it a port another
    socket listens on raises :class:`~wsx.WsxError` saying to set it. Linux,
    macOS and the BSDs; elsewhere (and with ``unix_socket_path``) it raises
    ``ValueError`` ("not supported on this platform").

    ``loops=N`` spreads the connections over N network threads in this
    process sharing the port (default 1; 0 or more than 256 raise
    :class:`~wsx.InvalidArgument`): on Linux each thread listens with ``SO_REUSEPORT`` and
    the kernel balances, elsewhere the first hands connections round-robin.
    :meth:`Server.publish` reaches the subscribers on every thread once;
    connection counts, ``max_connections`` and :meth:`Server.shutdown`
    cover them all. Handlers and hooks run on Python threads as before (the
    network threads only hand them events), so a handler needs no more
    care than with one; the GIL still runs one Python thread at a time, so
    the gain is in the network work (reading, framing, writing).
    """
    if _is_async(handler):
        raise TypeError(
            f"{getattr(handler, '__qualname__', handler)!r} is a coroutine function: the blocking "
            "wsx.sync.serve calls its handler in a thread; use wsx.serve (asyncio) for an async handler"
        )
    for name in ("process_request", "select_subprotocol", "process_response"):
        if _is_async(locals()[name]):
            raise TypeError(f"{name} of wsx.sync.serve is a coroutine function: use wsx.serve (asyncio) for it")
    options = dict(locals())  # exactly the arguments above
    del options["handler"], options["name"]
    return Server(start_server(run=_no_awaitable, **options), handler)



def unix_connect(path: Optional[StrPath] = None, uri: Optional[str] = None, **kwargs: Any) -> ClientConnection:
    """:func:`connect` over the Unix domain socket at ``path``, as
    ``websockets.sync.client.unix_connect``: ``uri`` (default
    ``ws://localhost/``, or ``wss://localhost/`` with ``ssl`` or ``ca_file``)
    gives the scheme, the ``Host`` header and the resource."""
    return connect(unix_uri(path, uri, kwargs), unix_socket_path=path, **kwargs)


def unix_serve(handler: Callable[[ServerConnection], Any], path: Optional[StrPath] = None, **kwargs: Any) -> Server:
    """:func:`serve` on the Unix domain socket at ``path``, as
    ``websockets.sync.server.unix_serve`` (see ``unix_socket_path`` there)."""
    if path is None:
        raise TypeError("unix_serve needs the path of the Unix domain socket")
    return serve(handler, unix_socket_path=path, **kwargs)

#: Several WebSocket endpoints on one server, by path: ``route(url_map,
#: host, port, ...)`` as ``websockets.sync.router.route`` (see
#: :mod:`wsx._router`); also ``wsx.sync.router.route``.
route = _router.make_route(serve, is_async=False)
Router = _router.Router
router = _router.module(__name__ + ".router", route)
sys.modules[router.__name__] = router
