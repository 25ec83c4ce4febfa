/*
 * The C parity runner's engine API (`runner_c --api engine`): the scenarios
 * driven through wsx_engine, bring your own I/O, as a console program does
 * it: the runner owns a POSIX socket (a non-blocking connect, then poll()),
 * moves bytes between it and the engine (through wsx_tls for wss://), and
 * tells the engine the time (CLOCK_MONOTONIC into wsx_engine_tick). The
 * transport half is the examples' (examples/c/sansio_io.h).
 *
 * The runner is one thread and its steps are sequential, so every wait is a
 * pump: write what the engine has, poll the socket until the engine's next
 * deadline, read, tick, take events, until what the step waits for came or
 * the scenario's timeout passed.
 */
#include "../../examples/c/sansio_io.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>

#include "runner_c.h"

typedef struct received {
    message m;
    struct received *next;
} received;

struct engine_io {
    sansio_conn c;
    peer *p;
    received *head, *tail; /* messages not taken yet, oldest first */
};

/* Takes every ready event into the peer, as the loop API's callbacks do. */
static void on_events(sansio_conn *c) {
    engine_io *io = c->user;
    peer *p = io->p;
    wsx_engine_event ev;
    memset(&ev, 0, sizeof ev);
    ev.struct_size = sizeof ev;
    while (wsx_engine_next_event(c->engine, &ev) == WSX_OK && ev.kind != WSX_ENGINE_EVENT_KIND_NONE) {
        switch (ev.kind) {
        case WSX_ENGINE_EVENT_KIND_OPEN:
            p->opened = 1;
            p->has_subprotocol = ev.subprotocol != NULL;
            snprintf(p->subprotocol, sizeof p->subprotocol, "%s", ev.subprotocol ? ev.subprotocol : "");
            p->deflate = ev.deflate;
            break;
        case WSX_ENGINE_EVENT_KIND_MESSAGE: {
            received *r = calloc(1, sizeof *r);
            r->m.kind = ev.msg_kind;
            r->m.len = ev.len;
            r->m.data = malloc(ev.len + 1);
            if (ev.len) memcpy(r->m.data, ev.data, ev.len);
            if (io->tail) io->tail->next = r;
            else io->head = r;
            io->tail = r;
            break;
        }
        case WSX_ENGINE_EVENT_KIND_ERROR:
            p->library_error = 1;
            p->error_code = ev.error;
            p->http_status = ev.http_status;
            snprintf(p->error_message, sizeof p->error_message, "%.*s", (int)ev.len, (const char *)ev.data);
            keep_headers(p, ev.headers, ev.header_count);
            break;
        case WSX_ENGINE_EVENT_KIND_CLOSE:
            p->closed = 1;
            p->close_code = ev.close_code;
            snprintf(p->close_reason, sizeof p->close_reason, "%.*s", (int)ev.len, (const char *)ev.data);
            p->close_origin = ev.close_origin;
            c->close_seen = 1;
            break;
        default: /* ping (the engine answered it), pong, fragment (no streaming here) */
            break;
        }
    }
}

/* One turn: write, wait for the socket (at most until `until`, or the
 * engine's next deadline), read, tick, take events, write. A transport that
 * failed ends: what arrived before is read, then the engine hears EOF (its
 * CLOSE event follows, as after any end of the transport). */
static void pump(engine_io *io, uint64_t until) {
    sansio_conn *c = &io->c;
    sansio_flush(c);
    if (c->failed && !c->eof) {
        sansio_read(c);
        sansio_transport_ended(c);
    }
    if (c->eof && !c->close_seen) {
        on_events(c); /* the CLOSE after EOF */
        return;
    }
    uint64_t now = sansio_now_ms();
    int cap = until > now ? (int)(until - now) : 0;
    struct pollfd pfd = {c->fd, (short)(c->eof ? 0 : POLLIN), 0};
    if (sansio_wants_write(c)) pfd.events |= POLLOUT;
    if (poll(&pfd, 1, sansio_timeout(c, cap)) > 0 && (pfd.revents & (POLLIN | POLLHUP | POLLERR)))
        sansio_read(c);
    wsx_engine_tick(c->engine, sansio_now_ms());
    on_events(c);
    sansio_flush(c); /* what the events queued (a close reply, the shutdown) goes out now */
}

int engine_wait(peer *p, const int *flag, const int *or_flag, int ms) {
    engine_io *io = p->io;
    uint64_t until = sansio_now_ms() + (uint64_t)ms;
    /* After the CLOSE event nothing more happens. */
    while (!*flag && !(or_flag && *or_flag) && !p->closed && sansio_now_ms() < until) pump(io, until);
    return *flag || (or_flag && *or_flag);
}

/* Splits ws[s]://HOST[:PORT]/... into host and port (the engine reads the rest). */
static int host_port(const char *url, char *host, size_t cap, char *port, size_t port_cap, int *tls) {
    *tls = strncmp(url, "wss://", 6) == 0;
    const char *h = strstr(url, "://");
    if (!h) return -1;
    h += 3;
    const char *end = *h == '[' ? strchr(h, ']') : h + strcspn(h, ":/?#");
    if (!end) return -1;
    const char *name = *h == '[' ? h + 1 : h;
    if ((size_t)(end - name) >= cap) return -1;
    snprintf(host, cap, "%.*s", (int)(end - name), name);
    if (*end == ']') end++;
    if (*end == ':') snprintf(port, port_cap, "%.*s", (int)strcspn(end + 1, "/?#"), end + 1);
    else snprintf(port, port_cap, "%s", *tls ? "443" : "80");
    return 0;
}

