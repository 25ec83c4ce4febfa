#!/usr/bin/env python3
"""A WebSocket echo server: every message comes back as it went.

    python examples/python/echo_server.py --port 9001
    python examples/python/echo_server.py --asyncio --port 0   # 0: a free port

Stop it with Ctrl-C or SIGTERM: either shuts it down gracefully, closing
every connection with 1001 (going away), which reconnecting clients retry.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

import wsx


def echo(ws: wsx.sync.ServerConnection) -> None:
    for message in ws:  # ends when the client closes normally
        ws.send(message)


async def echo_async(ws: wsx.ServerConnection) -> None:
    async for message in ws:
        await ws.send(message)


async def serve_async(host: str, port: int) -> None:
    async with wsx.serve(echo_async, host, port) as server:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, server.close)
        print(f"listening on ws://{host}:{server.port}/ (asyncio)", flush=True)
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9001)
    parser.add_argument("--asyncio", action="store_true", help="use the asyncio API")
    args = parser.parse_args()
    # SIGTERM as Ctrl-C: serve_forever shuts the server down gracefully.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with contextlib.suppress(KeyboardInterrupt):
        if args.asyncio:
            asyncio.run(serve_async(args.host, args.port))
        else:
            with wsx.sync.serve(echo, args.host, args.port) as server:
                print(f"listening on ws://{args.host}:{server.port}/", flush=True)
                server.serve_forever()


if __name__ == "__main__":
    main()
