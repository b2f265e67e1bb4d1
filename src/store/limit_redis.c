/* statusd — the rate-limit store on Redis (see hs/redis.h for the contract).
 *
 * One step, one script. The GCRA script reads the key's TAT, decides and writes the new TAT in one
 * EVALSHA, which Redis runs atomically: two instances can never both admit on the same old state
 * (Envoy's limiter reads and writes in two steps and can). The budget script does the same for a
 * byte count. Both take "now" from Redis's TIME inside the script: the instances' own clocks may
 * differ by milliseconds, which is a whole emission interval at 1000 r/s; one clock for everyone
 * makes the order in which Redis runs the scripts the order of arrival, and the answer the one a
 * single instance would give. (Replication is safe: Redis 5+ replicates a script's effects, not
 * the script, so TIME is allowed.)
 *
 * Exactness. Lua numbers are doubles, exact to 2^53; nanoseconds since 1970 are not. The scripts
 * therefore keep time as whole seconds and nanoseconds, and add and compare the pairs; the TAT is
 * stored as "SECONDS NANOSECONDS". The script returns how far the TAT lay ahead of its now and its
 * verdict; hs__redis_gcra_result runs the in-process store's step on that same state to fill
 * remaining, reset and retry-after, and refuses a reply whose verdict disagrees.
 *
 * Keys. PREFIX "gcra:" NAME ":" ZONE ":" KEY (and "bw:" for budgets), the client's key bytes as
 * they are (Redis keys are binary-safe); a key longer than 200 bytes is replaced by "#" and the
 * hex SHA-256 of it, so that a client cannot make Redis keep kilobytes per state. Instances with
 * the same configuration name their rules the same way. A key expires (PX) when its TAT passes —
 * an idle client's state disappears by itself — and a budget's at its period's end.
 *
 * Connections. Each worker loop has one connection, made on its first use, with the steps of its
 * requests pipelined: sent as they come (written once per batch of the loop by the adapter),
 * their replies matched in order by hiredis. Nothing waits on the loop: a step returns HS_AGAIN
 * and its reply calls done. The operations in flight are kept in the order they were sent, which
 * is the order of their deadlines; one timer watches the oldest. A reply later than the timeout
 * is an outage: the connection is dropped (every step in flight gets the failure policy's answer
 * at once) and made again after a back-off (100 ms, doubling to 2 s; the first step after the
 * back-off tries). Between, steps get the failure policy's answer without waiting: OPEN asks the
 * store's own in-process store, CLOSED fails. The per-worker pipeline is bounded (max_inflight);
 * beyond it a step gets the failure policy's answer too.
 *
 * Threads. The store is shared; its connections are not: a step runs on the connection of the
 * loop running on the calling thread (hs_loop_current), found through a per-thread cache. */
#define _GNU_SOURCE
#include "redis.h"

#include <errno.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 2000
#define KEY_HASHED_OVER 200
#define KEY_INLINE 96

/* ---- the scripts ---- */

/* KEYS[1] the state; ARGV cost·T and C·T as seconds, nanoseconds. Returns "ADMITTED AHEAD_S AHEAD_NS". */
static hs__redis_script_t gcra_script = {
    .name = "gcra",
    .body = "local t = redis.call('TIME')\n"
            "local ns, nn = tonumber(t[1]), tonumber(t[2]) * 1000\n"
            "local as, an = 0, 0\n"
            "local v = redis.call('GET', KEYS[1])\n"
            "if v then\n"
            "  local ts, tn = string.match(v, '^(%d+) (%d+)$')\n"
            "  if ts then\n"
            "    as, an = tonumber(ts) - ns, tonumber(tn) - nn\n"
            "    if an < 0 then an = an + 1000000000; as = as - 1 end\n"
            "    if as < 0 then as, an = 0, 0 end\n"
            "  end\n"
            "end\n"
            "local cs, cn = tonumber(ARGV[1]), tonumber(ARGV[2])\n"
            "local ws, wn = tonumber(ARGV[3]), tonumber(ARGV[4])\n"
            "local xs, xn = as + cs, an + cn\n"
            "if xn >= 1000000000 then xn = xn - 1000000000; xs = xs + 1 end\n"
            "if xs > ws or (xs == ws and xn > wn) then return string.format('0 %d %d', as, an) end\n"
            "if cs > 0 or cn > 0 then\n"
            "  local ts, tn = ns + xs, nn + xn\n"
            "  if tn >= 1000000000 then tn = tn - 1000000000; ts = ts + 1 end\n"
            "  redis.call('SET', KEYS[1], string.format('%d %d', ts, tn), 'PX',\n"
            "             string.format('%d', xs * 1000 + math.floor(xn / 1000000) + 1))\n"
            "end\n"
            "return string.format('1 %d %d', as, an)\n",
};

