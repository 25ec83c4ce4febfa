"""wsx: a fast WebSocket (RFC 6455) client and server on a Rust core.

The blocking API follows ``websockets.sync``::

    import wsx

    with wsx.connect("ws://127.0.0.1:8765/") as ws:
        ws.send("hello")
        print(ws.recv())

The asyncio API lives in :mod:`wsx.asyncio`.
"""

from ._wsx import (
    ClientConnection,
    Cluster,
    ClusterGap,
    Connection,
    Deflate,
    Headers,
    PongWaiter,
    Reconnect,
    Request,
    Response,
    ServerConnection,
    __version__,
)
from .exceptions import (
    ConnectError,
    ConnectionClosed,
    ConnectionClosedError,
    ConnectionClosedOK,
    InvalidArgument,
    InvalidHandshake,
    InvalidStatus,
    InvalidURI,
    OpenTimeout,
    PayloadTooBig,
    ProtocolError,
    TLSError,
    WsxError,
)
from .sync import Server, connect, serve

__all__ = [
    "ClientConnection",
    "Cluster",
    "ClusterGap",
    "ConnectError",
    "Connection",
    "ConnectionClosed",
    "Deflate",
    "ConnectionClosedError",
    "ConnectionClosedOK",
    "Headers",
    "InvalidArgument",
    "InvalidHandshake",
    "InvalidStatus",
    "InvalidURI",
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
    "WsxError",
    "__version__",
    "connect",
    "serve",
]
