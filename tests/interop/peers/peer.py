"""Shared parts of the Python `websockets` peers driven by the interop tests.

A peer reads JSON commands, one per line, on stdin and writes JSON events,
one per line, on stdout (servers first print `ready PORT`). The payload
generator matches `gen.js` and the Rust side (`wsx_interop::payload`).
"""

import asyncio
import hashlib
import json
import ssl
import sys

from websockets.exceptions import ConnectionClosed

TEXT_UNIT = "wsx \u2713 \u00e9 \U0001f680 "
BINARY_BLOCK = bytes((i * 7 + 3) % 251 for i in range(251))
# Small messages are echoed in full in events; larger ones by length and SHA-1.
INLINE_LIMIT = 4096


def emit(**event):
    """Writes one event line."""
    print(json.dumps(event), flush=True)


def generate(kind, length):
    """The test payload of `kind` ("text" or "binary") and `length` bytes."""
    if kind == "binary":
        return (BINARY_BLOCK * (length // len(BINARY_BLOCK) + 1))[:length]
    unit_len = len(TEXT_UNIT.encode())
    units = length // unit_len
    return TEXT_UNIT * units + "a" * (length - units * unit_len)


def payload(cmd):
    """The payload a `send` command asks for."""
    if "gen" in cmd:
        return generate(cmd["kind"], cmd["gen"])
    if cmd["kind"] == "text":
        return cmd.get("text", "")
    return bytes.fromhex(cmd.get("hex", ""))


def split(data, pieces):
    """`data` cut into `pieces` consecutive fragments (text by characters)."""
    size = -(-len(data) // pieces) or 1
    return [data[i : i + size] for i in range(0, max(len(data), 1), size)]


def message_event(data):
    """The event describing a received message."""
    raw = data.encode() if isinstance(data, str) else data
    event = {"ev": "message", "kind": "text" if isinstance(data, str) else "binary"}
    event.update(len=len(raw), sha1=hashlib.sha1(raw).hexdigest())
    if len(raw) <= INLINE_LIMIT:
        if isinstance(data, str):
            event["text"] = data
        else:
            event["hex"] = raw.hex()
    return event


def headers_list(headers):
    """HTTP headers as [name, value] pairs, in order."""
    return [[name, value] for name, value in headers.raw_items()]


def close_frame(frame):
    """A close frame as [code, reason], or None."""
    return None if frame is None else [frame.code, frame.reason]


async def pump(ws):
    """Reports every message, then the close, of `ws`."""
    try:
        async for message in ws:
            emit(**message_event(message))
    except ConnectionClosed:
        pass
    emit(
        ev="close",
        code=ws.close_code,
        reason=ws.close_reason,
        rcvd=close_frame(ws.protocol.close_rcvd),
        sent=close_frame(ws.protocol.close_sent),
    )


async def report_pong(waiter, data):
    """Reports the pong answering a ping of ours."""
    try:
        await waiter
        emit(ev="pong", hex=data.hex())
    except ConnectionClosed:
        emit(ev="error", message="closed before the pong")


async def run_command(ws, cmd, tasks):
    """Runs one `send`, `ping`, `close`, `abort`, `pause` or `resume` command on `ws`."""
    op = cmd["op"]
    if ws is None:
        emit(ev="error", message=f"{op}: no connection")
    elif op == "send":
        data = payload(cmd)
        pieces = cmd.get("fragments")
        await ws.send(split(data, pieces) if pieces else data)
        emit(ev="sent")
    elif op == "ping":
        data = bytes.fromhex(cmd.get("hex", ""))
        tasks.add(asyncio.create_task(report_pong(await ws.ping(data), data)))
    elif op == "close":
        await ws.close(cmd.get("code", 1000), cmd.get("reason", ""))
    elif op == "abort":
        # Drop the TCP connection without a close frame.
        ws.transport.abort()
    elif op == "pause":
        # Stop reading the socket: no more messages, and no pongs either.
        ws.transport.pause_reading()
        emit(ev="paused")
    elif op == "resume":
        ws.transport.resume_reading()
        emit(ev="resumed")
    else:
        emit(ev="error", message=f"unknown command {op}")


async def commands():
    """Yields the JSON commands read from stdin until it closes."""
    reader = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        if line.strip():
            yield json.loads(line)


def server_tls(cert, key):
    """A server TLS context from PEM files, or None."""
    if cert is None:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context
