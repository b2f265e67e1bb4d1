/* statusd — PROPFIND and PROPPATCH for one resource (see fs.h): live properties (live.c) and dead
 * ones (the store) merged into one DAV:response.
 *
 * A PROPFIND response is built in memory for one resource at a time (its properties are
 * bounded by the store's per-resource limits), then written into the caller's multistatus
 * buffer, which the caller may send between resources: a Depth-1 listing of any size needs one
 * resource's worth of memory at once.
 *
 * PROPPATCH is all or nothing (RFC 4918 §9.2): protected properties are found before anything
 * is written; the store applies the rest in one transaction, in document order. The response
 * names each property once, with the status of the request as a whole. */
#define _GNU_SOURCE
#include "fs.h"

#include <errno.h>

typedef struct found_s {
    hs__dav_qname_t name;
    hs_iovec_t lang, value;
} found_t;

static void add_found(hs_buf_t *b, const hs__dav_qname_t *name, hs_iovec_t lang, hs_iovec_t value)
{
    found_t f = {*name, lang, value};
    hs_buf_append(b, &f, sizeof(f));
}

static int store_status(int r)
{
    return r == -EBUSY ? 503 : r == -ENOSPC ? 507 : 500;
}

/* The value of one property by name: 200 with *value and *lang, 404, or 500/503. */
static int one(hs__dav_fs_t *fs, hs_arena_t *a, const char *rel, const struct stat *st, const hs__dav_qname_t *q,
               int64_t now, hs_iovec_t *value, hs_iovec_t *lang)
{
    *lang = HS_IOV_NULL;
    const hs__dav_live_t *live = hs__dav_live_find(q);
    if (live && !live->settable) {
        hs_buf_t b = {0};
        int r = hs__dav_live_get(fs, a, rel, st, q, now, &b);
        if (r == 200)
            *value = hs_iov(hs_arena_strndup(a, b.base ? b.base : "", b.len), b.len);
        hs_buf_free(&b);
        return r;
    }
    /* a dead property, or a settable live one: what a client set wins */
    hs__dav_prop_t p;
    int r = fs->store ? hs__dav_prop_get(fs->store, a, rel, q, &p) : HS_DECLINED;
    if (r == HS_OK) {
        *value = p.value;
        *lang = p.lang;
        return 200;
    }
    if (r != HS_DECLINED)
        return store_status(r);
    if (!live)
        return 404;
    hs_buf_t b = {0};
    r = hs__dav_live_get(fs, a, rel, st, q, now, &b);
    if (r == 200)
        *value = hs_iov(hs_arena_strndup(a, b.base ? b.base : "", b.len), b.len);
    hs_buf_free(&b);
    return r;
}

static void write_group(hs__dav_ms_t *m, const hs_buf_t *b, int status, bool names_only)
{
    hs__dav_ms_propstat_begin(m);
    for (size_t i = 0; i < b->len / sizeof(found_t); i++) {
        const found_t *f = (const found_t *)(void *)b->base + i;
        hs__dav_ms_prop(m, &f->name, names_only ? HS_IOV_NULL : f->lang, names_only ? HS_IOV_NULL : f->value);
    }
    hs__dav_ms_propstat_end(m, status, NULL, NULL);
}

