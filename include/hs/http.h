/* statusd — server, worker, connection and request: the handler-facing API.
 *
 * A module's phase handlers (see hs_module_t) receive a hs_req_t with the parsed head. A content
 * handler either
 *   - sets up a response and calls hs_res_send() (or one of the hs_res_* shortcuts), returning HS_OK,
 *   - returns HS_DECLINED: nothing here (404),
 *   - starts asynchronous work (a timer, a body stream, a helper thread, an upstream) and returns
 *     HS_AGAIN; it must then eventually answer (or close the connection).
 * Every status leaves through hs_res_send(), which takes its reason phrase and body rules from
 * the registry (src/http/status.def).
 *
 * Ownership. The connection owns its request; a handler borrows it until the request ends (the
 * response written, the client gone, or the server shut down) — hs_req_cleanup says when. Memory
 * from the request's arena (hs_arena_alloc(&req->arena, …), hs_res_headerf …) lives exactly that
 * long. Slices of the head (req->p, req->meta, header values) point into the arena too. What a
 * handler passes to the response API is referenced, not copied, unless a function says it copies:
 * names, values and bodies must live as long as the request (the arena, static data, or memory
 * freed by a cleanup). Settings (hs_req_conf, hs_req_cfg) belong to the configuration and outlive
 * every request; per-worker state (hs_worker_ctx) belongs to its module and lives until the
 * worker ends. All of it is used on the worker's thread only, but for hs_req_offload's work.
 */
#ifndef HS_HTTP_H
#define HS_HTTP_H

#include "hs/cause.h"
#include "hs/config.h"
#include "hs/loop.h"
#include "hs/parse.h"
#include "hs/status.h"
#include "hs/writer.h"
#include "hs/addr.h"
#include "hs/codec.h"     /* hs_form_next, hs_html_escape: were declared here */
#include "hs/date.h"      /* was in hs/core.h */
#include "hs/fields.h"    /* hs_list_next: was in hs/parse.h */
#include "hs/json.h"      /* hs_json_str: was declared here */
#include "hs/negotiate.h" /* hs_negotiate_type: was declared here */

#include <pthread.h>
#include <sys/socket.h>
#include <stdatomic.h>

typedef struct hs_server_s hs_server_t;
typedef struct hs_worker_s hs_worker_t;
typedef struct hs_conn_s hs_conn_t;
typedef struct hs_req_s hs_req_t;
typedef struct hs_upgrade_s hs_upgrade_t;
typedef struct hs_job_s hs_job_t;
typedef struct hs_gen_s hs_gen_t;
struct hs_metrics_out_s; /* include/hs/metrics.h */

/* How a piece of a streamed request body comes (hs_req_body_stream). */
enum {
    HS_BODY_DATA, /* more of the body; more will follow */
    HS_BODY_END,  /* the last piece (may be empty): the body is complete */
    HS_BODY_ERROR /* the body ended badly (req->body_error says how); nothing more will come */
};
typedef void (*hs_body_cb)(hs_req_t *req, const char *data, size_t len, int how);

/* A module (src/modules/…): its settings and directives, and the phases it takes part in.
 *
 * After the head of a request is parsed and passes the protocol checks, the engine finds the
 * request's host and path (find-config: 421 with strict_hosts, the path's max_body and
 * length_required: 413, 411), then runs the phases in order, each module's handler for it in
 * the order of hs_modules:
 *   rewrite, access — HS_DECLINED: no objection, the next handler; HS_OK: this phase is decided,
 *     on to the next phase; HS_AGAIN: asynchronous work (a password hash on a helper thread …):
 *     the module then calls hs_req_resume (carry on after it) or answers; HS_DONE: a response
 *     is under way (the module answered).
 *   content — only the path's handler: it answers (HS_OK), starts asynchronous work (HS_AGAIN,
 *     reading the body counts), or declines (HS_DECLINED: 404).
 *   log — every module's, once, when the request ends, with its final status (req->log_status),
 *     before its access log line is written (so it may add fields: hs_req_log_field).
 * Settings: hs_req_conf(req, module) is the module's settings struct for the request's path
 * (its `conf` schema); per-request state goes in hs_req_ctx slots; per-worker state is made
 * by init_worker (hs_worker_ctx). */
