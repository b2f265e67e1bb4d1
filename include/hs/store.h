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
 *   - rate limits (the policy module): hs_store_limits(srv) is the store every worker steps its
 *     limits and budgets in when Redis is configured, instead of its in-process one. Its
 *     operations may answer HS_AGAIN, and HS_ERROR when Redis is down under on_failure: closed —
 *     see the callers' contract in hs/ratelimit.h (HS_ERROR → 503 with Retry-After);
 *   - WebDAV locks (the dav module): each tree's locks live in Redis (hs_store_settings), its dead
 *     properties and tombstones stay in its SQLite database;
 *   - /metrics: hs_store_stats.
 * Ownership: everything returned belongs to the configuration and lives as long as it. */
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
    /* made by the module's init, on the top settings only */
    hs_limit_store_t *limits;
    void *owner; /* the settings struct that made limits (copies share the pointer) */
} hs_store_settings_t;

extern hs_module_t hs_module_store;

/* The shared store's settings, or NULL when store.redis is not set. Any configuration struct
 * (the top's or a path's: the directives are top-only, every copy has the same values). */
const hs_store_settings_t *hs_store_settings(const hs_config_t *cfg);
/* The rate-limit store on Redis, made at start-up and attached to every worker's loop; NULL when
 * store.redis is not set (then use an in-process store). */
hs_limit_store_t *hs_store_limits(const hs_server_t *srv);

/* What the shared state did since start, for /metrics. */
typedef struct hs_store_stats_s {
    bool configured;         /* store.redis is set */
    hs_redis_stats_t limits; /* rate limits and byte budgets */
    hs_redis_stats_t locks;  /* WebDAV locks, every tree */
} hs_store_stats_t;
void hs_store_stats(const hs_server_t *srv, hs_store_stats_t *out);

#endif
