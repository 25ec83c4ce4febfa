"""Telemetry from Python: wsx's log records reach :mod:`logging` (logger
``wsx``) through a Python thread, never the loop's; ``Server.metrics()``
after a known traffic pattern; ``/metrics`` served on the WebSocket port
through ``process_request`` and fetched with ``urllib``, its OpenMetrics
text parsed by ``prometheus_client``."""

from __future__ import annotations

import asyncio
import logging
import time
import urllib.request
from typing import Any, Callable, Optional

import websockets.sync.client
from prometheus_client.openmetrics.parser import text_string_to_metric_families
from websockets.exceptions import InvalidStatus

import wsx


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def wait_for(self, *pieces: str, timeout: float = 10.0) -> Optional[logging.LogRecord]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for r in list(self.records):
                if all(p in r.getMessage() for p in pieces):
                    return r
            time.sleep(0.01)
        return None


def settle(read: Callable[[], dict[str, Any]], done: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    m = read()
    while not done(m) and time.monotonic() < deadline:
        time.sleep(0.01)
        m = read()
    return m


async def echo(ws: wsx.ServerConnection) -> None:
    async for message in ws:
        await ws.send(message)


def test_logs_metrics_and_a_metrics_route() -> None:
    collect = Collect()
    logger = logging.getLogger("wsx")
    logger.addHandler(collect)
    logger.setLevel(logging.INFO)
    wsx.enable_logging()
    try:
        asyncio.run(scenario(collect))
    finally:
        wsx.disable_logging()
        logger.removeHandler(collect)
    # Off: nothing more arrives.
    count = len(collect.records)
    with wsx.sync.serve(lambda ws: None, "127.0.0.1", 0) as server:
        with websockets.sync.client.connect(f"ws://127.0.0.1:{server.port}/"):
            pass
    time.sleep(0.2)
    assert len(collect.records) == count


async def scenario(collect: Collect) -> None:
    served: list[wsx.Server] = []

    def process_request(conn: Any, request: wsx.Request) -> Optional[wsx.Response]:
        if request.path == "/metrics":
            body = served[0].metrics_text().encode()
            return wsx.Response(200, "OK", {"Content-Type": wsx.OPENMETRICS_CONTENT_TYPE}, body)
        if request.path == "/private":
            return wsx.Response(401, "Unauthorized", None, b"who are you")
        if request.path == "/busy":
            return wsx.Response(503, "Service Unavailable", None, b"later")
        return None

    async with wsx.serve(echo, "127.0.0.1", 0, process_request=process_request) as server:
        served.append(server)
        url = f"ws://127.0.0.1:{server.port}"
        async with wsx.connect(url + "/") as ws:
            for _ in range(3):
                await ws.send("hello")
                assert await ws.recv() == "hello"
            await ws.send(b"\x07" * 100)
            assert await ws.recv() == b"\x07" * 100
            await ws.close(1000, "done")

        def refused(path: str) -> int:
            try:
                with websockets.sync.client.connect(url + path):
                    return 101
            except InvalidStatus as e:
                return e.response.status_code

        assert await asyncio.to_thread(refused, "/private") == 401
        assert await asyncio.to_thread(refused, "/busy") == 503

        m = await asyncio.to_thread(settle, server.metrics, lambda m: m["closes"][1000] == 1)
        assert m["connections_open"] == 0
        assert m["connections_opened"] == 1 and m["handshakes_accepted"] == 1
        assert (m["messages_in"], m["bytes_in"]) == (4, 115)
        assert (m["messages_out"], m["bytes_out"]) == (4, 115)
        assert m["handshakes_refused"][401] == 1 and m["handshakes_refused"][503] == 1
        assert m["handshakes_refused"]["other"] == 0
        assert m["closes"][1000] == 1 and m["closes"]["other"] == 0
        assert m["keepalive_timeouts"] == 0 and m["queued_bytes"] == 0
        assert wsx.loop_metrics()["connections_opened"] >= 2

        def scrape() -> tuple[int, str, str]:
            with urllib.request.urlopen(url.replace("ws:", "http:") + "/metrics", timeout=10) as r:
                return r.status, r.headers["Content-Type"], r.read().decode()

        status, content_type, text = await asyncio.to_thread(scrape)
        assert status == 200
        assert content_type.startswith("application/openmetrics-text")
        families = {f.name: f for f in text_string_to_metric_families(text)}
        assert families["wsx_messages_received"].samples[0].value == 4
        assert families["wsx_received_bytes"].samples[0].value == 115
        refusals = {s.labels["status"]: s.value for s in families["wsx_handshakes_refused"].samples}
        assert refusals["401"] == 1 and refusals["503"] == 1
        closes = {s.labels["code"]: s.value for s in families["wsx_closes"].samples}
        assert closes["1000"] == 1
        m = await asyncio.to_thread(settle, server.metrics, lambda m: m["http_answered"] == 1)
        assert m["http_answered"] == 1

    opened = await asyncio.to_thread(collect.wait_for, "opened from 127.0.0.1:")
    assert opened is not None and opened.name == "wsx.conn" and opened.levelno == logging.INFO
    # Handed over by the Python thread, not by the loop's.
    assert opened.threadName == "wsx-logging"
    assert await asyncio.to_thread(collect.wait_for, "opened to 127.0.0.1:")
    closed = await asyncio.to_thread(collect.wait_for, "closed: code 1000", '"done"')
    assert closed is not None and closed.name == "wsx.conn"
    refused_log = await asyncio.to_thread(collect.wait_for, "refused a handshake", ": 401 ")
    assert refused_log is not None and refused_log.name == "wsx.server"
