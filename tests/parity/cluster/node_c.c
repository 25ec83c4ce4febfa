/*
 * The C node of the cluster parity scenario (tests/parity/cluster/README.md):
 * a wsx server over the C ABI (include/wsx.h) that joins a cluster, runs
 * its clients' commands and prints its cluster events as JSON lines.
 *
 *   node_c URL PREFIX NODE_ID MAX_QUEUED INITIAL_DELAY_MS MAX_DELAY_MS CONNECT_TIMEOUT_MS SHARDED CA_FILE
 *
 * SHARDED is 1 or 0; CA_FILE (for rediss://) may be empty.
 *
 * Runs in poll mode on this thread until its stdin closes.
 */
#define _POSIX_C_SOURCE 200809L
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wsx.h"

static wsx_server *server;
static volatile int stopped;

static const char *state_name(wsx_cluster_state state) {
    static const char *const names[] = {"connecting", "up", "down", "resubscribing"};
    return (unsigned)state < 4 ? names[state] : "?";
}

/* `len` bytes of `s` as a JSON string. */
static void json_string(const char *s, size_t len) {
    putchar('"');
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            printf("\\%c", c);
        } else if (c < 0x20) {
            printf("\\u%04x", c);
        } else {
            putchar(c);
        }
    }
    putchar('"');
}

static void json_number_or_null(int present, uint64_t value) {
    if (present) {
        printf("%llu", (unsigned long long)value);
    } else {
        printf("null");
    }
}

static void on_state(void *user_data, const wsx_cluster_state_event *event) {
    (void)user_data;
    printf("{\"event\":\"state\",\"state\":\"%s\",\"detail\":", state_name(event->state));
    json_string(event->detail, event->detail_len);
    printf("}\n");
    fflush(stdout);
}

static void on_gap(void *user_data, const wsx_cluster_gap *gap) {
    (void)user_data;
    printf("{\"event\":\"gap\",\"topic\":");
    json_string(gap->topic, gap->topic_len);
    printf(",\"node\":");
    json_string(gap->node, gap->node_len);
    printf(",\"epoch\":%llu,\"previous_epoch\":", (unsigned long long)gap->epoch);
    json_number_or_null(gap->epoch_changed, gap->previous_epoch);
    printf(",\"expected\":%llu,\"received\":%llu,\"missed\":", (unsigned long long)gap->expected,
           (unsigned long long)gap->received);
    json_number_or_null(!gap->epoch_changed, gap->missed);
    printf("}\n");
    fflush(stdout);
}

static void on_shutdown(void *user_data) {
    (void)user_data;
    stopped = 1;
}

static void reply(wsx_conn *conn, const char *text) {
    wsx_conn_send(conn, WSX_MSG_KIND_TEXT, (const uint8_t *)text, strlen(text));
}

static void reply_result(wsx_conn *conn, wsx_result r, const char *ok) {
    char text[512];
    if (r == WSX_OK) {
        snprintf(text, sizeof text, "ok %s", ok);
    } else {
        snprintf(text, sizeof text, "error %s: %s", wsx_result_str(r), wsx_last_error_message());
    }
    reply(conn, text);
}

static void reply_stats(wsx_conn *conn) {
    wsx_cluster_stats s;
    memset(&s, 0, sizeof s);
    s.struct_size = sizeof s;
    wsx_result r = wsx_server_cluster_stats(server, &s);
    if (r != WSX_OK) {
        reply_result(conn, r, "stats");
        return;
    }
    char text[512];
    snprintf(text, sizeof text,
             "ok stats {\"state\":\"%s\",\"published\":%llu,\"received\":%llu,\"queued\":%llu,"
             "\"dropped\":%llu,\"gaps\":%llu,\"disconnects\":%llu,\"subscriptions\":%llu}",
             state_name(s.state), (unsigned long long)s.published, (unsigned long long)s.received,
             (unsigned long long)s.queued, (unsigned long long)s.dropped, (unsigned long long)s.gaps,
             (unsigned long long)s.disconnects, (unsigned long long)s.subscriptions);
    reply(conn, text);
}

