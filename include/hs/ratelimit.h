/* statusd — rate limits and byte budgets (src/core/ratelimit.c): rates as written in the
 * configuration, the GCRA step, the budget step, and the store that keeps one small state per
 * key behind an interface (an in-process store here; a shared one, e.g. on Redis, plugs in later).
 *
 * GCRA (the generic cell rate algorithm, virtual-scheduling form) keeps one number per key, the
 * theoretical arrival time (TAT) of the next request. With emission interval T (period / count)
 * and capacity C (burst + 1: what an idle client may send at once), a request costing n units at
 * time `now` is admitted when max(TAT, now) + n·T − now ≤ C·T, and then TAT becomes
 * max(TAT, now) + n·T. A TAT in the past means the same as no state at all, which is what lets
 * the store drop old keys without losing anything.
 *
 * `burst` means what it means to nginx's limit_req with nodelay: requests admitted at once beyond
 * the steady rate, so a client idle long enough may send burst + 1 back to back.
 *
 * Byte budgets count bytes sent per key in fixed periods aligned on the Unix epoch (UTC): a
 * budget `per: 1d` starts at 00:00 UTC and `1h` on the hour, identically on every instance and
 * after a restart; the period's end is the Retry-After of a 509.
 *
 * Threads: the parsing and step functions are pure (no state, any thread). A store is shared by
 * every worker: its operations are safe from any number of threads at once. */
#ifndef HS_RATELIMIT_H
#define HS_RATELIMIT_H

#include "hs/core.h"

#define HS_NS_PER_MS 1000000ULL
#define HS_NS_PER_SEC 1000000000ULL

/* ---- Rates ---- */
/* "10r/s", "600r/m", "1r/h", "100r/d": a count of 1 to 10^9 requests per second, minute, hour or
 * day. *count and *period_ms are set; HS_ERROR with *err (a static explanation) otherwise. */
int hs_rate_parse(hs_iovec_t s, uint64_t *count, uint64_t *period_ms, const char **err);

/* ---- GCRA ---- */
typedef struct hs_gcra_s {
    uint64_t interval_ns; /* T = period / count, rounded up (never admits more than the rate) */
    uint64_t window_ns;   /* C·T: how far ahead of now the TAT may run */
    uint32_t capacity;    /* C = burst + 1 */
    uint32_t count;       /* as configured: `count` requests per `period_s` (RateLimit-Policy q, w) */
    uint32_t period_s;
    uint32_t zone;    /* the store's namespace for this rule (distinct per rule, chosen by the caller) */
    const char *name; /* the policy's name (RateLimit fields; a shared store's key prefix) */
    /* a shared store's namespace instead of zone: the same in every process of a service and
     * across reloads (zone numbers follow the order a configuration was read in); 0: zone */
    uint32_t shared_zone;
} hs_gcra_t;

#define HS_BURST_MAX 1000000
/* Set up a rule: `count` requests per `period_ms` (from hs_rate_parse; whole seconds), `burst`
 * 0..HS_BURST_MAX. HS_ERROR with *err when the numbers cannot be honoured exactly (a window
 * beyond 2^62 ns). zone and name are set by the caller afterwards. */
int hs_gcra_init(hs_gcra_t *g, uint64_t count, uint64_t period_ms, uint64_t burst, const char **err);

typedef struct hs_limit_result_s {
    bool allowed;
    uint32_t remaining;      /* requests that would be admitted now, one after the other */
    uint64_t retry_after_ns; /* refused: how long until this request would be admitted; else 0 */
    uint64_t reset_ns;       /* until `remaining` next grows (0: already at capacity) */
} hs_limit_result_t;

/* One GCRA step on the state *tat (0 = no state) at now_ns for a request of `cost` units (0 only
 * looks). Pure. cost > capacity can never be admitted: refused with retry_after_ns UINT64_MAX. */
bool hs_gcra_step(const hs_gcra_t *g, uint64_t *tat, uint64_t now_ns, uint32_t cost, hs_limit_result_t *out);

/* The whole seconds a client should wait: ns rounded up (1..). For Retry-After (RFC 9110
 * §10.2.3) and the RateLimit t parameter; 0 stays 0. */
static inline uint64_t hs_ns_to_delay_seconds(uint64_t ns)
{
    return ns / HS_NS_PER_SEC + (ns % HS_NS_PER_SEC != 0);
}

/* ---- Byte budgets ---- */
typedef struct hs_budget_s {
    uint64_t bytes;     /* allowed per period */
    uint64_t period_ms; /* 1 s .. 366 d */
    uint32_t zone;
    const char *name;
    uint32_t shared_zone; /* as hs_gcra_t's */
} hs_budget_t;
/* Set up a budget. HS_ERROR with *err for a zero budget or a period outside 1 s .. 366 d. */
int hs_budget_init(hs_budget_t *b, uint64_t bytes, uint64_t period_ms, const char **err);

typedef struct hs_budget_result_s {
    bool exhausted;         /* used >= bytes: answer 509 */
    uint64_t used;          /* bytes counted in the current period, after the addition */
    uint64_t remaining;     /* bytes - used, or 0 */
    uint64_t period_end_ms; /* wall clock (Unix ms) when the current period ends */
    uint64_t reset_ms;      /* until then */
} hs_budget_result_t;

