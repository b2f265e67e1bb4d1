/* Unit tests: the WebDAV store in SQLite (src/modules/webdav/store.c, store_sqlite.c) — dead
 * properties (all-or-nothing PROPPATCH, limits, copy/move/delete of subtrees with exact key
 * ranges, byte names), locks (RFC 4918 §6.1 conflicts, coverage, expiry, refresh, tokens, the
 * lock count limit), tombstones, reopening, two processes racing for the same locks, and a
 * process killed with SIGKILL inside a write transaction and while committing. */
#define _GNU_SOURCE
#include "../../../src/modules/webdav/store.h"
#include "tap.h"

#include <errno.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static hs_arena_t A;
static char dir[64], dbpath[128];

static hs__dav_store_t *open_store(const hs__dav_store_opts_t *extra)
{
    hs__dav_store_opts_t o = extra ? *extra : (hs__dav_store_opts_t){0};
    o.path = dbpath;
    hs__dav_store_t *s = NULL;
    const char *detail = NULL;
    int r = hs__dav_store_open_sqlite(&o, &s, &detail);
    if (r)
        printf("# open: %d %s\n", r, detail);
    return s;
}

static hs__dav_propop_t set_op(const char *ns, const char *name, const char *value)
{
    return (hs__dav_propop_t){
        .name = {hs_iov_cstr(ns), hs_iov_cstr(name)}, .value = hs_iov_cstr(value), .lang = HS_IOV_NULL};
}
static hs__dav_propop_t rm_op(const char *ns, const char *name)
{
    return (hs__dav_propop_t){.remove = true, .name = {hs_iov_cstr(ns), hs_iov_cstr(name)}};
}

/* The value of {ns}name at rel, or NULL. */
static const char *get(hs__dav_store_t *s, const char *rel, const char *ns, const char *name)
{
    hs__dav_qname_t q = {hs_iov_cstr(ns), hs_iov_cstr(name)};
    hs__dav_prop_t p;
    return hs__dav_prop_get(s, &A, rel, &q, &p) == HS_OK ? p.value.base : NULL;
}

static size_t count(hs__dav_store_t *s, const char *rel)
{
    hs__dav_prop_t *ps;
    size_t n = 0;
    hs__dav_prop_list(s, &A, rel, &ps, &n);
    return n;
}

