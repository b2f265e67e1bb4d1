/* statusd — WebDAV BIND, UNBIND and REBIND (RFC 5842 §4, §5, §6): the request URI is a collection,
 * the body names a segment in it and, for BIND and REBIND, the resource (DAV:href) to bind there.
 *
 * The href is resolved like a Destination; one on another server, or outside this tree, cannot
 * be bound here: 403 with DAV:cross-server-binding (§4, §6). Overwrite (absent: T) decides what
 * happens to a binding already at the segment (412 with F). Locks: the collection's member list
 * changes (its locks, §7.4 of RFC 4918), a replaced binding's subtree, and for REBIND the moved
 * binding and its old collection. UNBIND of a resource's last binding deletes it, so it runs as
 * a job (job.c) like DELETE, with a 207 for members that could not go. */
#define _GNU_SOURCE
#include "dav.h"

#include <stdlib.h>

static void unbind_work(hs__dav_job_t *j)
{
    j->status = hs__dav_unbind(j->fs, j->src, j->dst, hs__dav_job_report, j, &j->detail);
}

static void unbind_done(hs__dav_req_t *d, hs__dav_job_t *j)
{
    if (!d)
        return;
    if (j->status == 207 && j->nresp) {
        hs__dav_ms_end(&j->ms);
        hs__dav_send_xml(d, 207, &j->body);
    } else if (j->status == 200 || j->status == 204) {
        hs_res_send(d->req, 200); /* RFC 5842 §5.2: 200 OK */
    } else {
        hs__dav_fail(d, j->status == 207 ? 500 : j->status, j->detail);
    }
}

static void bind_body(hs__dav_req_t *d, const hs__dav_xnode_t *root)
{
    hs_req_t *req = d->req;
    int kind = d->req->p.method_id == HS_METHOD_BIND     ? HS__DAV_BIND
               : d->req->p.method_id == HS_METHOD_REBIND ? HS__DAV_REBIND
                                                         : HS__DAV_UNBIND;
    hs__dav_bind_t b;
    const char *detail = NULL;
    int st = hs__dav_read_bind(&req->arena, root, kind, &b, &detail);
    if (st) {
        hs__dav_fail(d, st, detail);
        return;
    }
    const char *seg = hs_arena_strndup(&req->arena, b.segment.base, b.segment.len);
    const char *child = d->rel[0] ? hs_arena_printf(&req->arena, "%s/%s", d->rel, seg).base : seg;
    if (kind == HS__DAV_UNBIND) {
        if (!hs__dav_allowed(d, child, HS__DAV_DEPTH_INFINITY, true))
            return;
        hs__dav_job_t *j = hs__dav_job_new(d, unbind_work, unbind_done);
        j->src = hs_arena_strndup(&j->arena, d->rel, strlen(d->rel));
        j->dst = hs_arena_strndup(&j->arena, seg, strlen(seg));
        hs__dav_job_run(d, j);
        return;
    }
    hs__dav_dest_t dest;
    if ((st = hs__dav_destination(&req->arena, b.href, &d->origin, &dest, &detail))) {
        hs__dav_fail(d, st == 404 ? 422 : st, detail);
        return;
    }
    const char *target = NULL;
    if (dest.other_server || hs__dav_key(d, dest.path, &target, &detail) != 0) {
        req->error_detail = "the resource to bind is on another server or outside this tree (RFC 5842 §4)";
        hs__dav_condition(d, 403, "cross-server-binding", NULL, 0);
        return;
    }
    bool overwrite;
    if ((st = hs__dav_overwrite(hs_req_header(req, HS_HDR_OVERWRITE), &overwrite, &detail))) {
        hs__dav_fail(d, st, detail);
        return;
    }
    /* the new binding (and what it replaces) in this collection; REBIND also takes the old one
     * out of its collection */
    if (!hs__dav_allowed(d, child, HS__DAV_DEPTH_INFINITY, true))
        return;
    if (kind == HS__DAV_REBIND && !hs__dav_unlocked(d, target, HS__DAV_DEPTH_INFINITY, true))
        return;
    bool created = false;
    st = kind == HS__DAV_BIND ? hs__dav_bind(d->fs, d->rel, seg, target, overwrite, &created, &detail)
                              : hs__dav_rebind(d->fs, d->rel, seg, target, overwrite, &created, &detail);
    if (st == 201 || (st == 200 && created)) {
        struct stat cst;
        bool coll = hs__dav_stat(d->fs, child, &cst, &detail) == 0 && S_ISDIR(cst.st_mode);
        hs__dav_location(d, child, coll);
        hs_res_send(req, 201);
    } else if (st == 200 || st == 204) {
        hs_res_send(req, 200);
    } else {
        hs__dav_fail(d, st, detail);
    }
}

int hs__dav_m_bind(hs__dav_req_t *d, int kind)
{
    HS_UNUSED(kind);
    if (!d->exists)
        return hs__dav_fail(d, 404, "no collection exists at this path");
    if (!S_ISDIR(d->st.st_mode))
        return hs__dav_fail(d, 409,
                            "BIND, UNBIND and REBIND are sent to a collection (RFC 5842 §4: "
                            "bind-into-collection)");
    return hs__dav_read_xml(d, bind_body);
}
