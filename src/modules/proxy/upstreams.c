/* statusd — the reverse proxy's upstreams: which one takes a request, whether it is healthy, and
 * where its name points.
 *
 * Choosing. Round robin walks the path's list from a per-worker cursor; least connections takes
 * the usable upstream with the fewest requests in flight on this worker (ties in round-robin
 * order); hash places each upstream at PROXY_RING_POINTS points of a ring of 32-bit hashes and
 * takes the first usable one at or after the key's hash, so that adding or losing an upstream
 * moves only the keys next to it (consistent hashing, Karger et al.).
 *
 * Health. Passive: every failure of an exchange before a response head (refused, timed out,
 * broken head …) counts; fail_max in a row take the upstream out of rotation for fail_timeout,
 * doubled each time it fails again after coming back (up to 16x), until an exchange succeeds.
 * A path with a single upstream keeps sending to it (nothing else could take the request, and a
 * 503 would hide what really happens). Active: with health_check set, worker 0 GETs that path on
 * every upstream each health_interval; a failed check takes the upstream out, even when it is
 * the only one (then requests get 503 no_healthy_upstream), a good one puts it back. The state
 * is shared by the workers (atomics): what one worker learns, all use.
 *
 * Names. Resolved once at start, all at once (hs__proxy_resolve_at_start), with the system
 * resolver (getaddrinfo: /etc/hosts, then DNS as resolv.conf says). A name that does not resolve
 * then is reported and the server starts anyway: it is a per-request cause (dns_error), not a
 * reason to stay down. Afterwards, the first request that finds a name's answer older than
 * dns_refresh looks it up again on a helper thread (hs_req_offload) while it and the others go on
 * with the addresses known; a name without addresses makes its requests wait for the answer, at
 * most dns_timeout (then dns_timeout). A failed answer is kept a second before the next try. An
 * answer that does not come (a timeout, a server failure) keeps the previous addresses; only a
 * name that does not exist (or has no address) loses them. */
#define _GNU_SOURCE
#include "proxy.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>

/* ---- hashing ---- */
uint32_t hs__proxy_hash(const void *p, size_t n)
{
    /* FNV-1a, then a final mix (murmur3's fmix32) so that nearby keys spread over the ring */
    const unsigned char *s = p;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 16777619u;
    }
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

void hs__proxy_ring_build(hs_config_t *cfg, proxy_list_t *l)
{
    size_t n = l->nt * PROXY_RING_POINTS;
    l->ring_hash = hs_config_alloc(cfg, n * sizeof(*l->ring_hash));
    l->ring_tgt = hs_config_alloc(cfg, n * sizeof(*l->ring_tgt));
    l->nring = 0;
    for (size_t t = 0; t < l->nt; t++) {
        for (int k = 0; k < PROXY_RING_POINTS; k++) {
            char point[320];
            int len = snprintf(point, sizeof(point), "%s#%zu-%d", l->t[t].up->authority, t, k);
            uint32_t h = hs__proxy_hash(point, (size_t)len);
            /* insertion in order: lists are short and this runs once, at check */
            size_t i = l->nring;
            while (i > 0 && l->ring_hash[i - 1] > h) {
                l->ring_hash[i] = l->ring_hash[i - 1];
                l->ring_tgt[i] = l->ring_tgt[i - 1];
                i--;
            }
            l->ring_hash[i] = h;
            l->ring_tgt[i] = (uint16_t)t;
            l->nring++;
        }
    }
}

/* ---- health ---- */
bool hs__proxy_usable(const proxy_upstream_t *up, uint64_t now, bool single)
{
    if (atomic_load_explicit(&up->check_down, memory_order_relaxed))
        return false;
    return single || atomic_load_explicit(&up->down_until, memory_order_relaxed) <= now;
}

void hs__proxy_health_failed(const proxy_conf_t *pc, proxy_upstream_t *up, uint64_t now)
{
    if (pc->fail_max <= 0)
        return;
    uint32_t f = atomic_fetch_add(&up->fails, 1) + 1;
    if (f < (uint32_t)pc->fail_max)
        return;
    uint32_t level = atomic_load(&up->level);
    atomic_store(&up->down_until, now + (pc->fail_timeout << HS_MIN(level, 4u)));
    if (level < 4)
        atomic_store(&up->level, level + 1);
}

