#!/usr/bin/env bash
# The C tests of libwsx (`make test-ffi` runs this after building the library
# and the examples):
#   - every function of include/wsx.h is called by a test program;
#   - tests/c/test_*.c built with -Wall -Wextra -Werror and run plainly,
#     (test_abi_compat: a program built against an older, shorter callbacks
#     struct, and zero-filled structs with one callback, still work),
#     under AddressSanitizer + UBSan (static library), and under valgrind;
#   - the examples against each other and against a Python `websockets` peer,
#     the echo server also under valgrind, over TLS and on ::1 (IPv6);
#   - a reconnecting client across the echo server's graceful restart (SIGTERM);
#   - bring your own I/O: test_engine (wsx_engine, wsx_tls, the injected
#     allocator and random source, in memory), and the sansio examples
#     against Python websockets and against wsx's own loop (text, binary,
#     fragments, 16 MiB once, deflate on and off, close codes, wss://),
#     plainly, under ASan+UBSan and under valgrind, each reporting through
#     its counting allocator that every byte the library allocated was freed.
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
  for t in test_api test_net test_pubsub test_resilience test_leaks test_abi_compat test_pull test_http test_engine test_cluster test_telemetry; do
    $CC "${CFLAGS[@]}" "tests/c/$t.c" -o "$OUT/$t" -L"$LIBDIR" -Wl,-rpath,"$LIBDIR" -lwsx -lpthread || return 1
    $CC "${CFLAGS[@]}" "${SAN[@]}" "tests/c/$t.c" -o "$OUT/${t}_asan" "$LIBDIR/libwsx.a" "${STATIC_LIBS[@]}" || return 1
  done
  $CC "${CFLAGS[@]}" tests/c/restart_client.c -o "$OUT/restart_client" -L"$LIBDIR" -Wl,-rpath,"$LIBDIR" -lwsx
}

