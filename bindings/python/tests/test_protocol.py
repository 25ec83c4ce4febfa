"""wsx.protocol: the sans-I/O protocol objects, driven by asyncio streams
against websockets peers, and against each other in memory (whole, one byte
at a time), with injected time."""

from __future__ import annotations

import asyncio
from typing import Callable, Optional

import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve

import wsx
from wsx.protocol import (
    ClientProtocol,
    Close,
    Error,
    Event,
    Fragment,
    Message,
    Open,
    Ping,
    Pong,
    Protocol,
    Request,
    ServerProtocol,
)

BIG = 2**20


async def flush(protocol: Protocol, writer: asyncio.StreamWriter) -> None:
    for chunk in protocol.data_to_send():
        if chunk:
            writer.write(chunk)
        elif writer.can_write_eof():
            writer.write_eof()  # the protocol's half-close
    await writer.drain()


async def drive(
    protocol: Protocol,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    on_event: Callable[[Protocol, Event], None],
) -> list[Event]:
    """Runs the protocol over the streams until its Close event and the
    peer's EOF; returns every event."""
    loop = asyncio.get_running_loop()
    events: list[Event] = []
    protocol.tick(loop.time())
    await flush(protocol, writer)
    eof = False
    while not eof:
        deadline = protocol.next_deadline()
        timeout = 10.0 if deadline is None else max(0.0, min(10.0, deadline - loop.time()))
        try:
            data = await asyncio.wait_for(reader.read(65536), timeout)
        except asyncio.TimeoutError:
            data = None
        if data:
            protocol.receive_data(data)
        elif data == b"":
            protocol.receive_eof()
            eof = True
        protocol.tick(loop.time())
        for event in protocol.events_received():
            events.append(event)
            on_event(protocol, event)
        await flush(protocol, writer)
        if any(isinstance(e, Close) for e in events) and eof:
            break
    writer.close()
    return events


def echo(protocol: Protocol, event: Event) -> None:
    if isinstance(event, Request):
        assert isinstance(protocol, ServerProtocol)
        if event.path == "/refuse":
            protocol.reject(403, "not here")
        else:
            protocol.accept(headers=[("X-Sansio", "yes")])
    elif isinstance(event, Message):
        if isinstance(event.data, str):
            protocol.send_text(event.data)
        else:
            protocol.send_binary(event.data)
    elif isinstance(event, Fragment):
        if event.text:
            protocol.send_text(event.data, fin=event.fin)
        else:
            protocol.send_binary(event.data, fin=event.fin)


