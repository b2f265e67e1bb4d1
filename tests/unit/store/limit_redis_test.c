/* Unit tests: the rate-limit store on Redis (src/store/limit_redis.c) against a real redis-server:
 *   - the checks of the scripts' replies, and the result computed from them being the in-process
 *     store's own for every state;
 *   - one instance: a burst then refusals with the exact retry-after, keys that expire, budgets;
 *   - three instances (three stores, each with its own loop on its own thread, as three processes
 *     would have) sharing one limit of 10 r/s with burst 10: 1,000 attempts over 5 s admit what
 *     one instance alone admits (the exact GCRA count on the same arrival times) within ±2 %, and
 *     every refusal carries a retry-after within one emission interval;
 *   - retry-after honoured: refused, then admitted exactly when it said;
 *   - failure policies: Redis killed (open answers locally, closed fails), Redis stopped
 *     (SIGSTOP: slower than the timeout), Redis back (service resumes), SCRIPT FLUSH (EVAL
 *     fallback), keys of the wrong type (an error of that step only), a full pipeline, fire and
 *     forget, detach with steps in flight. */
#define _GNU_SOURCE
#include "../../../src/store/redis.h"
#include "lib/redis_server.h"
#include "tap.h"

#include <pthread.h>

static redis_srv_t R;

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * HS_NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

static hs_gcra_t rule(uint64_t count, uint64_t burst, uint32_t zone, const char *name)
{
    hs_gcra_t g;
    const char *err;
    if (hs_gcra_init(&g, count, 1000, burst, &err) != HS_OK)
        abort();
    g.zone = zone;
    g.name = name;
    return g;
}

static hs_limit_store_t *new_store(hs_redis_failure_t f, uint32_t timeout_ms, uint32_t max_inflight, const char *prefix)
{
    hs_limit_redis_opts_t o = {.prefix = prefix, .timeout_ms = timeout_ms, .failure = f, .max_inflight = max_inflight};
    const char *err;
    if (hs_redis_url_parse(hs_iov_cstr(R.url), &o.addr, &err) != HS_OK)
        abort();
    return hs_limit_redis_new(&o);
}

/* ---- one instance driven from this thread ---- */
typedef struct {
    hs_limit_store_t *s;
    hs_loop_t loop;
    bool done;
    int rc;
} inst_t;

static void inst_init(inst_t *in, hs_limit_store_t *s)
{
    memset(in, 0, sizeof(*in));
    in->s = s;
    if (hs_loop_init(&in->loop) != HS_OK)
        abort();
    hs_limit_redis_attach(s, &in->loop);
    hs_loop_run_once(&in->loop, 0); /* this thread's loop from now on */
}

static void inst_fini(inst_t *in)
{
    hs_limit_redis_detach(in->s, &in->loop);
    hs_loop_destroy(&in->loop);
}

static void on_done(void *arg, int rc, void *out)
{
    HS_UNUSED(out);
    inst_t *in = arg;
    in->done = true;
    in->rc = rc;
}

/* A step and its answer: the rc the caller finally gets (HS_OK or HS_ERROR); *sync says whether
 * it came at once. */
static int gcra(inst_t *in, const hs_gcra_t *g, const char *key, uint32_t cost, hs_limit_result_t *out, bool *sync)
{
    in->done = false;
    hs_loop_run_once(&in->loop, 0); /* the calling thread's loop is this instance's */
    int rc = hs_limit_gcra(in->s, g, hs_iov_cstr(key), 0, cost, out, on_done, in);
    if (sync)
        *sync = rc != HS_AGAIN;
    if (rc != HS_AGAIN)
        return rc;
    for (long long end = redis_srv_ms() + 2000; !in->done && redis_srv_ms() < end;)
        hs_loop_run_once(&in->loop, 5);
    return in->done ? in->rc : -999;
}

static int budget(inst_t *in, const hs_budget_t *b, const char *key, uint64_t add, hs_budget_result_t *out)
{
    in->done = false;
    hs_loop_run_once(&in->loop, 0);
    int rc = hs_limit_budget(in->s, b, hs_iov_cstr(key), 0, add, out, on_done, in);
    if (rc != HS_AGAIN)
        return rc;
    for (long long end = redis_srv_ms() + 2000; !in->done && redis_srv_ms() < end;)
        hs_loop_run_once(&in->loop, 5);
    return in->done ? in->rc : -999;
}

