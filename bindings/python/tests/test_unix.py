"""Unix domain sockets against python-websockets' own ``unix_serve`` and
``unix_connect``, both ways, in asyncio and in ``wsx.sync``; the socket
file's lifetime (a stale one refused or removed on request, removed at
close) and the addresses each side reports."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest
import websockets.asyncio.client
import websockets.asyncio.server
import websockets.sync.client
import websockets.sync.server

import wsx
import wsx.sync

pytestmark = pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="no Unix domain sockets here")


@pytest.fixture
def sock(tmp_path: Path) -> Iterator[str]:
    yield str(tmp_path / "ws.sock")


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 60))


def test_asyncio_wsx_server_websockets_client(sock: str) -> None:
    seen: list[Any] = []

    async def echo(ws: wsx.ServerConnection) -> None:
        seen.append((ws.remote_address, ws.request.path, ws.request.headers["Host"]))
        async for message in ws:
            await ws.send(message)

    async def main() -> None:
        async with wsx.unix_serve(echo, sock) as server:
            assert server.local_address == sock
            async with websockets.asyncio.client.unix_connect(sock, "ws://localhost/chat") as ws:
                await ws.send("over a socket file")
                assert await ws.recv() == "over a socket file"
        assert not os.path.exists(sock), "the socket file goes with the server"

    run(main())
    assert seen == [("", "/chat", "localhost")]


def test_asyncio_websockets_server_wsx_client(sock: str) -> None:
    seen: list[Any] = []

    async def echo(ws: Any) -> None:
        seen.append((ws.request.path, ws.request.headers["Host"]))
        async for message in ws:
            await ws.send(message)

    async def main() -> None:
        async with websockets.asyncio.server.unix_serve(echo, sock):
            async with wsx.unix_connect(sock) as ws:
                assert ws.remote_address == sock
                await ws.send(b"\x00" * 70000)
                assert await ws.recv() == b"\x00" * 70000
            async with wsx.unix_connect(sock, "ws://app.example/x?y=1") as ws:
                await ws.send("by uri")
                assert await ws.recv() == "by uri"

    run(main())
    assert seen == [("/", "localhost"), ("/x?y=1", "app.example")]


def test_sync_both_ways(sock: str) -> None:
    def wsx_echo(ws: wsx.sync.ServerConnection) -> None:
        assert ws.remote_address == ""
        for message in ws:
            ws.send(message)

    with wsx.sync.unix_serve(wsx_echo, sock) as server:
        assert server.local_address == sock and server.port == 0
        with websockets.sync.client.unix_connect(sock) as client:
            client.send("sync")
            assert client.recv(timeout=10) == "sync"
    assert not os.path.exists(sock)

    def websockets_echo(ws: Any) -> None:
        for message in ws:
            ws.send(message)

    with websockets.sync.server.unix_serve(websockets_echo, sock) as ws_server:
        thread = threading.Thread(target=ws_server.serve_forever, daemon=True)
        thread.start()
        with wsx.sync.unix_connect(sock, uri="ws://localhost/sync") as ws:
            ws.send("back")
            assert ws.recv(timeout=10) == "back"
        ws_server.shutdown()
        thread.join(10)


def test_a_stale_socket_file_is_refused_unless_asked_to_remove_it(sock: str) -> None:
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(sock)  # a crashed server's socket: bound, nobody accepts
    stale.close()
    with pytest.raises(wsx.WsxError, match="stale socket file"):
        wsx.sync.unix_serve(lambda ws: None, sock)
    with wsx.sync.unix_serve(lambda ws: ws.send("fresh"), sock, remove_stale_socket=True):
        with wsx.sync.unix_connect(sock) as ws:
            assert ws.recv(timeout=10) == "fresh"
        with pytest.raises(wsx.WsxError, match="another server is listening"):
            wsx.sync.unix_serve(lambda ws: None, sock, remove_stale_socket=True)
    assert not os.path.exists(sock)


def test_unix_connect_needs_a_path() -> None:
    with pytest.raises(TypeError, match="path"):
        wsx.sync.unix_connect(uri="ws://localhost/")
    with pytest.raises(wsx.ConnectError, match="unix:/nonexistent/ws.sock"):
        wsx.sync.unix_connect("/nonexistent/ws.sock", open_timeout=5)