static void test_props(hs__dav_store_t *s)
{
    hs__dav_propop_t ops[] = {set_op("http://example.com/neon/litmus/", "prop0", "value0"),
                              set_op("", "nonamespace", "randomvalue"),
                              set_op("urn:\xc3\xa9", "\xc3\xa9t\xc3\xa9", "\xf0\x90\x80\x80"),
                              set_op("u", "frag", "<foo xmlns=\"http://bar\"/>")};
    ops[1].lang = HS_IOV("en");
    is_int(hs__dav_prop_patch(s, "prop", ops, HS_ARRAY_SIZE(ops)), HS_OK, "PROPPATCH of four");
    ok(get(s, "prop", "http://example.com/neon/litmus/", "prop0") &&
           strcmp(get(s, "prop", "http://example.com/neon/litmus/", "prop0"), "value0") == 0,
       "get");
    hs__dav_prop_t p;
    hs__dav_qname_t q = {HS_IOV(""), HS_IOV("nonamespace")};
    is_int(hs__dav_prop_get(s, &A, "prop", &q, &p), HS_OK, "null namespace");
    ok(HS_IOV_EQ(p.value, "randomvalue") && HS_IOV_EQ(p.lang, "en") && p.name.ns.len == 0, "value and language");
    ok(get(s, "prop", "urn:\xc3\xa9", "\xc3\xa9t\xc3\xa9") &&
           strcmp(get(s, "prop", "urn:\xc3\xa9", "\xc3\xa9t\xc3\xa9"), "\xf0\x90\x80\x80") == 0,
       "non-ASCII name and value");
    q = (hs__dav_qname_t){HS_IOV("u"), HS_IOV("frag")};
    hs__dav_prop_get(s, &A, "prop", &q, &p);
    ok(p.lang.base == NULL, "no language is NULL");
    is_int(hs__dav_prop_get(s, &A, "prop", &(hs__dav_qname_t){HS_IOV("u"), HS_IOV("none")}, &p), HS_DECLINED,
           "absent: HS_DECLINED");
    is_int(hs__dav_prop_get(s, &A, "other", &q, &p), HS_DECLINED, "another resource");
    hs__dav_prop_t *ps;
    size_t n;
    is_int(hs__dav_prop_list(s, &A, "prop", &ps, &n), HS_OK, "list");
    ok(n == 4 && ps[0].name.ns.len == 0 && HS_IOV_EQ(ps[1].name.ns, "http://example.com/neon/litmus/"),
       "four, ordered by namespace (%zu)", n);

    /* document order: remove then set, set then remove (litmus propremoveset/propsetremove) */
    hs__dav_propop_t rs[] = {rm_op("u", "rs"), set_op("u", "rs", "x"), set_op("u", "rs", "y")};
    is_int(hs__dav_prop_patch(s, "prop", rs, 3), HS_OK, "remove, set, set");
    ok(get(s, "prop", "u", "rs") && strcmp(get(s, "prop", "u", "rs"), "y") == 0, "the last set wins");
    hs__dav_propop_t sr[] = {set_op("u", "rs", "x"), rm_op("u", "rs")};
    is_int(hs__dav_prop_patch(s, "prop", sr, 2), HS_OK, "set, remove");
    ok(get(s, "prop", "u", "rs") == NULL, "removed");
    hs__dav_propop_t twice[] = {rm_op("u", "never")};
    is_int(hs__dav_prop_patch(s, "prop", twice, 1), HS_OK, "removing an absent property succeeds (§14.23)");

    /* limits: nothing of a failing PROPPATCH stays */
    hs__dav_store_opts_t o = {.max_props = 5, .max_prop_bytes = 100};
    hs__dav_store_t *t = open_store(&o);
    hs__dav_propop_t many[6];
    char names[6][16];
    for (int i = 0; i < 6; i++) {
        snprintf(names[i], sizeof(names[i]), "n%d", i);
        many[i] = set_op("lim", names[i], "v");
    }
    is_int(hs__dav_prop_patch(t, "lim", many, 5), HS_OK, "5 properties within 5");
    is_int(hs__dav_prop_patch(t, "lim2", many, 6), -ENOSPC, "6 properties over 5: -ENOSPC (507)");
    is_int(count(t, "lim2"), 0, "none of them kept");
    char big[128];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    hs__dav_propop_t bigop[] = {rm_op("lim", "n0"), set_op("lim", "big", big)};
    is_int(hs__dav_prop_patch(t, "lim", bigop, 2), -ENOSPC, "over max_prop_bytes: -ENOSPC");
    ok(get(t, "lim", "lim", "n0") != NULL, "the remove before it rolled back too");
    hs__dav_store_close(t);
}

