"""The asyncio API, named as in ``websockets.asyncio.client`` and
``websockets.asyncio.server``; ``wsx.connect`` and ``wsx.serve`` are these
same functions, as ``websockets.connect`` / ``websockets.serve`` are since
websockets 14::

    import wsx

    async with wsx.connect("ws://127.0.0.1:8765/") as ws:
        await ws.send("hello")
        print(await ws.recv())

The blocking API lives in :mod:`wsx.sync`.

The native event loop does the I/O on its own thread; it wakes each asyncio
loop through one socket watched with ``loop.add_reader`` (one wake-up per
batch of events, never a thread per call).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import sys
import weakref
from typing import (
    Any,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Generator,
    Generic,
    Iterable,
    Iterator,
    NoReturn,
    Optional,
    Sequence,
    TypeVar,
    Union,
)

from . import _router, _wsx

_Data = Union[str, bytes, bytearray, memoryview]


async def _aiter(items: Iterable[Any]) -> AsyncIterator[Any]:
    for item in items:
        yield item
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
from ._broadcast import broadcast
from ._wsx import Headers, Request, Response
from .exceptions import ConnectionClosed, ConnectionClosedOK
from .sync import ProcessResult, StrPath, _is_async

__all__ = [
    "connect",
    "serve",
    "unix_connect",
    "unix_serve",
    "route",
    "Router",
    "ClientConnection",
    "ServerConnection",
    "Connection",
    "Server",
    "Headers",
    "Request",
    "Response",
    "broadcast",
]

#: What an asyncio object says when used the blocking way.
_ASYNC_IN_SYNC = (
    "wsx.connect and wsx.serve are the asyncio API (as websockets.connect / websockets.serve since "
    "websockets 14): use `async with`, `await` and `async for`; for blocking code, use "
    "wsx.sync.connect and wsx.sync.serve"
)


def _mixup(*args: object) -> NoReturn:
    raise TypeError(_ASYNC_IN_SYNC)

logger = logging.getLogger("wsx.server")

Data = Union[str, bytes]
T = TypeVar("T")


class _Hub:
    """One asyncio loop's wake-up channel: routes native wake-ups by token.
    Where the loop can watch the native loop's poller (Unix selector loops),
    it also drives the native loop whenever that is readable and nobody else
    drives it, so a message reaches its task with no thread switch; while
    another thread drives it, the poller is left alone until that thread
    lets go."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.native = _wsx.Hub()
        self._loop = loop
        self._objects: weakref.WeakValueDictionary[int, _Waitable] = weakref.WeakValueDictionary()
        loop.add_reader(self.native.fileno(), self._on_ready)
        self._poller = self.native.loop_fileno()
        self._watching = False
        if self._poller >= 0:
            try:
                loop.add_reader(self._poller, self._on_loop)
            except NotImplementedError:  # a proactor loop: the native loop's own thread serves
                return
            self._watching = True
            self.native.watch_loop()

    def register(self, obj: _Waitable, token: int) -> None:
        self._objects[token] = obj

    def _on_ready(self) -> None:
        drive, tokens = self.native.drain()
        self._wake(tokens)
        if drive:
            if not self._watching:
                self._loop.add_reader(self._poller, self._on_loop)
                self._watching = True
            self._on_loop()

    def _on_loop(self) -> None:
        drove, tokens = self.native.drive()
        if not drove:  # another thread drives: told (drain) when it lets go
            self._loop.remove_reader(self._poller)
            self._watching = False
        self._wake(tokens)

    def _wake(self, tokens: list[int]) -> None:
        get = self._objects.get
        for token in tokens:
            obj = get(token)
            if obj is not None:
                obj._wake()


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Hub] = weakref.WeakKeyDictionary()


def _hub(loop: asyncio.AbstractEventLoop) -> _Hub:
    hub = _hubs.get(loop)
    if hub is None:
        hub = _hubs[loop] = _Hub(loop)
    return hub


class _Waitable:
    """Something the native side wakes: futures to resolve at the next wake-up."""

    __slots__ = ("__weakref__", "_loop", "_waiters")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._waiters: list[asyncio.Future[None]] = []

    def _wait(self) -> asyncio.Future[None]:
        fut = self._loop.create_future()
        self._waiters.append(fut)
        return fut

    def _wake(self) -> None:
        waiters = self._waiters
        if waiters:
            self._waiters = []
            for fut in waiters:
                if not fut.done():
                    fut.set_result(None)


