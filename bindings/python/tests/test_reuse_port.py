"""``serve(..., reuse_port=True)``: servers sharing one port with
``SO_REUSEPORT``, the kernel spreading clients over them. In asyncio a wsx
server and python-websockets' own server (``reuse_port`` passed on to
``create_server``) share a port; in ``wsx.sync`` two wsx servers do. Without
the option a taken port is an error saying to set it."""

from __future__ import annotations

import asyncio
import socket
import sys
from typing import Any

import pytest
import websockets.asyncio.client
import websockets.asyncio.server
import websockets.sync.client

import wsx
import wsx.sync

pytestmark = pytest.mark.skipif(
    not hasattr(socket, "SO_REUSEPORT") or sys.platform.startswith(("sunos", "cygwin")),
    reason="no SO_REUSEPORT here",
)

#: Clients per test: all landing on one of two sockets has odds of 2^-15.
CLIENTS = 16


def test_asyncio_a_wsx_and_a_websockets_server_share_a_port() -> None:
    async def wsx_side(ws: wsx.ServerConnection) -> None:
        await ws.send("wsx " + str(await ws.recv()))

    async def websockets_side(ws: Any) -> None:
        await ws.send("websockets " + str(await ws.recv()))

    async def main() -> list[str]:
        async with wsx.serve(wsx_side, "127.0.0.1", 0, reuse_port=True) as server:
            port = server.port
            async with websockets.asyncio.server.serve(websockets_side, "127.0.0.1", port, reuse_port=True):
                answers = []
                for i in range(CLIENTS):
                    async with websockets.asyncio.client.connect(f"ws://127.0.0.1:{port}/") as ws:
                        await ws.send(str(i))
                        answers.append(str(await ws.recv()))
                return answers

    answers = asyncio.run(asyncio.wait_for(main(), 60))
    assert sorted(a.split()[1] for a in answers) == sorted(str(i) for i in range(CLIENTS))
    assert {a.split()[0] for a in answers} == {"wsx", "websockets"}, answers


def test_sync_two_servers_share_a_port_and_a_third_without_the_option_is_refused() -> None:
    def named(name: str) -> Any:
        def handler(ws: wsx.sync.ServerConnection) -> None:
            ws.send(name)

        return handler

    with wsx.sync.serve(named("first"), "127.0.0.1", 0, reuse_port=True) as first:
        with wsx.sync.serve(named("second"), "127.0.0.1", first.port, reuse_port=True):
            seen = []
            for _ in range(CLIENTS):
                with websockets.sync.client.connect(f"ws://127.0.0.1:{first.port}/") as ws:
                    seen.append(ws.recv(timeout=60))
            assert set(seen) == {"first", "second"}, seen
            with pytest.raises(wsx.WsxError, match="set reuse_port"):
                wsx.sync.serve(named("third"), "127.0.0.1", first.port)
    with pytest.raises(ValueError, match="reuse_port"):
        wsx.sync.serve(named("unix"), unix_socket_path="/tmp/wsx-reuse-port.sock", reuse_port=True)
