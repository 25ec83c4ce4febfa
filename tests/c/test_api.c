/*
 * The C API without a peer: version, result codes, the per-thread last
 * error, every option setter with good and bad values, NULL for every
 * pointer of every function, bad URLs, loop modes, and the defaults.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>

#include "recorder.h"

static void test_version(void) {
    char expected[32];
    snprintf(expected, sizeof expected, "%d.%d.%d", WSX_VERSION_MAJOR, WSX_VERSION_MINOR, WSX_VERSION_PATCH);
    CHECK(strcmp(wsx_version(), expected) == 0);
}

static void test_result_strings(void) {
    for (int code = WSX_OK; code <= WSX_ERR_PANIC; code++) {
        const char *text = wsx_result_str(code);
        CHECK(text != NULL && text[0] != '\0');
        for (int other = WSX_OK; other < code; other++) CHECK(strcmp(text, wsx_result_str(other)) != 0);
    }
    CHECK(strcmp(wsx_result_str(-1), "unknown result code") == 0);
    CHECK(strcmp(wsx_result_str(1000), "unknown result code") == 0);
    CHECK(strcmp(wsx_result_str(WSX_OK), "success") == 0);
}

static void *last_error_elsewhere(void *arg) {
    (void)arg;
    /* A fresh thread has no last error, whatever other threads did. */
    return (void *)(size_t)(strcmp(wsx_last_error_message(), "") == 0);
}

static void test_last_error_is_per_thread(void) {
    CHECK_RESULT(wsx_loop_new(NULL), WSX_ERR_NULL);
    CHECK(strstr(wsx_last_error_message(), "out_loop is NULL") != NULL);
    pthread_t thread;
    void *fresh = NULL;
    CHECK(pthread_create(&thread, NULL, last_error_elsewhere, NULL) == 0);
    CHECK(pthread_join(thread, &fresh) == 0);
    CHECK(fresh == (void *)1);
    /* Unchanged here by the other thread, and by a success. */
    wsx_loop *loop = NULL;
    CHECK_OK(wsx_loop_new(&loop));
    CHECK(strstr(wsx_last_error_message(), "out_loop is NULL") != NULL);
    wsx_loop_free(loop);
}

