/*
 * The C API against a live peer: a wsx server and wsx clients on one loop
 * (and on a loop thread), on 127.0.0.1. Covers the open, message, ping/pong,
 * writable, error and close events, the upgrade decision, refusals, send
 * after close, freeing handles and stopping the loop inside callbacks,
 * stopping from another thread, backpressure, limits, TLS, a peer that
 * resets the connection, the name-resolution helper threads ending with
 * the last loop, the application's resolver (Happy Eyeballs past a dead
 * IPv6 address, answers later from another thread, failures), a server on
 * a Unix domain socket, servers sharing a port (SO_REUSEPORT), and thousands of open/close cycles.
 *
 * Environment: WSX_TEST_CYCLES (default 2000) open/close cycles;
 * WSX_TEST_CERT, WSX_TEST_KEY, WSX_TEST_CA: PEM files for the TLS test
 * (skipped with a notice when unset).
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "recorder.h"

#define WAIT_MS 20000 /* an upper bound only: valgrind on a loaded machine is slow */

typedef struct fixture {
    wsx_loop *loop;
    wsx_server *server;
    recorder server_rec;
    char url[128];
} fixture;

static void fixture_start(fixture *f, const wsx_server_options *options, const char *path) {
    memset(f, 0, sizeof *f);
    CHECK_OK(wsx_loop_new(&f->loop));
    f->server = start_server(f->loop, options, &f->server_rec);
    server_url(f->url, sizeof f->url, "ws", f->server, path);
}

/* Shuts the server down, frees everything, and checks the server's user
 * data was released once (after every connection it served). */
static void fixture_stop(fixture *f) {
    if (f->server) {
        CHECK_OK(wsx_server_shutdown(f->server, 1000));
        CHECK(poll_until(f->loop, &f->server_rec.shutdowns, WAIT_MS));
        wsx_server_free(f->server);
    }
    wsx_loop_free(f->loop);
    CHECK(f->server_rec.frees == (f->server ? 1 : 0));
}

static void test_echo_round_trip(void) {
    fixture f;
    wsx_server_options *so = NULL;
    CHECK_OK(wsx_server_options_new(&so));
    CHECK_OK(wsx_conn_options_add_subprotocol(wsx_server_options_conn(so),  "chat"));
    CHECK_OK(wsx_server_options_add_origin(so, "https://game.example"));
    fixture_start(&f, so, "/room?x=1");
    wsx_server_options_free(so);
    f.server_rec.echo = 1;
    f.server_rec.header_name = "X-Player";
    f.server_rec.add_response_header = "X-Welcome";

    wsx_client_options *co = NULL;
    CHECK_OK(wsx_client_options_new(&co));
    CHECK_OK(wsx_conn_options_add_subprotocol(wsx_client_options_conn(co),  "other"));
    CHECK_OK(wsx_conn_options_add_subprotocol(wsx_client_options_conn(co),  "chat"));
    CHECK_OK(wsx_client_options_add_header(co, "X-Player", "7"));
    CHECK_OK(wsx_client_options_set_origin(co, "https://game.example"));
    recorder c;
    memset(&c, 0, sizeof c);
    c.header_name = "x-welcome";
    wsx_conn *conn = connect_to(f.loop, f.url, co, &c);
    wsx_client_options_free(co);
    CHECK(conn != NULL);
    CHECK(poll_until(f.loop, &c.opens, WAIT_MS));
    CHECK(c.conn == conn); /* callbacks get the pointer wsx_loop_connect returned */
    CHECK(c.open_status == 101);
    CHECK(strcmp(c.subprotocol, "chat") == 0);
    CHECK(strcmp(c.header_value, "yes") == 0);
    CHECK(c.path[0] == '\0');
    CHECK(wsx_conn_state(conn) == WSX_STATE_OPEN);
    CHECK(poll_until(f.loop, &f.server_rec.opens, WAIT_MS));
    CHECK(f.server_rec.upgrades == 1);
    CHECK(strcmp(f.server_rec.request_path, "/room?x=1") == 0);
    CHECK(strcmp(f.server_rec.request_origin, "https://game.example") == 0);
    CHECK(strcmp(f.server_rec.request_subprotocol, "chat") == 0);
    CHECK(strcmp(f.server_rec.request_header_value, "7") == 0);
    CHECK(strcmp(f.server_rec.path, "/room?x=1") == 0);
    CHECK(f.server_rec.open_status == 0);

    /* Peer addresses and ids. */
    char addr[64];
    char server_addr[64];
    CHECK_OK(wsx_conn_peer_addr(conn, addr, sizeof addr));
    CHECK_OK(wsx_server_local_addr(f.server, server_addr, sizeof server_addr));
    CHECK(strcmp(addr, server_addr) == 0);
    CHECK(strcmp(c.peer_addr, server_addr) == 0);
    CHECK_RESULT(wsx_conn_peer_addr(conn, addr, 4), WSX_ERR_INVALID_ARGUMENT);
    CHECK_RESULT(wsx_conn_peer_addr(conn, NULL, 64), WSX_ERR_NULL);
    CHECK_RESULT(wsx_server_local_addr(f.server, addr, 3), WSX_ERR_INVALID_ARGUMENT);
    CHECK(wsx_conn_id(conn) != wsx_conn_id(f.server_rec.conn) || wsx_conn_id(conn) > 0);

    /* Text, binary and an empty message come back as they went. */
    CHECK_OK(wsx_conn_send(conn, WSX_MSG_KIND_TEXT, (const uint8_t *)"hello", 5));
    CHECK(poll_until_count(f.loop, &c.messages, 1, WAIT_MS));
    CHECK(c.kind == WSX_MSG_KIND_TEXT && c.len == 5 && memcmp(c.data, "hello", 5) == 0 && c.fin);
    const uint8_t binary[] = {0, 1, 2, 255, 0};
    CHECK_OK(wsx_conn_send(conn, WSX_MSG_KIND_BINARY, binary, sizeof binary));
    CHECK(poll_until_count(f.loop, &c.messages, 2, WAIT_MS));
    CHECK(c.kind == WSX_MSG_KIND_BINARY && c.len == sizeof binary && memcmp(c.data, binary, sizeof binary) == 0);
    CHECK_OK(wsx_conn_send(conn, WSX_MSG_KIND_BINARY, NULL, 0));
    CHECK(poll_until_count(f.loop, &c.messages, 3, WAIT_MS));
    CHECK(c.len == 0);

    /* Bad sends are refused without harm. */
    CHECK_RESULT(wsx_conn_send(conn, 99, binary, 1), WSX_ERR_INVALID_ARGUMENT);
    CHECK_RESULT(wsx_conn_send(conn, WSX_MSG_KIND_BINARY, NULL, 3), WSX_ERR_NULL);
    CHECK_RESULT(wsx_conn_send(conn, WSX_MSG_KIND_TEXT, (const uint8_t *)"\xff", 1), WSX_ERR_INVALID_ARGUMENT);
    CHECK_RESULT(wsx_conn_close(conn, 1006, NULL), WSX_ERR_INVALID_ARGUMENT);
    CHECK_RESULT(wsx_conn_close(conn, 1005, "a reason needs a code"), WSX_ERR_INVALID_ARGUMENT);

    /* Ping: the pong carries the payload and a round trip. */
    CHECK_OK(wsx_conn_ping(conn, (const uint8_t *)"abc", 3));
    CHECK(poll_until(f.loop, &c.pongs, WAIT_MS));
    CHECK(c.len == 3 && memcmp(c.data, "abc", 3) == 0);
    CHECK(c.rtt_us >= 0);
    CHECK(wsx_conn_rtt_us(conn) >= 0);
    CHECK(f.server_rec.pings == 1);
    uint8_t big[200] = {0};
    CHECK_RESULT(wsx_conn_ping(conn, big, sizeof big), WSX_ERR_INVALID_ARGUMENT);
    CHECK(wsx_conn_buffered_amount(conn) < 1024);

    /* Close: the server answers with the same code; both sides see a clean close. */
    CHECK_OK(wsx_conn_close(conn, 4000, "bye"));
    CHECK(wsx_conn_state(conn) == WSX_STATE_CLOSING || wsx_conn_state(conn) == WSX_STATE_CLOSED);
    /* A second close while closing: WSX_OK, and the first code and reason stand. */
    if (wsx_conn_state(conn) == WSX_STATE_CLOSING) CHECK_OK(wsx_conn_close(conn, 1000, "again"));
    CHECK(poll_until(f.loop, &c.closes, WAIT_MS));
    CHECK(c.close_code == 4000);
    CHECK(c.close_clean);
    CHECK(poll_until(f.loop, &f.server_rec.closes, WAIT_MS));
    CHECK(f.server_rec.close_code == 4000);
    CHECK(strcmp(f.server_rec.close_reason, "bye") == 0);
    CHECK(c.errors == 0 && f.server_rec.errors == 0);

    /* After the close: every call is a clean error, never a crash. */
    CHECK(c.send_after_close == WSX_ERR_CLOSED);
    CHECK_RESULT(wsx_conn_send(conn, WSX_MSG_KIND_TEXT, (const uint8_t *)"late", 4), WSX_ERR_CLOSED);
    CHECK_RESULT(wsx_conn_ping(conn, NULL, 0), WSX_ERR_CLOSED);
    CHECK_RESULT(wsx_conn_close(conn, 1000, NULL), WSX_ERR_CLOSED);
    CHECK(wsx_conn_state(conn) == WSX_STATE_CLOSED);
    CHECK(poll_until(f.loop, &c.frees, WAIT_MS));
    CHECK(c.frees == 1);
    CHECK(c.callbacks_after_close == 0);
    wsx_conn_release(conn);
    fixture_stop(&f);
}

