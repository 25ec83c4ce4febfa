#!/usr/bin/env python3
"""A line-based chat client: each line typed is sent as a text message and
every message received is printed as it arrives (on another thread).

    python examples/python/chat_client.py --name ada ws://127.0.0.1:9001/

Type /quit or press Ctrl-D to leave.
"""

from __future__ import annotations

import argparse
import sys
import threading

import wsx


def print_incoming(ws: wsx.ClientConnection) -> None:
    try:
        for message in ws:
            print(f"< {message if isinstance(message, str) else message.hex()}", flush=True)
    except wsx.ConnectionClosed as exc:
        print(f"* connection closed: {exc}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--name", default="guest", help="prefix of each message")
    parser.add_argument("url", help="ws:// or wss:// URL of a chat (or echo) server")
    args = parser.parse_args()
    try:
        ws = wsx.connect(args.url)
    except wsx.WsxError as exc:
        print(f"chat_client: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    with ws:
        reader = threading.Thread(target=print_incoming, args=(ws,), daemon=True)
        reader.start()
        print(f"* connected to {args.url} as {args.name}; /quit to leave", flush=True)
        try:
            for line in sys.stdin:
                line = line.rstrip("\n")
                if line == "/quit":
                    break
                if line:
                    ws.send(f"{args.name}: {line}")  # sends are safe while the reader thread receives
        except (KeyboardInterrupt, wsx.ConnectionClosed):
            pass
    reader.join(5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