static void test_null_everywhere(void) {
    recorder r;
    memset(&r, 0, sizeof r);
    wsx_loop *loop = NULL;
    CHECK_OK(wsx_loop_new(&loop));
    char buf[64];
    uint8_t byte = 0;

    /* Freeing NULL is a no-op. */
    wsx_loop_free(NULL);
    wsx_conn_release(NULL);
    wsx_server_free(NULL);
    wsx_client_options_free(NULL);
    wsx_server_options_free(NULL);
    CHECK(wsx_conn_retain(NULL) == NULL);

    CHECK_RESULT(wsx_loop_poll(NULL, 0), WSX_ERR_NULL);
    CHECK_RESULT(wsx_loop_run(NULL), WSX_ERR_NULL);
    CHECK_RESULT(wsx_loop_start_thread(NULL), WSX_ERR_NULL);
    CHECK_RESULT(wsx_loop_stop(NULL), WSX_ERR_NULL);
    CHECK_RESULT(wsx_client_options_new(NULL), WSX_ERR_NULL);
    CHECK_RESULT(wsx_server_options_new(NULL), WSX_ERR_NULL);

    CHECK_RESULT(wsx_conn_send(NULL, WSX_MSG_KIND_TEXT, &byte, 1), WSX_ERR_NULL);
    CHECK_RESULT(wsx_conn_ping(NULL, NULL, 0), WSX_ERR_NULL);
    CHECK_RESULT(wsx_conn_close(NULL, 1000, NULL), WSX_ERR_NULL);
    CHECK_RESULT(wsx_conn_peer_addr(NULL, buf, sizeof buf), WSX_ERR_NULL);
    CHECK(wsx_conn_id(NULL) == 0);
    CHECK(wsx_conn_state(NULL) == WSX_STATE_CLOSED);
    CHECK(wsx_conn_buffered_amount(NULL) == 0);
    CHECK(wsx_conn_rtt_us(NULL) == -1);

    CHECK(wsx_server_port(NULL) == 0);
    CHECK_RESULT(wsx_server_local_addr(NULL, buf, sizeof buf), WSX_ERR_NULL);
    CHECK_RESULT(wsx_server_shutdown(NULL, 0), WSX_ERR_NULL);

    CHECK_RESULT(wsx_upgrade_refuse(NULL, 403, "no"), WSX_ERR_NULL);
    CHECK_RESULT(wsx_upgrade_set_subprotocol(NULL, "chat"), WSX_ERR_NULL);
    CHECK_RESULT(wsx_upgrade_add_header(NULL, "a", "b"), WSX_ERR_NULL);

    /* Callbacks handed over are released even when the call fails. */
    wsx_conn_callbacks cb = rec_conn_callbacks(&r);
    wsx_server_callbacks scb = rec_server_callbacks(&r);
    wsx_conn *conn = (wsx_conn *)&r; /* a sentinel: must stay untouched */
    wsx_server *server = (wsx_server *)&r;
    CHECK_RESULT(wsx_upgrade_set_callbacks(NULL, &cb), WSX_ERR_NULL);
    CHECK(r.frees == 1);
    CHECK_RESULT(wsx_loop_connect(NULL, "ws://127.0.0.1:1/", NULL, &cb, &conn), WSX_ERR_NULL);
    CHECK(r.frees == 2);
    CHECK_RESULT(wsx_loop_connect(loop, NULL, NULL, &cb, &conn), WSX_ERR_NULL);
    CHECK(r.frees == 3);
    CHECK_RESULT(wsx_loop_connect(loop, "ws://127.0.0.1:1/", NULL, &cb, NULL), WSX_ERR_NULL);
    CHECK(r.frees == 4);
    CHECK_RESULT(wsx_loop_connect(loop, "ws://127.0.0.1:1/", NULL, NULL, &conn), WSX_ERR_NULL);
    CHECK_RESULT(wsx_loop_listen(NULL, NULL, &scb, &server), WSX_ERR_NULL);
    CHECK(r.frees == 5);
    CHECK_RESULT(wsx_loop_listen(loop, NULL, &scb, NULL), WSX_ERR_NULL);
    CHECK(r.frees == 6);
    CHECK_RESULT(wsx_loop_listen(loop, NULL, NULL, &server), WSX_ERR_NULL);
    CHECK(conn == (wsx_conn *)&r && server == (wsx_server *)&r);
    CHECK(r.opens + r.closes + r.errors == 0);
    wsx_loop_free(loop);
}

