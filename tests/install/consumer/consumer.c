/* Linked against an installed wsx (tests/install/run.sh builds it four ways):
 * one message through a server and a client on one loop, the client
 * connecting by host name so that name resolution runs on its helper
 * threads. Exits 0 when the echo came back. */
#include <stdio.h>
#include <string.h>

#include <wsx.h>

static void echo(void *user_data, wsx_conn *conn, const wsx_message *msg) {
    (void)user_data;
    wsx_conn_send(conn, msg->kind, msg->data, msg->len);
}

static void got(void *user_data, wsx_conn *conn, const wsx_message *msg) {
    (void)conn;
    *(int *)user_data = msg->len == 4 && memcmp(msg->data, "ping", 4) == 0;
}

static void opened(void *user_data, wsx_conn *conn, const wsx_open *open) {
    (void)user_data;
    (void)open;
    wsx_conn_send(conn, WSX_MSG_KIND_TEXT, (const uint8_t *)"ping", 4);
}

int main(void) {
    int ok = 0;
    wsx_loop *loop = NULL;
    wsx_server *server = NULL;
    wsx_conn *conn = NULL;
    wsx_conn_callbacks echo_cb = {.struct_size = sizeof echo_cb, .on_message = echo};
    wsx_server_callbacks scb = {.struct_size = sizeof scb, .conn = &echo_cb};
    wsx_conn_callbacks ccb;
    memset(&ccb, 0, sizeof ccb);
    ccb.struct_size = sizeof ccb;
    ccb.user_data = &ok;
    ccb.on_open = opened;
    ccb.on_message = got;
    char url[64];
    if (wsx_loop_new(&loop) != WSX_OK || wsx_loop_listen(loop, NULL, &scb, &server) != WSX_OK) return 1;
    snprintf(url, sizeof url, "ws://localhost:%u/", (unsigned)wsx_server_port(server));
    if (wsx_loop_connect(loop, url, NULL, &ccb, &conn) != WSX_OK) return 1;
    for (int i = 0; i < 500 && !ok; i++) wsx_loop_poll(loop, 10);
    printf("wsx %s: echo %s\n", wsx_version(), ok ? "came back" : "missing");
    wsx_conn_release(conn);
    wsx_server_free(server);
    wsx_loop_free(loop);
    return ok ? 0 : 1;
}