@pytest.mark.parametrize("compression", [True, False])
def test_client_protocol_against_a_websockets_server(compression: bool) -> None:
    async def handler(ws):  # type: ignore[no-untyped-def]
        await ws.send("h\u00e9llo")
        assert await ws.recv() == "h\u00e9llo"
        await ws.send(b"\x00\x01\xff")
        assert await ws.recv() == b"\x00\x01\xff"
        await ws.send(["frag", "ment", "ed"])
        assert await ws.recv() == "fragmented"
        big = bytes(range(256)) * (BIG // 256)
        await ws.send(big)
        assert await ws.recv() == big
        await ws.close(4001, "bye")

    async def main() -> list[Event]:
        async with serve(handler, "127.0.0.1", 0, max_size=2 * BIG) as server:
            port = server.sockets[0].getsockname()[1]
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            protocol = ClientProtocol(
                f"ws://127.0.0.1:{port}/", compression=wsx.Deflate() if compression else None
            )
            assert protocol.state == "connecting"
            return await drive(protocol, reader, writer, echo)

    events = asyncio.run(main())
    assert events[0] == Open(subprotocol=None, deflate=compression)
    messages = [e.data for e in events if isinstance(e, Message)]
    assert messages[:3] == ["h\u00e9llo", b"\x00\x01\xff", "fragmented"]
    assert len(messages[3]) == BIG
    assert events[-1] == Close(4001, "bye", "remote", True)


def test_server_protocol_with_a_websockets_client() -> None:
    async def main() -> tuple[list[Event], Optional[int], dict[str, str]]:
        done: asyncio.Future[list[Event]] = asyncio.get_running_loop().create_future()

        async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            protocol = ServerProtocol(compression=wsx.Deflate(), subprotocols=["chat"])
            done.set_result(await drive(protocol, reader, writer, echo))

        server = await asyncio.start_server(on_connection, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}/path?q=1", subprotocols=["chat"]) as ws:
            headers = {
                name: ws.response.headers[name]
                for name in ("X-Sansio", "Sec-WebSocket-Extensions", "Sec-WebSocket-Protocol")
            }
            await ws.send("text")
            assert await ws.recv() == "text"
            await ws.send(b"\x00" * 70000)
            assert await ws.recv() == b"\x00" * 70000
            await ws.send([b"a", b"b", b"c"])
            assert await ws.recv() == b"abc"
            await ws.close(4002, "client done")
        events = await asyncio.wait_for(done, 10)
        server.close()
        await server.wait_closed()
        return events, ws.close_code, headers

    events, code, headers = asyncio.run(main())
    assert code == 4002
    assert headers["X-Sansio"] == "yes"
    assert "permessage-deflate" in headers["Sec-WebSocket-Extensions"]
    assert headers["Sec-WebSocket-Protocol"] == "chat"
    request = events[0]
    assert isinstance(request, Request) and request.path == "/path?q=1"
    assert events[1] == Open(subprotocol="chat", deflate=True)
    assert events[-1] == Close(4002, "client done", "remote", True)


def test_server_protocol_refuses() -> None:
    async def main() -> int:
        async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await drive(ServerProtocol(), reader, writer, echo)

        server = await asyncio.start_server(on_connection, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        with pytest.raises(Exception) as info:
            async with connect(f"ws://127.0.0.1:{port}/refuse"):
                pass
        server.close()
        return info.value.response.status_code  # type: ignore[attr-defined, no-any-return]

    assert asyncio.run(main()) == 403


def pair(**server_options: object) -> tuple[ClientProtocol, ServerProtocol]:
    client = ClientProtocol("ws://example.com/", subprotocols=["a", "b"])
    server = ServerProtocol(subprotocols=["b"], **server_options)  # type: ignore[arg-type]
    for chunk in client.data_to_send():
        server.receive_data(chunk)
    [request] = server.events_received()
    assert isinstance(request, Request)
    server.accept()
    assert server.events_received() == [Open("b", False)]
    for chunk in server.data_to_send():
        client.receive_data(chunk)
    assert client.events_received() == [Open("b", False)]
    assert client.subprotocol == "b" and client.state == "open"
    return client, server


@pytest.mark.parametrize("bytewise", [False, True])
def test_in_memory_pair_whole_and_byte_by_byte(bytewise: bool) -> None:
    client, server = pair()
    client.send_text("one")
    client.send_binary(b"two", fin=False)
    client.send_ping(b"p")
    client.send_binary(b"three", fin=True)
    client.send_pong(b"")
    client.send_close(4000, "done")
    with pytest.raises(wsx.ConnectionClosedError):
        client.send_text("late")
    wire = b"".join(client.data_to_send())
    if bytewise:
        for i in range(len(wire)):
            server.receive_data(wire[i : i + 1])
    else:
        server.receive_data(wire)
    events = server.events_received()
    assert events == [
        Message("one"),
        Ping(b"p"),
        Message(b"twothree"),
        Pong(b""),
        Close(4000, "done", "remote", True),
    ]
    assert server.close_code == 4000 and server.state == "closed"
    out = server.data_to_send()
    assert out[-1] == b"", "the server half-closes after its close reply"
    client.receive_data(b"".join(out))
    pong, close = client.events_received()
    assert pong == Pong(b"p")
    assert close == Close(4000, "", "local", True)
    assert client.close_expected()


def test_streaming_fragments_and_protocol_error() -> None:
    client = ClientProtocol("ws://example.com/", streaming=True, compression=None)
    server = ServerProtocol()
    server.receive_data(b"".join(client.data_to_send()))
    server.events_received()
    server.accept()
    client.receive_data(b"".join(server.data_to_send()))
    server.events_received()
    server.send_text("abc", fin=False)
    server.send_text("def")
    client.receive_data(b"".join(server.data_to_send()))
    events = client.events_received()
    assert events[0] == Open(None, False)
    assert [(e.data, e.fin) for e in events[1:] if isinstance(e, Fragment)] == [(b"abc", False), (b"def", True)]
    # An unmasked frame from a client breaks the protocol: 1002.
    server.receive_data(b"\x81\x01x")
    error, close = server.events_received()
    assert isinstance(error, Error) and error.kind == "protocol"
    assert isinstance(close, Close) and close.code == 1002 and close.origin == "local"


def test_injected_time_drives_keepalive_and_timeouts() -> None:
    client = ClientProtocol("ws://example.com/", compression=None, ping_interval=1.0, ping_timeout=0.5)
    server = ServerProtocol()
    server.receive_data(b"".join(client.data_to_send()))
    server.events_received()
    server.accept()
    client.receive_data(b"".join(server.data_to_send()))
    client.tick(100.0)
    client.events_received()
    assert client.next_deadline() == pytest.approx(101.0)
    client.tick(101.0)
    ping = b"".join(client.data_to_send())
    assert ping[0] == 0x89, "a ping"
    client.tick(101.5)
    error, close = client.events_received()
    assert isinstance(error, Error) and error.kind == "timeout"
    assert close == Close(1006, "", "transport", False)
    # An unanswered handshake times out too.
    lonely = ClientProtocol("ws://example.com/", open_timeout=2.0)
    lonely.tick(0.0)
    lonely.tick(2.0)
    assert [type(e) for e in lonely.events_received()] == [Error, Close]


def test_refusal_carries_the_response() -> None:
    client = ClientProtocol("ws://example.com/")
    server = ServerProtocol()
    server.receive_data(b"".join(client.data_to_send()))
    server.events_received()
    server.reject(403, "not here")
    client.receive_data(b"".join(server.data_to_send()))
    error, close = client.events_received()
    assert isinstance(error, Error) and error.kind == "handshake" and error.status == 403
    assert ("Content-Length", "8") in error.headers
    assert error.body == b"not here"
    assert close == Close(1006, "", "transport", False)


@pytest.mark.parametrize(
    "options, words",
    [
        ({"max_size": 0}, "max_message_size must be more than 0"),
        ({"close_timeout": 0}, "close_timeout must be more than 0 ms"),
        ({"open_timeout": 0}, "handshake_timeout must be more than 0 ms"),
        ({"ping_interval": 0}, "keepalive.interval must be more than 0 ms"),
        ({"ping_timeout": 0}, "keepalive.timeout must be more than 0 ms"),
        ({"subprotocols": ["bad proto"]}, "is not an HTTP token"),
        ({"headers": [("X-Test", "a\r\nb")]}, "contains CR, LF"),
        ({"origin": "https://a\r\nX: 1"}, "contains CR, LF"),
    ],
)
def test_options_are_checked_as_connect_checks_them(options: dict, words: str) -> None:
    with pytest.raises(wsx.InvalidArgument, match=words):
        ClientProtocol("ws://example.com/", **options)


def test_defaults_are_the_cores() -> None:
    """Keepalive is on by default, as for connect and serve (and the C and C# engines)."""
    defaults = wsx._wsx.defaults()
    client, server = pair()
    client.tick(100.0)
    assert client.next_deadline() == pytest.approx(100.0 + defaults.ping_interval)
    server.tick(100.0)
    assert server.next_deadline() == pytest.approx(100.0 + defaults.ping_interval)


def test_usable_from_another_thread() -> None:
    """A protocol object may move between threads (an executor, say), as
    websockets' does: one call at a time, from whichever thread."""
    import concurrent.futures

    client = ClientProtocol("ws://example.com/")
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        request = pool.submit(client.data_to_send).result()
    assert request and request[0].startswith(b"GET / HTTP/1.1\r\n")
