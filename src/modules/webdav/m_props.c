/* statusd — WebDAV PROPFIND and PROPPATCH (RFC 4918 §9.1, §9.2).
 *
 * PROPFIND. Depth 0 answers on the worker; Depth 1 and infinity walk the collection on a helper
 * thread (job.c, 102 Processing meanwhile) and build the multistatus there, bounded by the walk:
 * Depth: infinity lists at most dav.max_nodes resources — past it the whole request is a 403 with
 * DAV:propfind-finite-depth (RFC 4918 §9.1: a server may refuse infinite depth), decided before
 * anything is sent. Bindings (RFC 5842): a collection reached a second time — through a BIND or
 * an in-tree symbolic link — is a 208 Already Reported for a client that said "DAV: bind", and is
 * listed again with all its members for one that did not (§7.1); a cycle is a 208 for the first
 * and makes the whole request a 508 Loop Detected for the second (§7.2). An absent Depth is
 * infinity (RFC 4918 §10.2).
 *
 * PROPPATCH applies its instructions in document order, all or nothing (props.c): 207 with each
 * property's status, 403 cannot-modify-protected-property for a live one with the others 424. */
#define _GNU_SOURCE
#include "dav.h"

#include <stdlib.h>

/* A Depth: 1 listing bigger than this is refused rather than held in memory (a directory of
 * hundreds of thousands of names); a deep one stops at dav.max_nodes first. */
#define PROPFIND_MAX_BYTES (256u << 20)

typedef struct pfw_s {
    hs__dav_fs_t *fs;
    const hs__dav_propfind_t *pf;
    hs__dav_ms_t *ms;
    hs_buf_t *body;
    bool bind_aware;
    int64_t now;
    size_t count; /* resources met */
} pfw_t;

static int pf_node(void *ctx, const char *rel, const struct stat *st, int kind, int status)
{
    pfw_t *w = ctx;
    w->count++;
    hs_arena_t a;
    hs_arena_init(&a);
    int r = 0;
    bool again = kind == HS__DAV_WALK_AGAIN || kind == HS__DAV_WALK_LOOP;
    if (kind == HS__DAV_WALK_LOOP && !w->bind_aware) {
        r = 508; /* RFC 5842 §7.2: the whole request fails */
    } else if (again && w->bind_aware) {
        /* RFC 5842 §7.1: reached before through another binding (or its own ancestor) */
        hs__dav_ms_status(w->ms, hs__dav_href(&a, w->fs, rel, true), 208, NULL, NULL);
    } else if (kind == HS__DAV_WALK_ERROR) { /* a member that cannot be opened */
        hs__dav_ms_status(w->ms, hs__dav_href(&a, w->fs, rel, false), status, NULL, NULL);
    } else { /* a resource */
        int s = hs__dav_propfind_write(w->fs, &a, rel, st, w->pf, w->now, w->ms);
        if (s)
            hs__dav_ms_status(w->ms, hs__dav_href(&a, w->fs, rel, S_ISDIR(st->st_mode)), s, NULL, NULL);
    }
    hs_arena_reset(&a);
    if (!r && w->body->len > PROPFIND_MAX_BYTES)
        r = 507;
    return r;
}

static void propfind_work(hs__dav_job_t *j)
{
    hs__dav_ms_begin(&j->ms, &j->body);
    pfw_t w = {j->fs, &j->pf, &j->ms, &j->body, j->bind_aware, j->now, 0};
    size_t budget = j->depth == HS__DAV_DEPTH_INFINITY ? j->max_nodes : 0;
    /* a client that does not know 208 sees every member under each binding (only cycles stop) */
    j->status = hs__dav_walk_flags(j->fs, j->src, j->depth, budget, j->bind_aware ? 0 : HS__DAV_WALK_REPEAT, pf_node,
                                   &w, &j->detail);
    /* the walk's 403 is the budget's once it was reached; else the collection itself refused */
    j->nresp = j->status == 403 && budget && w.count >= budget ? 1 : 0;
    if (j->status == 507)
        j->detail = "the listing is larger than this server builds at once; ask with a smaller Depth";
}

