#!/usr/bin/env bash
# The C tests of libwsx (`make test-ffi` runs this after building the library
# and the examples):
#   - every function of include/wsx.h is called by a test program;
#   - tests/c/test_*.c built with -Wall -Wextra -Werror and run plainly,
#     (test_abi_compat: a program built against an older, shorter callbacks
#     struct, and zero-filled structs with one callback, still work),
#     under AddressSanitizer + UBSan (static library), and under valgrind;
#   - the examples against each other and against a Python `websockets` peer,
#     the echo server also under valgrind and over TLS;
#   - a reconnecting client across the echo server's graceful restart (SIGTERM);
#   - cluster pub/sub against a redis-server of its own (on a free port):
#     test_cluster, and three chat_server processes sharing rooms.
# redis-server missing is a failure that says `make deps` installs it.
# `make install` and programs built against it: tests/install/run.sh.
# Prints "N passed, M failed" at the end; exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
PROFILE=${FFI_PROFILE:-debug}
LIBDIR=$ROOT/target/$PROFILE
PY=${PY:-$ROOT/.venv/bin/python}
EX=$ROOT/build/examples
OUT=$ROOT/build/tests-c
CC=${CC:-cc}
CYCLES=${WSX_TEST_CYCLES:-2000}
VALGRIND_CYCLES=${WSX_VALGRIND_CYCLES:-200}
WORK=$(mktemp -d)
mkdir -p "$OUT"

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
  rm -rf "$WORK"
}
trap cleanup EXIT

# shellcheck source=tests/steps.sh
source "$ROOT/tests/steps.sh"

# start_bg NAME COMMAND...: starts a server in the background; sets BG_PID and
# BG_PORT from its "listening on HOST:PORT" line.
start_bg() {
  local log=$WORK/$1.log
  shift
  "$@" >"$log" 2>&1 &
  BG_PID=$!
  pids+=("$BG_PID")
  BG_PORT=
  for _ in $(seq 200); do
    BG_PORT=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$log")
    [ -n "$BG_PORT" ] && return 0
    kill -0 "$BG_PID" 2>/dev/null || break
    sleep 0.05
  done
  echo "server $* did not start:" && cat "$log"
  return 1
}

# wait_for_line LINE FILE: waits (10 s at most) until FILE has LINE.
wait_for_line() {
  for _ in $(seq 200); do
    grep -qx "$1" "$2" && return 0
    sleep 0.05
  done
  echo "no line \"$1\" in $2 after 10 s:" && cat "$2"
  return 1
}

# stop_bg: SIGTERM to the last server, then its exit status.
stop_bg() {
  kill -TERM "$BG_PID" 2>/dev/null
  wait "$BG_PID"
}

