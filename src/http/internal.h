/* statusd — internals shared by conn.c, response.c, server.c and accesslog.c. */
#ifndef HS_HTTP_INTERNAL_H
#define HS_HTTP_INTERNAL_H

#include "hs/http.h"
#include "hs/tls.h"

#include <netinet/in.h>

enum {
    HS_CS_IDLE = 0,  /* waiting for the first byte of a request (keep-alive timer) */
    HS_CS_HEAD,      /* receiving a request head (header timer, from the first byte) */
    HS_CS_BODY,      /* reading a request body for a handler (body timer, per read) */
    HS_CS_HANDLER,   /* a handler works asynchronously */
    HS_CS_WRITE,     /* writing the response (send timer, per write) */
    HS_CS_LINGER,    /* write side shut; draining input before close (linger timer) */
    HS_CS_UPGRADED,  /* after 101: bytes go to the upgrade handler */
    HS_CS_HANDSHAKE, /* TLS listener: what the client speaks, then the TLS handshake (handshake timer) */
};

struct hs_conn_s {
    hs_sock_t sock; /* first: its io is the connection's; its loop's data is the worker */
    hs_conn_t *next, *prev;
    hs_req_t *req; /* the request being served, NULL when idle */
    /* accepted on a TLS listener: the contexts of the generation current then (a reference,
     * handed to the session at the first bytes, dropped if they are plain HTTP), what plain HTTP
     * gets there (HS_PLAIN_HTTP_*) and the listener's port, for the https:// URL */
    hs_tls_server_t *tls_srv;
    uint16_t tls_port;
    uint8_t plain_http;
    uint32_t requests;
    uint32_t linger_bytes;
    uint8_t state;
    bool in_run : 1, rerun : 1, dead : 1, closed : 1, upgrade_closing : 1, read_paused : 1;
    bool upgrade_eof : 1;     /* upgraded: the peer closed its side and the handler took it (on_eof) */
    bool tls : 1;             /* accepted on a TLS listener */
    bool plain_on_tls : 1;    /* plain HTTP arrived on a TLS listener: answered 497 (or 308), then closed */
    struct sockaddr_in6 peer; /* v4 peers are stored as sockaddr_in in the same space */
};

/* conn.c */
/* A connection accepted on the listener numbered `listener` of the worker's generation (its
 * listen value; -1: none, plain HTTP — a test's socketpair). */
void hs__conn_accept(hs_worker_t *w, int fd, const struct sockaddr *sa, socklen_t salen, int listener);
/* Run the state machine; called while it is already running (a handler answering from inside
 * dispatch), it only asks the running loop to go round once more. */
void hs__conn_run(hs_conn_t *c);
void hs__conn_close_idle(hs_worker_t *w); /* on drain: close connections waiting for a request */
/* Output was queued for the current request: write it (the connection moves to its writing
 * state, or stays upgraded) and carry on from there. */
void hs__conn_output_ready(hs_conn_t *c);

/* metrics.c — each worker's counters (include/hs/metrics.h), written by that worker only */
#include "hs/metrics.h"
#define HS__METRICS_BUCKETS 12     /* duration histogram: 1ms … 10s, then +Inf */
#define HS__METRICS_CODES 128      /* the registry's codes (and "other" last) */
#define HS__METRICS_TLS_VERSIONS 4 /* "other", then the protocol versions seen (TLSv1.2, TLSv1.3) */
#define HS__METRICS_TLS_NAMES 32   /* "other", then cipher names / failure reasons as first seen */
typedef struct hs__metrics_s {
    hs_counter_t requests_started, conns_opened, conns_closed, received_bytes, sent_bytes;
    hs_counter_t responses[HS_METRICS_HOSTS][HS__METRICS_CODES];
    hs_counter_t duration[HS_METRICS_HOSTS][5][HS__METRICS_BUCKETS + 1]; /* by status class */
    hs_counter_t duration_ms[HS_METRICS_HOSTS][5];
    hs_counter_t errors[HS_CAUSE_MAX];
    /* TLS: handshakes by protocol version and cipher, failed ones by cause and reason (the
     * names' slots: metrics.c tls_names) */
    hs_counter_t tls_handshakes[HS__METRICS_TLS_VERSIONS][HS__METRICS_TLS_NAMES];
    hs_counter_t tls_failures[3][HS__METRICS_TLS_NAMES];
} hs__metrics_t;
hs__metrics_t *hs__metrics_new(void); /* zeroed, on its own cache lines */
void hs__metrics_free(hs__metrics_t *m);
/* Main thread: give the built hosts of `top` their label slots. True when a path of it serves
 * metrics (the server then counts: srv->metrics_on). */