typedef struct hs_module_s {
    const char *name;
    hs_conf_schema_t conf; /* its directives and settings struct (include/hs/config.h) */
    int index;             /* set at startup: its settings' index (1 + its place in hs_modules) */
    /* Once per configuration generation (hs_gen_t): at startup, and at each reload (SIGHUP) for
     * the new configuration, on the main thread, before any request is served by it; state for
     * that configuration goes in gen->mod[m->index] (hs_gen_ctx). HS_OK, or HS_ERROR: startup
     * fails, a reload is refused. fini: when the last request of that generation has ended
     * (on that request's worker thread, or the main thread at exit). */
    int (*init)(hs_gen_t *gen);
    void (*fini)(hs_gen_t *gen);
    int (*init_worker)(hs_worker_t *w);  /* on each worker's thread before it serves; HS_OK or HS_ERROR */
    void (*fini_worker)(hs_worker_t *w); /* on each worker's thread once it served */
    /* On each worker's thread when it took a new generation (a reload; w->gen is the new one),
     * between two wake-ups of its loop: per-worker state that follows the configuration (the
     * gateway's health-check timer) starts or stops here. Not called for the first generation:
     * init_worker sees that one. NULL: nothing to do. */
    void (*worker_gen)(hs_worker_t *w);
    int (*rewrite)(hs_req_t *req);
    int (*access)(hs_req_t *req);
    int (*content)(hs_req_t *req);
    void (*log)(hs_req_t *req);
    /* SIGHUP, on the main thread while the workers serve: read again what the module loaded
     * from files (password files …); it must leave requests in flight undisturbed. NULL: none. */
    void (*reload)(hs_server_t *srv);
    /* Its causes (include/hs/cause.h): a static table whose entry i is the module's cause
     * hs_module_cause(m, i), registered before workers start (ids unique among all causes, such
     * as "rule:deny" or "file:not_found"). NULL/0: none. cause_base is set at registration. */
    const hs_cause_info_t *causes;
    size_t ncauses;
    hs_cause_t cause_base;
    /* Its series in /metrics (include/hs/metrics.h): called while a scrape is written, on the
     * scraping worker's thread; sums the module's per-worker hs_counter_t. NULL: none. */
    void (*metrics)(hs_server_t *srv, struct hs_metrics_out_s *out);
} hs_module_t;

/* A configuration generation: the configuration being served, and what is made from it. The
 * first comes from startup; each accepted reload (SIGHUP) makes the next. A request is served
 * from start to end by the generation that was current when it started (req->gen); a
 * connection takes the current one at each new request, so a keep-alive connection's next
 * request sees a reload, and a request in flight never does. A generation is freed (its
 * modules' fini, its configuration) when it is no longer current and its last request ended. */
struct hs_gen_s {
    hs_server_t *srv;
    hs_config_t *cfg; /* the top of its configuration (read-only while it is served) */
    uint64_t id;      /* 1 at startup, one more per reload */
    hs_parse_limits_t limits;
    hs_chunked_limits_t chunk_limits;
    void *mod[HS_MAX_MODULES]; /* each module's state for this configuration (its init) */
    /* private to src/http (server.c, gen.c) */
    _Atomic int refs; /* the server's while current, and each worker's that uses it */
    bool owns_cfg;    /* a reload's: freed with the generation (the first is the caller's) */
    size_t num_listen;
    struct sockaddr_storage listen_want[HS_MAX_LISTEN]; /* as configured (port 0 stays 0) */
    struct sockaddr_storage listen_addr[HS_MAX_LISTEN]; /* as bound */
    socklen_t listen_len[HS_MAX_LISTEN];
    int listen_from[HS_MAX_LISTEN]; /* the previous generation's listener kept here, or -1 */
    int *new_fds;                   /* [worker * HS_MAX_LISTEN + i]: sockets bound for listener i */
    /* TLS listeners (src/http/https.c): their contexts for this configuration (one reference
     * each, NULL: plain HTTP), what plain HTTP on them gets (HS_PLAIN_HTTP_*), and the port of
     * the https:// URLs redirects name */
    struct hs_tls_server_s *tls[HS_MAX_LISTEN];
    uint8_t plain_http[HS_MAX_LISTEN];
    uint16_t https_port;
};

