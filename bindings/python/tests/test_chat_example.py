"""The chat examples: `examples/python/chat_server.py` (rooms on pub/sub)
with `examples/python/chat_client.py --room` and plain wsx clients."""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Iterator

import pytest

import wsx

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "python"


class Lines:
    """The lines a child process prints, read on a thread (no read blocks
    the test for ever)."""

    def __init__(self, stream: IO[str]) -> None:
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self._lines.put(line.rstrip("\n"))

    def next(self) -> str:
        return self._lines.get(timeout=20)


@pytest.fixture
def chat() -> Iterator[tuple[str, Lines]]:
    """The chat server's URL and the lines it prints ("joined ROOM: ...")."""
    server = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "chat_server.py"), "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        lines = Lines(server.stdout)
        line = lines.next()
        assert line.startswith("listening on 127.0.0.1:"), line
        yield f"ws://127.0.0.1:{line.rsplit(':', 1)[1]}", lines
    finally:
        server.terminate()
        server.wait(20)


def test_rooms_by_path_and_join(chat: tuple[str, Lines]) -> None:
    url, server_log = chat
    with wsx.sync.connect(f"{url}/room/tea") as tea, wsx.sync.connect(f"{url}/room/coffee") as coffee, wsx.sync.connect(
        f"{url}/elsewhere"
    ) as lobby:
        joined = sorted(server_log.next().split(":")[0] for _ in range(3))
        assert joined == ["joined coffee", "joined lobby", "joined tea"]
        client = subprocess.Popen(
            [sys.executable, str(EXAMPLES / "chat_client.py"), "--name", "ada", "--room", "tea", url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert client.stdin is not None and client.stdout is not None
            out = Lines(client.stdout)
            assert out.next().startswith(f"* connected to {url}/room/tea as ada")
            assert server_log.next().startswith("joined tea:")  # subscribed: publishes reach it
            tea.send("tea is served")
            assert out.next() == "< tea is served"
            client.stdin.write("hello\n/join coffee\n")
            client.stdin.flush()
            assert tea.recv(timeout=20) == "ada: hello"
            assert out.next() == "< * joined coffee"
            client.stdin.write("now in coffee\n")
            client.stdin.flush()
            assert coffee.recv(timeout=20) == "ada: now in coffee"
            lobby.send("/join bad name!")
            assert lobby.recv(timeout=20) == "* bad room name"
            lobby.send(b"\x01")  # alone in the lobby: nobody else gets it
            for ws in (tea, coffee):
                with pytest.raises(TimeoutError):
                    ws.recv(timeout=0.3)
            client.stdin.write("/quit\n")
            client.stdin.flush()
            assert client.wait(20) == 0
        finally:
            if client.poll() is None:
                client.kill()
                client.wait(20)
