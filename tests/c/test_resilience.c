/*
 * Client resilience through the C API, on 127.0.0.1 and one polled loop: a
 * server that closes the first connections with 1012, a client reconnecting
 * with a fixed backoff (waits read from on_connecting), a token set per
 * attempt by on_before_connect, is_reconnect on the opens, sends refused
 * while disconnected, a final close; then the reconnect and proxy options,
 * and a proxy that is not there.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>

#include "recorder.h"

#define WAIT_MS 20000 /* an upper bound only: valgrind on a loaded machine is slow */
#define MAX_EVENTS 16

/* A server that closes its first `drop_first` connections with 1012 once open. */
typedef struct dropper {
    recorder rec;
    int drop_first;
    int accepted;
} dropper;

static void dropper_open(void *ud, wsx_conn *conn, const wsx_open *open) {
    dropper *d = ud;
    rec_open(&d->rec, conn, open);
    d->accepted++;
    if (d->accepted <= d->drop_first) wsx_conn_close(conn, 1012, "restart");
}

/* What a reconnecting client saw. */
typedef struct client {
    recorder rec;
    int connectings;
    uint32_t attempts[MAX_EVENTS];
    uint64_t delays_ms[MAX_EVENTS];
    int befores;
    wsx_result header_results[MAX_EVENTS];
    int disconnects;
    uint16_t disconnect_codes[MAX_EVENTS];
    wsx_result sends_while_down[MAX_EVENTS];
    int reconnect_opens;
} client;

static void client_connecting(void *ud, wsx_conn *conn, const wsx_connecting *connecting) {
    client *c = ud;
    (void)conn;
    if (c->connectings < MAX_EVENTS) {
        c->attempts[c->connectings] = connecting->attempt;
        c->delays_ms[c->connectings] = connecting->delay_ms;
    }
    c->connectings++;
}

static void client_before_connect(void *ud, wsx_conn *conn, wsx_attempt *attempt) {
    client *c = ud;
    (void)conn;
    char token[64];
    snprintf(token, sizeof token, "Bearer token-%d", c->befores + 1);
    if (c->befores < MAX_EVENTS) {
        c->header_results[c->befores] = wsx_attempt_set_header(attempt, "Authorization", token);
        if (wsx_attempt_number(attempt) != (uint32_t)c->befores) c->header_results[c->befores] = WSX_ERR_STATE;
    }
    c->befores++;
}

static void client_disconnect(void *ud, wsx_conn *conn, const wsx_close *close) {
    client *c = ud;
    if (c->disconnects < MAX_EVENTS) {
        c->disconnect_codes[c->disconnects] = close->code;
        c->sends_while_down[c->disconnects] = wsx_conn_send(conn, WSX_MSG_KIND_TEXT, (const uint8_t *)"x", 1);
    }
    c->disconnects++;
}

static void client_open(void *ud, wsx_conn *conn, const wsx_open *open) {
    client *c = ud;
    rec_open(&c->rec, conn, open);
    if (open->is_reconnect) c->reconnect_opens++;
}

static void test_reconnect_with_backoff_and_hooks(void) {
    wsx_loop *loop = NULL;
    CHECK_OK(wsx_loop_new(&loop));
    dropper d;
    memset(&d, 0, sizeof d);
    d.drop_first = 2;
    d.rec.header_name = "Authorization";
    wsx_server_callbacks scb = rec_server_callbacks(&d.rec);
    scb.user_data = &d; /* d.rec first: the recorder's callbacks still work */
    d.rec.server_conn_callbacks.user_data = &d;
    d.rec.server_conn_callbacks.on_open = dropper_open;
    wsx_server *server = NULL;
    CHECK_OK(wsx_loop_listen(loop, NULL, &scb, &server));
    char url[128];
    server_url(url, sizeof url, "ws", server, "/feed");

    wsx_reconnect_options policy = {.struct_size = sizeof policy};
    CHECK_OK(wsx_reconnect_options_default(&policy));
    policy.initial_delay_ms = 10;
    policy.max_delay_ms = 40;
    policy.jitter = false;
    wsx_client_options *options = NULL;
    CHECK_OK(wsx_client_options_new(&options));
    CHECK_OK(wsx_conn_options_set_keepalive(wsx_client_options_conn(options), 0, 0));
    CHECK_OK(wsx_client_options_set_reconnect(options, &policy));

    client c;
    memset(&c, 0, sizeof c);
    wsx_conn_callbacks cb = rec_conn_callbacks(&c.rec);
    cb.user_data = &c;
    cb.on_open = client_open;
    cb.on_connecting = client_connecting;
    cb.on_disconnect = client_disconnect;
    cb.on_before_connect = client_before_connect;
    wsx_conn *conn = NULL;
    CHECK_OK(wsx_loop_connect(loop, url, options, &cb, &conn));
    wsx_client_options_free(options);

    CHECK(poll_until_count(loop, &c.rec.opens, 3, WAIT_MS));
    CHECK(c.connectings == 3);
    CHECK(c.attempts[0] == 0 && c.delays_ms[0] == 0);
    CHECK(c.attempts[1] == 1 && c.delays_ms[1] == 10);
    CHECK(c.attempts[2] == 2 && c.delays_ms[2] == 20);
    CHECK(c.befores == 3);
    for (int i = 0; i < 3; i++) CHECK(c.header_results[i] == WSX_OK);
    CHECK(c.disconnects == 2);
    CHECK(c.disconnect_codes[0] == 1012 && c.disconnect_codes[1] == 1012);
    CHECK(c.sends_while_down[0] == WSX_ERR_NOT_CONNECTED);
    CHECK(c.reconnect_opens == 2);
    CHECK(c.rec.closes == 0);
    /* The last attempt carried its own token. */
    CHECK(poll_until_count(loop, &d.rec.opens, 3, WAIT_MS));
    CHECK(strcmp(d.rec.request_header_value, "Bearer token-3") == 0);

    /* A close the application asks for is final: one close event. */
    CHECK_OK(wsx_conn_close(conn, 1000, "bye"));
    CHECK(poll_until(loop, &c.rec.closes, WAIT_MS));
    CHECK(c.rec.close_code == 1000);
    CHECK(c.connectings == 3);
    CHECK(c.rec.callbacks_after_close == 0);
    wsx_conn_release(conn);
    CHECK_OK(wsx_server_shutdown(server, 0));
    CHECK(poll_until(loop, &d.rec.shutdowns, WAIT_MS));
    wsx_server_free(server);
    wsx_loop_free(loop);
    CHECK(c.rec.frees == 1);
}

