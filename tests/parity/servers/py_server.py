"""The python-websockets parity server (websockets' asyncio API): the
reference peer of tests/parity. Serves the scenario paths on its endpoints
(main, origin, restart, drain, mtls, deflate, deflate_shared on 127.0.0.1 free ports; ipv6 on ::1), announces them as one JSON
line on stdout and runs until its stdin closes.

Paths (main endpoint; the query strings come from scenarios.json):
  /echo                      echoes every message, same type
  /record?id=U               reads until closed; /closed?id=U then answers "CODE:REASON"
                             of the close frame it received (1005 for none)
  /close?code=C&reason=R     closes at once with C and R (no code: no status)
  /auth                      401 + WWW-Authenticate unless "Authorization: Bearer parity"
  /upgrade-required          426 + Sec-WebSocket-Version: 13
  /healthz                   200 "ok\n", plain HTTP (a health check) or a handshake
  /moved                     302 + Location: /echo (a full HTTP answer from process_request)
  /bad-subprotocol           101 with a subprotocol the client did not offer
  /flood?id=U&size=S         sends S-byte messages until the client holds it back
                             (over 4 MiB unsent, and none of it drains in 0.5 s),
                             then "held_back N" ("not_held_back N" after 96 MiB)
  /status?id=U               answers the flood's state once known ("held_back")
  /stall?id=U                stops reading until /release?id=U, then counts the
                             messages before "end" and answers "received N messages"
  /release?id=U              releases the stall, answers "released"
  /hold                      stops reading for good (so never answers a ping)
  /send?size=S               sends one S-byte binary message
  /invalid-utf8              sends a text frame that is not UTF-8
  /host                      sends the request's Host header, then echoes
The restart and drain endpoints (see restartable()) restart on the text
"restart" (1001) and drain on the text "drain" (1012 "restart"); the drain
scenario has an endpoint of its own so that a runner's drain never races the
next runner's reconnect scenario.
The mtls endpoint (wss://, a client certificate signed by run.py's client CA
required) serves /whoami: the client's subject as RFC 4514 text, most
specific first ("CN=alice,O=wsx"), then reads until closed. The ipv6
endpoint serves the main paths on ::1.
The main paths are also served on a Unix domain socket (websockets'
unix_serve) at the path run.py gives in WSX_PARITY_UNIX.
Every endpoint selects subprotocols in the order superchat, chat among those
offered, and none if none is offered or in common.
"""

from __future__ import annotations

import asyncio
import http
import os
import ssl
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import FLOOD_LIMIT, HELD_BACK_BYTES, HELD_BACK_PAUSE, SIDE_WAIT, announce, payload, split  # noqa: E402
from websockets.asyncio.server import serve, unix_serve  # noqa: E402
from websockets.datastructures import Headers  # noqa: E402
from websockets.exceptions import ConnectionClosed  # noqa: E402
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory  # noqa: E402
from websockets.http11 import Response  # noqa: E402

MAX_SIZE = 16 << 20  # the same limit as wsx's default
SERVER_PREFERENCE = ["superchat", "chat"]
INVALID_UTF8 = bytes.fromhex("cebae1bdb9cf83cebcceb5eda080656469746564")