/* KEYS[1] the state; ARGV period (ms), bytes to add. Returns "PERIOD_END_MS NOW_MS USED". */
static hs__redis_script_t budget_script = {
    .name = "budget",
    .body = "local t = redis.call('TIME')\n"
            "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
            "local p = tonumber(ARGV[1])\n"
            "local e = now - now % p + p\n"
            "if tonumber(redis.call('HGET', KEYS[1], 'e') or '0') ~= e then\n"
            "  redis.call('HSET', KEYS[1], 'e', string.format('%d', e), 'u', '0')\n"
            "  redis.call('PEXPIREAT', KEYS[1], string.format('%d', e + 1000))\n"
            "end\n"
            "if ARGV[2] ~= '0' then\n"
            "  local r = redis.pcall('HINCRBY', KEYS[1], 'u', ARGV[2])\n"
            "  if type(r) == 'table' and r.err then\n"
            "    redis.call('HSET', KEYS[1], 'u', '9223372036854775807')\n"
            "  end\n"
            "end\n"
            "return string.format('%d %d ', e, now) .. (redis.call('HGET', KEYS[1], 'u') or '0')\n",
};

/* ---- state ---- */
typedef struct rstore_s rstore_t;
typedef struct conn_s conn_t;
typedef struct op_s op_t;

struct op_s {
    op_t *next, *prev; /* the connection's list in flight, oldest first */
    conn_t *c;
    uint64_t deadline_ms; /* loop clock */
    uint64_t sent_us;
    bool answered; /* done was called (or will never be: fire and forget) */
    bool evalled;  /* sent again with EVAL after NOSCRIPT */
    bool budget;
    hs_gcra_t g; /* copies: the rule may be gone before the reply (a reload) */
    hs_budget_t b;
    uint32_t cost;
    uint64_t add;
    void *out;
    hs_limit_done_cb done;
    void *arg;
    char *rkey;                     /* the Redis key: kbuf or the heap */
    size_t rklen, raw_off, raw_len; /* the client's key is rkey[raw_off .. +raw_len) (unless hashed) */
    bool hashed;
    char *raw; /* the client's key when hashed (the local store needs it) */
    char kbuf[KEY_INLINE];
};

struct conn_s {
    conn_t *next; /* the store's list */
    rstore_t *s;
    hs_loop_t *loop;
    redisAsyncContext *ac; /* NULL: no connection now */
    bool connected;        /* the connection is made (else connecting) */
    bool down;             /* the last attempt failed; until a good reply */
    uint64_t connect_deadline_ms;
    op_t *head, *tail;
    uint32_t inflight;
    op_t *free_ops;
    uint32_t nfree;
    hs_timer_t timer;     /* the oldest operation's deadline, or the connection's */
    uint64_t retry_at_ms; /* no connection attempt before (back-off) */
    uint32_t backoff_ms;
    int fail_reason;               /* why the connection is being dropped: TIMEOUT or UNREACHABLE */
    hs_buf_t cmd;                  /* a command too long for the stack (a long key, EVAL's body) */
    uint64_t arg_step, arg_window; /* the GCRA numbers formatted in argbuf */
    size_t arglen;
    char argbuf[4 * 28];
    hs__redis_counters_t st; /* this loop's own counters (one writer) */
};

enum { R_UNREACHABLE, R_TIMEOUT, R_BAD, R_SCRIPT, R_OVERFLOW };

