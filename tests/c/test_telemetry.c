/*
 * Telemetry through the C API:
 *   - the process-wide log callback (wsx_log_set_callback) receives
 *     "opened" and "closed" lines with codes, and refusals with their status;
 *     nothing before it is set; its user_data is freed once when replaced;
 *   - the counters of a server and of its loop (wsx_server_metrics,
 *     wsx_loop_metrics) after a known traffic pattern;
 *   - the OpenMetrics text (wsx_server_metrics_text), measured, checked by
 *     hand here, served from a /metrics route on the WebSocket port
 *     (wsx_server_options_set_plain_http + wsx_upgrade_respond); the body
 *     is written to the file named by argv[1], if any, for run.sh to parse
 *     with prometheus_client's OpenMetrics parser.
 * The loop runs on its own thread; the test's thread is the client.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
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

/* --- the log callback: lines kept under a lock (it runs on the loop thread) --- */

#define MAX_LINES 64
typedef struct log_sink {
    pthread_mutex_t lock;
    char lines[MAX_LINES][256];
    int count;
    volatile int frees;
    int bad_len;
} log_sink;

static void on_log(void *ud, const wsx_log_record *record) {
    log_sink *s = ud;
    pthread_mutex_lock(&s->lock);
    if (strlen(record->message) != record->message_len) s->bad_len++;
    if (s->count < MAX_LINES) {
        snprintf(s->lines[s->count++], sizeof s->lines[0], "%d %s %s", (int)record->level, record->target,
                 record->message);
    }
    pthread_mutex_unlock(&s->lock);
}

static void free_sink(void *ud) {
    ((log_sink *)ud)->frees++;
}

/* Whether some line has every one of the (up to two) pieces. */
static int logged(log_sink *s, const char *a, const char *b) {
    int found = 0;
    pthread_mutex_lock(&s->lock);
    for (int i = 0; i < s->count && !found; i++) {
        found = strstr(s->lines[i], a) != NULL && (b == NULL || strstr(s->lines[i], b) != NULL);
    }
    pthread_mutex_unlock(&s->lock);
    return found;
}

