/* statusd — WebDAV locks in Redis, for a tree served by several instances (see store.h).
 *
 * What lives where. Lock records live in Redis, so that a LOCK through one instance makes a PUT
 * through another answer 423 and an UNLOCK through a third frees it. Dead properties and
 * tombstones stay in the tree's SQLite database (the wrapped store): they describe the files, and
 * instances that share the files (one host, or a shared file system) share the database with
 * them; instances on hosts with their own copies keep their own — docs/scale-out.md says so.
 *
 * Layout, per tree (a namespace made from the tree's real path: instances serving the same path
 * share it):
 *     PREFIX dav:TREE:l:TOKEN   the lock record, SET NX PX: it disappears a second after it
 *                               expires even if nobody looks again
 *     PREFIX dav:TREE:idx       a sorted set of ROOT \0 TOKEN, all scored 0 and so ordered
 *                               bytewise: the locks rooted at a path are the range [p\0, p\1),
 *                               those below it [p/, p0) — what lockdiscovery, the If header and
 *                               the conflict check need (ancestors with depth infinity, the
 *                               resource, its members)
 * A record is "1 D X C TIMEOUT EXPIRES" then the root, the owner and the principal, each as
 * "LENGTH:BYTES" ("-" for none): fields a script can read without a JSON library, bytes as they
 * are. An index entry whose record is gone or expired is dropped by whichever script meets it.
 *
 * Atomicity. Each operation is one Lua script: creating a lock checks every lock that covers its
 * root (and, for depth infinity, every lock below it) and writes the new one in the same step, so
 * that two instances can never both be granted conflicting locks (RFC 4918 §6.1). Expiry is
 * decided by the callers' wall clocks (whole seconds, as the SQLite store decides it): hosts kept
 * by NTP agree to the millisecond.
 *
 * Cost and failures. An operation is a synchronous round trip (the store's interface is
 * synchronous; the pool bounds it by store.timeout, 50 ms by default, and fails at once during a
 * back-off). When Redis does not answer: on_failure closed returns -EBUSY (the methods answer 503
 * with Retry-After); open falls back to the tree's SQLite locks, which this instance alone sees,
 * and the outage is logged once. Locks granted meanwhile stay in SQLite: they are not seen by the
 * other instances, nor by this one once Redis is back.
 *
 * Removals that could not reach Redis. DELETE and MOVE take a resource's locks away with it (RFC
 * 4918 §7.7, §9.9.1), after the file system has changed, which cannot be undone. When Redis does
 * not answer then (it dropped between the lock check and the job, or, with on_failure open, the
 * check itself used SQLite), the removal is queued in this store and applied before any later
 * operation reaches Redis: an operation whose queued removals do not get through fails as if Redis
 * had not answered (503 or SQLite), so no one is answered from a Redis that still holds the locks
 * of resources that are gone (a PUT at that path would get 423 from a lock nobody can see). The
 * queue is bounded (PENDING_MAX bytes); what does not fit, or is still queued when the store
 * closes, is logged, and those locks disappear when they expire. Another instance sharing the
 * Redis sees them until this one has applied its queue; a lock granted at such a path after the
 * deletion (by then another instance may have) is not removed: a deferred removal takes only
 * locks granted or last refreshed before the second it was asked for. */
#define _GNU_SOURCE
#include "store.h"

#include "../../store/redis.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define RECORD_MAX (64u << 10) /* a lock record: the owner element is a client's XML */
#define LIST_MAX (4u << 20)    /* bytes of records one list may return */
#define PENDING_MAX (1u << 20) /* bytes of queued lock removals (see rd_store_t.pend) */
#define PENDING_HEAD (1 + sizeof(int64_t))

