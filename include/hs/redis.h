/* statusd — state shared by several instances through Redis (src/store/): where Redis is, the
 * rate-limit store on it, and the counters an operator watches.
 *
 * Several statusd processes on several hosts serve as one service behind a load balancer; what
 * must agree between them — rate-limit counters, WebDAV locks — lives in one Redis (or the
 * primary of a Redis Sentinel group). The rate-limit store here has the interface of every store
 * (hs/ratelimit.h); the WebDAV lock store is the dav module's (src/modules/webdav/store.h); both
 * decide with Lua scripts, so that a check and the write it allows are one atomic step in Redis
 * whichever instance asks.
 *
 * When Redis cannot answer — unreachable, or slower than the configured timeout — a failure
 * policy decides (hs_redis_failure_t): OPEN answers from this process's own state (the
 * in-process stores: the service stays up, each instance limits on its own meanwhile), CLOSED
 * makes the store fail (the caller answers 503 with Retry-After). Connections are made again with
 * a back-off; an outage is logged once when it starts and once when it ends.
 *
 * Threads: everything here is safe from any thread, except where a function says "loop thread". */
#ifndef HS_REDIS_H
#define HS_REDIS_H

#include "hs/loop.h"
#include "hs/ratelimit.h"

/* ---- Where Redis is ----
 * "unix:/run/redis/redis.sock" (an absolute path, at most 107 bytes) or "tcp://HOST:PORT" (HOST a
 * name, an IPv4 address or a bracketed IPv6 address; PORT 1..65535, default 6379). Nothing else:
 * no user, password or database in the URL (Redis AUTH is not supported: reach Redis over a
 * private network or a unix socket whose permissions keep others out). */
#define HS_REDIS_PATH_MAX 108
#define HS_REDIS_HOST_MAX 256
typedef struct hs_redis_addr_s {
    bool unix_socket;
    char path[HS_REDIS_PATH_MAX]; /* unix: the socket's path */
    char host[HS_REDIS_HOST_MAX]; /* tcp: as written (without brackets) */
    char ip[48];                  /* tcp: the numeric address connections use (hs_redis_addr_resolve) */
    int port;
} hs_redis_addr_t;

/* Parse a URL (any bytes: a configuration value). HS_OK with *out (ip empty until resolved), or
 * HS_ERROR with *err, a static explanation. Pure. */
int hs_redis_url_parse(hs_iovec_t url, hs_redis_addr_t *out, const char **err);
/* Look a tcp host name up once (getaddrinfo; blocks: start-up only) and keep its first address,
 * so that reconnecting never waits for a resolver on an event loop. Numeric hosts and unix paths
 * need no lookup. HS_OK, or HS_ERROR with *err. */
int hs_redis_addr_resolve(hs_redis_addr_t *a, const char **err);
/* "unix:/path" or "tcp://host:port", for messages (NUL-terminated into out). */
void hs_redis_addr_format(const hs_redis_addr_t *a, char *out, size_t n);

typedef enum { HS_REDIS_OPEN = 0, HS_REDIS_CLOSED = 1 } hs_redis_failure_t;

/* ---- Counters ----
 * What one kind of shared state (rate limits, WebDAV locks) did since start: plain numbers for
 * /metrics. Latency is measured from the command's send to its reply, on the statusd side. */
#define HS_REDIS_LATENCY_BUCKETS 10
extern const uint32_t hs_redis_latency_le_us[HS_REDIS_LATENCY_BUCKETS]; /* 100 µs … 100 ms */
typedef struct hs_redis_stats_s {
    uint64_t ops;         /* operations asked of the store */
    uint64_t answered;    /* answered by Redis */
    uint64_t errors;      /* not answered by Redis: the sum of the next five */
    uint64_t timeouts;    /* no reply within the timeout */
    uint64_t unreachable; /* no connection (refused, lost, in back-off) */
    uint64_t bad_replies; /* a reply of the wrong shape (another program's keys, a bug) */
    uint64_t overflows;   /* the per-worker pipeline was full (rate limits only) */
    uint64_t script_errors;
    uint64_t fallbacks; /* answered locally instead (on_failure: open) */
    uint64_t refused;   /* failed instead (on_failure: closed) */
    uint64_t connects;  /* connections made */
    uint64_t outages;   /* times Redis became unreachable (each logged once) */
    uint64_t in_flight; /* commands sent and not answered now */
    bool up;            /* the last attempt reached Redis */
    uint64_t latency_count, latency_sum_us;
    uint64_t latency_le[HS_REDIS_LATENCY_BUCKETS]; /* cumulative: replies within each bound */
} hs_redis_stats_t;

/* ---- The rate-limit store on Redis ----
 * GCRA and byte budgets as the in-process store keeps them (hs/ratelimit.h), decided by a Lua
 * script per step (EVALSHA; EVAL when Redis does not know the script yet) which reads and writes
 * the key's state in one atomic step, on Redis's clock (TIME): instances on hosts whose clocks
 * differ by milliseconds agree on every decision, which a caller's clock could not give. Each key
 * expires (PX) once its state no longer matters, so idle clients cost Redis nothing. The result
 * struct is exactly the in-process store's: remaining, reset and retry-after come from the same
 * code (hs_gcra_step) run on the state the script saw.
 *
 * Connections: one per worker loop, made on first use, pipelined (the steps of many requests in
 * flight, written once per batch of the loop, hs_loop_post), never waiting on the loop. An
 * operation returns HS_AGAIN and its done(arg, rc, out) comes on the same loop within the
 * timeout: rc HS_OK with *out, or — Redis unreachable, slower than the timeout, a bad reply, the
 * pipeline full — the failure policy: OPEN answers from the store's own in-process store (HS_OK
 * with *out, synchronously when the connection is known to be down), CLOSED gives HS_ERROR (at
 * once, or through done). A call from a thread that runs no attached loop is answered as during an
 * outage. With done NULL the caller does not wait (a budget's bytes counted in the log phase):
 * a step sent to Redis returns HS_AGAIN and out is never written; one Redis cannot take gets
 * the failure policy's answer at once, as always. */
typedef struct hs_limit_redis_opts_s {
    hs_redis_addr_t addr;       /* resolved */
    const char *prefix;         /* of every key ("statusd:"); copied */
    uint32_t timeout_ms;        /* a reply later than this is an outage (0: 50) */
    hs_redis_failure_t failure; /* on_failure */
    uint32_t max_inflight;      /* commands in flight per worker (0: 4096); beyond: failure policy */
    size_t local_keys;          /* size of the local fallback store (0: 100000 rate, 25000 budget states) */
} hs_limit_redis_opts_t;

hs_limit_store_t *hs_limit_redis_new(const hs_limit_redis_opts_t *o);
/* Give the store a worker's loop (any thread, before the loop runs operations): its connection is
 * made on the loop's thread at first use. HS_OK. */
int hs_limit_redis_attach(hs_limit_store_t *s, hs_loop_t *loop);
/* Take it back (the loop's thread, or any thread once the loop stopped running): the connection
 * is closed, and operations still in flight get their done now — the failure policy's answer.
 * Before hs_loop_destroy. */
void hs_limit_redis_detach(hs_limit_store_t *s, hs_loop_t *loop);
/* The store's counters, summed over its loops (any thread; approximate while they work). */
void hs_limit_redis_stats(hs_limit_store_t *s, hs_redis_stats_t *out);

#endif
