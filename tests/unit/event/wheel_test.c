/* Unit tests for the hierarchical timer wheel (src/event/wheel.c).
 *
 * Properties checked: every timer fires exactly once; never before its due time; when
 * hs_wheel_run is called every millisecond, no later than one tick after it; when the clock
 * jumps, at the first hs_wheel_run whose `now` reaches it (never skipped over); unlinking
 * prevents firing; re-linking moves a timer; hs_wheel_timeout is a lower bound on the time to
 * the earliest timer and -1 when the wheel is empty. */
#include "hs/loop.h"
#include "tap.h"

#include <stdlib.h>

typedef struct {
    hs_timer_t t; /* first member: the callback casts back */
    uint64_t due; /* the time asked for */
    uint64_t fired_at;
    int fired;
    uint64_t prev_now; /* `now` of the previous hs_wheel_run call (to detect lateness) */
} tmr_t;

static uint64_t g_now, g_prev_now;
static hs_wheel_t W; /* large: keep it off the stack */

static void on_fire(hs_timer_t *t)
{
    tmr_t *x = (tmr_t *)t;
    x->fired++;
    x->fired_at = g_now;
    x->prev_now = g_prev_now;
}

static void run_to(hs_wheel_t *w, uint64_t now)
{
    g_now = now;
    hs_wheel_run(w, now);
    g_prev_now = now;
}

static void link_t(hs_wheel_t *w, tmr_t *x, uint64_t due)
{
    x->t.cb = on_fire;
    x->due = due;
    hs_timer_link(w, &x->t, due);
}

/* xorshift, deterministic */
static uint64_t rng = 88172645463325252ull;
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void test_basic(void)
{
    hs_wheel_init(&W, 1000);
    g_prev_now = 1000;
    is_int(hs_wheel_timeout(&W, 1000), -1, "empty wheel: timeout -1");
    is_int(hs_wheel_run(&W, 1010), 0, "empty wheel: run does nothing");
    tmr_t a = {0};
    link_t(&W, &a, 1015);
    ok(hs_timer_is_linked(&a.t), "linked");
    is_int(W.count, 1, "count 1");
    int64_t to = hs_wheel_timeout(&W, 1010);
    ok(to >= 0 && to <= 5, "timeout is a lower bound (%lld <= 5)", (long long)to);
    run_to(&W, 1014);
    is_int(a.fired, 0, "not fired before due");
    run_to(&W, 1015);
    is_int(a.fired, 1, "fired at due");
    ok(!hs_timer_is_linked(&a.t), "unlinked after firing");
    is_int(W.count, 0, "count 0");
    run_to(&W, 5000);
    is_int(a.fired, 1, "fires only once");
    is_int(hs_wheel_timeout(&W, 5000), -1, "empty again: timeout -1");

    /* a timer in the past fires at the next run */
    tmr_t b = {0};
    link_t(&W, &b, 10);
    run_to(&W, 5001);
    is_int(b.fired, 1, "timer due in the past fires at the next run");
    tmr_t c = {0};
    link_t(&W, &c, 5001);
    /* the wheel has already run tick 5001, so a timer linked for 5001 now runs at 5002 */
    to = hs_wheel_timeout(&W, 5001);
    ok(to >= 0 && to <= 1, "timer due at the tick already run: timeout <= 1 (%lld)", (long long)to);
    run_to(&W, 5001);
    run_to(&W, 5002);
    is_int(c.fired, 1, "timer due at `last` fires at the next tick");
}

