/*
 * A recorder of connection and server events, shared by the C tests: every
 * callback counts and keeps what it got, and a few switches make it act
 * (echo, free its own handle inside a callback, stop the loop, ...).
 */
#ifndef WSX_TEST_RECORDER_H
#define WSX_TEST_RECORDER_H

#include "harness.h"

typedef struct recorder {
    /* counts */
    volatile int opens, messages, pings, pongs, writables, errors, closes, frees;
    volatile int upgrades, server_errors, shutdowns, callbacks_after_close;
    /* what came last */
    wsx_conn *conn;
    uint16_t open_status;
    char subprotocol[64];
    char path[128];
    char header_value[128]; /* the value of `header_name` in the open event */
    const char *header_name;
    char peer_addr[64];
    wsx_msg_kind kind;
    unsigned char data[4096];
    size_t len;
    size_t total_len;
    int fin;
    int64_t rtt_us;
    wsx_result error_code;
    uint16_t http_status;
    char error_message[256];
    uint16_t close_code;
    char close_reason[128];
    int close_clean;
    wsx_close_origin close_origin;
    int close_normal;
    /* behaviour */
    int echo;                  /* send every message back */
    wsx_conn *free_on_message; /* wsx_conn_release this handle on the first message */
    wsx_conn *free_on_close;   /* wsx_conn_release this handle in the close callback */
    wsx_loop *stop_on_open;    /* wsx_loop_stop this loop in the open callback */
    wsx_loop *poll_on_open;    /* try wsx_loop_poll on this loop in the open callback */
    wsx_result poll_on_open_result;
    wsx_result send_after_close; /* wsx_conn_send from inside the close callback */
    /* upgrade decisions (server) */
    uint16_t refuse_status;
    const char *add_response_header;
    char request_origin[128];
    char request_path[128];
    char request_subprotocol[64];
    char request_header_value[128];
    struct recorder *per_conn; /* give accepted connections this recorder */
    /* the connection callbacks a server made by rec_server_callbacks points to */
    wsx_conn_callbacks server_conn_callbacks;
} recorder;

static inline void copy_str(char *dst, size_t cap, const char *src) {
    snprintf(dst, cap, "%s", src ? src : "");
}

static const char *find_header(const wsx_header *headers, size_t len, const char *name) {
    for (size_t i = 0; i < len; i++) {
        if (name && strcasecmp(headers[i].name, name) == 0) return headers[i].value;
    }
    return NULL;
}

static inline void rec_open(void *ud, wsx_conn *conn, const wsx_open *open) {
    recorder *r = ud;
    if (r->closes) r->callbacks_after_close++;
    r->opens++;
    r->conn = conn;
    r->open_status = open->status;
    copy_str(r->subprotocol, sizeof r->subprotocol, open->subprotocol);
    copy_str(r->path, sizeof r->path, open->path);
    copy_str(r->peer_addr, sizeof r->peer_addr, open->peer_addr);
    copy_str(r->header_value, sizeof r->header_value, find_header(open->headers, open->headers_len, r->header_name));
    if (r->poll_on_open) r->poll_on_open_result = wsx_loop_poll(r->poll_on_open, 0);
    if (r->stop_on_open) wsx_loop_stop(r->stop_on_open);
}

static inline void rec_message(void *ud, wsx_conn *conn, const wsx_message *msg) {
    recorder *r = ud;
    if (r->closes) r->callbacks_after_close++;
    r->messages++;
    r->conn = conn;
    r->kind = msg->kind;
    r->len = msg->len;
    r->total_len += msg->len;
    r->fin = msg->fin;
    memcpy(r->data, msg->data, msg->len < sizeof r->data ? msg->len : sizeof r->data);
    if (r->echo) wsx_conn_send(conn, msg->kind, msg->data, msg->len);
    if (r->free_on_message) {
        wsx_conn_release(r->free_on_message);
        r->free_on_message = NULL;
    }
}

static inline void rec_ping(void *ud, wsx_conn *conn, const wsx_ping *ping) {
    recorder *r = ud;
    (void)conn;
    (void)ping;
    r->pings++;
}

static inline void rec_pong(void *ud, wsx_conn *conn, const wsx_pong *pong) {
    recorder *r = ud;
    (void)conn;
    r->pongs++;
    r->rtt_us = pong->rtt_us;
    r->len = pong->len;
    memcpy(r->data, pong->data, pong->len < sizeof r->data ? pong->len : sizeof r->data);
}

static inline void rec_writable(void *ud, wsx_conn *conn) {
    recorder *r = ud;
    (void)conn;
    r->writables++;
}

