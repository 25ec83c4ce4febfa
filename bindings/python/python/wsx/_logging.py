"""wsx's log records in Python's :mod:`logging`.

The native loop never takes the GIL to log: its records wait in a bounded
native queue, and a daemon thread started by :func:`enable_logging` takes
them (waiting with the GIL released) and hands each to
``logging.getLogger(target)``, where ``target`` is ``wsx.conn`` (opened,
closed with codes), ``wsx.server`` (handshakes refused and why),
``wsx.protocol`` (protocol errors), ``wsx.keepalive`` (keepalive timeouts),
``wsx.proxy`` (proxy tunnels), ``wsx.cluster`` or ``wsx.loop`` (a loop thread that
ended early): all children of the
``wsx`` logger. Nothing is logged until :func:`enable_logging` (a record
then costs the loop one atomic load).
"""

from __future__ import annotations

import logging
import threading
from typing import Optional

from . import _wsx

__all__ = ["disable_logging", "enable_logging"]

_lock = threading.Lock()
_thread: Optional[threading.Thread] = None
_stop = threading.Event()


def _drain() -> None:
    while True:
        records, dropped = _wsx._log_take(0.5)
        for level, target, message in records:
            logging.getLogger(target).log(level, message)
        if dropped:
            logging.getLogger("wsx").warning("%d log records dropped: Python fell behind", dropped)
        if _stop.is_set() and not records:
            return


def enable_logging(level: Optional[int] = None) -> None:
    """Sends wsx's records of ``level`` and up (by default the ``wsx``
    logger's effective level) to :mod:`logging`. Calling it again changes
    the level."""
    global _thread
    if level is None:
        level = logging.getLogger("wsx").getEffectiveLevel()
    with _lock:
        _wsx._log_level(max(int(level), 1))
        if _thread is None or not _thread.is_alive():
            _stop.clear()
            _thread = threading.Thread(target=_drain, name="wsx-logging", daemon=True)
            _thread.start()


def disable_logging() -> None:
    """Stops logging (the records queued so far still reach :mod:`logging`)."""
    global _thread
    with _lock:
        _wsx._log_level(0)
        _stop.set()
        if _thread is not None:
            _thread.join(5)
            _thread = None