static void propfind_done(hs__dav_req_t *d, hs__dav_job_t *j)
{
    if (!d)
        return;
    if (j->status == 0) {
        hs__dav_ms_end(&j->ms);
        hs__dav_send_xml(d, 207, &j->body);
    } else if (j->status == 403 && j->nresp) {
        d->req->error_detail = j->detail;
        hs__dav_condition(d, 403, "propfind-finite-depth", NULL, 0); /* RFC 4918 §9.1 */
    } else {
        hs__dav_fail(d, j->status, j->detail);
    }
}

/* The names of a PROPFIND body copied into the job's arena: the request's may go while the job
 * runs. */
static void copy_propfind(hs_arena_t *a, const hs__dav_propfind_t *from, hs__dav_propfind_t *to)
{
    *to = *from;
    if (!from->n)
        return;
    to->names = hs_arena_alloc(a, from->n * sizeof(*to->names));
    for (size_t i = 0; i < from->n; i++) {
        const hs__dav_qname_t *q = &from->names[i];
        to->names[i].ns = hs_iov(hs_arena_strndup(a, q->ns.base ? q->ns.base : "", q->ns.len), q->ns.len);
        to->names[i].name = hs_iov(hs_arena_strndup(a, q->name.base, q->name.len), q->name.len);
    }
}

static void propfind_body(hs__dav_req_t *d, const hs__dav_xnode_t *root)
{
    hs_req_t *req = d->req;
    hs__dav_propfind_t pf;
    const char *detail = NULL;
    int depth, st;
    if ((st = hs__dav_read_propfind(&req->arena, root, &pf, &detail))) {
        hs__dav_fail(d, st, detail);
        return;
    }
    hs__dav_depth(hs_req_header(req, HS_HDR_DEPTH), HS__DAV_DEPTH_INFINITY, &depth, &detail); /* checked */
    hs__dav_job_t *j = hs__dav_job_new(d, propfind_work, propfind_done);
    j->src = hs_arena_strndup(&j->arena, d->rel, strlen(d->rel));
    j->depth = depth;
    j->bind_aware = hs__dav_bind_aware(d);
    j->max_nodes = (size_t)d->c->max_nodes;
    copy_propfind(&j->arena, &pf, &j->pf);
    if (depth == 0 || !S_ISDIR(d->st.st_mode)) {
        /* one resource: no walk worth a thread */
        propfind_work(j);
        propfind_done(d, j);
        hs__dav_job_free(j);
        return;
    }
    hs__dav_job_run(d, j);
}

int hs__dav_m_propfind(hs__dav_req_t *d)
{
    hs_req_t *req = d->req;
    int depth;
    const char *detail = NULL;
    if (hs_req_field_count(req, HS_HDR_DEPTH) > 1)
        return hs__dav_fail(d, 400, "Depth may be given once (RFC 4918 §10.2)");
    int st = hs__dav_depth(hs_req_header(req, HS_HDR_DEPTH), HS__DAV_DEPTH_INFINITY, &depth, &detail);
    if (st)
        return hs__dav_fail(d, st, detail);
    if (!d->exists)
        return hs__dav_fail(d, 404, "no resource exists at this path");
    if (!hs__dav_allowed(d, NULL, 0, false))
        return HS_OK;
    return hs__dav_read_xml(d, propfind_body);
}

/* ---- PROPPATCH ---- */

static void proppatch_body(hs__dav_req_t *d, const hs__dav_xnode_t *root)
{
    hs_req_t *req = d->req;
    hs__dav_proppatch_t pp;
    const char *detail = NULL;
    int st = hs__dav_read_proppatch(&req->arena, root, &pp, &detail);
    if (st) {
        hs__dav_fail(d, st, detail);
        return;
    }
    hs_buf_t b = {0};
    hs__dav_ms_t ms;
    hs__dav_ms_begin(&ms, &b);
    hs__dav_proppatch_apply(d->fs, &req->arena, d->rel, &pp, &ms);
    hs__dav_ms_end(&ms);
    hs__dav_send_xml(d, 207, &b);
}

int hs__dav_m_proppatch(hs__dav_req_t *d)
{
    if (!d->exists)
        return hs__dav_fail(d, 404, "no resource exists at this path");
    if (!hs__dav_allowed(d, d->rel, 0, false))
        return HS_OK;
    return hs__dav_read_xml(d, proppatch_body);
}
