"""Reconnecting clients (`reconnect=`), the `before_connect` headers hook,
and proxies (`proxy=`: HTTP CONNECT, SOCKS5, from the environment)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import wsx
import wsx.asyncio

from conftest import proxy, websockets_echo, websockets_server, wsx_echo, wsx_server

FAST = wsx.Reconnect(initial_delay=0.02, max_delay=0.1, jitter=False)
ECHO_SERVER = Path(__file__).resolve().parents[3] / "examples" / "python" / "echo_server.py"


class Restarting:
    """A server handler: each connection gets "hello N", then the server
    closes it with 1012 (service restart: worth reconnecting) until the
    last one, which it closes normally. Records each request's token."""

    def __init__(self, drops: int) -> None:
        self.drops = drops
        self.count = 0
        self.tokens: list[str | None] = []
        self.lock = threading.Lock()

    def __call__(self, ws: wsx.sync.ServerConnection) -> None:
        with self.lock:
            n = self.count
            self.count += 1
        assert ws.request is not None
        self.tokens.append(ws.request.headers.get("Authorization"))
        ws.send(f"hello {n}")
        if n < self.drops:
            ws.close(1012, "restarting")
        else:
            assert ws.recv(timeout=20) == "bye"
            ws.close(1000)


def test_recv_and_iteration_continue_across_reconnects() -> None:
    server_side = Restarting(drops=3)
    with wsx_server(server_side) as server:
        with wsx.sync.connect(f"ws://127.0.0.1:{server.port}/", reconnect=FAST) as ws:
            assert ws.recv(timeout=20) == "hello 0"
            got = [ws.recv(timeout=20) for _ in range(3)]
            assert got == ["hello 1", "hello 2", "hello 3"]
            assert ws.reconnects == 3 and ws.connected
            ws.send("bye")
            # The normal close ends it: iteration stops, no reconnect.
            assert list(ws) == []
            assert ws.close_code == 1000 and not ws.connected
            assert ws.reconnects == 3
    assert server_side.count == 4


def start_echo_server(port: int, *flags: str) -> tuple[subprocess.Popen[str], int]:
    """examples/python/echo_server.py on `port` (0: a free one) and its port."""
    server = subprocess.Popen(
        [sys.executable, str(ECHO_SERVER), "--port", str(port), *flags], stdout=subprocess.PIPE, text=True
    )
    assert server.stdout is not None
    line = server.stdout.readline()
    if not line.startswith("listening on ws://127.0.0.1:"):
        server.kill()
        pytest.fail(f"the echo server did not start: {line!r}")
    return server, int(line.split(":")[2].split("/")[0])


@pytest.mark.parametrize("flags", [(), ("--asyncio",)], ids=["sync", "asyncio"])
def test_client_survives_a_graceful_server_restart(flags: tuple[str, ...]) -> None:
    """SIGTERM makes the example server close with 1001 (going away); the
    client reconnects to the new server on the same port by itself."""
    first, port = start_echo_server(0, *flags)
    second = None
    try:
        with wsx.sync.connect(f"ws://127.0.0.1:{port}/", reconnect=FAST) as ws:
            ws.send("before")
            assert ws.recv(timeout=20) == "before"
            first.terminate()  # SIGTERM
            assert first.wait(20) == 0, "the echo server did not exit 0 on SIGTERM"
            second, _ = start_echo_server(port, *flags)
            deadline = time.monotonic() + 20
            while not (ws.connected and ws.reconnects == 1):
                assert time.monotonic() < deadline, f"no reconnect in 20 s (reconnects={ws.reconnects})"
                time.sleep(0.02)
            ws.send("after")
            assert ws.recv(timeout=20) == "after"
    finally:
        for server in (first, second):
            if server is not None and server.poll() is None:
                server.kill()
                server.wait(20)


