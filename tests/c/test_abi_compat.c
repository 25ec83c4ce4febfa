/*
 * The extensible-struct rule (struct_size first, read as min(theirs, ours)):
 *   - a program compiled against an OLDER, shorter wsx_conn_callbacks (the
 *     struct below, a prefix of today's) still runs: the library reads only
 *     its bytes, even with garbage right after them, where today's struct
 *     has on_ping, on_pong, ... (a ping and a pong then reach the connection:
 *     reading those garbage pointers would crash);
 *   - a zero-filled struct with only struct_size and one callback set works,
 *     for a client's and a server's callbacks;
 *   - a NEWER program's longer struct is accepted (the extra bytes ignored);
 *   - struct_size 0, or too small for the first field, is refused with a
 *     message, and nothing of the struct is taken (its free_user_data does
 *     not run).
 */
#define _POSIX_C_SOURCE 200809L
#include "recorder.h"

#define WAIT_MS 20000 /* an upper bound only: valgrind on a loaded machine is slow */

/* wsx_conn_callbacks as an older header could have declared it: the fields
 * up to on_close, nothing after. The program below knows only this. */
typedef struct old_conn_callbacks {
    size_t struct_size;
    void *user_data;
    wsx_free_user_data free_user_data;
    wsx_on_open on_open;
    wsx_on_message on_message;
    wsx_on_error on_error;
    wsx_on_close on_close;
} old_conn_callbacks;

/* The old struct is a prefix of today's, field for field. */
_Static_assert(offsetof(old_conn_callbacks, on_close) == offsetof(wsx_conn_callbacks, on_close),
               "old_conn_callbacks is a prefix of wsx_conn_callbacks");
_Static_assert(sizeof(old_conn_callbacks) < sizeof(wsx_conn_callbacks), "the old struct is shorter");

static void test_an_older_shorter_struct_still_works(void) {
    wsx_loop *loop = NULL;
    CHECK_OK(wsx_loop_new(&loop));
    recorder s;
    memset(&s, 0, sizeof s);
    s.echo = 1;
    wsx_server *server = start_server(loop, NULL, &s);
    char url[128];
    server_url(url, sizeof url, "ws", server, "/");

    /* The old struct sits in a buffer the size of today's struct, the bytes
     * after it garbage: non-NULL "function pointers" where today's on_ping,
     * on_pong, on_writable, on_readable, ... are. */
    union {
        wsx_conn_callbacks today;
        unsigned char bytes[sizeof(wsx_conn_callbacks)];
    } buffer;
    memset(buffer.bytes, 0xA5, sizeof buffer.bytes);
    recorder c;
    memset(&c, 0, sizeof c);
    old_conn_callbacks old;
    memset(&old, 0, sizeof old);
    old.struct_size = sizeof old;
    old.user_data = &c;
    old.free_user_data = rec_free;
    old.on_open = rec_open;
    old.on_message = rec_message;
    old.on_error = rec_error;
    old.on_close = rec_close;
    memcpy(buffer.bytes, &old, sizeof old);

    wsx_conn *conn = NULL;
    CHECK_OK(wsx_loop_connect(loop, url, NULL, &buffer.today, &conn));
    CHECK(poll_until(loop, &c.opens, WAIT_MS));
    CHECK_OK(wsx_conn_send(conn, WSX_MSG_KIND_TEXT, (const uint8_t *)"old", 3));
    CHECK(poll_until(loop, &c.messages, WAIT_MS));
    CHECK(c.len == 3 && memcmp(c.data, "old", 3) == 0);
    /* A ping each way: the client gets a ping (on_ping lies past its size)
     * and a pong (on_pong too). */
    CHECK(poll_until(loop, &s.opens, WAIT_MS));
    CHECK_OK(wsx_conn_ping(s.conn, (const uint8_t *)"p", 1));
    CHECK_OK(wsx_conn_ping(conn, (const uint8_t *)"q", 1));
    CHECK(poll_until(loop, &s.pings, WAIT_MS));
    CHECK(poll_until(loop, &s.pongs, WAIT_MS));
    CHECK_OK(wsx_conn_close(conn, 1000, "done"));
    CHECK(poll_until(loop, &c.closes, WAIT_MS));
    CHECK(c.close_code == 1000 && c.errors == 0);
    wsx_conn_release(conn);
    wsx_server_free(server);
    wsx_loop_free(loop);
    CHECK(c.frees == 1);
}

