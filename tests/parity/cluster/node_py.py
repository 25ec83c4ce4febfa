"""The Python node of the cluster parity scenario (README.md beside it): a
``wsx.sync.serve`` server that joins a cluster (``wsx.Cluster``), runs its
clients' commands and prints its cluster events as JSON lines.

    python node_py.py URL PREFIX NODE_ID MAX_QUEUED INITIAL_DELAY_MS MAX_DELAY_MS CONNECT_TIMEOUT_MS SHARDED CA_FILE

SHARDED is 1 or 0; CA_FILE (for rediss://) may be empty.

Runs until its stdin closes.
"""

from __future__ import annotations

import json
import sys
import threading
from typing import Any, Optional

import wsx
import wsx.sync

lock = threading.Lock()
server: Optional[wsx.sync.Server] = None


def emit(event: dict[str, Any]) -> None:
    with lock:
        print(json.dumps(event), flush=True)


def on_state(state: str, detail: str) -> None:
    emit({"event": "state", "state": state, "detail": detail})


def on_gap(gap: wsx.ClusterGap) -> None:
    emit({"event": "gap", "topic": gap.topic, "node": gap.node, "epoch": gap.epoch,
          "previous_epoch": gap.previous_epoch, "expected": gap.expected,
          "received": gap.received, "missed": gap.missed})


def answer(ws: wsx.sync.ServerConnection, command: str) -> str:
    """"sub T", "unsub T", "pub T MESSAGE", "stats" (README.md)."""
    assert server is not None
    parts = command.split(" ", 2)
    try:
        if parts == ["stats"]:
            stats = cluster.stats()
            assert stats is not None
            keys = ("state", "published", "received", "queued", "dropped", "gaps", "disconnects", "subscriptions")
            return "ok stats " + json.dumps({k: stats[k] for k in keys})
        if parts[0] == "sub" and len(parts) == 2:
            ws.subscribe(parts[1])
            return "ok sub"
        if parts[0] == "unsub" and len(parts) == 2:
            ws.unsubscribe(parts[1])
            return "ok unsub"
        if parts[0] == "pub" and len(parts) == 3:
            return f"ok pub {server.publish(parts[1], parts[2])}"
    except wsx.WsxError as e:
        return f"error {type(e).__name__}: {e}"
    return "error bad command"


def handler(ws: wsx.sync.ServerConnection) -> None:
    for message in ws:
        ws.send(answer(ws, message) if isinstance(message, str) else "error bad command")


url, prefix, node_id, max_queued, initial_ms, max_ms, connect_ms, sharded, ca_file = sys.argv[1:]
cluster = wsx.Cluster(
    url, prefix=prefix, node_id=node_id, sharded=sharded == "1", max_queued=int(max_queued),
    reconnect=wsx.Reconnect(initial_delay=int(initial_ms) / 1000, max_delay=int(max_ms) / 1000),
    connect_timeout=int(connect_ms) / 1000, ca_file=ca_file or None, on_state=on_state, on_gap=on_gap,
)
server = wsx.sync.serve(handler, "127.0.0.1", 0, cluster=cluster)
stats = cluster.stats()
assert stats is not None
emit({"event": "listening", "port": server.port, "node": cluster.node_id, "epoch": stats["epoch"]})
sys.stdin.read()
server.shutdown()
