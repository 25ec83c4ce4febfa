/*
 * routes_server: several WebSocket endpoints and plain HTTP answers on one
 * port, routed by path in the upgrade callback.
 *
 *   routes_server [--host H] [--port P] [--tls-cert FILE --tls-key FILE]
 *                 [--client-ca FILE [--client-crl FILE] [--require-client-cert]]
 *
 * WebSocket endpoints, each with callbacks of its own (wsx_upgrade_set_callbacks):
 *   /echo     answers every message with the same message
 *   /shout    answers every text message in upper case
 *   /whoami   sends the subject of the client's TLS certificate (mutual
 *             TLS), or "anonymous", then closes with 1000
 *   /private  needs "Authorization: Bearer letmein", else 401 with
 *             WWW-Authenticate; then it echoes
 *
 * Plain HTTP (wsx_server_options_set_plain_http), answered with
 * wsx_upgrade_respond:
 *   GET /healthz  200 "ok"            (a load balancer's health check)
 *   GET /         200, a small HTML page
 *   GET /old      301 to /
 *   GET /slow     200, answered 100 ms later from another thread
 *                 (wsx_upgrade_defer + wsx_pending_upgrade_respond)
 *   GET /metrics  200, the server's counters as OpenMetrics text, for
 *                 Prometheus (wsx_server_metrics_text)
 *   GET /echo, /shout, /whoami  accepted, so the library answers 426
 *                 Upgrade Required (they are WebSocket endpoints)
 *   anything else 404
 *
 * Malformed requests get their HTTP error from the library before the
 * connection closes (400, 405 with Allow: GET, 414, 431, 505).
 * Prints "listening on HOST:PORT"; SIGINT/SIGTERM shut it down gracefully.
 */
#include "server_main.h" /* first: it sets _POSIX_C_SOURCE */

#include <ctype.h>
#include <pthread.h>
#include <strings.h>
#include <time.h>

/* --- the WebSocket endpoints --- */

static void echo_message(void *user_data, wsx_conn *conn, const wsx_message *msg) {
    (void)user_data;
    wsx_conn_send(conn, msg->kind, msg->data, msg->len);
}

static void shout_message(void *user_data, wsx_conn *conn, const wsx_message *msg) {
    (void)user_data;
    if (msg->kind != WSX_MSG_KIND_TEXT) {
        wsx_conn_close(conn, 1003, "text only");
        return;
    }
    char *upper = malloc(msg->len + 1);
    if (upper == NULL) return;
    for (size_t i = 0; i < msg->len; i++) upper[i] = (char)toupper(msg->data[i]);
    wsx_conn_send(conn, WSX_MSG_KIND_TEXT, (const uint8_t *)upper, msg->len);
    free(upper);
}

static void whoami_open(void *user_data, wsx_conn *conn, const wsx_open *open) {
    (void)user_data;
    (void)open;
    wsx_peer_identity id = {.struct_size = sizeof id};
    const char *who = "anonymous";
    if (wsx_conn_peer_identity(conn, &id) == WSX_OK && id.subject != NULL) who = id.subject;
    wsx_conn_send(conn, WSX_MSG_KIND_TEXT, (const uint8_t *)who, strlen(who));
    wsx_conn_close(conn, 1000, "that is you");
}

/* --- plain HTTP --- */

static wsx_result respond_text(wsx_upgrade *upgrade, uint16_t status, const char *type, const char *body) {
    wsx_header content_type = {"Content-Type", type};
    return wsx_upgrade_respond(upgrade, status, &content_type, 1, (const uint8_t *)body, strlen(body));
}

/* Answers a deferred request from a thread of its own, 100 ms later. */
/* The server's counters as OpenMetrics text. */
static void respond_metrics(wsx_upgrade *upgrade) {
    static char text[32 * 1024]; /* the loop thread's alone */
    size_t needed = 0;
    if (server_running == NULL || wsx_server_metrics_text(server_running, text, sizeof text, &needed) != WSX_OK) {
        respond_text(upgrade, 500, "text/plain; charset=utf-8", "no metrics\n");
        return;
    }
    wsx_header content_type = {"Content-Type", wsx_metrics_content_type()};
    wsx_upgrade_respond(upgrade, 200, &content_type, 1, (const uint8_t *)text, needed - 1);
}

