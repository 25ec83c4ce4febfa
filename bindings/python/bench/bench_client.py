#!/usr/bin/env python3
"""Client speed, side by side: wsx against `websockets`, sync and asyncio,
256-byte and 64 KiB request-response round trips on one connection, all
against the same echo server in another process. Prints messages per second
and the wsx / websockets ratio. A benchmark, not a test: nothing is asserted.

    .venv/bin/python bindings/python/bench/bench_client.py [--seconds 2] [--server CMD]

The server is the C example echo server (build/examples/echo_server, from
`make examples`) when built, else the wsx Python echo server example.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterator

import websockets.asyncio.client
import websockets.sync.client

import wsx
import wsx.asyncio

ROOT = Path(__file__).resolve().parents[3]
SIZES = [256, 64 * 1024]


def start_server(command: list[str]) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        match = re.search(r"listening on \S*?:(\d+)", line)
        if match:
            return proc, f"ws://127.0.0.1:{match.group(1)}/"
    proc.wait()
    sys.exit(f"bench: the server exited: {shlex.join(command)}")


def default_server() -> list[str]:
    c_server = ROOT / "build" / "examples" / "echo_server"
    if os.access(c_server, os.X_OK):
        return [str(c_server), "--host", "127.0.0.1", "--port", "0"]
    return [sys.executable, str(ROOT / "examples" / "python" / "echo_server.py"), "--port", "0"]


def timed(seconds: float) -> Iterator[int]:
    """Yields batch sizes until `seconds` passed (checking the clock every 64 round trips)."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        yield 64


def sync_rate(connect: Callable[[], Any], payload: bytes, seconds: float) -> float:
    with connect() as ws:
        for _ in range(200):  # warm-up
            ws.send(payload)
            ws.recv()
        count, start = 0, time.perf_counter()
        for batch in timed(seconds):
            for _ in range(batch):
                ws.send(payload)
                ws.recv()
            count += batch
        return count / (time.perf_counter() - start)


async def async_rate(connect: Callable[[], Awaitable[Any]], payload: bytes, seconds: float) -> float:
    ws = await connect()
    try:
        for _ in range(200):
            await ws.send(payload)
            await ws.recv()
        count, start = 0, time.perf_counter()
        for batch in timed(seconds):
            for _ in range(batch):
                await ws.send(payload)
                await ws.recv()
            count += batch
        return count / (time.perf_counter() - start)
    finally:
        await ws.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=2.0, help="measuring time per case")
    parser.add_argument("--server", help="echo server command printing 'listening on HOST:PORT'")
    args = parser.parse_args()
    command = shlex.split(args.server) if args.server else default_server()
    proc, url = start_server(command)
    # The same options for both clients: no size limit, no compression.
    opts: dict[str, Any] = {"max_size": None, "compression": None}
    try:
        print(f"server: {shlex.join(command)} at {url}; {args.seconds:g} s per case")
        print(f"{'case':<22}{'wsx msg/s':>12}{'websockets msg/s':>18}{'ratio':>8}")
        for size in SIZES:
            payload = os.urandom(size)
            label = f"{size // 1024} KiB" if size >= 1024 else f"{size} B"
            sync_wsx = sync_rate(lambda: wsx.sync.connect(url, **opts), payload, args.seconds)
            sync_ws = sync_rate(lambda: websockets.sync.client.connect(url, **opts), payload, args.seconds)
            print(f"{'sync ' + label:<22}{sync_wsx:>12,.0f}{sync_ws:>18,.0f}{sync_wsx / sync_ws:>7.1f}x")
            async_wsx = asyncio.run(async_rate(lambda: wsx.asyncio.connect(url, **opts), payload, args.seconds))
            async_ws = asyncio.run(
                async_rate(lambda: websockets.asyncio.client.connect(url, **opts), payload, args.seconds)
            )
            print(f"{'asyncio ' + label:<22}{async_wsx:>12,.0f}{async_ws:>18,.0f}{async_wsx / async_ws:>7.1f}x")
    finally:
        proc.terminate()
        proc.wait()


if __name__ == "__main__":
    main()
