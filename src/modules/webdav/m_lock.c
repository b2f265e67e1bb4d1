/* statusd — WebDAV LOCK and UNLOCK (RFC 4918 §9.10, §9.11), kept in the tree's store so that
 * locks survive a restart and are shared by every process serving the tree.
 *
 * LOCK with a DAV:lockinfo body asks for a new write lock, exclusive or shared, of depth 0 or
 * infinity (absent: infinity, §10.2), for Timeout seconds capped at dav.lock_max (absent:
 * dav.lock_timeout). On an unmapped URL it first creates an empty resource (§7.3: a locked empty
 * resource; 201 Created, and the parent collection's locks must allow the new member). A lock
 * that conflicts with another (§6.1, decided by the store inside one transaction) is a 423 with
 * DAV:no-conflicting-lock naming the other lock's root; the empty resource made for it goes
 * again. The answer carries Lock-Token and the lock in DAV:lockdiscovery (§9.10.1).
 *
 * LOCK without a body refreshes the lock whose token the If header submits (§9.10.2): 412 with
 * DAV:lock-token-matches-request-uri when that lock does not cover the request URI.
 *
 * UNLOCK removes the lock named by Lock-Token: 204, or 409 with
 * DAV:lock-token-matches-request-uri when no such lock covers the request URI (§9.11.1). */
#define _GNU_SOURCE
#include "dav.h"

#include <errno.h>

static void send_lock(hs__dav_req_t *d, const hs__dav_lock_t *l, bool created)
{
    hs_req_t *req = d->req;
    hs_res_headerf(req, "Lock-Token", "<%.*s>", (int)l->token.len, l->token.base);
    hs_buf_t b = {0};
    hs__dav_xml_lock_body(&b, d->fs, l, d->now);
    if (created)
        hs__dav_location(d, d->rel, false);
    hs__dav_send_xml(d, created ? 201 : 200, &b);
}

static uint32_t timeout_of(const hs__dav_req_t *d)
{
    uint64_t dflt = d->c->lock_timeout / 1000, max = d->c->lock_max / 1000;
    uint32_t t = hs__dav_timeout(hs_req_header_named(d->req, "timeout"), (uint32_t)HS_MIN(dflt, (uint64_t)UINT32_MAX),
                                 (uint32_t)HS_MIN(max, (uint64_t)UINT32_MAX));
    return t ? t : 1; /* "Second-0" asks for a lock that is over before it is granted: the shortest */
}

static int refresh(hs__dav_req_t *d)
{
    hs_req_t *req = d->req;
    if (!d->exists)
        return hs__dav_fail(d, 404, "no resource exists at this path; a LOCK without a body refreshes a lock");
    if (!hs__dav_allowed(d, NULL, 0, false))
        return HS_OK;
    bool named = false;
    for (size_t i = 0; i < d->ifh.n; i++)
        for (size_t k = 0; k < d->ifh.lists[i].n; k++) {
            const hs__dav_if_cond_t *c = &d->ifh.lists[i].conds[k];
            if (c->not || c->is_etag)
                continue;
            named = true;
            hs__dav_lock_t l;
            const char *tok = hs_arena_strndup(&req->arena, c->token.base, c->token.len);
            int r = hs__dav_lock_get(d->fs->store, &req->arena, tok, d->now, &l);
            if (r == HS_DECLINED)
                continue;
            const char *detail;
            if (r != HS_OK)
                return hs__dav_fail(d, hs__dav_store_status(r, &detail), detail);
            if (!hs__dav_lock_covers(&l, d->rel))
                continue;
            r = hs__dav_lock_refresh(d->fs->store, &req->arena, tok, timeout_of(d), d->now, &l);
            if (r == HS_DECLINED)
                continue; /* it expired just now */
            if (r != HS_OK)
                return hs__dav_fail(d, hs__dav_store_status(r, &detail), detail);
            send_lock(d, &l, false);
            return HS_OK;
        }
    if (!named)
        return hs__dav_fail(d, 400,
                            "a LOCK without a body refreshes a lock: submit its token in the If header "
                            "(RFC 4918 §9.10.2)");
    req->error_detail = "no lock submitted in the If header covers this resource";
    return hs__dav_condition(d, 412, "lock-token-matches-request-uri", NULL, 0);
}