/* With hs_wheel_run called every millisecond, each timer fires at its due tick (+1 at most). */
static void test_every_ms(void)
{
    static const uint64_t delays[] = {1,    2,     3,     62,    63,     64,     65,     66,    127,  128,
                                      129,  191,   192,   4095,  4096,   4097,   4159,   4160,  8191, 8192,
                                      8193, 12345, 65535, 65536, 262143, 262144, 262145, 300000};
    static const uint64_t starts[] = {0, 1, 63, 64, 65, 4095, 4096, 4097, 262143, 262144, 1000000007};
    int bad = 0, total = 0;
    for (size_t s = 0; s < HS_ARRAY_SIZE(starts); s++) {
        uint64_t t0 = starts[s];
        hs_wheel_init(&W, t0);
        g_prev_now = t0;
        static tmr_t tm[HS_ARRAY_SIZE(delays) * 2];
        memset(tm, 0, sizeof(tm));
        for (size_t i = 0; i < HS_ARRAY_SIZE(delays); i++) {
            link_t(&W, &tm[i], t0 + delays[i]);
            /* and one linked a little later, from a different position of the wheel */
        }
        uint64_t end = t0 + 300002;
        size_t later = HS_ARRAY_SIZE(delays);
        for (uint64_t now = t0 + 1; now <= end; now++) {
            if (now == t0 + 77)
                for (size_t i = 0; i < HS_ARRAY_SIZE(delays); i++)
                    link_t(&W, &tm[later + i], now + delays[i] - 1 > end - 1 ? end - 1 : now + delays[i] - 1);
            /* hs_wheel_run runs timers due at or before now, so a link at `now` of a timer with
             * due > now must fire at exactly its due time */
            run_to(&W, now);
        }
        for (size_t i = 0; i < HS_ARRAY_SIZE(tm); i++) {
            total++;
            if (tm[i].fired != 1 || tm[i].fired_at < tm[i].due || tm[i].fired_at > tm[i].due + 1) {
                if (bad < 10)
                    printf("#   start %llu timer %zu due %llu (+%llu): fired %d at %llu\n", (unsigned long long)t0, i,
                           (unsigned long long)tm[i].due, (unsigned long long)(tm[i].due - t0), tm[i].fired,
                           (unsigned long long)tm[i].fired_at);
                bad++;
            }
        }
    }
    ok(bad == 0, "every-ms clock: %d timers across level boundaries fire once, at due..due+1 (%d bad)", total, bad);
}

/* 10,000 timers, delays 1 ms .. 3 h, clock advanced in random steps. */
static void test_random(void)
{
    enum { N = 10000 };
    static tmr_t tm[N];
    memset(tm, 0, sizeof(tm));
    uint64_t t0 = 123456789;
    hs_wheel_init(&W, t0);
    g_prev_now = t0;
    const uint64_t H3 = 3ull * 3600 * 1000;
    for (int i = 0; i < N; i++) {
        /* log-uniform delays so every level is populated */
        int bits = (int)(rnd() % 24);
        uint64_t d = 1 + rnd() % ((1ull << bits) + 1);
        if (d > H3)
            d = H3;
        link_t(&W, &tm[i], t0 + d);
    }
    is_int(W.count, N, "10,000 timers linked");
    uint64_t now = t0;
    int early = 0, late = 0, lb_bad = 0, checks = 0, relinked = 0, busy = 0;
    size_t ran = 0;
    while (now < t0 + H3 + 2) {
        /* hs_wheel_timeout must not exceed the real distance to the earliest timer */
        if (checks++ >= 0) {
            uint64_t earliest = UINT64_MAX;
            for (int i = 0; i < N; i++)
                if (hs_timer_is_linked(&tm[i].t) && tm[i].due < earliest)
                    earliest = tm[i].due;
            int64_t to = hs_wheel_timeout(&W, now);
            if (earliest == UINT64_MAX) {
                if (to != -1)
                    lb_bad++;
            } else {
                /* the earliest a run can fire it: its due time, but not before W.last + 1 */
                uint64_t when = earliest > W.last ? earliest : W.last + 1;
                int64_t real = when > now ? (int64_t)(when - now) : 0;
                if (to < 0 || to > real) {
                    if (lb_bad < 5)
                        printf("#   timeout %lld > real %lld at now=%llu\n", (long long)to, (long long)real,
                               (unsigned long long)now);
                    lb_bad++;
                }
            }
        }
        /* random steps: mostly small, sometimes large */
        uint64_t r = rnd() % 100;
        uint64_t step = r < 60 ? 1 + rnd() % 10 : r < 90 ? 1 + rnd() % 1000 : 1 + rnd() % 200000;
        now += step;
        g_now = now;
        ran += hs_wheel_run(&W, now);
        g_prev_now = now;
        /* right after a run at `now`, nothing is due at `now` any more: no busy loop */
        if (W.count > 0 && hs_wheel_timeout(&W, now) == 0)
            busy++;
        /* re-link a few fired timers into the future, to exercise linking at random positions */
        if (relinked < 2000 && (rnd() % 4) == 0) {
            int i = (int)(rnd() % N);
            if (tm[i].fired == 1 && now + 1 < t0 + H3) {
                uint64_t d = 1 + rnd() % (t0 + H3 - now);
                tm[i].fired = 0;
                link_t(&W, &tm[i], now + d);
                relinked++;
            }
        }
    }
    int fired_once = 0;
    for (int i = 0; i < N; i++) {
        if (tm[i].fired == 1)
            fired_once++;
        if (tm[i].fired_at < tm[i].due)
            early++;
        /* late: a previous hs_wheel_run already had now >= due but did not run it */
        if (tm[i].fired && tm[i].prev_now >= tm[i].due) {
            if (late < 5)
                printf("#   timer %d due %llu fired at %llu, but a run at %llu was already past due\n", i,
                       (unsigned long long)tm[i].due, (unsigned long long)tm[i].fired_at,
                       (unsigned long long)tm[i].prev_now);
            late++;
        }
    }
    is_int(fired_once, N, "every timer fired exactly once (relinked %d)", relinked);
    is_int(early, 0, "no timer fired before its due time");
    is_int(late, 0, "no timer skipped by a run whose now was past its due time");
    is_int(lb_bad, 0, "hs_wheel_timeout never exceeds the time to the earliest timer (%d checks)", checks);
    is_int(busy, 0, "hs_wheel_timeout is never 0 right after a run (no busy loop)");
    is_int(ran, N + relinked, "hs_wheel_run return values add up");
    is_int(W.count, 0, "wheel empty at the end");
    is_int(hs_wheel_timeout(&W, now), -1, "timeout -1 at the end");
}