/* ---- scripts: KEYS[1] the index; ARGV[1] the record prefix, ARGV[2] now (seconds) ---- */
#define PRELUDE                                                                                                        \
    "local idx, ns, now = KEYS[1], ARGV[1], tonumber(ARGV[2])\n"                                                       \
    "local function parse(r)\n"                                                                                        \
    "  local d, x, e, rl, p = string.match(r, '^1 ([0I]) ([01]) [01] %d+ (%d+) (%d+):()')\n"                           \
    "  if not d then return nil end\n"                                                                                 \
    "  return {inf = d == 'I', excl = x == '1', exp = tonumber(e), root = string.sub(r, p, p + tonumber(rl) - 1)}\n"   \
    "end\n"                                                                                                            \
    "local function live(m)\n"                                                                                         \
    "  local z = string.find(m, '\\0', 1, true)\n"                                                                     \
    "  if not z then redis.call('ZREM', idx, m); return nil end\n"                                                     \
    "  local tok = string.sub(m, z + 1)\n"                                                                             \
    "  local r = redis.call('GET', ns .. tok)\n"                                                                       \
    "  local l = r and parse(r)\n"                                                                                     \
    "  if l and l.exp > now then l.tok = tok; l.rec = r; return l end\n"                                               \
    "  redis.call('ZREM', idx, m)\n"                                                                                   \
    "  if r then redis.call('DEL', ns .. tok) end\n"                                                                   \
    "  return nil\n"                                                                                                   \
    "end\n"                                                                                                            \
    "local function at(p) return redis.call('ZRANGEBYLEX', idx, '[' .. p .. '\\0', '(' .. p .. '\\1') end\n"           \
    "local function below(p)\n"                                                                                        \
    "  if p == '' then return redis.call('ZRANGEBYLEX', idx, '[\\1', '+') end\n"                                       \
    "  return redis.call('ZRANGEBYLEX', idx, '[' .. p .. '/', '(' .. p .. '0')\n"                                      \
    "end\n"                                                                                                            \
    "local function covering(rel, deep)\n"                                                                             \
    "  local out, prefixes = {}, {}\n"                                                                                 \
    "  if rel ~= '' then\n"                                                                                            \
    "    table.insert(prefixes, '')\n"                                                                                 \
    "    local i = 1\n"                                                                                                \
    "    while true do\n"                                                                                              \
    "      local j = string.find(rel, '/', i, true)\n"                                                                 \
    "      if not j then break end\n"                                                                                  \
    "      table.insert(prefixes, string.sub(rel, 1, j - 1))\n"                                                        \
    "      i = j + 1\n"                                                                                                \
    "    end\n"                                                                                                        \
    "  end\n"                                                                                                          \
    "  table.insert(prefixes, rel)\n"                                                                                  \
    "  for _, p in ipairs(prefixes) do\n"                                                                              \
    "    for _, m in ipairs(at(p)) do\n"                                                                               \
    "      local l = live(m)\n"                                                                                        \
    "      if l and (p == rel or l.inf) then table.insert(out, l) end\n"                                               \
    "    end\n"                                                                                                        \
    "  end\n"                                                                                                          \
    "  if deep then\n"                                                                                                 \
    "    for _, m in ipairs(below(rel)) do\n"                                                                          \
    "      local l = live(m)\n"                                                                                        \
    "      if l then table.insert(out, l) end\n"                                                                       \
    "    end\n"                                                                                                        \
    "  end\n"                                                                                                          \
    "  return out\n"                                                                                                   \
    "end\n"

/* ARGV[3] root, [4] depth infinity 1/0, [5] exclusive 1/0, [6] token, [7] record, [8] PX, [9] max
 * locks. {1} granted, {0, token, record} a conflicting lock, {2} too many locks, {3} token taken. */
static hs__redis_script_t create_script = {
    .name = "dav-lock-create",
    .body = PRELUDE "local root, excl = ARGV[3], ARGV[5] == '1'\n"
                    "for _, l in ipairs(covering(root, ARGV[4] == '1')) do\n"
                    "  if l.excl or excl then return {0, l.tok, l.rec} end\n"
                    "end\n"
                    "if redis.call('ZCARD', idx) >= tonumber(ARGV[9]) then\n"
                    "  for _, m in ipairs(redis.call('ZRANGE', idx, 0, -1)) do live(m) end\n"
                    "  if redis.call('ZCARD', idx) >= tonumber(ARGV[9]) then return {2} end\n"
                    "end\n"
                    "if not redis.call('SET', ns .. ARGV[6], ARGV[7], 'NX', 'PX', ARGV[8]) then return {3} end\n"
                    "redis.call('ZADD', idx, 0, root .. '\\0' .. ARGV[6])\n"
                    "return {1}\n",
};

/* ARGV[3] token, [4] timeout, [5] expires, [6] PX. {1, record} refreshed, {0} no live lock. */
static hs__redis_script_t refresh_script = {
    .name = "dav-lock-refresh",
    .body = PRELUDE "local r = redis.call('GET', ns .. ARGV[3])\n"
                    "local l = r and parse(r)\n"
                    "if not l or l.exp <= now then return {0} end\n"
                    "local d, x, c, p = string.match(r, '^1 ([0I]) ([01]) ([01]) %d+ %d+ ()')\n"
                    "local nr = '1 ' .. d .. ' ' .. x .. ' ' .. c .. ' ' .. ARGV[4] .. ' ' .. ARGV[5] .. ' ' .. "
                    "string.sub(r, p)\n"
                    "redis.call('SET', ns .. ARGV[3], nr, 'XX', 'PX', ARGV[6])\n"
                    "return {1, nr}\n",
};

