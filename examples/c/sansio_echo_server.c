/*
 * sansio_echo_server: a WebSocket echo server that owns its sockets (bring
 * your own I/O): a listening POSIX socket and one poll() loop for every
 * connection, a wsx_engine per connection for the protocol, wsx_tls for
 * wss://, and a counting allocator (counting_alloc.h) through which every
 * allocation of the library goes.
 *
 *   sansio_echo_server [--port P] [--compress] [--tls-cert FILE --tls-key FILE] [--once]
 *
 * Listens on 127.0.0.1:P (0, the default, picks a free port) and prints
 * "listening on 127.0.0.1:PORT". Every connection's messages are echoed
 * back with their type; a request for the path /refuse is refused with 403.
 * --compress accepts permessage-deflate when a client offers it. SIGTERM or
 * SIGINT closes every connection with 1001 and exits once they are gone;
 * --once exits after the first connection ended. At exit it prints the
 * allocator's tally and fails if anything leaked.
 */
#include "sansio_io.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>

#include "counting_alloc.h"

#define MAX_CONNS 64

static volatile sig_atomic_t stop_requested = 0;

static void on_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

typedef struct server {
    int errors;
    int closes;
} server;

static void on_events(sansio_conn *c) {
    server *s = c->user;
    wsx_engine_event ev;
    memset(&ev, 0, sizeof ev);
    ev.struct_size = sizeof ev;
    while (wsx_engine_next_event(c->engine, &ev) == WSX_OK && ev.kind != WSX_ENGINE_EVENT_KIND_NONE) {
        wsx_result r = WSX_OK;
        switch (ev.kind) {
        case WSX_ENGINE_EVENT_KIND_REQUEST:
            if (strcmp(ev.path, "/refuse") == 0) {
                r = wsx_engine_refuse(c->engine, 403, "refused by sansio_echo_server");
                c->close_seen = 1; /* no event follows a refusal */
            } else {
                wsx_header h = {"X-Served-By", "sansio_echo_server"};
                r = wsx_engine_accept(c->engine, NULL, &h, 1);
            }
            break;
        case WSX_ENGINE_EVENT_KIND_OPEN:
            printf("open%s%s%s\n", ev.subprotocol ? " with " : "", ev.subprotocol ? ev.subprotocol : "",
                   ev.deflate ? " (permessage-deflate)" : "");
            break;
        case WSX_ENGINE_EVENT_KIND_MESSAGE:
            r = wsx_engine_send(c->engine, ev.msg_kind, ev.data, ev.len);
            break;
        case WSX_ENGINE_EVENT_KIND_FRAGMENT:
            r = wsx_engine_send_fragment(c->engine, ev.msg_kind, ev.data, ev.len, ev.fin);
            break;
        case WSX_ENGINE_EVENT_KIND_ERROR:
            fprintf(stderr, "sansio_echo_server: %.*s (%s)\n", (int)ev.len, (const char *)ev.data,
                    wsx_result_str(ev.error));
            s->errors++;
            break;
        case WSX_ENGINE_EVENT_KIND_CLOSE:
            printf("closed: %u%s%s%s\n", (unsigned)ev.close_code, ev.len ? " " : "", (const char *)ev.data,
                   ev.clean ? "" : " (not clean)");
            c->close_seen = 1;
            s->closes++;
            break;
        default:
            break;
        }
        fflush(stdout);
        if (r != WSX_OK && r != WSX_ERR_CLOSED) {
            fprintf(stderr, "sansio_echo_server: %s\n", wsx_last_error_message());
            s->errors++;
        }
    }
}

static void free_conn(sansio_conn *c) {
    close(c->fd);
    wsx_tls_free(c->tls);
    wsx_engine_free(c->engine);
    free(c);
}

static int listen_on(int port, int *out_port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, 64) != 0 ||
        getsockname(fd, (struct sockaddr *)&addr, &len) != 0 || sansio_set_nonblocking(fd) != 0) {
        perror("sansio_echo_server: listen");
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    *out_port = ntohs(addr.sin_port);
    return fd;
}

typedef struct args {
    int port, compress, once;
    const char *cert, *key;
} args;

