/* statusd — the `store` module: where the state several instances share lives (see hs/store.h).
 *
 * It serves no request. Its directives say where Redis is and what to do when Redis cannot
 * answer; its init makes the rate-limit store on Redis (the first generation's; reloads keep it),
 * its init_worker gives that store each worker's loop (the connection itself is made on the
 * worker, at first use), its fini_worker takes it back when the worker is done, and the last
 * generation's fini frees it. Its cause (store:unavailable) names the 503 of on_failure: closed,
 * and its series in /metrics count operations, errors by reason, fallbacks, refusals, outages
 * and the latency of Redis's replies.
 *
 * A host name in store.redis is resolved once at start (a resolver must never stall an event
 * loop); an address or a unix socket needs no lookup. Nothing connects at start: `statusd -t`
 * checks the URL, and a Redis that is down when statusd starts is an outage like any other
 * (logged, the failure policy answers, connections are tried again with a back-off). */
#define _GNU_SOURCE
#include "hs/store.h"

#include "../../store/redis.h"
#include "hs/metrics.h"

#include <pthread.h>

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

static unsigned no_phases(const void *conf)
{
    HS_UNUSED(conf);
    return 0; /* it serves no request */
}

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

/* ---- the store, process-wide ----
 * The first generation's settings make the store; a reload keeps it (its connections, one per
 * worker loop, live as long as the workers do), and a reload that changes store.* is told so:
 * those settings change at the next start only, as workers and user do. Each generation holds a
 * reference (its init, its fini); the last one frees the store, after the workers took it off
 * their loops (fini_worker). */
static hs_limit_store_t *live;
static struct {
    bool on;
    hs_redis_addr_t addr;
    char prefix[130];
    uint64_t timeout;
    hs_redis_failure_t failure;
} live_set;
static int live_refs; /* generations holding it (main thread, or the last request's worker at fini) */
static pthread_mutex_t live_mu = PTHREAD_MUTEX_INITIALIZER;

const hs_store_settings_t *hs_store_settings(const hs_config_t *cfg)
{
    const hs_store_settings_t *c = cfg->mod[hs_module_store.index];
    return c && c->on ? c : NULL;
}

hs_limit_store_t *hs_store_limits(void)
{
    return live;
}

hs_cause_t hs_store_cause_unavailable(void)
{
    return hs_module_cause(&hs_module_store, 0);
}

void hs_store_stats(hs_store_stats_t *out)
{
    memset(out, 0, sizeof(*out));
    out->configured = live_set.on;
    if (live)
        hs_limit_redis_stats(live, &out->limits);
    hs__redis_stats_add(hs__store_lock_counters(), &out->locks);
}

static bool same_settings(const hs_store_settings_t *c)
{
    if (!c || !c->on)
        return !live_set.on;
    return live_set.on && live_set.addr.unix_socket == c->addr.unix_socket &&
           !strcmp(live_set.addr.path, c->addr.path) && !strcmp(live_set.addr.host, c->addr.host) &&
           live_set.addr.port == c->addr.port && !strcmp(live_set.prefix, c->prefix ? c->prefix : "") &&
           live_set.timeout == c->timeout && live_set.failure == c->failure;
}

static int init(hs_gen_t *gen)
{
    hs_store_settings_t *c = gen->cfg->mod[hs_module_store.index];
    pthread_mutex_lock(&live_mu);
    bool first = gen->id == 1 || (!live && !live_refs);
    int rc = HS_OK;
    if (!first) {
        if (!same_settings(c))
            hs_log_warn("reload: store.* changes at the next start only (the shared store keeps its settings)");
    } else if (c && c->on && !live) {
        const char *why;
        if (hs_redis_addr_resolve(&c->addr, &why) != HS_OK) {
            fprintf(stderr, "statusd: store.redis %s: %s\n", c->redis, why);
            rc = HS_ERROR;
            goto Exit;
        }
        hs_limit_redis_opts_t o = {.addr = c->addr,
                                   .prefix = c->prefix ? c->prefix : "",
                                   .timeout_ms = (uint32_t)c->timeout,
                                   .failure = c->failure};
        live = hs_limit_redis_new(&o);
        live_set.on = true;
        live_set.addr = c->addr;
        snprintf(live_set.prefix, sizeof(live_set.prefix), "%s", o.prefix);
        live_set.timeout = c->timeout;
        live_set.failure = c->failure;
        char url[HS_REDIS_PATH_MAX + HS_REDIS_HOST_MAX + 16];
        hs_redis_addr_format(&c->addr, url, sizeof(url));
        hs_log_info("store: rate limits and WebDAV locks shared through Redis at %s (prefix '%s', timeout "
                    "%llums, on_failure: %s)",
                    url, o.prefix, (unsigned long long)c->timeout, c->on_failure);
    }
    live_refs++;
    gen->mod[hs_module_store.index] = &live_set; /* so that fini is called */
Exit:
    pthread_mutex_unlock(&live_mu);
    return rc;
}

static void fini(hs_gen_t *gen)
{
    if (!gen->mod[hs_module_store.index])
        return;
    gen->mod[hs_module_store.index] = NULL;
    pthread_mutex_lock(&live_mu);
    hs_limit_store_t *s = --live_refs == 0 ? live : NULL;
    if (s) {
        live = NULL;
        memset(&live_set, 0, sizeof(live_set));
    }
    pthread_mutex_unlock(&live_mu);
    if (s)
        hs_limit_store_free(s);
}

