/*
 * Publish/subscribe through the C API: server-side connections subscribe to
 * topics, wsx_server_publish reaches every subscriber (or all but one),
 * unsubscribing and closing leave topics, bad arguments are refused, and a
 * subscriber that stops reading is dropped by the slow-subscriber policy
 * with its event. One loop in poll mode, on 127.0.0.1.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "recorder.h"

#define WAIT_MS 20000 /* an upper bound only: valgrind on a loaded machine is slow */
#define MAX_CONNS 4

/* The server side: every connection subscribes to the topic named by its
 * path ("/feed" subscribes to "feed") and is kept by its index ("/room/2"
 * subscribes to "room" and is conns[2]). */
typedef struct rooms {
    wsx_conn *conns[MAX_CONNS];
    volatile int opens, closes, frees, slow_events;
    uint16_t last_close_code;
    uint64_t slow_conn_id;
    char slow_topic[32];
    size_t slow_topic_len;
    wsx_slow_subscriber slow_action;
} rooms;

static void rooms_open(void *ud, wsx_conn *conn, const wsx_open *open) {
    rooms *r = ud;
    r->opens++;
    const char *path = open->path + 1;
    const char *slash = strchr(path, '/');
    char topic[32];
    size_t len = slash ? (size_t)(slash - path) : strlen(path);
    snprintf(topic, sizeof topic, "%.*s", (int)len, path);
    CHECK_OK(wsx_conn_subscribe(conn, topic));
    int index = slash ? atoi(slash + 1) : 0;
    if (index >= 0 && index < MAX_CONNS) r->conns[index] = wsx_conn_retain(conn);
}

static void rooms_close(void *ud, wsx_conn *conn, const wsx_close *close) {
    rooms *r = ud;
    (void)conn;
    r->closes++;
    r->last_close_code = close->code;
}

static void rooms_free(void *ud) {
    rooms *r = ud;
    r->frees++;
}

static void rooms_slow(void *ud, const wsx_slow_subscriber_event *event) {
    rooms *r = ud;
    r->slow_events++;
    r->slow_conn_id = event->conn_id;
    r->slow_action = event->action;
    r->slow_topic_len = event->topic_len;
    copy_str(r->slow_topic, sizeof r->slow_topic, event->topic);
}

static wsx_server *start_rooms(wsx_loop *loop, const wsx_server_options *options, rooms *r) {
    memset(r, 0, sizeof *r);
    wsx_conn_callbacks conn_cb;
    memset(&conn_cb, 0, sizeof conn_cb);
    conn_cb.struct_size = sizeof conn_cb;
    conn_cb.user_data = r;
    conn_cb.on_open = rooms_open;
    conn_cb.on_close = rooms_close;
    wsx_server_callbacks cb;
    memset(&cb, 0, sizeof cb);
    cb.struct_size = sizeof cb;
    cb.user_data = r;
    cb.conn = &conn_cb; /* copied by wsx_loop_listen */
    cb.on_slow_subscriber = rooms_slow;
    cb.free_user_data = rooms_free;
    wsx_server *server = NULL;
    CHECK_OK(wsx_loop_listen(loop, options, &cb, &server));
    return server;
}

static void stop_rooms(wsx_loop *loop, wsx_server *server, rooms *r) {
    for (int i = 0; i < MAX_CONNS; i++) wsx_conn_release(r->conns[i]);
    CHECK_OK(wsx_server_shutdown(server, 1000));
    wsx_server_free(server);
    wsx_loop_free(loop);
    CHECK(r->frees == 1);
}

static size_t subscribers(wsx_server *server, const char *topic) {
    size_t n = 0;
    CHECK_OK(wsx_server_subscribers(server, topic, &n));
    return n;
}

