/*
 * wsx: a WebSocket (RFC 6455) client and server library. C API, ABI 0.2.
 *
 * READING ORDER. Results, the loop (wsx_loop), clients (wsx_loop_connect),
 * servers (wsx_loop_listen, the upgrade decision), connections (wsx_conn),
 * options (wsx_client_options, wsx_server_options and the settings they
 * share, wsx_conn_options), pub/sub, cluster pub/sub, defaults, then bring
 * your own I/O (wsx_engine, wsx_tls, wsx_allocator_set, wsx_random_set: see
 * the section BRING YOUR OWN I/O below). Types come first.
 *
 * NAMES. Every function is wsx_<object>_<verb>: wsx_loop_connect,
 * wsx_conn_send, wsx_server_free. Every enum value is WSX_<ENUM>_<VARIANT>
 * (WSX_MSG_KIND_TEXT, WSX_STATE_OPEN), but results, which are WSX_OK and
 * WSX_ERR_<WHAT>. Opaque types are `typedef struct wsx_x wsx_x`.
 *
 * EXTENSIBLE STRUCTS. Every struct the caller fills, or gives the library
 * to fill, starts with `size_t struct_size`: set it to sizeof the struct
 * (`wsx_conn_callbacks cb = {0}; cb.struct_size = sizeof cb;`) and zero the
 * rest. The library reads or writes min(struct_size, its own size) bytes:
 * fields a program compiled against an older header does not know take
 * their zero/default value, and a newer program's extra fields are ignored
 * by an older library. struct_size 0, or smaller than the struct's first
 * field after struct_size, is WSX_ERR_INVALID_ARGUMENT (see
 * wsx_last_error_message). Later versions add fields only at the end, past
 * this version's sizeof. Option defaults come through such structs too
 * (wsx_defaults_get, wsx_deflate_options_default, ...). Structs the library
 * passes to callbacks (wsx_open, wsx_close, ...) are read-only and only grow
 * at the end; wsx_header is a frozen pair.
 *
 * RESULTS. Every fallible function returns a wsx_result (WSX_OK = 0).
 * Outputs go through trailing out_* parameters, written only on success.
 * wsx_result_str() gives static text; wsx_last_error_message() gives the
 * message of the last failed call on the calling thread. Nothing needs
 * freeing on an error path. No panic or Rust unwinding ever reaches C:
 * an internal error is WSX_ERR_PANIC. Enum parameters are checked: a value
 * outside the enum is WSX_ERR_INVALID_ARGUMENT.
 *
 * OWNERSHIP.
 *   - Every object has one create and one free: wsx_loop_new/_free,
 *     wsx_loop_listen/wsx_server_free, *_options_new/_free,
 *     wsx_upgrade_defer/wsx_pending_upgrade_free,
 *     wsx_attempt_defer/wsx_pending_attempt_free; the wsx_resolution a
 *     resolver callback gets is freed with wsx_resolution_free. Freeing NULL
 *     is a no-op.
 *   - wsx_conn is reference-counted. The library holds a reference while the
 *     connection runs; the wsx_conn* passed to callbacks is that one (the
 *     same pointer for every callback of a connection, and the one
 *     wsx_loop_connect returned): it is BORROWED and stays valid at least
 *     until the close callback returns. wsx_loop_connect and wsx_conn_retain
 *     give the caller a reference of its own, released with
 *     wsx_conn_release, which may be called anywhere, also inside the
 *     connection's own callbacks. Using a closed connection returns
 *     WSX_ERR_CLOSED, never a crash.
 *   - wsx_conn_options* (from wsx_client_options_conn/wsx_server_options_conn)
 *     is borrowed from its options: valid until they are freed; never free it.
 *   - user_data: from the moment a callbacks struct is passed to
 *     wsx_loop_connect, wsx_loop_listen or wsx_upgrade_set_callbacks (even
 *     if that call fails), the library calls its free_user_data exactly
 *     once, when nothing uses it any more (after the close callback; for a
 *     server, once the server and its connections are gone). It may run on
 *     any thread. A struct refused itself (NULL, bad struct_size) is not
 *     taken.
 *   - Strings, structs and options passed in are copied; keep nothing
 *     alive for us.
 *
 * THREADS. Two ways to drive a loop:
 *   - poll mode: call wsx_loop_poll(loop, timeout_ms) (e.g. once per frame
 *     with 0); callbacks run on the calling thread, inside that call;
 *   - thread mode: wsx_loop_start_thread(loop); callbacks run on the loop's
 *     own thread.
 * A loop is driven by one thread at a time: polling a loop that runs on its
 * thread, or from inside one of its own callbacks, returns WSX_ERR_STATE.
 * These may be called from ANY thread, at any time, also from inside
 * callbacks: wsx_loop_connect, wsx_loop_listen, wsx_loop_stop, wsx_conn_*
 * (send, send_fragment, recv, ping, close, abort, getters, retain,
 * release), wsx_server_*, wsx_pending_* and wsx_resolution_*. The blocking ones (wsx_conn_send_timeout,
 * wsx_conn_recv_timeout) are for other threads: inside a callback they
 * return WSX_ERR_STATE. Options objects, wsx_upgrade and wsx_attempt are
 * not thread-safe (the last two live for their callback only).
 *
 * A server set to several loops (wsx_server_options_set_loops) runs its
 * loops but the first on threads of its own, "wsx-loop-1"...: each
 * connection's callbacks run on its loop's thread, so they (and their
 * user_data) must be thread-safe; the server's callbacks come from any of
 * those threads, one at a time.
 *
 * HELPER THREADS. Besides the loop thread of wsx_loop_start_thread (and
 * the loop threads of a server set to several loops), the library starts
 * threads for one thing only: name resolution. Connecting to
 * a host name (not an IP address literal) runs getaddrinfo on a pool of at
 * most 4 threads named "wsx-dns", shared by every loop of the process,
 * started by the first lookup. A helper thread ends after 10 s without a
 * lookup, and the wsx_loop_free that frees the last loop of the process
 * ends and joins the idle ones at once (one still in a lookup, which the
 * system resolver may stretch to seconds, is waited for up to 500 ms, then
 * left to end by itself). To have no helper thread at all, resolve names
 * yourself: connect to the address (ws://192.0.2.1:9001/), or give the
 * client a resolver (wsx_client_options_set_resolver), which the library
 * asks on the loop thread and which answers at once or later from any
 * thread (wsx_resolution_answer): a game's own asynchronous lookup, a
 * console's resolver, a service directory, a test's fixed answers. Under
 * valgrind, use PREFIX/share/wsx/valgrind.supp (installed by make install)
 * for what glibc's resolver keeps per thread.
 *
 * CALLBACKS. Every callback takes user_data first and its event in a struct.
 * Everything a callback receives (message bytes, strings, headers, structs)
 * is BORROWED for the duration of the call only: copy what you keep.
 * No callback of a connection runs after its close callback has returned.
 * Inside a callback you may send, close, free handles and stop the loop.
 * Callbacks must not unwind (C++ exceptions, longjmp) into the library.
 *
 * CLUSTER. wsx_server_options_set_cluster makes a server one node of a
 * cluster sharing topics through Redis: its link to Redis is one more
 * connection of its loop (no thread), its state and gaps reach
 * on_cluster_state and on_cluster_gap of wsx_server_callbacks.
 *
 * RECEIVING. Push mode (the default): whole messages go to on_message.
 * Pull mode (wsx_conn_options_set_inbox): they wait in a bounded inbox;
 * on_readable says one arrived; wsx_conn_recv copies them out, in pieces
 * into a buffer of any size, from any thread.
 *
 * BRING YOUR OWN I/O. wsx_engine is one connection's protocol (handshake,
 * frames, masking, UTF-8, permessage-deflate, close handshake, keepalive)
 * with no socket, no clock and no thread: the program moves bytes between
 * its transport and the engine and tells it the time. Bytes in:
 * wsx_engine_feed (how much was taken; never blocks), wsx_engine_feed_eof.
 * Events out, one at a time: wsx_engine_next_event (REQUEST for a server,
 * OPEN, MESSAGE or FRAGMENT, PING, PONG, ERROR, and CLOSE last, once),
 * borrowed until the next call on the engine. Bytes to send, without a
 * copy: wsx_engine_peek_output, then wsx_engine_consume_output(n); once
 * wsx_engine_wants_shutdown, half-close the write side. Time: ticks with
 * wsx_engine_tick(now_ms), the next one due at wsx_engine_next_deadline.
 * Backpressure: wsx_engine_buffered_amount. For wss:// over your own
 * socket, wsx_tls (rustls) goes between the socket and the engine in the
 * same peek/consume shape (or use your platform's TLS below the engine).
 * Engines and TLS sessions are not thread-safe: one thread at a time.
 * Injection, once per process, before anything else: wsx_allocator_set
 * (every allocation of the library then goes through your functions) and
 * wsx_random_set (masking keys, Sec-WebSocket-Key). A complete client that
 * prints one message (error handling shortened; examples/c/sansio_echo_client.c
 * adds poll(), TLS and a counting allocator):
 *
 *   #include <stdio.h>
 *   #include <sys/socket.h>
 *   #include <arpa/inet.h>
 *   #include <unistd.h>
 *   #include "wsx.h"
 *
 *   int main(void) {
 *       struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(8765)};
 *       inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
 *       int fd = socket(AF_INET, SOCK_STREAM, 0);
 *       if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) return 1;
 *       wsx_engine *e;
 *       if (wsx_engine_client_new("ws://127.0.0.1:8765/", NULL, &e) != WSX_OK) return 1;
 *       wsx_engine_event ev = {.struct_size = sizeof ev};
 *       int done = 0;
 *       while (!done) {
 *           const uint8_t *out; size_t n, used;
 *           while (wsx_engine_peek_output(e, &out, &n) == WSX_OK && n > 0) {
 *               ssize_t w = send(fd, out, n, 0);             // blocking socket
 *               if (w <= 0) { done = 1; break; }
 *               wsx_engine_consume_output(e, (size_t)w);
 *           }
 *           if (done || wsx_engine_wants_shutdown(e)) break;
 *           uint8_t buf[4096];
 *           ssize_t r = recv(fd, buf, sizeof buf, 0);
 *           if (r > 0) wsx_engine_feed(e, buf, (size_t)r, &used); // used == r here
 *           else wsx_engine_feed_eof(e);
 *           while (wsx_engine_next_event(e, &ev) == WSX_OK && ev.kind != WSX_ENGINE_EVENT_KIND_NONE) {
 *               if (ev.kind == WSX_ENGINE_EVENT_KIND_OPEN)
 *                   wsx_engine_send(e, WSX_MSG_KIND_TEXT, (const uint8_t *)"hi", 2);
 *               else if (ev.kind == WSX_ENGINE_EVENT_KIND_MESSAGE) {
 *                   printf("%.*s\n", (int)ev.len, (const char *)ev.data);
 *                   wsx_engine_close(e, 1000, "bye");
 *               } else if (ev.kind == WSX_ENGINE_EVENT_KIND_CLOSE) done = 1;
 *           }
 *       }
 *       wsx_engine_free(e);   // after the loop: also when the peer vanished
 *       close(fd);
 *       return 0;
 *   }
 *
 * TELEMETRY. Counters per loop and per server (wsx_loop_metrics,
 * wsx_server_metrics into a wsx_metrics; as OpenMetrics text for a
 * /metrics route: wsx_server_metrics_text), readable from any thread at
 * any time. One process-wide log callback (wsx_log_set_callback): nothing
 * is logged until it is set; it runs on the thread that logs (a loop's).
 */


#ifndef WSX_H
#define WSX_H

/* Generated by cbindgen from ffi/src; do not edit. Regenerate with: WSX_BLESS=1 cargo test -p wsx-ffi --test header */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/**
 * A `wsx_conn_send_ex` flag: send the message uncompressed.
 */
#define WSX_SEND_NO_COMPRESS 1

/**
 * The major version of the library this header belongs to.
 */
#define WSX_VERSION_MAJOR 0

/**
 * The minor version of the library this header belongs to.
 */
#define WSX_VERSION_MINOR 2

/**
 * The patch version of the library this header belongs to.
 */
#define WSX_VERSION_PATCH 0

/**
 * The result of every fallible function. `WSX_OK` is 0; every other value
 * names what went wrong, with detail in `wsx_last_error_message()`.
 */
typedef enum wsx_result {
  /**
   * Success.
   */
  WSX_OK = 0,
  /**
   * A required pointer argument was NULL.
   */
  WSX_ERR_NULL = 1,
  /**
   * An argument was invalid: a bad URL, option value, code or kind.
   */
  WSX_ERR_INVALID_ARGUMENT = 2,
  /**
   * The connection is closing or closed.
   */
  WSX_ERR_CLOSED = 3,
  /**
   * The send queue is past its high-water mark; wait for the writable callback.
   */
  WSX_ERR_WOULD_BLOCK = 4,
  /**
   * The host name could not be resolved.
   */
  WSX_ERR_DNS = 5,
  /**
   * The TCP connection failed (refused, unreachable).
   */
  WSX_ERR_CONNECT = 6,
  /**
   * A connect, handshake, keepalive, idle or close timeout passed.
   */
  WSX_ERR_TIMEOUT = 7,
  /**
   * The TLS handshake failed or a certificate was refused.
   */
  WSX_ERR_TLS = 8,
  /**
   * The WebSocket handshake was refused or answered wrongly.
   */
  WSX_ERR_HANDSHAKE = 9,
  /**
   * The peer broke the WebSocket protocol.
   */
  WSX_ERR_PROTOCOL = 10,
  /**
   * Another I/O error.
   */
  WSX_ERR_IO = 11,
  /**
   * The handle is in the wrong state for this call (for example polling a
   * loop that runs on its own thread, or from inside one of its callbacks).
   */
  WSX_ERR_STATE = 12,
  /**
   * An internal error (a bug in wsx); the loop that hit it is unusable.
   */
  WSX_ERR_PANIC = 13,
  /**
   * A proxy failed: unreachable, refused the tunnel, asked for other
   * credentials (`http_status` 407), or could not reach the target
   * (`http_status` 502, or the SOCKS5 reply code).
   */
  WSX_ERR_PROXY = 14,
  /**
   * A reconnecting client is between connections and does not queue
   * sends (or its queue is full).
   */
  WSX_ERR_NOT_CONNECTED = 15,
} wsx_result;

/**
 * The kind of a data message.
 */
typedef enum wsx_msg_kind {
  /**
   * A text message: its bytes are valid UTF-8 (not NUL-terminated).
   */
  WSX_MSG_KIND_TEXT = 1,
  /**
   * A binary message.
   */
  WSX_MSG_KIND_BINARY = 2,
} wsx_msg_kind;

/**
 * Which timeout ended an attempt or a connection (`wsx_error.timeout`).
 */
typedef enum wsx_timeout {
  /**
   * Not a timeout.
   */
  WSX_TIMEOUT_NONE = 0,
  /**
   * Opening: resolving, connecting, the before-connect decision, the TLS
   * or WebSocket handshake (the connect and handshake timeouts).
   */
  WSX_TIMEOUT_OPEN = 1,
  /**
   * A keepalive ping got no pong in time.
   */
  WSX_TIMEOUT_KEEPALIVE = 2,
  /**
   * Nothing was received for the idle timeout.
   */
  WSX_TIMEOUT_IDLE = 3,
  /**
   * The peer did not finish the close handshake in time.
   */
  WSX_TIMEOUT_CLOSE = 4,
} wsx_timeout;

/**
 * Which side began the close of a connection.
 */
typedef enum wsx_close_origin {
  /**
   * This side sent the first close frame: the application closed, a
   * server shut down, or the library failed the connection.
   */
  WSX_CLOSE_ORIGIN_LOCAL = 1,
  /**
   * The peer's close frame came first.
   */
  WSX_CLOSE_ORIGIN_REMOTE = 2,
  /**
   * No close frame passed: the transport dropped, a timeout passed, or
   * the connection never opened (code 1006).
   */
  WSX_CLOSE_ORIGIN_TRANSPORT = 3,
} wsx_close_origin;

/**
 * The state of a server's link to its cluster's broker.
 */
typedef enum wsx_cluster_state {
  /**
   * The first connection to the broker is being made.
   */
  WSX_CLUSTER_STATE_CONNECTING = 0,
  /**
   * Connected; every topic with local subscribers is subscribed.
   */
  WSX_CLUSTER_STATE_UP = 1,
  /**
   * The broker cannot be reached: publications reach local subscribers
   * only (those for other nodes wait in the bounded queue) and the link
   * reconnects with backoff.
   */
  WSX_CLUSTER_STATE_DOWN = 2,
  /**
   * Connected again; subscribing every topic anew.
   */
  WSX_CLUSTER_STATE_RESUBSCRIBING = 3,
} wsx_cluster_state;

/**
 * The state of a connection (`wsx_conn_state`).
 */
typedef enum wsx_state {
  /**
   * Resolving, connecting, or in the TLS or WebSocket handshake (also a
   * reconnecting client between connections).
   */
  WSX_STATE_CONNECTING = 0,
  /**
   * Open for messages.
   */
  WSX_STATE_OPEN = 1,
  /**
   * The close handshake is under way.
   */
  WSX_STATE_CLOSING = 2,
  /**
   * Closed.
   */
  WSX_STATE_CLOSED = 3,
} wsx_state;

/**
 * What publishing does with a subscriber whose send queue is past its
 * high-water mark.
 */
typedef enum wsx_slow_subscriber {
  /**
   * It misses that message and stays connected (the default).
   */
  WSX_SLOW_SUBSCRIBER_SKIP = 0,
  /**
   * It is dropped at once: its error and close callbacks follow (1006).
   */
  WSX_SLOW_SUBSCRIBER_DROP = 1,
} wsx_slow_subscriber;

/**
 * What a `wsx_engine_event` is.
 */
