/*
 * The server's HTTP side through the C API, with raw TCP clients:
 *   - plain HTTP requests reach the upgrade callback only when asked
 *     (wsx_server_options_set_plain_http, wsx_request.plain_http) and are
 *     answered with any status, headers and body (wsx_upgrade_respond), at
 *     once or deferred (wsx_pending_upgrade_respond); bad answers are refused;
 *   - path routing: two WebSocket endpoints with callbacks of their own
 *     (wsx_upgrade_set_callbacks), each user_data freed once;
 *   - mutual TLS: wsx_server_options_set_tls_client_auth, the client's
 *     subject and chain in wsx_request and wsx_conn_peer_identity (with
 *     WSX_TEST_CERT/KEY/CA and WSX_TEST_CLIENT_CA, WSX_TEST_ALICE_CERT/KEY).
 * The loop runs on its own thread; the test's thread is the client.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "recorder.h"

#define WAIT_MS 5000

static void wait_for(volatile int *flag, int target) {
    long long deadline = now_ms() + WAIT_MS;
    while (*flag < target && now_ms() < deadline) {
        struct timespec pause = {0, 2 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
}

/* --- raw HTTP over TCP --- */

static int http_send(uint16_t port, const char *request) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval timeout = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0 ||
        send(fd, request, strlen(request), 0) != (ssize_t)strlen(request)) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Reads the whole answer, until the server closes; NUL-terminated. */
static void http_read(int fd, char *buf, size_t cap) {
    size_t len = 0;
    ssize_t n;
    while (fd >= 0 && len + 1 < cap && (n = recv(fd, buf + len, cap - 1 - len, 0)) > 0) len += (size_t)n;
    buf[len] = '\0';
    if (fd >= 0) close(fd);
}

static void http_get(uint16_t port, const char *path, char *buf, size_t cap) {
    char request[256];
    snprintf(request, sizeof request, "GET %s HTTP/1.1\r\nHost: test\r\n\r\n", path);
    http_read(http_send(port, request), buf, cap);
}

static int starts_with(const char *text, const char *prefix) {
    return strncmp(text, prefix, strlen(prefix)) == 0;
}

/* --- the server --- */

typedef struct endpoint {
    const char *name;
    volatile int messages, frees;
} endpoint;

typedef struct site {
    volatile int upgrades, plain, deferred, identities;
    wsx_pending_upgrade *pending;
    /* what the argument checks inside the callback returned */
    wsx_result bad_status, reserved_header, bad_header, null_body, null_upgrade;
    char subject[128];
    size_t certs_len;
    unsigned char leaf_first_byte;
    endpoint echo, upper;
} site;

static void free_endpoint(void *ud) {
    ((endpoint *)ud)->frees++;
}

static void endpoint_message(void *ud, wsx_conn *conn, const wsx_message *msg) {
    endpoint *e = ud;
    e->messages++;
    char out[256];
    size_t n = msg->len < sizeof out ? msg->len : sizeof out;
    for (size_t i = 0; i < n; i++) {
        char c = (char)msg->data[i];
        out[i] = e == NULL || strcmp(e->name, "upper") != 0 || c < 'a' || c > 'z' ? c : (char)(c - 'a' + 'A');
    }
    wsx_conn_send(conn, msg->kind, (const uint8_t *)out, n);
}

static int path_is(const wsx_request *request, const char *path) {
    return strcmp(request->path, path) == 0;
}

