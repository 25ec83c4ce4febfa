/*
 * The C parity server: the paths and endpoints of wsx_server.py (main,
 * origin, restart, drain, mtls, ipv6, deflate, deflate_shared, loops; see py_server.py's
 * docstring for the paths, wsx_server.py's for /room and loops) served through the C ABI 0.2 (include/wsx.h): one loop on
 * its own thread, wsx_loop_listen per endpoint, the upgrade callback for the
 * HTTP answers (process_request's /auth 401, /upgrade-required 426,
 * /healthz 200, /moved 302, /metrics), and each accepted connection in pull
 * mode handled by a thread of its own, as wsx.sync.serve does.
 *
 *   wsx_server            (WSX_PARITY_TLS: run.py's certificates)
 *
 * Announces its ports as one JSON line on stdout (common.announce's form)
 * and runs until its stdin closes.
 *
 * How it holds a client back: the inbox is one message deep (high 1, low 0,
 * wsx.sync's max_queue=(1, 0)), so a handler that does not read stops the
 * core from reading the socket (/stall, /hold); a flood counts itself held
 * back when wsx_conn_send answers WSX_ERR_WOULD_BLOCK and still does after
 * HELD_BACK_PAUSE.
 * Not served (the scenarios say why): /bad-subprotocol, /invalid-utf8.
 * The main paths are served on the Unix domain socket run.py names
 * (WSX_PARITY_UNIX) too, as by wsx_server.py.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "wsx.h"

/* common.py's constants. */
#define FLOOD_LIMIT (96u << 20)
#define HELD_BACK_PAUSE_MS 500
#define SIDE_WAIT_MS 15000
#define WAIT_CLOSED_MS 20000
#define SEND_TIMEOUT_MS 30000

static void die(const char *what) {
    fprintf(stderr, "wsx_server.c: %s: %s\n", what, wsx_last_error_message());
    exit(1);
}