struct rstore_s {
    hs_limit_store_t base;
    hs_limit_store_t *local; /* on_failure: open */
    hs_redis_addr_t addr;
    char url[HS_REDIS_PATH_MAX + HS_REDIS_HOST_MAX + 16];
    char *prefix;
    size_t prefix_len;
    uint32_t timeout_ms, max_inflight;
    hs_redis_failure_t failure;
    uint64_t id;
    _Atomic uint64_t version; /* bumped by attach/detach: per-thread caches check it */
    pthread_mutex_t mu;       /* guards conns */
    conn_t *conns;
    _Atomic bool outage;            /* logged when it began */
    hs__redis_counters_t st_shared; /* counted on threads without a connection */
    _Atomic uint64_t bad_logged_ms;
};

static _Atomic uint64_t store_ids;

/* ---- the calling thread's connection ---- */

static _Thread_local struct {
    uint64_t id, version;
    hs_loop_t *loop;
    conn_t *c;
} here;

static conn_t *conn_here(rstore_t *s)
{
    hs_loop_t *loop = hs_loop_current();
    if (!loop)
        return NULL;
    uint64_t v = atomic_load_explicit(&s->version, memory_order_acquire);
    if (HS_LIKELY(here.id == s->id && here.loop == loop && here.version == v))
        return here.c;
    conn_t *c;
    pthread_mutex_lock(&s->mu);
    for (c = s->conns; c && c->loop != loop; c = c->next)
        ;
    pthread_mutex_unlock(&s->mu);
    here.id = s->id;
    here.loop = loop;
    here.version = v;
    here.c = c;
    return c;
}

/* ---- outages: logged once when they begin and once when they end ---- */

static void mark_down(conn_t *c, int reason)
{
    rstore_t *s = c->s;
    c->down = true;
    c->backoff_ms = c->backoff_ms ? HS_MIN(c->backoff_ms * 2, BACKOFF_MAX_MS) : BACKOFF_FIRST_MS;
    c->retry_at_ms = c->loop->now_ms + c->backoff_ms;
    atomic_store_explicit(&c->st.up, false, memory_order_relaxed);
    if (!atomic_exchange(&s->outage, true)) {
        HS__STAT_BUMP(&c->st, outages, 1);
        hs_log_warn("rate limits: Redis at %s %s: %s", s->url,
                    reason == R_TIMEOUT ? "did not answer within the timeout" : "is unreachable",
                    s->failure == HS_REDIS_OPEN ? "each instance limits on its own meanwhile (on_failure: open)"
                                                : "rate-limited requests fail meanwhile (on_failure: closed)");
    }
}

static void mark_up(conn_t *c)
{
    rstore_t *s = c->s;
    c->down = false;
    c->backoff_ms = 0;
    atomic_store_explicit(&c->st.up, true, memory_order_relaxed);
    if (atomic_load_explicit(&s->outage, memory_order_relaxed) && atomic_exchange(&s->outage, false))
        hs_log_info("rate limits: Redis at %s is reachable again", s->url);
}

/* ---- operations ---- */

static op_t *op_new(conn_t *c)
{
    op_t *op = c->free_ops;
    if (op) {
        c->free_ops = op->next;
        c->nfree--;
    } else {
        op = hs_malloc(sizeof(*op));
    }
    memset(op, 0, offsetof(op_t, kbuf));
    op->c = c;
    return op;
}

static void op_free(op_t *op)
{
    conn_t *c = op->c;
    if (op->rkey != op->kbuf)
        free(op->rkey);
    free(op->raw);
    if (c && c->nfree < 1024) { /* spares for a full pipeline at 1000 connections */
        op->next = c->free_ops;
        c->free_ops = op;
        c->nfree++;
    } else {
        free(op);
    }
}

static void op_unlink(conn_t *c, op_t *op)
{
    if (op->prev)
        op->prev->next = op->next;
    else
        c->head = op->next;
    if (op->next)
        op->next->prev = op->prev;
    else
        c->tail = op->prev;
    op->next = op->prev = NULL;
    c->inflight--;
    HS__STAT_BUMP(&c->st, in_flight, (uint64_t)-1);
}

