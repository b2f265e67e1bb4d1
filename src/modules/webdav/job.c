/* statusd — WebDAV work on helper threads, with 102 Processing while it lasts (see dav.h).
 *
 * DELETE, COPY and MOVE of a tree, a PROPFIND that walks one, and the end of a PUT (fsync and
 * rename) block on the file system for as long as the tree is large or the disk slow. They run
 * on the engine's helper threads (hs_req_offload), so the worker keeps serving every other
 * connection; the request's timer meanwhile sends 102 Processing every dav.processing (RFC 2518
 * §10.1, kept by RFC 4918 §21.4 for servers that do: "the server has accepted the complete
 * request, but has not yet completed it"), at most dav.processing_max times — a client that
 * waits with a response timeout sees the server alive. The final response follows the last
 * interim one on the same connection.
 *
 * A job owns its inputs (copied: the request may end while it runs — the client gone — and with
 * it the request's arena) and its outputs; `done` gets the request back on the worker, or NULL
 * when it ended, to release what the job holds. */
#define _GNU_SOURCE
#include "dav.h"

#include <stdlib.h>

hs__dav_job_t *hs__dav_job_new(hs__dav_req_t *d, void (*work)(hs__dav_job_t *),
                               void (*done)(hs__dav_req_t *, hs__dav_job_t *))
{
    hs__dav_job_t *j = hs_calloc(1, sizeof(*j));
    hs_arena_init(&j->arena);
    j->fs = d->fs;
    j->work = work;
    j->done = done;
    j->now = d->now;
    return j;
}

void hs__dav_job_free(hs__dav_job_t *j)
{
    hs_arena_reset(&j->arena);
    hs_buf_free(&j->body);
    free(j);
}

void hs__dav_job_report(void *ctx, const char *rel, int status, const char *detail)
{
    hs__dav_job_t *j = ctx;
    if (j->nresp++ == 0)
        hs__dav_ms_begin(&j->ms, &j->body);
    struct stat st;
    const char *why;
    bool coll = hs__dav_stat(j->fs, rel, &st, &why) == 0 && S_ISDIR(st.st_mode);
    hs__dav_ms_status(&j->ms, hs__dav_href(&j->arena, j->fs, rel, coll), status, NULL, detail);
}

static void processing(hs_req_t *req)
{
    hs__dav_req_t *d = hs_req_ctx(req, &hs_module_webdav);
    if (!d || !d->job)
        return;
    /* HS_DECLINED for an HTTP/1.0 client, which never gets interim responses */
    if (hs_res_interim(req, 102, NULL, 0) != HS_OK)
        return;
    if (++d->interims < d->c->processing_max)
        hs_req_set_timer(req, d->c->processing, processing);
}

/* The lock store's refusal (store.h: hs__dav_redis_refused) is set on the thread that asked:
 * the job keeps its own with its result, and the loop thread sees that one — not a helper's,
 * not one another request left — while `done` answers (store:unavailable on its 503). */
static void job_work(void *arg)
{
    hs__dav_job_t *j = arg;
    hs__dav_redis_refused = false;
    j->work(j);
    j->store_refused = hs__dav_redis_refused;
    hs__dav_redis_refused = false;
}

static void job_done(hs_req_t *req, void *arg)
{
    hs__dav_job_t *j = arg;
    hs__dav_req_t *d = req ? hs_req_ctx(req, &hs_module_webdav) : NULL;
    if (d) {
        hs_req_cancel_timer(req);
        d->job = NULL;
    }
    hs__dav_redis_refused = j->store_refused;
    j->done(d, j);
    hs__dav_redis_refused = false;
    hs__dav_job_free(j);
}

int hs__dav_job_run(hs__dav_req_t *d, hs__dav_job_t *j)
{
    hs_req_t *req = d->req;
    d->job = j;
    if (hs_req_offload(req, job_work, job_done, j) != HS_OK) {
        /* no helper (shutting down, or none could start): the work is done here, on the loop */
        job_work(j);
        job_done(req, j);
        return HS_OK;
    }
    if (d->c->processing_max > 0)
        hs_req_set_timer(req, d->c->processing, processing);
    return HS_AGAIN;
}
