/* Unit tests: rates, the GCRA step, byte budgets and the in-process store (src/core/ratelimit.c).
 * Measured bursts go through the limiter on a fake clock and the admitted counts are checked to
 * the request; a reference token bucket (the continuous-state form of the same algorithm) is
 * compared on random arrivals; several threads share one store; the cost of a step is printed as
 * a TAP comment. */
#define _GNU_SOURCE
#include "hs/crypto.h"
#include "hs/ratelimit.h"
#include "tap.h"

#include <pthread.h>
#include <time.h>

#define MS HS_NS_PER_MS
#define SEC HS_NS_PER_SEC

static hs_gcra_t rule(const char *rate, uint64_t burst)
{
    uint64_t count = 0, period = 0;
    hs_gcra_t g;
    memset(&g, 0, sizeof(g));
    if (hs_rate_parse(hs_iov_cstr(rate), &count, &period, NULL) != HS_OK ||
        hs_gcra_init(&g, count, period, burst, NULL) != HS_OK)
        printf("# (test) bad rule %s burst %llu\n", rate, (unsigned long long)burst);
    return g;
}

/* Send `n` requests, one every `gap` ns from `start`, through the pure step; count admissions. */
static unsigned burst_pure(const hs_gcra_t *g, uint64_t *tat, uint64_t start, uint64_t gap, unsigned n,
                           hs_limit_result_t *last)
{
    unsigned admitted = 0;
    for (unsigned i = 0; i < n; i++)
        admitted += hs_gcra_step(g, tat, start + i * gap, 1, last);
    return admitted;
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* ---- threads sharing one store ---- */
typedef struct shared_s {
    hs_limit_store_t *store;
    hs_gcra_t g;
    pthread_barrier_t bar;
    _Atomic uint64_t now;
    _Atomic unsigned admitted;
    int rounds, per_round;
    bool own_key; /* each thread its own key, or one key for all */
} shared_t;

typedef struct worker_s {
    shared_t *sh;
    int id;
    unsigned mine;
} worker_t;

static void *hammer(void *p)
{
    worker_t *w = p;
    shared_t *sh = w->sh;
    char key[16];
    snprintf(key, sizeof(key), sh->own_key ? "thread-%d" : "shared", w->id);
    for (int r = 0; r < sh->rounds; r++) {
        pthread_barrier_wait(&sh->bar); /* the main thread has set the clock */
        uint64_t now = atomic_load(&sh->now);
        for (int i = 0; i < sh->per_round; i++) {
            hs_limit_result_t res;
            hs_limit_gcra(sh->store, &sh->g, hs_iov_cstr(key), now, 1, &res, NULL, NULL);
            if (res.allowed) {
                atomic_fetch_add(&sh->admitted, 1);
                w->mine++;
            }
        }
        pthread_barrier_wait(&sh->bar); /* the round is over */
    }
    return NULL;
}

static void concurrency(void)
{
    enum { THREADS = 4 };
    shared_t sh = {.store = hs_limit_memstore_new(4096, 64), .g = rule("10r/s", 9), .rounds = 5, .per_round = 5000};
    sh.g.zone = 1;
    pthread_barrier_init(&sh.bar, NULL, THREADS + 1);
    pthread_t th[THREADS];
    worker_t w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker_t){&sh, i, 0};
        pthread_create(&th[i], NULL, hammer, &w[i]);
    }
    /* round 0 at t = 1000 s: a full bucket, 10 admitted in all; then the clock moves 0.3 s (3
     * tokens), 1 s (10, the whole capacity), 0.05 s (none), 0.25 s (2 + the half token left) */
    uint64_t t = 1000 * SEC, steps[] = {0, 300 * MS, 1000 * MS, 50 * MS, 250 * MS};
    unsigned want[] = {10, 3, 10, 0, 3};
    bool all = true;
    for (int r = 0; r < sh.rounds; r++) {
        t += steps[r];
        atomic_store(&sh.now, t);
        atomic_store(&sh.admitted, 0);
        pthread_barrier_wait(&sh.bar);
        pthread_barrier_wait(&sh.bar);
        unsigned got = atomic_load(&sh.admitted);
        if (got != want[r]) {
            all = false;
            printf("#   round %d: %u admitted, want %u\n", r, got, want[r]);
        }
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    ok(all, "4 threads x 5000 requests per round on one key: exactly the admitted counts of one thread");

    /* each thread its own key: each gets its own full bucket */
    shared_t sh2 = {.store = sh.store, .g = sh.g, .rounds = 1, .per_round = 2000, .own_key = true};
    pthread_barrier_init(&sh2.bar, NULL, THREADS + 1);
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker_t){&sh2, i, 0};
        pthread_create(&th[i], NULL, hammer, &w[i]);
    }
    atomic_store(&sh2.now, 5000 * SEC);
    pthread_barrier_wait(&sh2.bar);
    pthread_barrier_wait(&sh2.bar);
    bool each = true;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        each = each && w[i].mine == 10;
    }
    ok(each && atomic_load(&sh2.admitted) == 40, "4 threads, a key each: 10 admitted each");
    pthread_barrier_destroy(&sh.bar);
    pthread_barrier_destroy(&sh2.bar);
    hs_limit_store_free(sh.store);
}

