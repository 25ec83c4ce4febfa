/*
 * sansio_echo_client: a WebSocket client that owns its socket (bring your
 * own I/O): a POSIX socket and a poll() loop of its own, wsx_engine for the
 * protocol, wsx_tls for wss://, and a counting allocator (counting_alloc.h)
 * through which every allocation of the library goes.
 *
 *   sansio_echo_client [--ca FILE] [--no-compress] [--stream] URL
 *       Sends back every message it receives, with the same type, until the
 *       peer closes. With --stream, messages are taken and echoed piece by
 *       piece (wsx_engine_send_fragment). Exits 0 after a clean close.
 *
 *   sansio_echo_client [...] [--send TEXT ...] [--send-bytes N ...] [--close CODE] URL
 *       Sends each TEXT (text) and N bytes (binary), checks and prints what
 *       came back, then closes with CODE (default 1000).
 *
 * URLs as for echo_client: ws://HOST:PORT/PATH or wss://HOST:PORT/PATH (HOST
 * a name or an address; the name is resolved here, with getaddrinfo).
 * At exit it prints the allocator's tally and fails if anything leaked.
 */
#include "sansio_io.h"

#include <netdb.h>
#include <poll.h>
#include <stdlib.h>

#include "counting_alloc.h"

#define MAX_SENDS 64

typedef struct client {
    const char *texts[MAX_SENDS];
    size_t sizes[MAX_SENDS]; /* 0: the entry is a text */
    int send_count;
    int replies;
    int mismatches;
    int stream;
    uint16_t close_code;
    int clean;
    int errors;
} client;

static uint8_t pattern(size_t i) { return (uint8_t)(i * 31u + 7u); }

static void send_all(sansio_conn *c, client *cl) {
    for (int i = 0; i < cl->send_count; i++) {
        wsx_result r;
        if (cl->sizes[i] == 0) {
            r = wsx_engine_send(c->engine, WSX_MSG_KIND_TEXT, (const uint8_t *)cl->texts[i], strlen(cl->texts[i]));
            printf("sent: %s\n", cl->texts[i]);
        } else {
            uint8_t *data = malloc(cl->sizes[i]);
            for (size_t j = 0; data && j < cl->sizes[i]; j++) {
                data[j] = pattern(j);
            }
            r = data ? wsx_engine_send(c->engine, WSX_MSG_KIND_BINARY, data, cl->sizes[i]) : WSX_ERR_IO;
            free(data);
            printf("sent: %zu bytes of binary\n", cl->sizes[i]);
        }
        if (r != WSX_OK) {
            fprintf(stderr, "sansio_echo_client: send: %s\n", wsx_last_error_message());
            cl->errors++;
        }
    }
    fflush(stdout);
}

static void check_reply(sansio_conn *c, client *cl, const wsx_engine_event *ev) {
    int i = cl->replies++;
    if (ev->msg_kind == WSX_MSG_KIND_TEXT) {
        printf("received: %.*s\n", (int)ev->len, (const char *)ev->data);
        if (i >= cl->send_count || cl->sizes[i] != 0 || strlen(cl->texts[i]) != ev->len ||
            memcmp(cl->texts[i], ev->data, ev->len) != 0) {
            cl->mismatches++;
        }
    } else {
        int same = i < cl->send_count && cl->sizes[i] == ev->len;
        for (size_t j = 0; same && j < ev->len; j++) {
            same = ev->data[j] == pattern(j);
        }
        printf("received: %zu bytes of binary (%s)\n", ev->len, same ? "matches" : "MISMATCH");
        cl->mismatches += !same;
    }
    fflush(stdout);
    if (cl->replies == cl->send_count) {
        if (wsx_engine_close(c->engine, cl->close_code, "done") != WSX_OK) {
            fprintf(stderr, "sansio_echo_client: close: %s\n", wsx_last_error_message());
            cl->errors++;
        }
    }
}