/* ARGV[3] token. {1} removed, {0} no such lock. */
static hs__redis_script_t remove_script = {
    .name = "dav-lock-remove",
    .body = PRELUDE "local r = redis.call('GET', ns .. ARGV[3])\n"
                    "if not r then return {0} end\n"
                    "local l = parse(r)\n"
                    "redis.call('DEL', ns .. ARGV[3])\n"
                    "if l then redis.call('ZREM', idx, l.root .. '\\0' .. ARGV[3]) end\n"
                    "return {1}\n",
};

/* ARGV[3] rel, [4] deep 1/0, [5] most bytes. {1, token, record, …}, or {2}: more than that. */
static hs__redis_script_t list_script = {
    .name = "dav-lock-list",
    .body = PRELUDE "local out, bytes = {1}, 0\n"
                    "for _, l in ipairs(covering(ARGV[3], ARGV[4] == '1')) do\n"
                    "  bytes = bytes + #l.rec + #l.tok\n"
                    "  if bytes > tonumber(ARGV[5]) then return {2} end\n"
                    "  table.insert(out, l.tok)\n"
                    "  table.insert(out, l.rec)\n"
                    "end\n"
                    "return out\n",
};

/* ARGV[3] rel, [4] subtree 1/0, [5] before: 0, or only the locks granted or last refreshed
 * (EXPIRES - TIMEOUT) before that second are removed — a deferred removal must not take a lock
 * granted after the deletion it follows. {1}. */
static hs__redis_script_t delete_script = {
    .name = "dav-lock-delete",
    .body = PRELUDE "local before = tonumber(ARGV[5])\n"
                    "local ms = at(ARGV[3])\n"
                    "if ARGV[4] == '1' then for _, m in ipairs(below(ARGV[3])) do table.insert(ms, m) end end\n"
                    "for _, m in ipairs(ms) do\n"
                    "  local z = string.find(m, '\\0', 1, true)\n"
                    "  local keep = false\n"
                    "  if z and before > 0 then\n"
                    "    local r = redis.call('GET', ns .. string.sub(m, z + 1))\n"
                    "    local t, e\n"
                    "    if r then t, e = string.match(r, '^1 [0I] [01] [01] (%d+) (%d+) ') end\n"
                    "    keep = t ~= nil and tonumber(e) - tonumber(t) >= before\n"
                    "  end\n"
                    "  if not keep then\n"
                    "    if z then redis.call('DEL', ns .. string.sub(m, z + 1)) end\n"
                    "    redis.call('ZREM', idx, m)\n"
                    "  end\n"
                    "end\n"
                    "return {1}\n",
};

typedef struct rd_store_s {
    hs__dav_store_t base;
    hs__dav_store_t *inner; /* SQLite: properties, tombstones; locks while Redis fails (open) */
    hs__redis_pool_t *pool;
    hs__redis_counters_t *st;
    hs_redis_failure_t failure;
    size_t max_locks;
    char *idx, *ns; /* KEYS[1], ARGV[1] */
    /* lock removals Redis did not get (see the top): entries "S" or "R" (subtree or resource),
     * the second it was asked (int64_t, as bytes), the key, NUL; under pend_mu, which is held
     * while they are applied */
    pthread_mutex_t pend_mu;
    hs_buf_t pend;
    atomic_size_t npend; /* entries in pend: read without the mutex on every operation */
    bool pend_full_logged;
} rd_store_t;

/* ---- records ---- */

static void put_field(hs_buf_t *b, hs_iovec_t v)
{
    if (!v.base) {
        HS_BUF_LIT(b, "-");
        return;
    }
    hs_buf_printf(b, "%zu:", v.len);
    hs_buf_append(b, v.base, v.len);
}

int hs__dav_redis_record_make(hs_buf_t *b, const hs__dav_lock_t *l)
{
    hs_buf_printf(b, "1 %c %d %d %u %lld ", l->depth == HS__DAV_LOCK_INFINITY ? 'I' : '0', l->exclusive ? 1 : 0,
                  l->created ? 1 : 0, l->timeout, (long long)l->expires);
    put_field(b, hs_iov(l->root.base ? l->root.base : "", l->root.len));
    put_field(b, l->owner);
    put_field(b, l->principal);
    return b->len > RECORD_MAX ? HS_ERROR : HS_OK;
}

/* A decimal number of at most `max_digits` digits, without leading zeros, at *p (advanced),
 * then `end`: one spelling per value, so that a record reads back as it was made. */
