/*
 * What 0.2 added to the C API, on 127.0.0.1:
 *   - pull mode: the inbox option, on_readable, wsx_conn_recv copying into a
 *     caller's buffer in pieces (end_of_message, remaining), a zero-size
 *     peek, WSX_ERR_WOULD_BLOCK when empty, WSX_ERR_CLOSED once ended;
 *     wsx_conn_recv_timeout and wsx_conn_send_timeout from another thread
 *     (and refused inside a callback); on_writable after a would-block;
 *   - wsx_conn_close_info on both sides of a close;
 *   - wsx_conn_send_fragment: pieces arrive as one message (a character
 *     split between pieces), misuse refused when called; wsx_conn_abort:
 *     1006 from the transport on both sides, pending receives end;
 *   - the deferred upgrade decision (accept, accept_with, refuse, free = 500)
 *     and the deferred client attempt, decided from the test's thread.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>

#include "recorder.h"

#define WAIT_MS 20000 /* an upper bound only: valgrind on a loaded machine is slow */
#define BIG 10000

/* Waits (without polling: the loop runs on its thread) until *flag >= target. */
static void wait_for(volatile int *flag, int target) {
    long long deadline = now_ms() + WAIT_MS;
    struct timespec pause = {0, 1000000};
    while (*flag < target && now_ms() < deadline) nanosleep(&pause, NULL);
}

/* A pull-mode server connection: what on_readable saw. */
typedef struct puller {
    volatile int opens, readables, closes;
    wsx_conn *conn;
    wsx_result recv_in_callback;      /* wsx_conn_recv_timeout inside on_readable */
    wsx_result send_wait_in_callback; /* wsx_conn_send_timeout inside on_readable */
    volatile int pings;
    wsx_result recv_in_ping; /* a non-blocking wsx_conn_recv inside on_ping */
} puller;

static void pull_ping(void *ud, wsx_conn *conn, const wsx_ping *ping) {
    puller *p = ud;
    (void)ping;
    uint8_t buf[8];
    wsx_received got = {.struct_size = sizeof got};
    p->recv_in_ping = wsx_conn_recv(conn, buf, sizeof buf, &got);
    p->pings++;
}

static void pull_open(void *ud, wsx_conn *conn, const wsx_open *open) {
    puller *p = ud;
    (void)open;
    p->conn = wsx_conn_retain(conn);
    p->opens++;
}

static void pull_readable(void *ud, wsx_conn *conn) {
    puller *p = ud;
    uint8_t byte;
    wsx_received got = {.struct_size = sizeof got};
    if (p->readables == 0) {
        p->recv_in_callback = wsx_conn_recv_timeout(conn, &byte, 1, 10, &got);
        p->send_wait_in_callback = wsx_conn_send_timeout(conn, WSX_MSG_KIND_TEXT, &byte, 1, 0, 10);
    }
    p->readables++;
}

static void pull_close(void *ud, wsx_conn *conn, const wsx_close *close) {
    puller *p = ud;
    (void)conn;
    (void)close;
    p->closes++;
}

static wsx_server *start_puller(wsx_loop *loop, puller *p, wsx_conn_callbacks *conn_cb) {
    memset(p, 0, sizeof *p);
    wsx_server_options *so = NULL;
    CHECK_OK(wsx_server_options_new(&so));
    wsx_inbox_options inbox = {.struct_size = sizeof inbox};
    CHECK_OK(wsx_inbox_options_default(&inbox));
    wsx_defaults d = {.struct_size = sizeof d};
    CHECK_OK(wsx_defaults_get(&d));
    CHECK(inbox.high_messages == d.inbox_high_messages && inbox.low_bytes == d.inbox_low_bytes);
    CHECK_OK(wsx_conn_options_set_inbox(wsx_server_options_conn(so), &inbox));
    /* Pull mode takes whole messages: not with streaming. */
    CHECK_RESULT(wsx_conn_options_set_streaming(wsx_server_options_conn(so), true), WSX_ERR_INVALID_ARGUMENT);
    memset(conn_cb, 0, sizeof *conn_cb);
    conn_cb->struct_size = sizeof *conn_cb;
    conn_cb->user_data = p;
    conn_cb->on_open = pull_open;
    conn_cb->on_readable = pull_readable;
    conn_cb->on_close = pull_close;
    conn_cb->on_ping = pull_ping;
    wsx_server_callbacks scb = {.struct_size = sizeof scb, .conn = conn_cb};
    wsx_server *server = NULL;
    CHECK_OK(wsx_loop_listen(loop, so, &scb, &server));
    wsx_server_options_free(so);
    return server;
}

