"""Name resolution by the application (``connect(resolver=...)``), Happy
Eyeballs (RFC 8305) through it, and IPv6 on ``::1`` in both roles, against
python-websockets peers."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from typing import Any, Iterator

import pytest
import websockets.sync.client
import websockets.sync.server

import wsx
import wsx.asyncio
import wsx.sync
from conftest import black_hole, websockets_echo, websockets_server, wsx_echo


@contextlib.contextmanager
def websockets_on_ipv6() -> Iterator[int]:
    """A python-websockets echo server on ::1."""
    server = websockets.sync.server.serve(websockets_echo, "::1", 0, family=socket.AF_INET6)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.socket.getsockname()[1]
    finally:
        server.shutdown()
        thread.join(10)


def test_a_dead_ipv6_address_gives_way_to_ipv4() -> None:
    """The name resolves to a dead IPv6 address and 127.0.0.1: IPv6 is tried
    first, IPv4 a quarter second later wins, long before the open timeout."""
    asked: list[tuple[str, int]] = []

    def resolver(host: str, port: int) -> list[Any]:
        asked.append((host, port))
        return [dead, "127.0.0.1"]

    with black_hole() as dead, websockets_server(websockets_echo) as port:
        with wsx.sync.connect(f"ws://dual.wsx.test:{port}/", resolver=resolver, open_timeout=5) as ws:
            ws.send("over IPv4")
            assert ws.recv(timeout=10) == "over IPv4"
    assert asked == [("dual.wsx.test", port)]


def test_an_async_resolver_runs_on_the_callers_loop() -> None:
    async def main(port: int, dead: tuple[str, int]) -> None:
        loop = asyncio.get_running_loop()
        ran_on: list[asyncio.AbstractEventLoop] = []

        async def resolver(host: str, port: int) -> list[Any]:
            ran_on.append(asyncio.get_running_loop())
            await asyncio.sleep(0)
            return [dead, ("127.0.0.1", port)]

        async with wsx.asyncio.connect(f"ws://dual.wsx.test:{port}/", resolver=resolver, open_timeout=5) as ws:
            await ws.send("async")
            assert await ws.recv() == "async"
        assert ran_on == [loop]

    with black_hole() as dead, websockets_server(websockets_echo) as port:
        asyncio.run(main(port, dead))


def test_what_the_resolver_raises_fails_the_attempt() -> None:
    def resolver(host: str, port: int) -> list[str]:
        raise LookupError(f"{host} is not in the directory")

    with pytest.raises(wsx.ConnectError, match="gone.wsx.test is not in the directory"):
        wsx.sync.connect("ws://gone.wsx.test/", resolver=resolver, open_timeout=5)
    with pytest.raises(wsx.ConnectError, match="not an IP address"):
        wsx.sync.connect("ws://bad.wsx.test/", resolver=lambda h, p: ["bad.wsx.test"], open_timeout=5)
    with pytest.raises(wsx.ConnectError, match="no addresses"):
        wsx.sync.connect("ws://none.wsx.test/", resolver=lambda h, p: [], open_timeout=5)
    with pytest.raises(TypeError, match="resolver"):
        wsx.sync.connect("ws://x.wsx.test/", resolver="127.0.0.1")  # type: ignore[arg-type]


def test_ipv6_loopback_as_client_and_as_server() -> None:
    # wsx's client against python-websockets on ::1.
    with websockets_on_ipv6() as port:
        with wsx.sync.connect(f"ws://[::1]:{port}/") as ws:
            ws.send("to websockets on ::1")
            assert ws.recv(timeout=10) == "to websockets on ::1"
    # wsx's server on ::1 for a python-websockets client.
    with wsx.sync.serve(wsx_echo, "::1", 0) as server:
        assert server.local_address[0] == "::1"
        with websockets.sync.client.connect(f"ws://[::1]:{server.port}/") as client:
            client.send("to wsx on ::1")
            assert client.recv(timeout=10) == "to wsx on ::1"
