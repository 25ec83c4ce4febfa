/*
 * The C parity runner: runs the flat scenario file tests/parity/run.py
 * writes (FORMAT.md) with the wsx C ABI 0.2 (include/wsx.h), maps every
 * result to the suite's language-neutral kinds and prints one line per
 * scenario: "ok ID", "FAIL ID: expected .. got ..", "skip ID: why".
 * Exit status 1 if any scenario failed.
 *
 *     runner_c [--api loop|engine] build/parity/py-c.flat [id,id,...]
 *
 * --api loop (the default): the loop runs on its own thread
 * (wsx_loop_start_thread); connections use pull mode (an inbox): this thread
 * takes messages with wsx_conn_recv_timeout and sends with
 * wsx_conn_send_timeout, so every wait is bounded by the file's timeout. How
 * a connection ended comes from the close event (code, reason, origin).
 *
 * --api engine: the same steps through wsx_engine over the runner's own
 * socket (bring your own I/O: runner_c_engine.c); the same options object
 * configures it.
 */
#include "runner_c.h"

#include <errno.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ flat file */

#define MAX_FIELDS 16
#define MAX_LINES 64

typedef struct line {
    char *keyword;
    int n;
    char *key[MAX_FIELDS];
    char *value[MAX_FIELDS];
} line;

typedef struct scenario {
    line *head;
    line *lines[MAX_LINES];
    int n;
} scenario;

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Percent-decodes in place; returns the decoded length. */
static size_t unescape(char *s) {
    char *out = s;
    for (char *p = s; *p; p++) {
        if (*p == '%' && hexval(p[1]) >= 0 && hexval(p[2]) >= 0) {
            *out++ = (char)(hexval(p[1]) * 16 + hexval(p[2]));
            p += 2;
        } else {
            *out++ = *p;
        }
    }
    *out = 0;
    return (size_t)(out - s);
}

static line *parse_line(char *text) {
    line *l = calloc(1, sizeof *l);
    char *save = NULL;
    l->keyword = strtok_r(text, " \n", &save);
    for (char *tok; l->n < MAX_FIELDS && (tok = strtok_r(NULL, " \n", &save));) {
        char *eq = strchr(tok, '=');
        if (!eq) continue;
        *eq = 0;
        l->key[l->n] = tok;
        l->value[l->n] = eq + 1;
        unescape(eq + 1);
        l->n++;
    }
    return l;
}

static const char *get(const line *l, const char *key) {
    for (int i = 0; i < l->n; i++)
        if (strcmp(l->key[i], key) == 0) return l->value[i];
    return NULL;
}

static double num(const line *l, const char *key) {
    const char *v = get(l, key);
    return v ? strtod(v, NULL) : 0;
}

/* ------------------------------------------------------------------ failures */

typedef struct run {
    const scenario *s;
    int timeout_ms;
    char uid[16];
    char failure[1024];
    int failed;
    long sent_until_blocked;
    /* the held-back message, sent again by finish_pending */
    unsigned char *pending;
    size_t pending_len;
    wsx_msg_kind pending_kind;
    int closed_by_us;
    char response_headers[4096]; /* the refused handshake's, from the error event */
    /* option resolve: the addresses the resolver answers, comma-separated,
     * and the names it was asked for (written on the loop thread before the
     * open, read after it) */
    char resolve[512];
    char asked[256];
    wsx_metrics before; /* the loop's counters when the scenario began */
} run;

static void fail(run *r, const char *fmt, ...) {
    if (r->failed) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->failure, sizeof r->failure, fmt, ap);
    va_end(ap);
    r->failed = 1;
}

/* ------------------------------------------------------------------ connections */

/* Which client API the steps go through (--api). */
static int engine_api;

static void peer_unref(peer *p) {
    pthread_mutex_lock(&p->mu);
    int left = --p->refs;
    pthread_mutex_unlock(&p->mu);
    if (left == 0) {
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->cv);
        free(p);
    }
}

static void on_free(void *user_data) { peer_unref(user_data); }

