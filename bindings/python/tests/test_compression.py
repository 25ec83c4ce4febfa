"""permessage-deflate (RFC 7692): negotiation, round trips with `websockets`
peers (which negotiate it by default) and the wsx server, both directions,
and the per-message opt-out, checked by the bytes that cross the wire."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import websockets.asyncio.client
import websockets.sync.client

import wsx
import wsx.asyncio

from conftest import relay, websockets_echo, websockets_server, wsx_echo, wsx_server

BIG_TEXT = "all work and no play makes jack a dull boy. " * 4000  # 176 KB, compresses ~1000x
BIG_BINARY = bytes(range(256)) * 1000


def extensions(ws: Any) -> str:
    return str(ws.response.headers.get("Sec-WebSocket-Extensions") or "")


def test_client_negotiates_deflate_with_websockets_and_round_trips() -> None:
    with websockets_server(websockets_echo) as port:
        with wsx.sync.connect(f"ws://127.0.0.1:{port}/") as ws:
            assert extensions(ws).startswith("permessage-deflate")
            for message in [BIG_TEXT, BIG_BINARY, "short", b"", "é" * 100000]:
                ws.send(message)
                assert ws.recv(timeout=20) == message


def test_compression_none_offers_nothing() -> None:
    with websockets_server(websockets_echo) as port:
        with wsx.sync.connect(f"ws://127.0.0.1:{port}/", compression=None) as ws:
            assert "Sec-WebSocket-Extensions" not in ws.response.headers  # type: ignore[union-attr]
            ws.send(BIG_TEXT)
            assert ws.recv(timeout=20) == BIG_TEXT


def test_wsx_server_declines_deflate_by_default() -> None:
    with wsx_server(wsx_echo) as server:
        with websockets.sync.client.connect(f"ws://127.0.0.1:{server.port}/") as client:
            assert client.response is not None
            assert "Sec-WebSocket-Extensions" not in client.response.headers
            client.send(BIG_TEXT)
            assert client.recv(timeout=20) == BIG_TEXT


def test_wsx_server_with_deflate_serves_a_websockets_client() -> None:
    with wsx_server(wsx_echo, compression="deflate", max_size=2**24) as server:
        with websockets.sync.client.connect(f"ws://127.0.0.1:{server.port}/", max_size=2**24) as client:
            assert client.response is not None
            assert client.response.headers["Sec-WebSocket-Extensions"].startswith("permessage-deflate")
            for message in [BIG_TEXT, BIG_BINARY, "short", "x" * (1 << 23)]:
                client.send(message)
                assert client.recv(timeout=20) == message


@pytest.mark.parametrize("server_kind", ["wsx", "websockets"])
def test_bytes_on_the_wire_show_compression_and_the_opt_out(server_kind: str) -> None:
    def check(port: int) -> None:
        with relay(port) as r, wsx.sync.connect(f"ws://127.0.0.1:{r.port}/") as ws:
            assert extensions(ws).startswith("permessage-deflate")
            before = r.to_server
            ws.send(BIG_TEXT)
            assert ws.recv(timeout=20) == BIG_TEXT
            compressed = r.to_server - before
            before = r.to_server
            ws.send(BIG_TEXT, compress=False)
            assert ws.recv(timeout=20) == BIG_TEXT
            plain = r.to_server - before
            assert compressed < len(BIG_TEXT) // 20
            assert plain >= len(BIG_TEXT)
            if server_kind == "wsx":
                # The wsx server compresses its echo too.
                assert r.to_client < len(BIG_TEXT) // 5

    if server_kind == "wsx":
        with wsx_server(wsx_echo, compression="deflate") as server:
            check(server.port)
    else:
        with websockets_server(websockets_echo) as port:
            check(port)


def test_deflate_parameters_are_offered_and_honoured() -> None:
    settings = wsx.Deflate(client_max_window_bits=10, server_no_context_takeover=True, level=9, threshold=0)
    with websockets_server(websockets_echo) as port:
        with wsx.sync.connect(f"ws://127.0.0.1:{port}/", compression=settings) as ws:
            answer = extensions(ws)
            assert "server_no_context_takeover" in answer
            assert "client_max_window_bits=10" in answer
            for message in [BIG_TEXT, "a", BIG_BINARY, BIG_TEXT]:
                ws.send(message)
                assert ws.recv(timeout=20) == message


def test_wsx_server_imposes_its_parameters_on_a_websockets_client() -> None:
    settings = wsx.Deflate(client_no_context_takeover=True, server_max_window_bits=12)
    with wsx_server(wsx_echo, compression=settings) as server:
        with websockets.sync.client.connect(f"ws://127.0.0.1:{server.port}/") as client:
            assert client.response is not None
            answer = client.response.headers["Sec-WebSocket-Extensions"]
            assert "client_no_context_takeover" in answer and "server_max_window_bits=12" in answer
            for message in [BIG_TEXT, BIG_TEXT, b"\x00" * 70000]:
                client.send(message)
                assert client.recv(timeout=20) == message


def test_wsx_to_wsx_with_deflate() -> None:
    seen: list[str] = []

    def handler(ws: wsx.sync.ServerConnection) -> None:
        assert ws.request is not None
        seen.append(ws.request.headers["Sec-WebSocket-Extensions"])
        wsx_echo(ws)

    with wsx_server(handler, compression=wsx.Deflate()) as server:
        with wsx.sync.connect(f"ws://127.0.0.1:{server.port}/") as ws:
            assert extensions(ws).startswith("permessage-deflate")
            for message in [BIG_TEXT, BIG_BINARY]:
                ws.send(message)
                assert ws.recv(timeout=20) == message
                ws.send(message, compress=False)
                assert ws.recv(timeout=20) == message
    assert seen and seen[0].startswith("permessage-deflate")


def test_asyncio_deflate_both_ways_and_opt_out() -> None:
    async def wsx_server_side(ws: wsx.asyncio.ServerConnection) -> None:
        async for message in ws:
            await ws.send(message, compress=len(message) % 2 == 0)

    async def main() -> None:
        async with wsx.asyncio.serve(wsx_server_side, "127.0.0.1", 0, compression="deflate") as server:
            url = f"ws://127.0.0.1:{server.port}/"
            async with wsx.asyncio.connect(url) as ws:
                assert extensions(ws).startswith("permessage-deflate")
                for message in [BIG_TEXT, BIG_TEXT + "!", BIG_BINARY]:
                    await ws.send(message, compress=False)
                    assert await ws.recv() == message
                    await ws.send(message)
                    assert await ws.recv() == message
            # A websockets asyncio client negotiates deflate with it too.
            async with websockets.asyncio.client.connect(url) as client:
                assert client.response is not None
                assert client.response.headers["Sec-WebSocket-Extensions"].startswith("permessage-deflate")
                await client.send(BIG_TEXT)
                assert await client.recv() == BIG_TEXT

    asyncio.run(asyncio.wait_for(main(), 60))


@pytest.mark.parametrize(
    "kwargs", [{"client_max_window_bits": 7}, {"server_max_window_bits": 16}, {"level": 10}]
)
def test_invalid_deflate_settings_are_value_errors(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="must be"):
        wsx.Deflate(**kwargs)


def test_unknown_compression_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="compression"):
        wsx.sync.connect("ws://127.0.0.1:1/", compression="gzip")
    with pytest.raises(ValueError, match="compression"):
        wsx.sync.serve(wsx_echo, compression="zstd")


def test_deflate_settings_read_back() -> None:
    d = wsx.Deflate(client_max_window_bits=9, threshold=5)
    assert (d.client_max_window_bits, d.server_max_window_bits, d.level, d.threshold) == (9, 15, 6, 5)
    assert not d.client_no_context_takeover and not d.server_no_context_takeover
    assert d == wsx.Deflate(client_max_window_bits=9, threshold=5)
    assert "client_max_window_bits=9" in repr(d)


def test_shared_compressor_with_websockets_clients() -> None:
    """A wsx server with the shared compressor asks every client for
    server_no_context_takeover (RFC 7692 lets a server do so unasked) and two
    websockets clients, messages interleaved, get every echo intact."""
    settings = wsx.Deflate(shared_compressor=True, client_max_window_bits=10)
    assert settings.shared_compressor and "shared_compressor=True" in repr(settings)
    with wsx_server(wsx_echo, compression=settings) as server:
        url = f"ws://127.0.0.1:{server.port}/"
        with websockets.sync.client.connect(url) as a, websockets.sync.client.connect(url) as b:
            for client in (a, b):
                assert client.response is not None
                answer = client.response.headers["Sec-WebSocket-Extensions"]
                assert answer == "permessage-deflate; server_no_context_takeover; client_max_window_bits=10"
            for message in [BIG_TEXT, BIG_BINARY, BIG_TEXT + "!"]:
                a.send(message)
                b.send(message)
                assert a.recv(timeout=20) == message
                assert b.recv(timeout=20) == message


def test_shared_compressor_is_a_server_setting() -> None:
    with pytest.raises(ValueError, match="shared_compressor is a server setting"):
        wsx.sync.connect("ws://127.0.0.1:1/", compression=wsx.Deflate(shared_compressor=True))
    with pytest.raises(ValueError, match="shared_compressor needs server_max_window_bits"):
        wsx.Deflate(shared_compressor=True, server_max_window_bits=8)
