/*
 * rr_client: request-response on one connection with the wsx C API, for the
 * bindings table of `make bench`. Sends a binary message, waits for its echo,
 * sends the next, for a fixed time after a short warm-up; poll mode on the
 * calling thread, as a game loop drives it.
 *
 *   rr_client --url ws://HOST:PORT/ [--duration SECS] [--sizes 256,65536]
 *
 * Prints one JSON line per size: {"client": "C", "size": N, "rt_per_s": R}.
 */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wsx.h"

#define WARMUP 0.3

typedef struct bench {
    const uint8_t *payload;
    size_t size;
    double start, measure_from, end;
    long count;
    int done, failed;
} bench;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void send_next(bench *b, wsx_conn *conn) {
    if (wsx_conn_send(conn, WSX_MSG_KIND_BINARY, b->payload, b->size) != WSX_OK) {
        fprintf(stderr, "rr_client: send: %s\n", wsx_last_error_message());
        b->failed = 1;
        wsx_conn_close(conn, 1011, "send failed");
    }
}

static void on_open(void *user_data, wsx_conn *conn, const wsx_open *open) {
    bench *b = user_data;
    (void)open;
    b->start = now();
    b->measure_from = b->start + WARMUP;
    send_next(b, conn);
}

static void on_message(void *user_data, wsx_conn *conn, const wsx_message *msg) {
    bench *b = user_data;
    if (msg->len != b->size || memcmp(msg->data, b->payload, b->size) != 0) {
        fprintf(stderr, "rr_client: the echo differs from the message\n");
        b->failed = 1;
        wsx_conn_close(conn, 1002, "bad echo");
        return;
    }
    double t = now();
    if (t >= b->measure_from) {
        b->count++;
    }
    if (t < b->end) {
        send_next(b, conn);
    } else {
        wsx_conn_close(conn, 1000, "done");
    }
}

static void on_error(void *user_data, wsx_conn *conn, const wsx_error *error) {
    bench *b = user_data;
    (void)conn;
    b->failed = 1;
    fprintf(stderr, "rr_client: %s\n", error->message);
}

static void on_close(void *user_data, wsx_conn *conn, const wsx_close *close) {
    bench *b = user_data;
    (void)conn;
    (void)close;
    b->done = 1;
}

static int run(wsx_loop *loop, const char *url, size_t size, double duration) {
    uint8_t *payload = malloc(size);
    if (payload == NULL) {
        return 1;
    }
    for (size_t i = 0; i < size; i++) {
        payload[i] = (uint8_t)(i % 251);
    }
    bench b;
    memset(&b, 0, sizeof b);
    b.payload = payload;
    b.size = size;
    b.end = now() + 60.0; /* set for real once open */
    wsx_conn_callbacks callbacks;
    memset(&callbacks, 0, sizeof callbacks);
    callbacks.struct_size = sizeof callbacks;
    callbacks.user_data = &b;
    callbacks.on_open = on_open;
    callbacks.on_message = on_message;
    callbacks.on_error = on_error;
    callbacks.on_close = on_close;
    wsx_conn *conn = NULL;
    if (wsx_loop_connect(loop, url, NULL, &callbacks, &conn) != WSX_OK) {
        fprintf(stderr, "rr_client: %s\n", wsx_last_error_message());
        free(payload);
        return 1;
    }
    int timed = 0;
    while (!b.done) {
        if (!timed && b.start > 0) {
            b.end = b.measure_from + duration;
            timed = 1;
        }
        if (wsx_loop_poll(loop, 100) != WSX_OK) {
            fprintf(stderr, "rr_client: poll: %s\n", wsx_last_error_message());
            b.failed = 1;
            break;
        }
    }
    wsx_conn_release(conn);
    free(payload);
    if (b.failed) {
        return 1;
    }
    printf("{\"client\": \"C\", \"size\": %zu, \"rt_per_s\": %.1f}\n", size, (double)b.count / duration);
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv) {
    const char *url = NULL;
    const char *sizes = "256,65536";
    double duration = 2.0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--url") == 0) {
            url = argv[i + 1];
        } else if (strcmp(argv[i], "--duration") == 0) {
            duration = atof(argv[i + 1]);
        } else if (strcmp(argv[i], "--sizes") == 0) {
            sizes = argv[i + 1];
        }
    }
    if (url == NULL || duration <= 0) {
        fprintf(stderr, "usage: rr_client --url URL [--duration SECS] [--sizes 256,65536]\n");
        return 2;
    }
    wsx_loop *loop = NULL;
    if (wsx_loop_new(&loop) != WSX_OK) {
        fprintf(stderr, "rr_client: %s\n", wsx_last_error_message());
        return 1;
    }
    int status = 0;
    for (const char *p = sizes; *p && status == 0;) {
        char *next = NULL;
        size_t size = (size_t)strtoul(p, &next, 10);
        status = run(loop, url, size, duration);
        p = *next == ',' ? next + 1 : next;
    }
    wsx_loop_free(loop);
    return status;
}
