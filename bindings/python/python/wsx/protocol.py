"""Sans-I/O protocol objects: a WebSocket connection with no socket, clock
or thread, for programs that own their I/O (asyncio streams, trio, a game
engine's sockets), with the method names of websockets' sans-I/O layer::

    from wsx.protocol import ClientProtocol, Message, Close

    protocol = ClientProtocol("ws://example.com/chat")
    writer.write(b"".join(protocol.data_to_send()))   # the handshake request
    while True:
        data = await reader.read(65536)
        protocol.receive_data(data) if data else protocol.receive_eof()
        for event in protocol.events_received():
            if isinstance(event, Message):
                protocol.send_text(event.data)          # echo
            elif isinstance(event, Close):
                ...
        for chunk in protocol.data_to_send():
            writer.write(chunk) if chunk else writer.write_eof()   # b"": half-close

The engine is wsx's core (handshake, framing, masking, UTF-8,
permessage-deflate, the close handshake); timers run only when the program
calls :meth:`Protocol.tick` with the current time (see
:meth:`Protocol.next_deadline`). Options mean what they mean for
``connect`` and ``serve`` (``None``: no limit, no timeout, no keepalive),
with the same defaults and the same checks (``InvalidArgument``). Event
objects are plain data classes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence, Union

from ._options import DEFAULTS
from ._wsx import Deflate, Engine

__all__ = [
    "ClientProtocol",
    "Close",
    "Error",
    "Fragment",
    "Message",
    "Open",
    "Ping",
    "Pong",
    "Protocol",
    "Request",
    "ServerProtocol",
]


@dataclass(frozen=True)
class Request:
    """Server: a valid handshake request; answer with ``accept`` or ``reject``."""

    path: str
    headers: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Open:
    """The handshake finished."""

    subprotocol: Optional[str]
    deflate: bool


@dataclass(frozen=True)
class Message:
    """A whole message: ``str`` for text, ``bytes`` for binary."""

    data: Union[str, bytes]


@dataclass(frozen=True)
class Fragment:
    """A piece of a message (``streaming=True``)."""

    data: bytes
    text: bool
    fin: bool


@dataclass(frozen=True)
class Ping:
    """A ping (answered already)."""

    data: bytes


@dataclass(frozen=True)
class Pong:
    """A pong."""

    data: bytes


@dataclass(frozen=True)
class Close:
    """The connection is over: always the last event.

    ``origin`` is ``"local"``, ``"remote"`` or ``"transport"`` (no close
    handshake: code 1006); ``clean`` tells whether both close frames passed.
    """

    code: int
    reason: str
    origin: str
    clean: bool


@dataclass(frozen=True)
class Error:
    """Something failed (``kind``: ``"handshake"``, ``"protocol"`` or
    ``"timeout"``; ``status``: a refused handshake's HTTP status, and
    ``headers`` and ``body`` its response's, as ``InvalidStatus.response``
    has them for ``connect``); a :class:`Close` follows."""

    kind: str
    status: int
    message: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


Event = Union[Request, Open, Message, Fragment, Ping, Pong, Close, Error]

_MAKERS = {
    "request": Request,
    "open": Open,
    "message": Message,
    "fragment": Fragment,
    "ping": Ping,
    "pong": Pong,
    "close": Close,
    "error": Error,
}


class Protocol:
    """What clients and servers share. Not thread-safe: one call at a time,
    from any thread."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.close_code: Optional[int] = None
        self.close_reason: Optional[str] = None
        self._text: Optional[bool] = None

    def receive_data(self, data: bytes) -> None:
        """Feeds bytes received from the transport."""
        self._engine.receive_data(data)

    def receive_eof(self) -> None:
        """The transport ended."""
        self._engine.receive_eof()

    def events_received(self) -> list[Event]:
        """The events since the last call, oldest first."""
        events: list[Event] = []
        for raw in self._engine.take_events():
            event: Event = _MAKERS[raw[0]](*raw[1:])
            if isinstance(event, Close):
                self.close_code, self.close_reason = event.code, event.reason
            events.append(event)
        return events

    def data_to_send(self) -> list[bytes]:
        """The bytes to write, in order; an empty ``bytes`` last means: shut
        the write side down now (half-close; then close on EOF)."""
        data, shutdown = self._engine.take_output()
        chunks = [data] if data else []
        if shutdown:
            chunks.append(b"")
        return chunks

    def close_expected(self) -> bool:
        """Whether the transport should close soon (the close handshake is
        under way or done)."""
        return self._engine.state in ("closing", "closed")

    def send_text(self, data: Union[str, bytes], fin: bool = True) -> None:
        """Queues a text message (``str`` or UTF-8 ``bytes``); ``fin=False``
        starts or continues a fragmented one, ended by ``fin=True``."""
        self._send(data, True, fin)

    def send_binary(self, data: bytes, fin: bool = True) -> None:
        """Queues a binary message; ``fin=False`` fragments it as ``send_text``."""
        self._send(data, False, fin)

    def _send(self, data: Union[str, bytes], text: bool, fin: bool) -> None:
        fragmented = self._text is not None or not fin
        self._engine.send(data, text, fin, fragmented)
        self._text = None if fin else text

    def send_ping(self, data: bytes = b"") -> None:
        """Queues a ping (at most 125 bytes)."""
        self._engine.ping(data)

    def send_pong(self, data: bytes = b"") -> None:
        """Queues a pong (at most 125 bytes)."""
        self._engine.pong(data)

    def send_close(self, code: int = 1000, reason: str = "") -> None:
        """Starts the close handshake (1005: a close frame without a code)."""
        self._engine.close(code, reason)

    def tick(self, now: float) -> None:
        """Tells the engine the time (seconds of a monotonic clock, such as
        ``loop.time()``): fires keepalive pings and timeouts."""
        self._engine.tick(now)

    def next_deadline(self) -> Optional[float]:
        """When to call :meth:`tick` next (same clock), or None."""
        return self._engine.next_deadline()

    @property
    def state(self) -> str:
        """``"connecting"``, ``"open"``, ``"closing"`` or ``"closed"``."""
        return self._engine.state

    @property
    def subprotocol(self) -> Optional[str]:
        """The subprotocol agreed, if any."""
        return self._engine.subprotocol

    @property
    def buffered_amount(self) -> int:
        """Bytes queued and not yet taken by :meth:`data_to_send`."""
        return self._engine.buffered_amount