static void site_upgrade(void *ud, wsx_upgrade *upgrade, const wsx_request *request) {
    site *s = ud;
    s->upgrades++;
    if (request->peer_subject != NULL) {
        copy_str(s->subject, sizeof s->subject, request->peer_subject);
        s->certs_len = request->peer_certs_len;
        s->leaf_first_byte = request->peer_certs_len ? request->peer_certs[0].der[0] : 0;
        s->identities++;
    }
    if (request->plain_http) {
        s->plain++;
        if (path_is(request, "/healthz")) {
            /* Refused answers change nothing. */
            s->bad_status = wsx_upgrade_respond(upgrade, 101, NULL, 0, NULL, 0);
            wsx_header length = {"Content-Length", "3"};
            s->reserved_header = wsx_upgrade_respond(upgrade, 200, &length, 1, NULL, 0);
            wsx_header bad = {"Bad Name", "x"};
            s->bad_header = wsx_upgrade_respond(upgrade, 200, &bad, 1, NULL, 0);
            s->null_body = wsx_upgrade_respond(upgrade, 200, NULL, 0, NULL, 3);
            s->null_upgrade = wsx_upgrade_respond(NULL, 200, NULL, 0, NULL, 0);
            wsx_upgrade_respond(upgrade, 200, NULL, 0, (const uint8_t *)"ok\n", 3);
        } else if (path_is(request, "/page")) {
            wsx_header type = {"Content-Type", "text/html"};
            wsx_upgrade_respond(upgrade, 200, &type, 1, (const uint8_t *)"<p>hi</p>", 9);
        } else if (path_is(request, "/private")) {
            wsx_upgrade_add_header(upgrade, "WWW-Authenticate", "Basic realm=\"t\"");
            wsx_upgrade_respond(upgrade, 401, NULL, 0, (const uint8_t *)"no", 2);
        } else if (path_is(request, "/later")) {
            if (wsx_upgrade_defer(upgrade, &s->pending) == WSX_OK) s->deferred++;
        }
        /* Anything else is accepted: the library answers 426. */
        return;
    }
    if (path_is(request, "/who")) return; /* the server's own conn callbacks */
    endpoint *e = path_is(request, "/echo") ? &s->echo : path_is(request, "/upper") ? &s->upper : NULL;
    if (e == NULL) {
        wsx_upgrade_refuse(upgrade, 404, "no such endpoint");
        return;
    }
    wsx_conn_callbacks cb = {.struct_size = sizeof cb, .user_data = e, .free_user_data = free_endpoint};
    cb.on_message = endpoint_message;
    wsx_upgrade_set_callbacks(upgrade, &cb);
}

static wsx_server *start_site(wsx_loop *loop, site *s, wsx_server_options *options) {
    memset(s, 0, sizeof *s);
    s->echo.name = "echo";
    s->upper.name = "upper";
    wsx_server_callbacks scb = {.struct_size = sizeof scb, .user_data = s, .on_upgrade = site_upgrade};
    wsx_server *server = NULL;
    CHECK_OK(wsx_loop_listen(loop, options, &scb, &server));
    return server;
}

static void test_plain_http_is_426_unless_asked_for(void) {
    wsx_loop *loop = NULL;
    CHECK_OK(wsx_loop_new(&loop));
    CHECK_OK(wsx_loop_start_thread(loop));
    site s;
    wsx_server *server = start_site(loop, &s, NULL);
    char answer[4096];
    http_get(wsx_server_port(server), "/healthz", answer, sizeof answer);
    CHECK(starts_with(answer, "HTTP/1.1 426 Upgrade Required\r\n"));
    CHECK(strstr(answer, "\r\nUpgrade: websocket\r\n") != NULL);
    CHECK(s.upgrades == 0);
    wsx_server_free(server);
    wsx_loop_free(loop);
}