static void sleep_ms(long ms) {
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

/* ------------------------------------------------------------ the board */

/* The rendezvous of a connection and its side requests (common.Board). */
struct entry {
    char *key, *value;
    struct entry *next;
};
static struct entry *board;
static pthread_mutex_t board_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t board_cond = PTHREAD_COND_INITIALIZER;

static void board_post(const char *prefix, const char *id, const char *value) {
    struct entry *e = malloc(sizeof *e);
    size_t n = strlen(prefix) + strlen(id) + 1;
    e->key = malloc(n);
    snprintf(e->key, n, "%s%s", prefix, id);
    e->value = strdup(value);
    pthread_mutex_lock(&board_lock);
    e->next = board;
    board = e;
    pthread_cond_broadcast(&board_cond);
    pthread_mutex_unlock(&board_lock);
}

/* The value posted under prefix+id (a copy), or NULL after SIDE_WAIT_MS. */
static char *board_wait(const char *prefix, const char *id) {
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += SIDE_WAIT_MS / 1000;
    char *found = NULL;
    pthread_mutex_lock(&board_lock);
    for (;;) {
        for (struct entry *e = board; e != NULL && found == NULL; e = e->next) {
            if (strncmp(e->key, prefix, strlen(prefix)) == 0 && strcmp(e->key + strlen(prefix), id) == 0) {
                found = strdup(e->value);
            }
        }
        if (found != NULL || pthread_cond_timedwait(&board_cond, &board_lock, &deadline) != 0) break;
    }
    pthread_mutex_unlock(&board_lock);
    return found;
}

/* ----------------------------------------------------------- endpoints */

static wsx_loop *loop;
/* The server whose counters /metrics serves (the main endpoint's). */
static wsx_server *metered;

struct endpoint {
    const char *name;
    wsx_server_options *options;
    wsx_server *server;
    bool restartable; /* the restart and drain endpoints */
    uint16_t port;
    bool stopped; /* on_shutdown ran (under stop_lock) */
    pthread_mutex_t stop_lock;
    pthread_cond_t stop_cond;
};

/* ------------------------------------------------------------ requests */

static const char *query_value(const char *path, const char *key, char *out, size_t cap) {
    const char *q = strchr(path, '?');
    size_t klen = strlen(key);
    while (q != NULL) {
        q++;
        if (strncmp(q, key, klen) == 0 && q[klen] == '=') {
            const char *v = q + klen + 1;
            size_t n = 0;
            /* Percent-decoding: the scenarios' reasons are plain words. */
            while (*v && *v != '&' && n + 1 < cap) {
                if (*v == '%' && v[1] && v[2]) {
                    char hex[3] = {v[1], v[2], 0};
                    out[n++] = (char)strtol(hex, NULL, 16);
                    v += 3;
                } else {
                    out[n++] = (*v == '+') ? ' ' : *v;
                    v++;
                }
            }
            out[n] = 0;
            return out;
        }
        q = strchr(q, '&');
    }
    return NULL;
}

static bool path_is(const char *target, const char *path) {
    size_t n = strcspn(target, "?");
    return strlen(path) == n && strncmp(target, path, n) == 0;
}

static const char *header_value(const wsx_request *request, const char *name) {
    for (size_t i = 0; i < request->headers_len; i++) {
        if (strcasecmp(request->headers[i].name, name) == 0) return request->headers[i].value;
    }
    return NULL;
}

/* process_request of wsx_server.py: the HTTP answers, for handshakes and
 * plain HTTP alike; anything else is accepted (a plain request then gets
 * the core's 426). */
static void on_upgrade(void *user_data, wsx_upgrade *upgrade, const wsx_request *request) {
    (void)user_data;
    const char *path = request->path;
    if (path_is(path, "/auth")) {
        const char *auth = header_value(request, "Authorization");
        if (auth == NULL || strcmp(auth, "Bearer parity") != 0) {
            wsx_upgrade_add_header(upgrade, "WWW-Authenticate", "Basic realm=\"wsx\"");
            wsx_upgrade_refuse(upgrade, 401, "Unauthorized");
        }
    } else if (path_is(path, "/upgrade-required")) {
        wsx_upgrade_add_header(upgrade, "Sec-WebSocket-Version", "13");
        wsx_upgrade_refuse(upgrade, 426, "Upgrade Required");
    } else if (path_is(path, "/healthz")) {
        wsx_upgrade_respond(upgrade, 200, NULL, 0, (const uint8_t *)"ok\n", 3);
    } else if (path_is(path, "/moved")) {
        wsx_header location = {"Location", "/echo"};
        wsx_upgrade_respond(upgrade, 302, &location, 1, NULL, 0);
    } else if (path_is(path, "/metrics") && metered != NULL) {
        /* One per loop thread (the loops endpoint calls from two). */
        static _Thread_local char text[32 * 1024];
        size_t needed = 0;
        if (wsx_server_metrics_text(metered, text, sizeof text, &needed) != WSX_OK) die("metrics text");
        wsx_header type = {"Content-Type", wsx_metrics_content_type()};
        wsx_upgrade_respond(upgrade, 200, &type, 1, (const uint8_t *)text, needed - 1);
    }
}

/* --------------------------------------------------------- connections */

struct message {
    wsx_msg_kind kind;
    uint8_t *data;
    size_t len, cap;
};

enum got { GOT_MESSAGE, GOT_TIMEOUT, GOT_CLOSED };

/* The next whole message, waiting up to timeout_ms (negative: no limit). */
static enum got recv_message(wsx_conn *conn, struct message *m, int timeout_ms) {
    m->len = 0;
    for (;;) {
        if (m->cap - m->len < 65536) {
            m->cap = m->cap * 2 + 65536;
            m->data = realloc(m->data, m->cap);
        }
        wsx_received got = {.struct_size = sizeof got};
        wsx_result r = wsx_conn_recv_timeout(conn, m->data + m->len, m->cap - m->len, timeout_ms, &got);
        if (r == WSX_ERR_TIMEOUT) return GOT_TIMEOUT;
        if (r != WSX_OK) return GOT_CLOSED;
        m->kind = got.kind;
        m->len += got.len;
        if (got.end_of_message) return GOT_MESSAGE;
    }
}

static bool is_text(const struct message *m, const char *text) {
    return m->kind == WSX_MSG_KIND_TEXT && m->len == strlen(text) && memcmp(m->data, text, m->len) == 0;
}

static void send_text(wsx_conn *conn, const char *text) {
    wsx_conn_send_timeout(conn, WSX_MSG_KIND_TEXT, (const uint8_t *)text, strlen(text), 0, SEND_TIMEOUT_MS);
}

static uint8_t *binary_payload(size_t size) {
    uint8_t *p = malloc(size ? size : 1);
    for (size_t i = 0; i < size; i++) p[i] = (uint8_t)(i % 251);
    return p;
}

/* Reads until the client closes (messages are dropped), or until nothing
 * came for timeout_ms. */
static void wait_closed(wsx_conn *conn, struct message *m, int timeout_ms) {
    while (recv_message(conn, m, timeout_ms) == GOT_MESSAGE) {
    }
}

static void flood(wsx_conn *conn, struct message *m, const char *id, size_t size) {
    uint8_t *message = binary_payload(size);
    size_t sent = 0;
    const char *state = "not_held_back";
    while (sent * size < FLOOD_LIMIT) {
        wsx_result r = wsx_conn_send(conn, WSX_MSG_KIND_BINARY, message, size);
        if (r == WSX_ERR_WOULD_BLOCK) {
            /* Outrunning a reader is not being held back by it. */
            sleep_ms(HELD_BACK_PAUSE_MS);
            r = wsx_conn_send(conn, WSX_MSG_KIND_BINARY, message, size);
            if (r == WSX_ERR_WOULD_BLOCK) {
                state = "held_back";
                break;
            }
        }
        if (r != WSX_OK) break;
        sent++;
    }
    free(message);
    board_post("flood:", id, state);
    char text[64];
    snprintf(text, sizeof text, "%s %zu", state, sent);
    send_text(conn, text);
    wait_closed(conn, m, 60000);
}

static void stall(wsx_conn *conn, struct message *m, const char *id) {
    free(board_wait("release:", id));
    size_t count = 0;
    while (recv_message(conn, m, -1) == GOT_MESSAGE && !is_text(m, "end")) count++;
    char text[64];
    snprintf(text, sizeof text, "received %zu messages", count);
    send_text(conn, text);
    wait_closed(conn, m, WAIT_CLOSED_MS);
}

static void answer_side(wsx_conn *conn, struct message *m, const char *prefix, const char *id) {
    char *value = board_wait(prefix, id);
    send_text(conn, value ? value : "timed out");
    free(value);
    wait_closed(conn, m, WAIT_CLOSED_MS);
}

/* The loops endpoint's server, which /room publishes on. */
static wsx_server *rooms;

/* /room?id=U: joins topic "room:U", says "joined", then "publish X"
 * publishes X to the room (the sender included) and answers "reached N";
 * anything else is echoed. */
static void room(wsx_conn *conn, struct message *m, const char *id) {
    char topic[300], reached[64];
    snprintf(topic, sizeof topic, "room:%s", id);
    if (wsx_conn_subscribe(conn, topic) != WSX_OK) die("subscribe");
    send_text(conn, "joined");
    while (recv_message(conn, m, -1) == GOT_MESSAGE) {
        if (m->kind == WSX_MSG_KIND_TEXT && m->len > 8 && memcmp(m->data, "publish ", 8) == 0) {
            size_t count = 0;
            if (wsx_server_publish(rooms, topic, WSX_MSG_KIND_TEXT, m->data + 8, m->len - 8, NULL, &count) != WSX_OK)
                die("publish");
            snprintf(reached, sizeof reached, "reached %zu", count);
            send_text(conn, reached);
        } else {
            wsx_conn_send_timeout(conn, m->kind, m->data, m->len, 0, SEND_TIMEOUT_MS);
        }
    }
}

static void handle(wsx_conn *conn, const char *path, const char *host) {
    struct message m = {0};
    char id[256] = "", arg[256];
    query_value(path, "id", id, sizeof id);
    if (path_is(path, "/whoami")) {
        wsx_peer_identity who = {.struct_size = sizeof who};
        send_text(conn, wsx_conn_peer_identity(conn, &who) == WSX_OK && who.subject ? who.subject : "");
        wait_closed(conn, &m, WAIT_CLOSED_MS);
    } else if (path_is(path, "/echo") || path_is(path, "/auth") || path_is(path, "/host")) {
        if (path_is(path, "/host")) send_text(conn, host);
        while (recv_message(conn, &m, -1) == GOT_MESSAGE) {
            wsx_conn_send_timeout(conn, m.kind, m.data, m.len, 0, SEND_TIMEOUT_MS);
        }
    } else if (path_is(path, "/record")) {
        wait_closed(conn, &m, -1);
        wsx_close_info info = {.struct_size = sizeof info};
        char value[256] = "";
        if (wsx_conn_close_info(conn, &info) == WSX_OK) {
            /* The peer's reason, as websockets' close_reason ("" with 1006,
             * where info.reason says what happened instead). */
            snprintf(value, sizeof value, "%u:%.*s", info.code, (int)info.rcvd_reason_len, info.rcvd_reason);
        }
        board_post("closed:", id, value);
    } else if (path_is(path, "/closed")) {
        answer_side(conn, &m, "closed:", id);
    } else if (path_is(path, "/close")) {
        /* No code means a close frame without a status code. */
        const char *code = query_value(path, "code", arg, sizeof arg);
        uint16_t status = code ? (uint16_t)atoi(code) : 1005;
        char reason[256] = "";
        query_value(path, "reason", reason, sizeof reason);
        wsx_conn_close(conn, status, reason);
    } else if (path_is(path, "/flood")) {
        flood(conn, &m, id, (size_t)atol(query_value(path, "size", arg, sizeof arg) ? arg : "0"));
    } else if (path_is(path, "/status")) {
        answer_side(conn, &m, "flood:", id);
    } else if (path_is(path, "/stall")) {
        stall(conn, &m, id);
    } else if (path_is(path, "/release")) {
        board_post("release:", id, "released");
        send_text(conn, "released");
        wait_closed(conn, &m, WAIT_CLOSED_MS);
    } else if (path_is(path, "/hold")) {
        for (int i = 0; i < WAIT_CLOSED_MS / 50 && wsx_conn_state(conn) != WSX_STATE_CLOSED; i++) sleep_ms(50);
    } else if (path_is(path, "/room")) {
        room(conn, &m, id);
    } else if (path_is(path, "/send")) {
        size_t size = (size_t)atol(query_value(path, "size", arg, sizeof arg) ? arg : "0");
        uint8_t *data = binary_payload(size);
        wsx_conn_send_timeout(conn, WSX_MSG_KIND_BINARY, data, size, 0, SEND_TIMEOUT_MS);
        free(data);
        wait_closed(conn, &m, WAIT_CLOSED_MS);
    } else {
        char reason[120];
        snprintf(reason, sizeof reason, "no such path %.*s", (int)strcspn(path, "?"), path);
        wsx_conn_close(conn, 1008, reason);
    }
    free(m.data);
}

/* The restart endpoint: the text "restart" shuts the server down (1001 to
 * every connection) and serves again on the same port; the text "drain"
 * does the same with the drain's 1012 "restart". */
static void *restart(void *arg);

struct restart_job {
    struct endpoint *ep;
    uint16_t code;
};

static void handle_restartable(struct endpoint *ep, wsx_conn *conn) {
    struct message m = {0};
    while (recv_message(conn, &m, -1) == GOT_MESSAGE) {
        if (is_text(&m, "restart") || is_text(&m, "drain")) {
            struct restart_job *job = malloc(sizeof *job);
            job->ep = ep;
            job->code = is_text(&m, "restart") ? 1001 : 1012;
            pthread_t t;
            pthread_create(&t, NULL, restart, job);
            pthread_detach(t);
            wait_closed(conn, &m, WAIT_CLOSED_MS); /* the shutdown closes it with the code */
            break;
        }
        wsx_conn_send_timeout(conn, m.kind, m.data, m.len, 0, SEND_TIMEOUT_MS);
    }
    free(m.data);
}

struct handler_job {
    struct endpoint *ep;
    wsx_conn *conn; /* a reference of the job's own */
    char *path;
    char *host; /* the request's Host header ("" without one), for /host */
};

static void *handler_thread(void *arg) {
    struct handler_job *job = arg;
    if (job->ep->restartable) {
        handle_restartable(job->ep, job->conn);
    } else {
        handle(job->conn, job->path, job->host);
    }
    /* As when wsx.sync's handler returns: the connection closes (1000). */
    wsx_conn_close(job->conn, 1000, NULL);
    wsx_conn_release(job->conn);
    free(job->path);
    free(job->host);
    free(job);
    return NULL;
}

static void on_open(void *user_data, wsx_conn *conn, const wsx_open *open) {
    struct handler_job *job = malloc(sizeof *job);
    job->ep = user_data;
    job->conn = wsx_conn_retain(conn);
    job->path = strdup(open->path);
    job->host = strdup("");
    for (size_t i = 0; i < open->headers_len; i++) {
        if (strcasecmp(open->headers[i].name, "Host") == 0) {
            free(job->host);
            job->host = strdup(open->headers[i].value);
        }
    }
    pthread_t t;
    if (pthread_create(&t, NULL, handler_thread, job) != 0) die("pthread_create");
    pthread_detach(t);
}

static void on_shutdown(void *user_data) {
    struct endpoint *ep = user_data;
    pthread_mutex_lock(&ep->stop_lock);
    ep->stopped = true;
    pthread_cond_broadcast(&ep->stop_cond);
    pthread_mutex_unlock(&ep->stop_lock);
}

static void listen_on(struct endpoint *ep) {
    wsx_conn_callbacks conn = {.struct_size = sizeof conn, .user_data = ep, .on_open = on_open};
    wsx_server_callbacks callbacks = {.struct_size = sizeof callbacks, .user_data = ep, .conn = &conn,
                                      .on_upgrade = on_upgrade, .on_shutdown = on_shutdown};
    ep->stopped = false;
    if (wsx_loop_listen(loop, ep->options, &callbacks, &ep->server) != WSX_OK) die(ep->name);
    ep->port = wsx_server_port(ep->server);
}

static void *restart(void *arg) {
    struct restart_job *job = arg;
    struct endpoint *ep = job->ep;
    if (wsx_server_drain(ep->server, job->code, job->code == 1001 ? NULL : "restart", 5000) != WSX_OK) die("drain");
    pthread_mutex_lock(&ep->stop_lock);
    while (!ep->stopped) pthread_cond_wait(&ep->stop_cond, &ep->stop_lock);
    pthread_mutex_unlock(&ep->stop_lock);
    wsx_server_free(ep->server);
    if (job->code == 1001) sleep_ms(200);
    if (wsx_server_options_set_port(ep->options, ep->port) != WSX_OK) die("port");
    listen_on(ep);
    free(job);
    return NULL;
}

/* wsx_server.py's OPTIONS: subprotocols superchat then chat, the HTTP
 * answers for plain requests too, no keepalive, a one-message inbox. */
static struct endpoint *endpoint(const char *name, const char *host) {
    struct endpoint *ep = calloc(1, sizeof *ep);
    ep->name = name;
    pthread_mutex_init(&ep->stop_lock, NULL);
    pthread_cond_init(&ep->stop_cond, NULL);
    if (wsx_server_options_new(&ep->options) != WSX_OK) die("options");
    wsx_conn_options *conn = wsx_server_options_conn(ep->options);
    wsx_inbox_options inbox = {.struct_size = sizeof inbox};
    wsx_inbox_options_default(&inbox);
    inbox.high_messages = 1;
    inbox.low_messages = 0;
    if ((host != NULL && wsx_server_options_set_host(ep->options, host) != WSX_OK) ||
        wsx_server_options_set_plain_http(ep->options, true) != WSX_OK ||
        wsx_conn_options_add_subprotocol(conn, "superchat") != WSX_OK ||
        wsx_conn_options_add_subprotocol(conn, "chat") != WSX_OK ||
        wsx_conn_options_set_keepalive(conn, 0, 0) != WSX_OK || wsx_conn_options_set_inbox(conn, &inbox) != WSX_OK) {
        die(name);
    }
    return ep;
}

static char *tls_path(const char *file) {
    const char *dir = getenv("WSX_PARITY_TLS");
    if (dir == NULL) {
        fprintf(stderr, "wsx_server.c: WSX_PARITY_TLS is not set\n");
        exit(1);
    }
    size_t n = strlen(dir) + strlen(file) + 2;
    char *path = malloc(n);
    snprintf(path, n, "%s/%s", dir, file);
    return path;
}

int main(void) {
    if (wsx_loop_new(&loop) != WSX_OK || wsx_loop_start_thread(loop) != WSX_OK) die("loop");
    struct endpoint *main_ep = endpoint("main", "127.0.0.1"), *ipv6 = endpoint("ipv6", "::1"),
                    *origin = endpoint("origin", "127.0.0.1"), *restart_ep = endpoint("restart", "127.0.0.1"),
                    *drain = endpoint("drain", "127.0.0.1"), *mtls = endpoint("mtls", "127.0.0.1"),
                    *deflate = endpoint("deflate", "127.0.0.1"),
                    *deflate_shared = endpoint("deflate_shared", "127.0.0.1"),
                    *loops = endpoint("loops", "127.0.0.1");
    restart_ep->restartable = drain->restartable = true;
    if (wsx_server_options_add_origin(origin->options, "https://good.example") != WSX_OK) die("origin");
    if (wsx_server_options_set_tls(mtls->options, tls_path("server.pem"), tls_path("server.key")) != WSX_OK ||
        wsx_server_options_set_tls_client_auth(mtls->options, tls_path("client-ca.pem"), true, NULL) != WSX_OK) {
        die("mtls");
    }
    wsx_deflate_options params = {.struct_size = sizeof params};
    if (wsx_deflate_options_default(&params) != WSX_OK ||
        wsx_conn_options_set_compression(wsx_server_options_conn(deflate->options), &params) != WSX_OK) {
        die("deflate");
    }
    params.shared_compressor = true;
    if (wsx_conn_options_set_compression(wsx_server_options_conn(deflate_shared->options), &params) != WSX_OK) {
        die("deflate_shared");
    }
    /* The main paths and /room on a server spread over two loop threads. */
    if (wsx_server_options_set_loops(loops->options, 2) != WSX_OK) die("loops");
    struct endpoint *all[] = {main_ep, origin, restart_ep, drain, mtls, ipv6, deflate, deflate_shared, loops};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) listen_on(all[i]);
    rooms = loops->server;
    /* The main paths on the Unix domain socket run.py names, as wsx_server.py
     * serves them (not announced: run.py knows the path). */
    struct endpoint *unix_ep = endpoint("unix", NULL);
    const char *unix_path = getenv("WSX_PARITY_UNIX");
    if (unix_path == NULL || wsx_server_options_set_unix_socket(unix_ep->options, unix_path, false) != WSX_OK) {
        die("unix");
    }
    listen_on(unix_ep);
    metered = main_ep->server;
    printf("{");
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        printf("%s\"%s\": %u", i ? ", " : "", all[i]->name, all[i]->port);
    }
    printf("}\n");
    fflush(stdout);
    /* Runs until run.py closes stdin (common.wait_for_stdin_eof). */
    char buf[256];
    while (read(0, buf, sizeof buf) > 0) {
    }
    _exit(0);
}