class Connection(_Waitable):
    """A WebSocket connection for asyncio. ``async for message in ws`` yields
    messages until the connection closes normally."""

    __slots__ = ("_native", "_pings")

    def __init__(self, native: _wsx.Connection, loop: asyncio.AbstractEventLoop, hub: _Hub) -> None:
        super().__init__(loop)
        self._native = native
        self._pings: list[tuple[_wsx.PongWaiter, asyncio.Future[float]]] = []
        native._attach(hub.native)
        hub.register(self, native._token)

    def _wake(self) -> None:
        super()._wake()
        if self._pings:
            self._check_pings()

    def _check_pings(self) -> None:
        pending = []
        for waiter, fut in self._pings:
            if fut.done():
                continue
            try:
                rtt = waiter._poll()
            except ConnectionClosed as exc:
                fut.set_exception(exc)
                fut.exception()  # an unawaited ping is not an error worth logging
                continue
            if rtt is None:
                pending.append((waiter, fut))
            else:
                fut.set_result(rtt)
        self._pings = pending

    async def recv(self) -> Data:
        """The next message (``str`` or ``bytes``); raises
        :class:`~wsx.ConnectionClosed` once closed and drained."""
        native = self._native
        while True:
            message = native._recv_nowait()
            if message is not None:
                return message
            await self._wait()

    async def send(
        self,
        message: Union[_Data, Iterable[_Data], AsyncIterable[_Data]],
        compress: bool = True,
        *,
        text: Optional[bool] = None,
    ) -> None:
        """Sends ``str`` as text, the others as binary (``text=True`` sends
        bytes as text, ``text=False`` a ``str`` as binary); waits while the
        send queue is full. An iterable or async iterable of them sends one
        fragmented message, a frame per item (all ``str`` or all bytes-like;
        otherwise the connection fails with 1011 and ``TypeError`` is
        raised), as websockets does. ``compress=False`` sends it
        uncompressed even with permessage-deflate."""
        native = self._native
        if isinstance(message, (str, bytes, bytearray, memoryview)):
            while not native._send_nowait(message, compress, text):
                await self._wait()
            return
        if isinstance(message, dict) or hasattr(message, "keys"):
            raise TypeError("a message is str, bytes-like, or an iterable of them, not a mapping")
        if hasattr(message, "__aiter__"):
            pieces: AsyncIterator[Any] = message.__aiter__()
        elif hasattr(message, "__iter__"):
            pieces = _aiter(message)
        else:
            raise TypeError(f"a message is str, bytes-like, or an iterable of them, not {type(message).__name__}")
        is_str: Optional[bool] = None
        as_text = False
        async for piece in pieces:
            if is_str is None:
                is_str = isinstance(piece, str)
                as_text = is_str if text is None else text
            elif isinstance(piece, str) != is_str or not isinstance(piece, (str, bytes, bytearray, memoryview)):
                native._fail_fragmented()
                raise TypeError("the fragments of a message are all str or all bytes-like")
            await self._send_fragment(piece, as_text, False, compress)
        if is_str is not None:
            await self._send_fragment(b"", as_text, True, compress)

    async def _send_fragment(self, piece: _Data, text: bool, fin: bool, compress: bool) -> None:
        native = self._native
        while not native._send_fragment_nowait(piece, text, fin, compress):
            await self._wait()

    async def ping(self, data: bytes = b"") -> Awaitable[float]:
        """Sends a ping; await the result for the round trip in seconds."""
        fut: asyncio.Future[float] = self._loop.create_future()
        self._pings.append((self._native.ping(data), fut))
        self._check_pings()
        return fut

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Performs the close handshake and waits until closed."""
        self._native._close_nowait(code, reason)
        await self.wait_closed()

    async def wait_closed(self) -> None:
        """Waits until the connection is closed."""
        native = self._native
        while not native._poll_closed():
            await self._wait()

    def __aiter__(self) -> AsyncIterator[Data]:
        return self

    async def __anext__(self) -> Data:
        try:
            return await self.recv()
        except ConnectionClosedOK:
            raise StopAsyncIteration from None

    async def __aenter__(self: T) -> T:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __enter__(self) -> NoReturn:
        _mixup()

    def __exit__(self, *exc: object) -> None:
        _mixup()

    def __iter__(self) -> Iterator[Data]:
        _mixup()

    @property
    def subprotocol(self) -> Optional[str]:
        """The negotiated subprotocol, if any."""
        return self._native.subprotocol

    @property
    def close_code(self) -> Optional[int]:
        """The close code, once closed."""
        return self._native.close_code

    @property
    def close_reason(self) -> Optional[str]:
        """The close reason, once closed."""
        return self._native.close_reason

    @property
    def remote_address(self) -> Optional[Address]:
        """The peer's ``(host, port)``; over a Unix domain socket its path
        (``""`` for a client's unnamed socket, as a server sees it)."""
        return self._native.remote_address

    @property
    def latency(self) -> float:
        """The round trip of the last answered ping, in seconds."""
        return self._native.latency

    @property
    def connected(self) -> bool:
        """Whether a connection is up (false while reconnecting)."""
        return self._native.connected

    @property
    def reconnects(self) -> int:
        """How many times a client with ``reconnect=`` reconnected."""
        return self._native.reconnects

    @property
    def request(self) -> Optional[Request]:
        """The handshake request (server side)."""
        return self._native.request

    @property
    def peer_subject(self) -> Optional[str]:
        """Mutual TLS (server side, ``client_ca_file=``): the subject of the
        client's verified certificate, RFC 4514 (``"CN=alice,O=Example"``);
        ``None`` when it sent none."""
        return self._native.peer_subject

    @property
    def peer_certificates(self) -> Optional[list[bytes]]:
        """Mutual TLS (server side): the client's certificate chain as sent,
        leaf first, DER (``ssl.DER_cert_to_PEM_cert`` converts)."""
        return self._native.peer_certificates

    @property
    def response(self) -> Optional[Response]:
        """The handshake response (client side)."""
        return self._native.response


class ClientConnection(Connection):
    """The client side of a connection, from :func:`connect`."""

    __slots__ = ()


class ServerConnection(Connection):
    """The server side of a connection, given to a server's handler."""

    __slots__ = ()
    _native: _wsx.ServerConnection

    def subscribe(self, topic: str) -> bool:
        """Subscribes to ``topic`` (see :meth:`Server.publish`); False if
        subscribed already. Closing the connection leaves all its topics."""
        return self._native.subscribe(topic)

    def unsubscribe(self, topic: str) -> bool:
        """Unsubscribes from ``topic``; whether it was subscribed."""
        return self._native.unsubscribe(topic)

    @property
    def topics(self) -> list[str]:
        """The topics this connection is subscribed to, sorted."""
        return self._native.topics


class _Opening(Generic[T]):
    """What :func:`connect` and :func:`serve` return: await it, or use it
    with ``async with``."""

    def __init__(self, create: Callable[[], Awaitable[T]]) -> None:
        self._create = create
        self._value: Optional[T] = None

    def __await__(self) -> Generator[Any, None, T]:
        return self._create().__await__()

    async def __aenter__(self) -> T:
        self._value = await self._create()
        return self._value

    async def __aexit__(self, *exc: object) -> None:
        assert self._value is not None
        await self._value.__aexit__(*exc)  # type: ignore[attr-defined]

    def __enter__(self) -> NoReturn:
        _mixup()

    def __exit__(self, *exc: object) -> None:
        _mixup()

    def __getattr__(self, name: str) -> NoReturn:
        # `ws = wsx.connect(uri); ws.send(...)`: the blocking API of old.
        raise AttributeError(f"{name!r}: not connected yet. {_ASYNC_IN_SYNC}")


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
) -> _Opening[ClientConnection]:
    """Opens a connection: ``ws = await connect(uri)`` or
    ``async with connect(uri) as ws``. Options and errors as in
    :func:`wsx.sync.connect`."""

    options = dict(locals())  # exactly the arguments above (a copy)

    async def create() -> ClientConnection:
        loop = asyncio.get_running_loop()
        native = start_client(run=_run_on(loop, options["open_timeout"]), **options)
        conn = ClientConnection(native, loop, _hub(loop))
        while not native._poll_open():
            await conn._wait()
        return conn

    return _Opening(create)