static void on_open(void *user_data, wsx_conn *conn, const wsx_open *open) {
    (void)conn;
    peer *p = user_data;
    pthread_mutex_lock(&p->mu);
    if (open->is_reconnect) p->reconnected = 1;
    p->opened = 1;
    p->has_subprotocol = open->subprotocol != NULL;
    snprintf(p->subprotocol, sizeof p->subprotocol, "%s", open->subprotocol ? open->subprotocol : "");
    /* The loop says what it agreed in the response it read. */
    for (size_t i = 0; i < open->headers_len; i++)
        if (strcasecmp(open->headers[i].name, "Sec-WebSocket-Extensions") == 0 &&
            strstr(open->headers[i].value, "permessage-deflate"))
            p->deflate = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

void keep_headers(peer *p, const wsx_header *headers, size_t count) {
    size_t at = 0;
    p->response_headers[0] = 0;
    for (size_t i = 0; i < count && at < sizeof p->response_headers; i++) {
        int n = snprintf(p->response_headers + at, sizeof p->response_headers - at, "%s: %s\n", headers[i].name,
                         headers[i].value);
        if (n < 0) break;
        at += (size_t)n;
    }
}

static void on_error(void *user_data, wsx_conn *conn, const wsx_error *error) {
    (void)conn;
    peer *p = user_data;
    pthread_mutex_lock(&p->mu);
    p->library_error = 1;
    p->error_code = error->code;
    p->http_status = error->http_status;
    snprintf(p->error_message, sizeof p->error_message, "%s", error->message ? error->message : "");
    keep_headers(p, error->headers, error->headers_len);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

static void on_close(void *user_data, wsx_conn *conn, const wsx_close *close) {
    (void)conn;
    peer *p = user_data;
    pthread_mutex_lock(&p->mu);
    p->closed = 1;
    p->close_code = close->code;
    size_t n = close->reason_len < sizeof p->close_reason - 1 ? close->reason_len : sizeof p->close_reason - 1;
    memcpy(p->close_reason, close->reason ? close->reason : "", close->reason ? n : 0);
    p->close_reason[close->reason ? n : 0] = 0;
    p->close_origin = close->origin;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct timespec deadline_in(int ms) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

/* Waits until *flag (read under the peer's lock) is set; 0 on timeout. */
static int wait_flag(peer *p, const int *flag, const int *or_flag, int ms) {
    if (engine_api) return engine_wait(p, flag, or_flag, ms);
    struct timespec until = deadline_in(ms);
    pthread_mutex_lock(&p->mu);
    int rc = 0;
    while (!*flag && !(or_flag && *or_flag) && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&p->cv, &p->mu, &until);
    int ok = *flag || (or_flag && *or_flag);
    pthread_mutex_unlock(&p->mu);
    return ok;
}

const char *kind_of(wsx_result code, int http_status) {
    switch (code) {
    case WSX_ERR_INVALID_ARGUMENT: return "invalid_option";
    case WSX_ERR_HANDSHAKE: return http_status ? "handshake_refused" : "handshake_invalid";
    case WSX_ERR_TIMEOUT: return "open_timeout";
    case WSX_ERR_CONNECT:
    case WSX_ERR_DNS: return "connect_failed";
    case WSX_ERR_TLS: return "tls_failed";
    default: return wsx_result_str(code);
    }
}

static wsx_loop *loop;
static wsx_defaults defaults;

/* The client's resolver hook (option resolve): answers every name with the
 * scenario's addresses, on the loop thread, and records the names asked. */
static void resolve(void *user_data, wsx_resolution *resolution) {
    run *r = user_data;
    size_t at = strlen(r->asked);
    snprintf(r->asked + at, sizeof r->asked - at, "%s%s", at ? "," : "", wsx_resolution_host(resolution));
    char list[512], *save = NULL;
    const char *addresses[8];
    size_t n = 0;
    snprintf(list, sizeof list, "%s", r->resolve);
    for (char *a = strtok_r(list, ",", &save); a && n < 8; a = strtok_r(NULL, ",", &save)) addresses[n++] = a;
    if (wsx_resolution_answer(resolution, addresses, n) != WSX_OK) wsx_resolution_fail(resolution, wsx_last_error_message());
    wsx_resolution_free(resolution);
}

/* Builds the client options of a scenario; returns the first setter's failure. */
static wsx_result options_of(run *run_of, const scenario *s, wsx_client_options *o, char *why, size_t why_len) {
    wsx_conn_options *co = wsx_client_options_conn(o);
    wsx_inbox_options inbox = {.struct_size = sizeof inbox};
    wsx_inbox_options_default(&inbox);
    uint32_t ping_interval = defaults.keepalive_interval_ms, ping_timeout = defaults.keepalive_timeout_ms;
    int keepalive = 0;
    wsx_result r = WSX_OK;
    for (int i = 0; i < s->n && r == WSX_OK; i++) {
        const line *l = s->lines[i];
        if (strcmp(l->keyword, "option") != 0) continue;
        const char *v;
        if ((v = get(l, "subprotocol"))) r = wsx_conn_options_add_subprotocol(co, v);
        else if ((v = get(l, "header_name"))) r = wsx_client_options_add_header(o, v, get(l, "header_value"));
        else if ((v = get(l, "origin"))) r = wsx_client_options_set_origin(o, v);
        else if ((v = get(l, "ca_file"))) r = wsx_client_options_set_tls_ca_file(o, v);
        else if ((v = get(l, "client_cert"))) r = wsx_client_options_set_tls_client_cert(o, v, get(l, "client_key"));
        else if ((v = get(l, "resolve"))) {
            snprintf(run_of->resolve, sizeof run_of->resolve, "%s", v);
            r = wsx_client_options_set_resolver(o, resolve, run_of, NULL);
        }
        else if ((v = get(l, "unix_socket_path"))) r = wsx_client_options_set_unix_socket_path(o, v);
        else if ((v = get(l, "max_size"))) r = wsx_conn_options_set_max_message_size(co, (size_t)strtoull(v, NULL, 10));
        else if ((v = get(l, "compression"))) r = atoi(v) ? WSX_OK : wsx_conn_options_set_compression(co, NULL);
        else if ((v = get(l, "max_queue"))) {
            inbox.high_messages = (size_t)strtoull(v, NULL, 10);
            inbox.low_messages = inbox.high_messages / 4; /* as python-websockets (and wsx Python) do */
        } else if ((v = get(l, "open_timeout"))) {
            uint32_t ms = (uint32_t)(strtod(v, NULL) * 1000);
            r = wsx_client_options_set_connect_timeout_ms(o, ms);
            if (r == WSX_OK) r = wsx_conn_options_set_handshake_timeout_ms(co, ms);
        } else if ((v = get(l, "ping_interval"))) {
            ping_interval = (uint32_t)(strtod(v, NULL) * 1000);
            keepalive = 1;
        } else if ((v = get(l, "ping_timeout"))) {
            ping_timeout = (uint32_t)(strtod(v, NULL) * 1000);
            keepalive = 1;
        } else if ((v = get(l, "close_timeout")))
            r = wsx_conn_options_set_close_timeout_ms(co, (uint32_t)(strtod(v, NULL) * 1000));
        else if (get(l, "reconnect")) {
            wsx_reconnect_options rc = {.struct_size = sizeof rc};
            wsx_reconnect_options_default(&rc);
            if (get(l, "initial_delay")) rc.initial_delay_ms = (uint32_t)(num(l, "initial_delay") * 1000);
            if (get(l, "max_delay")) rc.max_delay_ms = (uint32_t)(num(l, "max_delay") * 1000);
            if (get(l, "max_attempts")) rc.max_attempts = (uint32_t)num(l, "max_attempts");
            if (get(l, "factor")) rc.factor = num(l, "factor");
            r = wsx_client_options_set_reconnect(o, &rc);
        } else {
            snprintf(why, why_len, "runner does not know option %s", l->n ? l->key[0] : "?");
            return WSX_ERR_PANIC;
        }
    }
    if (r == WSX_OK && keepalive) r = wsx_conn_options_set_keepalive(co, ping_interval, ping_timeout);
    if (r == WSX_OK) r = wsx_conn_options_set_inbox(co, &inbox);
    if (r != WSX_OK) snprintf(why, why_len, "%s", wsx_last_error_message());
    return r;
}

/* Lets go of a connection (the engine API also ends its transport). */
static void release_conn(run *r, peer *p) {
    if (engine_api) engine_release(p, r->timeout_ms);
    else wsx_conn_release(p->conn);
    peer_unref(p);
}

/* Connects and waits for the open (or the end). On failure *kind and
 * *status say why and NULL is returned. */
static peer *open_conn(run *r, const char *url, const scenario *options_from, const char **kind, int *status,
                       char *why, size_t why_len) {
    *kind = NULL;
    *status = 0;
    wsx_client_options *o = NULL;
    wsx_client_options_new(&o);
    if (options_from) {
        wsx_result res = options_of(r, options_from, o, why, why_len);
        if (res != WSX_OK) {
            wsx_client_options_free(o);
            *kind = res == WSX_ERR_PANIC ? why : kind_of(res, 0);
            return NULL;
        }
    } else {
        wsx_inbox_options inbox = {.struct_size = sizeof inbox};
        wsx_inbox_options_default(&inbox);
        wsx_conn_options_set_inbox(wsx_client_options_conn(o), &inbox);
    }
    peer *p = calloc(1, sizeof *p);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->refs = engine_api ? 1 : 2;
    wsx_result res;
    if (engine_api) {
        res = engine_connect(p, url, o, r->timeout_ms, why, why_len);
    } else {
        wsx_conn_callbacks cb = {0};
        cb.struct_size = sizeof cb;
        cb.user_data = p;
        cb.free_user_data = on_free;
        cb.on_open = on_open;
        cb.on_error = on_error;
        cb.on_close = on_close;
        res = wsx_loop_connect(loop, url, o, &cb, &p->conn);
        if (res != WSX_OK) {
            snprintf(why, why_len, "%s", wsx_last_error_message());
            p->refs--; /* the library already ran free_user_data */
        }
    }
    wsx_client_options_free(o);
    if (res != WSX_OK) {
        *kind = kind_of(res, 0);
        peer_unref(p);
        return NULL;
    }
    if (!wait_flag(p, &p->opened, &p->closed, r->timeout_ms + 2000)) {
        snprintf(why, why_len, "no open or close within %d ms", r->timeout_ms + 2000);
        *kind = "timeout waiting for the handshake";
    } else if (!p->opened) {
        pthread_mutex_lock(&p->mu);
        snprintf(why, why_len, "%s", p->error_message);
        *kind = p->library_error ? kind_of(p->error_code, p->http_status) : "closed before open";
        /* With your own I/O, TLS is the program's layer: its failure is the runner's to see. */
        if (engine_tls_failed(p)) *kind = "tls_failed";
        *status = p->http_status;
        snprintf(r->response_headers, sizeof r->response_headers, "%s", p->response_headers);
        pthread_mutex_unlock(&p->mu);
    } else {
        return p;
    }
    release_conn(r, p);
    return NULL;
}

static void close_conn(run *r, peer *p) {
    if (!p) return;
    if (!engine_api && wsx_conn_close(p->conn, 1000, NULL) == WSX_OK) wait_flag(p, &p->closed, NULL, r->timeout_ms);
    release_conn(r, p);
}

/* ------------------------------------------------------------------ payloads */

static void expand_text(run *r, const char *text, message *m) {
    /* "{sent}" is the number of messages send_until_blocked sent. */
    const char *at = strstr(text, "{sent}");
    char buf[256];
    if (at) {
        snprintf(buf, sizeof buf, "%.*s%ld%s", (int)(at - text), text, r->sent_until_blocked, at + 6);
        text = buf;
    }
    m->len = strlen(text);
    m->data = malloc(m->len + 1);
    memcpy(m->data, text, m->len + 1);
}

static message payload(run *r, const line *l) {
    message m = {0};
    const char *type = get(l, "type");
    m.kind = type && strcmp(type, "text") == 0 ? WSX_MSG_KIND_TEXT : WSX_MSG_KIND_BINARY;
    const char *v;
    if ((v = get(l, "hex"))) {
        m.len = strlen(v) / 2;
        m.data = malloc(m.len + 1);
        for (size_t i = 0; i < m.len; i++) m.data[i] = (unsigned char)(hexval(v[2 * i]) * 16 + hexval(v[2 * i + 1]));
    } else if ((v = get(l, "text"))) {
        expand_text(r, v, &m);
    } else {
        m.len = (size_t)strtoull(get(l, "size"), NULL, 10);
        m.data = malloc(m.len + 1);
        for (size_t i = 0; i < m.len; i++)
            m.data[i] = m.kind == WSX_MSG_KIND_TEXT ? (unsigned char)(97 + i % 26) : (unsigned char)(i % 251);
    }
    return m;
}

static void describe(const message *m, char *out, size_t n) {
    const char *kind = m->kind == WSX_MSG_KIND_TEXT ? "text" : "binary";
    if (m->kind == WSX_MSG_KIND_TEXT && m->len <= 40)
        snprintf(out, n, "%s '%.*s'", kind, (int)m->len, (const char *)m->data);
    else
        snprintf(out, n, "%s of %zu bytes", kind, m->len);
}

/* Receives one whole message: WSX_OK, WSX_ERR_CLOSED or WSX_ERR_TIMEOUT. */
static wsx_result recv_message(run *r, peer *p, message *m) {
    if (engine_api) return engine_recv(p, m, r->timeout_ms);
    size_t cap = 64 * 1024, len = 0;
    unsigned char *buf = malloc(cap);
    for (;;) {
        wsx_received got = {.struct_size = sizeof got};
        wsx_result res = wsx_conn_recv_timeout(p->conn, buf + len, cap - len, r->timeout_ms, &got);
        if (res != WSX_OK) {
            free(buf);
            return res;
        }
        len += got.len;
        m->kind = got.kind;
        if (got.end_of_message) break;
        if (cap - len < got.remaining) {
            cap = len + got.remaining;
            buf = realloc(buf, cap);
        }
    }
    m->data = buf;
    m->len = len;
    return WSX_OK;
}

/* ------------------------------------------------------------------ steps */

static void expect_closed(run *r, peer *p, const line *l) {
    if (!r->closed_by_us) {
        message m = {0};
        wsx_result res = recv_message(r, p, &m);
        if (res == WSX_OK) {
            char d[128];
            describe(&m, d, sizeof d);
            free(m.data);
            fail(r, "expected closed got %s", d);
            return;
        }
        if (res != WSX_ERR_CLOSED) {
            fail(r, "expected closed got %s after %d ms", wsx_result_str(res), r->timeout_ms);
            return;
        }
    }
    if (!wait_flag(p, &p->closed, NULL, r->timeout_ms)) {
        fail(r, "expected closed got no close event within %d ms", r->timeout_ms);
        return;
    }
    pthread_mutex_lock(&p->mu);
    const char *by = p->close_origin == WSX_CLOSE_ORIGIN_LOCAL    ? "local"
                     : p->close_origin == WSX_CLOSE_ORIGIN_REMOTE ? "remote"
                                                                  : "transport";
    char got[512];
    snprintf(got, sizeof got, "code %d reason '%s' by %s", p->close_code, p->close_reason, by);
    const char *v;
    if ((v = get(l, "code")) && atoi(v) != p->close_code) fail(r, "expected closed code %s got %s", v, got);
    else if ((v = get(l, "reason")) && strcmp(v, p->close_reason) != 0) fail(r, "expected closed reason '%s' got %s", v, got);
    else if ((v = get(l, "by")) && strcmp(v, by) != 0) fail(r, "expected closed by %s got %s", v, got);
    pthread_mutex_unlock(&p->mu);
}

/* The URL of another connection to the scenario's endpoint at `path`. */
static void side_url(run *r, const char *path, char *url, size_t cap) {
    const char *at = strstr(path, "{uid}");
    if (at)
        snprintf(url, cap, "%s%.*s%s%s", get(r->s->head, "side_base"), (int)(at - path), path, r->uid, at + 5);
    else
        snprintf(url, cap, "%s%s", get(r->s->head, "side_base"), path);
}

static void side(run *r, const line *l) {
    char url[1024], why[512];
    const char *path = get(l, "path");
    side_url(r, path, url, sizeof url);
    const char *kind;
    int status;
    peer *q = open_conn(r, url, NULL, &kind, &status, why, sizeof why);
    if (!q) {
        fail(r, "side request %s: %s (%s)", path, kind, why);
        return;
    }
    message m = {0};
    wsx_result res = recv_message(r, q, &m);
    if (res != WSX_OK) fail(r, "side request %s: expected '%s' got %s", path, get(l, "expect_text"), wsx_result_str(res));
    else if (m.len != strlen(get(l, "expect_text")) || memcmp(m.data, get(l, "expect_text"), m.len) != 0)
        fail(r, "side request %s: expected '%s' got '%.*s'", path, get(l, "expect_text"), (int)m.len, (const char *)m.data);
    free(m.data);
    close_conn(r, q);
}

/* A loop counter by its scenario name (closes_1000: closes with 1000). */
static int counter(const wsx_metrics *m, const char *name, uint64_t *out) {
    static const struct { const char *name; size_t offset; } known[] = {
        {"connections_open", offsetof(wsx_metrics, connections_open)},
        {"connections_opened", offsetof(wsx_metrics, connections_opened)},
        {"messages_in", offsetof(wsx_metrics, messages_in)},
        {"messages_out", offsetof(wsx_metrics, messages_out)},
        {"bytes_in", offsetof(wsx_metrics, bytes_in)},
        {"bytes_out", offsetof(wsx_metrics, bytes_out)},
        {"closes_1000", offsetof(wsx_metrics, closes_1000)},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        if (strcmp(known[i].name, name) == 0) {
            memcpy(out, (const char *)m + known[i].offset, sizeof *out);
            return 1;
        }
    }
    return 0;
}

/* The loop's counters changed by the step's values since the scenario
 * began (waited for: they are counted on the loop thread). */
static void loop_metrics(run *r, const line *l) {
    char got[512];
    for (long long deadline = now_ms() + r->timeout_ms;;) {
        wsx_metrics now = {.struct_size = sizeof now};
        if (wsx_loop_metrics(loop, &now) != WSX_OK) {
            fail(r, "wsx_loop_metrics: %s", wsx_last_error_message());
            return;
        }
        int same = 1;
        size_t at = 0;
        got[0] = 0;
        for (int i = 0; i < l->n; i++) {
            if (strcmp(l->key[i], "op") == 0) continue;
            uint64_t a, b;
            if (!counter(&now, l->key[i], &a) || !counter(&r->before, l->key[i], &b)) {
                fail(r, "runner does not know counter %s", l->key[i]);
                return;
            }
            long long change = (long long)(a - b);
            same = same && change == atoll(l->value[i]);
            at += (size_t)snprintf(got + at, at < sizeof got ? sizeof got - at : 0, " %s=%lld", l->key[i], change);
        }
        if (same) return;
        if (now_ms() > deadline) {
            fail(r, "expected loop counters to change by the step's values got%s", got);
            return;
        }
        struct timespec pause = {0, 10 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
}

/* Sends a whole message (loop: waiting at most the timeout for room), or a
 * piece of one when `fragment` (fin on the last). */
static wsx_result send_message(run *r, peer *p, const message *m, int fragment, int fin) {
    if (engine_api) return engine_send(p, m->kind, m->data, m->len, fragment, fin);
    if (fragment) return wsx_conn_send_fragment(p->conn, m->kind, m->data, m->len, fin);
    return wsx_conn_send_timeout(p->conn, m->kind, m->data, m->len, 0, r->timeout_ms);
}

/* The next message on `p` is the text `want`; else the scenario fails
 * (naming `who`). Whether it was. */
static int expect_text_on(run *r, peer *p, const char *want, const char *who) {
    message m = {0};
    wsx_result res = recv_message(r, p, &m);
    int ok = res == WSX_OK && m.kind == WSX_MSG_KIND_TEXT && m.len == strlen(want) && memcmp(m.data, want, m.len) == 0;
    if (res != WSX_OK) fail(r, "fanout, %s: expected '%s' got %s", who, want, wsx_result_str(res));
    else if (!ok) fail(r, "fanout, %s: expected '%s' got '%.*s'", who, want, (int)m.len, (const char *)m.data);
    free(m.data);
    return ok;
}

static int send_text_on(run *r, peer *p, const char *text) {
    message m = {WSX_MSG_KIND_TEXT, (unsigned char *)text, strlen(text)};
    wsx_result res = send_message(r, p, &m, 0, 0);
    if (res != WSX_OK) fail(r, "fanout: send: %s (%s)", wsx_result_str(res), wsx_last_error_message());
    return res == WSX_OK;
}

/* `count` more connections join the main one's room (each answered
 * "joined"); the main one publishes `text` to the room: every member gets
 * it once (the echo of a probe sent after it comes next), and the publisher
 * hears how many it reached. */
#define MAX_MEMBERS 8
static void fanout(run *r, peer *p, const line *l) {
    char url[1024], why[512], line_text[512], who[32];
    const char *text = get(l, "text"), *kind;
    int count = atoi(get(l, "count")), status, n = 0;
    peer *all[MAX_MEMBERS + 1] = {p};
    if (count > MAX_MEMBERS) count = MAX_MEMBERS;
    side_url(r, get(l, "path"), url, sizeof url);
    for (; n < count && !r->failed; n++) {
        all[n + 1] = open_conn(r, url, NULL, &kind, &status, why, sizeof why);
        if (!all[n + 1]) {
            fail(r, "fanout: member %d: %s (%s)", n + 1, kind, why);
            break;
        }
        expect_text_on(r, all[n + 1], "joined", "member");
    }
    snprintf(line_text, sizeof line_text, "publish %s", text);
    if (!r->failed && send_text_on(r, p, line_text) && expect_text_on(r, p, text, "publisher")) {
        snprintf(line_text, sizeof line_text, "reached %d", count + 1);
        expect_text_on(r, p, line_text, "publisher");
    }
    for (int i = 1; i <= n && !r->failed; i++) {
        snprintf(who, sizeof who, "member %d", i);
        expect_text_on(r, all[i], text, who);
    }
    for (int i = 0; i <= n && !r->failed; i++) {
        snprintf(who, sizeof who, "connection %d", i);
        if (send_text_on(r, all[i], "probe")) expect_text_on(r, all[i], "probe", who);
    }
    for (int i = 1; i <= n; i++) close_conn(r, all[i]);
}

/* The steps the engine API has: the rest need the loop (backpressure, an
 * inbox, reconnect, its resolver and counters), and the scenarios that use
 * them say cannot_express. */
static int engine_has(const char *op) {
    static const char *ops[] = {"send", "send_many", "send_fragments", "abort", "expect", "close",
                                "expect_closed", "expect_subprotocol", "expect_deflate", "side"};
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
        if (strcmp(op, ops[i]) == 0) return 1;
    return 0;
}

static void step(run *r, peer *p, const line *l) {
    const char *op = get(l, "op");
    if (engine_api && !engine_has(op)) {
        fail(r, "the engine API has no step %s (a cannot_express entry should skip this scenario)", op);
    } else if (strcmp(op, "send") == 0) {
        message m = payload(r, l);
        wsx_result res = send_message(r, p, &m, 0, 0);
        if (res != WSX_OK) fail(r, "send: %s (%s)", wsx_result_str(res), wsx_last_error_message());
        free(m.data);
    } else if (strcmp(op, "send_many") == 0) {
        message m = payload(r, l);
        long count = atol(get(l, "count"));
        for (long i = 0; i < count; i++) {
            wsx_result res = send_message(r, p, &m, 0, 0);
            if (res == WSX_ERR_CLOSED) break; /* the next step says whether that was expected */
            if (res != WSX_OK) {
                fail(r, "send: %s", wsx_result_str(res));
                break;
            }
        }
        free(m.data);
    } else if (strcmp(op, "send_fragments") == 0) {
        /* One message in fragments: wsx_conn_send_fragment per piece, fin on the last. */
        const char *type = get(l, "type"), *pieces = get(l, "pieces");
        wsx_msg_kind kind = strcmp(type, "text") == 0 ? WSX_MSG_KIND_TEXT : WSX_MSG_KIND_BINARY;
        unsigned char buf[1024];
        for (const char *at = pieces;;) {
            const char *end = strchr(at, ',');
            size_t hex = end ? (size_t)(end - at) : strlen(at), n = hex / 2;
            for (size_t i = 0; i < n && i < sizeof buf; i++)
                buf[i] = (unsigned char)(hexval(at[2 * i]) * 16 + hexval(at[2 * i + 1]));
            message piece = {kind, n ? buf : NULL, n};
            wsx_result res = send_message(r, p, &piece, 1, end == NULL);
            if (res != WSX_OK) {
                fail(r, "send_fragment: %s (%s)", wsx_result_str(res), wsx_last_error_message());
                break;
            }
            if (!end) break;
            at = end + 1;
        }
    } else if (strcmp(op, "abort") == 0) {
        r->closed_by_us = 1;
        wsx_result res = engine_api ? engine_abort(p) : wsx_conn_abort(p->conn);
        if (res != WSX_OK) fail(r, "abort: %s (%s)", wsx_result_str(res), wsx_last_error_message());
    } else if (strcmp(op, "expect") == 0) {
        message want = payload(r, l), got = {0};
        char dw[128], dg[128];
        describe(&want, dw, sizeof dw);
        wsx_result res = recv_message(r, p, &got);
        if (res != WSX_OK) {
            pthread_mutex_lock(&p->mu);
            fail(r, "expected %s got %s (close %d '%s')", dw, wsx_result_str(res), p->close_code, p->close_reason);
            pthread_mutex_unlock(&p->mu);
        } else if (got.kind != want.kind || got.len != want.len || memcmp(got.data, want.data, got.len) != 0) {
            describe(&got, dg, sizeof dg);
            fail(r, "expected %s got %s", dw, dg);
        }
        free(want.data);
        free(got.data);
    } else if (strcmp(op, "close") == 0) {
        r->closed_by_us = 1;
        const char *code = get(l, "code");
        /* No code: a close frame without a status, which the RFC designates 1005. */
        uint16_t status = code ? (uint16_t)atoi(code) : 1005;
        wsx_result res = engine_api ? engine_close(p, status, get(l, "reason"))
                                    : wsx_conn_close(p->conn, status, get(l, "reason"));
        if (res != WSX_OK) fail(r, "close: %s (%s)", wsx_result_str(res), wsx_last_error_message());
    } else if (strcmp(op, "expect_closed") == 0) {
        expect_closed(r, p, l);
    } else if (strcmp(op, "expect_subprotocol") == 0) {
        const char *want = get(l, "value");
        pthread_mutex_lock(&p->mu);
        if ((want == NULL) != !p->has_subprotocol || (want && strcmp(want, p->subprotocol) != 0))
            fail(r, "expected subprotocol '%s' got '%s'", want ? want : "(none)", p->has_subprotocol ? p->subprotocol : "(none)");
        pthread_mutex_unlock(&p->mu);
    } else if (strcmp(op, "expect_deflate") == 0) {
        int want = atoi(get(l, "value"));
        pthread_mutex_lock(&p->mu);
        if (want != p->deflate) fail(r, "expected permessage-deflate %s got %s", want ? "on" : "off", p->deflate ? "on" : "off");
        pthread_mutex_unlock(&p->mu);
    } else if (strcmp(op, "side") == 0) {
        side(r, l);
    } else if (strcmp(op, "fanout") == 0) {
        fanout(r, p, l);
    } else if (strcmp(op, "drain_flood") == 0) {
        size_t size = (size_t)strtoull(get(l, "size"), NULL, 10);
        long count = 0;
        for (;;) {
            message m = {0};
            wsx_result res = recv_message(r, p, &m);
            if (res != WSX_OK) {
                fail(r, "flood: %s after %ld messages", wsx_result_str(res), count);
                break;
            }
            if (m.kind == WSX_MSG_KIND_TEXT) {
                char want[64];
                snprintf(want, sizeof want, "held_back %ld", count);
                if (m.len != strlen(want) || memcmp(m.data, want, m.len) != 0)
                    fail(r, "expected '%s' after %ld messages got '%.*s'", want, count, (int)m.len, (const char *)m.data);
                free(m.data);
                break;
            }
            int same = m.len == size;
            for (size_t i = 0; same && i < size; i++) same = m.data[i] == (unsigned char)(i % 251);
            free(m.data);
            if (!same) {
                fail(r, "flood message %ld: expected binary of %zu bytes got %zu bytes or other content", count, size, m.len);
                break;
            }
            count++;
        }
    } else if (strcmp(op, "send_until_blocked") == 0) {
        message m = payload(r, l);
        long max = atol(get(l, "max"));
        for (long i = 0; i < max; i++) {
            wsx_result res = wsx_conn_send(p->conn, m.kind, m.data, m.len);
            r->sent_until_blocked++;
            if (res == WSX_ERR_WOULD_BLOCK) {
                /* Held back: this message goes again once released. */
                r->pending = m.data;
                r->pending_len = m.len;
                r->pending_kind = m.kind;
                return;
            }
            if (res != WSX_OK) {
                fail(r, "send: %s", wsx_result_str(res));
                break;
            }
        }
        if (!r->failed) fail(r, "expected a send to be held back got %ld sends of %zu bytes all done", max, m.len);
        free(m.data);
    } else if (strcmp(op, "finish_pending") == 0) {
        if (!r->pending) {
            fail(r, "no held-back send to finish");
            return;
        }
        wsx_result res = wsx_conn_send_timeout(p->conn, r->pending_kind, r->pending, r->pending_len, 0, r->timeout_ms);
        if (res != WSX_OK) fail(r, "the held-back send after the release: %s", wsx_result_str(res));
        free(r->pending);
        r->pending = NULL;
    } else if (strcmp(op, "expect_resolved") == 0) {
        if (strcmp(r->asked, get(l, "host")) != 0)
            fail(r, "expected the resolver asked for '%s' once got '%s'", get(l, "host"), r->asked);
    } else if (strcmp(op, "loop_metrics") == 0) {
        loop_metrics(r, l);
    } else if (strcmp(op, "wait_reconnected") == 0) {
        if (!wait_flag(p, &p->reconnected, NULL, r->timeout_ms))
            fail(r, "expected a reconnect got none within %d ms", r->timeout_ms);
    } else {
        fail(r, "runner does not know step %s", op);
    }
}

/* Whether "name: value\n" lines hold the field (the name case-insensitively). */
static int has_header(const char *headers, const char *name, const char *value) {
    size_t nl = strlen(name);
    for (const char *at = headers; *at;) {
        const char *end = strchr(at, '\n');
        if (!end) end = at + strlen(at);
        if ((size_t)(end - at) == nl + 2 + strlen(value) && strncasecmp(at, name, nl) == 0 && at[nl] == ':' &&
            strncmp(at + nl + 2, value, strlen(value)) == 0)
            return 1;
        at = *end ? end + 1 : end;
    }
    return 0;
}

static void execute(run *r) {
    const scenario *s = r->s;
    const line *outcome = NULL;
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->lines[i]->keyword, "outcome") == 0) outcome = s->lines[i];
    char url[1024], why[512] = "";
    const char *u = get(s->head, "url"), *at = strstr(u, "{uid}");
    if (at) snprintf(url, sizeof url, "%.*s%s%s", (int)(at - u), u, r->uid, at + 5);
    else snprintf(url, sizeof url, "%s", u);
    const char *kind;
    int status;
    r->before.struct_size = sizeof r->before;
    if (loop) wsx_loop_metrics(loop, &r->before);
    peer *p = open_conn(r, url, s, &kind, &status, why, sizeof why);
    if (!p) {
        if (!outcome) {
            fail(r, "expected the connection to open got %s (%s)", kind, why);
            return;
        }
        const char *want = get(outcome, "error"), *v;
        if (strcmp(want, kind) != 0) fail(r, "expected error %s got %s (%s)", want, kind, why);
        else if ((v = get(outcome, "status")) && atoi(v) != status) fail(r, "expected status %s got %d", v, status);
        else if ((v = get(outcome, "header_name")) && !has_header(r->response_headers, v, get(outcome, "header_value")))
            fail(r, "expected header %s: %s got headers [%s]", v, get(outcome, "header_value"), r->response_headers);
        return;
    }
    if (outcome) fail(r, "expected error %s got an open connection", get(outcome, "error"));
    for (int i = 0; i < s->n && !r->failed; i++)
        if (strcmp(s->lines[i]->keyword, "step") == 0) step(r, p, s->lines[i]);
    free(r->pending);
    close_conn(r, p);
}

int main(int argc, char **argv) {
    if (argc > 2 && strcmp(argv[1], "--api") == 0) {
        engine_api = strcmp(argv[2], "engine") == 0;
        if (!engine_api && strcmp(argv[2], "loop") != 0) argc = 0; /* usage */
        argc -= 2;
        argv += 2;
    }
    if (argc < 2) {
        fprintf(stderr, "usage: runner_c [--api loop|engine] FILE.flat [id,id,...]\n");
        return 2;
    }
    const char *only = argc > 2 ? argv[2] : NULL;
    FILE *f = fopen(argv[1], "r");
    if (!f) {
        perror(argv[1]);
        return 2;
    }
    defaults.struct_size = sizeof defaults;
    /* The engine API needs no loop: the runner's thread does all the I/O. */
    if (wsx_defaults_get(&defaults) != WSX_OK ||
        (!engine_api && (wsx_loop_new(&loop) != WSX_OK || wsx_loop_start_thread(loop) != WSX_OK))) {
        fprintf(stderr, "runner_c: no loop: %s\n", wsx_last_error_message());
        return 2;
    }
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    int timeout_ms = 10000, failed = 0;
    scenario *s = NULL;
    char *text = NULL;
    size_t cap = 0;
    while (getline(&text, &cap, f) > 0) {
        line *l = parse_line(strdup(text));
        if (!l->keyword) continue;
        if (strcmp(l->keyword, "defaults") == 0) {
            timeout_ms = (int)(num(l, "timeout") * 1000);
        } else if (strcmp(l->keyword, "scenario") == 0) {
            s = calloc(1, sizeof *s);
            s->head = l;
        } else if (strcmp(l->keyword, "end") == 0 && s) {
            const char *id = get(s->head, "id");
            char pattern[256];
            snprintf(pattern, sizeof pattern, ",%s,", id);
            char all[4096];
            snprintf(all, sizeof all, ",%s,", only ? only : "");
            const line *skip = NULL;
            for (int i = 0; i < s->n; i++)
                if (strcmp(s->lines[i]->keyword, "skip") == 0) skip = s->lines[i];
            if (only && !strstr(all, pattern)) {
                /* not selected */
            } else if (skip) {
                printf("skip %s: %s\n", id, get(skip, "reason"));
            } else {
                run r = {0};
                r.s = s;
                r.timeout_ms = timeout_ms;
                snprintf(r.uid, sizeof r.uid, "c%08x%03x", (unsigned)rand(), (unsigned)(rand() & 0xfff));
                execute(&r);
                if (r.failed) {
                    failed++;
                    printf("FAIL %s: %s\n", id, r.failure);
                } else {
                    printf("ok %s\n", id);
                }
            }
            fflush(stdout);
            s = NULL; /* the scenario's lines are left to the process's end */
        } else if (s && s->n < MAX_LINES) {
            s->lines[s->n++] = l;
        }
    }
    free(text);
    fclose(f);
    if (loop) {
        wsx_loop_stop(loop);
        wsx_loop_free(loop);
    }
    return failed ? 1 : 0;
}