static int run(void *p) {
    const args *a = p;
    int port = a->port, compress = a->compress, once = a->once;
    const char *cert = a->cert, *key = a->key;
    server s;
    memset(&s, 0, sizeof s);
    sansio_conn *conns[MAX_CONNS];
    int count = 0, served = 0, status = 1;
    wsx_server_options *options = NULL;
    int lfd = -1;
    if (wsx_server_options_new(&options) != WSX_OK) {
        fprintf(stderr, "sansio_echo_server: %s\n", wsx_last_error_message());
        goto done;
    }
    if (compress) {
        wsx_deflate_options deflate;
        memset(&deflate, 0, sizeof deflate);
        deflate.struct_size = sizeof deflate;
        if (wsx_deflate_options_default(&deflate) != WSX_OK ||
            wsx_conn_options_set_compression(wsx_server_options_conn(options), &deflate) != WSX_OK) {
            fprintf(stderr, "sansio_echo_server: %s\n", wsx_last_error_message());
            goto done;
        }
    }
    int bound = 0;
    lfd = listen_on(port, &bound);
    if (lfd < 0) {
        goto done;
    }
    printf("listening on 127.0.0.1:%d\n", bound);
    fflush(stdout);
    int stopping = 0;
    for (;;) {
        if (stop_requested && !stopping) {
            stopping = 1;
            for (int i = 0; i < count; i++) {
                if (wsx_engine_state(conns[i]->engine) == WSX_STATE_OPEN) {
                    wsx_engine_close(conns[i]->engine, 1001, "server shutting down");
                }
            }
        }
        /* Flush, and retire finished connections. */
        for (int i = 0; i < count;) {
            sansio_flush(conns[i]);
            if (sansio_finished(conns[i]) || (conns[i]->eof && !sansio_wants_write(conns[i]) && conns[i]->close_seen)) {
                free_conn(conns[i]);
                conns[i] = conns[--count];
                served++;
            } else {
                i++;
            }
        }
        if ((stopping || (once && served > 0)) && count == 0) {
            break;
        }
        struct pollfd pfds[MAX_CONNS + 1];
        int timeout = 1000;
        pfds[0].fd = stopping || (once && served + count > 0) ? -1 : lfd;
        pfds[0].events = POLLIN;
        pfds[0].revents = 0;
        for (int i = 0; i < count; i++) {
            pfds[i + 1].fd = conns[i]->fd;
            pfds[i + 1].events = (short)((conns[i]->eof ? 0 : POLLIN) | (sansio_wants_write(conns[i]) ? POLLOUT : 0));
            pfds[i + 1].revents = 0;
            int t = sansio_timeout(conns[i], timeout);
            timeout = t < timeout ? t : timeout;
        }
        int n = poll(pfds, (nfds_t)count + 1, timeout);
        if (n < 0 && errno != EINTR) {
            perror("poll");
            break;
        }
        uint64_t now = sansio_now_ms();
        int polled = count;
        for (int i = 0; i < polled; i++) {
            if (pfds[i + 1].revents & (POLLIN | POLLHUP | POLLERR)) {
                sansio_read(conns[i]);
            }
            wsx_engine_tick(conns[i]->engine, now);
            on_events(conns[i]);
            if (conns[i]->eof && !conns[i]->close_seen) {
                on_events(conns[i]);
            }
        }
        if (pfds[0].revents & POLLIN) {
            int fd = accept(lfd, NULL, NULL);
            if (fd >= 0 && count == MAX_CONNS) {
                close(fd);
            } else if (fd >= 0) {
                sansio_conn *c = calloc(1, sizeof *c);
                if (c == NULL || sansio_set_nonblocking(fd) != 0 ||
                    wsx_engine_server_new(options, &c->engine) != WSX_OK ||
                    (cert && wsx_tls_server_new(cert, key, &c->tls) != WSX_OK)) {
                    fprintf(stderr, "sansio_echo_server: %s\n", wsx_last_error_message());
                    if (c) {
                        wsx_engine_free(c->engine);
                        free(c);
                    }
                    close(fd);
                    s.errors++;
                } else {
                    c->fd = fd;
                    c->on_events = on_events;
                    c->user = &s;
                    wsx_engine_tick(c->engine, now);
                    conns[count++] = c;
                }
            }
        }
    }
    status = s.errors == 0 ? 0 : 1;
done:
    for (int i = 0; i < count; i++) {
        free_conn(conns[i]);
    }
    if (lfd >= 0) {
        close(lfd);
    }
    wsx_server_options_free(options);
    return status;
}

int main(int argc, char **argv) {
    counting_alloc_install(); /* before any other wsx call */
    int port = 0, compress = 0, once = 0;
    const char *cert = NULL, *key = NULL;
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--port") == 0) {
            port = atoi(argv[++i]);
        } else if (i + 1 < argc && strcmp(argv[i], "--tls-cert") == 0) {
            cert = argv[++i];
        } else if (i + 1 < argc && strcmp(argv[i], "--tls-key") == 0) {
            key = argv[++i];
        } else if (strcmp(argv[i], "--compress") == 0) {
            compress = 1;
        } else if (strcmp(argv[i], "--once") == 0) {
            once = 1;
        } else {
            fprintf(stderr, "usage: sansio_echo_server [--port P] [--compress] [--tls-cert FILE --tls-key FILE] [--once]\n");
            return 2;
        }
    }
    if ((cert == NULL) != (key == NULL)) {
        fprintf(stderr, "sansio_echo_server: --tls-cert and --tls-key go together\n");
        return 2;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    args a = {port, compress, once, cert, key};
    int status = counting_alloc_run(run, &a);
    return counting_alloc_report("sansio_echo_server") ? status : 1;
}
