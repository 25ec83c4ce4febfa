/*
 * Cluster pub/sub through the C API, against the redis-server whose port
 * tests/c/run.sh gives in WSX_TEST_REDIS_PORT: options (defaults, checks),
 * two servers of one cluster on one loop in poll mode, a publication on one
 * reaching a client of the other, the state and gap callbacks (the gap made
 * by publications written to Redis by hand, numbered 1 then 4), the
 * figures and the node id, and the getters on a server in no cluster.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "recorder.h"

#define WAIT_MS 20000

typedef struct node {
    volatile int ups, downs, gaps, opens, frees;
    wsx_cluster_state last_state;
    char detail[256];
    char gap_topic[32], gap_node[32];
    uint64_t gap_missed, gap_expected, gap_received;
    bool gap_epoch_changed;
} node;

static void node_state(void *ud, const wsx_cluster_state_event *event) {
    node *n = ud;
    n->last_state = event->state;
    copy_str(n->detail, sizeof n->detail, event->detail);
    CHECK(strlen(event->detail) == event->detail_len);
    if (event->state == WSX_CLUSTER_STATE_UP) n->ups++;
    if (event->state == WSX_CLUSTER_STATE_DOWN) n->downs++;
}

static void node_gap(void *ud, const wsx_cluster_gap *gap) {
    node *n = ud;
    n->gaps++;
    copy_str(n->gap_topic, sizeof n->gap_topic, gap->topic);
    copy_str(n->gap_node, sizeof n->gap_node, gap->node);
    CHECK(gap->topic_len == strlen(gap->topic) && gap->node_len == strlen(gap->node));
    n->gap_missed = gap->missed;
    n->gap_expected = gap->expected;
    n->gap_received = gap->received;
    n->gap_epoch_changed = gap->epoch_changed;
}

/* Server-side connections subscribe to the topic named by their path. */
static void member_open(void *ud, wsx_conn *conn, const wsx_open *open) {
    node *n = ud;
    CHECK_OK(wsx_conn_subscribe(conn, open->path + 1));
    n->opens++;
}

static void node_free(void *ud) {
    node *n = ud;
    n->frees++;
}

static wsx_server *start_node(wsx_loop *loop, uint16_t redis_port, const char *id, node *n) {
    memset(n, 0, sizeof *n);
    char url[64];
    snprintf(url, sizeof url, "redis://127.0.0.1:%u", (unsigned)redis_port);
    wsx_reconnect_options reconnect;
    memset(&reconnect, 0, sizeof reconnect);
    reconnect.struct_size = sizeof reconnect;
    CHECK_OK(wsx_reconnect_options_default(&reconnect));
    reconnect.initial_delay_ms = 50;
    wsx_cluster_options cluster;
    memset(&cluster, 0, sizeof cluster);
    cluster.struct_size = sizeof cluster;
    CHECK_OK(wsx_cluster_options_default(&cluster));
    cluster.url = url;
    cluster.prefix = "ctest:";
    cluster.node_id = id;
    cluster.reconnect = &reconnect;
    cluster.queue_full = WSX_QUEUE_FULL_DROP_OLDEST;
    wsx_server_options *so = NULL;
    CHECK_OK(wsx_server_options_new(&so));
    CHECK_OK(wsx_server_options_set_cluster(so, &cluster));
    wsx_conn_callbacks conn_cb;
    memset(&conn_cb, 0, sizeof conn_cb);
    conn_cb.struct_size = sizeof conn_cb;
    conn_cb.user_data = n;
    conn_cb.on_open = member_open;
    wsx_server_callbacks cb;
    memset(&cb, 0, sizeof cb);
    cb.struct_size = sizeof cb;
    cb.user_data = n;
    cb.free_user_data = node_free;
    cb.conn = &conn_cb;
    cb.on_cluster_state = node_state;
    cb.on_cluster_gap = node_gap;
    wsx_server *server = NULL;
    CHECK_OK(wsx_loop_listen(loop, so, &cb, &server));
    wsx_server_options_free(so);
    return server;
}

static uint16_t redis_port(void) {
    const char *port = getenv("WSX_TEST_REDIS_PORT");
    if (!port) {
        fprintf(stderr, "WSX_TEST_REDIS_PORT is not set: run through tests/c/run.sh\n");
        exit(2);
    }
    return (uint16_t)atoi(port);
}