def test_retry_codes_choose_the_closes_reconnected_after() -> None:
    # 1012 is retried by default; without it in the set the drop ends it.
    policy = wsx.Reconnect(initial_delay=0.01, jitter=False, retry_codes=[1001, 1006])
    assert policy.retry_codes == [1001, 1006]
    assert wsx.Reconnect().retry_codes == [1001, 1006, 1011, 1012, 1013, 1014]
    with pytest.raises(ValueError):
        wsx.Reconnect(retry_codes=[999])
    with wsx_server(Restarting(drops=1)) as server:
        with wsx.sync.connect(f"ws://127.0.0.1:{server.port}/", reconnect=policy) as ws:
            assert ws.recv(timeout=20) == "hello 0"
            with pytest.raises(wsx.ConnectionClosedError) as info:
                ws.recv(timeout=20)
            assert info.value.code == 1012 and ws.reconnects == 0


def test_without_reconnect_a_drop_ends_the_connection() -> None:
    with wsx_server(Restarting(drops=1)) as server:
        with wsx.sync.connect(f"ws://127.0.0.1:{server.port}/") as ws:
            assert ws.recv(timeout=20) == "hello 0"
            with pytest.raises(wsx.ConnectionClosedError) as info:
                ws.recv(timeout=20)
            assert info.value.code == 1012
            assert ws.reconnects == 0


def test_before_connect_sets_each_attempts_headers() -> None:
    server_side = Restarting(drops=2)
    attempts: list[int] = []

    def fresh_token(attempt: int) -> Any:
        attempts.append(attempt)
        return {"Authorization": f"Bearer {attempt}"}

    with wsx_server(server_side) as server:
        url = f"ws://127.0.0.1:{server.port}/"
        with wsx.sync.connect(url, reconnect=FAST, before_connect=fresh_token) as ws:
            assert [ws.recv(timeout=20) for _ in range(3)] == ["hello 0", "hello 1", "hello 2"]
            ws.send("bye")
            assert list(ws) == []
    assert attempts == [0, 1, 2]
    assert server_side.tokens == ["Bearer 0", "Bearer 1", "Bearer 2"]


def test_before_connect_returning_none_keeps_additional_headers() -> None:
    server_side = Restarting(drops=0)
    with wsx_server(server_side) as server:
        url = f"ws://127.0.0.1:{server.port}/"
        with wsx.sync.connect(url, additional_headers={"Authorization": "static"}, before_connect=lambda n: None) as ws:
            assert ws.recv(timeout=20) == "hello 0"
            ws.send("bye")
            assert list(ws) == []
    assert server_side.tokens == ["static"]


def test_first_connection_is_retried_until_max_attempts() -> None:
    with wsx_server(wsx_echo) as server:
        port = server.port
    # Nothing listens there any more: every attempt is refused.
    with pytest.raises(wsx.ConnectError):
        wsx.sync.connect(f"ws://127.0.0.1:{port}/", reconnect=wsx.Reconnect(initial_delay=0.01, max_attempts=2))


@pytest.mark.parametrize("retry_on_4xx", [False, True])
def test_4xx_refusal_is_retried_only_when_asked(retry_on_4xx: bool) -> None:
    refusals = [403]

    def process_request(conn: wsx.sync.ServerConnection, request: wsx.Request) -> Any:
        return refusals.pop() if refusals else None

    policy = wsx.Reconnect(initial_delay=0.01, retry_on_4xx=retry_on_4xx)
    with wsx_server(wsx_echo, process_request=process_request) as server:
        url = f"ws://127.0.0.1:{server.port}/"
        if not retry_on_4xx:
            with pytest.raises(wsx.InvalidStatus) as info:
                wsx.sync.connect(url, reconnect=policy)
            assert info.value.status == 403
        else:
            with wsx.sync.connect(url, reconnect=policy) as ws:
                ws.send("through")
                assert ws.recv(timeout=20) == "through"
                assert ws.reconnects == 0  # the first connection, at the second attempt


