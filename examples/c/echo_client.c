/*
 * echo_client: a WebSocket client.
 *
 *   echo_client [--ca FILE] [--no-compress] URL
 *       Sends back every message it receives, with the same type, until the
 *       peer closes. Exits 0 after a clean close, 1 with the error otherwise.
 *       (The Autobahn TestSuite's client role: `make conformance`.)
 *
 *   echo_client [--ca FILE] --send TEXT [--send TEXT ...] URL
 *       Sends each TEXT, prints what went out and what came back, then
 *       closes with 1000 once every message got its reply.
 *
 * The client offers permessage-deflate (RFC 7692) unless --no-compress.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wsx.h"

#define MAX_SENDS 64

typedef struct client {
    const char *sends[MAX_SENDS];
    int send_count;
    int replies;
    int done;
    int clean;
    int failed;
} client;

static void on_open(void *user_data, wsx_conn *conn, const wsx_open *open) {
    client *c = user_data;
    printf("connected to %s%s%s\n", open->peer_addr, open->subprotocol ? " with " : "",
           open->subprotocol ? open->subprotocol : "");
    for (int i = 0; i < c->send_count; i++) {
        if (wsx_conn_send(conn, WSX_MSG_KIND_TEXT, (const uint8_t *)c->sends[i], strlen(c->sends[i])) != WSX_OK) {
            fprintf(stderr, "echo_client: send: %s\n", wsx_last_error_message());
            c->failed = 1;
            wsx_conn_close(conn, 1011, "send failed");
            return;
        }
        printf("sent: %s\n", c->sends[i]);
    }
    fflush(stdout);
}

static void on_message(void *user_data, wsx_conn *conn, const wsx_message *msg) {
    client *c = user_data;
    if (c->send_count == 0) {
        /* Echo mode: the same bytes, the same type. */
        wsx_result r = wsx_conn_send(conn, msg->kind, msg->data, msg->len);
        if (r != WSX_OK && r != WSX_ERR_CLOSED) {
            fprintf(stderr, "echo_client: send: %s\n", wsx_last_error_message());
        }
        return;
    }
    if (msg->kind == WSX_MSG_KIND_TEXT) {
        printf("received: %.*s\n", (int)msg->len, (const char *)msg->data);
    } else {
        printf("received: %zu bytes of binary\n", msg->len);
    }
    fflush(stdout);
    if (++c->replies == c->send_count) {
        wsx_conn_close(conn, 1000, "done");
    }
}

static void on_error(void *user_data, wsx_conn *conn, const wsx_error *error) {
    client *c = user_data;
    (void)conn;
    c->failed = 1;
    fprintf(stderr, "echo_client: %s (%s)\n", error->message, wsx_result_str(error->code));
}

static void on_close(void *user_data, wsx_conn *conn, const wsx_close *close) {
    client *c = user_data;
    (void)conn;
    printf("closed: %u%s%s%s\n", (unsigned)close->code, close->reason_len ? " " : "", close->reason,
           close->clean ? "" : " (not clean)");
    fflush(stdout);
    c->clean = close->clean;
    c->done = 1;
}

static void usage(void) {
    fprintf(stderr, "usage: echo_client [--ca FILE] [--no-compress] [--send TEXT ...] ws[s]://HOST:PORT/PATH\n");
}

int main(int argc, char **argv) {
    client c;
    memset(&c, 0, sizeof c);
    const char *url = NULL;
    const char *ca = NULL;
    int compress = 1;
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--send") == 0 && c.send_count < MAX_SENDS) {
            c.sends[c.send_count++] = argv[++i];
        } else if (i + 1 < argc && strcmp(argv[i], "--ca") == 0) {
            ca = argv[++i];
        } else if (strcmp(argv[i], "--no-compress") == 0) {
            compress = 0;
        } else if (url == NULL && argv[i][0] != '-') {
            url = argv[i];
        } else {
            usage();
            return 2;
        }
    }
    if (url == NULL) {
        usage();
        return 2;
    }

    wsx_loop *loop = NULL;
    wsx_client_options *options = NULL;
    wsx_conn *conn = NULL;
    if (wsx_loop_new(&loop) != WSX_OK || wsx_client_options_new(&options) != WSX_OK ||
        (ca && wsx_client_options_set_tls_ca_file(options, ca) != WSX_OK) ||
        (!compress && wsx_conn_options_set_compression(wsx_client_options_conn(options),  NULL) != WSX_OK)) {
        fprintf(stderr, "echo_client: %s\n", wsx_last_error_message());
        return 1;
    }
    wsx_conn_callbacks callbacks;
    memset(&callbacks, 0, sizeof callbacks);
    callbacks.struct_size = sizeof callbacks;
    callbacks.user_data = &c;
    callbacks.on_open = on_open;
    callbacks.on_message = on_message;
    callbacks.on_error = on_error;
    callbacks.on_close = on_close;
    wsx_result r = wsx_loop_connect(loop, url, options, &callbacks, &conn);
    wsx_client_options_free(options);
    if (r != WSX_OK) {
        fprintf(stderr, "echo_client: %s (%s)\n", wsx_last_error_message(), wsx_result_str(r));
        wsx_loop_free(loop);
        return 1;
    }
    while (!c.done) {
        r = wsx_loop_poll(loop, -1);
        if (r != WSX_OK) {
            fprintf(stderr, "echo_client: poll: %s\n", wsx_last_error_message());
            break;
        }
    }
    wsx_conn_release(conn);
    wsx_loop_free(loop);
    return c.done && c.clean && !c.failed ? 0 : 1;
}
