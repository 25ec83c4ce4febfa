"""The server's HTTP side from Python: routing by path (``route()`` with a
werkzeug ``Map`` or a mapping of paths, asyncio and sync), HTTP answers and
errors on the WebSocket port, mutual TLS seen by ``process_request`` and the
handler, and ALPN ``http/1.1``; peers are python-websockets clients,
``http.client`` and ``ssl``."""

from __future__ import annotations

import asyncio
import http.client
import socket
import ssl
import subprocess
from pathlib import Path
from typing import Any, Optional

import pytest
import websockets.sync.client
from websockets.exceptions import InvalidStatus
from werkzeug.routing import Map, Rule

import wsx
from conftest import websockets_server, wsx_server


def get(port: int, path: str, method: str = "GET", headers: Optional[dict[str, str]] = None) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request(method, path, headers=headers or {})
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


# --- routing ---


async def echo(ws: wsx.asyncio.ServerConnection) -> None:
    async for message in ws:
        await ws.send(message)


async def room(ws: wsx.asyncio.ServerConnection, name: str) -> None:
    await ws.send(f"room {name}")
    async for message in ws:
        await ws.send(f"{name}: {message}")


def test_asyncio_route_with_a_werkzeug_map() -> None:
    url_map = Map(
        [
            Rule("/echo", endpoint=echo),
            Rule("/room/<name>", endpoint=room),
            Rule("/old-echo", redirect_to="/echo"),
        ]
    )

    async def main() -> None:
        async with wsx.asyncio.route(url_map, "127.0.0.1", 0) as server:
            base = f"ws://127.0.0.1:{server.port}"

            def clients() -> None:
                with websockets.sync.client.connect(base + "/echo") as ws:
                    ws.send("hello")
                    assert ws.recv(timeout=10) == "hello"
                with websockets.sync.client.connect(base + "/room/blue?x=1") as ws:
                    assert ws.recv(timeout=10) == "room blue"
                    ws.send("hi")
                    assert ws.recv(timeout=10) == "blue: hi"
                with pytest.raises(InvalidStatus) as info:
                    websockets.sync.client.connect(base + "/nowhere")
                assert info.value.response.status_code == 404
                # websockets follows the 302 of a redirect rule.
                with websockets.sync.client.connect(base + "/old-echo") as ws:
                    ws.send("redirected")
                    assert ws.recv(timeout=10) == "redirected"
                moved = get(server.port, "/old-echo")
                assert (moved.status, moved.getheader("Location")) == (302, base + "/echo")
                # Plain HTTP: 404 for no route, 426 on a WebSocket route.
                assert get(server.port, "/nowhere").status == 404
                assert get(server.port, "/echo").status == 426

            await asyncio.to_thread(clients)

    asyncio.run(main())


def test_the_router_submodule_and_process_request_first() -> None:
    from wsx.asyncio.router import Router, route

    assert route is wsx.asyncio.route and Router is wsx.asyncio.Router
    from wsx.sync.router import route as sync_route

    assert sync_route is wsx.sync.route

    def health(conn: Any, request: wsx.Request) -> Optional[wsx.Response]:
        return conn.respond(200, "ok\n") if request.path == "/healthz" else None

    async def main() -> None:
        async with route({"/echo": echo}, "127.0.0.1", 0, process_request=health) as server:
            def clients() -> None:
                assert get(server.port, "/healthz").status == 200
                assert get(server.port, "/other").status == 404
                with websockets.sync.client.connect(f"ws://127.0.0.1:{server.port}/echo") as ws:
                    ws.send(b"\x01\x02")
                    assert ws.recv(timeout=10) == b"\x01\x02"

            await asyncio.to_thread(clients)

    asyncio.run(main())