typedef enum wsx_engine_event_kind {
  /**
   * No event is ready: feed bytes, tick, or (server) decide on the request.
   */
  WSX_ENGINE_EVENT_KIND_NONE = 0,
  /**
   * Server: a valid handshake request (`path`, `headers`). Answer with
   * `wsx_engine_accept` or `wsx_engine_refuse`; no other event comes
   * before that.
   */
  WSX_ENGINE_EVENT_KIND_REQUEST = 1,
  /**
   * The handshake finished (`subprotocol`, `deflate`): messages may flow.
   */
  WSX_ENGINE_EVENT_KIND_OPEN = 2,
  /**
   * A whole message (`msg_kind`, `data`, `len`); text is valid UTF-8.
   */
  WSX_ENGINE_EVENT_KIND_MESSAGE = 3,
  /**
   * A piece of a message in streaming mode (`msg_kind`, `data`, `len`,
   * `fin` on the last piece).
   */
  WSX_ENGINE_EVENT_KIND_FRAGMENT = 4,
  /**
   * A ping (`data`, `len`); answered already unless auto-pong is off.
   */
  WSX_ENGINE_EVENT_KIND_PING = 5,
  /**
   * A pong (`data`, `len`).
   */
  WSX_ENGINE_EVENT_KIND_PONG = 6,
  /**
   * The connection is over (`close_code`, the reason in `data`/`len`,
   * `close_origin`, `clean`). Always the last event, exactly once (but
   * for a server engine whose request the program refused).
   */
  WSX_ENGINE_EVENT_KIND_CLOSE = 7,
  /**
   * Something failed (`error`, `http_status`, the message in
   * `data`/`len`; a refused handshake's response in `headers` and
   * `body`); a CLOSE event follows.
   */
  WSX_ENGINE_EVENT_KIND_ERROR = 8,
} wsx_engine_event_kind;

/**
 * The severity of a log record; a callback's level lets through the
 * records of its level and the more severe ones.
 */
typedef enum wsx_log_level {
  /**
   * Nothing (the default).
   */
  WSX_LOG_LEVEL_OFF = 0,
  /**
   * Failures of wsx itself.
   */
  WSX_LOG_LEVEL_ERROR = 1,
  /**
   * Protocol errors of peers, keepalive timeouts.
   */
  WSX_LOG_LEVEL_WARN = 2,
  /**
   * Connections opened and closed (with codes), handshakes refused (with
   * the status and why), proxy tunnels.
   */
  WSX_LOG_LEVEL_INFO = 3,
  /**
   * Plain HTTP requests answered.
   */
  WSX_LOG_LEVEL_DEBUG = 4,
  /**
   * Everything.
   */
  WSX_LOG_LEVEL_TRACE = 5,
} wsx_log_level;

/**
 * What a publication does when the queue of publications waiting for the
 * broker is full.
 */
typedef enum wsx_queue_full {
  /**
   * The oldest waiting publication is dropped (the default).
   */
  WSX_QUEUE_FULL_DROP_OLDEST = 0,
  /**
   * The new publication is not queued for the broker (local subscribers
   * still get it).
   */
  WSX_QUEUE_FULL_DROP_NEWEST = 1,
} wsx_queue_full;

/**
 * A client's connect attempt that starts now, passed to `on_before_connect`
 * and valid only during that call.
 */
typedef struct wsx_attempt wsx_attempt;

/**
 * Options of client connections, copied by `wsx_loop_connect`. Not
 * thread-safe: set it up on one thread.
 */
typedef struct wsx_client_options wsx_client_options;

/**
 * A WebSocket connection, client or server side. Reference-counted: the
 * library holds one reference while the connection runs (the pointer passed
 * to callbacks is that one, the same for every callback of a connection);
 * `wsx_loop_connect` and `wsx_conn_retain` give the caller one more each, released
 * with `wsx_conn_release`. Every function on it may be called from any thread.
 */
typedef struct wsx_conn wsx_conn;

/**
 * The settings client and server connections share: a view into a
 * `wsx_client_options` or `wsx_server_options`, borrowed from
 * `wsx_client_options_conn` / `wsx_server_options_conn` and valid until
 * those options are freed. Not thread-safe, as the options it belongs to.
 */
typedef struct wsx_conn_options wsx_conn_options;

/**
 * One WebSocket connection's protocol engine, client or server, without
 * I/O: bytes in (`wsx_engine_feed`), events out (`wsx_engine_next_event`),
 * bytes to send out (`wsx_engine_peek_output`, `wsx_engine_consume_output`),
 * time in (`wsx_engine_tick`). Not thread-safe: use it from one thread at a
 * time. It never blocks, never calls back, and starts no thread.
 */
typedef struct wsx_engine wsx_engine;

/**
 * An event loop driving connections and servers. Poll it from your frame
 * loop (`wsx_loop_poll`) or give it a thread (`wsx_loop_start_thread`).
 */
typedef struct wsx_loop wsx_loop;

/**
 * A client attempt postponed by `wsx_attempt_defer`: start it with
 * `wsx_pending_attempt_proceed` from any thread, then free it with
 * `wsx_pending_attempt_free` (freeing it undecided proceeds with the headers
 * as they are). Thread-safe.
 */
typedef struct wsx_pending_attempt wsx_pending_attempt;

/**
 * A handshake whose decision `wsx_upgrade_defer` postponed: decide it once,
 * from any thread, before the server's handshake timeout passes, with
 * `wsx_pending_upgrade_accept`, `_accept_with` or `_refuse`; then free it
 * with `wsx_pending_upgrade_free` (freeing it undecided refuses with 500).
 * Thread-safe.
 */
typedef struct wsx_pending_upgrade wsx_pending_upgrade;

/**
 * A client's name lookup, handed to the resolver callback
 * (`wsx_client_options_set_resolver`), owned by the application from then
 * on. Answer it once, from any thread, at once or later
 * (`wsx_resolution_answer`, `wsx_resolution_fail`), then free it with
 * `wsx_resolution_free` (freeing it unanswered fails the lookup).
 * Thread-safe.
 */
typedef struct wsx_resolution wsx_resolution;

/**
 * A listening server. Every function on it may be called from any thread.
 */
typedef struct wsx_server wsx_server;

/**
 * Options of a server, copied by `wsx_loop_listen`. Not thread-safe: set it
 * up on one thread.
 */
typedef struct wsx_server_options wsx_server_options;

/**
 * A TLS session over a transport the program drives (client or server).
 * Encrypted bytes from the network go in with `wsx_tls_feed`; decrypted
 * bytes for the engine come out with `wsx_tls_peek_plaintext` /
 * `wsx_tls_consume_plaintext`; the engine's output goes in with
 * `wsx_tls_write`; encrypted bytes for the network come out with
 * `wsx_tls_peek_output` / `wsx_tls_consume_output`. Not thread-safe; never
 * blocks; starts no thread. Nothing is cached process-wide: the session's
 * configuration is freed with it.
 */
typedef struct wsx_tls wsx_tls;

/**
 * A handshake under decision, passed to the upgrade callback and valid only
 * during it. Left alone, the connection is accepted.
 */
typedef struct wsx_upgrade wsx_upgrade;

/**
 * Releases `user_data`; runs exactly once, when the library holds no more
 * references to it, on whichever thread let go last.
 */
typedef void (*wsx_free_user_data)(void *user_data);

/**
 * One HTTP header field, as NUL-terminated strings.
 */
typedef struct wsx_header {
  /**
   * The field name, as received.
   */
  const char *name;
  /**
   * The field value.
   */
  const char *value;
} wsx_header;

/**
 * The open event: the handshake succeeded.
 */
typedef struct wsx_open {
  /**
   * The negotiated subprotocol, or NULL.
   */
  const char *subprotocol;
  /**
   * Client side: the response status (101). Server side: 0.
   */
  uint16_t status;
  /**
   * Server side: the request target (path and query). Client side: NULL.
   */
  const char *path;
  /**
   * The response headers (client side) or request headers (server side).
   */
  const struct wsx_header *headers;
  /**
   * The number of entries in `headers`.
   */
  size_t headers_len;
  /**
   * The peer's address as text, `ip:port` (`[ip]:port` for IPv6); the
   * proxy's when connected through one. Over a Unix domain socket, which
   * has no IP address, "unix:" and the socket's path (a client sees the
   * server's path; a server sees "unix:" alone, as a client's socket is
   * unnamed), as nginx's `$remote_addr` writes it.
   */
  const char *peer_addr;
  /**
   * Client side: whether this open follows an earlier attempt of the same
   * connection (a reconnect): the time to re-subscribe. Server side: false.
   */
  bool is_reconnect;
} wsx_open;

/**
 * Called once when the handshake succeeded (on a reconnecting client: after
 * each successful handshake, with `open->is_reconnect` set after the first).
 */
typedef void (*wsx_on_open)(void *user_data, struct wsx_conn *conn, const struct wsx_open *open);

/**
 * A received message (or, in streaming mode, a piece of one).
 */
typedef struct wsx_message {
  /**
   * Text or binary.
   */
  enum wsx_msg_kind kind;
  /**
   * The payload, borrowed for the callback only (not NUL-terminated).
   */
  const uint8_t *data;
  /**
   * The payload's length in bytes.
   */
  size_t len;
  /**
   * Whether this is the last piece of the message (always true unless
   * streaming is on).
   */
  bool fin;
} wsx_message;

/**
 * Called for every received message (every piece of one in streaming mode).
 * Not called in pull mode (`wsx_conn_options_set_inbox`).
 */
typedef void (*wsx_on_message)(void *user_data,
                               struct wsx_conn *conn,
                               const struct wsx_message *message);

/**
 * An error event.
 */
typedef struct wsx_error {
  /**
   * What kind of failure.
   */
  enum wsx_result code;
  /**
   * A message a person understands, NUL-terminated.
   */
  const char *message;
  /**
   * The HTTP status of a refused handshake, 0 otherwise.
   */
  uint16_t http_status;
  /**
   * Which timeout passed, when `code` is `WSX_ERR_TIMEOUT`.
   */
  enum wsx_timeout timeout;
  /**
   * The operating system's error number behind the failure (errno, or
   * the WSA code on Windows; ECONNREFUSED for a refused connect), 0 when
   * none.
   */
  int32_t os_error;
  /**
   * A refused handshake's response headers (`WWW-Authenticate`,
   * `Retry-After`, ...); NULL and 0 otherwise.
   */
  const struct wsx_header *headers;
  /**
   * The number of entries in `headers`.
   */
  size_t headers_len;
  /**
   * A refused handshake's response body (not NUL-terminated); NULL and 0
   * otherwise.
   */
  const uint8_t *body;
  /**
   * The body's length in bytes.
   */
  size_t body_len;
} wsx_error;

/**
 * Called when something failed; the close callback follows.
 */
typedef void (*wsx_on_error)(void *user_data, struct wsx_conn *conn, const struct wsx_error *error);

/**
 * The close event: the last event of a connection.
 */
typedef struct wsx_close {
  /**
   * The peer's close code, ours if we failed the connection, or 1006 when
   * the transport dropped without a close handshake.
   */
  uint16_t code;
  /**
   * The reason, UTF-8, NUL-terminated (it may also contain NULs: use `reason_len`).
   */
  const char *reason;
  /**
   * The reason's length in bytes, without the terminating NUL.
   */
  size_t reason_len;
  /**
   * Whether both close frames passed before the transport closed.
   */
  bool clean;
  /**
   * Who began the close.
   */
  enum wsx_close_origin origin;
  /**
   * Whether both sides closed with 1000, 1001 or 1005.
   */
  bool normal;
} wsx_close;

/**
 * Called once when the connection is over; no callback of this connection
 * runs after it returned.
 */
typedef void (*wsx_on_close)(void *user_data, struct wsx_conn *conn, const struct wsx_close *close);

/**
 * A received ping.
 */
typedef struct wsx_ping {
  /**
   * The ping's payload (up to 125 bytes).
   */
  const uint8_t *data;
  /**
   * The payload's length.
   */
  size_t len;
} wsx_ping;

/**
 * Called for every received ping (already answered unless auto-pong is off).
 */
typedef void (*wsx_on_ping)(void *user_data, struct wsx_conn *conn, const struct wsx_ping *ping);

/**
 * A received pong.
 */
typedef struct wsx_pong {
  /**
   * The pong's payload (up to 125 bytes).
   */
  const uint8_t *data;
  /**
   * The payload's length.
   */
  size_t len;
  /**
   * The round trip of the ping it answers in microseconds, or -1 when it
   * answers none of ours.
   */
  int64_t rtt_us;
} wsx_pong;

/**
 * Called for every received pong.
 */
typedef void (*wsx_on_pong)(void *user_data, struct wsx_conn *conn, const struct wsx_pong *pong);

/**
 * Called when the send queue drained below its low-water mark after a send
 * (from any thread) returned `WSX_ERR_WOULD_BLOCK`: send again now.
 */
typedef void (*wsx_on_writable)(void *user_data, struct wsx_conn *conn);

/**
 * Pull mode: the inbox was empty and a message arrived. Take it, and those
 * after it, with `wsx_conn_recv` until `WSX_ERR_WOULD_BLOCK` (from any
 * thread); the callback runs again only after the inbox was found empty.
 */
typedef void (*wsx_on_readable)(void *user_data, struct wsx_conn *conn);

/**
 * A connect attempt about to start (`on_connecting`).
 */
typedef struct wsx_connecting {
  /**
   * 0 for the first connection; then the reconnect attempts in a row
   * (1, 2, ...; back to 1 after a connection that lasted).
   */
  uint32_t attempt;
  /**
   * The wait before the attempt starts, in ms (0 for the first).
   */
  uint64_t delay_ms;
} wsx_connecting;

/**
 * Client: an attempt to connect starts after `connecting->delay_ms`.
 */
typedef void (*wsx_on_connecting)(void *user_data,
                                  struct wsx_conn *conn,
                                  const struct wsx_connecting *connecting);

/**
 * Client with reconnecting on: this connection or attempt ended and another
 * attempt follows (`on_close` is not called for it).
 */
typedef void (*wsx_on_disconnect)(void *user_data,
                                  struct wsx_conn *conn,
                                  const struct wsx_close *close);

/**
 * Client: an attempt starts now. `attempt` is valid during the call only:
 * change its request headers with `wsx_attempt_set_header` (refresh a
 * token, set cookies), or postpone it with `wsx_attempt_defer`.
 */
typedef void (*wsx_on_before_connect)(void *user_data,
                                      struct wsx_conn *conn,
                                      struct wsx_attempt *attempt);

/**
 * The callbacks of one connection, client or server side. Extensible: set
 * `struct_size = sizeof(wsx_conn_callbacks)`, zero the rest and set what
 * you need; every function pointer may be NULL (the event is ignored).
 * Fields past the caller's `struct_size` count as NULL.
 */
typedef struct wsx_conn_callbacks {
  /**
   * `sizeof(wsx_conn_callbacks)` as the caller was compiled with (at least
   * up to `user_data`).
   */
  size_t struct_size;
  /**
   * Passed first to every callback below.
   */
  void *user_data;
  /**
   * Releases `user_data` once the connection is gone (also when the call
   * that received these callbacks fails).
   */
  wsx_free_user_data free_user_data;
  /**
   * The handshake succeeded.
   */
  wsx_on_open on_open;
  /**
   * A message arrived (push mode).
   */
  wsx_on_message on_message;
  /**
   * Something failed; `on_close` follows.
   */
  wsx_on_error on_error;
  /**
   * The connection is over.
   */
  wsx_on_close on_close;
  /**
   * A ping arrived.
   */
  wsx_on_ping on_ping;
  /**
   * A pong arrived.
   */
  wsx_on_pong on_pong;
  /**
   * The send queue drained.
   */
  wsx_on_writable on_writable;
  /**
   * Pull mode: a message waits in the empty inbox.
   */
  wsx_on_readable on_readable;
  /**
   * Client: an attempt to connect is about to start (also the first one).
   */
  wsx_on_connecting on_connecting;
  /**
   * Client with reconnecting on: a connection or attempt ended, another follows.
   */
  wsx_on_disconnect on_disconnect;
  /**
   * Client: an attempt starts now; its request headers may be changed.
   */
  wsx_on_before_connect on_before_connect;
} wsx_conn_callbacks;

/**
 * When and how often a client reconnects. Extensible: fill it with
 * `wsx_reconnect_options_default` (after setting `struct_size`) and change
 * what you need; fields past the caller's `struct_size` take their defaults.
 *
 * The wait before reconnect attempt n (1, 2, ...) is drawn at random from
 * [0, min(max_delay_ms, initial_delay_ms * factor^(n-1))] ("full jitter").
 * Reconnects follow network errors, timeouts (keepalive included) and, by
 * default, the close codes 1001 (going away: a server's graceful shutdown
 * or restart), 1006 (dropped), 1011, 1012 (service restart), 1013 and 1014
 * (`wsx_client_options_set_reconnect_codes` changes the set); never a
 * close the application asked for, nor a handshake refused with a 4xx
 * status (unless `retry_on_4xx`).
 */
typedef struct wsx_reconnect_options {
  /**
   * `sizeof(wsx_reconnect_options)` as the caller was compiled with.
   */
  size_t struct_size;
  /**
   * Growth of the ceiling per attempt (default 2.0): a finite number of at
   * least 1.0, or `wsx_client_options_set_reconnect` refuses it.
   */
  double factor;
  /**
   * Bytes `wsx_conn_send` may queue while disconnected, sent once the next
   * connection opens; 0 (the default) refuses such sends with
   * `WSX_ERR_NOT_CONNECTED`.
   */
  size_t queue_while_disconnected;
  /**
   * Ceiling of the first wait, in ms (default 500).
   */
  uint32_t initial_delay_ms;
  /**
   * Largest ceiling, in ms (default 30000).
   */
  uint32_t max_delay_ms;
  /**
   * Most reconnect attempts in a row without a lasting connection; 0
   * (the default) tries forever.
   */
  uint32_t max_attempts;
  /**
   * A connection open this long (ms) starts the backoff afresh (default 10000).
   */
  uint32_t reset_after_ms;
  /**
   * Retry after the server refused the handshake with a 4xx status (default false).
   */
  bool retry_on_4xx;
  /**
   * Draw each wait at random below its ceiling (default true); false
   * waits exactly the ceiling.
   */
  bool jitter;
} wsx_reconnect_options;

/**
 * How a server joins a cluster (`wsx_server_options_set_cluster`).
 * Extensible: set `struct_size = sizeof(wsx_cluster_options)` and zero the
 * rest; every field left 0 or NULL takes its default.
 *
 * Layout: `size_t struct_size; const char *url, *prefix, *node_id,
 * *tls_ca_file; const wsx_reconnect_options *reconnect; size_t max_queued,
 * max_queued_bytes; uint32_t connect_timeout_ms, keepalive_ms;
 * wsx_queue_full queue_full; bool sharded`.
 */