static void test_pull_mode_in_pieces_and_close_info(void) {
    wsx_loop *loop = NULL;
    CHECK_OK(wsx_loop_new(&loop));
    puller p;
    wsx_conn_callbacks conn_cb;
    wsx_server *server = start_puller(loop, &p, &conn_cb);
    char url[128];
    server_url(url, sizeof url, "ws", server, "/");
    recorder c;
    memset(&c, 0, sizeof c);
    wsx_conn *conn = connect_to(loop, url, NULL, &c);
    CHECK(poll_until(loop, &c.opens, WAIT_MS));
    CHECK(poll_until(loop, &p.opens, WAIT_MS));

    uint8_t buf[4096];
    wsx_received got = {.struct_size = sizeof got};
    CHECK_RESULT(wsx_conn_recv(p.conn, buf, sizeof buf, &got), WSX_ERR_WOULD_BLOCK);
    /* A push-mode connection has no inbox. */
    CHECK_RESULT(wsx_conn_recv(conn, buf, sizeof buf, &got), WSX_ERR_INVALID_ARGUMENT);
    CHECK_RESULT(wsx_conn_close_info(conn, NULL), WSX_ERR_NULL);
    wsx_close_info info = {.struct_size = sizeof info};
    CHECK_RESULT(wsx_conn_close_info(conn, &info), WSX_ERR_STATE); /* not ended */

    static uint8_t big[BIG];
    for (size_t i = 0; i < BIG; i++) big[i] = (uint8_t)(i * 7 + 3);
    CHECK_OK(wsx_conn_send(conn, WSX_MSG_KIND_TEXT, (const uint8_t *)"hello", 5));
    CHECK_OK(wsx_conn_send_ex(conn, WSX_MSG_KIND_BINARY, big, BIG, WSX_SEND_NO_COMPRESS));
    CHECK_OK(wsx_conn_send(conn, WSX_MSG_KIND_TEXT, NULL, 0));
    CHECK(poll_until(loop, &p.readables, WAIT_MS));
    long long deadline = now_ms() + WAIT_MS;
    while (wsx_conn_inbox_len(p.conn) < 3 && now_ms() < deadline) wsx_loop_poll(loop, 10);
    CHECK(wsx_conn_inbox_len(p.conn) == 3);
    CHECK(p.readables == 1); /* once for the empty inbox, not per message */
    CHECK(p.recv_in_callback == WSX_ERR_STATE && p.send_wait_in_callback == WSX_ERR_STATE);

    CHECK_OK(wsx_conn_recv(p.conn, buf, sizeof buf, &got));
    CHECK(got.kind == WSX_MSG_KIND_TEXT && got.len == 5 && got.end_of_message && got.remaining == 0);
    CHECK(memcmp(buf, "hello", 5) == 0 && got.struct_size == sizeof got);
    /* A zero-size read tells the next message's kind and size, taking nothing. */
    CHECK_OK(wsx_conn_recv(p.conn, NULL, 0, &got));
    CHECK(got.kind == WSX_MSG_KIND_BINARY && got.len == 0 && !got.end_of_message && got.remaining == BIG);
    CHECK_RESULT(wsx_conn_recv(p.conn, NULL, 1, &got), WSX_ERR_NULL);
    /* The binary message in pieces of the buffer's size. */
    static uint8_t whole[BIG];
    size_t at = 0;
    int pieces = 0;
    do {
        CHECK_OK(wsx_conn_recv(p.conn, buf, sizeof buf, &got));
        CHECK(got.kind == WSX_MSG_KIND_BINARY && at + got.len <= BIG);
        if (at + got.len > BIG) break;
        memcpy(whole + at, buf, got.len);
        at += got.len;
        pieces++;
        CHECK(got.remaining == BIG - at && got.end_of_message == (at == BIG));
    } while (!got.end_of_message && pieces < 10);
    CHECK(pieces == 3 && at == BIG && memcmp(whole, big, BIG) == 0);
    /* The empty message. */
    CHECK_OK(wsx_conn_recv(p.conn, buf, sizeof buf, &got));
    CHECK(got.kind == WSX_MSG_KIND_TEXT && got.len == 0 && got.end_of_message);
    CHECK_RESULT(wsx_conn_recv(p.conn, buf, sizeof buf, &got), WSX_ERR_WOULD_BLOCK);
    wsx_received unsized = {0};
    CHECK_RESULT(wsx_conn_recv(p.conn, buf, sizeof buf, &unsized), WSX_ERR_INVALID_ARGUMENT);

    /* The next message after the inbox was found empty: on_readable again. */
    CHECK_OK(wsx_conn_send(conn, WSX_MSG_KIND_TEXT, (const uint8_t *)"again", 5));
    CHECK(poll_until_count(loop, &p.readables, 2, WAIT_MS));
    /* The client closes; what arrived before is still taken, then the end. */
    CHECK_OK(wsx_conn_close(conn, 1000, "bye"));
    CHECK(poll_until(loop, &c.closes, WAIT_MS));
    CHECK(poll_until(loop, &p.closes, WAIT_MS));
    /* A bad `out` is refused before the message is taken: nothing is lost. */
    CHECK_RESULT(wsx_conn_recv(p.conn, buf, sizeof buf, &unsized), WSX_ERR_INVALID_ARGUMENT);
    CHECK_RESULT(wsx_conn_recv(p.conn, buf, sizeof buf, NULL), WSX_ERR_NULL);
    CHECK_OK(wsx_conn_recv(p.conn, buf, sizeof buf, &got));
    CHECK(got.len == 5 && memcmp(buf, "again", 5) == 0);
    CHECK_RESULT(wsx_conn_recv(p.conn, buf, sizeof buf, &got), WSX_ERR_CLOSED);

    /* How it ended, on each side. */
    CHECK_OK(wsx_conn_close_info(conn, &info));
    CHECK(info.code == 1000 && info.reason_len == strlen(info.reason));
    CHECK(info.clean && info.normal && info.origin == WSX_CLOSE_ORIGIN_LOCAL);
    CHECK(info.sent_code == 1000 && strcmp(info.sent_reason, "bye") == 0);
    CHECK(info.rcvd_code == 1000);
    wsx_close_info theirs = {.struct_size = sizeof theirs};
    CHECK_OK(wsx_conn_close_info(p.conn, &theirs));
    CHECK(theirs.origin == WSX_CLOSE_ORIGIN_REMOTE && theirs.clean && theirs.normal);
    CHECK(theirs.rcvd_code == 1000 && theirs.rcvd_reason_len == 3 && strcmp(theirs.rcvd_reason, "bye") == 0);
    /* An older program's shorter struct: only up to `code`. */
    wsx_close_info shorter;
    memset(&shorter, 0xA5, sizeof shorter);
    shorter.struct_size = offsetof(wsx_close_info, reason);
    CHECK_OK(wsx_conn_close_info(p.conn, &shorter));
    CHECK(shorter.code == 1000 && shorter.reason_len != 3);
    /* The close event says the same. */
    CHECK(c.close_code == 1000 && c.close_origin == WSX_CLOSE_ORIGIN_LOCAL && c.close_normal);

    wsx_conn_release(p.conn);
    wsx_conn_release(conn);
    wsx_server_free(server);
    wsx_loop_free(loop);
}