static bool number(const char **p, const char *e, char end, int max_digits, uint64_t *out)
{
    const char *s = *p;
    if (s + 1 < e && s[0] == '0' && s[1] >= '0' && s[1] <= '9')
        return false;
    uint64_t v = 0;
    int n = 0;
    while (s < e && *s >= '0' && *s <= '9' && n < max_digits) {
        v = v * 10 + (uint64_t)(*s - '0');
        s++;
        n++;
    }
    if (!n || s >= e || *s != end)
        return false;
    *p = s + 1;
    *out = v;
    return true;
}

static bool field(hs_arena_t *a, const char **p, const char *e, bool nullable, hs_iovec_t *out)
{
    if (*p < e && **p == '-' && nullable) {
        (*p)++;
        *out = HS_IOV_NULL;
        return true;
    }
    uint64_t n;
    if (!number(p, e, ':', 8, &n) || n > (uint64_t)(e - *p))
        return false;
    *out = hs_iov(hs_arena_strndup(a, *p, (size_t)n), (size_t)n);
    *p += n;
    return true;
}

int hs__dav_redis_record_parse(hs_arena_t *a, const char *rec, size_t n, hs_iovec_t token, hs__dav_lock_t *out)
{
    const char *p = rec, *e = rec + n;
    if (n < 12 || memcmp(p, "1 ", 2) != 0)
        return HS_ERROR;
    p += 2;
    if ((p[0] != '0' && p[0] != 'I') || p[1] != ' ' || (p[2] != '0' && p[2] != '1') || p[3] != ' ' ||
        (p[4] != '0' && p[4] != '1') || p[5] != ' ')
        return HS_ERROR;
    hs__dav_lock_t l = {
        .depth = p[0] == 'I' ? HS__DAV_LOCK_INFINITY : 0, .exclusive = p[2] == '1', .created = p[4] == '1'};
    p += 6;
    uint64_t timeout, expires;
    if (!number(&p, e, ' ', 10, &timeout) || timeout > UINT32_MAX || !number(&p, e, ' ', 18, &expires))
        return HS_ERROR;
    l.timeout = (uint32_t)timeout;
    l.expires = (int64_t)expires;
    if (!field(a, &p, e, false, &l.root) || !field(a, &p, e, true, &l.owner) || !field(a, &p, e, true, &l.principal) ||
        p != e)
        return HS_ERROR;
    if (memchr(l.root.base, '\0', l.root.len))
        return HS_ERROR; /* a key never holds one */
    l.token = hs_iov(hs_arena_strndup(a, token.base ? token.base : "", token.len), token.len);
    *out = l;
    return HS_OK;
}

/* ---- calls ---- */

/* Redis could not answer: closed → -EBUSY (503), open → -EAGAIN, the caller asks SQLite. */
_Thread_local bool hs__dav_redis_refused;

static int failed(rd_store_t *s, int r)
{
    HS_UNUSED(r);
    if (s->failure == HS_REDIS_CLOSED) {
        HS__STAT_ADD(s->st, refused, 1);
        hs__dav_redis_refused = true;
        return -EBUSY;
    }
    HS__STAT_ADD(s->st, fallbacks, 1);
    return -EAGAIN;
}

/* A script with KEYS[1] the index and ARGV the record prefix, now, then args. HS_OK with an array
 * reply whose first element is an integer (*code), or failed()'s answer. */
static int call(rd_store_t *s, hs__redis_script_t *sc, int64_t now, int nargs, const hs_iovec_t *args, redisReply **out,
                long long *code)
{
    hs_iovec_t all[12];
    char nowbuf[24];
    all[0] = hs_iov_cstr(s->idx);
    all[1] = hs_iov_cstr(s->ns);
    all[2] = hs_iov(nowbuf, (size_t)snprintf(nowbuf, sizeof(nowbuf), "%lld", (long long)now));
    for (int i = 0; i < nargs && i < 9; i++)
        all[3 + i] = args[i];
    HS__STAT_ADD(s->st, ops, 1);
    redisReply *r = NULL;
    int rc = hs__redis_pool_eval(s->pool, sc, 1, 3 + nargs, all, &r);
    if (rc != HS_OK)
        return failed(s, rc);
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 || r->element[0]->type != REDIS_REPLY_INTEGER) {
        if (r->type == REDIS_REPLY_ERROR) {
            HS__STAT_ADD(s->st, script_errors, 1);
            hs_log_warn("WebDAV locks: the Redis script %s failed: %.200s", sc->name, r->str ? r->str : "");
        } else {
            HS__STAT_ADD(s->st, bad_replies, 1);
        }
        freeReplyObject(r);
        return failed(s, -EPROTO);
    }
    *code = r->element[0]->integer;
    *out = r;
    return HS_OK;
}