/* In deadline order (only a resent operation is not the newest). */
static void op_link(conn_t *c, op_t *op)
{
    op_t *after = c->tail;
    while (after && after->deadline_ms > op->deadline_ms)
        after = after->prev;
    op->prev = after;
    op->next = after ? after->next : c->head;
    if (op->next)
        op->next->prev = op;
    else
        c->tail = op;
    if (after)
        after->next = op;
    else
        c->head = op;
    c->inflight++;
    HS__STAT_BUMP(&c->st, in_flight, 1);
}

static void arm(conn_t *c)
{
    uint64_t at = c->head ? c->head->deadline_ms : 0;
    if (c->ac && !c->connected && (!at || c->connect_deadline_ms < at))
        at = c->connect_deadline_ms;
    if (at)
        hs_timer_link(&c->loop->wheel, &c->timer, at);
    else
        hs_timer_unlink(&c->loop->wheel, &c->timer);
}

/* The answer when Redis cannot give one: OPEN asks the local store (HS_OK, *out filled), CLOSED
 * fails (HS_ERROR). */
static int policy(rstore_t *s, hs__redis_counters_t *st, bool owner, bool budget, const hs_gcra_t *g,
                  const hs_budget_t *b, hs_iovec_t key, uint32_t cost, uint64_t add, void *out)
{
    if (s->failure == HS_REDIS_CLOSED) {
        if (owner)
            HS__STAT_BUMP(st, refused, 1);
        else
            HS__STAT_ADD(st, refused, 1);
        return HS_ERROR;
    }
    if (owner)
        HS__STAT_BUMP(st, fallbacks, 1);
    else
        HS__STAT_ADD(st, fallbacks, 1);
    if (budget) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return hs_limit_budget(s->local, b, key, (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000, add, out,
                               NULL, NULL);
    }
    return hs_limit_gcra(s->local, g, key, hs__redis_now_us() * 1000, cost, out, NULL, NULL);
}

static void count_reason(conn_t *c, int reason)
{
    switch (reason) {
    case R_TIMEOUT: HS__STAT_BUMP(&c->st, timeouts, 1); break;
    case R_BAD: HS__STAT_BUMP(&c->st, bad_replies, 1); break;
    case R_SCRIPT: HS__STAT_BUMP(&c->st, script_errors, 1); break;
    case R_OVERFLOW: HS__STAT_BUMP(&c->st, overflows, 1); break;
    default: HS__STAT_BUMP(&c->st, unreachable, 1); break;
    }
}

/* An operation in flight that Redis will not answer: the failure policy's answer through done. */
static void op_fail(op_t *op, int reason)
{
    conn_t *c = op->c;
    if (op->answered)
        return;
    op->answered = true;
    count_reason(c, reason);
    hs_iovec_t raw = op->hashed ? hs_iov(op->raw, op->raw_len) : hs_iov(op->rkey + op->raw_off, op->raw_len);
    int rc = policy(c->s, &c->st, true, op->budget, &op->g, &op->b, raw, op->budget ? 0 : op->cost, op->add, op->out);
    if (op->done)
        op->done(op->arg, rc, op->out);
}

static void bad_reply_log(rstore_t *s, const redisReply *r)
{
    uint64_t now = hs__redis_now_us() / 1000, last = atomic_load(&s->bad_logged_ms);
    if (now < last + 10000 || !atomic_compare_exchange_strong(&s->bad_logged_ms, &last, now))
        return; /* at most one line every 10 s */
    if (r && r->type == REDIS_REPLY_ERROR)
        hs_log_warn("rate limits: Redis at %s: the script failed: %.200s", s->url, r->str ? r->str : "");
    else
        hs_log_warn("rate limits: Redis at %s: a reply of the wrong shape (type %d): keys under the prefix "
                    "written by another program?",
                    s->url, r ? r->type : -1);
}