static void on_events(sansio_conn *c) {
    client *cl = c->user;
    wsx_engine_event ev;
    memset(&ev, 0, sizeof ev);
    ev.struct_size = sizeof ev;
    while (wsx_engine_next_event(c->engine, &ev) == WSX_OK && ev.kind != WSX_ENGINE_EVENT_KIND_NONE) {
        wsx_result r = WSX_OK;
        switch (ev.kind) {
        case WSX_ENGINE_EVENT_KIND_OPEN:
            printf("open%s%s%s\n", ev.subprotocol ? " with " : "", ev.subprotocol ? ev.subprotocol : "",
                   ev.deflate ? " (permessage-deflate)" : "");
            fflush(stdout);
            send_all(c, cl);
            break;
        case WSX_ENGINE_EVENT_KIND_MESSAGE:
            if (cl->send_count > 0) {
                check_reply(c, cl, &ev);
            } else {
                r = wsx_engine_send(c->engine, ev.msg_kind, ev.data, ev.len);
            }
            break;
        case WSX_ENGINE_EVENT_KIND_FRAGMENT:
            r = wsx_engine_send_fragment(c->engine, ev.msg_kind, ev.data, ev.len, ev.fin);
            break;
        case WSX_ENGINE_EVENT_KIND_ERROR:
            fprintf(stderr, "sansio_echo_client: %.*s (%s%s)\n", (int)ev.len, (const char *)ev.data,
                    wsx_result_str(ev.error), ev.http_status ? ", HTTP status" : "");
            cl->errors++;
            break;
        case WSX_ENGINE_EVENT_KIND_CLOSE:
            printf("closed: %u%s%s%s\n", (unsigned)ev.close_code, ev.len ? " " : "", (const char *)ev.data,
                   ev.clean ? "" : " (not clean)");
            fflush(stdout);
            cl->clean = ev.clean;
            c->close_seen = 1;
            break;
        default: /* ping (answered by the engine), pong */
            break;
        }
        if (r != WSX_OK && r != WSX_ERR_CLOSED) {
            fprintf(stderr, "sansio_echo_client: echo: %s\n", wsx_last_error_message());
            cl->errors++;
        }
    }
}

/* Splits ws[s]://HOST[:PORT]/... into host and port (the engine reads the rest). */
static int parse_url(const char *url, char *host, size_t cap, char *port, int *tls) {
    const char *p;
    if (strncmp(url, "ws://", 5) == 0) {
        p = url + 5;
        *tls = 0;
    } else if (strncmp(url, "wss://", 6) == 0) {
        p = url + 6;
        *tls = 1;
    } else {
        return -1;
    }
    const char *end;
    if (*p == '[') {
        end = strchr(p, ']');
        if (end == NULL || (size_t)(end - p - 1) >= cap) {
            return -1;
        }
        memcpy(host, p + 1, (size_t)(end - p - 1));
        host[end - p - 1] = 0;
        end++;
    } else {
        end = p + strcspn(p, ":/?#");
        if ((size_t)(end - p) >= cap || end == p) {
            return -1;
        }
        memcpy(host, p, (size_t)(end - p));
        host[end - p] = 0;
    }
    if (*end == ':') {
        size_t n = strcspn(end + 1, "/?#");
        if (n == 0 || n > 5) {
            return -1;
        }
        memcpy(port, end + 1, n);
        port[n] = 0;
    } else {
        strcpy(port, *tls ? "443" : "80");
    }
    return 0;
}

static int dial(const char *host, const char *port) {
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "sansio_echo_client: %s: %s\n", host, gai_strerror(rc));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
        if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
            break;
        }
        if (fd >= 0) {
            close(fd);
        }
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        fprintf(stderr, "sansio_echo_client: cannot connect to %s port %s: %s\n", host, port, strerror(errno));
    }
    return fd;
}

static void usage(void) {
    fprintf(stderr, "usage: sansio_echo_client [--ca FILE] [--no-compress] [--stream] [--send TEXT ...] "
                    "[--send-bytes N ...] [--close CODE] ws[s]://HOST:PORT/PATH\n");
}

typedef struct args {
    client *cl;
    const char *url, *ca;
    int compress;
} args;