static void test_subtrees(hs__dav_store_t *s)
{
    /* a, its members, and siblings whose names sort next to them */
    const char *paths[] = {"a", "a/b", "a/b/c", "a/\xff", "a0", "a.b", "ab", "a-", "b", "b/a"};
    for (size_t i = 0; i < HS_ARRAY_SIZE(paths); i++) {
        hs__dav_propop_t op = set_op("t", "p", paths[i]);
        hs__dav_prop_patch(s, paths[i], &op, 1);
    }
    is_int(hs__dav_prop_copy(s, "a", "c", true), HS_OK, "copy a → c with members");
    ok(get(s, "c", "t", "p") && strcmp(get(s, "c", "t", "p"), "a") == 0, "c has a's");
    ok(get(s, "c/b/c", "t", "p") && strcmp(get(s, "c/b/c", "t", "p"), "a/b/c") == 0, "c/b/c has a/b/c's");
    ok(get(s, "c/\xff", "t", "p") != NULL, "a byte name that is not UTF-8");
    ok(!get(s, "c0", "t", "p") && !get(s, "c.b", "t", "p") && !get(s, "cb", "t", "p"), "siblings not copied");
    is_int(hs__dav_prop_copy(s, "b", "a/b", false), HS_OK, "depth-0 copy onto an existing resource");
    ok(strcmp(get(s, "a/b", "t", "p"), "b") == 0 && get(s, "a/b/c", "t", "p"), "replaced; members untouched");
    is_int(hs__dav_prop_move(s, "c", "d/e"), HS_OK, "move c → d/e");
    ok(!get(s, "c", "t", "p") && !get(s, "c/b", "t", "p"), "the source is gone");
    ok(get(s, "d/e/b/c", "t", "p") && strcmp(get(s, "d/e/b/c", "t", "p"), "a/b/c") == 0, "moved with members");
    is_int(hs__dav_prop_delete(s, "a", true), HS_OK, "delete a's subtree");
    ok(!get(s, "a", "t", "p") && !get(s, "a/b/c", "t", "p") && !get(s, "a/\xff", "t", "p"), "a and members gone");
    ok(get(s, "a0", "t", "p") && get(s, "a.b", "t", "p") && get(s, "ab", "t", "p") && get(s, "a-", "t", "p"),
       "siblings kept: a0 a.b ab a-");
    is_int(hs__dav_prop_delete(s, "b", false), HS_OK, "delete b alone");
    ok(!get(s, "b", "t", "p") && get(s, "b/a", "t", "p"), "its member kept");
    /* the root's subtree is everything */
    is_int(hs__dav_prop_copy(s, "", "root-copy", true), HS_OK, "copy the root");
    ok(get(s, "root-copy/a0", "t", "p") && get(s, "root-copy/d/e/b/c", "t", "p"), "members under the copy");
    is_int(hs__dav_prop_delete(s, "", true), HS_OK, "delete everything");
    is_int(count(s, "a0") + count(s, "root-copy/a0") + count(s, "prop"), 0, "nothing left");
}

static hs__dav_lock_t lk(const char *root, int depth, bool excl, uint32_t timeout)
{
    return (hs__dav_lock_t){.root = hs_iov_cstr(root),
                            .depth = depth,
                            .exclusive = excl,
                            .timeout = timeout,
                            .owner = HS_IOV("<href xmlns=\"DAV:\">me</href>"),
                            .principal = HS_IOV_NULL};
}

