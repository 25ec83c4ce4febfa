#!/usr/bin/env python3
"""Chat rooms on publish/subscribe topics, the Python twin of
``examples/c/chat_server.c``: each message a member sends is published to
its room, reaching every other member (the frame is encoded once and shared).

    python examples/python/chat_server.py --port 9001

Rooms:
  - a client joins room NAME by connecting to the path /room/NAME; any other
    path joins the room "lobby";
  - a text message "/join NAME" moves the sender to room NAME (it gets
    "* joined NAME" back, or "* bad room name");
  - every other message, text or binary, goes to the sender's room.
Room names are 1 to 63 bytes of letters, digits, '-', '_' and '.'.

Prints "listening on HOST:PORT"; Ctrl-C or SIGTERM shuts it down gracefully
(every member gets 1001, going away).
"""

from __future__ import annotations

import argparse
import re
import signal
import sys
import threading
from typing import Optional

import wsx

ROOM = re.compile(r"[A-Za-z0-9._-]{1,63}")


def room_name(name: str) -> Optional[str]:
    """``name`` if it is a valid room name."""
    return name if ROOM.fullmatch(name) else None


class Rooms:
    """The handler of every connection; publishes through ``server``."""

    def __init__(self) -> None:
        self.server: Optional[wsx.sync.Server] = None  # set once serve() returns
        self.print_lock = threading.Lock()

    def __call__(self, ws: wsx.sync.ServerConnection) -> None:
        assert ws.request is not None and self.server is not None
        path = ws.request.path.split("?", 1)[0]
        room = room_name(path[len("/room/") :]) if path.startswith("/room/") else None
        room = room or "lobby"
        ws.subscribe(room)
        members = self.server.subscribers(room)
        # Handlers run on threads of their own: one print at a time, so that
        # two lines never interleave.
        with self.print_lock:
            print(f"joined {room}: {ws.remote_address} ({members} in the room)", flush=True)
        for message in ws:
            if isinstance(message, str) and message.startswith("/join "):
                name = room_name(message[len("/join ") :])
                if name is None:
                    ws.send("* bad room name")
                    continue
                ws.unsubscribe(room)
                room = name
                ws.subscribe(room)
                ws.send(f"* joined {room}")
            else:
                # A member that cannot keep up misses the message (the default
                # slow-subscriber policy); the others are not held up.
                self.server.publish(room, message, exclude=ws)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9001, help="0 picks a free port")
    args = parser.parse_args()
    rooms = Rooms()
    # SIGTERM as Ctrl-C: serve_forever shuts the server down gracefully.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    # Clients learn the port from the line printed below, after `server` is set.
    with wsx.sync.serve(rooms, args.host, args.port) as server:
        rooms.server = server
        print(f"listening on {args.host}:{server.port}", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
