/*
 * The part every example server shares: command line, listening, the poll
 * loop, and a graceful shutdown on SIGINT/SIGTERM.
 *
 *   NAME [--host H] [--port P] [--tls-cert FILE --tls-key FILE] [--compress]
 *        [--client-ca FILE [--client-crl FILE] [--require-client-cert]]
 *        [--cluster redis://HOST:PORT [--node-id ID]]
 *
 * --client-ca asks TLS clients for a certificate signed by that CA (mutual
 * TLS; --require-client-cert refuses clients without one, --client-crl
 * refuses revoked ones).
 * --compress accepts permessage-deflate (RFC 7692, default settings) from
 * clients that offer it; without it the server declines every offer.
 * --cluster joins the servers that share that Redis: what one publishes
 * reaches the subscribers of all (the node id, random by default, names
 * this server in gap reports). Prints "listening on HOST:PORT" once it
 * accepts connections (port 0, the default, picks a free one), and with
 * --cluster a line for each change of the cluster's state ("cluster up",
 * "cluster down: WHY", ...) and each gap ("cluster gap: TOPIC from NODE: N
 * lost"). On SIGINT or SIGTERM every connection is closed with 1001, then
 * the program exits 0.
 */
#ifndef WSX_EXAMPLE_SERVER_MAIN_H
#define WSX_EXAMPLE_SERVER_MAIN_H

#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wsx.h"

static volatile sig_atomic_t server_stop_requested = 0;

/* Set by a server's main before server_main: plain HTTP requests reach its
 * upgrade callback (wsx_server_options_set_plain_http). */
static bool server_plain_http = false;

/* The running server, for callbacks that publish to its topics (set before
 * the first callback can run, cleared after the last). */
static wsx_server *server_running = NULL;

static void server_on_signal(int sig) {
    (void)sig;
    server_stop_requested = 1;
}

static void server_on_shutdown(void *user_data) {
    (void)user_data;
    server_stop_requested = 2;
}

static void server_on_server_error(void *user_data, const wsx_error *error) {
    (void)user_data;
    fprintf(stderr, "server: %s\n", error->message);
}

static void server_on_cluster_state(void *user_data, const wsx_cluster_state_event *event) {
    (void)user_data;
    static const char *const names[] = {"connecting", "up", "down", "resubscribing"};
    int state = (int)event->state;
    printf("cluster %s: %s\n", state >= 0 && state < 4 ? names[state] : "?", event->detail);
    fflush(stdout);
}

static void server_on_cluster_gap(void *user_data, const wsx_cluster_gap *gap) {
    (void)user_data;
    if (gap->epoch_changed) {
        printf("cluster gap: %s from %s: it restarted, an unknown number lost\n", gap->topic, gap->node);
    } else {
        printf("cluster gap: %s from %s: %llu lost\n", gap->topic, gap->node, (unsigned long long)gap->missed);
    }
    fflush(stdout);
}

static int server_fail(const char *name, const char *what) {
    fprintf(stderr, "%s: %s: %s\n", name, what, wsx_last_error_message());
    return 1;
}

