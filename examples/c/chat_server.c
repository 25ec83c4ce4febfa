/*
 * chat_server: chat rooms on publish/subscribe topics. Each message a
 * member sends is published to its room, reaching every other member; the
 * frame is encoded once and shared by all of them.
 *
 *   chat_server [--host H] [--port P] [--tls-cert FILE --tls-key FILE]
 *               [--cluster redis://HOST:PORT [--node-id ID]]
 *
 * Rooms:
 *   - a client joins room NAME by connecting to the path /room/NAME; any
 *     other path joins the room "lobby";
 *   - a text message "/join NAME" moves the sender to room NAME (it gets
 *     "* joined NAME" back, or "* bad room name");
 *   - every other message, text or binary, goes to the sender's room.
 * Room names are 1 to 63 bytes of letters, digits, '-', '_' and '.'.
 *
 * With --cluster, several chat_server processes (on one machine or many)
 * share their rooms through Redis: a message reaches the room's members on
 * every server, once, in the order its sender sent it.
 *
 * Prints "listening on HOST:PORT"; SIGINT/SIGTERM shut it down gracefully.
 * Each connection gets callbacks of its own (wsx_upgrade_set_callbacks)
 * whose user data holds its room; the library frees it after the close.
 */
#include "server_main.h"

#define ROOM_MAX 64

typedef struct member {
    char room[ROOM_MAX];
} member;

/* Copies a valid room name of `len` bytes into `out`; 0 if it is not one. */
static int room_name(const char *name, size_t len, char out[ROOM_MAX]) {
    if (len == 0 || len >= ROOM_MAX) return 0;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '_' || c == '.';
        if (!ok) return 0;
    }
    memcpy(out, name, len);
    out[len] = '\0';
    return 1;
}

static void reply(wsx_conn *conn, const char *text) {
    wsx_conn_send(conn, WSX_MSG_KIND_TEXT, (const uint8_t *)text, strlen(text));
}

/* Leaves the current room for `name` (already valid). */
static void join(member *m, wsx_conn *conn, const char *name) {
    if (wsx_conn_unsubscribe(conn, m->room, NULL) != WSX_OK || wsx_conn_subscribe(conn, name) != WSX_OK) {
        fprintf(stderr, "chat_server: join: %s\n", wsx_last_error_message());
        return;
    }
    snprintf(m->room, sizeof m->room, "%s", name);
}

static void on_open(void *user_data, wsx_conn *conn, const wsx_open *open) {
    member *m = user_data;
    if (wsx_conn_subscribe(conn, m->room) != WSX_OK) {
        fprintf(stderr, "chat_server: subscribe: %s\n", wsx_last_error_message());
        return;
    }
    size_t count = 0;
    wsx_server_subscribers(server_running, m->room, &count);
    printf("joined %s: %s (%zu in the room)\n", m->room, open->peer_addr, count);
    fflush(stdout);
}

static void on_message(void *user_data, wsx_conn *conn, const wsx_message *msg) {
    member *m = user_data;
    static const char command[] = "/join ";
    size_t prefix = sizeof command - 1;
    if (msg->kind == WSX_MSG_KIND_TEXT && msg->len >= prefix && memcmp(msg->data, command, prefix) == 0) {
        char name[ROOM_MAX];
        if (!room_name((const char *)msg->data + prefix, msg->len - prefix, name)) {
            reply(conn, "* bad room name");
            return;
        }
        join(m, conn, name);
        char text[ROOM_MAX + 16];
        snprintf(text, sizeof text, "* joined %s", m->room);
        reply(conn, text);
        return;
    }
    /* A member that cannot keep up misses the message (the default
     * slow-subscriber policy); the others are not held up. */
    wsx_result r = wsx_server_publish(server_running, m->room, msg->kind, msg->data, msg->len, conn, NULL);
    if (r != WSX_OK) fprintf(stderr, "chat_server: publish: %s\n", wsx_last_error_message());
}

static void on_upgrade(void *user_data, wsx_upgrade *upgrade, const wsx_request *request) {
    (void)user_data;
    member *m = calloc(1, sizeof *m);
    if (m == NULL) {
        wsx_upgrade_refuse(upgrade, 503, "out of memory");
        return;
    }
    static const char prefix[] = "/room/";
    const char *path = request->path;
    size_t len = strcspn(path, "?");
    int named = strncmp(path, prefix, sizeof prefix - 1) == 0 &&
                room_name(path + sizeof prefix - 1, len - (sizeof prefix - 1), m->room);
    if (!named) snprintf(m->room, sizeof m->room, "lobby");
    wsx_conn_callbacks callbacks;
    memset(&callbacks, 0, sizeof callbacks);
    callbacks.struct_size = sizeof callbacks;
    callbacks.user_data = m;
    callbacks.on_open = on_open;
    callbacks.on_message = on_message;
    callbacks.free_user_data = free; /* runs once the connection is gone */
    if (wsx_upgrade_set_callbacks(upgrade, &callbacks) != WSX_OK) {
        wsx_upgrade_refuse(upgrade, 500, "could not accept");
    }
}

int main(int argc, char **argv) {
    wsx_server_callbacks callbacks = {.struct_size = sizeof callbacks, .on_upgrade = on_upgrade};
    return server_main("chat_server", argc, argv, callbacks);
}
