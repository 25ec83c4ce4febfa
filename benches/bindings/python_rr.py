#!/usr/bin/env python3
"""Request-response on one connection: the wsx Python client against the
`websockets` client, blocking and asyncio, each sending a binary message and
waiting for its echo as many times as it can in a fixed time; then the same
with a window of messages in flight (send WINDOW, receive their WINDOW
echoes, repeat), where the round trip no longer hides each library's own
cost per message.

Prints one JSON line per client, size and window:
{"client", "size", "inflight", "rt_per_s"} (messages echoed per second).
Compression is off on the `websockets` side (wsx's client offers none), so
both do the same protocol work.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any, Awaitable, Callable

import websockets.asyncio.client
import websockets.sync.client

import wsx
import wsx.asyncio

WARMUP = 0.3
WINDOW = 64


def timed_sync(ws: Any, payload: bytes, duration: float, window: int) -> float:
    def loop(seconds: float) -> int:
        n, end = 0, time.perf_counter() + seconds
        while time.perf_counter() < end:
            for _ in range(window):
                ws.send(payload)
            for _ in range(window):
                if len(ws.recv()) != len(payload):
                    raise RuntimeError("short echo")
            n += window
        return n

    loop(WARMUP)
    start = time.perf_counter()
    n = loop(duration)
    return n / (time.perf_counter() - start)


async def timed_async(ws: Any, payload: bytes, duration: float, window: int) -> float:
    async def loop(seconds: float) -> int:
        n, end = 0, time.perf_counter() + seconds
        while time.perf_counter() < end:
            for _ in range(window):
                await ws.send(payload)
            for _ in range(window):
                if len(await ws.recv()) != len(payload):
                    raise RuntimeError("short echo")
            n += window
        return n

    await loop(WARMUP)
    start = time.perf_counter()
    n = await loop(duration)
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--duration", type=float, default=2.0)
    parser.add_argument("--cases", default=f"256x1,65536x1,256x{WINDOW}",
                        help="comma list of SIZExWINDOW (bytes per message, messages in flight)")
    args = parser.parse_args()

    def report(client: str, size: int, window: int, rate: float) -> None:
        row = {"client": client, "size": size, "inflight": window, "rt_per_s": round(rate, 1)}
        print(json.dumps(row), flush=True)

    print(json.dumps({"module": wsx.__file__}), flush=True)
    for case in args.cases.split(","):
        size, window = (int(part) for part in case.split("x"))
        payload = bytes(i % 251 for i in range(size))
        with wsx.sync.connect(args.url, ping_interval=None) as ws:
            report("wsx sync", size, window, timed_sync(ws, payload, args.duration, window))
        with websockets.sync.client.connect(args.url, compression=None, ping_interval=None,
                                            max_size=None) as peer:
            report("websockets sync", size, window, timed_sync(peer, payload, args.duration, window))

        async def both() -> None:
            async with wsx.asyncio.connect(args.url, ping_interval=None) as ws:
                report("wsx asyncio", size, window, await timed_async(ws, payload, args.duration, window))
            async with websockets.asyncio.client.connect(args.url, compression=None, ping_interval=None,
                                                         max_size=None) as peer:
                rate = await timed_async(peer, payload, args.duration, window)
                report("websockets asyncio", size, window, rate)

        asyncio.run(both())


if __name__ == "__main__":
    main()