class ClientProtocol(Protocol):
    """The client side: the handshake request is in ``data_to_send()`` at once.
    Compression (permessage-deflate) is offered by default; pass
    ``compression=None`` to offer none."""

    def __init__(
        self,
        uri: str,
        *,
        subprotocols: Sequence[str] = (),
        headers: Sequence[tuple[str, str]] = (),
        origin: Optional[str] = None,
        compression: Optional[Deflate] = Deflate(),
        max_size: Optional[int] = DEFAULTS.max_size,
        streaming: bool = False,
        open_timeout: Optional[float] = DEFAULTS.open_timeout,
        close_timeout: Optional[float] = DEFAULTS.close_timeout,
        ping_interval: Optional[float] = DEFAULTS.ping_interval,
        ping_timeout: Optional[float] = DEFAULTS.ping_timeout,
    ) -> None:
        super().__init__(
            Engine.client(
                uri,
                subprotocols=list(subprotocols),
                headers=list(headers),
                origin=origin,
                compression=compression,
                max_size=max_size,
                streaming=streaming,
                open_timeout=open_timeout,
                close_timeout=close_timeout,
                ping_interval=ping_interval,
                ping_timeout=ping_timeout,
            )
        )


class ServerProtocol(Protocol):
    """The server side: a :class:`Request` event comes first; answer it with
    :meth:`accept` or :meth:`reject`."""

    def __init__(
        self,
        *,
        subprotocols: Sequence[str] = (),
        origins: Optional[Sequence[str]] = None,
        compression: Optional[Deflate] = None,
        max_size: Optional[int] = DEFAULTS.max_size,
        streaming: bool = False,
        open_timeout: Optional[float] = DEFAULTS.open_timeout,
        close_timeout: Optional[float] = DEFAULTS.close_timeout,
        ping_interval: Optional[float] = DEFAULTS.ping_interval,
        ping_timeout: Optional[float] = DEFAULTS.ping_timeout,
    ) -> None:
        super().__init__(
            Engine.server(
                subprotocols=list(subprotocols),
                origins=None if origins is None else list(origins),
                compression=compression,
                max_size=max_size,
                streaming=streaming,
                open_timeout=open_timeout,
                close_timeout=close_timeout,
                ping_interval=ping_interval,
                ping_timeout=ping_timeout,
            )
        )

    def accept(
        self, subprotocol: Optional[str] = None, headers: Sequence[tuple[str, str]] = ()
    ) -> None:
        """Accepts the request (an :class:`Open` event follows)."""
        self._engine.accept(subprotocol, list(headers))

    def reject(self, status: int, reason: str = "") -> None:
        """Refuses the request with an HTTP status (400-599)."""
        self._engine.reject(status, reason)