static void test_client_options(void) {
    wsx_client_options *o = NULL;
    CHECK_OK(wsx_client_options_new(&o));
    CHECK_OK(wsx_conn_options_set_max_message_size(wsx_client_options_conn(o),  1 << 20));
    CHECK_OK(wsx_conn_options_set_max_frame_size(wsx_client_options_conn(o),  1 << 16));
    CHECK_OK(wsx_conn_options_set_auto_pong(wsx_client_options_conn(o),  false));
    CHECK_OK(wsx_conn_options_set_streaming(wsx_client_options_conn(o),  true));
    CHECK_OK(wsx_conn_options_set_handshake_limits(wsx_client_options_conn(o),  4096, 32));
    CHECK_OK(wsx_conn_options_add_subprotocol(wsx_client_options_conn(o),  "chat"));
    CHECK_OK(wsx_conn_options_add_subprotocol(wsx_client_options_conn(o),  "superchat"));
    CHECK_OK(wsx_client_options_set_connect_timeout_ms(o, 2000));
    CHECK_OK(wsx_conn_options_set_handshake_timeout_ms(wsx_client_options_conn(o),  2000));
    CHECK_OK(wsx_conn_options_set_close_timeout_ms(wsx_client_options_conn(o),  1000));
    CHECK_OK(wsx_conn_options_set_keepalive(wsx_client_options_conn(o),  1000, 500));
    CHECK_OK(wsx_conn_options_set_keepalive(wsx_client_options_conn(o),  0, 0));
    CHECK_OK(wsx_conn_options_set_idle_timeout_ms(wsx_client_options_conn(o),  0));
    CHECK_OK(wsx_conn_options_set_idle_timeout_ms(wsx_client_options_conn(o),  60000));
    CHECK_OK(wsx_conn_options_set_backpressure(wsx_client_options_conn(o),  1 << 20, 1 << 10));
    CHECK_OK(wsx_conn_options_set_nodelay(wsx_client_options_conn(o),  false));
    CHECK_OK(wsx_client_options_add_header(o, "Authorization", "Bearer abc"));
    CHECK_OK(wsx_client_options_set_origin(o, "https://game.example"));
    CHECK_OK(wsx_client_options_set_origin(o, NULL));
    CHECK_OK(wsx_client_options_set_tls_ca_file(o, "/nonexistent/ca.pem"));
    CHECK_OK(wsx_client_options_set_tls_ca_file(o, NULL));
    CHECK_OK(wsx_client_options_set_tls_client_cert(o, "cert.pem", "key.pem"));
    CHECK_OK(wsx_client_options_set_tls_client_cert(o, NULL, NULL));
    CHECK_OK(wsx_client_options_set_tls_danger_disable_verification(o, true));
    CHECK_OK(wsx_client_options_set_tls_danger_disable_verification(o, false));
    CHECK_OK(wsx_conn_options_set_reject_binary(wsx_client_options_conn(o),  true));
    wsx_deflate_options deflate = {.struct_size = sizeof deflate};
    CHECK_OK(wsx_deflate_options_default(&deflate));
    CHECK(deflate.client_max_window_bits == 15 && deflate.server_max_window_bits == 15 && deflate.level == 6);
    CHECK_OK(wsx_conn_options_set_compression(wsx_client_options_conn(o),  &deflate));
    CHECK_OK(wsx_conn_options_set_compression(wsx_client_options_conn(o),  NULL));
    deflate.client_max_window_bits = 7;
    CHECK_RESULT(wsx_conn_options_set_compression(wsx_client_options_conn(o),  &deflate), WSX_ERR_INVALID_ARGUMENT);
    CHECK_OK(wsx_deflate_options_default(&deflate));
    deflate.level = 10;
    CHECK_RESULT(wsx_conn_options_set_compression(wsx_client_options_conn(o),  &deflate), WSX_ERR_INVALID_ARGUMENT);

    CHECK_RESULT(wsx_conn_options_set_max_message_size(wsx_client_options_conn(o),  0), WSX_ERR_INVALID_ARGUMENT);
    CHECK_RESULT(wsx_conn_options_set_max_frame_size(wsx_client_options_conn(o),  0), WSX_ERR_INVALID_ARGUMENT);
    CHECK_RESULT(wsx_conn_options_set_handshake_limits(wsx_client_options_conn(o),  0, 10), WSX_ERR_INVALID_ARGUMENT);
    CHECK_RESULT(wsx_conn_options_set_handshake_limits(wsx_client_options_conn(o),  10, 0), WSX_ERR_INVALID_ARGUMENT);
    CHECK_RESULT(wsx_conn_options_add_subprotocol(wsx_client_options_conn(o),  ""), WSX_ERR_INVALID_ARGUMENT);
    CHECK_RESULT(wsx_conn_options_add_subprotocol(wsx_client_options_conn(o),  NULL), WSX_ERR_NULL);
    CHECK_RESULT(wsx_conn_options_add_subprotocol(wsx_client_options_conn(o),  "\xff\xfe"), WSX_ERR_INVALID_ARGUMENT);
    CHECK_RESULT(wsx_client_options_set_connect_timeout_ms(o, 0), WSX_ERR_INVALID_ARGUMENT);
    CHECK_RESULT(wsx_conn_options_set_handshake_timeout_ms(wsx_client_options_conn(o),  0), WSX_ERR_INVALID_ARGUMENT);
    CHECK_RESULT(wsx_conn_options_set_close_timeout_ms(wsx_client_options_conn(o),  0), WSX_ERR_INVALID_ARGUMENT);
    CHECK_RESULT(wsx_conn_options_set_keepalive(wsx_client_options_conn(o),  1000, 0), WSX_ERR_INVALID_ARGUMENT);
    CHECK_RESULT(wsx_conn_options_set_backpressure(wsx_client_options_conn(o),  100, 200), WSX_ERR_INVALID_ARGUMENT);
    CHECK_RESULT(wsx_conn_options_set_backpressure(wsx_client_options_conn(o),  0, 0), WSX_ERR_INVALID_ARGUMENT);
    CHECK_RESULT(wsx_client_options_add_header(o, "X-A", "1\r\nX-Injected: 2"), WSX_ERR_INVALID_ARGUMENT);
    CHECK_RESULT(wsx_client_options_add_header(o, "", "1"), WSX_ERR_INVALID_ARGUMENT);
    CHECK_RESULT(wsx_client_options_add_header(o, "X-A", NULL), WSX_ERR_NULL);
    CHECK_RESULT(wsx_client_options_set_origin(o, "a\nb"), WSX_ERR_INVALID_ARGUMENT);
    CHECK_RESULT(wsx_client_options_set_tls_client_cert(o, "cert.pem", NULL), WSX_ERR_INVALID_ARGUMENT);
    CHECK_RESULT(wsx_client_options_set_tls_client_cert(o, NULL, "key.pem"), WSX_ERR_INVALID_ARGUMENT);

    /* Every setter refuses a NULL options pointer. */
    CHECK_RESULT(wsx_conn_options_set_max_message_size(wsx_client_options_conn(NULL),  1), WSX_ERR_NULL);
    CHECK_RESULT(wsx_conn_options_set_max_frame_size(wsx_client_options_conn(NULL),  1), WSX_ERR_NULL);
    CHECK_RESULT(wsx_conn_options_set_auto_pong(wsx_client_options_conn(NULL),  true), WSX_ERR_NULL);
    CHECK_RESULT(wsx_conn_options_set_streaming(wsx_client_options_conn(NULL),  true), WSX_ERR_NULL);
    CHECK_RESULT(wsx_conn_options_set_handshake_limits(wsx_client_options_conn(NULL),  1, 1), WSX_ERR_NULL);
    CHECK_RESULT(wsx_conn_options_add_subprotocol(wsx_client_options_conn(NULL),  "a"), WSX_ERR_NULL);
    CHECK_RESULT(wsx_client_options_set_connect_timeout_ms(NULL, 1), WSX_ERR_NULL);
    CHECK_RESULT(wsx_conn_options_set_handshake_timeout_ms(wsx_client_options_conn(NULL),  1), WSX_ERR_NULL);
    CHECK_RESULT(wsx_conn_options_set_close_timeout_ms(wsx_client_options_conn(NULL),  1), WSX_ERR_NULL);
    CHECK_RESULT(wsx_conn_options_set_keepalive(wsx_client_options_conn(NULL),  1, 1), WSX_ERR_NULL);
    CHECK_RESULT(wsx_conn_options_set_idle_timeout_ms(wsx_client_options_conn(NULL),  1), WSX_ERR_NULL);
    CHECK_RESULT(wsx_conn_options_set_backpressure(wsx_client_options_conn(NULL),  2, 1), WSX_ERR_NULL);
    CHECK_RESULT(wsx_conn_options_set_nodelay(wsx_client_options_conn(NULL),  true), WSX_ERR_NULL);
    CHECK_RESULT(wsx_client_options_add_header(NULL, "a", "b"), WSX_ERR_NULL);
    CHECK_RESULT(wsx_client_options_set_origin(NULL, "a"), WSX_ERR_NULL);
    CHECK_RESULT(wsx_client_options_set_tls_ca_file(NULL, "a"), WSX_ERR_NULL);
    CHECK_RESULT(wsx_client_options_set_tls_client_cert(NULL, "a", "b"), WSX_ERR_NULL);
    CHECK_RESULT(wsx_client_options_set_tls_danger_disable_verification(NULL, true), WSX_ERR_NULL);
    CHECK_RESULT(wsx_conn_options_set_reject_binary(wsx_client_options_conn(NULL),  true), WSX_ERR_NULL);
    CHECK_RESULT(wsx_conn_options_set_compression(wsx_client_options_conn(NULL),  NULL), WSX_ERR_NULL);
    wsx_client_options_free(o);
}