static int init_worker(hs_worker_t *w)
{
    hs_limit_store_t *s = live;
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

/* ---- /metrics ---- */
/* The labels store="KIND"[,K2="V2"] in l, NUL-terminated (hs_metrics_label appends without one). */
static const char *labels(hs_buf_t *l, const char *kind, const char *k2, const char *v2)
{
    l->len = 0;
    hs_metrics_label(l, "store", kind);
    if (k2)
        hs_metrics_label(l, k2, v2);
    hs_buf_append(l, "", 1);
    l->len--;
    return l->base;
}

static void stats_series(hs_metrics_out_t *o, const char *kind, const hs_redis_stats_t *st)
{
    hs_buf_t l = {0};
    static const struct {
        const char *reason;
        size_t off;
    } reasons[] = {
        {"timeout", offsetof(hs_redis_stats_t, timeouts)},
        {"unreachable", offsetof(hs_redis_stats_t, unreachable)},
        {"bad_reply", offsetof(hs_redis_stats_t, bad_replies)},
        {"script", offsetof(hs_redis_stats_t, script_errors)},
        {"overflow", offsetof(hs_redis_stats_t, overflows)},
    };
    for (size_t i = 0; i < HS_ARRAY_SIZE(reasons); i++) {
        hs_metrics_sample(o, "statusd_store_errors_total", labels(&l, kind, "reason", reasons[i].reason),
                          *(const uint64_t *)((const char *)st + reasons[i].off));
    }
    hs_buf_free(&l);
}

static void metrics(hs_server_t *srv, hs_metrics_out_t *o)
{
    HS_UNUSED(srv);
    hs_store_stats_t st;
    hs_store_stats(&st);
    if (!st.configured)
        return;
    const struct {
        const char *kind;
        const hs_redis_stats_t *s;
    } k[] = {{"limits", &st.limits}, {"locks", &st.locks}};
    hs_buf_t l = {0};
#define EACH(name, type, help, field)                                                                                  \
    hs_metrics_family(o, name, type, help);                                                                            \
    for (size_t i = 0; i < HS_ARRAY_SIZE(k); i++) {                                                                    \
        hs_metrics_sample(o, name, labels(&l, k[i].kind, NULL, NULL), (uint64_t)k[i].s->field);                        \
    }
    EACH("statusd_store_operations_total", "counter", "operations asked of the shared store (Redis)", ops)
    EACH("statusd_store_answered_total", "counter", "operations Redis answered", answered)
    hs_metrics_family(o, "statusd_store_errors_total", "counter",
                      "operations Redis did not answer, by reason (the failure policy answered them)");
    for (size_t i = 0; i < HS_ARRAY_SIZE(k); i++)
        stats_series(o, k[i].kind, k[i].s);
    EACH("statusd_store_fallbacks_total", "counter", "answered from this instance's own state (on_failure: open)",
         fallbacks)
    EACH("statusd_store_refused_total", "counter", "failed with 503 (on_failure: closed)", refused)
    EACH("statusd_store_outages_total", "counter", "times Redis became unreachable", outages)
    EACH("statusd_store_connects_total", "counter", "connections made to Redis", connects)
    EACH("statusd_store_in_flight", "gauge", "commands sent to Redis and not answered", in_flight)
    EACH("statusd_store_up", "gauge", "1 when the last attempt reached Redis", up)
#undef EACH
    /* latency: a histogram in seconds, from the command's send to its reply (statusd's side) */
    hs_metrics_family(o, "statusd_store_latency_seconds", "histogram",
                      "time from sending a command to Redis to its reply");
    for (size_t i = 0; i < HS_ARRAY_SIZE(k); i++) {
        for (int b = 0; b < HS_REDIS_LATENCY_BUCKETS; b++) {
            char le[32];
            snprintf(le, sizeof(le), "%g", hs_redis_latency_le_us[b] / 1e6);
            hs_metrics_sample(o, "statusd_store_latency_seconds_bucket", labels(&l, k[i].kind, "le", le),
                              k[i].s->latency_le[b]);
        }
        hs_metrics_sample(o, "statusd_store_latency_seconds_bucket", labels(&l, k[i].kind, "le", "+Inf"),
                          k[i].s->latency_count);
        labels(&l, k[i].kind, NULL, NULL);
        hs_metrics_sample_f(o, "statusd_store_latency_seconds_sum", l.base, (double)k[i].s->latency_sum_us / 1e6);
        hs_metrics_sample(o, "statusd_store_latency_seconds_count", l.base, k[i].s->latency_count);
    }
    hs_buf_free(&l);
}

/* ---- causes ---- */
static const hs_cause_info_t causes[] = {
    {"store:unavailable",
     503,
     {0, 0},
     "store.on_failure",
     "the shared store (Redis) did not answer within store.timeout and store.on_failure is closed: a rate-limited "
     "request or a WebDAV lock operation cannot be decided (Retry-After says when to come back)"},
};

hs_module_t hs_module_store = {
    .name = "store",
    .conf = {.name = "store",
             .directives = directives,
             .count = HS_ARRAY_SIZE(directives),
             .size = sizeof(hs_store_settings_t),
             .check = check,
             .phases = no_phases},
    .init = init,
    .fini = fini,
    .init_worker = init_worker,
    .fini_worker = fini_worker,
    .causes = causes,
    .ncauses = HS_ARRAY_SIZE(causes),
    .metrics = metrics,
};
