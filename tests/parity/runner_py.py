"""The Python parity runner: runs scenarios.json against one server with
wsx's blocking API (``--api sync``: wsx.sync.connect), its asyncio API
(``--api asyncio``: wsx.asyncio.connect) or its sans-I/O engine
(``--api protocol``: wsx.protocol.ClientProtocol over asyncio streams the
runner opens itself), maps every result to the suite's language-neutral
kinds and prints one line per scenario:

    ok <id>
    FAIL <id>: expected <...> got <...>
    skip <id>: <why the language cannot express it>

Exit status 0 only when no scenario failed. Every wait is bounded (the
scenario file's timeout), so a stuck step fails instead of hanging.

Every API runs the same interpreter (Scenario below) through an adapter: the
asyncio adapter runs every operation as a coroutine on an event loop of its
own thread, so the asyncio API is used as an asyncio program uses it; the
protocol adapter does the same with ProtocolConnection, a small asyncio
connection written on wsx.protocol as a program that owns its I/O writes
one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import ssl
import sys
import threading
import time
import uuid
from typing import Any, Optional
from urllib.parse import urlsplit

import wsx
import wsx.asyncio
import wsx.protocol
import wsx.sync

# The keys of each API in scenarios.json's cannot_express (as run.py's EXPRESS_KEYS).
EXPRESS_KEYS = {"sync": ["python"], "asyncio": ["python"], "protocol": ["python-protocol", "engine"]}


class Failed(Exception):
    """A scenario step saw something other than what it expected."""


# ---------------------------------------------------------------- payloads


def payload(step: dict) -> Any:
    kind = step["type"]
    if "hex" in step:
        return bytes.fromhex(step["hex"])  # only text scenarios use it
    if "text" in step:
        return step["text"] if kind == "text" else step["text"].encode()
    size = step["size"]
    if kind == "text":
        return ("abcdefghijklmnopqrstuvwxyz" * (size // 26 + 1))[:size]
    return (bytes(range(251)) * (size // 251 + 1))[:size]


def describe(message: Any) -> str:
    kind = "text" if isinstance(message, str) else "binary"
    if len(message) <= 40:
        return f"{kind} {message!r}"
    return f"{kind} of {len(message)} bytes"


# ------------------------------------------------------------ error kinds


def error_kind(exc: BaseException) -> dict:
    """A wsx exception as the suite's language-neutral outcome."""
    if isinstance(exc, ProtocolFailure):
        return exc.outcome
    if isinstance(exc, wsx.InvalidStatus):
        out: dict = {"error": "handshake_refused", "status": exc.status}
        response = getattr(exc, "response", None)
        if response is not None:
            out["headers"] = [(k.lower(), v) for k, v in response.headers.items()]
        return out
    if isinstance(exc, wsx.TLSError):
        return {"error": "tls_failed"}
    if isinstance(exc, wsx.InvalidHandshake):
        return {"error": "handshake_invalid"}
    if isinstance(exc, wsx.InvalidArgument):
        return {"error": "invalid_option"}
    if isinstance(exc, wsx.OpenTimeout):
        return {"error": "open_timeout"}
    if isinstance(exc, wsx.ConnectError):
        return {"error": "connect_failed"}
    if isinstance(exc, wsx.ConnectionClosed):
        return {"closed": {"code": exc.code, "reason": exc.reason}}
    return {"error": f"{type(exc).__module__}.{type(exc).__name__}: {exc}"}


def check_error(expected: dict, exc: BaseException) -> None:
    got = error_kind(exc)
    if got.get("error") != expected["error"]:
        raise Failed(f"expected error {expected['error']} got {got} ({exc!r})")
    if "status" in expected and got.get("status") != expected["status"]:
        raise Failed(f"expected status {expected['status']} got {got.get('status')}")
    if "header" in expected:
        name, value = expected["header"]
        if "headers" not in got:
            raise Failed(
                f"expected header {name}: {value} got no response headers "
                f"(wsx.InvalidStatus carries only .status and .message)"
            )
        if (name.lower(), value) not in got["headers"]:
            raise Failed(f"expected header {name}: {value} got {got['headers']}")