bool hs__metrics_bind(hs_config_t *top);
/* The worker's counters when counting is on, else NULL: one load (w->counting follows
 * srv->metrics_on, refreshed by the worker at startup and when it takes a reload). */
static inline hs__metrics_t *hs__metrics_of(const hs_worker_t *w)
{
    return w->counting;
}
static inline void hs__metrics_refresh(hs_worker_t *w)
{
    w->counting = atomic_load_explicit(&w->srv->metrics_on, memory_order_relaxed) ? w->metrics : NULL;
}
/* A request ended with `status` (conn.c request_finish). Inline: the whole cost of counting a
 * request is here, a few loads and five stores (the measure is in the README). */
typedef struct {
    uint8_t slot, cls; /* the code's counter (its place in the registry, or "other"), its class - 1 */
} hs__metrics_code_t;
extern hs__metrics_code_t hs__metrics_codes[1000];
extern const uint64_t hs__metrics_bucket_ms[HS__METRICS_BUCKETS];
static inline void hs__metrics_request(hs__metrics_t *m, const hs_req_t *req, int status)
{
    unsigned host = req->host && req->host_known ? req->host->metrics_slot : 0;
    hs__metrics_code_t code = hs__metrics_codes[(unsigned)status < 1000 ? status : 0];
    hs_counter_add(&m->responses[host][code.slot], 1);
    uint64_t ms = req->worker->loop.now_ms - req->start_ms;
    unsigned b = 0;
    while (b < HS__METRICS_BUCKETS && ms > hs__metrics_bucket_ms[b])
        b++;
    hs_counter_add(&m->duration[host][code.cls][b], 1);
    hs_counter_add(&m->duration_ms[host][code.cls], ms);
    if (status >= 400)
        hs_counter_add(&m->errors[hs_req_cause(req, status)], 1);
    hs_counter_add(&m->sent_bytes, req->wire_bytes);
}
/* A connection that never made a request: 503 at accept, a failed TLS handshake (444, 499). */
void hs__metrics_refused(hs__metrics_t *m, int status, hs_cause_t cause);
/* A TLS handshake completed (or its 0-RTT data arrived) with this version and cipher; one failed
 * or timed out (cause HS_CAUSE_TLS_HANDSHAKE_*) for this reason (a static string). */
void hs__metrics_tls_handshake(hs__metrics_t *m, const char *version, const char *cipher);
void hs__metrics_tls_failure(hs__metrics_t *m, hs_cause_t cause, const char *reason);

/* gen.c — configuration generations (hs_gen_t) */
void hs__gen_init(hs_gen_t *g, hs_server_t *srv, hs_config_t *cfg, uint64_t id); /* refs = 1 */
int hs__gen_modules_init(hs_gen_t *g); /* each module's init; all undone on failure */
void hs__gen_release(hs_gen_t *g);     /* one reference less; the last frees it */
/* The worker's side: a request takes the worker's current generation and gives it back at its
 * end; a reload's generation is switched to between two loop wake-ups (false: not now). */
static inline hs_gen_t *hs__gen_request_start(hs_worker_t *w)
{
    w->gen_reqs++;
    return w->gen;
}
void hs__gen_old_request_end(hs_worker_t *w, hs_gen_t *g); /* a generation the worker left */
static inline void hs__gen_request_end(hs_worker_t *w, hs_gen_t *g)
{
    if (HS_LIKELY(g == w->gen))
        w->gen_reqs--;
    else
        hs__gen_old_request_end(w, g);
}
bool hs__gen_switch(hs_worker_t *w, hs_gen_t *next);
void hs__gen_worker_done(hs_worker_t *w); /* the worker stopped: its references go */