static void run_for(inst_t *in, int ms)
{
    for (long long end = redis_srv_ms() + ms; redis_srv_ms() < end;)
        hs_loop_run_once(&in->loop, 5);
}

/* ---- the reply checks ---- */
static redisReply *str(const char *v)
{
    redisReply *r = calloc(1, sizeof(*r));
    r->type = REDIS_REPLY_STRING;
    r->str = strdup(v);
    r->len = strlen(v);
    return r;
}

static int gcra_reply(const char *v, bool *adm, uint64_t *ahead)
{
    redisReply *r = str(v);
    int rc = hs__redis_gcra_reply(r, adm, ahead);
    freeReplyObject(r);
    return rc;
}

static void test_replies(void)
{
    bool adm;
    uint64_t ahead;
    is_int(gcra_reply("1 2 5", &adm, &ahead), HS_OK, "a GCRA reply: verdict, seconds, nanoseconds");
    ok(adm && ahead == 2000000005ULL, "admitted, 2 s 5 ns ahead");
    is_int(gcra_reply("0 0 999999999", &adm, &ahead), HS_OK, "a refusal");
    ok(!adm && ahead == 999999999ULL, "…999999999 ns ahead");
    static const char *const bad[] = {"1 0 1000000000", "2 0 0",  "1 -1 0", "1 0",
                                      "1 0 0 0",        "1  0 0", " 1 0 0", "1 0 0 ",
                                      "1 00 0",         "1 0 x",  "",       "1 0 99999999999999999999"};
    for (size_t i = 0; i < HS_ARRAY_SIZE(bad); i++)
        is_int(gcra_reply(bad[i], &adm, &ahead), HS_ERROR, "refused: '%s'", bad[i]);
    is_int(gcra_reply("0 9999999999999999 5", &adm, &ahead), HS_OK, "huge seconds");
    ok(ahead == 1ULL << 62, "…capped at 2^62 ns");
    redisReply *arr = calloc(1, sizeof(*arr));
    arr->type = REDIS_REPLY_ARRAY;
    is_int(hs__redis_gcra_reply(arr, &adm, &ahead), HS_ERROR, "an array: refused");
    freeReplyObject(arr);
    is_int(hs__redis_gcra_reply(NULL, &adm, &ahead), HS_ERROR, "no reply: refused");

    /* the result from (verdict, ahead) is the in-process store's for the same state */
    hs_gcra_t g = rule(3, 4, 1, "t");
    int same = 0, total = 0;
    for (uint64_t ahead_ns = 0; ahead_ns <= g.window_ns + 2 * g.interval_ns; ahead_ns += 7777777) {
        for (uint32_t cost = 0; cost <= 6; cost++) {
            uint64_t tat = 1000000000000ULL + ahead_ns, now = 1000000000000ULL;
            hs_limit_result_t want, got;
            bool admitted = hs_gcra_step(&g, &tat, now, cost, &want);
            total++;
            if (hs__redis_gcra_result(&g, cost, cost > g.capacity ? true : admitted, ahead_ns, &got) == HS_OK &&
                got.allowed == want.allowed && got.remaining == want.remaining && got.reset_ns == want.reset_ns &&
                got.retry_after_ns == want.retry_after_ns)
                same++;
        }
    }
    is_int(same, total, "every state and cost: the same result as hs_gcra_step (%d cases)", total);
    hs_limit_result_t out;
    is_int(hs__redis_gcra_result(&g, 1, false, 0, &out), HS_ERROR, "a refusal of an idle key: disbelieved");

    hs_budget_t b;
    const char *err;
    hs_budget_init(&b, 1000, 3600000, &err);
    long long now = 1700000000123LL, end = (now / 3600000 + 1) * 3600000;
    char v[64];
    snprintf(v, sizeof(v), "%lld %lld 700", end, now);
    redisReply *br = str(v);
    hs_budget_result_t bo;
    is_int(hs__redis_budget_reply(&b, br, &bo), HS_OK, "a budget reply");
    ok(!bo.exhausted && bo.used == 700 && bo.remaining == 300 && bo.reset_ms == (uint64_t)(end - now),
       "used 700 of 1000, reset at the period's end");
    freeReplyObject(br);
    snprintf(v, sizeof(v), "%lld %lld 700", end + 1, now);
    br = str(v);
    is_int(hs__redis_budget_reply(&b, br, &bo), HS_ERROR, "a period end off the epoch grid: refused");
    freeReplyObject(br);
    snprintf(v, sizeof(v), "%lld %lld 700", end + 3600000, now);
    br = str(v);
    is_int(hs__redis_budget_reply(&b, br, &bo), HS_ERROR, "a period end more than one period on: refused");
    freeReplyObject(br);
}