static void test_plain_http_answered_at_once_and_deferred(void) {
    wsx_loop *loop = NULL;
    CHECK_OK(wsx_loop_new(&loop));
    CHECK_OK(wsx_loop_start_thread(loop));
    wsx_server_options *options = NULL;
    CHECK_OK(wsx_server_options_new(&options));
    CHECK_RESULT(wsx_server_options_set_plain_http(NULL, true), WSX_ERR_NULL);
    CHECK_OK(wsx_server_options_set_plain_http(options, true));
    site s;
    wsx_server *server = start_site(loop, &s, options);
    wsx_server_options_free(options);
    uint16_t port = wsx_server_port(server);
    char answer[4096];

    http_get(port, "/healthz", answer, sizeof answer);
    CHECK(starts_with(answer, "HTTP/1.1 200 OK\r\n"));
    CHECK(strstr(answer, "\r\nContent-Length: 3\r\n") != NULL);
    CHECK(strstr(answer, "\r\nContent-Type: text/plain; charset=utf-8\r\n") != NULL);
    CHECK(strstr(answer, "\r\n\r\nok\n") != NULL);
    CHECK(s.plain == 1);
    CHECK(s.bad_status == WSX_ERR_INVALID_ARGUMENT && s.reserved_header == WSX_ERR_INVALID_ARGUMENT);
    CHECK(s.bad_header == WSX_ERR_INVALID_ARGUMENT && s.null_body == WSX_ERR_NULL);
    CHECK(s.null_upgrade == WSX_ERR_NULL);

    http_get(port, "/page", answer, sizeof answer);
    CHECK(strstr(answer, "\r\nContent-Type: text/html\r\n") != NULL);
    CHECK(strstr(answer, "\r\n\r\n<p>hi</p>") != NULL);
    http_get(port, "/private", answer, sizeof answer);
    CHECK(starts_with(answer, "HTTP/1.1 401 Unauthorized\r\n"));
    CHECK(strstr(answer, "\r\nWWW-Authenticate: Basic realm=\"t\"\r\n") != NULL);
    http_get(port, "/elsewhere", answer, sizeof answer);
    CHECK(starts_with(answer, "HTTP/1.1 426 "));

    /* Deferred: the request waits for the test's answer. */
    int fd = http_send(port, "GET /later HTTP/1.1\r\nHost: test\r\n\r\n");
    CHECK(fd >= 0);
    wait_for(&s.deferred, 1);
    CHECK(s.deferred == 1);
    wsx_header location = {"Location", "/page"};
    CHECK_RESULT(wsx_pending_upgrade_respond(NULL, 302, &location, 1, NULL, 0), WSX_ERR_NULL);
    CHECK_RESULT(wsx_pending_upgrade_respond(s.pending, 600, &location, 1, NULL, 0), WSX_ERR_INVALID_ARGUMENT);
    CHECK_OK(wsx_pending_upgrade_respond(s.pending, 302, &location, 1, (const uint8_t *)"moved", 5));
    CHECK_RESULT(wsx_pending_upgrade_respond(s.pending, 200, NULL, 0, NULL, 0), WSX_ERR_STATE);
    wsx_pending_upgrade_free(s.pending);
    http_read(fd, answer, sizeof answer);
    CHECK(starts_with(answer, "HTTP/1.1 302 Found\r\n"));
    CHECK(strstr(answer, "\r\nLocation: /page\r\n") != NULL);
    CHECK(strstr(answer, "\r\n\r\nmoved") != NULL);

    /* A malformed request never reaches the callback. */
    int before = s.upgrades;
    http_read(http_send(port, "POST /x HTTP/1.1\r\nHost: t\r\n\r\n"), answer, sizeof answer);
    CHECK(starts_with(answer, "HTTP/1.1 405 Method Not Allowed\r\n"));
    CHECK(strstr(answer, "\r\nAllow: GET\r\n") != NULL);
    http_read(http_send(port, "GET / HTTP/1.0\r\nHost: t\r\n\r\n"), answer, sizeof answer);
    CHECK(starts_with(answer, "HTTP/1.1 505 "));
    CHECK(s.upgrades == before);
    wsx_server_free(server);
    wsx_loop_free(loop);
}

