/* statusd — WebDAV MKCOL, DELETE, COPY and MOVE (RFC 4918 §9.3, §9.6, §9.8, §9.9).
 *
 * MKCOL is one mkdir on the worker. DELETE, COPY and MOVE may touch a whole tree, so they run as
 * jobs (job.c: a helper thread, 102 Processing meanwhile); the members that fail are reported in
 * a 207 Multi-Status, each once (RFC 4918 §9.6.1, §9.8.8), and a request whose every member
 * succeeded gets its plain status.
 *
 * The checks before the work, in order: the method's header fields (Depth, Overwrite,
 * Destination: 400; a destination on another server or outside this tree: 502, RFC 4918
 * §9.8.5), the If header (412), then the locks — DELETE and MOVE change the source's subtree
 * and its parent's members, COPY and MOVE the destination's (423 with the locked root). A
 * Destination written without the trailing slash of a collection names the same key, so clients
 * that drop it (several do) copy and move collections all the same. */
#define _GNU_SOURCE
#include "dav.h"

#include <stdlib.h>

/* ---- MKCOL ---- */

int hs__dav_m_mkcol(hs__dav_req_t *d)
{
    if (hs_req_has_body(d->req))
        /* RFC 4918 §9.3: a body this server does not understand (none is defined) */
        return hs__dav_fail(d, 415, "MKCOL takes no request body here (RFC 4918 §9.3)");
    if (d->exists)
        return hs__dav_fail(d, 405, "a resource exists at this URL (RFC 4918 §9.3.1)");
    if (!hs__dav_allowed(d, d->rel, 0, true))
        return HS_OK;
    const char *detail = NULL;
    int st = hs__dav_mkcol(d->fs, d->rel, &detail);
    if (st != 201)
        return hs__dav_fail(d, st, detail);
    hs__dav_location(d, d->rel, true);
    return hs_res_send(d->req, 201);
}

/* ---- the end of a job that changes the tree ---- */

static void tree_done(hs__dav_req_t *d, hs__dav_job_t *j)
{
    if (!d)
        return;
    hs_req_t *req = d->req;
    if (j->status == 207 && j->nresp) {
        hs__dav_ms_end(&j->ms);
        hs__dav_send_xml(d, 207, &j->body);
        return;
    }
    if (j->status == 201) {
        hs__dav_location(d, j->dst ? j->dst : d->rel, j->st.st_mode && S_ISDIR(j->st.st_mode));
        hs_res_send(req, 201);
        return;
    }
    if (j->status == 204 || j->status == 200) {
        hs_res_send(req, 204);
        return;
    }
    hs__dav_fail(d, j->status == 207 ? 500 : j->status, j->detail);
}

/* ---- DELETE ---- */

static void delete_work(hs__dav_job_t *j)
{
    j->status = hs__dav_delete(j->fs, j->src, hs__dav_job_report, j, &j->detail);
}

int hs__dav_m_delete(hs__dav_req_t *d)
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
    if (S_ISDIR(d->st.st_mode) && depth != HS__DAV_DEPTH_INFINITY)
        /* RFC 4918 §9.6.1: a collection is deleted as a whole */
        return hs__dav_fail(d, 400,
                            "DELETE of a collection acts with Depth: infinity; no other depth (RFC 4918 §9.6.1)");
    if (!d->rel[0])
        return hs__dav_fail(d, 403, "the root of the tree cannot be deleted");
    /* its subtree's locks and its parent's member list (RFC 4918 §7.4, §9.6); their tokens may
     * come in untagged lists (Windows: hs__dav_if_check_subtree) */
    d->if_subtree = true;
    if (!hs__dav_allowed(d, d->rel, HS__DAV_DEPTH_INFINITY, true))
        return HS_OK;
    hs__dav_job_t *j = hs__dav_job_new(d, delete_work, tree_done);
    j->src = hs_arena_strndup(&j->arena, d->rel, strlen(d->rel));
    return hs__dav_job_run(d, j);
}

