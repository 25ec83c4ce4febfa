"""Graceful shutdown (the drain): the chosen close code and reason reach the
clients (a `websockets` client among them), handshakes meanwhile get 503,
and what does not answer is dropped at the deadline."""

from __future__ import annotations

import asyncio
import socket
import threading

import pytest
import websockets.sync.client
from websockets.exceptions import ConnectionClosed as WebsocketsClosed

import wsx

from conftest import wsx_echo

HANDSHAKE = (
    b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


def silent_peer(port: int) -> socket.socket:
    """A client that completes the handshake and never answers a close."""
    peer = socket.create_connection(("127.0.0.1", port), timeout=10)
    peer.sendall(HANDSHAKE)
    assert peer.recv(12) == b"HTTP/1.1 101"
    return peer


def test_sync_drain_sends_the_code_and_refuses_handshakes_with_503() -> None:
    server = wsx.sync.serve(wsx_echo, "127.0.0.1", 0)
    url = f"ws://127.0.0.1:{server.port}/"
    held = silent_peer(server.port)
    with websockets.sync.client.connect(url) as peer:
        with pytest.raises(wsx.InvalidArgument):
            server.shutdown(code=1006)
        done = threading.Thread(
            target=server.shutdown, kwargs={"code": 1012, "reason": "back soon", "timeout": 2}
        )
        done.start()
        with pytest.raises(WebsocketsClosed) as info:
            peer.recv(timeout=10)
        assert info.value.rcvd is not None
        assert (info.value.rcvd.code, info.value.rcvd.reason) == (1012, "back soon")
        # The silent peer holds the drain open: a new handshake gets 503.
        with pytest.raises(wsx.InvalidStatus) as refused:
            wsx.sync.connect(url)
        assert refused.value.response.status_code == 503
    done.join(20)
    assert not done.is_alive()
    held.close()
    with pytest.raises(wsx.ConnectError):
        wsx.sync.connect(url)


def test_asyncio_close_with_a_code() -> None:
    async def handler(ws: wsx.ServerConnection) -> None:
        async for message in ws:
            await ws.send(message)

    async def main() -> None:
        async with wsx.serve(handler, "127.0.0.1", 0) as server:
            port = server.port
            async with wsx.connect(f"ws://127.0.0.1:{port}/") as ws:
                await ws.send("hi")
                assert await ws.recv() == "hi"
                server.close(code=1012, reason="restarting")
                with pytest.raises(wsx.ConnectionClosed) as info:
                    await ws.recv()
                assert info.value.rcvd is not None
                assert (info.value.rcvd.code, info.value.rcvd.reason) == (1012, "restarting")
            await server.wait_closed()

    asyncio.run(main())
