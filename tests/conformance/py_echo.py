#!/usr/bin/env python3
"""The Python binding's echo programs for the Autobahn TestSuite (run.py).

    py_echo.py server [--port P]
        An asyncio echo server on 127.0.0.1 with permessage-deflate on;
        prints "listening on 127.0.0.1:PORT".
    py_echo.py client (--sync | --asyncio) ws://127.0.0.1:PORT AGENT
        Asks wstest's fuzzingserver for its case count, runs every case as
        an echo client (permessage-deflate offered, the default), then asks
        it to write the reports.

Every message is sent back with its type. Keepalive pings are off so the
timing of slow cases (9.x) is wstest's alone; everything else is the
binding's default (max_size 16 MiB, max_queue 16).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import urllib.parse

import wsx



def echo_sync(what: str, url: str) -> None:
    """Echoes every message until the connection is over. Many cases end it
    on purpose (and wstest drops the TCP connection after the close
    handshake): the error is logged, the run goes on."""
    try:
        with wsx.sync.connect(url, ping_interval=None) as ws:
            for message in ws:  # ends at a normal close
                ws.send(message)
    except wsx.WsxError as exc:
        print(f"{what}: {type(exc).__name__}: {exc}", file=sys.stderr)


async def echo_asyncio(what: str, url: str) -> None:
    """As echo_sync, with the asyncio API."""
    try:
        async with wsx.connect(url, ping_interval=None) as ws:
            async for message in ws:
                await ws.send(message)
    except wsx.WsxError as exc:
        print(f"{what}: {type(exc).__name__}: {exc}", file=sys.stderr)


def run_sync(base: str, agent: str) -> None:
    with wsx.sync.connect(f"{base}/getCaseCount", ping_interval=None) as ws:
        count = int(ws.recv(timeout=30))
    for case in range(1, count + 1):
        echo_sync(f"case {case}", f"{base}/runCase?case={case}&agent={agent}")
    echo_sync("updateReports", f"{base}/updateReports?agent={agent}")


async def run_asyncio(base: str, agent: str) -> None:
    async with wsx.connect(f"{base}/getCaseCount", ping_interval=None) as ws:
        count = int(await ws.recv())
    for case in range(1, count + 1):
        await echo_asyncio(f"case {case}", f"{base}/runCase?case={case}&agent={agent}")
    await echo_asyncio("updateReports", f"{base}/updateReports?agent={agent}")


async def echo(ws: wsx.ServerConnection) -> None:
    try:
        async for message in ws:
            await ws.send(message)
    except wsx.WsxError:
        pass  # the test case failed the connection on purpose


async def serve(port: int) -> None:
    async with wsx.serve(echo, "127.0.0.1", port, compression="deflate", ping_interval=None) as server:
        print(f"listening on 127.0.0.1:{server.port}", flush=True)
        await server.serve_forever()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode", required=True)
    server = sub.add_parser("server")
    server.add_argument("--port", type=int, default=0)
    client = sub.add_parser("client")
    api = client.add_mutually_exclusive_group(required=True)
    api.add_argument("--sync", action="store_true")
    api.add_argument("--asyncio", action="store_true")
    client.add_argument("base", help="ws://127.0.0.1:PORT of wstest's fuzzingserver")
    client.add_argument("agent")
    args = parser.parse_args()
    if args.mode == "server":
        try:
            asyncio.run(serve(args.port))
        except KeyboardInterrupt:
            pass
        return 0
    agent = urllib.parse.quote(args.agent)
    if args.sync:
        run_sync(args.base, agent)
    else:
        asyncio.run(run_asyncio(args.base, agent))
    return 0


if __name__ == "__main__":
    sys.exit(main())