def test_sync_route_with_a_mapping_of_paths() -> None:
    def sync_echo(ws: wsx.sync.ServerConnection) -> None:
        for message in ws:
            ws.send(message)

    def upper(ws: wsx.sync.ServerConnection) -> None:
        for message in ws:
            assert isinstance(message, str)
            ws.send(message.upper())

    with wsx.sync.route({"/echo": sync_echo, "/upper": upper}, "127.0.0.1", 0) as server:
        base = f"ws://127.0.0.1:{server.port}"
        with websockets.sync.client.connect(base + "/echo") as a, websockets.sync.client.connect(base + "/upper") as b:
            a.send("mixed Case")
            b.send("mixed Case")
            assert a.recv(timeout=10) == "mixed Case"
            assert b.recv(timeout=10) == "MIXED CASE"
        with pytest.raises(InvalidStatus) as info:
            websockets.sync.client.connect(base + "/nope")
        assert info.value.response.status_code == 404


# --- HTTP answers and errors ---


def test_http_answers_and_malformed_requests() -> None:
    def answer(conn: wsx.sync.ServerConnection, request: wsx.Request) -> Any:
        if request.path == "/healthz":
            return conn.respond(200, "ok\n")
        if request.path == "/old":
            response = conn.respond(301, "moved")
            response.headers["Location"] = "/healthz"
            return response
        if request.path == "/private":
            return (401, "who are you?", {"WWW-Authenticate": 'Basic realm="wsx"'})
        return None

    with wsx_server(lambda ws: None, process_request=answer) as server:
        port = server.port
        assert get(port, "/healthz").status == 200
        old = get(port, "/old")
        assert (old.status, old.getheader("Location")) == (301, "/healthz")
        private = get(port, "/private")
        assert (private.status, private.getheader("WWW-Authenticate")) == (401, 'Basic realm="wsx"')
        assert get(port, "/elsewhere").status == 426
        post = get(port, "/", method="POST")
        assert (post.status, post.getheader("Allow")) == (405, "GET")
        assert get(port, "/" + "a" * 10_000).status == 414
        assert get(port, "/", headers={"X-Big": "b" * 10_000}).status == 431
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            raw.sendall(b"GET / HTTP/1.0\r\nHost: a\r\n\r\n")
            assert raw.makefile("rb").readline() == b"HTTP/1.1 505 HTTP Version Not Supported\r\n"


# --- mutual TLS and ALPN ---


@pytest.fixture
def client_certs(tls_files: dict[str, Path], tmp_path: Path) -> dict[str, Path]:
    """alice and bob, client certificates signed by the test CA."""
    for who in ("alice", "bob"):
        def run(*args: str) -> None:
            subprocess.run(["openssl", *args], cwd=tmp_path, check=True, capture_output=True)

        run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", f"{who}.key")
        run("req", "-new", "-key", f"{who}.key", "-out", f"{who}.csr", "-subj", f"/O=wsx/CN={who}")
        (tmp_path / "client.cnf").write_text("basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n")
        run(
            "x509", "-req", "-in", f"{who}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", f"{who}.pem", "-days", "2", "-extfile", "client.cnf",
        )
    return {**tls_files, "alice": tmp_path / "alice.pem", "alice_key": tmp_path / "alice.key",
            "bob": tmp_path / "bob.pem", "bob_key": tmp_path / "bob.key"}


def client_context(files: dict[str, Path], who: Optional[str]) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(files["ca"]))
    if who:
        ctx.load_cert_chain(files[who], files[f"{who}_key"])
    return ctx


def whoami(ws: wsx.sync.ServerConnection) -> None:
    certs = ws.peer_certificates
    ws.send(f"{ws.peer_subject} {0 if certs is None else len(certs)}")


def only_alice(conn: wsx.sync.ServerConnection, request: wsx.Request) -> Any:
    if conn.peer_subject not in (None, "CN=alice,O=wsx"):
        return (403, f"not for {conn.peer_subject}")
    return None


