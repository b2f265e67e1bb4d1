/* statusd — rate limits (GCRA), byte budgets and the in-process store.
 *
 * Why GCRA: one 64-bit number per key, an O(1) step with no timer and no background sweep, an
 * exact answer to "when may this client come back" (the Retry-After nginx never sends), and a
 * state that means nothing once it is in the past — so a full table can reuse those slots
 * without changing any decision. The algorithm is the ATM Forum's virtual scheduling; see the
 * header for the formula and the meaning of burst.
 *
 * Why integer nanoseconds: the emission interval of 3r/s is 333,333,333.3 ns; rounding it up to
 * 333,333,334 ns keeps the limiter on the safe side (at most the configured rate) with an error
 * of one nanosecond per request, and keeps every comparison exact — a test can predict admitted
 * counts to the request.
 *
 * The store: the table is split into 64 shards, each with its own (spin) lock, so that workers touching
 * different keys rarely meet; within a shard a key hashes to a set of eight 64-byte slots (one
 * cache line each) searched in place. The hash is SipHash-1-3 under a key drawn at creation, so
 * that nobody can aim many keys at one set and push other clients' states out. Nothing is
 * allocated after creation. Budgets live in a table of their own: their clock (the wall clock)
 * and their lifetimes (days) are not comparable with those of rate states. */
#define _GNU_SOURCE
#include "hs/ratelimit.h"

#include "hs/crypto.h"

#include <sched.h>
#include <stdlib.h>

/* ---- rates ---- */

int hs_rate_parse(hs_iovec_t s, uint64_t *count, uint64_t *period_ms, const char **err)
{
    const char *dummy;
    if (!err)
        err = &dummy;
    *err = "expected a rate such as 10r/s, 600r/m, 1r/h or 100r/d";
    if (!s.base || s.len < 4 || s.base[s.len - 2] != '/' || s.base[s.len - 3] != 'r')
        return HS_ERROR;
    uint64_t n, unit;
    hs_iovec_t digits = hs_iov(s.base, s.len - 3);
    if (!hs_parse_u64(digits, &n) || (digits.len > 1 && digits.base[0] == '0'))
        return HS_ERROR;
    switch (s.base[s.len - 1]) {
    case 's': unit = 1000; break;
    case 'm': unit = 60 * 1000; break;
    case 'h': unit = 3600 * 1000; break;
    case 'd': unit = 86400 * 1000; break;
    default: return HS_ERROR;
    }
    if (n == 0 || n > 1000000000) {
        *err = "the number of requests in a rate must be 1 to 1000000000";
        return HS_ERROR;
    }
    *count = n;
    *period_ms = unit;
    return HS_OK;
}

/* ---- GCRA ---- */

#define WINDOW_MAX (1ULL << 62)

int hs_gcra_init(hs_gcra_t *g, uint64_t count, uint64_t period_ms, uint64_t burst, const char **err)
{
    const char *dummy;
    if (!err)
        err = &dummy;
    if (count == 0 || count > 1000000000 || period_ms < 1000 || period_ms % 1000 || period_ms > 86400000ULL) {
        *err = "a rate must be 1 to 1000000000 requests per second, minute, hour or day";
        return HS_ERROR;
    }
    if (burst > HS_BURST_MAX) {
        *err = "burst must be 0 to 1000000";
        return HS_ERROR;
    }
    uint64_t period_ns = period_ms * HS_NS_PER_MS;
    uint64_t t = period_ns / count + (period_ns % count != 0);
    uint64_t c = burst + 1;
    if (t > WINDOW_MAX / c) {
        *err = "burst too large for this rate (the burst would span centuries)";
        return HS_ERROR;
    }
    *g = (hs_gcra_t){.interval_ns = t,
                     .window_ns = t * c,
                     .capacity = (uint32_t)c,
                     .count = (uint32_t)count,
                     .period_s = (uint32_t)(period_ms / 1000)};
    return HS_OK;
}

/* remaining and reset_ns for the state tat at now: y = C·T − (TAT − now) is the room left, in
 * time; remaining = ⌊y / T⌋ and it grows when y reaches the next multiple of T. */
static void gcra_report(const hs_gcra_t *g, uint64_t tat, uint64_t now, hs_limit_result_t *out)
{
    uint64_t ahead = tat > now ? tat - now : 0;
    if (ahead > g->window_ns)
        ahead = g->window_ns; /* a state left by a stricter rule, or a clock that went back */
    uint64_t room = g->window_ns - ahead;
    uint64_t r = room / g->interval_ns;
    out->remaining = (uint32_t)r;
    out->reset_ns = r >= g->capacity ? 0 : (r + 1) * g->interval_ns - room;
}