static void be64(unsigned char *p, uint64_t v) {
    for (int i = 7; i >= 0; i--) {
        p[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

/* PUBLISHes a publication of node "fake" (epoch 7, number `seq`) to the
 * channel of `topic`, in the wire format the nodes use, straight to Redis. */
static void publish_by_hand(uint16_t port, const char *topic, uint64_t seq, const char *text) {
    unsigned char payload[128];
    size_t len = 0;
    memcpy(payload, "wsx\x01", 4);
    len = 4;
    payload[len++] = 1; /* text */
    payload[len++] = 4;
    memcpy(payload + len, "fake", 4);
    len += 4;
    be64(payload + len, 7);
    len += 8;
    be64(payload + len, seq);
    len += 8;
    memcpy(payload + len, text, strlen(text));
    len += strlen(text);
    char channel[64], head[128];
    snprintf(channel, sizeof channel, "ctest:%s", topic);
    int head_len = snprintf(head, sizeof head, "*3\r\n$7\r\nPUBLISH\r\n$%zu\r\n%s\r\n$%zu\r\n", strlen(channel),
                            channel, len);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0);
    CHECK(write(fd, head, (size_t)head_len) == head_len);
    CHECK(write(fd, payload, len) == (ssize_t)len);
    CHECK(write(fd, "\r\n", 2) == 2);
    char reply[64];
    CHECK(read(fd, reply, sizeof reply) > 0);
    CHECK(reply[0] == ':'); /* the number of receivers */
    close(fd);
}

static void test_options_are_checked(void) {
    wsx_server_options *so = NULL;
    CHECK_OK(wsx_server_options_new(&so));
    wsx_cluster_options cluster;
    memset(&cluster, 0, sizeof cluster);
    CHECK_RESULT(wsx_server_options_set_cluster(so, &cluster), WSX_ERR_INVALID_ARGUMENT); /* struct_size 0 */
    cluster.struct_size = sizeof cluster;
    CHECK_RESULT(wsx_server_options_set_cluster(so, &cluster), WSX_ERR_NULL); /* no url */
    cluster.url = "redis://127.0.0.1:1";
    cluster.queue_full = (wsx_queue_full)9;
    CHECK_RESULT(wsx_server_options_set_cluster(so, &cluster), WSX_ERR_INVALID_ARGUMENT);
    cluster.queue_full = WSX_QUEUE_FULL_DROP_NEWEST;
    CHECK_OK(wsx_server_options_set_cluster(so, &cluster));
    CHECK_OK(wsx_server_options_set_cluster(so, NULL));
    CHECK_RESULT(wsx_cluster_options_default(NULL), WSX_ERR_NULL);

    /* A bad URL fails at listen. */
    cluster.url = "http://127.0.0.1:1";
    CHECK_OK(wsx_server_options_set_cluster(so, &cluster));
    wsx_loop *loop = NULL;
    CHECK_OK(wsx_loop_new(&loop));
    wsx_server_callbacks cb;
    memset(&cb, 0, sizeof cb);
    cb.struct_size = sizeof cb;
    wsx_server *server = NULL;
    CHECK_RESULT(wsx_loop_listen(loop, so, &cb, &server), WSX_ERR_INVALID_ARGUMENT);
    CHECK(strstr(wsx_last_error_message(), "redis") != NULL);

    /* A server in no cluster has no cluster state. */
    recorder r;
    memset(&r, 0, sizeof r);
    server = start_server(loop, NULL, &r);
    wsx_cluster_state state;
    CHECK_RESULT(wsx_server_cluster_state(server, &state), WSX_ERR_STATE);
    wsx_cluster_stats stats;
    memset(&stats, 0, sizeof stats);
    stats.struct_size = sizeof stats;
    CHECK_RESULT(wsx_server_cluster_stats(server, &stats), WSX_ERR_STATE);
    char id[256];
    CHECK_RESULT(wsx_server_cluster_node_id(server, id, sizeof id), WSX_ERR_STATE);
    CHECK_RESULT(wsx_server_cluster_state(NULL, &state), WSX_ERR_NULL);
    CHECK_OK(wsx_server_shutdown(server, 1000));
    wsx_server_free(server);
    wsx_loop_free(loop);
    wsx_server_options_free(so);
}

static void test_two_nodes_share_a_topic(void) {
    uint16_t port = redis_port();
    wsx_loop *loop = NULL;
    CHECK_OK(wsx_loop_new(&loop));
    node a, b;
    wsx_server *sa = start_node(loop, port, "node-a", &a);
    wsx_server *sb = start_node(loop, port, "node-b", &b);
    CHECK(poll_until(loop, &a.ups, WAIT_MS));
    CHECK(poll_until(loop, &b.ups, WAIT_MS));
    wsx_cluster_state state = WSX_CLUSTER_STATE_DOWN;
    CHECK_OK(wsx_server_cluster_state(sa, &state));
    CHECK(state == WSX_CLUSTER_STATE_UP && a.last_state == WSX_CLUSTER_STATE_UP);
    CHECK(strstr(a.detail, "connected") != NULL);
    char id[256];
    CHECK_OK(wsx_server_cluster_node_id(sb, id, sizeof id));
    CHECK(strcmp(id, "node-b") == 0);
    CHECK_RESULT(wsx_server_cluster_node_id(sb, id, 4), WSX_ERR_INVALID_ARGUMENT);

    /* A client of node B subscribes to "room"; B subscribes on Redis. */
    recorder c;
    memset(&c, 0, sizeof c);
    char url[128];
    server_url(url, sizeof url, "ws", sb, "/room");
    wsx_conn *conn = connect_to(loop, url, NULL, &c);
    CHECK(poll_until(loop, &b.opens, WAIT_MS));
    wsx_cluster_stats stats;
    memset(&stats, 0, sizeof stats);
    stats.struct_size = sizeof stats;
    long long deadline = now_ms() + WAIT_MS;
    do {
        CHECK_OK(wsx_loop_poll(loop, 10));
        CHECK_OK(wsx_server_cluster_stats(sb, &stats));
    } while (stats.subscriptions != 1 && now_ms() < deadline);
    CHECK(stats.subscriptions == 1 && stats.state == WSX_CLUSTER_STATE_UP);

    /* Published on A (no local subscriber), delivered on B. */
    size_t count = 99;
    CHECK_OK(wsx_server_publish(sa, "room", WSX_MSG_KIND_TEXT, (const uint8_t *)"hello", 5, NULL, &count));
    CHECK(count == 0);
    CHECK(poll_until_count(loop, &c.messages, 1, WAIT_MS));
    CHECK(c.len == 5 && memcmp(c.data, "hello", 5) == 0);

    /* Publications 1 and 4 of another node: B reports 2 and 3 as lost. */
    publish_by_hand(port, "room", 1, "one");
    CHECK(poll_until_count(loop, &c.messages, 2, WAIT_MS));
    publish_by_hand(port, "room", 4, "four");
    CHECK(poll_until_count(loop, &c.messages, 3, WAIT_MS));
    CHECK(c.len == 4 && memcmp(c.data, "four", 4) == 0);
    CHECK(b.gaps == 1 && a.gaps == 0);
    CHECK(strcmp(b.gap_topic, "room") == 0 && strcmp(b.gap_node, "fake") == 0);
    CHECK(b.gap_missed == 2 && b.gap_expected == 2 && b.gap_received == 4 && !b.gap_epoch_changed);

    CHECK_OK(wsx_server_cluster_stats(sa, &stats));
    CHECK(stats.published == 1 && stats.epoch != 0 && stats.dropped == 0);
    CHECK_OK(wsx_server_cluster_stats(sb, &stats));
    CHECK(stats.received == 3 && stats.gaps == 1 && stats.published == 0);

    wsx_conn_release(conn);
    CHECK_OK(wsx_server_shutdown(sa, 1000));
    CHECK_OK(wsx_server_shutdown(sb, 1000));
    wsx_server_free(sa);
    wsx_server_free(sb);
    wsx_loop_free(loop);
    CHECK(a.frees == 1 && b.frees == 1);
    CHECK(a.downs == 0 && b.downs == 0);
}

int main(void) {
    RUN(test_options_are_checked);
    RUN(test_two_nodes_share_a_topic);
    return summary("test_cluster");
}