static void test_options(void) {
    wsx_reconnect_options policy = {.struct_size = sizeof policy};
    CHECK_OK(wsx_reconnect_options_default(&policy));
    CHECK(policy.initial_delay_ms == 500 && policy.max_delay_ms == 30000);
    CHECK(policy.factor == 2.0 && policy.max_attempts == 0 && policy.jitter);
    CHECK(policy.queue_while_disconnected == 0 && !policy.retry_on_4xx);

    wsx_client_options *options = NULL;
    CHECK_OK(wsx_client_options_new(&options));
    CHECK_OK(wsx_client_options_set_reconnect(options, NULL));
    policy.factor = NAN;
    CHECK_RESULT(wsx_client_options_set_reconnect(options, &policy), WSX_ERR_INVALID_ARGUMENT);
    CHECK_RESULT(wsx_client_options_set_reconnect(NULL, NULL), WSX_ERR_NULL);
    /* The close codes reconnected after: before or after the policy, NULL
     * for the default set, none at all, or a code out of range refused. */
    const uint16_t restart_only[] = {1001, 1012};
    const uint16_t out_of_range[] = {1001, 999};
    CHECK_OK(wsx_client_options_set_reconnect_codes(options, restart_only, 2));
    policy.factor = 2.0;
    CHECK_OK(wsx_client_options_set_reconnect(options, &policy));
    CHECK_OK(wsx_client_options_set_reconnect_codes(options, restart_only, 0));
    CHECK_OK(wsx_client_options_set_reconnect_codes(options, NULL, 0));
    CHECK_RESULT(wsx_client_options_set_reconnect_codes(options, out_of_range, 2), WSX_ERR_INVALID_ARGUMENT);
    CHECK_RESULT(wsx_client_options_set_reconnect_codes(NULL, NULL, 0), WSX_ERR_NULL);
    CHECK_OK(wsx_client_options_set_proxy(options, "http://user:pw@proxy.example:3128"));
    CHECK_OK(wsx_client_options_set_proxy(options, "socks5h://127.0.0.1"));
    CHECK_OK(wsx_client_options_set_proxy(options, NULL));
    CHECK_RESULT(wsx_client_options_set_proxy(options, "ftp://proxy"), WSX_ERR_INVALID_ARGUMENT);
    CHECK_OK(wsx_client_options_set_proxy_from_env(options, true));
    /* A policy struct without its size is refused, with the reason. */
    wsx_reconnect_options unsized = policy;
    unsized.struct_size = 0;
    CHECK_RESULT(wsx_client_options_set_reconnect(options, &unsized), WSX_ERR_INVALID_ARGUMENT);
    CHECK(strstr(wsx_last_error_message(), "struct_size") != NULL);
    CHECK_RESULT(wsx_reconnect_options_default(&unsized), WSX_ERR_INVALID_ARGUMENT);
    CHECK_RESULT(wsx_reconnect_options_default(NULL), WSX_ERR_NULL);
    CHECK_RESULT(wsx_attempt_set_header(NULL, "a", "b"), WSX_ERR_NULL);
    CHECK(strcmp(wsx_result_str(WSX_ERR_PROXY), "proxy error") == 0);
    CHECK(strcmp(wsx_result_str(WSX_ERR_NOT_CONNECTED), "not connected (reconnecting)") == 0);
    wsx_client_options_free(options);
}

static void test_proxy_not_there(void) {
    wsx_loop *loop = NULL;
    CHECK_OK(wsx_loop_new(&loop));
    /* A free port nothing listens on, from a server shut at once. */
    recorder s;
    memset(&s, 0, sizeof s);
    wsx_server *server = start_server(loop, NULL, &s);
    char proxy[64];
    snprintf(proxy, sizeof proxy, "socks5://127.0.0.1:%u", (unsigned)wsx_server_port(server));
    CHECK_OK(wsx_server_shutdown(server, 0));
    CHECK(poll_until(loop, &s.shutdowns, WAIT_MS));
    wsx_server_free(server);

    wsx_client_options *options = NULL;
    CHECK_OK(wsx_client_options_new(&options));
    CHECK_OK(wsx_client_options_set_proxy(options, proxy));
    recorder c;
    memset(&c, 0, sizeof c);
    wsx_conn *conn = connect_to(loop, "ws://localhost:9/", options, &c);
    wsx_client_options_free(options);
    CHECK(poll_until(loop, &c.closes, WAIT_MS));
    CHECK(c.errors == 1);
    CHECK(c.error_code == WSX_ERR_PROXY);
    CHECK(strstr(c.error_message, "proxy") != NULL);
    CHECK(c.close_code == 1006);
    wsx_conn_release(conn);
    wsx_loop_free(loop);
}

int main(void) {
    RUN(test_reconnect_with_backoff_and_hooks);
    RUN(test_options);
    RUN(test_proxy_not_there);
    return summary("test_resilience");
}