static void conn_drop(conn_t *c, int reason, bool outage);
static int send_op(conn_t *c, op_t *op, bool eval);

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    HS_UNUSED(ac);
    op_t *op = privdata;
    conn_t *c = op->c;
    redisReply *r = reply;
    op_unlink(c, op);
    if (!r) { /* the connection is going: dropped by us (a timeout) or lost */
        if (c->ac == ac) {
            c->ac = NULL;
            c->connected = false;
            mark_down(c, R_UNREACHABLE);
            c->fail_reason = R_UNREACHABLE;
        }
        op_fail(op, c->fail_reason);
        op_free(op);
        arm(c);
        return;
    }
    if (hs__redis_noscript(r) && !op->evalled && c->ac) {
        op->evalled = true; /* Redis does not know the script (it restarted): send its body once */
        if (send_op(c, op, true) == HS_OK)
            return;
        op_fail(op, R_UNREACHABLE);
        op_free(op);
        arm(c);
        return;
    }
    if (op->answered) { /* fire and forget */
        op_free(op);
        arm(c);
        return;
    }
    rstore_t *s = c->s;
    int rc;
    if (op->budget) {
        rc = hs__redis_budget_reply(&op->b, r, op->out);
    } else {
        bool admitted;
        uint64_t ahead;
        rc = hs__redis_gcra_reply(r, &admitted, &ahead);
        if (rc == HS_OK)
            rc = hs__redis_gcra_result(&op->g, op->cost, admitted, ahead, op->out);
    }
    if (rc != HS_OK) {
        bad_reply_log(s, r);
        op_fail(op, r->type == REDIS_REPLY_ERROR ? R_SCRIPT : R_BAD);
    } else {
        uint64_t now = hs__redis_now_us();
        hs__redis_latency(&c->st, now > op->sent_us ? now - op->sent_us : 0, true);
        HS__STAT_BUMP(&c->st, answered, 1);
        if (c->down || !atomic_load_explicit(&c->st.up, memory_order_relaxed))
            mark_up(c);
        op->answered = true;
        op->done(op->arg, HS_OK, op->out);
    }
    op_free(op);
    arm(c);
}

static void on_gone(void *arg, const redisAsyncContext *ac)
{
    conn_t *c = arg;
    /* hiredis cleaned up the context we held: lost without a pending operation */
    if (c->ac && c->ac == ac) {
        c->ac = NULL;
        c->connected = false;
        mark_down(c, R_UNREACHABLE);
        arm(c);
    }
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    conn_t *c = ac->data;
    if (status == REDIS_OK && c->ac == ac) {
        c->connected = true;
        HS__STAT_BUMP(&c->st, connects, 1);
        arm(c);
    }
}

/* Drop the connection (not from inside hiredis's callbacks: callers are the timer and detach):
 * every operation in flight gets the failure policy's answer, with this reason. An outage unless
 * the worker is ending. */
static void conn_drop(conn_t *c, int reason, bool outage)
{
    redisAsyncContext *ac = c->ac;
    if (!ac)
        return;
    c->ac = NULL;
    c->connected = false;
    c->fail_reason = reason;
    if (outage)
        mark_down(c, reason);
    redisAsyncFree(ac); /* on_reply(NULL) for each, then the adapter's cleanup */
    c->fail_reason = R_UNREACHABLE;
    arm(c);
}

static void on_timer(hs_timer_t *t)
{
    conn_t *c = (conn_t *)((char *)t - offsetof(conn_t, timer));
    uint64_t now = c->loop->now_ms;
    if ((c->head && c->head->deadline_ms <= now) || (c->ac && !c->connected && c->connect_deadline_ms <= now))
        conn_drop(c, R_TIMEOUT, true); /* Redis is slower than the timeout: an outage */
    else
        arm(c);
}

/* Start a connection (non-blocking). HS_OK, or HS_ERROR (back-off set). */
static int conn_open(conn_t *c)
{
    rstore_t *s = c->s;
    redisAsyncContext *ac =
        s->addr.unix_socket ? redisAsyncConnectUnix(s->addr.path) : redisAsyncConnect(s->addr.ip, s->addr.port);
    if (!ac || ac->err || hs__redis_attach(ac, c->loop, on_gone, c) != HS_OK) {
        if (ac)
            redisAsyncFree(ac);
        mark_down(c, R_UNREACHABLE);
        return HS_ERROR;
    }
    ac->data = c;
    c->ac = ac;
    c->connected = false;
    c->connect_deadline_ms = c->loop->now_ms + s->timeout_ms;
    redisAsyncSetConnectCallback(ac, on_connect);
    arm(c);
    return HS_OK;
}

