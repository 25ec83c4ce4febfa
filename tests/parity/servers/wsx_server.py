"""The wsx parity server: the same paths as py_server.py (see its docstring),
served by wsx.sync.serve on eight endpoints (main, origin, restart, drain,
mtls: mutual TLS with run.py's certificates, /whoami answers the client's
subject; ipv6: the main paths on ::1; deflate: the main paths with
permessage-deflate accepted; deflate_shared: the same with the shared
compressor). Its process_request also serves
/metrics: the main server's counters as OpenMetrics text.

Its twins through the other languages' server APIs are wsx_server.c (the C
ABI) and ParityServer.cs (the C# binding): run.py's servers c and cs.

How this server holds a client back: its inbox is one message deep
(max_queue=(1, 0)), so a handler that does not read stops the core from
reading the socket (/stall, /hold); a flood counts itself held back when the
core's send queue is full (the non-blocking send of the binding reports it)
and still is after HELD_BACK_PAUSE.
A ninth, loops: the main paths on a server spread over two network
threads (loops=2), plus /room?id=U: the connection joins topic "room:U",
is told "joined", then "publish X" publishes X to the room (the sender
included) and answers "reached N"; anything else is echoed.
Not served (the scenarios say why): /bad-subprotocol, /invalid-utf8.
The main paths are also served on a Unix domain socket (wsx.sync.unix_serve)
at the path run.py gives in WSX_PARITY_UNIX.
"""

from __future__ import annotations

import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import FLOOD_LIMIT, HELD_BACK_PAUSE, Board, announce, payload, split, wait_for_stdin_eof  # noqa: E402

import wsx  # noqa: E402
import wsx.sync  # noqa: E402

board = Board()
# The server whose counters /metrics serves (the main endpoint's).
metered: list = []
# The loops endpoint's server, which /room publishes on.
rooms: list = []


def process_request(conn, request):
    path, _ = split(request.path)
    if path == "/auth" and request.headers.get("Authorization") != "Bearer parity":
        return (401, "Unauthorized", [("WWW-Authenticate", 'Basic realm="wsx"')])
    if path == "/upgrade-required":
        return (426, "Upgrade Required", [("Sec-WebSocket-Version", "13")])
    if path == "/healthz":
        return conn.respond(200, "ok\n")
    if path == "/moved":
        return wsx.Response(302, "Found", [("Location", "/echo")], b"")
    if path == "/metrics" and metered:
        text = metered[0].metrics_text().encode()
        return wsx.Response(200, "OK", [("Content-Type", wsx.OPENMETRICS_CONTENT_TYPE)], text)
    return None


def wait_closed(conn, timeout: float = 20.0) -> None:
    """Reads until the client closes (messages are dropped)."""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            try:
                conn.recv(timeout=max(0.01, deadline - time.monotonic()))
            except TimeoutError:
                return
    except wsx.ConnectionClosed:
        pass


def flood(conn, uid: str, size: int) -> None:
    message = payload("binary", size)
    sent = 0
    state = "not_held_back"
    while sent * size < FLOOD_LIMIT:
        # The binding's non-blocking send (what wsx.asyncio's send is made
        # of): False when the core's send queue is past its high-water mark.
        if not conn._send_nowait(message):
            # Outrunning a reader is not being held back by it: held back
            # is when the queue is still full after a while.
            time.sleep(HELD_BACK_PAUSE)
            if not conn._send_nowait(message):
                state = "held_back"
                break
        sent += 1
    board.post("flood:" + uid, state)
    conn.send(f"{state} {sent}")
    wait_closed(conn, 60)


def stall(conn, uid: str) -> None:
    board.wait("release:" + uid)
    count = 0
    for message in conn:
        if message == "end":
            break
        count += 1
    conn.send(f"received {count} messages")
    wait_closed(conn)


def hold(conn) -> None:
    deadline = time.monotonic() + 20
    while conn.close_code is None and time.monotonic() < deadline:
        time.sleep(0.05)


def room(conn, topic: str) -> None:
    conn.subscribe(topic)
    conn.send("joined")
    for message in conn:
        if isinstance(message, str) and message.startswith("publish "):
            reached = rooms[0].publish(topic, message[len("publish "):])
            conn.send(f"reached {reached}")
        else:
            conn.send(message)


