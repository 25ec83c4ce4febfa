"""wss:// with a CA made in the test, against wsx and `websockets` peers."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
import websockets.sync.client

import wsx
from conftest import server_ssl_context, websockets_echo, websockets_server, wsx_echo, wsx_server


def test_wsx_client_and_server(tls_files: dict[str, Path]) -> None:
    with wsx_server(wsx_echo, cert_file=tls_files["cert"], key_file=str(tls_files["key"])) as server:
        for host in ("localhost", "127.0.0.1"):
            with wsx.sync.connect(f"wss://{host}:{server.port}/", ca_file=tls_files["ca"]) as ws:
                ws.send("secret")
                assert ws.recv(timeout=10) == "secret"
                ws.send(b"\x00" * 100_000)
                assert ws.recv(timeout=10) == b"\x00" * 100_000


def test_unknown_ca_is_refused(tls_files: dict[str, Path]) -> None:
    with wsx_server(wsx_echo, cert_file=tls_files["cert"], key_file=tls_files["key"]) as server:
        url = f"wss://localhost:{server.port}/"
        with pytest.raises(wsx.TLSError) as info:
            wsx.sync.connect(url)
        assert isinstance(info.value, wsx.InvalidHandshake)
        with wsx.sync.connect(url, verify=False) as ws:  # explicitly disabled checks
            ws.send("unchecked")
            assert ws.recv(timeout=10) == "unchecked"


def test_hostname_mismatch_is_refused(tls_files: dict[str, Path]) -> None:
    with wsx_server(wsx_echo, cert_file=tls_files["wrong_cert"], key_file=tls_files["key"]) as server:
        # Signed by the trusted CA, but for wrong.example only.
        with pytest.raises(wsx.TLSError):
            wsx.sync.connect(f"wss://localhost:{server.port}/", ca_file=tls_files["ca"])


def test_plain_client_to_tls_server_fails(tls_files: dict[str, Path]) -> None:
    with wsx_server(wsx_echo, cert_file=tls_files["cert"], key_file=tls_files["key"]) as server:
        with pytest.raises(wsx.WsxError):
            wsx.sync.connect(f"ws://127.0.0.1:{server.port}/", open_timeout=5)


def test_wsx_client_to_websockets_tls_server(tls_files: dict[str, Path]) -> None:
    with websockets_server(websockets_echo, ssl=server_ssl_context(tls_files)) as port:
        with wsx.sync.connect(f"wss://localhost:{port}/", ca_file=tls_files["ca"]) as ws:
            ws.send("to websockets")
            assert ws.recv(timeout=10) == "to websockets"


def test_websockets_client_to_wsx_tls_server(tls_files: dict[str, Path]) -> None:
    ctx = ssl.create_default_context(cafile=str(tls_files["ca"]))
    with wsx_server(wsx_echo, cert_file=tls_files["cert"], key_file=tls_files["key"]) as server:
        with websockets.sync.client.connect(f"wss://localhost:{server.port}/", ssl=ctx) as ws:
            ws.send("from websockets")
            assert ws.recv() == "from websockets"