static int run(void *p) {
    args *a = p;
    client *cl = a->cl;
    const char *url = a->url, *ca = a->ca;
    int compress = a->compress;
    char host[256], port[8];
    int tls = 0;
    if (parse_url(url, host, sizeof host, port, &tls) != 0) {
        fprintf(stderr, "sansio_echo_client: bad URL %s\n", url);
        return 2;
    }
    wsx_client_options *options = NULL;
    sansio_conn c;
    memset(&c, 0, sizeof c);
    c.fd = -1;
    c.on_events = on_events;
    c.user = cl;
    int status = 1;
    if (wsx_client_options_new(&options) != WSX_OK ||
        (ca && wsx_client_options_set_tls_ca_file(options, ca) != WSX_OK) ||
        (!compress && wsx_conn_options_set_compression(wsx_client_options_conn(options), NULL) != WSX_OK) ||
        (cl->stream && wsx_conn_options_set_streaming(wsx_client_options_conn(options), true) != WSX_OK) ||
        wsx_engine_client_new(url, options, &c.engine) != WSX_OK ||
        (tls && wsx_tls_client_new(host, options, &c.tls) != WSX_OK)) {
        fprintf(stderr, "sansio_echo_client: %s\n", wsx_last_error_message());
        goto done;
    }
    c.fd = dial(host, port);
    if (c.fd < 0 || sansio_set_nonblocking(c.fd) != 0) {
        goto done;
    }
    wsx_engine_tick(c.engine, sansio_now_ms());
    while (!sansio_finished(&c)) {
        sansio_flush(&c);
        if (sansio_finished(&c)) {
            break;
        }
        if (c.eof && !sansio_wants_write(&c) && !c.close_seen) {
            on_events(&c); /* the CLOSE after EOF */
            continue;
        }
        struct pollfd pfd = {c.fd, (short)(c.eof ? 0 : POLLIN), 0};
        if (sansio_wants_write(&c)) {
            pfd.events |= POLLOUT;
        }
        if (poll(&pfd, 1, sansio_timeout(&c, 1000)) < 0 && errno != EINTR) {
            perror("poll");
            break;
        }
        if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
            sansio_read(&c);
        }
        wsx_engine_tick(c.engine, sansio_now_ms());
        on_events(&c);
    }
    if (c.failed) {
        fprintf(stderr, "sansio_echo_client: the transport failed\n");
    }
    status = c.close_seen && cl->clean && !c.failed && cl->errors == 0 && cl->mismatches == 0 &&
                     cl->replies >= cl->send_count
                 ? 0
                 : 1;
done:
    if (c.fd >= 0) {
        close(c.fd);
    }
    wsx_tls_free(c.tls);
    wsx_engine_free(c.engine);
    wsx_client_options_free(options);
    return status;
}

int main(int argc, char **argv) {
    counting_alloc_install(); /* before any other wsx call */
    client cl;
    memset(&cl, 0, sizeof cl);
    cl.close_code = 1000;
    const char *url = NULL, *ca = NULL;
    int compress = 1;
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--send") == 0 && cl.send_count < MAX_SENDS) {
            cl.texts[cl.send_count++] = argv[++i];
        } else if (i + 1 < argc && strcmp(argv[i], "--send-bytes") == 0 && cl.send_count < MAX_SENDS) {
            cl.sizes[cl.send_count++] = (size_t)strtoul(argv[++i], NULL, 10);
        } else if (i + 1 < argc && strcmp(argv[i], "--close") == 0) {
            cl.close_code = (uint16_t)atoi(argv[++i]);
        } else if (i + 1 < argc && strcmp(argv[i], "--ca") == 0) {
            ca = argv[++i];
        } else if (strcmp(argv[i], "--no-compress") == 0) {
            compress = 0;
        } else if (strcmp(argv[i], "--stream") == 0) {
            cl.stream = 1;
        } else if (url == NULL && argv[i][0] != '-') {
            url = argv[i];
        } else {
            usage();
            return 2;
        }
    }
    if (url == NULL) {
        usage();
        return 2;
    }
    args a = {&cl, url, ca, compress};
    int status = counting_alloc_run(run, &a);
    return counting_alloc_report("sansio_echo_client") ? status : 1;
}
