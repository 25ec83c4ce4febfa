#!/usr/bin/env bash
# The README's demo (`make demo` builds first, then runs this): starts the C
# echo_server on a free port, runs every example client against it, prints
# what passed between them, and stops the server (by its pid, on exit).
#
# Each binding adds its client as ONE `client` line at the bottom:
#   client "LABEL" COMMAND ARGS...     (the server's URL is appended)
set -euo pipefail
cd "$(dirname "$0")/.."
EX=build/examples

log=$(mktemp)
server=
stop_server() {
  if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
    kill -TERM "$server"
    wait "$server" || true
  fi
  rm -f "$log"
}
trap stop_server EXIT

"$EX/echo_server" --host 127.0.0.1 --port 0 >"$log" 2>&1 &
server=$!
port=
for _ in $(seq 100); do
  port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$log")
  [ -n "$port" ] && break
  sleep 0.05
done
if [ -z "$port" ]; then
  echo "demo: echo_server did not start:" >&2
  cat "$log" >&2
  exit 1
fi
URL="ws://127.0.0.1:$port/"
echo "== echo_server (C, examples/c/echo_server.c) listening on $URL"

clients=0
client() {
  local label=$1
  shift
  echo
  echo "== $label"
  "$@" "$URL" 2>&1 | sed 's/^/   /'
  clients=$((clients + 1))
}

client "C client (examples/c/echo_client.c)" "$EX/echo_client" --send "hello from C" --send "wsx says: ça marche ✓"
client "C++ game loop (examples/cpp/game_loop.cpp), 30 frames at 60 Hz" "$EX/game_loop" --frames 30
client "C# client (examples/csharp/EchoClient.cs, Mono)" env LD_LIBRARY_PATH="target/${FFI_PROFILE:-release}" mono build/csharp/EchoClient.exe
client "Python client (examples/python/echo_client.py)" .venv/bin/python examples/python/echo_client.py

echo
echo "demo: $clients clients talked to the echo server; stopping it"