/* A thread that waits for a message with wsx_conn_recv_timeout. */
typedef struct waiter {
    wsx_conn *conn;
    int timeout_ms;
    wsx_result result;
    wsx_received got;
    char text[32];
} waiter;

static void *wait_for_message(void *arg) {
    waiter *w = arg;
    w->got.struct_size = sizeof w->got;
    w->result = wsx_conn_recv_timeout(w->conn, (uint8_t *)w->text, sizeof w->text - 1, w->timeout_ms, &w->got);
    return NULL;
}

static void test_blocking_receive_and_send_from_another_thread(void) {
    wsx_loop *loop = NULL;
    CHECK_OK(wsx_loop_new(&loop));
    puller p;
    wsx_conn_callbacks conn_cb;
    wsx_server *server = start_puller(loop, &p, &conn_cb);
    char url[128];
    server_url(url, sizeof url, "ws", server, "/");
    recorder c;
    memset(&c, 0, sizeof c);
    /* A small send queue, so sends past it wait. */
    wsx_client_options *co = NULL;
    CHECK_OK(wsx_client_options_new(&co));
    CHECK_OK(wsx_conn_options_set_backpressure(wsx_client_options_conn(co), 2048, 512));
    wsx_conn *conn = connect_to(loop, url, co, &c);
    wsx_client_options_free(co);
    CHECK_OK(wsx_loop_start_thread(loop));
    wait_for(&c.opens, 1);
    wait_for(&p.opens, 1);
    CHECK(c.opens == 1 && p.opens == 1);

    /* Nothing comes: a timeout. */
    waiter w = {.conn = p.conn, .timeout_ms = 50};
    wait_for_message(&w);
    CHECK(w.result == WSX_ERR_TIMEOUT);
    /* A message while a thread waits for it. Meanwhile a callback on the
     * loop's thread receives without waiting: it must not wait for the
     * waiting thread (which needs the loop to get its message). */
    w.timeout_ms = WAIT_MS;
    pthread_t thread;
    CHECK(pthread_create(&thread, NULL, wait_for_message, &w) == 0);
    struct timespec settle = {0, 50 * 1000 * 1000};
    nanosleep(&settle, NULL);
    CHECK_OK(wsx_conn_ping(conn, NULL, 0));
    wait_for(&p.pings, 1);
    CHECK(p.pings == 1 && p.recv_in_ping == WSX_ERR_WOULD_BLOCK);
    CHECK_OK(wsx_conn_send(conn, WSX_MSG_KIND_TEXT, (const uint8_t *)"waited", 6));
    pthread_join(thread, NULL);
    CHECK(w.result == WSX_OK && w.got.len == 6 && w.got.end_of_message && memcmp(w.text, "waited", 6) == 0);

    /* Sends past the high-water mark wait for room, each one succeeding;
     * the non-waiting send reports would-block and on_writable follows. */
    static uint8_t chunk[1500];
    memset(chunk, 'x', sizeof chunk);
    int sent = 0, would_block = 0;
    for (int i = 0; i < 40; i++) {
        if (wsx_conn_send_timeout(conn, WSX_MSG_KIND_BINARY, chunk, sizeof chunk, 0, WAIT_MS) == WSX_OK) sent++;
        /* the server takes what came, so the client's queue drains */
        wsx_received got = {.struct_size = sizeof got};
        uint8_t buf[2048];
        while (wsx_conn_recv(p.conn, buf, sizeof buf, &got) == WSX_OK) {
        }
    }
    CHECK(sent == 40);
    CHECK_RESULT(wsx_conn_send_timeout(conn, (wsx_msg_kind)9, chunk, 1, 0, 10), WSX_ERR_INVALID_ARGUMENT);
    CHECK_RESULT(wsx_conn_send_timeout(conn, WSX_MSG_KIND_TEXT, (const uint8_t *)"x", 1, 0x80, 10),
                 WSX_ERR_INVALID_ARGUMENT);
    for (int i = 0; i < 200 && !would_block; i++) {
        wsx_result r = wsx_conn_send(conn, WSX_MSG_KIND_BINARY, chunk, sizeof chunk);
        if (r == WSX_ERR_WOULD_BLOCK) would_block = 1;
    }
    CHECK(would_block);
    /* The server reads everything: the queue drains, on_writable runs. */
    long long deadline = now_ms() + WAIT_MS;
    while (c.writables == 0 && now_ms() < deadline) {
        wsx_received got = {.struct_size = sizeof got};
        uint8_t buf[2048];
        while (wsx_conn_recv(p.conn, buf, sizeof buf, &got) == WSX_OK) {
        }
        struct timespec ts = {0, 2 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    CHECK(c.writables >= 1);

    /* With the server not reading, the socket buffers fill: a waiting send
     * times out. */
    CHECK_OK(wsx_conn_set_reading_paused(p.conn, true));
    static uint8_t mib[1 << 20];
    wsx_result timed_out = WSX_OK;
    for (int i = 0; i < 256 && timed_out == WSX_OK; i++) {
        timed_out = wsx_conn_send_timeout(conn, WSX_MSG_KIND_BINARY, mib, sizeof mib, 0, 100);
    }
    CHECK(timed_out == WSX_ERR_TIMEOUT);
    CHECK(wsx_conn_buffered_amount(conn) > 0);
    CHECK_OK(wsx_conn_set_reading_paused(p.conn, false));

    CHECK_OK(wsx_conn_close(conn, 1000, NULL));
    wait_for(&c.closes, 1);
    wsx_conn_release(p.conn);
    wsx_conn_release(conn);
    wsx_server_free(server);
    wsx_loop_free(loop);
}

/* Deferred upgrade decisions: the callback defers, the test decides later. */
typedef struct decider {
    volatile int upgrades;
    wsx_pending_upgrade *pending;
    wsx_result second_defer;
} decider;

static void defer_upgrade(void *ud, wsx_upgrade *upgrade, const wsx_request *request) {
    decider *d = ud;
    (void)request;
    d->upgrades++;
    wsx_upgrade_add_header(upgrade, "X-Kept", "from-callback");
    if (wsx_upgrade_defer(upgrade, &d->pending) != WSX_OK) d->pending = NULL;
    wsx_pending_upgrade *again = NULL;
    d->second_defer = wsx_upgrade_defer(upgrade, &again);
}

static void test_deferred_upgrade(void) {
    wsx_loop *loop = NULL;
    CHECK_OK(wsx_loop_new(&loop));
    decider d;
    memset(&d, 0, sizeof d);
    recorder srv;
    memset(&srv, 0, sizeof srv);
    wsx_server_callbacks scb = rec_server_callbacks(&srv);
    /* The server's own callbacks get the decider: only on_upgrade is set. */
    scb.user_data = &d;
    scb.free_user_data = NULL;
    scb.on_shutdown = NULL;
    scb.on_server_error = NULL;
    scb.on_upgrade = defer_upgrade;
    wsx_server *server = NULL;
    CHECK_OK(wsx_loop_listen(loop, NULL, &scb, &server));
    char url[128];
    server_url(url, sizeof url, "ws", server, "/");
    CHECK_RESULT(wsx_upgrade_defer(NULL, &d.pending), WSX_ERR_NULL);

    /* 1. accept_with: a subprotocol and a header chosen later. */
    recorder a;
    memset(&a, 0, sizeof a);
    a.header_name = "X-Later";
    wsx_conn *ca = connect_to(loop, url, NULL, &a);
    CHECK(poll_until(loop, &d.upgrades, WAIT_MS));
    CHECK(d.pending != NULL && d.second_defer == WSX_ERR_STATE);
    for (int i = 0; i < 5; i++) wsx_loop_poll(loop, 10);
    CHECK(a.opens == 0); /* waits for the decision */
    wsx_header headers[] = {{"X-Later", "yes"}};
    wsx_header bad[] = {{"X Bad", "1"}};
    CHECK_RESULT(wsx_pending_upgrade_accept_with(d.pending, NULL, bad, 1), WSX_ERR_INVALID_ARGUMENT);
    CHECK_OK(wsx_pending_upgrade_accept_with(d.pending, NULL, headers, 1));
    CHECK_RESULT(wsx_pending_upgrade_accept(d.pending), WSX_ERR_STATE); /* decided already */
    wsx_pending_upgrade_free(d.pending);
    CHECK(poll_until(loop, &a.opens, WAIT_MS));
    CHECK(strcmp(a.header_value, "yes") == 0);

    /* 2. accept: with what the callback set (its header). */
    recorder b;
    memset(&b, 0, sizeof b);
    b.header_name = "X-Kept";
    d.pending = NULL;
    wsx_conn *cb = connect_to(loop, url, NULL, &b);
    CHECK(poll_until_count(loop, &d.upgrades, 2, WAIT_MS));
    CHECK_OK(wsx_pending_upgrade_accept(d.pending));
    wsx_pending_upgrade_free(d.pending);
    CHECK(poll_until(loop, &b.opens, WAIT_MS));
    CHECK(strcmp(b.header_value, "from-callback") == 0);
    CHECK(poll_until_count(loop, &srv.opens, 2, WAIT_MS));

    /* 3. refuse, with a header. */
    recorder r;
    memset(&r, 0, sizeof r);
    r.header_name = "WWW-Authenticate";
    d.pending = NULL;
    wsx_conn *cr = connect_to(loop, url, NULL, &r);
    CHECK(poll_until_count(loop, &d.upgrades, 3, WAIT_MS));
    wsx_header auth[] = {{"WWW-Authenticate", "Bearer"}};
    CHECK_RESULT(wsx_pending_upgrade_refuse(d.pending, 200, "no", NULL, 0), WSX_ERR_INVALID_ARGUMENT);
    CHECK_OK(wsx_pending_upgrade_refuse(d.pending, 401, "who are you", auth, 1));
    wsx_pending_upgrade_free(d.pending);
    CHECK(poll_until(loop, &r.closes, WAIT_MS));
    CHECK(r.opens == 0 && r.error_code == WSX_ERR_HANDSHAKE && r.http_status == 401);
    /* The client sees the whole refusal: its headers and its body. */
    CHECK(strcmp(r.error_header, "Bearer") == 0);
    CHECK(strstr(r.error_body, "who are you") != NULL);
    CHECK(r.error_timeout == WSX_TIMEOUT_NONE && r.error_os == 0);

    /* 4. freed undecided: 500. */
    recorder u;
    memset(&u, 0, sizeof u);
    d.pending = NULL;
    wsx_conn *cu = connect_to(loop, url, NULL, &u);
    CHECK(poll_until_count(loop, &d.upgrades, 4, WAIT_MS));
    wsx_pending_upgrade_free(d.pending);
    wsx_pending_upgrade_free(NULL);
    CHECK(poll_until(loop, &u.closes, WAIT_MS));
    CHECK(u.opens == 0 && u.http_status == 500);
    CHECK_RESULT(wsx_pending_upgrade_accept(NULL), WSX_ERR_NULL);

    wsx_conn_release(ca);
    wsx_conn_release(cb);
    wsx_conn_release(cr);
    wsx_conn_release(cu);
    wsx_server_free(server);
    wsx_loop_free(loop);
}

/* A client attempt deferred by on_before_connect, proceeded by the test. */
typedef struct late_client {
    recorder rec;
    wsx_pending_attempt *pending;
    volatile int befores;
} late_client;

static void defer_attempt(void *ud, wsx_conn *conn, wsx_attempt *attempt) {
    late_client *l = ud;
    (void)conn;
    l->befores++;
    if (wsx_attempt_defer(attempt, &l->pending) != WSX_OK) l->pending = NULL;
}

static void test_deferred_attempt(void) {
    wsx_loop *loop = NULL;
    CHECK_OK(wsx_loop_new(&loop));
    recorder s;
    memset(&s, 0, sizeof s);
    s.header_name = "Authorization";
    wsx_server *server = start_server(loop, NULL, &s);
    char url[128];
    server_url(url, sizeof url, "ws", server, "/");

    late_client l;
    memset(&l, 0, sizeof l);
    wsx_conn_callbacks cb = rec_conn_callbacks(&l.rec);
    cb.user_data = &l;
    cb.on_before_connect = defer_attempt;
    wsx_conn *conn = NULL;
    CHECK_OK(wsx_loop_connect(loop, url, NULL, &cb, &conn));
    CHECK(poll_until(loop, &l.befores, WAIT_MS));
    CHECK(l.pending != NULL);
    for (int i = 0; i < 5; i++) wsx_loop_poll(loop, 10);
    CHECK(s.upgrades == 0); /* nothing sent before it proceeds */
    wsx_header token[] = {{"Authorization", "Bearer late"}};
    CHECK_OK(wsx_pending_attempt_proceed(l.pending, token, 1));
    CHECK_RESULT(wsx_pending_attempt_proceed(l.pending, NULL, 0), WSX_ERR_STATE);
    wsx_pending_attempt_free(l.pending);
    wsx_pending_attempt_free(NULL);
    CHECK_RESULT(wsx_pending_attempt_proceed(NULL, NULL, 0), WSX_ERR_NULL);
    CHECK_RESULT(wsx_attempt_defer(NULL, &l.pending), WSX_ERR_NULL);
    CHECK(poll_until(loop, &l.rec.opens, WAIT_MS));
    CHECK(strcmp(s.request_header_value, "Bearer late") == 0);
    wsx_conn_release(conn);
    wsx_server_free(server);
    wsx_loop_free(loop);
    CHECK(l.rec.frees == 1);
}

/* Fragments arrive as one message; misuse is refused when called, not
 * dropped later. Then an abort: 1006 from the transport on both sides. */
static void test_fragments_and_abort(void) {
    wsx_loop *loop = NULL;
    CHECK_OK(wsx_loop_new(&loop));
    puller p;
    wsx_conn_callbacks conn_cb;
    wsx_server *server = start_puller(loop, &p, &conn_cb);
    char url[128];
    server_url(url, sizeof url, "ws", server, "/");
    recorder c;
    memset(&c, 0, sizeof c);
    wsx_conn *conn = connect_to(loop, url, NULL, &c);
    CHECK(poll_until(loop, &c.opens, WAIT_MS));
    CHECK(poll_until(loop, &p.opens, WAIT_MS));

    const uint8_t *text = (const uint8_t *)"caf\xc3\xa9 \xe2\x82\xac!"; /* "café €!" */
    size_t text_len = strlen((const char *)text);
    CHECK_OK(wsx_conn_send_fragment(conn, WSX_MSG_KIND_TEXT, text, 4, false)); /* "caf" + half of é */
    CHECK_RESULT(wsx_conn_send(conn, WSX_MSG_KIND_TEXT, (const uint8_t *)"x", 1), WSX_ERR_INVALID_ARGUMENT);
    CHECK_RESULT(wsx_conn_send_fragment(conn, WSX_MSG_KIND_BINARY, (const uint8_t *)"x", 1, true),
                 WSX_ERR_INVALID_ARGUMENT);
    CHECK_RESULT(wsx_conn_send_fragment(conn, WSX_MSG_KIND_TEXT, (const uint8_t *)"\xff", 1, false),
                 WSX_ERR_INVALID_ARGUMENT);
    CHECK_RESULT(wsx_conn_send_fragment_ex(conn, WSX_MSG_KIND_TEXT, NULL, 0, false, 0x80), WSX_ERR_INVALID_ARGUMENT);
    CHECK_OK(wsx_conn_send_fragment(conn, WSX_MSG_KIND_TEXT, text + 4, 3, false));
    CHECK_OK(wsx_conn_send_fragment(conn, WSX_MSG_KIND_TEXT, NULL, 0, false));
    CHECK_OK(wsx_conn_send_fragment(conn, WSX_MSG_KIND_TEXT, text + 7, text_len - 7, true));
    /* Closed again: a whole message, then binary in pieces without compression. */
    CHECK_OK(wsx_conn_send(conn, WSX_MSG_KIND_TEXT, (const uint8_t *)"whole", 5));
    CHECK_OK(wsx_conn_send_fragment_ex(conn, WSX_MSG_KIND_BINARY, (const uint8_t *)"\x01", 1, false,
                                       WSX_SEND_NO_COMPRESS));
    CHECK_OK(wsx_conn_send_fragment(conn, WSX_MSG_KIND_BINARY, (const uint8_t *)"\x02", 1, true));
    long long deadline = now_ms() + WAIT_MS;
    while (wsx_conn_inbox_len(p.conn) < 3 && now_ms() < deadline) wsx_loop_poll(loop, 10);
    uint8_t buf[64];
    wsx_received got = {.struct_size = sizeof got};
    CHECK_OK(wsx_conn_recv(p.conn, buf, sizeof buf, &got));
    CHECK(got.kind == WSX_MSG_KIND_TEXT && got.len == text_len && memcmp(buf, text, text_len) == 0);
    CHECK_OK(wsx_conn_recv(p.conn, buf, sizeof buf, &got));
    CHECK(got.len == 5 && memcmp(buf, "whole", 5) == 0);
    CHECK_OK(wsx_conn_recv(p.conn, buf, sizeof buf, &got));
    CHECK(got.kind == WSX_MSG_KIND_BINARY && got.len == 2 && buf[0] == 1 && buf[1] == 2);
    /* The last piece may not end inside a character. */
    CHECK_OK(wsx_conn_send_fragment(conn, WSX_MSG_KIND_TEXT, (const uint8_t *)"\xe2\x82", 2, false));
    CHECK_RESULT(wsx_conn_send_fragment(conn, WSX_MSG_KIND_TEXT, NULL, 0, true), WSX_ERR_INVALID_ARGUMENT);

    /* Abort: no close handshake, 1006 on both sides. */
    CHECK_OK(wsx_conn_abort(conn));
    CHECK(poll_until(loop, &c.closes, WAIT_MS));
    CHECK(poll_until(loop, &p.closes, WAIT_MS));
    CHECK(c.close_code == 1006 && c.close_origin == WSX_CLOSE_ORIGIN_TRANSPORT && !c.close_normal);
    wsx_close_info theirs = {.struct_size = sizeof theirs};
    CHECK_OK(wsx_conn_close_info(p.conn, &theirs));
    CHECK(theirs.code == 1006 && theirs.origin == WSX_CLOSE_ORIGIN_TRANSPORT && !theirs.clean);
    CHECK_RESULT(wsx_conn_recv(p.conn, buf, sizeof buf, &got), WSX_ERR_CLOSED);
    CHECK_RESULT(wsx_conn_abort(conn), WSX_ERR_CLOSED);
    CHECK_RESULT(wsx_conn_abort(NULL), WSX_ERR_NULL);
    CHECK_RESULT(wsx_conn_send_fragment(conn, WSX_MSG_KIND_TEXT, (const uint8_t *)"a", 1, true), WSX_ERR_CLOSED);

    wsx_conn_release(p.conn);
    wsx_conn_release(conn);
    wsx_server_free(server);
    wsx_loop_free(loop);
}

int main(void) {
    RUN(test_pull_mode_in_pieces_and_close_info);
    RUN(test_fragments_and_abort);
    RUN(test_blocking_receive_and_send_from_another_thread);
    RUN(test_deferred_upgrade);
    RUN(test_deferred_attempt);
    return summary("test_pull");
}