struct hs_server_s {
    hs_config_t *cfg; /* the current generation's (main thread; workers read req->gen, w->gen) */
    hs_gen_t *gen;    /* the current generation (main thread) */
    hs_gen_t gen1;    /* the first, from hs_server_init */
    /* re-read the configuration for a reload: defaults, file, environment, flags, validated
     * (set by the program, src/cli/main.c); HS_OK or HS_ERROR with a message */
    int (*load)(hs_config_t *cfg, void *arg, char *err, size_t errlen);
    void *load_arg;
    hs_module_t *const *modules; /* hs_modules (hs_server_use_modules may give another): phase order */
    /* the modules with a handler for each phase, in order, NULL-terminated (hs_server_use_modules) */
    hs_module_t *rewrite[HS_MAX_MODULES + 1], *access[HS_MAX_MODULES + 1], *log[HS_MAX_MODULES + 1];
    /* the same per phase (rewrite, access, log) as bits of module indexes: a path whose idle mask
     * (hs_pathconf_t.idle) covers them skips the phase without a look at each module */
    uint32_t phase_mods[3];
    int nworkers;
    hs_worker_t *workers;
    _Atomic int connections;   /* open connections across workers */
    _Atomic int shutting_down; /* 1 = stop accepting, drain */
    _Atomic bool metrics_on;   /* a path serves /metrics: the workers count (src/http/metrics.c) */
    _Atomic uint64_t generation, reloads_ok, reloads_failed; /* the configuration served, reloads */
    _Atomic int stopping;           /* 1 = SIGTERM seen: health paths answer 503 (drain_delay, then the drain) */
    struct hs_tls_keys_s *tls_keys; /* session ticket keys of every TLS context, kept across reloads */
    uint64_t drain_deadline_ms;
};

struct hs_worker_s {
    hs_server_t *srv;
    int id;
    pthread_t thread;
    hs_loop_t loop;
    size_t num_listeners;
    hs_conn_t *conns; /* doubly-linked list of open connections */
    int nconns;
    void *mod[HS_MAX_MODULES]; /* each module's per-worker state (made by its init_worker) */
    pthread_mutex_t jobs_mu;   /* guards jobs_done: helpers add, the worker takes */
    hs_job_t *jobs_done;       /* offloaded work finished, to complete on this worker */
    uint64_t req_seq;          /* requests started here: ids unique across workers, no atomics */
    hs_req_t *req_pool;        /* finished requests kept for reuse (with one arena block each) */
    int nreq_pool;
    int req_pool_freed;        /* spares the decay gave back since the allocator last trimmed */
    hs_timer_t req_pool_timer; /* linked while the pool holds more than its floor (conn.c) */
    bool draining;
    time_t date_sec;                       /* the second `date` was made for */
    char date[30];                         /* IMF-fixdate of the loop's second (hs_worker_date) */
    hs_buf_t log_bufs[HS_MAX_LOG_TARGETS]; /* access log lines not yet written, per log file */
    uint64_t log_dirty;                    /* a bit per log file with lines in log_bufs */
    time_t log_sec;                        /* the second log_when was made for */
    char log_when[28];                     /* "06/Nov/1994:08:49:37 +0000" */
    bool log_lost;                         /* a write of the log failed (said once) */
    struct hs__metrics_s *metrics;         /* this worker's counters (src/http/metrics.c), written by it only */
    struct hs__metrics_s *counting;        /* metrics while a path serves them, else NULL */
    /* configuration generations (src/http/gen.c): the one new requests take, the older ones
     * requests still use (a count each), and the next one, handed over by a reload */
    hs_gen_t *gen;
    size_t gen_reqs;
    struct {
        hs_gen_t *gen;
        size_t reqs;
    } old_gens[8];
    size_t nold_gens;
    _Atomic(hs_gen_t *) next_gen;
    void *listeners; /* server.c: this worker's listening sockets */
};