void hs__proxy_health_ok(proxy_upstream_t *up)
{
    /* read first: a healthy upstream is the common case, and stores would bounce the cache line
     * between the workers */
    if (atomic_load_explicit(&up->fails, memory_order_relaxed))
        atomic_store(&up->fails, 0);
    if (atomic_load_explicit(&up->level, memory_order_relaxed))
        atomic_store(&up->level, 0);
    if (atomic_load_explicit(&up->down_until, memory_order_relaxed))
        atomic_store(&up->down_until, 0);
}

uint64_t hs__proxy_next_up(const proxy_conf_t *pc, uint64_t now)
{
    uint64_t best = 0;
    const proxy_list_t *l = pc->list;
    for (size_t i = 0; l && i < l->nt; i++) {
        const proxy_upstream_t *up = l->t[i].up;
        uint64_t at = atomic_load(&up->check_down) ? now + pc->health_interval : atomic_load(&up->down_until);
        if (at > now && (!best || at < best))
            best = at;
    }
    return best;
}

/* ---- choosing ---- */
const proxy_target_t *hs__proxy_pick(proxy_view_t *v, const proxy_conf_t *pc, uint64_t tried, uint32_t key,
                                     uint64_t now, int *index)
{
    const proxy_list_t *l = pc->list;
    size_t n = l->nt;
    bool single = n == 1;
    if (pc->lb == PROXY_LB_HASH && l->nring) {
        size_t lo = 0, hi = l->nring; /* the first point at or after key */
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (l->ring_hash[mid] < key)
                lo = mid + 1;
            else
                hi = mid;
        }
        for (size_t k = 0; k < l->nring; k++) {
            int t = l->ring_tgt[(lo + k) % l->nring];
            if (!(tried & (1ull << t)) && hs__proxy_usable(l->t[t].up, now, single)) {
                *index = t;
                return &l->t[t];
            }
        }
        return NULL;
    }
    unsigned start = v->rr[l->group]++;
    int best = -1;
    for (size_t k = 0; k < n; k++) {
        int t = (int)((start + k) % n);
        if ((tried & (1ull << t)) || !hs__proxy_usable(l->t[t].up, now, single))
            continue;
        if (pc->lb != PROXY_LB_LEAST_CONN) {
            best = t;
            break;
        }
        if (best < 0 || v->u[l->t[t].up->index].active < v->u[l->t[best].up->index].active)
            best = t;
    }
    if (best < 0)
        return NULL;
    *index = best;
    return &l->t[best];
}

/* ---- names ---- */
void hs__proxy_dns_work(void *arg)
{
    proxy_dns_t *d = arg;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    uint64_t t0 = hs_now_ms();
    int r = getaddrinfo(d->name, d->port, &hints, &res);
    uint64_t t1 = hs_now_ms();
    pthread_mutex_lock(&d->mu);
    if (r == 0) {
        int n = 0;
        for (struct addrinfo *a = res; a && n < PROXY_MAX_ADDRS; a = a->ai_next) {
            if ((a->ai_family != AF_INET && a->ai_family != AF_INET6) || a->ai_addrlen > sizeof(d->addrs[0]))
                continue;
            memcpy(&d->addrs[n], a->ai_addr, a->ai_addrlen);
            d->lens[n++] = a->ai_addrlen;
        }
        d->naddrs = n;
        d->cause = n ? HS_UP_NONE : HS_UP_DNS_ERROR;
        d->detail = n ? NULL : "the upstream's name has no IPv4 or IPv6 address";
    } else {
        /* no answer in time (the resolver's own timeout, or slower than ours): dns_timeout; an
         * answer that says no: dns_error */
        d->cause = t1 - t0 >= d->timeout_ms ? HS_UP_DNS_TIMEOUT : HS_UP_DNS_ERROR;
        d->detail = d->cause == HS_UP_DNS_TIMEOUT ? "no name server answered for the upstream's name in time"
                    : r == EAI_NONAME             ? "the upstream's name does not exist"
                    : r == EAI_AGAIN              ? "the upstream's name could not be resolved now"
                                                  : "the upstream's name did not resolve";
#ifdef EAI_NODATA
        if (r == EAI_NODATA)
            d->detail = "the upstream's name has no address";
#endif
        if (r == EAI_NONAME
#ifdef EAI_NODATA
            || r == EAI_NODATA
#endif
        )
            d->naddrs = 0; /* the name is gone; a server that did not answer leaves what we knew */
    }
    d->answered = t1 ? t1 : 1;
    d->inflight = false;
    atomic_fetch_add_explicit(&d->gen, 1, memory_order_release);
    pthread_mutex_unlock(&d->mu);
    if (res)
        freeaddrinfo(res);
}

