"""Every native connection and server is freed, counted by the native side
(``wsx._wsx._live_objects()``): closed connections, connections dropped
without ``close()``, servers shut down, in the sync and asyncio APIs."""

from __future__ import annotations

import asyncio
import gc
import time

import wsx
import wsx.asyncio
from wsx._wsx import _live_objects
from conftest import wsx_echo, wsx_server

N = 10


def settled(baseline: dict[str, int]) -> dict[str, int]:
    """The counts once they are back to `baseline`, or after 10 s (closing
    handshakes and handler threads finish in the background)."""
    deadline = time.monotonic() + 10
    while True:
        gc.collect()
        counts = _live_objects()
        if counts == baseline or time.monotonic() > deadline:
            return counts
        time.sleep(0.05)


def collected() -> dict[str, int]:
    """The counts once the garbage of earlier tests (reference cycles that
    hold connections and servers, freed whenever the collector runs) is
    collected and its native objects are freed: two reads 50 ms apart agree
    (or 10 s passed)."""
    counts = None
    deadline = time.monotonic() + 10
    while True:
        gc.collect()
        time.sleep(0.05)
        now = _live_objects()
        if now == counts or time.monotonic() > deadline:
            return now
        counts = now


def warm_baseline() -> dict[str, int]:
    """The counts before a warm-up connection, once it is freed: the native
    loop (one per process, never freed) runs from then on."""
    before = collected()
    assert set(before) == {"connections", "servers", "loops"}
    with wsx_server(wsx_echo) as server, wsx.sync.connect(f"ws://127.0.0.1:{server.port}/") as ws:
        ws.send("warm")
        assert ws.recv(timeout=5) == "warm"
    del server, ws  # the names outlive the `with`
    baseline = {**before, "loops": _live_objects()["loops"]}
    assert baseline["loops"] >= 1
    assert settled(baseline) == baseline
    return baseline


def test_sync_connections_and_servers_are_freed() -> None:
    baseline = warm_baseline()
    with wsx_server(wsx_echo) as server:
        url = f"ws://127.0.0.1:{server.port}/"
        closed = [wsx.sync.connect(url) for _ in range(N)]
        dropped = [wsx.sync.connect(url) for _ in range(N)]
        for ws in closed + dropped:
            ws.send("x")
            assert ws.recv(timeout=5) == "x"
        during = _live_objects()
        # Both ends of every connection, and the server.
        assert during["connections"] >= baseline["connections"] + 4 * N, during
        assert during["servers"] == baseline["servers"] + 1, during
        for ws in closed:
            ws.close()
        del closed, dropped, ws  # never closed: collected instead
    del server
    assert settled(baseline) == baseline


def test_server_dropped_without_shutdown_is_freed() -> None:
    baseline = warm_baseline()
    server = wsx.sync.serve(wsx_echo, "127.0.0.1", 0)
    ws = wsx.sync.connect(f"ws://127.0.0.1:{server.port}/")
    ws.send("x")
    assert ws.recv(timeout=5) == "x"
    assert _live_objects()["servers"] == baseline["servers"] + 1
    server.shutdown()
    del server, ws
    assert settled(baseline) == baseline


def test_asyncio_connections_are_freed() -> None:
    baseline = warm_baseline()

    async def echo(ws: wsx.asyncio.ServerConnection) -> None:
        async for message in ws:
            await ws.send(message)

    async def main() -> None:
        async with wsx.asyncio.serve(echo, "127.0.0.1", 0) as server:
            url = f"ws://127.0.0.1:{server.port}/"
            for i in range(N):
                ws = await wsx.asyncio.connect(url)
                await ws.send(f"m{i}")
                assert await ws.recv() == f"m{i}"
                if i % 2:
                    await ws.close()
                del ws  # the others are dropped unclosed
                gc.collect()

    asyncio.run(main())
    gc.collect()
    assert settled(baseline) == baseline