/* ---- one instance ---- */
static void test_one(void)
{
    hs_limit_store_t *s = new_store(HS_REDIS_CLOSED, 200, 0, "t1:");
    inst_t in;
    inst_init(&in, s);
    hs_gcra_t g = rule(10, 10, 7, "api");
    hs_limit_result_t r;
    int admitted = 0, first_refusal = -1;
    uint64_t t0 = mono_ns(), retry = 0;
    bool sync = true;
    for (int i = 0; i < 15; i++) {
        int rc = gcra(&in, &g, "client-a", 1, &r, &sync);
        if (rc != HS_OK || sync)
            break;
        if (r.allowed)
            admitted++;
        else if (first_refusal < 0) {
            first_refusal = i;
            retry = r.retry_after_ns;
        }
    }
    uint64_t spent = mono_ns() - t0;
    ok(!sync, "answered through done (HS_AGAIN first)");
    is_int(admitted, 11, "burst 10: 11 admitted back to back");
    is_int(first_refusal, 11, "the 12th is refused");
    ok(retry > 100000000ULL - spent - 5000000ULL && retry <= 100000000ULL,
       "its retry-after is one emission interval less the time spent (%llu ns, %llu ns spent)",
       (unsigned long long)retry, (unsigned long long)spent);
    ok(r.remaining == 0 && !r.allowed, "remaining 0 while refused");
    /* the key expires when its TAT passes: ~1.1 s from now at most */
    long long pttl = redis_srv_cmd(&R, "PTTL %b", "t1:gcra:api:7:client-a", strlen("t1:gcra:api:7:client-a"));
    ok(pttl > 900 && pttl <= 1101, "the state expires with its TAT (PTTL %lld ms)", pttl);
    /* a step costing more than the capacity is refused for good, and writes nothing */
    is_int(gcra(&in, &g, "client-b", 12, &r, NULL), HS_OK, "cost 12 > capacity 11");
    ok(!r.allowed && r.retry_after_ns == UINT64_MAX && r.remaining == 11, "refused for ever, nothing spent");
    is_int(redis_srv_cmd(&R, "EXISTS %s", "t1:gcra:api:7:client-b"), 0, "…and no state written");
    /* a look (cost 0) writes nothing either */
    is_int(gcra(&in, &g, "client-c", 0, &r, NULL), HS_OK, "cost 0 looks");
    ok(r.allowed && r.remaining == 11 && r.reset_ns == 0, "an idle key: everything left");
    is_int(redis_srv_cmd(&R, "EXISTS %s", "t1:gcra:api:7:client-c"), 0, "…nothing written");
    /* a long key is kept by its hash */
    char longkey[400];
    memset(longkey, 'k', sizeof(longkey) - 1);
    longkey[sizeof(longkey) - 1] = '\0';
    is_int(gcra(&in, &g, longkey, 1, &r, NULL), HS_OK, "a 399-byte key");
    ok(r.allowed && r.remaining == 10, "admitted, counted");
    is_int(gcra(&in, &g, longkey, 1, &r, NULL), HS_OK, "the same key again");
    ok(r.remaining == 9, "the same state (remaining 9)");

    /* retry-after honoured: refused, then admitted at the moment it said */
    hs_gcra_t slow = rule(5, 0, 8, "slow"); /* T = 200 ms, no burst */
    gcra(&in, &slow, "x", 1, &r, NULL);
    ok(r.allowed, "5 r/s: the first is admitted");
    uint64_t t1 = mono_ns();
    gcra(&in, &slow, "x", 1, &r, NULL);
    uint64_t r1 = r.retry_after_ns;
    ok(!r.allowed && r1 > 150000000ULL && r1 <= 200000000ULL, "the second is refused, retry in %llu ns",
       (unsigned long long)r1);
    usleep(50000);
    uint64_t t2 = mono_ns();
    gcra(&in, &slow, "x", 1, &r, NULL);
    uint64_t r2 = r.retry_after_ns, waited = t2 - t1;
    long long drift = (long long)r1 - (long long)r2 - (long long)waited;
    ok(!r.allowed && llabs(drift) < 3000000, "50 ms later the retry-after is 50 ms shorter (off by %lld ns)", drift);
    struct timespec ts = {0, (long)(r2 + 2000000)};
    nanosleep(&ts, NULL);
    gcra(&in, &slow, "x", 1, &r, NULL);
    ok(r.allowed, "admitted once the retry-after has passed");

    /* budgets: bytes per period, aligned on the epoch */
    hs_budget_t b;
    const char *err;
    hs_budget_init(&b, 1000, 3600000, &err);
    b.zone = 3;
    b.name = "bw";
    hs_budget_result_t br;
    is_int(budget(&in, &b, "u", 600, &br), HS_OK, "600 bytes counted");
    ok(!br.exhausted && br.used == 600 && br.remaining == 400, "used 600, 400 left");
    ok(br.period_end_ms % 3600000 == 0 && br.reset_ms > 0 && br.reset_ms <= 3600000, "the period ends on the hour");
    is_int(budget(&in, &b, "u", 500, &br), HS_OK, "500 more");
    ok(br.exhausted && br.used == 1100 && br.remaining == 0, "exhausted at 1100");
    is_int(budget(&in, &b, "u", 0, &br), HS_OK, "a look");
    ok(br.exhausted && br.used == 1100, "still exhausted");
    /* fire and forget: counted, never answered */
    int rc = hs_limit_budget(s, &b, hs_iov_cstr("v"), 0, 250, &br, NULL, NULL);
    is_int(rc, HS_AGAIN, "a budget step without done: sent");
    run_for(&in, 50);
    is_int(budget(&in, &b, "v", 0, &br), HS_OK, "then a look");
    is_int(br.used, 250, "the bytes were counted");

    hs_redis_stats_t st;
    hs_limit_redis_stats(s, &st);
    ok(st.answered >= 20 && st.errors == 0 && st.up && st.latency_count == st.answered, "counters: %llu answered",
       (unsigned long long)st.answered);
    inst_fini(&in);
    hs_limit_store_free(s);
}