def closed_by(exc: BaseException, closed_by_us: bool) -> str:
    """Which side's close frame came first: the library says it where it has
    websockets' rcvd/sent/rcvd_then_sent; else we closed, or the library
    failed the connection (a wsx error as the cause), or the peer did.
    wsx.protocol's Close event says it itself (ProtocolClosed.origin)."""
    if isinstance(exc, ProtocolClosed):
        return exc.origin
    if hasattr(exc, "rcvd_then_sent"):
        rcvd, sent = getattr(exc, "rcvd", None), getattr(exc, "sent", None)
        if rcvd is not None and sent is not None:
            return "remote" if exc.rcvd_then_sent else "local"
        if sent is not None:
            return "local"
        if rcvd is not None:
            return "remote"
        return "transport"
    if closed_by_us or isinstance(exc.__cause__, wsx.WsxError):
        return "local"
    return "remote"


# ----------------------------------------------------------------- options


class Resolver:
    """The client's resolver hook (option "resolve"): answers every name with
    the scenario's addresses ("[v6]:port" as an (ip, port) pair, a bare IP as
    itself: the URL's port) and records the names it was asked for."""

    def __init__(self, addresses: list) -> None:
        self.addresses = addresses
        self.asked: list = []

    def __call__(self, host: str, port: int) -> list:
        self.asked.append(host)
        out: list = []
        for a in self.addresses:
            if a.startswith("["):
                ip, _, p = a[1:].partition("]:")
                out.append((ip, int(p)))
            else:
                out.append(a)
        return out


def connect_kwargs(options: dict, subst: dict) -> dict:
    def sub(value: str) -> str:
        for key, text in subst.items():
            value = value.replace("{" + key + "}", text)
        return value

    kw: dict = {}
    for key, value in options.items():
        if key == "ca_file":
            kw["ca_file"] = sub(value)
        elif key == "client_cert":
            kw["client_cert"], kw["client_key"] = (sub(v) for v in value)
        elif key == "resolve":
            kw["resolver"] = Resolver([sub(v) for v in value])
        elif key == "headers":
            kw["additional_headers"] = [tuple(h) for h in value]
        elif key == "reconnect":
            kw["reconnect"] = wsx.Reconnect(**value)
        elif key == "compression":
            if not value:
                kw["compression"] = None  # offer no permessage-deflate (on by default)
        elif key == "unix_socket_path":
            kw["unix_socket_path"] = value.replace("{unix}", os.environ["WSX_PARITY_UNIX"])
        elif key in ("subprotocols", "origin", "max_size", "max_queue", "open_timeout",
                     "ping_interval", "ping_timeout", "close_timeout"):
            kw[key] = value
        else:
            raise Failed(f"runner does not know option {key}")
    return kw


# ----------------------------------------------------------------- adapters


class Pending:
    """A send that may not have finished yet."""

    def __init__(self, done: threading.Event, result: list) -> None:
        self._done = done
        self._result = result

    def wait(self, timeout: float) -> bool:
        if not self._done.wait(timeout):
            return False
        if self._result and isinstance(self._result[0], BaseException):
            raise self._result[0]
        return True


class SyncAdapter:
    name = "sync"

    def connect(self, url: str, kw: dict, timeout: float) -> Any:
        kw.setdefault("open_timeout", timeout)
        return wsx.sync.connect(url, **kw)

    def start_send(self, conn: Any, message: Any, **kw: Any) -> Pending:
        done, result = threading.Event(), []

        def run() -> None:
            try:
                conn.send(message, **kw)
            except BaseException as e:  # handed to the waiting step
                result.append(e)
            done.set()

        threading.Thread(target=run, daemon=True).start()
        return Pending(done, result)

    def recv(self, conn: Any, timeout: float) -> Any:
        try:
            return conn.recv(timeout=timeout)
        except TimeoutError:
            raise Failed(f"no message within {timeout} s") from None

    def close(self, conn: Any, code: Optional[int], reason: str) -> None:
        if code is None:
            conn.close(1005, reason)  # the binding has no other spelling for "no status"
        else:
            conn.close(code, reason)

    def attr(self, conn: Any, name: str) -> Any:
        return getattr(conn, name)

    def shutdown(self) -> None:
        pass


