/*
 * test_engine: the bring-your-own-I/O API (wsx_engine, wsx_tls) and the
 * injection points (wsx_allocator_set, wsx_random_set), in memory: a client
 * engine and a server engine exchange bytes through the test, plain and
 * through a pair of wsx_tls sessions (certificates from WSX_TEST_CERT,
 * WSX_TEST_KEY, WSX_TEST_CA; the TLS part is skipped without them). Every
 * allocation of the library goes through a counting allocator, and every
 * random byte through the test's source; both are checked.
 */
#define _POSIX_C_SOURCE 200809L
#include "harness.h"

#include "../../examples/c/counting_alloc.h"

static atomic_ulong random_bytes;

static bool test_random(void *user_data, uint8_t *buf, size_t len) {
    unsigned *state = user_data;
    for (size_t i = 0; i < len; i++) {
        *state = *state * 1103515245u + 12345u; /* a test's source, not a CSPRNG */
        buf[i] = (uint8_t)(*state >> 16);
    }
    atomic_fetch_add(&random_bytes, len);
    return true;
}

static unsigned random_state = 1;

/* Moves every pending byte of `from` into `to`. */
static void pump(wsx_engine *from, wsx_engine *to) {
    const uint8_t *p;
    size_t n, used;
    while (wsx_engine_peek_output(from, &p, &n) == WSX_OK && n > 0) {
        CHECK_OK(wsx_engine_feed(to, p, n, &used));
        CHECK(used == n);
        CHECK_OK(wsx_engine_consume_output(from, n));
    }
}

static wsx_engine_event next(wsx_engine *e) {
    wsx_engine_event ev;
    memset(&ev, 0, sizeof ev);
    ev.struct_size = sizeof ev;
    CHECK_OK(wsx_engine_next_event(e, &ev));
    return ev;
}

static void open_pair(wsx_engine **client, wsx_engine **server, int compress) {
    wsx_client_options *co = NULL;
    wsx_server_options *so = NULL;
    CHECK_OK(wsx_client_options_new(&co));
    CHECK_OK(wsx_server_options_new(&so));
    CHECK_OK(wsx_conn_options_add_subprotocol(wsx_client_options_conn(co), "chat"));
    if (!compress) {
        CHECK_OK(wsx_conn_options_set_compression(wsx_client_options_conn(co), NULL));
    } else {
        wsx_deflate_options d;
        memset(&d, 0, sizeof d);
        d.struct_size = sizeof d;
        CHECK_OK(wsx_deflate_options_default(&d));
        CHECK_OK(wsx_conn_options_set_compression(wsx_server_options_conn(so), &d));
    }
    CHECK_OK(wsx_engine_client_new("ws://example.com/chat?room=1", co, client));
    CHECK_OK(wsx_engine_server_new(so, server));
    wsx_client_options_free(co);
    wsx_server_options_free(so);
    CHECK(wsx_engine_state(*client) == WSX_STATE_CONNECTING);
    CHECK(wsx_engine_buffered_amount(*client) > 0); /* the request */
    pump(*client, *server);
    wsx_engine_event ev = next(*server);
    CHECK(ev.kind == WSX_ENGINE_EVENT_KIND_REQUEST);
    CHECK(ev.path && strcmp(ev.path, "/chat?room=1") == 0);
    int host = 0;
    for (size_t i = 0; i < ev.header_count; i++) {
        host |= strcasecmp(ev.headers[i].name, "Host") == 0 && strcmp(ev.headers[i].value, "example.com") == 0;
    }
    CHECK(host);
    CHECK_RESULT(wsx_engine_accept(*server, "not-offered", NULL, 0), WSX_ERR_INVALID_ARGUMENT);
    wsx_header extra = {"X-Test", "1"};
    CHECK_OK(wsx_engine_accept(*server, "chat", &extra, 1));
    CHECK_RESULT(wsx_engine_accept(*server, NULL, NULL, 0), WSX_ERR_STATE);
    ev = next(*server);
    CHECK(ev.kind == WSX_ENGINE_EVENT_KIND_OPEN && ev.deflate == (compress != 0));
    pump(*server, *client);
    ev = next(*client);
    CHECK(ev.kind == WSX_ENGINE_EVENT_KIND_OPEN);
    CHECK(ev.subprotocol && strcmp(ev.subprotocol, "chat") == 0);
    CHECK(ev.deflate == (compress != 0));
    CHECK(wsx_engine_state(*client) == WSX_STATE_OPEN);
    CHECK(next(*client).kind == WSX_ENGINE_EVENT_KIND_NONE);
}