int hs__dav_propfind_write(hs__dav_fs_t *fs, hs_arena_t *a, const char *rel, const struct stat *st,
                           const hs__dav_propfind_t *pf, int64_t now, hs__dav_ms_t *m)
{
    hs_buf_t ok = {0}, missing = {0};
    int st_all = 0;
    const hs__dav_qname_t *names = pf->names;
    size_t n = pf->n;
    if (pf->kind != HS__DAV_PF_PROP) {
        /* every live property the resource has (allprop: RFC 4918's only) … */
        size_t nl;
        const hs__dav_live_t *live = hs__dav_live_table(&nl);
        for (size_t i = 0; i < nl && !st_all; i++) {
            if (pf->kind == HS__DAV_PF_ALLPROP && !live[i].allprop)
                continue;
            hs__dav_qname_t q = {HS_IOV(HS__DAV_NS), hs_iov_cstr(live[i].name)};
            hs_iovec_t v, lang;
            int r = one(fs, a, rel, st, &q, now, &v, &lang);
            if (r == 200)
                add_found(&ok, &q, lang, v);
            else if (r != 404)
                st_all = r;
        }
        /* … then every dead one */
        if (!st_all && fs->store) {
            hs__dav_prop_t *dead;
            size_t nd;
            int r = hs__dav_prop_list(fs->store, a, rel, &dead, &nd);
            if (r != HS_OK)
                st_all = store_status(r);
            for (size_t i = 0; i < nd && !st_all; i++)
                if (!hs__dav_live_find(&dead[i].name)) /* a settable live one is listed above */
                    add_found(&ok, &dead[i].name, dead[i].lang, dead[i].value);
        }
    }
    /* PROP's names, and for ALLPROP those of DAV:include not already there */
    for (size_t i = 0; i < n && !st_all && pf->kind != HS__DAV_PF_PROPNAME; i++) {
        bool dup = false;
        for (size_t k = 0; k < ok.len / sizeof(found_t) && !dup; k++)
            dup = hs__dav_qname_eq(&((const found_t *)(void *)ok.base)[k].name, &names[i]);
        if (dup)
            continue;
        hs_iovec_t v, lang;
        int r = one(fs, a, rel, st, &names[i], now, &v, &lang);
        if (r == 200)
            add_found(&ok, &names[i], lang, v);
        else if (r == 404)
            add_found(&missing, &names[i], HS_IOV_NULL, HS_IOV_NULL);
        else
            st_all = r;
    }
    if (!st_all) {
        hs__dav_ms_response_begin(m, hs__dav_href(a, fs, rel, S_ISDIR(st->st_mode)));
        if (ok.len || !missing.len) /* a response holds at least one propstat */
            write_group(m, &ok, 200, pf->kind == HS__DAV_PF_PROPNAME);
        if (missing.len)
            write_group(m, &missing, 404, true);
        hs__dav_ms_response_end(m, NULL);
    }
    hs_buf_free(&ok);
    hs_buf_free(&missing);
    return st_all;
}

int hs__dav_proppatch_apply(hs__dav_fs_t *fs, hs_arena_t *a, const char *rel, const hs__dav_proppatch_t *pp,
                            hs__dav_ms_t *m)
{
    /* each property once, in the order first named */
    hs__dav_qname_t *names = hs_arena_alloc(a, (pp->n ? pp->n : 1) * sizeof(*names));
    size_t nn = 0;
    const hs__dav_qname_t *bad = NULL;
    for (size_t i = 0; i < pp->n; i++) {
        const hs__dav_qname_t *q = &pp->ops[i].name;
        if (!bad && hs__dav_live_protected(q))
            bad = q; /* RFC 4918 §9.2.1: 403 cannot-modify-protected-property */
        bool dup = false;
        for (size_t k = 0; k < nn && !dup; k++)
            dup = hs__dav_qname_eq(&names[k], q);
        if (!dup)
            names[nn++] = *q;
    }
    int status = 200;
    if (bad) {
        status = 403;
    } else if (!fs->store) {
        status = 403; /* nowhere to keep them */
    } else {
        int r = hs__dav_prop_patch(fs->store, rel, pp->ops, pp->n);
        if (r != HS_OK)
            status = store_status(r);
    }
    struct stat st;
    const char *detail;
    bool coll = hs__dav_stat(fs, rel, &st, &detail) == 0 && S_ISDIR(st.st_mode);
    hs__dav_ms_response_begin(m, hs__dav_href(a, fs, rel, coll));
    if (status == 200) {
        hs__dav_ms_propstat_begin(m);
        for (size_t i = 0; i < nn; i++)
            hs__dav_ms_prop(m, &names[i], HS_IOV_NULL, HS_IOV_NULL);
        hs__dav_ms_propstat_end(m, 200, NULL, NULL);
    } else {
        /* the one that failed (all of them when the store refused), then the rest: 424 */
        hs__dav_ms_propstat_begin(m);
        for (size_t i = 0; i < nn; i++)
            if (!bad || hs__dav_qname_eq(&names[i], bad))
                hs__dav_ms_prop(m, &names[i], HS_IOV_NULL, HS_IOV_NULL);
        hs__dav_ms_propstat_end(m, status, bad ? "cannot-modify-protected-property" : NULL, NULL);
        if (bad && nn > 1) {
            hs__dav_ms_propstat_begin(m);
            for (size_t i = 0; i < nn; i++)
                if (!hs__dav_qname_eq(&names[i], bad))
                    hs__dav_ms_prop(m, &names[i], HS_IOV_NULL, HS_IOV_NULL);
            hs__dav_ms_propstat_end(m, 424, NULL, NULL); /* RFC 4918 §9.2.1: Failed Dependency */
        }
    }
    hs__dav_ms_response_end(m, NULL);
    return status;
}