class AsyncioAdapter:
    name = "asyncio"

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Any, timeout: float) -> Any:
        future = asyncio.run_coroutine_threadsafe(asyncio.wait_for(coro, timeout), self.loop)
        try:
            return future.result(timeout + 5)
        except (asyncio.TimeoutError, TimeoutError):
            raise Failed(f"no result within {timeout} s") from None

    def connect(self, url: str, kw: dict, timeout: float) -> Any:
        kw.setdefault("open_timeout", timeout)

        async def go() -> Any:
            return await wsx.asyncio.connect(url, **kw)

        return self.run(go(), timeout + 5)

    def start_send(self, conn: Any, message: Any, **kw: Any) -> Pending:
        done, result = threading.Event(), []
        future = asyncio.run_coroutine_threadsafe(conn.send(message, **kw), self.loop)

        def finished(f: Any) -> None:
            if f.exception() is not None:
                result.append(f.exception())
            done.set()

        future.add_done_callback(finished)
        return Pending(done, result)

    def recv(self, conn: Any, timeout: float) -> Any:
        try:
            return self.run(conn.recv(), timeout)
        except Failed:
            raise Failed(f"no message within {timeout} s") from None

    def close(self, conn: Any, code: Optional[int], reason: str) -> None:
        self.run(conn.close(1005 if code is None else code, reason), 30)

    def attr(self, conn: Any, name: str) -> Any:
        return getattr(conn, name)

    def shutdown(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


class ProtocolFailure(Exception):
    """A wsx.protocol connection that did not open: ``outcome`` in the suite's kinds."""

    def __init__(self, outcome: dict, message: str) -> None:
        super().__init__(message)
        self.outcome = outcome


class ProtocolClosed(wsx.ConnectionClosed):
    """A wsx.protocol connection's Close event, raised as a closed connection
    is (``origin``: local, remote or transport)."""

    def __init__(self, close: wsx.protocol.Close) -> None:
        super().__init__(close.code, close.reason)
        self.origin = close.origin


class ProtocolConnection:
    """wsx.protocol's ClientProtocol over asyncio streams, with the methods
    the steps use (send, recv, close, abort): a task reads the transport and
    feeds the protocol, ticks it at its deadlines, takes its events and
    writes what it has to send."""

    def __init__(self, protocol: wsx.protocol.ClientProtocol, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self.protocol = protocol
        self.reader, self.writer = reader, writer
        self.loop = asyncio.get_running_loop()
        self.messages: asyncio.Queue = asyncio.Queue()
        self.opened: asyncio.Future = self.loop.create_future()
        self.closed: asyncio.Future = self.loop.create_future()
        self.error: Optional[wsx.protocol.Error] = None
        self.transport_error: Optional[BaseException] = None
        self.task = asyncio.ensure_future(self.run())

    @property
    def close_code(self) -> Optional[int]:
        return self.protocol.close_code

    @property
    def close_reason(self) -> Optional[str]:
        return self.protocol.close_reason

    @property
    def subprotocol(self) -> Optional[str]:
        # From the Open event: the protocol itself belongs to the loop's thread.
        return self.opened.result().subprotocol

    @property
    def deflate(self) -> bool:
        return self.opened.result().deflate

    def flush(self) -> None:
        for chunk in self.protocol.data_to_send():
            if chunk:
                self.writer.write(chunk)
            elif self.writer.can_write_eof():  # b"": half-close (TLS has no half-close)
                self.writer.write_eof()

    async def run(self) -> None:
        self.protocol.tick(self.loop.time())  # starts the handshake timeout
        self.flush()
        while not self.closed.done():
            deadline = self.protocol.next_deadline()
            wait = None if deadline is None else max(0.0, deadline - self.loop.time())
            try:
                data: Optional[bytes] = await asyncio.wait_for(self.reader.read(65536), wait)
            except asyncio.TimeoutError:
                data = None
            except (OSError, ssl.SSLError) as e:  # the transport broke (a TLS alert, a reset)
                self.transport_error, data = e, b""
            if data:
                self.protocol.receive_data(data)
            elif data == b"":
                self.protocol.receive_eof()
            self.protocol.tick(self.loop.time())
            self.handle(self.protocol.events_received())
            if not self.writer.is_closing():
                self.flush()
        # The server closes the transport first (RFC 6455 7.1.1): its EOF, then ours.
        try:
            await asyncio.wait_for(self.reader.read(), 2)
        except (asyncio.TimeoutError, OSError, ssl.SSLError):
            pass
        self.writer.close()

    def handle(self, events: list) -> None:
        for event in events:
            if isinstance(event, wsx.protocol.Open):
                self.opened.set_result(event)
            elif isinstance(event, wsx.protocol.Message):
                self.messages.put_nowait(event.data)
            elif isinstance(event, wsx.protocol.Error):
                self.error = self.error or event
            elif isinstance(event, wsx.protocol.Close):
                self.closed.set_result(event)
                if not self.opened.done():
                    self.opened.set_exception(self.failure())

    def failure(self) -> ProtocolFailure:
        """Why the handshake failed, in the suite's kinds."""
        e = self.error
        if isinstance(self.transport_error, ssl.SSLError):
            # The program's own TLS layer (Python's ssl) ended it.
            return ProtocolFailure({"error": "tls_failed"}, str(self.transport_error))
        if e is None:
            return ProtocolFailure({"error": "closed before open"}, "no Error event")
        if e.kind == "timeout":
            return ProtocolFailure({"error": "open_timeout"}, e.message)
        if e.status:
            headers = [(k.lower(), v) for k, v in e.headers]
            return ProtocolFailure({"error": "handshake_refused", "status": e.status, "headers": headers}, e.message)
        return ProtocolFailure({"error": "handshake_invalid"}, e.message)

    async def send(self, message: Any, text: Optional[bool] = None) -> None:
        """A message, or one in fragments from an iterable (as websockets' send)."""
        if self.closed.done():
            raise ProtocolClosed(self.closed.result())
        if isinstance(message, (str, bytes)):
            pieces, fins = [message], [True]
        else:
            pieces = list(message)
            fins = [i == len(pieces) - 1 for i in range(len(pieces))]
        for piece, fin in zip(pieces, fins):
            if isinstance(piece, str) or text:
                self.protocol.send_text(piece, fin=fin)
            else:
                self.protocol.send_binary(piece, fin=fin)
        self.flush()

    async def recv(self) -> Any:
        if self.messages.empty() and not self.closed.done():
            getter = asyncio.ensure_future(self.messages.get())
            await asyncio.wait({getter, self.closed}, return_when=asyncio.FIRST_COMPLETED)
            if getter.done():
                return getter.result()
            getter.cancel()
        if not self.messages.empty():
            return self.messages.get_nowait()
        raise ProtocolClosed(self.closed.result())

    async def close(self, code: int = 1000, reason: str = "") -> None:
        if not self.closed.done():
            self.protocol.send_close(code, reason)
            self.flush()
            await asyncio.shield(self.closed)

    def abort(self) -> None:
        """Drops the transport; the protocol hears its end (Close 1006)."""
        self.writer.transport.abort()


class ProtocolAdapter(AsyncioAdapter):
    """The asyncio adapter over ProtocolConnection: the runner opens the
    transport (asyncio.open_connection, Python's ssl for wss://) and hands
    the protocol its bytes."""

    name = "protocol"

    def connect(self, url: str, kw: dict, timeout: float) -> Any:
        kw = dict(kw)
        kw.setdefault("open_timeout", timeout)
        context = None
        if url.startswith("wss://"):
            context = ssl.create_default_context(cafile=kw.pop("ca_file", None))
            if "client_cert" in kw:
                context.load_cert_chain(kw.pop("client_cert"), kw.pop("client_key"))
        if "additional_headers" in kw:
            kw["headers"] = kw.pop("additional_headers")
        for loop_only in ("max_queue", "reconnect", "resolver"):
            if loop_only in kw:
                raise Failed(f"wsx.protocol has no {loop_only} (a cannot_express entry should skip this)")
        parts = urlsplit(url)

        async def go() -> ProtocolConnection:
            # On the loop's thread, which alone uses it (a protocol is not
            # thread-safe); InvalidArgument comes before any I/O.
            protocol = wsx.protocol.ClientProtocol(url, **kw)
            try:
                reader, writer = await asyncio.open_connection(parts.hostname, parts.port, ssl=context)
            except ssl.SSLError as e:
                raise ProtocolFailure({"error": "tls_failed"}, str(e)) from None
            except OSError as e:
                raise ProtocolFailure({"error": "connect_failed"}, str(e)) from None
            conn = ProtocolConnection(protocol, reader, writer)
            await conn.opened
            return conn

        return self.run(go(), timeout + 5)

    def abort(self, conn: Any) -> None:
        self.loop.call_soon_threadsafe(conn.abort)


# ---------------------------------------------------------------- scenarios


# The loop counters a "loop_metrics" step may name, as wsx.loop_metrics() keys
# them (closes_CODE: closes by code).
METRICS = ("connections_open", "connections_opened", "messages_in", "messages_out", "bytes_in", "bytes_out")


def counters() -> dict:
    """The shared loop's counters now, flat (closes_CODE for closes)."""
    m = wsx.loop_metrics()
    flat = {name: m[name] for name in METRICS}
    flat.update({f"closes_{code}": n for code, n in m["closes"].items()})
    return flat


class Scenario:
    def __init__(self, adapter: Any, scenario: dict, base: dict, timeout: float, subst: dict) -> None:
        self.a = adapter
        self.subst = subst
        self.s = scenario
        self.base = base
        self.timeout = timeout
        self.uid = uuid.uuid4().hex[:12]
        self.sent_until_blocked = 0
        self.pending: Optional[Pending] = None
        self.closed_by_us = False
        self.resolver: Optional[Resolver] = None
        self.counters_before: dict = {}

    def url(self, endpoint: str, path: str) -> str:
        return self.base[endpoint] + path.replace("{uid}", self.uid)

    def run(self) -> None:
        s = self.s
        expected = s.get("outcome")
        try:
            kw = connect_kwargs(s.get("options", {}), self.subst)
            self.resolver = kw.get("resolver")
            url = s.get("url") or self.url(s["endpoint"], s["path"])
            if "host" in s:
                url = url.replace("//127.0.0.1:", f"//{s['host']}:", 1)
            self.counters_before = counters()
            conn = self.a.connect(url, kw, self.timeout)
        except Failed:
            raise
        except Exception as exc:
            if expected is None:
                raise Failed(f"expected the connection to open got {error_kind(exc)} ({exc!r})") from None
            check_error(expected, exc)
            return
        if expected is not None:
            self.a.close(conn, 1000, "")
            raise Failed(f"expected {expected} got an open connection")
        try:
            for step in s["steps"]:
                (op, arg), = step.items()
                getattr(self, "step_" + op)(conn, arg)
        finally:
            if not self.closed_by_us:
                try:
                    self.a.close(conn, 1000, "")
                except Exception:
                    pass

    # -- steps

    def step_send(self, conn: Any, arg: dict) -> None:
        if not self.a.start_send(conn, payload(arg)).wait(self.timeout):
            raise Failed(f"send did not finish within {self.timeout} s")

    def step_abort(self, conn: Any, arg: dict) -> None:
        self.closed_by_us = True
        self.a.abort(conn)

    def step_send_fragments(self, conn: Any, arg: dict) -> None:
        # websockets' send(iterable): one message in fragments. str pieces
        # send text; bytes pieces send binary, or text with text=True (so a
        # character may be split between pieces).
        kw: dict = {}
        if "pieces_hex" in arg:
            pieces: list = [bytes.fromhex(h) for h in arg["pieces_hex"]]
            if arg["type"] == "text":
                kw["text"] = True
        elif arg["type"] == "text":
            pieces = list(arg["pieces"])
        else:
            pieces = [p.encode() for p in arg["pieces"]]
        if not self.a.start_send(conn, iter(pieces), **kw).wait(self.timeout):
            raise Failed(f"send did not finish within {self.timeout} s")

    def step_send_many(self, conn: Any, arg: dict) -> None:
        message = payload(arg)
        for _ in range(arg["count"]):
            try:
                if not self.a.start_send(conn, message).wait(self.timeout):
                    raise Failed(f"send did not finish within {self.timeout} s")
            except wsx.ConnectionClosed:
                return  # the next step says whether this closure was expected

    def step_expect(self, conn: Any, arg: dict) -> None:
        want = payload(arg)
        if "text" in arg and "{sent}" in arg["text"]:
            want = arg["text"].replace("{sent}", str(self.sent_until_blocked))
        try:
            got = self.a.recv(conn, self.timeout)
        except wsx.ConnectionClosed as exc:
            raise Failed(f"expected {describe(want)} got {error_kind(exc)}") from None
        if got != want:
            raise Failed(f"expected {describe(want)} got {describe(got)}")

    def step_close(self, conn: Any, arg: dict) -> None:
        self.closed_by_us = True
        self.a.close(conn, arg.get("code"), arg.get("reason", ""))

    def step_expect_closed(self, conn: Any, arg: dict) -> None:
        # recv raises the ConnectionClosed that says how it ended (also after
        # our own close: at once, every message having been read).
        exc: Optional[BaseException] = None
        deadline = time.monotonic() + self.timeout
        while exc is None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Failed(f"expected closed {arg} got still open after {self.timeout} s")
            try:
                got = self.a.recv(conn, left)
            except wsx.ConnectionClosed as e:
                exc = e
                break
            raise Failed(f"expected closed {arg} got {describe(got)}")
        code, reason = self.a.attr(conn, "close_code"), self.a.attr(conn, "close_reason")
        got_d = {"code": code, "reason": reason or "", "by": closed_by(exc, self.closed_by_us)}
        for key in ("code", "reason", "by"):
            if key in arg and arg[key] != got_d[key]:
                raise Failed(f"expected closed {arg} got {got_d} ({exc!r}, cause {exc.__cause__!r})")

    def step_expect_subprotocol(self, conn: Any, arg: Optional[str]) -> None:
        got = self.a.attr(conn, "subprotocol")
        if got != arg:
            raise Failed(f"expected subprotocol {arg!r} got {got!r}")

    def step_expect_deflate(self, conn: Any, arg: bool) -> None:
        if isinstance(conn, ProtocolConnection):
            got = conn.deflate
        else:  # the loop's handshake response says what was agreed
            got = "permessage-deflate" in (conn.response.headers.get("Sec-WebSocket-Extensions") or "")
        if got != arg:
            raise Failed(f"expected permessage-deflate {'on' if arg else 'off'} got {'on' if got else 'off'}")

    def step_side(self, conn: Any, arg: dict) -> None:
        """A second connection to the same endpoint: one text answer."""
        side = self.a.connect(self.url(self.s["endpoint"], arg["path"]), {}, self.timeout)
        try:
            got = self.a.recv(side, self.timeout)
        finally:
            self.a.close(side, 1000, "")
        if got != arg["expect_text"]:
            raise Failed(f"side request {arg['path']}: expected {arg['expect_text']!r} got {describe(got)}")

    def step_fanout(self, conn: Any, arg: dict) -> None:
        """`count` more connections join the main one's room (each answered
        "joined"); the main one publishes `text` to the room: every member
        gets it once (the echo of a probe sent after it comes next), and the
        publisher hears how many it reached."""
        members = []
        try:
            for _ in range(arg["count"]):
                member = self.a.connect(self.url(self.s["endpoint"], arg["path"]), {}, self.timeout)
                members.append(member)
                self.expect_on(member, "joined", "member")
            self.step_send(conn, {"type": "text", "text": "publish " + arg["text"]})
            self.expect_on(conn, arg["text"], "publisher")
            self.expect_on(conn, f"reached {arg['count'] + 1}", "publisher")
            for i, member in enumerate(members, 1):
                self.expect_on(member, arg["text"], f"member {i}")
            for i, c in enumerate([conn] + members):
                self.step_send(c, {"type": "text", "text": "probe"})
                self.expect_on(c, "probe", f"connection {i} (after the publication)")
        finally:
            for member in members:
                self.a.close(member, 1000, "")

    def expect_on(self, conn: Any, text: str, who: str) -> None:
        got = self.a.recv(conn, self.timeout)
        if got != text:
            raise Failed(f"fanout, {who}: expected {text!r} got {describe(got)}")

    def step_drain_flood(self, conn: Any, arg: dict) -> None:
        want = payload({"type": "binary", "size": arg["size"]})
        count = 0
        while True:
            got = self.a.recv(conn, self.timeout)
            if isinstance(got, str):
                break
            if got != want:
                raise Failed(f"flood message {count}: expected {describe(want)} got {describe(got)}")
            count += 1
        if got != f"held_back {count}":
            raise Failed(f"expected 'held_back {count}' after {count} messages got {describe(got)}")

    def step_send_until_blocked(self, conn: Any, arg: dict) -> None:
        message = payload(arg)
        for _ in range(arg["max"]):
            pending = self.a.start_send(conn, message)
            self.sent_until_blocked += 1
            # A send that has not finished in a second is held back; one
            # that finishes in time is not (no timing is asserted: a slow
            # machine can only make this look held back later).
            if not pending.wait(1.0):
                self.pending = pending
                return
        raise Failed(f"expected a send to be held back got {arg['max']} sends of {arg['size']} bytes all done")

    def step_finish_pending(self, conn: Any, arg: dict) -> None:
        if self.pending is None or not self.pending.wait(self.timeout):
            raise Failed(f"the held-back send did not finish within {self.timeout} s after the release")

    def step_expect_resolved(self, conn: Any, arg: dict) -> None:
        asked = self.resolver.asked if self.resolver else None
        if asked != [arg["host"]]:
            raise Failed(f"expected the resolver asked for {arg['host']!r} once got {asked!r}")

    def step_loop_metrics(self, conn: Any, arg: dict) -> None:
        """The loop's counters changed by `arg` since the scenario began
        (waited for: they are counted on the network thread)."""
        deadline = time.monotonic() + self.timeout
        while True:
            now = counters()
            got = {k: now.get(k, 0) - self.counters_before.get(k, 0) for k in arg}
            if got == arg:
                return
            if time.monotonic() > deadline:
                raise Failed(f"expected loop counters to change by {arg} got {got}")
            time.sleep(0.01)

    def step_wait_reconnected(self, conn: Any, arg: dict) -> None:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.a.attr(conn, "reconnects") >= 1 and self.a.attr(conn, "connected"):
                return
            time.sleep(0.05)
        raise Failed(
            f"expected a reconnect got reconnects={self.a.attr(conn, 'reconnects')} "
            f"connected={self.a.attr(conn, 'connected')} after {self.timeout} s"
        )


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--api", choices=["sync", "asyncio", "protocol"], required=True)
    ap.add_argument("--server", required=True, help="server name (py, wsx): picks the scenarios")
    ap.add_argument("--endpoints", required=True, help='JSON {"main": "ws://127.0.0.1:P", ...}')
    ap.add_argument("--scenarios", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "scenarios.json"))
    ap.add_argument("--only", default="", help="comma-separated scenario ids")
    ap.add_argument("--tls-dir", default="", help="run.py's test certificates ({tls} in options)")
    ap.add_argument("--blackhole6", default="", help="run.py's dead IPv6 address ({blackhole6} in options)")
    args = ap.parse_args()
    doc = json.load(open(args.scenarios))
    base = json.loads(args.endpoints)
    timeout = float(doc["defaults"]["timeout"])
    only = set(filter(None, args.only.split(",")))
    adapter = {"sync": SyncAdapter, "asyncio": AsyncioAdapter, "protocol": ProtocolAdapter}[args.api]()
    failed = 0
    for s in doc["scenarios"]:
        if args.server not in s["servers"] or (only and s["id"] not in only):
            continue
        why = next((s["cannot_express"][k] for k in EXPRESS_KEYS[args.api] if k in s.get("cannot_express", {})), None)
        if why:
            print(f"skip {s['id']}: {why}", flush=True)
            continue
        try:
            Scenario(adapter, s, base, timeout, {"tls": args.tls_dir, "blackhole6": args.blackhole6}).run()
            print(f"ok {s['id']}", flush=True)
        except Failed as e:
            failed += 1
            print(f"FAIL {s['id']}: {e}", flush=True)
        except Exception as e:
            failed += 1
            print(f"FAIL {s['id']}: unexpected {type(e).__name__}: {e}", flush=True)
    adapter.shutdown()
    return 1 if failed else 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    os._exit(code)  # daemon threads of held-back sends must not keep us alive