static void messages_both_ways_and_close(void) {
    for (int compress = 0; compress < 2; compress++) {
        wsx_engine *client = NULL, *server = NULL;
        open_pair(&client, &server, compress);
        unsigned long drawn = atomic_load(&random_bytes);
        CHECK_OK(wsx_engine_send(client, WSX_MSG_KIND_TEXT, (const uint8_t *)"hello", 5));
        CHECK(atomic_load(&random_bytes) > drawn); /* masking keys from our source */
        CHECK_OK(wsx_engine_send_fragment(client, WSX_MSG_KIND_BINARY, (const uint8_t *)"ab", 2, false));
        CHECK_OK(wsx_engine_ping(client, (const uint8_t *)"p", 1));
        CHECK_OK(wsx_engine_send_fragment(client, WSX_MSG_KIND_BINARY, (const uint8_t *)"cd", 2, true));
        CHECK_OK(wsx_engine_pong(client, NULL, 0));
        CHECK_RESULT(wsx_engine_send(client, (wsx_msg_kind)9, NULL, 0), WSX_ERR_INVALID_ARGUMENT);
        /* One byte at a time. */
        const uint8_t *p;
        size_t n, used;
        while (wsx_engine_peek_output(client, &p, &n) == WSX_OK && n > 0) {
            CHECK_OK(wsx_engine_feed(server, p, 1, &used));
            CHECK_OK(wsx_engine_consume_output(client, 1));
        }
        CHECK_RESULT(wsx_engine_consume_output(client, 1), WSX_ERR_INVALID_ARGUMENT);
        wsx_engine_event ev = next(server);
        CHECK(ev.kind == WSX_ENGINE_EVENT_KIND_MESSAGE && ev.msg_kind == WSX_MSG_KIND_TEXT && ev.len == 5 &&
              memcmp(ev.data, "hello", 5) == 0);
        ev = next(server);
        CHECK(ev.kind == WSX_ENGINE_EVENT_KIND_PING && ev.len == 1);
        ev = next(server);
        CHECK(ev.kind == WSX_ENGINE_EVENT_KIND_MESSAGE && ev.msg_kind == WSX_MSG_KIND_BINARY && ev.len == 4 &&
              memcmp(ev.data, "abcd", 4) == 0);
        ev = next(server);
        CHECK(ev.kind == WSX_ENGINE_EVENT_KIND_PONG && ev.len == 0);
        CHECK(next(server).kind == WSX_ENGINE_EVENT_KIND_NONE);
        /* The server's automatic pong reaches the client. */
        pump(server, client);
        CHECK(next(client).kind == WSX_ENGINE_EVENT_KIND_PONG);

        /* The server closes; the client answers by itself. */
        CHECK_RESULT(wsx_engine_close(server, 1006, NULL), WSX_ERR_INVALID_ARGUMENT);
        CHECK_OK(wsx_engine_close(server, 4000, "bye"));
        CHECK(wsx_engine_state(server) == WSX_STATE_CLOSING);
        CHECK_RESULT(wsx_engine_send(server, WSX_MSG_KIND_TEXT, (const uint8_t *)"x", 1), WSX_ERR_CLOSED);
        pump(server, client);
        ev = next(client);
        CHECK(ev.kind == WSX_ENGINE_EVENT_KIND_CLOSE && ev.close_code == 4000 && ev.clean &&
              ev.close_origin == WSX_CLOSE_ORIGIN_REMOTE && strcmp((const char *)ev.data, "bye") == 0);
        CHECK(wsx_engine_state(client) == WSX_STATE_CLOSED);
        pump(client, server);
        CHECK(wsx_engine_wants_shutdown(client));
        ev = next(server);
        CHECK(ev.kind == WSX_ENGINE_EVENT_KIND_CLOSE && ev.close_code == 4000 &&
              ev.close_origin == WSX_CLOSE_ORIGIN_LOCAL);
        CHECK(wsx_engine_wants_shutdown(server));
        CHECK(next(server).kind == WSX_ENGINE_EVENT_KIND_NONE);
        wsx_engine_free(client);
        wsx_engine_free(server);
    }
    wsx_engine_free(NULL);
}