/* One response header. */
typedef struct hs_res_header_s {
    hs_iovec_t name, value;
} hs_res_header_t;

typedef struct hs_cleanup_s hs_cleanup_t;

struct hs_req_s {
    hs_conn_t *conn;
    hs_worker_t *worker;
    hs_server_t *srv;
    hs_gen_t *gen; /* the configuration generation serving it, from its start to its end */
    hs_arena_t arena;
    const hs_pathconf_t *path; /* the host's path serving it (NULL before find-config or when none) */
    const hs_hostconf_t *host; /* the host serving it (NULL before find-config, or refused: 421) */
    bool host_known;           /* the request named that host (else it is the default host) */
    hs_iovec_t npath;          /* the request path in normal form (hs/path.h); no NUL after it */
    bool npath_plain;          /* and it had no escapes, dots or double slashes (hs_path_is_plain) */
    bool tls_early;            /* it started in TLS 1.3 early data (RFC 8470) */
    uint8_t phase, phase_i;    /* where the phases are (hs_req_resume continues from there) */
    bool in_phase, resume_asked;
    void *ctx[HS_MAX_MODULES]; /* per-request state of each module (hs_req_ctx) */
    hs_cleanup_t *cleanups;    /* run when the request ends, last registered first */
    hs_buf_t log_fields;       /* key=value fields modules add to its access log line */
    hs_parsed_req_t p;
    hs_req_meta_t meta;
    uint64_t id;
    uint64_t start_ms;
    time_t start_sec;
    size_t head_len;

    /* request body: streamed to on_body_data (hs_req_body_stream), or collected in memory by
     * hs_req_read_body, which then calls on_body */
    hs_buf_t body;
    hs_chunked_t chunked;
    int64_t body_left; /* Content-Length bytes not yet read */
    bool body_started, body_done, continue_sent, body_paused;
    int body_error; /* why the body ended badly: 400, 408, 413, 431, or 499 (the client left) */
    void (*on_body)(hs_req_t *req);
    hs_body_cb on_body_data;

    /* response */
    int status;
    hs_res_header_t *res_headers;
    size_t num_res_headers, cap_res_headers;
    int64_t content_length; /* body bytes the response declares */
    const char *content_type;
    const char *error_detail; /* why, for error pages and logs */
    const char *allow;        /* value of Allow for 405 / OPTIONS */
    bool res_close;           /* send Connection: close and close after */
    bool res_sent;
    /* The response is an upstream's, relayed by a gateway (its status may be one the registry
     * does not know, its fields are the upstream's business): the registry's rule check is not
     * applied to it. */
    bool relayed;
    bool abort_conn;  /* close without a response (hs_res_close_silently) */
    bool no_body;     /* HEAD or status without content */
    int log_status;   /* status for the access log when it differs (444, 499, 494) */
    hs_cause_t cause; /* why (hs_req_set_cause); 0: the status's default cause */

    /* streaming / raw / upgrade */
    bool streaming;   /* stream started and not ended */
    bool chunked_out; /* stream uses chunked framing */
    bool raw_mode;    /* output is raw bytes; no framing */
    int raw_flags;
    const hs_upgrade_t *upgrade;
    /* Called when the queued output has drained to drain_low bytes or fewer (once per refill:
     * after a stream write, a stream start or an upgraded write) — the cue to produce more. */
    void (*on_drain)(hs_req_t *req);
    size_t drain_low;
    bool drain_wanted;
    hs_timer_t timer;
    void (*timer_cb)(hs_req_t *req);
    uint64_t head_bytes; /* bytes of the heads queued (interim and final), not counted as body */
    uint64_t wire_bytes; /* bytes written to the socket for this request */

    hs_job_t *job;       /* work running off the loop for it (hs_req_offload) */
    hs_req_t *pool_next; /* the worker's pool of finished requests */