/* budgets: bytes counted from several threads add up exactly */
typedef struct spend_s {
    hs_limit_store_t *store;
    const hs_budget_t *b;
} spend_t;

static void *spender(void *p)
{
    spend_t *sp = p;
    hs_budget_result_t br;
    for (int i = 0; i < 10000; i++)
        hs_limit_budget(sp->store, sp->b, HS_IOV("vhost"), 1700000000000ULL + (uint64_t)(i % 7), 10, &br, NULL, NULL);
    return NULL;
}

static void budget_threads(void)
{
    hs_limit_store_t *s = hs_limit_memstore_new(0, 100);
    hs_budget_t b;
    hs_budget_init(&b, 300000, 3600000, NULL);
    b.zone = 4;
    spend_t sp = {s, &b};
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, spender, &sp);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    hs_budget_result_t br;
    hs_limit_budget(s, &b, HS_IOV("vhost"), 1700000000100ULL, 0, &br, NULL, NULL);
    ok(br.used == 400000 && br.exhausted, "4 threads x 10000 sends of 10 bytes: 400000 counted, budget spent");
    hs_limit_store_free(s);
}

int main(void)
{
    /* ---- rates ---- */
    uint64_t count, period;
    ok(hs_rate_parse(HS_IOV("10r/s"), &count, &period, NULL) == HS_OK && count == 10 && period == 1000, "10r/s");
    ok(hs_rate_parse(HS_IOV("600r/m"), &count, &period, NULL) == HS_OK && count == 600 && period == 60000, "600r/m");
    ok(hs_rate_parse(HS_IOV("1r/h"), &count, &period, NULL) == HS_OK && count == 1 && period == 3600000, "1r/h");
    ok(hs_rate_parse(HS_IOV("100r/d"), &count, &period, NULL) == HS_OK && count == 100 && period == 86400000, "100r/d");
    const char *bad_rates[] = {
        "",       "r/s",   "0r/s",          "10r/x",  "10/s",  "10r/",   "10 r/s",
        "010r/s", "-1r/s", "1000000001r/s", "10r/ss", "10R/s", "1.5r/s", "99999999999999999999r/s"};
    for (size_t i = 0; i < HS_ARRAY_SIZE(bad_rates); i++) {
        const char *err = NULL;
        ok(hs_rate_parse(hs_iov_cstr(bad_rates[i]), &count, &period, &err) == HS_ERROR && err, "rate '%s' refused",
           bad_rates[i]);
    }
    hs_gcra_t g;
    const char *err = NULL;
    ok(hs_gcra_init(&g, 1, 86400000, 50000, &err) == HS_OK, "1r/d with burst 50000 (a window of 137 years) fits");
    ok(hs_gcra_init(&g, 1, 86400000, 60000, &err) == HS_ERROR && err, "1r/d with burst 60000 does not (%s)", err);
    ok(hs_gcra_init(&g, 1000000000, 1000, HS_BURST_MAX, &err) == HS_OK && g.interval_ns == 1, "10^9 r/s: T is 1 ns");
    ok(hs_gcra_init(&g, 10, 1000, HS_BURST_MAX + 1, &err) == HS_ERROR && err, "burst over the limit refused");
    ok(hs_gcra_init(&g, 10, 1500, 0, &err) == HS_ERROR && err, "a period that is not whole seconds refused");

    /* ---- measured bursts, fake clock ---- */
    g = rule("10r/s", 5);
    ok(g.interval_ns == 100 * MS && g.capacity == 6 && g.window_ns == 600 * MS, "10r/s burst 5: T 100 ms, C 6");
    uint64_t tat = 0;
    hs_limit_result_t r;
    is_int(burst_pure(&g, &tat, 1000 * SEC, 0, 20, &r), 6, "20 at once from idle: burst + 1 admitted");
    ok(!r.allowed && r.remaining == 0 && r.retry_after_ns == 100 * MS && hs_ns_to_delay_seconds(r.retry_after_ns) == 1,
       "the 20th: refused, retry after exactly 100 ms (Retry-After: 1)");
    is_int(burst_pure(&g, &tat, 1000 * SEC + 500 * MS, 0, 20, &r), 5, "0.5 s later: 5 more");
    is_int(burst_pure(&g, &tat, 1000 * SEC + 550 * MS, 0, 20, &r), 0, "50 ms later: none");
    ok(r.retry_after_ns == 50 * MS, "... and the wait is the 50 ms left of the interval");

    tat = 0;
    is_int(burst_pure(&g, &tat, 0, 1 * MS, 10001, &r), 106, "1 request/ms for 10 s at 10r/s burst 5: 100 + 6");
    tat = 0;
    is_int(burst_pure(&g, &tat, 0, 100 * MS, 100, &r), 100, "exactly at the rate: every request admitted");
    tat = 0;
    is_int(burst_pure(&g, &tat, 0, 99 * MS, 1000, &r), 6 + 98901 / 100,
           "one request per 99 ms for 98.9 s: C + 989 (the 1 ms a request too fast eats the burst)");

    hs_gcra_t g3 = rule("3r/s", 0);
    ok(g3.interval_ns == 333333334, "3r/s: T rounded up to 333,333,334 ns");
    tat = 0;
    is_int(burst_pure(&g3, &tat, 0, 1 * MS, 1001, &r), 3, "3r/s over [0, 1 s]: 3");
    tat = 0;
    is_int(burst_pure(&g3, &tat, 0, 1 * MS, 3001, &r), 9, "3r/s over [0, 3 s]: 9 (never above the rate)");

    hs_gcra_t gm = rule("600r/m", 0);
    tat = 0;
    is_int(burst_pure(&gm, &tat, 0, 10 * MS, 6000, &r), 600, "600r/m, one request per 10 ms for 60 s: 600");

    /* remaining, reset */
    tat = 0;
    hs_gcra_step(&g, &tat, 10 * SEC, 1, &r);
    ok(r.allowed && r.remaining == 5 && r.reset_ns == 100 * MS, "first request: 5 left, one more in 100 ms");
    hs_gcra_step(&g, &tat, 10 * SEC + 30 * MS, 1, &r);
    ok(r.allowed && r.remaining == 4 && r.reset_ns == 70 * MS, "30 ms later: 4 left, one more in 70 ms");
    hs_gcra_step(&g, &tat, 12 * SEC, 0, &r);
    ok(r.allowed && r.remaining == 6 && r.reset_ns == 0 && tat <= 12 * SEC, "a look (cost 0) after idling: full");
    hs_gcra_step(&g, &tat, 12 * SEC, 7, &r);
    ok(!r.allowed && r.retry_after_ns == UINT64_MAX, "cost above capacity: never");
    hs_gcra_step(&g, &tat, 12 * SEC, 6, &r);
    ok(r.allowed && r.remaining == 0 && r.reset_ns == 100 * MS, "cost = capacity: the whole bucket at once");
    hs_gcra_step(&g, &tat, 12 * SEC + 250 * MS, 3, &r);
    ok(!r.allowed && r.remaining == 2 && r.retry_after_ns == 50 * MS && r.reset_ns == 50 * MS,
       "cost 3 with 2.5 available: refused, 2 left, 50 ms to wait");
    ok(hs_ns_to_delay_seconds(0) == 0 && hs_ns_to_delay_seconds(1) == 1 && hs_ns_to_delay_seconds(SEC) == 1 &&
           hs_ns_to_delay_seconds(SEC + 1) == 2,
       "delay-seconds round up");

    /* a reference token bucket on random arrivals: the same decisions, waits and remainders */
    hs_prng_t pr = {99};
    bool same = true;
    for (int trial = 0; trial < 20 && same; trial++) {
        hs_gcra_t gr = rule(trial % 2 ? "7r/s" : "50r/m", hs_prng_next(&pr) % 8);
        uint64_t t = SEC, tat_r = 0, tokens = gr.window_ns, last = t; /* tokens in ns of credit */
        for (int i = 0; i < 5000 && same; i++) {
            t += hs_prng_next(&pr) % (2 * gr.interval_ns / (1 + hs_prng_next(&pr) % 4) + 1);
            uint32_t cost = (uint32_t)(hs_prng_next(&pr) % 3);
            tokens = HS_MIN(gr.window_ns, tokens + (t - last));
            last = t;
            bool want = tokens >= (uint64_t)cost * gr.interval_ns;
            uint64_t wait = want ? 0 : (uint64_t)cost * gr.interval_ns - tokens;
            if (cost > gr.capacity)
                wait = UINT64_MAX; /* more than the bucket holds: never */
            if (want)
                tokens -= (uint64_t)cost * gr.interval_ns;
            bool got = hs_gcra_step(&gr, &tat_r, t, cost, &r);
            if (got != want || r.retry_after_ns != wait || r.remaining != tokens / gr.interval_ns) {
                same = false;
                printf("#   trial %d step %d: gcra %d wait %llu rem %u; bucket %d wait %llu rem %llu\n", trial, i, got,
                       (unsigned long long)r.retry_after_ns, r.remaining, want, (unsigned long long)wait,
                       (unsigned long long)(tokens / gr.interval_ns));
            }
        }
    }
    ok(same, "GCRA = a token bucket, on 100,000 random arrivals");

    /* ---- budgets ---- */
    hs_budget_t b;
    ok(hs_budget_init(&b, 0, 1000, &err) == HS_ERROR && err, "a zero budget refused");
    ok(hs_budget_init(&b, 1, 500, &err) == HS_ERROR && err, "a period under 1 s refused");
    ok(hs_budget_init(&b, 1, 367ULL * 86400000, &err) == HS_ERROR && err, "a period over 366 d refused");
    ok(hs_budget_init(&b, 1000, 3600000, &err) == HS_OK, "1000 bytes per hour");
    uint64_t end = 0, used = 0, now = 1700000000123ULL; /* 2023-11-14T22:13:20.123Z */
    hs_budget_result_t br;
    hs_budget_step(&b, &end, &used, now, 0, &br);
    ok(!br.exhausted && br.used == 0 && br.remaining == 1000 && br.period_end_ms == 1700002800000ULL &&
           br.reset_ms == 1700002800000ULL - now,
       "a new key: nothing used, the period ends on the hour (UTC)");
    hs_budget_step(&b, &end, &used, now + 10, 600, &br);
    ok(!br.exhausted && br.used == 600 && br.remaining == 400, "600 bytes sent");
    hs_budget_step(&b, &end, &used, now + 20, 500, &br);
    ok(br.exhausted && br.used == 1100 && br.remaining == 0, "1100: spent (bytes counted as sent, past the budget)");
    hs_budget_step(&b, &end, &used, now + 30, 0, &br);
    ok(br.exhausted && hs_ns_to_delay_seconds(br.reset_ms * MS) == (1700002800000ULL - now - 30 + 999) / 1000,
       "a look: still spent, Retry-After at the period's end");
    hs_budget_step(&b, &end, &used, 1700002800000ULL, 0, &br);
    ok(!br.exhausted && br.used == 0 && br.period_end_ms == 1700006400000ULL, "the next hour starts over");
    used = UINT64_MAX - 5;
    hs_budget_step(&b, &end, &used, 1700002800001ULL, 100, &br);
    ok(br.used == UINT64_MAX && br.exhausted, "counting saturates");

    /* ---- the in-process store ---- */
    hs_limit_store_t *s = hs_limit_memstore_new(100000, 1000);
    hs_limit_memstats_t st;
    hs_limit_memstore_stats(s, &st);
    ok(st.rate_slots >= 100000 && st.rate_slots < 2 * 131072 && st.budget_slots >= 1000 && st.evicted_live == 0,
       "sizes rounded up (%zu rate slots, %zu budget slots)", st.rate_slots, st.budget_slots);
    hs_gcra_t ga = rule("1r/m", 1), gb = rule("1r/m", 1);
    ga.zone = 1;
    gb.zone = 2;
    uint64_t t0 = 50 * SEC;
    unsigned n_a = 0, n_b = 0, n_c = 0, n_long1 = 0, n_long2 = 0;
    char long1[100], long2[100];
    memset(long1, 'x', sizeof(long1));
    memcpy(long2, long1, sizeof(long2));
    long2[99] = 'y';
    for (int i = 0; i < 5; i++) {
        n_a += hs_limit_gcra(s, &ga, HS_IOV("192.0.2.1"), t0, 1, &r, NULL, NULL) == HS_OK && r.allowed;
        n_b += hs_limit_gcra(s, &gb, HS_IOV("192.0.2.1"), t0, 1, &r, NULL, NULL) == HS_OK && r.allowed;
        n_c += hs_limit_gcra(s, &ga, HS_IOV("192.0.2.2"), t0, 1, &r, NULL, NULL) == HS_OK && r.allowed;
        n_long1 += hs_limit_gcra(s, &ga, hs_iov(long1, 100), t0, 1, &r, NULL, NULL) == HS_OK && r.allowed;
        n_long2 += hs_limit_gcra(s, &ga, hs_iov(long2, 100), t0, 1, &r, NULL, NULL) == HS_OK && r.allowed;
    }
    ok(n_a == 2 && n_b == 2 && n_c == 2, "keys and zones are kept apart (%u %u %u)", n_a, n_b, n_c);
    ok(n_long1 == 2 && n_long2 == 2, "long keys that differ in their last byte are two keys");
    hs_limit_gcra(s, &ga, HS_IOV(""), t0, 1, &r, NULL, NULL);
    ok(r.allowed, "an empty key is a key");
    hs_budget_t bz;
    hs_budget_init(&bz, 100, 60000, NULL);
    bz.zone = 3;
    hs_limit_budget(s, &bz, HS_IOV("host"), 1700000000000ULL, 150, &br, NULL, NULL);
    hs_limit_budget(s, &bz, HS_IOV("host"), 1700000000001ULL, 0, &br, NULL, NULL);
    ok(br.exhausted && br.used == 150, "a budget kept in the store");
    hs_limit_budget(s, &bz, HS_IOV("other"), 1700000000001ULL, 0, &br, NULL, NULL);
    ok(!br.exhausted && br.used == 0, "another key's budget is its own");
    hs_limit_store_free(s);

    /* eviction: a small store flooded with keys stays bounded; stale states are reused silently */
    s = hs_limit_memstore_new(0, 0);
    hs_limit_memstore_stats(s, &st);
    ok(st.rate_slots == 512, "the smallest store: 512 slots");
    hs_gcra_t gf = rule("1r/h", 0);
    char key[32];
    for (int i = 0; i < 512 * 4; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        hs_limit_gcra(s, &gf, hs_iov_cstr(key), t0, 1, &r, NULL, NULL);
    }
    hs_limit_memstore_stats(s, &st);
    uint64_t ev = st.evicted_live;
    ok(ev >= 512 * 3 && ev < 512 * 4, "4x the room in live keys: the excess evicted (%llu)", (unsigned long long)ev);
    for (int i = 0; i < 512 * 4; i++) {
        snprintf(key, sizeof(key), "later%d", i);
        hs_limit_gcra(s, &gf, hs_iov_cstr(key), t0 + 3601 * SEC, 1, &r, NULL, NULL);
    }
    hs_limit_memstore_stats(s, &st);
    ok(st.evicted_live - ev < 512 * 4 - 400, "an hour later, states that expired are reused first (%llu more)",
       (unsigned long long)(st.evicted_live - ev));
    hs_limit_gcra(s, &gf, HS_IOV("later2047"), t0 + 3601 * SEC, 1, &r, NULL, NULL);
    ok(!r.allowed && r.retry_after_ns == 3600 * SEC, "the most recent key is still there");
    hs_limit_store_free(s);

    concurrency();
    budget_threads();

    /* ---- cost of a step (not asserted) ---- */
    enum { N = 2000000 };
    hs_gcra_t gp = rule("1000000r/s", 100);
    tat = 0;
    volatile unsigned sink = 0;
    double a = now_ns();
    for (int i = 0; i < N; i++)
        sink += hs_gcra_step(&gp, &tat, (uint64_t)i * 1000, 1, &r);
    double z = now_ns();
    printf("# bench: hs_gcra_step (pure): %.1f ns/op\n", (z - a) / N);
    s = hs_limit_memstore_new(65536, 0);
    gp.zone = 9;
    a = now_ns();
    for (int i = 0; i < N; i++)
        hs_limit_gcra(s, &gp, HS_IOV("192.0.2.1"), (uint64_t)i * 1000, 1, &r, NULL, NULL), sink += r.allowed;
    z = now_ns();
    printf("# bench: memory store, one key (16-byte address): %.1f ns/op\n", (z - a) / N);
    hs_iovec_t keys[1024];
    static char kb[1024][16];
    for (int i = 0; i < 1024; i++) {
        memset(kb[i], 0, 16);
        memcpy(kb[i], &i, sizeof(i));
        keys[i] = hs_iov(kb[i], 16);
    }
    a = now_ns();
    for (int i = 0; i < N; i++)
        hs_limit_gcra(s, &gp, keys[i & 1023], (uint64_t)i * 1000, 1, &r, NULL, NULL), sink += r.allowed;
    z = now_ns();
    printf("# bench: memory store, 1024 keys: %.1f ns/op\n", (z - a) / N);
    hs_limit_store_free(s);
    ok(sink > 0, "benchmarks ran");
    return tap_done();
}