static void test_locks(hs__dav_store_t *s)
{
    const int64_t now = 1000000;
    const int INF = HS__DAV_LOCK_INFINITY;
    hs__dav_lock_t l = lk("coll/res", 0, true, 600), c;
    is_int(hs__dav_lock_create(s, &A, &l, now, &c), HS_OK, "exclusive depth-0 lock");
    ok(l.token.len == 45 && memcmp(l.token.base, "urn:uuid:", 9) == 0 && l.token.base[23] == '4' &&
           strchr("89ab", l.token.base[28]),
       "a version-4 urn:uuid token (%s)", l.token.base);
    is_int(l.expires, now + 600, "expires");
    hs_iovec_t t1 = l.token;
    hs__dav_lock_t l2 = lk("coll/res", 0, false, 600);
    is_int(hs__dav_lock_create(s, &A, &l2, now, &c), -EEXIST, "shared over exclusive: conflict");
    ok(HS_IOV_EQ(c.token, t1.base) || (c.token.len == t1.len && memcmp(c.token.base, t1.base, t1.len) == 0),
       "the conflicting lock reported");
    hs__dav_lock_t l3 = lk("coll", INF, true, 600);
    is_int(hs__dav_lock_create(s, &A, &l3, now, &c), -EEXIST, "depth infinity over a locked member: conflict");
    ok(HS_IOV_EQ(c.root, "coll/res"), "…with the member's lock");
    hs__dav_lock_t l4 = lk("coll", 0, true, 600);
    is_int(hs__dav_lock_create(s, &A, &l4, now, &c), HS_OK, "depth 0 on the parent is fine");
    hs__dav_lock_t l5 = lk("coll/other", 0, true, 600);
    is_int(hs__dav_lock_create(s, &A, &l5, now, &c), HS_OK, "a sibling");

    /* shared locks share */
    hs__dav_lock_t s1 = lk("shared", INF, false, 100), s2 = lk("shared/x", 0, false, 100);
    is_int(hs__dav_lock_create(s, &A, &s1, now, &c), HS_OK, "shared depth infinity");
    is_int(hs__dav_lock_create(s, &A, &s2, now, &c), HS_OK, "shared inside it (litmus double_sharedlock)");
    hs__dav_lock_t s3 = lk("shared/x/y", 0, true, 100);
    is_int(hs__dav_lock_create(s, &A, &s3, now, &c), -EEXIST, "exclusive inside a shared depth-infinity lock");
    ok(HS_IOV_EQ(c.root, "shared") || HS_IOV_EQ(c.root, "shared/x"), "conflict names a covering lock");
    hs__dav_lock_t s4 = lk("sharedx", 0, true, 100);
    is_int(hs__dav_lock_create(s, &A, &s4, now, &c), HS_OK, "a name that only starts the same is not covered");

    /* listing */
    hs__dav_lock_t *ls;
    size_t n;
    is_int(hs__dav_lock_list(s, &A, "shared/x/y/z", 0, now, &ls, &n), HS_OK, "list covering");
    ok(n == 1 && HS_IOV_EQ(ls[0].root, "shared"), "only the depth-infinity ancestor covers (%zu)", n);
    is_int(hs__dav_lock_list(s, &A, "shared/x", 0, now, &ls, &n), HS_OK, "list at a lock root");
    is_int(n, 2, "the ancestor's and its own");
    is_int(hs__dav_lock_list(s, &A, "coll", INF, now, &ls, &n), HS_OK, "list a subtree");
    is_int(n, 3, "coll, coll/res, coll/other");
    is_int(hs__dav_lock_list(s, &A, "", INF, now, &ls, &n), HS_OK, "list everything");
    is_int(n, 6, "every live lock");
    ok(hs__dav_lock_covers(&s1, "shared/a/b") && !hs__dav_lock_covers(&s1, "sharedx") &&
           hs__dav_lock_covers(&l, "coll/res") && !hs__dav_lock_covers(&l, "coll/res/x"),
       "hs__dav_lock_covers");

    /* get, refresh, expiry, remove */
    hs__dav_lock_t g;
    is_int(hs__dav_lock_get(s, &A, t1.base, now, &g), HS_OK, "get by token");
    ok(HS_IOV_EQ(g.root, "coll/res") && g.exclusive && g.depth == 0 &&
           HS_IOV_EQ(g.owner, "<href xmlns=\"DAV:\">me</href>") && g.principal.base == NULL && g.timeout == 600,
       "the lock as made");
    is_int(hs__dav_lock_refresh(s, &A, t1.base, 3000, now + 500, &g), HS_OK, "refresh");
    is_int(g.expires, now + 3500, "new expiry");
    is_int(hs__dav_lock_get(s, &A, s1.token.base, now + 100, &g), HS_DECLINED, "expired: gone");
    is_int(hs__dav_lock_refresh(s, &A, s1.token.base, 100, now + 100, &g), HS_DECLINED,
           "an expired lock cannot be refreshed");
    hs__dav_lock_t s5 = lk("shared/x/y", 0, true, 100);
    is_int(hs__dav_lock_create(s, &A, &s5, now + 100, &c), HS_OK, "after expiry the exclusive lock is granted");
    is_int(hs__dav_lock_remove(s, t1.base), HS_OK, "remove");
    is_int(hs__dav_lock_remove(s, t1.base), HS_DECLINED, "remove again");
    is_int(hs__dav_lock_get(s, &A, "urn:uuid:nope", now, &g), HS_DECLINED, "unknown token");
    is_int(hs__dav_lock_delete(s, "coll", true), HS_OK, "delete the subtree's locks");
    is_int(hs__dav_lock_list(s, &A, "coll", INF, now, &ls, &n), HS_OK, "list");
    is_int(n, 0, "none left under coll");

    /* the count limit */
    hs__dav_store_opts_t o = {.max_locks = 3};
    hs__dav_store_t *t = open_store(&o);
    hs__dav_lock_delete(t, "", true);
    int granted = 0, full = 0;
    for (int i = 0; i < 5; i++) {
        char r[32];
        snprintf(r, sizeof(r), "many/%d", i);
        hs__dav_lock_t m = lk(r, 0, true, 100);
        int rc = hs__dav_lock_create(t, &A, &m, now + 1000, &c);
        granted += rc == HS_OK;
        full += rc == -ENOSPC;
    }
    ok(granted == 3 && full == 2, "three granted, then -ENOSPC (%d, %d)", granted, full);
    hs__dav_lock_t late = lk("many/late", 0, true, 100);
    is_int(hs__dav_lock_create(t, &A, &late, now + 5000, &c), HS_OK, "expired locks no longer count");
    hs__dav_lock_delete(t, "", true);
    hs__dav_store_close(t);
}