static void refusal_eof_and_timers(void) {
    wsx_engine *client = NULL, *server = NULL;
    CHECK_OK(wsx_engine_client_new("ws://example.com/", NULL, &client));
    CHECK_OK(wsx_engine_server_new(NULL, &server));
    CHECK_RESULT(wsx_engine_client_new("http://x/", NULL, &client), WSX_ERR_INVALID_ARGUMENT);
    CHECK_RESULT(wsx_engine_refuse(server, 403, "no"), WSX_ERR_STATE);
    CHECK_RESULT(wsx_engine_send(client, WSX_MSG_KIND_TEXT, NULL, 0), WSX_ERR_STATE);
    pump(client, server);
    CHECK(next(server).kind == WSX_ENGINE_EVENT_KIND_REQUEST);
    CHECK_RESULT(wsx_engine_refuse(server, 200, "no"), WSX_ERR_INVALID_ARGUMENT);
    CHECK_OK(wsx_engine_refuse(server, 403, "not you"));
    CHECK(next(server).kind == WSX_ENGINE_EVENT_KIND_NONE);
    pump(server, client);
    CHECK_OK(wsx_engine_feed_eof(client));
    wsx_engine_event ev = next(client);
    CHECK(ev.kind == WSX_ENGINE_EVENT_KIND_ERROR && ev.error == WSX_ERR_HANDSHAKE && ev.http_status == 403);
    /* The refusal's response, as a loop client's wsx_error has it. */
    int has_length = 0;
    for (size_t i = 0; i < ev.header_count; i++)
        has_length |= strcmp(ev.headers[i].name, "Content-Length") == 0 && strcmp(ev.headers[i].value, "7") == 0;
    CHECK(has_length);
    CHECK(ev.body_len == 7 && memcmp(ev.body, "not you", 7) == 0);
    ev = next(client);
    CHECK(ev.kind == WSX_ENGINE_EVENT_KIND_CLOSE && ev.close_code == 1006 &&
          ev.close_origin == WSX_CLOSE_ORIGIN_TRANSPORT && !ev.clean);
    wsx_engine_free(client);
    wsx_engine_free(server);

    /* Time is the caller's: no tick, no deadline; the handshake timeout
     * (10 s by default) fires at the tick that reaches it. */
    CHECK_OK(wsx_engine_client_new("ws://example.com/", NULL, &client));
    CHECK(wsx_engine_next_deadline(client) == UINT64_MAX);
    CHECK_OK(wsx_engine_tick(client, 1000));
    CHECK(wsx_engine_next_deadline(client) == 11000);
    CHECK_OK(wsx_engine_tick(client, 10999));
    CHECK(next(client).kind == WSX_ENGINE_EVENT_KIND_NONE);
    CHECK_OK(wsx_engine_tick(client, 11000));
    ev = next(client);
    CHECK(ev.kind == WSX_ENGINE_EVENT_KIND_ERROR && ev.error == WSX_ERR_TIMEOUT);
    CHECK(next(client).kind == WSX_ENGINE_EVENT_KIND_CLOSE);
    CHECK(wsx_engine_state(client) == WSX_STATE_CLOSED);
    wsx_engine_free(client);

    /* Bad arguments. */
    CHECK(wsx_engine_state(NULL) == WSX_STATE_CLOSED);
    CHECK(wsx_engine_buffered_amount(NULL) == 0);
    CHECK(!wsx_engine_wants_shutdown(NULL));
    size_t used;
    CHECK_RESULT(wsx_engine_feed(NULL, NULL, 0, &used), WSX_ERR_NULL);
    wsx_engine_event small;
    memset(&small, 0, sizeof small);
    CHECK_OK(wsx_engine_server_new(NULL, &server));
    CHECK_RESULT(wsx_engine_next_event(server, &small), WSX_ERR_INVALID_ARGUMENT);
    wsx_engine_free(server);
}

/* Engines whose handshake happened elsewhere (WebSocket.CreateFromStream's
 * contract), with the deflate parameters it agreed. */