static char *put_bulk(char *p, const char *s, size_t n)
{
    *p++ = '$';
    p = hs_fmt_u64(p, n);
    *p++ = '\r';
    *p++ = '\n';
    memcpy(p, s, n);
    p += n;
    *p++ = '\r';
    *p++ = '\n';
    return p;
}

static char *put_bulk_u64(char *p, uint64_t v)
{
    char t[24];
    return put_bulk(p, t, (size_t)(hs_fmt_u64(t, v) - t));
}

#define LIT(p, s) (memcpy((p), (s), sizeof(s) - 1), (p) + sizeof(s) - 1)

/* Send a step: EVALSHA, written straight into a buffer (the steps of a busy worker are many: the
 * script's name and a rule's numbers are the same every time, so only the key changes), or EVAL
 * with the script's body after Redis said NOSCRIPT. */
static int send_op(conn_t *c, op_t *op, bool eval)
{
    /* a step that can never be admitted only looks (its answer is computed here) */
    uint64_t step = op->budget || op->cost > op->g.capacity ? 0 : (uint64_t)op->cost * op->g.interval_ns;
    const hs__redis_script_t *sc = op->budget ? &budget_script : &gcra_script;
    char stack[768];
    char *buf = stack, *p;
    size_t need = 128 + op->rklen + sizeof(c->argbuf) + (eval ? strlen(sc->body) : 0);
    if (need > sizeof(stack)) {
        c->cmd.len = 0;
        hs_buf_reserve(&c->cmd, need, SIZE_MAX);
        buf = c->cmd.base;
    }
    p = buf;
    p = op->budget ? LIT(p, "*6\r\n") : LIT(p, "*8\r\n");
    if (eval) {
        p = LIT(p, "$4\r\nEVAL\r\n");
        p = put_bulk(p, sc->body, strlen(sc->body));
    } else {
        p = LIT(p, "$7\r\nEVALSHA\r\n$40\r\n");
        memcpy(p, sc->sha, 40);
        p += 40;
        p = LIT(p, "\r\n");
    }
    p = LIT(p, "$1\r\n1\r\n");
    p = put_bulk(p, op->rkey, op->rklen);
    if (op->budget) {
        p = put_bulk_u64(p, op->b.period_ms);
        p = put_bulk_u64(p, op->add);
    } else {
        if (!c->arglen || c->arg_step != step || c->arg_window != op->g.window_ns) {
            char *a = c->argbuf;
            a = put_bulk_u64(a, step / HS_NS_PER_SEC);
            a = put_bulk_u64(a, step % HS_NS_PER_SEC);
            a = put_bulk_u64(a, op->g.window_ns / HS_NS_PER_SEC);
            a = put_bulk_u64(a, op->g.window_ns % HS_NS_PER_SEC);
            c->arglen = (size_t)(a - c->argbuf);
            c->arg_step = step;
            c->arg_window = op->g.window_ns;
        }
        memcpy(p, c->argbuf, c->arglen);
        p += c->arglen;
    }
    if (redisAsyncFormattedCommand(c->ac, on_reply, op, buf, (size_t)(p - buf)) != REDIS_OK)
        return HS_ERROR;
    op_link(c, op);
    return HS_OK;
}