/* Timers linked from hs_wheel_timeout's point of view: after each single timer link the bound
 * must hold (exhaustive over delays and start offsets around level boundaries). */
static void test_timeout_bound(void)
{
    int bad = 0, n = 0;
    for (uint64_t start = 0; start < 300; start += 7) {
        for (uint64_t d = 1; d < 20000; d = d < 200 ? d + 1 : d * 11 / 10) {
            for (uint64_t adv = 0; adv < 3; adv++) {
                uint64_t t0 = 4096 * 64 - 150 + start;
                hs_wheel_init(&W, t0);
                tmr_t a = {0};
                link_t(&W, &a, t0 + d);
                uint64_t now = t0 + (adv * d) / 3; /* run part of the way */
                g_now = now;
                hs_wheel_run(&W, now);
                int64_t to = hs_wheel_timeout(&W, now);
                int64_t real = (int64_t)(t0 + d - now);
                n++;
                if (a.fired || to < 0 || to > real) {
                    if (bad < 5)
                        printf("#   t0 %llu d %llu now %llu: timeout %lld real %lld fired %d\n", (unsigned long long)t0,
                               (unsigned long long)d, (unsigned long long)now, (long long)to, (long long)real, a.fired);
                    bad++;
                }
                /* jumping straight to the timeout reported must not skip the timer, and
                 * stepping by the reported timeout must reach it */
                int guard = 0;
                while (!a.fired && guard++ < 100000) {
                    int64_t tt = hs_wheel_timeout(&W, now);
                    if (tt < 0)
                        break;
                    now += tt > 0 ? (uint64_t)tt : 1;
                    g_now = now;
                    hs_wheel_run(&W, now);
                }
                if (!a.fired || a.fired_at != t0 + d) {
                    if (bad < 5)
                        printf("#   t0 %llu d %llu: stepping by timeouts fired %d at %llu\n", (unsigned long long)t0,
                               (unsigned long long)d, a.fired, (unsigned long long)a.fired_at);
                    bad++;
                }
            }
        }
    }
    ok(bad == 0, "timeout lower bound and timeout-driven stepping (%d cases, %d bad)", n, bad);
}

static void test_unlink_relink(void)
{
    hs_wheel_init(&W, 0);
    g_prev_now = 0;
    tmr_t a = {0}, b = {0}, c = {0}, d = {0};
    link_t(&W, &a, 100);
    link_t(&W, &b, 100);
    link_t(&W, &c, 5000);
    link_t(&W, &d, 300000);
    hs_timer_unlink(&W, &a.t);
    ok(!hs_timer_is_linked(&a.t), "unlinked");
    hs_timer_unlink(&W, &a.t); /* twice is harmless */
    is_int(W.count, 3, "count after unlink");
    hs_timer_unlink(&W, &c.t);
    hs_timer_unlink(&W, &d.t);
    run_to(&W, 400000);
    is_int(a.fired, 0, "unlinked timer (level 0) never fires");
    is_int(c.fired, 0, "unlinked timer (level 2) never fires");
    is_int(d.fired, 0, "unlinked timer (level 3) never fires");
    is_int(b.fired, 1, "its slot neighbour still fires");
    is_int(hs_wheel_timeout(&W, 400000), -1, "empty after unlinks");

    /* re-link moves */
    hs_wheel_init(&W, 0);
    memset(&a, 0, sizeof(a));
    link_t(&W, &a, 100);
    link_t(&W, &a, 50);
    is_int(W.count, 1, "re-link does not duplicate");
    run_to(&W, 49);
    is_int(a.fired, 0, "re-linked earlier: not yet");
    run_to(&W, 50);
    ok(a.fired == 1 && a.fired_at == 50, "re-linked earlier: fires at the new time");
    run_to(&W, 200);
    is_int(a.fired, 1, "and not again at the old time");

    memset(&a, 0, sizeof(a));
    link_t(&W, &a, 300);
    link_t(&W, &a, 9000);
    run_to(&W, 8999);
    is_int(a.fired, 0, "re-linked later: not at the old time");
    run_to(&W, 9000);
    ok(a.fired == 1 && a.fired_at == 9000, "re-linked later: fires at the new time");

    /* bitmap bookkeeping after unlink: the timeout must not report a stale slot forever */
    hs_wheel_init(&W, 0);
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    link_t(&W, &a, 10);
    link_t(&W, &b, 1000);
    hs_timer_unlink(&W, &a.t);
    int64_t to = hs_wheel_timeout(&W, 0);
    ok(to > 10 && to <= 1000, "after unlinking the earliest, timeout moves on (%lld)", (long long)to);
}