def test_reconnect_options() -> None:
    assert wsx.Reconnect() == wsx.Reconnect(initial_delay=0.5, factor=2.0, max_delay=30.0, reset_after=10.0)
    r = wsx.Reconnect(max_attempts=3, queue_while_disconnected=1024)
    assert (r.max_attempts, r.queue_while_disconnected, r.retry_on_4xx, r.jitter) == (3, 1024, False, True)
    assert r.retry_codes == [1001, 1006, 1011, 1012, 1013, 1014]
    assert "max_attempts=3" in repr(r)
    with pytest.raises(ValueError):
        wsx.Reconnect(initial_delay=-1)
    with pytest.raises(TypeError):
        wsx.sync.connect("ws://127.0.0.1:1/", reconnect="yes")  # type: ignore[arg-type]


def test_asyncio_reconnects() -> None:
    server_side = Restarting(drops=2)

    async def main(url: str) -> None:
        async with wsx.asyncio.connect(url, reconnect=True) as ws:
            got = []
            async for message in ws:
                got.append(message)
                if len(got) == 3:
                    assert ws.reconnects == 2 and ws.connected
                    await ws.send("bye")
            assert got == ["hello 0", "hello 1", "hello 2"]

    with wsx_server(server_side) as server:
        asyncio.run(asyncio.wait_for(main(f"ws://127.0.0.1:{server.port}/"), 60))


@pytest.mark.parametrize("kind", ["http", "socks5"])
def test_through_a_proxy(kind: str) -> None:
    with websockets_server(websockets_echo) as port, proxy(kind) as p:
        with wsx.sync.connect(f"ws://127.0.0.1:{port}/", proxy=p.url) as ws:
            ws.send("via proxy")
            assert ws.recv(timeout=20) == "via proxy"
            assert ws.remote_address == ("127.0.0.1", p.port)
        assert p.targets == [f"127.0.0.1:{port}"]


def test_proxy_authentication() -> None:
    with wsx_server(wsx_echo) as server, proxy("http", ("ada", "s3cret")) as p:
        url = f"ws://127.0.0.1:{server.port}/"
        with wsx.sync.connect(url, proxy=p.url) as ws:
            ws.send("authenticated")
            assert ws.recv(timeout=20) == "authenticated"
        with pytest.raises(wsx.ConnectError, match="407"):
            wsx.sync.connect(url, proxy=f"http://ada:wrong@127.0.0.1:{p.port}")


def test_proxy_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    with wsx_server(wsx_echo) as server, proxy("http") as p:
        url = f"ws://127.0.0.1:{server.port}/"
        monkeypatch.setenv("http_proxy", p.url)
        monkeypatch.delenv("no_proxy", raising=False)
        monkeypatch.delenv("NO_PROXY", raising=False)
        with wsx.sync.connect(url) as ws:  # the default ignores the environment
            ws.send("direct")
            assert ws.recv(timeout=20) == "direct"
        assert p.targets == []
        with wsx.sync.connect(url, proxy=True) as ws:
            ws.send("from env")
            assert ws.recv(timeout=20) == "from env"
        assert p.targets == [f"127.0.0.1:{server.port}"]
        monkeypatch.setenv("no_proxy", "127.0.0.1")
        with wsx.sync.connect(url, proxy=True) as ws:
            ws.send("exempt")
            assert ws.recv(timeout=20) == "exempt"
        assert len(p.targets) == 1


def test_reconnect_through_a_proxy() -> None:
    server_side = Restarting(drops=1)
    with wsx_server(server_side) as server, proxy("socks5") as p:
        with wsx.sync.connect(f"ws://127.0.0.1:{server.port}/", reconnect=FAST, proxy=p.url) as ws:
            assert [ws.recv(timeout=20) for _ in range(2)] == ["hello 0", "hello 1"]
            ws.send("bye")
            assert list(ws) == []
        assert p.targets == [f"127.0.0.1:{server.port}"] * 2


def test_bad_proxy_url_is_invalid_argument() -> None:
    with pytest.raises(wsx.InvalidArgument):
        wsx.sync.connect("ws://127.0.0.1:1/", proxy="ftp://127.0.0.1:1")