    /* Last, and not cleared when a pooled request is reused: request_free leaves them empty. */
    hs_writer_t out;      /* what goes to the socket: interim responses, the head, the body */
    hs_writer_t res_body; /* the response body as the handler set it, until hs_res_send */
};

/* ---- Response API ---- */
/* Add a response field (name and value must live as long as the request: arena, static or the
 * configuration). Inline: a response adds several and the array rarely has to grow. */
void hs__res_headers_grow(hs_req_t *req, size_t cap);
static inline void hs_res_header(hs_req_t *req, hs_iovec_t name, hs_iovec_t value)
{
    if (HS_UNLIKELY(req->num_res_headers == req->cap_res_headers))
        hs__res_headers_grow(req, req->cap_res_headers ? req->cap_res_headers * 2 : 8);
    req->res_headers[req->num_res_headers++] = (hs_res_header_t){name, value};
}
/* Make room for n more response fields at once (a handler that knows how many it adds: one
 * allocation instead of the doubling steps). */
void hs_res_headers_reserve(hs_req_t *req, size_t n);
HS_FMT(3, 4) void hs_res_headerf(hs_req_t *req, const char *name, const char *fmt, ...);
#define HS_RES_HEADER(req, name, value) hs_res_header((req), HS_IOV(name), hs_iov_cstr(value))
/* Find a response header already added (case-insensitive), or NULL. */
hs_res_header_t *hs_res_find_header(hs_req_t *req, const char *lower_name);
/* Body from memory that lives as long as the request (arena or static). */
void hs_res_body(hs_req_t *req, const void *p, size_t len);
/* Body from a file range; the fd is closed by the caller after the response (on_done) or owned
 * by the open-file cache. */
void hs_res_body_file(hs_req_t *req, int fd, off_t off, size_t len);
/* Send the response with `status`. Adds Date, Server, Content-Length and Connection, checks the
 * registry's rules, writes. HS_OK. */
int hs_res_send(hs_req_t *req, int status);
/* An error response with a body built from the registry, explaining `detail`. */
int hs_res_error(hs_req_t *req, int status, const char *detail);
/* One alternative listed by hs_res_error_variants; the strings are read during the call only. */
typedef struct hs_res_variant_s {
    const char *href;        /* a URI reference, percent-encoded */
    const char *type;        /* its media type, or NULL */
    const char *language;    /* its language tag(s), or NULL */
    const char *description; /* or NULL */
} hs_res_variant_t;
/* hs_res_error whose body also lists the variants of a negotiated resource (300, 406: RFC 9110
 * §15.4.1, §15.5.7), each with a link, in the format negotiated for error bodies. */
int hs_res_error_variants(hs_req_t *req, int status, const char *detail, const hs_res_variant_t *v, size_t n);
/* 405 with Allow. */
int hs_res_method_not_allowed(hs_req_t *req, const char *allow);
/* Close the connection without sending a byte (nginx 444), logging `log_status`. */
void hs_res_close_silently(hs_req_t *req, int log_status);
/* Send an interim (1xx) response now; it is written before the final one. RFC 9110 §15.2 */
int hs_res_interim(hs_req_t *req, int status, const hs_res_header_t *headers, size_t n);

/* ---- Streaming responses (asynchronous handlers) ----
 * hs_res_stream_start sends the head: with Content-Length when req->content_length >= 0 was set
 * before, else chunked (HTTP/1.1) or close-delimited (HTTP/1.0). Data written is copied and
 * queued; `on_drain` (if set) is called whenever the queue has been written out completely.
 * hs_res_stream_end finishes the response (the chunked terminator and optional trailers). */
int hs_res_stream_start(hs_req_t *req, int status);
int hs_res_stream_write(hs_req_t *req, const void *data, size_t len);
/* The same without a copy: data must stay as it is until it has been written — until
 * hs_res_stream_pending() says it is no longer queued, or on_drain with drain_low 0. */
int hs_res_stream_write_ref(hs_req_t *req, const void *data, size_t len);
/* The caller is about to reuse the memory data[0..len) it passed to hs_res_stream_write_ref:
 * whatever of it is still queued is copied now (nothing is when the socket took it all). */