/* A non-blocking connect to an address literal, finished with poll(). */
static int dial(const char *host, const char *port, int ms, char *why, size_t why_len) {
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV; /* no resolver: the suite uses 127.0.0.1 */
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        snprintf(why, why_len, "%s port %s: %s", host, port, gai_strerror(rc));
        return -1;
    }
    int fd = socket(res->ai_family, res->ai_socktype, res->ai_protocol);
    int one = 1, err = 0;
    socklen_t len = sizeof err;
    if (fd < 0 || sansio_set_nonblocking(fd) != 0) {
        err = errno;
    } else if (connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
        err = errno;
        if (err == EINPROGRESS) {
            struct pollfd pfd = {fd, POLLOUT, 0};
            int ready = poll(&pfd, 1, ms);
            err = ready == 0 ? ETIMEDOUT : ready < 0 ? errno : 0;
            if (ready > 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
        }
    }
    freeaddrinfo(res);
    if (err != 0) {
        snprintf(why, why_len, "connect to %s port %s: %s", host, port, strerror(err));
        if (fd >= 0) close(fd);
        return -1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* as the loop does */
    return fd;
}

wsx_result engine_connect(peer *p, const char *url, const wsx_client_options *options, int ms, char *why,
                          size_t why_len) {
    char host[256], port[16];
    int tls = 0;
    wsx_engine *engine = NULL;
    wsx_tls *session = NULL;
    /* The engine first: it checks the URL, as wsx_loop_connect does before any I/O. */
    wsx_result res = wsx_engine_client_new(url, options, &engine);
    if (res == WSX_OK && host_port(url, host, sizeof host, port, sizeof port, &tls) != 0) {
        wsx_engine_free(engine);
        snprintf(why, why_len, "the runner cannot split %s", url);
        return WSX_ERR_INVALID_ARGUMENT;
    }
    if (res == WSX_OK && tls) res = wsx_tls_client_new(host, options, &session);
    if (res != WSX_OK) {
        snprintf(why, why_len, "%s", wsx_last_error_message());
        wsx_engine_free(engine);
        return res;
    }
    int fd = dial(host, port, ms, why, why_len);
    if (fd < 0) {
        wsx_tls_free(session);
        wsx_engine_free(engine);
        return WSX_ERR_CONNECT;
    }
    engine_io *io = calloc(1, sizeof *io);
    io->p = p;
    io->c.fd = fd;
    io->c.engine = engine;
    io->c.tls = session;
    io->c.on_events = on_events;
    io->c.user = io;
    p->io = io;
    wsx_engine_tick(engine, sansio_now_ms()); /* starts the handshake timeout */
    return WSX_OK;
}

int engine_tls_failed(const peer *p) { return p->io && p->io->c.tls_failed; }

wsx_result engine_send(peer *p, wsx_msg_kind kind, const unsigned char *data, size_t len, int fragment, int fin) {
    wsx_result res = fragment ? wsx_engine_send_fragment(p->io->c.engine, kind, data, len, fin != 0)
                              : wsx_engine_send(p->io->c.engine, kind, data, len);
    sansio_flush(&p->io->c);
    return res;
}

wsx_result engine_recv(peer *p, message *m, int ms) {
    engine_io *io = p->io;
    uint64_t until = sansio_now_ms() + (uint64_t)ms;
    while (!io->head && !p->closed && sansio_now_ms() < until) pump(io, until);
    received *r = io->head;
    if (!r) return p->closed ? WSX_ERR_CLOSED : WSX_ERR_TIMEOUT;
    io->head = r->next;
    if (!io->head) io->tail = NULL;
    *m = r->m;
    free(r);
    return WSX_OK;
}

wsx_result engine_close(peer *p, uint16_t code, const char *reason) {
    wsx_result res = wsx_engine_close(p->io->c.engine, code, reason);
    sansio_flush(&p->io->c);
    return res;
}

wsx_result engine_abort(peer *p) {
    sansio_conn *c = &p->io->c;
    if (c->fd < 0) return WSX_ERR_CLOSED;
    close(c->fd);
    c->fd = -1;
    c->failed = 1;
    sansio_transport_ended(c); /* the engine ends the connection: CLOSE 1006 */
    on_events(c);
    return WSX_OK;
}

void engine_release(peer *p, int ms) {
    engine_io *io = p->io;
    if (!io) return;
    if (!p->closed && io->c.fd >= 0 && engine_close(p, 1000, NULL) == WSX_OK) engine_wait(p, &p->closed, NULL, ms);
    /* The server closes the TCP connection first (RFC 6455 7.1.1): wait for it. */
    uint64_t until = sansio_now_ms() + (uint64_t)ms;
    while (io->c.fd >= 0 && !sansio_finished(&io->c) && sansio_now_ms() < until) pump(io, until);
    while (io->head) {
        received *r = io->head;
        io->head = r->next;
        free(r->m.data);
        free(r);
    }
    if (io->c.fd >= 0) close(io->c.fd);
    wsx_tls_free(io->c.tls);
    wsx_engine_free(io->c.engine);
    free(io);
    p->io = NULL;
}
