/*
 * sansio_io.h: the transport half of the bring-your-own-I/O examples. One
 * connection = a POSIX socket the program owns, an optional wsx_tls session
 * above it, and a wsx_engine above that:
 *
 *   socket --recv--> wsx_tls_feed --plaintext--> wsx_engine_feed --> events
 *   socket <--send-- wsx_tls_peek_output <--wsx_tls_write-- wsx_engine_peek_output
 *
 * Without TLS the engine talks to the socket directly. Nothing here blocks:
 * the socket is non-blocking and the program's poll() loop decides when to
 * call sansio_read and sansio_flush.
 */
#ifndef WSX_EXAMPLE_SANSIO_IO_H
#define WSX_EXAMPLE_SANSIO_IO_H

#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "wsx.h"

typedef struct sansio_conn sansio_conn;

struct sansio_conn {
    int fd;
    wsx_engine *engine;
    wsx_tls *tls;           /* NULL: plain TCP */
    void (*on_events)(sansio_conn *c); /* takes every ready event */
    void *user;
    int shut_wr;            /* write side shut down */
    int eof;                /* the transport ended */
    int failed;             /* a transport or TLS error */
    int tls_failed;         /* of which: wsx_tls refused the peer's bytes */
    int close_seen;         /* the engine's CLOSE event came */
    uint64_t linger_until;  /* after shutdown: close the socket by then */
};

static uint64_t sansio_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int sansio_set_nonblocking(int fd) {
    int flags = fcntl(fd, F_GETFL, 0);
    return flags < 0 ? -1 : fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

/* Feeds bytes to the engine; when it takes fewer (a frame's worth waits
 * unparsed), lets the program take events and feeds the rest. */
static void sansio_feed_engine(sansio_conn *c, const uint8_t *data, size_t len) {
    while (len > 0) {
        size_t used = 0;
        if (wsx_engine_feed(c->engine, data, len, &used) != WSX_OK) {
            fprintf(stderr, "wsx_engine_feed: %s\n", wsx_last_error_message());
            c->failed = 1;
            return;
        }
        data += used;
        len -= used;
        if (len > 0) {
            c->on_events(c);
        }
    }
}

/* Moves TLS plaintext into the engine. */
static void sansio_drain_tls(sansio_conn *c) {
    const uint8_t *p;
    size_t n;
    while (wsx_tls_peek_plaintext(c->tls, &p, &n) == WSX_OK && n > 0) {
        sansio_feed_engine(c, p, n);
        wsx_tls_consume_plaintext(c->tls, n);
    }
}

static void sansio_transport_ended(sansio_conn *c) {
    if (!c->eof) {
        c->eof = 1;
        if (c->tls) {
            wsx_tls_feed_eof(c->tls);
        }
        wsx_engine_feed_eof(c->engine);
    }
}

/* Reads everything the socket has and feeds it up. */
static void sansio_read(sansio_conn *c) {
    uint8_t buf[64 * 1024];
    while (!c->eof) {
        ssize_t r = recv(c->fd, buf, sizeof buf, 0);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return;
        }
        if (r <= 0) {
            sansio_transport_ended(c);
            return;
        }
        if (c->tls == NULL) {
            sansio_feed_engine(c, buf, (size_t)r);
            continue;
        }
        size_t off = 0;
        while (off < (size_t)r) {
            size_t used = 0;
            if (wsx_tls_feed(c->tls, buf + off, (size_t)r - off, &used) != WSX_OK) {
                fprintf(stderr, "TLS: %s\n", wsx_last_error_message());
                c->failed = 1;
                c->tls_failed = 1;
                sansio_transport_ended(c);
                return;
            }
            off += used;
            sansio_drain_tls(c);
        }
        if (wsx_tls_peer_closed(c->tls)) {
            sansio_transport_ended(c);
        }
    }
}

static int sansio_send_all(sansio_conn *c, const uint8_t *p, size_t n, size_t *sent) {
    *sent = 0;
    while (*sent < n) {
        ssize_t w = send(c->fd, p + *sent, n - *sent, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return 0;
        }
        if (w < 0) {
            return -1;
        }
        *sent += (size_t)w;
    }
    return 0;
}

/* Writes what the engine (through TLS) has to send, as far as the socket
 * takes it; shuts the write side down once the engine says so. */
static void sansio_flush(sansio_conn *c) {
    const uint8_t *p;
    size_t n, sent;
    if (c->failed || c->shut_wr) {
        return;
    }
    if (c->tls) {
        while (wsx_engine_peek_output(c->engine, &p, &n) == WSX_OK && n > 0) {
            size_t w = 0;
            if (wsx_tls_write(c->tls, p, n, &w) != WSX_OK || w == 0) {
                break;
            }
            wsx_engine_consume_output(c->engine, w);
        }
        if (wsx_engine_wants_shutdown(c->engine)) {
            wsx_tls_close(c->tls);
        }
        while (wsx_tls_peek_output(c->tls, &p, &n) == WSX_OK && n > 0) {
            if (sansio_send_all(c, p, n, &sent) < 0) {
                c->failed = 1;
                return;
            }
            wsx_tls_consume_output(c->tls, sent);
            if (sent < n) {
                return;
            }
        }
    } else {
        while (wsx_engine_peek_output(c->engine, &p, &n) == WSX_OK && n > 0) {
            if (sansio_send_all(c, p, n, &sent) < 0) {
                c->failed = 1;
                return;
            }
            wsx_engine_consume_output(c->engine, sent);
            if (sent < n) {
                return;
            }
        }
    }
    if (wsx_engine_wants_shutdown(c->engine)) {
        shutdown(c->fd, SHUT_WR);
        c->shut_wr = 1;
        c->linger_until = sansio_now_ms() + 2000;
    }
}

/* Whether output waits for the socket. */
static int sansio_wants_write(const sansio_conn *c) {
    const uint8_t *p;
    size_t n = 0;
    if (c->shut_wr || c->failed) {
        return 0;
    }
    if (c->tls && wsx_tls_peek_output(c->tls, &p, &n) == WSX_OK && n > 0) {
        return 1;
    }
    return wsx_engine_peek_output(c->engine, &p, &n) == WSX_OK && n > 0;
}

/* Whether the connection is over: the CLOSE event came and the socket was
 * shut down and the peer's EOF came (or lingering ran out), or it failed. */
static int sansio_finished(const sansio_conn *c) {
    if (c->failed) {
        return 1;
    }
    return c->close_seen && c->shut_wr && (c->eof || sansio_now_ms() >= c->linger_until);
}

/* Milliseconds poll() may wait: until the engine's next deadline or the
 * end of lingering, at most `cap`. */
static int sansio_timeout(const sansio_conn *c, int cap) {
    uint64_t now = sansio_now_ms();
    uint64_t deadline = wsx_engine_next_deadline(c->engine);
    if (c->shut_wr && c->linger_until < deadline) {
        deadline = c->linger_until;
    }
    if (deadline == UINT64_MAX) {
        return cap;
    }
    uint64_t wait = deadline > now ? deadline - now : 0;
    return wait < (uint64_t)cap ? (int)wait : cap;
}

#endif