typedef struct wsx_cluster_options {
  /**
   * `sizeof(wsx_cluster_options)` as the caller was compiled with (at
   * least up to `url`).
   */
  size_t struct_size;
  /**
   * Required: `redis://[[user]:password@]host[:port][/db]`, or
   * `rediss://` for TLS.
   */
  const char *url;
  /**
   * Prefix of the Redis channel names (NULL: `"wsx:"`): the channel of
   * topic T is prefix + T, so several applications can share a Redis.
   */
  const char *prefix;
  /**
   * This node's id, at most 255 bytes (NULL: a random one; read it back
   * with `wsx_server_cluster_node_id`).
   */
  const char *node_id;
  /**
   * For `rediss://`: a PEM file of extra CA certificates (NULL: none).
   */
  const char *tls_ca_file;
  /**
   * How the link reconnects (NULL: the defaults of
   * `wsx_reconnect_options_default`; `queue_while_disconnected` and
   * `retry_on_4xx` do not apply).
   */
  const struct wsx_reconnect_options *reconnect;
  /**
   * Most publications waiting for the broker (0: 10,000).
   */
  size_t max_queued;
  /**
   * Most bytes of publications waiting for the broker (0: 16 MiB).
   */
  size_t max_queued_bytes;
  /**
   * Time allowed to connect to Redis and finish HELLO (0: 5000 ms).
   */
  uint32_t connect_timeout_ms;
  /**
   * A PING every this many ms; no answer within as long again drops the
   * link (0: 5000 ms).
   */
  uint32_t keepalive_ms;
  /**
   * What a publication does when the queue is full (0: drop the oldest).
   * A dropped publication used its sequence number: the other nodes
   * report it as a gap.
   */
  wsx_queue_full queue_full;
  /**
   * Sharded pub/sub (SPUBLISH/SSUBSCRIBE, Redis 7). Against a Redis
   * Cluster, each channel goes to the master of its hash slot (one link
   * per master in use; MOVED and moved slots are followed); a hash tag
   * in the prefix (`"{chat}:"`) keeps every channel on one shard.
   */
  bool sharded;
} wsx_cluster_options;

/**
 * Figures of a server's cluster link (`wsx_server_cluster_stats`).
 * Extensible: set `struct_size` before the call.
 */
typedef struct wsx_cluster_stats {
  /**
   * `sizeof(wsx_cluster_stats)` as the caller was compiled with.
   */
  size_t struct_size;
  /**
   * The link's state.
   */
  wsx_cluster_state state;
  /**
   * This node's epoch (new at each start).
   */
  uint64_t epoch;
  /**
   * Publications handed to the broker.
   */
  uint64_t published;
  /**
   * Publications of other nodes received.
   */
  uint64_t received;
  /**
   * Publications waiting for the broker now.
   */
  uint64_t queued;
  /**
   * Publications dropped because the queue was full.
   */
  uint64_t dropped;
  /**
   * Gap events raised.
   */
  uint64_t gaps;
  /**
   * Times the link to the broker was lost.
   */
  uint64_t disconnects;
  /**
   * Channels subscribed on the broker now.
   */
  uint64_t subscriptions;
} wsx_cluster_stats;

/**
 * What `wsx_conn_recv` copied out. Extensible: set `struct_size =
 * sizeof(wsx_received)` before the call.
 */
typedef struct wsx_received {
  /**
   * `sizeof(wsx_received)` as the caller was compiled with (kept by the call).
   */
  size_t struct_size;
  /**
   * Text or binary (text: UTF-8 once the whole message is put together;
   * a piece may end inside a character).
   */
  enum wsx_msg_kind kind;
  /**
   * Bytes copied into the buffer by this call.
   */
  size_t len;
  /**
   * Bytes of the message still to come, taken by the next calls.
   */
  size_t remaining;
  /**
   * Whether this call copied the message's last byte (`remaining` is 0).
   */
  bool end_of_message;
} wsx_received;

/**
 * How a connection ended, written by `wsx_conn_close_info`. Extensible:
 * set `struct_size = sizeof(wsx_close_info)` before the call. The strings
 * are NUL-terminated, owned by the connection and valid while the caller
 * holds a reference to it.
 */
typedef struct wsx_close_info {
  /**
   * `sizeof(wsx_close_info)` as the caller was compiled with (kept by the call).
   */
  size_t struct_size;
  /**
   * The code the close event reported: the peer's, ours if we failed the
   * connection, or 1006 when no close frame passed.
   */
  uint16_t code;
  /**
   * The reason that went with `code` (UTF-8; see `reason_len`).
   */
  const char *reason;
  /**
   * The reason's length in bytes, without the NUL.
   */
  size_t reason_len;
  /**
   * Whether both close frames passed before the transport closed.
   */
  bool clean;
  /**
   * Whether both sides closed with 1000, 1001 or 1005.
   */
  bool normal;
  /**
   * Who began the close.
   */
  enum wsx_close_origin origin;
  /**
   * The code of the close frame we sent, 0 if none.
   */
  uint16_t sent_code;
  /**
   * The reason of the close frame we sent ("" if none).
   */
  const char *sent_reason;
  /**
   * The length of `sent_reason`.
   */
  size_t sent_reason_len;
  /**
   * The code of the peer's close frame, 0 if none.
   */
  uint16_t rcvd_code;
  /**
   * The reason of the peer's close frame ("" if none).
   */
  const char *rcvd_reason;
  /**
   * The length of `rcvd_reason`.
   */
  size_t rcvd_reason_len;
} wsx_close_info;

/**
 * A certificate, DER encoded (of a client's chain, mutual TLS). A frozen
 * pair, like `wsx_header`.
 */
typedef struct wsx_cert {
  /**
   * The certificate's DER bytes.
   */
  const uint8_t *der;
  /**
   * Their length.
   */
  size_t len;
} wsx_cert;

/**
 * Mutual TLS: the certificate the client of a server's connection
 * presented, written by `wsx_conn_peer_identity`. Extensible: set
 * `struct_size = sizeof(wsx_peer_identity)` before the call. Everything is
 * owned by the connection and valid while the caller holds a reference to
 * it.
 */
typedef struct wsx_peer_identity {
  /**
   * `sizeof(wsx_peer_identity)` as the caller was compiled with (kept by the call).
   */
  size_t struct_size;
  /**
   * The subject of the verified client certificate, RFC 4514 text, most
   * specific first (`CN=alice,O=Example`); NULL when the client sent no
   * certificate (or without TLS, or on a client connection).
   */
  const char *subject;
  /**
   * The certificate chain as the client sent it, leaf first (NULL: none).
   */
  const struct wsx_cert *certs;
  /**
   * The number of entries in `certs`.
   */
  size_t certs_len;
} wsx_peer_identity;

/**
 * The default of every option of `wsx_client_options` and
 * `wsx_server_options`, as the setters take them (sizes in bytes, times in
 * ms, 0 for "off"), filled by `wsx_defaults_get`. The defaults of
 * permessage-deflate and reconnecting come from
 * `wsx_deflate_options_default` and `wsx_reconnect_options_default`.
 *
 * Extensible: set `struct_size = sizeof(wsx_defaults)` before
 * `wsx_defaults_get`; fields may be added at the end in later versions.
 */
typedef struct wsx_defaults {
  /**
   * `sizeof(wsx_defaults)` as the caller was compiled with (kept by the call).
   */
  size_t struct_size;
  /**
   * Largest message accepted (16 MiB).
   */
  size_t max_message_size;
  /**
   * Largest single frame accepted (16 MiB).
   */
  size_t max_frame_size;
  /**
   * Most bytes of a handshake's header block (8 KiB).
   */
  size_t max_header_bytes;
  /**
   * Most header lines of a handshake (64).
   */
  size_t max_headers;
  /**
   * Client: time for name resolution and TCP connect (10 000).
   */
  uint32_t connect_timeout_ms;
  /**
   * Time for the TLS and WebSocket handshakes (10 000).
   */
  uint32_t handshake_timeout_ms;
  /**
   * Time to wait for the peer's close frame and TCP close (5 000).
   */
  uint32_t close_timeout_ms;
  /**
   * Time between keepalive pings; 0 is off (30 000).
   */
  uint32_t keepalive_interval_ms;
  /**
   * Time to wait for a keepalive pong (30 000).
   */
  uint32_t keepalive_timeout_ms;
  /**
   * Time with nothing received before the connection drops; 0 is off (0).
   */
  uint32_t idle_timeout_ms;
  /**
   * Send-queue high-water mark (17 MiB).
   */
  size_t high_water;
  /**
   * Send-queue low-water mark (256 KiB).
   */
  size_t low_water;
  /**
   * TCP_NODELAY (true).
   */
  bool nodelay;
  /**
   * Pings answered automatically (true).
   */
  bool auto_pong;
  /**
   * Clients offer permessage-deflate (true).
   */
  bool client_compression;
  /**
   * Servers accept permessage-deflate (false).
   */
  bool server_compression;
  /**
   * Server: the address to listen on ("127.0.0.1"); static, never freed.
   */
  const char *server_host;
  /**
   * Server: the port to listen on (0: a free one).
   */
  uint16_t server_port;
  /**
   * Server: most open connections at once (10 000).
   */
  size_t max_connections;
  /**
   * Server: most unfinished handshakes at once (1 000).
   */
  size_t max_pending_handshakes;
  /**
   * Client: TLS certificates and host names are verified (true).
   */
  bool verify_certificates;
  /**
   * Pull mode: messages in the inbox that pause reading (16).
   */
  size_t inbox_high_messages;
  /**
   * Pull mode: messages at or below which reading resumes (4).
   */
  size_t inbox_low_messages;
  /**
   * Pull mode: bytes in the inbox that pause reading (32 MiB).
   */
  size_t inbox_high_bytes;
  /**
   * Pull mode: bytes at or below which reading resumes (8 MiB).
   */
  size_t inbox_low_bytes;
  /**
   * Binary messages refused with 1003 (false). Added in 0.2.
   */
  bool reject_binary;
  /**
   * Client: the proxy read from `HTTP_PROXY`/`HTTPS_PROXY`/`NO_PROXY`
   * (false). Added in 0.2.
   */
  bool proxy_from_env;
  /**
   * Server: what a publication does with a subscriber past its
   * high-water mark (`WSX_SLOW_SUBSCRIBER_SKIP`). Added in 0.2.
   */
  enum wsx_slow_subscriber slow_subscriber;
  /**
   * Server: event loops (threads) its connections spread over (1: the
   * loop it is created on, see `wsx_server_options_set_loops`). Added
   * in 0.2.
   */
  size_t server_loops;
} wsx_defaults;

/**
 * The permessage-deflate parameters a handshake agreed (RFC 7692), for
 * `wsx_engine_open_new`. Extensible: set `struct_size =
 * sizeof(wsx_deflate_params)`; fields past it take the defaults below.
 */
typedef struct wsx_deflate_params {
  /**
   * `sizeof(wsx_deflate_params)` as the caller was compiled with.
   */
  size_t struct_size;
  /**
   * The client compressor's window, 8-15 (default 15; 8 means the
   * client sends uncompressed, as zlib cannot compress with it).
   */
  uint8_t client_max_window_bits;
  /**
   * The server compressor's window, 8-15 (default 15).
   */
  uint8_t server_max_window_bits;
  /**
   * The client's compressor restarts for every message (default false).
   */
  bool client_no_context_takeover;
  /**
   * The server's compressor restarts for every message (default false).
   */
  bool server_no_context_takeover;
} wsx_deflate_params;

/**
 * An event of a `wsx_engine`, filled by `wsx_engine_next_event`.
 * Extensible: set `struct_size = sizeof(wsx_engine_event)`. Every pointer in
 * it is BORROWED from the engine until the next call on that engine (any
 * call but the const getters): copy what you keep.
 */
typedef struct wsx_engine_event {
  /**
   * `sizeof(wsx_engine_event)` as the caller was compiled with (kept by the call).
   */
  size_t struct_size;
  /**
   * What happened; `WSX_ENGINE_EVENT_KIND_NONE` when nothing is ready.
   */
  enum wsx_engine_event_kind kind;
  /**
   * MESSAGE, FRAGMENT: text or binary.
   */
  enum wsx_msg_kind msg_kind;
  /**
   * FRAGMENT: whether this is the message's last piece (true for MESSAGE).
   */
  bool fin;
  /**
   * MESSAGE, FRAGMENT, PING, PONG: the payload; CLOSE: the reason;
   * ERROR: the message. For CLOSE and ERROR it is also NUL-terminated.
   * NULL when `len` is 0 (but CLOSE and ERROR: "").
   */
  const uint8_t *data;
  /**
   * Bytes at `data` (without the NUL).
   */
  size_t len;
  /**
   * CLOSE: the peer's code (1005: its close frame had none), ours when
   * we failed the connection, 1006 when no close handshake happened.
   */
  uint16_t close_code;
  /**
   * CLOSE: who ended the connection.
   */
  enum wsx_close_origin close_origin;
  /**
   * CLOSE: whether both close frames passed.
   */
  bool clean;
  /**
   * ERROR: `WSX_ERR_HANDSHAKE` (refused or broken handshake),
   * `WSX_ERR_PROTOCOL` (the peer broke the protocol) or `WSX_ERR_TIMEOUT`
   * (handshake, keepalive or close timeout). `WSX_OK` for other events.
   */
  enum wsx_result error;
  /**
   * ERROR of a handshake: the HTTP status of the refusal (0 when none).
   */
  uint16_t http_status;
  /**
   * OPEN: the subprotocol agreed, or NULL.
   */
  const char *subprotocol;
  /**
   * OPEN: whether permessage-deflate is on.
   */
  bool deflate;
  /**
   * REQUEST: the request target (path and query).
   */
  const char *path;
  /**
   * REQUEST: the request's headers, in order (`header_count` of them).
   * ERROR of a refused handshake (`http_status` set): the response's.
   */
  const struct wsx_header *headers;
  /**
   * REQUEST, ERROR of a refused handshake: how many headers.
   */
  size_t header_count;
  /**
   * ERROR of a refused handshake: the response's body as it arrived
   * (capped at 64 KiB; NULL when `body_len` is 0). Added in 0.2.
   */
  const uint8_t *body;
  /**
   * Bytes at `body`.
   */
  size_t body_len;
} wsx_engine_event;

/**
 * Allocates `size` bytes (never 0) aligned for any C type (like `malloc`);
 * NULL when out of memory.
 */
typedef void *(*wsx_malloc_fn)(void *user_data, size_t size);

/**
 * Resizes a block from `malloc_fn` or `realloc_fn` of `old_size` bytes to
 * `new_size` (never 0), keeping its contents (like `realloc`); NULL when out
 * of memory (the old block then stays valid).
 */
typedef void *(*wsx_realloc_fn)(void *user_data, void *ptr, size_t old_size, size_t new_size);

/**
 * Frees a block of `size` bytes from `malloc_fn` or `realloc_fn` (never NULL).
 */
typedef void (*wsx_free_fn)(void *user_data, void *ptr, size_t size);

/**
 * The allocator for `wsx_allocator_set`. Extensible: set `struct_size =
 * sizeof(wsx_allocator)`. The three functions are required; they are called
 * from any thread the library runs on (the loop thread, DNS helpers), so
 * they must be thread-safe, and they must return memory aligned as
 * `malloc`'s (`alignof(max_align_t)`); larger alignments are handled by the
 * library. Sizes are passed to `realloc_fn` and `free_fn` so that sized
 * allocators (and counting ones) need no header of their own.
 */
typedef struct wsx_allocator {
  /**
   * `sizeof(wsx_allocator)` as the caller was compiled with.
   */
  size_t struct_size;
  /**
   * Passed first to every function; the library never frees it.
   */
  void *user_data;
  /**
   * Allocates.
   */
  wsx_malloc_fn malloc_fn;
  /**
   * Resizes.
   */
  wsx_realloc_fn realloc_fn;
  /**
   * Frees.
   */
  wsx_free_fn free_fn;
} wsx_allocator;

/**
 * Fills `len` bytes at `buf` with unpredictable random bytes (a CSPRNG's)
 * and returns true, or returns false when it cannot (the send or handshake
 * that needed them then fails).
 */
typedef bool (*wsx_random_fn)(void *user_data, uint8_t *buf, size_t len);

/**
 * permessage-deflate (RFC 7692) settings, for
 * `wsx_conn_options_set_compression`. Extensible: fill it with
 * `wsx_deflate_options_default` (after setting `struct_size`), then change
 * what you need. Fields past the caller's `struct_size` take their defaults.
 */
typedef struct wsx_deflate_options {
  /**
   * `sizeof(wsx_deflate_options)` as the caller was compiled with.
   */
  size_t struct_size;
  /**
   * Messages shorter than this many bytes are sent uncompressed (default 64).
   */
  size_t threshold;
  /**
   * Compression level, 0 (stored) to 9 (smallest); default 6.
   */
  uint32_t level;
  /**
   * Largest LZ77 window of the client's compressor, as a power of two (8-15, default 15).
   */
  uint8_t client_max_window_bits;
  /**
   * Largest LZ77 window of the server's compressor (8-15, default 15).
   */
  uint8_t server_max_window_bits;
  /**
   * The client's compressor starts afresh for every message (default false).
   */
  bool client_no_context_takeover;
  /**
   * The server's compressor starts afresh for every message (default false).
   */
  bool server_no_context_takeover;
  /**
   * A server compresses every connection's messages with its loop's one
   * shared compressor (default false): it asks for
   * `server_no_context_takeover` in every answer, so a connection holds
   * no compressor of its own (saves 250-380 KB per sending connection;
   * repetitive traffic compresses less). A server setting:
   * `wsx_loop_connect` refuses a client options object that sets it
   * with `WSX_ERR_INVALID_ARGUMENT`; with `server_max_window_bits` 8
   * `wsx_loop_listen` refuses it too.
   */
  bool shared_compressor;
} wsx_deflate_options;

/**
 * Pull-mode delivery (`wsx_conn_options_set_inbox`): received messages wait
 * in a bounded inbox and are taken with `wsx_conn_recv`. Reading the
 * connection pauses once `high_messages` messages or `high_bytes` bytes
 * wait, and resumes once at most `low_messages` and `low_bytes` do.
 * Extensible: fill it with `wsx_inbox_options_default` (after setting
 * `struct_size`), then change what you need.
 */
typedef struct wsx_inbox_options {
  /**
   * `sizeof(wsx_inbox_options)` as the caller was compiled with.
   */
  size_t struct_size;
  /**
   * Messages that pause reading (default 16).
   */
  size_t high_messages;
  /**
   * Messages at or below which reading resumes (default 4).
   */
  size_t low_messages;
  /**
   * Bytes that pause reading (default 32 MiB).
   */
  size_t high_bytes;
  /**
   * Bytes at or below which reading resumes (default 8 MiB).
   */
  size_t low_bytes;
} wsx_inbox_options;

/**
 * Resolves a host name for a client's connect attempt, in place of the
 * system resolver: a service directory, DNS over HTTPS, a console's own
 * resolver, a test. IP address literals never reach it. It runs on the
 * loop thread (in poll mode, inside `wsx_loop_poll`), so it must not
 * block: answer `resolution` before returning, or keep it and answer it
 * later from any thread (a lookup of your own, a job on another thread).
 * The connect timeout runs meanwhile. `resolution` is owned by the
 * callee: free it with `wsx_resolution_free` once answered.
 */
