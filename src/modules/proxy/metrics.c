/* statusd — the gateway's series in /metrics (include/hs/metrics.h):
 *
 *   statusd_upstream_attempts_total{upstream,outcome}  counter: every attempt at an upstream by
 *       how it ended: "response" (the upstream's response came to its end: relayed), a cause id
 *       of src/http/upstream.def ("connect_refused", "head_timeout", "truncated_body" …), or
 *       "cancelled" (the client left, the server stopped). upstream is the authority
 *       ("127.0.0.1:9000"), "-" where none was chosen (no_healthy_upstream, proxy_loop_detected)
 *   statusd_upstream_up{upstream}  gauge: 0 while passive health (failures, until fail_timeout
 *       runs out or a request succeeds) or its last active check has the upstream out, else 1; a
 *       path with that upstream alone still sends to it. The upstreams of the configuration the
 *       scraping worker serves
 *
 * Counting follows the engine's rule: each worker counts in its own counters (a load and a store,
 * no atomic instruction), a scrape sums them, and nothing is counted while no path serves
 * metrics. The counters are kept by authority in the worker, not in the configuration, so a
 * reload does not reset them; labels are bounded (PROXY_STATS_MAX per worker, then "_other"). */
#include "proxy.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

static proxy_stat_t *stat_for(proxy_worker_t *pw, const char *name)
{
    if (!pw->stats)
        pw->stats = hs_calloc(PROXY_STATS_MAX, sizeof(*pw->stats));
    size_t n = atomic_load_explicit(&pw->nstats, memory_order_relaxed); /* the worker's own */
    for (size_t i = 0; i < n; i++)
        if (!strcmp(pw->stats[i].name, name))
            return &pw->stats[i];
    if (n == PROXY_STATS_MAX - 1) /* full: the last entry gathers the rest */
        name = "_other";
    else if (n == PROXY_STATS_MAX)
        return &pw->stats[PROXY_STATS_MAX - 1];
    proxy_stat_t *s = &pw->stats[n];
    snprintf(s->name, sizeof(s->name), "%s", name);
    atomic_store_explicit(&pw->nstats, n + 1, memory_order_release); /* a scrape sees the name set */
    return s;
}

void hs__proxy_count(proxy_worker_t *pw, proxy_uw_t *uw, const proxy_upstream_t *up, int outcome)
{
    if (!hs_metrics_enabled(pw->w->srv) || outcome < 0 || outcome > PROXY_CANCELLED)
        return;
    proxy_stat_t *s;
    if (up && up->index == PROXY_FORWARD_INDEX) {
        s = stat_for(pw, "_forward"); /* a forward proxy's destinations: one label, not one each */
    } else if (up && uw) {
        if (!uw->stat)
            uw->stat = stat_for(pw, up->authority);
        s = uw->stat;
    } else
        s = stat_for(pw, up ? up->authority : "-");
    hs_counter_add(&s->n[outcome], 1);
}

static const char *outcome_name(int o)
{
    if (o == HS_UP_NONE)
        return "response";
    if (o == PROXY_CANCELLED)
        return "cancelled";
    const hs_up_cause_info_t *ci = hs_up_cause(o);
    return ci ? ci->id : NULL;
}

/* The worker whose thread this is (a scrape is served by a worker), NULL elsewhere. */
static hs_worker_t *this_worker(hs_server_t *srv)
{
    for (int i = 0; i < srv->nworkers; i++)
        if (pthread_equal(srv->workers[i].thread, pthread_self()))
            return &srv->workers[i];
    return NULL;
}

void hs__proxy_metrics(hs_server_t *srv, hs_metrics_out_t *o)
{
    hs_metrics_family(o, "statusd_upstream_attempts_total", "counter",
                      "Attempts at an upstream by outcome: response, a gateway cause id, or cancelled.");
    /* every worker's names, merged: names are few (bounded), so a quadratic merge is fine */
    const char *names[PROXY_STATS_MAX * 4];
    size_t nnames = 0;
    for (int i = 0; i < srv->nworkers; i++) {
        const proxy_worker_t *pw = hs_worker_ctx(&srv->workers[i], &hs_module_proxy);
        size_t n = pw ? atomic_load_explicit(&((proxy_worker_t *)pw)->nstats, memory_order_acquire) : 0;
        for (size_t k = 0; k < n; k++) {
            size_t j = 0;
            while (j < nnames && strcmp(names[j], pw->stats[k].name))
                j++;
            if (j == nnames && nnames < HS_ARRAY_SIZE(names))
                names[nnames++] = pw->stats[k].name;
        }
    }
    hs_buf_t lab = {0};
    for (size_t j = 0; j < nnames; j++) {
        for (int oc = 0; oc <= PROXY_CANCELLED; oc++) {
            uint64_t sum = 0;
            for (int i = 0; i < srv->nworkers; i++) {
                const proxy_worker_t *pw = hs_worker_ctx(&srv->workers[i], &hs_module_proxy);
                size_t n = pw ? atomic_load_explicit(&((proxy_worker_t *)pw)->nstats, memory_order_acquire) : 0;
                for (size_t k = 0; k < n; k++)
                    if (!strcmp(pw->stats[k].name, names[j]))
                        sum += hs_counter_get(&pw->stats[k].n[oc]);
            }
            const char *on = outcome_name(oc);
            if (!sum || !on)
                continue;
            lab.len = 0;
            hs_metrics_label(&lab, "upstream", names[j]);
            hs_metrics_label(&lab, "outcome", on);
            hs_buf_append(&lab, "", 1);
            hs_metrics_sample(o, "statusd_upstream_attempts_total", lab.base, sum);
        }
    }

    /* health: the upstreams of the configuration this worker serves (it holds that generation) */
    hs_worker_t *w = this_worker(srv);
    const proxy_registry_t *reg = w && w->gen ? hs__proxy_registry(w->gen->cfg) : NULL;
    if (reg && reg->nups) {
        hs_metrics_family(o, "statusd_upstream_up", "gauge",
                          "0 while passive or active health has the upstream out of rotation, else 1.");
        for (const proxy_upstream_t *up = reg->ups; up; up = up->next) {
            lab.len = 0;
            hs_metrics_label(&lab, "upstream", up->authority);
            hs_buf_append(&lab, "", 1);
            hs_metrics_sample(o, "statusd_upstream_up", lab.base, hs__proxy_usable(up, w->loop.now_ms, false) ? 1 : 0);
        }
    }
    hs_buf_free(&lab);
}
