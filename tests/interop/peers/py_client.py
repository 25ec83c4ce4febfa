"""A `websockets` client driven by JSON commands on stdin (see peer.py).

`connect` opens a connection (url, subprotocols, headers, origin, ca);
`send`, `ping` and `close` act on it. Events go to stdout.
"""

import asyncio
import ssl

from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

import peer


async def open_connection(cmd):
    """Opens the connection a `connect` command describes, or reports why not."""
    tls = None
    if cmd["url"].startswith("wss:"):
        tls = ssl.create_default_context(cafile=cmd.get("ca"))
    try:
        ws = await connect(
            cmd["url"],
            subprotocols=cmd.get("subprotocols"),
            additional_headers=[tuple(h) for h in cmd.get("headers", [])],
            origin=cmd.get("origin"),
            ssl=tls,
            proxy=None,
            max_size=None,
            ping_interval=None,
            open_timeout=20,
        )
    except InvalidStatus as exc:
        response = exc.response
        peer.emit(ev="refused", status=response.status_code, body=response.body.decode(errors="replace"),
                  headers=peer.headers_list(response.headers))
        return None
    except Exception as exc:  # noqa: BLE001 - every failure is reported to the test
        peer.emit(ev="error", type=type(exc).__name__, message=str(exc))
        return None
    peer.emit(ev="open", subprotocol=ws.subprotocol, status=ws.response.status_code,
              headers=peer.headers_list(ws.response.headers))
    return ws


async def main():
    ws = None
    tasks = set()
    async for cmd in peer.commands():
        if cmd["op"] == "connect":
            ws = await open_connection(cmd)
            if ws is not None:
                tasks.add(asyncio.create_task(peer.pump(ws)))
        else:
            await peer.run_command(ws, cmd, tasks)
    if ws is not None:
        await ws.close()


asyncio.run(main())