static void test_refused_connection(void) {
    /* A port nothing listens on: take a free one from a server, then shut it. */
    fixture f;
    fixture_start(&f, NULL, "/");
    CHECK_OK(wsx_server_shutdown(f.server, 0));
    CHECK(poll_until(f.loop, &f.server_rec.shutdowns, WAIT_MS));
    wsx_server_free(f.server);
    f.server = NULL;
    f.server_rec.frees = 0;
    poll_until(f.loop, &f.server_rec.frees, 200);

    recorder c;
    memset(&c, 0, sizeof c);
    wsx_conn *conn = connect_to(f.loop, f.url, NULL, &c);
    CHECK(poll_until(f.loop, &c.closes, WAIT_MS));
    CHECK(c.errors == 1);
    CHECK(c.error_code == WSX_ERR_CONNECT);
    CHECK(c.error_os == ECONNREFUSED);
    CHECK(c.error_timeout == WSX_TIMEOUT_NONE && c.http_status == 0);
    CHECK(strlen(c.error_message) > 0);
    CHECK(c.opens == 0);
    CHECK(c.close_code == 1006);
    CHECK(!c.close_clean);
    CHECK_RESULT(wsx_conn_send(conn, WSX_MSG_KIND_TEXT, (const uint8_t *)"x", 1), WSX_ERR_CLOSED);
    CHECK(wsx_conn_state(conn) == WSX_STATE_CLOSED);
    wsx_conn_release(conn);
    CHECK(poll_until(f.loop, &c.frees, WAIT_MS));

    /* A name that does not resolve. */
    recorder d;
    memset(&d, 0, sizeof d);
    conn = connect_to(f.loop, "ws://nonexistent.invalid/", NULL, &d);
    CHECK(poll_until(f.loop, &d.closes, WAIT_MS));
    CHECK(d.error_code == WSX_ERR_DNS);
    wsx_conn_release(conn);
    wsx_loop_free(f.loop);
    CHECK(d.frees == 1);
}

static void test_refusals(void) {
    fixture f;
    wsx_server_options *so = NULL;
    CHECK_OK(wsx_server_options_new(&so));
    CHECK_OK(wsx_server_options_add_origin(so, "https://good.example"));
    CHECK_OK(wsx_conn_options_set_handshake_limits(wsx_server_options_conn(so),  1024, 16));
    fixture_start(&f, so, "/");
    wsx_server_options_free(so);

    /* The upgrade callback refuses with 403. */
    f.server_rec.refuse_status = 403;
    f.server_rec.add_response_header = "X-Reason";
    wsx_client_options *co = NULL;
    CHECK_OK(wsx_client_options_new(&co));
    CHECK_OK(wsx_client_options_set_origin(co, "https://good.example"));
    recorder c;
    memset(&c, 0, sizeof c);
    wsx_conn *conn = connect_to(f.loop, f.url, co, &c);
    CHECK(poll_until(f.loop, &c.closes, WAIT_MS));
    CHECK(c.opens == 0);
    CHECK(c.error_code == WSX_ERR_HANDSHAKE);
    CHECK(c.http_status == 403);
    CHECK(f.server_rec.opens == 0);
    wsx_conn_release(conn);

    /* An origin off the allow-list gets 403 before the upgrade callback. */
    f.server_rec.refuse_status = 0;
    int upgrades = f.server_rec.upgrades;
    CHECK_OK(wsx_client_options_set_origin(co, "https://evil.example"));
    recorder d;
    memset(&d, 0, sizeof d);
    conn = connect_to(f.loop, f.url, co, &d);
    CHECK(poll_until(f.loop, &d.closes, WAIT_MS));
    CHECK(d.error_code == WSX_ERR_HANDSHAKE && d.http_status == 403);
    CHECK(f.server_rec.upgrades == upgrades);
    wsx_conn_release(conn);

    /* Request headers past the server's limits are refused. */
    CHECK_OK(wsx_client_options_set_origin(co, "https://good.example"));
    for (int i = 0; i < 20; i++) CHECK_OK(wsx_client_options_add_header(co, "X-Filler", "0123456789"));
    recorder e;
    memset(&e, 0, sizeof e);
    conn = connect_to(f.loop, f.url, co, &e);
    CHECK(poll_until(f.loop, &e.closes, WAIT_MS));
    CHECK(e.opens == 0 && e.error_code == WSX_ERR_HANDSHAKE);
    CHECK(e.http_status >= 400);
    wsx_conn_release(conn);
    wsx_client_options_free(co);

    /* Bad decisions are refused by the upgrade functions themselves. */
    CHECK(f.server_rec.opens == 0);
    fixture_stop(&f);
}

static void bad_upgrade(void *ud, wsx_upgrade *upgrade, const wsx_request *request) {
    int *checked = ud;
    (void)request;
    /* A refusal is a status 400-599 and its headers are HTTP tokens with
     * values free of control characters: anything else is refused here,
     * never changed into something else (the same rule in C, Python, C#). */
    *checked = wsx_upgrade_refuse(upgrade, 200, "no") == WSX_ERR_INVALID_ARGUMENT &&
               strstr(wsx_last_error_message(), "refusal status 200 is not in 400-599") != NULL &&
               wsx_upgrade_refuse(upgrade, 99, NULL) == WSX_ERR_INVALID_ARGUMENT &&
               wsx_upgrade_refuse(upgrade, 600, "no") == WSX_ERR_INVALID_ARGUMENT &&
               wsx_upgrade_add_header(upgrade, "X-A", "1\r\nX-B: 2") == WSX_ERR_INVALID_ARGUMENT &&
               wsx_upgrade_add_header(upgrade, "X Bad", "1") == WSX_ERR_INVALID_ARGUMENT &&
               strstr(wsx_last_error_message(), "header name \"X Bad\" is not an HTTP token") != NULL &&
               wsx_upgrade_add_header(upgrade, "", "1") == WSX_ERR_INVALID_ARGUMENT &&
               wsx_upgrade_add_header(upgrade, NULL, "1") == WSX_ERR_NULL &&
               wsx_upgrade_set_callbacks(upgrade, NULL) == WSX_ERR_NULL &&
               wsx_upgrade_set_subprotocol(upgrade, "picked") == WSX_OK &&
               wsx_upgrade_set_subprotocol(upgrade, NULL) == WSX_OK;
}