static void test_server_options(void) {
    wsx_server_options *o = NULL;
    CHECK_OK(wsx_server_options_new(&o));
    CHECK_OK(wsx_server_options_set_host(o, "::1"));
    CHECK_OK(wsx_server_options_set_port(o, 0));
    CHECK_OK(wsx_conn_options_set_max_message_size(wsx_server_options_conn(o),  1 << 20));
    CHECK_OK(wsx_conn_options_set_max_frame_size(wsx_server_options_conn(o),  1 << 16));
    CHECK_OK(wsx_conn_options_set_auto_pong(wsx_server_options_conn(o),  true));
    CHECK_OK(wsx_conn_options_set_streaming(wsx_server_options_conn(o),  false));
    CHECK_OK(wsx_conn_options_set_handshake_limits(wsx_server_options_conn(o),  4096, 32));
    CHECK_OK(wsx_conn_options_add_subprotocol(wsx_server_options_conn(o),  "chat"));
    CHECK_OK(wsx_server_options_add_origin(o, "https://game.example"));
    CHECK_OK(wsx_server_options_set_tls(o, "cert.pem", "key.pem"));
    CHECK_OK(wsx_server_options_set_tls(o, NULL, NULL));
    CHECK_OK(wsx_server_options_set_max_connections(o, 100));
    CHECK_OK(wsx_server_options_set_max_pending_handshakes(o, 10));
    CHECK_OK(wsx_server_options_set_loops(o, 2));
    CHECK_OK(wsx_conn_options_set_handshake_timeout_ms(wsx_server_options_conn(o),  2000));
    CHECK_OK(wsx_conn_options_set_close_timeout_ms(wsx_server_options_conn(o),  1000));
    CHECK_OK(wsx_conn_options_set_keepalive(wsx_server_options_conn(o),  0, 0));
    CHECK_OK(wsx_conn_options_set_idle_timeout_ms(wsx_server_options_conn(o),  500));
    CHECK_OK(wsx_conn_options_set_backpressure(wsx_server_options_conn(o),  4096, 1024));
    CHECK_OK(wsx_conn_options_set_nodelay(wsx_server_options_conn(o),  true));
    CHECK_OK(wsx_conn_options_set_reject_binary(wsx_server_options_conn(o),  false));
    wsx_deflate_options deflate = {.struct_size = sizeof deflate};
    CHECK_OK(wsx_deflate_options_default(&deflate));
    deflate.server_no_context_takeover = true;
    CHECK_OK(wsx_conn_options_set_compression(wsx_server_options_conn(o),  &deflate));
    deflate.server_max_window_bits = 16;
    CHECK_RESULT(wsx_conn_options_set_compression(wsx_server_options_conn(o),  &deflate), WSX_ERR_INVALID_ARGUMENT);

    CHECK_RESULT(wsx_server_options_set_host(o, ""), WSX_ERR_INVALID_ARGUMENT);
    CHECK_RESULT(wsx_server_options_set_host(o, NULL), WSX_ERR_NULL);
    CHECK_RESULT(wsx_conn_options_set_max_message_size(wsx_server_options_conn(o),  0), WSX_ERR_INVALID_ARGUMENT);
    CHECK_RESULT(wsx_conn_options_set_max_frame_size(wsx_server_options_conn(o),  0), WSX_ERR_INVALID_ARGUMENT);
    CHECK_RESULT(wsx_conn_options_set_handshake_limits(wsx_server_options_conn(o),  0, 0), WSX_ERR_INVALID_ARGUMENT);
    CHECK_RESULT(wsx_conn_options_add_subprotocol(wsx_server_options_conn(o),  ""), WSX_ERR_INVALID_ARGUMENT);
    CHECK_RESULT(wsx_server_options_add_origin(o, ""), WSX_ERR_INVALID_ARGUMENT);
    CHECK_RESULT(wsx_server_options_add_origin(o, NULL), WSX_ERR_NULL);
    CHECK_RESULT(wsx_server_options_set_tls(o, "cert.pem", NULL), WSX_ERR_INVALID_ARGUMENT);
    CHECK_RESULT(wsx_server_options_set_max_connections(o, 0), WSX_ERR_INVALID_ARGUMENT);
    CHECK_RESULT(wsx_server_options_set_max_pending_handshakes(o, 0), WSX_ERR_INVALID_ARGUMENT);
    CHECK_RESULT(wsx_server_options_set_loops(o, 0), WSX_ERR_INVALID_ARGUMENT);
    CHECK_RESULT(wsx_server_options_set_loops(o, 257), WSX_ERR_INVALID_ARGUMENT);
    CHECK_RESULT(wsx_conn_options_set_handshake_timeout_ms(wsx_server_options_conn(o),  0), WSX_ERR_INVALID_ARGUMENT);
    CHECK_RESULT(wsx_conn_options_set_close_timeout_ms(wsx_server_options_conn(o),  0), WSX_ERR_INVALID_ARGUMENT);
    CHECK_RESULT(wsx_conn_options_set_keepalive(wsx_server_options_conn(o),  10, 0), WSX_ERR_INVALID_ARGUMENT);
    CHECK_RESULT(wsx_conn_options_set_backpressure(wsx_server_options_conn(o),  1, 2), WSX_ERR_INVALID_ARGUMENT);

    CHECK_RESULT(wsx_server_options_set_host(NULL, "a"), WSX_ERR_NULL);
    CHECK_RESULT(wsx_server_options_set_port(NULL, 1), WSX_ERR_NULL);
    CHECK_RESULT(wsx_conn_options_set_max_message_size(wsx_server_options_conn(NULL),  1), WSX_ERR_NULL);
    CHECK_RESULT(wsx_conn_options_set_max_frame_size(wsx_server_options_conn(NULL),  1), WSX_ERR_NULL);
    CHECK_RESULT(wsx_conn_options_set_auto_pong(wsx_server_options_conn(NULL),  true), WSX_ERR_NULL);
    CHECK_RESULT(wsx_conn_options_set_streaming(wsx_server_options_conn(NULL),  true), WSX_ERR_NULL);
    CHECK_RESULT(wsx_conn_options_set_handshake_limits(wsx_server_options_conn(NULL),  1, 1), WSX_ERR_NULL);
    CHECK_RESULT(wsx_conn_options_add_subprotocol(wsx_server_options_conn(NULL),  "a"), WSX_ERR_NULL);
    CHECK_RESULT(wsx_server_options_add_origin(NULL, "a"), WSX_ERR_NULL);
    CHECK_RESULT(wsx_server_options_set_tls(NULL, "a", "b"), WSX_ERR_NULL);
    CHECK_RESULT(wsx_server_options_set_max_connections(NULL, 1), WSX_ERR_NULL);
    CHECK_RESULT(wsx_server_options_set_max_pending_handshakes(NULL, 1), WSX_ERR_NULL);
    CHECK_RESULT(wsx_server_options_set_loops(NULL, 2), WSX_ERR_NULL);
    CHECK_RESULT(wsx_conn_options_set_handshake_timeout_ms(wsx_server_options_conn(NULL),  1), WSX_ERR_NULL);
    CHECK_RESULT(wsx_conn_options_set_close_timeout_ms(wsx_server_options_conn(NULL),  1), WSX_ERR_NULL);
    CHECK_RESULT(wsx_conn_options_set_keepalive(wsx_server_options_conn(NULL),  1, 1), WSX_ERR_NULL);
    CHECK_RESULT(wsx_conn_options_set_idle_timeout_ms(wsx_server_options_conn(NULL),  1), WSX_ERR_NULL);
    CHECK_RESULT(wsx_conn_options_set_backpressure(wsx_server_options_conn(NULL),  2, 1), WSX_ERR_NULL);
    CHECK_RESULT(wsx_conn_options_set_nodelay(wsx_server_options_conn(NULL),  true), WSX_ERR_NULL);
    CHECK_RESULT(wsx_conn_options_set_reject_binary(wsx_server_options_conn(NULL),  true), WSX_ERR_NULL);
    CHECK_RESULT(wsx_conn_options_set_compression(wsx_server_options_conn(NULL),  &deflate), WSX_ERR_NULL);
    wsx_server_options_free(o);
}