static void lock_body(hs__dav_req_t *d, const hs__dav_xnode_t *root)
{
    hs_req_t *req = d->req;
    if (!root) { /* an empty body: a refresh (§9.10.2) */
        refresh(d);
        return;
    }
    hs__dav_lockinfo_t li;
    const char *detail = NULL;
    int depth, st;
    if ((st = hs__dav_read_lockinfo(&req->arena, root, &li, &detail))) {
        hs__dav_fail(d, st, detail);
        return;
    }
    hs__dav_depth(hs_req_header(req, HS_HDR_DEPTH), HS__DAV_DEPTH_INFINITY, &depth, &detail); /* checked */
    /* a new member of the parent collection when nothing is there yet (§7.3, §7.4) */
    if (!hs__dav_allowed(d, d->exists ? NULL : d->rel, 0, true))
        return;
    bool created = false;
    if (!d->exists) {
        hs__dav_put_t *p;
        if ((st = hs__dav_put_begin(d->fs, d->rel, 0, &p, &detail))) {
            hs__dav_fail(d, st, detail);
            return;
        }
        struct stat nst;
        if ((st = hs__dav_put_commit(p, true, &created, &nst, &detail))) {
            hs__dav_fail(d, st, detail);
            return;
        }
    }
    hs__dav_lock_t l = {.root = hs_iov_cstr(d->rel),
                        .depth = depth == HS__DAV_DEPTH_INFINITY ? HS__DAV_LOCK_INFINITY : 0,
                        .exclusive = li.exclusive,
                        .created = created,
                        .owner = li.owner,
                        .principal = HS_IOV_NULL,
                        .timeout = timeout_of(d)};
    hs__dav_lock_t conflict;
    int r = hs__dav_lock_create(d->fs->store, &req->arena, &l, d->now, &conflict);
    if (r == HS_OK) {
        send_lock(d, &l, created);
        return;
    }
    if (created) /* the empty resource was for this lock only */
        hs__dav_fs_remove(d->fs, d->rel, false, NULL, NULL, &detail);
    if (r != -EEXIST) {
        hs__dav_fail(d, hs__dav_store_status(r, &detail), detail);
        return;
    }
    char *croot = hs_arena_strndup(&req->arena, conflict.root.base, conflict.root.len);
    struct stat cst;
    bool coll = hs__dav_stat(d->fs, croot, &cst, &detail) == 0 && S_ISDIR(cst.st_mode);
    hs_iovec_t href = hs__dav_href(&req->arena, d->fs, croot, coll);
    req->error_detail = "another lock conflicts with the one asked for (RFC 4918 §6.1)";
    hs__dav_condition(d, 423, "no-conflicting-lock", &href, 1); /* RFC 4918 §9.10.6 */
}

int hs__dav_m_lock(hs__dav_req_t *d)
{
    hs_req_t *req = d->req;
    int depth;
    const char *detail = NULL;
    if (!d->fs->store)
        return hs__dav_fail(d, 503, "the WebDAV database is not open");
    if (hs_req_field_count(req, HS_HDR_DEPTH) > 1)
        return hs__dav_fail(d, 400, "Depth may be given once (RFC 4918 §10.2)");
    int st = hs__dav_depth(hs_req_header(req, HS_HDR_DEPTH), HS__DAV_DEPTH_INFINITY, &depth, &detail);
    if (st)
        return hs__dav_fail(d, st, detail);
    if (depth == 1)
        return hs__dav_fail(d, 400, "a lock has Depth 0 or infinity (RFC 4918 §9.10.3)");
    if (!hs_req_has_body(req))
        return refresh(d);
    return hs__dav_read_xml(d, lock_body);
}

int hs__dav_m_unlock(hs__dav_req_t *d)
{
    hs_req_t *req = d->req;
    const char *detail = NULL;
    if (!d->fs->store)
        return hs__dav_fail(d, 503, "the WebDAV database is not open");
    size_t lines = 0;
    for (size_t i = 0; i < req->p.num_headers; i++)
        lines += HS_IOV_IEQ(req->p.headers[i].name, "lock-token");
    if (lines > 1)
        return hs__dav_fail(d, 400, "Lock-Token may be given once (RFC 4918 §10.5)");
    hs_iovec_t v = hs_req_header_named(req, "lock-token"), tok;
    int st = hs__dav_lock_token(v, &tok, &detail);
    if (st)
        return hs__dav_fail(d, st, detail);
    if (!d->exists)
        return hs__dav_fail(d, 404, "no resource exists at this path");
    hs__dav_lock_t l;
    const char *t = hs_arena_strndup(&req->arena, tok.base, tok.len);
    int r = hs__dav_lock_get(d->fs->store, &req->arena, t, d->now, &l);
    if (r != HS_OK && r != HS_DECLINED)
        return hs__dav_fail(d, hs__dav_store_status(r, &detail), detail);
    if (r == HS_DECLINED || !hs__dav_lock_covers(&l, d->rel)) {
        req->error_detail = "no lock with this token covers the resource (RFC 4918 §9.11.1)";
        return hs__dav_condition(d, 409, "lock-token-matches-request-uri", NULL, 0);
    }
    if ((r = hs__dav_lock_remove(d->fs->store, t)) != HS_OK && r != HS_DECLINED)
        return hs__dav_fail(d, hs__dav_store_status(r, &detail), detail);
    return hs_res_send(req, 204);
}
