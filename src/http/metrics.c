/* statusd — counting for /metrics, and the Prometheus text exposition (include/hs/metrics.h).
 *
 * Each worker counts into its own block (hs__metrics_t, allocated on cache-line boundaries so
 * that no two workers ever write the same line), with plain loads and stores: a worker is the
 * only writer of its block. A scrape, on whichever worker serves it, reads every block and adds
 * them up; a counter read while its worker updates it is one whole 64-bit value, old or new, so
 * a scrape may lag by the requests in flight but never goes backwards.
 *
 * Labels are bounded by construction: codes are the registry's (plus "other" for a code it does
 * not know), causes the cause registry's (HS_CAUSE_MAX), hosts the configured names up to
 * HS_METRICS_HOSTS (slot 0, "_other", takes the rest). Host names get their slot once and keep
 * it for the life of the process, so a reload that adds or removes hosts never moves a series
 * to another label. */
#define _GNU_SOURCE
#include "internal.h"
#include "hs/metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#ifndef HS_VERSION
#define HS_VERSION "0.1.0"
#endif

static const char *const bucket_le[HS__METRICS_BUCKETS] = {"0.001", "0.005", "0.01", "0.025", "0.05", "0.1",
                                                           "0.25",  "0.5",   "1",    "2.5",   "5",    "10"};

/* host label slots: written on the main thread (bind), read by scrapes */
static char *host_names[HS_METRICS_HOSTS] = {"_other"};
static _Atomic int nhost_names = 1;
static time_t started;

static const hs_status_info_t *status_table;
static size_t status_count;
hs__metrics_code_t hs__metrics_codes[1000];

/* ---- the per-worker blocks ---- */

hs__metrics_t *hs__metrics_new(void)
{
    if (!status_table) {
        status_table = hs_status_table(&status_count);
        if (status_count >= HS__METRICS_CODES)
            abort();                   /* the registry outgrew the counters: raise HS__METRICS_CODES */
        for (int c = 0; c < 1000; c++) /* codes the registry does not know: "other" */
            hs__metrics_codes[c] =
                (hs__metrics_code_t){HS__METRICS_CODES - 1, (uint8_t)(c >= 100 && c < 600 ? c / 100 - 1 : 4)};
        for (size_t i = 0; i < status_count; i++)
            hs__metrics_codes[status_table[i].code].slot = (uint8_t)i;
        started = time(NULL);
    }
    hs__metrics_t *m = aligned_alloc(64, (sizeof(hs__metrics_t) + 63) / 64 * 64);
    if (!m)
        hs__oom(sizeof(*m));
    memset(m, 0, sizeof(*m));
    return m;
}

void hs__metrics_free(hs__metrics_t *m)
{
    free(m);
}

/* The slot of a configured host's name, given on first sight; 0 when the slots are full. */
static uint8_t slot_of(const char *name)
{
    int n = atomic_load(&nhost_names);
    for (int i = 1; i < n; i++)
        if (!strcmp(host_names[i], name))
            return (uint8_t)i;
    if (n == HS_METRICS_HOSTS)
        return 0;
    host_names[n] = hs_strdup(name);
    atomic_store(&nhost_names, n + 1); /* the name is written before a scrape can read it */
    return (uint8_t)n;
}

bool hs__metrics_bind(hs_config_t *top)
{
    size_t n;
    hs_hostconf_t *hosts = (hs_hostconf_t *)hs_config_hosts(top, &n); /* built, not yet served */
    bool on = false;
    const hs_conf_schema_t *const *schemas;
    size_t nschemas = hs_config_schemas(&schemas);
    for (size_t i = 0; i < n; i++) {
        hosts[i].metrics_slot = slot_of(hosts[i].name);
        for (size_t j = 0; j < hosts[i].npaths; j++) {
            int h = hosts[i].paths[j]->handler;
            if (h > 0 && (size_t)h < nschemas && schemas[h]->handler && !strcmp(schemas[h]->handler, "metrics"))
                on = true;
        }
    }
    return on;
}

bool hs_metrics_enabled(const hs_server_t *srv)
{
    return atomic_load_explicit(&srv->metrics_on, memory_order_relaxed);
}

/* ---- counting (the worker's own block) ---- */

const uint64_t hs__metrics_bucket_ms[HS__METRICS_BUCKETS] = {1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000};

void hs__metrics_refused(hs__metrics_t *m, int status, hs_cause_t cause)
{
    hs_counter_add(&m->responses[0][hs__metrics_codes[(unsigned)status < 1000 ? status : 0].slot], 1);
    hs_counter_add(&m->errors[hs_cause_resolve(cause, status)], 1);
}

