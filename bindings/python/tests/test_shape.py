"""wsx shaped like websockets 14+: the top-level API is asyncio and the
blocking one is `wsx.sync`; `process_request` sees every request (plain HTTP
too) and runs off the network thread; the exceptions, `broadcast`,
`Server.connections` and `ssl=` of websockets; mix-ups of the two APIs fail
at once, naming the right function; a dropped blocking server frees its
port. Against real `websockets` peers where the point is interop."""

from __future__ import annotations

import asyncio
import errno
import gc
import http.client
import socket
import ssl
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import websockets
import websockets.sync.client

import wsx
import wsx.asyncio
import wsx.sync
from wsx import _wsx
from conftest import silent_server, websockets_echo, websockets_server, wsx_echo, wsx_server


def run(coro: Any, timeout: float = 30) -> Any:
    return asyncio.run(asyncio.wait_for(coro, timeout))


def http_get(port: int, path: str) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


async def aecho(ws: wsx.asyncio.ServerConnection) -> None:
    async for message in ws:
        await ws.send(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- the shape of the API ----------------------------------------------------


def test_top_level_is_asyncio_and_sync_is_blocking() -> None:
    assert wsx.connect is wsx.asyncio.connect and wsx.serve is wsx.asyncio.serve
    assert wsx.Server is wsx.asyncio.Server and wsx.ClientConnection is wsx.asyncio.ClientConnection
    assert wsx.sync.ClientConnection is _wsx.ClientConnection

    async def main() -> None:
        async with wsx.serve(aecho, "127.0.0.1", 0) as server:
            async with wsx.connect(f"ws://127.0.0.1:{server.port}/") as ws:
                await ws.send("top level")
                assert await ws.recv() == "top level"
            # The blocking client, from a thread, against the same asyncio server.
            def blocking() -> str:
                with wsx.sync.connect(f"ws://127.0.0.1:{server.port}/") as ws:
                    ws.send("blocking")
                    return str(ws.recv(timeout=10))

            assert await asyncio.to_thread(blocking) == "blocking"

    run(main())


def test_max_queue_default_is_the_cores() -> None:
    import inspect

    for f in (wsx.connect, wsx.serve, wsx.sync.connect, wsx.sync.serve):
        assert inspect.signature(f).parameters["max_queue"].default == _wsx.defaults().max_queue == 16


# -- process_request for every request ---------------------------------------


def health(connection: Any, request: wsx.Request) -> Any:
    if request.path == "/healthz":
        return connection.respond(200, "OK\n")
    if request.path == "/status.json":
        return wsx.Response(200, "OK", {"Content-Type": "application/json", "X-Served-By": "wsx"}, b'{"up":1}')
    if request.path == "/private":
        return connection.respond(403, "no\n")
    return None


def check_health_answers(port: int) -> None:
    status, headers, body = http_get(port, "/healthz")
    assert (status, body) == (200, b"OK\n")
    assert headers["content-type"].startswith("text/plain")
    status, headers, body = http_get(port, "/status.json")
    assert (status, headers["content-type"], headers["x-served-by"], body) == (
        200,
        "application/json",
        "wsx",
        b'{"up":1}',
    )
    # Not answered by the application: the core's 426, as without a hook.
    status, headers, _ = http_get(port, "/other")
    assert status == 426 and headers["sec-websocket-version"] == "13"
    # WebSocket clients of the same server: refused where the hook says so.
    with pytest.raises(websockets.exceptions.InvalidStatus) as info:
        websockets.sync.client.connect(f"ws://127.0.0.1:{port}/private", open_timeout=10)
    assert info.value.response.status_code == 403 and info.value.response.body == b"no\n"
    with websockets.sync.client.connect(f"ws://127.0.0.1:{port}/chat", open_timeout=10) as ws:
        ws.send("still a WebSocket server")
        assert ws.recv(timeout=10) == "still a WebSocket server"


def test_process_request_answers_plain_http_on_the_blocking_server() -> None:
    with wsx_server(wsx_echo, process_request=health) as server:
        check_health_answers(server.port)


def test_process_request_answers_plain_http_on_the_asyncio_server() -> None:
    async def coroutine_health(connection: Any, request: wsx.Request) -> Any:
        await asyncio.sleep(0)  # awaited on the server's loop
        return health(connection, request)

    async def main(hook: Any) -> None:
        async with wsx.serve(aecho, "127.0.0.1", 0, process_request=hook) as server:
            await asyncio.to_thread(check_health_answers, server.port)

    run(main(health))
    run(main(coroutine_health))


def test_hooks_run_off_the_network_thread() -> None:
    """A hook that blocks (here until the test releases it) delays only its
    own handshake: the loop keeps serving another connection meanwhile."""
    release = threading.Event()
    entered = threading.Event()
    threads: list[str] = []

    def slow(connection: Any, request: wsx.Request) -> Any:
        # The OS thread's name (Linux truncates it to 15 bytes).
        threads.append(Path(f"/proc/self/task/{threading.get_native_id()}/comm").read_text().strip())
        if request.path == "/slow":
            entered.set()
            # Hold the GIL in pure Python while waiting, too.
            deadline = time.monotonic() + 20
            while not release.is_set() and time.monotonic() < deadline:
                sum(range(1000))
        return None

    with wsx_server(wsx_echo, process_request=slow) as server:
        url = f"ws://127.0.0.1:{server.port}"
        with wsx.sync.connect(f"{url}/fast") as fast:
            waiting: list[Any] = []
            t = threading.Thread(target=lambda: waiting.append(wsx.sync.connect(f"{url}/slow")))
            t.start()
            assert entered.wait(10)
            for i in range(20):
                fast.send(f"m{i}")
                assert fast.recv(timeout=5) == f"m{i}"
            release.set()
            t.join(10)
            with waiting[0] as slow_ws:
                slow_ws.send("late")
                assert slow_ws.recv(timeout=5) == "late"
    assert threads and all(name == "wsx-process-req" for name in threads), threads


def test_select_subprotocol_and_process_response_with_a_websockets_client() -> None:
    seen: list[Any] = []

    def select(connection: Any, offered: list[str]) -> str:
        seen.append(offered)
        return offered[-1]

    def add_header(connection: Any, request: wsx.Request, response: wsx.Response) -> None:
        response.headers["X-Chosen-By"] = "process_response"

    with wsx_server(wsx_echo, select_subprotocol=select, process_response=add_header) as server:
        url = f"ws://127.0.0.1:{server.port}/"
        with websockets.sync.client.connect(url, subprotocols=["chat.v1", "chat.v2"]) as ws:
            assert ws.subprotocol == "chat.v2"
            assert ws.response.headers["X-Chosen-By"] == "process_response"
    assert seen == [["chat.v1", "chat.v2"]]


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_hook_that_raises_answers_500() -> None:
    def boom(connection: Any, request: wsx.Request) -> Any:
        raise RuntimeError("hook failed")

    with wsx_server(wsx_echo, process_request=boom) as server:
        with pytest.raises(wsx.InvalidStatus) as info:
            wsx.sync.connect(f"ws://127.0.0.1:{server.port}/")
        assert info.value.response.status_code == 500


# -- exceptions --------------------------------------------------------------


def test_invalid_status_carries_the_response() -> None:
    def refuse(connection: Any, request: Any) -> Any:
        r = connection.respond(401, "who are you?\n")
        r.headers["WWW-Authenticate"] = "Bearer"
        return r

    with websockets_server(websockets_echo, process_request=refuse) as port:
        with pytest.raises(wsx.InvalidStatus) as info:
            wsx.sync.connect(f"ws://127.0.0.1:{port}/")
    response = info.value.response
    assert (response.status_code, info.value.status) == (401, 401)
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.body == b"who are you?\n"

    with wsx_server(wsx_echo, process_request=refuse) as server:

        async def main() -> wsx.Response:
            with pytest.raises(wsx.InvalidStatus) as info:
                await wsx.connect(f"ws://127.0.0.1:{server.port}/")
            return info.value.response

        response = run(main())
        assert (response.status_code, response.body) == (401, b"who are you?\n")
        assert response.headers["WWW-Authenticate"] == "Bearer"


def test_connection_closed_has_rcvd_and_sent() -> None:
    def close_4000(ws: Any) -> None:
        ws.recv()
        ws.close(4000, "bye")

    with websockets_server(close_4000) as port:
        with wsx.sync.connect(f"ws://127.0.0.1:{port}/") as ws:
            ws.send("hi")
            with pytest.raises(wsx.ConnectionClosedError) as info:
                ws.recv(timeout=10)
    e = info.value
    # The client echoed the code (without the reason, as RFC 6455 allows).
    assert e.rcvd == wsx.Close(4000, "bye") and e.sent == wsx.Close(4000, "")
    assert e.rcvd_then_sent is True and (e.code, e.reason) == (4000, "bye")

    async def main() -> wsx.ConnectionClosed:
        async with wsx.connect(f"ws://127.0.0.1:{port}/") as ws:
            await ws.close(1000, "done")
            with pytest.raises(wsx.ConnectionClosedOK) as info:
                await ws.recv()
            return info.value

    with websockets_server(websockets_echo) as port:
        e = run(main())
    assert e.sent == wsx.Close(1000, "done") and e.rcvd is not None and e.rcvd.code == 1000
    assert e.rcvd_then_sent is False


def test_a_refused_connection_is_a_connection_refused_error() -> None:
    port = free_port()
    with pytest.raises(ConnectionRefusedError) as info:
        wsx.sync.connect(f"ws://127.0.0.1:{port}/")
    assert info.value.errno == errno.ECONNREFUSED
    assert isinstance(info.value, wsx.ConnectError) and isinstance(info.value, wsx.WsxError)

    async def main() -> None:
        with pytest.raises(ConnectionRefusedError) as info:
            await wsx.connect(f"ws://127.0.0.1:{port}/")
        assert info.value.errno == errno.ECONNREFUSED

    run(main())


def test_open_keepalive_and_close_timeouts_are_distinct() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # accepts TCP, never answers the handshake
    try:
        with pytest.raises(wsx.OpenTimeout):
            wsx.sync.connect(f"ws://127.0.0.1:{listener.getsockname()[1]}/", open_timeout=0.3)
    finally:
        listener.close()

    with silent_server() as port:
        ws = wsx.sync.connect(f"ws://127.0.0.1:{port}/", ping_interval=0.1, ping_timeout=0.2)
        with pytest.raises(wsx.ConnectionClosedError) as info:
            ws.recv(timeout=10)
        assert isinstance(info.value.__cause__, wsx.KeepaliveTimeout)
        assert isinstance(info.value.__cause__, TimeoutError)

    with silent_server() as port:
        ws = wsx.sync.connect(f"ws://127.0.0.1:{port}/", ping_interval=None, close_timeout=0.2)
        ws.close()
        with pytest.raises(wsx.ConnectionClosedError) as info:
            ws.recv(timeout=10)
        assert isinstance(info.value.__cause__, wsx.CloseTimeout)
    assert len({wsx.OpenTimeout, wsx.KeepaliveTimeout, wsx.CloseTimeout}) == 3


# -- broadcast, Server.connections -------------------------------------------


def test_broadcast_and_connections_on_the_asyncio_server() -> None:
    async def main() -> None:
        joined = asyncio.Event()

        async def handler(ws: wsx.asyncio.ServerConnection) -> None:
            await ws.send("joined")
            await ws.wait_closed()

        async with wsx.serve(handler, "127.0.0.1", 0) as server:
            url = f"ws://127.0.0.1:{server.port}/"
            clients = [await websockets.connect(url) for _ in range(3)]
            for c in clients:
                assert await c.recv() == "joined"
            assert len(server.connections) == 3
            assert all(isinstance(c, wsx.asyncio.ServerConnection) for c in server.connections)
            wsx.broadcast(server.connections, "to everyone")
            wsx.broadcast(server.connections, b"\x01\x02")
            for c in clients:
                assert await c.recv() == "to everyone"
                assert await c.recv() == b"\x01\x02"
            await clients[0].close()
            for _ in range(100):
                if len(server.connections) == 2:
                    break
                await asyncio.sleep(0.02)
            assert len(server.connections) == 2
            for c in clients[1:]:
                await c.close()
            joined.set()

    run(main())


def test_broadcast_on_the_blocking_server_skips_closed_connections() -> None:
    ready = threading.Event()

    def handler(ws: wsx.sync.ServerConnection) -> None:
        ready.set()
        for _ in ws:
            pass

    with wsx_server(handler) as server:
        url = f"ws://127.0.0.1:{server.port}/"
        with websockets.sync.client.connect(url) as a, websockets.sync.client.connect(url) as b:
            for _ in range(100):
                if len(server.connections) == 2:
                    break
                time.sleep(0.02)
            conns = list(server.connections)
            assert len(conns) == 2
            conns[0].close()
            wsx.broadcast(conns, "news", raise_exceptions=True)  # the closed one is skipped quietly
            got = []
            for peer in (a, b):
                try:
                    got.append(peer.recv(timeout=5))
                except websockets.exceptions.ConnectionClosed:
                    got.append(None)
            assert sorted(got, key=str) == sorted(["news", None], key=str)


def test_would_block_is_a_wsx_error_raised_by_broadcast() -> None:
    assert issubclass(wsx.WouldBlock, wsx.WsxError) and not issubclass(wsx.WouldBlock, RuntimeError)
    with silent_server() as port:  # never reads: the send queue fills
        ws = wsx.sync.connect(f"ws://127.0.0.1:{port}/", ping_interval=None, compression=None)
        with pytest.raises(ExceptionGroup) as info:
            for _ in range(10_000):
                wsx.broadcast([ws], b"x" * 65536, raise_exceptions=True)
        assert all(isinstance(e, wsx.WouldBlock) for e in info.value.exceptions)
        ws.close()


# -- ssl= ----------------------------------------------------------------------


def test_ssl_context_is_mapped_to_ca_file_and_verify(tls_files: dict[str, Path]) -> None:
    with wsx_server(wsx_echo, cert_file=tls_files["cert"], key_file=tls_files["key"]) as server:
        url = f"wss://localhost:{server.port}/"
        ctx = ssl.create_default_context(cafile=str(tls_files["ca"]))
        with wsx.sync.connect(url, ssl=ctx) as ws:
            ws.send("through a context")
            assert ws.recv(timeout=10) == "through a context"
        unchecked = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        unchecked.check_hostname = False
        unchecked.verify_mode = ssl.CERT_NONE
        with wsx.sync.connect(url, ssl=unchecked) as ws:
            ws.send("unchecked")
            assert ws.recv(timeout=10) == "unchecked"
        with pytest.raises(wsx.TLSError):  # the default context does not trust the test CA
            wsx.sync.connect(url, ssl=ssl.create_default_context())
        half = ssl.create_default_context(cafile=str(tls_files["ca"]))
        half.check_hostname = False
        with pytest.raises(wsx.InvalidArgument, match="verify=False"):
            wsx.sync.connect(url, ssl=half)

        async def main() -> None:
            async with wsx.connect(url, ssl=ctx) as ws:
                await ws.send("async")
                assert await ws.recv() == "async"

        run(main())


def test_serve_refuses_an_ssl_context_naming_cert_file(tls_files: dict[str, Path]) -> None:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tls_files["cert"], tls_files["key"])
    with pytest.raises(wsx.InvalidArgument, match="cert_file=.*key_file="):
        wsx.sync.serve(wsx_echo, "127.0.0.1", 0, ssl=ctx)

    async def main() -> None:
        with pytest.raises(wsx.InvalidArgument, match="cert_file="):
            await wsx.serve(aecho, "127.0.0.1", 0, ssl=ctx)

    run(main())


