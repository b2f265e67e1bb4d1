/* statusd — work off the event loop (hs_req_offload).
 *
 * A handler with work that would hold its worker's loop for milliseconds (coding a large file)
 * hands it to a small pool of helper threads and returns; the loop goes on serving every other
 * connection. When the work is done, the helper puts the job on its worker's completion list
 * and wakes the loop (eventfd); the worker then calls done(req, arg) in loop context, where the
 * request can be answered as usual.
 *
 * Lifetimes: a request waiting for a job is linked to it (req->job). If the request is freed
 * first (the client left, the drain deadline passed), the link is cut on the worker and done is
 * later called with req == NULL so that arg can be released. Helpers never touch requests or
 * any per-worker state. At shutdown, after the workers have stopped, hs__offload_shutdown waits
 * for running jobs (queued ones are not started), joins the helpers and completes whatever is
 * left with req == NULL.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#define MAX_HELPERS 4

struct hs_job_s {
    hs_job_t *next;
    hs_worker_t *w;
    hs_req_t *req; /* NULL once the request is gone (touched on the worker only) */
    void (*work)(void *arg);
    void (*done)(hs_req_t *req, void *arg);
    void *arg;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static hs_job_t *queue, **queue_tail = &queue;
static pthread_t helpers[MAX_HELPERS];
static int nhelpers;
static bool stopping;
static size_t queued; /* jobs waiting for a helper (metrics: statusd_offload_queue_depth) */

static void *helper_main(void *unused)
{
    HS_UNUSED(unused);
    pthread_mutex_lock(&mu);
    for (;;) {
        while (!queue && !stopping)
            pthread_cond_wait(&cv, &mu);
        if (!queue)
            break; /* stopping, and nothing left to do */
        hs_job_t *j = queue;
        queued--;
        queue = j->next;
        if (!queue)
            queue_tail = &queue;
        bool skip = stopping; /* the workers are gone: nobody is waiting for the result */
        pthread_mutex_unlock(&mu);

        if (!skip)
            j->work(j->arg);

        hs_worker_t *w = j->w;
        pthread_mutex_lock(&w->jobs_mu);
        j->next = w->jobs_done;
        w->jobs_done = j;
        pthread_mutex_unlock(&w->jobs_mu);
        hs_loop_wake(&w->loop);
        pthread_mutex_lock(&mu);
    }
    pthread_mutex_unlock(&mu);
    return NULL;
}

/* Helpers start on first use: as many as workers, at most MAX_HELPERS, at least one. */
static bool ensure_helpers(hs_server_t *srv)
{
    if (nhelpers > 0)
        return true;
    int want = srv->nworkers < 1 ? 1 : srv->nworkers > MAX_HELPERS ? MAX_HELPERS : srv->nworkers;
    for (int i = 0; i < want; i++) {
        if (pthread_create(&helpers[nhelpers], NULL, helper_main, NULL) != 0)
            break;
        nhelpers++;
    }
    if (nhelpers == 0)
        hs_log_warn("offload: no helper thread could be started; work stays on the event loop");
    return nhelpers > 0;
}

int hs_req_offload(hs_req_t *req, void (*work)(void *arg), void (*done)(hs_req_t *req, void *arg), void *arg)
{
    if (req->job)
        return HS_ERROR; /* one job at a time per request */
    pthread_mutex_lock(&mu);
    if (stopping || !ensure_helpers(req->srv)) {
        pthread_mutex_unlock(&mu);
        return HS_ERROR;
    }
    hs_job_t *j = hs_malloc(sizeof(*j));
    *j = (hs_job_t){.w = req->worker, .req = req, .work = work, .done = done, .arg = arg};
    req->job = j;
    *queue_tail = j;
    queue_tail = &j->next;
    queued++;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
    return HS_OK;
}

size_t hs__offload_queued(void)
{
    pthread_mutex_lock(&mu);
    size_t n = queued;
    pthread_mutex_unlock(&mu);
    return n;
}

void hs__offload_detach(hs_req_t *req)
{
    if (req->job) {
        req->job->req = NULL;
        req->job = NULL;
    }
}

/* On the worker, from its loop's wake-up: finish the jobs that are done. */
void hs__offload_complete(hs_worker_t *w)
{
    pthread_mutex_lock(&w->jobs_mu);
    hs_job_t *list = w->jobs_done;
    w->jobs_done = NULL;
    pthread_mutex_unlock(&w->jobs_mu);
    /* completed in the order they were started */
    hs_job_t *rev = NULL;
    while (list) {
        hs_job_t *next = list->next;
        list->next = rev;
        rev = list;
        list = next;
    }
    while (rev) {
        hs_job_t *j = rev;
        rev = j->next;
        hs_req_t *req = j->req;
        if (req)
            req->job = NULL;
        j->done(req, j->arg);
        free(j);
    }
}

void hs__offload_shutdown(hs_server_t *srv)
{
    pthread_mutex_lock(&mu);
    stopping = true;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    for (int i = 0; i < nhelpers; i++)
        pthread_join(helpers[i], NULL);
    nhelpers = 0;
    /* the workers are gone: every job still listed completes with no request */
    for (int wi = 0; wi < srv->nworkers; wi++) {
        hs_worker_t *w = &srv->workers[wi];
        for (hs_job_t *j = w->jobs_done; j; j = j->next)
            j->req = NULL;
        hs__offload_complete(w);
    }
    pthread_mutex_lock(&mu);
    stopping = false; /* a server started again in this process (tests) may offload anew */
    pthread_mutex_unlock(&mu);
}