/* ---- TLS: names as labels, bounded ----
 * Cipher names, protocol versions and handshake failure reasons come from OpenSSL as strings; each
 * set gets a slot per name on first sight, up to its size ("other", slot 0, takes the rest), so
 * the series stay few whatever clients offer. A lookup reads without a lock (a name is written
 * before the count that shows it); adding one, rare, takes the set's mutex. Names are copied:
 * some of OpenSSL's reason texts live in buffers it may reuse. */
typedef struct {
    pthread_mutex_t mu;
    _Atomic int n;
    size_t max;
    char *names[HS__METRICS_TLS_NAMES];
} tls_names_t;
static tls_names_t tls_versions = {PTHREAD_MUTEX_INITIALIZER, 1, HS__METRICS_TLS_VERSIONS, {"other"}};
static tls_names_t tls_ciphers = {PTHREAD_MUTEX_INITIALIZER, 1, HS__METRICS_TLS_NAMES, {"other"}};
static tls_names_t tls_reasons = {PTHREAD_MUTEX_INITIALIZER, 1, HS__METRICS_TLS_NAMES, {"other"}};

static unsigned tls_slot(tls_names_t *set, const char *name)
{
    if (!name || !*name)
        return 0;
    int n = atomic_load_explicit(&set->n, memory_order_acquire);
    for (int i = 1; i < n; i++)
        if (!strcmp(set->names[i], name))
            return (unsigned)i;
    pthread_mutex_lock(&set->mu);
    unsigned slot = 0;
    n = atomic_load_explicit(&set->n, memory_order_relaxed);
    for (int i = 1; i < n && !slot; i++)
        if (!strcmp(set->names[i], name))
            slot = (unsigned)i;
    if (!slot && (size_t)n < set->max) {
        set->names[n] = hs_strdup(name);
        atomic_store_explicit(&set->n, n + 1, memory_order_release);
        slot = (unsigned)n;
    }
    pthread_mutex_unlock(&set->mu);
    return slot;
}

void hs__metrics_tls_handshake(hs__metrics_t *m, const char *version, const char *cipher)
{
    hs_counter_add(&m->tls_handshakes[tls_slot(&tls_versions, version)][tls_slot(&tls_ciphers, cipher)], 1);
}

void hs__metrics_tls_failure(hs__metrics_t *m, hs_cause_t cause, const char *reason)
{
    unsigned k = cause == HS_CAUSE_TLS_HANDSHAKE_ABORTED ? 1 : cause == HS_CAUSE_TLS_HANDSHAKE_TIMEOUT ? 2 : 0;
    hs_counter_add(&m->tls_failures[k][tls_slot(&tls_reasons, reason)], 1);
}

/* ---- the exposition (Prometheus text format 0.0.4) ---- */