/* ---- lock removals that did not reach Redis ---- */

static void pending_add(rd_store_t *s, const char *rel, bool subtree)
{
    size_t n = strlen(rel);
    int64_t asked = (int64_t)time(NULL); /* the wall clock, as lock expiry uses */
    pthread_mutex_lock(&s->pend_mu);
    if (s->pend.len + PENDING_HEAD + n + 1 > PENDING_MAX) {
        if (!s->pend_full_logged)
            hs_log_warn("WebDAV locks: more lock removals wait for Redis than fit (%u bytes); the locks of '%s' "
                        "and later deletions stay in Redis until they expire",
                        PENDING_MAX, rel);
        s->pend_full_logged = true;
        pthread_mutex_unlock(&s->pend_mu);
        return;
    }
    if (s->pend.len == 0)
        hs_log_warn("WebDAV locks: the locks of '%s', deleted or moved away, could not be removed from Redis; the "
                    "removal is applied before the next lock operation that reaches it",
                    rel);
    hs_buf_append(&s->pend, subtree ? "S" : "R", 1);
    hs_buf_append(&s->pend, &asked, sizeof(asked));
    hs_buf_append(&s->pend, rel, n + 1);
    atomic_fetch_add(&s->npend, 1);
    pthread_mutex_unlock(&s->pend_mu);
}

/* Apply the queued removals in order. HS_OK when none is left; otherwise failed()'s answer for
 * the one that did not get through (it and those after it stay queued). */
static int pending_apply(rd_store_t *s)
{
    if (atomic_load_explicit(&s->npend, memory_order_acquire) == 0)
        return HS_OK; /* the common case: one load */
    pthread_mutex_lock(&s->pend_mu);
    int rc = HS_OK;
    size_t off = 0, done = 0;
    while (off < s->pend.len) {
        const char *e = s->pend.base + off, *key = e + PENDING_HEAD;
        int64_t asked;
        memcpy(&asked, e + 1, sizeof(asked));
        char before[24];
        hs_iovec_t args[3] = {hs_iov_cstr(key), e[0] == 'S' ? HS_IOV("1") : HS_IOV("0"),
                              hs_iov(before, (size_t)snprintf(before, sizeof(before), "%lld", (long long)asked))};
        redisReply *r = NULL;
        long long code;
        if ((rc = call(s, &delete_script, 0, 3, args, &r, &code)) != HS_OK)
            break;
        freeReplyObject(r);
        off += PENDING_HEAD + strlen(key) + 1;
        done++;
    }
    if (off) {
        memmove(s->pend.base, s->pend.base + off, s->pend.len - off);
        s->pend.len -= off;
        atomic_fetch_sub(&s->npend, done);
    }
    if (s->pend.len == 0 && done) {
        hs_log_info("WebDAV locks: %zu deferred lock removal%s applied in Redis", done, done == 1 ? "" : "s");
        s->pend_full_logged = false;
    }
    pthread_mutex_unlock(&s->pend_mu);
    return rc;
}

/* Every operation: the queued removals first, then the script. */
static int eval(rd_store_t *s, hs__redis_script_t *sc, int64_t now, int nargs, const hs_iovec_t *args, redisReply **out,
                long long *code)
{
    int rc = pending_apply(s);
    return rc != HS_OK ? rc : call(s, sc, now, nargs, args, out, code);
}

static int bad_reply(rd_store_t *s, redisReply *r)
{
    HS__STAT_ADD(s->st, bad_replies, 1);
    if (r)
        freeReplyObject(r);
    return failed(s, -EPROTO);
}

