#!/usr/bin/env python3
"""A line-based chat client: each line typed is sent as a text message and
every message received is printed as it arrives (on another thread).

    python examples/python/chat_client.py --name ada --room tea ws://127.0.0.1:9001/

With ``--room NAME`` it joins room NAME the way the chat servers
(``examples/c/chat_server.c``, ``examples/python/chat_server.py``) expect:
by connecting to the path ``/room/NAME``. Typing ``/join OTHER`` moves to
another room (the server answers ``* joined OTHER``). Type /quit or press
Ctrl-D to leave.
"""

from __future__ import annotations

import argparse
import sys
import threading
from urllib.parse import urlsplit, urlunsplit

import wsx


def room_url(url: str, room: str) -> str:
    """``url`` with its path replaced by ``/room/ROOM``."""
    return urlunsplit(urlsplit(url)._replace(path=f"/room/{room}"))


def print_incoming(ws: wsx.sync.ClientConnection) -> None:
    try:
        for message in ws:
            print(f"< {message if isinstance(message, str) else message.hex()}", flush=True)
    except wsx.ConnectionClosed as exc:
        print(f"* connection closed: {exc}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--name", default="guest", help="prefix of each message")
    parser.add_argument("--room", help="room to join (connects to the path /room/ROOM)")
    parser.add_argument("url", help="ws:// or wss:// URL of a chat (or echo) server")
    args = parser.parse_args()
    url = room_url(args.url, args.room) if args.room else args.url
    try:
        ws = wsx.sync.connect(url)
    except wsx.WsxError as exc:
        print(f"chat_client: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    with ws:
        reader = threading.Thread(target=print_incoming, args=(ws,), daemon=True)
        reader.start()
        print(f"* connected to {url} as {args.name}; /join ROOM to move, /quit to leave", flush=True)
        try:
            for line in sys.stdin:
                line = line.rstrip("\n")
                if line == "/quit":
                    break
                if line.startswith("/join "):
                    ws.send(line)  # a command for the server, not a chat line
                elif line:
                    ws.send(f"{args.name}: {line}")  # sends are safe while the reader thread receives
        except (KeyboardInterrupt, wsx.ConnectionClosed):
            pass
    reader.join(5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