/* ---- COPY and MOVE ---- */

static void copymove_work(hs__dav_job_t *j)
{
    bool move = j->depth < 0;
    if (move)
        j->status = hs__dav_move(j->fs, j->src, j->dst, j->overwrite, hs__dav_job_report, j, &j->created, &j->detail);
    else
        j->status =
            hs__dav_copy(j->fs, j->src, j->dst, j->depth, j->overwrite, hs__dav_job_report, j, &j->created, &j->detail);
    if (j->status == 204 && j->created)
        j->status = 201;
    if (j->status == 201) {
        const char *why;
        if (hs__dav_stat(j->fs, j->dst, &j->st, &why) != 0)
            j->st.st_mode = 0;
    }
}

int hs__dav_m_copymove(hs__dav_req_t *d, bool move)
{
    hs_req_t *req = d->req;
    const char *detail = NULL;
    int st;
    if (hs_req_field_count(req, HS_HDR_DESTINATION) > 1 || hs_req_field_count(req, HS_HDR_OVERWRITE) > 1 ||
        hs_req_field_count(req, HS_HDR_DEPTH) > 1)
        return hs__dav_fail(d, 400, "Destination, Overwrite and Depth may each be given once (RFC 4918 §10)");
    hs__dav_dest_t dest;
    if ((st = hs__dav_destination(&req->arena, hs_req_header(req, HS_HDR_DESTINATION), &d->origin, &dest, &detail)))
        return hs__dav_fail(d, st, detail);
    if (dest.other_server)
        return hs__dav_fail(d, 502,
                            "the Destination is on another server; this server copies and moves only within itself "
                            "(RFC 4918 §9.8.5, §9.9.4)");
    const char *dst;
    if ((st = hs__dav_key(d, dest.path, &dst, &detail)))
        return hs__dav_fail(d, st, detail);
    int depth;
    if ((st = hs__dav_depth(hs_req_header(req, HS_HDR_DEPTH), HS__DAV_DEPTH_INFINITY, &depth, &detail)))
        return hs__dav_fail(d, st, detail);
    bool overwrite;
    if ((st = hs__dav_overwrite(hs_req_header(req, HS_HDR_OVERWRITE), &overwrite, &detail)))
        return hs__dav_fail(d, st, detail);
    if (!d->exists)
        return hs__dav_fail(d, 404, "no resource exists at this path");
    bool coll = S_ISDIR(d->st.st_mode);
    if (move && coll && depth != HS__DAV_DEPTH_INFINITY)
        return hs__dav_fail(d, 400, "MOVE of a collection acts with Depth: infinity; no other depth (RFC 4918 §9.9.2)");
    if (!move && depth == 1)
        return hs__dav_fail(d, 400, "COPY takes Depth 0 or infinity (RFC 4918 §9.8.3)");
    if (strcmp(d->rel, dst) == 0)
        return hs__dav_fail(d, 403, "the source and the destination are the same resource (RFC 4918 §9.8.5)");
    /* MOVE takes the source away from its parent; both put something at the destination,
     * replacing (with Overwrite: T) whatever subtree is there */
    if (!hs__dav_allowed(d, move ? d->rel : NULL, HS__DAV_DEPTH_INFINITY, true))
        return HS_OK;
    if (!hs__dav_unlocked(d, dst, HS__DAV_DEPTH_INFINITY, true))
        return HS_OK;
    hs__dav_job_t *j = hs__dav_job_new(d, copymove_work, tree_done);
    j->src = hs_arena_strndup(&j->arena, d->rel, strlen(d->rel));
    j->dst = hs_arena_strndup(&j->arena, dst, strlen(dst));
    j->depth = move ? -1 : coll ? depth : 0;
    j->overwrite = overwrite;
    return hs__dav_job_run(d, j);
}