static void test_upgrade_argument_checks(void) {
    wsx_loop *loop = NULL;
    CHECK_OK(wsx_loop_new(&loop));
    int checked = 0;
    wsx_server_callbacks scb;
    memset(&scb, 0, sizeof scb);
    scb.struct_size = sizeof scb;
    scb.user_data = &checked;
    scb.on_upgrade = bad_upgrade;
    wsx_server *server = NULL;
    CHECK_OK(wsx_loop_listen(loop, NULL, &scb, &server));
    char url[128];
    server_url(url, sizeof url, "ws", server, "/");
    recorder c;
    memset(&c, 0, sizeof c);
    wsx_conn *conn = connect_to(loop, url, NULL, &c);
    CHECK(poll_until(loop, &c.opens, WAIT_MS)); /* accepted after the refused decisions */
    CHECK(checked == 1);
    CHECK(c.subprotocol[0] == '\0');
    wsx_conn_release(conn);
    wsx_server_free(server);
    wsx_loop_free(loop);
    CHECK(c.frees == 1);
}

static void test_per_connection_callbacks(void) {
    fixture f;
    fixture_start(&f, NULL, "/");
    recorder per;
    memset(&per, 0, sizeof per);
    per.echo = 1;
    f.server_rec.per_conn = &per;
    recorder c;
    memset(&c, 0, sizeof c);
    wsx_conn *conn = connect_to(f.loop, f.url, NULL, &c);
    CHECK(poll_until(f.loop, &c.opens, WAIT_MS));
    CHECK_OK(wsx_conn_send(conn, WSX_MSG_KIND_TEXT, (const uint8_t *)"mine", 4));
    CHECK(poll_until(f.loop, &c.messages, WAIT_MS));
    CHECK(per.messages == 1 && f.server_rec.messages == 0);
    CHECK_OK(wsx_conn_close(conn, 1000, NULL));
    CHECK(poll_until(f.loop, &per.frees, WAIT_MS));
    CHECK(per.closes == 1 && per.frees == 1);
    CHECK(f.server_rec.frees == 0);
    wsx_conn_release(conn);
    fixture_stop(&f);
}

static void test_free_and_stop_inside_callbacks(void) {
    fixture f;
    fixture_start(&f, NULL, "/");
    f.server_rec.echo = 1;
    recorder c;
    memset(&c, 0, sizeof c);
    c.poll_on_open = f.loop;
    c.stop_on_open = f.loop;
    wsx_conn *conn = connect_to(f.loop, f.url, NULL, &c);
    CHECK(poll_until(f.loop, &c.opens, WAIT_MS));
    CHECK(c.poll_on_open_result == WSX_ERR_STATE);

    /* Our only reference is released inside the message callback; the
     * connection keeps running on the library's own reference. */
    c.free_on_message = conn;
    CHECK_OK(wsx_conn_send(conn, WSX_MSG_KIND_TEXT, (const uint8_t *)"one", 3));
    CHECK(poll_until(f.loop, &c.messages, WAIT_MS));
    CHECK(c.free_on_message == NULL);
    CHECK_OK(wsx_conn_send(c.conn, WSX_MSG_KIND_TEXT, (const uint8_t *)"two", 3)); /* inside: c.conn is borrowed, still valid */
    CHECK(poll_until_count(f.loop, &c.messages, 2, WAIT_MS));

    /* A retained handle freed inside the close callback. */
    c.free_on_close = wsx_conn_retain(c.conn);
    CHECK(c.free_on_close == c.conn);
    wsx_conn_close(c.conn, 1000, "done");
    CHECK(poll_until(f.loop, &c.closes, WAIT_MS));
    CHECK(c.free_on_close == NULL);
    CHECK(poll_until(f.loop, &c.frees, WAIT_MS));
    fixture_stop(&f);
}

typedef struct thread_echo {
    recorder client;
    recorder server;
    wsx_loop *loop;
    atomic_int polled;
} thread_echo;

static void *stop_after_a_while(void *arg) {
    struct timespec pause = {0, 50 * 1000000};
    nanosleep(&pause, NULL);
    return (void *)(size_t)wsx_loop_stop(arg);
}

static void wait_for(volatile int *flag, int target) {
    long long deadline = now_ms() + WAIT_MS;
    struct timespec pause = {0, 1000000};
    while (*flag < target && now_ms() < deadline) nanosleep(&pause, NULL);
}

static void test_thread_mode_and_stop_from_another_thread(void) {
    thread_echo t;
    memset(&t, 0, sizeof t);
    t.server.echo = 1;
    CHECK_OK(wsx_loop_new(&t.loop));
    wsx_server *server = start_server(t.loop, NULL, &t.server);
    char url[128];
    server_url(url, sizeof url, "ws", server, "/");
    CHECK_OK(wsx_loop_start_thread(t.loop));
    /* Connect and send from this thread while the loop runs on its own. */
    wsx_conn *conn = connect_to(t.loop, url, NULL, &t.client);
    wait_for(&t.client.opens, 1);
    CHECK(t.client.opens == 1);
    for (int i = 0; i < 100; i++) CHECK_OK(wsx_conn_send(conn, WSX_MSG_KIND_BINARY, (const uint8_t *)&i, sizeof i));
    wait_for(&t.client.messages, 100);
    CHECK(t.client.messages == 100);
    CHECK(t.client.len == sizeof(int) && memcmp(t.client.data, &(int){99}, sizeof(int)) == 0);

    /* Another thread stops the loop; freeing it then joins its thread. */
    pthread_t stopper;
    void *stopped = NULL;
    CHECK(pthread_create(&stopper, NULL, stop_after_a_while, t.loop) == 0);
    CHECK(pthread_join(stopper, &stopped) == 0);
    CHECK(stopped == (void *)WSX_OK);
    wsx_loop_free(t.loop);
    /* Handles outlive the loop and report it. */
    CHECK_RESULT(wsx_conn_send(conn, WSX_MSG_KIND_TEXT, (const uint8_t *)"x", 1), WSX_ERR_CLOSED);
    CHECK(wsx_conn_state(conn) == WSX_STATE_CLOSED);
    wsx_conn_release(conn);
    wsx_server_free(server);
    CHECK(t.client.frees == 1 && t.server.frees == 1);

    /* A poll blocked without a timeout wakes up when another thread stops the loop. */
    wsx_loop *loop = NULL;
    CHECK_OK(wsx_loop_new(&loop));
    pthread_t waker;
    CHECK(pthread_create(&waker, NULL, stop_after_a_while, loop) == 0);
    CHECK_OK(wsx_loop_poll(loop, -1));
    CHECK(pthread_join(waker, NULL) == 0);
    wsx_loop_free(loop);
}

static void free_loop_on_open(void *ud, wsx_conn *conn, const wsx_open *open) {
    (void)conn;
    (void)open;
    wsx_loop **loop = ud;
    wsx_loop_free(*loop);
    *loop = NULL;
}

static void test_free_loop_inside_callback(void) {
    wsx_loop *loop = NULL;
    recorder s;
    memset(&s, 0, sizeof s);
    CHECK_OK(wsx_loop_new(&loop));
    wsx_server *server = start_server(loop, NULL, &s);
    char url[128];
    server_url(url, sizeof url, "ws", server, "/");
    wsx_conn_callbacks cb;
    memset(&cb, 0, sizeof cb);
    cb.struct_size = sizeof cb;
    cb.user_data = &loop;
    cb.on_open = free_loop_on_open;
    wsx_conn *conn = NULL;
    CHECK_OK(wsx_loop_connect(loop, url, NULL, &cb, &conn));
    wsx_loop *polled = loop;
    long long deadline = now_ms() + WAIT_MS;
    while (loop != NULL && now_ms() < deadline) wsx_loop_poll(polled, 10);
    CHECK(loop == NULL);
    CHECK(s.frees == 1);
    CHECK_RESULT(wsx_conn_send(conn, WSX_MSG_KIND_TEXT, (const uint8_t *)"x", 1), WSX_ERR_CLOSED);
    wsx_conn_release(conn);
    wsx_server_free(server);
}

