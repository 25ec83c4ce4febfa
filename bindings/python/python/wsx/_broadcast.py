"""``broadcast``: one message to many connections, as in ``websockets``."""

from __future__ import annotations

import logging
import sys
from typing import Any, Iterable

from . import _wsx
from ._options import Sendable
from .exceptions import ConnectionClosed

__all__ = ["broadcast"]

logger = logging.getLogger("wsx.broadcast")


def broadcast(connections: Iterable[Any], message: Sendable, raise_exceptions: bool = False) -> None:
    """Sends ``message`` (``str`` as text, bytes-like as binary) to every
    connection of ``connections`` (asyncio or blocking ones, mixed) without
    waiting, as ``websockets.broadcast`` does: a connection that is closed
    or closing is skipped; one whose send queue is past its high-water mark
    is skipped too, with a warning, or, with ``raise_exceptions=True``, an
    ``ExceptionGroup`` of :class:`~wsx.WouldBlock` (one per connection
    skipped) is raised once every other connection got the message.
    Safe from any thread."""
    if raise_exceptions and sys.version_info < (3, 11):
        raise ValueError("raise_exceptions=True needs Python 3.11 or later (ExceptionGroup)")
    conns = list(connections)
    natives = [getattr(c, "_native", c) for c in conns]
    errors: list[Exception] = []
    for index, exc in _wsx.broadcast(natives, message):
        if isinstance(exc, ConnectionClosed) or not isinstance(exc, Exception):
            continue
        if raise_exceptions:
            errors.append(exc)
        else:
            logger.warning("skipped broadcast to %r: %s", conns[index], exc)
    if errors:
        raise ExceptionGroup("skipped broadcast", errors)