static volatile int zero_messages;
static char zero_text[16];

static void zero_on_message(void *ud, wsx_conn *conn, const wsx_message *msg) {
    (void)ud;
    (void)conn;
    snprintf(zero_text, sizeof zero_text, "%.*s", (int)msg->len, (const char *)msg->data);
    zero_messages++;
}

static void echo_on_message(void *ud, wsx_conn *conn, const wsx_message *msg) {
    (void)ud;
    wsx_conn_send(conn, msg->kind, msg->data, msg->len);
}

static void test_zero_filled_structs_with_one_callback(void) {
    wsx_loop *loop = NULL;
    CHECK_OK(wsx_loop_new(&loop));
    /* A server: only struct_size and the connections' callbacks, which have
     * only struct_size and on_message. */
    wsx_conn_callbacks echo = {0};
    echo.struct_size = sizeof echo;
    echo.on_message = echo_on_message;
    wsx_server_callbacks scb = {0};
    scb.struct_size = sizeof scb;
    scb.conn = &echo;
    wsx_server *server = NULL;
    CHECK_OK(wsx_loop_listen(loop, NULL, &scb, &server));
    char url[128];
    server_url(url, sizeof url, "ws", server, "/");

    /* A client: only struct_size and on_message. */
    wsx_conn_callbacks cb = {0};
    cb.struct_size = sizeof cb;
    cb.on_message = zero_on_message;
    wsx_conn *conn = NULL;
    CHECK_OK(wsx_loop_connect(loop, url, NULL, &cb, &conn));
    long long deadline = now_ms() + WAIT_MS;
    while (wsx_conn_state(conn) != WSX_STATE_OPEN && now_ms() < deadline) wsx_loop_poll(loop, 10);
    CHECK(wsx_conn_state(conn) == WSX_STATE_OPEN);
    CHECK_OK(wsx_conn_send(conn, WSX_MSG_KIND_TEXT, (const uint8_t *)"zero", 4));
    CHECK(poll_until(loop, &zero_messages, WAIT_MS));
    CHECK(strcmp(zero_text, "zero") == 0);
    wsx_conn_release(conn);
    wsx_server_free(server);
    wsx_loop_free(loop);
}

/* A struct as a newer header could declare it: today's, then more fields. */
typedef struct newer_conn_callbacks {
    wsx_conn_callbacks today;
    void *on_something_new;
    uint64_t more;
} newer_conn_callbacks;

static void test_a_newer_longer_struct_is_accepted(void) {
    wsx_loop *loop = NULL;
    CHECK_OK(wsx_loop_new(&loop));
    recorder s;
    memset(&s, 0, sizeof s);
    s.echo = 1;
    wsx_server *server = start_server(loop, NULL, &s);
    char url[128];
    server_url(url, sizeof url, "ws", server, "/");
    recorder c;
    memset(&c, 0, sizeof c);
    newer_conn_callbacks newer;
    memset(&newer, 0xA5, sizeof newer);
    newer.today = rec_conn_callbacks(&c);
    newer.today.struct_size = sizeof newer;
    wsx_conn *conn = NULL;
    CHECK_OK(wsx_loop_connect(loop, url, NULL, &newer.today, &conn));
    CHECK(poll_until(loop, &c.opens, WAIT_MS));
    CHECK_OK(wsx_conn_send(conn, WSX_MSG_KIND_BINARY, (const uint8_t *)"new", 3));
    CHECK(poll_until(loop, &c.messages, WAIT_MS));
    CHECK(c.kind == WSX_MSG_KIND_BINARY);
    wsx_conn_release(conn);
    wsx_server_free(server);
    wsx_loop_free(loop);
    CHECK(c.frees == 1);
}