/* Callbacks that link and unlink timers while the wheel runs. */
static tmr_t cb_victim, cb_periodic;
static int periodic_count;
static void cb_unlink_other(hs_timer_t *t)
{
    on_fire(t);
    hs_timer_unlink(&W, &cb_victim.t);
}
static void cb_rearm(hs_timer_t *t)
{
    on_fire(t);
    if (++periodic_count < 100)
        hs_timer_link(&W, t, g_now + 7);
}
static void cb_rearm_now(hs_timer_t *t)
{
    on_fire(t);
    if (((tmr_t *)t)->fired < 3)
        hs_timer_link(&W, t, g_now); /* due now: must wait for the next tick, not loop forever */
}

static void test_callbacks(void)
{
    hs_wheel_init(&W, 0);
    tmr_t killer = {0};
    memset(&cb_victim, 0, sizeof(cb_victim));
    link_t(&W, &killer, 20);
    link_t(&W, &cb_victim, 20);
    killer.t.cb = cb_unlink_other;
    run_to(&W, 20);
    ok(killer.fired == 1 && cb_victim.fired == 0, "a callback can unlink a timer due in the same tick");
    is_int(W.count, 0, "count consistent");

    memset(&cb_periodic, 0, sizeof(cb_periodic));
    periodic_count = 0;
    link_t(&W, &cb_periodic, 27);
    cb_periodic.t.cb = cb_rearm;
    for (uint64_t now = 21; now <= 2000; now++)
        run_to(&W, now);
    is_int(periodic_count, 100, "periodic timer re-armed from its callback ran 100 times");
    is_int(cb_periodic.fired_at, 27 + 99 * 7, "and at the right times");

    tmr_t r = {0};
    link_t(&W, &r, 2005);
    r.t.cb = cb_rearm_now;
    g_now = 2005;
    size_t n = hs_wheel_run(&W, 2005);
    ok(n >= 1 && r.fired >= 1 && r.fired < 3, "a timer re-linked at `now` from its callback does not spin");
    run_to(&W, 2006);
    run_to(&W, 2007);
    is_int(r.fired, 3, "it fires again on the following ticks");
}

/* Timers beyond the wheel's span (64^4 ms ≈ 4.66 h) must not fire early. */
static void test_beyond_span(void)
{
    hs_wheel_init(&W, 1000);
    g_prev_now = 1000;
    tmr_t a = {0}, b = {0};
    const uint64_t span = 1ull << (HS_WHEEL_BITS * HS_WHEEL_LEVELS);
    link_t(&W, &a, 1000 + 24ull * 3600 * 1000); /* 24 h */
    link_t(&W, &b, 1000 + span + 5);
    uint64_t now = 1000;
    while (now < 1000 + 25ull * 3600 * 1000 && !(a.fired && b.fired)) {
        now += 1 + rnd() % 60000;
        run_to(&W, now);
    }
    ok(b.fired == 1 && b.fired_at >= b.due, "timer just past the span fires once, not early (due %llu, at %llu)",
       (unsigned long long)b.due, (unsigned long long)b.fired_at);
    ok(a.fired == 1 && a.fired_at >= a.due, "24 h timer fires once, not early (due %llu, at %llu)",
       (unsigned long long)a.due, (unsigned long long)a.fired_at);
    ok(a.fired_at < a.due + 60001 && b.fired_at < b.due + 60001, "and not much late either");
}

int main(void)
{
    test_basic();
    test_every_ms();
    test_random();
    test_timeout_bound();
    test_unlink_relink();
    test_callbacks();
    test_beyond_span();
    return tap_done();
}