class Server(_Waitable):
    """A running server: each connection's handler runs as a task."""

    __slots__ = ("_listener", "_handler", "_hub", "_tasks", "_connections", "_accepting")

    def __init__(
        self,
        listener: _wsx.Listener,
        handler: Callable[[ServerConnection], Awaitable[Any]],
        loop: asyncio.AbstractEventLoop,
        hub: _Hub,
    ) -> None:
        super().__init__(loop)
        self._listener = listener
        self._handler = handler
        self._hub = hub
        self._tasks: set[asyncio.Task[None]] = set()
        self._connections: set[ServerConnection] = set()
        listener._attach(hub.native)
        hub.register(self, listener._token)
        self._accepting = loop.create_task(self._accept_loop())

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
        return set(self._connections)

    def publish(self, topic: str, message: Sendable, *, exclude: Optional[ServerConnection] = None) -> int:
        """Sends ``message`` to every connection subscribed to ``topic`` but
        ``exclude`` and returns how many it was queued for; never waits (see
        :meth:`wsx.sync.Server.publish`)."""
        native = None if exclude is None else exclude._native
        return self._listener.publish(topic, message, exclude=native)

    def subscribers(self, topic: str) -> int:
        """How many connections are subscribed to ``topic``."""
        return self._listener.subscribers(topic)

    def metrics(self) -> dict[str, Any]:
        """The server's counters now: ``connections_open``,
        ``connections_opened``, ``handshakes_accepted``,
        ``handshakes_refused`` (by status: 400, 401, 403, 404, 405, 426,
        429, 500, 503, ``"other"``), ``http_answered``,
        ``handshakes_evicted``, ``messages_in``, ``bytes_in``,
        ``messages_out``, ``bytes_out`` (payloads), ``closes`` (by code:
        1000-1003, 1005-1009, 1011, 1012, ``"other"``),
        ``keepalive_timeouts``, ``protocol_errors``, ``queued_bytes`` and
        ``last_ping_rtt`` (seconds, or None)."""
        return self._listener.metrics()

    def metrics_text(self) -> str:
        """The counters as OpenMetrics text, for a ``/metrics`` route::

            def process_request(conn, request):
                if request.path == "/metrics":
                    return wsx.Response(
                        200, "OK", {"Content-Type": wsx.OPENMETRICS_CONTENT_TYPE},
                        server.metrics_text().encode())
        """
        return self._listener.metrics_text()

    async def _accept_loop(self) -> None:
        listener = self._listener
        while True:
            native = listener._poll_accept()
            if native is None:
                if listener.shut_down:
                    return
                await self._wait()
                continue
            task = self._loop.create_task(self._run(ServerConnection(native, self._loop, self._hub)))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run(self, conn: ServerConnection) -> None:
        self._connections.add(conn)
        try:
            out = self._handler(conn)
            if not inspect.isawaitable(out):
                raise TypeError(
                    f"the handler returned {type(out).__name__}, not an awaitable: wsx.serve (asyncio) "
                    "awaits its handler; use wsx.sync.serve for a blocking one"
                )
            await out
        except ConnectionClosed:
            pass
        except Exception:
            logger.error("connection handler failed", exc_info=True)
            await conn.close(1011, "internal error")
        else:
            await conn.close()
        finally:
            self._connections.discard(conn)

    def close(
        self,
        close_connections: bool = True,
        *,
        code: int = 1001,
        reason: str = "",
        timeout: Optional[float] = None,
    ) -> None:
        """Graceful shutdown (the drain): every connection gets a close frame
        with ``code`` and ``reason`` (1001, going away, by default; 1012 tells
        reconnecting clients the service restarts), handshakes meanwhile are
        answered 503, connections still open after ``timeout`` seconds (the
        server's ``close_timeout`` by default) are dropped; see
        :meth:`wait_closed`. ``close_connections=False`` (websockets' way to
        leave connections open) is not supported: a wsx server's connections
        end with it."""
        if not close_connections:
            raise NotImplementedError(
                "a wsx server closes its connections when it closes; "
                "give code= and timeout= to choose how"
            )
        self._listener.shutdown(timeout, code, reason)

    async def wait_closed(self) -> None:
        """Waits until the server stopped and every handler returned."""
        await asyncio.shield(self._accepting)
        if self._tasks:
            await asyncio.wait(list(self._tasks))

    async def serve_forever(self) -> None:
        """Runs until the server is closed; cancelling it closes the server."""
        try:
            await self.wait_closed()
        except asyncio.CancelledError:
            self.close()
            raise

    async def __aenter__(self) -> Server:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()
        await self.wait_closed()

    def __enter__(self) -> NoReturn:
        _mixup()

    def __exit__(self, *exc: object) -> None:
        _mixup()