static void test_free_loop_inside_callback_on_its_thread(void) {
    wsx_loop *loop = NULL;
    recorder s;
    memset(&s, 0, sizeof s);
    CHECK_OK(wsx_loop_new(&loop));
    wsx_server *server = start_server(loop, NULL, &s);
    char url[128];
    server_url(url, sizeof url, "ws", server, "/");
    wsx_conn_callbacks cb;
    memset(&cb, 0, sizeof cb);
    cb.struct_size = sizeof cb;
    cb.user_data = &loop;
    cb.on_open = free_loop_on_open;
    wsx_conn *conn = NULL;
    CHECK_OK(wsx_loop_start_thread(loop));
    CHECK_OK(wsx_loop_connect(loop, url, NULL, &cb, &conn));
    /* The loop thread frees the loop from inside a callback: it cannot join
     * itself, so it finishes on its own and releases everything. */
    wait_for(&s.frees, 1);
    CHECK(s.frees == 1);
    CHECK_RESULT(wsx_conn_send(conn, WSX_MSG_KIND_TEXT, (const uint8_t *)"x", 1), WSX_ERR_CLOSED);
    wsx_conn_release(conn);
    wsx_server_free(server);
}

static void test_backpressure(void) {
    fixture f;
    wsx_server_options *so = NULL;
    CHECK_OK(wsx_server_options_new(&so));
    CHECK_OK(wsx_conn_options_set_backpressure(wsx_server_options_conn(so),  64 * 1024, 1024));
    fixture_start(&f, so, "/");
    wsx_server_options_free(so);
    recorder c;
    memset(&c, 0, sizeof c);
    wsx_conn *conn = connect_to(f.loop, f.url, NULL, &c);
    CHECK(poll_until(f.loop, &f.server_rec.opens, WAIT_MS));
    CHECK(poll_until(f.loop, &c.opens, WAIT_MS));
    /* Without polling nothing is written, so the server's queue fills up. */
    static uint8_t chunk[16 * 1024];
    wsx_result r = WSX_OK;
    int sent = 0;
    while (r == WSX_OK && sent < 1000) {
        r = wsx_conn_send(f.server_rec.conn, WSX_MSG_KIND_BINARY, chunk, sizeof chunk);
        if (r == WSX_OK) sent++;
    }
    CHECK(r == WSX_ERR_WOULD_BLOCK);
    CHECK(sent >= 1 && sent < 1000);
    CHECK(wsx_conn_buffered_amount(f.server_rec.conn) >= 64 * 1024 - sizeof chunk);
    CHECK(poll_until(f.loop, &f.server_rec.writables, WAIT_MS));
    CHECK(poll_until_count(f.loop, &c.messages, sent, WAIT_MS));
    CHECK(c.total_len == (size_t)sent * sizeof chunk);
    wsx_conn_release(conn);
    fixture_stop(&f);
}

static void test_limits_and_streaming(void) {
    fixture f;
    wsx_server_options *so = NULL;
    CHECK_OK(wsx_server_options_new(&so));
    CHECK_OK(wsx_conn_options_set_max_message_size(wsx_server_options_conn(so),  1024));
    fixture_start(&f, so, "/");
    wsx_server_options_free(so);
    f.server_rec.echo = 1;

    /* Over the server's limit: it closes with 1009. */
    recorder c;
    memset(&c, 0, sizeof c);
    wsx_conn *conn = connect_to(f.loop, f.url, NULL, &c);
    CHECK(poll_until(f.loop, &c.opens, WAIT_MS));
    static uint8_t big[4096];
    CHECK_OK(wsx_conn_send(conn, WSX_MSG_KIND_BINARY, big, sizeof big));
    CHECK(poll_until(f.loop, &c.closes, WAIT_MS));
    CHECK(c.close_code == 1009);
    CHECK(c.messages == 0);
    wsx_conn_release(conn);

    /* Streaming: a message arrives in pieces, the last with fin. */
    wsx_client_options *co = NULL;
    CHECK_OK(wsx_client_options_new(&co));
    CHECK_OK(wsx_conn_options_set_streaming(wsx_client_options_conn(co),  true));
    recorder d;
    memset(&d, 0, sizeof d);
    conn = connect_to(f.loop, f.url, co, &d);
    wsx_client_options_free(co);
    CHECK(poll_until(f.loop, &d.opens, WAIT_MS));
    CHECK_OK(wsx_conn_send(conn, WSX_MSG_KIND_TEXT, (const uint8_t *)"streamed", 8));
    long long deadline = now_ms() + WAIT_MS;
    while (!(d.fin && d.total_len == 8) && now_ms() < deadline) wsx_loop_poll(f.loop, 10);
    CHECK(d.fin && d.total_len == 8);
    wsx_conn_release(conn);
    fixture_stop(&f);
}

static void test_compression_and_text_only(void) {
    fixture f;
    wsx_server_options *so = NULL;
    wsx_deflate_options deflate = {.struct_size = sizeof deflate};
    CHECK_OK(wsx_deflate_options_default(&deflate));
    CHECK_OK(wsx_server_options_new(&so));
    CHECK_OK(wsx_conn_options_set_compression(wsx_server_options_conn(so),  &deflate));
    CHECK_OK(wsx_conn_options_set_reject_binary(wsx_server_options_conn(so),  true));
    fixture_start(&f, so, "/");
    wsx_server_options_free(so);
    f.server_rec.echo = 1;

    /* Offered and accepted: the 101 says so, and a compressible message round-trips. */
    wsx_client_options *co = NULL;
    CHECK_OK(wsx_client_options_new(&co));
    CHECK_OK(wsx_conn_options_set_compression(wsx_client_options_conn(co),  &deflate));
    recorder c;
    memset(&c, 0, sizeof c);
    c.header_name = "Sec-WebSocket-Extensions";
    wsx_conn *conn = connect_to(f.loop, f.url, co, &c);
    wsx_client_options_free(co);
    CHECK(poll_until(f.loop, &c.opens, WAIT_MS));
    CHECK(strstr(c.header_value, "permessage-deflate") != NULL);
    char text[1000];
    memset(text, 'a', sizeof text);
    CHECK_OK(wsx_conn_send(conn, WSX_MSG_KIND_TEXT, (const uint8_t *)text, sizeof text));
    CHECK(poll_until(f.loop, &c.messages, WAIT_MS));
    CHECK(c.len == sizeof text && memcmp(c.data, text, sizeof text) == 0);

    /* Per-message opt-out: sent uncompressed, still echoed intact; unknown flags refused. */
    memset(text, 'b', sizeof text);
    CHECK_OK(wsx_conn_send_ex(conn, WSX_MSG_KIND_TEXT, (const uint8_t *)text, sizeof text, WSX_SEND_NO_COMPRESS));
    CHECK(poll_until_count(f.loop, &c.messages, 2, WAIT_MS));
    CHECK(c.len == sizeof text && memcmp(c.data, text, sizeof text) == 0);
    CHECK_RESULT(wsx_conn_send_ex(conn, WSX_MSG_KIND_TEXT, (const uint8_t *)text, 1, 0x80), WSX_ERR_INVALID_ARGUMENT);

    /* Binary where the server takes only text: close 1003. */
    CHECK_OK(wsx_conn_send(conn, WSX_MSG_KIND_BINARY, (const uint8_t *)"\x01", 1));
    CHECK(poll_until(f.loop, &c.closes, WAIT_MS));
    CHECK(c.close_code == 1003);
    wsx_conn_release(conn);
    fixture_stop(&f);
}

static void test_reading_paused(void) {
    fixture f;
    fixture_start(&f, NULL, "/");
    f.server_rec.echo = 1;
    recorder c;
    memset(&c, 0, sizeof c);
    wsx_conn *conn = connect_to(f.loop, f.url, NULL, &c);
    CHECK(poll_until(f.loop, &c.opens, WAIT_MS));
    CHECK_RESULT(wsx_conn_set_reading_paused(NULL, true), WSX_ERR_NULL);

    /* Paused: the echoes wait (the server echoed them: all three were read). */
    CHECK_OK(wsx_conn_set_reading_paused(conn, true));
    const char *words[] = {"one", "two", "three"};
    for (int i = 0; i < 3; i++) {
        CHECK_OK(wsx_conn_send(conn, WSX_MSG_KIND_TEXT, (const uint8_t *)words[i], strlen(words[i])));
    }
    CHECK(poll_until_count(f.loop, &f.server_rec.messages, 3, WAIT_MS));
    for (int i = 0; i < 20; i++) wsx_loop_poll(f.loop, 10);
    CHECK(c.messages == 0);

    /* Resumed: all three arrive, in order (the last one is "three"). */
    CHECK_OK(wsx_conn_set_reading_paused(conn, false));
    CHECK(poll_until_count(f.loop, &c.messages, 3, WAIT_MS));
    CHECK(c.len == 5 && memcmp(c.data, "three", 5) == 0);
    wsx_conn_release(conn);
    fixture_stop(&f);
}

