/* statusd — configuration generations (hs_gen_t, include/hs/http.h): who uses which, and the
 * end of one.
 *
 * A generation is counted without an atomic operation per request. Its reference count (refs)
 * has one reference for the server while it is current and one per worker that uses it; each
 * worker counts its own requests per generation in plain variables. A reload takes a reference
 * for each worker before handing the generation over (the worker's mailbox, w->next_gen), so a
 * worker never takes a reference to something that might be freed meanwhile. The worker
 * switches between two wake-ups of its loop: new requests take the new generation, and the old
 * one is kept (with the number of its requests still running) until its last request ends; then
 * the worker gives its reference back, and whoever gives the last one frees it: the modules'
 * fini, then the configuration. */
#define _GNU_SOURCE
#include "internal.h"

#include <stdlib.h>
#include <unistd.h>

void hs__gen_init(hs_gen_t *g, hs_server_t *srv, hs_config_t *cfg, uint64_t id)
{
    memset(g, 0, sizeof(*g));
    g->srv = srv;
    g->cfg = cfg;
    g->id = id;
    g->limits = (hs_parse_limits_t){
        .max_uri = cfg->max_uri,
        .max_field = cfg->max_field,
        .max_head = cfg->max_head,
        .max_headers = (size_t)cfg->max_headers,
    };
    g->chunk_limits = (hs_chunked_limits_t){
        .max_body = cfg->max_body, /* each path sets its own (conn.c) */
        .max_ext = cfg->max_chunk_ext,
        .max_trailer = cfg->max_trailer,
    };
    atomic_init(&g->refs, 1); /* the server's */
    for (size_t i = 0; i < HS_MAX_LISTEN; i++)
        g->listen_from[i] = -1;
}

int hs__gen_modules_init(hs_gen_t *g)
{
    hs_module_t *const *mods = g->srv->modules;
    for (size_t i = 0; mods[i]; i++) {
        if (mods[i]->init && mods[i]->init(g) != HS_OK) {
            /* the ones made so far are undone, latest first */
            while (i-- > 0)
                if (mods[i]->fini)
                    mods[i]->fini(g);
            return HS_ERROR;
        }
    }
    return HS_OK;
}

void hs__gen_release(hs_gen_t *g)
{
    if (atomic_fetch_sub(&g->refs, 1) != 1)
        return;
    hs_module_t *const *mods = g->srv->modules;
    size_t n = 0;
    while (mods[n])
        n++;
    while (n-- > 0) /* fini in the reverse order of init */
        if (mods[n]->fini)
            mods[n]->fini(g);
    hs__https_gen_free(g); /* connections made with its TLS contexts keep their own references */
    if (g->new_fds) {
        /* sockets bound for it that no worker took (it was never handed over) */
        for (int i = 0; i < g->srv->nworkers * HS_MAX_LISTEN; i++)
            if (g->new_fds[i] >= 0)
                close(g->new_fds[i]);
        free(g->new_fds);
    }
    if (g->owns_cfg) {
        hs_config_free(g->cfg);
        free(g->cfg);
    }
    if (g != &g->srv->gen1)
        free(g);
}

void hs__gen_old_request_end(hs_worker_t *w, hs_gen_t *g)
{
    for (size_t i = 0; i < w->nold_gens; i++) {
        if (w->old_gens[i].gen != g)
            continue;
        if (--w->old_gens[i].reqs == 0) {
            w->old_gens[i] = w->old_gens[--w->nold_gens];
            hs__gen_release(g); /* its last request on this worker */
        }
        return;
    }
}

bool hs__gen_switch(hs_worker_t *w, hs_gen_t *next)
{
    hs_gen_t *prev = w->gen;
    if (prev && w->gen_reqs > 0) {
        if (w->nold_gens == HS_ARRAY_SIZE(w->old_gens))
            return false; /* too many generations still in use here: switch later */
        w->old_gens[w->nold_gens].gen = prev;
        w->old_gens[w->nold_gens++].reqs = w->gen_reqs;
    } else if (prev) {
        hs__gen_release(prev);
    }
    w->gen = next; /* the reference the reload took for this worker */
    w->gen_reqs = 0;
    return true;
}

void hs__gen_worker_done(hs_worker_t *w)
{
    for (size_t i = 0; i < w->nold_gens; i++)
        hs__gen_release(w->old_gens[i].gen);
    w->nold_gens = 0;
    hs_gen_t *next = atomic_exchange(&w->next_gen, NULL);
    if (next)
        hs__gen_release(next);
    if (w->gen)
        hs__gen_release(w->gen);
    w->gen = NULL;
    w->gen_reqs = 0;
}
