/*
 * chat_server: broadcasts each message to every other open connection.
 *
 *   chat_server [--host H] [--port P] [--tls-cert FILE --tls-key FILE]
 *
 * Prints "listening on HOST:PORT"; SIGINT/SIGTERM shut it down gracefully.
 * Connections passed to callbacks are borrowed, so the room keeps its own
 * reference to each (wsx_conn_retain) and drops it when the connection closes.
 */
#include "server_main.h"

typedef struct room {
    wsx_conn **members;
    size_t count;
    size_t capacity;
} room;

static void on_open(void *user_data, wsx_conn *conn, const wsx_open *open) {
    room *r = user_data;
    if (r->count == r->capacity) {
        size_t capacity = r->capacity ? r->capacity * 2 : 16;
        wsx_conn **members = realloc(r->members, capacity * sizeof *members);
        if (members == NULL) {
            wsx_conn_close(conn, 1013, "room full");
            return;
        }
        r->members = members;
        r->capacity = capacity;
    }
    r->members[r->count++] = wsx_conn_retain(conn);
    printf("joined: %s (%zu in the room)\n", open->peer_addr, r->count);
    fflush(stdout);
}

static void on_message(void *user_data, wsx_conn *conn, const wsx_message *msg) {
    room *r = user_data;
    for (size_t i = 0; i < r->count; i++) {
        if (r->members[i] == conn) continue;
        /* A member that cannot keep up (would-block) or is closing misses it. */
        wsx_conn_send(r->members[i], msg->kind, msg->data, msg->len);
    }
}

static void on_close(void *user_data, wsx_conn *conn, const wsx_close *close) {
    room *r = user_data;
    (void)close;
    for (size_t i = 0; i < r->count; i++) {
        if (r->members[i] == conn) {
            wsx_conn_free(r->members[i]);
            r->members[i] = r->members[--r->count];
            break;
        }
    }
}

/* Runs once the server and every connection are gone. */
static void free_room(void *user_data) {
    room *r = user_data;
    for (size_t i = 0; i < r->count; i++) wsx_conn_free(r->members[i]);
    free(r->members);
    free(r);
}

int main(int argc, char **argv) {
    room *r = calloc(1, sizeof *r);
    if (r == NULL) return 1;
    wsx_server_callbacks callbacks;
    memset(&callbacks, 0, sizeof callbacks);
    callbacks.user_data = r;
    callbacks.on_open = on_open;
    callbacks.on_message = on_message;
    callbacks.on_close = on_close;
    callbacks.free_user_data = free_room;
    return server_main("chat_server", argc, argv, callbacks);
}