/* Parses the command line into `options`; returns 0, or 2 after printing usage. */
static int server_parse_args(const char *name, int argc, char **argv, wsx_server_options *options) {
    const char *cert = NULL;
    const char *key = NULL;
    const char *client_ca = NULL;
    const char *client_crl = NULL;
    bool require_client_cert = false;
    wsx_cluster_options cluster = {.struct_size = sizeof cluster};
    for (int i = 1; i < argc; i++) {
        int ok = i + 1 < argc;
        if (ok && strcmp(argv[i], "--host") == 0) {
            ok = wsx_server_options_set_host(options, argv[++i]) == WSX_OK;
        } else if (ok && strcmp(argv[i], "--port") == 0) {
            char *end = NULL;
            long port = strtol(argv[++i], &end, 10);
            ok = *end == '\0' && port >= 0 && port <= 65535 &&
                 wsx_server_options_set_port(options, (uint16_t)port) == WSX_OK;
        } else if (ok && strcmp(argv[i], "--tls-cert") == 0) {
            cert = argv[++i];
        } else if (ok && strcmp(argv[i], "--tls-key") == 0) {
            key = argv[++i];
        } else if (ok && strcmp(argv[i], "--client-ca") == 0) {
            client_ca = argv[++i];
        } else if (ok && strcmp(argv[i], "--client-crl") == 0) {
            client_crl = argv[++i];
        } else if (strcmp(argv[i], "--require-client-cert") == 0) {
            require_client_cert = true;
            ok = 1;
        } else if (ok && strcmp(argv[i], "--cluster") == 0) {
            cluster.url = argv[++i];
        } else if (ok && strcmp(argv[i], "--node-id") == 0) {
            cluster.node_id = argv[++i];
        } else if (strcmp(argv[i], "--compress") == 0) {
            wsx_deflate_options deflate = {.struct_size = sizeof deflate};
            ok = wsx_deflate_options_default(&deflate) == WSX_OK &&
                 wsx_conn_options_set_compression(wsx_server_options_conn(options), &deflate) == WSX_OK;
        } else {
            ok = 0;
        }
        if (!ok) {
            fprintf(stderr,
                    "usage: %s [--host H] [--port P] [--tls-cert FILE --tls-key FILE] [--compress]\n"
                    "          [--client-ca FILE [--client-crl FILE] [--require-client-cert]]\n"
                    "          [--cluster redis://HOST:PORT [--node-id ID]]\n",
                    name);
            return 2;
        }
    }
    if ((cluster.url || cluster.node_id) && wsx_server_options_set_cluster(options, &cluster) != WSX_OK) {
        fprintf(stderr, "%s: %s\n", name, wsx_last_error_message());
        return 2;
    }
    if (((cert || key) && wsx_server_options_set_tls(options, cert, key) != WSX_OK) ||
        ((client_ca || client_crl) &&
         wsx_server_options_set_tls_client_auth(options, client_ca, require_client_cert, client_crl) != WSX_OK) ||
        wsx_server_options_set_plain_http(options, server_plain_http) != WSX_OK) {
        fprintf(stderr, "%s: %s\n", name, wsx_last_error_message());
        return 2;
    }
    return 0;
}

/* Runs a server with `callbacks` (struct_size, on_shutdown and
 * on_server_error are set here) until a signal; returns the exit status. */
static int server_main(const char *name, int argc, char **argv, wsx_server_callbacks callbacks) {
    wsx_server_options *options = NULL;
    if (wsx_server_options_new(&options) != WSX_OK) return server_fail(name, "options");
    int status = server_parse_args(name, argc, argv, options);
    if (status != 0) {
        wsx_server_options_free(options);
        return status;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = server_on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    wsx_loop *loop = NULL;
    wsx_server *server = NULL;
    callbacks.struct_size = sizeof callbacks;
    callbacks.on_shutdown = server_on_shutdown;
    callbacks.on_server_error = server_on_server_error;
    callbacks.on_cluster_state = server_on_cluster_state;
    callbacks.on_cluster_gap = server_on_cluster_gap;
    if (wsx_loop_new(&loop) != WSX_OK) return server_fail(name, "loop");
    wsx_result r = wsx_loop_listen(loop, options, &callbacks, &server);
    wsx_server_options_free(options);
    if (r != WSX_OK) {
        server_fail(name, "listen");
        wsx_loop_free(loop);
        return 1;
    }
    char addr[64];
    if (wsx_server_local_addr(server, addr, sizeof addr) != WSX_OK) return server_fail(name, "address");
    printf("listening on %s\n", addr);
    fflush(stdout);
    server_running = server;

    /* Short slices, so a signal is noticed promptly. */
    while (!server_stop_requested) {
        if (wsx_loop_poll(loop, 100) != WSX_OK && !server_stop_requested) {
            server_fail(name, "poll");
            break;
        }
    }
    fprintf(stderr, "%s: shutting down\n", name);
    wsx_server_shutdown(server, 2000);
    for (int i = 0; i < 300 && server_stop_requested != 2; i++) {
        if (wsx_loop_poll(loop, 10) != WSX_OK) break;
    }
    status = server_stop_requested == 2 ? 0 : 1;
    wsx_loop_free(loop);
    server_running = NULL;
    wsx_server_free(server);
    return status;
}

#endif