/* The Redis key of a step into op. */
static void make_key(rstore_t *s, op_t *op, const char *kind, const char *name, uint32_t zone, hs_iovec_t key)
{
    char z[16];
    size_t zl = (size_t)(hs_fmt_u64(z, zone) - z);
    if (!name || !*name)
        name = "-";
    size_t kl = strlen(kind), nl = strlen(name);
    op->hashed = key.len > KEY_HASHED_OVER;
    size_t body = op->hashed ? 1 + 2 * SHA256_DIGEST_LENGTH : key.len;
    size_t n = s->prefix_len + kl + nl + 1 + zl + 1 + body;
    op->rkey = n <= KEY_INLINE ? op->kbuf : hs_malloc(n);
    char *p = op->rkey;
    memcpy(p, s->prefix, s->prefix_len);
    p += s->prefix_len;
    memcpy(p, kind, kl);
    p += kl;
    memcpy(p, name, nl);
    p += nl;
    *p++ = ':';
    memcpy(p, z, zl);
    p += zl;
    *p++ = ':';
    op->raw_off = (size_t)(p - op->rkey);
    op->raw_len = key.len;
    if (op->hashed) {
        unsigned char d[SHA256_DIGEST_LENGTH];
        SHA256((const unsigned char *)key.base, key.len, d);
        static const char hex[] = "0123456789abcdef";
        *p++ = '#';
        for (int i = 0; i < SHA256_DIGEST_LENGTH; i++) {
            *p++ = hex[d[i] >> 4];
            *p++ = hex[d[i] & 15];
        }
        op->raw = hs_malloc(key.len);
        memcpy(op->raw, key.base, key.len);
    } else if (key.len) {
        memcpy(p, key.base, key.len);
        p += key.len;
    }
    op->rklen = (size_t)(p - op->rkey);
}

static int step(rstore_t *s, bool budget, const hs_gcra_t *g, const hs_budget_t *b, hs_iovec_t key, uint32_t cost,
                uint64_t add, void *out, hs_limit_done_cb done, void *arg)
{
    conn_t *c = conn_here(s);
    if (!c) { /* no loop of ours on this thread */
        HS__STAT_ADD(&s->st_shared, ops, 1);
        HS__STAT_ADD(&s->st_shared, unreachable, 1);
        return policy(s, &s->st_shared, false, budget, g, b, key, cost, add, out);
    }
    HS__STAT_BUMP(&c->st, ops, 1);
    int why = -1;
    if (!c->ac && c->loop->now_ms >= c->retry_at_ms)
        conn_open(c);
    if (!c->ac)
        why = R_UNREACHABLE;
    else if (c->inflight >= s->max_inflight)
        why = R_OVERFLOW;
    if (why >= 0) {
        count_reason(c, why);
        return policy(s, &c->st, true, budget, g, b, key, cost, add, out);
    }
    op_t *op = op_new(c);
    op->deadline_ms = c->loop->now_ms + s->timeout_ms;
    op->sent_us = hs__redis_now_us();
    op->budget = budget;
    if (budget) {
        op->b = *b;
        op->add = add;
        make_key(s, op, "bw:", b->name, b->shared_zone ? b->shared_zone : b->zone, key);
    } else {
        op->g = *g;
        op->cost = cost;
        make_key(s, op, "gcra:", g->name, g->shared_zone ? g->shared_zone : g->zone, key);
    }
    op->out = out;
    op->done = done;
    op->arg = arg;
    op->answered = done == NULL;
    if (send_op(c, op, false) != HS_OK) {
        op_free(op);
        count_reason(c, R_UNREACHABLE);
        return policy(s, &c->st, true, budget, g, b, key, cost, add, out);
    }
    if (c->head == op)
        arm(c);
    return HS_AGAIN;
}

static int r_gcra(hs_limit_store_t *base, const hs_gcra_t *g, hs_iovec_t key, uint64_t now_ns, uint32_t cost,
                  hs_limit_result_t *out, hs_limit_done_cb done, void *arg)
{
    HS_UNUSED(now_ns); /* Redis's clock decides */
    return step((rstore_t *)base, false, g, NULL, key, cost, 0, out, done, arg);
}

static int r_budget(hs_limit_store_t *base, const hs_budget_t *b, hs_iovec_t key, uint64_t now_ms, uint64_t add,
                    hs_budget_result_t *out, hs_limit_done_cb done, void *arg)
{
    HS_UNUSED(now_ms);
    return step((rstore_t *)base, true, NULL, b, key, 0, add, out, done, arg);
}

static void conn_free(conn_t *c)
{
    conn_drop(c, R_UNREACHABLE, false);
    /* operations still listed (none: the drop answered them), the spares */
    while (c->free_ops) {
        op_t *op = c->free_ops;
        c->free_ops = op->next;
        free(op);
    }
    hs_timer_unlink(&c->loop->wheel, &c->timer);
    hs_buf_free(&c->cmd);
    free(c);
}