/* The defaults come from the library, the setters take them back, and a bad
 * value is refused with a message naming the option (the core's rule). */
static void test_defaults(void) {
    wsx_defaults d = {.struct_size = sizeof d};
    CHECK_OK(wsx_defaults_get(&d));
    CHECK(d.struct_size == sizeof d);
    CHECK(d.inbox_high_messages > d.inbox_low_messages && d.inbox_high_bytes > d.inbox_low_bytes);
    CHECK(d.max_message_size > 0 && d.max_frame_size > 0 && d.max_header_bytes > 0);
    CHECK(d.keepalive_interval_ms > 0 && d.keepalive_timeout_ms > 0 && d.close_timeout_ms > 0);
    CHECK(d.low_water <= d.high_water && d.max_connections > 0);
    CHECK(d.server_host != NULL && strcmp(d.server_host, "127.0.0.1") == 0);
    CHECK_RESULT(wsx_defaults_get(NULL), WSX_ERR_NULL);

    /* A program built with a shorter struct gets only what it has room for. */
    wsx_defaults partial;
    memset(&partial, 0xAB, sizeof partial);
    partial.struct_size = offsetof(wsx_defaults, max_frame_size);
    CHECK_OK(wsx_defaults_get(&partial));
    CHECK(partial.struct_size == offsetof(wsx_defaults, max_frame_size));
    CHECK(partial.max_message_size == d.max_message_size);
    CHECK(partial.max_frame_size != d.max_frame_size);
    /* No size, or too small for the first field: refused, nothing written. */
    partial.struct_size = 0;
    CHECK_RESULT(wsx_defaults_get(&partial), WSX_ERR_INVALID_ARGUMENT);
    CHECK(strstr(wsx_last_error_message(), "struct_size is 0") != NULL);
    partial.struct_size = sizeof(size_t);
    CHECK_RESULT(wsx_defaults_get(&partial), WSX_ERR_INVALID_ARGUMENT);
    CHECK(partial.max_message_size == d.max_message_size && partial.max_frame_size != d.max_frame_size);

    wsx_client_options *o = NULL;
    CHECK_OK(wsx_client_options_new(&o));
    CHECK_OK(wsx_conn_options_set_keepalive(wsx_client_options_conn(o),  d.keepalive_interval_ms, d.keepalive_timeout_ms));
    CHECK_OK(wsx_conn_options_set_backpressure(wsx_client_options_conn(o),  d.high_water, d.low_water));
    CHECK_RESULT(wsx_conn_options_set_keepalive(wsx_client_options_conn(o),  1000, 0), WSX_ERR_INVALID_ARGUMENT);
    CHECK(strcmp(wsx_last_error_message(), "keepalive.timeout must be more than 0 ms") == 0);
    CHECK_RESULT(wsx_client_options_add_header(o, "X Bad", "1"), WSX_ERR_INVALID_ARGUMENT);
    CHECK(strstr(wsx_last_error_message(), "header name \"X Bad\" is not an HTTP token") != NULL);
    CHECK_RESULT(wsx_client_options_add_header(o, "X-A", "bell\a"), WSX_ERR_INVALID_ARGUMENT);
    wsx_reconnect_options r = {.struct_size = sizeof r};
    CHECK_OK(wsx_reconnect_options_default(&r));
    r.factor = 0.5;
    CHECK_RESULT(wsx_client_options_set_reconnect(o, &r), WSX_ERR_INVALID_ARGUMENT);
    CHECK(strstr(wsx_last_error_message(), "reconnect.factor") != NULL);
    CHECK_OK(wsx_reconnect_options_default(&r));
    r.initial_delay_ms = r.max_delay_ms + 1;
    CHECK_RESULT(wsx_client_options_set_reconnect(o, &r), WSX_ERR_INVALID_ARGUMENT);
    CHECK(strstr(wsx_last_error_message(), "reconnect.initial_delay") != NULL);
    wsx_client_options_free(o);
}