# -- mix-ups fail at once ----------------------------------------------------


def test_a_coroutine_handler_given_to_the_blocking_serve_fails_at_once() -> None:
    with pytest.raises(TypeError, match=r"wsx\.serve \(asyncio\)"):
        wsx.sync.serve(aecho, "127.0.0.1", 0)

    async def hook(connection: Any, request: Any) -> None:
        return None

    with pytest.raises(TypeError, match=r"process_request.*wsx\.serve"):
        wsx.sync.serve(wsx_echo, "127.0.0.1", 0, process_request=hook)


def test_a_blocking_handler_given_to_the_asyncio_serve_fails_at_once() -> None:
    async def main() -> None:
        with pytest.raises(TypeError, match=r"wsx\.sync\.serve"):
            await wsx.serve(wsx_echo, "127.0.0.1", 0)

    run(main())


def test_async_with_on_a_blocking_connection_names_the_right_api() -> None:
    async def main(url: str) -> None:
        ws = await asyncio.to_thread(wsx.sync.connect, url)
        with pytest.raises(TypeError, match=r"not `async with`.*wsx\.connect"):
            async with ws:
                pass
        ws.close()
        with pytest.raises(TypeError, match=r"wsx\.sync\.serve.*`with`, not `async with`"):
            async with wsx.sync.serve(wsx_echo, "127.0.0.1", 0):
                pass

    with wsx_server(wsx_echo) as server:
        run(main(f"ws://127.0.0.1:{server.port}/"))
        url = f"ws://127.0.0.1:{server.port}/"
        with pytest.raises(TypeError, match=r"wsx\.sync\.connect"):
            with wsx.connect(url):  # type: ignore[attr-defined]
                pass
        with pytest.raises(AttributeError, match=r"wsx\.sync\.connect"):
            wsx.connect(url).send("old top-level blocking API")  # type: ignore[attr-defined]


# -- a dropped blocking server ------------------------------------------------


def test_a_dropped_blocking_server_is_collected_and_frees_its_port() -> None:
    server = wsx.sync.serve(wsx_echo, "127.0.0.1", 0)
    port = server.port
    with wsx.sync.connect(f"ws://127.0.0.1:{port}/") as ws:
        ws.send("alive")
        assert ws.recv(timeout=5) == "alive"
    del server, ws
    gc.collect()
    deadline = time.monotonic() + 10
    while True:
        try:
            wsx.sync.connect(f"ws://127.0.0.1:{port}/", open_timeout=2).close()
        except ConnectionRefusedError:
            break
        assert time.monotonic() < deadline, "the dropped server still accepts connections"
        time.sleep(0.05)
    # The port is free: a new server can listen on it.
    with wsx.sync.serve(wsx_echo, "127.0.0.1", port) as again:
        assert again.port == port