bool hs_gcra_step(const hs_gcra_t *g, uint64_t *tat, uint64_t now_ns, uint32_t cost, hs_limit_result_t *out)
{
    uint64_t base = *tat > now_ns ? *tat : now_ns;
    if (cost > g->capacity) {
        gcra_report(g, *tat, now_ns, out);
        out->allowed = false;
        out->retry_after_ns = UINT64_MAX;
        return false;
    }
    uint64_t next = base + (uint64_t)cost * g->interval_ns; /* <= now + 2^63: no overflow */
    if (next - now_ns <= g->window_ns) {
        *tat = next;
        out->allowed = true;
        out->retry_after_ns = 0;
        gcra_report(g, next, now_ns, out);
        return true;
    }
    out->allowed = false;
    out->retry_after_ns = next - now_ns - g->window_ns;
    gcra_report(g, *tat, now_ns, out);
    return false;
}

/* ---- budgets ---- */

#define BUDGET_PERIOD_MAX (366ULL * 86400 * 1000)

int hs_budget_init(hs_budget_t *b, uint64_t bytes, uint64_t period_ms, const char **err)
{
    const char *dummy;
    if (!err)
        err = &dummy;
    if (bytes == 0) {
        *err = "a byte budget must be at least one byte";
        return HS_ERROR;
    }
    if (period_ms < 1000 || period_ms > BUDGET_PERIOD_MAX) {
        *err = "a budget period must be 1s to 366d";
        return HS_ERROR;
    }
    *b = (hs_budget_t){.bytes = bytes, .period_ms = period_ms};
    return HS_OK;
}

void hs_budget_step(const hs_budget_t *b, uint64_t *period_end_ms, uint64_t *used, uint64_t now_ms, uint64_t add,
                    hs_budget_result_t *out)
{
    if (*period_end_ms <= now_ms || *period_end_ms - now_ms > b->period_ms) {
        /* no state, an ended period, or one from a longer rule: the current period starts over */
        *period_end_ms = now_ms - now_ms % b->period_ms + b->period_ms;
        *used = 0;
    }
    *used = *used + add < *used ? UINT64_MAX : *used + add;
    out->used = *used;
    out->exhausted = *used >= b->bytes;
    out->remaining = out->exhausted ? 0 : b->bytes - *used;
    out->period_end_ms = *period_end_ms;
    out->reset_ms = *period_end_ms - now_ms;
}

/* ---- SipHash-1-3 (Aumasson & Bernstein), 64-bit output ---- */

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                                                       \
    do {                                                                                                               \
        v0 += v1;                                                                                                      \
        v1 = ROTL(v1, 13);                                                                                             \
        v1 ^= v0;                                                                                                      \
        v0 = ROTL(v0, 32);                                                                                             \
        v2 += v3;                                                                                                      \
        v3 = ROTL(v3, 16);                                                                                             \
        v3 ^= v2;                                                                                                      \
        v0 += v3;                                                                                                      \
        v3 = ROTL(v3, 21);                                                                                             \
        v3 ^= v0;                                                                                                      \
        v2 += v1;                                                                                                      \
        v1 = ROTL(v1, 17);                                                                                             \
        v1 ^= v2;                                                                                                      \
        v2 = ROTL(v2, 32);                                                                                             \
    } while (0)

static uint64_t siphash13(const uint64_t k[2], uint64_t prefix, const void *data, size_t n)
{
    uint64_t v0 = 0x736f6d6570736575ULL ^ k[0], v1 = 0x646f72616e646f6dULL ^ k[1];
    uint64_t v2 = 0x6c7967656e657261ULL ^ k[0], v3 = 0x7465646279746573ULL ^ k[1];
    const unsigned char *p = data;
    /* the zone and kind go in first, as a 64-bit word of their own */
    v3 ^= prefix;
    SIPROUND;
    v0 ^= prefix;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t m;
        memcpy(&m, p + i, 8); /* little-endian hosts: the byte order SipHash is defined in */
        v3 ^= m;
        SIPROUND;
        v0 ^= m;
    }
    uint64_t last = (uint64_t)((n + 8) & 0xff) << 56;
    for (size_t j = 0; i + j < n; j++)
        last |= (uint64_t)p[i + j] << (8 * j);
    v3 ^= last;
    SIPROUND;
    v0 ^= last;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

/* ---- the in-process store ---- */

#define WAYS 8
#define SHARDS 64
#define KEY_INLINE 34
#define LONG_KEY 0x80 /* klen flag: key[] holds a 16-byte keyed hash of a longer key */
#define SLOTS_MAX (1u << 24)

