/* statusd — the `store` module: where the state several instances share lives (see hs/store.h).
 *
 * It serves no request. Its directives say where Redis is and what to do when Redis cannot
 * answer; its init makes the rate-limit store on Redis, its init_worker gives that store each
 * worker's loop (the connection itself is made on the worker, at first use), its fini_worker
 * takes it back when the worker is done, and the top settings' release frees the store when the
 * configuration goes — after the workers, as every module's settings.
 *
 * A host name in store.redis is resolved once at start (a resolver must never stall an event
 * loop); an address or a unix socket needs no lookup. Nothing connects at start: `statusd -t`
 * checks the URL, and a Redis that is down when statusd starts is an outage like any other
 * (logged, the failure policy answers, connections are tried again with a back-off). */
#define _GNU_SOURCE
#include "hs/store.h"

#include "../../store/redis.h"

#include <stdio.h>
#include <stdlib.h>

#define OFF(f) offsetof(hs_store_settings_t, f)
HS_DIRECTIVES_BEGIN
static const hs_directive_t directives[] = {
    {"store.redis", HS_DT_STRING, OFF(redis), "", "URL",
     "share rate limits and WebDAV locks with the other instances of a service through Redis: unix:/PATH or "
     "tcp://HOST:PORT (default: each process keeps its own)",
     0, 0, HS_SCOPE_TOP},
    {"store.prefix", HS_DT_STRING, OFF(prefix), "statusd:", "PREFIX",
     "the start of every Redis key statusd writes; the instances of one service use the same", 0, 0, HS_SCOPE_TOP},
    {"store.timeout", HS_DT_DURATION, OFF(timeout), "50ms", "DURATION",
     "a Redis reply later than this is an outage: on_failure decides, and the connection is made again", 1, 60000,
     HS_SCOPE_TOP},
    {"store.on_failure", HS_DT_STRING, OFF(on_failure), "open", "open|closed",
     "when Redis is unreachable or slow: open = each instance decides alone meanwhile (its own rate limits, its "
     "SQLite locks), logged once; closed = rate-limited requests and WebDAV lock changes get 503 with Retry-After",
     0, 0, HS_SCOPE_TOP},
};
HS_DIRECTIVES_END
#undef OFF

static int check(hs_config_t *cfg, const hs_pathconf_t *path, void *p, const char **bad, char *err, size_t errlen)
{
    HS_UNUSED(cfg);
    HS_UNUSED(path);
    hs_store_settings_t *c = p;
    const char *why;
    if (!c->on_failure || (strcmp(c->on_failure, "open") && strcmp(c->on_failure, "closed"))) {
        *bad = "store.on_failure";
        snprintf(err, errlen, "store.on_failure is open or closed, got '%s'", c->on_failure ? c->on_failure : "");
        return HS_ERROR;
    }
    c->failure = strcmp(c->on_failure, "closed") ? HS_REDIS_OPEN : HS_REDIS_CLOSED;
    if (c->prefix && strlen(c->prefix) > 128) {
        *bad = "store.prefix";
        snprintf(err, errlen, "store.prefix is at most 128 bytes");
        return HS_ERROR;
    }
    c->on = c->redis && c->redis[0];
    if (!c->on)
        return HS_OK;
    hs_redis_addr_t a;
    if (hs_redis_url_parse(hs_iov_cstr(c->redis), &a, &why) != HS_OK) {
        *bad = "store.redis";
        snprintf(err, errlen, "store.redis: %s, got '%s'", why, c->redis);
        return HS_ERROR;
    }
    /* a copy of the top's settings keeps the address the top resolved */
    if (!(c->addr.ip[0] && !strcmp(c->addr.host, a.host) && c->addr.port == a.port))
        c->addr = a;
    return HS_OK;
}

static void release(void *p)
{
    hs_store_settings_t *c = p;
    if (c->limits && c->owner == c)
        hs_limit_store_free(c->limits);
    c->limits = NULL;
    c->owner = NULL;
}

const hs_store_settings_t *hs_store_settings(const hs_config_t *cfg)
{
    const hs_store_settings_t *c = cfg->mod[hs_module_store.index];
    return c && c->on ? c : NULL;
}

hs_limit_store_t *hs_store_limits(const hs_server_t *srv)
{
    const hs_store_settings_t *c = hs_server_conf(srv, &hs_module_store);
    return c && c->on ? c->limits : NULL;
}

void hs_store_stats(const hs_server_t *srv, hs_store_stats_t *out)
{
    memset(out, 0, sizeof(*out));
    const hs_store_settings_t *c = hs_server_conf(srv, &hs_module_store);
    out->configured = c && c->on;
    if (c && c->on && c->limits)
        hs_limit_redis_stats(c->limits, &out->limits);
    hs__redis_stats_add(hs__store_lock_counters(), &out->locks);
}

static int init(hs_server_t *srv)
{
    hs_store_settings_t *c = hs_server_conf(srv, &hs_module_store);
    if (!c || !c->on || c->limits)
        return HS_OK;
    const char *why;
    if (hs_redis_addr_resolve(&c->addr, &why) != HS_OK) {
        fprintf(stderr, "statusd: store.redis %s: %s\n", c->redis, why);
        return HS_ERROR;
    }
    hs_limit_redis_opts_t o = {.addr = c->addr,
                               .prefix = c->prefix ? c->prefix : "",
                               .timeout_ms = (uint32_t)c->timeout,
                               .failure = c->failure};
    c->limits = hs_limit_redis_new(&o);
    c->owner = c;
    char url[HS_REDIS_PATH_MAX + HS_REDIS_HOST_MAX + 16];
    hs_redis_addr_format(&c->addr, url, sizeof(url));
    hs_log_info("store: rate limits and WebDAV locks shared through Redis at %s (prefix '%s', timeout %llums, "
                "on_failure: %s)",
                url, o.prefix, (unsigned long long)c->timeout, c->on_failure);
    return HS_OK;
}

static int init_worker(hs_worker_t *w)
{
    hs_limit_store_t *s = hs_store_limits(w->srv);
    if (!s)
        return HS_OK;
    if (hs_limit_redis_attach(s, &w->loop) != HS_OK)
        return HS_ERROR;
    w->mod[hs_module_store.index] = s; /* so that fini_worker is called */
    return HS_OK;
}

static void fini_worker(hs_worker_t *w)
{
    hs_limit_store_t *s = w->mod[hs_module_store.index];
    if (s)
        hs_limit_redis_detach(s, &w->loop);
    w->mod[hs_module_store.index] = NULL;
}

hs_module_t hs_module_store = {
    .name = "store",
    .conf = {.name = "store",
             .directives = directives,
             .count = HS_ARRAY_SIZE(directives),
             .size = sizeof(hs_store_settings_t),
             .check = check,
             .release = release},
    .init = init,
    .init_worker = init_worker,
    .fini_worker = fini_worker,
};