STATIC_LIBS=(-lpthread -ldl -lm -lrt -lutil)
WARN=(-std=c11 -Wall -Wextra -Werror -g)
CFLAGS=("${WARN[@]}" -I"$ROOT/include")
SAN=(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
VALGRIND=(valgrind -q --suppressions="$ROOT/ffi/valgrind.supp" --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=1)
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

build_tests() {
  for t in test_api test_net test_pubsub test_resilience test_leaks test_abi_compat test_pull test_cluster; do
    $CC "${CFLAGS[@]}" "tests/c/$t.c" -o "$OUT/$t" -L"$LIBDIR" -Wl,-rpath,"$LIBDIR" -lwsx -lpthread || return 1
    $CC "${CFLAGS[@]}" "${SAN[@]}" "tests/c/$t.c" -o "$OUT/${t}_asan" "$LIBDIR/libwsx.a" "${STATIC_LIBS[@]}" || return 1
  done
  $CC "${CFLAGS[@]}" tests/c/restart_client.c -o "$OUT/restart_client" -L"$LIBDIR" -Wl,-rpath,"$LIBDIR" -lwsx
}

every_function_is_tested() {
  local missing=0
  for fn in $(grep -oE '\bwsx_[a-z0-9_]+\(' include/wsx.h | tr -d '(' | sort -u); do
    if ! grep -q "\b$fn(" tests/c/*.c; then
      echo "not called by any test in tests/c: $fn"
      missing=1
    fi
  done
  return $missing
}

make_certs() {
  local d=$WORK/tls
  mkdir -p "$d"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=wsx test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" \
    -keyout "$d/ca.key" -out "$d/ca.pem" &&
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout "$d/key.pem" -out "$d/req.csr" &&
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$d/ext" &&
    openssl x509 -req -in "$d/req.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial -days 2 \
      -extfile "$d/ext" -out "$d/cert.pem"
}

run_tls_env() {
  WSX_TEST_CERT=$WORK/tls/cert.pem WSX_TEST_KEY=$WORK/tls/key.pem WSX_TEST_CA=$WORK/tls/ca.pem "$@"
}

# --- the examples against each other and against Python ---

echo_client_and_server() {
  start_bg echo_server "$EX/echo_server" || return 1
  "$EX/echo_client" --send hello --send "second message" "ws://127.0.0.1:$BG_PORT/" >"$WORK/client.out" || return 1
  cat "$WORK/client.out"
  grep -qx "received: hello" "$WORK/client.out" && grep -qx "received: second message" "$WORK/client.out" &&
    grep -q "^closed: 1000" "$WORK/client.out" || return 1
  stop_bg # graceful shutdown on SIGTERM: exit 0
}

echo_server_under_valgrind() {
  start_bg echo_server_vg "${VALGRIND[@]}" "$EX/echo_server" || return 1
  "$PY" tests/c/peer.py echo-check-client "ws://127.0.0.1:$BG_PORT/" || return 1
  "$EX/echo_client" --send "under valgrind" "ws://127.0.0.1:$BG_PORT/" >"$WORK/client.out" || return 1
  grep -qx "received: under valgrind" "$WORK/client.out" || return 1
  stop_bg
}

echo_client_against_python_server() {
  start_bg py_server "$PY" tests/c/peer.py echo-check-server || return 1
  "${VALGRIND[@]}" "$EX/echo_client" "ws://127.0.0.1:$BG_PORT/" || return 1
  wait "$BG_PID"
}

echo_client_fails_on_refused_connection() {
  start_bg echo_server "$EX/echo_server" || return 1
  local port=$BG_PORT
  stop_bg || return 1
  if "$EX/echo_client" "ws://127.0.0.1:$port/" 2>"$WORK/err"; then return 1; fi
  cat "$WORK/err"
  grep -q "echo_client: " "$WORK/err"
}

echo_over_tls() {
  start_bg echo_server_tls "$EX/echo_server" --tls-cert "$WORK/tls/cert.pem" --tls-key "$WORK/tls/key.pem" || return 1
  "$EX/echo_client" --ca "$WORK/tls/ca.pem" --send "over TLS" "wss://localhost:$BG_PORT/" >"$WORK/client.out" || return 1
  grep -qx "received: over TLS" "$WORK/client.out" || return 1
  # Without the CA the certificate is refused.
  if "$EX/echo_client" --send x "wss://localhost:$BG_PORT/" 2>/dev/null; then return 1; fi
  stop_bg
}

game_loop_against_echo_server() {
  start_bg echo_server "$EX/echo_server" || return 1
  "$EX/game_loop" --frames 90 "ws://127.0.0.1:$BG_PORT/" | tee "$WORK/game.out" || return 1
  grep -q "applied [1-9]" "$WORK/game.out" || return 1
  stop_bg
}

two_game_loops_through_chat_server() {
  start_bg chat_server "$EX/chat_server" || return 1
  "$EX/game_loop" --frames 120 "ws://127.0.0.1:$BG_PORT/" >"$WORK/a.out" &
  local a=$!
  "$EX/game_loop" --frames 120 "ws://127.0.0.1:$BG_PORT/" >"$WORK/b.out" || return 1
  wait "$a" || return 1
  cat "$WORK/a.out" "$WORK/b.out"
  stop_bg
}

chat_rooms_against_python_clients() {
  start_bg chat_server "${VALGRIND[@]}" "$EX/chat_server" || return 1
  "$PY" tests/c/peer.py chat-rooms-check "ws://127.0.0.1:$BG_PORT" || return 1
  stop_bg
}

game_loop_reconnects_after_a_drop() {
  start_bg drop_server "$PY" tests/c/peer.py drop-server 20 || return 1
  "$EX/game_loop" --frames 150 "ws://127.0.0.1:$BG_PORT/" | tee "$WORK/game.out" || return 1
  grep -q "reconnects [1-9]" "$WORK/game.out"
}

# The echo server stopped by SIGTERM closes with 1001 (going away); a client
# with reconnecting on comes back to the new server on the same port.
client_survives_a_sigterm_restart() {
  start_bg echo_server "$EX/echo_server" || return 1
  local port=$BG_PORT out=$WORK/restart.out
  "$OUT/restart_client" "ws://127.0.0.1:$port/" >"$out" 2>&1 &
  local client=$!
  pids+=("$client")
  wait_for_line "echo 1: before" "$out" || return 1
  stop_bg || { echo "the echo server did not exit 0 on SIGTERM"; return 1; }
  start_bg echo_server_again "$EX/echo_server" --port "$port" || return 1
  wait "$client" || { echo "restart_client failed:"; cat "$out"; return 1; }
  cat "$out"
  grep -qx "disconnected 1001" "$out" && grep -qx "echo 2: after" "$out" || return 1
  stop_bg
}

# A redis-server of the tests' own, on a free port of 127.0.0.1 (never the
# system's service); stopped with the other background processes.
start_redis() {
  if ! command -v redis-server >/dev/null; then
    echo "redis-server is missing: \`make deps\` installs it (Debian's redis-server)"
    return 1
  fi
  REDIS_PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no >"$WORK/redis.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 200); do
    [ "$(redis-cli -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ] && return 0
    sleep 0.05
  done
  echo "redis-server did not start:" && cat "$WORK/redis.log"
  return 1
}

# Three chat_server processes in one cluster: members of a room on each get
# every message once, in order; each server holds one Redis subscription.
chat_rooms_across_three_servers() {
  local urls=() servers=()
  for n in 1 2 3; do
    start_bg "chat_cluster_$n" "$EX/chat_server" --cluster "redis://127.0.0.1:$REDIS_PORT" --node-id "chat-$n" || return 1
    servers+=("$BG_PID")
    urls+=("ws://127.0.0.1:$BG_PORT")
    for _ in $(seq 200); do
      grep -q "^cluster up" "$WORK/chat_cluster_$n.log" && break
      sleep 0.05
    done
    grep -q "^cluster up" "$WORK/chat_cluster_$n.log" || { cat "$WORK/chat_cluster_$n.log"; return 1; }
  done
  "$PY" tests/c/peer.py chat-cluster-check "$REDIS_PORT" "${urls[@]}" || return 1
  for pid in "${servers[@]}"; do kill -TERM "$pid"; done
  for pid in "${servers[@]}"; do wait "$pid" || return 1; done
  if grep -h "cluster gap" "$WORK"/chat_cluster_*.log; then return 1; fi
}

step "build the C tests (-Wall -Wextra -Werror; plain and ASan+UBSan)" build_tests
step "every function in wsx.h is called by a C test" every_function_is_tested
step "test certificates (openssl)" make_certs
step "test_api" "$OUT/test_api"
step "test_api under ASan+UBSan" "$OUT/test_api_asan"
step "test_api under valgrind" "${VALGRIND[@]}" "$OUT/test_api"
step "test_net ($CYCLES open/close cycles)" run_tls_env env WSX_TEST_CYCLES="$CYCLES" "$OUT/test_net"
step "test_net under ASan+UBSan" run_tls_env env WSX_TEST_CYCLES="$CYCLES" "$OUT/test_net_asan"
step "test_net under valgrind ($VALGRIND_CYCLES cycles)" run_tls_env env WSX_TEST_CYCLES="$VALGRIND_CYCLES" "${VALGRIND[@]}" "$OUT/test_net"
step "test_pubsub" "$OUT/test_pubsub"
step "test_pubsub under ASan+UBSan" "$OUT/test_pubsub_asan"
step "test_pubsub under valgrind" "${VALGRIND[@]}" "$OUT/test_pubsub"
step "test_resilience" "$OUT/test_resilience"
step "test_resilience under ASan+UBSan" "$OUT/test_resilience_asan"
step "test_resilience under valgrind" "${VALGRIND[@]}" "$OUT/test_resilience"
step "test_leaks" "$OUT/test_leaks"
step "test_leaks under ASan+UBSan" "$OUT/test_leaks_asan"
step "test_leaks under valgrind" "${VALGRIND[@]}" "$OUT/test_leaks"
step "test_abi_compat (older, newer and zero-filled structs)" "$OUT/test_abi_compat"
step "test_abi_compat under ASan+UBSan" "$OUT/test_abi_compat_asan"
step "test_abi_compat under valgrind" "${VALGRIND[@]}" "$OUT/test_abi_compat"
step "test_pull (pull mode, close info, deferred decisions)" "$OUT/test_pull"
step "test_pull under ASan+UBSan" "$OUT/test_pull_asan"
step "test_pull under valgrind" "${VALGRIND[@]}" "$OUT/test_pull"
step "redis-server for the cluster tests (own instance, free port)" start_redis
step "test_cluster (against that Redis)" env WSX_TEST_REDIS_PORT="$REDIS_PORT" "$OUT/test_cluster"
step "test_cluster under ASan+UBSan" env WSX_TEST_REDIS_PORT="$REDIS_PORT" "$OUT/test_cluster_asan"
step "test_cluster under valgrind" env WSX_TEST_REDIS_PORT="$REDIS_PORT" "${VALGRIND[@]}" "$OUT/test_cluster"
step "echo_client --send against echo_server" echo_client_and_server
step "echo_server under valgrind against Python and C clients" echo_server_under_valgrind
step "echo_client (valgrind) against a Python websockets server" echo_client_against_python_server
step "echo_client reports a refused connection" echo_client_fails_on_refused_connection
step "echo_client and echo_server over TLS" echo_over_tls
step "game_loop against echo_server" game_loop_against_echo_server
step "two game_loops through chat_server" two_game_loops_through_chat_server
step "chat_server (valgrind) rooms with Python clients" chat_rooms_against_python_clients
step "three chat_server processes share rooms through Redis (--cluster)" chat_rooms_across_three_servers
step "game_loop reconnects after a drop (Python server)" game_loop_reconnects_after_a_drop
step "a reconnecting client survives the echo server's SIGTERM restart" client_survives_a_sigterm_restart

finish_steps
