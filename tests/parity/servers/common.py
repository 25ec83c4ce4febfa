"""What both parity servers share: payload patterns, query parsing, the
registry of stalled/flooding connections and the endpoint announcement.

The scenario paths (tests/parity/scenarios.json) are served the same way by
py_server.py (python-websockets) and wsx_server.py (wsx.sync.serve).
"""

from __future__ import annotations

import json
import sys
import threading
from urllib.parse import parse_qs, urlsplit

# How far a flood goes before it gives up on seeing backpressure.
FLOOD_LIMIT = 96 << 20
# Unsent bytes past which a flooding server counts itself held back.
HELD_BACK_BYTES = 4 << 20
# A flood is held back when its unsent data does not drain for this long
# (seconds): a server merely faster than its reader is not held back.
HELD_BACK_PAUSE = 0.5
# How long a /status or /release request waits for its connection.
SIDE_WAIT = 15.0


def payload(kind: str, size: int):
    """Byte i is i % 251; character i is chr(97 + i % 26) (scenarios.json)."""
    if kind == "text":
        return ("abcdefghijklmnopqrstuvwxyz" * (size // 26 + 1))[:size]
    return (bytes(range(251)) * (size // 251 + 1))[:size]


def split(path: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(path)
    return parts.path, {k: v[-1] for k, v in parse_qs(parts.query).items()}


class Board:
    """Thread-safe rendezvous between a connection and its side requests
    (/status, /release), keyed by the scenario's {uid}."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._values: dict[str, str] = {}

    def post(self, key: str, value: str) -> None:
        with self._cond:
            self._values[key] = value
            self._cond.notify_all()

    def wait(self, key: str, timeout: float = SIDE_WAIT) -> str | None:
        with self._cond:
            self._cond.wait_for(lambda: key in self._values, timeout)
            return self._values.get(key)


def announce(endpoints: dict[str, int]) -> None:
    """One JSON line on stdout: endpoint name -> port (run.py reads it)."""
    sys.stdout.write(json.dumps(endpoints) + "\n")
    sys.stdout.flush()


def wait_for_stdin_eof() -> None:
    """The servers run until run.py closes their stdin (or kills them)."""
    try:
        while sys.stdin.read(1):
            pass
    except (OSError, ValueError):
        pass