static void test_tombs(hs__dav_store_t *s)
{
    const int64_t now = 2000000;
    is_int(hs__dav_tomb_check(s, "gone", now), 0, "nothing deleted yet");
    is_int(hs__dav_tomb_add(s, "gone", false, now + 60, now), HS_OK, "a file deleted");
    is_int(hs__dav_tomb_check(s, "gone", now), 1, "gone");
    is_int(hs__dav_tomb_check(s, "gone/x", now), 0, "a file has no members");
    is_int(hs__dav_tomb_check(s, "gone", now + 60), 0, "then forgotten");
    is_int(hs__dav_tomb_add(s, "dir", true, now + 60, now), HS_OK, "a collection deleted");
    is_int(hs__dav_tomb_check(s, "dir/a/b", now), 1, "its members are gone too");
    is_int(hs__dav_tomb_check(s, "dirx", now), 0, "not a sibling");
    is_int(hs__dav_tomb_clear(s, "dir"), HS_OK, "made again");
    is_int(hs__dav_tomb_check(s, "dir/a", now), 0, "no longer gone");
    hs__dav_store_opts_t o = {.max_tombs = 3};
    hs__dav_store_t *t = open_store(&o);
    for (int i = 0; i < 5; i++) {
        char r[32];
        snprintf(r, sizeof(r), "t%d", i);
        hs__dav_tomb_add(t, r, false, now + 100 + i, now);
    }
    is_int(hs__dav_tomb_check(t, "t0", now) + hs__dav_tomb_check(t, "t1", now), 0, "the oldest forgotten");
    is_int(hs__dav_tomb_check(t, "t2", now) + hs__dav_tomb_check(t, "t3", now) + hs__dav_tomb_check(t, "t4", now), 3,
           "three kept");
    hs__dav_store_close(t);
}

/* ---- several processes ---- */