static void test_a_missing_or_short_size_is_refused(void) {
    wsx_loop *loop = NULL;
    CHECK_OK(wsx_loop_new(&loop));
    recorder r;
    memset(&r, 0, sizeof r);
    wsx_conn_callbacks cb = rec_conn_callbacks(&r);
    wsx_conn *conn = NULL;

    cb.struct_size = 0;
    CHECK_RESULT(wsx_loop_connect(loop, "ws://127.0.0.1:1/", NULL, &cb, &conn), WSX_ERR_INVALID_ARGUMENT);
    CHECK(strstr(wsx_last_error_message(), "callbacks->struct_size is 0") != NULL);
    CHECK(strstr(wsx_last_error_message(), "sizeof(wsx_conn_callbacks)") != NULL);
    cb.struct_size = sizeof(size_t); /* not even user_data */
    CHECK_RESULT(wsx_loop_connect(loop, "ws://127.0.0.1:1/", NULL, &cb, &conn), WSX_ERR_INVALID_ARGUMENT);
    CHECK(strstr(wsx_last_error_message(), "below the smallest wsx_conn_callbacks") != NULL);
    CHECK(conn == NULL);
    CHECK(r.frees == 0); /* a refused struct is not taken */

    wsx_server_callbacks scb = rec_server_callbacks(&r);
    wsx_server *server = NULL;
    scb.struct_size = 0;
    CHECK_RESULT(wsx_loop_listen(loop, NULL, &scb, &server), WSX_ERR_INVALID_ARGUMENT);
    CHECK(strstr(wsx_last_error_message(), "wsx_server_callbacks") != NULL);
    /* The embedded connection callbacks are checked too. */
    scb.struct_size = sizeof scb;
    r.server_conn_callbacks.struct_size = 0;
    CHECK_RESULT(wsx_loop_listen(loop, NULL, &scb, &server), WSX_ERR_INVALID_ARGUMENT);
    CHECK(strstr(wsx_last_error_message(), "callbacks->conn->struct_size is 0") != NULL);
    CHECK(r.frees == 1); /* the server's struct was taken, then released */
    CHECK(server == NULL);

    wsx_client_options *o = NULL;
    CHECK_OK(wsx_client_options_new(&o));
    wsx_deflate_options deflate;
    memset(&deflate, 0, sizeof deflate);
    CHECK_RESULT(wsx_conn_options_set_compression(wsx_client_options_conn(o), &deflate), WSX_ERR_INVALID_ARGUMENT);
    CHECK(strstr(wsx_last_error_message(), "deflate->struct_size is 0") != NULL);
    /* A deflate struct that knows only its threshold: the rest are defaults. */
    deflate.struct_size = offsetof(wsx_deflate_options, level);
    deflate.threshold = 1;
    deflate.level = 99; /* past its size: never read */
    CHECK_OK(wsx_conn_options_set_compression(wsx_client_options_conn(o), &deflate));
    wsx_client_options_free(o);

    wsx_live_objects live;
    memset(&live, 0, sizeof live);
    CHECK_RESULT(wsx_debug_live_objects(&live), WSX_ERR_INVALID_ARGUMENT);
    live.struct_size = sizeof live;
    CHECK_OK(wsx_debug_live_objects(&live));
    CHECK(live.loops >= 1 && live.struct_size == sizeof live);
    wsx_loop_free(loop);
}

int main(void) {
    RUN(test_an_older_shorter_struct_still_works);
    RUN(test_zero_filled_structs_with_one_callback);
    RUN(test_a_newer_longer_struct_is_accepted);
    RUN(test_a_missing_or_short_size_is_refused);
    return summary("test_abi_compat");
}