/* ---- three instances ---- */
#define ATTEMPTS 1000
#define SPAN_MS 5000
typedef struct {
    uint64_t sent_ns;
    bool allowed;
    int rc;
    uint64_t retry_ns;
} attempt_t;

typedef struct {
    inst_t in;
    int k;
    uint64_t t0;
    hs_gcra_t g;
    attempt_t *att;
} worker_t;

static void *instance(void *p)
{
    worker_t *w = p;
    hs_loop_run_once(&w->in.loop, 0); /* this thread's loop */
    for (int i = w->k; i < ATTEMPTS; i += 3) {
        uint64_t at = w->t0 + (uint64_t)i * SPAN_MS * HS_NS_PER_MS / ATTEMPTS;
        struct timespec ts = {(time_t)(at / HS_NS_PER_SEC), (long)(at % HS_NS_PER_SEC)};
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
        hs_limit_result_t r;
        attempt_t *a = &w->att[i];
        a->sent_ns = mono_ns();
        a->rc = gcra(&w->in, &w->g, "shared-client", 1, &r, NULL);
        a->allowed = r.allowed;
        a->retry_ns = r.retry_after_ns;
    }
    return NULL;
}

static int by_time(const void *a, const void *b)
{
    const attempt_t *x = a, *y = b;
    return x->sent_ns < y->sent_ns ? -1 : x->sent_ns > y->sent_ns;
}

static void test_three(void)
{
    static attempt_t att[ATTEMPTS];
    worker_t w[3];
    hs_limit_store_t *stores[3];
    uint64_t t0 = mono_ns() + 50 * HS_NS_PER_MS;
    for (int k = 0; k < 3; k++) {
        stores[k] = new_store(HS_REDIS_CLOSED, 200, 0, "t3:");
        inst_init(&w[k].in, stores[k]);
        w[k].k = k;
        w[k].t0 = t0;
        w[k].g = rule(10, 10, 1, "shared");
        w[k].att = att;
    }
    pthread_t th[3];
    for (int k = 0; k < 3; k++)
        pthread_create(&th[k], NULL, instance, &w[k]);
    for (int k = 0; k < 3; k++)
        pthread_join(th[k], NULL);
    int admitted = 0, errors = 0, bad_retry = 0;
    for (int i = 0; i < ATTEMPTS; i++) {
        if (att[i].rc != HS_OK) {
            errors++;
            continue;
        }
        if (att[i].allowed)
            admitted++;
        else if (att[i].retry_ns == 0 || att[i].retry_ns > w[0].g.interval_ns ||
                 hs_ns_to_delay_seconds(att[i].retry_ns) != 1)
            bad_retry++;
    }
    /* what one instance alone admits: the GCRA on the same arrival times */
    qsort(att, ATTEMPTS, sizeof(att[0]), by_time);
    uint64_t tat = 0;
    int expect = 0;
    for (int i = 0; i < ATTEMPTS; i++) {
        hs_limit_result_t r;
        expect += hs_gcra_step(&w[0].g, &tat, att[i].sent_ns, 1, &r);
    }
    int tol = expect / 50 > 1 ? expect / 50 : 1;
    is_int(errors, 0, "1000 attempts from three instances: every one answered by Redis");
    ok(abs(admitted - expect) <= tol, "admitted %d, one instance alone admits %d (±2 %%: ±%d)", admitted, expect, tol);
    ok(expect >= 55 && expect <= 65, "the expectation itself: 11 + 10/s over ~5 s (%d)", expect);
    is_int(bad_retry, 0, "every refusal: 0 < retry-after <= 100 ms (Retry-After: 1)");
    for (int k = 0; k < 3; k++) {
        hs_redis_stats_t st;
        hs_limit_redis_stats(stores[k], &st);
        ok(st.answered >= 333 && st.errors == 0, "instance %d: %llu answered, no error", k,
           (unsigned long long)st.answered);
        inst_fini(&w[k].in);
        hs_limit_store_free(stores[k]);
    }
}