static void test_processes(void)
{
    const int N = 150;
    int pipes[2][2];
    pid_t pids[2];
    for (int k = 0; k < 2; k++) {
        if (pipe(pipes[k]) != 0)
            abort();
        pids[k] = fork();
        if (pids[k] == 0) {
            hs__dav_store_t *s = open_store(NULL);
            int won = 0, errors = 0;
            hs_arena_t a;
            hs_arena_init(&a);
            for (int i = 0; i < N; i++) {
                char r[32];
                snprintf(r, sizeof(r), "race/%d", i);
                hs__dav_lock_t l = lk(r, 0, true, 600), c;
                int rc = hs__dav_lock_create(s, &a, &l, time(NULL), &c);
                won += rc == HS_OK;
                errors += rc != HS_OK && rc != -EEXIST;
                char v[32];
                snprintf(v, sizeof(v), "%d-%d", k, i);
                hs__dav_propop_t op = set_op("race", k ? "b" : "a", v);
                errors += hs__dav_prop_patch(s, "shared", &op, 1) != HS_OK;
                hs_arena_reset_keep(&a);
            }
            int res[2] = {won, errors};
            if (write(pipes[k][1], res, sizeof(res)) != sizeof(res))
                _exit(2);
            _exit(0);
        }
        close(pipes[k][1]);
    }
    int won = 0, errors = 0;
    for (int k = 0; k < 2; k++) {
        int res[2] = {0, 1}, st = 0;
        if (read(pipes[k][0], res, sizeof(res)) != sizeof(res))
            res[1] = 1;
        close(pipes[k][0]);
        waitpid(pids[k], &st, 0);
        won += res[0];
        errors += res[1] + (WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1);
    }
    is_int(errors, 0, "two processes: no store errors (busy waits, never fails)");
    is_int(won, N, "two processes: every exclusive lock granted exactly once");
    hs__dav_store_t *s = open_store(NULL);
    char want_a[32], want_b[32];
    snprintf(want_a, sizeof(want_a), "0-%d", N - 1);
    snprintf(want_b, sizeof(want_b), "1-%d", N - 1);
    ok(get(s, "shared", "race", "a") && strcmp(get(s, "shared", "race", "a"), want_a) == 0 &&
           get(s, "shared", "race", "b") && strcmp(get(s, "shared", "race", "b"), want_b) == 0,
       "both processes' last writes are there");
    hs__dav_lock_delete(s, "race", true);
    hs__dav_store_close(s);
}

static bool integrity_ok(void)
{
    sqlite3 *db;
    bool good = false;
    if (sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK) {
        sqlite3_stmt *q;
        if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &q, NULL) == SQLITE_OK) {
            good = sqlite3_step(q) == SQLITE_ROW && strcmp((const char *)sqlite3_column_text(q, 0), "ok") == 0;
            sqlite3_finalize(q);
        }
    }
    sqlite3_close(db);
    return good;
}

static void test_kill(void)
{
    /* 1. killed while holding the write lock with uncommitted rows */
    int p[2];
    if (pipe(p) != 0)
        abort();
    pid_t pid = fork();
    if (pid == 0) {
        hs__dav_store_t *s = open_store(NULL);
        hs__dav_propop_t op = set_op("k", "committed", "yes");
        hs__dav_prop_patch(s, "killed", &op, 1);
        sqlite3 *db;
        sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READWRITE, NULL);
        sqlite3_busy_timeout(db, 5000);
        sqlite3_exec(db, "BEGIN IMMEDIATE; INSERT INTO props VALUES('killed', 'k', 'uncommitted', NULL, 'x');", NULL,
                     NULL, NULL);
        char c = 'x';
        if (write(p[1], &c, 1) != 1)
            _exit(2);
        pause();
        _exit(0);
    }
    close(p[1]);
    char c;
    ok(read(p[0], &c, 1) == 1, "the child is inside its transaction");
    close(p[0]);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    hs__dav_store_t *s = open_store(&(hs__dav_store_opts_t){.busy_ms = 2000});
    ok(s != NULL, "the store opens after the kill");
    ok(get(s, "killed", "k", "committed") != NULL, "what was committed before stays (not yet checkpointed)");
    ok(get(s, "killed", "k", "uncommitted") == NULL, "what was not committed is gone");
    hs__dav_propop_t op = set_op("k", "after", "1");
    is_int(hs__dav_prop_patch(s, "killed", &op, 1), HS_OK, "the write lock died with the process");
    hs__dav_store_close(s);
    ok(integrity_ok(), "integrity_check: ok");

    /* 2. killed at random moments while committing 200-property PROPPATCHes: every resource has
     * all of one PROPPATCH or none */
    int torn = 0, rounds = 6;
    for (int round = 0; round < rounds; round++) {
        pid = fork();
        if (pid == 0) {
            hs__dav_store_t *cs = open_store(NULL);
            hs__dav_propop_t ops[200];
            char names[200][16], val[32];
            for (int v = 0;; v++) {
                snprintf(val, sizeof(val), "v%d", v);
                for (int i = 0; i < 200; i++) {
                    snprintf(names[i], sizeof(names[i]), "p%d", i);
                    ops[i] = set_op("kill", names[i], val);
                }
                hs__dav_prop_patch(cs, "torn", ops, 200);
            }
        }
        struct timespec ts = {0, (long)(3 + round * 7) * 1000000L};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        s = open_store(NULL);
        hs__dav_prop_t *ps;
        size_t n = 0;
        hs__dav_prop_list(s, &A, "torn", &ps, &n);
        bool same = n == 0 || n == 200;
        for (size_t i = 1; i < n && same; i++)
            same =
                ps[i].value.len == ps[0].value.len && memcmp(ps[i].value.base, ps[0].value.base, ps[0].value.len) == 0;
        torn += !same;
        hs__dav_store_close(s);
        if (!integrity_ok())
            torn++;
    }
    is_int(torn, 0, "SIGKILL during commits, %d times: never half a PROPPATCH, never a damaged file", rounds);
}