async def _awaited(awaitable: Awaitable[T]) -> T:
    return await awaitable


def _run_on(loop: asyncio.AbstractEventLoop, timeout: Optional[float]) -> Callable[[Awaitable[T]], T]:
    """What a hook's thread calls to wait for an awaitable the hook returned:
    it runs on ``loop``, for no longer than ``timeout`` (the core gives up on
    the handshake or attempt then; a loop that stopped must not hold the
    thread)."""

    def run(awaitable: Awaitable[T]) -> T:
        future = asyncio.run_coroutine_threadsafe(_awaited(awaitable), loop)
        try:
            return future.result(timeout)
        finally:
            future.cancel()

    return run


def serve(
    handler: Callable[[ServerConnection], Awaitable[Any]],
    host: str = DEFAULTS.host,
    port: int = DEFAULTS.port,
    *,
    subprotocols: Optional[Sequence[str]] = None,
    origins: Optional[Sequence[Optional[str]]] = None,
    process_request: Optional[
        Callable[[_wsx.ServerConnection, Request], Union[ProcessResult, Awaitable[ProcessResult]]]
    ] = None,
    select_subprotocol: Optional[
        Callable[[_wsx.ServerConnection, Sequence[str]], Union[Optional[str], Awaitable[Optional[str]]]]
    ] = None,
    process_response: Optional[
        Callable[[_wsx.ServerConnection, Request, Response], Union[Optional[Response], Awaitable[Optional[Response]]]]
    ] = None,
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
) -> _Opening[Server]:
    """Starts a server: ``server = await serve(handler, host, port)`` or
    ``async with serve(...) as server``. ``await handler(connection)`` runs as
    a task per connection (a handler that is a plain ``def`` function is
    refused at once: use :func:`wsx.sync.serve` for it). Options as in
    :func:`wsx.sync.serve`. The hooks (``process_request``,
    ``select_subprotocol``, ``process_response``) may be coroutine
    functions, awaited on this loop, or plain functions, run on a thread of
    their own; either way the network thread never waits for them."""
    if (inspect.isfunction(handler) or inspect.ismethod(handler)) and not _is_async(handler):
        if handler.__name__ != "<lambda>":  # a lambda may return a coroutine
            raise TypeError(
                f"{handler.__qualname__!r} is not a coroutine function: wsx.serve (asyncio) awaits its "
                "handler; use wsx.sync.serve for a blocking handler (def), or make it `async def`"
            )
    options = dict(locals())  # exactly the arguments above
    del options["handler"]

    async def create() -> Server:
        loop = asyncio.get_running_loop()
        listener = start_server(run=_run_on(loop, open_timeout), **options)
        return Server(listener, handler, loop, _hub(loop))

    return _Opening(create)