static void test_bad_urls(void) {
    const char *bad[] = {"", "not a url", "http://127.0.0.1/", "ws://", "ws://127.0.0.1:99999/", "ftp://x/", "ws://[::1/"};
    wsx_loop *loop = NULL;
    CHECK_OK(wsx_loop_new(&loop));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        recorder r;
        memset(&r, 0, sizeof r);
        wsx_conn_callbacks cb = rec_conn_callbacks(&r);
        wsx_conn *conn = NULL;
        CHECK_RESULT(wsx_loop_connect(loop, bad[i], NULL, &cb, &conn), WSX_ERR_INVALID_ARGUMENT);
        CHECK(conn == NULL);
        CHECK(r.frees == 1);
        CHECK(strlen(wsx_last_error_message()) > 0);
        CHECK_OK(wsx_loop_poll(loop, 0));
        CHECK(r.opens + r.errors + r.closes == 0);
    }
    wsx_loop_free(loop);
}

static void test_listen_on_a_bad_host(void) {
    wsx_loop *loop = NULL;
    wsx_server_options *o = NULL;
    recorder r;
    memset(&r, 0, sizeof r);
    CHECK_OK(wsx_loop_new(&loop));
    CHECK_OK(wsx_server_options_new(&o));
    CHECK_OK(wsx_server_options_set_host(o, "203.0.113.1")); /* not an address of this machine */
    wsx_server_callbacks cb = rec_server_callbacks(&r);
    wsx_server *server = NULL;
    wsx_result result = wsx_loop_listen(loop, o, &cb, &server);
    CHECK(result != WSX_OK);
    CHECK(server == NULL);
    CHECK(r.frees == 1);
    wsx_server_options_free(o);
    wsx_loop_free(loop);
}