void hs_res_stream_unref(hs_req_t *req, const void *data, size_t len);
int hs_res_stream_end(hs_req_t *req, const hs_res_header_t *trailers, size_t n);
/* Bytes queued but not yet written. */
size_t hs_res_stream_pending(const hs_req_t *req);

/* ---- Raw output (fault injection; bypasses framing and the rule check) ---- */
enum {
    HS_RAW_CLOSE = 1, /* close (FIN) once the bytes are written */
    HS_RAW_RESET = 2, /* close with RST (SO_LINGER 0) once the bytes are written */
    HS_RAW_HOLD = 4,  /* keep the connection open without reading; the handler closes it later */
};
int hs_res_raw(hs_req_t *req, const void *data, size_t len, int flags, int log_status);
/* End a connection held by HS_RAW_HOLD or a stream: close (FIN) or reset (RST). */
void hs_req_close_connection(hs_req_t *req, bool reset);

/* ---- One timer per request, for asynchronous handlers ---- */
void hs_req_set_timer(hs_req_t *req, uint64_t ms, void (*cb)(hs_req_t *req));
void hs_req_cancel_timer(hs_req_t *req);

/* ---- Work off the event loop ----
 * Run work(arg) on a helper thread (a small pool shared by the workers), then done(req, arg) on
 * the request's worker, where the request is answered as usual; the handler returns HS_AGAIN
 * meanwhile and the loop serves everything else. work must not touch the request or any
 * per-worker state. If the request ends first (the client left), done is called with
 * req == NULL, still on the worker (or, at shutdown, after the workers stopped, when work may
 * not have run at all), to release arg. HS_ERROR (no helper, shutting down, a job already running): do the work in
 * place. */
int hs_req_offload(hs_req_t *req, void (*work)(void *arg), void (*done)(hs_req_t *req, void *arg), void *arg);

/* ---- Protocol upgrade (RFC 9110 §7.8): after a 101 the connection carries another protocol.
 * hs_res_upgrade sends the 101 head (with the headers the handler added) and then hands every
 * byte read to on_data; hs_upgraded_write queues bytes; hs_upgraded_close ends it. */
struct hs_upgrade_s {
    void (*on_data)(hs_req_t *req, const char *data, size_t len); /* every byte is handed over once */
    void (*on_close)(hs_req_t *req); /* the peer went away or timed out (req is freed after) */
    /* The peer closed its side (a FIN) and may still read: NULL ends the connection as on_close
     * does; else nothing more is read, the handler may go on writing, and ends it with
     * hs_upgraded_close (or the connection's keep-alive timeout does). */
    void (*on_eof)(hs_req_t *req);
};
int hs_res_upgrade(hs_req_t *req, const hs_upgrade_t *handler);
/* The same for CONNECT (RFC 9110 §9.3.6): a 2xx head without Content-Length or Transfer-Encoding
 * (RFC 9112 §6.3 (2): the connection is a tunnel from the blank line on), then every byte read
 * goes to on_data. HS_ERROR (nothing sent) for a status outside 200-299 or another method. */
int hs_res_connect(hs_req_t *req, int status, const hs_upgrade_t *handler);
int hs_upgraded_write(hs_req_t *req, const void *data, size_t len); /* copied */
/* Stop (true) or resume (false) reading from an upgraded connection: while paused, on_data is
 * not called and the peer is held back by TCP flow control. */
void hs_upgraded_pause(hs_req_t *req, bool paused);
void hs_upgraded_close(hs_req_t *req);