static void r_destroy(hs_limit_store_t *base)
{
    rstore_t *s = (rstore_t *)base;
    while (s->conns) {
        conn_t *c = s->conns;
        s->conns = c->next;
        conn_free(c);
    }
    hs_limit_store_free(s->local);
    pthread_mutex_destroy(&s->mu);
    free(s->prefix);
    free(s);
}

static const hs_limit_store_ops_t redis_ops = {"redis", r_gcra, r_budget, r_destroy};

hs_limit_store_t *hs_limit_redis_new(const hs_limit_redis_opts_t *o)
{
    rstore_t *s = hs_calloc(1, sizeof(*s));
    s->base.ops = &redis_ops;
    s->addr = o->addr;
    hs_redis_addr_format(&o->addr, s->url, sizeof(s->url));
    s->prefix = hs_strdup(o->prefix ? o->prefix : "statusd:");
    s->prefix_len = strlen(s->prefix);
    s->timeout_ms = o->timeout_ms ? o->timeout_ms : 50;
    s->max_inflight = o->max_inflight ? o->max_inflight : 4096;
    s->failure = o->failure;
    size_t keys = o->local_keys ? o->local_keys : 100000;
    s->local = hs_limit_memstore_new(keys, keys / 4 > 1024 ? keys / 4 : 1024);
    s->id = atomic_fetch_add(&store_ids, 1) + 1;
    pthread_mutex_init(&s->mu, NULL);
    hs__redis_script_init(&gcra_script);
    hs__redis_script_init(&budget_script);
    return &s->base;
}

int hs_limit_redis_attach(hs_limit_store_t *base, hs_loop_t *loop)
{
    rstore_t *s = (rstore_t *)base;
    conn_t *c = hs_calloc(1, sizeof(*c));
    c->s = s;
    c->loop = loop;
    c->timer.cb = on_timer;
    pthread_mutex_lock(&s->mu);
    c->next = s->conns;
    s->conns = c;
    pthread_mutex_unlock(&s->mu);
    atomic_fetch_add_explicit(&s->version, 1, memory_order_release);
    return HS_OK;
}

void hs_limit_redis_detach(hs_limit_store_t *base, hs_loop_t *loop)
{
    rstore_t *s = (rstore_t *)base;
    conn_t *c = NULL;
    pthread_mutex_lock(&s->mu);
    for (conn_t **pp = &s->conns; *pp; pp = &(*pp)->next)
        if ((*pp)->loop == loop) {
            c = *pp;
            *pp = c->next;
            break;
        }
    pthread_mutex_unlock(&s->mu);
    atomic_fetch_add_explicit(&s->version, 1, memory_order_release);
    if (c) {
        /* what it counted stays in the store's totals */
        hs_redis_stats_t st = {0};
        hs__redis_stats_add(&c->st, &st);
        conn_free(c);
        HS__STAT_ADD(&s->st_shared, ops, st.ops);
        HS__STAT_ADD(&s->st_shared, answered, st.answered);
        HS__STAT_ADD(&s->st_shared, timeouts, st.timeouts);
        HS__STAT_ADD(&s->st_shared, unreachable, st.unreachable);
        HS__STAT_ADD(&s->st_shared, bad_replies, st.bad_replies);
        HS__STAT_ADD(&s->st_shared, overflows, st.overflows);
        HS__STAT_ADD(&s->st_shared, script_errors, st.script_errors);
        HS__STAT_ADD(&s->st_shared, fallbacks, st.fallbacks);
        HS__STAT_ADD(&s->st_shared, refused, st.refused);
        HS__STAT_ADD(&s->st_shared, connects, st.connects);
        HS__STAT_ADD(&s->st_shared, outages, st.outages);
    }
}

void hs_limit_redis_stats(hs_limit_store_t *base, hs_redis_stats_t *out)
{
    rstore_t *s = (rstore_t *)base;
    memset(out, 0, sizeof(*out));
    hs__redis_stats_add(&s->st_shared, out);
    pthread_mutex_lock(&s->mu);
    for (conn_t *c = s->conns; c; c = c->next)
        hs__redis_stats_add(&c->st, out);
    pthread_mutex_unlock(&s->mu);
}
