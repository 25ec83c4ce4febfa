#!/usr/bin/env python3
"""Request-response on one connection: the wsx Python client against the
`websockets` client, blocking and asyncio, each sending a binary message and
waiting for its echo as many times as it can in a fixed time.

Prints one JSON line per client and size: {"client", "size", "rt_per_s"}.
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


def timed_sync(ws: Any, payload: bytes, duration: float) -> float:
    def loop(seconds: float) -> int:
        n, end = 0, time.perf_counter() + seconds
        while time.perf_counter() < end:
            ws.send(payload)
            if len(ws.recv()) != len(payload):
                raise RuntimeError("short echo")
            n += 1
        return n

    loop(WARMUP)
    start = time.perf_counter()
    n = loop(duration)
    return n / (time.perf_counter() - start)


async def timed_async(ws: Any, payload: bytes, duration: float) -> float:
    async def loop(seconds: float) -> int:
        n, end = 0, time.perf_counter() + seconds
        while time.perf_counter() < end:
            await ws.send(payload)
            if len(await ws.recv()) != len(payload):
                raise RuntimeError("short echo")
            n += 1
        return n

    await loop(WARMUP)
    start = time.perf_counter()
    n = await loop(duration)
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--duration", type=float, default=2.0)
    parser.add_argument("--sizes", default="256,65536")
    args = parser.parse_args()

    def report(client: str, size: int, rate: float) -> None:
        print(json.dumps({"client": client, "size": size, "rt_per_s": round(rate, 1)}), flush=True)

    print(json.dumps({"module": wsx.__file__}), flush=True)
    for size in (int(s) for s in args.sizes.split(",")):
        payload = bytes(i % 251 for i in range(size))
        with wsx.connect(args.url, ping_interval=None) as ws:
            report("wsx sync", size, timed_sync(ws, payload, args.duration))
        with websockets.sync.client.connect(args.url, compression=None, ping_interval=None,
                                            max_size=None) as peer:
            report("websockets sync", size, timed_sync(peer, payload, args.duration))

        async def both() -> None:
            async with wsx.asyncio.connect(args.url, ping_interval=None) as ws:
                report("wsx asyncio", size, await timed_async(ws, payload, args.duration))
            async with websockets.asyncio.client.connect(args.url, compression=None, ping_interval=None,
                                                         max_size=None) as peer:
                report("websockets asyncio", size, await timed_async(peer, payload, args.duration))

        asyncio.run(both())


if __name__ == "__main__":
    main()