/* ---- Request API ---- */
/* Header value by token (first field), or a NULL base. */
static inline hs_iovec_t hs_req_header(const hs_req_t *req, int token)
{
    const hs_header_t *h = req->meta.h[token];
    return h ? h->value : HS_IOV_NULL;
}
/* Header value by name (case-insensitive, lowercase literal), or a NULL base. */
hs_iovec_t hs_req_header_named(const hs_req_t *req, const char *lower_name);
/* Receive the request body as it arrives: on_data gets every piece once, decoded (chunked
 * framing removed), in order; the data is valid only during the call. The last call says
 * HS_BODY_END (a request without a body gets just that, at once) or HS_BODY_ERROR: a broken
 * chunked framing (400), a body over max_body (413), trailers over max_trailer (431), the body
 * not arriving within body_timeout (408), the client leaving (499) — req->body_error says
 * which; the engine then answers that status itself unless a response was started, in which
 * case the connection is closed after it. Sends 100 Continue first when the client asked for it
 * and has sent nothing of its body yet (RFC 9110 §10.1.1). Returns HS_AGAIN.
 * Back-pressure: hs_req_body_pause stops reading (inside on_data or at any time; the client is
 * held back by TCP flow control and no body timeout runs while paused) until hs_req_body_resume. */
int hs_req_body_stream(hs_req_t *req, hs_body_cb on_data);
void hs_req_body_pause(hs_req_t *req);
void hs_req_body_resume(hs_req_t *req);
/* Read the whole request body into req->body, then call cb (a wrapper over hs_req_body_stream).
 * A body that outgrows max_body, or that memory cannot be found for, is answered 413 — the
 * process never aborts for it. Returns HS_AGAIN. */
int hs_req_read_body(hs_req_t *req, void (*cb)(hs_req_t *req));
/* Does the request declare a body? */
static inline bool hs_req_has_body(const hs_req_t *req)
{
    return req->meta.chunked || req->meta.content_length > 0;
}

/* ---- Server ---- */
int hs_server_init(hs_server_t *srv, hs_config_t *cfg);
/* Serve with these modules (a NULL-terminated list; the server keeps the pointer): hs_modules by
 * default, a list with a test module in front in tests. */
void hs_server_use_modules(hs_server_t *srv, hs_module_t *const *mods);
/* Run workers until SIGTERM/SIGINT; returns the process exit status. */
int hs_server_run(hs_server_t *srv);
/* Release what hs_server_init made (TLS contexts), after hs_server_run or instead of it (-t).
 * Harmless on a server whose init failed. */
void hs_server_fini(hs_server_t *srv);

/* Modules (src/modules/modules.c), in phase order; NULL-terminated. */
extern hs_module_t *const hs_modules[];

/* The current second as an IMF-fixdate (RFC 9110 §5.6.7) for Date fields: made once per second
 * of the worker's loop clock. Valid until the worker's next call. */
static inline const char *hs_worker_date(hs_worker_t *w)
{
    if (w->date_sec != w->loop.now_sec || !w->date[0]) {
        w->date_sec = w->loop.now_sec;
        hs_http_date(w->loop.now_sec, w->date);
    }
    return w->date;
}

/* ---- Modules: settings, per-request and per-worker state, phases ---- */
/* The module's settings for the request's path (for a request that found no path: the top's). */
/* The top of the configuration the request is served by (server-wide settings: server_name,
 * retry_after …): its generation's. */
static inline const hs_config_t *hs_req_top(const hs_req_t *req)
{
    return req->gen ? req->gen->cfg : req->srv->cfg;
}
static inline void *hs_req_conf(const hs_req_t *req, const hs_module_t *m)
{
    return (req->path ? req->path->cfg : hs_req_top(req))->mod[m->index];
}
/* The engine's settings for the request's path (max_body, error pages …). */
static inline const hs_config_t *hs_req_cfg(const hs_req_t *req)
{
    return req->path ? req->path->cfg : hs_req_top(req);
}
/* The module's settings at the top of the current configuration (server-wide directives), for
 * the main thread and init_worker; a request reads its own generation's (hs_req_top). */