static void test_idle_timeout(void) {
    fixture f;
    wsx_server_options *so = NULL;
    CHECK_OK(wsx_server_options_new(&so));
    CHECK_OK(wsx_conn_options_set_idle_timeout_ms(wsx_server_options_conn(so),  200));
    fixture_start(&f, so, "/");
    wsx_server_options_free(so);
    wsx_client_options *co = NULL;
    CHECK_OK(wsx_client_options_new(&co));
    CHECK_OK(wsx_conn_options_set_keepalive(wsx_client_options_conn(co),  0, 0));
    recorder c;
    memset(&c, 0, sizeof c);
    wsx_conn *conn = connect_to(f.loop, f.url, co, &c);
    wsx_client_options_free(co);
    CHECK(poll_until(f.loop, &c.opens, WAIT_MS));
    /* Silent client: the server drops it. */
    CHECK(poll_until(f.loop, &f.server_rec.closes, WAIT_MS));
    CHECK(poll_until(f.loop, &c.closes, WAIT_MS));
    wsx_conn_release(conn);
    fixture_stop(&f);
}

static void test_server_shutdown_closes_with_1001(void) {
    fixture f;
    fixture_start(&f, NULL, "/");
    recorder c;
    memset(&c, 0, sizeof c);
    wsx_conn *conn = connect_to(f.loop, f.url, NULL, &c);
    CHECK(poll_until(f.loop, &c.opens, WAIT_MS));
    CHECK_OK(wsx_server_shutdown(f.server, 2000));
    CHECK(poll_until(f.loop, &c.closes, WAIT_MS));
    CHECK(c.close_code == 1001);
    CHECK(poll_until(f.loop, &f.server_rec.shutdowns, WAIT_MS));
    wsx_conn_release(conn);
    wsx_server_free(f.server);
    f.server = NULL;
    wsx_loop_free(f.loop);
    CHECK(f.server_rec.frees == 1);
}

static void test_tls(void) {
    const char *cert = getenv("WSX_TEST_CERT");
    const char *key = getenv("WSX_TEST_KEY");
    const char *ca = getenv("WSX_TEST_CA");
    if (!cert || !key || !ca) {
        printf("note: WSX_TEST_CERT/KEY/CA unset, TLS not tested\n");
        return;
    }
    wsx_server_options *so = NULL;
    CHECK_OK(wsx_server_options_new(&so));
    CHECK_OK(wsx_server_options_set_tls(so, cert, key));
    fixture f;
    fixture_start(&f, so, "/");
    wsx_server_options_free(so);
    f.server_rec.echo = 1;
    char url[128];
    snprintf(url, sizeof url, "wss://localhost:%u/", (unsigned)wsx_server_port(f.server));

    /* Trusted through the CA file. */
    wsx_client_options *co = NULL;
    CHECK_OK(wsx_client_options_new(&co));
    CHECK_OK(wsx_client_options_set_tls_ca_file(co, ca));
    recorder c;
    memset(&c, 0, sizeof c);
    wsx_conn *conn = connect_to(f.loop, url, co, &c);
    CHECK(poll_until(f.loop, &c.opens, WAIT_MS));
    CHECK_OK(wsx_conn_send(conn, WSX_MSG_KIND_TEXT, (const uint8_t *)"secret", 6));
    CHECK(poll_until(f.loop, &c.messages, WAIT_MS));
    CHECK(c.len == 6 && memcmp(c.data, "secret", 6) == 0);
    wsx_conn_close(conn, 1000, NULL);
    CHECK(poll_until(f.loop, &c.closes, WAIT_MS));
    wsx_conn_release(conn);
    wsx_client_options_free(co);

    /* Not trusted: refused. */
    recorder d;
    memset(&d, 0, sizeof d);
    conn = connect_to(f.loop, url, NULL, &d);
    CHECK(poll_until(f.loop, &d.closes, WAIT_MS));
    CHECK(d.opens == 0 && d.error_code == WSX_ERR_TLS);
    wsx_conn_release(conn);

    /* Verification explicitly off: accepted. */
    CHECK_OK(wsx_client_options_new(&co));
    CHECK_OK(wsx_client_options_set_tls_danger_disable_verification(co, true));
    recorder e;
    memset(&e, 0, sizeof e);
    conn = connect_to(f.loop, url, co, &e);
    CHECK(poll_until(f.loop, &e.opens, WAIT_MS));
    wsx_conn_release(conn);

    /* A missing CA file fails the connection with a clear error. */
    CHECK_OK(wsx_client_options_set_tls_danger_disable_verification(co, false));
    CHECK_OK(wsx_client_options_set_tls_ca_file(co, "/nonexistent/ca.pem"));
    recorder g;
    memset(&g, 0, sizeof g);
    wsx_conn_callbacks cb = rec_conn_callbacks(&g);
    conn = NULL;
    wsx_result r = wsx_loop_connect(f.loop, url, co, &cb, &conn);
    if (r == WSX_OK) {
        CHECK(poll_until(f.loop, &g.closes, WAIT_MS));
        CHECK(g.opens == 0 && g.errors == 1);
    } else {
        CHECK(r == WSX_ERR_TLS || r == WSX_ERR_IO || r == WSX_ERR_INVALID_ARGUMENT);
    }
    wsx_conn_release(conn);
    wsx_client_options_free(co);
    fixture_stop(&f);
}

/* A raw TCP client that completed the handshake and read the 101 response. */
static int raw_open_client(fixture *f) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons(wsx_server_port(f->server));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0);
    static const char request[] =
        "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    CHECK(write(fd, request, sizeof request - 1) == (ssize_t)(sizeof request - 1));
    CHECK(poll_until(f->loop, &f->server_rec.opens, WAIT_MS));
    char response[512];
    CHECK(read(fd, response, sizeof response) > 12 && memcmp(response, "HTTP/1.1 101", 12) == 0);
    return fd;
}

/* A server that accepts TCP (the kernel does, from its backlog) and never
 * answers the handshake: the client's error names the opening timeout. */
static void test_handshake_timeout_is_named(void) {
    wsx_loop *loop = NULL;
    CHECK_OK(wsx_loop_new(&loop));
    int silent = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    CHECK(bind(silent, (struct sockaddr *)&addr, sizeof addr) == 0);
    CHECK(listen(silent, 4) == 0);
    CHECK(getsockname(silent, (struct sockaddr *)&addr, &len) == 0);
    char url[64];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/", ntohs(addr.sin_port));
    wsx_client_options *co = NULL;
    CHECK_OK(wsx_client_options_new(&co));
    CHECK_OK(wsx_conn_options_set_handshake_timeout_ms(wsx_client_options_conn(co), 200));
    recorder c;
    memset(&c, 0, sizeof c);
    wsx_conn *conn = connect_to(loop, url, co, &c);
    wsx_client_options_free(co);
    CHECK(poll_until(loop, &c.closes, WAIT_MS));
    CHECK(c.opens == 0 && c.error_code == WSX_ERR_TIMEOUT);
    CHECK(c.error_timeout == WSX_TIMEOUT_OPEN);
    CHECK(c.close_code == 1006);
    wsx_conn_release(conn);
    close(silent);
    wsx_loop_free(loop);
}

/* Sends to a peer that reset the connection fail inside wsx: the connection
 * ends with 1006 and nothing raises SIGPIPE, whose default action would end
 * this program (C programs do not ignore it, unlike Rust's and Python's). */