void hs_metrics_family(hs_metrics_out_t *o, const char *name, const char *type, const char *help)
{
    hs_buf_printf(o->b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void hs_metrics_sample(hs_metrics_out_t *o, const char *name, const char *labels, uint64_t value)
{
    if (labels && labels[0])
        hs_buf_printf(o->b, "%s{%s} %llu\n", name, labels, (unsigned long long)value);
    else
        hs_buf_printf(o->b, "%s %llu\n", name, (unsigned long long)value);
}

void hs_metrics_sample_f(hs_metrics_out_t *o, const char *name, const char *labels, double value)
{
    if (labels && labels[0])
        hs_buf_printf(o->b, "%s{%s} %.17g\n", name, labels, value);
    else
        hs_buf_printf(o->b, "%s %.17g\n", name, value);
}

void hs_metrics_label(hs_buf_t *b, const char *key, const char *value)
{
    if (b->len)
        HS_BUF_LIT(b, ",");
    hs_buf_printf(b, "%s=\"", key);
    for (const char *p = value; *p; p++) {
        if (*p == '\\' || *p == '"')
            hs_buf_printf(b, "\\%c", *p);
        else if (*p == '\n')
            HS_BUF_LIT(b, "\\n");
        else
            hs_buf_append(b, p, 1);
    }
    HS_BUF_LIT(b, "\"");
}

/* The sum over the workers of the counter at byte offset `off` in their blocks. */
static uint64_t sum(const hs_server_t *srv, size_t off)
{
    uint64_t t = 0;
    for (int i = 0; i < srv->nworkers; i++) {
        const hs__metrics_t *m = srv->workers[i].metrics;
        if (m)
            t += hs_counter_get((const hs_counter_t *)((const char *)m + off));
    }
    return t;
}
#define SUM(field) sum(srv, offsetof(hs__metrics_t, field))

/* labels built in a scratch buffer, NUL-terminated for hs_metrics_sample */
static const char *labels(hs_buf_t *l)
{
    hs_buf_append(l, "", 1);
    l->len--;
    return l->base;
}

static void responses(const hs_server_t *srv, hs_metrics_out_t *o, int nhosts)
{
    hs_metrics_family(o, "statusd_http_responses_total", "counter",
                      "Responses by exact status code and configured host (444, 494 and 499 are never sent, only "
                      "logged and counted; host _other: a Host naming no configured host, or none known yet).");
    hs_buf_t l = {0};
    for (int h = 0; h < nhosts; h++)
        for (size_t c = 0; c < HS__METRICS_CODES; c++) {
            uint64_t v = SUM(responses[h][c]);
            if (!v)
                continue;
            char code[8];
            if (c < status_count)
                snprintf(code, sizeof(code), "%d", status_table[c].code);
            else
                snprintf(code, sizeof(code), "other");
            l.len = 0;
            hs_metrics_label(&l, "code", code);
            hs_metrics_label(&l, "host", host_names[h]);
            hs_metrics_sample(o, "statusd_http_responses_total", labels(&l), v);
        }
    hs_buf_free(&l);
}

static void durations(const hs_server_t *srv, hs_metrics_out_t *o, int nhosts)
{
    static const char *const classes[5] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
    hs_metrics_family(o, "statusd_http_request_duration_seconds", "histogram",
                      "Time from the first byte of a request to its end (millisecond resolution), by configured "
                      "host and status class.");
    hs_buf_t l = {0};
    for (int h = 0; h < nhosts; h++)
        for (int c = 0; c < 5; c++) {
            uint64_t counts[HS__METRICS_BUCKETS + 1], total = 0;
            for (int b = 0; b <= HS__METRICS_BUCKETS; b++)
                total += counts[b] = SUM(duration[h][c][b]);
            if (!total)
                continue;
            uint64_t cum = 0;
            for (int b = 0; b <= HS__METRICS_BUCKETS; b++) {
                cum += counts[b];
                l.len = 0;
                hs_metrics_label(&l, "host", host_names[h]);
                hs_metrics_label(&l, "code_class", classes[c]);
                hs_metrics_label(&l, "le", b < HS__METRICS_BUCKETS ? bucket_le[b] : "+Inf");
                hs_metrics_sample(o, "statusd_http_request_duration_seconds_bucket", labels(&l), cum);
            }
            l.len = 0;
            hs_metrics_label(&l, "host", host_names[h]);
            hs_metrics_label(&l, "code_class", classes[c]);
            hs_metrics_sample_f(o, "statusd_http_request_duration_seconds_sum", labels(&l),
                                (double)SUM(duration_ms[h][c]) / 1000.0);
            hs_metrics_sample(o, "statusd_http_request_duration_seconds_count", labels(&l), total);
        }
    hs_buf_free(&l);
}

static void errors(const hs_server_t *srv, hs_metrics_out_t *o)
{
    hs_metrics_family(o, "statusd_http_request_errors_total", "counter",
                      "Responses of status 400 and above by cause (statusd explain --causes lists them).");
    hs_buf_t l = {0};
    hs_cause_t n = hs_cause_count();
    for (hs_cause_t c = 1; c < n; c++) {
        uint64_t v = SUM(errors[c]);
        if (!v)
            continue;
        l.len = 0;
        hs_metrics_label(&l, "cause", hs_cause_id(c));
        hs_metrics_sample(o, "statusd_http_request_errors_total", labels(&l), v);
    }
    hs_buf_free(&l);
}

static void tls(const hs_server_t *srv, hs_metrics_out_t *o)
{
    static const hs_cause_t causes[3] = {HS_CAUSE_TLS_HANDSHAKE_FAILED, HS_CAUSE_TLS_HANDSHAKE_ABORTED,
                                         HS_CAUSE_TLS_HANDSHAKE_TIMEOUT};
    hs_buf_t l = {0};
    int nv = atomic_load_explicit(&tls_versions.n, memory_order_acquire);
    int nc = atomic_load_explicit(&tls_ciphers.n, memory_order_acquire);
    int nr = atomic_load_explicit(&tls_reasons.n, memory_order_acquire);
    hs_metrics_family(o, "statusd_tls_handshakes_total", "counter",
                      "TLS handshakes completed (or whose 0-RTT data arrived), by protocol version and cipher.");
    for (int v = 0; v < nv; v++)
        for (int c = 0; c < nc; c++) {
            uint64_t n = SUM(tls_handshakes[v][c]);
            if (!n)
                continue;
            l.len = 0;
            hs_metrics_label(&l, "version", tls_versions.names[v]);
            hs_metrics_label(&l, "cipher", tls_ciphers.names[c]);
            hs_metrics_sample(o, "statusd_tls_handshakes_total", labels(&l), n);
        }
    hs_metrics_family(o, "statusd_tls_handshake_failures_total", "counter",
                      "TLS handshakes that failed, by cause (statusd explain --causes) and reason (OpenSSL's words).");
    for (int k = 0; k < 3; k++)
        for (int r = 0; r < nr; r++) {
            uint64_t n = SUM(tls_failures[k][r]);
            if (!n)
                continue;
            l.len = 0;
            hs_metrics_label(&l, "cause", hs_cause_id(causes[k]));
            hs_metrics_label(&l, "reason", tls_reasons.names[r]);
            hs_metrics_sample(o, "statusd_tls_handshake_failures_total", labels(&l), n);
        }
    hs_buf_free(&l);
}

void hs_metrics_render(hs_server_t *srv, hs_buf_t *b)
{
    hs_metrics_out_t out = {.b = b}, *o = &out;
    int nhosts = atomic_load(&nhost_names);
    responses(srv, o, nhosts);
    errors(srv, o);
    durations(srv, o, nhosts);
    tls(srv, o);

    uint64_t started_req = SUM(requests_started), done = 0; /* every request ended is in the histogram */
    for (int h = 0; h < nhosts; h++)
        for (int c = 0; c < 5; c++)
            for (int k = 0; k <= HS__METRICS_BUCKETS; k++)
                done += SUM(duration[h][c][k]);
    uint64_t opened = SUM(conns_opened), closed = SUM(conns_closed);
    uint64_t in_flight = started_req > done ? started_req - done : 0, open = opened > closed ? opened - closed : 0;
    hs_metrics_family(o, "statusd_http_received_bytes_total", "counter", "Bytes read from clients.");
    hs_metrics_sample(o, "statusd_http_received_bytes_total", NULL, SUM(received_bytes));
    hs_metrics_family(o, "statusd_http_sent_bytes_total", "counter", "Bytes written to clients, heads included.");
    hs_metrics_sample(o, "statusd_http_sent_bytes_total", NULL, SUM(sent_bytes));
    hs_metrics_family(o, "statusd_http_connections_accepted_total", "counter",
                      "Connections accepted (those refused with 503 over max_connections not included).");
    hs_metrics_sample(o, "statusd_http_connections_accepted_total", NULL, opened);
    hs_metrics_family(o, "statusd_http_connections", "gauge",
                      "Open connections: active (a request in progress, an upgraded connection) or idle.");
    hs_metrics_sample(o, "statusd_http_connections", "state=\"active\"", HS_MIN(in_flight, open));
    hs_metrics_sample(o, "statusd_http_connections", "state=\"idle\"", open - HS_MIN(in_flight, open));
    hs_metrics_family(o, "statusd_http_requests_in_flight", "gauge", "Requests started and not yet ended.");
    hs_metrics_sample(o, "statusd_http_requests_in_flight", NULL, in_flight);
    hs_metrics_family(o, "statusd_offload_queue_depth", "gauge", "Jobs waiting for a helper thread.");
    hs_metrics_sample(o, "statusd_offload_queue_depth", NULL, hs__offload_queued());
    hs_metrics_family(o, "statusd_config_generation", "gauge",
                      "The configuration being served: 1 at start, one more per successful reload.");
    hs_metrics_sample(o, "statusd_config_generation", NULL, atomic_load(&srv->generation));
    hs_metrics_family(o, "statusd_config_reloads_total", "counter", "Reloads (SIGHUP) by result.");
    hs_metrics_sample(o, "statusd_config_reloads_total", "result=\"ok\"", atomic_load(&srv->reloads_ok));
    hs_metrics_sample(o, "statusd_config_reloads_total", "result=\"error\"", atomic_load(&srv->reloads_failed));
    hs_metrics_family(o, "statusd_process_start_time_seconds", "gauge", "When the process started (Unix time).");
    hs_metrics_sample(o, "statusd_process_start_time_seconds", NULL, (uint64_t)started);
    hs_metrics_family(o, "statusd_build_info", "gauge", "The running version (always 1).");
    hs_metrics_sample(o, "statusd_build_info", "version=\"" HS_VERSION "\"", 1);
    for (size_t i = 0; srv->modules[i]; i++)
        if (srv->modules[i]->metrics)
            srv->modules[i]->metrics(srv, o);
}
