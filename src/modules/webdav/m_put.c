/* statusd — WebDAV PUT (RFC 4918 §9.7, RFC 9110 §9.3.4): the body streamed into a file of its
 * own in the target's directory as it arrives, which replaces the target in one rename once the
 * body is complete (fs.c). A reader never sees a partial file; a body that fails — the client
 * gone, a broken chunk, the disk or the quota full (507) — leaves the old content as it was.
 *
 * Everything that can be refused is refused before a byte of the body is read (so a client that
 * sent Expect: 100-continue gets the final status instead of 100): Content-Range (400: RFC 9110
 * §14.5, this server does no partial PUT), the preconditions (412), locks (423), a missing parent
 * (409), a collection in the way (405), a declared length over the quota (507). The length comes
 * from Content-Length or, for a chunked body, from X-Expected-Entity-Length — what macOS's
 * Finder sends instead; every byte of the chunked body is stored either way.
 *
 * The end — fsync of the data, rename, fsync of the directory (dav.fsync) — runs on a helper
 * thread, then 201 (with Location) or 204, both with the new file's ETag: the stored bytes are
 * exactly the body's (RFC 9110 §9.3.4 allows the validator then). */
#define _GNU_SOURCE
#include "dav.h"

#include "hs/conditional.h"

static void commit_work(hs__dav_job_t *j)
{
    hs__dav_put_t *p = j->put;
    j->put = NULL; /* commit releases the upload whatever it answers */
    j->status = hs__dav_put_commit(p, j->overwrite == false, &j->created, &j->st, &j->detail);
}

static void commit_done(hs__dav_req_t *d, hs__dav_job_t *j)
{
    if (j->put) /* the work never ran (shut down): nothing is placed */
        hs__dav_put_abort(j->put);
    if (!d)
        return;
    hs_req_t *req = d->req;
    if (j->status) {
        hs__dav_fail(d, j->status, j->detail);
        return;
    }
    hs_res_header(req, HS_IOV("ETag"), hs_etag_from_stat_arena(&req->arena, &j->st, NULL));
    if (j->created) {
        hs__dav_location(d, d->rel, false);
        hs_res_send(req, 201);
    } else {
        hs_res_send(req, 204);
    }
}

static void piece(hs_req_t *req, const char *data, size_t len, int how)
{
    hs__dav_req_t *d = hs_req_ctx(req, &hs_module_webdav);
    if (!d->put)
        return;
    hs__dav_redis_refused = false; /* this request's own from here (another's may be left on the thread) */
    if (how == HS_BODY_ERROR) {
        hs__dav_put_abort(d->put); /* answered by the engine, or the client is gone */
        d->put = NULL;
        return;
    }
    const char *detail = NULL;
    int st = len ? hs__dav_put_write(d->put, data, len, &detail) : 0;
    if (st) {
        hs__dav_put_abort(d->put);
        d->put = NULL;
        hs__dav_fail(d, st, detail); /* the rest of the body is not read: the connection closes */
        return;
    }
    if (how != HS_BODY_END)
        return;
    hs__dav_job_t *j = hs__dav_job_new(d, commit_work, commit_done);
    j->put = d->put;
    j->overwrite = !d->put_exclusive;
    d->put = NULL;
    hs__dav_job_run(d, j);
}

/* The body's length as the client announced it, or -1. */
static int64_t expected_length(hs_req_t *req)
{
    if (req->meta.content_length >= 0)
        return req->meta.content_length;
    uint64_t v;
    hs_iovec_t x = hs_req_header_named(req, "x-expected-entity-length");
    while (x.len && (x.base[0] == ' ' || x.base[0] == '\t'))
        x = hs_iov(x.base + 1, x.len - 1);
    while (x.len && (x.base[x.len - 1] == ' ' || x.base[x.len - 1] == '\t'))
        x.len--;
    return x.base && hs_parse_u64(x, &v) && v <= INT64_MAX ? (int64_t)v : -1;
}

int hs__dav_m_put(hs__dav_req_t *d)
{
    hs_req_t *req = d->req;
    if (hs_req_header_named(req, "content-range").base)
        return hs__dav_fail(d, 400,
                            "a PUT with Content-Range asks for a partial update, which this server does not do "
                            "(RFC 9110 §14.5)");
    if (d->exists && S_ISDIR(d->st.st_mode))
        return hs__dav_fail(d, 405, "a collection is at this path; PUT does not replace collections (RFC 4918 §9.7.2)");
    if (d->slash)
        return hs__dav_fail(d, 405, "an address ending in '/' names a collection, which PUT cannot make (MKCOL does)");
    /* If-None-Match: * — create only (RFC 9110 §13.1.2): held to at the rename too, so that two
     * such PUTs racing cannot both win */
    hs_iovec_t inm = hs_req_header(req, HS_HDR_IF_NONE_MATCH);
    d->put_exclusive = inm.base && HS_IOV_EQ(inm, "*");
    /* a new resource changes its parent's members (RFC 4918 §7.4) */
    if (!hs__dav_allowed(d, d->rel, 0, !d->exists))
        return HS_OK;
    const char *detail = NULL;
    int st = hs__dav_put_begin(d->fs, d->rel, expected_length(req), &d->put, &detail);
    if (st)
        return hs__dav_fail(d, st, detail);
    return hs_req_body_stream(req, piece);
}
