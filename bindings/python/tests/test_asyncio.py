"""The asyncio API against the wsx server and a `websockets` asyncio server."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, AsyncIterator, Awaitable

import pytest
import websockets.asyncio.client
import websockets.asyncio.server
import websockets.exceptions

import wsx
import wsx.asyncio


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 120))  # type: ignore[arg-type]


async def wsx_echo(ws: wsx.asyncio.ServerConnection) -> None:
    async for message in ws:
        await ws.send(message)


async def websockets_echo(ws: Any) -> None:
    async for message in ws:
        await ws.send(message)


@contextlib.asynccontextmanager
async def echo_server(kind: str) -> AsyncIterator[str]:
    if kind == "wsx":
        async with wsx.asyncio.serve(wsx_echo, "127.0.0.1", 0) as server:
            yield f"ws://127.0.0.1:{server.port}/"
    else:
        async with websockets.asyncio.server.serve(websockets_echo, "127.0.0.1", 0, max_size=2**24) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            yield f"ws://127.0.0.1:{port}/"


KINDS = ["wsx", "websockets"]


@pytest.mark.parametrize("kind", KINDS)
def test_echo_text_and_binary(kind: str) -> None:
    async def main() -> None:
        async with echo_server(kind) as url, wsx.asyncio.connect(url) as ws:
            for message in ["hello", "", "ü" * 1000, b"", b"\x00\xff" * 40000, bytearray(b"ba"), "x" * (1 << 24)]:
                await ws.send(message)
                got = await ws.recv()
                assert got == (bytes(message) if isinstance(message, bytearray) else message)
                assert type(got) is (str if isinstance(message, str) else bytes)
            assert ws.response is not None and ws.response.status_code == 101
            assert ws.remote_address is not None and ws.remote_address[0] == "127.0.0.1"
        assert ws.close_code == 1000

    run(main())


@pytest.mark.parametrize("kind", KINDS)
def test_fragments_from_iterables_and_async_iterables(kind: str) -> None:
    async def pieces() -> AsyncIterator[bytes]:
        for piece in [b"a", b"", b"bc"]:
            yield piece

    async def main() -> None:
        async with echo_server(kind) as url, wsx.asyncio.connect(url) as ws:
            await ws.send(["hé", "llo", " ✓"])
            assert await ws.recv() == "héllo ✓"
            await ws.send(pieces())
            assert await ws.recv() == b"abc"
            await ws.send([b"h\xc3", b"\xa9"], text=True)
            assert await ws.recv() == "hé"
            with pytest.raises(TypeError):
                await ws.send([b"x", "y"])
            with pytest.raises(wsx.ConnectionClosed):
                await ws.recv()
        # Our 1011 went first; websockets answers an unfinished message with 1002.
        assert ws.close_code in (1011, 1002)

    run(main())


@pytest.mark.parametrize("kind", KINDS)
def test_await_connect_ping_and_close_code(kind: str) -> None:
    async def main() -> None:
        async with echo_server(kind) as url:
            ws = await wsx.asyncio.connect(url)
            pong = await ws.ping(b"abc")
            rtt = await pong
            assert rtt > 0 and ws.latency > 0
            await ws.close(4003, "async bye")
            assert ws.close_code == 4003
            with pytest.raises(wsx.ConnectionClosed):
                await ws.send("late")
            with pytest.raises(wsx.ConnectionClosed):
                await ws.recv()

    run(main())


def test_async_iteration_and_server_close_code() -> None:
    async def handler(ws: wsx.asyncio.ServerConnection) -> None:
        assert ws.request is not None and ws.request.path == "/feed"
        for i in range(5):
            await ws.send(f"item {i}")
        await ws.close(1000, "end of feed")

    async def main() -> None:
        async with wsx.asyncio.serve(handler, "127.0.0.1", 0) as server:
            async with wsx.asyncio.connect(f"ws://127.0.0.1:{server.port}/feed") as ws:
                got = [m async for m in ws]
                assert got == [f"item {i}" for i in range(5)]
                assert (ws.close_code, ws.close_reason) == (1000, "end of feed")

    run(main())


def test_server_sees_client_close_code() -> None:
    async def main() -> None:
        closed: asyncio.Future[tuple[int, str]] = asyncio.get_running_loop().create_future()

        async def handler(ws: wsx.asyncio.ServerConnection) -> None:
            try:
                await ws.recv()
            except wsx.ConnectionClosedError as exc:
                closed.set_result((exc.code, exc.reason))

        async with wsx.asyncio.serve(handler, "127.0.0.1", 0) as server:
            async with websockets.asyncio.client.connect(f"ws://127.0.0.1:{server.port}/") as ws:
                await ws.close(4004, "client bye")
            assert await closed == (4004, "client bye")

    run(main())


def test_subprotocols_and_headers_with_websockets_client() -> None:
    async def handler(ws: wsx.asyncio.ServerConnection) -> None:
        assert ws.request is not None
        await ws.send(f"{ws.subprotocol} {ws.request.headers['X-Api-Key']}")

    async def main() -> None:
        async with wsx.asyncio.serve(handler, "127.0.0.1", 0, subprotocols=["v2", "v1"]) as server:
            url = f"ws://127.0.0.1:{server.port}/"
            async with websockets.asyncio.client.connect(
                url, subprotocols=["v1"], additional_headers={"X-Api-Key": "k1"}  # type: ignore[list-item]
            ) as ws:
                assert ws.subprotocol == "v1"
                assert await ws.recv() == "v1 k1"
            async with wsx.asyncio.connect(url, subprotocols=["v2"], additional_headers={"X-Api-Key": "k2"}) as ws2:
                assert ws2.subprotocol == "v2"
                assert await ws2.recv() == "v2 k2"

    run(main())


def test_connect_errors() -> None:
    async def main() -> None:
        with pytest.raises(wsx.InvalidURI):
            await wsx.asyncio.connect("http://example.com/")
        async with wsx.asyncio.serve(wsx_echo, "127.0.0.1", 0, origins=["https://ok.example"]) as server:
            port = server.port
            with pytest.raises(wsx.InvalidStatus) as info:
                await wsx.asyncio.connect(f"ws://127.0.0.1:{port}/", origin="https://bad.example")
            assert info.value.status == 403
        with pytest.raises(wsx.ConnectError):
            await wsx.asyncio.connect(f"ws://127.0.0.1:{port}/")

    run(main())


def test_cancelled_recv_loses_nothing() -> None:
    async def main() -> None:
        async with echo_server("wsx") as url, wsx.asyncio.connect(url) as ws:
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(ws.recv(), 0.1)
            await ws.send("after cancel")
            assert await asyncio.wait_for(ws.recv(), 10) == "after cancel"

    run(main())


def test_handler_exception_closes_with_1011() -> None:
    async def handler(ws: wsx.asyncio.ServerConnection) -> None:
        raise RuntimeError("handler bug")

    async def main() -> None:
        async with wsx.asyncio.serve(handler, "127.0.0.1", 0) as server:
            async with wsx.asyncio.connect(f"ws://127.0.0.1:{server.port}/") as ws:
                with pytest.raises(wsx.ConnectionClosedError) as info:
                    await ws.recv()
                assert info.value.code == 1011

    run(main())


@pytest.mark.parametrize("kind", KINDS)
def test_many_connections_under_load(kind: str) -> None:
    connections, messages = 100, 1000

    async def client(url: str, n: int) -> None:
        async with wsx.asyncio.connect(url) as ws:
            async def sender() -> None:
                for i in range(messages):
                    await ws.send(f"{n}:{i}")

            task = asyncio.ensure_future(sender())
            for i in range(messages):
                assert await ws.recv() == f"{n}:{i}"
            await task

    async def main() -> None:
        async with echo_server(kind) as url:
            await asyncio.gather(*(client(url, n) for n in range(connections)))

    if kind == "websockets":
        connections = 20  # the pure-Python server is the bottleneck here
    run(main())


def test_serve_forever_cancelled_closes_server() -> None:
    async def main() -> None:
        server = await wsx.asyncio.serve(wsx_echo, "127.0.0.1", 0)
        ws = await wsx.asyncio.connect(f"ws://127.0.0.1:{server.port}/")
        task = asyncio.ensure_future(server.serve_forever())
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        with pytest.raises(wsx.ConnectionClosedOK) as info:
            await ws.recv()
        assert info.value.code == 1001
        await server.wait_closed()

    run(main())




def test_send_waits_under_backpressure() -> None:
    from conftest import silent_server

    async def main(port: int) -> None:
        ws = await wsx.asyncio.connect(f"ws://127.0.0.1:{port}/", close_timeout=0.5)
        sent = 0

        async def flood() -> None:
            nonlocal sent
            for _ in range(48):
                await ws.send(b"\x00" * (1 << 20))
                sent += 1

        task = asyncio.ensure_future(flood())
        done, _ = await asyncio.wait([task], timeout=2)
        assert not done and sent < 48  # suspended in send, the loop still running
        await ws.close()
        with pytest.raises(wsx.ConnectionClosed):
            await task

    with silent_server() as port:
        run(main(port))