class Rendezvous:
    """Side requests meet their connection here, keyed by {uid}."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.events: dict[str, asyncio.Event] = {}

    def _event(self, key: str) -> asyncio.Event:
        return self.events.setdefault(key, asyncio.Event())

    def post(self, key: str, value: str) -> None:
        self.values[key] = value
        self._event(key).set()

    async def wait(self, key: str) -> str | None:
        try:
            await asyncio.wait_for(self._event(key).wait(), SIDE_WAIT)
        except asyncio.TimeoutError:
            return None
        return self.values.get(key)


board = Rendezvous()


def refuse(status: int, headers: list[tuple[str, str]]) -> Response:
    phrase = http.HTTPStatus(status).phrase
    body = f"{status} {phrase}\n".encode()
    h = Headers(headers)
    h["Content-Type"] = "text/plain"
    h["Content-Length"] = str(len(body))
    return Response(status, phrase, h, body)


def process_request(connection, request):
    path, _ = split(request.path)
    if path == "/auth" and request.headers.get("Authorization") != "Bearer parity":
        return refuse(401, [("WWW-Authenticate", 'Basic realm="wsx"')])
    if path == "/upgrade-required":
        return refuse(426, [("Sec-WebSocket-Version", "13")])
    if path == "/healthz":
        return connection.respond(http.HTTPStatus.OK, "ok\n")
    if path == "/moved":
        return refuse(302, [("Location", "/echo")])
    return None


def select_subprotocol(connection, offered):
    if split(connection.request.path)[0] == "/bad-subprotocol":
        return "unoffered"
    for p in SERVER_PREFERENCE:
        if p in offered:
            return p
    return None


async def echo(ws, restart=None, drain=None) -> None:
    async for message in ws:
        if restart is not None and message == "restart":
            restart()  # closes this connection with 1001 (going away)
            await asyncio.wait_for(ws.wait_closed(), 20)
            return
        if drain is not None and message == "drain":
            drain()  # closes this connection with 1012 "restart"
            await asyncio.wait_for(ws.wait_closed(), 20)
            return
        await ws.send(message)


async def flood(ws, uid: str, size: int) -> None:
    # Our own buffer takes everything the kernel refuses: its size is what
    # the client holds back.
    ws.transport.set_write_buffer_limits(high=FLOOD_LIMIT * 2)
    message = payload("binary", size)
    sent = 0
    state = "not_held_back"
    while sent * size < FLOOD_LIMIT:
        await ws.send(message)
        sent += 1
        unsent = ws.transport.get_write_buffer_size()
        if unsent > HELD_BACK_BYTES:
            # Outrunning a reader is not being held back by it: held back
            # is when nothing drains for a while.
            await asyncio.sleep(HELD_BACK_PAUSE)
            if ws.transport.get_write_buffer_size() >= unsent:
                state = "held_back"
                break
    board.post("flood:" + uid, state)
    await ws.send(f"{state} {sent}")
    await asyncio.wait_for(ws.wait_closed(), 60)


async def stall(ws, uid: str) -> None:
    ws.transport.pause_reading()
    await board.wait("release:" + uid)
    ws.transport.resume_reading()
    count = 0
    async for message in ws:
        if message == "end":
            break
        count += 1
    await ws.send(f"received {count} messages")
    await asyncio.wait_for(ws.wait_closed(), 30)


RFC4514_NAMES = {"commonName": "CN", "organizationName": "O", "countryName": "C"}


def peer_subject(ws) -> str:
    cert = ws.transport.get_extra_info("peercert") or {}
    rdns = [f"{RFC4514_NAMES.get(k, k)}={v}" for rdn in cert.get("subject", ()) for k, v in rdn]
    return ",".join(reversed(rdns))


async def handler(ws) -> None:
    path, q = split(ws.request.path)
    try:
        if path == "/whoami":
            await ws.send(peer_subject(ws))
            await asyncio.wait_for(ws.wait_closed(), 20)
        elif path == "/echo" or path == "/auth":
            await echo(ws)
        elif path == "/host":
            await ws.send(ws.request.headers.get("Host", ""))
            await echo(ws)
        elif path == "/record":
            try:
                async for _ in ws:
                    pass
            finally:
                board.post("closed:" + q["id"], f"{ws.close_code}:{ws.close_reason or ''}")
        elif path == "/closed":
            await ws.send(await board.wait("closed:" + q["id"]) or "timed out")
        elif path == "/close":
            code = int(q["code"]) if "code" in q else None
            await ws.close(code, q.get("reason", ""))
        elif path == "/flood":
            await flood(ws, q["id"], int(q["size"]))
        elif path == "/status":
            await ws.send(await board.wait("flood:" + q["id"]) or "timed out")
        elif path == "/stall":
            await stall(ws, q["id"])
        elif path == "/release":
            board.post("release:" + q["id"], "released")
            await ws.send("released")
        elif path == "/hold":
            ws.transport.pause_reading()
            try:
                await asyncio.wait_for(ws.wait_closed(), 20)
            except asyncio.TimeoutError:
                ws.transport.abort()
        elif path == "/send":
            await ws.send(payload("binary", int(q["size"])))
            await asyncio.wait_for(ws.wait_closed(), 20)
        elif path == "/invalid-utf8":
            async with ws.send_context():
                ws.protocol.send_text(INVALID_UTF8)
            await asyncio.wait_for(ws.wait_closed(), 20)
        else:
            await ws.close(1008, f"no such path {path}")
    except (ConnectionClosed, asyncio.TimeoutError):
        pass


OPTIONS = dict(
    max_size=MAX_SIZE,
    compression=None,
    ping_interval=None,
    select_subprotocol=select_subprotocol,
    process_request=process_request,
)


async def restartable() -> int:
    """An endpoint that restarts: "restart" closes the server (1001 to every
    connection) and listens again on the same port after 0.2 s; "drain"
    closes every connection with 1012 "restart" (websockets has no drain)
    and listens again at once. Returns its port."""
    state: dict = {}

    async def handler(ws) -> None:
        try:
            await echo(ws, restart=lambda: asyncio.ensure_future(restart()),
                       drain=lambda: asyncio.ensure_future(restart(code=1012, reason="restart")))
        except ConnectionClosed:
            pass

    async def restart(code: int = 1001, reason: str = "") -> None:
        server = state["server"]
        if code != 1001:
            await asyncio.gather(*(ws.close(code, reason) for ws in server.connections))
        server.close()
        await server.wait_closed()
        if code == 1001:
            await asyncio.sleep(0.2)
        state["server"] = await serve(handler, "127.0.0.1", state["port"], **OPTIONS)

    state["server"] = await serve(handler, "127.0.0.1", 0, **OPTIONS)
    state["port"] = state["server"].sockets[0].getsockname()[1]
    return state["port"]


async def main() -> None:
    main_server = await serve(handler, "127.0.0.1", 0, **OPTIONS)
    origin_server = await serve(handler, "127.0.0.1", 0, origins=["https://good.example"], **OPTIONS)

    port = lambda s: s.sockets[0].getsockname()[1]  # noqa: E731
    restart_port = await restartable()
    drain_port = await restartable()
    tls = os.environ["WSX_PARITY_TLS"]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(os.path.join(tls, "server.pem"), os.path.join(tls, "server.key"))
    context.load_verify_locations(os.path.join(tls, "client-ca.pem"))
    context.verify_mode = ssl.CERT_REQUIRED
    mtls_server = await serve(handler, "127.0.0.1", 0, ssl=context, **OPTIONS)
    ipv6_server = await serve(handler, "::1", 0, **OPTIONS)
    # The main paths with permessage-deflate accepted (websockets' defaults).
    deflate_server = await serve(handler, "127.0.0.1", 0, **dict(OPTIONS, compression="deflate"))
    # What a wsx server with the shared compressor answers: server_no_context_takeover, asked unasked.
    shared = [ServerPerMessageDeflateFactory(server_no_context_takeover=True)]
    deflate_shared_server = await serve(handler, "127.0.0.1", 0, **dict(OPTIONS, compression=None, extensions=shared))
    unix_server = await unix_serve(handler, os.environ["WSX_PARITY_UNIX"], **OPTIONS)  # noqa: F841
    announce({"main": port(main_server), "origin": port(origin_server), "restart": restart_port, "drain": drain_port,
              "mtls": port(mtls_server), "ipv6": port(ipv6_server), "deflate": port(deflate_server),
              "deflate_shared": port(deflate_shared_server)})
    loop = asyncio.get_running_loop()
    eof = loop.run_in_executor(None, sys.stdin.read)
    await eof
    os._exit(0)  # at once, as wsx_server.py: asyncio.run would wait for handlers still closing


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
    os._exit(0)
