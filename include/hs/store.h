/* statusd — the shared store as configured (the `store` module, src/modules/store): what other
 * modules ask of it.
 *
 *   store: {redis: "unix:/run/redis/redis.sock", prefix: "statusd:", timeout: 50ms, on_failure: open}
 *
 * (flags --store-redis URL, --store-prefix, --store-timeout, --store-on-failure; variables
 * STATUSD_STORE_REDIS …). Without store.redis nothing is shared and nothing changes: each
 * process keeps its own rate-limit counters and each tree its locks in SQLite.
 *
 * Who uses it:
 *   - rate limits (the policy module's `limit:` and `bandwidth:`): hs_store_limits() is the store
 *     every worker steps its limits and budgets in when Redis is configured, instead of the
 *     in-process one. Its operations may answer HS_AGAIN, and HS_ERROR when Redis is down under
 *     on_failure: closed — see the callers' contract in hs/ratelimit.h (HS_ERROR → 503 with
 *     Retry-After and the cause hs_store_cause_unavailable(): store:unavailable);
 *   - WebDAV locks (the dav module): each tree's locks live in Redis (hs_store_settings), its dead
 *     properties and tombstones stay in its SQLite database;
 *   - /metrics: the module's own series (statusd_store_*), from hs_store_stats.
 * Generations: the store is made from the first configuration and kept by every reload (its
 * connections belong to the workers' loops); a reload that changes store.* says so in the log and
 * the new values apply at the next start. Ownership: the settings belong to their configuration;
 * the store lives until the last generation ends. */
#ifndef HS_STORE_H
#define HS_STORE_H

#include "hs/http.h"
#include "hs/redis.h"

/* The module's settings (store.* directives, top only), checked. */
typedef struct hs_store_settings_s {
    char *redis;      /* store.redis: the URL ("": not configured) */
    char *prefix;     /* store.prefix: of every key ("statusd:") */
    uint64_t timeout; /* store.timeout: ms (50) */
    char *on_failure; /* store.on_failure: "open" or "closed" */
    /* made by the check */
    bool on;              /* store.redis is set */
    hs_redis_addr_t addr; /* parsed (resolved by the module's init) */
    hs_redis_failure_t failure;
} hs_store_settings_t;

extern hs_module_t hs_module_store;

/* The shared store's settings, or NULL when store.redis is not set. Any configuration struct
 * (the top's or a path's: the directives are top-only, every copy has the same values). */
const hs_store_settings_t *hs_store_settings(const hs_config_t *cfg);
/* The rate-limit store on Redis, made at start-up and attached to every worker's loop; NULL when
 * store.redis is not set (then use an in-process store). Any thread. */
hs_limit_store_t *hs_store_limits(void);
/* The cause of a 503 because the shared store cannot answer under on_failure: closed. */
hs_cause_t hs_store_cause_unavailable(void);

/* What the shared state did since start, for /metrics. */
typedef struct hs_store_stats_s {
    bool configured;         /* store.redis is set */
    hs_redis_stats_t limits; /* rate limits and byte budgets */
    hs_redis_stats_t locks;  /* WebDAV locks, every tree */
} hs_store_stats_t;
void hs_store_stats(hs_store_stats_t *out);

#endif
