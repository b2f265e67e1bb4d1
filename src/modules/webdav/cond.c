/* statusd — WebDAV conditions on a tree (see fs.h): the If header evaluated against the disk and
 * the store, and the lock check every changing method makes.
 *
 * The two are separate questions, answered in this order by the methods (litmus's conditional
 * PUTs tell them apart): does the If header hold (else 412), and does the request hold the token
 * of every lock in its way (else 423)? "(<token>) (Not <DAV:no-lock>)" holds and submits the
 * token; "(<wrong>) (Not <DAV:no-lock>)" holds but submits nothing of use, so a locked resource
 * answers 423. */
#define _GNU_SOURCE
#include "fs.h"

#include "hs/conditional.h"

#include <errno.h>

typedef struct look_s {
    hs__dav_fs_t *fs;
    hs_arena_t *a;
    const char *req_rel;
    int64_t now;
    bool subtree; /* hs__dav_if_check_subtree */
} look_t;

/* Append the tokens of the locks the store lists for rel (depth as for hs__dav_lock_list). */
static int add_tokens(look_t *k, const char *rel, int depth, hs_buf_t *toks)
{
    hs__dav_lock_t *locks;
    size_t n;
    int r = hs__dav_lock_list(k->fs->store, k->a, rel, depth, k->now, &locks, &n);
    if (r != HS_OK)
        return r == -EBUSY ? 503 : 500;
    for (size_t i = 0; i < n; i++)
        hs_buf_append(toks, &locks[i].token, sizeof(hs_iovec_t));
    return HS_OK;
}

static int lookup(void *ctx, const hs__dav_if_list_t *l, hs__dav_if_state_t *out)
{
    look_t *k = ctx;
    *out = (hs__dav_if_state_t){0};
    const char *rel = k->req_rel;
    if (l->path.base) {
        hs_iovec_t r;
        if (!hs__dav_path_rel(hs_iov_cstr(k->fs->mount), l->path, &r))
            return HS_OK; /* a resource of this server, outside this tree: no state here */
        rel = hs_arena_strndup(k->a, r.base, r.len);
    }
    if (!rel)
        return HS_OK;
    struct stat st;
    const char *detail;
    if (hs__dav_stat(k->fs, rel, &st, &detail) == 0) {
        out->exists = true;
        out->etag = hs_etag_from_stat_arena(k->a, &st, NULL); /* what GET sends */
    }
    if (k->fs->store) {
        /* §10.4.4: any lock whose scope includes the resource; for a request on a whole subtree,
         * an untagged list also stands for the locks below it and its parent's (see fs.h) */
        bool wide = k->subtree && !l->path.base && rel[0];
        hs_buf_t toks = {0};
        int r = add_tokens(k, rel, wide ? HS__DAV_LOCK_INFINITY : 0, &toks);
        if (r == HS_OK && wide) {
            const char *slash = strrchr(rel, '/');
            r = add_tokens(k, hs_arena_strndup(k->a, rel, slash ? (size_t)(slash - rel) : 0), 0, &toks);
        }
        if (r != HS_OK) {
            hs_buf_free(&toks);
            return r;
        }
        out->ntokens = toks.len / sizeof(hs_iovec_t);
        hs_iovec_t *copy = out->ntokens ? hs_arena_alloc(k->a, toks.len) : NULL;
        if (copy)
            memcpy(copy, toks.base, toks.len);
        out->tokens = copy;
        hs_buf_free(&toks);
    }
    return HS_OK;
}

int hs__dav_if_check(hs__dav_fs_t *fs, hs_arena_t *a, const hs__dav_if_t *h, const char *req_rel, int64_t now)
{
    look_t k = {fs, a, req_rel, now, false};
    int r = hs__dav_if_eval(h, lookup, &k);
    return r == 1 ? 0 : r == 0 ? 412 : r;
}

int hs__dav_if_check_subtree(hs__dav_fs_t *fs, hs_arena_t *a, const hs__dav_if_t *h, const char *req_rel, int64_t now)
{
    look_t k = {fs, a, req_rel, now, true};
    int r = hs__dav_if_eval(h, lookup, &k);
    return r == 1 ? 0 : r == 0 ? 412 : r;
}

/* The first lock of locks[0..n) whose token h does not submit, or NULL. */
static const hs__dav_lock_t *unsubmitted(const hs__dav_if_t *h, const hs__dav_lock_t *locks, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!hs__dav_if_submits(h, locks[i].token))
            return &locks[i];
    return NULL;
}

int hs__dav_locks_check(hs__dav_fs_t *fs, hs_arena_t *a, const hs__dav_if_t *h, const char *rel, int depth,
                        bool membership, int64_t now, hs_iovec_t *locked)
{
    *locked = HS_IOV_NULL;
    if (!fs->store)
        return 0;
    hs__dav_lock_t *locks;
    size_t n;
    int r = hs__dav_lock_list(fs->store, a, rel, depth == HS__DAV_DEPTH_INFINITY ? HS__DAV_LOCK_INFINITY : 0, now,
                              &locks, &n);
    if (r != HS_OK)
        return r == -EBUSY ? 503 : 500;
    const hs__dav_lock_t *l = unsubmitted(h, locks, n);
    if (!l && membership && rel[0]) {
        /* RFC 4918 §7.4: a lock on the parent collection, even of depth 0, protects its members'
         * names (ancestors' depth-infinity locks were in the list above already) */
        const char *slash = strrchr(rel, '/');
        char *parent = hs_arena_strndup(a, rel, slash ? (size_t)(slash - rel) : 0);
        if ((r = hs__dav_lock_list(fs->store, a, parent, 0, now, &locks, &n)) != HS_OK)
            return r == -EBUSY ? 503 : 500;
        l = unsubmitted(h, locks, n);
    }
    if (!l)
        return 0;
    char *root = hs_arena_strndup(a, l->root.base, l->root.len);
    struct stat st;
    const char *detail;
    *locked = hs__dav_href(a, fs, root, hs__dav_stat(fs, root, &st, &detail) == 0 && S_ISDIR(st.st_mode));
    return 423;
}
