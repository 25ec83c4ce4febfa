"""A Python `websockets` peer for the bring-your-own-I/O examples
(sansio_echo_client, sansio_echo_server), used by tests/c/run.sh.

    sansio_peer.py server [--tls CERT KEY] [--big] [--close CODE] [--expect-deflate yes|no]
        serves one connection: sends a text, a binary, a fragmented text and
        a fragmented binary message (and a 16 MiB binary one with --big),
        expects each echoed back exactly, closes with CODE (default 4001)
        and expects the same code back; exits 0 when all went right
    sansio_peer.py client URL [--big] [--no-compress] [--close CODE] [--expect-deflate yes|no]
        the same, as a client of an echo server

Servers print "listening on 127.0.0.1:PORT" once they accept connections.
"""

import argparse
import asyncio
import ssl
import sys

from websockets.asyncio.client import connect
from websockets.asyncio.server import serve

TEXT = "hello from python \u00e9\u20ac\U0001f600"
BINARY = bytes([0, 1, 2, 254, 255])
BIG = 16 * 1024 * 1024
LIMIT = 32 * 1024 * 1024


def fail(message):
    print(f"sansio_peer.py: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def deflate_agreed(headers):
    return "permessage-deflate" in (headers.get("Sec-WebSocket-Extensions") or "")


async def exchange(ws, args, agreed):
    if args.expect_deflate is not None and agreed != (args.expect_deflate == "yes"):
        fail(f"permessage-deflate agreed: {agreed}, expected {args.expect_deflate}")
    cases = [
        ("text", TEXT, TEXT),
        ("binary", BINARY, BINARY),
        ("fragmented text", ["frag", "ment\u00e9", "ed"], "fragment\u00e9ed"),
        ("fragmented binary", [b"\x00" * 1000, b"\x01" * 70000, b"\x02"], b"\x00" * 1000 + b"\x01" * 70000 + b"\x02"),
        ("empty text", "", ""),
    ]
    if args.big:
        big = bytes(range(256)) * (BIG // 256)
        cases.append(("16 MiB binary", big, big))
    for name, sent, expected in cases:
        await ws.send(sent)
        got = await asyncio.wait_for(ws.recv(), 30)
        if got != expected:
            fail(f"{name}: echo mismatch ({len(got)} bytes back, {len(expected)} expected)")
        print(f"sansio_peer.py: {name} came back", flush=True)
    await ws.close(args.close, "bye")
    if ws.close_code != args.close:
        fail(f"expected close {args.close} back, got {ws.close_code}")
    print(f"sansio_peer.py: close {args.close} came back (deflate {'on' if agreed else 'off'})", flush=True)


async def run_server(args):
    done = asyncio.get_running_loop().create_future()
    context = None
    if args.tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.tls[0], args.tls[1])

    async def handler(ws):
        try:
            await exchange(ws, args, deflate_agreed(ws.response.headers))
            done.set_result(True)
        except BaseException as error:  # reported through the exit status
            if not done.done():
                done.set_exception(error)

    async with serve(handler, "127.0.0.1", 0, ssl=context, max_size=LIMIT) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"listening on 127.0.0.1:{port}", flush=True)
        await asyncio.wait_for(done, 60)


async def run_client(args):
    compression = None if args.no_compress else "deflate"
    async with connect(args.url, max_size=LIMIT, compression=compression) as ws:
        await exchange(ws, args, deflate_agreed(ws.response.headers))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["server", "client"])
    parser.add_argument("url", nargs="?")
    parser.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    parser.add_argument("--big", action="store_true")
    parser.add_argument("--no-compress", action="store_true")
    parser.add_argument("--close", type=int, default=4001)
    parser.add_argument("--expect-deflate", choices=["yes", "no"])
    args = parser.parse_args()
    asyncio.run(run_server(args) if args.mode == "server" else run_client(args))


if __name__ == "__main__":
    main()
