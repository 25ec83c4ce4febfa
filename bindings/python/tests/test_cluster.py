"""Cluster pub/sub from Python: servers sharing topics through a Redis of
the test's own (``redis-server`` on a free port, stopped afterwards):
delivery across servers, the state and gap callbacks, a broker unreachable
at start, ``rediss://`` with a private CA, and the option checks."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

import wsx
import wsx.asyncio

from conftest import wsx_server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def redis_command(port: int, *args: bytes) -> bytes:
    """Sends one command; the first line of the reply."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        out = b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)
        s.sendall(out)
        return s.recv(4096)


@contextlib.contextmanager
def redis_server(*options: str) -> Iterator[int]:
    """A redis-server of this test, with `options`, on a free port of
    127.0.0.1 (plain TCP, also when `options` add a TLS port)."""
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is missing: `make deps` installs it (Debian's redis-server)")
    port = free_port()
    proc = subprocess.Popen(
        ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no", *options],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            with contextlib.suppress(OSError):
                if redis_command(port, b"PING").startswith(b"+PONG"):
                    break
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.02)
        yield port
    finally:
        proc.kill()
        proc.wait()


@pytest.fixture
def redis_port() -> Iterator[int]:
    with redis_server() as port:
        yield port


def wait_for(check: Callable[[], bool], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.01)


def numsub(port: int, channel: str) -> int:
    reply = redis_command(port, b"PUBSUB", b"NUMSUB", channel.encode())
    return int(reply.split(b"\r\n")[-2].lstrip(b":"))


class Room:
    """Each connection subscribes to the topic its path names and stays."""

    def __call__(self, ws: wsx.ServerConnection) -> None:
        assert ws.request is not None
        ws.subscribe(ws.request.path.strip("/"))
        ws.send("joined")
        for _ in ws:
            pass


class Recorder:
    """The cluster's callbacks, run on the network thread."""

    def __init__(self) -> None:
        self.states: list[tuple[str, str]] = []
        self.gaps: list[wsx.ClusterGap] = []
        self.lock = threading.Lock()

    def on_state(self, state: str, detail: str) -> None:
        with self.lock:
            self.states.append((state, detail))

    def on_gap(self, gap: wsx.ClusterGap) -> None:
        with self.lock:
            self.gaps.append(gap)

    def cluster(self, url: str, **kwargs: Any) -> wsx.Cluster:
        return wsx.Cluster(url, on_state=self.on_state, on_gap=self.on_gap, **kwargs)


def envelope(node: bytes, epoch: int, seq: int, text: bytes) -> bytes:
    """A publication in the nodes' wire format (see core/src/net/cluster/envelope.rs)."""
    return b"wsx\x01" + bytes([1, len(node)]) + node + struct.pack(">QQ", epoch, seq) + text


def test_a_publication_reaches_the_other_servers_subscribers(redis_port: int) -> None:
    url = f"redis://127.0.0.1:{redis_port}"
    ra, rb = Recorder(), Recorder()
    ca = ra.cluster(url, node_id="py-a", prefix="py:")
    cb = rb.cluster(url, node_id="py-b", prefix="py:")
    assert ca.state is None and ca.node_id == "py-a"
    with wsx_server(Room(), cluster=ca) as a, wsx_server(Room(), cluster=cb) as b:
        wait_for(lambda: ca.state == "up" and cb.state == "up", "both clusters are up")
        assert ra.states[-1][0] == "up" and "connected" in ra.states[-1][1]
        with wsx.sync.connect(f"ws://127.0.0.1:{b.port}/news") as client:
            assert client.recv(timeout=10) == "joined"
            wait_for(lambda: numsub(redis_port, "py:news") == 1, "B subscribed on Redis")
            assert a.publish("news", "from a") == 0  # nobody local on A
            assert client.recv(timeout=10) == "from a"
            a.publish("news", b"\x00\x01")
            assert client.recv(timeout=10) == b"\x00\x01"
            # A lost publication of another node shows as a gap on B.
            for seq, text in [(1, b"one"), (5, b"five")]:
                redis_command(redis_port, b"PUBLISH", b"py:news", envelope(b"fake", 3, seq, text))
            assert client.recv(timeout=10) == "one"
            assert client.recv(timeout=10) == "five"
            wait_for(lambda: len(rb.gaps) == 1, "the gap event")
            gap = rb.gaps[0]
            assert (gap.topic, gap.node, gap.missed, gap.expected, gap.received) == ("news", "fake", 3, 2, 5)
            assert gap.previous_epoch is None and gap.epoch == 3
            stats_a, stats_b = ca.stats(), cb.stats()
            assert stats_a is not None and stats_b is not None
            assert stats_a["published"] == 2 and stats_a["node_id"] == "py-a"
            assert stats_b["received"] == 4 and stats_b["gaps"] == 1 and stats_b["subscriptions"] == 1
        wait_for(lambda: numsub(redis_port, "py:news") == 0, "B left the channel")
    assert ra.gaps == []


def test_a_url_is_enough_and_asyncio_serve_takes_it_too(redis_port: int) -> None:
    url = f"redis://127.0.0.1:{redis_port}"

    async def main() -> None:
        async def room(ws: Any) -> None:
            ws.subscribe("chat")
            await ws.send("joined")
            async for _ in ws:
                pass

        async with wsx.asyncio.serve(room, "127.0.0.1", 0, cluster=url) as server:
            with wsx_server(Room(), cluster=url) as other:
                async with wsx.asyncio.connect(f"ws://127.0.0.1:{server.port}/") as client:
                    assert await client.recv() == "joined"
                    deadline = time.monotonic() + 20
                    while numsub(redis_port, "wsx:chat") != 1:
                        assert time.monotonic() < deadline
                        await asyncio.sleep(0.01)
                    other.publish("chat", "across")
                    assert await asyncio.wait_for(client.recv(), 10) == "across"

    asyncio.run(main())


def test_an_unreachable_broker_leaves_the_server_serving_locally() -> None:
    recorder = Recorder()
    cluster = recorder.cluster(f"redis://127.0.0.1:{free_port()}", connect_timeout=2.0)
    with wsx_server(Room(), cluster=cluster) as server:
        wait_for(lambda: cluster.state == "down", "the cluster is down")
        # The state is readable at once; its event reaches Python on a thread.
        wait_for(lambda: bool(recorder.states), "the state event")
        assert recorder.states[0][0] == "down"
        with wsx.sync.connect(f"ws://127.0.0.1:{server.port}/local") as client:
            assert client.recv(timeout=10) == "joined"
            assert server.publish("local", "still here") == 1
            assert client.recv(timeout=10) == "still here"
        stats = cluster.stats()
        assert stats is not None and stats["queued"] == 1 and stats["published"] == 0


def test_rediss_trusts_the_ca_file(tls_files: dict[str, Path]) -> None:
    """A Redis whose certificate a private CA signed: the link trusts it
    through ``ca_file``; without it, the link is down for the certificate."""
    tls_port = free_port()
    tls = ["--tls-port", str(tls_port), "--tls-cert-file", str(tls_files["cert"]),
           "--tls-key-file", str(tls_files["key"]), "--tls-ca-cert-file", str(tls_files["ca"]),
           "--tls-auth-clients", "no"]
    with redis_server(*tls):
        url = f"rediss://127.0.0.1:{tls_port}"
        trusted, untrusted = Recorder(), Recorder()
        with_ca = trusted.cluster(url, ca_file=tls_files["ca"], prefix="tls:")
        without = untrusted.cluster(url, prefix="tls:")
        with wsx_server(Room(), cluster=with_ca) as a, wsx_server(Room(), cluster=without):
            wait_for(lambda: with_ca.state == "up", "the link with the CA is up")
            wait_for(lambda: bool(untrusted.states), "the state event of the link without it")
            state, detail = untrusted.states[0]
            assert state == "down" and "certificate" in detail.lower(), detail
            with wsx.sync.connect(f"ws://127.0.0.1:{a.port}/secure") as client:
                assert client.recv(timeout=10) == "joined"
                wait_for(lambda: (with_ca.stats() or {}).get("subscriptions") == 1, "subscribed over TLS")


def test_cluster_options_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="queue_full"):
        wsx.Cluster("redis://127.0.0.1", queue_full="sometimes")
    with pytest.raises(ValueError):
        wsx.Cluster("redis://127.0.0.1", keepalive=-1.0)
    with pytest.raises(wsx.InvalidArgument, match="nothing-here.pem"):
        with wsx_server(Room(), cluster=wsx.Cluster("rediss://127.0.0.1", ca_file=tmp_path / "nothing-here.pem")):
            pass
    with pytest.raises(wsx.InvalidArgument, match="max_queued"):
        with wsx_server(Room(), cluster=wsx.Cluster("redis://127.0.0.1", max_queued=0)):
            pass
    with pytest.raises(wsx.InvalidArgument, match="cluster url"):
        with wsx_server(Room(), cluster="http://127.0.0.1"):
            pass
    with pytest.raises(TypeError):
        with wsx_server(Room(), cluster=42):
            pass
    cluster = wsx.Cluster(f"redis://127.0.0.1:{free_port()}")
    with wsx_server(Room(), cluster=cluster):
        with pytest.raises(ValueError, match="one per server"):
            with wsx_server(Room(), cluster=cluster):
                pass
    assert "Cluster(" in repr(cluster)