static void test_peer_reset_raises_no_sigpipe(void) {
    fixture f;
    fixture_start(&f, NULL, "/");
    int fd = raw_open_client(&f);
    struct linger reset = {1, 0};
    CHECK(setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset) == 0);
    close(fd);
    struct timespec settle = {0, 100 * 1000 * 1000};
    nanosleep(&settle, NULL); /* the reset reaches the server's socket */
    /* Queued before the loop learns of the reset: written when it polls,
     * small and large (a large one is written at once, without a copy). */
    static uint8_t large[256 * 1024];
    for (int i = 0; i < 4; i++) {
        CHECK_OK(wsx_conn_send(f.server_rec.conn, WSX_MSG_KIND_BINARY, large, i % 2 ? 20 : sizeof large));
    }
    wsx_conn *held = wsx_conn_retain(f.server_rec.conn);
    CHECK(poll_until(f.loop, &f.server_rec.closes, WAIT_MS));
    CHECK(f.server_rec.close_code == 1006 && !f.server_rec.close_clean);
    /* A send after the drop: WSX_ERR_CLOSED, and the message says it was I/O. */
    CHECK_RESULT(wsx_conn_send(held, WSX_MSG_KIND_TEXT, (const uint8_t *)"late", 4), WSX_ERR_CLOSED);
    CHECK(strstr(wsx_last_error_message(), "I/O error") != NULL);
    wsx_conn_release(held);
    fixture_stop(&f);
}

/* The drain: the chosen close frame for open connections, 503 for handshakes
 * while a peer that never answers the close holds the drain open, and the
 * shutdown event at the deadline. */
static void test_server_drain(void) {
    fixture f;
    fixture_start(&f, NULL, "/");
    int silent = raw_open_client(&f);
    recorder c;
    memset(&c, 0, sizeof c);
    wsx_conn *conn = connect_to(f.loop, f.url, NULL, &c);
    CHECK(poll_until(f.loop, &c.opens, WAIT_MS));
    CHECK_RESULT(wsx_server_drain(f.server, 1006, NULL, 1000), WSX_ERR_INVALID_ARGUMENT);
    CHECK_OK(wsx_server_drain(f.server, 1012, "back soon", 1500));
    CHECK(poll_until(f.loop, &c.closes, WAIT_MS));
    CHECK(c.close_code == 1012 && strcmp(c.close_reason, "back soon") == 0 && c.close_clean);
    recorder late;
    memset(&late, 0, sizeof late);
    wsx_conn *refused = connect_to(f.loop, f.url, NULL, &late);
    CHECK(poll_until(f.loop, &late.closes, WAIT_MS));
    CHECK(late.opens == 0 && late.error_code == WSX_ERR_HANDSHAKE && late.http_status == 503);
    CHECK(f.server_rec.shutdowns == 0); /* the silent peer still holds it */
    CHECK(poll_until(f.loop, &f.server_rec.shutdowns, WAIT_MS));
    close(silent);
    wsx_conn_release(refused);
    wsx_conn_release(conn);
    fixture_stop(&f);
}

/* Threads of this process named `name` (from /proc/self/task/N/comm). */
static int threads_named(const char *name) {
    int count = 0;
    DIR *tasks = opendir("/proc/self/task");
    if (!tasks) return -1;
    struct dirent *task;
    while ((task = readdir(tasks)) != NULL) {
        if (task->d_name[0] == '.') continue;
        char path[300], comm[64] = {0};
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", task->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        if (fgets(comm, sizeof comm, f) && strncmp(comm, name, strlen(name)) == 0 && comm[strlen(name)] == '\n') {
            count++;
        }
        fclose(f);
    }
    closedir(tasks);
    return count;
}

/* Connecting by host name runs the lookup on a "wsx-dns" helper thread; the
 * last wsx_loop_free ends and joins it (no helper idles on for 10 s). */
static void test_resolver_threads_end_with_the_last_loop(void) {
    fixture f;
    fixture_start(&f, NULL, "/");
    char url[128];
    snprintf(url, sizeof url, "ws://localhost:%u/", (unsigned)wsx_server_port(f.server));
    recorder c;
    memset(&c, 0, sizeof c);
    wsx_conn *conn = connect_to(f.loop, url, NULL, &c);
    CHECK(poll_until(f.loop, &c.opens, WAIT_MS));
    CHECK(threads_named("wsx-dns") >= 1);
    wsx_conn_release(conn);
    fixture_stop(&f);
    /* Joined: gone once the kernel has reaped the threads (a moment after
     * pthread_join returns, so look again a few times, not 10 s). */
    struct timespec pause = {0, 5 * 1000 * 1000};
    for (int i = 0; i < 100 && threads_named("wsx-dns") > 0; i++) nanosleep(&pause, NULL);
    CHECK(threads_named("wsx-dns") == 0);
}

/* --- name resolution by the application (wsx_client_options_set_resolver) --- */

/* A listener on ::1 whose accept queue is full, so connects to it hang as on
 * a dead IPv6 route; the sockets filling it are held until closed. */
typedef struct black_hole {
    int listener;
    int held[8];
    int n;
    uint16_t port;
} black_hole;

static int black_hole_open(black_hole *b) {
    memset(b, 0, sizeof *b);
    b->listener = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 addr;
    memset(&addr, 0, sizeof addr);
    addr.sin6_family = AF_INET6;
    addr.sin6_addr = in6addr_loopback;
    socklen_t len = sizeof addr;
    if (b->listener < 0 || bind(b->listener, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(b->listener, 0) != 0 ||
        getsockname(b->listener, (struct sockaddr *)&addr, &len) != 0)
        return 0;
    b->port = ntohs(addr.sin6_port);
    /* Connect until one stays unanswered for 300 ms: the queue is full. */
    while (b->n < 8) {
        int fd = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK, 0);
        b->held[b->n++] = fd;
        if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0) continue;
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        if (errno == EINPROGRESS && poll(&p, 1, 300) == 0) return 1;
    }
    return 0;
}

static void black_hole_close(black_hole *b) {
    for (int i = 0; i < b->n; i++) close(b->held[i]);
    close(b->listener);
}

typedef struct app_resolver {
    const char *answers[2];
    size_t count;
    int keep; /* keep the resolution to answer later instead */
    wsx_resolution *volatile kept;
    volatile int calls, frees;
    char host[64];
    uint16_t port;
} app_resolver;

static void app_resolve(void *user_data, wsx_resolution *resolution) {
    app_resolver *r = user_data;
    r->calls++;
    copy_str(r->host, sizeof r->host, wsx_resolution_host(resolution));
    r->port = wsx_resolution_port(resolution);
    if (r->keep) {
        r->kept = resolution;
        return;
    }
    CHECK_OK(wsx_resolution_answer(resolution, r->answers, r->count));
    wsx_resolution_free(resolution);
}

static void app_resolver_free(void *user_data) { ((app_resolver *)user_data)->frees++; }

static wsx_client_options *resolving_options(app_resolver *r, uint32_t connect_timeout_ms) {
    wsx_client_options *o = NULL;
    CHECK_OK(wsx_client_options_new(&o));
    CHECK_OK(wsx_client_options_set_resolver(o, app_resolve, r, app_resolver_free));
    CHECK_OK(wsx_client_options_set_connect_timeout_ms(o, connect_timeout_ms));
    return o;
}

/* A name resolving to a dead IPv6 address and 127.0.0.1: IPv6 is tried
 * first, IPv4 250 ms later wins (Happy Eyeballs), long before the 5 s
 * connect timeout. The resolver answers at once, on the polling thread. */
static void test_app_resolver_happy_eyeballs(void) {
    fixture f;
    fixture_start(&f, NULL, "/");
    black_hole dead;
    CHECK(black_hole_open(&dead));
    char dead_v6[64], url[128], peer[64];
    snprintf(dead_v6, sizeof dead_v6, "[::1]:%u", (unsigned)dead.port);
    app_resolver r = {.answers = {dead_v6, "127.0.0.1"}, .count = 2};
    wsx_client_options *o = resolving_options(&r, 5000);
    unsigned port = wsx_server_port(f.server);
    snprintf(url, sizeof url, "ws://dual.wsx.test:%u/", port);
    recorder c;
    memset(&c, 0, sizeof c);
    wsx_conn *conn = connect_to(f.loop, url, o, &c);
    wsx_client_options_free(o);
    CHECK(poll_until(f.loop, &c.opens, WAIT_MS));
    CHECK(r.calls == 1 && strcmp(r.host, "dual.wsx.test") == 0 && r.port == port);
    snprintf(peer, sizeof peer, "127.0.0.1:%u", port);
    CHECK(strcmp(c.peer_addr, peer) == 0);
    CHECK(r.frees == 0); /* the connection still holds the resolver */
    CHECK_OK(wsx_conn_close(conn, 1000, NULL));
    CHECK(poll_until(f.loop, &c.closes, WAIT_MS));
    wsx_conn_release(conn);
    CHECK(poll_until(f.loop, &c.frees, WAIT_MS));
    CHECK(r.frees == 1);
    black_hole_close(&dead);
    fixture_stop(&f);
}