static inline void rec_error(void *ud, wsx_conn *conn, const wsx_error *error) {
    recorder *r = ud;
    (void)conn;
    if (r->closes) r->callbacks_after_close++;
    r->errors++;
    r->error_code = error->code;
    r->http_status = error->http_status;
    copy_str(r->error_message, sizeof r->error_message, error->message);
}

static inline void rec_close(void *ud, wsx_conn *conn, const wsx_close *close) {
    recorder *r = ud;
    if (r->closes) r->callbacks_after_close++;
    r->closes++;
    r->close_code = close->code;
    r->close_clean = close->clean;
    r->close_origin = close->origin;
    r->close_normal = close->normal;
    copy_str(r->close_reason, sizeof r->close_reason, close->reason);
    r->send_after_close = wsx_conn_send(conn, WSX_MSG_KIND_TEXT, (const uint8_t *)"x", 1);
    if (r->free_on_close) {
        wsx_conn_release(r->free_on_close);
        r->free_on_close = NULL;
    }
}

static inline void rec_free(void *ud) {
    recorder *r = ud;
    r->frees++;
}

static inline wsx_conn_callbacks rec_conn_callbacks(recorder *r) {
    wsx_conn_callbacks cb;
    memset(&cb, 0, sizeof cb);
    cb.struct_size = sizeof cb;
    cb.user_data = r;
    cb.on_open = rec_open;
    cb.on_message = rec_message;
    cb.on_ping = rec_ping;
    cb.on_pong = rec_pong;
    cb.on_writable = rec_writable;
    cb.on_error = rec_error;
    cb.on_close = rec_close;
    cb.free_user_data = rec_free;
    return cb;
}

static inline void rec_upgrade(void *ud, wsx_upgrade *upgrade, const wsx_request *request) {
    recorder *r = ud;
    r->upgrades++;
    copy_str(r->request_origin, sizeof r->request_origin, request->origin);
    copy_str(r->request_path, sizeof r->request_path, request->path);
    copy_str(r->request_subprotocol, sizeof r->request_subprotocol, request->subprotocol);
    copy_str(r->request_header_value, sizeof r->request_header_value,
             find_header(request->headers, request->headers_len, r->header_name));
    if (r->add_response_header) wsx_upgrade_add_header(upgrade, r->add_response_header, "yes");
    if (r->refuse_status) {
        wsx_upgrade_refuse(upgrade, r->refuse_status, "not today");
        return;
    }
    if (r->per_conn) {
        wsx_conn_callbacks cb = rec_conn_callbacks(r->per_conn);
        wsx_upgrade_set_callbacks(upgrade, &cb);
    }
}

static inline void rec_server_error(void *ud, const wsx_error *error) {
    recorder *r = ud;
    r->server_errors++;
    copy_str(r->error_message, sizeof r->error_message, error->message);
}

static inline void rec_shutdown(void *ud) {
    recorder *r = ud;
    r->shutdowns++;
}

/* The server's callbacks; its connections' callbacks (r->server_conn_callbacks)
 * record into `r` too, and only the server's free_user_data counts in
 * r->frees (once the server is gone). */
static inline wsx_server_callbacks rec_server_callbacks(recorder *r) {
    r->server_conn_callbacks = rec_conn_callbacks(r);
    r->server_conn_callbacks.free_user_data = NULL;
    wsx_server_callbacks cb;
    memset(&cb, 0, sizeof cb);
    cb.struct_size = sizeof cb;
    cb.user_data = r;
    cb.conn = &r->server_conn_callbacks;
    cb.on_upgrade = rec_upgrade;
    cb.on_server_error = rec_server_error;
    cb.on_shutdown = rec_shutdown;
    cb.free_user_data = rec_free;
    return cb;
}

/* Starts a server on 127.0.0.1 and a free port; `options` may be NULL. */
static inline wsx_server *start_server(wsx_loop *loop, const wsx_server_options *options, recorder *r) {
    wsx_server_callbacks cb = rec_server_callbacks(r);
    wsx_server *server = NULL;
    CHECK_OK(wsx_loop_listen(loop, options, &cb, &server));
    return server;
}

/* "ws://127.0.0.1:PORT<path>" for `server`. */
static inline void server_url(char *buf, size_t cap, const char *scheme, wsx_server *server, const char *path) {
    snprintf(buf, cap, "%s://127.0.0.1:%u%s", scheme, (unsigned)wsx_server_port(server), path);
}

static inline wsx_conn *connect_to(wsx_loop *loop, const char *url, const wsx_client_options *options, recorder *r) {
    wsx_conn_callbacks cb = rec_conn_callbacks(r);
    wsx_conn *conn = NULL;
    CHECK_OK(wsx_loop_connect(loop, url, options, &cb, &conn));
    return conn;
}

#endif
