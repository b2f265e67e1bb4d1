/* statusd — Prometheus metrics (src/http/metrics.c; served by the metrics module at a path with
 * `metrics: true`, or on every host at --metrics-path).
 *
 * The text exposition format, version 0.0.4. Series of the engine (names statusd_*):
 *   statusd_http_responses_total{code,host}        counter: every response by its exact code,
 *                                                   444, 494 and 499 (logged, never sent) too
 *   statusd_http_request_errors_total{cause}       counter: responses >= 400 by cause
 *   statusd_http_request_duration_seconds{host,code_class}  histogram
 *   statusd_http_received_bytes_total, statusd_http_sent_bytes_total
 *   statusd_http_connections_accepted_total, statusd_http_connections{state=idle|active},
 *   statusd_http_requests_in_flight, statusd_offload_queue_depth, statusd_build_info,
 *   statusd_process_start_time_seconds, statusd_config_generation, statusd_config_reloads_total
 *   statusd_tls_handshakes_total{version,cipher}  counter: TLS handshakes completed
 *   statusd_tls_handshake_failures_total{cause,reason}  counter: failed ones, as the log has them
 * `host` is the configured host that served the request (as written: "example.com",
 * "*.example.org"; "*" without hosts), or "_other" for a Host naming none of them and for
 * requests refused before a host was known; the number of host labels is bounded
 * (HS_METRICS_HOSTS: names beyond it count as "_other").
 *
 * Counting costs no atomic instruction and no allocation: each worker has its own counters, on
 * cache lines no other worker writes, updated only by that worker (hs_counter_add: a load and
 * a store), and a scrape sums them. Nothing is counted while no path serves metrics.
 *
 * A module adds series with hs_module_t.metrics: called on the scraping worker's thread while a
 * scrape is written, it sums its own per-worker hs_counter_t (hs_worker_ctx of each worker of
 * srv->workers) and writes families with hs_metrics_family / hs_metrics_sample, named
 * statusd_<area>_<what>_<unit>, counters ending in _total, as the engine's do. */
#ifndef HS_METRICS_H
#define HS_METRICS_H

#include "hs/core.h"

#define HS_METRICS_HOSTS 32 /* host labels: "_other" and 31 configured names */

/* A counter of one worker: written by that worker only, read by any (a scrape). */
typedef _Atomic uint64_t hs_counter_t;
static inline void hs_counter_add(hs_counter_t *c, uint64_t n)
{
    /* a single writer: a plain load and store, no lock prefix; atomic only so that a reader on
     * another thread sees a whole value (C17 §7.17) */
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n, memory_order_relaxed);
}
static inline uint64_t hs_counter_get(const hs_counter_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

/* What a scrape writes to (a growable buffer). */
typedef struct hs_metrics_out_s {
    hs_buf_t *b;
} hs_metrics_out_t;

/* "# HELP name help\n# TYPE name type\n"; type is counter, gauge or histogram. */
void hs_metrics_family(hs_metrics_out_t *o, const char *name, const char *type, const char *help);
/* One sample: name{labels} value. labels is what goes between the braces, already escaped
 * (hs_metrics_label), or NULL/"" for none. */
void hs_metrics_sample(hs_metrics_out_t *o, const char *name, const char *labels, uint64_t value);
void hs_metrics_sample_f(hs_metrics_out_t *o, const char *name, const char *labels, double value);
/* Append `key="value"` (with a comma before it when b is not empty) to b, the value escaped as
 * the format requires (\\, \" and \n). */
void hs_metrics_label(hs_buf_t *b, const char *key, const char *value);

typedef struct hs_server_s hs_server_t;
/* Write the whole exposition (the engine's series, then each module's) into b. On a worker's
 * thread (the one serving the scrape). */
void hs_metrics_render(hs_server_t *srv, hs_buf_t *b);
/* Is anything counted? (a path of the configuration serves metrics) */
bool hs_metrics_enabled(const hs_server_t *srv);

#endif
