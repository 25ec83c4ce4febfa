"""The chat examples: `examples/python/chat_server.py` (rooms on pub/sub)
with `examples/python/chat_client.py --room` and plain wsx clients."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

import wsx

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "python"


@pytest.fixture
def chat_url() -> Iterator[str]:
    server = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "chat_server.py"), "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        assert line.startswith("listening on 127.0.0.1:"), line
        yield f"ws://127.0.0.1:{line.rsplit(':', 1)[1].strip()}"
    finally:
        server.terminate()
        server.wait(20)


def test_rooms_by_path_and_join(chat_url: str) -> None:
    with wsx.connect(f"{chat_url}/room/tea") as tea, wsx.connect(f"{chat_url}/room/coffee") as coffee, wsx.connect(
        f"{chat_url}/elsewhere"
    ) as lobby:
        client = subprocess.Popen(
            [sys.executable, str(EXAMPLES / "chat_client.py"), "--name", "ada", "--room", "tea", chat_url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert client.stdin is not None and client.stdout is not None
            assert client.stdout.readline().startswith(f"* connected to {chat_url}/room/tea as ada")
            tea.send("tea is served")
            assert client.stdout.readline() == "< tea is served\n"
            client.stdin.write("hello\n/join coffee\n")
            client.stdin.flush()
            assert tea.recv(timeout=20) == "ada: hello"
            assert client.stdout.readline() == "< * joined coffee\n"
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
