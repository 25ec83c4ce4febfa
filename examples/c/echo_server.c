/*
 * echo_server: answers every message with the same message and type. A close
 * is answered with the same code (the library echoes the peer's close).
 *
 *   echo_server [--host H] [--port P] [--tls-cert FILE --tls-key FILE] [--compress]
 *
 * --compress turns permessage-deflate on (off by default for servers); the
 * Autobahn TestSuite runs against it both ways (`make conformance`).
 * Prints "listening on HOST:PORT"; SIGINT/SIGTERM shut it down gracefully.
 */
#include "server_main.h"

static void on_message(void *user_data, wsx_conn *conn, const wsx_message *msg) {
    (void)user_data;
    wsx_result r = wsx_conn_send(conn, msg->kind, msg->data, msg->len);
    if (r != WSX_OK && r != WSX_ERR_CLOSED) {
        fprintf(stderr, "echo_server: send: %s\n", wsx_last_error_message());
    }
}

static void on_error(void *user_data, wsx_conn *conn, const wsx_error *error) {
    (void)user_data;
    fprintf(stderr, "echo_server: connection %llu: %s\n", (unsigned long long)wsx_conn_id(conn), error->message);
}

int main(int argc, char **argv) {
    /* Every connection's callbacks; copied when the server starts. */
    wsx_conn_callbacks conn = {.struct_size = sizeof conn, .on_message = on_message, .on_error = on_error};
    wsx_server_callbacks callbacks = {.struct_size = sizeof callbacks, .conn = &conn};
    return server_main("echo_server", argc, argv, callbacks);
}