typedef void (*wsx_on_resolve)(void *user_data, struct wsx_resolution *resolution);

/**
 * A handshake request under decision on the server.
 */
typedef struct wsx_request {
  /**
   * The request target: path and query.
   */
  const char *path;
  /**
   * Every request header.
   */
  const struct wsx_header *headers;
  /**
   * The number of entries in `headers`.
   */
  size_t headers_len;
  /**
   * The `Origin` header, or NULL.
   */
  const char *origin;
  /**
   * The peer's address as text, as in `wsx_open` ("unix:" for a client
   * of a server on a Unix domain socket).
   */
  const char *peer_addr;
  /**
   * The subprotocol the server will answer with unless changed: the first
   * of its list that the client offered, or NULL.
   */
  const char *subprotocol;
  /**
   * A plain HTTP request (no `Upgrade: websocket`; only with
   * `wsx_server_options_set_plain_http`): answer it with
   * `wsx_upgrade_respond`; accepted, it gets `426 Upgrade Required`.
   */
  bool plain_http;
  /**
   * Mutual TLS: the subject of the client's verified certificate, RFC 4514
   * text, most specific first (`CN=alice,O=Example`), or NULL when the
   * client sent none (or without TLS). An empty string if it could not be
   * read.
   */
  const char *peer_subject;
  /**
   * Mutual TLS: the client's certificate chain as sent, leaf first
   * (`peer_certs_len` entries; NULL when none).
   */
  const struct wsx_cert *peer_certs;
  /**
   * The number of entries in `peer_certs`.
   */
  size_t peer_certs_len;
} wsx_request;

/**
 * Decides on a handshake request: call `wsx_upgrade_*` on `upgrade` to
 * refuse it, pick a subprotocol, add response headers, give the connection
 * callbacks of its own, or defer the decision (`wsx_upgrade_defer`).
 */
typedef void (*wsx_on_upgrade)(void *user_data,
                               struct wsx_upgrade *upgrade,
                               const struct wsx_request *request);

/**
 * A failure that belongs to no accepted connection (accept error, TLS or
 * handshake failure of an incoming connection).
 */
typedef void (*wsx_on_server_error)(void *user_data, const struct wsx_error *error);

/**
 * The server stopped after `wsx_server_shutdown`: every connection has
 * closed or been dropped.
 */
typedef void (*wsx_on_shutdown)(void *user_data);

/**
 * A message published to `topic` found a subscriber past its high-water mark.
 */
typedef struct wsx_slow_subscriber_event {
  /**
   * The subscriber's id (as `wsx_conn_id` gives it).
   */
  uint64_t conn_id;
  /**
   * The topic, NUL-terminated, borrowed for the callback only.
   */
  const char *topic;
  /**
   * The topic's length in bytes, without the NUL.
   */
  size_t topic_len;
  /**
   * Whether the subscriber was skipped for this message or dropped.
   */
  enum wsx_slow_subscriber action;
} wsx_slow_subscriber_event;

/**
 * Called on the loop's thread once per message a slow subscriber missed (or
 * once when it was dropped), with the `user_data` of the server's callbacks.
 */
typedef void (*wsx_on_slow_subscriber)(void *user_data,
                                       const struct wsx_slow_subscriber_event *event);

/**
 * The broker link changed state (`on_cluster_state`).
 */
typedef struct wsx_cluster_state_event {
  /**
   * The new state.
   */
  enum wsx_cluster_state state;
  /**
   * Why, in words (the error that took the link down and when the next
   * attempt comes, or what is subscribed), NUL-terminated, borrowed for
   * the callback only.
   */
  const char *detail;
  /**
   * The detail's length in bytes, without the NUL.
   */
  size_t detail_len;
} wsx_cluster_state_event;

/**
 * Called on the loop's thread when the broker link changes state, with the
 * `user_data` of the server's callbacks.
 */
typedef void (*wsx_on_cluster_state)(void *user_data, const struct wsx_cluster_state_event *event);

/**
 * Publications of another node to a topic with local subscribers were lost
 * (`on_cluster_gap`): resynchronise the topic's subscribers. Raised when
 * that node's next publication arrives, before it is delivered.
 */
typedef struct wsx_cluster_gap {
  /**
   * The topic, NUL-terminated, borrowed for the callback only.
   */
  const char *topic;
  /**
   * The topic's length in bytes, without the NUL.
   */
  size_t topic_len;
  /**
   * The publishing node's id, NUL-terminated, borrowed for the callback only.
   */
  const char *node;
  /**
   * The node id's length in bytes, without the NUL.
   */
  size_t node_len;
  /**
   * The publisher's epoch now.
   */
  uint64_t epoch;
  /**
   * When `epoch_changed`: the epoch before (the publisher restarted).
   */
  uint64_t previous_epoch;
  /**
   * The sequence number expected next (in `previous_epoch` if it changed).
   */
  uint64_t expected;
  /**
   * The sequence number that arrived.
   */
  uint64_t received;
  /**
   * How many publications were lost (`received - expected`); 0 when
   * `epoch_changed`, where it is unknown.
   */
  uint64_t missed;
  /**
   * The publisher restarted (a new epoch): how much was lost is unknown.
   */
  bool epoch_changed;
} wsx_cluster_gap;

/**
 * Called on the loop's thread for each gap found, with the `user_data` of
 * the server's callbacks.
 */
typedef void (*wsx_on_cluster_gap)(void *user_data, const struct wsx_cluster_gap *gap);

/**
 * The callbacks of a server. Extensible: set `struct_size =
 * sizeof(wsx_server_callbacks)`, zero the rest and set what you need; every
 * function pointer may be NULL and fields past the caller's `struct_size`
 * count as NULL. The callbacks of the connections it accepts are a
 * `wsx_conn_callbacks` of their own (`conn`), with their own `user_data`.
 */
typedef struct wsx_server_callbacks {
  /**
   * `sizeof(wsx_server_callbacks)` as the caller was compiled with (at
   * least up to `user_data`).
   */
  size_t struct_size;
  /**
   * Passed first to every callback below (not to those of `conn`).
   */
  void *user_data;
  /**
   * Releases `user_data` once the server is gone (also when
   * `wsx_loop_listen` fails).
   */
  wsx_free_user_data free_user_data;
  /**
   * The callbacks of every accepted connection, unless the upgrade
   * callback gave it its own (NULL: none). Read and copied by
   * `wsx_loop_listen`; its `free_user_data` runs once the server and every
   * connection using it are gone.
   */
  const struct wsx_conn_callbacks *conn;
  /**
   * Decides on each handshake request (NULL: accept all that passed the
   * Origin allow-list).
   */
  wsx_on_upgrade on_upgrade;
  /**
   * A failure outside any accepted connection.
   */
  wsx_on_server_error on_server_error;
  /**
   * The server stopped.
   */
  wsx_on_shutdown on_shutdown;
  /**
   * A subscriber past its high-water mark missed a published message or
   * was dropped (see `wsx_server_options_set_slow_subscriber`).
   */
  wsx_on_slow_subscriber on_slow_subscriber;
  /**
   * The link to the cluster's broker changed state (see
   * `wsx_server_options_set_cluster`). Added in 0.2 after
   * `on_slow_subscriber`: an older struct_size leaves it NULL.
   */
  wsx_on_cluster_state on_cluster_state;
  /**
   * Publications of another node of the cluster were lost.
   */
  wsx_on_cluster_gap on_cluster_gap;
} wsx_server_callbacks;

/**
 * How many connections, servers and event loops are alive in the process
 * (see `wsx_debug_live_objects`). Extensible: set `struct_size =
 * sizeof(wsx_live_objects)` before the call.
 */
typedef struct wsx_live_objects {
  /**
   * `sizeof(wsx_live_objects)` as the caller was compiled with (kept by the call).
   */
  size_t struct_size;
  /**
   * Connections still running, or still referenced by a `wsx_conn*`
   * reference not yet released with `wsx_conn_release`.
   */
  size_t connections;
  /**
   * Servers still running or not yet freed with `wsx_server_free`.
   */
  size_t servers;
  /**
   * Event loops not yet freed with `wsx_loop_free` (or still referenced by
   * a connection or server of theirs).
   */
  size_t loops;
} wsx_live_objects;

/**
 * The counters of a loop (every connection and server it runs) or of one
 * server, as `wsx_loop_metrics` and `wsx_server_metrics` write them.
 * Extensible: set `struct_size = sizeof(wsx_metrics)` before the call.
 * Message and byte counts are of payloads (before compression, without
 * frame headers); a message counts at its last fragment.
 */
typedef struct wsx_metrics {
  /**
   * `sizeof(wsx_metrics)` as the caller was compiled with (kept by the call).
   */
  size_t struct_size;
  /**
   * Connections open now (from the handshake's end to the close event).
   */
  uint64_t connections_open;
  /**
   * Connections that opened, in total.
   */
  uint64_t connections_opened;
  /**
   * Handshakes a server accepted (0 for a loop's clients).
   */
  uint64_t handshakes_accepted;
  /**
   * Handshakes refused with 400.
   */
  uint64_t refused_400;
  /**
   * ... with 401.
   */
  uint64_t refused_401;
  /**
   * ... with 403.
   */
  uint64_t refused_403;
  /**
   * ... with 404.
   */
  uint64_t refused_404;
  /**
   * ... with 405.
   */
  uint64_t refused_405;
  /**
   * ... with 426 (plain HTTP to the WebSocket endpoint).
   */
  uint64_t refused_426;
  /**
   * ... with 429.
   */
  uint64_t refused_429;
  /**
   * ... with 500.
   */
  uint64_t refused_500;
  /**
   * ... with 503 (during a drain, among others).
   */
  uint64_t refused_503;
  /**
   * ... with any other status from 400 up.
   */
  uint64_t refused_other;
  /**
   * Plain HTTP requests answered with a status below 400
   * (`wsx_upgrade_respond` with 200, a `/metrics` route).
   */
  uint64_t http_answered;
  /**
   * Unfinished handshakes dropped to make room for newer connections
   * (0 for a loop).
   */
  uint64_t handshakes_evicted;
  /**
   * Messages received.
   */
  uint64_t messages_in;
  /**
   * Payload bytes received.
   */
  uint64_t bytes_in;
  /**
   * Messages queued for sending (a published message once per subscriber).
   */
  uint64_t messages_out;
  /**
   * Payload bytes queued for sending.
   */
  uint64_t bytes_out;
  /**
   * Connections closed with 1000.
   */
  uint64_t closes_1000;
  /**
   * ... with 1001.
   */
  uint64_t closes_1001;
  /**
   * ... with 1002.
   */
  uint64_t closes_1002;
  /**
   * ... with 1003.
   */
  uint64_t closes_1003;
  /**
   * ... with 1005 (a close frame without a code).
   */
  uint64_t closes_1005;
  /**
   * ... with 1006 (no close handshake: dropped, timed out).
   */
  uint64_t closes_1006;
  /**
   * ... with 1007.
   */
  uint64_t closes_1007;
  /**
   * ... with 1008.
   */
  uint64_t closes_1008;
  /**
   * ... with 1009.
   */
  uint64_t closes_1009;
  /**
   * ... with 1011.
   */
  uint64_t closes_1011;
  /**
   * ... with 1012.
   */
  uint64_t closes_1012;
  /**
   * ... with any other code.
   */
  uint64_t closes_other;
  /**
   * Connections dropped because a keepalive ping went unanswered.
   */
  uint64_t keepalive_timeouts;
  /**
   * Protocol errors of peers.
   */
  uint64_t protocol_errors;
  /**
   * Bytes waiting in the connections' output, not yet written.
   */
  uint64_t queued_bytes;
  /**
   * Round trip of the last answered ping of any connection in
   * microseconds; -1 when none was answered yet.
   */
  int64_t last_ping_rtt_us;
} wsx_metrics;

/**
 * One log record, borrowed for the duration of the callback.
 */
typedef struct wsx_log_record {
  /**
   * Its severity.
   */
  enum wsx_log_level level;
  /**
   * What it is about, NUL-terminated: `wsx.conn` (opened, closed),
   * `wsx.server` (refusals), `wsx.protocol`, `wsx.keepalive`,
   * `wsx.proxy`, `wsx.cluster`, `wsx.loop` (a loop thread that ended early).
   */
  const char *target;
  /**
   * The text, UTF-8, NUL-terminated, one line: "connection 3 opened from
   * 127.0.0.1:5000", "connection 3 closed: code 1000 reason \"bye\"
   * clean true", "refused a handshake from 127.0.0.1:5001: 401 ...".
   */
  const char *message;
  /**
   * The text's length in bytes, without the NUL.
   */
  size_t message_len;
} wsx_log_record;

/**
 * Receives a log record, on the thread that logged it: usually a loop's
 * thread (or the thread polling it), sometimes a name-lookup helper
 * thread. It must not block for long (the loop waits for it) and must not
 * call `wsx_log_set_callback`; records logged while it runs on the same
 * thread are dropped.
 */
typedef void (*wsx_on_log)(void *user_data, const struct wsx_log_record *record);