static void *run_loop(void *arg) {
    return (void *)(size_t)wsx_loop_run(arg);
}

static void test_loop_modes(void) {
    wsx_loop *loop = NULL;
    CHECK_OK(wsx_loop_new(&loop));
    CHECK_OK(wsx_loop_poll(loop, 0));
    CHECK_OK(wsx_loop_poll(loop, 1));

    /* Thread mode: polling or starting again is refused while it runs. */
    CHECK_OK(wsx_loop_start_thread(loop));
    CHECK_RESULT(wsx_loop_start_thread(loop), WSX_ERR_STATE);
    CHECK_RESULT(wsx_loop_poll(loop, 0), WSX_ERR_STATE);
    CHECK_RESULT(wsx_loop_run(loop), WSX_ERR_STATE);
    CHECK_OK(wsx_loop_stop(loop));
    wsx_loop_free(loop);

    /* wsx_loop_run on a thread of ours, stopped from here. */
    CHECK_OK(wsx_loop_new(&loop));
    pthread_t thread;
    void *result = (void *)1;
    CHECK(pthread_create(&thread, NULL, run_loop, loop) == 0);
    /* An upper bound only: under valgrind on a loaded machine the thread
       took more than 5 s to start. */
    long long deadline = now_ms() + 30000;
    while (wsx_loop_poll(loop, 0) == WSX_OK && now_ms() < deadline) {
        struct timespec pause = {0, 1000000};
        nanosleep(&pause, NULL);
    }
    CHECK_RESULT(wsx_loop_poll(loop, 0), WSX_ERR_STATE);
    CHECK_OK(wsx_loop_stop(loop));
    CHECK(pthread_join(thread, &result) == 0);
    CHECK(result == (void *)WSX_OK);
    wsx_loop_free(loop);
}

int main(void) {
    RUN(test_version);
    RUN(test_result_strings);
    RUN(test_last_error_is_per_thread);
    RUN(test_null_everywhere);
    RUN(test_client_options);
    RUN(test_server_options);
    RUN(test_defaults);
    RUN(test_bad_urls);
    RUN(test_listen_on_a_bad_host);
    RUN(test_loop_modes);
    return summary("test_api");
}