# test_telemetry, then its /metrics body through prometheus_client's strict
# OpenMetrics parser.
telemetry_and_parse() {
  "$OUT/test_telemetry" "$WORK/metrics.txt" &&
    "$PY" - "$WORK/metrics.txt" <<'PYEOF'
import sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
families = {f.name: f for f in text_string_to_metric_families(open(sys.argv[1]).read())}
assert families["wsx_messages_received"].samples[0].value == 4, families["wsx_messages_received"]
refused = {s.labels["status"]: s.value for s in families["wsx_handshakes_refused"].samples}
assert refused["401"] == 1 and refused["503"] == 1, refused
closes = {s.labels["code"]: s.value for s in families["wsx_closes"].samples}
assert closes["1000"] == 1, closes
print(f"OpenMetrics text parsed: {len(families)} families")
PYEOF
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

# A client CA with alice (valid) and bob (revoked in crl.pem), for mutual TLS.
make_client_certs() {
  local d=$WORK/tls
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=wsx client CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$d/client-ca.key" -out "$d/client-ca.pem" 2>/dev/null || return 1
  printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n' >"$d/client-ext"
  for who in alice bob; do
    openssl req -newkey rsa:2048 -nodes -subj "/O=wsx/CN=$who" -keyout "$d/$who.key" -out "$d/$who.csr" 2>/dev/null &&
      openssl x509 -req -in "$d/$who.csr" -CA "$d/client-ca.pem" -CAkey "$d/client-ca.key" -CAcreateserial \
        -days 2 -extfile "$d/client-ext" -out "$d/$who.pem" 2>/dev/null || return 1
  done
  : >"$d/index.txt"
  echo 01 >"$d/crlnumber"
  printf '[ca]\ndefault_ca = client_ca\n[client_ca]\ndatabase = %s\ncrlnumber = %s\ndefault_md = sha256\ndefault_crl_days = 2\n' \
    "$d/index.txt" "$d/crlnumber" >"$d/ca.cnf"
  openssl ca -config "$d/ca.cnf" -keyfile "$d/client-ca.key" -cert "$d/client-ca.pem" -revoke "$d/bob.pem" 2>/dev/null &&
    openssl ca -config "$d/ca.cnf" -keyfile "$d/client-ca.key" -cert "$d/client-ca.pem" -gencrl -out "$d/crl.pem" 2>/dev/null
}

run_tls_env() {
  WSX_TEST_CERT=$WORK/tls/cert.pem WSX_TEST_KEY=$WORK/tls/key.pem WSX_TEST_CA=$WORK/tls/ca.pem \
    WSX_TEST_CLIENT_CA=$WORK/tls/client-ca.pem WSX_TEST_ALICE_CERT=$WORK/tls/alice.pem \
    WSX_TEST_ALICE_KEY=$WORK/tls/alice.key "$@"
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

# IPv6 on ::1 in both roles: echo_server listening on ::1 for a Python
# websockets client, echo_client against a Python websockets server on ::1.
echo_over_ipv6_loopback() {
  start_bg echo_server_v6 "$EX/echo_server" --host ::1 || return 1
  "$PY" tests/c/peer.py echo-check-client "ws://[::1]:$BG_PORT/" || return 1
  stop_bg || return 1
  start_bg py_server_v6 "$PY" tests/c/peer.py echo-check-server ::1 || return 1
  "$EX/echo_client" "ws://[::1]:$BG_PORT/" || return 1
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

# --- routes_server: HTTP answers, routing, mutual TLS, ALPN ---

# curl_status ARGS...: the status line curl got, without its CR.
curl_status() {
  curl -s -i --max-time 5 "$@" | head -1 | tr -d '\r'
}

http_answers_and_malformed_requests_with_curl() {
  command -v curl >/dev/null || { echo "curl is missing (make deps installs it)"; return 1; }
  local host
  for host in 127.0.0.1 ::1; do
    if [ "$host" = ::1 ] && ! "$PY" -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2>/dev/null; then
      echo "note: no IPv6 here: ::1 skipped"
      continue
    fi
    start_bg "routes_$host" "$EX/routes_server" --host "$host" || return 1
    local base="http://127.0.0.1:$BG_PORT"
    [ "$host" = ::1 ] && base="http://[::1]:$BG_PORT"
    local out=$WORK/curl.out long
    long=$(head -c 10000 /dev/zero | tr '\0' a)
    curl -s -i -g --max-time 5 "$base/healthz" >"$out" || return 1
    grep -q "^HTTP/1.1 200 OK" "$out" && grep -q "^Content-Length: 3" "$out" && [ "$(tail -c 3 "$out")" = "ok" ] ||
      { cat "$out"; return 1; }
    curl -s -g --max-time 5 "$base/" | grep -q "<title>routes</title>" || return 1
    curl -s -i -g --max-time 5 "$base/" | grep -qi "^Content-Type: text/html" || return 1
    # -L follows the 301 to the page.
    curl -s -g -L --max-time 5 "$base/old" | grep -q "<title>routes</title>" || return 1
    curl -s -i -g --max-time 5 "$base/old" | grep -q "^Location: /" || return 1
    curl -s -i -g --max-time 5 "$base/private" >"$out"
    grep -q "^HTTP/1.1 401 Unauthorized" "$out" && grep -q '^WWW-Authenticate: Bearer realm="routes"' "$out" ||
      { cat "$out"; return 1; }
    [ "$(curl_status -g "$base/slow")" = "HTTP/1.1 200 OK" ] || return 1
    curl -s -i -g --max-time 5 "$base/metrics" >"$out"
    grep -q "^HTTP/1.1 200 OK" "$out" && grep -q "^Content-Type: application/openmetrics-text" "$out" &&
      grep -q "^wsx_http_answered_total [1-9]" "$out" && [ "$(tail -c 6 "$out")" = "# EOF" ] || { cat "$out"; return 1; }
    [ "$(curl_status -g "$base/nope")" = "HTTP/1.1 404 Not Found" ] || return 1
    # Malformed or unfit requests: the right error, not a silent drop.
    curl -s -i -g --max-time 5 -X POST -d "some body" "$base/echo" >"$out"
    grep -q "^HTTP/1.1 405 Method Not Allowed" "$out" && grep -q "^Allow: GET" "$out" || { cat "$out"; return 1; }
    [ "$(curl_status -g "$base/$long")" = "HTTP/1.1 414 URI Too Long" ] || return 1
    [ "$(curl_status -g -H "X-Big: $long" "$base/")" = "HTTP/1.1 431 Request Header Fields Too Large" ] || return 1
    [ "$(curl_status -g --http1.0 "$base/")" = "HTTP/1.1 505 HTTP Version Not Supported" ] || return 1
    [ "$(curl_status -g --request-target '*' "$base/")" = "HTTP/1.1 400 Bad Request" ] || return 1
    curl -s -i -g --max-time 5 "$base/echo" >"$out"
    grep -q "^HTTP/1.1 426 Upgrade Required" "$out" && grep -q "^Upgrade: websocket" "$out" || { cat "$out"; return 1; }
    stop_bg || return 1
  done
}

routes_with_python_clients() {
  start_bg routes_vg "${VALGRIND[@]}" "$EX/routes_server" || return 1
  "$PY" tests/c/peer.py routes-check "ws://127.0.0.1:$BG_PORT" || return 1
  stop_bg
}

mutual_tls_with_python_clients() {
  local d=$WORK/tls
  start_bg routes_mtls "$EX/routes_server" --tls-cert "$d/cert.pem" --tls-key "$d/key.pem" \
    --client-ca "$d/client-ca.pem" --client-crl "$d/crl.pem" --require-client-cert || return 1
  local url="wss://localhost:$BG_PORT/whoami" got
  got=$("$PY" tests/c/peer.py whoami "$url" "$d/ca.pem" "$d/alice.pem" "$d/alice.key")
  [ "$got" = "CN=alice,O=wsx" ] || { echo "alice: $got"; return 1; }
  got=$("$PY" tests/c/peer.py whoami "$url" "$d/ca.pem")
  case $got in refused:*) ;; *) echo "no certificate: $got"; return 1 ;; esac
  got=$("$PY" tests/c/peer.py whoami "$url" "$d/ca.pem" "$d/bob.pem" "$d/bob.key")
  case $got in refused:*) ;; *) echo "revoked bob: $got"; return 1 ;; esac
  got=$("$PY" tests/c/peer.py whoami "$url" "$d/ca.pem" "$d/cert.pem" "$d/key.pem")
  case $got in refused:*) ;; *) echo "another CA's certificate: $got"; return 1 ;; esac
  grep -q "^request /whoami from CN=alice,O=wsx (1 certificates)$" "$WORK/routes_mtls.log" || return 1
  grep -q "Revoked" "$WORK/routes_mtls.log" || { cat "$WORK/routes_mtls.log"; return 1; }
  stop_bg || return 1
  # Requested, not required: anonymous is let in, alice is known.
  start_bg routes_mtls_opt "$EX/routes_server" --tls-cert "$d/cert.pem" --tls-key "$d/key.pem" \
    --client-ca "$d/client-ca.pem" || return 1
  url="wss://localhost:$BG_PORT/whoami"
  got=$("$PY" tests/c/peer.py whoami "$url" "$d/ca.pem")
  [ "$got" = anonymous ] || { echo "anonymous: $got"; return 1; }
  got=$("$PY" tests/c/peer.py whoami "$url" "$d/ca.pem" "$d/alice.pem" "$d/alice.key")
  [ "$got" = "CN=alice,O=wsx" ] || { echo "alice (optional): $got"; return 1; }
  stop_bg
}

