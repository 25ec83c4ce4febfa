#!/usr/bin/env python3
"""Sends a few messages to a WebSocket echo server and prints the replies.

    python examples/python/echo_client.py ws://127.0.0.1:9001/
    python examples/python/echo_client.py --asyncio ws://127.0.0.1:9001/ "hello"
"""

from __future__ import annotations

import argparse
import asyncio
import sys

import wsx

DEFAULT_MESSAGES = ["hello from Python", "wsx says: ça marche ✓", b"\x00\x01binary\xff"]


def run_sync(url: str, messages: list[str | bytes]) -> None:
    with wsx.sync.connect(url) as ws:
        for message in messages:
            ws.send(message)
            print(f"sent {message!r}, got back {ws.recv(timeout=10)!r}")
        rtt = ws.ping(b"demo").wait(timeout=10)
        print(f"ping round trip: {rtt * 1e3:.3f} ms")
    print(f"closed with {ws.close_code}")


async def run_asyncio(url: str, messages: list[str | bytes]) -> None:
    async with wsx.connect(url) as ws:
        for message in messages:
            await ws.send(message)
            print(f"sent {message!r}, got back {await ws.recv()!r} (asyncio)")
        rtt = await (await ws.ping(b"demo"))
        print(f"ping round trip: {rtt * 1e3:.3f} ms")
    print(f"closed with {ws.close_code}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--asyncio", action="store_true", help="use the asyncio API")
    parser.add_argument("url", help="ws:// or wss:// URL of an echo server")
    parser.add_argument("messages", nargs="*", help="text messages to send (default: a few samples)")
    args = parser.parse_args()
    messages: list[str | bytes] = list(args.messages) or list(DEFAULT_MESSAGES)
    try:
        if args.asyncio:
            asyncio.run(run_asyncio(args.url, messages))
        else:
            run_sync(args.url, messages)
    except wsx.WsxError as exc:
        print(f"echo_client: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
