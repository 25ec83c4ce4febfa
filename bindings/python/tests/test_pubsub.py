"""Publish/subscribe on a wsx server: connections subscribe to topics, the
server publishes to all of a topic's subscribers at once (sync and asyncio),
and the slow-subscriber policy."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from typing import Any, Callable

import pytest
import websockets.sync.client

import wsx
import wsx.asyncio

from conftest import wsx_server


def wait_for(check: Callable[[], bool], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.01)


class Rooms:
    """A chat server handler: the path names the room; each message goes to
    the rest of the room; "/topics" answers the connection's topics."""

    def __init__(self) -> None:
        self.server: wsx.sync.Server | None = None
        self.counts: list[int] = []

    def __call__(self, ws: wsx.sync.ServerConnection) -> None:
        assert ws.request is not None and self.server is not None
        room = ws.request.path.strip("/")
        assert ws.subscribe(room) is True
        assert ws.subscribe(room) is False
        ws.send("joined")
        for message in ws:
            if message == "/topics":
                ws.send(",".join(ws.topics))
            elif message == "/extra":
                ws.subscribe("extra")
                ws.send(",".join(ws.topics))
            elif message == "/leave":
                ws.send(f"{ws.unsubscribe(room)} {ws.unsubscribe(room)}")
            else:
                self.counts.append(self.server.publish(room, message, exclude=ws))


def test_publish_reaches_the_topic_but_not_the_publisher_or_other_topics() -> None:
    rooms = Rooms()
    with wsx_server(rooms) as server:
        rooms.server = server
        url = f"ws://127.0.0.1:{server.port}"
        a = [wsx.sync.connect(f"{url}/a") for _ in range(3)]
        b = wsx.sync.connect(f"{url}/b")
        try:
            for ws in [*a, b]:
                assert ws.recv(timeout=20) == "joined"
            assert server.subscribers("a") == 3 and server.subscribers("b") == 1
            a[0].send("hello a")
            assert [ws.recv(timeout=20) for ws in a[1:]] == ["hello a", "hello a"]
            wait_for(lambda: rooms.counts == [2], "the publish count is recorded")
            # Published from outside a handler, binary, to everyone in "a".
            assert server.publish("a", b"\x00\x01") == 3
            assert [ws.recv(timeout=20) for ws in a] == [b"\x00\x01"] * 3
            # Neither the publisher nor room "b" got "hello a".
            b.send("hello b")
            with pytest.raises(TimeoutError):
                b.recv(timeout=0.3)
            with pytest.raises(TimeoutError):
                a[0].recv(timeout=0.3)
            assert server.publish("nobody", "x") == 0
            a[2].send("/extra")
            assert a[2].recv(timeout=20) == "a,extra"
            a[1].send("/leave")
            assert a[1].recv(timeout=20) == "True False"
            assert server.subscribers("a") == 2
            a[0].close()
            wait_for(lambda: server.subscribers("a") == 1, "a closed connection leaves its topics")
            assert server.publish("extra", "only a[2]") == 1
            assert a[2].recv(timeout=20) == "only a[2]"
        finally:
            for ws in [*a, b]:
                ws.close()


def test_publish_to_websockets_clients_with_text_and_bytes_like() -> None:
    joined = threading.Semaphore(0)

    def handler(ws: wsx.sync.ServerConnection) -> None:
        ws.subscribe("news")
        joined.release()
        for _ in ws:
            pass

    with wsx_server(handler) as server:
        url = f"ws://127.0.0.1:{server.port}/"
        with contextlib.ExitStack() as stack:
            clients = [stack.enter_context(websockets.sync.client.connect(url)) for _ in range(4)]
            for _ in clients:
                assert joined.acquire(timeout=20)
            for message in ["text é", b"bytes", bytearray(b"array"), memoryview(b"view")]:
                assert server.publish("news", message) == 4
            for c in clients:
                assert [c.recv(timeout=20) for _ in range(4)] == ["text é", b"bytes", b"array", b"view"]
            with pytest.raises(TypeError):
                server.publish("news", 42)  # type: ignore[arg-type]


def flood_until_slow(server: wsx.sync.Server, count_before: int) -> int:
    """Publishes 1 MiB messages to "t" until the one subscriber is no longer
    reached; returns how many were published."""
    chunk = bytes(range(256)) * 4096
    for i in range(400):
        if server.publish("t", i.to_bytes(4, "big") + chunk) < count_before:
            return i + 1
    pytest.fail("400 MiB published without the subscriber falling behind")


@pytest.mark.parametrize("policy", ["skip", "drop"])
def test_slow_subscriber_policy(policy: Any) -> None:
    subscribed = threading.Event()

    def handler(ws: wsx.sync.ServerConnection) -> None:
        ws.subscribe("t")
        subscribed.set()
        for _ in ws:
            pass

    with wsx_server(handler, slow_subscriber=policy) as server:
        # The client reads one message, then its socket stays unread.
        with wsx.sync.connect(f"ws://127.0.0.1:{server.port}/", max_queue=1, compression=None) as ws:
            assert subscribed.wait(20)
            published = flood_until_slow(server, 1)
            if policy == "drop":
                with pytest.raises(wsx.ConnectionClosedError):
                    while True:
                        ws.recv(timeout=20)
                wait_for(lambda: server.subscribers("t") == 0, "the dropped subscriber left")
            else:
                assert server.subscribers("t") == 1
                # Every message but the last (skipped) one arrives, in order.
                seen = [int.from_bytes(ws.recv(timeout=20)[:4], "big") for _ in range(published - 1)]
                assert seen == list(range(published - 1))
                with pytest.raises(TimeoutError):
                    ws.recv(timeout=0.3)
                # Caught up: it is reached again.
                assert server.publish("t", "again") == 1


def test_invalid_slow_subscriber_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="slow_subscriber"):
        wsx.sync.serve(lambda ws: None, slow_subscriber="kick")  # type: ignore[arg-type]


def test_asyncio_server_publish_and_subscribe() -> None:
    async def handler(ws: wsx.asyncio.ServerConnection) -> None:
        assert ws.subscribe("room")
        assert ws.topics == ["room"]
        async for message in ws:
            server.publish("room", message, exclude=ws)

    async def main() -> None:
        nonlocal server
        async with wsx.asyncio.serve(handler, "127.0.0.1", 0) as srv:
            server = srv
            url = f"ws://127.0.0.1:{srv.port}/"
            clients = [await wsx.asyncio.connect(url) for _ in range(5)]
            while srv.subscribers("room") < 5:
                await asyncio.sleep(0.01)
            for i, c in enumerate(clients):
                await c.send(f"from {i}")
                got = await asyncio.gather(*(o.recv() for o in clients if o is not c))
                assert got == [f"from {i}"] * 4
            assert srv.publish("room", b"all") == 5
            assert await asyncio.gather(*(c.recv() for c in clients)) == [b"all"] * 5
            for c in clients:
                await c.close()

    server: Any = None
    asyncio.run(asyncio.wait_for(main(), 60))