static void test_publish_subscribe_unsubscribe(void) {
    wsx_loop *loop = NULL;
    CHECK_OK(wsx_loop_new(&loop));
    rooms r;
    wsx_server *server = start_rooms(loop, NULL, &r);
    recorder c[3];
    wsx_conn *conns[3];
    for (int i = 0; i < 3; i++) {
        char path[32], url[128];
        memset(&c[i], 0, sizeof c[i]);
        snprintf(path, sizeof path, "/room/%d", i);
        server_url(url, sizeof url, "ws", server, path);
        conns[i] = connect_to(loop, url, NULL, &c[i]);
    }
    CHECK(poll_until_count(loop, &r.opens, 3, WAIT_MS));
    CHECK(subscribers(server, "room") == 3);
    CHECK(subscribers(server, "nobody") == 0);

    size_t count = 0;
    CHECK_OK(wsx_server_publish(server, "room", WSX_MSG_KIND_TEXT, (const uint8_t *)"hi", 2, NULL, &count));
    CHECK(count == 3);
    for (int i = 0; i < 3; i++) {
        CHECK(poll_until_count(loop, &c[i].messages, 1, WAIT_MS));
        CHECK(c[i].kind == WSX_MSG_KIND_TEXT && c[i].len == 2 && memcmp(c[i].data, "hi", 2) == 0);
    }

    /* All but the publisher. */
    CHECK_OK(wsx_server_publish(server, "room", WSX_MSG_KIND_BINARY, (const uint8_t *)"\x01\x02", 2,
                                r.conns[0], &count));
    CHECK(count == 2);
    CHECK(poll_until_count(loop, &c[1].messages, 2, WAIT_MS));
    CHECK(poll_until_count(loop, &c[2].messages, 2, WAIT_MS));
    CHECK(c[2].kind == WSX_MSG_KIND_BINARY);

    bool was = false;
    CHECK_OK(wsx_conn_unsubscribe(r.conns[1], "room", &was));
    CHECK(was);
    CHECK_OK(wsx_conn_unsubscribe(r.conns[1], "room", &was));
    CHECK(!was);
    CHECK_OK(wsx_conn_unsubscribe(r.conns[1], "room", NULL));
    CHECK(subscribers(server, "room") == 2);
    CHECK_OK(wsx_server_publish(server, "room", WSX_MSG_KIND_TEXT, (const uint8_t *)"third", 5, NULL, NULL));
    CHECK(poll_until_count(loop, &c[0].messages, 2, WAIT_MS));
    CHECK(poll_until_count(loop, &c[2].messages, 3, WAIT_MS));
    CHECK(c[0].len == 5 && memcmp(c[0].data, "third", 5) == 0);
    CHECK(c[0].messages == 2 && c[1].messages == 2); /* the skipped and the unsubscribed */

    /* Bad arguments. */
    CHECK_RESULT(wsx_conn_subscribe(conns[0], "client"), WSX_ERR_INVALID_ARGUMENT);
    CHECK_RESULT(wsx_conn_subscribe(r.conns[0], NULL), WSX_ERR_NULL);
    CHECK_RESULT(wsx_conn_subscribe(NULL, "room"), WSX_ERR_NULL);
    CHECK_RESULT(wsx_server_publish(server, "room", WSX_MSG_KIND_TEXT, (const uint8_t *)"\xff", 1, NULL, &count),
                 WSX_ERR_INVALID_ARGUMENT);
    CHECK_RESULT(wsx_server_publish(server, "room", 9, (const uint8_t *)"x", 1, NULL, &count),
                 WSX_ERR_INVALID_ARGUMENT);
    CHECK_RESULT(wsx_server_publish(server, NULL, WSX_MSG_KIND_TEXT, NULL, 0, NULL, &count), WSX_ERR_NULL);
    CHECK_RESULT(wsx_server_subscribers(server, "room", NULL), WSX_ERR_NULL);

    /* Closing leaves every topic. */
    CHECK_OK(wsx_conn_close(conns[2], 1000, NULL));
    CHECK(poll_until(loop, &r.closes, WAIT_MS));
    CHECK(subscribers(server, "room") == 1);
    CHECK_RESULT(wsx_conn_subscribe(r.conns[2], "room"), WSX_ERR_CLOSED);
    CHECK_OK(wsx_server_publish(server, "room", WSX_MSG_KIND_TEXT, (const uint8_t *)"last", 4, NULL, &count));
    CHECK(count == 1);
    for (int i = 0; i < 3; i++) wsx_conn_release(conns[i]);
    stop_rooms(loop, server, &r);
}

/* A raw TCP client that sends the handshake for `path` and never reads. */
static int stalled_client(uint16_t port, const char *path) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0);
    char request[512];
    int len = snprintf(request, sizeof request,
                       "GET %s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                       path);
    CHECK(write(fd, request, (size_t)len) == len);
    return fd;
}

static void test_slow_subscriber_is_dropped(void) {
    wsx_loop *loop = NULL;
    CHECK_OK(wsx_loop_new(&loop));
    wsx_server_options *so = NULL;
    CHECK_OK(wsx_server_options_new(&so));
    CHECK_RESULT(wsx_server_options_set_slow_subscriber(so, (wsx_slow_subscriber)7), WSX_ERR_INVALID_ARGUMENT);
    CHECK_OK(wsx_server_options_set_slow_subscriber(so, WSX_SLOW_SUBSCRIBER_DROP));
    CHECK_OK(wsx_conn_options_set_backpressure(wsx_server_options_conn(so),  64 * 1024, 16 * 1024));
    rooms r;
    wsx_server *server = start_rooms(loop, so, &r);
    wsx_server_options_free(so);
    int fd = stalled_client(wsx_server_port(server), "/feed");
    CHECK(poll_until(loop, &r.opens, WAIT_MS));
    CHECK(subscribers(server, "feed") == 1);

    /* Publish until the kernel's buffers and then the queue are full. */
    static uint8_t chunk[32 * 1024];
    int published = 0;
    while (!r.closes && published < 4096) {
        size_t count = 0;
        CHECK_OK(wsx_server_publish(server, "feed", WSX_MSG_KIND_BINARY, chunk, sizeof chunk, NULL, &count));
        CHECK(count <= 1);
        CHECK(wsx_conn_buffered_amount(r.conns[0]) <= 64 * 1024 + sizeof chunk);
        published++;
        CHECK_OK(wsx_loop_poll(loop, 0));
    }
    CHECK(r.closes == 1 && r.last_close_code == 1006);
    CHECK(r.slow_events == 1);
    CHECK(r.slow_action == WSX_SLOW_SUBSCRIBER_DROP);
    CHECK(r.slow_conn_id == wsx_conn_id(r.conns[0]));
    CHECK(strcmp(r.slow_topic, "feed") == 0 && r.slow_topic_len == 4);
    CHECK(subscribers(server, "feed") == 0);
    close(fd);
    stop_rooms(loop, server, &r);
}

int main(void) {
    RUN(test_publish_subscribe_unsubscribe);
    RUN(test_slow_subscriber_is_dropped);
    return summary("test_pubsub");
}