/* offload.c */
size_t hs__offload_queued(void);             /* jobs waiting for a helper */
void hs__offload_detach(hs_req_t *req);      /* the request is being freed */
void hs__offload_complete(hs_worker_t *w);   /* on the worker: finish jobs that are done */
void hs__offload_shutdown(hs_server_t *srv); /* after the workers stopped */
void hs__conn_close_all(hs_worker_t *w);     /* at exit */
/* Each module's per-worker state (init_worker), once the worker's loop is ready, before it
 * serves; released by hs__worker_free_pools (fini_worker), with the worker's pools, after the
 * worker stopped and before its loop goes. */
int hs__worker_modules_init(hs_worker_t *w);
void hs__worker_free_pools(hs_worker_t *w);
ssize_t hs__conn_flush(hs_conn_t *c);

/* request.c */
/* Find the request's host and path, apply the path's limits, run the phases. */
void hs__req_process(hs_req_t *req);
/* 405 to CONNECT where no forward proxy serves it (cause connect_method). */
void hs__connect_refused(hs_req_t *req);
/* The request ends with `status` (conn.c): first the modules' log phase (which may add fields to
 * its access log line: hs_req_log_field), then the line and the metrics, then hs__req_end: its
 * cleanups. */
void hs__req_log_phase(hs_req_t *req, int status);
void hs__req_end(hs_req_t *req, int status);

/* response.c */
/* Build and queue the response head. framing: 0 = Content-Length (when the status allows a body),
 * 1 = chunked, 2 = none (close-delimited or 101). */
void hs__queue_head(hs_req_t *req, int status, int framing);
void hs__status_lines_init(void);
hs_iovec_t hs__status_line(int status);
/* Build the error body for status/detail according to the client's preference. */
void hs__error_body(hs_req_t *req, int status, const char *detail);
/* Check the registry rules of a response about to be written; abort in checking builds. */
void hs__check_response(hs_req_t *req, bool has_body_bytes);

/* https.c — the TLS contexts of a generation's listeners */
/* Build g->tls[] (and g->plain_http[]) from g->cfg: reads the certificate, key, OCSP and CA files
 * (messages carry FILE:LINE). HS_OK (also when there is no TLS listener) or HS_ERROR, with what
 * was built released. Main thread. */
int hs__https_gen_init(hs_gen_t *g, char *err, size_t errlen);
/* Once the generation's listeners are bound (port 0 resolved): the port its redirects name. */
void hs__https_gen_ports(hs_gen_t *g);
void hs__https_gen_free(hs_gen_t *g); /* its references on the contexts (idempotent) */
/* "https://HOST[:PORT]/path?query" for the request (the port left out when 443), in its arena. */
const char *hs__https_url(hs_req_t *req, unsigned port);
/* The connection's TLS fields for its log line (tls=, cipher=, tls_error=), added to `fields`. */
void hs__https_log_fields(const hs_conn_t *c, const char *failure, hs_buf_t *fields);

/* accesslog.c — lines are added only at the end of a request (conn.c request_finish), and for
 * the connections refused before they became one (server.c), on the worker's thread. */
void hs__access_log(hs_req_t *req, int status, uint64_t bytes);
void hs__access_log_raw(hs_worker_t *w, const hs_config_t *cfg, const struct sockaddr *peer, const char *reqline,
                        size_t len, int status, hs_cause_t cause);
/* A TLS handshake that failed (or timed out): a line without a request (cause, why). */
void hs__access_log_tls_failure(hs_conn_t *c, int status, hs_cause_t cause, const char *why);
void hs__access_log_flush(hs_worker_t *w); /* write the buffered lines (every loop iteration) */
void hs__access_log_free(hs_worker_t *w);  /* flush, then release the worker's buffers */
/* Main thread: give every settings set of a built configuration (the top, each path) its log
 * file (cfg->log_target), opening files not open yet. HS_OK, or HS_ERROR with a message. */
int hs__access_log_bind(hs_config_t *top, char *err, size_t errlen);
void hs__access_log_reopen(void);    /* SIGUSR1: every file afresh behind its descriptor */
void hs__access_log_close_all(void); /* at exit, once the workers are gone */

#endif
