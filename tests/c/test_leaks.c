/*
 * Every connection, server and loop is freed: the library's own counts of
 * live objects (wsx_debug_live_objects) return to where they were once the
 * application has released its references, whether connections were closed
 * cleanly, released before they closed, or still open when the loop was
 * freed. One loop in poll mode, on 127.0.0.1.
 */
#define _POSIX_C_SOURCE 200809L
#include "recorder.h"

#define WAIT_MS 20000 /* an upper bound only: valgrind on a loaded machine is slow */
#define CONNS 8

static wsx_live_objects live(void) {
    wsx_live_objects counts;
    memset(&counts, 0xff, sizeof counts);
    counts.struct_size = sizeof counts;
    CHECK_OK(wsx_debug_live_objects(&counts));
    return counts;
}

static void test_null_is_refused(void) {
    CHECK_RESULT(wsx_debug_live_objects(NULL), WSX_ERR_NULL);
}

static void test_everything_is_freed(void) {
    wsx_live_objects before = live();
    wsx_loop *loop = NULL;
    CHECK_OK(wsx_loop_new(&loop));
    recorder srv;
    memset(&srv, 0, sizeof srv);
    wsx_server *server = start_server(loop, NULL, &srv);
    char url[128];
    server_url(url, sizeof url, "ws", server, "/");
    recorder c[CONNS];
    wsx_conn *conns[CONNS];
    for (int i = 0; i < CONNS; i++) {
        memset(&c[i], 0, sizeof c[i]);
        conns[i] = connect_to(loop, url, NULL, &c[i]);
    }
    CHECK(poll_until_count(loop, &srv.opens, CONNS, WAIT_MS));
    for (int i = 0; i < CONNS; i++) CHECK(poll_until_count(loop, &c[i].opens, 1, WAIT_MS));

    wsx_live_objects during = live();
    CHECK(during.connections == before.connections + 2 * CONNS); /* both ends */
    CHECK(during.servers == before.servers + 1);
    CHECK(during.loops == before.loops + 1);

    /* A quarter released before closing, a quarter closed then released,
     * the rest left open until the loop goes. */
    for (int i = 0; i < CONNS / 4; i++) {
        CHECK_OK(wsx_conn_close(conns[i], 1000, "bye"));
        wsx_conn_release(conns[i]);
        conns[i] = NULL;
    }
    for (int i = CONNS / 4; i < CONNS / 2; i++) CHECK_OK(wsx_conn_close(conns[i], 1000, "bye"));
    for (int i = 0; i < CONNS / 2; i++) CHECK(poll_until_count(loop, &c[i].closes, 1, WAIT_MS));
    for (int i = CONNS / 4; i < CONNS / 2; i++) {
        wsx_conn_release(conns[i]);
        conns[i] = NULL;
    }
    /* Both ends of the closed half are gone (the server's once its close
     * callback ran). */
    CHECK(poll_until_count(loop, &srv.closes, CONNS / 2, WAIT_MS));
    CHECK(live().connections == before.connections + CONNS);

    wsx_server_free(server);
    wsx_loop_free(loop);
    for (int i = CONNS / 2; i < CONNS; i++) {
        CHECK(c[i].closes == 1 && c[i].frees == 1);
        wsx_conn_release(conns[i]);
    }
    wsx_live_objects after = live();
    CHECK(after.connections == before.connections);
    CHECK(after.servers == before.servers);
    CHECK(after.loops == before.loops);
    CHECK(srv.frees == 1);
}

int main(void) {
    RUN(test_null_is_refused);
    RUN(test_everything_is_freed);
    return summary("test_leaks");
}
