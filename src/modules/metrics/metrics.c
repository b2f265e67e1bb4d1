/* statusd — /metrics: the Prometheus text exposition (include/hs/metrics.h) served at a path.
 *
 *   metrics_path: /metrics          on every host that does not name that path itself
 *   hosts: {h: {paths: {/metrics: {metrics: true}}}}   or on the paths that say so
 *
 * It is a path like any other, so access rules can protect it. GET and HEAD (RFC 9110 §9.3.1,
 * §9.3.2) at the path itself; OPTIONS 204 with Allow; other methods 405 with Allow; below the
 * path nothing is served (404). The body is made per scrape by summing every worker's counters:
 * nothing is cached (Cache-Control: no-store). */
#define _GNU_SOURCE
#include "hs/http.h"
#include "hs/metrics.h"

#include <stddef.h>
#include <stdlib.h>

typedef struct {
    bool metrics;       /* path: this path serves the metrics */
    char *metrics_path; /* top: the path that serves them on every host ("" = none) */
} metrics_conf_t;

#define ALLOW "GET, HEAD, OPTIONS"

HS_DIRECTIVES_BEGIN
static const hs_directive_t directives[] = {
    {"metrics", HS_DT_BOOL, offsetof(metrics_conf_t, metrics), "false", "BOOL",
     "serve the Prometheus metrics (text format 0.0.4) at this path", 0, 0, HS_SCOPE_PATH},
    {"metrics_path", HS_DT_STRING, offsetof(metrics_conf_t, metrics_path), "", "PATH",
     "serve the Prometheus metrics at PATH (such as /metrics) on every host that does not name that path", 0, 0,
     HS_SCOPE_TOP},
};
HS_DIRECTIVES_END

hs_module_t hs_module_metrics;

static int content(hs_req_t *req)
{
    hs_iovec_t below = hs_req_path_below_mount(req);
    if (!HS_IOV_EQ(below, "/"))
        return HS_DECLINED;
    hs_method_t m = req->p.method_id;
    if (m == HS_METHOD_OPTIONS) {
        req->allow = ALLOW;
        return hs_res_send(req, 204);
    }
    if (m != HS_METHOD_GET && m != HS_METHOD_HEAD)
        return hs_res_method_not_allowed(req, ALLOW);
    hs_buf_t b = {0};
    hs_metrics_render(req->srv, &b);
    char *body = hs_arena_alloc(&req->arena, b.len);
    memcpy(body, b.base, b.len);
    hs_res_body(req, body, b.len);
    hs_buf_free(&b);
    req->content_type = "text/plain; version=0.0.4; charset=utf-8";
    HS_RES_HEADER(req, "Cache-Control", "no-store");
    return hs_res_send(req, 200);
}

static int check(hs_config_t *cfg, const hs_pathconf_t *path, void *conf, const char **bad, char *err, size_t errlen)
{
    HS_UNUSED(cfg);
    HS_UNUSED(path);
    const metrics_conf_t *mc = conf;
    if (mc->metrics_path && (mc->metrics_path[0] != '/' || strlen(mc->metrics_path) < 2)) {
        snprintf(err, errlen, "metrics_path must start with '/' and name a path, got '%s'", mc->metrics_path);
        *bad = "metrics_path";
        return HS_ERROR;
    }
    return HS_OK;
}

/* metrics_path: on the default host of a configuration without hosts, and on every host. */
static const char *mount(hs_config_t *cfg, const void *conf, bool flat)
{
    HS_UNUSED(cfg);
    HS_UNUSED(flat);
    const metrics_conf_t *mc = conf;
    return mc->metrics_path;
}

hs_module_t hs_module_metrics = {
    .name = "metrics",
    .conf = {.name = "metrics",
             .directives = directives,
             .count = HS_ARRAY_SIZE(directives),
             .size = sizeof(metrics_conf_t),
             .handler = "metrics",
             .check = check,
             .mount = mount},
    .content = content,
};