static void test_paths(void)
{
    char out[4096];
    const char *detail;
    setenv("STATE_DIRECTORY", "/var/lib/statusd-test:/other", 1);
    is_int(hs__dav_store_default_path("/srv/my files", out, sizeof(out)), HS_OK, "default path");
    ok(strncmp(out, "/var/lib/statusd-test/dav-my_files-", 35) == 0 && strlen(out) == 35 + 16 + 7,
       "in the state directory, named after the root (%s)", out);
    char other[4096];
    hs__dav_store_default_path("/srv/my files2", other, sizeof(other));
    ok(strcmp(out, other) != 0, "another tree, another file");
    hs__dav_store_default_path("/srv/my files", other, sizeof(other));
    ok(strcmp(out, other) == 0, "the same tree, the same file");
    unsetenv("STATE_DIRECTORY");
    is_int(hs__dav_store_default_path("/srv/x", out, 10), HS_ERROR, "too small a buffer");
    char inside[200];
    snprintf(inside, sizeof(inside), "%s/tree/.dav.sqlite", dir);
    char tree[200];
    snprintf(tree, sizeof(tree), "%s/tree", dir);
    if (mkdir(tree, 0700) != 0)
        printf("# mkdir %s failed\n", tree);
    is_int(hs__dav_store_check_path(tree, inside, &detail), HS_ERROR, "a database inside the tree is refused");
    is_int(hs__dav_store_check_path(tree, dbpath, &detail), HS_OK, "beside it is fine");
    snprintf(inside, sizeof(inside), "%s/tree/../tree/x.sqlite", dir);
    is_int(hs__dav_store_check_path(tree, inside, &detail), HS_ERROR, "…also when written with ..");
    is_int(hs__dav_store_check_path("/", dbpath, &detail), HS_ERROR, "a tree at / contains everything");
    is_int(hs__dav_store_check_path(tree, "/nonexistent-dir/x.sqlite", &detail), HS_ERROR, "a missing directory");
    rmdir(tree);
}

int main(void)
{
    hs_arena_init(&A);
    snprintf(dir, sizeof(dir), "/tmp/hs-store-XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    snprintf(dbpath, sizeof(dbpath), "%s/dav.sqlite", dir);
    hs__dav_store_t *s = open_store(NULL);
    ok(s != NULL, "open a new store");
    if (!s)
        return tap_done();
    test_props(s);
    test_subtrees(s);
    test_locks(s);
    test_tombs(s);
    hs__dav_store_close(s);
    s = open_store(NULL);
    hs__dav_lock_t l = lk("persist", 0, true, 600), c;
    hs__dav_lock_create(s, &A, &l, time(NULL), &c);
    hs__dav_store_close(s);
    s = open_store(NULL);
    hs__dav_lock_t g;
    is_int(hs__dav_lock_get(s, &A, l.token.base, time(NULL), &g), HS_OK, "a lock survives closing and reopening");
    hs__dav_store_close(s);
    test_processes();
    test_kill();
    test_paths();
    hs_arena_reset(&A);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        printf("# cleanup failed\n");
    return tap_done();
}