def handler(conn) -> None:
    path, q = split(conn.request.path)
    if path == "/whoami":
        conn.send(conn.peer_subject or "")
        wait_closed(conn)
    elif path in ("/echo", "/auth", "/host"):
        if path == "/host":
            conn.send(conn.request.headers.get("Host") or "")
        for message in conn:
            conn.send(message)
    elif path == "/record":
        try:
            for _ in conn:
                pass
        finally:
            board.post("closed:" + q["id"], f"{conn.close_code}:{conn.close_reason or ''}")
    elif path == "/closed":
        conn.send(board.wait("closed:" + q["id"]) or "timed out")
        wait_closed(conn)
    elif path == "/close":
        # No code means a close frame without a status code.
        conn.close(int(q["code"]) if "code" in q else 1005, q.get("reason", ""))
    elif path == "/flood":
        flood(conn, q["id"], int(q["size"]))
    elif path == "/status":
        conn.send(board.wait("flood:" + q["id"]) or "timed out")
        wait_closed(conn)
    elif path == "/stall":
        stall(conn, q["id"])
    elif path == "/release":
        board.post("release:" + q["id"], "released")
        conn.send("released")
        wait_closed(conn)
    elif path == "/hold":
        hold(conn)
    elif path == "/room":
        room(conn, "room:" + q["id"])
    elif path == "/send":
        conn.send(payload("binary", int(q["size"])))
        wait_closed(conn)
    else:
        conn.close(1008, f"no such path {path}")


OPTIONS = dict(
    subprotocols=["superchat", "chat"],
    process_request=process_request,
    ping_interval=None,
    max_queue=(1, 0),
)


class Restartable:
    """The restart endpoint: the text "restart" shuts the server down (1001
    to every connection) and serves again on the same port; the text "drain"
    does the same with the drain's 1012 "restart"."""

    def __init__(self) -> None:
        self.server = wsx.sync.serve(self.handler, "127.0.0.1", 0, **OPTIONS)
        self.port = self.server.port

    def handler(self, conn) -> None:
        for message in conn:
            if message in ("restart", "drain"):
                code, reason = (1001, "") if message == "restart" else (1012, "restart")
                threading.Thread(target=self.restart, args=(code, reason), daemon=True).start()
                wait_closed(conn)  # the shutdown closes it with the code
                return
            conn.send(message)

    def restart(self, code: int = 1001, reason: str = "") -> None:
        self.server.shutdown(code=code, reason=reason, timeout=5)
        if code == 1001:
            time.sleep(0.2)
        self.server = wsx.sync.serve(self.handler, "127.0.0.1", self.port, **OPTIONS)


def main() -> None:
    main_server = wsx.sync.serve(handler, "127.0.0.1", 0, **OPTIONS)
    metered.append(main_server)
    ipv6_server = wsx.sync.serve(handler, "::1", 0, **OPTIONS)
    origin_server = wsx.sync.serve(handler, "127.0.0.1", 0, origins=["https://good.example"], **OPTIONS)
    restartable, drainable = Restartable(), Restartable()
    tls = os.environ["WSX_PARITY_TLS"]
    mtls_server = wsx.sync.serve(
        handler, "127.0.0.1", 0,
        cert_file=os.path.join(tls, "server.pem"), key_file=os.path.join(tls, "server.key"),
        client_ca_file=os.path.join(tls, "client-ca.pem"), client_cert_required=True, **OPTIONS)
    deflate_server = wsx.sync.serve(handler, "127.0.0.1", 0, **dict(OPTIONS, compression="deflate"))
    shared = wsx.Deflate(shared_compressor=True)
    deflate_shared_server = wsx.sync.serve(handler, "127.0.0.1", 0, **dict(OPTIONS, compression=shared))
    loops_server = wsx.sync.serve(handler, "127.0.0.1", 0, **dict(OPTIONS, loops=2))
    rooms.append(loops_server)
    unix_server = wsx.sync.unix_serve(handler, os.environ["WSX_PARITY_UNIX"], **OPTIONS)  # noqa: F841
    announce({"main": main_server.port, "origin": origin_server.port, "restart": restartable.port,
              "drain": drainable.port, "mtls": mtls_server.port, "ipv6": ipv6_server.port,
              "deflate": deflate_server.port, "deflate_shared": deflate_shared_server.port,
              "loops": loops_server.port})
    wait_for_stdin_eof()
    os._exit(0)


if __name__ == "__main__":
    main()
