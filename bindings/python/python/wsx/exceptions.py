"""The exceptions of wsx, all rooted at :class:`WsxError`.

The native module raises these classes; every error of the Rust core is
converted by one function (``errors.rs``), so the mapping below is complete::

    WsxError
    ├── ConnectionClosed            .code, .reason
    │   ├── ConnectionClosedOK      closed cleanly with 1000, 1001 or no code
    │   └── ConnectionClosedError   any other end; __cause__ says why
    ├── InvalidArgument (ValueError)
    │   └── InvalidURI              not a ws:// or wss:// URL
    ├── InvalidHandshake            the opening handshake failed
    │   ├── InvalidStatus           the server refused: .status
    │   └── TLSError                TLS handshake or certificate refused
    ├── ConnectError (OSError)      name resolution, TCP connect or a proxy failed
    ├── OpenTimeout (TimeoutError)  connect or handshake took too long
    ├── ProtocolError               the peer broke RFC 6455 (close 1002/1007/1003)
    └── PayloadTooBig               a message or frame over max_size (close 1009)
"""

from __future__ import annotations

from typing import Optional

__all__ = [
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
    "OpenTimeout",
    "ProtocolError",
    "PayloadTooBig",
]


class WsxError(Exception):
    """The root of every wsx exception."""


class ConnectionClosed(WsxError):
    """The connection is closed: raised by operations on a closed connection.

    ``code`` is the close code (the peer's, ours if we failed the connection,
    or 1006 when the transport dropped without a close handshake) and
    ``reason`` the text that came with it.
    """

    def __init__(self, code: int, reason: str = "") -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason

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
    """The server answered the handshake with ``status`` instead of 101."""

    def __init__(self, status: int, message: Optional[str] = None) -> None:
        super().__init__(status, message)
        self.status = status
        self.message = message

    def __str__(self) -> str:
        return self.message or f"server rejected WebSocket connection: HTTP {self.status}"


class TLSError(InvalidHandshake):
    """The TLS handshake failed or the certificate was refused."""


class ConnectError(WsxError, OSError):
    """Name resolution, TCP connect, a proxy or another I/O step failed."""


class OpenTimeout(WsxError, TimeoutError):
    """Connecting or the opening handshake took longer than ``open_timeout``."""


class ProtocolError(WsxError):
    """The peer broke the WebSocket protocol."""


class PayloadTooBig(WsxError):
    """A message or frame was over ``max_size``."""