/* One budget step on the state (*period_end_ms, *used) (zeros = no state) at the wall-clock
 * now_ms: a state from an earlier period starts over, then `add` bytes are counted (0 only
 * looks). Pure. */
void hs_budget_step(const hs_budget_t *b, uint64_t *period_end_ms, uint64_t *used, uint64_t now_ms, uint64_t add,
                    hs_budget_result_t *out);

/* ---- Stores ----
 * A store keeps the state of every (rule, key) and applies one step to it atomically: the read,
 * the decision and the write are one operation, so that two workers (or two instances sharing a
 * remote store) can never both admit on the same old state.
 *
 * Keys are bytes (an address, a user name, a header value), any length; the rule's zone keeps
 * rules apart. An operation returns:
 *   HS_OK     *out is filled; `done` is not called;
 *   HS_AGAIN  (a remote store) the answer comes later: done(arg, rc, out) is called on the
 *             calling thread's event loop with rc HS_OK or HS_ERROR; out must stay valid until
 *             then (request memory);
 *   HS_ERROR  the store cannot answer (unreachable, timed out): the caller applies its failure
 *             policy (open: admit; closed: 503).
 * The in-process store always answers HS_OK at once and never calls done.
 *
 * What a caller on a request must do with a store that may be remote (the Redis store,
 * hs/redis.h), whichever it was given:
 *   - Pass done. After HS_AGAIN, done is called exactly once, on the same loop, within the
 *     store's timeout (also when the store shuts down: rc HS_ERROR) — but possibly after the
 *     request ended (the client left). So arg and out must not be request memory alone: keep
 *     them in a small heap context that the request's cleanup marks as orphaned and done frees
 *     (the pattern of hs_req_offload's done with req NULL). Return HS_AGAIN from the phase and
 *     call hs_req_resume (or answer) from done.
 *   - HS_ERROR, at once or through done: the shared store is down and its failure policy is
 *     `closed` (a store whose policy is `open` answers HS_OK from its local state instead, never
 *     HS_ERROR). Answer 503 Service Unavailable with Retry-After (RFC 9110 §15.6.4, §10.2.3),
 *     not 429: the client did nothing wrong, the service cannot judge it now.
 *   - done NULL means "do not wait": fine for counting (a budget's bytes in the log phase), where
 *     the answer is not wanted; a remote store then returns HS_AGAIN and never writes out. */
typedef struct hs_limit_store_s hs_limit_store_t;
typedef void (*hs_limit_done_cb)(void *arg, int rc, void *out);

typedef struct hs_limit_store_ops_s {
    const char *name;
    /* now_ns: a monotonic clock, the same for every call on this store (the loop's cached one) */
    int (*gcra)(hs_limit_store_t *s, const hs_gcra_t *g, hs_iovec_t key, uint64_t now_ns, uint32_t cost,
                hs_limit_result_t *out, hs_limit_done_cb done, void *arg);
    /* now_ms: the wall clock (Unix ms) */
    int (*budget)(hs_limit_store_t *s, const hs_budget_t *b, hs_iovec_t key, uint64_t now_ms, uint64_t add,
                  hs_budget_result_t *out, hs_limit_done_cb done, void *arg);
    void (*destroy)(hs_limit_store_t *s);
} hs_limit_store_ops_t;

struct hs_limit_store_s {
    const hs_limit_store_ops_t *ops;
};

static inline int hs_limit_gcra(hs_limit_store_t *s, const hs_gcra_t *g, hs_iovec_t key, uint64_t now_ns, uint32_t cost,
                                hs_limit_result_t *out, hs_limit_done_cb done, void *arg)
{
    return s->ops->gcra(s, g, key, now_ns, cost, out, done, arg);
}
static inline int hs_limit_budget(hs_limit_store_t *s, const hs_budget_t *b, hs_iovec_t key, uint64_t now_ms,
                                  uint64_t add, hs_budget_result_t *out, hs_limit_done_cb done, void *arg)
{
    return s->ops->budget(s, b, key, now_ms, add, out, done, arg);
}
static inline void hs_limit_store_free(hs_limit_store_t *s)
{
    if (s)
        s->ops->destroy(s);
}

/* ---- The in-process store ----
 * Fixed memory, allocated here once: room for about max_rate_keys rate-limit states and
 * max_budget_keys budget states (64 bytes each, rounded up), in lock-sharded hash sets of eight
 * slots. A step takes one uncontended shard lock and allocates nothing. When a key's set is full,
 * a state that no longer matters (a TAT in the past, a budget of an ended period) is reused
 * first; only when none is left is a live state evicted — the one closest to expiring (rates) or
 * with the fewest bytes counted (budgets) — and counted in `evicted_live`: that key starts over,
 * which errs on the side of admitting. Keys longer than 34 bytes are kept as a 128-bit keyed
 * hash. Sizes are capped at 2^24 states each. */
hs_limit_store_t *hs_limit_memstore_new(size_t max_rate_keys, size_t max_budget_keys);

typedef struct hs_limit_memstats_s {
    size_t rate_slots, budget_slots; /* capacity */
    uint64_t evicted_live;           /* live states dropped for lack of room */
} hs_limit_memstats_t;
/* Counters of a store made by hs_limit_memstore_new (any thread; the counters are approximate
 * while other threads work). */
void hs_limit_memstore_stats(hs_limit_store_t *s, hs_limit_memstats_t *out);

#endif