static void engines_opened_elsewhere(void) {
    wsx_client_options *co = NULL;
    wsx_server_options *so = NULL;
    wsx_engine *client = NULL, *server = NULL;
    CHECK_OK(wsx_client_options_new(&co));
    CHECK_OK(wsx_server_options_new(&so));
    wsx_deflate_params p;
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    p.client_max_window_bits = 15;
    p.server_max_window_bits = 7;
    CHECK_RESULT(wsx_engine_open_new(wsx_client_options_conn(co), NULL, &p, &client), WSX_ERR_INVALID_ARGUMENT);
    p.server_max_window_bits = 12;
    p.server_no_context_takeover = true;
    CHECK_RESULT(wsx_engine_open_new(NULL, NULL, &p, &client), WSX_ERR_NULL);
    CHECK_OK(wsx_engine_open_new(wsx_client_options_conn(co), "chat", &p, &client));
    CHECK_OK(wsx_engine_open_new(wsx_server_options_conn(so), "chat", &p, &server));
    wsx_client_options_free(co);
    wsx_server_options_free(so);
    CHECK(wsx_engine_state(client) == WSX_STATE_OPEN && wsx_engine_state(server) == WSX_STATE_OPEN);
    wsx_engine_event ev = next(client);
    CHECK(ev.kind == WSX_ENGINE_EVENT_KIND_OPEN && ev.deflate && ev.subprotocol && strcmp(ev.subprotocol, "chat") == 0);
    CHECK(next(server).kind == WSX_ENGINE_EVENT_KIND_OPEN);
    CHECK(wsx_engine_buffered_amount(client) == 0); /* no handshake to send */
    char text[2000];
    memset(text, 'a', sizeof text);
    CHECK_OK(wsx_engine_send(client, WSX_MSG_KIND_TEXT, (const uint8_t *)text, sizeof text));
    const uint8_t *out;
    size_t n;
    CHECK_OK(wsx_engine_peek_output(client, &out, &n));
    CHECK(n > 0 && n < 200 && (out[0] & 0x40)); /* compressed: RSV1, and small */
    pump(client, server);
    ev = next(server);
    CHECK(ev.kind == WSX_ENGINE_EVENT_KIND_MESSAGE && ev.len == sizeof text && memcmp(ev.data, text, sizeof text) == 0);
    CHECK_OK(wsx_engine_send(server, WSX_MSG_KIND_BINARY, (const uint8_t *)text, sizeof text));
    pump(server, client);
    ev = next(client);
    CHECK(ev.kind == WSX_ENGINE_EVENT_KIND_MESSAGE && ev.msg_kind == WSX_MSG_KIND_BINARY && ev.len == sizeof text);
    wsx_engine_free(client);
    wsx_engine_free(server);
}

/* Moves ciphertext between two TLS sessions and plaintext to and from
 * their engines, until nothing moves. */
static void tls_pump(wsx_tls *a, wsx_engine *ea, wsx_tls *b, wsx_engine *eb) {
    for (int moved = 1; moved;) {
        moved = 0;
        wsx_tls *t[2] = {a, b};
        wsx_engine *e[2] = {ea, eb};
        for (int i = 0; i < 2; i++) {
            const uint8_t *p;
            size_t n, used = 0;
            while (wsx_engine_peek_output(e[i], &p, &n) == WSX_OK && n > 0) {
                wsx_result r = wsx_tls_write(t[i], p, n, &used);
                CHECK_OK(r);
                if (r != WSX_OK || used == 0) {
                    return;
                }
                CHECK_OK(wsx_engine_consume_output(e[i], used));
                moved = 1;
            }
            while (wsx_tls_peek_output(t[i], &p, &n) == WSX_OK && n > 0) {
                CHECK_OK(wsx_tls_feed(t[1 - i], p, n, &used));
                CHECK(used == n);
                CHECK_OK(wsx_tls_consume_output(t[i], n));
                moved = 1;
            }
            while (wsx_tls_peek_plaintext(t[1 - i], &p, &n) == WSX_OK && n > 0) {
                CHECK_OK(wsx_engine_feed(e[1 - i], p, n, &used));
                CHECK_OK(wsx_tls_consume_plaintext(t[1 - i], n));
                moved = 1;
            }
        }
    }
}

