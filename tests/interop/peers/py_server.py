"""A `websockets` server on 127.0.0.1 (or --host) driven by JSON commands on stdin (see peer.py).

Prints `ready PORT`, then an `open` event (path, headers, subprotocol) per
connection; `send`, `ping` and `close` act on the latest connection.
Options: --host ADDRESS, --subprotocol NAME (repeatable), --refuse STATUS (answer every
handshake with that status), --cert FILE --key FILE (TLS).
"""

import argparse
import asyncio
import http

from websockets.asyncio.server import serve

import peer


def parse_args():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--subprotocol", action="append", default=None)
    parser.add_argument("--refuse", type=int, default=None)
    parser.add_argument("--cert")
    parser.add_argument("--key")
    return parser.parse_args()


async def main():
    args = parse_args()
    current = [None]
    tasks = set()

    async def handler(ws):
        current[0] = ws
        peer.emit(ev="open", path=ws.request.path, headers=peer.headers_list(ws.request.headers),
                  subprotocol=ws.subprotocol)
        await peer.pump(ws)

    def refuse(connection, request):
        return connection.respond(http.HTTPStatus(args.refuse), "refused by the test peer\n")

    async with serve(
        handler,
        args.host,
        0,
        subprotocols=args.subprotocol,
        process_request=refuse if args.refuse else None,
        ssl=peer.server_tls(args.cert, args.key),
        max_size=None,
        ping_interval=None,
    ) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"ready {port}", flush=True)
        async for cmd in peer.commands():
            await peer.run_command(current[0], cmd, tasks)


asyncio.run(main())
