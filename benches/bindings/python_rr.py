#!/usr/bin/env python3
"""Request-response on one connection: the wsx Python client against the
`websockets` client, blocking and asyncio, each sending a binary message and
waiting for its echo as many times as it can in a fixed time; then the same
with a window of messages in flight (send WINDOW, receive their WINDOW
echoes, repeat), where the round trip no longer hides each library's own
cost per message.

With 1 in flight it also measures asyncio's own floors, with no WebSocket
library: a bare `asyncio.Protocol` that writes a masked binary frame and
counts the echo's bytes (no future or task per message), the least any
asyncio client can cost per round trip; and the same behind `send`/`recv`
coroutines with a future per message, the least an `await ws.recv()`
client can cost.

Prints one JSON line per client, size and window:
{"client", "size", "inflight", "rt_per_s"} (messages echoed per second).
Compression is off on the `websockets` side (wsx's client offers none), so
both do the same protocol work.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import time
from urllib.parse import urlsplit
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


def frame_header(size: int, masked: bool) -> bytes:
    """A final binary frame's header (the all-zero masking key included when
    masked: the payload goes out unchanged)."""
    bit = 0x80 if masked else 0
    if size < 126:
        head = bytes([0x82, bit | size])
    elif size < 65536:
        head = bytes([0x82, bit | 126]) + size.to_bytes(2, "big")
    else:
        head = bytes([0x82, bit | 127]) + size.to_bytes(8, "big")
    return head + (bytes(4) if masked else b"")


class RawClient(asyncio.Protocol):
    """A client with no WebSocket library: it sends the upgrade request, then
    one masked binary frame per message and counts the echo's bytes (its
    length is known, so counting is all the reading it does)."""

    def __init__(self, payload: bytes) -> None:
        self.frame = frame_header(len(payload), True) + payload
        self.echo_len = len(frame_header(len(payload), False)) + len(payload)
        self.pending, self.open = 0, False
        self.buf = bytearray()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write(f"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())

    def data_received(self, data: bytes) -> None:
        if self.open:
            self.pending += len(data)
            self.received()
            return
        self.buf += data
        end = self.buf.find(b"\r\n\r\n")
        if end >= 0:
            self.open, self.pending = True, len(self.buf) - end - 4
            self.opened()

    def opened(self) -> None:
        """The handshake is done."""

    def received(self) -> None:
        """More of the echoes arrived (`pending` bytes unread)."""


class FloorClient(RawClient):
    """asyncio's floor: each echo's last byte writes the next frame from the
    protocol's callback, with no future or task per message."""

    def __init__(self, payload: bytes, duration: float, done: asyncio.Future[float]) -> None:
        super().__init__(payload)
        self.duration, self.done, self.n = duration, done, 0

    def opened(self) -> None:
        self.end = time.perf_counter() + WARMUP
        self.started = 0.0
        self.transport.write(self.frame)

    def received(self) -> None:
        while self.pending >= self.echo_len:
            self.pending -= self.echo_len
            self.n += 1
            now = time.perf_counter()
            if now >= self.end:
                if not self.started:  # the warm-up ends: time from here
                    self.started, self.n, self.end = now, 0, now + self.duration
                else:
                    self.done.set_result(self.n / (now - self.started))
                    self.transport.close()
                    return
            self.transport.write(self.frame)


class FutureFloorClient(RawClient):
    """The floor of an awaited receive: the same byte counting, behind
    `send`/`recv` coroutines as a WebSocket client offers them. `recv` waits
    on a future per message, so each echo costs what any `await ws.recv()`
    costs in asyncio at least: the future, and the task's wake-up on the
    loop's next turn."""

    def __init__(self, payload: bytes) -> None:
        super().__init__(payload)
        self.payload = payload
        # Kept: asyncio.get_running_loop() costs a getpid() system call per
        # call on Python 3.11, which a floor must not pay per message.
        self.loop = asyncio.get_running_loop()
        self.waiter: asyncio.Future[None] = self.loop.create_future()

    def opened(self) -> None:
        self.waiter.set_result(None)

    def received(self) -> None:
        if self.pending >= self.echo_len and not self.waiter.done():
            self.waiter.set_result(None)

    async def send(self, payload: bytes) -> None:
        self.transport.write(self.frame)

    async def recv(self) -> bytes:
        while self.pending < self.echo_len:
            self.waiter = self.loop.create_future()
            await self.waiter
        self.pending -= self.echo_len
        return self.payload


async def timed_floor(url: str, payload: bytes, duration: float) -> float:
    loop = asyncio.get_running_loop()
    done: asyncio.Future[float] = loop.create_future()
    parts = urlsplit(url)
    await loop.create_connection(lambda: FloorClient(payload, duration, done), parts.hostname, parts.port)
    return await done


async def timed_future_floor(url: str, payload: bytes, duration: float) -> float:
    parts = urlsplit(url)
    transport, client = await asyncio.get_running_loop().create_connection(
        lambda: FutureFloorClient(payload), parts.hostname, parts.port)
    await client.waiter  # the handshake
    try:
        return await timed_async(client, payload, duration, 1)
    finally:
        transport.close()


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
            if window == 1:
                report("asyncio floor", size, window, await timed_floor(args.url, payload, args.duration))
                report("asyncio future floor", size, window,
                       await timed_future_floor(args.url, payload, args.duration))

        asyncio.run(both())


if __name__ == "__main__":
    main()