static void engines_over_tls(void) {
    const char *cert = getenv("WSX_TEST_CERT"), *key = getenv("WSX_TEST_KEY"), *ca = getenv("WSX_TEST_CA");
    if (!cert || !key || !ca) {
        printf("note: WSX_TEST_CERT/KEY/CA unset: TLS part skipped\n");
        return;
    }
    wsx_client_options *co = NULL;
    wsx_tls *ct = NULL, *st = NULL, *refused = NULL;
    wsx_engine *client = NULL, *server = NULL;
    CHECK_OK(wsx_client_options_new(&co));
    CHECK_OK(wsx_client_options_set_tls_ca_file(co, ca));
    CHECK_OK(wsx_tls_client_new("localhost", co, &ct));
    CHECK_OK(wsx_tls_server_new(cert, key, &st));
    CHECK_RESULT(wsx_tls_server_new("/nonexistent.pem", key, &refused), WSX_ERR_INVALID_ARGUMENT);
    if (ct == NULL || st == NULL) {
        wsx_tls_free(ct);
        wsx_tls_free(st);
        wsx_client_options_free(co);
        return;
    }
    CHECK(wsx_tls_is_handshaking(ct));
    CHECK_OK(wsx_engine_client_new("wss://localhost/", co, &client));
    CHECK_OK(wsx_engine_server_new(NULL, &server));
    tls_pump(ct, client, st, server);
    CHECK(!wsx_tls_is_handshaking(ct));
    CHECK(next(server).kind == WSX_ENGINE_EVENT_KIND_REQUEST);
    CHECK_OK(wsx_engine_accept(server, NULL, NULL, 0));
    CHECK(next(server).kind == WSX_ENGINE_EVENT_KIND_OPEN);
    tls_pump(st, server, ct, client);
    CHECK(next(client).kind == WSX_ENGINE_EVENT_KIND_OPEN);
    CHECK_OK(wsx_engine_send(client, WSX_MSG_KIND_TEXT, (const uint8_t *)"secret", 6));
    tls_pump(ct, client, st, server);
    wsx_engine_event ev = next(server);
    CHECK(ev.kind == WSX_ENGINE_EVENT_KIND_MESSAGE && ev.len == 6 && memcmp(ev.data, "secret", 6) == 0);
    CHECK(!wsx_tls_peer_closed(st));
    CHECK_OK(wsx_tls_close(ct));
    CHECK_RESULT(wsx_tls_write(ct, (const uint8_t *)"x", 1, &(size_t){0}), WSX_ERR_CLOSED);
    tls_pump(ct, client, st, server);
    CHECK(wsx_tls_peer_closed(st));
    CHECK_OK(wsx_tls_feed_eof(st));
    CHECK_OK(wsx_engine_feed_eof(server));
    ev = next(server);
    CHECK(ev.kind == WSX_ENGINE_EVENT_KIND_CLOSE && ev.close_code == 1006);
    wsx_tls_free(ct);
    wsx_tls_free(st);
    wsx_tls_free(NULL);
    wsx_engine_free(client);
    wsx_engine_free(server);

    /* Without the CA the certificate is refused. */
    ct = st = NULL;
    CHECK_OK(wsx_tls_client_new("localhost", NULL, &ct));
    CHECK_OK(wsx_tls_server_new(cert, key, &st));
    if (ct == NULL || st == NULL) {
        wsx_tls_free(ct);
        wsx_tls_free(st);
        wsx_client_options_free(co);
        return;
    }
    const uint8_t *p;
    size_t n, used;
    wsx_result r = WSX_OK;
    for (int i = 0; i < 10 && r == WSX_OK; i++) {
        while (wsx_tls_peek_output(ct, &p, &n) == WSX_OK && n > 0) {
            CHECK_OK(wsx_tls_feed(st, p, n, &used));
            CHECK_OK(wsx_tls_consume_output(ct, n));
        }
        while (r == WSX_OK && wsx_tls_peek_output(st, &p, &n) == WSX_OK && n > 0) {
            r = wsx_tls_feed(ct, p, n, &used);
            CHECK_OK(wsx_tls_consume_output(st, n));
        }
    }
    CHECK(r == WSX_ERR_TLS);
    wsx_tls_free(ct);
    wsx_tls_free(st);
    wsx_client_options_free(co);
}

static int all(void *arg) {
    (void)arg;
    CHECK_OK(wsx_random_set(test_random, &random_state));
    CHECK_RESULT(wsx_random_set(test_random, &random_state), WSX_ERR_STATE);
    CHECK_RESULT(wsx_random_set(NULL, NULL), WSX_ERR_NULL);
    wsx_allocator again = {0};
    again.struct_size = sizeof again;
    again.malloc_fn = counting_malloc;
    again.realloc_fn = counting_realloc;
    again.free_fn = counting_free;
    CHECK_RESULT(wsx_allocator_set(&again), WSX_ERR_STATE);
    RUN(messages_both_ways_and_close);
    RUN(refusal_eof_and_timers);
    RUN(engines_opened_elsewhere);
    RUN(engines_over_tls);
    return 0;
}

int main(void) {
    counting_alloc_install(); /* first: before anything allocates */
    counting_alloc_run(all, NULL);
    CHECK(counting_alloc_report("test_engine"));
    CHECK(atomic_load(&random_bytes) >= 16);
    return summary("test_engine");
}