static inline void *hs_server_conf(const hs_server_t *srv, const hs_module_t *m)
{
    return srv->cfg->mod[m->index];
}
/* The module's state for a configuration generation (made by its init), and the request's. */
static inline void *hs_gen_ctx(const hs_gen_t *gen, const hs_module_t *m)
{
    return gen->mod[m->index];
}
static inline void *hs_req_gen_ctx(const hs_req_t *req, const hs_module_t *m)
{
    return req->gen->mod[m->index];
}
static inline void *hs_req_ctx(const hs_req_t *req, const hs_module_t *m)
{
    return req->ctx[m->index];
}
static inline void hs_req_set_ctx(hs_req_t *req, const hs_module_t *m, void *ctx)
{
    req->ctx[m->index] = ctx;
}
static inline void *hs_worker_ctx(const hs_worker_t *w, const hs_module_t *m)
{
    return w->mod[m->index];
}
/* Where the path's content handler was mounted (files and routes are below it): "" or "/api". */
static inline hs_iovec_t hs_req_mount(const hs_req_t *req)
{
    return req->path ? hs_iov(req->path->mount, req->path->mount_len) : HS_IOV("");
}
/* The normal-form path below the mount point ("/x" for /api/x under /api; "/" for /api). */
hs_iovec_t hs_req_path_below_mount(const hs_req_t *req);
/* ---- Causes: why a response has its status (include/hs/cause.h) ----
 * Say why before (or right after) answering: the access log (json, template) writes the cause
 * and /metrics counts errors by it. The last cause set wins; without one, the status's default
 * cause (`not_found` for a 404) is used, so a log line never lacks one. A module names its own
 * causes in hs_module_t.causes: hs_req_set_cause(req, hs_module_cause(&my_module, MY_DENY)). */
static inline void hs_req_set_cause(hs_req_t *req, hs_cause_t cause)
{
    req->cause = cause;
}
/* The module's cause number i (an index into its causes table). */
static inline hs_cause_t hs_module_cause(const hs_module_t *m, unsigned i)
{
    return (hs_cause_t)(m->cause_base + i);
}
/* The same by id ("upstream_connect_refused", "rule:deny"): a linear search, for rare paths.
 * HS_OK, or HS_ERROR (logged as a bug) when no cause has that id; the cause is then unchanged. */
int hs_req_set_cause_id(hs_req_t *req, const char *id);
/* The cause the request ends with: its own, else its status's default. */
static inline hs_cause_t hs_req_cause(const hs_req_t *req, int status)
{
    return hs_cause_resolve(req->cause, status);
}
/* Register the causes of these modules (a NULL-terminated list) that are not registered yet:
 * hs_server_init and hs_server_use_modules do it; `statusd explain --causes` too. HS_OK, or
 * HS_ERROR (with a message) when a table is refused. */
int hs_modules_register_causes(hs_module_t *const *mods);

/* Add `key=value` to the request's access log line (in combined, after the duration, in the
 * order added; in json, a member; in a template, $fields or $field_KEY): which rule decided,
 * the upstream's address and attempts, the TLS version … The value is escaped like the other
 * fields (quoted in combined when it has a space); key is a static name of [a-z0-9_], not one
 * of json's own members (time, status, cause …). Nothing is kept when the request's path has
 * no access log. */
HS_FMT(3, 4) void hs_req_log_field(hs_req_t *req, const char *key, const char *fmt, ...);

/* Run fn(arg) when the request ends (whatever way: answered, the client gone, shut down),
 * after its log phase; last registered first. The node lives in the request's arena. */
void hs_req_cleanup(hs_req_t *req, void (*fn)(void *arg), void *arg);
/* Continue the phases after a handler returned HS_AGAIN: the next handler of the phase, or the
 * next phase. Safe to call from inside the handler before it returns. */
void hs_req_resume(hs_req_t *req);

/* ---- A request's addresses and scheme (src/http/reqaddr.c) ----
 * The peer's address, valid while the request is (format it with hs_addr_format). */
const struct sockaddr *hs_req_peer_addr(const hs_req_t *req);
/* The local address the request arrived on, into *out: HS_OK, or -errno when the system cannot
 * tell (the connection is gone). */
int hs_req_local_addr(const hs_req_t *req, struct sockaddr_storage *out);
/* The request's scheme: a static string, "https" on a TLS connection, else "http". */
const char *hs_req_scheme(const hs_req_t *req);

#endif