static void *answer_from_a_thread(void *arg) {
    app_resolver *r = arg;
    const char *ipv4[] = {"127.0.0.1"};
    CHECK_OK(wsx_resolution_answer(r->kept, ipv4, 1));
    return NULL;
}

/* An asynchronous resolver: the callback keeps the resolution, another
 * thread answers it; bad answers are refused and change nothing. */
static void test_app_resolver_answers_later(void) {
    fixture f;
    fixture_start(&f, NULL, "/");
    app_resolver r = {.keep = 1};
    wsx_client_options *o = resolving_options(&r, 5000);
    char url[128];
    snprintf(url, sizeof url, "ws://later.wsx.test:%u/", (unsigned)wsx_server_port(f.server));
    recorder c;
    memset(&c, 0, sizeof c);
    wsx_conn *conn = connect_to(f.loop, url, o, &c);
    wsx_client_options_free(o);
    CHECK(poll_until(f.loop, (volatile int *)&r.calls, WAIT_MS));
    CHECK(!poll_until(f.loop, &c.opens, 100)); /* nothing to connect to yet */
    const char *bad[] = {"127.0.0.1", "later.wsx.test"};
    CHECK_RESULT(wsx_resolution_answer(r.kept, bad, 2), WSX_ERR_INVALID_ARGUMENT);
    CHECK_RESULT(wsx_resolution_answer(r.kept, NULL, 1), WSX_ERR_NULL);
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, answer_from_a_thread, &r) == 0);
    pthread_join(thread, NULL);
    const char *again[] = {"127.0.0.1"};
    CHECK_RESULT(wsx_resolution_answer(r.kept, again, 1), WSX_ERR_STATE);
    CHECK_RESULT(wsx_resolution_fail(r.kept, "too late"), WSX_ERR_STATE);
    wsx_resolution_free(r.kept);
    CHECK(poll_until(f.loop, &c.opens, WAIT_MS));
    wsx_conn_release(conn);
    fixture_stop(&f);
    CHECK(r.frees == 1);
}

typedef enum { FAIL_WITH_REASON, FREE_UNANSWERED, NO_ADDRESS, NEVER } resolver_failure;

/* How a lookup that yields nothing ends the attempt. */
static void resolver_fails(wsx_loop *loop, resolver_failure how, wsx_result code, const char *says) {
    app_resolver r = {.keep = 1};
    wsx_client_options *o = resolving_options(&r, how == NEVER ? 300 : 5000);
    recorder c;
    memset(&c, 0, sizeof c);
    wsx_conn *conn = connect_to(loop, "ws://nowhere.wsx.test/", o, &c);
    wsx_client_options_free(o);
    CHECK(poll_until(loop, (volatile int *)&r.calls, WAIT_MS));
    if (how == FAIL_WITH_REASON) CHECK_OK(wsx_resolution_fail(r.kept, "no such service"));
    if (how == NO_ADDRESS) CHECK_OK(wsx_resolution_answer(r.kept, NULL, 0));
    if (how != NEVER) wsx_resolution_free(r.kept);
    CHECK(poll_until(loop, &c.closes, WAIT_MS));
    CHECK(c.opens == 0 && c.error_code == code);
    CHECK(strstr(c.error_message, says) != NULL);
    if (how == NEVER) { /* answered after the attempt ended: ignored */
        const char *ipv4[] = {"127.0.0.1"};
        CHECK_OK(wsx_resolution_answer(r.kept, ipv4, 1));
        wsx_resolution_free(r.kept);
    }
    wsx_conn_release(conn);
    CHECK(poll_until(loop, &c.frees, WAIT_MS));
    CHECK(r.frees == 1);
}

static void test_app_resolver_failures(void) {
    wsx_loop *loop;
    CHECK_OK(wsx_loop_new(&loop));
    resolver_fails(loop, FAIL_WITH_REASON, WSX_ERR_DNS, "no such service");
    resolver_fails(loop, FREE_UNANSWERED, WSX_ERR_DNS, "unanswered");
    resolver_fails(loop, NO_ADDRESS, WSX_ERR_DNS, "no addresses");
    resolver_fails(loop, NEVER, WSX_ERR_TIMEOUT, "resolve");
    wsx_loop_free(loop);
    /* The user data is the library's from the call on, even when it fails. */
    app_resolver r = {0};
    CHECK_RESULT(wsx_client_options_set_resolver(NULL, app_resolve, &r, app_resolver_free), WSX_ERR_NULL);
    CHECK(r.frees == 1);
    wsx_client_options *o = NULL;
    CHECK_OK(wsx_client_options_new(&o));
    CHECK_OK(wsx_client_options_set_resolver(o, app_resolve, &r, app_resolver_free));
    CHECK_OK(wsx_client_options_set_resolver(o, NULL, &r, app_resolver_free)); /* the system's again */
    CHECK(r.frees == 3);
    wsx_client_options_free(o);
    CHECK(wsx_resolution_host(NULL) == NULL && wsx_resolution_port(NULL) == 0);
    CHECK_RESULT(wsx_resolution_fail(NULL, NULL), WSX_ERR_NULL);
    wsx_resolution_free(NULL);
}

static void test_open_close_cycles(void) {
    const char *env = getenv("WSX_TEST_CYCLES");
    int cycles = env ? atoi(env) : 2000;
    const int batch = 50;
    fixture f;
    fixture_start(&f, NULL, "/");
    recorder *recs = calloc((size_t)batch, sizeof *recs);
    wsx_conn **conns = calloc((size_t)batch, sizeof *conns);
    int opened = 0, closed = 0, freed = 0;
    for (int done = 0; done < cycles; done += batch) {
        int n = cycles - done < batch ? cycles - done : batch;
        memset(recs, 0, (size_t)batch * sizeof *recs);
        for (int i = 0; i < n; i++) conns[i] = connect_to(f.loop, f.url, NULL, &recs[i]);
        for (int i = 0; i < n; i++) {
            if (poll_until(f.loop, &recs[i].opens, WAIT_MS)) opened++;
            wsx_conn_close(conns[i], 1000, NULL);
        }
        for (int i = 0; i < n; i++) {
            if (poll_until(f.loop, &recs[i].closes, WAIT_MS) && recs[i].close_clean) closed++;
            wsx_conn_release(conns[i]);
            if (poll_until(f.loop, &recs[i].frees, WAIT_MS) && recs[i].frees == 1) freed++;
        }
    }
    CHECK(opened == cycles);
    CHECK(closed == cycles);
    CHECK(freed == cycles);
    CHECK(poll_until_count(f.loop, &f.server_rec.closes, cycles, WAIT_MS));
    CHECK(f.server_rec.opens == cycles);
    printf("note: %d open/close cycles\n", cycles);
    free(recs);
    free(conns);
    fixture_stop(&f);
}

/* A server on a Unix domain socket: a stale socket file at its path is
 * refused (WSX_ERR_IO, saying so) and removed on request. Clients by Node's
 * ws+unix: URL (Host: localhost) and by option; the peer addresses each side
 * reports ("unix:" and the path, "unix:" for the unnamed client); the file
 * is gone after shutdown. (TLS over the socket: core/tests/net_unix.rs.) */
