/* Unit tests: WebDAV locks in Redis (src/modules/webdav/store_redis.c) against a real
 * redis-server — the lock records (made, read back, malformed ones refused), RFC 4918 §6.1
 * conflicts and coverage (ancestors with depth infinity, members below a depth-infinity lock),
 * listing, refresh, expiry by the callers' clock, removal, deletion of subtrees, the count limit;
 * two instances sharing a tree (what one takes the other sees and may free) and racing for the
 * same lock from eight threads (exactly one wins each round); dead properties staying in SQLite;
 * the failure policies with Redis killed and back. */
#define _GNU_SOURCE
#include "../../../src/modules/webdav/store.h"
#include "../../../src/store/redis.h"
#include "lib/redis_server.h"
#include "tap.h"

#include <errno.h>
#include <pthread.h>

static redis_srv_t R;
static char dir[64];
static int ndb;

/* A store as an instance opens it: its own SQLite database, its locks in Redis under `tree`. */
static hs__dav_store_t *open_store(hs_redis_failure_t f, size_t max_locks, const char *tree)
{
    char db[128];
    snprintf(db, sizeof(db), "%s/db%d.sqlite", dir, ndb++);
    hs__dav_store_opts_t so = {.path = db};
    hs__dav_store_t *inner = NULL, *s = NULL;
    const char *detail;
    if (hs__dav_store_open_sqlite(&so, &inner, &detail) != HS_OK)
        abort();
    hs__dav_redis_opts_t o = {.prefix = "td:", .tree = tree, .timeout_ms = 100, .failure = f, .max_locks = max_locks};
    if (hs_redis_url_parse(hs_iov_cstr(R.url), &o.addr, &detail) != HS_OK)
        abort();
    hs__dav_store_open_redis(inner, &o, &s);
    return s;
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

static void test_records(void)
{
    hs_arena_t a;
    hs_arena_init(&a);
    hs__dav_lock_t l = {.root = HS_IOV("a/b c"),
                        .depth = HS__DAV_LOCK_INFINITY,
                        .exclusive = true,
                        .created = true,
                        .owner = HS_IOV("<o>x:y</o>"),
                        .principal = HS_IOV_NULL,
                        .timeout = 600,
                        .expires = 1700000600};
    hs_buf_t b = {0};
    is_int(hs__dav_redis_record_make(&b, &l), HS_OK, "a record");
    ok(b.len == strlen("1 I 1 1 600 1700000600 5:a/b c10:<o>x:y</o>-") &&
           !memcmp(b.base, "1 I 1 1 600 1700000600 5:a/b c10:<o>x:y</o>-", b.len),
       "its text (%.*s)", (int)b.len, b.base);
    hs__dav_lock_t g;
    is_int(hs__dav_redis_record_parse(&a, b.base, b.len, HS_IOV("urn:uuid:t"), &g), HS_OK, "read back");
    ok(HS_IOV_EQ(g.root, "a/b c") && g.depth == HS__DAV_LOCK_INFINITY && g.exclusive && g.created &&
           HS_IOV_EQ(g.owner, "<o>x:y</o>") && !g.principal.base && g.timeout == 600 && g.expires == 1700000600 &&
           HS_IOV_EQ(g.token, "urn:uuid:t"),
       "every field as made");
    static const char *const bad[] = {
        "",
        "2 I 1 1 600 1 1:a--",
        "1 X 1 1 600 1 1:a--",
        "1 I 2 1 600 1 1:a--",
        "1 I 1 1 600 1 1:a-",          /* a field missing */
        "1 I 1 1 600 1 1:a---",        /* one too many */
        "1 I 1 1 600 1 5:a--",         /* a length beyond the end */
        "1 I 1 1 99999999999 1 1:a--", /* a timeout beyond 32 bits */
        "1 I 1 1 600 1 -1:a--",
        "1 I 1 1 600 1 -", /* no root */
        "1 I 1 1 x 1 1:a--",
        "1 I 1 1 600 1 999999999:a--",
    };
    for (size_t i = 0; i < HS_ARRAY_SIZE(bad); i++)
        is_int(hs__dav_redis_record_parse(&a, bad[i], strlen(bad[i]), HS_IOV("t"), &g), HS_ERROR,
               "malformed record refused: '%s'", bad[i]);
    b.len = 0;
    char big[70000];
    memset(big, 'o', sizeof(big));
    l.owner = hs_iov(big, sizeof(big));
    is_int(hs__dav_redis_record_make(&b, &l), HS_ERROR, "a record over 64 KiB is refused");
    hs_buf_free(&b);
    hs_arena_reset(&a);
}

static void test_locks(void)
{
    hs_arena_t A;
    hs_arena_init(&A);
    hs__dav_store_t *s = open_store(HS_REDIS_CLOSED, 0, "/srv/one"), *s2 = open_store(HS_REDIS_CLOSED, 0, "/srv/one");
    const int64_t now = 1000000;
    const int INF = HS__DAV_LOCK_INFINITY;
    hs__dav_lock_t l = lk("coll/res", 0, true, 600), c;
    is_int(hs__dav_lock_create(s, &A, &l, now, &c), HS_OK, "exclusive depth-0 lock");
    ok(l.token.len == 45 && !memcmp(l.token.base, "urn:uuid:", 9), "a urn:uuid token (%s)", l.token.base);
    is_int(l.expires, now + 600, "expires");
    hs_iovec_t t1 = l.token;
    hs__dav_lock_t l2 = lk("coll/res", 0, false, 600);
    is_int(hs__dav_lock_create(s2, &A, &l2, now, &c), -EEXIST, "the other instance: shared over exclusive: conflict");
    ok(c.token.len == t1.len && !memcmp(c.token.base, t1.base, t1.len) && HS_IOV_EQ(c.root, "coll/res") &&
           c.exclusive && HS_IOV_EQ(c.owner, "<href xmlns=\"DAV:\">me</href>"),
       "the conflicting lock reported, whole");
    hs__dav_lock_t l3 = lk("coll", INF, true, 600);
    is_int(hs__dav_lock_create(s2, &A, &l3, now, &c), -EEXIST, "depth infinity over a locked member: conflict");
    ok(HS_IOV_EQ(c.root, "coll/res"), "…with the member's lock");
    hs__dav_lock_t l4 = lk("coll", 0, true, 600);
    is_int(hs__dav_lock_create(s2, &A, &l4, now, &c), HS_OK, "depth 0 on the parent is fine");
    hs__dav_lock_t l5 = lk("coll/other", 0, true, 600);
    is_int(hs__dav_lock_create(s, &A, &l5, now, &c), HS_OK, "a sibling");
    hs__dav_lock_t s1 = lk("shared", INF, false, 100), s2l = lk("shared/x", 0, false, 100);
    is_int(hs__dav_lock_create(s, &A, &s1, now, &c), HS_OK, "shared depth infinity");
    is_int(hs__dav_lock_create(s2, &A, &s2l, now, &c), HS_OK, "shared inside it, from the other instance");
    hs__dav_lock_t s3 = lk("shared/x/y", 0, true, 100);
    is_int(hs__dav_lock_create(s, &A, &s3, now, &c), -EEXIST, "exclusive inside a shared depth-infinity lock");
    hs__dav_lock_t s4 = lk("sharedx", 0, true, 100);
    is_int(hs__dav_lock_create(s, &A, &s4, now, &c), HS_OK, "a name that only starts the same is not covered");
    hs__dav_lock_t r1 = lk("", 0, true, 100);
    is_int(hs__dav_lock_create(s, &A, &r1, now, &c), HS_OK, "depth 0 on the root");
    hs__dav_lock_t r2 = lk("", INF, false, 100);
    is_int(hs__dav_lock_create(s, &A, &r2, now, &c), -EEXIST, "depth infinity on the root: conflicts below");

    hs__dav_lock_t *ls;
    size_t n;
    is_int(hs__dav_lock_list(s2, &A, "shared/x/y/z", 0, now, &ls, &n), HS_OK, "list covering");
    ok(n == 1 && HS_IOV_EQ(ls[0].root, "shared"), "only the depth-infinity ancestor covers (%zu)", n);
    is_int(hs__dav_lock_list(s2, &A, "shared/x", 0, now, &ls, &n), HS_OK, "list at a lock root");
    is_int(n, 2, "the ancestor's and its own");
    is_int(hs__dav_lock_list(s2, &A, "coll", INF, now, &ls, &n), HS_OK, "list a subtree");
    is_int(n, 3, "coll, coll/res, coll/other");
    is_int(hs__dav_lock_list(s2, &A, "", 0, now, &ls, &n), HS_OK, "list the root");
    ok(n == 1 && ls[0].root.len == 0, "the root's own lock only");
    is_int(hs__dav_lock_list(s2, &A, "", INF, now, &ls, &n), HS_OK, "list everything");
    is_int(n, 7, "every live lock");

    hs__dav_lock_t g;
    is_int(hs__dav_lock_get(s2, &A, t1.base, now, &g), HS_OK, "get by token through the other instance");
    ok(HS_IOV_EQ(g.root, "coll/res") && g.exclusive && g.depth == 0 && g.timeout == 600 && g.expires == now + 600,
       "the lock as made");
    is_int(hs__dav_lock_refresh(s2, &A, t1.base, 3000, now + 500, &g), HS_OK, "refresh");
    ok(g.expires == now + 3500 && g.timeout == 3000 && HS_IOV_EQ(g.root, "coll/res"), "new expiry, same lock");
    is_int(hs__dav_lock_get(s, &A, t1.base, now + 3000, &g), HS_OK, "seen refreshed by the first instance");
    is_int(hs__dav_lock_get(s, &A, s1.token.base, now + 100, &g), HS_DECLINED, "expired: gone");
    is_int(hs__dav_lock_refresh(s, &A, s1.token.base, 100, now + 100, &g), HS_DECLINED,
           "an expired lock cannot be refreshed");
    hs__dav_lock_t s5 = lk("shared/x/y", 0, true, 100);
    is_int(hs__dav_lock_create(s, &A, &s5, now + 100, &c), HS_OK, "after expiry the exclusive lock is granted");
    is_int(hs__dav_lock_remove(s2, t1.base), HS_OK, "remove through the other instance");
    is_int(hs__dav_lock_remove(s, t1.base), HS_DECLINED, "remove again");
    is_int(hs__dav_lock_get(s, &A, "urn:uuid:nope", now, &g), HS_DECLINED, "unknown token");
    is_int(hs__dav_lock_delete(s, "coll", true), HS_OK, "delete the subtree's locks");
    is_int(hs__dav_lock_list(s2, &A, "coll", INF, now, &ls, &n), HS_OK, "list");
    is_int(n, 0, "none left under coll");

    /* another tree: another namespace */
    hs__dav_store_t *o = open_store(HS_REDIS_CLOSED, 0, "/srv/two");
    hs__dav_lock_t ot = lk("shared/x/y", 0, true, 100);
    is_int(hs__dav_lock_create(o, &A, &ot, now + 100, &c), HS_OK, "the same path in another tree: no conflict");

    /* dead properties stay in SQLite */
    hs__dav_propop_t op = {.name = {HS_IOV("urn:x"), HS_IOV("p")}, .value = HS_IOV("v"), .lang = HS_IOV_NULL};
    is_int(hs__dav_prop_patch(s, "coll", &op, 1), HS_OK, "a dead property");
    hs__dav_prop_t p;
    is_int(hs__dav_prop_get(s, &A, "coll", &op.name, &p), HS_OK, "read back");
    is_int(hs__dav_prop_get(s2, &A, "coll", &op.name, &p), HS_DECLINED,
           "not in the other instance's database: properties are not in Redis");

    /* the count limit */
    hs__dav_store_t *t = open_store(HS_REDIS_CLOSED, 3, "/srv/many");
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
    char big[70000];
    memset(big, 'o', sizeof(big));
    hs__dav_lock_t huge = lk("big", 0, true, 100);
    huge.owner = hs_iov(big, sizeof(big));
    is_int(hs__dav_lock_create(t, &A, &huge, now, &c), -ENOSPC, "an owner over 64 KiB: -ENOSPC (507)");

    hs__dav_store_close(t);
    hs__dav_store_close(o);
    hs__dav_store_close(s);
    hs__dav_store_close(s2);
    hs_arena_reset(&A);
}

/* ---- two instances, four threads each, racing for one exclusive lock ---- */
#define ROUNDS 40
static hs__dav_store_t *racers[2];
static pthread_barrier_t barrier;
static _Atomic int wins[ROUNDS], errors;

static void *racer(void *p)
{
    hs__dav_store_t *s = racers[(intptr_t)p % 2];
    hs_arena_t a;
    hs_arena_init(&a);
    for (int r = 0; r < ROUNDS; r++) {
        char root[32];
        snprintf(root, sizeof(root), "race/%d", r);
        hs__dav_lock_t l = lk(root, r % 2 ? HS__DAV_LOCK_INFINITY : 0, true, 60), c;
        pthread_barrier_wait(&barrier);
        int rc = hs__dav_lock_create(s, &a, &l, 2000000, &c);
        if (rc == HS_OK)
            atomic_fetch_add(&wins[r], 1);
        else if (rc != -EEXIST)
            atomic_fetch_add(&errors, 1);
        hs_arena_reset(&a);
    }
    return NULL;
}

static void test_race(void)
{
    racers[0] = open_store(HS_REDIS_CLOSED, 0, "/srv/race");
    racers[1] = open_store(HS_REDIS_CLOSED, 0, "/srv/race");
    pthread_barrier_init(&barrier, NULL, 8);
    pthread_t th[8];
    for (intptr_t i = 0; i < 8; i++)
        pthread_create(&th[i], NULL, racer, (void *)i);
    for (int i = 0; i < 8; i++)
        pthread_join(th[i], NULL);
    int exact = 0;
    for (int r = 0; r < ROUNDS; r++)
        exact += wins[r] == 1;
    is_int(exact, ROUNDS, "8 threads of 2 instances racing for a lock, %d rounds: exactly one wins each", ROUNDS);
    is_int(errors, 0, "the others get -EEXIST");
    pthread_barrier_destroy(&barrier);
    hs__dav_store_close(racers[0]);
    hs__dav_store_close(racers[1]);
}

static void test_failures(void)
{
    hs_arena_t A;
    hs_arena_init(&A);
    hs__dav_store_t *closed = open_store(HS_REDIS_CLOSED, 0, "/srv/f"), *open = open_store(HS_REDIS_OPEN, 0, "/srv/f");
    hs__dav_lock_t l = lk("doc", 0, true, 600), c, g;
    is_int(hs__dav_lock_create(closed, &A, &l, 3000000, &c), HS_OK, "a lock in Redis");
    hs_iovec_t tok = l.token;
    hs_redis_stats_t st = {0};
    hs__redis_stats_add(hs__store_lock_counters(), &st);
    ok(st.answered > 0 && st.up, "counted: %llu answered", (unsigned long long)st.answered);

    redis_srv_kill(&R);
    hs__dav_lock_t *ls;
    size_t n;
    hs__dav_lock_t l2 = lk("other", 0, true, 600);
    is_int(hs__dav_lock_create(closed, &A, &l2, 3000000, &c), -EBUSY, "closed, Redis gone: -EBUSY (503)");
    is_int(hs__dav_lock_list(closed, &A, "doc", 0, 3000000, &ls, &n), -EBUSY, "…for the lock check of a write too");
    uint64_t t = hs__redis_now_us();
    is_int(hs__dav_lock_get(closed, &A, tok.base, 3000000, &g), -EBUSY, "…and at once during the back-off");
    ok(hs__redis_now_us() - t < 20000, "(no wait)");
    usleep(250000); /* past the back-off: the open store tries, fails, falls back */
    hs__dav_lock_t l3 = lk("doc", 0, true, 600);
    is_int(hs__dav_lock_create(open, &A, &l3, 3000000, &c), HS_OK,
           "open, Redis gone: granted from this instance's SQLite (it cannot see the Redis lock)");
    is_int(hs__dav_lock_get(open, &A, l3.token.base, 3000000, &g), HS_OK, "…and found there");
    hs__redis_stats_add(hs__store_lock_counters(), &st);
    ok(st.refused >= 3 && st.fallbacks >= 2 && st.outages >= 1, "counted: refused, fallbacks, an outage");

    redis_srv_restart(&R);
    int rc = -1;
    for (long long end = redis_srv_ms() + 4000; redis_srv_ms() < end && rc != -EEXIST; usleep(50000)) {
        hs__dav_lock_t again = lk("doc", 0, true, 600);
        rc = hs__dav_lock_create(closed, &A, &again, 3000000, &c);
    }
    is_int(rc, -EEXIST, "Redis back (empty: it kept nothing): the first lock is gone, then a new one conflicts");
    hs__dav_store_close(closed);
    hs__dav_store_close(open);
    hs_arena_reset(&A);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    test_records();
    snprintf(dir, sizeof(dir), "/tmp/statusd-davr-XXXXXX");
    if (!mkdtemp(dir) || redis_srv_start(&R) != 0) {
        ok(0, "redis-server could not be started (apt-get install redis-server)");
        return tap_done();
    }
    test_locks();
    test_race();
    test_failures();
    redis_srv_stop(&R);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", dir);
    return tap_done();
}