/* "sub T", "unsub T", "pub T MESSAGE", "stats" (README.md). */
static void on_message(void *user_data, wsx_conn *conn, const wsx_message *msg) {
    (void)user_data;
    char command[1024];
    if (msg->kind != WSX_MSG_KIND_TEXT || msg->len >= sizeof command) {
        reply(conn, "error bad command");
        return;
    }
    memcpy(command, msg->data, msg->len);
    command[msg->len] = '\0';
    char *arg = strchr(command, ' ');
    if (arg) *arg++ = '\0';
    char *text = arg ? strchr(arg, ' ') : NULL;
    if (text) *text++ = '\0';
    if (strcmp(command, "stats") == 0 && !arg) {
        reply_stats(conn);
    } else if (strcmp(command, "sub") == 0 && arg && !text) {
        reply_result(conn, wsx_conn_subscribe(conn, arg), "sub");
    } else if (strcmp(command, "unsub") == 0 && arg && !text) {
        reply_result(conn, wsx_conn_unsubscribe(conn, arg, NULL), "unsub");
    } else if (strcmp(command, "pub") == 0 && text) {
        size_t count = 0;
        wsx_result r =
            wsx_server_publish(server, arg, WSX_MSG_KIND_TEXT, (const uint8_t *)text, strlen(text), NULL, &count);
        char ok[32];
        snprintf(ok, sizeof ok, "pub %zu", count);
        reply_result(conn, r, ok);
    } else {
        reply(conn, "error bad command");
    }
}

static int fail(const char *what) {
    fprintf(stderr, "node_c: %s: %s\n", what, wsx_last_error_message());
    return 1;
}

/* Whether stdin reached its end (the driver is done with this node). */
static int stdin_closed(void) {
    struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};
    char buf[64];
    return poll(&p, 1, 0) > 0 && read(STDIN_FILENO, buf, sizeof buf) <= 0;
}

int main(int argc, char **argv) {
    if (argc != 10) {
        fprintf(stderr,
                "usage: node_c URL PREFIX NODE_ID MAX_QUEUED INITIAL_DELAY_MS MAX_DELAY_MS CONNECT_TIMEOUT_MS SHARDED CA_FILE\n");
        return 2;
    }
    wsx_reconnect_options reconnect = {.struct_size = sizeof reconnect};
    if (wsx_reconnect_options_default(&reconnect) != WSX_OK) return fail("reconnect options");
    reconnect.initial_delay_ms = (uint32_t)atol(argv[5]);
    reconnect.max_delay_ms = (uint32_t)atol(argv[6]);
    wsx_cluster_options cluster = {.struct_size = sizeof cluster};
    if (wsx_cluster_options_default(&cluster) != WSX_OK) return fail("cluster options");
    cluster.url = argv[1];
    cluster.prefix = argv[2];
    cluster.node_id = argv[3];
    cluster.max_queued = (size_t)atol(argv[4]);
    cluster.connect_timeout_ms = (uint32_t)atol(argv[7]);
    cluster.reconnect = &reconnect;
    cluster.sharded = strcmp(argv[8], "1") == 0;
    cluster.tls_ca_file = argv[9][0] ? argv[9] : NULL;

    wsx_server_options *options = NULL;
    if (wsx_server_options_new(&options) != WSX_OK || wsx_server_options_set_host(options, "127.0.0.1") != WSX_OK ||
        wsx_server_options_set_port(options, 0) != WSX_OK || wsx_server_options_set_cluster(options, &cluster) != WSX_OK)
        return fail("server options");
    wsx_conn_callbacks conn = {.struct_size = sizeof conn, .on_message = on_message};
    wsx_server_callbacks callbacks = {
        .struct_size = sizeof callbacks,
        .conn = &conn,
        .on_shutdown = on_shutdown,
        .on_cluster_state = on_state,
        .on_cluster_gap = on_gap,
    };
    wsx_loop *loop = NULL;
    if (wsx_loop_new(&loop) != WSX_OK) return fail("loop");
    wsx_result r = wsx_loop_listen(loop, options, &callbacks, &server);
    wsx_server_options_free(options);
    if (r != WSX_OK) return fail("listen");

    char node_id[256];
    wsx_cluster_stats stats = {.struct_size = sizeof stats};
    if (wsx_server_cluster_node_id(server, node_id, sizeof node_id) != WSX_OK ||
        wsx_server_cluster_stats(server, &stats) != WSX_OK)
        return fail("cluster figures");
    printf("{\"event\":\"listening\",\"port\":%u,\"node\":", (unsigned)wsx_server_port(server));
    json_string(node_id, strlen(node_id));
    printf(",\"epoch\":%llu}\n", (unsigned long long)stats.epoch);
    fflush(stdout);

    while (!stdin_closed()) {
        if (wsx_loop_poll(loop, 20) != WSX_OK) return fail("poll");
    }
    wsx_server_shutdown(server, 1000);
    for (int i = 0; i < 200 && !stopped; i++) wsx_loop_poll(loop, 10);
    wsx_server_free(server);
    wsx_loop_free(loop);
    return 0;
}