/* ---- failures ---- */
static void test_failures(void)
{
    hs_limit_store_t *open = new_store(HS_REDIS_OPEN, 50, 0, "tf:"), *closed = new_store(HS_REDIS_CLOSED, 50, 0, "tf:");
    inst_t io, ic;
    inst_init(&io, open);
    inst_init(&ic, closed);
    hs_gcra_t g = rule(10, 2, 9, "f");
    hs_limit_result_t r;
    bool sync;
    is_int(gcra(&io, &g, "k", 1, &r, &sync), HS_OK, "open: Redis answers");
    ok(!sync && r.allowed, "…through done");

    /* SCRIPT FLUSH: the next step falls back to EVAL */
    redis_srv_cmd(&R, "SCRIPT FLUSH");
    is_int(gcra(&io, &g, "k", 1, &r, &sync), HS_OK, "after SCRIPT FLUSH");
    ok(!sync && r.allowed && r.remaining == 1, "the step went through EVAL (remaining 1)");

    /* a key of the wrong type: that step fails, the connection stays */
    redis_srv_cmd(&R, "HSET %s a b", "tf:gcra:f:9:wrongtype");
    is_int(gcra(&ic, &g, "wrongtype", 1, &r, &sync), HS_ERROR, "closed: a script error is an error of the step");
    is_int(gcra(&ic, &g, "fine", 1, &r, &sync), HS_OK, "the next step is fine");
    ok(!sync, "…answered by Redis");
    hs_redis_stats_t st;
    hs_limit_redis_stats(closed, &st);
    is_int(st.script_errors, 1, "one script error counted");
    /* a value of another shape: read as no state */
    redis_srv_cmd(&R, "SET %s %s", "tf:gcra:f:9:garbage", "not a tat");
    is_int(gcra(&ic, &g, "garbage", 1, &r, NULL), HS_OK, "a foreign string value");
    ok(r.allowed && r.remaining == 2, "is no state: admitted with everything left but one");

    /* Redis killed */
    redis_srv_kill(&R);
    uint64_t t = mono_ns();
    int rc = gcra(&io, &g, "k", 1, &r, &sync);
    is_int(rc, HS_OK, "open, Redis gone: answered locally");
    ok(r.allowed, "…admitted by the local store");
    rc = gcra(&io, &g, "k", 1, &r, &sync);
    ok(rc == HS_OK && sync, "the next step: at once, without waiting (back-off)");
    rc = gcra(&ic, &g, "k", 1, &r, &sync);
    is_int(rc, HS_ERROR, "closed, Redis gone: HS_ERROR (the caller answers 503)");
    rc = gcra(&ic, &g, "k", 1, &r, &sync);
    ok(rc == HS_ERROR && sync, "…at once for the next step");
    ok(mono_ns() - t < 200 * HS_NS_PER_MS, "no step waited for the timeout");
    hs_limit_redis_stats(open, &st);
    ok(st.fallbacks >= 2 && st.unreachable >= 2 && st.outages == 1 && !st.up,
       "open: fallbacks %llu, unreachable %llu, one outage", (unsigned long long)st.fallbacks,
       (unsigned long long)st.unreachable);
    hs_limit_redis_stats(closed, &st);
    ok(st.refused >= 2 && st.outages == 1, "closed: refused %llu, one outage", (unsigned long long)st.refused);

    /* Redis back on the same socket: service resumes within the back-off */
    redis_srv_restart(&R);
    bool back_open = false, back_closed = false;
    for (long long end = redis_srv_ms() + 4000; redis_srv_ms() < end && !(back_open && back_closed);) {
        if (!back_open && gcra(&io, &g, "resume", 1, &r, &sync) == HS_OK && !sync)
            back_open = true;
        if (!back_closed && gcra(&ic, &g, "resume", 1, &r, &sync) == HS_OK && !sync)
            back_closed = true;
        run_for(&io, 20);
        run_for(&ic, 20);
    }
    ok(back_open && back_closed, "both policies: answered by Redis again after it came back");
    hs_limit_redis_stats(closed, &st);
    ok(st.up, "closed: up again");

    /* slower than the timeout: SIGSTOP */
    kill(R.pid, SIGSTOP);
    t = mono_ns();
    rc = gcra(&ic, &g, "stopped", 1, &r, &sync);
    uint64_t took = mono_ns() - t;
    ok(rc == HS_ERROR && !sync, "closed, Redis stopped: HS_ERROR through done");
    ok(took >= 45 * HS_NS_PER_MS && took < 500 * HS_NS_PER_MS, "after the 50 ms timeout (%llu ms)",
       (unsigned long long)(took / HS_NS_PER_MS));
    rc = gcra(&io, &g, "stopped", 1, &r, &sync);
    ok(rc == HS_OK && r.allowed, "open, Redis stopped: admitted locally after the timeout");
    hs_limit_redis_stats(closed, &st);
    ok(st.timeouts >= 1, "a timeout counted");
    kill(R.pid, SIGCONT);
    back_closed = false;
    for (long long end = redis_srv_ms() + 4000; redis_srv_ms() < end && !back_closed;) {
        back_closed = gcra(&ic, &g, "resume2", 1, &r, &sync) == HS_OK && !sync;
        run_for(&ic, 20);
    }
    ok(back_closed, "after SIGCONT: Redis answers again");

    inst_fini(&io);
    inst_fini(&ic);
    hs_limit_store_free(open);
    hs_limit_store_free(closed);
}

