/* statusd — internals of the Redis stores (src/store/): the hiredis adapter for our event loop,
 * a pool of synchronous connections, scripts, counters, and the checks of what Redis answers
 * (exposed for the unit tests and the fuzz target).
 *
 * hiredis 0.14 (Debian bookworm's libhiredis) is the client: its reader parses replies, its async
 * context keeps the queue of callbacks, and the adapter below plugs it into hs_loop the way its
 * own adapters (libev, libuv) plug it into theirs. Every reply is checked here before it is
 * believed: a reply of the wrong shape is an error of that one operation, never an abort. */
#ifndef HS_STORE_REDIS_INTERNAL_H
#define HS_STORE_REDIS_INTERNAL_H

#include "hs/redis.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdatomic.h>

/* Replies larger than this are refused (the connection is dropped): our scripts answer with a
 * few numbers or a bounded list of lock records. */
#define HS__REDIS_REPLY_MAX (8u << 20)

/* ---- counters (hs_redis_stats_t as it is being counted) ---- */
typedef struct hs__redis_counters_s {
    _Atomic uint64_t ops, answered, timeouts, unreachable, bad_replies, overflows, script_errors, fallbacks, refused,
        connects, outages, in_flight;
    _Atomic bool up;
    _Atomic uint64_t latency_count, latency_sum_us, latency_bucket[HS_REDIS_LATENCY_BUCKETS + 1];
} hs__redis_counters_t;

/* Count from any thread (an atomic add). */
#define HS__STAT_ADD(c, field, n) atomic_fetch_add_explicit(&(c)->field, (n), memory_order_relaxed)
/* Count from the one thread that owns these counters (a load and a store, no locked instruction;
 * readers on other threads see a recent value). */
#define HS__STAT_BUMP(c, field, n)                                                                                     \
    atomic_store_explicit(&(c)->field, atomic_load_explicit(&(c)->field, memory_order_relaxed) + (n),                  \
                          memory_order_relaxed)
/* A reply's latency, into the histogram (owner: BUMP, else ADD). */
void hs__redis_latency(hs__redis_counters_t *c, uint64_t us, bool owner);
/* Add c's counters into out (which the caller zeroed, or which holds other counters). */
void hs__redis_stats_add(const hs__redis_counters_t *c, hs_redis_stats_t *out);

/* ---- scripts ---- */
typedef struct hs__redis_script_s {
    const char *name;
    const char *body;
    char sha[41]; /* hex SHA-1 of body (hs__redis_script_init) */
} hs__redis_script_t;
/* Compute the SHA-1 EVALSHA names the script by. Call it once before threads share the script
 * (store creation does); later calls only read. */
void hs__redis_script_init(hs__redis_script_t *s);
/* Is the reply Redis's "this script is not loaded" error? */
bool hs__redis_noscript(const redisReply *r);

/* RESP for EVALSHA sha (or EVAL body when `eval`) numkeys args…: appended to b. */
void hs__redis_format_eval(hs_buf_t *b, const hs__redis_script_t *s, bool eval, int nkeys, int nargs,
                           const hs_iovec_t *args);

/* ---- the hiredis adapter for hs_loop (adapter.c) ----
 * Attach a fresh async context (redisAsyncConnect*) to a loop, on the loop's thread. Reads are
 * level-triggered (hiredis reads 16 KiB at a time and is told again while more waits); what
 * commands add to the output buffer is written once at the end of the loop's batch
 * (hs_loop_post), so the steps of every request of a batch leave in one write. The descriptor is
 * taken off the loop by hiredis's cleanup hook (redisAsyncFree, or a connection error), after
 * which the adapter calls on_gone(arg, the context that went) once; its memory is released at the
 * loop's next dispose.
 * HS_OK, or -errno (the context is then not attached: free it). */
