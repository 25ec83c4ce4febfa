"""A `websockets` peer for the C# tests.

Echoes every message with its type. A text message ``close CODE REASON``
makes it close the connection with that code and reason. A request for
``/refuse/STATUS`` is refused with that HTTP status; on ``/headers`` it first
sends the request's headers, one ``name: value`` per line. It negotiates the
subprotocols ``chat.v2`` and ``chat.v1`` (in that order of preference).
With ``--deflate`` it accepts permessage-deflate (websockets' defaults), and
on ``/extensions`` it first sends the ``Sec-WebSocket-Extensions`` of its
response ("" when none was negotiated). With ``--ipv6`` it listens on ``::1``
instead of 127.0.0.1. Prints ``PORT <n>`` once listening, then serves until
stdin closes or it is terminated.
"""

import asyncio
import sys
from http import HTTPStatus

from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

SUBPROTOCOLS = ["chat.v2", "chat.v1"]


async def handler(ws):
    if ws.request.path == "/headers":
        # The request headers, one "name: value" per line, names in lower case.
        await ws.send("\n".join(f"{k.lower()}: {v}" for k, v in ws.request.headers.raw_items()))
    elif ws.request.path == "/extensions":
        await ws.send(ws.response.headers.get("Sec-WebSocket-Extensions", ""))
    try:
        async for message in ws:
            if isinstance(message, str) and message.startswith("close "):
                _, code, *reason = message.split(" ", 2)
                await ws.close(int(code), reason[0] if reason else "")
                return
            await ws.send(message)
    except ConnectionClosed:
        pass  # the client closed with an error code, as some tests do


def select_subprotocol(connection, offered):
    # Like the default, but a client offering none is accepted without one.
    for protocol in SUBPROTOCOLS:
        if protocol in offered:
            return protocol
    return None


def process_request(connection, request):
    if request.path.startswith("/refuse/"):
        status = HTTPStatus(int(request.path.rsplit("/", 1)[1]))
        return connection.respond(status, "refused by the test peer\n")
    return None


async def main():
    async with serve(
        handler,
        "::1" if "--ipv6" in sys.argv[1:] else "127.0.0.1",
        0,
        subprotocols=SUBPROTOCOLS,
        select_subprotocol=select_subprotocol,
        process_request=process_request,
        max_size=None,
        compression="deflate" if "--deflate" in sys.argv[1:] else None,
    ) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"PORT {port}", flush=True)
        loop = asyncio.get_running_loop()
        # Serve until the parent closes our stdin (or kills us by pid).
        await loop.run_in_executor(None, sys.stdin.read)


if __name__ == "__main__":
    asyncio.run(main())