/* ---- bounds and detach ---- */
static int answered_on_detach;
static void count_done(void *arg, int rc, void *out)
{
    HS_UNUSED(out);
    int *n = arg;
    (*n)++;
    answered_on_detach += rc == HS_ERROR;
}

static void test_bounds(void)
{
    hs_limit_store_t *s = new_store(HS_REDIS_CLOSED, 500, 2, "tb:");
    inst_t in;
    inst_init(&in, s);
    hs_gcra_t g = rule(100, 100, 2, "b");
    hs_limit_result_t r[4];
    int n = 0;
    int rc0 = hs_limit_gcra(s, &g, hs_iov_cstr("a"), 0, 1, &r[0], count_done, &n);
    int rc1 = hs_limit_gcra(s, &g, hs_iov_cstr("a"), 0, 1, &r[1], count_done, &n);
    int rc2 = hs_limit_gcra(s, &g, hs_iov_cstr("a"), 0, 1, &r[2], count_done, &n);
    ok(rc0 == HS_AGAIN && rc1 == HS_AGAIN, "two steps in flight");
    is_int(rc2, HS_ERROR, "a third with max_inflight 2: the failure policy at once");
    hs_redis_stats_t st;
    hs_limit_redis_stats(s, &st);
    is_int(st.overflows, 1, "an overflow counted");
    is_int(st.in_flight, 2, "two in flight");
    /* detach with both in flight: each gets its done now */
    answered_on_detach = 0;
    inst_fini(&in);
    is_int(n, 2, "detach: both steps in flight answered");
    is_int(answered_on_detach, 2, "…with the failure policy (closed: HS_ERROR)");
    /* a thread without a loop: as during an outage */
    int rc = hs_limit_gcra(s, &g, hs_iov_cstr("a"), 0, 1, &r[3], count_done, &n);
    is_int(rc, HS_ERROR, "a thread without an attached loop: the failure policy");
    hs_limit_store_free(s);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    test_replies();
    if (redis_srv_start(&R) != 0) {
        ok(0, "redis-server could not be started (apt-get install redis-server)");
        return tap_done();
    }
    test_one();
    test_three();
    test_failures();
    test_bounds();
    redis_srv_stop(&R);
    return tap_done();
}