alpn_is_http_1_1_only() {
  local d=$WORK/tls got
  start_bg routes_alpn "$EX/routes_server" --tls-cert "$d/cert.pem" --tls-key "$d/key.pem" || return 1
  got=$("$PY" tests/c/peer.py alpn 127.0.0.1 "$BG_PORT" "$d/ca.pem" h2,http/1.1)
  [ "$got" = http/1.1 ] || { echo "h2,http/1.1: $got"; return 1; }
  got=$("$PY" tests/c/peer.py alpn 127.0.0.1 "$BG_PORT" "$d/ca.pem" h2)
  case $got in refused:*'no application protocol'*) ;; *) echo "h2 only: $got"; return 1 ;; esac
  openssl s_client -connect "127.0.0.1:$BG_PORT" -servername localhost -alpn h2,http/1.1 \
    -CAfile "$d/ca.pem" </dev/null 2>/dev/null | grep -q "^ALPN protocol: http/1.1" || return 1
  stop_bg
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

# --- bring your own I/O: wsx_engine and wsx_tls over the examples' own sockets ---

build_sansio_asan() {
  for e in sansio_echo_client sansio_echo_server; do
    $CC "${CFLAGS[@]}" "${SAN[@]}" "examples/c/$e.c" -o "$OUT/${e}_asan" "$LIBDIR/libwsx.a" "${STATIC_LIBS[@]}" || return 1
  done
}

