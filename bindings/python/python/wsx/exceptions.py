"""The exceptions of wsx, all rooted at :class:`WsxError`.

The native module raises these classes; every error of the Rust core is
converted by one function (``errors.rs``), so the mapping below is complete::

    WsxError
    ├── ConnectionClosed            .rcvd, .sent, .rcvd_then_sent, .code, .reason
    │   ├── ConnectionClosedOK      closed cleanly with 1000, 1001 or no code
    │   └── ConnectionClosedError   any other end; __cause__ says why
    ├── InvalidArgument (ValueError)
    │   └── InvalidURI              not a ws:// or wss:// URL
    ├── InvalidHandshake            the opening handshake failed
    │   ├── InvalidStatus           the server refused: .response (.status)
    │   └── TLSError                TLS handshake or certificate refused
    ├── ConnectError (OSError)      name resolution, TCP connect or a proxy failed
    │   └── ConnectionRefused (ConnectionRefusedError)   .errno is ECONNREFUSED
    ├── OpenTimeout (TimeoutError)       connect or handshake took too long
    ├── KeepaliveTimeout (TimeoutError)  a keepalive ping got no pong in time
    ├── CloseTimeout (TimeoutError)      the peer did not finish the close handshake
    ├── WouldBlock                  the send queue is full (a broadcast skipped it)
    ├── ProtocolError               the peer broke RFC 6455 (close 1002/1007/1003)
    └── PayloadTooBig               a message or frame over max_size (close 1009)

The keepalive and close timeouts end a connection: they are the
``__cause__`` of its :class:`ConnectionClosedError` (code 1006).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple, Optional

if TYPE_CHECKING:
    from ._wsx import Response

__all__ = [
    "Close",
    "WsxError",
    "ConnectionClosed",
    "ConnectionClosedOK",
    "ConnectionClosedError",
    "InvalidArgument",
    "InvalidURI",
    "InvalidHandshake",
    "InvalidStatus",
    "TLSError",
    "ConnectError",
    "ConnectionRefused",
    "OpenTimeout",
    "KeepaliveTimeout",
    "CloseTimeout",
    "WouldBlock",
    "ProtocolError",
    "PayloadTooBig",
]


class WsxError(Exception):
    """The root of every wsx exception."""


class Close(NamedTuple):
    """A close frame: its code and reason (``websockets.frames.Close``)."""

    code: int
    reason: str


class ConnectionClosed(WsxError):
    """The connection is closed: raised by operations on a closed connection.

    As in ``websockets``: ``rcvd`` is the peer's close frame and ``sent``
    ours (a :class:`Close`, or None when none passed), ``rcvd_then_sent``
    tells which came first when both did. ``code`` is the close code (the
    peer's, ours if we failed the connection, or 1006 when the transport
    dropped without a close handshake) and ``reason`` the text that came
    with it.
    """

    def __init__(
        self,
        code: int,
        reason: str = "",
        rcvd: Optional[tuple[int, str]] = None,
        sent: Optional[tuple[int, str]] = None,
        rcvd_then_sent: Optional[bool] = None,
    ) -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason
        self.rcvd = None if rcvd is None else Close(*rcvd)
        self.sent = None if sent is None else Close(*sent)
        self.rcvd_then_sent = rcvd_then_sent

    def __str__(self) -> str:
        if self.reason:
            return f"connection closed: {self.code} ({self.reason})"
        return f"connection closed: {self.code}"


class ConnectionClosedOK(ConnectionClosed):
    """The connection closed normally: a clean close handshake with code 1000,
    1001 or no code (1005). Iteration over a connection ends on it."""


class ConnectionClosedError(ConnectionClosed):
    """The connection closed abnormally: another code, a protocol error, a
    timeout or a dropped transport. ``__cause__`` holds the error, if any."""


class InvalidArgument(WsxError, ValueError):
    """An argument or option was refused by the core."""


class InvalidURI(InvalidArgument):
    """The URI is not a valid ``ws://`` or ``wss://`` URL."""

    def __init__(self, uri: str, msg: str) -> None:
        super().__init__(uri, msg)
        self.uri = uri
        self.msg = msg

    def __str__(self) -> str:
        return f"{self.uri} isn't a valid URI: {self.msg}"


class InvalidHandshake(WsxError):
    """The opening handshake failed."""


class InvalidStatus(InvalidHandshake):
    """The server answered the handshake with something else than 101:
    ``response`` is that answer (``status_code``, ``reason_phrase``,
    ``headers``, ``body``), as in ``websockets``."""

    def __init__(self, response: Response, message: Optional[str] = None) -> None:
        super().__init__(response, message)
        self.response = response
        self.message = message

    @property
    def status(self) -> int:
        """The HTTP status: ``response.status_code``."""
        return self.response.status_code

    def __str__(self) -> str:
        return self.message or f"server rejected WebSocket connection: HTTP {self.status}"


class TLSError(InvalidHandshake):
    """The TLS handshake failed or the certificate was refused."""


class ConnectError(WsxError, OSError):
    """Name resolution, TCP connect, a proxy or another I/O step failed."""


class ConnectionRefused(ConnectError, ConnectionRefusedError):
    """The server refused the TCP connection (``errno`` is ECONNREFUSED):
    caught by ``except ConnectionRefusedError``, as with ``websockets``."""


class OpenTimeout(WsxError, TimeoutError):
    """Connecting or the opening handshake took longer than ``open_timeout``."""


class KeepaliveTimeout(WsxError, TimeoutError):
    """A keepalive ping got no pong within ``ping_timeout``: the connection
    was dropped (the ``__cause__`` of its :class:`ConnectionClosedError`)."""


class CloseTimeout(WsxError, TimeoutError):
    """The peer did not complete the close handshake within
    ``close_timeout``: the connection was dropped (the ``__cause__`` of its
    :class:`ConnectionClosedError`)."""


class WouldBlock(WsxError):
    """The connection's send queue is past its high-water mark: a
    :func:`~wsx.broadcast` skipped it."""


class ProtocolError(WsxError):
    """The peer broke the WebSocket protocol."""


class PayloadTooBig(WsxError):
    """A message or frame was over ``max_size``."""
