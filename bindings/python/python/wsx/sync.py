"""The blocking API, named as in ``websockets.sync``: :func:`connect` and
:func:`serve`. Every blocking call releases the GIL and lets Ctrl-C through.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any, Callable, Optional, Sequence, Tuple, Union

from . import _wsx
from ._options import (
    DEFAULTS,
    BeforeConnect,
    ClusterLike,
    CompressionLike,
    HeadersLike,
    ProxyLike,
    QueueLike,
    ReconnectLike,
    Sendable,
    SlowSubscriber,
    start_client,
    start_server,
)
from ._wsx import ClientConnection, Request, ServerConnection
from .exceptions import ConnectionClosed

__all__ = ["connect", "serve", "Server"]

logger = logging.getLogger("wsx.server")

StrPath = Union[str, "os.PathLike[str]"]
#: What ``process_request`` returns: None accepts the handshake; a status, a
#: ``(status, reason)`` or a ``(status, reason, headers)`` tuple refuses it.
ProcessResult = Union[None, int, Tuple[int, str], Tuple[int, str, Any]]


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
    max_queue: QueueLike = 16,
    compression: CompressionLike = "deflate",
    reconnect: ReconnectLike = None,
    proxy: ProxyLike = None,
    before_connect: Optional[BeforeConnect] = None,
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
    certificate checks off (tests only).

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
    on the network thread (keep it short) and returns the extra headers for
    that attempt (e.g. a fresh token), or None to send
    ``additional_headers``.

    ``proxy`` goes through an HTTP CONNECT (``http://``, ``https://``) or
    SOCKS5 (``socks5://``) proxy, with ``user:password@`` if needed;
    ``proxy=True`` takes it from ``https_proxy`` / ``http_proxy`` /
    ``all_proxy``, honouring ``no_proxy``. Unlike ``websockets``, the default
    ``None`` ignores those variables.

    Raises :class:`~wsx.InvalidURI`, :class:`~wsx.ConnectError`,
    :class:`~wsx.OpenTimeout`, :class:`~wsx.InvalidStatus`,
    :class:`~wsx.TLSError` or :class:`~wsx.InvalidHandshake`.
    """
    conn = start_client(**locals())  # exactly the arguments above
    conn._wait_open()
    return conn


class Server:
    """A running server: each connection's handler runs on its own thread.

    Use it as a context manager (leaving it shuts the server down) and call
    :meth:`serve_forever` to block until :meth:`shutdown`.
    """

    def __init__(
        self,
        listener: _wsx.Listener,
        handler: Callable[[ServerConnection], Any],
        close_timeout: Optional[float],
    ) -> None:
        self._listener = listener
        self._handler = handler
        self._close_timeout = DEFAULTS.close_timeout if close_timeout is None else close_timeout
        self._threads: set[threading.Thread] = set()
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._acceptor = threading.Thread(target=self._accept_loop, name=f"wsx-server-{listener.port}", daemon=True)
        self._acceptor.start()

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return self._listener.port

    @property
    def local_address(self) -> tuple[str, int]:
        """The ``(host, port)`` the server listens on."""
        return self._listener.local_address

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

    def _accept_loop(self) -> None:
        try:
            while True:
                conn = self._listener.accept()
                if conn is None:
                    break
                thread = threading.Thread(target=self._run, args=(conn,), name="wsx-handler", daemon=True)
                with self._lock:
                    self._threads.add(thread)
                thread.start()
        finally:
            self._done.set()

    def _run(self, conn: ServerConnection) -> None:
        try:
            self._handler(conn)
        except ConnectionClosed:
            pass
        except Exception:
            logger.error("connection handler failed", exc_info=True)
            conn.close(1011, "internal error")
        else:
            conn.close()
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())

    def serve_forever(self) -> None:
        """Blocks until the server is shut down (from another thread or by
        Ctrl-C, which shuts it down too)."""
        try:
            while not self._done.wait(0.1):
                pass
        except KeyboardInterrupt:
            self.shutdown()
            raise

    def shutdown(self) -> None:
        """Stops accepting, closes every connection with 1001 (going away),
        and waits for the handlers to return (at most ``close_timeout`` more)."""
        self._listener.shutdown(self._close_timeout)
        if threading.current_thread() is not self._acceptor:
            self._acceptor.join()
        with self._lock:
            threads = [t for t in self._threads if t is not threading.current_thread()]
        for t in threads:
            t.join(self._close_timeout)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


def serve(
    handler: Callable[[ServerConnection], Any],
    host: str = DEFAULTS.host,
    port: int = DEFAULTS.port,
    *,
    subprotocols: Optional[Sequence[str]] = None,
    origins: Optional[Sequence[Optional[str]]] = None,
    process_request: Optional[Callable[[ServerConnection, Request], ProcessResult]] = None,
    cert_file: Optional[StrPath] = None,
    key_file: Optional[StrPath] = None,
    max_size: Optional[int] = DEFAULTS.max_size,
    open_timeout: Optional[float] = DEFAULTS.open_timeout,
    ping_interval: Optional[float] = DEFAULTS.ping_interval,
    ping_timeout: Optional[float] = DEFAULTS.ping_timeout,
    close_timeout: Optional[float] = DEFAULTS.close_timeout,
    max_connections: Optional[int] = None,
    max_queue: QueueLike = 16,
    compression: CompressionLike = None,
    slow_subscriber: SlowSubscriber = "skip",
    cluster: ClusterLike = None,
) -> Server:
    """Starts a WebSocket server on ``host:port`` (port 0 picks a free one,
    read it back from :attr:`Server.port`) and returns it at once.

    ``handler(connection)`` runs on a thread of its own for each connection;
    the connection is closed when it returns (1011 if it raised).
    ``subprotocols`` are chosen in this order among those the client offers.
    ``origins`` restricts the ``Origin`` header (403 otherwise).
    ``process_request(connection, request)`` runs during the handshake, on
    the network thread (keep it short): return None to accept, or a status,
    ``(status, reason)`` or ``(status, reason, headers)`` to refuse; an
    exception refuses with 500. A refusal is a status 400-599 with header
    names that are HTTP tokens and values free of control characters:
    anything else raises :class:`~wsx.InvalidArgument` (reported like any
    exception of the hook, so the handshake gets a 500). ``cert_file`` and ``key_file`` (PEM) serve
    ``wss://``. ``max_queue`` bounds each connection's unread messages as
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
    """
    options = dict(locals())  # exactly the arguments above
    del options["handler"]
    return Server(start_server(**options), handler, close_timeout)