@pytest.mark.parametrize("required", [True, False])
def test_mutual_tls_with_websockets_clients(client_certs: dict[str, Path], required: bool) -> None:
    files = client_certs
    with wsx_server(
        whoami, cert_file=files["cert"], key_file=files["key"], client_ca_file=files["ca"],
        client_cert_required=required, process_request=only_alice,
    ) as server:
        url = f"wss://localhost:{server.port}/"
        with websockets.sync.client.connect(url, ssl=client_context(files, "alice")) as ws:
            subject, count = str(ws.recv(timeout=10)).rsplit(" ", 1)
            # OpenSSL sends the leaf and the chain it builds up to the CA.
            assert subject == "CN=alice,O=wsx" and int(count) >= 1
        with pytest.raises(InvalidStatus) as info:
            websockets.sync.client.connect(url, ssl=client_context(files, "bob"))
        assert info.value.response.status_code == 403
        if required:
            with pytest.raises((ssl.SSLError, OSError, EOFError, websockets.exceptions.WebSocketException)):
                with websockets.sync.client.connect(url, ssl=client_context(files, None), open_timeout=5) as ws:
                    ws.recv(timeout=5)
        else:
            with websockets.sync.client.connect(url, ssl=client_context(files, None)) as ws:
                assert ws.recv(timeout=10) == "None 0"


def test_wsx_clients_present_a_certificate(client_certs: dict[str, Path], tmp_path: Path) -> None:
    files = client_certs
    # To python-websockets (the ssl module) requiring one.
    required = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    required.load_cert_chain(files["cert"], files["key"])
    required.load_verify_locations(files["ca"])
    required.verify_mode = ssl.CERT_REQUIRED

    def common_name(ws: Any) -> None:
        subject = dict(field for rdn in ws.socket.getpeercert()["subject"] for field in rdn)
        ws.send(subject["commonName"])

    with websockets_server(common_name, ssl=required) as port:
        url = f"wss://127.0.0.1:{port}/"
        with wsx.sync.connect(url, ca_file=files["ca"], client_cert=files["alice"], client_key=files["alice_key"]) as ws:
            assert ws.recv(timeout=10) == "alice"
        with pytest.raises(wsx.InvalidArgument, match="client_key needs client_cert"):
            wsx.sync.connect(url, ca_file=files["ca"], client_key=files["alice_key"])
    # To wsx's server; the key in the certificate's file, as load_cert_chain takes it.
    both = tmp_path / "alice-both.pem"
    both.write_bytes(files["alice"].read_bytes() + files["alice_key"].read_bytes())
    with wsx_server(whoami, cert_file=files["cert"], key_file=files["key"], client_ca_file=files["ca"]) as server:
        async def main() -> Any:
            async with wsx.asyncio.connect(f"wss://localhost:{server.port}/", ca_file=files["ca"], client_cert=both) as ws:
                return await ws.recv()

        assert asyncio.run(main()) == "CN=alice,O=wsx 1"


def test_client_auth_needs_tls_and_a_ca() -> None:
    with pytest.raises(ValueError, match="needs TLS"):
        wsx.sync.serve(lambda ws: None, "127.0.0.1", 0, client_ca_file="ca.pem")
    with pytest.raises(ValueError, match="client_ca_file"):
        wsx.sync.serve(lambda ws: None, "127.0.0.1", 0, client_crl_file="crl.pem")


def test_alpn_is_http_1_1_only(tls_files: dict[str, Path]) -> None:
    with wsx_server(whoami, cert_file=tls_files["cert"], key_file=tls_files["key"]) as server:
        def handshake(protocols: list[str]) -> Optional[str]:
            ctx = ssl.create_default_context(cafile=str(tls_files["ca"]))
            ctx.set_alpn_protocols(protocols)
            with socket.create_connection(("127.0.0.1", server.port), timeout=10) as tcp:
                with ctx.wrap_socket(tcp, server_hostname="localhost") as tls:
                    return tls.selected_alpn_protocol()

        assert handshake(["h2", "http/1.1"]) == "http/1.1"
        with pytest.raises(ssl.SSLError, match="(?i)no.application.protocol"):
            handshake(["h2"])