static int rd_lock_create(hs__dav_store_t *bs, hs_arena_t *a, hs__dav_lock_t *l, int64_t now, hs__dav_lock_t *conflict)
{
    rd_store_t *s = (rd_store_t *)bs;
    hs_iovec_t token = hs__dav_new_lock_token(a);
    hs__dav_lock_t nl = *l;
    nl.expires = now + (int64_t)l->timeout;
    hs_buf_t rec = {0};
    if (hs__dav_redis_record_make(&rec, &nl) != HS_OK) {
        hs_buf_free(&rec);
        return -ENOSPC; /* an owner of more than 64 KiB (RFC 4918 §9.10.6: 507 is ours to give) */
    }
    char px[24];
    hs_iovec_t args[7] = {
        hs_iov(l->root.base ? l->root.base : "", l->root.len),
        l->depth == HS__DAV_LOCK_INFINITY ? HS_IOV("1") : HS_IOV("0"),
        l->exclusive ? HS_IOV("1") : HS_IOV("0"),
        token,
        hs_iov(rec.base, rec.len),
        hs_iov(px, (size_t)snprintf(px, sizeof(px), "%llu", (unsigned long long)l->timeout * 1000 + 1000)),
        hs_iov_cstr(hs_arena_printf(a, "%zu", s->max_locks).base),
    };
    redisReply *r = NULL;
    long long code;
    int rc = eval(s, &create_script, now, 7, args, &r, &code);
    hs_buf_free(&rec);
    if (rc == -EAGAIN)
        return hs__dav_lock_create(s->inner, a, l, now, conflict);
    if (rc != HS_OK)
        return rc;
    if (code == 1) {
        freeReplyObject(r);
        l->token = token;
        l->expires = nl.expires;
        return HS_OK;
    }
    if (code == 0 && r->elements == 3 && r->element[1]->type == REDIS_REPLY_STRING &&
        r->element[2]->type == REDIS_REPLY_STRING) {
        hs__dav_lock_t c;
        if (hs__dav_redis_record_parse(a, r->element[2]->str, r->element[2]->len,
                                       hs_iov(r->element[1]->str, r->element[1]->len), &c) != HS_OK)
            return bad_reply(s, r);
        freeReplyObject(r);
        if (conflict)
            *conflict = c;
        return -EEXIST;
    }
    if (code == 2) {
        freeReplyObject(r);
        return -ENOSPC;
    }
    return bad_reply(s, r);
}

static int rd_lock_get(hs__dav_store_t *bs, hs_arena_t *a, const char *token, int64_t now, hs__dav_lock_t *out)
{
    rd_store_t *s = (rd_store_t *)bs;
    hs_iovec_t argv[2] = {HS_IOV("GET"), hs_arena_printf(a, "%s%s", s->ns, token)};
    redisReply *r = NULL;
    HS__STAT_ADD(s->st, ops, 1);
    int rc = hs__redis_pool_command(s->pool, 2, argv, &r);
    if (rc != HS_OK) {
        rc = failed(s, rc);
        return rc == -EAGAIN ? hs__dav_lock_get(s->inner, a, token, now, out) : rc;
    }
    if (r->type == REDIS_REPLY_NIL) {
        freeReplyObject(r);
        return HS_DECLINED;
    }
    hs__dav_lock_t l;
    if (r->type != REDIS_REPLY_STRING || hs__dav_redis_record_parse(a, r->str, r->len, hs_iov_cstr(token), &l)) {
        rc = bad_reply(s, r);
        return rc == -EAGAIN ? hs__dav_lock_get(s->inner, a, token, now, out) : rc;
    }
    freeReplyObject(r);
    if (l.expires <= now)
        return HS_DECLINED;
    *out = l;
    return HS_OK;
}

static int rd_lock_refresh(hs__dav_store_t *bs, hs_arena_t *a, const char *token, uint32_t timeout, int64_t now,
                           hs__dav_lock_t *out)
{
    rd_store_t *s = (rd_store_t *)bs;
    hs_iovec_t args[4] = {hs_iov_cstr(token), hs_arena_printf(a, "%u", timeout),
                          hs_arena_printf(a, "%lld", (long long)(now + (int64_t)timeout)),
                          hs_arena_printf(a, "%llu", (unsigned long long)timeout * 1000 + 1000)};
    redisReply *r = NULL;
    long long code;
    int rc = eval(s, &refresh_script, now, 4, args, &r, &code);
    if (rc == -EAGAIN)
        return hs__dav_lock_refresh(s->inner, a, token, timeout, now, out);
    if (rc != HS_OK)
        return rc;
    if (code == 0) {
        freeReplyObject(r);
        return HS_DECLINED;
    }
    hs__dav_lock_t l;
    if (code != 1 || r->elements != 2 || r->element[1]->type != REDIS_REPLY_STRING ||
        hs__dav_redis_record_parse(a, r->element[1]->str, r->element[1]->len, hs_iov_cstr(token), &l) != HS_OK) {
        rc = bad_reply(s, r);
        return rc == -EAGAIN ? hs__dav_lock_refresh(s->inner, a, token, timeout, now, out) : rc;
    }
    freeReplyObject(r);
    *out = l;
    return HS_OK;
}