static void *answer_later(void *arg) {
    wsx_pending_upgrade *pending = arg;
    struct timespec pause = {0, 100 * 1000 * 1000};
    nanosleep(&pause, NULL);
    const char *body = "slow but sure\n";
    if (wsx_pending_upgrade_respond(pending, 200, NULL, 0, (const uint8_t *)body, strlen(body)) != WSX_OK) {
        fprintf(stderr, "routes_server: deferred answer: %s\n", wsx_last_error_message());
    }
    wsx_pending_upgrade_free(pending);
    return NULL;
}

static int path_is(const wsx_request *request, const char *path) {
    size_t n = strcspn(request->path, "?");
    return strlen(path) == n && strncmp(request->path, path, n) == 0;
}

static const char *header_value(const wsx_request *request, const char *name) {
    for (size_t i = 0; i < request->headers_len; i++) {
        if (strcasecmp(request->headers[i].name, name) == 0) return request->headers[i].value;
    }
    return NULL;
}

static void on_upgrade(void *user_data, wsx_upgrade *upgrade, const wsx_request *request) {
    (void)user_data;
    if (request->peer_subject != NULL) {
        printf("request %s from %s (%zu certificates)\n", request->path, request->peer_subject,
               request->peer_certs_len);
        fflush(stdout);
    }
    /* Authorisation first, for WebSocket and plain HTTP alike. */
    if (path_is(request, "/private")) {
        const char *auth = header_value(request, "Authorization");
        if (auth == NULL || strcmp(auth, "Bearer letmein") != 0) {
            wsx_upgrade_add_header(upgrade, "WWW-Authenticate", "Bearer realm=\"routes\"");
            respond_text(upgrade, 401, "text/plain; charset=utf-8", "a token, please\n");
            return;
        }
    }
    if (request->plain_http) {
        if (path_is(request, "/healthz")) {
            respond_text(upgrade, 200, "text/plain; charset=utf-8", "ok\n");
        } else if (path_is(request, "/")) {
            respond_text(upgrade, 200, "text/html; charset=utf-8",
                         "<!doctype html><title>routes</title><p>WebSocket at /echo and /shout</p>\n");
        } else if (path_is(request, "/old")) {
            wsx_header location = {"Location", "/"};
            wsx_upgrade_respond(upgrade, 301, &location, 1, NULL, 0);
        } else if (path_is(request, "/metrics")) {
            respond_metrics(upgrade);
        } else if (path_is(request, "/slow")) {
            wsx_pending_upgrade *pending = NULL;
            pthread_t thread;
            if (wsx_upgrade_defer(upgrade, &pending) != WSX_OK) return;
            if (pthread_create(&thread, NULL, answer_later, pending) != 0) {
                wsx_pending_upgrade_free(pending); /* refused with 500 */
                return;
            }
            pthread_detach(thread);
        } else if (!path_is(request, "/echo") && !path_is(request, "/shout") && !path_is(request, "/whoami")) {
            respond_text(upgrade, 404, "text/plain; charset=utf-8", "no such page\n");
        }
        /* A WebSocket endpoint asked without Upgrade: accepting lets 426 answer. */
        return;
    }
    /* Routing: each endpoint's callbacks (copied by the call). */
    wsx_conn_callbacks cb = {.struct_size = sizeof cb};
    if (path_is(request, "/echo") || path_is(request, "/private")) {
        cb.on_message = echo_message;
    } else if (path_is(request, "/shout")) {
        cb.on_message = shout_message;
    } else if (path_is(request, "/whoami")) {
        cb.on_open = whoami_open;
    } else {
        wsx_upgrade_refuse(upgrade, 404, "no such endpoint");
        return;
    }
    if (wsx_upgrade_set_callbacks(upgrade, &cb) != WSX_OK) {
        wsx_upgrade_refuse(upgrade, 500, "routing failed");
    }
}

int main(int argc, char **argv) {
    server_plain_http = true;
    wsx_server_callbacks callbacks = {.struct_size = sizeof callbacks, .on_upgrade = on_upgrade};
    return server_main("routes_server", argc, argv, callbacks);
}