static void test_routing_two_endpoints(void) {
    wsx_loop *loop = NULL;
    CHECK_OK(wsx_loop_new(&loop));
    CHECK_OK(wsx_loop_start_thread(loop));
    site s;
    wsx_server *server = start_site(loop, &s, NULL);
    char url[128];
    recorder a, b, c;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    memset(&c, 0, sizeof c);
    server_url(url, sizeof url, "ws", server, "/echo");
    wsx_conn *ca = connect_to(loop, url, NULL, &a);
    server_url(url, sizeof url, "ws", server, "/upper");
    wsx_conn *cb = connect_to(loop, url, NULL, &b);
    server_url(url, sizeof url, "ws", server, "/nope");
    wsx_conn *cc = connect_to(loop, url, NULL, &c);
    wait_for(&a.opens, 1);
    wait_for(&b.opens, 1);
    CHECK_OK(wsx_conn_send(ca, WSX_MSG_KIND_TEXT, (const uint8_t *)"route me", 8));
    CHECK_OK(wsx_conn_send(cb, WSX_MSG_KIND_TEXT, (const uint8_t *)"route me", 8));
    wait_for(&a.messages, 1);
    wait_for(&b.messages, 1);
    CHECK(a.len == 8 && memcmp(a.data, "route me", 8) == 0);
    CHECK(b.len == 8 && memcmp(b.data, "ROUTE ME", 8) == 0);
    CHECK(s.echo.messages == 1 && s.upper.messages == 1);
    wait_for(&c.closes, 1);
    CHECK(c.opens == 0 && c.http_status == 404);

    /* No identity without TLS; the out struct is checked. */
    wsx_peer_identity id = {.struct_size = sizeof id};
    CHECK_OK(wsx_conn_peer_identity(ca, &id));
    CHECK(id.subject == NULL && id.certs == NULL && id.certs_len == 0);
    wsx_peer_identity zero = {0};
    CHECK_RESULT(wsx_conn_peer_identity(ca, &zero), WSX_ERR_INVALID_ARGUMENT);
    CHECK_RESULT(wsx_conn_peer_identity(NULL, &id), WSX_ERR_NULL);
    CHECK_RESULT(wsx_conn_peer_identity(ca, NULL), WSX_ERR_NULL);

    CHECK_OK(wsx_conn_close(ca, 1000, NULL));
    CHECK_OK(wsx_conn_close(cb, 1000, NULL));
    wait_for(&a.closes, 1);
    wait_for(&b.closes, 1);
    wsx_conn_release(ca);
    wsx_conn_release(cb);
    wsx_conn_release(cc);
    wsx_server_free(server);
    wsx_loop_free(loop);
    /* Each endpoint's user_data was freed once, when its connection ended. */
    CHECK(s.echo.frees == 1 && s.upper.frees == 1);
}

static void test_client_auth_options(void) {
    wsx_loop *loop = NULL;
    CHECK_OK(wsx_loop_new(&loop));
    wsx_server_options *options = NULL;
    CHECK_OK(wsx_server_options_new(&options));
    CHECK_RESULT(wsx_server_options_set_tls_client_auth(NULL, "ca.pem", true, NULL), WSX_ERR_NULL);
    CHECK_RESULT(wsx_server_options_set_tls_client_auth(options, NULL, true, "crl.pem"), WSX_ERR_INVALID_ARGUMENT);
    /* Client certificates without TLS: refused when listening. */
    CHECK_OK(wsx_server_options_set_tls_client_auth(options, "/nonexistent/ca.pem", true, NULL));
    wsx_server_callbacks scb = {.struct_size = sizeof scb};
    wsx_server *server = NULL;
    CHECK_RESULT(wsx_loop_listen(loop, options, &scb, &server), WSX_ERR_INVALID_ARGUMENT);
    CHECK(strstr(wsx_last_error_message(), "wsx_server_options_set_tls") != NULL);
    /* NULL turns it off again. */
    CHECK_OK(wsx_server_options_set_tls_client_auth(options, NULL, false, NULL));
    CHECK_OK(wsx_loop_listen(loop, options, &scb, &server));
    wsx_server_free(server);
    wsx_server_options_free(options);
    wsx_loop_free(loop);
}

/* --- mutual TLS --- */

typedef struct identity_seen {
    volatile int opens;
    char subject[128];
    size_t certs_len;
} identity_seen;

static void identity_open(void *ud, wsx_conn *conn, const wsx_open *open) {
    identity_seen *seen = ud;
    (void)open;
    wsx_peer_identity id = {.struct_size = sizeof id};
    if (wsx_conn_peer_identity(conn, &id) == WSX_OK) {
        copy_str(seen->subject, sizeof seen->subject, id.subject);
        seen->certs_len = id.certs_len;
    }
    seen->opens++;
}