static int rd_lock_remove(hs__dav_store_t *bs, const char *token)
{
    rd_store_t *s = (rd_store_t *)bs;
    hs_iovec_t args[1] = {hs_iov_cstr(token)};
    redisReply *r = NULL;
    long long code;
    int rc = eval(s, &remove_script, 0, 1, args, &r, &code);
    if (rc == -EAGAIN)
        return hs__dav_lock_remove(s->inner, token);
    if (rc != HS_OK)
        return rc;
    freeReplyObject(r);
    return code == 1 ? HS_OK : HS_DECLINED;
}

static int rd_lock_list(hs__dav_store_t *bs, hs_arena_t *a, const char *rel, int depth, int64_t now,
                        hs__dav_lock_t **out, size_t *n)
{
    rd_store_t *s = (rd_store_t *)bs;
    *out = NULL;
    *n = 0;
    char maxb[16];
    hs_iovec_t args[3] = {hs_iov_cstr(rel), depth == HS__DAV_LOCK_INFINITY ? HS_IOV("1") : HS_IOV("0"),
                          hs_iov(maxb, (size_t)snprintf(maxb, sizeof(maxb), "%u", LIST_MAX))};
    redisReply *r = NULL;
    long long code;
    int rc = eval(s, &list_script, now, 3, args, &r, &code);
    if (rc == -EAGAIN)
        return hs__dav_lock_list(s->inner, a, rel, depth, now, out, n);
    if (rc != HS_OK)
        return rc;
    if (code == 2) {
        freeReplyObject(r);
        return -EIO; /* more than LIST_MAX bytes of locks on one path: refuse rather than guess */
    }
    if (code != 1 || r->elements % 2 != 1)
        return bad_reply(s, r);
    size_t k = (r->elements - 1) / 2;
    hs__dav_lock_t *ls = k ? hs_arena_alloc(a, k * sizeof(*ls)) : NULL;
    for (size_t i = 0; i < k; i++) {
        const redisReply *t = r->element[1 + 2 * i], *v = r->element[2 + 2 * i];
        if (t->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING ||
            hs__dav_redis_record_parse(a, v->str, v->len, hs_iov(t->str, t->len), &ls[i]) != HS_OK) {
            rc = bad_reply(s, r);
            return rc == -EAGAIN ? hs__dav_lock_list(s->inner, a, rel, depth, now, out, n) : rc;
        }
    }
    freeReplyObject(r);
    *out = ls;
    *n = k;
    return HS_OK;
}

static int rd_lock_delete(hs__dav_store_t *bs, const char *rel, bool subtree)
{
    rd_store_t *s = (rd_store_t *)bs;
    hs_iovec_t args[3] = {hs_iov_cstr(rel), subtree ? HS_IOV("1") : HS_IOV("0"), HS_IOV("0")};
    redisReply *r = NULL;
    long long code;
    int rc = eval(s, &delete_script, 0, 3, args, &r, &code);
    if (rc != HS_OK) {
        /* the resource is already gone: its Redis locks must follow, later (see the top) */
        pending_add(s, rel, subtree);
        if (rc == -EAGAIN)
            return hs__dav_lock_delete(s->inner, rel, subtree);
        return rc;
    }
    freeReplyObject(r);
    /* locks a fallback period left in SQLite go with the resource too */
    hs__dav_lock_delete(s->inner, rel, subtree);
    return HS_OK;
}

/* ---- what stays in SQLite ---- */

static int rd_prop_get(hs__dav_store_t *bs, hs_arena_t *a, const char *rel, const hs__dav_qname_t *q,
                       hs__dav_prop_t *out)
{
    return hs__dav_prop_get(((rd_store_t *)bs)->inner, a, rel, q, out);
}
static int rd_prop_list(hs__dav_store_t *bs, hs_arena_t *a, const char *rel, hs__dav_prop_t **out, size_t *n)
{
    return hs__dav_prop_list(((rd_store_t *)bs)->inner, a, rel, out, n);
}
static int rd_prop_patch(hs__dav_store_t *bs, const char *rel, const hs__dav_propop_t *ops, size_t n)
{
    return hs__dav_prop_patch(((rd_store_t *)bs)->inner, rel, ops, n);
}
static int rd_prop_copy(hs__dav_store_t *bs, const char *src, const char *dst, bool subtree)
{
    return hs__dav_prop_copy(((rd_store_t *)bs)->inner, src, dst, subtree);
}
static int rd_prop_move(hs__dav_store_t *bs, const char *src, const char *dst)
{
    return hs__dav_prop_move(((rd_store_t *)bs)->inner, src, dst);
}
static int rd_prop_delete(hs__dav_store_t *bs, const char *rel, bool subtree)
{
    return hs__dav_prop_delete(((rd_store_t *)bs)->inner, rel, subtree);
}
static int rd_tomb_add(hs__dav_store_t *bs, const char *rel, bool subtree, int64_t expires, int64_t now)
{
    return hs__dav_tomb_add(((rd_store_t *)bs)->inner, rel, subtree, expires, now);
}
static int rd_tomb_check(hs__dav_store_t *bs, const char *rel, int64_t now)
{
    return hs__dav_tomb_check(((rd_store_t *)bs)->inner, rel, now);
}
static int rd_tomb_clear(hs__dav_store_t *bs, const char *rel)
{
    return hs__dav_tomb_clear(((rd_store_t *)bs)->inner, rel);
}

