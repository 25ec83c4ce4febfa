"""Shared fixtures: echo servers (wsx and websockets), URLs, TLS material."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import queue
import re
import socket
import shutil
import ssl
import subprocess
import threading
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import websockets.sync.server

import wsx

MAX = 2**24


def wsx_echo(ws: wsx.ServerConnection) -> None:
    for message in ws:
        ws.send(message)


def websockets_echo(ws: Any) -> None:
    for message in ws:
        ws.send(message)


@contextlib.contextmanager
def websockets_server(handler: Callable[[Any], None], **kwargs: Any) -> Iterator[int]:
    """A `websockets` sync server on a free port, serving in a thread."""
    kwargs.setdefault("max_size", MAX)
    server = websockets.sync.server.serve(handler, "127.0.0.1", 0, **kwargs)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.socket.getsockname()[1]
    finally:
        server.shutdown()
        thread.join(10)


@contextlib.contextmanager
def wsx_server(handler: Callable[[wsx.ServerConnection], None], **kwargs: Any) -> Iterator[wsx.Server]:
    with wsx.serve(handler, "127.0.0.1", 0, **kwargs) as server:
        yield server


@pytest.fixture(params=["wsx", "websockets"])
def echo_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """An echo server of each kind."""
    if request.param == "wsx":
        with wsx_server(wsx_echo) as server:
            yield f"ws://127.0.0.1:{server.port}/echo"
    else:
        with websockets_server(websockets_echo) as port:
            yield f"ws://127.0.0.1:{port}/echo"


class Recorder:
    """A server handler that records what each connection saw, then how it ended."""

    def __init__(self) -> None:
        self.events: queue.Queue[tuple[str, Any]] = queue.Queue()

    def get(self, timeout: float = 10) -> tuple[str, Any]:
        return self.events.get(timeout=timeout)


@pytest.fixture
def tls_files(tmp_path: Path) -> dict[str, Path]:
    """A CA made for the test, a server certificate it signed for 127.0.0.1
    and localhost, and one for another name (openssl CLI)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.fail("the openssl command is needed to make test certificates")

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], cwd=tmp_path, check=True, capture_output=True)

    run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "ca.key")
    run(
        "req", "-x509", "-new", "-key", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=wsx test CA",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )
    run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "server.key")
    run("req", "-new", "-key", "server.key", "-out", "server.csr", "-subj", "/CN=localhost")
    for name, san in (("server", "DNS:localhost,IP:127.0.0.1"), ("wrong", "DNS:wrong.example")):
        (tmp_path / f"{name}.cnf").write_text(
            "basicConstraints=critical,CA:FALSE\n"
            "keyUsage=critical,digitalSignature\n"
            "extendedKeyUsage=serverAuth\n"
            f"subjectAltName={san}\n"
        )
        run(
            "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.cnf",
        )
    return {
        "ca": tmp_path / "ca.pem",
        "cert": tmp_path / "server.pem",
        "key": tmp_path / "server.key",
        "wrong_cert": tmp_path / "wrong.pem",
    }


def server_ssl_context(files: dict[str, Path]) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(files["cert"], files["key"])
    return ctx


@contextlib.contextmanager
def silent_server() -> Iterator[int]:
    """A peer that completes the opening handshake, then neither reads nor
    writes (so it never answers a ping)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    accepted: list[socket.socket] = []

    def run() -> None:
        conn, _ = listener.accept()
        accepted.append(conn)
        data = b""
        while b"\r\n\r\n" not in data:
            data += conn.recv(4096)
        match = re.search(rb"Sec-WebSocket-Key: *(\S+)", data, re.I)
        assert match is not None
        guid = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
        accept = base64.b64encode(hashlib.sha1(match.group(1) + guid).digest())
        conn.sendall(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
        )

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        thread.join(10)
        for conn in accepted:
            conn.close()
        listener.close()
