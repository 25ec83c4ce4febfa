"""The blocking API against the wsx server and a `websockets` server."""

from __future__ import annotations

import http.client
import socket
import threading
from typing import Any

import pytest
import websockets.exceptions
import websockets.sync.client

import wsx
from conftest import Recorder, websockets_server, wsx_echo, wsx_server

SIZES = [0, 1, 125, 126, 65535, 65536, 1 << 20, 1 << 24]


@pytest.mark.parametrize("size", SIZES)
def test_binary_round_trip(echo_url: str, size: int) -> None:
    payload = bytes(i % 251 for i in range(min(size, 1000))) * (size // 1000) + b"\x07" * (size % 1000)
    assert len(payload) == size
    with wsx.sync.connect(echo_url) as ws:
        ws.send(payload)
        got = ws.recv(timeout=30)
    assert isinstance(got, bytes)
    assert got == payload


@pytest.mark.parametrize("size", [0, 5, 70000, 1 << 24])
def test_text_round_trip(echo_url: str, size: int) -> None:
    unit = "héllo wörld ✓ "  # multi-byte characters
    text = (unit * (size // len(unit.encode()) + 1)).encode()[:size].decode("utf-8", "ignore")
    with wsx.sync.connect(echo_url) as ws:
        ws.send(text)
        got = ws.recv(timeout=30)
    assert isinstance(got, str)
    assert got == text


def test_bytearray_and_memoryview_are_binary(echo_url: str) -> None:
    with wsx.sync.connect(echo_url) as ws:
        ws.send(bytearray(b"abc"))
        ws.send(memoryview(b"xyz123")[1:4])
        assert ws.recv(timeout=5) == b"abc"
        assert ws.recv(timeout=5) == b"yz1"
        with pytest.raises(TypeError):
            ws.send(12)  # type: ignore[arg-type]


def test_fragments_arrive_as_one_message(echo_url: str) -> None:
    """websockets' send(iterable): a frame per item, one message."""
    with wsx.sync.connect(echo_url) as ws:
        ws.send(["hé", "llo", "", " ✓"])
        assert ws.recv(timeout=5) == "héllo ✓"
        ws.send(iter([b"\x00", bytearray(b"\x01"), memoryview(b"\x02")]))
        assert ws.recv(timeout=5) == b"\x00\x01\x02"
        # text=True: bytes pieces of one text message, a character split between them.
        ws.send([b"h\xc3", b"\xa9"], text=True)
        assert ws.recv(timeout=5) == "hé"
        ws.send(b"bin as text", text=True)
        assert ws.recv(timeout=5) == "bin as text"
        ws.send([])  # nothing
        ws.send("last")
        assert ws.recv(timeout=5) == "last"


def test_fragments_of_mixed_types_fail_the_connection(echo_url: str) -> None:
    with wsx.sync.connect(echo_url) as ws:
        with pytest.raises(TypeError):
            ws.send(["text", b"bytes"])  # type: ignore[list-item]
        with pytest.raises(wsx.ConnectionClosed):
            ws.recv(timeout=5)
        # Our 1011 went first; websockets answers an unfinished message with 1002.
        assert ws.close_code in (1011, 1002)


def test_iteration_ends_on_normal_close() -> None:
    def handler(ws: wsx.sync.ServerConnection) -> None:
        for i in range(3):
            ws.send(f"m{i}")
        ws.close(1000, "done")

    with wsx_server(handler) as server:
        with wsx.sync.connect(f"ws://127.0.0.1:{server.port}/") as ws:
            assert list(ws) == ["m0", "m1", "m2"]
            assert (ws.close_code, ws.close_reason) == (1000, "done")
            with pytest.raises(wsx.ConnectionClosedOK):
                ws.recv()
            with pytest.raises(wsx.ConnectionClosed):
                ws.send("late")


def test_subprotocols_with_wsx_server() -> None:
    seen = Recorder()

    def handler(ws: wsx.sync.ServerConnection) -> None:
        seen.events.put(("sub", ws.subprotocol))

    with wsx_server(handler, subprotocols=["chat", "superchat"]) as server:
        url = f"ws://127.0.0.1:{server.port}/"
        with wsx.sync.connect(url, subprotocols=["superchat"]) as ws:
            assert ws.subprotocol == "superchat"
        assert seen.get() == ("sub", "superchat")
        with wsx.sync.connect(url, subprotocols=["other"]) as ws:
            assert ws.subprotocol is None
        assert seen.get() == ("sub", None)
        with websockets.sync.client.connect(url, subprotocols=["chat"]) as ws2:  # type: ignore[list-item]
            assert ws2.subprotocol == "chat"
        assert seen.get() == ("sub", "chat")


def test_subprotocols_with_websockets_server() -> None:
    with websockets_server(lambda ws: ws.send(ws.subprotocol or "-"), subprotocols=["v2", "v1"]) as port:
        with wsx.sync.connect(f"ws://127.0.0.1:{port}/", subprotocols=["v1"]) as ws:
            assert ws.subprotocol == "v1"
            assert ws.recv(timeout=5) == "v1"


def test_headers_both_ways_with_wsx_server() -> None:
    seen = Recorder()

    def handler(ws: wsx.sync.ServerConnection) -> None:
        assert ws.request is not None
        seen.events.put((ws.request.path, ws.request.headers.get("x-token"), ws.request.headers.get("origin")))

    with wsx_server(handler) as server:
        url = f"ws://127.0.0.1:{server.port}/room?id=7"
        with wsx.sync.connect(url, additional_headers={"X-Token": "abc"}, origin="https://app.example") as ws:
            assert ws.response is not None
            assert ws.response.status_code == 101
            assert ws.response.headers["upgrade"].lower() == "websocket"
            assert "Sec-WebSocket-Accept" in ws.response.headers
        assert seen.get() == ("/room?id=7", "abc", "https://app.example")
        with websockets.sync.client.connect(url, additional_headers=[("X-Token", "def")]):
            pass
        assert seen.get() == ("/room?id=7", "def", None)


def test_headers_with_websockets_server() -> None:
    def handler(ws: Any) -> None:
        ws.send(f"{ws.request.path} {ws.request.headers['X-Token']} {ws.request.headers.get_all('X-Multi')}")

    with websockets_server(handler) as port:
        headers = [("X-Token", "t1"), ("X-Multi", "a"), ("X-Multi", "b")]
        with wsx.sync.connect(f"ws://127.0.0.1:{port}/p?q=1", additional_headers=headers) as ws:
            assert ws.recv(timeout=5) == "/p?q=1 t1 ['a', 'b']"
            assert ws.response is not None and ws.response.headers.get("server", "").startswith("Python")


def test_headers_object() -> None:
    h = wsx.Headers([("A", "1"), ("b", "2"), ("a", "3")])
    assert h["a"] == "1, 3"
    assert h.get_all("A") == ["1", "3"]
    assert h.get("missing") is None and h.get("missing", "d") == "d"
    assert "B" in h and "c" not in h
    assert len(h) == 3 and list(h) == ["A", "b", "a"]
    with pytest.raises(KeyError):
        h["missing"]


def test_client_close_code_reaches_server() -> None:
    seen = Recorder()

    def handler(ws: wsx.sync.ServerConnection) -> None:
        try:
            ws.recv()
        except wsx.ConnectionClosed as exc:
            seen.events.put((type(exc), exc.code, exc.reason, ws.close_code))

    with wsx_server(handler) as server:
        ws = wsx.sync.connect(f"ws://127.0.0.1:{server.port}/")
        ws.close(4000, "bye now")
        assert ws.close_code == 4000  # the code the server echoed
        assert seen.get() == (wsx.ConnectionClosedError, 4000, "bye now", 4000)
        ws.close()  # closing again does nothing

    def ws_handler(ws: Any) -> None:
        try:
            ws.recv()
        except websockets.exceptions.ConnectionClosed as exc:
            seen.events.put((exc.rcvd.code, exc.rcvd.reason))

    with websockets_server(ws_handler) as port:
        ws = wsx.sync.connect(f"ws://127.0.0.1:{port}/")
        ws.close(4001, "from wsx")
        assert seen.get() == (4001, "from wsx")
        assert ws.close_code == 4001


def test_server_close_code_reaches_client() -> None:
    def handler(ws: wsx.sync.ServerConnection) -> None:
        ws.send("last words")
        ws.close(4002, "server says bye")

    def ws_handler(ws: Any) -> None:
        ws.send("last words")
        ws.close(4002, "server says bye")

    with wsx_server(handler) as server, websockets_server(ws_handler) as port:
        for url in (f"ws://127.0.0.1:{server.port}/", f"ws://127.0.0.1:{port}/"):
            with wsx.sync.connect(url) as ws:
                assert ws.recv(timeout=5) == "last words"
                with pytest.raises(wsx.ConnectionClosedError) as info:
                    ws.recv(timeout=5)
                assert (info.value.code, info.value.reason) == (4002, "server says bye")
                assert (ws.close_code, ws.close_reason) == (4002, "server says bye")

        # websockets client against the wsx server
        with websockets.sync.client.connect(f"ws://127.0.0.1:{server.port}/") as ws2:
            assert ws2.recv() == "last words"
            with pytest.raises(websockets.exceptions.ConnectionClosedError) as info2:
                ws2.recv()
            assert info2.value.rcvd is not None and info2.value.rcvd.code == 4002


def test_invalid_close_code_is_refused(echo_url: str) -> None:
    with wsx.sync.connect(echo_url) as ws:
        with pytest.raises(wsx.InvalidArgument):
            ws.close(1006)
        with pytest.raises(wsx.InvalidArgument):
            ws.close(1005, "a reason needs a code")
        ws.send("still open")
        assert ws.recv(timeout=5) == "still open"


def test_ping_round_trip(echo_url: str) -> None:
    with wsx.sync.connect(echo_url) as ws:
        assert ws.latency == 0
        waiters = [ws.ping(b"a"), ws.ping(b"b"), ws.ping()]
        rtts = [w.wait(timeout=10) for w in waiters]
        assert all(w.done() for w in waiters)
        assert all(r > 0 for r in rtts)
        assert ws.latency > 0
        with pytest.raises(wsx.InvalidArgument):
            ws.ping(b"x" * 126)  # control frames carry at most 125 bytes


def test_recv_timeout(echo_url: str) -> None:
    with wsx.sync.connect(echo_url) as ws:
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.2)
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0)
        ws.send("after the timeout")
        assert ws.recv(timeout=5) == "after the timeout"


def test_open_timeout() -> None:
    # A listener that never accepts: the TCP connect succeeds, the handshake never answers.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        with pytest.raises(wsx.OpenTimeout) as info:
            wsx.sync.connect(f"ws://127.0.0.1:{silent.getsockname()[1]}/", open_timeout=0.3)
        assert isinstance(info.value, TimeoutError)


@pytest.mark.parametrize("url", ["http://127.0.0.1/", "ws://", "not a url", "ws://h:99999/", "ws://u:p@h/", ""])
def test_bad_urls(url: str) -> None:
    with pytest.raises(wsx.InvalidURI) as info:
        wsx.sync.connect(url)
    assert isinstance(info.value, wsx.WsxError)
    assert info.value.uri == url


def test_refused_connection() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(wsx.ConnectError) as info:
        wsx.sync.connect(f"ws://127.0.0.1:{port}/")
    assert isinstance(info.value, OSError)


def test_origin_refused_with_403() -> None:
    with wsx_server(wsx_echo, origins=["https://good.example"]) as server:
        url = f"ws://127.0.0.1:{server.port}/"
        with pytest.raises(wsx.InvalidStatus) as info:
            wsx.sync.connect(url, origin="https://evil.example")
        assert info.value.status == 403
        assert isinstance(info.value, wsx.InvalidHandshake)
        with wsx.sync.connect(url, origin="https://good.example") as ws:
            ws.send("ok")
            assert ws.recv(timeout=5) == "ok"
        with pytest.raises(websockets.exceptions.InvalidStatus) as info2:
            websockets.sync.client.connect(url, origin="https://evil.example")  # type: ignore[arg-type]
        assert info2.value.response.status_code == 403


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # the hook that raises
def test_process_request_refuses() -> None:
    calls: list[tuple[str, Any]] = []

    def process_request(conn: wsx.sync.ServerConnection, request: wsx.Request) -> Any:
        calls.append((request.path, conn.remote_address))
        if request.path == "/forbidden":
            return 403
        if request.path == "/auth":
            return (401, "who are you", {"WWW-Authenticate": "Basic"})
        if request.path == "/boom":
            raise RuntimeError("hook failed")
        return None

    with wsx_server(wsx_echo, process_request=process_request) as server:
        base = f"ws://127.0.0.1:{server.port}"
        with pytest.raises(wsx.InvalidStatus) as info:
            wsx.sync.connect(base + "/forbidden")
        assert info.value.status == 403
        with pytest.raises(wsx.InvalidStatus) as info:
            wsx.sync.connect(base + "/auth")
        assert info.value.status == 401
        with pytest.raises(websockets.exceptions.InvalidStatus) as info2:
            websockets.sync.client.connect(base + "/auth")
        assert info2.value.response.status_code == 401
        assert info2.value.response.headers["WWW-Authenticate"] == "Basic"
        assert b"who are you" in info2.value.response.body
        with pytest.raises(wsx.InvalidStatus) as info:
            wsx.sync.connect(base + "/boom")
        assert info.value.status == 500
        with wsx.sync.connect(base + "/fine") as ws:
            ws.send("in")
            assert ws.recv(timeout=5) == "in"
    assert [path for path, _ in calls] == ["/forbidden", "/auth", "/auth", "/boom", "/fine"]
    assert all(addr is not None and addr[0] == "127.0.0.1" for _, addr in calls)


def test_plain_http_gets_426() -> None:
    with wsx_server(wsx_echo) as server:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        conn.request("GET", "/")
        response = conn.getresponse()
        assert response.status == 426
        assert response.getheader("Sec-WebSocket-Version") == "13"
        conn.close()


def test_refused_by_websockets_server() -> None:
    from http import HTTPStatus

    def process_request(connection: Any, request: Any) -> Any:
        return connection.respond(HTTPStatus.FORBIDDEN, "go away\n")

    with websockets_server(lambda ws: None, process_request=process_request) as port:
        with pytest.raises(wsx.InvalidStatus) as info:
            wsx.sync.connect(f"ws://127.0.0.1:{port}/")
        assert info.value.status == 403


def test_payload_too_big() -> None:
    def handler(ws: wsx.sync.ServerConnection) -> None:
        ws.send(b"x" * 2048)
        try:
            ws.recv()
        except wsx.ConnectionClosed:
            pass

    with wsx_server(handler) as server:
        with wsx.sync.connect(f"ws://127.0.0.1:{server.port}/", max_size=1024) as ws:
            with pytest.raises(wsx.ConnectionClosedError) as info:
                ws.recv(timeout=10)
            assert info.value.code == 1009
            assert isinstance(info.value.__cause__, wsx.PayloadTooBig)


def test_concurrent_senders(echo_url: str) -> None:
    threads_n, per_thread = 8, 200
    with wsx.sync.connect(echo_url) as ws:
        def sender(t: int) -> None:
            for i in range(per_thread):
                ws.send(f"{t}:{i}:" + "x" * (i % 300))

        threads = [threading.Thread(target=sender, args=(t,)) for t in range(threads_n)]
        for t in threads:
            t.start()
        got = [ws.recv(timeout=30) for _ in range(threads_n * per_thread)]
        for t in threads:
            t.join()
    last = {t: -1 for t in range(threads_n)}
    for message in got:
        assert isinstance(message, str)
        t_s, i_s, pad = message.split(":")
        t, i = int(t_s), int(i_s)
        assert pad == "x" * (i % 300)
        assert i == last[t] + 1  # each thread's messages arrive whole and in order
        last[t] = i
    assert all(v == per_thread - 1 for v in last.values())


def test_server_handlers_run_on_their_own_threads() -> None:
    gate = threading.Barrier(3, timeout=10)

    def handler(ws: wsx.sync.ServerConnection) -> None:
        gate.wait()  # three handlers block at once: each has its own thread
        ws.send(threading.current_thread().name + str(threading.get_ident()))

    with wsx_server(handler) as server:
        url = f"ws://127.0.0.1:{server.port}/"
        conns = [wsx.sync.connect(url) for _ in range(3)]
        names = {c.recv(timeout=10) for c in conns}
        assert len(names) == 3
        for c in conns:
            c.close()


def test_shutdown_closes_connections_with_1001() -> None:
    server = wsx.sync.serve(wsx_echo, "127.0.0.1", 0)
    ws = wsx.sync.connect(f"ws://127.0.0.1:{server.port}/")
    ws.send("hi")
    assert ws.recv(timeout=5) == "hi"
    threading.Thread(target=server.shutdown).start()
    with pytest.raises(wsx.ConnectionClosedOK) as info:
        ws.recv(timeout=10)
    assert info.value.code == 1001
    server.serve_forever()  # returns at once: the server is shut down
    with pytest.raises(wsx.ConnectError):
        wsx.sync.connect(f"ws://127.0.0.1:{server.port}/")