typedef struct slot_s {
    uint64_t h;  /* 0: free */
    uint64_t v0; /* rates: TAT (ns); budgets: period end (Unix ms) */
    uint64_t v1; /* budgets: bytes used */
    uint32_t zone;
    uint8_t klen;
    uint8_t pad;
    unsigned char key[KEY_INLINE];
} slot_t;
_Static_assert(sizeof(slot_t) == 64, "a slot is one cache line");

/* A shard's lock: held for a few dozen instructions (find the slot, one step), never across
 * anything that blocks, so a spin lock (test and test-and-set) costs two atomic operations where
 * an uncontended mutex costs a call each way — a tenth of a limited request's price. */
typedef struct spin_s {
    _Atomic int held;
} spin_t;

static inline void spin_lock(spin_t *l)
{
    while (atomic_exchange_explicit(&l->held, 1, memory_order_acquire))
        while (atomic_load_explicit(&l->held, memory_order_relaxed))
            sched_yield(); /* another thread holds it for a moment: let it finish (one core) */
}

static inline void spin_unlock(spin_t *l)
{
    atomic_store_explicit(&l->held, 0, memory_order_release);
}

typedef struct shard_s {
    spin_t mu;
    slot_t *sets; /* nsets * WAYS */
    _Atomic uint64_t evicted_live;
} __attribute__((aligned(64))) shard_t;

typedef struct table_s {
    shard_t shards[SHARDS];
    size_t nsets; /* per shard, a power of two */
} table_t;

typedef struct memstore_s {
    hs_limit_store_t base;
    uint64_t sipkey[2], sipkey2[2];
    table_t rates, budgets;
} memstore_t;

/* A key as stored: inline when short, else a 128-bit keyed hash of it. */
typedef struct skey_s {
    unsigned char b[KEY_INLINE];
    uint8_t len;
} skey_t;

static void make_key(const memstore_t *m, uint32_t zone, hs_iovec_t key, skey_t *k, uint64_t *h)
{
    uint64_t prefix = (uint64_t)zone << 8;
    if (key.len <= KEY_INLINE) {
        if (key.len)
            memcpy(k->b, key.base, key.len);
        k->len = (uint8_t)key.len;
    } else {
        uint64_t a = siphash13(m->sipkey, prefix | 1, key.base, key.len);
        uint64_t b = siphash13(m->sipkey2, prefix | 1, key.base, key.len);
        memcpy(k->b, &a, 8);
        memcpy(k->b + 8, &b, 8);
        k->len = LONG_KEY | 16;
    }
    *h = siphash13(m->sipkey, prefix, k->b, k->len & ~LONG_KEY);
    *h |= *h == 0; /* 0 marks a free slot; slots compare klen too, so short and long keys never meet */
}

static bool table_init(table_t *t, size_t max_keys)
{
    if (max_keys < SHARDS * WAYS)
        max_keys = SHARDS * WAYS;
    if (max_keys > SLOTS_MAX)
        max_keys = SLOTS_MAX;
    size_t per = (max_keys + SHARDS * WAYS - 1) / (SHARDS * WAYS), nsets = 1;
    while (nsets < per)
        nsets <<= 1;
    t->nsets = nsets;
    for (int i = 0; i < SHARDS; i++) {
        shard_t *s = &t->shards[i];
        atomic_init(&s->mu.held, 0);
        atomic_init(&s->evicted_live, 0);
        s->sets = aligned_alloc(64, nsets * WAYS * sizeof(slot_t));
        if (!s->sets)
            return false;
        memset(s->sets, 0, nsets * WAYS * sizeof(slot_t));
    }
    return true;
}

static void table_fini(table_t *t)
{
    for (int i = 0; i < SHARDS; i++) {
        free(t->shards[i].sets);
    }
}

/* The slot for (zone, key) in its locked shard: the existing one, or a reused one (cleared, with
 * the key written). `stale(slot)` says a slot's state no longer matters; `worth(slot)` ranks the
 * live ones (the smallest is evicted). */
typedef bool (*stale_fn)(const slot_t *s, uint64_t now);
typedef uint64_t (*worth_fn)(const slot_t *s);