# no_leak LOG NAME: the example's counting allocator saw allocations and
# every byte freed.
no_leak() {
  grep -q "^$2: allocator: [1-9][0-9]* allocations, .* 0 bytes live$" "$1" || {
    echo "no clean allocator tally from $2 in $1:"
    cat "$1"
    return 1
  }
  grep "^$2: allocator:" "$1" | sed 's/^/note: /'
}

SANSIO_RUNS=0

# sansio_client_vs_python CLIENT PEER-ARGS -- CLIENT-ARGS: the client echoes
# what the Python server sends and checks the close code it expects.
sansio_client_vs_python() {
  local client=$1 code=$2
  shift 2
  local peer_args=() client_args=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do peer_args+=("$1"); shift; done
  shift
  client_args=("$@")
  SANSIO_RUNS=$((SANSIO_RUNS + 1))
  local log=py_sansio_$SANSIO_RUNS
  start_bg "$log" "$PY" tests/c/sansio_peer.py server --close "$code" "${peer_args[@]}" || return 1
  local url=ws://127.0.0.1:$BG_PORT/
  case " ${peer_args[*]} " in *" --tls "*) url=wss://localhost:$BG_PORT/ ;; esac
  $client "${client_args[@]}" "$url" >"$WORK/sansio_client.out" 2>&1 || { cat "$WORK/sansio_client.out" "$WORK/$log.log"; return 1; }
  wait "$BG_PID" || { cat "$WORK/$log.log"; return 1; }
  cat "$WORK/$log.log"
  grep -q "^closed: $code bye$" "$WORK/sansio_client.out" || { cat "$WORK/sansio_client.out"; return 1; }
  no_leak "$WORK/sansio_client.out" sansio_echo_client
}

sansio_client_python_deflate_big() {
  sansio_client_vs_python "$EX/sansio_echo_client" 4001 --big --expect-deflate yes --
}
sansio_client_python_plain_streaming() {
  sansio_client_vs_python "$EX/sansio_echo_client" 4003 --expect-deflate no -- --no-compress --stream
}
sansio_client_python_valgrind() {
  sansio_client_vs_python "${VALGRIND[*]} $EX/sansio_echo_client" 4001 --expect-deflate yes --
}
sansio_client_python_asan() {
  sansio_client_vs_python "$OUT/sansio_echo_client_asan" 4004 --expect-deflate yes -- --stream
}
sansio_client_python_tls() {
  sansio_client_vs_python "$EX/sansio_echo_client" 4001 --tls "$WORK/tls/cert.pem" "$WORK/tls/key.pem" --expect-deflate yes -- --ca "$WORK/tls/ca.pem" || return 1
  # Without the test CA the certificate is refused.
  start_bg py_server_tls "$PY" tests/c/sansio_peer.py server --tls "$WORK/tls/cert.pem" "$WORK/tls/key.pem" || return 1
  if "$EX/sansio_echo_client" "wss://localhost:$BG_PORT/" >"$WORK/refused.out" 2>&1; then
    echo "a certificate of an unknown CA was accepted"; return 1
  fi
  cat "$WORK/refused.out"
  grep -q "TLS: .*certificate" "$WORK/refused.out" && no_leak "$WORK/refused.out" sansio_echo_client || return 1
  kill "$BG_PID" 2>/dev/null; wait "$BG_PID" 2>/dev/null; return 0
}

# sansio_server_vs NAME SERVER-ARGS...: starts the server (a command line).
sansio_server_start() {
  start_bg "$1" "${@:2}"
}

# sansio_server_stop NAME: SIGTERM, exit 0, and a clean allocator tally.
sansio_server_stop() {
  stop_bg || { echo "the sansio server did not exit 0"; cat "$WORK/$1.log"; return 1; }
  no_leak "$WORK/$1.log" sansio_echo_server
}

sansio_server_python_deflate_big() {
  sansio_server_start sansio_server_big "$EX/sansio_echo_server" --compress || return 1
  "$PY" tests/c/sansio_peer.py client "ws://127.0.0.1:$BG_PORT/" --big --close 4002 --expect-deflate yes || return 1
  "$PY" tests/c/sansio_peer.py client "ws://127.0.0.1:$BG_PORT/" --no-compress --close 1000 --expect-deflate no || return 1
  sansio_server_stop sansio_server_big
}

