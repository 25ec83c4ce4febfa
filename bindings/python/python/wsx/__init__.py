"""wsx: a fast WebSocket (RFC 6455) client and server on a Rust core.

Shaped like ``websockets`` 14+: ``wsx.connect`` and ``wsx.serve`` are the
asyncio API (also at ``wsx.asyncio``)::

    import wsx

    async with wsx.connect("ws://127.0.0.1:8765/") as ws:
        await ws.send("hello")
        print(await ws.recv())

and the blocking API lives in :mod:`wsx.sync` (``wsx.sync.connect``,
``wsx.sync.serve``), as in ``websockets.sync``. ``unix_connect`` and
``unix_serve`` (in both) use Unix domain sockets.
"""

from . import sync
from ._broadcast import broadcast
from ._logging import disable_logging, enable_logging
from ._wsx import (
    Cluster,
    ClusterGap,
    Deflate,
    Headers,
    PongWaiter,
    Reconnect,
    Request,
    Response,
    OPENMETRICS_CONTENT_TYPE,
    __version__,
    loop_metrics,
)
from .asyncio import (
    ClientConnection,
    Connection,
    Server,
    ServerConnection,
    connect,
    serve,
    unix_connect,
    unix_serve,
)
from .exceptions import (
    Close,
    CloseTimeout,
    ConnectError,
    ConnectionClosed,
    ConnectionClosedError,
    ConnectionClosedOK,
    ConnectionRefused,
    InvalidArgument,
    InvalidHandshake,
    InvalidState,
    InvalidStatus,
    InvalidURI,
    KeepaliveTimeout,
    OpenTimeout,
    PayloadTooBig,
    ProtocolError,
    TLSError,
    WouldBlock,
    WsxError,
)

__all__ = [
    "ClientConnection",
    "Close",
    "CloseTimeout",
    "Cluster",
    "ClusterGap",
    "ConnectError",
    "Connection",
    "ConnectionClosed",
    "ConnectionClosedError",
    "ConnectionClosedOK",
    "ConnectionRefused",
    "Deflate",
    "Headers",
    "InvalidArgument",
    "InvalidHandshake",
    "InvalidState",
    "InvalidStatus",
    "InvalidURI",
    "OPENMETRICS_CONTENT_TYPE",
    "KeepaliveTimeout",
    "OpenTimeout",
    "PayloadTooBig",
    "PongWaiter",
    "ProtocolError",
    "Reconnect",
    "Request",
    "Response",
    "Server",
    "ServerConnection",
    "TLSError",
    "WouldBlock",
    "WsxError",
    "__version__",
    "disable_logging",
    "enable_logging",
    "loop_metrics",
    "broadcast",
    "connect",
    "serve",
    "sync",
    "unix_connect",
    "unix_serve",
]
