/* statusd — the module list: the order in which their rewrite, access and log handlers run
 * (design habit 9), and the settings owners the configuration knows (the engine's first). */
#include "hs/http.h"

extern hs_module_t hs_module_policy;
extern hs_module_t hs_module_reference;
extern hs_module_t hs_module_testapi;
extern hs_module_t hs_module_static;
extern hs_module_t hs_module_webdav;
extern hs_module_t hs_module_negotiate;
extern hs_module_t hs_module_metrics;
extern hs_module_t hs_module_proxy;
extern hs_module_t hs_module_store;
extern hs_module_t hs_module_health;

hs_module_t *const hs_modules[] = {
    &hs_module_store,     /* store.*: state shared through Redis (no phase; its init before the users') */
    &hs_module_policy,    /* rules on hosts and paths: its rewrite and access handlers run first */
    &hs_module_health,    /* health: true / --health-path: 200 while serving, 503 from SIGTERM on */
    &hs_module_reference, /* /codes on every host */
    &hs_module_testapi,
    &hs_module_static,
    &hs_module_webdav,    /* dav.root paths; --dav: the flat --root (GET and HEAD through the static origin) */
    &hs_module_negotiate, /* settings and caches only: static (and WebDAV) files call it */
    &hs_module_metrics,   /* /metrics where a path (or metrics_path) says */
    &hs_module_proxy,     /* reverse proxy: paths with proxy.upstreams (--proxy) */
    NULL,
};

/* Index 0 is the engine; module i of hs_modules owns index i + 1 (set here, before anything
 * reads a module's settings: the configuration asks for this list first). */
size_t hs_config_schemas(const hs_conf_schema_t *const **out)
{
    static const hs_conf_schema_t *list[HS_MAX_MODULES];
    static size_t n;
    if (!n) {
        list[n++] = &hs_config_engine_schema;
        for (size_t i = 0; hs_modules[i] && n < HS_MAX_MODULES; i++) {
            hs_modules[i]->index = (int)n;
            list[n++] = &hs_modules[i]->conf;
        }
    }
    *out = list;
    return n;
}