sansio_server_python_plain() {
  sansio_server_start sansio_server_plain "$EX/sansio_echo_server" || return 1
  "$PY" tests/c/sansio_peer.py client "ws://127.0.0.1:$BG_PORT/" --close 4006 --expect-deflate no || return 1
  sansio_server_stop sansio_server_plain
}

sansio_server_valgrind() {
  sansio_server_start sansio_server_vg "${VALGRIND[@]}" "$EX/sansio_echo_server" --compress || return 1
  "$PY" tests/c/sansio_peer.py client "ws://127.0.0.1:$BG_PORT/" --close 4002 --expect-deflate yes || return 1
  "$EX/echo_client" --send "under valgrind" "ws://127.0.0.1:$BG_PORT/" >"$WORK/client.out" || return 1
  grep -qx "received: under valgrind" "$WORK/client.out" || return 1
  sansio_server_stop sansio_server_vg
}

sansio_server_asan() {
  sansio_server_start sansio_server_asan "$OUT/sansio_echo_server_asan" --compress || return 1
  "$PY" tests/c/sansio_peer.py client "ws://127.0.0.1:$BG_PORT/" --close 4002 --expect-deflate yes || return 1
  "$PY" tests/c/sansio_peer.py client "ws://127.0.0.1:$BG_PORT/" --no-compress --close 4007 --expect-deflate no || return 1
  sansio_server_stop sansio_server_asan
}

# The sansio examples against wsx's own event loop (examples echo_server
# and echo_client), both ways, with and without compression, and refusal.
sansio_against_the_loop() {
  start_bg echo_server_for_sansio "$EX/echo_server" || return 1
  local args
  for args in "" "--no-compress"; do
    # shellcheck disable=SC2086
    "$EX/sansio_echo_client" $args --send hello --send-bytes 65536 --send "third \u00e9" --close 4005 \
      "ws://127.0.0.1:$BG_PORT/" >"$WORK/sc.out" 2>&1 || { cat "$WORK/sc.out"; return 1; }
    cat "$WORK/sc.out"
    grep -qx "received: hello" "$WORK/sc.out" && grep -qx "received: 65536 bytes of binary (matches)" "$WORK/sc.out" &&
      grep -q "^closed: 4005" "$WORK/sc.out" && no_leak "$WORK/sc.out" sansio_echo_client || return 1
  done
  stop_bg || return 1
  sansio_server_start sansio_server_loop "$EX/sansio_echo_server" --compress || return 1
  "$EX/echo_client" --send hello --send "second message" "ws://127.0.0.1:$BG_PORT/" >"$WORK/client.out" || return 1
  grep -qx "received: hello" "$WORK/client.out" && grep -qx "received: second message" "$WORK/client.out" &&
    grep -q "^closed: 1000" "$WORK/client.out" || return 1
  "$EX/echo_client" --no-compress --send plain "ws://127.0.0.1:$BG_PORT/" >"$WORK/client.out" || return 1
  grep -qx "received: plain" "$WORK/client.out" || return 1
  # A refused request (403) reaches the loop's client as an error.
  if "$EX/echo_client" --send x "ws://127.0.0.1:$BG_PORT/refuse" 2>"$WORK/err"; then return 1; fi
  grep -q "403" "$WORK/err" || { cat "$WORK/err"; return 1; }
  grep -q "^open (permessage-deflate)$" "$WORK/sansio_server_loop.log" && grep -q "^open$" "$WORK/sansio_server_loop.log" || return 1
  sansio_server_stop sansio_server_loop
}