#ifdef __cplusplus
extern "C" {
#endif // __cplusplus

/**
 * Starts a client connection to a `ws://` or `wss://` URL on `loop`, or,
 * over a Unix domain socket, to a `ws+unix:` or `wss+unix:` URL as Node's
 * ws writes them: `ws+unix:///run/app.sock:/chat` is the socket
 * `/run/app.sock` and the resource `/chat`, with `Host: localhost` (see
 * `wsx_client_options_set_unix_socket_path`).
 *
 * `options` may be NULL (defaults) and is copied: free it whenever you like.
 * `callbacks` is copied; from this call on, the library owns
 * `callbacks->user_data` and calls `free_user_data` exactly once, also when
 * this call fails (but not when `callbacks` itself is refused: NULL, or a
 * bad `struct_size`). A bad URL or option fails here; everything later
 * (DNS, connect, handshake errors) reaches `on_error` then `on_close`.
 *
 * On success `*out_conn` is a new reference owned by the caller: release it
 * with `wsx_conn_release` (before or after the connection closes). Callable
 * from any thread, also from inside a callback.
 *
 * # Safety
 * Pointers are NULL or valid; `url` is NUL-terminated.
 */
enum wsx_result wsx_loop_connect(const struct wsx_loop *loop,
                                 const char *url,
                                 const struct wsx_client_options *options,
                                 const struct wsx_conn_callbacks *callbacks,
                                 struct wsx_conn **out_conn);

/**
 * 0 for the first connection, then the number of the reconnect attempt in a
 * row (as `on_connecting` counted it); 0 for NULL.
 *
 * # Safety
 * `attempt` is NULL or the pointer `on_before_connect` got, during that call.
 */
uint32_t wsx_attempt_number(struct wsx_attempt *attempt);

/**
 * Sets a request header of this attempt: replaces every header of that
 * name (compared without case) or adds it. Both strings are copied. The
 * name must be an HTTP token and the value free of control characters, or
 * `WSX_ERR_INVALID_ARGUMENT`.
 *
 * # Safety
 * `attempt` is NULL or the pointer `on_before_connect` got, during that
 * call; the strings are NULL or NUL-terminated.
 */
enum wsx_result wsx_attempt_set_header(struct wsx_attempt *attempt,
                                       const char *name,
                                       const char *value);

/**
 * Postpones the attempt until `wsx_pending_attempt_proceed` (from any
 * thread), so slow work such as fetching a token does not stall the loop;
 * the connect timeout runs from now. On success `*out_pending` is owned by
 * the caller: free it with `wsx_pending_attempt_free`. At most once per
 * attempt (`WSX_ERR_STATE` after).
 *
 * # Safety
 * `attempt` is NULL or the pointer `on_before_connect` got, during that
 * call; `out_pending` is NULL or writable.
 */
enum wsx_result wsx_attempt_defer(struct wsx_attempt *attempt,
                                  struct wsx_pending_attempt **out_pending);

/**
 * Starts the postponed attempt. `headers` (`headers_len` entries, copied)
 * replaces the attempt's extra request headers; NULL keeps those it had when
 * `on_before_connect` returned. `WSX_ERR_STATE` if it proceeded already,
 * `WSX_ERR_CLOSED` if the connection ended meanwhile (its connect timeout
 * passed, or it was closed), `WSX_ERR_INVALID_ARGUMENT` for a bad header.
 * Callable from any thread.
 *
 * # Safety
 * `pending` is NULL or live; `headers` is NULL or points to `headers_len`
 * entries whose strings are NUL-terminated.
 */
enum wsx_result wsx_pending_attempt_proceed(const struct wsx_pending_attempt *pending,
                                            const struct wsx_header *headers,
                                            size_t headers_len);

/**
 * Frees a pending attempt; if it has not proceeded, it proceeds now with the
 * headers as they are. NULL is a no-op. Callable from any thread.
 *
 * # Safety
 * `pending` is NULL or from `wsx_attempt_defer`, freed once.
 */
void wsx_pending_attempt_free(struct wsx_pending_attempt *pending);

/**
 * Joins a cluster: the server's publications also reach every other
 * node's subscribers through Redis pub/sub, and theirs reach this server's
 * (`cluster` is copied; NULL leaves the cluster: the default). The URL and
 * node id are checked by `wsx_loop_listen` (`WSX_ERR_INVALID_ARGUMENT`);
 * an unreachable Redis is not an error: the server serves its own
 * subscribers and reports the cluster down, then up once it connects.
 *
 * # Safety
 * `options` is NULL or live; `cluster` is NULL or valid, its strings NULL
 * or NUL-terminated.
 */
enum wsx_result wsx_server_options_set_cluster(struct wsx_server_options *options,
                                               const struct wsx_cluster_options *cluster);

/**
 * Writes the default cluster options to `*out`, whose `struct_size` the
 * caller set: every field 0 or NULL (each then takes its default).
 *
 * # Safety
 * `out` is NULL or has `out->struct_size` writable bytes.
 */
enum wsx_result wsx_cluster_options_default(struct wsx_cluster_options *out);

/**
 * Writes the state of the server's broker link into `*out_state`.
 * `WSX_ERR_STATE` for a server that joined no cluster.
 *
 * # Safety
 * `server` is NULL or live; `out_state` is NULL or writable.
 */
enum wsx_result wsx_server_cluster_state(const struct wsx_server *server,
                                         enum wsx_cluster_state *out_state);

/**
 * Writes the figures of the server's broker link into `*out`, whose
 * `struct_size` the caller set. `WSX_ERR_STATE` for a server that joined
 * no cluster.
 *
 * # Safety
 * `server` is NULL or live; `out` is NULL or has `out->struct_size`
 * writable bytes.
 */
enum wsx_result wsx_server_cluster_stats(const struct wsx_server *server,
                                         struct wsx_cluster_stats *out);

/**
 * Writes this node's id and a NUL into `out_buf` of `buf_len` bytes (256
 * always suffice). `WSX_ERR_STATE` for a server that joined no cluster.
 *
 * # Safety
 * `server` is NULL or live; `out_buf` is NULL or has `buf_len` writable bytes.
 */
enum wsx_result wsx_server_cluster_node_id(const struct wsx_server *server,
                                           char *out_buf,
                                           size_t buf_len);

/**
 * Takes one more reference to `conn` and returns it (the same pointer), so
 * a connection passed to a callback can be kept past the callback. Release
 * it with `wsx_conn_release`. Returns NULL for NULL.
 *
 * # Safety
 * `conn` is NULL or a live connection.
 */
struct wsx_conn *wsx_conn_retain(struct wsx_conn *conn);

/**
 * Releases one reference to `conn` (from `wsx_loop_connect` or
 * `wsx_conn_retain`); the connection is freed with its last reference. It does not close the connection: call
 * `wsx_conn_close` for that. Callable from any thread and from inside any
 * callback, also this connection's own. NULL is a no-op.
 *
 * # Safety
 * `conn` is NULL or a reference the caller owns, released once.
 */
void wsx_conn_release(struct wsx_conn *conn);

/**
 * Sends a message (`WSX_MSG_KIND_TEXT` data must be UTF-8); `data` is no
 * longer needed once this returns (NULL is allowed when `len` is 0).
 * Returns `WSX_ERR_CLOSED` once the close handshake began or the connection
 * ended (never a crash); when it ended by a failure, the message
 * (`wsx_last_error_message`) names it, e.g. "it ended with an I/O error:
 * ..." for a peer that dropped the connection. `WSX_ERR_WOULD_BLOCK` past
 * the high-water mark (`on_writable` follows once it drained; or use
 * `wsx_conn_send_timeout` off the loop thread). From inside this
 * connection's own callback the message goes straight into its buffer (a
 * large one with nothing queued before it, straight to the socket); from
 * elsewhere it is copied, queued and the loop is woken. Same as
 * `wsx_conn_send_ex` with no flags.
 *
 * # Safety
 * `conn` is NULL or live; `data` is NULL or points to `len` bytes.
 */
enum wsx_result wsx_conn_send(const struct wsx_conn *conn,
                              wsx_msg_kind kind,
                              const uint8_t *data,
                              size_t len);

/**
 * `wsx_conn_send` with `flags`, a bitwise OR of `WSX_SEND_*` values:
 * `WSX_SEND_NO_COMPRESS` sends this message uncompressed even when
 * permessage-deflate was negotiated (for data already compressed, such as
 * images). Unknown flags are refused with `WSX_ERR_INVALID_ARGUMENT`.
 *
 * # Safety
 * `conn` is NULL or live; `data` is NULL or points to `len` bytes.
 */
enum wsx_result wsx_conn_send_ex(const struct wsx_conn *conn,
                                 wsx_msg_kind kind,
                                 const uint8_t *data,
                                 size_t len,
                                 uint32_t flags);

/**
 * Sends one piece (one frame) of a fragmented message: the first call
 * opens a message of `kind`, later calls continue it with the same `kind`,
 * and the call with `fin` true ends it; the peer receives one message.
 * `data` is copied (NULL is allowed when `len` is 0). Checked before
 * anything is queued, like `wsx_conn_send` (`WSX_ERR_CLOSED`,
 * `WSX_ERR_WOULD_BLOCK`: send the same piece again later), and by the
 * fragment rules, refused with `WSX_ERR_INVALID_ARGUMENT`: while a message
 * is open, `wsx_conn_send` (and `_ex`, `_timeout`) and a piece of another
 * kind; text that is not UTF-8 across the pieces (a character may be split
 * between two pieces; the last may not end inside one). Pings and the
 * close may be sent in between. With permessage-deflate the message is
 * compressed. Same as `wsx_conn_send_fragment_ex` with no flags.
 *
 * # Safety
 * `conn` is NULL or live; `data` is NULL or points to `len` bytes.
 */
enum wsx_result wsx_conn_send_fragment(const struct wsx_conn *conn,
                                       wsx_msg_kind kind,
                                       const uint8_t *data,
                                       size_t len,
                                       bool fin);

/**
 * `wsx_conn_send_fragment` with `flags` (`WSX_SEND_NO_COMPRESS` on the
 * first piece sends the whole message uncompressed; later pieces' flags
 * are ignored). Unknown flags are refused with `WSX_ERR_INVALID_ARGUMENT`.
 *
 * # Safety
 * `conn` is NULL or live; `data` is NULL or points to `len` bytes.
 */
enum wsx_result wsx_conn_send_fragment_ex(const struct wsx_conn *conn,
                                          wsx_msg_kind kind,
                                          const uint8_t *data,
                                          size_t len,
                                          bool fin,
                                          uint32_t flags);

/**
 * Drops the connection at once, without a close handshake (nothing more is
 * sent or received): the close callback follows with 1006 and origin
 * `WSX_CLOSE_ORIGIN_TRANSPORT` (unless close frames were already
 * exchanged), pending `wsx_conn_recv_timeout` calls return, and a
 * reconnecting client stops. The peer sees the transport close (1006).
 * `WSX_ERR_CLOSED` once the connection is closed. From any thread,
 * callbacks included.
 *
 * # Safety
 * `conn` is NULL or live.
 */
enum wsx_result wsx_conn_abort(const struct wsx_conn *conn);

/**
 * Sends a ping with up to 125 bytes of payload (NULL is allowed when `len`
 * is 0); its round trip arrives with the pong.
 *
 * # Safety
 * `conn` is NULL or live; `data` is NULL or points to `len` bytes.
 */
enum wsx_result wsx_conn_ping(const struct wsx_conn *conn, const uint8_t *data, size_t len);

/**
 * Starts the close handshake with `code` (1000, 1001, ..., or 3000-4999) and
 * a UTF-8 `reason` of at most 123 bytes (NULL: none), or with 1005 and no
 * reason for a close frame without a code. The close callback
 * follows once the handshake finished or timed out. Calling it again while
 * the handshake runs returns `WSX_OK` and changes nothing (the first code
 * and reason are the ones sent); once the connection is closed (its close
 * callback ran) it returns `WSX_ERR_CLOSED`. On a reconnecting client it
 * also stops reconnecting.
 *
 * # Safety
 * `conn` is NULL or live; `reason` is NULL or NUL-terminated.
 */
enum wsx_result wsx_conn_close(const struct wsx_conn *conn, uint16_t code, const char *reason);

/**
 * A number naming this connection within its loop (0 for NULL).
 *
 * # Safety
 * `conn` is NULL or live.
 */
uint64_t wsx_conn_id(const struct wsx_conn *conn);

/**
 * The connection's state (`WSX_STATE_CLOSED` for NULL).
 *
 * # Safety
 * `conn` is NULL or live.
 */
enum wsx_state wsx_conn_state(const struct wsx_conn *conn);

/**
 * Flow control for input: pauses (`paused` true) or resumes reading this
 * connection. While paused no message callback runs (from the next message
 * on, even when called inside `on_message`) and the peer, once the socket
 * buffers fill up, sees backpressure; pings and the peer's close wait too, so
 * a keepalive may time out. Resuming delivers what was held back, in order.
 * Closing reads again (to finish the close handshake). Idempotent; callable
 * from any thread.
 *
 * # Safety
 * `conn` is NULL or live.
 */
enum wsx_result wsx_conn_set_reading_paused(const struct wsx_conn *conn, bool paused);

/**
 * Bytes queued and not yet written to the socket (0 for NULL).
 *
 * # Safety
 * `conn` is NULL or live.
 */
size_t wsx_conn_buffered_amount(const struct wsx_conn *conn);

/**
 * The round trip of the last answered ping in microseconds, or -1 if none
 * (or for NULL).
 *
 * # Safety
 * `conn` is NULL or live.
 */
int64_t wsx_conn_rtt_us(const struct wsx_conn *conn);

/**
 * Writes the peer's address ("ip:port"; over a Unix domain socket "unix:"
 * and the path, see `wsx_open.peer_addr`) and a NUL into `out_buf` of
 * `buf_len` bytes (64 suffice for an IP address, 128 for a socket's path). `WSX_ERR_STATE` before the peer is
 * known; `WSX_ERR_INVALID_ARGUMENT` if the buffer is too small.
 *
 * # Safety
 * `conn` is NULL or live; `out_buf` is NULL or has `buf_len` writable bytes.
 */
enum wsx_result wsx_conn_peer_addr(const struct wsx_conn *conn,
                                   char *out_buf,
                                   size_t buf_len);

/**
 * `wsx_conn_send_ex` that, past the high-water mark, waits up to
 * `timeout_ms` (negative: as long as it takes) for the send queue to drain
 * below the low-water mark instead of returning `WSX_ERR_WOULD_BLOCK`.
 * `WSX_ERR_TIMEOUT` when the time passes first, `WSX_ERR_CLOSED` when the
 * connection ends meanwhile. For threads other than the loop's: from inside
 * a callback it returns `WSX_ERR_STATE` (the loop could not drain the queue
 * while it waits). To wait without blocking a thread, send with
 * `wsx_conn_send_ex` and send again from `on_writable`.
 *
 * # Safety
 * `conn` is NULL or live; `data` is NULL or points to `len` bytes.
 */
enum wsx_result wsx_conn_send_timeout(const struct wsx_conn *conn,
                                      wsx_msg_kind kind,
                                      const uint8_t *data,
                                      size_t len,
                                      uint32_t flags,
                                      int32_t timeout_ms);

/**
 * Pull mode (`wsx_conn_options_set_inbox`): copies up to `cap` bytes of the
 * oldest received message into `buf` without waiting, and describes them
 * in `*out` (`struct_size` set by the caller). A message longer than `cap`
 * comes in pieces over several calls: `out->end_of_message` is false and
 * `out->remaining` tells how much follows; the next call continues it
 * (`cap` 0, with `buf` NULL, tells the kind and size of the next message
 * without copying). Messages come whole and in order; one thread at a
 * time should receive from a connection.
 *
 * Returns `WSX_ERR_WOULD_BLOCK` when no message waits (`on_readable` tells
 * when one arrives); `WSX_ERR_CLOSED` once the connection ended and every
 * message that arrived before the end was taken (`wsx_conn_close_info`
 * tells how it ended); `WSX_ERR_INVALID_ARGUMENT` on a connection without
 * an inbox. `*out` is written only on success. Callable from any thread,
 * also from inside a callback.
 *
 * # Safety
 * `conn` is NULL or live; `buf` is NULL or has `cap` writable bytes; `out`
 * is NULL or has `out->struct_size` writable bytes.
 */
enum wsx_result wsx_conn_recv(const struct wsx_conn *conn,
                              uint8_t *buf,
                              size_t cap,
                              struct wsx_received *out);

/**
 * `wsx_conn_recv` that waits up to `timeout_ms` (negative: as long as it
 * takes) for a message; `WSX_ERR_TIMEOUT` when none came in time. The rest
 * of a message under way is returned at once. For threads other than the
 * loop's: from inside a callback it returns `WSX_ERR_STATE`.
 *
 * # Safety
 * As `wsx_conn_recv`.
 */
enum wsx_result wsx_conn_recv_timeout(const struct wsx_conn *conn,
                                      uint8_t *buf,
                                      size_t cap,
                                      int32_t timeout_ms,
                                      struct wsx_received *out);

/**
 * Pull mode: how many received messages wait in the inbox, not counting
 * one `wsx_conn_recv` is part-way through (0 without an inbox, or for NULL).
 *
 * # Safety
 * `conn` is NULL or live.
 */
size_t wsx_conn_inbox_len(const struct wsx_conn *conn);

/**
 * Writes how the connection ended to `*out` (`struct_size` set by the
 * caller): available from just before the close callback runs, and after
 * it. `WSX_ERR_STATE` while the connection has not ended (nothing is
 * written). Callable from any thread.
 *
 * # Safety
 * `conn` is NULL or live; `out` is NULL or has `out->struct_size` writable
 * bytes.
 */
enum wsx_result wsx_conn_close_info(const struct wsx_conn *conn, struct wsx_close_info *out);

/**
 * Writes the client certificate of a server's connection (mutual TLS, see
 * `wsx_server_options_set_tls_client_auth`) to `*out` (`struct_size` set by
 * the caller): its subject and chain, or `subject` NULL and no chain when
 * the client sent none, without TLS, and on client connections (still
 * `WSX_OK`). Known from the upgrade callback on; callable from any thread.
 *
 * # Safety
 * `conn` is NULL or live; `out` is NULL or has `out->struct_size` writable
 * bytes.
 */
enum wsx_result wsx_conn_peer_identity(const struct wsx_conn *conn, struct wsx_peer_identity *out);

/**
 * Writes the defaults of every option to `*out_defaults`, whose
 * `struct_size` the caller set: at most that many bytes are written, so a
 * program built with an older, shorter struct keeps working.
 *
 * # Safety
 * `out_defaults` is NULL or has `out_defaults->struct_size` writable bytes.
 */
enum wsx_result wsx_defaults_get(struct wsx_defaults *out_defaults);

/**
 * Creates a client engine for `url` (`ws://` or `wss://`; the scheme only
 * sets the default port and the `Host` header: TLS, if any, is yours, see
 * `wsx_tls`) with `options` (NULL: the defaults of `wsx_client_options_new`).
 * Of the options it uses the subprotocols, headers, Origin, compression
 * (on by default), message and frame limits, streaming, auto-pong,
 * reject-binary, handshake limits, and the handshake, close and keepalive
 * timers (run by `wsx_engine_tick`); the rest (TLS, proxy, reconnect,
 * backpressure, inbox, nodelay, connect and idle timeouts) concern the
 * event loop and are ignored. The options are copied. The handshake request
 * is pending output at once. Free with `wsx_engine_free`.
 *
 * # Safety
 * `url` is NULL or a NUL-terminated string; `options` NULL or live;
 * `out_engine` NULL or writable.
 */
enum wsx_result wsx_engine_client_new(const char *url,
                                      const struct wsx_client_options *options,
                                      struct wsx_engine **out_engine);

/**
 * Creates a server engine waiting for a handshake request, with `options`
 * (NULL: the defaults of `wsx_server_options_new`). Of the options it uses
 * the subprotocols (chosen when the program accepts without naming one),
 * the allowed origins (others are refused with 403 by the engine itself),
 * compression (off by default), message and frame limits, streaming,
 * auto-pong, reject-binary, handshake limits, and the handshake, close and
 * keepalive timers; the rest concern the event loop and are ignored. The
 * options are copied. Free with `wsx_engine_free`.
 *
 * # Safety
 * `options` NULL or live; `out_engine` NULL or writable.
 */
enum wsx_result wsx_engine_server_new(const struct wsx_server_options *options,
                                      struct wsx_engine **out_engine);

/**
 * Creates an engine whose opening handshake happened elsewhere (an HTTP
 * server that upgraded the connection; the contract of .NET's
 * `WebSocket.CreateFromStream`): it is OPEN at once and its OPEN event is
 * ready. The role is the options': `wsx_client_options_conn(o)` makes a
 * client engine (it masks its frames), `wsx_server_options_conn(o)` a
 * server engine. Of the options it uses the limits, streaming, auto-pong,
 * reject-binary, compression level and threshold, and the close and
 * keepalive timers. `subprotocol` (NULL: none) and `deflate` (NULL: no
 * compression) are what the handshake agreed. Free with `wsx_engine_free`.
 *
 * # Safety
 * `options` NULL or live; `subprotocol` NULL or NUL-terminated; `deflate`
 * NULL or `struct_size` readable bytes; `out_engine` NULL or writable.
 */
enum wsx_result wsx_engine_open_new(const struct wsx_conn_options *options,
                                    const char *subprotocol,
                                    const struct wsx_deflate_params *deflate,
                                    struct wsx_engine **out_engine);

/**
 * Frees an engine and everything it holds. NULL is a no-op.
 *
 * # Safety
 * `engine` is NULL or from `wsx_engine_*_new`, freed once.
 */
void wsx_engine_free(struct wsx_engine *engine);

/**
 * Feeds `len` bytes received from the transport (NULL allowed when `len`
 * is 0). Writes how many were taken to `out_consumed`: all of them, unless
 * more than a frame's worth (the maximum frame size plus 64 KiB) waits
 * unparsed; then take events and feed the rest again. Never blocks; the
 * bytes are copied.
 *
 * # Safety
 * `engine` NULL or live; `data` NULL or `len` readable bytes;
 * `out_consumed` NULL or writable.
 */
enum wsx_result wsx_engine_feed(struct wsx_engine *engine,
                                const uint8_t *data,
                                size_t len,
                                size_t *out_consumed);

/**
 * Tells the engine the transport ended (EOF or a broken connection): events
 * already fed still come, then a CLOSE (1006 when no close handshake
 * happened).
 *
 * # Safety
 * `engine` NULL or live.
 */
enum wsx_result wsx_engine_feed_eof(struct wsx_engine *engine);

/**
 * Takes the next event into `out_event` (its `struct_size` set); its kind
 * is `WSX_ENGINE_EVENT_KIND_NONE` when nothing is ready. Call it until
 * NONE after feeding or ticking. Pointers in the event are borrowed until
 * the next call on the engine. Sending from inside the loop (an echo) is
 * fine: copy nothing, but take no further event until done with this one.
 *
 * # Safety
 * `engine` NULL or live; `out_event` NULL or `struct_size` writable bytes.
 */
enum wsx_result wsx_engine_next_event(struct wsx_engine *engine,
                                      struct wsx_engine_event *out_event);

/**
 * Server: accepts the request of the REQUEST event with `subprotocol`
 * (one the client offered; NULL picks the first of the options'
 * subprotocols the client offered, if any) and `header_count` extra
 * response headers (`headers` may be NULL when 0; copied). The 101 response
 * is pending at once and an OPEN event follows. When the client offered
 * permessage-deflate and the options enable compression, it is agreed.
 * `WSX_ERR_STATE` when no request waits for a decision;
 * `WSX_ERR_INVALID_ARGUMENT` for a subprotocol not offered or a bad header.
 *
 * # Safety
 * `engine` NULL or live; `subprotocol` NULL or NUL-terminated; `headers`
 * NULL or `header_count` live pairs of NUL-terminated strings.
 */
enum wsx_result wsx_engine_accept(struct wsx_engine *engine,
                                  const char *subprotocol,
                                  const struct wsx_header *headers,
                                  size_t header_count);

/**
 * Server: refuses the request of the REQUEST event with an HTTP `status`
 * (400-599) and a short `reason` (NULL: none) sent as a plain-text body.
 * The response is pending at once; no event follows: send it, then close.
 *
 * # Safety
 * `engine` NULL or live; `reason` NULL or NUL-terminated.
 */
enum wsx_result wsx_engine_refuse(struct wsx_engine *engine, uint16_t status, const char *reason);

/**
 * The bytes to send next, without a copy: `*out_data` and `*out_len` (0
 * when nothing waits; then `*out_data` may be NULL). Write a prefix of them
 * to the transport, then `wsx_engine_consume_output` its length. The
 * pointer is valid until the next call on the engine but the const getters.
 *
 * # Safety
 * `engine` NULL or live; `out_data`, `out_len` NULL or writable.
 */
enum wsx_result wsx_engine_peek_output(const struct wsx_engine *engine,
                                       const uint8_t **out_data,
                                       size_t *out_len);

/**
 * Marks `n` bytes of `wsx_engine_peek_output` as written to the transport;
 * more than it gave is `WSX_ERR_INVALID_ARGUMENT`.
 *
 * # Safety
 * `engine` NULL or live.
 */
enum wsx_result wsx_engine_consume_output(struct wsx_engine *engine, size_t n);

/**
 * Whether to shut the transport's write side down now (`shutdown(fd,
 * SHUT_WR)`, or TLS close_notify): the engine is CLOSED and all its output
 * was consumed; nothing more will ever be sent. Then read until EOF (or
 * `wsx_engine_next_deadline`) and close the transport. False for NULL.
 *
 * # Safety
 * `engine` NULL or live.
 */
bool wsx_engine_wants_shutdown(const struct wsx_engine *engine);

/**
 * Queues a message (`WSX_MSG_KIND_TEXT` data must be UTF-8; NULL allowed
 * when `len` is 0); the bytes are copied (compressed when permessage-deflate
 * was agreed and the message reaches the threshold). `WSX_ERR_STATE`
 * before the OPEN event, `WSX_ERR_CLOSED` once a close frame was sent or
 * the connection ended. There is no high-water mark: watch
 * `wsx_engine_buffered_amount`.
 *
 * # Safety
 * `engine` NULL or live; `data` NULL or `len` readable bytes.
 */
enum wsx_result wsx_engine_send(struct wsx_engine *engine,
                                wsx_msg_kind kind,
                                const uint8_t *data,
                                size_t len);

/**
 * Queues a piece of a message; the piece with `fin` true ends it. Until
 * then only pieces of the same kind (and control frames) may be sent. Text
 * may split a character between pieces but must be UTF-8 as a whole.
 *
 * # Safety
 * `engine` NULL or live; `data` NULL or `len` readable bytes.
 */
enum wsx_result wsx_engine_send_fragment(struct wsx_engine *engine,
                                         wsx_msg_kind kind,
                                         const uint8_t *data,
                                         size_t len,
                                         bool fin);

/**
 * Queues a ping with up to 125 bytes of payload.
 *
 * # Safety
 * `engine` NULL or live; `data` NULL or `len` readable bytes.
 */
enum wsx_result wsx_engine_ping(struct wsx_engine *engine, const uint8_t *data, size_t len);

/**
 * Queues a pong with up to 125 bytes of payload (unsolicited: a heartbeat).
 *
 * # Safety
 * `engine` NULL or live; `data` NULL or `len` readable bytes.
 */
enum wsx_result wsx_engine_pong(struct wsx_engine *engine, const uint8_t *data, size_t len);

/**
 * Starts the close handshake with `code` (1000-1003, 1007-1014, 3000-4999;
 * 1005 sends a close frame without a code and needs a NULL or empty reason)
 * and `reason` (NULL: none; at most 123 bytes of UTF-8). The close timeout
 * runs from the next tick; the CLOSE event comes with the peer's answer.
 * The engine answers a peer's close by itself.
 *
 * # Safety
 * `engine` NULL or live; `reason` NULL or NUL-terminated.
 */
enum wsx_result wsx_engine_close(struct wsx_engine *engine, uint16_t code, const char *reason);

/**
 * Tells the engine the time, `now_ms` milliseconds from any fixed origin
 * (a monotonic clock; never going back): it fires what is due (a keepalive
 * ping, a handshake, keepalive or close timeout, which end the connection
 * with an ERROR and a CLOSE 1006 event). The first tick starts the timers;
 * an engine never ticked has no timeouts. Call it after feeding and
 * whenever `wsx_engine_next_deadline` passes.
 *
 * # Safety
 * `engine` NULL or live.
 */
enum wsx_result wsx_engine_tick(struct wsx_engine *engine, uint64_t now_ms);

/**
 * When to call `wsx_engine_tick` next, in the same milliseconds as the
 * ticks; `UINT64_MAX` when no timer runs (before the first tick, after the
 * CLOSE event, or for NULL).
 *
 * # Safety
 * `engine` NULL or live.
 */
uint64_t wsx_engine_next_deadline(const struct wsx_engine *engine);

/**
 * The engine's state: CONNECTING during the handshake, OPEN, CLOSING once
 * one close frame passed, CLOSED when nothing more will be read (send what
 * is pending, then shut down). CLOSED for NULL.
 *
 * # Safety
 * `engine` NULL or live.
 */
enum wsx_state wsx_engine_state(const struct wsx_engine *engine);

/**
 * Bytes queued to send and not yet consumed (handshake and frames), for
 * backpressure: stop producing while it is high. 0 for NULL.
 *
 * # Safety
 * `engine` NULL or live.
 */
size_t wsx_engine_buffered_amount(const struct wsx_engine *engine);

/**
 * Creates a loop with no connections. Free it with `wsx_loop_free`.
 *
 * # Safety
 * `out_loop` is NULL or writable.
 */
enum wsx_result wsx_loop_new(struct wsx_loop **out_loop);

/**
 * Stops the loop, waits for its thread (unless called on that thread), and
 * releases the caller's handle. Connections still open are dropped without a
 * close handshake; their `free_user_data` runs. Connection and server handles
 * the caller still holds stay valid (calls on them return
 * `WSX_ERR_CLOSED`) until freed. Allowed from inside a callback. NULL is a no-op.
 * When this frees the last loop of the process, it also ends and joins the
 * name-resolution helper threads (waiting at most 500 ms for one still in a
 * lookup).
 *
 * # Safety
 * `loop` is NULL or a loop from `wsx_loop_new`, freed once.
 */
void wsx_loop_free(struct wsx_loop *loop);

/**
 * Does the ready I/O and due timers, runs the callbacks on the calling
 * thread, then returns. Waits up to `timeout_ms` for something to happen:
 * 0 never blocks, a negative value waits until something does (or
 * `wsx_loop_stop`). `WSX_ERR_STATE` if the loop runs on its own thread or is
 * being polled already (also from inside one of its own callbacks).
 *
 * # Safety
 * `loop` is NULL or live.
 */
enum wsx_result wsx_loop_poll(const struct wsx_loop *loop, int32_t timeout_ms);

/**
 * Runs the loop on the calling thread until `wsx_loop_stop`.
 *
 * # Safety
 * `loop` is NULL or live.
 */
enum wsx_result wsx_loop_run(const struct wsx_loop *loop);

/**
 * Runs the loop on a new thread of its own until `wsx_loop_stop` or
 * `wsx_loop_free`; callbacks then run on that thread. `WSX_ERR_STATE` if it
 * already runs on one.
 *
 * # Safety
 * `loop` is NULL or live.
 */
enum wsx_result wsx_loop_start_thread(const struct wsx_loop *loop);

/**
 * Asks the loop to stop: `wsx_loop_run` and the loop thread return, a
 * blocked `wsx_loop_poll` wakes up. Callable from any thread and from inside
 * a callback.
 *
 * # Safety
 * `loop` is NULL or live.
 */
enum wsx_result wsx_loop_stop(const struct wsx_loop *loop);

/**
 * Makes every allocation of the library (every one its Rust code makes,
 * on every thread) go through `allocator`'s functions, for the rest of
 * the process. Call it first, before any other wsx function: it is refused
 * with `WSX_ERR_STATE` once the library allocated anything with the system
 * allocator (any earlier call may have, also a failed call of this one
 * that left a `wsx_last_error_message`). `allocator` is copied. The
 * allocator's functions must stay callable until the process ends (the
 * library frees what it holds when its objects are freed, but for one
 * cache: a thread that compressed or inflated permessage-deflate messages
 * keeps a few idle zlib states (about 430 KB with one setting) for its next
 * connections, freed when the thread exits).
 *
 * # Safety
 * `allocator` is NULL or points to `struct_size` readable bytes; its
 * functions behave as documented on `wsx_allocator`.
 */
enum wsx_result wsx_allocator_set(const struct wsx_allocator *allocator);

/**
 * Makes `fill` the source of every random byte the library draws (masking
 * keys of client frames, `Sec-WebSocket-Key`, reconnect jitter), for the
 * rest of the process, instead of the operating system's generator. Set it
 * once, before creating connections or engines; a second call is
 * `WSX_ERR_STATE`. `fill` is called from any thread the library runs on,
 * with `user_data`, which the library never frees.
 *
 * # Safety
 * `fill` is NULL (`WSX_ERR_NULL`) or a function behaving as
 * `wsx_random_fn` documents, thread-safe with `user_data`.
 */
enum wsx_result wsx_random_set(wsx_random_fn fill, void *user_data);

/**
 * Creates client options with the defaults: 16 MiB message and frame limits,
 * 10 s connect and handshake timeouts, 5 s close timeout, a keepalive ping
 * every 30 s (30 s to answer), no idle timeout, TCP_NODELAY on, certificates
 * verified against the Mozilla roots. Free with `wsx_client_options_free`.
 *
 * # Safety
 * `out_options` is NULL or writable.
 */
enum wsx_result wsx_client_options_new(struct wsx_client_options **out_options);

/**
 * Frees client options. NULL is a no-op.
 *
 * # Safety
 * `options` is NULL or from `wsx_client_options_new`, freed once.
 */
void wsx_client_options_free(struct wsx_client_options *options);

/**
 * Time allowed for name resolution and TCP connect, in ms (default 10 000).
 *
 * # Safety
 * `options` is NULL or live.
 */
enum wsx_result wsx_client_options_set_connect_timeout_ms(struct wsx_client_options *options,
                                                          uint32_t ms);

/**
 * Adds a request header (Authorization, Cookie, ...). Both strings are copied.
 *
 * # Safety
 * `options` is NULL or live; the strings are NULL or NUL-terminated.
 */
enum wsx_result wsx_client_options_add_header(struct wsx_client_options *options,
                                              const char *name,
                                              const char *value);

/**
 * Sets the `Origin` header (NULL: none, the default). Copied.
 *
 * # Safety
 * `options` is NULL or live; `origin` is NULL or NUL-terminated.
 */
enum wsx_result wsx_client_options_set_origin(struct wsx_client_options *options,
                                              const char *origin);

/**
 * Trusts the CA certificates of a PEM file, besides the Mozilla roots (NULL:
 * none). Read when connecting.
 *
 * # Safety
 * `options` is NULL or live; `path` is NULL or NUL-terminated.
 */
enum wsx_result wsx_client_options_set_tls_ca_file(struct wsx_client_options *options,
                                                   const char *path);

/**
 * Presents a client certificate: a PEM chain (leaf first) and its PEM
 * private key. NULL for both removes it. Read when connecting.
 *
 * # Safety
 * `options` is NULL or live; the paths are NULL or NUL-terminated.
 */
enum wsx_result wsx_client_options_set_tls_client_cert(struct wsx_client_options *options,
                                                       const char *cert_file,
                                                       const char *key_file);

/**
 * DANGER: turns certificate and host name verification off (`wss://` then
 * protects against nobody). For tests only. Default false.
 *
 * # Safety
 * `options` is NULL or live.
 */
enum wsx_result wsx_client_options_set_tls_danger_disable_verification(struct wsx_client_options *options,
                                                                       bool disable);

/**
 * Creates server options with the defaults: 127.0.0.1, port 0 (a free one),
 * 16 MiB message and frame limits, any Origin, at most 10 000 connections and
 * 1 000 unfinished handshakes, 10 s handshake and 5 s close timeouts, a
 * keepalive ping every 30 s (30 s to answer), no TLS. Free with
 * `wsx_server_options_free`.
 *
 * # Safety
 * `out_options` is NULL or writable.
 */
enum wsx_result wsx_server_options_new(struct wsx_server_options **out_options);

/**
 * Frees server options. NULL is a no-op.
 *
 * # Safety
 * `options` is NULL or from `wsx_server_options_new`, freed once.
 */
void wsx_server_options_free(struct wsx_server_options *options);

/**
 * The address to listen on: a name, IPv4 or IPv6 (default "127.0.0.1"). Copied.
 *
 * # Safety
 * `options` is NULL or live; `host` is NULL or NUL-terminated.
 */
enum wsx_result wsx_server_options_set_host(struct wsx_server_options *options, const char *host);

/**
 * The port to listen on; 0 picks a free one (the default; read it back with
 * `wsx_server_port`).
 *
 * # Safety
 * `options` is NULL or live.
 */
enum wsx_result wsx_server_options_set_port(struct wsx_server_options *options, uint16_t port);

/**
 * Binds the port with `SO_REUSEPORT` (default false): several servers,
 * in this process or others, each with this option, listen on one port,
 * and the kernel spreads new connections among them. Without it,
 * `wsx_loop_listen` on a port another socket listens on fails with
 * `WSX_ERR_IO` and a message saying to set this. Linux, macOS and the BSDs;
 * elsewhere `enabled` true is refused with `WSX_ERR_INVALID_ARGUMENT` ("not
 * supported on this platform"), as is combining it with
 * `wsx_server_options_set_unix_socket` (whichever setter comes second).
 *
 * # Safety
 * `options` is NULL or live.
 */
enum wsx_result wsx_server_options_set_reuse_port(struct wsx_server_options *options, bool enabled);

/**
 * Spreads the server's connections over `loops` event loops (threads) in
 * this process, sharing its port (default 1, at most 256: 0 and more than
 * 256 are refused with `WSX_ERR_INVALID_ARGUMENT`, the message saying why).
 * Loop 0 is the loop `wsx_loop_listen` is called on; the server starts
 * the other `loops - 1` threads itself, and stops and joins them when it
 * shuts down (`on_shutdown` runs once, after every loop has finished) or
 * its loop is freed. On Linux each loop listens with `SO_REUSEPORT` and
 * the kernel balances new connections (so `wsx_server_options_set_reuse_port`
 * is implied); elsewhere, and on a Unix domain socket, loop 0 accepts and
 * hands connections to the loops in turn. `wsx_server_publish` reaches the
 * subscribers on every loop once; the counters, `max_connections` and the
 * drain cover every loop.
 *
 * Threads: a connection's callbacks run on its loop's thread, so with
 * `loops` above 1 the connection callbacks run on several threads at once,
 * and the callbacks and their `user_data` must be thread-safe. The
 * server's own callbacks (upgrade, error, shutdown...) are called by one
 * loop at a time, from any of the server's loop threads. A server loop
 * in poll mode (`wsx_loop_poll`) still polls loop 0 only: the others run
 * on their own threads.
 *
 * # Safety
 * `options` is NULL or live.
 */
enum wsx_result wsx_server_options_set_loops(struct wsx_server_options *options, size_t loops);

/**
 * Allows an `Origin` value. Without any call every origin (and none) is
 * allowed; after the first, requests from other origins get 403. Copied.
 *
 * # Safety
 * `options` is NULL or live; `origin` is NULL or NUL-terminated.
 */
enum wsx_result wsx_server_options_add_origin(struct wsx_server_options *options,
                                              const char *origin);

/**
 * Serves `wss://` with a PEM certificate chain (leaf first) and its PEM
 * private key; NULL for both turns TLS off. Read when listening. A TLS
 * server offers ALPN `http/1.1` only (a browser never tries WebSocket over
 * HTTP/2 with it). Client certificates: `wsx_server_options_set_tls_client_auth`.
 *
 * # Safety
 * `options` is NULL or live; the paths are NULL or NUL-terminated.
 */
enum wsx_result wsx_server_options_set_tls(struct wsx_server_options *options,
                                           const char *cert_file,
                                           const char *key_file);

/**
 * Mutual TLS: asks every client for a certificate, verified against the CA
 * certificates in `ca_file` (PEM) and, if `crl_file` is not NULL, the
 * certificate revocation lists in it (PEM). `required` true: a client
 * without a valid certificate fails the TLS handshake (reported to
 * `on_server_error`, never reaching the upgrade callback); false: a client
 * may send none (the upgrade callback sees `peer_subject` NULL), but one it
 * sends must be valid. The verified certificate is in `wsx_request`
 * (`peer_subject`, `peer_certs`) and `wsx_conn_peer_identity`, for the
 * application to authorise by identity. `ca_file` NULL turns client
 * certificates off (the default). Needs `wsx_server_options_set_tls` too
 * (in either order; checked by `wsx_loop_listen`); the files are read when
 * listening. Copied.
 *
 * # Safety
 * `options` is NULL or live; the paths are NULL or NUL-terminated.
 */
enum wsx_result wsx_server_options_set_tls_client_auth(struct wsx_server_options *options,
                                                       const char *ca_file,
                                                       bool required,
                                                       const char *crl_file);

/**
 * Plain HTTP requests (a GET without `Upgrade: websocket`: a load
 * balancer's health check, a browser) go to the upgrade callback too, with
 * `wsx_request.plain_http` true, instead of getting `426 Upgrade Required`
 * at once (default off). Answer them with `wsx_upgrade_respond` (any status,
 * headers and body) or `wsx_upgrade_refuse`, at once or later through
 * `wsx_upgrade_defer` and `wsx_pending_upgrade_respond`; a plain request
 * the callback accepts (does nothing with) still gets the 426.
 *
 * # Safety
 * `options` is NULL or live.
 */
enum wsx_result wsx_server_options_set_plain_http(struct wsx_server_options *options, bool enabled);

/**
 * Most open connections at once (default 10 000); past it, new TCP
 * connections are closed at once.
 *
 * # Safety
 * `options` is NULL or live.
 */
enum wsx_result wsx_server_options_set_max_connections(struct wsx_server_options *options,
                                                       size_t max);

/**
 * Most unfinished handshakes at once (default 1 000).
 *
 * # Safety
 * `options` is NULL or live.
 */
enum wsx_result wsx_server_options_set_max_pending_handshakes(struct wsx_server_options *options,
                                                              size_t max);

/**
 * Writes the default permessage-deflate settings (windows 15, context
 * takeover on both sides, level 6, threshold 64 bytes) to `*out`, whose
 * `struct_size` the caller set.
 *
 * # Safety
 * `out` is NULL or has `out->struct_size` writable bytes.
 */
enum wsx_result wsx_deflate_options_default(struct wsx_deflate_options *out);

/**
 * Writes the default inbox marks (the core's) to `*out`, whose
 * `struct_size` the caller set.
 *
 * # Safety
 * `out` is NULL or has `out->struct_size` writable bytes.
 */
enum wsx_result wsx_inbox_options_default(struct wsx_inbox_options *out);

/**
 * The settings of `options` that clients and servers share, as a pointer
 * borrowed from `options`: valid until `options` is freed, never freed
 * itself. NULL for NULL.
 *
 * # Safety
 * `options` is NULL or live.
 */
struct wsx_conn_options *wsx_client_options_conn(struct wsx_client_options *options);

/**
 * The settings of `options` that clients and servers share, as a pointer
 * borrowed from `options`: valid until `options` is freed, never freed
 * itself. NULL for NULL.
 *
 * # Safety
 * `options` is NULL or live.
 */
struct wsx_conn_options *wsx_server_options_conn(struct wsx_server_options *options);

/**
 * Largest message accepted, in bytes (default 16 MiB; over it: close 1009).
 *
 * # Safety
 * `options` is NULL or live.
 */
enum wsx_result wsx_conn_options_set_max_message_size(struct wsx_conn_options *options,
                                                      size_t bytes);

/**
 * Largest single frame accepted, in bytes (default 16 MiB; over it: close 1009).
 *
 * # Safety
 * `options` is NULL or live.
 */
enum wsx_result wsx_conn_options_set_max_frame_size(struct wsx_conn_options *options, size_t bytes);

/**
 * Whether pings are answered automatically (default true).
 *
 * # Safety
 * `options` is NULL or live.
 */
enum wsx_result wsx_conn_options_set_auto_pong(struct wsx_conn_options *options, bool on);

/**
 * Streaming mode: deliver messages in pieces as frames arrive, with
 * `wsx_message.fin` marking the last (default false: whole messages). Not
 * with pull mode.
 *
 * # Safety
 * `options` is NULL or live.
 */
enum wsx_result wsx_conn_options_set_streaming(struct wsx_conn_options *options, bool on);

/**
 * Refuse binary messages: only text is accepted (default false); a binary
 * message then fails the connection with close 1003.
 *
 * # Safety
 * `options` is NULL or live.
 */
enum wsx_result wsx_conn_options_set_reject_binary(struct wsx_conn_options *options, bool on);

/**
 * Limits on the handshake's header block: the response's for a client, the
 * request's for a server (default 8 KiB, 64 lines).
 *
 * # Safety
 * `options` is NULL or live.
 */
enum wsx_result wsx_conn_options_set_handshake_limits(struct wsx_conn_options *options,
                                                      size_t max_bytes,
                                                      size_t max_headers);

/**
 * Adds a subprotocol, once per subprotocol in order of preference: a client
 * offers them; a server chooses the first of its list the client also
 * offered. `name` is copied.
 *
 * # Safety
 * `options` is NULL or live; `name` is NULL or NUL-terminated.
 */
enum wsx_result wsx_conn_options_add_subprotocol(struct wsx_conn_options *options,
                                                 const char *name);

/**
 * Time allowed for the TLS and WebSocket handshakes, in ms (default 10 000).
 *
 * # Safety
 * `options` is NULL or live.
 */
enum wsx_result wsx_conn_options_set_handshake_timeout_ms(struct wsx_conn_options *options,
                                                          uint32_t ms);

/**
 * Time to wait for the peer's close frame and TCP close, in ms (default 5 000).
 *
 * # Safety
 * `options` is NULL or live.
 */
enum wsx_result wsx_conn_options_set_close_timeout_ms(struct wsx_conn_options *options,
                                                      uint32_t ms);

/**
 * Keepalive: a ping every `interval_ms`; no pong within `timeout_ms` drops
 * the connection (close 1006). `interval_ms` 0 turns it off (default
 * 30 000 / 30 000).
 *
 * # Safety
 * `options` is NULL or live.
 */
enum wsx_result wsx_conn_options_set_keepalive(struct wsx_conn_options *options,
                                               uint32_t interval_ms,
                                               uint32_t timeout_ms);

/**
 * Drop the connection after this many ms with nothing received; 0 is off
 * (the default).
 *
 * # Safety
 * `options` is NULL or live.
 */
enum wsx_result wsx_conn_options_set_idle_timeout_ms(struct wsx_conn_options *options, uint32_t ms);

/**
 * Send-queue marks: past `high_water` queued bytes sends return
 * `WSX_ERR_WOULD_BLOCK`; below `low_water` the writable callback runs
 * (default 17 MiB / 256 KiB).
 *
 * # Safety
 * `options` is NULL or live.
 */
enum wsx_result wsx_conn_options_set_backpressure(struct wsx_conn_options *options,
                                                  size_t high_water,
                                                  size_t low_water);

/**
 * TCP_NODELAY (default on).
 *
 * # Safety
 * `options` is NULL or live.
 */
enum wsx_result wsx_conn_options_set_nodelay(struct wsx_conn_options *options, bool on);

/**
 * permessage-deflate with `deflate` (copied; NULL: none). A client offers
 * it (by default with `wsx_deflate_options_default`'s settings); a server
 * accepts it when a client offers it (by default it declines). Invalid
 * settings or `struct_size` give `WSX_ERR_INVALID_ARGUMENT`.
 *
 * # Safety
 * `options` is NULL or live; `deflate` is NULL or valid.
 */
enum wsx_result wsx_conn_options_set_compression(struct wsx_conn_options *options,
                                                 const struct wsx_deflate_options *deflate);

/**
 * Pull mode with the marks of `inbox` (copied; NULL: push mode, the
 * default): received messages wait in the connection's inbox instead of
 * going to `on_message`; `on_readable` tells when the empty inbox got one,
 * and `wsx_conn_recv` takes them from any thread. Not with streaming.
 * Invalid marks or `struct_size` give `WSX_ERR_INVALID_ARGUMENT`.
 *
 * # Safety
 * `options` is NULL or live; `inbox` is NULL or valid.
 */
enum wsx_result wsx_conn_options_set_inbox(struct wsx_conn_options *options,
                                           const struct wsx_inbox_options *inbox);

/**
 * What publishing does with a subscriber past its high-water mark (default
 * `WSX_SLOW_SUBSCRIBER_SKIP`); `on_slow_subscriber` in the server's
 * callbacks is told each time.
 *
 * # Safety
 * `options` is NULL or live.
 */
enum wsx_result wsx_server_options_set_slow_subscriber(struct wsx_server_options *options,
                                                       wsx_slow_subscriber policy);

/**
 * Subscribes a server-side connection to `topic` (UTF-8, copied): messages
 * published to it from now on reach the connection. Any number of topics
 * per connection; subscribing twice is harmless. Closing the connection
 * leaves all its topics. `WSX_ERR_INVALID_ARGUMENT` on a client's
 * connection, `WSX_ERR_CLOSED` once the connection is closing.
 *
 * # Safety
 * `conn` is NULL or live; `topic` is NULL or NUL-terminated.
 */
enum wsx_result wsx_conn_subscribe(const struct wsx_conn *conn, const char *topic);

/**
 * Unsubscribes a connection from `topic`; `*out_was_subscribed` (if not
 * NULL) tells whether it was subscribed.
 *
 * # Safety
 * `conn` is NULL or live; `topic` is NULL or NUL-terminated;
 * `out_was_subscribed` is NULL or writable.
 */
enum wsx_result wsx_conn_unsubscribe(const struct wsx_conn *conn,
                                     const char *topic,
                                     bool *out_was_subscribed);

/**
 * Sends a message to every subscriber of `topic` on `server`, but `skip`
 * (NULL: none; typically the connection that published). The frame is
 * encoded once and shared by all subscribers. `data` is copied (NULL is
 * allowed when `len` is 0). `*out_count` (if not
 * NULL) receives how many subscribers the message was queued for: a
 * subscriber past its high-water mark is skipped or dropped (see
 * `wsx_server_options_set_slow_subscriber`) and not counted. Callable from
 * any thread, also from inside callbacks; the messages one thread publishes
 * reach each subscriber in order. On a server in a cluster
 * (`wsx_server_options_set_cluster`) the message also goes to every other
 * node's subscribers through Redis (`*out_count` counts this server's).
 *
 * # Safety
 * `server` is NULL or live; `topic` is NULL or NUL-terminated; `data` is
 * NULL or points to `len` bytes; `skip` is NULL or live; `out_count` is
 * NULL or writable.
 */
enum wsx_result wsx_server_publish(const struct wsx_server *server,
                                   const char *topic,
                                   wsx_msg_kind kind,
                                   const uint8_t *data,
                                   size_t len,
                                   const struct wsx_conn *skip,
                                   size_t *out_count);

/**
 * Writes into `*out_count` how many connections of `server` are subscribed
 * to `topic`.
 *
 * # Safety
 * `server` is NULL or live; `topic` is NULL or NUL-terminated; `out_count`
 * is NULL or writable.
 */
enum wsx_result wsx_server_subscribers(const struct wsx_server *server,
                                       const char *topic,
                                       size_t *out_count);

/**
 * Writes the default reconnect options (see `wsx_reconnect_options`) to
 * `*out`, whose `struct_size` the caller set.
 *
 * # Safety
 * `out` is NULL or has `out->struct_size` writable bytes.
 */
enum wsx_result wsx_reconnect_options_default(struct wsx_reconnect_options *out);

/**
 * Reconnects with `reconnect`'s policy (copied); NULL turns reconnecting
 * off (the default). With it on, one `wsx_conn` outlives its transports:
 * `on_disconnect` marks each drop and `on_connecting` each attempt (both
 * in `wsx_conn_callbacks`), `is_reconnect` the opens after the first, and
 * `on_close` runs once, at the very end. A bad `struct_size` or value gives
 * `WSX_ERR_INVALID_ARGUMENT`.
 *
 * # Safety
 * `options` is NULL or live; `reconnect` is NULL or valid.
 */
enum wsx_result wsx_client_options_set_reconnect(struct wsx_client_options *options,
                                                 const struct wsx_reconnect_options *reconnect);

/**
 * The close codes after which a reconnecting client tries again (`count`
 * codes at `codes`, copied), in place of the default set 1001, 1006, 1011,
 * 1012, 1013 and 1014. A close the application asked for is never retried,
 * and failures without a close (network errors, timeouts, refused
 * handshakes) follow `wsx_reconnect_options` whatever the set. `codes`
 * NULL restores the default set; `count` 0 with a non-NULL `codes` retries
 * after no close code. Each code must be within 1000 to 4999, or the call
 * returns `WSX_ERR_INVALID_ARGUMENT` and changes nothing. Applies to the
 * reconnect policy set before or after this call.
 *
 * # Safety
 * `options` is NULL or live; `codes` is NULL or points to `count` values.
 */
enum wsx_result wsx_client_options_set_reconnect_codes(struct wsx_client_options *options,
                                                       const uint16_t *codes,
                                                       size_t count);

/**
 * Connects through a proxy (copied; NULL: none, the default):
 * `http://[user:password@]host[:port]` (HTTP CONNECT, Basic
 * authentication), `https://...` (the same over TLS to the proxy, checked
 * with the client's TLS options) or `socks5://...` / `socks5h://...`
 * (SOCKS5; the proxy resolves the target's name). An invalid URL returns
 * `WSX_ERR_INVALID_ARGUMENT`. Failures of the proxy hop are reported as
 * `WSX_ERR_PROXY` (`http_status` 407 for credentials, 502 or the SOCKS5
 * reply code for an unreachable target).
 *
 * # Safety
 * `options` is NULL or live; `url` is NULL or NUL-terminated.
 */
enum wsx_result wsx_client_options_set_proxy(struct wsx_client_options *options, const char *url);

/**
 * With no proxy set, use the one the environment names when connecting
 * (`https_proxy` for `wss://`, `http_proxy` for `ws://`, then `all_proxy`;
 * lower case first; `no_proxy` lists exempt hosts, domain suffixes, IPs,
 * CIDR blocks, optional `:port`, or `*`). Default false.
 *
 * # Safety
 * `options` is NULL or live.
 */
enum wsx_result wsx_client_options_set_proxy_from_env(struct wsx_client_options *options, bool on);

/**
 * Resolves host names with `resolve` instead of the system resolver (and
 * its helper threads: see HELPER THREADS). The addresses it gives are raced
 * as any lookup's are: IPv6 first, IPv4 250 ms later or as soon as the
 * IPv6 attempt fails (RFC 8305, Happy Eyeballs). With a proxy, the name
 * resolved is the proxy's. `resolve` NULL goes back to the system
 * resolver. From this call on (also when it fails) the library owns
 * `user_data`: `free_user_data` runs once, when neither these options nor
 * any connection made with them uses it.
 *
 * # Safety
 * `options` is NULL or live; `resolve` and `free_user_data` are NULL or
 * valid functions.
 */
enum wsx_result wsx_client_options_set_resolver(struct wsx_client_options *options,
                                                wsx_on_resolve resolve,
                                                void *user_data,
                                                wsx_free_user_data free_user_data);

/**
 * The host name to resolve (UTF-8, NUL-terminated), valid until
 * `resolution` is freed; NULL for NULL.
 *
 * # Safety
 * `resolution` is NULL or live.
 */
const char *wsx_resolution_host(const struct wsx_resolution *resolution);

/**
 * The port the client connects to (the URL's, or the proxy's), which
 * addresses answered without a port get; 0 for NULL.
 *
 * # Safety
 * `resolution` is NULL or live.
 */
uint16_t wsx_resolution_port(const struct wsx_resolution *resolution);

/**
 * Answers the lookup with `count` addresses (copied): each an IP address
 * (`"127.0.0.1"`, `"::1"`), connected to on `wsx_resolution_port`, or an
 * address and port (`"127.0.0.1:9001"`, `"[::1]:9001"`). No address
 * (`count` 0) fails the attempt as a name that did not resolve
 * (`WSX_ERR_DNS`). An address that does not parse is
 * `WSX_ERR_INVALID_ARGUMENT` and answers nothing (answer again);
 * `WSX_ERR_STATE` if the lookup was answered already. An answer after the
 * attempt ended (its connect timeout passed, the connection was closed) is
 * ignored. Callable from any thread, also inside the resolver callback.
 *
 * # Safety
 * `resolution` is NULL or live; `addresses` is NULL (only with `count` 0)
 * or points to `count` NUL-terminated strings.
 */
enum wsx_result wsx_resolution_answer(const struct wsx_resolution *resolution,
                                      const char *const *addresses,
                                      size_t count);

/**
 * Fails the lookup: the attempt ends with `WSX_ERR_DNS`, its message
 * naming the host and `reason` (copied; NULL: none given).
 * `WSX_ERR_STATE` if the lookup was answered already. Callable from any
 * thread, also inside the resolver callback.
 *
 * # Safety
 * `resolution` is NULL or live; `reason` is NULL or NUL-terminated.
 */
enum wsx_result wsx_resolution_fail(const struct wsx_resolution *resolution, const char *reason);

/**
 * Frees a resolution; unanswered, its lookup fails (`WSX_ERR_DNS`). NULL
 * is a no-op. Callable from any thread.
 *
 * # Safety
 * `resolution` is NULL or one the resolver callback got, freed once.
 */
void wsx_resolution_free(struct wsx_resolution *resolution);

/**
 * Static text describing a result code (any value; unknown codes get a
 * generic text). Never NULL; never free it.
 */
const char *wsx_result_str(wsx_result result);

/**
 * The message of the last failed call on the calling thread ("" if none).
 * Owned by the library and valid until the next failing call on this thread;
 * copy it to keep it.
 */
const char *wsx_last_error_message(void);

/**
 * The library's version as static text, e.g. "0.2.0". Compare with the
 * `WSX_VERSION_*` macros to detect a header/library mismatch.
 */
const char *wsx_version(void);

/**
 * Binds and starts a server on `loop` (the bind happens before this returns,
 * so `wsx_server_port` works at once).
 *
 * `options` may be NULL (defaults: 127.0.0.1, a free port) and is copied.
 * `callbacks` (and `callbacks->conn`) is copied; from this call on, the
 * library owns both `user_data`s and calls each `free_user_data` exactly
 * once, also when this call fails (but not for a struct refused itself:
 * NULL, or a bad `struct_size`). On success `*out_server` is owned by the
 * caller: free it with `wsx_server_free`. Callable from any thread.
 *
 * # Safety
 * Pointers are NULL or valid.
 */
enum wsx_result wsx_loop_listen(const struct wsx_loop *loop,
                                const struct wsx_server_options *options,
                                const struct wsx_server_callbacks *callbacks,
                                struct wsx_server **out_server);

/**
 * Releases the caller's handle. The server keeps running until
 * `wsx_server_shutdown` or the loop stops. NULL is a no-op.
 *
 * # Safety
 * `server` is NULL or from `wsx_loop_listen`, freed once.
 */
void wsx_server_free(struct wsx_server *server);

/**
 * The port the server listens on (0 for NULL, and for a server on a Unix
 * domain socket).
 *
 * # Safety
 * `server` is NULL or live.
 */
uint16_t wsx_server_port(const struct wsx_server *server);

/**
 * Writes the address the server listens on ("ip:port", or "unix:" and the
 * path of its Unix domain socket) and a NUL into `out_buf` of `buf_len`
 * bytes (64 suffice for an IP address, 128 for a socket's path).
 *
 * # Safety
 * `server` is NULL or live; `out_buf` is NULL or has `buf_len` writable bytes.
 */
enum wsx_result wsx_server_local_addr(const struct wsx_server *server,
                                      char *out_buf,
                                      size_t buf_len);

/**
 * Graceful shutdown with 1001 (going away): `wsx_server_drain(server, 1001,
 * "server shutting down", timeout_ms)`. Callable from any thread.
 *
 * # Safety
 * `server` is NULL or live.
 */
enum wsx_result wsx_server_shutdown(const struct wsx_server *server, uint32_t timeout_ms);

/**
 * Graceful shutdown (the drain): every open connection gets a close frame
 * with `code` and `reason` (NULL: none; 1012 "service restart" tells
 * reconnecting clients to come back) and the time to answer; handshakes
 * meanwhile, plain HTTP included, are answered 503 (a load balancer's
 * health check fails over); what is still open after `timeout_ms` is
 * dropped. Then the server stops listening and `on_shutdown` runs. A second
 * call changes nothing. `code` and `reason` follow `wsx_conn_close`'s rules
 * (`WSX_ERR_INVALID_ARGUMENT` otherwise). Callable from any thread.
 *
 * # Safety
 * `server` is NULL or live; `reason` is NULL or NUL-terminated.
 */
enum wsx_result wsx_server_drain(const struct wsx_server *server,
                                 uint16_t code,
                                 const char *reason,
                                 uint32_t timeout_ms);

/**
 * Refuses the handshake with an HTTP status and a short reason sent as the
 * body (NULL: none). A refusal is a status 400-599: any other gives
 * `WSX_ERR_INVALID_ARGUMENT` (and nothing changes). Headers added with
 * `wsx_upgrade_add_header` go with the refusal (WWW-Authenticate, ...); one
 * that a refusal writes itself (Content-Type, Content-Length, Connection,
 * Transfer-Encoding) also gives `WSX_ERR_INVALID_ARGUMENT`.
 *
 * # Safety
 * `upgrade` is the running upgrade callback's; `reason` NULL or NUL-terminated.
 */
enum wsx_result wsx_upgrade_refuse(struct wsx_upgrade *upgrade,
                                   uint16_t status,
                                   const char *reason);

/**
 * Answers the request with an HTTP response of the application's own
 * instead of the handshake: any final status 200-599 (`200` for a health
 * check, `301`/`302` with `Location`, a small page, `401` with
 * `WWW-Authenticate`), the headers added with `wsx_upgrade_add_header` and
 * then `headers` (`headers_len` entries; NULL: none), and `body_len` bytes
 * of `body` (NULL with 0: empty). Without a `Content-Type` header,
 * `text/plain; charset=utf-8` is sent; `Content-Length` and `Connection:
 * close` are written by the library (giving them, or `Transfer-Encoding`,
 * is `WSX_ERR_INVALID_ARGUMENT`, as are a status outside 200-599 and a bad
 * header; nothing changes then). The connection closes once the response
 * is out. Meant for plain HTTP requests (`wsx_request.plain_http`, see
 * `wsx_server_options_set_plain_http`), valid for any request. Everything is
 * copied.
 *
 * # Safety
 * `upgrade` is the running upgrade callback's; `headers` is NULL or points
 * to `headers_len` entries; `body` is NULL or has `body_len` bytes.
 */
enum wsx_result wsx_upgrade_respond(struct wsx_upgrade *upgrade,
                                    uint16_t status,
                                    const struct wsx_header *headers,
                                    size_t headers_len,
                                    const uint8_t *body,
                                    size_t body_len);

/**
 * Sets the subprotocol to answer with (NULL: none), replacing the preset
 * choice in `wsx_request.subprotocol`. Copied.
 *
 * # Safety
 * `upgrade` is the running upgrade callback's; `name` NULL or NUL-terminated.
 */
enum wsx_result wsx_upgrade_set_subprotocol(struct wsx_upgrade *upgrade, const char *name);

/**
 * Adds a header to the response, whether the 101 or a refusal. Copied. The
 * name must be an HTTP token and the value free of control characters (CR,
 * LF, NUL, ...), or `WSX_ERR_INVALID_ARGUMENT`.
 *
 * # Safety
 * `upgrade` is the running upgrade callback's; strings NULL or NUL-terminated.
 */
enum wsx_result wsx_upgrade_add_header(struct wsx_upgrade *upgrade,
                                       const char *name,
                                       const char *value);

/**
 * Gives the accepted connection callbacks of its own instead of the
 * server's `conn` callbacks. `callbacks` (`struct_size` set) is copied and
 * the library owns its `user_data` from this call on: `free_user_data` runs
 * exactly once, after the connection is gone, or at once if the handshake
 * is refused or the callbacks replaced (also when this call fails, unless
 * `callbacks` itself is refused: NULL or a bad `struct_size`).
 *
 * # Safety
 * `upgrade` is the running upgrade callback's; `callbacks` NULL or valid.
 */
enum wsx_result wsx_upgrade_set_callbacks(struct wsx_upgrade *upgrade,
                                          const struct wsx_conn_callbacks *callbacks);

/**
 * Postpones the decision on this handshake, so it can be taken elsewhere
 * (another thread, a database) without stalling the loop. After the
 * upgrade callback returns, the connection waits (its handshake timeout
 * still runs) for a decision on `*out_pending`, owned by the caller. The
 * callbacks the connection gets if accepted, the subprotocol and headers
 * `wsx_pending_upgrade_accept` answers with, are those set on `upgrade`
 * before the callback returns. Calling `wsx_upgrade_refuse` as well
 * refuses at once (a later decision on the pending upgrade changes nothing).
 * At most once per upgrade (`WSX_ERR_STATE` after).
 *
 * # Safety
 * `upgrade` is NULL or the running upgrade callback's; `out_pending` is
 * NULL or writable.
 */
enum wsx_result wsx_upgrade_defer(struct wsx_upgrade *upgrade,
                                  struct wsx_pending_upgrade **out_pending);

/**
 * Accepts the handshake with the subprotocol and response headers the
 * upgrade held when its callback returned. `WSX_ERR_STATE` if it was
 * decided already; `WSX_ERR_CLOSED` if it is too late (the handshake
 * timeout passed, or the client left). Callable from any thread.
 *
 * # Safety
 * `pending` is NULL or live.
 */
enum wsx_result wsx_pending_upgrade_accept(const struct wsx_pending_upgrade *pending);

/**
 * Accepts the handshake with the subprotocol `subprotocol` (NULL: none) and
 * the extra response headers `headers` (`headers_len` entries; NULL: none),
 * in place of those the upgrade held. Everything is copied. Results as
 * `wsx_pending_upgrade_accept`, and `WSX_ERR_INVALID_ARGUMENT` for a bad
 * header (the handshake stays undecided).
 *
 * # Safety
 * `pending` is NULL or live; `subprotocol` is NULL or NUL-terminated;
 * `headers` is NULL or points to `headers_len` entries.
 */
enum wsx_result wsx_pending_upgrade_accept_with(const struct wsx_pending_upgrade *pending,
                                                const char *subprotocol,
                                                const struct wsx_header *headers,
                                                size_t headers_len);

/**
 * Refuses the handshake with an HTTP status 400-599, a short reason sent as
 * the body (NULL: none) and extra response headers (`headers_len` entries;
 * NULL: none), all copied. A bad status or header gives
 * `WSX_ERR_INVALID_ARGUMENT` and leaves the handshake undecided; otherwise
 * results as `wsx_pending_upgrade_accept`.
 *
 * # Safety
 * `pending` is NULL or live; `reason` is NULL or NUL-terminated; `headers`
 * is NULL or points to `headers_len` entries.
 */
enum wsx_result wsx_pending_upgrade_refuse(const struct wsx_pending_upgrade *pending,
                                           uint16_t status,
                                           const char *reason,
                                           const struct wsx_header *headers,
                                           size_t headers_len);

/**
 * Answers the deferred request with an HTTP response of the application's
 * own, as `wsx_upgrade_respond` does (status 200-599, `headers`, `body`;
 * only these headers, not those of the upgrade). A bad status or header
 * gives `WSX_ERR_INVALID_ARGUMENT` and leaves it undecided; otherwise
 * results as `wsx_pending_upgrade_accept`. Everything is copied.
 *
 * # Safety
 * `pending` is NULL or live; `headers` is NULL or points to `headers_len`
 * entries; `body` is NULL or has `body_len` bytes.
 */
enum wsx_result wsx_pending_upgrade_respond(const struct wsx_pending_upgrade *pending,
                                            uint16_t status,
                                            const struct wsx_header *headers,
                                            size_t headers_len,
                                            const uint8_t *body,
                                            size_t body_len);

/**
 * Frees a pending upgrade; if it is still undecided, the handshake is
 * refused with 500. NULL is a no-op. Callable from any thread.
 *
 * # Safety
 * `pending` is NULL or from `wsx_upgrade_defer`, freed once.
 */
void wsx_pending_upgrade_free(struct wsx_pending_upgrade *pending);

/**
 * Writes the counts of live connections, servers and event loops in the
 * whole process to `*out`: a debugging aid for leak checks (take the counts
 * before, free everything, compare). The counts are exact once no other
 * thread is using wsx. Callable from any thread.
 *
 * # Safety
 * `out` is NULL or has `out->struct_size` writable bytes.
 */
enum wsx_result wsx_debug_live_objects(struct wsx_live_objects *out);

/**
 * Writes the server's counters now to `*out` (set `out->struct_size`
 * first). Callable from any thread, at any time; relaxed reads, each
 * figure as it was at some moment of the call.
 *
 * # Safety
 * `server` is NULL or live; `out` is NULL or has `out->struct_size`
 * writable bytes.
 */
enum wsx_result wsx_server_metrics(const struct wsx_server *server, struct wsx_metrics *out);

/**
 * Writes the loop's counters now (every connection and server of the
 * loop) to `*out`, as `wsx_server_metrics` does. Callable from any thread.
 *
 * # Safety
 * `loop` is NULL or live; `out` is NULL or has `out->struct_size`
 * writable bytes.
 */
enum wsx_result wsx_loop_metrics(const struct wsx_loop *loop, struct wsx_metrics *out);

/**
 * Writes the server's counters as OpenMetrics text (what Prometheus
 * scrapes: serve it from a `/metrics` route with `wsx_upgrade_respond`,
 * status 200 and the `Content-Type` of `wsx_metrics_content_type()`),
 * NUL-terminated, into `buf` of `cap` bytes. `*out_needed` (if not NULL)
 * receives the size needed, NUL included, whatever the result: with `buf`
 * NULL and `cap` 0 the call only measures (`WSX_OK`); a buffer too small
 * is `WSX_ERR_INVALID_ARGUMENT` and is left alone. 4096 bytes suffice
 * today. Callable from any thread.
 *
 * # Safety
 * `server` is NULL or live; `buf` is NULL or has `cap` writable bytes;
 * `out_needed` is NULL or writable.
 */
enum wsx_result wsx_server_metrics_text(const struct wsx_server *server,
                                        char *buf,
                                        size_t cap,
                                        size_t *out_needed);

/**
 * The loop's counters as OpenMetrics text, as `wsx_server_metrics_text`.
 *
 * # Safety
 * `loop` is NULL or live; `buf` is NULL or has `cap` writable bytes;
 * `out_needed` is NULL or writable.
 */
enum wsx_result wsx_loop_metrics_text(const struct wsx_loop *loop,
                                      char *buf,
                                      size_t cap,
                                      size_t *out_needed);

/**
 * The `Content-Type` of the metrics text (static, NUL-terminated):
 * `application/openmetrics-text; version=1.0.0; charset=utf-8`.
 */
const char *wsx_metrics_content_type(void);

/**
 * Installs the process-wide log callback (see the `wsx_on_log` type),
 * letting through the records of `level` and more severe ones; nothing is
 * logged before (the default), and `callback` NULL or level
 * `WSX_LOG_LEVEL_OFF` turns logging off. The previous callback's
 * `free_user_data` runs once no call of it is running (on the thread that
 * finishes last). When logging is off, a record costs one atomic load.
 * Process-wide because the library's records (`log` facade) have one
 * destination per process; route by `record->target` or the connection
 * id in the text. Fails with `WSX_ERR_STATE` when the process installed
 * another logger of Rust's `log` crate first (a Rust program linking the
 * static library), or when called from inside the callback; on failure
 * nothing changes and `free_user_data` is not called. Callable from any
 * thread.
 *
 * # Safety
 * `callback` is NULL or callable from any thread with `user_data` until
 * `free_user_data` (NULL: none) runs with it.
 */
enum wsx_result wsx_log_set_callback(wsx_on_log callback,
                                     void *user_data,
                                     wsx_free_user_data free_user_data,
                                     wsx_log_level level);

/**
 * Whether a record of `level` would reach the log callback now.
 */
bool wsx_log_enabled(wsx_log_level level);

/**
 * Creates a client session to `server_name` (the host the certificate must
 * match, also sent as SNI) with the TLS settings of `options` (NULL: the
 * defaults): the Mozilla roots plus `wsx_client_options_set_tls_ca_file`'s
 * CA, the client certificate, or verification disabled. The ClientHello
 * is pending output at once. Free with `wsx_tls_free`.
 *
 * # Safety
 * `server_name` NULL or NUL-terminated; `options` NULL or live;
 * `out_tls` NULL or writable.
 */
enum wsx_result wsx_tls_client_new(const char *server_name,
                                   const struct wsx_client_options *options,
                                   struct wsx_tls **out_tls);

/**
 * Creates a server session with the certificate chain and private key of
 * these PEM files. Free with `wsx_tls_free`.
 *
 * # Safety
 * `cert_file`, `key_file` NULL or NUL-terminated; `out_tls` NULL or writable.
 */
enum wsx_result wsx_tls_server_new(const char *cert_file,
                                   const char *key_file,
                                   struct wsx_tls **out_tls);

/**
 * Frees a session. NULL is a no-op.
 *
 * # Safety
 * `tls` NULL or from `wsx_tls_*_new`, freed once.
 */
void wsx_tls_free(struct wsx_tls *tls);

/**
 * Feeds `len` encrypted bytes from the network; writes how many were taken
 * to `out_consumed` (fewer when 256 KiB of decrypted bytes wait: take them
 * first). `WSX_ERR_TLS` when the session failed (a bad certificate, a
 * broken record): send the pending output (the alert), then close.
 *
 * # Safety
 * `tls` NULL or live; `data` NULL or `len` readable bytes; `out_consumed`
 * NULL or writable.
 */
enum wsx_result wsx_tls_feed(struct wsx_tls *tls,
                             const uint8_t *data,
                             size_t len,
                             size_t *out_consumed);

/**
 * Tells the session the network transport ended.
 *
 * # Safety
 * `tls` NULL or live.
 */
enum wsx_result wsx_tls_feed_eof(struct wsx_tls *tls);

/**
 * The decrypted bytes waiting for the engine (feed them to
 * `wsx_engine_feed`), without a copy; valid until the next call on the
 * session but the const ones.
 *
 * # Safety
 * `tls` NULL or live; `out_data`, `out_len` NULL or writable.
 */
enum wsx_result wsx_tls_peek_plaintext(const struct wsx_tls *tls,
                                       const uint8_t **out_data,
                                       size_t *out_len);

/**
 * Marks `n` decrypted bytes as taken; more than are waiting is
 * `WSX_ERR_INVALID_ARGUMENT`.
 *
 * # Safety
 * `tls` NULL or live.
 */
enum wsx_result wsx_tls_consume_plaintext(struct wsx_tls *tls, size_t n);

/**
 * Encrypts `len` bytes of the engine's output (from
 * `wsx_engine_peek_output`); writes how many were taken to `out_written`
 * (then `wsx_engine_consume_output` that many). Bytes written during the
 * TLS handshake are held and sent once it finishes. `WSX_ERR_CLOSED` after
 * `wsx_tls_close`, `WSX_ERR_TLS` once the session failed.
 *
 * # Safety
 * `tls` NULL or live; `data` NULL or `len` readable bytes; `out_written`
 * NULL or writable.
 */
enum wsx_result wsx_tls_write(struct wsx_tls *tls,
                              const uint8_t *data,
                              size_t len,
                              size_t *out_written);

/**
 * The encrypted bytes to send to the network, without a copy; valid until
 * the next call on the session but the const ones.
 *
 * # Safety
 * `tls` NULL or live; `out_data`, `out_len` NULL or writable.
 */
enum wsx_result wsx_tls_peek_output(const struct wsx_tls *tls,
                                    const uint8_t **out_data,
                                    size_t *out_len);

/**
 * Marks `n` encrypted bytes as written to the network; more than are
 * pending is `WSX_ERR_INVALID_ARGUMENT`.
 *
 * # Safety
 * `tls` NULL or live.
 */
enum wsx_result wsx_tls_consume_output(struct wsx_tls *tls, size_t n);

/**
 * Queues close_notify (do it when `wsx_engine_wants_shutdown` says so,
 * before shutting the socket's write side down); nothing more may be
 * written.
 *
 * # Safety
 * `tls` NULL or live.
 */
enum wsx_result wsx_tls_close(struct wsx_tls *tls);

/**
 * Whether the TLS handshake is still under way. False for NULL.
 *
 * # Safety
 * `tls` NULL or live.
 */
bool wsx_tls_is_handshaking(const struct wsx_tls *tls);

/**
 * Whether the peer ended its side (close_notify, or the transport's EOF):
 * feed the engine's EOF once the plaintext is taken. True for NULL.
 *
 * # Safety
 * `tls` NULL or live.
 */
bool wsx_tls_peer_closed(const struct wsx_tls *tls);

/**
 * Listens on the Unix domain socket at `path` instead of the host and port
 * (NULL: TCP, the default). Copied; the socket is created by
 * `wsx_loop_listen`, with the permissions the process's umask leaves, and
 * removed when the server closes. A file already at `path` makes
 * `wsx_loop_listen` fail with `WSX_ERR_IO` and a message saying what is
 * there, unless `remove_stale` is true and it is a stale socket (one no
 * server accepts on, as a crashed server leaves): that one is removed. A
 * live server's socket and a file that is not a socket are never removed.
 * Peers of such a server have no IP address: their `peer_addr` is `"unix:"`
 * (a client's socket is unnamed), `wsx_server_port` is 0 and
 * `wsx_server_local_addr` writes `"unix:"` and the path. TLS
 * (`wsx_server_options_set_tls`) works over it as over TCP.
 *
 * # Safety
 * `options` is NULL or live; `path` is NULL or NUL-terminated.
 */
enum wsx_result wsx_server_options_set_unix_socket(struct wsx_server_options *options,
                                                   const char *path,
                                                   bool remove_stale);

/**
 * Connects to the Unix domain socket at `path` instead of the URL's host
 * and port (NULL: the URL's, the default). The URL still gives the scheme
 * (`wss://` runs TLS over the socket and verifies the URL's host name),
 * the `Host` header and the resource: `ws://localhost/chat` with this
 * option is what the URL `ws+unix:///path/to.sock:/chat` says (Node's ws
 * spelling, which `wsx_loop_connect` also takes). No proxy is used with
 * it. The connection's `peer_addr` is `"unix:"` and the path. Copied.
 *
 * # Safety
 * `options` is NULL or live; `path` is NULL or NUL-terminated.
 */
enum wsx_result wsx_client_options_set_unix_socket_path(struct wsx_client_options *options,
                                                        const char *path);

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

#endif  /* WSX_H */