void hs__proxy_dns_hold(proxy_dns_t *d)
{
    atomic_fetch_add(&d->refs, 1);
}

void hs__proxy_dns_release(proxy_dns_t *d)
{
    if (atomic_fetch_sub(&d->refs, 1) != 1)
        return;
    pthread_mutex_destroy(&d->mu);
    free((char *)d->name);
    free(d);
}

void hs__proxy_dns_view(proxy_uw_t *uw, proxy_dns_t *d)
{
    uint32_t g = atomic_load_explicit(&d->gen, memory_order_acquire);
    if (g == uw->gen)
        return;
    pthread_mutex_lock(&d->mu);
    uw->gen = atomic_load_explicit(&d->gen, memory_order_relaxed);
    uw->naddrs = d->naddrs;
    memcpy(uw->addrs, d->addrs, sizeof(uw->addrs[0]) * (size_t)d->naddrs);
    memcpy(uw->lens, d->lens, sizeof(uw->lens[0]) * (size_t)d->naddrs);
    uw->cause = d->cause;
    uw->detail = d->detail;
    uw->answered = d->answered;
    pthread_mutex_unlock(&d->mu);
}

static void *start_lookup(void *arg)
{
    hs__proxy_dns_work(arg);
    return NULL;
}

void hs__proxy_resolve_at_start(proxy_registry_t *reg, uint64_t dns_timeout_ms)
{
    HS_UNUSED(dns_timeout_ms);
    pthread_t th[64];
    size_t n = 0;
    for (proxy_dns_t *d = reg->names; d; d = d->next) {
        d->inflight = true;
        if (n < HS_ARRAY_SIZE(th) && pthread_create(&th[n], NULL, start_lookup, d) == 0)
            n++;
        else
            hs__proxy_dns_work(d); /* more names than threads: in turn */
    }
    for (size_t i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    for (proxy_dns_t *d = reg->names; d; d = d->next) {
        if (d->naddrs == 0)
            hs_log_warn("proxy: upstream name %s does not resolve now (%s); its requests get %s until it does", d->name,
                        d->detail ? d->detail : "no address",
                        d->cause == HS_UP_DNS_TIMEOUT ? "dns_timeout" : "dns_error");
    }
}

/* ---- a worker's views of the generations' upstreams ---- */
static proxy_view_t *view_new(uint64_t gen_id, const proxy_registry_t *reg, int worker)
{
    proxy_view_t *v = hs_calloc(1, sizeof(*v));
    v->gen_id = gen_id;
    v->reg = reg;
    size_t nups = reg ? (size_t)reg->nups : 0, ngroups = reg ? (size_t)reg->ngroups : 0;
    v->u = hs_calloc(nups ? nups : 1, sizeof(*v->u));
    for (size_t i = 0; i < nups; i++)
        v->u[i].gen = UINT32_MAX; /* copy the name's state on first use */
    v->rr = hs_calloc(ngroups ? ngroups : 1, sizeof(*v->rr));
    for (size_t g = 0; g < ngroups; g++)
        v->rr[g] = (unsigned)worker; /* different workers start their round robin at different places */
    return v;
}

static void view_free(proxy_view_t *v)
{
    free(v->u);
    free(v->rr);
    free(v);
}

/* Views no request uses any more, of generations no longer current, go. */
static void views_prune(proxy_worker_t *pw)
{
    uint64_t current = pw->w->gen ? pw->w->gen->id : 0;
    for (proxy_view_t **p = &pw->views; *p;) {
        proxy_view_t *v = *p;
        if (v->reqs == 0 && v->gen_id != current) {
            *p = v->next;
            view_free(v);
        } else {
            p = &v->next;
        }
    }
}

proxy_view_t *hs__proxy_view(proxy_worker_t *pw, const hs_gen_t *gen, const hs_config_t *top)
{
    uint64_t id = gen ? gen->id : 0;
    proxy_view_t *v = pw->views;
    if (v && v->gen_id == id)
        return v; /* the common case: the newest */
    for (; v; v = v->next)
        if (v->gen_id == id)
            return v;
    views_prune(pw);
    v = view_new(id, hs__proxy_registry(top), pw->w->id);
    v->next = pw->views;
    pw->views = v;
    return v;
}

void hs__proxy_view_done(proxy_worker_t *pw, proxy_view_t *v)
{
    if (--v->reqs == 0 && v != pw->views)
        views_prune(pw);
}

/* ---- active health checks (worker 0, the current generation's upstreams) ---- */
typedef struct proxy_probe_s {
    proxy_worker_t *pw;
    proxy_upstream_t *up;
    hs_client_t *c;
    int status;
} probe_t;

static void probe_head(hs_client_t *c, const hs_parsed_res_t *res, const hs_res_meta_t *meta)
{
    HS_UNUSED(meta);
    ((probe_t *)c->data)->status = res->status;
}

static void probe_finish(probe_t *p, bool ok)
{
    const hs_gen_t *gen = p->pw->w->gen;
    if (!gen || gen->id != p->pw->probes_gen) { /* made for a configuration since replaced: its
                                                  upstreams may be gone; the result is not wanted */
        hs_client_free(p->c);
        p->c = NULL;
        return;
    }
    bool was = atomic_load(&p->up->check_down);
    if (was == ok) {
        atomic_store(&p->up->check_down, !ok);
        hs_log_info("proxy: health check of %s %s", p->up->authority, ok ? "passed: back in rotation" : "failed");
    }
    if (ok)
        hs__proxy_health_ok(p->up);
    hs_client_free(p->c);
    p->c = NULL;
}

static void probe_end(hs_client_t *c, const hs_header_t *t, size_t n)
{
    HS_UNUSED(t);
    HS_UNUSED(n);
    probe_t *p = c->data;
    probe_finish(p, p->status >= 200 && p->status < 400);
}

static void probe_error(hs_client_t *c, const hs_client_error_t *e)
{
    HS_UNUSED(e);
    probe_finish(c->data, false);
}

static const hs_client_cbs_t probe_cbs = {.on_head = probe_head, .on_end = probe_end, .on_error = probe_error};

static void probe(proxy_worker_t *pw, proxy_view_t *v, probe_t *p, const proxy_conf_t *pc)
{
    proxy_upstream_t *up = p->up;
    const struct sockaddr *sa = (const struct sockaddr *)&up->addr;
    socklen_t salen = up->addrlen;
    if (up->dns) {
        proxy_uw_t *uw = &v->u[up->index];
        hs__proxy_dns_view(uw, up->dns);
        if (uw->naddrs == 0)
            return; /* its requests get the name's cause; the check waits for an address */
        unsigned i = uw->addr_rr++ % (unsigned)uw->naddrs;
        sa = (const struct sockaddr *)&uw->addrs[i];
        salen = uw->lens[i];
    }
    hs_header_t h[2] = {{.name = HS_IOV("Host"), .value = hs_iov_cstr(up->host_field)},
                        {.name = HS_IOV("User-Agent"), .value = HS_IOV("statusd-health-check")}};
    hs_client_req_t req = {
        .method = HS_METHOD_GET,
        .target = hs_iov_cstr(pc->health_check),
        .headers = h,
        .num_headers = 2,
        .content_length = HS_CLIENT_NO_BODY,
        .flags = HS_CLIENT_RETRY,
        .timeouts = {.connect_ms = pc->health_timeout,
                     .send_ms = pc->health_timeout,
                     .head_ms = pc->health_timeout,
                     .idle_ms = pc->health_timeout},
        .tls = up->tls ? pc->tls_client : NULL,
        .tls_name = up->host,
    };
    p->status = 0;
    p->c = hs_client_start(pw->pool, sa, salen, &req, &probe_cbs, p);
}

static void probes_free(proxy_worker_t *pw)
{
    for (int i = 0; i < pw->nprobes; i++)
        hs_client_free(pw->probes[i].c); /* cancelled: no callback after this */
    free(pw->probes);
    pw->probes = NULL;
    pw->nprobes = 0;
    pw->probes_gen = 0;
}

/* Does the generation run active health checks (a path with proxy.health_check)? Only then has
 * worker 0 a health timer: a server without them never wakes for the gateway. */
static bool gen_checks(const hs_gen_t *gen)
{
    const proxy_registry_t *reg = gen ? hs__proxy_registry(gen->cfg) : NULL;
    for (size_t i = 0; reg && i < reg->nlists; i++) {
        const proxy_conf_t *pc = reg->list_confs[i];
        if (pc->health_check && pc->health_check[0])
            return true;
    }
    return false;
}

static void health_tick(hs_timer_t *t)
{
    proxy_worker_t *pw = (proxy_worker_t *)((char *)t - offsetof(proxy_worker_t, health_timer));
    hs_worker_t *w = pw->w;
    const proxy_registry_t *reg = w->gen ? hs__proxy_registry(w->gen->cfg) : NULL;
    if (!w->gen || w->gen->id != pw->probes_gen) { /* a reload: the checks follow the current configuration */
        probes_free(pw);
        if (reg && reg->nups) {
            pw->probes = hs_calloc((size_t)reg->nups, sizeof(*pw->probes));
            for (proxy_upstream_t *up = reg->ups; up; up = up->next)
                pw->probes[up->index] = (probe_t){.pw = pw, .up = up};
            pw->nprobes = reg->nups;
        }
        pw->probes_gen = w->gen ? w->gen->id : 0;
    }
    uint64_t next = 0;
    proxy_view_t *v = reg ? hs__proxy_view(pw, w->gen, w->gen->cfg) : NULL;
    for (size_t i = 0; reg && i < reg->nlists; i++) {
        const proxy_conf_t *pc = reg->list_confs[i];
        if (!pc->health_check || !pc->health_check[0])
            continue;
        if (!next || pc->health_interval < next)
            next = pc->health_interval;
        const proxy_list_t *l = reg->lists[i];
        for (size_t k = 0; k < l->nt; k++) {
            probe_t *p = &pw->probes[l->t[k].up->index];
            if (!p->c)
                probe(pw, v, p, pc);
        }
    }
    if (next) /* else nothing to check (a generation switched without hs__proxy_worker_gen: a test rig) */
        hs_timer_link(&w->loop.wheel, &pw->health_timer, w->loop.now_ms + next);
}

/* Worker 0's health timer follows the generation: linked (to run now: the new checks start at
 * once) when it has checks, else unlinked with the old generation's probes cancelled. */
static void health_follow(proxy_worker_t *pw)
{
    hs_worker_t *w = pw->w;
    if (w->id != 0)
        return;
    if (hs_timer_is_linked(&pw->health_timer))
        hs_timer_unlink(&w->loop.wheel, &pw->health_timer);
    if (gen_checks(w->gen))
        hs_timer_link(&w->loop.wheel, &pw->health_timer, w->loop.now_ms);
    else
        probes_free(pw);
}

void hs__proxy_worker_gen(hs_worker_t *w)
{
    health_follow(w->mod[hs_module_proxy.index]);
}

/* ---- per worker ---- */
int hs__proxy_init_worker(hs_worker_t *w)
{
    /* made whatever the configuration: a reload may bring proxied paths */
    const proxy_conf_t *top = hs_server_conf(w->srv, &hs_module_proxy);
    proxy_worker_t *pw = hs_calloc(1, sizeof(*pw));
    pw->w = w;
    /* the pool's settings are read at start (proxy.keepalive, keepalive_timeout: not reloaded) */
    hs_client_pool_conf_t pcf = {
        .max_idle = (uint32_t)top->keepalive, .idle_timeout_ms = top->keepalive_timeout, .keepalive_margin_ms = 1000};
    pw->pool = hs_client_pool_new(&w->loop, &pcf);
    w->mod[hs_module_proxy.index] = pw;
    pw->health_timer.cb = health_tick;
    health_follow(pw);
    return HS_OK;
}

void hs__proxy_fini_worker(hs_worker_t *w)
{
    proxy_worker_t *pw = w->mod[hs_module_proxy.index];
    if (!pw)
        return;
    if (hs_timer_is_linked(&pw->health_timer))
        hs_timer_unlink(&w->loop.wheel, &pw->health_timer);
    probes_free(pw);
    hs_client_pool_free(pw->pool);
    free(pw->stats);
    while (pw->views) {
        proxy_view_t *v = pw->views;
        pw->views = v->next;
        view_free(v);
    }
    free(pw);
    w->mod[hs_module_proxy.index] = NULL;
}