def unix_connect(
    path: Optional[StrPath] = None, uri: Optional[str] = None, **kwargs: Any
) -> _Opening[ClientConnection]:
    """:func:`connect` over the Unix domain socket at ``path``, as
    ``websockets.asyncio.client.unix_connect``: ``uri`` (default
    ``ws://localhost/``, or ``wss://localhost/`` with ``ssl`` or ``ca_file``)
    gives the scheme, the ``Host`` header and the resource."""
    return connect(unix_uri(path, uri, kwargs), unix_socket_path=path, **kwargs)


def unix_serve(
    handler: Callable[[ServerConnection], Awaitable[Any]], path: Optional[StrPath] = None, **kwargs: Any
) -> _Opening[Server]:
    """:func:`serve` on the Unix domain socket at ``path``, as
    ``websockets.asyncio.server.unix_serve`` (see ``unix_socket_path`` of
    :func:`wsx.sync.serve`)."""
    if path is None:
        raise TypeError("unix_serve needs the path of the Unix domain socket")
    return serve(handler, unix_socket_path=path, **kwargs)

#: Several WebSocket endpoints on one server, by path: ``route(url_map,
#: host, port, ...)`` as ``websockets.asyncio.router.route`` (see
#: :mod:`wsx._router`); also ``wsx.asyncio.router.route``.
route = _router.make_route(serve, is_async=True)
Router = _router.Router
router = _router.module(__name__ + ".router", route)
sys.modules[router.__name__] = router