static void test_unix_socket(void) {
    char dir[] = "/tmp/wsx-unix-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[64];
    snprintf(path, sizeof path, "%s/s.sock", dir);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0); /* a crashed server's leftover */
    struct sockaddr_un sun;
    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
    CHECK(bind(fd, (struct sockaddr *)&sun, sizeof sun) == 0);
    close(fd);

    wsx_server_options *so = NULL;
    CHECK_OK(wsx_server_options_new(&so));
    CHECK_OK(wsx_server_options_set_unix_socket(so, path, false));
    fixture f;
    memset(&f, 0, sizeof f);
    CHECK_OK(wsx_loop_new(&f.loop));
    wsx_server_callbacks cb = rec_server_callbacks(&f.server_rec);
    CHECK_RESULT(wsx_loop_listen(f.loop, so, &cb, &f.server), WSX_ERR_IO);
    CHECK(strstr(wsx_last_error_message(), "stale socket file") != NULL);
    CHECK(f.server == NULL && f.server_rec.frees == 1);
    f.server_rec.frees = 0;
    CHECK_OK(wsx_server_options_set_unix_socket(so, path, true));
    f.server = start_server(f.loop, so, &f.server_rec);
    wsx_server_options_free(so);
    f.server_rec.echo = 1;
    f.server_rec.header_name = "host";
    char addr[128], expected[128];
    snprintf(expected, sizeof expected, "unix:%s", path);
    CHECK_OK(wsx_server_local_addr(f.server, addr, sizeof addr));
    CHECK(strcmp(addr, expected) == 0);
    CHECK(wsx_server_port(f.server) == 0);

    wsx_client_options *co = NULL;
    CHECK_OK(wsx_client_options_new(&co));
    for (int by_option = 0; by_option < 2; by_option++) {
        char url[128];
        if (by_option) {
            CHECK_OK(wsx_client_options_set_unix_socket_path(co, path));
            snprintf(url, sizeof url, "ws://localhost:8080/opt");
        } else {
            snprintf(url, sizeof url, "ws+unix://%s:/chat?x=1", path);
        }
        recorder c;
        memset(&c, 0, sizeof c);
        int opened = f.server_rec.opens;
        wsx_conn *conn = connect_to(f.loop, url, co, &c);
        CHECK(poll_until(f.loop, &c.opens, WAIT_MS));
        CHECK(poll_until_count(f.loop, &f.server_rec.opens, opened + 1, WAIT_MS));
        CHECK(strcmp(f.server_rec.request_path, by_option ? "/opt" : "/chat?x=1") == 0);
        CHECK(strcmp(f.server_rec.request_header_value, by_option ? "localhost:8080" : "localhost") == 0);
        CHECK(strcmp(f.server_rec.peer_addr, "unix:") == 0);
        CHECK(strcmp(c.peer_addr, expected) == 0);
        CHECK_OK(wsx_conn_peer_addr(conn, addr, sizeof addr));
        CHECK(strcmp(addr, expected) == 0);
        CHECK_OK(wsx_conn_send(conn, WSX_MSG_KIND_TEXT, (const uint8_t *)"unix", 4));
        CHECK(poll_until(f.loop, &c.messages, WAIT_MS));
        CHECK(c.len == 4 && memcmp(c.data, "unix", 4) == 0);
        CHECK_OK(wsx_conn_close(conn, 1000, NULL));
        CHECK(poll_until(f.loop, &c.closes, WAIT_MS));
        CHECK(c.close_clean);
        wsx_conn_release(conn);
    }
    /* A URL naming a socket and the option naming one: refused. */
    wsx_conn *conn = NULL;
    recorder unused;
    memset(&unused, 0, sizeof unused);
    wsx_conn_callbacks ccb = rec_conn_callbacks(&unused);
    char url[128];
    snprintf(url, sizeof url, "ws+unix://%s", path);
    CHECK_OK(wsx_client_options_set_unix_socket_path(co, path));
    CHECK_RESULT(wsx_loop_connect(f.loop, url, co, &ccb, &conn), WSX_ERR_INVALID_ARGUMENT);
    CHECK(strstr(wsx_last_error_message(), "give one") != NULL);
    wsx_client_options_free(co);
    fixture_stop(&f);
    CHECK(access(path, F_OK) != 0 && errno == ENOENT); /* removed at close */
    CHECK(rmdir(dir) == 0);
}

/* Two servers with SO_REUSEPORT on one port (on one loop here: a listening
 * socket each, as two processes would have): the kernel spreads 16 clients
 * over both (odds of all on one: 2^-15), and each echoes. Without the
 * option, the port is refused (WSX_ERR_IO, saying to set it); with a Unix
 * socket, the option is refused at once. */
static void test_reuse_port(void) {
    enum { CLIENTS = 16 };
    fixture f;
    wsx_server_options *so = NULL;
    CHECK_OK(wsx_server_options_new(&so));
    CHECK_OK(wsx_server_options_set_reuse_port(so, true));
    fixture_start(&f, so, "/");
    f.server_rec.echo = 1;
    recorder second_rec;
    memset(&second_rec, 0, sizeof second_rec);
    second_rec.echo = 1;
    CHECK_OK(wsx_server_options_set_port(so, wsx_server_port(f.server)));
    wsx_server *second = start_server(f.loop, so, &second_rec);
    CHECK(wsx_server_port(second) == wsx_server_port(f.server));

    wsx_conn *conns[CLIENTS];
    recorder recs[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        memset(&recs[i], 0, sizeof recs[i]);
        conns[i] = connect_to(f.loop, f.url, NULL, &recs[i]);
        CHECK(poll_until(f.loop, &recs[i].opens, WAIT_MS));
        CHECK_OK(wsx_conn_send(conns[i], WSX_MSG_KIND_TEXT, (const uint8_t *)"hi", 2));
        CHECK(poll_until(f.loop, &recs[i].messages, WAIT_MS));
        CHECK(recs[i].len == 2 && memcmp(recs[i].data, "hi", 2) == 0);
    }
    CHECK(f.server_rec.opens + second_rec.opens == CLIENTS);
    CHECK(f.server_rec.opens > 0 && second_rec.opens > 0);
    for (int i = 0; i < CLIENTS; i++) wsx_conn_release(conns[i]);

    wsx_server *refused = NULL;
    recorder unused;
    memset(&unused, 0, sizeof unused);
    wsx_server_callbacks cb = rec_server_callbacks(&unused);
    CHECK_OK(wsx_server_options_set_reuse_port(so, false));
    CHECK_RESULT(wsx_loop_listen(f.loop, so, &cb, &refused), WSX_ERR_IO);
    CHECK(strstr(wsx_last_error_message(), "set reuse_port") != NULL);
    CHECK(refused == NULL);
    CHECK_OK(wsx_server_options_set_reuse_port(so, true));
    CHECK_RESULT(wsx_server_options_set_unix_socket(so, "/tmp/wsx-reuse-port.sock", false),
                 WSX_ERR_INVALID_ARGUMENT);
    CHECK(strstr(wsx_last_error_message(), "reuse_port") != NULL);
    wsx_server_options_free(so);

    CHECK_OK(wsx_server_shutdown(second, 1000));
    CHECK(poll_until(f.loop, &second_rec.shutdowns, WAIT_MS));
    wsx_server_free(second);
    fixture_stop(&f);
}

int main(void) {
    /* First, while its loop is the only one. */
    RUN(test_resolver_threads_end_with_the_last_loop);
    RUN(test_echo_round_trip);
    RUN(test_refused_connection);
    RUN(test_refusals);
    RUN(test_upgrade_argument_checks);
    RUN(test_per_connection_callbacks);
    RUN(test_free_and_stop_inside_callbacks);
    RUN(test_thread_mode_and_stop_from_another_thread);
    RUN(test_free_loop_inside_callback);
    RUN(test_free_loop_inside_callback_on_its_thread);
    RUN(test_backpressure);
    RUN(test_limits_and_streaming);
    RUN(test_compression_and_text_only);
    RUN(test_reading_paused);
    RUN(test_idle_timeout);
    RUN(test_handshake_timeout_is_named);
    RUN(test_server_shutdown_closes_with_1001);
    RUN(test_server_drain);
    RUN(test_tls);
    RUN(test_unix_socket);
    RUN(test_reuse_port);
    RUN(test_peer_reset_raises_no_sigpipe);
    RUN(test_app_resolver_happy_eyeballs);
    RUN(test_app_resolver_answers_later);
    RUN(test_app_resolver_failures);
    RUN(test_open_close_cycles);
    return summary("test_net");
}
