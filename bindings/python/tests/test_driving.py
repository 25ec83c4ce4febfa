"""The blocking API's waits drive the shared native loop on the waiting
thread (leader/follower), a running asyncio loop drives it from its own
thread, and the background thread drives it while nobody does: the peer's pings are answered and a message sent is written while the
application is not inside a wsx call at all; threads waiting on different
connections, or on the same one, all progress; asyncio connections in the
same process keep working while a blocking call drives the loop."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import wsx
import wsx.asyncio
import wsx.sync
from conftest import websockets_echo, websockets_server


def pinger(answered: threading.Event, received: list[str]) -> Any:
    """A websockets handler that echoes one message, pings the client and
    notes the pong, then notes the client's next message."""

    def handler(ws: Any) -> None:
        ws.send(ws.recv(timeout=10))
        if ws.ping(b"idle").wait(10):
            answered.set()
        received.append(ws.recv(timeout=10))
        answered.set()  # also after the message: the client waits for it
        for _ in ws:
            pass

    return handler


def test_sync_client_answers_pings_and_sends_outside_its_calls() -> None:
    answered, received = threading.Event(), []
    with websockets_server(pinger(answered, received)) as port:
        with wsx.sync.connect(f"ws://127.0.0.1:{port}/", ping_interval=None) as ws:
            ws.send("drive")
            assert ws.recv(timeout=10) == "drive"  # this thread drove the loop last
            # Now it waits outside wsx: the background thread answers.
            assert answered.wait(10), "the ping went unanswered"
            answered.clear()
            ws.send("sent, not followed by recv")
            assert answered.wait(10), "the message was not written"
    assert received == ["sent, not followed by recv"]


def test_a_burst_of_sends_not_followed_by_a_wait_is_written() -> None:
    """Sends in a row (a burst) go out together at the next wait; with no
    wait, the background thread writes them."""
    received: list[Any] = []
    done = threading.Event()

    def handler(ws: Any) -> None:
        received.extend(ws.recv(timeout=10) for _ in range(3))
        done.set()
        for _ in ws:
            pass

    with websockets_server(handler) as port:
        with wsx.sync.connect(f"ws://127.0.0.1:{port}/", ping_interval=None) as ws:
            for m in ("one", "two", "three"):
                ws.send(m)
            assert done.wait(10), f"only {received} arrived"
    assert received == ["one", "two", "three"]


def test_threads_waiting_on_different_connections_all_progress() -> None:
    with websockets_server(websockets_echo) as port:
        url = f"ws://127.0.0.1:{port}/"
        with wsx.sync.connect(url, ping_interval=None) as idle, wsx.sync.connect(url, ping_interval=None) as busy:
            got: list[Any] = []
            waiting = threading.Thread(target=lambda: got.append(idle.recv(timeout=20)))
            waiting.start()  # blocks in recv, driving the loop while it waits
            for i in range(200):  # this thread follows, or drives in turn
                busy.send(f"m{i}")
                assert busy.recv(timeout=10) == f"m{i}"
            idle.send("wake up")
            waiting.join(20)
            assert got == ["wake up"]


def test_a_send_from_another_thread_reaches_a_thread_waiting_on_the_same_connection() -> None:
    with websockets_server(websockets_echo) as port:
        with wsx.sync.connect(f"ws://127.0.0.1:{port}/", ping_interval=None) as ws:
            got: list[Any] = []
            waiting = threading.Thread(target=lambda: got.extend(ws.recv(timeout=20) for _ in range(50)))
            waiting.start()
            for i in range(50):
                ws.send(i.to_bytes(2, "big"))
            waiting.join(20)
            assert got == [i.to_bytes(2, "big") for i in range(50)]


def test_asyncio_connections_progress_while_a_blocking_call_drives_the_loop() -> None:
    with websockets_server(websockets_echo) as port:
        url = f"ws://127.0.0.1:{port}/"
        with wsx.sync.connect(url, ping_interval=None) as blocking:
            got: list[Any] = []
            waiting = threading.Thread(target=lambda: got.append(blocking.recv(timeout=20)))
            waiting.start()

            async def round_trips() -> None:
                async with wsx.asyncio.connect(url, ping_interval=None) as ws:
                    for i in range(100):
                        await ws.send(f"a{i}")
                        assert await asyncio.wait_for(ws.recv(), 10) == f"a{i}"

            asyncio.run(round_trips())
            blocking.send("done")
            waiting.join(20)
            assert got == ["done"]


def test_asyncio_client_answers_pings_and_writes_while_its_loop_is_blocked() -> None:
    """The asyncio loop drives the native loop while it runs; blocked (a
    synchronous call inside a task), the background thread takes over."""
    answered, received = threading.Event(), []

    async def main(port: int) -> None:
        async with wsx.asyncio.connect(f"ws://127.0.0.1:{port}/", ping_interval=None) as ws:
            await ws.send("drive")
            assert await ws.recv() == "drive"  # the asyncio loop drove the native one last
            assert answered.wait(10), "the ping went unanswered"  # blocks the asyncio loop
            answered.clear()
            for m in ("a burst", "of sends"):
                await ws.send(m)
            assert answered.wait(10), "the burst was not written"

    with websockets_server(pinger(answered, received)) as port:
        asyncio.run(main(port))
    assert received == ["a burst"]
