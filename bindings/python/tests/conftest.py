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


def wsx_echo(ws: wsx.sync.ServerConnection) -> None:
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
def wsx_server(handler: Callable[[wsx.sync.ServerConnection], None], **kwargs: Any) -> Iterator[wsx.sync.Server]:
    with wsx.sync.serve(handler, "127.0.0.1", 0, **kwargs) as server:
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


@contextlib.contextmanager
def black_hole() -> Iterator[tuple[str, int]]:
    """An address on ::1 whose connects hang, as on a dead IPv6 route: a
    listener that never accepts, its queue full (SYNs past it are dropped)."""
    listener = socket.socket(socket.AF_INET6)
    listener.bind(("::1", 0))
    listener.listen(0)
    address = listener.getsockname()[:2]
    held: list[socket.socket] = []
    try:
        while len(held) < 8:
            s = socket.socket(socket.AF_INET6)
            held.append(s)
            s.settimeout(0.3)
            try:
                s.connect(address)
            except TimeoutError:
                break  # unanswered: the queue is full
        else:
            pytest.fail("the accept queue of the black hole never filled")
        yield address
    finally:
        for s in held:
            s.close()
        listener.close()


class _Forwarder:
    """A listener on a free port whose accepted clients are served on threads
    of their own; `close` stops it and every socket and thread it made."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._spawn(self._accept)

    def _spawn(self, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                client, _ = self.listener.accept()
                self._sockets.append(client)
                self._on_client(client)

    def _on_client(self, client: socket.socket) -> None:
        raise NotImplementedError

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
        self.listener.close()
        for s in self._sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()
        for t in self._threads:
            t.join(10)


class Relay(_Forwarder):
    """A TCP relay in front of a server that counts the bytes each way (to
    see what went over the wire, e.g. whether a message was compressed)."""

    def __init__(self, port: int) -> None:
        self.upstream = port
        self.to_server = 0
        self.to_client = 0
        super().__init__()

    def _on_client(self, client: socket.socket) -> None:
        server = socket.create_connection(("127.0.0.1", self.upstream))
        self._sockets.append(server)
        self._spawn(_pump, client, server, self._count_to_server)
        self._spawn(_pump, server, client, self._count_to_client)

    def _count_to_server(self, n: int) -> None:
        self.to_server += n

    def _count_to_client(self, n: int) -> None:
        self.to_client += n


@contextlib.contextmanager
def relay(port: int) -> Iterator[Relay]:
    """A counting [`Relay`] to `port`, closed on exit."""
    r = Relay(port)
    try:
        yield r
    finally:
        r.close()


class Proxy(_Forwarder):
    """A small forwarding proxy on a free port: HTTP CONNECT (``kind="http"``,
    with Basic authentication when ``credentials`` are set) or SOCKS5 without
    authentication (``kind="socks5"``). Records each target it was asked for."""

    def __init__(self, kind: str, credentials: tuple[str, str] | None = None) -> None:
        self.kind = kind
        self.credentials = credentials
        self.targets: list[str] = []
        super().__init__()

    @property
    def url(self) -> str:
        auth = f"{self.credentials[0]}:{self.credentials[1]}@" if self.credentials else ""
        return f"{self.kind}://{auth}127.0.0.1:{self.port}"

    def _on_client(self, client: socket.socket) -> None:
        self._spawn(self._serve, client)

    def _serve(self, client: socket.socket) -> None:
        with contextlib.suppress(OSError):
            target = self._http(client) if self.kind == "http" else self._socks5(client)
            if target is None:
                client.close()
                return
            self.targets.append(f"{target[0]}:{target[1]}")
            server = socket.create_connection(target)
            self._sockets.append(server)
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n" if self.kind == "http" else
                           b"\x05\x00\x00\x01" + bytes(4) + bytes(2))
            self._spawn(_pump, server, client)
            _pump(client, server)

    def _http(self, client: socket.socket) -> tuple[str, int] | None:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = client.recv(4096)
            if not chunk:
                return None
            head += chunk
        lines = head.split(b"\r\n\r\n", 1)[0].decode().split("\r\n")
        method, authority, _ = lines[0].split(" ")
        if self.credentials:
            token = base64.b64encode(":".join(self.credentials).encode()).decode()
            if f"proxy-authorization: basic {token}".lower() not in (line.lower() for line in lines[1:]):
                client.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")
                return None
        assert method == "CONNECT", lines[0]
        host, port = authority.rsplit(":", 1)
        return host.strip("[]"), int(port)

    def _socks5(self, client: socket.socket) -> tuple[str, int] | None:
        def read(n: int) -> bytes:
            data = b""
            while len(data) < n:
                chunk = client.recv(n - len(data))
                if not chunk:
                    raise OSError("closed")
                data += chunk
            return data

        _, methods = read(2)
        if 0 not in read(methods):
            client.sendall(b"\x05\xff")
            return None
        client.sendall(b"\x05\x00")
        _, command, _, atyp = read(4)
        assert command == 1, "CONNECT"
        if atyp == 1:
            host = socket.inet_ntoa(read(4))
        elif atyp == 3:
            host = read(read(1)[0]).decode()
        else:
            host = socket.inet_ntop(socket.AF_INET6, read(16))
        return host, int.from_bytes(read(2), "big")



def _pump(src: socket.socket, dst: socket.socket, count: Callable[[int], None] | None = None) -> None:
    """Copies `src` to `dst` until EOF (telling `count` each chunk's size),
    then shuts `dst` for writing."""
    with contextlib.suppress(OSError):
        while data := src.recv(65536):
            if count is not None:
                count(len(data))
            dst.sendall(data)
    with contextlib.suppress(OSError):
        dst.shutdown(socket.SHUT_WR)


@contextlib.contextmanager
def proxy(kind: str, credentials: tuple[str, str] | None = None) -> Iterator[Proxy]:
    """A [`Proxy`] of `kind`, closed on exit."""
    p = Proxy(kind, credentials)
    try:
        yield p
    finally:
        p.close()
