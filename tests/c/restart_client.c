/*
 * A reconnecting client across a server's graceful restart (tests/c/run.sh,
 * step "client survives a SIGTERM restart"):
 *
 *   restart_client URL
 *
 * Connects with reconnecting on (the default close codes), sends "before"
 * and prints "echo 1: before" when it comes back. The test then stops the
 * server with SIGTERM (it closes with 1001) and starts a new one on the same
 * port. The client must reconnect by itself: it prints "disconnected 1001",
 * sends "after" on the new connection and prints "echo 2: after", then exits
 * 0. Any other outcome, or 30 s without it, exits 1 with the reason.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "wsx.h"

typedef struct state {
    int opens;
    int echoes;
    int disconnect_code;
    int closed;
    int failed;
} state;

static void on_open(void *user_data, wsx_conn *conn, const wsx_open *open) {
    state *s = user_data;
    s->opens++;
    const char *text = open->is_reconnect ? "after" : "before";
    if ((s->opens > 1) != open->is_reconnect) {
        fprintf(stderr, "restart_client: open %d has is_reconnect %d\n", s->opens, (int)open->is_reconnect);
        s->failed = 1;
    }
    if (wsx_conn_send(conn, WSX_MSG_KIND_TEXT, (const uint8_t *)text, strlen(text)) != WSX_OK) {
        fprintf(stderr, "restart_client: send: %s\n", wsx_last_error_message());
        s->failed = 1;
    }
}

static void on_message(void *user_data, wsx_conn *conn, const wsx_message *msg) {
    (void)conn;
    state *s = user_data;
    s->echoes++;
    printf("echo %d: %.*s\n", s->opens, (int)msg->len, (const char *)msg->data);
    fflush(stdout);
}

static void on_disconnect(void *user_data, wsx_conn *conn, const wsx_close *close) {
    (void)conn;
    state *s = user_data;
    if (s->disconnect_code == 0) s->disconnect_code = close->code;
    printf("disconnected %u\n", (unsigned)close->code);
    fflush(stdout);
}

static void on_close(void *user_data, wsx_conn *conn, const wsx_close *close) {
    (void)conn;
    state *s = user_data;
    s->closed = 1;
    printf("closed %u\n", (unsigned)close->code);
    fflush(stdout);
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: restart_client URL\n");
        return 2;
    }
    state s;
    memset(&s, 0, sizeof s);
    wsx_client_options *options = NULL;
    wsx_loop *loop = NULL;
    wsx_conn *conn = NULL;
    if (wsx_client_options_new(&options) != WSX_OK || wsx_loop_new(&loop) != WSX_OK) return 1;

    /* Quick retries, so the new server is found soon after it listens. */
    wsx_reconnect_options reconnect = {.struct_size = sizeof reconnect};
    wsx_result defaults = wsx_reconnect_options_default(&reconnect);
    reconnect.initial_delay_ms = 20;
    reconnect.max_delay_ms = 200;
    reconnect.jitter = false;
    wsx_conn_callbacks callbacks;
    memset(&callbacks, 0, sizeof callbacks);
    callbacks.struct_size = sizeof callbacks;
    callbacks.user_data = &s;
    callbacks.on_open = on_open;
    callbacks.on_message = on_message;
    callbacks.on_close = on_close;
    callbacks.on_disconnect = on_disconnect;
    if (defaults != WSX_OK || wsx_client_options_set_reconnect(options, &reconnect) != WSX_OK ||
        wsx_loop_connect(loop, argv[1], options, &callbacks, &conn) != WSX_OK) {
        fprintf(stderr, "restart_client: %s\n", wsx_last_error_message());
        return 1;
    }
    wsx_client_options_free(options);

    double deadline = now_s() + 30;
    while (s.echoes < 2 && !s.closed && !s.failed && now_s() < deadline) {
        if (wsx_loop_poll(loop, 50) != WSX_OK) break;
    }
    int ok = s.echoes == 2 && s.opens == 2 && s.disconnect_code == 1001 && !s.failed;
    if (!ok) {
        fprintf(stderr,
                "restart_client: expected two echoes over two connections after a 1001 close; got %d echoes, "
                "%d opens, first disconnect code %d, closed %d%s\n",
                s.echoes, s.opens, s.disconnect_code, s.closed, now_s() >= deadline ? " (30 s passed)" : "");
    }
    wsx_conn_close(conn, 1000, "done");
    for (int i = 0; i < 100 && !s.closed; i++) wsx_loop_poll(loop, 10);
    wsx_conn_release(conn);
    wsx_loop_free(loop);
    return ok ? 0 : 1;
}