static void test_mutual_tls(void) {
    const char *cert = getenv("WSX_TEST_CERT"), *key = getenv("WSX_TEST_KEY"), *ca = getenv("WSX_TEST_CA");
    const char *client_ca = getenv("WSX_TEST_CLIENT_CA");
    const char *alice = getenv("WSX_TEST_ALICE_CERT"), *alice_key = getenv("WSX_TEST_ALICE_KEY");
    if (!cert || !key || !ca || !client_ca || !alice || !alice_key) {
        printf("skip test_mutual_tls: WSX_TEST_CERT/KEY/CA, WSX_TEST_CLIENT_CA, WSX_TEST_ALICE_CERT/KEY unset\n");
        return;
    }
    wsx_loop *loop = NULL;
    CHECK_OK(wsx_loop_new(&loop));
    CHECK_OK(wsx_loop_start_thread(loop));
    wsx_server_options *options = NULL;
    CHECK_OK(wsx_server_options_new(&options));
    /* Either order: client auth first, TLS after. */
    CHECK_OK(wsx_server_options_set_tls_client_auth(options, client_ca, true, NULL));
    CHECK_OK(wsx_server_options_set_tls(options, cert, key));
    site s;
    memset(&s, 0, sizeof s);
    identity_seen seen;
    memset(&seen, 0, sizeof seen);
    wsx_conn_callbacks conn_cb = {.struct_size = sizeof conn_cb, .user_data = &seen, .on_open = identity_open};
    wsx_server_callbacks scb = {.struct_size = sizeof scb, .user_data = &s, .on_upgrade = site_upgrade};
    scb.conn = &conn_cb;
    wsx_server *server = NULL;
    CHECK_OK(wsx_loop_listen(loop, options, &scb, &server));
    wsx_server_options_free(options);
    char url[128];
    snprintf(url, sizeof url, "wss://localhost:%u/who", (unsigned)wsx_server_port(server));

    wsx_client_options *with_cert = NULL;
    CHECK_OK(wsx_client_options_new(&with_cert));
    CHECK_OK(wsx_client_options_set_tls_ca_file(with_cert, ca));
    CHECK_OK(wsx_client_options_set_tls_client_cert(with_cert, alice, alice_key));
    recorder a;
    memset(&a, 0, sizeof a);
    wsx_conn *ca_conn = connect_to(loop, url, with_cert, &a);
    wait_for(&a.opens, 1);
    wait_for(&seen.opens, 1);
    CHECK(a.opens == 1 && s.identities == 1);
    CHECK(strcmp(s.subject, "CN=alice,O=wsx") == 0);
    CHECK(s.certs_len == 1 && s.leaf_first_byte == 0x30); /* a DER SEQUENCE */
    CHECK(strcmp(seen.subject, "CN=alice,O=wsx") == 0 && seen.certs_len == 1);

    /* Without a certificate: the TLS handshake fails, the callback never runs. */
    wsx_client_options *without = NULL;
    CHECK_OK(wsx_client_options_new(&without));
    CHECK_OK(wsx_client_options_set_tls_ca_file(without, ca));
    recorder b;
    memset(&b, 0, sizeof b);
    wsx_conn *cb_conn = connect_to(loop, url, without, &b);
    wait_for(&b.closes, 1);
    CHECK(b.opens == 0 && b.errors >= 1);
    CHECK(s.upgrades == 1);

    CHECK_OK(wsx_conn_close(ca_conn, 1000, NULL));
    wait_for(&a.closes, 1);
    wsx_conn_release(ca_conn);
    wsx_conn_release(cb_conn);
    wsx_client_options_free(with_cert);
    wsx_client_options_free(without);
    wsx_server_free(server);
    wsx_loop_free(loop);
}

int main(void) {
    RUN(test_plain_http_is_426_unless_asked_for);
    RUN(test_plain_http_answered_at_once_and_deferred);
    RUN(test_routing_two_endpoints);
    RUN(test_client_auth_options);
    RUN(test_mutual_tls);
    return summary("test_http");
}