sansio_server_tls() {
  sansio_server_start sansio_server_tls "$EX/sansio_echo_server" --tls-cert "$WORK/tls/cert.pem" --tls-key "$WORK/tls/key.pem" || return 1
  "$EX/echo_client" --ca "$WORK/tls/ca.pem" --send "over TLS" "wss://localhost:$BG_PORT/" >"$WORK/client.out" || return 1
  grep -qx "received: over TLS" "$WORK/client.out" || return 1
  "$EX/sansio_echo_client" --ca "$WORK/tls/ca.pem" --send "both sansio" --send-bytes 300000 --close 4008 \
    "wss://localhost:$BG_PORT/" >"$WORK/sc.out" 2>&1 || { cat "$WORK/sc.out"; return 1; }
  grep -qx "received: both sansio" "$WORK/sc.out" && grep -q "^closed: 4008" "$WORK/sc.out" || return 1
  sansio_server_stop sansio_server_tls
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
step "build the sansio examples with ASan+UBSan" build_sansio_asan
step "every function in wsx.h is called by a C test" every_function_is_tested
step "test certificates (openssl)" make_certs
step "client certificates and a CRL for mutual TLS (openssl)" make_client_certs
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
step "test_http (plain HTTP answers, routing, mutual TLS)" run_tls_env "$OUT/test_http"
step "test_http under ASan+UBSan" run_tls_env "$OUT/test_http_asan"
step "test_http under valgrind" run_tls_env "${VALGRIND[@]}" "$OUT/test_http"
step "redis-server for the cluster tests (own instance, free port)" start_redis
step "test_cluster (against that Redis)" env WSX_TEST_REDIS_PORT="$REDIS_PORT" "$OUT/test_cluster"
step "test_cluster under ASan+UBSan" env WSX_TEST_REDIS_PORT="$REDIS_PORT" "$OUT/test_cluster_asan"
step "test_cluster under valgrind" env WSX_TEST_REDIS_PORT="$REDIS_PORT" "${VALGRIND[@]}" "$OUT/test_cluster"
step "test_telemetry (log callback, metrics, /metrics)" telemetry_and_parse
step "test_telemetry under ASan+UBSan" "$OUT/test_telemetry_asan"
step "test_telemetry under valgrind" "${VALGRIND[@]}" "$OUT/test_telemetry"
step "echo_client --send against echo_server" echo_client_and_server
step "echo_server under valgrind against Python and C clients" echo_server_under_valgrind
step "echo_client (valgrind) against a Python websockets server" echo_client_against_python_server
step "echo_client reports a refused connection" echo_client_fails_on_refused_connection
step "IPv6 on ::1: echo_server and echo_client with Python websockets peers" echo_over_ipv6_loopback
step "echo_client and echo_server over TLS" echo_over_tls
step "routes_server: HTTP answers and malformed requests with curl (127.0.0.1, ::1)" http_answers_and_malformed_requests_with_curl
step "routes_server (valgrind): two WebSocket endpoints by path, with Python clients" routes_with_python_clients
step "routes_server: mutual TLS with Python websockets clients (alice, none, revoked, other CA)" mutual_tls_with_python_clients
step "routes_server: ALPN http/1.1 only (Python ssl, openssl s_client)" alpn_is_http_1_1_only
step "game_loop against echo_server" game_loop_against_echo_server
step "two game_loops through chat_server" two_game_loops_through_chat_server
step "chat_server (valgrind) rooms with Python clients" chat_rooms_against_python_clients
step "three chat_server processes share rooms through Redis (--cluster)" chat_rooms_across_three_servers
step "game_loop reconnects after a drop (Python server)" game_loop_reconnects_after_a_drop
step "a reconnecting client survives the echo server's SIGTERM restart" client_survives_a_sigterm_restart
step "test_engine (wsx_engine, wsx_tls, injected allocator and random source)" run_tls_env "$OUT/test_engine"
step "test_engine under ASan+UBSan" run_tls_env "$OUT/test_engine_asan"
step "test_engine under valgrind" run_tls_env "${VALGRIND[@]}" "$OUT/test_engine"
step "sansio_echo_client vs Python: deflate, 16 MiB, fragments, close 4001" sansio_client_python_deflate_big
step "sansio_echo_client vs Python: no deflate, streaming, close 4003" sansio_client_python_plain_streaming
step "sansio_echo_client (valgrind) vs Python" sansio_client_python_valgrind
step "sansio_echo_client (ASan+UBSan) vs Python, streaming" sansio_client_python_asan
step "sansio_echo_client over wss:// (wsx_tls) vs Python with a test CA" sansio_client_python_tls
step "sansio_echo_server vs Python: deflate, 16 MiB, then no deflate" sansio_server_python_deflate_big
step "sansio_echo_server vs Python without compression, close 4006" sansio_server_python_plain
step "sansio_echo_server under valgrind vs Python and C clients" sansio_server_valgrind
step "sansio_echo_server under ASan+UBSan vs Python" sansio_server_asan
step "sansio examples against wsx's own loop (both ways, deflate on/off, 403)" sansio_against_the_loop
step "sansio_echo_server over TLS (wsx_tls) vs loop and sansio clients" sansio_server_tls

finish_steps
