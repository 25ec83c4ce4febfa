/*
 * runner_c.h: what the C parity runner's two client APIs share. runner_c.c
 * reads the flat file, runs the steps and drives the loop API (wsx_loop_*,
 * pull mode); runner_c_engine.c drives the engine API (wsx_engine over the
 * runner's own socket). The steps see one connection type, `peer`: what
 * happened on it (open, error, close) in the same fields for both APIs.
 */
#ifndef WSX_PARITY_RUNNER_C_H
#define WSX_PARITY_RUNNER_C_H

#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stddef.h>

#include "wsx.h"

/* The engine API's state of a connection (runner_c_engine.c). */
typedef struct engine_io engine_io;

typedef struct peer {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs; /* ours + the library's user_data (loop API) */
    int opened, closed, reconnected;
    char subprotocol[128];
    int has_subprotocol;
    int deflate; /* permessage-deflate agreed */
    int library_error;
    wsx_result error_code;
    int http_status;
    char error_message[512];
    char response_headers[4096]; /* a refused handshake's: "name: value\n" per field */
    int close_code;
    char close_reason[128];
    wsx_close_origin close_origin;
    wsx_conn *conn;  /* loop API */
    engine_io *io;   /* engine API */
} peer;

typedef struct message {
    wsx_msg_kind kind;
    unsigned char *data;
    size_t len;
} message;

/* The suite's name of a failure kind (FORMAT.md's outcome.error). */
const char *kind_of(wsx_result code, int http_status);

/* Copies a refused handshake's headers into p->response_headers. */
void keep_headers(peer *p, const wsx_header *headers, size_t count);

/* ---- the engine API (runner_c_engine.c); `peer` fields as the loop's
 * callbacks fill them. Every wait pumps the socket, at most `ms`. */

/* Creates the engine (and wsx_tls for wss://) from `options`, connects a
 * non-blocking socket and starts the handshake; on failure returns its
 * result with `why` filled (the peer is left without an engine). */
wsx_result engine_connect(peer *p, const char *url, const wsx_client_options *options, int ms, char *why,
                          size_t why_len);
/* Whether the TLS layer (wsx_tls) refused the peer's bytes. */
int engine_tls_failed(const peer *p);
/* Waits until *flag (or *or_flag) is set; 0 when the time ran out. */
int engine_wait(peer *p, const int *flag, const int *or_flag, int ms);
/* Queues a message, or a piece of one when `fragment` (fin on the last). */
wsx_result engine_send(peer *p, wsx_msg_kind kind, const unsigned char *data, size_t len, int fragment, int fin);
/* One whole message: WSX_OK, WSX_ERR_CLOSED or WSX_ERR_TIMEOUT. */
wsx_result engine_recv(peer *p, message *m, int ms);
wsx_result engine_close(peer *p, uint16_t code, const char *reason);
/* Drops the transport: no close handshake (the engine reports 1006). */
wsx_result engine_abort(peer *p);
/* Closes (1000) if still open, lets the close handshake and the TCP close
 * finish (at most `ms`), and frees the engine, the TLS session and the socket. */
void engine_release(peer *p, int ms);

#endif