static void rd_close(hs__dav_store_t *bs)
{
    rd_store_t *s = (rd_store_t *)bs;
    if (pending_apply(s) != HS_OK) /* a last try: the next generation's store has its own queue */
        hs_log_warn("WebDAV locks: %zu lock removal%s never reached Redis; those locks stay there until they expire",
                    (size_t)atomic_load(&s->npend), atomic_load(&s->npend) == 1 ? "" : "s");
    hs_buf_free(&s->pend);
    pthread_mutex_destroy(&s->pend_mu);
    hs__dav_store_close(s->inner);
    hs__redis_pool_free(s->pool);
    free(s->idx);
    free(s->ns);
    free(s);
}

static const hs__dav_store_ops_t redis_ops = {
    .close = rd_close,
    .prop_get = rd_prop_get,
    .prop_list = rd_prop_list,
    .prop_patch = rd_prop_patch,
    .prop_copy = rd_prop_copy,
    .prop_move = rd_prop_move,
    .prop_delete = rd_prop_delete,
    .lock_create = rd_lock_create,
    .lock_get = rd_lock_get,
    .lock_refresh = rd_lock_refresh,
    .lock_remove = rd_lock_remove,
    .lock_list = rd_lock_list,
    .lock_delete = rd_lock_delete,
    .tomb_add = rd_tomb_add,
    .tomb_check = rd_tomb_check,
    .tomb_clear = rd_tomb_clear,
};

/* A tree's namespace: its last segment (for people reading keys) and a hash of its real path,
 * as its database's file name has: every instance serving the same path meets there. */
static void tree_name(const char *root_real, char *out, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (const char *p = root_real; *p; p++)
        h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
    const char *base = strrchr(root_real, '/');
    base = base && base[1] ? base + 1 : "root";
    char name[48];
    size_t k = 0;
    for (; *base && k < sizeof(name) - 1; base++)
        name[k++] = (*base >= 'a' && *base <= 'z') || (*base >= 'A' && *base <= 'Z') ||
                            (*base >= '0' && *base <= '9') || *base == '-' || *base == '_' || *base == '.'
                        ? *base
                        : '_';
    name[k] = '\0';
    snprintf(out, n, "%s-%016llx", name, (unsigned long long)h);
}

int hs__dav_store_open_redis(hs__dav_store_t *inner, const hs__dav_redis_opts_t *o, hs__dav_store_t **out)
{
    rd_store_t *s = hs_calloc(1, sizeof(*s));
    s->base.ops = &redis_ops;
    s->inner = inner;
    s->failure = o->failure;
    s->max_locks = o->max_locks ? o->max_locks : 10000;
    s->st = o->stats ? o->stats : hs__store_lock_counters();
    pthread_mutex_init(&s->pend_mu, NULL);
    const char *prefix = o->prefix ? o->prefix : "statusd:";
    char tree[80];
    tree_name(o->tree, tree, sizeof(tree));
    hs_buf_t b = {0};
    hs_buf_printf(&b, "%sdav:%s:idx", prefix, tree);
    s->idx = hs_strdup(b.base);
    b.len = 0;
    hs_buf_printf(&b, "%sdav:%s:l:", prefix, tree);
    s->ns = hs_strdup(b.base);
    hs_buf_free(&b);
    /* the scripts' names, once, before any thread can use them */
    hs__redis_script_t *const scripts[] = {&create_script, &refresh_script, &remove_script, &list_script,
                                           &delete_script};
    for (size_t i = 0; i < HS_ARRAY_SIZE(scripts); i++)
        hs__redis_script_init(scripts[i]);
    s->pool = hs__redis_pool_new(&o->addr, o->timeout_ms, s->st, "WebDAV locks");
    hs__redis_pool_note(s->pool, o->failure == HS_REDIS_OPEN
                                     ? "this instance's SQLite locks are used meanwhile, which the other instances do "
                                       "not see (on_failure: open)"
                                     : "lock changes and lock checks answer 503 meanwhile (on_failure: closed)");
    *out = &s->base;
    return HS_OK;
}