static int wait_logged(log_sink *s, const char *a, const char *b) {
    long long deadline = now_ms() + WAIT_MS;
    while (!logged(s, a, b) && now_ms() < deadline) {
        struct timespec pause = {0, 2 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    return logged(s, a, b);
}

/* --- raw HTTP over TCP --- */

static void http_get(uint16_t port, const char *path, char *buf, size_t cap) {
    char request[256];
    snprintf(request, sizeof request, "GET %s HTTP/1.1\r\nHost: test\r\n\r\n", path);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval timeout = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    size_t len = 0;
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0 &&
        send(fd, request, strlen(request), 0) == (ssize_t)strlen(request)) {
        ssize_t n;
        while (len + 1 < cap && (n = recv(fd, buf + len, cap - 1 - len, 0)) > 0) len += (size_t)n;
    }
    buf[len] = '\0';
    close(fd);
}

/* --- the server: /echo echoes, /private is 401, /busy is 503, /metrics serves the text --- */

typedef struct site {
    wsx_server *volatile server;
    volatile int scrapes;
} site;

static void echo_message(void *ud, wsx_conn *conn, const wsx_message *msg) {
    (void)ud;
    wsx_conn_send(conn, msg->kind, msg->data, msg->len);
}

static void site_upgrade(void *ud, wsx_upgrade *upgrade, const wsx_request *request) {
    site *s = ud;
    if (request->plain_http && strcmp(request->path, "/metrics") == 0 && s->server != NULL) {
        char text[8192];
        size_t needed = 0;
        if (wsx_server_metrics_text(s->server, text, sizeof text, &needed) == WSX_OK) {
            wsx_header type = {"Content-Type", wsx_metrics_content_type()};
            wsx_upgrade_respond(upgrade, 200, &type, 1, (const uint8_t *)text, needed - 1);
            s->scrapes++;
        }
        return;
    }
    if (strcmp(request->path, "/private") == 0) {
        wsx_upgrade_refuse(upgrade, 401, "who are you");
    } else if (strcmp(request->path, "/busy") == 0) {
        wsx_upgrade_refuse(upgrade, 503, "later");
    } else {
        wsx_conn_callbacks cb = {.struct_size = sizeof cb, .on_message = echo_message};
        wsx_upgrade_set_callbacks(upgrade, &cb);
    }
}

/* A strict check of the OpenMetrics text: comment lines are TYPE or HELP,
 * every sample is `name[{labels}] value` with a wsx_ name, it ends in # EOF. */
static int openmetrics_ok(const char *text) {
    size_t len = strlen(text);
    if (len < 6 || strcmp(text + len - 6, "# EOF\n") != 0) return 0;
    const char *line = text;
    while (*line) {
        const char *end = strchr(line, '\n');
        if (end == NULL) return 0;
        if (strncmp(line, "# EOF", 5) == 0) return end[1] == '\0';
        if (line[0] == '#') {
            if (strncmp(line, "# TYPE wsx_", 11) != 0 && strncmp(line, "# HELP wsx_", 11) != 0) return 0;
        } else {
            if (strncmp(line, "wsx_", 4) != 0) return 0;
            const char *space = memchr(line, ' ', (size_t)(end - line));
            if (space == NULL || space + 1 == end) return 0;
            for (const char *p = space + 1; p < end; p++) {
                if ((*p < '0' || *p > '9') && *p != '.') return 0;
            }
        }
        line = end + 1;
    }
    return 0;
}

static const char *metrics_out;

static void test_logs_and_metrics(void) {
    static log_sink sink;
    memset(&sink, 0, sizeof sink);
    pthread_mutex_init(&sink.lock, NULL);

    CHECK(!wsx_log_enabled(WSX_LOG_LEVEL_INFO));
    CHECK_RESULT(wsx_log_set_callback(on_log, &sink, NULL, (wsx_log_level)42), WSX_ERR_INVALID_ARGUMENT);
    CHECK_OK(wsx_log_set_callback(on_log, &sink, free_sink, WSX_LOG_LEVEL_INFO));
    CHECK(wsx_log_enabled(WSX_LOG_LEVEL_INFO));
    CHECK(wsx_log_enabled(WSX_LOG_LEVEL_WARN));
    CHECK(!wsx_log_enabled(WSX_LOG_LEVEL_DEBUG));

    wsx_loop *loop = NULL;
    CHECK_OK(wsx_loop_new(&loop));
    CHECK_OK(wsx_loop_start_thread(loop));
    wsx_server_options *options = NULL;
    CHECK_OK(wsx_server_options_new(&options));
    CHECK_OK(wsx_server_options_set_plain_http(options, true));
    static site s;
    memset(&s, 0, sizeof s);
    wsx_server_callbacks scb = {.struct_size = sizeof scb, .user_data = &s, .on_upgrade = site_upgrade};
    wsx_server *server = NULL;
    CHECK_OK(wsx_loop_listen(loop, options, &scb, &server));
    wsx_server_options_free(options);
    s.server = server;

    /* Three text messages of 5 bytes and one binary of 100, echoed; then 1000. */
    char url[128];
    recorder r;
    memset(&r, 0, sizeof r);
    server_url(url, sizeof url, "ws", server, "/echo");
    wsx_conn *conn = connect_to(loop, url, NULL, &r);
    wait_for(&r.opens, 1);
    for (int i = 0; i < 3; i++) CHECK_OK(wsx_conn_send(conn, WSX_MSG_KIND_TEXT, (const uint8_t *)"hello", 5));
    uint8_t blob[100];
    memset(blob, 7, sizeof blob);
    CHECK_OK(wsx_conn_send(conn, WSX_MSG_KIND_BINARY, blob, sizeof blob));
    wait_for(&r.messages, 4);
    CHECK(r.messages == 4);
    CHECK_OK(wsx_conn_close(conn, 1000, "done"));
    wait_for(&r.closes, 1);
    CHECK(r.close_code == 1000);
    wsx_conn_release(conn);

    /* Two refusals: 401 and 503. */
    recorder denied, busy;
    memset(&denied, 0, sizeof denied);
    memset(&busy, 0, sizeof busy);
    server_url(url, sizeof url, "ws", server, "/private");
    wsx_conn *c1 = connect_to(loop, url, NULL, &denied);
    server_url(url, sizeof url, "ws", server, "/busy");
    wsx_conn *c2 = connect_to(loop, url, NULL, &busy);
    wait_for(&denied.closes, 1);
    wait_for(&busy.closes, 1);
    CHECK(denied.http_status == 401 && busy.http_status == 503);
    wsx_conn_release(c1);
    wsx_conn_release(c2);

    /* The server's side closes a moment after the client's close event. */
    CHECK(wait_logged(&sink, "wsx.conn", "closed: code 1000 reason \"done\" clean true"));
    CHECK(wait_logged(&sink, "wsx.server", ": 503 later"));
    CHECK(logged(&sink, "3 wsx.conn connection", "opened from 127.0.0.1:"));
    CHECK(logged(&sink, "3 wsx.conn connection", "opened to 127.0.0.1:"));
    CHECK(logged(&sink, "wsx.server refused a handshake from 127.0.0.1:", ": 401 who are you"));
    CHECK(sink.bad_len == 0);

    wsx_metrics m = {.struct_size = sizeof m};
    CHECK_OK(wsx_server_metrics(server, &m));
    CHECK(m.struct_size == sizeof m);
    CHECK(m.connections_open == 0 && m.connections_opened == 1 && m.handshakes_accepted == 1);
    CHECK(m.messages_in == 4 && m.bytes_in == 115);
    CHECK(m.messages_out == 4 && m.bytes_out == 115);
    CHECK(m.refused_401 == 1 && m.refused_503 == 1 && m.refused_other == 0 && m.refused_426 == 0);
    CHECK(m.closes_1000 == 1 && m.closes_1006 == 0 && m.closes_other == 0);
    CHECK(m.keepalive_timeouts == 0 && m.protocol_errors == 0 && m.queued_bytes == 0);
    CHECK(m.last_ping_rtt_us == -1);
    /* The loop counts both sides: the client's and the server's. */
    wsx_metrics l = {.struct_size = sizeof l};
    CHECK_OK(wsx_loop_metrics(loop, &l));
    CHECK(l.connections_opened == 2 && l.messages_in == 8 && l.bytes_in == 230 && l.closes_1000 == 2);
    CHECK(l.refused_401 == 1 && l.handshakes_accepted == 1);
    /* Checked arguments: NULLs and a zero struct_size. */
    wsx_metrics zero = {0};
    CHECK_RESULT(wsx_server_metrics(server, &zero), WSX_ERR_INVALID_ARGUMENT);
    CHECK_RESULT(wsx_server_metrics(NULL, &m), WSX_ERR_NULL);
    CHECK_RESULT(wsx_loop_metrics(loop, NULL), WSX_ERR_NULL);
    CHECK_RESULT(wsx_loop_metrics(NULL, &l), WSX_ERR_NULL);

    /* The text: measured first, then written; too small a buffer is refused. */
    size_t needed = 0;
    CHECK_OK(wsx_server_metrics_text(server, NULL, 0, &needed));
    CHECK(needed > 100);
    char small[16] = "untouched";
    CHECK_RESULT(wsx_server_metrics_text(server, small, sizeof small, &needed), WSX_ERR_INVALID_ARGUMENT);
    CHECK(strcmp(small, "untouched") == 0);
    char *text = malloc(needed);
    CHECK_OK(wsx_server_metrics_text(server, text, needed, NULL));
    CHECK(strlen(text) + 1 == needed);
    CHECK(openmetrics_ok(text));
    CHECK(strstr(text, "\nwsx_messages_received_total 4\n") != NULL);
    CHECK(strstr(text, "\nwsx_received_bytes_total 115\n") != NULL);
    CHECK(strstr(text, "\nwsx_handshakes_refused_total{status=\"401\"} 1\n") != NULL);
    CHECK(strstr(text, "\nwsx_closes_total{code=\"1000\"} 1\n") != NULL);
    free(text);
    CHECK_RESULT(wsx_server_metrics_text(NULL, NULL, 0, &needed), WSX_ERR_NULL);
    char loop_text[8192];
    CHECK_OK(wsx_loop_metrics_text(loop, loop_text, sizeof loop_text, NULL));
    CHECK(openmetrics_ok(loop_text));
    CHECK(strstr(loop_text, "\nwsx_connections_opened_total 2\n") != NULL);
    CHECK_RESULT(wsx_loop_metrics_text(NULL, loop_text, sizeof loop_text, NULL), WSX_ERR_NULL);

    /* /metrics on the WebSocket port, as Prometheus scrapes it. */
    static char answer[16384];
    http_get(wsx_server_port(server), "/metrics", answer, sizeof answer);
    CHECK(strncmp(answer, "HTTP/1.1 200 OK\r\n", 17) == 0);
    CHECK(strstr(answer, "\r\nContent-Type: application/openmetrics-text; version=1.0.0; charset=utf-8\r\n") != NULL);
    const char *body = strstr(answer, "\r\n\r\n");
    CHECK(body != NULL && openmetrics_ok(body + 4));
    CHECK(s.scrapes == 1);
    if (body != NULL && metrics_out != NULL) {
        FILE *f = fopen(metrics_out, "w");
        CHECK(f != NULL);
        if (f != NULL) {
            fputs(body + 4, f);
            fclose(f);
        }
    }
    /* The scrape itself is counted once its connection is done. */
    wsx_metrics after = {.struct_size = sizeof after};
    long long deadline = now_ms() + WAIT_MS;
    do {
        CHECK_OK(wsx_server_metrics(server, &after));
    } while (after.http_answered == 0 && now_ms() < deadline);
    CHECK(after.http_answered == 1);

    /* Off again: the old user_data is freed once, and nothing more arrives. */
    CHECK_OK(wsx_log_set_callback(NULL, NULL, NULL, WSX_LOG_LEVEL_OFF));
    CHECK(sink.frees == 1);
    CHECK(!wsx_log_enabled(WSX_LOG_LEVEL_ERROR));
    int lines = sink.count;
    http_get(wsx_server_port(server), "/private", answer, sizeof answer);
    CHECK(sink.count == lines);

    wsx_server_free(server);
    wsx_loop_free(loop);
    pthread_mutex_destroy(&sink.lock);
}

int main(int argc, char **argv) {
    metrics_out = argc > 1 ? argv[1] : NULL;
    RUN(test_logs_and_metrics);
    return summary("test_telemetry");
}
