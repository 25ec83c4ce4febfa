"""`max_queue`: the received-message queue is bounded; a full queue stops
reading (the peer is pushed back) and every message still arrives, in order."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, Callable

import pytest
import websockets.sync.client

import wsx
import wsx.asyncio

from conftest import websockets_server, wsx_server


def numbered(i: int, size: int) -> bytes:
    return i.to_bytes(4, "big") * (size // 4)


def wait_for(check: Callable[[], bool], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.01)


def test_full_queue_pushes_back_on_a_websockets_peer_and_drains_in_order() -> None:
    count, size = 1024, 65536  # 64 MiB: more than the socket buffers can hold
    done = threading.Event()

    def flood(ws: Any) -> None:
        for i in range(count):
            ws.send(numbered(i, size))
        done.set()
        ws.recv()  # the client's "thanks"

    with websockets_server(flood) as port:
        with wsx.sync.connect(f"ws://127.0.0.1:{port}/", max_queue=16, compression=None) as ws:
            wait_for(lambda: ws._queued == 16, "16 messages wait")
            assert ws._reading_paused
            time.sleep(0.3)  # the peer keeps trying to send meanwhile
            assert ws._queued == 16
            assert not done.is_set(), "the peer sent everything: nothing pushed back"
            for i in range(count):
                assert ws.recv(timeout=20) == numbered(i, size)
                assert ws._queued <= 16
            assert done.wait(20)
            assert not ws._reading_paused
            ws.send("thanks")


def test_max_queue_none_reads_everything() -> None:
    def burst(ws: Any) -> None:
        for i in range(100):
            ws.send(numbered(i, 64))
        ws.recv()

    with websockets_server(burst) as port:
        with wsx.sync.connect(f"ws://127.0.0.1:{port}/", max_queue=None) as ws:
            wait_for(lambda: ws._queued == 100, "all 100 messages wait")
            assert not ws._reading_paused
            assert [ws.recv() for _ in range(100)] == [numbered(i, 64) for i in range(100)]
            ws.send("thanks")


def test_wsx_server_connection_queue_is_bounded() -> None:
    go = threading.Event()
    seen: list[wsx.sync.ServerConnection] = []
    got: list[Any] = []

    def handler(ws: wsx.sync.ServerConnection) -> None:
        seen.append(ws)
        assert go.wait(20)
        got.extend(ws.recv() for _ in range(100))
        ws.send("ok")

    with wsx_server(handler, max_queue=(8, 2)) as server:
        with websockets.sync.client.connect(f"ws://127.0.0.1:{server.port}/") as client:
            for i in range(100):
                client.send(f"message {i}")
            wait_for(lambda: bool(seen) and seen[0]._queued == 8, "8 messages wait on the server")
            time.sleep(0.3)
            assert seen[0]._queued == 8 and seen[0]._reading_paused
            go.set()
            assert client.recv(timeout=20) == "ok"
    assert got == [f"message {i}" for i in range(100)]


def test_asyncio_client_queue_is_bounded() -> None:
    def burst(ws: wsx.sync.ServerConnection) -> None:
        for i in range(50):
            ws.send(numbered(i, 1024))
        ws.recv()

    async def main(url: str) -> None:
        async with wsx.asyncio.connect(url, max_queue=(4, 1)) as ws:
            native = ws._native
            while native._queued < 4:
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.3)
            assert native._queued == 4 and native._reading_paused
            for i in range(50):
                assert await ws.recv() == numbered(i, 1024)
            await ws.send("thanks")

    with wsx_server(burst) as server:
        asyncio.run(asyncio.wait_for(main(f"ws://127.0.0.1:{server.port}/"), 60))


@pytest.mark.parametrize("bad", [0, -1, (4, 4), (4, 5), (4, -1)])
def test_invalid_max_queue_is_a_value_error(bad: Any) -> None:
    with pytest.raises(ValueError, match="max_queue"):
        wsx.sync.connect("ws://127.0.0.1:1/", max_queue=bad)
