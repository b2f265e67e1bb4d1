/* statusd — the `health` module: a path a load balancer checks, to know whether to send this
 * instance requests.
 *
 *   hosts: {"*": {paths: {/healthz: {health: true}}}}      or      --health-path /healthz
 *
 * GET or HEAD there answers 200 while the process serves, and 503 with Retry-After and
 * Connection: close from the moment it received SIGTERM (or SIGINT) — during drain_delay, when
 * it still accepts and serves everything else, and during the drain itself. A balancer that
 * checks every `inter` and takes a server out after `fall` failures (HAProxy) has thus stopped
 * sending requests before the listeners close, when drain_delay ≥ inter × fall: a rolling restart
 * loses no request (contrib/haproxy.cfg, docs/scale-out.md). Connection: close, because a
 * balancer that keeps its check connection open would otherwise hold it into the drain.
 *
 * The answer never depends on Redis: the instances share one Redis, so its outage would take
 * every instance out at once, and the failure policy (store.on_failure) is the place where an
 * operator decides what an outage means. Responses are never stored (Cache-Control: no-store).
 * Other methods get 405 with Allow; paths below the health path, 404. */
#define _GNU_SOURCE
#include "hs/http.h"

#include "hs/path.h"

#include <stdio.h>

typedef struct {
    bool health;       /* health: true on a path */
    char *health_path; /* health_path (--health-path): on every host */
} health_conf_t;

#define ALLOW "GET, HEAD, OPTIONS"

HS_DIRECTIVES_BEGIN
static const hs_directive_t directives[] = {
    {"health", HS_DT_BOOL, offsetof(health_conf_t, health), "false", "BOOL",
     "on a path: answer health checks there (200 while serving; 503 with Retry-After and Connection: close from "
     "SIGTERM on, through drain_delay and the drain)",
     0, 0, HS_SCOPE_PATH},
    {"health_path", HS_DT_STRING, offsetof(health_conf_t, health_path), "", "PATH",
     "answer health checks at PATH on every host, as a path with health: true would", 0, 0, HS_SCOPE_TOP},
};
HS_DIRECTIVES_END

static int check(hs_config_t *cfg, const hs_pathconf_t *path, void *p, const char **bad, char *err, size_t errlen)
{
    HS_UNUSED(cfg);
    HS_UNUSED(path);
    health_conf_t *c = p;
    if (!c->health_path || !c->health_path[0])
        return HS_OK;
    hs_arena_t a;
    hs_arena_init(&a);
    hs_iovec_t norm;
    const char *why = NULL;
    int st = hs_path_normalize_arena(&a, hs_iov_cstr(c->health_path), &norm, 0, &why);
    bool same = st == 0 && norm.len == strlen(c->health_path) && !memcmp(norm.base, c->health_path, norm.len);
    hs_arena_reset(&a);
    if (c->health_path[0] != '/' || !same || !strcmp(c->health_path, "/")) {
        *bad = "health_path";
        snprintf(err, errlen, "health_path is a path of its own in normal form, such as /healthz, got '%s'",
                 c->health_path);
        return HS_ERROR;
    }
    return HS_OK;
}

static const char *mount(hs_config_t *cfg, const void *conf, bool flat)
{
    HS_UNUSED(cfg);
    HS_UNUSED(flat);
    const health_conf_t *c = conf;
    /* a value that is no path is left to check(), which names its FILE:LINE */
    return c->health_path && c->health_path[0] == '/' ? c->health_path : NULL;
}

extern hs_module_t hs_module_health;
enum { HC_DRAINING };
static const hs_cause_info_t causes[] = {
    [HC_DRAINING] = {"health:draining",
                     503,
                     {0, 0},
                     "drain_delay",
                     "a health check while the instance stops (SIGTERM): the load balancer is to take it out of its "
                     "pool; everything else is still served during drain_delay"},
};

static unsigned phases(const void *conf)
{
    HS_UNUSED(conf);
    return 0; /* a content handler only */
}

static int content(hs_req_t *req)
{
    hs_iovec_t below = hs_req_path_below_mount(req);
    if (below.len > 1)
        return HS_DECLINED; /* /healthz/x: nothing there (404) */
    hs_method_t m = req->p.method_id;
    if (m == HS_METHOD_OPTIONS) {
        req->allow = ALLOW;
        return hs_res_send(req, 204);
    }
    if (m != HS_METHOD_GET && m != HS_METHOD_HEAD)
        return hs_res_method_not_allowed(req, ALLOW);
    HS_RES_HEADER(req, "Cache-Control", "no-store");
    hs_server_t *srv = req->srv;
    if (atomic_load_explicit(&srv->stopping, memory_order_relaxed) ||
        atomic_load_explicit(&srv->shutting_down, memory_order_relaxed)) {
        /* RFC 9110 §15.6.4: unavailable for now; the balancer takes the instance out */
        hs_res_headerf(req, "Retry-After", "%d", hs_req_top(req)->retry_after);
        req->res_close = true;
        hs_req_set_cause(req, hs_module_cause(&hs_module_health, HC_DRAINING));
        return hs_res_error(req, 503, "this instance is shutting down (SIGTERM): it takes no new requests");
    }
    static const char ok[] = "ok\n";
    req->content_type = "text/plain; charset=utf-8";
    hs_res_body(req, ok, sizeof(ok) - 1);
    return hs_res_send(req, 200);
}

hs_module_t hs_module_health = {
    .name = "health",
    .conf = {.name = "health",
             .directives = directives,
             .count = HS_ARRAY_SIZE(directives),
             .size = sizeof(health_conf_t),
             .handler = "health",
             .check = check,
             .mount = mount,
             .phases = phases},
    .content = content,
    .causes = causes,
    .ncauses = HS_ARRAY_SIZE(causes),
};
