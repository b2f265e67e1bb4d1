/* statusd unit tests — an in-process connection (as fuzz/fuzz_conn.c runs one): a server made
 * from the defaults plus some directives, a worker with its own event loop, one end of a
 * socketpair handed to hs__conn_accept, the other end the client. Header-only. */
#ifndef HS_TEST_RIG_H
#define HS_TEST_RIG_H

#define _GNU_SOURCE
#include "../../../src/http/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
    hs_config_t cfg;
    hs_server_t srv;
    hs_worker_t w;
    int client;
} rig_t;

/* Start a server from the defaults plus `n` directive/value pairs. */
static inline int rig_start(rig_t *r, const char *const (*set)[2], size_t n)
{
    char err[256];
    memset(r, 0, sizeof(*r));
    hs_config_defaults(&r->cfg);
    for (size_t i = 0; i < n; i++) {
        const hs_directive_t *d = hs_config_find(set[i][0]);
        if (!d || hs_config_set(&r->cfg, d, set[i][1], err, sizeof(err)) != HS_OK) {
            printf("# cannot set %s\n", set[i][0]);
            return HS_ERROR;
        }
    }
    if (hs_server_init(&r->srv, &r->cfg) != HS_OK)
        return HS_ERROR;
    r->w.srv = &r->srv;
    if (hs_loop_init(&r->w.loop) != HS_OK)
        return HS_ERROR;
    r->w.loop.data = &r->w;
    if (hs__worker_modules_init(&r->w) != HS_OK)
        return HS_ERROR;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
        return HS_ERROR;
    struct sockaddr_in peer = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
    atomic_fetch_add(&r->srv.connections, 1);
    /* a TLS listener first in the configuration makes it a TLS connection */
    hs__conn_accept(&r->w, sv[0], (struct sockaddr *)&peer, sizeof(peer), r->srv.gen->tls[0] ? 0 : -1);
    r->client = sv[1];
    return HS_OK;
}

/* Send `req`, run the loop until the server closes or `want` bytes of output arrived (or 200
 * rounds), and return the output (NUL-terminated, caller frees). */
static inline char *rig_exchange(rig_t *r, const char *req, size_t len, size_t want)
{
    hs_buf_t out = {0};
    size_t sent = 0;
    for (int round = 0; round < 200; round++) {
        if (sent < len) {
            ssize_t k = send(r->client, req + sent, len - sent, MSG_NOSIGNAL);
            if (k > 0)
                sent += (size_t)k;
        }
        hs_loop_run_once(&r->w.loop, 10);
        char buf[65536];
        ssize_t k;
        bool eof = false;
        while ((k = read(r->client, buf, sizeof(buf))) != 0) {
            if (k < 0) {
                if (errno == EINTR)
                    continue;
                break;
            }
            hs_buf_append(&out, buf, (size_t)k);
        }
        eof = k == 0;
        if (eof || (want && out.len >= want) || !r->w.conns)
            break;
    }
    hs_buf_append(&out, "", 1);
    return out.base;
}

static inline void rig_stop(rig_t *r)
{
    hs__conn_close_all(&r->w);
    if (r->client >= 0)
        close(r->client);
    hs__worker_free_pools(&r->w);
    hs_loop_destroy(&r->w.loop);
    hs__access_log_close_all();
    hs_server_fini(&r->srv);
    hs_config_free(&r->cfg);
}

#endif