typedef struct hs__redis_adapter_s hs__redis_adapter_t;
int hs__redis_attach(redisAsyncContext *ac, hs_loop_t *loop, void (*on_gone)(void *arg, const redisAsyncContext *gone),
                     void *arg);
/* Reply objects as hiredis builds them, bounded: strings up to HS__REDIS_REPLY_MAX bytes, arrays
 * up to 100000 elements; with the reader's privdata set to an async context, a top-level reply
 * while no command waits is refused too (hiredis 0.14 would assert). A refusal is a reader error
 * (the connection is dropped), never an abort. Used by the adapter and the pool. */
extern redisReplyObjectFunctions hs__redis_reply_functions;

/* ---- checking replies (pure; the fuzz target drives them) ---- */
/* A GCRA script's reply: the string "ADMITTED SECONDS NANOSECONDS" (admitted 0 or 1; how far the
 * key's TAT lay after Redis's now before this step, 0 when in the past) — one string rather than
 * an array of integers: one object for the reader to build instead of five. HS_OK with the
 * numbers (ahead_ns capped at 2^62), HS_ERROR for anything else. */
int hs__redis_gcra_reply(const redisReply *r, bool *admitted, uint64_t *ahead_ns);
/* The result the in-process store would give for a step of `cost` on a state `ahead_ns` ahead of
 * now — the same code (hs_gcra_step) on a state shifted to a fixed origin. HS_ERROR when the
 * script's verdict differs (a script of another version, or a corrupted reply). */
int hs__redis_gcra_result(const hs_gcra_t *g, uint32_t cost, bool admitted, uint64_t ahead_ns, hs_limit_result_t *out);
/* A budget script's reply: the string "PERIOD_END_MS NOW_MS USED". HS_OK with *out filled as
 * hs_budget_step would, HS_ERROR otherwise. */
int hs__redis_budget_reply(const hs_budget_t *b, const redisReply *r, hs_budget_result_t *out);

/* ---- a pool of synchronous connections (pool.c), for callers that may block briefly ----
 * Used by the WebDAV lock store from workers and helper threads alike. An operation takes an
 * idle connection (or connects, within the timeout), runs one script, and gives the connection
 * back; the whole operation — connect, write, reply — is bounded by the timeout. After a
 * failure the pool is "down" for a back-off (timeout, doubling, at most 2 s): operations fail at
 * once meanwhile instead of each waiting, and the first one after it tries again. Any thread. */
typedef struct hs__redis_pool_s hs__redis_pool_t;
hs__redis_pool_t *hs__redis_pool_new(const hs_redis_addr_t *a, uint32_t timeout_ms, hs__redis_counters_t *stats,
                                     const char *what); /* what: "WebDAV locks", for messages */
void hs__redis_pool_free(hs__redis_pool_t *p);
/* Run a script with nkeys keys then the other args. HS_OK with *out (the caller frees it with
 * freeReplyObject; an error reply of the script is HS_OK too: look at its type), or
 * -ETIMEDOUT (slower than the timeout), -ECONNREFUSED (unreachable, or in back-off), -EPROTO
 * (a reply beyond the bound, a protocol error). */
int hs__redis_pool_eval(hs__redis_pool_t *p, hs__redis_script_t *s, int nkeys, int nargs, const hs_iovec_t *args,
                        redisReply **out);
/* A plain command (GET key …) the same way. */
int hs__redis_pool_command(hs__redis_pool_t *p, int argc, const hs_iovec_t *argv, redisReply **out);
/* What the outage message adds (the failure policy's consequence, "…: locks fall back to …"). */
void hs__redis_pool_note(hs__redis_pool_t *p, const char *note);
/* Was the pool's last attempt a success? */
bool hs__redis_pool_up(hs__redis_pool_t *p);

/* The counters of every WebDAV tree's lock operations: one set per process (hs_store_stats). */
hs__redis_counters_t *hs__store_lock_counters(void);

/* Microseconds of the monotonic clock. */
uint64_t hs__redis_now_us(void);

#endif