static slot_t *find_slot(shard_t *sh, slot_t *set, uint64_t h, uint32_t zone, const skey_t *k, uint64_t now,
                         stale_fn stale, worth_fn worth)
{
    slot_t *reuse = NULL;
    for (int i = 0; i < WAYS; i++) {
        slot_t *s = &set[i];
        if (s->h == h && s->zone == zone && s->klen == k->len && memcmp(s->key, k->b, k->len & ~LONG_KEY) == 0)
            return s;
        if (!reuse && (s->h == 0 || stale(s, now)))
            reuse = s;
    }
    if (!reuse) {
        reuse = &set[0];
        for (int i = 1; i < WAYS; i++)
            if (worth(&set[i]) < worth(reuse))
                reuse = &set[i];
        atomic_fetch_add_explicit(&sh->evicted_live, 1, memory_order_relaxed);
    }
    memset(reuse, 0, sizeof(*reuse));
    reuse->h = h;
    reuse->zone = zone;
    reuse->klen = k->len;
    memcpy(reuse->key, k->b, k->len & ~LONG_KEY);
    return reuse;
}

static inline shard_t *shard_of(table_t *t, uint64_t h, slot_t **set)
{
    shard_t *sh = &t->shards[h >> 58]; /* SHARDS == 64: the top six bits */
    *set = &sh->sets[(h & (t->nsets - 1)) * WAYS];
    return sh;
}

static bool rate_stale(const slot_t *s, uint64_t now)
{
    return s->v0 <= now;
}
static uint64_t rate_worth(const slot_t *s)
{
    return s->v0; /* the TAT nearest to now holds the least */
}
static bool budget_stale(const slot_t *s, uint64_t now)
{
    return s->v0 <= now;
}
static uint64_t budget_worth(const slot_t *s)
{
    return s->v1;
}

static int mem_gcra(hs_limit_store_t *base, const hs_gcra_t *g, hs_iovec_t key, uint64_t now_ns, uint32_t cost,
                    hs_limit_result_t *out, hs_limit_done_cb done, void *arg)
{
    memstore_t *m = (memstore_t *)base;
    skey_t k;
    uint64_t h;
    slot_t *set;
    make_key(m, g->zone, key, &k, &h);
    shard_t *sh = shard_of(&m->rates, h, &set);
    spin_lock(&sh->mu);
    slot_t *s = find_slot(sh, set, h, g->zone, &k, now_ns, rate_stale, rate_worth);
    hs_gcra_step(g, &s->v0, now_ns, cost, out);
    spin_unlock(&sh->mu);
    return HS_OK;
}

static int mem_budget(hs_limit_store_t *base, const hs_budget_t *b, hs_iovec_t key, uint64_t now_ms, uint64_t add,
                      hs_budget_result_t *out, hs_limit_done_cb done, void *arg)
{
    memstore_t *m = (memstore_t *)base;
    skey_t k;
    uint64_t h;
    slot_t *set;
    make_key(m, b->zone, key, &k, &h);
    shard_t *sh = shard_of(&m->budgets, h, &set);
    spin_lock(&sh->mu);
    slot_t *s = find_slot(sh, set, h, b->zone, &k, now_ms, budget_stale, budget_worth);
    hs_budget_step(b, &s->v0, &s->v1, now_ms, add, out);
    spin_unlock(&sh->mu);
    return HS_OK;
}

static void mem_destroy(hs_limit_store_t *base)
{
    memstore_t *m = (memstore_t *)base;
    table_fini(&m->rates);
    table_fini(&m->budgets);
    free(m);
}

static const hs_limit_store_ops_t memstore_ops = {"memory", mem_gcra, mem_budget, mem_destroy};

hs_limit_store_t *hs_limit_memstore_new(size_t max_rate_keys, size_t max_budget_keys)
{
    memstore_t *m = aligned_alloc(64, sizeof(memstore_t));
    if (!m)
        hs__oom(sizeof(memstore_t));
    memset(m, 0, sizeof(*m));
    m->base.ops = &memstore_ops;
    hs_random(m->sipkey, sizeof(m->sipkey));
    hs_random(m->sipkey2, sizeof(m->sipkey2));
    if (!table_init(&m->rates, max_rate_keys) || !table_init(&m->budgets, max_budget_keys))
        hs__oom(SHARDS * WAYS * sizeof(slot_t));
    return &m->base;
}

void hs_limit_memstore_stats(hs_limit_store_t *base, hs_limit_memstats_t *out)
{
    memstore_t *m = (memstore_t *)base;
    out->rate_slots = SHARDS * m->rates.nsets * WAYS;
    out->budget_slots = SHARDS * m->budgets.nsets * WAYS;
    out->evicted_live = 0;
    for (int i = 0; i < SHARDS; i++)
        out->evicted_live += atomic_load_explicit(&m->rates.shards[i].evicted_live, memory_order_relaxed) +
                             atomic_load_explicit(&m->budgets.shards[i].evicted_live, memory_order_relaxed);
}
